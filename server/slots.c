/*
 * slots.c - the randomization slots (slots.h): importing a list,
 * leasing, the checks of a randomize event, and what status and the
 * DSMB are shown. The tables are the store layer's (store.h); this file
 * decides, the store keeps.
 */
#include "slots.h"

#include "check.h"
#include "clock.h"
#include "record.h"
#include "srv.h"

#include <stdlib.h>
#include <string.h>

static char *hex_alloc(const void *bin, size_t len)
{
	struct cb_err err;
	char *out = malloc(CB_HEX_SIZE(len));

	if (out && cb_hex_encode(bin, len, out, CB_HEX_SIZE(len), &err)) {
		free(out);
		out = NULL;
	}
	return out;
}

/* ---- import ------------------------------------------------------------ */

static void slots_free(struct srv_slot_new *n, size_t count)
{
	size_t i;

	for (i = 0; n && i < count; i++) {
		free((char *)n[i].arm_unblind);
		free((char *)n[i].arm_site);
	}
	free(n);
}

/* The list's site rows: each site's code-break key. */
static int import_sites(struct srv_store *s, const struct cb_randlist *list,
			struct cb_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < list->nsites && !rc; i++) {
		const struct cb_randlist_site *site = &list->sites[i];
		char *pub = hex_alloc(site->codebreak_pub, CB_BOX_PUBLIC_BYTES);
		char *key = site->codebreak_key
				? hex_alloc(site->codebreak_key,
					    strlen(site->codebreak_key))
				: NULL;

		rc = pub && key
			 ? srv_store_slots_site(s, list->list_id, site->code,
						pub, key, err)
			 : cb_err_set(err, CB_ENOMEM, "out of memory");
		free(pub);
		free(key);
	}
	return rc;
}

int srv_slots_import(struct srv_store *s, const struct cb_randlist *list,
		     const char *study, const char *sha256,
		     struct srv_slots_import *r, struct cb_err *err)
{
	struct srv_slot_new *n = NULL;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (strcmp(list->study_id, study))
		return cb_err_set(err, CB_EINVAL,
				  "the list is for study %s; this server "
				  "holds study %s",
				  list->study_id, study);
	if (strcmp(list->protocol_sha256, sha256))
		return cb_err_set(err, CB_EINVAL,
				  "the list was made for protocol %s (SHA-256 "
				  "%.16s...); this server holds %.16s...",
				  list->protocol_version, list->protocol_sha256,
				  sha256);
	n = calloc(list->nslots ? list->nslots : 1, sizeof(*n));
	if (!n)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; i < list->nslots; i++) {
		const struct cb_randlist_slot *sl = &list->slots[i];

		n[i].randno = sl->randno;
		n[i].site = sl->site;
		n[i].stratum = sl->stratum;
		n[i].kit = sl->kit;
		n[i].seq = (int64_t)sl->seq;
		n[i].arm_unblind =
		    hex_alloc(sl->seal_unblind, sl->seal_unblind_len);
		n[i].arm_site = hex_alloc(sl->seal_site, sl->seal_site_len);
		if (!n[i].arm_unblind || !n[i].arm_site) {
			slots_free(n, list->nslots);
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		}
	}
	rc = srv_store_begin(s, err);
	if (!rc)
		rc =
		    srv_store_slots_put(s, list->list_id, n, list->nslots,
					&r->added, &r->replaced, &r->kept, err);
	if (!rc)
		rc = srv_store_slots_list(s, list->list_id, list->fingerprint,
					  study, list->nslots, err);
	if (!rc)
		rc = import_sites(s, list, err);
	if (!rc)
		rc = srv_store_commit(s, err);
	else
		srv_store_rollback(s);
	r->same = !rc && !r->added && !r->replaced;
	slots_free(n, list->nslots);
	return rc;
}

/* ---- leases ------------------------------------------------------------ */

/* Written once by `casebookd serve` before any request thread runs. */
static unsigned lease_size = SRV_SLOTS_LEASE;

void srv_slots_set_lease(unsigned per_stratum)
{
	lease_size = per_stratum >= 1 && per_stratum <= SRV_SLOTS_LEASE_MAX
			 ? per_stratum
			 : SRV_SLOTS_LEASE;
}

unsigned srv_slots_lease_size(void)
{
	return lease_size;
}

/* One listed slot into the reply array, with the given members. */
struct rows {
	cJSON *arr;
	int kind;
};

