/*
 * json.c - bounded reading and parsing of JSON documents, with line and
 * column in parse errors, and small typed accessors used by every loader.
 */
#include "json.h"

#include "buf.h"
#include "canon.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Line and column (both from 1) of byte offset `upto`. Columns count
 * characters, not bytes, so a message points where an editor does.
 */
static void line_col(const char *text, size_t upto, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < upto; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if (c < 0x80 || c > 0xbf) {
			(*col)++;
		}
	}
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Check the JSON number at *pos (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?) and move *pos past it. Returns 0, or -1 for a
 * number cJSON would read but JSON does not allow (01, 1., .5, 1e).
 */
static int lex_number(const char *text, size_t len, size_t *pos)
{
	size_t j = *pos;

	if (text[j] == '-')
		j++;
	if (j >= len || !is_digit(text[j]))
		return -1;
	if (text[j] == '0') {
		j++;
		if (j < len && is_digit(text[j]))
			return -1;
	} else {
		while (j < len && is_digit(text[j]))
			j++;
	}
	if (j < len && text[j] == '.') {
		j++;
		if (j >= len || !is_digit(text[j]))
			return -1;
		while (j < len && is_digit(text[j]))
			j++;
	}
	if (j < len && (text[j] == 'e' || text[j] == 'E')) {
		j++;
		if (j < len && (text[j] == '+' || text[j] == '-'))
			j++;
		if (j >= len || !is_digit(text[j]))
			return -1;
		while (j < len && is_digit(text[j]))
			j++;
	}
	*pos = j;
	return 0;
}

/*
 * cJSON is lenient where JSON is not: it skips every byte below 0x21 as
 * white space, keeps raw control characters and invalid UTF-8 inside
 * strings, and reads numbers such as 01 or 1. This pass finds the first
 * such byte, so that what Casebook accepts is JSON, and stored text is
 * valid UTF-8. Returns its offset with *why set, or `len` when none.
 * Syntax errors are left to cJSON.
 */
static size_t lex_check(const char *text, size_t len, const char **why)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, need, string_at = 0;
	int in_string = 0;

	while (i < len) {
		unsigned char c = p[i];

		if (c == 0) {
			*why = "NUL byte";
			return i;
		}
		if (c >= 0x80) {
			need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (need > len - i || !cb_utf8_valid(text + i, need)) {
				*why = "invalid UTF-8";
				return i;
			}
			i += need;
			continue;
		}
		if (in_string) {
			if (c < 0x20) {
				*why = "control character in a string "
				       "(write it as an escape such as \\n)";
				return i;
			}
			if (c == '"')
				in_string = 0;
			/*
			 * cJSON would end the string at an escaped NUL and
			 * silently drop the rest of it.
			 */
			if (c == '\\' && len - i >= 6 &&
			    !memcmp(text + i, "\\u0000", 6)) {
				*why = "\\u0000 (NUL) in a string";
				return i;
			}
			/* Skip an escaped ASCII character; cJSON checks it. */
			i += (c == '\\' && i + 1 < len && p[i + 1] < 0x80) ? 2
									   : 1;
			continue;
		}
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			*why = "control character";
			return i;
		}
		if (c == '"') {
			in_string = 1;
			string_at = i;
		} else if (c == '-' || is_digit((char)c)) {
			if (lex_number(text, len, &i)) {
				*why = "malformed number";
				return i;
			}
			continue;
		}
		i++;
	}
	if (in_string) {
		*why = "string has no closing quote";
		return string_at;
	}
	return len;
}

/*
 * cJSON reports an error past the last byte as being on the last byte, so
 * "[1," and "[1,]" look alike. Parsing a copy with a space appended tells
 * them apart: a document cut short then fails past its original end.
 * Only called on the error path.
 */
