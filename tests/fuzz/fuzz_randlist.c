/*
 * fuzz_randlist.c - the randomization list loader (randlist.h:
 * cb_randlist_load).
 *
 * Each input is loaded twice: as it is, and signed again with a key of
 * this target's (its "signing_public_key" replaced, "signature" made over
 * the canonical encoding), so mutated lists also reach everything past a
 * good signature. Properties: a refused list gives a known code and is
 * released; a list that loads has slots within the caps, each with its
 * site and stratum in the list, unique kit numbers and sealed arms; and a
 * sealed arm never opens with a key it was not sealed to.
 */
#include <string.h>

#include "canon.h"
#include "fuzz.h"
#include "json.h"
#include "randlist.h"

static struct cb_sign_keypair key;
static struct cb_box_keypair box;

static void loaded(const struct cb_randlist *l)
{
	size_t i, j;
	struct cb_err err;

	FUZZ_ASSERT(l->nslots <= CB_RANDLIST_SLOTS_MAX);
	FUZZ_ASSERT(l->nsites <= CB_RANDLIST_SITES_MAX);
	for (i = 0; i < l->nslots; i++) {
		const struct cb_randlist_slot *s = &l->slots[i];
		int site = 0, cell = 0;

		for (j = 0; j < l->nsites; j++)
			site |= !strcmp(l->sites[j].code, s->site);
		for (j = 0; j < l->ncells; j++)
			cell |= !strcmp(l->cells[j], s->stratum);
		FUZZ_ASSERT(site && cell);
		FUZZ_ASSERT(s->arm == NULL && s->seal_unblind && s->seal_site);
		FUZZ_ASSERT(strlen(s->kit) == CB_RANDLIST_KIT_DIGITS);
		for (j = 0; j < i && j < 64; j++)
			FUZZ_ASSERT(strcmp(l->slots[j].kit, s->kit));
		if (i < 4) {
			char *arm = NULL;

			FUZZ_ASSERT(
			    cb_randlist_open_arm(l, s, CB_RANDLIST_SEAL_UNBLIND,
						 &box, &arm, &err) != 0);
			FUZZ_ASSERT(arm == NULL);
		}
	}
}

static void load(const char *text, size_t len)
{
	struct cb_randlist_problems pr;
	struct cb_randlist l;
	struct cb_err err;
	int rc;

	cb_err_clear(&err);
	cb_randlist_problems_init(&pr);
	rc = cb_randlist_load(text, len, &l, &pr, &err);
	if (rc) {
		FUZZ_ASSERT(rc == CB_EINVAL || rc == CB_EINTEGRITY ||
			    rc == CB_ETOOBIG || rc == CB_ENOMEM);
		FUZZ_ASSERT(l.slots == NULL && l.sites == NULL);
		FUZZ_ASSERT(pr.count <= CB_RANDLIST_PROBLEMS_MAX);
	} else {
		FUZZ_ASSERT(pr.count == 0);
		loaded(&l);
	}
	cb_randlist_release(&l);
	cb_randlist_problems_release(&pr);
}

/* The input signed again with this target's key; NULL when it cannot be. */
static char *resign(const uint8_t *data, size_t size)
{
	char pkhex[CB_SIGN_PUBLIC_BYTES * 2 + 1],
	    sighex[CB_SIGNATURE_BYTES * 2 + 1];
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_err err;
	char *canon = NULL, *out = NULL;
	size_t clen;
	cJSON *doc;

	doc = cb_json_parse((const char *)data, size, CB_RANDLIST_FILE_MAX,
			    "list", &err);
	if (!cJSON_IsObject(doc))
		goto done;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "signature");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "signing_public_key");
	FUZZ_ASSERT(cb_hex_encode(key.pk, sizeof(key.pk), pkhex, sizeof(pkhex),
				  &err) == 0);
	if (!cJSON_AddStringToObject(doc, "signing_public_key", pkhex))
		goto done;
	if (cb_canon_encode(doc, &canon, &clen, &err))
		goto done;
	FUZZ_ASSERT(cb_sign(key.sk, canon, clen, sig, &err) == 0);
	FUZZ_ASSERT(
	    cb_hex_encode(sig, sizeof(sig), sighex, sizeof(sighex), &err) == 0);
	if (cJSON_AddStringToObject(doc, "signature", sighex))
		out = cJSON_PrintUnformatted(doc);
done:
	free(canon);
	cJSON_Delete(doc);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_err err;
	char *again;

	if (!key.sk) {
		FUZZ_ASSERT(cb_crypto_init(&err) == 0);
		FUZZ_ASSERT(cb_sign_keypair_new(&key, &err) == 0);
		FUZZ_ASSERT(cb_box_keypair_new(&box, &err) == 0);
	}
	load((const char *)data, size);
	again = resign(data, size);
	if (again) {
		load(again, strlen(again));
		cJSON_free(again);
	}
	return 0;
}
