/*
 * test_crypto.c - crypto.h: key buffers, Argon2id parameters and their
 * text form, key wrapping, value sealing with associated data, keyed
 * lookup hashes, Ed25519, sealed boxes, hashes against published vectors,
 * and the strict hex and base64 codecs.
 *
 * Passphrase cases use libsodium's minimum Argon2id cost through explicit
 * parameters so the suite stays fast; one case wraps at the default cost
 * to cover that path. Nothing here asserts a time (tests/bench/bench_kdf
 * reports the unlock time).
 */
#include "crypto.h"
#include "t.h"

#include <sodium.h>

/* splitmix64: a small reproducible generator seeded from t_seed(). */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_fill(unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)rng_next();
}

/* The cheapest parameters decode accepts, with a fixed salt. */
static void fast_params(struct cb_kdf_params *p, unsigned char salt_byte)
{
	p->opslimit = crypto_pwhash_argon2id_OPSLIMIT_MIN;
	p->memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;
	memset(p->salt, salt_byte, sizeof(p->salt));
}

static int key_eq(const struct cb_key *a, const struct cb_key *b)
{
	return a && b && a->len == b->len &&
	       memcmp(a->bytes, b->bytes, a->len) == 0;
}

static int has_bytes(const unsigned char *hay, size_t n, const char *needle,
		     size_t k)
{
	size_t i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return 1;
	return 0;
}

/* ---- key buffers ------------------------------------------------------- */

static void test_key_lengths(void)
{
	struct cb_err err;
	struct cb_key *k = NULL;

	cb_err_clear(&err);
	T_EQ_INT(cb_key_new(0, &k, &err), CB_EINVAL);
	T_ASSERT(k == NULL);
	T_EQ_INT(cb_key_new(CB_KEY_MAX + 1, &k, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "key length");
	T_EQ_INT(cb_key_new(CB_KEY_MAX, &k, &err), 0);
	T_EQ_INT(k->len, CB_KEY_MAX);
	for (size_t i = 0; i < k->len; i++)
		T_EQ_INT(k->bytes[i], 0);
	cb_key_free(k);
	cb_key_free(NULL);
}

static void test_key_random_and_copy(void)
{
	struct cb_err err;
	struct cb_key *a, *b, *c;

	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &a, &err), 0);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &b, &err), 0);
	T_ASSERT(!key_eq(a, b));
	T_EQ_INT(cb_key_from_bytes(a->bytes, a->len, &c, &err), 0);
	T_ASSERT(key_eq(a, c));
	T_ASSERT(c->bytes != a->bytes);
	cb_key_free(a);
	cb_key_free(b);
	cb_key_free(c);
}

/* ---- KDF parameters ---------------------------------------------------- */

static void test_kdf_defaults_strong(void)
{
	struct cb_kdf_params p, q;
	struct cb_err err;

	unsetenv("CASEBOOK_KDF_FAST");
	T_EQ_INT(cb_kdf_params_init(&p, &err), 0);
	T_EQ_INT(p.opslimit, CB_KDF_OPSLIMIT);
	T_EQ_INT(p.memlimit, CB_KDF_MEMLIMIT);
	/* The floor the design asks for: at least 64 MiB and 2 passes. */
	T_ASSERT(p.memlimit >= 64u * 1024u * 1024u);
	T_ASSERT(p.opslimit >= 2);
	T_EQ_INT(cb_kdf_params_init(&q, &err), 0);
	T_ASSERT(memcmp(p.salt, q.salt, sizeof(p.salt)) != 0);
}

static void test_kdf_fast_env_exactly_one(void)
{
	struct cb_kdf_params p;
	struct cb_err err;

	setenv("CASEBOOK_KDF_FAST", "1", 1);
	T_EQ_INT(cb_kdf_params_init(&p, &err), 0);
	T_EQ_INT(p.opslimit, crypto_pwhash_argon2id_OPSLIMIT_MIN);
	T_EQ_INT(p.memlimit, crypto_pwhash_argon2id_MEMLIMIT_MIN);
	setenv("CASEBOOK_KDF_FAST", "yes", 1);
	T_EQ_INT(cb_kdf_params_init(&p, &err), 0);
	T_EQ_INT(p.memlimit, CB_KDF_MEMLIMIT);
	setenv("CASEBOOK_KDF_FAST", "", 1);
	T_EQ_INT(cb_kdf_params_init(&p, &err), 0);
	T_EQ_INT(p.memlimit, CB_KDF_MEMLIMIT);
	unsetenv("CASEBOOK_KDF_FAST");
}

static void test_kdf_encode_decode(void)
{
	struct cb_kdf_params p, q;
	struct cb_err err;
	char text[CB_KDF_STR_MAX];

	p.opslimit = 3;
	p.memlimit = 131072u * 1024u;
	memset(p.salt, 0, sizeof(p.salt));
	p.salt[15] = 0xff;
	T_EQ_INT(cb_kdf_params_encode(&p, text, sizeof(text), &err), 0);
	T_EQ_STR(text, "argon2id$v=19$m=131072,t=3,p=1$AAAAAAAAAAAAAAAAAAAA/w");
	memset(&q, 0xee, sizeof(q));
	T_EQ_INT(cb_kdf_params_decode(text, strlen(text), &q, &err), 0);
	T_EQ_INT(q.opslimit, 3);
	T_EQ_INT(q.memlimit, 131072u * 1024u);
	T_ASSERT(memcmp(q.salt, p.salt, sizeof(p.salt)) == 0);

	/* The caps themselves are accepted, and the length is honoured. */
	p.opslimit = CB_KDF_OPSLIMIT_CAP;
	p.memlimit = CB_KDF_MEMLIMIT_CAP;
	T_EQ_INT(cb_kdf_params_encode(&p, text, sizeof(text), &err), 0);
	T_EQ_INT(cb_kdf_params_decode(text, strlen(text), &q, &err), 0);
	T_EQ_INT(q.memlimit, CB_KDF_MEMLIMIT_CAP);
	T_EQ_INT(cb_kdf_params_decode(text, strlen(text) - 1, &q, &err),
		 CB_EINVAL);

	/* Encode refuses what decode would refuse, and a short buffer. */
	p.opslimit = 0;
	T_EQ_INT(cb_kdf_params_encode(&p, text, sizeof(text), &err), CB_EINVAL);
	p.opslimit = 3;
	p.memlimit = 65536u * 1024u + 512u;
	T_EQ_INT(cb_kdf_params_encode(&p, text, sizeof(text), &err), CB_EINVAL);
	p.memlimit = 65536u * 1024u;
	T_EQ_INT(cb_kdf_params_encode(&p, text, 20, &err), CB_EINVAL);
}

