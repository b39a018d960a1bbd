/*
 * export_odm.c - the odm export (export.h, docs/exports.md): CDISC ODM
 * 1.3.2, as two files that validate against the standard's XSD.
 *
 *   odm-snapshot.xml       the current value of every item, the current
 *                          signature of each form (and whether a later
 *                          change broke it); a conflicted item has no
 *                          value (IsNull) and an Annotation giving every
 *                          head's value
 *   odm-transactional.xml  every change of every item in clock order as
 *                          its own ItemData (Insert, Update or Remove)
 *                          with an AuditRecord: UserRef, LocationRef,
 *                          DateTimeStamp (the device's time of the
 *                          change), ReasonForChange and SourceID (the
 *                          event id); every e-signature of each form as
 *                          a Signature; the subject's creation as its
 *                          AuditRecord; code-breaks as Annotations
 *
 * Both open with the study's metadata (Study, MetaDataVersion with
 * Protocol, StudyEventDefs, FormDefs, ItemGroupDefs, ItemDefs and
 * CodeLists) and AdminData (every user and location named in the data,
 * every signature meaning). That AdminData is known only once the data
 * is read, so each file's ClinicalData is spooled to a scratch file
 * first and the file put together at the end: memory holds one subject.
 *
 * OIDs: SE.VISIT, F.FORM, IG.FORM, I.FORM.ITEM, CL.FORM.ITEM, MU.n,
 * U.USER, L.SITE, SD.n; MetaDataVersion MDV.VERSION; Study the study id.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "export_int.h"
#include "hmap.h"

#define SNAP "odm-snapshot.xml"
#define TRANS "odm-transactional.xml"
#define SNAP_PART ".odm-snapshot.part"
#define TRANS_PART ".odm-transactional.part"

/* A user, location or signature meaning met in the data. */
struct named {
	char *key;
	char *extra; /* user: first site; location: first date */
	size_t n;    /* signature meaning: its number */
	int site;    /* location: a site of subjects */
};

struct nameset {
	struct cb_hmap map;
	struct named **list;
	size_t n, cap;
};

struct odm {
	struct cb_out *snap, *trans;
	struct nameset users, locs, meanings;
	const struct cb_event **signs; /* the subject's sign events */
	size_t nsigns, cap_signs;
	unsigned char *used; /* signs written */
	size_t cap_used;
	size_t changes;
};

static void set_init(struct nameset *s)
{
	memset(s, 0, sizeof(*s));
	cb_hmap_init(&s->map);
}

static void set_release(struct nameset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->list[i]->key);
		free(s->list[i]->extra);
		free(s->list[i]);
	}
	free(s->list);
	cb_hmap_release(&s->map);
}

/* The entry for `key`, added when new (extra copied then). */
static struct named *set_get(struct nameset *s, const char *key,
			     const char *extra, struct cb_err *err)
{
	struct named *e = cb_hmap_get(&s->map, key);

	if (e)
		return e;
	if (cb_array_grow((void **)&s->list, &s->cap, s->n + 1,
			  sizeof(*s->list), 1000000, "names", err))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key)) ||
	    !(e->extra = strdup(extra ? extra : "")) ||
	    cb_hmap_reserve(&s->map, 1)) {
		if (e) {
			free(e->key);
			free(e->extra);
		}
		free(e);
		cb_err_set(err, CB_ENOMEM, "out of memory");
		return NULL;
	}
	e->n = s->n + 1;
	cb_hmap_put(&s->map, e->key, e);
	s->list[s->n++] = e;
	return e;
}

/* Note who and where an event was made. */
static int note_event(struct cb_exp *x, struct odm *d,
		      const struct cb_event *ev)
{
	struct named *loc;
	char day[11];

	if (!set_get(&d->users, ev->user, ev->site, x->err))
		return x->err->code;
	memcpy(day, ev->wall, 10);
	day[10] = '\0';
	loc = set_get(&d->locs, ev->site, day, x->err);
	if (!loc)
		return x->err->code;
	if (strcmp(day, loc->extra) < 0)
		memcpy(loc->extra, day, 11);
	return 0;
}

