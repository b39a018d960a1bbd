/*
 * memfeed.h - a feed (feed.h) over subjects written in a test, for the
 * export and report engines' unit tests: each subject a summary and
 * its items, handed out in the order added, filtered by site and by a
 * cut-off (a subject "received" after it is left out). It records the
 * options it was last asked with.
 */
#ifndef CB_MEMFEED_H
#define CB_MEMFEED_H

#include <string.h>

#include "feed.h"
#include "summary.h"

#define MF_ITEMS 64
#define MF_SUBJECTS 32

struct mf_subject {
	struct cb_summary sum;
	const char *received; /* when its events arrived */
	struct cb_feed_item items[MF_ITEMS];
	size_t nitems;
};

struct memfeed {
	struct mf_subject s[MF_SUBJECTS];
	size_t n;
	struct cb_feed_opts asked;
	/* asked.forms points here: the caller's list lives only during the
	 * call (feed.h), and tests read it afterwards. */
	const char *asked_forms[16];
	int calls;
};

/* A subject with every summary string "" but those given. */
static inline struct mf_subject *mf_add(struct memfeed *f, const char *id,
					const char *site,
					enum cb_lifecycle state)
{
	struct mf_subject *s = &f->s[f->n++];
	char **str[] = {
	    &s->sum.subject,	  &s->sum.site,		 &s->sum.state_date,
	    &s->sum.created,	  &s->sum.consent,	 &s->sum.day0,
	    &s->sum.randomized,	  &s->sum.randno,	 &s->sum.kit,
	    &s->sum.dosed,	  &s->sum.ended,	 &s->sum.end_status,
	    &s->sum.visits,	  &s->sum.unblind.user,	 &s->sum.unblind.site,
	    &s->sum.unblind.when, &s->sum.unblind.reason};
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(str) / sizeof(str[0]); i++)
		*str[i] = (char *)"";
	s->sum.subject = (char *)id;
	s->sum.site = (char *)site;
	s->sum.state = state;
	s->sum.elig = -1;
	s->received = "2026-01-01T00:00:00.000Z";
	return s;
}

/* An item; instance "" for a non-repeating form. */
static inline struct cb_feed_item *mf_item(struct mf_subject *s,
					   const char *visit, const char *form,
					   const char *inst, const char *item,
					   const char *value)
{
	struct cb_feed_item *it = &s->items[s->nitems++];

	memset(it, 0, sizeof(*it));
	it->visit = visit;
	it->form = form;
	it->instance = inst;
	it->item = item;
	it->value = value;
	return it;
}

/* A conflicted item with two heads. */
static inline void mf_conflict(struct mf_subject *s, const char *visit,
			       const char *form, const char *inst,
			       const char *item, const char *const *heads)
{
	struct cb_feed_item *it = mf_item(s, visit, form, inst, item, NULL);

	it->conflict = 1;
	it->nheads = 2;
	it->head_values = heads;
}

static inline int mf_each(void *ctx, const struct cb_feed_opts *o,
			  cb_feed_fn fn, void *fctx, struct cb_err *err)
{
	struct memfeed *f = ctx;
	size_t i;
	int rc;

	(void)err;
	f->asked = *o;
	if (o->forms) {
		for (i = 0; i + 1 < sizeof(f->asked_forms) / sizeof(char *) &&
			    o->forms[i];
		     i++)
			f->asked_forms[i] = o->forms[i];
		f->asked_forms[i] = NULL;
		f->asked.forms = f->asked_forms;
	}
	f->calls++;
	for (i = 0; i < f->n; i++) {
		struct mf_subject *s = &f->s[i];
		struct cb_feed_subject fs;

		if (o->site && strcmp(o->site, s->sum.site))
			continue;
		if (o->cutoff && strcmp(s->received, o->cutoff) > 0)
			continue;
		fs.sum = &s->sum;
		fs.items = s->items;
		fs.nitems = s->nitems;
		fs.merge = NULL;
		rc = fn(&fs, fctx);
		if (rc)
			return rc;
	}
	return 0;
}

static inline struct cb_feed mf_feed(struct memfeed *f)
{
	struct cb_feed feed = {mf_each, f};

	return feed;
}

#endif
