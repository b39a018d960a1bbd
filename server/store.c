/*
 * store.c - the central store's SQLite backend (store.h, store_be.h):
 * the schema and its upgrades, opening, settings, the server key,
 * transactions, sites, tokens, devices, re-used subject ids and the
 * copy of record tables; its table of functions, srv_sqlite_ops. Events
 * are store_events.c's, the derived tables store_derived.c's, the
 * randomization slots store_slots.c's and the nonces store_nonce.c's;
 * store_int.h holds what they share.
 */
#include "store_int.h"

#include "clock.h"
#include "crypto.h"
#include "json.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the schema ---------------------------------------------------------- */

/* What the schema holds; older versions are upgraded by upgrades[]. */
#define TABLES_REUSE                                                           \
	"CREATE TABLE IF NOT EXISTS subject_reuse(subject TEXT NOT NULL,"      \
	" device TEXT NOT NULL, hlc TEXT NOT NULL,"                            \
	" PRIMARY KEY(subject, device)) WITHOUT ROWID;"
#define TABLES_SLOTS                                                           \
	"CREATE TABLE IF NOT EXISTS rand_lists(list_id TEXT PRIMARY KEY,"      \
	" fingerprint TEXT NOT NULL, study TEXT NOT NULL,"                     \
	" imported_at TEXT NOT NULL, nslots INTEGER NOT NULL);"                \
	"CREATE TABLE IF NOT EXISTS rand_sites(list_id TEXT NOT NULL,"         \
	" site TEXT NOT NULL, codebreak_pub TEXT NOT NULL,"                    \
	" codebreak_key TEXT NOT NULL, PRIMARY KEY(list_id, site));"           \
	"CREATE TABLE IF NOT EXISTS rand_slots(randno TEXT PRIMARY KEY,"       \
	" list_id TEXT NOT NULL, site TEXT NOT NULL, stratum TEXT NOT NULL,"   \
	" seq INTEGER NOT NULL, kit TEXT NOT NULL UNIQUE,"                     \
	" arm_unblinding TEXT NOT NULL, arm_site TEXT NOT NULL,"               \
	" device TEXT, leased_at TEXT, subject TEXT UNIQUE, event TEXT,"       \
	" used_at TEXT);"                                                      \
	"CREATE INDEX IF NOT EXISTS rand_slots_cell"                           \
	" ON rand_slots(site, stratum, seq);"                                  \
	"CREATE INDEX IF NOT EXISTS rand_slots_device"                         \
	" ON rand_slots(device, stratum, seq);"
/* Version 4: which casebookd made or upgraded the store, and when. */
#define TABLES_HISTORY                                                         \
	"CREATE TABLE schema_history(version INTEGER PRIMARY KEY,"             \
	" applied_ms INTEGER NOT NULL, casebookd TEXT NOT NULL);"
#define TABLES_USERS                                                           \
	"CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY,"              \
	" full_name TEXT NOT NULL, role TEXT NOT NULL, site TEXT NOT NULL,"    \
	" created_ms INTEGER NOT NULL, disabled_ms INTEGER NOT NULL DEFAULT"   \
	" 0, disabled_reason TEXT NOT NULL DEFAULT '');"                       \
	"CREATE INDEX IF NOT EXISTS users_site ON users(site, name);"
/* Each form instance, with its items (version 6: store_items.c). */
#define TABLE_FORMS                                                            \
	"CREATE TABLE forms(subject TEXT NOT NULL, visit TEXT NOT NULL,"       \
	" form TEXT NOT NULL, instance TEXT NOT NULL, nitems INTEGER NOT"      \
	" NULL, nconflicts INTEGER NOT NULL, nsigns INTEGER NOT NULL,"         \
	" sign TEXT, broken INTEGER NOT NULL, items TEXT NOT NULL,"            \
	" PRIMARY KEY(subject, visit, form, instance));"
#define TABLES_DERIVED                                                         \
	"CREATE TABLE subjects(subject TEXT PRIMARY KEY, site TEXT NOT NULL,"  \
	" nevents INTEGER NOT NULL, state TEXT NOT NULL,"                      \
	" summary TEXT NOT NULL) WITHOUT ROWID;"                               \
	"CREATE INDEX subjects_site ON subjects(site, subject);" TABLE_FORMS

/*
 * The few events that set unblinded items, by sequence (version 5): a
 * blinded device's pull is told which exist in the range it covers
 * (ST_EVENT_WITHHELD), which without it read every event of the range,
 * text and all (bench_server, part devices: a fifth of the server's CPU).
 */
#define INDEX_UNBLINDED                                                        \
	"CREATE INDEX IF NOT EXISTS events_unblinded ON events(seq)"           \
	" WHERE unblinded = 1;"

/* The store's identity: new at init and at every restore (store.h). */
#define SETTING_STORE_ID                                                       \
	"INSERT OR IGNORE INTO settings(key, value) VALUES('store_id',"        \
	" lower(hex(randomblob(16))));"

const char srv_store_schema[] =
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value BLOB NOT "
    "NULL);" SETTING_STORE_ID
    "CREATE TABLE sites(code TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    " site TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL DEFAULT 0,"
    " device TEXT NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0,"
    " user TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE devices(id TEXT PRIMARY KEY, public_key BLOB NOT NULL"
    " UNIQUE, site TEXT NOT NULL, role TEXT NOT NULL, device_index INTEGER"
    " NOT NULL, user TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " revoked_ms INTEGER NOT NULL DEFAULT 0, max_hlc TEXT NOT NULL DEFAULT"
    " '', UNIQUE(site, device_index));"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE, device TEXT NOT NULL, site TEXT NOT NULL,"
    " subject TEXT NOT NULL, kind TEXT NOT NULL, unblinded INTEGER NOT"
    " NULL, json TEXT NOT NULL, received_at TEXT NOT NULL);"
    "CREATE INDEX events_site ON events(site, seq);"
    "CREATE INDEX events_subject ON events(subject, seq);" INDEX_UNBLINDED
	TABLES_REUSE TABLES_SLOTS TABLES_USERS
    /* Derived tables: rebuildable from events at any time. */
    "CREATE TABLE queries(id TEXT PRIMARY KEY, subject TEXT NOT NULL,"
    " site TEXT NOT NULL, visit TEXT NOT NULL, form TEXT NOT NULL,"
    " instance TEXT NOT NULL, item TEXT NOT NULL, status TEXT NOT NULL,"
    " system INTEGER NOT NULL, text TEXT NOT NULL, nanswers INTEGER NOT"
    " NULL);"
    "CREATE INDEX queries_site ON queries(site, subject, id);"
    "CREATE INDEX queries_subject ON queries(subject);" TABLES_DERIVED
	TABLES_HISTORY;

/*
 * Version 1 to 2: events indexed by subject, the derived subjects table
 * with each subject's state and summary, a forms table, the
 * randomization tables and the re-use table made with the schema, and
 * the nonces moved to their own database. The derived tables are then
 * stale until the next writer rebuilds them (srv_store_stale).
 */
