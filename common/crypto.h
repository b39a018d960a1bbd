/*
 * crypto.h - every cryptographic operation Casebook performs, on libsodium.
 *
 * The site laptop's store encrypts each clinical value under one random
 * 256-bit data key (XChaCha20-Poly1305, with associated data binding the
 * ciphertext to its table and row); that key is wrapped once per user under
 * an Argon2id key derived from the user's passphrase (DESIGN.md section 6).
 * Devices sign events and requests with Ed25519 (sections 3 and 4), and
 * randomization arms are sealed boxes to X25519 public keys (section 5).
 * Nothing else in Casebook calls libsodium directly, so the choice of
 * primitives, their parameters and their text encodings live here.
 *
 * Secrets are held in struct cb_key, whose bytes live in sodium_malloc
 * memory (guard pages, locked against swapping, wiped when freed).
 * Public keys, signatures, hashes and ciphertexts are ordinary bytes.
 *
 * Failures follow err.h: 0 or a negative CB_E* code plus a message. The
 * distinctions callers rely on are:
 *   CB_EAUTH       wrong passphrase, wrong key, or a bad signature;
 *   CB_EINTEGRITY  stored ciphertext that fails authentication (altered,
 *                  truncated, or moved to another row or table);
 *   CB_EINVAL      malformed input (bad hex, bad parameter string, wrong
 *                  key length);
 *   CB_ETOOBIG     input over a documented cap.
 * No function ever returns unauthenticated plaintext.
 */
#ifndef CB_CRYPTO_H
#define CB_CRYPTO_H

#include <stddef.h>

#include "err.h"

/*
 * Initialise libsodium. Safe to call any number of times and from several
 * threads. Every function below that needs libsodium initialised (key
 * allocation, randomness) calls it itself, so calling it first is only a
 * way to report a broken libsodium early. Fails with CB_EIO.
 */
int cb_crypto_init(struct cb_err *err);

/* ---- Secret key buffers ------------------------------------------------ */

/* Length of the store's data key and of every symmetric key here. */
#define CB_KEY_BYTES 32u
/* Longest secret a struct cb_key holds (an Ed25519 secret key is 64). */
#define CB_KEY_MAX 64u

struct cb_key {
	unsigned char *bytes; /* sodium_malloc memory, `len` bytes */
	size_t len;
};

/*
 * Allocate a zero-filled, writable key of `len` bytes (1..CB_KEY_MAX) into
 * *out. The caller fills it and should then call cb_key_readonly, and
 * frees it with cb_key_free. CB_EINVAL for a bad length, CB_ENOMEM.
 */
int cb_key_new(size_t len, struct cb_key **out, struct cb_err *err);

/* A new read-only key of `len` random bytes (cb_key_new's rules). */
int cb_key_random(size_t len, struct cb_key **out, struct cb_err *err);

/*
 * A new read-only key holding a copy of `len` bytes at `bytes` (for a
 * secret just decrypted from the store). The caller still wipes its own
 * copy.
 */
int cb_key_from_bytes(const void *bytes, size_t len, struct cb_key **out,
		      struct cb_err *err);

/*
 * Make the key's memory read-only, so a stray write crashes at once instead
 * of silently changing a key. Reading it (every function here) still works;
 * cb_key_free still frees it.
 */
void cb_key_readonly(struct cb_key *key);

/* Wipe and free the key. NULL is allowed. */
void cb_key_free(struct cb_key *key);

/* ---- Passphrase key derivation (Argon2id) ------------------------------ */

#define CB_KDF_SALT_BYTES 16u

/*
 * Default Argon2id cost: 3 passes over 128 MiB, one lane (libsodium's
 * Argon2id uses one thread, so extra cores do not shorten it). Measured on
 * a 2-core AMD EPYC server: a median of 0.15 s per derive, up to about
 * 0.35 s for the first derive of a process (the one a CLI unlock pays,
 * while the 128 MiB is first touched). That leaves room under the
 * half-second unlock target for a laptop twice as slow. tests/bench/
 * bench_kdf reports the time where it runs; unit tests never time it.
 */
