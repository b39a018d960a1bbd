/*
 * store_be.h - what a backend of the central store implements: the table
 * of functions behind store.h's interface (store_api.c dispatches every
 * srv_store_* call through it). Two backends exist: SQLite (store.c,
 * store_events.c, store_derived.c, store_slots.c, store_nonce.c) and
 * PostgreSQL (pg_*.c). Nothing outside server/store*.c and server/pg_*.c
 * includes this header.
 *
 * Every handle (struct srv_store, struct srv_nonces) starts with the
 * backend's table, so the dispatcher finds it without knowing the rest.
 * Each entry has the contract of the srv_store_* function of the same
 * name in store.h, unless said otherwise here.
 */
#ifndef SRV_STORE_BE_H
#define SRV_STORE_BE_H

#include <cJSON.h>

#include "buf.h"
#include "canon.h"
#include "store.h"

/*
 * The schema version this casebookd writes (the setting
 * "schema_version"), on either backend. Version 1 (SQLite only) had no
 * per-subject index, summary or form tables and kept the nonces in the
 * store; version 2 had no users (people registered by the
 * administrator), tokens naming one, devices' newest clock (max_hlc) or
 * store id; version 3 had no schema_history (which casebookd made or
 * upgraded the store, and when); version 4 no index of the unblinded
 * events; version 5 kept a row per item (the items table) where version
 * 6 keeps each form instance's items in its forms row (store_items.c).
 * store.c and pg_store.c upgrade an older store step by step;
 * PostgreSQL stores began at version 2.
 */
#define SRV_SCHEMA_VERSION 6

/* Setting naming derived tables that an upgrade left to rebuild. */
#define SRV_SETTING_STALE "derived_stale"

/* Setting present while new slot leases are paused (a restore into an
 * empty data directory); its value says since when and why. */
#define SRV_SETTING_LEASES_PAUSED "leases_paused"

struct srv_store {
	const struct srv_store_ops *ops;
};

struct srv_form_row; /* one forms row with its items (below) */

/* Its table is set by srv_nonces_open, once the backend has made it. */
struct srv_nonces {
	const struct srv_store_ops *ops;
};

/* The columns of one row of a record table (srv_store_copy). */
#define SRV_RAW_COLS 16
struct srv_raw_row {
	size_t n;
	const char *v[SRV_RAW_COLS]; /* NULL: SQL NULL */
	size_t len[SRV_RAW_COLS];    /* bytes of v (blobs may hold NULs) */
};

/*
 * The tables that hold the record rather than what is derived from it,
 * as srv_store_copy moves them: name, columns (comma-separated, in this
 * order) and each column's kind, one letter per column: t text, i
 * integer (its decimal text), b bytes, and a capital for a column that
 * may be NULL; and the columns that order its rows.
 */
struct srv_raw_table {
	const char *name, *cols, *kinds, *order;
};
extern const struct srv_raw_table srv_raw_tables[];
extern const size_t srv_raw_ntables;

struct srv_store_ops {
	const char *name; /* "sqlite", "postgresql" */
	/* event_add tells the number at no cost (srv_store_seq_free) */
	int seq_free;
	/* one process writes the store (srv_store_one_writer) */
	int one_writer;
	int (*create)(const char *where, const char *study, const char *proto,
		      size_t proto_len, const char *proto_sha256,
		      struct srv_store **out, struct cb_err *err);
	/* readonly: a reader (srv_store_open_reader) */
	int (*open)(const char *where, int readonly, struct srv_store **out,
		    struct cb_err *err);
	void (*close)(struct srv_store *s);
	int (*schema_version)(struct srv_store *s, long *v, struct cb_err *err);
	int (*stale)(struct srv_store *s);
	int (*stale_clear)(struct srv_store *s, struct cb_err *err);
	int (*checkpointer)(struct srv_store *s, struct cb_err *err);
	int (*study)(struct srv_store *s, char **study, char **proto,
		     size_t *proto_len, char **sha256, struct cb_err *err);
	int (*key_create)(struct srv_store *s, const unsigned char *secret,
			  struct cb_err *err);
	/* CB_ENOTFOUND when there is none; the secret's 64 bytes */
	int (*key_get)(struct srv_store *s, unsigned char *secret,
		       struct cb_err *err);

