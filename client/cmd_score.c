/*
 * cmd_score.c - `casebook score METHOD ITEM=VALUE...`: compute a WOMAC,
 * KOOS or VAS score from item values given on the command line, with the
 * same code (common/score.c) that scores saved forms, and print it as one
 * line of JSON. Useful to check a paper form by hand or to see how the
 * missing-item rules play out.
 */
#include "cli.h"
#include "score.h"

#include <stdio.h>
#include <string.h>

const char cmd_score_help[] =
    "usage: casebook score METHOD [ITEM=VALUE...] [--json]\n"
    "\n"
    "Compute a clinical score from item values and print it as one line of\n"
    "JSON (--json is accepted, and changes nothing). Item names are "
    "case-insensitive; an item left out counts as not\n"
    "answered (missing). Each item may be given once.\n"
    "\n"
    "Methods:\n"
    "  womac  WOMAC 3.1 Likert. 24 items, each 0 (none) to 4 (extreme):\n"
    "         pain P1-P5, stiffness S1-S2, function F1-F17.\n"
    "         Subscales are sums: pain 0-20, stiffness 0-8, function 0-68,\n"
    "         total 0-96; higher is worse. Pain is invalid with 2 or more\n"
    "         items missing, stiffness with 2, function with 4 or more;\n"
    "         otherwise each missing item counts as the mean of the\n"
    "         answered items of its subscale. The total is the sum of the\n"
    "         three subscales, given only when all three are valid.\n"
    "         Prints {\"pain\":..,\"stiffness\":..,\"function\":..,"
    "\"total\":..}\n"
    "  koos   KOOS. 42 items, each 0 (no problem) to 4 (extreme):\n"
    "         pain P1-P9, symptoms S1-S7, ADL A1-A17, sport/recreation\n"
    "         SP1-SP5, quality of life Q1-Q4. Each subscale is\n"
    "         100 - 25 x mean(answered items), 100 = no problems, and\n"
    "         needs at least pain 5, symptoms 4, ADL 9, sport/rec 3,\n"
    "         QOL 2 answered items. No total.\n"
    "         Prints {\"pain\":..,\"symptoms\":..,\"adl\":..,"
    "\"sport_rec\":..,\"qol\":..}\n"
    "  vas    VAS pain. One item VAS, 0-100 mm (0 = no pain).\n"
    "         Prints {\"vas\":..}\n"
    "\n"
    "Scores are printed with exactly 2 decimals, rounded half away from\n"
    "zero; a subscale its missing-item rule makes invalid is null.\n"
    "\n"
    "Examples:\n"
    "  casebook score womac P1=2 P2=1 P3=0 P4=3 S1=1 S2=2 F1=1 ...\n"
    "  casebook score koos p1=1 p2=0 sp1=4 q1=2 q2=3\n"
    "  casebook score vas VAS=57\n"
    "\n"
    "Exit codes: 0 scored; 2 usage (no or unknown method, an argument\n"
    "that is not ITEM=VALUE, an item given twice); 3 an unknown item or a\n"
    "value that is not a whole number in the item's range.\n";

/* "womac, koos, vas" into buf. */
static void method_list(char *buf, size_t size)
{
	const struct cb_score_method *const *m = cb_score_methods();
	size_t len = 0;

	buf[0] = '\0';
	for (; *m && len < size; m++) {
		int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
				 (*m)->name);

		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static void print_result(const struct cb_score_method *m, const double *out,
			 const int *valid)
{
	size_t j;

	putchar('{');
	for (j = 0; j < m->noutputs; j++) {
		printf("%s\"%s\":", j ? "," : "", m->outputs[j]);
		if (valid[j])
			printf("%.2f", out[j]);
		else
			fputs("null", stdout);
	}
	puts("}");
}

int cmd_score(int argc, char **argv, struct cli_global *g)
{
	const struct cb_score_method *m;
	int vals[CB_SCORE_ITEMS_MAX];
	double out[CB_SCORE_OUTPUTS_MAX];
	int valid[CB_SCORE_OUTPUTS_MAX];
	char list[256];
	struct cb_err err;
	int i, done_opts = 0;
	size_t k;

	(void)g;
	cb_err_clear(&err);
	method_list(list, sizeof(list));
	if (argc < 2)
		return cli_usage("score ", "score: name a method (%s)", list);
	m = cb_score_method_find(argv[1]);
	if (!m)
		return cli_usage("score ",
				 "score: unknown method '%s'; methods are %s",
				 argv[1], list);
	if (m->nitems > CB_SCORE_ITEMS_MAX ||
	    m->noutputs > CB_SCORE_OUTPUTS_MAX)
		return cli_error("score: method %s is too large", m->name);
	for (k = 0; k < m->nitems; k++)
		vals[k] = CB_SCORE_MISSING;

	for (i = 2; i < argc; i++) {
		const char *arg = argv[i], *eq;
		char name[32];
		size_t namelen;
		int idx;

		if (!done_opts && !strcmp(arg, "--")) {
			done_opts = 1;
			continue;
		}
		if (!done_opts && !strcmp(arg, "--json"))
			continue; /* the output is JSON already */
		if (!done_opts && arg[0] == '-')
			return cli_usage("score ", "score: unknown option '%s'",
					 arg);
		eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return cli_usage("score ",
					 "score: '%s' is not ITEM=VALUE", arg);
		namelen = (size_t)(eq - arg);
		idx = -1;
		if (namelen < sizeof(name)) {
			memcpy(name, arg, namelen);
			name[namelen] = '\0';
			idx = cb_score_item_index(m, name);
		}
		if (idx < 0) {
			char items[256];

			cb_score_items_summary(m, items, sizeof(items));
			cb_err_set(&err, CB_ECHECK,
				   "%s has no item '%.*s'; its items are %s",
				   m->label, (int)namelen, arg, items);
			return cli_fail(&err);
		}
		if (vals[idx] != CB_SCORE_MISSING)
			return cli_usage("score ", "score: item %s given twice",
					 m->items[idx]);
		if (cb_score_parse_value(m, (size_t)idx, eq + 1, &vals[idx],
					 &err))
			return cli_fail(&err);
	}

	if (cb_score_compute(m, vals, out, valid, &err))
		return cli_fail(&err);
	print_result(m, out, valid);
	if (fflush(stdout) || ferror(stdout))
		return cli_error("score: could not write the result");
	return EXIT_OK;
}
