/*
 * store.h - the central store of casebookd, behind one narrow interface.
 *
 * Two backends implement it (store_be.h; DESIGN.md section 7), chosen by
 * what names the store, called WHERE below (`--data DIR` or `--store
 * URL` of every casebookd command):
 *
 *   SQLite      a data directory DIR: the database DIR/casebookd.db
 *               (WAL, synchronous=FULL, prepared statements only),
 *               DIR/nonces.db (request nonces, see srv_nonces_open) and
 *               the server key DIR/server.key. One casebookd process
 *               writes at a time (srv_lock_data).
 *   PostgreSQL  a libpq connection URI, postgresql://USER@HOST/DB (or
 *               postgres://): everything is in that database, the
 *               nonces and the server key included, and several
 *               casebookd processes on several hosts may serve it at
 *               once; they share nothing but the database
 *               (docs/OPERATIONS.md). A password never goes in the URI:
 *               libpq takes it from its password file or PGPASSWORD.
 *
 * Nothing outside the store layer (server/store*.c, server/pg_*.c)
 * knows which backend it runs on.
 *
 * What is stored:
 *   settings   the study id, the protocol's exact bytes and their SHA-256,
 *              the schema version
 *   sites      code and name
 *   tokens     one-time registration tokens: only their SHA-256, the site
 *              and role they grant, expiry, and whether used or revoked
 *   devices    id, Ed25519 public key, site, role, device index, user,
 *              revocation
 *   events     the record: server sequence, event id (unique), device,
 *              site, subject, the event's JSON with its signature and
 *              received_at, and whether it carries unblinded items;
 *              readable in server order (pull) and subject by subject
 *   subject_reuse  subject ids a device created again (core.h)
 *   rand_*     the randomization list's slots, leases and site keys
 *              (slots.h), never an arm in plaintext
 *   the server key (core.h) and the request nonces
 * and the derived tables, kept one subject at a time from that
 * subject's events (DESIGN.md section 3), rebuildable at any time:
 *   subjects   subject, site, number of events, lifecycle state and the
 *              summary (summary.h) as JSON
 *   items      current value or conflict of every item, with its heads
 *   forms      every form instance: items, conflicts, signatures, the
 *              current signature and whether it is broken
 *   queries    every query (opened, or the system query of a conflict)
 *
 * A site's subjects belong to the site of their events; a central role's
 * event about a subject carries that subject's site (docs/api.md), so
 * the `site` of an event always says whose data it is.
 *
 * Connections: a struct srv_store is one connection and is not locked.
 * A writer opens it with srv_store_open and serialises its use; readers
 * open their own read-only connections with srv_store_open_reader, one
 * per thread, and read the last commit without waiting for a writer
 * (SQLite's WAL; PostgreSQL's snapshots). Under srv_store_checkpointer
 * a further SQLite connection only checkpoints the write-ahead log.
 *
 * Several writers at once (PostgreSQL only: several processes): a push
 * locks its subjects (srv_store_lock_subjects) before reading them, so
 * two pushes of one subject run one after the other and the second sees
 * the first's events; event ids are unique; a slot is marked used only
 * while unused; sequence numbers are handed out in commit order, so a
 * reader never sees a number while a lower one is still to be committed
 * (docs/OPERATIONS.md, "Several casebookd").
 *
 * Errors follow err.h: CB_EIO for database failures (with the database's
 * message; also when PostgreSQL cannot be reached), CB_EBUSY when another
 * process holds the database locked or a transaction must be tried again,
 * CB_ENOTFOUND, CB_EEXIST, CB_ECONFLICT, CB_EFORBIDDEN as documented per
 * function.
 */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "err.h"
#include "event.h"
#include "merge.h"
#include "randlist.h"
#include "role.h"
#include "summary.h"

/* The database file inside the data directory. */
#define SRV_STORE_FILE "casebookd.db"
/* The server key's file in a data directory (core.h). */
#define SRV_KEY_FILE "server.key"

/* Sizes of stored names, without the NUL. */
#define SRV_SITE_MAX CB_SITE_MAX /* role.h */
#define SRV_SITE_NAME_MAX 200
#define SRV_ROLE_MAX CB_ROLE_MAX
#define SRV_USER_MAX CB_USER_MAX
#define SRV_ID_HEX 32
/* Devices per site: the index goes into subject ids (KR01-01007). */
#define SRV_DEVICE_INDEX_MAX CB_DEVICE_INDEX_MAX

/* How long nonces are kept: twice the accepted clock skew. */
#define SRV_NONCE_KEEP_MS (10 * 60 * 1000)

