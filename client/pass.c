/*
 * pass.c - reading passphrases from a file, the environment or the
 * terminal (see pass.h).
 *
 * The terminal prompt turns echo off on /dev/tty, not on stdin, so a
 * command whose input or output is redirected still asks the person at
 * the keyboard. A signal arriving while echo is off restores the terminal
 * before the process dies, so an interrupted prompt never leaves the
 * shell without echo.
 */
#include "pass.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal whose echo is off, for the signal handler; -1 when none. */
static volatile sig_atomic_t tty_fd = -1;
static struct termios tty_saved;

static void restore_and_reraise(int sig)
{
	if (tty_fd >= 0) {
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
		(void)!write(tty_fd, "\n", 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

void pass_free(char *pass)
{
	cb_wipe_free(pass, PASS_MAX);
}

static char *pass_alloc(struct cb_err *err)
{
	char *p = calloc(1, PASS_MAX);

	if (!p)
		cb_err_set(err, CB_ENOMEM, "out of memory for a passphrase");
	return p;
}

/*
 * Read one line from `fd` into buf (PASS_MAX bytes) without its line end.
 * Returns 0, or CB_ETOOBIG for a line over the cap, CB_EIO on a read
 * error. End of input before any newline ends the line.
 */
static int read_line(int fd, char *buf, size_t *len, struct cb_err *err)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cb_err_set(err, CB_EIO,
					  "reading the passphrase: %s",
					  strerror(errno));
		if (r == 0 || c == '\n')
			break;
		if (n + 1 >= PASS_MAX) {
			memset(buf, 0, PASS_MAX);
			return cb_err_set(err, CB_ETOOBIG,
					  "passphrase is longer than %d bytes",
					  PASS_MAX - 1);
		}
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Ask once on /dev/tty with echo off. */
static int prompt_tty(const char *prompt, char **out, size_t *len,
		      struct cb_err *err)
{
	struct sigaction sa, old[NSIGNALS];
	struct termios quiet;
	char *buf;
	size_t i;
	int fd, rc;

	*out = NULL;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cb_err_set(err, CB_EAUTH,
				  "no passphrase: give --passphrase-file FILE, "
				  "set %s, or run on a terminal",
				  PASS_ENV);
	buf = pass_alloc(err);
	if (!buf) {
		close(fd);
		return CB_ENOMEM;
	}
	if (tcgetattr(fd, &tty_saved) != 0) {
		rc = cb_err_set(err, CB_EAUTH,
				"no passphrase: /dev/tty is not a terminal");
		goto out_close;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_and_reraise;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGNALS; i++)
		sigaction(prompt_signals[i], &sa, &old[i]);
	quiet = tty_saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	tty_fd = fd;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	(void)!write(fd, prompt, strlen(prompt));
	rc = read_line(fd, buf, len, err);
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_fd = -1;
	for (i = 0; i < NSIGNALS; i++)
		sigaction(prompt_signals[i], &old[i], NULL);
out_close:
	close(fd);
	if (rc) {
		pass_free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* The first line of `path`. */
static int read_file_line(const char *path, char **out, size_t *len,
			  struct cb_err *err)
{
	char *buf;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cb_err_set(err, CB_EIO,
				  "cannot read passphrase file %s: %s", path,
				  strerror(errno));
	buf = pass_alloc(err);
	if (!buf) {
		close(fd);
		return CB_ENOMEM;
	}
	rc = read_line(fd, buf, len, err);
	close(fd);
	if (rc) {
		pass_free(buf);
		return cb_err_prefix(err, "%s: ", path);
	}
	*out = buf;
	return 0;
}

static int copy_env(const char *value, char **out, size_t *len,
		    struct cb_err *err)
{
	size_t n = strlen(value);
	char *buf;

	*out = NULL;
	if (n >= PASS_MAX)
		return cb_err_set(err, CB_ETOOBIG,
				  "passphrase is longer than %d bytes",
				  PASS_MAX - 1);
	buf = pass_alloc(err);
	if (!buf)
		return CB_ENOMEM;
	memcpy(buf, value, n);
	*out = buf;
	*len = n;
	return 0;
}

int pass_get_from(const char *file, const char *env, const char *prompt,
		  char **out, size_t *len, struct cb_err *err)
{
	const char *value = env ? getenv(env) : NULL;
	int rc;

	*out = NULL;
	if (file)
		rc = read_file_line(file, out, len, err);
	else if (value)
		rc = copy_env(value, out, len, err);
	else
		rc = prompt_tty(prompt, out, len, err);
	if (rc)
		return rc;
	if (*len == 0) {
		pass_free(*out);
		*out = NULL;
		return cb_err_set(err, CB_EAUTH, "the passphrase is empty");
	}
	return 0;
}

int pass_get(const struct cli_global *g, const char *prompt, char **out,
	     size_t *len, struct cb_err *err)
{
	return pass_get_from(g ? g->passphrase_file : NULL, PASS_ENV, prompt,
			     out, len, err);
}

/* Characters (UTF-8 code points) in `len` bytes: non-continuation bytes. */
static size_t count_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

int pass_get_new(const char *file, const char *env, const char *prompt,
		 char **out, size_t *len, struct cb_err *err)
{
	const char *value = env ? getenv(env) : NULL;
	char *again = NULL;
	size_t again_len = 0;
	int rc;

	*out = NULL;
	if (file) {
		rc = read_file_line(file, out, len, err);
	} else if (value) {
		rc = copy_env(value, out, len, err);
	} else {
		rc = prompt_tty(prompt, out, len, err);
		if (!rc && *len > 0)
			rc = prompt_tty("Repeat the passphrase: ", &again,
					&again_len, err);
		if (!rc && *len > 0 &&
		    (again_len != *len || !cb_ct_equal(again, *out, *len)))
			rc = cb_err_set(err, CB_EINVAL,
					"the two passphrases differ; nothing "
					"was changed");
		pass_free(again);
	}
	if (!rc && *len == 0)
		rc = cb_err_set(err, CB_EINVAL,
				"the new passphrase is empty; choose one of "
				"at least %d characters",
				PASS_MIN_CHARS);
	if (!rc && count_chars(*out, *len) < PASS_MIN_CHARS)
		rc = cb_err_set(err, CB_EINVAL,
				"the new passphrase is too short: use at least "
				"%d characters",
				PASS_MIN_CHARS);
	if (rc) {
		pass_free(*out);
		*out = NULL;
		*len = 0;
	}
	return rc;
}

void pass_warn_test_cost(const char *what)
{
	if (cb_kdf_test_cost())
		fprintf(stderr,
			"casebook: warning: CASEBOOK_KDF_FAST=1 wraps %s at "
			"a test-only Argon2id cost: for tests, never for a "
			"trial\n",
			what);
}
