/*
 * core.h - the server's state and the sync rules, independent of HTTP.
 *
 * A struct srv_core holds the study protocol, the store's writer
 * connection and a bounded cache of per-subject merge states
 * (cache.h), one read-only connection per reading thread, and the nonce
 * database. Nothing in it grows with the study: a subject's derived state
 * depends only on that subject's events (DESIGN.md section 3), so a push
 * loads (or finds cached) the merge states of the subjects it touches,
 * applies the rules against them and writes their derived rows, in the
 * transaction that stores the events.
 *
 * Threads: one writer at a time (write_lock) for pushes, registrations,
 * leases and admin work; every read (pull, queries, devices, arms) runs
 * on the calling thread's own read-only connection and never waits for
 * the writer (WAL). The parsing and signature checks of a push run
 * outside the lock, spread over one thread per processor. Pushes that
 * wait for the writer are taken together into one transaction and one
 * commit (group commit, core.c), so the cost of making a push durable
 * is shared by every push waiting at the time.
 *
 * Processes: on PostgreSQL several casebookd serve one store at once. A
 * push locks the subjects it names (srv_store_lock_subjects) before it
 * reads anything about them, and only then trusts a cached merge state
 * whose event count the store confirms: a subject another process
 * changed meanwhile is loaded again.
 *
 * The push rules, for each event of a batch (DESIGN.md sections 3-5;
 * docs/api.md "The rule set" lists them with their rejection codes):
 *   - it parses strictly (event.h) and its signature verifies with the
 *     public key of the device it names, which must be the caller; a
 *     site device writes only its own site;
 *   - it is not stamped more than CB_HLC_AHEAD_MAX_MS ahead of the
 *     server's clock (hlc.h);
 *   - an id already stored with the same signed content is a duplicate,
 *     with other content it is rejected;
 *   - a device that created a subject again (srv_store_reuse_add) has
 *     everything it writes about that subject refused;
 *   - cb_record_check_event (record.h): every rule a laptop applies to
 *     an event, from roles and subject creation to edit checks and
 *     query references, applied again here on the subject's record;
 *   - a randomize event uses a slot leased to the device (slots.h).
 * Accepted events are stored, and their subjects' derived rows and
 * summaries updated, in one transaction, committed before the answer is
 * built: an event reported accepted is on disk.
 */
#ifndef SRV_CORE_H
#define SRV_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "cache.h"
#include "crypto.h"
#include "err.h"
#include "feed.h"
#include "merge.h"
#include "protocol.h"
#include "store.h"

/* Most events in one push, and most bytes of a request body. */
#define SRV_PUSH_MAX_EVENTS 1000
#define SRV_BODY_MAX (4u * 1024u * 1024u)
/* Events one pull returns by default and at most. */
#define SRV_PULL_DEFAULT 500
#define SRV_PULL_MAX 1000
/*
 * Events the cache of merge states holds at most. A cached event costs
 * about 4.5 KiB (a save of WOMAC's 24 items, with its items' merge
 * state), so 2048 hold about 9 MiB: with SQLite's page caches
 * (srv_store_memory_limit) the server stays under 64 MiB while 200
 * devices push and pull, and a push still finds the subjects it touched
 * in the batches before.
 */
#define SRV_CACHE_EVENTS 2048
/* Read-only connections at most (srv_core_reader). */
#define SRV_READERS_MAX 4

struct srv_reader;

