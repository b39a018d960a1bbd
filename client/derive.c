/*
 * derive.c - each subject's derived rows, written and read (see
 * derive.h).
 */
#include "derive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "event.h"
#include "hlc.h"
#include "json.h"

/* Subjects derived in one transaction by derive_pending. */
#define PENDING_BATCH 256
/* derive_pending shows its progress from this many subjects on. */
#define PROGRESS_FROM 200
/* Largest row text read back. */
#define ROW_MAX (4u * 1024u * 1024u)
/* Most subjects or queries a reader holds (far above a trial's). */
#define LIST_MAX (16u * 1024u * 1024u)

/* ---- Loading one subject ------------------------------------------------- */

struct load_ctx {
	struct derive_subject *d;
	int64_t now_ms;
	struct cb_err *err;
};

static int load_one(void *ctx, const struct store_event *se)
{
	struct load_ctx *lc = ctx;
	const struct cb_event *filed = NULL;
	struct cb_event ev;
	struct cb_err ignored;
	uint64_t t;
	int rc;

	lc->d->nstored++;
	if (se->seq > lc->d->last_seq)
		lc->d->last_seq = se->seq;
	/* The server refused it: it stays in the store, shown by `casebook
	 * status`, but is not part of the record. */
	if (se->quarantined)
		return 0;
	cb_event_init(&ev);
	rc = cb_event_parse(se->json, se->len, &ev, lc->err);
	if (!rc)
		rc = cb_merge_take(lc->d->merge, &ev, &filed, NULL, lc->err);
	/* The device's clock runs ahead to every event it holds, but no
	 * further than CB_HLC_AHEAD_MAX_MS past its own wall clock: an event
	 * stamped far in the future (a wrong or hostile clock elsewhere)
	 * must not drag this clock there (hlc.h). */
	if (!rc && filed && !cb_hlc_parse(filed->hlc, &t, &ignored) &&
	    (t = cb_hlc_bound(t, lc->now_ms)) > lc->d->clock)
		lc->d->clock = t;
	cb_event_release(&ev);
	if (rc)
		cb_err_prefix(lc->err,
			      "stored event %lld: ", (long long)se->seq);
	return rc;
}

int derive_load(struct store *st, const char *subject, struct derive_subject *d,
		struct cb_err *err)
{
	struct load_ctx lc = {d, cb_clock_now_ms(), err};
	int rc;

	memset(d, 0, sizeof(*d));
	rc = cb_merge_new(&d->merge, err);
	if (!rc)
		rc = store_each_event(st, subject, STORE_ITER_ALL, load_one,
				      &lc, err);
	if (rc)
		derive_subject_release(d);
	return rc;
}

void derive_subject_release(struct derive_subject *d)
{
	cb_merge_free(d->merge);
	memset(d, 0, sizeof(*d));
}

/* ---- The rows' texts ------------------------------------------------------
 */

struct rows {
	char *summary;
	size_t nq, cap_ids, cap_texts;
	char **ids, **texts;
};

static void rows_release(struct rows *r)
{
	size_t i;

	for (i = 0; i < r->nq; i++) {
		free(r->ids[i]);
		free(r->texts[i]);
	}
	free(r->ids);
	free(r->texts);
	free(r->summary);
	memset(r, 0, sizeof(*r));
}

/* Add v as a string member (NULL: null); 0, or -1 out of memory. */
static int put_str(cJSON *o, const char *k, const char *v)
{
	return (v ? cJSON_AddStringToObject(o, k, v)
		  : cJSON_AddNullToObject(o, k))
		   ? 0
		   : -1;
}

struct query_rows {
	struct rows *r;
	struct cb_err *err;
	int rc;
};

