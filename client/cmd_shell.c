/*
 * cmd_shell.c - `casebook shell`: unlock the store once, then run
 * commands typed at a prompt, the same words as after `casebook`.
 *
 * The shell asks the passphrase as every command does (pass.h), keeps a
 * copy of the data key in locked memory (store.h's store_hold) and runs
 * each line through cli_dispatch with g->hold set: every command opens
 * the store afresh and unlocks it with that key, so a command at the
 * prompt runs exactly the code it runs from the command line, only
 * without the passphrase and the Argon2id derivation. Nothing keeps the
 * store open between commands, so other casebook processes (a sync in
 * another terminal) work as usual.
 *
 * The shell, not an agent: issue 16 allowed either. A shell keeps the
 * key inside one process that ends with the session, reachable by no
 * socket and no other program, and it locks by itself (idle timeout,
 * Ctrl-D, exit) with nothing left running; an agent would hold the key
 * for every process of the user for its whole lifetime, behind a socket
 * that any program of that user could ask to sign or decrypt.
 *
 * Line editing, history and Tab completion come from libedit when stdin
 * and stdout are terminals; otherwise lines are read from stdin without
 * a prompt (scripts and tests drive it so). History stays in memory and
 * is never written to disk: the lines hold subject ids and item values,
 * which the store keeps encrypted and a history file would not.
 */
#include "cli.h"
#include "complete.h"
#include "protocol.h"
#include "store.h"
#include "words.h"

#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

const char cmd_shell_help[] =
    "usage: casebook shell [--idle MINUTES]\n"
    "       casebook shell --complete LINE\n"
    "\n"
    "Unlock the store once, then type commands at the prompt 'casebook> '\n"
    "with the same words as after 'casebook' on the command line:\n"
    "  casebook> subject list\n"
    "  casebook> form set KR01-01001 V1 VAS PAIN=42\n"
    "  casebook> form show KR01-01001 V1 VAS --json\n"
    "  casebook> sync\n"
    "The passphrase is asked once, as every command asks it (the global\n"
    "--passphrase-file, else $CASEBOOK_PASSPHRASE, else the terminal);\n"
    "each command then runs as it would on its own, with the same checks,\n"
    "output and exit code, without the passphrase and the key derivation.\n"
    "'casebook sign' still asks the passphrase: a signature needs it.\n"
    "Words are split as a shell splits them: quote a value with spaces\n"
    "('--reason \"typing error\"'); a backslash keeps the next character;\n"
    "a line starting with # is a comment. 'help' and 'help COMMAND' print\n"
    "the help; 'exit', 'quit' or Ctrl-D end the shell. A failing command\n"
    "prints its error and the shell goes on. init, passwd and shell\n"
    "itself are refused at the prompt (run them outside), and so are the\n"
    "global options: the shell stays with the store and user it unlocked.\n"
    "\n"
    "Locking: after MINUTES without a key pressed at the prompt (default\n"
    "10; --idle 1 to 1440), and at Ctrl-D or 'exit', the shell wipes the\n"
    "key from memory (it is held in locked, guarded memory from libsodium\n"
    "and zeroed when freed) and exits; after an idle lock it says so.\n"
    "It does not ask the passphrase again: a laptop left alone ends at\n"
    "a plain terminal, with the history and what was on the screen gone\n"
    "with the process, and a new 'casebook shell' unlocks again. A\n"
    "command that is running is never cut short by the timeout. Ctrl-C\n"
    "at the prompt drops the line being typed; during a command it stops\n"
    "the command and the shell, as it would stop the command alone.\n"
    "\n"
    "On a terminal, the line is edited with libedit (emacs keys; ~/.editrc\n"
    "is not read), Up and Down walk the history and Tab completes command\n"
    "words, subcommands and options (as each command's usage names them),\n"
    "subject ids from the store, and visit, form and item codes from the\n"
    "protocol. The history is kept in memory only, never in a file: lines\n"
    "hold subject ids and values that the store keeps encrypted. Lines\n"
    "naming a passphrase or a token are not kept even there. Without a\n"
    "terminal on stdin, lines are read from stdin with no prompt, one\n"
    "command a line (for scripts that want one unlock).\n"
    "\n"
    "Why a shell and not an agent holding the key for other commands:\n"
    "the key stays inside one process that ends with the session and\n"
    "that no socket or other program can reach, and it locks by itself\n"
    "with nothing left running.\n"
    "\n"
    "Options:\n"
    "  --idle MINUTES      lock after this long idle at the prompt\n"
    "                      (default 10)\n"
    "  --idle-seconds N    the same in seconds (for tests)\n"
    "  --complete LINE     print what Tab offers at the end of LINE, one\n"
    "                      word a line, and exit (for tests and other\n"
    "                      shells' completion; unlocks like the shell)\n"
    "\n"
    "Exit codes: the exit code of the last command run (0 when none);\n"
    "2 usage; 4 wrong passphrase (nothing is run).\n";

