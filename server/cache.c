/*
 * cache.c - the bounded cache of per-subject merge states (cache.h): a
 * hash table from subject to entry, and the entries on a list from most
 * to least recently used.
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "hmap.h"

struct srv_cache_entry {
	char *subject; /* the table's key */
	struct cb_merge *m;
	struct srv_cache_entry *prev, *next; /* prev: more recently used */
};

struct srv_cache {
	struct cb_hmap index;
	struct srv_cache_entry *head, *tail;
	size_t max_events;
};

int srv_cache_new(size_t max_events, struct srv_cache **out, struct cb_err *err)
{
	struct srv_cache *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	cb_hmap_init(&c->index);
	c->max_events = max_events;
	*out = c;
	return 0;
}

static void unlink_entry(struct srv_cache *c, struct srv_cache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct srv_cache *c, struct srv_cache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void free_entry(struct srv_cache_entry *e)
{
	cb_merge_free(e->m);
	free(e->subject);
	free(e);
}

void srv_cache_free(struct srv_cache *c)
{
	if (!c)
		return;
	srv_cache_clear(c);
	cb_hmap_release(&c->index);
	free(c);
}

struct cb_merge *srv_cache_get(struct srv_cache *c, const char *subject)
{
	struct srv_cache_entry *e = cb_hmap_get(&c->index, subject);

	if (!e)
		return NULL;
	unlink_entry(c, e);
	push_front(c, e);
	return e->m;
}

int srv_cache_put(struct srv_cache *c, const char *subject, struct cb_merge *m,
		  struct cb_err *err)
{
	struct srv_cache_entry *e = cb_hmap_get(&c->index, subject);

	if (e) {
		if (e->m != m)
			cb_merge_free(e->m);
		e->m = m;
		unlink_entry(c, e);
		push_front(c, e);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->subject = strdup(subject)) ||
	    cb_hmap_reserve(&c->index, 1)) {
		if (e)
			free(e->subject);
		free(e);
		cb_merge_free(m);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	e->m = m;
	cb_hmap_put(&c->index, e->subject, e);
	push_front(c, e);
	return 0;
}

void srv_cache_drop(struct srv_cache *c, const char *subject)
{
	struct srv_cache_entry *e = cb_hmap_del(&c->index, subject);

	if (!e)
		return;
	unlink_entry(c, e);
	free_entry(e);
}

void srv_cache_clear(struct srv_cache *c)
{
	struct srv_cache_entry *e, *next;

	for (e = c->head; e; e = next) {
		next = e->next;
		cb_hmap_del(&c->index, e->subject);
		free_entry(e);
	}
	c->head = c->tail = NULL;
}

size_t srv_cache_events(const struct srv_cache *c)
{
	const struct srv_cache_entry *e;
	size_t n = 0;

	for (e = c->head; e; e = e->next)
		n += cb_merge_count(e->m);
	return n;
}

size_t srv_cache_subjects(const struct srv_cache *c)
{
	return cb_hmap_count(&c->index);
}

void srv_cache_trim(struct srv_cache *c, struct srv_cache_entry **gone)
{
	size_t n = srv_cache_events(c);

	while (n > c->max_events && c->tail) {
		struct srv_cache_entry *e = c->tail;

		n -= cb_merge_count(e->m);
		cb_hmap_del(&c->index, e->subject);
		unlink_entry(c, e);
		e->next = *gone;
		*gone = e;
	}
}

void srv_cache_release(struct srv_cache_entry *gone)
{
	struct srv_cache_entry *e, *next;

	for (e = gone; e; e = next) {
		next = e->next;
		free_entry(e);
	}
}
