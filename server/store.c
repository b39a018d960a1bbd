/*
 * store.c - the SQLite implementation of the central store (store.h).
 *
 * Every statement is prepared once per connection from the table `sql`
 * below and reset after each use, so no SQL text is ever built from
 * data. The database runs in WAL mode with synchronous=FULL: a commit
 * that returned is on disk, which is what lets the server acknowledge an
 * event only after its commit.
 */
#include "store.h"

#include "clock.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION "1"

/*
 * Subject ids a device created again after the server held them (docs:
 * srv_store_reuse_add). Added to older stores when they are opened.
 */
#define REUSE_TABLE                                                            \
	"CREATE TABLE IF NOT EXISTS subject_reuse(subject TEXT NOT NULL,"      \
	" device TEXT NOT NULL, hlc TEXT NOT NULL,"                            \
	" PRIMARY KEY(subject, device)) WITHOUT ROWID;"

static const char schema[] =
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE sites(code TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    " site TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL DEFAULT 0,"
    " device TEXT NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE devices(id TEXT PRIMARY KEY, public_key BLOB NOT NULL"
    " UNIQUE, site TEXT NOT NULL, role TEXT NOT NULL, device_index INTEGER"
    " NOT NULL, user TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " revoked_ms INTEGER NOT NULL DEFAULT 0, UNIQUE(site, device_index));"
    "CREATE TABLE nonces(device TEXT NOT NULL, nonce TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, PRIMARY KEY(device, nonce)) WITHOUT ROWID;"
    "CREATE INDEX nonces_time ON nonces(time_ms);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE, device TEXT NOT NULL, site TEXT NOT NULL,"
    " subject TEXT NOT NULL, kind TEXT NOT NULL, unblinded INTEGER NOT"
    " NULL, json TEXT NOT NULL, received_at TEXT NOT NULL);"
    "CREATE INDEX events_site ON events(site, seq);" REUSE_TABLE
    /* Derived tables: rebuildable from events at any time. */
    "CREATE TABLE subjects(subject TEXT PRIMARY KEY, site TEXT NOT NULL,"
    " nevents INTEGER NOT NULL);"
    "CREATE TABLE items(subject TEXT NOT NULL, visit TEXT NOT NULL,"
    " form TEXT NOT NULL, instance TEXT NOT NULL, item TEXT NOT NULL,"
    " value TEXT, conflict INTEGER NOT NULL, heads TEXT NOT NULL,"
    " head_values TEXT NOT NULL, query TEXT, nchanges INTEGER NOT NULL,"
    " PRIMARY KEY(subject, visit, form, instance, item)) WITHOUT ROWID;"
    "CREATE TABLE queries(id TEXT PRIMARY KEY, subject TEXT NOT NULL,"
    " site TEXT NOT NULL, visit TEXT NOT NULL, form TEXT NOT NULL,"
    " instance TEXT NOT NULL, item TEXT NOT NULL, status TEXT NOT NULL,"
    " system INTEGER NOT NULL, text TEXT NOT NULL, nanswers INTEGER NOT"
    " NULL);"
    "CREATE INDEX queries_site ON queries(site, subject, id);";

/* The derived tables, in dump order, with their key columns. */
static const char *const derived_dump_sql[] = {
    "SELECT subject, site, nevents FROM subjects ORDER BY subject",
    "SELECT subject, visit, form, instance, item, value, conflict, heads,"
    " head_values, query, nchanges FROM items ORDER BY subject, visit,"
    " form, instance, item",
    "SELECT id, subject, site, visit, form, instance, item, status, system,"
    " text, nanswers FROM queries ORDER BY id",
};
static const char *const derived_names[] = {"subjects", "items", "queries"};

