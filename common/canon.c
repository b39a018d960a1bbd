/*
 * canon.c - the one canonical JSON encoding of a cJSON tree, the bytes
 * that events are hashed and signed over (see canon.h for the rules).
 *
 * The encoder walks the tree once, sorting each object's members by key
 * bytes, and refuses anything that would make two encodings of one value
 * possible. The JSON path of an offending value is rendered only when an
 * error is reported: on the good path each level just links a small
 * segment record on the stack.
 */
#include "canon.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step from the root to the value being encoded. */
struct seg {
	const struct seg *up; /* NULL at the root's children */
	const char *key;      /* member name, or NULL for an array element */
	size_t index;	      /* array index when key is NULL */
};

/* Longest rendered path in a message; longer paths end in "...". */
#define PATH_TEXT_MAX 320

static int is_ident_key(const char *k)
{
	size_t i;

	if (!((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z') ||
	      k[0] == '_'))
		return 0;
	for (i = 1; k[i]; i++) {
		char c = k[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

struct text {
	char *p;
	size_t len, cap; /* cap includes room for the NUL */
	int full;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->full || t->len + 1 >= t->cap) {
		t->full = 1;
		return;
	}
	if (t->len + n + 1 > t->cap) {
		n = t->cap - 1 - t->len;
		t->full = 1;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

/*
 * A key in a path: .name for identifier-like keys, else ["..."] with
 * quotes, backslashes and control characters escaped. Bytes of a key that
 * is not valid UTF-8 are shown as \xNN so the message itself stays valid.
 */
static void put_key(struct text *t, const char *k)
{
	size_t n = strlen(k), i;
	int utf8 = cb_utf8_valid(k, n);
	char esc[8];

	if (is_ident_key(k)) {
		text_put(t, ".", 1);
		text_put(t, k, n);
		return;
	}
	text_put(t, "[\"", 2);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			text_put(t, esc, 2);
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			text_put(t, esc, 4);
		} else {
			text_put(t, (const char *)&k[i], 1);
		}
	}
	text_put(t, "\"]", 2);
}

static void render_path(const struct seg *at, char *out, size_t cap)
{
	const struct seg *chain[CB_CANON_DEPTH_MAX + 2];
	struct text t = {out, 0, cap, 0};
	size_t n = 0, skipped = 0;
	char num[32];

	out[0] = '\0';
	text_put(&t, "$", 1);
	for (; at; at = at->up) {
		if (n < sizeof(chain) / sizeof(chain[0]))
			chain[n++] = at;
		else
			skipped++;
	}
	if (skipped)
		text_put(&t, "...", 3);
	while (n--) {
		if (chain[n]->key) {
			put_key(&t, chain[n]->key);
		} else {
			int w = snprintf(num, sizeof(num), "[%zu]",
					 chain[n]->index);
			text_put(&t, num, (size_t)w);
		}
	}
	if (t.full && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

static int fail_at(struct cb_canon_buf *e, const struct seg *at,
		   const char *why)
{
	char path[PATH_TEXT_MAX];

	render_path(at, path, sizeof(path));
	return cb_err_set(e->err, CB_EINVAL,
			  "%s: %s; canonical JSON holds only strings, null, "
			  "objects and arrays",
			  path, why);
}

/*
 * The first room a buffer gets: an event of twenty items or a form's
 * items text is about 1.3 KB, and growing to it from cb_array_grow's
 * sixteen bytes took seven reallocations, each a copy and a turn at the
 * allocator's lock that the push's parallel checks share (a few percent
 * of a push's CPU in a profile).
 */
#define CANON_FIRST 2048

static int reserve(struct cb_canon_buf *e, size_t more)
{
	size_t max = e->max ? e->max : CB_CANON_MAX;
	size_t need = e->len + more + 1;

	if (more > max - e->len)
		return cb_err_set(e->err, CB_ETOOBIG,
				  "canonical encoding is over the limit of %zu "
				  "bytes",
				  max);
	if (!e->cap && need < CANON_FIRST)
		need = CANON_FIRST < max + 1 ? CANON_FIRST : max + 1;
	return cb_array_grow((void **)&e->buf, &e->cap, need, 1, max + 1,
			     "canonical encoding", e->err);
}

int cb_canon_put(struct cb_canon_buf *e, const char *s, size_t n)
{
	int rc = reserve(e, n);

	if (rc)
		return rc;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
	return 0;
}

int cb_canon_put_string(struct cb_canon_buf *e, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];
	size_t esc_len;
	int rc;

	if ((rc = cb_canon_put(e, "\"", 1)))
		return rc;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = cb_canon_put(e, run, (size_t)(s - run))))
			return rc;
		run = s + 1;
		esc[0] = '\\';
		esc_len = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc_len = 6;
		}
		if ((rc = cb_canon_put(e, esc, esc_len)))
			return rc;
	}
	if ((rc = cb_canon_put(e, run, (size_t)(s - run))))
		return rc;
	return cb_canon_put(e, "\"", 1);
}