static int error_at_end(const char *text, size_t len)
{
	const char *end = NULL;
	char *copy = malloc(len + 1);
	cJSON *root;
	int past;

	if (!copy)
		return 0;
	memcpy(copy, text, len);
	copy[len] = ' ';
	root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
	past = !root && end && end >= copy + len;
	cJSON_Delete(root);
	free(copy);
	return past;
}

/*
 * Set when an allocation cJSON asked for failed in this thread: cJSON
 * answers a parse that ran out of memory exactly as one that met bad
 * syntax, and "invalid JSON" would send a reader looking for damage in
 * a stored document that is whole.
 */
static _Thread_local int json_oom;

static void *json_malloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		json_oom = 1;
	return p;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* Memory from these hooks is malloc's, so trees made before they were
 * installed are freed the same way. */
static void hooks_install(void)
{
	cJSON_Hooks h = {json_malloc, free};

	cJSON_InitHooks(&h);
}

static int key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a,
		    *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Objects of at most this many members are compared pair by pair: an
 * event's changes are objects of three, and a push holds thousands. */
#define REPEAT_PAIRWISE_MAX 8

/* A member of object `obj` (n members) whose key another repeats, or
 * NULL; *oom is set when out of memory. */
static const cJSON *repeated_key(const cJSON *obj, size_t n, int *oom)
{
	const cJSON **keys, *c, *d, *hit = NULL;
	size_t i;

	if (n <= REPEAT_PAIRWISE_MAX) {
		for (c = obj->child; c; c = c->next)
			for (d = c->next; d; d = d->next)
				if (!strcmp(c->string, d->string))
					return d;
		return NULL;
	}
	keys = malloc(n * sizeof(*keys));
	if (!keys) {
		*oom = 1;
		return NULL;
	}
	for (i = 0, c = obj->child; c; c = c->next)
		keys[i++] = c;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 1; i < n && !hit; i++)
		if (!strcmp(keys[i - 1]->string, keys[i]->string))
			hit = keys[i];
	free(keys);
	return hit;
}

/*
 * The first member of an object under `node` whose key another member of
 * the same object repeats, or NULL. JSON leaves repeated keys undefined
 * and readers differ on which one wins (cJSON takes the first), so a
 * document that repeats one could mean one thing to the signer and
 * another to the reader: refuse it. *oom is set when out of memory. The
 * path of the object is written into path (cap bytes) on the way back.
 */
static const cJSON *find_repeat(const cJSON *node, char *path, size_t cap,
				int *oom)
{
	const cJSON *c, *hit = NULL;
	size_t n = 0, i;

	for (c = node->child; c; c = c->next)
		n++;
	if (cJSON_IsObject(node) && n > 1) {
		hit = repeated_key(node, n, oom);
		if (*oom)
			return node;
		if (hit) {
			snprintf(path, cap, "$");
			return hit;
		}
	}
	for (i = 0, c = node->child; c && !hit; c = c->next, i++) {
		hit = find_repeat(c, path, cap, oom);
		if (hit && !*oom) {
			char rest[160], q[64];

			/* Deep paths are cut short, keeping the top. */
			snprintf(rest, sizeof(rest), "%s", path + 1);
			if (cJSON_IsObject(node)) {
				cb_err_quote(c->string, q, sizeof(q));
				snprintf(path, cap, "$.%s%s", q, rest);
			} else {
				snprintf(path, cap, "$[%zu]%s", i, rest);
			}
		}
	}
	return hit;
}

cJSON *cb_json_parse(const char *text, size_t len, size_t max, const char *what,
		     struct cb_err *err)
{
	const char *end = NULL, *lex_why = NULL, *why = NULL;
	cJSON *root = NULL;
	size_t line, col, at, lex_at;
	int bad_syntax = 0;

