/*
 * randlist.c - the sealed randomization list (randlist.h): the seeded
 * stream, stratified permuted blocks, sealing, signing, and a loader that
 * verifies every rule the generator follows, so a list that was altered
 * or built by another tool is caught before a server imports it.
 *
 * Everything random that must be reproducible comes from struct drbg
 * below; everything that must not be (keys, list id, the code-break
 * passphrases, sealed-box ephemerals) comes from cb_random_bytes and the
 * key generators of crypto.h.
 */
#include "randlist.h"
#include "buf.h"

#include "canon.h"
#include "clock.h"
#include "json.h"
#include "version.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_DOMAIN "casebook-randlist/1 seed"
#define COMMIT_DOMAIN "casebook-randlist/1 commitment"
#define STREAM_DOMAIN "casebook-randlist/1 stream"
#define ARM_PREFIX "casebook-arm/1\n"
#define KIT_LOW 100000u
#define KIT_SPAN 900000u
/* Code-break passphrases: this many base32 characters (5 bits each). */
#define CODEBREAK_CHARS 24
#define CODEBREAK_GROUP 4
#define FILL_RULE "whole-blocks"

/* ---- The deterministic stream ------------------------------------------ */

/*
 * A stream of bytes keyed by `key`: chunk k is the output of
 * randombytes_buf_deterministic (ChaCha20) under BLAKE2b(key || k), so the
 * stream is as long as needed while each call of the libsodium function
 * stays a fresh, fixed-size draw.
 */
#define DRBG_CHUNK 256
/* Longest stream label: "cell", a site and a cell of up to 64 levels. */
#define LABEL_MAX (16 + 8 + 64 * (CB_RANDLIST_LEVEL_MAX + 1))

struct drbg {
	unsigned char key[CB_HASH_BYTES];
	uint64_t chunk;
	unsigned char buf[DRBG_CHUNK];
	size_t pos;
};

/* Key the stream by the master seed and a label naming its use. */
static void drbg_init(struct drbg *d, const unsigned char master[CB_HASH_BYTES],
		      const char *label)
{
	unsigned char in[sizeof(STREAM_DOMAIN) + CB_HASH_BYTES + LABEL_MAX];
	size_t n = 0, llen = strlen(label);

	if (llen > LABEL_MAX)
		llen = LABEL_MAX; /* never: plan_cell's labels fit */
	memcpy(in, STREAM_DOMAIN, sizeof(STREAM_DOMAIN));
	n = sizeof(STREAM_DOMAIN);
	memcpy(in + n, master, CB_HASH_BYTES);
	n += CB_HASH_BYTES;
	memcpy(in + n, label, llen);
	n += llen;
	cb_hash(in, n, d->key);
	cb_wipe(in, sizeof(in));
	d->chunk = 0;
	d->pos = DRBG_CHUNK;
}

static void drbg_wipe(struct drbg *d)
{
	cb_wipe(d, sizeof(*d));
}

static void drbg_refill(struct drbg *d)
{
	unsigned char in[CB_HASH_BYTES + 8];
	unsigned char seed[CB_RANDOM_SEED_BYTES];
	int i;

	memcpy(in, d->key, CB_HASH_BYTES);
	for (i = 0; i < 8; i++)
		in[CB_HASH_BYTES + i] =
		    (unsigned char)(d->chunk >> (56 - 8 * i));
	cb_hash(in, sizeof(in), seed);
	cb_random_deterministic(d->buf, DRBG_CHUNK, seed);
	cb_wipe(in, sizeof(in));
	cb_wipe(seed, sizeof(seed));
	d->chunk++;
	d->pos = 0;
}

static uint32_t drbg_u32(struct drbg *d)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (d->pos == DRBG_CHUNK)
			drbg_refill(d);
		v = (v << 8) | d->buf[d->pos++];
	}
	return v;
}

/*
 * Uniform in [0, n), n >= 1, without modulo bias: draws at or above the
 * largest multiple of n below 2^32 are rejected and drawn again.
 */
static uint32_t drbg_uniform(struct drbg *d, uint32_t n)
{
	uint64_t limit;
	uint32_t x;

	if (n <= 1)
		return 0;
	limit = (UINT64_C(1) << 32) - ((UINT64_C(1) << 32) % n);
	do
		x = drbg_u32(d);
	while ((uint64_t)x >= limit);
	return x % n;
}

static void seed_master(const char *seed, size_t len,
			unsigned char out[CB_HASH_BYTES])
{
	unsigned char *in = malloc(sizeof(SEED_DOMAIN) + len);

	if (!in) {
		/* a short seed fits on the stack; CB_RANDLIST_SEED_MAX caps it
		 */
		unsigned char tmp[sizeof(SEED_DOMAIN) + CB_RANDLIST_SEED_MAX];

		if (len > CB_RANDLIST_SEED_MAX)
			len = CB_RANDLIST_SEED_MAX;
		memcpy(tmp, SEED_DOMAIN, sizeof(SEED_DOMAIN));
		memcpy(tmp + sizeof(SEED_DOMAIN), seed, len);
		cb_hash(tmp, sizeof(SEED_DOMAIN) + len, out);
		cb_wipe(tmp, sizeof(tmp));
		return;
	}
	memcpy(in, SEED_DOMAIN, sizeof(SEED_DOMAIN));
	memcpy(in + sizeof(SEED_DOMAIN), seed, len);
	cb_hash(in, sizeof(SEED_DOMAIN) + len, out);
	cb_wipe_free(in, sizeof(SEED_DOMAIN) + len);
}

static void commitment_of(const unsigned char master[CB_HASH_BYTES],
			  char out[CB_HASH_HEX_SIZE])
{
	unsigned char in[sizeof(COMMIT_DOMAIN) + CB_HASH_BYTES];

	memcpy(in, COMMIT_DOMAIN, sizeof(COMMIT_DOMAIN));
	memcpy(in + sizeof(COMMIT_DOMAIN), master, CB_HASH_BYTES);
	cb_hash_hex(in, sizeof(in), out);
}

void cb_randlist_seed_commitment(const char *seed, size_t seed_len,
				 char out[CB_HASH_HEX_SIZE])
{
	unsigned char master[CB_HASH_BYTES];

	seed_master(seed, seed_len, master);
	commitment_of(master, out);
	cb_wipe(master, sizeof(master));
}

/* ---- Small helpers ----------------------------------------------------- */

static char *xstrdup(const char *s, int *oom)
{
	char *d = strdup(s ? s : "");

	if (!d)
		*oom = 1;
	return d;
}

static char *xprintf(int *oom, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *xprintf(int *oom, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(s = malloc((size_t)n + 1))) {
		*oom = 1;
		return NULL;
	}
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

int cb_randlist_site_valid(const char *code)
{
	size_t i, n = code ? strlen(code) : 0;

	if (n < 2 || n > 8 || code[0] < 'A' || code[0] > 'Z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') ||
		      (code[i] >= '0' && code[i] <= '9')))
			return 0;
	return 1;
}

/* A stratum level fit for a cell name and a randomization number. */
static int level_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > CB_RANDLIST_LEVEL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_'))
			return 0;
	return 1;
}

/* Digits of the sequence part of randomization numbers in a cell of n. */
static int seq_width(size_t n)
{
	int w = 1;

	while (n >= 10) {
		n /= 10;
		w++;
	}
	return w < 3 ? 3 : w;
}

