/*
 * store_int.h - what the files of the laptop's store share and nothing
 * else sees: the handle, its prepared statements, the sealed tally and
 * the helpers that seal and open rows. client/store.c holds the file, the
 * keys, the settings and the events; client/store_rows.c the rows derived
 * from the events, the quarantine and the marks of subjects whose derived
 * rows are out of date. The interface is store.h; only these files (and
 * common/db.c) talk to SQLite.
 */
#ifndef CB_STORE_INT_H
#define CB_STORE_INT_H

#include <stdint.h>

#include "db.h"
#include "id.h"
#include "store.h"

#define SLOT_LABEL "casebook.keyslot:"
#define META_KEY_MAX 64

#define M_DEVICE_ID "store.device_id"
#define M_DEVICE_SK "store.device_sk"
#define M_SITE "store.site"
#define M_DEVICE_INDEX "store.device_index"
#define M_PROTOCOL "store.protocol"
#define M_SUBJECT_SEQ "store.subject_seq" /* before the tally */
#define M_TALLY "store.tally"

/* Longest associated data: "queries:" + two hash hexes, with room. */
#define AD_MAX 192
#define ROLE_MAX 16

/* Statements prepared once per handle (cb_db_stmt). */
enum {
	Q_SLOT_FIRST,
	Q_SLOT_GET,
	Q_SLOT_INSERT,
	Q_SLOT_UPDATE,
	Q_META_GET,
	Q_META_SET,
	Q_META_DEL,
	Q_SUBJECT_GET,
	Q_SUBJECT_INSERT,
	Q_EVENT_BY_ID,
	Q_EVENT_MAX_SEQ,
	Q_EVENT_INSERT,
	Q_EVENT_SET_FLAGS,
	Q_EVENTS_OF_SUBJECT,
	Q_EVENTS_QUEUED,
	Q_DIRTY_ADD,
	Q_DIRTY_DEL,
	Q_SUMMARY_GET,
	Q_SUMMARY_HAS,
	Q_SUMMARY_PUT,
	Q_QUERY_CLEAR,
	Q_QUERY_PUT,
	Q_QUAR_GET,
	Q_QUAR_INSERT,
	Q_WITHHELD_GET,
	Q_WITHHELD_HAS,
	Q_WITHHELD_PUT,
	NQUERIES
};

/* Bits of the events table's `synced` column (covered by the row tag). */
#define FLAG_SYNCED 1	   /* the server has it */
#define FLAG_QUARANTINED 2 /* the server rejected it: kept off the record */

/*
 * The tally (setting store.tally): what the tables hold, sealed, so that
 * rows removed or a setting put back are told at unlock. `flag[f]`
 * counts the events whose `synced` column is f.
 */
struct tally {
	int64_t events, max_seq, subjects;
	int64_t flag[4];
	int64_t quarantine, summaries, queries, dirty;
	int64_t withheld; /* rows of the withheld table (schema 3) */
	uint64_t clock;	  /* the device's hybrid logical clock */
	long subject_seq; /* the highest subject number it issued */
};

struct store {
	struct cb_db db;
	char path[STORE_PATH_MAX + 64];
	int in_tx;
	int version; /* the file's schema version when opened */
	/* selected user */
	char user[STORE_USER_MAX + 1];
	char role[ROLE_MAX];
	/* unlocked state */
	struct cb_key *key;
	struct cb_key *subject_key; /* keyed-hash subkeys of `key`, derived */
	struct cb_key *row_key;	    /* once at unlock */
	struct cb_key *query_key;
	struct cb_key *id_key; /* store_id_key's, derived on first use */
	struct cb_sign_keypair dev;
	char device_id[CB_ID_HEX_LEN + 1];
	char site[STORE_SITE_MAX + 1];
	int device_index;
	char *protocol;
	size_t protocol_len;
	int readonly; /* opened read-only: every write is refused */
	/* `tally` follows every write; `saved` is what the last commit
	 * left. */
	struct tally tally, saved;
	int tally_dirty;
	/* The subject whose row and pending mark the open transaction made
	 * last (insert_event skips both for its next events; any write of
	 * derived rows forgets it). */
	unsigned char last_subject[CB_KEYED_HASH_BYTES];
	int last_subject_ok;
	int tally_live; /* the tally was read at unlock: keep it current */
	/* The test build's CASEBOOK_TEST_FAIL_WRITE: fail that write (the
	 * fields are there in every build, so the layout never differs). */
	long fail_at;
	long writes; /* writes so far */
};

/* The statements' texts, by Q_* (store.c). */
extern const char *const store_sql[NQUERIES];

/* Statement `which`, reset and unbound; NULL with store_fail's error. */
sqlite3_stmt *store_stmt(struct store *st, int which, struct cb_err *err);
/* Step a statement that returns no rows, then reset it. */
int store_done(struct store *st, sqlite3_stmt *s, const char *what,
	       struct cb_err *err);
/* Step a query: 1 for a row, 0 at the end, or store_fail's code. */
int store_row(struct store *st, sqlite3_stmt *s, const char *what,
	      struct cb_err *err);
/* Run SQL text with no result rows. */
int store_exec(struct store *st, const char *sql, const char *what,
	       struct cb_err *err);
/* The one integer `sql` answers (a PRAGMA, a count). */
int store_int_of(struct store *st, const char *sql, int64_t *out,
		 struct cb_err *err);

/* Read the sealed tally into st->tally (and st->saved): 0, CB_ENOTFOUND
 * when there is none, CB_EINTEGRITY. */