static int slot_json(const struct srv_slot *sl, void *ctx)
{
	struct rows *r = ctx;
	cJSON *o = cJSON_CreateObject();
	char seq[24];
	int ok = o != NULL;

	snprintf(seq, sizeof(seq), "%lld", (long long)sl->seq);
	switch (r->kind) {
	case 0: /* the device's lease */
		ok = ok && cJSON_AddStringToObject(o, "slot", sl->randno) &&
		     cJSON_AddStringToObject(o, "list", sl->list) &&
		     cJSON_AddStringToObject(o, "stratum", sl->stratum) &&
		     cJSON_AddStringToObject(o, "seq", seq) &&
		     cJSON_AddStringToObject(o, "randno", sl->randno) &&
		     cJSON_AddStringToObject(o, "kit", sl->kit) &&
		     cJSON_AddStringToObject(o, "arm_site", sl->arm_site);
		break;
	case 1: /* the site's used slots */
		ok = ok && cJSON_AddStringToObject(o, "slot", sl->randno) &&
		     cJSON_AddStringToObject(o, "list", sl->list) &&
		     cJSON_AddStringToObject(o, "subject", sl->subject) &&
		     cJSON_AddStringToObject(o, "randno", sl->randno) &&
		     cJSON_AddStringToObject(o, "kit", sl->kit) &&
		     cJSON_AddStringToObject(o, "arm_site", sl->arm_site);
		break;
	case 2: /* the site's code-break keys */
		ok =
		    ok && cJSON_AddStringToObject(o, "list", sl->list) &&
		    cJSON_AddStringToObject(o, "public_key", sl->arm_unblind) &&
		    cJSON_AddStringToObject(o, "key", sl->arm_site);
		break;
	default: /* every used slot, sealed to the unblinding key */
		ok = ok && cJSON_AddStringToObject(o, "subject", sl->subject) &&
		     cJSON_AddStringToObject(o, "list", sl->list) &&
		     cJSON_AddStringToObject(o, "site", sl->site) &&
		     cJSON_AddStringToObject(o, "randno", sl->randno) &&
		     cJSON_AddStringToObject(o, "kit", sl->kit) &&
		     cJSON_AddStringToObject(o, "stratum", sl->stratum) &&
		     cJSON_AddStringToObject(o, "arm_unblind", sl->arm_unblind);
		break;
	}
	if (!ok) {
		cJSON_Delete(o);
		return CB_ENOMEM;
	}
	cJSON_AddItemToArray(r->arr, o);
	return 0;
}

/* List slots of `kind` into a new array member `name` of `out`. */
static int list_into(struct srv_store *s, cJSON *out, const char *name,
		     int kind, const struct srv_device *dev, struct cb_err *err)
{
	struct rows r = {cJSON_AddArrayToObject(out, name), kind};
	int rc;

	if (!r.arr)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = srv_store_slots_each(s, kind, dev ? dev->id : NULL,
				  dev ? dev->site : NULL, slot_json, &r, err);
	if (rc == CB_ENOMEM && !err->code)
		cb_err_set(err, rc, "out of memory");
	return rc;
}

/*
 * While leases are paused: each slot of `held` (randomization numbers
 * separated by commas, at most SRV_SLOTS_LEASE_MAX of them) that no
 * device holds in the store and no subject used becomes `dev`'s, leased
 * at `now`; *took counts them. Inside the caller's transaction.
 */
static int take_held(struct srv_store *s, const struct srv_device *dev,
		     const char *held, const char *now, long *took,
		     struct cb_err *err)
{
	const char *p = held;
	long seen = 0;
	int rc = 0;

	*took = 0;
	while (p && *p && !rc && seen < SRV_SLOTS_LEASE_MAX) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char randno[CB_EVENT_VALUE_KEY_MAX];
		int one = 0;

		if (n && n < sizeof(randno)) {
			memcpy(randno, p, n);
			randno[n] = '\0';
			rc = srv_store_slot_hold(s, randno, dev->id, dev->site,
						 now, &one, err);
			*took += one;
		}
		seen++;
		p = end ? end + 1 : NULL;
	}
	return rc;
}

int srv_slots_lease(struct srv_store *s, const struct srv_device *dev,
		    unsigned per_stratum, const char *held, cJSON **reply,
		    struct cb_err *err)
{
	char now[CB_CLOCK_UTC_BUF];
	cJSON *out = NULL;
	int rc;

