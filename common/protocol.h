/*
 * protocol.h - the study protocol: its in-memory model, the loader that
 * validates a protocol file, and the lookups data entry, edit checks,
 * randomization, blinding and reports are built on.
 *
 * A study is one JSON file whose format schemas/README.md describes. The
 * loader checks everything it can before anything uses the protocol:
 * types, codes, ranges, every reference between visits, forms, items,
 * checks, strata and scores. It collects every problem it finds (up to
 * CB_PROTOCOL_PROBLEMS_MAX), each starting with the JSON path it concerns
 * ("$.forms[3].items[2].range.min: ..."), so an author fixes them all in
 * one pass.
 *
 * A loaded protocol is immutable. Every string, array and struct it holds
 * lives in memory owned by the struct cb_protocol and is released by
 * cb_protocol_free(); pointers into it stay valid until then. Nothing in
 * this module knows any particular study: codes such as visit or form
 * names only ever come from the file.
 *
 * Values are text, as CDISC ODM and the canonical event encoding carry
 * them: integers "42", decimals "3.5", dates "2024-03-05", partial dates
 * "2024" or "2024-03", date-times "2024-03-05T10:30", choice codes, and
 * booleans "Y" or "N". A missing value is NULL, never "".
 */
#ifndef CB_PROTOCOL_H
#define CB_PROTOCOL_H

#include <stddef.h>

#include "err.h"
#include "score.h"

/* Caps. Every one is checked by the loader, which reports what exceeds it. */
#define CB_PROTOCOL_FILE_MAX (4u * 1024u * 1024u) /* bytes of JSON */
#define CB_PROTOCOL_CODE_MAX 32	       /* visit, form, item, arm, check code */
#define CB_PROTOCOL_LABEL_MAX 400      /* labels, messages, titles (bytes) */
#define CB_PROTOCOL_VISITS_MAX 100     /* visits, LOG included */
#define CB_PROTOCOL_FORMS_MAX 200      /* forms */
#define CB_PROTOCOL_FORM_ITEMS_MAX 500 /* items of one form */
#define CB_PROTOCOL_CHOICES_MAX 200    /* codes in one choice list */
#define CB_PROTOCOL_CHECKS_MAX 2000    /* edit checks */
#define CB_PROTOCOL_RULES_MAX 200      /* eligibility rules */
#define CB_PROTOCOL_LIST_MAX 200       /* any other list (arms, strata, ...) */
#define CB_PROTOCOL_COND_DEPTH 8       /* nesting of all/any/not */
#define CB_PROTOCOL_TEXT_MAX 4000      /* largest max_length of a text item */
#define CB_PROTOCOL_TEXT_DEFAULT 200   /* max_length when the file gives none */
#define CB_PROTOCOL_PRECISION_MAX 6    /* decimal places of a decimal item */
#define CB_PROTOCOL_REPEAT_MAX 9999 /* highest instance of a repeating form */
#define CB_PROTOCOL_FUTURE_DAYS_MAX 366 /* `days` of a not_future check */

/* Problems kept by one load, and the longest message of each (bytes). */
#define CB_PROTOCOL_PROBLEMS_MAX 100
#define CB_PROTOCOL_PROBLEM_LEN 400

/*
 * The pseudo-visit that holds forms filled at any time (adverse events,
 * end of study). It has no target day or window. This is Casebook's
 * convention, not a study's: every protocol spells it this way.
 */
#define CB_PROTOCOL_LOG_VISIT "LOG"

enum cb_item_type {
	CB_ITEM_INTEGER,      /* "-12", "42" */
	CB_ITEM_DECIMAL,      /* at most `precision` decimals: "3.5" */
	CB_ITEM_TEXT,	      /* UTF-8, at most max_length characters */
	CB_ITEM_DATE,	      /* YYYY-MM-DD */
	CB_ITEM_PARTIAL_DATE, /* YYYY, YYYY-MM or YYYY-MM-DD */
	CB_ITEM_DATETIME,     /* YYYY-MM-DDTHH:MM[:SS], site local time */
	CB_ITEM_CHOICE,	      /* one code of the item's choice list */
	CB_ITEM_BOOLEAN,      /* "Y" or "N" */
};

