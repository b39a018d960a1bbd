/*
 * test_json.c - json.h: parse errors with line and column, trailing text,
 * NUL bytes, the size cap, strictness where cJSON alone is lenient
 * (control characters, invalid UTF-8, malformed numbers), input that is
 * not NUL-terminated, bounded file reads, and the typed accessors.
 */
#include "json.h"
#include "t.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parse `len` bytes copied into an exact-size buffer (no NUL after it),
 * so a read past the end shows under AddressSanitizer. */
static cJSON *parse_exact(const char *text, size_t len, size_t max,
			  struct cb_err *err)
{
	char *copy = malloc(len ? len : 1);
	cJSON *root;

	if (!copy)
		return NULL;
	memcpy(copy, text, len);
	root = cb_json_parse(copy, len, max, "doc.json", err);
	free(copy);
	return root;
}

/* Expect `text` to be refused with `msg` in the message. */
#define EXPECT_BAD(text, len, want_msg)                                        \
	do {                                                                   \
		struct cb_err e_;                                              \
		cJSON *r_;                                                     \
		cb_err_clear(&e_);                                             \
		r_ = parse_exact(text, len, CB_JSON_DOC_MAX, &e_);             \
		if (r_) {                                                      \
			cJSON_Delete(r_);                                      \
			T_FAIL_AT("accepted %s", #text);                       \
			return;                                                \
		}                                                              \
		T_EQ_INT(e_.code, CB_EINVAL);                                  \
		T_CONTAINS(e_.msg, want_msg);                                  \
	} while (0)

#define BAD(text, want_msg) EXPECT_BAD(text, sizeof(text) - 1, want_msg)

static void test_parse_ok(void)
{
	static const char doc[] = "\n  {\"a\": [1, \"x\", null, true],\r\n"
				  "\t\"b\": {\"c\": -0.5e+3}}  \n";
	struct cb_err err;
	cJSON *root;

	root = parse_exact(doc, sizeof(doc) - 1, CB_JSON_DOC_MAX, &err);
	T_ASSERT(root != NULL);
	T_EQ_INT(cJSON_GetArraySize(cb_json_arr(root, "a")), 4);
	cJSON_Delete(root);
	/* Exactly at the cap is fine; one byte over is not. */
	root = parse_exact("[\"ab\"]", 6, 6, &err);
	T_ASSERT(root != NULL);
	cJSON_Delete(root);
	cb_err_clear(&err);
	T_ASSERT(parse_exact("[\"ab\"]", 6, 5, &err) == NULL);
	T_EQ_INT(err.code, CB_ETOOBIG);
	T_CONTAINS(err.msg, "doc.json is 6 bytes, over the limit of 5");
	/* A scalar document is JSON too. */
	root = parse_exact("\"s\"", 3, 10, &err);
	T_ASSERT(cJSON_IsString(root));
	cJSON_Delete(root);
}

static void test_parse_error_position(void)
{
	BAD("{\n  \"a\": 1,\n  \"b\": }", "doc.json: invalid JSON at line 3, "
					  "column 8");
	BAD("[1,\n2,,3]", "line 2, column 3");
	BAD("{\"a\":", "line 1, column 6: unexpected end of input");
	BAD("", "unexpected end of input");
	BAD("   \n ", "line 2, column 2: unexpected end of input");
	BAD("[\"abc", "line 1, column 2: string has no closing quote");
	BAD("[\"a\\\"]", "line 1, column 2: string has no closing quote");
	/* Columns count characters: the e-acute is one column. */
	BAD("[\"\xc3\xa9\", x]", "line 1, column 7");
}

static void test_parse_trailing(void)
{
	struct cb_err err;
	cJSON *root;

	BAD("{} x", "line 1, column 4: unexpected text after the document");
	BAD("{}{}", "line 1, column 3: unexpected text after the document");
	BAD("[1]\n]", "line 2, column 1: unexpected text");
	BAD("\"a\" \"b\"", "unexpected text after the document");
	root = parse_exact("{} \r\n\t ", 7, 100, &err);
	T_ASSERT(root != NULL);
	cJSON_Delete(root);
}

static void test_parse_nul_byte(void)
{
	BAD("{\"a\":\"b\0c\"}", "line 1, column 8: NUL byte");
	BAD("[1]\0", "line 1, column 4: NUL byte");
	BAD("\0", "NUL byte");
	/* cJSON would read "a\u0000b" as "a": refused, not truncated. */
	BAD("[\"a\\u0000b\"]", "line 1, column 4: \\u0000 (NUL) in a string");
	BAD("{\"k\\u0000\":\"v\"}", "\\u0000 (NUL) in a string");
	{
		/* An escaped backslash before u0000 is just text. */
		struct cb_err err;
		cJSON *root = parse_exact("[\"a\\\\u0000\"]", 12, 100, &err);

		T_ASSERT(root != NULL);
		T_EQ_STR(cJSON_GetArrayItem(root, 0)->valuestring, "a\\u0000");
		cJSON_Delete(root);
	}
	/* An escaped NUL is a valid JSON string escape, not a NUL byte. */
	{
		struct cb_err err;
		cJSON *root = parse_exact("[\"a\\u0041\"]", 11, 100, &err);

		T_ASSERT(root != NULL);
		T_EQ_STR(cJSON_GetArrayItem(root, 0)->valuestring, "aA");
		cJSON_Delete(root);
	}
}

/* Where cJSON on its own would accept input that is not JSON. */
static void test_parse_strict(void)
{
	BAD("{\x01}", "line 1, column 2: control character");
	BAD("[1]\x0b", "line 1, column 4: control character");
	BAD("[\"a\nb\"]", "line 1, column 4: control character in a string");
	BAD("[\"a\tb\"]", "control character in a string");
	BAD("[\"caf\xe9\"]", "line 1, column 6: invalid UTF-8");
	BAD("[1,]", "line 1, column 4");
	BAD("[1,", "line 1, column 4: unexpected end of input");
	BAD("{\"\xc0\xaf\":\"1\"}", "invalid UTF-8");
	BAD("[\"\xed\xa0\x80\"]", "invalid UTF-8");
	BAD("[\"\xe2\x82\"]", "invalid UTF-8");
	BAD("[\"\xe2\x82", "invalid UTF-8");
	BAD("[01]", "line 1, column 2: malformed number");
	BAD("[1.]", "malformed number");
	BAD("[-01.5]", "malformed number");
	BAD("{\"a\":1.e5}", "malformed number");
	BAD("[1e]", "malformed number");
	BAD("[-]", "line 1, column 2");
	BAD("[.5]", "line 1, column 2");
	/* The first problem is the one reported, whichever check finds it. */
	BAD("[1,,\x01]", "line 1, column 4");
	BAD("[\x01,,]", "line 1, column 2: control character");
	BAD("[1] x\x01", "line 1, column 5: unexpected text");

	/* And what is JSON passes. */
	{
		static const char ok[] =
		    "[0, -0, 10, 1.5, -2.25e-3, 1E+2, \"\\\\\\\"\\n\","
		    " \"\xc3\xa9\xf0\x9f\x98\x80\", \"\\ud83d\\ude00\","
		    " \"\\u00e9\", \"a\\/b\"]";
		struct cb_err err;
		cJSON *root = parse_exact(ok, sizeof(ok) - 1, 1000, &err);

		if (!root) {
			T_FAIL_AT("refused valid JSON: %s", err.msg);
			return;
		}
		T_EQ_INT(cJSON_GetArraySize(root), 11);
		cJSON_Delete(root);
	}
}

static void test_parse_repeated_member(void)
{
	const char *text;
	struct cb_err err;
	cJSON *j;
	char *big;
	size_t i, n = 20000, pos = 0;

	j = cb_json_parse("{\"events\":[],\"events\":[1]}", 26, 1000, "push",
			  &err);
	T_ASSERT(j == NULL);
	T_EQ_INT(err.code, CB_EINVAL);
	T_ASSERT(strstr(err.msg, "member \"events\" more than once") != NULL);
	T_ASSERT(strstr(err.msg, "object at $ ") != NULL);
	/* Deep inside, named by its path. */
	text = "{\"a\":[{},{\"b\":{\"x\":1,\"y\":2,\"x\":3}}]}";
	j = cb_json_parse(text, strlen(text), 1000, "doc", &err);
	T_ASSERT(j == NULL);
	T_ASSERT(strstr(err.msg, "object at $.a[1].b has member \"x\"") !=
		 NULL);
	/* The same key in different objects is fine, as are many keys. */
	text = "[{\"a\":1},{\"a\":2,\"b\":{\"a\":3}}]";
	j = cb_json_parse(text, strlen(text), 1000, "doc", &err);
	T_ASSERT(j != NULL);
	cJSON_Delete(j);
	big = malloc(n * 16 + 16);
	T_ASSERT(big != NULL);
	big[pos++] = '{';
	for (i = 0; i < n; i++)
		pos += (size_t)snprintf(big + pos, 32, "%s\"k%zu\":%zu",
					i ? "," : "", i, i);
	big[pos++] = '}';
	j = cb_json_parse(big, pos, pos, "big", &err);
	T_ASSERT(j != NULL);
	cJSON_Delete(j);
	/* ...and one repeat among them, the last. */
	pos--;
	pos += (size_t)snprintf(big + pos, 32, ",\"k7\":0}");
	j = cb_json_parse(big, pos, pos, "big", &err);
	free(big);
	T_ASSERT(j == NULL);
	T_ASSERT(strstr(err.msg, "member \"k7\"") != NULL);
	/* Small objects are compared pair by pair, larger ones sorted: a
	 * repeat of the first key as the last member is found either way,
	 * at every size around the change. */
	for (n = 2; n <= 12; n++) {
		char doc[256];

		pos = 0;
		doc[pos++] = '{';
		for (i = 0; i < n; i++)
			pos += (size_t)snprintf(doc + pos, 16, "%s\"k%zu\":1",
						i ? "," : "", i);
		memcpy(doc + pos, "}", 2);
		j = cb_json_parse(doc, pos + 1, sizeof(doc), "doc", &err);
		T_ASSERT(j != NULL);
		cJSON_Delete(j);
		pos += (size_t)snprintf(doc + pos, 16, ",\"k0\":2}");
		j = cb_json_parse(doc, pos, sizeof(doc), "doc", &err);
		T_ASSERT(j == NULL);
		T_ASSERT(strstr(err.msg, "member \"k0\" more than once") !=
			 NULL);
	}
}

static void test_parse_not_terminated(void)
{
	static const char *const docs[] = {
	    "[\"abc\"]", "{\"k\":\"v\"}", "[\"abc", "{\"k\":",	  "[1",
	    "tru",	 "\"\\u00",	  "[12345", "{\"a\":[[[",
	};
	struct cb_err err;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cJSON *root = parse_exact(docs[i], strlen(docs[i]), 100, &err);

		T_EQ_INT(root != NULL, i < 2);
		cJSON_Delete(root);
	}
	/* A length shorter than the text: only that much is read. */
	{
		cJSON *root = cb_json_parse("[1] garbage", 3, 100, NULL, &err);

		T_ASSERT(root != NULL);
		cJSON_Delete(root);
	}
	T_ASSERT(cb_json_parse(NULL, 0, 100, "x", &err) == NULL);
	T_ASSERT(cb_json_parse(NULL, 5, 100, "x", &err) == NULL);
	T_EQ_INT(err.code, CB_EINVAL);
}

