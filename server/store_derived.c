/*
 * store_derived.c - the derived tables of the central store (store.h):
 * items, forms, queries and subjects, written from a subject's merge
 * state (merge.h) and its summary (summary.h), and dumped.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int srv_store_derived_clear(struct srv_store *s, struct cb_err *err)
{
	return cb_db_exec(&s->db,
			  "DELETE FROM subjects; DELETE FROM items;"
			  " DELETE FROM queries; DELETE FROM forms;",
			  "clear derived tables", err);
}

/*
 * A JSON array text of `n` strings (NULL entries as null), escaped as
 * cJSON_PrintUnformatted escapes them, so the rows read the same as
 * ever; written directly because it runs for every item an event
 * changes. Malloc'd; NULL when out of memory.
 */
static char *json_strings(const char *const *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, cap = 3, pos = 0;
	char *out;

	for (i = 0; i < n; i++)
		cap += v[i] ? 6 * strlen(v[i]) + 3 : 5;
	out = malloc(cap);
	if (!out)
		return NULL;
	out[pos++] = '[';
	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)v[i];

		if (i)
			out[pos++] = ',';
		if (!p) {
			memcpy(out + pos, "null", 4);
			pos += 4;
			continue;
		}
		out[pos++] = '"';
		for (; *p; p++) {
			const char *esc = NULL;

			switch (*p) {
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				break;
			}
			if (esc) {
				out[pos++] = esc[0];
				out[pos++] = esc[1];
			} else if (*p < 0x20) {
				memcpy(out + pos, "\\u00", 4);
				out[pos + 4] = hex[*p >> 4];
				out[pos + 5] = hex[*p & 15];
				pos += 6;
			} else {
				out[pos++] = (char)*p;
			}
		}
		out[pos++] = '"';
	}
	out[pos++] = ']';
	out[pos] = '\0';
	return out;
}

/* Write (insert or replace) the row of item `it`. */
static int item_write(struct srv_store *s, const struct cb_merge_item *it,
		      struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_ITEM_REPLACE, err);
	char *heads, *values;
	int rc;

	if (!st)
		return err->code;
	heads = json_strings(it->heads, it->nheads);
	values = json_strings(it->head_values, it->nheads);
	if (!heads || !values) {
		free(heads);
		free(values);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cb_db_bind_static(st, 1, it->subject);
	cb_db_bind_static(st, 2, it->visit);
	cb_db_bind_static(st, 3, it->form);
	cb_db_bind_static(st, 4, it->instance);
	cb_db_bind_static(st, 5, it->item);
	cb_db_bind_static(st, 6, it->conflict ? NULL : it->value);
	sqlite3_bind_int(st, 7, it->conflict ? 1 : 0);
	cb_db_bind_static(st, 8, heads);
	cb_db_bind_static(st, 9, values);
	cb_db_bind_static(st, 10, it->query);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)it->nchanges);
	rc = st_done(s, st, "write item", err);
	free(heads);
	free(values);
	return rc;
}

/* Write (insert or replace) the row of query `q` of a subject of `site`. */
static int query_write(struct srv_store *s, const struct cb_merge_query *q,
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
static int form_write(struct srv_store *s, const struct cb_merge_form *f,
		      struct cb_err *err)
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
	return st_done(s, st, "write form", err);
}

struct derive_ctx {
	struct srv_store *s;
	const char *site;
	struct cb_err *err;
};

static int derive_item(const struct cb_merge_item *it, void *vctx)
{
	struct derive_ctx *c = vctx;

	return item_write(c->s, it, c->err);
}

static int derive_query(const struct cb_merge_query *q, void *vctx)
{
	struct derive_ctx *c = vctx;

	return query_write(c->s, q, c->site, c->err);
}

static int derive_form(const struct cb_merge_form *f, void *vctx)
{
	struct derive_ctx *c = vctx;

	return form_write(c->s, f, c->err);
}

