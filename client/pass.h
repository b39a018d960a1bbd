/*
 * pass.h - where a passphrase comes from.
 *
 * In order: the global --passphrase-file FILE (its first line), the
 * environment variable CASEBOOK_PASSPHRASE, or a prompt on the controlling
 * terminal (/dev/tty) with echo turned off. A second passphrase in the same
 * command (the new one for `passwd`, the new user's for `user add`) comes
 * from a file given to that command, or CASEBOOK_NEW_PASSPHRASE, or the
 * terminal.
 *
 * A passphrase is returned in a malloc'd buffer of PASS_MAX bytes, NUL
 * terminated, which the caller gives back with pass_free() (wipes it).
 * Nothing here prints a passphrase or keeps a copy.
 */
#ifndef CB_PASS_H
#define CB_PASS_H

#include <stddef.h>

#include "cli.h"
#include "err.h"

/* Largest passphrase in bytes, including its NUL. */
#define PASS_MAX 1024
/* Fewest characters (UTF-8 code points) a new passphrase may have. */
#define PASS_MIN_CHARS 8

/* The environment variables named above. */
#define PASS_ENV "CASEBOOK_PASSPHRASE"
#define PASS_NEW_ENV "CASEBOOK_NEW_PASSPHRASE"

/*
 * An existing passphrase: from g->passphrase_file, else $CASEBOOK_PASSPHRASE,
 * else asked on the terminal with `prompt`. *out gets the passphrase and
 * *len its length. CB_EAUTH when none can be had (no file, no variable, no
 * terminal) or it is empty; CB_EIO when the file cannot be read;
 * CB_ETOOBIG over PASS_MAX.
 */
int pass_get(const struct cli_global *g, const char *prompt, char **out,
	     size_t *len, struct cb_err *err);

/*
 * An existing passphrase other than the store's (an unblinding key, a
 * code-break sheet): from `file` when not NULL, else the environment
 * variable `env` when set, else asked once on the terminal with `prompt`.
 * Errors as pass_get.
 */
int pass_get_from(const char *file, const char *env, const char *prompt,
		  char **out, size_t *len, struct cb_err *err);

/*
 * A new passphrase: from `file` when not NULL, else from the environment
 * variable `env` when set, else asked twice on the terminal with `prompt`
 * (the two must match). Refuses an empty passphrase and one shorter than
 * PASS_MIN_CHARS characters (CB_EINVAL with a message saying so).
 */
int pass_get_new(const char *file, const char *env, const char *prompt,
		 char **out, size_t *len, struct cb_err *err);

/* Wipe and free a passphrase from the functions above. NULL is allowed. */
void pass_free(char *pass);

/*
 * Warn on stderr that CASEBOOK_KDF_FAST=1 (the tests' switch) wraps
 * `what` (a key file, code-break keys) at a test-only Argon2id cost.
 * Nothing when the switch is off.
 */
void pass_warn_test_cost(const char *what);

#endif
