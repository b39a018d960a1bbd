/*
 * cli.h - what every `casebook` command file shares: the command table
 * entry, the global options, and the helpers that turn a library error
 * into a message and an exit code.
 *
 * Exit codes (DESIGN.md section 9): 0 ok, 1 failure, 2 usage, 3 data
 * rejected by an edit check, 4 wrong passphrase or not authorized,
 * 5 server unreachable.
 */
#ifndef CB_CLI_H
#define CB_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

struct cli_command;
struct store_hold;

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_CHECK = 3,
	EXIT_AUTH = 4,
	EXIT_UNREACHABLE = 5,
};

/* Options given before the command name. */
struct cli_global {
	const char
	    *home; /* --home DIR, else $CASEBOOK_HOME, else ~/.casebook */
	const char *user; /* --user NAME, else $CASEBOOK_USER, else NULL */
	const char *passphrase_file; /* --passphrase-file FILE */
	int quiet; /* --quiet: no progress or informational lines */
	/* The command table (main.c), for `casebook shell`, which runs its
	 * lines through cli_dispatch with it. */
	const struct cli_command *commands;
	size_t ncommands;
	/* Inside `casebook shell`: the key it unlocked once (store.h's
	 * store_hold), which store_open_cli uses instead of a passphrase;
	 * NULL everywhere else. */
	const struct store_hold *hold;
};

/* Flags of a command table row. */
#define CLI_NOT_IN_SHELL 1u /* refused at the prompt of `casebook shell` */

/*
 * One row of the command table. `run` gets argv with argv[0] the command
 * name, and returns the process exit code. `help` is printed for
 * `casebook NAME --help`.
 */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, struct cli_global *g);
	const char *summary;
	const char *help;
	unsigned flags; /* CLI_NOT_IN_SHELL */
};

/*
 * Run one command line: argv[0] is the command name (or "help"), looked
 * up in g->commands. `NAME --help` prints the command's help, `help
 * [NAME]` the help of NAME or of casebook; an unknown name is a usage
 * error. Inside the shell (g->hold set) a CLI_NOT_IN_SHELL command is
 * refused with a message saying to run it outside (EXIT_USAGE). Returns
 * the command's exit code. Both main() and `casebook shell` dispatch
 * through this, so a line at the prompt runs exactly what the same words
 * run on the command line.
 */
int cli_dispatch(int argc, char **argv, struct cli_global *g);

/* casebook's own --help: the usage, g->commands and the global options. */
void cli_print_help(FILE *f, const struct cli_global *g);

/*
 * 1 when a command may draw a progress line (rewritten in place with
 * \r): stderr is a terminal and --quiet was not given.
 */
int cli_progress(const struct cli_global *g);

/*
 * An informational line on stderr ("casebook: ..." then fmt), which
 * --quiet suppresses: what was done, hints, counts nobody asked for.
 * Errors (cli_error) and the data a command was asked for are never
 * informational.
 */
