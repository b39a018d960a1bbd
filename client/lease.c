/*
 * lease.c - the device's lease of randomization slots (see lease.h).
 */
#include "lease.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

int lease_meta_load(struct store *st, const char *key, int array, cJSON **out,
		    struct cb_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = store_meta_get(st, key, &text, &len, err);
	if (rc == CB_ENOTFOUND) {
		cb_err_clear(err);
		*out = array ? cJSON_CreateArray() : cJSON_CreateObject();
		return *out ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	if (rc)
		return rc;
	*out = cb_json_parse(text, len, STORE_META_MAX, key, err);
	free(text);
	if (!*out)
		return err->code ? err->code : CB_EINVAL;
	if (array ? !cJSON_IsArray(*out) : !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		return cb_err_set(err, CB_EINVAL, "setting %s is damaged", key);
	}
	return 0;
}

int lease_meta_save(struct store *st, const char *key, const cJSON *v,
		    struct cb_err *err)
{
	char *text = cJSON_PrintUnformatted(v);
	int rc;

	if (!text)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = store_meta_set(st, key, text, strlen(text), err);
	free(text);
	return rc;
}

/* Remember slot `o` (list, kit, arm_site) under its randno in `slots`. */
static int remember_slot(cJSON *slots, const cJSON *o)
{
	const char *randno = cb_json_str(o, "randno");
	const char *list = cb_json_str(o, "list");
	const char *kit = cb_json_str(o, "kit");
	const char *arm = cb_json_str(o, "arm_site");
	cJSON *e;

	if (!randno || !list || !kit || !arm)
		return CB_EINVAL;
	e = cJSON_CreateObject();
	if (!e)
		return CB_ENOMEM;
	cJSON_AddStringToObject(e, "list", list);
	cJSON_AddStringToObject(e, "kit", kit);
	cJSON_AddStringToObject(e, "arm_site", arm);
	cJSON_DeleteItemFromObjectCaseSensitive(slots, randno);
	cJSON_AddItemToObject(slots, randno, e);
	return 0;
}

/*
 * Add to the array `into` every entry of `from` whose `key` member no
 * entry of `into` has. 0 or CB_ENOMEM.
 */
static int union_by(cJSON *into, const cJSON *from, const char *key)
{
	const cJSON *o, *have;

	cJSON_ArrayForEach(o, from)
	{
		const char *k = cb_json_str(o, key);
		cJSON *copy;

		if (!k)
			continue;
		cJSON_ArrayForEach(have, into)
		{
			const char *h = cb_json_str(have, key);

			if (h && !strcmp(h, k))
				break;
		}
		if (have)
			continue;
		copy = cJSON_Duplicate(o, 1);
		if (!copy || !cJSON_AddItemToArray(into, copy)) {
			cJSON_Delete(copy);
			return CB_ENOMEM;
		}
	}
	return 0;
}

int lease_save(struct store *st, const cJSON *reply, struct cb_err *err)
{
	const cJSON *lease = cb_json_arr(reply, "lease");
	const cJSON *assigned = cb_json_arr(reply, "assigned");
	const cJSON *keys = cb_json_arr(reply, "codebreak");
	const cJSON *o;
	cJSON *old = NULL, *out = NULL, *slots;
	int rc;

	if (!lease || !assigned || !keys || !cb_json_str(reply, "site"))
		return cb_err_set(err, CB_EINVAL,
				  "the server's slots answer is not the "
				  "documented one");
	rc = lease_meta_load(st, LEASE_META, 0, &old, err);
	if (rc)
		return rc;
	/* No list on the server and none here: keep the store as it is. */
	if (!cJSON_GetArraySize(lease) && !cJSON_GetArraySize(assigned) &&
	    !cJSON_GetArraySize(keys) && !cJSON_GetArraySize(old)) {
		cJSON_Delete(old);
		return 0;
	}
	out = cJSON_Duplicate(reply, 1);
	slots = cJSON_DetachItemFromObjectCaseSensitive(old, "slots");
	if (!slots)
		slots = cJSON_CreateObject();
	if (!out || !slots ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "lease"),
		     cb_json_arr(old, "lease"), "randno") ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "assigned"),
		     cb_json_arr(old, "assigned"), "randno") ||
	    union_by(cJSON_GetObjectItemCaseSensitive(out, "codebreak"),
		     cb_json_arr(old, "codebreak"), "list")) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(o, lease)
	{
		if (!rc)
			rc = remember_slot(slots, o);
	}
	cJSON_ArrayForEach(o, assigned)
	{
		if (!rc)
			rc = remember_slot(slots, o);
	}
	if (rc) {
		rc = cb_err_set(err, rc,
				"the server's slots answer is not the "
				"documented one");
		goto out;
	}
	cJSON_AddItemToObject(out, "slots", slots);
	slots = NULL;
	rc = lease_meta_save(st, LEASE_META, out, err);
