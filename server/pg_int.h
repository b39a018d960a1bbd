/*
 * pg_int.h - what the files of the central store's PostgreSQL backend
 * share (pg_store.c, pg_events.c, pg_derived.c, pg_slots.c): the handle,
 * every statement, and running them through libpq. Nothing outside those
 * files includes it; the rest of the server sees store.h only.
 *
 * Every statement is prepared once per connection, on first use, with
 * its parameters sent as text (bytes as binary). A connection found
 * broken outside a transaction is made again before the next statement
 * (the database restarted, or a failover), and a statement that found
 * it broken there is tried once more; inside a transaction the
 * transaction is lost and its caller fails (CB_EIO), as a device's
 * request then does (HTTP 500: the device keeps its events and retries).
 *
 * Locks (advisory, held until the transaction ends; docs/OPERATIONS.md):
 *   PG_K_STORE    every write transaction shares it; a rebuild takes it
 *                 alone (srv_store_begin_exclusive)
 *   PG_K_ALLSUBJ  shared by a push that locks its subjects one by one,
 *                 taken alone by one naming too many of them
 *   PG_K_SUBJECT  one per subject (by the hash of its id)
 *   PG_K_EVENTS   the numbering and writing of a transaction's events,
 *                 held from then until commit: numbers are handed out in
 *                 commit order
 *   PG_K_SITE     a site's device indexes (registration)
 *   PG_K_LEASE    a site's slot leases
 *   PG_K_SCHEMA   an upgrade of the schema
 * They are always taken in this order, so no two transactions wait on
 * each other in a circle over them.
 */
#ifndef SRV_PG_INT_H
#define SRV_PG_INT_H

#include <libpq-fe.h>

#include "hmap.h"
#include "store.h"
#include "store_be.h"

#define PG_K_STORE 1128398849 /* 0x43420001 */
#define PG_K_ALLSUBJ 1128398850
#define PG_K_SUBJECT 1128398851
#define PG_K_EVENTS 1128398852
#define PG_K_SITE 1128398853
#define PG_K_LEASE 1128398854
#define PG_K_SCHEMA 1128398855

/* Most subjects a push locks one by one; more take PG_K_ALLSUBJ alone. */
#define PG_SUBJECT_LOCKS_MAX 256

/* Rows fetched from a cursor at a time. */
#define PG_FETCH_ROWS 1000

/* Every prepared statement. */
enum pg_stmt {
	PG_SETTING_GET,
	PG_SETTING_PUT,
	PG_KEY_GET,
	PG_KEY_PUT,
	PG_SITE_ADD,
	PG_SITE_GET,
	PG_SITE_EACH,
	PG_SITE_LOCK,
	PG_TOKEN_ADD,
	PG_TOKEN_BY_HASH,
	PG_TOKEN_EACH,
	PG_TOKEN_REVOKE,
	PG_TOKEN_USE,
	PG_USER_ADD,
	PG_USER_GET,
	PG_USER_EACH,
	PG_USER_DISABLE,
	PG_DEVICE_NEXT_INDEX,
	PG_DEVICE_ADD,
	PG_DEVICE_BY_KEY,
	PG_DEVICE_GET,
	PG_DEVICE_EACH,
	PG_DEVICE_REVOKE,
	PG_DEVICE_SEEN,
	PG_DEVICE_LOCK,
	PG_REUSE_ADD,
	PG_REUSE_GET,
	PG_LOCK_ALLSUBJ_SHARED,
	PG_LOCK_ALLSUBJ,
	PG_LOCK_SUBJECTS,
	PG_LOCK_EVENTS,
	PG_EVENTS_ADD,
	PG_EVENT_ADD_ONE,
	PG_EVENT_GET,
	PG_EVENT_EACH,
	PG_EVENT_EACH_SITE,
	PG_EVENT_MAX,
	PG_EVENT_WITHHELD,
	PG_EVENT_OF_SUBJECT,
	PG_SUBJECT_NEVENTS,
	PG_SUBJECT_PUT,
	PG_QUERIES_DEL,
	PG_FORMS_DEL,
	PG_QUERY_PUT,
	PG_QUERY_DEL_ID,
	PG_QUERY_EACH,
	PG_FORM_ROWS_OF,
	PG_FORM_ROWS_EACH,
	PG_FORM_ITEMS,
	PG_FORM_PUT,
	PG_SLOT_GET,
	PG_SLOT_GET_LOCK,
	PG_SLOT_OF_SUBJECT,
	PG_SLOT_MARK,
	PG_SLOT_HOLD,
	PG_SLOT_KIT,
	PG_SLOT_INSERT,
	PG_SLOT_DELETE,
	PG_SLOT_CELLS,
	PG_SLOT_HAVE,
	PG_SLOT_LEASE_LOCK,
	PG_SLOT_LEASE,
	PG_SLOT_LIST_ADD,
	PG_SLOT_SITE_ADD,
	PG_SLOT_COUNTS,
	PG_NONCE_ADD,
	PG_NONCE_PRUNE,
	PG_COUNT
};

extern const char *const pg_sql[PG_COUNT];

