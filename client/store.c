/*
 * store.c - the encrypted local store's base: the handle and its
 * statements, transactions, sealing, the settings, the tally, the events
 * and the keyslots (see store.h for what it holds and why). Above it,
 * store_rows.c keeps the derived rows, the quarantine and the pending
 * marks, and store_open.c opens, creates, unlocks, upgrades and checks
 * the file; this file calls neither.
 *
 * Layout (PRAGMA user_version = STORE_SCHEMA_VERSION, application_id
 * STORE_APP_ID):
 *
 *   keyslots(ord, name, role, wrapped, sum)
 *       one per user; `wrapped` is cb_key_wrap's line for the slot label
 *       "casebook.keyslot:NAME/ROLE", so editing the role breaks the slot;
 *       `sum` is an unkeyed BLAKE2b of the row, only to tell a damaged
 *       slot (integrity error) from a wrong passphrase.
 *   meta(key, value)
 *       settings, each sealed with AD "meta:KEY".
 *   subjects(ord, hash, sealed)
 *       every subject id seen, sealed with AD "subjects:HASHHEX"; `hash`
 *       is the keyed hash of the id (domain "store.subject").
 *   events(seq, id, subject, synced, tag, body)
 *       `body` sealed with AD "events:ID:SEQ:SUBJECTHASHHEX"; `synced`
 *       holds the flags FLAG_SYNCED and FLAG_QUARANTINED; `tag` is the
 *       keyed hash (domain "store.events.row") of seq, id, subject hash
 *       and flags, the one column that changes after insert. Indexed by
 *       subject (a subject's events are read without the rest) and,
 *       partially, by the flags that are not "synced" (the push queue,
 *       the quarantined).
 *
 * Readers verify every row's tag before using a plaintext column, so a
 * damaged flag or subject hash is reported rather than silently hiding
 * an event from the reader that meets it; and the tally counts the rows
 * of every table and the events of each flag, so a row deleted or moved
 * out of sight is told at unlock. Bodies are only read (and decrypted)
 * for the rows a caller asked for.
 */
#include "store.h"
#include "store_int.h"
#include "buf.h"
#include "clock.h"
#include "db.h"
#include "event.h"
#include "hlc.h"
#include "id.h"
#include "pass.h"
#include "protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define EVENT_COLS "seq, id, subject, synced, tag, body"

const char *const store_sql[NQUERIES] = {
    [Q_SLOT_FIRST] = "SELECT name, role FROM keyslots ORDER BY ord LIMIT 1",
    [Q_SLOT_GET] = "SELECT name, role, wrapped, sum FROM keyslots"
		   " WHERE name = ?1",
    [Q_SLOT_INSERT] = "INSERT INTO keyslots(ord, name, role, wrapped, sum)"
		      " VALUES((SELECT coalesce(max(ord), 0) + 1"
		      " FROM keyslots), ?1, ?2, ?3, ?4)",
    [Q_SLOT_UPDATE] = "UPDATE keyslots SET wrapped = ?2, sum = ?3"
		      " WHERE name = ?1",
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
		   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [Q_META_DEL] = "DELETE FROM meta WHERE key = ?1",
    [Q_SUBJECT_GET] = "SELECT 1 FROM subjects WHERE hash = ?1",
    [Q_SUBJECT_INSERT] = "INSERT INTO subjects(hash, sealed) VALUES(?1, ?2)",
    [Q_EVENT_BY_ID] = "SELECT seq, subject, synced, tag FROM events"
		      " WHERE id = ?1",
    [Q_EVENT_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
    [Q_EVENT_INSERT] = "INSERT INTO events(seq, id, subject, synced, tag,"
		       " body) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_EVENT_SET_FLAGS] = "UPDATE events SET synced = ?2, tag = ?3"
			  " WHERE seq = ?1",
    [Q_EVENTS_OF_SUBJECT] = "SELECT " EVENT_COLS " FROM events"
			    " WHERE subject = ?1 ORDER BY seq",
    [Q_EVENTS_QUEUED] = "SELECT " EVENT_COLS " FROM events"
			" WHERE synced = 0 AND seq > ?1 ORDER BY seq"
			" LIMIT ?2",
    [Q_DIRTY_ADD] = "INSERT OR IGNORE INTO dirty(hash) VALUES(?1)",
    [Q_DIRTY_DEL] = "DELETE FROM dirty WHERE hash = ?1",
    [Q_SUMMARY_GET] = "SELECT (SELECT sealed FROM summaries WHERE hash = ?1),"
		      " (SELECT count(*) FROM dirty WHERE hash = ?1)",
    [Q_SUMMARY_HAS] = "SELECT 1 FROM summaries WHERE hash = ?1",
    [Q_SUMMARY_PUT] = "INSERT INTO summaries(hash, sealed) VALUES(?1, ?2)"
		      " ON CONFLICT(hash) DO UPDATE SET"
		      " sealed = excluded.sealed",
    [Q_QUERY_CLEAR] = "DELETE FROM queries WHERE subject = ?1",
    [Q_QUERY_PUT] = "INSERT INTO queries(hash, subject, sealed)"
		    " VALUES(?1, ?2, ?3)",
    [Q_QUAR_GET] = "SELECT sealed FROM quarantine WHERE id = ?1",
    [Q_QUAR_INSERT] = "INSERT INTO quarantine(id, sealed) VALUES(?1, ?2)",
    [Q_WITHHELD_GET] = "SELECT sealed FROM withheld WHERE hash = ?1",
    [Q_WITHHELD_HAS] = "SELECT 1 FROM withheld WHERE hash = ?1",
    [Q_WITHHELD_PUT] = "INSERT INTO withheld(hash, sealed) VALUES(?1, ?2)"
		       " ON CONFLICT(hash) DO UPDATE SET"
		       " sealed = excluded.sealed",
};

/* ---- Names and paths -------------------------------------------------- */

int store_is_central(const struct store *st)
{
	return st->site[0] == '\0';
}

int store_readonly(const struct store *st)
{
	return st->readonly;
}

int store_in_transaction(const struct store *st)
{
	return st->in_tx;
}

int store_home(const struct cli_global *g, char *out, size_t cap,
	       struct cb_err *err)
{
	const char *home = g ? g->home : NULL;
	int n;

	if (home && *home) {
		n = snprintf(out, cap, "%s", home);
	} else {
		const char *h = getenv("HOME");

		if (!h || !*h)
			return cb_err_set(err, CB_EINVAL,
					  "no store directory: give --home DIR "
					  "or set CASEBOOK_HOME or HOME");
		n = snprintf(out, cap, "%s/.casebook", h);
	}
	if (n < 0 || (size_t)n >= cap || (size_t)n > STORE_PATH_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "store directory path is too long");
	return 0;
}

/* ---- Errors ----------------------------------------------------------- */

int store_refuse_readonly(struct store *st, struct cb_err *err)
{
	return cb_err_set(err, CB_EIO,
			  "the casebook store %s is read-only (a read-only "
			  "medium, or no permission to write it): it can be "
			  "read, but nothing can be saved; copy the store "
			  "directory to a writable place to work on it",
			  st->path);
}

int store_fail(struct store *st, int rc, const char *what, struct cb_err *err)
{
	/* A full or read-only medium that SQLite calls an I/O error. */
	rc = cb_db_os_cause(st->db.db, rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return cb_err_set(
		    err, CB_EBUSY,
		    "the casebook store is busy: another casebook "
		    "process is using it (%s); nothing was "
		    "changed, try again",
		    what);
	case SQLITE_READONLY:
		return store_refuse_readonly(st, err);
	case SQLITE_ERROR:
		/* Every statement here is fixed text that the schema this
		 * module created answers; SQLite refusing one means the
		 * schema in the file is not that schema. */
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the store %s is damaged "
				  "or was changed outside casebook (%s, while "
				  "%s); restore it from a backup",
				  st->path,
				  st->db.db ? sqlite3_errmsg(st->db.db) : "?",
				  what);
	default:
		return cb_db_fail(&st->db, rc, what, err);
	}
}