/* Who may write a form's data: a bit set of these. */
enum cb_writer {
	CB_WRITER_COORDINATOR = 1u << 0,
	CB_WRITER_INVESTIGATOR = 1u << 1,
	CB_WRITER_DATAMANAGER = 1u << 2,
	CB_WRITER_MONITOR = 1u << 3,
	CB_WRITER_STATISTICIAN = 1u << 4,
	CB_WRITER_DSMB = 1u << 5,
	CB_WRITER_LAB = 1u << 6,
	/* Only `casebook randomize` writes it (the randomization form). */
	CB_WRITER_SYSTEM = 1u << 7,
};

/* Comparison operators of the condition language. */
enum cb_cmp_op {
	CB_CMP_EQ,	/* "="  */
	CB_CMP_NE,	/* "!=" */
	CB_CMP_LT,	/* "<"  numbers and dates only */
	CB_CMP_LE,	/* "<=" */
	CB_CMP_GT,	/* ">"  */
	CB_CMP_GE,	/* ">=" */
	CB_CMP_IN,	/* "in": equals one of the values */
	CB_CMP_NOT_IN,	/* "not_in" */
	CB_CMP_PRESENT, /* "present": has a value */
	CB_CMP_ABSENT,	/* "absent": has no value */
};

enum cb_cond_kind {
	CB_COND_COMPARE, /* item op value(s) | item op other item */
	CB_COND_ALL,	 /* every sub-condition holds */
	CB_COND_ANY,	 /* at least one sub-condition holds */
	CB_COND_NOT,	 /* the single sub-condition does not hold */
};

enum cb_check_type {
	CB_CHECK_REQUIRED,     /* item must have a value (when `when` holds) */
	CB_CHECK_FORBIDDEN,    /* item must have no value (when `when` holds) */
	CB_CHECK_COMPARE,      /* item op value | item op other item */
	CB_CHECK_AT_LEAST_ONE, /* one of `items` present (or equal to value) */
	CB_CHECK_VISIT_WINDOW, /* date item within its visit's window */
	CB_CHECK_CONDITION,    /* a free condition must hold */
	CB_CHECK_NOT_FUTURE,   /* date item not after today + `days` */
	CB_CHECK_AGE,	       /* age item agrees with birth and a date */
};

enum cb_check_severity {
	CB_SEVERITY_HARD, /* the value is rejected */
	CB_SEVERITY_SOFT, /* the value is kept and a query is opened */
};

struct cb_protocol;
struct cb_protocol_form;
struct cb_protocol_visit;

struct cb_protocol_choice {
	const char *code;  /* stored value */
	const char *label; /* shown to people */
};

/* One end of a range may be absent (has_min or has_max 0). */
struct cb_protocol_range {
	int has_min, has_max;
	double min, max;
};

struct cb_protocol_item {
	const char *code; /* unique within its form, e.g. "HEIGHT" */
	const char *label;
	const char *unit; /* "" when none */
	enum cb_item_type type;
	int required;	   /* the form is incomplete without it */
	int unblinded;	   /* withheld from every blinded role */
	int precision;	   /* decimal: most decimal places; else 0 */
	size_t max_length; /* text: most characters (code points); else 0 */
	/* integer and decimal only; has_min = has_max = 0 otherwise */
	struct cb_protocol_range range; /* hard: outside is rejected */
	struct cb_protocol_range soft;	/* soft: outside opens a query */
	/* choice: the codes; boolean: "Y" (Yes) and "N" (No); else none */
	size_t nchoices;
	const struct cb_protocol_choice *choices;
	const struct cb_protocol_form *form; /* the form holding it */
	size_t index;			     /* position in form->items */
	/* The checks that may read this item: every check that names it in
	 * a condition (at any depth) or as an age's birth or date, and
	 * every visit window when it is day 0; indices into
	 * protocol->checks, ascending, filled by the loader (has_readers).
	 * A save's related checks (check.h) look only at these. */
	size_t nreaders;
	const size_t *readers;
};

/*
 * A derived score: method (from score.h) and, for each of the method's
 * items in method order, the form item that supplies it.
 */
