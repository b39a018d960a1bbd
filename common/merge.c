/*
 * merge.c - the merge engine (see merge.h for what is derived and why).
 *
 * Events are kept as copies, indexed by id in a hash table. Each change is
 * filed under its item, each item under its form instance, each sign event
 * under its form and each query event under its query, all through hash
 * tables keyed by the names joined with a unit separator (0x1f, which
 * event.h keeps out of every name). Adding an event only files it and
 * marks what it touched as dirty; the first lookup after that recomputes
 * the dirty items and forms ("settling"), and sorts the lists it walks
 * only when something new was added. An item's heads are recomputed from
 * all of its changes, never patched, so the result is a function of the
 * set alone.
 */
#include "merge.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "hmap.h"
#include "id.h"

#define SEP '\x1f'

/* qsort, which must not be handed a NULL base even for no elements. */
static void sort_n(void *base, size_t n, size_t size,
		   int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ---- growable pointer arrays ------------------------------------------ */

struct ptrs {
	void **v;
	size_t n, cap;
};

static int ptrs_reserve(struct ptrs *a, size_t more)
{
	struct cb_err err;

	return cb_array_grow((void **)&a->v, &a->cap, a->n + more,
			     sizeof(*a->v), SIZE_MAX / sizeof(*a->v),
			     "pointers", &err)
		   ? CB_ENOMEM
		   : 0;
}

/*
 * Room for `total` entries in all. The dirty lists hold each item or form
 * at most once, so reserving one slot per item or form when it is created
 * means marking one dirty can never fail.
 */
static int ptrs_reserve_total(struct ptrs *a, size_t total)
{
	return total > a->n ? ptrs_reserve(a, total - a->n) : 0;
}

/* Append; room must have been reserved. */
static void ptrs_push(struct ptrs *a, void *p)
{
	a->v[a->n++] = p;
}

/* Event a comes before b in clock order (hlc, then id)? */
static int clock_cmp(const struct cb_event *a, const struct cb_event *b)
{
	int c = strcmp(a->hlc, b->hlc);

	return c ? c : strcmp(a->id, b->id);
}

/* ---- the state -------------------------------------------------------- */

/* The names of an item or form: one buffer, "a\0b\0c\0..." */
struct names {
	char *key; /* the names joined by SEP: the hash key */
	char *buf; /* the same names NUL-separated */
	const char *part[5];
};

struct mform;

/* One change of one item. */
struct mchange {
	const struct cb_event *ev;
	const struct cb_change *ch;
};

struct mitem {
	struct names nm;
	struct mform *form;
	struct mchange *chg; /* &one while it holds at most one */
	size_t nchg, capchg;
	struct mchange one;
	int dirty;
	/* derived by settle_item */
	size_t nheads;
	const char **head_ids, **head_vals;
	int conflict;
	const char *value;
	char query[CB_EVENT_ID_HEX + 1];
};

struct mform {
	struct names nm;
	struct ptrs items; /* struct mitem * */
	struct ptrs signs; /* const struct cb_event * */
	int dirty;
	/* derived by settle_form */
	size_t nconflicts;
	const struct cb_event *sign;
	int broken;
};

/* The highest instance of one (subject, visit, form): see
 * cb_merge_last_instance. */
struct mseries {
	char *key; /* subject, visit and form joined by SEP */
	unsigned last;
};

struct mquery {
	char id[CB_EVENT_ID_HEX + 1];
	const struct cb_event *open;
	struct ptrs follow; /* answer, close and reopen events, clock order */
};

/*
 * Insert `ev` among the follow-ups of `q` in clock order (room reserved):
 * they mostly arrive in that order, so this is nearly always an append,
 * and reading a query's status is one walk (query_follow).
 */
static void follow_insert(struct mquery *q, const struct cb_event *ev)
{
	size_t i = q->follow.n;

	while (i > 0 && clock_cmp(q->follow.v[i - 1], ev) > 0) {
		q->follow.v[i] = q->follow.v[i - 1];
		i--;
	}
	q->follow.v[i] = (void *)ev;
	q->follow.n++;
}

struct cb_merge {
	struct cb_hmap events, items, forms, queries, subjects, series;
	struct ptrs evs;      /* struct cb_event *, owned */
	struct ptrs seriesv;  /* struct mseries *, owned */
	struct ptrs itemv;    /* struct mitem *, owned */
	struct ptrs formv;    /* struct mform *, owned */
	struct ptrs queryv;   /* struct mquery *, owned */
	struct ptrs subjectv; /* char *, owned */
	struct ptrs dirty_items, dirty_forms;
	/* which lists need sorting before a walk */
	int evs_sorted, items_sorted, forms_sorted, subjects_sorted;
};

int cb_merge_new(struct cb_merge **out, struct cb_err *err)
{
	struct cb_merge *m = calloc(1, sizeof(*m));
	uint64_t seed;

	*out = NULL;
	if (!m)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	cb_random_bytes(&seed, sizeof(seed));
	m->events.seed = seed;
	m->items.seed = seed ^ 0x1111111111111111ULL;
	m->forms.seed = seed ^ 0x2222222222222222ULL;
	m->queries.seed = seed ^ 0x3333333333333333ULL;
	m->subjects.seed = seed ^ 0x4444444444444444ULL;
	m->series.seed = seed ^ 0x5555555555555555ULL;
	*out = m;
	return 0;
}

/* Free and forget: the error paths of names_make and its callers may
 * both come here for one struct. */
static void names_free(struct names *nm)
{
	free(nm->key); /* buf is in the same block */
	nm->key = NULL;
	nm->buf = NULL;
}

void cb_merge_free(struct cb_merge *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->evs.n; i++) {
		cb_event_release(m->evs.v[i]);
		free(m->evs.v[i]);
	}
	for (i = 0; i < m->itemv.n; i++) {
		struct mitem *it = m->itemv.v[i];

		names_free(&it->nm);
		if (it->chg != &it->one)
			free(it->chg);
		free(it->head_ids);
		free(it->head_vals);
		free(it);
	}
	for (i = 0; i < m->formv.n; i++) {
		struct mform *f = m->formv.v[i];

		names_free(&f->nm);
		free(f->items.v);
		free(f->signs.v);
		free(f);
	}
	for (i = 0; i < m->queryv.n; i++) {
		struct mquery *q = m->queryv.v[i];

		free(q->follow.v);
		free(q);
	}
	for (i = 0; i < m->subjectv.n; i++)
		free(m->subjectv.v[i]);
	for (i = 0; i < m->seriesv.n; i++) {
		struct mseries *se = m->seriesv.v[i];

		free(se->key);
		free(se);
	}
	free(m->seriesv.v);
	free(m->series.slots);
	free(m->evs.v);
	free(m->itemv.v);
	free(m->formv.v);
	free(m->queryv.v);
	free(m->subjectv.v);
	free(m->dirty_items.v);
	free(m->dirty_forms.v);
	free(m->events.slots);
	free(m->items.slots);
	free(m->forms.slots);
	free(m->queries.slots);
	free(m->subjects.slots);
	free(m);
}