struct srv_core {
	char dir[4096]; /* where the store is (store.h) */
	struct cb_protocol *proto;
	char *study;
	char *proto_text; /* the protocol's exact bytes */
	size_t proto_len;
	char *proto_sha256;
	/* The store's identity (srv_store_id), in every push and pull
	 * answer. */
	char store_id[SRV_ID_HEX + 1];
	/* The server's Ed25519 public key in hex, "" when it has none. */
	char server_key[CB_SIGN_PUBLIC_BYTES * 2 + 1];
	/* That key, secret in locked memory, for the proof of GET
	 * /v1/health?challenge= (sk NULL when it has none). */
	struct cb_sign_keypair key;
	/* The writer: its connection and the merge states, under one lock. */
	pthread_mutex_t write_lock;
	/* Pushes waiting for the writer, taken a group at a time into one
	 * transaction (group commit, core.c); group_busy while a group
	 * runs. Under group_mu. */
	pthread_mutex_t group_mu;
	pthread_cond_t group_cv;
	struct push_job *queue_head, *queue_tail;
	int group_busy;
	/* Groups run, those that failed and were tried again push by push,
	 * and the pushes they held (under group_mu). */
	long groups, groups_split, groups_pushes;
	/* The writer's own account (under write_lock): events its groups
	 * held, and the time it held the lock and spent committing, in
	 * microseconds (srv_core_writer_stats). */
	long long writer_events, writer_us, commit_us;
	struct srv_store *store;
	struct srv_cache *cache;
	/* The events committed last, for pulls (recent.h); NULL: pulls read
	 * the store only (srv_core_recent). */
	struct srv_recent *recent;
	/* The nonces, under a lock of their own. */
	pthread_mutex_t nonce_lock;
	struct srv_nonces *nonces;
	/* The read-only connections: at most SRV_READERS_MAX, made as
	 * needed, each lent to one request at a time (srv_core_reader). */
	pthread_mutex_t readers_lock;
	pthread_cond_t readers_cv;
	struct srv_reader *readers, *idle;
	int nreaders;
	int ready; /* the locks and the key exist */
};

/*
 * The server's own Ed25519 key, which signs bundle replies
 * (docs/bundles.md); devices learn its public key at registration. The
 * store keeps it (srv_store_key_create, srv_store_key_load: a file
 * DIR/server.key of mode 0600 beside SQLite, a table of the PostgreSQL
 * database), made by `casebookd init` (or by the first srv_core_open of
 * an older data directory). It is never logged.
 */

/*
 * Open the store at `where` (a data directory or a PostgreSQL URI,
 * store.h), upgrading an older one and rebuilding its derived tables
 * when the upgrade left them stale, load its protocol and the server's
 * key (made when missing; server_key left "" and key.sk NULL when it
 * cannot be). Nothing is
 * read per event: opening takes the same time whatever the store holds.
 * Release with srv_core_close.
 */
int srv_core_open(struct srv_core *c, const char *where, struct cb_err *err);

/* Close everything; a zeroed or failed core is fine. */
void srv_core_close(struct srv_core *c);

/*
 * What the writer did since srv_core_open: groups of pushes, the pushes
 * and events they held, and how long it held the write lock and how much
 * of that went to commits (milliseconds). An operator reads from it how
 * busy the single writer is, which bounds every push's latency
 * (docs/PERFORMANCE.md); serve logs it when it stops.
 */
struct srv_writer_stats {
	long groups, pushes, split;
	long long events;
	double busy_ms, commit_ms;
};
void srv_core_writer_stats(struct srv_core *c, struct srv_writer_stats *out);

/*
 * A read-only connection to the store for the caller alone until it
 * gives it back with srv_core_reader_done: an idle one, or a new one
 * while there are fewer than SRV_READERS_MAX, else the caller waits for
 * one (so reads that need the processors queue here rather than share
 * them all at once, and the connections' memory is bounded however many
 * requests are open). All are closed by srv_core_close. A caller holds
 * at most one at a time. CB_EIO, CB_ENOMEM.
 */
int srv_core_reader(struct srv_core *c, struct srv_store **out,
		    struct cb_err *err);
void srv_core_reader_done(struct srv_core *c, struct srv_store *s);

/*
 * Empty every derived table and fill it again from the events, subject
 * by subject, in one transaction that no other writer runs beside
 * (srv_store_begin_exclusive: `casebookd rebuild`); which
 * randomization slots are used is derived again from the randomize
 * events. *nevents (may be NULL) gets the number of events read.
 * Memory holds one subject at a time.
 */
int srv_core_rebuild(struct srv_core *c, long *nevents, struct cb_err *err);

/*
 * Apply a push of `events` (a JSON array, at most SRV_PUSH_MAX_EVENTS)
 * from device `dev`. *reply gets {"results":[...],"accepted":N,
 * "duplicate":N,"rejected":N}, one result per event in order (see
 * docs/api.md). A revoked `dev` (only a bundle hand-over pushes for one)
 * gets the events it made after its revocation rejected ("revoked"). Returns 0;
 * CB_EIO (and no reply) when the store failed, in which case nothing of the
 * batch was stored.
 */
int srv_core_push(struct srv_core *c, const struct srv_device *dev,
		  const cJSON *events, cJSON **reply, struct cb_err *err);

struct cb_seq_range; /* seqs.h */

