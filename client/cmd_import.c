/*
 * cmd_import.c - `casebook import`: a backlog of paper CRFs entered from
 * a file, one row per subject x visit x form, every row saved through the
 * same checks as `form set` (entry_save_form), in one transaction for
 * the whole file (nothing is kept when a row is refused) or, with
 * --per-subject, one per subject (the subjects whose rows all pass are
 * kept). The csv shape is the export's (`casebookd export --format csv`,
 * docs/exports.md), so an export's form file imports as it is; the
 * export's derived columns (study days, scores, TRTEMFL, CONFLICTS) are
 * recognised and left out.
 */
#include "cli.h"
#include "entry.h"
#include "json.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_import_help[] =
    "usage: casebook import --format csv|json FILE [--form CODE]\n"
    "                       [--per-subject] [--report NEWFILE]\n"
    "\n"
    "Enter a backlog of paper CRFs from FILE: one row per subject, visit\n"
    "and form. Every row is saved as 'casebook form set' saves it: the\n"
    "same codes, values, role rules and edit checks, soft checks opening\n"
    "their queries. By default the file is all or nothing: one\n"
    "transaction, and when any row is refused nothing of the file is\n"
    "kept. With --per-subject each subject is all or nothing: the subjects\n"
    "whose rows all pass are kept, the others are left as they were.\n"
    "Every refused row is reported (its line, the problem, each failing\n"
    "edit check) on stderr and, with --report, in a new CSV file.\n"
    "Subjects must exist on this laptop ('casebook subject add').\n"
    "\n"
    "csv (RFC 4180, the shape of 'casebookd export --format csv': one\n"
    "FORM.csv per form, a header row):\n"
    "  SUBJECT, VISIT    required\n"
    "  FORM              the form of each row; without it, --form CODE, else\n"
    "                    the file's name (DM.csv is form DM)\n"
    "  INSTANCE          repeating forms: the instance (1, 2, ...); empty\n"
    "                    makes the next one\n"
    "  SITE              when given, must be this laptop's site\n"
    "  REASON            the reason for a correction: a row that changes a\n"
    "                    saved value is refused without one\n"
    "  ITEM columns      one per item, named by its code; an empty cell\n"
    "                    leaves the item as it is (an import never clears)\n"
    "  The export's derived columns (VISITDY, TRTEMFL, CONFLICTS, ITEM_DY,\n"
    "  score columns) are left out; any other column is refused.\n"
    "\n"
    "json: an array of objects, or one object per line:\n"
    "  {\"subject\":\"KR01-01001\",\"visit\":\"SCR\",\"form\":\"DM\",\n"
    "   \"instance\":1,\"values\":{\"SEX\":\"F\"},\"reason\":\"...\"}\n"
    "  (instance and reason optional; values are strings or numbers).\n"
    "\n"
    "A row whose values are all saved already changes nothing, so an\n"
    "import can be run again. On a terminal a progress line is shown.\n"
    "\n"
    "Exit codes: 0 every row saved (or unchanged); 1 the file cannot be\n"
    "read or the store failed (nothing kept); 2 usage, or a column that is\n"
    "no item of the file's form; 3 rows refused (nothing kept, or with\n"
    "--per-subject only those subjects); 4 wrong passphrase.\n";

/* Largest file read. */
#define IMPORT_FILE_MAX (512u * 1024u * 1024u)

/* One row of the file, as either format gives it. */
struct row {
	long line;
	const char *subject, *visit, *form, *instance, *site, *reason;
	size_t n;
	const char **items, **values;
	/* what became of it */
	int refused;
};

struct import {
	const char *file;
	struct row *rows;
	size_t nrows, cap;
	char **owned; /* strings the rows point to */
	size_t nowned, owned_cap;
	cJSON *json;
	FILE *report;
	size_t saved, unchanged, refused, changes, queries;
	int progress;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	void *q;
	size_t n;

