/*
 * api.h - the HTTP API of casebookd (docs/api.md): the handler that
 * `casebookd serve` gives the daemon (daemon.h), on a struct srv_core.
 */
#ifndef SRV_API_H
#define SRV_API_H

#include <stddef.h>

#include "core.h"
#include "req.h"

/* Registration bodies are small; everything else has SRV_BODY_MAX. */
#define SRV_REGISTER_BODY_MAX (64u * 1024u)

/* Signed requests per second one device may make (a burst of twice
 * that); more are answered 429. */
#define SRV_HTTP_RATE_DEFAULT 200
#define SRV_HTTP_RATE_MAX 100000

/* Answer one complete request; `core` is the struct srv_core. */
void srv_api_handle(struct srv_req *r, void *core);

/* The largest body accepted for a path. */
size_t srv_api_body_cap(const char *path, void *ctx);

/* The request rate per device, for the whole process (before serving). */
void srv_api_set_rate(unsigned per_second);

#endif
