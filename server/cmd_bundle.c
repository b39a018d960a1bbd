/*
 * cmd_bundle.c - `casebookd bundle import`: sync a device that has no
 * network by carrying files (docs/bundles.md, DESIGN.md section 4).
 *
 * The device writes its push payload and pull cursor into a bundle signed
 * with its registered key (`casebook bundle export`). This command checks
 * the bundle (the device is registered and not revoked, the signature
 * verifies with its key, the bundle is for this study and fresh), applies
 * the push with srv_core_push exactly as POST /v1/sync/push does (same
 * per-event verdicts, a transaction per batch), then writes a reply signed with
 * the server key: the push results and every pull page since the
 * bundle's cursor, as GET /v1/sync/pull would give them to that device,
 * and for a site device its randomization lease, as GET /v1/slots, so
 * a site that only ever syncs by bundle can randomize offline too.
 * `casebook bundle import` applies the reply on the device.
 *
 * With --handover the administrator takes over the unsynced data of a
 * revoked device (DESIGN.md section 4): only a revoked device's bundle,
 * only the events it made before it was revoked, and a reply with the
 * verdicts but nothing to pull.
 */
#include "buf.h"
#include "bundle.h"
#include "clock.h"
#include "core.h"
#include "crypto.h"
#include "json.h"
#include "jstream.h"
#include "reqsig.h"
#include "slots.h"
#include "srv.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Default and largest accepted age of a bundle, in days. */
#define BUNDLE_AGE_DEFAULT 30
#define BUNDLE_AGE_MAX 365
#define DAY_MS (24LL * 60 * 60 * 1000)

/* Exit code of a refused bundle (as HTTP 401/403 would refuse a push). */
#define EXIT_REFUSED 4

const char cmd_bundle_help[] =
    "usage: casebookd bundle import --data DIR FILE --reply OUT\n"
    "                               [--max-age DAYS] [--lease N]\n"
    "                               [--handover]\n"
    "\n"
    "Sync a device that has no network: FILE is a bundle written on the\n"
    "device by 'casebook bundle export'. The bundle must be signed with\n"
    "the key the device registered, the device must not be revoked, and\n"
    "the bundle must be for this study and made at most DAYS days ago\n"
    "(default 30, at most 365) and not in the future. Its events are then\n"
    "checked and stored exactly as a network push (each accepted,\n"
    "duplicate or rejected with a reason, 1,000 events a transaction),\n"
    "and\n"
    "OUT gets the reply, signed with the server key: those verdicts and\n"
    "every event the device may see since its last sync, and for a site\n"
    "device its randomization slots, topped up to N unused slots per\n"
    "stratum (default 4, at most 200; as 'casebookd serve --lease'). Carry\n"
    "OUT back and run 'casebook bundle import OUT' on the device.\n"
    "\n"
    "--handover: take over the unsynced data of a revoked device (its\n"
    "laptop cannot sync any more). Only for a revoked device's bundle;\n"
    "the events it made before it was revoked are checked and stored as\n"
    "above, those made after are rejected, and OUT carries the verdicts\n"
    "but no events: a revoked device receives nothing.\n"
    "\n"
    "Importing a bundle twice is harmless: its events are duplicates the\n"
    "second time. Run it with 'casebookd serve' stopped on DIR, like\n"
    "rebuild: a running server would not see the imported events.\n"
    "OUT holds clinical data: keep it as safe as the data directory.\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 imported and OUT written; 1 failure; 2 usage;\n"
    "4 bundle refused (damaged or altered, unknown device, revoked\n"
    "device without --handover or active one with it, another study,\n"
    "too old): nothing of it was applied.\n";

/* A refusal: the message and exit 4. */
static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int refuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "casebookd: bundle refused: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; nothing was applied\n");
	return EXIT_REFUSED;
}

/*
 * The bundle is read as a stream, never held: one pass over the bytes
 * checks the device's signature and takes the file's SHA-256; a second
 * walks the payload (jstream.h) and checks every member before anything
 * is applied (the events come last, docs/bundles.md); a third applies
 * the events in batches of SRV_PUSH_MAX_EVENTS, each one transaction as
 * a network push, writing each verdict into the reply as it goes. The
 * reply is written as a stream too, signed as it is written (Ed25519ph),
 * its pull pages one at a time. Memory holds one batch and one page.
 */

