/*
 * entry.h - a working session on the local casebook: the unlocked store,
 * its protocol, and the merged record derived from every stored event.
 *
 * Every data-entry command (subject, form, ae, sign, status, query) opens
 * one session, reads the record through the merge engine, and writes new
 * events through entry_commit_event(), which stamps them with the device's
 * hybrid logical clock, signs them with the device key, stores them
 * encrypted and adds them to the merge state, so the session always shows
 * what is stored.
 */
#ifndef CB_ENTRY_H
#define CB_ENTRY_H

#include <stddef.h>

#include "check.h"
#include "cli.h"
#include "err.h"
#include "event.h"
#include "hlc.h"
#include "merge.h"
#include "protocol.h"
#include "store.h"

/* Subject status written when a subject is added. */
#define ENTRY_STATUS_SCREENING "screening"

struct entry {
	struct store *st;
	struct cb_protocol *proto;
	struct cb_merge *merge;
	struct cb_hlc hlc;
	int64_t last_seq; /* highest store sequence in the merge state */
};

/*
 * Open and unlock the store (asking for the passphrase as pass.h says),
 * load its protocol and every stored event into the merge state.
 */
int entry_open(const struct cli_global *g, struct entry *e, struct cb_err *err);

/* Close everything; `e` may be partly opened. */
void entry_close(struct entry *e);

/*
 * 0 when `subject` has events on this laptop; CB_ENOTFOUND with a message
 * listing the known subjects (the first few) otherwise.
 */
int entry_subject_known(struct entry *e, const char *subject,
			struct cb_err *err);

/*
 * Start a new event of `kind` by this device and user: a fresh id, the
 * next clock value and the wall time, the target given (visit, form and
 * instance may be "").
 */
int entry_new_event(struct entry *e, struct cb_event *ev, const char *kind,
		    const char *subject, const char *visit, const char *form,
		    const char *instance, struct cb_err *err);

/*
 * Validate, sign, store and merge `ev`, and keep the clock. Runs inside
 * the caller's transaction when one is open.
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
};

void entry_save_result_init(struct entry_save_result *r);
void entry_save_result_release(struct entry_save_result *r);

/*
 * Check and save: resolve the target and items (CB_ENOTFOUND listing the
 * valid codes), refuse invalid UTF-8 and oversized values (CB_EINVAL,
 * CB_ETOOBIG), check the role may write the form (CB_EFORBIDDEN), drop
 * items whose value is unchanged, require a reason when a saved value
 * changes (CB_EINVAL with r->need_reason set), run every edit check on the
 * record the save would leave, related checks of other form instances
 * included (CB_ECHECK with the hard failures in r->checks: nothing is
 * saved), then store the form.save event and one system query per soft
 * failure not already open, on the form instance it belongs to. Choice
 * and boolean codes are accepted in any case and stored as the protocol
 * spells them. All of it runs in one
 * transaction, after taking in whatever another process stored since
 * the session opened (entry_refresh).
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
 * Take into the merge state any event another process stored since this
 * session loaded them. Call inside a transaction to see a settled store.
 */
int entry_refresh(struct entry *e, struct cb_err *err);

/*
 * The next free instance number of repeating `form` for `subject`: one
 * more than the highest instance any event has written.
 */
unsigned entry_next_instance(struct entry *e, const char *subject,
			     const char *visit, const char *form);

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
