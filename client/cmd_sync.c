/*
 * cmd_sync.c - `casebook sync`: push this device's events to the central
 * server, then pull what it may see (client/sync.h).
 */
#include "cli.h"
#include "net.h"
#include "store.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_sync_help[] =
    "usage: casebook sync [--retries N] [--cacert FILE]\n"
    "\n"
    "Send this device's new events to the central server the store was\n"
    "registered with ('casebook init --server'), then receive what the\n"
    "server holds for this device: the other devices' events of this\n"
    "site (all sites for a central role), queries and their answers.\n"
    "\n"
    "Events go in batches of at most 500; each batch and each page\n"
    "received is stored in one transaction, so a sync cut off at any point\n"
    "resumes where it stopped when run again, and every event arrives\n"
    "exactly once. Events the server rejects are kept in a quarantine,\n"
    "listed with their reasons by 'casebook status'; they are never sent\n"
    "again and never dropped.\n"
    "\n"
    "When the server's store is not the one this device last synced\n"
    "with (it was restored from a backup: its store id changed), this\n"
    "device says so once, sends all of its own events again (the server\n"
    "skips those it has) and receives everything from the start. While\n"
    "the server has new randomization slots paused after such a restore,\n"
    "the sync warns, tells the server the slots this device holds, and\n"
    "keeps them.\n"
    "\n"
    "  --retries N     attempts after a failed request, with a growing\n"
    "                  pause (0.25 s doubling to 4 s); default 4\n"
    "  --cacert FILE   trust this certificate for an https server (a\n"
    "                  development certificate from scripts/dev-cert.sh);\n"
    "                  default: the one given at init, else the system's\n"
    "\n"
    "A progress line is shown on a terminal.\n"
    "\n"
    "Exit codes: 0 synced (rejected events, if any, are in quarantine);\n"
    "1 failure; 2 usage; 4 wrong passphrase, or the server refuses this\n"
    "device (revoked); 5 server unreachable: nothing was lost, the events\n"
    "stay queued.\n";

int cmd_sync(int argc, char **argv, struct cli_global *g)
{
	const char *cacert = NULL;
	char *server = NULL, *saved_cacert = NULL;
	struct sync_opts o = {4, 0};
	struct sync_stats s;
	struct store *st = NULL;
	struct net n;
	struct cb_err err;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--retries") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);

			if (*end || end == argv[i] || v < 0 || v > 100)
				return cli_usage("sync", "--retries takes a "
							 "number from 0 to "
							 "100");
			o.retries = (int)v;
		} else if (!strcmp(argv[i], "--cacert") && i + 1 < argc) {
			cacert = argv[++i];
		} else {
			return cli_usage("sync", "unknown argument '%s'",
					 argv[i]);
		}
	}
	o.progress = cli_progress(g);
	rc = store_open_cli(g, &st, &err);
	if (rc)
		return cli_fail(&err);
	rc = store_meta_opt(st, SYNC_META_SERVER, &server, &err);
	if (!rc && !cacert)
		rc = store_meta_opt(st, SYNC_META_CACERT, &saved_cacert, &err);
	if (rc) {
		free(server);
		store_close(st);
		return cli_fail(&err);
	}
	if (!server) {
		free(saved_cacert);
		store_close(st);
		return cli_error("this store was not registered with a server "
				 "('casebook init --server URL --token TOKEN' "
				 "makes one that is)");
	}
	if (!cacert)
		cacert = saved_cacert;
	rc = net_init(&n, server, cacert, &err);
	if (!rc)
		rc = sync_run(st, &n, &o, &s, &err);
	net_free(&n);
	if (rc == CB_EUNREACHABLE) {
		int64_t total = 0, unsynced = 0;
		struct cb_err ignored;

		store_count_events(st, &total, &unsynced, &ignored);
		fprintf(stderr,
			"casebook: %s\n"
			"casebook: nothing was lost: %lld event%s queued "
			"for the next sync\n",
			err.msg, (long long)unsynced,
			unsynced == 1 ? " stays" : "s stay");
		rc = EXIT_UNREACHABLE;
	} else if (rc) {
		rc = cli_fail(&err);
	} else {
		sync_print_stats(&s, g->quiet);
		rc = EXIT_OK;
	}
	free(server);
	free(saved_cacert);
	store_close(st);
	return rc;
}
