/*
 * bench_laptop.c - a data manager's laptop holding a whole trial (issue
 * 11, "Scale to a whole trial": the laptop's targets). Timings are
 * reported, never asserted.
 *
 * A real casebookd on loopback with six sites; one registered site
 * laptop per site is filled with its share of the subjects (each: its
 * creation and 19 form saves, built and signed as the laptop builds
 * them, stored through the client's store) and pushes them with
 * `casebook sync`. Then, measured (medians of CASEBOOK_BENCH_RUNS runs,
 * wall time and peak memory of the `casebook` process):
 *
 *   pull           `casebook sync` of a newly registered data manager's
 *                  laptop: every event pulled, stored and each subject
 *                  derived once (a fresh copy of that empty laptop each
 *                  run)
 *   user list      start and unlock only (what every command pays)
 *   subject show   one subject of the middle of the list
 *   subject list   every subject
 *   status         overview: counts, open queries, visits due
 *   query list     every query
 *
 * Each with its CPU time (user and system) beside the wall time: on a
 * machine shared with other work the wall time grows with the load, the
 * CPU time much less. "After the unlock" is each wall time less `user
 * list`'s. Targets (issue 11,
 * at 100,000 events): subject show < 50 ms, subject list of 5,000
 * subjects < 1 s, status < 0.5 s, peak memory < 64 MiB, pull < 10 s.
 * The key is wrapped at the test-only Argon2id cost (CASEBOOK_KDF_FAST);
 * a real laptop adds its unlock (bench_kdf) to every command.
 *
 *   CASEBOOK_BIN                    where the programs are (default bin)
 *   CASEBOOK_BENCH_LAPTOP_SUBJECTS  subjects in all (default 5000: 100,000
 *                                   events)
 *   CASEBOOK_BENCH_RUNS             runs per measurement (default 5)
 *   CASEBOOK_BENCH_KEEP             keep the files (and say where)
 *   TMPDIR                          where the files go (default /tmp)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../client/derive.h"
#include "../../client/store.h"
#include "crypto.h"
#include "event.h"
#include "hlc.h"
#include "record.h"

#define RUNS_MAX 21
#define SITES 6 /* 834 subjects each at 5,000: a device numbers 999 */
#define EVENTS_PER_SUBJECT 20
#define PASSPHRASE "bench-laptop-passphrase"

static const char *const site_codes[SITES] = {"KR01", "DE02", "US03",
					      "FR04", "JP05", "BR06"};
static char tmp[4096], cbd[4096], cb[4096], proto_path[4096];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	char cmd[4200];
	va_list ap;

	fprintf(stderr, "bench_laptop: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (tmp[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_laptop: could not remove %s\n",
				tmp);
	}
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[RUNS_MAX];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	n = strtol(v, &end, 10);
	if (*end || n < lo || n > hi)
		die("%s: expected %ld to %ld", name, lo, hi);
	return n;
}

static void path_join(char *out, size_t cap, const char *a, const char *b)
{
	if ((size_t)snprintf(out, cap, "%s/%s", a, b) >= cap)
		die("path too long: %s/%s", a, b);
}

/*
 * Run argv with stdout into `out` (NULL: /dev/null), stderr appended to
 * the bench log: its exit status (or -1), wall time in *ms and peak
 * memory in KiB in *maxrss (either may be NULL).
 */
