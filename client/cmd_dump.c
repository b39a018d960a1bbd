/*
 * cmd_dump.c - `casebook dump`: the canonical text of this device's
 * derived state.
 *
 * The merge engine derives everything a user sees from the set of
 * stored events, and the canonical dump (merge.h, format 2) writes that
 * derived state as one deterministic text, subject by subject in byte
 * order of the id. It is written here one subject at a time: each
 * subject's events are merged alone (entry_merge), its section printed
 * and the merge state let go, so a dump holds one subject in memory
 * whatever the store holds. Two replicas holding the same events print
 * the same bytes, and `casebookd dump --canonical` prints the same text
 * of the server's events, so the sync tests compare devices and server
 * byte for byte.
 */
#include "cli.h"
#include "derive.h"
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

struct dump_ctx {
	struct entry *e;
	struct cb_err *err;
};

static int dump_one(void *ctx, const struct derive_summary *ds)
{
	struct dump_ctx *d = ctx;
	struct cb_merge *m;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!ds->summary)
		return 0; /* nothing of it on the record */
	rc = entry_merge(d->e, ds->subject, &m, d->err);
	if (!rc)
		rc = cb_merge_dump_subject(m, ds->subject, &text, &len, d->err);
	if (!rc && fwrite(text, 1, len, stdout) != len)
		rc = cb_err_set(d->err, CB_EIO, "writing the dump failed");
	free(text);
	return rc;
}

int cmd_dump(int argc, char **argv, struct cli_global *g)
{
	struct dump_ctx d;
	struct entry e;
	struct cb_err err;
	int rc;

	(void)argv;
	if (argc != 1)
		return cli_usage("dump", "dump takes no arguments");
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	d.e = &e;
	d.err = &err;
	if (fputs(CB_MERGE_DUMP_HEAD, stdout) == EOF)
		rc = cb_err_set(&err, CB_EIO, "writing the dump failed");
	/* The subjects in byte order of the id, as the format has them. */
	if (!rc)
		rc = derive_each_summary(e.st, e.proto, dump_one, &d, &err);
	if (!rc && fflush(stdout))
		rc = cb_err_set(&err, CB_EIO, "writing the dump failed");
	entry_close(&e);
	return rc ? cli_fail(&err) : EXIT_OK;
}