size_t cb_merge_count(const struct cb_merge *m)
{
	return m->evs.n;
}

const struct cb_event *cb_merge_event(const struct cb_merge *m, const char *id)
{
	return id ? cb_hmap_get(&m->events, id) : NULL;
}

/* The hash key of n names: joined by SEP into buf of `cap` bytes. */
static int join_key(const char *const *part, size_t n, char *buf, size_t cap)
{
	size_t len = 0, i, l;

	for (i = 0; i < n; i++) {
		l = strlen(part[i]);
		if (len + l + 2 > cap)
			return CB_ETOOBIG;
		memcpy(buf + len, part[i], l);
		len += l;
		buf[len++] = SEP;
	}
	buf[len ? len - 1 : 0] = '\0';
	return 0;
}

/* Longest key: five names of CB_EVENT_NAME_MAX and separators. */
#define KEY_MAX (6 * (CB_EVENT_NAME_MAX + 1) + CB_EVENT_INSTANCE_MAX)

static int names_make(struct names *nm, const char *const *part, size_t n,
		      const char *key)
{
	size_t len = strlen(key), i, off = 0;

	/* one block, the key then the names: a server's cache holds tens of
	 * thousands of items, each made under the write lock */
	nm->key = malloc(2 * (len + 1));
	if (!nm->key)
		return CB_ENOMEM;
	memcpy(nm->key, key, len + 1);
	nm->buf = nm->key + len + 1;
	for (i = 0; i < n; i++) {
		size_t l = strlen(part[i]);

		memcpy(nm->buf + off, part[i], l + 1);
		nm->part[i] = nm->buf + off;
		off += l + 1;
	}
	return 0;
}

/* Count instance part[3] of (part[0], part[1], part[2]) in the index. */
static int series_note(struct cb_merge *m, const char *const *part)
{
	char key[KEY_MAX], *end;
	struct mseries *se;
	unsigned long n;

	if (!part[3][0])
		return 0; /* not a repeating form's instance */
	n = strtoul(part[3], &end, 10);
	if (*end || n == 0 || join_key(part, 3, key, sizeof(key)))
		return 0;
	if (n > UINT_MAX)
		n = UINT_MAX;
	se = cb_hmap_get(&m->series, key);
	if (!se) {
		se = calloc(1, sizeof(*se));
		if (se)
			se->key = strdup(key);
		if (!se || !se->key || cb_hmap_reserve(&m->series, 1) ||
		    ptrs_reserve(&m->seriesv, 1)) {
			if (se)
				free(se->key);
			free(se);
			return CB_ENOMEM;
		}
		cb_hmap_put(&m->series, se->key, se);
		ptrs_push(&m->seriesv, se);
	}
	if (n > se->last)
		se->last = (unsigned)n;
	return 0;
}

unsigned cb_merge_last_instance(const struct cb_merge *m, const char *subject,
				const char *visit, const char *form)
{
	const char *part[3] = {subject, visit, form};
	const struct mseries *se;
	char key[KEY_MAX];

	if (!subject || !visit || !form || join_key(part, 3, key, sizeof(key)))
		return 0;
	se = cb_hmap_get(&m->series, key);
	return se ? se->last : 0;
}

/* The form of `ev`'s target, created (empty) if missing. */
static struct mform *form_for(struct cb_merge *m, const struct cb_event *ev,
			      int *rc)
{
	const char *part[4] = {ev->subject, ev->visit, ev->form, ev->instance};
	char key[KEY_MAX];
	struct mform *f;

	*rc = join_key(part, 4, key, sizeof(key));
	if (*rc)
		return NULL;
	f = cb_hmap_get(&m->forms, key);
	if (f)
		return f;
	*rc = series_note(m, part);
	if (*rc)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f || names_make(&f->nm, part, 4, key) ||
	    cb_hmap_reserve(&m->forms, 1) || ptrs_reserve(&m->formv, 1) ||
	    ptrs_reserve_total(&m->dirty_forms, m->formv.n + 1)) {
		if (f && f->nm.key)
			names_free(&f->nm);
		free(f);
		*rc = CB_ENOMEM;
		return NULL;
	}
	cb_hmap_put(&m->forms, f->nm.key, f);
	ptrs_push(&m->formv, f);
	m->forms_sorted = 0;
	return f;
}

/*
 * Room for one more change of `it`. Most items are changed once, and a
 * server's cache holds tens of thousands of them, made under the write
 * lock: the first is kept in the item itself (no allocation), then the
 * list doubles from two (cb_array_grow's sixteen would be most of a
 * cached subject's memory). CB_ENOMEM.
 */
static int chg_reserve(struct mitem *it)
{
	struct mchange *p;
	size_t cap;

	if (it->nchg < it->capchg)
		return 0;
	if (!it->capchg) { /* the first: in the item itself */
		it->chg = &it->one;
		it->capchg = 1;
		return 0;
	}
	if (it->capchg > SIZE_MAX / 2 / sizeof(*p))
		return CB_ENOMEM;
	cap = it->capchg * 2;
	p = malloc(cap * sizeof(*p));
	if (!p)
		return CB_ENOMEM;
	memcpy(p, it->chg, it->nchg * sizeof(*p));
	if (it->chg != &it->one)
		free(it->chg);
	it->chg = p;
	it->capchg = cap;
	return 0;
}

/*
 * Add `it` to its form's items (room reserved), keeping them in byte
 * order of the item's name (cb_merge_each_item walks one form instance's
 * in that order): a form has tens of items, and a form's items mostly
 * arrive together, in any order.
 */
static void form_add_item(struct mform *f, struct mitem *it)
{
	size_t i = f->items.n;

	while (i > 0 &&
	       strcmp(((const struct mitem *)f->items.v[i - 1])->nm.part[4],
		      it->nm.part[4]) > 0) {
		f->items.v[i] = f->items.v[i - 1];
		i--;
	}
	f->items.v[i] = it;
	f->items.n++;
}

