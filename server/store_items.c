/*
 * store_items.c - a form instance's items as one text: the items column
 * of the forms table (store_be.h), written whole when an event changes
 * the form, read back item by item and dumped, the same on both backends.
 *
 * One row per form instance instead of one per item: a save of twenty
 * items is one row written, not twenty (docs/PERFORMANCE.md). The text
 * is a JSON array holding, for each item with a change, in byte order of
 * the item's name (cb_merge_each_item):
 *
 *   [item, value, conflict, [heads], [head values], query, nchanges]
 *
 * value is null when the item is cleared or conflicted; conflict is 0
 * or 1; heads are the head events' ids (sorted) and head values each
 * head's value (null: cleared); query is the conflict's system query or
 * null.
 */
#include "store_be.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "json.h"

/* A form's items text is at most this long (store_be.h). */
#define ITEMS_MAX SRV_ITEMS_MAX

/* Append s as a JSON string, escaped as the canonical JSON of events
 * (canon.h; cJSON_PrintUnformatted escapes the same), or null. */
static int str_add(struct cb_canon_buf *b, const char *s)
{
	return s ? cb_canon_put_string(b, s) : cb_canon_put(b, "null", 4);
}

/* Append a JSON array of the n strings v (NULL entries null). */
static int strings_add(struct cb_canon_buf *b, const char *const *v, size_t n)
{
	size_t i;
	int rc = cb_canon_put(b, "[", 1);

	for (i = 0; !rc && i < n; i++) {
		if (i)
			rc = cb_canon_put(b, ",", 1);
		if (!rc)
			rc = str_add(b, v[i]);
	}
	return rc ? rc : cb_canon_put(b, "]", 1);
}

/* Empty b, keeping its room; its limit ITEMS_MAX. */
static void canon_reset(struct cb_canon_buf *b, struct cb_err *err)
{
	b->len = 0;
	if (b->buf)
		b->buf[0] = '\0';
	b->err = err;
	b->max = ITEMS_MAX;
}

static int item_add(const struct cb_merge_item *it, void *vctx)
{
	struct cb_canon_buf *b = vctx;
	char n[32];
	int rc = cb_canon_put(b, b->len > 1 ? ",[" : "[", b->len > 1 ? 2 : 1);

	if (!rc)
		rc = str_add(b, it->item);
	if (!rc)
		rc = cb_canon_put(b, ",", 1);
	if (!rc)
		rc = str_add(b, it->conflict ? NULL : it->value);
	if (!rc)
		rc = cb_canon_put(b, it->conflict ? ",1," : ",0,", 3);
	if (!rc)
		rc = strings_add(b, it->heads, it->nheads);
	if (!rc)
		rc = cb_canon_put(b, ",", 1);
	if (!rc)
		rc = strings_add(b, it->head_values, it->nheads);
	if (!rc)
		rc = cb_canon_put(b, ",", 1);
	if (!rc)
		rc = str_add(b, it->conflict ? it->query : NULL);
	if (!rc) {
		snprintf(n, sizeof(n), ",%zu]", it->nchanges);
		rc = cb_canon_put(b, n, strlen(n));
	}
	return rc;
}

int srv_items_text(struct cb_merge *m, const struct cb_merge_form *f,
		   struct cb_canon_buf *b, struct cb_err *err)
{
	int rc;

	canon_reset(b, err);
	rc = cb_canon_put(b, "[", 1);
	if (!rc)
		rc = cb_merge_each_item(m, f->subject, f->visit, f->form,
					f->instance, item_add, b);
	if (rc && !err->code)
		rc = cb_err_set(err, rc, "the items of %s %s %s: %s",
				f->subject, f->visit, f->form, cb_err_name(rc));
	return rc ? rc : cb_canon_put(b, "]", 1);
}

int srv_items_strings_text(const cJSON *a, struct cb_canon_buf *b,
			   struct cb_err *err)
{
	const cJSON *e;
	size_t n = 0;
	int rc;

	canon_reset(b, err);
	rc = cb_canon_put(b, "[", 1);
	cJSON_ArrayForEach(e, a)
	{
		if (rc)
			break;
		if (n++)
			rc = cb_canon_put(b, ",", 1);
		if (!rc)
			rc = str_add(b,
				     cJSON_IsString(e) ? e->valuestring : NULL);
	}
	return rc ? rc : cb_canon_put(b, "]", 1);
}

/* A string member, or NULL for JSON null; *bad set for anything else. */
static const char *str_or_null(const cJSON *j, int *bad)
{
	if (cJSON_IsString(j))
		return j->valuestring;
	if (!cJSON_IsNull(j))
		*bad = 1;
	return NULL;
}

/* 0 or 1? */
static int flag_ok(const cJSON *j)
{
	return cJSON_IsNumber(j) &&
	       (j->valuedouble == 0.0 || j->valuedouble == 1.0);
}

/* A whole number from 0 up? */
static int count_ok(const cJSON *j)
{
	return cJSON_IsNumber(j) && j->valuedouble >= 0 &&
	       j->valuedouble <= 9007199254740992.0 &&
	       j->valuedouble == (double)(int64_t)j->valuedouble;
}