static int query_row(const struct cb_merge_query *q, void *ctx)
{
	struct query_rows *qr = ctx;
	struct rows *r = qr->r;
	cJSON *o = cJSON_CreateObject();
	char *text = NULL, *id = NULL;
	int bad = !o;

	bad = bad || put_str(o, "id", q->id) ||
	      put_str(o, "subject", q->subject) ||
	      put_str(o, "visit", q->visit) || put_str(o, "form", q->form) ||
	      put_str(o, "instance", q->instance) ||
	      put_str(o, "item", q->item) ||
	      put_str(o, "status", cb_query_status_name(q->status)) ||
	      !cJSON_AddBoolToObject(o, "system", q->system) ||
	      put_str(o, "text", q->text) ||
	      put_str(o, "opened_by", q->open ? q->open->user : NULL) ||
	      put_str(o, "opened_at", q->open ? q->open->wall : NULL) ||
	      put_str(o, "answer",
		      q->answer ? cb_event_data(q->answer, CB_DATA_TEXT)
				: NULL) ||
	      put_str(o, "answered_by", q->answer ? q->answer->user : NULL) ||
	      put_str(o, "closed_by", q->close ? q->close->user : NULL);
	if (!bad)
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	id = strdup(q->id);
	qr->rc =
	    !text || !id ? cb_err_set(qr->err, CB_ENOMEM, "out of memory") : 0;
	if (!qr->rc)
		qr->rc = cb_array_grow((void **)&r->ids, &r->cap_ids, r->nq + 1,
				       sizeof(*r->ids), LIST_MAX, "queries",
				       qr->err);
	if (!qr->rc)
		qr->rc = cb_array_grow((void **)&r->texts, &r->cap_texts,
				       r->nq + 1, sizeof(*r->texts), LIST_MAX,
				       "queries", qr->err);
	if (qr->rc) {
		free(text);
		free(id);
		return 1;
	}
	r->ids[r->nq] = id;
	r->texts[r->nq] = text;
	r->nq++;
	return 0;
}

/* The visits whose visit date is recorded (a value or a conflict). */
static int dated_visits(const struct cb_protocol *p, struct cb_merge *m,
			const char *subject, struct cb_buf *b,
			struct cb_err *err)
{
	size_t i;
	int rc = 0, n = 0;

	for (i = 0; !rc && i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];
		const struct cb_protocol_item *di;
		struct cb_merge_item it;
		struct cb_err ignored;

		if (!v->scheduled)
			continue;
		di = cb_protocol_visit_date_item(p, v);
		if (!di ||
		    cb_merge_item_get(m, subject, v->code, di->form->code, "",
				      di->code, &it, &ignored) ||
		    (!it.conflict && !it.value))
			continue;
		rc = cb_buf_printf(b, err, "%s%s", n++ ? "," : "", v->code);
	}
	return rc;
}

/* Every row of `subject` from its merged events. */
static int build_rows(const struct cb_protocol *p, struct derive_subject *d,
		      const char *subject, struct rows *r, struct cb_err *err)
{
	struct query_rows qr = {r, err, 0};
	struct cb_summary sum;
	struct cb_buf dated;
	cJSON *o = NULL, *sj = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	cb_summary_init(&sum);
	cb_buf_init(&dated, 64 * 1024);
	rc = cb_summary_compute(p, d->merge, subject, &sum, err);
	if (rc == CB_ENOTFOUND) {
		/* Every event of it is quarantined: nothing on the record. */
		cb_err_clear(err);
		rc = 0;
	} else if (!rc) {
		rc = cb_summary_to_json(&sum, &sj, err);
	}
	if (!rc)
		rc = dated_visits(p, d->merge, subject, &dated, err);
	if (!rc) {
		o = cJSON_CreateObject();
		if (!o || put_str(o, "subject", subject) ||
		    !cJSON_AddItemToObject(o, "summary",
					   sj ? sj : cJSON_CreateNull())) {
			cJSON_Delete(sj);
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		}
		sj = NULL;
	}
	if (!rc &&
	    (put_str(o, "dated", cb_buf_str(&dated)) ||
	     !cJSON_AddNumberToObject(o, "events", (double)d->nstored) ||
	     !cJSON_AddNumberToObject(o, "last_seq", (double)d->last_seq) ||
	     !(r->summary = cJSON_PrintUnformatted(o))))
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	cJSON_Delete(o);
	cb_buf_free(&dated);
	cb_summary_release(&sum);
	if (!rc) {
		rc =
		    cb_merge_each_query(d->merge, subject, query_row, &qr, err);
		if (qr.rc)
			rc = qr.rc;
		else if (rc)
			rc = cb_err_set(err, rc, "out of memory");
	}
	if (rc)
		rows_release(r);
	return rc;
}

