/*
 * export_csv.c - the csv export (export.h, docs/exports.md): one wide
 * file per form, subjects.csv, conflicts.csv, dictionary.csv and
 * codelists.csv. RFC 4180: CRLF line ends, a field quoted when it holds
 * a comma, quote or line end; UTF-8 without a byte order mark; empty
 * for missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "export_int.h"
#include "studyday.h"

#define EOL "\r\n"

struct csv_form {
	const struct cb_protocol_form *f;
	struct cb_out *out;
	char name[CB_PROTOCOL_CODE_MAX + 8];
	size_t rows;
	int visitdy; /* held by a scheduled visit: a VISITDY column */
	int safety;  /* the safety form: a TRTEMFL column */
};

struct csv {
	struct csv_form *forms;
	size_t nforms;
	struct cb_out *subjects, *conflicts;
	size_t nsubjects, nconflicts;
	struct cb_check_scores scores;
	struct cb_buf conf; /* the CONFLICTS cell of a row */
};

static int is_datelike(enum cb_item_type t)
{
	return t == CB_ITEM_DATE || t == CB_ITEM_PARTIAL_DATE ||
	       t == CB_ITEM_DATETIME;
}

static void sep(struct cb_out *o)
{
	cb_out_putc(o, ',');
}

/* A row of fixed header names, comma-separated, without the line end. */
static void heads(struct cb_out *o, const char *const *names)
{
	size_t i;

	for (i = 0; names[i]; i++) {
		if (i)
			sep(o);
		cb_out_csv(o, names[i]);
	}
}

/* The names of the score columns of `f`: its scores over no values. */
static int score_names(struct cb_exp *x, struct csv *c,
		       const struct cb_protocol_form *f)
{
	struct cb_check_values none;
	struct cb_check_source src;
	int rc;

	cb_check_values_init(&none);
	src = cb_check_values_source(&none);
	rc = cb_check_scores(x->p, &src, f->visits[0], f, f->repeating ? 1 : 0,
			     &c->scores, x->err);
	cb_check_values_release(&none);
	return rc;
}

static int form_header(struct cb_exp *x, struct csv *c, struct csv_form *cf)
{
	const struct cb_protocol_form *f = cf->f;
	struct cb_out *o = cf->out;
	size_t i;
	int rc;

	cb_out_puts(o, "SUBJECT,SITE,VISIT");
	if (f->repeating)
		cb_out_puts(o, ",INSTANCE");
	if (cf->visitdy)
		cb_out_puts(o, ",VISITDY");
	if (cf->safety)
		cb_out_puts(o, ",TRTEMFL");
	for (i = 0; i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];

		if (it->unblinded)
			continue;
		sep(o);
		cb_out_csv(o, it->code);
		if (is_datelike(it->type)) {
			sep(o);
			cb_out_csv(o, it->code);
			cb_out_puts(o, "_DY");
		}
	}
	if (f->nscores) {
		rc = score_names(x, c, f);
		if (rc)
			return rc;
		for (i = 0; i < c->scores.count; i++) {
			sep(o);
			cb_out_csv(o, c->scores.list[i].name);
		}
	}
	cb_out_puts(o, ",CONFLICTS" EOL);
	return 0;
}

/* "100..230", "..9", "0..", or "" */
static void range_text(const struct cb_protocol_range *r, char *buf,
		       size_t size)
{
	char lo[32] = "", hi[32] = "";

	buf[0] = '\0';
	if (!r->has_min && !r->has_max)
		return;
	if (r->has_min)
		snprintf(lo, sizeof(lo), "%g", r->min);
	if (r->has_max)
		snprintf(hi, sizeof(hi), "%g", r->max);
	snprintf(buf, size, "%s..%s", lo, hi);
}

static void dict_row(struct cb_out *o, const char *form, const char *column,
		     const char *label, const char *type, const char *unit,
		     const char *codes, const char *range, const char *soft,
		     const char *required, const char *visits)
{
	const char *cells[] = {form,  column, label, type,     unit,
			       codes, range,  soft,  required, visits};
	size_t i;

	for (i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		if (i)
			sep(o);
		cb_out_csv(o, cells[i]);
	}
	cb_out_puts(o, EOL);
}

