/*
 * hmap.c - a string-keyed hash table (see hmap.h).
 */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "err.h"

void cb_hmap_init(struct cb_hmap *t)
{
	t->slots = NULL;
	t->cap = t->n = 0;
	cb_random_bytes(&t->seed, sizeof(t->seed));
}

void cb_hmap_release(struct cb_hmap *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

static uint64_t hash_str(uint64_t seed, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	/* finalise (splitmix64) so the low bits depend on every byte */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* The slot holding `key`, or the cap when there is none. */
static size_t find(const struct cb_hmap *t, const char *key)
{
	uint64_t h;
	size_t i;

	if (!t->cap)
		return 0;
	h = hash_str(t->seed, key);
	for (i = h & (t->cap - 1); t->slots[i].key; i = (i + 1) & (t->cap - 1))
		if (t->slots[i].hash == h && strcmp(t->slots[i].key, key) == 0)
			return i;
	return t->cap;
}

void *cb_hmap_get(const struct cb_hmap *t, const char *key)
{
	size_t i = find(t, key);

	return i < t->cap ? t->slots[i].val : NULL;
}

static void place(struct cb_hslot *slots, size_t cap, const char *key,
		  void *val, uint64_t h)
{
	size_t i;

	for (i = h & (cap - 1); slots[i].key; i = (i + 1) & (cap - 1))
		;
	slots[i].key = key;
	slots[i].val = val;
	slots[i].hash = h;
}

int cb_hmap_reserve(struct cb_hmap *t, size_t more)
{
	struct cb_hslot *slots;
	size_t cap = t->cap ? t->cap : 16, i;

	while ((t->n + more) * 2 > cap)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return CB_ENOMEM;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			place(slots, cap, t->slots[i].key, t->slots[i].val,
			      t->slots[i].hash);
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

void cb_hmap_put(struct cb_hmap *t, const char *key, void *val)
{
	place(t->slots, t->cap, key, val, hash_str(t->seed, key));
	t->n++;
}

void *cb_hmap_del(struct cb_hmap *t, const char *key)
{
	size_t i = find(t, key), j, home;
	void *val;

	if (i >= t->cap)
		return NULL;
	val = t->slots[i].val;
	t->slots[i].key = NULL;
	t->n--;
	/* Shift back every following entry that the hole now separates
	 * from its home slot. */
	for (j = (i + 1) & (t->cap - 1); t->slots[j].key;
	     j = (j + 1) & (t->cap - 1)) {
		home = t->slots[j].hash & (t->cap - 1);
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j].key = NULL;
			i = j;
		}
	}
	return val;
}

size_t cb_hmap_count(const struct cb_hmap *t)
{
	return t->n;
}
