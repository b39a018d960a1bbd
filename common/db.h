/*
 * db.h - the SQLite layer both stores stand on: opening a database,
 * statements prepared once and cached, stepping them, and SQLite's
 * result codes turned into Casebook's (err.h) with a message.
 *
 * Only the store layers use it (client/store*.c, server/store*.c):
 * nothing else in Casebook knows its data lives in SQLite, and
 * scripts/check-layers checks that no other file calls sqlite3_*.
 *
 *   struct cb_db d;
 *   rc = cb_db_open(&d, path, SQLITE_OPEN_READWRITE, "central store",
 *                   sql, nsql, err);
 *   sqlite3_stmt *s = cb_db_stmt(&d, Q_GET, err);   NULL: err is set
 *   cb_db_bind_text(s, 1, key);
 *   while ((rc = cb_db_row(&d, s, "reading x", err)) == 1) ...
 *   cb_db_close(&d);
 *
 * A struct cb_db is one connection and is not locked: one thread at a
 * time.
 */
#ifndef CB_DB_H
#define CB_DB_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "err.h"

struct cb_db {
	sqlite3 *db;
	/* For messages: what this database is to people ("the central
	 * store", "the casebook store /home/x/casebook.db"). */
	char name[4200];
	const char *const *sql; /* statement texts, by number */
	sqlite3_stmt **stmt;	/* each prepared on first use */
	size_t nstmt;
};

/*
 * Open `path` with `flags` (SQLite's SQLITE_OPEN_*; SQLITE_OPEN_URI lets
 * path be a file: URI) into *d, with extended result codes and a busy
 * timeout of `busy_ms`. `sql` (nsql texts, kept by pointer) are the
 * statements cb_db_stmt hands out. On failure d is closed and the error
 * is cb_db_fail's.
 */
int cb_db_open(struct cb_db *d, const char *path, int flags, int busy_ms,
	       const char *name, const char *const *sql, size_t nsql,
	       struct cb_err *err);

/* Finalize every statement and close. A zeroed or closed d is fine. */
void cb_db_close(struct cb_db *d);

/*
 * The CB_E* code of SQLite result `rc` met while doing `what`, with a
 * message naming d->name: CB_EBUSY (busy or locked by another process:
 * nothing was changed, try again), CB_EINTEGRITY (the file is damaged,
 * or its schema is not the one the store made), CB_EIO for a full disk
 * ("the disk is full") or a read-only one ("is read-only"), CB_EEXIST
 * for a constraint (a row that must be unique already exists), CB_ENOMEM
 * for SQLite out of memory or a step stopped by a failed bind
 * (cb_db_bind_text), CB_EIO for the rest, with SQLite's own message. A
 * full disk or read-only
 * medium that SQLite calls an I/O error is told as such
 * (cb_db_os_cause).
 */
int cb_db_fail(const struct cb_db *d, int rc, const char *what,
	       struct cb_err *err);
#ifdef __clang_analyzer__
/* For the static analyzer, which cannot see db.c: never 0. */
#define cb_db_fail(...) cb_err_nonzero_(cb_db_fail(__VA_ARGS__))
#endif

/*
 * SQLite reports a full disk or a read-only medium met while writing or
 * opening its write-ahead log or shared memory as an I/O error or
 * "unable to open". For such an `rc` this returns SQLITE_FULL when the
 * failed call's errno was ENOSPC or EDQUOT, or the database's file
 * system has no free block; SQLITE_READONLY for EROFS or a file system
 * mounted read-only; else `rc` itself. cb_db_fail applies it.
 */
int cb_db_os_cause(sqlite3 *db, int rc);

/* Statement `which`, prepared once, reset and unbound; NULL (err set). */
sqlite3_stmt *cb_db_stmt(struct cb_db *d, size_t which, struct cb_err *err);
#ifdef __clang_analyzer__
/* For the static analyzer, which cannot see db.c: NULL means err is set,
 * so `if (!s) return err->code;` is a failure. */
#define cb_db_stmt(d, which, err)                                              \
	((sqlite3_stmt *)cb_err_told_(cb_db_stmt((d), (which), (err)), (err)))
#endif

/* Run SQL text with no result rows (schema, PRAGMAs, BEGIN...). */
int cb_db_exec(struct cb_db *d, const char *sql, const char *what,
	       struct cb_err *err);

/* Step a statement that returns no rows, then reset it. */
int cb_db_done(struct cb_db *d, sqlite3_stmt *s, const char *what,
	       struct cb_err *err);

/*
 * Step a query: 1 for a row, 0 at the end, or cb_db_fail's code. The
 * statement is not reset; the caller does (cb_db_stmt does it too).
 */
int cb_db_row(struct cb_db *d, sqlite3_stmt *s, const char *what,
	      struct cb_err *err);

/* The one integer `sql` answers (a count, a PRAGMA). */
int cb_db_int64(struct cb_db *d, const char *sql, int64_t *out,
		struct cb_err *err);

/* Bind text copied by SQLite (NULL binds NULL), or not copied (the text
 * must outlive the statement's next step), or a blob copied. When the
 * copy fails (out of memory), the connection's next step fails with
 * SQLITE_INTERRUPT, which cb_db_fail reports as CB_ENOMEM: a statement
 * never runs with a parameter silently NULL. */
void cb_db_bind_text(sqlite3_stmt *s, int i, const char *v);
void cb_db_bind_static(sqlite3_stmt *s, int i, const char *v);
void cb_db_bind_blob(sqlite3_stmt *s, int i, const void *v, size_t n);

/* A text column, "" for NULL; and a copy of it into dst (cap bytes,
 * cut to fit, always NUL-terminated). */
const char *cb_db_col_text(sqlite3_stmt *s, int col);
void cb_db_col_copy(char *dst, size_t cap, sqlite3_stmt *s, int col);

#endif