/* dictionary.csv and codelists.csv, from the protocol alone. */
static int dictionaries(struct cb_exp *x, struct csv *c)
{
	static const char *const dh[] = {
	    "FORM",  "COLUMN",	   "LABEL",    "TYPE",	 "UNIT", "CODES",
	    "RANGE", "SOFT_RANGE", "REQUIRED", "VISITS", NULL};
	static const char *const ch[] = {"FORM", "ITEM", "CODE", "LABEL", NULL};
	struct cb_out *d, *cl;
	struct cb_buf codes, visits;
	size_t i, k, j, ndict = 0, ncodes = 0;
	char range[80], soft[80], col[CB_PROTOCOL_CODE_MAX * 2 + 8];
	char label[CB_PROTOCOL_LABEL_MAX + 64];
	int rc;

	rc = cb_exp_open(x, "dictionary.csv", &d);
	if (rc)
		return rc;
	rc = cb_exp_open(x, "codelists.csv", &cl);
	if (rc)
		return rc;
	heads(d, dh);
	cb_out_puts(d, EOL);
	heads(cl, ch);
	cb_out_puts(cl, EOL);
	cb_buf_init(&codes, 1u << 20);
	cb_buf_init(&visits, 1u << 16);
	for (i = 0; !rc && i < c->nforms; i++) {
		const struct cb_protocol_form *f = c->forms[i].f;

		cb_buf_reset(&visits);
		for (k = 0; !rc && k < f->nvisits; k++)
			rc = cb_buf_printf(&visits, x->err, "%s%s",
					   k ? " " : "", f->visits[k]->code);
		for (k = 0; !rc && k < f->nitems; k++) {
			const struct cb_protocol_item *it = &f->items[k];

			if (it->unblinded)
				continue;
			cb_buf_reset(&codes);
			for (j = 0; !rc && j < it->nchoices; j++) {
				rc = cb_buf_printf(
				    &codes, x->err, "%s%s=%s", j ? "; " : "",
				    it->choices[j].code, it->choices[j].label);
				cb_out_csv(cl, f->code);
				sep(cl);
				cb_out_csv(cl, it->code);
				sep(cl);
				cb_out_csv(cl, it->choices[j].code);
				sep(cl);
				cb_out_csv(cl, it->choices[j].label);
				cb_out_puts(cl, EOL);
				ncodes++;
			}
			range_text(&it->range, range, sizeof(range));
			range_text(&it->soft, soft, sizeof(soft));
			dict_row(d, f->code, it->code, it->label,
				 cb_item_type_name(it->type), it->unit,
				 cb_buf_str(&codes), range, soft,
				 it->required ? "Y" : "N", cb_buf_str(&visits));
			ndict++;
			if (is_datelike(it->type)) {
				snprintf(col, sizeof(col), "%s_DY", it->code);
				snprintf(label, sizeof(label),
					 "Study day of %s (day 1 = first "
					 "dose)",
					 it->code);
				dict_row(d, f->code, col, label, "integer", "",
					 "", "", "", "N", cb_buf_str(&visits));
				ndict++;
			}
		}
		if (!rc && f->nscores) {
			rc = score_names(x, c, f);
			for (k = 0; !rc && k < c->scores.count; k++) {
				const struct cb_check_score *sc =
				    &c->scores.list[k];

				snprintf(label, sizeof(label), "%s: %s",
					 sc->score->method->label, sc->output);
				dict_row(d, f->code, sc->name, label, "decimal",
					 "", "", "", "", "N",
					 cb_buf_str(&visits));
				ndict++;
			}
		}
	}
	cb_buf_free(&codes);
	cb_buf_free(&visits);
	if (rc)
		return rc;
	rc = cb_exp_close(x, d, "dictionary.csv", ndict);
	if (!rc)
		rc = cb_exp_close(x, cl, "codelists.csv", ncodes);
	return rc;
}