static const char *datatype(const struct cb_protocol_item *it)
{
	switch (it->type) {
	case CB_ITEM_INTEGER:
		return "integer";
	case CB_ITEM_DECIMAL:
		return "float";
	case CB_ITEM_DATE:
		return "date";
	case CB_ITEM_PARTIAL_DATE:
		return "partialDate";
	case CB_ITEM_DATETIME:
		return "partialDatetime";
	default:
		return "text";
	}
}

static void text_el(struct cb_out *o, const char *el, const char *text)
{
	cb_out_printf(o, "<%s><TranslatedText xml:lang=\"en\">", el);
	cb_out_xml(o, text);
	cb_out_printf(o, "</TranslatedText></%s>", el);
}

static void attr(struct cb_out *o, const char *name, const char *v)
{
	cb_out_printf(o, " %s=\"", name);
	cb_out_xml(o, v);
	cb_out_putc(o, '"');
}

/* The number of `unit` among the protocol's distinct units, from 1. */
static size_t unit_number(const struct cb_protocol *p, const char *unit)
{
	size_t i, k, n = 0;

	for (i = 0; i < p->nitems; i++) {
		const char *u = p->items[i].unit;

		if (!u[0])
			continue;
		for (k = 0; k < i; k++)
			if (!strcmp(p->items[k].unit, u))
				break;
		if (k < i)
			continue;
		n++;
		if (!strcmp(u, unit))
			return n;
	}
	return 0;
}

static void range_checks(struct cb_out *o, const struct cb_protocol_range *r,
			 const char *softhard)
{
	if (r->has_min)
		cb_out_printf(o,
			      "<RangeCheck Comparator=\"GE\" SoftHard=\"%s\">"
			      "<CheckValue>%.15g</CheckValue></RangeCheck>",
			      softhard, r->min);
	if (r->has_max)
		cb_out_printf(o,
			      "<RangeCheck Comparator=\"LE\" SoftHard=\"%s\">"
			      "<CheckValue>%.15g</CheckValue></RangeCheck>",
			      softhard, r->max);
}

