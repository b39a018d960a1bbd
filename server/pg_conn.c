/*
 * pg_conn.c - the connections of the central store's PostgreSQL backend
 * (pg_int.h): connecting (never with a password in the URI), running
 * prepared statements, cursors, results, and PostgreSQL's errors as
 * Casebook's.
 */
#include "pg_int.h"

#include "crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- running statements ------------------------------------------------ */

static int conn_bad(struct pg_store *p)
{
	return !p->conn || PQstatus(p->conn) != CONNECTION_OK;
}

/* The first line of libpq's message, for ours. */
static void first_line(char *dst, size_t cap, const char *msg)
{
	size_t n = 0;

	while (msg && msg[n] && msg[n] != '\n' && n + 1 < cap) {
		dst[n] = msg[n];
		n++;
	}
	dst[n] = '\0';
}

int pg_fail(struct pg_store *p, PGresult *r, const char *what,
	    struct cb_err *err)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[400];
	int code = CB_EIO;

	first_line(msg, sizeof(msg),
		   r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r)
		   : p->conn			   ? PQerrorMessage(p->conn)
						   : "no connection");
	if (state && !strcmp(state, "23505"))
		code = CB_EEXIST;
	else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
			   !strcmp(state, "53300") || !strcmp(state, "55P03")))
		code = CB_EBUSY;
	if (conn_bad(p) || (state && !strncmp(state, "08", 2)))
		return cb_err_set(err, CB_EIO,
				  "central store: the PostgreSQL database "
				  "cannot be reached (%s): %s",
				  what, msg);
	return cb_err_set(err, code, "central store: %s: %s", what, msg);
}

/* Session settings of every connection (made again after a reset). */
static int setup(struct pg_store *p, struct cb_err *err)
{
	char sql[300];

	snprintf(sql, sizeof(sql),
		 "SET client_encoding = 'UTF8';"
		 " SET application_name = 'casebookd';"
		 " SET client_min_messages = 'warning';%s%s",
		 p->readonly ? " SET default_transaction_read_only = on;" : "",
		 p->nonces ? " SET synchronous_commit = off;" : "");
	memset(p->prepared, 0, sizeof(p->prepared));
	return pg_exec(p, sql, "setting up", err);
}

/* Make a broken connection again, outside a transaction. 1 when it was
 * made again, 0 when it was fine, negative when it could not be. */
int pg_revive(struct pg_store *p, struct cb_err *err)
{
	if (!conn_bad(p))
		return 0;
	PQreset(p->conn);
	if (conn_bad(p))
		return pg_fail(p, NULL, "connecting", err);
	return setup(p, err) ? err->code : 1;
}

int pg_in_tx(struct pg_store *p)
{
	return p->tx;
}

/* The name in parentheses: pg_int.h has an analyzer-only macro of it. */
PGresult *(pg_run)(struct pg_store *p, enum pg_stmt id, int n,
		   const char *const *v, const int *lens, const int *fmts,
		   const char *what, struct cb_err *err)
{
	char name[16];
	PGresult *r;
	int st, tries = 0, outside;

again:
	outside = !pg_in_tx(p);
	if (outside && pg_revive(p, err) < 0)
		return NULL;
	snprintf(name, sizeof(name), "cb%d", (int)id);
	if (!p->prepared[id]) {
		r = PQprepare(p->conn, name, pg_sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (outside && conn_bad(p) && !tries++) {
				PQclear(r);
				goto again;
			}
			pg_fail(p, r, what, err);
			PQclear(r);
			return NULL;
		}
		PQclear(r);
		p->prepared[id] = 1;
	}
	r = PQexecPrepared(p->conn, name, n, v, lens, fmts, 0);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	/* A connection lost between two statements of no transaction:
	 * nothing was half done; try once on a new one. */
	if (outside && conn_bad(p) && !tries++) {
		PQclear(r);
		goto again;
	}
	pg_fail(p, r, what, err);
	PQclear(r);
	return NULL;
}

