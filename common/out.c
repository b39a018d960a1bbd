/*
 * out.c - buffered output streams and the escaping of CSV, XML, HTML
 * and JSON (out.h).
 */
#include "out.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text.h"

void cb_out_init(struct cb_out *o, cb_out_sink sink, void *ctx)
{
	memset(o, 0, sizeof(*o));
	o->sink = sink;
	o->ctx = ctx;
	o->fd = -1;
}

static int fd_sink(void *ctx, const char *data, size_t len, struct cb_err *err)
{
	struct cb_out *o = ctx;

	while (len) {
		ssize_t n = write(o->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cb_err_set(err, CB_EIO, "write failed: %s",
					  n < 0 ? strerror(errno)
						: "nothing written");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

void cb_out_init_fd(struct cb_out *o, int fd)
{
	cb_out_init(o, fd_sink, NULL);
	o->ctx = o;
	o->fd = fd;
}

static int buf_sink(void *ctx, const char *data, size_t len, struct cb_err *err)
{
	return cb_buf_add(ctx, data, len, err);
}

void cb_out_init_buf(struct cb_out *o, struct cb_buf *b)
{
	cb_out_init(o, buf_sink, b);
}

void cb_out_fail(struct cb_out *o, int code, const char *msg)
{
	if (o->rc)
		return;
	o->rc = code;
	cb_err_set(&o->err, code, "%s", msg);
}

static void drain(struct cb_out *o)
{
	if (!o->rc && o->len) {
		o->rc = o->sink(o->ctx, o->buf, o->len, &o->err);
		if (o->rc && !o->err.code)
			cb_err_set(&o->err, o->rc, "writing failed");
	}
	o->len = 0;
}

int cb_out_flush(struct cb_out *o, struct cb_err *err)
{
	drain(o);
	if (o->rc)
		return cb_err_set(err, o->rc, "%s", o->err.msg);
	return 0;
}

void cb_out_release(struct cb_out *o)
{
	if (!o)
		return;
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
}

void cb_out_write(struct cb_out *o, const char *data, size_t len)
{
	if (o->rc || !len)
		return;
	if (!o->buf && !(o->buf = malloc(CB_OUT_BUF))) {
		cb_out_fail(o, CB_ENOMEM, "out of memory");
		return;
	}
	o->total += len;
	while (len) {
		size_t n = CB_OUT_BUF - o->len;

		if (n > len)
			n = len;
		memcpy(o->buf + o->len, data, n);
		o->len += n;
		data += n;
		len -= n;
		if (o->len == CB_OUT_BUF)
			drain(o);
		if (o->rc)
			return;
	}
}

void cb_out_puts(struct cb_out *o, const char *s)
{
	if (s)
		cb_out_write(o, s, strlen(s));
}

void cb_out_putc(struct cb_out *o, char c)
{
	if (!o->rc && o->buf && o->len < CB_OUT_BUF - 1) {
		o->buf[o->len++] = c;
		o->total++;
		return;
	}
	cb_out_write(o, &c, 1);
}

void cb_out_printf(struct cb_out *o, const char *fmt, ...)
{
	char small[256], *big;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		cb_out_fail(o, CB_EINVAL, "bad format");
		return;
	}
	if ((size_t)n < sizeof(small)) {
		cb_out_write(o, small, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (!big) {
		cb_out_fail(o, CB_ENOMEM, "out of memory");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	cb_out_write(o, big, (size_t)n);
	free(big);
}

/*
 * `s` with what text.h refuses made visible, as *shown: `s` itself when
 * nothing needed it, else a copy (*copy, to free). 0, or -1 when out of
 * memory (recorded on the stream).
 */
static int visible(struct cb_out *o, const char *s, const char **shown,
		   char **copy)
{
	int oom = 0;

	*copy = cb_text_escape(s, &oom);
	if (oom) {
		cb_out_fail(o, CB_ENOMEM, "out of memory");
		return -1;
	}
	*shown = *copy ? *copy : s;
	return 0;
}

/* True when every byte is printable ASCII other than those in `special`:
 * such text needs no escaping at all, the common case. */
static int plain(const char *s, const char *special)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || strchr(special, *p))
			return 0;
	return 1;
}

void cb_out_csv(struct cb_out *o, const char *s)
{
	const char *t, *p;
	char *copy;
	size_t n;

	if (!s || !*s)
		return;
	n = strlen(s);
	if (plain(s, "\",") && s[0] != ' ' && s[n - 1] != ' ') {
		cb_out_write(o, s, n);
		return;
	}
	if (visible(o, s, &t, &copy))
		return;
	n = strlen(t);
	if (!strpbrk(t, "\",\r\n") && t[0] != ' ' && t[n - 1] != ' ') {
		cb_out_write(o, t, n);
		free(copy);
		return;
	}
	cb_out_putc(o, '"');
	for (p = t; *p; p++) {
		if (*p == '"')
			cb_out_putc(o, '"');
		cb_out_putc(o, *p);
	}
	cb_out_putc(o, '"');
	free(copy);
}

/* The five characters markup gives a meaning to, as entities. */
static void markup(struct cb_out *o, const char *s)
{
	const char *t, *p, *run;
	char *copy;

	if (!s)
		return;
	if (plain(s, "&<>\"'")) {
		cb_out_puts(o, s);
		return;
	}
	if (visible(o, s, &t, &copy))
		return;
	for (p = run = t; *p; p++) {
		const char *ent = NULL;

		switch (*p) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\'':
			ent = "&#39;";
			break;
		default:
			continue;
		}
		cb_out_write(o, run, (size_t)(p - run));
		cb_out_puts(o, ent);
		run = p + 1;
	}
	cb_out_write(o, run, (size_t)(p - run));
	free(copy);
}

void cb_out_xml(struct cb_out *o, const char *s)
{
	markup(o, s);
}

void cb_out_html(struct cb_out *o, const char *s)
{
	markup(o, s);
}

void cb_out_json(struct cb_out *o, const char *s)
{
	const unsigned char *p;
	const char *t;
	char *copy;

	if (!s) {
		cb_out_puts(o, "null");
		return;
	}
	cb_out_putc(o, '"');
	if (plain(s, "\"\\")) {
		cb_out_puts(o, s);
		cb_out_putc(o, '"');
		return;
	}
	if (visible(o, s, &t, &copy))
		return;
	for (p = (const unsigned char *)t; *p; p++) {
		if (*p == '"' || *p == '\\') {
			cb_out_putc(o, '\\');
			cb_out_putc(o, (char)*p);
		} else if (*p < 0x20) {
			cb_out_printf(o, "\\u%04x", *p);
		} else {
			cb_out_putc(o, (char)*p);
		}
	}
	cb_out_putc(o, '"');
	free(copy);
}
