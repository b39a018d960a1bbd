/*
 * export.c - running an export: the feed read once, subject by subject,
 * into the format's writer, then export.json (export.h).
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "export_int.h"

static const struct cb_exp_format *const formats[] = {
    [CB_EXPORT_CSV] = &cb_exp_csv,
    [CB_EXPORT_ODM] = &cb_exp_odm,
    [CB_EXPORT_SDTM] = &cb_exp_sdtm,
    [CB_EXPORT_JSONL] = &cb_exp_jsonl,
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

int cb_export_format_parse(const char *name, enum cb_export_format *out,
			   struct cb_err *err)
{
	char q[64];
	size_t i;

	for (i = 0; name && i < NFORMATS; i++)
		if (!strcmp(name, formats[i]->name)) {
			*out = (enum cb_export_format)i;
			return 0;
		}
	cb_err_quote(name ? name : "", q, sizeof(q));
	return cb_err_set(err, CB_EINVAL,
			  "unknown export format \"%s\": csv, odm, sdtm or "
			  "jsonl",
			  q);
}

const char *cb_export_format_name(enum cb_export_format f)
{
	return (size_t)f < NFORMATS ? formats[f]->name : "?";
}

/* ---- shared by the formats (export_int.h) ---------------------------------
 */

static int note_file(struct cb_exp *x, const char *name)
{
	struct cb_exp_file *f;
	int rc;

	rc = cb_array_grow((void **)&x->written, &x->cap_written,
			   x->nwritten + 1, sizeof(*x->written), 10000,
			   "export files", x->err);
	if (rc)
		return rc;
	f = &x->written[x->nwritten];
	f->rows = 0;
	if (!(f->name = strdup(name)))
		return cb_err_set(x->err, CB_ENOMEM, "out of memory");
	x->nwritten++;
	return 0;
}

int cb_exp_open(struct cb_exp *x, const char *name, struct cb_out **out)
{
	int rc = x->files->open(x->files->ctx, name, out, x->err);

	if (!rc)
		rc = note_file(x, name);
	return rc;
}

int cb_exp_open_scratch(struct cb_exp *x, const char *name, struct cb_out **out)
{
	return x->files->open(x->files->ctx, name, out, x->err);
}

int cb_exp_close(struct cb_exp *x, struct cb_out *out, const char *name,
		 size_t rows)
{
	size_t i;

	for (i = 0; name && i < x->nwritten; i++)
		if (!strcmp(x->written[i].name, name))
			x->written[i].rows = rows;
	if (name)
		x->st.rows += rows;
	return x->files->close(x->files->ctx, out, x->err);
}

int cb_exp_form_written(const struct cb_protocol_form *f)
{
	size_t i;

	for (i = 0; i < f->nitems; i++)
		if (!f->items[i].unblinded)
			return 1;
	return 0;
}

const char *cb_exp_ref_value(struct cb_exp *x, const struct cb_protocol_ref *r)
{
	if (!r->item || !r->visit)
		return NULL;
	return cb_fview_value(&x->view, r->visit->code, r->form->code, 0,
			      r->item->code);
}

const char *cb_exp_first_dose(struct cb_exp *x)
{
	const char *v = cb_exp_ref_value(x, &x->p->first_dose);

	/* The summary keeps the date when the item is not at hand. */
	return v ? v : x->s->sum->dosed ? x->s->sum->dosed : "";
}

const struct cb_protocol_item *
cb_exp_item_named(const struct cb_protocol *p, const char *code,
		  const struct cb_protocol_visit **visit)
{
	size_t i, k;

	for (i = 0; i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];

		if (!v->scheduled)
			continue;
		for (k = 0; k < v->nforms; k++) {
			const struct cb_protocol_item *it;

			if (v->forms[k]->repeating)
				continue;
			it = cb_protocol_find_item(v->forms[k], code);
			if (it && !it->unblinded) {
				*visit = v;
				return it;
			}
		}
	}
	return NULL;
}

const struct cb_protocol_visit *cb_exp_safety_visit(const struct cb_exp *x)
{
	const struct cb_protocol_form *f = x->p->safety_form;

	return f && f->nvisits ? f->visits[0] : NULL;
}

const char *cb_exp_safety_flag(struct cb_exp *x, enum cb_safety_flag flag,
			       unsigned instance)
{
	const struct cb_protocol_visit *v = cb_exp_safety_visit(x);
	const struct cb_protocol_cond *c = x->p->safety_flags[flag];
	struct cb_check_source src;
	enum cb_check_truth t;

	if (!v || !c)
		return NULL;
	src = cb_fview_source(&x->view);
	if (cb_check_condition(x->p, &src, v, x->p->safety_form, instance, c,
			       &t, x->err))
		return NULL;
	return t == CB_CHECK_TRUE ? "Y" : t == CB_CHECK_FALSE ? "N" : NULL;
}

