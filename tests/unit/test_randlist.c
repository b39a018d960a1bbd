/*
 * test_randlist.c - the sealed randomization list (common/randlist.c):
 * blocks hold the arms exactly in ratio, block sizes come from the set,
 * the seed reproduces the list and another seed does not, kits are
 * unique, bad parameters are refused, a generated list loads, reveals to
 * its plan and opens with each site's code-break passphrase, and altered
 * lists, wrong keys and moved sealed arms are caught. What a user sees
 * through the CLI is in tests/e2e/t_randlist.sh.
 */
#include "t.h"

#include "canon.h"
#include "crypto.h"
#include "json.h"
#include "protocol.h"
#include "randlist.h"

static struct cb_protocol *knee;   /* 1:1, KLGRADE 2/3, blocks 2,4 */
static struct cb_protocol *uneven; /* knee with MSC:PBO 2:1, blocks 3,6 */
static const char *const sites3[] = {"KR01", "KR02", "KR03"};

static const char *top(void)
{
	const char *t = getenv("CASEBOOK_TOP");

	return t ? t : ".";
}

static struct cb_protocol *load_proto(int ratio2)
{
	char path[4096], *text = NULL, *printed;
	size_t len = 0;
	struct cb_err err;
	struct cb_protocol *p = NULL;
	cJSON *doc, *arms, *bs;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json", top());
	cb_err_clear(&err);
	if (cb_file_read(path, CB_PROTOCOL_FILE_MAX, &text, &len, &err)) {
		printf("# %s\n", err.msg);
		return NULL;
	}
	doc = cJSON_Parse(text);
	free(text);
	if (!doc)
		return NULL;
	if (ratio2) {
		arms = cJSON_GetObjectItem(doc, "arms");
		cJSON_SetNumberValue(
		    cJSON_GetObjectItem(cJSON_GetArrayItem(arms, 0), "ratio"),
		    2);
		bs = cJSON_GetObjectItem(
		    cJSON_GetObjectItem(doc, "randomization"), "block_sizes");
		cJSON_SetNumberValue(cJSON_GetArrayItem(bs, 0), 3);
		cJSON_SetNumberValue(cJSON_GetArrayItem(bs, 1), 6);
	}
	printed = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (cb_protocol_load_json(printed, strlen(printed), "test", &p, NULL,
				  &err))
		printf("# %s\n", err.msg);
	cJSON_free(printed);
	return p;
}

/* A seed text from the run's seed and a tag. */
static void seed_text(char *buf, size_t cap, const char *tag)
{
	snprintf(buf, cap, "test-seed-%llu-%s", (unsigned long long)t_seed(),
		 tag);
}

static void params_for(struct cb_randlist_params *pa,
		       const struct cb_protocol *p, unsigned n,
		       const char *seed)
{
	memset(pa, 0, sizeof(*pa));
	pa->protocol = p;
	pa->nsites = 3;
	pa->sites = sites3;
	pa->per_stratum = n;
	pa->seed = seed;
	pa->seed_len = strlen(seed);
}

/*
 * Every block of the list holds each arm exactly ratio * size / total
 * times; sizes come from the set; each site and cell has at least N slots
 * and no block beyond the one that reaches N. Returns a failure text or
 * NULL.
 */
static const char *check_blocks(const struct cb_protocol *p,
				const struct cb_randlist *l,
				const unsigned *set, size_t nset)
{
	size_t i = 0, a, k;

	while (i < l->nslots) {
		const struct cb_randlist_slot *s = &l->slots[i];
		unsigned size = s->block_size, count[8] = {0}, total = 0;
		int in_set = 0;

		for (k = 0; k < nset; k++)
			in_set |= set[k] == size;
		if (!in_set)
			return "block size not in the set";
		if (s->seq > l->per_stratum)
			return "a block starts after N slots";
		if (i + size > l->nslots)
			return "incomplete block";
		for (k = i; k < i + size; k++) {
			const struct cb_randlist_slot *t = &l->slots[k];

			if (t->block != s->block || strcmp(t->site, s->site) ||
			    strcmp(t->stratum, s->stratum) || !t->arm)
				return "block not contiguous";
			for (a = 0; a < p->narms; a++)
				if (!strcmp(t->arm, p->arms[a].code))
					count[a]++;
		}
		for (a = 0; a < p->narms; a++)
			total += p->arms[a].ratio;
		for (a = 0; a < p->narms; a++)
			if (count[a] * total != p->arms[a].ratio * size)
				return "arms not in ratio within a block";
		i += size;
		/* end of a site and cell: enough slots */
		if ((i == l->nslots || strcmp(l->slots[i].site, s->site) ||
		     strcmp(l->slots[i].stratum, s->stratum)) &&
		    l->slots[i - 1].seq < l->per_stratum)
			return "fewer than N slots";
	}
	return NULL;
}

