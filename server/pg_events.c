/*
 * pg_events.c - the events of the central store on PostgreSQL (store.h,
 * pg_int.h): appended in server order, read back in that order for
 * pulls and subject by subject for merge states.
 *
 * Gap-free numbers for readers. Several processes commit events at
 * once; were numbers taken as rows are inserted, a transaction holding
 * number 10 could commit after one holding 11, and a pull that had
 * already moved its cursor past 11 would never see 10. So the events of
 * a transaction wait in memory (p->pend) until its commit, which takes
 * the lock PG_K_EVENTS, numbers and writes them all in one statement and
 * commits at once: the lock passes from one transaction to the next only
 * when the first's events are visible, so numbers become visible in
 * order, and a reader that sees number N sees every number below it
 * that will ever exist. The lock is held only for that last statement
 * and the commit, not while the push is checked and merged.
 */
#include "pg_int.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static void pending_free(struct pg_pending *e)
{
	free(e->id);
	free(e->device);
	free(e->site);
	free(e->subject);
	free(e->kind);
	free(e->json);
	free(e->received_at);
	memset(e, 0, sizeof(*e));
}

void pg_events_forget(struct pg_store *p)
{
	size_t i;

	for (i = 0; i < p->npend; i++)
		pending_free(&p->pend[i]);
	p->npend = 0;
	cb_hmap_release(&p->pend_ids);
}

void pg_numbered_forget(struct pg_store *p)
{
	size_t i;

	for (i = 0; i < p->nnum; i++)
		free(p->num[i].id);
	p->nnum = 0;
	cb_hmap_release(&p->num_ids);
}

/*
 * Keep the numbers a flush's statement returned (id, seq per row), and
 * index them all again (the array may have moved). CB_ENOMEM.
 */
static int numbered_keep(struct pg_store *p, PGresult *r, struct cb_err *err)
{
	size_t i, rows = (size_t)PQntuples(r);
	int rc = cb_array_grow((void **)&p->num, &p->cap_num, p->nnum + rows,
			       sizeof(*p->num), (size_t)1 << 24,
			       "numbered events", err);

	for (i = 0; !rc && i < rows; i++) {
		char *id = strdup(pg_col(r, (int)i, 0));

		if (!id)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		p->num[p->nnum].id = id;
		p->num[p->nnum].seq = pg_int(r, (int)i, 1);
		p->nnum++;
	}
	if (rc)
		return rc;
	cb_hmap_release(&p->num_ids);
	if (cb_hmap_reserve(&p->num_ids, p->nnum))
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < p->nnum; i++)
		if (!cb_hmap_get(&p->num_ids, p->num[i].id))
			cb_hmap_put(&p->num_ids, p->num[i].id, &p->num[i]);
	return 0;
}

