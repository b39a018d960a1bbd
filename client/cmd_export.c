/*
 * cmd_export.c - `casebook export`: the statistician's blinded exports
 * (csv, odm, sdtm, jsonl; docs/exports.md) made on a statistician's or
 * data manager's laptop, which holds every site after a sync.
 *
 * A thin command, as `casebookd export` is: the laptop's feed of its
 * store (lfeed.h) into the same export engine (common/export.h),
 * written into a new directory all or nothing (common/outdir.h), so the
 * same data gives the same files on both. It only reads the store.
 */
#include "cli.h"
#include "clock.h"
#include "cutoff.h"
#include "export.h"
#include "lfeed.h"
#include "outdir.h"
#include "role.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

const char cmd_export_help[] =
    "usage: casebook export --format FORMAT --out NEWDIR [--site CODE]\n"
    "                       [--cutoff TIME]\n"
    "\n"
    "Export the record this laptop holds for the statistician, blinded,\n"
    "as 'casebookd export' does on the server (the same data gives the\n"
    "same files): no arm, no sealed arm and no item the protocol marks\n"
    "unblinded is ever written. Statistician and data manager only; a\n"
    "central laptop holds every site once it has synced. FORMAT is one\n"
    "of\n"
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
    "NEWDIR must not exist; it is made only when the export is complete,\n"
    "so a failed export leaves nothing. docs/exports.md describes every\n"
    "file and column. Sync first: the export holds what this laptop has\n"
    "(and whatever it recorded and has not pushed yet).\n"
    "\n"
    "  --site CODE    only the subjects of site CODE\n"
    "  --cutoff TIME  the record as of TIME: only the events the server\n"
    "                 had received by then (each pulled event carries its\n"
    "                 received time; one recorded here and not pulled\n"
    "                 back counts at its own time). A date (YYYY-MM-DD,\n"
    "                 the end of that UTC day) or a UTC time\n"
    "                 (YYYY-MM-DDTHH:MM[:SS[.mmm]]Z). Without it, every\n"
    "                 event this laptop holds when the export starts.\n"
    "\n"
    "Exit codes: 0 exported; 1 failure (NEWDIR exists or cannot be made,\n"
    "no subject of the site here, a cut-off before the first event;\n"
    "nothing is left behind); 2 usage (unknown format, malformed\n"
    "cut-off); 4 wrong passphrase, or a role that may not export.\n";

/* Who may export: the blinded central roles that read the whole record
 * (DESIGN.md section 1). A site role's laptop holds one site; the DSMB's
 * and the laboratory's hold unblinded items. */
static const char *const export_roles[] = {CB_ROLE_STATISTICIAN,
					   CB_ROLE_DATAMANAGER, NULL};

int cmd_export(int argc, char **argv, struct cli_global *g)
{
	const char *format = NULL, *outdir = NULL, *site = NULL, *cut = NULL;
	char cutoff[CB_CLOCK_UTC_BUF], asof[CB_CLOCK_UTC_BUF];
	char created[CB_CLOCK_UTC_BUF];
	struct cb_export_opts o;
	struct cb_export_stats st;
	struct cb_outdir *dir = NULL;
	struct cb_files files;
	struct cb_feed feed;
	struct lfeed f;
	struct cb_err err;
	int a, rc;

	for (a = 1; a < argc; a++) {
		const char **slot = !strcmp(argv[a], "--format")   ? &format
				    : !strcmp(argv[a], "--out")	   ? &outdir
				    : !strcmp(argv[a], "--site")   ? &site
				    : !strcmp(argv[a], "--cutoff") ? &cut
								   : NULL;

		if (!slot)
			return cli_usage("export", "unexpected argument '%s'",
					 argv[a]);
		if (a + 1 >= argc)
			return cli_usage("export", "%s needs a value", argv[a]);
		if (*slot)
			return cli_usage("export", "%s given twice", argv[a]);
		*slot = argv[++a];
	}
	if (!format || !outdir)
		return cli_usage("export", "--format FORMAT and --out NEWDIR "
					   "are required");
	memset(&o, 0, sizeof(o));
	cb_err_clear(&err);
	if (cb_export_format_parse(format, &o.format, &err))
		return cli_usage("export", "%s", err.msg);
	if (site && !cb_site_valid(site))
		return cli_usage("export", "'%s' is not a site code",
				 cli_safe(site));
	if (cut && cb_cutoff_parse(cut, cutoff, &err))
		return cli_usage("export", "%s", cli_safe(err.msg));
	o.site = site;
	o.cutoff = cut ? cutoff : NULL;
	o.source = "casebook " CB_VERSION;

	rc = lfeed_open(g, export_roles, "an export", &f, &err);
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
	if (!rc)
		rc = cb_outdir_open(outdir, &dir, &err);
	if (!rc) {
		/* Without a cut-off, the export holds every event this
		 * laptop holds when it reads the store, which begins now. */
		cb_clock_format_utc(cb_clock_now_ms(), created);
		memcpy(asof, o.cutoff ? cutoff : created, sizeof(asof));
		o.asof = asof;
		o.created = created;
		feed = lfeed_of(&f);
		files = cb_outdir_files(dir);
		rc = cb_export(f.p, &feed, &o, &files, &st, &err);
	}
	if (!rc)
		rc = cb_outdir_commit(dir, &err);
	cb_outdir_free(dir);
	lfeed_close(&f);
	if (rc)
		return cli_fail(&err);
	printf("exported %zu subjects (%s, data cut-off %s%s%s) to %s: "
	       "%zu files\n",
	       st.subjects, cb_export_format_name(o.format), asof,
	       site ? ", site " : "", site ? site : "", cli_safe(outdir),
	       st.files);
	return EXIT_OK;
}
