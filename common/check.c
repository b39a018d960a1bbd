/*
 * check.c - the edit-check engine described in check.h: value sources,
 * three-valued evaluation of protocol conditions, declared edit checks,
 * form completeness, eligibility and derived scores.
 *
 * Evaluation carries one struct eval: the protocol, the source, the form
 * instance being checked (which "ITEM" and "FORM.ITEM" references resolve
 * against) and a sticky error. A source error is recorded there and turns
 * every later lookup into "missing", so the evaluators stay simple
 * functions of truth values; the public entry points check it at the end.
 */
#include "check.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "date.h"

/* ------------------------------------------------------------------ */
/* In-memory values.                                                   */

void cb_check_values_init(struct cb_check_values *v)
{
	memset(v, 0, sizeof(*v));
}

static void value_free(struct cb_check_value *e)
{
	free(e->visit);
	free(e->form);
	free(e->item);
	free(e->value);
}

void cb_check_values_release(struct cb_check_values *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->count; i++)
		value_free(&v->list[i]);
	free(v->list);
	cb_check_values_init(v);
}

static int key_cmp(const struct cb_check_value *e, const char *visit,
		   const char *form, unsigned instance, const char *item)
{
	int c = strcmp(e->visit, visit);

	if (c)
		return c;
	c = strcmp(e->form, form);
	if (c)
		return c;
	if (e->instance != instance)
		return e->instance < instance ? -1 : 1;
	return strcmp(e->item, item);
}

/* Index of the key, or of where it would go, with *found set. */
static size_t values_find(const struct cb_check_values *v, const char *visit,
			  const char *form, unsigned instance, const char *item,
			  int *found)
{
	size_t lo = 0, hi = v->count;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&v->list[mid], visit, form, instance, item);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *cb_check_values_get(const struct cb_check_values *v,
				const char *visit, const char *form,
				unsigned instance, const char *item)
{
	int found;
	size_t i;

	if (!v || !visit || !form || !item)
		return NULL;
	i = values_find(v, visit, form, instance, item, &found);
	return found ? v->list[i].value : NULL;
}

