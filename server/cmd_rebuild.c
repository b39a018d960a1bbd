/*
 * cmd_rebuild.c - `casebookd rebuild` and `casebookd dump`: the derived
 * tables, rebuilt from the events and shown.
 *
 * The events are the record; item values, conflicts, queries and
 * subjects are derived from them by the merge engine. rebuild throws the
 * derived tables away and derives them again from every stored event in
 * one transaction, which must give exactly what the server had built
 * incrementally: dump shows both in a deterministic text to compare.
 */
#include "core.h"
#include "srv.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

const char cmd_rebuild_help[] =
    "usage: casebookd rebuild --data DIR\n"
    "\n"
    "Rebuild every derived table (subjects, item values and conflicts,\n"
    "queries) from the stored events, in one transaction. Run it with\n"
    "the server stopped. The result is identical to what the server\n"
    "derived as the events arrived ('casebookd dump' to compare).\n"
    "\n"
    "Exit codes: 0 rebuilt; 1 failure (nothing changed); 2 usage.\n";

const char cmd_dump_help[] =
    "usage: casebookd dump --data DIR\n"
    "\n"
    "Print every derived table in a deterministic text: a [table] line,\n"
    "then one line per row in key order, columns separated by tabs\n"
    "(tab, newline and backslash escaped, \\N for no value). Equal\n"
    "derived state gives equal output. It shows clinical values: keep\n"
    "the output as safe as the data directory.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure; 2 usage.\n";

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
		return srv_usage(cmd, "--data DIR is required");
	return 0;
}

int cmd_rebuild(int argc, char **argv)
{
	struct srv_core core;
	struct cb_err err;
	const char *dir;
	int rc;

	rc = data_dir("rebuild", argc, argv, &dir);
	if (rc)
		return rc;
	cb_err_clear(&err);
	rc = srv_core_open(&core, dir, &err);
	if (!rc)
		rc = srv_core_rebuild(&core, &err);
	if (!rc)
		printf("rebuilt the derived tables from %zu events\n",
		       cb_merge_count(core.merge));
	srv_core_close(&core);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}

int cmd_dump(int argc, char **argv)
{
	struct srv_store *s = NULL;
	struct cb_err err;
	const char *dir;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = data_dir("dump", argc, argv, &dir);
	if (rc)
		return rc;
	cb_err_clear(&err);
	rc = srv_store_open(dir, &s, &err);
	if (!rc)
		rc = srv_store_derived_dump(s, &text, &len, &err);
	if (!rc)
		fwrite(text, 1, len, stdout);
	free(text);
	srv_store_close(s);
	return rc ? srv_fail(&err) : SRV_EXIT_OK;
}
