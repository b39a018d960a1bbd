/*
 * store.c - the encrypted local store (see store.h for what it holds and
 * why).
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
 *       `body` sealed with AD "events:ID:SEQ:SUBJECTHASHHEX"; `tag` is the
 *       keyed hash (domain "store.events.row") of seq, id, subject hash
 *       and synced, the one column that changes after insert.
 *
 * Readers scan the events table in seq order and verify every row's tag
 * before filtering on a plaintext column, so a damaged flag or subject
 * hash is reported rather than silently hiding an event. Bodies are only
 * read (and decrypted) for the rows a caller asked for.
 */
#include "store.h"
#include "clock.h"
#include "db.h"
#include "event.h"
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
#define META_KEY_MAX 64
/* "events:" + id + ":" + seq + ":" + hash hex, with room to spare. */
#define AD_MAX 192
#define ROLE_MAX 16

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

static const char schema_sql[] = "CREATE TABLE keyslots("
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

/* Single-step statements, prepared once per handle. */
enum {
	Q_SLOT_FIRST,
	Q_SLOT_GET,
	Q_SLOT_INSERT,
	Q_SLOT_UPDATE,
	Q_META_GET,
	Q_META_SET,
	Q_SUBJECT_GET,
	Q_SUBJECT_INSERT,
	Q_EVENT_BY_ID,
	Q_EVENT_MAX_SEQ,
	Q_EVENT_INSERT,
	Q_EVENT_SET_SYNCED,
	NQUERIES
};

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
    [Q_SUBJECT_GET] = "SELECT 1 FROM subjects WHERE hash = ?1",
    [Q_SUBJECT_INSERT] = "INSERT INTO subjects(hash, sealed) VALUES(?1, ?2)",
    [Q_EVENT_BY_ID] = "SELECT seq, subject, synced, tag FROM events"
		      " WHERE id = ?1",
    [Q_EVENT_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
    [Q_EVENT_INSERT] = "INSERT INTO events(seq, id, subject, synced, tag,"
		       " body) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_EVENT_SET_SYNCED] = "UPDATE events SET synced = 1, tag = ?2"
			   " WHERE seq = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *q[NQUERIES];
	char path[STORE_PATH_MAX + 64];
	int in_tx;
	/* selected user */
	char user[STORE_USER_MAX + 1];
	char role[ROLE_MAX];
	/* unlocked state */
	struct cb_key *key;
	struct cb_key *subject_key; /* keyed-hash subkeys of `key`, derived */
	struct cb_key *row_key;	    /* once at unlock */
	struct cb_sign_keypair dev;
	char device_id[CB_ID_HEX_LEN + 1];
	char site[STORE_SITE_MAX + 1];
	int device_index;
	char *protocol;
	size_t protocol_len;
	int readonly; /* opened read-only: every write is refused */
	/* The tally (M_TALLY): what the tables hold, sealed, so that rows
	 * removed or a setting put back are told at unlock. `tally` follows
	 * every write; `saved` is what the last commit left. */
	struct tally {
		int64_t events, max_seq, subjects;
		uint64_t clock;	  /* the device's hybrid logical clock */
		long subject_seq; /* the highest subject number it issued */
	} tally, saved;
	int tally_dirty;
	int tally_live; /* the tally was read at unlock: keep it current */
};

/* ---- Names and paths -------------------------------------------------- */

int store_is_central(const struct store *st)
{
	return st->site[0] == '\0';
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

/* ---- SQLite plumbing -------------------------------------------------- */

/* A write on a store opened read-only: say so, change nothing. */
static int refuse_readonly(struct store *st, struct cb_err *err)
{
	return cb_err_set(err, CB_EIO,
			  "the casebook store %s is read-only (a read-only "
			  "medium, or no permission to write it): it can be "
			  "read, but nothing can be saved; copy the store "
			  "directory to a writable place to work on it",
			  st->path);
}

/* Turn an SQLite result into a CB_E* code and a message. */
static int db_fail(struct store *st, int src, const char *what,
		   struct cb_err *err)
{
	const char *msg = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src);

	src = cb_db_os_cause(st->db, src);
	switch (src & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return cb_err_set(
		    err, CB_EBUSY,
		    "the casebook store is busy: another casebook "
		    "process is using it (%s); nothing was "
		    "changed, try again",
		    what);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the store %s is damaged "
				  "(%s, while %s); restore it from a backup",
				  st->path, msg, what);
	case SQLITE_FULL:
		return cb_err_set(err, CB_EIO,
				  "the disk is full (%s); nothing was changed",
				  what);
	case SQLITE_READONLY:
		return refuse_readonly(st, err);
	case SQLITE_ERROR:
		/* Every statement here is fixed text that the schema this
		 * module created answers; SQLite refusing one means the
		 * schema in the file is not that schema. */
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the store %s is damaged "
				  "or was changed outside casebook (%s, while "
				  "%s); restore it from a backup",
				  st->path, msg, what);
	default:
		return cb_err_set(err, CB_EIO, "store: %s: %s", what, msg);
	}
}

