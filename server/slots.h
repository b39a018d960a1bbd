/*
 * slots.h - the randomization slots of the central store: the imported
 * sealed list, the leases of unassigned slots held by site devices, and
 * the slot each randomized subject took (DESIGN.md section 5,
 * docs/randomization.md).
 *
 * The server never holds an arm in plaintext and never opens one: it
 * keeps each slot's two sealed arms as opaque hex text, the way the list
 * carries them. What it knows per slot is public to the site: site,
 * stratum cell, sequence, randomization number, kit number.
 *
 * Tables (kept by the store layer, store.h "randomization slots"):
 *   rand_lists  every list imported: id, fingerprint, study, time
 *   rand_sites  per list and site, the wrapped code-break secret
 *               (cb_key_wrap text, hex) that only the site's code-break
 *               passphrase opens
 *   rand_slots  one row per slot, keyed by randomization number: list,
 *               site, stratum, seq, kit, the sealed arms, and the device
 *               leasing it and the subject (and event) that used it
 *
 * Leasing: every signed GET /v1/slots by a site device tops up that
 * device's unused slots to the lease size (`casebookd serve --lease N`,
 * default SRV_SLOTS_LEASE) per stratum cell of its site,
 * taking the site's unleased slots in seq order. A leased slot belongs
 * to that device for good, so two offline laptops of one site never hold
 * the same slot. A randomize event is accepted only with a slot leased to
 * the sending device and not used yet (push rejection code "slot").
 *
 * Errors follow err.h; every function runs on the connection of `s` (the
 * writer's, under the core's writer lock, unless said otherwise).
 */
#ifndef SRV_SLOTS_H
#define SRV_SLOTS_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "err.h"
#include "event.h"
#include "merge.h"
#include "protocol.h"
#include "randlist.h"
#include "store.h"

/* Unused slots a device holds per stratum cell after each sync: the
 * default and the largest `casebookd serve --lease N`. */
#define SRV_SLOTS_LEASE 4
#define SRV_SLOTS_LEASE_MAX 200

/* The data key of a randomize event naming its slot (the randno). */
#define SRV_SLOTS_DATA_SLOT "slot"

/* What an import did. */
struct srv_slots_import {
	int same;	 /* the identical list was already imported */
	size_t added;	 /* slots new to the store */
	size_t replaced; /* unassigned slots of an earlier list replaced */
	size_t kept;	 /* slots already stored, identical */
};

/*
 * Import the verified list `list` (cb_randlist_load) for the store's
 * study `study` with protocol SHA-256 `sha256`, in one transaction.
 * CB_EINVAL when the list is for another study or protocol or names a
 * site the store does not have; CB_ECONFLICT when it would change a slot
 * already leased or used (naming it) or reuse a kit number of another
 * slot. Importing the same list again changes nothing (r->same).
 */
int srv_slots_import(struct srv_store *s, const struct cb_randlist *list,
		     const char *study, const char *sha256,
		     struct srv_slots_import *r, struct cb_err *err);

/*
 * Top up the lease of site device `dev` (coordinator or investigator)
 * to `per_stratum` unused slots per stratum cell (1 to
 * SRV_SLOTS_LEASE_MAX; 0 means SRV_SLOTS_LEASE) and describe it in
 * *reply (docs/api.md, GET /v1/slots):
 *   {"site":..., "per_stratum":N,
 *    "lease":[{"slot","list","stratum","seq","randno","kit","arm_site"}],
 *    "assigned":[{"slot","list","subject","randno","kit","arm_site"}],
 *    "codebreak":[{"list","key"}]}
 * lease: the device's leased, unused slots; assigned: the site's slots
 * used by a subject; codebreak: the site's wrapped code-break secrets.
 * Runs in its own transaction. CB_EFORBIDDEN for a device of no site;
 * CB_ECONFLICT, saying why, while new leases are paused
 * (srv_store_leases_paused: a restore into an empty data directory,
 * until `casebookd randlist resume-leases`): then no slot is leased,
 * but each slot of `held` (randomization numbers separated by commas,
 * the unused slots the device says it holds; may be NULL) of the
 * device's site that no device holds in the restored store becomes the
 * device's, as the lost store had leased it, and that is committed.
 */
int srv_slots_lease(struct srv_store *s, const struct srv_device *dev,
		    unsigned per_stratum, const char *held, cJSON **reply,
		    struct cb_err *err);

/*
 * The lease size GET /v1/slots uses, for the whole process: `casebookd
 * serve --lease N` sets it before serving. Values outside
 * 1..SRV_SLOTS_LEASE_MAX set the default SRV_SLOTS_LEASE.
 */
void srv_slots_set_lease(unsigned per_stratum);
unsigned srv_slots_lease_size(void);

/*
 * Check a randomize event `ev` from `dev` before it is accepted: it
 * names a slot (data.slot) of its site leased to `dev` and not used,
 * its changes write that slot's randomization and kit numbers, its
 * subject is not randomized yet and is eligible (cb_check_eligibility
 * on the merge state `m`). Two cases after a restore: the same event
 * sent again, whose use of the slot the restore carried from the store
 * it replaced, is taken again; and while leases are paused, a slot of
 * the device's site that no device holds in the restored store is taken
 * as that device's (it was leased after the backup, by the store that
 * was lost, to the one device that holds it). Returns 0 when acceptable;
 * otherwise sets
 * *code to the push rejection code ("slot" or "check") and returns
 * CB_EFORBIDDEN, CB_ECONFLICT or CB_ECHECK; CB_EIO and CB_ENOMEM fail
 * the whole batch.
 */
int srv_slots_check(struct srv_store *s, const struct cb_protocol *p,
		    struct cb_merge *m, const struct srv_device *dev,
		    const struct cb_event *ev, const char **code,
		    struct cb_err *err);

/* Record that the accepted randomize event `ev` used its slot. */
int srv_slots_mark(struct srv_store *s, const struct cb_event *ev,
		   struct cb_err *err);

/*
 * For `casebookd rebuild`: forget which slots are used (subject, event,
 * time), so that marking each stored randomize event again with
 * srv_slots_mark derives them from the events alone. Leases are the
 * server's own decisions, not events, and are kept; so is a use a
 * restore carried whose event has not come back yet.
 */
int srv_slots_clear_used(struct srv_store *s, struct cb_err *err);

/*
 * Print the randomization state for `casebookd status`: slots imported,
 * leased and used per site, and every code-break (from the subjects'
 * summaries: subject, site, user, time, reason), which the subject is
 * flagged with. Never an arm.
 */
int srv_slots_report(struct srv_store *s, FILE *out, struct cb_err *err);

/* The only role GET /v1/arms answers. */
#define SRV_SLOTS_ARMS_ROLE "dsmb"

/*
 * Every randomized subject's slot with its arm sealed to the trial
 * unblinding key, for the DSMB's closed report (docs/api.md, GET
 * /v1/arms): *reply gets
 *   {"arms":[{"subject","list","site","randno","kit","stratum",
 *             "arm_unblind"}]}
 * ordered by site and randomization number. Never the site-sealed arm,
 * never a plain arm: the server cannot open either. An empty array when
 * no list was imported. Reads only (a reader connection will do).
 */
int srv_slots_arms(struct srv_store *s, cJSON **reply, struct cb_err *err);

#endif