	int (*begin)(struct srv_store *s, struct cb_err *err);
	int (*begin_read)(struct srv_store *s, struct cb_err *err);
	int (*begin_exclusive)(struct srv_store *s, struct cb_err *err);
	int (*commit)(struct srv_store *s, struct cb_err *err);
	void (*rollback)(struct srv_store *s);
	/* subjects sorted, without repeats */
	int (*lock_subjects)(struct srv_store *s, const char *const *subjects,
			     size_t n, struct cb_err *err);

	int (*site_add)(struct srv_store *s, const char *code, const char *name,
			struct cb_err *err);
	int (*site_exists)(struct srv_store *s, const char *code,
			   struct cb_err *err);
	int (*site_each)(struct srv_store *s,
			 int (*fn)(const char *code, const char *name,
				   void *ctx),
			 void *ctx, struct cb_err *err);
	int (*token_add)(struct srv_store *s, const struct srv_token *t,
			 struct cb_err *err);
	int (*token_each)(struct srv_store *s,
			  int (*fn)(const struct srv_token *t, void *ctx),
			  void *ctx, struct cb_err *err);
	int (*token_revoke)(struct srv_store *s, const char *id,
			    struct cb_err *err);
	int (*reg)(struct srv_store *s, const char *token_hash, int64_t now_ms,
		   struct srv_device *dev, struct cb_err *err);
	int (*device_get)(struct srv_store *s, const char *id,
			  struct srv_device *out, struct cb_err *err);
	int (*device_each)(struct srv_store *s,
			   int (*fn)(const struct srv_device *d, void *ctx),
			   void *ctx, struct cb_err *err);
	int (*device_revoke)(struct srv_store *s, const char *id,
			     int64_t now_ms, struct cb_err *err);
	int (*device_seen)(struct srv_store *s, const char *id, const char *hlc,
			   struct cb_err *err);
	/* device_get, and the device's row locked until the transaction
	 * ends where several processes write (srv_store_device_lock) */
	int (*device_lock)(struct srv_store *s, const char *id,
			   struct srv_device *out, struct cb_err *err);

	int (*nonces_open)(const char *where, struct srv_nonces **out,
			   struct cb_err *err);
	void (*nonces_close)(struct srv_nonces *n);
	int (*nonces_use)(struct srv_nonces *n, const char *device,
			  const char *nonce, int64_t time_ms, int64_t now_ms,
			  struct cb_err *err);

	int (*reuse_add)(struct srv_store *s, const char *subject,
			 const char *device, const char *hlc,
			 struct cb_err *err);
	int (*reuse_get)(struct srv_store *s, const char *subject,
			 const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			 struct cb_err *err);

	int (*event_add)(struct srv_store *s, const struct srv_event_row *row,
			 int64_t *seq, struct cb_err *err);
	/* NULL when seq_free (event_add tells it) */
	int (*event_seq)(struct srv_store *s, const char *id, int64_t *seq);
	int (*event_get)(struct srv_store *s, const char *id, char **json,
			 size_t *len, struct cb_err *err);
	int (*event_each)(struct srv_store *s, int64_t since, long limit,
			  const char *site, int unblinded,
			  int (*fn)(const struct srv_event_row *row, void *ctx),
			  void *ctx, int64_t *last, struct cb_err *err);
	int (*withheld_each)(struct srv_store *s, int64_t since, int64_t upto,
			     const char *site,
			     int (*fn)(const struct srv_event_row *row,
				       void *ctx),
			     void *ctx, struct cb_err *err);
	int (*subject_events)(struct srv_store *s, const char *subject,
			      int unblinded,
			      int (*fn)(const struct srv_event_row *row,
					void *ctx),
			      void *ctx, struct cb_err *err);
	int (*subject_names)(struct srv_store *s, const char *site,
			     int (*fn)(const char *subject, const char *site,
				       void *ctx),
			     void *ctx, struct cb_err *err);
	int (*subject_nevents)(struct srv_store *s, const char *subject,
			       int64_t *n, struct cb_err *err);