/* Step a scan: 1 for a row, 0 at the end, or the error of db_fail. */
static int next_row(struct store *st, sqlite3_stmt *s, struct cb_err *err)
{
	int src = sqlite3_step(s);

	if (src == SQLITE_ROW)
		return 1;
	if (src == SQLITE_DONE)
		return 0;
	return db_fail(st, src, "reading the store", err);
}

static int integrity(struct store *st, const char *what, struct cb_err *err)
{
	return cb_err_set(err, CB_EINTEGRITY,
			  "integrity error: %s in the store %s failed "
			  "authentication (the file is damaged or was "
			  "altered); restore it from a backup",
			  what, st->path);
}

/* The cached statement `which`, reset and unbound; NULL on error. */
static sqlite3_stmt *query(struct store *st, int which, struct cb_err *err)
{
	sqlite3_stmt *s = st->q[which];
	int rc;

	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return s;
	}
	rc = sqlite3_prepare_v3(st->db, query_sql[which], -1,
				SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		db_fail(st, rc, "preparing a query", err);
		return NULL;
	}
	st->q[which] = s;
	return s;
}

/* Run a statement expected to finish in one step (no rows). */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what,
		     struct cb_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, what, err);
	return 0;
}

static int exec(struct store *st, const char *sql, const char *what,
		struct cb_err *err)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(st, rc, what, err);
}

/* An integer-valued PRAGMA. */
static int pragma_int(struct store *st, const char *sql, long long *out,
		      struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading the store header", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, rc, "reading the store header", err);
	return 0;
}

