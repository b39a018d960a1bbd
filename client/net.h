/*
 * net.h - requests to the central server (docs/api.md) over libcurl.
 *
 * One struct net per server. Requests are signed with the device key held
 * by the store (common/reqsig.h) unless no store is given (registration,
 * health). Only http:// and https:// URLs are accepted; an https server's
 * certificate is verified, against --cacert FILE when one is given (a
 * development certificate from scripts/dev-cert.sh).
 *
 * A server that cannot be reached (DNS, connect, TLS, timeout) gives
 * CB_EUNREACHABLE; any HTTP answer gives 0 with its status and body, and
 * net_error_message() reads the server's JSON error for a message.
 */
#ifndef CB_NET_H
#define CB_NET_H

#include <stddef.h>

#include "err.h"
#include "store.h"

/* Longest server URL accepted. */
#define NET_URL_MAX 512
/* Largest answer read (a pull of 1000 events fits easily). */
#define NET_REPLY_MAX (64u * 1024u * 1024u)

struct net {
	void *curl;		    /* CURL * */
	char base[NET_URL_MAX + 1]; /* "https://host:port", no final "/" */
	char cacert[4096];	    /* "" for the system's trust store */
	long timeout_s;		    /* whole request */
};

struct net_reply {
	long status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
};

/*
 * Set up requests to `url` (scheme, host, optional port, no path beyond
 * "/"). `cacert` may be NULL. CB_EINVAL for a URL that is not http(s),
 * CB_ENOMEM.
 */
int net_init(struct net *n, const char *url, const char *cacert,
	     struct cb_err *err);
void net_free(struct net *n);

/*
 * Send METHOD PATH?QUERY with `body` (may be NULL) as application/json,
 * signed as the store's device when `st` is not NULL. *r gets the status
 * and body (release with net_reply_free). CB_EUNREACHABLE naming the
 * cause when no HTTP answer came; CB_ETOOBIG over NET_REPLY_MAX.
 */
int net_request(struct net *n, const char *method, const char *path,
		const char *query, const char *body, size_t len,
		struct store *st, struct net_reply *r, struct cb_err *err);

void net_reply_free(struct net_reply *r);

/*
 * The server's error of a non-2xx reply as "message (code, HTTP status)",
 * or the status alone when the body is not the documented JSON error.
 */
void net_error_message(const struct net_reply *r, char *out, size_t cap);

/* The "code" of the server's JSON error, or "" (copied into out). */
void net_error_code(const struct net_reply *r, char *out, size_t cap);

#endif