/* ---- files ------------------------------------------------------------- */

static char tmpdir[64];

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	size_t n;

	if (!f)
		return -1;
	n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static void test_file_read(void)
{
	char path[128], *buf, *big;
	struct cb_err err;
	size_t len, big_len = 200000, i;

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	T_EQ_INT(write_file(path, "", 0), 0);
	T_EQ_INT(cb_file_read(path, 10, &buf, &len, &err), 0);
	T_EQ_INT(len, 0);
	T_EQ_STR(buf, "");
	free(buf);
	T_EQ_INT(cb_file_read(path, 0, &buf, &len, &err), 0);
	free(buf);

	/* Bigger than the first buffer, to exercise growth, and the cap. */
	big = malloc(big_len);
	T_ASSERT(big != NULL);
	for (i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	snprintf(path, sizeof(path), "%s/big", tmpdir);
	T_EQ_INT(write_file(path, big, big_len), 0);
	T_EQ_INT(cb_file_read(path, big_len, &buf, &len, &err), 0);
	T_EQ_INT(len, big_len);
	T_ASSERT(memcmp(buf, big, big_len) == 0);
	T_EQ_INT(buf[len], '\0');
	free(buf);
	T_EQ_INT(cb_file_read(path, (size_t)-1, &buf, &len, &err), 0);
	T_EQ_INT(len, big_len);
	free(buf);
	cb_err_clear(&err);
	T_EQ_INT(cb_file_read(path, big_len - 1, &buf, &len, &err), CB_ETOOBIG);
	T_ASSERT(buf == NULL);
	T_CONTAINS(err.msg, "larger than the limit of 199999 bytes");
	T_EQ_INT(cb_file_read(path, 10, &buf, NULL, &err), CB_ETOOBIG);
	free(big);

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	T_EQ_INT(cb_file_read(path, 10, &buf, &len, &err), CB_ENOTFOUND);
	T_CONTAINS(err.msg, "missing");
	T_EQ_INT(cb_file_read(tmpdir, 10, &buf, &len, &err), CB_EIO);
}

static void test_load_file(void)
{
	char path[128];
	struct cb_err err;
	cJSON *root;

	snprintf(path, sizeof(path), "%s/p.json", tmpdir);
	T_EQ_INT(write_file(path, "{\"id\":\"x\"}\n", 11), 0);
	root = cb_json_load_file(path, 100, &err);
	T_ASSERT(root != NULL);
	T_EQ_STR(cb_json_str(root, "id"), "x");
	cJSON_Delete(root);
	T_ASSERT(cb_json_load_file(path, 5, &err) == NULL);
	T_EQ_INT(err.code, CB_ETOOBIG);
	T_EQ_INT(write_file(path, "{\"id\":\n\"x\"", 10), 0);
	T_ASSERT(cb_json_load_file(path, 100, &err) == NULL);
	T_CONTAINS(err.msg, path);
	T_CONTAINS(err.msg, "line 2, column 4: unexpected end of input");
}

/* ---- accessors --------------------------------------------------------- */

static void test_accessors(void)
{
	static const char doc[] =
	    "{\"s\":\"text\",\"n\":3,\"o\":{},\"a\":[],\"z\":null,"
	    "\"t\":true}";
	struct cb_err err;
	cJSON *root = parse_exact(doc, sizeof(doc) - 1, 1000, &err);

	T_ASSERT(root != NULL);
	T_EQ_STR(cb_json_str(root, "s"), "text");
	T_ASSERT(cb_json_str(root, "n") == NULL);
	T_ASSERT(cb_json_str(root, "S") == NULL);
	T_ASSERT(cb_json_str(root, "missing") == NULL);
	T_ASSERT(cb_json_obj(root, "o") != NULL);
	T_ASSERT(cb_json_obj(root, "a") == NULL);
	T_ASSERT(cb_json_arr(root, "a") != NULL);
	T_ASSERT(cb_json_arr(root, "o") == NULL);
	T_ASSERT(cb_json_str(NULL, "s") == NULL);
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "s")), "a string");
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "n")), "a number");
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "o")),
		 "an object");
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "a")), "an array");
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "z")), "null");
	T_EQ_STR(cb_json_type_name(cJSON_GetObjectItem(root, "t")),
		 "a boolean");
	T_EQ_STR(cb_json_type_name(NULL), "nothing");
	cJSON_Delete(root);
}

