/*
 * withheld.c - the unblinded values a blinded laptop knows exist (see
 * withheld.h), one sealed row per subject.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "buf.h"
#include "hmap.h"
#include "json.h"
#include "withheld.h"

/* Longest subject id, visit, form, instance or item code taken. */
#define PART_MAX 64

/* The form instance's key: "VISIT.FORM.INSTANCE". */
static int where_key(const char *visit, const char *form, const char *inst,
		     char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.%s.%s", visit, form, inst);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/*
 * The row text of `subject` (`text`, NULL when it has none) as a tree
 * into *row: {"subject":SUBJECT,"forms":{...}}, a new one when there was
 * no row.
 */
static int parse_row(const char *subject, const char *text, size_t len,
		     cJSON **row, struct cb_err *err)
{
	const cJSON *s;

	if (!text) {
		*row = cJSON_CreateObject();
		if (!*row ||
		    !cJSON_AddStringToObject(*row, "subject", subject) ||
		    !cJSON_AddObjectToObject(*row, "forms")) {
			cJSON_Delete(*row);
			*row = NULL;
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		}
		return 0;
	}
	*row = cb_json_parse(text, len, STORE_META_MAX, "withheld row", err);
	if (!*row)
		return err->code == CB_ENOMEM
			   ? err->code
			   : cb_err_set(err, CB_EINTEGRITY,
					"integrity error: the "
					"withheld row of "
					"subject %.64s is not "
					"JSON",
					subject);
	s = cJSON_GetObjectItemCaseSensitive(*row, "subject");
	if (!cJSON_IsString(s) || strcmp(s->valuestring, subject) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(*row, "forms"))) {
		cJSON_Delete(*row);
		*row = NULL;
		return cb_err_set(err, CB_EINTEGRITY,
				  "integrity error: the withheld row of "
				  "subject %.64s is not that subject's "
				  "{subject, forms}",
				  subject);
	}
	return 0;
}

/* Read the row of `subject` as a tree: when it has none, a new one
 * (`make`) or NULL. */
static int load_row(struct store *st, const char *subject, int make,
		    cJSON **row, struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*row = NULL;
	rc = store_withheld_get(st, subject, &text, &len, err);
	if (rc)
		return rc;
	if (!text && !make)
		return 0;
	rc = parse_row(subject, text, len, row, err);
	free(text);
	return rc;
}

/* obj[key] as an object, made when missing; NULL when out of memory. */
static cJSON *child(cJSON *obj, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsObject(c))
		return c;
	if (c)
		cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	return cJSON_AddObjectToObject(obj, key);
}

static const char *str_member(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && strlen(v->valuestring) <= PART_MAX
		   ? v->valuestring
		   : NULL;
}

/* ---- Recording ------------------------------------------------------------
 */

/* One subject a page names: its row, changed in memory until written. */
struct group {
	const char *subject; /* the entry's string: lives as long as the page */
	cJSON *row;
};

/* The subjects of the entries noted so far, in the order first named. */
struct note {
	struct store *st;
	struct cb_hmap by_subject;
	struct group **groups;
	size_t n, cap;
};

static void note_init(struct note *n, struct store *st)
{
	memset(n, 0, sizeof(*n));
	n->st = st;
	cb_hmap_init(&n->by_subject);
}

static void note_release(struct note *n)
{
	size_t i;

	for (i = 0; i < n->n; i++) {
		cJSON_Delete(n->groups[i]->row);
		free(n->groups[i]);
	}
	free(n->groups);
	cb_hmap_release(&n->by_subject);
}

/* The group of `subject`, its row read from the store when first met. */
static int note_group(struct note *n, const char *subject, struct group **out,
		      struct cb_err *err)
{
	struct group *g = cb_hmap_get(&n->by_subject, subject);
	int rc;

