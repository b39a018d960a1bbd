/*
 * gen_study.c - the command line of the study generator (gen_study.h),
 * which scripts/gen-study drives:
 *
 *   gen_study plan --subjects N [--sites K] [--protocol FILE] [--randomize]
 *       the sites and devices a run needs, and the randomization list's
 *       size, as lines the script reads
 *   gen_study health --server URL [--wait SECONDS]
 *       wait for a starting server
 *   gen_study run --server URL --tokens FILE --subjects N [--sites K]
 *                 [--seed S] [--today DATE] [--randomize] [--chunk N]
 *                 [--progress | --no-progress] [--verbose]
 *       register the devices with the tokens (one line "SITE ROLE TOKEN"
 *       per device, in plan order) and push the generated trial
 */
#include "gen_study.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "date.h"
#include "id.h"
#include "json.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Most subjects one run makes; sites it spreads them over. */
#define SUBJECTS_MAX 10000000ull
#define SITES_MAX 99
/* Devices a site may register (role.h), one of them the investigator. */
#define COORD_MAX (CB_DEVICE_INDEX_MAX - 1)
/* The randomization list's caps (docs/randlist.md), and the block sizes
 * the plan asks for (a cell gets up to the largest one less extra). */
#define LIST_SLOTS_MAX 10000
#define LIST_PER_STRATUM_MAX 5000
#define LIST_BLOCK_SIZES "2,4"
#define LIST_BLOCK_MAX 4
/* Rejected or refused events a run tolerates, as a fraction. */
#define TOLERATED 0.001
/* Longest token line. */
#define TOKEN_LINE_MAX 512

static const char usage_text[] =
    "usage: gen_study plan --subjects N [--sites K] [--per-device N]\n"
    "                      [--protocol FILE] [--randomize]\n"
    "       gen_study health --server URL [--wait SECONDS]\n"
    "       gen_study run --server URL --tokens FILE --subjects N\n"
    "                     [--sites K] [--per-device N] [--seed S]\n"
    "                     [--today YYYY-MM-DD]\n"
    "                     [--randomize] [--chunk N]\n"
    "                     [--progress | --no-progress] [--verbose]\n"
    "       gen_study run --dry-run --protocol FILE --subjects N [...]\n"
    "\n"
    "The study generator behind scripts/gen-study (see its --help): plan\n"
    "prints the sites, devices and randomization list a run needs; run\n"
    "registers the devices with one-time tokens (a file of lines\n"
    "\"SITE ROLE TOKEN\" in plan order, SITE '-' for a central role) and\n"
    "pushes a generated trial through the HTTP API. --dry-run makes,\n"
    "checks, signs and encodes every event the same way with made-up\n"
    "devices and leases, and sends nothing: the generator's own cost.\n"
    "\n"
    "Exit codes: 0 done; 1 failure (the server refused more than a tiny\n"
    "fraction of the events, or could not be reached); 2 usage.\n";

struct opts {
	const char *cmd;
	const char *server, *tokens, *protocol, *seed, *today;
	uint64_t subjects;
	size_t sites, chunk;
	long per_device;
	double wait;
	int randomize, progress, verbose, dry;
};

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen_study: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen_study: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return EXIT_FAIL;
}

