/*
 * pg_store.c - the central store's PostgreSQL backend (store.h,
 * store_be.h, pg_int.h): the schema and its upgrades, opening, settings, the
 * server key, transactions and locks, sites, tokens, devices, re-used subject
 * ids, nonces, counts and the copy of record tables; its table of functions,
 * srv_pg_ops. Connections and statements are pg_conn.c's (the statements' text
 * pg_sql.c's), events pg_events.c's, the derived tables pg_derived.c's,
 * the randomization slots pg_slots.c's.
 */
#include "pg_int.h"

#include "clock.h"
#include "crypto.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the schema ---------------------------------------------------------- */

/*
 * Every text column collates bytewise ("C"), as SQLite's do: keys order
 * the same on both backends (dumps compare byte for byte) whatever the
 * database's own collation. Integers are BIGINT or INTEGER where SQLite
 * has INTEGER; bytes are BYTEA.
 */
#define T "TEXT COLLATE \"C\""
/* Version 4: which casebookd made or upgraded the store, and when. */
#define PG_HISTORY                                                             \
	"CREATE TABLE schema_history(version BIGINT PRIMARY KEY,"              \
	" applied_ms BIGINT NOT NULL, casebookd " T " NOT NULL);"
/* Version 3: the people the administrator registers. */
#define PG_USERS                                                               \
	"CREATE TABLE users(name " T " PRIMARY KEY, full_name " T " NOT NULL," \
	" role " T " NOT NULL, site " T " NOT NULL, created_ms BIGINT NOT"     \
	" NULL, disabled_ms BIGINT NOT NULL DEFAULT 0, disabled_reason " T     \
	" NOT NULL DEFAULT '');"                                               \
	"CREATE INDEX users_site ON users(site, name);"
/* The store's identity (store.h): new at init, at an upgrade from 2. */
#define PG_STORE_ID                                                            \
	"INSERT INTO settings(key, value) VALUES('store_id',"                  \
	" convert_to(replace(gen_random_uuid()::text, '-', ''), 'UTF8'))"      \
	" ON CONFLICT (key) DO NOTHING;"
/* Version 5: the unblinded events by sequence (store.c's INDEX_UNBLINDED). */
#define PG_UNBLINDED                                                           \
	"CREATE INDEX IF NOT EXISTS events_unblinded ON events(seq)"           \
	" WHERE unblinded = 1;"

/* Version 6: each form instance with its items (store_items.c). */
#define PG_FORMS                                                               \
	"CREATE TABLE forms(subject " T " NOT NULL, visit " T " NOT NULL,"     \
	" form " T " NOT NULL, instance " T " NOT NULL, nitems BIGINT NOT"     \
	" NULL, nconflicts BIGINT NOT NULL, nsigns BIGINT NOT NULL, sign " T   \
	", broken INTEGER NOT NULL, items TEXT NOT NULL, PRIMARY KEY(subject," \
	" visit, form, instance));"
static const char pg_schema[] =
    "CREATE TABLE settings(key " T " PRIMARY KEY, value BYTEA NOT NULL);"
    "CREATE TABLE server_key(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " secret " T " NOT NULL);"
    "CREATE TABLE sites(code " T " PRIMARY KEY, name " T " NOT NULL,"
    " created_ms BIGINT NOT NULL);"
    "CREATE TABLE tokens(id " T " PRIMARY KEY, hash " T " NOT NULL UNIQUE,"
    " site " T " NOT NULL, role " T " NOT NULL, created_ms BIGINT NOT NULL,"
    " expires_ms BIGINT NOT NULL, used_ms BIGINT NOT NULL DEFAULT 0,"
    " device " T " NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0,"
    " \"user\" " T " NOT NULL DEFAULT '');" PG_USERS
    "CREATE TABLE devices(id " T " PRIMARY KEY, public_key BYTEA NOT NULL"
    " UNIQUE, site " T " NOT NULL, role " T " NOT NULL, device_index"
    " INTEGER NOT NULL, \"user\" " T " NOT NULL, created_ms BIGINT NOT NULL,"
    " revoked_ms BIGINT NOT NULL DEFAULT 0, max_hlc " T " NOT NULL DEFAULT"
    " '', UNIQUE(site, device_index));"
    /* Numbers are taken at commit (pg_events.c), not as a default. */
    "CREATE SEQUENCE events_seq;"
    "CREATE TABLE events(seq BIGINT PRIMARY KEY, id " T " NOT NULL UNIQUE,"
    " device " T " NOT NULL, site " T " NOT NULL, subject " T " NOT NULL,"
    " kind " T " NOT NULL, unblinded INTEGER NOT NULL, json TEXT NOT NULL,"
    " received_at " T " NOT NULL);"
    "CREATE INDEX events_site ON events(site, seq);"
    "CREATE INDEX events_subject ON events(subject, seq);" PG_UNBLINDED
    "CREATE TABLE subject_reuse(subject " T " NOT NULL, device " T
    " NOT NULL, hlc " T " NOT NULL, PRIMARY KEY(subject, device));"
    "CREATE TABLE rand_lists(list_id " T " PRIMARY KEY, fingerprint " T
    " NOT NULL, study " T " NOT NULL, imported_at " T " NOT NULL,"
    " nslots BIGINT NOT NULL);"
    "CREATE TABLE rand_sites(list_id " T " NOT NULL, site " T " NOT NULL,"
    " codebreak_pub " T " NOT NULL, codebreak_key " T " NOT NULL,"
    " PRIMARY KEY(list_id, site));"
    "CREATE TABLE rand_slots(randno " T " PRIMARY KEY, list_id " T
    " NOT NULL, site " T " NOT NULL, stratum " T " NOT NULL, seq BIGINT"
    " NOT NULL, kit " T " NOT NULL UNIQUE, arm_unblinding " T " NOT NULL,"
    " arm_site " T " NOT NULL, device " T ", leased_at " T ", subject " T
    " UNIQUE, event " T ", used_at " T ");"
    "CREATE INDEX rand_slots_cell ON rand_slots(site, stratum, seq);"
    "CREATE INDEX rand_slots_device ON rand_slots(device, stratum, seq);"
    "CREATE TABLE nonces(device " T " NOT NULL, nonce " T " NOT NULL,"
    " time_ms BIGINT NOT NULL, PRIMARY KEY(device, nonce));"
    "CREATE INDEX nonces_time ON nonces(time_ms);"
    /* Derived tables: rebuildable from events at any time. */
    "CREATE TABLE queries(id " T " PRIMARY KEY, subject " T " NOT NULL,"
    " site " T " NOT NULL, visit " T " NOT NULL, form " T " NOT NULL,"
    " instance " T " NOT NULL, item " T " NOT NULL, status " T " NOT NULL,"
    " system INTEGER NOT NULL, text " T " NOT NULL, nanswers BIGINT"
    " NOT NULL);"
    "CREATE INDEX queries_site ON queries(site, subject, id);"
    "CREATE INDEX queries_subject ON queries(subject);"
    "CREATE TABLE subjects(subject " T " PRIMARY KEY, site " T " NOT NULL,"
    " nevents BIGINT NOT NULL, state " T " NOT NULL, summary " T " NOT NULL);"
    "CREATE INDEX subjects_site ON subjects(site, subject);" PG_FORMS
	PG_HISTORY;