struct srv_store;

/* A registered device. site is "" for a central role's device. */
struct srv_device {
	char id[SRV_ID_HEX + 1];
	char site[SRV_SITE_MAX + 1];
	char role[SRV_ROLE_MAX + 1];
	char user[SRV_USER_MAX + 1];
	unsigned char pk[CB_SIGN_PUBLIC_BYTES];
	long device_index; /* 1, 2, ... within its site (or among central) */
	int64_t created_ms;
	int64_t revoked_ms; /* 0 while active */
	/* the highest hlc of the events stored from it ("" for none) */
	char max_hlc[CB_EVENT_HLC_HEX + 1];
};

/* A registration token, as stored (never the token itself). */
struct srv_token {
	char id[SRV_ID_HEX + 1];     /* public handle for listing/revoking */
	char hash[CB_HASH_HEX_SIZE]; /* SHA-256 of the token text, hex */
	char site[SRV_SITE_MAX + 1]; /* "" for a central role */
	char role[SRV_ROLE_MAX + 1];
	int64_t created_ms, expires_ms;
	int64_t used_ms;	     /* 0 while unused */
	char device[SRV_ID_HEX + 1]; /* the device it registered, or "" */
	int revoked;
	/* the one person who may register with it, or "" for any person
	 * of its site and role */
	char user[SRV_USER_MAX + 1];
};

/* Longest full name of a person, in bytes of UTF-8. */
#define SRV_FULL_NAME_MAX 200
/* Longest reason for disabling a person, in bytes. */
#define SRV_REASON_MAX 1000

/*
 * A person the administrator registered (`casebookd user add`): the
 * user name events carry, the full name a signature is shown with
 * (21 CFR 11.50), one role and, for a site role, one site. Names are
 * never reused and a person's role and site never change; a person who
 * leaves is disabled, and events they make after that are refused.
 */
struct srv_user {
	char name[SRV_USER_MAX + 1];
	char full_name[SRV_FULL_NAME_MAX + 1];
	char role[SRV_ROLE_MAX + 1];
	char site[SRV_SITE_MAX + 1]; /* "" for a central role */
	int64_t created_ms;
	int64_t disabled_ms; /* 0 while enabled */
	char disabled_reason[SRV_REASON_MAX + 1];
};

/* Counts for `casebookd status`. */
struct srv_store_stats {
	long sites, devices, devices_revoked, tokens_open, events, subjects,
	    items, conflicts, queries_open;
	int64_t last_seq;
};

/* 1 when `where` names a PostgreSQL database (postgresql:// or
 * postgres://), 0 for a data directory. */
int srv_store_is_pg(const char *where);

/* The backend of an open store: "sqlite" or "postgresql". */
const char *srv_store_backend(struct srv_store *s);

/*
 * Create a new store at `where` (a directory is created if missing; a
 * PostgreSQL database must exist, made by its administrator, and hold no
 * Casebook tables yet; an existing store is CB_EEXIST) holding the
 * protocol's exact bytes, its study id and SHA-256. The new store is
 * open in *out. A PostgreSQL URI holding a password is CB_EINVAL.
 */
int srv_store_create(const char *where, const char *study, const char *proto,
		     size_t proto_len, const char *proto_sha256,
		     struct srv_store **out, struct cb_err *err);

/*
 * Open the store at `where` for writing. CB_ENOTFOUND when there is
 * none; CB_EINVAL when a newer casebookd made it (its schema version is
 * higher than this one's). A store of an older schema is upgraded in
 * place (its derived tables are then stale: srv_store_stale); on
 * PostgreSQL that needs a role allowed to change the schema (its owner),
 * and several processes upgrading at once take turns.
 */
int srv_store_open(const char *where, struct srv_store **out,
		   struct cb_err *err);

/* Open a read-only connection to the store at `where` (as srv_store_open
 * otherwise, but an older schema is CB_EINVAL: a writer upgrades it). */
int srv_store_open_reader(const char *where, struct srv_store **out,
			  struct cb_err *err);

/* The store's schema version (SRV_SCHEMA_VERSION once opened). */
int srv_store_schema_version(struct srv_store *s, long *v, struct cb_err *err);

/* Finalise every statement and close. NULL is allowed. */
void srv_store_close(struct srv_store *s);

/*
 * 1 when the derived tables must be rebuilt from the events (an upgrade
 * changed what they hold; a rebuild interrupted); srv_store_stale_clear
 * says they are current again (inside the rebuild's transaction).
 */