/* A whole decimal number in lo..hi. */
static int number(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int i;

	memset(o, 0, sizeof(*o));
	o->sites = 3;
	o->per_device = GEN_PER_DEVICE;
	o->seed = "1";
	o->wait = 10;
	o->progress = isatty(2);
	if (argc < 2)
		return usage("no command");
	o->cmd = argv[1];
	if (!strcmp(o->cmd, "--help") || !strcmp(o->cmd, "-h")) {
		fputs(usage_text, stdout);
		return -1;
	}
	if (strcmp(o->cmd, "plan") && strcmp(o->cmd, "health") &&
	    strcmp(o->cmd, "run"))
		return usage("unknown command '%s'", o->cmd);
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return -1;
		} else if (!strcmp(a, "--randomize")) {
			o->randomize = 1, takes = 0;
		} else if (!strcmp(a, "--progress")) {
			o->progress = 1, takes = 0;
		} else if (!strcmp(a, "--no-progress")) {
			o->progress = 0, takes = 0;
		} else if (!strcmp(a, "--dry-run")) {
			o->dry = 1, takes = 0;
		} else if (!strcmp(a, "--verbose")) {
			o->verbose = 1, takes = 0;
		} else if (!val) {
			return usage("%s needs a value", a);
		} else if (!strcmp(a, "--server")) {
			o->server = val;
		} else if (!strcmp(a, "--tokens")) {
			o->tokens = val;
		} else if (!strcmp(a, "--protocol")) {
			o->protocol = val;
		} else if (!strcmp(a, "--seed")) {
			if (!val[0] || strlen(val) > 100)
				return usage("--seed: 1 to 100 characters");
			o->seed = val;
		} else if (!strcmp(a, "--today")) {
			o->today = val;
		} else if (!strcmp(a, "--subjects")) {
			if (number(val, 1, SUBJECTS_MAX, &o->subjects))
				return usage("--subjects: a number from 1 to "
					     "%llu, not '%s'",
					     SUBJECTS_MAX, val);
		} else if (!strcmp(a, "--sites")) {
			if (number(val, 1, SITES_MAX, &v))
				return usage("--sites: a number from 1 to %d, "
					     "not '%s'",
					     SITES_MAX, val);
			o->sites = (size_t)v;
		} else if (!strcmp(a, "--per-device")) {
			if (number(val, 1, GEN_PER_DEVICE, &v))
				return usage("--per-device: a number from 1 to "
					     "%d, not '%s'",
					     GEN_PER_DEVICE, val);
			o->per_device = (long)v;
		} else if (!strcmp(a, "--chunk")) {
			if (number(val, 1, 100000, &v))
				return usage("--chunk: a number from 1 to "
					     "100000, not '%s'",
					     val);
			o->chunk = (size_t)v;
		} else if (!strcmp(a, "--wait")) {
			if (number(val, 1, 3600, &v))
				return usage("--wait: seconds, 1 to 3600");
			o->wait = (double)v;
		} else {
			return usage("unknown option '%s'", a);
		}
		i += takes;
	}
	if (o->dry &&
	    (strcmp(o->cmd, "run") || o->server || o->tokens || !o->protocol))
		return usage("--dry-run: a run with --protocol FILE, and no "
			     "--server or --tokens");
	if (strcmp(o->cmd, "plan") && !o->server && !o->dry)
		return usage("%s needs --server URL", o->cmd);
	if (!strcmp(o->cmd, "run") && !o->tokens && !o->dry)
		return usage("run needs --tokens FILE");
	if (strcmp(o->cmd, "health") && !o->subjects)
		return usage("%s needs --subjects N", o->cmd);
	/* Each coordinator creates at most 999 subjects, and a site holds
	 * at most 99 devices. */
	if (o->subjects && (o->subjects + o->sites - 1) / o->sites >
			       (uint64_t)COORD_MAX * (uint64_t)o->per_device)
		return usage("%llu subjects need more devices than %d sites "
			     "may register (%d each, %ld subjects a device); "
			     "give more --sites",
			     (unsigned long long)o->subjects, (int)o->sites,
			     CB_DEVICE_INDEX_MAX, o->per_device);
	return 0;
}

/* ---- the plan ------------------------------------------------------------ */

static void site_code(size_t i, char out[CB_SITE_MAX + 1])
{
	snprintf(out, CB_SITE_MAX + 1, "S%02u", (unsigned)(i % 100) + 1);
}

/* Subjects of site k, and the coordinators creating them. */
static uint64_t site_subjects(const struct opts *o, size_t k)
{
	return o->subjects / o->sites + (k < o->subjects % o->sites);
}

static size_t site_coords(const struct opts *o, size_t k)
{
	uint64_t n = site_subjects(o, k);
	uint64_t per = (uint64_t)o->per_device;

	return n ? (size_t)((n + per - 1) / per) : 1;
}

/*
 * The list's slots per site and stratum cell, and the lease per device.
 * About 80% of subjects are randomized (a fifth fail screening), 55% of
 * them in the larger cell (gen_trial.c); two standard deviations more,
 * plus what the leases of a site's coordinators hold unused at the end.
 * The list caps (10,000 slots, 5,000 per cell, less what the last block
 * may add) win over that: then the last eligible subjects of a full cell
 * stay unrandomized ("no slot").
 */