	if (need <= *cap)
		return 0;
	n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* Keep `s` (malloc'd) until the import ends; NULL when out of memory. */
static char *own(struct import *im, char *s)
{
	if (!s || grow((void **)&im->owned, &im->owned_cap, im->nowned + 1,
		       sizeof(char *))) {
		free(s);
		return NULL;
	}
	im->owned[im->nowned++] = s;
	return s;
}

static struct row *new_row(struct import *im, long line)
{
	struct row *r;

	if (grow((void **)&im->rows, &im->cap, im->nrows + 1, sizeof(*r)))
		return NULL;
	r = &im->rows[im->nrows++];
	memset(r, 0, sizeof(*r));
	r->line = line;
	return r;
}

static void import_release(struct import *im)
{
	size_t i;

	for (i = 0; i < im->nrows; i++) {
		free(im->rows[i].items);
		free(im->rows[i].values);
	}
	free(im->rows);
	for (i = 0; i < im->nowned; i++)
		free(im->owned[i]);
	free(im->owned);
	cJSON_Delete(im->json);
}

/* ---- csv ----------------------------------------------------------------- */

/*
 * The next record of `text` from *pos: its fields (malloc'd, kept by
 * im) into *fields, *nf of them. *line counts line ends passed. 1 for a
 * record, 0 at the end, -1 with a message in msg.
 */
static int csv_record(struct import *im, const char *text, size_t len,
		      size_t *pos, long *line, char ***fields, size_t *nf,
		      size_t *fcap, char *msg, size_t msgcap)
{
	size_t p = *pos;
	char *buf = NULL;
	size_t blen = 0, bcap = 0;

	*nf = 0;
	if (p >= len)
		return 0;
	for (;;) {
		blen = 0;
		if (p < len && text[p] == '"') {
			p++;
			for (;;) {
				if (p >= len) {
					snprintf(msg, msgcap,
						 "line %ld: a quoted field "
						 "is not closed",
						 *line);
					free(buf);
					return -1;
				}
				if (text[p] == '"') {
					if (p + 1 < len && text[p + 1] == '"') {
						p++;
					} else {
						p++;
						break;
					}
				} else if (text[p] == '\n') {
					(*line)++;
				}
				if (grow((void **)&buf, &bcap, blen + 2, 1))
					goto nomem;
				buf[blen++] = text[p++];
			}
		} else {
			while (p < len && text[p] != ',' && text[p] != '\n' &&
			       !(text[p] == '\r' && p + 1 < len &&
				 text[p + 1] == '\n')) {
				if (text[p] == '"') {
					snprintf(msg, msgcap,
						 "line %ld: a quote inside an "
						 "unquoted field",
						 *line);
					free(buf);
					return -1;
				}
				if (grow((void **)&buf, &bcap, blen + 2, 1))
					goto nomem;
				buf[blen++] = text[p++];
			}
		}
		if (grow((void **)&buf, &bcap, blen + 1, 1))
			goto nomem;
		buf[blen] = '\0';
		if (grow((void **)fields, fcap, *nf + 1, sizeof(char *)) ||
		    !own(im, strndup(buf, blen)))
			goto nomem;
		(*fields)[(*nf)++] = im->owned[im->nowned - 1];
		if (p < len && text[p] == ',') {
			p++;
			continue;
		}
		if (p < len && text[p] == '\r')
			p++;
		if (p < len && text[p] == '\n') {
			p++;
			(*line)++;
		} else if (p < len) {
			snprintf(msg, msgcap,
				 "line %ld: text after a quoted field", *line);
			free(buf);
			return -1;
		}
		break;
	}
	free(buf);
	*pos = p;
	return 1;
nomem:
	free(buf);
	snprintf(msg, msgcap, "out of memory");
	return -1;
}

/* Upper-cased copy of `s` into out (cap bytes). */
static void upper(const char *s, char *out, size_t cap)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)s[i]);
	out[i] = '\0';
}

/* Column kinds. */
enum {
	COL_ITEM,
	COL_SUBJECT,
	COL_VISIT,
	COL_FORM,
	COL_INSTANCE,
	COL_SITE,
	COL_REASON,
	COL_DERIVED,
	COL_UNKNOWN
};