/*
 * Version 2 to 3, as store.c's upgrade_2: the people the administrator
 * registers (users) and tokens that may name one. Everyone a store of
 * version 2 took events from becomes a person of it, with the role and
 * site it judged their events by (their devices'), so the upgrade
 * refuses nothing accepted before; a name that several devices of
 * different roles or sites carried takes the role and site of the one
 * that sent the most of its events (then the oldest, then by id), so
 * the upgrade is the same on every copy and on both backends. Full
 * names are user names until the administrator corrects them. Each
 * device's newest clock seen is read from its events (max_hlc, one
 * pass). The store gets its identity (store_id).
 */
static const char pg_upgrade_2[] = PG_USERS
    "ALTER TABLE tokens ADD COLUMN \"user\" " T " NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN max_hlc " T " NOT NULL DEFAULT '';"
    "CREATE TEMP TABLE upgrade_dev ON COMMIT DROP AS SELECT device,"
    " max((json::jsonb ->> 'hlc') COLLATE \"C\") AS hlc, count(*) AS n"
    " FROM events GROUP BY device;"
    "UPDATE devices SET max_hlc = u.hlc FROM upgrade_dev u"
    " WHERE u.device = devices.id;"
    /* one person per user name, as their busiest device has it */
    "INSERT INTO users(name, full_name, role, site, created_ms)"
    " SELECT \"user\", \"user\", role, site, created_ms FROM"
    " (SELECT d.*, row_number() OVER (PARTITION BY d.\"user\" ORDER BY"
    " COALESCE(u.n, 0) DESC, d.created_ms, d.id) AS r FROM devices d"
    " LEFT JOIN upgrade_dev u ON u.device = d.id) x WHERE r = 1"
    " ON CONFLICT (name) DO NOTHING;"
    "INSERT INTO users(name, full_name, role, site, created_ms)"
    " SELECT u, u, role, site, 0 FROM (SELECT e.u, d.role, d.site,"
    " row_number() OVER (PARTITION BY e.u ORDER BY e.n DESC, d.id) AS r"
    " FROM (SELECT (json::jsonb ->> 'user') COLLATE \"C\" AS u, device,"
    " count(*) AS n FROM events GROUP BY 1, device) e JOIN devices d"
    " ON d.id = e.device WHERE e.u IS NOT NULL) x WHERE r = 1"
    " ON CONFLICT (name) DO NOTHING;"
    "DROP TABLE upgrade_dev;" PG_STORE_ID;

/*
 * The upgrades, from version [i] to [i] + 1, for a store older than
 * this casebookd. PostgreSQL stores began at version 2.
 */
/*
 * Version 5 to 6, as store.c's upgrade_5: each form instance's items in
 * its forms row instead of a row per item; the derived tables are then
 * stale until the next writer rebuilds them from the events. The forms
 * table is altered, not made again, so what the application role was
 * granted on it stays (docs/OPERATIONS.md).
 */
static const char pg_upgrade_5[] =
    "DROP TABLE IF EXISTS items; DELETE FROM forms;"
    " ALTER TABLE forms ADD COLUMN IF NOT EXISTS items TEXT NOT NULL"
    " DEFAULT '[]'; ALTER TABLE forms ALTER COLUMN items DROP DEFAULT;"
    "INSERT INTO settings(key, value) VALUES('" SRV_SETTING_STALE "',"
    " convert_to('1', 'UTF8')) ON CONFLICT (key) DO UPDATE"
    " SET value = excluded.value;";
static const char *const pg_upgrades[SRV_SCHEMA_VERSION] = {
    [2] = pg_upgrade_2,
    [3] = PG_HISTORY,
    [4] = PG_UNBLINDED,
    [5] = pg_upgrade_5,
};
_Static_assert(SRV_SCHEMA_VERSION == 6, "an upgrade for every version");

/* Record that this casebookd brought the schema to `version` now. */
static int history_add(struct pg_store *p, long version, struct cb_err *err)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
		 "INSERT INTO schema_history(version, applied_ms, casebookd)"
		 " VALUES(%ld, %lld, '%s') ON CONFLICT (version) DO NOTHING",
		 version, (long long)cb_clock_now_ms(), CB_VERSION);
	return pg_exec(p, sql, "record the schema's history", err);
}

_Static_assert(PG_K_STORE == 0x43420001, "lock keys are written out in SQL");

/* ---- opening ------------------------------------------------------------- */

static void pg_close(struct srv_store *s)
{
	struct pg_store *p = PGS(s);

	if (!p)
		return;
	pg_events_forget(p);
	free(p->pend);
	cb_hmap_release(&p->pend_ids);
	pg_numbered_forget(p);
	free(p->num);
	PQfinish(p->conn);
	free(p);
}

/* 1 when the database holds Casebook's tables, 0 when not. */
static int has_store(struct pg_store *p, struct cb_err *err)
{
	PGresult *r = PQexec(p->conn, "SELECT to_regclass('settings') IS NOT"
				      " NULL");
	int rc;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(p, r, "reading the schema", err);
		PQclear(r);
		return rc;
	}
	rc = !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return rc;
}

static int setting_put(struct pg_store *p, const char *key, const void *v,
		       size_t n, struct cb_err *err)
{
	const char *vals[2] = {key, v};
	int lens[2] = {0, (int)n}, fmts[2] = {0, 1};
	PGresult *r = pg_run(p, PG_SETTING_PUT, 2, vals, lens, fmts,
			     "write setting", err);

	if (!r)
		return err->code;
	PQclear(r);
	return 0;
}