static const char upgrade_1[] =
    "CREATE INDEX IF NOT EXISTS events_subject ON events(subject, seq);"
    "DROP TABLE IF EXISTS subjects;"
    "DROP TABLE IF EXISTS nonces;"
    "CREATE INDEX IF NOT EXISTS queries_subject ON "
    "queries(subject);" TABLES_REUSE TABLES_SLOTS TABLES_DERIVED
    "INSERT OR REPLACE INTO settings(key, value)"
    " VALUES('" SRV_SETTING_STALE "', '1');"
    "INSERT OR REPLACE INTO settings(key, value)"
    " VALUES('schema_version', '2');";

/*
 * Version 2 to 3: the people the administrator registers (users), and
 * tokens that may name one. Everyone a store of version 2 took events
 * from becomes a person of it, with the role and site it judged their
 * events by (their devices'), so the upgrade refuses nothing that was
 * accepted before; a name that several devices of different roles or
 * sites carried takes the role and site of the one that sent the most of
 * its events (then the oldest), so the upgrade is the same on every copy.
 * Full names are user names until the administrator corrects them. Each
 * device's newest clock seen is read from its events (max_hlc, one pass).
 * The store gets its identity (store_id).
 */
static const char upgrade_2[] = TABLES_USERS
    "ALTER TABLE tokens ADD COLUMN user TEXT NOT NULL"
    " DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN max_hlc TEXT NOT NULL"
    " DEFAULT '';"
    "CREATE TEMP TABLE upgrade_dev AS SELECT device,"
    " max(json_extract(json, '$.hlc')) AS hlc, count(*) AS n"
    " FROM events GROUP BY device;"
    "UPDATE devices SET max_hlc = u.hlc FROM upgrade_dev u"
    " WHERE u.device = devices.id;"
    /* one person per user name, as their busiest device has it */
    "INSERT OR IGNORE INTO users(name, full_name, role, site,"
    " created_ms) SELECT user, user, role, site, created_ms FROM"
    " (SELECT d.*, row_number() OVER (PARTITION BY d.user ORDER"
    " BY COALESCE(u.n, 0) DESC, d.created_ms, d.id) AS r FROM"
    " devices d LEFT JOIN upgrade_dev u ON u.device = d.id)"
    " WHERE r = 1;"
    "INSERT OR IGNORE INTO users(name, full_name, role, site,"
    " created_ms) SELECT u, u, role, site, 0 FROM (SELECT e.u, d.role,"
    " d.site, row_number() OVER (PARTITION BY e.u ORDER BY e.n DESC,"
    " d.id) AS r FROM (SELECT json_extract(json, '$.user') AS u,"
    " device, count(*) AS n FROM events GROUP BY u, device) e"
    " JOIN devices d ON d.id = e.device WHERE e.u IS NOT NULL)"
    " WHERE r = 1;"
    "DROP TABLE upgrade_dev;" SETTING_STORE_ID
    "INSERT OR REPLACE INTO settings(key, value)"
    " VALUES('schema_version', '3');";

/* Version 3 to 4: the schema's history (TABLES_HISTORY). */
static const char upgrade_3[] =
    TABLES_HISTORY "INSERT OR REPLACE INTO settings(key, value)"
		   " VALUES('schema_version', '4');";

/* Version 4 to 5: the index of unblinded events (INDEX_UNBLINDED). */
static const char upgrade_4[] =
    INDEX_UNBLINDED "INSERT OR REPLACE INTO settings(key, value)"
		    " VALUES('schema_version', '5');";

/*
 * Version 5 to 6: each form instance's items in its forms row instead of
 * a row per item (store_items.c). The derived tables are then stale
 * until the next writer rebuilds them from the events (srv_store_stale).
 */
static const char upgrade_5[] = "DROP TABLE IF EXISTS items;"
				"DROP TABLE IF EXISTS forms;" TABLE_FORMS
				"INSERT OR REPLACE INTO settings(key, value)"
				" VALUES('" SRV_SETTING_STALE "', '1');"
				"INSERT OR REPLACE INTO settings(key, value)"
				" VALUES('schema_version', '6');";

/* The upgrade from each older version to the next. */
static const char *const upgrades[] = {NULL,	  upgrade_1, upgrade_2,
				       upgrade_3, upgrade_4, upgrade_5};

_Static_assert(SRV_SCHEMA_VERSION == 6 &&
		   sizeof(upgrades) / sizeof(upgrades[0]) == SRV_SCHEMA_VERSION,
	       "an upgrade from every older version");