	/* The derived rows, written by store_api.c's derive functions. */
	int (*derived_clear)(struct srv_store *s, struct cb_err *err);
	/* Delete the queries and forms rows of one subject. */
	int (*subject_clear)(struct srv_store *s, const char *subject,
			     struct cb_err *err);
	int (*query_put)(struct srv_store *s, const struct cb_merge_query *q,
			 const char *site, struct cb_err *err);
	int (*query_del)(struct srv_store *s, const char *id,
			 struct cb_err *err);
	/* items: the form's items text (srv_items_text) */
	int (*form_put)(struct srv_store *s, const struct cb_merge_form *f,
			const char *items, struct cb_err *err);
	/* The stored items text of one form instance into b (emptied
	 * first; left empty when the form has no row). */
	int (*form_items)(struct srv_store *s, const char *subject,
			  const char *visit, const char *form,
			  const char *instance, struct cb_buf *b,
			  struct cb_err *err);
	/* The subjects row; summary is the summary's JSON text. */
	int (*subject_put)(struct srv_store *s, const char *subject,
			   const char *site, int64_t nevents, const char *state,
			   const char *summary, struct cb_err *err);
	/* Each subjects row's summary JSON text, by id (of `site`). */
	int (*summary_rows)(struct srv_store *s, const char *site,
			    int (*fn)(const char *json, size_t len, void *ctx),
			    void *ctx, struct cb_err *err);
	/* The forms rows of `subject` in order of visit, form and instance
	 * (numerically); visit and form NULL for all, else only those of
	 * `form` at `visit` (a seek on the primary key). */
	int (*form_rows)(struct srv_store *s, const char *subject,
			 const char *visit, const char *form,
			 int (*fn)(const struct srv_form_row *f, void *ctx),
			 void *ctx, struct cb_err *err);
	int (*query_each)(struct srv_store *s, const char *site,
			  const char *status, long limit,
			  int (*fn)(const struct srv_query_row *q, void *ctx),
			  void *ctx, struct cb_err *err);
	int (*derived_dump)(struct srv_store *s,
			    int (*out)(const char *text, size_t len, void *ctx),
			    void *ctx, struct cb_err *err);
	int (*stats)(struct srv_store *s, struct srv_store_stats *st,
		     struct cb_err *err);

	int (*slot_get)(struct srv_store *s, const char *randno,
			struct srv_slot_info *out, struct cb_err *err);
	int (*slot_of_subject)(struct srv_store *s, const char *subject,
			       char *out, size_t cap, struct cb_err *err);
	int (*slots_put)(struct srv_store *s, const char *list_id,
			 const struct srv_slot_new *slots, size_t n,
			 size_t *added, size_t *replaced, size_t *kept,
			 struct cb_err *err);
	int (*slots_list)(struct srv_store *s, const char *list_id,
			  const char *fingerprint, const char *study,
			  size_t nslots, struct cb_err *err);
	int (*slots_site)(struct srv_store *s, const char *list_id,
			  const char *site, const char *pub_hex,
			  const char *key_hex, struct cb_err *err);
	int (*slots_lease)(struct srv_store *s, const char *device,
			   const char *site, long want, const char *now,
			   struct cb_err *err);
	int (*slots_each)(struct srv_store *s, int kind, const char *device,
			  const char *site,
			  int (*fn)(const struct srv_slot *sl, void *ctx),
			  void *ctx, struct cb_err *err);
	int (*slot_mark)(struct srv_store *s, const char *randno,
			 const char *subject, const char *event,
			 const char *device, const char *when,
			 struct cb_err *err);
	int (*slot_hold)(struct srv_store *s, const char *randno,
			 const char *device, const char *site, const char *now,
			 int *took, struct cb_err *err);
	int (*slots_clear_used)(struct srv_store *s, struct cb_err *err);
	int (*slots_counts)(struct srv_store *s, long *lists,
			    int (*fn)(const char *site, long slots, long leased,
				      long used, void *ctx),
			    void *ctx, struct cb_err *err);

