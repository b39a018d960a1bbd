/*
 * merge.h - the merge engine: the state of a study derived from a set of
 * events (DESIGN.md section 3).
 *
 * The record is the set of events; everything a user sees (current
 * values, conflicts, signatures, queries, the audit trail) is derived from
 * that set here, by the same code on every site laptop and on the server.
 * The derived state depends only on which events are in the set, never on
 * the order they were added or on how often one was added: adding the same
 * events in any order gives a byte-identical cb_merge_dump.
 *
 * Items: a multi-value register per (subject, visit, form, instance,
 * item). Every change of an item names in `prev` the events whose value
 * of that item its author saw as current. The item's heads are its
 * changes that no other change of the same item names in `prev`:
 *
 *   - one head: that is the value (NULL when the change cleared it);
 *   - several heads, all with the same value: converged, no conflict;
 *   - several heads with different values: a conflict. Every head's value
 *     is kept, and a system query is derived whose id is a hash of the
 *     item's key and its sorted head ids (cb_merge_conflict_id), so every
 *     replica derives the same query id. A change whose prev names all
 *     heads (with a reason) resolves it; naming only some leaves the
 *     unnamed heads beside the new one.
 *
 * A prev naming an event that is not (yet) in the set, or an event that
 * does not change this item, is ignored until that event arrives. If a
 * hostile set makes every change of an item superseded (a cycle, which
 * an honest device cannot create because ids are random and prev names
 * existing events), all of its changes count as heads, so the item shows
 * as conflicted instead of vanishing.
 *
 * Signatures: a sign event on a form instance records in data.seen the
 * ids of the form's heads when it was made (cb_merge_form_seen gives that
 * text). A form's current signature is its sign event that is last in
 * clock order (hlc, then id). That signature is broken when the form has
 * a current head (of any item) that is not in its seen list: some change
 * was made to the form that the signer did not see, whether after the
 * signature or concurrently with it on another device. Re-signing makes
 * a new signature over the new heads.
 *
 * Queries: a query.open event opens a query whose id is the event's id;
 * query.answer and query.close events name the query in data.query. A
 * conflict's system query can be answered and closed the same way. The
 * status only moves forward: closed if any close event names the query,
 * else answered if any answer does, else open; so it is independent of
 * arrival order and of clocks. (To re-open, open a new query.) Answers
 * and closes whose query is unknown are kept and count once it arrives.
 *
 * Audit trail: cb_merge_history lists an item's changes in clock order
 * (hlc, then event id) with who, when, the new value, the value of each
 * change it superseded, and why. Devices observe the clock of every event
 * they receive (hlc.h), so clock order is a causal order.
 *
 * Views: the structs handed out below point into the merge state. They
 * stay valid until the next cb_merge_add or cb_merge_free; copy what you
 * keep. Lookups settle the derived state lazily, so they take a
 * non-const struct cb_merge; the state is not locked (one thread at a
 * time). The walks (cb_merge_each_*) return CB_ENOMEM, with no message,
 * when settling runs out of memory. Adding n events and reading
 * everything costs O(n log n).
 */
#ifndef CB_MERGE_H
#define CB_MERGE_H

#include <stddef.h>

#include "err.h"
#include "event.h"

/* Largest canonical dump produced; a bigger state gives CB_ETOOBIG. */
#define CB_MERGE_DUMP_MAX (512u * 1024u * 1024u)

struct cb_merge;

/* A new, empty merge state into *out; free with cb_merge_free. CB_ENOMEM. */
int cb_merge_new(struct cb_merge **out, struct cb_err *err);

/* Free the state, every event copy it holds and every view. NULL is ok. */
void cb_merge_free(struct cb_merge *m);

/*
 * Add a copy of `ev` (which stays the caller's) to the set. The event must
 * pass cb_event_validate (CB_EINVAL otherwise); its signature is not
 * checked here (the caller knows the device keys). Adding an event whose
 * id is already present is a no-op (*added 0) when its signed content is
 * the same, and CB_ECONFLICT when it differs (the first one stays). On
 * success *added (may be NULL) is 1 for a new event, 0 for a duplicate.
 * CB_ENOMEM leaves the set as it was.
 */
int cb_merge_add(struct cb_merge *m, const struct cb_event *ev, int *added,
		 struct cb_err *err);

/*
 * cb_merge_add without the copy: a new event's content moves into the set
 * and `ev` is left empty (as after cb_event_init); *filed (may be NULL)
 * is then the set's event, valid until cb_merge_free. A duplicate (or any
 * failure) leaves `ev` as it was; *filed is then the event already held
 * with that id, or NULL.
 */
