/*
 * canon.h - the canonical JSON encoding that events are signed over.
 *
 * Compact JSON, object keys sorted by their UTF-8 bytes, no whitespace,
 * and every scalar a string (as CDISC ODM carries values) or null, so a
 * signature never depends on number formatting. Arrays keep their order.
 * Strings escape only '"', '\\' and control characters below 0x20 (as
 * \n, \r, \t, \b, \f or \u00XX, lowercase hex); every other character
 * stays as its UTF-8 bytes. Invalid UTF-8, numbers, booleans and duplicate
 * keys are refused, so there is exactly one encoding of each value.
 */
#ifndef CB_CANON_H
#define CB_CANON_H

#include <stddef.h>
#include <cJSON.h>

#include "err.h"

/* Largest canonical document produced or accepted. */
#define CB_CANON_MAX (8u * 1024u * 1024u)

/*
 * Deepest nesting of objects and arrays encoded (the top-level value is
 * depth 1); deeper input is refused with CB_EINVAL. Events are a few
 * levels deep; the cap keeps the recursive encoder's stack use bounded
 * whatever tree it is handed.
 */
#define CB_CANON_DEPTH_MAX 64

/*
 * Encode `v` canonically into a malloc'd NUL-terminated string (*out,
 * freed by the caller with free()) of *len bytes. Returns 0, or CB_EINVAL
 * naming the JSON path of the first value that has no canonical form,
 * CB_ETOOBIG over CB_CANON_MAX, CB_ENOMEM.
 */
int cb_canon_encode(const cJSON *v, char **out, size_t *len,
		    struct cb_err *err);

/*
 * A growing output buffer for writing canonical JSON directly, without a
 * cJSON tree, by a writer that knows its keys' order (event.c). Start it
 * as {NULL, 0, 0, err, 0}; buf is NUL-terminated after every put and freed
 * by the caller. Both calls return 0, CB_ETOOBIG past the buffer's max
 * (CB_CANON_MAX when max is 0, as it is for an event) or CB_ENOMEM,
 * setting err.
 */
struct cb_canon_buf {
	char *buf;
	size_t len, cap; /* len excludes the NUL; len <= the max */
	struct cb_err *err;
	size_t max; /* 0: CB_CANON_MAX */
};

/* Append `n` bytes as they are. */
int cb_canon_put(struct cb_canon_buf *b, const char *s, size_t n);

/*
 * Append `s` as a canonical JSON string, quotes included. `s` must be
 * valid UTF-8 (cb_utf8_valid); the caller checks, as this does not.
 */
int cb_canon_put_string(struct cb_canon_buf *b, const char *s);

/* True when `s` (len bytes) is valid UTF-8 with no NUL byte. */
int cb_utf8_valid(const char *s, size_t len);

#endif