static int set_pragmas(struct store *st, struct cb_err *err)
{
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
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

static int tally_save(struct store *st, struct cb_err *err);
static int tally_read(struct store *st, struct cb_err *err);

/*
 * Begin a transaction of our own when the caller has none open; *own says
 * whether we did, for finish_own.
 */
static int begin_own(struct store *st, int *own, struct cb_err *err)
{
	*own = 0;
	if (st->in_tx)
		return 0;
	if (store_begin(st, err))
		return err->code;
	*own = 1;
	return 0;
}

static int finish_own(struct store *st, int own, int rc, struct cb_err *err)
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
		return refuse_readonly(st, err);
	rc = exec(st, "BEGIN IMMEDIATE", "starting a write", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	/* Another process may have written since this one read the tally:
	 * count on from what is committed now. */
	if (st->tally_live) {
		rc = tally_read(st, err);
		if (rc == CB_ENOTFOUND) { /* being made (tally_build) */
			cb_err_clear(err);
			rc = 0;
		}
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

void store_rollback(struct store *st)
{
	if (!st || !st->in_tx)
		return;
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	st->in_tx = 0;
	st->tally = st->saved;
	st->tally_dirty = 0;
}

/* ---- Crypto helpers --------------------------------------------------- */

static void hex32(const unsigned char h[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 15];
	}
	out[64] = '\0';
}

static int subject_hash(const struct store *st, const char *subject,
			unsigned char out[CB_KEYED_HASH_BYTES],
			struct cb_err *err)
{
	return cb_keyed_hash_with(st->subject_key, subject, strlen(subject),
				  out, err);
}

static int row_tag(const struct store *st, int64_t seq, const char *id,
		   const unsigned char *subject, int synced,
		   unsigned char out[CB_KEYED_HASH_BYTES], struct cb_err *err)
{
	unsigned char buf[8 + CB_ID_HEX_LEN + CB_KEYED_HASH_BYTES + 1];
	int i;

	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
	memcpy(buf + 8, id, CB_ID_HEX_LEN);
	memcpy(buf + 8 + CB_ID_HEX_LEN, subject, CB_KEYED_HASH_BYTES);
	buf[sizeof(buf) - 1] = synced ? 1 : 0;
	return cb_keyed_hash_with(st->row_key, buf, sizeof(buf), out, err);
}

static void event_ad(char out[AD_MAX], const char *id, int64_t seq,
		     const unsigned char *subject)
{
	char hex[65];

	hex32(subject, hex);
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

static int need_key(const struct store *st, struct cb_err *err)
{
	if (!st->key)
		return cb_err_set(err, CB_EINVAL, "store: not unlocked");
	return 0;
}

int store_meta_get(struct store *st, const char *key, char **val, size_t *len,
		   struct cb_err *err)
{
	char ad[AD_MAX];
	unsigned char *plain = NULL;
	size_t plain_len = 0;
	sqlite3_stmt *s;
	int rc;

	*val = NULL;
	*len = 0;
	if (need_key(st, err))
		return err->code;
	if (!meta_key_valid(key))
		return cb_err_set(err, CB_EINVAL, "store: bad setting name");
	s = query(st, Q_META_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return cb_err_set(err, CB_ENOTFOUND, "setting %s is not set",
				  key);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, rc, "reading a setting", err);
	}
	snprintf(ad, sizeof(ad), "meta:%s", key);
	rc = cb_open_value(st->key, ad, strlen(ad), sqlite3_column_blob(s, 0),
			   (size_t)sqlite3_column_bytes(s, 0), &plain,
			   &plain_len, err);
	sqlite3_reset(s);
	if (rc) {
		char what[META_KEY_MAX + 16];

		snprintf(what, sizeof(what), "setting %s", key);
		return rc == CB_EINTEGRITY ? integrity(st, what, err) : rc;
	}
	*val = (char *)plain;
	*len = plain_len;
	return 0;
}

int store_meta_set(struct store *st, const char *key, const void *val,
		   size_t len, struct cb_err *err)
{
	char ad[AD_MAX];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	sqlite3_stmt *s;
	int rc, own;

	if (need_key(st, err))
		return err->code;
	if (!meta_key_valid(key))
		return cb_err_set(err, CB_EINVAL, "store: bad setting name");
	if (len > STORE_META_MAX)
		return cb_err_set(
		    err, CB_ETOOBIG,
		    "setting %s: %zu bytes is over the %u byte cap", key, len,
		    STORE_META_MAX);
	snprintf(ad, sizeof(ad), "meta:%s", key);
	rc = cb_seal_value(st->key, ad, strlen(ad), val, len, &sealed,
			   &sealed_len, err);
	if (rc)
		return rc;
	rc = begin_own(st, &own, err);
	if (!rc) {
		s = query(st, Q_META_SET, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 2, sealed, (int)sealed_len,
					  SQLITE_STATIC);
			rc = step_done(st, s, "saving a setting", err);
		}
		rc = finish_own(st, own, rc, err);
	}
	free(sealed);
	return rc;
}

/* ---- The tally ---------------------------------------------------------- */

/*
 * Every row of the events and subjects tables is sealed, so a row cannot
 * be altered or moved unnoticed; but a row can be deleted, and a sealed
 * setting can be put back to an older copy of itself. The tally closes
 * both: the counts of events and subjects and the highest sequence
 * number, with the device's clock and subject counter, in one sealed
 * setting written in the same transaction as every change to them, and
 * checked against the tables at unlock and by store_check. Deleting a
 * row changes a count; putting the tally back to an older copy leaves
 * counts that no longer match the tables (the clock and the counter only
 * move when an event is stored). What it cannot tell is a whole store put
 * back to an older copy, which is a restore from a backup: that is what
 * store_next_subject_seq's check of every held subject id is for.
 */

static void tally_text(const struct tally *t, char *out, size_t cap)
{
	snprintf(out, cap,
		 "events=%lld max_seq=%lld subjects=%lld clock=%016llx "
		 "subject_seq=%ld",
		 (long long)t->events, (long long)t->max_seq,
		 (long long)t->subjects, (unsigned long long)t->clock,
		 t->subject_seq);
}

static int tally_parse(const char *text, struct tally *t)
{
	long long e, m, n;
	unsigned long long c;
	long q;
	int used = 0;

	if (sscanf(text,
		   "events=%lld max_seq=%lld subjects=%lld clock=%16llx "
		   "subject_seq=%ld%n",
		   &e, &m, &n, &c, &q, &used) != 5 ||
	    (size_t)used != strlen(text) || e < 0 || m < 0 || n < 0 || q < 0 ||
	    q > STORE_SUBJECT_SEQ_MAX)
		return -1;
	t->events = e;
	t->max_seq = m;
	t->subjects = n;
	t->clock = c;
	t->subject_seq = q;
	return 0;
}

static int tally_save(struct store *st, struct cb_err *err)
{
	char text[200];

	tally_text(&st->tally, text, sizeof(text));
	return store_meta_set(st, M_TALLY, text, strlen(text), err);
}

/* What the tables hold: the counts and the highest sequence number. */
static int table_counts(struct store *st, struct tally *t, struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
				"SELECT (SELECT count(*) FROM events),"
				" (SELECT coalesce(max(seq), 0) FROM events),"
				" (SELECT count(*) FROM subjects)",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "counting the store's rows", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		t->events = sqlite3_column_int64(s, 0);
		t->max_seq = sqlite3_column_int64(s, 1);
		t->subjects = sqlite3_column_int64(s, 2);
		rc = 0;
	} else {
		rc = db_fail(st, rc, "counting the store's rows", err);
	}
	sqlite3_finalize(s);
	return rc;
}

