/*
 * score.c - WOMAC 3.1, KOOS and VAS scoring (see score.h for the rules).
 *
 * Each method is a table of item names, its subscales as runs of those
 * items, and a compute function. Every score is a ratio of two small
 * integers, so it is computed exactly and rounded once, by integer
 * arithmetic: a score such as 2.125 or 96.875 lies exactly on a half
 * hundredth and must round up, and 100 - 25 * (11/3) must not depend on
 * how binary floating point happens to round its intermediate steps.
 */
#include "score.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A run of consecutive items forming one subscale. */
struct subscale {
	size_t first, count;
	/* WOMAC: most items that may be missing; KOOS: fewest answered. */
	long long limit;
};

static const char *const womac_items[] = {
    "P1",  "P2",  "P3",	 "P4",	"P5",  "S1",  "S2",  "F1",
    "F2",  "F3",  "F4",	 "F5",	"F6",  "F7",  "F8",  "F9",
    "F10", "F11", "F12", "F13", "F14", "F15", "F16", "F17",
};
static const char *const womac_outputs[] = {"pain", "stiffness", "function",
					    "total"};
static const struct subscale womac_subscales[] = {
    {0, 5, 1},	/* pain: invalid with 2 or more missing */
    {5, 2, 1},	/* stiffness: invalid with 2 missing */
    {7, 17, 3}, /* function: invalid with 4 or more missing */
};

static const char *const koos_items[] = {
    "P1",  "P2",  "P3",	 "P4",	"P5",  "P6",  "P7",  "P8",  "P9",  "S1",  "S2",
    "S3",  "S4",  "S5",	 "S6",	"S7",  "A1",  "A2",  "A3",  "A4",  "A5",  "A6",
    "A7",  "A8",  "A9",	 "A10", "A11", "A12", "A13", "A14", "A15", "A16", "A17",
    "SP1", "SP2", "SP3", "SP4", "SP5", "Q1",  "Q2",  "Q3",  "Q4",
};
static const char *const koos_outputs[] = {"pain", "symptoms", "adl",
					   "sport_rec", "qol"};
static const struct subscale koos_subscales[] = {
    {0, 9, 5},	 /* pain */
    {9, 7, 4},	 /* symptoms */
    {16, 17, 9}, /* adl */
    {33, 5, 3},	 /* sport_rec */
    {38, 4, 2},	 /* qol */
};

static const char *const vas_items[] = {"VAS"};
static const char *const vas_outputs[] = {"vas"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * num / den rounded to hundredths, half away from zero; den > 0. The
 * integer quotient is exact, and dividing it by 100.0 gives the double
 * nearest the two-decimal result, which "%.2f" prints back exactly.
 */
static double ratio_round2(long long num, long long den)
{
	long long mag = num < 0 ? -num : num;
	long long hundredths = (200 * mag + den) / (2 * den);
	double r = (double)hundredths / 100.0;

	return num < 0 && hundredths ? -r : r;
}

/*
 * Sum and count the answered items of one subscale. Returns 0 when any
 * value is neither missing nor within lo..hi: such a subscale is invalid.
 */
static int tally(const int *vals, const struct subscale *s, int lo, int hi,
		 long long *sum, long long *answered)
{
	size_t i;

	*sum = 0;
	*answered = 0;
	for (i = s->first; i < s->first + s->count; i++) {
		if (vals[i] == CB_SCORE_MISSING)
			continue;
		if (vals[i] < lo || vals[i] > hi)
			return 0;
		*sum += vals[i];
		(*answered)++;
	}
	return 1;
}

static void womac_compute(const int *vals, double *out, int *valid)
{
	/* The total as an exact fraction of the imputed subscales. */
	long long total_num = 0, total_den = 1;
	int all_valid = 1;
	size_t j;

	for (j = 0; j < NELEM(womac_subscales); j++) {
		const struct subscale *s = &womac_subscales[j];
		long long sum, answered, scaled;

		if (!tally(vals, s, 0, 4, &sum, &answered) || answered == 0 ||
		    (long long)s->count - answered > s->limit) {
			out[j] = 0;
			valid[j] = 0;
			all_valid = 0;
			continue;
		}
		/* mean(answered) x items = sum x items / answered */
		scaled = sum * (long long)s->count;
		out[j] = ratio_round2(scaled, answered);
		valid[j] = 1;
		total_num = total_num * answered + scaled * total_den;
		total_den *= answered;
	}
	out[j] = all_valid ? ratio_round2(total_num, total_den) : 0;
	valid[j] = all_valid;
}

static void koos_compute(const int *vals, double *out, int *valid)
{
	size_t j;

	for (j = 0; j < NELEM(koos_subscales); j++) {
		const struct subscale *s = &koos_subscales[j];
		long long sum, answered;

		if (!tally(vals, s, 0, 4, &sum, &answered) ||
		    answered < s->limit || answered == 0) {
			out[j] = 0;
			valid[j] = 0;
			continue;
		}
		/* 100 - 25 x sum / answered */
		out[j] = ratio_round2(100 * answered - 25 * sum, answered);
		valid[j] = 1;
	}
}

static void vas_compute(const int *vals, double *out, int *valid)
{
	int ok = vals[0] >= 0 && vals[0] <= 100;

	out[0] = ok ? (double)vals[0] : 0;
	valid[0] = ok;
}

static const struct cb_score_method womac = {
    "womac", "WOMAC 3.1 (Likert)", NELEM(womac_items), womac_items,   0,
    4,	     NELEM(womac_outputs), womac_outputs,      womac_compute,
};

static const struct cb_score_method koos = {
    "koos",
    "KOOS",
    NELEM(koos_items),
    koos_items,
    0,
    4,
    NELEM(koos_outputs),
    koos_outputs,
    koos_compute,
};

static const struct cb_score_method vas = {
    "vas", "VAS pain (mm)",    NELEM(vas_items), vas_items,   0,
    100,   NELEM(vas_outputs), vas_outputs,	 vas_compute,
};

static const struct cb_score_method *const methods[] = {&womac, &koos, &vas,
							NULL};

const struct cb_score_method *cb_score_method_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; methods[i]; i++)
		if (!strcasecmp(methods[i]->name, name))
			return methods[i];
	return NULL;
}

