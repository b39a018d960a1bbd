/*
 * record.h - the protocol applied to the event log: what a save may
 * contain, and the values a subject's merged record holds.
 *
 * The site client checks a save here before it writes the event, and the
 * server checks every pushed event here again before it accepts it, so a
 * rule is enforced by the same code on both sides (DESIGN.md section 2).
 *
 * A form.save is acceptable when its visit and form exist and the visit
 * holds the form, its repeat instance suits the form, the writer's role
 * may write the form, every item belongs to the form, and the record it
 * would leave passes every hard edit check of that form instance (values
 * are read from the merge state, with the save's changes laid over them),
 * and every hard check of another form instance that reads an item the
 * save changes (cb_check_save), so a check relating two forms holds
 * whichever of them is saved last. Soft failures do not make it
 * unacceptable: the caller opens a query where each belongs.
 *
 * "Today" for not_future checks is the UTC date of the event's own wall
 * time (the device clock when it was made), on the laptop and on the
 * server alike: a save the laptop accepted is never refused by the server
 * only because it synced days later.
 */
#ifndef CB_RECORD_H
#define CB_RECORD_H

#include <stddef.h>

#include "check.h"
#include "err.h"
#include "event.h"
#include "merge.h"
#include "protocol.h"

/* Longest list of valid codes quoted in an "unknown ..." message. */
#define CB_RECORD_LIST_MAX 600

/*
 * A value source (check.h) reading the current values of one subject
 * from a merge state. A conflicted item reads as missing (unknown), which
 * never fails an edit check; the conflict itself is reported elsewhere.
 * The struct must outlive every use of the source it gives.
 */
struct cb_record_source {
	struct cb_merge *merge;
	const char *subject;
	char instance[16]; /* scratch for the instance number as text */
};

struct cb_check_source cb_record_source(struct cb_record_source *rs,
					struct cb_merge *m,
					const char *subject);

/*
 * Resolve the codes of a form instance as a user types them: `visit`,
 * and `form` as "CODE" or "CODE#N" for a repeating form. CB_ENOTFOUND
 * with a message listing the valid codes (the protocol's visits, or the
 * forms the visit holds) when one is unknown, CB_EINVAL for a bad
 * instance.
 */
int cb_record_resolve(const struct cb_protocol *p, const char *visit,
		      const char *form, const struct cb_protocol_visit **v_out,
		      const struct cb_protocol_form **f_out, unsigned *instance,
		      struct cb_err *err);

/*
 * The item `code` of `form`, or CB_ENOTFOUND listing the form's items.
 */
int cb_record_item(const struct cb_protocol_form *form, const char *code,
		   const struct cb_protocol_item **out, struct cb_err *err);

/*
 * Check the form.save event `ev` (not yet in `m`) written by a user
 * holding `role`: see the top of this file. A randomize event is checked
 * the same way, except that it must write the protocol's randomization
 * form (whose writer is the randomize command, not a role) and the role
 * is not asked. Appends every edit-check
 * failure, hard and soft, to `res` (initialised by the caller); failures
 * of related checks carry their own form instance (`elsewhere`). Returns 0
 * when the save is acceptable, CB_ECHECK when res holds a hard failure,
 * CB_ENOTFOUND or CB_EINVAL for a target or item the protocol lacks (or
 * a wall time that does not parse), CB_EFORBIDDEN when the role may not write
 * the form, CB_ENOMEM. A role the protocol does not list as the form's
 * writer but that resolves conflicts (cb_role_resolves) may save it when
 * every change is of an item in conflict, names every head of it in its
 * prev, and is of an item the role may see.
 */
int cb_record_check_save(const struct cb_protocol *p, struct cb_merge *m,
			 const char *role, const struct cb_event *ev,
			 struct cb_check_results *res, struct cb_err *err);

/*
 * The stratum cell of `subject` as randomization lists name it
 * (docs/randlist.md): the levels of the protocol's stratification
 * factors, read from the merge state, joined by "/"; "-" when the
 * protocol has no strata. CB_ENOTFOUND naming the factor and item when
 * a value is missing, CB_EINVAL when it is not one of the levels,
 * CB_ETOOBIG when `cap` is too small.
 */
int cb_record_stratum(const struct cb_protocol *p, struct cb_merge *m,
		      const char *subject, char *out, size_t cap,
		      struct cb_err *err);

/*
 * The one subject.status a device records: the subject's creation
 * (`casebook subject add`). Where a subject stands later (randomized,
 * dosed, off study) is derived from its other events.
 */
#define CB_SUBJECT_CREATED "screening"

/* Who writes an event: the device (and acting user) that records it. */
struct cb_record_writer {
	const char *role; /* role.h */
	const char *site; /* the device's site; "" for a central role */
	long device_index;
};

/*
 * The rules every new event must pass, whoever applies them: the laptop
 * before it stores an event of its own, and the server again for every
 * event pushed to it, so a rule enforced only by the laptop does not
 * exist (docs/api.md lists them with their codes). `m` holds the
 * subject's events so far, without `ev`; the event must be valid
 * (cb_event_validate) and its signature and origin are the caller's to
 * check. In order:
 *
 *   text       cb_event_check_text                               invalid
 *   role       the writer's role may record the kind
 *              (cb_role_may_record)                            forbidden
 *   site       a site writer writes only its site, and a subject's
 *              events all carry the subject's site                  site
 *   subject    the first event of a subject is its creation: a
 *              subject.status CB_SUBJECT_CREATED whose id is SITE-DDNNN
 *              of the writer's site and device index (role.h); only a
 *              site writer creates one (a central writer gets "site");
 *              a second creation is refused                subject, exists
 *   status     subject.status carries CB_SUBJECT_CREATED         invalid
 *   saves      form.save and randomize: cb_record_check_save
 *                                              check, forbidden, invalid
 *   target     sign, unblind and queries: their visit, form and
 *              data.item exist in the protocol                   invalid
 *   unblind    only of a subject that was randomized             subject
 *   queries    query.answer and query.close name an existing query of
 *              the same subject that the writer may see (one about an
 *              unblinded item only for an unblinded role), not closed
 *              yet (query.close: not the system query of a conflict,
 *              which closes when the conflict is resolved);
 *              query.reopen likewise one that is closed (not a
 *              system query), stamped after the close it undoes; a site
 * writer's query.open is the system query of a soft edit check of the target
 * form: data.check names it, data.item its item, and data.text is the check's
 * own message (for the soft range of an item, the message for a value that item
 * has had)                          query
 *
 * Returns 0 when every rule holds. Otherwise *code (a static string) is
 * the rejection code above and the result CB_EINVAL, CB_EFORBIDDEN,
 * CB_ENOTFOUND, CB_EEXIST or CB_ECHECK (with the hard failures appended
 * to `res`, initialised by the caller), with the message in err; or
 * CB_ENOMEM (*code NULL).
 */
int cb_record_check_event(const struct cb_protocol *p, struct cb_merge *m,
			  const struct cb_record_writer *w,
			  const struct cb_event *ev,
			  struct cb_check_results *res, const char **code,
			  struct cb_err *err);

/* The instance text events carry: "" for 0, else the decimal number. */
void cb_record_instance_text(unsigned instance, char out[16]);

#endif
