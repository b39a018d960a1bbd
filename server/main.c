/*
 * main.c - `casebookd`, the central Casebook server and its admin commands.
 *
 * Dispatches to one cmd_<name>() per command family from the table below;
 * each lives in server/cmd_<name>.c on top of libcasebook.
 */
#include "version.h"

#include <stdio.h>
#include <string.h>

struct srv_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *help;
};

static const struct srv_command commands[] = {
	{NULL, NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
	const struct srv_command *c;

	fprintf(f, "usage: casebookd COMMAND [ARGS]\n"
		   "\n"
		   "The central Casebook server: merges every site's records and\n"
		   "serves the sync API.\n");
	if (commands[0].name) {
		fprintf(f, "\nCommands:\n");
		for (c = commands; c->name; c++)
			fprintf(f, "  %-10s %s\n", c->name, c->summary);
	}
	fprintf(f, "\nOptions:\n"
		   "  -h, --help   this help; 'casebookd COMMAND --help' for a command\n"
		   "  --version    print the version\n");
}

int main(int argc, char **argv)
{
	const struct srv_command *c;

	if (argc < 2) {
		print_help(stderr);
		return 2;
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
	for (c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name))
			continue;
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			fputs(c->help, stdout);
			return 0;
		}
		return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "casebookd: '%s' is not a casebookd command\n"
			"Try 'casebookd --help'.\n",
		argv[1]);
	return 2;
}
