/*
 * reqsig.h - the signature on every authenticated HTTP request between a
 * device and the central server (DESIGN.md section 4).
 *
 * A registered device signs each request with its Ed25519 key (the same
 * key that signs its events). The signed bytes are this text, lines
 * joined by "\n" with no final newline:
 *
 *   casebook-request/1
 *   METHOD                 "GET", "POST" (uppercase, as sent)
 *   PATH                   the request path exactly as sent, "/v1/sync/pull"
 *   QUERY                  the query exactly as sent, without "?"; "" if none
 *   BODY-SHA256            64 lowercase hex digits, SHA-256 of the body
 *                          (of zero bytes when there is no body)
 *   TIME                   Unix milliseconds, decimal, no sign, no leading 0
 *   NONCE                  32 lowercase hex digits, fresh random per request
 *   DEVICE                 the device id the server assigned at registration
 *
 * and travels in four headers:
 *
 *   X-Casebook-Device      DEVICE
 *   X-Casebook-Time        TIME
 *   X-Casebook-Nonce       NONCE
 *   X-Casebook-Signature   128 lowercase hex digits, the Ed25519 signature
 *
 * The server looks the device up, refuses a time more than
 * CB_REQSIG_SKEW_MS away from its own clock, verifies the signature, and
 * refuses a nonce it has seen from that device (it remembers nonces for
 * twice the skew window, so no replay can pass). Every component is
 * signed, so a request cannot be redirected to another endpoint, given
 * another query or body, or replayed later without the signature failing.
 *
 * Every field is plain text of a fixed alphabet, so each has exactly one
 * spelling and none can contain the line separator.
 */
#ifndef CB_REQSIG_H
#define CB_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "err.h"

/* Header names (HTTP header names are case-insensitive). */
/*
 * The server's proof that it holds the key a device pinned at
 * registration (GET /v1/health?challenge=HEX, docs/api.md): its Ed25519
 * signature over these lines joined by "\n", no final newline:
 *
 *   casebook-server-proof/1
 *   CHALLENGE              the device's fresh random CB_SERVER_PROOF_HEX
 *                          lowercase hex digits, as sent
 *   STUDY                  the study id of the server's protocol
 *
 * `casebook server set URL` checks it before moving a laptop to URL.
 */
#define CB_SERVER_PROOF_VERSION "casebook-server-proof/1"
#define CB_SERVER_PROOF_HEX 64

#define CB_REQSIG_HDR_DEVICE "X-Casebook-Device"
#define CB_REQSIG_HDR_TIME "X-Casebook-Time"
#define CB_REQSIG_HDR_NONCE "X-Casebook-Nonce"
#define CB_REQSIG_HDR_SIGNATURE "X-Casebook-Signature"

/* First line of the signed text; a new format gets a new version. */
#define CB_REQSIG_VERSION "casebook-request/1"

/* Largest accepted distance between request time and server time. */
#define CB_REQSIG_SKEW_MS (5 * 60 * 1000)

/* Sizes of the fields, in characters without the NUL. */
#define CB_REQSIG_NONCE_HEX 32
#define CB_REQSIG_SIG_HEX 128
#define CB_REQSIG_DEVICE_MAX 64 /* ASCII letters, digits and "._-:@" */
#define CB_REQSIG_TIME_MAX 15	/* digits of a time in ms */
#define CB_REQSIG_METHOD_MAX 16 /* uppercase letters */
#define CB_REQSIG_PATH_MAX 2048 /* path and query, each */

/* The four header values of one request. */
struct cb_reqsig {
	char device[CB_REQSIG_DEVICE_MAX + 1];
	int64_t time_ms;
	char nonce[CB_REQSIG_NONCE_HEX + 1];
	char sig[CB_REQSIG_SIG_HEX + 1];
};

/*
 * The text to sign (see the top of this file) for one request, in a
 * malloc'd NUL-terminated string the caller frees with free(); *len (may
 * be NULL) gets its length. `query` NULL means "". `body` may be NULL
 * when body_len is 0. CB_EINVAL naming the bad component (a method that
 * is not uppercase letters, a path not starting with "/", a path or query
 * with a control character or over CB_REQSIG_PATH_MAX, a bad device,
 * nonce or time), CB_ENOMEM.
 */
int cb_reqsig_string(const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, const char *device,
		     int64_t time_ms, const char *nonce, char **out,
		     size_t *len, struct cb_err *err);

/*
 * Sign a request as device `device` with its CB_SIGN_SECRET_BYTES secret
 * key `sk`: fills *rs with the device, the time from cb_clock_now_ms(), a
 * fresh random nonce and the signature. The caller sends the four fields
 * as the headers above (the time in decimal). Errors as
 * cb_reqsig_string; *rs is zeroed on failure.
 */
int cb_reqsig_sign(struct cb_reqsig *rs, const struct cb_key *sk,
		   const char *device, const char *method, const char *path,
		   const char *query, const void *body, size_t body_len,
		   struct cb_err *err);

/*
 * As cb_reqsig_sign with a given time and nonce (tests, and callers that
 * must reproduce a request).
 */
int cb_reqsig_sign_at(struct cb_reqsig *rs, const struct cb_key *sk,
		      const char *device, int64_t time_ms, const char *nonce,
		      const char *method, const char *path, const char *query,
		      const void *body, size_t body_len, struct cb_err *err);

/*
 * Read the four header values (any may be NULL when the header is
 * missing) into *rs, strictly: the device a well-formed name, the time
 * decimal digits without a leading zero, the nonce and signature
 * lowercase hex of their exact lengths. CB_EAUTH naming the header when
 * one is missing, CB_EINVAL naming it when one is malformed.
 */
int cb_reqsig_parse(struct cb_reqsig *rs, const char *device, const char *time,
		    const char *nonce, const char *sig, struct cb_err *err);

/*
 * 0 when |rs->time_ms - now_ms| <= max_skew_ms, else CB_EAUTH with a
 * message giving the skew in seconds.
 */
int cb_reqsig_check_time(const struct cb_reqsig *rs, int64_t now_ms,
			 int64_t max_skew_ms, struct cb_err *err);

/*
 * Verify the signature in *rs over the request's components with the
 * device's public key `pk`. 0 when it is good; CB_EAUTH when the
 * signature does not match (any component altered, or another key);
 * CB_EINVAL when a component is malformed (as cb_reqsig_string).
 * Neither the time window nor the nonce's freshness is checked here: see
 * cb_reqsig_check_time and the server's nonce store.
 */
int cb_reqsig_verify(const struct cb_reqsig *rs,
		     const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
		     const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, struct cb_err *err);

#endif