enum stmt_id {
	ST_SETTING_GET,
	ST_SETTING_PUT,
	ST_SITE_ADD,
	ST_SITE_GET,
	ST_SITE_EACH,
	ST_TOKEN_ADD,
	ST_TOKEN_BY_HASH,
	ST_TOKEN_EACH,
	ST_TOKEN_REVOKE,
	ST_TOKEN_USE,
	ST_DEVICE_NEXT_INDEX,
	ST_DEVICE_ADD,
	ST_DEVICE_BY_KEY,
	ST_DEVICE_GET,
	ST_DEVICE_EACH,
	ST_DEVICE_REVOKE,
	ST_NONCE_ADD,
	ST_NONCE_PRUNE,
	ST_EVENT_ADD,
	ST_EVENT_EACH,
	ST_EVENT_EACH_SITE,
	ST_EVENT_MAX,
	ST_SUBJECT_SITE,
	ST_SUBJECT_PUT,
	ST_ITEMS_DEL,
	ST_ITEM_PUT,
	ST_QUERIES_DEL,
	ST_QUERY_PUT,
	ST_QUERY_EACH,
	ST_ITEM_QUERY,
	ST_ITEM_REPLACE,
	ST_QUERY_DEL_ID,
	ST_SUBJECT_COUNT,
	ST_CLEAR_SUBJECTS,
	ST_CLEAR_ITEMS,
	ST_CLEAR_QUERIES,
	ST_REUSE_ADD,
	ST_REUSE_GET,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *const sql[ST_COUNT] = {
    [ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [ST_SETTING_PUT] = "INSERT OR REPLACE INTO settings(key, value) "
		       "VALUES(?1, ?2)",
    [ST_SITE_ADD] = "INSERT INTO sites(code, name, created_ms) "
		    "VALUES(?1, ?2, ?3)",
    [ST_SITE_GET] = "SELECT 1 FROM sites WHERE code = ?1",
    [ST_SITE_EACH] = "SELECT code, name FROM sites ORDER BY code",
    [ST_TOKEN_ADD] = "INSERT INTO tokens(id, hash, site, role, created_ms,"
		     " expires_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_TOKEN_BY_HASH] = "SELECT id, hash, site, role, created_ms,"
			 " expires_ms, used_ms, device, revoked FROM tokens"
			 " WHERE hash = ?1",
    [ST_TOKEN_EACH] = "SELECT id, hash, site, role, created_ms, expires_ms,"
		      " used_ms, device, revoked FROM tokens"
		      " ORDER BY created_ms DESC, id",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE id = ?1",
    [ST_TOKEN_USE] = "UPDATE tokens SET used_ms = ?2, device = ?3"
		     " WHERE id = ?1 AND used_ms = 0",
    [ST_DEVICE_NEXT_INDEX] = "SELECT COALESCE(MAX(device_index), 0) + 1"
			     " FROM devices WHERE site = ?1",
    [ST_DEVICE_ADD] = "INSERT INTO devices(id, public_key, site, role,"
		      " device_index, user, created_ms) VALUES(?1, ?2, ?3,"
		      " ?4, ?5, ?6, ?7)",
    [ST_DEVICE_BY_KEY] = "SELECT 1 FROM devices WHERE public_key = ?1",
    [ST_DEVICE_GET] = "SELECT id, public_key, site, role, device_index,"
		      " user, created_ms, revoked_ms FROM devices"
		      " WHERE id = ?1",
    [ST_DEVICE_EACH] = "SELECT id, public_key, site, role, device_index,"
		       " user, created_ms, revoked_ms FROM devices"
		       " ORDER BY site, device_index",
    [ST_DEVICE_REVOKE] = "UPDATE devices SET revoked_ms = ?2"
			 " WHERE id = ?1 AND revoked_ms = 0",
    [ST_NONCE_ADD] = "INSERT INTO nonces(device, nonce, time_ms)"
		     " VALUES(?1, ?2, ?3)",
    [ST_NONCE_PRUNE] = "DELETE FROM nonces WHERE time_ms < ?1",
    [ST_EVENT_ADD] = "INSERT INTO events(id, device, site, subject, kind,"
		     " unblinded, json, received_at) VALUES(?1, ?2, ?3, ?4,"
		     " ?5, ?6, ?7, ?8)",
    [ST_EVENT_EACH] = "SELECT seq, id, device, site, subject, kind,"
		      " unblinded, json, received_at FROM events"
		      " WHERE seq > ?1 AND (?2 OR unblinded = 0)"
		      " ORDER BY seq LIMIT ?3",
    [ST_EVENT_EACH_SITE] = "SELECT seq, id, device, site, subject, kind,"
			   " unblinded, json, received_at FROM events"
			   " WHERE site = ?4 AND seq > ?1"
			   " AND (?2 OR unblinded = 0) ORDER BY seq LIMIT ?3",
    [ST_EVENT_MAX] = "SELECT COALESCE(MAX(seq), 0) FROM events",
    [ST_SUBJECT_SITE] = "SELECT site FROM subjects WHERE subject = ?1",
    [ST_SUBJECT_PUT] = "INSERT OR REPLACE INTO subjects(subject, site,"
		       " nevents) VALUES(?1, ?2, ?3)",
    [ST_ITEMS_DEL] = "DELETE FROM items WHERE subject = ?1",
    [ST_ITEM_PUT] = "INSERT INTO items(subject, visit, form, instance,"
		    " item, value, conflict, heads, head_values, query,"
		    " nchanges) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		    " ?10, ?11)",
    [ST_QUERIES_DEL] = "DELETE FROM queries WHERE subject = ?1",
    [ST_QUERY_PUT] = "INSERT OR REPLACE INTO queries(id, subject, site,"
		     " visit, form, instance, item, status, system, text,"
		     " nanswers) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		     " ?10, ?11)",
    [ST_QUERY_EACH] = "SELECT id, subject, site, visit, form, instance,"
		      " item, status, system, text, nanswers FROM queries"
		      " WHERE (?1 IS NULL OR site = ?1)"
		      " AND (?2 IS NULL OR status = ?2)"
		      " ORDER BY site, subject, id LIMIT ?3",
    [ST_ITEM_QUERY] = "SELECT query FROM items WHERE subject = ?1"
		      " AND visit = ?2 AND form = ?3 AND instance = ?4"
		      " AND item = ?5",
    [ST_ITEM_REPLACE] = "INSERT OR REPLACE INTO items(subject, visit, form,"
			" instance, item, value, conflict, heads,"
			" head_values, query, nchanges) VALUES(?1, ?2, ?3,"
			" ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_QUERY_DEL_ID] = "DELETE FROM queries WHERE id = ?1",
    [ST_SUBJECT_COUNT] = "INSERT INTO subjects(subject, site, nevents)"
			 " VALUES(?1, ?2, 1) ON CONFLICT(subject)"
			 " DO UPDATE SET nevents = nevents + 1",
    [ST_CLEAR_SUBJECTS] = "DELETE FROM subjects",
    [ST_CLEAR_ITEMS] = "DELETE FROM items",
    [ST_CLEAR_QUERIES] = "DELETE FROM queries",
    [ST_REUSE_ADD] = "INSERT INTO subject_reuse(subject, device, hlc)"
		     " VALUES(?1, ?2, ?3) ON CONFLICT(subject, device)"
		     " DO UPDATE SET hlc = min(hlc, excluded.hlc)",
    [ST_REUSE_GET] = "SELECT hlc FROM subject_reuse WHERE subject = ?1"
		     " AND device = ?2",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct checkpointer;

struct srv_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct checkpointer *ckpt; /* NULL unless srv_store_checkpointer */
};

