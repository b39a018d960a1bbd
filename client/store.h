/*
 * store.h - the site laptop's encrypted local store (DESIGN.md sections 3
 * and 6).
 *
 * One SQLite file, HOME/casebook.db (WAL, synchronous=FULL,
 * temp_store=MEMORY), holding the device's event log, what is derived
 * from it one subject at a time, the quarantine, what the server said
 * of values withheld from it, and the settings. A random 256-bit data
 * key encrypts everything of substance with XChaCha20-Poly1305: event
 * bodies, subject ids, derived rows, quarantine reasons, withheld rows,
 * the device's Ed25519 secret key, the site code, the protocol,
 * every setting. The associated data of each ciphertext names its table
 * and row, so a ciphertext moved to another row does not decrypt. The
 * data key is wrapped once per user (keyslot) under an Argon2id key from
 * that user's passphrase; the Argon2id cost and salt are stored in the
 * wrapped text.
 *
 * Plaintext holds only: random event ids, local sequence numbers, each
 * event's synced and quarantined flags, keyed-hash lookup indexes of
 * subject ids and query ids (BLAKE2b keyed by subkeys of the data key),
 * the keyslots' user names and roles, and the schema version (PRAGMA
 * user_version). Each plaintext bookkeeping column that could change
 * what a reader sees is authenticated: ids, sequence numbers and subject
 * hashes are part of the body's associated data, and the flags are
 * covered by a keyed hash per row. A damaged file gives CB_EINTEGRITY
 * with a message saying so, never wrong data.
 *
 * Derived rows (DESIGN.md section 3, "Derived state is kept, one subject
 * at a time"): beside its events, each subject has one sealed summary
 * row and one sealed row per query, which client/derive.h computes from
 * that subject's events alone; readers that list every subject read
 * these rows and never the event log. Storing an event (store_add_event)
 * or quarantining one marks its subject's rows out of date ("pending")
 * in the same transaction; writing the subject's rows again
 * (store_derived_put) clears the mark. So a reader never trusts a row
 * whose events have changed: it derives that subject first (derive.h).
 *
 * Life of a store handle:
 *
 *   store_open(home, &st)          open the file; nothing decrypted yet
 *   store_select_user(st, name)    whose keyslot (NULL: the creator)
 *   store_unlock(st, pass, len)    unwrap the data key, load the device
 *   ... reads, transactions, appends ...
 *   store_close(st)                wipe keys, close the file
 *
 * or all of it at once, asking for the passphrase as pass.h says, with
 * store_open_cli(). Opening and a failed unlock write nothing to the
 * database.
 *
 * Concurrency: SQLite's locking with a busy timeout of STORE_BUSY_MS. A
 * write that still finds the store locked fails with CB_EBUSY and a
 * message saying another casebook process is using it. Writes outside
 * store_begin()/store_commit() run in their own transaction.
 *
 * Every function returning int returns 0 or a negative CB_E* code with a
 * message in *err (err.h).
 */
#ifndef CB_STORE_H
#define CB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "crypto.h"
#include "err.h"
#include "role.h"

struct cb_event;
struct cb_protocol;

/* File name of the store inside its home directory. */
#define STORE_DB_NAME "casebook.db"
/*
 * Schema version kept in PRAGMA user_version. Version 1 (no derived rows,
 * the quarantine in a setting) and version 2 (the withheld values in one
 * setting for the whole store) are upgraded at their first unlock where
 * the file can be written; read-only, they are refused with a message
 * saying so.
 */
#define STORE_SCHEMA_VERSION 3
/* How long a writer waits for another process's lock, in ms. */
#define STORE_BUSY_MS 5000
/* Longest home directory path accepted. */
#define STORE_PATH_MAX 4096
/* Site codes, device indexes, subject numbers, user names: role.h. */
#define STORE_SITE_MAX CB_SITE_MAX
#define STORE_DEVICE_INDEX_MAX CB_DEVICE_INDEX_MAX
#define STORE_SUBJECT_SEQ_MAX CB_SUBJECT_SEQ_MAX
#define STORE_USER_MAX CB_USER_MAX
/* Largest setting value and largest protocol file, in bytes. */
#define STORE_META_MAX (4u * 1024u * 1024u)

