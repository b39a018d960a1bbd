/*
 * store_backup.c - backups of the central store and restoring one
 * (store.h), through SQLite's online backup API.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* The directory holding `path`, into dir (cap bytes). */
static void dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == path)
		snprintf(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

static int db_fail(sqlite3 *db, const char *what, const char *path,
		   struct cb_err *err)
{
	return cb_err_set(err, CB_EIO, "%s %s: %s", what, path,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

/* "ok" from PRAGMA integrity_check, else CB_EINTEGRITY with its answer. */
static int check_integrity(sqlite3 *db, const char *path, struct cb_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL))
		return db_fail(db, "cannot check", path, err);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(db, "cannot check", path, err);
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		rc = cb_err_set(err, CB_EINTEGRITY,
				"%s is damaged: integrity_check says %.200s",
				path, (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * Copy the database `src` into a new file `tmp`, as one file (rollback
 * journal, so no -wal beside it), checked; `fix` (may be NULL) is SQL run
 * on the copy before it is checked. The caller renames tmp into place.
 */
static int copy_to(sqlite3 *src, const char *tmp, const char *fix,
		   struct cb_err *err)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(tmp, &dst,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_EXCLUSIVE,
			     NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(dst, "cannot create", tmp, err);
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		rc = db_fail(dst, "cannot copy into", tmp, err);
		goto out;
	}
	/* One step: the whole copy is one read transaction of the source,
	 * so it is the store at one moment; writers go on meanwhile
	 * (WAL). */
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		rc = cb_err_set(err,
				rc == SQLITE_BUSY || rc == SQLITE_LOCKED
				    ? CB_EBUSY
				    : CB_EIO,
				"copying into %s: %s", tmp, sqlite3_errstr(rc));
		goto out;
	}
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) ||
	    (fix && sqlite3_exec(dst, fix, NULL, NULL, NULL))) {
		rc = db_fail(dst, "cannot finish", tmp, err);
		goto out;
	}
	rc = check_integrity(dst, tmp, err);
out:
	if (sqlite3_close(dst) != SQLITE_OK && !rc)
		rc = cb_err_set(err, CB_EIO, "cannot close %s", tmp);
	if (!rc)
		rc = sync_path(tmp, err);
	if (rc)
		unlink(tmp);
	return rc;
}

int srv_store_backup(struct srv_store *s, const char *path, struct cb_err *err)
{
	char tmp[4200], dir[4200];
	int rc;

	if (access(path, F_OK) == 0)
		return cb_err_set(err, CB_EEXIST,
				  "%s exists; a backup never overwrites a "
				  "file",
				  path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path,
			     (long)getpid()) >= sizeof(tmp))
		return cb_err_set(err, CB_EINVAL, "path too long: %s", path);
	unlink(tmp);
	rc = copy_to(s->db.db, tmp, NULL, err);
	if (rc)
		return rc;
	if (rename(tmp, path)) {
		rc = cb_err_set(err, CB_EIO, "cannot rename %s to %s: %s", tmp,
				path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	dir_of(path, dir, sizeof(dir));
	return sync_path(dir, err);
}

/* What `from` must hold to be taken as a central store. */
static int check_backup(sqlite3 *db, const char *from, struct cb_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	rc = check_integrity(db, from, err);
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
	return n == 3
		   ? 0
		   : cb_err_set(err, CB_EINVAL,
				"%s is not a backup of a central store", from);
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

int srv_store_restore(const char *dir, const char *from, int replace,
		      char *replaced, size_t cap, struct cb_err *err)
{
	/* A new identity: devices that synced with the store after this
	 * backup was taken see it change and send their events again. */
	static const char fix[] =
	    "INSERT OR REPLACE INTO settings(key, value) VALUES('store_id',"
	    " lower(hex(randomblob(16))));";
	char path[4200], tmp[4300];
	sqlite3 *src = NULL;
	int rc;

	if (replaced && cap)
		replaced[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			     SRV_STORE_FILE) >= sizeof(path))
		return cb_err_set(err, CB_EINVAL,
				  "data directory path is too long");
	if (access(from, R_OK))
		return cb_err_set(err, CB_ENOTFOUND, "cannot read %s: %s", from,
				  strerror(errno));
	if (access(path, F_OK) == 0 && !replace)
		return cb_err_set(err, CB_EEXIST,
				  "%s already holds a central store; give "
				  "--replace to keep it aside and restore "
				  "over it",
				  dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return cb_err_set(err, CB_EIO, "cannot create %s: %s", dir,
				  strerror(errno));
	rc = sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		rc = db_fail(src, "cannot open", from, err);
		sqlite3_close(src);
		return rc;
	}
	rc = check_backup(src, from, err);
	snprintf(tmp, sizeof(tmp), "%s.restore-%ld", path, (long)getpid());
	unlink(tmp);
	if (!rc)
		rc = copy_to(src, tmp, fix, err);
	sqlite3_close(src);
	if (rc)
		return rc;
	if (access(path, F_OK) == 0)
		rc = set_aside(path, replaced, cap, err);
	if (!rc && rename(tmp, path))
		rc = cb_err_set(err, CB_EIO, "cannot rename %s to %s: %s", tmp,
				path, strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return sync_path(dir, err);
}
