/*
 * store_rows.c - the laptop store's rows beside the events: what is
 * derived from each subject's events, the quarantine, and the marks of
 * subjects whose derived rows are out of date (see store.h, "Derived
 * rows" and "Quarantine"; client/store.c holds the rest).
 *
 * Tables (schema 2):
 *
 *   summaries(ord, hash, sealed)
 *       one per subject whose rows were derived; `hash` is the keyed
 *       hash of the subject id, `sealed` the summary's text with AD
 *       "summaries:SUBJECTHASHHEX".
 *   queries(ord, hash, subject, sealed)
 *       one per query of a subject; `hash` is the keyed hash of the query
 *       id (domain "store.query"), `subject` the subject's hash, `sealed`
 *       the query's text with AD "queries:QUERYHASHHEX:SUBJECTHASHHEX".
 *   quarantine(ord, id, sealed)
 *       one per rejected event, in the order rejected: its id and the
 *       sealed {"id","code","reason"} with AD "quarantine:ID".
 *   dirty(hash)
 *       subjects whose events changed since their rows were written.
 *
 * Schema 3 adds:
 *
 *   withheld(ord, hash, sealed)
 *       one per subject the server told this (blinded) device of
 *       unblinded values it is not sent; `hash` is the keyed hash of the
 *       subject id, `sealed` withheld.h's text ({"subject": ID,
 *       "forms": {...}}) with AD "withheld:SUBJECTHASHHEX". Not derived
 *       from the events: the server's word, kept as it came.
 *
 * The tally counts the rows of each table (store.c), so a row deleted
 * is told at unlock; a row moved to another subject or query fails to
 * open. The texts are derive.h's, sync's and withheld.h's; this file
 * only keeps them.
 */
#include "store.h"
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "buf.h"
#include "json.h"

const char store_rows_schema[] =
    "CREATE TABLE summaries("
    " ord INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL UNIQUE,"
    " sealed BLOB NOT NULL);"
    "CREATE TABLE queries("
    " ord INTEGER PRIMARY KEY,"
    " hash BLOB NOT NULL UNIQUE,"
    " subject BLOB NOT NULL,"
    " sealed BLOB NOT NULL);"
    "CREATE INDEX queries_subject ON queries(subject);"
    "CREATE TABLE quarantine("
    " ord INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " sealed BLOB NOT NULL);"
    "CREATE TABLE dirty(hash BLOB PRIMARY KEY) WITHOUT ROWID;";

const char store_rows_schema3[] = "CREATE TABLE withheld("
				  " ord INTEGER PRIMARY KEY,"
				  " hash BLOB NOT NULL UNIQUE,"
				  " sealed BLOB NOT NULL);";

/* Largest quarantine text kept: a server's reason with its checks. */
#define QUARANTINE_TEXT_MAX (256u * 1024u)

static int step(struct store *st, sqlite3_stmt *s, const char *what,
		struct cb_err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_fail(st, rc, what, err);
}

static int done(struct store *st, sqlite3_stmt *s, const char *what,
		struct cb_err *err)
{
	int rc = step(st, s, what, err);

	sqlite3_reset(s);
	return rc == 0	? 0
	       : rc < 0 ? rc
			: store_fail(st, SQLITE_ERROR, what, err);
}

static sqlite3_stmt *stmt(struct store *st, int which, struct cb_err *err)
{
	sqlite3_stmt *s = cb_db_stmt(&st->db, (size_t)which, err);

	if (!s && err->code != CB_EINVAL)
		store_fail(st, sqlite3_errcode(st->db.db), "reading the store",
			   err);
	return s;
}

/* A statement of its own (for a scan whose callback may use others). */
static int prepare(struct store *st, const char *sql, sqlite3_stmt **s,
		   struct cb_err *err)
{
	int rc = sqlite3_prepare_v2(st->db.db, sql, -1, s, NULL);

	return rc == SQLITE_OK ? 0
			       : store_fail(st, rc, "reading the store", err);
}

static int is_hash(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_BLOB &&
	       sqlite3_column_bytes(s, col) == CB_KEYED_HASH_BYTES;
}

static void summary_ad(char ad[AD_MAX], const unsigned char *subject)
{
	char hex[65];

	store_hex32(subject, hex);
	snprintf(ad, AD_MAX, "summaries:%s", hex);
}