int derive_write(struct store *st, const struct cb_protocol *p,
		 const char *subject, struct derive_subject *d,
		 struct cb_err *err)
{
	struct rows r;
	int rc;

	rc = build_rows(p, d, subject, &r, err);
	if (rc)
		return rc;
	rc = store_derived_put(st, subject, r.summary, strlen(r.summary),
			       (const char *const *)r.ids,
			       (const char *const *)r.texts, r.nq, err);
	rows_release(&r);
	return rc;
}

/* ---- Pending subjects ---------------------------------------------------- */

struct pending_ctx {
	struct store *st;
	const struct cb_protocol *p;
	size_t done, total, in_batch;
	int progress;
	struct cb_err *err;
};

static int pending_one(void *ctx, const char *subject)
{
	struct pending_ctx *pc = ctx;
	struct derive_subject d;
	int rc;

	if (!pc->in_batch) {
		rc = store_begin(pc->st, pc->err);
		if (rc)
			return rc;
	}
	rc = derive_load(pc->st, subject, &d, pc->err);
	if (!rc) {
		rc = derive_write(pc->st, pc->p, subject, &d, pc->err);
		derive_subject_release(&d);
	}
	if (rc) {
		store_rollback(pc->st);
		pc->in_batch = 0;
		return rc;
	}
	pc->done++;
	if (++pc->in_batch == PENDING_BATCH) {
		pc->in_batch = 0;
		rc = store_commit(pc->st, pc->err);
	}
	if (!rc && pc->progress &&
	    (pc->done % 50 == 0 || pc->done == pc->total)) {
		fprintf(stderr,
			"\rcasebook: bringing the store's derived rows up to "
			"date: %zu of %zu subjects   ",
			pc->done, pc->total);
		fflush(stderr);
	}
	return rc;
}

int derive_pending(struct store *st, const struct cb_protocol *p, int progress,
		   size_t *done, struct cb_err *err)
{
	struct pending_ctx pc;
	struct store_counts c;
	int rc;

	if (done)
		*done = 0;
	rc = store_counts(st, &c, err);
	if (rc || !c.pending)
		return rc;
	if (store_readonly(st))
		return store_begin(st, err); /* says it is read-only */
	memset(&pc, 0, sizeof(pc));
	pc.st = st;
	pc.p = p;
	pc.err = err;
	pc.total = (size_t)c.pending;
	pc.progress = progress && c.pending >= PROGRESS_FROM;
	rc = store_each_pending(st, pending_one, &pc, err);
	if (!rc && pc.in_batch)
		rc = store_commit(st, err);
	else if (rc && pc.in_batch)
		store_rollback(st);
	if (pc.progress) {
		fputc('\n', stderr);
		fflush(stderr);
	}
	if (done)
		*done = pc.done;
	return rc;
}

/* ---- Subjects merged as events arrive ---------------------------------------
 */

struct cached {
	char *subject;
	struct derive_subject d;
	unsigned long used;
	int touched; /* events added since its rows were written */
};

struct derive_cache {
	struct store *st;
	const struct cb_protocol *p;
	struct cached *v;
	size_t n, max, last;
	unsigned long tick;
};

int derive_cache_new(struct store *st, const struct cb_protocol *p, size_t max,
		     struct derive_cache **out, struct cb_err *err)
{
	struct derive_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c)
		c->v = calloc(max ? max : 1, sizeof(*c->v));
	if (!c || !c->v) {
		free(c);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	c->st = st;
	c->p = p;
	c->max = max ? max : 1;
	*out = c;
	return 0;
}

static void cached_release(struct cached *e)
{
	free(e->subject);
	derive_subject_release(&e->d);
	memset(e, 0, sizeof(*e));
}

