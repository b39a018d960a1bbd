/*
 * crypto.c - libsodium behind Casebook's small crypto API (see crypto.h).
 *
 * The only parts with logic of their own are the text formats: the Argon2id
 * parameter string, the wrapped-key line, and the strict hex and base64
 * decoders. Everything else is a checked call into libsodium with lengths
 * validated first, because several libsodium functions abort the process
 * (sodium_misuse) on a bad length rather than returning an error.
 */
#include "crypto.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Prefix of the parameter string: algorithm and Argon2 version 0x13. */
#define KDF_PREFIX "argon2id$v=19$"
/* Salt in unpadded standard base64: 16 bytes -> 22 characters. */
#define SALT_B64_LEN 22u
#define AEAD_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Domain separation for the wrap AD and the lookup subkeys. */
#define WRAP_AD_LABEL "casebook.wrap.v1"
#define LOOKUP_ID_LABEL "casebook.lookup.v1"
#define LOOKUP_KDF_CTX "CBLOOKUP"
/* A wrapped key's binary part (nonce, key, tag) and its whole text line. */
#define WRAP_BOX_MAX (CB_SEAL_NONCE_BYTES + CB_KEY_MAX + AEAD_TAG_BYTES)
#define WRAPPED_TEXT_MAX (CB_KDF_STR_MAX + 1 + (WRAP_BOX_MAX * 4 + 2) / 3)

_Static_assert(CB_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "data key is an XChaCha20-Poly1305 key");
_Static_assert(CB_KEY_BYTES == crypto_kdf_KEYBYTES, "data key is a kdf key");
_Static_assert(CB_RANDOM_SEED_BYTES == randombytes_SEEDBYTES,
	       "deterministic seed size");
_Static_assert(CB_SEAL_NONCE_BYTES ==
		   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "nonce size");
_Static_assert(CB_SEAL_OVERHEAD == CB_SEAL_NONCE_BYTES + AEAD_TAG_BYTES,
	       "seal overhead");