/* Bytes of event text `casebookd serve` keeps for pulls (recent.h). */
#define SRV_RECENT_BYTES ((size_t)4 << 20)

/*
 * Keep the events the writer commits, up to `max_bytes` of their text,
 * and answer pulls whose cursor they cover from memory (recent.h). Only
 * for a store one process writes (SQLite); a no-op on PostgreSQL, where
 * several casebookd may commit. Call before serving. CB_ENOMEM.
 */
int srv_core_recent(struct srv_core *c, size_t max_bytes, struct cb_err *err);

/* Most bytes of one pull's answer (SRV_PULL_MAX events). */
#define SRV_PULL_TEXT_MAX ((size_t)1 << 30)

/* A page of pull, as its JSON text and what it says. */
struct srv_pull_page {
	char *text; /* malloc'd, NUL-terminated: the answer's body */
	size_t len;
	long n;	      /* events in it */
	int more;     /* the page is full: pull again from next */
	int64_t next; /* the cursor after it */
};

/*
 * The events after cursor `since` that `dev` may see, at most `limit`:
 * page->text gets {"events":[...],"withheld":[...],"next":"CURSOR",
 * "more":bool,"store":"ID"} ("withheld" for a blinded device only), the
 * stored events' text as it is, and the other members of *page what it
 * says. The events numbered within skip[0..nskip) (ascending, as
 * srv_seq_ranges reads them; NULL, 0: none) are left out of the page:
 * the device says it holds them (a push's answer gave their numbers),
 * and the cursor passes them as it passes what the device may not see;
 * `limit` counts them, so a page of them alone still says `more`. On a
 * reader (srv_core_reader). CB_EIO, CB_EBUSY, CB_ENOMEM; page->text
 * NULL then.
 */
int srv_core_pull(struct srv_core *c, const struct srv_device *dev,
		  int64_t since, long limit, const struct cb_seq_range *skip,
		  size_t nskip, struct srv_pull_page *page, struct cb_err *err);

/*
 * The queries `dev` may see, of status `status` (NULL: any): *reply gets
 * {"queries":[...]}. On the a reader (srv_core_reader).
 */
int srv_core_queries(struct srv_core *c, const struct srv_device *dev,
		     const char *status, cJSON **reply, struct cb_err *err);

/*
 * The people `dev` may hold (the people of its site for a site device,
 * of its role for a central one), enabled or not: *reply gets
 * {"users":[{"name","full_name","role","site","disabled_at"},...]}
 * (docs/api.md). On the a reader (srv_core_reader).
 */
int srv_core_users(struct srv_core *c, const struct srv_device *dev,
		   cJSON **reply, struct cb_err *err);

/* The device with this id, on the a reader (srv_core_reader). CB_ENOTFOUND. */
int srv_core_device(struct srv_core *c, const char *id, struct srv_device *out,
		    struct cb_err *err);

/* srv_nonces_use on the data directory's nonce database. */
int srv_core_nonce(struct srv_core *c, const char *device, const char *nonce,
		   int64_t time_ms, struct cb_err *err);

/* srv_store_register under the writer's lock. */
int srv_core_register(struct srv_core *c, const char *token_hash,
		      struct srv_device *dev, struct cb_err *err);

/*
 * The canonical text of the stored events (merge.h's dump, format 2),
 * of the subjects of `site` (NULL: all), with the events carrying
 * unblinded items only when `unblinded`: what a device of that site or
 * role holds gives the same text. Written subject by subject to `out`
 * (out returning non-zero stops it); memory holds one subject.
 */
int srv_core_canonical_dump(struct srv_core *c, const char *site, int unblinded,
			    int (*out)(const char *text, size_t len, void *ctx),
			    void *ctx, struct cb_err *err);

/*
 * The record subject by subject for exports and reports (feed.h), on
 * the a reader (srv_core_reader), in one snapshot: from the derived tables
 * (subjects' summaries and items) when there is no cut-off and no merge
 * state is asked for; otherwise each subject replayed from its events
 * received by the cut-off, its summary computed from them. Items marked
 * unblinded only with o->unblinded. srv_core_feed_of wraps it as a
 * struct cb_feed.
 */
int srv_core_feed(struct srv_core *c, const struct cb_feed_opts *o,
		  cb_feed_fn fn, void *fctx, struct cb_err *err);
struct cb_feed srv_core_feed_of(struct srv_core *c);

#endif
