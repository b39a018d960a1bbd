/*
 * feed.h - the record, subject by subject, as exports and reports read
 * it: each subject's summary (summary.h) and the current state of every
 * item it has, and, when asked for, the subject's merge state (its
 * events, for the audit trail).
 *
 * Exports and reports are written once, against this interface, and
 * run on the server (which feeds them from its derived tables, or from
 * the events received up to a cut-off) and on a laptop (from its own
 * store) alike, so both give the same output for the same data. A feed
 * hands out one subject at a time, in byte order of the subject id:
 * memory holds one subject, whatever the size of the study.
 */
#ifndef CB_FEED_H
#define CB_FEED_H

#include <stddef.h>

#include "err.h"
#include "merge.h"
#include "summary.h"

/* One item's current state, as the derived tables hold it. */
struct cb_feed_item {
	const char *visit, *form, *instance, *item; /* instance "" or "1".. */
	const char *value; /* NULL when cleared, or when conflicted */
	int conflict;	   /* several heads with different values */
	size_t nheads;
	const char *const *head_values; /* each head's value (NULL: cleared) */
};

/* One subject as a feed hands it over; valid during the call only. */
struct cb_feed_subject {
	const struct cb_summary *sum;
	/* every item with a change, in order of visit (protocol order is
	 * the reader's to apply), form, instance (numerically), item */
	const struct cb_feed_item *items;
	size_t nitems;
	/* the subject's merge state when the feed was asked for it (the
	 * audit trail, signatures), else NULL */
	struct cb_merge *merge;
};

/* What a feed is asked for. */
struct cb_feed_opts {
	const char *site;   /* NULL: every site */
	const char *cutoff; /* UTC time "YYYY-MM-DDTHH:MM:SS.mmmZ": only
			       events received at or before it; NULL: all */
	int unblinded;	    /* include items the protocol marks unblinded */
	int with_merge;	    /* hand out each subject's merge state too */
	/*
	 * A hint: the reader needs only the items of these forms, given as
	 * pairs visit, form (in byte order of visit then form), the list
	 * ending with NULL; NULL: every item. A feed may leave the other
	 * items out (the server's derived tables then read only these, so
	 * a report over one form is not the price of reading them all) or
	 * hand them out all the same; a reader looks items up by name.
	 */
	const char *const *forms;
};

/* The reader's callback: 0 to go on, non-zero to stop (returned). */
typedef int (*cb_feed_fn)(const struct cb_feed_subject *s, void *ctx);

/* A feed: each(ctx, opts, fn, fctx, err) calls fn once per subject. */
struct cb_feed {
	int (*each)(void *ctx, const struct cb_feed_opts *o, cb_feed_fn fn,
		    void *fctx, struct cb_err *err);
	void *ctx;
};

/*
 * The items of `subject` in a merge state, as a feed hands them out: a
 * helper for feeds built on merge states (a cut-off on the server, a
 * laptop). Items of `p` marked unblinded are left out unless
 * `unblinded`. The array and its strings point into the merge state and
 * `*buf` (free it with cb_feed_items_free after the call); CB_ENOMEM.
 */
struct cb_protocol;
struct cb_feed_items {
	struct cb_feed_item *items;
	size_t n, cap;
};
int cb_feed_items_from_merge(const struct cb_protocol *p, struct cb_merge *m,
			     const char *subject, int unblinded,
			     struct cb_feed_items *out, struct cb_err *err);
void cb_feed_items_free(struct cb_feed_items *f);

#endif
