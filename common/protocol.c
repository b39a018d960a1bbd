/*
 * protocol.c - the study protocol loader and its lookups (see protocol.h
 * for the model and schemas/README.md for the file format).
 *
 * Loading is one pass over the parsed JSON tree per section, in the order
 * the references need: forms and their items first, then visits (which
 * name forms), day 0, scores, arms, randomization, strata, eligibility,
 * edit checks and the safety section. Every section keeps going after a
 * problem, so one load reports everything it can; a half-built protocol
 * is never handed out. Everything the protocol holds is allocated from
 * one arena, so cb_protocol_free() is a walk over a few large blocks and
 * no pointer inside a loaded protocol ever dangles while it lives.
 */
#include "protocol.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "date.h"
#include "json.h"

#define FORMAT_NAME "casebook-protocol/1"

/* Longest JSON path in a message; deeper paths are cut short. */
#define PATH_LEN 256
/* Longest untrusted text quoted back in a message. */
#define QUOTE_LEN 64
/* Longest number or constant text written by the loader. */
#define NUM_TEXT 64
/* Most digits of an integer value, so it is exact as a double. */
#define INT_DIGITS_MAX 15
/* Days either side of day 0 a visit window may reach (100 years). */
#define DAY_LIMIT 36525
/* Largest permuted block. */
#define BLOCK_MAX 1000

/* ---- Arena ------------------------------------------------------------ */

#define ARENA_BLOCK (64u * 1024u)

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
};

/* Zeroed memory that lives until arena_free(), or NULL. */
static void *arena_alloc(struct arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	struct arena_block *b = a->head;
	void *ptr;

	if (size > SIZE_MAX / 4)
		return NULL;
	size = size ? (size + align - 1) / align * align : align;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	ptr = (char *)b->data + b->used;
	b->used += size;
	memset(ptr, 0, size);
	return ptr;
}

static void arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* ---- Problems --------------------------------------------------------- */

void cb_protocol_problems_init(struct cb_protocol_problems *pr)
{
	pr->count = 0;
	pr->total = 0;
	pr->msgs = NULL;
}

void cb_protocol_problems_release(struct cb_protocol_problems *pr)
{
	size_t i;

	if (!pr)
		return;
	for (i = 0; i < pr->count; i++)
		free(pr->msgs[i]);
	free(pr->msgs);
	cb_protocol_problems_init(pr);
}

/* Keep one message; returns CB_ENOMEM when it could not be stored. */
static int problems_add(struct cb_protocol_problems *pr, const char *msg)
{
	char *copy;

	pr->total++;
	if (pr->count >= CB_PROTOCOL_PROBLEMS_MAX)
		return 0;
	if (!pr->msgs) {
		pr->msgs = calloc(CB_PROTOCOL_PROBLEMS_MAX, sizeof(*pr->msgs));
		if (!pr->msgs)
			return CB_ENOMEM;
	}
	copy = strdup(msg);
	if (!copy)
		return CB_ENOMEM;
	pr->msgs[pr->count++] = copy;
	return 0;
}

/* ---- Names ------------------------------------------------------------ */

