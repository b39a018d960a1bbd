/*
 * lfeed.c - the laptop's feed of the record (lfeed.h).
 */
#include "lfeed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "derive.h"
#include "event.h"
#include "role.h"

/* Most subjects a store holds (far above a trial's). */
#define LFEED_SUBJECTS_MAX (16u * 1024u * 1024u)

/* ---- the subject ids, sorted ----------------------------------------------
 */

struct ids {
	char **v;
	size_t n, cap;
	const char *site; /* NULL: every site */
	struct cb_err *err;
};

static int id_add(void *ctx, const char *subject)
{
	struct ids *l = ctx;
	char site[CB_SITE_MAX + 1];
	struct cb_err ignored;
	int rc;

	if (!subject[0])
		return 0; /* events about no subject */
	if (l->site &&
	    (cb_subject_id_parse(subject, site, NULL, NULL, &ignored) ||
	     strcmp(site, l->site)))
		return 0;
	rc = cb_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v),
			   LFEED_SUBJECTS_MAX, "subjects", l->err);
	if (rc)
		return rc;
	l->v[l->n] = strdup(subject);
	if (!l->v[l->n])
		return cb_err_set(l->err, CB_ENOMEM, "out of memory");
	l->n++;
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ids_free(struct ids *l)
{
	while (l->n)
		free(l->v[--l->n]);
	free(l->v);
	l->v = NULL;
}

/* ---- one subject ------------------------------------------------------------
 */

struct run {
	struct lfeed *f;
	const struct cb_feed_opts *o;
	cb_feed_fn fn;
	void *fctx;
	struct cb_err *err;
	struct cb_feed_items items;
	/* the subject being read */
	const char *subject;
	struct cb_merge *m;
	int filter; /* leave events out as the server's replay does */
};

/* 1 when the event changes an item the protocol marks "unblinded" (the
 * server's test, which keeps such events from blinded readers). */
static int event_unblinded(const struct cb_protocol *p,
			   const struct cb_event *ev)
{
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	size_t i;

	if (!ev->form || !ev->form[0])
		return 0;
	f = cb_protocol_find_form(p, ev->form);
	for (i = 0; f && i < ev->nchanges; i++) {
		it = cb_protocol_find_item(f, ev->changes[i].item);
		if (it && it->unblinded)
			return 1;
	}
	return 0;
}

/* 1 when the event targets one of the forms of the hint (feed.h). */
static int hinted(const char *const *forms, const struct cb_event *ev)
{
	for (; forms[0]; forms += 2)
		if (!strcmp(forms[0], ev->visit) && !strcmp(forms[1], ev->form))
			return 1;
	return 0;
}

static int load_one(void *ctx, const struct store_event *se)
{
	struct run *r = ctx;
	struct cb_event ev;
	int rc;

	/* The server refused it: not part of the record. */
	if (se->quarantined)
		return 0;
	cb_event_init(&ev);
	rc = cb_event_parse(se->json, se->len, &ev, r->err);
	/* The summary is the kept row, so only the items of the forms the
	 * reader asked for need their events merged. */
	if (!rc && !r->filter && r->o->forms && !hinted(r->o->forms, &ev)) {
		cb_event_release(&ev);
		return 0;
	}
	if (!rc && r->filter) {
		const char *received =
		    ev.received_at[0] ? ev.received_at : ev.wall;

		if ((r->o->cutoff && strcmp(received, r->o->cutoff) > 0) ||
		    (!r->o->unblinded && event_unblinded(r->f->p, &ev))) {
			cb_event_release(&ev);
			return 0;
		}
	}
	if (!rc)
		rc = cb_merge_take(r->m, &ev, NULL, NULL, r->err);
	cb_event_release(&ev);
	if (rc)
		cb_err_prefix(r->err,
			      "stored event %lld: ", (long long)se->seq);
	return rc;
}

/* Hand the subject to the reader with its summary `sum`. */
static int give(struct run *r, const struct cb_summary *sum)
{
	struct cb_feed_subject fs;
	int rc;

	rc = cb_feed_items_from_merge(r->f->p, r->m, r->subject,
				      r->o->unblinded, &r->items, r->err);
	if (rc)
		return rc;
	fs.sum = sum;
	fs.items = r->items.items;
	fs.nitems = r->items.n;
	fs.merge = r->o->with_merge ? r->m : NULL;
	return r->fn(&fs, r->fctx);
}

/* The kept summary row of the subject (derive.h), for the reader. */
static int on_summary(void *ctx, const struct derive_summary *s)
{
	struct run *r = ctx;

	/* Every event of it was rejected: not on the record. */
	if (!s->summary)
		return 0;
	return give(r, s->summary);
}

