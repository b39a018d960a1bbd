/*
 * fuzz_merge.c - the merge engine's promise (merge.h): the derived state
 * depends only on which events are in the set, never on the order they
 * were added or on how often one was added.
 *
 * The input is a JSON array of events (signatures are not checked by the
 * merge). The events that read as valid events, the first of each id
 * only, are added to three merge states: in input order, in reverse
 * order with each added twice, and in an order shuffled by a seed taken
 * from the input. Their canonical dumps (cb_merge_dump) must be the same
 * bytes, and so must a dump taken halfway through and after the rest.
 */
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "json.h"
#include "merge.h"

#define MAX_EVENTS 64

static char *dump_of(struct cb_merge *m)
{
	struct cb_err err;
	char *out = NULL;
	size_t len;

	cb_err_clear(&err);
	FUZZ_ASSERT(cb_merge_dump(m, &out, &len, &err) == 0);
	return out;
}

static void add(struct cb_merge *m, const struct cb_event *ev)
{
	struct cb_err err;
	int added = -1, rc = cb_merge_add(m, ev, &added, &err);

	FUZZ_ASSERT(rc == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_event evs[MAX_EVENTS];
	size_t n = 0, i, j, order[MAX_EVENTS];
	struct cb_merge *a = NULL, *b = NULL, *c = NULL;
	struct cb_err err;
	const cJSON *e;
	char *da, *db, *dc, *half;
	uint32_t seed = 2166136261u;
	cJSON *in;

	in = cb_json_parse((const char *)data, size, CB_JSON_DOC_MAX, "events",
			   &err);
	if (!cJSON_IsArray(in)) {
		cJSON_Delete(in);
		return 0;
	}
	cJSON_ArrayForEach(e, in)
	{
		int dup = 0;

		if (n == MAX_EVENTS)
			break;
		cb_event_init(&evs[n]);
		if (cb_event_from_json(e, &evs[n], &err)) {
			cb_event_release(&evs[n]);
			continue;
		}
		for (j = 0; j < n && !dup; j++)
			dup = !strcmp(evs[j].id, evs[n].id);
		if (dup) {
			cb_event_release(&evs[n]);
			continue;
		}
		n++;
	}
	cJSON_Delete(in);
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;

	FUZZ_ASSERT(cb_merge_new(&a, &err) == 0);
	FUZZ_ASSERT(cb_merge_new(&b, &err) == 0);
	FUZZ_ASSERT(cb_merge_new(&c, &err) == 0);
	for (i = 0; i < n; i++)
		add(a, &evs[i]);
	/* reverse, each twice, with the state read halfway (reads settle
	 * the derived state lazily: a read must not change the outcome) */
	for (i = n; i-- > 0;) {
		add(b, &evs[i]);
		add(b, &evs[i]);
		if (i == n / 2) {
			half = dump_of(b);
			free(half);
		}
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		size_t k;

		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % i;
		j = order[i - 1];
		order[i - 1] = order[k];
		order[k] = j;
	}
	for (i = 0; i < n; i++)
		add(c, &evs[order[i]]);
	da = dump_of(a);
	db = dump_of(b);
	dc = dump_of(c);
	if (strcmp(da, db) || strcmp(da, dc))
		fprintf(stderr, "in order:\n%s\nreversed:\n%s\nshuffled:\n%s\n",
			da, db, dc);
	FUZZ_ASSERT(!strcmp(da, db));
	FUZZ_ASSERT(!strcmp(da, dc));
	FUZZ_ASSERT(cb_merge_count(a) == n && cb_merge_count(b) == n);
	free(da);
	free(db);
	free(dc);
	cb_merge_free(a);
	cb_merge_free(b);
	cb_merge_free(c);
	for (i = 0; i < n; i++)
		cb_event_release(&evs[i]);
	return 0;
}