/* "R-" SITE "-" levels joined by "-" "-" SEQ; no levels: "R-" SITE "-" SEQ. */
static int format_randno(const char *site, const char *cell, unsigned seq,
			 int width, char *out, size_t cap)
{
	char lev[CB_RANDLIST_RANDNO_MAX];
	size_t i;
	int n;

	if (!strcmp(cell, "-")) {
		n = snprintf(out, cap, "R-%s-%0*u", site, width, seq);
	} else {
		n = snprintf(lev, sizeof(lev), "%s", cell);
		if (n < 0 || (size_t)n >= sizeof(lev))
			return -1;
		for (i = 0; lev[i]; i++)
			if (lev[i] == '/')
				lev[i] = '-';
		n = snprintf(out, cap, "R-%s-%s-%0*u", site, lev, width, seq);
	}
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* Bytes of the sealed text for a slot with this randomization number. */
static size_t arm_payload_len(const char *randno)
{
	return strlen(ARM_PREFIX) + CB_RANDLIST_ID_HEX + 1 + strlen(randno) +
	       1 + CB_RANDLIST_ARM_FIELD;
}

/*
 * The sealed text: ARM_PREFIX, the list id, "\n", the randomization
 * number, "\n", then the arm code NUL-padded to CB_RANDLIST_ARM_FIELD
 * bytes, so every sealed arm of a slot has one length whatever the arm.
 */
static unsigned char *arm_payload(const char *list_id, const char *randno,
				  const char *arm, size_t *len)
{
	size_t n = arm_payload_len(randno), off = 0;
	unsigned char *p;

	if (strlen(arm) > CB_RANDLIST_ARM_FIELD)
		return NULL;
	p = calloc(1, n);
	if (!p)
		return NULL;
	memcpy(p, ARM_PREFIX, strlen(ARM_PREFIX));
	off = strlen(ARM_PREFIX);
	memcpy(p + off, list_id, CB_RANDLIST_ID_HEX);
	off += CB_RANDLIST_ID_HEX;
	p[off++] = '\n';
	memcpy(p + off, randno, strlen(randno));
	off += strlen(randno);
	p[off++] = '\n';
	memcpy(p + off, arm, strlen(arm));
	*len = n;
	return p;
}

/* ---- The unblinding key ------------------------------------------------ */

/* The next line of text[*pos..len) into line/llen (no newline). */
static int next_line(const char *text, size_t len, size_t *pos,
		     const char **line, size_t *llen)
{
	size_t s = *pos, e = s;

	if (s >= len)
		return 0;
	while (e < len && text[e] != '\n')
		e++;
	*line = text + s;
	*llen = e - s;
	if (*llen > 0 && text[e - 1] == '\r')
		(*llen)--;
	*pos = e < len ? e + 1 : e;
	return 1;
}

static int line_is(const char *line, size_t llen, const char *want)
{
	return llen == strlen(want) && !memcmp(line, want, llen);
}

int cb_unblind_key_create(const char *pass, size_t pass_len, char **pub_text,
			  char **key_text, char pub_hex[CB_HEX_SIZE(32)],
			  struct cb_err *err)
{
	struct cb_box_keypair kp = {0};
	char *wrapped = NULL;
	int oom = 0, rc;

	*pub_text = *key_text = NULL;
	if (!pass || pass_len == 0)
		return cb_err_set(err, CB_EINVAL, "the passphrase is empty");
	rc = cb_box_keypair_new(&kp, err);
	if (rc)
		return rc;
	rc = cb_key_wrap(kp.sk, pass, pass_len, CB_UNBLIND_KEY_SLOT, NULL,
			 &wrapped, err);
	if (rc)
		goto out;
	rc = cb_hex_encode(kp.pk, sizeof(kp.pk), pub_hex, CB_HEX_SIZE(32), err);
	if (rc)
		goto out;
	*pub_text = xprintf(&oom, "%s\n%s\n", CB_UNBLIND_PUB_HEADER, pub_hex);
	*key_text = xprintf(&oom, "%s\npublic %s\nsecret %s\n",
			    CB_UNBLIND_KEY_HEADER, pub_hex, wrapped);
	if (oom) {
		free(*pub_text);
		free(*key_text);
		*pub_text = *key_text = NULL;
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	}
out:
	free(wrapped);
	cb_box_keypair_release(&kp);
	return rc;
}

static int pub_from_hex(const char *hex, size_t len,
			unsigned char pk[CB_BOX_PUBLIC_BYTES],
			struct cb_err *err)
{
	if (len != 2 * CB_BOX_PUBLIC_BYTES ||
	    cb_hex_decode(hex, len, pk, CB_BOX_PUBLIC_BYTES, NULL, err))
		return cb_err_set(err, CB_EINVAL,
				  "the public key is not 64 lowercase hex "
				  "digits");
	return 0;
}

int cb_unblind_pub_parse(const char *text, size_t len,
			 unsigned char pk[CB_BOX_PUBLIC_BYTES],
			 struct cb_err *err)
{
	const char *line;
	size_t llen, pos = 0;

	if (!next_line(text, len, &pos, &line, &llen))
		return cb_err_set(err, CB_EINVAL, "empty key file");
	if (line_is(line, llen, CB_UNBLIND_PUB_HEADER)) {
		if (!next_line(text, len, &pos, &line, &llen))
			return cb_err_set(err, CB_EINVAL,
					  "no public key after the header");
		return pub_from_hex(line, llen, pk, err);
	}
	if (line_is(line, llen, CB_UNBLIND_KEY_HEADER)) {
		if (!next_line(text, len, &pos, &line, &llen) || llen < 7 ||
		    memcmp(line, "public ", 7))
			return cb_err_set(err, CB_EINVAL,
					  "no 'public' line in the key file");
		return pub_from_hex(line + 7, llen - 7, pk, err);
	}
	return cb_err_set(err, CB_EINVAL,
			  "not an unblinding key file (the first line is "
			  "not '%s')",
			  CB_UNBLIND_PUB_HEADER);
}

int cb_unblind_key_unlock(const char *text, size_t len, const char *pass,
			  size_t pass_len, struct cb_box_keypair *kp,
			  struct cb_err *err)
{
	unsigned char pk[CB_BOX_PUBLIC_BYTES];
	const char *line;
	size_t llen, pos = 0;
	char *wrapped;
	struct cb_key *sk = NULL;
	int rc;

	memset(kp, 0, sizeof(*kp));
	if (!next_line(text, len, &pos, &line, &llen) ||
	    !line_is(line, llen, CB_UNBLIND_KEY_HEADER))
		return cb_err_set(err, CB_EINVAL,
				  "not an unblinding key file (the first line "
				  "is not '%s')",
				  CB_UNBLIND_KEY_HEADER);
	if (!next_line(text, len, &pos, &line, &llen) || llen < 7 ||
	    memcmp(line, "public ", 7))
		return cb_err_set(err, CB_EINVAL,
				  "no 'public' line in the key file");
	rc = pub_from_hex(line + 7, llen - 7, pk, err);
	if (rc)
		return rc;
	if (!next_line(text, len, &pos, &line, &llen) || llen < 7 ||
	    memcmp(line, "secret ", 7))
		return cb_err_set(err, CB_EINVAL,
				  "no 'secret' line in the key file");
	wrapped = strndup(line + 7, llen - 7);
	if (!wrapped)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_key_unwrap(wrapped, pass, pass_len, CB_UNBLIND_KEY_SLOT, &sk,
			   err);
	free(wrapped);
	if (rc == CB_EAUTH)
		cb_err_set(err, CB_EAUTH,
			   "wrong passphrase for the unblinding key (or the "
			   "key file was altered)");
	if (rc)
		return rc;
	rc = cb_box_keypair_from_secret(sk->bytes, sk->len, kp, err);
	cb_key_free(sk);
	if (rc)
		return rc;
	if (!cb_ct_equal(kp->pk, pk, sizeof(pk))) {
		cb_box_keypair_release(kp);
		return cb_err_set(err, CB_EINTEGRITY,
				  "the key file's secret does not match its "
				  "public key");
	}
	return 0;
}

/* ---- Release ----------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void cb_randlist_release(struct cb_randlist *list)
{
	size_t i;

	if (!list)
		return;
	free(list->study_id);
	free(list->protocol_version);
	free(list->protocol_sha256);
	free(list->tool);
	free(list->created);
	free(list->list_id);
	free(list->seed_commitment);
	free_strv(list->factors, list->nfactors);
	free_strv(list->cells, list->ncells);
	free(list->block_sizes);
	for (i = 0; list->sites && i < list->nsites; i++) {
		free(list->sites[i].code);
		free(list->sites[i].codebreak_key);
	}
	free(list->sites);
	for (i = 0; list->slots && i < list->nslots; i++) {
		struct cb_randlist_slot *s = &list->slots[i];

		free(s->site);
		free(s->stratum);
		free(s->randno);
		if (s->arm)
			cb_wipe_free(s->arm, strlen(s->arm));
		free(s->seal_unblind);
		free(s->seal_site);
	}
	free(list->slots);
	memset(list, 0, sizeof(*list));
}

/* ---- Plan -------------------------------------------------------------- */

/* Build the stratum cells: every combination of levels, factor order. */
static int build_cells(const struct cb_protocol *p, struct cb_randlist *l,
		       struct cb_err *err)
{
	size_t f, c, n = 1, idx[64] = {0};
	int oom = 0;

	if (p->nstrata > 64)
		return cb_err_set(err, CB_EINVAL,
				  "too many stratification factors (%zu)",
				  p->nstrata);
	for (f = 0; f < p->nstrata; f++) {
		size_t k;

		if (p->strata[f].nlevels == 0)
			return cb_err_set(err, CB_EINVAL,
					  "stratification factor %s has no "
					  "levels",
					  p->strata[f].name);
		for (k = 0; k < p->strata[f].nlevels; k++) {
			char q[64];

			if (level_valid(p->strata[f].levels[k]))
				continue;
			cb_err_quote(p->strata[f].levels[k], q, sizeof(q));
			return cb_err_set(err, CB_EINVAL,
					  "level \"%s\" of stratification "
					  "factor %s cannot appear in a "
					  "randomization number: use 1-%d "
					  "letters, digits, '.' or '_'",
					  q, p->strata[f].name,
					  CB_RANDLIST_LEVEL_MAX);
		}
		n *= p->strata[f].nlevels;
		if (n > CB_RANDLIST_CELLS_MAX)
			return cb_err_set(err, CB_EINVAL,
					  "more than %d stratum cells",
					  CB_RANDLIST_CELLS_MAX);
	}
	l->nfactors = p->nstrata;
	l->factors = calloc(p->nstrata ? p->nstrata : 1, sizeof(char *));
	l->cells = calloc(n, sizeof(char *));
	if (!l->factors || !l->cells)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	for (f = 0; f < p->nstrata; f++)
		l->factors[f] = xstrdup(p->strata[f].name, &oom);
	l->ncells = n;
	for (c = 0; c < n; c++) {
		char buf[64 * (CB_RANDLIST_LEVEL_MAX + 1) + 2] = "";
		size_t off = 0;

		if (p->nstrata == 0)
			snprintf(buf, sizeof(buf), "-");
		for (f = 0; f < p->nstrata; f++) {
			const char *lv = p->strata[f].levels[idx[f]];
			size_t ln = strlen(lv);

			if (f)
				buf[off++] = '/';
			memcpy(buf + off, lv, ln);
			off += ln;
			buf[off] = '\0';
		}
		l->cells[c] = xstrdup(buf, &oom);
		/* odometer, last factor fastest */
		for (f = p->nstrata; f-- > 0;) {
			if (++idx[f] < p->strata[f].nlevels)
				break;
			idx[f] = 0;
		}
	}
	return oom ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
}

static int check_params(const struct cb_randlist_params *pa,
			unsigned *ratio_total, const unsigned **sizes,
			size_t *nsizes, struct cb_err *err)
{
	const struct cb_protocol *p = pa->protocol;
	size_t i, j;
	unsigned total = 0;
	char q[64];

	if (!p)
		return cb_err_set(err, CB_EINVAL, "no protocol");
	if (p->narms < 2)
		return cb_err_set(err, CB_EINVAL,
				  "the protocol has %zu arm(s); a "
				  "randomization list needs at least two",
				  p->narms);
	for (i = 0; i < p->narms; i++) {
		if (strlen(p->arms[i].code) > CB_RANDLIST_ARM_FIELD)
			return cb_err_set(err, CB_EINVAL,
					  "an arm code is longer than %u "
					  "bytes",
					  CB_RANDLIST_ARM_FIELD);
		total += p->arms[i].ratio;
	}
	if (total == 0)
		return cb_err_set(err, CB_EINVAL, "the arms' ratio total is 0");
	if (pa->nsites == 0)
		return cb_err_set(err, CB_EINVAL, "no sites given");
	if (pa->nsites > CB_RANDLIST_SITES_MAX)
		return cb_err_set(err, CB_EINVAL, "more than %d sites",
				  CB_RANDLIST_SITES_MAX);
	for (i = 0; i < pa->nsites; i++) {
		if (!cb_randlist_site_valid(pa->sites[i])) {
			cb_err_quote(pa->sites[i] ? pa->sites[i] : "", q,
				     sizeof(q));
			return cb_err_set(err, CB_EINVAL,
					  "site code \"%s\" is not 2-8 "
					  "capital letters and digits "
					  "starting with a letter (give "
					  "sites as KR01,KR02,KR03)",
					  q);
		}
		for (j = 0; j < i; j++)
			if (!strcmp(pa->sites[i], pa->sites[j]))
				return cb_err_set(err, CB_EINVAL,
						  "site %s is given twice",
						  pa->sites[i]);
	}
	if (pa->per_stratum < 1 ||
	    pa->per_stratum > CB_RANDLIST_PER_STRATUM_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "slots per stratum must be 1 to %d, not %u",
				  CB_RANDLIST_PER_STRATUM_MAX, pa->per_stratum);
	*sizes = pa->nblock_sizes ? pa->block_sizes : p->block_sizes;
	*nsizes = pa->nblock_sizes ? pa->nblock_sizes : p->nblock_sizes;
	if (*nsizes == 0)
		return cb_err_set(err, CB_EINVAL,
				  "no block sizes given and the protocol "
				  "names none");
	if (*nsizes > CB_RANDLIST_BLOCK_SIZES_MAX)
		return cb_err_set(err, CB_EINVAL, "more than %d block sizes",
				  CB_RANDLIST_BLOCK_SIZES_MAX);
	for (i = 0; i < *nsizes; i++) {
		unsigned b = (*sizes)[i];

		if (b < 1 || b > CB_RANDLIST_BLOCK_MAX)
			return cb_err_set(err, CB_EINVAL,
					  "block size %u is outside 1-%d", b,
					  CB_RANDLIST_BLOCK_MAX);
		if (b % total)
			return cb_err_set(err, CB_EINVAL,
					  "block size %u is not a multiple "
					  "of the arms' ratio total %u (the "
					  "protocol's ratio is %s)",
					  b, total,
					  p->narms == 2 && p->arms[0].ratio ==
							       p->arms[1].ratio
					      ? "equal"
					      : "unequal");
		for (j = 0; j < i; j++)
			if ((*sizes)[j] == b)
				return cb_err_set(err, CB_EINVAL,
						  "block size %u is given "
						  "twice",
						  b);
	}
	if (!pa->seed || pa->seed_len < CB_RANDLIST_SEED_MIN)
		return cb_err_set(err, CB_EINVAL,
				  "the seed is too short: use at least %d "
				  "characters of secret random text (anyone "
				  "who guesses the seed can recompute the "
				  "arms from the kit numbers)",
				  CB_RANDLIST_SEED_MIN);
	if (pa->seed_len > CB_RANDLIST_SEED_MAX)
		return cb_err_set(err, CB_EINVAL,
				  "the seed is longer than %d bytes",
				  CB_RANDLIST_SEED_MAX);
	*ratio_total = total;
	return 0;
}

/* Permuted blocks for one site and cell, appended to l->slots. */
static int plan_cell(const struct cb_protocol *p, struct cb_randlist *l,
		     const unsigned char master[CB_HASH_BYTES],
		     const char *site, const char *cell, const unsigned *sizes,
		     size_t nsizes, struct cb_err *err)
{
	char label[LABEL_MAX];
	struct drbg d;
	unsigned seq = 0, block = 0, i;
	size_t first = l->nslots, k;
	const char *arms[CB_RANDLIST_BLOCK_MAX];
	int oom = 0, width;

	/* each site and cell its own stream: a list for more sites keeps
	 * the arms of the others */
	snprintf(label, sizeof(label), "cell %s %s", site, cell);
	drbg_init(&d, master, label);
	while (seq < l->per_stratum) {
		unsigned size = sizes[drbg_uniform(&d, (uint32_t)nsizes)];
		unsigned n = 0, mult = size / l->ratio_total;
		size_t a;

		for (a = 0; a < p->narms; a++) {
			unsigned c;

			for (c = 0; c < p->arms[a].ratio * mult; c++)
				arms[n++] = p->arms[a].code;
		}
		/* check_params admits only positive multiples of the
		 * ratio total: the block is full. */
		assert(size > 0 && n == size);
		/* Fisher-Yates */
		for (i = size - 1; i > 0; i--) {
			uint32_t j = drbg_uniform(&d, i + 1);
			const char *t = arms[i];

			arms[i] = arms[j];
			arms[j] = t;
		}
		block++;
		for (i = 0; i < size; i++) {
			struct cb_randlist_slot *s = &l->slots[l->nslots++];

			s->site = xstrdup(site, &oom);
			s->stratum = xstrdup(cell, &oom);
			s->seq = ++seq;
			s->block = block;
			s->block_size = size;
			s->arm = xstrdup(arms[i], &oom);
		}
	}
	drbg_wipe(&d);
	width = seq_width(l->nslots - first);
	for (k = first; k < l->nslots; k++) {
		char rn[CB_RANDLIST_RANDNO_MAX];

		if (format_randno(site, cell, l->slots[k].seq, width, rn,
				  sizeof(rn)))
			return cb_err_set(err, CB_EINVAL,
					  "randomization number too long");
		l->slots[k].randno = xstrdup(rn, &oom);
	}
	return oom ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
}

/* Kit numbers: CB_RANDLIST_KIT_DIGITS digits, drawn without replacement. */
static int plan_kits(struct cb_randlist *l,
		     const unsigned char master[CB_HASH_BYTES],
		     struct cb_err *err)
{
	unsigned char *used = calloc(KIT_SPAN / 8 + 1, 1);
	struct drbg d;
	size_t i;

	if (!used)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	drbg_init(&d, master, "kits");
	for (i = 0; i < l->nslots; i++) {
		uint32_t x;

		do
			x = drbg_uniform(&d, KIT_SPAN);
		while (used[x / 8] & (1u << (x % 8)));
		used[x / 8] |= (unsigned char)(1u << (x % 8));
		snprintf(l->slots[i].kit, sizeof(l->slots[i].kit), "%06u",
			 (unsigned)(KIT_LOW + x));
	}
	drbg_wipe(&d);
	free(used);
	return 0;
}

int cb_randlist_plan(const struct cb_randlist_params *pa,
		     struct cb_randlist *out, struct cb_err *err)
{
	const struct cb_protocol *p = pa->protocol;
	unsigned char master[CB_HASH_BYTES];
	char commit[CB_HASH_HEX_SIZE];
	const unsigned *sizes = NULL;
	size_t nsizes = 0, i, c, bound, maxsize = 0;
	unsigned total = 0;
	int oom = 0, rc;

	memset(out, 0, sizeof(*out));
	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	rc = check_params(pa, &total, &sizes, &nsizes, err);
	if (rc)
		return rc;
	assert(nsizes > 0); /* check_params refuses a list of none */
	rc = build_cells(p, out, err);
	if (rc)
		goto fail;
	for (i = 0; i < nsizes; i++)
		if (sizes[i] > maxsize)
			maxsize = sizes[i];
	/* whole blocks until at least per_stratum: at most maxsize-1 over */
	bound = pa->nsites * out->ncells * (pa->per_stratum + maxsize - 1);
	if (bound > CB_RANDLIST_SLOTS_MAX) {
		rc = cb_err_set(err, CB_EINVAL,
				"the list could hold up to %zu slots, more "
				"than %d: fewer sites or slots per stratum",
				bound, CB_RANDLIST_SLOTS_MAX);
		goto fail;
	}
	out->per_stratum = pa->per_stratum;
	out->ratio_total = total;
	out->narms = (unsigned)p->narms;
	out->nblock_sizes = nsizes;
	out->block_sizes = calloc(nsizes, sizeof(unsigned));
	out->sites = calloc(pa->nsites, sizeof(*out->sites));
	out->slots = calloc(bound ? bound : 1, sizeof(*out->slots));
	if (!out->block_sizes || !out->sites || !out->slots) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(out->block_sizes, sizes, nsizes * sizeof(unsigned));
	out->nsites = pa->nsites;
	for (i = 0; i < pa->nsites; i++)
		out->sites[i].code = xstrdup(pa->sites[i], &oom);
	out->study_id = xstrdup(p->id, &oom);
	out->protocol_version = xstrdup(p->version, &oom);
	out->protocol_sha256 = xstrdup(p->sha256, &oom);
	out->tool = xstrdup("casebook " CB_VERSION, &oom);
	seed_master(pa->seed, pa->seed_len, master);
	commitment_of(master, commit);
	out->seed_commitment = xstrdup(commit, &oom);
	if (oom) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < pa->nsites && !rc; i++)
		for (c = 0; c < out->ncells && !rc; c++)
			rc = plan_cell(p, out, master, pa->sites[i],
				       out->cells[c], sizes, nsizes, err);
	if (!rc)
		rc = plan_kits(out, master, err);
	cb_wipe(master, sizeof(master));
	if (rc)
		goto fail;
	return 0;
fail:
	cb_wipe(master, sizeof(master));
	cb_randlist_release(out);
	return rc;
}

