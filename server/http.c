/*
 * http.c - the libmicrohttpd daemon of `casebookd serve`: request
 * plumbing, body limits, authentication of signed requests, logging and
 * clean shutdown (http.h).
 *
 * A request's state lives in a struct conn_req made by the URI callback
 * (which is also where the path and query are captured exactly as sent,
 * for the signature) and freed by the completion callback. The body is
 * collected up to its cap; an announced Content-Length over the cap is
 * answered 413 before any of it is read, and a chunked body that grows
 * past the cap is discarded and answered 413 once it ends.
 */
#include "http.h"

#include "clock.h"
#include "json.h"
#include "reqsig.h"
#include "srv.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct conn_req {
	char *uri; /* as sent */
	int started;
	int too_big;
	char *body;
	size_t len, cap, max;
	int64_t start_ms;
	cJSON *after; /* srv_req.after, freed when the request ends */
};

struct daemon_ctx {
	struct srv_core *core;
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
} limiter = {PTHREAD_MUTEX_INITIALIZER, 0, 0, {{"", 0, 0}}};

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

/* ---- answers ----------------------------------------------------------- */

static void set_resp(struct srv_req *r, unsigned status, char *text)
{
	free(r->resp);
	r->status = status;
	r->resp = text;
	r->resp_len = text ? strlen(text) : 0;
	r->ctype = "application/json";
}

void srv_req_json(struct srv_req *r, unsigned status, cJSON *json)
{
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;

	cJSON_Delete(json);
	if (!text) {
		/* Out of memory: a fixed answer that needs no allocation
		 * beyond a copy. */
		text = strdup("{\"error\":{\"code\":\"internal\",\"message\":"
			      "\"out of memory\"}}");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->error_code = "internal";
	}
	set_resp(r, status, text);
}

void srv_req_error(struct srv_req *r, unsigned status, const char *code,
		   const char *fmt, ...)
{
	char msg[CB_ERR_MSG_MAX];
	cJSON *o = cJSON_CreateObject(), *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = o ? cJSON_AddObjectToObject(o, "error") : NULL;
	if (e) {
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", msg);
	}
	r->error_code = code;
	srv_req_json(r, status, o);
	r->error_code = code;
}

const char *srv_req_arg(struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

/* ---- authentication ---------------------------------------------------- */

int srv_req_authenticate(struct srv_req *r)
{
	struct srv_core *c = r->core;
	struct cb_reqsig rs;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	rc = cb_reqsig_parse(
	    &rs,
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					CB_REQSIG_HDR_DEVICE),
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					CB_REQSIG_HDR_TIME),
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					CB_REQSIG_HDR_NONCE),
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
					CB_REQSIG_HDR_SIGNATURE),
	    &err);
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
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	rc = srv_store_device_get(c->store, rs.device, &r->dev, &err);
	pthread_mutex_unlock(&c->lock);
	if (rc == CB_ENOTFOUND) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "unknown_device",
			      "device %s is not registered", rs.device);
		return -1;
	}
	if (rc) {
		srv_req_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			      "could not read the device");
		return -1;
	}
	if (r->dev.revoked_ms) {
		srv_req_error(r, MHD_HTTP_FORBIDDEN, "device_revoked",
			      "device %s has been revoked", rs.device);
		return -1;
	}
	if (cb_reqsig_verify(&rs, r->dev.pk, r->method, r->raw_path,
			     r->raw_query, r->body, r->body_len, &err)) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "bad_signature", "%s",
			      err.msg);
		return -1;
	}
	/* Only a verified request spends its nonce, so nobody can burn a
	 * device's nonces by sending junk in its name. */
	pthread_mutex_lock(&c->lock);
	rc = srv_store_nonce_use(c->store, rs.device, rs.nonce, rs.time_ms,
				 cb_clock_now_ms(), &err);
	pthread_mutex_unlock(&c->lock);
	if (rc == CB_ECONFLICT) {
		srv_req_error(r, MHD_HTTP_UNAUTHORIZED, "replay",
			      "request nonce already used: a request is never "
			      "accepted twice");
		return -1;
	}
	if (rc) {
		srv_req_error(r, rc == CB_EBUSY ? 503 : 500, "internal",
			      "could not record the request nonce");
		return -1;
	}
	r->authed = 1;
	if (!rate_allow(r->dev.id)) {
		srv_req_error(r, 429, "rate_limited",
			      "more than %.0f requests per second from this "
			      "device; retry after a second",
			      limiter.rate);
		r->extra_name = "Retry-After";
		r->extra_value = "1";
		return -1;
	}
	return 0;
}