/* Default idle timeout, and the most --idle accepts, in minutes. */
#define SHELL_IDLE_DEFAULT_MIN 10
#define SHELL_IDLE_MAX_MIN 1440
/* Lines kept in the in-memory history. */
#define SHELL_HISTORY 500
/* Longest line read without a terminal (words.h's cap). */
#define SHELL_LINE_MAX WORDS_LINE_MAX

/* First words of the shell's own. */
static const char *const shell_words[] = {"exit", "quit", NULL};

struct shell {
	struct cli_global *g;
	long idle_ms;
	int idled;	 /* the idle timeout ended the session */
	int interrupted; /* Ctrl-C at the prompt: drop the line */
	int last_rc;	 /* exit code of the last command */
	/* what Tab draws on: the protocol, and the subject ids, read again
	 * after a command ran (it may have added subjects) */
	struct cb_protocol *protocol;
	char **subjects;
	size_t nsubjects, subjects_cap;
	int subjects_stale;
	/* reading without a terminal: bytes read, not yet a whole line */
	char *buf;
	size_t buf_len, buf_cap;
	int eof;
	mbstate_t mb; /* the terminal's bytes to characters (libedit) */
};

/* SIGINT, SIGTERM or SIGHUP at the prompt; 0 when none. */
static volatile sig_atomic_t prompt_signal;

static void on_prompt_signal(int sig)
{
	prompt_signal = sig;
}

/* While at the prompt: signals interrupt the wait (no SA_RESTART) and
 * are handled by the shell; `on` 0 puts the defaults back, so a command
 * is stopped by Ctrl-C as it would be alone. */
static void prompt_signals(int on)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_prompt_signal : SIG_DFL;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until fd 0 has input: 1 when it has, 0 when the shell was idle
 * too long (sh->idled is set) or a signal asks to stop, -1 on error.
 * SIGINT returns 2 (the line being typed is dropped).
 */