/* The tables hold what the tally says, or CB_EINTEGRITY saying what not. */
static int tally_verify(struct store *st, struct cb_err *err)
{
	struct tally t;
	int rc;

	rc = table_counts(st, &t, err);
	if (rc)
		return rc;
	if (t.events == st->tally.events && t.max_seq == st->tally.max_seq &&
	    t.subjects == st->tally.subjects)
		return 0;
	return cb_err_set(
	    err, CB_EINTEGRITY,
	    "integrity error: the store %s holds %lld events (up to number "
	    "%lld) and %lld subjects, but its sealed tally says %lld events "
	    "(up to %lld) and %lld subjects: rows were removed or a setting "
	    "was put back outside casebook; restore it from a backup and "
	    "sync",
	    st->path, (long long)t.events, (long long)t.max_seq,
	    (long long)t.subjects, (long long)st->tally.events,
	    (long long)st->tally.max_seq, (long long)st->tally.subjects);
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
 * A store made before the tally: count the tables once, take the clock
 * and counter from their old settings (the counter past every subject
 * of this device the store holds), and seal it (unless read-only).
 */
static int tally_build(struct store *st, struct cb_err *err)
{
	struct seq_scan q = {st, 0};
	unsigned long long clock = 0, seq = 0;
	int rc, own = 0;

	if (!st->readonly) {
		rc = begin_own(st, &own, err);
		if (rc)
			return rc;
	}
	memset(&st->tally, 0, sizeof(st->tally));
	rc = table_counts(st, &st->tally, err);
	if (!rc)
		rc = old_setting(st, M_OLD_CLOCK, 1, &clock, err);
	if (!rc)
		rc = old_setting(st, M_SUBJECT_SEQ, 0, &seq, err);
	if (!rc)
		rc = store_each_subject(st, seq_one, &q, err);
	if (!rc) {
		st->tally.clock = clock;
		st->tally.subject_seq = (long)seq > q.max ? (long)seq : q.max;
		if (st->tally.subject_seq > STORE_SUBJECT_SEQ_MAX)
			st->tally.subject_seq = STORE_SUBJECT_SEQ_MAX;
		st->tally_dirty = !st->readonly;
	}
	if (!st->readonly)
		rc = finish_own(st, own, rc, err);
	if (!rc) {
		st->saved = st->tally;
		st->tally_live = 1;
	}
	return rc;
}

/*
 * Read the sealed tally into st->tally (and st->saved): 0, CB_ENOTFOUND
 * for a store made before it, CB_EINTEGRITY.
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
		return integrity(st, "the tally", err);
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
	if (!rc)
		rc = tally_verify(st, err);
	/* Only read: when ending it fails, dropping it loses nothing, and a
	 * transaction left open would refuse every later write. */
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (!rc)
		st->tally_live = 1;
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return tally_build(st, err);
	}
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
static int subject_hash(const struct store *st, const char *subject,
			unsigned char out[CB_KEYED_HASH_BYTES],
			struct cb_err *err);

int store_next_subject_seq(struct store *st, unsigned *seq, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES];
	char id[CB_SUBJECT_ID_MAX + 1];
	long n;
	int rc, own;

	*seq = 0;
	if (need_key(st, err))
		return err->code;
	if (!st->site[0])
		return cb_err_set(err, CB_EFORBIDDEN,
				  "subjects are created at a site");
	rc = begin_own(st, &own, err);
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
			rc = subject_hash(st, id, hash, err);
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
	return finish_own(st, own, rc, err);
}

/* ---- Opening, unlocking, closing -------------------------------------- */

static int store_alloc(const char *path, struct store **out, struct cb_err *err)
{
	struct store *st = calloc(1, sizeof(*st));

	*out = NULL;
	if (!st)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	snprintf(st->path, sizeof(st->path), "%s", path);
	*out = st;
	return 0;
}

/* Open `path` (which must exist) and check it is a Casebook store. */
static int open_readonly(struct store *st, struct cb_err *err);
static int check_header(struct store *st, struct cb_err *err);

static int open_db(struct store *st, int fresh, struct cb_err *err)
{
	int rc;

	if (st->readonly)
		return open_readonly(st, err);
	rc = sqlite3_open_v2(st->path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "opening", err);
	sqlite3_extended_result_codes(st->db, 1);
	rc = set_pragmas(st, err);
	if (rc)
		return rc;
	if (fresh)
		return 0;
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
	long long app;
	int rc;

	rc = sqlite3_open_v2(st->path, &st->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(st->db, 1);
		rc = set_pragmas(st, err);
		if (!rc)
			rc = pragma_int(st, "PRAGMA application_id", &app, err);
		if (!rc)
			return check_header(st, err);
	}
	sqlite3_close(st->db);
	st->db = NULL;
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
	rc = sqlite3_open_v2(
	    uri, &st->db,
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "opening", err);
	sqlite3_extended_result_codes(st->db, 1);
	rc = set_pragmas(st, err);
	if (rc)
		return rc;
	return check_header(st, err);
}