static int db_error(struct srv_store *s, struct cb_err *err, int rc,
		    const char *what)
{
	int code =
	    (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? CB_EBUSY : CB_EIO;

	return cb_err_set(err, code, "central store: %s: %s", what,
			  s && s->db ? sqlite3_errmsg(s->db)
				     : sqlite3_errstr(rc));
}

/* The prepared statement `id`, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(struct srv_store *s, enum stmt_id id,
			  struct cb_err *err)
{
	int rc;

	if (!s->st[id]) {
		rc = sqlite3_prepare_v3(s->db, sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &s->st[id],
					NULL);
		if (rc) {
			db_error(s, err, rc, "prepare");
			return NULL;
		}
	}
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	return s->st[id];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/*
 * Bind without a copy, for the statements a push runs per event: only
 * where the statement is stepped and reset before `v` goes away, in the
 * same function (the next stmt() clears the binding).
 */
static void bind_static(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Step a statement that returns no rows. */
static int run_done(struct srv_store *s, sqlite3_stmt *st, const char *what,
		    struct cb_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return cb_err_set(err, CB_EEXIST,
				  "central store: %s: already "
				  "exists",
				  what);
	return db_error(s, err, rc, what);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t ? strlen((const char *)t) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

static int set_pragmas(struct srv_store *s, struct cb_err *err)
{
	/* PRAGMAs are constant text, run once at open. A 64 MiB page
	 * cache keeps the indexes a push writes (event ids, item keys) in
	 * memory instead of re-reading them at every batch. */
	static const char pragmas[] = "PRAGMA journal_mode=WAL;"
				      "PRAGMA synchronous=FULL;"
				      "PRAGMA foreign_keys=ON;"
				      "PRAGMA secure_delete=ON;"
				      "PRAGMA cache_size=-65536;";
	int rc;

	sqlite3_busy_timeout(s->db, 5000);
	rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
	if (rc)
		return db_error(s, err, rc, "configure");
	return 0;
}

static int store_path(const char *dir, char *path, size_t cap,
		      struct cb_err *err)
{
	int n = snprintf(path, cap, "%s/%s", dir, SRV_STORE_FILE);

	if (n < 0 || (size_t)n >= cap)
		return cb_err_set(err, CB_EINVAL,
				  "data directory path too "
				  "long");
	return 0;
}

static int open_db(const char *path, int flags, struct srv_store **out,
		   struct cb_err *err)
{
	struct srv_store *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc) {
		rc = db_error(s, err, rc, path);
		srv_store_close(s);
		return rc;
	}
	sqlite3_extended_result_codes(s->db, 1);
	rc = set_pragmas(s, err);
	if (rc) {
		srv_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int setting_put(struct srv_store *s, const char *key, const void *v,
		       size_t len, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SETTING_PUT, err);

	if (!st)
		return err->code;
	bind_text(st, 1, key);
	sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_TRANSIENT);
	return run_done(s, st, "write setting", err);
}

int srv_store_create(const char *dir, const char *study, const char *proto,
		     size_t proto_len, const char *proto_sha256,
		     struct srv_store **out, struct cb_err *err)
{
	char path[4096];
	struct srv_store *s;
	int rc;

	*out = NULL;
	rc = store_path(dir, path, sizeof(path), err);
	if (rc)
		return rc;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", dir,
				  strerror(errno));
	if (access(path, F_OK) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "%s already holds a central store", dir);
	rc = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s, err);
	if (rc)
		return rc;
	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (!rc)
		rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL);
	if (rc) {
		rc = db_error(s, err, rc, "create schema");
		goto fail;
	}
	rc = setting_put(s, "schema_version", SCHEMA_VERSION,
			 strlen(SCHEMA_VERSION), err);
	if (!rc)
		rc = setting_put(s, "study", study, strlen(study), err);
	if (!rc)
		rc = setting_put(s, "protocol", proto, proto_len, err);
	if (!rc)
		rc = setting_put(s, "protocol_sha256", proto_sha256,
				 strlen(proto_sha256), err);
	if (!rc)
		rc = srv_store_commit(s, err);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	srv_store_close(s);
	unlink(path);
	return rc;
}

