/*
 * safety.c - computing the safety report (safety.h): the feed read once
 * into one small record per subject and one per adverse event, then
 * every table built from those (safety_int.h).
 */
#include "safety.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"
#include "fview.h"
#include "hmap.h"
#include "safety_int.h"
#include "studyday.h"

/* ---- the arms map -----------------------------------------------------------
 */

struct arm_entry {
	char *subject, *arm;
};

struct cb_arms {
	struct cb_hmap map;
	struct arm_entry **list;
	size_t n, cap;
};

int cb_arms_new(struct cb_arms **out, struct cb_err *err)
{
	struct cb_arms *a = calloc(1, sizeof(*a));

	if (!a)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	cb_hmap_init(&a->map);
	*out = a;
	return 0;
}

void cb_arms_free(struct cb_arms *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->n; i++) {
		free(a->list[i]->subject);
		free(a->list[i]->arm);
		free(a->list[i]);
	}
	free(a->list);
	cb_hmap_release(&a->map);
	free(a);
}

int cb_arms_add(struct cb_arms *a, const char *subject, const char *arm,
		struct cb_err *err)
{
	struct arm_entry *e = cb_hmap_get(&a->map, subject);
	int rc;

	if (e)
		return strcmp(e->arm, arm)
			   ? cb_err_set(err, CB_ECONFLICT,
					"subject %s is given two arms", subject)
			   : 0;
	rc = cb_array_grow((void **)&a->list, &a->cap, a->n + 1,
			   sizeof(*a->list), 10000000, "arms", err);
	if (rc)
		return rc;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->subject = strdup(subject)) || !(e->arm = strdup(arm)) ||
	    cb_hmap_reserve(&a->map, 1)) {
		if (e) {
			free(e->subject);
			free(e->arm);
		}
		free(e);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cb_hmap_put(&a->map, e->subject, e);
	a->list[a->n++] = e;
	return 0;
}

const char *cb_arms_get(const struct cb_arms *a, const char *subject)
{
	const struct arm_entry *e = cb_hmap_get(&a->map, subject);

	return e ? e->arm : NULL;
}

/* ---- the report's memory
 * ----------------------------------------------------- */

void *cb_sr_alloc(struct cb_safety *r, size_t n)
{
	struct sr_chunk *c = r->mem;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!c || c->size - c->used < n) {
		size_t size = n > 65536 ? n : 1u << 20;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = r->mem;
		r->mem = c;
	}
	p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

const char *cb_sr_strdup(struct cb_safety *r, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *d = cb_sr_alloc(r, n + 1);

	if (d && n)
		memcpy(d, s, n);
	return d;
}

const char *cb_sr_printf(struct cb_safety *r, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if ((size_t)n < sizeof(small))
		return cb_sr_strdup(r, small);
	{
		char *d = cb_sr_alloc(r, (size_t)n + 1);

		if (!d)
			return NULL;
		va_start(ap, fmt);
		vsnprintf(d, (size_t)n + 1, fmt, ap);
		va_end(ap);
		return d;
	}
}

void cb_safety_free(struct cb_safety *r)
{
	struct sr_chunk *c, *next;
	size_t i;

	if (!r)
		return;
	/* tables is NULL (and ntables 0) when its allocation failed */
	for (i = 0; r->tables && i < r->ntables; i++) {
		free(r->tables[i].cells);
		free(r->tables[i].cols);
	}
	free(r->tables);
	for (c = r->mem; c; c = next) {
		next = c->next;
		free(c);
	}
	free(r);
}

void cb_safety_counts(const struct cb_safety *r, size_t *subjects,
		      size_t *dosed, size_t *aes)
{
	if (subjects)
		*subjects = r->nsubjects;
	if (dosed)
		*dosed = r->ndosed;
	if (aes)
		*aes = r->naes;
}

const struct sr_table *cb_sr_table(const struct cb_safety *r, const char *id)
{
	size_t i;

	for (i = 0; i < r->ntables; i++)
		if (!strcmp(r->tables[i].id, id))
			return &r->tables[i];
	return NULL;
}

double cb_sr_pct(const struct sr_cell *c)
{
	return c->d > 0 ? 100.0 * (double)c->n / (double)c->d : -1;
}

const char *cb_sr_cell_text(const struct sr_cell *c, char *buf, size_t size)
{
	switch (c->kind) {
	case SR_TEXT:
		return c->text ? c->text : "";
	case SR_INT:
		snprintf(buf, size, "%ld", c->n);
		return buf;
	case SR_COUNT:
		if (!c->n)
			snprintf(buf, size, "0");
		else if (c->d > 0)
			snprintf(buf, size, "%ld (%.1f)", c->n, cb_sr_pct(c));
		else
			snprintf(buf, size, "%ld (-)", c->n);
		return buf;
	default:
		buf[0] = '\0';
		return buf;
	}
}

const char *cb_sr_kind(const struct cb_safety *r)
{
	return r->closed ? "CLOSED (by arm)" : "open (pooled and by site)";
}

int cb_safety_format_parse(const char *name, enum cb_safety_format *out,
			   struct cb_err *err)
{
	static const char *const names[] = {"text", "csv", "json", "html"};
	char q[64];
	size_t i;

	for (i = 0; name && i < 4; i++)
		if (!strcmp(name, names[i])) {
			*out = (enum cb_safety_format)i;
			return 0;
		}
	cb_err_quote(name ? name : "", q, sizeof(q));
	return cb_err_set(err, CB_EINVAL,
			  "unknown report format \"%s\": text, csv, json or "
			  "html",
			  q);
}

int cb_safety_write(const struct cb_safety *r, enum cb_safety_format f,
		    struct cb_out *out, struct cb_err *err)
{
	int rc;

	switch (f) {
	case CB_SAFETY_TEXT:
		rc = cb_sr_text(r, out);
		break;
	case CB_SAFETY_CSV:
		rc = cb_sr_csv(r, out);
		break;
	case CB_SAFETY_JSON:
		rc = cb_sr_json(r, out);
		break;
	case CB_SAFETY_HTML:
		rc = cb_sr_html(r, out);
		break;
	default:
		return cb_err_set(err, CB_EINVAL, "unknown report format");
	}
	if (rc)
		cb_out_fail(out, rc, "out of memory");
	return cb_out_flush(out, err);
}

/* ---- reading the feed
 * ----------------------------------------------------------- */

/* One subject: what the tables need. */
struct ssubj {
	const char *subject, *site, *arm;
	size_t site_i, group_i;
	enum cb_lifecycle state;
	const char *randomized, *ended;
	const char *dose; /* first dose, "" when not dosed */
	int rand, dosed;
	size_t nunblind;
	const char *cb_user, *cb_when, *cb_reason;
	size_t ae0, nae;
};

/* 'Y', 'N' or '?' (cannot tell) for a flag. */
struct sae {
	size_t subj;
	unsigned inst;
	const char *term, *term_key, *onset, *day, *end, *grade, *sev, *rel,
	    *action, *outcome, *crit_text;
	const char *grade_raw, *sev_raw, *rel_raw; /* NULL: unknown */
	const unsigned char *crit;		   /* ncriteria: 1 for Y */
	char serious, related, death, withdrawn;
	int te;
};

/* The ordered values of a grade, severity or relationship item. */
struct level {
	const char *v, *label;
};