/* Study: GlobalVariables, BasicDefinitions and the MetaDataVersion. */
static void study(struct cb_exp *x, struct cb_out *o)
{
	const struct cb_protocol *p = x->p;
	size_t i, k, j;

	cb_out_puts(o, "<Study");
	attr(o, "OID", p->id);
	cb_out_puts(o, ">\n<GlobalVariables><StudyName>");
	cb_out_xml(o, p->id);
	cb_out_puts(o, "</StudyName><StudyDescription>");
	cb_out_xml(o, p->title[0] ? p->title : p->id);
	cb_out_puts(o, "</StudyDescription><ProtocolName>");
	cb_out_xml(o, p->id);
	cb_out_puts(o, " ");
	cb_out_xml(o, p->version);
	cb_out_puts(o, "</ProtocolName></GlobalVariables>\n<BasicDefinitions>");
	for (i = 0; i < p->nitems; i++) {
		const char *u = p->items[i].unit;
		size_t n = u[0] ? unit_number(p, u) : 0;

		for (k = 0; n && k < i; k++)
			if (!strcmp(p->items[k].unit, u))
				n = 0;
		if (!n)
			continue;
		cb_out_printf(o, "\n<MeasurementUnit OID=\"MU.%zu\"", n);
		attr(o, "Name", u);
		cb_out_puts(o, "><Symbol><TranslatedText xml:lang=\"en\">");
		cb_out_xml(o, u);
		cb_out_puts(o, "</TranslatedText></Symbol></MeasurementUnit>");
	}
	cb_out_puts(o, "\n</BasicDefinitions>\n<MetaDataVersion OID=\"MDV.");
	cb_out_xml(o, p->version);
	cb_out_puts(o, "\"");
	attr(o, "Name", p->version);
	cb_out_puts(o, ">\n<Protocol>");
	for (i = 0; i < p->nvisits; i++) {
		cb_out_puts(o, "<StudyEventRef StudyEventOID=\"SE.");
		cb_out_xml(o, p->visits[i].code);
		cb_out_printf(o, "\" OrderNumber=\"%zu\" Mandatory=\"%s\"/>",
			      i + 1, p->visits[i].scheduled ? "Yes" : "No");
	}
	cb_out_puts(o, "</Protocol>");
	for (i = 0; i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];

		cb_out_puts(o, "\n<StudyEventDef OID=\"SE.");
		cb_out_xml(o, v->code);
		cb_out_puts(o, "\"");
		attr(o, "Name", v->label[0] ? v->label : v->code);
		cb_out_printf(o, " Repeating=\"No\" Type=\"%s\">",
			      v->scheduled ? "Scheduled" : "Common");
		for (k = 0, j = 0; k < v->nforms; k++) {
			if (!cb_exp_form_written(v->forms[k]))
				continue;
			cb_out_puts(o, "<FormRef FormOID=\"F.");
			cb_out_xml(o, v->forms[k]->code);
			cb_out_printf(o,
				      "\" OrderNumber=\"%zu\" "
				      "Mandatory=\"No\"/>",
				      ++j);
		}
		cb_out_puts(o, "</StudyEventDef>");
	}
	for (i = 0; i < p->nforms; i++) {
		const struct cb_protocol_form *f = &p->forms[i];

		if (!cb_exp_form_written(f))
			continue;
		cb_out_puts(o, "\n<FormDef OID=\"F.");
		cb_out_xml(o, f->code);
		cb_out_puts(o, "\"");
		attr(o, "Name", f->label[0] ? f->label : f->code);
		cb_out_printf(o,
			      " Repeating=\"%s\"><ItemGroupRef "
			      "ItemGroupOID=\"IG.",
			      f->repeating ? "Yes" : "No");
		cb_out_xml(o, f->code);
		cb_out_puts(o, "\" Mandatory=\"Yes\"/></FormDef>");
	}
	for (i = 0; i < p->nforms; i++) {
		const struct cb_protocol_form *f = &p->forms[i];

		if (!cb_exp_form_written(f))
			continue;
		cb_out_puts(o, "\n<ItemGroupDef OID=\"IG.");
		cb_out_xml(o, f->code);
		cb_out_puts(o, "\"");
		attr(o, "Name", f->label[0] ? f->label : f->code);
		cb_out_puts(o, " Repeating=\"No\">");
		for (k = 0, j = 0; k < f->nitems; k++) {
			if (f->items[k].unblinded)
				continue;
			cb_out_puts(o, "<ItemRef ItemOID=\"I.");
			cb_out_xml(o, f->code);
			cb_out_putc(o, '.');
			cb_out_xml(o, f->items[k].code);
			cb_out_printf(o,
				      "\" OrderNumber=\"%zu\" "
				      "Mandatory=\"%s\"/>",
				      ++j, f->items[k].required ? "Yes" : "No");
		}
		cb_out_puts(o, "</ItemGroupDef>");
	}
	for (i = 0; i < p->nitems; i++) {
		const struct cb_protocol_item *it = &p->items[i];

		if (it->unblinded)
			continue;
		cb_out_puts(o, "\n<ItemDef OID=\"I.");
		cb_out_xml(o, it->form->code);
		cb_out_putc(o, '.');
		cb_out_xml(o, it->code);
		cb_out_puts(o, "\"");
		attr(o, "Name", it->code);
		cb_out_printf(o, " DataType=\"%s\"", datatype(it));
		if (it->type == CB_ITEM_TEXT && it->max_length)
			cb_out_printf(o, " Length=\"%zu\"", it->max_length);
		if (it->type == CB_ITEM_DECIMAL)
			cb_out_printf(o, " SignificantDigits=\"%d\"",
				      it->precision);
		cb_out_puts(o, ">");
		text_el(o, "Question", it->label[0] ? it->label : it->code);
		if (it->unit[0])
			cb_out_printf(o,
				      "<MeasurementUnitRef "
				      "MeasurementUnitOID=\"MU.%zu\"/>",
				      unit_number(p, it->unit));
		range_checks(o, &it->range, "Hard");
		range_checks(o, &it->soft, "Soft");
		if (it->nchoices) {
			cb_out_puts(o, "<CodeListRef CodeListOID=\"CL.");
			cb_out_xml(o, it->form->code);
			cb_out_putc(o, '.');
			cb_out_xml(o, it->code);
			cb_out_puts(o, "\"/>");
		}
		cb_out_puts(o, "</ItemDef>");
	}
	for (i = 0; i < p->nitems; i++) {
		const struct cb_protocol_item *it = &p->items[i];

		if (it->unblinded || !it->nchoices)
			continue;
		cb_out_puts(o, "\n<CodeList OID=\"CL.");
		cb_out_xml(o, it->form->code);
		cb_out_putc(o, '.');
		cb_out_xml(o, it->code);
		cb_out_puts(o, "\"");
		attr(o, "Name", it->code);
		cb_out_puts(o, " DataType=\"text\">");
		for (k = 0; k < it->nchoices; k++) {
			cb_out_puts(o, "<CodeListItem");
			attr(o, "CodedValue", it->choices[k].code);
			cb_out_puts(o, ">");
			text_el(o, "Decode", it->choices[k].label);
			cb_out_puts(o, "</CodeListItem>");
		}
		cb_out_puts(o, "</CodeList>");
	}
	cb_out_puts(o, "\n</MetaDataVersion>\n</Study>\n");
}

