/*
 * test_score.c - WOMAC 3.1, KOOS and VAS scoring: hand-computed results
 * for complete forms, each missing-item rule on both sides of its
 * threshold, rounding on half hundredths, and the lookup and parsing
 * helpers.
 *
 * Cases describe the answers as "P1=1 p2=3 F1-F14=1": names are resolved
 * through cb_score_item_index (so mixed case is part of the test), and
 * "A-B=v" gives every item from A to B the value v.
 */
#include "score.h"
#include "t.h"

#include <math.h>

/* Set vals[] from a description; returns 0 on a malformed description. */
static int set_items(const struct cb_score_method *m, int *vals,
		     const char *desc)
{
	const char *p = desc;
	size_t i;

	for (i = 0; i < m->nitems; i++)
		vals[i] = CB_SCORE_MISSING;
	while (*p) {
		char tok[64], first[16], last[16];
		const char *dash, *eq;
		size_t n = strcspn(p, " ");
		int a, b;
		long v;
		char *end;

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof(tok))
			return 0;
		memcpy(tok, p, n);
		tok[n] = '\0';
		p += n;
		eq = strchr(tok, '=');
		if (!eq)
			return 0;
		dash = memchr(tok, '-', (size_t)(eq - tok));
		snprintf(first, sizeof(first), "%.*s",
			 (int)((dash ? dash : eq) - tok), tok);
		snprintf(last, sizeof(last), "%.*s",
			 dash ? (int)(eq - dash - 1) : (int)(eq - tok),
			 dash ? dash + 1 : tok);
		a = cb_score_item_index(m, first);
		b = cb_score_item_index(m, last);
		v = strtol(eq + 1, &end, 10);
		if (a < 0 || b < a || *end)
			return 0;
		for (; a <= b; a++)
			vals[a] = (int)v;
	}
	return 1;
}

/* "name=value ..." for every output, "null" when invalid. */
static const char *format_scores(const struct cb_score_method *m,
				 const double *out, const int *valid)
{
	static char buf[256];
	size_t len = 0, j;

	buf[0] = '\0';
	for (j = 0; j < m->noutputs; j++) {
		char one[64];

		if (valid[j])
			snprintf(one, sizeof(one), "%s%s=%.2f", j ? " " : "",
				 m->outputs[j], out[j]);
		else
			snprintf(one, sizeof(one), "%s%s=null", j ? " " : "",
				 m->outputs[j]);
		snprintf(buf + len, sizeof(buf) - len, "%s", one);
		len += strlen(one);
	}
	return buf;
}

/* Score `desc` with `method` through cb_score_compute. */
static const char *score(const char *method, const char *desc)
{
	const struct cb_score_method *m = cb_score_method_find(method);
	int vals[CB_SCORE_ITEMS_MAX];
	double out[CB_SCORE_OUTPUTS_MAX];
	int valid[CB_SCORE_OUTPUTS_MAX];
	static struct cb_err err;

	if (!m)
		return "no such method";
	if (!set_items(m, vals, desc))
		return "bad test description";
	if (cb_score_compute(m, vals, out, valid, &err))
		return err.msg;
	return format_scores(m, out, valid);
}

static const char *r2(double v)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%.2f", cb_score_round2(v));
	return buf;
}

/* ---- lookups ---- */

static void test_method_find(void)
{
	const struct cb_score_method *const *all = cb_score_methods();

	T_ASSERT(cb_score_method_find("womac") != NULL);
	T_EQ_STR(cb_score_method_find("WoMaC")->name, "womac");
	T_EQ_STR(cb_score_method_find("KOOS")->name, "koos");
	T_EQ_STR(cb_score_method_find("vas")->name, "vas");
	T_ASSERT(cb_score_method_find("womacx") == NULL);
	T_ASSERT(cb_score_method_find("") == NULL);
	T_ASSERT(cb_score_method_find(NULL) == NULL);
	T_EQ_STR(all[0]->name, "womac");
	T_EQ_STR(all[1]->name, "koos");
	T_EQ_STR(all[2]->name, "vas");
	T_ASSERT(all[3] == NULL);
}