/* The file is a Casebook store of this schema version. */
static int check_header(struct store *st, struct cb_err *err)
{
	long long app = 0, version = 0;
	int rc;

	rc = pragma_int(st, "PRAGMA application_id", &app, err);
	if (!rc)
		rc = pragma_int(st, "PRAGMA user_version", &version, err);
	if (rc)
		return rc;
	if (app != STORE_APP_ID)
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s is not a casebook store "
				  "(or its header is damaged)",
				  st->path);
	if (version != STORE_SCHEMA_VERSION)
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s says it is store "
				  "version %lld, but this casebook reads "
				  "version %d: the file is damaged or was "
				  "made by another casebook version",
				  st->path, (long long)version,
				  STORE_SCHEMA_VERSION);
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
	s = query(st, Q_SLOT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return cb_err_set(err, CB_EAUTH,
				  "no user '%s' in this casebook store", name);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, rc, "reading the keyslots", err);
	}
	n = (const char *)sqlite3_column_text(s, 0);
	r = (const char *)sqlite3_column_text(s, 1);
	w = (const char *)sqlite3_column_text(s, 2);
	stored = sqlite3_column_blob(s, 3);
	if (!n || !r || !w || !stored ||
	    sqlite3_column_bytes(s, 3) != CB_HASH_BYTES) {
		sqlite3_reset(s);
		return integrity(st, "a keyslot", err);
	}
	slot_sum(n, r, w, sum);
	if (!cb_ct_equal(sum, stored, CB_HASH_BYTES) || strcmp(n, name) ||
	    !cb_role_known(r)) {
		sqlite3_reset(s);
		return integrity(st, "the keyslot", err);
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
	s = query(st, Q_SLOT_FIRST, err);
	if (!s)
		return err->code;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		if (rc == SQLITE_DONE)
			return integrity(st, "the keyslots (none left)", err);
		return db_fail(st, rc, "reading the keyslots", err);
	}
	snprintf(first, sizeof(first), "%s",
		 (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	return read_slot(st, first, NULL, err);
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
		return integrity(st, "the keyslot", err);
	if (!rc && (*key)->len != CB_KEY_BYTES) {
		cb_key_free(*key);
		*key = NULL;
		return integrity(st, "the keyslot", err);
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
		rc = integrity(st, "the device id", err);
		goto fail;
	}
	memcpy(st->device_id, val, CB_ID_HEX_LEN + 1);
	free(val);
	rc = store_meta_get(st, M_SITE, &val, &len, err);
	if (rc)
		goto fail;
	if (val[0] && !cb_site_valid(val)) {
		free(val);
		rc = integrity(st, "the site code", err);
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
		rc = integrity(st, "the device index", err);
		goto fail;
	}
	rc = store_meta_get(st, M_DEVICE_SK, &val, &len, err);
	if (rc)
		goto fail;
	rc = cb_sign_keypair_from_secret((unsigned char *)val, len, &st->dev,
					 err);
	cb_wipe_free(val, len);
	if (rc) {
		rc = integrity(st, "the device key", err);
		goto fail;
	}
	return 0;
fail:
	if (rc == CB_ENOTFOUND)
		rc = integrity(st, "a device setting (missing)", err);
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
		rc = load_device(st, err);
	if (!rc)
		rc = tally_load(st, err);
	if (rc) {
		cb_sign_keypair_release(&st->dev);
		cb_key_free(st->subject_key);
		cb_key_free(st->row_key);
		cb_key_free(st->key);
		st->subject_key = st->row_key = st->key = NULL;
	}
	return rc;
}

int store_check_passphrase(struct store *st, const char *pass, size_t pass_len,
			   struct cb_err *err)
{
	struct cb_key *key;
	int rc, same;

	if (need_key(st, err))
		return err->code;
	rc = unwrap(st, pass, pass_len, &key, err);
	if (rc)
		return rc;
	same = cb_ct_equal(key->bytes, st->key->bytes, CB_KEY_BYTES);
	cb_key_free(key);
	if (!same)
		return integrity(st, "the keyslot (another key)", err);
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
		st->db, "SELECT name, wrapped FROM keyslots ORDER BY ord", -1,
		&s, NULL) != SQLITE_OK)
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
	size_t i;

	if (!st)
		return;
	if (st->db) {
		store_rollback(st);
		for (i = 0; i < NQUERIES; i++)
			sqlite3_finalize(st->q[i]);
		sqlite3_close(st->db);
	}
	cb_key_free(st->key);
	cb_key_free(st->subject_key);
	cb_key_free(st->row_key);
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
	s = query(st, Q_SLOT_INSERT, err);
	if (!s) {
		free(wrapped);
		return err->code;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, wrapped, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, sum, sizeof(sum), SQLITE_STATIC);
	rc = step_done(st, s, "saving a keyslot", err);
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

	rc = exec(st, schema_sql, "creating the tables", err);
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
			  "PRAGMA user_version = 1;",
			  "writing the store header", err);
	return rc;
}

_Static_assert(STORE_APP_ID == 1128418097, "application_id in fill_new");
_Static_assert(STORE_SCHEMA_VERSION == 1, "user_version in fill_new");

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
		rc = finish_own(st, 1, rc, err);
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
	if (need_key(st, err))
		return err->code;
	return cb_sign(st->dev.sk, msg, len, sig, err);
}

int store_sign_event(const struct store *st, struct cb_event *ev,
		     struct cb_err *err)
{
	if (need_key(st, err))
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
			return integrity(st, "the protocol (missing)", err);
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

