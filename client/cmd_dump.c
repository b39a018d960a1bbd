/*
 * cmd_dump.c - `casebook dump`: the canonical text of this device's
 * derived state.
 *
 * The merge engine derives everything a user sees from the set of
 * stored events, and cb_merge_dump writes that derived state as one
 * deterministic text. Two replicas holding the same events print the
 * same bytes, and `casebookd dump --canonical` prints the same text of
 * the server's events, so the sync tests compare devices and server
 * byte for byte.
 */
#include "cli.h"
#include "entry.h"

#include <stdio.h>
#include <stdlib.h>

const char cmd_dump_help[] =
    "usage: casebook dump\n"
    "\n"
    "Print the canonical text of this device's merged record: every\n"
    "event id, every item with its value or conflict, its heads and its\n"
    "audit trail, every form with its signature state, every query with\n"
    "its status. Devices holding the same events print identical text,\n"
    "and 'casebookd dump --canonical' prints the same text of the\n"
    "server's events, so replicas can be compared byte for byte. It\n"
    "shows clinical values in plain text: keep the output safe.\n"
    "\n"
    "Exit codes: 0 ok; 1 failure; 2 usage; 4 wrong passphrase.\n";

int cmd_dump(int argc, char **argv, struct cli_global *g)
{
	struct entry e;
	struct cb_err err;
	char *text = NULL;
	size_t len = 0;
	int rc;

	(void)argv;
	if (argc != 1)
		return cli_usage("dump", "dump takes no arguments");
	rc = entry_open(g, &e, &err);
	if (!rc)
		rc = cb_merge_dump(e.merge, &text, &len, &err);
	if (!rc && fwrite(text, 1, len, stdout) != len)
		rc = cb_err_set(&err, CB_EIO, "writing the dump failed");
	free(text);
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}
