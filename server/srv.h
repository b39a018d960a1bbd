/*
 * srv.h - what the casebookd command files share: their entry points and
 * help texts, option parsing, error reporting, the role model and the
 * structured log.
 *
 * Exit codes (DESIGN.md section 9): 0 ok, 1 failure, 2 usage.
 */
#ifndef SRV_H
#define SRV_H

#include <stdint.h>

#include "err.h"
#include "role.h"
#include "seqs.h"

enum {
	SRV_EXIT_OK = 0,
	SRV_EXIT_FAIL = 1,
	SRV_EXIT_USAGE = 2,
};

/* Command entry points: argv[0] is the command name. One file each. */
int cmd_init(int argc, char **argv);	 /* cmd_init.c */
int cmd_site(int argc, char **argv);	 /* cmd_site.c */
int cmd_token(int argc, char **argv);	 /* cmd_token.c */
int cmd_device(int argc, char **argv);	 /* cmd_device.c */
int cmd_user(int argc, char **argv);	 /* cmd_user.c */
int cmd_status(int argc, char **argv);	 /* cmd_status.c */
int cmd_rebuild(int argc, char **argv);	 /* cmd_rebuild.c */
int cmd_dump(int argc, char **argv);	 /* cmd_rebuild.c */
int cmd_serve(int argc, char **argv);	 /* cmd_serve.c */
int cmd_bundle(int argc, char **argv);	 /* cmd_bundle.c */
int cmd_randlist(int argc, char **argv); /* cmd_randlist.c */
int cmd_export(int argc, char **argv);	 /* cmd_export.c */
int cmd_report(int argc, char **argv);	 /* cmd_report.c */
int cmd_backup(int argc, char **argv);	 /* cmd_backup.c */
int cmd_restore(int argc, char **argv);	 /* cmd_backup.c */
int cmd_migrate(int argc, char **argv);	 /* cmd_migrate.c */
extern const char cmd_init_help[];
extern const char cmd_site_help[];
extern const char cmd_token_help[];
extern const char cmd_device_help[];
extern const char cmd_user_help[];
extern const char cmd_status_help[];
extern const char cmd_rebuild_help[];
extern const char cmd_dump_help[];
extern const char cmd_serve_help[];
extern const char cmd_bundle_help[];
extern const char cmd_randlist_help[];
extern const char cmd_export_help[];
extern const char cmd_report_help[];
extern const char cmd_backup_help[];
extern const char cmd_restore_help[];
extern const char cmd_migrate_help[];

/* Print "casebookd: error: ..." on stderr; returns SRV_EXIT_FAIL. */
int srv_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "casebookd CMD: ..." and a --help hint on stderr; SRV_EXIT_USAGE. */
int srv_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print a library error; returns SRV_EXIT_FAIL. */
int srv_fail(const struct cb_err *err);

/*
 * Every command that takes `--data DIR` takes `--store URL` instead: the
 * central store on SQLite in a data directory, or in a PostgreSQL
 * database (store.h). Its help says so with this text.
 */
#define SRV_HELP_STORE                                                         \
	"  --store URL       instead of --data DIR: the central store in a\n"  \
	"                    PostgreSQL database, postgresql://USER@HOST/DB\n" \
	"                    (the password from ~/.pgpass or PGPASSWORD,\n"    \
	"                    never in URL; docs/OPERATIONS.md)\n"              \
	"\n"

/*
 * A minimal option scanner: for each "--name VALUE" in argv[1..] whose
 * name is in `names` (NULL-terminated), store VALUE in the matching slot
 * of `values`; other arguments (positional) are collected into `pos`
 * (at most `maxpos`, count in *npos). "--store URL" fills the slot of
 * "--data" when `names` has it (one of the two, not both). Returns 0, or
 * prints a usage error for an unknown option, a missing value or too
 * many positionals and returns SRV_EXIT_USAGE.
 */
int srv_parse_opts(const char *cmd, int argc, char **argv,
		   const char *const *names, const char **values,
		   const char **pos, int maxpos, int *npos);

/*
 * Take every `flag` (an option without a value, "--canonical") out of
 * argv[1..*argc-1], in place, before srv_parse_opts sees the rest;
 * returns 1 when it was there.
 */
int srv_take_flag(int *argc, char **argv, const char *flag);

/*
 * Option `opt` of command `cmd` given as `text` (NULL when absent: *out
 * keeps its default): a decimal number in lo..hi into *out. Returns 0, or
 * the usage exit code after saying "OPT: expected LO to HI".
 */
int srv_opt_range(const char *cmd, const char *opt, const char *text, long lo,
		  long hi, long *out);

/*
 * A decimal number as requests and files carry them (cursors, limits):
 * digits only, no sign, no leading zero, within [lo, hi] (lo >= 0);
 * -1 when it is not.
 */
long long srv_decimal(const char *s, long long lo, long long hi);

/*
 * A pull's `skip` as requests carry it: "LO-HI,LO-HI,..." with each LO
 * and HI a decimal as srv_decimal reads them, 1 <= LO <= HI, each range
 * after the one before (LO past the previous HI: not overlapping), at most
 * `max` ranges.
 * Into out[0..*n). 0, or -1 when the text is not that.
 */
int srv_seq_ranges(const char *s, struct cb_seq_range *out, size_t max,
		   size_t *n);

/* ---- structured log ---------------------------------------------------- */

/*
 * Write one JSON object per line on stderr: {"ts":..., "level":...,
 * "msg":..., then the given key/value pairs}. `kv` holds alternating
 * keys and string values ending with NULL; a value NULL is skipped. Safe
 * from any thread. Never pass tokens, keys or clinical values.
 */
void srv_log(const char *level, const char *msg, const char *const *kv);

/* ---- one writer process per data directory ------------------------------ */

/*
 * Take the data directory's process lock (DIR/casebookd.lock, flock), held
 * until the process exits. `serve` takes it for its whole life; rebuild
 * and bundle import take it too, so they cannot change the store under a
 * running server whose in-memory merge state would not see the change.
 * CB_EBUSY naming `what` when another casebookd holds it. Nothing to do
 * for a PostgreSQL store, which several processes serve at once (store.h
 * says how they keep out of each other's way).
 */
int srv_lock_data(const char *dir, const char *what, struct cb_err *err);

#endif
