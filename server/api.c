/*
 * api.c - the endpoints of the HTTP API under /v1 (docs/api.md documents
 * each one: method, headers, bodies, errors), as the handler daemon.c
 * calls for every request (api.h).
 *
 * Every endpoint but health and register needs a signed request
 * (reqsig.h), checked before anything else is read: the device is
 * known and active, the time within the skew, the signature good, the
 * nonce new and the device within its request rate. Bodies are parsed
 * with the bounded, strict JSON reader; a body of the wrong shape gets
 * 400 naming the member at fault.
 */
#include "api.h"

#include "clock.h"
#include "crypto.h"
#include "id.h"
#include "json.h"
#include "reqsig.h"
#include "slots.h"
#include "srv.h"
#include "version.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest token text accepted (ours are 47 characters). */
#define TOKEN_TEXT_MAX 256

/* One request in the API: the request, the core, and who asked. */
struct call {
	struct srv_req *r;
	struct srv_core *core;
	struct srv_device dev; /* once authenticated */
};

/*
 * Per-device token buckets for the request rate. A fixed table indexed
 * by a hash of the device id: two devices that share a slot reset each
 * other's bucket, which errs towards allowing, never towards refusing a
 * device that keeps to its rate.
 */
#define RATE_SLOTS 1024

struct rate_slot {
	char device[SRV_ID_HEX + 1];
	double tokens;
	int64_t last_ms;
};

static struct {
	pthread_mutex_t lock;
	double rate, burst;
	struct rate_slot slot[RATE_SLOTS];
} limiter = {PTHREAD_MUTEX_INITIALIZER,
	     SRV_HTTP_RATE_DEFAULT,
	     2 * SRV_HTTP_RATE_DEFAULT,
	     {{"", 0, 0}}};

/* 1 when `device` may make one more request now. */
static int rate_allow(const char *device)
{
	unsigned long h = 5381;
	struct rate_slot *s;
	int64_t now = cb_clock_now_ms();
	const char *p;
	int ok;

	for (p = device; *p; p++)
		h = h * 33 + (unsigned char)*p;
	pthread_mutex_lock(&limiter.lock);
	s = &limiter.slot[h % RATE_SLOTS];
	if (strcmp(s->device, device)) {
		snprintf(s->device, sizeof(s->device), "%s", device);
		s->tokens = limiter.burst;
		s->last_ms = now;
	}
	if (now > s->last_ms) {
		s->tokens += (double)(now - s->last_ms) * limiter.rate / 1000.0;
		if (s->tokens > limiter.burst)
			s->tokens = limiter.burst;
		s->last_ms = now;
	}
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	pthread_mutex_unlock(&limiter.lock);
	return ok;
}

static int name_valid(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._-:@", c)))
			return 0;
	}
	return 1;
}

/* Parse the body as a JSON object; answers 400 and returns NULL if not. */
static cJSON *body_object(struct srv_req *r, size_t max)
{
	struct cb_err err;
	cJSON *json;

	cb_err_clear(&err);
	if (r->body_len == 0) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_json",
			      "request body: empty, expected a JSON object");
		return NULL;
	}
	json = cb_json_parse(r->body, r->body_len, max, "request body", &err);
	if (!json) {
		if (err.code == CB_ETOOBIG)
			srv_req_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
				      "too_large", "%s", err.msg);
		else
			srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_json",
				      "%s", err.msg);
		return NULL;
	}
	if (!cJSON_IsObject(json)) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "request body: expected a JSON object, got %s",
			      cb_json_type_name(json));
		cJSON_Delete(json);
		return NULL;
	}
	return json;
}

/* Refuse members other than the `allowed` ones. */
static int only_members(struct srv_req *r, const cJSON *o,
			const char *const *allowed)
{
	const cJSON *m;
	size_t i;

	cJSON_ArrayForEach(m, o)
	{
		for (i = 0; allowed[i]; i++)
			if (m->string && !strcmp(m->string, allowed[i]))
				break;
		if (!allowed[i]) {
			srv_req_error(r, MHD_HTTP_BAD_REQUEST,
				      "invalid_request", "$.%s: unknown member",
				      m->string ? m->string : "?");
			return -1;
		}
	}
	return 0;
}