static void query_ad(char ad[AD_MAX], const unsigned char *query,
		     const unsigned char *subject)
{
	char qh[65], sh[65];

	store_hex32(query, qh);
	store_hex32(subject, sh);
	snprintf(ad, AD_MAX, "queries:%s:%s", qh, sh);
}

static void withheld_ad(char ad[AD_MAX], const unsigned char *subject)
{
	char hex[65];

	store_hex32(subject, hex);
	snprintf(ad, AD_MAX, "withheld:%s", hex);
}

/* ---- Derived rows -------------------------------------------------------- */

/* Insert or replace the summary row of `hash`. */
static int put_summary(struct store *st, const unsigned char *hash,
		       const char *text, size_t len, struct cb_err *err)
{
	unsigned char *sealed = NULL;
	size_t sealed_len;
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc, had;

	s = stmt(st, Q_SUMMARY_HAS, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	had = step(st, s, "reading a summary", err);
	sqlite3_reset(s);
	if (had < 0)
		return had;
	summary_ad(ad, hash);
	rc = store_seal(st, ad, text, len, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	s = stmt(st, Q_SUMMARY_PUT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = done(st, s, "saving a summary", err);
	free(sealed);
	if (!rc && !had) {
		st->tally.summaries++;
		st->tally_dirty = 1;
	}
	return rc;
}

static int put_query(struct store *st, const unsigned char *subject,
		     const char *id, const char *text, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES], *sealed = NULL;
	size_t sealed_len;
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc;

	rc = cb_keyed_hash_with(st->query_key, id, strlen(id), hash, err);
	if (rc)
		return rc;
	query_ad(ad, hash, subject);
	rc = store_seal(st, ad, text, strlen(text), &sealed, &sealed_len, err);
	if (rc)
		return rc;
	s = stmt(st, Q_QUERY_PUT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, subject, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = done(st, s, "saving a query", err);
	free(sealed);
	if (rc == CB_EEXIST)
		rc = store_integrity(st,
				     "a query row (its id is another "
				     "subject's)",
				     err);
	if (!rc) {
		st->tally.queries++;
		st->tally_dirty = 1;
	}
	return rc;
}

int store_derived_put(struct store *st, const char *subject,
		      const char *summary, size_t len,
		      const char *const *query_ids,
		      const char *const *query_texts, size_t nq,
		      struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	size_t i;
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	st->last_subject_ok = 0; /* its pending mark goes below */
	rc = store_write_point(st, err);
	if (!rc)
		rc = store_subject_hash(st, subject, hash, err);
	if (!rc)
		rc = put_summary(st, hash, summary, len, err);
	if (!rc) {
		s = stmt(st, Q_QUERY_CLEAR, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES,
					  SQLITE_STATIC);
			rc = done(st, s, "replacing queries", err);
			if (!rc) {
				st->tally.queries -= sqlite3_changes(st->db.db);
				st->tally_dirty = 1;
			}
		}
	}
	for (i = 0; !rc && i < nq; i++)
		rc = put_query(st, hash, query_ids[i], query_texts[i], err);
	if (!rc) {
		s = stmt(st, Q_DIRTY_DEL, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES,
					  SQLITE_STATIC);
			rc = done(st, s, "clearing a pending mark", err);
			if (!rc && sqlite3_changes(st->db.db) == 1) {
				st->tally.dirty--;
				st->tally_dirty = 1;
			}
		}
	}
	return store_finish_own(st, own, rc, err);
}

int store_summary_get(struct store *st, const char *subject, char **text,
		      size_t *len, int *pending, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES];
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc;

	*text = NULL;
	*len = 0;
	*pending = 0;
	if (store_need_key(st, err))
		return err->code;
	rc = store_subject_hash(st, subject, hash, err);
	if (rc)
		return rc;
	s = stmt(st, Q_SUMMARY_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = step(st, s, "reading a summary", err);
	if (rc != 1) {
		sqlite3_reset(s);
		return rc ? rc
			  : store_fail(st, SQLITE_ERROR, "reading a summary",
				       err);
	}
	*pending = sqlite3_column_int(s, 1) != 0;
	if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
		sqlite3_reset(s);
		return cb_err_set(err, CB_ENOTFOUND, "no summary of %.64s",
				  subject);
	}
	summary_ad(ad, hash);
	rc = store_unseal(st, ad, sqlite3_column_blob(s, 0),
			  (size_t)sqlite3_column_bytes(s, 0), "a summary row",
			  text, len, err);
	sqlite3_reset(s);
	return rc;
}

