/*
 * main.c - `casebookd`, the central Casebook server program.
 *
 * Dispatches to one cmd_<name>() per command family from the table below;
 * each lives in server/cmd_<name>.c on top of libcasebook. Adding a
 * command means adding a row here, its file, its --help text and its
 * tests; the help screen lists exactly the rows of the table.
 *
 * Exit codes follow DESIGN.md section 9: 0 ok, 1 failure, 2 usage.
 */
#include "clock.h"
#include "srv.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

/*
 * casebookd's allocator is jemalloc (the Makefile links it; not under the
 * sanitizers), which reads this setting at its start; MALLOC_CONF in the
 * environment still overrides it. One arena, its caches per thread in
 * front: the server's threads allocate and free the same push's memory
 * in turn, and more arenas only hold more of it. Freed pages go back to
 * the system about a second after they are freed instead of jemalloc's
 * ten, so the peak stays near what is in use; jemalloc returns them as
 * it works, so a server gone idle keeps what it held until its next
 * request (a background thread would return them, but its own memory
 * took the 200 devices' peak to 63.1 MiB). docs/OPERATIONS.md,
 * "Memory"; the figures are in docs/PERFORMANCE.md.
 */
const char *malloc_conf = "narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0";

struct srv_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *help;
};

/* Ends with a NULL row, so the table may be otherwise empty. */
static const struct srv_command commands[] = {
    {"init", cmd_init, "create the central store of a study", cmd_init_help},
    {"site", cmd_site, "add and list sites", cmd_site_help},
    {"token", cmd_token, "create, list and revoke registration tokens",
     cmd_token_help},
    {"user", cmd_user, "add, list and disable the people of the study",
     cmd_user_help},
    {"device", cmd_device, "list and revoke registered devices",
     cmd_device_help},
    {"serve", cmd_serve, "serve the HTTP API", cmd_serve_help},
    {"status", cmd_status, "show what the central store holds",
     cmd_status_help},
    {"rebuild", cmd_rebuild, "rebuild the derived tables from the events",
     cmd_rebuild_help},
    {"dump", cmd_dump, "print the derived tables deterministically",
     cmd_dump_help},
    {"bundle", cmd_bundle, "import a bundle from a device with no network",
     cmd_bundle_help},
    {"randlist", cmd_randlist, "import the sealed randomization list",
     cmd_randlist_help},
    {"export", cmd_export, "export the record for the statistician (blinded)",
     cmd_export_help},
    {"report", cmd_report, "the open interim safety report for the DSMB",
     cmd_report_help},
    {"backup", cmd_backup, "copy the store while the server runs",
     cmd_backup_help},
    {"restore", cmd_restore, "make the store again from a backup",
     cmd_restore_help},
    {"migrate", cmd_migrate, "move the central store to another backend",
     cmd_migrate_help},
    {NULL, NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
	const struct srv_command *c;

	if (commands[0].name)
		fprintf(f, "usage: casebookd COMMAND [ARGS]\n"
			   "       casebookd --help | --version\n");
	else
		fprintf(f, "usage: casebookd --help | --version\n");
	fprintf(f, "\n"
		   "casebookd is the central Casebook server program.\n"
		   "\n"
		   "Commands:\n");
	if (!commands[0].name)
		fprintf(f, "  (none in this version)\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\n"
		   "Options:\n"
		   "  -h, --help   show this help and exit\n"
		   "  --version    print the version and exit\n");
	if (commands[0].name)
		fprintf(f, "\n'casebookd COMMAND --help' shows a command's "
			   "help.\n");
	fprintf(f, "\nExit codes: 0 ok, 1 failure, 2 usage error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "casebookd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'casebookd --help'.\n");
	return SRV_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const struct srv_command *c;
	struct cb_err err;
	int i;

	if (argc < 2) {
		fprintf(stderr, "casebookd: no command given\n\n");
		print_help(stderr);
		return SRV_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		print_help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("casebookd %s\n", CB_VERSION);
		return 0;
	}
	if (argv[1][0] == '-')
		return usage_error("unknown option '%s'", argv[1]);
	for (c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name))
			continue;
		/* --help anywhere among the arguments: a subcommand's
		 * help is its command's. */
		for (i = 2; i < argc; i++)
			if (!strcmp(argv[i], "--help") ||
			    !strcmp(argv[i], "-h")) {
				fputs(c->help, stdout);
				return 0;
			}
		/* A test's clock skew that cannot be honoured is an error,
		 * not a silently correct clock. */
		cb_err_clear(&err);
		if (cb_clock_init(&err)) {
			fprintf(stderr, "casebookd: %s\n", err.msg);
			return SRV_EXIT_USAGE;
		}
		return c->run(argc - 1, argv + 1);
	}
	return usage_error("'%s' is not a casebookd command", argv[1]);
}