/* A string member, or answer 400 naming it. */
static const char *need_string(struct srv_req *r, const cJSON *o,
			       const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v)) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "$.%s: expected a string, got %s", name,
			      cb_json_type_name(v));
		return NULL;
	}
	return v->valuestring;
}

/* ---- authentication ---------------------------------------------------- */

void srv_api_set_rate(unsigned per_second)
{
	pthread_mutex_lock(&limiter.lock);
	limiter.rate = per_second ? per_second : SRV_HTTP_RATE_DEFAULT;
	limiter.burst = 2 * limiter.rate;
	pthread_mutex_unlock(&limiter.lock);
}

static int authenticate(struct call *k)
{
	struct srv_req *r = k->r;
	struct srv_core *c = k->core;
	struct cb_reqsig rs;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = cb_reqsig_parse(&rs, srv_req_header(r, CB_REQSIG_HDR_DEVICE),
			     srv_req_header(r, CB_REQSIG_HDR_TIME),
			     srv_req_header(r, CB_REQSIG_HDR_NONCE),
			     srv_req_header(r, CB_REQSIG_HDR_SIGNATURE), &err);
	if (rc == CB_ENOMEM) {
		srv_req_fail_cause(r, rc, "internal",
				   "could not read the request's signature",
				   &err);
		return -1;
	}
	if (rc) {
		srv_req_error(
		    r, MHD_HTTP_UNAUTHORIZED,
		    rc == CB_EAUTH ? "unauthenticated" : "bad_signature_header",
		    "%s; this endpoint needs a signed request", err.msg);
		return -1;
	}
	if (cb_reqsig_check_time(&rs, cb_clock_now_ms(), CB_REQSIG_SKEW_MS,
				 &err)) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "clock_skew", "%s",
			      err.msg);
		/* For the operator: which laptop's clock is wrong (the
		 * device id is as claimed; nothing is verified yet). */
		snprintf(r->cause, sizeof(r->cause),
			 "device %.64s (unverified): %.900s", rs.device,
			 err.msg);
		return -1;
	}
	rc = srv_core_device(c, rs.device, &k->dev, &err);
	if (rc == CB_ENOTFOUND) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "unknown_device",
			      "device %s is not registered", rs.device);
		return -1;
	}
	if (rc) {
		srv_req_fail_cause(r, rc, "internal",
				   "could not read the device", &err);
		return -1;
	}
	if (k->dev.revoked_ms) {
		srv_req_error(r, MHD_HTTP_FORBIDDEN, "device_revoked",
			      "device %s has been revoked", rs.device);
		return -1;
	}
	rc = cb_reqsig_verify(&rs, k->dev.pk, r->method, r->raw_path,
			      r->raw_query, r->body, r->body_len, &err);
	if (rc == CB_ENOMEM) {
		/* Out of memory is no verdict on the signature: the
		 * device may send again (500), not be refused (401). */
		srv_req_fail_cause(r, rc, "internal",
				   "could not check the request's signature",
				   &err);
		return -1;
	}
	if (rc) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "bad_signature", "%s",
			      err.msg);
		return -1;
	}
	/* Only a verified request spends its nonce, so nobody can burn a
	 * device's nonces by sending junk in its name. */
	rc = srv_core_nonce(c, rs.device, rs.nonce, rs.time_ms, &err);
	if (rc == CB_ECONFLICT) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "replay",
			      "request nonce already used: a request is never "
			      "accepted twice");
		return -1;
	}
	if (rc) {
		srv_req_fail_cause(r, rc, "internal",
				   "could not record the request nonce", &err);
		return -1;
	}
	snprintf(r->who, sizeof(r->who), "%s", k->dev.id);
	if (!rate_allow(k->dev.id)) {
		srv_req_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
			      "more than %.0f requests per second from this "
			      "device; retry after a second",
			      limiter.rate);
		r->extra_name = "Retry-After";
		r->extra_value = "1";
		return -1;
	}
	return 0;
}