#define CB_KDF_OPSLIMIT 3ull
#define CB_KDF_MEMLIMIT (128u * 1024u * 1024u)

/*
 * What cb_kdf_params_decode accepts: libsodium's minimum up to these caps,
 * so a hostile parameter string cannot make an unlock take minutes or
 * gigabytes.
 */
#define CB_KDF_OPSLIMIT_CAP 32ull
#define CB_KDF_MEMLIMIT_CAP (1024u * 1024u * 1024u)

/* Longest encoded parameter string, including the NUL. */
#define CB_KDF_STR_MAX 96u

struct cb_kdf_params {
	unsigned long long opslimit; /* Argon2id passes (t) */
	size_t memlimit;	     /* bytes, a multiple of 1024 (m in KiB) */
	unsigned char salt[CB_KDF_SALT_BYTES];
};

/*
 * Fill *params with the default cost and a fresh random salt.
 *
 * TEST ONLY: when the environment variable CASEBOOK_KDF_FAST is exactly
 * "1", the cost is libsodium's minimum (1 pass, 8 KiB), which makes
 * passphrase operations instant and worthless against guessing. Test
 * scripts set it so hundreds of unlocks stay fast; nothing real ever
 * should. The cost is recorded in the encoded string, so a key wrapped
 * this way stays cheap to attack after the variable is unset.
 */
int cb_kdf_params_init(struct cb_kdf_params *params, struct cb_err *err);

/*
 * Encode as "argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>", the salt in
 * standard base64 without padding (the PHC string format), into `out` of
 * `out_cap` bytes (CB_KDF_STR_MAX is always enough). CB_EINVAL when the
 * parameters are outside what decode accepts or `out` is too small.
 */
int cb_kdf_params_encode(const struct cb_kdf_params *params, char *out,
			 size_t out_cap, struct cb_err *err);

/*
 * Parse exactly what cb_kdf_params_encode writes, from `len` bytes of
 * `text`: decimal numbers without signs or leading zeros, v=19, p=1, costs
 * within [libsodium minimum, CB_KDF_*_CAP], a 16-byte salt in canonical
 * base64, nothing after it. Anything else is CB_EINVAL naming the part.
 */
int cb_kdf_params_decode(const char *text, size_t len,
			 struct cb_kdf_params *params, struct cb_err *err);

/*
 * Derive a CB_KEY_BYTES key from a passphrase into *out (read-only, freed
 * with cb_key_free). This is the slow step. CB_EINVAL for parameters
 * outside the accepted range, CB_ENOMEM when Argon2id cannot get its
 * memory.
 */
int cb_kdf_derive(const char *pass, size_t pass_len,
		  const struct cb_kdf_params *params, struct cb_key **out,
		  struct cb_err *err);

/* ---- Key wrapping ------------------------------------------------------ */

/* Longest slot name bound into a wrapped key. */
#define CB_WRAP_SLOT_MAX 256u

/*
 * Wrap `key` (1..CB_KEY_MAX bytes: the data key, or a secret key of the
 * unblinding or code-break pair) under `pass`, for the slot `slot` (the
 * user name, or another label saying whose copy this is). `params` gives
 * the Argon2id cost and salt; NULL means cb_kdf_params_init's. The result
 * is one line of text
 *
 *   argon2id$v=19$m=131072,t=3,p=1$<salt>$<nonce || ciphertext || tag>
 *
 * (the last part standard base64 without padding), in *out, which the
 * caller frees with free(). The associated data binds the slot and the
 * parameter string, so a wrapped key copied to another user's slot or
 * edited to cheaper parameters does not unwrap. An empty passphrase is
 * refused (CB_EINVAL).
 */
int cb_key_wrap(const struct cb_key *key, const char *pass, size_t pass_len,
		const char *slot, const struct cb_kdf_params *params,
		char **out, struct cb_err *err);

/*
 * Unwrap what cb_key_wrap wrote, from the NUL-terminated `wrapped`, into a
 * new read-only key in *out. CB_EAUTH when the passphrase is wrong or the
 * wrapped text or slot was altered (the two cannot be told apart);
 * CB_EINVAL when the text is not a wrapped key at all. Never yields a
 * wrong key.
 */