/* A setting into a malloc'd NUL-terminated string; CB_ENOTFOUND. */
static int setting_get(struct pg_store *p, const char *key, char **out,
		       size_t *len, struct cb_err *err)
{
	const char *v[1] = {key};
	PGresult *r =
	    pg_run(p, PG_SETTING_GET, 1, v, NULL, NULL, "read setting", err);
	const char *t;
	size_t n;
	long got;

	*out = NULL;
	if (!r)
		return err->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return cb_err_set(err, CB_ENOTFOUND, "no setting %s", key);
	}
	t = PQgetvalue(r, 0, 0);
	n = strlen(t);
	*out = malloc(n / 2 + 1);
	if (!*out) {
		PQclear(r);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	got = pg_bytes(r, 0, 0, (unsigned char *)*out, n / 2);
	PQclear(r);
	if (got < 0) {
		free(*out);
		*out = NULL;
		return cb_err_set(err, CB_EINTEGRITY,
				  "central store: setting %s is damaged", key);
	}
	(*out)[got] = '\0';
	if (len)
		*len = (size_t)got;
	return 0;
}

static int pg_commit(struct srv_store *s, struct cb_err *err);
static void pg_rollback(struct srv_store *s);

static int pg_create(const char *where, const char *study, const char *proto,
		     size_t proto_len, const char *proto_sha256,
		     struct srv_store **out, struct cb_err *err)
{
	struct pg_store *p;
	char ver[8];
	int rc;

	*out = NULL;
	rc = pg_connect(where, 0, 0, &p, err);
	if (rc)
		return rc;
	p->base.ops = &srv_pg_ops;
	if (strcmp(PQparameterStatus(p->conn, "server_encoding")
		       ? PQparameterStatus(p->conn, "server_encoding")
		       : "",
		   "UTF8")) {
		pg_close(&p->base);
		return cb_err_set(err, CB_EINVAL,
				  "the database %s is not in UTF8 (create it "
				  "with ENCODING 'UTF8', docs/OPERATIONS.md)",
				  where);
	}
	rc = has_store(p, err);
	if (rc == 1)
		rc = cb_err_set(err, CB_EEXIST,
				"%s already holds a central store", where);
	snprintf(ver, sizeof(ver), "%d", SRV_SCHEMA_VERSION);
	if (!rc)
		rc = pg_exec(p, "BEGIN", "create schema", err);
	if (!rc)
		rc = pg_exec(p, pg_schema, "create schema", err);
	if (!rc)
		rc = setting_put(p, "schema_version", ver, strlen(ver), err);
	if (!rc)
		rc = history_add(p, SRV_SCHEMA_VERSION, err);
	if (!rc)
		rc = pg_exec(p, PG_STORE_ID, "make the store's identity", err);
	if (!rc)
		rc = setting_put(p, "study", study, strlen(study), err);
	if (!rc)
		rc = setting_put(p, "protocol", proto, proto_len, err);
	if (!rc)
		rc = setting_put(p, "protocol_sha256", proto_sha256,
				 strlen(proto_sha256), err);
	if (!rc)
		rc = pg_commit(&p->base, err);
	if (rc) {
		pg_rollback(&p->base);
		pg_close(&p->base);
		return rc;
	}
	*out = &p->base;
	return 0;
}

static int pg_schema_version(struct srv_store *s, long *v, struct cb_err *err)
{
	char *text = NULL;
	int rc = setting_get(PGS(s), "schema_version", &text, NULL, err);

	*v = 0;
	if (rc)
		return rc == CB_ENOTFOUND
			   ? cb_err_set(err, CB_EINTEGRITY,
					"central store: no schema version")
			   : rc;
	*v = strtol(text, NULL, 10);
	free(text);
	return *v >= 1 ? 0
		       : cb_err_set(err, CB_EINTEGRITY,
				    "central store: bad schema version");
}

/* Check the version, and upgrade an older store (a writer only). */
static int check_schema(struct pg_store *p, struct cb_err *err)
{
	char ver[24];
	long v = 0;
	int rc = pg_schema_version(&p->base, &v, err);

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
	if (p->readonly)
		return cb_err_set(err, CB_EINVAL,
				  "this central store has schema version %ld "
				  "and must be upgraded first: run 'casebookd "
				  "rebuild' (or serve) on it",
				  v);
	/* Several processes starting at once: one upgrades, the others
	 * wait for it and find the store current. */
	rc = pg_exec(p, "BEGIN; SELECT pg_advisory_xact_lock(1128398855, 0)",
		     "upgrade the schema", err);
	if (!rc)
		rc = pg_schema_version(&p->base, &v, err);
	for (; !rc && v < SRV_SCHEMA_VERSION; v++) {
		if (!pg_upgrades[v]) {
			rc = cb_err_set(err, CB_EINTEGRITY,
					"central store: no upgrade from schema "
					"version %ld",
					v);
			break;
		}
		rc = pg_exec(p, pg_upgrades[v], "upgrade the schema", err);
		if (rc && (strstr(err->msg, "must be owner") ||
			   strstr(err->msg, "permission denied")))
			cb_err_prefix(err,
				      "upgrading needs the role that owns the "
				      "tables (docs/OPERATIONS.md): ");
		snprintf(ver, sizeof(ver), "%ld", v + 1);
		if (!rc)
			rc = setting_put(p, "schema_version", ver, strlen(ver),
					 err);
		/* schema_history began at version 4 */
		if (!rc && v + 1 >= 4)
			rc = history_add(p, v + 1, err);
	}
	if (!rc)
		rc = pg_commit(&p->base, err);
	else
		pg_rollback(&p->base);
	return rc;
}

static int pg_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err);

static int pg_open(const char *where, int readonly, struct srv_store **out,
		   struct cb_err *err)
{
	struct pg_store *p;
	char *study = NULL;
	int rc;

	*out = NULL;
	rc = pg_connect(where, readonly, 0, &p, err);
	if (rc)
		return rc;
	p->base.ops = &srv_pg_ops;
	rc = has_store(p, err);
	if (rc == 0)
		rc = cb_err_set(err, CB_ENOTFOUND,
				"%s holds no central store (run 'casebookd "
				"init --store %s --protocol FILE')",
				where, where);
	if (rc == 1)
		rc = check_schema(p, err);
	if (!rc)
		rc = pg_study(&p->base, &study, NULL, NULL, NULL, err);
	free(study);
	if (rc) {
		pg_close(&p->base);
		return rc;
	}
	*out = &p->base;
	return 0;
}

static int pg_stale(struct srv_store *s)
{
	char *v = NULL;
	struct cb_err err;
	int stale = !setting_get(PGS(s), SRV_SETTING_STALE, &v, NULL, &err) &&
		    v && !strcmp(v, "1");

	free(v);
	return stale;
}

static int pg_stale_clear(struct srv_store *s, struct cb_err *err)
{
	return setting_put(PGS(s), SRV_SETTING_STALE, "0", 1, err);
}

/* PostgreSQL checkpoints by itself. */
static int pg_checkpointer(struct srv_store *s, struct cb_err *err)
{
	(void)s;
	(void)err;
	return 0;
}

