/*
 * lease.h - the device's lease of randomization slots (DESIGN.md section
 * 5, docs/randomization.md), kept in the store, and the slots this device
 * has used.
 *
 * At every sync the server tops up a site device's lease of unassigned
 * slots per stratum cell (GET /v1/slots; sync.c fetches it, a bundle
 * reply carries it); lease_save keeps the answer, encrypted like every
 * setting, in LEASE_META (the answer plus "slots": every slot seen, by
 * randomization number, with its list, kit and site-sealed arm).
 * LEASE_META_USED is the array of randomization numbers this device has
 * used. `casebook randomize` takes the next unused slot of the subject's
 * stratum (lease_next_slot) and `casebook unblind` opens a slot's arm
 * with the site's code-break key; nothing here knows an arm.
 */
#ifndef CB_LEASE_H
#define CB_LEASE_H

#include <cJSON.h>

#include "err.h"
#include "store.h"

#define LEASE_META "rand.lease"
#define LEASE_META_USED "rand.used"
/* The data key of a randomize or unblind event naming its slot. */
#define LEASE_DATA_SLOT "slot"

/*
 * A JSON setting (`array`: an array, else an object), or an empty one
 * when unset, into *out (cJSON_Delete). CB_EINVAL when the setting is not
 * of that type.
 */
int lease_meta_load(struct store *st, const char *key, int array, cJSON **out,
		    struct cb_err *err);

/* Store `v` as the JSON setting `key`. */
int lease_meta_save(struct store *st, const char *key, const cJSON *v,
		    struct cb_err *err);

/*
 * Keep the server's slots answer ({"site", "lease", "assigned",
 * "codebreak"}, docs/api.md). A leased slot is the device's for good and
 * a list's code-break key never changes, so what an answer lists is
 * added to what the store holds, never replacing it: an older bundle
 * reply imported after a newer one (or after a sync) takes away no slot
 * and no key. No list on the server and none here: nothing changes.
 * Inside the caller's transaction; CB_EINVAL for an answer of another
 * shape.
 */
int lease_save(struct store *st, const cJSON *reply, struct cb_err *err);

/*
 * The leased slot of stratum `cell` with the lowest sequence number
 * whose randomization number is not in `used`: NULL when none is left.
 */
const cJSON *lease_next_slot(const cJSON *lease, const cJSON *used,
			     const char *cell);

/*
 * The slots leased to this device that it has not used (nor seen used
 * by a subject of its site), as randomization numbers separated by
 * commas, at most `max` bytes (those that need URL escaping left out),
 * into a malloc'd *out ("" for none): what it tells a server whose
 * leases are paused after a restore (GET /v1/slots?held=, docs/api.md).
 */
int lease_held(struct store *st, char **out, size_t max, struct cb_err *err);

#endif