int srv_store_stale(struct srv_store *s);
int srv_store_stale_clear(struct srv_store *s, struct cb_err *err);

/*
 * Run WAL checkpoints on a thread with its own connection from now until
 * srv_store_close, so that commits (a push's acknowledgement) never wait
 * for one; the server's serve loop turns it on. CB_EIO, CB_ENOMEM.
 * Nothing to do on PostgreSQL.
 */
int srv_store_checkpointer(struct srv_store *s, struct cb_err *err);

/*
 * Bound what every SQLite connection of this process holds together
 * (the writer's and each reader's page cache, the nonce database) to
 * about `bytes`: past it, a page cache reuses its own pages instead of
 * growing. The serve loop sets it so that the server's memory does not
 * grow with --threads (one reader per thread). Nothing on PostgreSQL.
 */
void srv_store_memory_limit(long long bytes);

/*
 * The study id and the protocol's bytes and SHA-256, in malloc'd strings
 * the caller frees (any out pointer may be NULL). The protocol text is
 * NUL-terminated and *proto_len long.
 */
int srv_store_study(struct srv_store *s, char **study, char **proto,
		    size_t *proto_len, char **sha256, struct cb_err *err);

/*
 * The server's own Ed25519 key (core.h): made once by `casebookd init`
 * (CB_EEXIST when the store has one), loaded into *kp (release with
 * cb_sign_keypair_release; CB_ENOTFOUND when there is none,
 * CB_EINTEGRITY when damaged). SQLite keeps it in DIR/SRV_KEY_FILE
 * (mode 0600), PostgreSQL in the table server_key.
 */
int srv_store_key_create(struct srv_store *s, struct cb_err *err);
int srv_store_key_load(struct srv_store *s, struct cb_sign_keypair *kp,
		       struct cb_err *err);

/* ---- transactions ------------------------------------------------------ */

/*
 * BEGIN IMMEDIATE / COMMIT / ROLLBACK for a writer. Rollback never
 * fails visibly. srv_store_begin_read starts a read transaction (one
 * snapshot for several reads), ended by srv_store_commit.
 * srv_store_begin_exclusive starts a write transaction that no other
 * writer of any process runs beside (a rebuild; on SQLite every writer
 * is such). A commit that fails (the database went away, or another
 * process's transaction collided with it: CB_EBUSY) has stored nothing.
 */
int srv_store_begin(struct srv_store *s, struct cb_err *err);
int srv_store_begin_read(struct srv_store *s, struct cb_err *err);
int srv_store_begin_exclusive(struct srv_store *s, struct cb_err *err);
int srv_store_commit(struct srv_store *s, struct cb_err *err);
void srv_store_rollback(struct srv_store *s);

/*
 * Inside a write transaction, before reading anything about them: make
 * every other writer that locks one of these `n` subjects wait until
 * this transaction ends. The array is sorted and its repeats dropped in
 * place (every process takes its locks in one order). Nothing to do on
 * SQLite, whose writers run one at a time.
 */
int srv_store_lock_subjects(struct srv_store *s, const char **subjects,
			    size_t n, struct cb_err *err);

/* ---- sites ------------------------------------------------------------- */

/* Add a site. CB_EEXIST when the code is taken. */
int srv_store_site_add(struct srv_store *s, const char *code, const char *name,
		       struct cb_err *err);

/* 1 when the site exists, 0 when not, negative on error. */
int srv_store_site_exists(struct srv_store *s, const char *code,
			  struct cb_err *err);

/* Visit every site in code order; fn returning non-zero stops the walk. */
int srv_store_site_each(struct srv_store *s,
			int (*fn)(const char *code, const char *name,
				  void *ctx),
			void *ctx, struct cb_err *err);

/* ---- tokens and registration ------------------------------------------- */

/* Store a new token (its hash; t->id must be set and unique). */
int srv_store_token_add(struct srv_store *s, const struct srv_token *t,
			struct cb_err *err);

/* Visit every token, newest first. */
int srv_store_token_each(struct srv_store *s,
			 int (*fn)(const struct srv_token *t, void *ctx),
			 void *ctx, struct cb_err *err);

/* Revoke an unused token by id. CB_ENOTFOUND. */
int srv_store_token_revoke(struct srv_store *s, const char *id,
			   struct cb_err *err);