	*reply = NULL;
	if (!per_stratum || per_stratum > SRV_SLOTS_LEASE_MAX)
		per_stratum = SRV_SLOTS_LEASE;
	if (!dev->site[0] || !cb_role_is_site(dev->role))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "only site devices (coordinator, "
				  "investigator) hold randomization slots");
	cb_clock_format_utc(cb_clock_now_ms(), now);
	rc = srv_store_begin(s, err);
	if (!rc) {
		char why[400];
		long took = 0;

		rc = srv_store_leases_paused(s, why, sizeof(why), err);
		if (rc == 1) {
			/* What the device says it holds is the part of the
			 * lost store's leases only it can tell. */
			rc = take_held(s, dev, held, now, &took, err);
			if (!rc)
				rc = srv_store_commit(s, err);
			else
				srv_store_rollback(s);
			if (rc)
				return rc;
			return cb_err_set(err, CB_ECONFLICT,
					  "new randomization slots are paused "
					  "(%s); this device keeps the slots "
					  "it holds (%ld more recorded as its "
					  "now)",
					  why, took);
		}
	}
	if (!rc)
		rc = srv_store_slots_lease(s, dev->id, dev->site,
					   (long)per_stratum, now, err);
	if (!rc) {
		out = cJSON_CreateObject();
		if (!out || !cJSON_AddStringToObject(out, "site", dev->site) ||
		    !cJSON_AddNumberToObject(out, "per_stratum", per_stratum))
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = list_into(s, out, "lease", 0, dev, err);
	if (!rc)
		rc = list_into(s, out, "assigned", 1, dev, err);
	if (!rc)
		rc = list_into(s, out, "codebreak", 2, dev, err);
	if (!rc)
		rc = srv_store_commit(s, err);
	else
		srv_store_rollback(s);
	if (rc) {
		cJSON_Delete(out);
		return rc;
	}
	*reply = out;
	return 0;
}

int srv_slots_arms(struct srv_store *s, cJSON **reply, struct cb_err *err)
{
	cJSON *out = cJSON_CreateObject();
	int rc;

	*reply = NULL;
	if (!out)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = list_into(s, out, "arms", 3, NULL, err);
	if (rc) {
		cJSON_Delete(out);
		return rc;
	}
	*reply = out;
	return 0;
}

/* ---- the randomize event ----------------------------------------------- */

/* The value the event writes to `item` of the randomization form. */
static const char *change_value(const struct cb_event *ev,
				const struct cb_protocol_item *item)
{
	size_t i;

	for (i = 0; item && i < ev->nchanges; i++)
		if (!strcmp(ev->changes[i].item, item->code))
			return ev->changes[i].value;
	return NULL;
}

/* The subject is eligible on the server's record. */
static int check_eligible(const struct cb_protocol *p, struct cb_merge *m,
			  const char *subject, struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, m, subject);
	struct cb_check_elig el;
	int rc;

	cb_check_elig_init(&el);
	rc = cb_check_eligibility(p, &src, &el, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	} else if (!rc && el.status != CB_ELIG_YES) {
		rc = cb_err_set(err, CB_ECHECK,
				"subject %s is %s (%zu rule(s) failed, %zu "
				"item(s) missing)",
				subject, cb_elig_status_name(el.status),
				el.nfailed, el.missing.count);
	}
	cb_check_elig_release(&el);
	return rc;
}

int srv_slots_check(struct srv_store *s, const struct cb_protocol *p,
		    struct cb_merge *m, const struct srv_device *dev,
		    const struct cb_event *ev, const char **code,
		    struct cb_err *err)
{
	const char *slot = cb_event_data(ev, SRV_SLOTS_DATA_SLOT);
	const char *randno = change_value(ev, p->rand_number);
	const char *kit = change_value(ev, p->rand_kit);
	struct srv_slot_info sl;
	char cell[256], used[CB_EVENT_VALUE_KEY_MAX];
	int rc, again, adopt = 0;

