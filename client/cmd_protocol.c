/*
 * cmd_protocol.c - `casebook protocol check|show FILE`: validate a study
 * protocol file with the same loader (common/protocol.c) the client and
 * the server use, and print its visit schedule and forms for people.
 *
 * `check` is what a protocol author runs after every edit: it prints
 * every problem the loader found, one per line with its JSON path, so a
 * file is fixed in one pass. `show` needs no store and no server.
 */
#include "buf.h"
#include "cli.h"
#include "jout.h"
#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_protocol_help[] =
    "usage: casebook protocol check FILE [--json]\n"
    "       casebook protocol show FILE [--json]\n"
    "\n"
    "Check or show a study protocol file (format casebook-protocol/1,\n"
    "described in schemas/README.md). Neither needs a local store.\n"
    "\n"
    "  check  Load FILE as the client and the server would. A good\n"
    "         protocol prints one summary line:\n"
    "           ID VERSION: N visits, N forms, N items, N checks,\n"
    "           N eligibility rules\n"
    "         A bad one prints every problem found, one per line, each\n"
    "         starting with the JSON path it concerns, for example\n"
    "           $.forms[3].items[2].range.min: min 10 is greater than max 5\n"
    "         or, for a file that is not JSON at all,\n"
    "           FILE: invalid JSON at line L, column C\n"
    "  show   Print the visit schedule (code, label, target day, window,\n"
    "         forms) and every form with its items (code, type, unit,\n"
    "         range, soft range, required, choices) as aligned text.\n"
    "         Windows and target days count from the protocol's day-0\n"
    "         item. Unblinded items are marked; their values are never\n"
    "         shown here (a protocol holds no data).\n"
    "\n"
    "--json output:\n"
    "  check: {\"id\",\"version\",\"visits\",\"forms\",\"items\",\"checks\",\n"
    "         \"eligibility_rules\"} (counts); a bad protocol prints its\n"
    "         problems as text on stderr, as without --json\n"
    "  show:  {\"id\",\"version\",\"title\",\"visits\":[{\"visit\",\"label\",\n"
    "         "
    "\"scheduled\",\"day\",\"window\":[LOW,HIGH],\"forms\":[CODE...]}],\n"
    "         "
    "\"forms\":[{\"form\",\"label\",\"repeating\",\"items\":[{\"item\",\n"
    "         \"label\",\"type\",\"unit\",\"required\",\"unblinded\"}]}]}\n"
    "         (LOG: \"scheduled\":false, null day and window)\n"
    "\n"
    "Examples:\n"
    "  casebook protocol check schemas/knee-oa-msc.json\n"
    "  casebook protocol show schemas/knee-oa-msc.json | less\n"
    "\n"
    "Exit codes: 0 the protocol is good; 1 it has problems, or FILE\n"
    "cannot be read; 2 usage (no or unknown subcommand, no FILE, extra\n"
    "arguments).\n";

/* ---- Aligned tables --------------------------------------------------- */

#define TABLE_COLS 8
/* Most rows of one table (a protocol's items are far fewer). */
#define TABLE_ROWS_MAX (1u << 20)

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows x ncols, malloc'd strings */
	int oom;
};

/* Append one row of ncols cells (copied); NULL cells print as "". */
static void table_row(struct table *t, const char *const *cells)
{
	size_t c;

	if (t->oom)
		return;
	/* Grown a row (ncols cells) at a time. */
	if (cb_array_grow((void **)&t->cells, &t->cap, t->nrows + 1,
			  t->ncols * sizeof(*t->cells), TABLE_ROWS_MAX,
			  "table rows", NULL)) {
		t->oom = 1;
		return;
	}
	for (c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] ? cells[c] : "");

		if (!s)
			t->oom = 1;
		t->cells[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
}

/* Print with each column as wide as its widest cell; frees the cells. */
static void table_print(struct table *t, const char *indent)
{
	size_t w[TABLE_COLS] = {0}, r, c, len;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			len = s ? strlen(s) : 0;
			if (len > w[c])
				w[c] = len;
		}
	for (r = 0; r < t->nrows; r++) {
		size_t last = t->ncols;

		/* no trailing spaces: stop at the last non-empty cell */
		while (last > 0 && (!t->cells[r * t->ncols + last - 1] ||
				    !t->cells[r * t->ncols + last - 1][0]))
			last--;
		fputs(indent, stdout);
		for (c = 0; c < last; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 < last)
				printf("%-*s  ", (int)w[c], s ? s : "");
			else
				fputs(s ? s : "", stdout);
		}
		putchar('\n');
	}
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->cells[r]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- Formatting ------------------------------------------------------- */

