/*
 * cmd_unblind.c - `casebook unblind SUBJECT --reason TEXT`: the emergency
 * code-break of one subject (DESIGN.md section 5).
 *
 * Only an investigator may break the blind, one subject per call, with a
 * reason, and with the site's code-break passphrase from the sealed sheet
 * the statistician made. The passphrase unwraps the site's code-break key
 * (delivered with the lease, sites[].codebreak_key of the list), which
 * opens the subject's slot's arm sealed to it. The command records an
 * unblind event (who, when, why) in the same transaction that shows the
 * arm, so no arm is ever shown without its record; the event syncs and
 * the server flags the subject.
 */
#include "canon.h"
#include "cli.h"
#include "entry.h"
#include "json.h"
#include "lease.h"
#include "pass.h"
#include "randlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Longest --reason accepted, in bytes. */
#define UNBLIND_REASON_MAX 1000

/* Where a script's code-break passphrase may come from. */
#define UNBLIND_PASS_ENV "CASEBOOK_CODEBREAK_PASSPHRASE"

const char cmd_unblind_help[] =
    "usage: casebook unblind SUBJECT --reason TEXT [--codebreak-file FILE]\n"
    "                        [--yes]\n"
    "\n"
    "Emergency code-break: show the treatment arm of one randomized\n"
    "subject (investigators only). Asks for the site's code-break\n"
    "passphrase, printed on the sealed code-break sheet (letters in any\n"
    "case, dashes optional); --codebreak-file FILE reads it from the\n"
    "first line of FILE, else $" UNBLIND_PASS_ENV " is used when set.\n"
    "\n"
    "Every code-break is recorded as an unblind event (who, when, and\n"
    "the reason) that syncs to the server, which flags the subject in\n"
    "every report. The laptop needs its lease of the subject's slot,\n"
    "which every sync brings: sync first if the subject was randomized\n"
    "on another laptop.\n"
    "\n"
    "A subject whose code was already broken (on this laptop, or on\n"
    "another one and synced here) is named with who broke it and when,\n"
    "and the command asks before breaking it again; --yes answers yes\n"
    "(for scripts). Without a terminal and without --yes it refuses\n"
    "(exit 2) and records nothing.\n"
    "\n"
    "Exit codes: 0 shown and recorded; 1 failure (unknown or not\n"
    "randomized subject, slot unknown here: sync; a second code-break\n"
    "not confirmed); 2 usage, or a second code-break with neither a\n"
    "terminal nor --yes; 4 not an\n"
    "investigator, or a wrong code-break passphrase (nothing recorded).\n";

/* What opening one arm needs, from the lease setting. */
struct unblind_slot {
	char *list_id;
	unsigned char pub[CB_BOX_PUBLIC_BYTES];
	char *key_text; /* cb_key_wrap text */
	unsigned char *sealed;
	size_t sealed_len;
};

static void unblind_slot_release(struct unblind_slot *u)
{
	free(u->list_id);
	free(u->key_text);
	free(u->sealed);
	memset(u, 0, sizeof(*u));
}

/* Hex text to a malloc'd buffer (+ NUL when `text`). */
static int hex_alloc(const char *hex, int text, unsigned char **out,
		     size_t *len, struct cb_err *err)
{
	size_t n = strlen(hex) / 2;
	unsigned char *b = malloc(n + 1);
	int rc;

	if (!b)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_hex_decode(hex, strlen(hex), b, n, NULL, err);
	if (rc) {
		free(b);
		return rc;
	}
	if (text)
		b[n] = '\0';
	*out = b;
	*len = n;
	return 0;
}

static int find_slot(struct store *st, const char *randno,
		     struct unblind_slot *u, struct cb_err *err)
{
	const cJSON *slot, *k;
	const char *arm, *list, *pub = NULL, *key = NULL;
	cJSON *lease = NULL;
	size_t n;
	int rc;