int cb_key_unwrap(const char *wrapped, const char *pass, size_t pass_len,
		  const char *slot, struct cb_key **out, struct cb_err *err);

/*
 * 1 when `wrapped` (cb_key_wrap's text) was made at less than the default
 * Argon2id cost, as CASEBOOK_KDF_FAST=1 does for tests, and that switch is
 * not set now: a passphrase guarded that cheaply is quick to guess, so a
 * program warns and points to re-wrapping. 0 otherwise, also for text
 * that does not parse (cb_key_unwrap reports that).
 */
int cb_key_wrap_below_default(const char *wrapped);

/* 1 while CASEBOOK_KDF_FAST=1 makes new wraps use the test-only cost. */
int cb_kdf_test_cost(void);

/* ---- Value encryption (XChaCha20-Poly1305) ----------------------------- */

/* Largest plaintext value, and largest associated data. */
#define CB_VALUE_MAX (16u * 1024u * 1024u)
#define CB_AD_MAX (64u * 1024u)
#define CB_SEAL_NONCE_BYTES 24u
/* Bytes a sealed value adds to its plaintext: nonce and tag. */
#define CB_SEAL_OVERHEAD (CB_SEAL_NONCE_BYTES + 16u)

/*
 * Encrypt `len` bytes (at most CB_VALUE_MAX, zero allowed) under the
 * CB_KEY_BYTES `key` with a fresh random nonce, authenticating `ad` (at
 * most CB_AD_MAX bytes; the store passes table and row). *out gets
 * nonce || ciphertext || tag, malloc'd, *out_len = len + CB_SEAL_OVERHEAD.
 * The caller frees it with free(). CB_ETOOBIG, CB_EINVAL, CB_ENOMEM.
 */
int cb_seal_value(const struct cb_key *key, const void *ad, size_t ad_len,
		  const void *plain, size_t len, unsigned char **out,
		  size_t *out_len, struct cb_err *err);

/*
 * Decrypt what cb_seal_value wrote. The same `ad` must be given. *out gets
 * the plaintext, malloc'd with a NUL after the last byte (so text values
 * read as C strings), *out_len its length; the caller frees it with free()
 * (cb_wipe_free for sensitive values). CB_EINTEGRITY when anything was
 * altered, truncated, or the ad differs; then *out is NULL.
 */
int cb_open_value(const struct cb_key *key, const void *ad, size_t ad_len,
		  const unsigned char *sealed, size_t sealed_len,
		  unsigned char **out, size_t *out_len, struct cb_err *err);

/* Wipe `len` bytes at `p`, then free(p). NULL is allowed. */
void cb_wipe_free(void *p, size_t len);

/* Overwrite `len` bytes at `p` with zeros in a way the compiler keeps. */
void cb_wipe(void *p, size_t len);

/* ---- Keyed hash for lookup indexes ------------------------------------- */

#define CB_KEYED_HASH_BYTES 32u
/* Longest domain name. */
#define CB_HASH_DOMAIN_MAX 64u

/*
 * A 32-byte BLAKE2b hash of `data` keyed by a subkey of the CB_KEY_BYTES
 * data key derived for `domain` (1..CB_HASH_DOMAIN_MAX printable ASCII
 * characters, e.g. "subject.screening_no"). The same key, domain and data
 * always give the same hash, so a plaintext column can index encrypted
 * values; without the key the hash reveals nothing, and equal values in
 * different domains hash differently. CB_EINVAL for a bad key or domain.
 */
int cb_keyed_hash(const struct cb_key *key, const char *domain,
		  const void *data, size_t len,
		  unsigned char out[CB_KEYED_HASH_BYTES], struct cb_err *err);

/*
 * The same keyed hash in two steps, for callers that hash many values in
 * one domain: cb_keyed_hash_key derives the domain's subkey once (a
 * CB_KEYED_HASH_KEY_BYTES key in *out, freed with cb_key_free), and
 * cb_keyed_hash_with hashes with it. cb_keyed_hash_with(subkey, ...)
 * gives exactly cb_keyed_hash(key, domain, ...).
 */
