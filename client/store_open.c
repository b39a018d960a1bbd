/*
 * store_open.c - the top of the laptop store's layer: opening a store
 * (read-only where it cannot be written), choosing the user and
 * unlocking it, upgrading a store of schema 1 or 2, creating one, and
 * checking a whole store (see store.h). It stands on store.c and
 * store_rows.c, which never call it.
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

/* The tally of schema 1, read once when a store is upgraded. */
#define TALLY1_FMT                                                             \
	"events=%lld max_seq=%lld subjects=%lld clock=%16llx "                 \
	"subject_seq=%ld%n"

/* "CBK1": tells a Casebook store from any other SQLite file. */
#define STORE_APP_ID 0x43424B31
#define DOMAIN_SUBJECT "store.subject"
#define DOMAIN_ROW "store.events.row"
#define DOMAIN_QUERY "store.query"
/* The clock setting entry.c kept before the tally. */
#define M_OLD_CLOCK "entry.hlc"
#define M_CREATED_AT "store.created_at"
/* Where schema 1 kept the quarantine (sync.c wrote it). */
#define M_OLD_QUARANTINE "sync.quarantine"
/* Where schemas 1 and 2 kept the withheld values (withheld.c wrote it). */
#define M_OLD_WITHHELD "withheld"

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

static int set_pragmas(struct store *st, struct cb_err *err)
{
	if (st->readonly)
		return store_exec(st,
				  "PRAGMA trusted_schema = OFF;"
				  "PRAGMA cell_size_check = ON;"
				  "PRAGMA temp_store = MEMORY;"
				  "PRAGMA cache_size = -16384;",
				  "setting up the connection", err);
	return store_exec(st,
			  "PRAGMA trusted_schema = OFF;"
			  "PRAGMA cell_size_check = ON;"
			  "PRAGMA secure_delete = ON;"
			  "PRAGMA temp_store = MEMORY;"
			  "PRAGMA cache_size = -16384;"
			  "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;",
			  "setting up the connection", err);
}

struct seq_scan {
	struct store *st;
	long max;
};