/*
 * Register a device with the token whose hash is `token_hash`, in one
 * transaction: the token must exist (CB_ENOTFOUND), be unused, unrevoked
 * and unexpired at `now_ms` (CB_EFORBIDDEN saying which), the public
 * key must be new (CB_EEXIST), and the site must have fewer than
 * SRV_DEVICE_INDEX_MAX devices (CB_ECONFLICT). On success the token is marked
 * used and *dev (whose id, pk and user the caller has set) gets the token's
 * site and role, the next device index of that site, and created_ms. A
 * token already used to register this same public key (a device whose
 * `casebook init` was interrupted before it had the answer) gives that
 * device again in *dev (its id, user and all), unless it was revoked.
 */
int srv_store_register(struct srv_store *s, const char *token_hash,
		       int64_t now_ms, struct srv_device *dev,
		       struct cb_err *err);

/* ---- devices ----------------------------------------------------------- */

/* The device with this id. CB_ENOTFOUND. */
int srv_store_device_get(struct srv_store *s, const char *id,
			 struct srv_device *out, struct cb_err *err);

/* Visit every device, by site then index. */
int srv_store_device_each(struct srv_store *s,
			  int (*fn)(const struct srv_device *d, void *ctx),
			  void *ctx, struct cb_err *err);

/*
 * Note that an event stamped `hlc` was stored from device `id`: its
 * max_hlc becomes `hlc` when that is higher.
 */
int srv_store_device_seen(struct srv_store *s, const char *id, const char *hlc,
			  struct cb_err *err);

/*
 * srv_store_device_get inside a write transaction, with the device's row
 * locked until it ends: on PostgreSQL, where several casebookd write,
 * two pushes of one device are decided one after the other, each seeing
 * the max_hlc the other stored (SQLite's writer is alone already).
 */
int srv_store_device_lock(struct srv_store *s, const char *id,
			  struct srv_device *out, struct cb_err *err);

/* Revoke a device (CB_ENOTFOUND; an already revoked one stays as is). */
int srv_store_device_revoke(struct srv_store *s, const char *id, int64_t now_ms,
			    struct cb_err *err);

/*
 * The store's identity (SRV_ID_HEX hex digits), made new by `casebookd
 * init` and by every `casebookd restore`: a device that sees it change
 * knows the server went back in time and sends its events again (pull
 * and push answers carry it, docs/api.md).
 */
int srv_store_id(struct srv_store *s, char out[SRV_ID_HEX + 1],
		 struct cb_err *err);

/*
 * Give the store a new identity, as a restore does (srv_store_restore
 * for SQLite; for PostgreSQL, restored with its own tools, `casebookd
 * restore --store URL`). The caller makes sure no server runs on it.
 */
int srv_store_id_renew(struct srv_store *s, struct cb_err *err);

/* ---- backups (store_backup.c) ------------------------------------------ */

/*
 * Copy the store as it stands at one moment into a new file `path`
 * (CB_EEXIST when it exists) through SQLite's online backup API, so a
 * running server goes on serving meanwhile; the copy is written to a
 * temporary file beside `path`, checked (integrity_check), synced and
 * only then renamed to `path`.
 */
int srv_store_backup(struct srv_store *s, const char *path, struct cb_err *err);

/*
 * What a restore carried from the store it replaced into the restored
 * one (srv_store_restore): facts that only ever go one way and that the
 * backup may predate. Each count is of rows the restored store took or
 * changed; seq_after is the events sequence the restored store goes on
 * from (the replaced store's highest, when above the backup's).
 */
struct srv_restore_carry {
	int replaced;	   /* there was a store to carry from */
	int leases_paused; /* no store to carry from: leases paused */
	long sites, users, users_disabled;
	long devices, devices_revoked;
	long tokens, tokens_used, tokens_revoked;
	long lists, slots, slots_leased, slots_used, reuse;
	int64_t seq_backup, seq_after;
};

/*
 * Make the store of data directory `dir` a copy of the backup `from`,
 * with a new store id (srv_store_id): `from` must be a central store
 * that passes integrity_check, of a schema version this casebookd knows
 * (a newer one is CB_EINVAL before anything changes; an older one is
 * upgraded). A store already in `dir` is CB_EEXIST, unless `replace`:
 * then, inside the restore and before the restored store takes its
 * place, every one-way fact of the replaced store is carried into it
 * (people and their disabling, devices and their revocation, sites,
 * tokens and their use or revocation, randomization lists, slots and
 * their leases and uses, re-used subject ids; never backwards: a used
 * slot stays used, a revoked device revoked) and the events sequence set
 * past the replaced store's highest, so no device's pull cursor skips
 * new events; then its files are kept beside it, renamed
 * casebookd.db.replaced-STAMP (and -wal, -shm), never deleted. The
 * replaced store must be of this casebookd's schema version (CB_EINVAL
 * otherwise) and readable (CB_EIO or CB_EINTEGRITY, nothing changed).
 * Without a store to replace, nothing tells what slots were leased after
 * the backup: the restored store has new slot leases paused
 * (srv_store_leases_paused) until the administrator resumes them. The
 * request nonces (DIR/nonces.db) are not touched. The caller holds the
 * data directory's lock (no server runs on it). *replaced (may be NULL)
 * gets the name the old store was kept under, "" when there was none;
 * *carry (may be NULL) what was carried.
 */