out:
	cJSON_Delete(slots);
	cJSON_Delete(old);
	cJSON_Delete(out);
	return rc;
}

/* 1 when `randno` is in the array of used slots. */
static int slot_used(const cJSON *used, const char *randno)
{
	const cJSON *u;

	cJSON_ArrayForEach(u, used)
	{
		if (cJSON_IsString(u) && !strcmp(u->valuestring, randno))
			return 1;
	}
	return 0;
}

/* 1 when the site's slot `randno` is known used by a subject. */
static int slot_assigned(const cJSON *lease, const char *randno)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cb_json_arr(lease, "assigned"))
	{
		const char *r = cb_json_str(o, "randno");

		if (r && !strcmp(r, randno))
			return 1;
	}
	return 0;
}

const cJSON *lease_next_slot(const cJSON *lease, const cJSON *used,
			     const char *cell)
{
	const cJSON *o, *best = NULL;
	long long seq, best_seq = 0;

	cJSON_ArrayForEach(o, cb_json_arr(lease, "lease"))
	{
		const char *st = cb_json_str(o, "stratum");
		const char *randno = cb_json_str(o, "randno");
		const char *s = cb_json_str(o, "seq");

		if (!st || !randno || !s || !cb_json_str(o, "kit") ||
		    strcmp(st, cell) || slot_used(used, randno))
			continue;
		seq = strtoll(s, NULL, 10);
		if (!best || seq < best_seq) {
			best = o;
			best_seq = seq;
		}
	}
	return best;
}

/* 1 when `s` needs no escaping in a URL query. */
static int url_plain(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		      *s == '_' || *s == '~'))
			return 0;
	return 1;
}

int lease_held(struct store *st, char **out, size_t max, struct cb_err *err)
{
	cJSON *lease = NULL, *used = NULL;
	const cJSON *o, *arr;
	struct cb_buf b;
	int rc;

	*out = NULL;
	rc = lease_meta_load(st, LEASE_META, 0, &lease, err);
	if (!rc)
		rc = lease_meta_load(st, LEASE_META_USED, 1, &used, err);
	cb_buf_init(&b, max + 1);
	arr = rc ? NULL : cb_json_arr(lease, "lease");
	cJSON_ArrayForEach(o, arr)
	{
		const char *randno = cb_json_str(o, "randno");

		if (!randno || !url_plain(randno) || slot_used(used, randno) ||
		    slot_assigned(lease, randno))
			continue;
		if (cb_buf_len(&b) + strlen(randno) + 1 > max)
			break;
		if (cb_buf_len(&b))
			rc = cb_buf_addc(&b, ',', err);
		if (!rc)
			rc = cb_buf_addstr(&b, randno, err);
		if (rc)
			break;
	}
	cJSON_Delete(lease);
	cJSON_Delete(used);
	if (!rc) {
		*out = cb_buf_take(&b, NULL);
		if (!*out)
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
	cb_buf_free(&b);
	return rc;
}