int cb_merge_take(struct cb_merge *m, struct cb_event *ev,
		  const struct cb_event **filed, int *added,
		  struct cb_err *err);

/* Number of distinct events in the set. */
size_t cb_merge_count(const struct cb_merge *m);

/* The stored event with this id, or NULL. */
const struct cb_event *cb_merge_event(const struct cb_merge *m, const char *id);

/*
 * Visit every event, of one subject or (subject NULL) of all, in clock
 * order (hlc, then id). fn returning non-zero stops the walk and that
 * value is returned; otherwise 0.
 */
int cb_merge_each_event(struct cb_merge *m, const char *subject,
			int (*fn)(const struct cb_event *ev, void *ctx),
			void *ctx);

/* Visit every subject that has an event, in byte order of the id. */
int cb_merge_each_subject(struct cb_merge *m,
			  int (*fn)(const char *subject, void *ctx), void *ctx);

/* ---- items ------------------------------------------------------------ */

/* The derived state of one item. */
struct cb_merge_item {
	const char *subject, *visit, *form, *instance, *item;
	int conflict;	   /* several heads with different values */
	const char *value; /* without a conflict: the value (NULL: cleared) */
	size_t nheads;
	const char *const *heads;	/* head event ids, sorted */
	const char *const *head_values; /* each head's value (NULL: cleared) */
	const char *query;		/* the conflict query id, or NULL */
	size_t nchanges;		/* changes in its history */
};

/*
 * The item addressed by the five names (instance "" for a non-repeating
 * form). CB_ENOTFOUND when no event has changed it. err may be NULL when
 * only the code is wanted (a miss is then not described, which costs).
 */
int cb_merge_item_get(struct cb_merge *m, const char *subject,
		      const char *visit, const char *form, const char *instance,
		      const char *item, struct cb_merge_item *out,
		      struct cb_err *err);

/*
 * Visit the items matching the given names, in order of subject, visit,
 * form, instance (numerically), item; a NULL name matches anything.
 * With all four names given, only that form instance's items are
 * walked (not the rest of the state): the store writes a form's items
 * this way on every save. fn returning non-zero stops the walk and that
 * value is returned.
 */
int cb_merge_each_item(struct cb_merge *m, const char *subject,
		       const char *visit, const char *form,
		       const char *instance,
		       int (*fn)(const struct cb_merge_item *it, void *ctx),
		       void *ctx);

/* Visit every conflicted item, in the same order. */
int cb_merge_each_conflict(struct cb_merge *m,
			   int (*fn)(const struct cb_merge_item *it, void *ctx),
			   void *ctx);

/* Number of conflicted items. */
size_t cb_merge_conflict_count(struct cb_merge *m);

/*
 * The system query id of a conflict on the item named by the five names
 * with heads heads[0..nheads-1] (in any order): the first 16 bytes of the
 * BLAKE2b hash of the item's names and the sorted head ids, as an id.
 * cb_merge_item already carries it; this is for callers and tests that
 * need to predict it. CB_ENOMEM.
 */
int cb_merge_conflict_id(const char *subject, const char *visit,
			 const char *form, const char *instance,
			 const char *item, const char *const *heads,
			 size_t nheads, char out[CB_EVENT_ID_HEX + 1],
			 struct cb_err *err);

/* ---- audit trail -------------------------------------------------------- */

/* A value a change superseded. */
struct cb_merge_old {
	const char *id;	   /* the superseded event */
	const char *value; /* its value of the item (NULL: cleared/unknown) */
	int known;	   /* 0 when that event is not in the set */
};

/* One entry of an item's audit trail. */
struct cb_merge_change {
	/* the event: who (user, device, site), when (wall, hlc), why
	 * (reason), which (id) */
	const struct cb_event *ev;
	const char *value; /* the new value (NULL: cleared) */
	size_t nold;
	const struct cb_merge_old *old; /* in the order of its prev list */
	int head;			/* still a head of the item */
};

/*
 * Visit the changes of one item in clock order (hlc, then event id).
 * CB_ENOTFOUND when the item has none, CB_ENOMEM; otherwise as
 * cb_merge_each_item. The views passed to fn live only during the call.
 */
int cb_merge_history(struct cb_merge *m, const char *subject, const char *visit,
		     const char *form, const char *instance, const char *item,
		     int (*fn)(const struct cb_merge_change *c, void *ctx),
		     void *ctx, struct cb_err *err);

