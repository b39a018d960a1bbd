/*
 * cmd_rebuild.c - `casebookd rebuild` and `casebookd dump`: the derived
 * tables, rebuilt from the events and shown.
 *
 * The events are the record; item values, conflicts, queries and
 * subjects are derived from them by the merge engine, and which
 * randomization slots are used from the randomize events. rebuild throws the
 * derived tables away and derives them again from every stored event in
 * one transaction, which must give exactly what the server had built
 * incrementally: dump shows both in a deterministic text to compare.
 *
 * dump --canonical prints instead the merge engine's own canonical text
 * (merge.h, subject by subject) of the stored events, of every site or
 * of the events one site's devices receive, so a test can compare the
 * server with the devices byte for byte: `casebook dump` prints the same
 * text of a device's events. Both stream: memory holds one subject.
 */
#include "core.h"
#include "srv.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_rebuild_help[] =
    "usage: casebookd rebuild --data DIR\n"
    "\n"
    "Rebuild every derived table (subjects, item values and conflicts,\n"
    "queries, which randomization slots are used) from the stored\n"
    "events, in one transaction. Run it with the server stopped. The\n"
    "result is identical to what the server derived as the events\n"
    "arrived ('casebookd dump' to compare).\n"
    "\n" SRV_HELP_STORE
    "Exit codes: 0 rebuilt; 1 failure (nothing changed); 2 usage.\n";

const char cmd_dump_help[] =
    "usage: casebookd dump --data DIR\n"
    "       casebookd dump --data DIR --canonical [--site CODE] [--blinded]\n"
    "\n"
    "Print every derived table in a deterministic text: a [table] line,\n"
    "then one line per row in key order, columns separated by tabs\n"
    "(tab, newline and backslash escaped, \\N for no value). Equal\n"
    "derived state gives equal output. It shows clinical values: keep\n"
    "the output as safe as the data directory.\n"
    "\n"
    "--canonical prints instead the merge engine's canonical text of the\n"
    "stored events (every event id, item value or conflict with its heads\n"
    "and audit trail, form signature state, query status): the text\n"
    "'casebook dump' prints on a device, so the two compare byte for\n"
    "byte. --site CODE takes only the events a device of site CODE\n"
    "receives (that site's subjects, without unblinded items);\n"
    "--blinded leaves out events with unblinded items, as a blinded\n"
    "central role (data manager, monitor) receives them.\n"
    "\n" SRV_HELP_STORE "Exit codes: 0 ok; 1 failure; 2 usage.\n";

static int data_dir(const char *cmd, int argc, char **argv, const char **dir)
{
	static const char *const names[] = {"--data", NULL};
	const char *pos[1];
	int npos, rc;

	*dir = NULL;
	rc = srv_parse_opts(cmd, argc, argv, names, dir, pos, 0, &npos);
	if (rc)
		return rc;
	if (!*dir)
		return srv_usage(cmd, "--data DIR or --store URL is required");
	return 0;
}

int cmd_rebuild(int argc, char **argv)
{
	struct srv_core core;
	struct cb_err err;
	const char *dir;
	long n = 0;
	int rc;

	rc = data_dir("rebuild", argc, argv, &dir);
	if (rc)
		return rc;
	cb_err_clear(&err);
	if (srv_lock_data(dir, "rebuild", &err))
		return srv_fail(&err);
	rc = srv_core_open(&core, dir, &err);
	if (!rc)
		rc = srv_core_rebuild(&core, &n, &err);
	if (!rc)
		printf("rebuilt the derived tables from %ld events\n", n);
	srv_core_close(&core);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}

/* Everything a dump writes goes to standard output. */
static int to_stdout(const char *text, size_t len, void *ctx)
{
	(void)ctx;
	return fwrite(text, 1, len, stdout) == len ? 0 : CB_EIO;
}

int cmd_dump(int argc, char **argv)
{
	static const char *const names[] = {"--data", "--site", NULL};
	const char *values[2] = {NULL, NULL};
	struct srv_core core;
	struct cb_err err;
	const char *pos[1];
	int canonical, blinded, npos, rc;

	canonical = srv_take_flag(&argc, argv, "--canonical");
	blinded = srv_take_flag(&argc, argv, "--blinded");
	rc = srv_parse_opts("dump", argc, argv, names, values, pos, 0, &npos);
	if (rc)
		return rc;
	if (!values[0])
		return srv_usage("dump",
				 "--data DIR or --store URL is required");
	if (!canonical && (values[1] || blinded))
		return srv_usage("dump",
				 "--site and --blinded need --canonical");
	if (values[1] && !cb_site_valid(values[1]))
		return srv_usage("dump", "'%s' is not a site code", values[1]);
	cb_err_clear(&err);
	rc = srv_core_open(&core, values[0], &err);
	if (!rc && canonical)
		rc = srv_core_canonical_dump(&core, values[1],
					     !values[1] && !blinded, to_stdout,
					     NULL, &err);
	else if (!rc)
		rc = srv_store_derived_dump(core.store, to_stdout, NULL, &err);
	if (rc && !err.code)
		cb_err_set(&err, rc, "writing the dump failed");
	srv_core_close(&core);
	if (fflush(stdout) && !rc)
		rc = cb_err_set(&err, CB_EIO, "writing the dump failed");
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
