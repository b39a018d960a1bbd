/*
 * store.c - the encrypted local store: the file, the keys, the settings,
 * the tally and the events (see store.h for what it holds and why;
 * store_rows.c keeps the derived rows, the quarantine and the pending
 * marks).
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
#include "clock.h"
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

/* "CBK1": tells a Casebook store from any other SQLite file. */
#define STORE_APP_ID 0x43424B31
#define SLOT_LABEL "casebook.keyslot:"
#define DOMAIN_SUBJECT "store.subject"
#define DOMAIN_ROW "store.events.row"
#define DOMAIN_QUERY "store.query"
#define META_KEY_MAX 64

#define M_DEVICE_ID "store.device_id"
#define M_DEVICE_SK "store.device_sk"
#define M_SITE "store.site"
#define M_DEVICE_INDEX "store.device_index"
#define M_PROTOCOL "store.protocol"
#define M_SUBJECT_SEQ "store.subject_seq" /* before the tally */
#define M_TALLY "store.tally"
/* The clock setting entry.c kept before the tally. */
#define M_OLD_CLOCK "entry.hlc"
#define M_CREATED_AT "store.created_at"
/* Where schema 1 kept the quarantine (sync.c wrote it). */
#define M_OLD_QUARANTINE "sync.quarantine"

/* The tables of schema 1, which schema 2 keeps as they are. */
static const char schema1_sql[] = "CREATE TABLE keyslots("
				  " ord INTEGER PRIMARY KEY,"
				  " name TEXT NOT NULL UNIQUE,"
				  " role TEXT NOT NULL,"
				  " wrapped TEXT NOT NULL,"
				  " sum BLOB NOT NULL);"
				  "CREATE TABLE meta("
				  " key TEXT PRIMARY KEY,"
				  " value BLOB NOT NULL) WITHOUT ROWID;"
				  "CREATE TABLE subjects("
				  " ord INTEGER PRIMARY KEY,"
				  " hash BLOB NOT NULL UNIQUE,"
				  " sealed BLOB NOT NULL);"
				  "CREATE TABLE events("
				  " seq INTEGER PRIMARY KEY,"
				  " id TEXT NOT NULL UNIQUE,"
				  " subject BLOB NOT NULL,"
				  " synced INTEGER NOT NULL,"
				  " tag BLOB NOT NULL,"
				  " body BLOB NOT NULL);";

/* What schema 2 adds to the events table (store_rows.c adds its own). */
static const char schema2_events_sql[] =
    "CREATE INDEX events_subject ON events(subject, seq);"
    "CREATE INDEX events_queued ON events(seq) WHERE synced = 0;"
    "CREATE INDEX events_held ON events(synced) WHERE synced >= 2;";

#define EVENT_COLS "seq, id, subject, synced, tag, body"

static const char *const query_sql[NQUERIES] = {
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

static int db_path(const char *home, char *out, size_t cap, struct cb_err *err)
{
	int n = snprintf(out, cap, "%s/%s", home, STORE_DB_NAME);

	if (n < 0 || (size_t)n >= cap)
		return cb_err_set(err, CB_EINVAL,
				  "store directory path is too long");
	return 0;
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *dir, struct cb_err *err)
{
	char buf[STORE_PATH_MAX + 1];
	size_t i, n = strlen(dir);

	if (n > STORE_PATH_MAX)
		return cb_err_set(err, CB_EINVAL, "path too long: %s", dir);
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return cb_err_set(err, CB_EIO, "cannot create %s: %s",
					  buf, strerror(errno));
		buf[i] = dir[i];
	}
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

int store_integrity(struct store *st, const char *what, struct cb_err *err)
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
static sqlite3_stmt *stmt(struct store *st, int which, struct cb_err *err)
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
static int done(struct store *st, sqlite3_stmt *s, const char *what,
		struct cb_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, rc, what, err);
}

/* Step a query: 1 for a row, 0 at the end, or store_fail's code. */
static int row(struct store *st, sqlite3_stmt *s, const char *what,
	       struct cb_err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return store_fail(st, rc, what, err);
}

