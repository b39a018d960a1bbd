/*
 * test_canon.c - the canonical JSON encoding events are signed over:
 * key order by UTF-8 bytes, no whitespace, the exact escapes, refusal of
 * everything without one spelling (numbers, booleans, duplicate keys,
 * invalid UTF-8, nesting past the cap, size past the cap) with the JSON
 * path in the message, and properties on random trees: encoding does not
 * depend on member order, and canonical text parsed and re-encoded comes
 * back byte for byte.
 */
#include "canon.h"
#include "t.h"

/* Parse `json` with cJSON and encode it; *out is freed by the caller. */
static int canon_of(const char *json, char **out, struct cb_err *err)
{
	cJSON *v = cJSON_Parse(json);
	int rc;

	*out = NULL;
	if (!v)
		return 99;
	rc = cb_canon_encode(v, out, NULL, err);
	cJSON_Delete(v);
	return rc;
}

/* Expect `json` to encode as `want`. */
#define EXPECT_CANON(json, want)                                               \
	do {                                                                   \
		char *got_;                                                    \
		struct cb_err e_;                                              \
		cb_err_clear(&e_);                                             \
		T_EQ_INT(canon_of(json, &got_, &e_), 0);                       \
		if (!got_ || strcmp(got_, want)) {                             \
			T_FAIL_AT("%s -> %s, wanted %s", json,                 \
				  got_ ? got_ : "(null)", want);               \
			free(got_);                                            \
			return;                                                \
		}                                                              \
		free(got_);                                                    \
	} while (0)

/* Expect `json` to be refused with CB_EINVAL and `msg` in the message. */
#define EXPECT_REFUSED(json, want_msg)                                         \
	do {                                                                   \
		char *got_;                                                    \
		struct cb_err e_;                                              \
		cb_err_clear(&e_);                                             \
		T_EQ_INT(canon_of(json, &got_, &e_), CB_EINVAL);               \
		T_ASSERT(got_ == NULL);                                        \
		T_CONTAINS(e_.msg, want_msg);                                  \
	} while (0)

static void test_compact_and_sorted(void)
{
	EXPECT_CANON("{ \"b\" : \"1\",\n \"a\" :\t\"2\" }",
		     "{\"a\":\"2\",\"b\":\"1\"}");
	/* Bytes, not letters: uppercase first, prefix before longer key. */
	EXPECT_CANON(
	    "{\"b\":\"\",\"aa\":\"\",\"a\":\"\",\"B\":\"\",\"_\":\"\"}",
	    "{\"B\":\"\",\"_\":\"\",\"a\":\"\",\"aa\":\"\",\"b\":\"\"}");
	/* Non-ASCII keys sort by their UTF-8 bytes (unsigned), after ASCII. */
	EXPECT_CANON("{\"\xc3\xa9\":\"1\",\"z\":\"2\"}",
		     "{\"z\":\"2\",\"\xc3\xa9\":\"1\"}");
	/*
	 * U+FFFF (EF BF BF) sorts before U+1F600 (F0 9F 98 80) by UTF-8
	 * bytes; by UTF-16 units (as some JSON libraries sort) the emoji's
	 * surrogate D83D would come first.
	 */
	EXPECT_CANON("{\"\xf0\x9f\x98\x80\":\"e\",\"\xef\xbf\xbf\":\"f\"}",
		     "{\"\xef\xbf\xbf\":\"f\",\"\xf0\x9f\x98\x80\":\"e\"}");
	/* Nested objects are sorted too; arrays keep their order. */
	EXPECT_CANON("{\"z\":[\"b\",\"a\",{\"y\":\"1\",\"x\":null}],\"m\":{}}",
		     "{\"m\":{},\"z\":[\"b\",\"a\",{\"x\":null,\"y\":\"1\"}]}");
	EXPECT_CANON("[]", "[]");
	EXPECT_CANON("{}", "{}");
	EXPECT_CANON("null", "null");
	EXPECT_CANON("\"top\"", "\"top\"");
	EXPECT_CANON(" [ null , \"\" ] ", "[null,\"\"]");
}