static void admin(struct cb_exp *x, struct odm *d, struct cb_out *o)
{
	size_t i;

	cb_out_puts(o, "<AdminData");
	attr(o, "StudyOID", x->p->id);
	cb_out_puts(o, ">");
	for (i = 0; i < d->users.n; i++) {
		const struct named *u = d->users.list[i];

		cb_out_puts(o, "\n<User OID=\"U.");
		cb_out_xml(o, u->key);
		cb_out_puts(o, "\"><LoginName>");
		cb_out_xml(o, u->key);
		cb_out_puts(o, "</LoginName><LocationRef LocationOID=\"L.");
		cb_out_xml(o, u->extra);
		cb_out_puts(o, "\"/></User>");
	}
	for (i = 0; i < d->locs.n; i++) {
		const struct named *l = d->locs.list[i];

		cb_out_puts(o, "\n<Location OID=\"L.");
		cb_out_xml(o, l->key);
		cb_out_puts(o, "\"");
		attr(o, "Name", l->key);
		cb_out_printf(o, " LocationType=\"%s\">",
			      l->site ? "Site" : "Sponsor");
		cb_out_puts(o, "<MetaDataVersionRef");
		attr(o, "StudyOID", x->p->id);
		cb_out_puts(o, " MetaDataVersionOID=\"MDV.");
		cb_out_xml(o, x->p->version);
		cb_out_puts(o, "\"");
		attr(o, "EffectiveDate", l->extra);
		cb_out_puts(o, "/></Location>");
	}
	for (i = 0; i < d->meanings.n; i++) {
		const struct named *m = d->meanings.list[i];

		cb_out_printf(o,
			      "\n<SignatureDef OID=\"SD.%zu\" "
			      "Methodology=\"Electronic\"><Meaning>",
			      m->n);
		cb_out_xml(o, m->key);
		cb_out_puts(o, "</Meaning><LegalReason>Electronic signature "
			       "under 21 CFR Part 11, made with the signer's "
			       "own passphrase</LegalReason></SignatureDef>");
	}
	cb_out_puts(o, "\n</AdminData>\n");
}

static int odm_begin(struct cb_exp *x)
{
	struct odm *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return cb_err_set(x->err, CB_ENOMEM, "out of memory");
	x->fmt = d;
	set_init(&d->users);
	set_init(&d->locs);
	set_init(&d->meanings);
	rc = cb_exp_open_scratch(x, SNAP_PART, &d->snap);
	if (!rc)
		rc = cb_exp_open_scratch(x, TRANS_PART, &d->trans);
	return rc;
}

static void audit(struct cb_out *o, const struct cb_event *ev, const char *why)
{
	cb_out_puts(o, "<AuditRecord><UserRef UserOID=\"U.");
	cb_out_xml(o, ev->user);
	cb_out_puts(o, "\"/><LocationRef LocationOID=\"L.");
	cb_out_xml(o, ev->site);
	cb_out_puts(o, "\"/><DateTimeStamp>");
	cb_out_xml(o, ev->wall);
	cb_out_puts(o, "</DateTimeStamp><ReasonForChange>");
	cb_out_xml(o, ev->reason[0] ? ev->reason : why);
	cb_out_puts(o, "</ReasonForChange><SourceID>casebook event ");
	cb_out_xml(o, ev->id);
	cb_out_puts(o, "</SourceID></AuditRecord>");
}