struct cb_protocol_score {
	const char *name; /* prefix for outputs; the method name by default */
	const struct cb_score_method *method;
	const struct cb_protocol_item *const *items; /* method->nitems */
};

struct cb_protocol_form {
	const char *code; /* e.g. "DM" */
	const char *label;
	int repeating;	  /* instances written CODE#1, CODE#2, ... */
	unsigned writers; /* CB_WRITER_* bits */
	size_t nitems;
	const struct cb_protocol_item *items; /* a slice of protocol->items */
	size_t nscores;
	const struct cb_protocol_score *scores;
	size_t nvisits; /* the visits holding this form, in visit order */
	const struct cb_protocol_visit *const *visits;
	size_t index; /* position in protocol->forms */
};

struct cb_protocol_visit {
	const char *code; /* e.g. "SCR", or CB_PROTOCOL_LOG_VISIT */
	const char *label;
	int scheduled; /* 0 only for the LOG pseudo-visit */
	int day;       /* target day relative to day 0 (scheduled only) */
	int low, high; /* window, inclusive, in days from day 0 */
	size_t nforms; /* forms in the order the visit lists them */
	const struct cb_protocol_form *const *forms;
	size_t index; /* position in protocol->visits */
};

/*
 * A reference to an item's value, as written in the file:
 *
 *   "ITEM"              visit = NULL, form = the form being checked:
 *                       the same visit and the same repeat instance
 *   "FORM.ITEM"         visit = NULL: FORM at the visit being checked
 *   "VISIT.FORM.ITEM"   that form at that fixed visit
 *
 * The loader guarantees `form` holds `item`, and that a reference to
 * another form never needs to pick a repeat instance.
 */
struct cb_protocol_ref {
	const char *text;		       /* as written, for messages */
	const struct cb_protocol_visit *visit; /* NULL: the checked visit */
	const struct cb_protocol_form *form;
	const struct cb_protocol_item *item;
};

/*
 * A constant in a condition, already validated against the item it is
 * compared with. `num` is the value as a number for integer and decimal
 * items, 0 otherwise.
 */
struct cb_protocol_value {
	const char *text;
	double num;
};

/*
 * A condition. COMPARE: `left` op (`other` when has_other, else the
 * values: exactly one for = != < <= > >=, one or more for in and not_in,
 * none for present and absent). ALL/ANY: nsub sub-conditions; NOT: one.
 *
 * Evaluation (for whoever evaluates): a comparison with a missing operand
 * is false, except "absent" (true) and "!=" / "not_in" against a
 * constant, which are true when the item is missing. Dates compare as
 * date.h describes: a partial date that cannot be ordered makes the
 * comparison unknown, and an edit check fails only when it is certainly
 * false.
 */
struct cb_protocol_cond {
	enum cb_cond_kind kind;
	struct cb_protocol_ref left;
	enum cb_cmp_op op;
	int has_other;
	struct cb_protocol_ref other;
	size_t nvalues;
	const struct cb_protocol_value *values;
	size_t nsub;
	const struct cb_protocol_cond *sub;
};

/*
 * A declarative edit check, attached to `form` (or to every form when
 * form is NULL, possible only for compare and not_future checks whose
 * references are all VISIT.FORM.ITEM). It applies when `when` is NULL or
 * holds. A check that reads an item of another form (FORM.ITEM,
 * VISIT.FORM.ITEM, or the day-0 item of a visit window) relates the two:
 * check.h runs it when either side is saved.
 *
 *   REQUIRED, FORBIDDEN   `item` must (not) have a value.
 *   COMPARE               `test` is a CB_COND_COMPARE whose left operand is
 *                         the checked item. `item` NULL (written "*") means
 *                         every item of the form whose type can be compared
 *                         with test->other or test->values (every date-like
 *                         item for a date), except the other item itself;
 *                         test->left.item is then NULL too. A missing
 *                         operand makes the check pass.
 *   AT_LEAST_ONE          one of `items` has a value (or equals `value`
 *                         when value is not NULL).
 *   VISIT_WINDOW          `item` (a date or date-time) at a scheduled
 *                         visit lies within that visit's low..high days
 *                         from the protocol's day-0 item.
 *   CONDITION             `test` must hold.
 *   NOT_FUTURE            `item` (a date-like item; NULL, written "*",
 *                         means every date-like item of the form, and
 *                         form NULL every form) is not after today plus
 *                         `days` days. "Today" is the caller's (check.h:
 *                         struct cb_check_context); without one the check
 *                         passes.
 *   AGE                   `item` (an integer: age in completed years)
 *                         agrees with `birth` (an integer birth year, or a
 *                         date-like birth date) and `on` (the date-like
 *                         item the age is taken at): with two full dates
 *                         it is exactly the completed years between them,
 *                         otherwise the year of `on` minus the birth year,
 *                         or one less. A missing operand passes.
 */