static void test_escapes(void)
{
	/* Only '"', '\\' and controls are escaped; short forms when known. */
	EXPECT_CANON("\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f\"",
		     "\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\"");
	EXPECT_CANON("\"\\u0001\\u001F\\u001f\"", "\"\\u0001\\u001f\\u001f\"");
	/* DEL, non-ASCII and escaped non-ASCII all come out as raw UTF-8. */
	EXPECT_CANON("\"\\u007f\\u00e9\xc3\xa9\\ud83d\\ude00\"",
		     "\"\x7f\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80\"");
	/* Keys are escaped the same way. */
	EXPECT_CANON("{\"a\\nb\":\"\\\"\"}", "{\"a\\nb\":\"\\\"\"}");
}

static void test_refuses_non_strings(void)
{
	EXPECT_REFUSED("{\"a\":{\"b\":[\"x\",1]}}", "$.a.b[1]: is a number");
	EXPECT_REFUSED("{\"a\":true}", "$.a: is a boolean");
	EXPECT_REFUSED("[false]", "$[0]: is a boolean");
	EXPECT_REFUSED("0", "$: is a number");
	EXPECT_REFUSED("{\"visit 1\":{\"q\\\"x\":2.5}}",
		       "$[\"visit 1\"][\"q\\\"x\"]: is a number");
	EXPECT_REFUSED("{\"a\":\"1\",\"b\":[{\"c\":[[0]]}]}", "$.b[0].c[0][0]");
}

static void test_refuses_duplicate_keys(void)
{
	/* cJSON keeps both members; canonical form has one spelling only. */
	EXPECT_REFUSED("{\"a\":\"1\",\"a\":\"1\"}", "$.a: duplicate key");
	EXPECT_REFUSED("{\"x\":{\"k\":\"1\",\"j\":null,\"k\":\"2\"}}",
		       "$.x.k: duplicate key");
	EXPECT_CANON("{\"a\":\"1\",\"A\":\"1\"}", "{\"A\":\"1\",\"a\":\"1\"}");
}

static void test_refuses_invalid_utf8(void)
{
	struct cb_err err;
	cJSON *obj;
	char *out = (char *)"x";

	obj = cJSON_CreateObject();
	T_ASSERT(obj != NULL);
	cJSON_AddStringToObject(obj, "ok", "\xc3\xa9");
	T_EQ_INT(cb_canon_encode(obj, &out, NULL, &err), 0);
	free(out);
	cJSON_AddStringToObject(obj, "bad", "caf\xe9");
	cb_err_clear(&err);
	T_EQ_INT(cb_canon_encode(obj, &out, NULL, &err), CB_EINVAL);
	T_ASSERT(out == NULL);
	T_CONTAINS(err.msg, "$.bad: string is not valid UTF-8");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "bad");
	cJSON_AddStringToObject(obj, "k\xff", "v");
	T_EQ_INT(cb_canon_encode(obj, &out, NULL, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "key is not valid UTF-8");
	/* The message itself stays printable: the byte is shown as \xff. */
	T_CONTAINS(err.msg, "k\\xff");
	cJSON_Delete(obj);

	/* A surrogate half smuggled in as raw bytes. */
	obj = cJSON_CreateString("\xed\xa0\x80");
	T_EQ_INT(cb_canon_encode(obj, &out, NULL, &err), CB_EINVAL);
	cJSON_Delete(obj);
}

