/*
 * cmd_bundle.c - `casebook bundle export|import`: sync by carrying files
 * when the site has no network at all (docs/bundles.md, DESIGN.md
 * section 4).
 *
 * export writes what `casebook sync` would push (the unsynced events not
 * in quarantine, as stored) and the pull cursor into a bundle signed with
 * the device key; it changes nothing in the store, so it can be run again.
 * The administrator runs `casebookd bundle import` on it, which answers
 * with a reply signed by the server key. import checks that signature
 * (against the key the server gave at registration, setting
 * sync.server_key) and that the reply is for this device, then applies it
 * with the same code as `casebook sync` (client/sync.h): the verdicts
 * (synced or quarantined) and the pulled events and cursor, all in one
 * transaction.
 */
#include "buf.h"
#include "bundle.h"
#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "derive.h"
#include "json.h"
#include "lease.h"
#include "protocol.h"
#include "role.h"
#include "store.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First lines of the two files (docs/bundles.md). */
/* Largest reply read. */
#define REPLY_MAX (256u * 1024u * 1024u)
/* Device ids are 32 lowercase hex digits. */

const char cmd_bundle_help[] =
    "usage: casebook bundle export FILE\n"
    "       casebook bundle import FILE\n"
    "\n"
    "Sync with the central server by carrying files, for a site with no\n"
    "network at all. The result is the same as 'casebook sync'.\n"
    "\n"
    "  export FILE   write this device's new events (what sync would\n"
    "                send; quarantined events are not) and its pull\n"
    "                position into FILE, signed with the device key.\n"
    "                Nothing in the store changes; export again freely.\n"
    "                The administrator runs 'casebookd bundle import\n"
    "                --data DIR FILE --reply OUT' and hands back OUT.\n"
    "  import FILE   apply the server's reply OUT: check the server's\n"
    "                signature and that it answers this device, mark the\n"
    "                accepted events synced, put rejected ones in the\n"
    "                quarantine ('casebook status' lists them), and store\n"
    "                the events received, all in one transaction.\n"
    "                Importing a reply again is harmless.\n"
    "\n"
    "Both files hold clinical data in plain text: carry them safely and\n"
    "delete them once imported.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure; 2 usage; 4 wrong passphrase, or the\n"
    "reply refused (altered, not signed by this store's server, or for\n"
    "another device): nothing was applied.\n";

/* A refused reply: the message and exit 4. */
static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int refuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "casebook: error: reply refused: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; nothing was applied\n");
	return EXIT_AUTH;
}

/* A cursor's value; -1 for text that is not one. */
static long long cursor_value(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return *end || errno || v < 0 ? -1 : v;
}

/* ---- export ------------------------------------------------------------ */

/* The events to push, joined by commas. */
struct gather {
	struct cb_buf buf;
	size_t count;
	struct cb_err *err;
};

static int gather_one(void *ctx, const struct store_event *ev)
{
	struct gather *g = ctx;
	int rc = 0;

	if (g->count++)
		rc = cb_buf_addc(&g->buf, ',', g->err);
	if (!rc)
		rc = cb_buf_add(&g->buf, ev->json, ev->len, g->err);
	return rc;
}

/*
 * The payload: {"format","device","study","protocol_sha256","created",
 * "cursor","events":[the stored events, byte for byte]}.
 */
static int build_payload(struct store *st, const struct gather *ev,
			 const char *cursor, char **out, size_t *out_len,
			 struct cb_err *err)
{
	char created[CB_CLOCK_UTC_BUF], sum[CB_HASH_HEX_SIZE];
	struct cb_protocol *p = NULL;
	const char *bytes;
	size_t blen, hl;
	char *head, *res;
	cJSON *o;
	int rc;