static int site_of(const struct cb_event *ev, void *ctx)
{
	*(const char **)ctx = ev->site;
	return 1;
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

int srv_store_derive_subject(struct srv_store *s, struct cb_merge *m,
			     const char *subject, struct cb_err *err)
{
	struct derive_ctx c = {s, "", err};
	int rc;

	/* A walk that fails (out of memory) would leave the site empty in
	 * every row written below. */
	if (cb_merge_each_event(m, subject, site_of, &c.site) < 0)
		return cb_err_set(err, CB_ENOMEM,
				  "deriving subject %s: out of memory",
				  subject);
	rc = clear_subject(s, ST_ITEMS_DEL, subject, err);
	if (!rc)
		rc = clear_subject(s, ST_QUERIES_DEL, subject, err);
	if (!rc)
		rc = clear_subject(s, ST_FORMS_DEL, subject, err);
	if (rc)
		return rc;
	cb_err_clear(err);
	rc = cb_merge_each_item(m, subject, NULL, NULL, NULL, derive_item, &c);
	if (!rc)
		rc = cb_merge_each_form(m, subject, derive_form, &c);
	if (!rc)
		rc = cb_merge_each_query(m, subject, derive_query, &c, err);
	if (rc && !err->code)
		cb_err_set(err, rc, "deriving subject %s: %s", subject,
			   cb_err_name(rc));
	return rc;
}

/* The query column of the stored row of item `it` into out ("" if none). */
static int item_old_query(struct srv_store *s, const struct cb_merge_item *it,
			  char out[SRV_ID_HEX + 1], struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_ITEM_QUERY, err);
	int rc;

	out[0] = '\0';
	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, it->subject);
	cb_db_bind_static(st, 2, it->visit);
	cb_db_bind_static(st, 3, it->form);
	cb_db_bind_static(st, 4, it->instance);
	cb_db_bind_static(st, 5, it->item);
	rc = st_row(s, st, "read item", err);
	if (rc == 1)
		cb_db_col_copy(out, SRV_ID_HEX + 1, st, 0);
	sqlite3_reset(st);
	return rc < 0 ? rc : 0;
}

/*
 * Write the current row of query `id` when the merge state lists it (a
 * query whose open event has arrived, or the system query of a
 * conflicted item). The merge state holds one subject: its site is the
 * event's.
 */
static int query_refresh(struct srv_store *s, struct cb_merge *m,
			 const char *id, const struct cb_event *ev,
			 struct cb_err *err)
{
	struct cb_merge_query q;
	int rc;

	rc = cb_merge_query_get(m, id, &q, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	return rc ? rc : query_write(s, &q, ev->site, err);
}

static int query_delete(struct srv_store *s, const char *id, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_QUERY_DEL_ID, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	return st_done(s, st, "delete query", err);
}

int srv_store_derive_event(struct srv_store *s, struct cb_merge *m,
			   const struct cb_event *ev, struct cb_err *err)
{
	const char *qid = NULL;
	struct cb_merge_form f;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < ev->nchanges; i++) {
		char old[SRV_ID_HEX + 1] = "";
		struct cb_merge_item it;

		rc = cb_merge_item_get(m, ev->subject, ev->visit, ev->form,
				       ev->instance, ev->changes[i].item, &it,
				       err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
			continue;
		}
		/* Only an item changed before can have a row whose system
		 * query (of a conflict) is no longer current. */
		if (!rc && it.nchanges > 1)
			rc = item_old_query(s, &it, old, err);
		if (!rc)
			rc = item_write(s, &it, err);
		if (!rc && old[0] &&
		    !(it.conflict && it.query && !strcmp(old, it.query)))
			rc = query_delete(s, old, err);
		if (!rc && it.conflict && it.query)
			rc = query_refresh(s, m, it.query, ev, err);
	}
	if (!rc && ev->form && ev->form[0]) {
		rc = cb_merge_form_get(m, ev->subject, ev->visit, ev->form,
				       ev->instance, &f, err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
		} else if (!rc) {
			rc = form_write(s, &f, err);
		}
	}
	if (rc)
		return rc;
	if (!strcmp(ev->kind, CB_KIND_QUERY_OPEN))
		qid = ev->id;
	else if (!strcmp(ev->kind, CB_KIND_QUERY_ANSWER) ||
		 !strcmp(ev->kind, CB_KIND_QUERY_CLOSE) ||
		 !strcmp(ev->kind, CB_KIND_QUERY_REOPEN))
		qid = cb_event_data(ev, CB_DATA_QUERY);
	return qid ? query_refresh(s, m, qid, ev, err) : 0;
}

int srv_store_summary_put(struct srv_store *s, const struct cb_summary *sum,
			  struct cb_err *err)
{
	sqlite3_stmt *st;
	cJSON *j = NULL;
	char *text;
	int rc;

	rc = cb_summary_to_json(sum, &j, err);
	if (rc)
		return rc;
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	st = st_get(s, ST_SUBJECT_PUT, err);
	if (!st) {
		free(text);
		return err->code;
	}
	cb_db_bind_static(st, 1, sum->subject);
	cb_db_bind_static(st, 2, sum->site);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)sum->nevents);
	cb_db_bind_static(st, 4, cb_lifecycle_name(sum->state));
	cb_db_bind_static(st, 5, text);
	rc = st_done(s, st, "write subject", err);
	free(text);
	return rc;
}

