/*
 * entry.h - a working session on the local casebook: the unlocked store,
 * its protocol, and the merged record of the subjects it works on.
 *
 * Every data-entry command (subject, form, ae, sign, status, query,
 * randomize, unblind, dump) opens one session. The record is merged one
 * subject at a time (DESIGN.md section 3): entry_merge loads a subject's
 * events, and only that subject's, into a merge state the session keeps
 * (at most ENTRY_CACHE_MAX subjects, the least recently used dropped), so
 * what a command costs grows with the subjects it touches, not with the
 * store. Commands that list every subject read the derived rows instead
 * (derive.h). New events go through entry_commit_event(), which stamps
 * them with the device's hybrid logical clock, signs them with the device
 * key, stores them encrypted, adds them to the subject's merge state and
 * writes the subject's derived rows, all in one transaction, so the
 * session and the store always say the same.
 *
 * Transactions: entry_begin, entry_commit, entry_rollback wrap the
 * store's. A rollback also drops every merge state the session holds (an
 * event added to one may not be in the store any more); they are loaded
 * again from the store when next used.
 */
#ifndef CB_ENTRY_H
#define CB_ENTRY_H

#include <stddef.h>

#include "check.h"
#include "cli.h"
#include "derive.h"
#include "err.h"
#include "event.h"
#include "hlc.h"
#include "merge.h"
#include "protocol.h"
#include "store.h"

/* Subject status written when a subject is added. */
#define ENTRY_STATUS_SCREENING "screening"

/* Most subjects whose merge state one session keeps. */
#define ENTRY_CACHE_MAX 16

struct entry_cached {
	char *subject;
	struct derive_subject d;
	unsigned long used; /* the session's tick when last used */
};

struct entry {
	struct store *st;
	struct cb_protocol *proto;
	struct cb_hlc hlc;
	/* The store's highest event number when the cache was last known to
	 * hold everything stored: when another process stores events, the
	 * next transaction drops the cache. */
	int64_t last_seq;
	struct entry_cached cache[ENTRY_CACHE_MAX];
	size_t ncache;
	unsigned long tick;
	/* The subjects the session used, which the test build dumps at
	 * close (entry.c); the same layout in every build, as the struct
	 * is shared by files compiled with and without the test hooks. */
	char *seen[ENTRY_CACHE_MAX];
	size_t nseen;
};

/*
 * Open and unlock the store (asking for the passphrase as pass.h says),
 * load its protocol, and bring pending derived rows up to date
 * (derive_pending, with a progress line on a terminal), unless the store
 * is read-only or another process is writing (readers then derive those
 * subjects in memory). Nothing else is read: subjects are loaded when
 * used.
 */
int entry_open(const struct cli_global *g, struct entry *e, struct cb_err *err);

/* Close everything; `e` may be partly opened. */
void entry_close(struct entry *e);

/*
 * The merge state holding every event of `subject` on the record
 * (quarantined ones left out), loaded on first use from that subject's
 * events alone and kept by the session. *m stays valid until the next
 * entry_merge of another subject, entry_rollback or entry_close. A
 * subject with no event gives an empty state. CB_EINTEGRITY when the
 * subject's events in the store are fewer than its summary row counted
 * (rows moved out of sight).
 */
int entry_merge(struct entry *e, const char *subject, struct cb_merge **m,
		struct cb_err *err);

/*
 * 0 when `subject` has events on this laptop; CB_ENOTFOUND with a message
 * listing the known subjects (the first few) otherwise.
 */
int entry_subject_known(struct entry *e, const char *subject,
			struct cb_err *err);

/*
 * Begin a write transaction and take in what another process stored
 * since the session last looked (its merge states are dropped then, and
 * the clock moves up to the store's). entry_commit commits (dropping the
 * merge states when that fails); entry_rollback rolls back and drops
 * them.
 */
int entry_begin(struct entry *e, struct cb_err *err);
int entry_commit(struct entry *e, struct cb_err *err);
void entry_rollback(struct entry *e);

/*
 * Start a new event of `kind` by this device and user: a fresh id, the
 * next clock value and the wall time, the target given (visit, form and
 * instance may be "").
 */
int entry_new_event(struct entry *e, struct cb_event *ev, const char *kind,
		    const char *subject, const char *visit, const char *form,
		    const char *instance, struct cb_err *err);

/*
 * Check `ev` with the rules the server applies (cb_record_check_event),
 * sign, store and merge it, write its subject's derived rows and keep the
 * clock. Runs inside the caller's transaction (entry_begin) when one is
 * open, else in one of its own. On failure the subject's merge state is
 * dropped (the caller rolls back).
 */
int entry_commit_event(struct entry *e, struct cb_event *ev,
		       struct cb_err *err);

/* A save of item values into one form instance. */
struct entry_save {
	const char *subject;
	const char *visit; /* visit code as typed */
	const char *form;  /* "CODE" or "CODE#N" */
	size_t n;
	const char *const *items;  /* item codes as typed (any case) */
	const char *const *values; /* "" clears the item */
	const char *reason;	   /* NULL when none was given */
	/* Set: `form` is the code of a repeating form, and the save makes
	 * its next instance, numbered inside the save's transaction so two
	 * processes never take the same number (r->instance tells which). */
	int new_instance;
	/* Set: the save runs inside the caller's open transaction (see
	 * entry_save_form); 0 for a save in its own. */
	int in_caller_tx;
};