_Static_assert(CB_KDF_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt size");
_Static_assert(CB_SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "pk");
_Static_assert(CB_SIGN_SECRET_BYTES == crypto_sign_SECRETKEYBYTES, "sk");
_Static_assert(CB_SIGNATURE_BYTES == crypto_sign_BYTES, "signature");
_Static_assert(CB_BOX_PUBLIC_BYTES == crypto_box_PUBLICKEYBYTES, "box pk");
_Static_assert(CB_BOX_SECRET_BYTES == crypto_box_SECRETKEYBYTES, "box sk");
_Static_assert(CB_BOX_SEAL_OVERHEAD == crypto_box_SEALBYTES, "seal bytes");
_Static_assert(CB_KEYED_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
		   CB_KEYED_HASH_BYTES <= crypto_generichash_BYTES_MAX,
	       "keyed hash size");
_Static_assert(CB_HASH_BYTES == crypto_hash_sha256_BYTES, "sha256 size");
_Static_assert(CB_KDF_MEMLIMIT <= CB_KDF_MEMLIMIT_CAP &&
		   CB_KDF_OPSLIMIT <= CB_KDF_OPSLIMIT_CAP,
	       "default cost within the accepted range");

int cb_crypto_init(struct cb_err *err)
{
	if (sodium_init() < 0)
		return cb_err_set(err, CB_EIO,
				  "libsodium failed to initialise");
	return 0;
}

/* ---- Secret key buffers ------------------------------------------------ */

int cb_key_new(size_t len, struct cb_key **out, struct cb_err *err)
{
	struct cb_key *key;
	int rc;

	*out = NULL;
	if (len == 0 || len > CB_KEY_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "key length %zu is not between 1 and %u", len,
				  CB_KEY_MAX);
	/* sodium_malloc needs the page size that sodium_init records. */
	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	key = malloc(sizeof(*key));
	if (!key)
		return cb_err_set(err, CB_ENOMEM, "out of memory for a key");
	key->bytes = sodium_malloc(len);
	if (!key->bytes) {
		free(key);
		return cb_err_set(err, CB_ENOMEM,
				  "out of secure memory for a key");
	}
	sodium_memzero(key->bytes, len);
	key->len = len;
	*out = key;
	return 0;
}

int cb_key_random(size_t len, struct cb_key **out, struct cb_err *err)
{
	int rc = cb_key_new(len, out, err);

	if (rc)
		return rc;
	randombytes_buf((*out)->bytes, len);
	cb_key_readonly(*out);
	return 0;
}

int cb_key_from_bytes(const void *bytes, size_t len, struct cb_key **out,
		      struct cb_err *err)
{
	int rc = cb_key_new(len, out, err);

	if (rc)
		return rc;
	memcpy((*out)->bytes, bytes, len);
	cb_key_readonly(*out);
	return 0;
}

void cb_key_readonly(struct cb_key *key)
{
	/*
	 * Failure only means the platform lacks page protection; the key is
	 * still correct and still wiped on free, so it is not an error.
	 */
	if (key && key->bytes)
		(void)sodium_mprotect_readonly(key->bytes);
}

void cb_key_free(struct cb_key *key)
{
	if (!key)
		return;
	/* sodium_free makes the pages writable again and wipes them. */
	sodium_free(key->bytes);
	free(key);
}

static int check_key(const struct cb_key *key, size_t want, const char *what,
		     struct cb_err *err)
{
	if (!key || !key->bytes)
		return cb_err_set(err, CB_EINVAL, "%s: no key", what);
	if (key->len != want)
		return cb_err_set(err, CB_EINVAL,
				  "%s: key is %zu bytes, expected %zu", what,
				  key->len, want);
	return 0;
}

/* ---- Strict decimal and encoding helpers ------------------------------- */

/*
 * Parse a decimal number at *pos in text[0..len), advancing *pos past it.
 * No sign, no leading zero, at most `max`. Returns 0 or -1.
 */
static int parse_decimal(const char *text, size_t len, size_t *pos,
			 unsigned long long max, unsigned long long *value)
{
	size_t i = *pos;
	unsigned long long v = 0;

	if (i >= len || text[i] < '0' || text[i] > '9')
		return -1;
	if (text[i] == '0' && i + 1 < len && text[i + 1] >= '0' &&
	    text[i + 1] <= '9')
		return -1;
	while (i < len && text[i] >= '0' && text[i] <= '9') {
		unsigned digit = (unsigned)(text[i] - '0');

		if (v > (max - digit) / 10)
			return -1;
		v = v * 10 + digit;
		i++;
	}
	*pos = i;
	*value = v;
	return 0;
}

/* Consume the literal `lit` at *pos, or return -1. */
static int expect(const char *text, size_t len, size_t *pos, const char *lit)
{
	size_t n = strlen(lit);

	if (len - *pos < n || memcmp(text + *pos, lit, n) != 0)
		return -1;
	*pos += n;
	return 0;
}

static int sodium_b64_variant(enum cb_b64_variant variant)
{
	return variant == CB_B64_URL ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
				     : sodium_base64_VARIANT_ORIGINAL;
}

/*
 * Bytes that `len` characters of base64 decode to, counting a padded
 * variant's trailing '=' as no data. An impossible length (one character
 * over a multiple of four) counts as none; libsodium refuses it later.
 */
static size_t b64_decoded_len(const char *b64, size_t len, int variant)
{
	size_t pad = 0;

	if (variant == sodium_base64_VARIANT_ORIGINAL ||
	    variant == sodium_base64_VARIANT_URLSAFE)
		while (pad < 2 && pad < len && b64[len - 1 - pad] == '=')
			pad++;
	len -= pad;
	return len / 4 * 3 + (len % 4 > 1 ? len % 4 - 1 : 0);
}

/*
 * Strict base64 decode for any libsodium variant; the shared body of
 * cb_b64_decode and the PHC-style fields, which use unpadded standard
 * base64.
 *
 * The output size is checked here, before libsodium runs, because
 * libsodium reports both "output too small" and "padding missing" as
 * ERANGE, and the two must not be confused.
 */
static int b64_decode(const char *b64, size_t b64_len, int variant,
		      unsigned char *out, size_t out_cap, size_t *out_len,
		      struct cb_err *err)
{
	const char *end = NULL;
	size_t n = 0, need;
	int saved_errno = errno;
	int rc;

	need = b64_decoded_len(b64, b64_len, variant);
	if (!out_len && need != out_cap)
		return cb_err_set(err, CB_EINVAL,
				  "base64: %zu characters cannot hold exactly "
				  "%zu bytes",
				  b64_len, out_cap);
	if (need > out_cap)
		return cb_err_set(err, CB_ETOOBIG,
				  "base64: decodes to %zu bytes, more than %zu",
				  need, out_cap);
	rc = sodium_base642bin(out, out_cap, b64, b64_len, NULL, &n, &end,
			       variant);
	errno = saved_errno;
	if (rc != 0 || end != b64 + b64_len) {
		size_t at = end ? (size_t)(end - b64) : b64_len;

		if (rc == 0)
			return cb_err_set(err, CB_EINVAL,
					  "base64: unexpected character at "
					  "offset %zu",
					  at);
		return cb_err_set(err, CB_EINVAL,
				  "base64: malformed (bad length, padding or "
				  "trailing bits) near offset %zu",
				  at);
	}
	if (!out_len && n != out_cap)
		return cb_err_set(err, CB_EINVAL,
				  "base64: decodes to %zu bytes, expected %zu",
				  n, out_cap);
	if (out_len)
		*out_len = n;
	return 0;
}

/* ---- Passphrase key derivation ----------------------------------------- */

static int kdf_fast_mode(void)
{
	const char *v = getenv("CASEBOOK_KDF_FAST");

	return v && strcmp(v, "1") == 0;
}

static int check_kdf_params(const struct cb_kdf_params *p, struct cb_err *err)
{
	if (p->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
	    p->opslimit > CB_KDF_OPSLIMIT_CAP)
		return cb_err_set(
		    err, CB_EINVAL, "argon2id: t=%llu is outside %llu..%llu",
		    p->opslimit,
		    (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MIN,
		    CB_KDF_OPSLIMIT_CAP);
	if (p->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
	    p->memlimit > CB_KDF_MEMLIMIT_CAP || p->memlimit % 1024 != 0)
		return cb_err_set(err, CB_EINVAL,
				  "argon2id: memory %zu bytes is not a "
				  "multiple of 1 KiB within %zu..%zu",
				  p->memlimit,
				  (size_t)crypto_pwhash_argon2id_MEMLIMIT_MIN,
				  (size_t)CB_KDF_MEMLIMIT_CAP);
	return 0;
}

int cb_kdf_params_init(struct cb_kdf_params *params, struct cb_err *err)
{
	int rc = cb_crypto_init(err);

	if (rc)
		return rc;
	if (kdf_fast_mode()) {
		params->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
		params->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
	} else {
		params->opslimit = CB_KDF_OPSLIMIT;
		params->memlimit = CB_KDF_MEMLIMIT;
	}
	randombytes_buf(params->salt, sizeof(params->salt));
	return 0;
}

int cb_kdf_params_encode(const struct cb_kdf_params *params, char *out,
			 size_t out_cap, struct cb_err *err)
{
	char salt[SALT_B64_LEN + 1];
	int n, rc;

	rc = check_kdf_params(params, err);
	if (rc)
		return rc;
	sodium_bin2base64(salt, sizeof(salt), params->salt,
			  sizeof(params->salt),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	n = snprintf(out, out_cap, KDF_PREFIX "m=%zu,t=%llu,p=1$%s",
		     params->memlimit / 1024, params->opslimit, salt);
	if (n < 0 || (size_t)n >= out_cap)
		return cb_err_set(err, CB_EINVAL,
				  "argon2id parameter string needs %d bytes, "
				  "have %zu",
				  n + 1, out_cap);
	return 0;
}

int cb_kdf_params_decode(const char *text, size_t len,
			 struct cb_kdf_params *params, struct cb_err *err)
{
	struct cb_kdf_params p;
	unsigned long long m_kib, t;
	size_t pos = 0;
	int rc;

	if (expect(text, len, &pos, KDF_PREFIX))
		return cb_err_set(err, CB_EINVAL,
				  "argon2id parameters: expected \"%s\" at the "
				  "start",
				  KDF_PREFIX);
	if (expect(text, len, &pos, "m=") ||
	    parse_decimal(text, len, &pos, CB_KDF_MEMLIMIT_CAP / 1024, &m_kib))
		return cb_err_set(err, CB_EINVAL,
				  "argon2id parameters: bad m= (memory in KiB, "
				  "at most %u) at offset %zu",
				  CB_KDF_MEMLIMIT_CAP / 1024, pos);
	if (expect(text, len, &pos, ",t=") ||
	    parse_decimal(text, len, &pos, CB_KDF_OPSLIMIT_CAP, &t))
		return cb_err_set(err, CB_EINVAL,
				  "argon2id parameters: bad t= (passes, at "
				  "most %llu) at offset %zu",
				  CB_KDF_OPSLIMIT_CAP, pos);
	if (expect(text, len, &pos, ",p=1$"))
		return cb_err_set(err, CB_EINVAL,
				  "argon2id parameters: expected \",p=1$\" at "
				  "offset %zu",
				  pos);
	p.opslimit = t;
	p.memlimit = (size_t)m_kib * 1024;
	rc = check_kdf_params(&p, err);
	if (rc)
		return rc;
	rc = b64_decode(text + pos, len - pos,
			sodium_base64_VARIANT_ORIGINAL_NO_PADDING, p.salt,
			sizeof(p.salt), NULL, err);
	if (rc)
		return cb_err_prefix(err, "argon2id salt at offset %zu: ", pos);
	*params = p;
	return 0;
}

int cb_kdf_derive(const char *pass, size_t pass_len,
		  const struct cb_kdf_params *params, struct cb_key **out,
		  struct cb_err *err)
{
	struct cb_key *key;
	int rc;

	*out = NULL;
	rc = check_kdf_params(params, err);
	if (rc)
		return rc;
	if (pass_len > crypto_pwhash_PASSWD_MAX)
		return cb_err_set(err, CB_ETOOBIG, "passphrase is too long");
	rc = cb_key_new(CB_KEY_BYTES, &key, err);
	if (rc)
		return rc;
	if (crypto_pwhash(key->bytes, key->len, pass, pass_len, params->salt,
			  params->opslimit, params->memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		cb_key_free(key);
		return cb_err_set(err, CB_ENOMEM,
				  "argon2id could not get %zu MiB of memory",
				  params->memlimit / (1024 * 1024));
	}
	cb_key_readonly(key);
	*out = key;
	return 0;
}

/* ---- Key wrapping ------------------------------------------------------ */

/*
 * The associated data of a wrapped key: a label, the parameter string and
 * the slot, NUL-separated (neither string can contain a NUL).
 */
static unsigned char *wrap_ad(const char *kdf, size_t kdf_len, const char *slot,
			      size_t slot_len, size_t *ad_len)
{
	size_t label_len = sizeof(WRAP_AD_LABEL);
	unsigned char *ad;

	*ad_len = label_len + kdf_len + 1 + slot_len;
	ad = malloc(*ad_len);
	if (!ad)
		return NULL;
	memcpy(ad, WRAP_AD_LABEL, label_len);
	memcpy(ad + label_len, kdf, kdf_len);
	ad[label_len + kdf_len] = '\0';
	memcpy(ad + label_len + kdf_len + 1, slot, slot_len);
	return ad;
}

static int check_slot(const char *slot, size_t *slot_len, struct cb_err *err)
{
	if (!slot)
		return cb_err_set(err, CB_EINVAL, "wrapped key: no slot name");
	*slot_len = strnlen(slot, CB_WRAP_SLOT_MAX + 1);
	if (*slot_len > CB_WRAP_SLOT_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "wrapped key: slot name longer than %u bytes",
				  CB_WRAP_SLOT_MAX);
	return 0;
}

int cb_key_wrap(const struct cb_key *key, const char *pass, size_t pass_len,
		const char *slot, const struct cb_kdf_params *params,
		char **out, struct cb_err *err)
{
	unsigned char box[WRAP_BOX_MAX];
	char kdf[CB_KDF_STR_MAX];
	struct cb_kdf_params fresh;
	struct cb_key *kek = NULL;
	unsigned char *ad = NULL;
	char *line = NULL;
	size_t ad_len, slot_len, kdf_len, box_len, b64_size;
	int rc;

	*out = NULL;
	if (!key || !key->bytes || key->len == 0 || key->len > CB_KEY_MAX)
		return cb_err_set(err, CB_EINVAL, "wrap: bad key");
	if (pass_len == 0)
		return cb_err_set(err, CB_EINVAL, "wrap: empty passphrase");
	rc = check_slot(slot, &slot_len, err);
	if (rc)
		return rc;
	if (!params) {
		rc = cb_kdf_params_init(&fresh, err);
		if (rc)
			return rc;
		params = &fresh;
	}
	rc = cb_kdf_params_encode(params, kdf, sizeof(kdf), err);
	if (rc)
		return rc;
	kdf_len = strlen(kdf);
	rc = cb_kdf_derive(pass, pass_len, params, &kek, err);
	if (rc)
		goto out;
	ad = wrap_ad(kdf, kdf_len, slot, slot_len, &ad_len);
	if (!ad) {
		rc = cb_err_set(err, CB_ENOMEM, "wrap: out of memory");
		goto out;
	}
	randombytes_buf(box, CB_SEAL_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    box + CB_SEAL_NONCE_BYTES, NULL, key->bytes, key->len, ad, ad_len,
	    NULL, box, kek->bytes);
	box_len = CB_SEAL_NONCE_BYTES + key->len + AEAD_TAG_BYTES;
	b64_size = sodium_base64_ENCODED_LEN(
	    box_len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	line = malloc(kdf_len + 1 + b64_size);
	if (!line) {
		rc = cb_err_set(err, CB_ENOMEM, "wrap: out of memory");
		goto out;
	}
	memcpy(line, kdf, kdf_len);
	line[kdf_len] = '$';
	sodium_bin2base64(line + kdf_len + 1, b64_size, box, box_len,
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	*out = line;
	line = NULL;
out:
	sodium_memzero(box, sizeof(box));
	cb_key_free(kek);
	free(ad);
	free(line);
	return rc;
}

int cb_kdf_test_cost(void)
{
	return kdf_fast_mode();
}

int cb_key_wrap_below_default(const char *wrapped)
{
	struct cb_kdf_params params;
	size_t kdf_len;

	if (!wrapped || kdf_fast_mode())
		return 0;
	kdf_len = strnlen(wrapped, WRAPPED_TEXT_MAX + 1);
	if (kdf_len > WRAPPED_TEXT_MAX)
		return 0;
	while (kdf_len > 0 && wrapped[kdf_len - 1] != '$')
		kdf_len--;
	if (kdf_len == 0 ||
	    cb_kdf_params_decode(wrapped, kdf_len - 1, &params, NULL))
		return 0;
	return params.opslimit < CB_KDF_OPSLIMIT ||
	       params.memlimit < CB_KDF_MEMLIMIT;
}

int cb_key_unwrap(const char *wrapped, const char *pass, size_t pass_len,
		  const char *slot, struct cb_key **out, struct cb_err *err)
{
	unsigned char box[WRAP_BOX_MAX];
	struct cb_kdf_params params;
	struct cb_key *kek = NULL, *key = NULL;
	unsigned char *ad = NULL;
	size_t len, kdf_len, slot_len, ad_len, box_len;
	int rc;

	*out = NULL;
	rc = check_slot(slot, &slot_len, err);
	if (rc)
		return rc;
	if (!wrapped)
		return cb_err_set(err, CB_EINVAL, "not a wrapped key (none)");
	len = strnlen(wrapped, WRAPPED_TEXT_MAX + 1);
	if (len > WRAPPED_TEXT_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "not a wrapped key (longer than %zu "
				  "characters)",
				  (size_t)WRAPPED_TEXT_MAX);
	/* The parameter string ends at the last '$'; the key part follows. */
	kdf_len = len;
	while (kdf_len > 0 && wrapped[kdf_len - 1] != '$')
		kdf_len--;
	if (kdf_len == 0)
		return cb_err_set(err, CB_EINVAL,
				  "not a wrapped key (no '$' separator)");
	kdf_len--;
	rc = cb_kdf_params_decode(wrapped, kdf_len, &params, err);
	if (rc)
		return cb_err_prefix(err, "wrapped key: ");
	rc = b64_decode(wrapped + kdf_len + 1, len - kdf_len - 1,
			sodium_base64_VARIANT_ORIGINAL_NO_PADDING, box,
			sizeof(box), &box_len, err);
	if (rc) {
		cb_err_prefix(err,
			      "wrapped key part at offset %zu: ", kdf_len + 1);
		if (err)
			err->code = CB_EINVAL;
		return CB_EINVAL;
	}
	if (box_len <= CB_SEAL_NONCE_BYTES + AEAD_TAG_BYTES)
		return cb_err_set(err, CB_EINVAL,
				  "wrapped key: key part is only %zu bytes",
				  box_len);
	rc = cb_kdf_derive(pass, pass_len, &params, &kek, err);
	if (rc)
		goto out;
	ad = wrap_ad(wrapped, kdf_len, slot, slot_len, &ad_len);
	if (!ad) {
		rc = cb_err_set(err, CB_ENOMEM, "unwrap: out of memory");
		goto out;
	}
	rc = cb_key_new(box_len - CB_SEAL_NONCE_BYTES - AEAD_TAG_BYTES, &key,
			err);
	if (rc)
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		key->bytes, NULL, NULL, box + CB_SEAL_NONCE_BYTES,
		box_len - CB_SEAL_NONCE_BYTES, ad, ad_len, box,
		kek->bytes) != 0) {
		rc = cb_err_set(err, CB_EAUTH,
				"wrong passphrase for \"%s\" (or the wrapped "
				"key was altered)",
				slot);
		goto out;
	}
	cb_key_readonly(key);
	*out = key;
	key = NULL;
out:
	sodium_memzero(box, sizeof(box));
	cb_key_free(kek);
	cb_key_free(key);
	free(ad);
	return rc;
}

/* ---- Value encryption -------------------------------------------------- */

int cb_seal_value(const struct cb_key *key, const void *ad, size_t ad_len,
		  const void *plain, size_t len, unsigned char **out,
		  size_t *out_len, struct cb_err *err)
{
	unsigned char *sealed;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = check_key(key, CB_KEY_BYTES, "seal value", err);
	if (rc)
		return rc;
	if (len > CB_VALUE_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "value of %zu bytes is over the %u byte cap",
				  len, CB_VALUE_MAX);
	if (ad_len > CB_AD_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "associated data of %zu bytes is over the %u "
				  "byte cap",
				  ad_len, CB_AD_MAX);
	sealed = malloc(len + CB_SEAL_OVERHEAD);
	if (!sealed)
		return cb_err_set(err, CB_ENOMEM,
				  "out of memory sealing %zu bytes", len);
	randombytes_buf(sealed, CB_SEAL_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + CB_SEAL_NONCE_BYTES,
						   NULL, plain, len, ad, ad_len,
						   NULL, sealed, key->bytes);
	*out = sealed;
	*out_len = len + CB_SEAL_OVERHEAD;
	return 0;
}

int cb_open_value(const struct cb_key *key, const void *ad, size_t ad_len,
		  const unsigned char *sealed, size_t sealed_len,
		  unsigned char **out, size_t *out_len, struct cb_err *err)
{
	unsigned char *plain;
	size_t len;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = check_key(key, CB_KEY_BYTES, "open value", err);
	if (rc)
		return rc;
	if (ad_len > CB_AD_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "associated data of %zu bytes is over the %u "
				  "byte cap",
				  ad_len, CB_AD_MAX);
	if (sealed_len < CB_SEAL_OVERHEAD)
		return cb_err_set(err, CB_EINTEGRITY,
				  "encrypted value is truncated (%zu bytes)",
				  sealed_len);
	len = sealed_len - CB_SEAL_OVERHEAD;
	if (len > CB_VALUE_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "encrypted value of %zu bytes is over the %u "
				  "byte cap",
				  sealed_len, CB_VALUE_MAX);
	plain = malloc(len + 1);
	if (!plain)
		return cb_err_set(err, CB_ENOMEM,
				  "out of memory opening %zu bytes", len);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		plain, NULL, NULL, sealed + CB_SEAL_NONCE_BYTES,
		sealed_len - CB_SEAL_NONCE_BYTES, ad, ad_len, sealed,
		key->bytes) != 0) {
		cb_wipe_free(plain, len + 1);
		return cb_err_set(err, CB_EINTEGRITY,
				  "encrypted value failed authentication "
				  "(altered, or not stored for this row)");
	}
	plain[len] = '\0';
	*out = plain;
	*out_len = len;
	return 0;
}

void cb_wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	sodium_memzero(p, len);
	free(p);
}

/* ---- Keyed hash -------------------------------------------------------- */

/* Derive the subkey of `domain` into `subkey` (crypto_generichash_KEYBYTES). */
static int derive_hash_subkey(const struct cb_key *key, const char *domain,
			      unsigned char *subkey, struct cb_err *err)
{
	unsigned char id_input[sizeof(LOOKUP_ID_LABEL) + CB_HASH_DOMAIN_MAX];
	unsigned char id_bytes[8];
	uint64_t subkey_id = 0;
	size_t domain_len, i;
	int rc;

	rc = check_key(key, CB_KEY_BYTES, "keyed hash", err);
	if (rc)
		return rc;
	if (!domain)
		return cb_err_set(err, CB_EINVAL, "keyed hash: no domain");
	domain_len = strnlen(domain, CB_HASH_DOMAIN_MAX + 1);
	if (domain_len == 0 || domain_len > CB_HASH_DOMAIN_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "keyed hash: domain must be 1 to %u "
				  "characters",
				  CB_HASH_DOMAIN_MAX);
	for (i = 0; i < domain_len; i++)
		if (domain[i] < 0x21 || domain[i] > 0x7e)
			return cb_err_set(err, CB_EINVAL,
					  "keyed hash: domain has a "
					  "non-printable character at %zu",
					  i);
	/*
	 * crypto_kdf takes a 64-bit subkey id, not a string; hashing the
	 * domain to one keeps the domain a readable name, and a collision
	 * between two of the few domains Casebook uses has probability
	 * around 2^-64.
	 */
	memcpy(id_input, LOOKUP_ID_LABEL, sizeof(LOOKUP_ID_LABEL));
	memcpy(id_input + sizeof(LOOKUP_ID_LABEL), domain, domain_len);
	crypto_generichash(id_bytes, sizeof(id_bytes), id_input,
			   sizeof(LOOKUP_ID_LABEL) + domain_len, NULL, 0);
	for (i = 0; i < sizeof(id_bytes); i++)
		subkey_id |= (uint64_t)id_bytes[i] << (8 * i);
	crypto_kdf_derive_from_key(subkey, crypto_generichash_KEYBYTES,
				   subkey_id, LOOKUP_KDF_CTX, key->bytes);
	return 0;
}

int cb_keyed_hash(const struct cb_key *key, const char *domain,
		  const void *data, size_t len,
		  unsigned char out[CB_KEYED_HASH_BYTES], struct cb_err *err)
{
	unsigned char subkey[crypto_generichash_KEYBYTES];
	int rc;

	rc = derive_hash_subkey(key, domain, subkey, err);
	if (rc)
		return rc;
	crypto_generichash(out, CB_KEYED_HASH_BYTES, data, len, subkey,
			   sizeof(subkey));
	sodium_memzero(subkey, sizeof(subkey));
	return 0;
}

int cb_keyed_hash_key(const struct cb_key *key, const char *domain,
		      struct cb_key **out, struct cb_err *err)
{
	unsigned char subkey[crypto_generichash_KEYBYTES];
	int rc;

	*out = NULL;
	rc = derive_hash_subkey(key, domain, subkey, err);
	if (!rc)
		rc = cb_key_from_bytes(subkey, sizeof(subkey), out, err);
	sodium_memzero(subkey, sizeof(subkey));
	return rc;
}

int cb_keyed_hash_with(const struct cb_key *subkey, const void *data,
		       size_t len, unsigned char out[CB_KEYED_HASH_BYTES],
		       struct cb_err *err)
{
	int rc = check_key(subkey, CB_KEYED_HASH_KEY_BYTES, "keyed hash", err);

	if (rc)
		return rc;
	crypto_generichash(out, CB_KEYED_HASH_BYTES, data, len, subkey->bytes,
			   CB_KEYED_HASH_KEY_BYTES);
	return 0;
}

/* ---- Ed25519 ----------------------------------------------------------- */

int cb_sign_keypair_new(struct cb_sign_keypair *kp, struct cb_err *err)
{
	int rc;

	memset(kp, 0, sizeof(*kp));
	rc = cb_key_new(CB_SIGN_SECRET_BYTES, &kp->sk, err);
	if (rc)
		return rc;
	crypto_sign_keypair(kp->pk, kp->sk->bytes);
	cb_key_readonly(kp->sk);
	return 0;
}

int cb_sign_keypair_from_secret(const unsigned char *secret, size_t len,
				struct cb_sign_keypair *kp, struct cb_err *err)
{
	unsigned char pk[CB_SIGN_PUBLIC_BYTES];
	struct cb_key *check;
	int rc, same;

	memset(kp, 0, sizeof(*kp));
	if (len != CB_SIGN_SECRET_BYTES)
		return cb_err_set(err, CB_EINVAL,
				  "Ed25519 secret key is %zu bytes, expected "
				  "%u",
				  len, CB_SIGN_SECRET_BYTES);
	/*
	 * libsodium's secret key is seed || public key; recompute both from
	 * the seed so a corrupted key is refused here, not found out when
	 * the server rejects every signature.
	 */
	rc = cb_key_new(CB_SIGN_SECRET_BYTES, &check, err);
	if (rc)
		return rc;
	crypto_sign_seed_keypair(pk, check->bytes, secret);
	same = sodium_memcmp(check->bytes, secret, len) == 0;
	cb_key_free(check);
	if (!same)
		return cb_err_set(err, CB_EINVAL,
				  "Ed25519 secret key is inconsistent with "
				  "its public half");
	rc = cb_key_from_bytes(secret, len, &kp->sk, err);
	if (rc)
		return rc;
	memcpy(kp->pk, pk, sizeof(pk));
	return 0;
}

void cb_sign_keypair_release(struct cb_sign_keypair *kp)
{
	if (!kp)
		return;
	cb_key_free(kp->sk);
	memset(kp, 0, sizeof(*kp));
}

int cb_sign(const struct cb_key *sk, const void *msg, size_t len,
	    unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err)
{
	int rc = check_key(sk, CB_SIGN_SECRET_BYTES, "sign", err);

	if (rc)
		return rc;
	crypto_sign_detached(sig, NULL, msg, len, sk->bytes);
	return 0;
}

int cb_verify(const unsigned char pk[CB_SIGN_PUBLIC_BYTES], const void *msg,
	      size_t len, const unsigned char sig[CB_SIGNATURE_BYTES],
	      struct cb_err *err)
{
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return cb_err_set(err, CB_EAUTH, "signature does not verify");
	return 0;
}

/* ---- Ed25519ph over a stream ---------------------------------------------
 *
 * libsodium's multi-part signing (crypto_sign_init, _update,
 * _final_create, _final_verify): RFC 8032's Ed25519ph, the message hashed
 * once with SHA-512 and that hash signed. Nothing here does curve
 * arithmetic of its own.
 */

struct cb_sign_stream {
	crypto_sign_state st;
	unsigned char sk[CB_SIGN_SECRET_BYTES];
};

struct cb_verify_stream {
	crypto_sign_state st;
	unsigned char pk[CB_SIGN_PUBLIC_BYTES];
	unsigned char sig[CB_SIGNATURE_BYTES];
};

int cb_sign_stream_new(const struct cb_key *sk, struct cb_sign_stream **out,
		       struct cb_err *err)
{
	struct cb_sign_stream *s;
	int rc = check_key(sk, CB_SIGN_SECRET_BYTES, "sign", err);

	*out = NULL;
	if (rc)
		return rc;
	/* sodium_malloc: guarded pages, wiped by sodium_free. */
	s = sodium_malloc(sizeof(*s));
	if (!s)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	memcpy(s->sk, sk->bytes, sizeof(s->sk));
	crypto_sign_init(&s->st);
	*out = s;
	return 0;
}

void cb_sign_stream_update(struct cb_sign_stream *s, const void *p, size_t n)
{
	if (s && n)
		crypto_sign_update(&s->st, p, n);
}

int cb_sign_stream_final(struct cb_sign_stream *s,
			 unsigned char sig[CB_SIGNATURE_BYTES],
			 struct cb_err *err)
{
	if (!s)
		return cb_err_set(err, CB_EINVAL, "sign stream: none");
	if (crypto_sign_final_create(&s->st, sig, NULL, s->sk) != 0)
		return cb_err_set(err, CB_EINVAL, "sign stream: bad key");
	return 0;
}

void cb_sign_stream_free(struct cb_sign_stream *s)
{
	if (s)
		sodium_free(s);
}

int cb_verify_stream_new(const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
			 const unsigned char sig[CB_SIGNATURE_BYTES],
			 struct cb_verify_stream **out, struct cb_err *err)
{
	struct cb_verify_stream *v = malloc(sizeof(*v));

	*out = NULL;
	if (!v)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	memcpy(v->pk, pk, sizeof(v->pk));
	memcpy(v->sig, sig, sizeof(v->sig));
	crypto_sign_init(&v->st);
	*out = v;
	return 0;
}

void cb_verify_stream_update(struct cb_verify_stream *v, const void *p,
			     size_t n)
{
	if (v && n)
		crypto_sign_update(&v->st, p, n);
}

int cb_verify_stream_final(struct cb_verify_stream *v, struct cb_err *err)
{
	if (!v)
		return cb_err_set(err, CB_EINVAL, "verify stream: none");
	if (crypto_sign_final_verify(&v->st, v->sig, v->pk) != 0)
		return cb_err_set(err, CB_EAUTH, "signature does not verify");
	return 0;
}

void cb_verify_stream_free(struct cb_verify_stream *v)
{
	free(v);
}

int cb_sign_ph(const struct cb_key *sk, const void *msg, size_t len,
	       unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err)
{
	struct cb_sign_stream *s;
	int rc = cb_sign_stream_new(sk, &s, err);

	if (rc)
		return rc;
	cb_sign_stream_update(s, msg, len);
	rc = cb_sign_stream_final(s, sig, err);
	cb_sign_stream_free(s);
	return rc;
}

int cb_verify_ph(const unsigned char pk[CB_SIGN_PUBLIC_BYTES], const void *msg,
		 size_t len, const unsigned char sig[CB_SIGNATURE_BYTES],
		 struct cb_err *err)
{
	struct cb_verify_stream *v;
	int rc = cb_verify_stream_new(pk, sig, &v, err);

	if (rc)
		return rc;
	cb_verify_stream_update(v, msg, len);
	rc = cb_verify_stream_final(v, err);
	cb_verify_stream_free(v);
	return rc;
}

/* ---- Sealed boxes ------------------------------------------------------ */

int cb_box_keypair_new(struct cb_box_keypair *kp, struct cb_err *err)
{
	int rc;

	memset(kp, 0, sizeof(*kp));
	rc = cb_key_new(CB_BOX_SECRET_BYTES, &kp->sk, err);
	if (rc)
		return rc;
	crypto_box_keypair(kp->pk, kp->sk->bytes);
	cb_key_readonly(kp->sk);
	return 0;
}

int cb_box_keypair_from_secret(const unsigned char *secret, size_t len,
			       struct cb_box_keypair *kp, struct cb_err *err)
{
	int rc;

	memset(kp, 0, sizeof(*kp));
	if (len != CB_BOX_SECRET_BYTES)
		return cb_err_set(err, CB_EINVAL,
				  "X25519 secret key is %zu bytes, expected %u",
				  len, CB_BOX_SECRET_BYTES);
	rc = cb_key_from_bytes(secret, len, &kp->sk, err);
	if (rc)
		return rc;
	crypto_scalarmult_base(kp->pk, kp->sk->bytes);
	return 0;
}

void cb_box_keypair_release(struct cb_box_keypair *kp)
{
	if (!kp)
		return;
	cb_key_free(kp->sk);
	memset(kp, 0, sizeof(*kp));
}

int cb_seal_to(const unsigned char pk[CB_BOX_PUBLIC_BYTES], const void *msg,
	       size_t len, unsigned char **out, size_t *out_len,
	       struct cb_err *err)
{
	unsigned char *sealed;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len > CB_VALUE_MAX)
		return cb_err_set(
		    err, CB_ETOOBIG,
		    "message of %zu bytes is over the %u byte cap", len,
		    CB_VALUE_MAX);
	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	sealed = malloc(len + CB_BOX_SEAL_OVERHEAD);
	if (!sealed)
		return cb_err_set(err, CB_ENOMEM, "out of memory sealing");
	if (crypto_box_seal(sealed, msg, len, pk) != 0) {
		free(sealed);
		return cb_err_set(err, CB_EINVAL,
				  "cannot seal to this public key (invalid "
				  "X25519 key)");
	}
	*out = sealed;
	*out_len = len + CB_BOX_SEAL_OVERHEAD;
	return 0;
}