/* ---- forms and signatures ---------------------------------------------- */

/* The derived state of one form instance. */
struct cb_merge_form {
	const char *subject, *visit, *form, *instance;
	size_t nitems;		     /* items with at least one change */
	size_t nconflicts;	     /* of which conflicted */
	size_t nsigns;		     /* sign events on it */
	const struct cb_event *sign; /* the current signature, or NULL */
	int broken; /* sign is set and misses a current head (see top) */
};

/*
 * The form instance with these names. CB_ENOTFOUND when no event has
 * changed or signed it.
 */
int cb_merge_form_get(struct cb_merge *m, const char *subject,
		      const char *visit, const char *form, const char *instance,
		      struct cb_merge_form *out, struct cb_err *err);

/* Visit the form instances of one subject (NULL: all), in order. */
int cb_merge_each_form(struct cb_merge *m, const char *subject,
		       int (*fn)(const struct cb_merge_form *f, void *ctx),
		       void *ctx);

/*
 * The highest instance number N of repeating form `form` at `visit` that
 * an event has changed or signed for `subject` ("FORM#N"; 0 when none). A
 * hash lookup kept up as events are added, so an edit check on one save
 * never walks the whole state (cb_merge_each_form sorts and walks every
 * form of every subject).
 */
unsigned cb_merge_last_instance(const struct cb_merge *m, const char *subject,
				const char *visit, const char *form);

/*
 * The data.seen text for a new signature of this form instance: the ids
 * of all current heads of its items, sorted, each once, comma-separated
 * ("" when it has none), in a malloc'd string the caller frees. CB_ENOMEM.
 */
int cb_merge_form_seen(struct cb_merge *m, const char *subject,
		       const char *visit, const char *form,
		       const char *instance, char **out, struct cb_err *err);

/* ---- queries ----------------------------------------------------------- */

enum cb_query_status {
	CB_QUERY_OPEN,
	CB_QUERY_ANSWERED,
	CB_QUERY_CLOSED,
};

/* The derived state of one query. */
struct cb_merge_query {
	const char *id;
	int system; /* derived from a current conflict, no open event */
	enum cb_query_status status;
	const char *subject, *visit, *form, *instance;
	const char *item;	       /* "" when about no single item */
	const char *text;	       /* the question */
	const struct cb_event *open;   /* NULL for a system query */
	size_t nanswers;	       /* query.answer events */
	const struct cb_event *answer; /* the last answer, or NULL */
	/* the last reopen that took effect, or NULL */
	const struct cb_event *reopen;
	/* while closed, the close in effect (the first one after the last
	 * reopen), else NULL */
	const struct cb_event *close;
};

/* The name of a status: "open", "answered", "closed". */
const char *cb_query_status_name(enum cb_query_status status);

/*
 * The query with this id: one opened by an event, or the system query of
 * a current conflict. CB_ENOTFOUND otherwise.
 */
int cb_merge_query_get(struct cb_merge *m, const char *id,
		       struct cb_merge_query *out, struct cb_err *err);

/*
 * Visit the queries of one subject (NULL: all), in order of query id,
 * system queries of current conflicts included. CB_ENOMEM, or as
 * cb_merge_each_item.
 */
int cb_merge_each_query(struct cb_merge *m, const char *subject,
			int (*fn)(const struct cb_merge_query *q, void *ctx),
			void *ctx, struct cb_err *err);

/* ---- comparing replicas ------------------------------------------------ */

/*
 * A deterministic text of the whole derived state, subject by subject
 * (in byte order of the id), so that a store can write it one subject at
 * a time without holding the study: the line CB_MERGE_DUMP_HEAD, then
 * each subject's section as cb_merge_dump_subject writes it. Two
 * replicas holding the same set of events give byte-identical dumps.
 * *out is malloc'd and NUL-terminated, *len (may be NULL) bytes long.
 * CB_ENOMEM, CB_ETOOBIG.
 */
#define CB_MERGE_DUMP_HEAD "casebook merge dump 2\n"
int cb_merge_dump(struct cb_merge *m, char **out, size_t *len,
		  struct cb_err *err);

/*
 * One subject's section of the dump: a line `subject "ID" events N`,
 * its events in clock order (hlc, id, kind), every item it changed with
 * its value or conflict, heads and audit trail, every form with its
 * signature state, every query with its status. As cb_merge_dump
 * otherwise (an unknown subject gives its line with 0 events).
 */
int cb_merge_dump_subject(struct cb_merge *m, const char *subject, char **out,
			  size_t *len, struct cb_err *err);

#endif