/* ---- Generation: keys, seals, JSON, signature -------------------------- */

void cb_randlist_output_release(struct cb_randlist_output *out)
{
	size_t i;

	if (!out)
		return;
	free(out->json);
	for (i = 0; out->sheets && i < out->nsheets; i++) {
		free(out->sheets[i].site);
		cb_wipe_free(out->sheets[i].text, out->sheets[i].len);
	}
	free(out->sheets);
	memset(out, 0, sizeof(*out));
}

/*
 * A code-break passphrase: CODEBREAK_CHARS characters of the RFC 4648
 * base32 alphabet (5 uniform bits each from a random byte, no bias), in
 * groups of CODEBREAK_GROUP joined by '-'. `out` has room for it.
 */
#define CODEBREAK_TEXT (CODEBREAK_CHARS + CODEBREAK_CHARS / CODEBREAK_GROUP)
static void codebreak_pass(char out[CODEBREAK_TEXT])
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char r[CODEBREAK_CHARS];
	size_t i, o = 0;

	cb_random_bytes(r, sizeof(r));
	for (i = 0; i < CODEBREAK_CHARS; i++) {
		if (i && i % CODEBREAK_GROUP == 0)
			out[o++] = '-';
		out[o++] = b32[r[i] & 31];
	}
	out[o] = '\0';
	cb_wipe(r, sizeof(r));
}