int cb_seal_open(const struct cb_box_keypair *kp, const unsigned char *sealed,
		 size_t sealed_len, unsigned char **out, size_t *out_len,
		 struct cb_err *err)
{
	unsigned char *plain;
	size_t len;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!kp)
		return cb_err_set(err, CB_EINVAL, "open sealed box: no key");
	rc = check_key(kp->sk, CB_BOX_SECRET_BYTES, "open sealed box", err);
	if (rc)
		return rc;
	if (sealed_len < CB_BOX_SEAL_OVERHEAD)
		return cb_err_set(err, CB_EAUTH,
				  "sealed box is truncated (%zu bytes)",
				  sealed_len);
	len = sealed_len - CB_BOX_SEAL_OVERHEAD;
	if (len > CB_VALUE_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "sealed box of %zu bytes is over the cap",
				  sealed_len);
	plain = malloc(len + 1);
	if (!plain)
		return cb_err_set(err, CB_ENOMEM, "out of memory opening");
	if (crypto_box_seal_open(plain, sealed, sealed_len, kp->pk,
				 kp->sk->bytes) != 0) {
		cb_wipe_free(plain, len + 1);
		return cb_err_set(err, CB_EAUTH,
				  "sealed box does not open with this key "
				  "(sealed to another key, or altered)");
	}
	plain[len] = '\0';
	*out = plain;
	*out_len = len;
	return 0;
}

