/*
 * check.h - the edit-check engine: evaluates a loaded protocol's
 * declarative checks, eligibility rules, form completeness and derived
 * scores against one subject's current values.
 *
 * The engine knows no study and no store. It reads values through a
 * struct cb_check_source, a callback the site client and the server each
 * implement over their own current-value tables, so a site and the server
 * always reach the same verdict from the same data. struct cb_check_values
 * is a small in-memory source for tests and for callers that already hold
 * a subject's values.
 *
 * A save is checked with cb_check_save: the saved form instance in full,
 * and every check of another form instance that reads an item the save
 * changes, so a check relating two forms gives the same verdict whichever
 * is saved last. "Today" (not_future checks) is the caller's to give.
 *
 * Truth is three-valued. Comparisons of partial dates (date.h) may be
 * neither certainly true nor certainly false; a value that cannot be
 * parsed as its type cannot be ordered either. The conservative rule
 * everywhere: an edit check fails only when its test is certainly false,
 * and it applies only when its `when` condition is certainly true. So a
 * partial date never raises a false rejection or a false query.
 *
 * Missing operands follow protocol.h: a comparison with a missing operand
 * is false, except "absent" (true) and "!=" / "not_in" against a constant
 * (true when the item is missing); a COMPARE check with a missing operand
 * passes.
 */
#ifndef CB_CHECK_H
#define CB_CHECK_H

#include <stddef.h>

#include "err.h"
#include "protocol.h"

/*
 * Where the engine reads values. get() sets *value to the current value
 * of `item` in instance `instance` (0 for a non-repeating form) of `form`
 * at `visit`, for the one subject being evaluated, or to NULL when the
 * item has no value (never ""). The text must stay valid and unchanged
 * until the cb_check_* call that asked for it returns. get() returns 0,
 * or a CB_E* code with a message in err; that aborts the evaluation and
 * the cb_check_* call returns the same code.
 *
 * A conflicted item (several heads) is the caller's choice: returning
 * NULL treats it as unknown, which never fails a check.
 *
 * last_instance() (optional) sets *last to the highest instance of
 * repeating `form` at `visit` that may hold a value for the subject (0:
 * none). cb_check_save needs it to run a related check on every instance
 * of a repeating form; when it is NULL those instances are not visited.
 * Returns 0 or a CB_E* code, as get().
 */
struct cb_check_source {
	int (*get)(void *ctx, const char *visit, const char *form,
		   unsigned instance, const char *item, const char **value,
		   struct cb_err *err);
	void *ctx;
	int (*last_instance)(void *ctx, const char *visit, const char *form,
			     unsigned *last, struct cb_err *err);
};

/* ------------------------------------------------------------------ */
/* An in-memory value source.                                          */

/* Most values one struct cb_check_values holds (CB_ETOOBIG beyond). */
#define CB_CHECK_VALUES_MAX 200000u

struct cb_check_value {
	char *visit, *form; /* codes */
	unsigned instance;  /* 0 for a non-repeating form */
	char *item;
	char *value;
};

/*
 * One subject's values, kept sorted by (visit, form, instance, item) so
 * lookups are binary searches. All strings are copies owned by the struct.
 */
struct cb_check_values {
	size_t count;
	struct cb_check_value *list;
	size_t cap_;
};

/* Set to empty. */
void cb_check_values_init(struct cb_check_values *v);

/* Free every value and set to empty. NULL is allowed. */
void cb_check_values_release(struct cb_check_values *v);

/*
 * Set the value of (visit, form, instance, item), replacing any earlier
 * one; a NULL value removes it. The strings are copied. Returns 0,
 * CB_ENOMEM, CB_EINVAL for a NULL or empty code or an empty value, or
 * CB_ETOOBIG beyond CB_CHECK_VALUES_MAX values.
 */
int cb_check_values_set(struct cb_check_values *v, const char *visit,
			const char *form, unsigned instance, const char *item,
			const char *value, struct cb_err *err);

/*
 * Set one value written "VISIT.FORM.ITEM=VALUE", or "VISIT.FORM#N.ITEM=
 * VALUE" for instance N; an empty VALUE removes the item. A convenience
 * for tests and scripts; nothing is checked against a protocol. Returns
 * as cb_check_values_set, or CB_EINVAL for text not of that shape.
 */
int cb_check_values_parse(struct cb_check_values *v, const char *text,
			  struct cb_err *err);