int derive_cache_add(struct derive_cache *c, const struct cb_event *ev,
		     int64_t seq, struct cb_err *err)
{
	struct cached *e = NULL;
	size_t i, oldest = 0;
	uint64_t t;
	int rc;

	c->tick++;
	/* Events come in runs of one subject: the last one first. */
	if (c->n && c->last < c->n &&
	    !strcmp(c->v[c->last].subject, ev->subject))
		e = &c->v[c->last];
	for (i = 0; !e && i < c->n; i++) {
		if (!strcmp(c->v[i].subject, ev->subject)) {
			e = &c->v[i];
			break;
		}
		if (c->v[i].used < c->v[oldest].used)
			oldest = i;
	}
	if (e) {
		rc = cb_merge_add(e->d.merge, ev, NULL, err);
		if (rc)
			return rc;
		e->d.nstored++;
		if (seq > e->d.last_seq)
			e->d.last_seq = seq;
		if (!cb_hlc_parse(ev->hlc, &t, NULL) && t > e->d.clock)
			e->d.clock = t;
		e->used = c->tick;
		e->touched = 1;
		c->last = (size_t)(e - c->v);
		return 0;
	}
	/* New here: its events as stored, `ev` among them. The one let go
	 * has its rows written first (its events are in the store, in this
	 * transaction), so it is not read back at the end. */
	if (c->n == c->max) {
		if (c->v[oldest].touched &&
		    (rc = derive_write(c->st, c->p, c->v[oldest].subject,
				       &c->v[oldest].d, err)))
			return rc;
		cached_release(&c->v[oldest]);
	} else {
		oldest = c->n++;
	}
	e = &c->v[oldest];
	e->subject = strdup(ev->subject);
	rc = e->subject ? derive_load(c->st, ev->subject, &e->d, err)
			: cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc) {
		cached_release(e);
		c->v[oldest] = c->v[--c->n];
		memset(&c->v[c->n], 0, sizeof(c->v[0]));
		return rc;
	}
	e->used = c->tick;
	e->touched = 1;
	c->last = oldest;
	return 0;
}

int derive_cache_write(struct derive_cache *c, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && c && i < c->n; i++) {
		if (!c->v[i].touched)
			continue;
		rc =
		    derive_write(c->st, c->p, c->v[i].subject, &c->v[i].d, err);
		if (!rc)
			c->v[i].touched = 0;
	}
	return rc;
}

void derive_cache_forget(struct derive_cache *c)
{
	while (c && c->n)
		cached_release(&c->v[--c->n]);
}

void derive_cache_free(struct derive_cache *c)
{
	if (!c)
		return;
	derive_cache_forget(c);
	free(c->v);
	free(c);
}

/* ---- Reading summaries -----------------------------------------------------
 */

/* A summary row, parsed. */
struct srow {
	char *subject, *dated;
	int has_summary;
	struct cb_summary sum;
	int64_t events, last_seq;
};

static void srow_release(struct srow *r)
{
	free(r->subject);
	free(r->dated);
	cb_summary_release(&r->sum);
	memset(r, 0, sizeof(*r));
}

/* A row's text into *r (initialised here). */
static int srow_parse(struct store *st, const char *text, size_t len,
		      struct srow *r, struct cb_err *err)
{
	const cJSON *sum;
	const char *subject, *dated;
	long long events = 0, last = 0;
	cJSON *j;
	int rc = 0;