struct store;

/*
 * The store's home directory: `g->home` (--home or $CASEBOOK_HOME, which
 * main.c has already merged) else $HOME/.casebook, into `out` of `cap`
 * bytes. CB_EINVAL when neither is set or the path is too long.
 */
int store_home(const struct cli_global *g, char *out, size_t cap,
	       struct cb_err *err);

/* 1 when the store belongs to a central role's device (no site). */
int store_is_central(const struct store *st);

/* What store_create needs. Every pointer is the caller's. */
struct store_create_params {
	const char *home;     /* directory, created (0700) when missing */
	const char *site;     /* cb_site_valid */
	int device_index;     /* 1..STORE_DEVICE_INDEX_MAX */
	const char *protocol; /* the protocol file's bytes, already validated */
	size_t protocol_len;
	const char *user; /* first user (the default user); cb_user_valid */
	const char *role; /* cb_role_is_site */
	const char *pass; /* the first user's passphrase */
	size_t pass_len;
	/*
	 * A device registered with a server (casebook init --server): the
	 * id the server assigned and the Ed25519 secret key whose public key
	 * it registered (CB_SIGN_SECRET_BYTES). NULL for both: a local device
	 * with a fresh id and key. A registered device may hold any role of
	 * cb_role_known, and a central role has site "".
	 */
	const char *device_id;
	const unsigned char *sign_secret;
	/* More settings written with the rest (store_meta_set's keys):
	 * alternating keys and values, NULL-terminated; NULL for none. */
	const char *const *settings;
};

/*
 * Create a new store in p->home: a fresh data key, device id and Ed25519
 * device key, the settings, and the first keyslot. The file appears under
 * its final name only once complete (it is built under a temporary name
 * and linked into place), so an interrupted init leaves no half store.
 * CB_EEXIST when a store is already there; CB_EINVAL for a bad parameter;
 * CB_EIO. On success *out is an unlocked handle for p->user.
 */
int store_create(const struct store_create_params *p, struct store **out,
		 struct cb_err *err);

/*
 * `casebook init` holds this lock (STORE_INIT_LOCK in `home`, flock) from
 * before it asks the server for anything until the store is made, so two
 * inits never make one store; taking it also removes what an earlier,
 * interrupted init left half made (casebook.db.new-* files). *fd gets the
 * lock, which store_init_unlock releases (and removes). CB_EBUSY when
 * another init holds it; CB_EIO.
 */
#define STORE_INIT_LOCK "casebook.init.lock"
int store_init_lock(const char *home, int *fd, struct cb_err *err);
void store_init_unlock(const char *home, int fd);

/*
 * Open the store in `home` without unlocking it. CB_ENOTFOUND (message
 * says to run `casebook init`) when there is none; CB_EINTEGRITY when the
 * file is not a Casebook store, is damaged or has an unknown schema
 * version; CB_EIO for a store of an older schema (1 or 2) that cannot
 * be written here (it must be opened once where it can, to be
 * upgraded).
 */
int store_open(const char *home, struct store **out, struct cb_err *err);

/*
 * Choose whose keyslot store_unlock uses: `user`, or NULL for the user
 * who created the store. CB_EAUTH naming the user when there is no such
 * keyslot.
 */
int store_select_user(struct store *st, const char *user, struct cb_err *err);

/* The selected (or, once unlocked, acting) user's name and role. */
const char *store_user(const struct store *st);
const char *store_role(const struct store *st);