static int one_subject(struct run *r, const char *subject)
{
	struct cb_summary sum;
	int rc;

	r->subject = subject;
	rc = cb_merge_new(&r->m, r->err);
	if (!rc)
		rc = store_each_event(r->f->st, subject, STORE_ITER_ALL,
				      load_one, r, r->err);
	if (!rc && !r->filter) {
		rc = derive_one_summary(r->f->st, r->f->p, subject, on_summary,
					r, r->err);
		/* A subject id whose events are all gone has no row. */
		if (rc == CB_ENOTFOUND && !cb_merge_count(r->m)) {
			cb_err_clear(r->err);
			rc = 0;
		}
	} else if (!rc && cb_merge_count(r->m)) {
		/* A subject with no event by the cut-off did not exist then. */
		cb_summary_init(&sum);
		rc = cb_summary_compute(r->f->p, r->m, subject, &sum, r->err);
		if (!rc)
			rc = give(r, &sum);
		cb_summary_release(&sum);
	}
	cb_merge_free(r->m);
	r->m = NULL;
	return rc;
}

static int lfeed_each(void *ctx, const struct cb_feed_opts *o, cb_feed_fn fn,
		      void *fctx, struct cb_err *err)
{
	struct lfeed *f = ctx;
	struct ids l;
	struct run r;
	size_t i;
	int rc, began = 0;

	memset(&l, 0, sizeof(l));
	l.site = o->site;
	l.err = err;
	memset(&r, 0, sizeof(r));
	r.f = f;
	r.o = o;
	r.fn = fn;
	r.fctx = fctx;
	r.err = err;
	r.filter = o->cutoff || o->with_merge;
	rc = store_read_begin(f->st, &began, err);
	if (!rc)
		rc = store_each_subject(f->st, id_add, &l, err);
	if (!rc && l.n)
		qsort(l.v, l.n, sizeof(*l.v), id_cmp);
	for (i = 0; !rc && i < l.n; i++)
		rc = one_subject(&r, l.v[i]);
	store_read_end(f->st, began);
	cb_feed_items_free(&r.items);
	ids_free(&l);
	return rc;
}

struct cb_feed lfeed_of(struct lfeed *f)
{
	struct cb_feed feed = {lfeed_each, f};

	return feed;
}

/* ---- opening
 * ------------------------------------------------------------------ */

static int role_in(const char *role, const char *const *roles)
{
	for (; *roles; roles++)
		if (!strcmp(role, *roles))
			return 1;
	return 0;
}

static int refuse(struct store *st, const char *const *roles, const char *what,
		  struct cb_err *err)
{
	char names[128] = "";
	size_t i, n = 0;

	for (i = 0; roles[i] && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
				      i ? (roles[i + 1] ? ", " : " or ") : "",
				      roles[i]);
	return cb_err_set(err, CB_EFORBIDDEN,
			  "not authorized: %s needs the %s role; user '%s' "
			  "is a %s (act as another user with --user NAME)",
			  what, names, store_user(st), store_role(st));
}

int lfeed_open(const struct cli_global *g, const char *const *roles,
	       const char *what, struct lfeed *f, struct cb_err *err)
{
	char home[STORE_PATH_MAX + 1];
	struct cb_protocol *p = NULL;
	struct store *st = NULL;
	int rc;

	memset(f, 0, sizeof(*f));
	/* A role that may not read the record is told so before typing a
	 * passphrase: nothing is unlocked for it. */
	rc = store_home(g, home, sizeof(home), err);
	if (!rc)
		rc = store_open(home, &st, err);
	if (!rc)
		rc = store_select_user(st, g->user, err);
	if (!rc && !role_in(store_role(st), roles))
		rc = refuse(st, roles, what, err);
	store_close(st);
	st = NULL;
	if (!rc)
		rc = store_open_cli(g, &st, err);
	if (!rc && !role_in(store_role(st), roles))
		rc = refuse(st, roles, what, err);
	if (!rc)
		rc = store_protocol_load(st, &p, err);
	if (rc) {
		store_close(st);
		return rc;
	}
	f->st = st;
	f->p = p;
	return 0;
}

void lfeed_close(struct lfeed *f)
{
	cb_protocol_free(f->p);
	store_close(f->st);
	memset(f, 0, sizeof(*f));
}

int lfeed_has_site(struct lfeed *f, const char *site, struct cb_err *err)
{
	struct ids l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.site = site;
	l.err = err;
	rc = store_each_subject(f->st, id_add, &l, err);
	if (!rc)
		rc = l.n > 0;
	ids_free(&l);
	return rc;
}
