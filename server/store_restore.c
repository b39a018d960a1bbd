/*
 * store_restore.c - `casebookd restore` for the SQLite backend: a backup
 * checked and copied into place, and what must never go back carried
 * from the store it replaces (store.h, srv_store_restore). The copying
 * helpers it shares with the online backup are in store_backup.c.
 */
#include "store_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The schema version of database `schema` of `db` (1 without the
 * setting, as store.c reads it). */
static int schema_of(sqlite3 *db, const char *schema, long *v)
{
	char sql[200];
	sqlite3_stmt *st = NULL;
	int rc;

	*v = 1;
	snprintf(sql, sizeof(sql),
		 "SELECT value FROM %s.settings WHERE key = 'schema_version'",
		 schema);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = strtol((const char *)sqlite3_column_text(st, 0), NULL, 10);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Refuse the store `path` (database `schema` of `db`) when its schema
 * version is above `most`, before anything is changed: this casebookd
 * would not know what its tables hold.
 */
static int check_version(sqlite3 *db, const char *schema, const char *path,
			 long most, struct cb_err *err)
{
	long v = 0;

	if (schema_of(db, schema, &v))
		return sq_db_fail(db, "cannot read the schema version of", path,
				  err);
	if (v > most)
		return cb_err_set(err, CB_EINVAL,
				  "%s has schema version %ld, made by a newer "
				  "casebookd; this one knows version %d: "
				  "restore it with that casebookd (nothing "
				  "was changed)",
				  path, v, SRV_SCHEMA_VERSION);
	if (v < 1)
		return cb_err_set(err, CB_EINVAL, "%s has a bad schema version",
				  path);
	return 0;
}

/* What `from` must hold to be taken as a central store. */
static int check_backup(sqlite3 *db, const char *from, struct cb_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	rc = sq_check_integrity(db, from, err);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM settings WHERE key IN"
			       " ('study', 'protocol', 'protocol_sha256')",
			       -1, &st, NULL) ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    (n = sqlite3_column_int(st, 0), 0)) {
		sqlite3_finalize(st);
		return cb_err_set(err, CB_EINVAL,
				  "%s is not a backup of a central store",
				  from);
	}
	sqlite3_finalize(st);
	if (n != 3)
		return cb_err_set(err, CB_EINVAL,
				  "%s is not a backup of a central store",
				  from);
	return check_version(db, "main", from, SRV_SCHEMA_VERSION, err);
}

/* Rename `path` (and its -wal, -shm) to `path`.replaced-STAMP. */
static int set_aside(const char *path, char *kept, size_t cap,
		     struct cb_err *err)
{
	static const char *const tails[] = {"", "-wal", "-shm"};
	char stamp[32], from[4300], to[4300];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s%s", path, tails[i]);
		snprintf(to, sizeof(to), "%s.replaced-%s%s", path, stamp,
			 tails[i]);
		if (!i && kept)
			snprintf(kept, cap, "%s", to);
		if (access(to, F_OK) == 0)
			return cb_err_set(err, CB_EEXIST,
					  "%s exists; try again in a second",
					  to);
		if (rename(from, to) && errno != ENOENT)
			return cb_err_set(err, CB_EIO,
					  "cannot rename %s to %s: %s", from,
					  to, strerror(errno));
	}
	return 0;
}

/* One step of the carry: SQL run on the restored store with the
 * replaced one attached as "old", and where the rows it changed count. */
struct carry_step {
	const char *what; /* for the error message */
	const char *sql;
	size_t at; /* offsetof the long counter, or (size_t)-1 */
};

#define AT(f) offsetof(struct srv_restore_carry, f)
#define NONE ((size_t)-1)

/*
 * The one-way facts of the replaced store, in an order that keeps every
 * reference whole (sites before people, lists before slots). Nothing is
 * ever taken back: only rows the restored store lacks are added, and
 * only columns still at their "not yet" value (0, NULL) are set.
 */
