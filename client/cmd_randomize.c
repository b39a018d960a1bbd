/*
 * cmd_randomize.c - `casebook randomize SUBJECT`, and the device's lease
 * of randomization slots that it draws from (docs/randomization.md).
 *
 * At every sync the server tops up this device's lease of unassigned
 * slots per stratum cell (GET /v1/slots); randomize_fetch_slots keeps the
 * answer, encrypted like every setting, in RAND_META_LEASE. Randomizing
 * works offline: the subject must be eligible (cb_check_eligibility), the
 * stratum comes from the subject's data (cb_record_stratum), and the next
 * leased slot of that stratum not used on this device (RAND_META_USED)
 * is taken. The randomize event writes the protocol's randomization form
 * (number, kit, date and time) and names the slot in data.slot; the
 * server accepts it only for a slot leased to this device.
 *
 * Nothing here knows an arm: the lease holds each slot's arm sealed to
 * the site's code-break key, which only `casebook unblind` opens.
 */
#include "cli.h"
#include "clock.h"
#include "entry.h"
#include "json.h"
#include "net.h"
#include "record.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_randomize_help[] =
    "usage: casebook randomize SUBJECT\n"
    "\n"
    "Randomize an eligible subject with the next randomization slot this\n"
    "laptop holds for the subject's stratum. Works offline: the server\n"
    "leases each site laptop a few slots per stratum at every sync\n"
    "(`casebook sync`), so two laptops never assign the same slot.\n"
    "\n"
    "The subject's eligibility form must be complete and every\n"
    "eligibility criterion met; the stratum is read from the subject's\n"
    "data. Prints the randomization number and the kit number to give;\n"
    "the treatment arm is never shown (see `casebook unblind`). The\n"
    "randomization passes the protocol's edit checks like any save: a\n"
    "soft one (randomized on another day than the baseline visit date,\n"
    "in the shipped study) warns and opens a query.\n"
    "\n"
    "Exit codes: 0 randomized; 1 failure (unknown subject, already\n"
    "randomized, no slot left: sync to get more); 2 usage; 3 not\n"
    "eligible or eligibility incomplete (the failing criteria and missing\n"
    "items are named); 4 not a site role.\n";

/* ---- the lease ---------------------------------------------------------- */

