/*
 * gen_trial.c - one generated subject of the shipped knee study
 * (../shared/TRIAL.md), as the events real entry would make.
 *
 * Everything about a subject is drawn from its own random stream (the
 * run's seed and the subject's number), so a subject is the same whatever
 * chunk it falls in, and event ids are a hash of the seed, the subject
 * and the event's number within it: the same seed (and "today") gives the
 * same data and the same ids. Only the clocks (hlc, wall), the device ids
 * and the signatures differ between two runs.
 *
 * Dates: a subject consents on a day drawn from the ~1000 days before
 * "today" (g->today), screens, has its baseline 7 to 27 days later and
 * then follows the visit windows of the protocol from that baseline
 * date; whatever falls after today is not done yet (the subject is
 * ongoing). About a fifth fail screening (one eligibility criterion
 * not met); some withdraw or are lost to follow-up, a few die (a fatal
 * adverse event), the rest complete at month 12.
 *
 * The events themselves are made, checked and queued by gen_entry.c.
 * Values that fail a soft check are drawn on purpose now and then
 * (a visit out of its window, a grade that disagrees with the severity,
 * a male subject's pregnancy answered N, ...), so the queries are real.
 */
#include "gen_study.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clock.h"
#include "date.h"
#include "id.h"
#include "merge.h"
#include "record.h"

/* Candidate items for a correction, a query or a conflict. */
#define CAND_MAX 256

void gen_place(size_t nsites, long per_device, uint64_t i, size_t *site,
	       size_t *coord, long *seq)
{
	uint64_t j = i / nsites;

	*site = (size_t)(i % nsites);
	*coord = (size_t)(j / (uint64_t)per_device);
	*seq = (long)(j % (uint64_t)per_device) + 1;
}

/* ---- random draws (xoshiro256**, seeded by BLAKE2b) ---------------------- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

static void rng_seed(struct gen_rng *r, const char *seed, uint64_t index)
{
	unsigned char h[CB_HASH_BYTES];
	char text[256];
	int n, i;

	n = snprintf(text, sizeof(text), "gen-study/rng\n%s\n%" PRIu64, seed,
		     index);
	cb_hash(text, (size_t)n, h);
	for (i = 0; i < 4; i++) {
		memcpy(&r->s[i], h + 8 * i, 8);
		if (!r->s[i])
			r->s[i] = 0x9e3779b97f4a7c15ull + (uint64_t)i;
	}
}

/* An integer in lo..hi, both included. */
static int64_t rnd(struct gen_subject *s, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(&s->rng) % (uint64_t)(hi - lo + 1));
}

/* A double in [0, 1). */
static double unif(struct gen_subject *s)
{
	return (double)(rng_next(&s->rng) >> 11) * 0x1.0p-53;
}

static int chance(struct gen_subject *s, double p)
{
	return unif(s) < p;
}

/* One of n codes, by weights in percent (summing to 100). */
static size_t pick(struct gen_subject *s, const int *weights, size_t n)
{
	int r = (int)rnd(s, 0, 99), acc = 0;
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		acc += weights[i];
		if (r < acc)
			return i;
	}
	return n - 1;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* ---- dates --------------------------------------------------------------- */

static int day_year(int64_t day)
{
	struct cb_date d;

	return cb_date_from_days(day, &d) ? 1 : d.year;
}

/* ---- protocol lookups ---------------------------------------------------- */

static const struct cb_protocol_form *form_of(const struct gen *g,
					      const char *code)
{
	return cb_protocol_find_form(g->p, code);
}

/* The scheduled visits after day 0, in protocol order (by day). */
static size_t post_visits(const struct gen *g,
			  const struct cb_protocol_visit **out)
{
	size_t i, n = 0;

	for (i = 0; i < g->p->nvisits && n < GEN_VISIT_MAX; i++)
		if (g->p->visits[i].scheduled && g->p->visits[i].day > 0)
			out[n++] = &g->p->visits[i];
	return n;
}

/* ---- values -------------------------------------------------------------- */

/* Pain (VAS, 0-100) at `day` days after baseline. */
static int pain_at(struct gen_subject *s, int64_t day)
{
	double frac = day <= 0 ? 0 : (day >= 180 ? 1 : (double)day / 180);
	double v = s->vas0 * (1 - s->improve * frac) + (double)rnd(s, -8, 8);

	return v < 0 ? 0 : v > 100 ? 100 : (int)(v + 0.5);
}

/* A 0-4 questionnaire answer near pain/25. */
static int likert(struct gen_subject *s, int pain)
{
	double v = pain / 25.0 + unif(s) * 1.6 - 0.8;
	int r = (int)(v + 0.5);

	return r < 0 ? 0 : r > 4 ? 4 : r;
}

static const char *const ae_terms[] = {
    "Knee pain",
    "Joint swelling",
    "Arthralgia",
    "Injection site pain",
    "Bruising at liposuction site",
    "Liposuction site pain",
    "Headache",
    "Nasopharyngitis",
    "Upper respiratory tract infection",
    "Back pain",
    "Hypertension",
    "Nausea",
    "Fatigue",
    "Dizziness",
    "Fall",
    "Cellulitis",
    "Urinary tract infection",
    "Rash",
    "Muscle spasms",
    "Contusion",
};

static const char *const fatal_terms[] = {
    "Myocardial infarction",
    "Pulmonary embolism",
    "Cerebrovascular accident",
};

static const char *const rel_codes[] = {"NOT", "UNLIKELY", "POSSIBLE",
					"PROBABLE", "DEFINITE"};
static const int rel_weights[] = {40, 25, 20, 10, 5};
static const char *const criteria[] = {"AESDTH",   "AESLIFE", "AESHOSP",
				       "AESDISAB", "AESCONG", "AESMIE"};

