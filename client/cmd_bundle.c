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
 * transaction. Both files are streamed (jstream.h, crypto.h's
 * cb_sign_stream and cb_verify_stream), so neither side holds a bundle
 * in memory, whatever its size.
 */
#include "buf.h"
#include "bundle.h"
#include "cli.h"
#include "clock.h"
#include "crypto.h"
#include "derive.h"
#include "json.h"
#include "jstream.h"
#include "lease.h"
#include "protocol.h"
#include "role.h"
#include "store.h"
#include "sync.h"
#include "withheld.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/*
 * The bundle is written as a stream, never held: its payload is
 * {"format","device","study","protocol_sha256","created","cursor",
 * "events":[every event a push would send, byte for byte, in local
 * order]}, read from the store a batch at a time inside one read
 * snapshot, signed (Ed25519ph, one pass) and written as they are read.
 */

/* Where payload bytes go: the signature and the file. */
struct sink {
	struct cb_sign_stream *sign;
	struct cb_bundle_out *out;
	struct cb_buf pending; /* bytes not yet written */
	size_t count;	       /* events in the payload */
	struct cb_err *err;
};

/* Pending bytes are written once this many gather. */
#define SINK_FLUSH (256u * 1024u)

static int sink_flush(struct sink *k)
{
	int rc = 0;

	if (cb_buf_len(&k->pending))
		rc = cb_bundle_out_write(k->out, cb_buf_str(&k->pending),
					 cb_buf_len(&k->pending), k->err);
	cb_buf_reset(&k->pending);
	return rc;
}

static int sink_put(struct sink *k, const void *p, size_t n)
{
	int rc;

	cb_sign_stream_update(k->sign, p, n);
	if (cb_buf_len(&k->pending) + n > SINK_FLUSH && (rc = sink_flush(k)))
		return rc;
	if (n > SINK_FLUSH)
		return cb_bundle_out_write(k->out, p, n, k->err);
	return cb_buf_add(&k->pending, p, n, k->err);
}

struct emit_ctx {
	struct sink *k;
	int64_t last;
};

static int emit_event(void *ctx, const struct store_event *ev)
{
	struct emit_ctx *c = ctx;
	int rc = 0;

	if (c->k->count++)
		rc = sink_put(c->k, ",", 1);
	if (!rc)
		rc = sink_put(c->k, ev->json, ev->len);
	c->last = ev->seq;
	return rc;
}

/* The payload (after its `head`) through the sink: the queued events. */
static int emit_payload(struct store *st, const char *head, struct sink *k,
			struct cb_err *err)
{
	struct emit_ctx c = {k, 0};
	int64_t before;
	int rc;

	k->count = 0;
	rc = sink_put(k, head, strlen(head));
	do {
		before = c.last;
		if (!rc)
			rc = store_each_queued(st, c.last, 500, emit_event, &c,
					       err);
	} while (!rc && c.last != before);
	if (!rc)
		rc = sink_put(k, "]}", 2);
	if (!rc)
		rc = sink_flush(k);
	return rc;
}

/* The payload's head: its members up to the open events array. */
static int payload_head(struct store *st, const char *cursor, char **out,
			struct cb_err *err)
{
	char created[CB_CLOCK_UTC_BUF], sum[CB_HASH_HEX_SIZE];
	struct cb_protocol *p = NULL;
	const char *bytes;
	size_t blen;
	char *head = NULL;
	struct cb_buf b;
	cJSON *o;
	int rc;

	*out = NULL;
	rc = store_protocol_bytes(st, &bytes, &blen, err);
	if (!rc)
		rc = store_protocol_load(st, &p, err);
	if (rc)
		return rc;
	cb_sha256_hex(bytes, blen, sum);
	cb_clock_format_utc(cb_clock_now_ms(), created);
	o = cJSON_CreateObject();
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
	cb_buf_init(&b, strlen(head) + 32);
	rc = cb_buf_add(&b, head, strlen(head) - 1, err);
	if (!rc)
		rc = cb_buf_addstr(&b, ",\"events\":[", err);
	free(head);
	if (!rc)
		*out = cb_buf_take(&b, NULL);
	cb_buf_free(&b);
	if (!rc && !*out)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	return rc;
}

/* MAGIC "\n" DEVICE "\n": what the signature covers before the payload. */
static void sign_prefix(struct cb_sign_stream *s, const char *magic,
			const char *device)
{
	cb_sign_stream_update(s, magic, strlen(magic));
	cb_sign_stream_update(s, "\n", 1);
	cb_sign_stream_update(s, device, strlen(device));
	cb_sign_stream_update(s, "\n", 1);
}