/* ---- the run --------------------------------------------------------------
 */

struct run {
	struct cb_exp *x;
	const struct cb_exp_format *fmt;
};

static int on_subject(const struct cb_feed_subject *s, void *ctx)
{
	struct run *r = ctx;
	int rc;

	rc = cb_fview_set(&r->x->view, s, r->x->err);
	if (rc)
		return rc;
	r->x->s = s;
	r->x->st.subjects++;
	rc = r->fmt->subject(r->x);
	r->x->s = NULL;
	return rc;
}

static int write_manifest(struct cb_exp *x)
{
	const struct cb_protocol *p = x->p;
	struct cb_out *o;
	size_t i, k, nw = 0;
	int rc;

	rc = x->files->open(x->files->ctx, "export.json", &o, x->err);
	if (rc)
		return rc;
	cb_out_puts(o, "{\n  \"format\": ");
	cb_out_json(o, cb_export_format_name(x->o->format));
	cb_out_puts(o, ",\n  \"study\": ");
	cb_out_json(o, p->id);
	cb_out_puts(o, ",\n  \"protocol_version\": ");
	cb_out_json(o, p->version);
	cb_out_puts(o, ",\n  \"protocol_sha256\": ");
	cb_out_json(o, p->sha256);
	cb_out_puts(o, ",\n  \"site\": ");
	cb_out_json(o, x->o->site);
	cb_out_puts(o, ",\n  \"data_cutoff\": ");
	cb_out_json(o, x->o->asof);
	cb_out_printf(o, ",\n  \"cutoff_given\": %s",
		      x->o->cutoff ? "true" : "false");
	cb_out_puts(o, ",\n  \"blinded\": true,\n  \"withheld\": [");
	for (i = 0; i < p->nforms; i++)
		for (k = 0; k < p->forms[i].nitems; k++) {
			const struct cb_protocol_item *it =
			    &p->forms[i].items[k];

			if (!it->unblinded)
				continue;
			cb_out_puts(o, nw++ ? ", \"" : "\"");
			cb_out_xml(o, p->forms[i].code); /* codes: plain */
			cb_out_putc(o, '.');
			cb_out_xml(o, it->code);
			cb_out_putc(o, '"');
		}
	cb_out_printf(o,
		      "],\n  \"subjects\": %zu,\n  \"item_values\": %zu,"
		      "\n  \"events\": %zu,\n  \"files\": [",
		      x->st.subjects, x->st.values, x->st.events);
	for (i = 0; i < x->nwritten; i++) {
		cb_out_puts(o, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
		cb_out_json(o, x->written[i].name);
		cb_out_printf(o, ", \"rows\": %zu}", x->written[i].rows);
	}
	cb_out_puts(o, "\n  ],\n  \"source\": ");
	cb_out_json(o, x->o->source ? x->o->source : "casebook");
	cb_out_puts(o, "\n}\n");
	return x->files->close(x->files->ctx, o, x->err);
}

int cb_export(const struct cb_protocol *p, const struct cb_feed *feed,
	      const struct cb_export_opts *o, const struct cb_files *files,
	      struct cb_export_stats *st, struct cb_err *err)
{
	struct cb_feed_opts fo;
	struct cb_exp x;
	struct run r;
	size_t i;
	int rc;

	/* Errors are told by err->code below, so it starts clear. */
	cb_err_clear(err);
	if ((size_t)o->format >= NFORMATS || !o->asof)
		return cb_err_set(err, CB_EINVAL, "bad export options");
	memset(&x, 0, sizeof(x));
	x.p = p;
	x.o = o;
	x.files = files;
	x.err = err;
	cb_fview_init(&x.view);
	r.x = &x;
	r.fmt = formats[o->format];
	memset(&fo, 0, sizeof(fo));
	fo.site = o->site;
	fo.cutoff = o->cutoff;
	fo.unblinded = 0; /* blinded, always */
	fo.with_merge = r.fmt->with_merge;

	rc = r.fmt->begin(&x);
	if (!rc)
		rc = feed->each(feed->ctx, &fo, on_subject, &r, err);
	if (rc && !err->code)
		cb_err_set(err, rc, "the export stopped");
	if (!rc && o->cutoff && !x.st.subjects)
		rc =
		    cb_err_set(err, CB_ENOTFOUND,
			       "nothing had been received by the cut-off %s%s%s"
			       ": it is before the first event",
			       o->cutoff, o->site ? " at site " : "",
			       o->site ? o->site : "");
	if (!rc)
		rc = r.fmt->end(&x);
	if (!rc)
		rc = write_manifest(&x);
	r.fmt->free(&x);
	x.st.files = x.nwritten + (rc ? 0 : 1);
	if (st)
		*st = x.st;
	for (i = 0; i < x.nwritten; i++)
		free(x.written[i].name);
	free(x.written);
	cb_fview_release(&x.view);
	return rc;
}