static const struct carry_step carry_steps[] = {
    {"sites",
     "INSERT INTO main.sites(code, name, created_ms) SELECT code, name,"
     " created_ms FROM old.sites WHERE code NOT IN"
     " (SELECT code FROM main.sites)",
     AT(sites)},
    {"people",
     "INSERT INTO main.users(name, full_name, role, site, created_ms,"
     " disabled_ms, disabled_reason) SELECT name, full_name, role, site,"
     " created_ms, disabled_ms, disabled_reason FROM old.users WHERE name"
     " NOT IN (SELECT name FROM main.users)",
     AT(users)},
    {"disabled people",
     "UPDATE main.users SET disabled_ms = o.disabled_ms, disabled_reason ="
     " o.disabled_reason FROM old.users o WHERE o.name = users.name AND"
     " users.disabled_ms = 0 AND o.disabled_ms <> 0",
     AT(users_disabled)},
    /* A device's max_hlc is not carried: it starts again from the events
     * the restored store holds, so the device's events sent again after
     * the restore (in their order) are judged as they were the first
     * time. */
    {"devices",
     "INSERT INTO main.devices(id, public_key, site, role, device_index,"
     " user, created_ms, revoked_ms) SELECT id, public_key, site, role,"
     " device_index, user, created_ms, revoked_ms FROM old.devices WHERE id"
     " NOT IN (SELECT id FROM main.devices)",
     AT(devices)},
    {"revoked devices",
     "UPDATE main.devices SET revoked_ms = o.revoked_ms FROM old.devices o"
     " WHERE o.id = devices.id AND devices.revoked_ms = 0 AND"
     " o.revoked_ms <> 0",
     AT(devices_revoked)},
    {"tokens",
     "INSERT INTO main.tokens(id, hash, site, role, created_ms, expires_ms,"
     " used_ms, device, revoked, user) SELECT id, hash, site, role,"
     " created_ms, expires_ms, used_ms, device, revoked, user FROM"
     " old.tokens WHERE id NOT IN (SELECT id FROM main.tokens)",
     AT(tokens)},
    {"used tokens",
     "UPDATE main.tokens SET used_ms = o.used_ms, device = o.device FROM"
     " old.tokens o WHERE o.id = tokens.id AND tokens.used_ms = 0 AND"
     " o.used_ms <> 0",
     AT(tokens_used)},
    {"revoked tokens",
     "UPDATE main.tokens SET revoked = 1 FROM old.tokens o WHERE o.id ="
     " tokens.id AND tokens.revoked = 0 AND o.revoked <> 0",
     AT(tokens_revoked)},
    {"randomization lists",
     "INSERT INTO main.rand_lists(list_id, fingerprint, study, imported_at,"
     " nslots) SELECT list_id, fingerprint, study, imported_at, nslots FROM"
     " old.rand_lists WHERE list_id NOT IN"
     " (SELECT list_id FROM main.rand_lists)",
     AT(lists)},
    {"code-break keys",
     "INSERT OR IGNORE INTO main.rand_sites(list_id, site, codebreak_pub,"
     " codebreak_key) SELECT list_id, site, codebreak_pub, codebreak_key"
     " FROM old.rand_sites",
     NONE},
    /* An unassigned slot that a list imported after the backup replaced
     * is taken as that list has it. */
    {"replaced slots",
     "DELETE FROM main.rand_slots WHERE device IS NULL AND subject IS NULL"
     " AND EXISTS (SELECT 1 FROM old.rand_slots o WHERE o.randno ="
     " rand_slots.randno AND (o.list_id IS NOT rand_slots.list_id OR o.site"
     " IS NOT rand_slots.site OR o.stratum IS NOT rand_slots.stratum OR"
     " o.seq IS NOT rand_slots.seq OR o.kit IS NOT rand_slots.kit OR"
     " o.arm_unblinding IS NOT rand_slots.arm_unblinding OR o.arm_site IS"
     " NOT rand_slots.arm_site))",
     NONE},
    {"slots",
     "INSERT INTO main.rand_slots(randno, list_id, site, stratum, seq, kit,"
     " arm_unblinding, arm_site, device, leased_at, subject, event,"
     " used_at) SELECT randno, list_id, site, stratum, seq, kit,"
     " arm_unblinding, arm_site, device, leased_at, subject, event,"
     " used_at FROM old.rand_slots WHERE randno NOT IN"
     " (SELECT randno FROM main.rand_slots)",
     AT(slots)},
    {"slot leases",
     "UPDATE main.rand_slots SET device = o.device, leased_at = o.leased_at"
     " FROM old.rand_slots o WHERE o.randno = rand_slots.randno AND"
     " rand_slots.device IS NULL AND o.device IS NOT NULL",
     AT(slots_leased)},
    {"used slots",
     "UPDATE main.rand_slots SET subject = o.subject, event = o.event,"
     " used_at = o.used_at FROM old.rand_slots o WHERE o.randno ="
     " rand_slots.randno AND rand_slots.subject IS NULL AND o.subject IS"
     " NOT NULL",
     AT(slots_used)},
    {"re-used subject ids",
     "INSERT INTO main.subject_reuse(subject, device, hlc) SELECT subject,"
     " device, hlc FROM old.subject_reuse WHERE 1 ON CONFLICT(subject,"
     " device) DO UPDATE SET hlc = excluded.hlc WHERE excluded.hlc < hlc",
     AT(reuse)},
    /* Leases the replaced store still had paused stay paused. */
    {"paused leases",
     "INSERT OR IGNORE INTO main.settings(key, value) SELECT key, value"
     " FROM old.settings WHERE key = '" SRV_SETTING_LEASES_PAUSED "'",
     NONE},
};

