/*
 * feed.c - what feeds built on merge states share (feed.h).
 */
#include "feed.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "protocol.h"

struct collect {
	const struct cb_protocol *p;
	int unblinded;
	struct cb_feed_items *out;
	struct cb_err *err;
};

static int collect_item(const struct cb_merge_item *it, void *ctx)
{
	struct collect *c = ctx;
	struct cb_feed_item *fi;
	int rc;

	if (!c->unblinded) {
		const struct cb_protocol_form *f =
		    cb_protocol_find_form(c->p, it->form);
		const struct cb_protocol_item *pi =
		    f ? cb_protocol_find_item(f, it->item) : NULL;

		if (pi && pi->unblinded)
			return 0;
	}
	rc = cb_array_grow((void **)&c->out->items, &c->out->cap, c->out->n + 1,
			   sizeof(*c->out->items), 1000000,
			   "items of a subject", c->err);
	if (rc)
		return rc;
	fi = &c->out->items[c->out->n++];
	fi->visit = it->visit;
	fi->form = it->form;
	fi->instance = it->instance;
	fi->item = it->item;
	fi->value = it->conflict ? NULL : it->value;
	fi->conflict = it->conflict;
	fi->nheads = it->nheads;
	fi->head_values = it->head_values;
	return 0;
}

int cb_feed_items_from_merge(const struct cb_protocol *p, struct cb_merge *m,
			     const char *subject, int unblinded,
			     struct cb_feed_items *out, struct cb_err *err)
{
	struct collect c = {p, unblinded, out, err};
	int rc;

	out->n = 0;
	rc = cb_merge_each_item(m, subject, NULL, NULL, NULL, collect_item, &c);
	if (rc && !err->code)
		cb_err_set(err, rc, "out of memory");
	return rc;
}

void cb_feed_items_free(struct cb_feed_items *f)
{
	free(f->items);
	memset(f, 0, sizeof(*f));
}
