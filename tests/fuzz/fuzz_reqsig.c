/*
 * fuzz_reqsig.c - request-signature parsing (reqsig.h).
 *
 * The input is the request as the server receives it, one field a line:
 *
 *   X-Casebook-Device, X-Casebook-Time, X-Casebook-Nonce,
 *   X-Casebook-Signature, METHOD, PATH, QUERY, then the body (the rest)
 *
 * (a header line that is absent counts as a missing header). Properties:
 * headers accepted have exactly one spelling (formatting them again gives
 * the text received); the signed text has one line per component, so no
 * component can spill into the next; the received signature never
 * verifies under a key that did not make it; a request signed with the
 * device key verifies, and changing its body, method, path, query, time
 * or nonce breaks it.
 */
#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "fuzz.h"
#include "reqsig.h"

static struct cb_sign_keypair key;

/* Split `size` bytes into at most `max` lines; the last takes the rest. */
static size_t split(const uint8_t *data, size_t size, char **f, size_t max,
		    const char **rest, size_t *rest_len)
{
	size_t n = 0, start = 0, i;

	*rest = NULL;
	*rest_len = 0;
	for (i = 0; i <= size && n < max; i++) {
		if (i == size || data[i] == '\n') {
			f[n] = strndup((const char *)data + start, i - start);
			FUZZ_ASSERT(f[n] != NULL);
			n++;
			start = i + 1;
		}
	}
	if (start <= size) {
		*rest = (const char *)data + start;
		*rest_len = size - start;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[7] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	char again[32], *text = NULL;
	const char *body;
	struct cb_reqsig rs, mine;
	struct cb_err err;
	size_t nf, blen, tlen, i, lines;
	int rc;

	if (!key.sk) {
		FUZZ_ASSERT(cb_crypto_init(&err) == 0);
		FUZZ_ASSERT(cb_sign_keypair_new(&key, &err) == 0);
	}
	nf = split(data, size, f, 7, &body, &blen);
	cb_err_clear(&err);
	rc = cb_reqsig_parse(&rs, f[0], nf > 1 ? f[1] : NULL,
			     nf > 2 ? f[2] : NULL, nf > 3 ? f[3] : NULL, &err);
	if (rc) {
		FUZZ_ASSERT(rc == CB_EAUTH || rc == CB_EINVAL);
		FUZZ_ASSERT(err.msg[0] != '\0');
		goto out;
	}
	/* one spelling */
	FUZZ_ASSERT(!strcmp(rs.device, f[0]));
	snprintf(again, sizeof(again), "%" PRId64, rs.time_ms);
	FUZZ_ASSERT(!strcmp(again, f[1]));
	FUZZ_ASSERT(!strcmp(rs.nonce, f[2]));
	FUZZ_ASSERT(!strcmp(rs.sig, f[3]));
	(void)cb_reqsig_check_time(&rs, cb_clock_now_ms(), CB_REQSIG_SKEW_MS,
				   &err);
	if (nf < 7)
		goto out;
	rc = cb_reqsig_string(f[4], f[5], f[6], body, blen, rs.device,
			      rs.time_ms, rs.nonce, &text, &tlen, &err);
	if (rc) {
		FUZZ_ASSERT(rc == CB_EINVAL);
		FUZZ_ASSERT(cb_reqsig_verify(&rs, key.pk, f[4], f[5], f[6],
					     body, blen, &err) == CB_EINVAL);
		goto out;
	}
	FUZZ_ASSERT(strlen(text) == tlen);
	for (i = 0, lines = 1; i < tlen; i++)
		lines += text[i] == '\n';
	FUZZ_ASSERT(lines == 8);
	/* the received signature is not this key's (it never signed) */
	FUZZ_ASSERT(cb_reqsig_verify(&rs, key.pk, f[4], f[5], f[6], body, blen,
				     &err) == CB_EAUTH);
	/* signed here: verifies, and every component is covered */
	FUZZ_ASSERT(cb_reqsig_sign_at(&mine, key.sk, rs.device, rs.time_ms,
				      rs.nonce, f[4], f[5], f[6], body, blen,
				      &err) == 0);
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4], f[5], f[6], body,
				     blen, &err) == 0);
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4], f[5], f[6], "x",
				     blen == 1 && body[0] == 'x' ? 0 : 1,
				     &err) == CB_EAUTH);
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk,
				     strcmp(f[4], "GET") ? "GET" : "POST", f[5],
				     f[6], body, blen, &err) == CB_EAUTH);
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4],
				     strcmp(f[5], "/") ? "/" : "/v1", f[6],
				     body, blen, &err) == CB_EAUTH);
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4], f[5],
				     strcmp(f[6], "a") ? "a" : "b", body, blen,
				     &err) == CB_EAUTH);
	mine.time_ms ^= 1;
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4], f[5], f[6], body,
				     blen, &err) == CB_EAUTH);
	mine.time_ms ^= 1;
	mine.nonce[0] = mine.nonce[0] == '0' ? '1' : '0';
	FUZZ_ASSERT(cb_reqsig_verify(&mine, key.pk, f[4], f[5], f[6], body,
				     blen, &err) == CB_EAUTH);
out:
	free(text);
	for (i = 0; i < 7; i++)
		free(f[i]);
	return 0;
}