static int run(const char *const argv[], const char *out, double *ms,
	       long *maxrss, double *cpu_ms)
{
	char log[4200];
	struct rusage ru;
	double t0;
	pid_t pid;
	int status;

	path_join(log, sizeof(log), tmp, "bench.log");
	t0 = now_ms();
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int o = open(out ? out : "/dev/null",
			     O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return -1;
	if (ms)
		*ms = now_ms() - t0;
	if (maxrss)
		*maxrss = ru.ru_maxrss;
	if (cpu_ms)
		*cpu_ms =
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void must_run(const char *const argv[], const char *out, double *ms,
		     long *maxrss, double *cpu_ms)
{
	int rc = run(argv, out, ms, maxrss, cpu_ms);

	if (rc != 0)
		die("'%s %s %s %s' exited %d (see %s/bench.log)", argv[0],
		    argv[1], argv[2], argv[3] ? argv[3] : "", rc, tmp);
}

static void read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, (int)cap, f))
		die("cannot read %s", path);
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		die("open %s: %s", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		die("create %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("write %s: %s", to, strerror(errno));
	close(in);
	close(out);
}

/* A fresh copy of the store directory `from` (its one database). */
static void copy_home(const char *from, const char *to)
{
	char a[4200], b[4200];
	const char *names[] = {STORE_DB_NAME, STORE_DB_NAME "-wal", NULL};
	size_t i;

	if (mkdir(to, 0700))
		die("mkdir %s: %s", to, strerror(errno));
	for (i = 0; names[i]; i++) {
		path_join(a, sizeof(a), from, names[i]);
		path_join(b, sizeof(b), to, names[i]);
		if (!access(a, R_OK))
			copy_file(a, b);
	}
}

static void rm_rf(const char *dir)
{
	char cmd[4300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_laptop: could not remove %s\n", dir);
}

/* ---- the server ------------------------------------------------------------
 */

static pid_t srv_pid;
static char srv_url[96];

static unsigned free_port(void)
{
	/* A port from a short-lived socket; the server binds it next. */
	FILE *p = popen("python3 -c 'import socket; s=socket.socket(); "
			"s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'",
			"r");
	unsigned port = 0;

	if (!p || fscanf(p, "%u", &port) != 1)
		die("no free port");
	pclose(p);
	return port;
}

static void server_start(const char *data)
{
	char listen[64], log[4200], health[4400];
	int i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_port());
	snprintf(srv_url, sizeof(srv_url), "http://%s", listen);
	path_join(log, sizeof(log), tmp, "server.log");
	srv_pid = fork();
	if (srv_pid < 0)
		die("fork: %s", strerror(errno));
	if (srv_pid == 0) {
		int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (e < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(cbd, cbd, "serve", "--data", data, "--listen", listen,
		      "--rate", "100000", (char *)NULL);
		_exit(127);
	}
	snprintf(health, sizeof(health),
		 "curl -sf %s/v1/health >/dev/null 2>&1", srv_url);
	for (i = 0; i < 400; i++) {
		struct timespec ts = {0, 25000000L};

		if (system(health) == 0)
			return;
		if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid)
			die("casebookd serve exited; see %s", log);
		nanosleep(&ts, NULL);
	}
	die("casebookd serve does not answer on %s", srv_url);
}

static void server_stop(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
	}
	srv_pid = 0;
}

/* ---- filling a site laptop --------------------------------------------------
 */

/* One save as `casebook form set SUBJECT VISIT FORM ITEM=VALUE...`. */
struct save {
	const char *visit, *form, *items;
};

/* A subject's first 19 forms, inside every hard and soft range. */
static const struct save saves[EVENTS_PER_SUBJECT - 1] = {
    {"SCR", "SV", "VISDT=2024-01-08"},
    {"SCR", "DM",
     "CONSDT=2024-01-05 BRTHYR=1961 SEX=F HEIGHT=162 WEIGHT=68 KNEE=R"},
    {"SCR", "ELIG",
     "AGE=62 KLGRADE=3 PAIN3M=Y BMI=25.9 IAINJ3M=N INFLARTH=N PREG=NA"},
    {"BL", "SV", "VISDT=2024-02-01"},
    {"BL", "VAS", "VAS=64"},
    {"BL", "WOMAC",
     "P1=2 P2=3 P3=1 P4=2 P5=1 S1=1 S2=2 F1=1 F2=2 F3=1 F4=2 F5=1 F6=2 "
     "F7=1 F8=2 F9=1 F10=2 F11=1 F12=2 F13=1 F14=2 F15=1 F16=2 F17=2"},
    {"BL", "HARV", "HARVDT=2024-02-01 LIPOVOL=120"},
    {"INJ", "SV", "VISDT=2024-02-22"},
    {"M1", "SV", "VISDT=2024-03-23"},
    {"M1", "VAS", "VAS=51"},
    {"M1", "WOMAC",
     "P1=2 P2=2 P3=1 P4=2 P5=1 S1=1 S2=1 F1=1 F2=2 F3=1 F4=1 F5=1 F6=2 "
     "F7=1 F8=1 F9=1 F10=2 F11=1 F12=1 F13=1 F14=2 F15=1 F16=1 F17=2"},
    {"M3", "SV", "VISDT=2024-05-22"},
    {"M3", "VAS", "VAS=40"},
    {"M3", "WOMAC",
     "P1=1 P2=2 P3=1 P4=1 P5=1 S1=1 S2=1 F1=1 F2=1 F3=1 F4=1 F5=1 F6=1 "
     "F7=1 F8=1 F9=1 F10=1 F11=1 F12=1 F13=1 F14=1 F15=1 F16=1 F17=1"},
    {"M6", "SV", "VISDT=2024-08-20"},
    {"M6", "VAS", "VAS=33"},
    {"M6", "WOMAC",
     "P1=1 P2=1 P3=1 P4=1 P5=0 S1=1 S2=0 F1=1 F2=1 F3=0 F4=1 F5=1 F6=1 "
     "F7=0 F8=1 F9=1 F10=1 F11=0 F12=1 F13=1 F14=1 F15=0 F16=1 F17=1"},
    {"M12", "SV", "VISDT=2025-02-21"},
    {"M12", "VAS", "VAS=30"},
};

