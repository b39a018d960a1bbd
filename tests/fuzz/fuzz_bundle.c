/*
 * fuzz_bundle.c - the bundle reader (bundle.h: cb_bundle_split), and what
 * both readers do next with a bundle or a reply: check the signature over
 * cb_bundle_signed_text, parse the payload (strict JSON) and read its
 * events (event.h).
 *
 * Properties: a file split into device, signature and payload is exactly
 * those parts framed again (one spelling, so nothing can hide between
 * them); the signature of a file this target did not sign never
 * verifies; and any input, taken as a payload, framed and signed with a
 * device key, splits back to the same payload and verifies.
 */
#include <string.h>

#include "bundle.h"
#include "event.h"
#include "fuzz.h"
#include "json.h"

#define BUNDLE_MAX (64u * 1024u * 1024u)

static struct cb_sign_keypair key;

/* Read the events of a payload the way the importers do. */
static void read_payload(const char *payload, size_t plen)
{
	const cJSON *events, *pull, *page, *e;
	struct cb_err err;
	cJSON *j;

	j = cb_json_parse(payload, plen, BUNDLE_MAX, "payload", &err);
	if (!j)
		return;
	events = cb_json_arr(j, "events");
	cJSON_ArrayForEach(e, events)
	{
		struct cb_event ev;

		cb_event_init(&ev);
		if (!cb_event_from_json(e, &ev, &err))
			FUZZ_ASSERT(cb_event_validate(&ev, &err) == 0);
		cb_event_release(&ev);
	}
	pull = cb_json_arr(j, "pull");
	cJSON_ArrayForEach(page, pull)
	{
		cJSON_ArrayForEach(e, cb_json_arr(page, "events"))
		{
			struct cb_event ev;

			cb_event_init(&ev);
			if (!cb_event_from_json(e, &ev, &err))
				FUZZ_ASSERT(cb_event_validate(&ev, &err) == 0);
			cb_event_release(&ev);
		}
	}
	cJSON_Delete(j);
}

static void split_one(const char *magic, const uint8_t *data, size_t size)
{
	char device[CB_BUNDLE_DEVICE_HEX + 1], hex[CB_SIGNATURE_BYTES * 2 + 1];
	unsigned char sig[CB_SIGNATURE_BYTES];
	const char *payload;
	char *text, *again;
	size_t plen, tlen, hl, alen;
	struct cb_err err;

	if (cb_bundle_split(magic, (const char *)data, size, device, sig,
			    &payload, &plen))
		return;
	FUZZ_ASSERT(strlen(device) == CB_BUNDLE_DEVICE_HEX);
	FUZZ_ASSERT(payload >= (const char *)data &&
		    payload + plen == (const char *)data + size);
	/* framed again: the same bytes */
	FUZZ_ASSERT(cb_hex_encode(sig, sizeof(sig), hex, sizeof(hex), &err) ==
		    0);
	alen = strlen(magic) + 1 + CB_BUNDLE_DEVICE_HEX + 1 + strlen(hex) + 1;
	again = malloc(alen + plen + 1);
	FUZZ_ASSERT(again != NULL);
	hl = (size_t)snprintf(again, alen + 1, "%s\n%s\n%s\n", magic, device,
			      hex);
	FUZZ_ASSERT(hl == alen);
	memcpy(again + hl, payload, plen);
	FUZZ_ASSERT(hl + plen == size && !memcmp(again, data, size));
	free(again);
	text = cb_bundle_signed_text(magic, device, payload, plen, &tlen);
	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT(cb_verify_ph(key.pk, text, tlen, sig, &err) == CB_EAUTH);
	free(text);
	read_payload(payload, plen);
}

/* The input as the payload of a bundle signed here. */
static void sign_and_split(const uint8_t *data, size_t size)
{
	static const char device[] = "0123456789abcdef0123456789abcdef";
	char hex[CB_SIGNATURE_BYTES * 2 + 1], got_dev[CB_BUNDLE_DEVICE_HEX + 1];
	unsigned char sig[CB_SIGNATURE_BYTES], got_sig[CB_SIGNATURE_BYTES];
	const char *payload;
	char *text, *file;
	size_t tlen, hl, plen;
	struct cb_err err;

	text = cb_bundle_signed_text(CB_BUNDLE_MAGIC, device,
				     (const char *)data, size, &tlen);
	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT(cb_sign_ph(key.sk, text, tlen, sig, &err) == 0);
	FUZZ_ASSERT(cb_hex_encode(sig, sizeof(sig), hex, sizeof(hex), &err) ==
		    0);
	file = malloc(tlen + sizeof(hex) + 2);
	FUZZ_ASSERT(file != NULL);
	hl = (size_t)snprintf(file, tlen + sizeof(hex) + 2, "%s\n%s\n%s\n",
			      CB_BUNDLE_MAGIC, device, hex);
	memcpy(file + hl, data, size);
	FUZZ_ASSERT(cb_bundle_split(CB_BUNDLE_MAGIC, file, hl + size, got_dev,
				    got_sig, &payload, &plen) == 0);
	FUZZ_ASSERT(!strcmp(got_dev, device) && plen == size &&
		    !memcmp(payload, data, size));
	free(text);
	text = cb_bundle_signed_text(CB_BUNDLE_MAGIC, got_dev, payload, plen,
				     &tlen);
	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT(cb_verify_ph(key.pk, text, tlen, got_sig, &err) == 0);
	free(text);
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_err err;

	if (!key.sk) {
		FUZZ_ASSERT(cb_crypto_init(&err) == 0);
		FUZZ_ASSERT(cb_sign_keypair_new(&key, &err) == 0);
	}
	split_one(CB_BUNDLE_MAGIC, data, size);
	split_one(CB_REPLY_MAGIC, data, size);
	sign_and_split(data, size);
	return 0;
}
