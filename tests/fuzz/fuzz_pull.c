/*
 * fuzz_pull.c - the pull request path: srv_core_pull on the fixture
 * server (server_fixture.h) for the device, cursor and page size the
 * input picks, as GET /v1/sync/pull?since=S&limit=L passes them once
 * read (a cursor of 0 or more, a limit of 1 to SRV_PULL_MAX).
 *
 * Input: byte 0 picks the device, bytes 1-8 the cursor (big-endian, sign
 * bit cleared), bytes 9-10 the limit; missing bytes count as zero.
 *
 * Properties: the reply is well formed; at most `limit` events, all after
 * the cursor and none the device may not see (server_fixture.c); "more"
 * exactly when the page is full; the next cursor never goes back; and
 * walking the pages from that cursor gives the same events, in the same
 * order, as one large pull.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "server_fixture.h"

static int64_t cursor_of(const cJSON *reply)
{
	const char *n = cb_json_str(reply, "next");
	char *end;
	long long v;

	FUZZ_ASSERT(n != NULL);
	errno = 0;
	v = strtoll(n, &end, 10);
	FUZZ_ASSERT(*n && !*end && v >= 0);
	return (int64_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int checked;
	struct fz_server *s = fz_server();
	uint8_t b[11] = {0};
	const struct fz_dev *d;
	const cJSON *page, *all_events, *e, *want;
	cJSON *all = NULL, *reply = NULL;
	int64_t since = 0, next;
	long limit;
	size_t i;
	int more, n;

	memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
	d = &s->devs[b[0] % FZ_NDEV];
	for (i = 1; i <= 8; i++)
		since = (int64_t)(((uint64_t)since << 8) | b[i]);
	since &= INT64_MAX;
	limit = 1 + (long)(((unsigned)b[9] << 8 | b[10]) % SRV_PULL_MAX);

	if (!checked) { /* the store never changes here */
		fz_check_store();
		checked = 1;
	}
	all = fz_pull(&s->core, &d->dev, since, SRV_PULL_MAX);
	all_events = cb_json_arr(all, "events");
	FUZZ_ASSERT(all_events != NULL);
	want = all_events->child;
	/* page by page from the same cursor */
	do {
		reply = fz_pull(&s->core, &d->dev, since, limit);
		page = cb_json_arr(reply, "events");
		FUZZ_ASSERT(page != NULL);
		n = cJSON_GetArraySize(page);
		FUZZ_ASSERT(n <= limit);
		more = cJSON_IsTrue(cJSON_GetObjectItem(reply, "more"));
		FUZZ_ASSERT(more == (n == limit));
		next = cursor_of(reply);
		FUZZ_ASSERT(next >= since);
		cJSON_ArrayForEach(e, page)
		{
			FUZZ_ASSERT(want != NULL);
			FUZZ_ASSERT(!strcmp(cb_json_str(e, "id"),
					    cb_json_str(want, "id")));
			want = want->next;
		}
		cJSON_Delete(reply);
		since = next;
	} while (more);
	FUZZ_ASSERT(want == NULL);
	cJSON_Delete(all);
	return 0;
}
