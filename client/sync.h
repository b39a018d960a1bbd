/*
 * sync.h - push this device's events to the central server and pull what
 * it may see (DESIGN.md section 4, docs/api.md).
 *
 * Push sends the unsynced events in local order, in batches; the server
 * answers each event accepted, duplicate or rejected. Accepted and
 * duplicate events are marked synced. An event rejected because it was
 * stamped further ahead of the server's clock than hlc.h allows (code
 * SYNC_CODE_CLOCK: this device's clock was wrong when it was made) stays
 * queued and is sent again at every sync until the server's time reaches
 * it: events are immutable, so waiting loses nothing. Other rejected ones
 * go to the store's quarantine (store_quarantine: one sealed row each,
 * with the server's code and reason, and no cap) and stay in the store,
 * shown by `casebook status`, never pushed again and never dropped. The
 * backlog is read and sent one batch at a time (store_each_queued), so a
 * push holds one batch in memory whatever the backlog.
 *
 * Pull stores whole pages of events with the cursor of the last one in
 * one local transaction (a few pages, up to SYNC_PULL_COMMIT_EVENTS
 * events, so a big pull syncs the disk a few times, not once a page), so
 * an interrupted sync resumes where it stopped, pulling again what was
 * not committed; the device's clock moves up to each pulled event
 * (bounded, hlc.h) in the same transaction. The subjects a transaction's
 * pages touch are merged as their events arrive, without reading them
 * back (derive.h's derive_cache, SYNC_DERIVE_CACHE subjects), and their
 * rows written in that transaction; a subject the cache let go stays
 * pending and is derived once at the end of the sync (derive_pending).
 * Everything is idempotent: a sync cut off at any point and run again
 * gives every event exactly once.
 *
 * Network failures, 429 and 5xx answers are retried with exponential
 * backoff; when the server stays unreachable the sync stops with
 * CB_EUNREACHABLE and nothing is lost.
 */
#ifndef CB_SYNC_H
#define CB_SYNC_H

#include <stddef.h>

#include <cJSON.h>

#include "derive.h"
#include "err.h"
#include "net.h"
#include "store.h"

/* Settings (store_meta_*) the sync keeps. */
#define SYNC_META_SERVER "sync.server" /* server URL */
#define SYNC_META_CACERT "sync.cacert" /* --cacert given at init */
#define SYNC_META_CURSOR "sync.cursor" /* pull cursor */
#define SYNC_META_LAST "sync.last"     /* UTC time of the last sync */
/* The server's Ed25519 public key (64 hex), from the registration answer;
 * it verifies bundle replies (docs/bundles.md). */
#define SYNC_META_SERVER_KEY "sync.server_key"
/* The people the server knows for this device (GET /v1/users, its
 * answer as received), pulled at every sync: `user add` and `sign` read
 * it offline (sync_person). */
#define SYNC_META_USERS "sync.users"
/* The server's store id (32 hex) as the last push or pull answer gave it
 * ("store", docs/api.md): a new one means the server was restored from a
 * backup (see sync_run). */
#define SYNC_META_STORE "sync.store"

/* The server's refusal code while new slot leases are paused, and the
 * most bytes of slots held a device then tells it (lease_held). */
#define SYNC_CODE_LEASES_PAUSED "leases_paused"
#define SYNC_HELD_MAX 4000

/* The server's rejection code for an event stamped too far ahead. */
#define SYNC_CODE_CLOCK "clock"

/* Largest push batch, in events and in bytes of body. */
#define SYNC_BATCH_EVENTS 500
#define SYNC_BATCH_BYTES (3u * 1024u * 1024u)
/* Pull page size (the server's largest), how many pulled events one
 * local transaction holds at most (whole pages), and how many subjects a
 * pull keeps merged as their events arrive (see sync.c). */
#define SYNC_PULL_LIMIT 1000
#define SYNC_PULL_COMMIT_EVENTS 2000
#define SYNC_DERIVE_CACHE 64

struct sync_opts {
	int retries;  /* further attempts after a failed request, >= 0 */
	int progress; /* print a progress line on stderr */
};

struct sync_stats {
	size_t to_push;	    /* unsynced events found, quarantine excluded */
	size_t accepted;    /* pushed and accepted */
	size_t duplicate;   /* pushed, already on the server */
	size_t rejected;    /* pushed and rejected: now in quarantine */
	size_t deferred;    /* pushed, stamped ahead of the server's clock:
			       still queued (SYNC_CODE_CLOCK) */
	size_t pulled;	    /* events received */
	size_t stored;	    /* of which new to this device */
	size_t quarantined; /* events in quarantine after the sync */
	size_t resent;	    /* own events queued again: the server's store
			       changed */
	int store_changed;  /* the server's store id changed in this sync */
	int leases_paused;  /* the server refused new slot leases */
};

