/*
 * daemon.h - the HTTP daemon of `casebookd serve` on libmicrohttpd: a
 * thread pool polling with epoll, limits on connections in total and per
 * client address, idle timeouts and request body caps. It calls the
 * handler it is given with each complete request (req.h) and sends the
 * answer the handler made: it knows no endpoint (api.c does).
 */
#ifndef SRV_DAEMON_H
#define SRV_DAEMON_H

#include <stddef.h>

#include "err.h"
#include "req.h"

/* Daemon limits. */
#define SRV_HTTP_THREADS_DEFAULT 4
#define SRV_HTTP_THREADS_MAX 64
#define SRV_HTTP_CONN_LIMIT 512 /* connections in total */
/* Connections from one client address, by default and at most (a
 * hospital's laptops often share one address: --max-per-ip). */
#define SRV_HTTP_PER_IP_LIMIT 64
#define SRV_HTTP_PER_IP_MAX SRV_HTTP_CONN_LIMIT
#define SRV_HTTP_TIMEOUT_S 30 /* idle connection timeout */

struct srv_daemon_opts {
	const char *listen; /* "ADDR:PORT", "[v6]:PORT" */
	const char *name;   /* for the log's "listening" line */
	unsigned threads;
	unsigned per_ip;      /* 0: SRV_HTTP_PER_IP_LIMIT */
	const char *tls_cert; /* PEM files, both or neither */
	const char *tls_key;
};

/*
 * Serve until SIGTERM or SIGINT: each complete request is given to
 * handle(r, ctx), whose answer is sent; body_cap(path, ctx) is the
 * largest body accepted for a path. On a stop signal, stop accepting,
 * let requests in progress finish and return 0. CB_EINVAL for a bad
 * listen address, CB_EIO when the daemon cannot start.
 */
int srv_daemon_run(const struct srv_daemon_opts *o,
		   void (*handle)(struct srv_req *r, void *ctx),
		   size_t (*body_cap)(const char *path, void *ctx), void *ctx,
		   struct cb_err *err);

#endif
