/*
 * derive.h - what the laptop keeps derived from each subject's events
 * (DESIGN.md section 3, "Derived state is kept, one subject at a time"),
 * and the readers that use it.
 *
 * Every derived fact depends only on its subject's events, so a subject
 * is derived by merging its events alone (derive_load: the subject
 * index gives them without reading any other subject's), and kept as
 * rows in the store (store.h, "Derived rows"):
 *
 *   the summary row   {"subject", "summary": the subject's summary
 *                     (cb_summary_to_json, summary.h) or null when no
 *                     event of it is on the record, "dated": the
 *                     scheduled visits whose visit date is recorded
 *                     (protocol order, comma-separated), "events": the
 *                     events stored for it, quarantined ones included,
 *                     "last_seq": the highest local number of them}
 *   one query row     {"id", "subject", "visit", "form", "instance",
 *                     "item", "status", "system", "text", "opened_by",
 *                     "opened_at" (the opening event's wall time, UTC),
 *                     "answer", "answered_by", "closed_by"} per query
 *                     (merge.h), closed ones included
 *
 * Who writes them: a session writing an event derives its subject in
 * the same transaction (entry.h); events stored otherwise (a pull, a
 * bundle, a quarantine, a store upgrade) leave their subject pending,
 * and derive_pending writes every pending subject's rows (a sync does
 * it once at its end, a session at its start). Readers that list every
 * subject (subject list, status, query list, dump's order) read the rows;
 * a subject still pending there (a read-only store, or another process
 * holding the write lock) is derived in memory instead, so no reader
 * ever shows a row older than its events.
 *
 * Every function returns 0 or a negative CB_E* code with a message in
 * *err.
 */
#ifndef CB_DERIVE_H
#define CB_DERIVE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"
#include "merge.h"
#include "protocol.h"
#include "store.h"
#include "summary.h"

/* One subject's events, merged. */
struct derive_subject {
	struct cb_merge *merge; /* its events, quarantined ones left out */
	int64_t nstored;	/* its events in the store, quarantined too */
	int64_t last_seq;	/* the highest local number of them */
	uint64_t clock;		/* the latest hlc of them, bounded (hlc.h) */
};

/*
 * Read `subject`'s events (only its own: store_each_event through the
 * subject index) into a new merge state in *d (derive_subject_release).
 * CB_EINTEGRITY for a damaged event.
 */
int derive_load(struct store *st, const char *subject, struct derive_subject *d,
		struct cb_err *err);
void derive_subject_release(struct derive_subject *d);

/*
 * Compute the subject's rows from `d` and store them (store_derived_put).
 * Inside the transaction that stored the events. (The device's clock is
 * moved where events arrive: a local write, a pull, an upgrade.)
 */
int derive_write(struct store *st, const struct cb_protocol *p,
		 const char *subject, struct derive_subject *d,
		 struct cb_err *err);

/*
 * Derive and store every pending subject, a few hundred to a
 * transaction (an interrupted run keeps what it finished). With
 * `progress`, a line on stderr says how far it is when there are many.
 * *done (may be NULL) gets the number derived. CB_EIO for a read-only
 * store, CB_EBUSY while another process writes: readers then derive in
 * memory (below).
 */
int derive_pending(struct store *st, const struct cb_protocol *p, int progress,
		   size_t *done, struct cb_err *err);

/*
 * Subjects merged while events arrive in bulk (a pull, a bundle reply):
 * each new event is added to its subject's merge state as it is stored,
 * and derive_cache_write writes the rows of every subject touched since
 * its last call, from those states, inside the open transaction: no
 * subject is read back from the store, and rows and events commit
 * together. At most `max` subjects are held: the least recently touched
 * goes, its rows written first. After a rollback, derive_cache_forget:
 * the states may hold events the store no longer has (their subjects are
 * still marked pending in the store, which the rollback kept).
 */
struct derive_cache;
int derive_cache_new(struct store *st, const struct cb_protocol *p, size_t max,
		     struct derive_cache **out, struct cb_err *err);
/* `ev` was just stored as new event number `seq` (store_add_event). */
int derive_cache_add(struct derive_cache *c, const struct cb_event *ev,
		     int64_t seq, struct cb_err *err);
int derive_cache_write(struct derive_cache *c, struct cb_err *err);
void derive_cache_forget(struct derive_cache *c);
void derive_cache_free(struct derive_cache *c);

/* One subject as a summary row says it. */
struct derive_summary {
	const char *subject;
	const struct cb_summary *summary; /* NULL: nothing on the record */
	const char *dated;		  /* see the top of this file */
	int64_t events, last_seq;
};

/*
 * 1 when the scheduled visit `code` is in `dated` (a summary row's list
 * of visits whose date is recorded).
 */
int derive_dated(const char *dated, const char *code);

/*
 * Every subject's summary in byte order of the subject id, from the
 * summary rows, a pending subject derived in memory. fn returning
 * non-zero stops the walk and that value is returned.
 */
int derive_each_summary(struct store *st, const struct cb_protocol *p,
			int (*fn)(void *ctx, const struct derive_summary *s),
			void *ctx, struct cb_err *err);

/*
 * The summary of one subject (from its row, or derived in memory when
 * pending): fn is called once, or CB_ENOTFOUND when the store has no
 * such subject.
 */
int derive_one_summary(struct store *st, const struct cb_protocol *p,
		       const char *subject,
		       int (*fn)(void *ctx, const struct derive_summary *s),
		       void *ctx, struct cb_err *err);

/*
 * Every query row (subject NULL: of every subject) in order of query id,
 * as parsed JSON (the top of this file), a pending subject's derived in
 * memory.
 */
int derive_each_query(struct store *st, const struct cb_protocol *p,
		      const char *subject, int (*fn)(void *ctx, const cJSON *q),
		      void *ctx, struct cb_err *err);

/*
 * `store check`'s other half: derive every subject again from its
 * events and compare with its rows. CB_EINTEGRITY naming the first
 * subject whose rows say something its events do not; *checked (may be
 * NULL) gets the number of subjects compared, *pending those skipped
 * because their rows are pending.
 */
int derive_check(struct store *st, const struct cb_protocol *p,
		 int64_t *checked, int64_t *pending, struct cb_err *err);

#endif