static int fixed_column(const char *name)
{
	static const struct {
		const char *name;
		int kind;
	} fixed[] = {
	    {"SUBJECT", COL_SUBJECT},	{"VISIT", COL_VISIT},
	    {"FORM", COL_FORM},		{"INSTANCE", COL_INSTANCE},
	    {"SITE", COL_SITE},		{"REASON", COL_REASON},
	    {"VISITDY", COL_DERIVED},	{"TRTEMFL", COL_DERIVED},
	    {"CONFLICTS", COL_DERIVED},
	};
	char up[64];
	size_t i;

	upper(name, up, sizeof(up));
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(up, fixed[i].name))
			return fixed[i].kind;
	return COL_UNKNOWN;
}

/* What column `name` is for form f (an item, an export's derived column,
 * or unknown). */
static int form_column(const struct cb_protocol_form *f, const char *name)
{
	char up[CB_PROTOCOL_CODE_MAX + 8];
	size_t i, n = strlen(name);

	if (cb_protocol_find_item(f, name))
		return COL_ITEM;
	/* The export's score columns are lower case, each starting with a
	 * score's name ("vas", "womac_pain"): told from an item of the
	 * same letters (VAS) by their case. */
	for (i = 0; i < f->nscores; i++)
		if (!strncmp(name, f->scores[i].name,
			     strlen(f->scores[i].name)))
			return COL_DERIVED;
	upper(name, up, sizeof(up));
	/* ITEM_DY after a date item. */
	if (n > 3 && n < sizeof(up) && !strcmp(up + n - 3, "_DY")) {
		up[n - 3] = '\0';
		if (cb_protocol_find_item(f, up))
			return COL_DERIVED;
		upper(name, up, sizeof(up));
	}
	/* An item code typed in another case. */
	if (n < sizeof(up) && cb_protocol_find_item(f, up))
		return COL_ITEM;
	return COL_UNKNOWN;
}

/* The form a file name gives: "path/DM.csv" is DM. */
static void form_of_file(const char *file, char *out, size_t cap)
{
	const char *base = strrchr(file, '/');
	const char *dot;

	base = base ? base + 1 : file;
	dot = strrchr(base, '.');
	snprintf(out, cap, "%.*s",
		 (int)(dot && dot > base ? (size_t)(dot - base) : strlen(base)),
		 base);
	upper(out, out, cap);
}