int pg_event_seq(struct srv_store *s, const char *id, int64_t *seq)
{
	const struct pg_numbered *e = cb_hmap_get(&PGS(s)->num_ids, id);

	if (!e)
		return CB_ENOTFOUND;
	*seq = e->seq;
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static char *dup(const char *s)
{
	return dup_n(s ? s : "", strlen(s ? s : ""));
}

int pg_events_flush(struct pg_store *p, struct cb_err *err)
{
	const char **arrays[8];
	char *texts[8] = {NULL};
	const char *v[8];
	size_t i, k;
	long n = 0;
	int rc = 0;

	if (!p->npend)
		return 0;
	for (k = 0; k < 8; k++) {
		arrays[k] = calloc(p->npend, sizeof(char *));
		if (!arrays[k])
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	for (i = 0; !rc && i < p->npend; i++) {
		const struct pg_pending *e = &p->pend[i];

		arrays[0][i] = e->id;
		arrays[1][i] = e->device;
		arrays[2][i] = e->site;
		arrays[3][i] = e->subject;
		arrays[4][i] = e->kind;
		arrays[5][i] = e->unblinded ? "1" : "0";
		arrays[6][i] = e->json;
		arrays[7][i] = e->received_at;
	}
	for (k = 0; !rc && k < 8; k++) {
		texts[k] = pg_array(arrays[k], p->npend);
		if (!texts[k])
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		v[k] = texts[k];
	}
	if (!rc && !p->events_locked)
		rc = pg_do(p, PG_LOCK_EVENTS, 0, NULL, NULL, "lock the events",
			   err);
	if (!rc)
		p->events_locked = 1;
	if (!rc) {
		PGresult *r = pg_run(p, PG_EVENTS_ADD, 8, v, NULL, NULL,
				     "add events", err);

		if (!r) {
			rc = err->code;
		} else {
			n = PQntuples(r);
			rc = numbered_keep(p, r, err);
			PQclear(r);
		}
	}
	/* Only an event with the same id and another subject can have come
	 * from another process meanwhile (one subject's pushes take turns):
	 * the device's next try finds it and is answered properly. */
	if (!rc && (size_t)n != p->npend)
		rc = cb_err_set(err, CB_EBUSY,
				"another process stored an event with the id "
				"of one of these meanwhile; try again");
	for (k = 0; k < 8; k++) {
		free(arrays[k]);
		free(texts[k]);
	}
	pg_events_forget(p);
	return rc;
}

int pg_event_add(struct srv_store *s, const struct srv_event_row *row,
		 int64_t *seq, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	struct pg_pending *e;
	int rc;

	if (cb_hmap_get(&p->pend_ids, row->id))
		return cb_err_set(err, CB_EEXIST, "event %s already stored",
				  row->id);
	if (seq) {
		/* A number asked for now: write this one (and those before
		 * it) now, holding the numbering until the commit. */
		char ub[2] = {row->unblinded ? '1' : '0', '\0'};
		char *json = dup_n(row->json, row->json_len);
		const char *v[8] = {row->id,	  row->device,	   row->site,
				    row->subject, row->kind,	   ub,
				    json,	  row->received_at};
		PGresult *r;

		if (!json)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = pg_events_flush(p, err);
		if (!rc && !p->events_locked)
			rc = pg_do(p, PG_LOCK_EVENTS, 0, NULL, NULL,
				   "lock the events", err);
		if (rc) {
			free(json);
			return rc;
		}
		p->events_locked = 1;
		r = pg_run(p, PG_EVENT_ADD_ONE, 8, v, NULL, NULL, "add event",
			   err);
		free(json);
		if (!r)
			return err->code;
		rc = PQntuples(r) == 1
			 ? 0
			 : cb_err_set(err, CB_EEXIST, "event %s already stored",
				      row->id);
		if (!rc)
			*seq = pg_int(r, 0, 0);
		PQclear(r);
		return rc;
	}
	rc = cb_array_grow((void **)&p->pend, &p->cap_pend, p->npend + 1,
			   sizeof(*p->pend), 1u << 20, "events of a push", err);
	if (!rc && cb_hmap_reserve(&p->pend_ids, 1))
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	if (rc)
		return rc;
	e = &p->pend[p->npend];
	e->id = dup(row->id);
	e->device = dup(row->device);
	e->site = dup(row->site);
	e->subject = dup(row->subject);
	e->kind = dup(row->kind);
	e->json = dup_n(row->json, row->json_len);
	e->received_at = dup(row->received_at);
	e->unblinded = row->unblinded;
	if (!e->id || !e->device || !e->site || !e->subject || !e->kind ||
	    !e->json || !e->received_at) {
		pending_free(e);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cb_hmap_put(&p->pend_ids, e->id, e);
	p->npend++;
	return 0;
}

int pg_event_get(struct srv_store *s, const char *id, char **json, size_t *len,
		 struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	const struct pg_pending *e = cb_hmap_get(&p->pend_ids, id);
	const char *v[1] = {id};
	PGresult *r;
	size_t n;

	*json = NULL;
	if (e) {
		*json = dup(e->json);
		if (!*json)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		if (len)
			*len = strlen(*json);
		return 0;
	}
	r = pg_run(p, PG_EVENT_GET, 1, v, NULL, NULL, "read an event", err);
	if (!r)
		return err->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return cb_err_set(err, CB_ENOTFOUND, "no event %s", id);
	}
	n = (size_t)PQgetlength(r, 0, 0);
	*json = dup_n(PQgetvalue(r, 0, 0), n);
	PQclear(r);
	if (!*json)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	if (len)
		*len = n;
	return 0;
}

/* Fill `row` from row i of an events query. */
static void event_row(PGresult *r, int i, struct srv_event_row *row)
{
	row->seq = pg_int(r, i, 0);
	row->id = pg_col(r, i, 1);
	row->device = pg_col(r, i, 2);
	row->site = pg_col(r, i, 3);
	row->subject = pg_col(r, i, 4);
	row->kind = pg_col(r, i, 5);
	row->unblinded = (int)pg_int(r, i, 6);
	row->json = pg_col(r, i, 7);
	row->json_len = (size_t)PQgetlength(r, i, 7);
	row->received_at = pg_col(r, i, 8);
}

struct event_walk {
	int (*fn)(const struct srv_event_row *row, void *ctx);
	void *ctx;
	int64_t at;
	long n;
};

static int event_walk_row(PGresult *r, int i, void *vctx)
{
	struct event_walk *w = vctx;
	struct srv_event_row row;

	event_row(r, i, &row);
	w->at = row.seq;
	w->n++;
	return w->fn(&row, w->ctx);
}

int pg_event_each(struct srv_store *s, int64_t since, long limit,
		  const char *site, int unblinded,
		  int (*fn)(const struct srv_event_row *row, void *ctx),
		  void *ctx, int64_t *last, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	struct event_walk w = {fn, ctx, since, 0};
	char a[24], b[24];
	const char *v[4] = {pg_i64(a, since), unblinded ? "1" : "0",
			    limit > 0 ? pg_i64(b, limit) : NULL, site};
	PGresult *r;
	int i, rc = 0;

	if (limit > 0 && limit <= PG_FETCH_ROWS) {
		r = pg_run(p, site ? PG_EVENT_EACH_SITE : PG_EVENT_EACH,
			   site ? 4 : 3, v, NULL, NULL, "read events", err);
		if (!r)
			return err->code;
		for (i = 0; i < PQntuples(r) && !rc; i++)
			rc = event_walk_row(r, i, &w);
		PQclear(r);
	} else {
		rc = pg_each(
		    p, pg_sql[site ? PG_EVENT_EACH_SITE : PG_EVENT_EACH],
		    site ? 4 : 3, v, event_walk_row, &w, "read events", err);
	}
	if (rc)
		return rc;
	if (limit <= 0 || w.n < limit) {
		r = pg_run(p, PG_EVENT_MAX, 0, NULL, NULL, NULL, "read events",
			   err);
		if (!r)
			return err->code;
		if (pg_int(r, 0, 0) > w.at)
			w.at = pg_int(r, 0, 0);
		PQclear(r);
	}
	if (last)
		*last = w.at;
	return 0;
}

int pg_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
		     const char *site,
		     int (*fn)(const struct srv_event_row *row, void *ctx),
		     void *ctx, struct cb_err *err)
{
	struct event_walk w = {fn, ctx, since, 0};
	char a[24], b[24];
	const char *v[3] = {pg_i64(a, since), pg_i64(b, upto), site};

	return pg_each(PGS(s), pg_sql[PG_EVENT_WITHHELD], 3, v, event_walk_row,
		       &w, "read events", err);
}

int pg_subject_events(struct srv_store *s, const char *subject, int unblinded,
		      int (*fn)(const struct srv_event_row *row, void *ctx),
		      void *ctx, struct cb_err *err)
{
	const char *v[2] = {subject, unblinded ? "1" : "0"};
	struct srv_event_row row;
	PGresult *r;
	int i, rc = 0;

	r = pg_run(PGS(s), PG_EVENT_OF_SUBJECT, 2, v, NULL, NULL,
		   "read a subject's events", err);
	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++) {
		event_row(r, i, &row);
		rc = fn(&row, ctx);
	}
	PQclear(r);
	return rc;
}

struct name_walk {
	int (*fn)(const char *subject, const char *site, void *ctx);
	void *ctx;
};

static int name_row(PGresult *r, int i, void *vctx)
{
	struct name_walk *w = vctx;

	return w->fn(pg_col(r, i, 0), pg_col(r, i, 1), w->ctx);
}

int pg_subject_names(struct srv_store *s, const char *site,
		     int (*fn)(const char *subject, const char *site,
			       void *ctx),
		     void *ctx, struct cb_err *err)
{
	struct name_walk w = {fn, ctx};
	const char *v[1] = {site};

	return pg_each(PGS(s),
		       "SELECT subject, min(site) FROM events"
		       " WHERE $1::text IS NULL OR site = $1"
		       " GROUP BY subject ORDER BY subject",
		       1, v, name_row, &w, "list subjects", err);
}

int pg_subject_nevents(struct srv_store *s, const char *subject, int64_t *n,
		       struct cb_err *err)
{
	const char *v[1] = {subject};
	PGresult *r = pg_run(PGS(s), PG_SUBJECT_NEVENTS, 1, v, NULL, NULL,
			     "read a subject", err);

	*n = 0;
	if (!r)
		return err->code;
	if (PQntuples(r))
		*n = pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}
