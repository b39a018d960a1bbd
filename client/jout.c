/*
 * jout.c - the JSON model helpers of the printing commands (see jout.h).
 */
#include "jout.h"

#include "cli.h"

#include <stdio.h>

cJSON *jout_put(struct jout *j, cJSON *parent, const char *key, cJSON *v)
{
	int ok;

	if (!v || !parent) {
		cJSON_Delete(v);
		j->oom = 1;
		return NULL;
	}
	ok = key ? cJSON_AddItemToObject(parent, key, v)
		 : cJSON_AddItemToArray(parent, v);
	if (!ok) {
		cJSON_Delete(v);
		j->oom = 1;
		return NULL;
	}
	return v;
}

void jout_str(struct jout *j, cJSON *o, const char *key, const char *s)
{
	jout_put(j, o, key, s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

void jout_num(struct jout *j, cJSON *o, const char *key, double n)
{
	jout_put(j, o, key, cJSON_CreateNumber(n));
}

void jout_bool(struct jout *j, cJSON *o, const char *key, int b)
{
	jout_put(j, o, key, cJSON_CreateBool(b));
}

void jout_null(struct jout *j, cJSON *o, const char *key)
{
	jout_put(j, o, key, cJSON_CreateNull());
}

void jout_tri(struct jout *j, cJSON *o, const char *key, int t)
{
	if (t < 0)
		jout_null(j, o, key);
	else
		jout_bool(j, o, key, t);
}

void jout_date(struct jout *j, cJSON *o, const char *key,
	       const struct cb_date *d)
{
	char text[CB_DATE_TEXT_MAX + 1];

	if (!d || cb_date_format(d, text))
		jout_null(j, o, key);
	else
		jout_str(j, o, key, text);
}

const char *jin_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? cli_safe(v->valuestring) : NULL;
}

int jin_int(const cJSON *o, const char *key, int fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valueint : fallback;
}

int jin_tri(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsTrue(v))
		return 1;
	if (cJSON_IsFalse(v))
		return 0;
	return -1;
}

int jout_emit(struct jout *j, cJSON *root)
{
	char *text = NULL;

	if (root && !j->oom)
		text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return cli_error("out of memory");
	printf("%s\n", text);
	cJSON_free(text);
	return EXIT_OK;
}