int srv_store_summary_each(struct srv_store *s, const char *site,
			   int (*fn)(const struct cb_summary *sum, void *ctx),
			   void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SUBJECT_EACH, err);
	struct cb_summary sum;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_summary_init(&sum);
	cb_db_bind_text(st, 1, site);
	while ((rc = st_row(s, st, "read subjects", err)) == 1) {
		const char *text = cb_db_col_text(st, 0);
		cJSON *j = cJSON_ParseWithLength(
		    text, (size_t)sqlite3_column_bytes(st, 0));

		r = j ? cb_summary_from_json(j, &sum, err)
		      : cb_err_set(err, CB_EINTEGRITY,
				   "central store: a subject's summary does "
				   "not parse");
		cJSON_Delete(j);
		if (!r)
			r = fn(&sum, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	cb_summary_release(&sum);
	return r ? r : rc;
}

int srv_store_query_each(struct srv_store *s, const char *site,
			 const char *status, long limit,
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

int srv_store_items_of(struct srv_store *s, const char *subject,
		       const char *visit, const char *form,
		       int (*fn)(const struct srv_item_row *it, void *ctx),
		       void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_ITEMS_FORM, err);
	struct srv_item_row it;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	cb_db_bind_text(st, 2, visit);
	cb_db_bind_text(st, 3, form);
	while ((rc = st_row(s, st, "read items", err)) == 1) {
		it.subject = cb_db_col_text(st, 0);
		it.visit = cb_db_col_text(st, 1);
		it.form = cb_db_col_text(st, 2);
		it.instance = cb_db_col_text(st, 3);
		it.item = cb_db_col_text(st, 4);
		it.value = sqlite3_column_type(st, 5) == SQLITE_NULL
			       ? NULL
			       : cb_db_col_text(st, 5);
		it.conflict = sqlite3_column_int(st, 6);
		it.head_values = cb_db_col_text(st, 7);
		r = fn(&it, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int srv_store_items_each(struct srv_store *s, const char *subject,
			 int (*fn)(const struct srv_item_row *it, void *ctx),
			 void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_ITEMS_EACH, err);
	struct srv_item_row it;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	while ((rc = st_row(s, st, "read items", err)) == 1) {
		it.subject = cb_db_col_text(st, 0);
		it.visit = cb_db_col_text(st, 1);
		it.form = cb_db_col_text(st, 2);
		it.instance = cb_db_col_text(st, 3);
		it.item = cb_db_col_text(st, 4);
		it.value = sqlite3_column_type(st, 5) == SQLITE_NULL
			       ? NULL
			       : cb_db_col_text(st, 5);
		it.conflict = sqlite3_column_int(st, 6);
		it.head_values = cb_db_col_text(st, 7);
		r = fn(&it, ctx);
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
    "SELECT subject, visit, form, instance, item, value, conflict, heads,"
    " head_values, query, nchanges FROM items ORDER BY subject, visit,"
    " form, instance, item",
    "SELECT subject, visit, form, instance, nitems, nconflicts, nsigns,"
    " sign, broken FROM forms ORDER BY subject, visit, form, instance",
    "SELECT id, subject, site, visit, form, instance, item, status, system,"
    " text, nanswers FROM queries ORDER BY id",
};
static const char *const dump_names[] = {"subjects", "items", "forms",
					 "queries"};

/* One column: tab, newline and backslash escaped, \N for NULL. */
static int dump_col(struct cb_buf *b, sqlite3_stmt *st, int col,
		    struct cb_err *err)
{
	const unsigned char *t;
	int rc = 0;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return cb_buf_addstr(b, "\\N", err);
	for (t = sqlite3_column_text(st, col); t && *t && !rc; t++) {
		if (*t == '\t')
			rc = cb_buf_addstr(b, "\\t", err);
		else if (*t == '\n')
			rc = cb_buf_addstr(b, "\\n", err);
		else if (*t == '\\')
			rc = cb_buf_addstr(b, "\\\\", err);
		else
			rc = cb_buf_addc(b, (char)*t, err);
	}
	return rc;
}

int srv_store_derived_dump(struct srv_store *s,
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

		rc = sqlite3_prepare_v2(s->db.db, dump_sql[t], -1, &st, NULL);
		if (rc)
			return st_fail(s, rc, "dump", err);
		rc = cb_buf_printf(&b, err, "[%s]\n", dump_names[t]);
		n = sqlite3_column_count(st);
		while (!rc && (rc = st_row(s, st, "dump", err)) == 1) {
			rc = 0;
			for (i = 0; i < n && !rc; i++) {
				if (i)
					rc = cb_buf_addc(&b, '\t', err);
				if (!rc)
					rc = dump_col(&b, st, i, err);
			}
			if (!rc)
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