/* Largest single value of a bundle read: an event (at most
 * CB_VALUE_MAX bytes of values) with its envelope. */
#define BUNDLE_VALUE_MAX (CB_VALUE_MAX + 65536u)

static const char *const bundle_open[] = {"", "events", NULL};

/* The payload's members, checked (docs/bundles.md). */
struct bundle {
	char format[64], device[SRV_ID_HEX + 8], study[256], sha256[80],
	    created[64], cursor[48];
	int have[6];	 /* each of the above seen */
	int have_events; /* the events array, whole */
	long nevents;
	int64_t created_ms, since;
	char bad[160]; /* why the payload is refused, once known */
};

static const char *const bundle_members[] = {
    "format", "device", "study", "protocol_sha256", "created", "cursor", NULL};

/* Pass 2: each top-level value, checked and kept. */
static int check_value(void *ctx, const char *path, const cJSON *v)
{
	struct bundle *b = ctx;
	char *const dst[] = {b->format, b->device,  b->study,
			     b->sha256, b->created, b->cursor};
	const size_t cap[] = {sizeof(b->format),  sizeof(b->device),
			      sizeof(b->study),	  sizeof(b->sha256),
			      sizeof(b->created), sizeof(b->cursor)};
	size_t i;

	if (b->bad[0])
		return 0;
	if (!strcmp(path, "events[]")) {
		/* each event is judged by the push, as a network push's */
		b->nevents++;
		return 0;
	}
	if (!strcmp(path, "events")) {
		b->have_events = !v; /* the array's end */
		if (v)
			snprintf(b->bad, sizeof(b->bad),
				 "the bundle's events are not an array");
		return 0;
	}
	if (!strcmp(path, ""))
		return 0;
	for (i = 0; bundle_members[i]; i++)
		if (!strcmp(path, bundle_members[i]))
			break;
	if (!bundle_members[i]) {
		snprintf(b->bad, sizeof(b->bad),
			 "the bundle has an unknown member '%.40s'", path);
		return 0;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap[i]) {
		snprintf(b->bad, sizeof(b->bad),
			 "the bundle's %s is not a string of at most %zu "
			 "bytes",
			 path, cap[i] - 1);
		return 0;
	}
	snprintf(dst[i], cap[i], "%s", v->valuestring);
	b->have[i] = 1;
	return 0;
}

static int check_payload(struct bundle *b, const struct srv_core *c,
			 const char *device, int64_t now, int max_age_days)
{
	struct cb_err err;
	size_t i;

	if (b->bad[0])
		return refuse("%s", b->bad);
	for (i = 0; bundle_members[i]; i++)
		if (!b->have[i])
			break;
	if (bundle_members[i] || !b->have_events)
		return refuse(
		    "the bundle lacks device, study, protocol_sha256, "
		    "created, cursor or events");
	if (strcmp(b->format, CB_BUNDLE_MAGIC))
		return refuse("the bundle is not in format %s",
			      CB_BUNDLE_MAGIC);
	if (strcmp(b->device, device))
		return refuse("the bundle's payload names device %.40s, its "
			      "header %s",
			      b->device, device);
	if (strcmp(b->study, c->study))
		return refuse("the bundle is for study %.80s, this server "
			      "holds %s",
			      b->study, c->study);
	if (strcmp(b->sha256, c->proto_sha256))
		return refuse("the bundle was made with another version of "
			      "the protocol (sha256 %.64s, the server's is "
			      "%s)",
			      b->sha256, c->proto_sha256);
	if (cb_clock_parse_utc(b->created, &b->created_ms, &err))
		return refuse("the bundle's creation time: %s", err.msg);
	if (b->created_ms > now + CB_REQSIG_SKEW_MS)
		return refuse("the bundle was made at %s, in the future by "
			      "this server's clock",
			      b->created);
	if (b->created_ms < now - max_age_days * DAY_MS)
		return refuse("the bundle was made at %s, more than %d days "
			      "ago (--max-age): export a new one",
			      b->created, max_age_days);
	b->since = srv_decimal(b->cursor, 0, INT64_MAX);
	if (b->since < 0)
		return refuse("the bundle's cursor '%.40s' is not a pull "
			      "cursor",
			      b->cursor);
	return 0;
}