static void test_kdf_decode_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "argon2i$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=16$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$t=3,m=65536,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    /* weak: below libsodium's minimum cost */
	    "argon2id$v=19$m=4,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=0,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    /* hostile: over the caps */
	    "argon2id$v=19$m=1048577,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=33,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=99999999999999999999999,t=3,p=1$AAAAAAAAAAAA"
	    "AAAAAAAAAA",
	    /* not the one spelling of a number */
	    "argon2id$v=19$m=065536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=+65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=-3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m= 65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=03,p=1$AAAAAAAAAAAAAAAAAAAAAA",
	    /* salt: short, long, padded, stray bits, bad alphabet */
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAAAA",
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA==",
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAB",
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAA-_",
	    "argon2id$v=19$m=65536,t=3,p=1$",
	    "argon2id$v=19$m=65536,t=3,p=1",
	    /* trailing text */
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA$",
	    "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA\n",
	};
	struct cb_kdf_params p;
	struct cb_err err;
	size_t i;

	/* The good spelling passes, so each rejection is about its flaw. */
	T_EQ_INT(cb_kdf_params_decode(
		     "argon2id$v=19$m=65536,t=3,p=1$AAAAAAAAAAAAAAAAAAAAAA", 52,
		     &p, &err),
		 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_err_clear(&err);
		if (cb_kdf_params_decode(bad[i], strlen(bad[i]), &p, &err) !=
		    CB_EINVAL) {
			T_FAIL_AT("accepted \"%s\"", bad[i]);
			return;
		}
		T_ASSERT(err.msg[0] != '\0');
	}
	T_EQ_INT(cb_kdf_params_decode(
		     "argon2id$v=19$m=65536,t=33,p=1$AAAAAAAAAAAAAAAAAAAAAA",
		     53, &p, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "t=");
}

static void test_kdf_derive(void)
{
	struct cb_kdf_params p, q;
	struct cb_key *a, *b, *c, *d;
	struct cb_err err;
	unsigned char direct[CB_KEY_BYTES];

	fast_params(&p, 0x11);
	fast_params(&q, 0x22);
	T_EQ_INT(cb_kdf_derive("pass", 4, &p, &a, &err), 0);
	T_EQ_INT(cb_kdf_derive("pass", 4, &p, &b, &err), 0);
	T_EQ_INT(cb_kdf_derive("pass", 4, &q, &c, &err), 0);
	T_EQ_INT(cb_kdf_derive("Pass", 4, &p, &d, &err), 0);
	T_EQ_INT(a->len, CB_KEY_BYTES);
	T_ASSERT(key_eq(a, b));
	T_ASSERT(!key_eq(a, c));
	T_ASSERT(!key_eq(a, d));
	/* It is plain Argon2id13 with these parameters, so other tools agree.
	 */
	T_EQ_INT(crypto_pwhash(direct, sizeof(direct), "pass", 4, p.salt,
			       p.opslimit, p.memlimit,
			       crypto_pwhash_ALG_ARGON2ID13),
		 0);
	T_ASSERT(memcmp(direct, a->bytes, sizeof(direct)) == 0);
	cb_key_free(a);
	cb_key_free(b);
	cb_key_free(c);
	cb_key_free(d);

	p.opslimit = CB_KDF_OPSLIMIT_CAP + 1;
	T_EQ_INT(cb_kdf_derive("pass", 4, &p, &a, &err), CB_EINVAL);
	T_ASSERT(a == NULL);
}

/* ---- key wrapping ------------------------------------------------------ */

static void test_wrap_roundtrip(void)
{
	struct cb_kdf_params p;
	struct cb_key *key, *back = NULL, *sk;
	struct cb_err err;
	char *w1, *w2;

	fast_params(&p, 0x33);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "s3cret pass", 11, "alice", &p, &w1, &err),
		 0);
	T_ASSERT(strncmp(w1, "argon2id$v=19$m=8,t=1,p=1$", 26) == 0);
	T_ASSERT(strchr(w1, '\n') == NULL);
	T_EQ_INT(cb_key_unwrap(w1, "s3cret pass", 11, "alice", &back, &err), 0);
	T_ASSERT(key_eq(key, back));
	cb_key_free(back);
	/* Same key, parameters and salt: the nonce still makes it differ. */
	T_EQ_INT(cb_key_wrap(key, "s3cret pass", 11, "alice", &p, &w2, &err),
		 0);
	T_ASSERT(strcmp(w1, w2) != 0);
	free(w1);
	free(w2);
	cb_key_free(key);

	/* Longest secret (an Ed25519 secret key) and a passphrase with NUL. */
	T_EQ_INT(cb_key_random(CB_KEY_MAX, &sk, &err), 0);
	T_EQ_INT(cb_key_wrap(sk, "a\0b", 3, "unblinding", &p, &w1, &err), 0);
	T_EQ_INT(cb_key_unwrap(w1, "a\0b", 3, "unblinding", &back, &err), 0);
	T_ASSERT(key_eq(sk, back));
	cb_key_free(back);
	back = NULL;
	T_EQ_INT(cb_key_unwrap(w1, "a\0c", 3, "unblinding", &back, &err),
		 CB_EAUTH);
	T_ASSERT(back == NULL);
	free(w1);
	cb_key_free(sk);
}

