/*
 * cmd_subject.c - subjects on this laptop: `casebook subject add`.
 *
 * A subject id is SITE-DDNNN: the site code, this device's two-digit
 * index and a three-digit sequence kept by the store, so two laptops of
 * one site never make the same id, with no network.
 */
#include "cli.h"
#include "entry.h"

#include <stdio.h>
#include <string.h>

const char cmd_subject_help[] =
    "usage: casebook subject add\n"
    "\n"
    "add   create a new subject at screening and print its id, SITE-DDNNN\n"
    "      (site code, this laptop's device index, a sequence number), for\n"
    "      example KR01-01007. Works offline; ids never collide between\n"
    "      devices.\n"
    "\n"
    "Exit codes: 0 done; 1 failure; 2 usage; 4 wrong passphrase.\n";

static int subject_add(int argc, char **argv, struct cli_global *g)
{
	char id[STORE_SITE_MAX + 16];
	struct entry e;
	struct cb_event ev;
	struct cb_err err;
	unsigned seq;
	int rc;

	(void)argv;
	if (argc != 2)
		return cli_usage("subject", "'subject add' takes no arguments");
	rc = entry_open(g, &e, &err);
	if (rc)
		return cli_fail(&err);
	rc = store_begin(e.st, &err);
	if (!rc)
		rc = store_next_subject_seq(e.st, &seq, &err);
	if (!rc) {
		snprintf(id, sizeof(id), "%s-%02d%03u", store_site(e.st),
			 store_device_index(e.st), seq);
		rc = entry_new_event(&e, &ev, CB_KIND_SUBJECT_STATUS, id, "",
				     "", "", &err);
		if (!rc) {
			rc = cb_event_set_data(&ev, CB_DATA_STATUS,
					       ENTRY_STATUS_SCREENING, &err);
			if (!rc)
				rc = entry_commit_event(&e, &ev, &err);
			cb_event_release(&ev);
		}
	}
	if (!rc)
		rc = store_commit(e.st, &err);
	else
		store_rollback(e.st);
	entry_close(&e);
	if (rc)
		return cli_fail(&err);
	printf("%s\n", id);
	return EXIT_OK;
}

int cmd_subject(int argc, char **argv, struct cli_global *g)
{
	if (argc < 2)
		return cli_usage("subject", "which subject command? (add)");
	if (!strcmp(argv[1], "add"))
		return subject_add(argc, argv, g);
	return cli_usage("subject", "unknown subject command '%s'", argv[1]);
}
