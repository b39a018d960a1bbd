/*
 * fuzz_json.c - strict JSON (json.h: cb_json_parse).
 *
 * Properties: a document accepted holds no NUL byte and is valid UTF-8
 * (the strictness json.h promises over cJSON); what it parses to, printed
 * and parsed again, is accepted and prints the same (compared as text,
 * since a document may repeat a key, which cJSON_Compare cannot tell).
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct cb_err err;
	cJSON *a, *b;
	char *out, *out2;

	cb_err_clear(&err);
	a = cb_json_parse(text, size, CB_JSON_DOC_MAX, "fuzz", &err);
	if (!a) {
		FUZZ_ASSERT(err.code == CB_EINVAL || err.code == CB_ETOOBIG ||
			    err.code == CB_ENOMEM);
		FUZZ_ASSERT(err.msg[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT(memchr(text, 0, size) == NULL);
	FUZZ_ASSERT(cb_utf8_valid(text, size));
	out = cb_json_print(a);
	FUZZ_ASSERT(out != NULL);
	b = cb_json_parse(out, strlen(out), CB_JSON_DOC_MAX, "printed", &err);
	if (!b)
		fprintf(stderr, "printed text refused: %s\n", err.msg);
	FUZZ_ASSERT(b != NULL);
	out2 = cb_json_print(b);
	FUZZ_ASSERT(out2 != NULL && !strcmp(out, out2));
	cJSON_free(out);
	cJSON_free(out2);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return 0;
}
