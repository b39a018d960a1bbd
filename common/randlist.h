/*
 * randlist.h - the sealed randomization list: generation, signing,
 * verification and the keys that open it (DESIGN.md section 5).
 *
 * The independent statistician generates the list offline. For each site
 * and each stratum cell (one level of every stratification factor of the
 * protocol) it holds permuted blocks: block sizes drawn at random from a
 * given set, each block holding the arms exactly in the protocol ratio in
 * random order, whole blocks until at least `per_stratum` slots. Every
 * slot has a randomization number and a kit number; its arm is sealed
 * twice (crypto_box_seal), to the trial unblinding public key and to the
 * site's code-break public key, and never appears in the file in
 * plaintext. docs/randlist.md describes the file format.
 *
 * The random choices (block sizes, orders, kit numbers) come from a
 * deterministic stream keyed by a 32-byte BLAKE2b digest of the secret
 * seed text, so the same seed and parameters give the same slots, kits,
 * randomization numbers and arms. Sealed boxes and keys are freshly
 * random, so two generations never give the same bytes: reproduction is
 * checked on the revealed lists. The file records only a commitment to
 * the seed (the seed would let anyone regenerate the arms).
 *
 * Nothing here prints or touches files; the CLI (client/cmd_keygen.c,
 * client/cmd_randlist.c) reads and writes them. Errors follow err.h.
 */
#ifndef CB_RANDLIST_H
#define CB_RANDLIST_H

#include <stddef.h>

#include "crypto.h"
#include "err.h"
#include "protocol.h"

#define CB_RANDLIST_FORMAT "casebook-randlist/1"

/* Caps, checked by generation and by the loader. */
#define CB_RANDLIST_FILE_MAX (16u * 1024u * 1024u) /* bytes of list.json */
#define CB_RANDLIST_SITES_MAX 200
#define CB_RANDLIST_CELLS_MAX 256	 /* stratum cells per site */
#define CB_RANDLIST_PER_STRATUM_MAX 5000 /* --per-stratum */
#define CB_RANDLIST_SLOTS_MAX 10000	 /* slots in one list */
#define CB_RANDLIST_BLOCK_SIZES_MAX 16	 /* sizes in the set */
#define CB_RANDLIST_BLOCK_MAX 100	 /* largest block size */
#define CB_RANDLIST_LEVEL_MAX 16	 /* characters of a stratum level */
#define CB_RANDLIST_RANDNO_MAX 160	 /* bytes of a randomization no. */

/* Fewest characters of seed text accepted: a guessable seed would let
 * anyone regenerate the arms from the public kit numbers. */
#define CB_RANDLIST_SEED_MIN 16
#define CB_RANDLIST_SEED_MAX 1024

/* Kit numbers: this many decimal digits, the first not 0. */
#define CB_RANDLIST_KIT_DIGITS 6

/* List ids: 16 random bytes in lowercase hex. */
#define CB_RANDLIST_ID_HEX 32

/* Bytes of every sealed arm (a fixed size whatever the arm code). */
#define CB_RANDLIST_ARM_FIELD 32u

/* Wrap slots (cb_key_wrap's `slot`) of the keys in this module. */
#define CB_UNBLIND_KEY_SLOT "unblinding"
/* The code-break slot is "codebreak:" SITE ":" LIST_ID. */

/* ---- The trial unblinding key ----------------------------------------- */

/*
 * The two text files `casebook keygen` writes:
 *
 *   unblind.key.pub   casebook-unblinding-public-key/1
 *                     <64 hex digits of the X25519 public key>
 *
 *   unblind.key       casebook-unblinding-key/1
 *                     public <64 hex digits>
 *                     secret <cb_key_wrap text, slot "unblinding">
 */
#define CB_UNBLIND_PUB_HEADER "casebook-unblinding-public-key/1"
#define CB_UNBLIND_KEY_HEADER "casebook-unblinding-key/1"
/* Largest key file either reader accepts. */
#define CB_UNBLIND_FILE_MAX 4096u

/*
 * Generate an X25519 key pair and write both files' text: *pub_text and
 * *key_text, malloc'd, freed by the caller with free(). `pass` wraps the
 * secret (Argon2id, cb_kdf_params_init's cost). *pub_hex (65 bytes) gets
 * the public key in hex, for printing. CB_EINVAL for an empty passphrase.
 */
int cb_unblind_key_create(const char *pass, size_t pass_len, char **pub_text,
			  char **key_text, char pub_hex[CB_HEX_SIZE(32)],
			  struct cb_err *err);

