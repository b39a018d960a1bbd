/*
 * gen_net.c - the study generator's side of the HTTP API (docs/api.md):
 * health, registration, signed requests, slot leases and the thread that
 * pushes batches in order (see gen_study.h).
 */
#include "gen_study.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

/* Attempts of one request, and the pauses between them. */
#define TRIES 10
#define PAUSE_FIRST_MS 250
#define PAUSE_MAX_MS 4000
/* Rejections printed as they come; the rest are only counted. */
#define SHOW_REJECTED 10

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts))
		;
}

int gen_net_global(struct cb_err *err)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return cb_err_set(err, CB_EIO, "libcurl cannot start");
	return 0;
}

int gen_http_open(struct gen_http *h, const char *base, struct cb_err *err)
{
	size_t len = strlen(base);

	memset(h, 0, sizeof(*h));
	if (len >= sizeof(h->base))
		return cb_err_set(err, CB_EINVAL, "server URL too long");
	/* The paths start with "/". */
	while (len && base[len - 1] == '/')
		len--;
	memcpy(h->base, base, len);
	h->base[len] = '\0';
	h->curl = curl_easy_init();
	if (!h->curl)
		return cb_err_set(err, CB_ENOMEM, "libcurl: no handle");
	return 0;
}

void gen_http_close(struct gen_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

void gen_reply_free(struct gen_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct cb_buf *b = ctx;
	struct cb_err err;

	if (cb_buf_add(b, ptr, size * nmemb, &err))
		return 0; /* over the cap: curl stops with a write error */
	return size * nmemb;
}

static int add_header(struct curl_slist **list, const char *name,
		      const char *value)
{
	char line[512];
	struct curl_slist *n;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	n = curl_slist_append(*list, line);
	if (!n)
		return CB_ENOMEM;
	*list = n;
	return 0;
}

/* One attempt. 0 with *r, or CB_EIO with curl's message. */
static int attempt(struct gen_http *h, const struct gen_device *dev,
		   const char *method, const char *path, const char *body,
		   size_t len, struct gen_reply *r, struct cb_err *err)
{
	struct curl_slist *headers = NULL;
	char url[sizeof(h->base) + CB_REQSIG_PATH_MAX];
	char errbuf[CURL_ERROR_SIZE] = "";
	struct cb_buf sink;
	CURL *c = h->curl;
	CURLcode cc;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	cb_buf_init(&sink, GEN_REPLY_MAX);
	snprintf(url, sizeof(url), "%s%s", h->base, path);
	if (dev) {
		struct cb_reqsig rs;
		char when[32];

		rc = cb_reqsig_sign(&rs, dev->kp.sk, dev->id, method, path, "",
				    body, len, err);
		if (rc)
			return rc;
		snprintf(when, sizeof(when), "%" PRId64, rs.time_ms);
		if (add_header(&headers, CB_REQSIG_HDR_DEVICE, rs.device) ||
		    add_header(&headers, CB_REQSIG_HDR_TIME, when) ||
		    add_header(&headers, CB_REQSIG_HDR_NONCE, rs.nonce) ||
		    add_header(&headers, CB_REQSIG_HDR_SIGNATURE, rs.sig))
			rc = CB_ENOMEM;
	}
	if (!rc && body &&
	    add_header(&headers, "Content-Type", "application/json"))
		rc = CB_ENOMEM;
	/* No "Expect: 100-continue" round trip for large pushes. */
	if (!rc && add_header(&headers, "Expect", ""))
		rc = CB_ENOMEM;
	if (rc) {
		curl_slist_free_all(headers);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "casebook-gen-study");
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? len : 0));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (cc != CURLE_OK) {
		cb_buf_free(&sink);
		return cb_err_set(err, CB_EIO, "%s %s%s: %s", method, h->base,
				  path,
				  errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = cb_buf_take(&sink, &r->len);
	if (!r->body)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	return 0;
}

int gen_http_request(struct gen_http *h, const struct gen_device *dev,
		     const char *method, const char *path, const char *body,
		     size_t len, struct gen_reply *r, struct cb_err *err)
{
	long pause = PAUSE_FIRST_MS;
	int i, rc = 0;

	for (i = 0; i < TRIES; i++) {
		if (i) {
			sleep_ms(pause);
			pause =
			    pause * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : pause * 2;
		}
		rc = attempt(h, dev, method, path, body, len, r, err);
		if (rc == CB_ENOMEM || (rc && rc != CB_EIO))
			return rc;
		if (rc)
			continue;
		/* Busy, or a store failure that kept nothing: again. */
		if (r->status == 429 || r->status >= 500) {
			if (i + 1 < TRIES)
				gen_reply_free(r);
			continue;
		}
		return 0;
	}
	return rc;
}

int gen_health_wait(struct gen_http *h, double seconds, struct cb_err *err)
{
	struct timespec t0, t;
	struct gen_reply r;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		rc = attempt(h, NULL, "GET", "/v1/health", NULL, 0, &r, err);
		if (!rc && r.status == 200) {
			gen_reply_free(&r);
			return 0;
		}
		if (!rc)
			gen_reply_free(&r);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			(double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
		    seconds)
			break;
		sleep_ms(50);
	}
	return cb_err_set(err, CB_EIO, "no answer from %s/v1/health in %.0f s",
			  h->base, seconds);
}