static int seq_one(void *ctx, const char *subject)
{
	struct seq_scan *q = ctx;
	long n = 0;

	if (store_own_subject_seq(q->st, subject, &n) && n > q->max)
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
 * Load the tally at unlock and check the tables against it, both read
 * in one snapshot (another process may be committing meanwhile).
 */
static int tally_load(struct store *st, struct cb_err *err)
{
	int rc;

	rc = store_exec(st, "BEGIN", "reading the store", err);
	if (rc)
		return rc;
	rc = store_tally_read(st, err);
	if (rc == CB_ENOTFOUND)
		rc = store_integrity(st, "the tally (missing)", err);
	if (!rc)
		rc = store_tally_verify(st, err);
	/* Only read: when ending it fails, dropping it loses nothing, and a
	 * transaction left open would refuse every later write. */
	if (sqlite3_exec(st->db.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(st->db.db, "ROLLBACK", NULL, NULL, NULL);
	if (!rc)
		st->tally_live = 1;
	return rc;
}

/* ---- Upgrading a store of schema 1 or 2 ---------------------------------- */

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
		rc = store_int_of(st, "SELECT count(*) FROM events", &v, err);
		if (!rc && v != e)
			rc = 1;
		if (!rc)
			rc = store_int_of(
			    st, "SELECT coalesce(max(seq), 0) FROM events", &v,
			    err);
		if (!rc && v != m)
			rc = 1;
		if (!rc)
			rc = store_int_of(st, "SELECT count(*) FROM subjects",
					  &v, err);
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
 * Schema 1 to 3, in one transaction at the first unlock where the file
 * can be written: the new tables and indexes, the quarantine and
 * withheld settings made rows, every subject marked pending (derive.h
 * writes its rows at the next command), a tally of the new shape.
 */
static int upgrade1(struct store *st, struct cb_err *err)
{
	uint64_t clock;
	long subject_seq;
	int rc;

	rc = store_exec(st, "BEGIN IMMEDIATE", "upgrading the store", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	rc = upgrade_tally1(st, err);
	clock = st->tally.clock;
	subject_seq = st->tally.subject_seq;
	if (!rc)
		rc = store_exec(st, schema2_events_sql, "upgrading the store",
				err);
	if (!rc)
		rc = store_exec(st, store_rows_schema, "upgrading the store",
				err);
	if (!rc)
		rc = store_exec(st, store_rows_schema3, "upgrading the store",
				err);
	if (!rc)
		rc = store_rows_upgrade_quarantine(st, M_OLD_QUARANTINE, err);
	if (!rc)
		rc = store_rows_upgrade_withheld(st, M_OLD_WITHHELD, err);
	if (!rc) {
		struct clock_scan cs = {0, cb_clock_now_ms()};

		rc = store_each_event(st, NULL, STORE_ITER_ALL, clock_one, &cs,
				      err);
		if (cs.max > clock)
			clock = cs.max;
	}
	if (!rc)
		rc = store_exec(st,
				"INSERT OR IGNORE INTO dirty(hash)"
				" SELECT hash FROM subjects ORDER BY ord;"
				"PRAGMA user_version = 3;",
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

/*
 * Schema 2 to 3, in one transaction likewise: the withheld setting made
 * one row per subject. The schema 2 tally is checked against the tables
 * first (with the new table, empty), so an upgrade never takes in a
 * store with rows removed; the tally is then written in the new shape.
 */
static int upgrade2(struct store *st, struct cb_err *err)
{
	int rc;

	rc = store_exec(st, "BEGIN IMMEDIATE", "upgrading the store", err);
	if (rc)
		return rc;
	st->in_tx = 1;
	rc = store_tally_read(st, err);
	if (rc == CB_ENOTFOUND)
		rc = store_integrity(st, "the tally (missing)", err);
	if (!rc)
		rc = store_exec(st, store_rows_schema3, "upgrading the store",
				err);
	if (!rc)
		rc = store_tally_verify(st, err);
	if (!rc)
		rc = store_rows_upgrade_withheld(st, M_OLD_WITHHELD, err);
	if (!rc)
		rc = store_exec(st, "PRAGMA user_version = 3;",
				"upgrading the store", err);
	if (!rc) {
		/* From here the tally is read and written in schema 3's
		 * shape, even with no withheld rows. */
		st->version = STORE_SCHEMA_VERSION;
		st->tally_dirty = 1;
		rc = store_commit(st, err);
		if (rc)
			st->version = 2;
	} else {
		store_rollback(st);
	}
	return rc;
}

_Static_assert(STORE_SCHEMA_VERSION == 3, "the upgrades end at schema 3");

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
			  STORE_BUSY_MS, name, store_sql, NQUERIES, err);
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
			rc = store_int_of(st, "PRAGMA application_id", &app,
					  err);
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

/* The file is a Casebook store of this schema version, or of an older
 * one (1 or 2) where it can be upgraded. */
static int check_header(struct store *st, struct cb_err *err)
{
	int64_t app = 0, version = 0;
	int rc;

	rc = store_int_of(st, "PRAGMA application_id", &app, err);
	if (!rc)
		rc = store_int_of(st, "PRAGMA user_version", &version, err);
	if (rc)
		return rc;
	if (app != STORE_APP_ID)
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s is not a casebook store "
				  "(or its header is damaged)",
				  st->path);
	if ((version == 1 || version == 2) && st->readonly)
		return cb_err_set(err, CB_EIO,
				  "the casebook store %s was made by an older "
				  "casebook (store version %lld) and is "
				  "read-only here; this casebook upgrades it "
				  "at its first unlock where it can be "
				  "written: open it once there (any command), "
				  "then it reads anywhere",
				  st->path, (long long)version);
	if (version != STORE_SCHEMA_VERSION && version != 1 && version != 2)
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
	s = store_stmt(st, Q_SLOT_GET, err);
	if (!s)
		return err->code;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = store_row(st, s, "reading the keyslots", err);
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
	store_slot_sum(n, r, w, sum);
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
	s = store_stmt(st, Q_SLOT_FIRST, err);
	if (!s)
		return err->code;
	rc = store_row(st, s, "reading the keyslots", err);
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
	store_slot_label(st->user, st->role, label, sizeof(label));
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

/* The rest of an unlock once the data key is known: `key` becomes the
 * handle's (freed with it, or here on failure). */
static int unlock_with(struct store *st, struct cb_key *key, struct cb_err *err)
{
	int rc;

	st->key = key;
	rc = cb_keyed_hash_key(key, DOMAIN_SUBJECT, &st->subject_key, err);
	if (!rc)
		rc = cb_keyed_hash_key(key, DOMAIN_ROW, &st->row_key, err);
	if (!rc)
		rc = cb_keyed_hash_key(key, DOMAIN_QUERY, &st->query_key, err);
	if (!rc)
		rc = load_device(st, err);
	if (!rc && st->version == 1)
		rc = upgrade1(st, err);
	else if (!rc && st->version == 2)
		rc = upgrade2(st, err);
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
	return unlock_with(st, key, err);
}

struct store_hold {
	struct cb_key *key; /* the data key: sodium_malloc'd, wiped on free */
	char home[STORE_PATH_MAX + 1];
	char user[STORE_USER_MAX + 1];
	char device_id[CB_ID_HEX_LEN + 1];
};

int store_hold_new(const struct store *st, const char *home,
		   struct store_hold **out, struct cb_err *err)
{
	struct store_hold *h;
	int rc;

	*out = NULL;
	if (store_need_key(st, err))
		return err->code;
	h = calloc(1, sizeof(*h));
	if (!h)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_key_from_bytes(st->key->bytes, st->key->len, &h->key, err);
	if (rc) {
		free(h);
		return rc;
	}
	cb_key_readonly(h->key);
	snprintf(h->home, sizeof(h->home), "%s", home);
	snprintf(h->user, sizeof(h->user), "%s", st->user);
	memcpy(h->device_id, st->device_id, sizeof(h->device_id));
	*out = h;
	return 0;
}

void store_hold_free(struct store_hold *h)
{
	if (!h)
		return;
	cb_key_free(h->key);
	free(h);
}

const char *store_hold_user(const struct store_hold *h)
{
	return h->user;
}

const char *store_hold_home(const struct store_hold *h)
{
	return h->home;
}

/* Unlock `st` with the key a shell holds: the same store (its device id)
 * and the same user, or nothing is unlocked. */
static int unlock_held(struct store *st, const char *home,
		       const struct store_hold *h, struct cb_err *err)
{
	struct cb_key *key;
	int rc;

	if (strcmp(home, h->home) || strcmp(st->user, h->user))
		return cb_err_set(err, CB_EAUTH,
				  "the shell unlocked the store of user '%s' "
				  "in %s, not this one",
				  h->user, h->home);
	rc = cb_key_from_bytes(h->key->bytes, h->key->len, &key, err);
	if (rc)
		return rc;
	rc = unlock_with(st, key, err);
	if (!rc && strcmp(st->device_id, h->device_id))
		rc = cb_err_set(err, CB_EAUTH,
				"the store in %s is no longer the one this "
				"shell unlocked (another device's store); "
				"leave the shell and start it again",
				h->home);
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
	if (!rc && g->hold) {
		/* Inside `casebook shell`: unlocked once, no passphrase. */
		rc = unlock_held(st, home, g->hold, err);
		if (rc) {
			store_close(st);
			return rc;
		}
		*out = st;
		return 0;
	}
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

/* Everything store_create writes, inside one transaction. */
static int fill_new(struct store *st, const struct store_create_params *p,
		    struct cb_err *err)
{
	char buf[CB_CLOCK_UTC_BUF];
	size_t i;
	int rc;

	rc = store_exec(st, schema1_sql, "creating the tables", err);
	if (!rc)
		rc = store_exec(st, schema2_events_sql, "creating the tables",
				err);
	if (!rc)
		rc = store_exec(st, store_rows_schema, "creating the tables",
				err);
	if (!rc)
		rc = store_exec(st, store_rows_schema3, "creating the tables",
				err);
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
		rc = store_insert_slot(st, p->user, p->role, p->pass,
				       p->pass_len, err);
	st->tally_dirty = 1; /* an empty tally, sealed with the rest */
	if (!rc)
		rc = store_exec(st,
				"PRAGMA application_id = 1128418097;"
				"PRAGMA user_version = 3;",
				"writing the store header", err);
	return rc;
}

_Static_assert(STORE_APP_ID == 1128418097, "application_id in fill_new");
_Static_assert(STORE_SCHEMA_VERSION == 3, "user_version in fill_new");

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
		rc = store_tally_read(st, err);
	if (!rc)
		rc = store_tally_verify(st, err);
	if (!rc)
		rc = store_each_user(st, check_user, &c, err);
	if (!rc)
		rc = store_each_subject(st, check_subject, &c, err);
	if (!rc)
		rc = store_each_event(st, NULL, STORE_ITER_ALL, check_event, &c,
				      err);
	if (!rc)
		rc = store_rows_check(st, check_add, &c, &report->quarantined,
				      &report->summaries, &report->queries,
				      &report->withheld, err);
	report->pending = st->tally.dirty;
	/* Settings: every key, decrypted. */
	if (!rc &&
	    sqlite3_prepare_v2(st->db.db, "SELECT key FROM meta ORDER BY key",
			       -1, &s, NULL) != SQLITE_OK)
		rc = store_fail(st, sqlite3_errcode(st->db.db),
				"reading settings", err);
	else if (!rc) {
		while ((rc = store_row(st, s, "reading settings", err)) == 1) {
			char key[META_KEY_MAX + 1], *val;
			size_t len;
			const char *k = (const char *)sqlite3_column_text(s, 0);

			if (!k || !store_meta_key_valid(k)) {
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

/* ---- Backing up ------------------------------------------------------------
 */

/* fsync the file or directory at `path`. */
static int sync_path(const char *path, struct cb_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot open %s: %s", path,
				  strerror(errno));
	if (fsync(fd)) {
		int e = errno;

		close(fd);
		return cb_err_set(err, CB_EIO, "cannot sync %s: %s", path,
				  strerror(e));
	}
	close(fd);
	return 0;
}

/*
 * Copy st's database into `tmp` (an empty file the caller made) as it
 * stands in one read snapshot; *t gets the tally of that snapshot.
 */
static int backup_copy(struct store *st, const char *tmp, struct tally *t,
		       struct cb_err *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc, began = 0;

	rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		rc = cb_err_set(err, CB_EIO, "cannot create %s: %s", tmp,
				dst ? sqlite3_errmsg(dst) : "out of memory");
		sqlite3_close(dst);
		return rc;
	}
	/* One snapshot: the tally read and the pages copied are the same
	 * committed state; another process's write in progress is not in
	 * it (WAL), and this handle has none open (the caller checked). */
	rc = store_read_begin(st, &began, err);
	if (!rc)
		rc = store_tally_read(st, err);
	if (!rc) {
		*t = st->tally;
		b = sqlite3_backup_init(dst, "main", st->db.db, "main");
		if (!b) {
			rc = cb_err_set(err, CB_EIO, "cannot copy into %s: %s",
					tmp, sqlite3_errmsg(dst));
		} else {
			int s = sqlite3_backup_step(b, -1);

			sqlite3_backup_finish(b);
			if (s != SQLITE_DONE)
				rc = cb_err_set(err,
						s == SQLITE_BUSY ||
							s == SQLITE_LOCKED
						    ? CB_EBUSY
						    : CB_EIO,
						"copying the store into %s: %s",
						tmp, sqlite3_errstr(s));
		}
	}
	store_read_end(st, began);
	if (sqlite3_close(dst) != SQLITE_OK && !rc)
		rc = cb_err_set(err, CB_EIO, "cannot close %s", tmp);
	return rc;
}

/*
 * Check the copy `tmp` as store_check checks a store, with st's keys
 * (the copy holds the same data key), and that it holds what the
 * original's tally `t` said.
 */
static int backup_verify(struct store *st, const char *tmp,
			 const struct tally *t, struct store_check_report *rep,
			 struct cb_err *err)
{
	struct store *c = NULL;
	int rc;

	rc = store_alloc(tmp, &c, err);
	if (rc)
		return rc;
	rc = connect(c, tmp, SQLITE_OPEN_READWRITE, err);
	if (!rc)
		rc = set_pragmas(c, err);
	if (!rc)
		rc = check_header(c, err);
	if (!rc) {
		c->key = st->key;
		c->subject_key = st->subject_key;
		c->row_key = st->row_key;
		c->query_key = st->query_key;
		rc = store_check(c, rep, err);
		c->key = c->subject_key = c->row_key = c->query_key = NULL;
	}
	if (!rc && (rep->events != t->events || rep->subjects != t->subjects))
		rc = cb_err_set(err, CB_EINTEGRITY,
				"the copy %s holds %lld events and %lld "
				"subjects where the store held %lld and %lld",
				tmp, (long long)rep->events,
				(long long)rep->subjects, (long long)t->events,
				(long long)t->subjects);
	/* Closing the last connection folds its log into the file: the
	 * backup is one file. */
	store_close(c);
	return rc;
}

int store_backup(struct store *st, const char *path,
		 struct store_check_report *rep, struct cb_err *err)
{
	char tmp[STORE_PATH_MAX + 64], dir[STORE_PATH_MAX + 64];
	struct tally t = {0};
	const char *slash;
	int fd, rc;

	memset(rep, 0, sizeof(*rep));
	if (store_need_key(st, err))
		return err->code;
	if (st->in_tx)
		return cb_err_set(err, CB_EINVAL,
				  "store: a backup cannot be taken inside a "
				  "transaction");
	if (access(path, F_OK) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "%s exists; a backup never overwrites a file",
				  path);
	if (errno != ENOENT)
		return cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				  strerror(errno));
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return cb_err_set(err, CB_EINVAL, "path too long: %s", path);
	unlink(tmp);
	/* Made here, empty, so the copy is readable by its owner alone
	 * (it holds the keyslots) and is a new file. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", tmp,
				  strerror(errno));
	close(fd);
	rc = backup_copy(st, tmp, &t, err);
	if (!rc)
		rc = backup_verify(st, tmp, &t, rep, err);
	if (!rc)
		rc = sync_path(tmp, err);
	/* link, not rename: a file that appeared at `path` meanwhile is
	 * never replaced. */
	if (!rc && link(tmp, path))
		rc = cb_err_set(err, errno == EEXIST ? CB_EEXIST : CB_EIO,
				"cannot write %s: %s", path,
				errno == EEXIST ? "it exists; a backup never "
						  "overwrites a file"
						: strerror(errno));
	unlink(tmp);
	{
		char side[STORE_PATH_MAX + 80];

		snprintf(side, sizeof(side), "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", tmp);
		unlink(side);
	}
	if (rc)
		return rc;
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return sync_path(dir, err);
}