static void list_size(const struct opts *o, size_t ncells, long *per_stratum,
		      long *lease)
{
	uint64_t most = site_subjects(o, 0);
	double share = 0.8 * 0.55 * (double)most;
	double need = ceil(share + 2 * sqrt(share) + 8);
	long cap =
	    LIST_SLOTS_MAX / (long)(o->sites * ncells) - (LIST_BLOCK_MAX - 1);
	long coords = (long)site_coords(o, 0), l = 50;

	if (cap > LIST_PER_STRATUM_MAX)
		cap = LIST_PER_STRATUM_MAX;
	if (need + (double)(coords * l) > (double)cap)
		l = (long)(((double)cap - need) / (double)coords);
	if (l < 4)
		l = 4;
	*lease = l;
	*per_stratum = (long)need + coords * l;
	if (*per_stratum > cap)
		*per_stratum = cap;
}

static size_t protocol_cells(const struct cb_protocol *p)
{
	size_t i, n = 1;

	for (i = 0; i < p->nstrata; i++)
		n *= p->strata[i].nlevels ? p->strata[i].nlevels : 1;
	return n;
}

/* The user name of device `n` (from 1) of `role` at `site` ("-"). */
static void device_user(const char *site, const char *role, size_t n, char *out,
			size_t cap)
{
	if (!strcmp(role, CB_ROLE_COORDINATOR))
		snprintf(out, cap, "coord%zu.%s", n, site);
	else if (!strcmp(role, CB_ROLE_INVESTIGATOR))
		snprintf(out, cap, "inv.%s", site);
	else
		snprintf(out, cap, "%s.gen", role);
}

static int cmd_plan(const struct opts *o)
{
	char user[CB_USER_MAX + 1];
	char site[CB_SITE_MAX + 1];
	size_t k, c;

	for (k = 0; k < o->sites; k++) {
		site_code(k, site);
		printf("site %s\n", site);
	}
	for (k = 0; k < o->sites; k++) {
		site_code(k, site);
		for (c = 0; c < site_coords(o, k); c++) {
			device_user(site, CB_ROLE_COORDINATOR, c + 1, user,
				    sizeof(user));
			printf("device %s coordinator %s\n", site, user);
		}
		device_user(site, CB_ROLE_INVESTIGATOR, 1, user, sizeof(user));
		printf("device %s investigator %s\n", site, user);
	}
	printf("device - datamanager datamanager.gen\n"
	       "device - lab lab.gen\n");
	if (o->randomize) {
		struct cb_protocol *p = NULL;
		struct cb_err err;
		long per, lease;

		if (!o->protocol)
			return usage("plan --randomize needs --protocol FILE");
		if (cb_protocol_load_file(o->protocol, &p, NULL, &err))
			return fail("%s", err.msg);
		list_size(o, protocol_cells(p), &per, &lease);
		cb_protocol_free(p);
		printf("per_stratum %ld\nblock_sizes %s\nlease %ld\n", per,
		       LIST_BLOCK_SIZES, lease);
	}
	return EXIT_OK;
}

static int cmd_health(const struct opts *o)
{
	struct gen_http h;
	struct cb_err err;
	int rc;

	if (gen_net_global(&err) || gen_http_open(&h, o->server, &err))
		return fail("%s", err.msg);
	rc = gen_health_wait(&h, o->wait, &err);
	gen_http_close(&h);
	if (rc)
		return fail("%s", err.msg);
	return EXIT_OK;
}

/* ---- the run ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void device_free(struct gen_device *d)
{
	if (!d)
		return;
	cb_sign_keypair_release(&d->kp);
	cb_buf_free(&d->body);
	free(d->lease);
	free(d);
}

/* A new device to register: its key and its user name. */
static int device_new(const char *site, const char *role, size_t n,
		      struct gen_device **out, struct cb_err *err)
{
	struct gen_device *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (!d)
		return cb_err_set(err, CB_ENOMEM, "out of memory");
	rc = cb_sign_keypair_new(&d->kp, err);
	if (rc) {
		free(d);
		return rc;
	}
	cb_buf_init(&d->body, GEN_BATCH_BYTES + 64 * 1024);
	device_user(site, role, n, d->user, sizeof(d->user));
	*out = d;
	return 0;
}

