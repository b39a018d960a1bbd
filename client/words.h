/*
 * words.h - a line of `casebook shell` split into words the way a POSIX
 * shell splits a simple command, so that a line at the prompt gives a
 * command the same argv as the same words typed after `casebook`:
 * blanks separate words; '...' keeps everything up to the next ' as
 * is; "..." too, except that \" \\ \$ \` stand for the character after
 * the backslash; outside quotes a backslash keeps the next character
 * (a backslash before a newline is dropped). No variables, globs,
 * pipes or redirections: $ * | < > ; & are ordinary characters. A line
 * whose first non-blank character is # is a comment (no words).
 */
#ifndef CB_WORDS_H
#define CB_WORDS_H

#include <stddef.h>

#include "err.h"

/* Most words in one line, and longest line, in bytes. */
#define WORDS_MAX 4096
#define WORDS_LINE_MAX (1024u * 1024u)

struct words {
	int argc;
	char **argv; /* argc words, then NULL; each malloc'd */
	/*
	 * Where the last word stands (for completion): its start in the
	 * line, and whether the line ended inside it (no blank after it)
	 * and inside which quote ('\'', '"' or 0).
	 */
	size_t last_start;
	int last_open; /* the line ends inside the last word */
	char quote;    /* the quote still open at the end, or 0 */
};

/*
 * Split `line` (`len` bytes, NUL bytes not allowed) into *w. With
 * `partial` 0 a quote left open is CB_EINVAL "unclosed quote"; with
 * `partial` 1 (completion of a line being typed) it is accepted and
 * w->quote says which. CB_EINVAL for a NUL byte, a line longer than
 * WORDS_LINE_MAX or more than WORDS_MAX words; CB_ENOMEM. On failure *w
 * holds nothing to free. Free with words_release.
 */
int words_split(const char *line, size_t len, int partial, struct words *w,
		struct cb_err *err);

/* Free the words; *w is then empty. */
void words_release(struct words *w);

#endif