/* ---- plumbing ---------------------------------------------------------- */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct conn_req *cr = calloc(1, sizeof(*cr));

	(void)cls;
	(void)con;
	if (!cr)
		return NULL;
	cr->uri = strdup(uri ? uri : "");
	cr->start_ms = cb_clock_now_ms();
	return cr;
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_req *cr = *con_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (!cr)
		return;
	free(cr->uri);
	free(cr->body);
	cJSON_Delete(cr->after);
	free(cr);
	*con_cls = NULL;
}

static void log_cb(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	const char *kv[] = {"detail", msg, NULL};
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	srv_log("warn", "http", kv);
}

static void client_ip(struct MHD_Connection *con, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "?");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(
		    AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(
		    AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    out, (socklen_t)cap);
}

static enum MHD_Result send_answer(struct MHD_Connection *con,
				   struct srv_req *r, struct conn_req *cr)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char status[8], ms[24];
	const char *kv[] = {
	    "method", r->method,     "path",   r->path,
	    "status", status,	     "ms",     ms,
	    "ip",     r->ip,	     "device", r->authed ? r->dev.id : NULL,
	    "error",  r->error_code, NULL};

	cJSON_Delete(cr->after);
	cr->after = r->after;
	r->after = NULL;
	if (!r->resp)
		srv_req_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			      "no answer was made");
	resp = MHD_create_response_from_buffer(r->resp_len, r->resp,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->resp);
		r->resp = NULL;
		return MHD_NO;
	}
	r->resp = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->extra_name)
		MHD_add_response_header(resp, r->extra_name, r->extra_value);
	ret = MHD_queue_response(con, r->status, resp);
	MHD_destroy_response(resp);
	snprintf(status, sizeof(status), "%u", r->status);
	snprintf(ms, sizeof(ms), "%" PRId64, cb_clock_now_ms() - cr->start_ms);
	srv_log(r->status >= 500 ? "error" : "info", "request", kv);
	return ret;
}

static void req_init(struct srv_req *r, struct daemon_ctx *d,
		     struct MHD_Connection *con, const char *url,
		     const char *method)
{
	memset(r, 0, sizeof(*r));
	r->core = d->core;
	r->conn = con;
	r->method = method;
	r->path = url;
	client_ip(con, r->ip, sizeof(r->ip));
}