static int bundle_export(struct store *st, const char *path)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_bundle_out out;
	struct store_counts c = {0};
	struct sink k;
	struct cb_err err;
	char *cursor, *head = NULL;
	size_t skipped = 0;
	int rc, began = 0, opened = 0;

	memset(&k, 0, sizeof(k));
	cb_err_clear(&err);
	k.err = &err;
	cb_buf_init(&k.pending, SINK_FLUSH);
	cursor = store_meta_or_null(st, SYNC_META_CURSOR);
	rc = store_read_begin(st, &began, &err);
	if (!rc)
		rc = store_counts(st, &c, &err);
	if (!rc) {
		skipped = (size_t)(c.unsynced - c.queued);
		rc = payload_head(st, cursor ? cursor : "0", &head, &err);
	}
	if (!rc)
		rc = store_sign_stream(st, &k.sign, &err);
	if (!rc)
		rc = cb_bundle_out_open(&out, path, CB_BUNDLE_MAGIC,
					store_device_id(st), &err);
	if (!rc) {
		opened = 1;
		k.out = &out;
		sign_prefix(k.sign, CB_BUNDLE_MAGIC, store_device_id(st));
		rc = emit_payload(st, head, &k, &err);
	}
	if (!rc)
		rc = cb_sign_stream_final(k.sign, sig, &err);
	if (!rc) {
		opened = 0;
		rc = cb_bundle_out_close(&out, sig, &err);
	}
	if (opened)
		cb_bundle_out_abort(&out);
	store_read_end(st, began);
	if (!rc) {
		printf("wrote bundle %s: %zu event%s to push, pull from "
		       "cursor %s\n",
		       path, k.count, k.count == 1 ? "" : "s",
		       cursor ? cursor : "0");
		if (skipped)
			printf("%zu event%s in quarantine not included: see "
			       "'casebook status'\n",
			       skipped, skipped == 1 ? "" : "s");
		printf("the administrator runs: casebookd bundle import "
		       "--data DIR %s --reply OUT\n",
		       path);
	}
	cb_sign_stream_free(k.sign);
	if (k.pending.data)
		cb_wipe(k.pending.data, k.pending.cap);
	cb_buf_free(&k.pending);
	free(head);
	free(cursor);
	return rc ? cli_fail(&err) : EXIT_OK;
}

/* ---- import ------------------------------------------------------------ */

/*
 * The reply is read as a stream too: its server signature is checked
 * first, in one pass over the file; then its payload is applied in a
 * second pass, one value at a time (jstream.h): each push result, each
 * pulled event, each page's cursor, the lease. All of it goes in one
 * transaction, rolled back when anything is wrong (a reply for another
 * device or study included), so nothing is applied unless all is; then
 * every subject it touched is derived once, as a sync does.
 */

/* Largest single value of a reply read (an event is at most
 * CB_VALUE_MAX; the lease and the results are far smaller). */
#define REPLY_VALUE_MAX (CB_VALUE_MAX + 65536u)

static const char *const reply_open[] = {
    "",	      "push",	       "push.results",	  "pull",
    "pull[]", "pull[].events", "pull[].withheld", NULL};

struct reply {
	struct store *st;
	struct sync_stats *s;
	struct derive_cache *dc;
	char format[64], device[CB_BUNDLE_DEVICE_HEX + 8], study[256];
	int have_results, npages;
	/* the page being read */
	int page_events, page_next, page_more, more;
	char next[48], last_next[48];
	struct cb_err *err;
};

