/*
 * cmd_export.c - `casebookd export`: the statistician's blinded exports
 * (csv, odm, sdtm, jsonl; docs/exports.md) of the central store.
 *
 * A thin command: the server's feed of the record (srv_core_feed_of,
 * from the derived tables, or replayed up to a cut-off) into the export
 * engine (common/export.h), written into a new directory all or
 * nothing (common/outdir.h). It only reads the store, so it runs beside
 * a serving casebookd.
 */
#include "clock.h"
#include "core.h"
#include "cutoff.h"
#include "export.h"
#include "outdir.h"
#include "role.h"
#include "srv.h"
#include "store.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

const char cmd_export_help[] =
    "usage: casebookd export --data DIR --format FORMAT --out NEWDIR\n"
    "                        [--site CODE] [--cutoff TIME]\n"
    "\n"
    "Export the study's record for the statistician, blinded: no arm,\n"
    "no sealed arm and no item the protocol marks unblinded is ever\n"
    "written. FORMAT is one of\n"
    "\n"
    "  csv    one file per form (a row per subject, visit and repeat\n"
    "         instance; study days; scores; conflicts marked),\n"
    "         subjects.csv, conflicts.csv, dictionary.csv, codelists.csv\n"
    "  odm    CDISC ODM 1.3.2: odm-snapshot.xml and\n"
    "         odm-transactional.xml (every change with its audit record,\n"
    "         every e-signature)\n"
    "  sdtm   DM.csv, AE.csv and SUPPAE.csv with SDTM variable names\n"
    "  jsonl  events.jsonl, one event a line as stored\n"
    "\n"
    "Every export also has export.json, which states the data cut-off.\n"
    "NEWDIR must not exist; it is made only when the export is complete\n"
    "(the files are written beside it first), so a failed export leaves\n"
    "nothing. docs/exports.md describes every file and column.\n"
    "\n"
    "  --site CODE    only the subjects of site CODE\n"
    "  --cutoff TIME  the record as of TIME: only the events the server\n"
    "                 had received by then. A date (YYYY-MM-DD, the end\n"
    "                 of that UTC day) or a UTC time\n"
    "                 (YYYY-MM-DDTHH:MM[:SS[.mmm]]Z). Without it, every\n"
    "                 event received when the export starts.\n"
    "\n"
    "Exit codes: 0 exported; 1 failure (NEWDIR exists or cannot be made,\n"
    "no such site, a cut-off before the first event; nothing is left\n"
    "behind); 2 usage (unknown format, malformed cut-off).\n";

int cmd_export(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--format", "--out",
					    "--site", "--cutoff", NULL};
	const char *v[5] = {NULL, NULL, NULL, NULL, NULL}, *pos[1];
	char cutoff[CB_CLOCK_UTC_BUF], asof[CB_CLOCK_UTC_BUF];
	char created[CB_CLOCK_UTC_BUF];
	struct cb_export_opts o;
	struct cb_export_stats st;
	struct cb_outdir *dir = NULL;
	struct cb_files files;
	struct cb_feed feed;
	struct srv_core core;
	struct cb_err err;
	int npos, rc, exists;

	rc = srv_parse_opts("export", argc, argv, names, v, pos, 0, &npos);
	if (rc)
		return rc;
	if (!v[0] || !v[1] || !v[2])
		return srv_usage("export",
				 "--data DIR, --format FORMAT and --out NEWDIR "
				 "are required");
	memset(&o, 0, sizeof(o));
	cb_err_clear(&err);
	if (cb_export_format_parse(v[1], &o.format, &err))
		return srv_usage("export", "%s", err.msg);
	if (v[3] && !cb_site_valid(v[3]))
		return srv_usage("export", "'%s' is not a site code", v[3]);
	if (v[4] && cb_cutoff_parse(v[4], cutoff, &err))
		return srv_usage("export", "%s", err.msg);
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
	if (!rc)
		rc = cb_outdir_open(v[2], &dir, &err);
	if (rc) {
		srv_core_close(&core);
		return srv_fail(&err);
	}
	/* Without a cut-off, the export holds every event received by the
	 * time it reads the store, which begins now. */
	cb_clock_format_utc(cb_clock_now_ms(), created);
	if (o.cutoff)
		memcpy(asof, cutoff, sizeof(asof));
	else
		memcpy(asof, created, sizeof(asof));
	o.asof = asof;
	o.created = created;
	feed = srv_core_feed_of(&core);
	files = cb_outdir_files(dir);
	rc = cb_export(core.proto, &feed, &o, &files, &st, &err);
	if (!rc)
		rc = cb_outdir_commit(dir, &err);
	cb_outdir_free(dir);
	srv_core_close(&core);
	if (rc)
		return srv_fail(&err);
	printf("exported %zu subjects (%s, data cut-off %s%s%s) to %s: "
	       "%zu files\n",
	       st.subjects, cb_export_format_name(o.format), asof,
	       o.site ? ", site " : "", o.site ? o.site : "", v[2], st.files);
	return SRV_EXIT_OK;
}