int srv_store_restore(const char *dir, const char *from, int replace,
		      char *replaced, size_t cap,
		      struct srv_restore_carry *carry, struct cb_err *err);

/*
 * New slot leases are paused (a restore into an empty data directory):
 * 1 with why (cap bytes, may be NULL) saying since when and why, 0 when
 * they are not, or an error. srv_store_leases_resume lifts the pause
 * (0 when there was none to lift: *was gets 0).
 */
int srv_store_leases_paused(struct srv_store *s, char *why, size_t cap,
			    struct cb_err *err);
int srv_store_leases_resume(struct srv_store *s, int *was, struct cb_err *err);

/* ---- people (store_users.c) -------------------------------------------- */

/*
 * Register person `u` (created_ms and the name, full name, role and site
 * as given; disabled fields ignored). CB_EEXIST when the name is taken
 * (names are never reused, even of a disabled person), CB_ENOTFOUND for
 * an unknown site.
 */
int srv_store_user_add(struct srv_store *s, const struct srv_user *u,
		       struct cb_err *err);

/* The person named `name`, or CB_ENOTFOUND. */
int srv_store_user_get(struct srv_store *s, const char *name,
		       struct srv_user *out, struct cb_err *err);

/*
 * Visit the people of `site` (NULL: any) holding `role` (NULL: any), by
 * site then name. fn returning non-zero stops the walk and is returned.
 */
int srv_store_user_each(struct srv_store *s, const char *site, const char *role,
			int (*fn)(const struct srv_user *u, void *ctx),
			void *ctx, struct cb_err *err);

/*
 * Disable person `name` from `now_ms` on, for `reason`. CB_ENOTFOUND,
 * CB_ECONFLICT when already disabled.
 */
int srv_store_user_disable(struct srv_store *s, const char *name,
			   int64_t now_ms, const char *reason,
			   struct cb_err *err);

/* ---- nonces ------------------------------------------------------------ */

/*
 * The request nonces: on SQLite in DIR/nonces.db, a database of their
 * own so that recording one never waits for the writer of the events (a
 * pull does not queue behind a push's commit); on PostgreSQL in the
 * table nonces of the store, on a connection of their own, so a nonce is
 * used once across every process serving the store. They are kept
 * without waiting for the disk (SQLite's synchronous=NORMAL,
 * PostgreSQL's synchronous_commit=off): a crash can forget the last
 * nonces recorded, which reopens a replay window of at most the accepted
 * clock skew; every request Casebook answers is harmless to replay
 * (pushes are idempotent, reads return what the device may read anyway),
 * so no fsync per request is spent on them. One handle, one thread at a
 * time.
 */
struct srv_nonces;
int srv_nonces_open(const char *where, struct srv_nonces **out,
		    struct cb_err *err);
void srv_nonces_close(struct srv_nonces *n);

/*
 * Record that `device` used `nonce` on a request made at `time_ms`, and
 * forget nonces of requests older than now_ms - SRV_NONCE_KEEP_MS.
 * CB_ECONFLICT when the nonce was already used by that device.
 */
int srv_nonces_use(struct srv_nonces *n, const char *device, const char *nonce,
		   int64_t time_ms, int64_t now_ms, struct cb_err *err);

/* ---- re-used subject ids ----------------------------------------------- */

/*
 * A device sent the creation of a subject the server already held (a
 * laptop restored from an older backup issues an id again): the server
 * refuses that creation and records here, per subject and device, the
 * clock (hlc text) of the earliest such creation, so that the device's
 * later events about "its" new subject are refused too instead of
 * landing on the other patient's record (core.h). srv_store_reuse_get
 * gives "" when the device never re-used the id.
 */
int srv_store_reuse_add(struct srv_store *s, const char *subject,
			const char *device, const char *hlc,
			struct cb_err *err);
int srv_store_reuse_get(struct srv_store *s, const char *subject,
			const char *device, char hlc[CB_EVENT_HLC_HEX + 1],
			struct cb_err *err);