static void plan_ae(struct gen_subject *s, struct gen_ae *a, int64_t from,
		    int64_t to)
{
	static const int grade_w[] = {55, 30, 11, 4};

	memset(a, 0, sizeof(*a));
	a->onset = rnd(s, from, to);
	a->term = ae_terms[rnd(
	    s, 0, (int64_t)(sizeof(ae_terms) / sizeof(*ae_terms)) - 1)];
	a->grade = (int)pick(s, grade_w, 4) + 1;
	a->serious = a->grade >= 3 ? chance(s, 0.4) : chance(s, 0.03);
	/* hospitalization most often, else another important event, or
	 * for the worst a threat to life */
	a->criterion = a->grade == 4 && chance(s, 0.4) ? 1
		       : chance(s, 0.7)		       ? 2
		       : chance(s, 0.7)		       ? 5
						       : 3;
	a->rel = (int)pick(s, rel_weights, 5);
	a->relpr = (int)pick(s, rel_weights, 5);
	a->treated = chance(s, 0.4);
	a->partial = chance(s, 0.05);
	a->sev_off = chance(s, 0.03);
	a->no_end = chance(s, 0.01);
	a->end = a->onset + rnd(s, 1, 14 * a->grade + 10);
}

/* The values of AE a, as known on `day` (it may still be ongoing). */
static void fill_ae(struct gen_subject *s, struct gen_ae *a, int64_t day,
		    struct gen_save *sv)
{
	static const char *const sev[] = {"MILD", "MOD", "SEV", "SEV", "SEV"};
	int ended = a->end <= day;
	size_t i;

	(void)s;
	gen_put(sv, "AETERM", "%s", a->term);
	if (a->partial) {
		char d[CB_DATE_TEXT_MAX + 1];

		gen_day_text(a->onset, d);
		gen_put(sv, "AESTDTC", "%.7s", d);
	} else {
		gen_put_day(sv, "AESTDTC", a->onset);
	}
	gen_put(sv, "AEONGO", "%s", ended ? "N" : "Y");
	if (ended && !a->no_end)
		gen_put_day(sv, "AEENDTC", a->end);
	gen_put(sv, "AETOXGR", "%d", a->grade);
	/* Now and then the severity disagrees with the grade (soft). */
	gen_put(sv, "AESEV", "%s",
		a->sev_off && a->grade < 5 ? sev[a->grade % 3]
					   : sev[a->grade - 1]);
	gen_put(sv, "AESER", "%s", a->serious || a->fatal ? "Y" : "N");
	if (a->serious || a->fatal)
		for (i = 0; i < sizeof(criteria) / sizeof(*criteria); i++)
			gen_put(sv, criteria[i], "%s",
				(int)i == a->criterion ? "Y" : "N");
	gen_put(sv, "AEREL", "%s", rel_codes[a->rel]);
	gen_put(sv, "AERELPR", "%s", rel_codes[a->relpr]);
	gen_put(sv, "AEACN", "%s", a->treated ? "TREATED" : "NONE");
	gen_put(sv, "AEOUT", "%s",
		a->fatal	? "FATAL"
		: ended		? (a->grade >= 3 && a->treated ? "RECOVERED_SEQ"
							       : "RECOVERED")
		: a->grade >= 3 ? "NOT_RECOVERED"
				: "RECOVERING");
}

/*
 * Record what is known on `day` of the subject's adverse events: new ones
 * whose onset is on or before it, and the resolution of reported ones
 * that have ended since (a follow-up, with a reason).
 */
static int report_aes(struct gen *g, struct gen_subject *s, int64_t day,
		      struct cb_err *err)
{
	const struct cb_protocol_form *ae = g->p->safety_form;
	struct gen_save sv;
	size_t i;
	int rc = 0, first;

	for (i = 0; rc >= 0 && i < s->nae; i++) {
		struct gen_ae *a = &s->ae[i];

		if (a->onset > day || a->closed)
			continue;
		if (a->instance && a->end > day)
			continue; /* reported, still ongoing */
		first = !a->instance;
		if (first)
			a->instance = ++s->ae_next;
		gen_save_init(&sv, CB_PROTOCOL_LOG_VISIT, ae->code,
			      a->instance);
		fill_ae(s, a, day, &sv);
		if (a->end <= day)
			a->closed = 1;
		/* A follow-up changes saved values: it says why. */
		if (!first)
			sv.reason = "Follow-up: the adverse event resolved";
		rc = gen_save_form(g, s, s->creator, &sv, err);
		if (rc == 0 && first) {
			g->aes++;
			if (a->serious || a->fatal)
				g->serious++;
		}
	}
	return rc < 0 ? rc : 0;
}

/* ---- the forms of a visit -------------------------------------------------
 */

/* Forms whose numeric and choice items may be corrected, queried or
 * edited concurrently: none of their items feeds an edit check that
 * relates two items, eligibility or a stratum. */
static int correctable_form(const char *form)
{
	static const char *const ok[] = {"VAS",	 "PE",	"WOMAC",
					 "KOOS", "MRI", "HARV"};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (!strcmp(form, ok[i]))
			return 1;
	return 0;
}

static int correctable_item(const struct cb_protocol_item *it)
{
	return (it->type == CB_ITEM_INTEGER || it->type == CB_ITEM_DECIMAL ||
		it->type == CB_ITEM_CHOICE) &&
	       !it->unblinded && !it->soft.has_min && !it->soft.has_max &&
	       correctable_form(it->form->code);
}

/* Another plausible value of item `it` near `old`. */
static void other_value(struct gen_subject *s,
			const struct cb_protocol_item *it, const char *old,
			char out[GEN_VALUE_MAX])
{
	if (it->type == CB_ITEM_CHOICE && it->nchoices > 1) {
		size_t i = (size_t)rnd(s, 0, (int64_t)it->nchoices - 1);

		if (old && !strcmp(it->choices[i].code, old))
			i = (i + 1) % it->nchoices;
		snprintf(out, GEN_VALUE_MAX, "%s", it->choices[i].code);
	} else if (it->type == CB_ITEM_INTEGER) {
		long lo = it->range.has_min ? (long)it->range.min : 0;
		long hi = it->range.has_max ? (long)it->range.max : lo + 100;
		long v = old ? strtol(old, NULL, 10) : lo;
		long step = (hi - lo) / 10 > 1 ? (hi - lo) / 10 : 1;
		long nv = v + (chance(s, 0.5) ? 1 : -1) * (long)rnd(s, 1, step);

		if (nv < lo || nv > hi)
			nv = v - (nv - v);
		if (nv < lo || nv > hi || nv == v)
			nv = v == lo ? lo + 1 : v - 1;
		snprintf(out, GEN_VALUE_MAX, "%ld", nv);
	} else {
		double lo = it->range.has_min ? it->range.min : 0;
		double hi = it->range.has_max ? it->range.max : lo + 100;
		double v = old ? strtod(old, NULL) : lo;
		double nv =
		    v + (double)rnd(s, 1, 5) / 10 * (chance(s, 0.5) ? 1 : -1);

		if (nv < lo || nv > hi)
			nv = v - (nv - v);
		snprintf(out, GEN_VALUE_MAX, "%.*f", it->precision, nv);
	}
}