/* ---- endpoints ----------------------------------------------------------- */

/*
 * With ?challenge=HEX (CB_SERVER_PROOF_HEX lowercase hex): the server's
 * key and its signature over the proof text of reqsig.h, so a device
 * told to move to this address can tell it holds the key it pinned.
 */
static int health_proof(struct call *k, cJSON *o, const char *challenge)
{
	char msg[256], hex[CB_SIGNATURE_BYTES * 2 + 1];
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_err err;
	size_t i;

	for (i = 0; challenge[i]; i++)
		if (!strchr("0123456789abcdef", challenge[i]))
			break;
	if (i != CB_SERVER_PROOF_HEX || challenge[i]) {
		srv_req_error(k->r, MHD_HTTP_BAD_REQUEST, "bad_request",
			      "challenge must be %d lowercase hex digits",
			      CB_SERVER_PROOF_HEX);
		return -1;
	}
	if (!k->core->key.sk) {
		srv_req_error(k->r, MHD_HTTP_SERVICE_UNAVAILABLE, "no_key",
			      "this server has no key (DIR/server.key)");
		return -1;
	}
	cb_err_clear(&err);
	snprintf(msg, sizeof(msg), "%s\n%s\n%s", CB_SERVER_PROOF_VERSION,
		 challenge, k->core->study);
	if (cb_sign(k->core->key.sk, msg, strlen(msg), sig, &err) ||
	    cb_hex_encode(sig, sizeof(sig), hex, sizeof(hex), &err)) {
		srv_req_fail_cause(k->r, CB_EIO, "internal",
				   "could not sign the proof", &err);
		return -1;
	}
	cJSON_AddStringToObject(o, "server_key", k->core->server_key);
	cJSON_AddStringToObject(o, "proof", hex);
	return 0;
}

static void handle_health(struct call *k)
{
	const char *challenge = srv_req_arg(k->r, "challenge");
	cJSON *o = cJSON_CreateObject();

	if (o) {
		cJSON_AddStringToObject(o, "status", "ok");
		cJSON_AddStringToObject(o, "study", k->core->study);
		cJSON_AddStringToObject(o, "protocol_sha256",
					k->core->proto_sha256);
		cJSON_AddStringToObject(o, "version", CB_VERSION);
		if (challenge && health_proof(k, o, challenge)) {
			cJSON_Delete(o);
			return;
		}
	}
	srv_req_json(k->r, MHD_HTTP_OK, o);
}