static void test_refuses_other_values(void)
{
	struct cb_err err;
	cJSON *raw = cJSON_CreateRaw("1");
	char *out;
	size_t len = 7;

	T_EQ_INT(cb_canon_encode(raw, &out, &len, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "is not a JSON value");
	T_EQ_INT(len, 0);
	cJSON_Delete(raw);
	T_EQ_INT(cb_canon_encode(NULL, &out, &len, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "missing value");
}

/* `levels` nested arrays around one string. */
static cJSON *nested(int levels)
{
	cJSON *v = cJSON_CreateString("deep"), *a;
	int i;

	for (i = 0; i < levels; i++) {
		a = (i % 2) ? cJSON_CreateArray() : cJSON_CreateObject();
		if (i % 2)
			cJSON_AddItemToArray(a, v);
		else
			cJSON_AddItemToObject(a, "k", v);
		v = a;
	}
	return v;
}

static void test_depth_cap(void)
{
	struct cb_err err;
	cJSON *v;
	char *out;
	size_t len;

	v = nested(CB_CANON_DEPTH_MAX);
	T_EQ_INT(cb_canon_encode(v, &out, &len, &err), 0);
	T_EQ_INT(len, strlen(out));
	free(out);
	cJSON_Delete(v);
	v = nested(CB_CANON_DEPTH_MAX + 1);
	cb_err_clear(&err);
	T_EQ_INT(cb_canon_encode(v, &out, &len, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "nested deeper than 64 levels");
	cJSON_Delete(v);
	/* Far deeper than the cap: refused, not a stack overflow. */
	v = nested(5000);
	T_EQ_INT(cb_canon_encode(v, &out, &len, &err), CB_EINVAL);
	cJSON_Delete(v);
}

static void test_size_cap(void)
{
	struct cb_err err;
	cJSON *v;
	char *big, *out;
	size_t len;

	/* Two quotes around CB_CANON_MAX - 2 bytes: exactly at the cap. */
	big = malloc(CB_CANON_MAX);
	T_ASSERT(big != NULL);
	memset(big, 'x', CB_CANON_MAX - 2);
	big[CB_CANON_MAX - 2] = '\0';
	v = cJSON_CreateString(big);
	T_EQ_INT(cb_canon_encode(v, &out, &len, &err), 0);
	T_EQ_INT(len, CB_CANON_MAX);
	free(out);
	cJSON_Delete(v);
	big[CB_CANON_MAX - 2] = 'x';
	big[CB_CANON_MAX - 1] = '\0';
	v = cJSON_CreateString(big);
	T_EQ_INT(cb_canon_encode(v, &out, &len, &err), CB_ETOOBIG);
	T_ASSERT(out == NULL);
	cJSON_Delete(v);
	free(big);
}

static void test_utf8_valid(void)
{
	static const char *const good[] = {
	    "",
	    "a",
	    "\x7f",
	    "\xc2\x80",
	    "\xdf\xbf",
	    "\xe0\xa0\x80",
	    "\xed\x9f\xbf",
	    "\xee\x80\x80",
	    "\xef\xbf\xbf",
	    "\xf0\x90\x80\x80",
	    "\xf4\x8f\xbf\xbf",
	};
	static const char *const bad[] = {
	    "\x80",
	    "\xbf",
	    "\xc0\x80",
	    "\xc1\xbf",
	    "\xc2",
	    "\xc2\x41",
	    "\xe0\x80\x80",
	    "\xe0\x9f\xbf",
	    "\xed\xa0\x80",
	    "\xed\xbf\xbf",
	    "\xe1\x80",
	    "\xf0\x80\x80\x80",
	    "\xf0\x8f\xbf\xbf",
	    "\xf4\x90\x80\x80",
	    "\xf5\x80\x80\x80",
	    "\xff",
	    "a\xc3",
	    "\xf0\x90\x80",
	    "\xe1\x80\xc0",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!cb_utf8_valid(good[i], strlen(good[i]))) {
			T_FAIL_AT("good #%zu refused", i);
			return;
		}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cb_utf8_valid(bad[i], strlen(bad[i]))) {
			T_FAIL_AT("bad #%zu accepted", i);
			return;
		}
	T_ASSERT(!cb_utf8_valid("a\0b", 3));
	/* The length is honoured: a sequence cut by it is invalid. */
	T_ASSERT(!cb_utf8_valid("\xc3\xa9", 1));
	T_ASSERT(cb_utf8_valid(NULL, 0));
}

/* ---- random trees ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random text from pieces that exercise escapes and multibyte order. */
static void rand_text(char *out, size_t cap)
{
	static const char *const pieces[] = {
	    "a",
	    "b",
	    "Z",
	    "0",
	    "_",
	    " ",
	    "\"",
	    "\\",
	    "/",
	    "\n",
	    "\t",
	    "\x01",
	    "\x1f",
	    "\x7f",
	    "\xc3\xa9",
	    "\xe2\x82\xac",
	    "\xef\xbf\xbf",
	    "\xf0\x9f\x98\x80",
	    "\xf4\x8f\xbf\xbf",
	};
	size_t n = (size_t)(rng_next() % 5), len = 0, i;

	for (i = 0; i < n; i++) {
		const char *p =
		    pieces[rng_next() % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t k = strlen(p);

		if (len + k + 1 > cap)
			break;
		memcpy(out + len, p, k);
		len += k;
	}
	out[len] = '\0';
}

static cJSON *rand_tree(int depth)
{
	unsigned kind = (unsigned)(rng_next() % (depth > 5 ? 2 : 4));
	char text[64];
	cJSON *v;
	int n, i;

	if (kind == 0)
		return cJSON_CreateNull();
	if (kind == 1) {
		rand_text(text, sizeof(text));
		return cJSON_CreateString(text);
	}
	n = (int)(rng_next() % 6);
	if (kind == 2) {
		v = cJSON_CreateArray();
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(v, rand_tree(depth + 1));
		return v;
	}
	v = cJSON_CreateObject();
	for (i = 0; i < n; i++) {
		rand_text(text, sizeof(text));
		if (cJSON_GetObjectItemCaseSensitive(v, text))
			continue; /* keep keys unique */
		cJSON_AddItemToObject(v, text, rand_tree(depth + 1));
	}
	return v;
}

/* Reorder every object's members at random, recursively. */
static void shuffle_members(cJSON *v)
{
	cJSON *items[64], *it;
	int n = 0, i, j;

	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return;
	for (it = v->child; it; it = it->next)
		shuffle_members(it);
	if (!cJSON_IsObject(v))
		return;
	while (v->child && n < 64)
		items[n++] = cJSON_DetachItemViaPointer(v, v->child);
	for (i = n - 1; i > 0; i--) {
		j = (int)(rng_next() % (uint64_t)(i + 1));
		it = items[i];
		items[i] = items[j];
		items[j] = it;
	}
	for (i = 0; i < n; i++) {
		/* AddItemToObject would copy the key; the item keeps it. */
		cJSON_AddItemToArray(v, items[i]);
	}
}

static void test_random_trees(void)
{
	struct cb_err err;
	int round;

	rng_state = t_seed();
	for (round = 0; round < 500; round++) {
		cJSON *a = rand_tree(0), *b, *c;
		char *ea, *eb, *ec;
		size_t la, lc;

		T_ASSERT(a != NULL);
		b = cJSON_Duplicate(a, 1);
		shuffle_members(b);
		if (cb_canon_encode(a, &ea, &la, &err) ||
		    cb_canon_encode(b, &eb, NULL, &err)) {
			T_FAIL_AT("round %d: %s", round, err.msg);
			return;
		}
		if (strcmp(ea, eb)) {
			T_FAIL_AT(
			    "round %d: order changed the encoding:\n%s\n%s",
			    round, ea, eb);
			return;
		}
		/* Round trip through cJSON's parser: identical bytes. */
		c = cJSON_ParseWithLength(ea, la);
		if (!c || cb_canon_encode(c, &ec, &lc, &err)) {
			T_FAIL_AT("round %d: canonical text %s did not parse "
				  "and re-encode",
				  round, ea);
			return;
		}
		if (lc != la || memcmp(ea, ec, la)) {
			T_FAIL_AT("round %d: %s came back as %s", round, ea,
				  ec);
			return;
		}
		/* No whitespace outside strings: a space or newline only
		 * ever appears inside a string, and newlines never at all. */
		T_ASSERT(strchr(ea, '\n') == NULL);
		T_ASSERT(strchr(ea, '\t') == NULL);
		free(ea);
		free(eb);
		free(ec);
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(c);
	}
}

int main(void)
{
	T_RUN(test_compact_and_sorted);
	T_RUN(test_escapes);
	T_RUN(test_refuses_non_strings);
	T_RUN(test_refuses_duplicate_keys);
	T_RUN(test_refuses_invalid_utf8);
	T_RUN(test_refuses_other_values);
	T_RUN(test_depth_cap);
	T_RUN(test_size_cap);
	T_RUN(test_utf8_valid);
	T_RUN(test_random_trees);
	return t_done();
}