/* A JSON setting, or a new empty object/array when unset. */
static int meta_json(struct store *st, const char *key, int array, cJSON **out,
		     struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = store_meta_get(st, key, &text, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		*out = array ? cJSON_CreateArray() : cJSON_CreateObject();
		return *out ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	*out = cb_json_parse(text, len, STORE_META_MAX, key, err);
	free(text);
	if (!*out)
		return err->code ? err->code : CB_EINVAL;
	if (array ? !cJSON_IsArray(*out) : !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cb_err_set(err, CB_EINVAL, "setting %s is damaged", key);
	}
	return 0;
}

static int meta_json_set(struct store *st, const char *key, const cJSON *v,
			 struct cb_err *err)
{
	char *text = cJSON_PrintUnformatted(v);
	int rc;

	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_meta_set(st, key, text, strlen(text), err);
	free(text);
	return rc;
}

int randomize_meta_load(struct store *st, const char *key, int array,
			cJSON **out, struct cb_err *err)
{
	return meta_json(st, key, array, out, err);
}

/* Remember slot `o` (list, kit, arm_site) under its randno in `slots`. */
static int remember_slot(cJSON *slots, const cJSON *o)
{
	const char *randno = cb_json_str(o, "randno");
	const char *list = cb_json_str(o, "list");
	const char *kit = cb_json_str(o, "kit");
	const char *arm = cb_json_str(o, "arm_site");
	cJSON *e;

	if (!randno || !list || !kit || !arm)
		return CB_EINVAL;
	e = cJSON_CreateObject();
	if (!e)
		return CB_ENOMEM;
	cJSON_AddStringToObject(e, "list", list);
	cJSON_AddStringToObject(e, "kit", kit);
	cJSON_AddStringToObject(e, "arm_site", arm);
	cJSON_DeleteItemFromObjectCaseSensitive(slots, randno);
	cJSON_AddItemToObject(slots, randno, e);
	return 0;
}

/*
 * Add to the array `into` every entry of `from` whose `key` member no
 * entry of `into` has. 0 or CB_ENOMEM.
 */
static int union_by(cJSON *into, const cJSON *from, const char *key)
{
	const cJSON *o, *have;

	cJSON_ArrayForEach(o, from)
	{
		const char *k = cb_json_str(o, key);
		cJSON *copy;

		if (!k)
			continue;
		cJSON_ArrayForEach(have, into)
		{
			const char *h = cb_json_str(have, key);

			if (h && !strcmp(h, k))
				break;
		}
		if (have)
			continue;
		copy = cJSON_Duplicate(o, 1);
		if (!copy || !cJSON_AddItemToArray(into, copy)) {
			cJSON_Delete(copy);
			return CB_ENOMEM;
		}
	}
	return 0;
}

/*
 * Keep the server's slots answer: see the top of this file. A leased slot
 * is the device's for good and a list's code-break key never changes, so
 * what an answer lists is added to what the store holds, never replacing
 * it: an older bundle reply imported after a newer one (or after a sync)
 * takes away no slot and no key.
 */
int randomize_lease_save(struct store *st, const cJSON *reply,
			 struct cb_err *err)
{
	const cJSON *lease = cb_json_arr(reply, "lease");
	const cJSON *assigned = cb_json_arr(reply, "assigned");
	const cJSON *keys = cb_json_arr(reply, "codebreak");
	const cJSON *o;
	cJSON *old = NULL, *out = NULL, *slots;
	int rc;

	if (!lease || !assigned || !keys || !cb_json_str(reply, "site"))
		return cb_err_set(err, CB_EINVAL,
				  "the server's slots answer is not the "
				  "documented one");
	rc = meta_json(st, RAND_META_LEASE, 0, &old, err);
	if (rc)
		return rc;
	/* No list on the server and none here: keep the store as it is. */
	if (!cJSON_GetArraySize(lease) && !cJSON_GetArraySize(assigned) &&
	    !cJSON_GetArraySize(keys) && !cJSON_GetArraySize(old)) {
		cJSON_Delete(old);
		return 0;
	}
	out = cJSON_Duplicate(reply, 1);
	slots = cJSON_DetachItemFromObjectCaseSensitive(old, "slots");
	if (!slots)
		slots = cJSON_CreateObject();
	if (!out || !slots ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "lease"),
		     cb_json_arr(old, "lease"), "randno") ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "assigned"),
		     cb_json_arr(old, "assigned"), "randno") ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "codebreak"),
		     cb_json_arr(old, "codebreak"), "list")) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(o, lease)
	{
		if (!rc)
			rc = remember_slot(slots, o);
	}
	cJSON_ArrayForEach(o, assigned)
	{
		if (!rc)
			rc = remember_slot(slots, o);
	}
	if (rc) {
		rc = cb_err_set(err, rc,
				"the server's slots answer is not the "
				"documented one");
		goto out;
	}
	cJSON_AddItemToObject(out, "slots", slots);
	slots = NULL;
	rc = meta_json_set(st, RAND_META_LEASE, out, err);
out:
	cJSON_Delete(slots);
	cJSON_Delete(old);
	cJSON_Delete(out);
	return rc;
}

int randomize_fetch_slots(struct store *st, struct net *n,
			  const struct sync_opts *o, struct cb_err *err)
{
	struct net_reply r;
	cJSON *reply;
	int rc;

	if (!cb_role_is_site(store_role(st)))
		return 0; /* a central role's device holds no slots */
	rc = sync_request(n, o, "GET", "/v1/slots", "", NULL, 0, st, &r, err);
	if (rc)
		return rc;
	if (r.status == 404 || r.status == 403) {
		/* a server without randomization, or a role without slots */
		net_reply_free(&r);
		return 0;
	}
	if (r.status != 200) {
		char msg[300];

		net_error_message(&r, msg, sizeof(msg));
		net_reply_free(&r);
		return cb_err_set(err, CB_EINVAL, "slots: %s", msg);
	}
	reply =
	    cb_json_parse(r.body, r.len, NET_REPLY_MAX, "slots answer", err);
	net_reply_free(&r);
	if (!reply)
		return err->code ? err->code : CB_EINVAL;
	rc = store_begin(st, err);
	if (!rc)
		rc = randomize_lease_save(st, reply, err);
	if (!rc)
		rc = store_commit(st, err);
	else
		store_rollback(st);
	cJSON_Delete(reply);
	return rc;
}

/* ---- randomize ---------------------------------------------------------- */