/*
 * The form a code-break passphrase is wrapped under: base32 letters only,
 * upper case, so a sheet read aloud or typed in lower case with or without
 * dashes and spaces still unlocks. *len gets its length.
 */
static void codebreak_normalize(const char *in, size_t in_len, char *out,
				size_t cap, size_t *len)
{
	size_t i, o = 0;

	for (i = 0; i < in_len && o + 1 < cap; i++) {
		char ch = in[i];

		if (ch == '-' || ch == ' ' || ch == '\t')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		out[o++] = ch;
	}
	out[o] = '\0';
	*len = o;
}

static void codebreak_slot(const char *site, const char *list_id, char *out,
			   size_t cap)
{
	snprintf(out, cap, "codebreak:%s:%s", site, list_id);
}

static char *sheet_text(const struct cb_randlist *l, const char *site,
			const char *pass, int *oom)
{
	return xprintf(
	    oom,
	    "CASEBOOK EMERGENCY CODE-BREAK SHEET\n"
	    "===================================\n"
	    "Study:     %s, protocol %s\n"
	    "Site:      %s\n"
	    "List:      %s\n"
	    "List key:  %s (compare with 'casebook randlist verify')\n"
	    "Created:   %s\n"
	    "\n"
	    "Code-break passphrase for site %s:\n"
	    "\n"
	    "    %s\n"
	    "\n"
	    "Keep this sheet sealed, with the site's principal investigator\n"
	    "only. In a medical emergency it reveals the treatment arm of one\n"
	    "subject at a time, with 'casebook unblind SUBJECT --reason "
	    "TEXT';\n"
	    "every use is recorded (who, when, why) and reported. It opens no\n"
	    "other site's arms. Never store it on the site laptop or send it\n"
	    "by e-mail. Letters may be typed in either case, with or without\n"
	    "the dashes.\n",
	    l->study_id, l->protocol_version, site, l->list_id, l->fingerprint,
	    l->created, site, pass);
}

static cJSON *add_str(cJSON *o, const char *key, const char *v, int *oom)
{
	cJSON *s = cJSON_CreateString(v ? v : "");

	if (!s || !cJSON_AddItemToObject(o, key, s)) {
		cJSON_Delete(s);
		*oom = 1;
		return NULL;
	}
	return s;
}

static void add_ustr(cJSON *o, const char *key, unsigned v, int *oom)
{
	char b[24];

	snprintf(b, sizeof(b), "%u", v);
	add_str(o, key, b, oom);
}

static void add_hex(cJSON *o, const char *key, const unsigned char *b, size_t n,
		    int *oom)
{
	char *h = malloc(CB_HEX_SIZE(n));

	if (!h || cb_hex_encode(b, n, h, CB_HEX_SIZE(n), NULL)) {
		*oom = 1;
		free(h);
		return;
	}
	add_str(o, key, h, oom);
	free(h);
}

static cJSON *add_child(cJSON *parent, const char *key, cJSON *child, int *oom)
{
	if (!child) {
		*oom = 1;
		return NULL;
	}
	if (key ? !cJSON_AddItemToObject(parent, key, child)
		: !cJSON_AddItemToArray(parent, child)) {
		cJSON_Delete(child);
		*oom = 1;
		return NULL;
	}
	return child;
}

static void arr_str(cJSON *arr, const char *v, int *oom)
{
	add_child(arr, NULL, cJSON_CreateString(v), oom);
}