static int pg_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err)
{
	char *a = NULL, *b = NULL, *c = NULL;
	size_t n = 0;
	int rc;

	rc = setting_get(PGS(s), "study", &a, NULL, err);
	if (!rc && proto)
		rc = setting_get(PGS(s), "protocol", &b, &n, err);
	if (!rc && sha256)
		rc = setting_get(PGS(s), "protocol_sha256", &c, NULL, err);
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

/* ---- the server key ---------------------------------------------------- */

/*
 * The key is in the database, so every casebookd serving it signs with
 * the same key and no file is copied between hosts; the database (and
 * its backups) is as secret as the key already, holding the record.
 */
static int pg_key_create(struct srv_store *s, const unsigned char *secret,
			 struct cb_err *err)
{
	char hex[CB_SIGN_SECRET_BYTES * 2 + 1];
	const char *v[1] = {hex};
	long n = 0;
	int rc;

	rc = cb_hex_encode(secret, CB_SIGN_SECRET_BYTES, hex, sizeof(hex), err);
	if (!rc)
		rc = pg_do(PGS(s), PG_KEY_PUT, 1, v, &n, "store the server key",
			   err);
	cb_wipe(hex, sizeof(hex));
	if (!rc && n != 1)
		return cb_err_set(err, CB_EEXIST,
				  "the store already holds a server key");
	return rc;
}

static int pg_key_get(struct srv_store *s, unsigned char *secret,
		      struct cb_err *err)
{
	PGresult *r = pg_run(PGS(s), PG_KEY_GET, 0, NULL, NULL, NULL,
			     "read the server key", err);
	const char *t;
	int rc;

	if (!r)
		return err->code;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return cb_err_set(err, CB_ENOTFOUND,
				  "the store holds no server key");
	}
	t = PQgetvalue(r, 0, 0);
	rc = cb_hex_decode(t, strlen(t), secret, CB_SIGN_SECRET_BYTES, NULL,
			   err);
	PQclear(r);
	if (rc)
		return cb_err_set(err, CB_EINTEGRITY,
				  "central store: the server key is damaged");
	return 0;
}

/* ---- transactions and locks ---------------------------------------------- */

/* Every writer shares PG_K_STORE; a rebuild holds it alone. */
static int pg_begin(struct srv_store *s, struct cb_err *err)
{
	pg_events_forget(PGS(s));
	pg_numbered_forget(PGS(s));
	return pg_exec(PGS(s),
		       "BEGIN; SELECT pg_advisory_xact_lock_shared(1128398849,"
		       " 0)",
		       "begin", err);
}

/* One snapshot for every read until the commit. */
static int pg_begin_read(struct srv_store *s, struct cb_err *err)
{
	return pg_exec(PGS(s), "BEGIN ISOLATION LEVEL REPEATABLE READ", "begin",
		       err);
}

static int pg_begin_exclusive(struct srv_store *s, struct cb_err *err)
{
	pg_events_forget(PGS(s));
	pg_numbered_forget(PGS(s));
	return pg_exec(PGS(s),
		       "BEGIN; SELECT pg_advisory_xact_lock(1128398849, 0)",
		       "begin", err);
}

static int pg_commit(struct srv_store *s, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	PGresult *r;
	int rc = 0;

	if (p->npend)
		rc = pg_events_flush(p, err);
	if (rc) {
		pg_rollback(s);
		return rc;
	}
	r = PQexec(p->conn, "COMMIT");
	/* COMMIT of a failed transaction rolls back and says so. */
	if (PQresultStatus(r) != PGRES_COMMAND_OK ||
	    strcmp(PQcmdStatus(r), "COMMIT"))
		rc = PQresultStatus(r) == PGRES_COMMAND_OK
			 ? cb_err_set(err, CB_EIO,
				      "central store: commit: the transaction "
				      "had failed and was rolled back")
			 : pg_fail(p, r, "commit", err);
	PQclear(r);
	p->events_locked = 0;
	p->tx = 0;
	return rc;
}

static void pg_rollback(struct srv_store *s)
{
	struct pg_store *p = PGS(s);

	if (!p)
		return;
	pg_events_forget(p);
	pg_numbered_forget(p);
	p->events_locked = 0;
	p->depth = 0;
	if (p->conn && PQstatus(p->conn) == CONNECTION_OK &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
	p->tx = 0;
}

static int pg_lock_subjects(struct srv_store *s, const char *const *subjects,
			    size_t n, struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	const char *v[1];
	char *arr;
	int rc;

	/* A push naming very many subjects locks them all at once rather
	 * than fill the database's lock table. */
	if (n > PG_SUBJECT_LOCKS_MAX)
		return pg_do(p, PG_LOCK_ALLSUBJ, 0, NULL, NULL,
			     "lock the subjects", err);
	rc = pg_do(p, PG_LOCK_ALLSUBJ_SHARED, 0, NULL, NULL,
		   "lock the subjects", err);
	if (rc)
		return rc;
	arr = pg_array(subjects, n);
	if (!arr)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	v[0] = arr;
	rc = pg_do(p, PG_LOCK_SUBJECTS, 1, v, NULL, "lock the subjects", err);
	free(arr);
	return rc;
}

/* ---- sites ------------------------------------------------------------- */

static int pg_site_add(struct srv_store *s, const char *code, const char *name,
		       struct cb_err *err)
{
	char now[24];
	const char *v[3] = {code, name, pg_i64(now, cb_clock_now_ms())};
	long n = 0;
	int rc = pg_do(PGS(s), PG_SITE_ADD, 3, v, &n, "add site", err);

	if (!rc && n == 0)
		return cb_err_set(err, CB_EEXIST, "site %s already exists",
				  code);
	return rc;
}

static int pg_site_exists(struct srv_store *s, const char *code,
			  struct cb_err *err)
{
	const char *v[1] = {code};
	PGresult *r =
	    pg_run(PGS(s), PG_SITE_GET, 1, v, NULL, NULL, "read site", err);
	int rc;

	if (!r)
		return err->code;
	rc = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

static int pg_site_each(struct srv_store *s,
			int (*fn)(const char *code, const char *name,
				  void *ctx),
			void *ctx, struct cb_err *err)
{
	PGresult *r = pg_run(PGS(s), PG_SITE_EACH, 0, NULL, NULL, NULL,
			     "list sites", err);
	int i, rc = 0;

	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++)
		rc = fn(pg_col(r, i, 0), pg_col(r, i, 1), ctx);
	PQclear(r);
	return rc;
}

/* ---- tokens ------------------------------------------------------------ */

static int pg_token_add(struct srv_store *s, const struct srv_token *t,
			struct cb_err *err)
{
	char a[24], b[24];
	const char *v[7] = {t->id,
			    t->hash,
			    t->site,
			    t->role,
			    pg_i64(a, t->created_ms),
			    pg_i64(b, t->expires_ms),
			    t->user};

	return pg_do(PGS(s), PG_TOKEN_ADD, 7, v, NULL, "add token", err);
}

static void token_row(PGresult *r, int i, struct srv_token *t)
{
	memset(t, 0, sizeof(*t));
	pg_copy(t->id, sizeof(t->id), r, i, 0);
	pg_copy(t->hash, sizeof(t->hash), r, i, 1);
	pg_copy(t->site, sizeof(t->site), r, i, 2);
	pg_copy(t->role, sizeof(t->role), r, i, 3);
	t->created_ms = pg_int(r, i, 4);
	t->expires_ms = pg_int(r, i, 5);
	t->used_ms = pg_int(r, i, 6);
	pg_copy(t->device, sizeof(t->device), r, i, 7);
	t->revoked = (int)pg_int(r, i, 8);
	pg_copy(t->user, sizeof(t->user), r, i, 9);
}

static int pg_token_each(struct srv_store *s,
			 int (*fn)(const struct srv_token *t, void *ctx),
			 void *ctx, struct cb_err *err)
{
	PGresult *r = pg_run(PGS(s), PG_TOKEN_EACH, 0, NULL, NULL, NULL,
			     "list tokens", err);
	struct srv_token t;
	int i, rc = 0;

	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++) {
		token_row(r, i, &t);
		rc = fn(&t, ctx);
	}
	PQclear(r);
	return rc;
}