static int signature(struct cb_exp *x, struct odm *d, struct cb_out *o,
		     const struct cb_event *ev)
{
	const char *meaning = cb_event_data(ev, CB_DATA_MEANING);
	struct named *m;
	int rc;

	m = set_get(&d->meanings, meaning && *meaning ? meaning : "signed",
		    NULL, x->err);
	if (!m)
		return x->err->code;
	rc = note_event(x, d, ev);
	if (rc)
		return rc;
	cb_out_puts(o, "<Signature><UserRef UserOID=\"U.");
	cb_out_xml(o, ev->user);
	cb_out_puts(o, "\"/><LocationRef LocationOID=\"L.");
	cb_out_xml(o, ev->site);
	cb_out_printf(o,
		      "\"/><SignatureRef SignatureOID=\"SD.%zu\"/>"
		      "<DateTimeStamp>",
		      m->n);
	cb_out_xml(o, ev->wall);
	cb_out_puts(o, "</DateTimeStamp></Signature>");
	return 0;
}

static void form_open(struct cb_out *o, const char *form, unsigned inst,
		      const char *tt)
{
	cb_out_puts(o, "<FormData FormOID=\"F.");
	cb_out_xml(o, form);
	cb_out_putc(o, '"');
	if (inst)
		cb_out_printf(o, " FormRepeatKey=\"%u\"", inst);
	if (tt)
		cb_out_printf(o, " TransactionType=\"%s\"", tt);
	cb_out_putc(o, '>');
}

/* ---- the snapshot ---------------------------------------------------------
 */

static int snap_form(struct cb_exp *x, struct odm *d,
		     const struct cb_protocol_visit *v,
		     const struct cb_protocol_form *f, unsigned inst)
{
	struct cb_out *o = d->snap;
	struct cb_merge_form mf;
	struct cb_err e2;
	char key[16] = "";
	size_t i, h;
	int rc;

	if (inst)
		snprintf(key, sizeof(key), "%u", inst);
	form_open(o, f->code, inst, NULL);
	if (x->s->merge &&
	    !cb_merge_form_get(x->s->merge, x->s->sum->subject, v->code,
			       f->code, key, &mf, &e2) &&
	    mf.sign) {
		rc = signature(x, d, o, mf.sign);
		if (rc)
			return rc;
		if (mf.broken)
			cb_out_puts(o, "<Annotation SeqNum=\"1\"><Comment>"
				       "signature broken: the form changed "
				       "after it was signed</Comment>"
				       "</Annotation>");
	}
	cb_out_puts(o, "<ItemGroupData ItemGroupOID=\"IG.");
	cb_out_xml(o, f->code);
	cb_out_puts(o, "\">");
	for (i = 0; i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];
		const struct cb_feed_item *fi;

		if (it->unblinded)
			continue;
		fi = cb_fview_item(&x->view, v->code, f->code, inst, it->code);
		if (!fi || (!fi->conflict && !fi->value))
			continue;
		cb_out_puts(o, "\n<ItemData ItemOID=\"I.");
		cb_out_xml(o, f->code);
		cb_out_putc(o, '.');
		cb_out_xml(o, it->code);
		cb_out_putc(o, '"');
		if (!fi->conflict) {
			attr(o, "Value", fi->value);
			cb_out_puts(o, "/>");
			x->st.values++;
			continue;
		}
		cb_out_puts(o, " IsNull=\"Yes\"><Annotation SeqNum=\"1\">"
			       "<Comment>conflict, not resolved: ");
		for (h = 0; h < fi->nheads; h++) {
			if (h)
				cb_out_puts(o, " | ");
			cb_out_xml(o, fi->head_values[h] ? fi->head_values[h]
							 : "(cleared)");
		}
		cb_out_puts(o, "</Comment></Annotation></ItemData>");
	}
	cb_out_puts(o, "</ItemGroupData></FormData>");
	return 0;
}