static void test_wrap_default_params(void)
{
	struct cb_key *key, *back;
	struct cb_err err;
	char *w;
	char want[64];

	unsetenv("CASEBOOK_KDF_FAST");
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "pw", 2, "bob", NULL, &w, &err), 0);
	snprintf(want, sizeof(want), "argon2id$v=19$m=%u,t=%llu,p=1$",
		 CB_KDF_MEMLIMIT / 1024u, CB_KDF_OPSLIMIT);
	T_ASSERT(strncmp(w, want, strlen(want)) == 0);
	T_EQ_INT(cb_key_unwrap(w, "pw", 2, "bob", &back, &err), 0);
	T_ASSERT(key_eq(key, back));
	cb_key_free(back);
	T_EQ_INT(cb_key_wrap_below_default(w), 0);
	free(w);
	cb_key_free(key);
}

/* A keyslot below the default cost is flagged unless the switch is set. */
static void test_wrap_below_default(void)
{
	struct cb_kdf_params p;
	struct cb_key *key;
	struct cb_err err;
	char *w;

	unsetenv("CASEBOOK_KDF_FAST");
	fast_params(&p, 0x44);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "pw", 2, "carol", &p, &w, &err), 0);
	T_EQ_INT(cb_key_wrap_below_default(w), 1);
	setenv("CASEBOOK_KDF_FAST", "1", 1);
	T_EQ_INT(cb_key_wrap_below_default(w), 0);
	unsetenv("CASEBOOK_KDF_FAST");
	T_EQ_INT(cb_key_wrap_below_default("not a wrapped key"), 0);
	T_EQ_INT(cb_key_wrap_below_default(NULL), 0);
	free(w);
	cb_key_free(key);
}

static void test_wrap_wrong_pass_or_slot(void)
{
	struct cb_kdf_params p;
	struct cb_key *key, *back = NULL;
	struct cb_err err;
	char *w;

	fast_params(&p, 0x44);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "right", 5, "alice", &p, &w, &err), 0);
	cb_err_clear(&err);
	T_EQ_INT(cb_key_unwrap(w, "wrong", 5, "alice", &back, &err), CB_EAUTH);
	T_ASSERT(back == NULL);
	T_CONTAINS(err.msg, "wrong passphrase");
	T_EQ_INT(cb_key_unwrap(w, "righ", 4, "alice", &back, &err), CB_EAUTH);
	/* A copy moved to another user's slot does not open. */
	T_EQ_INT(cb_key_unwrap(w, "right", 5, "bob", &back, &err), CB_EAUTH);
	T_EQ_INT(cb_key_unwrap(w, "right", 5, "alice ", &back, &err), CB_EAUTH);
	T_ASSERT(back == NULL);
	free(w);

	T_EQ_INT(cb_key_wrap(key, "", 0, "alice", &p, &w, &err), CB_EINVAL);
	T_ASSERT(w == NULL);
	T_EQ_INT(cb_key_wrap(key, "x", 1, NULL, &p, &w, &err), CB_EINVAL);
	cb_key_free(key);
}

/* Every single-character change of a wrapped key fails: never a key. */
static void test_wrap_tampered(void)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	struct cb_kdf_params p;
	struct cb_key *key, *back;
	struct cb_err err;
	char *w, *copy;
	size_t len, i;
	int rc;

	fast_params(&p, 0x55);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "pw", 2, "alice", &p, &w, &err), 0);
	len = strlen(w);
	copy = malloc(len + 2);
	T_ASSERT(copy != NULL);
	for (i = 0; i < len; i++) {
		memcpy(copy, w, len + 1);
		/* Replace with a different character of the same kind. */
		if (copy[i] >= '0' && copy[i] <= '9')
			copy[i] = copy[i] == '9' ? '8' : (char)(copy[i] + 1);
		else if (strchr(alphabet, copy[i]))
			copy[i] = alphabet[(strchr(alphabet, copy[i]) -
					    alphabet + 1) %
					   64];
		else
			copy[i] = '#';
		back = NULL;
		rc = cb_key_unwrap(copy, "pw", 2, "alice", &back, &err);
		if (rc == 0 || back) {
			/* Changing the last base64 digit may only flip stray
			 * bits; that is refused as malformed, never opened. */
			T_FAIL_AT("changed offset %zu (\"%s\") unwrapped", i,
				  copy);
			break;
		}
		if (rc != CB_EAUTH && rc != CB_EINVAL) {
			T_FAIL_AT("offset %zu: rc %d", i, rc);
			break;
		}
	}
	/* Truncated, extended and empty. */
	memcpy(copy, w, len + 1);
	copy[len - 4] = '\0';
	T_ASSERT(cb_key_unwrap(copy, "pw", 2, "alice", &back, &err) < 0);
	memcpy(copy, w, len + 1);
	copy[len] = 'A';
	copy[len + 1] = '\0';
	T_ASSERT(cb_key_unwrap(copy, "pw", 2, "alice", &back, &err) < 0);
	T_EQ_INT(cb_key_unwrap("", "pw", 2, "alice", &back, &err), CB_EINVAL);
	T_EQ_INT(cb_key_unwrap("hello", "pw", 2, "alice", &back, &err),
		 CB_EINVAL);
	T_CONTAINS(err.msg, "not a wrapped key");
	free(copy);
	free(w);
	cb_key_free(key);
}

/* Rewriting the cost to something cheaper does not unwrap (AD binds it). */
static void test_wrap_params_bound(void)
{
	struct cb_kdf_params p;
	struct cb_key *key, *back = NULL;
	struct cb_err err;
	char *w, edited[256];

	fast_params(&p, 0x66);
	p.opslimit = 2;
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_wrap(key, "pw", 2, "alice", &p, &w, &err), 0);
	/* Same salt and box, t=1 instead of t=2. */
	T_ASSERT(strncmp(w, "argon2id$v=19$m=8,t=2,p=1$", 26) == 0);
	snprintf(edited, sizeof(edited), "argon2id$v=19$m=8,t=1,p=1$%s",
		 w + 26);
	T_ASSERT(strcmp(edited, w) != 0);
	T_EQ_INT(cb_key_unwrap(edited, "pw", 2, "alice", &back, &err),
		 CB_EAUTH);
	T_ASSERT(back == NULL);
	free(w);
	cb_key_free(key);
}

