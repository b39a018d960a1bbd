/*
 * cmd_report.c - `casebook report safety`: the interim safety report
 * for the DSMB (docs/reports.md) made on a laptop: the open report
 * (pooled and by site) as `casebookd report safety` makes it, and on a
 * DSMB member's laptop the closed report, by arm.
 *
 * A thin command: the laptop's feed (lfeed.h) into the report engine
 * (common/safety.h), written to standard output or to a new file all
 * or nothing (common/outdir.h). For the closed report the arms are
 * opened here, as `casebook arms` opens them (arms.h): fetched sealed
 * from the server, opened with the unblinding key, held in memory only
 * for the time of the report, and written nowhere but into the report
 * file, which must be given (--out): a closed report is never printed
 * on a terminal or piped.
 */
#include "arms.h"
#include "cli.h"
#include "clock.h"
#include "cutoff.h"
#include "lfeed.h"
#include "out.h"
#include "outdir.h"
#include "role.h"
#include "safety.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char cmd_report_help[] =
    "usage: casebook report safety [--format FORMAT] [--out NEWFILE]\n"
    "                              [--site CODE] [--cutoff TIME]\n"
    "       casebook report safety --closed --key FILE --out NEWFILE\n"
    "                              [--key-passphrase-file PF]\n"
    "                              [--format FORMAT] [--site CODE]\n"
    "                              [--cutoff TIME] [--cacert FILE]\n"
    "\n"
    "The interim safety report for the DSMB from the record this laptop\n"
    "holds (sync first): the data cut-off; enrollment by site and by\n"
    "month; exposure; subjects with treatment-emergent AEs as n (%) of\n"
    "each column's safety population; listings of every AE, serious\n"
    "AEs, deaths, AEs leading to withdrawal and emergency code-breaks.\n"
    "docs/reports.md defines every count.\n"
    "\n"
    "The open report, pooled and by site, is the one 'casebookd report\n"
    "safety' makes (data manager, statistician or DSMB). The closed\n"
    "report, by arm, is made only on a DSMB member's laptop: the arms\n"
    "are fetched sealed from the server (as 'casebook arms' does) and\n"
    "opened here with the unblinding secret key FILE; they are written\n"
    "nowhere but into NEWFILE, which is required.\n"
    "\n"
    "  --format FORMAT  text (default: aligned, 80 columns), csv, json,\n"
    "                   or html (one self-contained file with charts)\n"
    "  --out NEWFILE    write there instead of standard output; the file\n"
    "                   must not exist and appears only when complete\n"
    "  --site CODE      only the subjects of site CODE\n"
    "  --cutoff TIME    as of TIME: only the events the server had\n"
    "                   received by then (one recorded here and not\n"
    "                   pulled back counts at its own time); a date\n"
    "                   (YYYY-MM-DD, the end of that UTC day) or a UTC\n"
    "                   time (YYYY-MM-DDTHH:MM[:SS[.mmm]]Z)\n"
    "  --closed         the closed report, by arm (DSMB only)\n"
    "  --key FILE       the unblinding secret key (unblind.key)\n"
    "  --key-passphrase-file PF\n"
    "                   the key's passphrase is the first line of PF,\n"
    "                   else $" ARMS_PASS_ENV ",\n"
    "                   else asked on the terminal\n"
    "  --cacert FILE    trust this certificate for an https server\n"
    "\n"
    "Exit codes: 0 written; 1 failure (NEWFILE exists or cannot be\n"
    "written, no subject of the site here, a cut-off before the first\n"
    "event; nothing is left behind); 2 usage (unknown report or format,\n"
    "malformed cut-off, --closed without --key or --out); 4 wrong\n"
    "passphrase or key, a role that may not make the report, or the\n"
    "server refuses this device; 5 server unreachable (closed report).\n";

/* Who may make the open report: the central roles that read the whole
 * record and are the report's readers (DESIGN.md sections 1 and 8). */
static const char *const open_roles[] = {
    CB_ROLE_DATAMANAGER, CB_ROLE_STATISTICIAN, CB_ROLE_DSMB, NULL};
/* The closed report: the DSMB only. */
static const char *const closed_roles[] = {CB_ROLE_DSMB, NULL};

struct arms_ctx {
	struct cb_arms *arms;
	struct cb_err *err;
};

static int add_arm(void *ctx, const char *subject, const char *site,
		   const char *randno, const char *arm)
{
	struct arms_ctx *c = ctx;

	(void)site;
	(void)randno;
	return cb_arms_add(c->arms, subject, arm, c->err);
}