static const char *const type_names[] = {
    [CB_ITEM_INTEGER] = "integer",
    [CB_ITEM_DECIMAL] = "decimal",
    [CB_ITEM_TEXT] = "text",
    [CB_ITEM_DATE] = "date",
    [CB_ITEM_PARTIAL_DATE] = "partial_date",
    [CB_ITEM_DATETIME] = "datetime",
    [CB_ITEM_CHOICE] = "choice",
    [CB_ITEM_BOOLEAN] = "boolean",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

static const char *const op_names[] = {
    [CB_CMP_EQ] = "=",
    [CB_CMP_NE] = "!=",
    [CB_CMP_LT] = "<",
    [CB_CMP_LE] = "<=",
    [CB_CMP_GT] = ">",
    [CB_CMP_GE] = ">=",
    [CB_CMP_IN] = "in",
    [CB_CMP_NOT_IN] = "not_in",
    [CB_CMP_PRESENT] = "present",
    [CB_CMP_ABSENT] = "absent",
};
#define NOPS (sizeof(op_names) / sizeof(op_names[0]))

static const char *const check_type_names[] = {
    [CB_CHECK_REQUIRED] = "required",
    [CB_CHECK_FORBIDDEN] = "forbidden",
    [CB_CHECK_COMPARE] = "compare",
    [CB_CHECK_AT_LEAST_ONE] = "at_least_one",
    [CB_CHECK_VISIT_WINDOW] = "visit_window",
    [CB_CHECK_CONDITION] = "condition",
    [CB_CHECK_NOT_FUTURE] = "not_future",
    [CB_CHECK_AGE] = "age",
};
#define NCHECKTYPES (sizeof(check_type_names) / sizeof(check_type_names[0]))

static const struct {
	unsigned bit;
	const char *name;
} writer_names[] = {
    {CB_WRITER_COORDINATOR, "coordinator"},
    {CB_WRITER_INVESTIGATOR, "investigator"},
    {CB_WRITER_DATAMANAGER, "datamanager"},
    {CB_WRITER_MONITOR, "monitor"},
    {CB_WRITER_STATISTICIAN, "statistician"},
    {CB_WRITER_DSMB, "dsmb"},
    {CB_WRITER_LAB, "lab"},
    {CB_WRITER_SYSTEM, "system"},
};
#define NWRITERS (sizeof(writer_names) / sizeof(writer_names[0]))

const char *cb_item_type_name(enum cb_item_type t)
{
	return (size_t)t < NTYPES ? type_names[t] : "?";
}

const char *cb_cmp_op_name(enum cb_cmp_op op)
{
	return (size_t)op < NOPS ? op_names[op] : "?";
}

const char *cb_check_type_name(enum cb_check_type t)
{
	return (size_t)t < NCHECKTYPES ? check_type_names[t] : "?";
}

const char *cb_writer_name(unsigned bit)
{
	size_t i;

	for (i = 0; i < NWRITERS; i++)
		if (writer_names[i].bit == bit)
			return writer_names[i].name;
	return "";
}

unsigned cb_protocol_writer_bit(const char *name)
{
	size_t i;

	if (!name)
		return 0;
	for (i = 0; i < NWRITERS; i++)
		if (!strcmp(writer_names[i].name, name))
			return writer_names[i].bit;
	return 0;
}

/* ---- Lookups ---------------------------------------------------------- */

const struct cb_protocol_visit *
cb_protocol_find_visit(const struct cb_protocol *p, const char *code)
{
	size_t i;

	if (!p || !code)
		return NULL;
	for (i = 0; i < p->nvisits; i++)
		if (p->visits[i].code && !strcmp(p->visits[i].code, code))
			return &p->visits[i];
	return NULL;
}

const struct cb_protocol_form *
cb_protocol_find_form(const struct cb_protocol *p, const char *code)
{
	size_t i;

	if (!p || !code)
		return NULL;
	for (i = 0; i < p->nforms; i++)
		if (p->forms[i].code && !strcmp(p->forms[i].code, code))
			return &p->forms[i];
	return NULL;
}

const struct cb_protocol_arm *cb_protocol_find_arm(const struct cb_protocol *p,
						   const char *code)
{
	size_t i;

	if (!p || !code)
		return NULL;
	for (i = 0; i < p->narms; i++)
		if (p->arms[i].code && !strcmp(p->arms[i].code, code))
			return &p->arms[i];
	return NULL;
}

const struct cb_protocol_item *
cb_protocol_find_item(const struct cb_protocol_form *form, const char *code)
{
	size_t i;

	if (!form || !code)
		return NULL;
	for (i = 0; i < form->nitems; i++)
		if (form->items[i].code && !strcmp(form->items[i].code, code))
			return &form->items[i];
	return NULL;
}

const struct cb_protocol_item *
cb_protocol_find_item_path(const struct cb_protocol *p, const char *form_item)
{
	char code[CB_PROTOCOL_CODE_MAX + 1];
	const char *dot;
	size_t n;

	if (!form_item)
		return NULL;
	dot = strchr(form_item, '.');
	if (!dot)
		return NULL;
	n = (size_t)(dot - form_item);
	if (n == 0 || n > CB_PROTOCOL_CODE_MAX)
		return NULL;
	memcpy(code, form_item, n);
	code[n] = '\0';
	return cb_protocol_find_item(cb_protocol_find_form(p, code), dot + 1);
}

int cb_protocol_visit_has_form(const struct cb_protocol_visit *visit,
			       const struct cb_protocol_form *form)
{
	size_t i;

	if (!visit || !form)
		return 0;
	for (i = 0; i < visit->nforms; i++)
		if (visit->forms[i] == form)
			return 1;
	return 0;
}

const struct cb_protocol_item *
cb_protocol_visit_date_item(const struct cb_protocol *p,
			    const struct cb_protocol_visit *v)
{
	size_t i;
	int pass;

	if (!v->scheduled)
		return NULL;
	/* First a window check on the day-0 item's form (the visit form),
	 * then any: another form's window (the randomization's, say) does
	 * not make its date the visit's. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->nchecks; i++) {
			const struct cb_protocol_check *c = &p->checks[i];

			if (c->type != CB_CHECK_VISIT_WINDOW || !c->form ||
			    !c->item || c->form->repeating ||
			    !cb_protocol_visit_has_form(v, c->form))
				continue;
			if (pass == 1 || c->form == p->day0.form)
				return c->item;
		}
	if (p->day0.form && p->day0.item && !p->day0.form->repeating &&
	    cb_protocol_visit_has_form(v, p->day0.form))
		return p->day0.item;
	return NULL;
}

int cb_protocol_form_writable(const struct cb_protocol_form *form,
			      const char *role)
{
	unsigned bit = cb_protocol_writer_bit(role);

	return form && bit && (form->writers & bit);
}

int cb_protocol_form_has_unblinded(const struct cb_protocol_form *form)
{
	size_t i;

	if (!form)
		return 0;
	for (i = 0; i < form->nitems; i++)
		if (form->items[i].unblinded)
			return 1;
	return 0;
}

/* ---- Text helpers ----------------------------------------------------- */

/*
 * Count the code points of UTF-8 text into *n. Returns 0 for text that is
 * not well-formed UTF-8 (overlong forms, surrogates, beyond U+10FFFF).
 */
static int utf8_length(const char *s, size_t *n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t count = 0;

	while (*u) {
		unsigned c = *u, cp;
		int more, k;

		if (c < 0x80) {
			u++;
			count++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (k = 1; k <= more; k++) {
			if ((u[k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (u[k] & 0x3f);
		}
		if ((more == 2 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		u += more + 1;
		count++;
	}
	*n = count;
	return 1;
}

/* A code: a letter, then letters, digits or '_', at most CODE_MAX bytes. */
static int valid_code(const char *s)
{
	size_t i;

	if (!s || !isalpha((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return i <= CB_PROTOCOL_CODE_MAX;
}

/* A choice code: printable ASCII without space, quote or '#'. */
static int valid_choice_code(const char *s)
{
	size_t i;

	if (!s || !s[0])
		return 0;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
			return 0;
	}
	return i <= CB_PROTOCOL_CODE_MAX;
}

/* Write a number the way the file would: 100, 2.5, -28. */
static void num_text(double v, char *out, size_t cap)
{
	if (floor(v) == v && fabs(v) < 1e15)
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.15g", v);
}

/* "0 to 100", "at least 0", "at most 6" into out. */
static void range_text(const struct cb_protocol_range *r, char *out, size_t cap)
{
	char lo[NUM_TEXT], hi[NUM_TEXT];

	num_text(r->min, lo, sizeof(lo));
	num_text(r->max, hi, sizeof(hi));
	if (r->has_min && r->has_max)
		snprintf(out, cap, "%s to %s", lo, hi);
	else if (r->has_min)
		snprintf(out, cap, "at least %s", lo);
	else if (r->has_max)
		snprintf(out, cap, "at most %s", hi);
	else
		snprintf(out, cap, "any value");
}

/* ---- Values ----------------------------------------------------------- */

static const struct cb_protocol_choice yes_no[] = {
    {"Y", "Yes"},
    {"N", "No"},
};

/* "FORM.ITEM" for messages. */
static void item_name(const struct cb_protocol_item *item, char *out,
		      size_t cap)
{
	if (item->form && item->form->code)
		snprintf(out, cap, "%s.%s", item->form->code, item->code);
	else
		snprintf(out, cap, "%s", item->code ? item->code : "?");
}

/*
 * Digits of a number: optional '-', an integer part without leading
 * zeros, and when `frac_max` > 0 an optional '.' with 1..frac_max digits.
 * Returns 1 when well formed, with the digit counts.
 */
static int number_syntax(const char *s, int frac_max, size_t *int_digits,
			 size_t *frac_digits, int *has_point)
{
	size_t i = 0, n = 0, f = 0;

	*has_point = 0;
	if (s[i] == '-')
		i++;
	while (isdigit((unsigned char)s[i + n]))
		n++;
	if (n == 0 || (n > 1 && s[i] == '0'))
		return 0;
	i += n;
	if (s[i] == '.') {
		*has_point = 1;
		i++;
		while (isdigit((unsigned char)s[i + f]))
			f++;
		if (f == 0)
			return 0;
		i += f;
		if (frac_max <= 0)
			return 0;
	}
	*int_digits = n;
	*frac_digits = f;
	return s[i] == '\0';
}

/*
 * The format part of cb_protocol_check_value: no range. The item's name
 * and the quoted value are only for the message; err NULL asks for the
 * code alone.
 */
static int format_problem(const struct cb_protocol_item *item, const char *v,
			  const char *name, const char *q, struct cb_err *err)
{
	size_t nint, nfrac, len, i;
	int point, rc;

	if (!v[0])
		return cb_err_set(
		    err, CB_EINVAL,
		    "%s: empty value (leave the item missing instead)", name);
	switch (item->type) {
	case CB_ITEM_INTEGER:
		if (!number_syntax(v, 0, &nint, &nfrac, &point) ||
		    !strcmp(v, "-0"))
			return cb_err_set(err, CB_EINVAL,
					  "%s: \"%s\" is not an integer "
					  "(digits, optionally after '-')",
					  name, q);
		if (nint > INT_DIGITS_MAX)
			return cb_err_set(err, CB_EINVAL,
					  "%s: \"%s\" has more than %d digits",
					  name, q, INT_DIGITS_MAX);
		return 0;
	case CB_ITEM_DECIMAL:
		if (!number_syntax(v, CB_PROTOCOL_PRECISION_MAX + 100, &nint,
				   &nfrac, &point))
			return cb_err_set(err, CB_EINVAL,
					  "%s: \"%s\" is not a decimal number "
					  "(like 12 or 12.5)",
					  name, q);
		if (nfrac > (size_t)item->precision) {
			if (item->precision == 0)
				return cb_err_set(
				    err, CB_EINVAL,
				    "%s: \"%s\" must be a whole number", name,
				    q);
			return cb_err_set(err, CB_EINVAL,
					  "%s: \"%s\" has more than %d decimal "
					  "place%s",
					  name, q, item->precision,
					  item->precision == 1 ? "" : "s");
		}
		if (nint > INT_DIGITS_MAX)
			return cb_err_set(err, CB_EINVAL,
					  "%s: \"%s\" has more than %d digits",
					  name, q, INT_DIGITS_MAX);
		if (v[0] == '-' && strtod(v, NULL) == 0)
			return cb_err_set(
			    err, CB_EINVAL,
			    "%s: \"%s\": write zero without a sign", name, q);
		return 0;
	case CB_ITEM_TEXT:
		if (!utf8_length(v, &len))
			return cb_err_set(err, CB_EINVAL,
					  "%s: text is not valid UTF-8", name);
		for (i = 0; v[i]; i++) {
			unsigned char c = (unsigned char)v[i];

			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				return cb_err_set(err, CB_EINVAL,
						  "%s: text holds a control "
						  "character (byte %zu)",
						  name, i + 1);
		}
		if (len > item->max_length)
			return cb_err_set(
			    err, CB_EINVAL,
			    "%s: text is %zu characters long, over "
			    "the limit of %zu",
			    name, len, item->max_length);
		return 0;
	case CB_ITEM_DATE: {
		struct cb_date d;

		rc = cb_date_parse_full(v, &d, err);
		return rc ? cb_err_prefix(err, "%s: ", name) : 0;
	}
	case CB_ITEM_PARTIAL_DATE: {
		struct cb_date d;

		rc = cb_date_parse(v, &d, err);
		return rc ? cb_err_prefix(err, "%s: ", name) : 0;
	}
	case CB_ITEM_DATETIME: {
		struct cb_datetime dt;

		rc = cb_datetime_parse(v, &dt, err);
		return rc ? cb_err_prefix(err, "%s: ", name) : 0;
	}
	case CB_ITEM_CHOICE: {
		char list[CB_PROTOCOL_PROBLEM_LEN];
		size_t used = 0;

		for (i = 0; i < item->nchoices; i++)
			if (!strcmp(item->choices[i].code, v))
				return 0;
		list[0] = '\0';
		for (i = 0; i < item->nchoices && used + 8 < sizeof(list);
		     i++) {
			int n =
			    snprintf(list + used, sizeof(list) - used, "%s%s",
				     i ? ", " : "", item->choices[i].code);

			if (n < 0)
				break;
			used += (size_t)n;
		}
		if (used >= sizeof(list))
			memcpy(list + sizeof(list) - 4, "...", 4);
		return cb_err_set(err, CB_EINVAL, "%s: \"%s\" is not one of %s",
				  name, q, list);
	}
	case CB_ITEM_BOOLEAN:
		if (!strcmp(v, "Y") || !strcmp(v, "N"))
			return 0;
		return cb_err_set(err, CB_EINVAL, "%s: \"%s\" is not Y or N",
				  name, q);
	}
	return cb_err_set(err, CB_EINVAL, "%s: unknown item type", name);
}

/* The format part of cb_protocol_check_value, described in err. Most
 * values pass: they are checked before a name or a quote is made. */
static int check_format(const struct cb_protocol_item *item, const char *v,
			struct cb_err *err)
{
	char name[2 * CB_PROTOCOL_CODE_MAX + 2], q[QUOTE_LEN];

	if (!format_problem(item, v, "", "", NULL))
		return 0;
	item_name(item, name, sizeof(name));
	cb_err_quote(v, q, sizeof(q));
	return format_problem(item, v, name, q, err);
}

static int outside(const struct cb_protocol_range *r, double v)
{
	return (r->has_min && v < r->min) || (r->has_max && v > r->max);
}

int cb_protocol_check_value(const struct cb_protocol_item *item,
			    const char *value, int *soft, struct cb_err *err)
{
	char name[2 * CB_PROTOCOL_CODE_MAX + 2], allowed[2 * NUM_TEXT + 16];
	double v;
	int rc;

	if (soft)
		*soft = 0;
	if (!item)
		return cb_err_set(err, CB_EINVAL, "no item");
	if (!value)
		return 0;
	rc = check_format(item, value, err);
	if (rc)
		return rc;
	if (item->type != CB_ITEM_INTEGER && item->type != CB_ITEM_DECIMAL)
		return 0;
	v = strtod(value, NULL);
	if (outside(&item->range, v)) {
		item_name(item, name, sizeof(name));
		range_text(&item->range, allowed, sizeof(allowed));
		return cb_err_set(err, CB_ECHECK,
				  "%s: %s is outside the allowed range %s%s%s",
				  name, value, allowed,
				  item->unit[0] ? " " : "", item->unit);
	}
	if (soft && outside(&item->soft, v))
		*soft = 1;
	return 0;
}

const char *cb_protocol_canonical_value(const struct cb_protocol_item *item,
					const char *value)
{
	size_t i;

	if (!item || !value ||
	    (item->type != CB_ITEM_CHOICE && item->type != CB_ITEM_BOOLEAN))
		return value;
	for (i = 0; i < item->nchoices; i++)
		if (!strcmp(item->choices[i].code, value))
			return value;
	/* The loader keeps a list's codes apart ignoring case, so at most
	 * one matches. */
	for (i = 0; i < item->nchoices; i++)
		if (!strcasecmp(item->choices[i].code, value))
			return item->choices[i].code;
	return value;
}

int cb_protocol_parse_target(const struct cb_protocol *p, const char *text,
			     const struct cb_protocol_form **form,
			     unsigned *instance, struct cb_err *err)
{
	char code[CB_PROTOCOL_CODE_MAX + 1], q[QUOTE_LEN];
	const struct cb_protocol_form *f;
	const char *hash, *num;
	size_t n, i;
	unsigned long inst = 0;

	*form = NULL;
	*instance = 0;
	if (!text)
		return cb_err_set(err, CB_EINVAL, "no form given");
	cb_err_quote(text, q, sizeof(q));
	hash = strchr(text, '#');
	n = hash ? (size_t)(hash - text) : strlen(text);
	if (n == 0 || n > CB_PROTOCOL_CODE_MAX)
		return cb_err_set(err, CB_ENOTFOUND, "unknown form \"%s\"", q);
	memcpy(code, text, n);
	code[n] = '\0';
	f = cb_protocol_find_form(p, code);
	if (!f)
		return cb_err_set(err, CB_ENOTFOUND, "unknown form \"%s\"", q);
	if (!hash) {
		if (f->repeating)
			return cb_err_set(
			    err, CB_EINVAL,
			    "form %s repeats: name an instance, as "
			    "in %s#1",
			    f->code, f->code);
		*form = f;
		return 0;
	}
	if (!f->repeating)
		return cb_err_set(err, CB_EINVAL,
				  "form %s does not repeat: write %s, without "
				  "\"#N\"",
				  f->code, f->code);
	num = hash + 1;
	for (i = 0; num[i]; i++) {
		if (!isdigit((unsigned char)num[i]) || i >= 4)
			break;
		inst = inst * 10 + (unsigned long)(num[i] - '0');
	}
	if (i == 0 || num[i] || num[0] == '0' || inst < 1 ||
	    inst > CB_PROTOCOL_REPEAT_MAX)
		return cb_err_set(
		    err, CB_EINVAL,
		    "\"%s\": the instance must be a number from 1 "
		    "to %d",
		    q, CB_PROTOCOL_REPEAT_MAX);
	*form = f;
	*instance = (unsigned)inst;
	return 0;
}

/* ---- The loader: context and JSON helpers ----------------------------- */

struct ld {
	struct arena *a;
	struct cb_protocol *p;
	struct cb_protocol_problems *pr;
	int oom;
	const cJSON *codelists;
	/* writable views of p's arrays */
	struct cb_protocol_visit *visits;
	struct cb_protocol_form *forms;
	struct cb_protocol_item *items;
	/* each form's JSON, for the passes after the forms (scores) */
	const cJSON **form_json;
};

static void prob(struct ld *ld, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void prob(struct ld *ld, const char *path, const char *fmt, ...)
{
	char msg[CB_PROTOCOL_PROBLEM_LEN];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s: ", path);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (problems_add(ld->pr, msg))
		ld->oom = 1;
}

static void *ld_alloc(struct ld *ld, size_t n, size_t size)
{
	void *ptr;

	if (size && n > SIZE_MAX / 4 / size) {
		ld->oom = 1;
		return NULL;
	}
	ptr = arena_alloc(ld->a, n * size);
	if (!ptr)
		ld->oom = 1;
	return ptr;
}

static const char *ld_dup(struct ld *ld, const char *s)
{
	size_t n = strlen(s);
	char *copy = ld_alloc(ld, n + 1, 1);

	if (!copy)
		return "";
	memcpy(copy, s, n + 1);
	return copy;
}

/* A path cut short ends in "..." rather than silently. */
static void path_cut(char *out, int n)
{
	if (n < 0 || n >= PATH_LEN)
		memcpy(out + PATH_LEN - 4, "...", 4);
}

static void path_key(char *out, const char *base, const char *key)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s.%s", base, key));
}

static void path_idx(char *out, const char *base, size_t i)
{
	path_cut(out, snprintf(out, PATH_LEN, "%s[%zu]", base, i));
}

enum want {
	W_STRING = cJSON_String,
	W_NUMBER = cJSON_Number,
	W_BOOL = cJSON_True | cJSON_False,
	W_ARRAY = cJSON_Array,
	W_OBJECT = cJSON_Object,
};

static const char *want_name(int want)
{
	switch (want) {
	case W_STRING:
		return "a string";
	case W_NUMBER:
		return "a number";
	case W_BOOL:
		return "true or false";
	case W_ARRAY:
		return "an array";
	case W_OBJECT:
		return "an object";
	case W_STRING | W_NUMBER:
		return "a string or a number";
	case W_STRING | W_ARRAY:
		return "a string or an array";
	default:
		return "another type";
	}
}

/*
 * Member `key` of obj when it has one of the `want` types; reports a
 * wrong type, and a missing member when `required`. NULL otherwise.
 */
static const cJSON *member(struct ld *ld, const cJSON *obj, const char *key,
			   int want, int required, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	char sub[PATH_LEN];

	path_key(sub, path, key);
	if (!it || cJSON_IsNull(it)) {
		if (required)
			prob(ld, sub, "missing (expected %s)", want_name(want));
		return NULL;
	}
	if (!(it->type & 0xff & want)) {
		prob(ld, sub, "expected %s, found %s", want_name(want),
		     cb_json_type_name(it));
		return NULL;
	}
	return it;
}

/* Report members not in `keys` (NULL-terminated) and repeated members. */
static void only_keys(struct ld *ld, const cJSON *obj, const char *path,
		      const char *const *keys)
{
	const cJSON *it, *prev;
	char sub[PATH_LEN];
	size_t k;

	for (it = obj ? obj->child : NULL; it; it = it->next) {
		if (!it->string)
			continue;
		path_key(sub, path, it->string);
		for (prev = obj->child; prev != it; prev = prev->next)
			if (prev->string && !strcmp(prev->string, it->string))
				break;
		if (prev != it) {
			prob(ld, sub, "member given twice");
			continue;
		}
		for (k = 0; keys[k]; k++)
			if (!strcmp(keys[k], it->string))
				break;
		if (!keys[k])
			prob(ld, sub, "unknown member");
	}
}

/* Is `j` an object? Reports it when not. */
static int is_object(struct ld *ld, const cJSON *j, const char *path)
{
	if (cJSON_IsObject(j))
		return 1;
	prob(ld, path, "expected an object, found %s", cb_json_type_name(j));
	return 0;
}

/* A string member copied into the arena; "" when absent or bad. */
static const char *get_text(struct ld *ld, const cJSON *obj, const char *key,
			    int required, const char *path)
{
	const cJSON *it = member(ld, obj, key, W_STRING, required, path);
	char sub[PATH_LEN];
	size_t n;

	if (!it)
		return "";
	path_key(sub, path, key);
	if (!utf8_length(it->valuestring, &n)) {
		prob(ld, sub, "not valid UTF-8");
		return "";
	}
	if (strlen(it->valuestring) > CB_PROTOCOL_LABEL_MAX) {
		prob(ld, sub, "longer than %d bytes", CB_PROTOCOL_LABEL_MAX);
		return "";
	}
	if (required && !it->valuestring[0]) {
		prob(ld, sub, "empty");
		return "";
	}
	return ld_dup(ld, it->valuestring);
}

/* A code member; "" when absent or bad, with the problem reported. */
static const char *get_code(struct ld *ld, const cJSON *obj, const char *key,
			    const char *path)
{
	const cJSON *it = member(ld, obj, key, W_STRING, 1, path);
	char sub[PATH_LEN], q[QUOTE_LEN];

	if (!it)
		return "";
	if (!valid_code(it->valuestring)) {
		path_key(sub, path, key);
		cb_err_quote(it->valuestring, q, sizeof(q));
		prob(ld, sub,
		     "\"%s\" is not a valid code (a letter, then letters, "
		     "digits or _, at most %d)",
		     q, CB_PROTOCOL_CODE_MAX);
		return "";
	}
	return ld_dup(ld, it->valuestring);
}

static int get_bool(struct ld *ld, const cJSON *obj, const char *key, int def,
		    const char *path)
{
	const cJSON *it = member(ld, obj, key, W_BOOL, 0, path);

	return it ? cJSON_IsTrue(it) : def;
}

/*
 * An integer member within lo..hi into *out. Returns 1 when present and
 * good, 0 when absent (reported if required) or bad (reported).
 */
static int get_int(struct ld *ld, const cJSON *obj, const char *key,
		   long long lo, long long hi, int required, long long *out,
		   const char *path)
{
	const cJSON *it = member(ld, obj, key, W_NUMBER, required, path);
	char sub[PATH_LEN];
	double v;

	if (!it)
		return 0;
	path_key(sub, path, key);
	v = it->valuedouble;
	if (!isfinite(v) || floor(v) != v) {
		prob(ld, sub, "expected an integer, found %g", v);
		return 0;
	}
	if (v < (double)lo || v > (double)hi) {
		prob(ld, sub, "%g is outside %lld..%lld", v, lo, hi);
		return 0;
	}
	*out = (long long)v;
	return 1;
}

/* An array member with at most `max` elements; NULL when absent/bad. */
static const cJSON *get_array(struct ld *ld, const cJSON *obj, const char *key,
			      int required, size_t max, const char *path)
{
	const cJSON *it = member(ld, obj, key, W_ARRAY, required, path);
	char sub[PATH_LEN];
	int n;

	if (!it)
		return NULL;
	n = cJSON_GetArraySize(it);
	if (n < 0 || (size_t)n > max) {
		path_key(sub, path, key);
		prob(ld, sub, "has %d entries, more than the limit of %zu", n,
		     max);
		return NULL;
	}
	return it;
}

static size_t array_size(const cJSON *a)
{
	int n = a ? cJSON_GetArraySize(a) : 0;

	return n > 0 ? (size_t)n : 0;
}

/*
 * The text of a constant: a JSON string as is, a JSON number written as
 * the file would ("35", "2.5"). NULL (reported) for anything else.
 */
static const char *const_text(struct ld *ld, const cJSON *j, const char *path,
			      char *buf, size_t cap)
{
	if (cJSON_IsString(j))
		return j->valuestring;
	if (cJSON_IsNumber(j) && isfinite(j->valuedouble)) {
		num_text(j->valuedouble, buf, cap);
		return buf;
	}
	prob(ld, path, "expected a string or a number, found %s",
	     cb_json_type_name(j));
	return NULL;
}

/* Validate a constant against an item's format; reports problems. */
static int const_ok(struct ld *ld, const struct cb_protocol_item *item,
		    const char *text, const char *path)
{
	struct cb_err e;

	cb_err_clear(&e);
	if (check_format(item, text, &e)) {
		prob(ld, path, "%s", e.msg);
		return 0;
	}
	return 1;
}

/* ---- Forms and items -------------------------------------------------- */

static int is_numeric(enum cb_item_type t)
{
	return t == CB_ITEM_INTEGER || t == CB_ITEM_DECIMAL;
}

static int is_datelike(enum cb_item_type t)
{
	return t == CB_ITEM_DATE || t == CB_ITEM_PARTIAL_DATE ||
	       t == CB_ITEM_DATETIME;
}

/* Types that compare with each other: numbers, dates, Y/N, text codes. */
static int type_class(enum cb_item_type t)
{
	if (is_numeric(t))
		return 1;
	if (is_datelike(t))
		return 2;
	if (t == CB_ITEM_BOOLEAN)
		return 3;
	return 4;
}

static int parse_type(const char *s, enum cb_item_type *out)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (!strcmp(type_names[i], s)) {
			*out = (enum cb_item_type)i;
			return 1;
		}
	return 0;
}

/* Choices from an array (of {"code","label"} or plain codes). */
static void load_choices(struct ld *ld, const cJSON *arr, const char *path,
			 struct cb_protocol_item *it)
{
	static const char *const keys[] = {"code", "label", NULL};
	struct cb_protocol_choice *ch;
	const cJSON *c;
	char sub[PATH_LEN], q[QUOTE_LEN];
	size_t n = array_size(arr), i = 0, k;

	if (n == 0) {
		prob(ld, path, "a choice item needs at least one choice");
		return;
	}
	if (n > CB_PROTOCOL_CHOICES_MAX) {
		prob(ld, path, "has %zu choices, more than the limit of %d", n,
		     CB_PROTOCOL_CHOICES_MAX);
		return;
	}
	ch = ld_alloc(ld, n, sizeof(*ch));
	if (!ch)
		return;
	cJSON_ArrayForEach(c, arr)
	{
		const char *code = NULL, *label = NULL;

		path_idx(sub, path, i);
		if (cJSON_IsString(c)) {
			code = c->valuestring;
			label = code;
		} else if (cJSON_IsObject(c)) {
			only_keys(ld, c, sub, keys);
			if (member(ld, c, "code", W_STRING, 1, sub)) {
				code = cb_json_str(c, "code");
				label = get_text(ld, c, "label", 0, sub);
				if (!label[0])
					label = code;
			}
		} else {
			prob(ld, sub,
			     "expected a string or an object, found %s",
			     cb_json_type_name(c));
		}
		ch[i].code = "";
		ch[i].label = "";
		if (code) {
			if (!valid_choice_code(code)) {
				cb_err_quote(code, q, sizeof(q));
				prob(ld, sub,
				     "\"%s\" is not a valid choice code (no "
				     "spaces or quotes, at most %d bytes)",
				     q, CB_PROTOCOL_CODE_MAX);
			} else {
				/* Values are typed in any case and stored
				 * as the list spells them, so two codes may
				 * not differ only in case. */
				for (k = 0; k < i; k++)
					if (!strcasecmp(ch[k].code, code))
						break;
				if (k < i && !strcmp(ch[k].code, code))
					prob(ld, sub,
					     "duplicate choice code \"%s\"",
					     code);
				else if (k < i)
					prob(ld, sub,
					     "choice codes \"%s\" and \"%s\" "
					     "differ only in case",
					     ch[k].code, code);
				ch[i].code = ld_dup(ld, code);
				ch[i].label = ld_dup(ld, label);
			}
		}
		i++;
	}
	it->nchoices = n;
	it->choices = ch;
}

/* Decimal places of v are at most `prec` (for ranges of decimal items). */
static int fits_precision(double v, int prec)
{
	double scaled = v * pow(10, prec);

	return fabs(scaled - round(scaled)) < 1e-6 * fmax(1, fabs(scaled));
}

static void load_range(struct ld *ld, const cJSON *item_json, const char *key,
		       const char *path, struct cb_protocol_item *it,
		       struct cb_protocol_range *r)
{
	static const char *const keys[] = {"min", "max", NULL};
	static const char *const ends[] = {"min", "max"};
	const cJSON *j = member(ld, item_json, key, W_OBJECT, 0, path);
	char sub[PATH_LEN], end[PATH_LEN], lo[NUM_TEXT], hi[NUM_TEXT];
	size_t e;

	if (!j)
		return;
	path_key(sub, path, key);
	if (!is_numeric(it->type)) {
		prob(ld, sub, "only integer and decimal items have a range");
		return;
	}
	only_keys(ld, j, sub, keys);
	for (e = 0; e < 2; e++) {
		const cJSON *v = member(ld, j, ends[e], W_NUMBER, 0, sub);
		double d;

		if (!v)
			continue;
		path_key(end, sub, ends[e]);
		d = v->valuedouble;
		if (!isfinite(d) || fabs(d) >= 1e15) {
			prob(ld, end, "%g is not a usable bound", d);
			continue;
		}
		if (it->type == CB_ITEM_INTEGER && floor(d) != d) {
			prob(ld, end,
			     "%g is not a whole number, as the integer "
			     "item's values are",
			     d);
			continue;
		}
		if (it->type == CB_ITEM_DECIMAL &&
		    !fits_precision(d, it->precision)) {
			prob(ld, end,
			     "%g has more decimal places than the "
			     "item's precision %d",
			     d, it->precision);
			continue;
		}
		if (e == 0) {
			r->has_min = 1;
			r->min = d;
		} else {
			r->has_max = 1;
			r->max = d;
		}
	}
	if (!r->has_min && !r->has_max && !ld->oom &&
	    !cJSON_GetObjectItemCaseSensitive(j, "min") &&
	    !cJSON_GetObjectItemCaseSensitive(j, "max"))
		prob(ld, sub, "a range needs \"min\", \"max\" or both");
	if (r->has_min && r->has_max && r->min > r->max) {
		num_text(r->min, lo, sizeof(lo));
		num_text(r->max, hi, sizeof(hi));
		path_key(end, sub, "min");
		prob(ld, end, "min %s is greater than max %s", lo, hi);
		r->has_min = r->has_max = 0;
	}
}

static void load_item(struct ld *ld, const cJSON *j, const char *path,
		      struct cb_protocol_form *form, size_t index)
{
	static const char *const keys[] = {
	    "code",	 "label",      "type",	"unit", "required", "blinding",
	    "precision", "max_length", "range", "soft", "choices",  NULL};
	struct cb_protocol_item *it =
	    (struct cb_protocol_item *)&form->items[index];
	const char *type, *blinding;
	const cJSON *ch;
	char sub[PATH_LEN], q[QUOTE_LEN], lo[NUM_TEXT], hi[NUM_TEXT];
	long long n;
	size_t k;

	it->code = "";
	it->label = "";
	it->unit = "";
	it->form = form;
	it->index = index;
	it->type = CB_ITEM_TEXT;
	if (!is_object(ld, j, path))
		return;
	only_keys(ld, j, path, keys);
	it->code = get_code(ld, j, "code", path);
	it->label = get_text(ld, j, "label", 0, path);
	if (!it->label[0])
		it->label = it->code;
	it->unit = get_text(ld, j, "unit", 0, path);
	it->required = get_bool(ld, j, "required", 0, path);
	for (k = 0; k < index; k++)
		if (it->code[0] && !strcmp(form->items[k].code, it->code)) {
			path_key(sub, path, "code");
			prob(ld, sub, "duplicate item code \"%s\" in form %s",
			     it->code, form->code);
			break;
		}

	type = cb_json_str(j, "type");
	if (!member(ld, j, "type", W_STRING, 1, path)) {
		type = NULL;
	} else if (!parse_type(type, &it->type)) {
		path_key(sub, path, "type");
		cb_err_quote(type, q, sizeof(q));
		prob(ld, sub,
		     "unknown type \"%s\" (integer, decimal, text, date, "
		     "partial_date, datetime, choice or boolean)",
		     q);
		type = NULL;
	}

	blinding = cb_json_str(j, "blinding");
	if (member(ld, j, "blinding", W_STRING, 0, path)) {
		if (!strcmp(blinding, "unblinded"))
			it->unblinded = 1;
		else if (strcmp(blinding, "blinded")) {
			path_key(sub, path, "blinding");
			cb_err_quote(blinding, q, sizeof(q));
			prob(ld, sub,
			     "\"%s\" is not \"blinded\" or \"unblinded\"", q);
		}
	}

	/* precision: decimal items only, and they must say it */
	path_key(sub, path, "precision");
	if (it->type == CB_ITEM_DECIMAL && type) {
		if (get_int(ld, j, "precision", 0, CB_PROTOCOL_PRECISION_MAX, 0,
			    &n, path))
			it->precision = (int)n;
		else if (!cJSON_GetObjectItemCaseSensitive(j, "precision"))
			prob(ld, sub,
			     "missing: a decimal item needs its number "
			     "of decimal places (0..%d)",
			     CB_PROTOCOL_PRECISION_MAX);
	} else if (cJSON_GetObjectItemCaseSensitive(j, "precision") && type) {
		prob(ld, sub, "only a decimal item has a precision");
	}

	/* max_length: text items only */
	path_key(sub, path, "max_length");
	if (it->type == CB_ITEM_TEXT) {
		it->max_length = CB_PROTOCOL_TEXT_DEFAULT;
		if (get_int(ld, j, "max_length", 1, CB_PROTOCOL_TEXT_MAX, 0, &n,
			    path))
			it->max_length = (size_t)n;
	} else if (cJSON_GetObjectItemCaseSensitive(j, "max_length") && type) {
		prob(ld, sub, "only a text item has a max_length");
	}

	/* ranges: integer and decimal only, soft inside hard */
	if (type) {
		load_range(ld, j, "range", path, it, &it->range);
		load_range(ld, j, "soft", path, it, &it->soft);
	}
	path_key(sub, path, "soft");
	if (it->soft.has_min && it->range.has_min &&
	    it->soft.min < it->range.min) {
		num_text(it->soft.min, lo, sizeof(lo));
		num_text(it->range.min, hi, sizeof(hi));
		prob(ld, sub, "soft min %s is below the hard range min %s", lo,
		     hi);
	}
	if (it->soft.has_max && it->range.has_max &&
	    it->soft.max > it->range.max) {
		num_text(it->soft.max, lo, sizeof(lo));
		num_text(it->range.max, hi, sizeof(hi));
		prob(ld, sub, "soft max %s is above the hard range max %s", lo,
		     hi);
	}

	/* choices: choice items, from a list or a named code list */
	path_key(sub, path, "choices");
	ch = cJSON_GetObjectItemCaseSensitive(j, "choices");
	if (it->type == CB_ITEM_BOOLEAN) {
		it->nchoices = 2;
		it->choices = yes_no;
		if (ch)
			prob(ld, sub,
			     "a boolean item's choices are always Y and N");
	} else if (it->type == CB_ITEM_CHOICE) {
		if (!ch || cJSON_IsNull(ch)) {
			prob(ld, sub,
			     "missing: a choice item needs its choices");
		} else if (cJSON_IsString(ch)) {
			const cJSON *list =
			    ld->codelists ? cJSON_GetObjectItemCaseSensitive(
						ld->codelists, ch->valuestring)
					  : NULL;

			cb_err_quote(ch->valuestring, q, sizeof(q));
			if (!cJSON_IsArray(list))
				prob(ld, sub, "unknown code list \"%s\"", q);
			else
				load_choices(ld, list, sub, it);
		} else if (cJSON_IsArray(ch)) {
			load_choices(ld, ch, sub, it);
		} else {
			prob(ld, sub,
			     "expected an array or a code list name, "
			     "found %s",
			     cb_json_type_name(ch));
		}
	} else if (ch && type) {
		prob(ld, sub, "only a choice item has choices");
	}
}

static const char *const role_list =
    "coordinator, investigator, datamanager, monitor, statistician, dsmb, "
    "lab or system";

static void load_writers(struct ld *ld, const cJSON *fj, const char *path,
			 struct cb_protocol_form *f)
{
	const cJSON *arr = get_array(ld, fj, "writers", 0, NWRITERS, path);
	const cJSON *w;
	char sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN];
	size_t i = 0;

	path_key(sub, path, "writers");
	if (!arr) {
		if (!cJSON_GetObjectItemCaseSensitive(fj, "writers"))
			f->writers =
			    CB_WRITER_COORDINATOR | CB_WRITER_INVESTIGATOR;
		return;
	}
	cJSON_ArrayForEach(w, arr)
	{
		unsigned bit;

		path_idx(el, sub, i++);
		if (!cJSON_IsString(w)) {
			prob(ld, el, "expected a role name, found %s",
			     cb_json_type_name(w));
			continue;
		}
		bit = cb_protocol_writer_bit(w->valuestring);
		cb_err_quote(w->valuestring, q, sizeof(q));
		if (!bit)
			prob(ld, el, "unknown role \"%s\" (%s)", q, role_list);
		else if (f->writers & bit)
			prob(ld, el, "role \"%s\" given twice", q);
		f->writers |= bit;
	}
	if (i == 0)
		prob(ld, sub, "a form needs at least one writer");
	else if ((f->writers & CB_WRITER_SYSTEM) &&
		 f->writers != CB_WRITER_SYSTEM)
		prob(ld, sub,
		     "\"system\" (the randomize command) must be the "
		     "form's only writer");
}

static void load_forms(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {
	    "code", "label", "repeating", "writers", "items", "scores", NULL};
	const cJSON *arr =
	    get_array(ld, root, "forms", 1, CB_PROTOCOL_FORMS_MAX, "$");
	const cJSON *fj;
	size_t nforms = array_size(arr), nitems = 0, i, k, at;
	char path[PATH_LEN], sub[PATH_LEN], el[PATH_LEN];

	if (arr && nforms == 0)
		prob(ld, "$.forms", "a protocol needs at least one form");
	cJSON_ArrayForEach(fj, arr)
	{
		const cJSON *items =
		    cJSON_GetObjectItemCaseSensitive(fj, "items");

		if (cJSON_IsArray(items) &&
		    array_size(items) <= CB_PROTOCOL_FORM_ITEMS_MAX)
			nitems += array_size(items);
	}
	ld->forms = ld_alloc(ld, nforms, sizeof(*ld->forms));
	ld->items = ld_alloc(ld, nitems, sizeof(*ld->items));
	ld->form_json = ld_alloc(ld, nforms, sizeof(*ld->form_json));
	if (ld->oom)
		return;
	ld->p->forms = ld->forms;
	ld->p->nforms = nforms;
	ld->p->items = ld->items;
	ld->p->nitems = nitems;

	i = 0;
	at = 0;
	cJSON_ArrayForEach(fj, arr)
	{
		struct cb_protocol_form *f = &ld->forms[i];
		const cJSON *items, *ij;

		path_idx(path, "$.forms", i);
		f->index = i;
		f->code = "";
		f->label = "";
		ld->form_json[i] = fj;
		i++;
		if (!is_object(ld, fj, path))
			continue;
		only_keys(ld, fj, path, keys);
		f->code = get_code(ld, fj, "code", path);
		f->label = get_text(ld, fj, "label", 1, path);
		f->repeating = get_bool(ld, fj, "repeating", 0, path);
		for (k = 0; k + 1 < i; k++)
			if (f->code[0] && !strcmp(ld->forms[k].code, f->code)) {
				path_key(sub, path, "code");
				prob(ld, sub, "duplicate form code \"%s\"",
				     f->code);
				break;
			}
		load_writers(ld, fj, path, f);

		items = get_array(ld, fj, "items", 1,
				  CB_PROTOCOL_FORM_ITEMS_MAX, path);
		path_key(sub, path, "items");
		if (items && array_size(items) == 0)
			prob(ld, sub, "a form needs at least one item");
		if (!items)
			continue;
		f->items = &ld->items[at];
		f->nitems = array_size(items);
		at += f->nitems;
		k = 0;
		cJSON_ArrayForEach(ij, items)
		{
			path_idx(el, sub, k);
			load_item(ld, ij, el, f, k);
			k++;
		}
	}
}

/* ---- Visits ----------------------------------------------------------- */

static void load_visits(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {"code",   "label", "day",
					   "window", "forms", NULL};
	const cJSON *arr =
	    get_array(ld, root, "visits", 1, CB_PROTOCOL_VISITS_MAX, "$");
	const cJSON *vj;
	size_t nvisits = array_size(arr), i = 0, k, j;
	char path[PATH_LEN], sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN];
	const struct cb_protocol_visit *prev_sched = NULL;
	size_t *nper;

	if (arr && nvisits == 0)
		prob(ld, "$.visits", "a protocol needs at least one visit");
	ld->visits = ld_alloc(ld, nvisits, sizeof(*ld->visits));
	if (ld->oom)
		return;
	ld->p->visits = ld->visits;
	ld->p->nvisits = nvisits;

	cJSON_ArrayForEach(vj, arr)
	{
		struct cb_protocol_visit *v = &ld->visits[i];
		const cJSON *win, *forms, *fc;
		const struct cb_protocol_form **list;
		long long day;
		int has_day;

		path_idx(path, "$.visits", i);
		v->index = i;
		v->code = "";
		v->label = "";
		i++;
		if (!is_object(ld, vj, path))
			continue;
		only_keys(ld, vj, path, keys);
		v->code = get_code(ld, vj, "code", path);
		v->label = get_text(ld, vj, "label", 1, path);
		for (k = 0; k + 1 < i; k++)
			if (v->code[0] &&
			    !strcmp(ld->visits[k].code, v->code)) {
				path_key(sub, path, "code");
				prob(ld, sub, "duplicate visit code \"%s\"",
				     v->code);
				break;
			}
		v->scheduled = strcmp(v->code, CB_PROTOCOL_LOG_VISIT) != 0;
		if (!v->scheduled) {
			if (cJSON_GetObjectItemCaseSensitive(vj, "day") ||
			    cJSON_GetObjectItemCaseSensitive(vj, "window"))
				prob(ld, path,
				     "the %s pseudo-visit has no day "
				     "or window",
				     CB_PROTOCOL_LOG_VISIT);
		} else {
			ld->p->nscheduled++;
			has_day = get_int(ld, vj, "day", -DAY_LIMIT, DAY_LIMIT,
					  1, &day, path);
			if (has_day)
				v->day = (int)day;
			v->low = v->high = v->day;
			path_key(sub, path, "window");
			win = member(ld, vj, "window", W_ARRAY, 1, path);
			if (win) {
				const cJSON *lo = cJSON_GetArrayItem(win, 0);
				const cJSON *hi = cJSON_GetArrayItem(win, 1);

				if (array_size(win) != 2 ||
				    !cJSON_IsNumber(lo) ||
				    !cJSON_IsNumber(hi) ||
				    floor(lo->valuedouble) != lo->valuedouble ||
				    floor(hi->valuedouble) != hi->valuedouble ||
				    fabs(lo->valuedouble) > DAY_LIMIT ||
				    fabs(hi->valuedouble) > DAY_LIMIT) {
					prob(ld, sub,
					     "expected [first day, last "
					     "day], two whole numbers");
				} else {
					v->low = (int)lo->valuedouble;
					v->high = (int)hi->valuedouble;
					if (v->low > v->high)
						prob(ld, sub,
						     "the window [%d, %d] ends "
						     "before it starts",
						     v->low, v->high);
					else if (has_day && (v->day < v->low ||
							     v->day > v->high))
						prob(ld, sub,
						     "the window [%d, %d] does "
						     "not hold the target day "
						     "%d",
						     v->low, v->high, v->day);
				}
			}
			if (has_day && prev_sched &&
			    v->day <= prev_sched->day) {
				path_key(sub, path, "day");
				prob(ld, sub,
				     "day %d is not after day %d of visit %s "
				     "(list scheduled visits in day order)",
				     v->day, prev_sched->day, prev_sched->code);
			}
			if (has_day)
				prev_sched = v;
		}

		forms =
		    get_array(ld, vj, "forms", 1, CB_PROTOCOL_FORMS_MAX, path);
		path_key(sub, path, "forms");
		if (forms && array_size(forms) == 0)
			prob(ld, sub, "a visit needs at least one form");
		if (!forms)
			continue;
		list = ld_alloc(ld, array_size(forms), sizeof(*list));
		if (!list)
			return;
		k = 0;
		cJSON_ArrayForEach(fc, forms)
		{
			const struct cb_protocol_form *f;

			path_idx(el, sub, k);
			if (!cJSON_IsString(fc)) {
				prob(ld, el, "expected a form code, found %s",
				     cb_json_type_name(fc));
				continue;
			}
			cb_err_quote(fc->valuestring, q, sizeof(q));
			f = cb_protocol_find_form(ld->p, fc->valuestring);
			if (!f) {
				prob(ld, el, "unknown form \"%s\"", q);
				continue;
			}
			for (j = 0; j < v->nforms; j++)
				if (list[j] == f)
					break;
			if (j < v->nforms) {
				prob(ld, el, "form %s listed twice", f->code);
				continue;
			}
			list[v->nforms++] = f;
			k++;
		}
		v->forms = list;
	}

	/* Each form's visits, in visit order; a form no visit holds is dead. */
	nper = calloc(ld->p->nforms ? ld->p->nforms : 1, sizeof(*nper));
	if (!nper) {
		ld->oom = 1;
		return;
	}
	for (i = 0; i < nvisits; i++)
		for (k = 0; k < ld->visits[i].nforms; k++)
			nper[ld->visits[i].forms[k]->index]++;
	for (j = 0; j < ld->p->nforms; j++) {
		struct cb_protocol_form *f = &ld->forms[j];
		const struct cb_protocol_visit **list;

		if (!nper[j]) {
			if (f->code[0] && arr) {
				path_idx(path, "$.forms", j);
				prob(ld, path,
				     "form %s is not held by any visit",
				     f->code);
			}
			continue;
		}
		list = ld_alloc(ld, nper[j], sizeof(*list));
		if (!list)
			break;
		for (i = 0; i < nvisits; i++)
			if (cb_protocol_visit_has_form(&ld->visits[i], f))
				list[f->nvisits++] = &ld->visits[i];
		f->visits = list;
	}
	free(nper);
}

/* ---- References and conditions ---------------------------------------- */

/* Where a reference is written, and so what its short forms mean. */
struct refctx {
	const struct cb_protocol_form *form;   /* "ITEM" is in this form */
	const struct cb_protocol_visit *visit; /* "FORM.ITEM" is at this visit;
						  NULL: every visit of form */
	int fixed;			       /* only VISIT.FORM.ITEM */
};

/* Split "A.B.C" into at most 3 codes; returns the count, 0 if malformed. */
static int split_ref(const char *s, char parts[3][CB_PROTOCOL_CODE_MAX + 1])
{
	int n = 0;
	size_t len;
	const char *dot;

	for (;;) {
		if (n == 3)
			return 0;
		dot = strchr(s, '.');
		len = dot ? (size_t)(dot - s) : strlen(s);
		if (len == 0 || len > CB_PROTOCOL_CODE_MAX)
			return 0;
		memcpy(parts[n], s, len);
		parts[n][len] = '\0';
		n++;
		if (!dot)
			return n;
		s = dot + 1;
	}
}

static int resolve_ref(struct ld *ld, const char *text, const char *path,
		       const struct refctx *c, struct cb_protocol_ref *out)
{
	char parts[3][CB_PROTOCOL_CODE_MAX + 1], q[QUOTE_LEN];
	const struct cb_protocol_visit *v = NULL;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *it;
	int n = split_ref(text, parts);
	size_t i;

	memset(out, 0, sizeof(*out));
	cb_err_quote(text, q, sizeof(q));
	if (n == 0) {
		prob(ld, path,
		     "\"%s\" is not ITEM, FORM.ITEM or "
		     "VISIT.FORM.ITEM",
		     q);
		return -1;
	}
	if (n < 3 && (c->fixed || (n == 1 && !c->form))) {
		prob(ld, path, "\"%s\": write VISIT.FORM.ITEM here", q);
		return -1;
	}
	if (n == 1) {
		it = cb_protocol_find_item(c->form, parts[0]);
		if (!it) {
			prob(ld, path, "unknown item \"%s\" in form %s", q,
			     c->form->code);
			return -1;
		}
		out->form = c->form;
		out->item = it;
		out->text = ld_dup(ld, text);
		return 0;
	}
	if (n == 3) {
		v = cb_protocol_find_visit(ld->p, parts[0]);
		if (!v) {
			prob(ld, path, "\"%s\": unknown visit \"%s\"", q,
			     parts[0]);
			return -1;
		}
	}
	f = cb_protocol_find_form(ld->p, parts[n - 2]);
	if (!f) {
		prob(ld, path, "\"%s\": unknown form \"%s\"", q, parts[n - 2]);
		return -1;
	}
	it = cb_protocol_find_item(f, parts[n - 1]);
	if (!it) {
		prob(ld, path, "unknown item \"%s\": form %s has no item %s", q,
		     f->code, parts[n - 1]);
		return -1;
	}
	if (v) {
		if (!cb_protocol_visit_has_form(v, f)) {
			prob(ld, path, "\"%s\": visit %s does not hold form %s",
			     q, v->code, f->code);
			return -1;
		}
		if (f->repeating) {
			prob(ld, path,
			     "\"%s\": form %s repeats, so a reference "
			     "cannot pick its instance",
			     q, f->code);
			return -1;
		}
	} else if (f != c->form) {
		if (f->repeating) {
			prob(ld, path,
			     "\"%s\": form %s repeats, so a reference "
			     "cannot pick its instance",
			     q, f->code);
			return -1;
		}
		if (c->visit && !cb_protocol_visit_has_form(c->visit, f)) {
			prob(ld, path, "\"%s\": visit %s does not hold form %s",
			     q, c->visit->code, f->code);
			return -1;
		}
		for (i = 0; !c->visit && c->form && i < c->form->nvisits; i++)
			if (!cb_protocol_visit_has_form(c->form->visits[i],
							f)) {
				prob(
				    ld, path,
				    "\"%s\": visit %s holds form %s but not %s "
				    "(write VISIT.FORM.ITEM)",
				    q, c->form->visits[i]->code, c->form->code,
				    f->code);
				return -1;
			}
	}
	out->visit = v;
	out->form = f;
	out->item = it;
	out->text = ld_dup(ld, text);
	return 0;
}

/* A string member that is a reference; -1 when absent or bad. */
static int ref_member(struct ld *ld, const cJSON *obj, const char *key,
		      const char *path, const struct refctx *c,
		      struct cb_protocol_ref *out)
{
	const cJSON *it = member(ld, obj, key, W_STRING, 1, path);
	char sub[PATH_LEN];

	memset(out, 0, sizeof(*out));
	if (!it)
		return -1;
	path_key(sub, path, key);
	return resolve_ref(ld, it->valuestring, sub, c, out);
}

static int parse_op(const char *s, enum cb_cmp_op *op)
{
	size_t i;

	for (i = 0; i < NOPS; i++)
		if (!strcmp(op_names[i], s)) {
			*op = (enum cb_cmp_op)i;
			return 1;
		}
	return 0;
}

/*
 * The comparison part of a condition or compare check in `j`: "item"
 * (already resolved into cond->left by the caller; left.item NULL means
 * "*"), "op", and "value", "values" or "other". Returns 0 or -1.
 */
static int load_compare(struct ld *ld, const cJSON *j, const char *path,
			const struct refctx *c, struct cb_protocol_cond *cond)
{
	const struct cb_protocol_item *left = cond->left.item;
	const cJSON *opj, *value, *values, *other, *vj;
	struct cb_protocol_value *vals;
	char sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN], buf[NUM_TEXT];
	int nforms, ordered, bad = 0;
	size_t i;

	cond->kind = CB_COND_COMPARE;
	opj = member(ld, j, "op", W_STRING, 1, path);
	path_key(sub, path, "op");
	if (!opj)
		return -1;
	if (!parse_op(opj->valuestring, &cond->op)) {
		cb_err_quote(opj->valuestring, q, sizeof(q));
		prob(ld, sub,
		     "unknown operator \"%s\" (=, !=, <, <=, >, >=, in, "
		     "not_in, present or absent)",
		     q);
		return -1;
	}
	ordered = cond->op >= CB_CMP_LT && cond->op <= CB_CMP_GE;
	if (left && ordered && !is_numeric(left->type) &&
	    !is_datelike(left->type)) {
		prob(ld, sub,
		     "\"%s\" needs a number or date item, and %s is %s",
		     op_names[cond->op], cond->left.text,
		     type_names[left->type]);
		bad = 1;
	}
	value = cJSON_GetObjectItemCaseSensitive(j, "value");
	values = cJSON_GetObjectItemCaseSensitive(j, "values");
	other = cJSON_GetObjectItemCaseSensitive(j, "other");
	nforms = !!value + !!values + !!other;

	if (cond->op == CB_CMP_PRESENT || cond->op == CB_CMP_ABSENT) {
		if (nforms) {
			prob(ld, path, "\"%s\" takes no value, values or other",
			     op_names[cond->op]);
			return -1;
		}
		if (!left) {
			prob(ld, sub,
			     "item \"*\" needs a comparison with "
			     "\"other\"");
			return -1;
		}
		return bad ? -1 : 0;
	}
	if (cond->op == CB_CMP_IN || cond->op == CB_CMP_NOT_IN) {
		if (value || other || !values) {
			prob(ld, path,
			     "\"%s\" needs \"values\", a list, and no "
			     "value or other",
			     op_names[cond->op]);
			return -1;
		}
	} else if (nforms != 1 || values) {
		prob(ld, path,
		     "\"%s\" needs exactly one of \"value\" or "
		     "\"other\"",
		     op_names[cond->op]);
		return -1;
	}

	if (other) {
		path_key(el, path, "other");
		if (!cJSON_IsString(other)) {
			prob(ld, el, "expected a reference, found %s",
			     cb_json_type_name(other));
			return -1;
		}
		if (resolve_ref(ld, other->valuestring, el, c, &cond->other))
			return -1;
		cond->has_other = 1;
		if (!left) {
			if (ordered && !is_numeric(cond->other.item->type) &&
			    !is_datelike(cond->other.item->type)) {
				prob(ld, sub,
				     "\"%s\" needs a number or date "
				     "item, and %s is %s",
				     op_names[cond->op], cond->other.text,
				     type_names[cond->other.item->type]);
				return -1;
			}
			return 0;
		}
		if (type_class(left->type) !=
		    type_class(cond->other.item->type)) {
			prob(ld, el, "cannot compare %s (%s) with %s (%s)",
			     cond->left.text, type_names[left->type],
			     cond->other.text,
			     type_names[cond->other.item->type]);
			return -1;
		}
		return bad ? -1 : 0;
	}

	if (!left) {
		prob(ld, path, "item \"*\" compares only with \"other\"");
		return -1;
	}
	if (value) {
		vals = ld_alloc(ld, 1, sizeof(*vals));
		if (!vals)
			return -1;
		path_key(el, path, "value");
		vals[0].text = const_text(ld, value, el, buf, sizeof(buf));
		if (!vals[0].text || !const_ok(ld, left, vals[0].text, el))
			return -1;
		vals[0].text = ld_dup(ld, vals[0].text);
		vals[0].num =
		    is_numeric(left->type) ? strtod(vals[0].text, NULL) : 0;
		cond->nvalues = 1;
		cond->values = vals;
		return bad ? -1 : 0;
	}
	path_key(sub, path, "values");
	if (!cJSON_IsArray(values) || array_size(values) == 0 ||
	    array_size(values) > CB_PROTOCOL_LIST_MAX) {
		prob(ld, sub, "expected a list of 1 to %d values",
		     CB_PROTOCOL_LIST_MAX);
		return -1;
	}
	vals = ld_alloc(ld, array_size(values), sizeof(*vals));
	if (!vals)
		return -1;
	i = 0;
	cJSON_ArrayForEach(vj, values)
	{
		const char *t;

		path_idx(el, sub, i);
		t = const_text(ld, vj, el, buf, sizeof(buf));
		if (!t || !const_ok(ld, left, t, el)) {
			bad = 1;
			continue;
		}
		vals[i].text = ld_dup(ld, t);
		vals[i].num = is_numeric(left->type) ? strtod(t, NULL) : 0;
		i++;
	}
	cond->nvalues = i;
	cond->values = vals;
	return bad ? -1 : 0;
}

static int load_cond(struct ld *ld, const cJSON *j, const char *path,
		     const struct refctx *c, int depth,
		     struct cb_protocol_cond *cond)
{
	static const char *const cmp_keys[] = {"item",	 "op",	  "value",
					       "values", "other", NULL};
	static const char *const all_keys[] = {"all", NULL};
	static const char *const any_keys[] = {"any", NULL};
	static const char *const not_keys[] = {"not", NULL};
	const cJSON *all, *any, *not ;
	struct cb_protocol_cond *sub;
	char spath[PATH_LEN], el[PATH_LEN];
	size_t i;
	int bad = 0;

	memset(cond, 0, sizeof(*cond));
	if (!is_object(ld, j, path))
		return -1;
	if (depth > CB_PROTOCOL_COND_DEPTH) {
		prob(ld, path, "conditions nest deeper than %d levels",
		     CB_PROTOCOL_COND_DEPTH);
		return -1;
	}
	all = cJSON_GetObjectItemCaseSensitive(j, "all");
	any = cJSON_GetObjectItemCaseSensitive(j, "any");
	not = cJSON_GetObjectItemCaseSensitive(j, "not");
	if (!!all + !!any +
		!!not +!!cJSON_GetObjectItemCaseSensitive(j, "item") !=
	    1) {
		prob(ld, path,
		     "a condition has exactly one of \"item\", "
		     "\"all\", \"any\" or \"not\"");
		return -1;
	}
	if (not ) {
		only_keys(ld, j, path, not_keys);
		path_key(spath, path, "not");
		sub = ld_alloc(ld, 1, sizeof(*sub));
		if (!sub)
			return -1;
		cond->kind = CB_COND_NOT;
		cond->nsub = 1;
		cond->sub = sub;
		return load_cond(ld, not, spath, c, depth + 1, sub);
	}
	if (all || any) {
		only_keys(ld, j, path, all ? all_keys : any_keys);
		path_key(spath, path, all ? "all" : "any");
		if (!cJSON_IsArray(all ? all : any) ||
		    array_size(all ? all : any) == 0 ||
		    array_size(all ? all : any) > CB_PROTOCOL_LIST_MAX) {
			prob(ld, spath, "expected a list of 1 to %d conditions",
			     CB_PROTOCOL_LIST_MAX);
			return -1;
		}
		cond->kind = all ? CB_COND_ALL : CB_COND_ANY;
		cond->nsub = array_size(all ? all : any);
		sub = ld_alloc(ld, cond->nsub, sizeof(*sub));
		if (!sub)
			return -1;
		cond->sub = sub;
		for (i = 0; i < cond->nsub; i++) {
			path_idx(el, spath, i);
			if (load_cond(
				ld, cJSON_GetArrayItem(all ? all : any, (int)i),
				el, c, depth + 1, &sub[i]))
				bad = 1;
		}
		return bad ? -1 : 0;
	}
	only_keys(ld, j, path, cmp_keys);
	if (ref_member(ld, j, "item", path, c, &cond->left))
		return -1;
	return load_compare(ld, j, path, c, cond);
}

/* An optional condition member; NULL when absent or bad (*bad set). */
static const struct cb_protocol_cond *
cond_member(struct ld *ld, const cJSON *obj, const char *key, int required,
	    const char *path, const struct refctx *c, int *bad)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
	struct cb_protocol_cond *cond;
	char sub[PATH_LEN];

	path_key(sub, path, key);
	if (!j || cJSON_IsNull(j)) {
		if (required) {
			prob(ld, sub, "missing (expected a condition)");
			*bad = 1;
		}
		return NULL;
	}
	cond = ld_alloc(ld, 1, sizeof(*cond));
	if (!cond)
		return NULL;
	if (load_cond(ld, j, sub, c, 0, cond)) {
		*bad = 1;
		return NULL;
	}
	return cond;
}

/* ---- Day 0 and scores ------------------------------------------------- */

static void load_day0(struct ld *ld, const cJSON *root)
{
	const struct refctx fixed = {NULL, NULL, 1};
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "day0");
	struct cb_protocol_ref *r = &ld->p->day0;

	if (!j) {
		if (ld->p->nscheduled)
			prob(ld, "$.day0",
			     "missing: scheduled visits need the "
			     "date item their windows count from "
			     "(VISIT.FORM.ITEM)");
		return;
	}
	if (ref_member(ld, root, "day0", "$", &fixed, r))
		return;
	if (r->item->type != CB_ITEM_DATE &&
	    r->item->type != CB_ITEM_DATETIME) {
		prob(ld, "$.day0",
		     "%s is %s; day 0 must be a date or datetime "
		     "item",
		     r->text, type_names[r->item->type]);
		memset(r, 0, sizeof(*r));
		return;
	}
	if (!r->visit->scheduled)
		prob(ld, "$.day0",
		     "%s is at the %s pseudo-visit; day 0 must be "
		     "at a scheduled visit",
		     r->text, CB_PROTOCOL_LOG_VISIT);
	else if (r->visit->day != 0)
		prob(ld, "$.day0",
		     "%s is at visit %s, whose target day is %d, "
		     "not 0",
		     r->text, r->visit->code, r->visit->day);
}

static void load_scores(struct ld *ld, size_t fi)
{
	static const char *const keys[] = {"method", "name", "items", NULL};
	struct cb_protocol_form *f = &ld->forms[fi];
	const cJSON *fj = ld->form_json[fi], *arr, *sj, *map, *mj;
	struct cb_protocol_score *scores;
	char path[PATH_LEN], sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN];
	size_t i = 0, k, m;

	if (!cJSON_IsObject(fj))
		return;
	path_idx(path, "$.forms", fi);
	arr = get_array(ld, fj, "scores", 0, CB_PROTOCOL_LIST_MAX, path);
	if (!arr || array_size(arr) == 0)
		return;
	path_key(sub, path, "scores");
	scores = ld_alloc(ld, array_size(arr), sizeof(*scores));
	if (!scores)
		return;
	cJSON_ArrayForEach(sj, arr)
	{
		struct cb_protocol_score *s = &scores[i];
		const struct cb_protocol_item **items;
		const char *mname;
		char spath[PATH_LEN];

		path_idx(spath, sub, i);
		i++;
		s->name = "";
		if (!is_object(ld, sj, spath))
			continue;
		only_keys(ld, sj, spath, keys);
		mname = cb_json_str(sj, "method");
		if (!member(ld, sj, "method", W_STRING, 1, spath))
			continue;
		s->method = cb_score_method_find(mname);
		if (!s->method) {
			const struct cb_score_method *const *all =
			    cb_score_methods();
			char list[200];
			size_t used = 0;

			list[0] = '\0';
			for (; *all && used < sizeof(list); all++) {
				int n = snprintf(
				    list + used, sizeof(list) - used, "%s%s",
				    used ? ", " : "", (*all)->name);
				if (n < 0)
					break;
				used += (size_t)n;
			}
			path_key(el, spath, "method");
			cb_err_quote(mname, q, sizeof(q));
			prob(ld, el, "unknown scoring method \"%s\" (%s)", q,
			     list);
			continue;
		}
		s->name = get_text(ld, sj, "name", 0, spath);
		if (!s->name[0])
			s->name = s->method->name;
		for (k = 0; k + 1 < i; k++)
			if (!strcmp(scores[k].name, s->name)) {
				prob(ld, spath, "two scores named \"%s\"",
				     s->name);
				break;
			}
		items = ld_alloc(ld, s->method->nitems, sizeof(*items));
		if (!items)
			return;
		map = member(ld, sj, "items", W_OBJECT, 0, spath);
		path_key(el, spath, "items");
		/* Every mapping key must be a method item. */
		cJSON_ArrayForEach(mj, map)
		{
			char mpath[PATH_LEN];
			int idx = cb_score_item_index(s->method, mj->string);

			path_key(mpath, el, mj->string);
			if (idx < 0) {
				cb_err_quote(mj->string, q, sizeof(q));
				prob(ld, mpath, "method %s has no item \"%s\"",
				     s->method->name, q);
			} else if (!cJSON_IsString(mj)) {
				prob(ld, mpath,
				     "expected an item code of form "
				     "%s, found %s",
				     f->code, cb_json_type_name(mj));
			}
		}
		for (m = 0; m < s->method->nitems; m++) {
			const char *mi = s->method->items[m], *code = mi;
			const struct cb_protocol_item *it;
			char mpath[PATH_LEN];

			/* the mapping names it (any case), else the same code
			 */
			cJSON_ArrayForEach(
			    mj, map) if (!strcasecmp(mj->string, mi) &&
					 cJSON_IsString(mj)) code =
			    mj->valuestring;
			path_key(mpath, el, mi);
			it = cb_protocol_find_item(f, code);
			if (!it) {
				cb_err_quote(code, q, sizeof(q));
				prob(ld, map ? mpath : spath,
				     "unknown item \"%s\" in form %s for %s "
				     "item %s",
				     q, f->code, s->method->name, mi);
				continue;
			}
			for (k = 0; k < m; k++)
				if (items[k] == it)
					prob(ld, map ? mpath : spath,
					     "item %s is mapped to both %s and "
					     "%s",
					     it->code, s->method->items[k], mi);
			if (it->type != CB_ITEM_INTEGER) {
				prob(ld, map ? mpath : spath,
				     "%s.%s is %s; %s items are integers",
				     f->code, it->code, type_names[it->type],
				     s->method->name);
			} else if (!it->range.has_min || !it->range.has_max ||
				   it->range.min < s->method->item_min ||
				   it->range.max > s->method->item_max) {
				prob(ld, map ? mpath : spath,
				     "%s.%s needs a range within %d to %d, as "
				     "%s item %s",
				     f->code, it->code, s->method->item_min,
				     s->method->item_max, s->method->name, mi);
			}
			items[m] = it;
		}
		s->items = items;
	}
	f->nscores = i;
	f->scores = scores;
}

/* ---- Arms, randomization, strata -------------------------------------- */

static void load_arms(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {"code", "label", "ratio", NULL};
	const cJSON *arr =
	    get_array(ld, root, "arms", 0, CB_PROTOCOL_LIST_MAX, "$");
	const cJSON *aj;
	struct cb_protocol_arm *arms;
	char path[PATH_LEN], sub[PATH_LEN];
	size_t i = 0, k;
	long long ratio;

	if (!arr)
		return;
	if (array_size(arr) < 2) {
		prob(ld, "$.arms",
		     "a randomized study needs at least two arms");
		if (array_size(arr) == 0)
			return;
	}
	arms = ld_alloc(ld, array_size(arr), sizeof(*arms));
	if (!arms)
		return;
	cJSON_ArrayForEach(aj, arr)
	{
		struct cb_protocol_arm *a = &arms[i];

		path_idx(path, "$.arms", i);
		i++;
		a->code = "";
		a->label = "";
		if (!is_object(ld, aj, path))
			continue;
		only_keys(ld, aj, path, keys);
		a->code = get_code(ld, aj, "code", path);
		a->label = get_text(ld, aj, "label", 1, path);
		for (k = 0; k + 1 < i; k++)
			if (a->code[0] && !strcmp(arms[k].code, a->code)) {
				path_key(sub, path, "code");
				prob(ld, sub, "duplicate arm code \"%s\"",
				     a->code);
				break;
			}
		path_key(sub, path, "ratio");
		if (get_int(ld, aj, "ratio", 1, 100, 1, &ratio, path))
			a->ratio = (unsigned)ratio;
	}
	ld->p->arms = arms;
	ld->p->narms = i;
}

/* A bare item code of `form`, for sections that name items of one form. */
static const struct cb_protocol_item *
form_item_member(struct ld *ld, const cJSON *obj, const char *key, int required,
		 const struct cb_protocol_form *form, const char *path)
{
	const cJSON *j = member(ld, obj, key, W_STRING, required, path);
	const struct cb_protocol_item *it;
	char sub[PATH_LEN], q[QUOTE_LEN];

	if (!j || !form)
		return NULL;
	it = cb_protocol_find_item(form, j->valuestring);
	if (!it) {
		path_key(sub, path, key);
		cb_err_quote(j->valuestring, q, sizeof(q));
		prob(ld, sub, "unknown item \"%s\" in form %s", q, form->code);
	}
	return it;
}

/* "visit" and "form" members naming a form at a visit. */
static void visit_form_members(struct ld *ld, const cJSON *obj,
			       const char *path,
			       const struct cb_protocol_visit **visit,
			       const struct cb_protocol_form **form)
{
	const cJSON *vj = member(ld, obj, "visit", W_STRING, 1, path);
	const cJSON *fj = member(ld, obj, "form", W_STRING, 1, path);
	char sub[PATH_LEN], q[QUOTE_LEN];

	*visit = NULL;
	*form = NULL;
	if (vj) {
		*visit = cb_protocol_find_visit(ld->p, vj->valuestring);
		if (!*visit) {
			path_key(sub, path, "visit");
			cb_err_quote(vj->valuestring, q, sizeof(q));
			prob(ld, sub, "unknown visit \"%s\"", q);
		}
	}
	if (fj) {
		*form = cb_protocol_find_form(ld->p, fj->valuestring);
		path_key(sub, path, "form");
		cb_err_quote(fj->valuestring, q, sizeof(q));
		if (!*form)
			prob(ld, sub, "unknown form \"%s\"", q);
		else if (*visit && !cb_protocol_visit_has_form(*visit, *form))
			prob(ld, sub, "visit %s does not hold form %s",
			     (*visit)->code, (*form)->code);
		else if ((*form)->repeating)
			prob(ld, sub,
			     "form %s repeats; this needs a form filled "
			     "once",
			     (*form)->code);
	}
}

static void load_randomization(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {
	    "visit", "form", "number", "kit", "datetime", "block_sizes", NULL};
	const cJSON *j = member(ld, root, "randomization", W_OBJECT, 0, "$");
	const char *path = "$.randomization";
	struct cb_protocol *p = ld->p;
	const cJSON *bs, *b;
	unsigned *sizes, total = 0;
	char sub[PATH_LEN], el[PATH_LEN];
	size_t i, k;

	for (i = 0; i < p->narms; i++)
		total += p->arms[i].ratio;
	if (!j) {
		if (p->narms)
			prob(ld, "$.randomization",
			     "missing: arms need a "
			     "randomization section");
		return;
	}
	only_keys(ld, j, path, keys);
	if (!p->narms)
		prob(ld, path, "randomization needs \"arms\"");
	visit_form_members(ld, j, path, &p->rand_visit, &p->rand_form);
	if (p->rand_form && p->rand_form->writers != CB_WRITER_SYSTEM) {
		path_key(sub, path, "form");
		prob(ld, sub,
		     "the randomization form %s must have writers "
		     "[\"system\"], so only the randomize command "
		     "writes it",
		     p->rand_form->code);
	}
	p->rand_number =
	    form_item_member(ld, j, "number", 1, p->rand_form, path);
	p->rand_kit = form_item_member(ld, j, "kit", 1, p->rand_form, path);
	p->rand_datetime =
	    form_item_member(ld, j, "datetime", 0, p->rand_form, path);
	if (p->rand_number && p->rand_number->type != CB_ITEM_TEXT &&
	    p->rand_number->type != CB_ITEM_INTEGER) {
		path_key(sub, path, "number");
		prob(ld, sub, "%s is %s; expected a text or integer item",
		     p->rand_number->code, type_names[p->rand_number->type]);
	}
	if (p->rand_kit && p->rand_kit->type != CB_ITEM_TEXT &&
	    p->rand_kit->type != CB_ITEM_INTEGER) {
		path_key(sub, path, "kit");
		prob(ld, sub, "%s is %s; expected a text or integer item",
		     p->rand_kit->code, type_names[p->rand_kit->type]);
	}
	if (p->rand_datetime && !is_datelike(p->rand_datetime->type)) {
		path_key(sub, path, "datetime");
		prob(ld, sub, "%s is %s; expected a datetime item",
		     p->rand_datetime->code,
		     type_names[p->rand_datetime->type]);
	}
	bs = get_array(ld, j, "block_sizes", 1, CB_PROTOCOL_LIST_MAX, path);
	path_key(sub, path, "block_sizes");
	if (bs && array_size(bs) == 0)
		prob(ld, sub, "give at least one block size");
	if (!bs || array_size(bs) == 0)
		return;
	sizes = ld_alloc(ld, array_size(bs), sizeof(*sizes));
	if (!sizes)
		return;
	i = 0;
	cJSON_ArrayForEach(b, bs)
	{
		double v = cJSON_IsNumber(b) ? b->valuedouble : -1;

		path_idx(el, sub, i);
		if (!cJSON_IsNumber(b) || floor(v) != v || v < 1 ||
		    v > BLOCK_MAX) {
			prob(ld, el,
			     "a block size is a whole number from 1 to %d",
			     BLOCK_MAX);
			continue;
		}
		if (total && (unsigned)v % total) {
			prob(ld, el,
			     "block size %u is not a multiple of %u, the "
			     "sum of the arms' ratios",
			     (unsigned)v, total);
			continue;
		}
		for (k = 0; k < i; k++)
			if (sizes[k] == (unsigned)v)
				break;
		if (k < i) {
			prob(ld, el, "block size %u given twice", (unsigned)v);
			continue;
		}
		sizes[i++] = (unsigned)v;
	}
	p->block_sizes = sizes;
	p->nblock_sizes = i;
}

static void load_strata(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {"name", "item", "levels", NULL};
	const struct refctx fixed = {NULL, NULL, 1};
	const cJSON *arr =
	    get_array(ld, root, "strata", 0, CB_PROTOCOL_LIST_MAX, "$");
	const cJSON *sj, *lv, *l;
	struct cb_protocol_stratum *strata;
	char path[PATH_LEN], sub[PATH_LEN], el[PATH_LEN], buf[NUM_TEXT];
	size_t i = 0, k;

	if (!arr || array_size(arr) == 0)
		return;
	if (!ld->p->rand_form &&
	    !cJSON_GetObjectItemCaseSensitive(root, "randomization"))
		prob(ld, "$.strata", "strata need a randomization section");
	strata = ld_alloc(ld, array_size(arr), sizeof(*strata));
	if (!strata)
		return;
	cJSON_ArrayForEach(sj, arr)
	{
		struct cb_protocol_stratum *s = &strata[i];
		struct cb_protocol_ref r;
		const char **levels;

		path_idx(path, "$.strata", i);
		i++;
		s->name = "";
		if (!is_object(ld, sj, path))
			continue;
		only_keys(ld, sj, path, keys);
		s->name = get_code(ld, sj, "name", path);
		for (k = 0; k + 1 < i; k++)
			if (s->name[0] && !strcmp(strata[k].name, s->name)) {
				path_key(sub, path, "name");
				prob(ld, sub, "duplicate stratum \"%s\"",
				     s->name);
			}
		if (!ref_member(ld, sj, "item", path, &fixed, &r)) {
			path_key(sub, path, "item");
			if (r.item->type != CB_ITEM_INTEGER &&
			    r.item->type != CB_ITEM_CHOICE &&
			    r.item->type != CB_ITEM_BOOLEAN)
				prob(ld, sub,
				     "%s is %s; a stratum comes from an "
				     "integer, choice or boolean item",
				     r.text, type_names[r.item->type]);
			else if (ld->p->rand_visit &&
				 ld->p->rand_visit->scheduled &&
				 r.visit->scheduled &&
				 r.visit->day > ld->p->rand_visit->day)
				prob(ld, sub,
				     "%s is collected after the "
				     "randomization visit %s",
				     r.text, ld->p->rand_visit->code);
			s->visit = r.visit;
			s->form = r.form;
			s->item = r.item;
		}
		lv = get_array(ld, sj, "levels", 1, CB_PROTOCOL_LIST_MAX, path);
		path_key(sub, path, "levels");
		if (!lv)
			continue;
		if (array_size(lv) < 2)
			prob(ld, sub, "a stratum needs at least two levels");
		levels = ld_alloc(ld, array_size(lv), sizeof(*levels));
		if (!levels)
			return;
		k = 0;
		cJSON_ArrayForEach(l, lv)
		{
			const char *t;
			struct cb_err e;
			size_t m;

			path_idx(el, sub, k);
			t = const_text(ld, l, el, buf, sizeof(buf));
			if (!t)
				continue;
			cb_err_clear(&e);
			if (s->item &&
			    cb_protocol_check_value(s->item, t, NULL, &e)) {
				prob(ld, el, "%s", e.msg);
				continue;
			}
			for (m = 0; m < s->nlevels; m++)
				if (!strcmp(levels[m], t))
					break;
			if (m < s->nlevels) {
				prob(ld, el, "level \"%s\" given twice", t);
				continue;
			}
			levels[s->nlevels++] = ld_dup(ld, t);
			k++;
		}
		s->levels = levels;
	}
	ld->p->strata = strata;
	ld->p->nstrata = i;
}

/* ---- Eligibility ------------------------------------------------------ */

static void load_eligibility(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {"visit", "form", "rules", NULL};
	static const char *const rule_keys[] = {"id", "label", "condition",
						NULL};
	const cJSON *j = member(ld, root, "eligibility", W_OBJECT, 0, "$");
	const char *path = "$.eligibility";
	struct cb_protocol *p = ld->p;
	const cJSON *arr, *rj;
	struct cb_protocol_rule *rules;
	struct refctx c = {NULL, NULL, 0};
	char sub[PATH_LEN], el[PATH_LEN];
	size_t i = 0, k;
	int bad = 0;

	if (!j) {
		if (p->rand_form)
			prob(ld, "$.eligibility",
			     "missing: randomization needs "
			     "eligibility rules");
		return;
	}
	only_keys(ld, j, path, keys);
	visit_form_members(ld, j, path, &p->elig_visit, &p->elig_form);
	if (!p->elig_visit || !p->elig_form)
		return;
	c.form = p->elig_form;
	c.visit = p->elig_visit;
	arr = get_array(ld, j, "rules", 1, CB_PROTOCOL_RULES_MAX, path);
	path_key(sub, path, "rules");
	if (arr && array_size(arr) == 0)
		prob(ld, sub, "give at least one rule");
	if (!arr || array_size(arr) == 0)
		return;
	rules = ld_alloc(ld, array_size(arr), sizeof(*rules));
	if (!rules)
		return;
	cJSON_ArrayForEach(rj, arr)
	{
		struct cb_protocol_rule *r = &rules[i];

		path_idx(el, sub, i);
		i++;
		r->id = "";
		r->label = "";
		if (!is_object(ld, rj, el))
			continue;
		only_keys(ld, rj, el, rule_keys);
		r->id = get_code(ld, rj, "id", el);
		r->label = get_text(ld, rj, "label", 1, el);
		for (k = 0; k + 1 < i; k++)
			if (r->id[0] && !strcmp(rules[k].id, r->id)) {
				char idp[PATH_LEN];

				path_key(idp, el, "id");
				prob(ld, idp, "duplicate rule id \"%s\"",
				     r->id);
			}
		r->cond = cond_member(ld, rj, "condition", 1, el, &c, &bad);
	}
	p->rules = rules;
	p->nrules = i;
}

/* ---- Edit checks ------------------------------------------------------ */

static int parse_check_type(const char *s, enum cb_check_type *t)
{
	size_t i;

	for (i = 0; i < NCHECKTYPES; i++)
		if (!strcmp(check_type_names[i], s)) {
			*t = (enum cb_check_type)i;
			return 1;
		}
	return 0;
}

/* The members each check type may have, besides the common ones. */
static const char *const *check_keys(enum cb_check_type t)
{
#define COMMON "id", "type", "severity", "message", "form", "when"
	static const char *const req[] = {COMMON, "item", NULL};
	static const char *const cmp[] = {COMMON,   "item",  "op", "value",
					  "values", "other", NULL};
	static const char *const alo[] = {COMMON, "items", "value", NULL};
	static const char *const win[] = {COMMON, "item", NULL};
	static const char *const cnd[] = {COMMON, "condition", NULL};
	static const char *const nfu[] = {COMMON, "item", "days", NULL};
	static const char *const age[] = {COMMON, "item", "birth", "on", NULL};
#undef COMMON
	switch (t) {
	case CB_CHECK_REQUIRED:
	case CB_CHECK_FORBIDDEN:
		return req;
	case CB_CHECK_COMPARE:
		return cmp;
	case CB_CHECK_AT_LEAST_ONE:
		return alo;
	case CB_CHECK_VISIT_WINDOW:
		return win;
	case CB_CHECK_CONDITION:
		return cnd;
	case CB_CHECK_NOT_FUTURE:
		return nfu;
	case CB_CHECK_AGE:
		return age;
	}
	return req;
}

/* True when `form` (or any form, when NULL) has a date-like item. */
static int has_datelike(const struct cb_protocol *p,
			const struct cb_protocol_form *form)
{
	size_t i;

	for (i = 0; i < p->nitems; i++)
		if ((!form || p->items[i].form == form) &&
		    is_datelike(p->items[i].type))
			return 1;
	return 0;
}

/* True when `form` (or any form, when NULL) has an item `star` expands to. */
static int star_matches(const struct cb_protocol *p,
			const struct cb_protocol_form *form,
			const struct cb_protocol_item *other)
{
	size_t i;

	for (i = 0; i < p->nitems; i++) {
		const struct cb_protocol_item *it = &p->items[i];

		if (form && it->form != form)
			continue;
		if (it != other &&
		    type_class(it->type) == type_class(other->type))
			return 1;
	}
	return 0;
}

static void load_check(struct ld *ld, const cJSON *j, const char *path,
		       struct cb_protocol_check *chk,
		       const struct cb_protocol_check *prev, size_t nprev)
{
	const cJSON *tj, *sv, *fj, *ij, *arr, *x;
	struct refctx c = {NULL, NULL, 0};
	struct cb_protocol_cond *test;
	char sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN], buf[NUM_TEXT];
	int star_form = 0, star_item = 0, bad = 0;
	size_t i, k;

	chk->id = "";
	chk->message = "";
	if (!is_object(ld, j, path))
		return;
	chk->id = get_code(ld, j, "id", path);
	for (i = 0; i < nprev; i++)
		if (chk->id[0] && !strcmp(prev[i].id, chk->id)) {
			path_key(sub, path, "id");
			prob(ld, sub, "duplicate check id \"%s\"", chk->id);
			break;
		}
	chk->message = get_text(ld, j, "message", 1, path);

	sv = member(ld, j, "severity", W_STRING, 1, path);
	if (sv && !strcmp(sv->valuestring, "soft")) {
		chk->severity = CB_SEVERITY_SOFT;
	} else if (sv && strcmp(sv->valuestring, "hard")) {
		path_key(sub, path, "severity");
		cb_err_quote(sv->valuestring, q, sizeof(q));
		prob(ld, sub, "\"%s\" is not \"hard\" or \"soft\"", q);
	}

	tj = member(ld, j, "type", W_STRING, 1, path);
	if (!tj)
		return;
	if (!parse_check_type(tj->valuestring, &chk->type)) {
		path_key(sub, path, "type");
		cb_err_quote(tj->valuestring, q, sizeof(q));
		prob(ld, sub,
		     "unknown check type \"%s\" (required, forbidden, "
		     "compare, at_least_one, visit_window, condition, "
		     "not_future or age)",
		     q);
		return;
	}
	only_keys(ld, j, path, check_keys(chk->type));

	fj = member(ld, j, "form", W_STRING, 1, path);
	if (!fj)
		return;
	path_key(sub, path, "form");
	if (!strcmp(fj->valuestring, "*")) {
		star_form = 1;
		c.fixed = 1;
		if (chk->type != CB_CHECK_COMPARE &&
		    chk->type != CB_CHECK_NOT_FUTURE) {
			prob(ld, sub,
			     "form \"*\" (every form) is only for "
			     "compare and not_future checks");
			return;
		}
	} else {
		chk->form = cb_protocol_find_form(ld->p, fj->valuestring);
		if (!chk->form) {
			cb_err_quote(fj->valuestring, q, sizeof(q));
			prob(ld, sub, "unknown form \"%s\"", q);
			return;
		}
		c.form = chk->form;
	}
	chk->when = cond_member(ld, j, "when", 0, path, &c, &bad);

	/* "item": one item of the form ("*" for compare: every fitting one) */
	if (chk->type == CB_CHECK_REQUIRED || chk->type == CB_CHECK_FORBIDDEN ||
	    chk->type == CB_CHECK_COMPARE ||
	    chk->type == CB_CHECK_VISIT_WINDOW ||
	    chk->type == CB_CHECK_NOT_FUTURE || chk->type == CB_CHECK_AGE) {
		ij = member(ld, j, "item", W_STRING, 1, path);
		if (!ij)
			return;
		path_key(sub, path, "item");
		if (!strcmp(ij->valuestring, "*")) {
			star_item = 1;
			if (chk->type != CB_CHECK_COMPARE &&
			    chk->type != CB_CHECK_NOT_FUTURE) {
				prob(ld, sub,
				     "item \"*\" is only for compare and "
				     "not_future checks");
				return;
			}
		} else if (star_form) {
			prob(ld, sub,
			     "a check on every form (\"*\") needs "
			     "item \"*\"");
			return;
		} else {
			chk->item =
			    cb_protocol_find_item(chk->form, ij->valuestring);
			if (!chk->item) {
				cb_err_quote(ij->valuestring, q, sizeof(q));
				prob(ld, sub, "unknown item \"%s\" in form %s",
				     q, chk->form->code);
				return;
			}
		}
	}

	switch (chk->type) {
	case CB_CHECK_REQUIRED:
	case CB_CHECK_FORBIDDEN:
		break;
	case CB_CHECK_COMPARE:
		test = ld_alloc(ld, 1, sizeof(*test));
		if (!test)
			return;
		test->left.text = star_item ? "*" : chk->item->code;
		test->left.form = chk->form;
		test->left.item = chk->item;
		if (load_compare(ld, j, path, &c, test))
			return;
		if (star_item &&
		    !star_matches(ld->p, chk->form, test->other.item)) {
			path_key(sub, path, "item");
			prob(ld, sub, "no item of %s%s can be compared with %s",
			     star_form ? "any form" : "form ",
			     star_form ? "" : chk->form->code,
			     test->other.text);
			return;
		}
		chk->test = test;
		break;
	case CB_CHECK_AT_LEAST_ONE: {
		const struct cb_protocol_item **items;

		arr = get_array(ld, j, "items", 1, CB_PROTOCOL_LIST_MAX, path);
		path_key(sub, path, "items");
		if (arr && array_size(arr) == 0)
			prob(ld, sub, "give at least one item");
		if (!arr || array_size(arr) == 0)
			return;
		items = ld_alloc(ld, array_size(arr), sizeof(*items));
		if (!items)
			return;
		i = 0;
		cJSON_ArrayForEach(x, arr)
		{
			const struct cb_protocol_item *it;

			path_idx(el, sub, i);
			if (!cJSON_IsString(x)) {
				prob(ld, el, "expected an item code, found %s",
				     cb_json_type_name(x));
				continue;
			}
			it = cb_protocol_find_item(chk->form, x->valuestring);
			if (!it) {
				cb_err_quote(x->valuestring, q, sizeof(q));
				prob(ld, el, "unknown item \"%s\" in form %s",
				     q, chk->form->code);
				continue;
			}
			for (k = 0; k < i; k++)
				if (items[k] == it)
					break;
			if (k < i) {
				prob(ld, el, "item %s listed twice", it->code);
				continue;
			}
			items[i++] = it;
		}
		chk->items = items;
		chk->nitems = i;
		x = cJSON_GetObjectItemCaseSensitive(j, "value");
		if (x) {
			const char *t;

			path_key(el, path, "value");
			t = const_text(ld, x, el, buf, sizeof(buf));
			if (!t)
				return;
			for (k = 0; k < i; k++)
				if (!const_ok(ld, items[k], t, el))
					return;
			chk->value = ld_dup(ld, t);
		}
		break;
	}
	case CB_CHECK_VISIT_WINDOW:
		path_key(sub, path, "item");
		if (chk->item->type != CB_ITEM_DATE &&
		    chk->item->type != CB_ITEM_DATETIME)
			prob(ld, sub,
			     "%s is %s; a visit window check needs a "
			     "date or datetime item",
			     chk->item->code, type_names[chk->item->type]);
		for (i = 0; i < chk->form->nvisits; i++)
			if (chk->form->visits[i]->scheduled)
				break;
		if (i == chk->form->nvisits)
			prob(ld, sub,
			     "form %s is held by no scheduled visit, so "
			     "it has no window",
			     chk->form->code);
		break;
	case CB_CHECK_CONDITION:
		chk->test = cond_member(ld, j, "condition", 1, path, &c, &bad);
		break;
	case CB_CHECK_NOT_FUTURE: {
		long long days = 0;

		if (cJSON_GetObjectItemCaseSensitive(j, "days") &&
		    get_int(ld, j, "days", 0, CB_PROTOCOL_FUTURE_DAYS_MAX, 0,
			    &days, path))
			chk->days = (int)days;
		path_key(sub, path, "item");
		if (chk->item && !is_datelike(chk->item->type))
			prob(ld, sub,
			     "%s is %s; a not_future check needs a date, "
			     "partial date or datetime item",
			     chk->item->code, type_names[chk->item->type]);
		if (star_item && !has_datelike(ld->p, chk->form))
			prob(ld, sub, "%s%s has no date-like item",
			     star_form ? "no form" : "form ",
			     star_form ? "" : chk->form->code);
		break;
	}
	case CB_CHECK_AGE:
		path_key(sub, path, "item");
		if (chk->item->type != CB_ITEM_INTEGER)
			prob(ld, sub,
			     "%s is %s; an age check needs an integer item "
			     "(age in completed years)",
			     chk->item->code, type_names[chk->item->type]);
		if (!ref_member(ld, j, "birth", path, &c, &chk->birth) &&
		    chk->birth.item->type != CB_ITEM_INTEGER &&
		    !is_datelike(chk->birth.item->type)) {
			path_key(sub, path, "birth");
			prob(ld, sub,
			     "%s is %s; the birth is an integer year or a "
			     "date-like item",
			     chk->birth.text,
			     type_names[chk->birth.item->type]);
		}
		if (!ref_member(ld, j, "on", path, &c, &chk->on) &&
		    !is_datelike(chk->on.item->type)) {
			path_key(sub, path, "on");
			prob(ld, sub,
			     "%s is %s; an age is taken on a date-like item",
			     chk->on.text, type_names[chk->on.item->type]);
		}
		break;
	}
}

static void load_checks(struct ld *ld, const cJSON *root)
{
	const cJSON *arr =
	    get_array(ld, root, "checks", 0, CB_PROTOCOL_CHECKS_MAX, "$");
	const cJSON *cj;
	struct cb_protocol_check *checks;
	char path[PATH_LEN];
	size_t i = 0;

	if (!arr || array_size(arr) == 0)
		return;
	checks = ld_alloc(ld, array_size(arr), sizeof(*checks));
	if (!checks)
		return;
	cJSON_ArrayForEach(cj, arr)
	{
		path_idx(path, "$.checks", i);
		load_check(ld, cj, path, &checks[i], checks, i);
		i++;
		if (ld->oom)
			return;
	}
	ld->p->checks = checks;
	ld->p->nchecks = i;
}

/*
 * Each item's readers (protocol.h): counted in a first pass, written in
 * a second. A check that names an item twice lists it once (`last`
 * holds the check that last named each item).
 */
struct readers {
	struct ld *ld;
	size_t *count, *last;
	size_t **list; /* NULL while counting */
};

static void reader_note(struct readers *r, const struct cb_protocol_item *it,
			size_t check)
{
	size_t k;

	if (!it)
		return;
	k = (size_t)(it - r->ld->items);
	if (r->last[k] == check)
		return;
	r->last[k] = check;
	if (r->list)
		r->list[k][r->ld->items[k].nreaders++] = check;
	else
		r->count[k]++;
}

static void reader_cond(struct readers *r, const struct cb_protocol_cond *c,
			size_t check)
{
	size_t i;

	if (!c)
		return;
	reader_note(r, c->left.item, check);
	if (c->has_other)
		reader_note(r, c->other.item, check);
	for (i = 0; i < c->nsub; i++)
		reader_cond(r, &c->sub[i], check);
}

static void reader_pass(struct readers *r)
{
	const struct cb_protocol *p = r->ld->p;
	size_t i;

	for (i = 0; i < p->nitems; i++)
		r->last[i] = SIZE_MAX;
	for (i = 0; i < p->nchecks; i++) {
		const struct cb_protocol_check *ck = &p->checks[i];

		reader_cond(r, ck->when, i);
		reader_cond(r, ck->test, i);
		reader_note(r, ck->birth.item, i);
		reader_note(r, ck->on.item, i);
		if (ck->type == CB_CHECK_VISIT_WINDOW)
			reader_note(r, p->day0.item, i);
	}
}

static void load_readers(struct ld *ld)
{
	struct readers r = {ld, NULL, NULL, NULL};
	size_t n = ld->p->nitems, i;

	if (!n || !ld->p->nchecks) {
		ld->p->has_readers = 1;
		return;
	}
	r.count = ld_alloc(ld, n, sizeof(*r.count));
	r.last = ld_alloc(ld, n, sizeof(*r.last));
	if (!r.count || !r.last)
		return;
	reader_pass(&r);
	r.list = ld_alloc(ld, n, sizeof(*r.list));
	for (i = 0; r.list && i < n; i++)
		if (r.count[i] &&
		    !(r.list[i] = ld_alloc(ld, r.count[i], sizeof(size_t))))
			return;
	if (!r.list)
		return;
	reader_pass(&r);
	for (i = 0; i < n; i++)
		ld->items[i].readers = r.list[i];
	ld->p->has_readers = 1;
}

/* ---- Safety ----------------------------------------------------------- */

static void load_safety(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {
	    "form",	  "term",    "onset",	     "end",	     "grade",
	    "severity",	  "ongoing", "relationship", "action",	     "outcome",
	    "serious",	  "related", "death",	     "discontinued", "criteria",
	    "first_dose", NULL};
	static const char *const item_keys[CB_SAFETY_NITEMS] = {
	    "term",    "onset",	       "end",	 "grade",  "severity",
	    "ongoing", "relationship", "action", "outcome"};
	static const char *const flag_keys[CB_SAFETY_NFLAGS] = {
	    "serious", "related", "death", "discontinued"};
	const struct refctx fixed = {NULL, NULL, 1};
	const cJSON *j = member(ld, root, "safety", W_OBJECT, 0, "$");
	const char *path = "$.safety";
	struct cb_protocol *p = ld->p;
	struct refctx c = {NULL, NULL, 0};
	const cJSON *fj, *arr, *x;
	const struct cb_protocol_item **crit;
	char sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN];
	size_t i, k;
	int bad = 0;

	if (!j)
		return;
	only_keys(ld, j, path, keys);
	fj = member(ld, j, "form", W_STRING, 1, path);
	if (!fj)
		return;
	p->safety_form = cb_protocol_find_form(p, fj->valuestring);
	if (!p->safety_form) {
		path_key(sub, path, "form");
		cb_err_quote(fj->valuestring, q, sizeof(q));
		prob(ld, sub, "unknown form \"%s\"", q);
		return;
	}
	c.form = p->safety_form;
	for (i = 0; i < CB_SAFETY_NITEMS; i++) {
		const struct cb_protocol_item *it = form_item_member(
		    ld, j, item_keys[i], 0, p->safety_form, path);
		int ok = 1;

		if (!it)
			continue;
		if (i == CB_SAFETY_TERM || i == CB_SAFETY_RELATIONSHIP ||
		    i == CB_SAFETY_ACTION || i == CB_SAFETY_OUTCOME)
			ok = it->type == CB_ITEM_TEXT ||
			     it->type == CB_ITEM_CHOICE;
		else if (i == CB_SAFETY_ONSET || i == CB_SAFETY_END)
			ok = is_datelike(it->type);
		else if (i == CB_SAFETY_ONGOING)
			ok = it->type == CB_ITEM_BOOLEAN;
		else
			ok = it->type == CB_ITEM_INTEGER ||
			     it->type == CB_ITEM_CHOICE;
		if (!ok) {
			path_key(sub, path, item_keys[i]);
			prob(ld, sub, "%s is %s, which does not fit \"%s\"",
			     it->code, type_names[it->type], item_keys[i]);
			continue;
		}
		p->safety_items[i] = it;
	}
	for (i = 0; i < CB_SAFETY_NFLAGS; i++)
		p->safety_flags[i] =
		    cond_member(ld, j, flag_keys[i], 0, path, &c, &bad);
	arr = get_array(ld, j, "criteria", 0, CB_PROTOCOL_LIST_MAX, path);
	path_key(sub, path, "criteria");
	if (arr && array_size(arr)) {
		crit = ld_alloc(ld, array_size(arr), sizeof(*crit));
		if (!crit)
			return;
		i = 0;
		k = 0;
		cJSON_ArrayForEach(x, arr)
		{
			const struct cb_protocol_item *it;

			path_idx(el, sub, k++);
			if (!cJSON_IsString(x)) {
				prob(ld, el, "expected an item code, found %s",
				     cb_json_type_name(x));
				continue;
			}
			it = cb_protocol_find_item(p->safety_form,
						   x->valuestring);
			cb_err_quote(x->valuestring, q, sizeof(q));
			if (!it)
				prob(ld, el, "unknown item \"%s\" in form %s",
				     q, p->safety_form->code);
			else if (it->type != CB_ITEM_BOOLEAN)
				prob(ld, el,
				     "%s is %s; a seriousness criterion "
				     "is a boolean (Y/N) item",
				     it->code, type_names[it->type]);
			else
				crit[i++] = it;
		}
		p->criteria = crit;
		p->ncriteria = i;
	}
	if (cJSON_GetObjectItemCaseSensitive(j, "first_dose") &&
	    !ref_member(ld, j, "first_dose", path, &fixed, &p->first_dose) &&
	    !is_datelike(p->first_dose.item->type)) {
		path_key(sub, path, "first_dose");
		prob(ld, sub, "%s is %s; expected a date or datetime item",
		     p->first_dose.text, type_names[p->first_dose.item->type]);
	}
}

/* ---- Lifecycle ---------------------------------------------------------- */

/*
 * "lifecycle": {"consent": "VISIT.FORM.ITEM",
 *               "end": {"status": "VISIT.FORM.ITEM",
 *                       "date": "VISIT.FORM.ITEM",
 *                       "states": {"CODE": "completed" | "withdrawn" |
 *                                  "lost" | "died", ...}}}
 */
static void load_lifecycle(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {"consent", "end", NULL};
	static const char *const end_keys[] = {"status", "date", "states",
					       NULL};
	static const char *const names[] = {"completed", "withdrawn", "lost",
					    "died"};
	const struct refctx fixed = {NULL, NULL, 1};
	const cJSON *j = member(ld, root, "lifecycle", W_OBJECT, 0, "$");
	const char *path = "$.lifecycle";
	struct cb_protocol *p = ld->p;
	struct cb_protocol_end_state *states;
	const cJSON *e, *st, *x;
	char sub[PATH_LEN], el[PATH_LEN], q[QUOTE_LEN];
	size_t i, n;

	if (!j)
		return;
	only_keys(ld, j, path, keys);
	if (cJSON_GetObjectItemCaseSensitive(j, "consent") &&
	    !ref_member(ld, j, "consent", path, &fixed, &p->consent) &&
	    !is_datelike(p->consent.item->type)) {
		path_key(sub, path, "consent");
		prob(ld, sub, "%s is %s; expected a date item", p->consent.text,
		     type_names[p->consent.item->type]);
		memset(&p->consent, 0, sizeof(p->consent));
	}
	e = member(ld, j, "end", W_OBJECT, 0, path);
	if (!e)
		return;
	path_key(sub, path, "end");
	only_keys(ld, e, sub, end_keys);
	if (ref_member(ld, e, "status", sub, &fixed, &p->end_status) ||
	    ref_member(ld, e, "date", sub, &fixed, &p->end_date))
		return;
	if (p->end_status.item->type != CB_ITEM_CHOICE) {
		prob(ld, sub, "status %s is %s; expected a choice item",
		     p->end_status.text, type_names[p->end_status.item->type]);
		return;
	}
	if (!is_datelike(p->end_date.item->type)) {
		prob(ld, sub, "date %s is %s; expected a date item",
		     p->end_date.text, type_names[p->end_date.item->type]);
		return;
	}
	st = member(ld, e, "states", W_OBJECT, 1, sub);
	if (!st)
		return;
	path_key(el, sub, "states");
	n = (size_t)cJSON_GetArraySize(st);
	states = ld_alloc(ld, n ? n : 1, sizeof(*states));
	if (!states)
		return;
	i = 0;
	cJSON_ArrayForEach(x, st)
	{
		char one[PATH_LEN];
		size_t k;

		path_key(one, el, x->string);
		for (k = 0; k < p->end_status.item->nchoices; k++)
			if (!strcmp(p->end_status.item->choices[k].code,
				    x->string))
				break;
		if (k == p->end_status.item->nchoices) {
			cb_err_quote(x->string, q, sizeof(q));
			prob(ld, one, "\"%s\" is not a code of %s", q,
			     p->end_status.text);
			continue;
		}
		for (k = 0; k < 4; k++)
			if (cJSON_IsString(x) &&
			    !strcmp(x->valuestring, names[k]))
				break;
		if (k == 4) {
			prob(ld, one,
			     "expected \"completed\", \"withdrawn\", \"lost\" "
			     "or \"died\"");
			continue;
		}
		states[i].code = ld_dup(ld, x->string);
		states[i].state = (enum cb_end_state)k;
		i++;
	}
	p->end_states = states;
	p->nend_states = i;
}

/* ---- The whole file --------------------------------------------------- */

static void load_codelists(struct ld *ld, const cJSON *root)
{
	const cJSON *cl = member(ld, root, "codelists", W_OBJECT, 0, "$");
	const cJSON *l;
	char sub[PATH_LEN];

	ld->codelists = cl;
	cJSON_ArrayForEach(l, cl)
	{
		path_key(sub, "$.codelists", l->string);
		if (!valid_code(l->string))
			prob(ld, sub,
			     "a code list name is a code (a letter, "
			     "then letters, digits or _)");
		if (!cJSON_IsArray(l))
			prob(ld, sub, "expected an array of choices, found %s",
			     cb_json_type_name(l));
	}
}

static void load_root(struct ld *ld, const cJSON *root)
{
	static const char *const keys[] = {
	    "format",	 "id",	   "version",	    "title",
	    "codelists", "forms",  "visits",	    "day0",
	    "arms",	 "strata", "randomization", "eligibility",
	    "checks",	 "safety", "lifecycle",	    NULL};
	struct cb_protocol *p = ld->p;
	const cJSON *fmt, *id;
	char q[QUOTE_LEN];
	size_t i;

	if (!is_object(ld, root, "$"))
		return;
	only_keys(ld, root, "$", keys);
	fmt = member(ld, root, "format", W_STRING, 1, "$");
	if (fmt && strcmp(fmt->valuestring, FORMAT_NAME)) {
		cb_err_quote(fmt->valuestring, q, sizeof(q));
		prob(ld, "$.format", "\"%s\" is not \"%s\"", q, FORMAT_NAME);
	}
	p->format = FORMAT_NAME;
	id = member(ld, root, "id", W_STRING, 1, "$");
	p->id = "";
	if (id) {
		const char *s = id->valuestring;

		for (i = 0; s[i]; i++)
			if (!isalnum((unsigned char)s[i]) &&
			    !strchr("-_.", s[i]))
				break;
		if (!s[0] || s[i] || i > CB_PROTOCOL_CODE_MAX ||
		    !isalnum((unsigned char)s[0])) {
			cb_err_quote(s, q, sizeof(q));
			prob(ld, "$.id",
			     "\"%s\" is not a study id (letters, "
			     "digits, '-', '_' or '.', at most %d)",
			     q, CB_PROTOCOL_CODE_MAX);
		} else {
			p->id = ld_dup(ld, s);
		}
	}
	p->version = get_text(ld, root, "version", 1, "$");
	if (strlen(p->version) > CB_PROTOCOL_CODE_MAX) {
		prob(ld, "$.version", "longer than %d bytes",
		     CB_PROTOCOL_CODE_MAX);
	}
	p->title = get_text(ld, root, "title", 0, "$");

	load_codelists(ld, root);
	load_forms(ld, root);
	if (ld->oom)
		return;
	load_visits(ld, root);
	if (ld->oom)
		return;
	load_day0(ld, root);
	for (i = 0; i < p->nforms && !ld->oom; i++)
		load_scores(ld, i);
	load_arms(ld, root);
	load_randomization(ld, root);
	load_strata(ld, root);
	load_eligibility(ld, root);
	if (ld->oom)
		return;
	load_checks(ld, root);
	if (!ld->oom)
		load_readers(ld);
	load_safety(ld, root);
	load_lifecycle(ld, root);
}

int cb_protocol_load_json(const char *text, size_t len, const char *what,
			  struct cb_protocol **out,
			  struct cb_protocol_problems *problems,
			  struct cb_err *err)
{
	struct cb_protocol_problems local;
	struct ld ld;
	cJSON *root = NULL;
	struct cb_err perr;
	char *src;
	int rc = 0;

	*out = NULL;
	if (!what)
		what = "protocol";
	cb_protocol_problems_init(&local);
	if (problems)
		cb_protocol_problems_release(problems);
	memset(&ld, 0, sizeof(ld));
	ld.pr = problems ? problems : &local;

	if (len > CB_PROTOCOL_FILE_MAX) {
		rc = cb_err_set(err, CB_ETOOBIG,
				"%s: %zu bytes, over the limit of %u", what,
				len, CB_PROTOCOL_FILE_MAX);
		if (problems_add(ld.pr, err ? err->msg : "protocol too big"))
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	cb_err_clear(&perr);
	root = cb_json_parse(text, len, CB_PROTOCOL_FILE_MAX, what, &perr);
	if (!root) {
		if (problems_add(ld.pr, perr.msg)) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			goto out;
		}
		rc = cb_err_set(err, perr.code, "%s", perr.msg);
		goto out;
	}

	ld.a = calloc(1, sizeof(*ld.a));
	if (!ld.a) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory loading %s",
				what);
		goto out;
	}
	ld.p = arena_alloc(ld.a, sizeof(*ld.p));
	src = arena_alloc(ld.a, len + 1);
	if (!ld.p || !src) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory loading %s",
				what);
		goto out;
	}
	ld.p->mem_ = ld.a;
	memcpy(src, text, len);
	src[len] = '\0';
	ld.p->source = src;
	ld.p->source_len = len;
	cb_sha256_hex(text, len, ld.p->sha256);

	load_root(&ld, root);
	if (ld.oom) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory loading %s",
				what);
		goto out;
	}
	if (ld.pr->total) {
		rc = cb_err_set(err, CB_EINVAL,
				"%s: %zu problem%s, the first: %s", what,
				ld.pr->total, ld.pr->total == 1 ? "" : "s",
				ld.pr->count ? ld.pr->msgs[0] : "?");
		goto out;
	}
	*out = ld.p;
	ld.a = NULL;
out:
	cJSON_Delete(root);
	arena_free(ld.a);
	cb_protocol_problems_release(&local);
	return rc;
}

int cb_protocol_load_file(const char *path, struct cb_protocol **out,
			  struct cb_protocol_problems *problems,
			  struct cb_err *err)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if (problems)
		cb_protocol_problems_release(problems);
	rc = cb_file_read(path, CB_PROTOCOL_FILE_MAX, &text, &len, err);
	if (rc)
		return rc;
	rc = cb_protocol_load_json(text, len, path, out, problems, err);
	free(text);
	return rc;
}

void cb_protocol_free(struct cb_protocol *p)
{
	if (p)
		arena_free(p->mem_);
}