	(void)st;
	memset(r, 0, sizeof(*r));
	cb_summary_init(&r->sum);
	j = cb_json_parse(text, len, ROW_MAX, "summary row", err);
	if (!j)
		return err->code == CB_ENOMEM
			   ? CB_ENOMEM
			   : cb_err_set(err, CB_EINTEGRITY,
					"integrity error: a summary row is not "
					"what casebook writes");
	subject = cb_json_str(j, "subject");
	dated = cb_json_str(j, "dated");
	sum = cJSON_GetObjectItemCaseSensitive(j, "summary");
	if (!subject || !dated || !sum ||
	    cb_json_int(j, "events", 0, INT64_MAX, &events, "$.events", err) ||
	    cb_json_int(j, "last_seq", 0, INT64_MAX, &last, "$.last_seq",
			err) ||
	    (!cJSON_IsNull(sum) && cb_summary_from_json(sum, &r->sum, err)))
		rc = cb_err_set(err, CB_EINTEGRITY,
				"integrity error: a summary row is not what "
				"casebook writes");
	if (!rc) {
		r->has_summary = !cJSON_IsNull(sum);
		r->subject = strdup(subject);
		r->dated = strdup(dated);
		r->events = events;
		r->last_seq = last;
		if (!r->subject || !r->dated)
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cJSON_Delete(j);
	if (rc)
		srow_release(r);
	return rc;
}

struct slist {
	struct store *st;
	const struct cb_protocol *p;
	struct srow *v;
	size_t n, cap;
	struct cb_err *err;
};

static int slist_add_text(struct slist *l, const char *text, size_t len)
{
	int rc = cb_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v),
			       LIST_MAX, "subjects", l->err);

	if (!rc)
		rc = srow_parse(l->st, text, len, &l->v[l->n], l->err);
	if (!rc)
		l->n++;
	return rc;
}

static int slist_row(void *ctx, const char *text, size_t len, int pending)
{
	if (pending)
		return 0; /* derived in memory below */
	return slist_add_text(ctx, text, len);
}

/*
 * Derive `subject` in memory: its rows' texts into *r, which the caller
 * releases (rows_release) whether this failed or not.
 */
static int derive_memory(struct store *st, const struct cb_protocol *p,
			 const char *subject, struct rows *r,
			 struct cb_err *err)
{
	struct derive_subject d;
	int rc;

	/* Empty before anything can fail: a failed load must not leave
	 * the caller freeing what its stack happened to hold. */
	memset(r, 0, sizeof(*r));
	rc = derive_load(st, subject, &d, err);
	if (rc)
		return rc;
	rc = build_rows(p, &d, subject, r, err);
	derive_subject_release(&d);
	return rc;
}

static int slist_pending(void *ctx, const char *subject)
{
	struct slist *l = ctx;
	struct rows r;
	int rc;

	rc = derive_memory(l->st, l->p, subject, &r, l->err);
	if (!rc)
		rc = slist_add_text(l, r.summary, strlen(r.summary));
	rows_release(&r);
	return rc;
}