/*
 * Unwrap the data key with the selected user's passphrase and load the
 * device's settings and signing key. CB_EAUTH for a wrong passphrase
 * (nothing is written); CB_EINTEGRITY for a damaged store. The store's
 * sealed tally (the counts of events and subjects, the highest event
 * number, the device's clock and subject counter, written with every
 * change) is checked against the tables: rows deleted, or the tally put
 * back to an older copy, give CB_EINTEGRITY too. A store made before the
 * tally gets one here (written unless the store is read-only).
 */
int store_unlock(struct store *st, const char *pass, size_t pass_len,
		 struct cb_err *err);

/*
 * store_home + store_open + store_select_user(g->user) + the passphrase
 * (pass_get, prompting "Passphrase for USER: ") + store_unlock.
 */
int store_open_cli(const struct cli_global *g, struct store **out,
		   struct cb_err *err);

/*
 * store_open_cli for a command only `need_role` may run: after choosing
 * the user and before asking the passphrase, any other role gets
 * CB_EFORBIDDEN with a message naming `what` (the command), the role
 * needed and the user's role.
 */
int store_open_cli_as(const struct cli_global *g, const char *need_role,
		      const char *what, struct store **out, struct cb_err *err);

/*
 * What `casebook shell` keeps between its commands so that it asks the
 * passphrase once: a copy of the data key in sodium_malloc memory
 * (locked in RAM, guarded, read-only; cb_key), with the home, the user
 * and the device id of the store it came from. With g->hold set,
 * store_open_cli and store_open_cli_as open the store afresh for every
 * command and unlock it with this key instead of a passphrase: same
 * role checks, same tally check; CB_EAUTH when the user or home differs
 * or the file is now another device's store.
 *
 * store_hold_new copies the key of the unlocked `st` opened from `home`
 * (CB_EINVAL when locked, CB_ENOMEM); store_hold_free wipes the key
 * (sodium_free zeroes it) and frees the hold. NULL is allowed.
 */
int store_hold_new(const struct store *st, const char *home,
		   struct store_hold **out, struct cb_err *err);
void store_hold_free(struct store_hold *h);
/* The user and the home directory the hold was taken for. */
const char *store_hold_user(const struct store_hold *h);
const char *store_hold_home(const struct store_hold *h);

/* Wipe the keys and close the file. Rolls back an open transaction. NULL
 * is allowed. */
void store_close(struct store *st);

/*
 * 0 when `pass` is the acting user's passphrase (for e-signatures, which
 * must ask again), CB_EAUTH otherwise. Writes nothing.
 */
int store_check_passphrase(struct store *st, const char *pass, size_t pass_len,
			   struct cb_err *err);

/* ---- Transactions ----------------------------------------------------- */

/*
 * Begin a write transaction (BEGIN IMMEDIATE: the write lock is taken
 * now, so a busy store is reported before any work is done). Transactions
 * do not nest: CB_EINVAL when one is open. CB_EBUSY after STORE_BUSY_MS.
 */
int store_begin(struct store *st, struct cb_err *err);
/* Commit; on failure the transaction is rolled back. */
int store_commit(struct store *st, struct cb_err *err);
/* Roll back an open transaction; nothing when none is open. */
void store_rollback(struct store *st);
/*
 * A read snapshot: what several reads see is what was committed when the
 * first of them ran (another process may be committing meanwhile).
 * Nothing when a transaction is open already; store_read_end ends only
 * the snapshot store_read_begin began.
 */
int store_read_begin(struct store *st, int *began, struct cb_err *err);
void store_read_end(struct store *st, int began);
/* 1 while a transaction of store_begin is open. */
int store_in_transaction(const struct store *st);
/* 1 when the store was opened read-only (every write is refused). */
int store_readonly(const struct store *st);

/* ---- Device and settings ---------------------------------------------- */

/* The device id (32 hex), site code and device index. */
const char *store_device_id(const struct store *st);
const char *store_site(const struct store *st);
int store_device_index(const struct store *st);
/* The device's Ed25519 public key (CB_SIGN_PUBLIC_BYTES). */
const unsigned char *store_device_pk(const struct store *st);