/* An event added in the open transaction, written at its commit. */
struct pg_pending {
	char *id, *device, *site, *subject, *kind, *json, *received_at;
	int unblinded;
};

/* An event written and numbered by the transaction. */
struct pg_numbered {
	char *id;
	int64_t seq;
};

/* A connection to the store in one PostgreSQL database. */
struct pg_store {
	struct srv_store base; /* the backend's table */
	PGconn *conn;
	char where[1024]; /* the URI, without a password (never has one) */
	int readonly;
	int nonces; /* the nonce connection: no waiting for the disk */
	unsigned char prepared[PG_COUNT];
	int depth; /* cursors open */
	int tx;	   /* inside a transaction we began (until its end) */
	/* events waiting for the commit, and their ids */
	struct pg_pending *pend;
	size_t npend, cap_pend;
	struct cb_hmap pend_ids;
	int events_locked; /* PG_K_EVENTS held (numbers taken already) */
	/* the events the transaction numbered, by id (pg_event_seq): kept
	 * after its commit, until the next transaction begins */
	struct pg_numbered *num;
	size_t nnum, cap_num;
	struct cb_hmap num_ids;
};

#define PGS(s) ((struct pg_store *)(s))

/*
 * Run statement `id` with `n` parameters (v[i] NULL: SQL NULL; lens and
 * fmts NULL: all text, else fmts[i] 1 sends v[i] as lens[i] bytes).
 * Returns the result (PQclear it), or NULL with err set: the CB_E* code
 * of the failure (pg_fail) naming `what`.
 */
PGresult *pg_run(struct pg_store *p, enum pg_stmt id, int n,
		 const char *const *v, const int *lens, const int *fmts,
		 const char *what, struct cb_err *err);
#ifdef __clang_analyzer__
/* For the static analyzer, which cannot see pg_conn.c: NULL means err is
 * set, so `if (!r) return err->code;` is a failure. */
#define pg_run(p, id, n, v, lens, fmts, what, err)                             \
	((PGresult *)cb_err_told_(                                             \
	    pg_run((p), (id), (n), (v), (lens), (fmts), (what), (err)),        \
	    (err)))
#endif

/* pg_run with text parameters, for a statement that returns no rows:
 * 0, or the error code. *changed (may be NULL) gets the rows changed. */
int pg_do(struct pg_store *p, enum pg_stmt id, int n, const char *const *v,
	  long *changed, const char *what, struct cb_err *err);

/* Run SQL text with no parameters and no rows (BEGIN, schema). */
int pg_exec(struct pg_store *p, const char *sql, const char *what,
	    struct cb_err *err);

/*
 * Run query `sql` (parameters as pg_run's, all text) through a cursor,
 * PG_FETCH_ROWS at a time, calling fn for each row (r and row valid
 * during the call; fn may run other statements on p). fn returning
 * non-zero stops the walk and that value is returned. Outside a
 * transaction one is opened around it.
 */
int pg_each(struct pg_store *p, const char *sql, int n, const char *const *v,
	    int (*fn)(PGresult *r, int row, void *ctx), void *ctx,
	    const char *what, struct cb_err *err);

/*
 * The CB_E* code of a failed result (or of the connection, r NULL) met
 * while doing `what`, with PostgreSQL's message: CB_EEXIST for a unique
 * row already there, CB_EBUSY for a deadlock, a serialization failure
 * or too many connections (try again), CB_EIO for the rest (the
 * database unreachable or shut down, a permission missing).
 */
int pg_fail(struct pg_store *p, PGresult *r, const char *what,
	    struct cb_err *err);

/* A column as text ("" for NULL); its bytes; 1 when NULL. */
const char *pg_col(PGresult *r, int row, int col);
int pg_null(PGresult *r, int row, int col);
int64_t pg_int(PGresult *r, int row, int col);
/* Copy a text column into dst (cap bytes, cut to fit, NUL-terminated). */
void pg_copy(char *dst, size_t cap, PGresult *r, int row, int col);
/*
 * A bytea column (text output, \x and hex) decoded into out (at most cap
 * bytes): the byte count, or -1 when it does not decode or fit.
 */
long pg_bytes(PGresult *r, int row, int col, unsigned char *out, size_t cap);

/* Decimal text of v into buf (24 bytes). */
const char *pg_i64(char buf[24], int64_t v);

/*
 * A PostgreSQL array literal of n texts ({"a","b"}), NULL entries as
 * NULL; malloc'd, NULL when out of memory.
 */
char *pg_array(const char *const *v, size_t n);

/*
 * Connect to `where` (a libpq URI; one holding a password is CB_EINVAL)
 * into a new handle whose table the caller sets; readonly for a
 * reader's connection, nonces for the nonce connection (commits that
 * do not wait for the disk). CB_EIO when the database cannot be reached.
 */
int pg_connect(const char *where, int readonly, int nonces,
	       struct pg_store **out, struct cb_err *err);

/* 1 inside a transaction begun with pg_exec("BEGIN...") and not yet
 * ended by pg_commit or pg_rollback (the connection may have broken:
 * it is then not made again until the transaction is ended). */