static int csv_begin(struct cb_exp *x)
{
	static const char *const sh[] = {
	    "SUBJECT",	 "SITE",       "STATUS",    "STATUSDT",	  "CONSDT",
	    "ELIGIBLE",	 "RANDDT",     "RANDNO",    "KITNO",	  "DOSEDT",
	    "EOSDT",	 "EOSSTAT",    "CODEBREAK", "NCODEBREAK", "NAE",
	    "NCONFLICT", "NOPENQUERY", NULL};
	static const char *const kh[] = {"SUBJECT", "SITE",	"VISIT",
					 "FORM",    "INSTANCE", "ITEM",
					 "HEAD",    "VALUE",	NULL};
	const struct cb_protocol *p = x->p;
	struct csv *c;
	size_t i, k;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c || !(c->forms =
			calloc(p->nforms ? p->nforms : 1, sizeof(*c->forms)))) {
		free(c);
		return cb_err_set(x->err, CB_ENOMEM, "out of memory");
	}
	x->fmt = c;
	cb_check_scores_init(&c->scores);
	cb_buf_init(&c->conf, 16u << 20);
	for (i = 0; i < p->nforms; i++) {
		struct csv_form *cf;

		if (!cb_exp_form_written(&p->forms[i]) || !p->forms[i].nvisits)
			continue;
		cf = &c->forms[c->nforms++];
		cf->f = &p->forms[i];
		snprintf(cf->name, sizeof(cf->name), "%s.csv", cf->f->code);
		for (k = 0; k < cf->f->nvisits; k++)
			if (cf->f->visits[k]->scheduled)
				cf->visitdy = 1;
		cf->safety = cf->f == p->safety_form;
	}
	rc = dictionaries(x, c);
	if (!rc)
		rc = cb_exp_open(x, "subjects.csv", &c->subjects);
	if (!rc)
		rc = cb_exp_open(x, "conflicts.csv", &c->conflicts);
	if (rc)
		return rc;
	heads(c->subjects, sh);
	cb_out_puts(c->subjects, EOL);
	heads(c->conflicts, kh);
	cb_out_puts(c->conflicts, EOL);
	for (i = 0; !rc && i < c->nforms; i++) {
		rc = cb_exp_open(x, c->forms[i].name, &c->forms[i].out);
		if (!rc)
			rc = form_header(x, c, &c->forms[i]);
	}
	return rc;
}

static void subject_row(struct cb_exp *x, struct csv *c)
{
	const struct cb_summary *s = x->s->sum;
	struct cb_out *o = c->subjects;
	char n[5][24];
	const char *elig =
	    s->elig < 0 ? ""
			: cb_elig_status_name((enum cb_elig_status)s->elig);
	const char *cells[17];
	size_t i;

	snprintf(n[0], sizeof(n[0]), "%zu", s->nunblind);
	snprintf(n[1], sizeof(n[1]), "%zu", s->aes);
	snprintf(n[2], sizeof(n[2]), "%zu", s->conflicts);
	snprintf(n[3], sizeof(n[3]), "%zu", s->open_queries);
	cells[0] = s->subject;
	cells[1] = s->site;
	cells[2] = cb_lifecycle_name(s->state);
	cells[3] = s->state_date;
	cells[4] = s->consent;
	cells[5] = elig;
	cells[6] = s->randomized;
	cells[7] = s->randno;
	cells[8] = s->kit;
	cells[9] = s->dosed;
	cells[10] = s->ended;
	cells[11] = s->end_status;
	cells[12] = s->nunblind ? "Y" : "N";
	cells[13] = n[0];
	cells[14] = n[1];
	cells[15] = n[2];
	cells[16] = n[3];
	for (i = 0; i < 17; i++) {
		if (i)
			sep(o);
		cb_out_csv(o, cells[i]);
	}
	cb_out_puts(o, EOL);
	c->nsubjects++;
}

/* One row of conflicts.csv per head of a conflicted item. */
static void conflict_rows(struct cb_exp *x, struct csv *c,
			  const struct cb_feed_item *fi)
{
	struct cb_out *o = c->conflicts;
	size_t h;

	for (h = 0; h < fi->nheads; h++) {
		cb_out_csv(o, x->s->sum->subject);
		sep(o);
		cb_out_csv(o, x->s->sum->site);
		sep(o);
		cb_out_csv(o, fi->visit);
		sep(o);
		cb_out_csv(o, fi->form);
		sep(o);
		cb_out_csv(o, fi->instance);
		sep(o);
		cb_out_csv(o, fi->item);
		cb_out_printf(o, ",%zu,", h + 1);
		cb_out_csv(o, fi->head_values[h]);
		cb_out_puts(o, EOL);
		c->nconflicts++;
	}
}