int store_each_summary(struct store *st, store_row_fn fn, void *ctx,
		       struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	rc = prepare(st,
		     "SELECT s.hash, s.sealed, d.hash IS NOT NULL"
		     " FROM summaries s LEFT JOIN dirty d ON d.hash = s.hash"
		     " ORDER BY s.ord",
		     &s, err);
	if (rc)
		return rc;
	while ((rc = step(st, s, "reading summaries", err)) == 1) {
		char ad[AD_MAX], *text;
		size_t len;

		if (!is_hash(s, 0)) {
			rc = store_integrity(st, "a summary row", err);
			break;
		}
		summary_ad(ad, sqlite3_column_blob(s, 0));
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 1),
				  (size_t)sqlite3_column_bytes(s, 1),
				  "a summary row", &text, &len, err);
		if (rc)
			break;
		rc = fn(ctx, text, len, sqlite3_column_int(s, 2));
		cb_wipe_free(text, len + 1);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_each_query_row(struct store *st, const char *subject, store_row_fn fn,
			 void *ctx, struct cb_err *err)
{
	unsigned char want[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	if (subject && (rc = store_subject_hash(st, subject, want, err)))
		return rc;
	rc = prepare(st,
		     subject ? "SELECT q.hash, q.subject, q.sealed,"
			       " d.hash IS NOT NULL FROM queries q"
			       " LEFT JOIN dirty d ON d.hash = q.subject"
			       " WHERE q.subject = ?1 ORDER BY q.ord"
			     : "SELECT q.hash, q.subject, q.sealed,"
			       " d.hash IS NOT NULL FROM queries q"
			       " LEFT JOIN dirty d ON d.hash = q.subject"
			       " ORDER BY q.ord",
		     &s, err);
	if (rc)
		return rc;
	if (subject)
		sqlite3_bind_blob(s, 1, want, CB_KEYED_HASH_BYTES,
				  SQLITE_STATIC);
	while ((rc = step(st, s, "reading queries", err)) == 1) {
		char ad[AD_MAX], *text;
		size_t len;

		if (!is_hash(s, 0) || !is_hash(s, 1)) {
			rc = store_integrity(st, "a query row", err);
			break;
		}
		query_ad(ad, sqlite3_column_blob(s, 0),
			 sqlite3_column_blob(s, 1));
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 2),
				  (size_t)sqlite3_column_bytes(s, 2),
				  "a query row", &text, &len, err);
		if (rc)
			break;
		rc = fn(ctx, text, len, sqlite3_column_int(s, 3));
		cb_wipe_free(text, len + 1);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The pending subjects' ids, read before any is handed out. */
struct pending_list {
	char **ids;
	size_t n, cap;
};

static void pending_free(struct pending_list *p)
{
	while (p->n)
		free(p->ids[--p->n]);
	free(p->ids);
}

int store_each_pending(struct store *st, store_subject_fn fn, void *ctx,
		       struct cb_err *err)
{
	struct pending_list p = {NULL, 0, 0};
	unsigned char check[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	size_t i;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	rc = prepare(st,
		     "SELECT s.hash, s.sealed FROM dirty d"
		     " JOIN subjects s ON s.hash = d.hash ORDER BY s.ord",
		     &s, err);
	if (rc)
		return rc;
	while ((rc = step(st, s, "reading subjects", err)) == 1) {
		char ad[AD_MAX], hex[65], *id;
		size_t len;

		if (!is_hash(s, 0)) {
			rc = store_integrity(st, "a subject", err);
			break;
		}
		store_hex32(sqlite3_column_blob(s, 0), hex);
		snprintf(ad, sizeof(ad), "subjects:%s", hex);
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 1),
				  (size_t)sqlite3_column_bytes(s, 1),
				  "a subject", &id, &len, err);
		if (!rc)
			rc = store_subject_hash(st, id, check, err);
		if (!rc && !cb_ct_equal(check, sqlite3_column_blob(s, 0),
					CB_KEYED_HASH_BYTES))
			rc = store_integrity(st, "a subject", err);
		if (!rc)
			rc = cb_array_grow((void **)&p.ids, &p.cap, p.n + 1,
					   sizeof(*p.ids), SIZE_MAX / 2,
					   "pending subjects", err);
		if (rc) {
			free(id);
			break;
		}
		p.ids[p.n++] = id;
	}
	sqlite3_finalize(s);
	for (i = 0; !rc && i < p.n; i++)
		rc = fn(ctx, p.ids[i]);
	pending_free(&p);
	return rc;
}

