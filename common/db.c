/*
 * db.c - the SQLite layer of both stores (see db.h).
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

int cb_db_os_cause(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;
	const char *file = db ? sqlite3_db_filename(db, "main") : NULL;
	struct statvfs fs;

	if ((rc & 0xff) != SQLITE_IOERR && (rc & 0xff) != SQLITE_CANTOPEN)
		return rc;
	if (sys == ENOSPC || sys == EDQUOT)
		return SQLITE_FULL;
	if (sys == EROFS)
		return SQLITE_READONLY;
	/* SQLite reads errno when it reports, which later calls may have
	 * changed: ask the file system of the database itself. */
	if (file && file[0] && statvfs(file, &fs) == 0) {
		if (fs.f_flag & ST_RDONLY)
			return SQLITE_READONLY;
		if (fs.f_bavail == 0)
			return SQLITE_FULL;
	}
	return rc;
}

/* The name in parentheses: db.h has an analyzer-only macro of it. */
int(cb_db_fail)(const struct cb_db *d, int rc, const char *what,
		struct cb_err *err)
{
	const char *name = d && d->name[0] ? d->name : "the database";
	const char *msg =
	    d && d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);

	rc = cb_db_os_cause(d ? d->db : NULL, rc);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return cb_err_set(err, CB_EBUSY,
				  "%s is busy: another process is using it "
				  "(%s); nothing was changed, try again",
				  name, what);
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: %s is damaged (%s, while "
				  "%s); restore it from a backup",
				  name, msg, what);
	case SQLITE_FULL:
		return cb_err_set(err, CB_EIO,
				  "the disk is full (%s, %s); nothing was "
				  "changed",
				  name, what);
	case SQLITE_READONLY:
		return cb_err_set(err, CB_EIO,
				  "%s is read-only (%s); nothing was changed",
				  name, what);
	case SQLITE_INTERRUPT:
		/* Only a failed bind interrupts a step (bound, below). */
		if (d && d->db)
			sqlite3_progress_handler(d->db, 0, NULL, NULL);
		return cb_err_set(err, CB_ENOMEM, "%s: %s: out of memory", name,
				  what);
	case SQLITE_NOMEM:
		return cb_err_set(err, CB_ENOMEM, "%s: %s: out of memory", name,
				  what);
	case SQLITE_CONSTRAINT:
		return cb_err_set(err, CB_EEXIST, "%s: %s: already exists",
				  name, what);
	default:
		return cb_err_set(err, CB_EIO, "%s: %s: %s", name, what, msg);
	}
}

int cb_db_open(struct cb_db *d, const char *path, int flags, int busy_ms,
	       const char *name, const char *const *sql, size_t nsql,
	       struct cb_err *err)
{
	int rc;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name ? name : path);
	d->sql = sql;
	d->nstmt = nsql;
	if (nsql) {
		d->stmt = calloc(nsql, sizeof(*d->stmt));
		if (!d->stmt)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	rc = sqlite3_open_v2(path, &d->db, flags, NULL);
	if (rc != SQLITE_OK) {
		rc = cb_db_fail(d, rc, "opening it", err);
		cb_db_close(d);
		return rc;
	}
	sqlite3_extended_result_codes(d->db, 1);
	sqlite3_busy_timeout(d->db, busy_ms);
	return 0;
}

void cb_db_close(struct cb_db *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; d->stmt && i < d->nstmt; i++)
		sqlite3_finalize(d->stmt[i]);
	free(d->stmt);
	d->stmt = NULL;
	d->nstmt = 0;
	if (d->db)
		sqlite3_close(d->db);
	d->db = NULL;
}

/* The name in parentheses: db.h has an analyzer-only macro of it. */
sqlite3_stmt *(cb_db_stmt)(struct cb_db *d, size_t which, struct cb_err *err)
{
	int rc;

	if (which >= d->nstmt) {
		cb_err_set(err, CB_EINVAL, "%s: no statement %zu", d->name,
			   which);
		return NULL;
	}
	if (!d->stmt[which]) {
		rc = sqlite3_prepare_v3(d->db, d->sql[which], -1,
					SQLITE_PREPARE_PERSISTENT,
					&d->stmt[which], NULL);
		if (rc != SQLITE_OK) {
			cb_db_fail(d, rc, "preparing a statement", err);
			return NULL;
		}
	}
	sqlite3_reset(d->stmt[which]);
	sqlite3_clear_bindings(d->stmt[which]);
	return d->stmt[which];
}

int cb_db_exec(struct cb_db *d, const char *sql, const char *what,
	       struct cb_err *err)
{
	int rc = sqlite3_exec(d->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : cb_db_fail(d, rc, what, err);
}

int cb_db_done(struct cb_db *d, sqlite3_stmt *s, const char *what,
	       struct cb_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : cb_db_fail(d, rc, what, err);
}

int cb_db_row(struct cb_db *d, sqlite3_stmt *s, const char *what,
	      struct cb_err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return cb_db_fail(d, rc, what, err);
}

int cb_db_int64(struct cb_db *d, const char *sql, int64_t *out,
		struct cb_err *err)
{
	sqlite3_stmt *s;
	int rc;

	*out = 0;
	rc = sqlite3_prepare_v2(d->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return cb_db_fail(d, rc, "preparing a query", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : cb_db_fail(d, rc, "reading", err);
}

/*
 * A value SQLite could not copy (out of memory) leaves its parameter
 * NULL, and the statement would run all the same: a lookup finds
 * nothing, an update changes nothing, a row is written with a hole. So
 * a failed bind arms a progress handler that stops the connection's
 * next step with SQLITE_INTERRUPT, which cb_db_fail reports as out of
 * memory (and disarms). Casebook interrupts nothing else.
 */
static int stop_step(void *ctx)
{
	(void)ctx;
	return 1;
}

static void bound(sqlite3_stmt *s, int rc)
{
	if (rc != SQLITE_OK)
		sqlite3_progress_handler(sqlite3_db_handle(s), 1, stop_step,
					 NULL);
}

void cb_db_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	bound(s, v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT)
		   : sqlite3_bind_null(s, i));
}

void cb_db_bind_static(sqlite3_stmt *s, int i, const char *v)
{
	bound(s, v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC)
		   : sqlite3_bind_null(s, i));
}

void cb_db_bind_blob(sqlite3_stmt *s, int i, const void *v, size_t n)
{
	bound(s, sqlite3_bind_blob64(s, i, v, (sqlite3_uint64)n,
				     SQLITE_TRANSIENT));
}

const char *cb_db_col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? (const char *)t : "";
}

void cb_db_col_copy(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const char *t = cb_db_col_text(s, col);
	size_t n = strlen(t);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, t, n);
	dst[n] = '\0';
}
