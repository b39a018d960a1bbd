/*
 * recent.h - the events a serving casebookd stored last, kept in memory
 * for pulls.
 *
 * Devices pull often, each from a cursor a second or so behind the
 * newest event: reading those pages from SQLite costs a read transaction
 * whose page cache every commit has emptied, and a lookup of each row.
 * In the 200 devices' run, pulls were a fifth of the server's work. So
 * the writer hands each event it stores (a copy of its text) to this
 * ring, pending until its transaction commits, and a pull whose cursor
 * the ring covers is answered from what is committed.
 *
 * The ring holds every event numbered in (floor, last], in order, and
 * never claims one it lacks: an event whose number does not follow the
 * last one's starts it again (floor moves up to just before it), and the
 * oldest committed go when the ring passes its bytes (floor never passes
 * a pending event, so no cursor a pull gives can). It is only for a store
 * written by one process (SQLite's, whose serve holds the data
 * directory's lock); several casebookd on one PostgreSQL store each see
 * only their own commits, and do not use it.
 *
 * Safe from any thread (one mutex).
 */
#ifndef SRV_RECENT_H
#define SRV_RECENT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct srv_recent;

/* A ring of at most `max_bytes` of event text. NULL: out of memory. */
struct srv_recent *srv_recent_new(size_t max_bytes);
void srv_recent_free(struct srv_recent *r);

/*
 * Add the event numbered `seq`, just stored in the writer's open
 * transaction: its stored text (json, len: copied), its site and whether
 * it changes an unblinded item. Pending, unseen by pulls, until
 * srv_recent_commit; srv_recent_abort drops it. CB_ENOMEM (the ring is
 * emptied then: it claims nothing it may lack).
 */
int srv_recent_add(struct srv_recent *r, int64_t seq, const char *site,
		   int unblinded, const char *json, size_t len);

/* The writer's transaction committed: its pending events are seen. */
void srv_recent_commit(struct srv_recent *r);

/* It rolled back: its pending events go. */
void srv_recent_abort(struct srv_recent *r);

/*
 * A pull from the ring, as srv_store_event_each and then
 * srv_store_withheld_each would give it in one snapshot: the events
 * after `since` of `site` (NULL: every site), only the blinded ones
 * unless `unblinded`, at most `limit`, to fn in order; and when
 * `withheld` is not NULL, to it each unblinded event of `site` between
 * `since` and the last one given (or the newest, when fewer than
 * `limit` were), in order. *last gets the cursor after the page. The
 * rows lend the event's seq, site, unblinded flag and text only.
 * *covered gets 1 when the ring covers `since` and answered, 0 when it
 * does not (nothing called: ask the store). Returns 0 or a callback's
 * non-zero code (the walk stops there).
 */
int srv_recent_pull(
    struct srv_recent *r, int64_t since, long limit, const char *site,
    int unblinded, int (*fn)(const struct srv_event_row *row, void *ctx),
    void *ctx, int (*withheld)(const struct srv_event_row *row, void *wctx),
    void *wctx, int64_t *last, int *covered);

#endif
