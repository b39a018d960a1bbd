/*
 * summary.h - where one subject stands, in one small record: its
 * lifecycle state and the date it entered it, its key dates, its
 * randomization and kit numbers, eligibility, which visits have data,
 * open queries, conflicts, adverse events and emergency code-breaks.
 *
 * It is derived from the subject's events alone (a merge state holding
 * them, merge.h) with the protocol, by the same code on every laptop and
 * on the server, and kept beside the events in each store (DESIGN.md
 * section 3, "Derived state is kept, one subject at a time"), so a
 * listing of every subject reads one small row per subject and never
 * replays the log.
 *
 * The lifecycle (TRIAL.md, the protocol's "lifecycle" section):
 *
 *   screening       created; dated by the consent date, else by the
 *                   day it was created
 *   screen failure  the eligibility form is complete and not eligible,
 *                   and the subject was never randomized; dated by the
 *                   last change of the eligibility form
 *   randomized      the randomization form holds its number; dated by
 *                   its date
 *   dosed           the first dose date (safety.first_dose) is recorded
 *   completed, withdrawn, lost to follow-up, died
 *                   the end of study status holds a code the protocol
 *                   maps to that state; dated by the end of study date
 *
 * A state is reached from the values the subject's record holds now (a
 * conflicted item counts as missing until it is resolved). Screen
 * failures and the four end states are off study: they have no overdue
 * visits.
 */
#ifndef CB_SUMMARY_H
#define CB_SUMMARY_H

#include <stddef.h>

#include <cJSON.h>

#include "check.h"
#include "err.h"
#include "merge.h"
#include "protocol.h"

enum cb_lifecycle {
	CB_LC_SCREENING,
	CB_LC_SCREEN_FAILURE,
	CB_LC_RANDOMIZED,
	CB_LC_DOSED,
	CB_LC_COMPLETED,
	CB_LC_WITHDRAWN,
	CB_LC_LOST,
	CB_LC_DIED,
};

/* "screening", "screen failure", "randomized", "dosed", "completed",
 * "withdrawn", "lost to follow-up", "died". */
const char *cb_lifecycle_name(enum cb_lifecycle s);

/* 1 for a screen failure and the end states: no more visits are due. */
int cb_lifecycle_off_study(enum cb_lifecycle s);

/* The first emergency code-break of a subject: who, where, when, why. */
struct cb_summary_unblind {
	char *user, *site;
	char *when; /* the event's wall time, UTC */
	char *reason;
};

/*
 * One subject's summary. Every string is owned by the struct (freed by
 * cb_summary_release) and is "" when unknown; dates are as recorded
 * (YYYY-MM-DD, or partial), times are UTC wall times of events.
 */
struct cb_summary {
	char *subject, *site;
	enum cb_lifecycle state;
	char *state_date; /* when it entered `state` */
	char *created;	  /* wall time of its creation event */
	char *consent;	  /* consent date */
	char *day0;	  /* the protocol's day-0 date (windows count from) */
	char *randomized; /* randomization date */
	char *randno, *kit;
	char *dosed;	  /* first dose date (the date part) */
	char *ended;	  /* end of study date */
	char *end_status; /* the end of study status code */
	/* eligibility: CB_ELIG_* or -1 when the protocol has none */
	int elig;
	/* the scheduled visits with any value or conflict, as visit
	 * codes in protocol order, comma-separated */
	char *visits;
	size_t nvisits_done;
	size_t open_queries; /* open or answered, not closed */
	size_t conflicts;    /* conflicted items */
	size_t aes;	     /* instances of the safety (AE) form */
	size_t nunblind;     /* emergency code-breaks */
	struct cb_summary_unblind unblind; /* the first one */
	size_t nevents;
};

void cb_summary_init(struct cb_summary *s);
void cb_summary_release(struct cb_summary *s);

/*
 * The summary of `subject` from the events of `m` (which may hold other
 * subjects too; only this one's are read) into *out (initialised by the
 * caller; released first). CB_ENOTFOUND when the subject has no event,
 * CB_ENOMEM.
 */
int cb_summary_compute(const struct cb_protocol *p, struct cb_merge *m,
		       const char *subject, struct cb_summary *out,
		       struct cb_err *err);

/*
 * The summary as JSON, every member present (strings "" when unknown,
 * "elig" a name or null, "unblinded" null or {user, site, when, reason}),
 * the stored form in both stores: *out is a new tree (cJSON_Delete).
 * cb_summary_from_json reads it back (CB_EINVAL for another shape).
 */
int cb_summary_to_json(const struct cb_summary *s, cJSON **out,
		       struct cb_err *err);
int cb_summary_from_json(const cJSON *j, struct cb_summary *out,
			 struct cb_err *err);

/* 1 when scheduled visit `code` is in s->visits. */
int cb_summary_visit_done(const struct cb_summary *s, const char *code);

#endif
