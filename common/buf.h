/*
 * buf.h - a growable buffer with a hard cap, and growing arrays.
 *
 * curl's dynbuf is the model: every buffer that grows while Casebook
 * reads, builds or prints something has an upper bound set where it is
 * made (STYLE.md: "every growable buffer has a hard upper bound"), and
 * crossing it is an error the caller reports, never an allocation
 * without end. The bytes are kept NUL-terminated, so a buffer of text
 * can be used as a C string at any time.
 *
 *   struct cb_buf b;
 *   cb_buf_init(&b, 1 << 20);            cap: 1 MiB
 *   rc = cb_buf_add(&b, p, n, err);      CB_ETOOBIG past the cap
 *   rc = cb_buf_printf(&b, err, "%s", s);
 *   ... cb_buf_str(&b), cb_buf_len(&b) ...
 *   cb_buf_free(&b);                      or cb_buf_take to keep the bytes
 *
 * cb_array_grow is the same discipline for arrays of structs.
 */
#ifndef CB_BUF_H
#define CB_BUF_H

#include <stddef.h>

#include "err.h"

struct cb_buf {
	char *data; /* NULL until the first byte; then NUL-terminated */
	size_t len; /* bytes held, without the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* most bytes it may hold */
};

/* An empty buffer that may grow to `max` bytes (no allocation yet). */
void cb_buf_init(struct cb_buf *b, size_t max);

/* Free the bytes and make it empty again (the cap stays). NULL is ok. */
void cb_buf_free(struct cb_buf *b);

/* Empty it, keeping the memory for reuse. */
void cb_buf_reset(struct cb_buf *b);

/*
 * Append `n` bytes. CB_ETOOBIG (naming the cap) when the buffer would
 * pass its cap, CB_ENOMEM; the buffer is unchanged on failure.
 */
int cb_buf_add(struct cb_buf *b, const void *p, size_t n, struct cb_err *err);

/* Append a NUL-terminated string, or one byte; as cb_buf_add. */
int cb_buf_addstr(struct cb_buf *b, const char *s, struct cb_err *err);
int cb_buf_addc(struct cb_buf *b, char c, struct cb_err *err);

/* Append printf-formatted text; as cb_buf_add. */
int cb_buf_printf(struct cb_buf *b, struct cb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The bytes as a C string ("" when empty), and their length. */
const char *cb_buf_str(const struct cb_buf *b);
size_t cb_buf_len(const struct cb_buf *b);

/*
 * Hand the bytes over: a malloc'd NUL-terminated string (an empty one
 * when nothing was added) the caller frees with free(), *len (may be
 * NULL) its length; the buffer is left empty. NULL when out of memory.
 */
char *cb_buf_take(struct cb_buf *b, size_t *len);

/*
 * Make room in the array *items (of `size`-byte elements, *cap allocated)
 * for at least `need` elements, at most `max`: the capacity doubles (at
 * least 16). CB_ETOOBIG past `max` naming `what`, CB_ENOMEM; the array
 * is unchanged on failure.
 */
int cb_array_grow(void **items, size_t *cap, size_t need, size_t size,
		  size_t max, const char *what, struct cb_err *err);

#endif