/*
 * Now and then, correct one item of a form just saved, as a site does
 * when it spots a typo: a new value with a reason, naming the old one.
 */
static int maybe_correct(struct gen *g, struct gen_subject *s,
			 const struct gen_save *done, double p,
			 struct cb_err *err)
{
	const struct cb_protocol_form *f = form_of(g, done->form);
	const struct cb_protocol_item *it;
	static const char *const reasons[] = {
	    "Transcription error corrected against the source document",
	    "Typing error",
	    "Value re-measured and corrected",
	};
	struct gen_save sv;
	size_t i;

	if (!f || !done->n || !chance(s, p))
		return 0;
	i = (size_t)rnd(s, 0, (int64_t)done->n - 1);
	it = cb_protocol_find_item(f, done->items[i]);
	if (!it || !correctable_item(it))
		return 0;
	gen_save_init(&sv, done->visit, done->form, 0);
	memcpy(sv.instance, done->instance, sizeof(sv.instance));
	sv.items[0] = it->code;
	other_value(s, it, done->values[i], sv.values[0]);
	sv.n = 1;
	sv.reason = reasons[rnd(s, 0, 2)];
	return gen_save_form(g, s, s->creator, &sv, err);
}

/* Save one questionnaire part by part (WOMAC: pain, stiffness, function;
 * KOOS: its five subscales), as a site enters it page by page: items are
 * grouped by the letters their codes start with. */
static int save_parts(struct gen *g, struct gen_subject *s,
		      const struct gen_save *all, struct cb_err *err)
{
	struct gen_save part;
	size_t i = 0, j, k;
	int rc = 0;

	while (rc >= 0 && i < all->n) {
		size_t plen = strcspn(all->items[i], "0123456789");

		gen_save_init(&part, all->visit, all->form, 0);
		memcpy(part.instance, all->instance, sizeof(part.instance));
		for (j = i; j < all->n; j++) {
			if (strcspn(all->items[j], "0123456789") != plen ||
			    strncmp(all->items[j], all->items[i], plen))
				break;
			k = part.n++;
			part.items[k] = all->items[j];
			memcpy(part.values[k], all->values[j], GEN_VALUE_MAX);
		}
		i = j;
		rc = gen_save_form(g, s, s->creator, &part, err);
		if (rc == 0)
			rc = maybe_correct(g, s, &part, 0.02, err);
	}
	return rc < 0 ? rc : 0;
}

/*
 * The values of `form` at visit `v` on `date` (days), `rel` days after
 * baseline. Forms this generator does not know get values drawn from
 * their items' types and ranges.
 */
static void fill_form(struct gen_subject *s, const struct cb_protocol_visit *v,
		      const struct cb_protocol_form *f, int64_t date,
		      int64_t rel, struct gen_save *sv)
{
	const char *fc = f->code;
	int pain = pain_at(s, rel);
	size_t i;

	gen_save_init(sv, v->code, fc, 0);
	if (!strcmp(fc, "SV")) {
		gen_put_day(sv, "VISDT", date);
	} else if (!strcmp(fc, "DM")) {
		gen_put(sv, "BRTHYR", "%d", s->brthyr);
		gen_put(sv, "SEX", "%s", s->male ? "M" : "F");
		gen_put(sv, "HEIGHT", "%.1f", s->height);
		gen_put(sv, "WEIGHT", "%.1f", s->weight);
		gen_put(sv, "KNEE", "%s", s->right_knee ? "R" : "L");
		gen_put_day(sv, "CONSDT", s->consent);
	} else if (!strcmp(fc, "ELIG")) {
		double m = s->height / 100;
		double bmi =
		    (double)(long)(s->weight / (m * m) * 10 + 0.5) / 10;

		gen_put(sv, "AGE", "%d", s->age);
		gen_put(sv, "KLGRADE", "%d", s->klgrade);
		gen_put(sv, "PAIN3M", "%s", s->fail == 2 ? "N" : "Y");
		gen_put(sv, "BMI", "%.1f", bmi);
		gen_put(sv, "IAINJ3M", "%s", s->fail == 4 ? "Y" : "N");
		gen_put(sv, "INFLARTH", "%s", s->fail == 5 ? "Y" : "N");
		/* a male subject's answer is NA; now and then N (soft) */
		gen_put(sv, "PREG", "%s",
			s->fail == 6   ? "Y"
			: s->male      ? (chance(s, 0.03) ? "N" : "NA")
			: s->age >= 55 ? "NA"
				       : "N");
	} else if (!strcmp(fc, "HARV")) {
		gen_put_day(sv, "HARVDT", chance(s, 0.02) ? date - 1 : date);
		gen_put(sv, "LIPOVOL", "%d", (int)rnd(s, 80, 300));
	} else if (!strcmp(fc, "CELL")) {
		gen_put(sv, "CELLCNT", "%.1f", (double)rnd(s, 600, 1400) / 10);
		gen_put(sv, "VIABIL", "%.1f", (double)rnd(s, 850, 995) / 10);
		gen_put(sv, "STERIL", "%s", "PASS");
	} else if (!strcmp(fc, "DOSE")) {
		char d[CB_DATE_TEXT_MAX + 1];

		gen_day_text(date, d);
		gen_put(sv, "EXDTC", "%sT%02d:%02d", d, (int)rnd(s, 9, 16),
			(int)rnd(s, 0, 11) * 5);
		gen_put(sv, "KITNO", "%s", s->kit);
		gen_put(sv, "EXVOL", "%s", chance(s, 0.02) ? "2.0" : "3.0");
		gen_put(sv, "EXKNEE", "%s",
			s->right_knee != chance(s, 0.01) ? "R" : "L");
		gen_put(sv, "EXLOT", "LOT-%.4s%.2s-%02d", d, d + 5,
			(int)rnd(s, 1, 4));
		gen_put(sv, "IMMREACT", "%s", chance(s, 0.03) ? "Y" : "N");
	} else if (!strcmp(fc, "VAS")) {
		gen_put(sv, "VAS", "%d", pain);
	} else if (!strcmp(fc, "WOMAC") || !strcmp(fc, "KOOS")) {
		for (i = 0; i < f->nitems; i++)
			gen_put(sv, f->items[i].code, "%d", likert(s, pain));
	} else if (!strcmp(fc, "MRI")) {
		double t =
		    s->mfc0 - 0.0015 * (double)rel + (double)rnd(s, -1, 1) / 10;

		gen_put(sv, "MFCTHK", "%.1f", t < 0.1 ? 0.1 : t);
		gen_put(sv, "READER", "RDR%02d", (int)rnd(s, 1, 4));
		gen_put_day(sv, "SCANDT", date);
	} else if (!strcmp(fc, "PE")) {
		static const char *const eff[] = {"NONE", "SMALL", "MOD",
						  "LARGE"};
		int rom = s->rom0 + (int)(s->improve * 20 * (rel > 0)) +
			  (int)rnd(s, -5, 5);
		int e = pain > 70   ? (int)rnd(s, 1, 2)
			: pain > 40 ? (int)rnd(s, 0, 1)
				    : (chance(s, 0.9) ? 0 : 1);

		if (chance(s, 0.01))
			e = 3;
		gen_put(sv, "ROM", "%d", rom < 0 ? 0 : rom > 160 ? 160 : rom);
		gen_put(sv, "EFFUS", "%s", eff[e]);
	} else {
		for (i = 0; i < f->nitems; i++) {
			const struct cb_protocol_item *it = &f->items[i];

			switch (it->type) {
			case CB_ITEM_INTEGER:
				gen_put(sv, it->code, "%ld",
					it->range.has_min ? (long)it->range.min
							  : 1);
				break;
			case CB_ITEM_DECIMAL:
				gen_put(sv, it->code, "%.*f", it->precision,
					it->range.has_min ? it->range.min
							  : 1.0);
				break;
			case CB_ITEM_CHOICE:
				gen_put(sv, it->code, "%s",
					it->choices[0].code);
				break;
			case CB_ITEM_BOOLEAN:
				gen_put(sv, it->code, "N");
				break;
			case CB_ITEM_DATE:
			case CB_ITEM_PARTIAL_DATE:
				gen_put_day(sv, it->code, date);
				break;
			case CB_ITEM_DATETIME: {
				char d[CB_DATE_TEXT_MAX + 1];

				gen_day_text(date, d);
				gen_put(sv, it->code, "%sT10:00", d);
				break;
			}
			case CB_ITEM_TEXT:
				gen_put(sv, it->code, "generated");
				break;
			}
		}
	}
}

