/*
 * main.c - `casebook`, the site and central-role command line.
 *
 * Parses the global options, then dispatches to one cmd_<name>() per
 * command family from the table below. Adding a command means adding a
 * row here, a client/cmd_<name>.c file, its help text and its tests.
 */
#include "cli.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_command commands[] = {
    {"protocol", cmd_protocol, "check or show a study protocol file",
     cmd_protocol_help},
    {"score", cmd_score, "compute WOMAC or KOOS scores from item values",
     cmd_score_help},
    {"init", cmd_init, "create this laptop's encrypted store", cmd_init_help},
    {"user", cmd_user, "add or list the users of the local store",
     cmd_user_help},
    {"passwd", cmd_passwd, "change your passphrase", cmd_passwd_help},
    {"subject", cmd_subject, "add, list and show subjects", cmd_subject_help},
    {"form", cmd_form, "save, enter and review form data", cmd_form_help},
    {"import", cmd_import, "enter a backlog of paper forms from a file",
     cmd_import_help},
    {"ae", cmd_ae, "record adverse events", cmd_ae_help},
    {"sign", cmd_sign, "e-sign a form (investigators)", cmd_sign_help},
    {"status", cmd_status,
     "unsynced events, queries, overdue and upcoming visits", cmd_status_help},
    {"sync", cmd_sync, "send and receive events with the central server",
     cmd_sync_help},
    {"server", cmd_server, "show or move the server address (key checked)",
     cmd_server_help},
    {"bundle", cmd_bundle, "sync by carrying files (no network)",
     cmd_bundle_help},
    {"query", cmd_query, "open, list, answer and close data queries",
     cmd_query_help},
    {"dump", cmd_dump, "print the canonical text of the merged record",
     cmd_dump_help},
    {"store", cmd_store, "check the local store's integrity", cmd_store_help},
    {"backup", cmd_backup, "a checked copy of the local store",
     cmd_backup_help},
    {"keygen", cmd_keygen, "make the trial unblinding key pair (statistician)",
     cmd_keygen_help},
    {"randlist", cmd_randlist,
     "generate, verify or reveal a sealed randomization list",
     cmd_randlist_help},
    {"randomize", cmd_randomize,
     "randomize an eligible subject with a leased slot", cmd_randomize_help},
    {"unblind", cmd_unblind,
     "emergency code-break of one subject (investigators)", cmd_unblind_help},
    {"arms", cmd_arms, "open the randomized subjects' arms (DSMB)",
     cmd_arms_help},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *f)
{
	size_t i;

	fprintf(f, "usage: casebook [--home DIR] [--user NAME] "
		   "[--passphrase-file FILE]\n"
		   "                COMMAND [ARGS]\n"
		   "\n"
		   "Casebook: clinical-trial data capture that works offline.\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(
	    f, "\n"
	       "Global options:\n"
	       "  --home DIR              local store directory (default "
	       "$CASEBOOK_HOME,\n"
	       "                          else ~/.casebook)\n"
	       "  --user NAME             act as NAME (default $CASEBOOK_USER, "
	       "else the\n"
	       "                          user who created the store)\n"
	       "  --passphrase-file FILE  read the passphrase from FILE (else\n"
	       "                          $CASEBOOK_PASSPHRASE, else ask on "
	       "the terminal)\n"
	       "  -h, --help              this help; 'casebook COMMAND --help' "
	       "for a command\n"
	       "  --version               print the version\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 rejected by an edit "
	       "check,\n"
	       "4 wrong passphrase or not authorized, 5 server unreachable.\n");
}

int main(int argc, char **argv)
{
	struct cli_global g = {0};
	int i = 1;
	size_t c;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			print_help(stdout);
			return EXIT_OK;
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
		print_help(stderr);
		return EXIT_USAGE;
	}
	if (!g.home)
		g.home = getenv("CASEBOOK_HOME");
	if (!g.user)
		g.user = getenv("CASEBOOK_USER");

	for (c = 0; c < NCOMMANDS; c++) {
		if (strcmp(argv[i], commands[c].name))
			continue;
		if (cli_wants_help(argc - i, argv + i)) {
			fputs(commands[c].help, stdout);
			return EXIT_OK;
		}
		return commands[c].run(argc - i, argv + i, &g);
	}
	if (!strcmp(argv[i], "help")) {
		if (i + 1 < argc) {
			for (c = 0; c < NCOMMANDS; c++)
				if (!strcmp(argv[i + 1], commands[c].name)) {
					fputs(commands[c].help, stdout);
					return EXIT_OK;
				}
		}
		print_help(stdout);
		return EXIT_OK;
	}
	return cli_usage(NULL, "'%s' is not a casebook command", argv[i]);
}
