/*
 * cmd_backup.c - `casebook backup --out FILE`: a copy of this laptop's
 * encrypted store, taken while no write is half done and checked
 * (store_backup in store.h), and what restoring one does.
 */
#include "cli.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

const char cmd_backup_help[] =
    "usage: casebook backup --out FILE\n"
    "\n"
    "Copy this laptop's store, encrypted as it is, into the new file FILE:\n"
    "every committed change, none half done (SQLite's online backup of one\n"
    "snapshot; other casebook commands may run meanwhile). The copy is\n"
    "then checked as 'casebook store check' checks the store: every event,\n"
    "subject, setting and row decrypts and is authentic, and it holds\n"
    "what the store held. FILE is never overwritten; it is written under\n"
    "a temporary name and appears only once complete and checked. It\n"
    "unlocks with the same users and passphrases as the store, and holds\n"
    "the device's signing key: keep it as you keep the laptop.\n"
    "\n"
    "Restoring: put the file back as casebook.db in an empty store\n"
    "directory (mode 0700), on this laptop or a replacement:\n"
    "  mkdir -m 700 ~/.casebook && cp FILE ~/.casebook/casebook.db\n"
    "then 'casebook store check' and 'casebook sync'. The restored laptop\n"
    "is the same device: the sync sends what the backup held and the\n"
    "server lacks, and brings back everything the server has, this\n"
    "device's own later events included. What was entered after the\n"
    "backup and never synced is lost: sync before taking a backup. No\n"
    "subject id is ever given twice: the next subject number is past every\n"
    "subject of this device the store holds, so sync before enrolling; an\n"
    "id made offline that the server already has is refused by the server\n"
    "(the enrollment stays in quarantine, shown by 'casebook status') and\n"
    "nothing the server holds changes.\n"
    "\n"
    "Options:\n"
    "  --out FILE   the new file (must not exist)\n"
    "\n"
    "Exit codes: 0 done; 1 FILE exists, cannot be written, or the copy\n"
    "failed its check (nothing is left at FILE); 2 usage; 4 wrong\n"
    "passphrase.\n";

int cmd_backup(int argc, char **argv, struct cli_global *g)
{
	struct store_check_report rep;
	const char *out = NULL;
	struct store *st = NULL;
	struct cb_err err;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc && !out)
			out = argv[++i];
		else
			return cli_usage("backup", "unknown argument '%s'",
					 argv[i]);
	}
	if (!out || !out[0])
		return cli_usage("backup", "backup needs --out FILE");
	cb_err_clear(&err);
	rc = store_open_cli(g, &st, &err);
	if (!rc)
		rc = store_backup(st, out, &rep, &err);
	if (rc) {
		store_close(st);
		return cli_fail(&err);
	}
	printf("backup: %s\n"
	       "events %lld (%lld unsynced), subjects %lld, users %lld; "
	       "checked\n"
	       "content digest %s\n",
	       cli_safe(out), (long long)rep.events, (long long)rep.unsynced,
	       (long long)rep.subjects, (long long)rep.users, rep.digest);
	store_close(st);
	return EXIT_OK;
}