/* ---- the transactional file -----------------------------------------------
 */

struct hist {
	struct cb_exp *x;
	struct odm *d;
	const char *oid_form, *oid_item;
};

static int one_change(const struct cb_merge_change *c, void *ctx)
{
	struct hist *h = ctx;
	struct cb_out *o = h->d->trans;
	const char *tt, *why;
	int rc;

	rc = note_event(h->x, h->d, c->ev);
	if (rc)
		return rc;
	tt = !c->value ? "Remove" : c->nold ? "Update" : "Insert";
	why = !strcmp(c->ev->kind, CB_KIND_RANDOMIZE) ? "randomization"
	      : c->nold				      ? "changed"
						      : "initial entry";
	cb_out_puts(o, "\n<ItemData ItemOID=\"I.");
	cb_out_xml(o, h->oid_form);
	cb_out_putc(o, '.');
	cb_out_xml(o, h->oid_item);
	cb_out_printf(o, "\" TransactionType=\"%s\"", tt);
	if (c->value)
		attr(o, "Value", c->value);
	else
		cb_out_puts(o, " IsNull=\"Yes\"");
	cb_out_puts(o, ">");
	audit(o, c->ev, why);
	cb_out_puts(o, "</ItemData>");
	h->d->changes++;
	h->x->st.events++;
	return 0;
}

static int trans_form(struct cb_exp *x, struct odm *d,
		      const struct cb_protocol_visit *v,
		      const struct cb_protocol_form *f, unsigned inst)
{
	struct cb_out *o = d->trans;
	struct hist h = {x, d, f->code, NULL};
	char key[16] = "";
	size_t i;
	int rc = 0;

	if (inst)
		snprintf(key, sizeof(key), "%u", inst);
	form_open(o, f->code, inst, "Upsert");
	cb_out_puts(o, "<ItemGroupData ItemGroupOID=\"IG.");
	cb_out_xml(o, f->code);
	cb_out_puts(o, "\" TransactionType=\"Upsert\">");
	for (i = 0; !rc && i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];

		if (it->unblinded ||
		    !cb_fview_item(&x->view, v->code, f->code, inst, it->code))
			continue;
		h.oid_item = it->code;
		rc = cb_merge_history(x->s->merge, x->s->sum->subject, v->code,
				      f->code, key, it->code, one_change, &h,
				      x->err);
	}
	cb_out_puts(o, "</ItemGroupData></FormData>");
	/* Each e-signature of this form, in clock order. */
	for (i = 0; !rc && i < d->nsigns; i++) {
		const struct cb_event *ev = d->signs[i];

		if (d->used[i] || strcmp(ev->visit, v->code) ||
		    strcmp(ev->form, f->code) || strcmp(ev->instance, key))
			continue;
		d->used[i] = 1;
		form_open(o, f->code, inst, "Context");
		rc = signature(x, d, o, ev);
		cb_out_puts(o, "</FormData>");
	}
	return rc;
}

struct subj_events {
	struct cb_exp *x;
	struct odm *d;
	const struct cb_event *created;
	size_t nannot;
};

static int collect(const struct cb_event *ev, void *ctx)
{
	struct subj_events *se = ctx;
	struct odm *d = se->d;
	int rc;

	if (!se->created && !strcmp(ev->kind, CB_KIND_SUBJECT_STATUS))
		se->created = ev;
	if (strcmp(ev->kind, CB_KIND_SIGN))
		return 0;
	rc =
	    cb_array_grow((void **)&d->signs, &d->cap_signs, d->nsigns + 1,
			  sizeof(*d->signs), 1000000, "signatures", se->x->err);
	if (!rc)
		rc = cb_array_grow((void **)&d->used, &d->cap_used,
				   d->nsigns + 1, 1, 1000000, "signatures",
				   se->x->err);
	if (rc)
		return rc;
	d->used[d->nsigns] = 0;
	d->signs[d->nsigns++] = ev;
	return 0;
}