/* Save every form of visit v (but those another phase or device writes). */
static int do_visit(struct gen *g, struct gen_subject *s,
		    const struct cb_protocol_visit *v, int64_t date,
		    struct cb_err *err)
{
	const struct cb_protocol *p = g->p;
	struct gen_save sv;
	size_t i;
	int rc = 0, pass;

	/* The visit date first, then the visit's other forms. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; rc >= 0 && i < v->nforms; i++) {
			const struct cb_protocol_form *f = v->forms[i];
			int is_sv = !strcmp(f->code, "SV");

			if (is_sv != !pass)
				continue;
			if (f == p->rand_form) {
				continue; /* gen_randomize() writes it */
			}
			if (!(f->writers & CB_WRITER_COORDINATOR))
				continue; /* the lab's, in phase 2 */
			if (!strcmp(f->code, "DOSE") && !s->randomized)
				continue; /* no kit to give */
			fill_form(s, v, f, date, date - s->bl, &sv);
			if (f->nscores && f->nitems > 10) {
				rc = save_parts(g, s, &sv, err);
				continue;
			}
			rc = gen_save_form(g, s, s->creator, &sv, err);
			if (rc == 0 && !strcmp(f->code, "DOSE"))
				g->dosed++;
			if (rc == 0 && !is_sv)
				rc = maybe_correct(g, s, &sv, 0.03, err);
		}
	}
	return rc < 0 ? rc : 0;
}

/* ---- the plan -------------------------------------------------------------
 */