	memset(u, 0, sizeof(*u));
	rc = lease_meta_load(st, LEASE_META, 0, &lease, err);
	if (rc)
		return rc;
	slot = cb_json_obj(cb_json_obj(lease, "slots"), randno);
	arm = slot ? cb_json_str(slot, "arm_site") : NULL;
	list = slot ? cb_json_str(slot, "list") : NULL;
	cJSON_ArrayForEach(k, cb_json_arr(lease, "codebreak"))
	{
		if (list && cb_json_str(k, "list") &&
		    !strcmp(cb_json_str(k, "list"), list)) {
			pub = cb_json_str(k, "public_key");
			key = cb_json_str(k, "key");
		}
	}
	if (!arm || !list || !pub || !key) {
		rc = cb_err_set(err, CB_ENOTFOUND,
				"this laptop does not hold slot %s or its "
				"site's code-break key: sync with the server "
				"(casebook sync) and try again",
				randno);
		goto out;
	}
	u->list_id = strdup(list);
	if (!u->list_id) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	rc = cb_hex_decode(pub, strlen(pub), u->pub, sizeof(u->pub), NULL, err);
	if (!rc)
		rc = hex_alloc(key, 1, (unsigned char **)&u->key_text, &n, err);
	if (!rc)
		rc = hex_alloc(arm, 0, &u->sealed, &u->sealed_len, err);
	if (rc)
		cb_err_prefix(err, "the lease setting is damaged: ");
out:
	if (rc)
		unblind_slot_release(u);
	cJSON_Delete(lease);
	return rc;
}

/* Open the arm of `randno` with the passphrase: *arm malloc'd. */
static int open_arm(const char *site, const char *randno,
		    struct unblind_slot *u, const char *pass, size_t len,
		    char **arm, struct cb_err *err)
{
	struct cb_randlist_site rsite;
	struct cb_randlist_slot rslot;
	struct cb_randlist list;
	struct cb_box_keypair kp;
	int rc;

	memset(&list, 0, sizeof(list));
	memset(&rsite, 0, sizeof(rsite));
	memset(&rslot, 0, sizeof(rslot));
	rsite.code = (char *)site;
	memcpy(rsite.codebreak_pub, u->pub, sizeof(u->pub));
	rsite.codebreak_key = u->key_text;
	list.list_id = u->list_id;
	list.nsites = 1;
	list.sites = &rsite;
	rslot.site = (char *)site;
	rslot.randno = (char *)randno;
	rslot.seal_site = u->sealed;
	rslot.seal_site_len = u->sealed_len;
	rc = cb_randlist_codebreak_unlock(&list, site, pass, len, &kp, err);
	if (rc)
		return rc;
	rc = cb_randlist_open_arm(&list, &rslot, CB_RANDLIST_SEAL_SITE, &kp,
				  arm, err);
	cb_box_keypair_release(&kp);
	return rc;
}

static int record_unblind(struct entry *e, const char *subject,
			  const char *reason, const char *randno,
			  struct cb_err *err)
{
	struct cb_event ev;
	int rc;

	rc = entry_new_event(e, &ev, CB_KIND_UNBLIND, subject, "", "", "", err);
	if (rc)
		return rc;
	rc = cb_event_set_reason(&ev, reason, err);
	if (!rc)
		rc = cb_event_set_data(&ev, LEASE_DATA_SLOT, randno, err);
	if (!rc)
		rc = entry_commit_event(e, &ev, err);
	cb_event_release(&ev);
	return rc;
}

/* The subject's latest code-break so far, and how many there were. */
struct earlier {
	const struct cb_event *last;
	size_t n;
};

static int earlier_one(const struct cb_event *ev, void *ctx)
{
	struct earlier *b = ctx;

	if (!strcmp(ev->kind, CB_KIND_UNBLIND)) {
		b->last = ev; /* clock order: the last one seen is the latest */
		b->n++;
	}
	return 0;
}

/*
 * A subject already unblinded is named with who broke the code and when,
 * and breaking it again must be confirmed: by `yes`, or on the terminal.
 * 0 to go on; EXIT_USAGE or EXIT_FAIL (after saying why) to stop.
 */