static int load_csv(struct import *im, const struct cb_protocol *p,
		    const char *text, size_t len, const char *form_opt)
{
	char msg[512], fname[CB_PROTOCOL_CODE_MAX + 8];
	const struct cb_protocol_form *file_form = NULL;
	char **head = NULL, **f = NULL;
	size_t nh = 0, hcap = 0, nf = 0, fcap = 0, pos = 0, j;
	int *kind = NULL, rc = EXIT_OK, col_form = -1;
	long line = 1;

	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		pos = 3; /* a spreadsheet's byte order mark */
	rc = csv_record(im, text, len, &pos, &line, &head, &nh, &hcap, msg,
			sizeof(msg));
	if (rc <= 0) {
		free(head);
		if (rc == 0)
			return cli_usage("import",
					 "%s is empty: a csv file "
					 "needs a header row",
					 cli_safe(im->file));
		return cli_usage("import", "%s: %s", cli_safe(im->file), msg);
	}
	rc = EXIT_OK;
	kind = calloc(nh, sizeof(int));
	if (!kind) {
		free(head);
		return cli_error("out of memory");
	}
	for (j = 0; j < nh; j++) {
		size_t k;

		kind[j] = fixed_column(head[j]);
		if (kind[j] == COL_FORM)
			col_form = (int)j;
		for (k = 0; k < j; k++)
			if (!strcmp(head[k], head[j])) {
				rc = cli_usage(
				    "import", "%s: column %s is given twice",
				    cli_safe(im->file), cli_safe(head[j]));
				goto out;
			}
	}
	if (col_form < 0) {
		if (form_opt)
			upper(form_opt, fname, sizeof(fname));
		else
			form_of_file(im->file, fname, sizeof(fname));
		file_form = cb_protocol_find_form(p, fname);
		if (!file_form) {
			rc = cli_usage("import",
				       "%s has no FORM column and %s is not a "
				       "form of the protocol (give --form "
				       "CODE)",
				       cli_safe(im->file), cli_safe(fname));
			goto out;
		}
	}
	for (j = 0; j < nh; j++) {
		if (kind[j] != COL_UNKNOWN)
			continue;
		if (file_form) {
			kind[j] = form_column(file_form, head[j]);
			if (kind[j] == COL_UNKNOWN) {
				rc = cli_usage("import",
					       "%s: column %s is not an item "
					       "of form %s",
					       cli_safe(im->file),
					       cli_safe(head[j]),
					       file_form->code);
				goto out;
			}
		} else {
			kind[j] = COL_ITEM; /* judged per row, by its form */
		}
	}
	for (j = 0; j < nh; j++)
		if (kind[j] == COL_SUBJECT)
			break;
	if (j == nh) {
		rc = cli_usage("import", "%s has no SUBJECT column",
			       cli_safe(im->file));
		goto out;
	}
	for (j = 0; j < nh; j++)
		if (kind[j] == COL_VISIT)
			break;
	if (j == nh) {
		rc = cli_usage("import", "%s has no VISIT column",
			       cli_safe(im->file));
		goto out;
	}
	for (;;) {
		long at = line;
		struct row *r;
		int got;

		got = csv_record(im, text, len, &pos, &line, &f, &nf, &fcap,
				 msg, sizeof(msg));
		if (got < 0) {
			rc = cli_error("%s: %s", cli_safe(im->file), msg);
			goto out;
		}
		if (!got)
			break;
		if (nf == 1 && !f[0][0])
			continue; /* an empty line */
		if (nf != nh) {
			rc = cli_error("%s: line %ld has %zu fields; the "
				       "header has %zu",
				       cli_safe(im->file), at, nf, nh);
			goto out;
		}
		r = new_row(im, at);
		if (!r || !(r->items = calloc(nh, sizeof(char *))) ||
		    !(r->values = calloc(nh, sizeof(char *)))) {
			rc = cli_error("out of memory");
			goto out;
		}
		r->form = file_form ? file_form->code : "";
		for (j = 0; j < nh; j++) {
			const char *v = f[j];

			switch (kind[j]) {
			case COL_SUBJECT:
				r->subject = v;
				break;
			case COL_VISIT:
				r->visit = v;
				break;
			case COL_FORM:
				r->form = v;
				break;
			case COL_INSTANCE:
				r->instance = v;
				break;
			case COL_SITE:
				r->site = v;
				break;
			case COL_REASON:
				r->reason = v[0] ? v : NULL;
				break;
			case COL_ITEM:
				if (!v[0])
					break;
				r->items[r->n] = head[j];
				r->values[r->n++] = v;
				break;
			default:
				break;
			}
		}
	}
out:
	free(head);
	free(f);
	free(kind);
	return rc;
}

/* ---- json ---------------------------------------------------------------- */

/* 1 when the n bytes at p are all white space. */
static int blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return 0;
	return 1;
}