static void num(double v, char *out, size_t cap)
{
	snprintf(out, cap, "%.15g", v);
}

static void range_cell(const struct cb_protocol_range *r, char *out, size_t cap)
{
	char lo[40], hi[40];

	num(r->min, lo, sizeof(lo));
	num(r->max, hi, sizeof(hi));
	if (r->has_min && r->has_max)
		snprintf(out, cap, "%s..%s", lo, hi);
	else if (r->has_min)
		snprintf(out, cap, ">=%s", lo);
	else if (r->has_max)
		snprintf(out, cap, "<=%s", hi);
	else
		out[0] = '\0';
}

static void type_cell(const struct cb_protocol_item *it, char *out, size_t cap)
{
	if (it->type == CB_ITEM_DECIMAL)
		snprintf(out, cap, "decimal(%d)", it->precision);
	else if (it->type == CB_ITEM_TEXT)
		snprintf(out, cap, "text(%zu)", it->max_length);
	else
		snprintf(out, cap, "%s", cb_item_type_name(it->type));
}

/* Choice codes joined by '/', cut short with "..." when long. */
static void choices_cell(const struct cb_protocol_item *it, char *out,
			 size_t cap)
{
	size_t i, used = 0;

	out[0] = '\0';
	if (it->type != CB_ITEM_CHOICE && it->type != CB_ITEM_BOOLEAN)
		return;
	for (i = 0; i < it->nchoices; i++) {
		int n = snprintf(out + used, cap - used, "%s%s", i ? "/" : "",
				 it->choices[i].code);

		if (n < 0 || (size_t)n >= cap - used) {
			if (cap > 4)
				memcpy(out + cap - 4, "...", 4);
			return;
		}
		used += (size_t)n;
	}
}

static void writers_text(unsigned writers, char *out, size_t cap)
{
	size_t used = 0;
	unsigned bit;

	out[0] = '\0';
	for (bit = 1; bit && bit <= CB_WRITER_SYSTEM; bit <<= 1) {
		int n;

		if (!(writers & bit))
			continue;
		n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
			     cb_writer_name(bit));
		if (n < 0 || (size_t)n >= cap - used)
			return;
		used += (size_t)n;
	}
}

/* ---- check and show --------------------------------------------------- */

static int load(const char *path, struct cb_protocol **p)
{
	struct cb_protocol_problems pr;
	struct cb_err err;
	size_t i;
	int rc;

	cb_err_clear(&err);
	cb_protocol_problems_init(&pr);
	rc = cb_protocol_load_file(path, p, &pr, &err);
	if (!rc) {
		cb_protocol_problems_release(&pr);
		return EXIT_OK;
	}
	if (!pr.count) {
		cb_protocol_problems_release(&pr);
		return cli_fail(&err);
	}
	for (i = 0; i < pr.count; i++)
		fprintf(stderr, "%s\n", pr.msgs[i]);
	if (pr.total > pr.count)
		fprintf(stderr, "... and %zu more problems not shown\n",
			pr.total - pr.count);
	fprintf(stderr, "casebook: %s: %zu problem%s\n", path, pr.total,
		pr.total == 1 ? "" : "s");
	cb_protocol_problems_release(&pr);
	return rc == CB_ENOMEM ? EXIT_FAIL : cli_exit_code(CB_EINVAL);
}

/* `protocol check --json`: the counts of a good protocol. */
static int check_json(const struct cb_protocol *p)
{
	struct jout j = {0};
	cJSON *o = cJSON_CreateObject();

	jout_str(&j, o, "id", p->id);
	jout_str(&j, o, "version", p->version);
	jout_num(&j, o, "visits", (double)p->nvisits);
	jout_num(&j, o, "forms", (double)p->nforms);
	jout_num(&j, o, "items", (double)p->nitems);
	jout_num(&j, o, "checks", (double)p->nchecks);
	jout_num(&j, o, "eligibility_rules", (double)p->nrules);
	return jout_emit(&j, o);
}