#define CB_KEYED_HASH_KEY_BYTES 32u
int cb_keyed_hash_key(const struct cb_key *key, const char *domain,
		      struct cb_key **out, struct cb_err *err);
int cb_keyed_hash_with(const struct cb_key *subkey, const void *data,
		       size_t len, unsigned char out[CB_KEYED_HASH_BYTES],
		       struct cb_err *err);

/* ---- Ed25519 signatures ------------------------------------------------ */

#define CB_SIGN_PUBLIC_BYTES 32u
#define CB_SIGN_SECRET_BYTES 64u
#define CB_SIGNATURE_BYTES 64u

struct cb_sign_keypair {
	unsigned char pk[CB_SIGN_PUBLIC_BYTES];
	struct cb_key *sk; /* CB_SIGN_SECRET_BYTES, read-only */
};

/*
 * Generate a device key pair into *kp; free the secret with
 * cb_sign_keypair_release. CB_ENOMEM.
 */
int cb_sign_keypair_new(struct cb_sign_keypair *kp, struct cb_err *err);

/*
 * Rebuild a key pair from a stored CB_SIGN_SECRET_BYTES secret, which is
 * copied into secure memory. CB_EINVAL when `secret` is not a consistent
 * Ed25519 secret key.
 */
int cb_sign_keypair_from_secret(const unsigned char *secret, size_t len,
				struct cb_sign_keypair *kp, struct cb_err *err);

/* Free and wipe the secret of *kp and clear it. NULL is allowed. */
void cb_sign_keypair_release(struct cb_sign_keypair *kp);

/*
 * Sign `len` bytes of `msg` with the CB_SIGN_SECRET_BYTES `sk`, writing a
 * detached signature to `sig`. CB_EINVAL for a key of the wrong length.
 */
int cb_sign(const struct cb_key *sk, const void *msg, size_t len,
	    unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err);

/*
 * 0 when `sig` is a valid signature of `msg` by `pk`; CB_EAUTH otherwise
 * (bad signature, altered message, or an invalid public key).
 */
int cb_verify(const unsigned char pk[CB_SIGN_PUBLIC_BYTES], const void *msg,
	      size_t len, const unsigned char sig[CB_SIGNATURE_BYTES],
	      struct cb_err *err);

/*
 * Ed25519ph (RFC 8032's prehashed Ed25519, libsodium's multi-part
 * crypto_sign_init/update/final) over a message read in pieces, for files
 * too large to hold (bundles and replies, docs/bundles.md). It is not
 * cb_sign's pure Ed25519: a signature of one verifies only with the other
 * of the same kind. The pieces may be cut anywhere; the signature is the
 * same.
 *
 * Signing: cb_sign_stream_new, cb_sign_stream_update for every piece,
 * cb_sign_stream_final. Verifying: cb_verify_stream_new with the public
 * key and the signature, cb_verify_stream_update, cb_verify_stream_final
 * (0, or CB_EAUTH). The signing state holds a copy of the secret key in
 * sodium_malloc memory; _free wipes and frees either (NULL is ok).
 * CB_EINVAL for a bad key, CB_ENOMEM.
 */
struct cb_sign_stream;
int cb_sign_stream_new(const struct cb_key *sk, struct cb_sign_stream **out,
		       struct cb_err *err);
void cb_sign_stream_update(struct cb_sign_stream *s, const void *p, size_t n);
int cb_sign_stream_final(struct cb_sign_stream *s,
			 unsigned char sig[CB_SIGNATURE_BYTES],
			 struct cb_err *err);
void cb_sign_stream_free(struct cb_sign_stream *s);

struct cb_verify_stream;
int cb_verify_stream_new(const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
			 const unsigned char sig[CB_SIGNATURE_BYTES],
			 struct cb_verify_stream **out, struct cb_err *err);
void cb_verify_stream_update(struct cb_verify_stream *v, const void *p,
			     size_t n);
int cb_verify_stream_final(struct cb_verify_stream *v, struct cb_err *err);
void cb_verify_stream_free(struct cb_verify_stream *v);

