/*
 * cmd_form.c - form data: `casebook form set`.
 *
 * A save goes through entry_save_form(): the protocol's codes, types,
 * ranges and edit checks, then one signed form.save event. Hard check
 * failures save nothing (exit 3); soft ones save, open a query and warn.
 */
#include "cli.h"
#include "entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_form_help[] =
    "usage: casebook form set SUBJECT VISIT FORM ITEM=VALUE... [--reason TEXT]\n"
    "\n"
    "set   save item values of one form at one visit. FORM is a form code,\n"
    "      or CODE#N for instance N of a repeating form (adverse events:\n"
    "      VISIT LOG, FORM AE#2). Item codes are those of the protocol, in\n"
    "      any case. ITEM= (empty) clears a value. Changing a value that is\n"
    "      already saved needs --reason. Every edit check runs: a hard\n"
    "      failure saves nothing and lists every failing check (exit 3); a\n"
    "      soft failure saves, opens a query on the item and warns.\n"
    "\n"
    "Exit codes: 0 saved (or nothing changed); 1 failure; 2 usage or a\n"
    "missing reason; 3 rejected by an edit check, unknown code or bad\n"
    "value; 4 wrong passphrase or a form your role may not write.\n";

static int form_set(int argc, char **argv, struct cli_global *g)
{
	const char **items = NULL, **values = NULL;
	struct entry_save s = {0};
	struct entry_save_result r;
	struct entry e;
	struct cb_err err;
	int i, rc, ex = EXIT_OK;

	if (argc < 5)
		return cli_usage("form", "usage: casebook form set SUBJECT "
					 "VISIT FORM ITEM=VALUE...");
	items = calloc((size_t)argc, sizeof(*items));
	values = calloc((size_t)argc, sizeof(*values));
	if (!items || !values) {
		free(items);
		free(values);
		return cli_error("out of memory");
	}
	s.subject = argv[2];
	s.visit = argv[3];
	s.form = argv[4];
	for (i = 5; i < argc; i++) {
		char *eq;

		if (!strcmp(argv[i], "--reason")) {
			if (i + 1 >= argc) {
				ex = cli_usage("form", "--reason needs a text");
				goto out;
			}
			s.reason = argv[++i];
			continue;
		}
		eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i]) {
			ex = cli_usage("form", "'%s' is not ITEM=VALUE",
				       argv[i]);
			goto out;
		}
		*eq = '\0';
		items[s.n] = argv[i];
		values[s.n] = eq + 1;
		s.n++;
	}
	if (!s.n) {
		ex = cli_usage("form", "no ITEM=VALUE given");
		goto out;
	}
	s.items = items;
	s.values = values;
	rc = entry_open(g, &e, &err);
	if (rc) {
		ex = cli_fail(&err);
		goto out;
	}
	entry_save_result_init(&r);
	rc = entry_save_form(&e, &s, &r, &err);
	if (rc) {
		ex = entry_save_exit(&r, &err);
	} else if (!r.nchanged) {
		printf("%s %s %s: nothing changed\n", s.subject,
		       r.visit->code, s.form);
	} else {
		entry_print_checks(&r, 0);
		printf("%s %s %s: saved %zu item%s\n", s.subject,
		       r.visit->code, s.form, r.nchanged,
		       r.nchanged == 1 ? "" : "s");
		entry_print_scores(&e, s.subject, &r);
	}
	entry_save_result_release(&r);
	entry_close(&e);
out:
	free(items);
	free(values);
	return ex;
}

int cmd_form(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("form", "which form command? (set)");
	if (!strcmp(argv[1], "set"))
		return form_set(argc, argv, g);
	return cli_usage("form", "unknown form command '%s'", argv[1]);
}
