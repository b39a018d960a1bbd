/*
 * store_backup.c - backups of the central store through SQLite's online
 * backup API (store.h), and the copying helpers the restore shares
 * (store_restore.c).
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

/* fsync the file or directory at `path`. */
int sq_sync_path(const char *path, struct cb_err *err)
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
void sq_dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == path)
		snprintf(dir, cap, "/");
	else
		snprintf(dir, cap, "%.*s", (int)(slash - path), path);
}

int sq_db_fail(sqlite3 *db, const char *what, const char *path,
	       struct cb_err *err)
{
	return cb_err_set(err, CB_EIO, "%s %s: %s", what, path,
			  db ? sqlite3_errmsg(db) : "out of memory");
}

/* "ok" from PRAGMA integrity_check, else CB_EINTEGRITY with its answer. */
int sq_check_integrity(sqlite3 *db, const char *path, struct cb_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL))
		return sq_db_fail(db, "cannot check", path, err);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sq_db_fail(db, "cannot check", path, err);
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
int sq_copy_to(sqlite3 *src, const char *tmp, const char *fix,
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
		rc = sq_db_fail(dst, "cannot create", tmp, err);
		goto out;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		rc = sq_db_fail(dst, "cannot copy into", tmp, err);
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
		rc = sq_db_fail(dst, "cannot finish", tmp, err);
		goto out;
	}
	rc = sq_check_integrity(dst, tmp, err);
out:
	if (sqlite3_close(dst) != SQLITE_OK && !rc)
		rc = cb_err_set(err, CB_EIO, "cannot close %s", tmp);
	if (!rc)
		rc = sq_sync_path(tmp, err);
	if (rc)
		unlink(tmp);
	return rc;
}

int sq_backup(struct srv_store *s, const char *path, struct cb_err *err)
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
	rc = sq_copy_to(SQ(s)->db.db, tmp, NULL, err);
	if (rc)
		return rc;
	if (rename(tmp, path)) {
		rc = cb_err_set(err, CB_EIO, "cannot rename %s to %s: %s", tmp,
				path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	sq_dir_of(path, dir, sizeof(dir));
	return sq_sync_path(dir, err);
}