/* ---- the reply, written as it is made ---------------------------------- */

/* Pending bytes are written once this many gather. */
#define REPLY_FLUSH (256u * 1024u)

struct reply_out {
	struct cb_bundle_out out;
	struct cb_sign_stream *sign;
	struct cb_buf pending;
	int opened;
	struct cb_err *err;
};

static int rput(struct reply_out *r, const void *p, size_t n)
{
	int rc = 0;

	cb_sign_stream_update(r->sign, p, n);
	if (cb_buf_len(&r->pending) + n > REPLY_FLUSH) {
		rc = cb_bundle_out_write(&r->out, cb_buf_str(&r->pending),
					 cb_buf_len(&r->pending), r->err);
		cb_buf_reset(&r->pending);
	}
	if (!rc && n > REPLY_FLUSH)
		return cb_bundle_out_write(&r->out, p, n, r->err);
	return rc ? rc : cb_buf_add(&r->pending, p, n, r->err);
}

static int rputs(struct reply_out *r, const char *s)
{
	return rput(r, s, strlen(s));
}

/* A JSON value, compact, into the reply. */
static int rput_json(struct reply_out *r, const cJSON *v)
{
	char *t = cJSON_PrintUnformatted(v);
	int rc;

	if (!t)
		return cb_err_set(r->err, CB_ENOMEM, "out of memory");
	rc = rputs(r, t);
	free(t);
	return rc;
}

static int reply_open(struct reply_out *r, struct srv_store *s, const char *out,
		      const char *device, struct cb_err *err)
{
	struct cb_sign_keypair kp;
	int rc;

	memset(r, 0, sizeof(*r));
	r->err = err;
	cb_buf_init(&r->pending, REPLY_FLUSH);
	rc = srv_store_key_load(s, &kp, err);
	if (rc)
		return rc;
	rc = cb_sign_stream_new(kp.sk, &r->sign, err);
	cb_sign_keypair_release(&kp);
	if (!rc)
		rc = cb_bundle_out_open(&r->out, out, CB_REPLY_MAGIC, device,
					err);
	if (rc)
		return rc;
	r->opened = 1;
	cb_sign_stream_update(r->sign, CB_REPLY_MAGIC "\n",
			      strlen(CB_REPLY_MAGIC) + 1);
	cb_sign_stream_update(r->sign, device, strlen(device));
	cb_sign_stream_update(r->sign, "\n", 1);
	return 0;
}

static int reply_close(struct reply_out *r)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	int rc = 0;

	if (cb_buf_len(&r->pending))
		rc = cb_bundle_out_write(&r->out, cb_buf_str(&r->pending),
					 cb_buf_len(&r->pending), r->err);
	if (!rc)
		rc = cb_sign_stream_final(r->sign, sig, r->err);
	if (!rc) {
		r->opened = 0;
		rc = cb_bundle_out_close(&r->out, sig, r->err);
	}
	return rc;
}

static void reply_free(struct reply_out *r)
{
	if (r->opened)
		cb_bundle_out_abort(&r->out);
	r->opened = 0;
	cb_sign_stream_free(r->sign);
	r->sign = NULL;
	cb_buf_free(&r->pending);
}

/* The reply's members up to its push results. */
static int reply_head(struct reply_out *r, const struct srv_core *c,
		      const char *device, const char *bundle_sha256)
{
	char created[CB_CLOCK_UTC_BUF];
	cJSON *o = cJSON_CreateObject();
	char *t = NULL;
	int rc;

	cb_clock_format_utc(cb_clock_now_ms(), created);
	if (o && cJSON_AddStringToObject(o, "format", CB_REPLY_MAGIC) &&
	    cJSON_AddStringToObject(o, "device", device) &&
	    cJSON_AddStringToObject(o, "study", c->study) &&
	    cJSON_AddStringToObject(o, "bundle_sha256", bundle_sha256) &&
	    cJSON_AddStringToObject(o, "created", created))
		t = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!t)
		return cb_err_set(r->err, CB_ENOMEM, "out of memory");
	/* t ends with '}': the push goes in its place. */
	rc = rput(r, t, strlen(t) - 1);
	free(t);
	return rc ? rc : rputs(r, ",\"push\":{\"results\":[");
}

