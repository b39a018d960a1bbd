/*
 * fuzz_canon.c - the canonical encoder (canon.h) that events and lists
 * are signed over.
 *
 * Properties, for every JSON document x that has a canonical form:
 * parse(encode(x)) == x, and encode(parse(encode(x))) is the same bytes
 * (one encoding per value, so a signature never depends on how a value was
 * written). And for any valid UTF-8 text s, cb_canon_put_string(s) is a
 * JSON string that parses back to s.
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"
#include "json.h"

static void string_round_trip(const char *s, size_t n)
{
	struct cb_err err;
	struct cb_canon_buf b = {NULL, 0, 0, &err, 0};
	char *copy;
	cJSON *v;

	if (!cb_utf8_valid(s, n))
		return;
	copy = malloc(n + 1);
	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, s, n);
	copy[n] = '\0';
	cb_err_clear(&err);
	FUZZ_ASSERT(cb_canon_put_string(&b, copy) == 0);
	v = cb_json_parse(b.buf, b.len, CB_CANON_MAX * 2, "string", &err);
	if (!v)
		fprintf(stderr, "canonical string refused: %s\n", err.msg);
	FUZZ_ASSERT(v != NULL);
	FUZZ_ASSERT(cJSON_IsString(v) && !strcmp(v->valuestring, copy));
	cJSON_Delete(v);
	free(b.buf);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_err err;
	cJSON *x, *y;
	char *enc, *enc2;
	size_t len, len2;
	int rc;

	string_round_trip((const char *)data, size);
	cb_err_clear(&err);
	x = cb_json_parse((const char *)data, size, CB_CANON_MAX, "fuzz", &err);
	if (!x)
		return 0;
	rc = cb_canon_encode(x, &enc, &len, &err);
	if (rc) {
		FUZZ_ASSERT(rc == CB_EINVAL || rc == CB_ETOOBIG);
		cJSON_Delete(x);
		return 0;
	}
	FUZZ_ASSERT(strlen(enc) == len);
	y = cb_json_parse(enc, len, CB_CANON_MAX, "encoded", &err);
	if (!y)
		fprintf(stderr, "canonical text refused: %s\n", err.msg);
	FUZZ_ASSERT(y != NULL);
	FUZZ_ASSERT(cJSON_Compare(x, y, 1));
	FUZZ_ASSERT(cb_canon_encode(y, &enc2, &len2, &err) == 0);
	FUZZ_ASSERT(len2 == len && !memcmp(enc, enc2, len));
	free(enc);
	free(enc2);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return 0;
}