/*
 * Read a public key from `len` bytes of either file's text (the .pub file,
 * or the public line of the key file). CB_EINVAL naming what is wrong.
 */
int cb_unblind_pub_parse(const char *text, size_t len,
			 unsigned char pk[CB_BOX_PUBLIC_BYTES],
			 struct cb_err *err);

/*
 * Unlock the key file's text with `pass` into *kp (freed with
 * cb_box_keypair_release). CB_EAUTH for a wrong passphrase (or an altered
 * file), CB_EINVAL for text that is not a key file, CB_EINTEGRITY when the
 * secret does not match the recorded public key.
 */
int cb_unblind_key_unlock(const char *text, size_t len, const char *pass,
			  size_t pass_len, struct cb_box_keypair *kp,
			  struct cb_err *err);

/* ---- The list in memory ----------------------------------------------- */

/* Which of a slot's two sealed copies of the arm. */
enum cb_randlist_seal {
	CB_RANDLIST_SEAL_UNBLIND, /* to the trial unblinding key */
	CB_RANDLIST_SEAL_SITE,	  /* to the site's code-break key */
};

struct cb_randlist_slot {
	char *site;	/* "KR01" */
	char *stratum;	/* the cell: levels joined by "/", "-" with none */
	unsigned seq;	/* 1.. within site and stratum, in assignment order */
	unsigned block; /* 1.. within site and stratum */
	unsigned block_size;
	char *randno; /* "R-KR01-2-001": see docs/randlist.md */
	char kit[CB_RANDLIST_KIT_DIGITS + 1];
	/* The plaintext arm code: set by cb_randlist_plan and by
	 * cb_randlist_reveal; NULL in a list just loaded. */
	char *arm;
	/* The sealed copies (NULL in a plan). */
	unsigned char *seal_unblind, *seal_site;
	size_t seal_unblind_len, seal_site_len;
};

struct cb_randlist_site {
	char *code;
	unsigned char codebreak_pub[CB_BOX_PUBLIC_BYTES];
	char *codebreak_key; /* cb_key_wrap text; NULL in a plan */
};

struct cb_randlist {
	char *study_id, *protocol_version, *protocol_sha256;
	char *tool;	       /* "casebook 0.1.0" */
	char *created;	       /* UTC, cb_clock_format_utc; NULL in a plan */
	char *list_id;	       /* CB_RANDLIST_ID_HEX; NULL in a plan */
	char *seed_commitment; /* 64 hex digits */

	size_t nfactors; /* stratification factor names, protocol order */
	char **factors;
	size_t ncells; /* stratum cells, in generation order */
	char **cells;
	unsigned per_stratum;
	size_t nblock_sizes;
	unsigned *block_sizes;
	unsigned ratio_total; /* sum of the arms' ratios */
	unsigned narms;

	size_t nsites; /* in the order given */
	struct cb_randlist_site *sites;
	/* site by site, cell by cell in `cells` order, seq ascending */
	size_t nslots;
	struct cb_randlist_slot *slots;

	unsigned char unblind_pub[CB_BOX_PUBLIC_BYTES];
	unsigned char sign_pub[CB_SIGN_PUBLIC_BYTES];
	/* hex of the first 8 bytes of BLAKE2b(sign_pub), for people to compare
	 * out of band; "" in a plan */
	char fingerprint[CB_HEX_SIZE(8)];
};

/* Free everything the list holds and zero it. NULL is allowed. */
void cb_randlist_release(struct cb_randlist *list);

/* ---- Generation -------------------------------------------------------- */

struct cb_randlist_params {
	const struct cb_protocol *protocol; /* arms, strata */
	size_t nsites;
	const char *const *sites; /* site codes: 2-8 of A-Z 0-9, letter first */
	unsigned per_stratum;	  /* slots wanted per site and cell, >= 1 */
	size_t nblock_sizes;	  /* 0: the protocol's block sizes */
	const unsigned *block_sizes;
	const char *seed; /* secret text, CB_RANDLIST_SEED_MIN.. characters */
	size_t seed_len;
};

/* 1 when `code` is a valid site code (2-8 of A-Z 0-9, a letter first). */
int cb_randlist_site_valid(const char *code);

/*
 * The plain list the parameters give, arms included, and nothing
 * sealed: deterministic in the parameters and the seed. Fills *out (the
 * caller releases it with cb_randlist_release). CB_EINVAL with a message
 * naming the parameter: a bad or repeated site code, a block size that is
 * not a multiple of the arms' ratio total (naming both), a repeated block
 * size, a short seed, a protocol without arms, a level unfit for a
 * randomization number, or a list over the caps.
 */