/* ---- Hashes ------------------------------------------------------------ */

void cb_hash(const void *data, size_t len, unsigned char out[CB_HASH_BYTES])
{
	crypto_generichash(out, CB_HASH_BYTES, data, len, NULL, 0);
}

void cb_hash_hex(const void *data, size_t len, char out[CB_HASH_HEX_SIZE])
{
	unsigned char h[CB_HASH_BYTES];

	cb_hash(data, len, h);
	sodium_bin2hex(out, CB_HASH_HEX_SIZE, h, sizeof(h));
}

void cb_sha256(const void *data, size_t len, unsigned char out[CB_HASH_BYTES])
{
	crypto_hash_sha256(out, data, len);
}

void cb_sha256_hex(const void *data, size_t len, char out[CB_HASH_HEX_SIZE])
{
	unsigned char h[CB_HASH_BYTES];

	cb_sha256(data, len, h);
	sodium_bin2hex(out, CB_HASH_HEX_SIZE, h, sizeof(h));
}

struct cb_sha256_stream {
	crypto_hash_sha256_state st;
};

int cb_sha256_stream_new(struct cb_sha256_stream **out, struct cb_err *err)
{
	*out = malloc(sizeof(**out));
	if (!*out)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	crypto_hash_sha256_init(&(*out)->st);
	return 0;
}