const char *const srv_store_sql[ST_COUNT] = {
    [ST_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [ST_SETTING_PUT] = "INSERT OR REPLACE INTO settings(key, value) "
		       "VALUES(?1, ?2)",
    [ST_SITE_ADD] = "INSERT INTO sites(code, name, created_ms) "
		    "VALUES(?1, ?2, ?3)",
    [ST_SITE_GET] = "SELECT 1 FROM sites WHERE code = ?1",
    [ST_SITE_EACH] = "SELECT code, name FROM sites ORDER BY code",
    [ST_TOKEN_ADD] = "INSERT INTO tokens(id, hash, site, role, created_ms,"
		     " expires_ms, user) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_TOKEN_BY_HASH] = "SELECT id, hash, site, role, created_ms,"
			 " expires_ms, used_ms, device, revoked, user"
			 " FROM tokens WHERE hash = ?1",
    [ST_TOKEN_EACH] = "SELECT id, hash, site, role, created_ms, expires_ms,"
		      " used_ms, device, revoked, user FROM tokens"
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
		      " user, created_ms, revoked_ms, max_hlc FROM devices"
		      " WHERE id = ?1",
    [ST_DEVICE_EACH] = "SELECT id, public_key, site, role, device_index,"
		       " user, created_ms, revoked_ms, max_hlc FROM devices"
		       " ORDER BY site, device_index",
    [ST_DEVICE_SEEN] = "UPDATE devices SET max_hlc = ?2 WHERE id = ?1"
		       " AND max_hlc < ?2",
    [ST_DEVICE_REVOKE] = "UPDATE devices SET revoked_ms = ?2"
			 " WHERE id = ?1 AND revoked_ms = 0",
    [ST_USER_ADD] = "INSERT INTO users(name, full_name, role, site,"
		    " created_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_USER_GET] = "SELECT name, full_name, role, site, created_ms,"
		    " disabled_ms, disabled_reason FROM users WHERE name = ?1",
    [ST_USER_EACH] = "SELECT name, full_name, role, site, created_ms,"
		     " disabled_ms, disabled_reason FROM users"
		     " WHERE (?1 IS NULL OR site = ?1)"
		     " AND (?2 IS NULL OR role = ?2) ORDER BY site, name",
    [ST_USER_DISABLE] = "UPDATE users SET disabled_ms = ?2,"
			" disabled_reason = ?3 WHERE name = ?1"
			" AND disabled_ms = 0",
    [ST_REUSE_ADD] = "INSERT INTO subject_reuse(subject, device, hlc)"
		     " VALUES(?1, ?2, ?3) ON CONFLICT(subject, device)"
		     " DO UPDATE SET hlc = min(hlc, excluded.hlc)",
    [ST_REUSE_GET] = "SELECT hlc FROM subject_reuse WHERE subject = ?1"
		     " AND device = ?2",
    [ST_EVENT_ADD] = "INSERT INTO events(id, device, site, subject, kind,"
		     " unblinded, json, received_at) VALUES(?1, ?2, ?3, ?4,"
		     " ?5, ?6, ?7, ?8)",
    [ST_EVENT_GET] = "SELECT json FROM events WHERE id = ?1",
    [ST_EVENT_EACH] = "SELECT seq, id, device, site, subject, kind,"
		      " unblinded, json, received_at FROM events"
		      " WHERE seq > ?1 AND (?2 OR unblinded = 0)"
		      " ORDER BY seq LIMIT ?3",
    [ST_EVENT_EACH_SITE] = "SELECT seq, id, device, site, subject, kind,"
			   " unblinded, json, received_at FROM events"
			   " WHERE site = ?4 AND seq > ?1"
			   " AND (?2 OR unblinded = 0) ORDER BY seq LIMIT ?3",
    [ST_EVENT_MAX] = "SELECT COALESCE(MAX(seq), 0) FROM events",
    [ST_EVENT_WITHHELD] = "SELECT seq, id, device, site, subject, kind,"
			  " unblinded, json, received_at FROM events"
			  " WHERE seq > ?1 AND seq <= ?2 AND unblinded = 1"
			  " AND (?3 IS NULL OR site = ?3) ORDER BY seq",
    [ST_EVENT_OF_SUBJECT] = "SELECT seq, id, device, site, subject, kind,"
			    " unblinded, json, received_at FROM events"
			    " WHERE subject = ?1 AND (?2 OR unblinded = 0)"
			    " ORDER BY seq",
    [ST_SUBJECT_NAMES] = "SELECT subject, min(site) FROM events"
			 " WHERE ?1 IS NULL OR site = ?1"
			 " GROUP BY subject ORDER BY subject",
    [ST_SUBJECT_NEVENTS] = "SELECT nevents FROM subjects WHERE subject = ?1",
    [ST_SUBJECT_PUT] = "INSERT OR REPLACE INTO subjects(subject, site,"
		       " nevents, state, summary) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_SUBJECT_EACH] = "SELECT summary FROM subjects"
			" WHERE ?1 IS NULL OR site = ?1 ORDER BY subject",
    [ST_QUERIES_DEL] = "DELETE FROM queries WHERE subject = ?1",
    [ST_QUERY_PUT] = "INSERT OR REPLACE INTO queries(id, subject, site,"
		     " visit, form, instance, item, status, system, text,"
		     " nanswers) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		     " ?10, ?11)",
    [ST_QUERY_DEL_ID] = "DELETE FROM queries WHERE id = ?1",
    [ST_QUERY_EACH] = "SELECT id, subject, site, visit, form, instance,"
		      " item, status, system, text, nanswers FROM queries"
		      " WHERE (?1 IS NULL OR site = ?1)"
		      " AND (?2 IS NULL OR status = ?2)"
		      " ORDER BY site, subject, id LIMIT ?3",
    [ST_FORM_ROWS_OF] = "SELECT subject, visit, form, instance, items"
			" FROM forms WHERE subject = ?1 AND visit = ?2"
			" AND form = ?3 ORDER BY length(instance), instance",
    [ST_FORM_ROWS_EACH] = "SELECT subject, visit, form, instance, items"
			  " FROM forms WHERE subject = ?1"
			  " ORDER BY visit, form, length(instance), instance",
    [ST_FORM_ITEMS] = "SELECT items FROM forms WHERE subject = ?1"
		      " AND visit = ?2 AND form = ?3 AND instance = ?4",
    [ST_FORMS_DEL] = "DELETE FROM forms WHERE subject = ?1",
    [ST_FORM_PUT] = "INSERT OR REPLACE INTO forms(subject, visit, form,"
		    " instance, nitems, nconflicts, nsigns, sign, broken,"
		    " items) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [ST_SLOT_GET] = "SELECT randno, list_id, site, stratum, seq, kit,"
		    " coalesce(device, ''), coalesce(subject, ''),"
		    " arm_unblinding, arm_site, coalesce(event, '')"
		    " FROM rand_slots WHERE randno = ?1",
    [ST_SLOT_OF_SUBJECT] = "SELECT randno FROM rand_slots"
			   " WHERE subject = ?1",
    [ST_SLOT_MARK] = "UPDATE rand_slots SET subject = ?2, event = ?3,"
		     " used_at = ?4, device = coalesce(device, ?5),"
		     " leased_at = coalesce(leased_at, ?4) WHERE randno = ?1",
    [ST_SLOT_KIT] = "SELECT randno FROM rand_slots WHERE kit = ?1",
    [ST_SLOT_INSERT] = "INSERT INTO rand_slots(randno, list_id, site,"
		       " stratum, seq, kit, arm_unblinding, arm_site)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_SLOT_DELETE] = "DELETE FROM rand_slots WHERE randno = ?1",
    [ST_SLOT_CELLS] = "SELECT DISTINCT stratum FROM rand_slots"
		      " WHERE site = ?1 ORDER BY stratum",
    [ST_SLOT_HAVE] = "SELECT count(*) FROM rand_slots WHERE device = ?1"
		     " AND stratum = ?2 AND site = ?3 AND subject IS NULL",
    [ST_SLOT_LEASE] = "UPDATE rand_slots SET device = ?1, leased_at = ?2"
		      " WHERE randno IN (SELECT randno FROM rand_slots"
		      " WHERE site = ?3 AND stratum = ?4 AND device IS NULL"
		      " AND subject IS NULL ORDER BY seq LIMIT ?5)",
    [ST_SLOT_HOLD] = "UPDATE rand_slots SET device = ?2, leased_at = ?4"
		     " WHERE randno = ?1 AND site = ?3 AND device IS NULL"
		     " AND subject IS NULL",
    [ST_SLOT_LEASED] = "SELECT randno, list_id, site, stratum, seq, kit,"
		       " coalesce(device, ''), coalesce(subject, ''),"
		       " arm_unblinding, arm_site FROM rand_slots"
		       " WHERE device = ?1 AND subject IS NULL"
		       " ORDER BY stratum, seq",
    [ST_SLOT_ASSIGNED] = "SELECT randno, list_id, site, stratum, seq, kit,"
			 " coalesce(device, ''), coalesce(subject, ''),"
			 " arm_unblinding, arm_site FROM rand_slots"
			 " WHERE site = ?1 AND subject IS NOT NULL"
			 " ORDER BY randno",
    [ST_SLOT_KEYS] = "SELECT NULL, list_id, site, '', 0, '', '', '',"
		     " codebreak_pub, codebreak_key FROM rand_sites"
		     " WHERE site = ?1 ORDER BY list_id",
    [ST_SLOT_ARMS] = "SELECT randno, list_id, site, stratum, seq, kit,"
		     " coalesce(device, ''), coalesce(subject, ''),"
		     " arm_unblinding, arm_site FROM rand_slots"
		     " WHERE subject IS NOT NULL ORDER BY site, randno",
    [ST_SLOT_LIST_ADD] = "INSERT OR IGNORE INTO rand_lists(list_id,"
			 " fingerprint, study, imported_at, nslots)"
			 " VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_SLOT_SITE_ADD] = "INSERT OR IGNORE INTO rand_sites(list_id, site,"
			 " codebreak_pub, codebreak_key)"
			 " VALUES(?1, ?2, ?3, ?4)",
    [ST_SLOT_COUNTS] = "SELECT site, count(*), count(device),"
		       " count(subject) FROM rand_slots GROUP BY site"
		       " ORDER BY site",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

static void checkpointer_stop(struct srv_store *s);
static int sq_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err);

/* ---- opening ------------------------------------------------------------- */

static int store_path(const char *dir, const char *file, char *path, size_t cap,
		      struct cb_err *err)
{
	if ((size_t)snprintf(path, cap, "%s/%s", dir, file) >= cap)
		return cb_err_set(err, CB_EINVAL,
				  "data directory path is too "
				  "long");
	return 0;
}

static int open_db(const char *dir, const char *path, int readonly,
		   struct srv_store **out, struct cb_err *err)
{
	/* A 16 MiB page cache keeps the upper levels of the indexes a push
	 * writes (event ids, item keys) in memory; the leaves it misses come
	 * from the operating system's cache of the file. A larger one bought
	 * no speed at 1,000,000 events (docs/PERFORMANCE.md) and only made
	 * the server's memory grow with the store. */
	static const char pragmas[] = "PRAGMA journal_mode=WAL;"
				      "PRAGMA synchronous=FULL;"
				      "PRAGMA foreign_keys=ON;"
				      "PRAGMA secure_delete=ON;"
				      "PRAGMA cache_size=-16384;";
	/* A reader (one per worker thread) mostly walks the events in
	 * sequence for pulls, reading each page once: 2 MiB keeps the
	 * indexes' upper levels; more only made the memory grow with the
	 * threads. */
	static const char read_pragmas[] = "PRAGMA cache_size=-2048;"
					   "PRAGMA query_only=ON;";
	struct sq_store *q = calloc(1, sizeof(*q));
	struct srv_store *s;
	int rc;

	*out = NULL;
	if (!q)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	s = &q->base; /* only once there is one: UBSan */
	q->base.ops = &srv_sqlite_ops;
	snprintf(q->dir, sizeof(q->dir), "%s", dir);
	q->readonly = readonly;
	rc =
	    cb_db_open(&SQ(s)->db, path,
		       (readonly ? SQLITE_OPEN_READONLY
				 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
			   SQLITE_OPEN_NOMUTEX,
		       5000, "central store", srv_store_sql, ST_COUNT, err);
	/* The writer's rows (an event's text, a form's items text) are
	 * a kilobyte or two: SQLite builds each in memory of its own, from
	 * slots of this size rather than from malloc (SQLite's default
	 * slots are too small for them). A refusal (memory already lent)
	 * only leaves the default. */
	if (!rc && !readonly)
		(void)sqlite3_db_config(SQ(s)->db.db, SQLITE_DBCONFIG_LOOKASIDE,
					NULL, 2048, 128);
	if (!rc)
		rc = cb_db_exec(&SQ(s)->db, readonly ? read_pragmas : pragmas,
				"setting up", err);
	if (rc) {
		sq_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int setting_put(struct srv_store *s, const char *key, const void *v,
		       size_t n, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SETTING_PUT, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, key);
	cb_db_bind_blob(st, 2, v, n);
	return st_done(s, st, "write setting", err);
}

/* A setting into a malloc'd NUL-terminated string; CB_ENOTFOUND. */
static int setting_get(struct srv_store *s, const char *key, char **out,
		       size_t *len, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SETTING_GET, err);
	const void *p;
	size_t n;
	int rc;

	*out = NULL;
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, key);
	rc = st_row(s, st, "read setting", err);
	if (rc <= 0) {
		sqlite3_reset(st);
		return rc ? rc
			  : cb_err_set(err, CB_ENOTFOUND, "no setting %s", key);
	}
	p = sqlite3_column_blob(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	*out = malloc(n + 1);
	if (!*out) {
		sqlite3_reset(st);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (n)
		memcpy(*out, p, n);
	(*out)[n] = '\0';
	if (len)
		*len = n;
	sqlite3_reset(st);
	return 0;
}

/* Record that this casebookd brought the schema to `version` now. */
static int history_add(struct srv_store *s, long version, struct cb_err *err)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO schema_history(version, applied_ms,"
		 " casebookd) VALUES(%ld, %lld, '%s')",
		 version, (long long)cb_clock_now_ms(), CB_VERSION);
	return cb_db_exec(&SQ(s)->db, sql, "record the schema's history", err);
}

int sq_create(const char *dir, const char *study, const char *proto,
	      size_t proto_len, const char *proto_sha256,
	      struct srv_store **out, struct cb_err *err)
{
	char path[4096], ver[8];
	struct srv_store *s;
	int rc;

	*out = NULL;
	rc = store_path(dir, SRV_STORE_FILE, path, sizeof(path), err);
	if (rc)
		return rc;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", dir,
				  strerror(errno));
	if (access(path, F_OK) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "%s already holds a central store", dir);
	rc = open_db(dir, path, 0, &s, err);
	if (rc)
		return rc;
	snprintf(ver, sizeof(ver), "%d", SRV_SCHEMA_VERSION);
	rc = cb_db_exec(&SQ(s)->db, "BEGIN IMMEDIATE", "create schema", err);
	if (!rc)
		rc = cb_db_exec(&SQ(s)->db, srv_store_schema, "create schema",
				err);
	if (!rc)
		rc = setting_put(s, "schema_version", ver, strlen(ver), err);
	if (!rc)
		rc = history_add(s, SRV_SCHEMA_VERSION, err);
	if (!rc)
		rc = setting_put(s, "study", study, strlen(study), err);
	if (!rc)
		rc = setting_put(s, "protocol", proto, proto_len, err);
	if (!rc)
		rc = setting_put(s, "protocol_sha256", proto_sha256,
				 strlen(proto_sha256), err);
	if (!rc)
		rc = sq_commit(s, err);
	if (rc) {
		sq_close(s);
		unlink(path);
		return rc;
	}
	*out = s;
	return 0;
}

static int sq_store_id(struct srv_store *s, char out[SRV_ID_HEX + 1],
		       struct cb_err *err)
{
	char *v = NULL;
	size_t n = 0;
	int rc = setting_get(s, "store_id", &v, &n, err);

	if (rc)
		return rc;
	if (n != SRV_ID_HEX) {
		free(v);
		return cb_err_set(err, CB_EINTEGRITY,
				  "central store: bad store id");
	}
	memcpy(out, v, SRV_ID_HEX + 1);
	free(v);
	return 0;
}

static int sq_store_id_renew(struct srv_store *s, struct cb_err *err)
{
	return cb_db_exec(&SQ(s)->db,
			  "INSERT OR REPLACE INTO settings(key, value)"
			  " VALUES('store_id', lower(hex(randomblob(16))))",
			  "give the store a new identity", err);
}

/* The store's schema version (1 for a store from before the setting). */
static int sq_schema_version(struct srv_store *s, long *v, struct cb_err *err)
{
	char *text = NULL;
	int rc = setting_get(s, "schema_version", &text, NULL, err);

	*v = 1;
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	*v = strtol(text, NULL, 10);
	free(text);
	return *v >= 1 ? 0
		       : cb_err_set(err, CB_EINTEGRITY,
				    "central store: bad schema version");
}

/* Check the version, and upgrade an older store (a writer only). */
static int check_schema(struct srv_store *s, struct cb_err *err)
{
	long v = 0;
	int rc = sq_schema_version(s, &v, err);

	if (rc)
		return rc;
	if (v > SRV_SCHEMA_VERSION)
		return cb_err_set(err, CB_EINVAL,
				  "this central store has schema version %ld, "
				  "made by a newer casebookd; this one reads "
				  "version %d: run the newer casebookd",
				  v, SRV_SCHEMA_VERSION);
	if (v == SRV_SCHEMA_VERSION)
		return 0;
	if (SQ(s)->readonly)
		return cb_err_set(err, CB_EINVAL,
				  "this central store has schema version %ld "
				  "and must be upgraded first: run 'casebookd "
				  "rebuild' (or serve) on it",
				  v);
	rc = cb_db_exec(&SQ(s)->db, "BEGIN IMMEDIATE", "upgrade the schema",
			err);
	if (rc)
		return rc;
	for (; !rc && v < SRV_SCHEMA_VERSION; v++) {
		rc = cb_db_exec(&SQ(s)->db, upgrades[v], "upgrade the schema",
				err);
		if (!rc && v + 1 >= 4)
			rc = history_add(s, v + 1, err);
	}
	if (!rc)
		rc = sq_commit(s, err);
	else
		sq_rollback(s);
	return rc;
}

static int open_store(const char *dir, int readonly, struct srv_store **out,
		      struct cb_err *err)
{
	char path[4096];
	char *study = NULL;
	int rc;

	*out = NULL;
	rc = store_path(dir, SRV_STORE_FILE, path, sizeof(path), err);
	if (rc)
		return rc;
	if (access(path, F_OK))
		return cb_err_set(err, CB_ENOTFOUND,
				  "%s holds no central store (run 'casebookd "
				  "init --data %s --protocol FILE')",
				  dir, dir);
	rc = open_db(dir, path, readonly, out, err);
	if (rc)
		return rc;
	rc = check_schema(*out, err);
	if (!rc)
		rc = sq_study(*out, &study, NULL, NULL, NULL, err);
	free(study);
	if (rc) {
		sq_close(*out);
		*out = NULL;
	}
	return rc;
}

int srv_store_open_file(const char *path, struct srv_store **out,
			struct cb_err *err)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int rc;

	/* What the backend keeps beside its store is in the file's
	 * directory. */
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	rc = open_db(dir, path, 0, out, err);
	if (!rc)
		rc = check_schema(*out, err);
	if (rc) {
		sq_close(*out);
		*out = NULL;
	}
	return rc;
}