/* ---- Quarantine ---------------------------------------------------------- */

/* The sealed row of quarantined `id` into *text: 1, 0 when none. */
static int quarantine_get(struct store *st, const char *id, char **text,
			  size_t *len, struct cb_err *err)
{
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc;

	*text = NULL;
	s = stmt(st, Q_QUAR_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = step(st, s, "reading the quarantine", err);
	if (rc == 1) {
		snprintf(ad, sizeof(ad), "quarantine:%s", id);
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 0),
				  (size_t)sqlite3_column_bytes(s, 0),
				  "a quarantine row", text, len, err);
		if (!rc)
			rc = 1;
	}
	sqlite3_reset(s);
	return rc;
}

int store_is_quarantined(struct store *st, const char *id, struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	rc = quarantine_get(st, id, &text, &len, err);
	free(text);
	return rc;
}

int store_quarantine(struct store *st, const char *id, const char *code,
		     const char *reason, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES], *sealed = NULL;
	char ad[AD_MAX], *text = NULL;
	size_t sealed_len;
	sqlite3_stmt *s;
	cJSON *o;
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	if (!cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL, "store: bad event id");
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	rc = store_is_quarantined(st, id, err);
	if (rc == 1)
		rc = cb_err_set(err, CB_EEXIST,
				"event %s is quarantined "
				"already",
				id);
	if (!rc)
		rc = store_write_point(st, err);
	if (!rc) {
		o = cJSON_CreateObject();
		if (o && cJSON_AddStringToObject(o, "id", id) &&
		    cJSON_AddStringToObject(o, "code", code ? code : "") &&
		    cJSON_AddStringToObject(o, "reason", reason ? reason : ""))
			text = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (!text)
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		else if (strlen(text) > QUARANTINE_TEXT_MAX)
			rc = cb_err_set(err, CB_ETOOBIG,
					"the reason given for event %s is "
					"over %u bytes",
					id, QUARANTINE_TEXT_MAX);
	}
	if (!rc) {
		snprintf(ad, sizeof(ad), "quarantine:%s", id);
		rc = store_seal(st, ad, text, strlen(text), &sealed,
				&sealed_len, err);
	}
	if (!rc) {
		s = stmt(st, Q_QUAR_INSERT, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 2, sealed, (int)sealed_len,
					  SQLITE_STATIC);
			rc = done(st, s, "saving the quarantine", err);
		}
	}
	if (!rc) {
		st->tally.quarantine++;
		st->tally_dirty = 1;
		/* The event leaves the record: its subject is derived
		 * again. An id the store does not hold (the server names
		 * it) is only kept in the list. */
		rc = store_event_flag(st, id, FLAG_QUARANTINED, hash, err);
		if (!rc)
			rc = store_mark_dirty(st, hash, err);
		else if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
		}
	}
	free(sealed);
	free(text);
	return store_finish_own(st, own, rc, err);
}

/* Read a quarantine row's text: its id must be the row's. */
static int quarantine_parse(struct store *st, const char *id, const char *text,
			    size_t len, cJSON **out, struct cb_err *err)
{
	const char *rid;

	*out = cb_json_parse(text, len, QUARANTINE_TEXT_MAX, "quarantine row",
			     err);
	rid = *out ? cb_json_str(*out, "id") : NULL;
	if (!rid || strcmp(rid, id) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(*out, "reason"))) {
		cJSON_Delete(*out);
		*out = NULL;
		return store_integrity(st, "a quarantine row", err);
	}
	return 0;
}

int store_each_quarantined(struct store *st, store_quarantine_fn fn, void *ctx,
			   struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	rc = prepare(st, "SELECT id, sealed FROM quarantine ORDER BY ord", &s,
		     err);
	if (rc)
		return rc;
	while ((rc = step(st, s, "reading the quarantine", err)) == 1) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		char ad[AD_MAX], *text;
		size_t len;
		cJSON *j = NULL;

		if (!id || !cb_id_valid(id)) {
			rc = store_integrity(st, "a quarantine row", err);
			break;
		}
		snprintf(ad, sizeof(ad), "quarantine:%s", id);
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 1),
				  (size_t)sqlite3_column_bytes(s, 1),
				  "a quarantine row", &text, &len, err);
		if (rc)
			break;
		rc = quarantine_parse(st, id, text, len, &j, err);
		free(text);
		if (!rc) {
			const char *code = cb_json_str(j, "code");

			rc = fn(ctx, id, code ? code : "",
				cb_json_str(j, "reason"));
		}
		cJSON_Delete(j);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * An older store's setting `key` as JSON, for an upgrade into rows:
 * *found 0 (and *out NULL) when the store has no such setting; else
 * *out the parsed value, NULL when it is not JSON (the caller tells the
 * integrity error in its own words).
 */
