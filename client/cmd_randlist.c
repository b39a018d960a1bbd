/*
 * cmd_randlist.c - `casebook randlist generate|verify|reveal`: the
 * independent statistician's offline tools for the sealed randomization
 * list (DESIGN.md section 5, docs/randlist.md).
 *
 * generate writes list.json (no arm in plaintext, signed) and one
 * code-break sheet per site; verify checks a list as a server will before
 * importing it; reveal opens every arm with the trial unblinding key.
 * The work is in common/randlist.c; this file reads and writes the files
 * and prints.
 */
#include "cli.h"
#include "fileio.h"
#include "crypto.h"
#include "jout.h"
#include "json.h"
#include "pass.h"
#include "protocol.h"
#include "randlist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_randlist_help[] =
    "usage: casebook randlist generate --protocol FILE --sites S1,S2,...\n"
    "                 --per-stratum N [--block-sizes B1,B2,...]\n"
    "                 (--seed TEXT | --seed-file FILE)\n"
    "                 --unblinding-pub FILE --out LIST\n"
    "       casebook randlist verify LIST [--protocol FILE]\n"
    "                 [--seed TEXT | --seed-file FILE] [--json]\n"
    "       casebook randlist reveal LIST --key FILE [--csv | --json]\n"
    "\n"
    "The independent statistician's offline tools; no store, no server.\n"
    "\n"
    "generate  Stratified permuted blocks for every site and stratum cell\n"
    "          of the protocol: block sizes drawn at random from\n"
    "          --block-sizes (default: the protocol's), each a multiple of\n"
    "          the arms' ratio total and holding the arms exactly in ratio;\n"
    "          whole blocks until at least N slots per site and stratum.\n"
    "          Each slot gets a randomization number and a random 6-digit\n"
    "          kit number, and its arm sealed to the unblinding key\n"
    "          (FILE from 'casebook keygen') and to the site's code-break\n"
    "          key. Writes LIST (signed; no arm in plaintext, only a\n"
    "          commitment to the seed) and, per site, LIST.SITE.codebreak.txt\n"
    "          (mode 0600) with the site's code-break passphrase: give each\n"
    "          sealed to that site's investigator. The seed (at least 16\n"
    "          characters of secret random text) reproduces the same slots,\n"
    "          kits and arms; keep it with the unblinded statistician.\n"
    "          Existing files are never overwritten.\n"
    "verify    Check LIST's signature and structure and print a summary\n"
    "          with the signing key's fingerprint (compare it with the one\n"
    "          the statistician reports). --protocol also checks that LIST\n"
    "          was made for that protocol file; --seed that it was made\n"
    "          with that seed. --json prints the summary as {\"file\",\n"
    "          \"study\",\"protocol_version\",\"protocol_sha256\",\"list\",\n"
    "          \"created\",\"tool\",\"fingerprint\",\"sites\",\"factors\",\n"
    "          \"cells\",\"block_sizes\",\"arms\",\"ratio_total\",\"slots\",\n"
    "          \"per_stratum\",\"seed_checked\",\"protocol_checked\"}.\n"
    "reveal    Open every arm with the unblinding secret key FILE (its\n"
    "          passphrase from --passphrase-file, $CASEBOOK_PASSPHRASE or\n"
    "          the terminal) and print site, stratum, seq, block,\n"
    "          randomization number, kit and arm as aligned text, or CSV\n"
    "          with --csv, or with --json as {\"slots\":[{\"site\",\n"
    "          \"stratum\",\"seq\",\"block\",\"randno\",\"kit\",\"arm\"}]}.\n"
    "          For the unblinded statistician only.\n"
    "\n"
    "Example:\n"
    "  casebook randlist generate --protocol schemas/knee-oa-msc.json \\\n"
    "      --sites KR01,KR02,KR03 --per-stratum 40 --block-sizes 2,4 \\\n"
    "      --seed-file seed.txt --unblinding-pub unblind.key.pub \\\n"
    "      --out list.json\n"
    "\n"
    "Exit codes: 0 done (verify: the list is good); 1 failure (verify:\n"
    "the list has problems, printed one per line); 2 usage, or parameters\n"
    "that cannot make a list (bad site code, block size not a multiple of\n"
    "the ratio total, short seed); 4 wrong passphrase or wrong key.\n";