static int wait_input(struct shell *sh)
{
	long deadline = now_ms() + sh->idle_ms;

	for (;;) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		long left = deadline - now_ms();
		int n;

		if (prompt_signal == SIGINT) {
			prompt_signal = 0;
			return 2;
		}
		if (prompt_signal)
			return 0;
		if (left <= 0) {
			sh->idled = 1;
			return 0;
		}
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- Completion ---------------------------------------------------------- */

static void subjects_clear(struct shell *sh)
{
	size_t i;

	for (i = 0; i < sh->nsubjects; i++)
		free(sh->subjects[i]);
	sh->nsubjects = 0;
}

static int subject_add(void *ctx, const char *subject)
{
	struct shell *sh = ctx;

	if (!subject[0])
		return 0;
	if (sh->nsubjects + 1 > sh->subjects_cap) {
		size_t cap = sh->subjects_cap ? sh->subjects_cap * 2 : 64;
		char **v = realloc(sh->subjects, cap * sizeof(*v));

		if (!v)
			return CB_ENOMEM;
		sh->subjects = v;
		sh->subjects_cap = cap;
	}
	sh->subjects[sh->nsubjects] = strdup(subject);
	if (!sh->subjects[sh->nsubjects])
		return CB_ENOMEM;
	sh->nsubjects++;
	return 0;
}

/* Read the subject ids (and, the first time, the protocol) from `st`. */
static int load_words(struct shell *sh, struct store *st, struct cb_err *err)
{
	int rc = 0;

	if (!sh->protocol)
		rc = store_protocol_load(st, &sh->protocol, err);
	subjects_clear(sh);
	if (!rc)
		rc = store_each_subject(st, subject_add, sh, err);
	if (rc == CB_ENOMEM && !err->code)
		rc = cb_err_set(err, CB_ENOMEM, "out of memory");
	sh->subjects_stale = rc != 0;
	return rc;
}

/* The subject ids again, after a command ran: the store opened with the
 * held key. Quietly keeps the old list when that fails (Tab only). */
static void refresh_words(struct shell *sh)
{
	struct store *st = NULL;
	struct cb_err err = {0};

	if (!sh->subjects_stale)
		return;
	if (store_open_cli(sh->g, &st, &err))
		return;
	load_words(sh, st, &err);
	store_close(st);
}

static int shell_complete(struct shell *sh, const char *line, size_t len,
			  struct complete_list *out, struct cb_err *err)
{
	struct complete_src src = {0};

	refresh_words(sh);
	src.commands = sh->g->commands;
	src.ncommands = sh->g->ncommands;
	src.extra = shell_words;
	src.protocol = sh->protocol;
	src.subjects = (const char *const *)sh->subjects;
	src.nsubjects = sh->nsubjects;
	return complete_line(&src, line, len, out, err);
}

/* The longest beginning the candidates share, case aside. */
static size_t common_len(const struct complete_list *l)
{
	size_t n = strlen(l->v[0]), i, k;

	for (i = 1; i < l->n; i++) {
		for (k = 0; k < n && l->v[i][k] &&
			    (l->v[i][k] | 0x20) == (l->v[0][k] | 0x20);
		     k++)
			;
		n = k;
	}
	return n;
}

/* libedit's Tab. */
static unsigned char shell_tab(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);
	struct complete_list l;
	struct cb_err err = {0};
	struct shell *sh = NULL;
	size_t len, typed, common, i;
	unsigned char ret = CC_REFRESH;

	(void)ch;
	el_get(el, EL_CLIENTDATA, &sh);
	len = (size_t)(li->cursor - li->buffer);
	if (shell_complete(sh, li->buffer, len, &l, &err) || !l.n) {
		complete_list_release(&l);
		return CC_ERROR;
	}
	typed = len - l.start;
	common = common_len(&l);
	if (l.n == 1 || common > typed) {
		char *word = strndup(l.v[0], common);

		if (!word) {
			complete_list_release(&l);
			return CC_ERROR;
		}
		el_deletestr(el, (int)typed);
		el_insertstr(el, word);
		/* a whole word, not "ITEM=": the next word comes after a
		 * blank */
		if (l.n == 1 && common && word[common - 1] != '=')
			el_insertstr(el, " ");
		free(word);
	} else {
		fputc('\n', stdout);
		for (i = 0; i < l.n; i++)
			printf("%s%s", l.v[i], i + 1 < l.n ? "  " : "\n");
		ret = CC_REDISPLAY;
	}
	complete_list_release(&l);
	return ret;
}

/* ---- Reading lines ---------------------------------------------------- */

/* libedit's reader: one character from fd 0, waiting at most the idle
 * timeout. 0 (end of input) when idle or stopped by a signal. */