static int form_row(struct cb_exp *x, struct csv *c, struct csv_form *cf,
		    const struct cb_protocol_visit *v, unsigned inst)
{
	const struct cb_protocol_form *f = cf->f;
	const char *dose = cb_exp_first_dose(x);
	struct cb_out *o = cf->out;
	char day[CB_STUDY_DAY_BUF];
	size_t i, h;
	int rc;

	cb_buf_reset(&c->conf);
	cb_out_csv(o, x->s->sum->subject);
	sep(o);
	cb_out_csv(o, x->s->sum->site);
	sep(o);
	cb_out_csv(o, v->code);
	if (f->repeating)
		cb_out_printf(o, ",%u", inst);
	if (cf->visitdy) {
		const struct cb_protocol_item *di =
		    v->scheduled ? cb_protocol_visit_date_item(x->p, v) : NULL;

		sep(o);
		if (di &&
		    cb_study_day(cb_fview_value(&x->view, v->code,
						di->form->code, 0, di->code),
				 dose, day))
			cb_out_puts(o, day);
	}
	if (cf->safety) {
		const struct cb_protocol_item *on =
		    x->p->safety_items[CB_SAFETY_ONSET];
		const char *onset = on ? cb_fview_value(&x->view, v->code,
							f->code, inst, on->code)
				       : NULL;

		sep(o);
		cb_out_puts(o, cb_treatment_emergent(onset, dose) ? "Y" : "N");
	}
	for (i = 0; i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];
		const struct cb_feed_item *fi;
		const char *val = NULL;

		if (it->unblinded)
			continue;
		fi = cb_fview_item(&x->view, v->code, f->code, inst, it->code);
		sep(o);
		if (fi && fi->conflict) {
			rc = cb_buf_printf(&c->conf, x->err, "%s%s:",
					   cb_buf_len(&c->conf) ? "; " : "",
					   it->code);
			for (h = 0; !rc && h < fi->nheads; h++)
				rc = cb_buf_printf(
				    &c->conf, x->err, "%s%s", h ? " | " : " ",
				    fi->head_values[h] ? fi->head_values[h]
						       : "(cleared)");
			if (rc)
				return rc;
			conflict_rows(x, c, fi);
		} else if (fi) {
			val = fi->value;
		}
		if (val) {
			cb_out_csv(o, val);
			x->st.values++;
		}
		if (is_datelike(it->type)) {
			sep(o);
			if (cb_study_day(val, dose, day))
				cb_out_puts(o, day);
		}
	}
	if (f->nscores) {
		struct cb_check_source src = cb_fview_source(&x->view);

		rc =
		    cb_check_scores(x->p, &src, v, f, inst, &c->scores, x->err);
		if (rc)
			return rc;
		for (i = 0; i < c->scores.count; i++) {
			sep(o);
			if (c->scores.list[i].valid)
				cb_out_printf(o, "%.2f",
					      c->scores.list[i].value);
		}
	}
	sep(o);
	cb_out_csv(o, cb_buf_str(&c->conf));
	cb_out_puts(o, EOL);
	cf->rows++;
	return 0;
}

static int csv_subject(struct cb_exp *x)
{
	struct csv *c = x->fmt;
	size_t i, k, pos;
	unsigned inst;
	int rc = 0;

	subject_row(x, c);
	for (i = 0; !rc && i < c->nforms; i++) {
		struct csv_form *cf = &c->forms[i];

		for (k = 0; !rc && k < cf->f->nvisits; k++) {
			const struct cb_protocol_visit *v = cf->f->visits[k];

			pos = 0;
			while (!rc &&
			       cb_fview_next_instance(&x->view, v->code,
						      cf->f->code, &pos, &inst))
				rc = form_row(x, c, cf, v, inst);
		}
	}
	return rc;
}

static int csv_end(struct cb_exp *x)
{
	struct csv *c = x->fmt;
	size_t i;
	int rc;

	rc = cb_exp_close(x, c->subjects, "subjects.csv", c->nsubjects);
	c->subjects = NULL;
	if (!rc)
		rc = cb_exp_close(x, c->conflicts, "conflicts.csv",
				  c->nconflicts);
	c->conflicts = NULL;
	for (i = 0; !rc && i < c->nforms; i++) {
		rc = cb_exp_close(x, c->forms[i].out, c->forms[i].name,
				  c->forms[i].rows);
		c->forms[i].out = NULL;
	}
	return rc;
}

static void csv_free(struct cb_exp *x)
{
	struct csv *c = x->fmt;

	if (!c)
		return;
	cb_check_scores_release(&c->scores);
	cb_buf_free(&c->conf);
	free(c->forms);
	free(c);
	x->fmt = NULL;
}

const struct cb_exp_format cb_exp_csv = {
    "csv", 0, csv_begin, csv_subject, csv_end, csv_free,
};