/* Everything but the signature, in the shape docs/randlist.md gives. */
static cJSON *list_to_json(const struct cb_randlist *l, int *oom)
{
	cJSON *doc = cJSON_CreateObject(), *o, *a, *e;
	size_t i;

	if (!doc) {
		*oom = 1;
		return NULL;
	}
	add_str(doc, "format", CB_RANDLIST_FORMAT, oom);
	add_str(doc, "list_id", l->list_id, oom);
	add_str(doc, "created", l->created, oom);
	add_str(doc, "tool", l->tool, oom);
	o = add_child(doc, "study", cJSON_CreateObject(), oom);
	if (o) {
		add_str(o, "id", l->study_id, oom);
		add_str(o, "version", l->protocol_version, oom);
		add_str(o, "protocol_sha256", l->protocol_sha256, oom);
	}
	add_str(doc, "seed_commitment", l->seed_commitment, oom);
	o = add_child(doc, "parameters", cJSON_CreateObject(), oom);
	if (o) {
		a = add_child(o, "sites", cJSON_CreateArray(), oom);
		for (i = 0; a && i < l->nsites; i++)
			arr_str(a, l->sites[i].code, oom);
		a = add_child(o, "factors", cJSON_CreateArray(), oom);
		for (i = 0; a && i < l->nfactors; i++)
			arr_str(a, l->factors[i], oom);
		a = add_child(o, "cells", cJSON_CreateArray(), oom);
		for (i = 0; a && i < l->ncells; i++)
			arr_str(a, l->cells[i], oom);
		add_ustr(o, "per_stratum", l->per_stratum, oom);
		a = add_child(o, "block_sizes", cJSON_CreateArray(), oom);
		for (i = 0; a && i < l->nblock_sizes; i++) {
			char b[24];

			snprintf(b, sizeof(b), "%u", l->block_sizes[i]);
			arr_str(a, b, oom);
		}
		add_ustr(o, "ratio_total", l->ratio_total, oom);
		add_ustr(o, "arms", l->narms, oom);
		add_str(o, "fill", FILL_RULE, oom);
	}
	add_hex(doc, "unblinding_public_key", l->unblind_pub,
		sizeof(l->unblind_pub), oom);
	a = add_child(doc, "sites", cJSON_CreateArray(), oom);
	for (i = 0; a && i < l->nsites; i++) {
		const struct cb_randlist_site *s = &l->sites[i];

		e = add_child(a, NULL, cJSON_CreateObject(), oom);
		if (!e)
			break;
		add_str(e, "site", s->code, oom);
		add_hex(e, "codebreak_public_key", s->codebreak_pub,
			sizeof(s->codebreak_pub), oom);
		add_hex(e, "codebreak_key",
			(const unsigned char *)s->codebreak_key,
			strlen(s->codebreak_key), oom);
	}
	a = add_child(doc, "slots", cJSON_CreateArray(), oom);
	for (i = 0; a && i < l->nslots && !*oom; i++) {
		const struct cb_randlist_slot *s = &l->slots[i];

		e = add_child(a, NULL, cJSON_CreateObject(), oom);
		if (!e)
			break;
		add_str(e, "site", s->site, oom);
		add_str(e, "stratum", s->stratum, oom);
		add_ustr(e, "seq", s->seq, oom);
		add_ustr(e, "block", s->block, oom);
		add_ustr(e, "block_size", s->block_size, oom);
		add_str(e, "randno", s->randno, oom);
		add_str(e, "kit", s->kit, oom);
		add_hex(e, "arm_unblinding", s->seal_unblind,
			s->seal_unblind_len, oom);
		add_hex(e, "arm_site", s->seal_site, s->seal_site_len, oom);
	}
	add_hex(doc, "signing_public_key", l->sign_pub, sizeof(l->sign_pub),
		oom);
	return doc;
}

static void fingerprint_of(const unsigned char pk[CB_SIGN_PUBLIC_BYTES],
			   char out[CB_HEX_SIZE(8)])
{
	unsigned char h[CB_HASH_BYTES];

	cb_hash(pk, CB_SIGN_PUBLIC_BYTES, h);
	cb_hex_encode(h, 8, out, CB_HEX_SIZE(8), NULL);
}

/* Seal every arm twice, freeing the plaintext as it goes. */
static int seal_arms(struct cb_randlist *l, struct cb_box_keypair *site_kp,
		     struct cb_err *err)
{
	size_t i, s;
	int rc = 0;

	for (i = 0; i < l->nslots && !rc; i++) {
		struct cb_randlist_slot *sl = &l->slots[i];
		unsigned char *pl;
		size_t plen = 0;

		for (s = 0; s < l->nsites; s++)
			if (!strcmp(l->sites[s].code, sl->site))
				break;
		pl = arm_payload(l->list_id, sl->randno, sl->arm, &plen);
		if (!pl)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		rc = cb_seal_to(l->unblind_pub, pl, plen, &sl->seal_unblind,
				&sl->seal_unblind_len, err);
		if (!rc)
			rc = cb_seal_to(site_kp[s].pk, pl, plen, &sl->seal_site,
					&sl->seal_site_len, err);
		cb_wipe_free(pl, plen);
		cb_wipe_free(sl->arm, strlen(sl->arm));
		sl->arm = NULL;
	}
	return rc;
}

int cb_randlist_generate(const struct cb_randlist_params *params,
			 const unsigned char unblind_pub[CB_BOX_PUBLIC_BYTES],
			 struct cb_randlist_output *out, struct cb_err *err)
{
	struct cb_randlist l;
	struct cb_box_keypair *site_kp = NULL;
	struct cb_sign_keypair sign = {0};
	unsigned char id[16], sig[CB_SIGNATURE_BYTES];
	char idhex[CB_RANDLIST_ID_HEX + 1], now[CB_CLOCK_UTC_BUF];
	char sighex[CB_HEX_SIZE(CB_SIGNATURE_BYTES)];
	char **passes = NULL;
	cJSON *doc = NULL;
	char *canon = NULL, *printed = NULL;
	size_t canon_len = 0, i;
	int oom = 0, rc;

	memset(out, 0, sizeof(*out));
	rc = cb_randlist_plan(params, &l, err);
	if (rc)
		return rc;
	cb_random_bytes(id, sizeof(id));
	cb_hex_encode(id, sizeof(id), idhex, sizeof(idhex), NULL);
	cb_clock_format_utc(cb_clock_now_ms(), now);
	l.list_id = xstrdup(idhex, &oom);
	l.created = xstrdup(now, &oom);
	memcpy(l.unblind_pub, unblind_pub, CB_BOX_PUBLIC_BYTES);
	site_kp = calloc(l.nsites, sizeof(*site_kp));
	passes = calloc(l.nsites, sizeof(char *));
	out->sheets = calloc(l.nsites, sizeof(*out->sheets));
	if (oom || !site_kp || !passes || !out->sheets) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	rc = cb_sign_keypair_new(&sign, err);
	if (rc)
		goto out;
	memcpy(l.sign_pub, sign.pk, sizeof(l.sign_pub));
	fingerprint_of(l.sign_pub, l.fingerprint);

	for (i = 0; i < l.nsites; i++) {
		char norm[CODEBREAK_TEXT], slot[64];
		size_t nlen;

		rc = cb_box_keypair_new(&site_kp[i], err);
		if (rc)
			goto out;
		memcpy(l.sites[i].codebreak_pub, site_kp[i].pk,
		       CB_BOX_PUBLIC_BYTES);
		passes[i] = malloc(CODEBREAK_TEXT);
		if (!passes[i]) {
			rc = cb_err_set(err, CB_ENOMEM, "out of memory");
			goto out;
		}
		codebreak_pass(passes[i]);
		codebreak_normalize(passes[i], strlen(passes[i]), norm,
				    sizeof(norm), &nlen);
		codebreak_slot(l.sites[i].code, l.list_id, slot, sizeof(slot));
		rc = cb_key_wrap(site_kp[i].sk, norm, nlen, slot, NULL,
				 &l.sites[i].codebreak_key, err);
		cb_wipe(norm, sizeof(norm));
		if (rc)
			goto out;
	}
	rc = seal_arms(&l, site_kp, err);
	if (rc)
		goto out;

	doc = list_to_json(&l, &oom);
	if (oom || !doc) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	rc = cb_canon_encode(doc, &canon, &canon_len, err);
	if (rc) {
		cb_err_prefix(err, "encoding the list");
		goto out;
	}
	rc = cb_sign(sign.sk, canon, canon_len, sig, err);
	if (rc)
		goto out;
	cb_hex_encode(sig, sizeof(sig), sighex, sizeof(sighex), NULL);
	add_str(doc, "signature", sighex, &oom);
	printed = oom ? NULL : cJSON_Print(doc);
	if (!printed) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	out->json = xprintf(&oom, "%s\n", printed);
	out->json_len = out->json ? strlen(out->json) : 0;
	for (i = 0; i < l.nsites; i++) {
		out->sheets[i].site = xstrdup(l.sites[i].code, &oom);
		out->sheets[i].text =
		    sheet_text(&l, l.sites[i].code, passes[i], &oom);
		out->sheets[i].len =
		    out->sheets[i].text ? strlen(out->sheets[i].text) : 0;
		out->nsheets = i + 1;
	}
	if (oom) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
		goto out;
	}
	out->nslots = l.nslots;
	memcpy(out->list_id, l.list_id, sizeof(out->list_id));
	memcpy(out->fingerprint, l.fingerprint, sizeof(out->fingerprint));
out:
	if (rc)
		cb_randlist_output_release(out);
	cJSON_free(printed);
	free(canon);
	cJSON_Delete(doc);
	for (i = 0; i < l.nsites; i++) {
		if (site_kp)
			cb_box_keypair_release(&site_kp[i]);
		if (passes && passes[i])
			cb_wipe_free(passes[i], CODEBREAK_TEXT);
	}
	free(site_kp);
	free(passes);
	cb_sign_keypair_release(&sign);
	cb_randlist_release(&l);
	return rc;
}

