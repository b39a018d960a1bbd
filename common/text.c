/*
 * text.c - refusing and escaping characters that change what a reader
 * sees (see text.h).
 */
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decode one UTF-8 character at s (n bytes left): its code point in *cp
 * and its length, or 0 for a byte that does not start a valid sequence.
 */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t need, i;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((need == 3 && v < 0x800) || (need == 4 && v < 0x10000) ||
	    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return need;
}

/* The name of a refused code point, or NULL when it is allowed. */
static const char *refused(uint32_t cp)
{
	if (cp == '\n')
		return "a line break";
	if (cp == '\t')
		return "a tab";
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return "a control character";
	if (cp == 0x2028 || cp == 0x2029)
		return "a line or paragraph separator";
	if (cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return "a bidirectional text control";
	return NULL;
}

int cb_text_check(const char *s, size_t len, const char *what,
		  struct cb_err *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, nchar = 0, k;
	uint32_t cp;
	const char *why;

	while (i < len) {
		nchar++;
		k = decode(p + i, len - i, &cp);
		if (!k)
			return cb_err_set(err, CB_EINVAL,
					  "%s: invalid UTF-8 at character %zu",
					  what, nchar);
		why = refused(cp);
		if (why)
			return cb_err_set(err, CB_EINVAL,
					  "%s: contains %s (U+%04X) at "
					  "character %zu; control characters, "
					  "line breaks and bidirectional text "
					  "controls are not allowed",
					  what, why, (unsigned)cp, nchar);
		i += k;
	}
	return 0;
}

static int space(uint32_t cp)
{
	return cp == ' ' || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b) ||
	       cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

int cb_text_blank(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = s ? strlen(s) : 0, k;
	uint32_t cp;

	while (i < n) {
		k = decode(p + i, n - i, &cp);
		if (!k || !space(cp))
			return 0;
		i += k;
	}
	return 1;
}

char *cb_text_escape(const char *s, int *oom)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k, o = 0;
	uint32_t cp;
	int dirty = 0;
	char *out;

	*oom = 0;
	if (!s)
		return NULL;
	n = strlen(s);
	while (i < n && !dirty) {
		k = decode(p + i, n - i, &cp);
		dirty = !k || refused(cp);
		i += k ? k : 1;
	}
	if (!dirty)
		return NULL;
	/* At most 10 bytes ("\u{XXXXX}" or "\xNN") for each input byte. */
	out = malloc(n * 10 + 1);
	if (!out) {
		*oom = 1;
		return NULL;
	}
	for (i = 0; i < n; i += k) {
		k = decode(p + i, n - i, &cp);
		if (!k) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", p[i]);
			k = 1;
		} else if (!refused(cp)) {
			memcpy(out + o, s + i, k);
			o += k;
		} else if (cp == '\n') {
			o += (size_t)snprintf(out + o, 3, "\\n");
		} else if (cp == '\r') {
			o += (size_t)snprintf(out + o, 3, "\\r");
		} else if (cp == '\t') {
			o += (size_t)snprintf(out + o, 3, "\\t");
		} else if (cp < 0x80) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", cp);
		} else {
			o += (size_t)snprintf(out + o, 11, "\\u{%04X}",
					      (unsigned)cp);
		}
	}
	out[o] = '\0';
	return out;
}