/* Each emergency code-break of the subject, as an Annotation. */
static int codebreak(const struct cb_event *ev, void *ctx)
{
	struct subj_events *se = ctx;
	struct cb_out *o;
	int pass;

	if (strcmp(ev->kind, CB_KIND_UNBLIND))
		return 0;
	se->nannot++;
	for (pass = 0; pass < 2; pass++) {
		o = pass ? se->d->trans : se->d->snap;
		cb_out_printf(o, "\n<Annotation SeqNum=\"%zu\"", se->nannot);
		if (pass)
			cb_out_puts(o, " TransactionType=\"Insert\"");
		cb_out_puts(o, "><Comment>emergency code-break by ");
		cb_out_xml(o, ev->user);
		cb_out_puts(o, " (site ");
		cb_out_xml(o, ev->site);
		cb_out_puts(o, ") at ");
		cb_out_xml(o, ev->wall);
		cb_out_puts(o, ": ");
		cb_out_xml(o, ev->reason);
		cb_out_puts(o, "</Comment></Annotation>");
	}
	return note_event(se->x, se->d, ev);
}

static void subject_open(struct cb_out *o, const struct cb_summary *sum,
			 const char *tt)
{
	cb_out_puts(o, "\n<SubjectData");
	attr(o, "SubjectKey", sum->subject);
	if (tt)
		cb_out_printf(o, " TransactionType=\"%s\"", tt);
	cb_out_puts(o, ">");
}

static int odm_subject(struct cb_exp *x)
{
	const struct cb_protocol *p = x->p;
	const struct cb_summary *sum = x->s->sum;
	struct odm *d = x->fmt;
	struct subj_events se = {x, d, NULL, 0};
	struct named *loc;
	size_t i, k, pos;
	unsigned inst;
	int rc;

	if (!x->s->merge)
		return cb_err_set(x->err, CB_EINVAL,
				  "the feed gave no events for the odm export");
	d->nsigns = 0;
	rc = cb_merge_each_event(x->s->merge, sum->subject, collect, &se);
	if (rc)
		return x->err->code ? rc
				    : cb_err_set(x->err, rc, "out of memory");
	loc = set_get(&d->locs, sum->site,
		      se.created ? se.created->wall : "9999-12-31", x->err);
	if (!loc)
		return x->err->code;
	loc->extra[10] = '\0';
	loc->site = 1;

	subject_open(d->snap, sum, NULL);
	subject_open(d->trans, sum, "Insert");
	if (se.created) {
		rc = note_event(x, d, se.created);
		if (rc)
			return rc;
		audit(d->trans, se.created, "subject created");
	}
	for (i = 0; i < 2; i++) {
		struct cb_out *o = i ? d->trans : d->snap;

		cb_out_puts(o, "<SiteRef LocationOID=\"L.");
		cb_out_xml(o, sum->site);
		cb_out_puts(o, "\"/>");
	}
	rc = cb_merge_each_event(x->s->merge, sum->subject, codebreak, &se);
	if (rc)
		return x->err->code ? rc
				    : cb_err_set(x->err, rc, "out of memory");

	for (i = 0; !rc && i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];
		int opened = 0;

		for (k = 0; !rc && k < v->nforms; k++) {
			const struct cb_protocol_form *f = v->forms[k];

			if (!cb_exp_form_written(f))
				continue;
			pos = 0;
			while (!rc &&
			       cb_fview_next_instance(&x->view, v->code,
						      f->code, &pos, &inst)) {
				if (!opened) {
					opened = 1;
					for (int t = 0; t < 2; t++) {
						struct cb_out *o =
						    t ? d->trans : d->snap;

						cb_out_puts(o,
							    "\n<StudyEventData"
							    " StudyEventOID"
							    "=\"SE.");
						cb_out_xml(o, v->code);
						cb_out_puts(o, "\">");
					}
				}
				rc = snap_form(x, d, v, f, inst);
				if (!rc)
					rc = trans_form(x, d, v, f, inst);
			}
		}
		if (opened) {
			cb_out_puts(d->snap, "</StudyEventData>");
			cb_out_puts(d->trans, "</StudyEventData>");
		}
	}
	/* Signatures of forms that hold no value. */
	for (i = 0; !rc && i < d->nsigns; i++) {
		const struct cb_event *ev = d->signs[i];
		const struct cb_protocol_form *f;

		if (d->used[i])
			continue;
		f = cb_protocol_find_form(p, ev->form);
		if (!f || !cb_exp_form_written(f) ||
		    !cb_protocol_find_visit(p, ev->visit))
			continue;
		cb_out_puts(d->trans, "\n<StudyEventData StudyEventOID=\"SE.");
		cb_out_xml(d->trans, ev->visit);
		cb_out_puts(d->trans, "\">");
		form_open(d->trans, ev->form,
			  ev->instance[0]
			      ? (unsigned)strtoul(ev->instance, NULL, 10)
			      : 0,
			  "Context");
		rc = signature(x, d, d->trans, ev);
		cb_out_puts(d->trans, "</FormData></StudyEventData>");
	}
	cb_out_puts(d->snap, "</SubjectData>");
	cb_out_puts(d->trans, "</SubjectData>");
	return rc;
}

