/*
 * withheld.c - the unblinded values a blinded laptop knows exist (see
 * withheld.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "withheld.h"

/* The form instance's key: "VISIT.FORM.INSTANCE". */
static int where_key(const char *visit, const char *form, const char *inst,
		     char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.%s.%s", visit, form, inst);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The stored object into *root (an empty one when unset). */
static int load(struct store *st, cJSON **root, struct cb_err *err)
{
	char *text = NULL;
	int rc = store_meta_opt(st, WITHHELD_META, &text, err);

	*root = NULL;
	if (rc)
		return rc;
	*root = text ? cJSON_Parse(text) : cJSON_CreateObject();
	free(text);
	if (!*root || !cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		return cb_err_set(err, text ? CB_EINTEGRITY : CB_ENOMEM,
				  text ? "the withheld-values setting is not "
					 "a JSON object"
				       : "out of memory");
	}
	return 0;
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

	return cJSON_IsString(v) && strlen(v->valuestring) <= 64
		   ? v->valuestring
		   : NULL;
}

int withheld_note(struct store *st, const cJSON *list, struct cb_err *err)
{
	const cJSON *e, *items, *it;
	cJSON *root = NULL, *subj, *where;
	char key[3 * 64 + 3], *text;
	int rc;

	if (!list || !cJSON_GetArraySize(list))
		return 0;
	if (!cJSON_IsArray(list))
		return cb_err_set(err, CB_EINVAL,
				  "the server's pull answer: 'withheld' is "
				  "not an array");
	rc = load(st, &root, err);
	if (rc)
		return rc;
	cJSON_ArrayForEach(e, list)
	{
		const char *s = str_member(e, "subject");
		const char *v = str_member(e, "visit");
		const char *f = str_member(e, "form");
		const char *i = str_member(e, "instance");

		items = cJSON_GetObjectItemCaseSensitive(e, "items");
		if (!s || !v || !f || !i || !s[0] || !cJSON_IsObject(items) ||
		    where_key(v, f, i, key, sizeof(key))) {
			cJSON_Delete(root);
			return cb_err_set(err, CB_EINVAL,
					  "the server's pull answer: a "
					  "'withheld' entry is not {subject, "
					  "visit, form, instance, items}");
		}
		subj = child(root, s);
		where = subj ? child(subj, key) : NULL;
		if (!where) {
			cJSON_Delete(root);
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		}
		cJSON_ArrayForEach(it, items)
		{
			if (!cJSON_IsBool(it) || !it->string)
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(where,
								it->string);
			if (!cJSON_AddBoolToObject(where, it->string,
						   cJSON_IsTrue(it))) {
				cJSON_Delete(root);
				return cb_err_set(err, CB_ENOMEM,
						  "out of memory");
			}
		}
	}
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_meta_set(st, WITHHELD_META, text, strlen(text), err);
	free(text);
	return rc;
}

int withheld_note_one(struct store *st, const cJSON *entry, struct cb_err *err)
{
	cJSON *one = cJSON_CreateArray();
	cJSON *copy = cJSON_Duplicate(entry, 1);
	int rc;

	if (!one || !copy || !cJSON_AddItemToArray(one, copy)) {
		cJSON_Delete(one);
		cJSON_Delete(copy);
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	rc = withheld_note(st, one, err);
	cJSON_Delete(one);
	return rc;
}

int withheld_has(struct store *st, const char *subject, const char *visit,
		 const char *form, const char *inst, const char *item, int *out,
		 struct cb_err *err)
{
	cJSON *root = NULL;
	const cJSON *w;
	char key[3 * 64 + 3];
	int rc;

	*out = 0;
	if (where_key(visit, form, inst, key, sizeof(key)))
		return 0;
	rc = load(st, &root, err);
	if (rc)
		return rc;
	w = cJSON_GetObjectItemCaseSensitive(root, subject);
	w = cJSON_GetObjectItemCaseSensitive(w, key);
	*out = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, item));
	cJSON_Delete(root);
	return 0;
}
