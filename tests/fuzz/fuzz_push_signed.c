/*
 * fuzz_push_signed.c - the push rules past the signature check.
 *
 * The input is a JSON array of events (or one event). Each element that
 * reads as an event is signed by the fixture device it names, or else
 * given to the caller and signed by it, so mutated events reach every
 * rule after the signature: sites, roles, subjects, edit checks,
 * duplicates and conflicts, the revoked device's cut-off. The caller is
 * the fixture device the first event names, else by the first event's
 * site: KR02's coordinator for "KR02", the data manager for any site
 * other than KR01, KR01's coordinator otherwise. Then the batch goes
 * through srv_core_push and the checks of fuzz_push.c.
 *
 * With FUZZ_DUMP_DIR set, each signed body is also written there as a
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_server *s = fz_server();
	const struct fz_dev *caller;
	struct cb_err err;
	const char *site;
	cJSON *in, *events;

	in = cb_json_parse((const char *)data, size, SRV_BODY_MAX, "events",
			   &err);
	if (cJSON_IsObject(in)) {
		events = cJSON_CreateArray();
		FUZZ_ASSERT(events != NULL);
		cJSON_AddItemToArray(events, in);
	} else if (cJSON_IsArray(in) &&
		   cJSON_GetArraySize(in) <= SRV_PUSH_MAX_EVENTS) {
		events = in;
	} else {
		cJSON_Delete(in);
		return 0;
	}
	caller = fz_dev_by_id(cb_json_str(events->child, "device"));
	if (!caller) {
		site = cb_json_str(events->child, "site");
		if (site && !strcmp(site, "KR02"))
			caller = &s->devs[2];
		else if (site && strcmp(site, "KR01"))
			caller = &s->devs[3];
		else
			caller = &s->devs[0];
	}
	fz_sign_events(events, caller);
	dump(events);
	fz_push_and_check(events, caller);
	cJSON_Delete(events);
	return 0;
}
