/*
 * cli.c - messages and exit codes shared by every casebook command.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
