/*
 * cmd_sign.c - electronic signatures: `casebook sign SUBJECT VISIT FORM`.
 *
 * 21 CFR 11.50 wants a signature to show the signer's printed name, the
 * date and time, and its meaning; 11.200 wants the signer to authenticate
 * at the moment of signing. So an investigator signs with a second entry
 * of their passphrase (even in the session that just unlocked the store),
 * and the sign event records who (the event's user), when (its UTC wall
 * time and clock), what it means (data.meaning) and what was signed
 * (data.seen: the ids of the form's current values, cb_merge_form_seen).
 * A later change to the form adds a value the signature did not see, and
 * the merge engine then shows the signature as broken (merge.h).
 */
#include "canon.h"
#include "cli.h"
#include "entry.h"
#include "pass.h"
#include "record.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a signature means unless --meaning says otherwise. */
#define SIGN_MEANING "I approve the data of this form as complete and accurate"

/* Longest --meaning accepted, in bytes. */
#define SIGN_MEANING_MAX 500

const char cmd_sign_help[] =
    "usage: casebook sign SUBJECT VISIT FORM [--meaning TEXT]\n"
    "\n"
    "Sign one form of one subject electronically (investigators only).\n"
    "FORM is a form code, or CODE#N for instance N of a repeating form\n"
    "(adverse events: VISIT LOG, FORM AE#2).\n"
    "\n"
    "The passphrase is asked for again at the moment of signing, even when\n"
    "it was just given to unlock the store (in scripts both come from\n"
    "--passphrase-file or $CASEBOOK_PASSPHRASE). The signature records, as\n"
    "21 CFR 11.50 requires, the signer's name, the date and time (UTC), and\n"
    "its meaning, by default:\n"
    "\n"
    "    \"" SIGN_MEANING "\"\n"
    "\n"
    "--meaning TEXT records another meaning (for example \"Reviewed\").\n"
    "\n"
    "Before the passphrase is asked, the signer's full name (as the\n"
    "server registered them; each sync brings the list), the form and\n"
    "the meaning are shown on stderr.\n"
    "\n"
    "An empty form and a form with conflicting values cannot be signed.\n"
    "A later change to a signed form breaks the signature: `subject show`\n"
    "then shows the form as \"signed (broken)\", changed after signing.\n"
    "Signing again makes a new signature over the current values.\n"
    "\n"
    "Exit codes: 0 signed; 1 failure (unknown subject, visit or form; an\n"
    "empty or conflicted form); 2 usage; 4 wrong passphrase or not an\n"
    "investigator (nothing is recorded).\n";

/* Refuse what may not be signed; 0 when the form may be signed. */
static int sign_check_form(struct entry *e, const char *subject,
			   const struct cb_protocol_visit *v,
			   const struct cb_protocol_form *f, unsigned instance,
			   struct cb_err *err)
{
	struct cb_record_source rs;
	struct cb_check_source src;
	enum cb_form_status status;
	struct cb_merge_form mf;
	struct cb_merge *m;
	char inst[16];
	int rc;

	rc = entry_merge(e, subject, &m, err);
	if (rc)
		return rc;
	src = cb_record_source(&rs, m, subject);
	cb_record_instance_text(instance, inst);
	rc = cb_merge_form_get(m, subject, v->code, f->code, inst, &mf, err);
	if (rc == CB_ENOTFOUND)
		return cb_err_set(err, CB_EINVAL,
				  "%s %s %s%s%s is empty; there is nothing to "
				  "sign",
				  subject, v->code, f->code, inst[0] ? "#" : "",
				  inst);
	if (rc)
		return rc;
	if (mf.nconflicts)
		return cb_err_set(err, CB_ECONFLICT,
				  "%s %s %s%s%s has %zu conflicting item%s; "
				  "resolve %s before signing",
				  subject, v->code, f->code, inst[0] ? "#" : "",
				  inst, mf.nconflicts,
				  mf.nconflicts == 1 ? "" : "s",
				  mf.nconflicts == 1 ? "it" : "them");
	rc = cb_check_form_status(e->proto, &src, v, f, instance, &status, NULL,
				  err);
	if (rc)
		return rc;
	if (status == CB_FORM_EMPTY)
		return cb_err_set(err, CB_EINVAL,
				  "%s %s %s%s%s is empty; there is nothing to "
				  "sign",
				  subject, v->code, f->code, inst[0] ? "#" : "",
				  inst);
	return 0;
}

/*
 * What is about to be signed, shown before the passphrase is asked (21
 * CFR 11.50): the signer's full name as the server registered them (from
 * the list each sync brings), the subject and form, and the meaning.
 */