/* Draw everything about subject s that its events will need. */
static void plan_subject(struct gen *g, struct gen_subject *s,
			 const struct cb_protocol_visit **post, size_t npost)
{
	/* the eligibility criterion a screen failure misses: AGE, KLGRADE,
	 * PAIN3M, BMI, IAINJ3M, INFLARTH, PREG */
	static const int fail_w[] = {20, 30, 15, 15, 10, 5, 5};
	double bmi, m;
	int64_t prev, horizon;
	size_t i, n;

	s->consent = g->today - rnd(s, 7, 1000);
	s->scr = min64(s->consent + rnd(s, 0, 2), g->today);
	s->bl = s->scr + rnd(s, 7, 27);
	s->male = chance(s, 0.42);
	s->right_knee = chance(s, 0.55);
	s->fail = chance(s, 0.2) ? (int)pick(s, fail_w, 7) : -1;
	if (s->fail == 6 && s->male)
		s->fail = 1;
	s->age = (int)rnd(s, 42, 75);
	if (s->fail == 0)
		s->age =
		    chance(s, 0.5) ? (int)rnd(s, 30, 39) : (int)rnd(s, 76, 84);
	s->brthyr = day_year(s->consent) - s->age - (int)rnd(s, 0, 1);
	s->klgrade = chance(s, 0.55) ? 2 : 3;
	if (s->fail == 1)
		s->klgrade = chance(s, 0.5) ? 1 : 4;
	s->height = s->male ? (double)rnd(s, 1620, 1900) / 10
			    : (double)rnd(s, 1500, 1750) / 10;
	bmi = s->fail == 3 ? (double)rnd(s, 356, 420) / 10
			   : (double)rnd(s, 200, 345) / 10;
	m = s->height / 100;
	s->weight = (double)(long)(bmi * m * m * 10 + 0.5) / 10;
	s->vas0 = (int)rnd(s, 45, 85);
	s->rom0 = (int)rnd(s, 85, 125);
	s->improve = unif(s) * 0.6;
	s->mfc0 = (double)rnd(s, 12, 30) / 10;

	/* The visits after baseline, inside their windows now and then
	 * a few days out (soft: a query), each after the one before. */
	prev = s->bl;
	for (i = 0; i < npost; i++) {
		const struct cb_protocol_visit *v = post[i];
		int64_t d = v->day + rnd(s, -3, 3);

		if (d < v->low)
			d = v->low;
		if (d > v->high)
			d = v->high;
		if (chance(s, 0.02))
			d = v->high + rnd(s, 1, 6);
		s->vdate[i] = max64(s->bl + d, prev + 1);
		prev = s->vdate[i];
	}

	/* Leaving early, at a visit it then does not reach. */
	s->leave = GEN_STAYS;
	s->eos = -1;
	s->leave_at = npost;
	if (chance(s, 0.07))
		s->leave = GEN_WITHDREW;
	else if (chance(s, 0.04))
		s->leave = GEN_LOST;
	else if (chance(s, 0.004))
		s->leave = GEN_DIED;
	if (s->leave != GEN_STAYS && npost) {
		int64_t before;

		s->leave_at = (size_t)rnd(s, 0, (int64_t)npost - 1);
		before = s->leave_at ? s->vdate[s->leave_at - 1] : s->bl;
		s->eos =
		    before +
		    rnd(s, 1, max64(1, s->vdate[s->leave_at] - before - 1));
	} else if (npost) {
		s->eos = s->vdate[npost - 1]; /* completes */
	}
	s->leave_reason =
	    s->leave == GEN_WITHDREW
		? (chance(s, 0.5) ? "Withdrew consent"
				  : "Moved away from the study site")
	    : s->leave == GEN_LOST ? "No answer to three contact attempts"
				   : NULL;

	/* Adverse events from screening to the end of study or today. */
	s->nae = 0;
	if (s->fail >= 0 || s->bl > g->today)
		return;
	horizon = s->eos >= 0 ? min64(s->eos, g->today) : g->today;
	{
		static const int count_w[] = {25, 25, 20, 13, 9, 5, 3};

		n = pick(s, count_w, 7);
	}
	for (i = 0; i < n && s->nae < GEN_AE_MAX - 1; i++)
		plan_ae(s, &s->ae[s->nae++], s->scr, horizon);
	if (s->leave == GEN_DIED && s->eos <= g->today) {
		struct gen_ae *a = &s->ae[s->nae++];
		int64_t last = s->leave_at ? s->vdate[s->leave_at - 1] : s->bl;

		/* After the last visit it attended: a grade 5 event is
		 * recorded once, at the death, with its fatal outcome. */
		plan_ae(s, a, max64(last + 1, s->eos - 10), s->eos);
		a->fatal = 1;
		a->grade = 5;
		a->serious = 1;
		a->criterion = 0;
		a->rel = (int)rnd(s, 0, 1);
		a->relpr = 0;
		a->treated = 1;
		a->partial = a->sev_off = a->no_end = 0;
		a->end = s->eos;
		a->term = fatal_terms[rnd(s, 0, 2)];
	}
}

/* ---- phases ---------------------------------------------------------------
 */

static int end_of_study(struct gen *g, struct gen_subject *s, const char *stat,
			const char *reason, struct cb_err *err)
{
	const struct cb_protocol_form *eos = form_of(g, "EOS");
	struct gen_save sv;

	if (!eos)
		return 0;
	gen_save_init(&sv, CB_PROTOCOL_LOG_VISIT, eos->code, 0);
	gen_put(&sv, "EOSSTAT", "%s", stat);
	gen_put_day(&sv, "EOSDT", s->eos);
	if (reason)
		gen_put(&sv, "EOSREAS", "%s", reason);
	return gen_save_form(g, s, s->creator, &sv, err);
}

/* Candidate items for a query, a conflict or a late correction: values
 * of correctable items, optionally of one form instance only. */
struct cand {
	struct gen_query at[CAND_MAX];
	char value[CAND_MAX][GEN_VALUE_MAX];
	char head[CAND_MAX][CB_EVENT_ID_HEX + 1];
	size_t n;
	const struct gen *g;
	const char *visit, *form; /* NULL: any */
};

static int cand_one(const struct cb_merge_item *it, void *ctx)
{
	struct cand *c = ctx;
	const struct cb_protocol_form *f;
	const struct cb_protocol_item *pi;
	struct gen_query *q;

	if (c->n >= CAND_MAX || it->conflict || !it->value || it->nheads != 1)
		return 0;
	if ((c->visit && strcmp(c->visit, it->visit)) ||
	    (c->form && strcmp(c->form, it->form)))
		return 0;
	f = form_of(c->g, it->form);
	pi = f ? cb_protocol_find_item(f, it->item) : NULL;
	if (!pi || !correctable_item(pi))
		return 0;
	q = &c->at[c->n];
	memset(q, 0, sizeof(*q));
	snprintf(q->visit, sizeof(q->visit), "%s", it->visit);
	snprintf(q->form, sizeof(q->form), "%s", it->form);
	snprintf(q->instance, sizeof(q->instance), "%s", it->instance);
	snprintf(q->item, sizeof(q->item), "%s", it->item);
	snprintf(c->value[c->n], GEN_VALUE_MAX, "%s", it->value);
	snprintf(c->head[c->n], CB_EVENT_ID_HEX + 1, "%s", it->heads[0]);
	c->n++;
	return 0;
}

static int candidates(struct gen *g, struct gen_subject *s, const char *visit,
		      const char *form, struct cand *c, struct cb_err *err)
{
	int rc;

	c->n = 0;
	c->g = g;
	c->visit = visit;
	c->form = form;
	rc = cb_merge_each_item(s->m, s->id, visit, form, NULL, cand_one, c);
	if (rc)
		return cb_err_set(err, rc, "out of memory");
	return 0;
}