/*
 * The key that groups this device's event ids by day (cb_event_stamp in
 * common/event.h), a keyed-hash subkey of the data key: secret, so an id
 * in the plain column of the events table tells nothing of when it was
 * made. Derived on first use; *out stays the store's. CB_EAUTH when the
 * store is locked, CB_ENOMEM.
 */
int store_id_key(struct store *st, const struct cb_key **out,
		 struct cb_err *err);

/*
 * Sign `len` bytes with the device key (for request signing and bundles).
 */
int store_sign(const struct store *st, const void *msg, size_t len,
	       unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err);

/*
 * Sign a message too large to hold with the device key, in two passes
 * (crypto.h's cb_sign_stream: the caller feeds it and frees it).
 */
int store_sign_stream(const struct store *st, struct cb_sign_stream **out,
		      struct cb_err *err);

/* Sign `ev` (which must be valid) with the device key (cb_event_sign). */
int store_sign_event(const struct store *st, struct cb_event *ev,
		     struct cb_err *err);

/*
 * The protocol file's bytes as stored at init (decrypted on first use and
 * kept until store_close; NUL-terminated). The pointer belongs to `st`.
 */
int store_protocol_bytes(struct store *st, const char **bytes, size_t *len,
			 struct cb_err *err);

/* The stored protocol, loaded; the caller frees it with cb_protocol_free. */
int store_protocol_load(struct store *st, struct cb_protocol **out,
			struct cb_err *err);

/*
 * Settings, encrypted under the data key with "meta:KEY" as associated
 * data. Keys are 1..64 bytes of [a-z0-9._-]; keys starting with "store."
 * belong to this module. store_meta_get: *val is malloc'd with a NUL after
 * the last byte, freed by the caller (cb_wipe_free for secrets);
 * CB_ENOTFOUND when unset. store_meta_set: at most STORE_META_MAX bytes.
 * Every setting is encrypted: even the sync cursor, since nothing needs a
 * setting before the store is unlocked.
 */
int store_meta_get(struct store *st, const char *key, char **val, size_t *len,
		   struct cb_err *err);
int store_meta_set(struct store *st, const char *key, const void *val,
		   size_t len, struct cb_err *err);

/*
 * An optional setting as a malloc'd string into *out, NULL when unset. 0,
 * or the store's error: a failed read is not an unset setting.
 */
int store_meta_opt(struct store *st, const char *key, char **out,
		   struct cb_err *err);

/* A setting as a malloc'd string, or NULL when unset or unreadable (for
 * settings whose absence and failure lead to the same message). */
char *store_meta_or_null(struct store *st, const char *key);

/*
 * The next subject sequence number of this device (1, 2, ...), for
 * subject ids SITE-DDNNN (role.h): past every number it issued and past
 * every id of its range the store holds (pulled back after the laptop
 * was restored from an older backup), so no id is issued twice. The
 * counter is kept in the sealed tally. Call inside the transaction that
 * records the new subject, so a rolled back enrollment gives its number
 * back. CB_ECONFLICT past STORE_SUBJECT_SEQ_MAX; CB_EFORBIDDEN on a
 * central role's device.
 */
int store_next_subject_seq(struct store *st, unsigned *seq, struct cb_err *err);

/*
 * The device's hybrid logical clock as last kept (hlc.h), 0 for a new
 * store; store_set_clock keeps a greater value with the next commit (call
 * it inside the transaction that stores the events it stamped). Both
 * live in the sealed tally: see store_unlock.
 */
uint64_t store_clock(const struct store *st);
void store_set_clock(struct store *st, uint64_t last);

/* ---- Events ----------------------------------------------------------- */

/* Flags of store_add_event. */
#define STORE_EVENT_SYNCED 1u /* already on the server (pulled) */