struct levels {
	const struct cb_protocol_item *it;
	struct level *e;
	size_t n, cap;
	int observed; /* collected from the data, sorted at the end */
};

struct calc {
	struct cb_safety *r;
	const struct cb_protocol *p;
	const struct cb_safety_opts *o;
	struct cb_err *err;
	struct cb_fview view;
	const struct cb_protocol_visit *ae_visit;
	struct ssubj *subj;
	size_t nsubj, cap_subj;
	struct sae *ae;
	size_t nae, cap_ae;
	struct levels grade, sev, rel;
	const char **sites;
	size_t nsites, cap_sites;
	int unknown_arm; /* a subject has no arm in the map */
};

#define NOMEM(c) cb_err_set((c)->err, CB_ENOMEM, "out of memory")

static int levels_add(struct calc *c, struct levels *l, const char *v,
		      const char *label)
{
	int rc = cb_array_grow((void **)&l->e, &l->cap, l->n + 1, sizeof(*l->e),
			       100000, "levels", c->err);

	if (rc)
		return rc;
	l->e[l->n].v = v;
	l->e[l->n].label = label;
	l->n++;
	return 0;
}

static int levels_init(struct calc *c, struct levels *l,
		       const struct cb_protocol_item *it, const char *prefix)
{
	size_t i;
	int rc = 0;

	memset(l, 0, sizeof(*l));
	l->it = it;
	if (!it)
		return 0;
	if (it->nchoices) {
		for (i = 0; !rc && i < it->nchoices; i++)
			rc = levels_add(c, l, it->choices[i].code,
					it->choices[i].label);
		return rc;
	}
	if (it->type == CB_ITEM_INTEGER && it->range.has_min &&
	    it->range.has_max && it->range.max - it->range.min <= 100) {
		long v;

		for (v = (long)it->range.min; !rc && v <= (long)it->range.max;
		     v++) {
			const char *s = cb_sr_printf(c->r, "%ld", v);
			const char *lab =
			    cb_sr_printf(c->r, "%s %ld", prefix, v);

			rc = s && lab ? levels_add(c, l, s, lab) : NOMEM(c);
		}
		return rc;
	}
	l->observed = 1;
	return 0;
}

static void levels_free(struct levels *l)
{
	free(l->e);
}

static long level_of(const struct levels *l, const char *v)
{
	size_t i;

	if (!v)
		return -1;
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].v, v))
			return (long)i;
	return -1;
}

/* An observed level: kept once, in the report's memory. */
static int levels_see(struct calc *c, struct levels *l, const char *v)
{
	if (!l->observed || !v || level_of(l, v) >= 0)
		return 0;
	return levels_add(c, l, v, v);
}

static int num_cmp(const void *a, const void *b)
{
	const char *x = ((const struct level *)a)->v;
	const char *y = ((const struct level *)b)->v;
	double dx = strtod(x, NULL), dy = strtod(y, NULL);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	return strcmp(x, y);
}

static void levels_sort(struct levels *l)
{
	size_t i;

	if (!l->observed || !l->n)
		return;
	qsort(l->e, l->n, sizeof(*l->e), num_cmp);
	for (i = 0; i < l->n; i++)
		l->e[i].label = l->e[i].v;
}

/* A value of the AE form for a listing: a copy, "(conflict)" or NULL;
 * *raw (may be NULL) the value usable for counting (NULL unless a
 * plain value). */
static const char *ae_val(struct calc *c, const struct cb_protocol_item *it,
			  unsigned inst, const char **raw)
{
	const struct cb_feed_item *fi;
	const char *s;

	if (raw)
		*raw = NULL;
	if (!it)
		return NULL;
	fi = cb_fview_item(&c->view, c->ae_visit->code, it->form->code, inst,
			   it->code);
	if (!fi || (!fi->conflict && !fi->value))
		return NULL;
	s = cb_sr_strdup(c->r, fi->conflict ? "(conflict)" : fi->value);
	if (s && raw && !fi->conflict)
		*raw = s;
	return s;
}

static char flag(struct calc *c, enum cb_safety_flag f, unsigned inst)
{
	const struct cb_protocol_cond *cond = c->p->safety_flags[f];
	struct cb_check_source src;
	enum cb_check_truth t;

	if (!cond)
		return '?';
	src = cb_fview_source(&c->view);
	if (cb_check_condition(c->p, &src, c->ae_visit, c->p->safety_form, inst,
			       cond, &t, c->err))
		return 0;
	return t == CB_CHECK_TRUE ? 'Y' : t == CB_CHECK_FALSE ? 'N' : '?';
}

/* The term as the by-term table groups it: trimmed, ASCII capitals. */
static const char *term_key(struct calc *c, const char *term)
{
	char *k;
	size_t n, i;

	if (!term)
		return cb_sr_strdup(c->r, "(no term)");
	while (*term == ' ')
		term++;
	n = strlen(term);
	while (n && term[n - 1] == ' ')
		n--;
	k = cb_sr_alloc(c->r, n + 1);
	if (!k)
		return NULL;
	for (i = 0; i < n; i++)
		k[i] = (char)(term[i] >= 'a' && term[i] <= 'z'
				  ? term[i] - 'a' + 'A'
				  : term[i]);
	return k;
}

static int read_ae(struct calc *c, size_t si, unsigned inst, const char *dose)
{
	const struct cb_protocol *p = c->p;
	const struct cb_protocol_item *const *it = p->safety_items;
	struct sae *a;
	const char *ongo, *onset_raw, *end_raw;
	struct cb_buf crit;
	unsigned char *cb;
	char day[CB_STUDY_DAY_BUF];
	size_t k;
	int rc;

	rc = cb_array_grow((void **)&c->ae, &c->cap_ae, c->nae + 1,
			   sizeof(*c->ae), 100000000, "adverse events", c->err);
	if (rc)
		return rc;
	a = &c->ae[c->nae];
	memset(a, 0, sizeof(*a));
	a->subj = si;
	a->inst = inst;
	a->term = ae_val(c, it[CB_SAFETY_TERM], inst, NULL);
	a->term_key = term_key(c, a->term);
	a->onset = ae_val(c, it[CB_SAFETY_ONSET], inst, &onset_raw);
	a->end = ae_val(c, it[CB_SAFETY_END], inst, &end_raw);
	ongo = ae_val(c, it[CB_SAFETY_ONGOING], inst, NULL);
	if (!a->end && ongo && !strcmp(ongo, "Y"))
		a->end = "ongoing";
	a->grade = ae_val(c, it[CB_SAFETY_GRADE], inst, &a->grade_raw);
	a->sev = ae_val(c, it[CB_SAFETY_SEVERITY], inst, &a->sev_raw);
	a->rel = ae_val(c, it[CB_SAFETY_RELATIONSHIP], inst, &a->rel_raw);
	a->action = ae_val(c, it[CB_SAFETY_ACTION], inst, NULL);
	a->outcome = ae_val(c, it[CB_SAFETY_OUTCOME], inst, NULL);
	a->te = cb_treatment_emergent(onset_raw, dose);
	a->day =
	    cb_study_day(onset_raw, dose, day) ? cb_sr_strdup(c->r, day) : NULL;
	a->serious = flag(c, CB_SAFETY_SERIOUS, inst);
	a->related = flag(c, CB_SAFETY_RELATED, inst);
	a->death = flag(c, CB_SAFETY_DEATH, inst);
	a->withdrawn = flag(c, CB_SAFETY_DISCONTINUED, inst);
	if (c->err->code)
		return c->err->code;
	cb = cb_sr_alloc(c->r, p->ncriteria + 1);
	if (!cb || !a->term_key)
		return NOMEM(c);
	cb_buf_init(&crit, 1u << 16);
	for (k = 0; !rc && k < p->ncriteria; k++) {
		const char *v = cb_fview_value(&c->view, c->ae_visit->code,
					       p->safety_form->code, inst,
					       p->criteria[k]->code);

		if (!v || strcmp(v, "Y"))
			continue;
		cb[k] = 1;
		rc = cb_buf_printf(&crit, c->err, "%s%s",
				   cb_buf_len(&crit) ? ", " : "",
				   p->criteria[k]->code);
	}
	a->crit = cb;
	if (!rc) {
		a->crit_text =
		    a->serious == 'Y'
			? (cb_buf_len(&crit)
			       ? cb_sr_printf(c->r, "Y: %s", cb_buf_str(&crit))
			       : "Y")
		    : a->serious == 'N' ? "N"
					: NULL;
		if (a->serious == 'Y' && !a->crit_text)
			rc = NOMEM(c);
	}
	cb_buf_free(&crit);
	if (!rc)
		rc = levels_see(c, &c->grade, a->grade_raw);
	if (!rc)
		rc = levels_see(c, &c->sev, a->sev_raw);
	if (!rc)
		rc = levels_see(c, &c->rel, a->rel_raw);
	if (!rc)
		c->nae++;
	return rc;
}