	*code = "slot";
	if (!p->rand_form)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "the protocol has no randomization");
	if (!slot)
		return cb_err_set(err, CB_EINVAL,
				  "$.data.slot: a randomize event names the "
				  "slot it used");
	rc = srv_store_slot_get(s, slot, &sl, err);
	if (rc == CB_ENOTFOUND)
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.data.slot: no slot %.40s in the imported "
				  "randomization list",
				  slot);
	if (rc)
		return rc;
	/* While leases are paused (a restore into an empty data
	 * directory), a slot of the device's site that the restored store
	 * shows leased to no one was leased after the backup, by the lost
	 * store, to the one device that now uses it: it becomes that
	 * device's (srv_slots_mark), and no other device gets it meanwhile. */
	if (!strcmp(sl.site, ev->site) && !sl.device[0] && !sl.subject[0]) {
		rc = srv_store_leases_paused(s, NULL, 0, err);
		if (rc < 0)
			return rc;
		adopt = rc == 1;
	}
	if (strcmp(sl.site, ev->site) || (strcmp(sl.device, dev->id) && !adopt))
		return cb_err_set(err, CB_EFORBIDDEN,
				  "$.data.slot: slot %.40s is not leased to "
				  "this device",
				  slot);
	/* The same event sent again after a restore that carried its use
	 * from the replaced store (its event is not stored yet). */
	again = sl.subject[0] && !strcmp(sl.event, ev->id) &&
		!strcmp(sl.subject, ev->subject);
	if (sl.subject[0] && !again)
		return cb_err_set(err, CB_ECONFLICT,
				  "$.data.slot: slot %.40s is already used by "
				  "subject %.40s",
				  slot, sl.subject);
	if (!randno || strcmp(randno, slot) || !kit || strcmp(kit, sl.kit))
		return cb_err_set(err, CB_EINVAL,
				  "$.changes: a randomize event writes its "
				  "slot's randomization and kit numbers");
	*code = "check";
	if (cb_record_stratum(p, m, ev->subject, cell, sizeof(cell), err))
		return err->code == CB_ENOMEM ? CB_ENOMEM : CB_ECHECK;
	if (strcmp(cell, sl.stratum))
		return cb_err_set(err, CB_ECHECK,
				  "$.data.slot: slot %.40s is of stratum "
				  "%.40s, the subject's is %s",
				  slot, sl.stratum, cell);
	rc = srv_store_slot_of_subject(s, ev->subject, used, sizeof(used), err);
	if (!rc && again && !strcmp(used, slot))
		rc = CB_ENOTFOUND;
	if (!rc) {
		*code = "slot";
		return cb_err_set(err, CB_ECONFLICT,
				  "subject %.40s is already randomized "
				  "(%.40s)",
				  ev->subject, used);
	}
	if (rc != CB_ENOTFOUND)
		return rc;
	cb_err_clear(err);
	return check_eligible(p, m, ev->subject, err);
}

int srv_slots_mark(struct srv_store *s, const struct cb_event *ev,
		   struct cb_err *err)
{
	return srv_store_slot_mark(s, cb_event_data(ev, SRV_SLOTS_DATA_SLOT),
				   ev->subject, ev->id, ev->device,
				   ev->received_at, err);
}

int srv_slots_clear_used(struct srv_store *s, struct cb_err *err)
{
	return srv_store_slots_clear_used(s, err);
}

/* ---- report ------------------------------------------------------------ */

static int report_site(const char *site, long slots, long leased, long used,
		       void *ctx)
{
	fprintf(ctx,
		"randomization    site %s: %ld slots, %ld leased, %ld used\n",
		site, slots, leased, used);
	return 0;
}

struct breaks {
	FILE *out;
	long n;
};

static int report_break(const struct cb_summary *sum, void *ctx)
{
	struct breaks *b = ctx;

	if (!sum->nunblind)
		return 0;
	if (!b->n)
		fprintf(b->out, "code-breaks:\n");
	fprintf(b->out, "  UNBLINDED %s site %s by %s at %s: %s\n",
		sum->subject, sum->unblind.site, sum->unblind.user,
		sum->unblind.when, sum->unblind.reason);
	b->n += (long)sum->nunblind;
	return 0;
}

int srv_slots_report(struct srv_store *s, FILE *out, struct cb_err *err)
{
	struct breaks b = {out, 0};
	long lists = 0;
	int rc;

	rc = srv_store_slots_counts(s, &lists, report_site, out, err);
	if (rc)
		return rc;
	if (!lists)
		fprintf(out, "randomization    no list imported\n");
	rc = srv_store_summary_each(s, NULL, report_break, &b, err);
	if (!rc)
		fprintf(out, "code-breaks      %ld\n", b.n);
	return rc;
}
