/*
 * daemon.h - the HTTP daemon of `casebookd serve` on libmicrohttpd: a
 * thread pool polling with epoll, limits on connections in total and per
 * client address, idle timeouts, deadlines for slow requests and request
 * body caps. It calls the
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
/*
 * A request must arrive whole, whatever its pace byte by byte (a client
 * sending one byte every few seconds is never idle, and would hold its
 * connection for ever: slowloris). Its headers come within
 * SRV_HTTP_REQUEST_S of the connection opening (or of the previous
 * answer on a kept-alive connection), its body at SRV_HTTP_MIN_RATE
 * bytes a second on average after that, and the answer is taken at that
 * rate too; else the connection is closed. A real laptop sends at once
 * and gives up itself after two minutes (client/net.c).
 */
#define SRV_HTTP_REQUEST_S 10
#define SRV_HTTP_MIN_RATE 4096
/*
 * Past SRV_HTTP_CONN_PRESSURE open connections, each new one closes the
 * connection whose unfinished request (or silence) is the oldest, when
 * that is older than SRV_HTTP_EVICT_MS: slow clients from many
 * addresses never fill every slot, so a device that sends its request
 * at once always gets in.
 */
#define SRV_HTTP_CONN_PRESSURE (SRV_HTTP_CONN_LIMIT - SRV_HTTP_CONN_LIMIT / 8)
#define SRV_HTTP_EVICT_MS 1000

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