/* One object of the json format into a row. */
static int json_row(struct import *im, const cJSON *o, long line, char *msg,
		    size_t cap)
{
	static const char *const members[] = {"subject",  "visit",  "form",
					      "instance", "values", "reason",
					      "site",	  NULL};
	const cJSON *v, *vals;
	struct row *r;
	size_t n, i;

	if (!cJSON_IsObject(o)) {
		snprintf(msg, cap, "record %ld is not an object", line);
		return -1;
	}
	for (v = o->child; v; v = v->next) {
		for (i = 0; members[i]; i++)
			if (!strcmp(v->string, members[i]))
				break;
		if (!members[i]) {
			snprintf(msg, cap, "record %ld: unknown member \"%s\"",
				 line, cli_safe(v->string));
			return -1;
		}
	}
	vals = cJSON_GetObjectItemCaseSensitive(o, "values");
	if (!cb_json_str(o, "subject") || !cb_json_str(o, "visit") ||
	    !cb_json_str(o, "form") || !cJSON_IsObject(vals)) {
		snprintf(msg, cap,
			 "record %ld needs subject, visit and form (strings) "
			 "and values (an object)",
			 line);
		return -1;
	}
	r = new_row(im, line);
	n = (size_t)cJSON_GetArraySize(vals);
	if (!r || !(r->items = calloc(n + 1, sizeof(char *))) ||
	    !(r->values = calloc(n + 1, sizeof(char *)))) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	r->subject = cb_json_str(o, "subject");
	r->visit = cb_json_str(o, "visit");
	r->form = cb_json_str(o, "form");
	r->site = cb_json_str(o, "site");
	r->reason = cb_json_str(o, "reason");
	v = cJSON_GetObjectItemCaseSensitive(o, "instance");
	if (cJSON_IsNumber(v)) {
		char num[32];

		snprintf(num, sizeof(num), "%.0f", v->valuedouble);
		if (!(r->instance = own(im, strdup(num)))) {
			snprintf(msg, cap, "out of memory");
			return -1;
		}
	} else if (v && !cJSON_IsNull(v)) {
		r->instance = cJSON_IsString(v) ? v->valuestring : "?";
	}
	for (v = vals->child; v; v = v->next) {
		const char *s = NULL;

		if (cJSON_IsString(v)) {
			s = v->valuestring;
		} else if (cJSON_IsNumber(v)) {
			char *t = cJSON_PrintUnformatted(v);

			s = own(im, t);
		} else {
			snprintf(msg, cap,
				 "record %ld: the value of %s is not a string "
				 "or a number",
				 line, cli_safe(v->string));
			return -1;
		}
		if (!s) {
			snprintf(msg, cap, "out of memory");
			return -1;
		}
		r->items[r->n] = v->string;
		r->values[r->n++] = s;
	}
	return 0;
}

static int load_json(struct import *im, char *text, size_t len)
{
	struct cb_err err;
	char msg[512];
	size_t i = 0;

	cb_err_clear(&err);
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i < len && text[i] == '[') {
		const cJSON *o;
		long n = 0;

		im->json =
		    cb_json_parse(text, len, IMPORT_FILE_MAX, im->file, &err);
		if (!im->json)
			return cli_usage("import", "%s", err.msg);
		cJSON_ArrayForEach(o, im->json)
		{
			if (json_row(im, o, ++n, msg, sizeof(msg)))
				return cli_usage("import", "%s: %s",
						 cli_safe(im->file), msg);
		}
		return EXIT_OK;
	}
	/* One object per line: each parsed and kept in one array. */
	im->json = cJSON_CreateArray();
	{
		long line = 0;
		char *p = text, *end = text + len;

		while (p < end) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			cJSON *o;

			line++;
			if (!blank(p, n)) {
				o = cb_json_parse(p, n, IMPORT_FILE_MAX,
						  im->file, &err);
				if (!o)
					return cli_usage("import",
							 "line %ld: %s", line,
							 err.msg);
				cJSON_AddItemToArray(im->json, o);
				if (json_row(im, o, line, msg, sizeof(msg)))
					return cli_usage("import", "%s: %s",
							 cli_safe(im->file),
							 msg);
			}
			p += n + 1;
		}
	}
	return EXIT_OK;
}

/* ---- saving -------------------------------------------------------------- */

