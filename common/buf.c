/*
 * buf.c - growable buffers and arrays with a cap (see buf.h).
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cb_buf_init(struct cb_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void cb_buf_free(struct cb_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void cb_buf_reset(struct cb_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Room for `more` bytes and the NUL. */
static int reserve(struct cb_buf *b, size_t more, struct cb_err *err)
{
	size_t need, cap;
	char *p;

	if (more > b->max - b->len || b->len > b->max)
		return cb_err_set(err, CB_ETOOBIG,
				  "%zu bytes would pass the cap of %zu bytes",
				  b->len + more, b->max);
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (!p)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	b->data = p;
	b->cap = cap;
	return 0;
}

int cb_buf_add(struct cb_buf *b, const void *p, size_t n, struct cb_err *err)
{
	int rc = reserve(b, n, err);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int cb_buf_addstr(struct cb_buf *b, const char *s, struct cb_err *err)
{
	return cb_buf_add(b, s, strlen(s), err);
}

int cb_buf_addc(struct cb_buf *b, char c, struct cb_err *err)
{
	return cb_buf_add(b, &c, 1, err);
}

int cb_buf_printf(struct cb_buf *b, struct cb_err *err, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cb_err_set(err, CB_EINVAL, "cannot format text");
	rc = reserve(b, (size_t)n, err);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *cb_buf_str(const struct cb_buf *b)
{
	return b->data ? b->data : "";
}

size_t cb_buf_len(const struct cb_buf *b)
{
	return b->len;
}

char *cb_buf_take(struct cb_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	if (p && len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int cb_array_grow(void **items, size_t *cap, size_t need, size_t size,
		  size_t max, const char *what, struct cb_err *err)
{
	size_t n;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return cb_err_set(err, CB_ETOOBIG, "%s: more than %zu", what,
				  max);
	n = *cap ? *cap : 16;
	while (n < need)
		n = n > max / 2 ? max : n * 2;
	if (n > SIZE_MAX / size)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	p = realloc(*items, n * size);
	if (!p)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	*items = p;
	*cap = n;
	return 0;
}
