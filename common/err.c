/*
 * err.c - the cb_err message buffer used by every libcasebook module.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The analyzer's stand-ins for these (err.h) are not for this file. */
#undef cb_err_set
#undef cb_err_prefix

void cb_err_clear(struct cb_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

static void mark_truncated(char *buf, size_t cap, int want)
{
	if (want >= 0 && (size_t)want >= cap && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
}

int cb_err_set(struct cb_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	mark_truncated(err->msg, sizeof(err->msg), n);
	return code;
}

int cb_err_prefix(struct cb_err *err, const char *fmt, ...)
{
	char old[CB_ERR_MSG_MAX];
	char pre[CB_ERR_MSG_MAX];
	va_list ap;
	int n;

	if (!err)
		return CB_EINVAL;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	n = snprintf(err->msg, sizeof(err->msg), "%s%s", pre, old);
	mark_truncated(err->msg, sizeof(err->msg), n);
	if (!err->code)
		err->code = CB_EINVAL;
	return err->code;
}

const char *cb_err_name(int code)
{
	switch (code) {
	case CB_OK:
		return "ok";
	case CB_ENOMEM:
		return "out_of_memory";
	case CB_EINVAL:
		return "invalid";
	case CB_EIO:
		return "io";
	case CB_ECHECK:
		return "edit_check";
	case CB_EAUTH:
		return "unauthorized";
	case CB_ENOTFOUND:
		return "not_found";
	case CB_EBUSY:
		return "busy";
	case CB_EINTEGRITY:
		return "integrity";
	case CB_EEXIST:
		return "exists";
	case CB_ETOOBIG:
		return "too_big";
	case CB_EUNREACHABLE:
		return "unreachable";
	case CB_ECONFLICT:
		return "conflict";
	case CB_EFORBIDDEN:
		return "forbidden";
	}
	return "error";
}

void cb_err_quote(const char *s, char *out, size_t cap)
{
	size_t n = 0, len;
	char piece[8];

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			len = (size_t)snprintf(piece, sizeof(piece), "\\x%02x",
					       c);
		} else if (c == '"' || c == '\\') {
			piece[0] = '\\';
			piece[1] = (char)c;
			len = 2;
		} else {
			piece[0] = (char)c;
			len = 1;
		}
		/* Keep room for a closing "..." and the NUL. */
		if (n + len + 4 > cap) {
			memcpy(out + n, "...", 4);
			return;
		}
		memcpy(out + n, piece, len);
		n += len;
	}
	out[n] = '\0';
}