static int old_setting(struct store *st, const char *key, int *found,
		       cJSON **out, struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = store_meta_get(st, key, &text, &len, err);

	*found = 0;
	*out = NULL;
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	*found = 1;
	*out = cb_json_parse(text, len, STORE_META_MAX, key, err);
	free(text);
	return 0;
}

int store_rows_upgrade_quarantine(struct store *st, const char *key,
				  struct cb_err *err)
{
	const cJSON *e;
	sqlite3_stmt *s;
	cJSON *q;
	int rc, found;

	rc = old_setting(st, key, &found, &q, err);
	if (rc || !found)
		return rc;
	if (!q || !cJSON_IsArray(q)) {
		cJSON_Delete(q);
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the quarantine of the "
				  "store %s (setting %s) is not a list; the "
				  "store was not upgraded",
				  st->path, key);
	}
	cJSON_ArrayForEach(e, q)
	{
		const char *id = cb_json_str(e, "id");
		const char *code = cb_json_str(e, "code");
		const char *reason = cb_json_str(e, "reason");

		if (!id || !cb_id_valid(id)) {
			rc = cb_err_set(err, CB_EINTEGRITY,
					"integrity error: the quarantine of "
					"the store %s (setting %s) holds an "
					"entry without an event id; the store "
					"was not upgraded",
					st->path, key);
			break;
		}
		rc = store_quarantine(st, id, code ? code : "rejected",
				      reason ? reason : "", err);
		if (rc == CB_EEXIST) {
			cb_err_clear(err);
			rc = 0;
		}
		if (rc)
			break;
	}
	cJSON_Delete(q);
	if (rc)
		return rc;
	s = stmt(st, Q_META_DEL, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return done(st, s, "upgrading the store", err);
}

/* ---- Withheld values ------------------------------------------------------
 */

/* The row of the subject of `hash` into *text (NULL when none). */
static int withheld_get_hash(struct store *st, const unsigned char *hash,
			     char **text, size_t *len, struct cb_err *err)
{
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc;

	s = stmt(st, Q_WITHHELD_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = step(st, s, "reading a withheld row", err);
	if (rc == 1) {
		withheld_ad(ad, hash);
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 0),
				  (size_t)sqlite3_column_bytes(s, 0),
				  "a withheld row", text, len, err);
	}
	sqlite3_reset(s);
	return rc;
}

int store_withheld_get(struct store *st, const char *subject, char **text,
		       size_t *len, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES];
	int rc;

	*text = NULL;
	*len = 0;
	if (store_need_key(st, err))
		return err->code;
	rc = store_subject_hash(st, subject, hash, err);
	if (!rc)
		rc = withheld_get_hash(st, hash, text, len, err);
	return rc;
}

int store_withheld_put(struct store *st, const char *subject, const char *text,
		       size_t len, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES], *sealed = NULL;
	size_t sealed_len;
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int rc, own, had = 0;

	if (store_need_key(st, err))
		return err->code;
	if (len > STORE_META_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "the withheld values of subject %.64s: %zu "
				  "bytes is over the %u byte cap",
				  subject, len, STORE_META_MAX);
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	rc = store_write_point(st, err);
	if (!rc)
		rc = store_subject_hash(st, subject, hash, err);
	if (!rc) {
		s = stmt(st, Q_WITHHELD_HAS, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES,
					  SQLITE_STATIC);
			had = step(st, s, "reading a withheld row", err);
			sqlite3_reset(s);
			if (had < 0)
				rc = had;
		}
	}
	if (!rc) {
		withheld_ad(ad, hash);
		rc = store_seal(st, ad, text, len, &sealed, &sealed_len, err);
	}
	if (!rc) {
		s = stmt(st, Q_WITHHELD_PUT, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES,
					  SQLITE_STATIC);
			sqlite3_bind_blob(s, 2, sealed, (int)sealed_len,
					  SQLITE_STATIC);
			rc = done(st, s, "saving a withheld row", err);
		}
	}
	free(sealed);
	if (!rc && !had) {
		st->tally.withheld++;
		st->tally_dirty = 1;
	}
	return store_finish_own(st, own, rc, err);
}