/* The server's error message of a reply, for people. */
static const char *reply_message(const struct gen_reply *r, char *out,
				 size_t cap)
{
	struct cb_err err;
	cJSON *j = cb_json_parse(r->body, r->len, GEN_REPLY_MAX, "reply", &err);
	const char *m =
	    j ? cb_json_str(cb_json_obj(j, "error"), "message") : NULL;

	snprintf(out, cap, "HTTP %ld: %s", r->status,
		 m ? m : (r->len ? r->body : "(no body)"));
	cJSON_Delete(j);
	return out;
}

int gen_register(struct gen_http *h, struct gen_device *dev, const char *token,
		 char **protocol, size_t *protocol_len, struct cb_err *err)
{
	char pk[CB_SIGN_PUBLIC_BYTES * 2 + 1], msg[600];
	struct gen_reply r;
	cJSON *req, *ans = NULL;
	char *body;
	const char *s;
	long long idx;
	int rc;

	cb_hex_encode(dev->kp.pk, CB_SIGN_PUBLIC_BYTES, pk, sizeof(pk), err);
	req = cJSON_CreateObject();
	if (!req || !cJSON_AddStringToObject(req, "token", token) ||
	    !cJSON_AddStringToObject(req, "public_key", pk) ||
	    !cJSON_AddStringToObject(req, "user", dev->user)) {
		cJSON_Delete(req);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!body)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = gen_http_request(h, NULL, "POST", "/v1/register", body,
			      strlen(body), &r, err);
	free(body);
	if (rc)
		return rc;
	if (r.status != 201) {
		rc = cb_err_set(err, CB_EAUTH, "registering %s: %s", dev->user,
				reply_message(&r, msg, sizeof(msg)));
		goto out;
	}
	ans = cb_json_parse(r.body, r.len, GEN_REPLY_MAX, "registration", err);
	if (!ans) {
		rc = err->code ? err->code : CB_EINVAL;
		goto out;
	}
	s = cb_json_str(ans, "device");
	if (!s || strlen(s) >= sizeof(dev->id) || !cb_json_str(ans, "role") ||
	    cb_json_int(ans, "device_index", 1, CB_DEVICE_INDEX_MAX, &idx,
			"$.device_index", err)) {
		rc = cb_err_set(err, CB_EINVAL,
				"registering %s: the answer is not the "
				"documented one",
				dev->user);
		goto out;
	}
	snprintf(dev->id, sizeof(dev->id), "%s", s);
	snprintf(dev->role, sizeof(dev->role), "%s", cb_json_str(ans, "role"));
	s = cb_json_str(ans, "site");
	snprintf(dev->site, sizeof(dev->site), "%s", s ? s : "");
	dev->index = (long)idx;
	if (protocol) {
		s = cb_json_str(ans, "protocol");
		*protocol = s ? strdup(s) : NULL;
		if (!*protocol) {
			rc = cb_err_set(err, CB_EINVAL,
					"registering %s: no protocol in the "
					"answer",
					dev->user);
			goto out;
		}
		*protocol_len = strlen(s);
	}
out:
	cJSON_Delete(ans);
	gen_reply_free(&r);
	return rc;
}

