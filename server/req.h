/*
 * req.h - one HTTP request of the API as a handler sees it, and its
 * answer: what daemon.c hands to the API (api.c) and sends back.
 *
 * Every answer is JSON, errors included ({"error":{"code":...,
 * "message":...}}, docs/api.md "Errors"). srv_req_status is the one
 * place a library error code (err.h) becomes an HTTP status.
 */
#ifndef SRV_REQ_H
#define SRV_REQ_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"

struct srv_req {
	void *conn;	       /* the libmicrohttpd connection */
	const char *method;    /* "GET", "POST", ... */
	const char *path;      /* decoded path, no query */
	const char *raw_path;  /* path as sent (signed) */
	const char *raw_query; /* query as sent without "?" (signed), or "" */
	const char *body;
	size_t body_len;
	char ip[64];
	/* Who asked, once authenticated: for the log ("" before). */
	char who[64];
	/* The answer. */
	unsigned status;
	char *resp; /* malloc'd */
	size_t resp_len;
	const char *ctype;
	const char *extra_name, *extra_value; /* one more header, or NULL */
	const char *error_code;		      /* for the log */
	/* Why an internal failure happened (the store's message, which may
	 * name files): for the server's log, never sent. "" when none. */
	char cause[1024];
	/* A tree the handler is done with, freed only once the answer has
	 * gone out, so the client need not wait for the freeing. */
	cJSON *after;
};

/* Answer with `json` (consumed) and `status`. */
void srv_req_json(struct srv_req *r, unsigned status, cJSON *json);

/* Answer with JSON text `text` of `len` bytes (malloc'd; consumed). */
void srv_req_json_text(struct srv_req *r, unsigned status, char *text,
		       size_t len);

/* Answer with raw bytes (copied) of content type `ctype`. */
void srv_req_raw(struct srv_req *r, unsigned status, const char *ctype,
		 const char *bytes, size_t len);

/* Answer {"error":{"code":code,"message":...}} with `status`. */
void srv_req_error(struct srv_req *r, unsigned status, const char *code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Answer the failure `cb_code` (err.h) of a store or core call with the
 * status srv_req_status gives and error code "internal" unless `code`
 * names another, and `msg` for people.
 */
void srv_req_fail(struct srv_req *r, int cb_code, const char *code,
		  const char *msg);

/*
 * srv_req_fail, keeping the message of `cause` (the store's or core's
 * error: "the disk is full", "is read-only") in r->cause for the
 * server's log, so an operator learns why requests fail.
 */
void srv_req_fail_cause(struct srv_req *r, int cb_code, const char *code,
			const char *msg, const struct cb_err *cause);

/*
 * The HTTP status of a library error code: CB_EINVAL 400, CB_EAUTH 401,
 * CB_EFORBIDDEN 403, CB_ENOTFOUND 404, CB_EEXIST and CB_ECONFLICT 409,
 * CB_ETOOBIG 413, CB_EBUSY 503 (another process holds the store: retry),
 * everything else 500.
 */
unsigned srv_req_status(int cb_code);

/* A query argument (decoded), or NULL. */
const char *srv_req_arg(struct srv_req *r, const char *name);

/* A request header, or NULL. */
const char *srv_req_header(struct srv_req *r, const char *name);

#endif