static void test_method_shapes(void)
{
	const struct cb_score_method *w = cb_score_method_find("womac");
	const struct cb_score_method *k = cb_score_method_find("koos");
	const struct cb_score_method *v = cb_score_method_find("vas");

	T_EQ_INT(w->nitems, 24);
	T_EQ_INT(w->item_min, 0);
	T_EQ_INT(w->item_max, 4);
	T_EQ_INT(w->noutputs, 4);
	T_EQ_STR(w->outputs[3], "total");
	T_EQ_INT(k->nitems, 42);
	T_EQ_INT(k->noutputs, 5);
	T_EQ_STR(k->outputs[3], "sport_rec");
	T_EQ_INT(v->nitems, 1);
	T_EQ_INT(v->item_max, 100);
	T_EQ_STR(v->outputs[0], "vas");
	T_ASSERT(k->nitems <= CB_SCORE_ITEMS_MAX);
	T_ASSERT(k->noutputs <= CB_SCORE_OUTPUTS_MAX);
}

static void test_item_index_case_insensitive(void)
{
	const struct cb_score_method *w = cb_score_method_find("womac");
	const struct cb_score_method *k = cb_score_method_find("koos");

	T_EQ_INT(cb_score_item_index(w, "P1"), 0);
	T_EQ_INT(cb_score_item_index(w, "p1"), 0);
	T_EQ_INT(cb_score_item_index(w, "s2"), 6);
	T_EQ_INT(cb_score_item_index(w, "f10"), 16);
	T_EQ_INT(cb_score_item_index(w, "F17"), 23);
	T_EQ_INT(cb_score_item_index(w, "P6"), -1);
	T_EQ_INT(cb_score_item_index(w, "F18"), -1);
	T_EQ_INT(cb_score_item_index(w, "P"), -1);
	T_EQ_INT(cb_score_item_index(w, "P1 "), -1);
	T_EQ_INT(cb_score_item_index(w, ""), -1);
	T_EQ_INT(cb_score_item_index(w, NULL), -1);
	/* S1 and SP1 are different items; neither is a prefix match. */
	T_EQ_INT(cb_score_item_index(k, "S1"), 9);
	T_EQ_INT(cb_score_item_index(k, "sp1"), 33);
	T_EQ_INT(cb_score_item_index(k, "Sp5"), 37);
	T_EQ_INT(cb_score_item_index(k, "a17"), 32);
	T_EQ_INT(cb_score_item_index(k, "Q4"), 41);
	T_EQ_INT(cb_score_item_index(k, "SP6"), -1);
	T_EQ_INT(cb_score_item_index(cb_score_method_find("vas"), "vas"), 0);
}

static void test_items_summary(void)
{
	char buf[128];

	T_EQ_INT(cb_score_items_summary(cb_score_method_find("womac"), buf,
					sizeof(buf)),
		 20);
	T_EQ_STR(buf, "P1-P5, S1-S2, F1-F17");
	cb_score_items_summary(cb_score_method_find("koos"), buf, sizeof(buf));
	T_EQ_STR(buf, "P1-P9, S1-S7, A1-A17, SP1-SP5, Q1-Q4");
	cb_score_items_summary(cb_score_method_find("vas"), buf, sizeof(buf));
	T_EQ_STR(buf, "VAS");
	/* Truncated but terminated, and the full length still reported. */
	T_EQ_INT(cb_score_items_summary(cb_score_method_find("womac"), buf, 8),
		 20);
	T_EQ_STR(buf, "P1-P5, ");
}

/* ---- WOMAC ---- */

static void test_womac_complete(void)
{
	/* 1+2+3+4+0 = 10; 2+3 = 5; 10 x 2 + 7 x 1 = 27; 42 in all. */
	T_EQ_STR(score("womac", "P1=1 P2=2 P3=3 P4=4 P5=0 S1=2 S2=3 "
				"F1-F10=2 F11-F17=1"),
		 "pain=10.00 stiffness=5.00 function=27.00 total=42.00");
	T_EQ_STR(score("womac", "P1-P5=4 S1-S2=4 F1-F17=4"),
		 "pain=20.00 stiffness=8.00 function=68.00 total=96.00");
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1-F17=0"),
		 "pain=0.00 stiffness=0.00 function=0.00 total=0.00");
}