static int key_order(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a;
	const cJSON *y = *(const cJSON *const *)b;

	/* strcmp compares as unsigned char: UTF-8 byte (= code point) order. */
	return strcmp(x->string, y->string);
}

static int enc_value(struct cb_canon_buf *e, const cJSON *v,
		     const struct seg *at, int depth);

static int enc_array(struct cb_canon_buf *e, const cJSON *v,
		     const struct seg *at, int depth)
{
	const cJSON *it;
	struct seg s = {at, NULL, 0};
	int rc;

	if ((rc = cb_canon_put(e, "[", 1)))
		return rc;
	for (it = v->child; it; it = it->next, s.index++) {
		if (it != v->child && (rc = cb_canon_put(e, ",", 1)))
			return rc;
		if ((rc = enc_value(e, it, &s, depth + 1)))
			return rc;
	}
	return cb_canon_put(e, "]", 1);
}

static int enc_object(struct cb_canon_buf *e, const cJSON *v,
		      const struct seg *at, int depth)
{
	const cJSON **members = NULL;
	const cJSON *it;
	size_t n = 0, i;
	int rc = 0;

	for (it = v->child; it; it = it->next) {
		struct seg s = {at, it->string, 0};

		if (!it->string) {
			rc = fail_at(e, at, "object member has no name");
			goto out;
		}
		if (!cb_utf8_valid(it->string, strlen(it->string))) {
			rc = fail_at(e, &s, "key is not valid UTF-8");
			goto out;
		}
		n++;
	}
	if (n) {
		members = malloc(n * sizeof(*members));
		if (!members) {
			rc =
			    cb_err_set(e->err, CB_ENOMEM,
				       "out of memory encoding canonical JSON");
			goto out;
		}
		for (i = 0, it = v->child; it; it = it->next)
			members[i++] = it;
		qsort(members, n, sizeof(*members), key_order);
		for (i = 1; i < n; i++) {
			if (strcmp(members[i - 1]->string, members[i]->string))
				continue;
			struct seg s = {at, members[i]->string, 0};

			rc = fail_at(e, &s, "duplicate key");
			goto out;
		}
	}
	if ((rc = cb_canon_put(e, "{", 1)))
		goto out;
	for (i = 0; i < n; i++) {
		struct seg s = {at, members[i]->string, 0};

		if (i && (rc = cb_canon_put(e, ",", 1)))
			goto out;
		if ((rc = cb_canon_put_string(e, members[i]->string)) ||
		    (rc = cb_canon_put(e, ":", 1)) ||
		    (rc = enc_value(e, members[i], &s, depth + 1)))
			goto out;
	}
	rc = cb_canon_put(e, "}", 1);
out:
	free(members);
	return rc;
}

static int enc_value(struct cb_canon_buf *e, const cJSON *v,
		     const struct seg *at, int depth)
{
	char why[96];

	if (!v)
		return fail_at(e, at, "missing value");
	if (cJSON_IsNull(v))
		return cb_canon_put(e, "null", 4);
	if (cJSON_IsString(v)) {
		if (!v->valuestring)
			return fail_at(e, at, "string has no text");
		if (!cb_utf8_valid(v->valuestring, strlen(v->valuestring)))
			return fail_at(e, at, "string is not valid UTF-8");
		return cb_canon_put_string(e, v->valuestring);
	}
	if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		if (depth >= CB_CANON_DEPTH_MAX) {
			snprintf(why, sizeof(why),
				 "nested deeper than %d levels",
				 CB_CANON_DEPTH_MAX);
			return fail_at(e, at, why);
		}
		return cJSON_IsArray(v) ? enc_array(e, v, at, depth)
					: enc_object(e, v, at, depth);
	}
	if (cJSON_IsNumber(v))
		return fail_at(e, at, "is a number, not a string");
	if (cJSON_IsBool(v))
		return fail_at(e, at, "is a boolean, not a string");
	return fail_at(e, at, "is not a JSON value");
}

int cb_canon_encode(const cJSON *v, char **out, size_t *len, struct cb_err *err)
{
	struct cb_canon_buf e = {NULL, 0, 0, err, 0};
	int rc;

	*out = NULL;
	if (len)
		*len = 0;
	rc = enc_value(&e, v, NULL, 0);
	if (rc) {
		free(e.buf);
		return rc;
	}
	*out = e.buf;
	if (len)
		*len = e.len;
	return 0;
}

int cb_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end;

	if (!s)
		return len == 0;
	end = p + len;
	while (p < end) {
		unsigned char c = *p;
		unsigned char lo = 0x80, hi = 0xbf; /* range of 2nd byte */
		size_t need;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* UTF-16 surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0; /* continuation byte, C0/C1, F5..FF */
		}
		if ((size_t)(end - p) <= need)
			return 0;
		if (p[1] < lo || p[1] > hi)
			return 0;
		for (size_t i = 2; i <= need; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return 0;
		p += need + 1;
	}
	return 1;
}