static int shell_getc(EditLine *el, wchar_t *wc)
{
	struct shell *sh = NULL;

	el_get(el, EL_CLIENTDATA, &sh);
	for (;;) {
		unsigned char c;
		ssize_t n;
		size_t k;
		int w = wait_input(sh);

		if (w == 2) {
			/* Ctrl-C: el_gets returns, the line is dropped */
			sh->interrupted = 1;
			return 0;
		}
		if (w <= 0)
			return w;
		n = read(STDIN_FILENO, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (int)n;
		k = mbrtowc(wc, (const char *)&c, 1, &sh->mb);
		if (k == (size_t)-2)
			continue; /* more bytes of this character */
		if (k == (size_t)-1) {
			memset(&sh->mb, 0, sizeof(sh->mb));
			*wc = (wchar_t)c;
		}
		return 1;
	}
}

static char prompt_text[] = "casebook> ";

static char *shell_prompt(EditLine *el)
{
	(void)el;
	return prompt_text;
}

/*
 * The next line without a terminal, in a malloc'd copy (*line, *len
 * without the newline); 0 at the end of input (or idle, stopped), 1 for
 * a line, -1 on error (a read error, a line over SHELL_LINE_MAX).
 */
static int read_plain(struct shell *sh, char **line, size_t *len)
{
	for (;;) {
		char *nl =
		    sh->buf_len ? memchr(sh->buf, '\n', sh->buf_len) : NULL;
		size_t take;
		ssize_t n;

		if (nl || (sh->eof && sh->buf_len)) {
			take = nl ? (size_t)(nl - sh->buf) : sh->buf_len;
			*line = strndup(sh->buf, take);
			if (!*line)
				return -1;
			*len = take;
			take += nl ? 1 : 0;
			memmove(sh->buf, sh->buf + take, sh->buf_len - take);
			sh->buf_len -= take;
			return 1;
		}
		if (sh->eof)
			return 0;
		if (sh->buf_len > SHELL_LINE_MAX) {
			cli_error("shell: a line of more than %u bytes",
				  SHELL_LINE_MAX);
			return -1;
		}
		if (sh->buf_len + 4096 > sh->buf_cap) {
			size_t cap = sh->buf_cap ? sh->buf_cap * 2 : 8192;
			char *p = realloc(sh->buf, cap);

			if (!p)
				return -1;
			sh->buf = p;
			sh->buf_cap = cap;
		}
		switch (wait_input(sh)) {
		case 1:
			break;
		case 2:
			continue;
		case 0:
			return 0;
		default:
			return -1;
		}
		n = read(STDIN_FILENO, sh->buf + sh->buf_len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			sh->eof = 1;
		sh->buf_len += (size_t)n;
	}
}

/* ---- Running lines ---------------------------------------------------- */

/* 1 when the line may be kept in the history: it names no passphrase or
 * token (kept out even of memory) and is not a refused command. */
static int may_remember(const struct shell *sh, const struct words *w)
{
	size_t c;
	int i;

	for (i = 0; i < w->argc; i++)
		if (strstr(w->argv[i], "passphrase") ||
		    strstr(w->argv[i], "token"))
			return 0;
	for (c = 0; c < sh->g->ncommands; c++)
		if (!strcmp(w->argv[0], sh->g->commands[c].name))
			return !(sh->g->commands[c].flags & CLI_NOT_IN_SHELL);
	return 1;
}

/*
 * Run one line. 1 when the shell should end (exit, quit), else 0.
 * *remember says whether the line may go into the history.
 */
static int run_line(struct shell *sh, const char *line, size_t len,
		    int *remember)
{
	struct words w;
	struct cb_err err = {0};
	int done = 0;

	*remember = 0;
	if (words_split(line, len, 0, &w, &err)) {
		fprintf(stderr, "casebook: %s\n", err.msg);
		sh->last_rc = EXIT_USAGE;
		return 0;
	}
	if (!w.argc) {
		words_release(&w);
		return 0;
	}
	*remember = may_remember(sh, &w);
	if (!strcmp(w.argv[0], "exit") || !strcmp(w.argv[0], "quit")) {
		done = 1;
	} else if (w.argv[0][0] == '-') {
		sh->last_rc = cli_usage(
		    "shell",
		    "global options are given when the shell starts "
		    "('casebook --quiet shell'); at the prompt, a line starts "
		    "with a command ('%s' is an option)",
		    cli_safe(w.argv[0]));
	} else {
		/* what a command printed is out before the next prompt */
		sh->last_rc = cli_dispatch(w.argc, w.argv, sh->g);
		fflush(stdout);
		fflush(stderr);
		sh->subjects_stale = 1;
	}
	words_release(&w);
	return done;
}

static void loop_plain(struct shell *sh)
{
	char *line;
	size_t len;
	int remember;

	for (;;) {
		prompt_signals(1);
		if (read_plain(sh, &line, &len) <= 0)
			break;
		prompt_signals(0);
		if (run_line(sh, line, len, &remember)) {
			free(line);
			break;
		}
		free(line);
	}
	prompt_signals(0);
}

static int loop_terminal(struct shell *sh)
{
	HistEvent ev;
	History *hist;
	EditLine *el;

	hist = history_init();
	el = hist ? el_init("casebook", stdin, stdout, stderr) : NULL;
	if (!el) {
		if (hist)
			history_end(hist);
		return cli_error("shell: cannot start line editing");
	}
	history(hist, &ev, H_SETSIZE, SHELL_HISTORY);
	history(hist, &ev, H_SETUNIQUE, 1);
	el_set(el, EL_CLIENTDATA, sh);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_PROMPT, shell_prompt);
	el_set(el, EL_HIST, history, hist);
	el_set(el, EL_GETCFN, shell_getc);
	/* The wide call: libedit keeps the name and help it is given, and
	 * the narrow el_set's wide copies of them are never freed
	 * (LeakSanitizer, t_shell's terminal session). */
	el_wset(el, EL_ADDFN, L"cb-complete", L"complete a casebook word",
		shell_tab);
	el_set(el, EL_BIND, "^I", "cb-complete", NULL);
	for (;;) {
		const char *line;
		size_t len;
		int n = 0, remember, done;

		prompt_signals(1);
		line = el_gets(el, &n);
		prompt_signals(0);
		if (sh->interrupted) {
			sh->interrupted = 0;
			fputc('\n', stdout);
			continue;
		}
		if (!line || n <= 0) {
			if (!sh->idled && !prompt_signal)
				fputc('\n', stdout); /* Ctrl-D */
			break;
		}
		len = (size_t)n;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		done = run_line(sh, line, len, &remember);
		if (remember)
			history(hist, &ev, H_ENTER, line);
		if (done)
			break;
	}
	/* the lines typed go with the key */
	history(hist, &ev, H_CLEAR);
	el_end(el);
	history_end(hist);
	return 0;
}

/* Parse a positive whole number of at most `max`; -1 when not one. */
static long parse_count(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max)
		return -1;
	return v;
}