int store_rows_upgrade_withheld(struct store *st, const char *key,
				struct cb_err *err)
{
	const cJSON *subj;
	sqlite3_stmt *s;
	cJSON *w;
	int rc, found;

	rc = old_setting(st, key, &found, &w, err);
	if (rc || !found)
		return rc;
	if (!w || !cJSON_IsObject(w)) {
		cJSON_Delete(w);
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the withheld values of "
				  "the store %s (setting %s) are not a JSON "
				  "object; the store was not upgraded",
				  st->path, key);
	}
	cJSON_ArrayForEach(subj, w)
	{
		cJSON *r;
		char *one;

		if (!subj->string || !subj->string[0] ||
		    strlen(subj->string) > 64 || !cJSON_IsObject(subj)) {
			rc = cb_err_set(err, CB_EINTEGRITY,
					"integrity error: the withheld values "
					"of the store %s (setting %s) hold an "
					"entry that is not a subject's; the "
					"store was not upgraded",
					st->path, key);
			break;
		}
		/* withheld.h's row: the subject's part of the old object,
		 * under its id. */
		r = cJSON_CreateObject();
		one =
		    r && cJSON_AddStringToObject(r, "subject", subj->string) &&
			    cJSON_AddItemReferenceToObject(r, "forms",
							   (cJSON *)subj)
			? cJSON_PrintUnformatted(r)
			: NULL;
		cJSON_Delete(r);
		if (!one) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			break;
		}
		rc =
		    store_withheld_put(st, subj->string, one, strlen(one), err);
		free(one);
		if (rc)
			break;
	}
	cJSON_Delete(w);
	if (rc)
		return rc;
	s = stmt(st, Q_META_DEL, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return done(st, s, "upgrading the store", err);
}

/* ---- Checking ------------------------------------------------------------ */

struct rows_check {
	void (*add)(void *ctx, const void *p, size_t len);
	void *ctx;
	int64_t n;
};

static int check_quarantined(void *ctx, const char *id, const char *code,
			     const char *reason)
{
	struct rows_check *c = ctx;

	c->add(c->ctx, id, strlen(id));
	c->add(c->ctx, code, strlen(code));
	c->add(c->ctx, reason, strlen(reason));
	c->n++;
	return 0;
}

static int count_row(void *ctx, const char *text, size_t len, int pending)
{
	int64_t *n = ctx;

	(void)text;
	(void)len;
	(void)pending;
	(*n)++;
	return 0;
}

/*
 * Open every withheld row, in the order written, adding its text (which
 * names its subject) to the digest: what the server said is content,
 * like a setting, so two stores told the same give the same digest.
 */
static int check_withheld(struct store *st, struct rows_check *c,
			  struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare(st, "SELECT hash, sealed FROM withheld ORDER BY ord", &s,
		     err);
	if (rc)
		return rc;
	while ((rc = step(st, s, "reading the withheld rows", err)) == 1) {
		char ad[AD_MAX], *text;
		size_t len;

		if (!is_hash(s, 0)) {
			rc = store_integrity(st, "a withheld row", err);
			break;
		}
		withheld_ad(ad, sqlite3_column_blob(s, 0));
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 1),
				  (size_t)sqlite3_column_bytes(s, 1),
				  "a withheld row", &text, &len, err);
		if (rc)
			break;
		c->add(c->ctx, text, len);
		cb_wipe_free(text, len + 1);
		c->n++;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_rows_check(struct store *st,
		     void (*add)(void *ctx, const void *p, size_t len),
		     void *ctx, int64_t *quarantined, int64_t *summaries,
		     int64_t *queries, int64_t *withheld, struct cb_err *err)
{
	struct rows_check c = {add, ctx, 0};
	int rc;

	*summaries = *queries = *withheld = 0;
	rc = store_each_quarantined(st, check_quarantined, &c, err);
	*quarantined = c.n;
	if (!rc)
		rc = store_each_summary(st, count_row, summaries, err);
	if (!rc)
		rc = store_each_query_row(st, NULL, count_row, queries, err);
	if (!rc) {
		c.n = 0;
		rc = check_withheld(st, &c, err);
		*withheld = c.n;
	}
	return rc;
}