const struct cb_score_method *const *cb_score_methods(void)
{
	return methods;
}

int cb_score_item_index(const struct cb_score_method *m, const char *item)
{
	size_t i;

	if (!m || !item)
		return -1;
	for (i = 0; i < m->nitems; i++)
		if (!strcasecmp(m->items[i], item))
			return (int)i;
	return -1;
}

double cb_score_round2(double v)
{
	double mag, whole, eps;

	if (isnan(v) || isinf(v))
		return v;
	mag = fabs(v) * 100.0;
	whole = floor(mag);
	/*
	 * The scaled value carries the representation error of v: 1.005 is
	 * stored as 1.00499999999999989..., so 100.49999999999999 must still
	 * count as a half. Scores never have more than a few significant
	 * digits, so a relative 1e-9 cannot turn a genuinely smaller value
	 * into a half.
	 */
	eps = 1e-9 * (mag > 1.0 ? mag : 1.0);
	if (mag - whole >= 0.5 - eps)
		whole += 1.0;
	if (whole == 0.0)
		return 0.0;
	return v < 0 ? -(whole / 100.0) : whole / 100.0;
}

/* Split "SP12" into prefix length 2 and number 12; 0 if not that shape. */
static int split_item(const char *name, size_t *prefix_len, long *number)
{
	size_t p = 0;
	char *end;

	while (isalpha((unsigned char)name[p]))
		p++;
	if (!isdigit((unsigned char)name[p]))
		return 0;
	errno = 0;
	*number = strtol(name + p, &end, 10);
	if (*end || errno)
		return 0;
	*prefix_len = p;
	return 1;
}

/* Append s to buf, keeping *len the length the untruncated text needs. */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len < size) {
		size_t room = size - *len - 1;
		size_t k = n < room ? n : room;

		memcpy(buf + *len, s, k);
		buf[*len + k] = '\0';
	}
	*len += n;
}

/* True when item b directly follows item a: same prefix, next number. */
static int follows(const char *a, const char *b)
{
	size_t pa, pb;
	long na, nb;

	return split_item(a, &pa, &na) && split_item(b, &pb, &nb) && pa == pb &&
	       !strncmp(a, b, pa) && nb == na + 1;
}

size_t cb_score_items_summary(const struct cb_score_method *m, char *buf,
			      size_t size)
{
	size_t len = 0, i = 0;

	if (size > 0)
		buf[0] = '\0';
	while (m && i < m->nitems) {
		size_t last = i;

		while (last + 1 < m->nitems &&
		       follows(m->items[last], m->items[last + 1]))
			last++;
		if (i > 0)
			append(buf, size, &len, ", ");
		append(buf, size, &len, m->items[i]);
		if (last > i) {
			append(buf, size, &len, "-");
			append(buf, size, &len, m->items[last]);
		}
		i = last + 1;
	}
	return len;
}

int cb_score_parse_value(const struct cb_score_method *m, size_t item_index,
			 const char *text, int *out, struct cb_err *err)
{
	const char *item, *p;
	char *end;
	long v;

	if (!m || item_index >= m->nitems)
		return cb_err_set(err, CB_EINVAL, "no such score item");
	item = m->items[item_index];
	if (!text || !*text)
		return cb_err_set(err, CB_ECHECK,
				  "%s item %s: no value given (allowed: whole "
				  "numbers %d-%d; leave the item out if it "
				  "was not answered)",
				  m->label, item, m->item_min, m->item_max);
	p = text;
	if (*p == '-' || *p == '+')
		p++;
	if (!*p)
		goto not_integer;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			goto not_integer;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno == ERANGE || v < m->item_min || v > m->item_max)
		return cb_err_set(err, CB_ECHECK,
				  "%s item %s: value %s is outside the allowed "
				  "range %d-%d",
				  m->label, item, text, m->item_min,
				  m->item_max);
	*out = (int)v;
	return 0;

not_integer:
	return cb_err_set(err, CB_ECHECK,
			  "%s item %s: value '%s' is not a whole number "
			  "(allowed %d-%d)",
			  m->label, item, text, m->item_min, m->item_max);
}

int cb_score_compute(const struct cb_score_method *m, const int *vals,
		     double *out, int *valid, struct cb_err *err)
{
	size_t i;

	if (!m || !vals || !out || !valid)
		return cb_err_set(err, CB_EINVAL, "score: missing argument");
	for (i = 0; i < m->nitems; i++) {
		if (vals[i] == CB_SCORE_MISSING)
			continue;
		if (vals[i] < m->item_min || vals[i] > m->item_max)
			return cb_err_set(err, CB_ECHECK,
					  "%s item %s: value %d is outside the "
					  "allowed range %d-%d",
					  m->label, m->items[i], vals[i],
					  m->item_min, m->item_max);
	}
	m->compute(vals, out, valid);
	return 0;
}
