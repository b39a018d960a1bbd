/*
 * jout.h - building the JSON model a command prints, and reading it back.
 *
 * `subject list|show` and `status` build one cJSON tree, which --json
 * prints and the plain output renders as text, so the two can never
 * disagree. `form show` does not use this module: it gathers what it
 * shows once (struct show in cmd_form.c) and has two renderers over that,
 * show_text and show_json, because its text names choice labels and
 * units that its JSON leaves to the protocol. Every add goes through
 * these helpers, which record an allocation failure in `oom` instead of
 * making each caller check; the command reports it once at the end.
 */
#ifndef CB_JOUT_H
#define CB_JOUT_H

#include <cJSON.h>

#include "date.h"

struct jout {
	int oom; /* set once any add failed */
};

/* Add v to parent (under key, or appended to an array when key is NULL);
 * returns v, or NULL after recording the failure (v is freed). */
cJSON *jout_put(struct jout *j, cJSON *parent, const char *key, cJSON *v);

void jout_str(struct jout *j, cJSON *o, const char *key, const char *s);
void jout_num(struct jout *j, cJSON *o, const char *key, double n);
void jout_bool(struct jout *j, cJSON *o, const char *key, int b);
void jout_null(struct jout *j, cJSON *o, const char *key);
/* 1 true, 0 false, -1 null. */
void jout_tri(struct jout *j, cJSON *o, const char *key, int t);
/* A (possibly partial) date as text, or null when d is NULL or invalid. */
void jout_date(struct jout *j, cJSON *o, const char *key,
	       const struct cb_date *d);

/*
 * Print `root` as indented JSON and a newline on stdout, then free it:
 * EXIT_OK, or an "out of memory" error (EXIT_FAIL) when an add failed
 * (j->oom) or printing did. Every command's --json ends here.
 */
int jout_emit(struct jout *j, cJSON *root);

/* Members read back by text renderers: the string (through cli_safe: fit
 * for a terminal) or NULL; the number or
 * `fallback`; 1 true, 0 false, -1 null or absent. */
const char *jin_str(const cJSON *o, const char *key);
int jin_int(const cJSON *o, const char *key, int fallback);
int jin_tri(const cJSON *o, const char *key);

#endif