	*out = g;
	if (g)
		return 0;
	if (cb_array_grow((void **)&n->groups, &n->cap, n->n + 1,
			  sizeof(*n->groups), SIZE_MAX / 2, "withheld subjects",
			  err))
		return err->code;
	if (cb_hmap_reserve(&n->by_subject, 1))
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	g = calloc(1, sizeof(*g));
	if (!g)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	g->subject = subject;
	rc = load_row(n->st, subject, 1, &g->row, err);
	if (rc) {
		free(g);
		return rc;
	}
	n->groups[n->n++] = g;
	cb_hmap_put(&n->by_subject, g->subject, g);
	*out = g;
	return 0;
}

/* Apply one entry of the array to its subject's row (in memory). */
static int note_entry(struct note *n, const cJSON *e, struct cb_err *err)
{
	const char *s = str_member(e, "subject");
	const char *v = str_member(e, "visit");
	const char *f = str_member(e, "form");
	const char *i = str_member(e, "instance");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(e, "items");
	const cJSON *it;
	char key[3 * PART_MAX + 3];
	struct group *g;
	cJSON *where;
	int rc;

	if (!s || !v || !f || !i || !s[0] || !cJSON_IsObject(items) ||
	    where_key(v, f, i, key, sizeof(key)))
		return cb_err_set(err, CB_EINVAL,
				  "the server's pull answer: a 'withheld' "
				  "entry is not {subject, visit, form, "
				  "instance, items}");
	rc = note_group(n, s, &g, err);
	if (rc)
		return rc;
	where = child(cJSON_GetObjectItemCaseSensitive(g->row, "forms"), key);
	if (!where)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	cJSON_ArrayForEach(it, items)
	{
		if (!cJSON_IsBool(it) || !it->string)
			continue;
		/* The latest word last, as it came. */
		cJSON_DeleteItemFromObjectCaseSensitive(where, it->string);
		if (!cJSON_AddBoolToObject(where, it->string, cJSON_IsTrue(it)))
			return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	return 0;
}

/* Write each touched subject's row once, in the order first named. */
static int note_flush(struct note *n, struct cb_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < n->n; i++) {
		char *text = cJSON_PrintUnformatted(n->groups[i]->row);

		if (!text)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = store_withheld_put(n->st, n->groups[i]->subject, text,
					strlen(text), err);
		free(text);
	}
	return rc;
}

int withheld_note(struct store *st, const cJSON *list, struct cb_err *err)
{
	struct note n;
	const cJSON *e;
	int rc = 0;

	if (!list || !cJSON_GetArraySize(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cb_err_set(err, CB_EINVAL,
				  "the server's pull answer: 'withheld' is "
				  "not an array");
	note_init(&n, st);
	cJSON_ArrayForEach(e, list)
	{
		rc = note_entry(&n, e, err);
		if (rc)
			break;
	}
	if (!rc)
		rc = note_flush(&n, err);
	note_release(&n);
	return rc;
}

int withheld_note_one(struct store *st, const cJSON *entry, struct cb_err *err)
{
	struct note n;
	int rc;

	note_init(&n, st);
	rc = note_entry(&n, entry, err);
	if (!rc)
		rc = note_flush(&n, err);
	note_release(&n);
	return rc;
}

/* ---- Reading --------------------------------------------------------------
 */

int withheld_load(struct store *st, const char *subject, struct withheld *w,
		  struct cb_err *err)
{
	return load_row(st, subject, 0, &w->row, err);
}

int withheld_in(const struct withheld *w, const char *visit, const char *form,
		const char *inst, const char *item)
{
	const cJSON *where;
	char key[3 * PART_MAX + 3];

	if (!w->row || where_key(visit, form, inst, key, sizeof(key)))
		return 0;
	where = cJSON_GetObjectItemCaseSensitive(w->row, "forms");
	where = cJSON_GetObjectItemCaseSensitive(where, key);
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(where, item));
}

void withheld_release(struct withheld *w)
{
	cJSON_Delete(w->row);
	w->row = NULL;
}
