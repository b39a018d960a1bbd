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
#include "buf.h"
#include "cli.h"
#include "crypto.h"
#include "jout.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only role this command serves. */
#define ARMS_ROLE "dsmb"

const char cmd_arms_help[] =
    "usage: casebook arms --key FILE [--key-passphrase-file PF]\n"
    "                     [--csv | --json]\n"
    "                     [--cacert FILE]\n"
    "\n"
    "The DSMB's closed report basis: fetch every randomized subject's\n"
    "slot from the central server (GET /v1/arms, DSMB devices only), its\n"
    "arm sealed to the trial unblinding key, and open the arms here with\n"
    "the unblinding secret key FILE (unblind.key from 'casebook keygen').\n"
    "Prints subject, site, randomization number and arm, as aligned text\n"
    "or, with --csv, as CSV with a header line, or with --json as\n"
    "{\"arms\":[{\"subject\",\"site\",\"randno\",\"arm\"}]}.\n"
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

/* The opened rows, each cell a copy (the arm wiped when freed). */
struct rows {
	char *(*v)[NCOL];
	size_t n, cap;
	struct cb_err *err;
};

static int keep_row(void *ctx, const char *subject, const char *site,
		    const char *randno, const char *arm)
{
	struct rows *r = ctx;
	const char *cell[NCOL];
	size_t c;
	int rc;

	cell[0] = subject;
	cell[1] = site;
	cell[2] = randno;
	cell[3] = arm;
	rc = cb_array_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v),
			   10000000, "arms", r->err);
	if (rc)
		return rc;
	memset(r->v[r->n], 0, sizeof(r->v[r->n]));
	r->n++;
	for (c = 0; c < NCOL; c++)
		if (!(r->v[r->n - 1][c] = strdup(cell[c])))
			return cb_err_set(r->err, CB_ENOMEM, "out of memory");
	return 0;
}

/* The rows as {"arms":[{subject, site, randno, arm}]}. */
static int print_arms_json(const char *const (*rows)[NCOL], size_t n)
{
	static const char *const key[NCOL] = {"subject", "site", "randno",
					      "arm"};
	struct jout j = {0};
	cJSON *root = cJSON_CreateObject();
	cJSON *list = jout_put(&j, root, "arms", cJSON_CreateArray());
	size_t i, c;

	for (i = 0; list && i < n; i++) {
		cJSON *o = jout_put(&j, list, NULL, cJSON_CreateObject());

		for (c = 0; o && c < NCOL; c++)
			jout_str(&j, o, key[c], rows[i][c]);
	}
	if (!root)
		j.oom = 1;
	return jout_emit(&j, root);
}

static void rows_free(struct rows *r)
{
	size_t i, c;

	for (i = 0; i < r->n; i++)
		for (c = 0; c < NCOL; c++)
			if (r->v[i][c])
				cb_wipe_free(r->v[i][c],
					     strlen(r->v[i][c]) + 1);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int cmd_arms(int argc, char **argv, struct cli_global *g)
{
	const char *key = NULL, *pass_file = NULL, *cacert = NULL;
	struct store *st = NULL;
	struct rows rows;
	struct cb_err err;
	int a, rc, csv = 0, json = 0;

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
		else if (!strcmp(argv[a], "--json"))
			json = 1;
		else
			return cli_usage("arms", "unexpected argument '%s'",
					 argv[a]);
	}
	if (csv && json)
		return cli_usage("arms", "give only one of --csv and --json");
	if (!key)
		return cli_usage("arms", "arms needs --key FILE (the "
					 "unblinding secret key)");
	rc = open_dsmb_store(g, &st);
	if (rc)
		return rc;
	memset(&rows, 0, sizeof(rows));
	rows.err = &err;
	rc = arms_open_all(st, key, pass_file, cacert, keep_row, &rows, &err);
	if (rc) {
		rc = cli_fail(&err);
	} else if (json) {
		rc =
		    print_arms_json((const char *const(*)[NCOL])rows.v, rows.n);
	} else {
		print_arms((const char *const(*)[NCOL])rows.v, rows.n, csv);
		rc = EXIT_OK;
	}
	rows_free(&rows);
	store_close(st);
	return rc;
}