static int exec(struct store *st, const char *sql, const char *what,
		struct cb_err *err)
{
	int rc = sqlite3_exec(st->db.db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(st, rc, what, err);
}

/* An integer-valued PRAGMA or query. */
static int int_of(struct store *st, const char *sql, int64_t *out,
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

static int set_pragmas(struct store *st, struct cb_err *err)
{
	if (st->readonly)
		return exec(st,
			    "PRAGMA trusted_schema = OFF;"
			    "PRAGMA cell_size_check = ON;"
			    "PRAGMA temp_store = MEMORY;",
			    "setting up the connection", err);
	return exec(st,
		    "PRAGMA trusted_schema = OFF;"
		    "PRAGMA cell_size_check = ON;"
		    "PRAGMA secure_delete = ON;"
		    "PRAGMA temp_store = MEMORY;"
		    "PRAGMA journal_mode = WAL;"
		    "PRAGMA synchronous = FULL;",
		    "setting up the connection", err);
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
static int tally_read(struct store *st, struct cb_err *err);

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
	rc = exec(st, "BEGIN IMMEDIATE", "starting a write", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	/* Another process may have written since this one read the tally:
	 * count on from what is committed now. */
	if (st->tally_live) {
		rc = tally_read(st, err);
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
		rc = exec(st, "COMMIT", "saving", err);
	if (rc) {
		store_rollback(st);
		return rc;
	}
	st->in_tx = 0;
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
	rc = exec(st, "BEGIN", "reading the store", err);
	if (!rc)
		*began = 1;
	return rc;
}

void store_read_end(struct store *st, int began)
{
	if (began && !sqlite3_get_autocommit(st->db.db))
		sqlite3_exec(st->db.db, "COMMIT", NULL, NULL, NULL);
}

void store_rollback(struct store *st)
{
	if (!st || !st->in_tx)
		return;
	if (!sqlite3_get_autocommit(st->db.db))
		sqlite3_exec(st->db.db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = 0;
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

static int slot_label(const char *name, const char *role, char *out, size_t cap)
{
	int n = snprintf(out, cap, SLOT_LABEL "%s/%s", name, role);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Unkeyed checksum of a keyslot row, to tell damage from a bad passphrase. */
static void slot_sum(const char *name, const char *role, const char *wrapped,
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

static int meta_key_valid(const char *key)
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
	if (!meta_key_valid(key))
		return cb_err_set(err, CB_EINVAL, "store: bad setting name");
	s = stmt(st, Q_META_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = row(st, s, "reading a setting", err);
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

char *store_meta_or_null(struct store *st, const char *key)
{
	struct cb_err err;
	char *v = NULL;
	size_t len;

	if (store_meta_get(st, key, &v, &len, &err))
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
	if (!meta_key_valid(key))
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
		s = rc ? NULL : stmt(st, Q_META_SET, err);
		if (!rc && !s) {
			rc = err->code;
		} else if (!rc) {
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 2, sealed, (int)sealed_len,
					  SQLITE_STATIC);
			rc = done(st, s, "saving a setting", err);
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

#define TALLY_FMT                                                              \
	"v2 events=%lld max_seq=%lld subjects=%lld queued=%lld synced=%lld "   \
	"held=%lld held_synced=%lld quarantine=%lld summaries=%lld "           \
	"queries=%lld pending=%lld clock=%016llx subject_seq=%ld"
/* The tally of schema 1, read once when a store is upgraded. */
#define TALLY1_FMT                                                             \
	"events=%lld max_seq=%lld subjects=%lld clock=%16llx "                 \
	"subject_seq=%ld%n"

static void tally_text(const struct tally *t, char *out, size_t cap)
{
	snprintf(out, cap, TALLY_FMT, (long long)t->events,
		 (long long)t->max_seq, (long long)t->subjects,
		 (long long)t->flag[0], (long long)t->flag[1],
		 (long long)t->flag[2], (long long)t->flag[3],
		 (long long)t->quarantine, (long long)t->summaries,
		 (long long)t->queries, (long long)t->dirty,
		 (unsigned long long)t->clock, t->subject_seq);
}

static int tally_parse(const char *text, struct tally *t)
{
	long long v[11];
	unsigned long long c;
	char check[400];
	long q;
	size_t i;

	if (sscanf(text,
		   "v2 events=%lld max_seq=%lld subjects=%lld queued=%lld "
		   "synced=%lld held=%lld held_synced=%lld quarantine=%lld "
		   "summaries=%lld queries=%lld pending=%lld clock=%16llx "
		   "subject_seq=%ld",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9], &v[10], &c, &q) != 13)
		return -1;
	for (i = 0; i < 11; i++)
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
	t->clock = c;
	t->subject_seq = q;
	/* Exactly the text tally_text writes: nothing more, nothing less. */
	tally_text(t, check, sizeof(check));
	return strcmp(check, text) ? -1 : 0;
}

static int tally_save(struct store *st, struct cb_err *err)
{
	char text[400];

	tally_text(&st->tally, text, sizeof(text));
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
	    " (SELECT count(*) FROM dirty)",
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
		rc = 0;
	} else {
		rc = store_fail(st, rc, "counting the store's rows", err);
	}
	sqlite3_finalize(s);
	return rc;
}

/* The tables hold what the tally says, or CB_EINTEGRITY saying what not. */
static int tally_verify(struct store *st, struct cb_err *err)
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
	    t.dirty == w->dirty)
		return 0;
	return cb_err_set(
	    err, CB_EINTEGRITY,
	    "integrity error: the store %s holds %lld events (up to number "
	    "%lld, %lld unsynced, %lld quarantined), %lld subjects, %lld "
	    "quarantine, %lld summary, %lld query and %lld pending rows, but "
	    "its sealed tally says %lld events (up to %lld, %lld unsynced, "
	    "%lld quarantined), %lld subjects, %lld, %lld, %lld and %lld: "
	    "rows were removed or a setting was put back outside casebook; "
	    "restore it from a backup and sync",
	    st->path, (long long)t.events, (long long)t.max_seq,
	    (long long)(t.flag[0] + t.flag[2]),
	    (long long)(t.flag[2] + t.flag[3]), (long long)t.subjects,
	    (long long)t.quarantine, (long long)t.summaries,
	    (long long)t.queries, (long long)t.dirty, (long long)w->events,
	    (long long)w->max_seq, (long long)(w->flag[0] + w->flag[2]),
	    (long long)(w->flag[2] + w->flag[3]), (long long)w->subjects,
	    (long long)w->quarantine, (long long)w->summaries,
	    (long long)w->queries, (long long)w->dirty);
}

static int own_subject_seq(const struct store *st, const char *subject,
			   long *seq)
{
	char site[CB_SITE_MAX + 1];
	long index = 0;

	if (!st->site[0] ||
	    cb_subject_id_parse(subject, site, &index, seq, NULL))
		return 0;
	return !strcmp(site, st->site) && index == st->device_index;
}

struct seq_scan {
	struct store *st;
	long max;
};

static int seq_one(void *ctx, const char *subject)
{
	struct seq_scan *q = ctx;
	long n = 0;

	if (own_subject_seq(q->st, subject, &n) && n > q->max)
		q->max = n;
	return 0;
}

/* A number setting written before the tally, or 0. */
static int old_setting(struct store *st, const char *key, int hex,
		       unsigned long long *out, struct cb_err *err)
{
	char *val = NULL;
	size_t len;
	int rc;

	*out = 0;
	rc = store_meta_get(st, key, &val, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	*out = strtoull(val, NULL, hex ? 16 : 10);
	free(val);
	return 0;
}

/*
 * Read the sealed tally into st->tally (and st->saved): 0, CB_ENOTFOUND
 * when there is none, CB_EINTEGRITY.
 */
static int tally_read(struct store *st, struct cb_err *err)
{
	char *val = NULL;
	size_t len;
	int rc;

	rc = store_meta_get(st, M_TALLY, &val, &len, err);
	if (rc)
		return rc;
	rc = tally_parse(val, &st->tally);
	free(val);
	if (rc)
		return store_integrity(st, "the tally", err);
	st->saved = st->tally;
	st->tally_dirty = 0;
	return 0;
}

/*
 * Load the tally at unlock and check the tables against it, both read
 * in one snapshot (another process may be committing meanwhile).
 */
static int tally_load(struct store *st, struct cb_err *err)
{
	int rc;

	rc = exec(st, "BEGIN", "reading the store", err);
	if (rc)
		return rc;
	rc = tally_read(st, err);
	if (rc == CB_ENOTFOUND)
		rc = store_integrity(st, "the tally (missing)", err);
	if (!rc)
		rc = tally_verify(st, err);
	sqlite3_exec(st->db.db, "COMMIT", NULL, NULL, NULL);
	if (!rc)
		st->tally_live = 1;
	return rc;
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

/* ---- Upgrading a store of schema 1 -------------------------------------- */

/*
 * The schema 1 tally (or, for a store made before the tally, one built
 * from the tables and the old settings), checked against the tables, so
 * that an upgrade never takes in a store with rows removed.
 */
static int upgrade_tally1(struct store *st, struct cb_err *err)
{
	struct tally *t = &st->tally;
	struct seq_scan q = {st, 0};
	unsigned long long clock = 0, seqno = 0, c;
	long long e, m, n;
	int64_t v;
	char *val = NULL;
	size_t len;
	long k;
	int rc, used = 0;

	memset(t, 0, sizeof(*t));
	rc = store_meta_get(st, M_TALLY, &val, &len, err);
	if (!rc) {
		if (sscanf(val, TALLY1_FMT, &e, &m, &n, &c, &k, &used) != 5 ||
		    (size_t)used != strlen(val) || e < 0 || m < 0 || n < 0 ||
		    k < 0 || k > STORE_SUBJECT_SEQ_MAX) {
			free(val);
			return store_integrity(st, "the tally", err);
		}
		free(val);
		rc = int_of(st, "SELECT count(*) FROM events", &v, err);
		if (!rc && v != e)
			rc = 1;
		if (!rc)
			rc = int_of(st,
				    "SELECT coalesce(max(seq), 0) FROM events",
				    &v, err);
		if (!rc && v != m)
			rc = 1;
		if (!rc)
			rc = int_of(st, "SELECT count(*) FROM subjects", &v,
				    err);
		if (!rc && v != n)
			rc = 1;
		if (rc == 1)
			return cb_err_set(
			    err, CB_EINTEGRITY,
			    "integrity error: the store %s does not hold "
			    "what its sealed tally says (%lld events up to "
			    "number %lld, %lld subjects): rows were removed "
			    "or a setting was put back outside casebook; "
			    "restore it from a backup and sync",
			    st->path, e, m, n);
		if (rc)
			return rc;
		t->clock = c;
		t->subject_seq = k;
		return 0;
	}
	if (rc != CB_ENOTFOUND)
		return rc;
	/* Made before the tally: the clock and counter of the old
	 * settings, the counter past every subject of this device held. */
	cb_err_clear(err);
	rc = old_setting(st, M_OLD_CLOCK, 1, &clock, err);
	if (!rc)
		rc = old_setting(st, M_SUBJECT_SEQ, 0, &seqno, err);
	if (!rc)
		rc = store_each_subject(st, seq_one, &q, err);
	if (rc)
		return rc;
	t->clock = clock;
	t->subject_seq = (long)seqno > q.max ? (long)seqno : q.max;
	if (t->subject_seq > STORE_SUBJECT_SEQ_MAX)
		t->subject_seq = STORE_SUBJECT_SEQ_MAX;
	return 0;
}

/*
 * Schema 1 kept the device's clock only when the device wrote an event,
 * and moved it up to every held event at each start; schema 2 keeps it
 * up to date as events arrive (store_set_clock). So an upgrade takes it
 * up to every event on the record once, as that start did: the latest
 * hlc of them, bounded (hlc.h).
 */
struct clock_scan {
	uint64_t max;
	int64_t now_ms;
};

static int clock_one(void *ctx, const struct store_event *ev)
{
	struct clock_scan *c = ctx;
	struct cb_event e;
	struct cb_err ignored;
	uint64_t t;

	if (ev->quarantined)
		return 0;
	cb_event_init(&e);
	if (!cb_event_parse(ev->json, ev->len, &e, &ignored) &&
	    !cb_hlc_parse(e.hlc, &t, &ignored) &&
	    (t = cb_hlc_bound(t, c->now_ms)) > c->max)
		c->max = t;
	cb_event_release(&e);
	return 0;
}

/*
 * Schema 1 to 2, in one transaction at the first unlock where the file
 * can be written: the new tables and indexes, the quarantine setting
 * made rows, every subject marked pending (derive.h writes its rows at
 * the next command), a tally of the new shape.
 */
static int upgrade(struct store *st, struct cb_err *err)
{
	uint64_t clock;
	long subject_seq;
	int rc;

	rc = exec(st, "BEGIN IMMEDIATE", "upgrading the store", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	rc = upgrade_tally1(st, err);
	clock = st->tally.clock;
	subject_seq = st->tally.subject_seq;
	if (!rc)
		rc = exec(st, schema2_events_sql, "upgrading the store", err);
	if (!rc)
		rc = exec(st, store_rows_schema, "upgrading the store", err);
	if (!rc)
		rc = store_rows_upgrade_quarantine(st, M_OLD_QUARANTINE, err);
	if (!rc) {
		struct clock_scan cs = {0, cb_clock_now_ms()};

		rc = store_each_event(st, NULL, STORE_ITER_ALL, clock_one, &cs,
				      err);
		if (cs.max > clock)
			clock = cs.max;
	}
	if (!rc)
		rc = exec(st,
			  "INSERT OR IGNORE INTO dirty(hash)"
			  " SELECT hash FROM subjects ORDER BY ord;"
			  "PRAGMA user_version = 2;",
			  "upgrading the store", err);
	if (!rc)
		rc = store_table_counts(st, &st->tally, err);
	if (!rc) {
		st->tally.clock = clock;
		st->tally.subject_seq = subject_seq;
		st->tally_dirty = 1;
		rc = store_commit(st, err);
	} else {
		store_rollback(st);
	}
	if (!rc)
		st->version = STORE_SCHEMA_VERSION;
	return rc;
}

/* ---- Opening, unlocking, closing -------------------------------------- */

static int store_alloc(const char *path, struct store **out, struct cb_err *err)
{
	struct store *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (!st)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	snprintf(st->path, sizeof(st->path), "%s", path);
#ifdef CASEBOOK_TEST_HOOKS
	{
		const char *h = getenv("CASEBOOK_TEST_HOOKS");
		const char *n = getenv(STORE_TEST_FAIL_ENV);

		if (h && !strcmp(h, "1") && n)
			st->fail_at = strtol(n, NULL, 10);
	}
#endif
	*out = st;
	return 0;
}

/* Open `path` (which must exist) and check it is a Casebook store. */
static int open_readonly(struct store *st, struct cb_err *err);
static int check_header(struct store *st, struct cb_err *err);

static int connect(struct store *st, const char *path, int flags,
		   struct cb_err *err)
{
	char name[STORE_PATH_MAX + 96];

	snprintf(name, sizeof(name), "the casebook store %s", st->path);
	return cb_db_open(&st->db, path, flags | SQLITE_OPEN_NOMUTEX,
			  STORE_BUSY_MS, name, query_sql, NQUERIES, err);
}

static int open_db(struct store *st, int fresh, struct cb_err *err)
{
	int rc;

	if (st->readonly)
		return open_readonly(st, err);
	rc = connect(st, st->path, SQLITE_OPEN_READWRITE, err);
	if (!rc)
		rc = set_pragmas(st, err);
	if (rc || fresh)
		return rc;
	return check_header(st, err);
}

/*
 * A store on a read-only medium, or one this user may not write: open it
 * read-only. SQLite reads a database in WAL mode read-only as long as it
 * can use the shared-memory file beside it; where it cannot (nothing
 * beside the file may be created), and no log holds pages the file lacks,
 * the file is read as immutable, which is exact because nothing can
 * change it. A log with pages in it on such a medium cannot be read
 * safely: say so.
 */
static int open_readonly(struct store *st, struct cb_err *err)
{
	char uri[STORE_PATH_MAX + 128], wal[STORE_PATH_MAX + 72];
	struct stat sb;
	int64_t app;
	int rc;

	rc = connect(st, st->path, SQLITE_OPEN_READONLY, err);
	if (!rc) {
		rc = set_pragmas(st, err);
		if (!rc)
			rc = int_of(st, "PRAGMA application_id", &app, err);
		if (!rc)
			return check_header(st, err);
	}
	cb_db_close(&st->db);
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0)
		return cb_err_set(err, CB_EIO,
				  "the casebook store %s is on a read-only "
				  "medium and was not closed cleanly (its "
				  "log %s holds changes): copy the store "
				  "directory to a writable place and open it "
				  "there",
				  st->path, wal);
	cb_err_clear(err);
	if ((size_t)snprintf(uri, sizeof(uri), "file:%s?immutable=1",
			     st->path) >= sizeof(uri) ||
	    strpbrk(st->path, "?#%"))
		return cb_err_set(err, CB_EIO,
				  "cannot open the read-only store %s",
				  st->path);
	rc = connect(st, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, err);
	if (!rc)
		rc = set_pragmas(st, err);
	if (rc)
		return rc;
	return check_header(st, err);
}

/* The file is a Casebook store of this schema version, or of version 1
 * where it can be upgraded. */
static int check_header(struct store *st, struct cb_err *err)
{
	int64_t app = 0, version = 0;
	int rc;

	rc = int_of(st, "PRAGMA application_id", &app, err);
	if (!rc)
		rc = int_of(st, "PRAGMA user_version", &version, err);
	if (rc)
		return rc;
	if (app != STORE_APP_ID)
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s is not a casebook store "
				  "(or its header is damaged)",
				  st->path);
	if (version == 1 && st->readonly)
		return cb_err_set(err, CB_EIO,
				  "the casebook store %s was made by an older "
				  "casebook (store version 1) and is "
				  "read-only here; this casebook upgrades it "
				  "at its first unlock where it can be "
				  "written: open it once there (any command), "
				  "then it reads anywhere",
				  st->path);
	if (version != STORE_SCHEMA_VERSION && version != 1)
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s says it is store "
				  "version %lld, but this casebook reads "
				  "version %d: the file is damaged or was "
				  "made by another casebook version",
				  st->path, (long long)version,
				  STORE_SCHEMA_VERSION);
	st->version = (int)version;
	return 0;
}

int store_open(const char *home, struct store **out, struct cb_err *err)
{
	char path[STORE_PATH_MAX + 32];
	struct store *st;
	struct stat sb;
	int rc;

	*out = NULL;
	rc = db_path(home, path, sizeof(path), err);
	if (rc)
		return rc;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT)
			return cb_err_set(err, CB_ENOTFOUND,
					  "no casebook store in %s; create one "
					  "with 'casebook init'",
					  home);
		return cb_err_set(err, CB_EIO, "cannot open %s: %s", path,
				  strerror(errno));
	}
	rc = store_alloc(path, &st, err);
	if (rc)
		return rc;
	/* Writing needs the file and its directory (for the log). */
	st->readonly = access(path, W_OK) != 0 || access(home, W_OK) != 0;
	rc = open_db(st, 0, err);
	if (rc) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* Read the keyslot of `name` into the handle's user and role. */
static int read_slot(struct store *st, const char *name, char **wrapped,
		     struct cb_err *err)
{
	unsigned char sum[CB_HASH_BYTES];
	const unsigned char *stored;
	const char *n, *r, *w;
	sqlite3_stmt *s;
	int rc;

	if (wrapped)
		*wrapped = NULL;
	s = stmt(st, Q_SLOT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = row(st, s, "reading the keyslots", err);
	if (rc <= 0) {
		sqlite3_reset(s);
		return rc ? rc
			  : cb_err_set(err, CB_EAUTH,
				       "no user '%s' in this casebook store",
				       name);
	}
	n = (const char *)sqlite3_column_text(s, 0);
	r = (const char *)sqlite3_column_text(s, 1);
	w = (const char *)sqlite3_column_text(s, 2);
	stored = sqlite3_column_blob(s, 3);
	if (!n || !r || !w || !stored ||
	    sqlite3_column_bytes(s, 3) != CB_HASH_BYTES) {
		sqlite3_reset(s);
		return store_integrity(st, "a keyslot", err);
	}
	slot_sum(n, r, w, sum);
	if (!cb_ct_equal(sum, stored, CB_HASH_BYTES) || strcmp(n, name) ||
	    !cb_role_known(r)) {
		sqlite3_reset(s);
		return store_integrity(st, "the keyslot", err);
	}
	snprintf(st->user, sizeof(st->user), "%s", n);
	snprintf(st->role, sizeof(st->role), "%s", r);
	if (wrapped) {
		*wrapped = strdup(w);
		if (!*wrapped) {
			sqlite3_reset(s);
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		}
	}
	sqlite3_reset(s);
	return 0;
}

int store_select_user(struct store *st, const char *user, struct cb_err *err)
{
	char first[STORE_USER_MAX + 1];
	sqlite3_stmt *s;
	int rc;

	if (st->key)
		return cb_err_set(err, CB_EINVAL, "store: already unlocked");
	if (user) {
		if (!cb_user_valid(user))
			return cb_err_set(err, CB_EAUTH,
					  "no user '%s' in this casebook store",
					  user);
		return read_slot(st, user, NULL, err);
	}
	s = stmt(st, Q_SLOT_FIRST, err);
	if (!s)
		return err->code;
	rc = row(st, s, "reading the keyslots", err);
	if (rc <= 0) {
		sqlite3_reset(s);
		return rc ? rc
			  : store_integrity(st, "the keyslots (none left)",
					    err);
	}
	cb_db_col_copy(first, sizeof(first), s, 0);
	sqlite3_reset(s);
	rc = read_slot(st, first, NULL, err);
	/* The name just read from the table is not found by its index:
	 * the file is damaged, not a wrong user name. */
	if (rc == CB_EAUTH)
		rc = store_integrity(st, "the keyslots (their index)", err);
	return rc;
}

const char *store_user(const struct store *st)
{
	return st->user;
}

const char *store_role(const struct store *st)
{
	return st->role;
}

/* Unwrap the selected user's data key into *key. */
static int unwrap(struct store *st, const char *pass, size_t pass_len,
		  struct cb_key **key, struct cb_err *err)
{
	char label[sizeof(SLOT_LABEL) + STORE_USER_MAX + ROLE_MAX + 2];
	char user[STORE_USER_MAX + 1];
	char *wrapped = NULL;
	int rc;

	*key = NULL;
	if (!st->user[0])
		return cb_err_set(err, CB_EINVAL, "store: no user selected");
	snprintf(user, sizeof(user), "%s", st->user);
	rc = read_slot(st, user, &wrapped, err);
	if (rc)
		return rc;
	slot_label(st->user, st->role, label, sizeof(label));
	rc = cb_key_unwrap(wrapped, pass, pass_len, label, key, err);
	free(wrapped);
	if (rc == CB_EAUTH)
		return cb_err_set(err, CB_EAUTH,
				  "wrong passphrase for user '%s'", st->user);
	if (rc == CB_EINVAL)
		return store_integrity(st, "the keyslot", err);
	if (!rc && (*key)->len != CB_KEY_BYTES) {
		cb_key_free(*key);
		*key = NULL;
		return store_integrity(st, "the keyslot", err);
	}
	return rc;
}

/* Load the device settings once the data key is in st->key. */
static int load_device(struct store *st, struct cb_err *err)
{
	char *val = NULL;
	size_t len;
	int rc;

	rc = store_meta_get(st, M_DEVICE_ID, &val, &len, err);
	if (rc)
		goto fail;
	if (!cb_id_valid(val)) {
		free(val);
		rc = store_integrity(st, "the device id", err);
		goto fail;
	}
	memcpy(st->device_id, val, CB_ID_HEX_LEN + 1);
	free(val);
	rc = store_meta_get(st, M_SITE, &val, &len, err);
	if (rc)
		goto fail;
	if (val[0] && !cb_site_valid(val)) {
		free(val);
		rc = store_integrity(st, "the site code", err);
		goto fail;
	}
	snprintf(st->site, sizeof(st->site), "%s", val);
	free(val);
	rc = store_meta_get(st, M_DEVICE_INDEX, &val, &len, err);
	if (rc)
		goto fail;
	st->device_index = (int)strtol(val, NULL, 10);
	free(val);
	if (st->device_index < 1 || st->device_index > STORE_DEVICE_INDEX_MAX) {
		rc = store_integrity(st, "the device index", err);
		goto fail;
	}
	rc = store_meta_get(st, M_DEVICE_SK, &val, &len, err);
	if (rc)
		goto fail;
	rc = cb_sign_keypair_from_secret((unsigned char *)val, len, &st->dev,
					 err);
	cb_wipe_free(val, len);
	if (rc) {
		rc = store_integrity(st, "the device key", err);
		goto fail;
	}
	return 0;
fail:
	if (rc == CB_ENOTFOUND)
		rc = store_integrity(st, "a device setting (missing)", err);
	return rc;
}

int store_unlock(struct store *st, const char *pass, size_t pass_len,
		 struct cb_err *err)
{
	struct cb_key *key;
	int rc;

	if (st->key)
		return cb_err_set(err, CB_EINVAL, "store: already unlocked");
	rc = unwrap(st, pass, pass_len, &key, err);
	if (rc)
		return rc;
	st->key = key;
	rc = cb_keyed_hash_key(key, DOMAIN_SUBJECT, &st->subject_key, err);
	if (!rc)
		rc = cb_keyed_hash_key(key, DOMAIN_ROW, &st->row_key, err);
	if (!rc)
		rc = cb_keyed_hash_key(key, DOMAIN_QUERY, &st->query_key, err);
	if (!rc)
		rc = load_device(st, err);
	if (!rc && st->version == 1)
		rc = upgrade(st, err);
	if (!rc)
		rc = tally_load(st, err);
	if (rc) {
		cb_sign_keypair_release(&st->dev);
		cb_key_free(st->subject_key);
		cb_key_free(st->row_key);
		cb_key_free(st->query_key);
		cb_key_free(st->key);
		st->subject_key = st->row_key = st->query_key = st->key = NULL;
	}
	return rc;
}

int store_check_passphrase(struct store *st, const char *pass, size_t pass_len,
			   struct cb_err *err)
{
	struct cb_key *key;
	int rc, same;

	if (store_need_key(st, err))
		return err->code;
	rc = unwrap(st, pass, pass_len, &key, err);
	if (rc)
		return rc;
	same = cb_ct_equal(key->bytes, st->key->bytes, CB_KEY_BYTES);
	cb_key_free(key);
	if (!same)
		return store_integrity(st, "the keyslot (another key)", err);
	return 0;
}

/*
 * Every keyslot wraps the same data key, so the store is as hard to open
 * as its cheapest slot: name each user whose slot was wrapped at the
 * tests' Argon2id cost (CASEBOOK_KDF_FAST=1) while that switch is off.
 * Only a warning: the slots are read without their checksums here.
 */
static void warn_weak_slots(struct store *st)
{
	char names[256] = "";
	size_t used = 0;
	sqlite3_stmt *s;
	int n = 0;

	if (sqlite3_prepare_v2(
		st->db.db, "SELECT name, wrapped FROM keyslots ORDER BY ord",
		-1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *w = (const char *)sqlite3_column_text(s, 1);
		int k;

		if (!name || !w || !cb_key_wrap_below_default(w))
			continue;
		k = snprintf(names + used, sizeof(names) - used, "%s%s",
			     n ? ", " : "", name);
		if (k > 0 && (size_t)k < sizeof(names) - used)
			used += (size_t)k;
		n++;
	}
	sqlite3_finalize(s);
	if (n)
		fprintf(stderr,
			"casebook: warning: the passphrase of %s %s guards "
			"this store at a test-only cost (made with "
			"CASEBOOK_KDF_FAST=1); %s should run 'casebook "
			"passwd' to protect it properly\n",
			n == 1 ? "user" : "users", names,
			n == 1 ? "that user" : "each of them");
}

int store_open_cli_as(const struct cli_global *g, const char *need_role,
		      const char *what, struct store **out, struct cb_err *err)
{
	char home[STORE_PATH_MAX + 1], prompt[STORE_USER_MAX + 32];
	struct store *st = NULL;
	char *pass = NULL;
	size_t pass_len = 0;
	int rc;

	*out = NULL;
	rc = store_home(g, home, sizeof(home), err);
	if (!rc)
		rc = store_open(home, &st, err);
	if (!rc)
		rc = store_select_user(st, g->user, err);
	/* A role that may not act is told so before typing a passphrase. */
	if (!rc && need_role && strcmp(store_role(st), need_role))
		rc = cb_err_set(err, CB_EFORBIDDEN,
				"not authorized: %s needs the %s role; user "
				"'%s' is a %s (act as another user with "
				"--user NAME)",
				what ? what : "this command", need_role,
				store_user(st), store_role(st));
	if (!rc) {
		snprintf(prompt, sizeof(prompt),
			 "Passphrase for %s: ", store_user(st));
		rc = pass_get(g, prompt, &pass, &pass_len, err);
	}
	if (!rc)
		rc = store_unlock(st, pass, pass_len, err);
	pass_free(pass);
	if (rc) {
		store_close(st);
		return rc;
	}
	warn_weak_slots(st);
	*out = st;
	return 0;
}

int store_open_cli(const struct cli_global *g, struct store **out,
		   struct cb_err *err)
{
	return store_open_cli_as(g, NULL, NULL, out, err);
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
	cb_sign_keypair_release(&st->dev);
	if (st->protocol)
		cb_wipe_free(st->protocol, st->protocol_len + 1);
	free(st);
}

/* ---- Creating --------------------------------------------------------- */

static int insert_slot(struct store *st, const char *name, const char *role,
		       const char *pass, size_t pass_len, struct cb_err *err)
{
	char label[sizeof(SLOT_LABEL) + STORE_USER_MAX + ROLE_MAX + 2];
	unsigned char sum[CB_HASH_BYTES];
	char *wrapped = NULL;
	sqlite3_stmt *s;
	int rc;

	if (slot_label(name, role, label, sizeof(label)))
		return cb_err_set(err, CB_EINVAL, "user name too long");
	rc = cb_key_wrap(st->key, pass, pass_len, label, NULL, &wrapped, err);
	if (rc)
		return rc;
	slot_sum(name, role, wrapped, sum);
	s = stmt(st, Q_SLOT_INSERT, err);
	if (!s) {
		free(wrapped);
		return err->code;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, wrapped, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, sum, sizeof(sum), SQLITE_STATIC);
	rc = done(st, s, "saving a keyslot", err);
	free(wrapped);
	return rc;
}

/* Everything store_create writes, inside one transaction. */
static int fill_new(struct store *st, const struct store_create_params *p,
		    struct cb_err *err)
{
	char buf[CB_CLOCK_UTC_BUF];
	size_t i;
	int rc;

	rc = exec(st, schema1_sql, "creating the tables", err);
	if (!rc)
		rc = exec(st, schema2_events_sql, "creating the tables", err);
	if (!rc)
		rc = exec(st, store_rows_schema, "creating the tables", err);
	if (!rc)
		rc = store_meta_set(st, M_DEVICE_ID, st->device_id,
				    strlen(st->device_id), err);
	if (!rc)
		rc = store_meta_set(st, M_DEVICE_SK, st->dev.sk->bytes,
				    st->dev.sk->len, err);
	if (!rc)
		rc = store_meta_set(st, M_SITE, p->site, strlen(p->site), err);
	if (!rc) {
		snprintf(buf, sizeof(buf), "%d", p->device_index);
		rc = store_meta_set(st, M_DEVICE_INDEX, buf, strlen(buf), err);
	}
	if (!rc)
		rc = store_meta_set(st, M_PROTOCOL, p->protocol,
				    p->protocol_len, err);
	if (!rc) {
		cb_clock_format_utc(cb_clock_now_ms(), buf);
		rc = store_meta_set(st, M_CREATED_AT, buf, strlen(buf), err);
	}
	for (i = 0; !rc && p->settings && p->settings[i]; i += 2)
		rc = store_meta_set(st, p->settings[i], p->settings[i + 1],
				    strlen(p->settings[i + 1]), err);
	if (!rc)
		rc = insert_slot(st, p->user, p->role, p->pass, p->pass_len,
				 err);
	st->tally_dirty = 1; /* an empty tally, sealed with the rest */
	if (!rc)
		rc = exec(st,
			  "PRAGMA application_id = 1128418097;"
			  "PRAGMA user_version = 2;",
			  "writing the store header", err);
	return rc;
}

_Static_assert(STORE_APP_ID == 1128418097, "application_id in fill_new");
_Static_assert(STORE_SCHEMA_VERSION == 2, "user_version in fill_new");

int store_init_lock(const char *home, int *fd, struct cb_err *err)
{
	char path[STORE_PATH_MAX + 64], stale[STORE_PATH_MAX + 320];
	struct dirent *d;
	DIR *dir;
	int rc;

	*fd = -1;
	rc = make_dirs(home, err);
	if (rc)
		return rc;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", home,
			     STORE_INIT_LOCK) >= sizeof(path))
		return cb_err_set(err, CB_EINVAL,
				  "store directory path is too long");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", path,
				  strerror(errno));
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		close(*fd);
		*fd = -1;
		return cb_err_set(err, CB_EBUSY,
				  "another 'casebook init' is running in %s; "
				  "nothing was changed",
				  home);
	}
	/* With the lock held no init is making a store: what an earlier,
	 * interrupted one left half made goes. */
	dir = opendir(home);
	while (dir && (d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, STORE_DB_NAME ".new-",
			    strlen(STORE_DB_NAME ".new-")))
			continue;
		snprintf(stale, sizeof(stale), "%s/%s", home, d->d_name);
		unlink(stale);
	}
	if (dir)
		closedir(dir);
	return 0;
}

void store_init_unlock(const char *home, int fd)
{
	char path[STORE_PATH_MAX + 64];

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", home, STORE_INIT_LOCK);
	unlink(path);
	close(fd);
}

int store_create(const struct store_create_params *p, struct store **out,
		 struct cb_err *err)
{
	char path[STORE_PATH_MAX + 32], tmp[STORE_PATH_MAX + 64];
	char rnd[CB_ID_HEX_LEN + 1];
	struct store *st = NULL;
	struct stat sb;
	int rc, fd;

	*out = NULL;
	if (p->device_id ? !cb_role_known(p->role) : !cb_role_is_site(p->role))
		return cb_err_set(err, CB_EINVAL,
				  "bad role '%s': use coordinator or "
				  "investigator",
				  p->role ? p->role : "");
	if (!(p->device_id && !cb_role_is_site(p->role) && p->site &&
	      !p->site[0]) &&
	    !cb_site_valid(p->site))
		return cb_err_set(err, CB_EINVAL,
				  "bad site code '%s': use 2 to %d uppercase "
				  "letters and digits, starting with a letter",
				  p->site ? p->site : "", STORE_SITE_MAX);
	if (p->device_index < 1 || p->device_index > STORE_DEVICE_INDEX_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "bad device index %d: use 1 to %d",
				  p->device_index, STORE_DEVICE_INDEX_MAX);
	if (!cb_user_valid(p->user))
		return cb_err_set(err, CB_EINVAL,
				  "bad user name: use 1 to %d letters, digits "
				  "and . _ - @",
				  STORE_USER_MAX);
	if (!p->protocol || p->protocol_len > STORE_META_MAX)
		return cb_err_set(err, CB_EINVAL, "bad protocol");
	rc = make_dirs(p->home, err);
	if (!rc)
		rc = db_path(p->home, path, sizeof(path), err);
	if (rc)
		return rc;
	if (lstat(path, &sb) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "a casebook store already exists at %s; "
				  "nothing was changed",
				  path);
	if (cb_id_random(rnd))
		return cb_err_set(err, CB_EIO, "no randomness available");
	snprintf(tmp, sizeof(tmp), "%s.new-%.8s", path, rnd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", tmp,
				  strerror(errno));
	close(fd);

	rc = store_alloc(tmp, &st, err);
	if (!rc)
		rc = open_db(st, 1, err);
	if (!rc)
		rc = cb_key_random(CB_KEY_BYTES, &st->key, err);
	if (!rc && p->sign_secret)
		rc = cb_sign_keypair_from_secret(
		    p->sign_secret, CB_SIGN_SECRET_BYTES, &st->dev, err);
	else if (!rc)
		rc = cb_sign_keypair_new(&st->dev, err);
	if (!rc && p->device_id) {
		if (cb_id_valid(p->device_id))
			snprintf(st->device_id, sizeof(st->device_id), "%s",
				 p->device_id);
		else
			rc = cb_err_set(err, CB_EINVAL, "bad device id");
	} else if (!rc && cb_id_random(st->device_id)) {
		rc = cb_err_set(err, CB_EIO, "no randomness available");
	}
	if (!rc)
		rc = store_begin(st, err);
	if (!rc) {
		rc = fill_new(st, p, err);
		rc = store_finish_own(st, 1, rc, err);
	}
#ifdef CASEBOOK_TEST_HOOKS
	/* The store's tests stop here, as a kill would, to see the next
	 * init clean up. */
	if (!rc && getenv("CASEBOOK_TEST_HOOKS") &&
	    getenv("CASEBOOK_TEST_INIT_STOP") &&
	    !strcmp(getenv("CASEBOOK_TEST_INIT_STOP"), "create"))
		_exit(9);
#endif
	store_close(st);
	st = NULL;
	if (!rc && link(tmp, path) != 0) {
		if (errno == EEXIST)
			rc =
			    cb_err_set(err, CB_EEXIST,
				       "a casebook store already exists at %s; "
				       "nothing was changed",
				       path);
		else
			rc = cb_err_set(err, CB_EIO, "cannot create %s: %s",
					path, strerror(errno));
	}
	unlink(tmp);
	if (rc)
		return rc;
	fd = open(p->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}

	/* Reopen under the final name; the passphrase is known good. */
	rc = store_open(p->home, &st, err);
	if (!rc)
		rc = store_select_user(st, p->user, err);
	if (!rc)
		rc = store_unlock(st, p->pass, p->pass_len, err);
	if (rc) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* ---- Device ----------------------------------------------------------- */

const char *store_device_id(const struct store *st)
{
	return st->device_id;
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

	s = stmt(st, Q_SUBJECT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = row(st, s, "reading subjects", err);
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
	s = stmt(st, Q_SUBJECT_INSERT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = done(st, s, "saving a subject", err);
	free(sealed);
	if (rc)
		return rc;
	st->tally.subjects++;
	if (own_subject_seq(st, subject, &n) && n > st->tally.subject_seq)
		st->tally.subject_seq = n;
	st->tally_dirty = 1;
	return 0;
}

int store_mark_dirty(struct store *st,
		     const unsigned char hash[CB_KEYED_HASH_BYTES],
		     struct cb_err *err)
{
	sqlite3_stmt *s = stmt(st, Q_DIRTY_ADD, err);
	int rc;

	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = done(st, s, "marking a subject to derive", err);
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

	s = stmt(st, Q_EVENT_BY_ID, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = row(st, s, "reading events", err);
	sqlite3_reset(s);
	if (rc == 1)
		return cb_err_set(err, CB_EEXIST, "event %s is already stored",
				  id);
	if (rc)
		return rc;
	rc = store_write_point(st, err);
	if (!rc)
		rc = store_subject_hash(st, subject, hash, err);
	if (!rc)
		rc = remember_subject(st, subject, hash, err);
	if (!rc)
		rc = store_mark_dirty(st, hash, err);
	if (rc)
		return rc;
	s = stmt(st, Q_EVENT_MAX_SEQ, err);
	if (!s)
		return err->code;
	rc = row(st, s, "reading events", err);
	if (rc != 1) {
		sqlite3_reset(s);
		return rc ? rc
			  : store_fail(st, SQLITE_ERROR, "reading events", err);
	}
	seq = sqlite3_column_int64(s, 0) + 1;
	sqlite3_reset(s);
	rc = row_tag(st, seq, id, hash, flags, tag, err);
	if (rc)
		return rc;
	event_ad(ad, id, seq, hash);
	rc = store_seal(st, ad, json, len, &sealed, &sealed_len, err);
	if (rc)
		return rc;
	s = stmt(st, Q_EVENT_INSERT, err);
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
	rc = done(st, s, "saving an event", err);
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
		/* A statement of its own: fn may read other subjects. */
		rc = sqlite3_prepare_v2(
		    st->db.db, query_sql[Q_EVENTS_OF_SUBJECT], -1, &s, NULL);
		if (rc == SQLITE_OK)
			sqlite3_bind_blob(s, 1, want, sizeof(want),
					  SQLITE_STATIC);
	} else {
		rc = sqlite3_prepare_v2(
		    st->db.db, "SELECT " EVENT_COLS " FROM events ORDER BY seq",
		    -1, &s, NULL);
	}
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "reading events", err);
	while ((rc = row(st, s, "reading events", err)) == 1) {
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
	s = stmt(st, Q_EVENTS_QUEUED, err);
	if (!s)
		return err->code;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
	while ((rc = row(st, s, "reading events", err)) == 1) {
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
	while ((rc = row(st, s, "reading subjects", err)) == 1) {
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

	s = stmt(st, Q_EVENT_BY_ID, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = row(st, s, "reading events", err);
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

int store_event_flag(struct store *st, const char *id, int add,
		     unsigned char *subject, struct cb_err *err)
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
	now = flags | add;
	if (now == flags)
		return 0;
	rc = store_write_point(st, err);
	if (!rc)
		rc = row_tag(st, seq, id, hash, now, tag, err);
	if (rc)
		return rc;
	s = stmt(st, Q_EVENT_SET_FLAGS, err);
	if (!s)
		return err->code;
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int(s, 2, now);
	sqlite3_bind_blob(s, 3, tag, sizeof(tag), SQLITE_STATIC);
	rc = done(st, s, "marking an event", err);
	if (rc)
		return rc;
	st->tally.flag[flags]--;
	st->tally.flag[now]++;
	st->tally_dirty = 1;
	return 0;
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
			rc = tally_read(st, err);
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
	s = stmt(st, Q_EVENT_MAX_SEQ, err);
	if (!s)
		return err->code;
	rc = row(st, s, "reading events", err);
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
	while ((rc = row(st, s, "reading the keyslots", err)) == 1) {
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
	s = stmt(st, Q_SLOT_GET, err);
	if (!s)
		return store_finish_own(st, own, err->code, err);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = row(st, s, "reading the keyslots", err);
	sqlite3_reset(s);
	if (rc == 1)
		rc = cb_err_set(err, CB_EEXIST,
				"user '%s' already exists; nothing was changed",
				name);
	else if (!rc)
		rc = insert_slot(st, name, role, pass, pass_len, err);
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
	slot_label(st->user, st->role, label, sizeof(label));
	rc = cb_key_wrap(st->key, pass, pass_len, label, NULL, &wrapped, err);
	if (rc)
		return rc;
	slot_sum(st->user, st->role, wrapped, sum);
	rc = store_begin_own(st, &own, err);
	if (!rc) {
		s = stmt(st, Q_SLOT_UPDATE, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_text(s, 1, st->user, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, wrapped, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 3, sum, sizeof(sum),
					  SQLITE_STATIC);
			rc = done(st, s, "saving the keyslot", err);
			if (!rc && sqlite3_changes(st->db.db) != 1)
				rc = store_integrity(
				    st, "the keyslot (vanished)", err);
		}
		rc = store_finish_own(st, own, rc, err);
	}
	free(wrapped);
	return rc;
}

/* ---- Checking --------------------------------------------------------- */

/* A running digest: d = H(d || len || bytes). */
static void digest_add(unsigned char d[CB_HASH_BYTES], const void *p,
		       size_t len)
{
	unsigned char *buf = malloc(CB_HASH_BYTES + 8 + len);
	size_t i;

	if (!buf) {
		memset(d, 0, CB_HASH_BYTES);
		return;
	}
	memcpy(buf, d, CB_HASH_BYTES);
	for (i = 0; i < 8; i++)
		buf[CB_HASH_BYTES + i] =
		    (unsigned char)((uint64_t)len >> (8 * i));
	memcpy(buf + CB_HASH_BYTES + 8, p, len);
	cb_hash(buf, CB_HASH_BYTES + 8 + len, d);
	cb_wipe_free(buf, CB_HASH_BYTES + 8 + len);
}

struct check_ctx {
	struct store_check_report *rep;
	unsigned char d[CB_HASH_BYTES];
};

static void check_add(void *ctx, const void *p, size_t len)
{
	struct check_ctx *c = ctx;

	digest_add(c->d, p, len);
}

static int check_event(void *ctx, const struct store_event *ev)
{
	struct check_ctx *c = ctx;
	char head[64];

	/* As schema 1 wrote it: the flag of a quarantined event is in the
	 * quarantine rows, digested below. */
	snprintf(head, sizeof(head), "%lld:%s:%d", (long long)ev->seq, ev->id,
		 ev->synced);
	digest_add(c->d, head, strlen(head));
	digest_add(c->d, ev->json, ev->len);
	c->rep->events++;
	if (!ev->synced)
		c->rep->unsynced++;
	return 0;
}

static int check_subject(void *ctx, const char *subject)
{
	struct check_ctx *c = ctx;

	digest_add(c->d, subject, strlen(subject));
	c->rep->subjects++;
	return 0;
}

static int check_user(void *ctx, const char *name, const char *role)
{
	struct check_ctx *c = ctx;

	digest_add(c->d, name, strlen(name));
	digest_add(c->d, role, strlen(role));
	c->rep->users++;
	return 0;
}

int store_check(struct store *st, struct store_check_report *report,
		struct cb_err *err)
{
	struct check_ctx c;
	sqlite3_stmt *s;
	int rc, began = 0;

	memset(report, 0, sizeof(*report));
	memset(&c, 0, sizeof(c));
	c.rep = report;
	if (store_need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(st->db.db, "PRAGMA integrity_check", -1, &s,
				NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "checking the file", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(s, 0);

		if (!msg || strcmp(msg, "ok"))
			rc = cb_err_set(err, CB_EINTEGRITY,
					"integrity error: the store %s is "
					"damaged (%s); restore it from a "
					"backup",
					st->path, msg ? msg : "?");
		else
			rc = 0;
	} else {
		rc = store_fail(st, rc, "checking the file", err);
	}
	sqlite3_finalize(s);
	if (rc)
		return rc;
	/* The tally as committed now, against the tables, in one
	 * snapshot. */
	rc = store_read_begin(st, &began, err);
	if (rc)
		return rc;
	if (!st->in_tx)
		rc = tally_read(st, err);
	if (!rc)
		rc = tally_verify(st, err);
	if (!rc)
		rc = store_each_user(st, check_user, &c, err);
	if (!rc)
		rc = store_each_subject(st, check_subject, &c, err);
	if (!rc)
		rc = store_each_event(st, NULL, STORE_ITER_ALL, check_event, &c,
				      err);
	if (!rc)
		rc =
		    store_rows_check(st, check_add, &c, &report->quarantined,
				     &report->summaries, &report->queries, err);
	report->pending = st->tally.dirty;
	/* Settings: every key, decrypted. */
	if (!rc &&
	    sqlite3_prepare_v2(st->db.db, "SELECT key FROM meta ORDER BY key",
			       -1, &s, NULL) != SQLITE_OK)
		rc = store_fail(st, sqlite3_errcode(st->db.db),
				"reading settings", err);
	else if (!rc) {
		while ((rc = row(st, s, "reading settings", err)) == 1) {
			char key[META_KEY_MAX + 1], *val;
			size_t len;
			const char *k = (const char *)sqlite3_column_text(s, 0);

			if (!k || !meta_key_valid(k)) {
				rc = store_integrity(st, "a setting name", err);
				break;
			}
			snprintf(key, sizeof(key), "%s", k);
			rc = store_meta_get(st, key, &val, &len, err);
			if (rc)
				break;
			digest_add(c.d, key, strlen(key));
			digest_add(c.d, val, len);
			cb_wipe_free(val, len + 1);
			report->settings++;
		}
		sqlite3_finalize(s);
	}
	store_read_end(st, began);
	if (rc)
		return rc;
	store_hex32(c.d, report->digest);
	return 0;
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
