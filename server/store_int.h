/*
 * store_int.h - what the files of the central store's SQLite backend
 * share (store.c, store_events.c, store_derived.c, store_slots.c,
 * store_nonce.c, store_users.c, store_backup.c): the handle, the schema, every
 * statement and the backend's functions, which srv_sqlite_ops (store.c) lists.
 * Nothing outside those files includes it; the rest of the server sees store.h
 * only.
 */
#ifndef SRV_STORE_INT_H
#define SRV_STORE_INT_H

#include <pthread.h>

#include "db.h"
#include "store.h"
#include "store_be.h"

struct checkpointer;

/* A connection to the store in a data directory. */
struct sq_store {
	struct srv_store base; /* the backend's table */
	struct cb_db db;
	int readonly;
	struct checkpointer *ckpt; /* NULL unless srv_store_checkpointer */
	char dir[4096];		   /* the data directory */
};

/* The SQLite handle behind a struct srv_store of this backend. */
#define SQ(s) ((struct sq_store *)(s))

/* Every statement, prepared on first use (cb_db_stmt). */
enum stmt_id {
	ST_SETTING_GET,
	ST_SETTING_PUT,
	ST_SITE_ADD,
	ST_SITE_GET,
	ST_SITE_EACH,
	ST_TOKEN_ADD,
	ST_TOKEN_BY_HASH,
	ST_TOKEN_EACH,
	ST_TOKEN_REVOKE,
	ST_TOKEN_USE,
	ST_DEVICE_NEXT_INDEX,
	ST_DEVICE_ADD,
	ST_DEVICE_BY_KEY,
	ST_DEVICE_GET,
	ST_DEVICE_EACH,
	ST_DEVICE_REVOKE,
	ST_DEVICE_SEEN,
	ST_USER_ADD,
	ST_USER_GET,
	ST_USER_EACH,
	ST_USER_DISABLE,
	ST_REUSE_ADD,
	ST_REUSE_GET,
	ST_EVENT_ADD,
	ST_EVENT_GET,
	ST_EVENT_EACH,
	ST_EVENT_EACH_SITE,
	ST_EVENT_MAX,
	ST_EVENT_WITHHELD,
	ST_EVENT_OF_SUBJECT,
	ST_SUBJECT_NAMES,
	ST_SUBJECT_NEVENTS,
	ST_SUBJECT_PUT,
	ST_SUBJECT_EACH,
	ST_QUERIES_DEL,
	ST_QUERY_PUT,
	ST_QUERY_DEL_ID,
	ST_QUERY_EACH,
	ST_FORM_ROWS_OF,
	ST_FORM_ROWS_EACH,
	ST_FORM_ITEMS,
	ST_FORMS_DEL,
	ST_FORM_PUT,
	ST_SLOT_GET,
	ST_SLOT_OF_SUBJECT,
	ST_SLOT_MARK,
	ST_SLOT_KIT,
	ST_SLOT_INSERT,
	ST_SLOT_DELETE,
	ST_SLOT_CELLS,
	ST_SLOT_HAVE,
	ST_SLOT_LEASE,
	ST_SLOT_HOLD,
	ST_SLOT_LEASED,
	ST_SLOT_ASSIGNED,
	ST_SLOT_KEYS,
	ST_SLOT_ARMS,
	ST_SLOT_LIST_ADD,
	ST_SLOT_SITE_ADD,
	ST_SLOT_COUNTS,
	ST_BEGIN,
	ST_BEGIN_READ,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

extern const char *const srv_store_sql[ST_COUNT];
extern const char srv_store_schema[];

/*
 * Open the database file `path` (not a data directory) for writing,
 * upgrading an older schema as srv_store_open does; the restore opens
 * its copy with it before the copy takes the store's name.
 */
int srv_store_open_file(const char *path, struct srv_store **out,
			struct cb_err *err);

/* cb_db_stmt, cb_db_fail, cb_db_done and cb_db_row on the handle. */
static inline sqlite3_stmt *st_get(struct srv_store *s, enum stmt_id id,
				   struct cb_err *err)
{
	return cb_db_stmt(&SQ(s)->db, (size_t)id, err);
}

static inline int st_fail(struct srv_store *s, int rc, const char *what,
			  struct cb_err *err)
{
	return cb_db_fail(&SQ(s)->db, rc, what, err);
}

static inline int st_done(struct srv_store *s, sqlite3_stmt *st,
			  const char *what, struct cb_err *err)
{
	return cb_db_done(&SQ(s)->db, st, what, err);
}

static inline int st_row(struct srv_store *s, sqlite3_stmt *st,
			 const char *what, struct cb_err *err)
{
	return cb_db_row(&SQ(s)->db, st, what, err);
}

/* The backend's functions (store_be.h says what each does). */
int sq_create(const char *dir, const char *study, const char *proto,
	      size_t proto_len, const char *proto_sha256,
	      struct srv_store **out, struct cb_err *err);
int sq_open(const char *dir, int readonly, struct srv_store **out,
	    struct cb_err *err);
void sq_close(struct srv_store *s);
int sq_leases_paused(struct srv_store *s, char *why, size_t cap,
		     struct cb_err *err);
int sq_commit(struct srv_store *s, struct cb_err *err);
void sq_rollback(struct srv_store *s);
int sq_device_get(struct srv_store *s, const char *id, struct srv_device *out,
		  struct cb_err *err);
int sq_nonces_open(const char *dir, struct srv_nonces **out,
		   struct cb_err *err);
void sq_nonces_close(struct srv_nonces *n);
int sq_nonces_use(struct srv_nonces *n, const char *device, const char *nonce,
		  int64_t time_ms, int64_t now_ms, struct cb_err *err);
int sq_event_add(struct srv_store *s, const struct srv_event_row *row,
		 int64_t *seq, struct cb_err *err);
int sq_event_get(struct srv_store *s, const char *id, char **json, size_t *len,
		 struct cb_err *err);
int sq_event_each(struct srv_store *s, int64_t since, long limit,
		  const char *site, int unblinded,
		  int (*fn)(const struct srv_event_row *row, void *ctx),
		  void *ctx, int64_t *last, struct cb_err *err);
int sq_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
		     const char *site,
		     int (*fn)(const struct srv_event_row *row, void *ctx),
		     void *ctx, struct cb_err *err);
