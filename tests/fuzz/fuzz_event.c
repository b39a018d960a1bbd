/*
 * fuzz_event.c - event parse and validate (event.h: cb_event_parse,
 * cb_event_validate, cb_event_print, the signing bytes).
 *
 * Properties, for every input accepted as an event: it validates; its
 * printed form parses back to an event that prints the same; the JSON tree
 * and a deep copy give the same event; its signing bytes exist and are
 * canonical; signed with a key it verifies with that key and no other,
 * and any change to a signed field breaks the signature.
 */
#include <string.h>

#include "canon.h"
#include "event.h"
#include "fuzz.h"
#include "json.h"

static struct cb_sign_keypair key_a, key_b;

static void keys_once(void)
{
	static int done;
	struct cb_err err;

	if (done)
		return;
	FUZZ_ASSERT(cb_crypto_init(&err) == 0);
	FUZZ_ASSERT(cb_sign_keypair_new(&key_a, &err) == 0);
	FUZZ_ASSERT(cb_sign_keypair_new(&key_b, &err) == 0);
	done = 1;
}

/* The printed text of `ev`, which must exist. */
static char *print_of(const struct cb_event *ev)
{
	struct cb_err err;
	char *out = NULL;

	FUZZ_ASSERT(cb_event_print(ev, &out, &err) == 0);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_event ev, ev2, ev3;
	struct cb_err err;
	char *p1, *p2, *sb, *canon;
	size_t sblen, clen;
	cJSON *tree, *stree;
	int rc;

	keys_once();
	cb_err_clear(&err);
	cb_event_init(&ev);
	cb_event_init(&ev2);
	cb_event_init(&ev3);
	rc = cb_event_parse((const char *)data, size, &ev, &err);
	if (rc) {
		FUZZ_ASSERT(rc == CB_EINVAL || rc == CB_ETOOBIG ||
			    rc == CB_ENOMEM);
		FUZZ_ASSERT(ev.device == NULL && ev.nchanges == 0);
		cb_event_release(&ev);
		return 0;
	}
	FUZZ_ASSERT(cb_event_validate(&ev, &err) == 0);

	/* print, parse, print */
	p1 = print_of(&ev);
	rc = cb_event_parse(p1, strlen(p1), &ev2, &err);
	if (rc)
		fprintf(stderr, "printed event refused: %s\n", err.msg);
	FUZZ_ASSERT(rc == 0);
	p2 = print_of(&ev2);
	FUZZ_ASSERT(!strcmp(p1, p2));
	free(p2);
	cb_event_release(&ev2);

	/* the JSON tree and the deep copy */
	FUZZ_ASSERT(cb_event_to_json(&ev, &tree, &err) == 0);
	FUZZ_ASSERT(cb_event_from_json(tree, &ev2, &err) == 0);
	cJSON_Delete(tree);
	p2 = print_of(&ev2);
	FUZZ_ASSERT(!strcmp(p1, p2));
	free(p2);
	FUZZ_ASSERT(cb_event_copy(&ev3, &ev, &err) == 0);
	p2 = print_of(&ev3);
	FUZZ_ASSERT(!strcmp(p1, p2));
	free(p2);
	free(p1);

	/* the signing bytes are the canonical encoding of themselves */
	FUZZ_ASSERT(cb_event_signing_bytes(&ev, &sb, &sblen, &err) == 0);
	stree = cb_json_parse(sb, sblen, CB_EVENT_JSON_MAX, "signing", &err);
	FUZZ_ASSERT(stree != NULL);
	FUZZ_ASSERT(cJSON_GetObjectItemCaseSensitive(stree, "sig") == NULL);
	FUZZ_ASSERT(cb_canon_encode(stree, &canon, &clen, &err) == 0);
	FUZZ_ASSERT(clen == sblen && !memcmp(canon, sb, sblen));
	free(canon);
	cJSON_Delete(stree);
	free(sb);

	/* sign and verify */
	FUZZ_ASSERT(cb_event_sign(&ev2, key_a.sk, &err) == 0);
	FUZZ_ASSERT(cb_event_verify(&ev2, key_a.pk, &err) == 0);
	FUZZ_ASSERT(cb_event_verify(&ev2, key_b.pk, &err) == CB_EAUTH);
	/* a signed field changed: the reason (any text is a valid reason) */
	FUZZ_ASSERT(cb_event_set_reason(&ev2, ev2.reason[0] ? "" : "x", &err) ==
		    0);
	rc = cb_event_verify(&ev2, key_a.pk, &err);
	FUZZ_ASSERT(rc == CB_EAUTH || rc == CB_EINVAL);

	cb_event_release(&ev);
	cb_event_release(&ev2);
	cb_event_release(&ev3);
	return 0;
}