/* ---- Loading ----------------------------------------------------------- */

void cb_randlist_problems_init(struct cb_randlist_problems *pr)
{
	memset(pr, 0, sizeof(*pr));
}

void cb_randlist_problems_release(struct cb_randlist_problems *pr)
{
	if (!pr)
		return;
	free_strv(pr->msgs, pr->count);
	memset(pr, 0, sizeof(*pr));
}

struct loader {
	struct cb_randlist_problems *pr;
	size_t nproblems;
	int oom;
};

static void problem(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct loader *ld, const char *fmt, ...)
{
	char buf[512];
	struct cb_err err;
	va_list ap;
	char **n;

	ld->nproblems++;
	if (!ld->pr)
		return;
	ld->pr->total++;
	if (ld->pr->count >= CB_RANDLIST_PROBLEMS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cb_array_grow((void **)&ld->pr->msgs, &ld->pr->cap_,
			  ld->pr->count + 1, sizeof(*ld->pr->msgs),
			  CB_RANDLIST_PROBLEMS_MAX, "problems", &err)) {
		ld->oom = 1;
		return;
	}
	n = ld->pr->msgs;
	n[ld->pr->count] = strdup(buf);
	if (!n[ld->pr->count])
		ld->oom = 1;
	else
		ld->pr->count++;
}

/* A required string member, else a problem naming path.key. */
static const char *req_str(struct loader *ld, const cJSON *o, const char *key,
			   const char *path)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v)) {
		problem(ld, "%s.%s: expected a string, found %s", path, key,
			cb_json_type_name(v));
		return NULL;
	}
	return v->valuestring;
}

/* Decimal without sign or leading zero, 1..max. 0 when not. */
static unsigned parse_count(const char *s, unsigned max)
{
	unsigned long v = 0;
	size_t i;

	if (!s || !s[0] || s[0] == '0' || strlen(s) > 9)
		return 0;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v > max ? 0 : (unsigned)v;
}

static unsigned req_count(struct loader *ld, const cJSON *o, const char *key,
			  unsigned max, const char *path)
{
	const char *s = req_str(ld, o, key, path);
	unsigned v;

	if (!s)
		return 0;
	v = parse_count(s, max);
	if (!v) {
		char q[40];

		cb_err_quote(s, q, sizeof(q));
		problem(ld, "%s.%s: \"%s\" is not a number from 1 to %u", path,
			key, q, max);
	}
	return v;
}

static void req_hex_key(struct loader *ld, const cJSON *o, const char *key,
			const char *path, unsigned char *out, size_t n)
{
	const char *s = req_str(ld, o, key, path);

	if (!s)
		return;
	if (!cb_hex_lower(s, 2 * n) ||
	    cb_hex_decode(s, 2 * n, out, n, NULL, NULL))
		problem(ld, "%s.%s: expected %zu lowercase hex digits", path,
			key, 2 * n);
}

/* A required array of strings, copied into *out (n in *n). */
static void req_strv(struct loader *ld, const cJSON *o, const char *key,
		     const char *path, size_t max, char ***out, size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *e;
	size_t i = 0, cnt;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(a)) {
		problem(ld, "%s.%s: expected an array, found %s", path, key,
			cb_json_type_name(a));
		return;
	}
	cnt = (size_t)cJSON_GetArraySize(a);
	if (cnt > max) {
		problem(ld, "%s.%s: more than %zu entries", path, key, max);
		return;
	}
	*out = calloc(cnt ? cnt : 1, sizeof(char *));
	if (!*out) {
		ld->oom = 1;
		return;
	}
	cJSON_ArrayForEach(e, a)
	{
		assert(i < cnt); /* counted above */
		if (!cJSON_IsString(e)) {
			problem(ld, "%s.%s[%zu]: expected a string, found %s",
				path, key, i, cb_json_type_name(e));
			(*out)[i] = xstrdup("", &ld->oom);
		} else {
			(*out)[i] = xstrdup(e->valuestring, &ld->oom);
		}
		/* Out of memory: none at all, rather than a NULL among
		 * them that the checks after this one would read. */
		if (!(*out)[i]) {
			free_strv(*out, i);
			*out = NULL;
			return;
		}
		i++;
	}
	*n = i;
}

static void load_header(struct loader *ld, const cJSON *doc,
			struct cb_randlist *l)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(doc, "study");
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(doc, "parameters");
	const char *s;
	char **v = NULL;
	size_t n = 0, i, j;
	int64_t ms;

	s = req_str(ld, doc, "list_id", "$");
	if (s && !cb_hex_lower(s, CB_RANDLIST_ID_HEX))
		problem(ld, "$.list_id: expected %d lowercase hex digits",
			CB_RANDLIST_ID_HEX);
	l->list_id = xstrdup(s, &ld->oom);
	s = req_str(ld, doc, "created", "$");
	if (s && cb_clock_parse_utc(s, &ms, NULL))
		problem(ld, "$.created: not a UTC time");
	l->created = xstrdup(s, &ld->oom);
	l->tool = xstrdup(req_str(ld, doc, "tool", "$"), &ld->oom);
	if (!cJSON_IsObject(st)) {
		problem(ld, "$.study: expected an object, found %s",
			cb_json_type_name(st));
	} else {
		l->study_id =
		    xstrdup(req_str(ld, st, "id", "$.study"), &ld->oom);
		l->protocol_version =
		    xstrdup(req_str(ld, st, "version", "$.study"), &ld->oom);
		s = req_str(ld, st, "protocol_sha256", "$.study");
		if (s && !cb_hex_lower(s, 64))
			problem(ld, "$.study.protocol_sha256: expected 64 "
				    "lowercase hex digits");
		l->protocol_sha256 = xstrdup(s, &ld->oom);
	}
	s = req_str(ld, doc, "seed_commitment", "$");
	if (s && !cb_hex_lower(s, 64))
		problem(ld, "$.seed_commitment: expected 64 lowercase hex "
			    "digits");
	l->seed_commitment = xstrdup(s, &ld->oom);
	req_hex_key(ld, doc, "unblinding_public_key", "$", l->unblind_pub,
		    sizeof(l->unblind_pub));
	req_hex_key(ld, doc, "signing_public_key", "$", l->sign_pub,
		    sizeof(l->sign_pub));

	if (!cJSON_IsObject(pa)) {
		problem(ld, "$.parameters: expected an object, found %s",
			cb_json_type_name(pa));
		return;
	}
	req_strv(ld, pa, "sites", "$.parameters", CB_RANDLIST_SITES_MAX, &v,
		 &n);
	l->sites = calloc(n ? n : 1, sizeof(*l->sites));
	if (!l->sites) {
		ld->oom = 1;
		free_strv(v, n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!cb_randlist_site_valid(v[i]))
			problem(ld, "$.parameters.sites[%zu]: not a site code",
				i);
		for (j = 0; j < i; j++)
			if (!strcmp(v[i], v[j]))
				problem(ld,
					"$.parameters.sites[%zu]: %s given "
					"twice",
					i, v[i]);
		l->sites[i].code = v[i];
	}
	free(v);
	l->nsites = n;
	if (n == 0)
		problem(ld, "$.parameters.sites: no sites");
	req_strv(ld, pa, "factors", "$.parameters", 64, &l->factors,
		 &l->nfactors);
	req_strv(ld, pa, "cells", "$.parameters", CB_RANDLIST_CELLS_MAX,
		 &l->cells, &l->ncells);
	if (l->ncells == 0)
		problem(ld, "$.parameters.cells: no stratum cells");
	for (i = 0; i < l->ncells; i++) {
		size_t slashes = 0;
		const char *c = l->cells[i];

		for (j = 0; c[j]; j++)
			slashes += c[j] == '/';
		if (l->nfactors == 0 ? strcmp(c, "-")
				     : slashes + 1 != l->nfactors)
			problem(ld,
				"$.parameters.cells[%zu]: \"%s\" does not "
				"have one level per factor",
				i, c);
		for (j = 0; j < i; j++)
			if (!strcmp(l->cells[i], l->cells[j]))
				problem(ld,
					"$.parameters.cells[%zu]: given "
					"twice",
					i);
	}
	l->per_stratum = req_count(ld, pa, "per_stratum",
				   CB_RANDLIST_PER_STRATUM_MAX, "$.parameters");
	l->ratio_total = req_count(ld, pa, "ratio_total", CB_RANDLIST_BLOCK_MAX,
				   "$.parameters");
	l->narms =
	    req_count(ld, pa, "arms", CB_RANDLIST_BLOCK_MAX, "$.parameters");
	if (l->narms && l->ratio_total && l->narms > l->ratio_total)
		problem(ld, "$.parameters: more arms than the ratio total");
	s = req_str(ld, pa, "fill", "$.parameters");
	if (s && strcmp(s, FILL_RULE))
		problem(ld, "$.parameters.fill: unknown rule");
	req_strv(ld, pa, "block_sizes", "$.parameters",
		 CB_RANDLIST_BLOCK_SIZES_MAX, &v, &n);
	l->block_sizes = calloc(n ? n : 1, sizeof(unsigned));
	if (!l->block_sizes)
		ld->oom = 1;
	for (i = 0; l->block_sizes && i < n; i++) {
		unsigned b = parse_count(v[i], CB_RANDLIST_BLOCK_MAX);

		if (!b)
			problem(ld,
				"$.parameters.block_sizes[%zu]: not a "
				"block size",
				i);
		else if (l->ratio_total && b % l->ratio_total)
			problem(ld,
				"$.parameters.block_sizes[%zu]: %u is not a "
				"multiple of the ratio total %u",
				i, b, l->ratio_total);
		for (j = 0; j < i; j++)
			if (b && l->block_sizes[j] == b)
				problem(ld,
					"$.parameters.block_sizes[%zu]: "
					"given twice",
					i);
		l->block_sizes[i] = b;
	}
	l->nblock_sizes = l->block_sizes ? n : 0;
	if (n == 0)
		problem(ld, "$.parameters.block_sizes: none");
	free_strv(v, n);
}