/* ---- events ------------------------------------------------------------ */

/* One stored event. */
struct srv_event_row {
	int64_t seq;
	const char *id, *device, *site, *subject, *kind;
	int unblinded;	  /* changes an item marked "unblinded" */
	const char *json; /* the event's JSON, with sig and received_at */
	size_t json_len;
	const char *received_at;
};

/*
 * Append an event; *seq (may be NULL) gets its server sequence number.
 * CB_EEXIST when its id is already stored. Call inside a transaction.
 * On PostgreSQL the event is written, and numbered, when the
 * transaction commits (srv_store_event_get sees it before), unless seq
 * is asked for.
 */
int srv_store_event_add(struct srv_store *s, const struct srv_event_row *row,
			int64_t *seq, struct cb_err *err);

/*
 * 1 when srv_store_event_add tells an event's sequence number at no cost
 * (SQLite numbers a row as it inserts it); 0 when asking for it costs
 * (PostgreSQL writes a transaction's events together at its commit and
 * would write one at a time).
 */
int srv_store_seq_free(const struct srv_store *s);

/*
 * 1 when no other process writes the store while this one serves it
 * (SQLite: serve, rebuild, restore, bundle import and migrate each take
 * the data directory's lock); 0 when several may (PostgreSQL).
 */
int srv_store_one_writer(const struct srv_store *s);

/*
 * After the commit of a transaction that added event `id` without asking
 * its number (srv_store_event_add with seq NULL), the number it was
 * given: 0 and *seq, or CB_ENOTFOUND (not added by that transaction; or
 * the store tells numbers as it adds, srv_store_seq_free). Valid until
 * the next transaction begins on s.
 */
int srv_store_event_seq(struct srv_store *s, const char *id, int64_t *seq);

/*
 * The stored JSON of the event `id` into a malloc'd string (*json, its
 * length in *len; may be NULL). CB_ENOTFOUND.
 */
int srv_store_event_get(struct srv_store *s, const char *id, char **json,
			size_t *len, struct cb_err *err);

/*
 * Visit the events after `since` in server order, at most `limit` (0: no
 * limit), only those of `site` (NULL: every site), and only those without
 * unblinded items unless `unblinded`. *last (may be NULL) gets the
 * cursor to continue from: the last visited sequence number, or, when
 * fewer than `limit` matched, the highest sequence number stored (so a
 * caller that sees nothing new still moves past events it may not see).
 * fn returning non-zero stops the walk and that value is returned.
 */
int srv_store_event_each(struct srv_store *s, int64_t since, long limit,
			 const char *site, int unblinded,
			 int (*fn)(const struct srv_event_row *row, void *ctx),
			 void *ctx, int64_t *last, struct cb_err *err);

/*
 * Visit the events with unblinded items whose sequence number is after
 * `since` and at most `upto`, of `site` only (NULL: every site), in server
 * order: what a blinded device's pull of that range left out, so it can be
 * told that those values exist (docs/api.md, "withheld"). As
 * srv_store_event_each otherwise.
 */
int srv_store_withheld_each(struct srv_store *s, int64_t since, int64_t upto,
			    const char *site,
			    int (*fn)(const struct srv_event_row *row,
				      void *ctx),
			    void *ctx, struct cb_err *err);

/*
 * Visit the events of one subject in server order, only those without
 * unblinded items unless `unblinded`. As srv_store_event_each otherwise.
 */
int srv_store_subject_events(struct srv_store *s, const char *subject,
			     int unblinded,
			     int (*fn)(const struct srv_event_row *row,
				       void *ctx),
			     void *ctx, struct cb_err *err);

/*
 * Visit every subject that has events, in byte order of the id, with
 * its site (of `site` only, when not NULL). fn returning non-zero stops
 * the walk and that value is returned.
 */
int srv_store_subject_names(struct srv_store *s, const char *site,
			    int (*fn)(const char *subject, const char *site,
				      void *ctx),
			    void *ctx, struct cb_err *err);

/*
 * The number of events the subjects table counts for `subject` (0 for a
 * subject it does not hold): a cached merge state of the subject holding
 * that many events is current.
 */
int srv_store_subject_nevents(struct srv_store *s, const char *subject,
			      int64_t *n, struct cb_err *err);

/* ---- derived tables ---------------------------------------------------- */

/* Empty every derived table (rebuild starts here). */
int srv_store_derived_clear(struct srv_store *s, struct cb_err *err);