static void test_womac_lowercase_items(void)
{
	T_EQ_STR(score("WOMAC", "p1=1 p2=2 p3=3 p4=4 p5=0 s1=2 s2=3 "
				"f1-f10=2 f11-F17=1"),
		 "pain=10.00 stiffness=5.00 function=27.00 total=42.00");
}

static void test_womac_nothing_answered(void)
{
	T_EQ_STR(score("womac", ""),
		 "pain=null stiffness=null function=null total=null");
}

static void test_womac_pain_one_missing_imputed(void)
{
	/* 1+2+3+0 = 6 over 4 answered: mean 1.5 x 5 items = 7.5. */
	T_EQ_STR(score("womac", "P1=1 P2=2 P3=3 P4=0 S1=2 S2=3 F1-F17=1"),
		 "pain=7.50 stiffness=5.00 function=17.00 total=29.50");
	/* Which item is missing does not matter: 4 x 3 / 4 x 5 = 15. */
	T_EQ_STR(score("womac", "P2-P5=3 S1-S2=0 F1-F17=0"),
		 "pain=15.00 stiffness=0.00 function=0.00 total=15.00");
}

static void test_womac_pain_two_missing_invalid(void)
{
	T_EQ_STR(score("womac", "P1=1 P2=2 P3=3 S1=2 S2=3 F1-F17=1"),
		 "pain=null stiffness=5.00 function=17.00 total=null");
	T_EQ_STR(score("womac", "P1=4 S1=2 S2=3 F1-F17=1"),
		 "pain=null stiffness=5.00 function=17.00 total=null");
}

static void test_womac_stiffness_one_vs_two_missing(void)
{
	/* One answered: 3 x 2 = 6. */
	T_EQ_STR(score("womac", "P1-P5=1 S1=3 F1-F17=1"),
		 "pain=5.00 stiffness=6.00 function=17.00 total=28.00");
	T_EQ_STR(score("womac", "P1-P5=1 S2=1 F1-F17=1"),
		 "pain=5.00 stiffness=2.00 function=17.00 total=24.00");
	T_EQ_STR(score("womac", "P1-P5=1 F1-F17=1"),
		 "pain=5.00 stiffness=null function=17.00 total=null");
}

static void test_womac_function_three_vs_four_missing(void)
{
	/* 14 answered, sum 2 + 13 = 15: 15 x 17 / 14 = 18.2142... */
	T_EQ_STR(score("womac", "P1-P5=1 S1-S2=1 F1=2 F2-F14=1"),
		 "pain=5.00 stiffness=2.00 function=18.21 total=25.21");
	/* 15 answered, all 1: 17. */
	T_EQ_STR(score("womac", "P1-P5=1 S1-S2=1 F1-F15=1"),
		 "pain=5.00 stiffness=2.00 function=17.00 total=24.00");
	/* 13 answered: four missing. */
	T_EQ_STR(score("womac", "P1-P5=1 S1-S2=1 F1-F13=1"),
		 "pain=5.00 stiffness=2.00 function=null total=null");
	T_EQ_STR(score("womac", "P1-P5=1 S1-S2=1 F5-F17=4"),
		 "pain=5.00 stiffness=2.00 function=null total=null");
}

static void test_womac_total_needs_all_three(void)
{
	T_EQ_STR(score("womac", "P1-P5=2 S1-S2=2"),
		 "pain=10.00 stiffness=4.00 function=null total=null");
	T_EQ_STR(score("womac", "P1-P5=2 F1-F17=2"),
		 "pain=10.00 stiffness=null function=34.00 total=null");
	T_EQ_STR(score("womac", "S1-S2=2 F1-F17=2"),
		 "pain=null stiffness=4.00 function=34.00 total=null");
}

