/*
 * score.h - derived clinical scores (WOMAC 3.1, KOOS, VAS) computed from
 * a form's item values, with each instrument's missing-item rules.
 *
 * A protocol declares a derived score per form by naming a method and
 * mapping each of the method's item names to one of the form's item codes.
 * Scores are rounded to 2 decimals, half away from zero; a subscale that
 * its missing-item rule makes invalid is reported as invalid (null).
 *
 * The methods:
 *
 *   womac  WOMAC 3.1 Likert: 24 items 0-4; pain P1-P5, stiffness S1-S2,
 *          function F1-F17. Outputs pain (0-20), stiffness (0-8),
 *          function (0-68), total (0-96); higher is worse. Pain is invalid
 *          with 2 or more items missing, stiffness with 2, function with 4
 *          or more. A valid subscale with missing items counts each missing
 *          item as the mean of its answered items, i.e. the subscale is
 *          mean(answered) x number of items. The total is the sum of the
 *          three (imputed) subscales and exists only when all three are
 *          valid.
 *   koos   KOOS: 42 items 0-4; pain P1-P9, symptoms S1-S7, adl A1-A17,
 *          sport_rec SP1-SP5, qol Q1-Q4. Each subscale is
 *          100 - mean(answered) x 25 (100 = no problems) and needs at least
 *          pain 5, symptoms 4, adl 9, sport_rec 3, qol 2 answered items.
 *          No total.
 *   vas    one item VAS 0-100 (mm); output vas is the value itself.
 *
 * Conservative choices, made where the instruments' manuals leave room:
 *
 *   - Scores are computed exactly, as ratios of integers, and rounded once
 *     at the end, so that a value lying exactly on a half hundredth (2.125,
 *     96.875) always rounds up and one that only looks like it in binary
 *     floating point never drifts. In particular the WOMAC total is the
 *     sum of the unrounded subscales, rounded once. Because pain and
 *     stiffness are always whole quarters, this equals the sum of the
 *     three rounded subscales as printed.
 *   - No score is ever derived from a value outside the method's range: a
 *     compute function given one (which callers must not do; see
 *     cb_score_compute) makes that item's subscale invalid rather than
 *     clamping it or treating it as missing.
 *   - Item values are whole numbers only; "2.0", " 2" and "" are refused
 *     by cb_score_parse_value rather than guessed at.
 */
#ifndef CB_SCORE_H
#define CB_SCORE_H

#include <stddef.h>

#include "err.h"

/* Value of an item that was not answered. */
#define CB_SCORE_MISSING (-1)

/* Most items and outputs of any method, for callers' fixed arrays. */
#define CB_SCORE_ITEMS_MAX 42
#define CB_SCORE_OUTPUTS_MAX 5

struct cb_score_method {
	const char *name;  /* "womac", "koos", "vas" */
	const char *label; /* "WOMAC 3.1 (Likert)" */
	size_t nitems;
	const char *const *items; /* method item names, e.g. "P1".."F17" */
	int item_min, item_max;	  /* allowed item values, inclusive */
	size_t noutputs;
	const char *const *outputs; /* result names, e.g. "pain", "total" */
	/*
	 * vals[i] is item i (method order) or CB_SCORE_MISSING. Fills out[j]
	 * and valid[j] for each output j (valid[j] 0 means null, and out[j]
	 * is then 0). The caller has already checked each value is within
	 * item_min..item_max; any other value makes its subscale invalid.
	 * Every out[j] is already rounded to 2 decimals.
	 */
	void (*compute)(const int *vals, double *out, int *valid);
};

/* The method called `name` (case-insensitive), or NULL. */
const struct cb_score_method *cb_score_method_find(const char *name);

/* Every method, NULL-terminated, for help texts and validation messages. */
const struct cb_score_method *const *cb_score_methods(void);

/* Index of `item` (case-insensitive) in m->items, or -1. */
int cb_score_item_index(const struct cb_score_method *m, const char *item);

/*
 * Round to 2 decimals, half away from zero. A value within a relative
 * 1e-9 of a half hundredth counts as lying on it, so 1.005 (stored in
 * binary as 1.00499999999999989...) rounds to 1.01. Never returns -0.0.
 * NaN and infinities are returned unchanged.
 */
double cb_score_round2(double v);

/*
 * Write m's item names compactly into buf ("P1-P5, S1-S2, F1-F17"), for
 * help texts and error messages. Always NUL-terminates when size > 0.
 * Returns the length the full text needs, as snprintf does.
 */
size_t cb_score_items_summary(const struct cb_score_method *m, char *buf,
			      size_t size);

/*
 * Parse the text of one value of item `item_index` of m. It must be a
 * decimal integer (optional leading '-' or '+', digits only) within
 * m->item_min..m->item_max. On success stores it in *out and returns 0;
 * otherwise returns CB_ECHECK with a message naming the item and the
 * allowed range, and leaves *out alone.
 */
int cb_score_parse_value(const struct cb_score_method *m, size_t item_index,
			 const char *text, int *out, struct cb_err *err);

/*
 * Check vals (m->nitems entries, each within item_min..item_max or
 * CB_SCORE_MISSING) and compute every output into out[] and valid[]
 * (m->noutputs entries each). A value out of range gives CB_ECHECK naming
 * the item, and out/valid are then left untouched.
 */
int cb_score_compute(const struct cb_score_method *m, const int *vals,
		     double *out, int *valid, struct cb_err *err);

#endif