	s = query(st, Q_SUBJECT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, "reading subjects", err);
	return 0;
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
	hex32(hash, hex);
	snprintf(ad, sizeof(ad), "subjects:%s", hex);
	rc = cb_seal_value(st->key, ad, strlen(ad), subject, strlen(subject),
			   &sealed, &sealed_len, err);
	if (rc)
		return rc;
	s = query(st, Q_SUBJECT_INSERT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_blob(s, 1, hash, CB_KEYED_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = step_done(st, s, "saving a subject", err);
	free(sealed);
	if (rc)
		return rc;
	st->tally.subjects++;
	if (own_subject_seq(st, subject, &n) && n > st->tally.subject_seq)
		st->tally.subject_seq = n;
	st->tally_dirty = 1;
	return 0;
}

static int insert_event(struct store *st, const char *id, const char *subject,
			const char *json, size_t len, int synced,
			int64_t *seq_out, struct cb_err *err)
{
	unsigned char hash[CB_KEYED_HASH_BYTES], tag[CB_KEYED_HASH_BYTES];
	unsigned char *sealed = NULL;
	size_t sealed_len;
	char ad[AD_MAX];
	sqlite3_stmt *s;
	int64_t seq;
	int rc;

	s = query(st, Q_EVENT_BY_ID, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return cb_err_set(err, CB_EEXIST, "event %s is already stored",
				  id);
	if (rc != SQLITE_DONE)
		return db_fail(st, rc, "reading events", err);
	rc = subject_hash(st, subject, hash, err);
	if (!rc)
		rc = remember_subject(st, subject, hash, err);
	if (rc)
		return rc;
	s = query(st, Q_EVENT_MAX_SEQ, err);
	if (!s)
		return err->code;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, rc, "reading events", err);
	}
	seq = sqlite3_column_int64(s, 0) + 1;
	sqlite3_reset(s);
	rc = row_tag(st, seq, id, hash, synced, tag, err);
	if (rc)
		return rc;
	event_ad(ad, id, seq, hash);
	rc = cb_seal_value(st->key, ad, strlen(ad), json, len, &sealed,
			   &sealed_len, err);
	if (rc)
		return rc;
	s = query(st, Q_EVENT_INSERT, err);
	if (!s) {
		free(sealed);
		return err->code;
	}
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_int(s, 4, synced);
	sqlite3_bind_blob(s, 5, tag, sizeof(tag), SQLITE_STATIC);
	sqlite3_bind_blob(s, 6, sealed, (int)sealed_len, SQLITE_STATIC);
	rc = step_done(st, s, "saving an event", err);
	free(sealed);
	if (rc)
		return rc;
	st->tally.events++;
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
	if (need_key(st, err))
		return err->code;
	if (!cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL, "store: bad event id");
	if (!subject || strlen(subject) > CB_EVENT_NAME_MAX)
		return cb_err_set(err, CB_EINVAL, "store: bad subject id");
	if (!json || len > CB_VALUE_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "event of %zu bytes is over the %u byte cap",
				  len, CB_VALUE_MAX);
	rc = begin_own(st, &own, err);
	if (rc)
		return rc;
	rc = insert_event(st, id, subject, json, len,
			  (flags & STORE_EVENT_SYNCED) ? 1 : 0, seq, err);
	return finish_own(st, own, rc, err);
}

/* One row of a scan, with its tag verified. */
struct scan_row {
	int64_t seq;
	const char *id;
	const unsigned char *subject;
	int synced;
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
	r->synced = sqlite3_column_int(s, 3);
	stored = sqlite3_column_blob(s, 4);
	if (!cb_id_valid(r->id) || !r->subject ||
	    sqlite3_column_bytes(s, 2) != CB_KEYED_HASH_BYTES ||
	    (r->synced != 0 && r->synced != 1) || !stored ||
	    sqlite3_column_bytes(s, 4) != CB_KEYED_HASH_BYTES)
		return integrity(st, "an event row", err);
	rc = row_tag(st, r->seq, r->id, r->subject, r->synced, tag, err);
	if (rc)
		return rc;
	if (!cb_ct_equal(tag, stored, CB_KEYED_HASH_BYTES))
		return integrity(st, "an event row", err);
	return 0;
}

int store_each_event(struct store *st, const char *subject, unsigned which,
		     store_event_fn fn, void *ctx, struct cb_err *err)
{
	unsigned char want[CB_KEYED_HASH_BYTES];
	struct scan_row r;
	sqlite3_stmt *s;
	int rc;

	if (need_key(st, err))
		return err->code;
	if (subject) {
		rc = subject_hash(st, subject, want, err);
		if (rc)
			return rc;
	}
	rc = sqlite3_prepare_v2(st->db,
				"SELECT seq, id, subject, synced, tag, body"
				" FROM events ORDER BY seq",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading events", err);
	while ((rc = next_row(st, s, err)) == 1) {
		struct store_event ev;
		unsigned char *plain;
		size_t plain_len;
		char ad[AD_MAX];

		rc = scan_verify(st, s, &r, err);
		if (rc)
			break;
		if (subject &&
		    !cb_ct_equal(r.subject, want, CB_KEYED_HASH_BYTES))
			continue;
		if ((which & STORE_ITER_UNSYNCED) && r.synced)
			continue;
		event_ad(ad, r.id, r.seq, r.subject);
		rc = cb_open_value(st->key, ad, strlen(ad),
				   sqlite3_column_blob(s, 5),
				   (size_t)sqlite3_column_bytes(s, 5), &plain,
				   &plain_len, err);
		if (rc) {
			if (rc == CB_EINTEGRITY)
				rc = integrity(st, "an event", err);
			break;
		}
		ev.seq = r.seq;
		ev.id = r.id;
		ev.synced = r.synced;
		ev.json = (const char *)plain;
		ev.len = plain_len;
		rc = fn(ctx, &ev);
		cb_wipe_free(plain, plain_len + 1);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_each_subject(struct store *st, store_subject_fn fn, void *ctx,
		       struct cb_err *err)
{
	unsigned char check[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int rc;

	if (need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(
	    st->db, "SELECT hash, sealed FROM subjects ORDER BY ord", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading subjects", err);
	while ((rc = next_row(st, s, err)) == 1) {
		const unsigned char *hash = sqlite3_column_blob(s, 0);
		unsigned char *plain;
		size_t plain_len;
		char ad[AD_MAX], hex[65];

		if (!hash ||
		    sqlite3_column_bytes(s, 0) != CB_KEYED_HASH_BYTES) {
			rc = integrity(st, "a subject", err);
			break;
		}
		hex32(hash, hex);
		snprintf(ad, sizeof(ad), "subjects:%s", hex);
		rc = cb_open_value(st->key, ad, strlen(ad),
				   sqlite3_column_blob(s, 1),
				   (size_t)sqlite3_column_bytes(s, 1), &plain,
				   &plain_len, err);
		if (rc) {
			if (rc == CB_EINTEGRITY)
				rc = integrity(st, "a subject", err);
			break;
		}
		rc = subject_hash(st, (char *)plain, check, err);
		if (!rc && !cb_ct_equal(check, hash, CB_KEYED_HASH_BYTES))
			rc = integrity(st, "a subject", err);
		if (!rc)
			rc = fn(ctx, (char *)plain);
		cb_wipe_free(plain, plain_len + 1);
		if (rc)
			break;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_mark_synced(struct store *st, const char *id, struct cb_err *err)
{
	unsigned char tag[CB_KEYED_HASH_BYTES], subject[CB_KEYED_HASH_BYTES];
	sqlite3_stmt *s;
	int64_t seq;
	int rc, own, synced;

	if (need_key(st, err))
		return err->code;
	if (!cb_id_valid(id))
		return cb_err_set(err, CB_EINVAL, "store: bad event id");
	rc = begin_own(st, &own, err);
	if (rc)
		return rc;
	s = query(st, Q_EVENT_BY_ID, err);
	if (!s)
		return finish_own(st, own, err->code, err);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return finish_own(st, own,
				  cb_err_set(err, CB_ENOTFOUND,
					     "no event %s in the store", id),
				  err);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return finish_own(st, own,
				  db_fail(st, rc, "reading events", err), err);
	}
	seq = sqlite3_column_int64(s, 0);
	synced = sqlite3_column_int(s, 2);
	if (sqlite3_column_bytes(s, 1) != CB_KEYED_HASH_BYTES ||
	    sqlite3_column_bytes(s, 3) != CB_KEYED_HASH_BYTES ||
	    (synced != 0 && synced != 1)) {
		sqlite3_reset(s);
		return finish_own(st, own, integrity(st, "an event row", err),
				  err);
	}
	memcpy(subject, sqlite3_column_blob(s, 1), CB_KEYED_HASH_BYTES);
	memcpy(tag, sqlite3_column_blob(s, 3), CB_KEYED_HASH_BYTES);
	sqlite3_reset(s);
	{
		unsigned char want[CB_KEYED_HASH_BYTES];

		rc = row_tag(st, seq, id, subject, synced, want, err);
		if (!rc && !cb_ct_equal(want, tag, CB_KEYED_HASH_BYTES))
			rc = integrity(st, "an event row", err);
	}
	if (!rc && synced)
		return finish_own(st, own, 0, err);
	if (!rc)
		rc = row_tag(st, seq, id, subject, 1, tag, err);
	if (!rc) {
		s = query(st, Q_EVENT_SET_SYNCED, err);
		if (!s)
			rc = err->code;
	}
	if (!rc) {
		sqlite3_bind_int64(s, 1, seq);
		sqlite3_bind_blob(s, 2, tag, sizeof(tag), SQLITE_STATIC);
		rc = step_done(st, s, "marking an event synced", err);
	}
	return finish_own(st, own, rc, err);
}

int store_count_events(struct store *st, int64_t *total, int64_t *unsynced,
		       struct cb_err *err)
{
	struct scan_row r;
	sqlite3_stmt *s;
	int rc;

	*total = *unsynced = 0;
	if (need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(st->db,
				"SELECT seq, id, subject, synced, tag"
				" FROM events ORDER BY seq",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading events", err);
	while ((rc = next_row(st, s, err)) == 1) {
		rc = scan_verify(st, s, &r, err);
		if (rc)
			break;
		(*total)++;
		if (!r.synced)
			(*unsynced)++;
	}
	sqlite3_finalize(s);
	return rc;
}

int store_last_seq(struct store *st, int64_t *seq, struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	*seq = 0;
	if (need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(
	    st->db, "SELECT coalesce(max(seq), 0) FROM events", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading events", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*seq = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = db_fail(st, rc, "reading events", err);
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- Users ------------------------------------------------------------ */

int store_each_user(struct store *st, store_user_fn fn, void *ctx,
		    struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
				"SELECT name, role FROM keyslots ORDER BY ord",
				-1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading the keyslots", err);
	while ((rc = next_row(st, s, err)) == 1) {
		const char *n = (const char *)sqlite3_column_text(s, 0);
		const char *r = (const char *)sqlite3_column_text(s, 1);

		if (!n || !r) {
			rc = integrity(st, "a keyslot", err);
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

	if (need_key(st, err))
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
	rc = begin_own(st, &own, err);
	if (rc)
		return rc;
	s = query(st, Q_SLOT_GET, err);
	if (!s)
		return finish_own(st, own, err->code, err);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		rc = cb_err_set(err, CB_EEXIST,
				"user '%s' already exists; nothing was changed",
				name);
	else if (rc != SQLITE_DONE)
		rc = db_fail(st, rc, "reading the keyslots", err);
	else
		rc = insert_slot(st, name, role, pass, pass_len, err);
	return finish_own(st, own, rc, err);
}

int store_change_passphrase(struct store *st, const char *pass, size_t pass_len,
			    struct cb_err *err)
{
	char label[sizeof(SLOT_LABEL) + STORE_USER_MAX + ROLE_MAX + 2];
	unsigned char sum[CB_HASH_BYTES];
	char *wrapped = NULL;
	sqlite3_stmt *s;
	int rc, own;

	if (need_key(st, err))
		return err->code;
	slot_label(st->user, st->role, label, sizeof(label));
	rc = cb_key_wrap(st->key, pass, pass_len, label, NULL, &wrapped, err);
	if (rc)
		return rc;
	slot_sum(st->user, st->role, wrapped, sum);
	rc = begin_own(st, &own, err);
	if (!rc) {
		s = query(st, Q_SLOT_UPDATE, err);
		if (!s) {
			rc = err->code;
		} else {
			sqlite3_bind_text(s, 1, st->user, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, wrapped, -1, SQLITE_STATIC);
			sqlite3_bind_blob(s, 3, sum, sizeof(sum),
					  SQLITE_STATIC);
			rc = step_done(st, s, "saving the keyslot", err);
			if (!rc && sqlite3_changes(st->db) != 1)
				rc = integrity(st, "the keyslot (vanished)",
					       err);
		}
		rc = finish_own(st, own, rc, err);
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

static int check_event(void *ctx, const struct store_event *ev)
{
	struct check_ctx *c = ctx;
	char head[64];

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
	int rc;

	memset(report, 0, sizeof(*report));
	memset(&c, 0, sizeof(c));
	c.rep = report;
	if (need_key(st, err))
		return err->code;
	rc = sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "checking the file", err);
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
		rc = db_fail(st, rc, "checking the file", err);
	}
	sqlite3_finalize(s);
	if (rc)
		return rc;
	rc = tally_verify(st, err);
	if (!rc)
		rc = store_each_user(st, check_user, &c, err);
	if (!rc)
		rc = store_each_subject(st, check_subject, &c, err);
	if (!rc)
		rc = store_each_event(st, NULL, STORE_ITER_ALL, check_event, &c,
				      err);
	if (rc)
		return rc;
	/* Settings: every key, decrypted. */
	rc = sqlite3_prepare_v2(st->db, "SELECT key FROM meta ORDER BY key", -1,
				&s, NULL);
	if (rc != SQLITE_OK)
		return db_fail(st, rc, "reading settings", err);
	while ((rc = next_row(st, s, err)) == 1) {
		char key[META_KEY_MAX + 1], *val;
		size_t len;
		const char *k = (const char *)sqlite3_column_text(s, 0);

		if (!k || !meta_key_valid(k)) {
			rc = integrity(st, "a setting name", err);
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
	if (rc)
		return rc;
	hex32(c.d, report->digest);
	return 0;
}

#ifdef CASEBOOK_TEST_HOOKS
int store_test_secrets(const struct store *st, char *out, size_t cap,
		       struct cb_err *err)
{
	int rc;

	if (need_key(st, err))
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
