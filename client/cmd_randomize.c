/*
 * cmd_randomize.c - `casebook randomize SUBJECT` (docs/randomization.md),
 * drawing from the device's lease of randomization slots (lease.h).
 *
 * Randomizing works offline: the subject must be eligible
 * (cb_check_eligibility), the stratum comes from the subject's data
 * (cb_record_stratum), and the next leased slot of that stratum not used
 * on this device (LEASE_META_USED) is taken. The randomize event writes the
 * protocol's randomization form (number, kit, date and time) and names the slot
 * in data.slot; the server accepts it only for a slot leased to this device.
 *
 * Nothing here knows an arm: the lease holds each slot's arm sealed to
 * the site's code-break key, which only `casebook unblind` opens.
 */
#include "cli.h"
#include "clock.h"
#include "entry.h"
#include "json.h"
#include "lease.h"
#include "record.h"

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

/* ---- randomize ---------------------------------------------------------- */

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
	struct cb_check_source src;
	struct cb_check_elig el;
	struct cb_merge *m;
	int rc;

	rc = entry_merge(e, subject, &m, err);
	if (rc)
		return rc;
	src = cb_record_source(&rs, m, subject);
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
	struct cb_merge *m;
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
		rc = cb_event_set_data(&ev, LEASE_DATA_SLOT, randno, err);
	if (!rc)
		rc = entry_merge(e, subject, &m, err);
	if (!rc)
		rc = cb_record_check_save(p, m, store_role(e->st), &ev, res,
					  err);
	if (!rc) {
		cJSON *s = cJSON_CreateString(randno);

		if (s)
			cJSON_AddItemToArray(used, s);
		rc = s ? lease_meta_save(e->st, LEASE_META_USED, used, err)
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
		rc = entry_begin(&e, &err);
	if (rc)
		goto out;
	in_tx = 1;
	{
		const char *have =
		    entry_rand_value(&e, subject, e.proto->rand_number);

		if (have) {
			rc = cb_err_set(&err, CB_ECONFLICT,
					"%s is already randomized "
					"(randomization number %s)",
					subject, have);
			goto out;
		}
	}
	rc = check_eligible(&e, subject, &err);
	if (!rc) {
		struct cb_merge *m;

		rc = entry_merge(&e, subject, &m, &err);
		if (!rc)
			rc = cb_record_stratum(e.proto, m, subject, cell,
					       sizeof(cell), &err);
	}
	if (rc == CB_ENOTFOUND || rc == CB_EINVAL)
		rc = err.code = CB_ECHECK;
	if (!rc)
		rc = lease_meta_load(e.st, LEASE_META, 0, &lease, &err);
	if (!rc)
		rc = lease_meta_load(e.st, LEASE_META_USED, 1, &used, &err);
	if (rc)
		goto out;
	slot = lease_next_slot(lease, used, cell);
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
		rc = entry_commit(&e, &err);
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
		entry_rollback(&e);
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