static int pg_token_revoke(struct srv_store *s, const char *id,
			   struct cb_err *err)
{
	const char *v[1] = {id};
	long n = 0;
	int rc = pg_do(PGS(s), PG_TOKEN_REVOKE, 1, v, &n, "revoke token", err);

	if (!rc && n == 0)
		return cb_err_set(err, CB_ENOTFOUND, "no token with id %s", id);
	return rc;
}

/* ---- devices ----------------------------------------------------------- */

static void device_row(PGresult *r, int i, struct srv_device *d)
{
	memset(d, 0, sizeof(*d));
	pg_copy(d->id, sizeof(d->id), r, i, 0);
	if (pg_bytes(r, i, 1, d->pk, sizeof(d->pk)) != (long)sizeof(d->pk))
		memset(d->pk, 0, sizeof(d->pk));
	pg_copy(d->site, sizeof(d->site), r, i, 2);
	pg_copy(d->role, sizeof(d->role), r, i, 3);
	d->device_index = (long)pg_int(r, i, 4);
	pg_copy(d->user, sizeof(d->user), r, i, 5);
	d->created_ms = pg_int(r, i, 6);
	d->revoked_ms = pg_int(r, i, 7);
	pg_copy(d->max_hlc, sizeof(d->max_hlc), r, i, 8);
}

/* The device row statement `stmt` reads (PG_DEVICE_GET or _LOCK). */
static int device_read(struct srv_store *s, enum pg_stmt stmt, const char *id,
		       struct srv_device *out, struct cb_err *err)
{
	const char *v[1] = {id};
	PGresult *r =
	    pg_run(PGS(s), stmt, 1, v, NULL, NULL, "read device", err);
	int found;

	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found)
		device_row(r, 0, out);
	PQclear(r);
	return found ? 0
		     : cb_err_set(err, CB_ENOTFOUND, "unknown device %s", id);
}

static int pg_device_get(struct srv_store *s, const char *id,
			 struct srv_device *out, struct cb_err *err)
{
	return device_read(s, PG_DEVICE_GET, id, out, err);
}

/* FOR UPDATE: a second process's push of the same device waits for this
 * one to commit, then reads the max_hlc it stored. */
static int pg_device_lock(struct srv_store *s, const char *id,
			  struct srv_device *out, struct cb_err *err)
{
	return device_read(s, PG_DEVICE_LOCK, id, out, err);
}

static int pg_device_seen(struct srv_store *s, const char *id, const char *hlc,
			  struct cb_err *err)
{
	const char *v[2] = {id, hlc};

	return pg_do(PGS(s), PG_DEVICE_SEEN, 2, v, NULL,
		     "note a device's clock", err);
}

static int pg_device_each(struct srv_store *s,
			  int (*fn)(const struct srv_device *d, void *ctx),
			  void *ctx, struct cb_err *err)
{
	PGresult *r = pg_run(PGS(s), PG_DEVICE_EACH, 0, NULL, NULL, NULL,
			     "list devices", err);
	struct srv_device d;
	int i, rc = 0;

	if (!r)
		return err->code;
	for (i = 0; i < PQntuples(r) && !rc; i++) {
		device_row(r, i, &d);
		rc = fn(&d, ctx);
	}
	PQclear(r);
	return rc;
}

static int pg_device_revoke(struct srv_store *s, const char *id, int64_t now_ms,
			    struct cb_err *err)
{
	struct srv_device d;
	char now[24];
	const char *v[2] = {id, pg_i64(now, now_ms > 0 ? now_ms : 1)};
	int rc = pg_device_get(s, id, &d, err);

	return rc ? rc
		  : pg_do(PGS(s), PG_DEVICE_REVOKE, 2, v, NULL, "revoke device",
			  err);
}

static int pg_user_get(struct srv_store *s, const char *name,
		       struct srv_user *out, struct cb_err *err);

/*
 * The person registering a device must be one the administrator
 * registered, enabled, the token's person if it names one, and of the
 * token's site and role (store.c's register_person, the same rules).
 */
static int register_person(struct pg_store *p, const struct srv_token *t,
			   const char *name, struct cb_err *err)
{
	struct srv_user u;
	int rc;

	if (t->user[0] && strcmp(t->user, name))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "this registration token is for user %s, "
				  "not %s",
				  t->user, name);
	rc = pg_user_get(&p->base, name, &u, err);
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

/*
 * The token row is locked (FOR UPDATE) and the site's device indexes
 * too (PG_K_SITE): two processes registering at once with one token
 * register once, and two devices of one site get two indexes.
 */
static int register_locked(struct pg_store *p, const char *token_hash,
			   int64_t now_ms, struct srv_device *dev,
			   struct cb_err *err)
{
	const char *v[7];
	char a[24], b[24];
	int lens[7] = {0}, fmts[7] = {0};
	struct srv_token t;
	PGresult *r;
	long n = 0;
	int found, rc;