/*
 * Replace every derived row of `subject` with its state in `m` (which
 * holds the subject's events): its items, forms and queries. Call
 * inside a transaction; the subjects row is srv_store_summary_put's.
 */
int srv_store_derive_subject(struct srv_store *s, struct cb_merge *m,
			     const char *subject, struct cb_err *err);

/*
 * Bring the derived rows up to date after the accepted event `ev` was
 * added to `m` (call once per event, after the whole batch is in `m`,
 * inside the batch's transaction): the rows of the items it changes and
 * of their conflicts' system queries (a system query no longer current
 * is removed), of the form instance it changes or signs, and of the
 * query it opens, answers or closes. Gives the same rows as
 * srv_store_derive_subject, touching only what the event changed.
 */
int srv_store_derive_event(struct srv_store *s, struct cb_merge *m,
			   const struct cb_event *ev, struct cb_err *err);

/* Write (insert or replace) the subjects row of `sum`. */
int srv_store_summary_put(struct srv_store *s, const struct cb_summary *sum,
			  struct cb_err *err);

/*
 * Visit the summaries of the subjects of `site` (NULL: all) in byte
 * order of the id (for reports, listings, exports).
 */
int srv_store_summary_each(struct srv_store *s, const char *site,
			   int (*fn)(const struct cb_summary *sum, void *ctx),
			   void *ctx, struct cb_err *err);

/* One item of a form's row (store_items.c; strings valid during the call). */
struct srv_item_row {
	const char *subject, *visit, *form, *instance, *item;
	const char *value; /* NULL when cleared or conflicted */
	int conflict;
	/* a conflicted item's heads' values: a JSON array text (NULL
	 * when not conflicted) */
	const char *head_values;
};

/*
 * Visit the items of `subject` in order of visit, form, instance
 * (numerically) and item; srv_store_items_of only those of `form` at
 * `visit` (a seek on the primary key).
 */
int srv_store_items_of(struct srv_store *s, const char *subject,
		       const char *visit, const char *form,
		       int (*fn)(const struct srv_item_row *it, void *ctx),
		       void *ctx, struct cb_err *err);
int srv_store_items_each(struct srv_store *s, const char *subject,
			 int (*fn)(const struct srv_item_row *it, void *ctx),
			 void *ctx, struct cb_err *err);

/* One row of the queries table. */
struct srv_query_row {
	const char *id, *subject, *site, *visit, *form, *instance, *item;
	const char *status, *text;
	int system;
	long nanswers;
};

/*
 * Visit the queries of `site` (NULL: all) with status `status` (NULL:
 * any), ordered by site, subject and id, at most `limit` (0: all).
 */
int srv_store_query_each(struct srv_store *s, const char *site,
			 const char *status, long limit,
			 int (*fn)(const struct srv_query_row *q, void *ctx),
			 void *ctx, struct cb_err *err);

/*
 * A deterministic text of every derived table (a [table] line, then one
 * line per row in key order, columns separated by tabs), handed to `out`
 * piece by piece (out returning non-zero stops it). Equal derived state
 * gives an equal text; `casebookd rebuild` is checked with it.
 */
int srv_store_derived_dump(struct srv_store *s,
			   int (*out)(const char *text, size_t len, void *ctx),
			   void *ctx, struct cb_err *err);

/* Counts for status output. */
int srv_store_stats(struct srv_store *s, struct srv_store_stats *st,
		    struct cb_err *err);

/* ---- randomization slots (slots.h says what they mean) ---------------- */

/* Longest randomization, kit or list number kept in a struct. */
#define CB_EVENT_VALUE_KEY_MAX 128

/* One slot as a listing hands it over, valid during the call. */
struct srv_slot {
	const char *randno, *list, *site, *stratum, *kit;
	int64_t seq;
	const char *device;		    /* "" when not leased */
	const char *subject;		    /* "" when unused */
	const char *arm_unblind, *arm_site; /* sealed, hex */
};

/* What a slot is, copied out (no arms). */
struct srv_slot_info {
	char randno[CB_EVENT_VALUE_KEY_MAX], list[CB_EVENT_VALUE_KEY_MAX];
	char site[SRV_SITE_MAX + 1], stratum[256], kit[CB_EVENT_VALUE_KEY_MAX];
	int64_t seq;
	char device[SRV_ID_HEX + 1];	     /* "" when not leased */
	char subject[CB_EVENT_NAME_MAX + 1]; /* "" when unused */
	char event[CB_EVENT_NAME_MAX + 1];   /* the event that used it */
};

