/*
 * cmd_bundle.c - `casebookd bundle import`: sync a device that has no
 * network by carrying files (docs/bundles.md, DESIGN.md section 4).
 *
 * The device writes its push payload and pull cursor into a bundle signed
 * with its registered key (`casebook bundle export`). This command checks
 * the bundle (the device is registered and not revoked, the signature
 * verifies with its key, the bundle is for this study and fresh), applies
 * the push with srv_core_push exactly as POST /v1/sync/push does (same
 * per-event verdicts, one transaction), then writes a reply signed with
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
#include "bundle.h"
#include "clock.h"
#include "core.h"
#include "crypto.h"
#include "json.h"
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

/* First lines of the two files; each names its format's version. */
/* Largest bundle read. */
#define BUNDLE_MAX (256u * 1024u * 1024u)
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
    "duplicate or rejected with a reason, all in one transaction), and\n"
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
    "\n"
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

/* The payload's members, checked (docs/bundles.md). */
struct bundle {
	const char *device, *study, *sha256, *created, *cursor;
	const cJSON *events;
	int64_t created_ms, since;
};

static int check_payload(const cJSON *j, const struct srv_core *c,
			 const char *device, int64_t now, int max_age_days,
			 struct bundle *b)
{
	static const char *const members[] = {
	    "format",  "device", "study",  "protocol_sha256",
	    "created", "cursor", "events", NULL};
	const cJSON *m;
	struct cb_err err;
	size_t i;

	if (!cJSON_IsObject(j))
		return refuse("the bundle's payload is not a JSON object");
	cJSON_ArrayForEach(m, j)
	{
		for (i = 0; members[i]; i++)
			if (m->string && !strcmp(m->string, members[i]))
				break;
		if (!members[i])
			return refuse(
			    "the bundle has an unknown member '%.40s'",
			    m->string ? m->string : "?");
	}
	if (!cb_json_str(j, "format") ||
	    strcmp(cb_json_str(j, "format"), CB_BUNDLE_MAGIC))
		return refuse("the bundle is not in format %s",
			      CB_BUNDLE_MAGIC);
	b->device = cb_json_str(j, "device");
	b->study = cb_json_str(j, "study");
	b->sha256 = cb_json_str(j, "protocol_sha256");
	b->created = cb_json_str(j, "created");
	b->cursor = cb_json_str(j, "cursor");
	b->events = cb_json_arr(j, "events");
	if (!b->device || !b->study || !b->sha256 || !b->created ||
	    !b->cursor || !b->events)
		return refuse(
		    "the bundle lacks device, study, protocol_sha256, "
		    "created, cursor or events");
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

/* Every pull page since `since`, as GET /v1/sync/pull gives them. */
static int pull_all(struct srv_core *c, const struct srv_device *dev,
		    int64_t since, cJSON *pages, long *nevents,
		    struct cb_err *err)
{
	int more = 1, rc = 0;