/* The subject's value of an item of the randomization form, or NULL. */
const char *randomize_rand_value(struct entry *e, const char *subject,
				 const struct cb_protocol_item *item)
{
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, e->merge, subject);
	const char *value = NULL;
	struct cb_err err;

	if (!item || !e->proto->rand_form ||
	    src.get(src.ctx, e->proto->rand_visit->code,
		    e->proto->rand_form->code, 0, item->code, &value, &err))
		return NULL;
	return value;
}

/* Print why the subject is not eligible; returns CB_ECHECK. */
static int not_eligible(const char *subject, const struct cb_check_elig *el,
			struct cb_err *err)
{
	size_t i;

	fprintf(stderr, "casebook: %s is %s:\n", subject,
		cb_elig_status_name(el->status));
	for (i = 0; i < el->nfailed; i++)
		fprintf(stderr, "  criterion %s not met: %s\n",
			el->failed[i]->id, el->failed[i]->label);
	for (i = 0; i < el->nundecided; i++)
		fprintf(stderr, "  criterion %s undecided: %s\n",
			el->undecided[i]->id, el->undecided[i]->label);
	for (i = 0; i < el->missing.count; i++)
		fprintf(stderr, "  missing item %s %s\n",
			el->missing.list[i].visit->code,
			el->missing.list[i].item->code);
	return cb_err_set(err, CB_ECHECK,
			  "%s cannot be randomized: eligibility %s", subject,
			  cb_elig_status_name(el->status));
}

static int check_eligible(struct entry *e, const char *subject,
			  struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src = cb_record_source(&rs, e->merge, subject);
	struct cb_check_elig el;
	int rc;

	cb_check_elig_init(&el);
	rc = cb_check_eligibility(e->proto, &src, &el, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	} else if (!rc && el.status != CB_ELIG_YES) {
		rc = not_eligible(subject, &el, err);
	}
	cb_check_elig_release(&el);
	return rc;
}

/* 1 when `randno` is in the array of used slots. */
static int slot_used(const cJSON *used, const char *randno)
{
	const cJSON *u;

	cJSON_ArrayForEach(u, used)
	{
		if (cJSON_IsString(u) && !strcmp(u->valuestring, randno))
			return 1;
	}
	return 0;
}

/* The first leased slot of `cell` (lowest seq) not used: NULL if none. */
static const cJSON *next_slot(const cJSON *lease, const cJSON *used,
			      const char *cell)
{
	const cJSON *o, *best = NULL;
	long long seq, best_seq = 0;

	cJSON_ArrayForEach(o, cb_json_arr(lease, "lease"))
	{
		const char *st = cb_json_str(o, "stratum");
		const char *randno = cb_json_str(o, "randno");
		const char *s = cb_json_str(o, "seq");

		if (!st || !randno || !s || !cb_json_str(o, "kit") ||
		    strcmp(st, cell) || slot_used(used, randno))
			continue;
		seq = strtoll(s, NULL, 10);
		if (!best || seq < best_seq) {
			best = o;
			best_seq = seq;
		}
	}
	return best;
}