static void handle_register(struct call *k)
{
	struct srv_req *r = k->r;
	static const char *const members[] = {"token", "public_key", "user",
					      NULL};
	const char *token, *pk, *user;
	char hash[CB_HASH_HEX_SIZE];
	struct srv_device dev;
	struct cb_err err;
	cJSON *body, *o;
	int rc;

	body = body_object(r, SRV_REGISTER_BODY_MAX);
	if (!body)
		return;
	if (only_members(r, body, members) ||
	    !(token = need_string(r, body, "token")) ||
	    !(pk = need_string(r, body, "public_key")) ||
	    !(user = need_string(r, body, "user")))
		goto out;
	memset(&dev, 0, sizeof(dev));
	cb_err_clear(&err);
	if (!token[0] || strlen(token) > TOKEN_TEXT_MAX) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "$.token: 1 to %d characters", TOKEN_TEXT_MAX);
		goto out;
	}
	if (cb_hex_decode(pk, strlen(pk), dev.pk, sizeof(dev.pk), NULL, &err)) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "$.public_key: expected %u bytes of lowercase "
			      "hex (an Ed25519 public key)",
			      CB_SIGN_PUBLIC_BYTES);
		goto out;
	}
	if (!name_valid(user, SRV_USER_MAX)) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "$.user: 1 to %d of A-Z a-z 0-9 . _ - : @",
			      SRV_USER_MAX);
		goto out;
	}
	snprintf(dev.user, sizeof(dev.user), "%s", user);
	if (cb_id_random(dev.id)) {
		srv_req_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			      "no randomness available");
		goto out;
	}
	cb_sha256_hex(token, strlen(token), hash);
	rc = srv_core_register(k->core, hash, &dev, &err);
	if (rc == CB_ENOTFOUND) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "token_invalid",
			      "unknown registration token");
		goto out;
	}
	if (rc == CB_EFORBIDDEN) {
		srv_req_error(r, MHD_HTTP_FORBIDDEN, "token_refused", "%s",
			      err.msg);
		goto out;
	}
	if (rc == CB_EEXIST) {
		srv_req_error(r, MHD_HTTP_CONFLICT, "key_registered", "%s",
			      err.msg);
		goto out;
	}
	if (rc == CB_ECONFLICT) {
		srv_req_error(r, MHD_HTTP_CONFLICT, "site_full", "%s", err.msg);
		goto out;
	}
	if (rc) {
		srv_req_fail_cause(r, rc, "internal",
				   "registration failed in the store", &err);
		goto out;
	}
	{
		const char *kv[] = {"device", dev.id,	"role", dev.role,
				    "site",   dev.site, NULL};

		srv_log("info", "device registered", kv);
	}
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "device", dev.id);
		if (dev.site[0])
			cJSON_AddStringToObject(o, "site", dev.site);
		else
			cJSON_AddNullToObject(o, "site");
		cJSON_AddStringToObject(o, "role", dev.role);
		cJSON_AddNumberToObject(o, "device_index",
					(double)dev.device_index);
		cJSON_AddStringToObject(o, "user", dev.user);
		cJSON_AddStringToObject(o, "study", k->core->study);
		cJSON_AddStringToObject(o, "protocol_sha256",
					k->core->proto_sha256);
		cJSON_AddStringToObject(o, "protocol", k->core->proto_text);
		if (k->core->server_key[0])
			cJSON_AddStringToObject(o, "server_key",
						k->core->server_key);
	}
	srv_req_json(r, MHD_HTTP_CREATED, o);
out:
	cJSON_Delete(body);
}

static void handle_protocol(struct call *k)
{
	srv_req_raw(k->r, MHD_HTTP_OK, "application/json", k->core->proto_text,
		    k->core->proto_len);
	k->r->extra_name = "X-Casebook-Protocol-Sha256";
	k->r->extra_value = k->core->proto_sha256;
}

/*
 * The log line of a push: its counts, and how many events were refused
 * for a clock over a day ahead ("ahead"), so an operator sees which
 * laptop's clock runs fast while the laptop keeps them queued.
 */
static void push_log(const char *device, const cJSON *reply)
{
	static const char *const names[] = {"accepted", "duplicate",
					    "rejected"};
	char n[4][24];
	const char *kv[] = {"device",	 device, "accepted", n[0],
			    "duplicate", n[1],	 "rejected", n[2],
			    "ahead",	 n[3],	 NULL};
	const cJSON *res, *c;
	int ahead = 0;
	size_t i;

	for (i = 0; i < 3; i++) {
		c = cJSON_GetObjectItemCaseSensitive(reply, names[i]);
		snprintf(n[i], sizeof(n[i]), "%d",
			 cJSON_IsNumber(c) ? c->valueint : 0);
	}
	res = cJSON_GetObjectItemCaseSensitive(reply, "results");
	cJSON_ArrayForEach(c, res)
	{
		const char *code = cb_json_str(c, "code");

		if (code && !strcmp(code, "clock"))
			ahead++;
	}
	snprintf(n[3], sizeof(n[3]), "%d", ahead);
	if (!ahead)
		kv[8] = NULL;
	srv_log(ahead ? "warn" : "info", "push", kv);
}