/* `protocol show --json`: the schedule and the forms' items. */
static int show_json(const struct cb_protocol *p)
{
	struct jout j = {0};
	cJSON *o = cJSON_CreateObject(), *visits, *forms;
	size_t i, k;

	jout_str(&j, o, "id", p->id);
	jout_str(&j, o, "version", p->version);
	jout_str(&j, o, "title", p->title);
	visits = jout_put(&j, o, "visits", cJSON_CreateArray());
	for (i = 0; visits && i < p->nvisits; i++) {
		const struct cb_protocol_visit *v = &p->visits[i];
		cJSON *x = jout_put(&j, visits, NULL, cJSON_CreateObject());
		cJSON *a;

		if (!x)
			break;
		jout_str(&j, x, "visit", v->code);
		jout_str(&j, x, "label", v->label);
		jout_bool(&j, x, "scheduled", v->scheduled);
		if (v->scheduled) {
			jout_num(&j, x, "day", v->day);
			a = jout_put(&j, x, "window", cJSON_CreateArray());
			jout_num(&j, a, NULL, v->low);
			jout_num(&j, a, NULL, v->high);
		} else {
			jout_null(&j, x, "day");
			jout_null(&j, x, "window");
		}
		a = jout_put(&j, x, "forms", cJSON_CreateArray());
		for (k = 0; a && k < v->nforms; k++)
			jout_str(&j, a, NULL, v->forms[k]->code);
	}
	forms = jout_put(&j, o, "forms", cJSON_CreateArray());
	for (i = 0; forms && i < p->nforms; i++) {
		const struct cb_protocol_form *f = &p->forms[i];
		cJSON *x = jout_put(&j, forms, NULL, cJSON_CreateObject());
		cJSON *items;

		if (!x)
			break;
		jout_str(&j, x, "form", f->code);
		jout_str(&j, x, "label", f->label);
		jout_bool(&j, x, "repeating", f->repeating);
		items = jout_put(&j, x, "items", cJSON_CreateArray());
		for (k = 0; items && k < f->nitems; k++) {
			const struct cb_protocol_item *it = &f->items[k];
			cJSON *y =
			    jout_put(&j, items, NULL, cJSON_CreateObject());

			if (!y)
				break;
			jout_str(&j, y, "item", it->code);
			jout_str(&j, y, "label", it->label);
			jout_str(&j, y, "type", cb_item_type_name(it->type));
			jout_str(&j, y, "unit", it->unit);
			jout_bool(&j, y, "required", it->required);
			jout_bool(&j, y, "unblinded", it->unblinded);
		}
	}
	return jout_emit(&j, o);
}

static int do_check(const char *path, int json)
{
	struct cb_protocol *p;
	int rc = load(path, &p);

	if (rc)
		return rc;
	if (json) {
		rc = check_json(p);
		cb_protocol_free(p);
		return rc;
	}
	printf("%s %s: %zu visit%s, %zu form%s, %zu item%s, %zu check%s, "
	       "%zu eligibility rule%s\n",
	       p->id, p->version, p->nvisits, p->nvisits == 1 ? "" : "s",
	       p->nforms, p->nforms == 1 ? "" : "s", p->nitems,
	       p->nitems == 1 ? "" : "s", p->nchecks,
	       p->nchecks == 1 ? "" : "s", p->nrules,
	       p->nrules == 1 ? "" : "s");
	cb_protocol_free(p);
	return EXIT_OK;
}

static void show_visits(const struct cb_protocol *p)
{
	struct table t = {5, 0, 0, NULL, 0};
	const char *hdr[] = {"VISIT", "LABEL", "DAY", "WINDOW", "FORMS"};
	size_t v, f;

	table_row(&t, hdr);
	for (v = 0; v < p->nvisits; v++) {
		const struct cb_protocol_visit *vi = &p->visits[v];
		char day[24] = "-", win[48] = "-", forms[1024];
		const char *row[5];
		size_t used = 0;

		if (vi->scheduled) {
			snprintf(day, sizeof(day), "%d", vi->day);
			snprintf(win, sizeof(win), "%d..%d", vi->low, vi->high);
		}
		forms[0] = '\0';
		for (f = 0; f < vi->nforms; f++) {
			int n =
			    snprintf(forms + used, sizeof(forms) - used, "%s%s",
				     f ? " " : "", vi->forms[f]->code);

			if (n < 0 || (size_t)n >= sizeof(forms) - used)
				break;
			used += (size_t)n;
		}
		row[0] = vi->code;
		row[1] = vi->label;
		row[2] = day;
		row[3] = win;
		row[4] = forms;
		table_row(&t, row);
	}
	table_print(&t, "  ");
}