/* The value of (visit, form, instance, item), or NULL. */
const char *cb_check_values_get(const struct cb_check_values *v,
				const char *visit, const char *form,
				unsigned instance, const char *item);

/*
 * A source reading v. The source holds a pointer to v, which must outlive
 * every call made with it.
 */
struct cb_check_source cb_check_values_source(struct cb_check_values *v);

/* ------------------------------------------------------------------ */
/* Pending changes over stored values.                                 */

/* One change to an item of the overlay's form instance. */
struct cb_check_change {
	const char *item;  /* item code */
	const char *value; /* new value, or NULL to clear it */
};

/*
 * The values a save would leave: `changes` to instance `instance` of
 * `form` at `visit`, over whatever `base` holds (NULL: nothing stored
 * yet). Checking a save before
 * storing it is cb_check_form on cb_check_overlay_source(). Nothing is
 * copied: base, the codes and the changes must outlive the source.
 * Should an item appear twice in changes, the last one counts.
 */
struct cb_check_overlay {
	const struct cb_check_source *base;
	const char *visit, *form;
	unsigned instance;
	size_t nchanges;
	const struct cb_check_change *changes;
};

/* A source reading o (which must outlive every call made with it). */
struct cb_check_source cb_check_overlay_source(struct cb_check_overlay *o);

/* ------------------------------------------------------------------ */
/* Edit checks.                                                        */

/*
 * Ids of the failures that come from an item's own definition rather
 * than from a declared check (protocol check ids are codes, so these
 * cannot collide with them).
 */
#define CB_CHECK_ID_FORMAT "item.format"	 /* not a value of the type */
#define CB_CHECK_ID_RANGE "item.range"		 /* outside the hard range */
#define CB_CHECK_ID_SOFT_RANGE "item.soft_range" /* outside the soft range */

/* Longest "VISIT.FORM#NNNN.ITEM" plus its NUL. */
#define CB_CHECK_PATH_SIZE (3 * CB_PROTOCOL_CODE_MAX + 8)

/* Most failures one struct cb_check_results keeps; see `dropped`. */
#define CB_CHECK_RESULTS_MAX 10000u

struct cb_check_result {
	const char *id; /* check id, or a CB_CHECK_ID_* (static) */
	enum cb_check_severity severity;
	/* The declared check, NULL for a CB_CHECK_ID_* failure. */
	const struct cb_protocol_check *check;
	/* The item the failure concerns, where a query belongs; NULL when
	 * the check names no item of the checked form (form-level). */
	const struct cb_protocol_item *item;
	/* The form instance the failure belongs to: the checked one, or
	 * (elsewhere set) another one a related check ran on (cb_check_save).
	 * A soft failure's query belongs there. */
	const struct cb_protocol_visit *visit;
	const struct cb_protocol_form *form;
	unsigned instance;
	int elsewhere;
	/* "FORM.ITEM" (or "FORM") for the checked instance; elsewhere
	 * "VISIT.FORM.ITEM", with "#N" after FORM for instance N. */
	char path[CB_CHECK_PATH_SIZE];
	char *message; /* for people; owned by the struct */
};

/*
 * Failures, in the order found. nhard and nsoft count every failure, also
 * those dropped beyond CB_CHECK_RESULTS_MAX (dropped counts those).
 */
struct cb_check_results {
	size_t count;
	struct cb_check_result *list;
	size_t nhard, nsoft, dropped;
	size_t cap_;
};

/* Set to empty. */
void cb_check_results_init(struct cb_check_results *r);

/* Free everything and set to empty. NULL is allowed. */
void cb_check_results_release(struct cb_check_results *r);

/*
 * Evaluate instance `instance` of `form` at `visit` for one subject and
 * append every failure to `res` (which the caller has initialised; results
 * of several calls may accumulate). What is evaluated:
 *
 *   - every item of the form that has a value, with
 *     cb_protocol_check_value: a malformed value (CB_CHECK_ID_FORMAT) or
 *     one outside the hard range (CB_CHECK_ID_RANGE) is a hard failure,
 *     one outside the soft range (CB_CHECK_ID_SOFT_RANGE) a soft one;
 *   - every check attached to `form`, at this visit and instance;
 *   - every check attached to every form (check->form NULL) whose item
 *     is "*" (then against each suitable item of this form) or an item of
 *     this form.
 *
 * Checks attached to another form are not evaluated here, even when they
 * refer to this one (cb_check_save runs them). A form with no value at
 * all (status empty) has no failures: nothing is evaluated.
 *
 * Hard failures mean the caller must refuse the save; soft failures mean
 * it saves and opens a query on result->item (or the form). Returns 0
 * whatever failed; CB_EINVAL when `visit` does not hold `form` or the
 * instance does not suit the form; CB_ENOMEM; or the source's error.
 *
 * cb_check_form knows no "today": not_future checks pass. It is
 * cb_check_save with a NULL context.
 */