static int sign_manifest(struct entry *e, const char *subject,
			 const struct cb_protocol_visit *v,
			 const struct cb_protocol_form *f, const char *inst,
			 const char *meaning, struct cb_err *err)
{
	const cJSON *fn;
	cJSON *p = NULL;
	int rc, have = 0;

	rc = sync_person(e->st, store_user(e->st), &p, &have, err);
	if (rc)
		return rc;
	fn = cJSON_GetObjectItemCaseSensitive(p, "full_name");
	fprintf(stderr, "You are signing electronically:\n");
	if (cJSON_IsString(fn))
		fprintf(stderr, "  signer:  %s (%s, %s)\n",
			cli_safe(fn->valuestring), store_user(e->st),
			store_role(e->st));
	else
		fprintf(stderr,
			"  signer:  %s (%s; full name not known to this "
			"laptop: %s)\n",
			store_user(e->st), store_role(e->st),
			have ? "not on the server's list" : "sync to learn it");
	fprintf(stderr, "  form:    %s %s %s%s%s (%s)\n", subject, v->code,
		f->code, inst[0] ? "#" : "", inst, f->label);
	fprintf(stderr, "  meaning: %s\n", cli_safe(meaning));
	cJSON_Delete(p);
	return 0;
}

/* Ask for the passphrase again and check it against the acting user's. */
static int sign_reauth(const struct cli_global *g, struct entry *e,
		       struct cb_err *err)
{
	char prompt[STORE_USER_MAX + 64];
	char *pass = NULL;
	size_t len = 0;
	int rc;

	snprintf(prompt, sizeof(prompt),
		 "Passphrase of %s to sign: ", store_user(e->st));
	rc = pass_get(g, prompt, &pass, &len, err);
	if (!rc)
		rc = store_check_passphrase(e->st, pass, len, err);
	pass_free(pass);
	return rc;
}

int cmd_sign(int argc, char **argv, struct cli_global *g)
{
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	const char *meaning = SIGN_MEANING;
	const char *pos[3];
	char inst[16], *seen = NULL;
	struct cb_event ev;
	struct entry e;
	struct cb_err err;
	unsigned instance;
	int i, npos = 0, rc, have_ev = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--meaning")) {
			if (i + 1 >= argc || !argv[i + 1][0])
				return cli_usage("sign",
						 "--meaning needs a text");
			meaning = argv[++i];
			if (strlen(meaning) > SIGN_MEANING_MAX ||
			    !cb_utf8_valid(meaning, strlen(meaning)))
				return cli_usage("sign",
						 "--meaning must be valid "
						 "UTF-8 of at most %d bytes",
						 SIGN_MEANING_MAX);
		} else if (npos < 3 && argv[i][0] != '-') {
			pos[npos++] = argv[i];
		} else {
			return cli_usage("sign", "unexpected argument '%s'",
					 argv[i]);
		}
	}
	if (npos != 3)
		return cli_usage("sign",
				 "usage: casebook sign SUBJECT VISIT FORM");

	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	if (strcmp(store_role(e.st), CB_ROLE_INVESTIGATOR)) {
		rc = cb_err_set(&err, CB_EFORBIDDEN,
				"only an investigator may sign; %s is a %s",
				store_user(e.st), store_role(e.st));
		goto out;
	}
	rc = entry_subject_known(&e, pos[0], &err);
	if (!rc)
		rc = cb_record_resolve(e.proto, pos[1], pos[2], &v, &f,
				       &instance, &err);
	if (!rc)
		rc = sign_check_form(&e, pos[0], v, f, instance, &err);
	if (rc)
		goto out;
	cb_record_instance_text(instance, inst);
	rc = sign_manifest(&e, pos[0], v, f, inst, meaning, &err);
	if (rc)
		goto out;
	rc = sign_reauth(g, &e, &err);
	if (rc)
		goto out;

	{
		struct cb_merge *m;

		rc = entry_merge(&e, pos[0], &m, &err);
		if (!rc)
			rc = cb_merge_form_seen(m, pos[0], v->code, f->code,
						inst, &seen, &err);
	}
	if (!rc)
		rc = entry_new_event(&e, &ev, CB_KIND_SIGN, pos[0], v->code,
				     f->code, inst, &err);
	if (rc)
		goto out;
	have_ev = 1;
	rc = cb_event_set_data(&ev, CB_DATA_MEANING, meaning, &err);
	if (!rc)
		rc = cb_event_set_data(&ev, CB_DATA_SEEN, seen, &err);
	if (!rc)
		rc = entry_commit_event(&e, &ev, &err);
	if (!rc)
		printf("%s %s %s%s%s: signed by %s at %s\n  meaning: %s\n",
		       pos[0], v->code, f->code, inst[0] ? "#" : "", inst,
		       ev.user, ev.wall, meaning);
out:
	if (have_ev)
		cb_event_release(&ev);
	free(seen);
	entry_close(&e);
	if (rc)
		return cli_fail(&err);
	return EXIT_OK;
}
