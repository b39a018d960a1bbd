/*
 * lfeed.h - the laptop's feed of the record (common/feed.h), from its
 * encrypted store, for `casebook export` and `casebook report`: the
 * same engines as the server's commands, so the same data gives the
 * same files.
 *
 * Subjects are handed out one at a time, in byte order of the subject
 * id (the ids are read and sorted first: a few bytes each, the only
 * thing held for every subject). For each, the feed reads that
 * subject's events alone (through the subject index), leaving out the
 * ones the server rejected (the quarantine), and merges them; the items
 * come from that merge state, which is freed before the next subject.
 *
 *   without a cut-off or the audit trail: the subject's summary is its
 *       kept summary row (derive.h; derived in memory when pending),
 *       the merge is of every event, and items the protocol marks
 *       unblinded are left out unless asked for: as the server's
 *       derived tables. With the reader's forms hint (feed.h), only
 *       the events of those forms are merged, the summary being the
 *       kept row.
 *   with a cut-off, or with the merge state asked for: events carrying
 *       an unblinded item are left out unless asked for, and so are
 *       events received after the cut-off; the summary is computed from
 *       what is left, and a subject with nothing left is not handed
 *       out: as the server's replay.
 *
 * Received time on a laptop: an event the laptop pulled carries the
 * time the server received it ("received_at", set by the server and
 * kept in the stored copy), which is what a cut-off compares, as the
 * server does. An event without one (recorded on this laptop and not
 * pulled back: not yet pushed, or pushed from here) counts as received
 * at its own wall-clock time (docs/exports.md).
 *
 * Everything the feed reads is read in one snapshot of the store.
 */
#ifndef CB_LFEED_H
#define CB_LFEED_H

#include "feed.h"
#include "protocol.h"
#include "store.h"

struct lfeed {
	struct store *st;
	struct cb_protocol *p;
};

/* The feed of `f` (valid while f, its store and protocol live). */
struct cb_feed lfeed_of(struct lfeed *f);

/*
 * Open the store for a command that reads the whole record (`what`
 * names it in messages): the acting user's role must be one of `roles`
 * (NULL-terminated), checked before the passphrase is asked, and again
 * once unlocked (CB_EFORBIDDEN naming the roles that may); then the
 * store is unlocked and its protocol loaded into *f (lfeed_close).
 * The store's errors otherwise (CB_EAUTH for a wrong passphrase).
 */
struct cli_global;
int lfeed_open(const struct cli_global *g, const char *const *roles,
	       const char *what, struct lfeed *f, struct cb_err *err);
void lfeed_close(struct lfeed *f);

/*
 * 1 when the store holds a subject of `site`, 0 when it holds none, or
 * the store's error.
 */
int lfeed_has_site(struct lfeed *f, const char *site, struct cb_err *err);

#endif