int cb_check_form(const struct cb_protocol *p,
		  const struct cb_check_source *src,
		  const struct cb_protocol_visit *visit,
		  const struct cb_protocol_form *form, unsigned instance,
		  struct cb_check_results *res, struct cb_err *err);

/* What checking a save needs besides the values. */
struct cb_check_context {
	/*
	 * Today's date, "YYYY-MM-DD", for not_future checks (a date after
	 * today plus the check's `days` fails); NULL: they pass. The site
	 * and the server both pass the UTC date of the saving event's own
	 * wall time (record.h), so they reach the same verdict whenever the
	 * event is synced.
	 */
	const char *today;
	/* The items the save writes (their values are in the source). */
	size_t nchanges;
	const struct cb_check_change *changes;
};

/*
 * Check a save of instance `instance` of `form` at `visit`, the source
 * already showing the values it would leave (cb_check_overlay_source):
 * everything cb_check_form evaluates, and then every related check:
 *
 *   A check attached to another form instance that reads an item this
 *   save changes (through FORM.ITEM, VISIT.FORM.ITEM, or the day-0 item
 *   of a visit_window check) runs on each instance it applies to: every
 *   visit holding its form for a VISIT.FORM.ITEM reference (or the day-0
 *   item), the saved visit for a FORM.ITEM one; every instance of a
 *   repeating form (src->last_instance); instances with no value are
 *   skipped, as cb_check_form skips an empty form.
 *
 * So a check that relates two items gives the same verdict whichever of
 * them is saved last: saving a consent date after a visit dated before it
 * fails the visit's hard check, and saving a baseline date after a later
 * visit fails (soft) that visit's window. Failures on another instance are
 * marked `elsewhere` with that instance's visit, form and instance. Only
 * checks reading a changed item run there, so a failure left by earlier
 * data elsewhere does not block an unrelated save. `ctx` may be NULL (no
 * today, no changes). Returns as cb_check_form.
 */
int cb_check_save(const struct cb_protocol *p,
		  const struct cb_check_source *src,
		  const struct cb_protocol_visit *visit,
		  const struct cb_protocol_form *form, unsigned instance,
		  const struct cb_check_context *ctx,
		  struct cb_check_results *res, struct cb_err *err);

/* ------------------------------------------------------------------ */
/* Item lists, form status and eligibility.                            */

/* An item at a visit (a form's instance is implied by the caller). */
struct cb_check_itemref {
	const struct cb_protocol_visit *visit;
	const struct cb_protocol_item *item;
};

struct cb_check_items {
	size_t count;
	struct cb_check_itemref *list; /* owned by the struct */
	size_t cap_;
};

void cb_check_items_init(struct cb_check_items *l);
void cb_check_items_release(struct cb_check_items *l); /* NULL allowed */

enum cb_form_status {
	CB_FORM_EMPTY,	  /* no item has a value */
	CB_FORM_PARTIAL,  /* some value, but a required item is missing */
	CB_FORM_COMPLETE, /* every required item has a value */
};

/* "empty", "partial", "complete". */
const char *cb_form_status_name(enum cb_form_status s);

/*
 * The completeness of instance `instance` of `form` at `visit`. An item is
 * required when the protocol marks it required, or when a REQUIRED check
 * of this form names it and its `when` certainly holds; it is not
 * required when a FORBIDDEN check of this form names it and its `when`
 * certainly holds (so "end date required unless ongoing" works). Signed
 * and conflicted are the caller's to layer on top.
 *
 * When `missing` is not NULL (initialised by the caller), the required
 * items without a value are appended to it. Returns 0, CB_EINVAL as
 * cb_check_form, CB_ENOMEM, or the source's error.
 */
int cb_check_form_status(const struct cb_protocol *p,
			 const struct cb_check_source *src,
			 const struct cb_protocol_visit *visit,
			 const struct cb_protocol_form *form, unsigned instance,
			 enum cb_form_status *status,
			 struct cb_check_items *missing, struct cb_err *err);

