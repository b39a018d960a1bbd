/*
 * json.c - bounded reading and parsing of JSON documents, with line and
 * column in parse errors, and small typed accessors used by every loader.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void line_col(const char *text, size_t upto, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < upto; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

cJSON *cb_json_parse(const char *text, size_t len, size_t max,
		     const char *what, struct cb_err *err)
{
	const char *end = NULL;
	cJSON *root;
	size_t line, col, at;

	if (!what)
		what = "JSON";
	if (len > max) {
		cb_err_set(err, CB_ETOOBIG, "%s is %zu bytes, over the limit of %zu",
			   what, len, max);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		at = (size_t)((const char *)memchr(text, '\0', len) - text);
		line_col(text, at, &line, &col);
		cb_err_set(err, CB_EINVAL,
			   "%s: invalid JSON at line %zu, column %zu: NUL byte",
			   what, line, col);
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		if (!end || end < text || end > text + len)
			end = cJSON_GetErrorPtr();
		at = (end && end >= text && end <= text + len) ? (size_t)(end - text)
							       : len;
		line_col(text, at, &line, &col);
		if (at >= len)
			cb_err_set(err, CB_EINVAL,
				   "%s: invalid JSON at line %zu, column %zu: "
				   "unexpected end of input",
				   what, line, col);
		else
			cb_err_set(err, CB_EINVAL,
				   "%s: invalid JSON at line %zu, column %zu",
				   what, line, col);
		return NULL;
	}
	/* cJSON stops after the first value; anything but space is garbage. */
	at = (size_t)(end - text);
	while (at < len && (text[at] == ' ' || text[at] == '\n' ||
			    text[at] == '\r' || text[at] == '\t'))
		at++;
	if (at < len) {
		line_col(text, at, &line, &col);
		cb_err_set(err, CB_EINVAL,
			   "%s: invalid JSON at line %zu, column %zu: "
			   "unexpected text after the document",
			   what, line, col);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int cb_file_read(const char *path, size_t max, char **out, size_t *len,
		 struct cb_err *err)
{
	FILE *f;
	char *buf = NULL;
	size_t used = 0, cap = 0, n;
	int rc = 0;

	*out = NULL;
	if (len)
		*len = 0;
	f = fopen(path, "rb");
	if (!f)
		return cb_err_set(err, errno == ENOENT ? CB_ENOTFOUND : CB_EIO,
				  "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		if (cap - used < 4096) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= used) {
				rc = cb_err_set(err, CB_ETOOBIG,
						"%s is larger than the limit of %zu bytes",
						path, max);
				goto out;
			}
			nbuf = realloc(buf, ncap + 1);
			if (!nbuf) {
				rc = cb_err_set(err, CB_ENOMEM, "out of memory reading %s",
						path);
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = fread(buf + used, 1, cap - used, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = cb_err_set(err, CB_EIO, "cannot read %s", path);
		goto out;
	}
	if (used > max) {
		rc = cb_err_set(err, CB_ETOOBIG,
				"%s is larger than the limit of %zu bytes", path, max);
		goto out;
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			goto out;
		}
	}
	buf[used] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = used;
out:
	free(buf);
	fclose(f);
	return rc;
}

cJSON *cb_json_load_file(const char *path, size_t max, struct cb_err *err)
{
	char *text;
	size_t len;
	cJSON *root;

	if (cb_file_read(path, max, &text, &len, err))
		return NULL;
	root = cb_json_parse(text, len, max, path, err);
	free(text);
	return root;
}

const char *cb_json_str(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

const cJSON *cb_json_obj(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsObject(it) ? it : NULL;
}

const cJSON *cb_json_arr(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsArray(it) ? it : NULL;
}

int cb_json_int(const cJSON *obj, const char *key, long long lo, long long hi,
		long long *out, const char *path, struct cb_err *err)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	double v;

	if (!it)
		return CB_ENOTFOUND;
	if (!cJSON_IsNumber(it))
		return cb_err_set(err, CB_EINVAL, "%s: expected an integer, found %s",
				  path, cb_json_type_name(it));
	v = it->valuedouble;
	if (!isfinite(v) || floor(v) != v)
		return cb_err_set(err, CB_EINVAL, "%s: expected an integer, found %g",
				  path, v);
	if (v < (double)lo || v > (double)hi)
		return cb_err_set(err, CB_EINVAL,
				  "%s: %g is outside %lld..%lld", path, v, lo, hi);
	*out = (long long)v;
	return 0;
}

const char *cb_json_type_name(const cJSON *item)
{
	if (!item)
		return "nothing";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	return "an invalid value";
}

char *cb_json_print(const cJSON *item)
{
	return cJSON_PrintUnformatted(item);
}
