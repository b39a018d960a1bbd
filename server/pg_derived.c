/*
 * pg_derived.c - the derived tables of the central store on PostgreSQL
 * (store.h, pg_int.h): forms (with their items: store_items.c), queries
 * and subjects, written row by row as store_api.c derives them, read back and
 * dumped in the same text as the SQLite backend's (store_derived.c), so equal
 * state gives an equal dump on either.
 */
#include "pg_int.h"

#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_derived_clear(struct srv_store *s, struct cb_err *err)
{
	return pg_exec(PGS(s),
		       "DELETE FROM subjects; DELETE FROM queries;"
		       " DELETE FROM forms;",
		       "clear derived tables", err);
}

int pg_subject_clear(struct srv_store *s, const char *subject,
		     struct cb_err *err)
{
	const char *v[1] = {subject};
	int rc = pg_do(PGS(s), PG_QUERIES_DEL, 1, v, NULL,
		       "clear a subject's rows", err);

	if (!rc)
		rc = pg_do(PGS(s), PG_FORMS_DEL, 1, v, NULL,
			   "clear a subject's rows", err);
	return rc;
}

int pg_query_put(struct srv_store *s, const struct cb_merge_query *q,
		 const char *site, struct cb_err *err)
{
	char n[24];
	const char *v[11] = {q->id,
			     q->subject ? q->subject : "",
			     site,
			     q->visit ? q->visit : "",
			     q->form ? q->form : "",
			     q->instance ? q->instance : "",
			     q->item ? q->item : "",
			     cb_query_status_name(q->status),
			     q->system ? "1" : "0",
			     q->text ? q->text : "",
			     pg_i64(n, (int64_t)q->nanswers)};

	return pg_do(PGS(s), PG_QUERY_PUT, 11, v, NULL, "write query", err);
}

int pg_query_del(struct srv_store *s, const char *id, struct cb_err *err)
{
	const char *v[1] = {id};

	return pg_do(PGS(s), PG_QUERY_DEL_ID, 1, v, NULL, "delete query", err);
}

int pg_form_put(struct srv_store *s, const struct cb_merge_form *f,
		const char *items, struct cb_err *err)
{
	char a[24], b[24], c[24];
	const char *v[10] = {f->subject,
			     f->visit,
			     f->form,
			     f->instance,
			     pg_i64(a, (int64_t)f->nitems),
			     pg_i64(b, (int64_t)f->nconflicts),
			     pg_i64(c, (int64_t)f->nsigns),
			     f->sign ? f->sign->id : NULL,
			     f->broken ? "1" : "0",
			     items};

	return pg_do(PGS(s), PG_FORM_PUT, 10, v, NULL, "write form", err);
}

int pg_form_items(struct srv_store *s, const char *subject, const char *visit,
		  const char *form, const char *instance, struct cb_buf *b,
		  struct cb_err *err)
{
	const char *v[4] = {subject, visit, form, instance};
	PGresult *r = pg_run(PGS(s), PG_FORM_ITEMS, 4, v, NULL, NULL,
			     "read a form's items", err);
	int rc = 0;

	cb_buf_reset(b);
	if (!r)
		return err->code;
	if (PQntuples(r))
		rc = cb_buf_add(b, PQgetvalue(r, 0, 0),
				(size_t)PQgetlength(r, 0, 0), err);
	PQclear(r);
	return rc;
}

int pg_subject_put(struct srv_store *s, const char *subject, const char *site,
		   int64_t nevents, const char *state, const char *summary,
		   struct cb_err *err)
{
	char n[24];
	const char *v[5] = {subject, site, pg_i64(n, nevents), state, summary};

	return pg_do(PGS(s), PG_SUBJECT_PUT, 5, v, NULL, "write subject", err);
}

struct text_walk {
	int (*fn)(const char *json, size_t len, void *ctx);
	void *ctx;
};

static int summary_row(PGresult *r, int i, void *vctx)
{
	struct text_walk *w = vctx;

	return w->fn(pg_col(r, i, 0), (size_t)PQgetlength(r, i, 0), w->ctx);
}

int pg_summary_rows(struct srv_store *s, const char *site,
		    int (*fn)(const char *json, size_t len, void *ctx),
		    void *ctx, struct cb_err *err)
{
	struct text_walk w = {fn, ctx};
	const char *v[1] = {site};

	return pg_each(PGS(s),
		       "SELECT summary FROM subjects"
		       " WHERE $1::text IS NULL OR site = $1 ORDER BY subject",
		       1, v, summary_row, &w, "read subjects", err);
}

/* The forms rows statement `id` selects with the n values v. */
int pg_form_rows(struct srv_store *s, const char *subject, const char *visit,
		 const char *form,
		 int (*fn)(const struct srv_form_row *f, void *ctx), void *ctx,
		 struct cb_err *err)
{
	const char *v[3] = {subject, visit, form};
	struct srv_form_row f;
	PGresult *r;
	int i, rc = 0;