static int confirm_again(struct entry *e, const char *subject, int yes)
{
	struct earlier b = {NULL, 0};
	struct cb_merge *m;
	struct cb_err err;
	char line[32];

	cb_err_clear(&err);
	if (entry_merge(e, subject, &m, &err))
		return cli_fail(&err);
	cb_merge_each_event(m, subject, earlier_one, &b);
	if (!b.n)
		return 0;
	fprintf(stderr,
		"%s was already unblinded: by %s (site %s) at %s, reason: %s"
		"%s\n",
		subject, b.last->user, b.last->site, b.last->wall,
		b.last->reason ? cli_safe(b.last->reason) : "-",
		b.n > 1 ? " (the latest of several code-breaks)" : "");
	if (yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		cli_error(
		    "%s is already unblinded; nothing recorded. Run again "
		    "with --yes to record another code-break",
		    subject);
		return EXIT_USAGE;
	}
	fprintf(stderr, "Break the code of %s again? [y/N]: ", subject);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strcasecmp(line, "y") && strcasecmp(line, "yes")) {
		cli_error("not confirmed: nothing recorded");
		return EXIT_FAIL;
	}
	return 0;
}

int cmd_unblind(int argc, char **argv, struct cli_global *g)
{
	const char *subject = NULL, *reason = NULL, *file = NULL;
	const char *have;
	struct unblind_slot u;
	char randno[200], *pass = NULL, *arm = NULL;
	const struct cb_protocol_arm *a;
	struct entry e;
	struct cb_err err;
	size_t plen = 0;
	int i, rc, have_slot = 0, in_tx = 0, yes = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reason") && i + 1 < argc) {
			reason = argv[++i];
		} else if (!strcmp(argv[i], "--yes")) {
			yes = 1;
		} else if (!strcmp(argv[i], "--codebreak-file") &&
			   i + 1 < argc) {
			file = argv[++i];
		} else if (argv[i][0] != '-' && !subject) {
			subject = argv[i];
		} else {
			return cli_usage("unblind", "unexpected argument '%s'",
					 argv[i]);
		}
	}
	if (!subject)
		return cli_usage("unblind", "usage: casebook unblind SUBJECT "
					    "--reason TEXT");
	if (!reason || !reason[0] || strlen(reason) > UNBLIND_REASON_MAX ||
	    !cb_utf8_valid(reason, strlen(reason)))
		return cli_usage("unblind",
				 "--reason TEXT is required (valid UTF-8, at "
				 "most %d bytes): why the blind is broken",
				 UNBLIND_REASON_MAX);
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	if (strcmp(store_role(e.st), CB_ROLE_INVESTIGATOR)) {
		rc = cb_err_set(&err, CB_EFORBIDDEN,
				"only an investigator may break the blind; "
				"%s is a %s",
				store_user(e.st), store_role(e.st));
		goto out;
	}
	rc = entry_subject_known(&e, subject, &err);
	if (rc)
		goto out;
	have = entry_rand_value(&e, subject, e.proto->rand_number);
	if (!have) {
		rc = cb_err_set(&err, CB_EINVAL,
				"%s is not randomized: there is no arm to "
				"show",
				subject);
		goto out;
	}
	snprintf(randno, sizeof(randno), "%s", have);
	rc = confirm_again(&e, subject, yes);
	if (rc) {
		entry_close(&e);
		return rc;
	}
	rc = find_slot(e.st, randno, &u, &err);
	if (rc)
		goto out;
	have_slot = 1;
	rc = pass_get_from(file, UNBLIND_PASS_ENV,
			   "Code-break passphrase (from the sealed sheet): ",
			   &pass, &plen, &err);
	if (!rc)
		rc = open_arm(store_site(e.st), randno, &u, pass, plen, &arm,
			      &err);
	pass_free(pass);
	if (rc)
		goto out;
	rc = entry_begin(&e, &err);
	if (!rc) {
		in_tx = 1;
		rc = record_unblind(&e, subject, reason, randno, &err);
	}
	if (!rc) {
		rc = entry_commit(&e, &err);
		in_tx = 0;
	}
	if (rc)
		goto out;
	a = cb_protocol_find_arm(e.proto, arm);
	printf("EMERGENCY CODE-BREAK recorded for %s (randomization number "
	       "%s)\n"
	       "  arm: %s%s%s%s\n"
	       "  by %s, reason: %s\n",
	       subject, randno, arm, a ? " (" : "", a ? a->label : "",
	       a ? ")" : "", store_user(e.st), reason);
out:
	if (in_tx)
		entry_rollback(&e);
	if (have_slot)
		unblind_slot_release(&u);
	if (arm)
		cb_wipe_free(arm, strlen(arm) + 1);
	entry_close(&e);
	if (rc)
		return cli_fail(&err);
	return EXIT_OK;
}