void cb_sha256_stream_update(struct cb_sha256_stream *s, const void *p,
			     size_t n)
{
	if (s && n)
		crypto_hash_sha256_update(&s->st, p, n);
}

void cb_sha256_stream_final_hex(struct cb_sha256_stream *s,
				char out[CB_HASH_HEX_SIZE])
{
	unsigned char h[CB_HASH_BYTES];

	crypto_hash_sha256_final(&s->st, h);
	sodium_bin2hex(out, CB_HASH_HEX_SIZE, h, sizeof(h));
}

void cb_sha256_stream_free(struct cb_sha256_stream *s)
{
	free(s);
}

/* ---- Text encodings ---------------------------------------------------- */

int cb_hex_encode(const void *bin, size_t len, char *out, size_t out_cap,
		  struct cb_err *err)
{
	/* sodium_bin2hex aborts the process when the buffer is too small. */
	if (len >= SIZE_MAX / 2 || out_cap < CB_HEX_SIZE(len))
		return cb_err_set(
		    err, CB_EINVAL,
		    "hex: %zu bytes need %zu characters, have %zu", len,
		    len * 2 + 1, out_cap);
	sodium_bin2hex(out, out_cap, bin, len);
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cb_hex_lower_prefix(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int cb_hex_lower(const char *s, size_t n)
{
	return s && cb_hex_lower_prefix(s, n) && s[n] == '\0';
}

int cb_hex_decode(const char *hex, size_t hex_len, unsigned char *out,
		  size_t out_cap, size_t *out_len, struct cb_err *err)
{
	size_t n = hex_len / 2, i;

	if (hex_len % 2 != 0)
		return cb_err_set(err, CB_EINVAL,
				  "hex: odd number of digits (%zu)", hex_len);
	if (!out_len && n != out_cap)
		return cb_err_set(err, CB_EINVAL,
				  "hex: %zu digits, expected %zu", hex_len,
				  out_cap * 2);
	if (n > out_cap)
		return cb_err_set(err, CB_ETOOBIG,
				  "hex: decodes to %zu bytes, more than %zu", n,
				  out_cap);
	for (i = 0; i < hex_len; i += 2) {
		int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return cb_err_set(err, CB_EINVAL,
					  "hex: not a lowercase hex digit at "
					  "offset %zu",
					  hi < 0 ? i : i + 1);
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	if (out_len)
		*out_len = n;
	return 0;
}

size_t cb_b64_size(size_t len, enum cb_b64_variant variant)
{
	return sodium_base64_ENCODED_LEN(len, sodium_b64_variant(variant));
}

int cb_b64_encode(const void *bin, size_t len, enum cb_b64_variant variant,
		  char *out, size_t out_cap, struct cb_err *err)
{
	size_t need;

	/* Both sodium_bin2base64 and its size macro misbehave near SIZE_MAX. */
	if (len > SIZE_MAX / 2)
		return cb_err_set(err, CB_ETOOBIG, "base64: input too large");
	need = cb_b64_size(len, variant);
	if (out_cap < need)
		return cb_err_set(err, CB_EINVAL,
				  "base64: %zu bytes need %zu characters, have "
				  "%zu",
				  len, need, out_cap);
	sodium_bin2base64(out, out_cap, bin, len, sodium_b64_variant(variant));
	return 0;
}

int cb_b64_encode_alloc(const void *bin, size_t len,
			enum cb_b64_variant variant, char **out,
			struct cb_err *err)
{
	char *text;
	size_t need;
	int rc;

	*out = NULL;
	if (len > SIZE_MAX / 2)
		return cb_err_set(err, CB_ETOOBIG, "base64: input too large");
	need = cb_b64_size(len, variant);
	text = malloc(need);
	if (!text)
		return cb_err_set(err, CB_ENOMEM,
				  "base64: out of memory for %zu characters",
				  need);
	rc = cb_b64_encode(bin, len, variant, text, need, err);
	if (rc) {
		free(text);
		return rc;
	}
	*out = text;
	return 0;
}

int cb_b64_decode(const char *b64, size_t b64_len, enum cb_b64_variant variant,
		  unsigned char *out, size_t out_cap, size_t *out_len,
		  struct cb_err *err)
{
	return b64_decode(b64, b64_len, sodium_b64_variant(variant), out,
			  out_cap, out_len, err);
}

/* ---- Randomness and comparison ----------------------------------------- */

void cb_random_bytes(void *buf, size_t len)
{
	/* randombytes initialises itself and aborts rather than fail. */
	randombytes_buf(buf, len);
}

int cb_ct_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

void cb_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

void cb_random_deterministic(void *buf, size_t len,
			     const unsigned char seed[CB_RANDOM_SEED_BYTES])
{
	randombytes_buf_deterministic(buf, len, seed);
}
