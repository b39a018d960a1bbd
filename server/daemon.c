/*
 * daemon.c - the libmicrohttpd daemon of `casebookd serve` (daemon.h):
 * request plumbing, body limits, logging and clean shutdown. It knows
 * no endpoint: each complete request goes to the handler it was given.
 *
 * A request's state lives in a struct conn_req made by the URI callback
 * (which is also where the path and query are captured exactly as sent,
 * for the signature) and freed by the completion callback. The body is
 * collected up to its cap; an announced Content-Length over the cap is
 * answered 413 before any of it is read, and a chunked body that grows
 * past the cap is discarded and answered 413 once it ends (and cut off
 * when it goes on past twice the cap).
 *
 * The guard keeps every open connection's progress (struct watch, its
 * libmicrohttpd socket context) and a thread that closes, by shutting
 * its socket down, any connection whose request or answer is slower
 * than daemon.h allows; libmicrohttpd then ends it as it would a client
 * that went away. The guard's lock is held while a socket is shut down
 * and while libmicrohttpd reports a connection closed, which it does
 * before it closes the socket: a descriptor the guard shuts down is
 * never one already handed to a newer connection.
 */
#include "daemon.h"

#include "buf.h"
#include "clock.h"
#include "json.h"
#include "srv.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct conn_req {
	char *uri; /* as sent */
	int started;
	int too_big;
	char *body;
	size_t len, cap, max;
	size_t over; /* bytes discarded past the cap */
	int64_t start_ms;
	struct guard *guard;
	cJSON *after; /* srv_req.after, freed when the request ends */
};

/* Where a connection is in its request, for its deadline. */
enum watch_phase {
	W_WAIT, /* for a request's headers (new, or kept alive) */
	W_BODY, /* receiving the body */
	W_BUSY, /* the handler runs: no deadline, that is our own work */
	W_SEND	/* the answer is going out */
};

struct watch {
	struct watch *prev, *next;
	int fd;
	enum watch_phase phase;
	int64_t since_ms; /* when the phase's clock started */
	uint64_t bytes;	  /* body bytes received, or answer bytes to send */
	int cut;	  /* shut down already */
};

struct guard {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct watch *head;
	unsigned open;	   /* connections being watched */
	unsigned long cut; /* closed since the last log line */
	int64_t logged_ms; /* when the last log line was written */
	int stop;
	pthread_t thread;
};

struct daemon {
	void (*handle)(struct srv_req *r, void *ctx);
	size_t (*body_cap)(const char *path, void *ctx);
	void *ctx;
	struct guard *guard;
};

/* ---- the guard against slow clients ------------------------------------ */

/* When w's phase must be over, or INT64_MAX for none. */
static int64_t watch_deadline(const struct watch *w)
{
	if (w->phase == W_BUSY)
		return INT64_MAX;
	return w->since_ms + SRV_HTTP_REQUEST_S * 1000 +
	       (int64_t)(w->bytes * 1000 / SRV_HTTP_MIN_RATE);
}

/* Shut w's socket down; libmicrohttpd closes the connection. Under mu. */
static void watch_cut(struct guard *g, struct watch *w)
{
	if (w->cut)
		return;
	w->cut = 1;
	g->cut++;
	shutdown(w->fd, SHUT_RDWR);
}

static struct watch *watch_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Move con's watch to `phase`; restart its clock when `restart`; add
 * `bytes` (or set them, for an answer). */
static void watch_set(struct guard *g, struct MHD_Connection *con,
		      enum watch_phase phase, int restart, uint64_t bytes)
{
	struct watch *w = watch_of(con);

	if (!w)
		return;
	pthread_mutex_lock(&g->mu);
	if (restart) {
		w->since_ms = cb_clock_now_ms();
		w->bytes = bytes;
	} else {
		w->bytes += bytes;
	}
	w->phase = phase;
	pthread_mutex_unlock(&g->mu);
}

static void notify_cb(void *cls, struct MHD_Connection *con,
		      void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct guard *g = cls;
	struct watch *w = *socket_context, *o, *old = NULL;
	const union MHD_ConnectionInfo *ci;
	int64_t now = cb_clock_now_ms();

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!w)
			return;
		pthread_mutex_lock(&g->mu);
		if (w->prev)
			w->prev->next = w->next;
		else
			g->head = w->next;
		if (w->next)
			w->next->prev = w->prev;
		g->open--;
		pthread_mutex_unlock(&g->mu);
		free(w);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
	w = calloc(1, sizeof(*w));
	if (!w || !ci) {
		free(w);
		return; /* unwatched: libmicrohttpd's idle timeout applies */
	}
	w->fd = ci->connect_fd;
	w->phase = W_WAIT;
	w->since_ms = now;
	pthread_mutex_lock(&g->mu);
	w->next = g->head;
	if (g->head)
		g->head->prev = w;
	g->head = w;
	g->open++;
	if (g->open > SRV_HTTP_CONN_PRESSURE) {
		for (o = w->next; o; o = o->next)
			if (!o->cut &&
			    (o->phase == W_WAIT || o->phase == W_BODY) &&
			    now - o->since_ms >= SRV_HTTP_EVICT_MS &&
			    (!old || o->since_ms < old->since_ms))
				old = o;
		if (old)
			watch_cut(g, old);
	}
	pthread_mutex_unlock(&g->mu);
	*socket_context = w;
}

