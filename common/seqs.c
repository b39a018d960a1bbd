/*
 * seqs.c - ranges of the central store's event numbers (seqs.h).
 */
#include "seqs.h"

/* A number as a push answer gives it: an integer, 1 to 2^53; else 0. */
static int64_t seq_of(const cJSON *v)
{
	double d;

	if (!cJSON_IsNumber(v))
		return 0;
	d = v->valuedouble;
	if (!(d >= 1 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
		return 0;
	return (int64_t)d;
}

void cb_seqs_note(struct cb_seqs *k, const cJSON *seqs)
{
	const cJSON *r;

	if (!cJSON_IsArray(seqs))
		return;
	cJSON_ArrayForEach(r, seqs)
	{
		struct cb_seq_range *last = k->n ? &k->r[k->n - 1] : NULL;
		int64_t lo, hi;

		if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != 2)
			return;
		lo = seq_of(cJSON_GetArrayItem(r, 0));
		hi = seq_of(cJSON_GetArrayItem(r, 1));
		if (!lo || !hi || lo > hi || (last && lo <= last->hi))
			return;
		if (last && lo == last->hi + 1) {
			last->hi = hi;
		} else if (k->n < CB_SEQS_MAX) {
			k->r[k->n].lo = lo;
			k->r[k->n].hi = hi;
			k->n++;
		} else {
			return;
		}
	}
}