static void test_womac_rounding_on_half_hundredths(void)
{
	/* 16 answered, sum 2: 2 x 17 / 16 = 2.125 -> 2.13. */
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1=2 F2-F16=0"),
		 "pain=0.00 stiffness=0.00 function=2.13 total=2.13");
	/* sum 6: 6.375 -> 6.38; sum 10: 10.625 -> 10.63. */
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1-F6=1 F7-F16=0"),
		 "pain=0.00 stiffness=0.00 function=6.38 total=6.38");
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1-F10=1 F11-F16=0"),
		 "pain=0.00 stiffness=0.00 function=10.63 total=10.63");
	/* sum 1: 1.0625 -> 1.06 (below the half). */
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1=1 F2-F16=0"),
		 "pain=0.00 stiffness=0.00 function=1.06 total=1.06");
	/* Total of unrounded parts: 1.25 + 0 + 2.125 = 3.375 -> 3.38. */
	T_EQ_STR(score("womac", "P1=1 P2-P4=0 S1-S2=0 F1=2 F2-F16=0"),
		 "pain=1.25 stiffness=0.00 function=2.13 total=3.38");
	/* 15 answered: 17/15 = 1.133.. and 8 x 17/15 = 9.066.. */
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1=1 F2-F15=0"),
		 "pain=0.00 stiffness=0.00 function=1.13 total=1.13");
	T_EQ_STR(score("womac", "P1-P5=0 S1-S2=0 F1-F8=1 F9-F15=0"),
		 "pain=0.00 stiffness=0.00 function=9.07 total=9.07");
}

/*
 * Every answered count and sum the function rule allows: the printed
 * score is the exact value 17 S / n rounded half up, checked in integers
 * (-n < 2 (k n - 1700 S) <= n for k hundredths).
 */
static void test_womac_function_rounding_exhaustive(void)
{
	const struct cb_score_method *m = cb_score_method_find("womac");
	long long n, s;

	for (n = 14; n <= 17; n++) {
		for (s = 0; s <= 4 * n; s++) {
			int vals[CB_SCORE_ITEMS_MAX];
			double out[4];
			int valid[4];
			long long left = s, k, d;
			size_t i;

			for (i = 0; i < m->nitems; i++)
				vals[i] = i < 7 ? 0 : CB_SCORE_MISSING;
			for (i = 0; i < (size_t)n; i++) {
				vals[7 + i] = left > 4 ? 4 : (int)left;
				left -= vals[7 + i];
			}
			m->compute(vals, out, valid);
			T_ASSERT(valid[2] && valid[3]);
			k = llround(out[2] * 100.0);
			T_ASSERT(fabs(out[2] * 100.0 - (double)k) < 1e-6);
			d = 2 * (k * n - 1700 * s);
			if (!(d > -n && d <= n)) {
				T_FAIL_AT("n=%lld sum=%lld gave %.2f", n, s,
					  out[2]);
				return;
			}
			T_ASSERT(out[3] == out[2]);
		}
	}
}

static void test_womac_out_of_range_never_scored(void)
{
	const struct cb_score_method *m = cb_score_method_find("womac");
	int vals[CB_SCORE_ITEMS_MAX];
	double out[4] = {-7, -7, -7, -7};
	int valid[4] = {9, 9, 9, 9};
	struct cb_err err;

	T_ASSERT(set_items(m, vals, "P1=5 P2-P5=1 S1-S2=1 F1-F17=1"));
	/* The checked entry point refuses and names the item. */
	T_EQ_INT(cb_score_compute(m, vals, out, valid, &err), CB_ECHECK);
	T_CONTAINS(err.msg, "P1");
	T_CONTAINS(err.msg, "0-4");
	T_ASSERT(out[0] == -7 && valid[0] == 9);
	/* The raw function makes the subscale invalid, not imputed. */
	m->compute(vals, out, valid);
	T_EQ_STR(format_scores(m, out, valid),
		 "pain=null stiffness=2.00 function=17.00 total=null");
	vals[0] = -2;
	m->compute(vals, out, valid);
	T_EQ_INT(valid[0], 0);
}

/* ---- KOOS ---- */