/* The slot numbered `randno`. CB_ENOTFOUND. */
int srv_store_slot_get(struct srv_store *s, const char *randno,
		       struct srv_slot_info *out, struct cb_err *err);

/* The randomization number of the slot `subject` used into out (cap
 * bytes); CB_ENOTFOUND when it used none. */
int srv_store_slot_of_subject(struct srv_store *s, const char *subject,
			      char *out, size_t cap, struct cb_err *err);

/*
 * Store a list's slots (hex already made of their sealed arms), inside
 * the caller's transaction: every slot already stored identically is
 * kept, an unassigned one is replaced, an assigned one (leased or used)
 * that would change refuses the import (CB_ECONFLICT naming it), as does
 * a kit number already another slot's. *added, *replaced and *kept count.
 */
struct srv_slot_new {
	const char *randno, *site, *stratum, *kit;
	int64_t seq;
	const char *arm_unblind, *arm_site; /* hex */
};
int srv_store_slots_put(struct srv_store *s, const char *list_id,
			const struct srv_slot_new *slots, size_t n,
			size_t *added, size_t *replaced, size_t *kept,
			struct cb_err *err);

/* The list's own row and a site's code-break key row (kept when there). */
int srv_store_slots_list(struct srv_store *s, const char *list_id,
			 const char *fingerprint, const char *study,
			 size_t nslots, struct cb_err *err);
int srv_store_slots_site(struct srv_store *s, const char *list_id,
			 const char *site, const char *pub_hex,
			 const char *key_hex, struct cb_err *err);

/*
 * Top up the device's unused slots of each stratum cell of its site to
 * `want`, taking the site's unleased slots in seq order, leased at
 * `now` (UTC text). Inside the caller's transaction.
 */
int srv_store_slots_lease(struct srv_store *s, const char *device,
			  const char *site, long want, const char *now,
			  struct cb_err *err);

/*
 * Lease slot `randno` of `site` to `device` at `now` when no device
 * holds it and no subject used it (*took 1), else change nothing
 * (*took 0): a device telling the slots it holds while leases are paused
 * (srv_slots_lease). Inside the caller's transaction.
 */
int srv_store_slot_hold(struct srv_store *s, const char *randno,
			const char *device, const char *site, const char *now,
			int *took, struct cb_err *err);

/*
 * Visit, for site device `device` of `site`: its leased unused slots
 * (kind 0, by stratum and seq), the site's used slots (kind 1, by
 * randno), the site's code-break keys (kind 2: randno NULL, list, pub
 * and key in arm_unblind and arm_site), and (site NULL) every used slot
 * of every site (kind 3, by site and randno, for the DSMB).
 */
int srv_store_slots_each(struct srv_store *s, int kind, const char *device,
			 const char *site,
			 int (*fn)(const struct srv_slot *sl, void *ctx),
			 void *ctx, struct cb_err *err);

/*
 * Record that subject `subject` used slot `randno` by event `event` of
 * `device`; a slot leased to no device yet (taken while leases are
 * paused, srv_slots_check) becomes that device's.
 */
int srv_store_slot_mark(struct srv_store *s, const char *randno,
			const char *subject, const char *event,
			const char *device, const char *when,
			struct cb_err *err);

/*
 * Forget every use of a slot (rebuild derives them again from the stored
 * events), except the use of a leased slot by an event the store does
 * not hold: a use a restore carried from the store it replaced, whose
 * event has not come back yet (a slot never goes from used back to
 * free).
 */
int srv_store_slots_clear_used(struct srv_store *s, struct cb_err *err);

/*
 * Per site: slots, leased and used, for status (fn gets each site);
 * *lists gets the number of lists imported.
 */
int srv_store_slots_counts(struct srv_store *s, long *lists,
			   int (*fn)(const char *site, long slots, long leased,
				     long used, void *ctx),
			   void *ctx, struct cb_err *err);

/* ---- moving a store ----------------------------------------------------- */

/*
 * Copy the record of `from` into the new, empty store `to` (another
 * backend's, or the same's): settings, sites, tokens, devices, events
 * with their sequence numbers (devices' pull cursors stay valid), re-used
 * subject ids, randomization lists, site keys and slots with their
 * leases and uses, and the server key. Not the derived tables: rebuild
 * `to` afterwards (srv_core_rebuild). Inside a write transaction of
 * `to`. progress (may be NULL) gets each table's name and rows copied.
 */
int srv_store_copy(struct srv_store *from, struct srv_store *to,
		   int (*progress)(const char *table, long rows, void *ctx),
		   void *pctx, struct cb_err *err);

#endif
