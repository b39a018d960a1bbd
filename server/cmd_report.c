/*
 * cmd_report.c - `casebookd report safety`: the open interim safety
 * report for the DSMB (docs/reports.md), pooled and by site.
 *
 * A thin command: the server's feed (srv_core_feed_of) into the report
 * engine (common/safety.h), written to standard output or to a new
 * file all or nothing (common/outdir.h). The server has no arm, so it
 * makes only the open report; the closed one is made on a DSMB laptop
 * (`casebook report safety --closed`). It only reads the store.
 */
#include "clock.h"
#include "core.h"
#include "cutoff.h"
#include "outdir.h"
#include "role.h"
#include "safety.h"
#include "srv.h"
#include "store.h"
#include "version.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char cmd_report_help[] =
    "usage: casebookd report safety --data DIR [--format FORMAT]\n"
    "                               [--out NEWFILE] [--site CODE]\n"
    "                               [--cutoff TIME]\n"
    "\n"
    "The open interim safety report for the DSMB, pooled and by site:\n"
    "the data cut-off; enrollment by site and by month; exposure;\n"
    "subjects with treatment-emergent AEs (any, serious, related,\n"
    "leading to withdrawal, fatal; by worst grade, worst severity,\n"
    "seriousness criterion, relationship and term) as n (%) of each\n"
    "site's safety population; listings of every AE (with study day and\n"
    "the treatment-emergent flag), serious AEs, deaths, AEs leading to\n"
    "withdrawal and emergency code-breaks. docs/reports.md defines every\n"
    "count. The closed report, by arm, is made on a DSMB laptop with\n"
    "the unblinding key ('casebook report safety --closed').\n"
    "\n"
    "  --format FORMAT  text (default: aligned, 80 columns), csv, json,\n"
    "                   or html (one self-contained file with charts)\n"
    "  --out NEWFILE    write there instead of standard output; the file\n"
    "                   must not exist and appears only when complete\n"
    "  --site CODE      only the subjects of site CODE\n"
    "  --cutoff TIME    as of TIME: only the events received by then; a\n"
    "                   date (YYYY-MM-DD, the end of that UTC day) or a\n"
    "                   UTC time (YYYY-MM-DDTHH:MM[:SS[.mmm]]Z)\n"
    "\n"
    "Exit codes: 0 written; 1 failure (NEWFILE exists or cannot be\n"
    "written, no such site, a cut-off before the first event; nothing\n"
    "is left behind); 2 usage (unknown report or format, malformed\n"
    "cut-off, --closed).\n";

int cmd_report(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--format", "--out",
					    "--site", "--cutoff", NULL};
	const char *v[5] = {NULL, NULL, NULL, NULL, NULL}, *pos[1];
	char cutoff[CB_CLOCK_UTC_BUF], asof[CB_CLOCK_UTC_BUF];
	enum cb_safety_format fmt = CB_SAFETY_TEXT;
	struct cb_outfile *file = NULL;
	struct cb_safety *rep = NULL;
	struct cb_safety_opts o;
	struct cb_out stdout_out;
	struct srv_core core;
	struct cb_feed feed;
	struct cb_err err;
	int npos, rc, exists;

	if (srv_take_flag(&argc, argv, "--closed"))
		return srv_usage(
		    "report", "the server has no arm and makes only the open "
			      "report; the closed report is made on a DSMB "
			      "laptop (casebook report safety --closed)");
	rc = srv_parse_opts("report", argc, argv, names, v, pos, 1, &npos);
	if (rc)
		return rc;
	if (npos != 1 || strcmp(pos[0], "safety"))
		return srv_usage("report",
				 npos ? "unknown report '%s': the "
					"report there is is 'safety'"
				      : "which report? (safety)%s",
				 npos ? pos[0] : "");
	if (!v[0])
		return srv_usage("report", "--data DIR is required");
	cb_err_clear(&err);
	if (v[1] && cb_safety_format_parse(v[1], &fmt, &err))
		return srv_usage("report", "%s", err.msg);
	if (v[3] && !cb_site_valid(v[3]))
		return srv_usage("report", "'%s' is not a site code", v[3]);
	if (v[4] && cb_cutoff_parse(v[4], cutoff, &err))
		return srv_usage("report", "%s", err.msg);
	memset(&o, 0, sizeof(o));
	o.site = v[3];
	o.cutoff = v[4] ? cutoff : NULL;
	o.source = "casebookd " CB_VERSION;

	memset(&core, 0, sizeof(core));
	rc = srv_core_open(&core, v[0], &err);
	if (!rc && o.site) {
		exists = srv_store_site_exists(core.store, o.site, &err);
		if (exists < 0)
			rc = exists;
		else if (!exists)
			rc = cb_err_set(&err, CB_ENOTFOUND,
					"no site %s in this study", o.site);
	}
	if (!rc && v[2])
		rc = cb_outfile_open(v[2], &file, &err);
	if (!rc) {
		if (o.cutoff)
			memcpy(asof, cutoff, sizeof(asof));
		else
			cb_clock_format_utc(cb_clock_now_ms(), asof);
		o.asof = asof;
		feed = srv_core_feed_of(&core);
		rc = cb_safety_compute(core.proto, &feed, &o, &rep, &err);
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
	srv_core_close(&core);
	if (rc)
		return srv_fail(&err);
	if (file)
		fprintf(stderr, "wrote the safety report (%s) to %s\n",
			v[1] ? v[1] : "text", v[2]);
	return SRV_EXIT_OK;
}
