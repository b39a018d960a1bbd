/*
 * http.h - the HTTP API of casebookd on libmicrohttpd (docs/api.md).
 *
 * http.c runs the daemon (a thread pool polling with epoll, limits on
 * connections per IP, timeouts and the request body size) and turns each
 * request into a struct srv_req; api.c answers it. Every answer is JSON,
 * errors included ({"error":{"code":...,"message":...}}).
 */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "core.h"
#include "err.h"
#include "store.h"

/* Daemon limits. */
#define SRV_HTTP_THREADS_DEFAULT 4
#define SRV_HTTP_THREADS_MAX 64
#define SRV_HTTP_CONN_LIMIT 512	 /* connections in total */
#define SRV_HTTP_PER_IP_LIMIT 64 /* connections from one address */
#define SRV_HTTP_TIMEOUT_S 30	 /* idle connection timeout */
/* Registration bodies are small; everything else has SRV_BODY_MAX. */
#define SRV_REGISTER_BODY_MAX (64u * 1024u)

/* Signed requests per second one device may make (a burst of twice
 * that); more are answered 429. */
#define SRV_HTTP_RATE_DEFAULT 200
#define SRV_HTTP_RATE_MAX 100000

struct srv_http_opts {
	const char *listen; /* "ADDR:PORT", "[v6]:PORT" */
	unsigned threads;
	unsigned rate;	      /* requests per second per device */
	const char *tls_cert; /* PEM files, both or neither */
	const char *tls_key;
};

/*
 * Serve until SIGTERM or SIGINT, then stop accepting, let requests in
 * progress finish (a push is committed before its answer) and return 0.
 * CB_EINVAL for a bad listen address, CB_EIO when the daemon cannot start.
 */
int srv_http_run(struct srv_core *core, const struct srv_http_opts *o,
		 struct cb_err *err);

/* One request, as api.c sees it. */
struct srv_req {
	struct srv_core *core;
	void *conn;	       /* struct MHD_Connection */
	const char *method;    /* "GET", "POST", ... */
	const char *path;      /* decoded path, no query */
	const char *raw_path;  /* path as sent (signed) */
	const char *raw_query; /* query as sent without "?" (signed), or "" */
	const char *body;
	size_t body_len;
	char ip[64];
	/* Set by srv_req_authenticate. */
	int authed;
	struct srv_device dev;
	/* The answer. */
	unsigned status;
	char *resp; /* malloc'd */
	size_t resp_len;
	const char *ctype;
	const char *extra_name, *extra_value; /* one more header, or NULL */
	const char *error_code;		      /* for the log */
	/* A tree the handler is done with, freed only once the answer has
	 * gone out, so the client need not wait for the freeing. */
	cJSON *after;
};

/* Answer with `json` (consumed) and `status`. */
void srv_req_json(struct srv_req *r, unsigned status, cJSON *json);

/* Answer {"error":{"code":code,"message":...}} with `status`. */
void srv_req_error(struct srv_req *r, unsigned status, const char *code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A query argument (decoded), or NULL. */
const char *srv_req_arg(struct srv_req *r, const char *name);

/*
 * Check the request signature headers (reqsig.h): the device is known
 * and active, the time within the skew, the signature good and the nonce
 * new, and the device within its request rate. Returns 0 with r->dev
 * set, or answers the request with the right error (401, 403, 429) and
 * returns -1.
 */
int srv_req_authenticate(struct srv_req *r);

/* Route and answer one complete request (api.c). */
void srv_api_handle(struct srv_req *r);

#endif