/*
 * Push, then pull, then (a site device) refresh the randomization lease
 * (GET /v1/slots, lease_save), then derive every pending subject, with
 * the store unlocked. The pull asks the server to skip the events this
 * sync's push stored (their numbers, the push answers' "seqs"): this
 * device holds them. The store id of every push and pull answer is
 * compared with the one kept (SYNC_META_STORE; the first one seen is
 * kept): when it differs, the server was restored from a backup and may
 * lack what this device sent it since, so every event this device made
 * is queued again (store_requeue_own; the server answers "duplicate"
 * for those it has), the pull cursor goes back to 0 (events already
 * held are skipped), the new id is kept, a note goes to stderr once,
 * and the push and pull go on from there (a change seen by the pull is
 * followed by a second push). A lease refused because the server paused
 * new leases (SYNC_CODE_LEASES_PAUSED) keeps the slots held, tells the
 * server which they are (GET /v1/slots?held=, lease_held), says so on
 * stderr and does not fail the sync. CB_EUNREACHABLE when the server cannot be
 * reached after the retries; CB_EAUTH or CB_EFORBIDDEN when it refuses this
 * device (revoked, unknown); CB_EINVAL for an answer that is not the
 * documented one.
 */
int sync_run(struct store *st, struct net *n, const struct sync_opts *o,
	     struct sync_stats *stats, struct cb_err *err);

/* The summary `casebook sync` and `bundle import` print on stdout; with
 * `quiet` (--quiet) only its warnings (events deferred, quarantined). */
void sync_print_stats(const struct sync_stats *s, int quiet);

/*
 * A request with the retries of sync_run: network failures, 429 and 5xx
 * are tried again after a growing pause. Used by init as well.
 */
int sync_request(struct net *n, const struct sync_opts *o, const char *method,
		 const char *path, const char *query, const char *body,
		 size_t len, struct store *st, struct net_reply *r,
		 struct cb_err *err);

/*
 * The pieces of sync_run that a bundle reply (client/cmd_bundle.c) applies
 * the same way. None of them begins or commits a transaction: the caller
 * runs them inside its own store_begin/store_commit.
 */

/*
 * Apply a push answer ({"results":[...]}, docs/api.md): accepted and
 * duplicate events are marked synced, rejected ones quarantined (once:
 * a verdict applied again changes nothing); those rejected with
 * SYNC_CODE_CLOCK stay queued (s->deferred). `ids` holds the ids of
 * the `n` pushed events in order, and the answer must have n results; with
 * `ids` NULL each result's "id" names its event. Counts go to *s.
 */
int sync_apply_push_results(struct store *st, const char *const *ids, size_t n,
			    const cJSON *reply, struct sync_stats *s,
			    struct cb_err *err);

/*
 * One result of a push answer for the event `id` (as
 * sync_apply_push_results applies each): marked synced, deferred, or
 * quarantined once. CB_EINVAL for a result of another shape.
 */
int sync_apply_push_result(struct store *st, const char *id,
			   const cJSON *result, struct sync_stats *s,
			   struct cb_err *err);

/*
 * Store one pulled event (our own, already held, is marked synced) and
 * move the device's clock up to it (bounded, hlc.h); a new one goes to
 * `dc` too when not NULL (derive.h). Counts go to *s.
 */
int sync_store_pulled(struct store *st, const cJSON *event,
		      struct sync_stats *s, struct derive_cache *dc,
		      struct cb_err *err);

/*
 * Store the events of one pull page ({"events","next","more"}); *next
 * (pointing into `page`) and *more get the page's cursor and flag. The
 * caller stores the cursor. CB_EINVAL for a page of another shape.
 */
int sync_store_pull_page(struct store *st, const cJSON *page, const char **next,
			 int *more, struct sync_stats *s,
			 struct derive_cache *dc, struct cb_err *err);

/*
 * Keep the server's list of people, {"users":[...]} as GET /v1/users or
 * a bundle reply gives it, in SYNC_META_USERS. CB_EINVAL for an answer
 * without a "users" array; 0, or the store's error.
 */
int sync_keep_users(struct store *st, const cJSON *answer, struct cb_err *err);

/*
 * The server's word on person `name`, from the list the last sync
 * brought (SYNC_META_USERS): *out gets a copy of their entry
 * {"name","full_name","role","site","disabled_at"} (cJSON_Delete it), or
 * NULL when the list does not name them; *have_list is 0 when this
 * laptop never received a list (never synced, or a store made without a
 * server). 0, CB_ENOMEM, or the store's error.
 */
int sync_person(struct store *st, const char *name, cJSON **out, int *have_list,
		struct cb_err *err);

#endif
