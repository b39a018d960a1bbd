/*
 * store_nonce.c - the request nonces, in DIR/nonces.db (store.h says why
 * a database of their own, and why without an fsync per request).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCES_FILE "nonces.db"

enum { N_PRUNE, N_ADD, N_COUNT };

static const char *const nonce_sql[N_COUNT] = {
    [N_PRUNE] = "DELETE FROM nonces WHERE time_ms < ?1",
    [N_ADD] = "INSERT INTO nonces(device, nonce, time_ms)"
	      " VALUES(?1, ?2, ?3)",
};

struct sq_nonces {
	struct srv_nonces base;
	struct cb_db db;
	int64_t pruned_ms; /* when old nonces were last forgotten */
};

int sq_nonces_open(const char *dir, struct srv_nonces **out, struct cb_err *err)
{
	char path[4096];
	struct sq_nonces *n;
	int rc;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, NONCES_FILE) >=
	    sizeof(path))
		return cb_err_set(err, CB_EINVAL,
				  "data directory path is too long");
	n = calloc(1, sizeof(*n));
	if (!n)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_db_open(&n->db, path,
			SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX,
			5000, "the nonce database", nonce_sql, N_COUNT, err);
	if (!rc)
		rc =
		    cb_db_exec(&n->db,
			       "PRAGMA journal_mode=WAL;"
			       "PRAGMA synchronous=NORMAL;"
			       "CREATE TABLE IF NOT EXISTS nonces(device TEXT"
			       " NOT NULL, nonce TEXT NOT NULL, time_ms INTEGER"
			       " NOT NULL, PRIMARY KEY(device, nonce))"
			       " WITHOUT ROWID;"
			       "CREATE INDEX IF NOT EXISTS nonces_time"
			       " ON nonces(time_ms);",
			       "setting up", err);
	if (rc) {
		sq_nonces_close(&n->base);
		return rc;
	}
	*out = &n->base;
	return 0;
}

void sq_nonces_close(struct srv_nonces *base)
{
	struct sq_nonces *n = (struct sq_nonces *)base;

	if (!n)
		return;
	cb_db_close(&n->db);
	free(n);
}

int sq_nonces_use(struct srv_nonces *base, const char *device,
		  const char *nonce, int64_t time_ms, int64_t now_ms,
		  struct cb_err *err)
{
	struct sq_nonces *n = (struct sq_nonces *)base;
	sqlite3_stmt *st;
	int rc = 0;

	/* Forgetting old nonces costs a scan of the index: once a second
	 * is plenty (a nonce is kept twice the accepted skew anyway). */
	if (now_ms - n->pruned_ms >= 1000) {
		st = cb_db_stmt(&n->db, N_PRUNE, err);
		if (!st)
			return err->code;
		sqlite3_bind_int64(st, 1, now_ms - SRV_NONCE_KEEP_MS);
		rc = cb_db_done(&n->db, st, "forgetting old nonces", err);
		if (rc)
			return rc;
		n->pruned_ms = now_ms;
	}
	st = cb_db_stmt(&n->db, N_ADD, err);
	if (!st)
		return err->code;
	cb_db_bind_static(st, 1, device);
	cb_db_bind_static(st, 2, nonce);
	sqlite3_bind_int64(st, 3, time_ms);
	rc = cb_db_done(&n->db, st, "recording a nonce", err);
	if (rc == CB_EEXIST)
		return cb_err_set(err, CB_ECONFLICT,
				  "request nonce already used (replayed "
				  "request)");
	return rc;
}