static void show_form(const struct cb_protocol_form *f)
{
	struct table t = {7, 0, 0, NULL, 0};
	const char *hdr[] = {"ITEM", "TYPE",	 "UNIT",  "RANGE",
			     "SOFT", "REQUIRED", "VALUES"};
	char writers[200], visits[1024];
	size_t i, used = 0;

	writers_text(f->writers, writers, sizeof(writers));
	visits[0] = '\0';
	for (i = 0; i < f->nvisits; i++) {
		int n = snprintf(visits + used, sizeof(visits) - used, "%s%s",
				 i ? " " : "", f->visits[i]->code);

		if (n < 0 || (size_t)n >= sizeof(visits) - used)
			break;
		used += (size_t)n;
	}
	printf("\nForm %s: %s%s\n", f->code, f->label,
	       f->repeating ? " (repeating)" : "");
	printf("  visits: %s\n  written by: %s\n", visits, writers);
	for (i = 0; i < f->nscores; i++)
		printf("  score: %s (%s)\n", f->scores[i].name,
		       f->scores[i].method->label);
	table_row(&t, hdr);
	for (i = 0; i < f->nitems; i++) {
		const struct cb_protocol_item *it = &f->items[i];
		char type[32], range[96], soft[96], values[512], code[64];
		const char *row[7];

		snprintf(code, sizeof(code), "%s%s", it->code,
			 it->unblinded ? " [unblinded]" : "");
		type_cell(it, type, sizeof(type));
		range_cell(&it->range, range, sizeof(range));
		range_cell(&it->soft, soft, sizeof(soft));
		choices_cell(it, values, sizeof(values));
		row[0] = code;
		row[1] = type;
		row[2] = it->unit;
		row[3] = range;
		row[4] = soft;
		row[5] = it->required ? "yes" : "no";
		row[6] = values;
		table_row(&t, row);
	}
	table_print(&t, "  ");
}

static int do_show(const char *path, int json)
{
	struct cb_protocol *p;
	size_t f;
	int rc = load(path, &p);

	if (rc)
		return rc;
	if (json) {
		rc = show_json(p);
		cb_protocol_free(p);
		return rc;
	}
	printf("%s %s%s%s\n", p->id, p->version, p->title[0] ? ": " : "",
	       p->title);
	if (p->day0.item)
		printf("Day 0: %s (target days and windows count from it)\n",
		       p->day0.text);
	printf("\nVisits\n");
	show_visits(p);
	printf("\nForms\n");
	for (f = 0; f < p->nforms; f++)
		show_form(&p->forms[f]);
	cb_protocol_free(p);
	return EXIT_OK;
}

int cmd_protocol(int argc, char **argv, struct cli_global *g)
{
	const char *sub;
	int i, json = 0;

	(void)g;
	if (argc < 2)
		return cli_usage("protocol ", "protocol: say check or show");
	sub = argv[1];
	/* --json anywhere before "--"; taken out so FILE stays argv[i] */
	for (i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		if (strcmp(argv[i], "--json"))
			continue;
		json = 1;
		memmove(&argv[i], &argv[i + 1],
			(size_t)(argc - i - 1) * sizeof(*argv));
		argc--;
		i--;
	}
	for (i = 2; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--"))
			return cli_usage("protocol ",
					 "protocol: unknown option '%s'",
					 argv[i]);
	if (strcmp(sub, "check") && strcmp(sub, "show"))
		return cli_usage("protocol ",
				 "protocol: unknown subcommand '%s' (check or "
				 "show)",
				 sub);
	i = 2;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		return cli_usage("protocol ", "protocol %s: no FILE given",
				 sub);
	if (i + 1 < argc)
		return cli_usage("protocol ",
				 "protocol %s: one FILE only, got '%s' too",
				 sub, argv[i + 1]);
	return !strcmp(sub, "check") ? do_check(argv[i], json)
				     : do_show(argv[i], json);
}
