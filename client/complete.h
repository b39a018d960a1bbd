/*
 * complete.h - what `casebook shell` offers for the word being typed.
 *
 * The words come from the same places as everywhere else: command names
 * from the command table; subcommands, options and the values an option
 * lists ("--format csv|json") from each command's usage lines, the
 * first paragraph of its --help, read by the same rules as
 * scripts/completion.bash; and for the placeholders of those usage
 * lines, the open store and its protocol: SUBJECT the subject ids the
 * store holds, VISIT the protocol's visit codes, FORM the forms of the
 * visit typed before it, ITEM and ITEM=VALUE the items of the form typed
 * before it (the adverse-event form for `ae add`). So a new command or
 * option is completed as soon as its help names it.
 */
#ifndef CB_COMPLETE_H
#define CB_COMPLETE_H

#include <stddef.h>

#include "cli.h"
#include "err.h"

struct cb_protocol;

/* What completion draws on; every pointer is the caller's. */
struct complete_src {
	const struct cli_command *commands;
	size_t ncommands;
	const char *const *extra; /* more first words ("exit"), NULL-ended */
	const struct cb_protocol *protocol; /* NULL: no codes offered */
	const char *const *subjects;	    /* NULL: none */
	size_t nsubjects;
};

/* Candidates: whole words, in the order offered, without repeats. */
struct complete_list {
	char **v;
	size_t n, cap;
	size_t start; /* where the word they replace starts in the line */
};

/*
 * The words that may stand for the last word of `line` (`len` bytes,
 * the text up to the cursor; a line ending in a blank asks for a new
 * word), each beginning with what was typed of it (codes compared
 * without regard to case). An ITEM=VALUE candidate ends in '='. 0, or
 * CB_ENOMEM; a line that cannot be split gives no candidates.
 */
int complete_line(const struct complete_src *src, const char *line, size_t len,
		  struct complete_list *out, struct cb_err *err);

/* Free the candidates; *l is then empty. */
void complete_list_release(struct complete_list *l);

#endif
