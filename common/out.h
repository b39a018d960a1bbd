/*
 * out.h - where exports and reports write: a buffered output stream
 * over a caller-given sink (a file descriptor, a memory buffer, or any
 * callback), and the escaping each output format needs.
 *
 * The engines of common/ never print: they write to a struct cb_out
 * the program hands them. Writing is buffered (CB_OUT_BUF bytes) and
 * the first error is kept: every later write does nothing, and
 * cb_out_flush reports it. So a writer of a million cells checks one
 * result at the end, not one per cell.
 *
 * Escaping. Every value in the record passed the text rules of text.h
 * when it was entered (no control or bidirectional characters), but a
 * writer does not count on it: the characters text.h refuses, and bytes
 * that are not UTF-8, are written as visible escapes (\n, \xNN,
 * \u{XXXX}, as cb_text_escape does) by every escaping function below,
 * and then the format's own rules apply:
 *
 *   CSV   RFC 4180: a field holding a comma, a double quote, a CR or LF
 *         (or a leading or trailing space) is quoted, quotes doubled
 *   XML   & < > " ' as entities, so the text is safe in element content
 *         and in attribute values alike ("]]>" cannot close anything)
 *   HTML  the same five, so a value never becomes markup or script
 *   JSON  a string with its quotes, \" \\ and \uXXXX for controls
 */
#ifndef CB_OUT_H
#define CB_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Bytes buffered before the sink is called. */
#define CB_OUT_BUF (64u * 1024u)

/*
 * The sink: write all `len` bytes or fail with a CB_E* code and a
 * message in err. It is called with whole buffers, and with the rest
 * at cb_out_flush.
 */
typedef int (*cb_out_sink)(void *ctx, const char *data, size_t len,
			   struct cb_err *err);

struct cb_out {
	cb_out_sink sink;
	void *ctx;
	char *buf; /* CB_OUT_BUF bytes, NULL until the first write */
	size_t len;
	int rc;		   /* the first error, 0 while none */
	struct cb_err err; /* its message */
	uint64_t total;	   /* bytes written so far (buffered included) */
	int fd;		   /* cb_out_init_fd's descriptor */
};

/* A stream over `sink` (nothing is allocated yet). */
void cb_out_init(struct cb_out *o, cb_out_sink sink, void *ctx);

/* A stream writing to file descriptor `fd` (write(2), EINTR retried);
 * the descriptor stays the caller's to close. */
void cb_out_init_fd(struct cb_out *o, int fd);

/* A stream appending to `b` (its cap applies: CB_ETOOBIG past it). */
void cb_out_init_buf(struct cb_out *o, struct cb_buf *b);

/*
 * Write the buffered bytes to the sink. Returns 0, or the first error
 * of any write since the stream was made, its message copied into err.
 */
int cb_out_flush(struct cb_out *o, struct cb_err *err);

/* Free the buffer (without flushing). The stream may be reused after
 * cb_out_init. NULL is allowed. */
void cb_out_release(struct cb_out *o);

/* Record an error on the stream (the first one is kept). */
void cb_out_fail(struct cb_out *o, int code, const char *msg);

/* Raw writes: bytes as they are. */
void cb_out_write(struct cb_out *o, const char *data, size_t len);
void cb_out_puts(struct cb_out *o, const char *s);
void cb_out_putc(struct cb_out *o, char c);
void cb_out_printf(struct cb_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * `s` (NULL: nothing) as one CSV field, quoted when RFC 4180 needs it.
 * The separators (commas, line ends) are the caller's to write.
 */
void cb_out_csv(struct cb_out *o, const char *s);

/* `s` (NULL: nothing) escaped for XML element content or an attribute
 * value in double quotes. */
void cb_out_xml(struct cb_out *o, const char *s);

/* `s` (NULL: nothing) escaped for HTML text or a quoted attribute. */
void cb_out_html(struct cb_out *o, const char *s);

/* `s` as a JSON string, quotes included; NULL writes null. */
void cb_out_json(struct cb_out *o, const char *s);

#endif