	*nevents = 0;
	while (more && !rc) {
		cJSON *page = NULL;
		const char *next;

		rc = srv_core_pull(c, dev, since, SRV_PULL_MAX, &page, err);
		if (rc)
			break;
		next = cb_json_str(page, "next");
		more = cJSON_IsTrue(cJSON_GetObjectItem(page, "more"));
		*nevents += cJSON_GetArraySize(cb_json_arr(page, "events"));
		if (!next || srv_decimal(next, 0, INT64_MAX) < since) {
			cJSON_Delete(page);
			return cb_err_set(err, CB_EINVAL,
					  "pull gave no cursor");
		}
		since = srv_decimal(next, 0, INT64_MAX);
		cJSON_AddItemToArray(pages, page);
	}
	return rc;
}

/*
 * The one page a hand-over's reply carries: no events, the cursor where
 * the device left it (a revoked device receives nothing).
 */
static int empty_page(const char *cursor, cJSON *pages, struct cb_err *err)
{
	cJSON *page = cJSON_CreateObject();

	if (!page || !cJSON_AddArrayToObject(page, "events") ||
	    !cJSON_AddStringToObject(page, "next", cursor) ||
	    !cJSON_AddFalseToObject(page, "more")) {
		cJSON_Delete(page);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cJSON_AddItemToArray(pages, page);
	return 0;
}

/* Sign the reply payload with the server key and write OUT. */
static int write_reply(const char *dir, const char *out, const char *device,
		       const char *payload, struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_sign_keypair kp;
	size_t len, plen = strlen(payload);
	char *text;
	int rc;

	rc = srv_core_key_load(dir, &kp, err);
	if (rc)
		return rc;
	text =
	    cb_bundle_signed_text(CB_REPLY_MAGIC, device, payload, plen, &len);
	if (!text) {
		cb_sign_keypair_release(&kp);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	rc = cb_sign_ph(kp.sk, text, len, sig, err);
	cb_sign_keypair_release(&kp);
	free(text);
	if (rc)
		return rc;
	return cb_bundle_write(out, CB_REPLY_MAGIC, device, sig, payload, plen,
			       err);
}

/*
 * The push, the pull and the reply, once the bundle is accepted. A
 * hand-over (a revoked `dev`) pulls nothing.
 */
static int apply(struct srv_core *c, const char *dir, const char *out,
		 const struct srv_device *dev, const struct bundle *b,
		 const char *bundle_sha256)
{
	char created[CB_CLOCK_UTC_BUF];
	cJSON *reply = NULL, *push = NULL, *pages;
	struct cb_err err;
	char *payload = NULL;
	long pulled = 0;
	int rc;

	cb_err_clear(&err);
	rc = srv_core_push(c, dev, b->events, &push, &err);
	if (rc) {
		fprintf(stderr,
			"casebookd: error: the bundle's events could "
			"not be stored, or the answer not made (%s); "
			"import it again (events stored are duplicates "
			"then)\n",
			err.msg);
		return SRV_EXIT_FAIL;
	}
	if (dev->revoked_ms) {
		char when[CB_CLOCK_UTC_BUF];

		cb_clock_format_utc(dev->revoked_ms, when);
		printf("hand-over of revoked device %s (revoked %s): only "
		       "events it made before then are taken\n",
		       dev->id, when);
	}
	printf("bundle from device %s (%s%s, %s %s): %d event%s: %d "
	       "accepted, %d duplicate, %d rejected\n",
	       dev->id, dev->site[0] ? "site " : "central role", dev->site,
	       dev->role, dev->user, cJSON_GetArraySize(b->events),
	       cJSON_GetArraySize(b->events) == 1 ? "" : "s",
	       cJSON_GetObjectItem(push, "accepted")->valueint,
	       cJSON_GetObjectItem(push, "duplicate")->valueint,
	       cJSON_GetObjectItem(push, "rejected")->valueint);
	reply = cJSON_CreateObject();
	pages = cJSON_CreateArray();
	cb_clock_format_utc(cb_clock_now_ms(), created);
	if (!reply || !pages ||
	    !cJSON_AddStringToObject(reply, "format", CB_REPLY_MAGIC) ||
	    !cJSON_AddStringToObject(reply, "device", dev->id) ||
	    !cJSON_AddStringToObject(reply, "study", c->study) ||
	    !cJSON_AddStringToObject(reply, "bundle_sha256", bundle_sha256) ||
	    !cJSON_AddStringToObject(reply, "created", created)) {
		cJSON_Delete(reply);
		cJSON_Delete(pages);
		cJSON_Delete(push);
		return srv_error("out of memory");
	}
	cJSON_AddItemToObject(reply, "push", push);
	cJSON_AddItemToObject(reply, "pull", pages);
	if (dev->revoked_ms)
		rc = empty_page(b->cursor, pages, &err);
	else
		rc = pull_all(c, dev, b->since, pages, &pulled, &err);
	/* A site device's lease, as GET /v1/slots gives it. */
	if (!rc && !dev->revoked_ms && dev->site[0] &&
	    cb_role_is_site(dev->role)) {
		cJSON *slots = NULL;

		rc = srv_slots_lease(c->store, dev, srv_slots_lease_size(),
				     &slots, &err);
		if (!rc)
			cJSON_AddItemToObject(reply, "slots", slots);
	}
	/* The people the device may hold, as GET /v1/users gives them. */
	if (!rc && !dev->revoked_ms) {
		cJSON *users = NULL;

		rc = srv_core_users(c, dev, &users, &err);
		if (!rc)
			cJSON_AddItemToObject(reply, "users", users);
	}
	if (!rc) {
		payload = cJSON_PrintUnformatted(reply);
		if (!payload)
			rc = cb_err_set(&err, CB_ENOMEM, "out of memory");
	}
	cJSON_Delete(reply);
	if (!rc)
		rc = write_reply(dir, out, dev->id, payload, &err);
	free(payload);
	if (rc) {
		fprintf(stderr,
			"casebookd: error: %s\n"
			"casebookd: the bundle's events are stored; "
			"importing it again writes the reply (they "
			"are duplicates then)\n",
			err.msg);
		return SRV_EXIT_FAIL;
	}
	printf("reply for device %s in %s: %ld event%s to pull\n", dev->id, out,
	       pulled, pulled == 1 ? "" : "s");
	return SRV_EXIT_OK;
}

/* Check the bundle in buf, then apply it. */
static int import(struct srv_core *c, const char *dir, const char *out,
		  const char *buf, size_t len, int max_age_days, int handover)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char device[SRV_ID_HEX + 1], sum[CB_HASH_HEX_SIZE];
	struct srv_device dev;
	struct bundle b;
	struct cb_err err;
	const char *payload;
	size_t plen, tlen;
	char *text;
	cJSON *j;
	int rc;

	cb_err_clear(&err);
	if (len > strlen(CB_BUNDLE_MAGIC_V1) &&
	    !memcmp(buf, CB_BUNDLE_MAGIC_V1 "\n",
		    strlen(CB_BUNDLE_MAGIC_V1) + 1))
		return refuse("this bundle is of an older format (%s); nothing "
			      "was applied: export it again with this "
			      "version of casebook (%s)",
			      CB_BUNDLE_MAGIC_V1, CB_BUNDLE_MAGIC);
	if (cb_bundle_split(CB_BUNDLE_MAGIC, buf, len, device, sig, &payload,
			    &plen))
		return refuse("this is not a bundle (%s: a header line, the "
			      "device id, the signature, then the payload); "
			      "it is damaged or not made by 'casebook bundle "
			      "export'",
			      CB_BUNDLE_MAGIC);
	rc = srv_store_device_get(c->store, device, &dev, &err);
	if (rc == CB_ENOTFOUND)
		return refuse("device %s is not registered (as HTTP 401 "
			      "unknown_device)",
			      device);
	if (rc)
		return srv_fail(&err);
	if (dev.revoked_ms && !handover)
		return refuse("device %s has been revoked (as HTTP 403 "
			      "device_revoked); an administrator can take "
			      "over its unsynced data with --handover",
			      device);
	if (!dev.revoked_ms && handover)
		return refuse("device %s is not revoked: --handover is only "
			      "for a revoked device's data (import this "
			      "bundle without it)",
			      device);
	text = cb_bundle_signed_text(CB_BUNDLE_MAGIC, device, payload, plen,
				     &tlen);
	if (!text)
		return srv_error("out of memory");
	rc = cb_verify_ph(dev.pk, text, tlen, sig, &err);
	free(text);
	if (rc)
		return refuse("the signature does not verify with the key of "
			      "device %s: the bundle was altered or damaged "
			      "after export, or not made by that device",
			      device);
	j = cb_json_parse(payload, plen, BUNDLE_MAX, "bundle payload", &err);
	if (!j)
		return refuse("%s", err.msg);
	rc = check_payload(j, c, device, cb_clock_now_ms(), max_age_days, &b);
	if (!rc) {
		cb_sha256_hex(buf, len, sum);
		rc = apply(c, dir, out, &dev, &b, sum);
	}
	cJSON_Delete(j);
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
	char *buf = NULL;
	size_t len = 0;
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
	if (cb_file_read(pos[0], BUNDLE_MAX, &buf, &len, &err))
		return srv_fail(&err);
	if (srv_lock_data(vals[0], "bundle import", &err)) {
		free(buf);
		return srv_fail(&err);
	}
	rc = srv_core_open(&core, vals[0], &err);
	if (rc) {
		free(buf);
		srv_core_close(&core);
		return srv_fail(&err);
	}
	rc = import(&core, vals[0], vals[1], buf, len, (int)age, handover);
	srv_core_close(&core);
	free(buf);
	return rc;
}