/*
 * Store one event: its id (32 hex), its subject id (NUL-terminated, may
 * be "" for an event about no subject) and its JSON bytes (at most
 * CB_VALUE_MAX). The event gets the next local sequence number (*seq when
 * not NULL), and its subject's derived rows are marked pending. Events
 * recorded here are unsynced unless `flags` has STORE_EVENT_SYNCED.
 * CB_EEXIST when an event with this id is already stored (nothing
 * changes: pulling an event twice is harmless).
 */
int store_add_event(struct store *st, const char *id, const char *subject,
		    const char *json, size_t len, unsigned flags, int64_t *seq,
		    struct cb_err *err);

/* One stored event as the iterators hand it out; valid during the call. */
struct store_event {
	int64_t seq;	  /* local order, 1, 2, ... */
	const char *id;	  /* 32 hex */
	int synced;	  /* 1 once the server has it */
	int quarantined;  /* 1 when the server rejected it (store_quarantine) */
	const char *json; /* decrypted bytes, NUL-terminated */
	size_t len;
};

/*
 * Called once per event in local order; a non-zero return stops the
 * iteration and is returned by the iterator.
 */
typedef int (*store_event_fn)(void *ctx, const struct store_event *ev);

/* Which events an iterator visits. */
#define STORE_ITER_ALL 0u
/* Only the events a push sends: not yet synced, not quarantined. */
#define STORE_ITER_UNSYNCED 1u

/*
 * Every event (subject NULL: a scan of the whole log) or every event of
 * one subject id (through the subject index: only that subject's rows
 * are read and decrypted), in local order, decrypted and checked. A
 * damaged event stops the iteration with CB_EINTEGRITY. fn may use the
 * store, but not to iterate one subject's events again.
 */
int store_each_event(struct store *st, const char *subject, unsigned which,
		     store_event_fn fn, void *ctx, struct cb_err *err);

/*
 * The events a push sends (not synced, not quarantined) with a sequence
 * number above `after`, in local order, at most `limit` of them: a push
 * reads its backlog one batch at a time.
 */
int store_each_queued(struct store *st, int64_t after, size_t limit,
		      store_event_fn fn, void *ctx, struct cb_err *err);

/* Called once per subject id with the NUL-terminated subject id. */
typedef int (*store_subject_fn)(void *ctx, const char *subject);

/* Every subject id that has events, in the order first stored. */
int store_each_subject(struct store *st, store_subject_fn fn, void *ctx,
		       struct cb_err *err);

/* Mark the event `id` as synced. CB_ENOTFOUND for an unknown id. */
int store_mark_synced(struct store *st, const char *id, struct cb_err *err);

/*
 * Mark every event this device made (its "device" is this store's
 * device id) that is synced as unsynced again, quarantined ones left as
 * they are: the server went back to a backup (its store id changed) and
 * may lack them, so the next push sends them again (the server answers
 * "duplicate" for those it has). *n gets how many. Runs in the caller's
 * transaction or its own.
 */
int store_requeue_own(struct store *st, int64_t *n, struct cb_err *err);

/* What the store holds, from its sealed tally as last committed. */
struct store_counts {
	int64_t events;	     /* every stored event */
	int64_t unsynced;    /* not on the server, quarantined ones included */
	int64_t queued;	     /* what a push sends: unsynced, not quarantined */
	int64_t quarantined; /* quarantine rows */
	int64_t subjects;    /* subjects with events */
	int64_t pending;     /* subjects whose derived rows are out of date */
};
int store_counts(struct store *st, struct store_counts *c, struct cb_err *err);

/* Number of events, and of events not yet synced (quarantined ones
 * included): store_counts' events and unsynced. */
int store_count_events(struct store *st, int64_t *total, int64_t *unsynced,
		       struct cb_err *err);

/*
 * The highest local sequence number stored (0 when there is no event): a
 * cheap way to learn that another process has stored events. Not
 * authenticated; read the events themselves before trusting anything.
 */