/* ---- applying ------------------------------------------------------------ */

struct applying {
	struct srv_core *c;
	const struct srv_device *dev;
	struct reply_out *r;
	cJSON *batch;
	long counts[3], nresults; /* accepted, duplicate, rejected */
	int pushed;		  /* a batch was stored */
	/* the numbers of the events stored ("seqs"): the reply's pull
	 * leaves them out, as a network sync's pull does */
	struct cb_seqs skip;
	struct cb_err *err;
};

/* Push the batch gathered and write its verdicts into the reply. */
static int push_batch(struct applying *a)
{
	static const char *const names[] = {"accepted", "duplicate",
					    "rejected"};
	const cJSON *res;
	cJSON *push = NULL;
	int rc, i;

	if (!cJSON_GetArraySize(a->batch))
		return 0;
	rc = srv_core_push(a->c, a->dev, a->batch, &push, a->err);
	if (rc)
		return rc;
	a->pushed = 1;
	cb_seqs_note(&a->skip, cJSON_GetObjectItemCaseSensitive(push, "seqs"));
	cJSON_ArrayForEach(res, cb_json_arr(push, "results"))
	{
		if (a->nresults++ && (rc = rputs(a->r, ",")))
			break;
		if ((rc = rput_json(a->r, res)))
			break;
	}
	for (i = 0; i < 3; i++)
		a->counts[i] += (long)cJSON_GetNumberValue(
		    cJSON_GetObjectItem(push, names[i]));
	cJSON_Delete(push);
	cJSON_Delete(a->batch);
	a->batch = cJSON_CreateArray();
	if (!rc && !a->batch)
		rc = cb_err_set(a->err, CB_ENOMEM, "out of memory");
	return rc;
}

/* Pass 3: each event into the batch, pushed when full. */
static int apply_value(void *ctx, const char *path, const cJSON *v)
{
	struct applying *a = ctx;
	cJSON *copy;

	if (strcmp(path, "events[]"))
		return 0;
	copy = cJSON_Duplicate(v, 1);
	if (!copy)
		return cb_err_set(a->err, CB_ENOMEM, "out of memory");
	cJSON_AddItemToArray(a->batch, copy);
	if (cJSON_GetArraySize(a->batch) >= SRV_PUSH_MAX_EVENTS)
		return push_batch(a);
	return 0;
}

/* Every pull page since `since` into the reply, one page at a time. */
static int pull_pages(struct srv_core *c, const struct srv_device *dev,
		      int64_t since, const struct cb_seq_range *skip,
		      size_t nskip, struct reply_out *r, long *nevents,
		      struct cb_err *err)
{
	int more = 1, rc = 0, first = 1;

	*nevents = 0;
	while (more && !rc) {
		struct srv_pull_page page;

		rc = srv_core_pull(c, dev, since, SRV_PULL_MAX, skip, nskip,
				   &page, err);
		if (rc)
			break;
		more = page.more;
		*nevents += page.n;
		since = page.next;
		if (!first)
			rc = rputs(r, ",");
		first = 0;
		if (!rc)
			rc = rput(r, page.text, page.len);
		free(page.text);
	}
	return rc;
}

/* The rest of the reply after the push: the pull, the lease, the
 * people, the end. */
