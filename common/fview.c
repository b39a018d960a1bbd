/*
 * fview.c - a feed subject's items, sorted and searched (fview.h).
 */
#include "fview.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

void cb_fview_init(struct cb_fview *v)
{
	memset(v, 0, sizeof(*v));
}

void cb_fview_release(struct cb_fview *v)
{
	free(v->idx);
	free(v->inst);
	cb_fview_init(v);
}

/* "" for a non-repeating form, else 1..; anything else sorts as 0. */
static unsigned inst_num(const char *s)
{
	unsigned long n = 0;

	for (; *s >= '0' && *s <= '9' && n < 1000000000ul; s++)
		n = n * 10 + (unsigned long)(*s - '0');
	return (unsigned)n;
}

static int key_cmp(const char *va, const char *fa, unsigned ia, const char *ta,
		   const char *vb, const char *fb, unsigned ib, const char *tb)
{
	int c = strcmp(va, vb);

	if (c)
		return c;
	if ((c = strcmp(fa, fb)))
		return c;
	if (ia != ib)
		return ia < ib ? -1 : 1;
	return strcmp(ta, tb);
}

static int idx_cmp(const void *a, const void *b)
{
	const struct cb_feed_item *x = *(const struct cb_feed_item *const *)a;
	const struct cb_feed_item *y = *(const struct cb_feed_item *const *)b;

	return key_cmp(x->visit, x->form, inst_num(x->instance), x->item,
		       y->visit, y->form, inst_num(y->instance), y->item);
}

int cb_fview_set(struct cb_fview *v, const struct cb_feed_subject *s,
		 struct cb_err *err)
{
	size_t i;
	int rc, sorted = 1;

	v->s = s;
	v->n = 0;
	rc =
	    cb_array_grow((void **)&v->idx, &v->cap, s->nitems, sizeof(*v->idx),
			  10000000, "items of a subject", err);
	if (!rc)
		rc = cb_array_grow((void **)&v->inst, &v->cap_inst, s->nitems,
				   sizeof(*v->inst), 10000000,
				   "items of a subject", err);
	if (rc)
		return rc;
	for (i = 0; i < s->nitems; i++) {
		v->idx[i] = &s->items[i];
		if (i && sorted && idx_cmp(&v->idx[i - 1], &v->idx[i]) > 0)
			sorted = 0;
	}
	/* Feeds hand items out in this order already; sort only if not. */
	if (!sorted)
		qsort(v->idx, s->nitems, sizeof(*v->idx), idx_cmp);
	for (i = 0; i < s->nitems; i++)
		v->inst[i] = inst_num(v->idx[i]->instance);
	v->n = s->nitems;
	v->c_set = 0;
	return 0;
}

/* The first position whose key is not below (visit, form, inst, item). */
static size_t lower(const struct cb_fview *v, const char *visit,
		    const char *form, unsigned inst, const char *item)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct cb_feed_item *x = v->idx[mid];

		if (key_cmp(x->visit, x->form, v->inst[mid], x->item, visit,
			    form, inst, item) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct cb_feed_item *cb_fview_item(struct cb_fview *v, const char *visit,
					 const char *form, unsigned instance,
					 const char *item)
{
	size_t lo, hi;

	if (!v->c_set || v->c_inst != instance || strcmp(v->c_form, form) ||
	    strcmp(v->c_visit, visit)) {
		v->c_lo = lower(v, visit, form, instance, "");
		for (v->c_hi = v->c_lo;
		     v->c_hi < v->n && v->inst[v->c_hi] == instance &&
		     !strcmp(v->idx[v->c_hi]->form, form) &&
		     !strcmp(v->idx[v->c_hi]->visit, visit);
		     v->c_hi++)
			;
		/* Names longer than any a feed holds are never cached. */
		v->c_set = strlen(visit) < sizeof(v->c_visit) &&
			   strlen(form) < sizeof(v->c_form);
		if (v->c_set) {
			memcpy(v->c_visit, visit, strlen(visit) + 1);
			memcpy(v->c_form, form, strlen(form) + 1);
		}
		v->c_inst = instance;
	}
	/* Within the instance, items are in byte order of their codes. */
	lo = v->c_lo;
	hi = v->c_hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(v->idx[mid]->item, item);

		if (!c)
			return v->idx[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *cb_fview_value(struct cb_fview *v, const char *visit,
			   const char *form, unsigned instance,
			   const char *item)
{
	const struct cb_feed_item *it =
	    cb_fview_item(v, visit, form, instance, item);

	return it && !it->conflict ? it->value : NULL;
}

int cb_fview_next_instance(const struct cb_fview *v, const char *visit,
			   const char *form, size_t *pos, unsigned *instance)
{
	size_t i = *pos ? *pos - 1 : lower(v, visit, form, 0, "");
	unsigned cur;

	if (i >= v->n || strcmp(v->idx[i]->visit, visit) ||
	    strcmp(v->idx[i]->form, form))
		return 0;
	cur = v->inst[i];
	while (i < v->n && v->inst[i] == cur &&
	       !strcmp(v->idx[i]->form, form) &&
	       !strcmp(v->idx[i]->visit, visit))
		i++;
	*pos = i + 1;
	*instance = cur;
	return 1;
}

static int src_get(void *ctx, const char *visit, const char *form,
		   unsigned instance, const char *item, const char **value,
		   struct cb_err *err)
{
	(void)err;
	*value = cb_fview_value(ctx, visit, form, instance, item);
	return 0;
}

static int src_last(void *ctx, const char *visit, const char *form,
		    unsigned *last, struct cb_err *err)
{
	size_t pos = 0;
	unsigned inst;

	(void)err;
	*last = 0;
	while (cb_fview_next_instance(ctx, visit, form, &pos, &inst))
		*last = inst;
	return 0;
}

struct cb_check_source cb_fview_source(struct cb_fview *v)
{
	struct cb_check_source s = {src_get, v, src_last};

	return s;
}