int sq_leases_paused(struct srv_store *s, char *why, size_t cap,
		     struct cb_err *err)
{
	char *v = NULL;
	int rc = setting_get(s, SRV_SETTING_LEASES_PAUSED, &v, NULL, err);

	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	if (why && cap)
		snprintf(why, cap, "%s", v);
	free(v);
	return 1;
}

static int sq_leases_resume(struct srv_store *s, int *was, struct cb_err *err)
{
	int rc = sq_leases_paused(s, NULL, 0, err);

	*was = rc == 1;
	if (rc <= 0)
		return rc;
	return cb_db_exec(
	    &SQ(s)->db,
	    "DELETE FROM settings WHERE key = '" SRV_SETTING_LEASES_PAUSED "'",
	    "resuming slot leases", err);
}

int sq_open(const char *dir, int readonly, struct srv_store **out,
	    struct cb_err *err)
{
	return open_store(dir, readonly, out, err);
}

static int sq_stale(struct srv_store *s)
{
	char *v = NULL;
	struct cb_err err;
	int stale = !setting_get(s, SRV_SETTING_STALE, &v, NULL, &err) && v &&
		    !strcmp(v, "1");

	free(v);
	return stale;
}

static int sq_stale_clear(struct srv_store *s, struct cb_err *err)
{
	return setting_put(s, SRV_SETTING_STALE, "0", 1, err);
}