/* The item changed by ev->changes[ci], created (empty) if missing. */
static struct mitem *item_for(struct cb_merge *m, const struct cb_event *ev,
			      const char *item, int *rc)
{
	const char *part[5] = {ev->subject, ev->visit, ev->form, ev->instance,
			       item};
	char key[KEY_MAX];
	struct mitem *it;
	struct mform *f;

	*rc = join_key(part, 5, key, sizeof(key));
	if (*rc)
		return NULL;
	it = cb_hmap_get(&m->items, key);
	if (it)
		return it;
	f = form_for(m, ev, rc);
	if (!f)
		return NULL;
	it = calloc(1, sizeof(*it));
	if (!it || names_make(&it->nm, part, 5, key) ||
	    cb_hmap_reserve(&m->items, 1) || ptrs_reserve(&m->itemv, 1) ||
	    ptrs_reserve(&f->items, 1) ||
	    ptrs_reserve_total(&m->dirty_items, m->itemv.n + 1)) {
		if (it && it->nm.key)
			names_free(&it->nm);
		free(it);
		*rc = CB_ENOMEM;
		return NULL;
	}
	it->form = f;
	cb_hmap_put(&m->items, it->nm.key, it);
	ptrs_push(&m->itemv, it);
	form_add_item(f, it);
	m->items_sorted = 0;
	return it;
}

/* The query with this id, created (empty) if missing. */
static struct mquery *query_for(struct cb_merge *m, const char *id, int *rc)
{
	struct mquery *q = cb_hmap_get(&m->queries, id);

	*rc = 0;
	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q || cb_hmap_reserve(&m->queries, 1) ||
	    ptrs_reserve(&m->queryv, 1)) {
		free(q);
		*rc = CB_ENOMEM;
		return NULL;
	}
	memcpy(q->id, id, sizeof(q->id));
	cb_hmap_put(&m->queries, q->id, q);
	ptrs_push(&m->queryv, q);
	return q;
}

/* query.answer, query.close and query.reopen name their query in
 * data.query. */
static int is_query_followup(const char *kind)
{
	return strcmp(kind, CB_KIND_QUERY_ANSWER) == 0 ||
	       strcmp(kind, CB_KIND_QUERY_CLOSE) == 0 ||
	       strcmp(kind, CB_KIND_QUERY_REOPEN) == 0;
}

/* Same signed content (sig and received_at aside)? */
static int same_content(const struct cb_event *a, const struct cb_event *b,
			int *same, struct cb_err *err)
{
	char *ta = NULL, *tb = NULL;
	size_t la, lb;
	int rc;

	rc = cb_event_signing_bytes(a, &ta, &la, err);
	if (!rc)
		rc = cb_event_signing_bytes(b, &tb, &lb, err);
	if (!rc)
		*same = la == lb && memcmp(ta, tb, la) == 0;
	free(ta);
	free(tb);
	return rc;
}

static void mark_item(struct cb_merge *m, struct mitem *it)
{
	if (!it->dirty) {
		it->dirty = 1;
		ptrs_push(&m->dirty_items, it);
	}
}

static void mark_form(struct cb_merge *m, struct mform *f)
{
	if (!f->dirty) {
		f->dirty = 1;
		ptrs_push(&m->dirty_forms, f);
	}
}

/*
 * Add `ev`: a deep copy of it, or when `take` is `ev` itself, its own
 * content (handed to the set only once nothing can fail any more).
 * *filed (may be NULL) is the set's event with that id.
 */
static int add_event(struct cb_merge *m, const struct cb_event *ev,
		     struct cb_event *take, const struct cb_event **filed,
		     int *added, struct cb_err *err)
{
	const struct cb_event *have;
	struct cb_event *copy = NULL;
	struct mitem **items = NULL;
	struct mform *sform = NULL;
	struct mquery *query = NULL;
	char *subj = NULL;
	size_t i, nchg;
	int rc, same;

	/* take, when given, is ev itself (cb_merge_take) */
	assert(ev && (!take || take == ev));
	if (added)
		*added = 0;
	if (filed)
		*filed = NULL;
	rc = cb_event_validate(ev, err);
	if (rc)
		return cb_err_prefix(err, "event %.32s: ", ev->id);
	have = cb_hmap_get(&m->events, ev->id);
	if (filed)
		*filed = have;
	if (have) {
		rc = same_content(have, ev, &same, err);
		if (rc)
			return rc;
		if (!same)
			return cb_err_set(err, CB_ECONFLICT,
					  "event %s: another event with this "
					  "id and different content is "
					  "already recorded",
					  ev->id);
		return 0;
	}

	/*
	 * Allocate everything first: once the event is filed, nothing may
	 * fail, so an out-of-memory leaves the set as it was (at worst with
	 * empty items, forms or queries, which nothing shows).
	 */
	copy = malloc(sizeof(*copy));
	if (!copy)
		goto nomem;
	cb_event_init(copy);
	if (take)
		*copy = *take; /* shared until filed: see below */
	else if (cb_event_copy(copy, ev, err))
		goto nomem;
	/* The copy's changes are ev's: items[i] is the item of change i. */
	nchg = ev->nchanges;
	if (nchg) {
		items = calloc(nchg, sizeof(*items));
		if (!items)
			goto nomem;
	}
	for (i = 0; i < nchg; i++) {
		struct mitem *it =
		    item_for(m, copy, copy->changes[i].item, &rc);

		if (!it)
			goto fail;
		if (chg_reserve(it))
			goto nomem;
		items[i] = it;
	}
	if (strcmp(ev->kind, CB_KIND_SIGN) == 0) {
		sform = form_for(m, copy, &rc);
		if (!sform)
			goto fail;
		if (ptrs_reserve(&sform->signs, 1))
			goto nomem;
	}
	if (strcmp(ev->kind, CB_KIND_QUERY_OPEN) == 0 ||
	    is_query_followup(ev->kind)) {
		const char *qid = is_query_followup(ev->kind)
				      ? cb_event_data(ev, CB_DATA_QUERY)
				      : copy->id;

		query = query_for(m, qid, &rc);
		if (!query)
			goto fail;
		if (ptrs_reserve(&query->follow, 1))
			goto nomem;
	}
	if (!cb_hmap_get(&m->subjects, ev->subject)) {
		subj = strdup(ev->subject);
		if (!subj || cb_hmap_reserve(&m->subjects, 1) ||
		    ptrs_reserve(&m->subjectv, 1))
			goto nomem;
	}
	if (cb_hmap_reserve(&m->events, 1) || ptrs_reserve(&m->evs, 1))
		goto nomem;

	/* file it: nothing below can fail */
	cb_hmap_put(&m->events, copy->id, copy);
	ptrs_push(&m->evs, copy);
	/* Events mostly come in clock order: one that sorts after the last
	 * keeps the list sorted, so walking the events sorts nothing. */
	if (m->evs.n > 1 && clock_cmp(m->evs.v[m->evs.n - 2], copy) > 0)
		m->evs_sorted = 0;
	if (subj) {
		cb_hmap_put(&m->subjects, subj, subj);
		ptrs_push(&m->subjectv, subj);
		m->subjects_sorted = 0;
	}
	for (i = 0; i < nchg; i++) {
		struct mitem *it = items[i];

		it->chg[it->nchg].ev = copy;
		it->chg[it->nchg].ch = &copy->changes[i];
		it->nchg++;
		mark_item(m, it);
	}
	if (sform) {
		ptrs_push(&sform->signs, copy);
		mark_form(m, sform);
	}
	if (query) {
		if (strcmp(copy->kind, CB_KIND_QUERY_OPEN) == 0)
			query->open = copy;
		else
			follow_insert(query, copy);
	}
	free(items);
	if (take)
		cb_event_init(take); /* its content is the set's now */
	if (filed)
		*filed = copy;
	if (added)
		*added = 1;
	return 0;

nomem:
	rc = cb_err_set(err, CB_ENOMEM, "out of memory");
fail:
	/* item_for, form_for and query_for give a code, not a message */
	if (rc == CB_ETOOBIG)
		rc = cb_err_set(err, CB_EINVAL, "event %s: names too long",
				ev->id);
	else if (rc == CB_ENOMEM)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	free(subj);
	free(items);
	if (copy && !take)
		cb_event_release(copy);
	free(copy); /* taken: the content is still the caller's */
	return rc;
}