int cmd_report(int argc, char **argv, struct cli_global *g)
{
	const char *format = NULL, *out = NULL, *site = NULL, *cut = NULL;
	const char *key = NULL, *key_pass = NULL, *cacert = NULL;
	const char *report = NULL;
	char cutoff[CB_CLOCK_UTC_BUF], asof[CB_CLOCK_UTC_BUF];
	enum cb_safety_format fmt = CB_SAFETY_TEXT;
	struct cb_outfile *file = NULL;
	struct cb_safety *rep = NULL;
	struct cb_arms *arms = NULL;
	struct cb_safety_opts o;
	struct cb_out stdout_out;
	struct cb_feed feed;
	struct lfeed f;
	struct cb_err err;
	int a, rc, closed = 0;

	for (a = 1; a < argc; a++) {
		const char **slot = !strcmp(argv[a], "--format")   ? &format
				    : !strcmp(argv[a], "--out")	   ? &out
				    : !strcmp(argv[a], "--site")   ? &site
				    : !strcmp(argv[a], "--cutoff") ? &cut
				    : !strcmp(argv[a], "--key")	   ? &key
				    : !strcmp(argv[a], "--key-passphrase-file")
					? &key_pass
				    : !strcmp(argv[a], "--cacert") ? &cacert
								   : NULL;

		if (!strcmp(argv[a], "--closed")) {
			closed = 1;
			continue;
		}
		if (!slot && argv[a][0] != '-' && !report) {
			report = argv[a];
			continue;
		}
		if (!slot)
			return cli_usage("report", "unexpected argument '%s'",
					 cli_safe(argv[a]));
		if (a + 1 >= argc)
			return cli_usage("report", "%s needs a value", argv[a]);
		if (*slot)
			return cli_usage("report", "%s given twice", argv[a]);
		*slot = argv[++a];
	}
	if (!report)
		return cli_usage("report", "which report? (safety)");
	if (strcmp(report, "safety"))
		return cli_usage("report",
				 "unknown report '%s': the report there is is "
				 "'safety'",
				 cli_safe(report));
	cb_err_clear(&err);
	if (format && cb_safety_format_parse(format, &fmt, &err))
		return cli_usage("report", "%s", cli_safe(err.msg));
	if (site && !cb_site_valid(site))
		return cli_usage("report", "'%s' is not a site code",
				 cli_safe(site));
	if (cut && cb_cutoff_parse(cut, cutoff, &err))
		return cli_usage("report", "%s", cli_safe(err.msg));
	if (closed && !key)
		return cli_usage("report", "the closed report needs --key FILE "
					   "(the unblinding secret key)");
	if (closed && !out)
		return cli_usage("report",
				 "the closed report needs --out NEWFILE: it is "
				 "written into a file, never to the terminal");
	if (!closed && (key || key_pass || cacert))
		return cli_usage("report", "--key, --key-passphrase-file and "
					   "--cacert are for the closed "
					   "report (--closed)");
	memset(&o, 0, sizeof(o));
	o.site = site;
	o.cutoff = cut ? cutoff : NULL;
	o.source = "casebook " CB_VERSION;

	rc = lfeed_open(g, closed ? closed_roles : open_roles,
			closed ? "the closed report (it goes only to the DSMB)"
			       : "the safety report",
			&f, &err);
	if (rc)
		return cli_fail(&err);
	if (site) {
		rc = lfeed_has_site(&f, site, &err);
		if (!rc)
			rc = cb_err_set(&err, CB_ENOTFOUND,
					"no subject of site %s on this laptop "
					"(sync first?)",
					site);
		else if (rc > 0)
			rc = 0;
	}
	/* The file is claimed before the key is asked for or a byte is
	 * read, so an existing or unwritable one costs nothing. */
	if (!rc && out)
		rc = cb_outfile_open(out, &file, &err);
	if (!rc && closed) {
		struct arms_ctx ac = {NULL, &err};

		rc = cb_arms_new(&arms, &err);
		ac.arms = arms;
		if (!rc)
			rc = arms_open_all(f.st, key, key_pass, cacert, add_arm,
					   &ac, &err);
		o.arms = arms;
	}
	if (!rc) {
		if (o.cutoff)
			memcpy(asof, cutoff, sizeof(asof));
		else
			cb_clock_format_utc(cb_clock_now_ms(), asof);
		o.asof = asof;
		feed = lfeed_of(&f);
		rc = cb_safety_compute(f.p, &feed, &o, &rep, &err);
	}
	/* Everything is computed before the first byte is written. */
	if (!rc && file) {
		rc = cb_safety_write(rep, fmt, cb_outfile_out(file), &err);
		if (!rc)
			rc = cb_outfile_commit(file, &err);
	} else if (!rc) {
		cb_out_init_fd(&stdout_out, STDOUT_FILENO);
		rc = cb_safety_write(rep, fmt, &stdout_out, &err);
		cb_out_release(&stdout_out);
	}
	cb_outfile_free(file);
	cb_safety_free(rep);
	cb_arms_free(arms);
	lfeed_close(&f);
	if (rc)
		return cli_fail(&err);
	if (file)
		fprintf(stderr, "wrote the %s safety report (%s) to %s\n",
			closed ? "closed" : "open", format ? format : "text",
			cli_safe(out));
	return EXIT_OK;
}