static int sq_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err)
{
	char *a = NULL, *b = NULL, *c = NULL;
	size_t n = 0;
	int rc;

	rc = setting_get(s, "study", &a, NULL, err);
	if (!rc && proto)
		rc = setting_get(s, "protocol", &b, &n, err);
	if (!rc && sha256)
		rc = setting_get(s, "protocol_sha256", &c, NULL, err);
	if (rc) {
		free(a);
		free(b);
		free(c);
		if (rc == CB_ENOTFOUND)
			return cb_err_set(err, CB_EINTEGRITY,
					  "central store: the study settings "
					  "are missing");
		return rc;
	}
	if (study)
		*study = a;
	else
		free(a);
	if (proto) {
		*proto = b;
		if (proto_len)
			*proto_len = n;
	}
	if (sha256)
		*sha256 = c;
	return 0;
}

void sq_close(struct srv_store *s)
{
	if (!s)
		return;
	checkpointer_stop(s);
	cb_db_close(&SQ(s)->db);
	free(s);
}

/* ---- transactions ------------------------------------------------------ */

void srv_store_memory_limit(long long bytes)
{
	sqlite3_soft_heap_limit64((sqlite3_int64)bytes);
}

static int sq_begin(struct srv_store *s, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_BEGIN, err);

	return st ? st_done(s, st, "begin", err) : err->code;
}

static int sq_begin_read(struct srv_store *s, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_BEGIN_READ, err);

	return st ? st_done(s, st, "begin", err) : err->code;
}

int sq_commit(struct srv_store *s, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_COMMIT, err);
	int rc = st ? st_done(s, st, "commit", err) : err->code;

	if (rc)
		sq_rollback(s);
	return rc;
}