static int site_index(struct calc *c, const char *site, size_t *out)
{
	size_t i;
	int rc;

	for (i = 0; i < c->nsites; i++)
		if (!strcmp(c->sites[i], site)) {
			*out = i;
			return 0;
		}
	rc = cb_array_grow((void **)&c->sites, &c->cap_sites, c->nsites + 1,
			   sizeof(*c->sites), 100000, "sites", c->err);
	if (rc)
		return rc;
	if (!(c->sites[c->nsites] = cb_sr_strdup(c->r, site)))
		return NOMEM(c);
	*out = c->nsites++;
	return 0;
}

static int on_subject(const struct cb_feed_subject *fs, void *ctx)
{
	struct calc *c = ctx;
	const struct cb_summary *sum = fs->sum;
	const struct cb_protocol *p = c->p;
	struct ssubj *s;
	const char *dose;
	size_t pos = 0;
	unsigned inst;
	int rc;

	rc = cb_fview_set(&c->view, fs, c->err);
	if (!rc)
		rc = cb_array_grow((void **)&c->subj, &c->cap_subj,
				   c->nsubj + 1, sizeof(*c->subj), 100000000,
				   "subjects", c->err);
	if (rc)
		return rc;
	s = &c->subj[c->nsubj];
	memset(s, 0, sizeof(*s));
	s->subject = cb_sr_strdup(c->r, sum->subject);
	s->site = cb_sr_strdup(c->r, sum->site);
	s->state = sum->state;
	s->randomized = cb_sr_strdup(c->r, sum->randomized);
	s->ended = cb_sr_strdup(c->r, sum->ended);
	s->rand = sum->randno[0] || sum->randomized[0];
	s->nunblind = sum->nunblind;
	if (sum->nunblind) {
		s->cb_user = cb_sr_strdup(c->r, sum->unblind.user);
		s->cb_when = cb_sr_strdup(c->r, sum->unblind.when);
		s->cb_reason = cb_sr_strdup(c->r, sum->unblind.reason);
	}
	if (!s->subject || !s->site || !s->randomized || !s->ended)
		return NOMEM(c);
	if (c->o->arms) {
		const char *arm = cb_arms_get(c->o->arms, sum->subject);

		if (arm && !cb_protocol_find_arm(p, arm))
			return cb_err_set(c->err, CB_EINVAL,
					  "the arm given for subject %s is "
					  "not an arm of the protocol",
					  sum->subject);
		s->arm = arm;
	}
	rc = site_index(c, sum->site, &s->site_i);
	if (rc)
		return rc;
	dose = cb_fview_value(
	    &c->view, p->first_dose.visit ? p->first_dose.visit->code : "",
	    p->first_dose.form ? p->first_dose.form->code : "", 0,
	    p->first_dose.item ? p->first_dose.item->code : "");
	if (!dose && sum->dosed[0])
		dose = sum->dosed;
	s->dosed = dose != NULL;
	if (!(s->dose = cb_sr_strdup(c->r, dose)))
		return NOMEM(c);
	s->ae0 = c->nae;
	while (!rc && cb_fview_next_instance(&c->view, c->ae_visit->code,
					     p->safety_form->code, &pos, &inst))
		rc = read_ae(c, c->nsubj, inst, dose);
	if (rc)
		return rc;
	s->nae = c->nae - s->ae0;
	c->nsubj++;
	return 0;
}

/* ---- building the tables
 * ------------------------------------------------------- */

#define TABLES_MAX 24

static struct sr_table *tnew(struct calc *c, const char *id, const char *title,
			     const char *note, size_t ncols, size_t nkey)
{
	struct cb_safety *r = c->r;
	struct sr_table *t;

	if (r->ntables == TABLES_MAX) {
		cb_err_set(c->err, CB_ETOOBIG, "too many tables");
		return NULL;
	}
	t = &r->tables[r->ntables];
	memset(t, 0, sizeof(*t));
	t->cols = calloc(ncols, sizeof(*t->cols));
	if (!t->cols) {
		NOMEM(c);
		return NULL;
	}
	r->ntables++;
	t->id = id;
	t->title = title;
	t->note = note;
	t->ncols = ncols;
	t->nkey = nkey;
	return t;
}

static void tcol(struct sr_table *t, size_t i, const char *id, const char *head,
		 int num, int wrap)
{
	t->cols[i].id = id;
	t->cols[i].head = head;
	t->cols[i].num = num;
	t->cols[i].wrap = wrap;
}

/* A new row of empty cells, or NULL (out of memory). */
static struct sr_cell *trow(struct calc *c, struct sr_table *t)
{
	struct sr_cell *row;

	/* cells are rows of ncols; cap counts rows */
	if (t->nrows == t->cap &&
	    cb_array_grow((void **)&t->cells, &t->cap, t->nrows + 1,
			  t->ncols * sizeof(*t->cells),
			  SIZE_MAX / (t->ncols * sizeof(*t->cells)), "rows",
			  c->err)) {
		NOMEM(c);
		return NULL;
	}
	row = &t->cells[t->nrows * t->ncols];
	memset(row, 0, t->ncols * sizeof(*row));
	t->nrows++;
	return row;
}

static void ctext(struct sr_cell *x, const char *s)
{
	x->kind = s ? SR_TEXT : SR_EMPTY;
	x->text = s;
}

static void cint(struct sr_cell *x, long n)
{
	x->kind = SR_INT;
	x->n = n;
}