/* Site-local date and time, as datetime items hold it. */
static void local_datetime(char out[32])
{
	time_t t = (time_t)(cb_clock_now_ms() / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* Build, check and commit the randomize event, inside a transaction. */
static int randomize_commit(struct entry *e, const char *subject,
			    const cJSON *slot, cJSON *used,
			    struct cb_check_results *res, struct cb_err *err)
{
	const struct cb_protocol *p = e->proto;
	const char *randno = cb_json_str(slot, "randno");
	const char *kit = cb_json_str(slot, "kit");
	char when[32];
	struct cb_event ev;
	size_t nqueries = 0;
	int rc;

	local_datetime(when);
	rc = entry_new_event(e, &ev, CB_KIND_RANDOMIZE, subject,
			     p->rand_visit->code, p->rand_form->code, "", err);
	if (rc)
		return rc;
	rc = cb_event_add_change(&ev, p->rand_number->code, randno, NULL, 0,
				 err);
	if (!rc)
		rc = cb_event_add_change(&ev, p->rand_kit->code, kit, NULL, 0,
					 err);
	if (!rc && p->rand_datetime)
		rc = cb_event_add_change(&ev, p->rand_datetime->code, when,
					 NULL, 0, err);
	if (!rc)
		rc = cb_event_set_data(&ev, RAND_DATA_SLOT, randno, err);
	if (!rc)
		rc = cb_record_check_save(p, e->merge, store_role(e->st), &ev,
					  res, err);
	if (!rc) {
		cJSON *s = cJSON_CreateString(randno);

		if (s)
			cJSON_AddItemToArray(used, s);
		rc = s ? meta_json_set(e->st, RAND_META_USED, used, err)
		       : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (!rc)
		rc = entry_commit_event(e, &ev, err);
	/* A soft check (randomized outside the baseline window, say) opens
	 * its query as a save does. */
	if (!rc)
		rc = entry_open_soft_queries(e, subject, res, &nqueries, err);
	cb_event_release(&ev);
	return rc;
}

int cmd_randomize(int argc, char **argv, struct cli_global *g)
{
	const char *subject = NULL;
	struct cb_check_results res;
	cJSON *lease = NULL, *used = NULL;
	const cJSON *slot;
	char cell[256], randno[200] = "", kit[64] = "";
	struct entry e;
	struct cb_err err;
	int i, rc, in_tx = 0;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-' || subject)
			return cli_usage("randomize",
					 "unexpected argument '%s'", argv[i]);
		subject = argv[i];
	}
	if (!subject)
		return cli_usage("randomize", "usage: casebook randomize "
					      "SUBJECT");
	cb_check_results_init(&res);
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	if (!cb_role_is_site(store_role(e.st))) {
		rc = cb_err_set(&err, CB_EFORBIDDEN,
				"only site staff randomize; %s is a %s",
				store_user(e.st), store_role(e.st));
		goto out;
	}
	if (!e.proto->rand_form || !e.proto->rand_number ||
	    !e.proto->rand_kit) {
		rc = cb_err_set(&err, CB_EINVAL,
				"the protocol has no randomization");
		goto out;
	}
	rc = entry_subject_known(&e, subject, &err);
	if (!rc)
		rc = store_begin(e.st, &err);
	if (rc)
		goto out;
	in_tx = 1;
	rc = entry_refresh(&e, &err);
	if (rc)
		goto out;
	{
		const char *have =
		    randomize_rand_value(&e, subject, e.proto->rand_number);

		if (have) {
			rc = cb_err_set(&err, CB_ECONFLICT,
					"%s is already randomized "
					"(randomization number %s)",
					subject, have);
			goto out;
		}
	}
	rc = check_eligible(&e, subject, &err);
	if (!rc)
		rc = cb_record_stratum(e.proto, e.merge, subject, cell,
				       sizeof(cell), &err);
	if (rc == CB_ENOTFOUND || rc == CB_EINVAL)
		rc = err.code = CB_ECHECK;
	if (!rc)
		rc = meta_json(e.st, RAND_META_LEASE, 0, &lease, &err);
	if (!rc)
		rc = meta_json(e.st, RAND_META_USED, 1, &used, &err);
	if (rc)
		goto out;
	slot = next_slot(lease, used, cell);
	if (!slot) {
		rc = cb_err_set(&err, CB_ENOTFOUND,
				"no randomization slot left on this laptop for "
				"stratum %s: sync with the server (casebook "
				"sync) to get more, then randomize again",
				cell);
		goto out;
	}
	snprintf(randno, sizeof(randno), "%s", cb_json_str(slot, "randno"));
	snprintf(kit, sizeof(kit), "%s", cb_json_str(slot, "kit"));
	rc = randomize_commit(&e, subject, slot, used, &res, &err);
	if (!rc) {
		rc = store_commit(e.st, &err);
		in_tx = 0;
	}
	if (!rc) {
		size_t k;

		printf("%s randomized (stratum %s)\n"
		       "  randomization number: %s\n"
		       "  kit number:           %s\n",
		       subject, cell, randno, kit);
		for (k = 0; k < res.count; k++)
			if (res.list[k].severity == CB_SEVERITY_SOFT)
				fprintf(stderr,
					"casebook: warning: %s [%s]: %s "
					"(query opened)\n",
					res.list[k].path, res.list[k].id,
					res.list[k].message);
	}
out:
	if (in_tx && rc)
		store_rollback(e.st);
	if (rc == CB_ECHECK && res.count) {
		size_t k;

		for (k = 0; k < res.count; k++)
			if (res.list[k].severity == CB_SEVERITY_HARD)
				fprintf(stderr, "  check %s failed: %s\n",
					res.list[k].id,
					res.list[k].message
					    ? res.list[k].message
					    : "");
	}
	cb_check_results_release(&res);
	cJSON_Delete(lease);
	cJSON_Delete(used);
	entry_close(&e);
	if (rc)
		return cli_fail(&err);
	return EXIT_OK;
}