	rc = store_protocol_bytes(st, &bytes, &blen, err);
	if (!rc)
		rc = store_protocol_load(st, &p, err);
	if (rc)
		return rc;
	cb_sha256_hex(bytes, blen, sum);
	cb_clock_format_utc(cb_clock_now_ms(), created);
	o = cJSON_CreateObject();
	head = NULL;
	if (o && cJSON_AddStringToObject(o, "format", CB_BUNDLE_MAGIC) &&
	    cJSON_AddStringToObject(o, "device", store_device_id(st)) &&
	    cJSON_AddStringToObject(o, "study", p->id) &&
	    cJSON_AddStringToObject(o, "protocol_sha256", sum) &&
	    cJSON_AddStringToObject(o, "created", created) &&
	    cJSON_AddStringToObject(o, "cursor", cursor))
		head = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cb_protocol_free(p);
	if (!head)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	/* head ends with '}': the events go in its place. */
	hl = strlen(head) - 1;
	res = malloc(hl + cb_buf_len(&ev->buf) + 16);
	if (!res) {
		free(head);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	memcpy(res, head, hl);
	free(head);
	memcpy(res + hl, ",\"events\":[", 11);
	hl += 11;
	if (cb_buf_len(&ev->buf))
		memcpy(res + hl, cb_buf_str(&ev->buf), cb_buf_len(&ev->buf));
	hl += cb_buf_len(&ev->buf);
	memcpy(res + hl, "]}", 3);
	*out = res;
	*out_len = hl + 2;
	return 0;
}

static int bundle_export(struct store *st, const char *path)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct store_counts c;
	struct gather g;
	struct cb_err err;
	char *cursor, *payload = NULL, *text = NULL;
	size_t plen = 0, tlen = 0, skipped = 0;
	int rc;

	memset(&g, 0, sizeof(g));
	cb_err_clear(&err);
	g.err = &err;
	cb_buf_init(&g.buf, REPLY_MAX);
	cursor = store_meta_or_null(st, SYNC_META_CURSOR);
	rc = store_counts(st, &c, &err);
	if (!rc) {
		skipped = (size_t)(c.unsynced - c.queued);
		rc = store_each_event(st, NULL, STORE_ITER_UNSYNCED, gather_one,
				      &g, &err);
	}
	if (!rc)
		rc = build_payload(st, &g, cursor ? cursor : "0", &payload,
				   &plen, &err);
	if (!rc) {
		text = cb_bundle_signed_text(
		    CB_BUNDLE_MAGIC, store_device_id(st), payload, plen, &tlen);
		if (!text)
			rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = store_sign(st, text, tlen, sig, &err);
	if (!rc)
		rc = cb_bundle_write(path, CB_BUNDLE_MAGIC, store_device_id(st),
				     sig, payload, plen, &err);
	if (!rc) {
		printf("wrote bundle %s: %zu event%s to push, pull from "
		       "cursor %s\n",
		       path, g.count, g.count == 1 ? "" : "s",
		       cursor ? cursor : "0");
		if (skipped)
			printf("%zu event%s in quarantine not included: see "
			       "'casebook status'\n",
			       skipped, skipped == 1 ? "" : "s");
		printf("the administrator runs: casebookd bundle import "
		       "--data DIR %s --reply OUT\n",
		       path);
	}
	if (g.buf.data)
		cb_wipe(g.buf.data, g.buf.cap);
	cb_buf_free(&g.buf);
	if (payload)
		cb_wipe_free(payload, plen + 1);
	if (text)
		cb_wipe_free(text, tlen + 1);
	free(cursor);
	return rc ? cli_fail(&err) : EXIT_OK;
}

/* ---- import ------------------------------------------------------------ */

/*
 * The verdicts, the pulled pages and the cursor, in one transaction; then
 * every subject they touched derived once, as a sync does.
 */
static int apply_reply(struct store *st, const cJSON *push, const cJSON *pull,
		       const cJSON *slots, struct sync_stats *s,
		       struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF];
	struct cb_protocol *p = NULL;
	struct store_counts c;
	const cJSON *page;
	const char *next = NULL;
	char *cur;
	int more = 0, rc;

	memset(s, 0, sizeof(*s));
	cur = store_meta_or_null(st, SYNC_META_CURSOR);
	rc = store_begin(st, err);
	if (!rc)
		rc = sync_apply_push_results(st, NULL, 0, push, s, err);
	cJSON_ArrayForEach(page, pull)
	{
		if (rc)
			break;
		rc = sync_store_pull_page(st, page, &next, &more, s, err);
	}
	if (!rc && !next)
		rc = cb_err_set(err, CB_EINVAL, "the reply has no pull page");
	/* A site device's randomization lease, as a network sync keeps it. */
	if (!rc && slots && cb_role_is_site(store_role(st)))
		rc = lease_save(st, slots, err);
	/* An older reply imported late never moves the cursor back. */
	if (!rc && cursor_value(next) >= cursor_value(cur))
		rc = store_meta_set(st, SYNC_META_CURSOR, next, strlen(next),
				    err);
	if (!rc) {
		cb_clock_format_utc(cb_clock_now_ms(), now);
		rc = store_meta_set(st, SYNC_META_LAST, now, strlen(now), err);
	}
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	if (!rc)
		rc = store_protocol_load(st, &p, err);
	if (!rc)
		rc = derive_pending(st, p, isatty(STDERR_FILENO), NULL, err);
	cb_protocol_free(p);
	if (!rc)
		rc = store_counts(st, &c, err);
	if (!rc)
		s->quarantined = (size_t)c.quarantined;
	free(cur);
	return rc;
}