static int same_plain(const struct cb_randlist *a, const struct cb_randlist *b)
{
	size_t i;

	if (a->nslots != b->nslots)
		return 0;
	for (i = 0; i < a->nslots; i++) {
		const struct cb_randlist_slot *x = &a->slots[i],
					      *y = &b->slots[i];

		if (strcmp(x->site, y->site) ||
		    strcmp(x->stratum, y->stratum) || x->seq != y->seq ||
		    x->block != y->block || x->block_size != y->block_size ||
		    strcmp(x->randno, y->randno) || strcmp(x->kit, y->kit) ||
		    !x->arm || !y->arm || strcmp(x->arm, y->arm))
			return 0;
	}
	return 1;
}

static void test_blocks_in_ratio(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l;
	struct cb_err err;
	char seed[64];
	unsigned n = 1 + (unsigned)(t_seed() % 60), i;
	const char *why;

	for (i = 0; i < 4; i++) {
		char tag[16];

		snprintf(tag, sizeof(tag), "r%u", i);
		seed_text(seed, sizeof(seed), tag);
		params_for(&pa, knee, n + i * 7, seed);
		T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
		T_EQ_INT(l.ncells, 2);
		T_EQ_STR(l.cells[0], "2");
		why = check_blocks(knee, &l, knee->block_sizes,
				   knee->nblock_sizes);
		cb_randlist_release(&l);
		if (why)
			T_FAIL_AT("%s (N=%u)", why, n + i * 7);
		T_ASSERT(!why);
	}
}

static void test_uneven_ratio(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l;
	struct cb_err err;
	char seed[64];
	const unsigned only6[] = {6};
	const char *why;

	T_ASSERT(uneven != NULL);
	seed_text(seed, sizeof(seed), "uneven");
	params_for(&pa, uneven, 25, seed);
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
	T_EQ_INT(l.ratio_total, 3);
	why =
	    check_blocks(uneven, &l, uneven->block_sizes, uneven->nblock_sizes);
	cb_randlist_release(&l);
	T_ASSERT(why == NULL);

	/* one block size given on the command line overrides the protocol */
	pa.nblock_sizes = 1;
	pa.block_sizes = only6;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
	why = check_blocks(uneven, &l, only6, 1);
	T_ASSERT(why == NULL);
	T_EQ_INT(l.slots[0].block_size, 6);
	cb_randlist_release(&l);
}

static void test_both_sizes_used(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l;
	struct cb_err err;
	char seed[64];
	size_t i, n2 = 0, n4 = 0;

	seed_text(seed, sizeof(seed), "sizes");
	params_for(&pa, knee, 200, seed);
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
	for (i = 0; i < l.nslots; i++) {
		n2 += l.slots[i].block_size == 2;
		n4 += l.slots[i].block_size == 4;
	}
	T_EQ_INT(n2 + n4, l.nslots);
	/* about a third of the slots in blocks of 2: far from 0 and all */
	T_ASSERT(n2 > l.nslots / 6 && n4 > l.nslots / 3);
	cb_randlist_release(&l);
}

static void test_same_seed_same_list(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist a, b;
	struct cb_err err;
	char seed[64];

	seed_text(seed, sizeof(seed), "same");
	params_for(&pa, knee, 30, seed);
	T_EQ_INT(cb_randlist_plan(&pa, &a, &err), 0);
	T_EQ_INT(cb_randlist_plan(&pa, &b, &err), 0);
	T_ASSERT(same_plain(&a, &b));
	T_EQ_STR(a.seed_commitment, b.seed_commitment);
	cb_randlist_release(&a);
	cb_randlist_release(&b);
}

