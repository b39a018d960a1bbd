/*
 * cmd_ae.c - adverse events: `casebook ae add`.
 *
 * An adverse event is one instance of the protocol's repeating safety
 * form at the LOG pseudo-visit. `ae add` takes the next free instance
 * number and saves the values through entry_save_form(), with every edit
 * check `form set` runs; `form set SUBJECT LOG AE#N ... --reason` changes
 * it later. Which form that is comes from the protocol (its safety
 * section, else the only repeating form of LOG), never from a code
 * written here.
 */
#include "cli.h"
#include "entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_ae_help[] =
    "usage: casebook ae add SUBJECT ITEM=VALUE... [--reason TEXT]\n"
    "                         [--value-file ITEM=FILE]...\n"
    "\n"
    "add   record a new adverse event: a new instance of the protocol's\n"
    "      repeating adverse-event form at the LOG visit. Prints the\n"
    "      instance, e.g. \"KR01-01001 LOG AE#3: saved 10 items\". Item\n"
    "      codes, and the codes of choice and Y/N items, are those of the\n"
    "      form, in any case (stored as the protocol spells them). The\n"
    "      same edit checks as 'form set' run: a hard failure saves\n"
    "      nothing (exit 3) and uses up no number; a soft failure saves\n"
    "      and opens a query.\n"
    "      Change a recorded event with\n"
    "        casebook form set SUBJECT LOG AE#N ITEM=VALUE... --reason TEXT\n"
    "\n"
    "Exit codes: 0 saved; 1 failure; 2 usage; 3 rejected by an edit check,\n"
    "unknown code or bad value; 4 wrong passphrase or not authorized.\n";

/*
 * The adverse-event form and the visit that holds it: the protocol's
 * safety form when it names one, else the only repeating form of the LOG
 * visit. CB_ENOTFOUND when the protocol has none, or several candidates.
 */
static int ae_form(const struct cb_protocol *p,
		   const struct cb_protocol_visit **visit,
		   const struct cb_protocol_form **form, struct cb_err *err)
{
	const struct cb_protocol_visit *log =
	    cb_protocol_find_visit(p, CB_PROTOCOL_LOG_VISIT);
	const struct cb_protocol_form *f = p->safety_form;
	size_t i, n = 0;

	if (f && f->repeating) {
		*form = f;
		if (log && cb_protocol_visit_has_form(log, f))
			*visit = log;
		else if (f->nvisits)
			*visit = f->visits[0];
		else
			return cb_err_set(err, CB_ENOTFOUND,
					  "safety form %s belongs to no visit",
					  f->code);
		return 0;
	}
	if (!log)
		return cb_err_set(err, CB_ENOTFOUND,
				  "the protocol has no %s visit and no "
				  "repeating safety form",
				  CB_PROTOCOL_LOG_VISIT);
	for (i = 0; i < log->nforms; i++) {
		if (log->forms[i]->repeating) {
			f = log->forms[i];
			n++;
		}
	}
	if (n != 1)
		return cb_err_set(err, CB_ENOTFOUND,
				  "the protocol has %s repeating form at %s "
				  "and no safety form: use 'casebook form set "
				  "SUBJECT %s FORM#N'",
				  n ? "more than one" : "no",
				  CB_PROTOCOL_LOG_VISIT, CB_PROTOCOL_LOG_VISIT);
	*visit = log;
	*form = f;
	return 0;
}

static int ae_add(int argc, char **argv, struct cli_global *g)
{
	const struct cb_protocol_visit *visit = NULL;
	const struct cb_protocol_form *form = NULL;
	struct entry_save s = {0};
	struct entry_args a;
	struct entry_save_result r;
	struct entry e;
	struct cb_err err;
	int rc, ex;

	if (argc < 4)
		return cli_usage("ae", "usage: casebook ae add SUBJECT "
				       "ITEM=VALUE... [--reason TEXT]");
	s.subject = argv[2];
	ex = entry_parse_values("ae", argc, argv, 3, &s, &a);
	if (ex != EXIT_OK)
		goto out;
	rc = entry_open(g, &e, &err);
	if (rc) {
		ex = cli_fail(&err);
		goto out;
	}
	entry_save_result_init(&r);
	rc = entry_subject_known(&e, s.subject, &err);
	if (!rc)
		rc = ae_form(e.proto, &visit, &form, &err);
	if (rc) {
		ex = entry_save_exit(&r, &err);
		goto close;
	}
	s.visit = visit->code;
	s.form = form->code;
	s.new_instance = 1;
	rc = entry_save_form(&e, &s, &r, &err);
	if (rc) {
		ex = entry_save_exit(&r, &err);
	} else if (!r.nchanged) {
		/* Only empty values were given: nothing makes the event. */
		ex = cli_usage("ae", "no value given: nothing was saved");
	} else {
		entry_print_checks(&r, 0);
		printf("%s %s %s#%u: saved %zu item%s\n", s.subject, s.visit,
		       form->code, r.instance, r.nchanged,
		       r.nchanged == 1 ? "" : "s");
		entry_print_scores(&e, s.subject, &r);
	}
close:
	entry_save_result_release(&r);
	entry_close(&e);
out:
	entry_args_release(&a);
	return ex;
}

int cmd_ae(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("ae", "which ae command? (add)");
	if (!strcmp(argv[1], "add"))
		return ae_add(argc, argv, g);
	return cli_usage("ae", "unknown ae command '%s'", argv[1]);
}