int gen_fetch_slots(struct gen_http *h, struct gen_device *dev,
		    struct cb_err *err)
{
	const cJSON *lease, *o;
	struct gen_slot *slots = NULL;
	struct gen_reply r;
	char msg[600];
	cJSON *ans = NULL;
	size_t n = 0, i;
	long long size;
	int rc;

	rc = gen_http_request(h, dev, "GET", "/v1/slots", NULL, 0, &r, err);
	if (rc)
		return rc;
	if (r.status == 403 || r.status == 404) {
		rc = cb_err_set(err, CB_ENOTFOUND, "slots for %s: %s",
				dev->user, reply_message(&r, msg, sizeof(msg)));
		goto out;
	}
	if (r.status != 200) {
		rc = cb_err_set(err, CB_EIO, "slots for %s: %s", dev->user,
				reply_message(&r, msg, sizeof(msg)));
		goto out;
	}
	ans = cb_json_parse(r.body, r.len, GEN_REPLY_MAX, "slots", err);
	if (!ans) {
		rc = err->code ? err->code : CB_EINVAL;
		goto out;
	}
	lease = cb_json_arr(ans, "lease");
	if (!lease) {
		rc =
		    cb_err_set(err, CB_EINVAL, "slots: no lease in the answer");
		goto out;
	}
	slots = calloc((size_t)cJSON_GetArraySize(lease) + 1, sizeof(*slots));
	if (!slots) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(o, lease)
	{
		const char *randno = cb_json_str(o, "randno");
		const char *kit = cb_json_str(o, "kit");
		const char *stratum = cb_json_str(o, "stratum");
		const char *seq = cb_json_str(o, "seq");
		struct gen_slot *sl = &slots[n];

		if (!randno || !kit || !stratum || !seq ||
		    strlen(randno) >= sizeof(sl->randno) ||
		    strlen(kit) >= sizeof(sl->kit) ||
		    strlen(stratum) >= sizeof(sl->stratum)) {
			rc = cb_err_set(err, CB_EINVAL,
					"slots: a lease entry is not the "
					"documented one");
			goto out;
		}
		snprintf(sl->randno, sizeof(sl->randno), "%s", randno);
		snprintf(sl->kit, sizeof(sl->kit), "%s", kit);
		snprintf(sl->stratum, sizeof(sl->stratum), "%s", stratum);
		sl->seq = strtol(seq, NULL, 10);
		for (i = 0; i < dev->nlease; i++)
			if (dev->lease[i].used &&
			    !strcmp(dev->lease[i].randno, sl->randno))
				sl->used = 1;
		n++;
	}
	if (!cb_json_int(ans, "per_stratum", 1, 100000, &size, "$.per_stratum",
			 err))
		dev->lease_size = (long)size;
	cb_err_clear(err);
	free(dev->lease);
	dev->lease = slots;
	dev->nlease = n;
	slots = NULL;
out:
	free(slots);
	cJSON_Delete(ans);
	gen_reply_free(&r);
	return rc;
}

/* ---- the push thread ------------------------------------------------- */

static void batch_free(struct gen_batch *b)
{
	if (b) {
		free(b->body);
		free(b);
	}
}

/* Count one push's answer; print the first rejections. */
static int count_results(struct gen_pusher *p, const struct gen_batch *b,
			 const struct gen_reply *r, struct cb_err *err)
{
	const cJSON *results, *o;
	cJSON *ans;
	size_t seen = 0;

	ans = cb_json_parse(r->body, r->len, GEN_REPLY_MAX, "push answer", err);
	if (!ans)
		return err->code ? err->code : CB_EINVAL;
	results = cb_json_arr(ans, "results");
	if (!results || (size_t)cJSON_GetArraySize(results) != b->n) {
		cJSON_Delete(ans);
		return cb_err_set(err, CB_EINVAL,
				  "push answer: %zu events sent, the results "
				  "do not match",
				  b->n);
	}
	pthread_mutex_lock(&p->mu);
	cJSON_ArrayForEach(o, results)
	{
		const char *status = cb_json_str(o, "status");
		unsigned k = b->kinds[seen++];

		if (status && !strcmp(status, "accepted")) {
			p->counts.accepted[k]++;
		} else if (status && !strcmp(status, "duplicate")) {
			p->counts.duplicate[k]++;
		} else {
			p->counts.rejected[k]++;
			if (p->shown++ < SHOW_REJECTED || p->verbose) {
				const char *code = cb_json_str(o, "code");
				const char *why = cb_json_str(o, "reason");
				const cJSON *ck = cb_json_arr(o, "checks");
				const char *msg =
				    ck ? cb_json_str(cJSON_GetArrayItem(ck, 0),
						     "message")
				       : NULL;

				fprintf(stderr,
					"\ngen-study: the server rejected a "
					"%s event of %s (%s): %s%s%s\n",
					gen_kind_name(k), b->dev->user,
					code ? code : "?", why ? why : "",
					msg ? ": " : "", msg ? msg : "");
			}
		}
	}
	p->pushed += b->n;
	p->requests++;
	pthread_mutex_unlock(&p->mu);
	cJSON_Delete(ans);
	return 0;
}