void sq_rollback(struct srv_store *s)
{
	if (s && SQ(s)->db.db && !sqlite3_get_autocommit(SQ(s)->db.db))
		sqlite3_exec(SQ(s)->db.db, "ROLLBACK", NULL, NULL, NULL);
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
	struct checkpointer *k = SQ(s)->ckpt;

	if (!k)
		return;
	sqlite3_wal_autocheckpoint(SQ(s)->db.db,
				   CKPT_WAKE_PAGES); /* own hook back */
	pthread_mutex_lock(&k->lock);
	k->stop = 1;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->tid, NULL);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
	SQ(s)->ckpt = NULL;
}

static int sq_checkpointer(struct srv_store *s, struct cb_err *err)
{
	const char *path = sqlite3_db_filename(SQ(s)->db.db, "main");
	struct checkpointer *k;
	sigset_t all, old;
	int rc;

	if (SQ(s)->ckpt)
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
	/* The thread takes no signal: serve's stop signals go to the thread
	 * that waits for them, never to this one (whose default action for
	 * SIGTERM would end the process at once). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&k->tid, NULL, checkpointer_main, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		sqlite3_close(k->db);
		free(k);
		return cb_err_set(err, CB_ENOMEM,
				  "cannot start the checkpoint thread");
	}
	SQ(s)->ckpt = k;
	sqlite3_wal_hook(SQ(s)->db.db, wal_hook,
			 k); /* replaces autocheckpoint */
	return 0;
}

/* ---- sites ------------------------------------------------------------- */

static int sq_site_add(struct srv_store *s, const char *code, const char *name,
		       struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SITE_ADD, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, code);
	cb_db_bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, cb_clock_now_ms());
	rc = st_done(s, st, "add site", err);
	if (rc == CB_EEXIST)
		return cb_err_set(err, CB_EEXIST, "site %s already exists",
				  code);
	return rc;
}

static int sq_site_exists(struct srv_store *s, const char *code,
			  struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SITE_GET, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, code);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return st_fail(s, rc, "read site", err);
}

static int sq_site_each(struct srv_store *s,
			int (*fn)(const char *code, const char *name,
				  void *ctx),
			void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_SITE_EACH, err);
	int rc;

	if (!st)
		return err->code;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = fn(cb_db_col_text(st, 0), cb_db_col_text(st, 1), ctx);

		if (r) {
			sqlite3_reset(st);
			return r;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : st_fail(s, rc, "list sites", err);
}

/* ---- tokens ------------------------------------------------------------ */

static int sq_token_add(struct srv_store *s, const struct srv_token *t,
			struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_TOKEN_ADD, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, t->id);
	cb_db_bind_text(st, 2, t->hash);
	cb_db_bind_text(st, 3, t->site);
	cb_db_bind_text(st, 4, t->role);
	sqlite3_bind_int64(st, 5, t->created_ms);
	sqlite3_bind_int64(st, 6, t->expires_ms);
	cb_db_bind_text(st, 7, t->user);
	return st_done(s, st, "add token", err);
}

static void token_row(sqlite3_stmt *st, struct srv_token *t)
{
	memset(t, 0, sizeof(*t));
	cb_db_col_copy(t->id, sizeof(t->id), st, 0);
	cb_db_col_copy(t->hash, sizeof(t->hash), st, 1);
	cb_db_col_copy(t->site, sizeof(t->site), st, 2);
	cb_db_col_copy(t->role, sizeof(t->role), st, 3);
	t->created_ms = sqlite3_column_int64(st, 4);
	t->expires_ms = sqlite3_column_int64(st, 5);
	t->used_ms = sqlite3_column_int64(st, 6);
	cb_db_col_copy(t->device, sizeof(t->device), st, 7);
	t->revoked = sqlite3_column_int(st, 8);
	cb_db_col_copy(t->user, sizeof(t->user), st, 9);
}

static int sq_token_each(struct srv_store *s,
			 int (*fn)(const struct srv_token *t, void *ctx),
			 void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_TOKEN_EACH, err);
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
	return rc == SQLITE_DONE ? 0 : st_fail(s, rc, "list tokens", err);
}

static int sq_token_revoke(struct srv_store *s, const char *id,
			   struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_TOKEN_REVOKE, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	rc = st_done(s, st, "revoke token", err);
	if (!rc && sqlite3_changes(SQ(s)->db.db) == 0)
		return cb_err_set(err, CB_ENOTFOUND, "no token with id %s", id);
	return rc;
}

/*
 * The person registering a device must be one the administrator
 * registered, enabled, the token's person if it names one, and of the
 * token's site and role: the device's first user is who the token was
 * made for.
 */
static int register_person(struct srv_store *s, const struct srv_token *t,
			   const char *name, struct cb_err *err)
{
	struct srv_user u;
	int rc;

	if (t->user[0] && strcmp(t->user, name))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "this registration token is for user %s, "
				  "not %s",
				  t->user, name);
	rc = sq_user_get(s, name, &u, err);
	if (rc == CB_ENOTFOUND)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "user %s is not known to the server: the "
				  "administrator adds people with 'casebookd "
				  "user add'",
				  name);
	if (rc)
		return rc;
	if (u.disabled_ms)
		return cb_err_set(err, CB_EFORBIDDEN, "user %s is disabled",
				  name);
	if (strcmp(u.site, t->site) || strcmp(u.role, t->role))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "user %s is %s%s%s; this registration token "
				  "is for %s%s%s",
				  name, u.role, u.site[0] ? " at " : "", u.site,
				  t->role, t->site[0] ? " at " : "", t->site);
	return 0;
}

static int register_locked(struct srv_store *s, const char *token_hash,
			   int64_t now_ms, struct srv_device *dev,
			   struct cb_err *err)
{
	struct srv_token t;
	sqlite3_stmt *st;
	int rc;

	st = st_get(s, ST_TOKEN_BY_HASH, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, token_hash);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		token_row(st, &t);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND,
				  "unknown registration token");
	if (rc != SQLITE_ROW)
		return st_fail(s, rc, "read token", err);
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
		    !sq_device_get(s, t.device, &old, &ignored) &&
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
	rc = register_person(s, &t, dev->user, err);
	if (rc)
		return rc;

	st = st_get(s, ST_DEVICE_BY_KEY, err);
	if (!st)
		return err->code;
	cb_db_bind_blob(st, 1, dev->pk, sizeof(dev->pk));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return cb_err_set(err, CB_EEXIST,
				  "this public key is already registered");
	if (rc != SQLITE_DONE)
		return st_fail(s, rc, "read devices", err);

	st = st_get(s, ST_DEVICE_NEXT_INDEX, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, t.site);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return st_fail(s, rc, "next device index", err);
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

	st = st_get(s, ST_DEVICE_ADD, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, dev->id);
	cb_db_bind_blob(st, 2, dev->pk, sizeof(dev->pk));
	cb_db_bind_text(st, 3, dev->site);
	cb_db_bind_text(st, 4, dev->role);
	sqlite3_bind_int64(st, 5, dev->device_index);
	cb_db_bind_text(st, 6, dev->user);
	sqlite3_bind_int64(st, 7, now_ms);
	rc = st_done(s, st, "add device", err);
	if (rc)
		return rc;

	st = st_get(s, ST_TOKEN_USE, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, t.id);
	sqlite3_bind_int64(st, 2, now_ms);
	cb_db_bind_text(st, 3, dev->id);
	rc = st_done(s, st, "use token", err);
	if (!rc && sqlite3_changes(SQ(s)->db.db) != 1)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was already used");
	return rc;
}