/* What a save did, or why it was refused. */
struct entry_save_result {
	int need_reason; /* refused: saved values change, no reason */
	size_t nchanged; /* items written (0: nothing changed) */
	size_t nqueries; /* system queries opened for soft checks */
	char event_id[CB_EVENT_ID_HEX + 1]; /* "" when nothing was written */
	struct cb_check_results checks;	    /* every failure, hard and soft */
	const struct cb_protocol_visit *visit;
	const struct cb_protocol_form *form;
	unsigned instance;
	/* Set once the save began writing (see entry_save_form). */
	int wrote;
};

void entry_save_result_init(struct entry_save_result *r);
void entry_save_result_release(struct entry_save_result *r);

/*
 * Check and save: resolve the target and items (CB_ENOTFOUND listing the
 * valid codes), refuse invalid UTF-8 and oversized values (CB_EINVAL,
 * CB_ETOOBIG), check the role may write the form (CB_EFORBIDDEN; the
 * data manager, who writes none, may resolve a conflict on any: every
 * item saved must be in conflict, cb_record_check_save), drop
 * items whose value is unchanged, require a reason when a saved value
 * changes (CB_EINVAL with r->need_reason set), run every edit check on the
 * record the save would leave, related checks of other form instances
 * included (CB_ECHECK with the hard failures in r->checks: nothing is
 * saved), then store the form.save event and one system query per soft
 * failure not already open, on the form instance it belongs to. Choice
 * and boolean codes are accepted in any case and stored as the protocol
 * spells them. All of it runs in one
 * transaction (entry_begin: after taking in whatever another process
 * stored since the session opened). On any failure the transaction is
 * rolled back and the session holds nothing of the save: neither the
 * store nor the merge state changes.
 *
 * With s->in_caller_tx set, called while the caller's transaction is
 * open (entry_begin; a bulk import saving many forms at once;
 * CB_EINVAL when none is), the save runs inside it and
 * neither commits nor rolls back: a save refused with r->wrote still 0
 * (every refusal of a value, a check, a reason or a code) wrote nothing
 * and left the merge state as it was, so the caller may go on; with
 * r->wrote set (the store failed while writing) the caller must roll
 * back (entry_rollback).
 */
int entry_save_form(struct entry *e, const struct entry_save *s,
		    struct entry_save_result *r, struct cb_err *err);

/*
 * Open one system query per soft failure in `checks` (as a save does),
 * each on the form instance and item the failure belongs to, unless the
 * same check's query is open there already; adds the number opened to
 * *opened. Call inside the transaction that stores the checked event.
 */
int entry_open_soft_queries(struct entry *e, const char *subject,
			    const struct cb_check_results *checks,
			    size_t *opened, struct cb_err *err);

/*
 * The next free instance number of repeating `form` for `subject` into
 * *out: one more than the highest instance any event has written. 0, or
 * the error of loading the subject (never a guess: instance 1 of a
 * subject that could not be read may be taken already).
 */
int entry_next_instance(struct entry *e, const char *subject, const char *visit,
			const char *form, unsigned *out, struct cb_err *err);

/*
 * The subject's value of `item` of the protocol's randomization form, or
 * NULL (none, conflicted, or no such form). Valid until the subject's
 * merge state changes.
 */
const char *entry_rand_value(struct entry *e, const char *subject,
			     const struct cb_protocol_item *item);

/*
 * The ITEM=VALUE arguments of a save (form set, ae add): argv[first..]
 * holds ITEM=VALUE, --value-file ITEM=FILE (the value read from FILE,
 * one final newline dropped; NUL bytes refused) and --reason TEXT. Fills
 * s->items, s->values, s->n and s->reason, keeping what it allocates in
 * *a (release with entry_args_release). Returns EXIT_OK, or the exit
 * code after printing why (usage 2, a value file that cannot be used 1
 * or 3).
 */
struct entry_args {
	const char **items, **values;
	char **owned; /* values read from files */
	size_t nowned;
};
int entry_parse_values(const char *cmd, int argc, char **argv, int first,
		       struct entry_save *s, struct entry_args *a);
void entry_args_release(struct entry_args *a);

/*
 * Output shared by the data-entry commands. entry_print_checks prints the
 * hard failures of a save (and, unless hard_only, the soft ones as
 * warnings) on stderr; entry_print_scores prints the derived scores of
 * the saved form instance; entry_save_exit prints why a save failed and
 * returns the exit code: 3 for an edit check, an unknown code or a bad
 * value, 2 for a missing reason, else as cli_fail.
 */
void entry_print_checks(const struct entry_save_result *r, int hard_only);
void entry_print_scores(struct entry *e, const char *subject,
			const struct entry_save_result *r);
int entry_save_exit(const struct entry_save_result *r,
		    const struct cb_err *err);

#endif
