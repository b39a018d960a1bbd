/*
 * cmd_arms.c - `casebook arms`: the DSMB's unblinded view of the
 * randomized subjects (DESIGN.md section 5, docs/randomization.md).
 *
 * The server sends a DSMB device every randomized subject's slot with
 * the arm sealed to the trial unblinding key (GET /v1/arms, docs/api.md);
 * the arms are opened here, on the DSMB member's machine, with the
 * unblinding secret key file and its passphrase. The server never sees
 * a plain arm and cannot open one.
 */
#include "arms.h"
#include "cli.h"
#include "crypto.h"
#include "json.h"
#include "net.h"
#include "pass.h"
#include "randlist.h"
#include "store.h"
#include "sync.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only role this command serves. */
#define ARMS_ROLE "dsmb"

const char cmd_arms_help[] =
    "usage: casebook arms --key FILE [--key-passphrase-file PF] [--csv]\n"
    "                     [--cacert FILE]\n"
    "\n"
    "The DSMB's closed report basis: fetch every randomized subject's\n"
    "slot from the central server (GET /v1/arms, DSMB devices only), its\n"
    "arm sealed to the trial unblinding key, and open the arms here with\n"
    "the unblinding secret key FILE (unblind.key from 'casebook keygen').\n"
    "Prints subject, site, randomization number and arm, as aligned text\n"
    "or, with --csv, as CSV with a header line.\n"
    "\n"
    "The key's passphrase is read from the first line of PF\n"
    "(--key-passphrase-file), else from $" ARMS_PASS_ENV ",\n"
    "else asked on the terminal. The store's own passphrase is asked\n"
    "first, as for every command.\n"
    "\n"
    "  --cacert FILE   trust this certificate for an https server;\n"
    "                  default: the one given at init, else the system's\n"
    "\n"
    "Exit codes: 0 printed; 1 failure (store not registered with a server,\n"
    "an answer that is not the documented one); 2 usage; 4 not a DSMB\n"
    "device (nothing is asked or fetched), a wrong passphrase or key, or\n"
    "the server refuses this device; 5 server unreachable.\n";

/* Open the store, refusing any role but ARMS_ROLE before asking for the
 * store's passphrase. */
static int open_dsmb_store(const struct cli_global *g, struct store **out)
{
	struct cb_err err;

	cb_err_clear(&err);
	if (store_open_cli_as(g, ARMS_ROLE,
			      "the arms (they go only to the "
			      "DSMB)",
			      out, &err))
		return cli_fail(&err);
	return 0;
}

/* The unblinding key pair from `path`. */
static int key_unlock(const char *path, const char *pass_file,
		      struct cb_box_keypair *kp, struct cb_err *err)
{
	char *text = NULL, *pass = NULL;
	size_t len = 0, pass_len = 0;
	int rc;

	rc = cb_file_read(path, CB_UNBLIND_FILE_MAX, &text, &len, err);
	if (!rc)
		rc = pass_get_from(pass_file, ARMS_PASS_ENV,
				   "Passphrase for the unblinding key: ", &pass,
				   &pass_len, err);
	if (!rc)
		rc = cb_unblind_key_unlock(text, len, pass, pass_len, kp, err);
	pass_free(pass);
	if (text)
		cb_wipe_free(text, len);
	return rc;
}

/* GET /v1/arms as the parsed answer. */
static int fetch_arms(struct store *st, const char *cacert, cJSON **out,
		      struct cb_err *err)
{
	struct sync_opts o = {4, 0};
	char *server, *saved = NULL;
	struct net_reply r = {0, NULL, 0};
	struct net n;
	int rc;

	*out = NULL;
	server = store_meta_or_null(st, SYNC_META_SERVER);
	if (!server)
		return cb_err_set(err, CB_EINVAL,
				  "this store was not registered with a server "
				  "('casebook init --server URL --token TOKEN' "
				  "makes one that is)");
	if (!cacert)
		cacert = saved = store_meta_or_null(st, SYNC_META_CACERT);
	rc = net_init(&n, server, cacert, err);
	if (!rc) {
		rc = sync_request(&n, &o, "GET", "/v1/arms", "", NULL, 0, st,
				  &r, err);
		net_free(&n);
	}
	if (!rc && r.status != 200) {
		char msg[512];

		net_error_message(&r, msg, sizeof(msg));
		rc = cb_err_set(
		    err,
		    r.status == 401 || r.status == 403 ? CB_EFORBIDDEN : CB_EIO,
		    "the server refused the arms: %s", msg);
	}
	if (!rc) {
		*out = cb_json_parse(r.body, r.len, NET_REPLY_MAX,
				     "the arms answer", err);
		if (!*out)
			rc = err->code;
		else if (!cJSON_IsArray(
			     cJSON_GetObjectItemCaseSensitive(*out, "arms")))
			rc = cb_err_set(err, CB_EINVAL,
					"the server's arms answer is not the "
					"documented one");
	}
	if (rc) {
		cJSON_Delete(*out);
		*out = NULL;
	}
	net_reply_free(&r);
	free(server);
	free(saved);
	return rc;
}