static void handle_push(struct call *k)
{
	static const char *const members[] = {"events", NULL};
	struct srv_req *r = k->r;
	const cJSON *events;
	struct cb_err err;
	cJSON *body, *reply = NULL;
	int rc;

	body = body_object(r, SRV_BODY_MAX);
	if (!body)
		return;
	if (only_members(r, body, members))
		goto out;
	events = cJSON_GetObjectItemCaseSensitive(body, "events");
	if (!cJSON_IsArray(events)) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "$.events: expected an array, got %s",
			      cb_json_type_name(events));
		goto out;
	}
	if (cJSON_GetArraySize(events) > SRV_PUSH_MAX_EVENTS) {
		srv_req_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_many_events",
			      "$.events: %d events, at most %d per push",
			      cJSON_GetArraySize(events), SRV_PUSH_MAX_EVENTS);
		goto out;
	}
	cb_err_clear(&err);
	rc = srv_core_push(k->core, &k->dev, events, &reply, &err);
	if (rc) {
		srv_req_fail_cause(
		    r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
		    "the batch could not be stored, or its answer not made; "
		    "send it again (events stored come back as duplicates)",
		    &err);
		goto out;
	}
	push_log(k->dev.id, reply);
	srv_req_json(r, MHD_HTTP_OK, reply);
	r->after = body; /* 500 events' trees: freed after answering */
	return;
out:
	cJSON_Delete(body);
}

static void handle_pull(struct call *k)
{
	struct srv_req *r = k->r;
	const char *since = srv_req_arg(r, "since");
	const char *limit = srv_req_arg(r, "limit");
	const char *skip = srv_req_arg(r, "skip");
	long long s = 0, l = SRV_PULL_DEFAULT;
	struct cb_seq_range ranges[CB_SEQS_MAX];
	size_t nskip = 0;
	struct cb_err err;
	struct srv_pull_page page;
	int rc;

	if (since && (s = srv_decimal(since, 0, INT64_MAX)) < 0) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "since: expected a cursor (a decimal number) "
			      "from an earlier pull, or 0");
		return;
	}
	if (limit && (l = srv_decimal(limit, 1, SRV_PULL_MAX)) < 0) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "limit: expected 1 to %d", SRV_PULL_MAX);
		return;
	}
	if (skip && srv_seq_ranges(skip, ranges, CB_SEQS_MAX, &nskip)) {
		srv_req_error(
		    r, MHD_HTTP_BAD_REQUEST, "invalid_request",
		    "skip: expected at most %d ranges LO-HI of "
		    "event numbers (1 <= LO <= HI), ascending, "
		    "not overlapping, separated by commas, as push answers "
		    "give them in \"seqs\"",
		    CB_SEQS_MAX);
		return;
	}
	cb_err_clear(&err);
	rc = srv_core_pull(k->core, &k->dev, s, (long)l, ranges, nskip, &page,
			   &err);
	if (rc) {
		srv_req_fail_cause(r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
				   "could not read events", &err);
		return;
	}
	srv_req_json_text(r, MHD_HTTP_OK, page.text, page.len);
}

static void handle_queries(struct call *k)
{
	struct srv_req *r = k->r;
	const char *status = srv_req_arg(r, "status");
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	if (status && strcmp(status, "open") && strcmp(status, "answered") &&
	    strcmp(status, "closed")) {
		srv_req_error(r, MHD_HTTP_BAD_REQUEST, "invalid_request",
			      "status: expected open, answered or closed");
		return;
	}
	cb_err_clear(&err);
	rc = srv_core_queries(k->core, &k->dev, status, &reply, &err);
	if (rc) {
		srv_req_fail_cause(r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
				   "could not read queries", &err);
		return;
	}
	srv_req_json(r, MHD_HTTP_OK, reply);
}

/* GET /v1/users: the people the device may hold (srv_core_users). */
static void handle_users(struct call *k)
{
	struct srv_req *r = k->r;
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	cb_err_clear(&err);
	rc = srv_core_users(k->core, &k->dev, &reply, &err);
	if (rc) {
		srv_req_fail(r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
			     "could not read users");
		return;
	}
	srv_req_json(r, MHD_HTTP_OK, reply);
}