static const struct cb_protocol_item *item_of(struct gen *g,
					      const struct gen_query *at)
{
	const struct cb_protocol_form *f = form_of(g, at->form);

	return f ? cb_protocol_find_item(f, at->item) : NULL;
}

/*
 * Phase 1, the site coordinator: the subject's whole course up to today
 * (see the top of this file), then one side of a conflict.
 */
static int phase1(struct gen *g, struct gen_subject *s, struct cb_err *err)
{
	const struct cb_protocol *p = g->p;
	const struct cb_protocol_visit *post[GEN_VISIT_MAX];
	size_t npost = post_visits(g, post), i;
	struct cb_event ev;
	int rc;

	plan_subject(g, s, post, npost);
	rc = gen_new_event(s, s->creator, &ev, CB_KIND_SUBJECT_STATUS, "", "",
			   "", err);
	if (!rc)
		rc = cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED,
				       err);
	if (!rc)
		rc = gen_emit(g, s, s->creator, &ev, NULL, err);
	cb_event_release(&ev);
	if (rc)
		return rc < 0 ? rc : 0; /* no subject, nothing more */
	s->created = 1;

	/* Screening visits (before day 0). */
	for (i = 0; rc >= 0 && i < p->nvisits; i++)
		if (p->visits[i].scheduled && p->visits[i].day < 0)
			rc = do_visit(g, s, &p->visits[i], s->scr, err);
	if (rc < 0)
		return rc;
	if (s->fail >= 0) {
		g->screen_fail++;
		return 0;
	}
	if (s->bl > g->today) {
		g->ongoing++;
		return 0; /* eligible, baseline still to come */
	}

	/* Baseline: the visit date, randomization, then the forms. */
	s->reached_bl = 1;
	if (p->day0.visit) {
		const struct cb_protocol_visit *v = p->day0.visit;
		struct gen_save sv;

		gen_save_init(&sv, v->code, p->day0.form->code, 0);
		gen_put_day(&sv, p->day0.item->code, s->bl);
		rc = gen_save_form(g, s, s->creator, &sv, err);
		if (rc >= 0 && g->randomize && p->rand_form) {
			char day[CB_DATE_TEXT_MAX + 1], when[32];

			gen_day_text(s->bl, day);
			snprintf(when, sizeof(when), "%sT%02d:%02d", day,
				 (int)rnd(s, 9, 15), (int)rnd(s, 0, 59));
			rc = gen_randomize(g, s, when, err);
		}
		if (rc >= 0)
			rc = report_aes(g, s, s->bl, err);
		if (rc >= 0)
			rc = do_visit(g, s, v, s->bl, err);
		if (rc < 0)
			return rc;
	}

	/* The visits after baseline. */
	for (i = 0; i < npost; i++) {
		int64_t d = s->vdate[i];

		if (s->leave != GEN_STAYS && i == s->leave_at)
			break;
		if (d > g->today)
			break;
		rc = report_aes(g, s, d, err);
		if (rc >= 0)
			rc = do_visit(g, s, post[i], d, err);
		if (rc < 0)
			return rc;
		if (!strcmp(post[i]->code, "INJ"))
			s->inj_done = 1;
	}

	/* The end of study, once it has come. */
	if (s->eos >= 0 && s->eos <= g->today &&
	    (s->leave != GEN_STAYS || i == npost)) {
		rc = report_aes(g, s, s->eos, err);
		if (rc >= 0)
			rc =
			    end_of_study(g, s,
					 s->leave == GEN_WITHDREW ? "WITHDREW"
					 : s->leave == GEN_LOST	  ? "LOST"
					 : s->leave == GEN_DIED	  ? "DEATH"
								  : "COMPLETED",
					 s->leave == GEN_DIED
					     ? "Died of a serious adverse event"
					     : s->leave_reason,
					 err);
		if (rc < 0)
			return rc;
		if (s->leave == GEN_WITHDREW)
			g->withdrew++;
		else if (s->leave == GEN_LOST)
			g->lost++;
		else if (s->leave == GEN_DIED)
			g->died++;
		else
			g->completed++;
	} else {
		rc = report_aes(g, s, g->today, err);
		if (rc < 0)
			return rc;
		g->ongoing++;
	}

	/* One side of a conflict: the coordinator corrects a baseline value
	 * that the investigator (phase 2) will change too, both naming the
	 * value they saw. */
	if (p->day0.visit && chance(s, 0.06)) {
		struct cand *c = malloc(sizeof(*c));

		if (!c)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = candidates(g, s, p->day0.visit->code, NULL, c, err);
		if (!rc && c->n) {
			size_t k = (size_t)rnd(s, 0, (int64_t)c->n - 1);
			const struct cb_protocol_item *it =
			    item_of(g, &c->at[k]);
			char v[GEN_VALUE_MAX];
			const char *h0 = c->head[k];

			s->conflict = c->at[k];
			snprintf(s->conflict.id, sizeof(s->conflict.id), "%s",
				 h0);
			other_value(s, it, c->value[k], v);
			rc = gen_save_over(g, s, s->creator, &c->at[k], v, &h0,
					   1,
					   "Corrected after source data "
					   "verification",
					   err);
			if (!rc)
				s->has_conflict = 1;
		}
		free(c);
	}
	return rc < 0 ? rc : 0;
}

/*
 * Phase 1, then: a site's coordinator that has made its last subject
 * hands over to the next one. Its lease is topped up once more, after
 * every randomization it made is on the server, so the slots it keeps
 * unused, and so the next device's first slot, never depend on how far
 * the pushes had got.
 */
static int phase1_handover(struct gen *g, struct gen_subject *s,
			   struct cb_err *err)
{
	int rc = phase1(g, s, err);

	if (rc || !g->randomize || g->dry || !s->last_of_device)
		return rc;
	rc = gen_flush_device(g, s->creator, err);
	if (!rc)
		rc = gen_pusher_drain(&g->pusher, err);
	if (!rc)
		rc = gen_fetch_slots(&g->http, s->creator, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		rc = 0;
	}
	return rc;
}

struct sign_ctx {
	struct gen_subject *s;
	const struct gen *g;
};