/* A string member of an arms row, or NULL. */
static const char *member(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Open one row's sealed arm into *arm (malloc'd). */
static int open_row(const cJSON *row, const struct cb_box_keypair *kp,
		    char **arm, struct cb_err *err)
{
	const char *list_id = member(row, "list");
	const char *randno = member(row, "randno");
	const char *hex = member(row, "arm_unblind");
	struct cb_randlist list;
	struct cb_randlist_slot slot;
	unsigned char *sealed;
	size_t len = 0;
	int rc;

	*arm = NULL;
	if (!list_id || !randno || !hex || !member(row, "subject") ||
	    !member(row, "site"))
		return cb_err_set(err, CB_EINVAL,
				  "an arms row of the server lacks a member");
	sealed = malloc(strlen(hex) / 2 + 1);
	if (!sealed)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_hex_decode(hex, strlen(hex), sealed, strlen(hex) / 2 + 1, &len,
			   err);
	if (!rc) {
		memset(&list, 0, sizeof(list));
		memset(&slot, 0, sizeof(slot));
		list.list_id = (char *)(uintptr_t)list_id;
		slot.randno = (char *)(uintptr_t)randno;
		slot.seal_unblind = sealed;
		slot.seal_unblind_len = len;
		rc = cb_randlist_open_arm(
		    &list, &slot, CB_RANDLIST_SEAL_UNBLIND, kp, arm, err);
	}
	free(sealed);
	return rc;
}

int arms_open_all(struct store *st, const char *key, const char *pass_file,
		  const char *cacert,
		  int (*fn)(void *ctx, const char *subject, const char *site,
			    const char *randno, const char *arm),
		  void *ctx, struct cb_err *err)
{
	struct cb_box_keypair kp = {0};
	const cJSON *row;
	cJSON *reply = NULL;
	char *arm = NULL;
	int rc;

	rc = key_unlock(key, pass_file, &kp, err);
	if (!rc)
		rc = fetch_arms(st, cacert, &reply, err);
	if (!rc) {
		cJSON_ArrayForEach(row, cJSON_GetObjectItem(reply, "arms"))
		{
			rc = open_row(row, &kp, &arm, err);
			if (!rc)
				rc = fn(ctx, member(row, "subject"),
					member(row, "site"),
					member(row, "randno"), arm);
			if (arm)
				cb_wipe_free(arm, strlen(arm) + 1);
			arm = NULL;
			if (rc)
				break;
		}
	}
	cJSON_Delete(reply);
	cb_box_keypair_release(&kp);
	return rc;
}

static void csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

enum { NCOL = 4 };

/* Print rows[i] = {subject, site, randno, arm}. */
static void print_arms(const char *const (*rows)[NCOL], size_t n, int csv)
{
	static const char *const head[NCOL] = {"subject", "site", "randno",
					       "arm"};
	size_t w[NCOL], i, c;

	for (c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	for (i = 0; i < n; i++)
		for (c = 0; c < NCOL; c++)
			if (strlen(rows[i][c]) > w[c])
				w[c] = strlen(rows[i][c]);
	for (i = 0; i <= n; i++) {
		const char *const *cell = i ? rows[i - 1] : head;

		for (c = 0; c < NCOL; c++) {
			if (csv)
				csv_field(cell[c], c + 1 == NCOL);
			else if (c + 1 < NCOL)
				printf("%-*s  ", (int)w[c], cell[c]);
			else
				printf("%s\n", cell[c]);
		}
	}
}

int cmd_arms(int argc, char **argv, struct cli_global *g)
{
	const char *key = NULL, *pass_file = NULL, *cacert = NULL;
	const char *(*rows)[NCOL] = NULL;
	struct cb_box_keypair kp = {0};
	struct store *st = NULL;
	struct cb_err err;
	const cJSON *arms, *row;
	cJSON *reply = NULL;
	char **opened = NULL;
	size_t n = 0, i;
	int a, rc, csv = 0;

	cb_err_clear(&err);
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--key") && a + 1 < argc)
			key = argv[++a];
		else if (!strcmp(argv[a], "--key-passphrase-file") &&
			 a + 1 < argc)
			pass_file = argv[++a];
		else if (!strcmp(argv[a], "--cacert") && a + 1 < argc)
			cacert = argv[++a];
		else if (!strcmp(argv[a], "--csv"))
			csv = 1;
		else
			return cli_usage("arms", "unexpected argument '%s'",
					 argv[a]);
	}
	if (!key)
		return cli_usage("arms", "arms needs --key FILE (the "
					 "unblinding secret key)");
	rc = open_dsmb_store(g, &st);
	if (rc)
		return rc;
	rc = key_unlock(key, pass_file, &kp, &err);
	if (!rc)
		rc = fetch_arms(st, cacert, &reply, &err);
	if (!rc) {
		arms = cJSON_GetObjectItem(reply, "arms");
		n = (size_t)cJSON_GetArraySize(arms);
		rows = calloc(n ? n : 1, sizeof(*rows));
		opened = calloc(n ? n : 1, sizeof(*opened));
		if (!rows || !opened)
			rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
		i = 0;
		cJSON_ArrayForEach(row, arms)
		{
			if (rc)
				break;
			rc = open_row(row, &kp, &opened[i], &err);
			if (rc)
				break;
			rows[i][0] = member(row, "subject");
			rows[i][1] = member(row, "site");
			rows[i][2] = member(row, "randno");
			rows[i][3] = opened[i];
			i++;
		}
	}
	if (rc) {
		rc = cli_fail(&err);
	} else {
		print_arms(rows, n, csv);
		rc = EXIT_OK;
	}
	for (i = 0; opened && i < n; i++)
		free(opened[i]);
	free(opened);
	free(rows);
	cJSON_Delete(reply);
	cb_box_keypair_release(&kp);
	store_close(st);
	return rc;
}