/* Body cap for a path: registration is small. */
static size_t body_cap(const char *url)
{
	return strcmp(url, "/v1/register") ? SRV_BODY_MAX
					   : SRV_REGISTER_BODY_MAX;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con,
				 const char *url, const char *method,
				 const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct daemon_ctx *d = cls;
	struct conn_req *cr = *con_cls;
	struct srv_req r;
	enum MHD_Result ret;
	char *q;

	(void)version;
	if (!cr)
		return MHD_NO; /* out of memory in uri_cb */
	if (!cr->started) {
		const char *cl = MHD_lookup_connection_value(
		    con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		cr->started = 1;
		cr->max = body_cap(url);
		if (cl && strlen(cl) < 20 &&
		    strtoull(cl, NULL, 10) > (unsigned long long)cr->max) {
			req_init(&r, d, con, url, method);
			srv_req_error(&r, 413, "too_large",
				      "request body over %zu bytes", cr->max);
			return send_answer(con, &r, cr);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (cr->too_big || cr->len + n > cr->max) {
			cr->too_big = 1;
			return MHD_YES;
		}
		if (cr->len + n + 1 > cr->cap) {
			size_t cap = cr->cap ? cr->cap : 16384;
			char *p;

			while (cap < cr->len + n + 1)
				cap *= 2;
			p = realloc(cr->body, cap);
			if (!p)
				return MHD_NO;
			cr->body = p;
			cr->cap = cap;
		}
		memcpy(cr->body + cr->len, upload, n);
		cr->len += n;
		cr->body[cr->len] = '\0';
		return MHD_YES;
	}

	req_init(&r, d, con, url, method);
	if (cr->too_big) {
		srv_req_error(&r, 413, "too_large",
			      "request body over %zu bytes", cr->max);
		return send_answer(con, &r, cr);
	}
	/* The path and query exactly as sent, for the signature. */
	q = strchr(cr->uri, '?');
	if (q) {
		*q = '\0';
		r.raw_query = q + 1;
	} else {
		r.raw_query = "";
	}
	r.raw_path = cr->uri;
	r.body = cr->body ? cr->body : "";
	r.body_len = cr->len;
	srv_api_handle(&r);
	ret = send_answer(con, &r, cr);
	if (q)
		*q = '?';
	return ret;
}

/* ---- the daemon -------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			int *v6, struct cb_err *err)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	size_t hl;
	int rc;

	colon = listen ? strrchr(listen, ':') : NULL;
	if (!colon || colon == listen || !colon[1])
		return cb_err_set(err, CB_EINVAL,
				  "--listen: expected ADDR:PORT, got '%s'",
				  listen ? listen : "");
	port = colon + 1;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return cb_err_set(err, CB_EINVAL, "--listen: address too long");
	memcpy(host, listen, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc || !res)
		return cb_err_set(err, CB_EINVAL, "--listen: %s: %s", host,
				  gai_strerror(rc));
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
}

int srv_http_run(struct srv_core *core, const struct srv_http_opts *o,
		 struct cb_err *err)
{
	struct daemon_ctx d = {core};
	struct sockaddr_storage ss;
	struct MHD_Daemon *daemon;
	char *cert = NULL, *key = NULL, portbuf[16];
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	sigset_t set;
	size_t len;
	int v6 = 0, sig = 0, rc;

	rc = parse_listen(o->listen, &ss, &v6, err);
	if (rc)
		return rc;
	limiter.rate = o->rate ? o->rate : SRV_HTTP_RATE_DEFAULT;
	limiter.burst = 2 * limiter.rate;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (o->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return cb_err_set(err, CB_EINVAL,
					  "this libmicrohttpd has no TLS");
		rc = cb_file_read(o->tls_cert, 1u << 20, &cert, &len, err);
		if (!rc)
			rc =
			    cb_file_read(o->tls_key, 1u << 20, &key, &len, err);
		if (rc) {
			free(cert);
			return rc;
		}
		flags |= MHD_USE_TLS;
	}

	/*
	 * A push allocates and frees tens of megabytes per batch in the
	 * worker threads. With glibc's defaults each batch's big buffers
	 * are fresh mappings and every free trims the heap, so the next
	 * batch pays for page faults and TLB flushes again; keep up to 64
	 * MiB instead (a pure performance setting, glibc only).
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 16 << 20);

	/* Block the stop signals in every thread; this one waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (cert)
		daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, access_cb, &d,
		    MHD_OPTION_EXTERNAL_LOGGER, log_cb, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, o->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_HTTP_CONN_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned)SRV_HTTP_PER_IP_LIMIT,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_HTTP_TIMEOUT_S,
		    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, NULL,
		    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
		    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
		    key, MHD_OPTION_END);
	else
		daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, access_cb, &d,
		    MHD_OPTION_EXTERNAL_LOGGER, log_cb, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, o->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_HTTP_CONN_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned)SRV_HTTP_PER_IP_LIMIT,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_HTTP_TIMEOUT_S,
		    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, NULL,
		    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
		    MHD_OPTION_END);
	if (!daemon) {
		free(cert);
		free(key);
		return cb_err_set(err, CB_EIO,
				  "cannot listen on %s (address in use, or "
				  "bad TLS files?)",
				  o->listen);
	}
	info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(portbuf, sizeof(portbuf), "%u",
		 info ? (unsigned)info->port : 0u);
	{
		char threads[16];
		const char *kv[] = {
		    "listen",  o->listen,   "port", portbuf,
		    "study",   core->study, "tls",  cert ? "yes" : "no",
		    "threads", threads,	    NULL};

		snprintf(threads, sizeof(threads), "%u", o->threads);
		srv_log("info", "listening", kv);
	}
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
		;
	{
		const char *kv[] = {"signal",
				    sig == SIGINT ? "SIGINT" : "SIGTERM", NULL};

		srv_log("info", "stopping", kv);
	}
	/* Joins the worker threads: a request in progress completes (a push
	 * commits before its answer is queued). */
	MHD_stop_daemon(daemon);
	srv_log("info", "stopped", NULL);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	return 0;
}
