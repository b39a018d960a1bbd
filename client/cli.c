/*
 * cli.c - messages and exit codes shared by every casebook command, and
 * the dispatch of one command line through the command table, which
 * main() and `casebook shell` share.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text.h"

/* The analyzer's stand-ins for these (cli.h) are not for this file. */
#undef cli_error
#undef cli_usage
#undef cli_fail

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("casebook: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("casebook: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'casebook %s%s--help'.\n", cmd ? cmd : "",
		cmd ? " " : "");
	return EXIT_USAGE;
}

int cli_exit_code(int cb_code)
{
	switch (cb_code) {
	case CB_OK:
		return EXIT_OK;
	case CB_ECHECK:
		return EXIT_CHECK;
	case CB_EAUTH:
	case CB_EFORBIDDEN:
		return EXIT_AUTH;
	case CB_EUNREACHABLE:
		return EXIT_UNREACHABLE;
	default:
		return EXIT_FAIL;
	}
}

int cli_fail(const struct cb_err *err)
{
	/* A failure whose cause was not told is still a failure: never
	 * exit 0 after saying "error". */
	if (!err->code) {
		fprintf(stderr, "casebook: error: the command failed for a "
				"reason it did not tell (a defect: please "
				"report it); nothing was changed\n");
		return EXIT_FAIL;
	}
	fprintf(stderr, "casebook: error: %s\n",
		err->msg[0] ? cli_safe(err->msg) : cb_err_name(err->code));
	return cli_exit_code(err->code);
}

/* Escaped copies handed out by cli_safe, reused in turn. */
#define CLI_SAFE_SLOTS 16
static char *safe_slot[CLI_SAFE_SLOTS];
static unsigned safe_next;

const char *cli_safe(const char *s)
{
	int oom = 0;
	char *copy = cb_text_escape(s, &oom);

	if (!copy)
		return oom ? "(out of memory)" : s;
	free(safe_slot[safe_next]);
	safe_slot[safe_next] = copy;
	safe_next = (safe_next + 1) % CLI_SAFE_SLOTS;
	return copy;
}

int cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

void cli_print_help(FILE *f, const struct cli_global *g)
{
	size_t i;

	fprintf(f, "usage: casebook [--home DIR] [--user NAME] "
		   "[--passphrase-file FILE] [--quiet]\n"
		   "                COMMAND [ARGS]\n"
		   "\n"
		   "Casebook: clinical-trial data capture that works offline.\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < g->ncommands; i++)
		fprintf(f, "  %-12s %s\n", g->commands[i].name,
			g->commands[i].summary);
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
	       "  -q, --quiet             no progress lines and no "
	       "informational\n"
	       "                          messages; errors and the data asked "
	       "for stay\n"
	       "  -h, --help              this help; 'casebook COMMAND --help' "
	       "for a command\n"
	       "  --version               print the version\n"
	       "\n"
	       "Each command asks the passphrase and unlocks the store; "
	       "'casebook shell'\n"
	       "unlocks once for many commands. Scripts use "
	       "$CASEBOOK_PASSPHRASE or\n"
	       "--passphrase-file. Output has no colour.\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 rejected by an edit "
	       "check,\n"
	       "4 wrong passphrase or not authorized, 5 server unreachable.\n");
}

int cli_dispatch(int argc, char **argv, struct cli_global *g)
{
	const struct cli_command *c = NULL;
	size_t i;

	for (i = 0; i < g->ncommands; i++)
		if (!strcmp(argv[0], g->commands[i].name))
			c = &g->commands[i];
	if (c) {
		if (cli_wants_help(argc, argv)) {
			fputs(c->help, stdout);
			return EXIT_OK;
		}
		if (g->hold && (c->flags & CLI_NOT_IN_SHELL))
			return cli_usage(NULL,
					 "'%s' cannot run inside 'casebook "
					 "shell' (it creates or re-keys a "
					 "store, or is the shell); leave the "
					 "shell and run 'casebook %s'",
					 c->name, c->name);
		return c->run(argc, argv, g);
	}
	if (!strcmp(argv[0], "help")) {
		if (argc > 1) {
			for (i = 0; i < g->ncommands; i++)
				if (!strcmp(argv[1], g->commands[i].name)) {
					fputs(g->commands[i].help, stdout);
					return EXIT_OK;
				}
		}
		cli_print_help(stdout, g);
		return EXIT_OK;
	}
	return cli_usage(NULL, "'%s' is not a casebook command", argv[0]);
}

int cli_progress(const struct cli_global *g)
{
	return !g->quiet && isatty(STDERR_FILENO);
}

void cli_info(const struct cli_global *g, const char *fmt, ...)
{
	va_list ap;

	if (g->quiet)
		return;
	fputs("casebook: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
