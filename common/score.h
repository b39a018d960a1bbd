/*
 * score.h - derived clinical scores (WOMAC 3.1, KOOS, VAS) computed from
 * a form's item values, with each instrument's missing-item rules.
 *
 * A protocol declares a derived score per form by naming a method and
 * mapping each of the method's item names to one of the form's item codes.
 * Scores are rounded to 2 decimals, half away from zero; a subscale that
 * its missing-item rule makes invalid is reported as invalid (null).
 */
#ifndef CB_SCORE_H
#define CB_SCORE_H

#include <stddef.h>

#include "err.h"

/* Value of an item that was not answered. */
#define CB_SCORE_MISSING (-1)

struct cb_score_method {
	const char *name;		/* "womac", "koos", "vas" */
	const char *label;		/* "WOMAC 3.1 (Likert)" */
	size_t nitems;
	const char *const *items;	/* method item names, e.g. "P1".."F17" */
	int item_min, item_max;		/* allowed item values, inclusive */
	size_t noutputs;
	const char *const *outputs;	/* result names, e.g. "pain", "total" */
	/*
	 * vals[i] is item i (method order) or CB_SCORE_MISSING. Fills out[j]
	 * and valid[j] for each output j (valid[j] 0 means null). The caller
	 * has already checked each value is within item_min..item_max.
	 */
	void (*compute)(const int *vals, double *out, int *valid);
};

/* The method called `name` (case-insensitive), or NULL. */
const struct cb_score_method *cb_score_method_find(const char *name);

/* Every method, NULL-terminated, for help texts and validation messages. */
const struct cb_score_method *const *cb_score_methods(void);

/* Index of `item` (case-insensitive) in m->items, or -1. */
int cb_score_item_index(const struct cb_score_method *m, const char *item);

/* Round to 2 decimals, half away from zero. */
double cb_score_round2(double v);

#endif