/* One CSV field of the report, quoted when it needs to be. */
static void report_field(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

static void report_line(struct import *im, const struct row *r,
			const char *check, const char *msg)
{
	char line[32];

	if (!im->report)
		return;
	snprintf(line, sizeof(line), "%ld", r->line);
	report_field(im->report, line, 0);
	report_field(im->report, r->subject ? r->subject : "", 0);
	report_field(im->report, r->visit ? r->visit : "", 0);
	report_field(im->report, r->form ? r->form : "", 0);
	report_field(im->report, r->instance ? r->instance : "", 0);
	report_field(im->report, check, 0);
	report_field(im->report, msg, 1);
}

/* Report row r as refused, with every hard check of res (may be NULL). */
static void refuse(struct import *im, struct row *r, const char *msg,
		   const struct entry_save_result *res)
{
	size_t i;

	r->refused = 1;
	if (im->progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s:%ld: %s %s %s%s%s: %s\n", cli_safe(im->file),
		r->line, cli_safe(r->subject ? r->subject : "?"),
		cli_safe(r->visit ? r->visit : "?"),
		cli_safe(r->form ? r->form : "?"),
		r->instance && r->instance[0] ? "#" : "",
		r->instance ? cli_safe(r->instance) : "", cli_safe(msg));
	if (!res || !res->checks.nhard) {
		report_line(im, r, "", msg);
		return;
	}
	for (i = 0; i < res->checks.count; i++) {
		const struct cb_check_result *c = &res->checks.list[i];

		if (c->severity != CB_SEVERITY_HARD)
			continue;
		fprintf(stderr, "  rejected: %s [%s]: %s\n", cli_safe(c->path),
			c->id, cli_safe(c->message));
		report_line(im, r, c->id, c->message);
	}
}

/* Per transaction: what its rows did, added to the totals on commit. */
struct tally {
	size_t saved, unchanged, changes, queries;
};

/*
 * Save row r inside the open transaction. 0 saved or unchanged, 1
 * refused (nothing written), or a negative CB_E* when the store failed
 * while writing (err set; the caller rolls back).
 */
static int save_row(struct import *im, struct entry *e, struct row *r,
		    struct tally *t, struct cb_err *err)
{
	char fcode[CB_PROTOCOL_CODE_MAX + 1], target[CB_PROTOCOL_CODE_MAX + 24];
	const struct cb_protocol_form *fo;
	struct entry_save_result res;
	struct entry_save s;
	size_t i, n = 0;
	int rc;

	if (!r->subject || !r->subject[0] || !r->visit || !r->visit[0]) {
		refuse(im, r, "SUBJECT and VISIT are required", NULL);
		return 1;
	}
	if (r->site && r->site[0] && strcmp(r->site, store_site(e->st))) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "SITE %.16s is not this laptop's site (%s)", r->site,
			 store_site(e->st));
		refuse(im, r, msg, NULL);
		return 1;
	}
	upper(r->form ? r->form : "", fcode, sizeof(fcode));
	fo = cb_protocol_find_form(e->proto, fcode);
	if (!fo) {
		char msg[128];

		snprintf(msg, sizeof(msg), "no form '%.40s' in the protocol",
			 r->form ? r->form : "");
		refuse(im, r, msg, NULL);
		return 1;
	}
	/* Keep the item columns of this row's form; leave the export's
	 * derived ones out. */
	for (i = 0; i < r->n; i++) {
		int k;

		/* a header column, or a member name of "values" */
		assert(r->items[i]);
		k = form_column(fo, r->items[i]);

		if (k == COL_UNKNOWN) {
			char msg[128];

			snprintf(msg, sizeof(msg),
				 "column %.40s is not an item of form %s",
				 r->items[i], fo->code);
			refuse(im, r, msg, NULL);
			return 1;
		}
		if (k == COL_ITEM) {
			r->items[n] = r->items[i];
			r->values[n++] = r->values[i];
		}
	}
	r->n = n;
	memset(&s, 0, sizeof(s));
	s.subject = r->subject;
	s.visit = r->visit;
	s.items = r->items;
	s.values = r->values;
	s.n = r->n;
	s.reason = r->reason;
	s.in_caller_tx = 1;
	if (r->instance && r->instance[0]) {
		snprintf(target, sizeof(target), "%s#%.16s", fo->code,
			 r->instance);
		s.form = target;
	} else {
		s.form = fo->code;
		s.new_instance = fo->repeating;
	}
	if (!s.n) {
		t->unchanged++;
		return 0;
	}
	entry_save_result_init(&res);
	cb_err_clear(err);
	rc = entry_save_form(e, &s, &res, err);
	if (rc && res.wrote) {
		entry_save_result_release(&res);
		return rc;
	}
	if (rc) {
		refuse(im, r,
		       rc == CB_ECHECK ? "refused by an edit check"
		       : res.need_reason
			   ? "it changes a saved value: the REASON column "
			     "must say why"
			   : err->msg,
		       &res);
		entry_save_result_release(&res);
		return 1;
	}
	if (res.nchanged) {
		t->saved++;
		t->changes += res.nchanged;
		t->queries += res.nqueries;
	} else {
		t->unchanged++;
	}
	entry_save_result_release(&res);
	return 0;
}