int srv_store_open(const char *dir, struct srv_store **out, struct cb_err *err)
{
	char path[4096];
	char *ver = NULL;
	int rc;

	*out = NULL;
	rc = store_path(dir, path, sizeof(path), err);
	if (rc)
		return rc;
	if (access(path, F_OK))
		return cb_err_set(err, CB_ENOTFOUND,
				  "%s holds no central store (run 'casebookd "
				  "init --data %s --protocol FILE')",
				  dir, dir);
	rc = open_db(path, SQLITE_OPEN_READWRITE, out, err);
	if (rc)
		return rc;
	rc = sqlite3_exec((*out)->db, REUSE_TABLE, NULL, NULL, NULL);
	if (rc)
		rc = db_error(*out, err, rc, "upgrade schema");
	if (!rc)
		rc = srv_store_study(*out, &ver, NULL, NULL, NULL, err);
	free(ver);
	if (rc) {
		srv_store_close(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- checkpoints off the writer's path --------------------------------- */

/*
 * In WAL mode a commit appends pages to the log, and SQLite by default
 * copies the log back into the database file (a checkpoint) inside the
 * commit that takes the log past 1000 pages: every few batches one push
 * waits for a checkpoint of the whole log. For serve, a thread with its
 * own connection does that instead, woken by the writer's commit hook;
 * SQLite lets a passive checkpoint run beside the writer, and a commit
 * is durable in the log whether or not it has been checkpointed. Should
 * the thread fall far behind, the writer checkpoints inline as before.
 */
#define CKPT_WAKE_PAGES 1000	/* SQLite's own autocheckpoint size */
#define CKPT_INLINE_PAGES 16000 /* about 64 MiB of log at 4 KiB pages */

struct checkpointer {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	sqlite3 *db; /* the thread's own connection */
	int want, stop;
};

static void *checkpointer_main(void *arg)
{
	struct checkpointer *k = arg;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->want && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		k->want = 0;
		pthread_mutex_unlock(&k->lock);
		/* Busy or failed: the next commit's hook asks again. */
		sqlite3_wal_checkpoint_v2(
		    k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* Called by SQLite on the writer's thread after each commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *k = arg;

	if (pages >= CKPT_INLINE_PAGES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	} else if (pages >= CKPT_WAKE_PAGES) {
		pthread_mutex_lock(&k->lock);
		k->want = 1;
		pthread_cond_signal(&k->cond);
		pthread_mutex_unlock(&k->lock);
	}
	return SQLITE_OK;
}

static void checkpointer_stop(struct srv_store *s)
{
	struct checkpointer *k = s->ckpt;

	if (!k)
		return;
	sqlite3_wal_autocheckpoint(s->db, CKPT_WAKE_PAGES); /* own hook back */
	pthread_mutex_lock(&k->lock);
	k->stop = 1;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->tid, NULL);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
	s->ckpt = NULL;
}

int srv_store_checkpointer(struct srv_store *s, struct cb_err *err)
{
	const char *path = sqlite3_db_filename(s->db, "main");
	struct checkpointer *k;
	int rc;

	if (s->ckpt)
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = sqlite3_open_v2(path ? path : "", &k->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (!rc)
		rc = sqlite3_exec(k->db,
				  "PRAGMA synchronous=FULL;"
				  "PRAGMA secure_delete=ON;",
				  NULL, NULL, NULL);
	if (rc) {
		cb_err_set(err, CB_EIO,
			   "central store: checkpoint connection: %s",
			   k->db ? sqlite3_errmsg(k->db) : sqlite3_errstr(rc));
		sqlite3_close(k->db);
		free(k);
		return CB_EIO;
	}
	sqlite3_busy_timeout(k->db, 5000);
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	if (pthread_create(&k->tid, NULL, checkpointer_main, k)) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		sqlite3_close(k->db);
		free(k);
		return cb_err_set(err, CB_ENOMEM,
				  "cannot start the checkpoint thread");
	}
	s->ckpt = k;
	sqlite3_wal_hook(s->db, wal_hook, k); /* replaces autocheckpoint */
	return 0;
}

void srv_store_close(struct srv_store *s)
{
	int i;

	if (!s)
		return;
	checkpointer_stop(s);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

static int setting_get(struct srv_store *s, const char *key, char **out,
		       size_t *len, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SETTING_GET, err);
	const void *v;
	int n, rc;

	if (!st)
		return err->code;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return cb_err_set(err, CB_EINTEGRITY,
					  "central store: setting %s missing",
					  key);
		return db_error(s, err, rc, "read setting");
	}
	v = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	*out = malloc((size_t)n + 1);
	if (!*out) {
		sqlite3_reset(st);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (n)
		memcpy(*out, v, (size_t)n);
	(*out)[n] = '\0';
	if (len)
		*len = (size_t)n;
	sqlite3_reset(st);
	return 0;
}

int srv_store_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err)
{
	int rc = 0;

	if (study)
		*study = NULL;
	if (proto)
		*proto = NULL;
	if (sha256)
		*sha256 = NULL;
	if (study)
		rc = setting_get(s, "study", study, NULL, err);
	if (!rc && proto)
		rc = setting_get(s, "protocol", proto, proto_len, err);
	if (!rc && sha256)
		rc = setting_get(s, "protocol_sha256", sha256, NULL, err);
	if (rc) {
		if (study) {
			free(*study);
			*study = NULL;
		}
		if (proto) {
			free(*proto);
			*proto = NULL;
		}
	}
	return rc;
}

/* ---- transactions ------------------------------------------------------ */

int srv_store_begin(struct srv_store *s, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_BEGIN, err);

	return st ? run_done(s, st, "begin", err) : err->code;
}

int srv_store_commit(struct srv_store *s, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_COMMIT, err);
	int rc;

	if (!st)
		return err->code;
	rc = run_done(s, st, "commit", err);
	if (rc)
		srv_store_rollback(s);
	return rc;
}

void srv_store_rollback(struct srv_store *s)
{
	struct cb_err ignored;
	sqlite3_stmt *st;

	if (sqlite3_get_autocommit(s->db))
		return;
	st = stmt(s, ST_ROLLBACK, &ignored);
	if (st)
		run_done(s, st, "rollback", &ignored);
}

/* ---- sites ------------------------------------------------------------- */

int srv_store_site_add(struct srv_store *s, const char *code, const char *name,
		       struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SITE_ADD, err);
	int rc;

	if (!st)
		return err->code;
	bind_text(st, 1, code);
	bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, cb_clock_now_ms());
	rc = run_done(s, st, "add site", err);
	if (rc == CB_EEXIST)
		return cb_err_set(err, CB_EEXIST, "site %s already exists",
				  code);
	return rc;
}

int srv_store_site_exists(struct srv_store *s, const char *code,
			  struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SITE_GET, err);
	int rc;

	if (!st)
		return err->code;
	bind_text(st, 1, code);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(s, err, rc, "read site");
}

int srv_store_site_each(struct srv_store *s,
			int (*fn)(const char *code, const char *name,
				  void *ctx),
			void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SITE_EACH, err);
	int rc;

	if (!st)
		return err->code;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = fn(col_text(st, 0), col_text(st, 1), ctx);

		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, rc, "list sites");
}

/* ---- tokens ------------------------------------------------------------ */

int srv_store_token_add(struct srv_store *s, const struct srv_token *t,
			struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_TOKEN_ADD, err);

	if (!st)
		return err->code;
	bind_text(st, 1, t->id);
	bind_text(st, 2, t->hash);
	bind_text(st, 3, t->site);
	bind_text(st, 4, t->role);
	sqlite3_bind_int64(st, 5, t->created_ms);
	sqlite3_bind_int64(st, 6, t->expires_ms);
	return run_done(s, st, "add token", err);
}