static void test_koos_complete(void)
{
	T_EQ_STR(score("koos", "P1-P9=0 S1-S7=0 A1-A17=0 SP1-SP5=0 Q1-Q4=0"),
		 "pain=100.00 symptoms=100.00 adl=100.00 sport_rec=100.00 "
		 "qol=100.00");
	T_EQ_STR(score("koos", "P1-P9=4 S1-S7=4 A1-A17=4 SP1-SP5=4 Q1-Q4=4"),
		 "pain=0.00 symptoms=0.00 adl=0.00 sport_rec=0.00 qol=0.00");
	/* means 1, 2, 3, 4 and (1+2+3+4)/4 = 2.5 -> 37.5. */
	T_EQ_STR(score("koos", "P1-P9=1 S1-S7=2 A1-A17=3 SP1-SP5=4 "
			       "Q1=1 Q2=2 Q3=3 Q4=4"),
		 "pain=75.00 symptoms=50.00 adl=25.00 sport_rec=0.00 "
		 "qol=37.50");
}

static void test_koos_lowercase_items(void)
{
	T_EQ_STR(score("Koos", "p1-p9=1 s1-s7=2 a1-a17=3 sp1-sp5=4 "
			       "q1=1 Q2=2 q3=3 Q4=4"),
		 "pain=75.00 symptoms=50.00 adl=25.00 sport_rec=0.00 "
		 "qol=37.50");
}