static int reply_tail(struct applying *a, const struct bundle *b, long *pulled)
{
	struct srv_core *c = a->c;
	const struct srv_device *dev = a->dev;
	struct reply_out *r = a->r;
	char tail[160];
	int rc;

	snprintf(tail, sizeof(tail),
		 "],\"accepted\":%ld,\"duplicate\":%ld,\"rejected\":%ld,"
		 "\"store\":\"%s\"},\"pull\":[",
		 a->counts[0], a->counts[1], a->counts[2], c->store_id);
	rc = rputs(r, tail);
	*pulled = 0;
	/* A revoked device (a hand-over) receives nothing: one empty page,
	 * the cursor where it left it. */
	if (!rc && dev->revoked_ms) {
		cJSON *page = cJSON_CreateObject();

		if (!page || !cJSON_AddArrayToObject(page, "events") ||
		    !cJSON_AddStringToObject(page, "next", b->cursor) ||
		    !cJSON_AddFalseToObject(page, "more"))
			rc = cb_err_set(a->err, CB_ENOMEM, "out of memory");
		else
			rc = rput_json(r, page);
		cJSON_Delete(page);
	} else if (!rc) {
		rc = pull_pages(c, dev, b->since, a->skip.r, a->skip.n, r,
				pulled, a->err);
	}
	if (!rc)
		rc = rputs(r, "]");
	/* A site device's lease, as GET /v1/slots gives it. */
	if (!rc && !dev->revoked_ms && dev->site[0] &&
	    cb_role_is_site(dev->role)) {
		cJSON *slots = NULL;

		rc = srv_slots_lease(c->store, dev, srv_slots_lease_size(),
				     NULL, &slots, a->err);
		if (!rc)
			rc = rputs(r, ",\"slots\":");
		if (!rc)
			rc = rput_json(r, slots);
		cJSON_Delete(slots);
		/* Leases paused after a restore: the reply carries no lease
		 * (the device keeps the slots it holds), the rest goes. */
		if (rc == CB_ECONFLICT) {
			fprintf(stderr, "casebookd: warning: %s\n",
				a->err->msg);
			cb_err_clear(a->err);
			rc = 0;
		}
	}
	/* The people the device may hold, as GET /v1/users gives them. */
	if (!rc && !dev->revoked_ms) {
		cJSON *users = NULL;

		rc = srv_core_users(c, dev, &users, a->err);
		if (!rc)
			rc = rputs(r, ",\"users\":");
		if (!rc)
			rc = rput_json(r, users);
		cJSON_Delete(users);
	}
	return rc ? rc : rputs(r, "}");
}

/*
 * Apply the checked bundle (fd at its payload) and write the reply. The
 * events go in batches, each one transaction: a failure keeps the
 * batches stored before it, and importing the bundle again stores the
 * rest (the others are duplicates then).
 */
static int apply(struct srv_core *c, const char *out,
		 const struct srv_device *dev, const struct bundle *b, int fd,
		 long long payload_at, const char *bundle_sha256)
{
	struct reply_out r;
	struct applying a;
	struct cb_err err;
	long pulled = 0;
	int rc;

	cb_err_clear(&err);
	memset(&a, 0, sizeof(a));
	a.c = c;
	a.dev = dev;
	a.r = &r;
	a.err = &err;
	a.batch = cJSON_CreateArray();
	rc = reply_open(&r, c->store, out, dev->id, &err);
	if (!rc && !a.batch)
		rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
	if (!rc)
		rc = reply_head(&r, c, dev->id, bundle_sha256);
	if (!rc && lseek(fd, (off_t)payload_at, SEEK_SET) < 0)
		rc = cb_err_set(&err, CB_EIO, "reading the bundle: %s",
				strerror(errno));
	if (!rc)
		rc = cb_jstream_walk(fd, bundle_open, BUNDLE_VALUE_MAX,
				     "bundle payload", apply_value, &a, &err);
	if (!rc)
		rc = push_batch(&a);
	if (rc && a.pushed) {
		fprintf(stderr,
			"casebookd: error: %s\n"
			"casebookd: some of the bundle's events are stored; "
			"import it again to store the rest and write the "
			"reply (those stored are duplicates then)\n",
			err.msg);
		goto fail;
	}
	if (rc) {
		fprintf(stderr,
			"casebookd: error: the bundle's events could not be "
			"stored, or the reply not begun (%s); nothing was "
			"applied\n",
			err.msg);
		goto fail;
	}
	if (dev->revoked_ms) {
		char when[CB_CLOCK_UTC_BUF];

		cb_clock_format_utc(dev->revoked_ms, when);
		printf("hand-over of revoked device %s (revoked %s): only "
		       "events it made before then are taken\n",
		       dev->id, when);
	}
	printf("bundle from device %s (%s%s, %s %s): %ld event%s: %ld "
	       "accepted, %ld duplicate, %ld rejected\n",
	       dev->id, dev->site[0] ? "site " : "central role", dev->site,
	       dev->role, dev->user, b->nevents, b->nevents == 1 ? "" : "s",
	       a.counts[0], a.counts[1], a.counts[2]);
	rc = reply_tail(&a, b, &pulled);
	if (!rc)
		rc = reply_close(&r);
	if (rc) {
		fprintf(stderr,
			"casebookd: error: %s\n"
			"casebookd: the bundle's events are stored; "
			"importing it again writes the reply (they "
			"are duplicates then)\n",
			err.msg);
		goto fail;
	}
	reply_free(&r);
	cJSON_Delete(a.batch);
	printf("reply for device %s in %s: %ld event%s to pull\n", dev->id, out,
	       pulled, pulled == 1 ? "" : "s");
	return SRV_EXIT_OK;
fail:
	reply_free(&r);
	cJSON_Delete(a.batch);
	return SRV_EXIT_FAIL;
}