static int sq_register(struct srv_store *s, const char *token_hash,
		       int64_t now_ms, struct srv_device *dev,
		       struct cb_err *err)
{
	int rc = sq_begin(s, err);

	if (rc)
		return rc;
	rc = register_locked(s, token_hash, now_ms, dev, err);
	if (rc) {
		sq_rollback(s);
		return rc;
	}
	return sq_commit(s, err);
}

/* ---- devices ----------------------------------------------------------- */

static void device_row(sqlite3_stmt *st, struct srv_device *d)
{
	const void *pk;

	memset(d, 0, sizeof(*d));
	cb_db_col_copy(d->id, sizeof(d->id), st, 0);
	pk = sqlite3_column_blob(st, 1);
	if (pk && sqlite3_column_bytes(st, 1) == (int)sizeof(d->pk))
		memcpy(d->pk, pk, sizeof(d->pk));
	cb_db_col_copy(d->site, sizeof(d->site), st, 2);
	cb_db_col_copy(d->role, sizeof(d->role), st, 3);
	d->device_index = (long)sqlite3_column_int64(st, 4);
	cb_db_col_copy(d->user, sizeof(d->user), st, 5);
	d->created_ms = sqlite3_column_int64(st, 6);
	d->revoked_ms = sqlite3_column_int64(st, 7);
	cb_db_col_copy(d->max_hlc, sizeof(d->max_hlc), st, 8);
}

int sq_device_get(struct srv_store *s, const char *id, struct srv_device *out,
		  struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_DEVICE_GET, err);
	int rc;

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		device_row(st, out);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return cb_err_set(err, CB_ENOTFOUND, "unknown device %s", id);
	return st_fail(s, rc, "read device", err);
}

static int sq_device_each(struct srv_store *s,
			  int (*fn)(const struct srv_device *d, void *ctx),
			  void *ctx, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_DEVICE_EACH, err);
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
	return rc == SQLITE_DONE ? 0 : st_fail(s, rc, "list devices", err);
}

static int sq_device_seen(struct srv_store *s, const char *id, const char *hlc,
			  struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_DEVICE_SEEN, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	cb_db_bind_text(st, 2, hlc);
	return st_done(s, st, "note a device's clock", err);
}

static int sq_device_revoke(struct srv_store *s, const char *id, int64_t now_ms,
			    struct cb_err *err)
{
	struct srv_device d;
	sqlite3_stmt *st;
	int rc;

	rc = sq_device_get(s, id, &d, err);
	if (rc)
		return rc;
	st = st_get(s, ST_DEVICE_REVOKE, err);
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now_ms > 0 ? now_ms : 1);
	return st_done(s, st, "revoke device", err);
}

/* ---- re-used subject ids ---------------------------------------------- */

static int sq_reuse_add(struct srv_store *s, const char *subject,
			const char *device, const char *hlc, struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_REUSE_ADD, err);

	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	cb_db_bind_text(st, 2, device);
	cb_db_bind_text(st, 3, hlc);
	return st_done(s, st, "record a re-used subject id", err);
}