int cb_check_values_set(struct cb_check_values *v, const char *visit,
			const char *form, unsigned instance, const char *item,
			const char *value, struct cb_err *err)
{
	struct cb_check_value e;
	char *copy;
	int found;
	size_t i;

	if (!visit || !*visit || !form || !*form || !item || !*item)
		return cb_err_set(err, CB_EINVAL,
				  "a value needs a visit, form and item code");
	if (value && !*value)
		return cb_err_set(err, CB_EINVAL,
				  "%s.%s.%s: an empty value; a missing value "
				  "is NULL",
				  visit, form, item);
	i = values_find(v, visit, form, instance, item, &found);
	if (found) {
		if (!value) {
			value_free(&v->list[i]);
			memmove(&v->list[i], &v->list[i + 1],
				(v->count - i - 1) * sizeof(v->list[0]));
			v->count--;
			return 0;
		}
		copy = strdup(value);
		if (!copy)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		free(v->list[i].value);
		v->list[i].value = copy;
		return 0;
	}
	if (!value)
		return 0;
	if (v->count >= CB_CHECK_VALUES_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "more than %u values for one subject",
				  CB_CHECK_VALUES_MAX);
	if (cb_array_grow((void **)&v->list, &v->cap_, v->count + 1,
			  sizeof(*v->list), CB_CHECK_VALUES_MAX, "values", err))
		return err->code;
	e.visit = strdup(visit);
	e.form = strdup(form);
	e.instance = instance;
	e.item = strdup(item);
	e.value = strdup(value);
	if (!e.visit || !e.form || !e.item || !e.value) {
		value_free(&e);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	memmove(&v->list[i + 1], &v->list[i],
		(v->count - i) * sizeof(v->list[0]));
	v->list[i] = e;
	v->count++;
	return 0;
}

/* Copy [s, s+n) into buf (size CB_PROTOCOL_CODE_MAX + 1); 0 if it fits. */
static int take_code(const char *s, size_t n, char *buf)
{
	if (n == 0 || n > CB_PROTOCOL_CODE_MAX)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int cb_check_values_parse(struct cb_check_values *v, const char *text,
			  struct cb_err *err)
{
	char visit[CB_PROTOCOL_CODE_MAX + 1], form[CB_PROTOCOL_CODE_MAX + 1];
	char item[CB_PROTOCOL_CODE_MAX + 1];
	const char *eq, *d1, *d2, *hash;
	unsigned long instance = 0;

	eq = text ? strchr(text, '=') : NULL;
	d1 = eq ? memchr(text, '.', (size_t)(eq - text)) : NULL;
	d2 = d1 ? memchr(d1 + 1, '.', (size_t)(eq - d1 - 1)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', (size_t)(eq - d2 - 1)))
		goto bad;
	hash = memchr(d1 + 1, '#', (size_t)(d2 - d1 - 1));
	if (take_code(text, (size_t)(d1 - text), visit) ||
	    take_code(d1 + 1, (size_t)((hash ? hash : d2) - d1 - 1), form) ||
	    take_code(d2 + 1, (size_t)(eq - d2 - 1), item))
		goto bad;
	if (hash) {
		char *end;

		if (hash + 1 == d2 || hash[1] < '1' || hash[1] > '9')
			goto bad;
		errno = 0;
		instance = strtoul(hash + 1, &end, 10);
		if (end != d2 || errno || instance > CB_PROTOCOL_REPEAT_MAX)
			goto bad;
	}
	return cb_check_values_set(v, visit, form, (unsigned)instance, item,
				   eq[1] ? eq + 1 : NULL, err);
bad:
	return cb_err_set(err, CB_EINVAL,
			  "'%s' is not VISIT.FORM.ITEM=VALUE or "
			  "VISIT.FORM#N.ITEM=VALUE",
			  text ? text : "(null)");
}

static int values_source_get(void *ctx, const char *visit, const char *form,
			     unsigned instance, const char *item,
			     const char **value, struct cb_err *err)
{
	(void)err;
	*value = cb_check_values_get(ctx, visit, form, instance, item);
	return 0;
}

static int values_last_instance(void *ctx, const char *visit, const char *form,
				unsigned *last, struct cb_err *err)
{
	const struct cb_check_values *v = ctx;
	size_t i;

	(void)err;
	*last = 0;
	for (i = 0; i < v->count; i++)
		if (v->list[i].instance > *last &&
		    !strcmp(v->list[i].visit, visit) &&
		    !strcmp(v->list[i].form, form))
			*last = v->list[i].instance;
	return 0;
}

struct cb_check_source cb_check_values_source(struct cb_check_values *v)
{
	struct cb_check_source s;

	s.get = values_source_get;
	s.ctx = v;
	s.last_instance = values_last_instance;
	return s;
}

static int overlay_get(void *ctx, const char *visit, const char *form,
		       unsigned instance, const char *item, const char **value,
		       struct cb_err *err)
{
	const struct cb_check_overlay *o = ctx;
	size_t i;

	if (instance == o->instance && !strcmp(visit, o->visit) &&
	    !strcmp(form, o->form))
		for (i = o->nchanges; i-- > 0;)
			if (!strcmp(o->changes[i].item, item)) {
				*value = o->changes[i].value;
				return 0;
			}
	if (!o->base) {
		*value = NULL;
		return 0;
	}
	return o->base->get(o->base->ctx, visit, form, instance, item, value,
			    err);
}

static int overlay_last_instance(void *ctx, const char *visit, const char *form,
				 unsigned *last, struct cb_err *err)
{
	const struct cb_check_overlay *o = ctx;
	int rc = 0;

	*last = 0;
	if (o->base && o->base->last_instance)
		rc = o->base->last_instance(o->base->ctx, visit, form, last,
					    err);
	/* The saved instance may be new: count it too. */
	if (!rc && o->instance > *last && o->nchanges &&
	    !strcmp(visit, o->visit) && !strcmp(form, o->form))
		*last = o->instance;
	return rc;
}

struct cb_check_source cb_check_overlay_source(struct cb_check_overlay *o)
{
	struct cb_check_source s;

	s.get = overlay_get;
	s.ctx = o;
	s.last_instance = overlay_last_instance;
	return s;
}

/* ------------------------------------------------------------------ */
/* Result and item lists.                                              */

void cb_check_results_init(struct cb_check_results *r)
{
	memset(r, 0, sizeof(*r));
}

void cb_check_results_release(struct cb_check_results *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->count; i++)
		free(r->list[i].message);
	free(r->list);
	cb_check_results_init(r);
}

void cb_check_items_init(struct cb_check_items *l)
{
	memset(l, 0, sizeof(*l));
}

void cb_check_items_release(struct cb_check_items *l)
{
	if (!l)
		return;
	free(l->list);
	cb_check_items_init(l);
}

/* Append (visit, item) unless already listed. */
static int items_add(struct cb_check_items *l,
		     const struct cb_protocol_visit *visit,
		     const struct cb_protocol_item *item, struct cb_err *err)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (l->list[i].visit == visit && l->list[i].item == item)
			return 0;
	if (cb_array_grow((void **)&l->list, &l->cap_, l->count + 1,
			  sizeof(*l->list), SIZE_MAX / sizeof(*l->list),
			  "item references", err))
		return err->code;
	l->list[l->count].visit = visit;
	l->list[l->count].item = item;
	l->count++;
	return 0;
}

const char *cb_form_status_name(enum cb_form_status s)
{
	switch (s) {
	case CB_FORM_EMPTY:
		return "empty";
	case CB_FORM_PARTIAL:
		return "partial";
	case CB_FORM_COMPLETE:
		return "complete";
	}
	return "?";
}

const char *cb_elig_status_name(enum cb_elig_status s)
{
	switch (s) {
	case CB_ELIG_INCOMPLETE:
		return "incomplete";
	case CB_ELIG_NO:
		return "not eligible";
	case CB_ELIG_YES:
		return "eligible";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Evaluation context and value lookup.                                */

enum truth { T_FALSE = 0, T_TRUE = 1, T_MAYBE = 2 };

struct eval {
	const struct cb_protocol *p;
	const struct cb_check_source *src;
	const struct cb_protocol_visit *visit; /* the checked instance */
	const struct cb_protocol_form *form;
	unsigned instance;
	int rc; /* first source error; lookups return NULL after it */
	struct cb_err *err;
	/* When not NULL, every item read without a value is added here. */
	struct cb_check_items *missing;
	int saw_missing; /* an item read had no value */
	/*
	 * Treat a missing operand as unknown (T_MAYBE) instead of the
	 * protocol's rules, to ask "does this fail whatever the missing
	 * items turn out to be?".
	 */
	int missing_unknown;
	int has_today; /* today is set: not_future checks run */
	struct cb_date today;
	/* The instance is not the saved one: a related check runs here. */
	int elsewhere;
};

static void eval_init(struct eval *ev, const struct cb_protocol *p,
		      const struct cb_check_source *src,
		      const struct cb_protocol_visit *visit,
		      const struct cb_protocol_form *form, unsigned instance,
		      struct cb_err *err)
{
	memset(ev, 0, sizeof(*ev));
	ev->p = p;
	ev->src = src;
	ev->visit = visit;
	ev->form = form;
	ev->instance = instance;
	ev->err = err;
}

/*
 * The value of `item` at `visit` (NULL: the checked visit). The checked
 * form at the checked visit is read at the checked instance; any other
 * form is not repeating (the loader guarantees it), so instance 0.
 */
static const char *get_item(struct eval *ev,
			    const struct cb_protocol_visit *visit,
			    const struct cb_protocol_item *item)
{
	const struct cb_protocol_form *form;
	const char *value = NULL;
	unsigned instance = 0;
	int rc;

	if (ev->rc || !item)
		return NULL;
	if (!visit)
		visit = ev->visit;
	form = item->form;
	if (form == ev->form && visit == ev->visit)
		instance = ev->instance;
	rc = ev->src->get(ev->src->ctx, visit->code, form->code, instance,
			  item->code, &value, ev->err);
	if (rc) {
		ev->rc = rc;
		return NULL;
	}
	if (value && !*value)
		value = NULL;
	if (!value) {
		ev->saw_missing = 1;
		if (ev->missing && items_add(ev->missing, visit, item, ev->err))
			ev->rc = CB_ENOMEM;
	}
	return value;
}

static const char *get_ref(struct eval *ev, const struct cb_protocol_ref *ref)
{
	return get_item(ev, ref->visit, ref->item);
}

/* ------------------------------------------------------------------ */
/* Comparing two values.                                               */

static int is_numeric(enum cb_item_type t)
{
	return t == CB_ITEM_INTEGER || t == CB_ITEM_DECIMAL;
}

static int is_datelike(enum cb_item_type t)
{
	return t == CB_ITEM_DATE || t == CB_ITEM_PARTIAL_DATE ||
	       t == CB_ITEM_DATETIME;
}

static int parse_number(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno || !isfinite(*out))
		return -1;
	return 0;
}

/* A date or date-time; *is_dt says which. */
static int parse_datelike(const char *s, struct cb_datetime *dt, int *is_dt)
{
	memset(dt, 0, sizeof(*dt));
	*is_dt = strchr(s, 'T') != NULL;
	if (*is_dt)
		return cb_datetime_parse(s, dt, NULL);
	return cb_date_parse(s, &dt->date, NULL);
}

static enum truth from_date_truth(enum cb_date_truth t)
{
	return t == CB_DATE_TRUE    ? T_TRUE
	       : t == CB_DATE_FALSE ? T_FALSE
				    : T_MAYBE;
}

/* Whether `op` holds given the order of a against b. */
static enum truth from_order(enum cb_date_order o, enum cb_date_op op)
{
	if (o == CB_DATE_UNKNOWN)
		return T_MAYBE;
	switch (op) {
	case CB_DATE_LT:
		return o == CB_DATE_BEFORE ? T_TRUE : T_FALSE;
	case CB_DATE_LE:
		return o != CB_DATE_AFTER ? T_TRUE : T_FALSE;
	case CB_DATE_EQ:
		return o == CB_DATE_SAME ? T_TRUE : T_FALSE;
	case CB_DATE_NE:
		return o != CB_DATE_SAME ? T_TRUE : T_FALSE;
	case CB_DATE_GE:
		return o != CB_DATE_BEFORE ? T_TRUE : T_FALSE;
	case CB_DATE_GT:
		return o == CB_DATE_AFTER ? T_TRUE : T_FALSE;
	}
	return T_MAYBE;
}

static enum truth compare_dates(const char *a, enum cb_date_op op,
				const char *b)
{
	struct cb_datetime da, db;
	int adt, bdt;

	if (parse_datelike(a, &da, &adt) || parse_datelike(b, &db, &bdt))
		return T_MAYBE;
	if (adt && bdt)
		return from_order(cb_datetime_compare(&da, &db), op);
	/* A date-time against a date compares by its date part. */
	return from_date_truth(cb_date_holds(&da.date, op, &db.date));
}

/*
 * Does "a op b" hold, a being a value of an item of type `type` and b a
 * value of a compatible item or a constant validated against it? Only
 * the six relations; values that cannot be parsed give T_MAYBE.
 */
static enum truth compare_values(enum cb_item_type type, const char *a,
				 enum cb_cmp_op op, const char *b)
{
	enum cb_date_op dop;

	switch (op) {
	case CB_CMP_EQ:
		dop = CB_DATE_EQ;
		break;
	case CB_CMP_NE:
		dop = CB_DATE_NE;
		break;
	case CB_CMP_LT:
		dop = CB_DATE_LT;
		break;
	case CB_CMP_LE:
		dop = CB_DATE_LE;
		break;
	case CB_CMP_GT:
		dop = CB_DATE_GT;
		break;
	case CB_CMP_GE:
		dop = CB_DATE_GE;
		break;
	default:
		return T_MAYBE;
	}
	if (is_numeric(type)) {
		double x, y;
		int r;

		if (parse_number(a, &x) || parse_number(b, &y))
			return T_MAYBE;
		switch (dop) {
		case CB_DATE_LT:
			r = x < y;
			break;
		case CB_DATE_LE:
			r = x <= y;
			break;
		case CB_DATE_EQ:
			r = x == y;
			break;
		case CB_DATE_NE:
			r = x != y;
			break;
		case CB_DATE_GE:
			r = x >= y;
			break;
		default:
			r = x > y;
			break;
		}
		return r ? T_TRUE : T_FALSE;
	}
	if (is_datelike(type))
		return compare_dates(a, dop, b);
	/* Codes, booleans and text: equality of the stored text only. */
	if (dop == CB_DATE_EQ)
		return strcmp(a, b) == 0 ? T_TRUE : T_FALSE;
	if (dop == CB_DATE_NE)
		return strcmp(a, b) != 0 ? T_TRUE : T_FALSE;
	return T_MAYBE;
}

static enum truth t_not(enum truth t)
{
	return t == T_TRUE ? T_FALSE : t == T_FALSE ? T_TRUE : T_MAYBE;
}

/* ------------------------------------------------------------------ */
/* Conditions.                                                         */

/*
 * A CB_COND_COMPARE. `left_item` replaces c->left.item when that is NULL
 * (the "*" of a COMPARE check), read at the checked visit. In a COMPARE
 * check (`in_check`), a missing operand makes the comparison pass.
 */
static enum truth eval_compare(struct eval *ev,
			       const struct cb_protocol_cond *c,
			       const struct cb_protocol_item *left_item,
			       int in_check)
{
	const struct cb_protocol_item *litem;
	const char *lv, *rv;
	enum truth t, any;
	size_t i;

	litem = c->left.item ? c->left.item : left_item;
	if (!litem)
		return T_MAYBE;
	lv = c->left.item ? get_ref(ev, &c->left) : get_item(ev, NULL, litem);
	rv = c->has_other ? get_ref(ev, &c->other) : NULL;
	if (ev->missing_unknown && (!lv || (c->has_other && !rv)))
		return T_MAYBE;
	if (c->op == CB_CMP_PRESENT)
		return lv ? T_TRUE : T_FALSE;
	if (c->op == CB_CMP_ABSENT)
		return lv ? T_FALSE : T_TRUE;

	if (c->has_other) {
		if (!lv || !rv)
			return in_check ? T_TRUE : T_FALSE;
		if (c->op == CB_CMP_IN || c->op == CB_CMP_NOT_IN)
			return T_MAYBE; /* the loader allows no such thing */
		return compare_values(litem->type, lv, c->op, rv);
	}

	if (!lv) {
		if (in_check || c->op == CB_CMP_NE || c->op == CB_CMP_NOT_IN)
			return T_TRUE;
		return T_FALSE;
	}
	if (c->op == CB_CMP_IN || c->op == CB_CMP_NOT_IN) {
		any = T_FALSE;
		for (i = 0; i < c->nvalues; i++) {
			t = compare_values(litem->type, lv, CB_CMP_EQ,
					   c->values[i].text);
			if (t == T_TRUE) {
				any = T_TRUE;
				break;
			}
			if (t == T_MAYBE)
				any = T_MAYBE;
		}
		return c->op == CB_CMP_IN ? any : t_not(any);
	}
	if (c->nvalues < 1)
		return T_MAYBE;
	return compare_values(litem->type, lv, c->op, c->values[0].text);
}

/* Kleene logic; nesting beyond the loader's cap is undecidable here. */
static enum truth eval_cond_depth(struct eval *ev,
				  const struct cb_protocol_cond *c, int depth)
{
	enum truth acc, t;
	size_t i;

	if (!c || depth > CB_PROTOCOL_COND_DEPTH + 1)
		return T_MAYBE;
	switch (c->kind) {
	case CB_COND_COMPARE:
		return eval_compare(ev, c, NULL, 0);
	case CB_COND_ALL:
		acc = T_TRUE;
		for (i = 0; i < c->nsub; i++) {
			t = eval_cond_depth(ev, &c->sub[i], depth + 1);
			if (t == T_FALSE)
				acc = T_FALSE;
			else if (t == T_MAYBE && acc == T_TRUE)
				acc = T_MAYBE;
		}
		return acc;
	case CB_COND_ANY:
		acc = T_FALSE;
		for (i = 0; i < c->nsub; i++) {
			t = eval_cond_depth(ev, &c->sub[i], depth + 1);
			if (t == T_TRUE)
				acc = T_TRUE;
			else if (t == T_MAYBE && acc == T_FALSE)
				acc = T_MAYBE;
		}
		return acc;
	case CB_COND_NOT:
		if (c->nsub != 1)
			return T_MAYBE;
		return t_not(eval_cond_depth(ev, &c->sub[0], depth + 1));
	}
	return T_MAYBE;
}

/*
 * Every sub-condition is evaluated, never short-circuited, so that the
 * items a condition reads are all looked up (eligibility lists them).
 */
static enum truth eval_cond(struct eval *ev, const struct cb_protocol_cond *c)
{
	return eval_cond_depth(ev, c, 0);
}

int cb_check_condition(const struct cb_protocol *p,
		       const struct cb_check_source *src,
		       const struct cb_protocol_visit *visit,
		       const struct cb_protocol_form *form, unsigned instance,
		       const struct cb_protocol_cond *c,
		       enum cb_check_truth *out, struct cb_err *err)
{
	struct eval ev;
	enum truth t;

	eval_init(&ev, p, src, visit, form, instance, err);
	t = eval_cond(&ev, c);
	if (ev.rc)
		return ev.rc;
	*out = t == T_TRUE    ? CB_CHECK_TRUE
	       : t == T_FALSE ? CB_CHECK_FALSE
			      : CB_CHECK_MAYBE;
	return 0;
}

/* A check applies when it has no `when` or its `when` certainly holds. */
static int check_applies(struct eval *ev, const struct cb_protocol_check *ck)
{
	return !ck->when || eval_cond(ev, ck->when) == T_TRUE;
}

/* ------------------------------------------------------------------ */
/* Edit checks.                                                        */

static void item_path(const struct eval *ev,
		      const struct cb_protocol_item *item,
		      char out[CB_CHECK_PATH_SIZE])
{
	const struct cb_protocol_form *form = item ? item->form : ev->form;
	char where[CB_PROTOCOL_CODE_MAX + 2] = "", inst[16] = "";

	/* Elsewhere: name the visit and instance, since the person saved
	 * another form. */
	if (ev->elsewhere) {
		snprintf(where, sizeof(where), "%s.", ev->visit->code);
		if (form == ev->form && ev->instance)
			snprintf(inst, sizeof(inst), "#%u", ev->instance);
	}
	if (item)
		snprintf(out, CB_CHECK_PATH_SIZE, "%s%s%s.%s", where,
			 form->code, inst, item->code);
	else
		snprintf(out, CB_CHECK_PATH_SIZE, "%s%s%s", where, form->code,
			 inst);
}

static int add_result(struct eval *ev, struct cb_check_results *res,
		      const char *id, enum cb_check_severity sev,
		      const struct cb_protocol_check *ck,
		      const struct cb_protocol_item *item, const char *message)
{
	struct cb_check_result *r;

	if (sev == CB_SEVERITY_HARD)
		res->nhard++;
	else
		res->nsoft++;
	if (res->count >= CB_CHECK_RESULTS_MAX) {
		res->dropped++;
		return 0;
	}
	if (cb_array_grow((void **)&res->list, &res->cap_, res->count + 1,
			  sizeof(*res->list), CB_CHECK_RESULTS_MAX, "results",
			  ev->err))
		return ev->err->code;
	r = &res->list[res->count];
	memset(r, 0, sizeof(*r));
	r->message = strdup(message ? message : "");
	if (!r->message)
		return cb_err_set(ev->err, CB_ENOMEM, "out of memory");
	r->id = id;
	r->severity = sev;
	r->check = ck;
	r->item = item;
	r->visit = ev->visit;
	r->form = ev->form;
	r->instance = ev->instance;
	r->elsewhere = ev->elsewhere;
	item_path(ev, item, r->path);
	res->count++;
	return 0;
}

static int fail(struct eval *ev, struct cb_check_results *res,
		const struct cb_protocol_check *ck,
		const struct cb_protocol_item *item)
{
	return add_result(ev, res, ck->id, ck->severity, ck, item, ck->message);
}

/* The first item of the checked form a condition reads, or NULL. */
static const struct cb_protocol_item *
cond_item(const struct eval *ev, const struct cb_protocol_cond *c, int depth)
{
	const struct cb_protocol_item *it;
	size_t i;

	if (!c || depth > CB_PROTOCOL_COND_DEPTH + 1)
		return NULL;
	if (c->kind == CB_COND_COMPARE) {
		if (c->left.item && c->left.item->form == ev->form &&
		    (!c->left.visit || c->left.visit == ev->visit))
			return c->left.item;
		if (c->has_other && c->other.item &&
		    c->other.item->form == ev->form &&
		    (!c->other.visit || c->other.visit == ev->visit))
			return c->other.item;
		return NULL;
	}
	for (i = 0; i < c->nsub; i++) {
		it = cond_item(ev, &c->sub[i], depth + 1);
		if (it)
			return it;
	}
	return NULL;
}

/* The item a failure of `ck` is reported on. */
static const struct cb_protocol_item *
check_item(const struct eval *ev, const struct cb_protocol_check *ck)
{
	const struct cb_protocol_item *it = ck->item;

	if (it)
		return it;
	if (ck->type == CB_CHECK_AT_LEAST_ONE && ck->nitems > 0)
		return ck->items[0];
	it = cond_item(ev, ck->test, 0);
	return it ? it : cond_item(ev, ck->when, 0);
}

/* The type class a "*" COMPARE compares against. */
enum cmp_class { CLASS_NUMBER, CLASS_DATE, CLASS_TEXT };

static enum cmp_class type_class(enum cb_item_type t)
{
	if (is_numeric(t))
		return CLASS_NUMBER;
	if (is_datelike(t))
		return CLASS_DATE;
	return CLASS_TEXT;
}

static enum cmp_class constant_class(const char *text)
{
	struct cb_datetime dt;
	double x;
	int is_dt;

	if (!text)
		return CLASS_TEXT;
	if (!parse_datelike(text, &dt, &is_dt))
		return CLASS_DATE;
	if (!parse_number(text, &x))
		return CLASS_NUMBER;
	return CLASS_TEXT;
}

/* Whether `item` is one of the items a "*" COMPARE check covers. */
static int star_covers(const struct eval *ev, const struct cb_protocol_cond *t,
		       const struct cb_protocol_item *item)
{
	enum cmp_class want;

	if (t->has_other) {
		if (!t->other.item)
			return 0;
		/* Never the other item itself, at the same visit. */
		if (t->other.item == item &&
		    (!t->other.visit || t->other.visit == ev->visit))
			return 0;
		want = type_class(t->other.item->type);
	} else {
		if (t->nvalues == 0)
			return 1; /* present / absent */
		want = constant_class(t->values[0].text);
	}
	if (want == CLASS_TEXT)
		return type_class(item->type) == CLASS_TEXT &&
		       (!t->has_other || t->other.item->type == item->type);
	return type_class(item->type) == want;
}

/* Parse a date or date-time value to its (possibly partial) date. */
static int value_date(const char *s, struct cb_date *d)
{
	struct cb_datetime dt;
	int is_dt;

	if (parse_datelike(s, &dt, &is_dt))
		return -1;
	*d = dt.date;
	return 0;
}

/* The visit the day-0 item is read at. */
static const struct cb_protocol_visit *day0_visit(const struct eval *ev)
{
	const struct cb_protocol_form *f = ev->p->day0.form;
	size_t i;

	if (ev->p->day0.visit)
		return ev->p->day0.visit;
	if (!f)
		return NULL;
	for (i = 0; i < f->nvisits; i++)
		if (f->visits[i]->scheduled && f->visits[i]->day == 0)
			return f->visits[i];
	return NULL;
}

/* T_FALSE when the date of `item` certainly lies outside its window. */
static enum truth eval_window(struct eval *ev,
			      const struct cb_protocol_item *item)
{
	const struct cb_protocol_visit *v0;
	struct cb_date d, zero, lo, hi;
	const char *value, *day0;
	enum truth a, b;

	if (!ev->visit->scheduled || !ev->p->day0.item)
		return T_TRUE;
	value = get_item(ev, NULL, item);
	if (!value || value_date(value, &d))
		return T_TRUE;
	v0 = day0_visit(ev);
	if (!v0)
		return T_TRUE;
	day0 = get_item(ev, v0, ev->p->day0.item);
	if (!day0 || value_date(day0, &zero) || !cb_date_is_full(&zero))
		return T_TRUE; /* day 0 unknown: nothing to count from */
	if (cb_date_add_days(&zero, ev->visit->low, &lo) ||
	    cb_date_add_days(&zero, ev->visit->high, &hi))
		return T_MAYBE;
	a = from_date_truth(cb_date_holds(&d, CB_DATE_GE, &lo));
	b = from_date_truth(cb_date_holds(&d, CB_DATE_LE, &hi));
	if (a == T_FALSE || b == T_FALSE)
		return T_FALSE;
	return a == T_TRUE && b == T_TRUE ? T_TRUE : T_MAYBE;
}

/* T_FALSE when the date of `item` is certainly after `limit`. */
static enum truth eval_not_future(struct eval *ev,
				  const struct cb_protocol_item *item,
				  const struct cb_date *limit)
{
	const char *value = get_item(ev, NULL, item);
	struct cb_date d;

	/* A malformed value is the format check's to report. */
	if (!value || value_date(value, &d))
		return T_TRUE;
	return from_date_truth(cb_date_holds(&d, CB_DATE_LE, limit));
}

/* A whole number in a value, or -1. */
static int whole_number(const char *s, long *out)
{
	double x;

	if (parse_number(s, &x) || floor(x) != x || fabs(x) > 1e9)
		return -1;
	*out = (long)x;
	return 0;
}

/*
 * Does the age in `item` agree with the birth (a year or a date) and the
 * date it is taken on? Exactly, from two full dates; else the year of
 * `on` minus the birth year, or one less (the birthday may or may not
 * have come yet). Missing or malformed operands pass.
 */
static enum truth eval_age(struct eval *ev, const struct cb_protocol_check *ck)
{
	const char *age = get_item(ev, NULL, ck->item);
	const char *birth = get_ref(ev, &ck->birth);
	const char *on = get_ref(ev, &ck->on);
	struct cb_date b, o;
	long years, year, hi;

	if (!age || !birth || !on || whole_number(age, &years) ||
	    value_date(on, &o))
		return T_TRUE;
	if (ck->birth.item->type == CB_ITEM_INTEGER) {
		if (whole_number(birth, &year) || year < 1 || year > 9999)
			return T_TRUE;
		memset(&b, 0, sizeof(b));
		b.year = (int)year;
	} else if (value_date(birth, &b)) {
		return T_TRUE;
	}
	hi = (long)o.year - b.year;
	if (cb_date_is_full(&b) && cb_date_is_full(&o)) {
		if (o.month < b.month || (o.month == b.month && o.day < b.day))
			hi--;
		return years == hi ? T_TRUE : T_FALSE;
	}
	return years == hi || years == hi - 1 ? T_TRUE : T_FALSE;
}

static int run_check(struct eval *ev, const struct cb_protocol_check *ck,
		     struct cb_check_results *res)
{
	const struct cb_protocol_item *it;
	const char *v;
	size_t i;

	if (!check_applies(ev, ck))
		return 0;
	switch (ck->type) {
	case CB_CHECK_REQUIRED:
		if (ck->item && !get_item(ev, NULL, ck->item) && !ev->rc)
			return fail(ev, res, ck, ck->item);
		return 0;
	case CB_CHECK_FORBIDDEN:
		if (ck->item && get_item(ev, NULL, ck->item))
			return fail(ev, res, ck, ck->item);
		return 0;
	case CB_CHECK_COMPARE:
		if (!ck->test || ck->test->kind != CB_COND_COMPARE)
			return 0;
		if (ck->test->left.item || ck->item) {
			it = ck->test->left.item ? ck->test->left.item
						 : ck->item;
			if (eval_compare(ev, ck->test, it, 1) == T_FALSE)
				return fail(ev, res, ck, it);
			return 0;
		}
		for (i = 0; i < ev->form->nitems; i++) {
			int rc;

			it = &ev->form->items[i];
			if (!star_covers(ev, ck->test, it))
				continue;
			if (eval_compare(ev, ck->test, it, 1) != T_FALSE)
				continue;
			rc = fail(ev, res, ck, it);
			if (rc)
				return rc;
		}
		return 0;
	case CB_CHECK_AT_LEAST_ONE:
		for (i = 0; i < ck->nitems; i++) {
			v = get_item(ev, NULL, ck->items[i]);
			if (v && (!ck->value || !strcmp(v, ck->value)))
				return 0;
		}
		if (ev->rc)
			return 0;
		return fail(ev, res, ck, check_item(ev, ck));
	case CB_CHECK_VISIT_WINDOW:
		if (ck->item && eval_window(ev, ck->item) == T_FALSE)
			return fail(ev, res, ck, ck->item);
		return 0;
	case CB_CHECK_CONDITION:
		if (eval_cond(ev, ck->test) == T_FALSE)
			return fail(ev, res, ck, check_item(ev, ck));
		return 0;
	case CB_CHECK_NOT_FUTURE: {
		struct cb_date limit;

		if (!ev->has_today ||
		    cb_date_add_days(&ev->today, ck->days, &limit))
			return 0;
		if (ck->item) {
			if (eval_not_future(ev, ck->item, &limit) == T_FALSE)
				return fail(ev, res, ck, ck->item);
			return 0;
		}
		for (i = 0; i < ev->form->nitems; i++) {
			int rc;

			it = &ev->form->items[i];
			if (!is_datelike(it->type) ||
			    eval_not_future(ev, it, &limit) != T_FALSE)
				continue;
			rc = fail(ev, res, ck, it);
			if (rc)
				return rc;
		}
		return 0;
	}
	case CB_CHECK_AGE:
		if (ck->item && eval_age(ev, ck) == T_FALSE)
			return fail(ev, res, ck, ck->item);
		return 0;
	}
	return 0;
}

/* Does `ck` apply to the checked form? */
static int check_is_for(const struct eval *ev,
			const struct cb_protocol_check *ck)
{
	if (ck->form)
		return ck->form == ev->form;
	/* Every form: "*" items, or a named item of this form. */
	if (ck->item)
		return ck->item->form == ev->form;
	if (ck->test && ck->test->left.item)
		return ck->test->left.item->form == ev->form;
	return 1;
}

/* Refuse a visit/form/instance combination the protocol does not have. */
static int check_target(const struct cb_protocol_visit *visit,
			const struct cb_protocol_form *form, unsigned instance,
			struct cb_err *err)
{
	if (!visit || !form)
		return cb_err_set(err, CB_EINVAL, "no visit or form given");
	if (!cb_protocol_visit_has_form(visit, form))
		return cb_err_set(err, CB_EINVAL, "visit %s has no form %s",
				  visit->code, form->code);
	if (form->repeating &&
	    (instance < 1 || instance > CB_PROTOCOL_REPEAT_MAX))
		return cb_err_set(err, CB_EINVAL,
				  "form %s repeats: an instance 1..%d is "
				  "needed",
				  form->code, CB_PROTOCOL_REPEAT_MAX);
	if (!form->repeating && instance != 0)
		return cb_err_set(err, CB_EINVAL,
				  "form %s does not repeat: no instance "
				  "%u",
				  form->code, instance);
	return 0;
}

/* Whether any item of the checked form instance has a value. */
static int form_has_data(struct eval *ev)
{
	size_t i;

	for (i = 0; i < ev->form->nitems && !ev->rc; i++)
		if (get_item(ev, NULL, &ev->form->items[i]))
			return 1;
	return 0;
}

static int check_values(struct eval *ev, struct cb_check_results *res)
{
	char msg[CB_ERR_MSG_MAX];
	size_t i;
	int rc;

	for (i = 0; i < ev->form->nitems; i++) {
		const struct cb_protocol_item *it = &ev->form->items[i];
		const char *v = get_item(ev, NULL, it);
		struct cb_err verr;
		int soft = 0;

		if (ev->rc)
			return ev->rc;
		if (!v)
			continue;
		cb_err_clear(&verr);
		rc = cb_protocol_check_value(it, v, &soft, &verr);
		if (rc == CB_ECHECK)
			rc = add_result(ev, res, CB_CHECK_ID_RANGE,
					CB_SEVERITY_HARD, NULL, it, verr.msg);
		else if (rc)
			rc = add_result(ev, res, CB_CHECK_ID_FORMAT,
					CB_SEVERITY_HARD, NULL, it, verr.msg);
		else if (soft) {
			char lo[32] = "", hi[32] = "";

			if (it->soft.has_min)
				snprintf(lo, sizeof(lo), "%g", it->soft.min);
			if (it->soft.has_max)
				snprintf(hi, sizeof(hi), "%g", it->soft.max);
			snprintf(msg, sizeof(msg),
				 "%s.%s: %s%s%s is outside the expected range "
				 "%s..%s; please confirm",
				 it->form->code, it->code, v,
				 *it->unit ? " " : "", it->unit, lo, hi);
			rc = add_result(ev, res, CB_CHECK_ID_SOFT_RANGE,
					CB_SEVERITY_SOFT, NULL, it, msg);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int cb_check_form(const struct cb_protocol *p,
		  const struct cb_check_source *src,
		  const struct cb_protocol_visit *visit,
		  const struct cb_protocol_form *form, unsigned instance,
		  struct cb_check_results *res, struct cb_err *err)
{
	return cb_check_save(p, src, visit, form, instance, NULL, res, err);
}

/* How far a change to `item` at `visit` reaches through one reference. */
enum reach {
	REACH_NONE,  /* the reference does not read it */
	REACH_VISIT, /* FORM.ITEM: the check's form at the saved visit */
	REACH_ALL,   /* VISIT.FORM.ITEM: the check's form at every visit */
};

static enum reach ref_reach(const struct cb_protocol_check *ck,
			    const struct cb_protocol_ref *r,
			    const struct cb_protocol_visit *visit,
			    const struct cb_protocol_item *item)
{
	if (!r->item || r->item != item)
		return REACH_NONE;
	if (r->visit)
		return r->visit == visit ? REACH_ALL : REACH_NONE;
	/* A bare ITEM reads the checked instance itself: the saved one. */
	if (!ck->form || r->form == ck->form)
		return REACH_NONE;
	return REACH_VISIT;
}

static enum reach max_reach(enum reach a, enum reach b)
{
	return a > b ? a : b;
}

static enum reach cond_reach(const struct cb_protocol_check *ck,
			     const struct cb_protocol_cond *c,
			     const struct cb_protocol_visit *visit,
			     const struct cb_protocol_item *item, int depth)
{
	enum reach r = REACH_NONE;
	size_t i;

	if (!c || depth > CB_PROTOCOL_COND_DEPTH + 1)
		return r;
	if (c->kind == CB_COND_COMPARE) {
		r = ref_reach(ck, &c->left, visit, item);
		if (c->has_other)
			r = max_reach(r, ref_reach(ck, &c->other, visit, item));
		return r;
	}
	for (i = 0; i < c->nsub; i++)
		r = max_reach(
		    r, cond_reach(ck, &c->sub[i], visit, item, depth + 1));
	return r;
}

/* How far a change to `item` at `visit` reaches through check `ck`. */
static enum reach check_reach(const struct cb_protocol *p,
			      const struct cb_protocol_check *ck,
			      const struct cb_protocol_visit *visit,
			      const struct cb_protocol_item *item)
{
	enum reach r;

	r = max_reach(cond_reach(ck, ck->when, visit, item, 0),
		      cond_reach(ck, ck->test, visit, item, 0));
	if (ck->type == CB_CHECK_AGE)
		r = max_reach(r,
			      max_reach(ref_reach(ck, &ck->birth, visit, item),
					ref_reach(ck, &ck->on, visit, item)));
	if (ck->type == CB_CHECK_VISIT_WINDOW && p->day0.item == item) {
		/* Windows count from the day-0 item, read at its visit. */
		const struct cb_protocol_visit *v0 = p->day0.visit;
		size_t i;

		for (i = 0; !v0 && i < item->form->nvisits; i++)
			if (item->form->visits[i]->scheduled &&
			    item->form->visits[i]->day == 0)
				v0 = item->form->visits[i];
		if (v0 == visit)
			r = REACH_ALL;
	}
	return r;
}

/* Run `ck` on every instance of `form` at `visit` but the saved one. */
static int run_related_at(struct eval *base, const struct cb_protocol_check *ck,
			  const struct cb_protocol_visit *visit,
			  const struct cb_protocol_form *form,
			  struct cb_check_results *res)
{
	unsigned inst, last = 0;
	struct eval ev;
	int rc;

	if (form->repeating) {
		if (!base->src->last_instance)
			return 0;
		rc = base->src->last_instance(base->src->ctx, visit->code,
					      form->code, &last, base->err);
		if (rc)
			return rc;
		if (last > CB_PROTOCOL_REPEAT_MAX)
			last = CB_PROTOCOL_REPEAT_MAX;
	}
	for (inst = form->repeating ? 1 : 0; inst <= last; inst++) {
		if (visit == base->visit && form == base->form &&
		    inst == base->instance)
			continue;
		eval_init(&ev, base->p, base->src, visit, form, inst,
			  base->err);
		ev.has_today = base->has_today;
		ev.today = base->today;
		ev.elsewhere = 1;
		if (!check_is_for(&ev, ck))
			return 0;
		if (form_has_data(&ev)) {
			rc = run_check(&ev, ck, res);
			if (rc)
				return rc;
		}
		if (ev.rc)
			return ev.rc;
	}
	return 0;
}

/* The related checks of a save (see cb_check_save). */
static int run_related(struct eval *base, const struct cb_check_context *ctx,
		       struct cb_check_results *res)
{
	const struct cb_protocol *p = base->p;
	const struct cb_protocol_item **items;
	unsigned char *reads; /* per check: it may read a changed item */
	size_t i, j, k, n = 0;
	int rc = 0;

	/* The changed items, resolved once for every check, and the checks
	 * that may read them (protocol.h, readers): the others reach
	 * nothing. Without readers (a protocol built by hand), every check
	 * is looked at. */
	items = malloc(ctx->nchanges * sizeof(*items) + p->nchecks + 1);
	if (!items)
		return cb_err_set(base->err, CB_ENOMEM, "out of memory");
	reads = (unsigned char *)(items + ctx->nchanges);
	memset(reads, !p->has_readers, p->nchecks + 1);
	for (j = 0; j < ctx->nchanges; j++) {
		items[n] =
		    cb_protocol_find_item(base->form, ctx->changes[j].item);
		if (!items[n])
			continue;
		for (k = 0; k < items[n]->nreaders; k++)
			reads[items[n]->readers[k]] = 1;
		n++;
	}
	for (i = 0; i < p->nchecks && !rc; i++) {
		const struct cb_protocol_check *ck = &p->checks[i];
		enum reach r = REACH_NONE;

		if (!reads[i])
			continue;
		for (j = 0; j < n && r != REACH_ALL; j++)
			r = max_reach(
			    r, check_reach(p, ck, base->visit, items[j]));
		if (r == REACH_NONE)
			continue;
		for (j = 0; j < p->nvisits && !rc; j++) {
			const struct cb_protocol_visit *v = &p->visits[j];

			if (r == REACH_VISIT && v != base->visit)
				continue;
			for (k = 0; k < v->nforms && !rc; k++) {
				if (ck->form && v->forms[k] != ck->form)
					continue;
				rc = run_related_at(base, ck, v, v->forms[k],
						    res);
			}
		}
	}
	free(items);
	return rc;
}

int cb_check_save(const struct cb_protocol *p,
		  const struct cb_check_source *src,
		  const struct cb_protocol_visit *visit,
		  const struct cb_protocol_form *form, unsigned instance,
		  const struct cb_check_context *ctx,
		  struct cb_check_results *res, struct cb_err *err)
{
	struct eval ev;
	size_t i;
	int rc;

	rc = check_target(visit, form, instance, err);
	if (rc)
		return rc;
	eval_init(&ev, p, src, visit, form, instance, err);
	if (ctx && ctx->today) {
		if (cb_date_parse_full(ctx->today, &ev.today, NULL))
			return cb_err_set(err, CB_EINVAL,
					  "today '%.40s' is not a date "
					  "YYYY-MM-DD",
					  ctx->today);
		ev.has_today = 1;
	}
	if (form_has_data(&ev)) {
		rc = check_values(&ev, res);
		if (rc)
			return rc;
		for (i = 0; i < p->nchecks; i++) {
			const struct cb_protocol_check *ck = &p->checks[i];

			if (!check_is_for(&ev, ck))
				continue;
			rc = run_check(&ev, ck, res);
			if (rc)
				return rc;
			if (ev.rc)
				return ev.rc;
		}
	}
	if (ev.rc)
		return ev.rc;
	/* Even a save that empties its form can break a related check (a
	 * consent date cleared while adverse events need it). */
	if (ctx && ctx->nchanges)
		return run_related(&ev, ctx, res);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Form status.                                                        */

/* Required, by the item's flag and this form's REQUIRED/FORBIDDEN checks. */
static int item_required(struct eval *ev, const struct cb_protocol_item *it)
{
	int required = it->required;
	size_t i;

	for (i = 0; i < ev->p->nchecks; i++) {
		const struct cb_protocol_check *ck = &ev->p->checks[i];

		if (ck->form != ev->form || ck->item != it)
			continue;
		if (ck->type == CB_CHECK_REQUIRED && !required &&
		    check_applies(ev, ck))
			required = 1;
	}
	for (i = 0; i < ev->p->nchecks && required; i++) {
		const struct cb_protocol_check *ck = &ev->p->checks[i];

		if (ck->form != ev->form || ck->item != it)
			continue;
		if (ck->type == CB_CHECK_FORBIDDEN && check_applies(ev, ck))
			required = 0;
	}
	return required;
}

int cb_check_form_status(const struct cb_protocol *p,
			 const struct cb_check_source *src,
			 const struct cb_protocol_visit *visit,
			 const struct cb_protocol_form *form, unsigned instance,
			 enum cb_form_status *status,
			 struct cb_check_items *missing, struct cb_err *err)
{
	struct eval ev;
	size_t i;
	int rc;

	*status = CB_FORM_EMPTY;
	rc = check_target(visit, form, instance, err);
	if (rc)
		return rc;
	eval_init(&ev, p, src, visit, form, instance, err);
	if (!form_has_data(&ev))
		return ev.rc;
	*status = CB_FORM_COMPLETE;
	for (i = 0; i < form->nitems; i++) {
		const struct cb_protocol_item *it = &form->items[i];

		if (!item_required(&ev, it) || get_item(&ev, NULL, it))
			continue;
		if (ev.rc)
			break;
		*status = CB_FORM_PARTIAL;
		if (missing) {
			rc = items_add(missing, visit, it, err);
			if (rc)
				return rc;
		}
	}
	if (ev.rc)
		*status = CB_FORM_EMPTY;
	return ev.rc;
}

/* ------------------------------------------------------------------ */
/* Eligibility.                                                        */

void cb_check_elig_init(struct cb_check_elig *e)
{
	memset(e, 0, sizeof(*e));
	cb_check_items_init(&e->missing);
}

void cb_check_elig_release(struct cb_check_elig *e)
{
	if (!e)
		return;
	free(e->failed);
	free(e->undecided);
	cb_check_items_release(&e->missing);
	cb_check_elig_init(e);
}

int cb_check_eligibility(const struct cb_protocol *p,
			 const struct cb_check_source *src,
			 struct cb_check_elig *out, struct cb_err *err)
{
	struct cb_check_items readmiss;
	enum cb_form_status st;
	struct eval ev;
	size_t i, j;
	int rc;

	cb_check_elig_release(out);
	if (!p->elig_visit || !p->elig_form)
		return cb_err_set(err, CB_ENOTFOUND,
				  "protocol %s has no eligibility rules",
				  p->id ? p->id : "");
	cb_check_items_init(&readmiss);
	if (p->nrules) {
		out->failed = calloc(p->nrules, sizeof(*out->failed));
		out->undecided = calloc(p->nrules, sizeof(*out->undecided));
		if (!out->failed || !out->undecided) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			goto out;
		}
	}

	rc = cb_check_form_status(p, src, p->elig_visit, p->elig_form,
				  p->elig_form->repeating ? 1 : 0, &st,
				  &out->missing, err);
	if (rc)
		goto out;
	if (st == CB_FORM_EMPTY) {
		/* Nothing entered: every required item is missing. */
		eval_init(&ev, p, src, p->elig_visit, p->elig_form, 0, err);
		for (i = 0; i < p->elig_form->nitems; i++) {
			const struct cb_protocol_item *it =
			    &p->elig_form->items[i];

			if (!item_required(&ev, it))
				continue;
			rc = items_add(&out->missing, p->elig_visit, it, err);
			if (rc)
				goto out;
		}
		if (ev.rc) {
			rc = ev.rc;
			goto out;
		}
	}

	for (i = 0; i < p->nrules; i++) {
		const struct cb_protocol_rule *rule = &p->rules[i];
		enum truth t;

		eval_init(&ev, p, src, p->elig_visit, p->elig_form,
			  p->elig_form->repeating ? 1 : 0, err);
		cb_check_items_release(&readmiss);
		ev.missing = &readmiss;
		t = eval_cond(&ev, rule->cond);
		if (ev.rc) {
			rc = ev.rc;
			goto out;
		}
		if (t == T_TRUE)
			continue;
		if (ev.saw_missing) {
			/* Failed only if no values of the missing items
			 * could make it hold. */
			ev.missing_unknown = 1;
			ev.missing = NULL;
			t = eval_cond(&ev, rule->cond);
			if (ev.rc) {
				rc = ev.rc;
				goto out;
			}
		}
		if (t == T_FALSE) {
			out->failed[out->nfailed++] = rule;
			continue;
		}
		out->undecided[out->nundecided++] = rule;
		for (j = 0; j < readmiss.count; j++) {
			rc = items_add(&out->missing, readmiss.list[j].visit,
				       readmiss.list[j].item, err);
			if (rc)
				goto out;
		}
	}
	if (out->nfailed)
		out->status = CB_ELIG_NO;
	else if (out->nundecided || out->missing.count)
		out->status = CB_ELIG_INCOMPLETE;
	else
		out->status = CB_ELIG_YES;
out:
	cb_check_items_release(&readmiss);
	if (rc) {
		cb_check_elig_release(out);
		out->status = CB_ELIG_INCOMPLETE;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Derived scores.                                                     */

void cb_check_scores_init(struct cb_check_scores *s)
{
	memset(s, 0, sizeof(*s));
}

void cb_check_scores_release(struct cb_check_scores *s)
{
	if (!s)
		return;
	free(s->list);
	cb_check_scores_init(s);
}

int cb_check_scores(const struct cb_protocol *p,
		    const struct cb_check_source *src,
		    const struct cb_protocol_visit *visit,
		    const struct cb_protocol_form *form, unsigned instance,
		    struct cb_check_scores *out, struct cb_err *err)
{
	struct eval ev;
	size_t i, j, total = 0;
	int rc;

	cb_check_scores_release(out);
	rc = check_target(visit, form, instance, err);
	if (rc)
		return rc;
	for (i = 0; i < form->nscores; i++)
		total += form->scores[i].method->noutputs;
	if (!total)
		return 0;
	out->list = calloc(total, sizeof(*out->list));
	if (!out->list)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	eval_init(&ev, p, src, visit, form, instance, err);

	for (i = 0; i < form->nscores; i++) {
		const struct cb_protocol_score *sc = &form->scores[i];
		const struct cb_score_method *m = sc->method;
		int vals[CB_SCORE_ITEMS_MAX];
		double res[CB_SCORE_OUTPUTS_MAX];
		int valid[CB_SCORE_OUTPUTS_MAX];

		if (m->nitems > CB_SCORE_ITEMS_MAX ||
		    m->noutputs > CB_SCORE_OUTPUTS_MAX) {
			rc =
			    cb_err_set(err, CB_EINVAL,
				       "score method %s is too large", m->name);
			goto fail;
		}
		for (j = 0; j < m->nitems; j++) {
			const char *v = get_item(&ev, NULL, sc->items[j]);

			vals[j] = CB_SCORE_MISSING;
			if (v && cb_score_parse_value(m, j, v, &vals[j], NULL))
				/* Out of range or not a whole number: its
				 * subscale is invalid, never guessed at. */
				vals[j] = m->item_max + 1;
		}
		if (ev.rc) {
			rc = ev.rc;
			goto fail;
		}
		m->compute(vals, res, valid);
		for (j = 0; j < m->noutputs; j++) {
			struct cb_check_score *o = &out->list[out->count++];
			const char *name = sc->name ? sc->name : m->name;

			o->score = sc;
			o->output = m->outputs[j];
			if (!strcmp(name, m->outputs[j]))
				snprintf(o->name, sizeof(o->name), "%s", name);
			else
				snprintf(o->name, sizeof(o->name), "%s_%s",
					 name, m->outputs[j]);
			o->valid = valid[j] != 0;
			o->value = o->valid ? cb_score_round2(res[j]) : 0.0;
		}
	}
	return 0;
fail:
	cb_check_scores_release(out);
	return rc;
}
