/*
 * err.h - error reporting for libcasebook.
 *
 * Library code never prints and never exits. A function that can fail
 * returns 0 on success or a negative CB_E* code, and writes a message for
 * a human into a caller-supplied struct cb_err. The programs in client/
 * and server/ decide how to show it and which exit code or HTTP status it
 * maps to.
 */
#ifndef CB_ERR_H
#define CB_ERR_H

#include <stddef.h>

enum cb_result {
	CB_OK = 0,
	CB_ENOMEM = -1,	    /* allocation failed */
	CB_EINVAL = -2,	    /* bad argument or malformed input */
	CB_EIO = -3,	    /* file, database or network I/O failed */
	CB_ECHECK = -4,	    /* data rejected by an edit check */
	CB_EAUTH = -5,	    /* wrong passphrase, bad signature, not allowed */
	CB_ENOTFOUND = -6,  /* named thing does not exist */
	CB_EBUSY = -7,	    /* store locked by another process */
	CB_EINTEGRITY = -8, /* stored data failed authentication */
	CB_EEXIST = -9,	    /* thing already exists */
	CB_ETOOBIG = -10,   /* input over a documented cap */
	CB_EUNREACHABLE = -11, /* server could not be reached */
	CB_ECONFLICT = -12,    /* conflicting state (e.g. assigned slot) */
	CB_EFORBIDDEN = -13,   /* authenticated but not permitted */
};

/* Longest message kept; longer messages are truncated with "...". */
#define CB_ERR_MSG_MAX 1024

struct cb_err {
	int code;		  /* last CB_E* code, 0 when none */
	char msg[CB_ERR_MSG_MAX]; /* human-readable, NUL-terminated */
};

/* Reset to "no error". */
void cb_err_clear(struct cb_err *err);

/*
 * Record an error and return its code, so callers can write
 * `return cb_err_set(err, CB_EINVAL, "bad item %s", name);`.
 * A NULL err is allowed and only the code is returned.
 */
int cb_err_set(struct cb_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Prefix the existing message with context ("loading x: " + old message),
 * keeping the code. Returns the code, and never 0: an err that holds no
 * code (a callee that failed without saying so) gets CB_EINVAL, so that
 * `return cb_err_prefix(err, ...)` after a failure is a failure. A NULL
 * err gives CB_EINVAL.
 */
int cb_err_prefix(struct cb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __clang_analyzer__
/*
 * The static analyzer reads one file at a time and cannot see err.c: say
 * here what these return, so that `return cb_err_set(...)` and `return
 * cb_err_prefix(...)` read as the failures they are on every path. (Only
 * for the analyzer: `code` is evaluated twice, and may read errno.)
 */
static inline int cb_err_nonzero_(int code)
{
	return code ? code : CB_EINVAL;
}
#define cb_err_set(err, code, ...)                                             \
	(cb_err_set((err), (code), __VA_ARGS__), (code))
#define cb_err_prefix(...) cb_err_nonzero_(cb_err_prefix(__VA_ARGS__))
/* `p`, from a call that returns NULL only with err set (a non-zero
 * code), as its header says: for the other headers' stand-ins. */
static inline void *cb_err_told_(void *p, const struct cb_err *err)
{
	if (!p && err && !err->code)
		__builtin_unreachable();
	return p;
}
#endif

/* A short stable name for a code ("invalid", "io", ...). */
const char *cb_err_name(int code);

/*
 * Quote untrusted text `s` into `out` (cap bytes) for a message: '"' and
 * '\\' escaped, control bytes as \xNN, cut with "..." when it does not fit.
 * cap must be at least 4.
 */
void cb_err_quote(const char *s, char *out, size_t cap);

#endif