static void test_other_seed_other_list(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist a, b;
	struct cb_err err;
	char s1[64], s2[64];
	size_t i, arms_differ = 0, kits_differ = 0;

	seed_text(s1, sizeof(s1), "one");
	seed_text(s2, sizeof(s2), "two");
	params_for(&pa, knee, 30, s1);
	T_EQ_INT(cb_randlist_plan(&pa, &a, &err), 0);
	params_for(&pa, knee, 30, s2);
	T_EQ_INT(cb_randlist_plan(&pa, &b, &err), 0);
	T_ASSERT(!same_plain(&a, &b));
	T_ASSERT(strcmp(a.seed_commitment, b.seed_commitment));
	for (i = 0; i < a.nslots && i < b.nslots; i++) {
		arms_differ += strcmp(a.slots[i].arm, b.slots[i].arm) != 0;
		kits_differ += strcmp(a.slots[i].kit, b.slots[i].kit) != 0;
	}
	T_ASSERT(arms_differ > 0);
	T_ASSERT(kits_differ > 0);
	cb_randlist_release(&a);
	cb_randlist_release(&b);
}

static void test_kits_unique(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l;
	struct cb_err err;
	char seed[64];
	size_t i, j, msc_low = 0, nmsc = 0;

	seed_text(seed, sizeof(seed), "kits");
	params_for(&pa, knee, 300, seed);
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
	for (i = 0; i < l.nslots; i++) {
		T_EQ_INT(strlen(l.slots[i].kit), CB_RANDLIST_KIT_DIGITS);
		T_ASSERT(l.slots[i].kit[0] != '0');
		for (j = 0; j < i; j++)
			if (!strcmp(l.slots[i].kit, l.slots[j].kit))
				T_FAIL_AT("kit %s used twice", l.slots[i].kit);
		if (!strcmp(l.slots[i].arm, "MSC")) {
			nmsc++;
			msc_low += strcmp(l.slots[i].kit, "550000") < 0;
		}
	}
	/* kits give no hint of the arm: MSC kits fall on both halves */
	T_ASSERT(msc_low > nmsc / 4 && msc_low < nmsc * 3 / 4);
	cb_randlist_release(&l);
}

static void test_bad_params_refused(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l;
	struct cb_err err;
	const unsigned bad[] = {2, 3}, dup[] = {4, 4};
	const char *const badsites[] = {"KR01", "kr02"};
	const char *const dupsites[] = {"KR01", "KR01"};

	params_for(&pa, knee, 10, "a-long-enough-seed");
	pa.nblock_sizes = 2;
	pa.block_sizes = bad;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "block size 3");
	T_CONTAINS(err.msg, "ratio total 2");
	pa.block_sizes = dup;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);

	params_for(&pa, uneven, 10, "a-long-enough-seed");
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), 0);
	cb_randlist_release(&l);
	pa.nblock_sizes = 1;
	pa.block_sizes = dup; /* 4 with ratio 2:1 */
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "ratio total 3");

	params_for(&pa, knee, 10, "a-long-enough-seed");
	pa.nsites = 2;
	pa.sites = badsites;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "kr02");
	pa.sites = dupsites;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	pa.nsites = 0;
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);

	params_for(&pa, knee, 10, "short");
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	T_CONTAINS(err.msg, "seed");
	params_for(&pa, knee, 0, "a-long-enough-seed");
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL);
	params_for(&pa, knee, CB_RANDLIST_PER_STRATUM_MAX, "a-long-enough-se");
	T_EQ_INT(cb_randlist_plan(&pa, &l, &err), CB_EINVAL); /* over caps */
}

/* A generated list with its keys, shared by the cases below. */
static struct cb_box_keypair unblind_kp;
static struct cb_randlist_output gen;
static char gen_seed[64];