static void token_row(sqlite3_stmt *st, struct srv_token *t)
{
	memset(t, 0, sizeof(*t));
	copy_col(t->id, sizeof(t->id), st, 0);
	copy_col(t->hash, sizeof(t->hash), st, 1);
	copy_col(t->site, sizeof(t->site), st, 2);
	copy_col(t->role, sizeof(t->role), st, 3);
	t->created_ms = sqlite3_column_int64(st, 4);
	t->expires_ms = sqlite3_column_int64(st, 5);
	t->used_ms = sqlite3_column_int64(st, 6);
	copy_col(t->device, sizeof(t->device), st, 7);
	t->revoked = sqlite3_column_int(st, 8);
}

int srv_store_token_each(struct srv_store *s,
			 int (*fn)(const struct srv_token *t, void *ctx),
			 void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_TOKEN_EACH, err);
	struct srv_token t;
	int rc;

	if (!st)
		return err->code;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		token_row(st, &t);
		r = fn(&t, ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, rc, "list tokens");
}

int srv_store_token_revoke(struct srv_store *s, const char *id,
			   struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_TOKEN_REVOKE, err);
	int rc;

	if (!st)
		return err->code;
	bind_text(st, 1, id);
	rc = run_done(s, st, "revoke token", err);
	if (!rc && sqlite3_changes(s->db) == 0)
		return cb_err_set(err, CB_ENOTFOUND, "no token with id %s", id);
	return rc;
}

static int register_locked(struct srv_store *s, const char *token_hash,
			   int64_t now_ms, struct srv_device *dev,
			   struct cb_err *err)
{
	struct srv_token t;
	sqlite3_stmt *st;
	int rc;

	st = stmt(s, ST_TOKEN_BY_HASH, err);
	if (!st)
		return err->code;
	bind_text(st, 1, token_hash);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		token_row(st, &t);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND,
				  "unknown registration token");
	if (rc != SQLITE_ROW)
		return db_error(s, err, rc, "read token");
	if (t.revoked)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was revoked");
	if (t.used_ms) {
		struct srv_device old;
		struct cb_err ignored;

		/* The same key again: a registration whose answer never
		 * reached the device (its init was interrupted) is
		 * answered again, with the device it made. */
		if (t.device[0] &&
		    !srv_store_device_get(s, t.device, &old, &ignored) &&
		    !old.revoked_ms &&
		    !memcmp(old.pk, dev->pk, sizeof(old.pk))) {
			*dev = old;
			return 0;
		}
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was already used");
	}
	if (now_ms >= t.expires_ms)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token has expired");

	st = stmt(s, ST_DEVICE_BY_KEY, err);
	if (!st)
		return err->code;
	sqlite3_bind_blob(st, 1, dev->pk, sizeof(dev->pk), SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return cb_err_set(err, CB_EEXIST,
				  "this public key is already registered");
	if (rc != SQLITE_DONE)
		return db_error(s, err, rc, "read devices");

	st = stmt(s, ST_DEVICE_NEXT_INDEX, err);
	if (!st)
		return err->code;
	bind_text(st, 1, t.site);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_error(s, err, rc, "next device index");
	}
	dev->device_index = (long)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (dev->device_index > SRV_DEVICE_INDEX_MAX)
		return cb_err_set(
		    err, CB_ECONFLICT, "site %s already has %d devices",
		    t.site[0] ? t.site : "(central)", SRV_DEVICE_INDEX_MAX);
	memcpy(dev->site, t.site, sizeof(dev->site));
	memcpy(dev->role, t.role, sizeof(dev->role));
	dev->created_ms = now_ms;
	dev->revoked_ms = 0;

	st = stmt(s, ST_DEVICE_ADD, err);
	if (!st)
		return err->code;
	bind_text(st, 1, dev->id);
	sqlite3_bind_blob(st, 2, dev->pk, sizeof(dev->pk), SQLITE_TRANSIENT);
	bind_text(st, 3, dev->site);
	bind_text(st, 4, dev->role);
	sqlite3_bind_int64(st, 5, dev->device_index);
	bind_text(st, 6, dev->user);
	sqlite3_bind_int64(st, 7, now_ms);
	rc = run_done(s, st, "add device", err);
	if (rc)
		return rc;

	st = stmt(s, ST_TOKEN_USE, err);
	if (!st)
		return err->code;
	bind_text(st, 1, t.id);
	sqlite3_bind_int64(st, 2, now_ms);
	bind_text(st, 3, dev->id);
	rc = run_done(s, st, "use token", err);
	if (!rc && sqlite3_changes(s->db) != 1)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was already used");
	return rc;
}

int srv_store_register(struct srv_store *s, const char *token_hash,
		       int64_t now_ms, struct srv_device *dev,
		       struct cb_err *err)
{
	int rc = srv_store_begin(s, err);

	if (rc)
		return rc;
	rc = register_locked(s, token_hash, now_ms, dev, err);
	if (rc) {
		srv_store_rollback(s);
		return rc;
	}
	return srv_store_commit(s, err);
}

/* ---- devices ----------------------------------------------------------- */

static void device_row(sqlite3_stmt *st, struct srv_device *d)
{
	const void *pk;

	memset(d, 0, sizeof(*d));
	copy_col(d->id, sizeof(d->id), st, 0);
	pk = sqlite3_column_blob(st, 1);
	if (pk && sqlite3_column_bytes(st, 1) == (int)sizeof(d->pk))
		memcpy(d->pk, pk, sizeof(d->pk));
	copy_col(d->site, sizeof(d->site), st, 2);
	copy_col(d->role, sizeof(d->role), st, 3);
	d->device_index = (long)sqlite3_column_int64(st, 4);
	copy_col(d->user, sizeof(d->user), st, 5);
	d->created_ms = sqlite3_column_int64(st, 6);
	d->revoked_ms = sqlite3_column_int64(st, 7);
}

int srv_store_device_get(struct srv_store *s, const char *id,
			 struct srv_device *out, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_DEVICE_GET, err);
	int rc;

	if (!st)
		return err->code;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		device_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND, "unknown device %s", id);
	return db_error(s, err, rc, "read device");
}