/*
 * Pass 1: the device's signature over the file (its magic and device
 * lines, then the payload from `payload_at`) and the whole file's
 * SHA-256, in one read. 0, CB_EAUTH, or CB_EIO/CB_ENOMEM.
 */
static int verify_file(int fd, const char *device,
		       const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
		       const unsigned char sig[CB_SIGNATURE_BYTES],
		       long long payload_at, char sum[CB_HASH_HEX_SIZE],
		       struct cb_err *err)
{
	struct cb_verify_stream *v = NULL;
	struct cb_sha256_stream *h = NULL;
	char buf[1 << 16];
	long long at = 0;
	ssize_t n;
	int rc;

	rc = cb_verify_stream_new(pk, sig, &v, err);
	if (!rc)
		rc = cb_sha256_stream_new(&h, err);
	if (!rc && lseek(fd, 0, SEEK_SET) < 0)
		rc = cb_err_set(err, CB_EIO, "reading the bundle: %s",
				strerror(errno));
	if (!rc) {
		cb_verify_stream_update(v, CB_BUNDLE_MAGIC "\n",
					strlen(CB_BUNDLE_MAGIC) + 1);
		cb_verify_stream_update(v, device, strlen(device));
		cb_verify_stream_update(v, "\n", 1);
	}
	while (!rc && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cb_err_set(err, CB_EIO, "reading the bundle: %s",
					strerror(errno));
			break;
		}
		cb_sha256_stream_update(h, buf, (size_t)n);
		if (at + n > payload_at) {
			long long skip = at < payload_at ? payload_at - at : 0;

			cb_verify_stream_update(v, buf + skip,
						(size_t)(n - skip));
		}
		at += n;
	}
	if (!rc)
		rc = cb_verify_stream_final(v, err);
	if (!rc)
		cb_sha256_stream_final_hex(h, sum);
	cb_verify_stream_free(v);
	cb_sha256_stream_free(h);
	return rc;
}

/* 1 when the file at `path` starts with the magic line of version 1. */
static int is_v1(const char *path)
{
	char head[64];
	size_t ml = strlen(CB_BUNDLE_MAGIC_V1);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, head, ml + 1);
	close(fd);
	return n == (ssize_t)(ml + 1) &&
	       !memcmp(head, CB_BUNDLE_MAGIC_V1, ml) && head[ml] == '\n';
}