struct cb_protocol_check {
	const char *id;	     /* unique, e.g. "AE_END_AFTER_ONSET" */
	const char *message; /* shown when the check fails */
	enum cb_check_type type;
	enum cb_check_severity severity;
	const struct cb_protocol_form *form; /* NULL: every form */
	const struct cb_protocol_item *item; /* see above; NULL if unused */
	const struct cb_protocol_cond *when; /* NULL: always */
	const struct cb_protocol_cond *test; /* COMPARE and CONDITION */
	size_t nitems;			     /* AT_LEAST_ONE */
	const struct cb_protocol_item *const *items;
	const char *value; /* AT_LEAST_ONE: required value, or NULL */
	int days;	   /* NOT_FUTURE: days allowed after today, 0..366 */
	struct cb_protocol_ref birth, on; /* AGE; item NULL otherwise */
};

/* An eligibility rule: `cond` must hold for the subject to be eligible. */
struct cb_protocol_rule {
	const char *id;
	const char *label; /* what the rule means, for people */
	const struct cb_protocol_cond *cond;
};

struct cb_protocol_arm {
	const char *code; /* e.g. "PBO"; never shown to blinded roles */
	const char *label;
	unsigned ratio; /* allocation weight, 1..100 */
};

/* A stratification factor (every list is also stratified by site). */
struct cb_protocol_stratum {
	const char *name;
	const struct cb_protocol_visit *visit;
	const struct cb_protocol_form *form;
	const struct cb_protocol_item *item;
	size_t nlevels;
	const char *const *levels; /* valid values of item */
};

/*
 * AE concepts the safety report and the SDTM export need, by the AE
 * form's item codes: term (text or choice), onset and end (date-like),
 * grade and severity (integer or choice; a higher number, or a code
 * later in the choice list, is worse), ongoing (boolean), relationship
 * to study treatment, action taken and outcome (choice or text).
 */
enum cb_safety_item {
	CB_SAFETY_TERM,
	CB_SAFETY_ONSET,
	CB_SAFETY_END,
	CB_SAFETY_GRADE,
	CB_SAFETY_SEVERITY,
	CB_SAFETY_ONGOING,
	CB_SAFETY_RELATIONSHIP,
	CB_SAFETY_ACTION,
	CB_SAFETY_OUTCOME,
	CB_SAFETY_NITEMS
};

/* Per-AE flags the safety report needs, as conditions on the AE form. */
enum cb_safety_flag {
	CB_SAFETY_SERIOUS,
	CB_SAFETY_RELATED,
	CB_SAFETY_DEATH,
	CB_SAFETY_DISCONTINUED,
	CB_SAFETY_NFLAGS
};

/*
 * Where a subject's lifecycle ends (summary.h), by the code of the end
 * of study status item: completed, withdrawn, lost to follow-up, died.
 */
enum cb_end_state {
	CB_END_COMPLETED,
	CB_END_WITHDRAWN,
	CB_END_LOST,
	CB_END_DIED,
};

struct cb_protocol_end_state {
	const char *code; /* a code of the status item */
	enum cb_end_state state;
};

struct cb_protocol {
	const char *format;  /* "casebook-protocol/1" */
	const char *id;	     /* study id, e.g. "knee-oa-msc" */
	const char *version; /* protocol version, e.g. "1.0" */
	const char *title;   /* "" when none */