static void progress(struct import *im, size_t done)
{
	if (im->progress && (done % 200 == 0 || done == im->nrows))
		fprintf(stderr, "\rimport: %zu of %zu rows", done, im->nrows);
}

/*
 * Save rows[idx[0..n-1]] in one transaction: committed when every row
 * passes, else rolled back. 0, 1 when a row was refused, or a negative
 * CB_E* of the store.
 */
static int save_group(struct import *im, struct entry *e, const size_t *idx,
		      size_t n, size_t *done, struct cb_err *err)
{
	struct tally t = {0, 0, 0, 0};
	size_t i, refused = 0;
	int rc;

	rc = entry_begin(e, err);
	if (rc)
		return rc;
	/* im->json (the parsed file) is freed by import_free at the end;
	 * the analyzer loses it through the struct. */
	for (i = 0; i < n; i++) {
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		rc = save_row(im, e, &im->rows[idx[i]], &t, err);
		if (rc < 0) {
			entry_rollback(e);
			return rc;
		}
		refused += (size_t)rc;
		progress(im, ++*done);
	}
	if (refused) {
		entry_rollback(e);
		im->refused += refused;
		return 1;
	}
	rc = entry_commit(e, err);
	if (rc)
		return rc;
	im->saved += t.saved;
	im->unchanged += t.unchanged;
	im->changes += t.changes;
	im->queries += t.queries;
	return 0;
}

/* The rows' indexes grouped by subject, subjects in order of first row. */
static size_t *by_subject(const struct import *im, size_t **starts,
			  size_t *ngroups)
{
	size_t *idx = malloc((im->nrows + 1) * sizeof(size_t));
	size_t *st = malloc((im->nrows + 1) * sizeof(size_t));
	char *taken = calloc(im->nrows + 1, 1);
	size_t i, j, k = 0, g = 0;

	if (!idx || !st || !taken) {
		free(idx);
		free(st);
		free(taken);
		return NULL;
	}
	/* Rows of one subject are usually together: a subject's rows are
	 * gathered from where its first row is. */
	for (i = 0; i < im->nrows; i++) {
		const char *subj =
		    im->rows[i].subject ? im->rows[i].subject : "";

		if (taken[i])
			continue;
		st[g++] = k;
		for (j = i; j < im->nrows; j++) {
			const char *o =
			    im->rows[j].subject ? im->rows[j].subject : "";

			if (!taken[j] && !strcmp(o, subj)) {
				taken[j] = 1;
				idx[k++] = j;
			}
		}
	}
	st[g] = k;
	free(taken);
	*starts = st;
	*ngroups = g;
	return idx;
}