/* Check the bundle at `path`, then apply it. */
static int import(struct srv_core *c, const char *out, const char *path,
		  int max_age_days, int handover)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char device[SRV_ID_HEX + 1], sum[CB_HASH_HEX_SIZE];
	struct srv_device dev;
	struct bundle b;
	struct cb_err err;
	long long payload_at = 0;
	int fd = -1, rc;

	cb_err_clear(&err);
	if (is_v1(path))
		return refuse("this bundle is of an older format (%s); nothing "
			      "was applied: export it again with this "
			      "version of casebook (%s)",
			      CB_BUNDLE_MAGIC_V1, CB_BUNDLE_MAGIC);
	rc = cb_bundle_in_open(path, CB_BUNDLE_MAGIC, device, sig, &fd,
			       &payload_at, &err);
	if (rc == CB_EIO)
		return srv_fail(&err);
	if (rc)
		return refuse("this is not a bundle (%s: a header line, the "
			      "device id, the signature, then the payload); "
			      "it is damaged or not made by 'casebook bundle "
			      "export'",
			      CB_BUNDLE_MAGIC);
	rc = srv_store_device_get(c->store, device, &dev, &err);
	if (rc == CB_ENOTFOUND)
		rc = refuse("device %s is not registered (as HTTP 401 "
			    "unknown_device)",
			    device);
	else if (rc)
		rc = srv_fail(&err);
	else if (dev.revoked_ms && !handover)
		rc = refuse("device %s has been revoked (as HTTP 403 "
			    "device_revoked); an administrator can take "
			    "over its unsynced data with --handover",
			    device);
	else if (!dev.revoked_ms && handover)
		rc = refuse("device %s is not revoked: --handover is only "
			    "for a revoked device's data (import this "
			    "bundle without it)",
			    device);
	if (rc)
		goto out;
	rc = verify_file(fd, device, dev.pk, sig, payload_at, sum, &err);
	if (rc == CB_EAUTH) {
		rc = refuse("the signature does not verify with the key of "
			    "device %s: the bundle was altered or damaged "
			    "after export, or not made by that device",
			    device);
		goto out;
	}
	if (rc) {
		rc = srv_fail(&err);
		goto out;
	}
	memset(&b, 0, sizeof(b));
	if (lseek(fd, (off_t)payload_at, SEEK_SET) < 0) {
		cb_err_set(&err, CB_EIO, "reading the bundle: %s",
			   strerror(errno));
		rc = srv_fail(&err);
		goto out;
	}
	rc = cb_jstream_walk(fd, bundle_open, BUNDLE_VALUE_MAX,
			     "bundle payload", check_value, &b, &err);
	if (rc == CB_EIO || rc == CB_ENOMEM) {
		rc = srv_fail(&err);
		goto out;
	}
	if (rc) {
		rc = refuse("%s", err.msg);
		goto out;
	}
	rc = check_payload(&b, c, device, cb_clock_now_ms(), max_age_days);
	if (!rc)
		rc = apply(c, out, &dev, &b, fd, payload_at, sum);
out:
	close(fd);
	return rc;
}

int cmd_bundle(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--reply", "--max-age",
					    "--lease", NULL};
	const char *vals[4] = {NULL, NULL, NULL, NULL}, *pos[1];
	int handover;
	struct srv_core core;
	struct cb_err err;
	long age = BUNDLE_AGE_DEFAULT, lease = SRV_SLOTS_LEASE;
	int npos, rc;

	if (argc < 2 || strcmp(argv[1], "import"))
		return srv_usage("bundle", "expected 'bundle import'");
	handover = srv_take_flag(&argc, argv, "--handover");
	rc = srv_parse_opts("bundle import", argc - 1, argv + 1, names, vals,
			    pos, 1, &npos);
	if (rc)
		return rc;
	if (!vals[0] || !vals[1] || npos != 1)
		return srv_usage("bundle import", "--data DIR, FILE and "
						  "--reply OUT are required");
	if ((rc = srv_opt_range("bundle import", "--max-age (days)", vals[2], 1,
				BUNDLE_AGE_MAX, &age)) ||
	    (rc = srv_opt_range("bundle import", "--lease (slots)", vals[3], 1,
				SRV_SLOTS_LEASE_MAX, &lease)))
		return rc;
	srv_slots_set_lease((unsigned)lease);
	cb_err_clear(&err);
	/* Before anything is applied: a reply that cannot be written where
	 * asked would leave the events stored and the device unanswered. */
	if (cb_bundle_target_check(vals[1], CB_REPLY_MAGIC, &err))
		return srv_fail(&err);
	if (access(pos[0], R_OK)) {
		cb_err_set(&err, CB_EIO, "cannot read %s: %s", pos[0],
			   strerror(errno));
		return srv_fail(&err);
	}
	if (srv_lock_data(vals[0], "bundle import", &err))
		return srv_fail(&err);
	rc = srv_core_open(&core, vals[0], &err);
	if (rc) {
		srv_core_close(&core);
		return srv_fail(&err);
	}
	rc = import(&core, vals[1], pos[0], (int)age, handover);
	srv_core_close(&core);
	return rc;
}