static int tbl_enrollment(struct calc *c)
{
	static const char *const ids[] = {
	    "screened",	 "screen_failures", "randomized", "dosed", "on_study",
	    "completed", "withdrawn",	    "lost",	  "died"};
	static const char *const heads[] = {
	    "Screened",	 "Screen failures",   "Randomized",
	    "Dosed",	 "On study",	      "Completed",
	    "Withdrawn", "Lost to follow-up", "Died"};
	struct cb_safety *r = c->r;
	struct sr_table *t;
	long *n;
	size_t i, k, ns = r->nsites;

	t = tnew(c, "enrollment", "Enrollment by site",
		 "Screened: every subject created; randomized: holds a "
		 "randomization number; dosed: first dose recorded (the "
		 "safety population); on study: randomized or dosed and not "
		 "off study; the end states from the end of study form.",
		 10, 1);
	n = calloc((ns + 1) * 9, sizeof(*n));
	if (!t || !n) {
		free(n);
		return t ? NOMEM(c) : c->err->code;
	}
	tcol(t, 0, "site", "Site", 0, 0);
	for (k = 0; k < 9; k++)
		tcol(t, k + 1, ids[k], heads[k], 1, 0);
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		long *row[2] = {&n[s->site_i * 9], &n[ns * 9]};
		int j;

		for (j = 0; j < 2; j++) {
			row[j][0]++;
			row[j][1] += s->state == CB_LC_SCREEN_FAILURE;
			row[j][2] += s->rand;
			row[j][3] += s->dosed;
			row[j][4] += (s->state == CB_LC_RANDOMIZED ||
				      s->state == CB_LC_DOSED);
			row[j][5] += s->state == CB_LC_COMPLETED;
			row[j][6] += s->state == CB_LC_WITHDRAWN;
			row[j][7] += s->state == CB_LC_LOST;
			row[j][8] += s->state == CB_LC_DIED;
		}
	}
	for (i = 0; i <= ns; i++) {
		struct sr_cell *row = trow(c, t);

		if (!row) {
			free(n);
			return c->err->code;
		}
		ctext(&row[0], i < ns ? r->sites[i].id : "Total");
		for (k = 0; k < 9; k++)
			cint(&row[k + 1], n[i * 9 + k]);
	}
	free(n);
	return 0;
}

static int tbl_enrollment_arm(struct calc *c)
{
	static const char *const ids[] = {"randomized", "dosed",     "on_study",
					  "completed",	"withdrawn", "lost",
					  "died"};
	static const char *const heads[] = {
	    "Randomized",	 "Dosed", "On study", "Completed", "Withdrawn",
	    "Lost to follow-up", "Died"};
	struct cb_safety *r = c->r;
	size_t ng = r->ngroups, i, k;
	struct sr_table *t;
	long *n;

	t = tnew(c, "enrollment_arm", "Enrollment by arm",
		 "Randomized subjects by the arm of their randomization "
		 "slot, as opened with the unblinding key.",
		 8, 1);
	n = calloc(ng * 7, sizeof(*n));
	if (!t || !n) {
		free(n);
		return t ? NOMEM(c) : c->err->code;
	}
	tcol(t, 0, "arm", "Arm", 0, 0);
	for (k = 0; k < 7; k++)
		tcol(t, k + 1, ids[k], heads[k], 1, 0);
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		long *row[2] = {&n[s->group_i * 7], &n[(ng - 1) * 7]};
		int j;

		if (!s->rand && !s->dosed)
			continue;
		for (j = 0; j < 2; j++) {
			row[j][0] += s->rand;
			row[j][1] += s->dosed;
			row[j][2] += (s->state == CB_LC_RANDOMIZED ||
				      s->state == CB_LC_DOSED);
			row[j][3] += s->state == CB_LC_COMPLETED;
			row[j][4] += s->state == CB_LC_WITHDRAWN;
			row[j][5] += s->state == CB_LC_LOST;
			row[j][6] += s->state == CB_LC_DIED;
		}
	}
	for (i = 0; i < ng; i++) {
		struct sr_cell *row = trow(c, t);

		if (!row) {
			free(n);
			return c->err->code;
		}
		ctext(&row[0], r->groups[i].label);
		for (k = 0; k < 7; k++)
			cint(&row[k + 1], n[i * 7 + k]);
	}
	free(n);
	return 0;
}

static int month_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every month from the first randomization to the last, and each site's
 * cumulative count at the end of each. */
static int months(struct calc *c)
{
	struct cb_safety *r = c->r;
	const char **seen = NULL;
	size_t nseen = 0, i, k;
	int y, m, ly, lm;
	char buf[8];

	for (i = 0; i < c->nsubj; i++)
		if (c->subj[i].rand && strlen(c->subj[i].randomized) >= 7)
			nseen++;
	r->nmonths = 0;
	if (!nseen)
		goto cum;
	seen = malloc(nseen * sizeof(*seen));
	if (!seen)
		return NOMEM(c);
	for (i = 0, k = 0; i < c->nsubj; i++)
		if (c->subj[i].rand && strlen(c->subj[i].randomized) >= 7)
			seen[k++] = c->subj[i].randomized;
	qsort(seen, nseen, sizeof(*seen), month_cmp);
	if (sscanf(seen[0], "%4d-%2d", &y, &m) != 2 ||
	    sscanf(seen[nseen - 1], "%4d-%2d", &ly, &lm) != 2 || y > ly) {
		free(seen);
		goto cum;
	}
	free(seen);
	/* At most 100 years of months: a bad date cannot ask for more. */
	if ((ly - y) * 12 + lm - m > 1200)
		ly = y + 100;
	r->months = cb_sr_alloc(c->r, (size_t)((ly - y) * 12 + lm - m + 1) *
					  sizeof(*r->months));
	if (!r->months)
		return NOMEM(c);
	while (y < ly || (y == ly && m <= lm)) {
		snprintf(buf, sizeof(buf), "%04d-%02d", y, m);
		if (!(r->months[r->nmonths++] = cb_sr_strdup(c->r, buf)))
			return NOMEM(c);
		if (++m > 12) {
			m = 1;
			y++;
		}
	}
cum:
	for (k = 0; k < r->nsites; k++) {
		r->sites[k].cum =
		    cb_sr_alloc(c->r, (r->nmonths + 1) * sizeof(long));
		if (!r->sites[k].cum)
			return NOMEM(c);
	}
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];

		if (!s->rand)
			continue;
		for (k = 0; k < r->nmonths; k++)
			if (strncmp(r->months[k], s->randomized, 7) >= 0)
				r->sites[s->site_i].cum[k]++;
	}
	return 0;
}

static int tbl_enrollment_time(struct calc *c)
{
	struct cb_safety *r = c->r;
	size_t ns = r->nsites, i, k;
	struct sr_table *t;
	long prev_total = 0;

	t = tnew(c, "enrollment_time", "Randomized subjects by month",
		 "By the month of the randomization date; the last column "
		 "is the running total.",
		 ns + 3, 1);
	if (!t)
		return c->err->code;
	tcol(t, 0, "month", "Month", 0, 0);
	for (k = 0; k < ns; k++)
		tcol(t, k + 1, r->sites[k].id, r->sites[k].label, 1, 0);
	tcol(t, ns + 1, "total", "Total", 1, 0);
	tcol(t, ns + 2, "cumulative", "Cumulative", 1, 0);
	for (i = 0; i < r->nmonths; i++) {
		struct sr_cell *row = trow(c, t);
		long total = 0;

		if (!row)
			return c->err->code;
		ctext(&row[0], r->months[i]);
		for (k = 0; k < ns; k++) {
			long n = r->sites[k].cum[i] -
				 (i ? r->sites[k].cum[i - 1] : 0);

			cint(&row[k + 1], n);
			total += r->sites[k].cum[i];
		}
		cint(&row[ns + 1], total - prev_total);
		cint(&row[ns + 2], total);
		prev_total = total;
	}
	return 0;
}