/* GET /v1/slots: a site device's lease, topped up (slots.h). */
static void handle_slots(struct call *k)
{
	struct srv_req *r = k->r;
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	cb_err_clear(&err);
	if (!k->dev.site[0] || !cb_role_is_site(k->dev.role)) {
		srv_req_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
			      "only site devices (coordinator, investigator) "
			      "hold randomization slots");
		return;
	}
	pthread_mutex_lock(&k->core->write_lock);
	rc = srv_slots_lease(k->core->store, &k->dev, srv_slots_lease_size(),
			     srv_req_arg(r, "held"), &reply, &err);
	pthread_mutex_unlock(&k->core->write_lock);
	if (rc == CB_ECONFLICT) {
		srv_req_error(r, MHD_HTTP_CONFLICT, "leases_paused", "%s",
			      err.msg);
		return;
	}
	if (rc) {
		srv_req_fail_cause(r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
				   "could not lease slots", &err);
		return;
	}
	srv_req_json(r, MHD_HTTP_OK, reply);
}

/* GET /v1/arms: the sealed arms, for the DSMB only (slots.h). */
static void handle_arms(struct call *k)
{
	struct srv_req *r = k->r;
	struct srv_store *s = NULL;
	struct cb_err err;
	cJSON *reply = NULL;
	int rc;

	cb_err_clear(&err);
	if (strcmp(k->dev.role, SRV_SLOTS_ARMS_ROLE)) {
		srv_req_error(r, MHD_HTTP_FORBIDDEN, "forbidden",
			      "only the DSMB role receives the sealed arms");
		return;
	}
	rc = srv_core_reader(k->core, &s, &err);
	if (!rc) {
		rc = srv_slots_arms(s, &reply, &err);
		srv_core_reader_done(k->core, s);
	}
	if (rc) {
		srv_req_fail_cause(r, rc == CB_EBUSY ? rc : CB_EIO, "internal",
				   "could not read the arms", &err);
		return;
	}
	srv_req_json(r, MHD_HTTP_OK, reply);
}

struct route {
	const char *path;
	const char *method;
	int signed_req;
	void (*fn)(struct call *k);
};

static const struct route routes[] = {
    {"/v1/health", "GET", 0, handle_health},
    {"/v1/register", "POST", 0, handle_register},
    {"/v1/protocol", "GET", 1, handle_protocol},
    {"/v1/sync/push", "POST", 1, handle_push},
    {"/v1/sync/pull", "GET", 1, handle_pull},
    {"/v1/queries", "GET", 1, handle_queries},
    {"/v1/users", "GET", 1, handle_users},
    {"/v1/slots", "GET", 1, handle_slots},
    {"/v1/arms", "GET", 1, handle_arms},
    {NULL, NULL, 0, NULL},
};

size_t srv_api_body_cap(const char *path, void *ctx)
{
	(void)ctx;
	return strcmp(path, "/v1/register") ? SRV_BODY_MAX
					    : SRV_REGISTER_BODY_MAX;
}

void srv_api_handle(struct srv_req *r, void *core)
{
	const struct route *rt;
	struct call k;

	memset(&k, 0, sizeof(k));
	k.r = r;
	k.core = core;
	for (rt = routes; rt->path; rt++)
		if (!strcmp(r->path, rt->path))
			break;
	if (!rt->path) {
		srv_req_error(r, MHD_HTTP_NOT_FOUND, "not_found",
			      "no endpoint %s (see docs/api.md)", r->path);
		return;
	}
	if (strcmp(r->method, rt->method)) {
		srv_req_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
			      "method_not_allowed", "%s takes %s, not %s",
			      rt->path, rt->method, r->method);
		r->extra_name = "Allow";
		r->extra_value = rt->method;
		return;
	}
	if (rt->signed_req && authenticate(&k))
		return;
	rt->fn(&k);
}