int store_last_seq(struct store *st, int64_t *seq, struct cb_err *err);

/* ---- Quarantine --------------------------------------------------------- */

/*
 * An event the server rejected (sync.h) stays in the store, flagged, and
 * is kept off the record: readers leave it out of every merge. Its row
 * in the quarantine (sealed: id, the server's code and reason) is what
 * `casebook status` shows. There is no cap: each rejected event is one
 * row.
 *
 * store_quarantine records `id` with `code` and `reason`, flags the event
 * (when the store holds it) so no push sends it again, and marks its
 * subject's derived rows pending. CB_EEXIST when `id` is quarantined
 * already (nothing changes).
 */
int store_quarantine(struct store *st, const char *id, const char *code,
		     const char *reason, struct cb_err *err);

/* 1 when `id` is in the quarantine, 0 when not, or an error. */
int store_is_quarantined(struct store *st, const char *id, struct cb_err *err);

/* Called once per quarantined event, in the order they were rejected. */
typedef int (*store_quarantine_fn)(void *ctx, const char *id, const char *code,
				   const char *reason);
int store_each_quarantined(struct store *st, store_quarantine_fn fn, void *ctx,
			   struct cb_err *err);

/* ---- Derived rows -------------------------------------------------------- */

/*
 * The rows client/derive.h computes for one subject, stored here sealed
 * (associated data "summaries:SUBJECTHASH" and
 * "queries:QUERYHASH:SUBJECTHASH"). Their text is derive.h's; this module
 * only keeps it.
 *
 * store_derived_put replaces every derived row of `subject` at once: its
 * summary (`summary`, `len` bytes) and its queries (`nq` query ids and
 * texts; the subject's other query rows go), and clears its pending mark.
 * Call it inside the transaction that stored the events it was derived
 * from.
 */
int store_derived_put(struct store *st, const char *subject,
		      const char *summary, size_t len,
		      const char *const *query_ids,
		      const char *const *query_texts, size_t nq,
		      struct cb_err *err);

/*
 * The summary row of `subject`: *text malloc'd (free), *pending 1 when
 * the subject's events changed since it was written. CB_ENOTFOUND when
 * the subject has none.
 */
int store_summary_get(struct store *st, const char *subject, char **text,
		      size_t *len, int *pending, struct cb_err *err);

/* Called once per row with its text and whether it is pending. */
typedef int (*store_row_fn)(void *ctx, const char *text, size_t len,
			    int pending);

/* Every summary row, in no particular order. */
int store_each_summary(struct store *st, store_row_fn fn, void *ctx,
		       struct cb_err *err);

/* Every query row (subject NULL) or those of one subject. */
int store_each_query_row(struct store *st, const char *subject, store_row_fn fn,
			 void *ctx, struct cb_err *err);

/*
 * Every subject whose derived rows are pending, in the order first
 * stored. The ids are read before fn is first called, so fn may write
 * (derive and store the subject's rows).
 */
int store_each_pending(struct store *st, store_subject_fn fn, void *ctx,
		       struct cb_err *err);

/* ---- Withheld values ------------------------------------------------------
 */

/*
 * What the server told a blinded device of the unblinded values of one
 * subject that it is not sent (client/withheld.h writes and reads the
 * text): one sealed row per subject (associated data
 * "withheld:SUBJECTHASH"), counted in the tally like the derived rows,
 * so a command reads only the subjects it shows and a pull writes only
 * the subjects its page names.
 *
 * store_withheld_get: the row of `subject` into *text (malloc'd, NUL
 * after the last byte, free), or *text NULL and *len 0 when the subject
 * has none. CB_EINTEGRITY when the row does not open (moved from another
 * subject or table, damaged).
 *
 * store_withheld_put: replace the row of `subject` with `len` bytes of
 * `text` (made when missing), in the caller's transaction or its own.
 * CB_ETOOBIG over STORE_META_MAX bytes.
 */