/* The same Ed25519ph over a message held whole (the server's side of a
 * bundle). */
int cb_sign_ph(const struct cb_key *sk, const void *msg, size_t len,
	       unsigned char sig[CB_SIGNATURE_BYTES], struct cb_err *err);
int cb_verify_ph(const unsigned char pk[CB_SIGN_PUBLIC_BYTES], const void *msg,
		 size_t len, const unsigned char sig[CB_SIGNATURE_BYTES],
		 struct cb_err *err);

/* ---- Sealed boxes (X25519) for randomization arms ---------------------- */

#define CB_BOX_PUBLIC_BYTES 32u
#define CB_BOX_SECRET_BYTES 32u
/* Bytes crypto_box_seal adds: ephemeral public key and tag. */
#define CB_BOX_SEAL_OVERHEAD (32u + 16u)

struct cb_box_keypair {
	unsigned char pk[CB_BOX_PUBLIC_BYTES];
	struct cb_key *sk; /* CB_BOX_SECRET_BYTES, read-only */
};

/* Generate an X25519 key pair; free with cb_box_keypair_release. */
int cb_box_keypair_new(struct cb_box_keypair *kp, struct cb_err *err);

/*
 * Rebuild a key pair from a stored CB_BOX_SECRET_BYTES secret (the public
 * key is recomputed from it). CB_EINVAL for a wrong length.
 */
int cb_box_keypair_from_secret(const unsigned char *secret, size_t len,
			       struct cb_box_keypair *kp, struct cb_err *err);

/* Free and wipe the secret of *kp and clear it. NULL is allowed. */
void cb_box_keypair_release(struct cb_box_keypair *kp);

/*
 * Seal `len` bytes (at most CB_VALUE_MAX) to the public key `pk`
 * (crypto_box_seal): anyone can seal, only the holder of the secret key
 * can open, and the sealer stays anonymous. *out is malloc'd,
 * len + CB_BOX_SEAL_OVERHEAD bytes, freed by the caller with free().
 */
int cb_seal_to(const unsigned char pk[CB_BOX_PUBLIC_BYTES], const void *msg,
	       size_t len, unsigned char **out, size_t *out_len,
	       struct cb_err *err);

/*
 * Open a sealed box with the key pair it was sealed to. *out gets the
 * message, malloc'd with a trailing NUL, freed by the caller. CB_EAUTH when
 * it was sealed to another key or altered (the two cannot be told apart).
 */
int cb_seal_open(const struct cb_box_keypair *kp, const unsigned char *sealed,
		 size_t sealed_len, unsigned char **out, size_t *out_len,
		 struct cb_err *err);

/* ---- Hashes ------------------------------------------------------------ */

#define CB_HASH_BYTES 32u
/* Hex of a 32-byte hash, with its NUL. */
#define CB_HASH_HEX_SIZE 65u

/* BLAKE2b-256 of `len` bytes: protocol version ids, token hashes. */
void cb_hash(const void *data, size_t len, unsigned char out[CB_HASH_BYTES]);

/* cb_hash as 64 lowercase hex digits and a NUL. */
void cb_hash_hex(const void *data, size_t len, char out[CB_HASH_HEX_SIZE]);

/* SHA-256 of `len` bytes: request body hashes. */
void cb_sha256(const void *data, size_t len, unsigned char out[CB_HASH_BYTES]);

/* cb_sha256 as 64 lowercase hex digits and a NUL. */
void cb_sha256_hex(const void *data, size_t len, char out[CB_HASH_HEX_SIZE]);

/*
 * SHA-256 over bytes given in pieces (a bundle's hash, read as a
 * stream): _new (CB_ENOMEM), _update for each piece, _final_hex (the
 * same digits cb_sha256_hex gives for the whole), _free (NULL is ok).
 */
struct cb_sha256_stream;
int cb_sha256_stream_new(struct cb_sha256_stream **out, struct cb_err *err);
void cb_sha256_stream_update(struct cb_sha256_stream *s, const void *p,
			     size_t n);