static void slist_release(struct slist *l)
{
	while (l->n)
		srow_release(&l->v[--l->n]);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

static int srow_cmp(const void *a, const void *b)
{
	return strcmp(((const struct srow *)a)->subject,
		      ((const struct srow *)b)->subject);
}

static int give_srow(const struct srow *r,
		     int (*fn)(void *ctx, const struct derive_summary *s),
		     void *ctx)
{
	struct derive_summary s;

	s.subject = r->subject;
	s.summary = r->has_summary ? &r->sum : NULL;
	s.dated = r->dated;
	s.events = r->events;
	s.last_seq = r->last_seq;
	return fn(ctx, &s);
}

int derive_each_summary(struct store *st, const struct cb_protocol *p,
			int (*fn)(void *ctx, const struct derive_summary *s),
			void *ctx, struct cb_err *err)
{
	struct slist l;
	size_t i;
	int rc;

	memset(&l, 0, sizeof(l));
	l.st = st;
	l.p = p;
	l.err = err;
	rc = store_each_summary(st, slist_row, &l, err);
	if (!rc)
		rc = store_each_pending(st, slist_pending, &l, err);
	if (!rc && l.n)
		qsort(l.v, l.n, sizeof(*l.v), srow_cmp);
	for (i = 0; !rc && i < l.n; i++)
		rc = give_srow(&l.v[i], fn, ctx);
	slist_release(&l);
	return rc;
}

int derive_one_summary(struct store *st, const struct cb_protocol *p,
		       const char *subject,
		       int (*fn)(void *ctx, const struct derive_summary *s),
		       void *ctx, struct cb_err *err)
{
	struct slist l;
	char *text = NULL;
	size_t len = 0;
	int rc, pending = 0;

	memset(&l, 0, sizeof(l));
	l.st = st;
	l.p = p;
	l.err = err;
	rc = store_summary_get(st, subject, &text, &len, &pending, err);
	if (!rc && !pending)
		rc = slist_add_text(&l, text, len);
	else if ((!rc && pending) || (rc == CB_ENOTFOUND && pending)) {
		cb_err_clear(err);
		rc = slist_pending(&l, subject);
	}
	free(text);
	if (!rc && l.n == 1 && strcmp(l.v[0].subject, subject))
		rc = cb_err_set(err, CB_EINTEGRITY,
				"integrity error: the summary row of %.64s "
				"names another subject",
				subject);
	if (!rc && l.n == 1)
		rc = give_srow(&l.v[0], fn, ctx);
	slist_release(&l);
	return rc;
}

int derive_dated(const char *dated, const char *code)
{
	const char *p = dated ? dated : "";
	size_t n = strlen(code);

	while (*p) {
		if (!strncmp(p, code, n) && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/* ---- Reading queries ------------------------------------------------------
 */

struct qlist {
	struct store *st;
	const struct cb_protocol *p;
	const char *subject;
	cJSON **v;
	size_t n, cap;
	struct cb_err *err;
};

static int qlist_add_text(struct qlist *l, const char *text, size_t len)
{
	cJSON *j;
	int rc;

	j = cb_json_parse(text, len, ROW_MAX, "query row", l->err);
	if (!j || !cb_json_str(j, "id") || !cb_json_str(j, "subject")) {
		cJSON_Delete(j);
		return cb_err_set(l->err, CB_EINTEGRITY,
				  "integrity error: a query row is not what "
				  "casebook writes");
	}
	rc = cb_array_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v),
			   LIST_MAX, "queries", l->err);
	if (rc) {
		cJSON_Delete(j);
		return rc;
	}
	l->v[l->n++] = j;
	return 0;
}

static int qlist_row(void *ctx, const char *text, size_t len, int pending)
{
	if (pending)
		return 0;
	return qlist_add_text(ctx, text, len);
}

static int qlist_pending(void *ctx, const char *subject)
{
	struct qlist *l = ctx;
	struct rows r;
	size_t i;
	int rc;

	if (l->subject && strcmp(l->subject, subject))
		return 0;
	rc = derive_memory(l->st, l->p, subject, &r, l->err);
	for (i = 0; !rc && i < r.nq; i++)
		rc = qlist_add_text(l, r.texts[i], strlen(r.texts[i]));
	rows_release(&r);
	return rc;
}

static int qrow_cmp(const void *a, const void *b)
{
	return strcmp(cb_json_str(*(cJSON *const *)a, "id"),
		      cb_json_str(*(cJSON *const *)b, "id"));
}

int derive_each_query(struct store *st, const struct cb_protocol *p,
		      const char *subject, int (*fn)(void *ctx, const cJSON *q),
		      void *ctx, struct cb_err *err)
{
	struct qlist l;
	size_t i;
	int rc;

	memset(&l, 0, sizeof(l));
	l.st = st;
	l.p = p;
	l.subject = subject;
	l.err = err;
	rc = store_each_query_row(st, subject, qlist_row, &l, err);
	if (!rc)
		rc = store_each_pending(st, qlist_pending, &l, err);
	if (!rc && l.n)
		qsort(l.v, l.n, sizeof(*l.v), qrow_cmp);
	for (i = 0; !rc && i < l.n; i++)
		rc = fn(ctx, l.v[i]);
	for (i = 0; i < l.n; i++)
		cJSON_Delete(l.v[i]);
	free(l.v);
	return rc;
}

/* ---- Checking ------------------------------------------------------------ */

struct check_ctx {
	struct store *st;
	const struct cb_protocol *p;
	int64_t checked, pending, summaries, queries;
	struct cb_err *err;
};

/* The stored query texts of one subject, sorted. */
struct texts {
	char **v;
	size_t n, cap;
	struct cb_err *err;
};

static int texts_add(void *ctx, const char *text, size_t len, int pending)
{
	struct texts *t = ctx;
	char *c;
	int rc;

	(void)pending;
	rc = cb_array_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v),
			   LIST_MAX, "queries", t->err);
	if (rc)
		return rc;
	c = malloc(len + 1);
	if (!c)
		return cb_err_set(t->err, CB_ENOMEM, "out of memory");
	memcpy(c, text, len + 1);
	t->v[t->n++] = c;
	return 0;
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int differs(struct check_ctx *c, const char *subject, const char *what)
{
	return cb_err_set(c->err, CB_EINTEGRITY,
			  "integrity error: the derived rows of subject %.64s "
			  "(%s) do not say what its events say: they were "
			  "changed outside casebook; run any casebook "
			  "command that writes (or sync) after restoring the "
			  "store from a backup",
			  subject, what);
}

static int check_subject(void *ctx, const char *subject)
{
	struct check_ctx *c = ctx;
	struct texts t = {NULL, 0, 0, c->err};
	struct rows r;
	char *text = NULL;
	size_t len = 0, i;
	int rc, pending = 0;

	rc = store_summary_get(c->st, subject, &text, &len, &pending, c->err);
	if (rc == CB_ENOTFOUND && !pending) {
		return differs(c, subject, "no summary row");
	} else if (rc == CB_ENOTFOUND || (!rc && pending)) {
		cb_err_clear(c->err);
		free(text);
		c->pending++;
		c->summaries += rc == 0;
		/* its query rows, if any, are counted as they are */
		rc =
		    store_each_query_row(c->st, subject, texts_add, &t, c->err);
		c->queries += (int64_t)t.n;
		while (t.n)
			free(t.v[--t.n]);
		free(t.v);
		return rc;
	} else if (rc) {
		return rc;
	}
	c->summaries++;
	rc = derive_memory(c->st, c->p, subject, &r, c->err);
	if (!rc && strcmp(r.summary, text))
		rc = differs(c, subject, "its summary");
	free(text);
	if (!rc)
		rc =
		    store_each_query_row(c->st, subject, texts_add, &t, c->err);
	if (!rc) {
		c->queries += (int64_t)t.n;
		if (t.n)
			qsort(t.v, t.n, sizeof(*t.v), text_cmp);
		if (r.nq)
			qsort(r.texts, r.nq, sizeof(*r.texts), text_cmp);
		if (t.n != r.nq)
			rc = differs(c, subject, "its queries");
		for (i = 0; !rc && i < t.n; i++)
			if (strcmp(t.v[i], r.texts[i]))
				rc = differs(c, subject, "its queries");
	}
	while (t.n)
		free(t.v[--t.n]);
	free(t.v);
	rows_release(&r);
	if (!rc)
		c->checked++;
	return rc;
}

static int count_rows(void *ctx, const char *text, size_t len, int pending)
{
	(void)text;
	(void)len;
	(void)pending;
	(*(int64_t *)ctx)++;
	return 0;
}

int derive_check(struct store *st, const struct cb_protocol *p,
		 int64_t *checked, int64_t *pending, struct cb_err *err)
{
	struct check_ctx c;
	int64_t nsum = 0, nq = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.p = p;
	c.err = err;
	rc = store_each_subject(st, check_subject, &c, err);
	/* Rows of no subject the store holds: a summary or query row
	 * copied in from elsewhere. */
	if (!rc)
		rc = store_each_summary(st, count_rows, &nsum, err);
	if (!rc)
		rc = store_each_query_row(st, NULL, count_rows, &nq, err);
	if (!rc && (nsum != c.summaries || nq != c.queries))
		rc = cb_err_set(err, CB_EINTEGRITY,
				"integrity error: the store holds derived rows "
				"of no subject it holds (%lld summary and "
				"%lld query rows for %lld and %lld): they "
				"were changed outside casebook",
				(long long)nsum, (long long)nq,
				(long long)c.summaries, (long long)c.queries);
	if (checked)
		*checked = c.checked;
	if (pending)
		*pending = c.pending;
	return rc;
}