	/* Every row of record table `t` (srv_raw_tables[t]), in key order;
	 * and one row written (replacing a settings row of the same key). */
	int (*raw_each)(struct srv_store *s, size_t t,
			int (*fn)(const struct srv_raw_row *r, void *ctx),
			void *ctx, struct cb_err *err);
	int (*raw_put)(struct srv_store *s, size_t t,
		       const struct srv_raw_row *r, struct cb_err *err);
	/* After copying events with their numbers: new ones come after. */
	int (*raw_done)(struct srv_store *s, struct cb_err *err);

	int (*store_id)(struct srv_store *s, char out[SRV_ID_HEX + 1],
			struct cb_err *err);
	int (*store_id_renew)(struct srv_store *s, struct cb_err *err);
	int (*leases_paused)(struct srv_store *s, char *why, size_t cap,
			     struct cb_err *err);
	int (*leases_resume)(struct srv_store *s, int *was, struct cb_err *err);
	/* SQLite's online backup; PostgreSQL's are pg_dump and base
	 * backups (CB_EINVAL saying so). */
	int (*backup)(struct srv_store *s, const char *path,
		      struct cb_err *err);
	int (*user_add)(struct srv_store *s, const struct srv_user *u,
			struct cb_err *err);
	int (*user_get)(struct srv_store *s, const char *name,
			struct srv_user *out, struct cb_err *err);
	int (*user_each)(struct srv_store *s, const char *site,
			 const char *role,
			 int (*fn)(const struct srv_user *u, void *ctx),
			 void *ctx, struct cb_err *err);
	int (*user_disable)(struct srv_store *s, const char *name,
			    int64_t now_ms, const char *reason,
			    struct cb_err *err);
};

/* The two backends (store.c and pg_store.c). */
extern const struct srv_store_ops srv_sqlite_ops;
extern const struct srv_store_ops srv_pg_ops;

/* 1 when `where` names a PostgreSQL database (a libpq URI). */
int srv_store_is_pg(const char *where);

/* ---- a form's items (store_items.c) ------------------------------------ */

/*
 * A form's items text is at most this long: far over a real form's (up
 * to 500 items of up to 4,000 characters, each with its value and its
 * heads' values), so that many conflicting heads never stop a push or a
 * rebuild; under what either backend keeps in one text value (1 GB).
 */
#define SRV_ITEMS_MAX (256u * 1024 * 1024)

/* The items text of form instance f (store_items.c's top), into b. */
int srv_items_text(struct cb_merge *m, const struct cb_merge_form *f,
		   struct cb_canon_buf *b, struct cb_err *err);

/* One item of a form's items text (valid during the call). */
struct srv_items_entry {
	const char *item;
	const char *value; /* NULL when cleared or conflicted */
	int conflict;
	/* the heads' ids and each head's value: JSON arrays of strings
	 * (and nulls), as texts by srv_items_strings_text */
	const cJSON *heads, *head_values;
	const char *query; /* the conflict's query, or NULL */
	int64_t nchanges;
};

/* A JSON array of strings and nulls as the text srv_items_text writes
 * it, into b (emptied first). */
int srv_items_strings_text(const cJSON *a, struct cb_canon_buf *b,
			   struct cb_err *err);

/*
 * Visit the items of a form's items text in order; CB_EINTEGRITY when
 * the text is not one. fn returning non-zero stops the walk and that
 * value is returned.
 */
int srv_items_each(const char *text, size_t len,
		   int (*fn)(const struct srv_items_entry *e, void *ctx),
		   void *ctx, struct cb_err *err);

/* One forms row's names and items text (valid during the call). */
struct srv_form_row {
	const char *subject, *visit, *form, *instance;
	const char *items;
};

/*
 * The dump's lines of the items of form row f: for each item its
 * subject, visit, form, instance, item, value, conflict, heads, head
 * values, query and changes, tab-separated and escaped as srv_dump_field
 * escapes a column (the lines the items table's rows dumped as).
 */
int srv_items_dump(struct cb_buf *b, const struct srv_form_row *f,
		   struct cb_err *err);

/* One column of the derived dump: tab, newline and backslash escaped,
 * \N for NULL. */
int srv_dump_field(struct cb_buf *b, const char *t, struct cb_err *err);

#endif