	if (!what)
		what = "JSON";
	if (!text && len) {
		cb_err_set(err, CB_EINVAL, "%s: no text", what);
		return NULL;
	}
	if (!text)
		text = "";
	if (len > max) {
		cb_err_set(err, CB_ETOOBIG,
			   "%s is %zu bytes, over the limit of %zu", what, len,
			   max);
		return NULL;
	}
	lex_at = lex_check(text, len, &lex_why);
	at = len;
	/* Never hand cJSON a NUL inside the length it is given. */
	if (lex_at < len && text[lex_at] == '\0')
		goto fail;
	pthread_once(&hooks_once, hooks_install);
	json_oom = 0;
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root && json_oom) {
		cb_err_set(err, CB_ENOMEM, "%s: out of memory", what);
		return NULL;
	}
	if (!root) {
		if (!end || end < text || end > text + len)
			end = cJSON_GetErrorPtr();
		if (end && end >= text && end <= text + len)
			at = (size_t)(end - text);
		if (len > 0 && at == len - 1)
			at = error_at_end(text, len) ? len : at;
		why = at >= len ? "unexpected end of input" : NULL;
		bad_syntax = 1;
	} else {
		/* cJSON stops after the first value; only space may follow. */
		at = (size_t)(end - text);
		while (at < len && (text[at] == ' ' || text[at] == '\n' ||
				    text[at] == '\r' || text[at] == '\t'))
			at++;
		if (at < len) {
			why = "unexpected text after the document";
			bad_syntax = 1;
		}
	}
	if (!bad_syntax && lex_at >= len) {
		char path[256], q[80];
		int oom = 0;
		const cJSON *dup = find_repeat(root, path, sizeof(path), &oom);

		if (!dup)
			return root;
		if (!oom)
			cb_err_quote(dup->string, q, sizeof(q));
		cJSON_Delete(root);
		if (oom) {
			cb_err_set(err, CB_ENOMEM, "%s: out of memory", what);
			return NULL;
		}
		cb_err_set(err, CB_EINVAL,
			   "%s: invalid JSON: the object at %s has member "
			   "\"%s\" more than once",
			   what, path, q);
		return NULL;
	}
fail:
	cJSON_Delete(root);
	/* Report whichever of cJSON's complaint and ours comes first. */
	if (lex_at < len && (!bad_syntax || lex_at <= at)) {
		at = lex_at;
		why = lex_why;
	}
	assert(at <= len); /* the place of the fault is in the text */
	line_col(text, at, &line, &col);
	cb_err_set(err, CB_EINVAL,
		   "%s: invalid JSON at line %zu, column %zu%s%s", what, line,
		   col, why ? ": " : "", why ? why : "");
	return NULL;
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
		/* Room for 4 KiB more and the NUL; one byte over `max` is
		 * enough to see the file is too big. */
		if (cap - used < 4097) {
			size_t lim = max < SIZE_MAX - 2 ? max + 2 : SIZE_MAX;
			size_t need = used + 65536 < lim ? used + 65536 : lim;

			if (need > cap &&
			    (rc = cb_array_grow((void **)&buf, &cap, need, 1,
						SIZE_MAX, path, err)))
				goto out;
		}
		n = cap - used > 1 ? fread(buf + used, 1, cap - used - 1, f)
				   : 0;
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
				"%s is larger than the limit of %zu bytes",
				path, max);
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
		return cb_err_set(err, CB_EINVAL,
				  "%s: expected an integer, found %s", path,
				  cb_json_type_name(it));
	v = it->valuedouble;
	if (!isfinite(v) || floor(v) != v)
		return cb_err_set(err, CB_EINVAL,
				  "%s: expected an integer, found %.17g", path,
				  v);
	/*
	 * Compare in double, then also against 2^63: (double)LLONG_MAX rounds
	 * up to 2^63, which must not reach the conversion below.
	 */
	if (v < (double)lo || v > (double)hi || v >= 9223372036854775808.0 ||
	    v < -9223372036854775808.0)
		return cb_err_set(err, CB_EINVAL,
				  "%s: %.17g is outside %lld..%lld", path, v,
				  lo, hi);
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