/* Stamp, sign and store one event built in `ev` (released here). */
static void put_event(struct store *st, struct cb_hlc *h, struct cb_event *ev)
{
	const struct cb_key *idkey = NULL;
	struct cb_err err;
	char *json = NULL;

	if (store_id_key(st, &idkey, &err) ||
	    cb_event_stamp(ev, h, idkey, &err) ||
	    cb_event_set_origin(ev, store_device_id(st), store_site(st),
				store_user(st), &err) ||
	    cb_event_set_reason(ev, "", &err) ||
	    store_sign_event(st, ev, &err) || cb_event_print(ev, &json, &err) ||
	    store_add_event(st, ev->id, ev->subject, json, strlen(json), 0,
			    NULL, &err))
		die("an event: %s", err.msg);
	free(json);
	cb_event_release(ev);
}

/* `n` subjects of 20 events each, on the registered laptop in `home`. */
static void fill_laptop(const char *home, long n)
{
	struct cli_global g;

	memset(&g, 0, sizeof(g));
	g.home = home;
	struct store *st;
	struct cb_hlc h;
	struct cb_err err;
	long s;
	size_t i;

	if (store_open_cli(&g, &st, &err))
		die("%s: %s", home, err.msg);
	cb_hlc_init(&h, store_clock(st));
	for (s = 1; s <= n; s++) {
		char subject[32];
		struct cb_event ev;

		snprintf(subject, sizeof(subject), "%s-%02d%03ld",
			 store_site(st), store_device_index(st), s);
		if ((s - 1) % 100 == 0 && store_begin(st, &err))
			die("begin: %s", err.msg);
		cb_event_init(&ev);
		if (cb_event_set_target(&ev, subject, CB_KIND_SUBJECT_STATUS,
					"", "", "", &err) ||
		    cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED,
				      &err))
			die("%s: %s", subject, err.msg);
		put_event(st, &h, &ev);
		for (i = 0; i < sizeof(saves) / sizeof(saves[0]); i++) {
			char items[512], *tok, *next;

			cb_event_init(&ev);
			if (cb_event_set_target(&ev, subject, CB_KIND_FORM_SAVE,
						saves[i].visit, saves[i].form,
						"", &err))
				die("%s: %s", subject, err.msg);
			snprintf(items, sizeof(items), "%s", saves[i].items);
			for (tok = items; tok && *tok; tok = next) {
				char *eq = strchr(tok, '=');

				next = strchr(tok, ' ');
				if (next)
					*next++ = '\0';
				*eq = '\0';
				if (cb_event_add_change(&ev, tok, eq + 1, NULL,
							0, &err))
					die("%s: %s", subject, err.msg);
			}
			put_event(st, &h, &ev);
		}
		if ((s % 100 == 0 || s == n) && store_commit(st, &err))
			die("commit: %s", err.msg);
	}
	store_set_clock(st, h.last);
	store_close(st);
}