	r = pg_run(PGS(s), visit ? PG_FORM_ROWS_OF : PG_FORM_ROWS_EACH,
		   visit ? 3 : 1, v, NULL, NULL, "read forms", err);
	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++) {
		f.subject = pg_col(r, i, 0);
		f.visit = pg_col(r, i, 1);
		f.form = pg_col(r, i, 2);
		f.instance = pg_col(r, i, 3);
		f.items = pg_col(r, i, 4);
		rc = fn(&f, ctx);
	}
	PQclear(r);
	return rc;
}

struct query_walk {
	int (*fn)(const struct srv_query_row *q, void *ctx);
	void *ctx;
};

static int query_row(PGresult *r, int i, void *vctx)
{
	struct query_walk *w = vctx;
	struct srv_query_row q;

	q.id = pg_col(r, i, 0);
	q.subject = pg_col(r, i, 1);
	q.site = pg_col(r, i, 2);
	q.visit = pg_col(r, i, 3);
	q.form = pg_col(r, i, 4);
	q.instance = pg_col(r, i, 5);
	q.item = pg_col(r, i, 6);
	q.status = pg_col(r, i, 7);
	q.system = (int)pg_int(r, i, 8);
	q.text = pg_col(r, i, 9);
	q.nanswers = (long)pg_int(r, i, 10);
	return w->fn(&q, w->ctx);
}

int pg_query_each(struct srv_store *s, const char *site, const char *status,
		  long limit,
		  int (*fn)(const struct srv_query_row *q, void *ctx),
		  void *ctx, struct cb_err *err)
{
	struct query_walk w = {fn, ctx};
	char n[24];
	const char *v[3] = {site, status, limit > 0 ? pg_i64(n, limit) : NULL};

	return pg_each(PGS(s), pg_sql[PG_QUERY_EACH], 3, v, query_row, &w,
		       "list queries", err);
}

/* ---- the dump -------------------------------------------------------- */

/* The derived tables, in dump order (store_derived.c's, the same). */
static const char *const dump_sql[] = {
    "SELECT subject, site, nevents, state, summary FROM subjects"
    " ORDER BY subject",
    /* each item's line, from its form's items (srv_items_dump) */
    "SELECT subject, visit, form, instance, items FROM forms"
    " ORDER BY subject, visit, form, instance",
    "SELECT subject, visit, form, instance, nitems, nconflicts, nsigns,"
    " sign, broken FROM forms ORDER BY subject, visit, form, instance",
    "SELECT id, subject, site, visit, form, instance, item, status, system,"
    " text, nanswers FROM queries ORDER BY id",
};
static const char *const dump_names[] = {"subjects", "items", "forms",
					 "queries"};
#define DUMP_ITEMS 1 /* the section made of the forms' items */

struct dump {
	struct cb_buf b;
	int (*out)(const char *text, size_t len, void *ctx);
	void *ctx;
	struct cb_err *err;
	int items; /* the section of the items (DUMP_ITEMS) */
};

/* One row: columns tab-separated, tab, newline and backslash escaped,
 * \N for NULL. */
static int dump_row(PGresult *r, int row, void *vctx)
{
	struct dump *d = vctx;
	int i, n = PQnfields(r), rc = 0;

	if (d->items) {
		struct srv_form_row f = {pg_col(r, row, 0), pg_col(r, row, 1),
					 pg_col(r, row, 2), pg_col(r, row, 3),
					 pg_col(r, row, 4)};

		rc = srv_items_dump(&d->b, &f, d->err);
		n = 0;
	}
	for (i = 0; i < n && !rc; i++) {
		if (i)
			rc = cb_buf_addc(&d->b, '\t', d->err);
		if (!rc)
			rc = srv_dump_field(
			    &d->b,
			    pg_null(r, row, i) ? NULL : PQgetvalue(r, row, i),
			    d->err);
	}
	if (!rc && !d->items)
		rc = cb_buf_addc(&d->b, '\n', d->err);
	/* Hand over what is gathered now and then: never whole in memory. */
	if (!rc && cb_buf_len(&d->b) >= 1u << 20) {
		rc = d->out(cb_buf_str(&d->b), cb_buf_len(&d->b), d->ctx);
		cb_buf_reset(&d->b);
	}
	return rc;
}

int pg_derived_dump(struct srv_store *s,
		    int (*out)(const char *text, size_t len, void *ctx),
		    void *ctx, struct cb_err *err)
{
	struct dump d;
	size_t t;
	int rc = 0;

	d.out = out;
	d.ctx = ctx;
	d.err = err;
	cb_buf_init(&d.b, 64u * 1024 * 1024);
	for (t = 0; t < sizeof(dump_sql) / sizeof(dump_sql[0]) && !rc; t++) {
		d.items = t == DUMP_ITEMS;
		rc = cb_buf_printf(&d.b, err, "[%s]\n", dump_names[t]);
		if (!rc)
			rc = pg_each(PGS(s), dump_sql[t], 0, NULL, dump_row, &d,
				     "dump", err);
	}
	if (!rc && cb_buf_len(&d.b))
		rc = out(cb_buf_str(&d.b), cb_buf_len(&d.b), ctx);
	cb_buf_free(&d.b);
	return rc;
}
