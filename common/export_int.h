/*
 * export_int.h - what the writers of each export format share (the
 * formats are export_csv.c, export_odm.c, export_sdtm.c and
 * export_jsonl.c; export.c runs them). Not for use outside them.
 *
 * A format is four steps: begin (open its files, write headers), one
 * call per subject of the feed (the subject's items already indexed in
 * x->view), end (finish its files), and free (whatever it kept, also
 * after a failure). Each step returns 0 or a CB_E* code with a message
 * in x->err.
 */
#ifndef CB_EXPORT_INT_H
#define CB_EXPORT_INT_H

#include "export.h"
#include "fview.h"
#include "out.h"

struct cb_exp_file {
	char *name;
	size_t rows;
};

/* One export run. */
struct cb_exp {
	const struct cb_protocol *p;
	const struct cb_export_opts *o;
	const struct cb_files *files;
	struct cb_err *err;
	struct cb_export_stats st;
	struct cb_fview view;
	const struct cb_feed_subject *s; /* the subject being written */
	struct cb_exp_file *written;	 /* every file made, for export.json */
	size_t nwritten, cap_written;
	void *fmt; /* the format's own state */
};

struct cb_exp_format {
	const char *name;
	int with_merge; /* needs each subject's events (the audit trail) */
	int (*begin)(struct cb_exp *x);
	int (*subject)(struct cb_exp *x);
	int (*end)(struct cb_exp *x);
	void (*free)(struct cb_exp *x);
};

extern const struct cb_exp_format cb_exp_csv, cb_exp_odm, cb_exp_sdtm,
    cb_exp_jsonl;

/*
 * Open file `name` of the export (listed in export.json), into *out.
 * cb_exp_close closes it, recording `rows` data rows.
 */
int cb_exp_open(struct cb_exp *x, const char *name, struct cb_out **out);
int cb_exp_close(struct cb_exp *x, struct cb_out *out, const char *name,
		 size_t rows);

/* A scratch file (a spool), not listed: open, then append and remove. */
int cb_exp_open_scratch(struct cb_exp *x, const char *name,
			struct cb_out **out);

/* True when the export writes form `f`: it has an item that is not
 * unblinded. Items that are unblinded are never written. */
int cb_exp_form_written(const struct cb_protocol_form *f);

/* The value of a protocol reference (VISIT.FORM.ITEM) for the current
 * subject, or NULL. */
const char *cb_exp_ref_value(struct cb_exp *x, const struct cb_protocol_ref *r);

/* The current subject's first dose (date or date-time as recorded, ""
 * when not dosed): the day-1 reference of every study day. */
const char *cb_exp_first_dose(struct cb_exp *x);

/*
 * The first item named `code` on a non-repeating form of a scheduled
 * visit (SDTM variables are found by name: TRIAL.md names items after
 * them), its visit in *visit; NULL when there is none.
 */
const struct cb_protocol_item *
cb_exp_item_named(const struct cb_protocol *p, const char *code,
		  const struct cb_protocol_visit **visit);

/* "Y", "N" or NULL (cannot tell) for a safety flag of the current
 * subject's AE instance `instance`; NULL when the protocol has none. */
const char *cb_exp_safety_flag(struct cb_exp *x, enum cb_safety_flag flag,
			       unsigned instance);

/* The visit holding the safety form (LOG), or NULL. */
const struct cb_protocol_visit *cb_exp_safety_visit(const struct cb_exp *x);

#endif