/* The highest events sequence number database `schema` has given. */
static int last_seq(sqlite3 *db, const char *schema, int64_t *out)
{
	char sql[300];
	sqlite3_stmt *st = NULL;
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT max(coalesce((SELECT seq FROM %s.sqlite_sequence"
		 " WHERE name = 'events'), 0), (SELECT coalesce(max(seq), 0)"
		 " FROM %s.events))",
		 schema, schema);
	*out = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Run `sql` with one integer parameter; the rows it changed in *n. */
static int exec_n(sqlite3 *db, const char *sql, int64_t arg, long *n)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
		return -1;
	if (sqlite3_bind_parameter_count(st))
		sqlite3_bind_int64(st, 1, arg);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (n)
		*n = sqlite3_changes(db);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Carry the one-way facts of the store `old_path` (the one being
 * replaced) into the restored store `t`, in one transaction, and set
 * the events sequence past the old store's highest.
 */
static int carry_from(struct srv_store *t, const char *old_path,
		      struct srv_restore_carry *c, struct cb_err *err)
{
	sqlite3 *db = SQ(t)->db.db;
	sqlite3_stmt *st = NULL;
	int64_t old_seq = 0;
	size_t i;
	int rc;

	if (sqlite3_prepare_v2(db, "ATTACH DATABASE ?1 AS old", -1, &st,
			       NULL) ||
	    sqlite3_bind_text(st, 1, old_path, -1, SQLITE_STATIC) ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return sq_db_fail(db, "cannot read the store being replaced,",
				  old_path, err);
	}
	sqlite3_finalize(st);
	rc = check_version(db, "old", old_path, SRV_SCHEMA_VERSION, err);
	if (!rc) {
		long v = 0;

		schema_of(db, "old", &v);
		if (v < SRV_SCHEMA_VERSION)
			rc = cb_err_set(
			    err, CB_EINVAL,
			    "the store being replaced (%s) has schema version "
			    "%ld: run 'casebookd rebuild' on its data "
			    "directory once (which upgrades it), then restore "
			    "again; nothing was changed",
			    old_path, v);
	}
	if (!rc && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
		rc = sq_db_fail(db, "cannot write", "the restored store", err);
	for (i = 0; !rc && i < sizeof(carry_steps) / sizeof(carry_steps[0]);
	     i++) {
		long n = 0;

		if (exec_n(db, carry_steps[i].sql, 0, &n)) {
			rc = cb_err_set(err, CB_EIO,
					"cannot carry the %s of the store "
					"being replaced (%s): %s; nothing was "
					"changed (if that store is damaged, "
					"move it out of the data directory "
					"and restore into the empty "
					"directory)",
					carry_steps[i].what, old_path,
					sqlite3_errmsg(db));
			break;
		}
		if (carry_steps[i].at != NONE)
			*(long *)((char *)c + carry_steps[i].at) = n;
	}
	if (!rc && (last_seq(db, "main", &c->seq_backup) ||
		    last_seq(db, "old", &old_seq)))
		rc = sq_db_fail(db, "cannot read the events sequence of",
				old_path, err);
	c->seq_after = c->seq_backup;
	if (!rc && old_seq > c->seq_backup) {
		long n = 0;

		/* Every sequence number the replaced store gave stays given:
		 * a device whose pull cursor is past the backup's last
		 * event still sees every event stored from now on. */
		if (exec_n(db,
			   "UPDATE main.sqlite_sequence SET seq = ?1 WHERE"
			   " name = 'events'",
			   old_seq, &n) ||
		    (!n && exec_n(db,
				  "INSERT INTO main.sqlite_sequence(name, seq)"
				  " VALUES('events', ?1)",
				  old_seq, NULL)))
			rc = sq_db_fail(db, "cannot set the events sequence of",
					"the restored store", err);
		c->seq_after = old_seq;
	}
	if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
		rc = sq_db_fail(db, "cannot commit", "the restored store", err);
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_exec(db, "DETACH DATABASE old", NULL, NULL, NULL);
	return rc;
}

int srv_store_restore(const char *dir, const char *from, int replace,
		      char *replaced, size_t cap,
		      struct srv_restore_carry *carry, struct cb_err *err)
{
	/* A new identity: devices that synced with the store after this
	 * backup was taken see it change and send their events again. */
	static const char fix[] =
	    "INSERT OR REPLACE INTO settings(key, value) VALUES('store_id',"
	    " lower(hex(randomblob(16))));";
	/* With no store to carry leases from, what was leased after the
	 * backup is unknown: no new leases until the administrator says. */
	static const char fix_pause[] =
	    "INSERT OR REPLACE INTO settings(key, value) VALUES('store_id',"
	    " lower(hex(randomblob(16))));"
	    "INSERT OR REPLACE INTO settings(key, value) "
	    "VALUES('" SRV_SETTING_LEASES_PAUSED
	    "', 'restored from a backup into a data directory with no store,"
	    " at ' || strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));";
	struct srv_restore_carry local;
	char path[4200], tmp[4300];
	struct srv_store *t = NULL;
	sqlite3 *src = NULL;
	int rc, exists;

	if (!carry)
		carry = &local;
	memset(carry, 0, sizeof(*carry));
	if (replaced && cap)
		replaced[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     SRV_STORE_FILE) >= sizeof(path))
		return cb_err_set(err, CB_EINVAL,
				  "data directory path is too long");
	if (access(from, R_OK))
		return cb_err_set(err, CB_ENOTFOUND, "cannot read %s: %s", from,
				  strerror(errno));
	exists = access(path, F_OK) == 0;
	if (exists && !replace)
		return cb_err_set(err, CB_EEXIST,
				  "%s already holds a central store; give "
				  "--replace to keep it aside and restore "
				  "over it",
				  dir);
	rc = sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		rc = sq_db_fail(src, "cannot open", from, err);
		sqlite3_close(src);
		return rc;
	}
	rc = check_backup(src, from, err);
	if (!rc && mkdir(dir, 0700) && errno != EEXIST)
		rc = cb_err_set(err, CB_EIO, "cannot create %s: %s", dir,
				strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.restore-%ld", path, (long)getpid());
	if (!rc) {
		unlink(tmp);
		rc = sq_copy_to(src, tmp, exists ? fix : fix_pause, err);
	}
	sqlite3_close(src);
	if (rc)
		return rc;
	/* The copy is opened as the store (an older backup is upgraded
	 * here) and takes what the replaced store knew, before it takes
	 * the store's name: a failure leaves the data directory as it
	 * was. */
	carry->replaced = exists;
	rc = srv_store_open_file(tmp, &t, err);
	if (!rc && exists)
		rc = carry_from(t, path, carry, err);
	if (!rc) {
		int p = sq_leases_paused(t, NULL, 0, err);

		if (p < 0)
			rc = p;
		carry->leases_paused = p == 1;
	}
	sq_close(t);
	if (!rc)
		rc = sq_sync_path(tmp, err);
	if (!rc && exists)
		rc = set_aside(path, replaced, cap, err);
	if (!rc && rename(tmp, path))
		rc = cb_err_set(err, CB_EIO, "cannot rename %s to %s: %s", tmp,
				path, strerror(errno));
	if (rc) {
		char side[4400];

		unlink(tmp);
		snprintf(side, sizeof(side), "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", tmp);
		unlink(side);
		return rc;
	}
	return sq_sync_path(dir, err);
}