	v[0] = token_hash;
	r = pg_run(p, PG_TOKEN_BY_HASH, 1, v, NULL, NULL, "read token", err);
	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found)
		token_row(r, 0, &t);
	PQclear(r);
	if (!found)
		return cb_err_set(err, CB_ENOTFOUND,
				  "unknown registration token");
	if (t.revoked)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was revoked");
	if (t.used_ms) {
		struct srv_device old;
		struct cb_err ignored;

		/* The same key again: a registration whose answer never
		 * reached the device is answered again. */
		if (t.device[0] &&
		    !pg_device_get(&p->base, t.device, &old, &ignored) &&
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
	rc = register_person(p, &t, dev->user, err);
	if (rc)
		return rc;

	v[0] = (const char *)dev->pk;
	lens[0] = (int)sizeof(dev->pk);
	fmts[0] = 1;
	r = pg_run(p, PG_DEVICE_BY_KEY, 1, v, lens, fmts, "read devices", err);
	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	PQclear(r);
	if (found)
		return cb_err_set(err, CB_EEXIST,
				  "this public key is already registered");

	v[0] = t.site;
	rc = pg_do(p, PG_SITE_LOCK, 1, v, NULL, "lock the site", err);
	if (rc)
		return rc;
	r = pg_run(p, PG_DEVICE_NEXT_INDEX, 1, v, NULL, NULL,
		   "next device index", err);
	if (!r)
		return err->code;
	dev->device_index = (long)pg_int(r, 0, 0);
	PQclear(r);
	if (dev->device_index > SRV_DEVICE_INDEX_MAX)
		return cb_err_set(
		    err, CB_ECONFLICT, "site %s already has %d devices",
		    t.site[0] ? t.site : "(central)", SRV_DEVICE_INDEX_MAX);
	memcpy(dev->site, t.site, sizeof(dev->site));
	memcpy(dev->role, t.role, sizeof(dev->role));
	dev->created_ms = now_ms;
	dev->revoked_ms = 0;

	v[0] = dev->id;
	v[1] = (const char *)dev->pk;
	lens[1] = (int)sizeof(dev->pk);
	fmts[0] = 0;
	fmts[1] = 1;
	v[2] = dev->site;
	v[3] = dev->role;
	v[4] = pg_i64(a, dev->device_index);
	v[5] = dev->user;
	v[6] = pg_i64(b, now_ms);
	r = pg_run(p, PG_DEVICE_ADD, 7, v, lens, fmts, "add device", err);
	if (!r)
		return err->code == CB_EEXIST
			   ? cb_err_set(err, CB_EEXIST,
					"this public key is already "
					"registered")
			   : err->code;
	PQclear(r);

	v[0] = t.id;
	v[1] = pg_i64(a, now_ms);
	v[2] = dev->id;
	rc = pg_do(p, PG_TOKEN_USE, 3, v, &n, "use token", err);
	if (!rc && n != 1)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "registration token was already used");
	return rc;
}

static int pg_register(struct srv_store *s, const char *token_hash,
		       int64_t now_ms, struct srv_device *dev,
		       struct cb_err *err)
{
	int rc = pg_begin(s, err);

	if (rc)
		return rc;
	rc = register_locked(PGS(s), token_hash, now_ms, dev, err);
	if (rc) {
		pg_rollback(s);
		return rc;
	}
	return pg_commit(s, err);
}

/* ---- re-used subject ids ---------------------------------------------- */

static int pg_reuse_add(struct srv_store *s, const char *subject,
			const char *device, const char *hlc, struct cb_err *err)
{
	const char *v[3] = {subject, device, hlc};

	return pg_do(PGS(s), PG_REUSE_ADD, 3, v, NULL,
		     "record a re-used subject id", err);
}

static int pg_reuse_get(struct srv_store *s, const char *subject,
			const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			struct cb_err *err)
{
	const char *v[2] = {subject, device};
	PGresult *r = pg_run(PGS(s), PG_REUSE_GET, 2, v, NULL, NULL,
			     "read re-used subject ids", err);

	hlc[0] = '\0';
	if (!r)
		return err->code;
	if (PQntuples(r))
		pg_copy(hlc, CB_EVENT_HLC_HEX + 1, r, 0, 0);
	PQclear(r);
	return 0;
}

/* ---- nonces -------------------------------------------------------------- */

struct pg_nonces {
	struct srv_nonces base;
	struct pg_store *p;
	int64_t pruned_ms;
};

static int pg_nonces_open(const char *where, struct srv_nonces **out,
			  struct cb_err *err)
{
	struct pg_nonces *n = calloc(1, sizeof(*n));
	int rc;

	*out = NULL;
	if (!n)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = pg_connect(where, 0, 1, &n->p, err);
	if (rc) {
		free(n);
		return rc;
	}
	n->p->base.ops = &srv_pg_ops;
	*out = &n->base;
	return 0;
}

static void pg_nonces_close(struct srv_nonces *base)
{
	struct pg_nonces *n = (struct pg_nonces *)base;

	if (!n)
		return;
	pg_close(&n->p->base);
	free(n);
}

static int pg_nonces_use(struct srv_nonces *base, const char *device,
			 const char *nonce, int64_t time_ms, int64_t now_ms,
			 struct cb_err *err)
{
	struct pg_nonces *n = (struct pg_nonces *)base;
	char a[24];
	const char *v[3];
	long added = 0;
	int rc;

	/* Once a second per process is plenty. */
	if (now_ms - n->pruned_ms >= 1000) {
		v[0] = pg_i64(a, now_ms - SRV_NONCE_KEEP_MS);
		rc = pg_do(n->p, PG_NONCE_PRUNE, 1, v, NULL,
			   "forgetting old nonces", err);
		if (rc)
			return rc;
		n->pruned_ms = now_ms;
	}
	v[0] = device;
	v[1] = nonce;
	v[2] = pg_i64(a, time_ms);
	rc = pg_do(n->p, PG_NONCE_ADD, 3, v, &added, "recording a nonce", err);
	if (!rc && added == 0)
		return cb_err_set(err, CB_ECONFLICT,
				  "request nonce already used (replayed "
				  "request)");
	return rc;
}

/* ---- counts ----------------------------------------------------------------
 */

static int count(struct pg_store *p, const char *q, long *out,
		 struct cb_err *err)
{
	PGresult *r;