/* ---- value sealing ----------------------------------------------------- */

static void test_seal_roundtrip(void)
{
	struct cb_key *key;
	struct cb_err err;
	unsigned char *s1, *s2, *plain;
	size_t n1, n2, pn;

	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(
	    cb_seal_value(key, "item/42", 7, "WOMAC 37", 8, &s1, &n1, &err), 0);
	T_EQ_INT(n1, 8 + CB_SEAL_OVERHEAD);
	T_ASSERT(!has_bytes(s1, n1, "WOMAC", 5));
	T_EQ_INT(cb_open_value(key, "item/42", 7, s1, n1, &plain, &pn, &err),
		 0);
	T_EQ_INT(pn, 8);
	T_EQ_STR((char *)plain, "WOMAC 37");
	free(plain);
	T_EQ_INT(
	    cb_seal_value(key, "item/42", 7, "WOMAC 37", 8, &s2, &n2, &err), 0);
	T_ASSERT(memcmp(s1, s2, n1) != 0);
	free(s1);
	free(s2);

	/* An empty value and empty associated data are fine. */
	T_EQ_INT(cb_seal_value(key, NULL, 0, "", 0, &s1, &n1, &err), 0);
	T_EQ_INT(n1, CB_SEAL_OVERHEAD);
	T_EQ_INT(cb_open_value(key, NULL, 0, s1, n1, &plain, &pn, &err), 0);
	T_EQ_INT(pn, 0);
	T_EQ_INT(plain[0], '\0');
	free(plain);
	free(s1);
	cb_key_free(key);
}

static void test_seal_ad_and_tamper(void)
{
	struct cb_key *key, *other, *small;
	struct cb_err err;
	unsigned char *s, *plain = (unsigned char *)"x";
	size_t n, pn, i;
	int bit;

	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &key, &err), 0);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &other, &err), 0);
	T_EQ_INT(
	    cb_seal_value(key, "visit:row1", 10, "120/80", 6, &s, &n, &err), 0);
	cb_err_clear(&err);
	T_EQ_INT(cb_open_value(key, "visit:row2", 10, s, n, &plain, &pn, &err),
		 CB_EINTEGRITY);
	T_ASSERT(plain == NULL);
	T_CONTAINS(err.msg, "failed authentication");
	T_EQ_INT(cb_open_value(key, "visit:row1", 9, s, n, &plain, &pn, &err),
		 CB_EINTEGRITY);
	T_EQ_INT(cb_open_value(key, NULL, 0, s, n, &plain, &pn, &err),
		 CB_EINTEGRITY);
	T_EQ_INT(
	    cb_open_value(other, "visit:row1", 10, s, n, &plain, &pn, &err),
	    CB_EINTEGRITY);
	for (i = 0; i < n; i++) {
		for (bit = 0; bit < 8; bit += 7) {
			s[i] ^= (unsigned char)(1u << bit);
			if (cb_open_value(key, "visit:row1", 10, s, n, &plain,
					  &pn, &err) != CB_EINTEGRITY ||
			    plain) {
				T_FAIL_AT("flipped bit %d of byte %zu opened",
					  bit, i);
				free(s);
				return;
			}
			s[i] ^= (unsigned char)(1u << bit);
		}
	}
	for (i = 0; i < n; i++)
		T_EQ_INT(cb_open_value(key, "visit:row1", 10, s, i, &plain, &pn,
				       &err),
			 CB_EINTEGRITY);
	T_EQ_INT(cb_open_value(key, "visit:row1", 10, s, n, &plain, &pn, &err),
		 0);
	T_EQ_STR((char *)plain, "120/80");
	free(plain);

	/* Wrong key size and oversized associated data are refused. */
	T_EQ_INT(cb_key_random(16, &small, &err), 0);
	T_EQ_INT(
	    cb_open_value(small, "visit:row1", 10, s, n, &plain, &pn, &err),
	    CB_EINVAL);
	free(s);
	T_EQ_INT(cb_seal_value(small, NULL, 0, "a", 1, &s, &n, &err),
		 CB_EINVAL);
	T_ASSERT(s == NULL);
	T_EQ_INT(cb_seal_value(key, "", CB_AD_MAX + 1, "a", 1, &s, &n, &err),
		 CB_ETOOBIG);
	cb_key_free(small);
	cb_key_free(key);
	cb_key_free(other);
}

/* ---- keyed hash -------------------------------------------------------- */

/* The two-step keyed hash gives exactly the one-step one. */
static void test_keyed_hash_subkey(void)
{
	struct cb_key *k, *sub, *other;
	struct cb_err err;
	unsigned char a[CB_KEYED_HASH_BYTES], b[CB_KEYED_HASH_BYTES];

	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &k, &err), 0);
	T_EQ_INT(cb_keyed_hash_key(k, "store.subject", &sub, &err), 0);
	T_EQ_INT(cb_keyed_hash_key(k, "store.row", &other, &err), 0);
	T_EQ_INT(cb_keyed_hash(k, "store.subject", "KR01-01001", 10, a, &err),
		 0);
	T_EQ_INT(cb_keyed_hash_with(sub, "KR01-01001", 10, b, &err), 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) == 0);
	T_EQ_INT(cb_keyed_hash_with(other, "KR01-01001", 10, b, &err), 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	cb_key_free(other);
	T_EQ_INT(cb_keyed_hash_key(k, "", &other, &err), CB_EINVAL);
	T_ASSERT(other == NULL);
	T_EQ_INT(cb_keyed_hash_with(NULL, "x", 1, b, &err), CB_EINVAL);
	cb_key_free(sub);
	cb_key_free(k);
}

