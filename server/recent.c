/*
 * recent.c - the events stored last, in memory for pulls (recent.h).
 */
#include "recent.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct recent_event {
	int64_t seq;
	char *json; /* the stored text, then the site after its NUL */
	size_t len;
	const char *site;
	int unblinded;
};

struct srv_recent {
	pthread_mutex_t mu;
	struct recent_event *ev; /* a ring: ev[(head + i) % cap], i < n */
	size_t cap, head, n;
	size_t nvis; /* the first nvis are committed; the rest pending */
	size_t bytes, max_bytes;
	int64_t floor; /* every event numbered in (floor, last] is here */
	int64_t last;  /* the newest committed one's number */
	int started;   /* an event was added (floor means something) */
};

/* At most this many events, however small (the ring's own array). */
#define RECENT_EVENTS_MAX 65536

struct srv_recent *srv_recent_new(size_t max_bytes)
{
	struct srv_recent *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cap = 1024;
	r->ev = calloc(r->cap, sizeof(*r->ev));
	if (!r->ev || pthread_mutex_init(&r->mu, NULL)) {
		free(r->ev);
		free(r);
		return NULL;
	}
	r->max_bytes = max_bytes;
	return r;
}

static struct recent_event *at(struct srv_recent *r, size_t i)
{
	return &r->ev[(r->head + i) % r->cap];
}

/* Let the oldest go; floor moves up to it. Only a committed one (or
 * all, emptying): floor never passes an event not committed yet, or a
 * pull could move a device's cursor past it. */
static void drop_oldest(struct srv_recent *r)
{
	struct recent_event *e = at(r, 0);

	r->floor = e->seq;
	r->bytes -= e->len;
	free(e->json);
	memset(e, 0, sizeof(*e));
	r->head = (r->head + 1) % r->cap;
	r->n--;
	if (r->nvis)
		r->nvis--;
}

static void empty(struct srv_recent *r)
{
	while (r->n)
		drop_oldest(r);
	r->head = 0;
}

void srv_recent_free(struct srv_recent *r)
{
	if (!r)
		return;
	empty(r);
	free(r->ev);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Room for one more entry: the array doubled (to RECENT_EVENTS_MAX), or
 * the oldest let go. */
static int room(struct srv_recent *r)
{
	struct recent_event *v;
	size_t i, cap;

	if (r->n < r->cap)
		return 0;
	if (r->cap >= RECENT_EVENTS_MAX) {
		if (!r->nvis)
			return CB_ETOOBIG; /* all pending: start again */
		drop_oldest(r);
		return 0;
	}
	cap = r->cap ? r->cap * 2 : 1024;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return CB_ENOMEM;
	for (i = 0; i < r->n; i++)
		v[i] = *at(r, i);
	free(r->ev);
	r->ev = v;
	r->cap = cap;
	r->head = 0;
	return 0;
}

/* Forget everything: nothing is covered until the next event. */
static void forget(struct srv_recent *r)
{
	empty(r);
	r->started = 0;
}

int srv_recent_add(struct srv_recent *r, int64_t seq, const char *site,
		   int unblinded, const char *json, size_t len)
{
	size_t slen = strlen(site ? site : "");
	struct recent_event *e;
	char *text = len < SIZE_MAX / 2 && slen < SIZE_MAX / 4
			 ? malloc(len + 1 + slen + 1)
			 : NULL;
	int rc;

	pthread_mutex_lock(&r->mu);
	if (!text) {
		forget(r);
		pthread_mutex_unlock(&r->mu);
		return CB_ENOMEM;
	}
	/* the text, then the site after its NUL: one block */
	memcpy(text, json, len);
	text[len] = '\0';
	memcpy(text + len + 1, site ? site : "", slen + 1);
	/* Not the next number: what lies between is not known here. */
	if (!r->started || seq != (r->n ? at(r, r->n - 1)->seq : r->last) + 1) {
		empty(r);
		r->floor = r->last = seq - 1;
		r->started = 1;
	}
	rc = room(r);
	if (rc) {
		forget(r);
		pthread_mutex_unlock(&r->mu);
		free(text);
		return rc;
	}
	e = at(r, r->n);
	e->seq = seq;
	e->json = text;
	e->len = len;
	e->site = text + len + 1;
	e->unblinded = unblinded;
	r->n++;
	r->bytes += len;
	/* over its bytes: committed ones go (pending ones at the commit) */
	while (r->nvis && r->bytes > r->max_bytes)
		drop_oldest(r);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void srv_recent_commit(struct srv_recent *r)
{
	pthread_mutex_lock(&r->mu);
	r->nvis = r->n;
	if (r->n)
		r->last = at(r, r->n - 1)->seq;
	while (r->n > 1 && r->bytes > r->max_bytes)
		drop_oldest(r);
	pthread_mutex_unlock(&r->mu);
}

void srv_recent_abort(struct srv_recent *r)
{
	pthread_mutex_lock(&r->mu);
	while (r->n > r->nvis) {
		struct recent_event *e = at(r, r->n - 1);

		r->bytes -= e->len;
		free(e->json);
		memset(e, 0, sizeof(*e));
		r->n--;
	}
	pthread_mutex_unlock(&r->mu);
}

/* The index of the first committed event numbered after `since` (nvis
 * when none). */
static size_t first_after(struct srv_recent *r, int64_t since)
{
	size_t lo = 0, hi = r->nvis;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (at(r, mid)->seq <= since)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int srv_recent_pull(
    struct srv_recent *r, int64_t since, long limit, const char *site,
    int unblinded, int (*fn)(const struct srv_event_row *row, void *ctx),
    void *ctx, int (*withheld)(const struct srv_event_row *row, void *wctx),
    void *wctx, int64_t *last, int *covered)
{
	struct srv_event_row row;
	int64_t cursor = since;
	long n = 0;
	size_t i;
	int rc = 0;

	*covered = 0;
	pthread_mutex_lock(&r->mu);
	if (!r->started || since < r->floor) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	*covered = 1;
	memset(&row, 0, sizeof(row));
	for (i = first_after(r, since); i < r->nvis && !rc; i++) {
		const struct recent_event *e = at(r, i);

		if (limit > 0 && n >= limit)
			break;
		if (site && strcmp(e->site, site))
			continue;
		row.seq = e->seq;
		row.site = e->site;
		row.unblinded = e->unblinded;
		row.json = e->json;
		row.json_len = e->len;
		if (e->unblinded && !unblinded) {
			if (withheld)
				rc = withheld(&row, wctx);
			continue;
		}
		cursor = e->seq;
		n++;
		rc = fn(&row, ctx);
	}
	/* Fewer than asked: the cursor goes to the newest, past what the
	 * device may not see. */
	if (!rc && (limit <= 0 || n < limit) && r->last > cursor)
		cursor = r->last;
	pthread_mutex_unlock(&r->mu);
	if (!rc)
		*last = cursor;
	return rc;
}