void cb_sha256_stream_final_hex(struct cb_sha256_stream *s,
				char out[CB_HASH_HEX_SIZE]);
void cb_sha256_stream_free(struct cb_sha256_stream *s);

/* ---- Text encodings ---------------------------------------------------- */

/*
 * Both encoders and decoders here are strict so that one byte string has
 * exactly one text form: signed and hashed text never has two spellings
 * of the same id or key.
 */

/* Bytes cb_hex_encode needs for `len` bytes, with the NUL. */
#define CB_HEX_SIZE(len) ((len)*2u + 1u)

/*
 * Write `len` bytes as lowercase hex and a NUL into `out` of `out_cap`
 * bytes (at least CB_HEX_SIZE(len), else CB_EINVAL).
 */
int cb_hex_encode(const void *bin, size_t len, char *out, size_t out_cap,
		  struct cb_err *err);

/*
 * 1 when the first `n` characters of `s` are lowercase hex digits
 * (cb_hex_lower_prefix), or when `s` is exactly `n` of them and nothing
 * more (cb_hex_lower; NULL gives 0): the syntax of ids, keys, nonces and
 * signatures as Casebook writes them.
 */
int cb_hex_lower_prefix(const char *s, size_t n);
int cb_hex_lower(const char *s, size_t n);

/*
 * Decode `hex_len` characters of lowercase hex into `out` (`out_cap`
 * bytes). Uppercase, odd length, or any other character is CB_EINVAL with
 * its offset. With `out_len` non-NULL, up to out_cap bytes are decoded and
 * the count stored (CB_ETOOBIG if more); with `out_len` NULL the input must
 * be exactly out_cap bytes, as for a fixed-size key or signature.
 */
int cb_hex_decode(const char *hex, size_t hex_len, unsigned char *out,
		  size_t out_cap, size_t *out_len, struct cb_err *err);

enum cb_b64_variant {
	/* RFC 4648 alphabet with '=' padding: blobs in files, JSON, SQL. */
	CB_B64_STD,
	/* URL-safe alphabet ('-', '_'), no padding: in URLs and headers. */
	CB_B64_URL,
};

/* Bytes cb_b64_encode needs for `len` bytes in `variant`, with the NUL. */
size_t cb_b64_size(size_t len, enum cb_b64_variant variant);

/*
 * Write `len` bytes in base64 and a NUL into `out` of `out_cap` bytes (at
 * least cb_b64_size, else CB_EINVAL).
 */
int cb_b64_encode(const void *bin, size_t len, enum cb_b64_variant variant,
		  char *out, size_t out_cap, struct cb_err *err);

/* As cb_b64_encode into a malloc'd string the caller frees with free(). */
int cb_b64_encode_alloc(const void *bin, size_t len,
			enum cb_b64_variant variant, char **out,
			struct cb_err *err);

/*
 * Decode `b64_len` characters of base64 in `variant`: no whitespace, the
 * variant's padding exactly, no stray bits in the last character, else
 * CB_EINVAL. `out`, `out_cap` and `out_len` as for cb_hex_decode.
 */
int cb_b64_decode(const char *b64, size_t b64_len, enum cb_b64_variant variant,
		  unsigned char *out, size_t out_cap, size_t *out_len,
		  struct cb_err *err);

/* ---- Randomness and comparison ----------------------------------------- */

/* Fill `len` bytes with cryptographically secure random bytes. */
void cb_random_bytes(void *buf, size_t len);

/*
 * Fill `buf` with `len` bytes determined by the 32-byte `seed` alone
 * (ChaCha20): the same seed always gives the same bytes. For reproducible
 * draws (randomization lists), never for keys or nonces.
 */
#define CB_RANDOM_SEED_BYTES 32u
void cb_random_deterministic(void *buf, size_t len,
			     const unsigned char seed[CB_RANDOM_SEED_BYTES]);

/*
 * 1 when the `len` bytes at a and b are equal, else 0, in time that does
 * not depend on where they differ (for tokens, MACs, hashes).
 */
int cb_ct_equal(const void *a, const void *b, size_t len);

#endif