static void copy_str(char *dst, size_t cap, const cJSON *v)
{
	snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static int reply_value(void *ctx, const char *path, const cJSON *v)
{
	struct reply *r = ctx;

	if (!strcmp(path, "format"))
		copy_str(r->format, sizeof(r->format), v);
	else if (!strcmp(path, "device"))
		copy_str(r->device, sizeof(r->device), v);
	else if (!strcmp(path, "study"))
		copy_str(r->study, sizeof(r->study), v);
	else if (!strcmp(path, "push.results[]"))
		return sync_apply_push_result(r->st, cb_json_str(v, "id"), v,
					      r->s, r->err);
	else if (!strcmp(path, "push.results") && !v)
		r->have_results = 1;
	else if (!strcmp(path, "pull[].events[]"))
		return sync_store_pulled(r->st, v, r->s, r->dc, r->err);
	else if (!strcmp(path, "pull[].events") && !v)
		r->page_events = 1;
	else if (!strcmp(path, "pull[].next")) {
		if (!cJSON_IsString(v) || strlen(v->valuestring) > 40)
			return cb_err_set(
			    r->err, CB_EINVAL,
			    "the reply's pull page has no cursor");
		copy_str(r->next, sizeof(r->next), v);
		r->page_next = 1;
	} else if (!strcmp(path, "pull[].more")) {
		r->page_more = cJSON_IsBool(v);
		r->more = cJSON_IsTrue(v);
	} else if (!strcmp(path, "pull[]") && !v) {
		if (!r->page_events || !r->page_next || !r->page_more)
			return cb_err_set(r->err, CB_EINVAL,
					  "the server's pull answer is not "
					  "{events, next, more}");
		memcpy(r->last_next, r->next, sizeof(r->next));
		r->page_events = r->page_next = r->page_more = 0;
		r->npages++;
	} else if (!strcmp(path, "pull[].withheld[]") && v) {
		/* Unblinded values that exist, for a blinded device. */
		return withheld_note_one(r->st, v, r->err);
	} else if (!strcmp(path, "users") && cJSON_IsObject(v)) {
		/* The people the server knows, as a network sync keeps
		 * them. */
		return sync_keep_users(r->st, v, r->err);
	} else if (!strcmp(path, "slots") && cJSON_IsObject(v) &&
		   cb_role_is_site(store_role(r->st))) {
		/* A site device's randomization lease, as a network sync
		 * keeps it. */
		return lease_save(r->st, v, r->err);
	}
	return 0;
}

/*
 * Apply the reply's payload (fd at its first byte), all in one
 * transaction: 0, or the error in *err (nothing applied), with *refused
 * set when the reply answers another device or study.
 */
static int apply_reply(struct store *st, int fd, int progress,
		       struct sync_stats *s, int *refused, struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF];
	struct cb_protocol *p = NULL;
	struct store_counts c;
	struct reply r;
	char *cur;
	int rc;

	memset(s, 0, sizeof(*s));
	memset(&r, 0, sizeof(r));
	r.st = st;
	r.s = s;
	r.err = err;
	*refused = 0;
	cur = store_meta_or_null(st, SYNC_META_CURSOR);
	rc = store_protocol_load(st, &p, err);
	if (!rc)
		rc = derive_cache_new(st, p, SYNC_DERIVE_CACHE, &r.dc, err);
	if (!rc)
		rc = store_begin(st, err);
	if (!rc)
		rc = cb_jstream_walk(fd, reply_open, REPLY_VALUE_MAX,
				     "reply payload", reply_value, &r, err);
	if (!rc &&
	    (strcmp(r.format, CB_REPLY_MAGIC) || !r.have_results ||
	     strcmp(r.device, store_device_id(st)) || strcmp(r.study, p->id))) {
		*refused = 1;
		rc = cb_err_set(err, CB_EAUTH,
				"the reply is not a %s answer for this device "
				"and study %s",
				CB_REPLY_MAGIC, p->id);
	}
	if (!rc && !r.npages)
		rc = cb_err_set(err, CB_EINVAL, "the reply has no pull page");
	/* An older reply imported late never moves the cursor back. */
	if (!rc && cursor_value(r.last_next) >= cursor_value(cur))
		rc = store_meta_set(st, SYNC_META_CURSOR, r.last_next,
				    strlen(r.last_next), err);
	if (!rc) {
		cb_clock_format_utc(cb_clock_now_ms(), now);
		rc = store_meta_set(st, SYNC_META_LAST, now, strlen(now), err);
	}
	if (!rc)
		rc = derive_cache_write(r.dc, err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	derive_cache_free(r.dc);
	if (!rc)
		rc = derive_pending(st, p, progress, NULL, err);
	cb_protocol_free(p);
	if (!rc)
		rc = store_counts(st, &c, err);
	if (!rc)
		s->quarantined = (size_t)c.quarantined;
	free(cur);
	return rc;
}

/* The server's signature over the whole file, in one pass. */
static int verify_reply(int fd, const char *device,
			const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
			const unsigned char sig[CB_SIGNATURE_BYTES],
			struct cb_err *err)
{
	struct cb_verify_stream *v = NULL;
	char buf[65536];
	ssize_t n;
	int rc;

	rc = cb_verify_stream_new(pk, sig, &v, err);
	if (rc)
		return rc;
	cb_verify_stream_update(v, CB_REPLY_MAGIC "\n",
				strlen(CB_REPLY_MAGIC) + 1);
	cb_verify_stream_update(v, device, strlen(device));
	cb_verify_stream_update(v, "\n", 1);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cb_verify_stream_free(v);
			return cb_err_set(err, CB_EIO, "reading the reply: %s",
					  strerror(errno));
		}
		cb_verify_stream_update(v, buf, (size_t)n);
	}
	rc = cb_verify_stream_final(v, err);
	cb_verify_stream_free(v);
	return rc;
}