static int push_one(struct gen_pusher *p, struct gen_batch *b,
		    struct cb_err *err)
{
	struct gen_reply r;
	char msg[600];
	int rc;

	rc = gen_http_request(&p->http, b->dev, "POST", "/v1/sync/push",
			      b->body, b->len, &r, err);
	if (rc)
		return rc;
	if (r.status != 200)
		rc = cb_err_set(err, CB_EIO, "push of %zu events by %s: %s",
				b->n, b->dev->user,
				reply_message(&r, msg, sizeof(msg)));
	else
		rc = count_results(p, b, &r, err);
	gen_reply_free(&r);
	return rc;
}

static void *pusher_main(void *arg)
{
	struct gen_pusher *p = arg;
	struct gen_batch *b;
	struct cb_err err;
	int failed;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		b = p->head;
		if (!b) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->head = b->next;
		if (!p->head)
			p->tail = NULL;
		p->busy = 1;
		failed = p->failed;
		pthread_mutex_unlock(&p->mu);

		/* After a failure, later batches are dropped, not sent: they
		 * may depend on what failed. */
		cb_err_clear(&err);
		if (p->dry) {
			pthread_mutex_lock(&p->mu);
			for (size_t i = 0; i < b->n; i++)
				p->counts.accepted[b->kinds[i]]++;
			p->pushed += b->n;
			p->requests++;
			pthread_mutex_unlock(&p->mu);
		} else if (!failed && push_one(p, b, &err)) {
			pthread_mutex_lock(&p->mu);
			p->failed = 1;
			p->err = err;
			pthread_mutex_unlock(&p->mu);
		}
		batch_free(b);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		p->queued--;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

int gen_pusher_start(struct gen_pusher *p, const char *base, int verbose,
		     struct cb_err *err)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->verbose = verbose;
	p->dry = !base;
	rc = p->dry ? 0 : gen_http_open(&p->http, base, err);
	if (rc)
		return rc;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, pusher_main, p)) {
		gen_http_close(&p->http);
		return cb_err_set(err, CB_ENOMEM, "cannot start a thread");
	}
	p->started = 1;
	return 0;
}

int gen_pusher_submit(struct gen_pusher *p, struct gen_batch *b,
		      struct cb_err *err)
{
	pthread_mutex_lock(&p->mu);
	while (p->queued >= GEN_QUEUE_MAX && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->failed) {
		*err = p->err;
		pthread_mutex_unlock(&p->mu);
		batch_free(b);
		return err->code ? err->code : CB_EIO;
	}
	b->next = NULL;
	if (p->tail)
		p->tail->next = b;
	else
		p->head = b;
	p->tail = b;
	p->queued++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int gen_pusher_drain(struct gen_pusher *p, struct cb_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (p->queued)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->failed) {
		*err = p->err;
		rc = err->code ? err->code : CB_EIO;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int gen_pusher_stop(struct gen_pusher *p, struct cb_err *err)
{
	int rc;

	if (!p->started)
		return 0;
	rc = gen_pusher_drain(p, err);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	gen_http_close(&p->http);
	p->started = 0;
	return rc;
}

void gen_pusher_progress(struct gen_pusher *p, uint64_t *events,
			 struct gen_counts *counts)
{
	pthread_mutex_lock(&p->mu);
	if (events)
		*events = p->pushed;
	if (counts)
		*counts = p->counts;
	pthread_mutex_unlock(&p->mu);
}