enum cb_elig_status {
	CB_ELIG_INCOMPLETE, /* no rule fails, but data is missing or a rule
			       cannot be decided yet */
	CB_ELIG_NO,	    /* at least one rule certainly fails */
	CB_ELIG_YES,	    /* every rule holds, every required item given */
};

/* "incomplete", "not eligible", "eligible". */
const char *cb_elig_status_name(enum cb_elig_status s);

/*
 * The eligibility verdict and why. Rules are protocol-owned pointers; the
 * arrays are owned by the struct.
 *
 *   failed     rules that are certainly false, whatever values any
 *              missing items they read may later take
 *   undecided  rules that do not hold yet but could: an item they read
 *              is missing, or a partial date leaves them undecided
 *   missing    required items of the eligibility form without a value,
 *              then items read by undecided rules without a value
 *
 * status is NO when any rule failed, else INCOMPLETE when anything is
 * undecided or missing, else YES.
 */
struct cb_check_elig {
	enum cb_elig_status status;
	size_t nfailed;
	const struct cb_protocol_rule **failed;
	size_t nundecided;
	const struct cb_protocol_rule **undecided;
	struct cb_check_items missing;
};

void cb_check_elig_init(struct cb_check_elig *e);
void cb_check_elig_release(struct cb_check_elig *e); /* NULL allowed */

/*
 * Evaluate the protocol's eligibility rules on the eligibility form
 * (p->elig_visit, p->elig_form, instance 0) into *out (initialised by the
 * caller; released first). Returns 0; CB_ENOTFOUND when the protocol has
 * no eligibility section (the caller decides what that means);
 * CB_ENOMEM; or the source's error.
 */
int cb_check_eligibility(const struct cb_protocol *p,
			 const struct cb_check_source *src,
			 struct cb_check_elig *out, struct cb_err *err);

/* ------------------------------------------------------------------ */
/* Conditions.                                                         */

/* Three-valued: certainly false, certainly true, or cannot tell. */
enum cb_check_truth {
	CB_CHECK_FALSE = 0,
	CB_CHECK_TRUE = 1,
	CB_CHECK_MAYBE = 2,
};

/*
 * Evaluate condition `c` of `p` (a safety flag such as "serious", say)
 * on instance `instance` of `form` at `visit`, by the rules of
 * protocol.h (a comparison with a missing operand is false, except
 * "absent", and "!=" / "not_in" against a constant), into *out. An
 * undecidable comparison of partial dates is CB_CHECK_MAYBE. Returns 0,
 * or the source's error.
 */
int cb_check_condition(const struct cb_protocol *p,
		       const struct cb_check_source *src,
		       const struct cb_protocol_visit *visit,
		       const struct cb_protocol_form *form, unsigned instance,
		       const struct cb_protocol_cond *c,
		       enum cb_check_truth *out, struct cb_err *err);

/* ------------------------------------------------------------------ */
/* Derived scores.                                                     */

/* One output of one declared score. */
struct cb_check_score {
	const struct cb_protocol_score *score; /* protocol-owned */
	const char *output; /* the method's output name, e.g. "pain" */
	/* "NAME_OUTPUT" (score name, "_", output: "womac_pain"), or just
	 * NAME when the two are equal ("vas" for the vas method). */
	char name[2 * CB_PROTOCOL_CODE_MAX + 2];
	int valid;    /* 0: null (its missing-item rule made it invalid) */
	double value; /* rounded to 2 decimals; 0 when not valid */
};

struct cb_check_scores {
	size_t count;
	struct cb_check_score *list; /* owned by the struct */
};

void cb_check_scores_init(struct cb_check_scores *s);
void cb_check_scores_release(struct cb_check_scores *s); /* NULL allowed */

/*
 * Compute every score `form` declares from instance `instance` at
 * `visit` into *out (initialised by the caller; released first), score by
 * score in protocol order, outputs in method order. A missing item counts
 * as not answered; a value that is not a whole number within the
 * method's item range makes its subscale invalid (never clamped, never
 * treated as missing). Returns 0, CB_ENOMEM, or the source's error.
 * Print a valid value with "%.2f".
 */
int cb_check_scores(const struct cb_protocol *p,
		    const struct cb_check_source *src,
		    const struct cb_protocol_visit *visit,
		    const struct cb_protocol_form *form, unsigned instance,
		    struct cb_check_scores *out, struct cb_err *err);

#endif
