/*
 * words.c - splitting a line of `casebook shell` into words (words.h).
 */
#include "words.h"

#include <stdlib.h>
#include <string.h>

/* A growing word; capped by WORDS_LINE_MAX through the line's length. */
struct wbuf {
	char *p;
	size_t len, cap;
};

static int wbuf_put(struct wbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		char *p = realloc(b->p, cap);

		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
	return 0;
}

/* Make `b` an empty word (a quoted "" is a word of its own). */
static int wbuf_start(struct wbuf *b)
{
	if (b->p)
		return 0;
	if (wbuf_put(b, 'x'))
		return -1;
	b->len = 0;
	b->p[0] = '\0';
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void words_release(struct words *w)
{
	int i;

	for (i = 0; w->argv && i < w->argc; i++)
		free(w->argv[i]);
	free(w->argv);
	memset(w, 0, sizeof(*w));
}

/* Append the finished word `b` to `w` (taking its buffer). */
static int push(struct words *w, struct wbuf *b, size_t *cap)
{
	if (wbuf_start(b))
		return -1;
	if ((size_t)w->argc + 2 > *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		char **v = realloc(w->argv, ncap * sizeof(*v));

		if (!v)
			return -1;
		w->argv = v;
		*cap = ncap;
	}
	w->argv[w->argc++] = b->p;
	w->argv[w->argc] = NULL;
	memset(b, 0, sizeof(*b));
	return 0;
}

int words_split(const char *line, size_t len, int partial, struct words *w,
		struct cb_err *err)
{
	struct wbuf b = {0};
	size_t i = 0, cap = 0;
	int in_word = 0, oom = 0;
	char quote = 0;

	memset(w, 0, sizeof(*w));
	if (len > WORDS_LINE_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "line too long (over %u bytes)",
				  WORDS_LINE_MAX);
	if (memchr(line, '\0', len))
		return cb_err_set(err, CB_EINVAL, "the line holds a NUL byte");
	while (i < len && is_blank(line[i]))
		i++;
	if (i < len && line[i] == '#')
		len = i; /* a comment line */
	for (i = 0; i < len && !oom; i++) {
		char c = line[i];

		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				oom = wbuf_put(&b, c);
			continue;
		}
		if (quote == '"') {
			if (c == '"') {
				quote = 0;
			} else if (c == '\\' && i + 1 < len &&
				   strchr("\"\\$`", line[i + 1])) {
				oom = wbuf_put(&b, line[++i]);
			} else {
				oom = wbuf_put(&b, c);
			}
			continue;
		}
		if (is_blank(c)) {
			if (in_word) {
				if (w->argc >= WORDS_MAX)
					break;
				oom = push(w, &b, &cap);
				in_word = 0;
			}
			continue;
		}
		if (!in_word) {
			in_word = 1;
			w->last_start = i;
		}
		if (c == '\'' || c == '"') {
			quote = c;
			oom = wbuf_start(&b);
		} else if (c == '\\') {
			if (i + 1 < len && line[i + 1] == '\n')
				i++;
			else if (i + 1 < len)
				oom = wbuf_put(&b, line[++i]);
		} else {
			oom = wbuf_put(&b, c);
		}
	}
	if (!oom && i < len) {
		free(b.p);
		words_release(w);
		return cb_err_set(err, CB_EINVAL, "too many words (over %d)",
				  WORDS_MAX);
	}
	if (!oom && quote && !partial) {
		free(b.p);
		words_release(w);
		return cb_err_set(err, CB_EINVAL, "unclosed quote (%c)", quote);
	}
	if (!oom && in_word) {
		w->last_open = 1;
		w->quote = quote;
		oom = push(w, &b, &cap);
	}
	if (!oom && !w->argv) {
		w->argv = calloc(1, sizeof(*w->argv));
		oom = !w->argv;
	}
	if (oom) {
		free(b.p);
		words_release(w);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	return 0;
}