/* Log how many were closed, at most every 10 s. Under mu. */
static void guard_log(struct guard *g, int64_t now)
{
	char n[24], open[16];
	const char *kv[] = {"count", n, "open", open, NULL};

	if (!g->cut || now - g->logged_ms < 10000)
		return;
	snprintf(n, sizeof(n), "%lu", g->cut);
	snprintf(open, sizeof(open), "%u", g->open);
	srv_log("warn", "slow requests closed", kv);
	g->cut = 0;
	g->logged_ms = now;
}

static int by_since(const void *a, const void *b)
{
	const struct watch *x = *(const struct watch *const *)a;
	const struct watch *y = *(const struct watch *const *)b;

	return (x->since_ms > y->since_ms) - (x->since_ms < y->since_ms);
}

/*
 * Past SRV_HTTP_CONN_PRESSURE connections, close the oldest unfinished
 * requests (older than SRV_HTTP_EVICT_MS) until it is no longer so: a
 * burst of slow connections may have come too fast for notify_cb to
 * make room, and libmicrohttpd accepts no more once at its limit, so
 * room is made here too. Under mu.
 */
static void guard_evict(struct guard *g, int64_t now)
{
	struct watch *w, **old;
	size_t n = 0, i, live = 0;

	for (w = g->head; w; w = w->next)
		live += !w->cut;
	if (live <= SRV_HTTP_CONN_PRESSURE)
		return;
	old = malloc(live * sizeof(*old));
	if (!old)
		return;
	for (w = g->head; w; w = w->next)
		if (!w->cut && (w->phase == W_WAIT || w->phase == W_BODY) &&
		    now - w->since_ms >= SRV_HTTP_EVICT_MS && n < live)
			old[n++] = w;
	qsort(old, n, sizeof(*old), by_since);
	for (i = 0; i < n && live > SRV_HTTP_CONN_PRESSURE; i++, live--)
		watch_cut(g, old[i]);
	free(old);
}

static void *guard_main(void *arg)
{
	struct guard *g = arg;
	struct watch *w;
	struct timespec ts;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		int64_t now = cb_clock_now_ms();

		for (w = g->head; w; w = w->next)
			if (!w->cut && now > watch_deadline(w))
				watch_cut(g, w);
		guard_evict(g, now);
		guard_log(g, now);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	}
	guard_log(g, INT64_MAX);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* ---- plumbing ---------------------------------------------------------- */

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct conn_req *cr = calloc(1, sizeof(*cr));

	(void)con;
	if (!cr)
		return NULL;
	cr->guard = cls;
	cr->uri = strdup(uri ? uri : "");
	if (!cr->uri) { /* access_cb then refuses the request */
		free(cr);
		return NULL;
	}
	cr->start_ms = cb_clock_now_ms();
	return cr;
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_req *cr = *con_cls;

	(void)toe;
	/* A kept-alive connection waits for its next request from now. */
	watch_set(cls, con, W_WAIT, 1, 0);
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
	    "ip",     r->ip,	     "device", r->who[0] ? r->who : NULL,
	    "error",  r->error_code, "cause",  r->cause[0] ? r->cause : NULL,
	    NULL};

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
	watch_set(cr->guard, con, W_SEND, 1, r->resp_len);
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

static void req_init(struct srv_req *r, struct MHD_Connection *con,
		     const char *url, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->conn = con;
	r->method = method;
	r->path = url;
	client_ip(con, r->ip, sizeof(r->ip));
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con,
				 const char *url, const char *method,
				 const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct daemon *d = cls;
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
		watch_set(d->guard, con, W_BODY, 0, 0);
		cr->max = d->body_cap(url, d->ctx);
		if (cl && strlen(cl) < 20 &&
		    strtoull(cl, NULL, 10) > (unsigned long long)cr->max) {
			req_init(&r, con, url, method);
			srv_req_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
				      "too_large",
				      "request body over %zu bytes", cr->max);
			return send_answer(con, &r, cr);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		watch_set(d->guard, con, W_BODY, 0, n);
		if (cr->too_big || cr->len + n > cr->max) {
			cr->too_big = 1;
			cr->over += n;
			/* Discarded, but not for ever: a body that goes on
			 * past twice the cap is cut off unanswered. */
			return cr->over > cr->max ? MHD_NO : MHD_YES;
		}
		if (cb_array_grow((void **)&cr->body, &cr->cap, cr->len + n + 1,
				  1, cr->max + 1, "request body", NULL))
			return MHD_NO;
		memcpy(cr->body + cr->len, upload, n);
		cr->len += n;
		cr->body[cr->len] = '\0';
		return MHD_YES;
	}

	watch_set(d->guard, con, W_BUSY, 0, 0);
	req_init(&r, con, url, method);
	if (cr->too_big) {
		srv_req_error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
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
	d->handle(&r, d->ctx);
	ret = send_answer(con, &r, cr);
	if (q)
		*q = '?';
	return ret;
}

