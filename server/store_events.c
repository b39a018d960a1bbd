/*
 * store_events.c - the events of the central store (store.h): appended
 * in server order, read back in that order for pulls and subject by
 * subject for the merge states that derived rows come from.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

/* Fill `row` from the current row of an events query. */
static void event_row(sqlite3_stmt *st, struct srv_event_row *row)
{
	row->seq = sqlite3_column_int64(st, 0);
	row->id = cb_db_col_text(st, 1);
	row->device = cb_db_col_text(st, 2);
	row->site = cb_db_col_text(st, 3);
	row->subject = cb_db_col_text(st, 4);
	row->kind = cb_db_col_text(st, 5);
	row->unblinded = sqlite3_column_int(st, 6);
	row->json = cb_db_col_text(st, 7);
	row->json_len = (size_t)sqlite3_column_bytes(st, 7);
	row->received_at = cb_db_col_text(st, 8);
}

int sq_event_add(struct srv_store *s, const struct srv_event_row *row,
		 int64_t *seq, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_EVENT_ADD, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, row->id);
	cb_db_bind_static(st, 2, row->device);
	cb_db_bind_static(st, 3, row->site);
	cb_db_bind_static(st, 4, row->subject);
	cb_db_bind_static(st, 5, row->kind);
	sqlite3_bind_int(st, 6, row->unblinded ? 1 : 0);
	sqlite3_bind_text(st, 7, row->json, (int)row->json_len, SQLITE_STATIC);
	cb_db_bind_static(st, 8, row->received_at);
	rc = st_done(s, st, "add event", err);
	if (rc == CB_EEXIST)
		return cb_err_set(err, CB_EEXIST, "event %s already stored",
				  row->id);
	if (!rc && seq)
		*seq = sqlite3_last_insert_rowid(SQ(s)->db.db);
	return rc;
}

int sq_event_each(struct srv_store *s, int64_t since, long limit,
		  const char *site, int unblinded,
		  int (*fn)(const struct srv_event_row *row, void *ctx),
		  void *ctx, int64_t *last, struct cb_err *err)
{
	sqlite3_stmt *st =
	    st_get(s, site ? ST_EVENT_EACH_SITE : ST_EVENT_EACH, err);
	struct srv_event_row row;
	long n = 0;
	int64_t at = since;
	int rc, r = 0;

	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int(st, 2, unblinded ? 1 : 0);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	if (site)
		cb_db_bind_text(st, 4, site);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		event_row(st, &row);
		at = row.seq;
		n++;
		r = fn(&row, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	if (r)
		return r;
	if (rc != SQLITE_DONE)
		return st_fail(s, rc, "read events", err);
	if (limit <= 0 || n < limit) {
		st = st_get(s, ST_EVENT_MAX, err);
		if (!st)
			return err->code;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > at)
			at = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return st_fail(s, rc, "read events", err);
	}
	if (last)
		*last = at;
	return 0;
}

int sq_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
		     const char *site,
		     int (*fn)(const struct srv_event_row *row, void *ctx),
		     void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_EVENT_WITHHELD, err);
	struct srv_event_row row;
	int rc, r = 0;

	if (!st)
		return err->code;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, upto);
	if (site)
		cb_db_bind_text(st, 3, site);
	else
		sqlite3_bind_null(st, 3);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		event_row(st, &row);
		r = fn(&row, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	if (r)
		return r;
	if (rc != SQLITE_DONE)
		return st_fail(s, rc, "read events", err);
	return 0;
}

int sq_event_get(struct srv_store *s, const char *id, char **json, size_t *len,
		 struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_EVENT_GET, err);
	size_t n;
	int rc;

	*json = NULL;
	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, id);
	rc = st_row(s, st, "read an event", err);
	if (rc == 0)
		rc = cb_err_set(err, CB_ENOTFOUND, "no event %s", id);
	if (rc == 1) {
		n = (size_t)sqlite3_column_bytes(st, 0);
		*json = malloc(n + 1);
		if (!*json) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		} else {
			memcpy(*json, cb_db_col_text(st, 0), n + 1);
			if (len)
				*len = n;
			rc = 0;
		}
	}
	sqlite3_reset(st);
	return rc;
}

int sq_subject_events(struct srv_store *s, const char *subject, int unblinded,
		      int (*fn)(const struct srv_event_row *row, void *ctx),
		      void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_EVENT_OF_SUBJECT, err);
	struct srv_event_row row;
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	sqlite3_bind_int(st, 2, unblinded ? 1 : 0);
	while ((rc = st_row(s, st, "read a subject's events", err)) == 1) {
		event_row(st, &row);
		r = fn(&row, ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int sq_subject_names(struct srv_store *s, const char *site,
		     int (*fn)(const char *subject, const char *site,
			       void *ctx),
		     void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SUBJECT_NAMES, err);
	int rc, r = 0;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, site);
	while ((rc = st_row(s, st, "list subjects", err)) == 1) {
		r = fn(cb_db_col_text(st, 0), cb_db_col_text(st, 1), ctx);
		if (r)
			break;
	}
	sqlite3_reset(st);
	return r ? r : rc;
}

int sq_subject_nevents(struct srv_store *s, const char *subject, int64_t *n,
		       struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SUBJECT_NEVENTS, err);
	int rc;

	*n = 0;
	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, subject);
	rc = st_row(s, st, "read a subject", err);
	if (rc == 1)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc < 0 ? rc : 0;
}