int sq_subject_events(struct srv_store *s, const char *subject, int unblinded,
		      int (*fn)(const struct srv_event_row *row, void *ctx),
		      void *ctx, struct cb_err *err);
int sq_subject_names(struct srv_store *s, const char *site,
		     int (*fn)(const char *subject, const char *site,
			       void *ctx),
		     void *ctx, struct cb_err *err);
int sq_subject_nevents(struct srv_store *s, const char *subject, int64_t *n,
		       struct cb_err *err);
int sq_derived_clear(struct srv_store *s, struct cb_err *err);
int sq_subject_clear(struct srv_store *s, const char *subject,
		     struct cb_err *err);
int sq_query_put(struct srv_store *s, const struct cb_merge_query *q,
		 const char *site, struct cb_err *err);
int sq_query_del(struct srv_store *s, const char *id, struct cb_err *err);
int sq_form_put(struct srv_store *s, const struct cb_merge_form *f,
		const char *items, struct cb_err *err);
int sq_form_items(struct srv_store *s, const char *subject, const char *visit,
		  const char *form, const char *instance, struct cb_buf *b,
		  struct cb_err *err);
int sq_subject_put(struct srv_store *s, const char *subject, const char *site,
		   int64_t nevents, const char *state, const char *summary,
		   struct cb_err *err);
int sq_summary_rows(struct srv_store *s, const char *site,
		    int (*fn)(const char *json, size_t len, void *ctx),
		    void *ctx, struct cb_err *err);
int sq_form_rows(struct srv_store *s, const char *subject, const char *visit,
		 const char *form,
		 int (*fn)(const struct srv_form_row *f, void *ctx), void *ctx,
		 struct cb_err *err);
int sq_query_each(struct srv_store *s, const char *site, const char *status,
		  long limit,
		  int (*fn)(const struct srv_query_row *q, void *ctx),
		  void *ctx, struct cb_err *err);
int sq_derived_dump(struct srv_store *s,
		    int (*out)(const char *text, size_t len, void *ctx),
		    void *ctx, struct cb_err *err);
int sq_slot_get(struct srv_store *s, const char *randno,
		struct srv_slot_info *out, struct cb_err *err);
int sq_slot_of_subject(struct srv_store *s, const char *subject, char *out,
		       size_t cap, struct cb_err *err);
int sq_slots_put(struct srv_store *s, const char *list_id,
		 const struct srv_slot_new *slots, size_t n, size_t *added,
		 size_t *replaced, size_t *kept, struct cb_err *err);
int sq_slots_list(struct srv_store *s, const char *list_id,
		  const char *fingerprint, const char *study, size_t nslots,
		  struct cb_err *err);
int sq_slots_site(struct srv_store *s, const char *list_id, const char *site,
		  const char *pub_hex, const char *key_hex, struct cb_err *err);
int sq_slots_lease(struct srv_store *s, const char *device, const char *site,
		   long want, const char *now, struct cb_err *err);
int sq_slots_each(struct srv_store *s, int kind, const char *device,
		  const char *site,
		  int (*fn)(const struct srv_slot *sl, void *ctx), void *ctx,
		  struct cb_err *err);
int sq_slot_mark(struct srv_store *s, const char *randno, const char *subject,
		 const char *event, const char *device, const char *when,
		 struct cb_err *err);
int sq_slot_hold(struct srv_store *s, const char *randno, const char *device,
		 const char *site, const char *now, int *took,
		 struct cb_err *err);
int sq_slots_clear_used(struct srv_store *s, struct cb_err *err);
int sq_user_add(struct srv_store *s, const struct srv_user *u,
		struct cb_err *err);
int sq_user_get(struct srv_store *s, const char *name, struct srv_user *out,
		struct cb_err *err);
int sq_user_each(struct srv_store *s, const char *site, const char *role,
		 int (*fn)(const struct srv_user *u, void *ctx), void *ctx,
		 struct cb_err *err);
int sq_user_disable(struct srv_store *s, const char *name, int64_t now_ms,
		    const char *reason, struct cb_err *err);
int sq_backup(struct srv_store *s, const char *path, struct cb_err *err);

/*
 * What the backup and the restore share (store_backup.c): fsync a file
 * or directory; the directory holding a path; an SQLite failure on a
 * file as CB_EIO; PRAGMA integrity_check answering "ok" (else
 * CB_EINTEGRITY); and a copy of database `src` into a new file `tmp`
 * through the online backup API, with `fix` (may be NULL) run on the
 * copy before it is checked.
 */
int sq_sync_path(const char *path, struct cb_err *err);
void sq_dir_of(const char *path, char *dir, size_t cap);
int sq_db_fail(sqlite3 *db, const char *what, const char *path,
	       struct cb_err *err);
int sq_check_integrity(sqlite3 *db, const char *path, struct cb_err *err);
int sq_copy_to(sqlite3 *src, const char *tmp, const char *fix,
	       struct cb_err *err);
int sq_slots_counts(struct srv_store *s, long *lists,
		    int (*fn)(const char *site, long slots, long leased,
			      long used, void *ctx),
		    void *ctx, struct cb_err *err);

#endif