static int make_list(void)
{
	struct cb_randlist_params pa;
	struct cb_err err;

	if (cb_box_keypair_new(&unblind_kp, &err))
		return -1;
	seed_text(gen_seed, sizeof(gen_seed), "gen");
	params_for(&pa, knee, 12, gen_seed);
	if (cb_randlist_generate(&pa, unblind_kp.pk, &gen, &err)) {
		printf("# %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void test_generate_load_reveal(void)
{
	struct cb_randlist_params pa;
	struct cb_randlist l, plan;
	struct cb_randlist_problems pr;
	struct cb_err err;
	size_t i;

	T_ASSERT(gen.json != NULL);
	T_EQ_INT(gen.nsheets, 3);
	cb_randlist_problems_init(&pr);
	T_EQ_INT(cb_randlist_load(gen.json, gen.json_len, &l, &pr, &err), 0);
	T_EQ_INT(pr.total, 0);
	T_EQ_STR(l.list_id, gen.list_id);
	T_EQ_STR(l.fingerprint, gen.fingerprint);
	T_EQ_STR(l.study_id, "knee-oa-msc");
	T_EQ_STR(l.protocol_sha256, knee->sha256);
	for (i = 0; i < l.nslots; i++)
		T_ASSERT(l.slots[i].arm == NULL);
	T_EQ_INT(cb_randlist_reveal(&l, &unblind_kp, &err), 0);
	params_for(&pa, knee, 12, gen_seed);
	T_EQ_INT(cb_randlist_plan(&pa, &plan, &err), 0);
	/* the revealed list is the plan the seed gives */
	T_ASSERT(same_plain(&l, &plan));
	T_ASSERT(check_blocks(knee, &l, knee->block_sizes,
			      knee->nblock_sizes) == NULL);
	T_EQ_STR(l.seed_commitment, plan.seed_commitment);
	cb_randlist_release(&plan);
	cb_randlist_release(&l);
	cb_randlist_problems_release(&pr);
}

static void test_no_plaintext_arm(void)
{
	size_t a;

	T_ASSERT(gen.json != NULL);
	for (a = 0; a < knee->narms; a++) {
		T_ASSERT(strstr(gen.json, knee->arms[a].code) == NULL);
		T_ASSERT(strstr(gen.json, knee->arms[a].label) == NULL);
	}
	T_ASSERT(strstr(gen.json, gen_seed) == NULL);
	for (a = 0; a < gen.nsheets; a++)
		T_ASSERT(strstr(gen.sheets[a].text, gen_seed) == NULL);
}

/* Replace the first `from` after `after` in a copy of the list. */
static char *edit(const char *text, const char *after, const char *from,
		  const char *to)
{
	const char *p = strstr(text, after), *q;
	size_t n = strlen(text) + strlen(to) + 1;
	char *out;

	if (!p || !(q = strstr(p, from)) || !(out = malloc(n)))
		return NULL;
	memcpy(out, text, (size_t)(q - text));
	snprintf(out + (q - text), n - (size_t)(q - text), "%s%s", to,
		 q + strlen(from));
	return out;
}

static void test_tampered_refused(void)
{
	struct cb_randlist l;
	struct cb_randlist_problems pr;
	struct cb_err err;
	char kit[16], *bad;
	const char *k;

	T_ASSERT(gen.json != NULL);
	cb_randlist_problems_init(&pr);
	k = strstr(gen.json, "\"kit\":");
	T_ASSERT(k != NULL);
	k = strchr(k + 6, '"');
	snprintf(kit, sizeof(kit), "%.6s", k + 1);
	/* a kit number changed by one digit */
	{
		char repl[16];

		snprintf(repl, sizeof(repl), "%.5s%c", kit,
			 kit[5] == '9' ? '0' : kit[5] + 1);
		bad = edit(gen.json, "\"kit\":", kit, repl);
	}
	T_ASSERT(bad != NULL);
	T_EQ_INT(cb_randlist_load(bad, strlen(bad), &l, &pr, &err),
		 CB_EINTEGRITY);
	T_CONTAINS(pr.msgs[pr.count - 1], "signature");
	free(bad);
	/* a different per-stratum count */
	bad = edit(gen.json, "\"per_stratum\":", "\"12\"", "\"13\"");
	T_ASSERT(bad != NULL);
	T_EQ_INT(cb_randlist_load(bad, strlen(bad), &l, &pr, &err),
		 CB_EINTEGRITY);
	free(bad);
	/* not a list */
	T_EQ_INT(cb_randlist_load("{}", 2, &l, &pr, &err), CB_EINVAL);
	T_EQ_INT(cb_randlist_load("[", 1, &l, &pr, &err), CB_EINVAL);
	cb_randlist_problems_release(&pr);
}

/* Re-sign a parsed list with a new key, as a forger who also replaced the
 * public key would: the structure checks must still catch what is wrong. */
static char *resign(cJSON *doc)
{
	struct cb_sign_keypair kp = {0};
	struct cb_err err;
	unsigned char sig[CB_SIGNATURE_BYTES];
	char hex[CB_HEX_SIZE(CB_SIGNATURE_BYTES)], pk[CB_HEX_SIZE(32)];
	char *canon = NULL, *out;
	size_t len;

	cJSON_DeleteItemFromObject(doc, "signature");
	if (cb_sign_keypair_new(&kp, &err))
		return NULL;
	cb_hex_encode(kp.pk, 32, pk, sizeof(pk), NULL);
	cJSON_ReplaceItemInObject(doc, "signing_public_key",
				  cJSON_CreateString(pk));
	if (cb_canon_encode(doc, &canon, &len, &err) ||
	    cb_sign(kp.sk, canon, len, sig, &err)) {
		free(canon);
		cb_sign_keypair_release(&kp);
		return NULL;
	}
	cb_hex_encode(sig, sizeof(sig), hex, sizeof(hex), NULL);
	cJSON_AddStringToObject(doc, "signature", hex);
	out = cJSON_PrintUnformatted(doc);
	free(canon);
	cb_sign_keypair_release(&kp);
	return out;
}

static int load_edited(void (*fn)(cJSON *slots),
		       struct cb_randlist_problems *pr)
{
	struct cb_randlist l;
	struct cb_err err;
	cJSON *doc = cJSON_Parse(gen.json);
	char *text;
	int rc;

	fn(cJSON_GetObjectItem(doc, "slots"));
	text = resign(doc);
	cJSON_Delete(doc);
	if (!text)
		return 99;
	rc = cb_randlist_load(text, strlen(text), &l, pr, &err);
	cJSON_free(text);
	if (!rc)
		cb_randlist_release(&l);
	return rc;
}

static void nothing(cJSON *slots)
{
	(void)slots;
}

static void dup_kit(cJSON *slots)
{
	cJSON *a = cJSON_GetArrayItem(slots, 0),
	      *b = cJSON_GetArrayItem(slots, 5);

	cJSON_ReplaceItemInObject(
	    b, "kit",
	    cJSON_CreateString(cJSON_GetObjectItem(a, "kit")->valuestring));
}

static void drop_last(cJSON *slots)
{
	cJSON_DeleteItemFromArray(slots, cJSON_GetArraySize(slots) - 1);
}

static void wrong_randno(cJSON *slots)
{
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(slots, 3), "randno",
				  cJSON_CreateString("R-KR01-2-099"));
}

static void wrong_seq(cJSON *slots)
{
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(slots, 2), "seq",
				  cJSON_CreateString("7"));
}

static void test_structure_checked(void)
{
	struct cb_randlist_problems pr;

	T_ASSERT(gen.json != NULL);
	cb_randlist_problems_init(&pr);
	/* the re-signing itself is fine */
	T_EQ_INT(load_edited(nothing, &pr), 0);
	T_EQ_INT(load_edited(dup_kit, &pr), CB_EINVAL);
	T_CONTAINS(pr.msgs[0], "used twice");
	T_EQ_INT(load_edited(drop_last, &pr), CB_EINVAL);
	T_EQ_INT(load_edited(wrong_randno, &pr), CB_EINVAL);
	T_CONTAINS(pr.msgs[0], "randomization number");
	T_EQ_INT(load_edited(wrong_seq, &pr), CB_EINVAL);
	cb_randlist_problems_release(&pr);
}

static void test_wrong_key_refused(void)
{
	struct cb_randlist l;
	struct cb_box_keypair other = {0};
	struct cb_err err;
	char *arm = NULL;

	T_ASSERT(gen.json != NULL);
	T_EQ_INT(cb_randlist_load(gen.json, gen.json_len, &l, NULL, &err), 0);
	T_EQ_INT(cb_box_keypair_new(&other, &err), 0);
	T_EQ_INT(cb_randlist_reveal(&l, &other, &err), CB_EAUTH);
	T_EQ_INT(cb_randlist_open_arm(&l, &l.slots[0], CB_RANDLIST_SEAL_UNBLIND,
				      &other, &arm, &err),
		 CB_EAUTH);
	T_ASSERT(arm == NULL);
	cb_box_keypair_release(&other);
	cb_randlist_release(&l);
}

static void test_moved_seal_refused(void)
{
	struct cb_randlist l;
	struct cb_err err;
	unsigned char *t;
	size_t tl;
	char *arm = NULL;

	T_ASSERT(gen.json != NULL);
	T_EQ_INT(cb_randlist_load(gen.json, gen.json_len, &l, NULL, &err), 0);
	/* slots 0 and 1 have randomization numbers of one length */
	t = l.slots[0].seal_unblind;
	tl = l.slots[0].seal_unblind_len;
	l.slots[0].seal_unblind = l.slots[1].seal_unblind;
	l.slots[0].seal_unblind_len = l.slots[1].seal_unblind_len;
	l.slots[1].seal_unblind = t;
	l.slots[1].seal_unblind_len = tl;
	T_EQ_INT(cb_randlist_open_arm(&l, &l.slots[0], CB_RANDLIST_SEAL_UNBLIND,
				      &unblind_kp, &arm, &err),
		 CB_EINTEGRITY);
	T_ASSERT(arm == NULL);
	cb_randlist_release(&l);
}

/* The passphrase line of a sheet: the indented line after "passphrase". */
static int sheet_pass(const char *sheet, char *out, size_t cap)
{
	const char *p = strstr(sheet, "passphrase for site");

	if (!p || !(p = strstr(p, "\n\n    ")))
		return -1;
	p += 6;
	snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
	return 0;
}

static void test_codebreak(void)
{
	struct cb_randlist l;
	struct cb_box_keypair kp = {0}, kp2 = {0};
	struct cb_err err;
	char pass[128], lower[128];
	char *arm = NULL, *arm2 = NULL;
	size_t i, s;

	T_ASSERT(gen.json != NULL);
	T_EQ_INT(cb_randlist_load(gen.json, gen.json_len, &l, NULL, &err), 0);
	T_EQ_STR(gen.sheets[1].site, "KR02");
	T_EQ_INT(sheet_pass(gen.sheets[1].text, pass, sizeof(pass)), 0);
	T_EQ_INT(strlen(pass), 29);
	T_ASSERT(strstr(gen.json, pass) == NULL);
	T_EQ_INT(cb_randlist_codebreak_unlock(&l, "KR02", pass, strlen(pass),
					      &kp, &err),
		 0);
	/* typed in lower case without dashes it still opens */
	for (i = 0, s = 0; pass[i]; i++)
		if (pass[i] != '-')
			lower[s++] = (char)(pass[i] >= 'A' && pass[i] <= 'Z'
						? pass[i] - 'A' + 'a'
						: pass[i]);
	lower[s] = '\0';
	T_EQ_INT(cb_randlist_codebreak_unlock(&l, "KR02", lower, s, &kp2, &err),
		 0);
	cb_box_keypair_release(&kp2);
	/* the wrong site's passphrase and a wrong one */
	T_EQ_INT(cb_randlist_codebreak_unlock(&l, "KR01", pass, strlen(pass),
					      &kp2, &err),
		 CB_EAUTH);
	T_EQ_INT(
	    cb_randlist_codebreak_unlock(&l, "KR02", "AAAA", 4, &kp2, &err),
	    CB_EAUTH);
	T_EQ_INT(cb_randlist_codebreak_unlock(&l, "KR09", pass, strlen(pass),
					      &kp2, &err),
		 CB_ENOTFOUND);
	/* KR02's key opens KR02's site copies, agreeing with the unblinding
	 * copy, and no other site's */
	for (i = 0; i < l.nslots; i++) {
		int mine = !strcmp(l.slots[i].site, "KR02");
		int rc = cb_randlist_open_arm(
		    &l, &l.slots[i], CB_RANDLIST_SEAL_SITE, &kp, &arm, &err);

		if (!mine) {
			T_EQ_INT(rc, CB_EAUTH);
			continue;
		}
		T_EQ_INT(rc, 0);
		T_EQ_INT(cb_randlist_open_arm(&l, &l.slots[i],
					      CB_RANDLIST_SEAL_UNBLIND,
					      &unblind_kp, &arm2, &err),
			 0);
		T_EQ_STR(arm, arm2);
		free(arm);
		free(arm2);
		arm = arm2 = NULL;
	}
	cb_box_keypair_release(&kp);
	cb_randlist_release(&l);
}

static void test_unblind_key_files(void)
{
	char *pub = NULL, *key = NULL, hex[CB_HEX_SIZE(32)];
	unsigned char pk[32], pk2[32];
	struct cb_box_keypair kp = {0};
	struct cb_err err;

	T_EQ_INT(
	    cb_unblind_key_create("a passphrase", 12, &pub, &key, hex, &err),
	    0);
	T_CONTAINS(pub, CB_UNBLIND_PUB_HEADER);
	T_CONTAINS(key, CB_UNBLIND_KEY_HEADER);
	T_CONTAINS(pub, hex);
	T_EQ_INT(cb_unblind_pub_parse(pub, strlen(pub), pk, &err), 0);
	T_EQ_INT(cb_unblind_pub_parse(key, strlen(key), pk2, &err), 0);
	T_ASSERT(!memcmp(pk, pk2, 32));
	T_EQ_INT(cb_unblind_key_unlock(key, strlen(key), "wrong pass", 10, &kp,
				       &err),
		 CB_EAUTH);
	T_EQ_INT(cb_unblind_key_unlock(key, strlen(key), "a passphrase", 12,
				       &kp, &err),
		 0);
	T_ASSERT(!memcmp(kp.pk, pk, 32));
	cb_box_keypair_release(&kp);
	T_EQ_INT(cb_unblind_key_unlock(pub, strlen(pub), "a passphrase", 12,
				       &kp, &err),
		 CB_EINVAL);
	T_EQ_INT(cb_unblind_pub_parse("hello\n", 6, pk, &err), CB_EINVAL);
	free(pub);
	cb_wipe_free(key, strlen(key));
	T_EQ_INT(cb_unblind_key_create("", 0, &pub, &key, hex, &err),
		 CB_EINVAL);
	T_ASSERT(pub == NULL && key == NULL);
}

int main(void)
{
	setenv("CASEBOOK_KDF_FAST", "1", 1);
	knee = load_proto(0);
	uneven = load_proto(1);
	if (!knee || !uneven) {
		printf("FAIL load_protocols: cannot load the knee protocol\n");
		return 1;
	}
	T_RUN(test_blocks_in_ratio);
	T_RUN(test_uneven_ratio);
	T_RUN(test_both_sizes_used);
	T_RUN(test_same_seed_same_list);
	T_RUN(test_other_seed_other_list);
	T_RUN(test_kits_unique);
	T_RUN(test_bad_params_refused);
	if (make_list())
		printf("FAIL make_list: generation failed\n");
	T_RUN(test_generate_load_reveal);
	T_RUN(test_no_plaintext_arm);
	T_RUN(test_tampered_refused);
	T_RUN(test_structure_checked);
	T_RUN(test_wrong_key_refused);
	T_RUN(test_moved_seal_refused);
	T_RUN(test_codebreak);
	T_RUN(test_unblind_key_files);
	cb_randlist_output_release(&gen);
	cb_box_keypair_release(&unblind_kp);
	cb_protocol_free(knee);
	cb_protocol_free(uneven);
	return t_done();
}