int pg_in_tx(struct pg_store *p);

/* Make a broken connection again, outside a transaction: 1 when made
 * again, 0 when it was fine, the error code when it cannot be. */
int pg_revive(struct pg_store *p, struct cb_err *err);

/* Write the events waiting in p->pend (numbered under PG_K_EVENTS). */
int pg_events_flush(struct pg_store *p, struct cb_err *err);
/* Forget them (a rollback). */
void pg_events_forget(struct pg_store *p);
/* Forget the numbers of the events written (a transaction begins). */
void pg_numbered_forget(struct pg_store *p);

/* The backend's functions of pg_events.c, pg_derived.c, pg_slots.c. */
int pg_event_add(struct srv_store *s, const struct srv_event_row *row,
		 int64_t *seq, struct cb_err *err);
int pg_event_seq(struct srv_store *s, const char *id, int64_t *seq);
int pg_event_get(struct srv_store *s, const char *id, char **json, size_t *len,
		 struct cb_err *err);
int pg_event_each(struct srv_store *s, int64_t since, long limit,
		  const char *site, int unblinded,
		  int (*fn)(const struct srv_event_row *row, void *ctx),
		  void *ctx, int64_t *last, struct cb_err *err);
int pg_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
		     const char *site,
		     int (*fn)(const struct srv_event_row *row, void *ctx),
		     void *ctx, struct cb_err *err);
int pg_subject_events(struct srv_store *s, const char *subject, int unblinded,
		      int (*fn)(const struct srv_event_row *row, void *ctx),
		      void *ctx, struct cb_err *err);
int pg_subject_names(struct srv_store *s, const char *site,
		     int (*fn)(const char *subject, const char *site,
			       void *ctx),
		     void *ctx, struct cb_err *err);
int pg_subject_nevents(struct srv_store *s, const char *subject, int64_t *n,
		       struct cb_err *err);
int pg_derived_clear(struct srv_store *s, struct cb_err *err);
int pg_subject_clear(struct srv_store *s, const char *subject,
		     struct cb_err *err);
int pg_query_put(struct srv_store *s, const struct cb_merge_query *q,
		 const char *site, struct cb_err *err);
int pg_query_del(struct srv_store *s, const char *id, struct cb_err *err);
int pg_form_put(struct srv_store *s, const struct cb_merge_form *f,
		const char *items, struct cb_err *err);
int pg_form_items(struct srv_store *s, const char *subject, const char *visit,
		  const char *form, const char *instance, struct cb_buf *b,
		  struct cb_err *err);
int pg_subject_put(struct srv_store *s, const char *subject, const char *site,
		   int64_t nevents, const char *state, const char *summary,
		   struct cb_err *err);
int pg_summary_rows(struct srv_store *s, const char *site,
		    int (*fn)(const char *json, size_t len, void *ctx),
		    void *ctx, struct cb_err *err);
int pg_form_rows(struct srv_store *s, const char *subject, const char *visit,
		 const char *form,
		 int (*fn)(const struct srv_form_row *f, void *ctx), void *ctx,
		 struct cb_err *err);
int pg_query_each(struct srv_store *s, const char *site, const char *status,
		  long limit,
		  int (*fn)(const struct srv_query_row *q, void *ctx),
		  void *ctx, struct cb_err *err);
int pg_derived_dump(struct srv_store *s,
		    int (*out)(const char *text, size_t len, void *ctx),
		    void *ctx, struct cb_err *err);
int pg_slot_get(struct srv_store *s, const char *randno,
		struct srv_slot_info *out, struct cb_err *err);
int pg_slot_of_subject(struct srv_store *s, const char *subject, char *out,
		       size_t cap, struct cb_err *err);
int pg_slots_put(struct srv_store *s, const char *list_id,
		 const struct srv_slot_new *slots, size_t n, size_t *added,
		 size_t *replaced, size_t *kept, struct cb_err *err);
int pg_slots_list(struct srv_store *s, const char *list_id,
		  const char *fingerprint, const char *study, size_t nslots,
		  struct cb_err *err);
int pg_slots_site(struct srv_store *s, const char *list_id, const char *site,
		  const char *pub_hex, const char *key_hex, struct cb_err *err);
int pg_slots_lease(struct srv_store *s, const char *device, const char *site,
		   long want, const char *now, struct cb_err *err);
int pg_slots_each(struct srv_store *s, int kind, const char *device,
		  const char *site,
		  int (*fn)(const struct srv_slot *sl, void *ctx), void *ctx,
		  struct cb_err *err);
int pg_slot_mark(struct srv_store *s, const char *randno, const char *subject,
		 const char *event, const char *device, const char *when,
		 struct cb_err *err);
int pg_slot_hold(struct srv_store *s, const char *randno, const char *device,
		 const char *site, const char *now, int *took,
		 struct cb_err *err);
int pg_slots_clear_used(struct srv_store *s, struct cb_err *err);
int pg_slots_counts(struct srv_store *s, long *lists,
		    int (*fn)(const char *site, long slots, long leased,
			      long used, void *ctx),
		    void *ctx, struct cb_err *err);

#endif
