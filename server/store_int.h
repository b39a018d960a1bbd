/*
 * store_int.h - what the files of the central store's SQLite backend
 * share (store.c, store_events.c, store_derived.c, store_slots.c):
 * the handle, the schema and every statement. Nothing outside those
 * files includes it; the rest of the server sees store.h only.
 */
#ifndef SRV_STORE_INT_H
#define SRV_STORE_INT_H

#include <pthread.h>

#include "db.h"
#include "store.h"

/*
 * The schema version this casebookd writes (the setting
 * "schema_version"). Version 1 had no per-subject index, summary or
 * form tables and kept the nonces here; version 2 had no users (people
 * registered by the administrator). store.c upgrades both.
 */
#define SRV_SCHEMA_VERSION 3

/* Setting naming derived tables that an upgrade left to rebuild. */
#define SRV_SETTING_STALE "derived_stale"

struct checkpointer;

struct srv_store {
	struct cb_db db;
	int readonly;
	struct checkpointer *ckpt; /* NULL unless srv_store_checkpointer */
};

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
	ST_ITEMS_DEL,
	ST_ITEM_QUERY,
	ST_ITEM_REPLACE,
	ST_QUERIES_DEL,
	ST_QUERY_PUT,
	ST_QUERY_DEL_ID,
	ST_QUERY_EACH,
	ST_ITEMS_EACH,
	ST_ITEMS_FORM,
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

/* cb_db_stmt, cb_db_fail, cb_db_done and cb_db_row on the handle. */
static inline sqlite3_stmt *st_get(struct srv_store *s, enum stmt_id id,
				   struct cb_err *err)
{
	return cb_db_stmt(&s->db, (size_t)id, err);
}

static inline int st_fail(struct srv_store *s, int rc, const char *what,
			  struct cb_err *err)
{
	return cb_db_fail(&s->db, rc, what, err);
}

static inline int st_done(struct srv_store *s, sqlite3_stmt *st,
			  const char *what, struct cb_err *err)
{
	return cb_db_done(&s->db, st, what, err);
}

static inline int st_row(struct srv_store *s, sqlite3_stmt *st,
			 const char *what, struct cb_err *err)
{
	return cb_db_row(&s->db, st, what, err);
}

#endif