int cmd_import(int argc, char **argv, struct cli_global *g)
{
	const char *format = NULL, *form = NULL, *report = NULL;
	struct import im;
	struct entry e;
	struct cb_err err;
	char *text = NULL;
	size_t len = 0, i, done = 0;
	int per_subject = 0, rc, i_arg;

	memset(&im, 0, sizeof(im));
	for (i_arg = 1; i_arg < argc; i_arg++) {
		const char *a = argv[i_arg];

		if (!strcmp(a, "--format") && i_arg + 1 < argc && !format)
			format = argv[++i_arg];
		else if (!strcmp(a, "--form") && i_arg + 1 < argc && !form)
			form = argv[++i_arg];
		else if (!strcmp(a, "--report") && i_arg + 1 < argc && !report)
			report = argv[++i_arg];
		else if (!strcmp(a, "--per-subject"))
			per_subject = 1;
		else if (a[0] != '-' && !im.file)
			im.file = a;
		else
			return cli_usage("import", "unknown argument '%s'", a);
	}
	if (!format || (strcmp(format, "csv") && strcmp(format, "json")))
		return cli_usage("import", "import needs --format csv or "
					   "--format json");
	if (!im.file)
		return cli_usage("import", "import needs the FILE to read");
	if (form && !strcmp(format, "json"))
		return cli_usage("import", "--form is for csv files (json "
					   "rows name their form)");
	cb_err_clear(&err);
	if (cb_file_read(im.file, IMPORT_FILE_MAX, &text, &len, &err))
		return cli_fail(&err);
	rc = entry_open(g, &e, &err);
	if (rc) {
		rc = cli_fail(&err);
		goto out_noentry;
	}
	rc = !strcmp(format, "csv") ? load_csv(&im, e.proto, text, len, form)
				    : load_json(&im, text, len);
	if (rc)
		goto out;
	/* Made once the file is read and understood: a refused command
	 * leaves no report behind. */
	if (report) {
		im.report = fopen(report, "wx");
		if (!im.report) {
			rc = cli_error("cannot create the report %s (it must "
				       "not exist)",
				       cli_safe(report));
			goto out;
		}
		fputs("LINE,SUBJECT,VISIT,FORM,INSTANCE,CHECK,MESSAGE\r\n",
		      im.report);
	}
	im.progress = cli_progress(g);
	if (per_subject) {
		size_t *starts = NULL, ngroups = 0;
		size_t *idx = by_subject(&im, &starts, &ngroups);
		size_t kept = 0, lost = 0;

		if (!idx) {
			rc = cli_error("out of memory");
			goto out;
		}
		for (i = 0; i < ngroups && rc >= 0; i++) {
			rc = save_group(&im, &e, idx + starts[i],
					starts[i + 1] - starts[i], &done, &err);
			if (rc == 0)
				kept++;
			else if (rc == 1)
				lost++;
		}
		free(idx);
		free(starts);
		if (im.progress)
			fputc('\n', stderr);
		if (rc < 0) {
			rc = cli_fail(&err);
			fprintf(stderr,
				"casebook: the subjects before kept their "
				"rows; that subject's and the later ones "
				"were not imported\n");
			goto out;
		}
		/* the subjects left out are told even with --quiet */
		if (!g->quiet || lost) {
			printf("import: %zu rows saved (%zu item values, %zu "
			       "queries opened), %zu unchanged; %zu subjects "
			       "kept",
			       im.saved, im.changes, im.queries, im.unchanged,
			       kept);
			if (lost)
				printf(", %zu subjects left out (%zu rows "
				       "refused)",
				       lost, im.refused);
			printf("\n");
		}
		rc = lost ? EXIT_CHECK : EXIT_OK;
	} else {
		size_t *idx = malloc((im.nrows + 1) * sizeof(size_t));

		if (!idx) {
			rc = cli_error("out of memory");
			goto out;
		}
		for (i = 0; i < im.nrows; i++)
			idx[i] = i;
		rc = save_group(&im, &e, idx, im.nrows, &done, &err);
		free(idx);
		if (im.progress)
			fputc('\n', stderr);
		if (rc < 0) {
			rc = cli_fail(&err);
			fprintf(stderr, "casebook: nothing was imported\n");
		} else if (rc == 1) {
			fprintf(stderr,
				"casebook: %zu of %zu rows refused: nothing "
				"was imported (correct them and import the "
				"file again, or use --per-subject)\n",
				im.refused, im.nrows);
			rc = EXIT_CHECK;
		} else {
			if (!g->quiet)
				printf("import: %zu rows saved (%zu item "
				       "values, %zu queries opened), %zu "
				       "unchanged\n",
				       im.saved, im.changes, im.queries,
				       im.unchanged);
			rc = EXIT_OK;
		}
	}
out:
	entry_close(&e);
out_noentry:
	if (im.report && fclose(im.report) && rc == EXIT_OK)
		rc = cli_error("cannot write the report %s", cli_safe(report));
	import_release(&im);
	free(text);
	return rc;
}