static void load_sites(struct loader *ld, const cJSON *doc,
		       struct cb_randlist *l)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "sites"), *e;
	size_t i = 0;

	if (!cJSON_IsArray(a)) {
		problem(ld, "$.sites: expected an array, found %s",
			cb_json_type_name(a));
		return;
	}
	if ((size_t)cJSON_GetArraySize(a) != l->nsites)
		problem(ld, "$.sites: %d entries for %zu sites",
			cJSON_GetArraySize(a), l->nsites);
	cJSON_ArrayForEach(e, a)
	{
		char path[40];
		const char *s, *h;
		size_t hl;

		if (i >= l->nsites)
			break;
		snprintf(path, sizeof(path), "$.sites[%zu]", i);
		s = req_str(ld, e, "site", path);
		if (s && strcmp(s, l->sites[i].code))
			problem(ld,
				"%s.site: %s, but parameters.sites[%zu] "
				"is %s",
				path, s, i, l->sites[i].code);
		req_hex_key(ld, e, "codebreak_public_key", path,
			    l->sites[i].codebreak_pub, CB_BOX_PUBLIC_BYTES);
		h = req_str(ld, e, "codebreak_key", path);
		hl = h ? strlen(h) : 0;
		if (h) {
			char *w = calloc(hl / 2 + 1, 1);

			if (!w) {
				ld->oom = 1;
			} else if (hl == 0 || !cb_hex_lower(h, hl) ||
				   cb_hex_decode(h, hl, (unsigned char *)w,
						 hl / 2, NULL, NULL) ||
				   strncmp(w, "argon2id$", 9) ||
				   strlen(w) != hl / 2) {
				problem(ld,
					"%s.codebreak_key: not the hex of "
					"a wrapped key",
					path);
				free(w);
			} else {
				l->sites[i].codebreak_key = w;
			}
		}
		i++;
	}
}

static void load_seal(struct loader *ld, const cJSON *e, const char *key,
		      const char *path, const char *randno, unsigned char **out,
		      size_t *out_len)
{
	const char *h = req_str(ld, e, key, path);
	size_t want, hl;

	if (!h || !randno)
		return;
	want = arm_payload_len(randno) + CB_BOX_SEAL_OVERHEAD;
	hl = strlen(h);
	if (hl != 2 * want || !cb_hex_lower(h, hl)) {
		problem(ld,
			"%s.%s: expected %zu lowercase hex digits (a "
			"sealed arm)",
			path, key, 2 * want);
		return;
	}
	*out = malloc(want);
	if (!*out) {
		ld->oom = 1;
		return;
	}
	if (cb_hex_decode(h, hl, *out, want, NULL, NULL)) {
		problem(ld, "%s.%s: bad hex", path, key);
		free(*out);
		*out = NULL;
		return;
	}
	*out_len = want;
}

static void load_slots(struct loader *ld, const cJSON *doc,
		       struct cb_randlist *l)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "slots"), *e;
	size_t n, i = 0;

	if (!cJSON_IsArray(a)) {
		problem(ld, "$.slots: expected an array, found %s",
			cb_json_type_name(a));
		return;
	}
	n = (size_t)cJSON_GetArraySize(a);
	if (n > CB_RANDLIST_SLOTS_MAX) {
		problem(ld, "$.slots: more than %d slots",
			CB_RANDLIST_SLOTS_MAX);
		return;
	}
	l->slots = calloc(n ? n : 1, sizeof(*l->slots));
	if (!l->slots) {
		ld->oom = 1;
		return;
	}
	l->nslots = n;
	cJSON_ArrayForEach(e, a)
	{
		struct cb_randlist_slot *s = &l->slots[i];
		char path[40];
		const char *v;

		snprintf(path, sizeof(path), "$.slots[%zu]", i);
		i++;
		if (!cJSON_IsObject(e)) {
			problem(ld, "%s: expected an object, found %s", path,
				cb_json_type_name(e));
			continue;
		}
		s->site = xstrdup(req_str(ld, e, "site", path), &ld->oom);
		s->stratum = xstrdup(req_str(ld, e, "stratum", path), &ld->oom);
		s->seq = req_count(ld, e, "seq", CB_RANDLIST_SLOTS_MAX, path);
		s->block =
		    req_count(ld, e, "block", CB_RANDLIST_SLOTS_MAX, path);
		s->block_size =
		    req_count(ld, e, "block_size", CB_RANDLIST_BLOCK_MAX, path);
		v = req_str(ld, e, "randno", path);
		if (v && strlen(v) >= CB_RANDLIST_RANDNO_MAX) {
			problem(ld, "%s.randno: too long", path);
			v = NULL;
		}
		s->randno = v ? xstrdup(v, &ld->oom) : NULL;
		v = req_str(ld, e, "kit", path);
		if (v && (strlen(v) != CB_RANDLIST_KIT_DIGITS ||
			  parse_count(v, 999999) < KIT_LOW))
			problem(ld, "%s.kit: not a %d-digit kit number", path,
				CB_RANDLIST_KIT_DIGITS);
		else if (v)
			memcpy(s->kit, v, CB_RANDLIST_KIT_DIGITS + 1);
		load_seal(ld, e, "arm_unblinding", path, s->randno,
			  &s->seal_unblind, &s->seal_unblind_len);
		load_seal(ld, e, "arm_site", path, s->randno, &s->seal_site,
			  &s->seal_site_len);
	}
}

/*
 * The rules the generator follows: slots grouped site by site (parameter
 * order), cell by cell (cell order), seq 1..n; blocks numbered from 1,
 * each of one size from the set, complete; whole blocks until at least
 * per_stratum; randomization numbers as format_randno; kits unique.
 */
static void check_structure(struct loader *ld, struct cb_randlist *l)
{
	size_t i = 0, s, c, k;
	unsigned char *kits;

	for (s = 0; s < l->nsites; s++)
		for (c = 0; c < l->ncells; c++) {
			const char *site = l->sites[s].code,
				   *cell = l->cells[c];
			size_t first = i, n;
			unsigned block = 0, in_block = 0, size = 0;
			int width;

			while (i < l->nslots && l->slots[i].site &&
			       l->slots[i].stratum &&
			       !strcmp(l->slots[i].site, site) &&
			       !strcmp(l->slots[i].stratum, cell))
				i++;
			n = i - first;
			if (n < l->per_stratum) {
				problem(ld,
					"site %s, stratum %s: %zu slots, "
					"fewer than %u",
					site, cell, n, l->per_stratum);
				continue;
			}
			width = seq_width(n);
			for (k = first; k < i; k++) {
				struct cb_randlist_slot *sl = &l->slots[k];
				char rn[CB_RANDLIST_RANDNO_MAX];
				size_t b;
				int in_set = 0;

				if (sl->seq != k - first + 1)
					problem(ld,
						"$.slots[%zu]: seq %u, "
						"expected %zu",
						k, sl->seq, k - first + 1);
				if (!format_randno(site, cell,
						   (unsigned)(k - first + 1),
						   width, rn, sizeof(rn)) &&
				    (!sl->randno || strcmp(rn, sl->randno)))
					problem(ld,
						"$.slots[%zu]: randomization "
						"number %s, expected %s",
						k, sl->randno ? sl->randno : "",
						rn);
				if (in_block == 0) {
					block++;
					size = sl->block_size;
					for (b = 0; b < l->nblock_sizes; b++)
						in_set |=
						    l->block_sizes[b] == size;
					if (!in_set)
						problem(ld,
							"$.slots[%zu]: block "
							"size %u is not in the "
							"set",
							k, size);
					/* the last block starts below N */
					if (k - first >= l->per_stratum)
						problem(ld,
							"site %s, stratum %s: "
							"block %u is not "
							"needed for %u slots",
							site, cell, block,
							l->per_stratum);
				}
				if (sl->block != block ||
				    sl->block_size != size)
					problem(ld,
						"$.slots[%zu]: block %u of "
						"size %u, expected block %u "
						"of size %u",
						k, sl->block, sl->block_size,
						block, size);
				in_block++;
				if (size && in_block == size)
					in_block = 0;
			}
			if (in_block)
				problem(ld,
					"site %s, stratum %s: the last block "
					"is incomplete",
					site, cell);
		}
	if (i < l->nslots)
		problem(ld,
			"$.slots[%zu]: site %s, stratum %s is not in the "
			"list's parameters, or out of order",
			i, l->slots[i].site ? l->slots[i].site : "?",
			l->slots[i].stratum ? l->slots[i].stratum : "?");

	kits = calloc(KIT_SPAN / 8 + 1, 1);
	if (!kits) {
		ld->oom = 1;
		return;
	}
	for (k = 0; k < l->nslots; k++) {
		unsigned v = parse_count(l->slots[k].kit, 999999);

		if (v < KIT_LOW)
			continue;
		v -= KIT_LOW;
		if (kits[v / 8] & (1u << (v % 8)))
			problem(ld, "$.slots[%zu].kit: %s is used twice", k,
				l->slots[k].kit);
		kits[v / 8] |= (unsigned char)(1u << (v % 8));
	}
	free(kits);
}

