/*
 * hmap.h - a hash table from strings to pointers.
 *
 * Open addressing with linear probing, kept at most half full; deletion
 * shifts the following entries back, so no tombstones pile up. Keys are
 * not copied: each must stay valid (and unchanged) while it is in the
 * table, which is easiest when it points into the value it indexes. The
 * hash is seeded at random per table, so a hostile set of names cannot be
 * chosen to collide.
 *
 *   struct cb_hmap t;
 *   cb_hmap_init(&t);
 *   if (cb_hmap_reserve(&t, 1)) ...out of memory...
 *   cb_hmap_put(&t, v->name, v);        the key must not be there yet
 *   v = cb_hmap_get(&t, "name");
 *   cb_hmap_del(&t, "name");
 *   cb_hmap_release(&t);                the values stay the caller's
 *
 * Not locked: one thread at a time.
 */
#ifndef CB_HMAP_H
#define CB_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct cb_hslot {
	const char *key; /* NULL when empty */
	void *val;
	uint64_t hash;
};

struct cb_hmap {
	struct cb_hslot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
	uint64_t seed;
};

/* An empty table with a random seed (no allocation yet). */
void cb_hmap_init(struct cb_hmap *t);

/* Free the table (not the keys or values) and make it empty. */
void cb_hmap_release(struct cb_hmap *t);

/* The value of `key`, or NULL. */
void *cb_hmap_get(const struct cb_hmap *t, const char *key);

/* Make room for `more` new keys, so the puts that follow cannot fail.
 * 0, or CB_ENOMEM with the table unchanged. */
int cb_hmap_reserve(struct cb_hmap *t, size_t more);

/* Insert a key that is not in the table; room must have been reserved. */
void cb_hmap_put(struct cb_hmap *t, const char *key, void *val);

/* Remove `key`: its value, or NULL when it was not there. */
void *cb_hmap_del(struct cb_hmap *t, const char *key);

/* Number of keys. */
size_t cb_hmap_count(const struct cb_hmap *t);

#endif
