/*
 * reqsig.c - building, signing, parsing and verifying the signature of a
 * device's HTTP request (reqsig.h has the format and the reasons).
 *
 * The client (`casebook sync`) signs with cb_reqsig_sign; the server
 * (`casebookd serve`) parses the headers, checks the time and verifies.
 * Both build the signed text with the one function cb_reqsig_string, so
 * they cannot disagree about it.
 */
#include "reqsig.h"

#include "clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest time CB_REQSIG_TIME_MAX digits can write. */
#define TIME_MAX_MS INT64_C(999999999999999)

static int device_valid(const char *s)
{
	size_t i, n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > CB_REQSIG_DEVICE_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._-:@", c)))
			return 0;
	}
	return 1;
}

static int method_valid(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > CB_REQSIG_METHOD_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return 0;
	return 1;
}

/* Printable ASCII only: a path or query is sent percent-encoded. */
static int uri_part_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n > CB_REQSIG_PATH_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int cb_reqsig_string(const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, const char *device,
		     int64_t time_ms, const char *nonce, char **out,
		     size_t *len, struct cb_err *err)
{
	char body_hex[CB_HASH_HEX_SIZE];
	size_t cap;
	int n;
	char *buf;

	*out = NULL;
	if (!query)
		query = "";
	if (!method_valid(method))
		return cb_err_set(err, CB_EINVAL,
				  "request method: not 1 to %d uppercase "
				  "letters",
				  CB_REQSIG_METHOD_MAX);
	if (!path || path[0] != '/' || !uri_part_valid(path))
		return cb_err_set(err, CB_EINVAL,
				  "request path: must start with '/' and be at "
				  "most %d printable characters",
				  CB_REQSIG_PATH_MAX);
	if (!uri_part_valid(query) || strchr(query, '#'))
		return cb_err_set(err, CB_EINVAL,
				  "request query: must be at most %d printable "
				  "characters",
				  CB_REQSIG_PATH_MAX);
	if (!device_valid(device))
		return cb_err_set(err, CB_EINVAL, "%s: not a device id",
				  CB_REQSIG_HDR_DEVICE);
	if (time_ms < 0 || time_ms > TIME_MAX_MS)
		return cb_err_set(err, CB_EINVAL, "%s: out of range",
				  CB_REQSIG_HDR_TIME);
	if (!nonce || strlen(nonce) != CB_REQSIG_NONCE_HEX ||
	    !cb_hex_lower(nonce, CB_REQSIG_NONCE_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "%s: not %d lowercase hex digits",
				  CB_REQSIG_HDR_NONCE, CB_REQSIG_NONCE_HEX);
	if (!body && body_len)
		return cb_err_set(err, CB_EINVAL, "request body: missing");

	cb_sha256_hex(body ? body : "", body_len, body_hex);
	cap = strlen(CB_REQSIG_VERSION) + strlen(method) + strlen(path) +
	      strlen(query) + strlen(body_hex) + CB_REQSIG_TIME_MAX +
	      strlen(nonce) + strlen(device) + 8 + 1;
	buf = malloc(cap);
	if (!buf)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	n = snprintf(buf, cap, "%s\n%s\n%s\n%s\n%s\n%" PRId64 "\n%s\n%s",
		     CB_REQSIG_VERSION, method, path, query, body_hex, time_ms,
		     nonce, device);
	if (n < 0 || (size_t)n >= cap) {
		free(buf);
		return cb_err_set(err, CB_EINVAL, "request: too long to sign");
	}
	*out = buf;
	if (len)
		*len = (size_t)n;
	return 0;
}

int cb_reqsig_sign_at(struct cb_reqsig *rs, const struct cb_key *sk,
		      const char *device, int64_t time_ms, const char *nonce,
		      const char *method, const char *path, const char *query,
		      const void *body, size_t body_len, struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char *text;
	size_t len;
	int rc;

	memset(rs, 0, sizeof(*rs));
	rc = cb_reqsig_string(method, path, query, body, body_len, device,
			      time_ms, nonce, &text, &len, err);
	if (rc)
		return rc;
	rc = cb_sign(sk, text, len, sig, err);
	free(text);
	if (!rc)
		rc = cb_hex_encode(sig, sizeof(sig), rs->sig, sizeof(rs->sig),
				   err);
	if (rc) {
		memset(rs, 0, sizeof(*rs));
		return rc;
	}
	/* Lengths were checked by cb_reqsig_string. */
	memcpy(rs->device, device, strlen(device) + 1);
	memcpy(rs->nonce, nonce, CB_REQSIG_NONCE_HEX + 1);
	rs->time_ms = time_ms;
	return 0;
}

int cb_reqsig_sign(struct cb_reqsig *rs, const struct cb_key *sk,
		   const char *device, const char *method, const char *path,
		   const char *query, const void *body, size_t body_len,
		   struct cb_err *err)
{
	unsigned char raw[CB_REQSIG_NONCE_HEX / 2];
	char nonce[CB_REQSIG_NONCE_HEX + 1];
	int rc;

	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	cb_random_bytes(raw, sizeof(raw));
	rc = cb_hex_encode(raw, sizeof(raw), nonce, sizeof(nonce), err);
	if (rc)
		return rc;
	return cb_reqsig_sign_at(rs, sk, device, cb_clock_now_ms(), nonce,
				 method, path, query, body, body_len, err);
}

int cb_reqsig_parse(struct cb_reqsig *rs, const char *device, const char *time,
		    const char *nonce, const char *sig, struct cb_err *err)
{
	size_t i, n;
	int64_t t = 0;

	memset(rs, 0, sizeof(*rs));
	if (!device)
		return cb_err_set(err, CB_EAUTH, "missing header %s",
				  CB_REQSIG_HDR_DEVICE);
	if (!time)
		return cb_err_set(err, CB_EAUTH, "missing header %s",
				  CB_REQSIG_HDR_TIME);
	if (!nonce)
		return cb_err_set(err, CB_EAUTH, "missing header %s",
				  CB_REQSIG_HDR_NONCE);
	if (!sig)
		return cb_err_set(err, CB_EAUTH, "missing header %s",
				  CB_REQSIG_HDR_SIGNATURE);
	if (!device_valid(device))
		return cb_err_set(err, CB_EINVAL, "header %s: not a device id",
				  CB_REQSIG_HDR_DEVICE);
	n = strlen(time);
	if (n == 0 || n > CB_REQSIG_TIME_MAX || (time[0] == '0' && n > 1))
		goto bad_time;
	for (i = 0; i < n; i++) {
		if (time[i] < '0' || time[i] > '9')
			goto bad_time;
		t = t * 10 + (time[i] - '0');
	}
	if (strlen(nonce) != CB_REQSIG_NONCE_HEX ||
	    !cb_hex_lower(nonce, CB_REQSIG_NONCE_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "header %s: not %d lowercase hex digits",
				  CB_REQSIG_HDR_NONCE, CB_REQSIG_NONCE_HEX);
	if (strlen(sig) != CB_REQSIG_SIG_HEX ||
	    !cb_hex_lower(sig, CB_REQSIG_SIG_HEX))
		return cb_err_set(err, CB_EINVAL,
				  "header %s: not %d lowercase hex digits",
				  CB_REQSIG_HDR_SIGNATURE, CB_REQSIG_SIG_HEX);
	memcpy(rs->device, device, strlen(device) + 1);
	rs->time_ms = t;
	memcpy(rs->nonce, nonce, CB_REQSIG_NONCE_HEX + 1);
	memcpy(rs->sig, sig, CB_REQSIG_SIG_HEX + 1);
	return 0;
bad_time:
	return cb_err_set(err, CB_EINVAL,
			  "header %s: not a time in Unix milliseconds",
			  CB_REQSIG_HDR_TIME);
}

int cb_reqsig_check_time(const struct cb_reqsig *rs, int64_t now_ms,
			 int64_t max_skew_ms, struct cb_err *err)
{
	int64_t d = rs->time_ms - now_ms;

	if (d < 0)
		d = -d;
	if (d > max_skew_ms)
		return cb_err_set(err, CB_EAUTH,
				  "request time is %" PRId64
				  " s away from the server's clock (at most "
				  "%" PRId64 " s allowed); check the device "
				  "clock",
				  d / 1000, max_skew_ms / 1000);
	return 0;
}

int cb_reqsig_verify(const struct cb_reqsig *rs,
		     const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
		     const char *method, const char *path, const char *query,
		     const void *body, size_t body_len, struct cb_err *err)
{
	unsigned char sig[CB_SIGNATURE_BYTES];
	char *text;
	size_t len;
	int rc;

	rc = cb_hex_decode(rs->sig, strlen(rs->sig), sig, sizeof(sig), NULL,
			   err);
	if (rc)
		return cb_err_set(err, CB_EINVAL, "header %s: malformed",
				  CB_REQSIG_HDR_SIGNATURE);
	rc = cb_reqsig_string(method, path, query, body, body_len, rs->device,
			      rs->time_ms, rs->nonce, &text, &len, err);
	if (rc)
		return rc;
	rc = cb_verify(pk, text, len, sig, err);
	free(text);
	if (rc)
		return cb_err_set(err, CB_EAUTH,
				  "request signature does not verify");
	return 0;
}