int cb_merge_add(struct cb_merge *m, const struct cb_event *ev, int *added,
		 struct cb_err *err)
{
	return add_event(m, ev, NULL, NULL, added, err);
}

int cb_merge_take(struct cb_merge *m, struct cb_event *ev,
		  const struct cb_event **filed, int *added, struct cb_err *err)
{
	return add_event(m, ev, ev, filed, added, err);
}

/* ---- settling: deriving heads, conflicts and signatures ---------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int same_value(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int cb_merge_conflict_id(const char *subject, const char *visit,
			 const char *form, const char *instance,
			 const char *item, const char *const *heads,
			 size_t nheads, char out[CB_EVENT_ID_HEX + 1],
			 struct cb_err *err)
{
	static const char domain[] = "casebook conflict v1\n";
	const char *part[5] = {subject, visit, form, instance, item};
	unsigned char hash[CB_HASH_BYTES];
	const char **sorted;
	size_t len = sizeof(domain), i, off = 0;
	char *buf;

	for (i = 0; i < 5; i++)
		len += strlen(part[i]) + 1;
	len += nheads * (CB_EVENT_ID_HEX + 1);
	buf = malloc(len);
	sorted = malloc((nheads ? nheads : 1) * sizeof(*sorted));
	if (!buf || !sorted) {
		free(buf);
		free(sorted);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (nheads)
		memcpy(sorted, heads, nheads * sizeof(*sorted));
	sort_n(sorted, nheads, sizeof(*sorted), cmp_str_ptr);
	memcpy(buf, domain, sizeof(domain) - 1);
	off = sizeof(domain) - 1;
	for (i = 0; i < 5; i++) {
		size_t l = strlen(part[i]);

		memcpy(buf + off, part[i], l);
		off += l;
		buf[off++] = i < 4 ? SEP : '\n';
	}
	for (i = 0; i < nheads; i++) {
		memcpy(buf + off, sorted[i], CB_EVENT_ID_HEX);
		off += CB_EVENT_ID_HEX;
		buf[off++] = ',';
	}
	cb_hash(buf, off, hash);
	cb_id_from_bytes(hash, out);
	free(buf);
	free(sorted);
	return 0;
}

static int cmp_change_by_id(const void *a, const void *b)
{
	return strcmp(((const struct mchange *)a)->ev->id,
		      ((const struct mchange *)b)->ev->id);
}

/*
 * Recompute an item's heads from all its changes: the changes whose event
 * no change of this item names in prev.
 */
static int settle_item(struct mitem *it)
{
	const char **named, **ids, **vals;
	size_t nnamed = 0, i, j, nh = 0;
	int rc;

	/* Only an item that was given a change is marked dirty. */
	assert(it->nchg > 0);
	for (i = 0; i < it->nchg; i++)
		nnamed += it->chg[i].ch->nprev;
	/* One slot at least: no change may name another. */
	named = malloc((nnamed ? nnamed : 1) * sizeof(*named));
	ids = malloc(it->nchg * sizeof(*ids));
	vals = malloc(it->nchg * sizeof(*vals));
	if (!named || !ids || !vals) {
		free(named);
		free(ids);
		free(vals);
		return CB_ENOMEM;
	}
	nnamed = 0;
	for (i = 0; i < it->nchg; i++)
		for (j = 0; j < it->chg[i].ch->nprev; j++)
			named[nnamed++] = it->chg[i].ch->prev[j];
	sort_n(named, nnamed, sizeof(*named), cmp_str_ptr);
	/* sorted by event id, so the heads come out sorted */
	sort_n(it->chg, it->nchg, sizeof(*it->chg), cmp_change_by_id);
	for (i = 0; i < it->nchg; i++) {
		const char *id = it->chg[i].ev->id;

		if (nnamed &&
		    bsearch(&id, named, nnamed, sizeof(*named), cmp_str_ptr))
			continue;
		ids[nh] = id;
		vals[nh++] = it->chg[i].ch->value;
	}
	if (nh == 0) {
		/* every change superseded: only a cycle does that */
		for (i = 0; i < it->nchg; i++) {
			ids[nh] = it->chg[i].ev->id;
			vals[nh++] = it->chg[i].ch->value;
		}
	}
	free(named);
	free(it->head_ids);
	free(it->head_vals);
	it->head_ids = ids;
	it->head_vals = vals;
	it->nheads = nh;
	it->conflict = 0;
	for (i = 1; i < nh; i++)
		if (!same_value(vals[0], vals[i]))
			it->conflict = 1;
	it->value = it->conflict ? NULL : vals[0];
	it->query[0] = '\0';
	if (it->conflict) {
		rc = cb_merge_conflict_id(
		    it->nm.part[0], it->nm.part[1], it->nm.part[2],
		    it->nm.part[3], it->nm.part[4], ids, nh, it->query, NULL);
		if (rc)
			return rc;
	}
	it->dirty = 0;
	return 0;
}