/* Array `a` of strings and nulls? */
static int strings_ok(const cJSON *a)
{
	const cJSON *e;

	if (!cJSON_IsArray(a))
		return 0;
	cJSON_ArrayForEach(e, a)
	{
		if (!cJSON_IsString(e) && !cJSON_IsNull(e))
			return 0;
	}
	return 1;
}

int srv_items_each(const char *text, size_t len,
		   int (*fn)(const struct srv_items_entry *e, void *ctx),
		   void *ctx, struct cb_err *err)
{
	const char *end = NULL;
	cJSON *root, *row;
	int rc = 0;

	if (len > ITEMS_MAX)
		return cb_err_set(err, CB_EINTEGRITY,
				  "a form's items are %zu bytes, over %u", len,
				  ITEMS_MAX);
	/* The store's own text, read many times by every export: cJSON
	 * alone, without cb_json_parse's checks of what a device sends. */
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root && end != text + len) {
		cJSON_Delete(root);
		root = NULL;
	}
	if (!root || !cJSON_IsArray(root)) {
		cJSON_Delete(root);
		/* Out of memory, or damaged? cb_json_parse tells them apart. */
		root =
		    cb_json_parse(text, len, ITEMS_MAX, "a form's items", err);
		cJSON_Delete(root);
		if (!root && err->code == CB_ENOMEM)
			return CB_ENOMEM;
		return cb_err_set(err, CB_EINTEGRITY,
				  "a form's items are not a JSON array "
				  "(`casebookd rebuild` makes the derived "
				  "tables again from the events)");
	}
	cJSON_ArrayForEach(row, root)
	{
		struct srv_items_entry e;
		const cJSON *c[7], *m = cJSON_IsArray(row) ? row->child : NULL;
		int i, bad;

		for (i = 0; i < 7; i++, m = m ? m->next : NULL)
			c[i] = m;
		bad = !c[6] || m;
		if (!bad) {
			e.item =
			    cJSON_IsString(c[0]) ? c[0]->valuestring : NULL;
			e.value = str_or_null(c[1], &bad);
			e.query = str_or_null(c[5], &bad);
			bad |= !e.item || !flag_ok(c[2]) || !strings_ok(c[3]) ||
			       !strings_ok(c[4]) ||
			       cJSON_GetArraySize(c[3]) !=
				   cJSON_GetArraySize(c[4]) ||
			       !count_ok(c[6]);
		}
		if (bad) {
			rc = cb_err_set(err, CB_EINTEGRITY,
					"an item of a form's items is not "
					"[item, value, conflict, heads, head "
					"values, query, changes] (`casebookd "
					"rebuild` makes the derived tables "
					"again from the events)");
			break;
		}
		e.conflict = c[2]->valueint != 0;
		e.nchanges = (int64_t)c[6]->valuedouble;
		e.heads = c[3];
		e.head_values = c[4];
		rc = fn(&e, ctx);
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

int srv_dump_field(struct cb_buf *b, const char *t, struct cb_err *err)
{
	int rc = 0;

	if (!t)
		return cb_buf_addstr(b, "\\N", err);
	for (; *t && !rc; t++) {
		if (*t == '\t')
			rc = cb_buf_addstr(b, "\\t", err);
		else if (*t == '\n')
			rc = cb_buf_addstr(b, "\\n", err);
		else if (*t == '\\')
			rc = cb_buf_addstr(b, "\\\\", err);
		else
			rc = cb_buf_addc(b, *t, err);
	}
	return rc;
}

struct dump_ctx {
	struct cb_buf *b;
	const char *names[4];
	struct cb_canon_buf heads, values; /* an item's, as JSON texts */
	struct cb_err *err;
};

/* One item's line, the columns the items table had. */
static int dump_item(const struct srv_items_entry *e, void *vctx)
{
	struct dump_ctx *d = vctx;
	char n[24];
	const char *col[11];
	int i, rc = srv_items_strings_text(e->heads, &d->heads, d->err);

	if (!rc)
		rc = srv_items_strings_text(e->head_values, &d->values, d->err);
	if (rc)
		return rc;

	snprintf(n, sizeof(n), "%lld", (long long)e->nchanges);
	for (i = 0; i < 4; i++)
		col[i] = d->names[i];
	col[4] = e->item;
	col[5] = e->value;
	col[6] = e->conflict ? "1" : "0";
	col[7] = d->heads.buf;
	col[8] = d->values.buf;
	col[9] = e->query;
	col[10] = n;
	for (i = 0; i < 11 && !rc; i++) {
		if (i)
			rc = cb_buf_addc(d->b, '\t', d->err);
		if (!rc)
			rc = srv_dump_field(d->b, col[i], d->err);
	}
	return rc ? rc : cb_buf_addc(d->b, '\n', d->err);
}

int srv_items_dump(struct cb_buf *b, const struct srv_form_row *f,
		   struct cb_err *err)
{
	struct dump_ctx d = {b,
			     {f->subject, f->visit, f->form, f->instance},
			     {NULL, 0, 0, err, 0},
			     {NULL, 0, 0, err, 0},
			     err};
	int rc = srv_items_each(f->items, strlen(f->items), dump_item, &d, err);

	free(d.heads.buf);
	free(d.values.buf);
	return rc;
}