	size_t nvisits; /* scheduled visits first by day, LOG where listed */
	const struct cb_protocol_visit *visits;
	size_t nscheduled; /* visits that are not LOG */
	size_t nforms;
	const struct cb_protocol_form *forms;
	size_t nitems; /* every item of every form, form by form */
	const struct cb_protocol_item *items;
	size_t nchecks;
	const struct cb_protocol_check *checks;
	/* Each item's readers are filled: the loader does it. A protocol
	 * built by hand leaves this 0, and its saves then look at every
	 * check for the related ones (check.c). */
	int has_readers;
	size_t narms;
	const struct cb_protocol_arm *arms;
	size_t nstrata;
	const struct cb_protocol_stratum *strata;

	/* Day 0 of the schedule: the date item windows count from. */
	struct cb_protocol_ref day0;

	/* Eligibility: every rule holds and every required item is present. */
	const struct cb_protocol_visit *elig_visit; /* NULL: no eligibility */
	const struct cb_protocol_form *elig_form;
	size_t nrules;
	const struct cb_protocol_rule *rules;

	/* Randomization; rand_form NULL when the study has none. */
	const struct cb_protocol_visit *rand_visit;
	const struct cb_protocol_form *rand_form;     /* writers = SYSTEM */
	const struct cb_protocol_item *rand_number;   /* randomization no. */
	const struct cb_protocol_item *rand_kit;      /* kit number */
	const struct cb_protocol_item *rand_datetime; /* when randomized */
	size_t nblock_sizes; /* permuted block sizes, each a multiple of */
	const unsigned *block_sizes; /* the arms' ratio total */

	/* Safety reporting; safety_form NULL when the file has no section. */
	const struct cb_protocol_form *safety_form;
	const struct cb_protocol_item
	    *safety_items[CB_SAFETY_NITEMS]; /* or NULL */
	const struct cb_protocol_cond
	    *safety_flags[CB_SAFETY_NFLAGS]; /* or NULL */
	size_t ncriteria; /* seriousness criteria items (Y/N) */
	const struct cb_protocol_item *const *criteria;
	struct cb_protocol_ref first_dose; /* item NULL when not given */

	/* The subject lifecycle ("lifecycle" section; refs with item NULL
	 * when not given): the consent date, and the end of study status
	 * and date, with what each status code means. */
	struct cb_protocol_ref consent;
	struct cb_protocol_ref end_status, end_date;
	size_t nend_states;
	const struct cb_protocol_end_state *end_states;

	/* The exact bytes loaded and their SHA-256 (lowercase hex): the
	 * version identity the server hands to clients. */
	const char *source;
	size_t source_len;
	char sha256[65];

	void *mem_; /* private: the memory everything above lives in */
};

/*
 * Every problem one load found. `count` messages are kept (at most
 * CB_PROTOCOL_PROBLEMS_MAX, in the order found); `total` counts them all,
 * so total > count means some were dropped. Each message is
 * "$.json.path: what is wrong", or for a file that is not JSON at all the
 * parser's "FILE: invalid JSON at line L, column C".
 */
struct cb_protocol_problems {
	size_t count;
	size_t total;
	char **msgs; /* count strings, owned by the struct */
};

/* Set to empty; call before the first load that fills it. */
void cb_protocol_problems_init(struct cb_protocol_problems *pr);

/* Free the messages and set to empty. NULL is allowed. */
void cb_protocol_problems_release(struct cb_protocol_problems *pr);

/*
 * Validate and load the protocol in `len` bytes of `text` (need not be
 * NUL-terminated); `what` names it in messages (a file name, or NULL).
 *
 * On success returns 0 and *out is a protocol the caller frees with
 * cb_protocol_free(). When the protocol has problems returns CB_EINVAL,
 * *out is NULL, err holds the first problem and the count, and `problems`
 * (when not NULL; released first) holds every problem found. Returns
 * CB_ETOOBIG over CB_PROTOCOL_FILE_MAX and CB_ENOMEM when out of memory.
 */
int cb_protocol_load_json(const char *text, size_t len, const char *what,
			  struct cb_protocol **out,
			  struct cb_protocol_problems *problems,
			  struct cb_err *err);

/*
 * Read `path` (at most CB_PROTOCOL_FILE_MAX bytes) and load it as
 * cb_protocol_load_json does. A file that cannot be read gives
 * CB_ENOTFOUND or CB_EIO with a message naming it, and no problems.
 */