static int sq_reuse_get(struct srv_store *s, const char *subject,
			const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			struct cb_err *err)
{
	sqlite3_stmt *st = st_get(s, ST_REUSE_GET, err);
	int rc;

	hlc[0] = '\0';
	if (!st)
		return err->code;
	cb_db_bind_text(st, 1, subject);
	cb_db_bind_text(st, 2, device);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cb_db_col_copy(hlc, CB_EVENT_HLC_HEX + 1, st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return st_fail(s, rc, "read re-used subject ids", err);
	return 0;
}

/* ---- counts ----------------------------------------------------------------
 */

static int count(struct srv_store *s, const char *q, long *out,
		 struct cb_err *err)
{
	int64_t n = 0;
	int rc = cb_db_int64(&SQ(s)->db, q, &n, err);

	*out = (long)n;
	return rc;
}

static int sq_stats(struct srv_store *s, struct srv_store_stats *st,
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
		rc = count(s, "SELECT COALESCE(SUM(nitems), 0) FROM forms",
			   &st->items, err);
	if (!rc)
		rc = count(s, "SELECT COALESCE(SUM(nconflicts), 0) FROM forms",
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

/* ---- the server key ---------------------------------------------------- */

/* Clear a secret on the stack (volatile, so the stores are kept). */
static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/*
 * The key lives beside the database, in DIR/SRV_KEY_FILE: the 64-byte
 * secret in hex and a newline, mode 0600 (core.h).
 */
static int sq_key_create(struct srv_store *s, const unsigned char *secret,
			 struct cb_err *err)
{
	char path[4200], hex[CB_SIGN_SECRET_BYTES * 2 + 2];
	size_t len;
	int fd, rc;

	rc = store_path(SQ(s)->dir, SRV_KEY_FILE, path, sizeof(path), err);
	if (!rc)
		rc = cb_hex_encode(secret, CB_SIGN_SECRET_BYTES, hex,
				   sizeof(hex), err);
	if (rc)
		return rc;
	len = strlen(hex);
	hex[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		wipe(hex, sizeof(hex));
		if (errno == EEXIST)
			return cb_err_set(err, CB_EEXIST,
					  "%s already holds a server key",
					  SQ(s)->dir);
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", path,
				  strerror(errno));
	}
	rc = write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
	wipe(hex, sizeof(hex));
	if (close(fd) || rc) {
		unlink(path);
		return cb_err_set(err, CB_EIO, "cannot write %s: %s", path,
				  strerror(errno));
	}
	return 0;
}

static int sq_key_get(struct srv_store *s, unsigned char *secret,
		      struct cb_err *err)
{
	char path[4200], *text = NULL;
	size_t len = 0;
	int rc;

	rc = store_path(SQ(s)->dir, SRV_KEY_FILE, path, sizeof(path), err);
	if (rc)
		return rc;
	if (access(path, F_OK) && errno == ENOENT)
		return cb_err_set(err, CB_ENOTFOUND, "%s holds no server key",
				  SQ(s)->dir);
	rc = cb_file_read(path, 256, &text, &len, err);
	if (rc)
		return rc;
	if (len && text[len - 1] == '\n')
		len--;
	rc = cb_hex_decode(text, len, secret, CB_SIGN_SECRET_BYTES, NULL, err);
	cb_wipe_free(text, len + 1);
	if (rc)
		return cb_err_set(err, CB_EINTEGRITY,
				  "the server key %s is damaged", path);
	return 0;
}

/* ---- what only PostgreSQL needs ---------------------------------------- */

/* BEGIN IMMEDIATE already keeps every other writer out. */
static int sq_begin_exclusive(struct srv_store *s, struct cb_err *err)
{
	return sq_begin(s, err);
}

/* One writer at a time already: nothing to lock. */
static int sq_lock_subjects(struct srv_store *s, const char *const *subjects,
			    size_t n, struct cb_err *err)
{
	(void)s;
	(void)subjects;
	(void)n;
	(void)err;
	return 0;
}

/* ---- copying the record tables ----------------------------------------- */

static int sq_raw_each(struct srv_store *s, size_t t,
		       int (*fn)(const struct srv_raw_row *r, void *ctx),
		       void *ctx, struct cb_err *err)
{
	const struct srv_raw_table *tb = &srv_raw_tables[t];
	struct srv_raw_row r;
	char sql[600];
	sqlite3_stmt *st;
	size_t i;
	int rc, cb = 0;

	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", tb->cols,
		 tb->name, tb->order);
	rc = sqlite3_prepare_v2(SQ(s)->db.db, sql, -1, &st, NULL);
	if (rc)
		return st_fail(s, rc, "copy", err);
	r.n = strlen(tb->kinds);
	while ((rc = st_row(s, st, "copy", err)) == 1) {
		for (i = 0; i < r.n; i++) {
			if (sqlite3_column_type(st, (int)i) == SQLITE_NULL) {
				r.v[i] = NULL;
				r.len[i] = 0;
				continue;
			}
			if (tb->kinds[i] == 'b' || tb->kinds[i] == 'B')
				r.v[i] = sqlite3_column_blob(st, (int)i);
			else
				r.v[i] = (const char *)sqlite3_column_text(
				    st, (int)i);
			r.len[i] = (size_t)sqlite3_column_bytes(st, (int)i);
			if (!r.v[i])
				r.v[i] = "";
		}
		cb = fn(&r, ctx);
		if (cb)
			break;
	}
	sqlite3_finalize(st);
	return cb ? cb : rc;
}

static int sq_raw_put(struct srv_store *s, size_t t,
		      const struct srv_raw_row *r, struct cb_err *err)
{
	const struct srv_raw_table *tb = &srv_raw_tables[t];
	char sql[800];
	size_t i, at;
	sqlite3_stmt *st;
	int rc;

	at = (size_t)snprintf(sql, sizeof(sql),
			      "INSERT OR REPLACE INTO %s(%s)"
			      " VALUES(",
			      tb->name, tb->cols);
	for (i = 0; i < r->n && at < sizeof(sql); i++)
		at += (size_t)snprintf(sql + at, sizeof(sql) - at, "%s?",
				       i ? ", " : "");
	if (at >= sizeof(sql) - 2)
		return cb_err_set(err, CB_EINVAL, "copy: too many columns");
	memcpy(sql + at, ")", 2);
	rc = sqlite3_prepare_v2(SQ(s)->db.db, sql, -1, &st, NULL);
	if (rc)
		return st_fail(s, rc, "copy", err);
	for (i = 0; i < r->n; i++) {
		int col = (int)i + 1;
		char k = tb->kinds[i];

		if (!r->v[i])
			sqlite3_bind_null(st, col);
		else if (k == 'i' || k == 'I')
			sqlite3_bind_int64(st, col, strtoll(r->v[i], NULL, 10));
		else if (k == 'b' || k == 'B')
			sqlite3_bind_blob(st, col, r->v[i], (int)r->len[i],
					  SQLITE_TRANSIENT);
		else
			sqlite3_bind_text(st, col, r->v[i], (int)r->len[i],
					  SQLITE_TRANSIENT);
	}
	rc = st_done(s, st, "copy", err);
	sqlite3_finalize(st);
	return rc;
}

/* AUTOINCREMENT follows the largest sequence number inserted. */
static int sq_raw_done(struct srv_store *s, struct cb_err *err)
{
	(void)s;
	(void)err;
	return 0;
}

/* ---- the backend's table ----------------------------------------------- */

const struct srv_store_ops srv_sqlite_ops = {
    .name = "sqlite",
    .create = sq_create,
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .stale = sq_stale,
    .stale_clear = sq_stale_clear,
    .checkpointer = sq_checkpointer,
    .study = sq_study,
    .key_create = sq_key_create,
    .key_get = sq_key_get,
    .begin = sq_begin,
    .begin_read = sq_begin_read,
    .begin_exclusive = sq_begin_exclusive,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock_subjects = sq_lock_subjects,
    .site_add = sq_site_add,
    .site_exists = sq_site_exists,
    .site_each = sq_site_each,
    .token_add = sq_token_add,
    .token_each = sq_token_each,
    .token_revoke = sq_token_revoke,
    .reg = sq_register,
    .device_get = sq_device_get,
    .device_each = sq_device_each,
    .device_revoke = sq_device_revoke,
    .device_seen = sq_device_seen,
    .device_lock = sq_device_get,
    .nonces_open = sq_nonces_open,
    .nonces_close = sq_nonces_close,
    .nonces_use = sq_nonces_use,
    .reuse_add = sq_reuse_add,
    .reuse_get = sq_reuse_get,
    .seq_free = 1,
    .one_writer = 1,
    .event_add = sq_event_add,
    .event_get = sq_event_get,
    .event_each = sq_event_each,
    .withheld_each = sq_withheld_each,
    .subject_events = sq_subject_events,
    .subject_names = sq_subject_names,
    .subject_nevents = sq_subject_nevents,
    .derived_clear = sq_derived_clear,
    .subject_clear = sq_subject_clear,
    .query_put = sq_query_put,
    .query_del = sq_query_del,
    .form_put = sq_form_put,
    .form_items = sq_form_items,
    .subject_put = sq_subject_put,
    .summary_rows = sq_summary_rows,
    .form_rows = sq_form_rows,
    .query_each = sq_query_each,
    .derived_dump = sq_derived_dump,
    .stats = sq_stats,
    .slot_get = sq_slot_get,
    .slot_of_subject = sq_slot_of_subject,
    .slots_put = sq_slots_put,
    .slots_list = sq_slots_list,
    .slots_site = sq_slots_site,
    .slots_lease = sq_slots_lease,
    .slots_each = sq_slots_each,
    .slot_mark = sq_slot_mark,
    .slot_hold = sq_slot_hold,
    .slots_clear_used = sq_slots_clear_used,
    .slots_counts = sq_slots_counts,
    .raw_each = sq_raw_each,
    .raw_put = sq_raw_put,
    .raw_done = sq_raw_done,
    .store_id = sq_store_id,
    .store_id_renew = sq_store_id_renew,
    .leases_paused = sq_leases_paused,
    .leases_resume = sq_leases_resume,
    .backup = sq_backup,
    .user_add = sq_user_add,
    .user_get = sq_user_get,
    .user_each = sq_user_each,
    .user_disable = sq_user_disable,
};