static int sign_collect(const struct cb_merge_form *f, void *ctx)
{
	struct sign_ctx *sc = ctx;
	struct gen_subject *s = sc->s;
	const struct cb_protocol *p = sc->g->p;
	const struct cb_protocol_form *pf = cb_protocol_find_form(p, f->form);
	struct gen_form *out;
	size_t i;

	if (!pf || !f->nitems || f->nconflicts || pf == p->rand_form ||
	    s->nsigns >= GEN_SIGN_MAX)
		return 0;
	for (i = 0; i < pf->nitems; i++)
		if (pf->items[i].unblinded)
			return 0; /* the investigator is blinded */
	out = &s->signs[s->nsigns++];
	snprintf(out->visit, sizeof(out->visit), "%s", f->visit);
	snprintf(out->form, sizeof(out->form), "%s", f->form);
	snprintf(out->instance, sizeof(out->instance), "%s", f->instance);
	return 0;
}

/* An investigator's e-signature of one form instance. */
static int sign_form(struct gen *g, struct gen_subject *s,
		     const struct gen_form *f, struct cb_err *err)
{
	struct gen_device *inv = g->inv[s->site];
	struct cb_event ev;
	char *seen = NULL;
	int rc;

	rc = cb_merge_form_seen(s->m, s->id, f->visit, f->form, f->instance,
				&seen, err);
	if (!rc)
		rc = gen_new_event(s, inv, &ev, CB_KIND_SIGN, f->visit, f->form,
				   f->instance, err);
	if (!rc)
		rc = cb_event_set_data(
		    &ev, CB_DATA_MEANING,
		    "I approve the data of this form as complete and accurate",
		    err);
	if (!rc)
		rc = cb_event_set_data(&ev, CB_DATA_SEEN, seen, err);
	if (!rc)
		rc = gen_emit(g, s, inv, &ev, NULL, err);
	cb_event_release(&ev);
	free(seen);
	return rc;
}

/* Phase 2: the investigator, the laboratory and the data manager. */
static int phase2(struct gen *g, struct gen_subject *s, struct cb_err *err)
{
	struct gen_device *inv = g->inv[s->site];
	struct sign_ctx sc = {s, g};
	struct gen_form all[GEN_SIGN_MAX];
	size_t i, n;
	int rc = 0;

	if (!s->created)
		return 0;

	/* The other side of the conflict: the same value as first saved,
	 * changed by the investigator, naming it too. */
	if (s->has_conflict) {
		const struct cb_protocol_item *it = item_of(g, &s->conflict);
		struct cb_merge_item cur;
		char v[GEN_VALUE_MAX];
		const char *h0 = s->conflict.id;

		rc = cb_merge_item_get(s->m, s->id, s->conflict.visit,
				       s->conflict.form, s->conflict.instance,
				       s->conflict.item, &cur, err);
		if (!rc) {
			other_value(s, it, cur.value, v);
			rc = gen_save_over(g, s, inv, &s->conflict, v, &h0, 1,
					   "Corrected at the monitoring visit",
					   err);
		}
		if (rc == 0)
			g->conflicts++;
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
		}
		if (rc < 0)
			return rc;
	}

	/* The cell release of the unblinded laboratory. */
	if (s->inj_done) {
		const struct cb_protocol_visit *v =
		    cb_protocol_find_visit(g->p, "INJ");
		const struct cb_protocol_form *f = form_of(g, "CELL");
		struct gen_save sv;

		if (v && f) {
			fill_form(s, v, f, s->vdate[0], 21, &sv);
			rc = gen_save_form(g, s, g->lab, &sv, err);
			if (rc < 0)
				return rc;
		}
	}

	/* E-signatures of most forms. */
	s->nsigns = 0;
	rc = cb_merge_each_form(s->m, s->id, sign_collect, &sc);
	if (rc)
		return cb_err_set(err, rc, "out of memory");
	n = s->nsigns;
	memcpy(all, s->signs, n * sizeof(*all));
	s->nsigns = 0;
	for (i = 0; i < n; i++) {
		if (!chance(s, 0.85))
			continue;
		rc = sign_form(g, s, &all[i], err);
		if (rc < 0)
			return rc;
		if (!rc)
			s->signs[s->nsigns++] = all[i];
	}

	/* The data manager's review: a few queries on values. */
	if (s->reached_bl) {
		static const int nq_w[] = {40, 30, 20, 10};
		struct cand *c = malloc(sizeof(*c));
		struct cb_event ev;
		size_t nq = pick(s, nq_w, 4);

		if (!c)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = candidates(g, s, NULL, NULL, c, err);
		while (!rc && c->n && nq--) {
			size_t k = (size_t)rnd(s, 0, (int64_t)c->n - 1);
			const struct gen_query *at = &c->at[k];
			char text[200];

			snprintf(text, sizeof(text),
				 "Please check %s %s.%s (%s): it does not fit "
				 "the other visits",
				 at->visit, at->form, at->item, c->value[k]);
			rc = gen_new_event(s, g->dm, &ev, CB_KIND_QUERY_OPEN,
					   at->visit, at->form, at->instance,
					   err);
			if (!rc)
				rc = cb_event_set_data(&ev, CB_DATA_TEXT, text,
						       err);
			if (!rc)
				rc = cb_event_set_data(&ev, CB_DATA_ITEM,
						       at->item, err);
			if (!rc)
				rc = gen_emit(g, s, g->dm, &ev, NULL, err);
			if (!rc)
				gen_remember_query(s, &ev, at->item, 1);
			cb_event_release(&ev);
			if (rc == 1)
				rc = 0;
		}
		free(c);
	}
	return rc < 0 ? rc : 0;
}

/*
 * Resolve the subject's conflict, if it still is one, as device d: one
 * of the values kept, in a change naming every head, with a reason.
 */
static int resolve_conflict(struct gen *g, struct gen_subject *s,
			    struct gen_device *d, const char *reason,
			    struct cb_err *err)
{
	struct cb_merge_item cur;
	struct gen_save sv;
	int rc;

