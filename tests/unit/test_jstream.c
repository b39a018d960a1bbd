/*
 * test_jstream.c - a JSON document read from a file one value at a time
 * (common/jstream.h): what is handed over, in which order, and what is
 * refused.
 */
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "jstream.h"

/* A temporary file holding `text`, opened for reading at its start. */
static int file_of(const char *text)
{
	char path[] = "/tmp/test_jstream.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Each call as "PATH=VALUE;" (VALUE printed compact, or "end"). */
static int record(void *ctx, const char *path, const cJSON *value)
{
	struct cb_buf *b = ctx;
	char *text = value ? cJSON_PrintUnformatted(value) : NULL;
	int rc = cb_buf_printf(b, NULL, "%s=%s;", path, text ? text : "end");

	cJSON_free(text);
	return rc;
}

/* Walk `text` with `open`: 0 and the calls in out, or the error. */
static int walk(const char *text, const char *const *open, size_t max,
		struct cb_buf *out, struct cb_err *err)
{
	int fd = file_of(text), rc;

	cb_buf_init(out, 1 << 20);
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "temporary file");
	rc = cb_jstream_walk(fd, open, max, "doc", record, out, err);
	close(fd);
	return rc;
}

static const char *const reply_open[] = {
    "", "push", "push.results", "pull", "pull[]", "pull[].events", NULL};

static void test_reply_shape(void)
{
	const char *doc =
	    " {\"format\":\"casebook-reply/1\",\"push\":{\"results\":"
	    "[{\"id\":\"a\",\"status\":\"accepted\"},{\"id\":\"b\"}],"
	    "\"n\":2},\n\"pull\":[{\"events\":[{\"id\":\"e1\",\"v\":[1,2]},"
	    "{\"id\":\"e2\",\"t\":\"x]}\\\"y\"}],\"next\":\"5\",\"more\":true},"
	    "{\"events\":[],\"next\":\"6\",\"more\":false}],\"slots\":{\"a\":"
	    "[]}} \n";
	struct cb_buf out;
	struct cb_err err;

	T_EQ_INT(walk(doc, reply_open, 4096, &out, &err), 0);
	T_EQ_STR(cb_buf_str(&out),
		 "format=\"casebook-reply/1\";"
		 "push.results[]={\"id\":\"a\",\"status\":\"accepted\"};"
		 "push.results[]={\"id\":\"b\"};push.results=end;"
		 "push.n=2;push=end;"
		 "pull[].events[]={\"id\":\"e1\",\"v\":[1,2]};"
		 "pull[].events[]={\"id\":\"e2\",\"t\":\"x]}\\\"y\"};"
		 "pull[].events=end;pull[].next=\"5\";pull[].more=true;"
		 "pull[]=end;pull[].events=end;pull[].next=\"6\";"
		 "pull[].more=false;pull[]=end;pull=end;"
		 "slots={\"a\":[]};=end;");
	cb_buf_free(&out);
}

/* Nothing opened: the whole document is one value. */
static void test_nothing_opened(void)
{
	static const char *const none[] = {NULL};
	struct cb_buf out;
	struct cb_err err;

	T_EQ_INT(walk("[1, \"two\", {\"x\": null}]", none, 4096, &out, &err),
		 0);
	T_EQ_STR(cb_buf_str(&out), "=[1,\"two\",{\"x\":null}];");
	cb_buf_free(&out);
	T_EQ_INT(walk("  42  ", reply_open, 4096, &out, &err), 0);
	T_EQ_STR(cb_buf_str(&out), "=42;");
	cb_buf_free(&out);
}

static void test_refused(void)
{
	static const struct {
		const char *doc, *why;
		int code;
	} bad[] = {
	    {"{\"a\":1,\"a\":2}", "more than once", CB_EINVAL},
	    {"{\"push\":{\"x\":1,\"x\":1}}", "more than once", CB_EINVAL},
	    {"{\"a\":{\"b\":1,\"b\":2}}", "", CB_EINVAL}, /* cb_json_parse's */
	    {"{\"a\":1", "expected", CB_EINVAL},
	    {"{\"a\":[1,2}", "", CB_EINVAL},
	    {"{\"a\":\"unterminated}", "does not end", CB_EINVAL},
	    {"{\"a\":1} x", "follows", CB_EINVAL},
	    {"{\"a\" 1}", "':'", CB_EINVAL},
	    {"{1:2}", "member name", CB_EINVAL},
	    {"", "missing", CB_EINVAL},
	    {"{\"a\":}", "missing", CB_EINVAL},
	    {"{\"pull\":[{\"events\":[\"" /* a value over the cap */
	     "0123456789012345678901234567890123456789\"]}]}",
	     "over", CB_ETOOBIG},
	};
	struct cb_buf out;
	struct cb_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_err_clear(&err);
		if (walk(bad[i].doc, reply_open, 32, &out, &err) !=
			bad[i].code ||
		    !strstr(err.msg, bad[i].why)) {
			T_FAIL_AT("document %zu: code %d, '%s'", i, err.code,
				  err.msg);
			cb_buf_free(&out);
			return;
		}
		cb_buf_free(&out);
	}
}

/* A callback's error stops the walk and is returned. */
static int stop_at_second(void *ctx, const char *path, const cJSON *value)
{
	int *n = ctx;

	(void)path;
	if (value && ++*n == 2)
		return CB_ECONFLICT;
	return 0;
}

static void test_callback_stops(void)
{
	static const char *const open[] = {"", "a", NULL};
	struct cb_err err;
	int fd = file_of("{\"a\":[1,2,3]}"), n = 0;

	T_ASSERT(fd >= 0);
	T_EQ_INT(
	    cb_jstream_walk(fd, open, 100, "doc", stop_at_second, &n, &err),
	    CB_ECONFLICT);
	T_EQ_INT(n, 2);
	close(fd);
}

/* Many elements, each handed over alone: the capture never holds more
 * than one (its cap is far below the document). */
static int count(void *ctx, const char *path, const cJSON *value)
{
	size_t *n = ctx;

	if (value && !strcmp(path, "pull[].events[]"))
		(*n)++;
	return 0;
}

static void test_many_elements(void)
{
	struct cb_buf doc;
	struct cb_err err;
	size_t i, n = 0;
	int fd;

	cb_buf_init(&doc, 64 << 20);
	T_EQ_INT(cb_buf_addstr(&doc, "{\"pull\":[{\"events\":[", &err), 0);
	for (i = 0; i < 20000; i++)
		T_EQ_INT(cb_buf_printf(&doc, &err,
				       "%s{\"id\":\"%zu\",\"pad\":\"%0200zu\"}",
				       i ? "," : "", i, i),
			 0);
	T_EQ_INT(
	    cb_buf_addstr(&doc, "],\"next\":\"1\",\"more\":false}]}", &err), 0);
	fd = file_of(cb_buf_str(&doc));
	cb_buf_free(&doc);
	T_ASSERT(fd >= 0);
	T_EQ_INT(cb_jstream_walk(fd, reply_open, 300, "doc", count, &n, &err),
		 0);
	T_EQ_INT(n, 20000);
	close(fd);
}

int main(void)
{
	T_RUN(test_reply_shape);
	T_RUN(test_nothing_opened);
	T_RUN(test_refused);
	T_RUN(test_callback_stops);
	T_RUN(test_many_elements);
	return t_done();
}