static void test_keyed_hash(void)
{
	struct cb_key *k1, *k2;
	struct cb_err err;
	unsigned char a[CB_KEYED_HASH_BYTES], b[CB_KEYED_HASH_BYTES];
	unsigned char plain[CB_HASH_BYTES];
	char long_domain[CB_HASH_DOMAIN_MAX + 2];

	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &k1, &err), 0);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &k2, &err), 0);
	T_EQ_INT(cb_keyed_hash(k1, "subject.screening_no", "S-001", 5, a, &err),
		 0);
	T_EQ_INT(cb_keyed_hash(k1, "subject.screening_no", "S-001", 5, b, &err),
		 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) == 0);
	/* Domain separation: same key and data, another domain. */
	T_EQ_INT(cb_keyed_hash(k1, "subject.initials", "S-001", 5, b, &err), 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	T_EQ_INT(cb_keyed_hash(k1, "subject.screening_nO", "S-001", 5, b, &err),
		 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	/* Another key, another value, and not the unkeyed hash. */
	T_EQ_INT(cb_keyed_hash(k2, "subject.screening_no", "S-001", 5, b, &err),
		 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	T_EQ_INT(cb_keyed_hash(k1, "subject.screening_no", "S-002", 5, b, &err),
		 0);
	T_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	cb_hash("S-001", 5, plain);
	T_ASSERT(memcmp(a, plain, sizeof(a)) != 0);

	/* Domains: 1..64 printable ASCII characters, no spaces. */
	memset(long_domain, 'd', CB_HASH_DOMAIN_MAX);
	long_domain[CB_HASH_DOMAIN_MAX] = '\0';
	T_EQ_INT(cb_keyed_hash(k1, long_domain, "x", 1, b, &err), 0);
	long_domain[CB_HASH_DOMAIN_MAX] = 'd';
	long_domain[CB_HASH_DOMAIN_MAX + 1] = '\0';
	T_EQ_INT(cb_keyed_hash(k1, long_domain, "x", 1, b, &err), CB_EINVAL);
	T_EQ_INT(cb_keyed_hash(k1, "", "x", 1, b, &err), CB_EINVAL);
	T_EQ_INT(cb_keyed_hash(k1, NULL, "x", 1, b, &err), CB_EINVAL);
	T_EQ_INT(cb_keyed_hash(k1, "a b", "x", 1, b, &err), CB_EINVAL);
	T_EQ_INT(cb_keyed_hash(k1, "caf\xc3\xa9", "x", 1, b, &err), CB_EINVAL);
	T_EQ_INT(cb_keyed_hash(NULL, "d", "x", 1, b, &err), CB_EINVAL);
	cb_key_free(k1);
	cb_key_free(k2);
}

/* ---- Ed25519 ----------------------------------------------------------- */

static void test_sign_verify(void)
{
	struct cb_sign_keypair kp, kp2;
	struct cb_err err;
	unsigned char sig[CB_SIGNATURE_BYTES];
	char msg[] = "{\"id\":\"abc\",\"kind\":\"form.save\"}";
	size_t len = strlen(msg), i;

	T_EQ_INT(cb_sign_keypair_new(&kp, &err), 0);
	T_EQ_INT(cb_sign_keypair_new(&kp2, &err), 0);
	T_EQ_INT(cb_sign(kp.sk, msg, len, sig, &err), 0);
	T_EQ_INT(cb_verify(kp.pk, msg, len, sig, &err), 0);
	cb_err_clear(&err);
	T_EQ_INT(cb_verify(kp2.pk, msg, len, sig, &err), CB_EAUTH);
	T_CONTAINS(err.msg, "signature");
	T_EQ_INT(cb_verify(kp.pk, msg, len - 1, sig, &err), CB_EAUTH);
	for (i = 0; i < len; i++) {
		msg[i] ^= 1;
		if (cb_verify(kp.pk, msg, len, sig, &err) != CB_EAUTH) {
			T_FAIL_AT("changed message byte %zu verified", i);
			return;
		}
		msg[i] ^= 1;
	}
	for (i = 0; i < CB_SIGNATURE_BYTES; i++) {
		sig[i] ^= 0x80;
		if (cb_verify(kp.pk, msg, len, sig, &err) != CB_EAUTH) {
			T_FAIL_AT("changed signature byte %zu verified", i);
			return;
		}
		sig[i] ^= 0x80;
	}
	T_EQ_INT(cb_verify(kp.pk, msg, len, sig, &err), 0);
	/* The secret key is not a signature key of the wrong kind. */
	T_EQ_INT(cb_sign(kp2.sk, msg, len, sig, &err), 0);
	T_EQ_INT(cb_verify(kp.pk, msg, len, sig, &err), CB_EAUTH);
	cb_sign_keypair_release(&kp);
	T_ASSERT(kp.sk == NULL);
	cb_sign_keypair_release(&kp2);
	cb_sign_keypair_release(NULL);
}

/* Sign `msg` in pieces of random sizes (cb_sign_stream). */
static int stream_sign(const struct cb_key *sk, const unsigned char *msg,
		       size_t len, unsigned seed,
		       unsigned char sig[CB_SIGNATURE_BYTES])
{
	struct cb_sign_stream *s = NULL;
	struct cb_err err;
	size_t at, n;
	int rc;

	rc = cb_sign_stream_new(sk, &s, &err);
	srand(seed);
	for (at = 0; !rc && at < len; at += n) {
		n = (size_t)rand() % 97;
		if (n > len - at)
			n = len - at;
		cb_sign_stream_update(s, msg + at, n);
	}
	if (!rc)
		rc = cb_sign_stream_final(s, sig, &err);
	cb_sign_stream_free(s);
	return rc;
}

static int stream_verify(const unsigned char *pk, const unsigned char *msg,
			 size_t len, const unsigned char *sig)
{
	struct cb_verify_stream *v = NULL;
	struct cb_err err;
	size_t at, n;
	int rc = cb_verify_stream_new(pk, sig, &v, &err);

	for (at = 0; !rc && at < len; at += n) {
		n = 1 + (size_t)rand() % 300;
		if (n > len - at)
			n = len - at;
		cb_verify_stream_update(v, msg + at, n);
	}
	if (!rc)
		rc = cb_verify_stream_final(v, &err);
	cb_verify_stream_free(v);
	return rc;
}

/*
 * Ed25519ph over a stream: RFC 8032's test vector (section 7.3); the
 * same signature whatever the pieces, equal to the one-shot cb_sign_ph;
 * a changed byte of the message or the signature refused; and pure
 * Ed25519 (cb_sign) and Ed25519ph signatures never taken for each other
 * (random messages and keys, seeded).
 */
static void test_sign_stream(void)
{
	static const char rfc_sk[] =
	    "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"
	    "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf";
	static const char rfc_sig[] =
	    "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
	    "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406";
	unsigned char msg[3000], sig[CB_SIGNATURE_BYTES],
	    want[CB_SIGNATURE_BYTES], pure[CB_SIGNATURE_BYTES],
	    secret[CB_SIGN_SECRET_BYTES];
	char hex[2 * CB_SIGNATURE_BYTES + 1];
	struct cb_sign_keypair kp;
	struct cb_err err;
	unsigned seed = (unsigned)t_seed();
	size_t i;
	int round;

	T_EQ_INT(cb_hex_decode(rfc_sk, strlen(rfc_sk), secret, sizeof(secret),
			       NULL, &err),
		 0);
	T_EQ_INT(cb_sign_keypair_from_secret(secret, sizeof(secret), &kp, &err),
		 0);
	T_EQ_INT(stream_sign(kp.sk, (const unsigned char *)"abc", 3, 1, sig),
		 0);
	for (i = 0; i < sizeof(sig); i++)
		snprintf(hex + 2 * i, 3, "%02x", sig[i]);
	T_EQ_STR(hex, rfc_sig);
	T_EQ_INT(stream_verify(kp.pk, (const unsigned char *)"abc", 3, sig), 0);
	cb_sign_keypair_release(&kp);

	srand(seed);
	for (round = 0; round < 40; round++) {
		size_t len = round == 0 ? 0 : (size_t)rand() % sizeof(msg);

		for (i = 0; i < len; i++)
			msg[i] = (unsigned char)rand();
		T_EQ_INT(cb_sign_keypair_new(&kp, &err), 0);
		T_EQ_INT(cb_sign_ph(kp.sk, msg, len, want, &err), 0);
		T_EQ_INT(
		    stream_sign(kp.sk, msg, len, seed + (unsigned)round, sig),
		    0);
		if (memcmp(sig, want, sizeof(sig))) {
			T_FAIL_AT("round %d: the stream signature differs",
				  round);
			return;
		}
		T_EQ_INT(stream_verify(kp.pk, msg, len, sig), 0);
		T_EQ_INT(cb_verify_ph(kp.pk, msg, len, sig, &err), 0);
		/* the two kinds never verify as each other */
		T_EQ_INT(cb_verify(kp.pk, msg, len, sig, &err), CB_EAUTH);
		T_EQ_INT(cb_sign(kp.sk, msg, len, pure, &err), 0);
		T_EQ_INT(stream_verify(kp.pk, msg, len, pure), CB_EAUTH);
		if (len) {
			i = (size_t)rand() % len;
			msg[i] ^= 1;
			T_EQ_INT(stream_verify(kp.pk, msg, len, sig), CB_EAUTH);
			T_EQ_INT(cb_verify_ph(kp.pk, msg, len, sig, &err),
				 CB_EAUTH);
			msg[i] ^= 1;
		}
		sig[(size_t)rand() % sizeof(sig)] ^= 0x10;
		T_EQ_INT(stream_verify(kp.pk, msg, len, sig), CB_EAUTH);
		cb_sign_keypair_release(&kp);
	}
}

static void test_sign_from_secret(void)
{
	struct cb_sign_keypair kp, again;
	struct cb_err err;
	struct cb_key *small;
	unsigned char secret[CB_SIGN_SECRET_BYTES];
	unsigned char s1[CB_SIGNATURE_BYTES], s2[CB_SIGNATURE_BYTES];

	T_EQ_INT(cb_sign_keypair_new(&kp, &err), 0);
	memcpy(secret, kp.sk->bytes, sizeof(secret));
	T_EQ_INT(
	    cb_sign_keypair_from_secret(secret, sizeof(secret), &again, &err),
	    0);
	T_ASSERT(memcmp(kp.pk, again.pk, CB_SIGN_PUBLIC_BYTES) == 0);
	/* Ed25519 is deterministic: the rebuilt key signs identically. */
	T_EQ_INT(cb_sign(kp.sk, "m", 1, s1, &err), 0);
	T_EQ_INT(cb_sign(again.sk, "m", 1, s2, &err), 0);
	T_ASSERT(memcmp(s1, s2, sizeof(s1)) == 0);
	cb_sign_keypair_release(&again);

	/* A corrupted public half, or the wrong length, is refused. */
	secret[40] ^= 1;
	T_EQ_INT(
	    cb_sign_keypair_from_secret(secret, sizeof(secret), &again, &err),
	    CB_EINVAL);
	T_ASSERT(again.sk == NULL);
	T_EQ_INT(cb_sign_keypair_from_secret(secret, 32, &again, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_key_random(CB_KEY_BYTES, &small, &err), 0);
	T_EQ_INT(cb_sign(small, "m", 1, s1, &err), CB_EINVAL);
	cb_key_free(small);
	sodium_memzero(secret, sizeof(secret));
	cb_sign_keypair_release(&kp);
}

/* ---- sealed boxes ------------------------------------------------------ */

static void test_box_seal_open(void)
{
	struct cb_box_keypair kp, other, again;
	struct cb_err err;
	unsigned char *s, *plain = NULL;
	size_t n, pn, i;
	unsigned char zero_pk[CB_BOX_PUBLIC_BYTES] = {0};

	T_EQ_INT(cb_box_keypair_new(&kp, &err), 0);
	T_EQ_INT(cb_box_keypair_new(&other, &err), 0);
	T_EQ_INT(cb_seal_to(kp.pk, "arm=B", 5, &s, &n, &err), 0);
	T_EQ_INT(n, 5 + CB_BOX_SEAL_OVERHEAD);
	T_EQ_INT(cb_seal_open(&kp, s, n, &plain, &pn, &err), 0);
	T_EQ_INT(pn, 5);
	T_EQ_STR((char *)plain, "arm=B");
	free(plain);
	plain = NULL;
	T_EQ_INT(cb_seal_open(&other, s, n, &plain, &pn, &err), CB_EAUTH);
	T_ASSERT(plain == NULL);
	for (i = 0; i < n; i++) {
		s[i] ^= 4;
		if (cb_seal_open(&kp, s, n, &plain, &pn, &err) != CB_EAUTH) {
			T_FAIL_AT("changed byte %zu opened", i);
			free(s);
			return;
		}
		s[i] ^= 4;
	}
	T_EQ_INT(cb_seal_open(&kp, s, n - 1, &plain, &pn, &err), CB_EAUTH);
	T_EQ_INT(cb_seal_open(&kp, s, 3, &plain, &pn, &err), CB_EAUTH);

	/* A key pair rebuilt from its stored secret opens the same box. */
	T_EQ_INT(
	    cb_box_keypair_from_secret(kp.sk->bytes, kp.sk->len, &again, &err),
	    0);
	T_ASSERT(memcmp(again.pk, kp.pk, CB_BOX_PUBLIC_BYTES) == 0);
	T_EQ_INT(cb_seal_open(&again, s, n, &plain, &pn, &err), 0);
	T_EQ_STR((char *)plain, "arm=B");
	free(plain);
	free(s);
	cb_box_keypair_release(&again);
	T_EQ_INT(cb_box_keypair_from_secret(zero_pk, 31, &again, &err),
		 CB_EINVAL);
	T_ASSERT(again.sk == NULL);
	/* The all-zero public key is a low-order point: refused. */
	T_EQ_INT(cb_seal_to(zero_pk, "x", 1, &s, &n, &err), CB_EINVAL);
	T_ASSERT(s == NULL);
	cb_box_keypair_release(&kp);
	cb_box_keypair_release(&other);
	cb_box_keypair_release(NULL);
}

/* ---- hashes ------------------------------------------------------------ */

static void test_hash_vectors(void)
{
	char hex[CB_HASH_HEX_SIZE];

	/* FIPS 180-2 "abc" and BLAKE2b-256 of the empty string. */
	cb_sha256_hex("abc", 3, hex);
	T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223"
		      "b00361a396177a9cb410ff61f20015ad");
	/* the same in pieces */
	{
		struct cb_sha256_stream *h;
		struct cb_err err;

		T_EQ_INT(cb_sha256_stream_new(&h, &err), 0);
		cb_sha256_stream_update(h, "a", 1);
		cb_sha256_stream_update(h, "", 0);
		cb_sha256_stream_update(h, "bc", 2);
		cb_sha256_stream_final_hex(h, hex);
		cb_sha256_stream_free(h);
		T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223"
			      "b00361a396177a9cb410ff61f20015ad");
	}
	/* FIPS 180-2's two-block message and the empty string */
	cb_sha256_hex(
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    hex);
	T_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039"
		      "a33ce45964ff2167f6ecedd419db06c1");
	cb_sha256_hex("", 0, hex);
	T_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855");
	cb_hash_hex("", 0, hex);
	T_EQ_STR(hex, "0e5751c026e543b2e8ab2eb06099daa1"
		      "d1e5df47778f7787faab45cdf12fe3a8");
	T_ASSERT(cb_ct_equal("abcd", "abcd", 4));
	T_ASSERT(!cb_ct_equal("abcd", "abce", 4));
	T_ASSERT(cb_ct_equal("a", "b", 0));
}