static void test_koos_pain_threshold(void)
{
	/* 5 answered, sum 3: 100 - 0.6 x 25 = 85. */
	T_EQ_STR(score("koos", "P1=1 P2=0 P3=0 P4=1 P5=1"),
		 "pain=85.00 symptoms=null adl=null sport_rec=null qol=null");
	T_EQ_STR(score("koos", "P1=1 P2=0 P3=0 P4=1"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=null");
}

static void test_koos_symptoms_threshold(void)
{
	/* 4 answered, sum 5: 100 - 1.25 x 25 = 68.75. */
	T_EQ_STR(score("koos", "S1=2 S2-S4=1"),
		 "pain=null symptoms=68.75 adl=null sport_rec=null qol=null");
	T_EQ_STR(score("koos", "S1=2 S2-S3=1"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=null");
}

static void test_koos_adl_threshold(void)
{
	/* 9 answered, sum 10: 100 - 250 / 9 = 72.222... */
	T_EQ_STR(score("koos", "A1=2 A2-A9=1"),
		 "pain=null symptoms=null adl=72.22 sport_rec=null qol=null");
	T_EQ_STR(score("koos", "A1=2 A2-A8=1"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=null");
}

static void test_koos_sport_rec_threshold(void)
{
	/* 3 answered, sum 5: mean 5/3, 100 - 41.666... = 58.333... */
	T_EQ_STR(score("koos", "SP1=1 SP2-SP3=2"),
		 "pain=null symptoms=null adl=null sport_rec=58.33 qol=null");
	/* sum 7: mean 7/3, 100 - 58.333... = 41.666... */
	T_EQ_STR(score("koos", "SP1=3 SP4-SP5=2"),
		 "pain=null symptoms=null adl=null sport_rec=41.67 qol=null");
	T_EQ_STR(score("koos", "SP1=1 SP2=2"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=null");
}

static void test_koos_qol_threshold(void)
{
	/* 2 answered, sum 3: 100 - 1.5 x 25 = 62.5. */
	T_EQ_STR(score("koos", "Q1=1 Q2=2"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=62.50");
	T_EQ_STR(score("koos", "Q4=1"),
		 "pain=null symptoms=null adl=null sport_rec=null qol=null");
}

static void test_koos_rounding(void)
{
	/* 8 answered, sum 1: 100 - 25/8 = 96.875 -> 96.88. */
	T_EQ_STR(score("koos", "P1=1 P2-P8=0"),
		 "pain=96.88 symptoms=null adl=null sport_rec=null qol=null");
	/* 16 answered, sum 2: 100 - 50/16 = 96.875; sum 6: 90.625. */
	T_EQ_STR(score("koos", "A1=2 A2-A16=0"),
		 "pain=null symptoms=null adl=96.88 sport_rec=null qol=null");
	T_EQ_STR(score("koos", "A1-A6=1 A7-A16=0"),
		 "pain=null symptoms=null adl=90.63 sport_rec=null qol=null");
	/* mean 11/3: 100 - 91.666... = 8.333... */
	T_EQ_STR(score("koos", "SP1-SP2=4 SP3=3"),
		 "pain=null symptoms=null adl=null sport_rec=8.33 qol=null");
	/* 100 - 25/7 = 96.428...; 100 - 125/6 = 79.1666... */
	T_EQ_STR(score("koos", "S1=1 S2-S7=0 Q1-Q2=0 Q4=1"),
		 "pain=null symptoms=96.43 adl=null sport_rec=null qol=91.67");
	T_EQ_STR(score("koos", "S1-S5=1 S6=0 Q1=2 Q2-Q3=0"),
		 "pain=null symptoms=79.17 adl=null sport_rec=null qol=83.33");
}

/*
 * Every answered count and sum each KOOS rule allows: the score is the
 * exact value (100 n - 25 S) / n rounded half up.
 */
static void test_koos_rounding_exhaustive(void)
{
	const struct cb_score_method *m = cb_score_method_find("koos");
	static const size_t first[] = {0, 9, 16, 33, 38};
	static const long long count[] = {9, 7, 17, 5, 4};
	static const long long need[] = {5, 4, 9, 3, 2};
	size_t j;

	for (j = 0; j < 5; j++) {
		long long n, s;

		for (n = 0; n <= count[j]; n++) {
			for (s = 0; s <= 4 * n; s++) {
				int vals[CB_SCORE_ITEMS_MAX];
				double out[5];
				int valid[5];
				long long left = s, k, d, exact100;
				size_t i;

				for (i = 0; i < m->nitems; i++)
					vals[i] = CB_SCORE_MISSING;
				for (i = 0; i < (size_t)n; i++) {
					int v = left > 4 ? 4 : (int)left;

					vals[first[j] + i] = v;
					left -= v;
				}
				m->compute(vals, out, valid);
				if (n < need[j]) {
					T_EQ_INT(valid[j], 0);
					continue;
				}
				T_ASSERT(valid[j]);
				k = llround(out[j] * 100.0);
				T_ASSERT(fabs(out[j] * 100.0 - (double)k) <
					 1e-6);
				exact100 = 10000 * n - 2500 * s;
				d = 2 * (k * n - exact100);
				if (!(d > -n && d <= n)) {
					T_FAIL_AT("subscale %zu n=%lld sum=%lld"
						  " gave %.2f",
						  j, n, s, out[j]);
					return;
				}
			}
		}
	}
}

/* ---- VAS ---- */

static void test_vas(void)
{
	T_EQ_STR(score("vas", "VAS=57"), "vas=57.00");
	T_EQ_STR(score("VAS", "vas=0"), "vas=0.00");
	T_EQ_STR(score("vas", "VAS=100"), "vas=100.00");
	T_EQ_STR(score("vas", ""), "vas=null");
	T_CONTAINS(score("vas", "VAS=101"), "0-100");
}

/* ---- parsing values ---- */

static void test_parse_value(void)
{
	const struct cb_score_method *w = cb_score_method_find("womac");
	const struct cb_score_method *v = cb_score_method_find("vas");
	static const char *const bad[] = {
	    "5",
	    "-1",
	    "2.5",
	    "2.0",
	    " 2",
	    "2 ",
	    "",
	    "abc",
	    "+",
	    "-",
	    "0x2",
	    "1e0",
	    "99999999999999999999999",
	};
	struct cb_err err;
	int out = -9;
	size_t i;

	T_EQ_INT(cb_score_parse_value(w, 0, "0", &out, &err), 0);
	T_EQ_INT(out, 0);
	T_EQ_INT(cb_score_parse_value(w, 23, "4", &out, &err), 0);
	T_EQ_INT(out, 4);
	T_EQ_INT(cb_score_parse_value(w, 1, "+3", &out, &err), 0);
	T_EQ_INT(out, 3);
	T_EQ_INT(cb_score_parse_value(w, 1, "03", &out, &err), 0);
	T_EQ_INT(out, 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = -9;
		cb_err_clear(&err);
		if (cb_score_parse_value(w, 5, bad[i], &out, &err) !=
		    CB_ECHECK) {
			T_FAIL_AT("'%s' was accepted", bad[i]);
			return;
		}
		T_EQ_INT(out, -9);
		T_CONTAINS(err.msg, "S1");
		T_CONTAINS(err.msg, "0-4");
	}
	cb_score_parse_value(w, 0, "5", &out, &err);
	T_CONTAINS(err.msg, "outside");
	cb_score_parse_value(w, 0, "2.5", &out, &err);
	T_CONTAINS(err.msg, "not a whole number");
	T_EQ_INT(cb_score_parse_value(v, 0, "101", &out, &err), CB_ECHECK);
	T_CONTAINS(err.msg, "0-100");
	T_EQ_INT(cb_score_parse_value(v, 0, "100", &out, &err), 0);
	T_EQ_INT(out, 100);
	T_EQ_INT(cb_score_parse_value(w, 24, "1", &out, &err), CB_EINVAL);
}

/* ---- rounding ---- */

static void test_round2(void)
{
	/* Half hundredths that binary floating point stores just below. */
	T_EQ_STR(r2(1.005), "1.01");
	T_EQ_STR(r2(2.675), "2.68");
	T_EQ_STR(r2(0.285), "0.29");
	T_EQ_STR(r2(-1.005), "-1.01");
	/* Exact halves, both signs: away from zero. */
	T_EQ_STR(r2(0.125), "0.13");
	T_EQ_STR(r2(-0.125), "-0.13");
	T_EQ_STR(r2(96.875), "96.88");
	T_EQ_STR(r2(17.0 * 2.0 / 16.0), "2.13");
	/* Thirds as floating point computes them. */
	T_EQ_STR(r2(100.0 - 25.0 * (5.0 / 3.0)), "58.33");
	T_EQ_STR(r2(100.0 - 25.0 * (7.0 / 3.0)), "41.67");
	T_EQ_STR(r2(100.0 - 25.0 * (11.0 / 3.0)), "8.33");
	/* Ordinary values. */
	T_EQ_STR(r2(1.0049), "1.00");
	T_EQ_STR(r2(1.234), "1.23");
	T_EQ_STR(r2(1.236), "1.24");
	T_EQ_STR(r2(100.0), "100.00");
	T_ASSERT(cb_score_round2(1.005) == 1.01);
	T_ASSERT(cb_score_round2(41.666666666666664) == 41.67);
	/* No negative zero, which would print as "-0.00". */
	T_ASSERT(cb_score_round2(-0.001) == 0.0);
	T_ASSERT(!signbit(cb_score_round2(-0.001)));
	T_EQ_STR(r2(-0.004), "0.00");
	T_ASSERT(isnan(cb_score_round2(NAN)));
	T_ASSERT(isinf(cb_score_round2(INFINITY)));
}

int main(void)
{
	T_RUN(test_method_find);
	T_RUN(test_method_shapes);
	T_RUN(test_item_index_case_insensitive);
	T_RUN(test_items_summary);
	T_RUN(test_womac_complete);
	T_RUN(test_womac_lowercase_items);
	T_RUN(test_womac_nothing_answered);
	T_RUN(test_womac_pain_one_missing_imputed);
	T_RUN(test_womac_pain_two_missing_invalid);
	T_RUN(test_womac_stiffness_one_vs_two_missing);
	T_RUN(test_womac_function_three_vs_four_missing);
	T_RUN(test_womac_total_needs_all_three);
	T_RUN(test_womac_rounding_on_half_hundredths);
	T_RUN(test_womac_function_rounding_exhaustive);
	T_RUN(test_womac_out_of_range_never_scored);
	T_RUN(test_koos_complete);
	T_RUN(test_koos_lowercase_items);
	T_RUN(test_koos_pain_threshold);
	T_RUN(test_koos_symptoms_threshold);
	T_RUN(test_koos_adl_threshold);
	T_RUN(test_koos_sport_rec_threshold);
	T_RUN(test_koos_qol_threshold);
	T_RUN(test_koos_rounding);
	T_RUN(test_koos_rounding_exhaustive);
	T_RUN(test_vas);
	T_RUN(test_parse_value);
	T_RUN(test_round2);
	return t_done();
}