static int tbl_exposure(struct calc *c)
{
	struct cb_safety *r = c->r;
	size_t ng = r->ngroups, i, k;
	struct sr_table *t;
	long *n = calloc(ng * 3, sizeof(*n));
	static const char *const rows[] = {
	    "Randomized", "Dosed (safety population)", "Randomized, not dosed"};

	t = n ? tnew(c, "exposure", "Exposure",
		     "Subjects dosed: the first dose date is recorded. The "
		     "safety population is every dosed subject.",
		     ng + 1, 1)
	      : NULL;
	if (!t) {
		free(n);
		return n ? c->err->code : NOMEM(c);
	}
	tcol(t, 0, "measure", "", 0, 0);
	for (k = 0; k < ng; k++)
		tcol(t, k + 1, r->groups[k].id, r->groups[k].label, 1, 0);
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		size_t g[2] = {s->group_i, ng - 1};
		int j;

		for (j = 0; j < 2; j++) {
			n[0 * ng + g[j]] += s->rand;
			n[1 * ng + g[j]] += s->dosed;
			n[2 * ng + g[j]] += s->rand && !s->dosed;
		}
	}
	for (i = 0; i < 3; i++) {
		struct sr_cell *row = trow(c, t);

		if (!row) {
			free(n);
			return c->err->code;
		}
		ctext(&row[0], rows[i]);
		for (k = 0; k < ng; k++)
			cint(&row[k + 1], n[i * ng + k]);
	}
	free(n);
	return 0;
}

/*
 * A summary table: `nrows` rows labelled `labels`, each cell the number
 * of subjects of the safety population of its column for whom
 * rowof(ae) (over their treatment-emergent AEs) names that row; a
 * subject counts once per row. From row `worst_from` on (nrows: none),
 * only the highest of those rows a subject reaches counts (worst
 * grade); `fallback` (>= 0) is the row of subjects with a TEAE whose
 * rows there are all unknown.
 */
struct summ {
	const char *id, *title, *note;
	size_t nrows;
	const char *const *labels;
	size_t worst_from;
	long fallback;
	/* the rows an AE counts in: set in `hit` (nrows bytes) */
	void (*rows)(const struct calc *c, const struct sae *a,
		     unsigned char *hit, const void *arg);
	const void *arg;
};

static int summary(struct calc *c, const struct summ *sm)
{
	struct cb_safety *r = c->r;
	size_t ng = r->ngroups, i, j, k;
	unsigned char *hit, *subj_hit;
	struct sr_table *t;
	long *n;
	int rc = 0;

	hit = calloc(sm->nrows + 1, 1);
	subj_hit = calloc(sm->nrows + 1, 1);
	n = calloc((sm->nrows + 1) * ng, sizeof(*n));
	t = hit && subj_hit && n
		? tnew(c, sm->id, sm->title, sm->note, ng + 1, 1)
		: NULL;
	if (!t) {
		rc = hit && subj_hit && n ? c->err->code : NOMEM(c);
		goto out;
	}
	tcol(t, 0, "row", "", 0, 1);
	for (k = 0; k < ng; k++)
		tcol(t, k + 1, r->groups[k].id,
		     cb_sr_printf(r, "%s (N=%ld)", r->groups[k].label,
				  r->groups[k].N),
		     1, 0);
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		int any = 0;

		if (!s->dosed)
			continue;
		memset(subj_hit, 0, sm->nrows);
		for (j = 0; j < s->nae; j++) {
			const struct sae *a = &c->ae[s->ae0 + j];

			if (!a->te)
				continue;
			any = 1;
			memset(hit, 0, sm->nrows);
			sm->rows(c, a, hit, sm->arg);
			for (k = 0; k < sm->nrows; k++)
				subj_hit[k] |= hit[k];
		}
		if (!any)
			continue;
		if (sm->worst_from < sm->nrows) {
			long top = -1;

			for (k = sm->worst_from; k < sm->nrows; k++)
				if (subj_hit[k] && (long)k != sm->fallback)
					top = (long)k;
			if (top < 0)
				top = sm->fallback;
			memset(subj_hit + sm->worst_from, 0,
			       sm->nrows - sm->worst_from);
			if (top >= 0)
				subj_hit[top] = 1;
		}
		for (k = 0; k < sm->nrows; k++)
			if (subj_hit[k]) {
				n[k * ng + s->group_i]++;
				n[k * ng + ng - 1]++;
			}
	}
	for (k = 0; k < sm->nrows; k++) {
		struct sr_cell *row = trow(c, t);

		if (!row) {
			rc = c->err->code;
			goto out;
		}
		ctext(&row[0], sm->labels[k]);
		for (j = 0; j < ng; j++) {
			row[j + 1].kind = SR_COUNT;
			row[j + 1].n = n[k * ng + j];
			row[j + 1].d = r->groups[j].N;
		}
	}
out:
	free(hit);
	free(subj_hit);
	free(n);
	return rc;
}

static void rows_overview(const struct calc *c, const struct sae *a,
			  unsigned char *hit, const void *arg)
{
	(void)c;
	(void)arg;
	hit[0] = 1;
	hit[1] = a->serious == 'Y';
	hit[2] = a->related == 'Y';
	hit[3] = a->withdrawn == 'Y';
	hit[4] = a->death == 'Y';
}

/* arg: the levels; the row is the level, the last row "not recorded". */
static void rows_level(const struct calc *c, const struct sae *a,
		       unsigned char *hit, const void *arg)
{
	const struct levels *l = arg;
	const char *v = l == &c->grade ? a->grade_raw
			: l == &c->sev ? a->sev_raw
				       : a->rel_raw;
	long i = level_of(l, v);

	hit[i >= 0 ? (size_t)i : l->n] = 1;
}

static void rows_serious(const struct calc *c, const struct sae *a,
			 unsigned char *hit, const void *arg)
{
	size_t k;

	(void)arg;
	hit[0] = a->serious == 'Y';
	for (k = 0; k < c->p->ncriteria; k++)
		hit[k + 1] = a->crit[k];
}

static void rows_related(const struct calc *c, const struct sae *a,
			 unsigned char *hit, const void *arg)
{
	(void)arg;
	hit[0] = a->related == 'Y';
	rows_level(c, a, hit + 1, &c->rel);
}

struct terms {
	const char **keys;
	size_t n;
};

