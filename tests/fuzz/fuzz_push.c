/*
 * fuzz_push.c - the push request path from the body's bytes to the reply:
 * the body read as POST /v1/sync/push reads it (strict JSON of at most
 * SRV_BODY_MAX bytes, an object whose only member "events" is an array of
 * at most SRV_PUSH_MAX_EVENTS), then srv_core_push on the fixture server
 * (server_fixture.h) as the device the first event names (device 0 when
 * it names none of the fixture's).
 *
 * Properties (server_fixture.c): the reply has one well-formed result per
 * event and counts that add up; an accepted event is stored, pulled only
 * by the devices that may see it, signed by the device it names, and a
 * duplicate when pushed again.
 */
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "server_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_server *s = fz_server();
	const struct fz_dev *caller;
	const cJSON *events, *m;
	struct cb_err err;
	cJSON *body;

	body =
	    cb_json_parse((const char *)data, size, SRV_BODY_MAX, "body", &err);
	if (!cJSON_IsObject(body))
		goto out;
	cJSON_ArrayForEach(m, body)
	{
		if (strcmp(m->string, "events"))
			goto out;
	}
	events = cJSON_GetObjectItemCaseSensitive(body, "events");
	if (!cJSON_IsArray(events) ||
	    cJSON_GetArraySize(events) > SRV_PUSH_MAX_EVENTS)
		goto out;
	caller = fz_dev_by_id(cb_json_str(events->child, "device"));
	if (fz_push_and_check(events, caller ? caller : &s->devs[0]))
		fz_reset();
out:
	cJSON_Delete(body);
	return 0;
}