/* Read the next "SITE ROLE TOKEN" line and check it is the one wanted. */
static int next_token(FILE *f, const char *path, const char *site,
		      const char *role, char *token, size_t cap)
{
	char line[TOKEN_LINE_MAX], s[32], r[32], t[TOKEN_LINE_MAX];

	if (!fgets(line, sizeof(line), f))
		return fail("%s: no token for a %s of site %s (the file must "
			    "hold one line per device of 'gen_study plan')",
			    path, role, site);
	if (sscanf(line, "%31s %31s %511s", s, r, t) != 3 || strcmp(s, site) ||
	    strcmp(r, role))
		return fail("%s: expected a line \"%s %s TOKEN\", got: %.80s",
			    path, site, role, line);
	snprintf(token, cap, "%s", t);
	return 0;
}

/* Register one device of the plan; check the server gave what we need. */
static int enrol(struct gen *g, FILE *f, const char *path, const char *site,
		 const char *role, size_t n, long want_index,
		 struct gen_device **out)
{
	char token[TOKEN_LINE_MAX], *proto = NULL;
	struct cb_err err;
	size_t plen = 0;
	int rc;

	rc = next_token(f, path, site, role, token, sizeof(token));
	if (rc)
		return rc;
	if (device_new(site, role, n, out, &err))
		return fail("%s", err.msg);
	if (gen_register(&g->http, *out, token, g->p ? NULL : &proto, &plen,
			 &err))
		return fail("%s", err.msg);
	if (strcmp((*out)->role, role) ||
	    strcmp((*out)->site, strcmp(site, "-") ? site : "") ||
	    (want_index && (*out)->index != want_index)) {
		free(proto);
		return fail("the server registered %s as %s of '%s' number "
			    "%ld; the plan needs %s of %s number %ld (is the "
			    "store new, with no device registered?)",
			    (*out)->user, (*out)->role, (*out)->site,
			    (*out)->index, role, site, want_index);
	}
	if (proto) {
		rc = cb_protocol_load_json(proto, plen, "the server's protocol",
					   &g->p, NULL, &err);
		free(proto);
		if (rc)
			return fail("%s", err.msg);
	}
	return 0;
}

/* A dry run's device: what registration would have given. */
static int dry_device(struct gen *g, const char *site, const char *role,
		      size_t n, long index, struct gen_device **out)
{
	struct cb_err err;
	char id[CB_ID_HEX_LEN + 1];

	(void)g;
	if (device_new(site, role, n, out, &err) || cb_id_random(id))
		return fail("%s", err.msg);
	snprintf((*out)->id, sizeof((*out)->id), "%s", id);
	snprintf((*out)->site, sizeof((*out)->site), "%s",
		 strcmp(site, "-") ? site : "");
	snprintf((*out)->role, sizeof((*out)->role), "%s", role);
	(*out)->index = index;
	return 0;
}

static int register_all(struct gen *g, const struct opts *o)
{
	char site[CB_SITE_MAX + 1];
	FILE *f = NULL;
	size_t k, c;
	int rc = 0;

	if (o->dry) {
		struct cb_err err;

		if (cb_protocol_load_file(o->protocol, &g->p, NULL, &err))
			return fail("%s", err.msg);
	} else {
		f = fopen(o->tokens, "r");
		if (!f)
			return fail("%s: %s", o->tokens, strerror(errno));
	}
	for (k = 0; !rc && k < o->sites; k++) {
		site_code(k, site);
		snprintf(g->sites[k], sizeof(g->sites[k]), "%s", site);
		g->ncoord[k] = site_coords(o, k);
		g->coord[k] = calloc(g->ncoord[k], sizeof(*g->coord[k]));
		if (!g->coord[k]) {
			rc = fail("out of memory");
			break;
		}
		for (c = 0; !rc && c < g->ncoord[k]; c++)
			rc = f ? enrol(g, f, o->tokens, site,
				       CB_ROLE_COORDINATOR, c + 1, (long)c + 1,
				       &g->coord[k][c])
			       : dry_device(g, site, CB_ROLE_COORDINATOR, c + 1,
					    (long)c + 1, &g->coord[k][c]);
		if (!rc)
			rc = f ? enrol(g, f, o->tokens, site,
				       CB_ROLE_INVESTIGATOR, 1,
				       (long)g->ncoord[k] + 1, &g->inv[k])
			       : dry_device(g, site, CB_ROLE_INVESTIGATOR, 1,
					    (long)g->ncoord[k] + 1, &g->inv[k]);
	}
	if (!rc)
		rc = f ? enrol(g, f, o->tokens, "-", CB_ROLE_DATAMANAGER, 1, 0,
			       &g->dm)
		       : dry_device(g, "-", CB_ROLE_DATAMANAGER, 1, 1, &g->dm);
	if (!rc)
		rc = f ? enrol(g, f, o->tokens, "-", CB_ROLE_LAB, 1, 0, &g->lab)
		       : dry_device(g, "-", CB_ROLE_LAB, 1, 2, &g->lab);
	if (f)
		fclose(f);
	return rc;
}

