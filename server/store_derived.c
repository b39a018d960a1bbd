/*
 * store_derived.c - the derived tables of the central store (store.h):
 * forms (with their items: store_items.c), queries and subjects, written
 * from a subject's merge state (merge.h) and its summary (summary.h), and
 * dumped.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int sq_derived_clear(struct srv_store *s, struct cb_err *err)
{
	return cb_db_exec(&SQ(s)->db,
			  "DELETE FROM subjects; DELETE FROM queries;"
			  " DELETE FROM forms;",
			  "clear derived tables", err);
}

/* Write (insert or replace) the row of query `q` of a subject of `site`. */
int sq_query_put(struct srv_store *s, const struct cb_merge_query *q,
		 const char *site, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_QUERY_PUT, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, q->id);
	cb_db_bind_text(st, 2, q->subject ? q->subject : "");
	cb_db_bind_text(st, 3, site);
	cb_db_bind_text(st, 4, q->visit ? q->visit : "");
	cb_db_bind_text(st, 5, q->form ? q->form : "");
	cb_db_bind_text(st, 6, q->instance ? q->instance : "");
	cb_db_bind_text(st, 7, q->item ? q->item : "");
	cb_db_bind_text(st, 8, cb_query_status_name(q->status));
	sqlite3_bind_int(st, 9, q->system ? 1 : 0);
	cb_db_bind_text(st, 10, q->text ? q->text : "");
	sqlite3_bind_int64(st, 11, (sqlite3_int64)q->nanswers);
	return st_done(s, st, "write query", err);
}

/* Write (insert or replace) the row of form instance `f`. */
int sq_form_put(struct srv_store *s, const struct cb_merge_form *f,
		const char *items, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_FORM_PUT, err);

	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, f->subject);
	cb_db_bind_static(st, 2, f->visit);
	cb_db_bind_static(st, 3, f->form);
	cb_db_bind_static(st, 4, f->instance);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)f->nitems);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)f->nconflicts);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)f->nsigns);
	cb_db_bind_static(st, 8, f->sign ? f->sign->id : NULL);
	sqlite3_bind_int(st, 9, f->broken ? 1 : 0);
	cb_db_bind_static(st, 10, items);
	return st_done(s, st, "write form", err);
}

int sq_form_items(struct srv_store *s, const char *subject, const char *visit,
		  const char *form, const char *instance, struct cb_buf *b,
		  struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_FORM_ITEMS, err);
	int rc;

	cb_buf_reset(b);
	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, subject);
	cb_db_bind_static(st, 2, visit);
	cb_db_bind_static(st, 3, form);
	cb_db_bind_static(st, 4, instance);
	rc = st_row(s, st, "read a form's items", err);
	if (rc == 1)
		rc = cb_buf_add(b, sqlite3_column_text(st, 0),
				(size_t)sqlite3_column_bytes(st, 0), err);
	sqlite3_reset(st);
	return rc < 0 ? rc : 0;
}

/* Delete the rows of `subject` from the table statement `id` empties. */
static int clear_subject(struct srv_store *s, enum stmt_id id,
			 const char *subject, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, id, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	return st_done(s, st, "clear a subject's rows", err);
}

int sq_subject_clear(struct srv_store *s, const char *subject,
		     struct cb_err *err)
{
	int rc = clear_subject(s, ST_QUERIES_DEL, subject, err);

	if (!rc)
		rc = clear_subject(s, ST_FORMS_DEL, subject, err);
	return rc;
}

int sq_query_del(struct srv_store *s, const char *id, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_QUERY_DEL_ID, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	return st_done(s, st, "delete query", err);
}

int sq_subject_put(struct srv_store *s, const char *subject, const char *site,
		   int64_t nevents, const char *state, const char *summary,
		   struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SUBJECT_PUT, err);

	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, subject);
	cb_db_bind_static(st, 2, site);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)nevents);
	cb_db_bind_static(st, 4, state);
	cb_db_bind_static(st, 5, summary);
	return st_done(s, st, "write subject", err);
}