/* Put one file together: head, metadata, AdminData, the spooled data. */
static int assemble(struct cb_exp *x, struct odm *d, const char *name,
		    const char *part, const char *type)
{
	const struct cb_protocol *p = x->p;
	struct cb_out *o;
	int rc;

	rc = cb_exp_open(x, name, &o);
	if (rc)
		return rc;
	cb_out_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<ODM xmlns=\"http://www.cdisc.org/ns/odm/v1.3\" "
		       "ODMVersion=\"1.3.2\"");
	cb_out_printf(o, " FileType=\"%s\" FileOID=\"casebook.", type);
	cb_out_xml(o, p->id);
	cb_out_putc(o, '.');
	cb_out_xml(o, x->o->asof);
	cb_out_printf(o, ".%s\"", type);
	attr(o, "CreationDateTime", x->o->created ? x->o->created : x->o->asof);
	attr(o, "AsOfDateTime", x->o->asof);
	cb_out_printf(o, " Granularity=\"%s\"",
		      x->o->site ? "SingleSite" : "All");
	cb_out_puts(o, " Originator=\"Casebook\" SourceSystem=\"Casebook\"");
	attr(o, "SourceSystemVersion",
	     x->o->source ? x->o->source : "casebook");
	cb_out_puts(o, " Description=\"Blinded export (no arm, no unblinded "
		       "item); data cut-off ");
	cb_out_xml(o, x->o->asof);
	if (x->o->site) {
		cb_out_puts(o, "; site ");
		cb_out_xml(o, x->o->site);
	}
	cb_out_puts(o, "\">\n");
	study(x, o);
	admin(x, d, o);
	cb_out_puts(o, "<ClinicalData");
	attr(o, "StudyOID", p->id);
	cb_out_puts(o, " MetaDataVersionOID=\"MDV.");
	cb_out_xml(o, p->version);
	cb_out_puts(o, "\">");
	rc = x->files->append(x->files->ctx, part, o, x->err);
	cb_out_puts(o, "\n</ClinicalData>\n</ODM>\n");
	if (!rc)
		rc = cb_exp_close(x, o, name, x->st.subjects);
	if (!rc)
		rc = x->files->remove(x->files->ctx, part, x->err);
	return rc;
}

static int odm_end(struct cb_exp *x)
{
	struct odm *d = x->fmt;
	struct cb_out *s = d->snap, *t = d->trans;
	int rc;

	d->snap = d->trans = NULL;
	rc = x->files->close(x->files->ctx, s, x->err);
	if (!rc)
		rc = x->files->close(x->files->ctx, t, x->err);
	if (!rc)
		rc = assemble(x, d, SNAP, SNAP_PART, "Snapshot");
	if (!rc)
		rc = assemble(x, d, TRANS, TRANS_PART, "Transactional");
	/* Rows of an ODM file are its subjects; not data rows of a CSV. */
	x->st.rows = 0;
	return rc;
}

static void odm_free(struct cb_exp *x)
{
	struct odm *d = x->fmt;

	if (!d)
		return;
	set_release(&d->users);
	set_release(&d->locs);
	set_release(&d->meanings);
	free(d->signs);
	free(d->used);
	free(d);
	x->fmt = NULL;
}

const struct cb_exp_format cb_exp_odm = {
    "odm", 1, odm_begin, odm_subject, odm_end, odm_free,
};
