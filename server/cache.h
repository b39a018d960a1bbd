/*
 * cache.h - a bounded cache of per-subject merge states.
 *
 * The server derives everything about a subject from that subject's
 * events alone (DESIGN.md section 3). Loading them back from the store
 * for every push would parse the same events again and again, so the
 * merge states of the subjects pushed to recently stay in memory here,
 * least recently used first out, up to a number of events: memory stays
 * bounded however large the study grows.
 *
 * The cache does not know the store. Its user (core.c) checks that a
 * cached state is current before trusting it (the store counts each
 * subject's events), drops a subject whose write was rolled back, and
 * trims the cache once a batch is done, never while states handed out
 * are still in use. One thread at a time (the core's writer lock), but
 * for srv_cache_release.
 */
#ifndef SRV_CACHE_H
#define SRV_CACHE_H

#include <stddef.h>

#include "err.h"
#include "merge.h"

struct srv_cache;

/* A cache holding at most about `max_events` events. CB_ENOMEM. */
int srv_cache_new(size_t max_events, struct srv_cache **out,
		  struct cb_err *err);

/* Free the cache and every state in it. NULL is fine. */
void srv_cache_free(struct srv_cache *c);

/* The state of `subject`, now the most recently used, or NULL. */
struct cb_merge *srv_cache_get(struct srv_cache *c, const char *subject);

/*
 * Keep `m` as the state of `subject`, taking it over (a state held
 * already is freed). On CB_ENOMEM `m` is freed and nothing is kept.
 */
int srv_cache_put(struct srv_cache *c, const char *subject, struct cb_merge *m,
		  struct cb_err *err);

/* Forget `subject`'s state (freed); nothing when there is none. */
void srv_cache_drop(struct srv_cache *c, const char *subject);

/* Forget every state. */
void srv_cache_clear(struct srv_cache *c);

/*
 * Take least recently used states out until at most max_events are held.
 * They are not freed here but put on *gone (a list the cache no longer
 * knows, NULL when empty), for srv_cache_release to free later: freeing
 * a state is thousands of small frees, which the caller can do without
 * holding the lock that serializes the cache's users.
 */
struct srv_cache_entry;
void srv_cache_trim(struct srv_cache *c, struct srv_cache_entry **gone);

/* Free the states of a list that srv_cache_trim made. NULL is fine.
 * Any thread; the cache itself is not touched. */
void srv_cache_release(struct srv_cache_entry *gone);

/* Subjects and events held now. */
size_t srv_cache_subjects(const struct srv_cache *c);
size_t srv_cache_events(const struct srv_cache *c);

#endif