int sq_summary_rows(struct srv_store *s, const char *site,
		    int (*fn)(const char *json, size_t len, void *ctx),
		    void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SUBJECT_EACH, err);
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, site);
	while ((rc = st_row(s, st, "read subjects", err)) == 1) {
		r = fn(cb_db_col_text(st, 0),
		       (size_t)sqlite3_column_bytes(st, 0), ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int sq_query_each(struct srv_store *s, const char *site, const char *status,
		  long limit,
		  int (*fn)(const struct srv_query_row *q, void *ctx),
		  void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_QUERY_EACH, err);
	struct srv_query_row q;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, site);
	cb_db_bind_text(st, 2, status);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	while ((rc = st_row(s, st, "list queries", err)) == 1) {
		q.id = cb_db_col_text(st, 0);
		q.subject = cb_db_col_text(st, 1);
		q.site = cb_db_col_text(st, 2);
		q.visit = cb_db_col_text(st, 3);
		q.form = cb_db_col_text(st, 4);
		q.instance = cb_db_col_text(st, 5);
		q.item = cb_db_col_text(st, 6);
		q.status = cb_db_col_text(st, 7);
		q.system = sqlite3_column_int(st, 8);
		q.text = cb_db_col_text(st, 9);
		q.nanswers = (long)sqlite3_column_int64(st, 10);
		r = fn(&q, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int sq_form_rows(struct srv_store *s, const char *subject, const char *visit,
		 const char *form,
		 int (*fn)(const struct srv_form_row *f, void *ctx), void *ctx,
		 struct cb_err *err)
{
	sqlite3_stmt *st =
	    st_get(s, visit ? ST_FORM_ROWS_OF : ST_FORM_ROWS_EACH, err);
	struct srv_form_row f;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	if (visit) {
		cb_db_bind_text(st, 2, visit);
		cb_db_bind_text(st, 3, form);
	}
	while ((rc = st_row(s, st, "read forms", err)) == 1) {
		f.subject = cb_db_col_text(st, 0);
		f.visit = cb_db_col_text(st, 1);
		f.form = cb_db_col_text(st, 2);
		f.instance = cb_db_col_text(st, 3);
		f.items = cb_db_col_text(st, 4);
		r = fn(&f, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

/* ---- the dump -------------------------------------------------------- */

/* The derived tables, in dump order, with their key columns. */
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

/* One column, as srv_dump_field writes it. */
static int dump_col(struct cb_buf *b, sqlite3_stmt *st, int col,
		    struct cb_err *err)
{
	return srv_dump_field(b,
			      sqlite3_column_type(st, col) == SQLITE_NULL
				  ? NULL
				  : cb_db_col_text(st, col),
			      err);
}

/* The items' lines of the forms row at st. */
static int dump_items(struct cb_buf *b, sqlite3_stmt *st, struct cb_err *err)
{
	struct srv_form_row f;

	f.subject = cb_db_col_text(st, 0);
	f.visit = cb_db_col_text(st, 1);
	f.form = cb_db_col_text(st, 2);
	f.instance = cb_db_col_text(st, 3);
	f.items = cb_db_col_text(st, 4);
	return srv_items_dump(b, &f, err);
}

int sq_derived_dump(struct srv_store *s,
		    int (*out)(const char *text, size_t len, void *ctx),
		    void *ctx, struct cb_err *err)
{
	struct cb_buf b;
	size_t t;
	int rc = 0;

	cb_buf_init(&b, 64u * 1024 * 1024);
	for (t = 0; t < sizeof(dump_sql) / sizeof(dump_sql[0]) && !rc; t++) {
		sqlite3_stmt *st;
		int n, i;

		rc = sqlite3_prepare_v2(SQ(s)->db.db, dump_sql[t], -1, &st,
					NULL);
		if (rc)
			return st_fail(s, rc, "dump", err);
		rc = cb_buf_printf(&b, err, "[%s]\n", dump_names[t]);
		n = sqlite3_column_count(st);
		while (!rc && (rc = st_row(s, st, "dump", err)) == 1) {
			rc = t == DUMP_ITEMS ? dump_items(&b, st, err) : 0;
			for (i = 0; t != DUMP_ITEMS && i < n && !rc; i++) {
				if (i)
					rc = cb_buf_addc(&b, '\t', err);
				if (!rc)
					rc = dump_col(&b, st, i, err);
			}
			if (!rc && t != DUMP_ITEMS)
				rc = cb_buf_addc(&b, '\n', err);
			/* Hand over what is gathered now and then, so the
			 * dump never sits whole in memory. */
			if (!rc && cb_buf_len(&b) >= 1u << 20) {
				rc = out(cb_buf_str(&b), cb_buf_len(&b), ctx);
				cb_buf_reset(&b);
			}
		}
		sqlite3_finalize(st);
	}
	if (!rc && cb_buf_len(&b))
		rc = out(cb_buf_str(&b), cb_buf_len(&b), ctx);
	cb_buf_free(&b);
	return rc;
}