/* The run needs the shipped study's shape: say what is missing. */
static int check_protocol(const struct gen *g)
{
	static const char *const forms[] = {"SV", "DM", "ELIG", "EOS"};
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(*forms); i++)
		if (!cb_protocol_find_form(g->p, forms[i]))
			return fail("the protocol has no form %s: the "
				    "generator makes the shipped study "
				    "(schemas/knee-oa-msc.json)",
				    forms[i]);
	if (!g->p->day0.visit || !g->p->safety_form)
		return fail("the protocol has no day 0 or no adverse event "
			    "form: the generator makes the shipped study");
	if (g->randomize &&
	    (!g->p->rand_form || !g->p->rand_number || !g->p->rand_kit))
		return fail("--randomize: the protocol has no randomization");
	return 0;
}

static void progress(struct gen *g, uint64_t done, uint64_t total, double t0,
		     int last)
{
	uint64_t pushed;
	double dt = now_s() - t0;

	gen_pusher_progress(&g->pusher, &pushed, NULL);
	fprintf(stderr,
		"\rgen-study: %" PRIu64 "/%" PRIu64 " subjects, %" PRIu64
		" events made, %" PRIu64 " pushed, %.0f events/s   %s",
		done, total, g->events, pushed,
		dt > 0 ? (double)pushed / dt : 0.0, last ? "\n" : "");
	fflush(stderr);
}

static uint64_t sum(const uint64_t *v)
{
	uint64_t n = 0;
	size_t k;

	for (k = 0; k < GEN_K_N; k++)
		n += v[k];
	return n;
}

/* The counts, on stdout; 1 when more than a tiny fraction failed. */
static int summary(struct gen *g, uint64_t subjects, double secs)
{
	struct gen_counts c;
	uint64_t pushed, bad, made;
	size_t k;

	gen_pusher_progress(&g->pusher, &pushed, &c);
	bad = sum(c.rejected) + sum(g->counts.refused);
	made = pushed + sum(g->counts.refused);
	printf("subjects: %" PRIu64 " (screen failures %" PRIu64
	       ", randomized %" PRIu64 ", dosed %" PRIu64 ", completed %" PRIu64
	       ", withdrew %" PRIu64 ", lost %" PRIu64 ", died %" PRIu64
	       ", ongoing %" PRIu64 ")\n",
	       subjects, g->screen_fail, g->randomized, g->dosed, g->completed,
	       g->withdrew, g->lost, g->died, g->ongoing);
	if (g->no_slot)
		printf("eligible subjects not randomized, the list had no "
		       "slot left: %" PRIu64 "\n",
		       g->no_slot);
	printf("adverse events: %" PRIu64 " (serious %" PRIu64
	       "); conflicts: %" PRIu64 "\n",
	       g->aes, g->serious, g->conflicts);
	printf("%-16s %10s %10s %10s %10s\n", "events", "accepted", "duplicate",
	       "rejected", "not sent");
	for (k = 0; k < GEN_K_N; k++)
		printf("%-16s %10" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %10" PRIu64 "\n",
		       gen_kind_name((enum gen_kind)k), c.accepted[k],
		       c.duplicate[k], c.rejected[k], g->counts.refused[k]);
	printf("%-16s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
	       "\n",
	       "total", sum(c.accepted), sum(c.duplicate), sum(c.rejected),
	       sum(g->counts.refused));
	printf("events per subject: %.1f\n",
	       subjects ? (double)made / (double)subjects : 0.0);
	printf("time: %.1f s, %.0f events/s\n", secs,
	       secs > 0 ? (double)pushed / secs : 0.0);
	if ((double)bad > TOLERATED * (double)made) {
		fprintf(stderr,
			"gen_study: error: %" PRIu64 " of %" PRIu64
			" events were rejected by the server or refused by "
			"the generator's own checks (more than %.1f%%): the "
			"generator and the server disagree\n",
			bad, made, TOLERATED * 100);
		return 1;
	}
	return 0;
}