int pg_do(struct pg_store *p, enum pg_stmt id, int n, const char *const *v,
	  long *changed, const char *what, struct cb_err *err)
{
	PGresult *r = pg_run(p, id, n, v, NULL, NULL, what, err);

	if (!r)
		return err->code;
	if (changed)
		*changed = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

int pg_exec(struct pg_store *p, const char *sql, const char *what,
	    struct cb_err *err)
{
	PGresult *r;
	int st;

	if (!pg_in_tx(p) && pg_revive(p, err) < 0)
		return err->code;
	r = PQexec(p->conn, sql);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(r);
		if (!strncmp(sql, "BEGIN", 5))
			p->tx = 1;
		return 0;
	}
	/* A BEGIN that failed half way (its lock): no transaction to end
	 * but PostgreSQL's own, which the caller rolls back. */
	if (!strncmp(sql, "BEGIN", 5) &&
	    PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		p->tx = 1;
	pg_fail(p, r, what, err);
	PQclear(r);
	return err->code;
}

int pg_each(struct pg_store *p, const char *sql, int n, const char *const *v,
	    int (*fn)(PGresult *r, int row, void *ctx), void *ctx,
	    const char *what, struct cb_err *err)
{
	char cur[24], fetch[64], close[40], *decl;
	size_t len = strlen(sql) + 64;
	int own = !pg_in_tx(p), declared = 0, rc = 0, i, rows;
	PGresult *r;

	decl = malloc(len);
	if (!decl)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	/* Walks nest (a callback may walk again): one name per depth. */
	snprintf(cur, sizeof(cur), "cbcur%d", p->depth);
	snprintf(decl, len, "DECLARE %s NO SCROLL CURSOR FOR %s", cur, sql);
	snprintf(fetch, sizeof(fetch), "FETCH %d FROM %s", PG_FETCH_ROWS, cur);
	snprintf(close, sizeof(close), "CLOSE %s", cur);
	if (own)
		rc = pg_exec(p, "BEGIN", what, err);
	if (!rc) {
		r = PQexecParams(p->conn, decl, n, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail(p, r, what, err);
		else
			declared = 1;
		PQclear(r);
	}
	free(decl);
	if (declared)
		p->depth++;
	while (declared && !rc) {
		r = PQexec(p->conn, fetch);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = pg_fail(p, r, what, err);
			PQclear(r);
			break;
		}
		rows = PQntuples(r);
		for (i = 0; i < rows && !rc; i++)
			rc = fn(r, i, ctx);
		PQclear(r);
		if (rows < PG_FETCH_ROWS)
			break;
	}
	if (declared) {
		p->depth--;
		if (PQtransactionStatus(p->conn) == PQTRANS_INTRANS)
			PQclear(PQexec(p->conn, close));
	}
	if (own && p->tx) {
		r = PQexec(p->conn, rc ? "ROLLBACK" : "COMMIT");
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail(p, r, what, err);
		PQclear(r);
		p->tx = 0;
	}
	return rc;
}

const char *pg_col(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

int pg_null(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t pg_int(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col)
		   ? 0
		   : (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void pg_copy(char *dst, size_t cap, PGresult *r, int row, int col)
{
	snprintf(dst, cap, "%s", pg_col(r, row, col));
}

long pg_bytes(PGresult *r, int row, int col, unsigned char *out, size_t cap)
{
	const char *t = pg_col(r, row, col);
	size_t n = strlen(t);
	struct cb_err err;
	size_t got = 0;

	if (n < 2 || t[0] != '\\' || t[1] != 'x' || (n - 2) / 2 > cap)
		return -1;
	if (cb_hex_decode(t + 2, n - 2, out, cap, &got, &err))
		return -1;
	return (long)got;
}

const char *pg_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

char *pg_array(const char *const *v, size_t n)
{
	size_t i, cap = 3, at = 0;
	const char *c;
	char *out;

	for (i = 0; i < n; i++)
		cap += v[i] ? 2 * strlen(v[i]) + 3 : 5;
	out = malloc(cap);
	if (!out)
		return NULL;
	out[at++] = '{';
	for (i = 0; i < n; i++) {
		if (i)
			out[at++] = ',';
		if (!v[i]) {
			memcpy(out + at, "NULL", 4);
			at += 4;
			continue;
		}
		out[at++] = '"';
		for (c = v[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				out[at++] = '\\';
			out[at++] = *c;
		}
		out[at++] = '"';
	}
	out[at++] = '}';
	out[at] = '\0';
	return out;
}

/*
 * Connect to `where`. A URI holding a password is refused: it would show
 * in process listings and shell histories; libpq reads it from its
 * password file (~/.pgpass, PGPASSFILE) or PGPASSWORD instead.
 */
int pg_connect(const char *where, int readonly, int nonces,
	       struct pg_store **out, struct cb_err *err)
{
	PQconninfoOption *opts, *o;
	struct pg_store *p;
	char *msg = NULL;
	int rc;

	*out = NULL;
	if (strlen(where) >= sizeof(p->where))
		return cb_err_set(err, CB_EINVAL,
				  "the PostgreSQL URI is too long");
	opts = PQconninfoParse(where, &msg);
	if (!opts) {
		char line[300];

		first_line(line, sizeof(line), msg ? msg : "out of memory");
		PQfreemem(msg);
		return cb_err_set(err, CB_EINVAL,
				  "not a PostgreSQL connection URI (%s)", line);
	}
	for (o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && o->val[0]) {
			PQconninfoFree(opts);
			return cb_err_set(
			    err, CB_EINVAL,
			    "the PostgreSQL URI holds a password: leave it "
			    "out and put it in libpq's password file "
			    "(~/.pgpass or PGPASSFILE) or PGPASSWORD, never "
			    "on the command line");
		}
	PQconninfoFree(opts);
	p = calloc(1, sizeof(*p));
	if (!p)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	snprintf(p->where, sizeof(p->where), "%s", where);
	p->readonly = readonly;
	p->nonces = nonces;
	cb_hmap_init(&p->pend_ids);
	cb_hmap_init(&p->num_ids);
	p->conn = PQconnectdb(where);
	if (conn_bad(p)) {
		char line[400];

		first_line(line, sizeof(line),
			   p->conn ? PQerrorMessage(p->conn) : "out of memory");
		cb_err_set(err, CB_EIO,
			   "cannot connect to the central store %s: %s", where,
			   line);
		PQfinish(p->conn);
		free(p);
		return CB_EIO;
	}
	rc = setup(p, err);
	if (rc) {
		PQfinish(p->conn);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}