static int bundle_import(struct store *st, const char *path, int progress,
			 int quiet)
{
	unsigned char sig[CB_SIGNATURE_BYTES], pk[CB_SIGN_PUBLIC_BYTES];
	char device[CB_BUNDLE_DEVICE_HEX + 1];
	struct sync_stats s;
	struct cb_err err;
	long long at = 0;
	char *key;
	int fd = -1, rc, refused = 0;

	cb_err_clear(&err);
	rc = cb_bundle_in_open(path, CB_REPLY_MAGIC, device, sig, &fd, &at,
			       &err);
	if (rc == CB_EIO)
		return cli_fail(&err);
	if (rc)
		return refuse("this is not a bundle reply (%s: a header line, "
			      "the device id, the signature, then the "
			      "payload); it is damaged, not made by "
			      "'casebookd bundle import', or of an older "
			      "format (%s): export a new bundle and import "
			      "the server's reply to it",
			      CB_REPLY_MAGIC, CB_REPLY_MAGIC_V1);
	if (strcmp(device, store_device_id(st))) {
		close(fd);
		return refuse("it answers device %s, not this device (%s)",
			      device, store_device_id(st));
	}
	key = store_meta_or_null(st, SYNC_META_SERVER_KEY);
	if (!key) {
		close(fd);
		return cli_error("this store does not know its server's key "
				 "(it was not registered with a server that "
				 "signs bundle replies); sync by network");
	}
	rc = cb_hex_decode(key, strlen(key), pk, sizeof(pk), NULL, &err);
	free(key);
	if (rc) {
		close(fd);
		return cli_error("setting %s is not a public key: %s",
				 SYNC_META_SERVER_KEY, err.msg);
	}
	rc = verify_reply(fd, device, pk, sig, &err);
	if (rc == CB_EAUTH) {
		close(fd);
		return refuse("the server signature does not verify: the reply "
			      "was altered or damaged, or not made by the "
			      "server this device is registered with");
	}
	if (!rc && lseek(fd, (off_t)at, SEEK_SET) < 0)
		rc = cb_err_set(&err, CB_EIO, "reading the reply: %s",
				strerror(errno));
	if (!rc)
		rc = apply_reply(st, fd, progress, &s, &refused, &err);
	close(fd);
	if (refused)
		return refuse("%s", err.msg);
	if (rc == CB_EINVAL && !strncmp(err.msg, "reply payload", 13))
		return refuse("%s", err.msg);
	if (rc)
		return cli_fail(&err);
	sync_print_stats(&s, quiet);
	return EXIT_OK;
}

int cmd_bundle(int argc, char **argv, struct cli_global *g)
{
	struct store *st = NULL;
	struct cb_err err;
	char *server;
	int rc, exp;

	if (argc != 3 ||
	    (strcmp(argv[1], "export") && strcmp(argv[1], "import")))
		return cli_usage("bundle", "expected 'bundle export FILE' or "
					   "'bundle import FILE'");
	exp = !strcmp(argv[1], "export");
	cb_err_clear(&err);
	/* A reply that cannot be read is said before the passphrase. */
	if (!exp && access(argv[2], R_OK)) {
		cb_err_set(&err, CB_EIO, "cannot read %s: %s", argv[2],
			   strerror(errno));
		return cli_fail(&err);
	}
	rc = store_open_cli(g, &st, &err);
	if (rc)
		return cli_fail(&err);
	server = store_meta_or_null(st, SYNC_META_SERVER);
	if (!server) {
		rc = cli_error("this store was not registered with a server "
			       "('casebook init --server URL --token TOKEN' "
			       "makes one that is)");
	} else if (exp) {
		rc = bundle_export(st, argv[2]);
	} else {
		rc = bundle_import(st, argv[2], cli_progress(g), g->quiet);
	}
	free(server);
	store_close(st);
	return rc;
}