static int today_of(const char *text, int64_t *out)
{
	struct cb_date d;
	struct cb_err err;
	int64_t now = cb_clock_now_ms() / 86400000;

	if (!text) {
		*out = now;
		return 0;
	}
	if (cb_date_parse_full(text, &d, &err) || cb_date_days(&d, out))
		return usage("--today: %s", err.msg);
	if (*out > now)
		return usage("--today %s is after today: the server refuses "
			     "dates after an event's own date",
			     text);
	return 0;
}

static void gen_release(struct gen *g)
{
	size_t k, c;

	for (k = 0; k < g->nsites; k++) {
		for (c = 0; g->coord && g->coord[k] && c < g->ncoord[k]; c++)
			device_free(g->coord[k][c]);
		if (g->coord)
			free(g->coord[k]);
		if (g->inv)
			device_free(g->inv[k]);
	}
	free(g->coord);
	free(g->ncoord);
	free(g->inv);
	free(g->sites);
	device_free(g->dm);
	device_free(g->lab);
	cb_protocol_free(g->p);
	gen_http_close(&g->http);
}

static int cmd_run(const struct opts *o)
{
	struct gen g;
	struct cb_err err;
	uint64_t done = 0;
	double t0, last = 0;
	size_t chunk;
	int rc, ex = EXIT_OK;

	memset(&g, 0, sizeof(g));
	snprintf(g.seed, sizeof(g.seed), "%s", o->seed);
	g.per_device = o->per_device;
	g.randomize = o->randomize;
	g.verbose = o->verbose;
	if (today_of(o->today, &g.today))
		return EXIT_USAGE;
	g.nsites = o->sites;
	g.sites = calloc(o->sites, sizeof(*g.sites));
	g.coord = calloc(o->sites, sizeof(*g.coord));
	g.ncoord = calloc(o->sites, sizeof(*g.ncoord));
	g.inv = calloc(o->sites, sizeof(*g.inv));
	if (!g.sites || !g.coord || !g.ncoord || !g.inv) {
		gen_release(&g);
		return fail("out of memory");
	}
	g.dry = o->dry;
	if (!o->dry &&
	    (gen_net_global(&err) || gen_http_open(&g.http, o->server, &err) ||
	     gen_health_wait(&g.http, o->wait, &err))) {
		gen_release(&g);
		return fail("%s", err.msg);
	}
	rc = register_all(&g, o);
	if (!rc)
		rc = check_protocol(&g);
	if (rc) {
		gen_release(&g);
		return EXIT_FAIL;
	}
	cb_hlc_init(&g.hlc, 0);
	if (gen_pusher_start(&g.pusher, o->dry ? NULL : o->server, o->verbose,
			     &err)) {
		gen_release(&g);
		return fail("%s", err.msg);
	}
	chunk = o->chunk ? o->chunk : 64 * o->sites;
	if (chunk > 1024 && !o->chunk)
		chunk = 1024;
	t0 = now_s();
	rc = 0;
	while (!rc && done < o->subjects) {
		size_t n = o->subjects - done < chunk
			       ? (size_t)(o->subjects - done)
			       : chunk;

		rc = gen_chunk(&g, done, n, &err);
		done += n;
		if (o->progress && now_s() - last > 0.5) {
			last = now_s();
			progress(&g, done, o->subjects, t0, 0);
		}
	}
	if (!rc)
		rc = gen_pusher_drain(&g.pusher, &err);
	if (o->progress)
		progress(&g, done, o->subjects, t0, 1);
	if (rc) {
		fail("%s", err.msg);
		ex = EXIT_FAIL;
	}
	if (gen_pusher_stop(&g.pusher, &err) && !rc) {
		fail("%s", err.msg);
		ex = EXIT_FAIL;
	}
	if (summary(&g, done, now_s() - t0))
		ex = EXIT_FAIL;
	gen_release(&g);
	return ex;
}

int main(int argc, char **argv)
{
	struct cb_err err;
	struct opts o;
	int rc;

	rc = parse(argc, argv, &o);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (cb_clock_init(&err))
		fprintf(stderr, "gen_study: warning: %s\n", err.msg);
	if (cb_crypto_init(&err))
		return fail("%s", err.msg);
	if (!strcmp(o.cmd, "plan"))
		return cmd_plan(&o);
	if (!strcmp(o.cmd, "health"))
		return cmd_health(&o);
	return cmd_run(&o);
}