void cli_info(const struct cli_global *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "casebook: error: ..." on stderr; returns EXIT_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "casebook: ..." usage complaint and a --help hint; returns EXIT_USAGE.
 */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Print a library error and return the exit code its code maps to; never
 * EXIT_OK, even for an err whose code was not set.
 */
int cli_fail(const struct cb_err *err);

#ifdef __clang_analyzer__
/*
 * The static analyzer reads one file at a time and cannot see cli.c: say
 * here what these return, so that `return cli_error(...)` and `return
 * cli_fail(&err)` read as the failures they are on every path.
 */
static inline int cli_nonzero_(int ex)
{
	return ex ? ex : EXIT_FAIL;
}
#define cli_error(...) (cli_error(__VA_ARGS__), EXIT_FAIL)
#define cli_usage(...) (cli_usage(__VA_ARGS__), EXIT_USAGE)
#define cli_fail(err) cli_nonzero_(cli_fail(err))
#endif

/*
 * `s` as it may be printed for people: `s` itself when it holds no
 * control, line-break or bidirectional character (text.h), else a copy
 * with each of them escaped (cb_text_escape), valid until 16 more calls.
 * Every text that came from a person or another device (values, reasons,
 * query texts, server messages) is printed through it, so what an
 * older event holds cannot rewrite someone's terminal. NULL gives NULL.
 */
const char *cli_safe(const char *s);

/* The exit code a CB_E* code maps to. */
int cli_exit_code(int cb_code);

/* True when argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

/* Command entry points, one file each (client/cmd_<name>.c). */
int cmd_protocol(int argc, char **argv, struct cli_global *g);
int cmd_score(int argc, char **argv, struct cli_global *g);

extern const char cmd_protocol_help[];
extern const char cmd_score_help[];

/* The local store: cmd_init.c (init, store) and cmd_user.c (user, passwd). */
int cmd_init(int argc, char **argv, struct cli_global *g);
int cmd_store(int argc, char **argv, struct cli_global *g);
int cmd_user(int argc, char **argv, struct cli_global *g);
int cmd_passwd(int argc, char **argv, struct cli_global *g);
extern const char cmd_init_help[];
extern const char cmd_store_help[];
extern const char cmd_user_help[];
extern const char cmd_passwd_help[];

/* Sync with the central server: cmd_sync.c. */
int cmd_sync(int argc, char **argv, struct cli_global *g);
extern const char cmd_sync_help[];

/* Sync by carrying files: cmd_bundle.c. */
int cmd_bundle(int argc, char **argv, struct cli_global *g);
extern const char cmd_bundle_help[];

/* Data entry: cmd_subject.c, cmd_form.c. */
int cmd_subject(int argc, char **argv, struct cli_global *g);
int cmd_form(int argc, char **argv, struct cli_global *g);
extern const char cmd_subject_help[];
extern const char cmd_form_help[];

/* Adverse events: cmd_ae.c. */
int cmd_ae(int argc, char **argv, struct cli_global *g);
extern const char cmd_ae_help[];

/* Signatures and the laptop's overview: cmd_sign.c, cmd_status.c. */
int cmd_sign(int argc, char **argv, struct cli_global *g);
int cmd_status(int argc, char **argv, struct cli_global *g);
extern const char cmd_sign_help[];
extern const char cmd_status_help[];

/* The statistician's offline randomization tools: cmd_keygen.c and
 * cmd_randlist.c. */
int cmd_keygen(int argc, char **argv, struct cli_global *g);
int cmd_randlist(int argc, char **argv, struct cli_global *g);
extern const char cmd_keygen_help[];
extern const char cmd_randlist_help[];

/* Randomization and the emergency code-break: cmd_randomize.c and
 * cmd_unblind.c (docs/randomization.md; the lease is lease.h's). */
int cmd_randomize(int argc, char **argv, struct cli_global *g);
int cmd_unblind(int argc, char **argv, struct cli_global *g);
extern const char cmd_randomize_help[];
extern const char cmd_unblind_help[];
/* The DSMB's arms of the randomized subjects (GET /v1/arms): cmd_arms.c. */
int cmd_arms(int argc, char **argv, struct cli_global *g);
extern const char cmd_arms_help[];

/* The statistician's exports and the DSMB's safety report, from this
 * laptop's record: cmd_export.c, cmd_report.c (lfeed.h). */
int cmd_export(int argc, char **argv, struct cli_global *g);
int cmd_report(int argc, char **argv, struct cli_global *g);
extern const char cmd_export_help[];
extern const char cmd_report_help[];

/* Data queries and the canonical dump: cmd_query.c, cmd_dump.c. */
int cmd_query(int argc, char **argv, struct cli_global *g);
int cmd_dump(int argc, char **argv, struct cli_global *g);
extern const char cmd_query_help[];
extern const char cmd_dump_help[];

/* A checked copy of the laptop's store: cmd_backup.c. */
int cmd_backup(int argc, char **argv, struct cli_global *g);
extern const char cmd_backup_help[];

/* The server's address and moving it: cmd_server.c. */
int cmd_server(int argc, char **argv, struct cli_global *g);
extern const char cmd_server_help[];

/* Unlock once, then commands at a prompt: cmd_shell.c. */
int cmd_shell(int argc, char **argv, struct cli_global *g);
extern const char cmd_shell_help[];

/* Bulk entry of paper CRFs from a file: cmd_import.c. */
int cmd_import(int argc, char **argv, struct cli_global *g);
extern const char cmd_import_help[];

#endif
