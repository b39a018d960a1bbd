/*
 * fview.h - one subject of a feed (feed.h), indexed for lookups: the
 * value of an item, the form instances a visit holds, and a value
 * source for the edit-check engine (check.h) so derived scores and the
 * protocol's conditions (the safety flags) are computed by the same
 * code as everywhere else.
 *
 * A conflicted item has no value here (NULL), as everywhere a value is
 * computed with: a score or a flag over it is missing until the
 * conflict is resolved; cb_fview_item tells the conflict apart.
 *
 * The view points into the feed subject it was built from and is valid
 * while that is (during the feed's callback); it is reused from one
 * subject to the next without allocating again. Lookups remember the
 * form instance they last found, so reading an instance item by item
 * searches only its items: one thread at a time.
 */
#ifndef CB_FVIEW_H
#define CB_FVIEW_H

#include <stddef.h>

#include "check.h"
#include "err.h"
#include "event.h"
#include "feed.h"

struct cb_fview {
	const struct cb_feed_subject *s;
	const struct cb_feed_item **idx; /* sorted: visit, form, inst, item */
	unsigned *inst;			 /* instance numbers, parallel */
	size_t n, cap, cap_inst;
	/* the form instance of the last lookup: idx[lo..hi) (a report or
	 * an export reads one instance's items one after the other) */
	char c_visit[CB_EVENT_NAME_MAX + 1], c_form[CB_EVENT_NAME_MAX + 1];
	int c_set;
	unsigned c_inst;
	size_t c_lo, c_hi;
};

void cb_fview_init(struct cb_fview *v);
void cb_fview_release(struct cb_fview *v);

/* Index the items of `s`. CB_ENOMEM. */
int cb_fview_set(struct cb_fview *v, const struct cb_feed_subject *s,
		 struct cb_err *err);

/* The item (instance 0 for a non-repeating form), or NULL. */
const struct cb_feed_item *cb_fview_item(struct cb_fview *v, const char *visit,
					 const char *form, unsigned instance,
					 const char *item);

/* Its value: NULL when absent, cleared or conflicted. */
const char *cb_fview_value(struct cb_fview *v, const char *visit,
			   const char *form, unsigned instance,
			   const char *item);

/*
 * The instances of `form` at `visit` that hold any item, ascending,
 * one per call: start with *pos = 0; returns 1 with *instance set (0
 * for a non-repeating form), 0 when there are no more.
 */
int cb_fview_next_instance(const struct cb_fview *v, const char *visit,
			   const char *form, size_t *pos, unsigned *instance);

/* A check source reading v (valid while v is). */
struct cb_check_source cb_fview_source(struct cb_fview *v);

#endif