static void test_json_int(void)
{
	static const char doc[] =
	    "{\"day\":14,\"neg\":-7,\"half\":1.5,\"s\":\"3\",\"big\":1e300,"
	    "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
	    "\"exact\":12345678901}";
	struct cb_err err;
	long long v = 42;
	cJSON *root = parse_exact(doc, sizeof(doc) - 1, 1000, &err);

	T_ASSERT(root != NULL);
	T_EQ_INT(cb_json_int(root, "day", 0, 100, &v, "$.day", &err), 0);
	T_EQ_INT(v, 14);
	T_EQ_INT(cb_json_int(root, "neg", -10, 0, &v, "$.neg", &err), 0);
	T_EQ_INT(v, -7);
	T_EQ_INT(cb_json_int(root, "nope", 0, 1, &v, "$.nope", &err),
		 CB_ENOTFOUND);
	T_EQ_INT(v, -7);
	T_EQ_INT(cb_json_int(root, "half", 0, 10, &v, "$.half", &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "$.half: expected an integer, found 1.5");
	T_EQ_INT(cb_json_int(root, "s", 0, 10, &v, "$.s", &err), CB_EINVAL);
	T_CONTAINS(err.msg, "$.s: expected an integer, found a string");
	T_EQ_INT(cb_json_int(root, "day", 15, 20, &v, "$.visits[2].day", &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "$.visits[2].day: 14 is outside 15..20");
	T_EQ_INT(
	    cb_json_int(root, "big", LLONG_MIN, LLONG_MAX, &v, "$.big", &err),
	    CB_EINVAL);
	/* 2^63 passes a double comparison with LLONG_MAX; it must not be
	 * converted (that would overflow). */
	v = 42;
	T_EQ_INT(
	    cb_json_int(root, "max", LLONG_MIN, LLONG_MAX, &v, "$.max", &err),
	    CB_EINVAL);
	T_EQ_INT(v, 42);
	T_EQ_INT(
	    cb_json_int(root, "min", LLONG_MIN, LLONG_MAX, &v, "$.min", &err),
	    0);
	T_EQ_INT(v, LLONG_MIN);
	/* Whole numbers print whole in messages, however large. */
	T_EQ_INT(cb_json_int(root, "exact", 0, 10, &v, "$.exact", &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "12345678901 is outside 0..10");
	cJSON_Delete(root);
}

static void test_print(void)
{
	struct cb_err err;
	cJSON *root = parse_exact("{ \"a\" : [ 1 , \"b\" ] }", 21, 100, &err);
	char *s;

	T_ASSERT(root != NULL);
	s = cb_json_print(root);
	T_EQ_STR(s, "{\"a\":[1,\"b\"]}");
	cJSON_free(s);
	cJSON_Delete(root);
}

int main(void)
{
	char cmd[96];

	const char *base = getenv("TMPDIR");

	if (!base || !*base || strlen(base) > 40)
		base = "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/cbjsonXXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: cannot make a temporary directory\n");
		return 1;
	}
	T_RUN(test_parse_ok);
	T_RUN(test_parse_error_position);
	T_RUN(test_parse_trailing);
	T_RUN(test_parse_nul_byte);
	T_RUN(test_parse_strict);
	T_RUN(test_parse_not_terminated);
	T_RUN(test_parse_repeated_member);
	T_RUN(test_file_read);
	T_RUN(test_load_file);
	T_RUN(test_accessors);
	T_RUN(test_json_int);
	T_RUN(test_print);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("note: could not remove %s\n", tmpdir);
	return t_done();
}
