/*
 * safety.h - the interim safety report for the DSMB (DESIGN.md section
 * 8, docs/reports.md), computed from a feed (feed.h) and written as
 * aligned text, CSV, JSON or one self-contained HTML file.
 *
 * Open or closed. The open report (any machine: the server, a data
 * manager's laptop) is pooled and by site; it holds no arm. The closed
 * report is the same by arm: it is given each subject's arm
 * (struct cb_arms, opened on the DSMB member's machine from the sealed
 * arms; the server never has them), and must never leave that machine.
 *
 * What it holds, in order (docs/reports.md defines every count):
 *   the data cut-off; enrollment by site (and by arm, closed) and by
 *   month; exposure; summary tables of subjects with at least one
 *   treatment-emergent AE (any, serious, related, leading to
 *   withdrawal, fatal; by worst grade, by worst severity, by
 *   seriousness criterion, by strongest relationship, by term), as
 *   n (%) of the safety population of each column (every dosed
 *   subject), each subject counted once per row; listings of every AE
 *   (with study day and the treatment-emergent flag, studyday.h), of
 *   serious AEs, of deaths, of AEs leading to withdrawal, and of
 *   emergency code-breaks (who, when, why).
 *
 * Memory: one subject of the feed at a time, plus what the report
 * holds: a few numbers per subject and one record per AE.
 */
#ifndef CB_SAFETY_H
#define CB_SAFETY_H

#include <stddef.h>

#include "err.h"
#include "feed.h"
#include "out.h"
#include "protocol.h"

/* ---- each subject's arm, for the closed report ------------------------- */

struct cb_arms;

/* A new empty map into *out (CB_ENOMEM). */
int cb_arms_new(struct cb_arms **out, struct cb_err *err);
void cb_arms_free(struct cb_arms *a); /* NULL allowed */

/*
 * Record that `subject` is in arm `arm` (a code of the protocol's arms:
 * CB_EINVAL otherwise, checked by the report). A subject given twice
 * with another arm is CB_ECONFLICT; the same arm again is a no-op.
 * CB_ENOMEM.
 */
int cb_arms_add(struct cb_arms *a, const char *subject, const char *arm,
		struct cb_err *err);

/* The arm of `subject`, or NULL. */
const char *cb_arms_get(const struct cb_arms *a, const char *subject);

/* ---- the report ---------------------------------------------------------- */

enum cb_safety_format {
	CB_SAFETY_TEXT,
	CB_SAFETY_CSV,
	CB_SAFETY_JSON,
	CB_SAFETY_HTML,
};

/* "text", "csv", "json", "html": 0, or CB_EINVAL naming them. */
int cb_safety_format_parse(const char *name, enum cb_safety_format *out,
			   struct cb_err *err);

struct cb_safety_opts {
	const char *site;   /* NULL: every site */
	const char *cutoff; /* cutoff.h form, or NULL: every event */
	const char *asof;   /* the data cut-off stated (as export.h) */
	/* NULL: the open report; else the closed one, by these arms */
	const struct cb_arms *arms;
	const char *source; /* the program, "casebookd 0.1.0" */
};

struct cb_safety;

/*
 * Read `feed` once and compute the report of `p` into *out (free with
 * cb_safety_free). Returns 0; CB_ENOTFOUND when a cut-off was given and
 * nothing had been received by then; CB_EINVAL when an arm of the map
 * is not one of the protocol's; CB_EINVAL when the protocol has no
 * safety section; the feed's errors; CB_ENOMEM.
 */
int cb_safety_compute(const struct cb_protocol *p, const struct cb_feed *feed,
		      const struct cb_safety_opts *o, struct cb_safety **out,
		      struct cb_err *err);

/* Write the report in format `f` to `out` (flushed). Its errors. */
int cb_safety_write(const struct cb_safety *r, enum cb_safety_format f,
		    struct cb_out *out, struct cb_err *err);

void cb_safety_free(struct cb_safety *r); /* NULL allowed */

/* Counts a caller may want to print: subjects read, safety population,
 * adverse events. */
void cb_safety_counts(const struct cb_safety *r, size_t *subjects,
		      size_t *dosed, size_t *aes);

#endif