/* The name in parentheses: store_int.h has an analyzer-only macro of it. */
int(store_integrity)(struct store *st, const char *what, struct cb_err *err)
{
	return cb_err_set(err, CB_EINTEGRITY,
			  "integrity error: %s in the store %s failed "
			  "authentication (the file is damaged or was "
			  "altered); restore it from a backup",
			  what, st->path);
}

int store_need_key(const struct store *st, struct cb_err *err)
{
	if (!st->key)
		return cb_err_set(err, CB_EINVAL, "store: not unlocked");
	return 0;
}

/* A prepared statement, or NULL with the error of store_fail. */
sqlite3_stmt *store_stmt(struct store *st, int which, struct cb_err *err)
{
	sqlite3_stmt *s = cb_db_stmt(&st->db, (size_t)which, err);

	/* cb_db_stmt says "preparing a statement" for a schema that is
	 * not the store's: say it as the store does. */
	if (!s && err->code != CB_EINVAL)
		store_fail(st, sqlite3_errcode(st->db.db), "reading the store",
			   err);
	return s;
}

/* Step a statement that returns no rows, then reset it. */
int store_done(struct store *st, sqlite3_stmt *s, const char *what,
	       struct cb_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, rc, what, err);
}

/* Step a query: 1 for a row, 0 at the end, or store_fail's code. */
int store_row(struct store *st, sqlite3_stmt *s, const char *what,
	      struct cb_err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_fail(st, rc, what, err);
}

int store_exec(struct store *st, const char *sql, const char *what,
	       struct cb_err *err)
{
	int rc = sqlite3_exec(st->db.db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(st, rc, what, err);
}

/* An integer-valued PRAGMA or query. */
int store_int_of(struct store *st, const char *sql, int64_t *out,
		 struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db.db, sql, -1, &s, NULL);

	*out = 0;
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "reading the store header", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return store_fail(st, rc, "reading the store header", err);
	return 0;
}

int store_write_point(struct store *st, struct cb_err *err)
{
#ifdef CASEBOOK_TEST_HOOKS
	if (st->fail_at > 0 && ++st->writes == st->fail_at)
		return cb_err_set(err, CB_EIO,
				  "injected failure of write %ld (%s)",
				  st->fail_at, STORE_TEST_FAIL_ENV);
#else
	(void)st;
	(void)err;
#endif
	return 0;
}

/* ---- Transactions ----------------------------------------------------- */

static int tally_save(struct store *st, struct cb_err *err);

int store_begin_own(struct store *st, int *own, struct cb_err *err)
{
	*own = 0;
	if (st->in_tx)
		return 0;
	if (store_begin(st, err))
		return err->code;
	*own = 1;
	return 0;
}

int store_finish_own(struct store *st, int own, int rc, struct cb_err *err)
{
	if (!own)
		return rc;
	if (rc) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st, err);
}