/* Is `id` in a data.seen list (sorted ids joined by ',')? */
static int seen_has(const char *seen, const char *id)
{
	size_t n = (strlen(seen) + 1) / (CB_EVENT_ID_HEX + 1), lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(seen + mid * (CB_EVENT_ID_HEX + 1), id,
			       CB_EVENT_ID_HEX);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Recompute a form's conflict count and signature state. */
static void settle_form(struct mform *f)
{
	const char *seen;
	size_t i, j;

	f->nconflicts = 0;
	f->sign = NULL;
	f->broken = 0;
	for (i = 0; i < f->items.n; i++) {
		const struct mitem *it = f->items.v[i];

		if (it->nchg && it->conflict)
			f->nconflicts++;
	}
	for (i = 0; i < f->signs.n; i++) {
		const struct cb_event *s = f->signs.v[i];

		if (!f->sign || clock_cmp(s, f->sign) > 0)
			f->sign = s;
	}
	if (f->sign) {
		seen = cb_event_data(f->sign, CB_DATA_SEEN);
		if (!seen)
			seen = "";
		for (i = 0; i < f->items.n && !f->broken; i++) {
			const struct mitem *it = f->items.v[i];

			for (j = 0; j < it->nheads && it->nchg; j++)
				if (!seen_has(seen, it->head_ids[j])) {
					f->broken = 1;
					break;
				}
		}
	}
	f->dirty = 0;
}

/*
 * Bring the derived state up to date. Only CB_ENOMEM can fail, and then
 * the items not yet settled stay dirty for the next try.
 */
static int settle(struct cb_merge *m)
{
	size_t i;
	int rc;

	while (m->dirty_items.n) {
		struct mitem *it = m->dirty_items.v[m->dirty_items.n - 1];

		rc = settle_item(it);
		if (rc)
			return rc;
		m->dirty_items.n--;
		/* room for every form was reserved when it was created */
		mark_form(m, it->form);
	}
	for (i = 0; i < m->dirty_forms.n; i++)
		settle_form(m->dirty_forms.v[i]);
	m->dirty_forms.n = 0;
	return 0;
}

/* Instances compare as numbers ("" first), other names as bytes. */
static int cmp_instance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int cmp_parts(const char *const *a, const char *const *b, size_t n)
{
	size_t i;
	int c;

	for (i = 0; i < n; i++) {
		c = i == 3 ? cmp_instance(a[i], b[i]) : strcmp(a[i], b[i]);
		if (c)
			return c;
	}
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	return cmp_parts((*(struct mitem *const *)a)->nm.part,
			 (*(struct mitem *const *)b)->nm.part, 5);
}

static int cmp_form(const void *a, const void *b)
{
	return cmp_parts((*(struct mform *const *)a)->nm.part,
			 (*(struct mform *const *)b)->nm.part, 4);
}

static int cmp_event_clock(const void *a, const void *b)
{
	return clock_cmp(*(struct cb_event *const *)a,
			 *(struct cb_event *const *)b);
}

/* Sort the events in clock order, when one came out of order. */
static void sort_events(struct cb_merge *m)
{
	if (!m->evs_sorted) {
		sort_n(m->evs.v, m->evs.n, sizeof(void *), cmp_event_clock);
		m->evs_sorted = 1;
	}
}

/* Settle, then sort whatever the walks need. */
static int prepare(struct cb_merge *m)
{
	int rc = settle(m);

	if (rc)
		return rc;
	sort_events(m);
	if (!m->items_sorted) {
		sort_n(m->itemv.v, m->itemv.n, sizeof(void *), cmp_item);
		m->items_sorted = 1;
	}
	if (!m->forms_sorted) {
		sort_n(m->formv.v, m->formv.n, sizeof(void *), cmp_form);
		m->forms_sorted = 1;
	}
	if (!m->subjects_sorted) {
		sort_n(m->subjectv.v, m->subjectv.n, sizeof(void *),
		       cmp_str_ptr);
		m->subjects_sorted = 1;
	}
	return 0;
}

/* ---- views ------------------------------------------------------------ */

static void item_view(const struct mitem *it, struct cb_merge_item *out)
{
	out->subject = it->nm.part[0];
	out->visit = it->nm.part[1];
	out->form = it->nm.part[2];
	out->instance = it->nm.part[3];
	out->item = it->nm.part[4];
	out->conflict = it->conflict;
	out->value = it->value;
	out->nheads = it->nheads;
	out->heads = it->head_ids;
	out->head_values = it->head_vals;
	out->query = it->conflict ? it->query : NULL;
	out->nchanges = it->nchg;
}

static void form_view(const struct mform *f, struct cb_merge_form *out)
{
	size_t i;

	out->subject = f->nm.part[0];
	out->visit = f->nm.part[1];
	out->form = f->nm.part[2];
	out->instance = f->nm.part[3];
	out->nitems = 0;
	for (i = 0; i < f->items.n; i++)
		if (((const struct mitem *)f->items.v[i])->nchg)
			out->nitems++;
	out->nconflicts = f->nconflicts;
	out->nsigns = f->signs.n;
	out->sign = f->sign;
	out->broken = f->broken;
}

static struct mitem *find_item(struct cb_merge *m, const char *subject,
			       const char *visit, const char *form,
			       const char *instance, const char *item)
{
	const char *part[5] = {subject, visit, form, instance, item};
	char key[KEY_MAX];
	struct mitem *it;
	size_t i;

	for (i = 0; i < 5; i++)
		if (!part[i])
			return NULL;
	if (join_key(part, 5, key, sizeof(key)))
		return NULL;
	it = cb_hmap_get(&m->items, key);
	return it && it->nchg ? it : NULL;
}

static struct mform *find_form(struct cb_merge *m, const char *subject,
			       const char *visit, const char *form,
			       const char *instance)
{
	const char *part[4] = {subject, visit, form, instance};
	char key[KEY_MAX];
	struct mform *f;
	size_t i, live = 0;

	for (i = 0; i < 4; i++)
		if (!part[i])
			return NULL;
	if (join_key(part, 4, key, sizeof(key)))
		return NULL;
	f = cb_hmap_get(&m->forms, key);
	if (!f)
		return NULL;
	for (i = 0; i < f->items.n; i++)
		if (((const struct mitem *)f->items.v[i])->nchg)
			live++;
	return live || f->signs.n ? f : NULL;
}

int cb_merge_item_get(struct cb_merge *m, const char *subject,
		      const char *visit, const char *form, const char *instance,
		      const char *item, struct cb_merge_item *out,
		      struct cb_err *err)
{
	struct mitem *it;
	int rc = settle(m);

	if (rc)
		return cb_err_set(err, rc, "out of memory");
	it = find_item(m, subject, visit, form, instance, item);
	if (!it)
		return cb_err_set(
		    err, CB_ENOTFOUND, "no value recorded for %s %s %s%s%s %s",
		    subject ? subject : "?", visit ? visit : "?",
		    form ? form : "?", instance && *instance ? "#" : "",
		    instance ? instance : "", item ? item : "?");
	item_view(it, out);
	return 0;
}

static int name_matches(const char *want, const char *have)
{
	return !want || strcmp(want, have) == 0;
}

int cb_merge_each_item(struct cb_merge *m, const char *subject,
		       const char *visit, const char *form,
		       const char *instance,
		       int (*fn)(const struct cb_merge_item *it, void *ctx),
		       void *ctx)
{
	/* One form instance named whole: its own items, kept in order of
	 * the item's name (form_add_item), without a walk of the rest. */
	const int one = subject && visit && form && instance;
	struct mform *f = NULL;
	struct ptrs *v = &m->itemv;
	struct cb_merge_item view;
	size_t i;
	int rc = one ? settle(m) : prepare(m);

	if (rc)
		return rc;
	if (one) {
		f = find_form(m, subject, visit, form, instance);
		if (!f)
			return 0;
		v = &f->items;
	}
	for (i = 0; i < v->n; i++) {
		const struct mitem *it = v->v[i];

		if (!it->nchg)
			continue;
		if (!one && (!name_matches(subject, it->nm.part[0]) ||
			     !name_matches(visit, it->nm.part[1]) ||
			     !name_matches(form, it->nm.part[2]) ||
			     !name_matches(instance, it->nm.part[3])))
			continue;
		item_view(it, &view);
		rc = fn(&view, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int cb_merge_each_conflict(struct cb_merge *m,
			   int (*fn)(const struct cb_merge_item *it, void *ctx),
			   void *ctx)
{
	struct cb_merge_item view;
	size_t i;
	int rc = prepare(m);

	if (rc)
		return rc;
	for (i = 0; i < m->itemv.n; i++) {
		const struct mitem *it = m->itemv.v[i];

		if (!it->nchg || !it->conflict)
			continue;
		item_view(it, &view);
		rc = fn(&view, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

size_t cb_merge_conflict_count(struct cb_merge *m)
{
	size_t i, n = 0;

	if (settle(m))
		return 0;
	for (i = 0; i < m->itemv.n; i++) {
		const struct mitem *it = m->itemv.v[i];

		n += it->nchg && it->conflict;
	}
	return n;
}

int cb_merge_each_event(struct cb_merge *m, const char *subject,
			int (*fn)(const struct cb_event *ev, void *ctx),
			void *ctx)
{
	size_t i;
	int rc;

	/* Only the events: the items and forms are settled and sorted by
	 * the walks that read them (a rule that looks for the subject's
	 * first event, once per event checked, sorts nothing else). */
	sort_events(m);
	for (i = 0; i < m->evs.n; i++) {
		const struct cb_event *ev = m->evs.v[i];

		if (!name_matches(subject, ev->subject))
			continue;
		rc = fn(ev, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int cb_merge_each_subject(struct cb_merge *m,
			  int (*fn)(const char *subject, void *ctx), void *ctx)
{
	size_t i;
	int rc = prepare(m);

	if (rc)
		return rc;
	for (i = 0; i < m->subjectv.n; i++) {
		rc = fn(m->subjectv.v[i], ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- audit trail ------------------------------------------------------ */

static int cmp_change_clock(const void *a, const void *b)
{
	return clock_cmp(((const struct mchange *)a)->ev,
			 ((const struct mchange *)b)->ev);
}

static int cmp_id_to_change(const void *key, const void *elem)
{
	return strcmp((const char *)key,
		      ((const struct mchange *)elem)->ev->id);
}

int cb_merge_history(struct cb_merge *m, const char *subject, const char *visit,
		     const char *form, const char *instance, const char *item,
		     int (*fn)(const struct cb_merge_change *c, void *ctx),
		     void *ctx, struct cb_err *err)
{
	struct cb_merge_old old[CB_EVENT_MAX_PREV];
	struct cb_merge_change view;
	struct mchange *order;
	struct mitem *it;
	const char *hid;
	size_t i, j;
	int rc = settle(m);

	if (rc)
		return cb_err_set(err, rc, "out of memory");
	it = find_item(m, subject, visit, form, instance, item);
	if (!it)
		return cb_err_set(
		    err, CB_ENOTFOUND, "no history for %s %s %s%s%s %s",
		    subject ? subject : "?", visit ? visit : "?",
		    form ? form : "?", instance && *instance ? "#" : "",
		    instance ? instance : "", item ? item : "?");
	/* it->chg is sorted by id after settling; copy it in clock order */
	order = malloc(it->nchg * sizeof(*order));
	if (!order)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	memcpy(order, it->chg, it->nchg * sizeof(*order));
	sort_n(order, it->nchg, sizeof(*order), cmp_change_clock);
	for (i = 0; i < it->nchg; i++) {
		const struct cb_change *ch = order[i].ch;

		for (j = 0; j < ch->nprev; j++) {
			const struct mchange *p =
			    bsearch(ch->prev[j], it->chg, it->nchg,
				    sizeof(*it->chg), cmp_id_to_change);

			old[j].id = ch->prev[j];
			old[j].known = p != NULL;
			old[j].value = p ? p->ch->value : NULL;
		}
		view.ev = order[i].ev;
		view.value = ch->value;
		view.nold = ch->nprev;
		view.old = old;
		hid = order[i].ev->id;
		view.head = bsearch(&hid, it->head_ids, it->nheads,
				    sizeof(*it->head_ids), cmp_str_ptr) != NULL;
		rc = fn(&view, ctx);
		if (rc)
			break;
	}
	free(order);
	return rc;
}

/* ---- forms -------------------------------------------------------------- */

int cb_merge_form_get(struct cb_merge *m, const char *subject,
		      const char *visit, const char *form, const char *instance,
		      struct cb_merge_form *out, struct cb_err *err)
{
	struct mform *f;
	int rc = settle(m);

	if (rc)
		return cb_err_set(err, rc, "out of memory");
	f = find_form(m, subject, visit, form, instance);
	if (!f)
		return cb_err_set(
		    err, CB_ENOTFOUND, "nothing recorded on %s %s %s%s%s",
		    subject ? subject : "?", visit ? visit : "?",
		    form ? form : "?", instance && *instance ? "#" : "",
		    instance ? instance : "");
	form_view(f, out);
	return 0;
}

int cb_merge_each_form(struct cb_merge *m, const char *subject,
		       int (*fn)(const struct cb_merge_form *f, void *ctx),
		       void *ctx)
{
	struct cb_merge_form view;
	size_t i;
	int rc = prepare(m);

	if (rc)
		return rc;
	for (i = 0; i < m->formv.n; i++) {
		const struct mform *f = m->formv.v[i];

		if (!name_matches(subject, f->nm.part[0]))
			continue;
		form_view(f, &view);
		if (!view.nitems && !view.nsigns)
			continue;
		rc = fn(&view, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

int cb_merge_form_seen(struct cb_merge *m, const char *subject,
		       const char *visit, const char *form,
		       const char *instance, char **out, struct cb_err *err)
{
	const char **ids;
	struct mform *f;
	size_t n = 0, i, j, len = 0;
	char *text;
	int rc = settle(m);

	*out = NULL;
	if (rc)
		return cb_err_set(err, rc, "out of memory");
	f = find_form(m, subject, visit, form, instance);
	for (i = 0; f && i < f->items.n; i++)
		n += ((const struct mitem *)f->items.v[i])->nheads;
	ids = malloc((n ? n : 1) * sizeof(*ids));
	text = malloc(n * (CB_EVENT_ID_HEX + 1) + 1);
	if (!ids || !text) {
		free(ids);
		free(text);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	n = 0;
	for (i = 0; f && i < f->items.n; i++) {
		const struct mitem *it = f->items.v[i];

		for (j = 0; it->nchg && j < it->nheads; j++)
			ids[n++] = it->head_ids[j];
	}
	sort_n(ids, n, sizeof(*ids), cmp_str_ptr);
	text[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i && strcmp(ids[i], ids[i - 1]) == 0)
			continue;
		if (len)
			text[len++] = ',';
		memcpy(text + len, ids[i], CB_EVENT_ID_HEX);
		len += CB_EVENT_ID_HEX;
	}
	text[len] = '\0';
	free(ids);
	*out = text;
	return 0;
}

/* ---- queries ------------------------------------------------------------ */

const char *cb_query_status_name(enum cb_query_status status)
{
	switch (status) {
	case CB_QUERY_OPEN:
		return "open";
	case CB_QUERY_ANSWERED:
		return "answered";
	case CB_QUERY_CLOSED:
		return "closed";
	}
	return "?";
}

/*
 * Fill status, answers, close and reopen of `out` from the events naming
 * the query, walked in clock order (they are kept so) so that every
 * replica holding them derives the same: an answer makes an open query
 * answered, a close closes it (a second close changes nothing), a reopen
 * opens a closed one again (awaiting a new answer). Without reopens that
 * is "closed once any close exists", the first close being the one in
 * effect.
 */
static void query_follow(const struct mquery *q, struct cb_merge_query *out)
{
	size_t i;

	out->status = CB_QUERY_OPEN;
	out->nanswers = 0;
	out->answer = NULL;
	out->close = NULL;
	out->reopen = NULL;
	for (i = 0; q && i < q->follow.n; i++) {
		const struct cb_event *ev = q->follow.v[i];

		if (strcmp(ev->kind, CB_KIND_QUERY_ANSWER) == 0) {
			out->nanswers++;
			out->answer = ev;
			if (out->status == CB_QUERY_OPEN)
				out->status = CB_QUERY_ANSWERED;
		} else if (strcmp(ev->kind, CB_KIND_QUERY_CLOSE) == 0) {
			if (out->status != CB_QUERY_CLOSED) {
				out->status = CB_QUERY_CLOSED;
				out->close = ev;
			}
		} else if (out->status == CB_QUERY_CLOSED) {
			out->status = CB_QUERY_OPEN;
			out->close = NULL;
			out->reopen = ev;
		}
	}
}

static const char conflict_text[] =
    "conflicting values were saved concurrently; choose the correct "
    "value and give a reason";

static void query_view_event(const struct mquery *q, struct cb_merge_query *out)
{
	const struct cb_event *ev = q->open;
	const char *item = cb_event_data(ev, CB_DATA_ITEM);

	out->id = q->id;
	out->system = 0;
	out->subject = ev->subject;
	out->visit = ev->visit;
	out->form = ev->form;
	out->instance = ev->instance;
	out->item = item ? item : "";
	out->text = cb_event_data(ev, CB_DATA_TEXT);
	out->open = ev;
	query_follow(q, out);
}

static void query_view_conflict(struct cb_merge *m, const struct mitem *it,
				struct cb_merge_query *out)
{
	out->id = it->query;
	out->system = 1;
	out->subject = it->nm.part[0];
	out->visit = it->nm.part[1];
	out->form = it->nm.part[2];
	out->instance = it->nm.part[3];
	out->item = it->nm.part[4];
	out->text = conflict_text;
	out->open = NULL;
	query_follow(cb_hmap_get(&m->queries, it->query), out);
}

int cb_merge_query_get(struct cb_merge *m, const char *id,
		       struct cb_merge_query *out, struct cb_err *err)
{
	const struct mquery *q;
	size_t i;
	int rc = settle(m);

	if (rc)
		return cb_err_set(err, rc, "out of memory");
	q = id ? cb_hmap_get(&m->queries, id) : NULL;
	if (q && q->open) {
		query_view_event(q, out);
		return 0;
	}
	for (i = 0; id && i < m->itemv.n; i++) {
		const struct mitem *it = m->itemv.v[i];

		if (it->nchg && it->conflict && strcmp(it->query, id) == 0) {
			query_view_conflict(m, it, out);
			return 0;
		}
	}
	return cb_err_set(err, CB_ENOTFOUND, "no query %.32s", id ? id : "");
}

/* One query to list: from an open event or from a conflicted item. */
struct qref {
	const char *id;
	const struct mquery *q;
	const struct mitem *it;
};

static int cmp_qref(const void *a, const void *b)
{
	return strcmp(((const struct qref *)a)->id,
		      ((const struct qref *)b)->id);
}

int cb_merge_each_query(struct cb_merge *m, const char *subject,
			int (*fn)(const struct cb_merge_query *q, void *ctx),
			void *ctx, struct cb_err *err)
{
	struct cb_merge_query view;
	struct qref *refs;
	size_t n = 0, i;
	int rc = prepare(m);

	if (rc)
		return cb_err_set(err, rc, "out of memory");
	refs = malloc((m->queryv.n + m->itemv.n + 1) * sizeof(*refs));
	if (!refs)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < m->queryv.n; i++) {
		const struct mquery *q = m->queryv.v[i];

		if (q->open && name_matches(subject, q->open->subject))
			refs[n++] = (struct qref){q->id, q, NULL};
	}
	for (i = 0; i < m->itemv.n; i++) {
		const struct mitem *it = m->itemv.v[i];

		if (it->nchg && it->conflict &&
		    name_matches(subject, it->nm.part[0]))
			refs[n++] = (struct qref){it->query, NULL, it};
	}
	sort_n(refs, n, sizeof(*refs), cmp_qref);
	rc = 0;
	for (i = 0; i < n && !rc; i++) {
		if (refs[i].q)
			query_view_event(refs[i].q, &view);
		else
			query_view_conflict(m, refs[i].it, &view);
		rc = fn(&view, ctx);
	}
	free(refs);
	return rc;
}

/* ---- the canonical dump ------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int rc; /* first failure */
};

static void sb_grow(struct sbuf *b, size_t need)
{
	struct cb_err err;

	if (!b->rc && cb_array_grow((void **)&b->p, &b->cap, b->len + need + 1,
				    1, CB_MERGE_DUMP_MAX, "the dump", &err))
		b->rc = err.code;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->rc)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->rc = b->rc ? b->rc : CB_EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sb_put(b, small, (size_t)n);
		return;
	}
	sb_grow(b, (size_t)n);
	if (b->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A space and `s` quoted as a JSON string, or " null" for NULL. */
static void sb_quote(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = {'\\', 'u', '0', '0', 0, 0};

	if (!s) {
		sb_put(b, " null", 5);
		return;
	}
	sb_put(b, " \"", 2);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char two[2] = {'\\', (char)c};

			sb_put(b, two, 2);
		} else if (c < 0x20) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			sb_put(b, esc, 6);
		} else {
			sb_put(b, (const char *)s, 1);
		}
	}
	sb_put(b, "\"", 1);
}

static void sb_names(struct sbuf *b, const char *const *part, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sb_quote(b, part[i]);
}

static int dump_change(const struct cb_merge_change *c, void *ctx)
{
	struct sbuf *b = ctx;
	size_t i;

	sb_printf(b, "  change %s %s", c->ev->id, c->ev->hlc);
	sb_quote(b, c->ev->user);
	sb_quote(b, c->ev->device);
	sb_quote(b, c->ev->wall);
	sb_quote(b, c->value);
	sb_put(b, " old", 4);
	for (i = 0; i < c->nold; i++) {
		sb_printf(b, " %s", c->old[i].id);
		if (c->old[i].known)
			sb_quote(b, c->old[i].value);
		else
			sb_put(b, " ?", 2);
	}
	sb_put(b, " reason", 7);
	sb_quote(b, c->ev->reason);
	sb_printf(b, "%s\n", c->head ? " head" : "");
	return b->rc;
}

static int dump_query(const struct cb_merge_query *q, void *ctx)
{
	struct sbuf *b = ctx;
	const char *part[5] = {q->subject, q->visit, q->form, q->instance,
			       q->item};

	sb_printf(b, "query %s %s %s", q->id, q->system ? "system" : "event",
		  cb_query_status_name(q->status));
	sb_names(b, part, 5);
	sb_quote(b, q->text);
	sb_printf(b, " answers %zu", q->nanswers);
	if (q->answer)
		sb_printf(b, " last-answer %s", q->answer->id);
	if (q->close)
		sb_printf(b, " close %s", q->close->id);
	if (q->reopen)
		sb_printf(b, " reopen %s", q->reopen->id);
	sb_put(b, "\n", 1);
	return b->rc;
}

/* One subject's section of the dump (see merge.h). */
static int dump_section(struct cb_merge *m, const char *subject, struct sbuf *b,
			struct cb_err *err)
{
	size_t i, j, nev = 0;
	int rc;

	for (i = 0; i < m->evs.n; i++)
		if (!strcmp(((const struct cb_event *)m->evs.v[i])->subject,
			    subject))
			nev++;
	sb_put(b, "subject", 7);
	sb_quote(b, subject);
	sb_printf(b, " events %zu\n", nev);
	for (i = 0; i < m->evs.n; i++) {
		const struct cb_event *ev = m->evs.v[i];

		if (strcmp(ev->subject, subject))
			continue;
		sb_printf(b, "event %s %s %s\n", ev->hlc, ev->id, ev->kind);
	}
	for (i = 0; i < m->itemv.n && !b->rc; i++) {
		const struct mitem *it = m->itemv.v[i];

		if (!it->nchg || strcmp(it->nm.part[0], subject))
			continue;
		sb_put(b, "item", 4);
		sb_names(b, it->nm.part + 1, 4);
		if (it->conflict) {
			sb_printf(b, " conflict %s\n", it->query);
		} else {
			sb_put(b, " =", 2);
			sb_quote(b, it->value);
			sb_put(b, "\n", 1);
		}
		for (j = 0; j < it->nheads; j++) {
			sb_printf(b, "  head %s", it->head_ids[j]);
			sb_quote(b, it->head_vals[j]);
			sb_put(b, "\n", 1);
		}
		if (b->rc)
			break;
		rc = cb_merge_history(m, it->nm.part[0], it->nm.part[1],
				      it->nm.part[2], it->nm.part[3],
				      it->nm.part[4], dump_change, b, err);
		if (rc && !b->rc)
			b->rc = rc;
	}
	for (i = 0; i < m->formv.n && !b->rc; i++) {
		const struct mform *mf = m->formv.v[i];
		struct cb_merge_form f;

		if (strcmp(mf->nm.part[0], subject))
			continue;
		form_view(mf, &f);
		if (!f.nitems && !f.nsigns)
			continue;
		sb_put(b, "form", 4);
		sb_names(b, mf->nm.part + 1, 3);
		sb_printf(b, " items %zu conflicts %zu signs %zu", f.nitems,
			  f.nconflicts, f.nsigns);
		if (f.sign)
			sb_printf(b, " signed %s %s\n", f.sign->id,
				  f.broken ? "broken" : "valid");
		else
			sb_put(b, " unsigned\n", 10);
	}
	if (!b->rc) {
		rc = cb_merge_each_query(m, subject, dump_query, b, err);
		if (rc && !b->rc)
			b->rc = rc;
	}
	return b->rc;
}

static int dump_finish(struct sbuf *b, char **out, size_t *len,
		       struct cb_err *err)
{
	if (b->rc) {
		free(b->p);
		if (b->rc == CB_ETOOBIG)
			return cb_err_set(err, CB_ETOOBIG,
					  "merge dump over %u bytes",
					  CB_MERGE_DUMP_MAX);
		return cb_err_set(err, b->rc, "out of memory");
	}
	if (!b->p)
		sb_put(b, "", 0);
	*out = b->p;
	if (len)
		*len = b->len;
	return 0;
}

int cb_merge_dump_subject(struct cb_merge *m, const char *subject, char **out,
			  size_t *len, struct cb_err *err)
{
	struct sbuf b = {NULL, 0, 0, 0};
	int rc;

	*out = NULL;
	if (len)
		*len = 0;
	rc = prepare(m);
	if (rc)
		return cb_err_set(err, rc, "out of memory");
	dump_section(m, subject, &b, err);
	return dump_finish(&b, out, len, err);
}

int cb_merge_dump(struct cb_merge *m, char **out, size_t *len,
		  struct cb_err *err)
{
	struct sbuf b = {NULL, 0, 0, 0};
	size_t i;
	int rc;

	*out = NULL;
	if (len)
		*len = 0;
	rc = prepare(m);
	if (rc)
		return cb_err_set(err, rc, "out of memory");
	sb_put(&b, CB_MERGE_DUMP_HEAD, strlen(CB_MERGE_DUMP_HEAD));
	for (i = 0; i < m->subjectv.n && !b.rc; i++)
		dump_section(m, m->subjectv.v[i], &b, err);
	return dump_finish(&b, out, len, err);
}
