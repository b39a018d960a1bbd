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

/* True when `s` (len bytes) is valid UTF-8 with no NUL byte. */
int cb_utf8_valid(const char *s, size_t len);

#endif