int store_tally_read(struct store *st, struct cb_err *err);
/* The tables hold what st->tally says, or CB_EINTEGRITY saying what not. */
int store_tally_verify(struct store *st, struct cb_err *err);

/* 1 when `subject` is an id of this device's own range (*seq its
 * number). */
int store_own_subject_seq(const struct store *st, const char *subject,
			  long *seq);

/* Keyslots: the label a slot's key is wrapped for; the unkeyed checksum
 * of a row (damage, not a wrong passphrase); a new slot for `name`. */
int store_slot_label(const char *name, const char *role, char *out, size_t cap);
void store_slot_sum(const char *name, const char *role, const char *wrapped,
		    unsigned char out[CB_HASH_BYTES]);
int store_insert_slot(struct store *st, const char *name, const char *role,
		      const char *pass, size_t pass_len, struct cb_err *err);

/* 1 for a setting name of [a-z0-9._-], 1 to META_KEY_MAX bytes. */
int store_meta_key_valid(const char *key);

/* SQLite's result `rc` met while doing `what` as a CB_E* code (db.h's
 * mapping, with the store's own words for a read-only store and for a
 * schema that is not the store's). */
int store_fail(struct store *st, int rc, const char *what, struct cb_err *err);

/* CB_EINTEGRITY: `what` failed authentication. */
int store_integrity(struct store *st, const char *what, struct cb_err *err);
#ifdef __clang_analyzer__
/* For the static analyzer, which cannot see store.c: what it returns. */
#define store_integrity(st, what, err)                                         \
	(store_integrity((st), (what), (err)), CB_EINTEGRITY)
#endif

/* CB_EINVAL unless unlocked. */
int store_need_key(const struct store *st, struct cb_err *err);

/* CB_EIO when the store is read-only (a write was asked). */
int store_refuse_readonly(struct store *st, struct cb_err *err);

/*
 * Begin a transaction of our own when the caller has none open; *own
 * says whether we did, for store_finish_own, which commits it (or rolls
 * it back when rc is set) and returns rc or the commit's error.
 */
int store_begin_own(struct store *st, int *own, struct cb_err *err);
int store_finish_own(struct store *st, int own, int rc, struct cb_err *err);

/*
 * In the test build: CB_EIO when this is the write that
 * CASEBOOK_TEST_FAIL_WRITE=N names (the Nth since the store was
 * opened), so tests can fail any step of a save. 0 otherwise.
 */
int store_write_point(struct store *st, struct cb_err *err);

/* The 64 hex digits of a 32-byte hash. */
void store_hex32(const unsigned char h[32], char out[65]);

/* The keyed hash of a subject id (lookup column of every table). */
int store_subject_hash(const struct store *st, const char *subject,
		       unsigned char out[CB_KEYED_HASH_BYTES],
		       struct cb_err *err);

/* Seal `len` bytes under the data key with `ad`; *out malloc'd. */
int store_seal(struct store *st, const char *ad, const void *plain, size_t len,
	       unsigned char **out, size_t *out_len, struct cb_err *err);

/*
 * Open a sealed value read from `what` (for the message); *out malloc'd
 * and NUL-terminated (free with cb_wipe_free(*out, *out_len + 1)).
 * CB_EINTEGRITY naming `what` when it does not authenticate.
 */
int store_unseal(struct store *st, const char *ad, const void *sealed,
		 size_t sealed_len, const char *what, char **out,
		 size_t *out_len, struct cb_err *err);

/*
 * Mark the subject of `hash` as having derived rows out of date (its
 * events changed), unless it is marked already.
 */
int store_mark_dirty(struct store *st,
		     const unsigned char hash[CB_KEYED_HASH_BYTES],
		     struct cb_err *err);

/*
 * Set flag bits `add` on event `id` (inside the caller's transaction):
 * 0, or CB_ENOTFOUND when the store has no such event. `subject` (may
 * be NULL) gets the event's subject hash.
 */
int store_event_flag(struct store *st, const char *id, int add,
		     unsigned char *subject, struct cb_err *err);

/* What the tables hold: every count of the tally. */
int store_table_counts(struct store *st, struct tally *t, struct cb_err *err);

/* store_rows.c: the new tables of schema 2, and the one of schema 3,
 * for create and upgrade. */
extern const char store_rows_schema[];
extern const char store_rows_schema3[];

/*
 * store_rows.c: take the quarantine a store of schema 1 kept in the
 * setting `key` (a JSON array of {"id","code","reason"}) into rows, flag
 * its events, and remove the setting. Inside the upgrade's transaction.
 */
int store_rows_upgrade_quarantine(struct store *st, const char *key,
				  struct cb_err *err);

/*
 * store_rows.c: take the withheld values a store of schema 2 (or 1) kept
 * in the setting `key` (withheld.h's old object, {"SUBJECT":
 * {"VISIT.FORM.INSTANCE":{"ITEM":bool}}}) into one row per subject, and
 * remove the setting. Inside the upgrade's transaction.
 */
int store_rows_upgrade_withheld(struct store *st, const char *key,
				struct cb_err *err);

/* store_rows.c: decrypt and authenticate every derived, quarantine and
 * withheld row, adding the quarantine and withheld rows to the check's
 * digest via `add`. */
int store_rows_check(struct store *st,
		     void (*add)(void *ctx, const void *p, size_t len),
		     void *ctx, int64_t *quarantined, int64_t *summaries,
		     int64_t *queries, int64_t *withheld, struct cb_err *err);

#endif