int srv_store_device_each(struct srv_store *s,
			  int (*fn)(const struct srv_device *d, void *ctx),
			  void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_DEVICE_EACH, err);
	struct srv_device d;
	int rc;

	if (!st)
		return err->code;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		device_row(st, &d);
		r = fn(&d, ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, rc, "list devices");
}

int srv_store_device_revoke(struct srv_store *s, const char *id, int64_t now_ms,
			    struct cb_err *err)
{
	struct srv_device d;
	sqlite3_stmt *st;
	int rc;

	rc = srv_store_device_get(s, id, &d, err);
	if (rc)
		return rc;
	st = stmt(s, ST_DEVICE_REVOKE, err);
	if (!st)
		return err->code;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms > 0 ? now_ms : 1);
	return run_done(s, st, "revoke device", err);
}

/* ---- nonces ------------------------------------------------------------ */

int srv_store_nonce_use(struct srv_store *s, const char *device,
			const char *nonce, int64_t time_ms, int64_t now_ms,
			struct cb_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* Prune and record in one transaction: one commit (one fsync) per
	 * request, not two once old nonces start expiring. */
	rc = srv_store_begin(s, err);
	if (rc)
		return rc;
	st = stmt(s, ST_NONCE_PRUNE, err);
	if (!st) {
		rc = err->code;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, now_ms - SRV_NONCE_KEEP_MS);
	rc = run_done(s, st, "prune nonces", err);
	if (rc)
		goto fail;
	st = stmt(s, ST_NONCE_ADD, err);
	if (!st) {
		rc = err->code;
		goto fail;
	}
	bind_text(st, 1, device);
	bind_text(st, 2, nonce);
	sqlite3_bind_int64(st, 3, time_ms);
	rc = run_done(s, st, "record nonce", err);
	if (rc == CB_EEXIST)
		rc = cb_err_set(err, CB_ECONFLICT,
				"request nonce already used (replayed "
				"request)");
	if (rc)
		goto fail;
	return srv_store_commit(s, err);
fail:
	srv_store_rollback(s);
	return rc;
}

/* ---- events ------------------------------------------------------------ */

int srv_store_event_add(struct srv_store *s, const struct srv_event_row *row,
			int64_t *seq, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_EVENT_ADD, err);
	int rc;

	if (!st)
		return err->code;
	bind_static(st, 1, row->id);
	bind_static(st, 2, row->device);
	bind_static(st, 3, row->site);
	bind_static(st, 4, row->subject);
	bind_static(st, 5, row->kind);
	sqlite3_bind_int(st, 6, row->unblinded ? 1 : 0);
	sqlite3_bind_text(st, 7, row->json, (int)row->json_len, SQLITE_STATIC);
	bind_static(st, 8, row->received_at);
	rc = run_done(s, st, "add event", err);
	if (rc == CB_EEXIST)
		return cb_err_set(err, CB_EEXIST, "event %s already stored",
				  row->id);
	if (!rc && seq)
		*seq = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int srv_store_event_each(struct srv_store *s, int64_t since, long limit,
			 const char *site, int unblinded,
			 int (*fn)(const struct srv_event_row *row, void *ctx),
			 void *ctx, int64_t *last, struct cb_err *err)
{
	sqlite3_stmt *st =
	    stmt(s, site ? ST_EVENT_EACH_SITE : ST_EVENT_EACH, err);
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
		bind_text(st, 4, site);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row.seq = sqlite3_column_int64(st, 0);
		row.id = col_text(st, 1);
		row.device = col_text(st, 2);
		row.site = col_text(st, 3);
		row.subject = col_text(st, 4);
		row.kind = col_text(st, 5);
		row.unblinded = sqlite3_column_int(st, 6);
		row.json = col_text(st, 7);
		row.json_len = (size_t)sqlite3_column_bytes(st, 7);
		row.received_at = col_text(st, 8);
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
		return db_error(s, err, rc, "read events");
	if (limit <= 0 || n < limit) {
		st = stmt(s, ST_EVENT_MAX, err);
		if (!st)
			return err->code;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > at)
			at = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc != SQLITE_ROW)
			return db_error(s, err, rc, "read events");
	}
	if (last)
		*last = at;
	return 0;
}

/* ---- derived tables ---------------------------------------------------- */

int srv_store_derived_clear(struct srv_store *s, struct cb_err *err)
{
	static const enum stmt_id clear[] = {ST_CLEAR_SUBJECTS, ST_CLEAR_ITEMS,
					     ST_CLEAR_QUERIES};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(clear) / sizeof(*clear); i++) {
		sqlite3_stmt *st = stmt(s, clear[i], err);

		if (!st)
			return err->code;
		rc = run_done(s, st, "clear derived tables", err);
		if (rc)
			return rc;
	}
	return 0;
}

int srv_store_subject_site(struct srv_store *s, const char *subject,
			   char site[SRV_SITE_MAX + 1], struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SUBJECT_SITE, err);
	int rc;

	if (!st)
		return err->code;
	bind_static(st, 1, subject);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(site, SRV_SITE_MAX + 1, st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND, "unknown subject %s",
				  subject);
	return db_error(s, err, rc, "read subject");
}

struct derive_ctx {
	struct srv_store *s;
	const char *site;
	struct cb_err *err;
	long n;
};

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

/* Write the row of item `it` with statement `id` (insert or replace). */
static int item_write(struct srv_store *s, const struct cb_merge_item *it,
		      enum stmt_id id, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, id, err);
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
	bind_static(st, 1, it->subject);
	bind_static(st, 2, it->visit);
	bind_static(st, 3, it->form);
	bind_static(st, 4, it->instance);
	bind_static(st, 5, it->item);
	bind_static(st, 6, it->conflict ? NULL : it->value);
	sqlite3_bind_int(st, 7, it->conflict ? 1 : 0);
	bind_static(st, 8, heads);
	bind_static(st, 9, values);
	bind_static(st, 10, it->query);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)it->nchanges);
	rc = run_done(s, st, "write item", err);
	free(heads);
	free(values);
	return rc;
}