/* Split "a,b,c" into a malloc'd vector of pointers into `copy`. */
static int split_list(char *copy, char ***out, size_t *n)
{
	size_t cap = 1, i;
	char *p;

	for (p = copy; *p; p++)
		cap += *p == ',';
	*out = calloc(cap, sizeof(char *));
	if (!*out)
		return -1;
	*n = 0;
	p = copy;
	for (i = 0; i < cap; i++) {
		char *c = strchr(p, ',');

		if (c)
			*c = '\0';
		(*out)[(*n)++] = p;
		if (c)
			p = c + 1;
	}
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (!s[0] || strlen(s) > 9)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The seed from --seed or the first line of --seed-file. */
static int read_seed(const char *seed, const char *seed_file, char **out,
		     size_t *len, struct cb_err *err)
{
	char *buf = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (seed) {
		*out = strdup(seed);
		if (!*out)
			return cb_err_set(err, CB_ENOMEM, "out of memory");
		*len = strlen(seed);
		return 0;
	}
	rc = cb_file_read(seed_file, CB_RANDLIST_SEED_MAX + 2, &buf, &n, err);
	if (rc)
		return cb_err_prefix(err, "reading the seed");
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static void free_seed(char *seed, size_t len)
{
	if (seed)
		cb_wipe_free(seed, len);
}

/* ---- generate ---------------------------------------------------------- */

struct gen_opts {
	const char *protocol, *sites, *per_stratum, *block_sizes;
	const char *seed, *seed_file, *unblind_pub, *out;
};

static int sheet_path(const char *out, const char *site, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s.%s.codebreak.txt", out, site);

	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int generate(int argc, char **argv)
{
	struct gen_opts o = {0};
	struct cb_protocol *proto = NULL;
	struct cb_protocol_problems pr;
	struct cb_randlist_params params = {0};
	struct cb_randlist_output res = {0};
	struct cb_err err;
	unsigned char pk[CB_BOX_PUBLIC_BYTES];
	unsigned *sizes = NULL;
	char *sites_copy = NULL, *sizes_copy = NULL, **sitev = NULL;
	char **sizev = NULL, *seed = NULL, *pubtext = NULL;
	char path[4096];
	size_t nsites = 0, nsizes = 0, seed_len = 0, publen = 0, i, written = 0;
	int rc = EXIT_FAIL, a;

	cb_err_clear(&err);
	cb_protocol_problems_init(&pr);
	for (a = 2; a < argc; a++) {
		const char *k = argv[a];
		const char **slot =
		    !strcmp(k, "--protocol")	     ? &o.protocol
		    : !strcmp(k, "--sites")	     ? &o.sites
		    : !strcmp(k, "--per-stratum")    ? &o.per_stratum
		    : !strcmp(k, "--block-sizes")    ? &o.block_sizes
		    : !strcmp(k, "--seed")	     ? &o.seed
		    : !strcmp(k, "--seed-file")	     ? &o.seed_file
		    : !strcmp(k, "--unblinding-pub") ? &o.unblind_pub
		    : !strcmp(k, "--out")	     ? &o.out
						     : NULL;

		if (!slot || a + 1 >= argc)
			return cli_usage("randlist", "unexpected argument '%s'",
					 k);
		*slot = argv[++a];
	}
	if (!o.protocol || !o.sites || !o.per_stratum || !o.unblind_pub ||
	    !o.out)
		return cli_usage("randlist",
				 "generate needs --protocol, --sites, "
				 "--per-stratum, --unblinding-pub and --out");
	if (!o.seed == !o.seed_file)
		return cli_usage("randlist",
				 "give the seed with exactly one of --seed "
				 "and --seed-file");
	if (parse_uint(o.per_stratum, CB_RANDLIST_PER_STRATUM_MAX,
		       &params.per_stratum))
		return cli_usage("randlist",
				 "--per-stratum must be a number from 1 to %d",
				 CB_RANDLIST_PER_STRATUM_MAX);

	sites_copy = strdup(o.sites);
	if (!sites_copy || split_list(sites_copy, &sitev, &nsites)) {
		rc = cli_error("out of memory");
		goto out;
	}
	for (i = 0; i < nsites; i++)
		if (!cb_randlist_site_valid(sitev[i])) {
			rc = cli_usage("randlist",
				       "--sites: \"%.40s\" is not a site code "
				       "(2-8 capital letters and digits, a "
				       "letter first); give a comma-separated "
				       "list such as KR01,KR02,KR03",
				       sitev[i]);
			goto out;
		}
	if (o.block_sizes) {
		sizes_copy = strdup(o.block_sizes);
		if (!sizes_copy || split_list(sizes_copy, &sizev, &nsizes) ||
		    !(sizes = calloc(nsizes, sizeof(unsigned)))) {
			rc = cli_error("out of memory");
			goto out;
		}
		for (i = 0; i < nsizes; i++)
			if (parse_uint(sizev[i], CB_RANDLIST_BLOCK_MAX,
				       &sizes[i])) {
				rc =
				    cli_usage("randlist",
					      "--block-sizes: \"%.20s\" is not "
					      "a block size from 1 to %d",
					      sizev[i], CB_RANDLIST_BLOCK_MAX);
				goto out;
			}
	}

	if (cb_protocol_load_file(o.protocol, &proto, &pr, &err)) {
		fprintf(stderr, "casebook: error: %s\n", err.msg);
		for (i = 0; i < pr.count; i++)
			fprintf(stderr, "  %s\n", pr.msgs[i]);
		rc = EXIT_FAIL;
		goto out;
	}
	if (cb_file_read(o.unblind_pub, CB_UNBLIND_FILE_MAX, &pubtext, &publen,
			 &err) ||
	    cb_unblind_pub_parse(pubtext, publen, pk, &err)) {
		cb_err_prefix(&err, "%s", o.unblind_pub);
		rc = cli_fail(&err);
		goto out;
	}
	if (read_seed(o.seed, o.seed_file, &seed, &seed_len, &err)) {
		rc = cli_fail(&err);
		goto out;
	}

	/* refuse before writing anything */
	if (!access(o.out, F_OK)) {
		rc = cli_error("%s exists; generate never overwrites a list",
			       o.out);
		goto out;
	}
	for (i = 0; i < nsites; i++) {
		if (sheet_path(o.out, sitev[i], path, sizeof(path))) {
			rc = cli_error("--out path too long");
			goto out;
		}
		if (!access(path, F_OK)) {
			rc = cli_error("%s exists; generate never overwrites "
				       "a code-break sheet",
				       path);
			goto out;
		}
	}

	params.protocol = proto;
	params.nsites = nsites;
	params.sites = (const char *const *)sitev;
	params.nblock_sizes = nsizes;
	params.block_sizes = sizes;
	params.seed = seed;
	params.seed_len = seed_len;
	pass_warn_test_cost("the code-break keys");
	if (cb_randlist_generate(&params, pk, &res, &err)) {
		fprintf(stderr, "casebook: error: %s\n", err.msg);
		rc = err.code == CB_EINVAL ? EXIT_USAGE
					   : cli_exit_code(err.code);
		goto out;
	}
	if (fileio_write_new(o.out, res.json, res.json_len, 0644, &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	for (i = 0; i < res.nsheets; i++) {
		sheet_path(o.out, res.sheets[i].site, path, sizeof(path));
		if (fileio_write_new(path, res.sheets[i].text,
				     res.sheets[i].len, 0600, &err)) {
			size_t j;

			for (j = 0; j < written; j++) {
				sheet_path(o.out, res.sheets[j].site, path,
					   sizeof(path));
				unlink(path);
			}
			unlink(o.out);
			rc = cli_fail(&err);
			goto out;
		}
		written++;
	}
	printf("list %s: %zu slots for sites %s\n", res.list_id, res.nslots,
	       o.sites);
	printf("signing key fingerprint: %s\n", res.fingerprint);
	printf("wrote %s\n", o.out);
	for (i = 0; i < res.nsheets; i++) {
		sheet_path(o.out, res.sheets[i].site, path, sizeof(path));
		printf("wrote %s (code-break sheet for %s: seal it, give it to "
		       "the site's investigator only)\n",
		       path, res.sheets[i].site);
	}
	rc = EXIT_OK;
out:
	cb_randlist_output_release(&res);
	free_seed(seed, seed_len);
	free(pubtext);
	free(sizes);
	free(sizev);
	free(sizes_copy);
	free(sitev);
	free(sites_copy);
	cb_protocol_problems_release(&pr);
	cb_protocol_free(proto);
	return rc;
}

/* ---- verify and reveal ------------------------------------------------- */

/* Read and load LIST; prints problems. Returns an exit code. */
static int load_list(const char *path, struct cb_randlist *list)
{
	struct cb_randlist_problems pr;
	struct cb_err err;
	char *text = NULL;
	size_t len = 0, i;
	int rc;

	cb_err_clear(&err);
	cb_randlist_problems_init(&pr);
	rc = cb_file_read(path, CB_RANDLIST_FILE_MAX, &text, &len, &err);
	if (rc)
		return cli_fail(&err);
	rc = cb_randlist_load(text, len, list, &pr, &err);
	free(text);
	if (rc) {
		fprintf(stderr, "casebook: error: %s: %s\n", path, err.msg);
		for (i = 0; i < pr.count; i++)
			fprintf(stderr, "%s: %s\n", path, pr.msgs[i]);
		if (pr.total > pr.count)
			fprintf(stderr, "%s: ... and %zu more\n", path,
				pr.total - pr.count);
		cb_randlist_problems_release(&pr);
		return EXIT_FAIL;
	}
	cb_randlist_problems_release(&pr);
	return EXIT_OK;
}

/* A good list's summary, as verify prints it, in JSON. */
static int verify_json(const char *file, const struct cb_randlist *l,
		       int seed_checked, int protocol_checked)
{
	struct jout j = {0};
	cJSON *root = cJSON_CreateObject(), *a;
	size_t i;

	if (!root)
		j.oom = 1;
	jout_str(&j, root, "file", file);
	jout_str(&j, root, "study", l->study_id);
	jout_str(&j, root, "protocol_version", l->protocol_version);
	jout_str(&j, root, "protocol_sha256", l->protocol_sha256);
	jout_str(&j, root, "list", l->list_id);
	jout_str(&j, root, "created", l->created);
	jout_str(&j, root, "tool", l->tool);
	jout_str(&j, root, "fingerprint", l->fingerprint);
	a = jout_put(&j, root, "sites", cJSON_CreateArray());
	for (i = 0; a && i < l->nsites; i++)
		jout_put(&j, a, NULL, cJSON_CreateString(l->sites[i].code));
	a = jout_put(&j, root, "factors", cJSON_CreateArray());
	for (i = 0; a && i < l->nfactors; i++)
		jout_put(&j, a, NULL, cJSON_CreateString(l->factors[i]));
	a = jout_put(&j, root, "cells", cJSON_CreateArray());
	for (i = 0; a && i < l->ncells; i++)
		jout_put(&j, a, NULL, cJSON_CreateString(l->cells[i]));
	a = jout_put(&j, root, "block_sizes", cJSON_CreateArray());
	for (i = 0; a && i < l->nblock_sizes; i++)
		jout_put(&j, a, NULL, cJSON_CreateNumber(l->block_sizes[i]));
	jout_num(&j, root, "arms", l->narms);
	jout_num(&j, root, "ratio_total", l->ratio_total);
	jout_num(&j, root, "slots", (double)l->nslots);
	jout_num(&j, root, "per_stratum", l->per_stratum);
	jout_bool(&j, root, "seed_checked", seed_checked);
	jout_bool(&j, root, "protocol_checked", protocol_checked);
	return jout_emit(&j, root);
}

static int verify(int argc, char **argv)
{
	const char *file = NULL, *proto_path = NULL, *seed_opt = NULL;
	const char *seed_file = NULL;
	struct cb_randlist list;
	struct cb_err err;
	size_t i;
	int a, rc, bad = 0, json = 0;

	cb_err_clear(&err);
	for (a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--protocol") && a + 1 < argc)
			proto_path = argv[++a];
		else if (!strcmp(argv[a], "--seed") && a + 1 < argc)
			seed_opt = argv[++a];
		else if (!strcmp(argv[a], "--seed-file") && a + 1 < argc)
			seed_file = argv[++a];
		else if (!strcmp(argv[a], "--json"))
			json = 1;
		else if (argv[a][0] != '-' && !file)
			file = argv[a];
		else
			return cli_usage("randlist", "unexpected argument '%s'",
					 argv[a]);
	}
	if (!file)
		return cli_usage("randlist", "verify needs the list file");
	if (seed_opt && seed_file)
		return cli_usage("randlist", "give only one of --seed and "
					     "--seed-file");
	rc = load_list(file, &list);
	if (rc)
		return rc;
	if (proto_path) {
		struct cb_protocol *p = NULL;
		struct cb_protocol_problems pr;

		cb_protocol_problems_init(&pr);
		if (cb_protocol_load_file(proto_path, &p, &pr, &err)) {
			fprintf(stderr, "casebook: error: %s\n", err.msg);
			bad = 1;
		} else if (strcmp(p->sha256, list.protocol_sha256) ||
			   strcmp(p->id, list.study_id)) {
			fprintf(stderr,
				"%s: made for study %s with protocol sha256 "
				"%s, not for %s (study %s, sha256 %s)\n",
				file, list.study_id, list.protocol_sha256,
				proto_path, p->id, p->sha256);
			bad = 1;
		}
		cb_protocol_problems_release(&pr);
		cb_protocol_free(p);
	}
	if (seed_opt || seed_file) {
		char *seed = NULL, commit[CB_HASH_HEX_SIZE];
		size_t seed_len = 0;

		if (read_seed(seed_opt, seed_file, &seed, &seed_len, &err)) {
			cb_randlist_release(&list);
			return cli_fail(&err);
		}
		cb_randlist_seed_commitment(seed, seed_len, commit);
		free_seed(seed, seed_len);
		if (strcmp(commit, list.seed_commitment)) {
			fprintf(stderr,
				"%s: the list was not made with this "
				"seed\n",
				file);
			bad = 1;
		}
	}
	if (bad) {
		cb_randlist_release(&list);
		return EXIT_FAIL;
	}
	if (json) {
		rc = verify_json(file, &list, seed_opt || seed_file,
				 proto_path != NULL);
		cb_randlist_release(&list);
		return rc;
	}
	printf("%s: good\n", file);
	printf("  study     %s, protocol %s (sha256 %s)\n", list.study_id,
	       list.protocol_version, list.protocol_sha256);
	printf("  list      %s, created %s by %s\n", list.list_id, list.created,
	       list.tool);
	printf("  signed    key fingerprint %s\n", list.fingerprint);
	printf("  sites    ");
	for (i = 0; i < list.nsites; i++)
		printf(" %s", list.sites[i].code);
	printf("\n  strata   ");
	if (list.nfactors == 0)
		printf(" (none)");
	for (i = 0; i < list.nfactors; i++)
		printf(" %s%s", list.factors[i],
		       i + 1 < list.nfactors ? "," : "");
	printf(":");
	for (i = 0; i < list.ncells; i++)
		printf(" %s", list.cells[i]);
	printf("\n  blocks    sizes");
	for (i = 0; i < list.nblock_sizes; i++)
		printf("%s%u", i ? "," : " ", list.block_sizes[i]);
	printf(", %u arms, ratio total %u\n", list.narms, list.ratio_total);
	printf("  slots     %zu (at least %u per site and stratum)\n",
	       list.nslots, list.per_stratum);
	if (seed_opt || seed_file)
		printf("  seed      matches the list's commitment\n");
	if (proto_path)
		printf("  protocol  matches %s\n", proto_path);
	cb_randlist_release(&list);
	return EXIT_OK;
}

/* CSV field: quoted only when it needs to be. */
static void csv_field(const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static void print_revealed(const struct cb_randlist *l, int csv)
{
	static const char *const head[] = {"site",   "stratum", "seq", "block",
					   "randno", "kit",	"arm"};
	enum { NCOL = 7 };
	size_t w[NCOL], i, c;

	for (c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	for (i = 0; i < l->nslots; i++) {
		const struct cb_randlist_slot *s = &l->slots[i];
		char seq[16], blk[16];
		const char *cell[NCOL];

		snprintf(seq, sizeof(seq), "%u", s->seq);
		snprintf(blk, sizeof(blk), "%u", s->block);
		cell[0] = s->site;
		cell[1] = s->stratum;
		cell[2] = seq;
		cell[3] = blk;
		cell[4] = s->randno;
		cell[5] = s->kit;
		cell[6] = s->arm ? s->arm : "";
		if (i == 0 && csv)
			for (c = 0; c < NCOL; c++)
				csv_field(head[c], c + 1 == NCOL);
		if (csv) {
			for (c = 0; c < NCOL; c++)
				csv_field(cell[c], c + 1 == NCOL);
			continue;
		}
		for (c = 0; c < NCOL; c++)
			if (strlen(cell[c]) > w[c])
				w[c] = strlen(cell[c]);
	}
	if (csv)
		return;
	for (c = 0; c < NCOL; c++)
		printf("%-*s%s", c + 1 < NCOL ? (int)w[c] : 0, head[c],
		       c + 1 < NCOL ? "  " : "\n");
	for (i = 0; i < l->nslots; i++) {
		const struct cb_randlist_slot *s = &l->slots[i];

		printf("%-*s  %-*s  %*u  %*u  %-*s  %-*s  %s\n", (int)w[0],
		       s->site, (int)w[1], s->stratum, (int)w[2], s->seq,
		       (int)w[3], s->block, (int)w[4], s->randno, (int)w[5],
		       s->kit, s->arm ? s->arm : "");
	}
}

/* The opened slots as {"slots":[...]}; the arms' copies wiped. */
static int reveal_json(const struct cb_randlist *l)
{
	struct jout j = {0};
	cJSON *root = cJSON_CreateObject();
	cJSON *list = jout_put(&j, root, "slots", cJSON_CreateArray());
	size_t i;

	if (!root)
		j.oom = 1;
	for (i = 0; list && i < l->nslots; i++) {
		const struct cb_randlist_slot *s = &l->slots[i];
		cJSON *o = jout_put(&j, list, NULL, cJSON_CreateObject());

		if (!o)
			break;
		jout_str(&j, o, "site", s->site);
		jout_str(&j, o, "stratum", s->stratum);
		jout_num(&j, o, "seq", s->seq);
		jout_num(&j, o, "block", s->block);
		jout_str(&j, o, "randno", s->randno);
		jout_str(&j, o, "kit", s->kit);
		if (s->arm)
			jout_str(&j, o, "arm", s->arm);
		else
			jout_null(&j, o, "arm");
	}
	return jout_emit(&j, root);
}

static int reveal(int argc, char **argv, struct cli_global *g)
{
	const char *file = NULL, *key = NULL;
	struct cb_randlist list;
	struct cb_box_keypair kp = {0};
	struct cb_err err;
	char *keytext = NULL, *pass = NULL;
	size_t keylen = 0, pass_len = 0;
	int a, rc, csv = 0, json = 0;

	cb_err_clear(&err);
	for (a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--key") && a + 1 < argc)
			key = argv[++a];
		else if (!strcmp(argv[a], "--csv"))
			csv = 1;
		else if (!strcmp(argv[a], "--json"))
			json = 1;
		else if (argv[a][0] != '-' && !file)
			file = argv[a];
		else
			return cli_usage("randlist", "unexpected argument '%s'",
					 argv[a]);
	}
	if (csv && json)
		return cli_usage("randlist",
				 "give only one of --csv and --json");
	if (!file || !key)
		return cli_usage("randlist",
				 "reveal needs the list file and --key FILE");
	rc = load_list(file, &list);
	if (rc)
		return rc;
	rc = cb_file_read(key, CB_UNBLIND_FILE_MAX, &keytext, &keylen, &err);
	if (!rc)
		rc = pass_get(g, "Passphrase for the unblinding key: ", &pass,
			      &pass_len, &err);
	if (!rc)
		rc = cb_unblind_key_unlock(keytext, keylen, pass, pass_len, &kp,
					   &err);
	if (!rc)
		rc = cb_randlist_reveal(&list, &kp, &err);
	if (rc) {
		rc = cli_fail(&err);
	} else if (json) {
		rc = reveal_json(&list);
	} else {
		print_revealed(&list, csv);
		rc = EXIT_OK;
	}
	cb_box_keypair_release(&kp);
	pass_free(pass);
	if (keytext)
		cb_wipe_free(keytext, keylen);
	cb_randlist_release(&list);
	return rc;
}

int cmd_randlist(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("randlist",
				 "which? generate, verify or reveal");
	if (!strcmp(argv[1], "generate"))
		return generate(argc, argv);
	if (!strcmp(argv[1], "verify"))
		return verify(argc, argv);
	if (!strcmp(argv[1], "reveal"))
		return reveal(argc, argv, g);
	return cli_usage("randlist", "unknown subcommand '%s'", argv[1]);
}