int store_begin(struct store *st, struct cb_err *err)
{
	int rc;

	if (st->in_tx)
		return cb_err_set(err, CB_EINVAL,
				  "store: a transaction is already open");
	if (st->readonly)
		return store_refuse_readonly(st, err);
	rc = store_exec(st, "BEGIN IMMEDIATE", "starting a write", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	st->last_subject_ok = 0;
	/* Another process may have written since this one read the tally:
	 * count on from what is committed now. */
	if (st->tally_live) {
		rc = store_tally_read(st, err);
		if (rc)
			store_rollback(st);
	}
	return rc;
}

int store_commit(struct store *st, struct cb_err *err)
{
	int rc;

	if (!st->in_tx)
		return cb_err_set(err, CB_EINVAL,
				  "store: no transaction to commit");
	rc = st->tally_dirty ? tally_save(st, err) : 0;
	if (!rc)
		rc = store_exec(st, "COMMIT", "saving", err);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	st->in_tx = 0;
	st->last_subject_ok = 0;
	st->saved = st->tally;
	st->tally_dirty = 0;
	return 0;
}

int store_read_begin(struct store *st, int *began, struct cb_err *err)
{
	int rc;

	*began = 0;
	if (st->in_tx || !sqlite3_get_autocommit(st->db.db))
		return 0;
	rc = store_exec(st, "BEGIN", "reading the store", err);
	if (!rc)
		*began = 1;
	return rc;
}

void store_read_end(struct store *st, int began)
{
	/* Only read: when ending it fails, dropping it loses nothing, and a
	 * transaction left open would refuse every later write. */
	if (began && !sqlite3_get_autocommit(st->db.db) &&
	    sqlite3_exec(st->db.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(st->db.db, "ROLLBACK", NULL, NULL, NULL);
}

void store_rollback(struct store *st)
{
	if (!st || !st->in_tx)
		return;
	if (!sqlite3_get_autocommit(st->db.db))
		sqlite3_exec(st->db.db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = 0;
	st->last_subject_ok = 0;
	st->tally = st->saved;
	st->tally_dirty = 0;
}

/* ---- Crypto helpers --------------------------------------------------- */

void store_hex32(const unsigned char h[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = '\0';
}

int store_subject_hash(const struct store *st, const char *subject,
		       unsigned char out[CB_KEYED_HASH_BYTES],
		       struct cb_err *err)
{
	return cb_keyed_hash_with(st->subject_key, subject, strlen(subject),
				  out, err);
}

int store_seal(struct store *st, const char *ad, const void *plain, size_t len,
	       unsigned char **out, size_t *out_len, struct cb_err *err)
{
	return cb_seal_value(st->key, ad, strlen(ad), plain, len, out, out_len,
			     err);
}

int store_unseal(struct store *st, const char *ad, const void *sealed,
		 size_t sealed_len, const char *what, char **out,
		 size_t *out_len, struct cb_err *err)
{
	unsigned char *plain = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = cb_open_value(st->key, ad, strlen(ad), sealed, sealed_len, &plain,
			   &n, err);
	if (rc)
		return rc == CB_EINTEGRITY ? store_integrity(st, what, err)
					   : rc;
	*out = (char *)plain;
	*out_len = n;
	return 0;
}

static int row_tag(const struct store *st, int64_t seq, const char *id,
		   const unsigned char *subject, int flags,
		   unsigned char out[CB_KEYED_HASH_BYTES], struct cb_err *err)
{
	unsigned char buf[8 + CB_ID_HEX_LEN + CB_KEYED_HASH_BYTES + 1];
	int i;

	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
	memcpy(buf + 8, id, CB_ID_HEX_LEN);
	memcpy(buf + 8 + CB_ID_HEX_LEN, subject, CB_KEYED_HASH_BYTES);
	buf[sizeof(buf) - 1] = (unsigned char)flags;
	return cb_keyed_hash_with(st->row_key, buf, sizeof(buf), out, err);
}

static void event_ad(char out[AD_MAX], const char *id, int64_t seq,
		     const unsigned char *subject)
{
	char hex[65];

	store_hex32(subject, hex);
	snprintf(out, AD_MAX, "events:%s:%lld:%s", id, (long long)seq, hex);
}

int store_slot_label(const char *name, const char *role, char *out, size_t cap)
{
	int n = snprintf(out, cap, SLOT_LABEL "%s/%s", name, role);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Unkeyed checksum of a keyslot row, to tell damage from a bad passphrase. */
void store_slot_sum(const char *name, const char *role, const char *wrapped,
		    unsigned char out[CB_HASH_BYTES])
{
	size_t a = strlen(name), b = strlen(role), c = strlen(wrapped);
	char *buf = malloc(a + b + c + 3);

	if (!buf) {
		memset(out, 0, CB_HASH_BYTES);
		return;
	}
	memcpy(buf, name, a + 1);
	memcpy(buf + a + 1, role, b + 1);
	memcpy(buf + a + b + 2, wrapped, c + 1);
	cb_hash(buf, a + b + c + 3, out);
	free(buf);
}

/* ---- Settings --------------------------------------------------------- */

int store_meta_key_valid(const char *key)
{
	size_t i, n = key ? strlen(key) : 0;

	if (n < 1 || n > META_KEY_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') ||
		      (key[i] >= '0' && key[i] <= '9') || key[i] == '.' ||
		      key[i] == '_' || key[i] == '-'))
			return 0;
	return 1;
}

int store_meta_get(struct store *st, const char *key, char **val, size_t *len,
		   struct cb_err *err)
{
	char ad[AD_MAX], what[META_KEY_MAX + 16];
	sqlite3_stmt *s;
	int rc;

	*val = NULL;
	*len = 0;
	if (store_need_key(st, err))
		return err->code;
	if (!store_meta_key_valid(key))
		return cb_err_set(err, CB_EINVAL, "store: bad setting name");
	s = store_stmt(st, Q_META_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = store_row(st, s, "reading a setting", err);
	if (rc == 0) {
		sqlite3_reset(s);
		return cb_err_set(err, CB_ENOTFOUND, "setting %s is not set",
				  key);
	}
	if (rc < 0) {
		sqlite3_reset(s);
		return rc;
	}
	snprintf(ad, sizeof(ad), "meta:%s", key);
	snprintf(what, sizeof(what), "setting %s", key);
	rc = store_unseal(st, ad, sqlite3_column_blob(s, 0),
			  (size_t)sqlite3_column_bytes(s, 0), what, val, len,
			  err);
	sqlite3_reset(s);
	return rc;
}

int store_meta_opt(struct store *st, const char *key, char **out,
		   struct cb_err *err)
{
	size_t len;
	int rc;

	*out = NULL;
	rc = store_meta_get(st, key, out, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	}
	return rc;
}

char *store_meta_or_null(struct store *st, const char *key)
{
	struct cb_err err;
	char *v = NULL;

	if (store_meta_opt(st, key, &v, &err))
		return NULL;
	return v;
}

int store_meta_set(struct store *st, const char *key, const void *val,
		   size_t len, struct cb_err *err)
{
	char ad[AD_MAX];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	sqlite3_stmt *s;
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	if (!store_meta_key_valid(key))
		return cb_err_set(err, CB_EINVAL, "store: bad setting name");
	if (len > STORE_META_MAX)
		return cb_err_set(
		    err, CB_ETOOBIG,
		    "setting %s: %zu bytes is over the %u byte cap", key, len,
		    STORE_META_MAX);
	snprintf(ad, sizeof(ad), "meta:%s", key);
	rc = store_seal(st, ad, val, len, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	rc = store_begin_own(st, &own, err);
	if (!rc) {
		rc = store_write_point(st, err);
		s = rc ? NULL : store_stmt(st, Q_META_SET, err);
		if (!rc && !s) {
			rc = err->code;
		} else if (!rc) {
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 2, sealed, (int)sealed_len,
					  SQLITE_STATIC);
			rc = store_done(st, s, "saving a setting", err);
		}
		rc = store_finish_own(st, own, rc, err);
	}
	free(sealed);
	return rc;
}

/* ---- The tally ---------------------------------------------------------- */

/*
 * Every row is sealed, so a row cannot be altered or moved unnoticed; but
 * a row can be deleted, a flag can be put back to an older (sealed) state
 * of its row, and a sealed setting can be put back to an older copy of
 * itself. The tally closes these: the counts of the rows of every table
 * and of the events of each flag, the highest sequence number, with the
 * device's clock and subject counter, in one sealed setting written in
 * the same transaction as every change to them, and checked against the
 * tables at unlock and by store_check. Deleting a row changes a count;
 * putting the tally back to an older copy leaves counts that no longer
 * match the tables (the clock and the counter only move when an event is
 * stored). What it cannot tell is a whole store put back to an older
 * copy, which is a restore from a backup: that is what
 * store_next_subject_seq's check of every held subject id is for.
 */

/*
 * Schema 3's tally (the withheld rows counted); a store of schema 2 has
 * the same text with "v2" and no withheld count, read only while it is
 * upgraded (st->version 2).
 */
#define TALLY_FMT                                                              \
	"v3 events=%lld max_seq=%lld subjects=%lld queued=%lld synced=%lld "   \
	"held=%lld held_synced=%lld quarantine=%lld summaries=%lld "           \
	"queries=%lld pending=%lld withheld=%lld clock=%016llx "               \
	"subject_seq=%ld"
#define TALLY2_FMT                                                             \
	"v2 events=%lld max_seq=%lld subjects=%lld queued=%lld synced=%lld "   \
	"held=%lld held_synced=%lld quarantine=%lld summaries=%lld "           \
	"queries=%lld pending=%lld clock=%016llx subject_seq=%ld"
static void tally_text(const struct tally *t, int version, char *out,
		       size_t cap)
{
	if (version == 2)
		snprintf(out, cap, TALLY2_FMT, (long long)t->events,
			 (long long)t->max_seq, (long long)t->subjects,
			 (long long)t->flag[0], (long long)t->flag[1],
			 (long long)t->flag[2], (long long)t->flag[3],
			 (long long)t->quarantine, (long long)t->summaries,
			 (long long)t->queries, (long long)t->dirty,
			 (unsigned long long)t->clock, t->subject_seq);
	else
		snprintf(out, cap, TALLY_FMT, (long long)t->events,
			 (long long)t->max_seq, (long long)t->subjects,
			 (long long)t->flag[0], (long long)t->flag[1],
			 (long long)t->flag[2], (long long)t->flag[3],
			 (long long)t->quarantine, (long long)t->summaries,
			 (long long)t->queries, (long long)t->dirty,
			 (long long)t->withheld, (unsigned long long)t->clock,
			 t->subject_seq);
}

/* The tally of schema `version` (3, or 2 for an upgrade) from `text`. */
static int tally_parse(const char *text, int version, struct tally *t)
{
	long long v[12];
	unsigned long long c;
	char check[400];
	long q;
	size_t i, nv = version == 2 ? 11 : 12;
	int n;

	v[11] = 0;
	if (version == 2)
		n = sscanf(text,
			   "v2 events=%lld max_seq=%lld subjects=%lld "
			   "queued=%lld synced=%lld held=%lld held_synced=%lld "
			   "quarantine=%lld summaries=%lld queries=%lld "
			   "pending=%lld clock=%16llx subject_seq=%ld",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &c, &q) == 13;
	else
		n = sscanf(text,
			   "v3 events=%lld max_seq=%lld subjects=%lld "
			   "queued=%lld synced=%lld held=%lld held_synced=%lld "
			   "quarantine=%lld summaries=%lld queries=%lld "
			   "pending=%lld withheld=%lld clock=%16llx "
			   "subject_seq=%ld",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9], &v[10], &v[11], &c, &q) == 14;
	if (!n)
		return -1;
	for (i = 0; i < nv; i++)
		if (v[i] < 0)
			return -1;
	if (q < 0 || q > STORE_SUBJECT_SEQ_MAX)
		return -1;
	memset(t, 0, sizeof(*t));
	t->events = v[0];
	t->max_seq = v[1];
	t->subjects = v[2];
	for (i = 0; i < 4; i++)
		t->flag[i] = v[3 + i];
	t->quarantine = v[7];
	t->summaries = v[8];
	t->queries = v[9];
	t->dirty = v[10];
	t->withheld = v[11];
	t->clock = c;
	t->subject_seq = q;
	/* Exactly the text tally_text writes: nothing more, nothing less. */
	tally_text(t, version, check, sizeof(check));
	return strcmp(check, text) ? -1 : 0;
}

static int tally_save(struct store *st, struct cb_err *err)
{
	char text[400];

	tally_text(&st->tally, STORE_SCHEMA_VERSION, text, sizeof(text));
	return store_meta_set(st, M_TALLY, text, strlen(text), err);
}

int store_table_counts(struct store *st, struct tally *t, struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(
	    st->db.db,
	    "SELECT (SELECT count(*) FROM events),"
	    " (SELECT coalesce(max(seq), 0) FROM events),"
	    " (SELECT count(*) FROM subjects),"
	    " (SELECT count(*) FROM events WHERE synced = 0),"
	    " (SELECT count(*) FROM events WHERE synced >= 2 AND synced = 2),"
	    " (SELECT count(*) FROM events WHERE synced >= 2 AND synced = 3),"
	    " (SELECT count(*) FROM quarantine),"
	    " (SELECT count(*) FROM summaries),"
	    " (SELECT count(*) FROM queries),"
	    " (SELECT count(*) FROM dirty),"
	    " (SELECT count(*) FROM withheld)",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "counting the store's rows", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->events = sqlite3_column_int64(s, 0);
		t->max_seq = sqlite3_column_int64(s, 1);
		t->subjects = sqlite3_column_int64(s, 2);
		t->flag[0] = sqlite3_column_int64(s, 3);
		t->flag[2] = sqlite3_column_int64(s, 4);
		t->flag[3] = sqlite3_column_int64(s, 5);
		t->flag[1] = t->events - t->flag[0] - t->flag[2] - t->flag[3];
		t->quarantine = sqlite3_column_int64(s, 6);
		t->summaries = sqlite3_column_int64(s, 7);
		t->queries = sqlite3_column_int64(s, 8);
		t->dirty = sqlite3_column_int64(s, 9);
		t->withheld = sqlite3_column_int64(s, 10);
		rc = 0;
	} else {
		rc = store_fail(st, rc, "counting the store's rows", err);
	}
	sqlite3_finalize(s);
	return rc;
}

/* The tables hold what the tally says, or CB_EINTEGRITY saying what not. */
int store_tally_verify(struct store *st, struct cb_err *err)
{
	const struct tally *w = &st->tally;
	struct tally t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = store_table_counts(st, &t, err);
	if (rc)
		return rc;
	if (t.events == w->events && t.max_seq == w->max_seq &&
	    t.subjects == w->subjects && t.flag[0] == w->flag[0] &&
	    t.flag[1] == w->flag[1] && t.flag[2] == w->flag[2] &&
	    t.flag[3] == w->flag[3] && t.quarantine == w->quarantine &&
	    t.summaries == w->summaries && t.queries == w->queries &&
	    t.dirty == w->dirty && t.withheld == w->withheld)
		return 0;
	return cb_err_set(
	    err, CB_EINTEGRITY,
	    "integrity error: the store %s holds %lld events (up to number "
	    "%lld, %lld unsynced, %lld quarantined), %lld subjects, %lld "
	    "quarantine, %lld summary, %lld query, %lld pending and %lld "
	    "withheld rows, but its sealed tally says %lld events (up to "
	    "%lld, %lld unsynced, %lld quarantined), %lld subjects, %lld, "
	    "%lld, %lld, %lld and %lld: rows were removed or a setting was "
	    "put back outside casebook; restore it from a backup and sync",
	    st->path, (long long)t.events, (long long)t.max_seq,
	    (long long)t.flag[0] + t.flag[2], (long long)t.flag[2] + t.flag[3],
	    (long long)t.subjects, (long long)t.quarantine,
	    (long long)t.summaries, (long long)t.queries, (long long)t.dirty,
	    (long long)t.withheld, (long long)w->events, (long long)w->max_seq,
	    (long long)w->flag[0] + w->flag[2],
	    (long long)w->flag[2] + w->flag[3], (long long)w->subjects,
	    (long long)w->quarantine, (long long)w->summaries,
	    (long long)w->queries, (long long)w->dirty, (long long)w->withheld);
}

int store_own_subject_seq(const struct store *st, const char *subject,
			  long *seq)
{
	char site[CB_SITE_MAX + 1];
	long index = 0;

	if (!st->site[0] ||
	    cb_subject_id_parse(subject, site, &index, seq, NULL))
		return 0;
	return !strcmp(site, st->site) && index == st->device_index;
}

/*
 * Read the sealed tally into st->tally (and st->saved): 0, CB_ENOTFOUND
 * when there is none, CB_EINTEGRITY.
 */
int store_tally_read(struct store *st, struct cb_err *err)
{
	char *val = NULL;
	size_t len;
	int rc;

	rc = store_meta_get(st, M_TALLY, &val, &len, err);
	if (rc)
		return rc;
	rc = tally_parse(val, st->version == 2 ? 2 : STORE_SCHEMA_VERSION,
			 &st->tally);
	free(val);
	if (rc)
		return store_integrity(st, "the tally", err);
	st->saved = st->tally;
	st->tally_dirty = 0;
	return 0;
}

uint64_t store_clock(const struct store *st)
{
	return st->tally.clock;
}

void store_set_clock(struct store *st, uint64_t last)
{
	if (last > st->tally.clock) {
		st->tally.clock = last;
		st->tally_dirty = 1;
	}
}

static int subject_known(struct store *st,
			 const unsigned char hash[CB_KEYED_HASH_BYTES],
			 struct cb_err *err);

int store_next_subject_seq(struct store *st, unsigned *seq, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES];
	char id[CB_SUBJECT_ID_MAX + 1];
	long n;
	int rc, own;

	*seq = 0;
	if (store_need_key(st, err))
		return err->code;
	if (!st->site[0])
		return cb_err_set(err, CB_EFORBIDDEN,
				  "subjects are created at a site");
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	/* Past the highest number issued, and past any id the store holds
	 * already (pulled back after a restore from an older backup): an id
	 * this device or the server has seen is never issued again. */
	for (n = st->tally.subject_seq + 1; !rc; n++) {
		if (n > STORE_SUBJECT_SEQ_MAX) {
			rc = cb_err_set(err, CB_ECONFLICT,
					"this device has used all %d subject "
					"numbers",
					STORE_SUBJECT_SEQ_MAX);
			break;
		}
		rc = cb_subject_id_make(st->site, st->device_index, n, id, err);
		if (!rc)
			rc = store_subject_hash(st, id, hash, err);
		if (!rc)
			rc = subject_known(st, hash, err);
		if (rc == 1) {
			rc = 0;
			continue;
		}
		if (!rc) {
			st->tally.subject_seq = n;
			st->tally_dirty = 1;
			*seq = (unsigned)n;
			break;
		}
	}
	return store_finish_own(st, own, rc, err);
}

const char *store_user(const struct store *st)
{
	return st->user;
}

const char *store_role(const struct store *st)
{
	return st->role;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	if (st->db.db)
		store_rollback(st);
	cb_db_close(&st->db);
	cb_key_free(st->key);
	cb_key_free(st->subject_key);
	cb_key_free(st->row_key);
	cb_key_free(st->query_key);
	cb_key_free(st->id_key);
	cb_sign_keypair_release(&st->dev);
	if (st->protocol)
		cb_wipe_free(st->protocol, st->protocol_len + 1);
	free(st);
}

/* ---- Creating --------------------------------------------------------- */

int store_insert_slot(struct store *st, const char *name, const char *role,
		      const char *pass, size_t pass_len, struct cb_err *err)
{
	char label[sizeof(SLOT_LABEL) + STORE_USER_MAX + ROLE_MAX + 2];
	unsigned char sum[CB_HASH_BYTES];
	char *wrapped = NULL;
	sqlite3_stmt *s;
	int rc;

	if (store_slot_label(name, role, label, sizeof(label)))
		return cb_err_set(err, CB_EINVAL, "user name too long");
	rc = cb_key_wrap(st->key, pass, pass_len, label, NULL, &wrapped, err);
	if (rc)
		return rc;
	store_slot_sum(name, role, wrapped, sum);
	s = store_stmt(st, Q_SLOT_INSERT, err);
	if (!s) {
		free(wrapped);
		return err->code;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, wrapped, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, sum, sizeof(sum), SQLITE_STATIC);
	rc = store_done(st, s, "saving a keyslot", err);
	free(wrapped);
	return rc;
}

/* ---- Device ----------------------------------------------------------- */

const char *store_device_id(const struct store *st)
{
	return st->device_id;
}

int store_id_key(struct store *st, const struct cb_key **out,
		 struct cb_err *err)
{
	*out = NULL;
	if (!st->key)
		return cb_err_set(err, CB_EAUTH, "store: locked");
	if (!st->id_key) {
		int rc = cb_keyed_hash_key(st->key, "store.event.id.day",
					   &st->id_key, err);

		if (rc)
			return rc;
	}
	*out = st->id_key;
	return 0;
}

const char *store_site(const struct store *st)
{
	return st->site;
}

int store_device_index(const struct store *st)
{
	return st->device_index;
}

const unsigned char *store_device_pk(const struct store *st)
{
	return st->dev.pk;
}

int store_sign(const struct store *st, const void *msg, size_t len,
	       unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err)
{
	if (store_need_key(st, err))
		return err->code;
	return cb_sign(st->dev.sk, msg, len, sig, err);
}

int store_sign_stream(const struct store *st, struct cb_sign_stream **out,
		      struct cb_err *err)
{
	*out = NULL;
	if (store_need_key(st, err))
		return err->code;
	return cb_sign_stream_new(st->dev.sk, out, err);
}

int store_sign_event(const struct store *st, struct cb_event *ev,
		     struct cb_err *err)
{
	if (store_need_key(st, err))
		return err->code;
	return cb_event_sign(ev, st->dev.sk, err);
}

int store_protocol_bytes(struct store *st, const char **bytes, size_t *len,
			 struct cb_err *err)
{
	char *val;
	size_t n;
	int rc;

	if (!st->protocol) {
		rc = store_meta_get(st, M_PROTOCOL, &val, &n, err);
		if (rc == CB_ENOTFOUND)
			return store_integrity(st, "the protocol (missing)",
					       err);
		if (rc)
			return rc;
		st->protocol = val;
		st->protocol_len = n;
	}
	*bytes = st->protocol;
	*len = st->protocol_len;
	return 0;
}

int store_protocol_load(struct store *st, struct cb_protocol **out,
			struct cb_err *err)
{
	const char *bytes = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = store_protocol_bytes(st, &bytes, &len, err);
	if (rc)
		return rc;
	return cb_protocol_load_json(bytes, len, "stored protocol", out, NULL,
				     err);
}

/* ---- Events ----------------------------------------------------------- */

/* 1 when the subjects table holds the subject of `hash`, 0 when not. */
static int subject_known(struct store *st,
			 const unsigned char hash[CB_KEYED_HASH_BYTES],
			 struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	s = store_stmt(st, Q_SUBJECT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = store_row(st, s, "reading subjects", err);
	sqlite3_reset(s);
	return rc;
}

/*
 * Make sure the subject id is in the subjects table. A subject of this
 * device's own range (pulled back after a restore, say) moves its
 * subject counter past it.
 */
static int remember_subject(struct store *st, const char *subject,
			    const unsigned char hash[CB_KEYED_HASH_BYTES],
			    struct cb_err *err)
{
	char ad[AD_MAX], hex[65];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	sqlite3_stmt *s;
	long n = 0;
	int rc;

	rc = subject_known(st, hash, err);
	if (rc)
		return rc < 0 ? rc : 0;
	store_hex32(hash, hex);
	snprintf(ad, sizeof(ad), "subjects:%s", hex);
	rc = store_seal(st, ad, subject, strlen(subject), &sealed, &sealed_len,
			err);
	if (rc)
		return rc;
	s = store_stmt(st, Q_SUBJECT_INSERT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = store_done(st, s, "saving a subject", err);
	free(sealed);
	if (rc)
		return rc;
	st->tally.subjects++;
	if (store_own_subject_seq(st, subject, &n) && n > st->tally.subject_seq)
		st->tally.subject_seq = n;
	st->tally_dirty = 1;
	return 0;
}

int store_mark_dirty(struct store *st,
		     const unsigned char hash[CB_KEYED_HASH_BYTES],
		     struct cb_err *err)
{
	sqlite3_stmt *s = store_stmt(st, Q_DIRTY_ADD, err);
	int rc;

	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = store_done(st, s, "marking a subject to derive", err);
	if (!rc && sqlite3_changes(st->db.db) == 1) {
		st->tally.dirty++;
		st->tally_dirty = 1;
	}
	return rc;
}

static int insert_event(struct store *st, const char *id, const char *subject,
			const char *json, size_t len, int flags,
			int64_t *seq_out, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES], tag[CB_KEYED_HASH_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int64_t seq;
	int rc;

	s = store_stmt(st, Q_EVENT_BY_ID, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = store_row(st, s, "reading events", err);
	sqlite3_reset(s);
	if (rc == 1)
		return cb_err_set(err, CB_EEXIST, "event %s is already stored",
				  id);
	if (rc)
		return rc;
	rc = store_write_point(st, err);
	if (!rc)
		rc = store_subject_hash(st, subject, hash, err);
	/* A pull stores a subject's events in runs: its row and its
	 * pending mark are made once a run (see struct store). */
	if (!rc && !(st->last_subject_ok &&
		     !memcmp(st->last_subject, hash, sizeof(hash)))) {
		rc = remember_subject(st, subject, hash, err);
		if (!rc)
			rc = store_mark_dirty(st, hash, err);
		if (!rc) {
			memcpy(st->last_subject, hash, sizeof(hash));
			st->last_subject_ok = 1;
		}
	}
	if (rc)
		return rc;
	/* The tally knows the highest number (it is read at store_begin
	 * and kept with every insert). */
	seq = st->tally.max_seq + 1;
	rc = row_tag(st, seq, id, hash, flags, tag, err);
	if (rc)
		return rc;
	event_ad(ad, id, seq, hash);
	rc = store_seal(st, ad, json, len, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	s = store_stmt(st, Q_EVENT_INSERT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int(s, 4, flags);
	sqlite3_bind_blob(s, 5, tag, sizeof(tag), SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = store_done(st, s, "saving an event", err);
	free(sealed);
	if (rc)
		return rc;
	st->tally.events++;
	st->tally.flag[flags]++;
	st->tally.max_seq = seq;
	st->tally_dirty = 1;
	if (seq_out)
		*seq_out = seq;
	return 0;
}

int store_add_event(struct store *st, const char *id, const char *subject,
		    const char *json, size_t len, unsigned flags, int64_t *seq,
		    struct cb_err *err)
{
	int rc, own;

	if (seq)
		*seq = 0;
	if (store_need_key(st, err))
		return err->code;
	if (!cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL, "store: bad event id");
	if (!subject || strlen(subject) > CB_EVENT_NAME_MAX)
		return cb_err_set(err, CB_EINVAL, "store: bad subject id");
	if (!json || len > CB_VALUE_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "event of %zu bytes is over the %u byte cap",
				  len, CB_VALUE_MAX);
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	rc = insert_event(st, id, subject, json, len,
			  (flags & STORE_EVENT_SYNCED) ? FLAG_SYNCED : 0, seq,
			  err);
	return store_finish_own(st, own, rc, err);
}

/* One row of a scan, with its tag verified. */
struct scan_row {
	int64_t seq;
	const char *id;
	const unsigned char *subject;
	int flags;
};

/*
 * Read and verify the bookkeeping columns of the current row of `s`
 * (seq, id, subject, synced, tag, ...).
 */
static int scan_verify(struct store *st, sqlite3_stmt *s, struct scan_row *r,
		       struct cb_err *err)
{
	unsigned char tag[CB_KEYED_HASH_BYTES];
	const void *stored;
	int rc;

	r->seq = sqlite3_column_int64(s, 0);
	r->id = (const char *)sqlite3_column_text(s, 1);
	r->subject = sqlite3_column_blob(s, 2);
	r->flags = sqlite3_column_int(s, 3);
	stored = sqlite3_column_blob(s, 4);
	if (!cb_id_valid(r->id) || !r->subject ||
	    sqlite3_column_bytes(s, 2) != CB_KEYED_HASH_BYTES ||
	    sqlite3_column_type(s, 3) != SQLITE_INTEGER || r->flags < 0 ||
	    r->flags > 3 || !stored ||
	    sqlite3_column_bytes(s, 4) != CB_KEYED_HASH_BYTES)
		return store_integrity(st, "an event row", err);
	rc = row_tag(st, r->seq, r->id, r->subject, r->flags, tag, err);
	if (rc)
		return rc;
	if (!cb_ct_equal(tag, stored, CB_KEYED_HASH_BYTES))
		return store_integrity(st, "an event row", err);
	return 0;
}

/* Hand the current row of a scan (EVENT_COLS) to fn, decrypted. */
static int give_event(struct store *st, sqlite3_stmt *s,
		      const struct scan_row *r, store_event_fn fn, void *ctx,
		      struct cb_err *err)
{
	struct store_event ev;
	char *plain;
	size_t plain_len;
	char ad[AD_MAX];
	int rc;

	event_ad(ad, r->id, r->seq, r->subject);
	rc = store_unseal(st, ad, sqlite3_column_blob(s, 5),
			  (size_t)sqlite3_column_bytes(s, 5), "an event",
			  &plain, &plain_len, err);
	if (rc)
		return rc;
	ev.seq = r->seq;
	ev.id = r->id;
	ev.synced = (r->flags & FLAG_SYNCED) != 0;
	ev.quarantined = (r->flags & FLAG_QUARANTINED) != 0;
	ev.json = plain;
	ev.len = plain_len;
	rc = fn(ctx, &ev);
	cb_wipe_free(plain, plain_len + 1);
	return rc;
}

int store_each_event(struct store *st, const char *subject, unsigned which,
		     store_event_fn fn, void *ctx, struct cb_err *err)
{
	unsigned char want[CB_KEYED_HASH_BYTES];
	struct scan_row r;
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	if (subject) {
		rc = store_subject_hash(st, subject, want, err);
		if (rc)
			return rc;
		/* The statement prepared once: a subject's events are read
		 * for every subject derived. */
		s = store_stmt(st, Q_EVENTS_OF_SUBJECT, err);
		if (!s)
			return err->code;
		sqlite3_bind_blob(s, 1, want, sizeof(want), SQLITE_STATIC);
		rc = SQLITE_OK;
	} else {
		rc = sqlite3_prepare_v2(
		    st->db.db, "SELECT " EVENT_COLS " FROM events ORDER BY seq",
		    -1, &s, NULL);
	}
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "reading events", err);
	while ((rc = store_row(st, s, "reading events", err)) == 1) {
		rc = scan_verify(st, s, &r, err);
		if (rc)
			break;
		if (subject &&
		    !cb_ct_equal(r.subject, want, CB_KEYED_HASH_BYTES)) {
			rc = store_integrity(st, "the subject index", err);
			break;
		}
		if ((which & STORE_ITER_UNSYNCED) && r.flags)
			continue;
		rc = give_event(st, s, &r, fn, ctx, err);
		if (rc)
			break;
	}
	if (subject)
		sqlite3_reset(s);
	else
		sqlite3_finalize(s);
	return rc;
}

int store_each_queued(struct store *st, int64_t after, size_t limit,
		      store_event_fn fn, void *ctx, struct cb_err *err)
{
	struct scan_row r;
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	s = store_stmt(st, Q_EVENTS_QUEUED, err);
	if (!s)
		return err->code;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
	while ((rc = store_row(st, s, "reading events", err)) == 1) {
		rc = scan_verify(st, s, &r, err);
		if (!rc && r.flags)
			rc = store_integrity(st, "the push queue index", err);
		if (!rc)
			rc = give_event(st, s, &r, fn, ctx, err);
		if (rc)
			break;
	}
	sqlite3_reset(s);
	return rc;
}

int store_each_subject(struct store *st, store_subject_fn fn, void *ctx,
		       struct cb_err *err)
{
	unsigned char check[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int rc;

	if (store_need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(
	    st->db.db, "SELECT hash, sealed FROM subjects ORDER BY ord", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "reading subjects", err);
	while ((rc = store_row(st, s, "reading subjects", err)) == 1) {
		const unsigned char *hash = sqlite3_column_blob(s, 0);
		char *plain;
		size_t plain_len;
		char ad[AD_MAX], hex[65];

		if (!hash ||
		    sqlite3_column_bytes(s, 0) != CB_KEYED_HASH_BYTES) {
			rc = store_integrity(st, "a subject", err);
			break;
		}
		store_hex32(hash, hex);
		snprintf(ad, sizeof(ad), "subjects:%s", hex);
		rc = store_unseal(st, ad, sqlite3_column_blob(s, 1),
				  (size_t)sqlite3_column_bytes(s, 1),
				  "a subject", &plain, &plain_len, err);
		if (rc)
			break;
		rc = store_subject_hash(st, plain, check, err);
		if (!rc && !cb_ct_equal(check, hash, CB_KEYED_HASH_BYTES))
			rc = store_integrity(st, "a subject", err);
		if (!rc)
			rc = fn(ctx, plain);
		cb_wipe_free(plain, plain_len + 1);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Read the event `id`'s bookkeeping and verify its tag: 0 with *seq,
 * *flags and its subject hash; CB_ENOTFOUND when there is none.
 */
static int event_flags_get(struct store *st, const char *id, int64_t *seq,
			   int *flags, unsigned char subject[32],
			   struct cb_err *err)
{
	unsigned char tag[CB_KEYED_HASH_BYTES], want[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int rc;

	s = store_stmt(st, Q_EVENT_BY_ID, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = store_row(st, s, "reading events", err);
	if (rc <= 0) {
		sqlite3_reset(s);
		return rc ? rc
			  : cb_err_set(err, CB_ENOTFOUND,
				       "no event %s in the store", id);
	}
	*seq = sqlite3_column_int64(s, 0);
	*flags = sqlite3_column_int(s, 2);
	if (sqlite3_column_bytes(s, 1) != CB_KEYED_HASH_BYTES ||
	    sqlite3_column_bytes(s, 3) != CB_KEYED_HASH_BYTES || *flags < 0 ||
	    *flags > 3) {
		sqlite3_reset(s);
		return store_integrity(st, "an event row", err);
	}
	memcpy(subject, sqlite3_column_blob(s, 1), CB_KEYED_HASH_BYTES);
	memcpy(tag, sqlite3_column_blob(s, 3), CB_KEYED_HASH_BYTES);
	sqlite3_reset(s);
	rc = row_tag(st, *seq, id, subject, *flags, want, err);
	if (!rc && !cb_ct_equal(want, tag, CB_KEYED_HASH_BYTES))
		rc = store_integrity(st, "an event row", err);
	return rc;
}

/* Set flag bits `add` and clear bits `clear` of event `id`. */
static int event_flags_change(struct store *st, const char *id, int add,
			      int clear, unsigned char *subject,
			      struct cb_err *err)
{
	unsigned char tag[CB_KEYED_HASH_BYTES], hash[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int64_t seq = 0;
	int rc, flags = 0, now;

	rc = event_flags_get(st, id, &seq, &flags, hash, err);
	if (rc)
		return rc;
	if (subject)
		memcpy(subject, hash, CB_KEYED_HASH_BYTES);
	now = (flags | add) & ~clear;
	if (now == flags)
		return 0;
	rc = store_write_point(st, err);
	if (!rc)
		rc = row_tag(st, seq, id, hash, now, tag, err);
	if (rc)
		return rc;
	s = store_stmt(st, Q_EVENT_SET_FLAGS, err);
	if (!s)
		return err->code;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int(s, 2, now);
	sqlite3_bind_blob(s, 3, tag, sizeof(tag), SQLITE_STATIC);
	rc = store_done(st, s, "marking an event", err);
	if (rc)
		return rc;
	st->tally.flag[flags]--;
	st->tally.flag[now]++;
	st->tally_dirty = 1;
	return 0;
}

int store_event_flag(struct store *st, const char *id, int add,
		     unsigned char *subject, struct cb_err *err)
{
	return event_flags_change(st, id, add, 0, subject, err);
}

/* The ids of this device's synced events (store_requeue_own). */
struct own_ids {
	const char *device;
	char (*ids)[CB_ID_HEX_LEN + 1];
	size_t n, cap;
	struct cb_err *err;
};

static int collect_own(void *ctx, const struct store_event *ev)
{
	struct own_ids *o = ctx;
	struct cb_event e;
	int rc, mine;

	if (!ev->synced || ev->quarantined)
		return 0;
	cb_event_init(&e);
	rc = cb_event_parse(ev->json, ev->len, &e, o->err);
	mine = !rc && e.device && !strcmp(e.device, o->device);
	cb_event_release(&e);
	if (rc)
		return rc;
	if (!mine)
		return 0;
	rc = cb_array_grow((void **)&o->ids, &o->cap, o->n + 1, sizeof(*o->ids),
			   (size_t)-1 / sizeof(*o->ids), "events to send again",
			   o->err);
	if (rc)
		return rc;
	snprintf(o->ids[o->n], sizeof(o->ids[o->n]), "%s", ev->id);
	o->n++;
	return 0;
}

int store_requeue_own(struct store *st, int64_t *n, struct cb_err *err)
{
	struct own_ids o = {st->device_id, NULL, 0, 0, err};
	size_t i;
	int rc, own;

	*n = 0;
	if (store_need_key(st, err))
		return err->code;
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	/* Gathered first, changed after: the scan is not disturbed by the
	 * rows it visits changing under it. */
	rc = store_each_event(st, NULL, STORE_ITER_ALL, collect_own, &o, err);
	for (i = 0; !rc && i < o.n; i++)
		rc =
		    event_flags_change(st, o.ids[i], 0, FLAG_SYNCED, NULL, err);
	if (!rc)
		*n = (int64_t)o.n;
	free(o.ids);
	return store_finish_own(st, own, rc, err);
}

int store_mark_synced(struct store *st, const char *id, struct cb_err *err)
{
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	if (!cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL, "store: bad event id");
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	rc = store_event_flag(st, id, FLAG_SYNCED, NULL, err);
	return store_finish_own(st, own, rc, err);
}

int store_counts(struct store *st, struct store_counts *c, struct cb_err *err)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (store_need_key(st, err))
		return err->code;
	/* What is committed now (another process may have written since
	 * the unlock), unless this handle is inside a write. */
	if (!st->in_tx) {
		int began;

		rc = store_read_begin(st, &began, err);
		if (!rc)
			rc = store_tally_read(st, err);
		store_read_end(st, began);
		if (rc)
			return rc;
	}
	c->events = st->tally.events;
	c->queued = st->tally.flag[0];
	c->unsynced = st->tally.flag[0] + st->tally.flag[2];
	c->quarantined = st->tally.quarantine;
	c->subjects = st->tally.subjects;
	c->pending = st->tally.dirty;
	return 0;
}

int store_count_events(struct store *st, int64_t *total, int64_t *unsynced,
		       struct cb_err *err)
{
	struct store_counts c;
	int rc = store_counts(st, &c, err);

	*total = c.events;
	*unsynced = c.unsynced;
	return rc;
}

int store_last_seq(struct store *st, int64_t *seq, struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	if (store_need_key(st, err))
		return err->code;
	s = store_stmt(st, Q_EVENT_MAX_SEQ, err);
	if (!s)
		return err->code;
	rc = store_row(st, s, "reading events", err);
	if (rc == 1) {
		*seq = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_reset(s);
	return rc;
}

/* ---- Users ------------------------------------------------------------ */

int store_each_user(struct store *st, store_user_fn fn, void *ctx,
		    struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db.db,
				"SELECT name, role FROM keyslots ORDER BY ord",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "reading the keyslots", err);
	while ((rc = store_row(st, s, "reading the keyslots", err)) == 1) {
		const char *n = (const char *)sqlite3_column_text(s, 0);
		const char *r = (const char *)sqlite3_column_text(s, 1);

		if (!n || !r) {
			rc = store_integrity(st, "a keyslot", err);
			break;
		}
		rc = fn(ctx, n, r);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_add_user(struct store *st, const char *name, const char *role,
		   const char *pass, size_t pass_len, struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	if (strcmp(st->role, CB_ROLE_INVESTIGATOR))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "only an investigator can add users; '%s' "
				  "is a %s",
				  st->user, st->role);
	if (!cb_user_valid(name))
		return cb_err_set(err, CB_EINVAL,
				  "bad user name '%s': use 1 to %d letters, "
				  "digits and . _ - @",
				  name ? name : "", STORE_USER_MAX);
	if (!cb_role_is_site(role))
		return cb_err_set(err, CB_EINVAL,
				  "bad role '%s': use coordinator or "
				  "investigator",
				  role ? role : "");
	rc = store_begin_own(st, &own, err);
	if (rc)
		return rc;
	s = store_stmt(st, Q_SLOT_GET, err);
	if (!s)
		return store_finish_own(st, own, err->code, err);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = store_row(st, s, "reading the keyslots", err);
	sqlite3_reset(s);
	if (rc == 1)
		rc = cb_err_set(err, CB_EEXIST,
				"user '%s' already exists; nothing was changed",
				name);
	else if (!rc)
		rc = store_insert_slot(st, name, role, pass, pass_len, err);
	return store_finish_own(st, own, rc, err);
}

int store_change_passphrase(struct store *st, const char *pass, size_t pass_len,
			    struct cb_err *err)
{
	char label[sizeof(SLOT_LABEL) + STORE_USER_MAX + ROLE_MAX + 2];
	unsigned char sum[CB_HASH_BYTES];
	char *wrapped = NULL;
	sqlite3_stmt *s;
	int rc, own;

	if (store_need_key(st, err))
		return err->code;
	store_slot_label(st->user, st->role, label, sizeof(label));
	rc = cb_key_wrap(st->key, pass, pass_len, label, NULL, &wrapped, err);
	if (rc)
		return rc;
	store_slot_sum(st->user, st->role, wrapped, sum);
	rc = store_begin_own(st, &own, err);
	if (!rc) {
		s = store_stmt(st, Q_SLOT_UPDATE, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_text(s, 1, st->user, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, wrapped, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 3, sum, sizeof(sum),
					  SQLITE_STATIC);
			rc = store_done(st, s, "saving the keyslot", err);
			if (!rc && sqlite3_changes(st->db.db) != 1)
				rc = store_integrity(
				    st, "the keyslot (vanished)", err);
		}
		rc = store_finish_own(st, own, rc, err);
	}
	free(wrapped);
	return rc;
}

#ifdef CASEBOOK_TEST_HOOKS
int store_test_secrets(const struct store *st, char *out, size_t cap,
		       struct cb_err *err)
{
	int rc;

	if (store_need_key(st, err))
		return err->code;
	if (cap < STORE_SECRETS_HEX)
		return cb_err_set(err, CB_EINVAL, "buffer too small");
	rc = cb_hex_encode(st->key->bytes, CB_KEY_BYTES, out, cap, err);
	if (rc)
		return rc;
	out[CB_KEY_BYTES * 2] = ' ';
	return cb_hex_encode(st->dev.sk->bytes, CB_SIGN_SECRET_BYTES,
			     out + CB_KEY_BYTES * 2 + 1,
			     cap - CB_KEY_BYTES * 2 - 1, err);
}
#endif