int cb_protocol_load_file(const char *path, struct cb_protocol **out,
			  struct cb_protocol_problems *problems,
			  struct cb_err *err);

/* Free a protocol and everything in it. NULL is allowed. */
void cb_protocol_free(struct cb_protocol *p);

/* The visit, form or arm with that exact code, or NULL. */
const struct cb_protocol_visit *
cb_protocol_find_visit(const struct cb_protocol *p, const char *code);
const struct cb_protocol_form *
cb_protocol_find_form(const struct cb_protocol *p, const char *code);
const struct cb_protocol_arm *cb_protocol_find_arm(const struct cb_protocol *p,
						   const char *code);

/* The item of `form` with that exact code, or NULL. */
const struct cb_protocol_item *
cb_protocol_find_item(const struct cb_protocol_form *form, const char *code);

/*
 * The item named "FORM.ITEM" (any visit) in p, or NULL. A convenience for
 * tests and commands; code that knows the form uses cb_protocol_find_item.
 */
const struct cb_protocol_item *
cb_protocol_find_item_path(const struct cb_protocol *p, const char *form_item);

/*
 * The item holding a scheduled visit's date: the item of a visit_window
 * check on a (non-repeating) form the visit holds, one on the day-0
 * item's form first, else the day-0 item when the visit holds its form.
 * NULL for LOG or a visit with neither.
 */
const struct cb_protocol_item *
cb_protocol_visit_date_item(const struct cb_protocol *p,
			    const struct cb_protocol_visit *v);

/* True when `visit` holds `form`. */
int cb_protocol_visit_has_form(const struct cb_protocol_visit *visit,
			       const struct cb_protocol_form *form);

/*
 * Parse a form target as events write it: "CODE" for a form, "CODE#N"
 * for instance N (1..CB_PROTOCOL_REPEAT_MAX) of a repeating form. Sets
 * *form and *instance (0 for a non-repeating form). Returns 0, or
 * CB_ENOTFOUND for an unknown form, CB_EINVAL for an instance on a
 * non-repeating form, a repeating form without one, or a malformed number.
 */
int cb_protocol_parse_target(const struct cb_protocol *p, const char *text,
			     const struct cb_protocol_form **form,
			     unsigned *instance, struct cb_err *err);

/*
 * Validate one value of `item`: its format for the type (integer syntax,
 * decimal places, a real calendar date, a choice code, Y or N, text
 * length) and its hard range. Returns 0 when acceptable, setting *soft
 * (when not NULL) to 1 if outside the soft range and 0 otherwise;
 * CB_EINVAL for a malformed value, CB_ECHECK outside the hard range, each
 * with a message naming FORM.ITEM and what is allowed. A NULL value (the
 * item is missing) returns 0: `required` and the edit checks judge that.
 * An empty string is never a value and gives CB_EINVAL.
 */
int cb_protocol_check_value(const struct cb_protocol_item *item,
			    const char *value, int *soft, struct cb_err *err);

/*
 * The stored spelling of a typed value of `item`: for a choice or boolean
 * item, the code equal to `value` ignoring ASCII case ("mod" gives "MOD",
 * "y" gives "Y"); otherwise, or when no code matches, `value` itself (so
 * cb_protocol_check_value reports it). The result points into the
 * protocol or is `value`. NULL gives NULL.
 */
const char *cb_protocol_canonical_value(const struct cb_protocol_item *item,
					const char *value);

/* True when a user holding `role` (a role name) may write `form`. */
int cb_protocol_form_writable(const struct cb_protocol_form *form,
			      const char *role);

/* True when some item of `form` is unblinded. */
int cb_protocol_form_has_unblinded(const struct cb_protocol_form *form);

/* The CB_WRITER_* bit of a role name ("coordinator", ...), or 0. */
unsigned cb_protocol_writer_bit(const char *name);

/* Names for messages and output: "integer", "<=", "at_least_one", ... */
const char *cb_item_type_name(enum cb_item_type t);
const char *cb_cmp_op_name(enum cb_cmp_op op);
const char *cb_check_type_name(enum cb_check_type t);
const char *cb_writer_name(unsigned bit); /* one bit; "" if not one */

#endif