/* Stop the guard's thread and free what it watched (nothing once the
 * daemon has stopped: every connection was reported closed). */
static void guard_stop(struct guard *g)
{
	struct watch *w;

	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	while ((w = g->head)) {
		g->head = w->next;
		free(w);
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
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

/*
 * jemalloc's control entry, present when casebookd links it (main.c),
 * absent (NULL) in a build without it: the sanitizers' builds.
 */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp,
		   size_t newlen) __attribute__((weak));

/*
 * The allocator serving this process and the settings it took (main.c),
 * for the start-up log line: "jemalloc-VERSION narenas:N
 * dirty_decay_ms:MS", or "libc" (as Redis names them).
 */
static void malloc_name(char *out, size_t cap)
{
	const char *version = NULL;
	unsigned narenas = 0;
	ssize_t decay = 0;
	size_t len = sizeof(version), ulen = sizeof(narenas),
	       dlen = sizeof(decay);

	if (!mallctl || mallctl("version", &version, &len, NULL, 0) ||
	    !version) {
		snprintf(out, cap, "libc");
		return;
	}
	if (!mallctl("opt.narenas", &narenas, &ulen, NULL, 0) &&
	    !mallctl("opt.dirty_decay_ms", &decay, &dlen, NULL, 0))
		snprintf(out, cap, "jemalloc-%s narenas:%u dirty_decay_ms:%zd",
			 version, narenas, decay);
	else
		snprintf(out, cap, "jemalloc-%s", version);
}

int srv_daemon_run(const struct srv_daemon_opts *o,
		   void (*handle)(struct srv_req *r, void *ctx),
		   size_t (*body_cap)(const char *path, void *ctx), void *ctx,
		   struct cb_err *err)
{
	struct guard g;
	struct daemon d = {handle, body_cap, ctx, &g};
	struct sockaddr_storage ss;
	struct MHD_Daemon *daemon;
	char *cert = NULL, *key = NULL, portbuf[16];
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	unsigned per_ip = o->per_ip ? o->per_ip : SRV_HTTP_PER_IP_LIMIT;
	sigset_t set;
	size_t len;
	int v6 = 0, sig = 0, rc;

	rc = parse_listen(o->listen, &ss, &v6, err);
	if (rc)
		return rc;
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

	/* Block the stop signals in every thread; this one waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	if (pthread_create(&g.thread, NULL, guard_main, &g)) {
		free(cert);
		free(key);
		return cb_err_set(err, CB_EIO, "cannot start a thread");
	}

	if (cert)
		daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, access_cb, &d,
		    MHD_OPTION_EXTERNAL_LOGGER, log_cb, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, o->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_HTTP_CONN_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_HTTP_TIMEOUT_S,
		    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, &g,
		    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, &g,
		    MHD_OPTION_NOTIFY_CONNECTION, notify_cb, &g,
		    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
		    key, MHD_OPTION_END);
	else
		daemon = MHD_start_daemon(
		    flags, 0, NULL, NULL, access_cb, &d,
		    MHD_OPTION_EXTERNAL_LOGGER, log_cb, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		    MHD_OPTION_THREAD_POOL_SIZE, o->threads,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SRV_HTTP_CONN_LIMIT,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SRV_HTTP_TIMEOUT_S,
		    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, &g,
		    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, &g,
		    MHD_OPTION_NOTIFY_CONNECTION, notify_cb, &g,
		    MHD_OPTION_END);
	if (!daemon) {
		guard_stop(&g);
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
		char threads[16], alloc[128];
		const char *kv[] = {
		    "listen",  o->listen, "port",   portbuf,
		    "study",   o->name,	  "tls",    cert ? "yes" : "no",
		    "threads", threads,	  "malloc", alloc,
		    NULL};

		snprintf(threads, sizeof(threads), "%u", o->threads);
		malloc_name(alloc, sizeof(alloc));
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
	guard_stop(&g);
	srv_log("info", "stopped", NULL);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	return 0;
}