static int derive_item(const struct cb_merge_item *it, void *vctx)
{
	struct derive_ctx *c = vctx;

	return item_write(c->s, it, ST_ITEM_PUT, c->err);
}

/* Write (insert or replace) the row of query `q` of a subject of `site`. */
static int query_write(struct srv_store *s, const struct cb_merge_query *q,
		       const char *site, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_QUERY_PUT, err);

	if (!st)
		return err->code;
	bind_text(st, 1, q->id);
	bind_text(st, 2, q->subject ? q->subject : "");
	bind_text(st, 3, site);
	bind_text(st, 4, q->visit ? q->visit : "");
	bind_text(st, 5, q->form ? q->form : "");
	bind_text(st, 6, q->instance ? q->instance : "");
	bind_text(st, 7, q->item ? q->item : "");
	bind_text(st, 8, cb_query_status_name(q->status));
	sqlite3_bind_int(st, 9, q->system ? 1 : 0);
	bind_text(st, 10, q->text ? q->text : "");
	sqlite3_bind_int64(st, 11, (sqlite3_int64)q->nanswers);
	return run_done(s, st, "write query", err);
}

static int derive_query(const struct cb_merge_query *q, void *vctx)
{
	struct derive_ctx *c = vctx;

	return query_write(c->s, q, c->site, c->err);
}

static int count_event(const struct cb_event *ev, void *vctx)
{
	struct derive_ctx *c = vctx;

	(void)ev;
	c->n++;
	return 0;
}

int srv_store_derive_subject(struct srv_store *s, struct cb_merge *m,
			     const char *subject, const char *site,
			     struct cb_err *err)
{
	struct derive_ctx c = {s, site, err, 0};
	sqlite3_stmt *st;
	int rc;

	st = stmt(s, ST_ITEMS_DEL, err);
	if (!st)
		return err->code;
	bind_text(st, 1, subject);
	rc = run_done(s, st, "clear items", err);
	if (rc)
		return rc;
	st = stmt(s, ST_QUERIES_DEL, err);
	if (!st)
		return err->code;
	bind_text(st, 1, subject);
	rc = run_done(s, st, "clear queries", err);
	if (rc)
		return rc;
	cb_err_clear(err);
	rc = cb_merge_each_item(m, subject, NULL, NULL, NULL, derive_item, &c);
	if (!rc)
		rc = cb_merge_each_query(m, subject, derive_query, &c, err);
	if (!rc)
		rc = cb_merge_each_event(m, subject, count_event, &c);
	if (rc) {
		if (!err->code)
			cb_err_set(err, rc, "deriving subject %s: %s", subject,
				   cb_err_name(rc));
		return rc;
	}
	st = stmt(s, ST_SUBJECT_PUT, err);
	if (!st)
		return err->code;
	bind_text(st, 1, subject);
	bind_text(st, 2, site);
	sqlite3_bind_int64(st, 3, c.n);
	return run_done(s, st, "write subject", err);
}

/* The query column of the stored row of item `it` into out ("" if none). */
static int item_old_query(struct srv_store *s, const struct cb_merge_item *it,
			  char out[SRV_ID_HEX + 1], struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_ITEM_QUERY, err);
	int rc;

	out[0] = '\0';
	if (!st)
		return err->code;
	bind_static(st, 1, it->subject);
	bind_static(st, 2, it->visit);
	bind_static(st, 3, it->form);
	bind_static(st, 4, it->instance);
	bind_static(st, 5, it->item);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(out, SRV_ID_HEX + 1, st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return db_error(s, err, rc, "read item");
}

/*
 * Write the current row of query `id` when the merge state lists it
 * (a query whose open event has arrived, or the system query of a
 * conflicted item), with the site of the subject it is about.
 */
static int query_refresh(struct srv_store *s, struct cb_merge *m,
			 const char *id, const struct cb_event *ev,
			 struct cb_err *err)
{
	char site[SRV_SITE_MAX + 1];
	struct cb_merge_query q;
	int rc;

	rc = cb_merge_query_get(m, id, &q, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	if (q.subject && strcmp(q.subject, ev->subject)) {
		/* About another subject: that subject's site. Not yet in
		 * the table means its open event comes later in the batch,
		 * which writes the row then. */
		rc = srv_store_subject_site(s, q.subject, site, err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			return 0;
		}
		if (rc)
			return rc;
		return query_write(s, &q, site, err);
	}
	return query_write(s, &q, ev->site, err);
}

static int query_delete(struct srv_store *s, const char *id, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_QUERY_DEL_ID, err);

	if (!st)
		return err->code;
	bind_text(st, 1, id);
	return run_done(s, st, "delete query", err);
}

int srv_store_derive_event(struct srv_store *s, struct cb_merge *m,
			   const struct cb_event *ev, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_SUBJECT_COUNT, err);
	const char *qid = NULL;
	size_t i;
	int rc;

	if (!st)
		return err->code;
	bind_static(st, 1, ev->subject);
	bind_static(st, 2, ev->site);
	rc = run_done(s, st, "count subject event", err);
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
			rc = item_write(s, &it, ST_ITEM_REPLACE, err);
		if (!rc && old[0] &&
		    !(it.conflict && it.query && !strcmp(old, it.query)))
			rc = query_delete(s, old, err);
		if (!rc && it.conflict && it.query)
			rc = query_refresh(s, m, it.query, ev, err);
	}
	if (rc)
		return rc;
	if (!strcmp(ev->kind, CB_KIND_QUERY_OPEN))
		qid = ev->id;
	else if (!strcmp(ev->kind, CB_KIND_QUERY_ANSWER) ||
		 !strcmp(ev->kind, CB_KIND_QUERY_CLOSE))
		qid = cb_event_data(ev, CB_DATA_QUERY);
	return qid ? query_refresh(s, m, qid, ev, err) : 0;
}

