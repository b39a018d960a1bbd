/*
 * role.h - who may do what: the roles of DESIGN.md section 1, site codes,
 * user names and subject ids, the one model the laptop and the server
 * both apply.
 *
 * Roles. Site roles work at one site and only on its subjects:
 *   coordinator    screens, enrolls, randomizes, records data, answers
 *                  queries
 *   investigator   everything the coordinator does, plus e-signatures and
 *                  the emergency code-break
 * Central roles see every site:
 *   datamanager, monitor   raise, answer and close queries; the data
 *                          manager also resolves conflicts
 *   statistician           reads the blinded data
 *   dsmb                   reads arms and unblinded items
 *   lab                    the unblinded cell-processing laboratory: writes
 *                          the items the protocol marks "unblinded"
 * Which forms a role may write is the protocol's (each form lists its
 * writers); which other event kinds it may record is
 * cb_role_may_record's.
 *
 * Subject ids are SITE-DDNNN: the site code, the two-digit index of the
 * device that created the subject and a three-digit number that device
 * keeps (KR01-01007), so devices never need to coordinate to make one.
 * Only a device of that site with that index may create such a subject.
 */
#ifndef CB_ROLE_H
#define CB_ROLE_H

#include <stddef.h>

#include "err.h"

#define CB_ROLE_COORDINATOR "coordinator"
#define CB_ROLE_INVESTIGATOR "investigator"
#define CB_ROLE_DATAMANAGER "datamanager"
#define CB_ROLE_MONITOR "monitor"
#define CB_ROLE_STATISTICIAN "statistician"
#define CB_ROLE_DSMB "dsmb"
#define CB_ROLE_LAB "lab"

/* Longest role name, without the NUL. */
#define CB_ROLE_MAX 16

/* Site codes: 2 to 8 of A-Z and 0-9, a letter first. */
#define CB_SITE_MAX 8
/* Device indexes within a site (or among central devices): 1 to 99. */
#define CB_DEVICE_INDEX_MAX 99
/* Subject numbers per device: 1 to 999. */
#define CB_SUBJECT_SEQ_MAX 999
/* Longest subject id: site, '-', two digits, three digits. */
#define CB_SUBJECT_ID_MAX (CB_SITE_MAX + 6)
/* Longest user name: 1 to 64 of ASCII letters, digits and "._-@". */
#define CB_USER_MAX 64

/* 1 for coordinator and investigator. */
int cb_role_is_site(const char *role);

/* 1 for datamanager, monitor, statistician, dsmb and lab. */
int cb_role_is_central(const char *role);

/* 1 for any role above. */
int cb_role_known(const char *role);

/*
 * 1 for the roles that may see items the protocol marks "unblinded": the
 * unblinded laboratory and the DSMB. Every other role has those items
 * withheld, on the server (pull) and on a laptop (every command).
 */
int cb_role_unblinded(const char *role);

/* 1 for the roles that raise and close data queries. */
int cb_role_reviews(const char *role);

/*
 * 1 for the role that resolves conflicts on any form it may see
 * (DESIGN.md section 1: the data manager), though the protocol does not
 * list it among the form's writers: such a save may only change items in
 * conflict, naming every head (cb_record_check_save).
 */
int cb_role_resolves(const char *role);

/*
 * 1 when `role` may record an event of `kind` other than form.save (whose
 * writers each form of the protocol lists): randomize (site roles), sign
 * and unblind (investigator), query.open (reviewers; a site role only for
 * the system query of a failed soft edit check, `for_check` set),
 * query.answer (site roles and reviewers), query.close and query.reopen
 * (reviewers),
 * subject.status (site roles). 1 for form.save; 0 for anything else.
 */
int cb_role_may_record(const char *role, const char *kind, int for_check);

/* 1 when `code` is a valid site code (CB_SITE_MAX). */
int cb_site_valid(const char *code);

/* 1 when `name` is a valid user name (CB_USER_MAX). */
int cb_user_valid(const char *name);

/*
 * Write the subject id of number `seq` made by device `device_index` of
 * `site` into out (CB_SUBJECT_ID_MAX + 1 bytes). CB_EINVAL for a bad
 * site, index or number.
 */
int cb_subject_id_make(const char *site, long device_index, long seq,
		       char out[CB_SUBJECT_ID_MAX + 1], struct cb_err *err);

/*
 * Read a subject id: 0 with its site (CB_SITE_MAX + 1 bytes, may be
 * NULL), device index and number (either may be NULL), or CB_EINVAL
 * saying what is wrong with it.
 */
int cb_subject_id_parse(const char *id, char *site, long *device_index,
			long *seq, struct cb_err *err);

#endif