int cb_randlist_plan(const struct cb_randlist_params *params,
		     struct cb_randlist *out, struct cb_err *err);

/* One site's emergency code-break sheet. */
struct cb_randlist_sheet {
	char *site;
	char *text; /* the sheet: passphrase included; cb_wipe_free it */
	size_t len;
};

struct cb_randlist_output {
	char *json; /* list.json, signed; free() */
	size_t json_len;
	size_t nsheets; /* one per site, in site order */
	struct cb_randlist_sheet *sheets;
	size_t nslots;
	char list_id[CB_RANDLIST_ID_HEX + 1];
	char fingerprint[CB_HEX_SIZE(8)];
};

/* Free (and wipe the sheets of) an output. NULL is allowed. */
void cb_randlist_output_release(struct cb_randlist_output *out);

/*
 * Generate, seal and sign a list: cb_randlist_plan, then a code-break key
 * pair per site with its secret wrapped under a generated passphrase
 * (written only to that site's sheet), every arm sealed to
 * `unblind_pub` and to the site's key, and an Ed25519 signature by a
 * fresh list key over the canonical encoding of everything else. Fills
 * *out. Errors as cb_randlist_plan, and CB_ENOMEM.
 */
int cb_randlist_generate(const struct cb_randlist_params *params,
			 const unsigned char unblind_pub[CB_BOX_PUBLIC_BYTES],
			 struct cb_randlist_output *out, struct cb_err *err);

/* ---- Loading and verification ----------------------------------------- */

/* Problems found by one load, as "where: what" lines. */
#define CB_RANDLIST_PROBLEMS_MAX 50
struct cb_randlist_problems {
	size_t count; /* kept, at most CB_RANDLIST_PROBLEMS_MAX */
	size_t total; /* found */
	char **msgs;
	size_t cap_; /* msgs allocated */
};

void cb_randlist_problems_init(struct cb_randlist_problems *pr);
void cb_randlist_problems_release(struct cb_randlist_problems *pr);

/*
 * Parse and verify `len` bytes of list.json into *out: the signature
 * over the canonical encoding of everything but "signature", then the
 * structure (every slot well formed, sequence numbers and blocks
 * consistent per site and cell, block sizes from the set and multiples of
 * the ratio total, enough slots, randomization numbers as the format
 * says, kit numbers unique, sealed arms of the one size). Every problem
 * found goes to `pr` (when not NULL). Returns 0 for a good list;
 * CB_EINTEGRITY when the signature does not verify; CB_EINVAL when the
 * structure is wrong or it is not a list at all; CB_ETOOBIG, CB_ENOMEM.
 * On failure *out is released.
 */
int cb_randlist_load(const char *text, size_t len, struct cb_randlist *out,
		     struct cb_randlist_problems *pr, struct cb_err *err);

/*
 * Open one sealed copy of a slot's arm with the key pair it was sealed
 * to, checking that the sealed text names this list and this slot (so a
 * sealed arm moved to another slot does not open). *arm gets the arm
 * code, malloc'd (free()). CB_EAUTH when the key is not the right one,
 * CB_EINTEGRITY when the box opens but names another slot.
 */
int cb_randlist_open_arm(const struct cb_randlist *list,
			 const struct cb_randlist_slot *slot,
			 enum cb_randlist_seal which,
			 const struct cb_box_keypair *kp, char **arm,
			 struct cb_err *err);

/*
 * Open every slot's unblinding copy with the trial unblinding key pair,
 * setting each slot's `arm`. CB_EAUTH when kp is not the list's unblinding
 * key; CB_EINTEGRITY as cb_randlist_open_arm.
 */
int cb_randlist_reveal(struct cb_randlist *list,
		       const struct cb_box_keypair *kp, struct cb_err *err);

/*
 * Unwrap site `site`'s code-break secret with the passphrase from its
 * sheet into *kp (cb_box_keypair_release). CB_ENOTFOUND for a site not in
 * the list, CB_EAUTH for a wrong passphrase.
 */
int cb_randlist_codebreak_unlock(const struct cb_randlist *list,
				 const char *site, const char *pass,
				 size_t pass_len, struct cb_box_keypair *kp,
				 struct cb_err *err);

/*
 * The hex commitment the file records for `seed` (64 hex digits and a
 * NUL), so the statistician can check a seed belongs to a list.
 */
void cb_randlist_seed_commitment(const char *seed, size_t seed_len,
				 char out[CB_HASH_HEX_SIZE]);

#endif
