/*
 * jstream.c - a JSON document read from a file one value at a time (see
 * jstream.h).
 *
 * The reader finds where each value ends (strings with their escapes,
 * nested brackets) without judging it; whatever it captures is then
 * parsed by cb_json_parse, which does the judging. Only the opened
 * containers are taken apart here: their brackets, commas, colons and
 * member names.
 */
#include "jstream.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"

#define READ_CHUNK 65536
/* Longest member name of an opened object. */
#define NAME_MAX_LEN 200

struct reader {
	int fd;
	unsigned char buf[READ_CHUNK];
	size_t pos, len;
	long long off; /* bytes consumed before buf */
	int eof;
	const char *what;
	const char *const *open;
	size_t value_max;
	cb_jstream_fn fn;
	void *ctx;
	struct cb_buf value; /* the value being captured */
	struct cb_err *err;
};

static long long where(const struct reader *r)
{
	return r->off + (long long)r->pos;
}

static int bad(struct reader *r, const char *why)
{
	return cb_err_set(r->err, CB_EINVAL, "%s: %s at byte %lld", r->what,
			  why, where(r));
}

/* The next byte without taking it: 0..255, -1 at the end, or an error. */
static int peek(struct reader *r)
{
	ssize_t n;

	if (r->pos < r->len)
		return r->buf[r->pos];
	if (r->eof)
		return -1;
	r->off += (long long)r->len;
	r->pos = r->len = 0;
	do {
		n = read(r->fd, r->buf, sizeof(r->buf));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return cb_err_set(r->err, CB_EIO, "%s: %s", r->what,
				  strerror(errno)) -
		       1000;
	if (n == 0) {
		r->eof = 1;
		return -1;
	}
	r->len = (size_t)n;
	return r->buf[0];
}

/* An error code from peek/get (they return it offset by -1000). */
static int io_rc(int c)
{
	return c + 1000;
}

static int skip_ws(struct reader *r)
{
	int c;

	while ((c = peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		r->pos++;
	return c;
}

/* Take the next byte into the capture. */
static int take(struct reader *r, int c)
{
	char ch = (char)c;

	r->pos++;
	return cb_buf_add(&r->value, &ch, 1, r->err);
}

/* Capture a string (its quotes included); the opening quote is next. */
static int capture_string(struct reader *r)
{
	int c, rc = take(r, '"');

	while (!rc) {
		c = peek(r);
		if (c < -1)
			return io_rc(c);
		if (c < 0)
			return bad(r, "a string does not end");
		rc = take(r, c);
		if (rc || c == '"')
			break;
		if (c == '\\') {
			c = peek(r);
			if (c < -1)
				return io_rc(c);
			if (c < 0)
				return bad(r, "a string does not end");
			rc = take(r, c);
		}
	}
	return rc;
}

/*
 * 1 when s (len bytes) is one JSON string: quotes around characters of
 * code 0x20 and up, every escape one of \" \\ \/ \b \f \n \r \t \uXXXX
 * (a surrogate \uD800..\uDFFF counts as not well formed: cJSON judges it).
 */
static int string_well_formed(const char *s, size_t len)
{
	size_t i, k;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return 0;
	for (i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == '"')
			return 0;
		if (c != '\\')
			continue;
		if (++i + 1 >= len)
			return 0;
		if (s[i] && strchr("\"\\/bfnrt", s[i]))
			continue;
		if (s[i] != 'u' || i + 5 >= len)
			return 0;
		for (k = 1; k <= 4; k++)
			if (!isxdigit((unsigned char)s[i + k]))
				return 0;
		/* A surrogate escape may be unpaired: leave it to cJSON
		 * (malformed, not out of memory). */
		if ((s[i + 1] == 'd' || s[i + 1] == 'D') &&
		    strchr("89abcdefABCDEF", s[i + 2]))
			return 0;
		i += 4;
	}
	return 1;
}

/* Capture one value, whatever it is, into r->value. */
static int capture(struct reader *r)
{
	int c, depth = 0, rc = 0;

	cb_buf_reset(&r->value);
	c = skip_ws(r);
	for (;;) {
		if (c < -1)
			return io_rc(c);
		if (c < 0)
			return depth
				   ? bad(r, "the document ends inside a value")
				   : (cb_buf_len(&r->value)
					  ? 0
					  : bad(r, "a value is missing"));
		if (c == '"') {
			rc = capture_string(r);
		} else if (c == '{' || c == '[') {
			depth++;
			rc = take(r, c);
		} else if (c == '}' || c == ']') {
			if (!depth)
				return cb_buf_len(&r->value)
					   ? 0
					   : bad(r, "a value is missing");
			depth--;
			rc = take(r, c);
		} else if (!depth && (c == ',' || c == ' ' || c == '\t' ||
				      c == '\n' || c == '\r')) {
			return cb_buf_len(&r->value)
				   ? 0
				   : bad(r, "a value is missing");
		} else {
			rc = take(r, c);
		}
		if (rc)
			return rc == CB_ETOOBIG
				   ? cb_err_set(r->err, CB_ETOOBIG,
						"%s: a value at byte %lld is "
						"over %zu bytes",
						r->what, where(r), r->value_max)
				   : rc;
		if (!depth && (c == '"' || c == '}' || c == ']'))
			return 0; /* a string or a container ended */
		c = peek(r);
	}
}

static int is_open(const struct reader *r, const char *path)
{
	const char *const *o;

	for (o = r->open; o && *o; o++)
		if (!strcmp(*o, path))
			return 1;
	return 0;
}

/* Capture the value that comes next, parse it and hand it over. */
static int hand_over(struct reader *r, const char *path)
{
	cJSON *v;
	int rc = capture(r);

	if (rc)
		return rc;
	v = cb_json_parse(cb_buf_str(&r->value), cb_buf_len(&r->value),
			  r->value_max, r->what, r->err);
	if (!v)
		return r->err->code ? r->err->code : CB_EINVAL;
	rc = r->fn(r->ctx, path, v);
	cJSON_Delete(v);
	return rc;
}

static int walk(struct reader *r, const char *path);

/* "parent.name" or "parent[]" into out. */
static int child_path(struct reader *r, char *out, const char *parent,
		      const char *name)
{
	int n = name ? snprintf(out, CB_JSTREAM_PATH_MAX, "%s%s%s", parent,
				parent[0] ? "." : "", name)
		     : snprintf(out, CB_JSTREAM_PATH_MAX, "%s[]", parent);

	if (n < 0 || n >= CB_JSTREAM_PATH_MAX)
		return bad(r, "values are nested too deep");
	return 0;
}

/* The members of an opened object; its '{' is next. */
static int walk_object(struct reader *r, const char *path)
{
	char child[CB_JSTREAM_PATH_MAX];
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int c, rc = 0;

	r->pos++; /* '{' */
	c = skip_ws(r);
	if (c == '}') {
		r->pos++;
		return r->fn(r->ctx, path, NULL);
	}
	while (!rc) {
		cJSON *name;

		c = skip_ws(r);
		if (c != '"') {
			rc = c < -1 ? io_rc(c)
				    : bad(r, "a member name is expected");
			break;
		}
		cb_buf_reset(&r->value);
		rc = capture_string(r);
		if (rc)
			break;
		name = cJSON_ParseWithLength(cb_buf_str(&r->value),
					     cb_buf_len(&r->value));
		/* cJSON says NULL both for bad text and for no memory: a
		 * well-formed string that does not parse is the latter. */
		if (!name && string_well_formed(cb_buf_str(&r->value),
						cb_buf_len(&r->value))) {
			rc = cb_err_set(r->err, CB_ENOMEM, "out of memory");
			break;
		}
		/* NULL here: text that is not a string */
		if (!name || !cJSON_IsString(name) ||
		    strlen(name->valuestring) > NAME_MAX_LEN) {
			cJSON_Delete(name);
			rc = bad(r, "a member name is not a string");
			break;
		}
		for (i = 0; i < n && strcmp(names[i], name->valuestring); i++)
			;
		if (i < n) {
			rc = cb_err_set(r->err, CB_EINVAL,
					"%s: member \"%s\" of %s appears more "
					"than once",
					r->what, name->valuestring,
					path[0] ? path : "the document");
			cJSON_Delete(name);
			break;
		}
		rc = cb_array_grow((void **)&names, &cap, n + 1, sizeof(*names),
				   4096, "members", r->err);
		if (!rc && !(names[n] = strdup(name->valuestring)))
			rc = cb_err_set(r->err, CB_ENOMEM, "out of memory");
		if (!rc)
			n++;
		if (!rc)
			rc = child_path(r, child, path, name->valuestring);
		cJSON_Delete(name);
		if (rc)
			break;
		if (skip_ws(r) != ':') {
			rc = bad(r, "':' is expected");
			break;
		}
		r->pos++;
		rc = walk(r, child);
		if (rc)
			break;
		c = skip_ws(r);
		if (c == ',') {
			r->pos++;
			continue;
		}
		if (c == '}') {
			r->pos++;
			rc = r->fn(r->ctx, path, NULL);
			break;
		}
		rc = c < -1 ? io_rc(c) : bad(r, "',' or '}' is expected");
	}
	while (n)
		free(names[--n]);
	free(names);
	return rc;
}

/* The elements of an opened array; its '[' is next. */
static int walk_array(struct reader *r, const char *path)
{
	char child[CB_JSTREAM_PATH_MAX];
	int c, rc;

	r->pos++; /* '[' */
	rc = child_path(r, child, path, NULL);
	if (rc)
		return rc;
	c = skip_ws(r);
	if (c == ']') {
		r->pos++;
		return r->fn(r->ctx, path, NULL);
	}
	for (;;) {
		rc = walk(r, child);
		if (rc)
			return rc;
		c = skip_ws(r);
		if (c == ',') {
			r->pos++;
			continue;
		}
		if (c == ']') {
			r->pos++;
			return r->fn(r->ctx, path, NULL);
		}
		return c < -1 ? io_rc(c) : bad(r, "',' or ']' is expected");
	}
}

static int walk(struct reader *r, const char *path)
{
	int c = skip_ws(r);

	if (c < -1)
		return io_rc(c);
	if (is_open(r, path) && c == '{')
		return walk_object(r, path);
	if (is_open(r, path) && c == '[')
		return walk_array(r, path);
	return hand_over(r, path);
}

int cb_jstream_walk(int fd, const char *const *open, size_t value_max,
		    const char *what, cb_jstream_fn fn, void *ctx,
		    struct cb_err *err)
{
	struct reader *r = calloc(1, sizeof(*r));
	int rc, c;

	if (!r)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	r->fd = fd;
	r->what = what ? what : "JSON";
	r->open = open;
	r->value_max = value_max;
	r->fn = fn;
	r->ctx = ctx;
	r->err = err;
	/* The capture holds one value: the cap, and room for its end. */
	cb_buf_init(&r->value, value_max);
	rc = walk(r, "");
	if (!rc) {
		c = skip_ws(r);
		if (c < -1)
			rc = io_rc(c);
		else if (c >= 0)
			rc = bad(r, "something follows the document");
	}
	cb_buf_free(&r->value);
	free(r);
	return rc;
}