int cmd_shell(int argc, char **argv, struct cli_global *g)
{
	struct shell sh = {0};
	struct store_hold *hold = NULL;
	struct store *st = NULL;
	struct cb_err err = {0};
	char home[STORE_PATH_MAX + 1];
	const char *complete = NULL;
	int i, rc, interactive;

	sh.g = g;
	sh.idle_ms = SHELL_IDLE_DEFAULT_MIN * 60000L;
	for (i = 1; i < argc; i++) {
		long v;

		if ((!strcmp(argv[i], "--idle") ||
		     !strcmp(argv[i], "--idle-seconds")) &&
		    i + 1 < argc) {
			int secs = !strcmp(argv[i], "--idle-seconds");

			v = parse_count(argv[i + 1],
					SHELL_IDLE_MAX_MIN * (secs ? 60L : 1L));
			if (v < 0)
				return cli_usage(
				    "shell",
				    "%s wants a whole number from 1 to %ld",
				    argv[i],
				    SHELL_IDLE_MAX_MIN * (secs ? 60L : 1L));
			sh.idle_ms = v * (secs ? 1000L : 60000L);
			i++;
		} else if (!strcmp(argv[i], "--complete") && i + 1 < argc &&
			   !complete) {
			complete = argv[++i];
		} else {
			return cli_usage("shell", "unknown argument '%s'",
					 cli_safe(argv[i]));
		}
	}

	rc = store_home(g, home, sizeof(home), &err);
	if (!rc)
		rc = store_open_cli(g, &st, &err);
	if (!rc)
		rc = store_hold_new(st, home, &hold, &err);
	if (!rc && load_words(&sh, st, &err))
		/* Tab offers no codes; every command still works */
		cli_info(g, "warning: %s; Tab completes commands only",
			 cli_safe(err.msg));
	store_close(st);
	if (rc) {
		store_hold_free(hold);
		cb_protocol_free(sh.protocol);
		return cli_fail(&err);
	}
	g->hold = hold;

	if (complete) {
		struct complete_list l;
		size_t k;

		rc = shell_complete(&sh, complete, strlen(complete), &l, &err);
		for (k = 0; !rc && k < l.n; k++)
			printf("%s\n", l.v[k]);
		complete_list_release(&l);
		sh.last_rc = rc ? cli_fail(&err) : EXIT_OK;
	} else {
		interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
		if (interactive) {
			setlocale(LC_CTYPE, "");
			cli_info(g,
				 "store unlocked for %s; 'help' lists the "
				 "commands, Tab completes, Ctrl-D or 'exit' "
				 "locks (and after %ld idle minutes)",
				 store_hold_user(hold),
				 (sh.idle_ms + 59999) / 60000);
			if (loop_terminal(&sh))
				sh.last_rc = EXIT_FAIL;
		} else {
			loop_plain(&sh);
		}
	}

	g->hold = NULL;
	store_hold_free(hold); /* the key is zeroed here */
	if (sh.idled)
		fprintf(stderr,
			"casebook: shell locked after %ld s idle; the key "
			"is wiped from memory. Run 'casebook shell' to unlock "
			"again.\n",
			sh.idle_ms / 1000);
	else if (prompt_signal)
		fprintf(stderr, "casebook: shell stopped by a signal; the "
				"key is wiped from memory\n");
	subjects_clear(&sh);
	free(sh.subjects);
	free(sh.buf);
	cb_protocol_free(sh.protocol);
	return sh.last_rc;
}