/* ---- main
 * -------------------------------------------------------------------- */

static void machine(void)
{
	char model[256] = "?", line[512];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(model, sizeof(model), "%s", c + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	printf("bench_laptop: %s %s %s, %ld cores, %s\n", u.sysname, u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN), model);
}

struct measure {
	const char *name, *target;
	double ms[RUNS_MAX], cpu[RUNS_MAX];
	long rss[RUNS_MAX];
};

static void report(const struct measure *m, int runs, double base)
{
	double lo = m->ms[0], hi = m->ms[0], rss[RUNS_MAX];
	int i;

	for (i = 0; i < runs; i++) {
		if (m->ms[i] < lo)
			lo = m->ms[i];
		if (m->ms[i] > hi)
			hi = m->ms[i];
		rss[i] = (double)m->rss[i];
	}
	printf("  %-26s %8.1f ms (%.1f..%.1f), CPU %.1f ms", m->name,
	       median(m->ms, runs), lo, hi, median(m->cpu, runs));
	if (base >= 0)
		printf(", %.1f ms after the unlock",
		       median(m->ms, runs) - base);
	printf(", peak %5.1f MiB", median(rss, runs) / 1024.0);
	if (m->target)
		printf("  target %s", m->target);
	printf("\n");
}

int main(void)
{
	const char *bin = getenv("CASEBOOK_BIN");
	const char *tdir = getenv("TMPDIR");
	long nsubj =
	    env_long("CASEBOOK_BENCH_LAPTOP_SUBJECTS", 5000, 3, SITES * 999);
	int runs = (int)env_long("CASEBOOK_BENCH_RUNS", 5, 1, RUNS_MAX);
	char srv0[4200], dm0[4200], home[4200], tokfile[4200], token[256];
	char out[4200], show_subject[32];
	struct measure pull = {"pull (casebook sync)", "< 10 s", {0}, {0}, {0}};
	struct measure m[5] = {
	    {"user list (unlock only)", NULL, {0}, {0}, {0}},
	    {"subject show", "< 50 ms after the unlock", {0}, {0}, {0}},
	    {"subject list", "< 1 s", {0}, {0}, {0}},
	    {"status", "< 0.5 s", {0}, {0}, {0}},
	    {"query list", NULL, {0}, {0}, {0}},
	};
	double t0, push_ms = 0;
	long per_site;
	int i, k;

	if (!bin || !*bin)
		bin = "bin";
	path_join(cbd, sizeof(cbd), bin, "casebookd");
	path_join(cb, sizeof(cb), bin, "casebook");
	snprintf(proto_path, sizeof(proto_path), "%s",
		 "schemas/knee-oa-msc.json");
	if (access(cbd, X_OK) || access(cb, X_OK) || access(proto_path, R_OK))
		die("run from the top of the tree with CASEBOOK_BIN set "
		    "(make bench does both)");
	snprintf(tmp, sizeof(tmp), "%s/cbblaptop.XXXXXX",
		 tdir && *tdir ? tdir : "/tmp");
	if (!mkdtemp(tmp)) {
		tmp[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	setenv("CASEBOOK_PASSPHRASE", PASSPHRASE, 1);
	setenv("CASEBOOK_KDF_FAST", "1", 1);
	unsetenv("CASEBOOK_USER");
	unsetenv("CASEBOOK_HOME");
	unsetenv("CASEBOOK_TEST_HOOKS");
	machine();
	per_site = (nsubj + SITES - 1) / SITES;

	/* The server, three sites, a laptop per site and the data
	 * manager's, registered. */
	path_join(srv0, sizeof(srv0), tmp, "srv0");
	path_join(dm0, sizeof(dm0), tmp, "dm0");
	path_join(tokfile, sizeof(tokfile), tmp, "token");
	{
		const char *init[] = {cbd,	    "init",	"--data", srv0,
				      "--protocol", proto_path, NULL};

		must_run(init, NULL, NULL, NULL, NULL);
	}
	for (k = 0; k < SITES; k++) {
		const char *site[] = {cbd,	"site",	      "add",
				      "--data", srv0,	      site_codes[k],
				      "--name", "Bench site", NULL};

		must_run(site, NULL, NULL, NULL, NULL);
	}
	server_start(srv0);
	t0 = now_ms();
	for (k = 0; k <= SITES; k++) {
		/* Each laptop's person, known to the server, and a token
		 * for them. */
		char user[32];
		const char *role = k < SITES ? "coordinator" : "datamanager";
		const char *person[] = {
		    cbd,      "user", "add",	     "--data",
		    srv0,     user,   "--full-name", "Bench",
		    "--role", role,   "--site",	     site_codes[k % SITES],
		    NULL};
		const char *tok[] = {cbd,  "token",  "create", "--data",
				     srv0, "--user", user,     NULL};
		char name[16];

		snprintf(user, sizeof(user), "bench%d", k);
		if (k == SITES)
			person[10] = NULL; /* a central role: no site */
		must_run(person, NULL, NULL, NULL, NULL);
		must_run(tok, tokfile, NULL, NULL, NULL);
		read_line(tokfile, token, sizeof(token));
		snprintf(name, sizeof(name), "site%d", k);
		if (k < SITES)
			path_join(home, sizeof(home), tmp, name);
		else
			snprintf(home, sizeof(home), "%s", dm0);
		{
			const char *reg[] = {cb,	"--home",   home,
					     "init",	"--server", srv_url,
					     "--token", token,	    "--user",
					     user,	NULL};

			must_run(reg, NULL, NULL, NULL, NULL);
		}
		if (k == SITES)
			break;
		fill_laptop(home, k == SITES - 1
				      ? nsubj - (SITES - 1) * per_site
				      : per_site);
		{
			const char *sync[] = {cb, "--home", home, "sync", NULL};
			double ms;

			must_run(sync, NULL, &ms, NULL, NULL);
			push_ms += ms;
		}
	}
	printf("bench_laptop: %ld subjects x %d events at %d sites made and "
	       "pushed in %.1f s (the pushes %.1f s)\n",
	       nsubj, EVENTS_PER_SUBJECT, SITES, (now_ms() - t0) / 1e3,
	       push_ms / 1e3);
	printf("bench_laptop: %d runs each; medians (min..max)\n", runs);
	fflush(stdout);

	/* The pull onto a fresh copy of the empty data manager's laptop. */
	for (i = 0; i < runs; i++) {
		char name[32];
		const char *sync[] = {cb, "--home", home, "sync", NULL};

		snprintf(name, sizeof(name), "dm-%d", i);
		path_join(home, sizeof(home), tmp, name);
		copy_home(dm0, home);
		path_join(out, sizeof(out), tmp, "sync.out");
		must_run(sync, out, &pull.ms[i], &pull.rss[i], &pull.cpu[i]);
		if (i + 1 < runs)
			rm_rf(home);
	}
	server_stop();
	report(&pull, runs, -1);
	{
		char line[256];

		read_line(out, line, sizeof(line));
		printf("    (%s)\n", line);
	}

	/* The reads, on the last laptop pulled. */
	snprintf(show_subject, sizeof(show_subject), "%s-01%03ld",
		 site_codes[1], per_site / 2 + 1);
	for (i = 0; i < runs; i++) {
		const char *users[] = {cb,     "--home", home,
				       "user", "list",	 NULL};
		const char *show[] = {cb,     "--home",	    home, "subject",
				      "show", show_subject, NULL};
		const char *list[] = {cb,	 "--home", home,
				      "subject", "list",   NULL};
		const char *status[] = {cb, "--home", home, "status", NULL};
		const char *queries[] = {cb,	 "--home", home, "query",
					 "list", "--all",  NULL};
		const char *const *argv[5] = {users, show, list, status,
					      queries};

		for (k = 0; k < 5; k++)
			must_run(argv[k], NULL, &m[k].ms[i], &m[k].rss[i],
				 &m[k].cpu[i]);
	}
	for (k = 0; k < 5; k++)
		report(&m[k], runs, k ? median(m[0].ms, runs) : -1);
	if (getenv("CASEBOOK_BENCH_KEEP"))
		printf("bench_laptop: kept %s\n", tmp);
	else
		rm_rf(tmp);
	return 0;
}