	rc = cb_merge_item_get(s->m, s->id, s->conflict.visit, s->conflict.form,
			       s->conflict.instance, s->conflict.item, &cur,
			       err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		return 0;
	}
	if (rc || !cur.conflict)
		return rc;
	gen_save_init(&sv, s->conflict.visit, s->conflict.form, 0);
	memcpy(sv.instance, s->conflict.instance, sizeof(sv.instance));
	sv.items[0] = s->conflict.item;
	snprintf(sv.values[0], GEN_VALUE_MAX, "%s",
		 cur.head_values[rnd(s, 0, (int64_t)cur.nheads - 1)]);
	sv.n = 1;
	sv.reason = reason;
	return gen_save_form(g, s, d, &sv, err);
}

/* Phase 3: the coordinator answers, resolves and corrects late. */
static int phase3(struct gen *g, struct gen_subject *s, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	if (!s->created)
		return 0;
	for (i = 0; rc >= 0 && i < s->nq; i++) {
		struct gen_query *q = &s->q[i];
		const char *text =
		    "Checked against the source document: the value is "
		    "correct as recorded";

		if (!chance(s, q->dm ? 0.9 : 0.75))
			continue;
		if (q->dm && q->item[0] && chance(s, 0.35)) {
			const struct cb_protocol_item *it = item_of(g, q);
			struct cb_merge_item cur;
			struct gen_save sv;

			rc = cb_merge_item_get(s->m, s->id, q->visit, q->form,
					       q->instance, q->item, &cur, err);
			if (rc == CB_ENOTFOUND || !it) {
				cb_err_clear(err);
				rc = 0;
				continue;
			}
			if (rc)
				return rc;
			gen_save_init(&sv, q->visit, q->form, 0);
			memcpy(sv.instance, q->instance, sizeof(sv.instance));
			sv.items[0] = it->code;
			other_value(s, it, cur.conflict ? NULL : cur.value,
				    sv.values[0]);
			sv.n = 1;
			sv.reason = "Corrected in answer to a data manager "
				    "query";
			rc = gen_save_form(g, s, s->creator, &sv, err);
			text = "Corrected against the source document";
		}
		if (rc >= 0)
			rc =
			    gen_query_event(g, s, s->creator,
					    CB_KIND_QUERY_ANSWER, q, text, err);
		if (rc == 0)
			q->answered = 1;
	}
	if (rc < 0)
		return rc;

	/* Half the conflicts are resolved at the site (the data manager
	 * takes most others, phase 4). */
	if (s->has_conflict && chance(s, 0.5)) {
		rc = resolve_conflict(g, s, s->creator,
				      "Conflict resolved against the source "
				      "document",
				      err);
		if (rc < 0)
			return rc;
	}

	/* A late correction on a signed form breaks its signature. */
	for (i = 0; i < s->nsigns; i++) {
		struct cand *c;

		if (!chance(s, 0.03))
			continue;
		c = malloc(sizeof(*c));
		if (!c)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = candidates(g, s, s->signs[i].visit, s->signs[i].form, c,
				err);
		if (!rc && c->n) {
			size_t k = (size_t)rnd(s, 0, (int64_t)c->n - 1);
			const struct cb_protocol_item *it =
			    item_of(g, &c->at[k]);
			struct gen_save sv;

			gen_save_init(&sv, c->at[k].visit, c->at[k].form, 0);
			memcpy(sv.instance, c->at[k].instance,
			       sizeof(sv.instance));
			sv.items[0] = it->code;
			other_value(s, it, c->value[k], sv.values[0]);
			sv.n = 1;
			sv.reason = "Late correction after source data "
				    "verification";
			rc = gen_save_form(g, s, s->creator, &sv, err);
		}
		free(c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Phase 4: the data manager closes answered queries and resolves most
 * conflicts still open (a role that resolves, role.h); the investigator
 * signs again what a late change broke.
 */
static int phase4(struct gen *g, struct gen_subject *s, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	if (!s->created)
		return 0;
	for (i = 0; rc >= 0 && i < s->nq; i++)
		if (s->q[i].answered && chance(s, 0.85))
			rc = gen_query_event(g, s, g->dm, CB_KIND_QUERY_CLOSE,
					     &s->q[i], "Answer accepted", err);
	if (rc >= 0 && s->has_conflict && chance(s, 0.6))
		rc = resolve_conflict(g, s, g->dm,
				      "Conflict resolved by the data manager "
				      "with the monitoring report",
				      err);
	for (i = 0; rc >= 0 && i < s->nsigns; i++) {
		struct cb_merge_form f;

		rc = cb_merge_form_get(s->m, s->id, s->signs[i].visit,
				       s->signs[i].form, s->signs[i].instance,
				       &f, err);
		if (rc == CB_ENOTFOUND) {
			cb_err_clear(err);
			rc = 0;
			continue;
		}
		if (!rc && f.broken && !f.nconflicts && chance(s, 0.5))
			rc = sign_form(g, s, &s->signs[i], err);
	}
	return rc < 0 ? rc : 0;
}

/* ---- chunks ----------------------------------------------------------------
 */

int gen_chunk(struct gen *g, uint64_t first, size_t n, struct cb_err *err)
{
	int (*const phases[])(struct gen *, struct gen_subject *,
			      struct cb_err *) = {phase1_handover, phase2,
						  phase3, phase4};
	struct gen_subject *subj;
	size_t i, ph;
	int rc = 0;

	subj = calloc(n, sizeof(*subj));
	if (!subj)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (i = 0; !rc && i < n; i++) {
		struct gen_subject *s = &subj[i];
		size_t coord;
		long seq;

		s->index = first + i;
		gen_place(g->nsites, g->per_device, s->index, &s->site, &coord,
			  &seq);
		s->creator = g->coord[s->site][coord];
		s->last_of_device =
		    seq == g->per_device && coord + 1 < g->ncoord[s->site];
		rc = cb_subject_id_make(s->creator->site, s->creator->index,
					seq, s->id, err);
		if (!rc)
			rc = cb_merge_new(&s->m, err);
		rng_seed(&s->rng, g->seed, s->index);
	}
	for (ph = 0; !rc && ph < sizeof(phases) / sizeof(*phases); ph++) {
		for (i = 0; !rc && i < n; i++)
			rc = phases[ph](g, &subj[i], err);
		/* What a phase made reaches the server before the next. */
		if (!rc)
			rc = gen_flush_all(g, err);
	}
	for (i = 0; i < n; i++)
		cb_merge_free(subj[i].m);
	free(subj);
	return rc;
}