/* ---- hex and base64 ---------------------------------------------------- */

static void test_hex(void)
{
	unsigned char bin[64], back[64];
	char hex[CB_HEX_SIZE(64)];
	struct cb_err err;
	size_t n, len;
	int round;

	rng_state = t_seed();
	for (round = 0; round < 200; round++) {
		len = (size_t)(rng_next() % 65);
		rng_fill(bin, len);
		T_EQ_INT(cb_hex_encode(bin, len, hex, sizeof(hex), &err), 0);
		T_EQ_INT(strlen(hex), 2 * len);
		T_EQ_INT(strspn(hex, "0123456789abcdef"), 2 * len);
		T_EQ_INT(
		    cb_hex_decode(hex, 2 * len, back, sizeof(back), &n, &err),
		    0);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(bin, back, len) == 0);
		T_EQ_INT(cb_hex_decode(hex, 2 * len, back, len, NULL, &err), 0);
	}
	T_EQ_INT(cb_hex_encode("ab", 2, hex, 4, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_encode("ab", 2, hex, 5, &err), 0);
	T_EQ_STR(hex, "6162");
	T_EQ_INT(cb_hex_decode("6162", 4, back, 2, NULL, &err), 0);
	T_EQ_INT(cb_hex_decode("6A62", 4, back, 2, NULL, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "offset 1");
	T_EQ_INT(cb_hex_decode("616", 3, back, 2, &n, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_decode("61 2", 4, back, 2, &n, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_decode("6g", 2, back, 1, NULL, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_decode("616263", 6, back, 2, NULL, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_decode("61", 2, back, 2, NULL, &err), CB_EINVAL);
	T_EQ_INT(cb_hex_decode("616263", 6, back, 2, &n, &err), CB_ETOOBIG);
	T_EQ_INT(cb_hex_decode("", 0, back, 2, &n, &err), 0);
	T_EQ_INT(n, 0);
}

static void test_b64_vectors(void)
{
	static const struct {
		const char *bin, *std, *url;
	} v[] = {
	    {"", "", ""},
	    {"f", "Zg==", "Zg"},
	    {"fo", "Zm8=", "Zm8"},
	    {"foo", "Zm9v", "Zm9v"},
	    {"foob", "Zm9vYg==", "Zm9vYg"},
	    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
	    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
	    {"\xfb\xff\xbf", "+/+/", "-_-_"},
	};
	char out[32], *alloc;
	unsigned char back[16];
	struct cb_err err;
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t len = strlen(v[i].bin);

		T_EQ_INT(cb_b64_size(len, CB_B64_STD), strlen(v[i].std) + 1);
		T_EQ_INT(cb_b64_encode(v[i].bin, len, CB_B64_STD, out,
				       sizeof(out), &err),
			 0);
		T_EQ_STR(out, v[i].std);
		T_EQ_INT(cb_b64_encode(v[i].bin, len, CB_B64_URL, out,
				       sizeof(out), &err),
			 0);
		T_EQ_STR(out, v[i].url);
		T_EQ_INT(cb_b64_encode_alloc(v[i].bin, len, CB_B64_URL, &alloc,
					     &err),
			 0);
		T_EQ_STR(alloc, v[i].url);
		free(alloc);
		T_EQ_INT(cb_b64_decode(v[i].std, strlen(v[i].std), CB_B64_STD,
				       back, sizeof(back), &n, &err),
			 0);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(back, v[i].bin, len) == 0);
		T_EQ_INT(cb_b64_decode(v[i].url, strlen(v[i].url), CB_B64_URL,
				       back, sizeof(back), &n, &err),
			 0);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(back, v[i].bin, len) == 0);
	}
	T_EQ_INT(cb_b64_encode("foo", 3, CB_B64_STD, out, 4, &err), CB_EINVAL);
}

static void test_b64_rejects(void)
{
	static const struct {
		const char *text;
		enum cb_b64_variant variant;
	} bad[] = {
	    {"Zg", CB_B64_STD},		/* padding missing */
	    {"Zg=", CB_B64_STD},	/* padding short */
	    {"Zg===", CB_B64_STD},	/* padding long */
	    {"Zh==", CB_B64_STD},	/* stray bits */
	    {"Zm9=", CB_B64_STD},	/* stray bits */
	    {"Zm 9v", CB_B64_STD},	/* whitespace */
	    {"Zm9v\n", CB_B64_STD},	/* trailing newline */
	    {"-_-_", CB_B64_STD},	/* URL alphabet */
	    {"Zg==", CB_B64_URL},	/* padding in URL form */
	    {"+/+/", CB_B64_URL},	/* standard alphabet */
	    {"Zh", CB_B64_URL},		/* stray bits */
	    {"Z", CB_B64_URL},		/* impossible length */
	    {"Zm9vY", CB_B64_URL},	/* impossible length */
	    {"Zm9v\0YmFy", CB_B64_STD}, /* NUL inside the given length */
	};
	unsigned char back[16];
	struct cb_err err;
	size_t i, n, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = strlen(bad[i].text);
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			len = 9;
		cb_err_clear(&err);
		if (cb_b64_decode(bad[i].text, len, bad[i].variant, back,
				  sizeof(back), &n, &err) != CB_EINVAL) {
			T_FAIL_AT("accepted bad base64 #%zu \"%s\"", i,
				  bad[i].text);
			return;
		}
		T_CONTAINS(err.msg, "base64");
	}
	/* Output capacity: too small is ETOOBIG; NULL out_len wants exact. */
	T_EQ_INT(cb_b64_decode("Zm9vYmFy", 8, CB_B64_STD, back, 5, &n, &err),
		 CB_ETOOBIG);
	T_EQ_INT(cb_b64_decode("Zm9vYmFy", 8, CB_B64_STD, back, 6, NULL, &err),
		 0);
	T_EQ_INT(cb_b64_decode("Zm9vYmE=", 8, CB_B64_STD, back, 6, NULL, &err),
		 CB_EINVAL);
}

static void test_b64_random_roundtrip(void)
{
	unsigned char bin[100], back[100];
	char text[160];
	struct cb_err err;
	size_t len, n;
	int round, v;

	rng_state = t_seed() ^ 0xb64;
	for (round = 0; round < 300; round++) {
		v = round % 2 ? CB_B64_URL : CB_B64_STD;
		len = (size_t)(rng_next() % sizeof(bin));
		rng_fill(bin, len);
		T_EQ_INT(cb_b64_encode(bin, len, (enum cb_b64_variant)v, text,
				       sizeof(text), &err),
			 0);
		T_EQ_INT(cb_b64_decode(text, strlen(text),
				       (enum cb_b64_variant)v, back,
				       sizeof(back), &n, &err),
			 0);
		T_EQ_INT(n, len);
		T_ASSERT(memcmp(bin, back, len) == 0);
	}
}

int main(void)
{
	struct cb_err err;

	if (cb_crypto_init(&err)) {
		printf("FAIL init: %s\n", err.msg);
		return 1;
	}
	T_RUN(test_key_lengths);
	T_RUN(test_key_random_and_copy);
	T_RUN(test_kdf_defaults_strong);
	T_RUN(test_kdf_fast_env_exactly_one);
	T_RUN(test_kdf_encode_decode);
	T_RUN(test_kdf_decode_rejects);
	T_RUN(test_kdf_derive);
	T_RUN(test_wrap_roundtrip);
	T_RUN(test_wrap_default_params);
	T_RUN(test_wrap_below_default);
	T_RUN(test_wrap_wrong_pass_or_slot);
	T_RUN(test_wrap_tampered);
	T_RUN(test_wrap_params_bound);
	T_RUN(test_seal_roundtrip);
	T_RUN(test_seal_ad_and_tamper);
	T_RUN(test_keyed_hash);
	T_RUN(test_sign_verify);
	T_RUN(test_sign_stream);
	T_RUN(test_sign_from_secret);
	T_RUN(test_box_seal_open);
	T_RUN(test_hash_vectors);
	T_RUN(test_keyed_hash_subkey);
	T_RUN(test_hex);
	T_RUN(test_b64_vectors);
	T_RUN(test_b64_rejects);
	T_RUN(test_b64_random_roundtrip);
	return t_done();
}