int srv_store_query_each(struct srv_store *s, const char *site,
			 const char *status, long limit,
			 int (*fn)(const struct srv_query_row *q, void *ctx),
			 void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_QUERY_EACH, err);
	struct srv_query_row q;
	int rc;

	if (!st)
		return err->code;
	bind_text(st, 1, site);
	bind_text(st, 2, status);
	sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r;

		q.id = col_text(st, 0);
		q.subject = col_text(st, 1);
		q.site = col_text(st, 2);
		q.visit = col_text(st, 3);
		q.form = col_text(st, 4);
		q.instance = col_text(st, 5);
		q.item = col_text(st, 6);
		q.status = col_text(st, 7);
		q.system = sqlite3_column_int(st, 8);
		q.text = col_text(st, 9);
		q.nanswers = (long)sqlite3_column_int64(st, 10);
		r = fn(&q, ctx);
		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, err, rc, "list queries");
}

/* A growable text buffer for the dump, capped at CB_MERGE_DUMP_MAX. */
struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > CB_MERGE_DUMP_MAX || !(p = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* A column as text with tab, newline and backslash escaped; NULL as \N. */
static void buf_col(struct buf *b, sqlite3_stmt *st, int col)
{
	const unsigned char *t;
	int i, n;

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		buf_add(b, "\\N", 2);
		return;
	}
	t = sqlite3_column_text(st, col);
	n = sqlite3_column_bytes(st, col);
	for (i = 0; i < n; i++) {
		if (t[i] == '\t')
			buf_add(b, "\\t", 2);
		else if (t[i] == '\n')
			buf_add(b, "\\n", 2);
		else if (t[i] == '\\')
			buf_add(b, "\\\\", 2);
		else
			buf_add(b, (const char *)t + i, 1);
	}
}

int srv_store_derived_dump(struct srv_store *s, char **out, size_t *len,
			   struct cb_err *err)
{
	struct buf b = {NULL, 0, 0, 0};
	size_t t;
	int rc = 0;

	*out = NULL;
	for (t = 0; t < sizeof(derived_dump_sql) / sizeof(*derived_dump_sql);
	     t++) {
		sqlite3_stmt *st;
		int c, ncol;

		rc = sqlite3_prepare_v2(s->db, derived_dump_sql[t], -1, &st,
					NULL);
		if (rc)
			return db_error(s, err, rc, "dump");
		buf_add(&b, "[", 1);
		buf_add(&b, derived_names[t], strlen(derived_names[t]));
		buf_add(&b, "]\n", 2);
		ncol = sqlite3_column_count(st);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			for (c = 0; c < ncol; c++) {
				if (c)
					buf_add(&b, "\t", 1);
				buf_col(&b, st, c);
			}
			buf_add(&b, "\n", 1);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			free(b.p);
			return db_error(s, err, rc, "dump");
		}
	}
	if (b.oom) {
		free(b.p);
		return cb_err_set(err, CB_ENOMEM, "dump: out of memory");
	}
	*out = b.p;
	if (len)
		*len = b.len;
	return 0;
}

/* One integer from a constant counting query. */
static int count(struct srv_store *s, const char *q, long *out,
		 struct cb_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, q, -1, &st, NULL);

	if (rc)
		return db_error(s, err, rc, "count");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, err, rc, "count");
}

int srv_store_stats(struct srv_store *s, struct srv_store_stats *st,
		    struct cb_err *err)
{
	long last = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = count(s, "SELECT COUNT(*) FROM sites", &st->sites, err);
	if (!rc)
		rc =
		    count(s, "SELECT COUNT(*) FROM devices", &st->devices, err);
	if (!rc)
		rc = count(s,
			   "SELECT COUNT(*) FROM devices WHERE revoked_ms > 0",
			   &st->devices_revoked, err);
	if (!rc)
		rc = count(s,
			   "SELECT COUNT(*) FROM tokens WHERE used_ms = 0 AND"
			   " revoked = 0",
			   &st->tokens_open, err);
	if (!rc)
		rc = count(s, "SELECT COUNT(*) FROM events", &st->events, err);
	if (!rc)
		rc = count(s, "SELECT COUNT(*) FROM subjects", &st->subjects,
			   err);
	if (!rc)
		rc = count(s, "SELECT COUNT(*) FROM items", &st->items, err);
	if (!rc)
		rc = count(s, "SELECT COUNT(*) FROM items WHERE conflict = 1",
			   &st->conflicts, err);
	if (!rc)
		rc = count(s,
			   "SELECT COUNT(*) FROM queries WHERE status != "
			   "'closed'",
			   &st->queries_open, err);
	if (!rc)
		rc = count(s, "SELECT COALESCE(MAX(seq), 0) FROM events", &last,
			   err);
	st->last_seq = last;
	return rc;
}

int srv_store_reuse_add(struct srv_store *s, const char *subject,
			const char *device, const char *hlc, struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_REUSE_ADD, err);

	if (!st)
		return err->code;
	bind_text(st, 1, subject);
	bind_text(st, 2, device);
	bind_text(st, 3, hlc);
	return run_done(s, st, "record a re-used subject id", err);
}

int srv_store_reuse_get(struct srv_store *s, const char *subject,
			const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			struct cb_err *err)
{
	sqlite3_stmt *st = stmt(s, ST_REUSE_GET, err);
	int rc;

	hlc[0] = '\0';
	if (!st)
		return err->code;
	bind_text(st, 1, subject);
	bind_text(st, 2, device);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		copy_col(hlc, CB_EVENT_HLC_HEX + 1, st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, err, rc, "read re-used subject ids");
	return 0;
}

sqlite3 *srv_store_sqlite(struct srv_store *s)
{
	return s->db;
}