int cb_randlist_load(const char *text, size_t len, struct cb_randlist *out,
		     struct cb_randlist_problems *pr, struct cb_err *err)
{
	struct loader ld = {pr, 0, 0};
	cJSON *doc, *sig;
	const char *fmt;
	char *canon = NULL;
	size_t canon_len = 0;
	unsigned char sigb[CB_SIGNATURE_BYTES];
	int sig_ok = 0, rc, enc;

	memset(out, 0, sizeof(*out));
	if (pr)
		cb_randlist_problems_release(pr);
	rc = cb_crypto_init(err);
	if (rc)
		return rc;
	doc = cb_json_parse(text, len, CB_RANDLIST_FILE_MAX, "list", err);
	if (!doc)
		return err ? err->code : CB_EINVAL;
	if (!cJSON_IsObject(doc) || !(fmt = cb_json_str(doc, "format")) ||
	    strcmp(fmt, CB_RANDLIST_FORMAT)) {
		cJSON_Delete(doc);
		return cb_err_set(err, CB_EINVAL,
				  "not a randomization list (no \"format\": "
				  "\"%s\")",
				  CB_RANDLIST_FORMAT);
	}
	load_header(&ld, doc, out);
	load_sites(&ld, doc, out);
	load_slots(&ld, doc, out);
	if (!ld.oom)
		check_structure(&ld, out);

	sig = cJSON_DetachItemFromObjectCaseSensitive(doc, "signature");
	if (!cJSON_IsString(sig) || !cb_hex_lower(sig->valuestring, 128) ||
	    cb_hex_decode(sig->valuestring, 128, sigb, sizeof(sigb), NULL,
			  NULL)) {
		problem(&ld, "$.signature: expected 128 lowercase hex digits");
	} else if ((enc = cb_canon_encode(doc, &canon, &canon_len, err))) {
		/* Out of memory says nothing about the list. */
		if (enc == CB_ENOMEM)
			ld.oom = 1;
		else
			problem(&ld, "the list has no canonical encoding: %s",
				err ? err->msg : "");
	} else if (cb_verify(out->sign_pub, canon, canon_len, sigb, NULL)) {
		problem(&ld, "$.signature: does not verify: the list was "
			     "altered after signing");
	} else {
		sig_ok = 1;
	}
	free(canon);
	cJSON_Delete(sig);
	cJSON_Delete(doc);
	fingerprint_of(out->sign_pub, out->fingerprint);

	if (ld.oom)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	else if (!sig_ok)
		rc = cb_err_set(err, CB_EINTEGRITY,
				"the list's signature does not verify");
	else if (ld.nproblems)
		rc = cb_err_set(err, CB_EINVAL, "the list has %zu problem(s)",
				ld.nproblems);
	if (rc)
		cb_randlist_release(out);
	return rc;
}

/* ---- Opening arms ------------------------------------------------------ */

int cb_randlist_open_arm(const struct cb_randlist *list,
			 const struct cb_randlist_slot *slot,
			 enum cb_randlist_seal which,
			 const struct cb_box_keypair *kp, char **arm,
			 struct cb_err *err)
{
	const unsigned char *sealed = which == CB_RANDLIST_SEAL_SITE
					  ? slot->seal_site
					  : slot->seal_unblind;
	size_t sealed_len = which == CB_RANDLIST_SEAL_SITE
				? slot->seal_site_len
				: slot->seal_unblind_len;
	unsigned char *plain = NULL, *expect;
	size_t plain_len = 0, elen = 0, pre, i;
	int rc;

	*arm = NULL;
	if (!sealed || !slot->randno || !list->list_id)
		return cb_err_set(err, CB_EINVAL, "the slot has no sealed arm");
	rc = cb_seal_open(kp, sealed, sealed_len, &plain, &plain_len, err);
	if (rc)
		return rc;
	/* the expected text up to the arm field */
	expect = arm_payload(list->list_id, slot->randno, "", &elen);
	pre = elen - CB_RANDLIST_ARM_FIELD;
	if (!expect) {
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	} else if (plain_len != elen || memcmp(plain, expect, pre) ||
		   plain[pre] == '\0') {
		rc = cb_err_set(err, CB_EINTEGRITY,
				"the sealed arm of %s belongs to another slot "
				"or list",
				slot->randno);
	} else {
		/* NUL padding only after the code */
		for (i = pre; i < elen && plain[i]; i++)
			;
		for (; i < elen; i++)
			if (plain[i])
				rc = cb_err_set(err, CB_EINTEGRITY,
						"the sealed arm of %s is "
						"malformed",
						slot->randno);
		if (!rc) {
			*arm = strndup((const char *)plain + pre,
				       CB_RANDLIST_ARM_FIELD);
			if (!*arm)
				rc =
				    cb_err_set(err, CB_ENOMEM, "out of memory");
		}
	}
	free(expect);
	cb_wipe_free(plain, plain_len);
	return rc;
}

int cb_randlist_reveal(struct cb_randlist *list,
		       const struct cb_box_keypair *kp, struct cb_err *err)
{
	size_t i;
	int rc;

	if (!cb_ct_equal(kp->pk, list->unblind_pub, CB_BOX_PUBLIC_BYTES))
		return cb_err_set(err, CB_EAUTH,
				  "this is not the key the list was sealed "
				  "to (list %s)",
				  list->list_id ? list->list_id : "?");
	for (i = 0; i < list->nslots; i++) {
		struct cb_randlist_slot *s = &list->slots[i];

		if (s->arm) {
			cb_wipe_free(s->arm, strlen(s->arm));
			s->arm = NULL;
		}
		rc = cb_randlist_open_arm(list, s, CB_RANDLIST_SEAL_UNBLIND, kp,
					  &s->arm, err);
		if (rc)
			return rc;
	}
	return 0;
}

int cb_randlist_codebreak_unlock(const struct cb_randlist *list,
				 const char *site, const char *pass,
				 size_t pass_len, struct cb_box_keypair *kp,
				 struct cb_err *err)
{
	char norm[256], slot[64];
	struct cb_key *sk = NULL;
	size_t i, nlen = 0;
	int rc;

	memset(kp, 0, sizeof(*kp));
	for (i = 0; i < list->nsites; i++)
		if (!strcmp(list->sites[i].code, site))
			break;
	if (i == list->nsites || !list->sites[i].codebreak_key)
		return cb_err_set(err, CB_ENOTFOUND,
				  "site %s is not in the randomization list",
				  site);
	codebreak_normalize(pass, pass_len, norm, sizeof(norm), &nlen);
	codebreak_slot(site, list->list_id, slot, sizeof(slot));
	rc = cb_key_unwrap(list->sites[i].codebreak_key, norm, nlen, slot, &sk,
			   err);
	cb_wipe(norm, sizeof(norm));
	if (rc == CB_EAUTH)
		return cb_err_set(err, CB_EAUTH,
				  "wrong code-break passphrase for site %s",
				  site);
	if (rc)
		return rc;
	rc = cb_box_keypair_from_secret(sk->bytes, sk->len, kp, err);
	cb_key_free(sk);
	if (!rc && !cb_ct_equal(kp->pk, list->sites[i].codebreak_pub,
				CB_BOX_PUBLIC_BYTES)) {
		cb_box_keypair_release(kp);
		rc = cb_err_set(err, CB_EINTEGRITY,
				"site %s's code-break key does not match its "
				"public key",
				site);
	}
	return rc;
}
