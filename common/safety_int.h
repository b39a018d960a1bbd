/*
 * safety_int.h - the safety report's inside, shared by safety.c (which
 * computes it), safety_out.c (text, CSV, JSON) and safety_html.c. Not
 * for use outside them.
 *
 * A report is a list of tables. Each table has columns and rows of
 * cells; a cell is text, a whole number, or a count of subjects out of
 * a denominator (n and N, shown "n (pct)"). Every renderer walks the
 * same tables, so the four formats cannot disagree.
 */
#ifndef CB_SAFETY_INT_H
#define CB_SAFETY_INT_H

#include <stddef.h>

#include "safety.h"

enum sr_kind {
	SR_EMPTY,
	SR_TEXT,
	SR_INT,
	SR_COUNT, /* n of d subjects */
};

struct sr_cell {
	enum sr_kind kind;
	const char *text; /* SR_TEXT */
	long n, d;	  /* SR_INT: n; SR_COUNT: n of d */
};

struct sr_col {
	const char *id;	  /* machine name: "site", "KR01", "onset" */
	const char *head; /* for people */
	int num;	  /* right-aligned */
	int wrap;	  /* long text: the text renderer may wrap it */
};

struct sr_table {
	const char *id, *title;
	const char *note; /* how its counts are defined, or NULL */
	size_t ncols;
	size_t nkey; /* leading columns the text renderer repeats when it
			splits a wide table into panels */
	struct sr_col *cols;
	size_t nrows, cap;
	struct sr_cell *cells; /* nrows * ncols, row by row */
};

/* A column of the summary tables: a site or an arm, or the total. */
struct sr_group {
	const char *id, *label;
	long N; /* its safety population */
	/* cumulative randomized subjects by month (enrollment chart):
	 * months[i] of the report */
	long *cum;
};

/* A chunk of memory every string of the report lives in. */
struct sr_chunk {
	struct sr_chunk *next;
	size_t used, size;
	char data[];
};

struct cb_safety {
	const struct cb_protocol *p;
	int closed;
	const char *site, *asof, *source;
	int cutoff_given;
	size_t nsubjects, ndosed, naes;

	struct sr_group *groups; /* summary columns, the last is the total */
	size_t ngroups;
	/* sites, in code order (enrollment), with their cumulative
	 * randomized counts by month for the chart */
	struct sr_group *sites;
	size_t nsites;
	const char **months; /* "YYYY-MM", ascending */
	size_t nmonths;

	struct sr_table *tables;
	size_t ntables;

	struct sr_chunk *mem;
};

/* A copy of `s` (NULL: "") in the report's memory, or NULL (out of
 * memory); and printf into it. */
const char *cb_sr_strdup(struct cb_safety *r, const char *s);
const char *cb_sr_printf(struct cb_safety *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void *cb_sr_alloc(struct cb_safety *r, size_t n);

/* The table with this id, or NULL. */
const struct sr_table *cb_sr_table(const struct cb_safety *r, const char *id);

/* A cell's text as the text, CSV and HTML renderers show it, into buf:
 * "" for empty, the number, "n (pct%)" or "0" for a count ("n (-)"
 * when the denominator is 0). Returns buf (or the text itself). */
const char *cb_sr_cell_text(const struct sr_cell *c, char *buf, size_t size);

/* The percentage of a count cell, or -1 when its denominator is 0. */
double cb_sr_pct(const struct sr_cell *c);

/* "open (pooled and by site)" or "CLOSED (by arm)" and the title. */
const char *cb_sr_kind(const struct cb_safety *r);

/* The renderers (safety_out.c, safety_html.c). */
int cb_sr_text(const struct cb_safety *r, struct cb_out *o);
int cb_sr_csv(const struct cb_safety *r, struct cb_out *o);
int cb_sr_json(const struct cb_safety *r, struct cb_out *o);
int cb_sr_html(const struct cb_safety *r, struct cb_out *o);

#endif