int store_withheld_get(struct store *st, const char *subject, char **text,
		       size_t *len, struct cb_err *err);
int store_withheld_put(struct store *st, const char *subject, const char *text,
		       size_t len, struct cb_err *err);

/* ---- Users ------------------------------------------------------------ */

/* Called once per keyslot, in creation order. */
typedef int (*store_user_fn)(void *ctx, const char *name, const char *role);
int store_each_user(struct store *st, store_user_fn fn, void *ctx,
		    struct cb_err *err);

/*
 * Give `name` a keyslot with `role` and passphrase `pass`. Only an
 * unlocked investigator may: CB_EFORBIDDEN otherwise. CB_EEXIST when the
 * user exists; CB_EINVAL for a bad name or role.
 */
int store_add_user(struct store *st, const char *name, const char *role,
		   const char *pass, size_t pass_len, struct cb_err *err);

/* Re-wrap the data key for the acting user under `pass` (fresh salt). */
int store_change_passphrase(struct store *st, const char *pass, size_t pass_len,
			    struct cb_err *err);

/* ---- Checking --------------------------------------------------------- */

struct store_check_report {
	int64_t events, unsynced, subjects, users, settings;
	int64_t quarantined, summaries, queries, pending, withheld;
	/* BLAKE2b of every decrypted event, subject, quarantine row,
	 * withheld row and setting, in order: two stores holding the same
	 * content give the same digest */
	char digest[CB_HASH_HEX_SIZE];
};

/*
 * Verify the whole store: SQLite's integrity_check, the tally, then
 * decrypt and authenticate every event, subject, setting, quarantine
 * row, withheld row and derived row. CB_EINTEGRITY with the first
 * problem found. Whether
 * the derived rows say what the events say is derive.h's check.
 */
int store_check(struct store *st, struct store_check_report *report,
		struct cb_err *err);

/*
 * Back the store up into the new file `path`: SQLite's online backup of
 * the file as it stands in one read snapshot (every committed write, none
 * half done: another process's open transaction is not in it), so the
 * copy is the encrypted store as is, keyslots and all, and unlocks with
 * the same passphrases. The copy is then checked as store_check checks a
 * store (with this handle's keys) and must hold the events and subjects
 * the store's tally held in that snapshot; *rep is its report. The file
 * is made under a temporary name (PATH.tmp-PID, mode 0600, synced) and
 * linked into place, so `path` is never overwritten and never half
 * written. Needs the store unlocked and no transaction open (CB_EINVAL).
 * CB_EEXIST when `path` exists; CB_EINTEGRITY when the copy fails its
 * check (nothing is left at `path`); CB_EBUSY; CB_EIO.
 */
int store_backup(struct store *st, const char *path,
		 struct store_check_report *rep, struct cb_err *err);

#ifdef CASEBOOK_TEST_HOOKS
/*
 * For the store's own tests only, and compiled only into the test build
 * of casebook (make's build/hooks/casebook, never bin/casebook): the data
 * key and the device secret key in hex, space-separated, so a test can
 * prove neither appears in the file. `out` needs STORE_SECRETS_HEX bytes.
 */
#define STORE_SECRETS_HEX (CB_KEY_BYTES * 2 + 1 + CB_SIGN_SECRET_BYTES * 2 + 1)
int store_test_secrets(const struct store *st, char *out, size_t cap,
		       struct cb_err *err);

/*
 * With CASEBOOK_TEST_HOOKS=1 and CASEBOOK_TEST_FAIL_WRITE=N, the Nth
 * write of this handle (an event, a setting, a derived or quarantine
 * row, a flag) fails with CB_EIO "injected failure", as a full disk
 * would: tests walk N over every step of a command to show that each
 * failure leaves the store as it was.
 */
#define STORE_TEST_FAIL_ENV "CASEBOOK_TEST_FAIL_WRITE"
#endif

#endif
