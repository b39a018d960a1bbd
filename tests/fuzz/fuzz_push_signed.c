/*
 * fuzz_push_signed.c - the push rules past the signature check, over a
 * history made by several devices.
 *
 * The input is a JSON array of events (or one event). It is cut into
 * pushes: an event naming a fixture device (server_fixture.h) other than
 * the current push's starts a new push by that device; an event naming
 * none joins the current push and is given its device. The first push's
 * device is the one its first event names, else by that event's site:
 * KR02's coordinator for "KR02", the data manager for any site other than
 * KR01, KR01's coordinator otherwise. Each element that reads as an
 * event is signed by its device, so mutated events reach every rule
 * after the signature (sites, roles, subjects, edit checks, duplicates
 * and conflicts, the revoked device's cut-off), and a history can mix
 * devices (a conflict between two laptops, a query opened by the data
 * manager and answered at the site). Each push goes through
 * srv_core_push with the checks of fz_push_and_check, in order, on one
 * store; the fixture is restored after the input.
 *
 * With FUZZ_DUMP_DIR set, each signed push is also written there as a
 * push body ({"events":[...]}): that is how tests/fuzz/corpus/push gets
 * seeds whose signatures verify.
 */
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "server_fixture.h"

static void dump(const cJSON *events)
{
	const char *dir = getenv("FUZZ_DUMP_DIR");
	char path[4096], sum[CB_HASH_HEX_SIZE];
	cJSON *body;
	char *text;
	FILE *f;

	if (!dir || !*dir)
		return;
	body = cJSON_CreateObject();
	FUZZ_ASSERT(body != NULL);
	cJSON_AddItemReferenceToObject(body, "events", (cJSON *)events);
	text = cJSON_PrintUnformatted(body);
	FUZZ_ASSERT(text != NULL);
	cb_sha256_hex(text, strlen(text), sum);
	snprintf(path, sizeof(path), "%s/signed-%.16s.json", dir, sum);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	cJSON_free(text);
	cJSON_Delete(body);
}

/* The first push's device, when its first event names none. */
static const struct fz_dev *by_site(struct fz_server *s, const cJSON *first)
{
	const char *site = cb_json_str(first, "site");

	if (site && !strcmp(site, "KR02"))
		return &s->devs[2];
	if (site && strcmp(site, "KR01"))
		return &s->devs[3];
	return &s->devs[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_server *s = fz_server();
	const struct fz_dev *caller = NULL, *named;
	struct cb_err err;
	cJSON *in, *batch = NULL, *e;
	int accepted = 0;

	in = cb_json_parse((const char *)data, size, SRV_BODY_MAX, "events",
			   &err);
	if (cJSON_IsObject(in)) {
		cJSON *one = cJSON_CreateArray();

		FUZZ_ASSERT(one != NULL);
		cJSON_AddItemToArray(one, in);
		in = one;
	}
	if (!cJSON_IsArray(in) ||
	    cJSON_GetArraySize(in) > SRV_PUSH_MAX_EVENTS) {
		cJSON_Delete(in);
		return 0;
	}
	while ((e = cJSON_DetachItemViaPointer(in, in->child)) != NULL) {
		named = fz_dev_by_id(cb_json_str(e, "device"));
		if (!caller)
			caller = named ? named : by_site(s, e);
		if (named && named != caller && batch) {
			fz_sign_events(batch, caller);
			dump(batch);
			accepted += fz_push_and_check(batch, caller);
			cJSON_Delete(batch);
			batch = NULL;
			caller = named;
		}
		if (!batch)
			batch = cJSON_CreateArray();
		FUZZ_ASSERT(batch != NULL);
		cJSON_AddItemToArray(batch, e);
	}
	if (batch) {
		fz_sign_events(batch, caller);
		dump(batch);
		accepted += fz_push_and_check(batch, caller);
		cJSON_Delete(batch);
	}
	cJSON_Delete(in);
	if (accepted)
		fz_reset();
	return 0;
}