static int bundle_import(struct store *st, const char *buf, size_t len)
{
	unsigned char sig[CB_SIGNATURE_BYTES], pk[CB_SIGN_PUBLIC_BYTES];
	char device[CB_BUNDLE_DEVICE_HEX + 1];
	struct cb_protocol *p = NULL;
	struct sync_stats s;
	struct cb_err err;
	const char *payload;
	const cJSON *push, *pull;
	char *key, *text;
	size_t plen, tlen;
	cJSON *j;
	int rc;

	cb_err_clear(&err);
	if (cb_bundle_split(CB_REPLY_MAGIC, buf, len, device, sig, &payload,
			    &plen))
		return refuse("this is not a bundle reply (%s: a header line, "
			      "the device id, the signature, then the "
			      "payload); it is damaged or not made by "
			      "'casebookd bundle import'",
			      CB_REPLY_MAGIC);
	if (strcmp(device, store_device_id(st)))
		return refuse("it answers device %s, not this device (%s)",
			      device, store_device_id(st));
	key = store_meta_or_null(st, SYNC_META_SERVER_KEY);
	if (!key)
		return cli_error("this store does not know its server's key "
				 "(it was not registered with a server that "
				 "signs bundle replies); sync by network");
	rc = cb_hex_decode(key, strlen(key), pk, sizeof(pk), NULL, &err);
	free(key);
	if (rc)
		return cli_error("setting %s is not a public key: %s",
				 SYNC_META_SERVER_KEY, err.msg);
	text =
	    cb_bundle_signed_text(CB_REPLY_MAGIC, device, payload, plen, &tlen);
	if (!text)
		return cli_error("out of memory");
	rc = cb_verify(pk, text, tlen, sig, &err);
	free(text);
	if (rc)
		return refuse("the server signature does not verify: the reply "
			      "was altered or damaged, or not made by the "
			      "server this device is registered with");
	j = cb_json_parse(payload, plen, REPLY_MAX, "reply payload", &err);
	if (!j)
		return refuse("%s", err.msg);
	push = cb_json_obj(j, "push");
	pull = cb_json_arr(j, "pull");
	rc = store_protocol_load(st, &p, &err);
	if (rc) {
		cJSON_Delete(j);
		return cli_fail(&err);
	}
	if (!cb_json_str(j, "format") ||
	    strcmp(cb_json_str(j, "format"), CB_REPLY_MAGIC) || !push ||
	    !pull || !cb_json_str(j, "device") ||
	    strcmp(cb_json_str(j, "device"), device) ||
	    !cb_json_str(j, "study") || strcmp(cb_json_str(j, "study"), p->id))
		rc = refuse("the reply is not a %s answer for this device and "
			    "study %s",
			    CB_REPLY_MAGIC, p->id);
	cb_protocol_free(p);
	if (rc) {
		cJSON_Delete(j);
		return rc;
	}
	rc = apply_reply(st, push, pull, cb_json_obj(j, "slots"), &s, &err);
	cJSON_Delete(j);
	if (rc)
		return cli_fail(&err);
	sync_print_stats(&s);
	return EXIT_OK;
}

int cmd_bundle(int argc, char **argv, struct cli_global *g)
{
	struct store *st = NULL;
	struct cb_err err;
	char *buf = NULL, *server;
	size_t len = 0;
	int rc, exp;

	if (argc != 3 ||
	    (strcmp(argv[1], "export") && strcmp(argv[1], "import")))
		return cli_usage("bundle", "expected 'bundle export FILE' or "
					   "'bundle import FILE'");
	exp = !strcmp(argv[1], "export");
	cb_err_clear(&err);
	if (!exp && cb_file_read(argv[2], REPLY_MAX, &buf, &len, &err))
		return cli_fail(&err);
	rc = store_open_cli(g, &st, &err);
	if (rc) {
		free(buf);
		return cli_fail(&err);
	}
	server = store_meta_or_null(st, SYNC_META_SERVER);
	if (!server) {
		rc = cli_error("this store was not registered with a server "
			       "('casebook init --server URL --token TOKEN' "
			       "makes one that is)");
	} else if (exp) {
		rc = bundle_export(st, argv[2]);
	} else {
		rc = bundle_import(st, buf, len);
	}
	free(server);
	free(buf);
	store_close(st);
	return rc;
}
