/*
 * main.c - `casebook`, the site and central-role command line.
 *
 * Parses the global options, then dispatches (cli_dispatch, which
 * `casebook shell` uses too) to one cmd_<name>() per command family from
 * the table below. Adding a command means adding a
 * row here, a client/cmd_<name>.c file, its help text and its tests.
 */
#include "cli.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command commands[] = {
    {"protocol", cmd_protocol, "check or show a study protocol file",
     cmd_protocol_help, 0},
    {"score", cmd_score, "compute WOMAC or KOOS scores from item values",
     cmd_score_help, 0},
    {"init", cmd_init, "create this laptop's encrypted store", cmd_init_help,
     CLI_NOT_IN_SHELL},
    {"user", cmd_user, "add or list the users of the local store",
     cmd_user_help, 0},
    {"passwd", cmd_passwd, "change your passphrase", cmd_passwd_help,
     CLI_NOT_IN_SHELL},
    {"shell", cmd_shell, "unlock once, then run commands at a prompt",
     cmd_shell_help, CLI_NOT_IN_SHELL},
    {"subject", cmd_subject, "add, list and show subjects", cmd_subject_help,
     0},
    {"form", cmd_form, "save, enter and review form data", cmd_form_help, 0},
    {"import", cmd_import, "enter a backlog of paper forms from a file",
     cmd_import_help, 0},
    {"ae", cmd_ae, "record adverse events", cmd_ae_help, 0},
    {"sign", cmd_sign, "e-sign a form (investigators)", cmd_sign_help, 0},
    {"status", cmd_status,
     "unsynced events, queries, overdue and upcoming visits", cmd_status_help,
     0},
    {"sync", cmd_sync, "send and receive events with the central server",
     cmd_sync_help, 0},
    {"server", cmd_server, "show or move the server address (key checked)",
     cmd_server_help, 0},
    {"bundle", cmd_bundle, "sync by carrying files (no network)",
     cmd_bundle_help, 0},
    {"query", cmd_query, "open, list, answer and close data queries",
     cmd_query_help, 0},
    {"export", cmd_export,
     "export the record for the statistician, blinded (csv, odm, ...)",
     cmd_export_help, 0},
    {"report", cmd_report, "the DSMB's interim safety report, open or closed",
     cmd_report_help, 0},
    {"dump", cmd_dump, "print the canonical text of the merged record",
     cmd_dump_help, 0},
    {"store", cmd_store, "check the local store's integrity", cmd_store_help,
     0},
    {"backup", cmd_backup, "a checked copy of the local store", cmd_backup_help,
     0},
    {"keygen", cmd_keygen, "make the trial unblinding key pair (statistician)",
     cmd_keygen_help, 0},
    {"randlist", cmd_randlist,
     "generate, verify or reveal a sealed randomization list",
     cmd_randlist_help, 0},
    {"randomize", cmd_randomize,
     "randomize an eligible subject with a leased slot", cmd_randomize_help, 0},
    {"unblind", cmd_unblind,
     "emergency code-break of one subject (investigators)", cmd_unblind_help,
     0},
    {"arms", cmd_arms, "open the randomized subjects' arms (DSMB)",
     cmd_arms_help, 0},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int main(int argc, char **argv)
{
	struct cli_global g = {0};
	int i = 1;

	g.commands = commands;
	g.ncommands = NCOMMANDS;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cli_print_help(stdout, &g);
			return EXIT_OK;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			g.quiet = 1;
			i++;
		} else if (!strcmp(a, "--version")) {
			printf("casebook %s\n", CB_VERSION);
			return EXIT_OK;
		} else if (!strcmp(a, "--home") || !strcmp(a, "--user") ||
			   !strcmp(a, "--passphrase-file")) {
			if (i + 1 >= argc)
				return cli_usage(NULL,
						 "option %s needs a value", a);
			if (!strcmp(a, "--home"))
				g.home = argv[i + 1];
			else if (!strcmp(a, "--user"))
				g.user = argv[i + 1];
			else
				g.passphrase_file = argv[i + 1];
			i += 2;
		} else {
			return cli_usage(NULL, "unknown option '%s'", a);
		}
	}
	if (i >= argc) {
		cli_print_help(stderr, &g);
		return EXIT_USAGE;
	}
	if (!g.home)
		g.home = getenv("CASEBOOK_HOME");
	if (!g.user)
		g.user = getenv("CASEBOOK_USER");

	return cli_dispatch(argc - i, argv + i, &g);
}