static void rows_term(const struct calc *c, const struct sae *a,
		      unsigned char *hit, const void *arg)
{
	const struct terms *t = arg;
	size_t lo = 0, hi = t->n;

	(void)c;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(t->keys[mid], a->term_key);

		if (!cmp) {
			hit[mid] = 1;
			return;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The level labels of `l` and "not recorded". */
static const char **level_labels(struct calc *c, const struct levels *l)
{
	const char **lab = cb_sr_alloc(c->r, (l->n + 1) * sizeof(*lab));
	size_t i;

	if (!lab)
		return NULL;
	for (i = 0; i < l->n; i++)
		lab[i] = l->e[i].label;
	lab[l->n] = "Not recorded";
	return lab;
}

/* The by-term table, rows then sorted by the total, most first. */
static int tbl_terms(struct calc *c)
{
	struct cb_safety *r = c->r;
	struct terms tm = {NULL, 0};
	struct summ sm;
	struct sr_table *t;
	size_t i, k, ng = r->ngroups;
	int rc;

	tm.keys = malloc((c->nae + 1) * sizeof(*tm.keys));
	if (!tm.keys)
		return NOMEM(c);
	for (i = 0; i < c->nae; i++)
		if (c->ae[i].te && c->subj[c->ae[i].subj].dosed)
			tm.keys[tm.n++] = c->ae[i].term_key;
	qsort(tm.keys, tm.n, sizeof(*tm.keys), str_cmp);
	for (i = 0, k = 0; i < tm.n; i++)
		if (!k || strcmp(tm.keys[k - 1], tm.keys[i]))
			tm.keys[k++] = tm.keys[i];
	tm.n = k;
	memset(&sm, 0, sizeof(sm));
	sm.id = "teae_term";
	sm.title = "Subjects with a treatment-emergent AE, by term";
	sm.note = "Verbatim terms, grouped ignoring case and surrounding "
		  "spaces; each subject once per term. Most frequent first.";
	sm.nrows = tm.n;
	sm.labels = tm.keys;
	sm.worst_from = tm.n;
	sm.fallback = -1;
	sm.rows = rows_term;
	sm.arg = &tm;
	rc = summary(c, &sm);
	free(tm.keys);
	if (rc)
		return rc;
	/* Sort the rows: total (the last column) descending, then term. */
	t = &r->tables[r->ntables - 1];
	for (i = 1; i < t->nrows; i++) {
		struct sr_cell *tmp = malloc(t->ncols * sizeof(*tmp));

		if (!tmp)
			return NOMEM(c);
		memcpy(tmp, &t->cells[i * t->ncols], t->ncols * sizeof(*tmp));
		k = i;
		while (k > 0) {
			const struct sr_cell *prev =
			    &t->cells[(k - 1) * t->ncols];

			if (prev[ng].n > tmp[ng].n ||
			    (prev[ng].n == tmp[ng].n &&
			     strcmp(prev[0].text, tmp[0].text) <= 0))
				break;
			memcpy(&t->cells[k * t->ncols], prev,
			       t->ncols * sizeof(*tmp));
			k--;
		}
		memcpy(&t->cells[k * t->ncols], tmp, t->ncols * sizeof(*tmp));
		free(tmp);
	}
	return 0;
}

static int summaries(struct calc *c)
{
	static const char *const overview[] = {
	    "Any TEAE", "Any serious TEAE", "Any related TEAE",
	    "Any TEAE leading to withdrawal", "Any fatal TEAE"};
	const struct cb_protocol *p = c->p;
	struct summ sm;
	const char **lab;
	size_t k;
	int rc;

	memset(&sm, 0, sizeof(sm));
	sm.id = "teae_overview";
	sm.title = "Subjects with treatment-emergent adverse events (TEAE)";
	sm.note = "n (%) of the safety population of each column; each "
		  "subject counted once per row. Treatment-emergent: onset on "
		  "or after the first dose date (a partial or missing onset "
		  "unless certainly before it). Serious, related, leading to "
		  "withdrawal and fatal as the protocol's safety section "
		  "defines them.";
	sm.nrows = 5;
	sm.labels = overview;
	sm.worst_from = 5;
	sm.fallback = -1;
	sm.rows = rows_overview;
	rc = summary(c, &sm);
	if (rc)
		return rc;

	if (!(lab = level_labels(c, &c->grade)))
		return NOMEM(c);
	sm.id = "teae_grade";
	sm.title = "Subjects with a TEAE, by worst grade";
	sm.note = "Each subject counted once, at the worst grade of their "
		  "TEAEs; \"Not recorded\": no TEAE of the subject has a "
		  "grade.";
	sm.nrows = c->grade.n + 1;
	sm.labels = lab;
	sm.worst_from = 0;
	sm.fallback = (long)c->grade.n;
	sm.rows = rows_level;
	sm.arg = &c->grade;
	rc = summary(c, &sm);
	if (rc)
		return rc;

	if (!(lab = level_labels(c, &c->sev)))
		return NOMEM(c);
	sm.id = "teae_severity";
	sm.title = "Subjects with a TEAE, by worst severity";
	sm.note = "Each subject counted once, at the worst severity of their "
		  "TEAEs (the protocol's order of the codes, the last the "
		  "worst).";
	sm.nrows = c->sev.n + 1;
	sm.labels = lab;
	sm.fallback = (long)c->sev.n;
	sm.arg = &c->sev;
	rc = summary(c, &sm);
	if (rc)
		return rc;

	lab = cb_sr_alloc(c->r, (p->ncriteria + 1) * sizeof(*lab));
	if (!lab)
		return NOMEM(c);
	lab[0] = "Any serious TEAE";
	for (k = 0; k < p->ncriteria; k++)
		lab[k + 1] = p->criteria[k]->label[0] ? p->criteria[k]->label
						      : p->criteria[k]->code;
	memset(&sm, 0, sizeof(sm));
	sm.id = "teae_serious";
	sm.title = "Subjects with a serious TEAE, by seriousness criterion";
	sm.note = "A subject counts once in each criterion any of their "
		  "TEAEs meets.";
	sm.nrows = p->ncriteria + 1;
	sm.labels = lab;
	sm.worst_from = sm.nrows;
	sm.fallback = -1;
	sm.rows = rows_serious;
	rc = summary(c, &sm);
	if (rc)
		return rc;

	lab = cb_sr_alloc(c->r, (c->rel.n + 2) * sizeof(*lab));
	if (!lab)
		return NOMEM(c);
	lab[0] = "Any related TEAE";
	for (k = 0; k < c->rel.n; k++)
		lab[k + 1] =
		    cb_sr_printf(c->r, "Strongest: %s", c->rel.e[k].label);
	lab[c->rel.n + 1] = "Strongest: not recorded";
	for (k = 0; k < c->rel.n + 2; k++)
		if (!lab[k])
			return NOMEM(c);
	sm.id = "teae_related";
	sm.title = "Subjects with a TEAE, by relationship to study treatment";
	sm.note = "Related as the protocol defines it; then each subject "
		  "once at the strongest relationship of their TEAEs (the "
		  "protocol's order of the codes, the last the strongest).";
	sm.nrows = c->rel.n + 2;
	sm.labels = lab;
	sm.worst_from = 1;
	sm.fallback = (long)c->rel.n + 1;
	sm.rows = rows_related;
	rc = summary(c, &sm);
	if (rc)
		return rc;
	return tbl_terms(c);
}

/* Columns of the AE listings. */
static int ae_listing(struct calc *c, const char *id, const char *title,
		      const char *note, char which)
{
	const int arm = c->r->closed;
	size_t ncols = 14 + (size_t)arm, i, k;
	struct sr_table *t;

	t = tnew(c, id, title, note, ncols, 3 + (size_t)arm);
	if (!t)
		return c->err->code;
	k = 0;
	tcol(t, k++, "site", "Site", 0, 0);
	tcol(t, k++, "subject", "Subject", 0, 0);
	if (arm)
		tcol(t, k++, "arm", "Arm", 0, 0);
	tcol(t, k++, "ae", "AE", 1, 0);
	tcol(t, k++, "term", "Term", 0, 1);
	tcol(t, k++, "onset", "Onset", 0, 0);
	tcol(t, k++, "day", "Day", 1, 0);
	tcol(t, k++, "end", "End", 0, 0);
	tcol(t, k++, "grade", "Gr", 1, 0);
	tcol(t, k++, "severity", "Sev", 0, 0);
	tcol(t, k++, "serious", "Serious", 0, 1);
	tcol(t, k++, "relationship", "Rel", 0, 0);
	tcol(t, k++, "action", "Action", 0, 0);
	tcol(t, k++, "outcome", "Outcome", 0, 0);
	tcol(t, k++, "teae", "TE", 0, 0);
	for (i = 0; i < c->nae; i++) {
		const struct sae *a = &c->ae[i];
		const struct ssubj *s = &c->subj[a->subj];
		struct sr_cell *row;

		if ((which == 'S' && a->serious != 'Y') ||
		    (which == 'W' && a->withdrawn != 'Y'))
			continue;
		if (!(row = trow(c, t)))
			return c->err->code;
		k = 0;
		ctext(&row[k++], s->site);
		ctext(&row[k++], s->subject);
		if (arm)
			ctext(&row[k++], s->arm ? s->arm : "?");
		cint(&row[k++], (long)a->inst);
		ctext(&row[k++], a->term);
		ctext(&row[k++], a->onset);
		ctext(&row[k++], a->day);
		ctext(&row[k++], a->end);
		ctext(&row[k++], a->grade);
		ctext(&row[k++], a->sev);
		ctext(&row[k++], a->crit_text);
		ctext(&row[k++], a->rel);
		ctext(&row[k++], a->action);
		ctext(&row[k++], a->outcome);
		ctext(&row[k++], a->te ? "Y" : "N");
	}
	return 0;
}

static int tbl_deaths(struct calc *c)
{
	const int arm = c->r->closed;
	struct sr_table *t;
	struct cb_buf cause;
	size_t i, j, k;
	int rc = 0;

	t = tnew(c, "deaths", "Deaths",
		 "Subjects whose end of study says they died, or with an AE "
		 "the protocol counts as fatal. Date: the end of study date, "
		 "else the fatal AE's end or onset.",
		 6 + (size_t)arm, 2 + (size_t)arm);
	if (!t)
		return c->err->code;
	k = 0;
	tcol(t, k++, "site", "Site", 0, 0);
	tcol(t, k++, "subject", "Subject", 0, 0);
	if (arm)
		tcol(t, k++, "arm", "Arm", 0, 0);
	tcol(t, k++, "date", "Date", 0, 0);
	tcol(t, k++, "day", "Day", 1, 0);
	tcol(t, k++, "cause", "Fatal AEs", 0, 1);
	tcol(t, k++, "source", "Recorded in", 0, 0);
	cb_buf_init(&cause, 1u << 20);
	for (i = 0; !rc && i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		const struct sae *fatal = NULL;
		const char *date, *day = NULL;
		struct sr_cell *row;
		char dbuf[CB_STUDY_DAY_BUF];

		cb_buf_reset(&cause);
		for (j = 0; !rc && j < s->nae; j++) {
			const struct sae *a = &c->ae[s->ae0 + j];

			if (a->death != 'Y')
				continue;
			if (!fatal)
				fatal = a;
			rc = cb_buf_printf(&cause, c->err, "%s#%u %s",
					   cb_buf_len(&cause) ? "; " : "",
					   a->inst, a->term ? a->term : "");
		}
		if (rc || (s->state != CB_LC_DIED && !fatal))
			continue;
		if (!(row = trow(c, t))) {
			rc = c->err->code;
			break;
		}
		date = s->state == CB_LC_DIED && s->ended[0] ? s->ended
		       : fatal && fatal->end && strcmp(fatal->end, "ongoing")
			   ? fatal->end
		       : fatal ? fatal->onset
			       : NULL;
		if (date && cb_study_day(date, s->dose, dbuf))
			day = cb_sr_strdup(c->r, dbuf);
		k = 0;
		ctext(&row[k++], s->site);
		ctext(&row[k++], s->subject);
		if (arm)
			ctext(&row[k++], s->arm ? s->arm : "?");
		ctext(&row[k++], date);
		ctext(&row[k++], day);
		ctext(&row[k++], cb_buf_len(&cause)
				     ? cb_sr_strdup(c->r, cb_buf_str(&cause))
				     : NULL);
		ctext(&row[k++],
		      s->state == CB_LC_DIED
			  ? (fatal ? "end of study, AE" : "end of study")
			  : "AE");
	}
	cb_buf_free(&cause);
	return rc;
}

static int tbl_codebreaks(struct calc *c)
{
	const int arm = c->r->closed;
	struct sr_table *t;
	size_t i, k;

	t = tnew(c, "codebreaks", "Emergency code-breaks",
		 "The first code-break of each subject (who, when, why) and "
		 "how many were recorded.",
		 6 + (size_t)arm, 2 + (size_t)arm);
	if (!t)
		return c->err->code;
	k = 0;
	tcol(t, k++, "site", "Site", 0, 0);
	tcol(t, k++, "subject", "Subject", 0, 0);
	if (arm)
		tcol(t, k++, "arm", "Arm", 0, 0);
	tcol(t, k++, "by", "By", 0, 0);
	tcol(t, k++, "when", "When (UTC)", 0, 0);
	tcol(t, k++, "reason", "Reason", 0, 1);
	tcol(t, k++, "count", "Times", 1, 0);
	for (i = 0; i < c->nsubj; i++) {
		const struct ssubj *s = &c->subj[i];
		struct sr_cell *row;

		if (!s->nunblind)
			continue;
		if (!(row = trow(c, t)))
			return c->err->code;
		k = 0;
		ctext(&row[k++], s->site);
		ctext(&row[k++], s->subject);
		if (arm)
			ctext(&row[k++], s->arm ? s->arm : "?");
		ctext(&row[k++], s->cb_user);
		ctext(&row[k++], s->cb_when);
		ctext(&row[k++], s->cb_reason);
		cint(&row[k++], (long)s->nunblind);
	}
	return 0;
}

/* Sites in code order, the summary columns, each subject's column. */
static int groups(struct calc *c)
{
	struct cb_safety *r = c->r;
	const struct cb_protocol *p = c->p;
	size_t *map, i, k, ng;

	r->nsites = c->nsites;
	r->sites = cb_sr_alloc(r, (c->nsites + 1) * sizeof(*r->sites));
	map = malloc((c->nsites + 1) * sizeof(*map));
	if (!r->sites || !map) {
		free(map);
		return NOMEM(c);
	}
	{
		const char **sorted =
		    cb_sr_alloc(r, (c->nsites + 1) * sizeof(*sorted));

		if (!sorted) {
			free(map);
			return NOMEM(c);
		}
		memcpy(sorted, c->sites, c->nsites * sizeof(*sorted));
		qsort(sorted, c->nsites, sizeof(*sorted), str_cmp);
		for (i = 0; i < c->nsites; i++) {
			r->sites[i].id = sorted[i];
			r->sites[i].label = sorted[i];
			for (k = 0; k < c->nsites; k++)
				if (c->sites[k] == sorted[i])
					map[k] = i;
		}
	}
	for (i = 0; i < c->nsubj; i++)
		c->subj[i].site_i = map[c->subj[i].site_i];
	free(map);

	if (!r->closed) {
		ng = r->nsites + 1;
		r->groups = cb_sr_alloc(r, ng * sizeof(*r->groups));
		if (!r->groups)
			return NOMEM(c);
		for (i = 0; i < r->nsites; i++)
			r->groups[i] = r->sites[i];
		for (i = 0; i < c->nsubj; i++)
			c->subj[i].group_i = c->subj[i].site_i;
	} else {
		for (i = 0; i < c->nsubj; i++)
			if ((c->subj[i].rand || c->subj[i].dosed) &&
			    !c->subj[i].arm)
				c->unknown_arm = 1;
		ng = p->narms + (size_t)c->unknown_arm + 1;
		r->groups = cb_sr_alloc(r, ng * sizeof(*r->groups));
		if (!r->groups)
			return NOMEM(c);
		for (i = 0; i < p->narms; i++) {
			r->groups[i].id = p->arms[i].code;
			r->groups[i].label = p->arms[i].code;
		}
		if (c->unknown_arm) {
			r->groups[p->narms].id = "unknown";
			r->groups[p->narms].label = "Arm not known";
		}
		for (i = 0; i < c->nsubj; i++) {
			struct ssubj *s = &c->subj[i];

			s->group_i = p->narms;
			for (k = 0; s->arm && k < p->narms; k++)
				if (!strcmp(s->arm, p->arms[k].code))
					s->group_i = k;
		}
	}
	r->groups[ng - 1].id = "total";
	r->groups[ng - 1].label = "Total";
	r->ngroups = ng;
	for (i = 0; i < c->nsubj; i++)
		if (c->subj[i].dosed) {
			r->groups[c->subj[i].group_i].N++;
			r->groups[ng - 1].N++;
		}
	/* A closed report's subjects never randomized have no column:
	 * they are in no summary (never dosed) and no arm row. */
	return 0;
}

/*
 * The forms the report reads, for the feed's hint (feed.h): the safety
 * form and the form of the first dose, as visit, form pairs in byte
 * order, ending with NULL, in `f` (room for 5).
 */
static const char *const *needed_forms(const struct cb_protocol *p,
				       const char **f)
{
	const char *a[2] = {p->safety_form->visits[0]->code,
			    p->safety_form->code};
	const char *b[2] = {NULL, NULL};
	int swap;

	if (p->first_dose.item) {
		b[0] = p->first_dose.visit->code;
		b[1] = p->first_dose.form->code;
	}
	if (!b[0] || (!strcmp(a[0], b[0]) && !strcmp(a[1], b[1]))) {
		f[0] = a[0];
		f[1] = a[1];
		f[2] = NULL;
		return f;
	}
	swap = strcmp(b[0], a[0]) < 0 ||
	       (!strcmp(b[0], a[0]) && strcmp(b[1], a[1]) < 0);
	f[0] = swap ? b[0] : a[0];
	f[1] = swap ? b[1] : a[1];
	f[2] = swap ? a[0] : b[0];
	f[3] = swap ? a[1] : b[1];
	f[4] = NULL;
	return f;
}

int cb_safety_compute(const struct cb_protocol *p, const struct cb_feed *feed,
		      const struct cb_safety_opts *o, struct cb_safety **out,
		      struct cb_err *err)
{
	const char *forms[5];
	struct cb_feed_opts fo;
	struct cb_safety *r;
	struct calc c;
	int rc;

	*out = NULL;
	/* Errors are told by err->code below, so it starts clear. */
	cb_err_clear(err);
	if (!p->safety_form || !p->safety_form->nvisits)
		return cb_err_set(err, CB_EINVAL,
				  "the protocol has no safety section: there "
				  "is no safety report to make");
	if (!o->asof)
		return cb_err_set(err, CB_EINVAL, "bad report options");
	r = calloc(1, sizeof(*r));
	if (!r)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	r->tables = calloc(TABLES_MAX, sizeof(*r->tables));
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.p = p;
	c.o = o;
	c.err = err;
	c.ae_visit = p->safety_form->visits[0];
	cb_fview_init(&c.view);
	r->p = p;
	r->closed = o->arms != NULL;
	r->cutoff_given = o->cutoff != NULL;
	r->site = o->site ? cb_sr_strdup(r, o->site) : NULL;
	r->asof = cb_sr_strdup(r, o->asof);
	r->source = cb_sr_strdup(r, o->source ? o->source : "casebook");
	if (!r->tables || !r->asof || !r->source) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	rc = levels_init(&c, &c.grade, p->safety_items[CB_SAFETY_GRADE],
			 "Grade");
	if (!rc)
		rc =
		    levels_init(&c, &c.sev, p->safety_items[CB_SAFETY_SEVERITY],
				"Severity");
	if (!rc)
		rc = levels_init(&c, &c.rel,
				 p->safety_items[CB_SAFETY_RELATIONSHIP],
				 "Relationship");
	if (rc)
		goto out;
	memset(&fo, 0, sizeof(fo));
	fo.site = o->site;
	fo.cutoff = o->cutoff;
	fo.forms = needed_forms(p, forms);
	rc = feed->each(feed->ctx, &fo, on_subject, &c, err);
	if (rc && !err->code)
		cb_err_set(err, rc, "the report stopped");
	if (!rc && o->cutoff && !c.nsubj)
		rc =
		    cb_err_set(err, CB_ENOTFOUND,
			       "nothing had been received by the cut-off %s%s%s"
			       ": it is before the first event",
			       o->cutoff, o->site ? " at site " : "",
			       o->site ? o->site : "");
	if (rc)
		goto out;
	levels_sort(&c.grade);
	levels_sort(&c.sev);
	levels_sort(&c.rel);
	r->nsubjects = c.nsubj;
	r->naes = c.nae;
	for (size_t i = 0; i < c.nsubj; i++)
		r->ndosed += (size_t)c.subj[i].dosed;
	rc = groups(&c);
	if (!rc)
		rc = months(&c);
	if (!rc)
		rc = tbl_enrollment(&c);
	if (!rc && r->closed)
		rc = tbl_enrollment_arm(&c);
	if (!rc)
		rc = tbl_enrollment_time(&c);
	if (!rc)
		rc = tbl_exposure(&c);
	if (!rc)
		rc = summaries(&c);
	if (!rc)
		rc = ae_listing(&c, "ae_listing", "Adverse events",
				"Every AE recorded, pre-treatment ones "
				"included. Day: study day of onset (day 1 = "
				"first dose, no day 0; none for a partial "
				"date). TE: treatment-emergent. Serious: Y "
				"with the criteria met.",
				'A');
	if (!rc)
		rc = ae_listing(&c, "sae_listing", "Serious adverse events",
				"Every AE the protocol counts as serious, with "
				"its seriousness criteria.",
				'S');
	if (!rc)
		rc = tbl_deaths(&c);
	if (!rc)
		rc = ae_listing(&c, "ae_withdrawal",
				"Adverse events leading to withdrawal",
				"Every AE whose action taken the protocol "
				"counts as discontinuation.",
				'W');
	if (!rc)
		rc = tbl_codebreaks(&c);
out:
	levels_free(&c.grade);
	levels_free(&c.sev);
	levels_free(&c.rel);
	free(c.subj);
	free(c.ae);
	free(c.sites);
	cb_fview_release(&c.view);
	if (rc) {
		cb_safety_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