	*out = 0;
	if (!pg_in_tx(p) && pg_revive(p, err) < 0)
		return err->code;
	r = PQexec(p->conn, q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		int rc = pg_fail(p, r, "count", err);

		PQclear(r);
		return rc;
	}
	*out = (long)pg_int(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_stats(struct srv_store *s, struct srv_store_stats *st,
		    struct cb_err *err)
{
	struct pg_store *p = PGS(s);
	long last = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = count(p, "SELECT COUNT(*) FROM sites", &st->sites, err);
	if (!rc)
		rc =
		    count(p, "SELECT COUNT(*) FROM devices", &st->devices, err);
	if (!rc)
		rc = count(p,
			   "SELECT COUNT(*) FROM devices WHERE revoked_ms > 0",
			   &st->devices_revoked, err);
	if (!rc)
		rc = count(p,
			   "SELECT COUNT(*) FROM tokens WHERE used_ms = 0 AND"
			   " revoked = 0",
			   &st->tokens_open, err);
	if (!rc)
		rc = count(p, "SELECT COUNT(*) FROM events", &st->events, err);
	if (!rc)
		rc = count(p, "SELECT COUNT(*) FROM subjects", &st->subjects,
			   err);
	if (!rc)
		rc = count(p, "SELECT COALESCE(SUM(nitems), 0) FROM forms",
			   &st->items, err);
	if (!rc)
		rc = count(p, "SELECT COALESCE(SUM(nconflicts), 0) FROM forms",
			   &st->conflicts, err);
	if (!rc)
		rc = count(p,
			   "SELECT COUNT(*) FROM queries WHERE status != "
			   "'closed'",
			   &st->queries_open, err);
	if (!rc)
		rc = count(p, "SELECT COALESCE(MAX(seq), 0) FROM events", &last,
			   err);
	st->last_seq = last;
	return rc;
}

/* ---- copying the record tables ----------------------------------------- */

struct raw_walk {
	const struct srv_raw_table *tb;
	int (*fn)(const struct srv_raw_row *r, void *ctx);
	void *ctx;
	unsigned char *bytes[SRV_RAW_COLS];
};

static int raw_row(PGresult *r, int row, void *vctx)
{
	struct raw_walk *w = vctx;
	struct srv_raw_row out;
	size_t i;

	out.n = strlen(w->tb->kinds);
	for (i = 0; i < out.n; i++) {
		char k = w->tb->kinds[i];

		if (pg_null(r, row, (int)i)) {
			out.v[i] = NULL;
			out.len[i] = 0;
		} else if (k == 'b' || k == 'B') {
			size_t cap = strlen(pg_col(r, row, (int)i)) / 2 + 1;
			long got;

			free(w->bytes[i]);
			w->bytes[i] = malloc(cap);
			if (!w->bytes[i])
				return CB_ENOMEM;
			got = pg_bytes(r, row, (int)i, w->bytes[i], cap);
			if (got < 0)
				return CB_EINTEGRITY;
			out.v[i] = (const char *)w->bytes[i];
			out.len[i] = (size_t)got;
		} else {
			out.v[i] = pg_col(r, row, (int)i);
			out.len[i] = strlen(out.v[i]);
		}
	}
	return w->fn(&out, w->ctx);
}

static int pg_raw_each(struct srv_store *s, size_t t,
		       int (*fn)(const struct srv_raw_row *r, void *ctx),
		       void *ctx, struct cb_err *err)
{
	struct raw_walk w;
	char sql[600];
	size_t i;
	int rc;

	memset(&w, 0, sizeof(w));
	w.tb = &srv_raw_tables[t];
	w.fn = fn;
	w.ctx = ctx;
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", w.tb->cols,
		 w.tb->name, w.tb->order);
	rc = pg_each(PGS(s), sql, 0, NULL, raw_row, &w, "copy", err);
	for (i = 0; i < SRV_RAW_COLS; i++)
		free(w.bytes[i]);
	if (rc && !err->code)
		cb_err_set(err, rc, "copy: reading %s: %s", w.tb->name,
			   cb_err_name(rc));
	return rc;
}

static int pg_raw_put(struct srv_store *s, size_t t,
		      const struct srv_raw_row *row, struct cb_err *err)
{
	const struct srv_raw_table *tb = &srv_raw_tables[t];
	struct pg_store *p = PGS(s);
	int lens[SRV_RAW_COLS], fmts[SRV_RAW_COLS];
	char sql[900];
	size_t i, at;
	PGresult *r;
	int rc = 0;

	at = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s(%s) VALUES(",
			      tb->name, tb->cols);
	for (i = 0; i < row->n && at < sizeof(sql); i++) {
		char k = tb->kinds[i];

		at += (size_t)snprintf(sql + at, sizeof(sql) - at, "%s$%zu%s",
				       i ? ", " : "", i + 1,
				       k == 'b' || k == 'B' ? "::bytea" : "");
		lens[i] = (int)row->len[i];
		fmts[i] = k == 'b' || k == 'B';
	}
	if (at < sizeof(sql))
		at += (size_t)snprintf(
		    sql + at, sizeof(sql) - at, "%s",
		    t == 0 ? ") ON CONFLICT (key) DO UPDATE SET value ="
			     " excluded.value"
			   : ")");
	if (at >= sizeof(sql))
		return cb_err_set(err, CB_EINVAL, "copy: too many columns");
	r = PQexecParams(p->conn, sql, (int)row->n, NULL, row->v, lens, fmts,
			 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(p, r, "copy", err);
	PQclear(r);
	return rc;
}

/* New events are numbered after the ones copied. */
static int pg_raw_done(struct srv_store *s, struct cb_err *err)
{
	return pg_exec(PGS(s),
		       "SELECT setval('events_seq', COALESCE((SELECT MAX(seq)"
		       " FROM events), 1), (SELECT COUNT(*) > 0 FROM events))",
		       "copy", err);
}

/* ---- the store's identity, backups -------------------------------------- */

static int pg_store_id(struct srv_store *s, char out[SRV_ID_HEX + 1],
		       struct cb_err *err)
{
	char *v = NULL;
	size_t n = 0;
	int rc = setting_get(PGS(s), "store_id", &v, &n, err);

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

static int pg_store_id_renew(struct srv_store *s, struct cb_err *err)
{
	return pg_exec(PGS(s),
		       "UPDATE settings SET value = convert_to(replace("
		       "gen_random_uuid()::text, '-', ''), 'UTF8')"
		       " WHERE key = 'store_id'",
		       "give the store a new identity", err);
}

static int pg_leases_paused(struct srv_store *s, char *why, size_t cap,
			    struct cb_err *err)
{
	char *v = NULL;
	int rc = setting_get(PGS(s), SRV_SETTING_LEASES_PAUSED, &v, NULL, err);

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

static int pg_leases_resume(struct srv_store *s, int *was, struct cb_err *err)
{
	int rc = pg_leases_paused(s, NULL, 0, err);

	*was = rc == 1;
	if (rc <= 0)
		return rc;
	return pg_exec(
	    PGS(s),
	    "DELETE FROM settings WHERE key = '" SRV_SETTING_LEASES_PAUSED "'",
	    "resuming slot leases", err);
}

static int pg_backup(struct srv_store *s, const char *path, struct cb_err *err)
{
	(void)s;
	(void)path;
	return cb_err_set(err, CB_EINVAL,
			  "a PostgreSQL store is backed up with PostgreSQL's "
			  "own tools, pg_dump or base backups "
			  "(docs/OPERATIONS.md, section 5)");
}

/* ---- people -------------------------------------------------------------- */

static void user_row(PGresult *r, int i, struct srv_user *u)
{
	memset(u, 0, sizeof(*u));
	pg_copy(u->name, sizeof(u->name), r, i, 0);
	pg_copy(u->full_name, sizeof(u->full_name), r, i, 1);
	pg_copy(u->role, sizeof(u->role), r, i, 2);
	pg_copy(u->site, sizeof(u->site), r, i, 3);
	u->created_ms = pg_int(r, i, 4);
	u->disabled_ms = pg_int(r, i, 5);
	pg_copy(u->disabled_reason, sizeof(u->disabled_reason), r, i, 6);
}

static int pg_user_get(struct srv_store *s, const char *name,
		       struct srv_user *out, struct cb_err *err)
{
	const char *v[1] = {name};
	PGresult *r =
	    pg_run(PGS(s), PG_USER_GET, 1, v, NULL, NULL, "read user", err);
	int found;

	if (!r)
		return err->code;
	found = PQntuples(r) > 0;
	if (found)
		user_row(r, 0, out);
	PQclear(r);
	return found ? 0
		     : cb_err_set(err, CB_ENOTFOUND, "unknown user %s", name);
}

static int pg_user_add(struct srv_store *s, const struct srv_user *u,
		       struct cb_err *err)
{
	char when[24];
	const char *v[5] = {u->name, u->full_name, u->role, u->site,
			    pg_i64(when, u->created_ms)};
	struct srv_user old;
	long n = 0;
	int rc;

	if (u->site[0]) {
		rc = pg_site_exists(s, u->site, err);
		if (rc < 0)
			return rc;
		if (!rc)
			return cb_err_set(err, CB_ENOTFOUND,
					  "unknown site %s (add it with "
					  "'casebookd site add')",
					  u->site);
	}
	rc = pg_do(PGS(s), PG_USER_ADD, 5, v, &n, "add user", err);
	if (!rc && n == 0) {
		rc = pg_user_get(s, u->name, &old, err);
		return cb_err_set(err, CB_EEXIST,
				  "user %s already exists%s; user names are "
				  "never reused",
				  u->name,
				  !rc && old.disabled_ms ? " (disabled)" : "");
	}
	return rc;
}

struct user_walk {
	int (*fn)(const struct srv_user *u, void *ctx);
	void *ctx;
};

static int user_walk_row(PGresult *r, int i, void *vctx)
{
	struct user_walk *w = vctx;
	struct srv_user u;

	user_row(r, i, &u);
	return w->fn(&u, w->ctx);
}

static int pg_user_each(struct srv_store *s, const char *site, const char *role,
			int (*fn)(const struct srv_user *u, void *ctx),
			void *ctx, struct cb_err *err)
{
	struct user_walk w = {fn, ctx};
	const char *v[2] = {site, role};

	return pg_each(PGS(s), pg_sql[PG_USER_EACH], 2, v, user_walk_row, &w,
		       "list users", err);
}

static int pg_user_disable(struct srv_store *s, const char *name,
			   int64_t now_ms, const char *reason,
			   struct cb_err *err)
{
	char when[24];
	const char *v[3] = {name, pg_i64(when, now_ms > 0 ? now_ms : 1),
			    reason};
	struct srv_user u;
	long n = 0;
	int rc = pg_user_get(s, name, &u, err);

	if (rc)
		return rc;
	if (!u.disabled_ms)
		rc = pg_do(PGS(s), PG_USER_DISABLE, 3, v, &n, "disable user",
			   err);
	if (!rc && n != 1)
		return cb_err_set(err, CB_ECONFLICT,
				  "user %s is already disabled", name);
	return rc;
}

/* ---- the backend's table ----------------------------------------------- */

const struct srv_store_ops srv_pg_ops = {
    .name = "postgresql",
    .create = pg_create,
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .stale = pg_stale,
    .stale_clear = pg_stale_clear,
    .checkpointer = pg_checkpointer,
    .study = pg_study,
    .key_create = pg_key_create,
    .key_get = pg_key_get,
    .begin = pg_begin,
    .begin_read = pg_begin_read,
    .begin_exclusive = pg_begin_exclusive,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_subjects = pg_lock_subjects,
    .site_add = pg_site_add,
    .site_exists = pg_site_exists,
    .site_each = pg_site_each,
    .token_add = pg_token_add,
    .token_each = pg_token_each,
    .token_revoke = pg_token_revoke,
    .reg = pg_register,
    .device_get = pg_device_get,
    .device_each = pg_device_each,
    .device_revoke = pg_device_revoke,
    .device_seen = pg_device_seen,
    .device_lock = pg_device_lock,
    .nonces_open = pg_nonces_open,
    .nonces_close = pg_nonces_close,
    .nonces_use = pg_nonces_use,
    .reuse_add = pg_reuse_add,
    .reuse_get = pg_reuse_get,
    .event_add = pg_event_add,
    .event_seq = pg_event_seq,
    .event_get = pg_event_get,
    .event_each = pg_event_each,
    .withheld_each = pg_withheld_each,
    .subject_events = pg_subject_events,
    .subject_names = pg_subject_names,
    .subject_nevents = pg_subject_nevents,
    .derived_clear = pg_derived_clear,
    .subject_clear = pg_subject_clear,
    .query_put = pg_query_put,
    .query_del = pg_query_del,
    .form_put = pg_form_put,
    .form_items = pg_form_items,
    .subject_put = pg_subject_put,
    .summary_rows = pg_summary_rows,
    .form_rows = pg_form_rows,
    .query_each = pg_query_each,
    .derived_dump = pg_derived_dump,
    .stats = pg_stats,
    .slot_get = pg_slot_get,
    .slot_of_subject = pg_slot_of_subject,
    .slots_put = pg_slots_put,
    .slots_list = pg_slots_list,
    .slots_site = pg_slots_site,
    .slots_lease = pg_slots_lease,
    .slots_each = pg_slots_each,
    .slot_mark = pg_slot_mark,
    .slot_hold = pg_slot_hold,
    .slots_clear_used = pg_slots_clear_used,
    .slots_counts = pg_slots_counts,
    .raw_each = pg_raw_each,
    .raw_put = pg_raw_put,
    .raw_done = pg_raw_done,
    .store_id = pg_store_id,
    .store_id_renew = pg_store_id_renew,
    .leases_paused = pg_leases_paused,
    .leases_resume = pg_leases_resume,
    .backup = pg_backup,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_each = pg_user_each,
    .user_disable = pg_user_disable,
};
