/*
 * test_hmap.c - the string-keyed hash table (hmap.h), against a plain
 * array as the model, with random inserts and deletions.
 */
#include "t.h"

#include "hmap.h"

#define N 4000

static void test_model(void)
{
	static char keys[N][16];
	static int present[N];
	struct cb_hmap t;
	uint64_t seed = t_seed(), x = seed | 1;
	size_t i, n = 0, step;

	cb_hmap_init(&t);
	for (i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i * 7919 % 100003);
	for (step = 0; step < 200000; step++) {
		size_t k;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (size_t)(x % N);
		if (present[k]) {
			T_ASSERT(cb_hmap_get(&t, keys[k]) == keys[k]);
			if (x & 0x100) {
				T_ASSERT(cb_hmap_del(&t, keys[k]) == keys[k]);
				present[k] = 0;
				n--;
				T_ASSERT(cb_hmap_get(&t, keys[k]) == NULL);
			}
		} else {
			T_ASSERT(cb_hmap_get(&t, keys[k]) == NULL);
			T_ASSERT(cb_hmap_del(&t, keys[k]) == NULL);
			T_EQ_INT(cb_hmap_reserve(&t, 1), 0);
			cb_hmap_put(&t, keys[k], keys[k]);
			present[k] = 1;
			n++;
		}
		T_EQ_INT(cb_hmap_count(&t), n);
	}
	for (i = 0; i < N; i++)
		T_ASSERT((cb_hmap_get(&t, keys[i]) != NULL) == present[i]);
	cb_hmap_release(&t);
}

int main(void)
{
	T_RUN(test_model);
	return t_done();
}
