/*
 * bench_sync.c - what the server accepts and what a site's backlog costs
 * to sync (issue #4, "Performance"). Timings are reported, never
 * asserted.
 *
 * A site laptop (a real `casebook init --server` registration against a
 * real casebookd on loopback) is filled with 10,000 form.save events,
 * built and checked as `casebook form set` builds them (every save passes
 * cb_record_check_save with no failure, hard or soft), signed with the
 * device key and stored encrypted, none synced. Snapshots of that
 * device's home and of the server's data directory are then copied for
 * every run, so each run starts from the same state. Measured, 5 runs
 * each, medians printed:
 *
 *   Ed25519 verify   libsodium verification of each event's signature
 *                    over its canonical bytes (prepared beforehand)
 *   SQLite inserts   the events as rows through the server's own store
 *                    (server/store.c: same schema, pragmas and prepared
 *                    statement), one transaction per 500
 *   server push      POST /v1/sync/push of the signed events in batches
 *                    of 500 over loopback to `casebookd serve`, one after
 *                    the other, until all are accepted (the server
 *                    verifies, re-validates, stores and commits each
 *                    batch before answering)
 *   backlog sync     wall time of `casebook sync` (a new process: start,
 *                    unlock, push everything, pull it back) on a copy of
 *                    the laptop; beside it, `casebook user list` (start
 *                    and unlock only) on the same copy
 *
 * The laptop's key is wrapped with the test-only fast Argon2id
 * (CASEBOOK_KDF_FAST=1); a real laptop adds its default Argon2id cost
 * (bench_kdf) to every command, sync included.
 *
 *   CASEBOOK_BIN            where casebook and casebookd are (default bin)
 *   CASEBOOK_BENCH_SUBJECTS subjects, 20 form.save events each (default 500)
 *   CASEBOOK_BENCH_RUNS     runs per measurement (default 5)
 *   TMPDIR                  where the files go (default /tmp)
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "../../client/entry.h"
#include "../../client/net.h"
#include "../../client/store.h"
#include "../../client/sync.h"
#include "../../server/store.h"
#include "crypto.h"
#include "event.h"
#include "record.h"

#define RUNS_MAX 21
#define SUBJECTS_MAX 999 /* subject ids KR01-01NNN */
#define SAVES_PER_SUBJECT 20
#define BATCH 500
#define PASSPHRASE "bench-sync-passphrase"

static char tmp[4096];		 /* the bench's private directory */
static char cbd[4096], cb[4096]; /* the programs */
static char proto_path[4096];

/* ---- small helpers ----------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	char cmd[4200];
	va_list ap;

	fprintf(stderr, "bench_sync: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (tmp[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_sync: could not remove %s\n",
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
 * Run argv (argv[0] a path) with stdout into `out` (NULL: /dev/null) and
 * stderr appended to the bench log; returns the exit status, or -1.
 */
static int run(const char *const argv[], const char *out)
{
	char log[4200];
	pid_t pid;
	int status;

	path_join(log, sizeof(log), tmp, "bench.log");
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
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run argv and die unless it exits 0. */
static void must_run(const char *const argv[], const char *out)
{
	int rc = run(argv, out);

	if (rc != 0)
		die("'%s %s' exited %d (see the log lines above)", argv[0],
		    argv[1], rc);
}

/* The first line of a file, without its newline, in buf. */
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
	if (n < 0)
		die("read %s: %s", from, strerror(errno));
	close(in);
	close(out);
}

/* Copy the regular files of directory `from` into a new `to`. */
static void copy_dir(const char *from, const char *to)
{
	char a[4200], b[4200];
	struct dirent *d;
	DIR *dir = opendir(from);

	if (!dir)
		die("opendir %s: %s", from, strerror(errno));
	if (mkdir(to, 0700))
		die("mkdir %s: %s", to, strerror(errno));
	while ((d = readdir(dir))) {
		struct stat sb;

		path_join(a, sizeof(a), from, d->d_name);
		if (stat(a, &sb) || !S_ISREG(sb.st_mode))
			continue;
		path_join(b, sizeof(b), to, d->d_name);
		copy_file(a, b);
	}
	closedir(dir);
}

/* Remove the regular files of `dir`, then `dir`. */
static void rm_dir(const char *dir)
{
	char a[4200];
	struct dirent *d;
	DIR *h = opendir(dir);

	if (!h)
		return;
	while ((d = readdir(h))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		path_join(a, sizeof(a), dir, d->d_name);
		unlink(a);
	}
	closedir(h);
	rmdir(dir);
}

/* ---- the server -------------------------------------------------------- */

struct server {
	pid_t pid;
	char url[96];
	double cpu_ms; /* user + system time, once stopped */
};

static unsigned free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		die("no free loopback port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Start `casebookd serve` on `data` and wait until /v1/health answers. */
static void server_start(struct server *s, const char *data)
{
	char listen[64], log[4200];
	struct cb_err err;
	struct net n;
	int i;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_port());
	snprintf(s->url, sizeof(s->url), "http://%s", listen);
	path_join(log, sizeof(log), tmp, "server.log");
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (e < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(cbd, cbd, "serve", "--data", data, "--listen", listen,
		      "--rate", "100000", (char *)NULL);
		_exit(127);
	}
	if (net_init(&n, s->url, NULL, &err))
		die("net_init: %s", err.msg);
	for (i = 0; i < 400; i++) {
		struct net_reply r;
		struct timespec ts = {0, 25000000L};

		if (!net_request(&n, "GET", "/v1/health", "", NULL, 0, NULL, &r,
				 &err)) {
			int ok = r.status == 200;

			net_reply_free(&r);
			if (ok) {
				net_free(&n);
				return;
			}
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
			die("casebookd serve exited; see %s", log);
		nanosleep(&ts, NULL);
	}
	die("casebookd serve does not answer on %s", s->url);
}

static void server_stop(struct server *s)
{
	struct rusage ru;

	s->cpu_ms = 0;
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		if (wait4(s->pid, NULL, 0, &ru) == s->pid)
			s->cpu_ms =
			    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
				1e3 +
			    (double)(ru.ru_utime.tv_usec +
				     ru.ru_stime.tv_usec) /
				1e3;
	}
	s->pid = 0;
}

/* ---- the site laptop's backlog ----------------------------------------- */

/* One save as `casebook form set SUBJECT VISIT FORM ITEM=VALUE...`. */
struct save {
	const char *visit, *form, *items;
};

/*
 * A subject's first 20 forms: screening, baseline and four follow-up
 * visits on their target days (baseline 2024-02-01), with values inside
 * every hard and soft range so no save raises a query.
 */
static const struct save saves[SAVES_PER_SUBJECT] = {
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
    {"M12", "WOMAC",
     "P1=1 P2=1 P3=0 P4=1 P5=0 S1=0 S2=0 F1=1 F2=0 F3=0 F4=1 F5=1 F6=0 "
     "F7=0 F8=1 F9=1 F10=0 F11=0 F12=1 F13=0 F14=1 F15=0 F16=1 F17=1"},
};

/* Build, check, sign, store and merge one form.save event. */
static void save_one(struct entry *e, const char *subject,
		     const struct save *sv)
{
	const struct cb_protocol_visit *v;
	const struct cb_protocol_form *f;
	struct cb_check_results res;
	struct cb_event ev;
	struct cb_err err;
	char items[512], inst[16], *tok, *next;
	unsigned instance;
	int rc;

	cb_event_init(&ev);
	cb_check_results_init(&res);
	rc = cb_record_resolve(e->proto, sv->visit, sv->form, &v, &f, &instance,
			       &err);
	if (!rc) {
		cb_record_instance_text(instance, inst);
		rc = entry_new_event(e, &ev, CB_KIND_FORM_SAVE, subject,
				     v->code, f->code, inst, &err);
	}
	snprintf(items, sizeof(items), "%s", sv->items);
	for (tok = items; !rc && tok && *tok; tok = next) {
		char *eq;

		next = strchr(tok, ' ');
		if (next)
			*next++ = '\0';
		eq = strchr(tok, '=');
		if (!eq)
			die("bad item text %s", tok);
		*eq = '\0';
		rc = cb_event_add_change(&ev, tok, eq + 1, NULL, 0, &err);
	}
	if (!rc) {
		struct cb_merge *m;

		rc = entry_merge(e, subject, &m, &err);
		if (!rc)
			rc = cb_record_check_save(
			    e->proto, m, store_role(e->st), &ev, &res, &err);
	}
	if (!rc && res.count)
		die("%s %s %s: edit check %s: %s", subject, sv->visit, sv->form,
		    res.list[0].id,
		    res.list[0].message ? res.list[0].message : "");
	if (!rc)
		rc = entry_commit_event(e, &ev, &err);
	if (rc)
		die("%s %s %s: %s", subject, sv->visit, sv->form, err.msg);
	cb_check_results_release(&res);
	cb_event_release(&ev);
}

/* The subject's creation, as `casebook subject add` records it. */
static void create_one(struct entry *e, const char *subject)
{
	struct cb_event ev;
	struct cb_err err;

	if (entry_new_event(e, &ev, CB_KIND_SUBJECT_STATUS, subject, "", "", "",
			    &err) ||
	    cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED, &err) ||
	    entry_commit_event(e, &ev, &err))
		die("%s: creation: %s", subject, err.msg);
	cb_event_release(&ev);
}

/* Fill the registered laptop in `home` with `nsubj` subjects: each one's
 * creation and 20 saves. */
static void fill_laptop(const char *home, long nsubj)
{
	struct cli_global g = {.home = home};
	struct entry e;
	struct cb_err err;
	long s;
	int i;

	if (entry_open(&g, &e, &err))
		die("opening the laptop's store: %s", err.msg);
	for (s = 1; s <= nsubj; s++) {
		char subject[32];

		snprintf(subject, sizeof(subject), "%s-%02d%03ld",
			 store_site(e.st), store_device_index(e.st), s);
		if (entry_begin(&e, &err))
			die("begin: %s", err.msg);
		create_one(&e, subject);
		for (i = 0; i < SAVES_PER_SUBJECT; i++)
			save_one(&e, subject, &saves[i]);
		if (entry_commit(&e, &err))
			die("commit: %s", err.msg);
	}
	entry_close(&e);
}

/* ---- the events, as the laptop holds them ------------------------------ */

struct bench_event {
	char *json; /* as stored and pushed */
	size_t len;
	char *msg; /* canonical signing bytes */
	size_t msg_len;
	unsigned char sig[CB_SIGNATURE_BYTES];
	struct cb_event ev;
};

struct events {
	struct bench_event *v;
	size_t n, cap, bytes, saves;
};

static int take_event(void *ctx, const struct store_event *se)
{
	struct events *l = ctx;
	struct bench_event *b;
	struct cb_err err;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct bench_event *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			die("out of memory");
		l->v = nv;
		l->cap = cap;
	}
	b = &l->v[l->n];
	memset(b, 0, sizeof(*b));
	cb_event_init(&b->ev);
	b->json = malloc(se->len + 1);
	if (!b->json)
		die("out of memory");
	memcpy(b->json, se->json, se->len + 1);
	b->len = se->len;
	if (cb_event_parse(se->json, se->len, &b->ev, &err) ||
	    cb_event_signing_bytes(&b->ev, &b->msg, &b->msg_len, &err) ||
	    cb_hex_decode(b->ev.sig, strlen(b->ev.sig), b->sig, sizeof(b->sig),
			  NULL, &err))
		die("stored event %s: %s", se->id, err.msg);
	if (!strcmp(b->ev.kind, CB_KIND_FORM_SAVE))
		l->saves++;
	l->bytes += se->len;
	l->n++;
	return 0;
}

static void events_free(struct events *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].json);
		free(l->v[i].msg);
		cb_event_release(&l->v[i].ev);
	}
	free(l->v);
}

/* ---- the measurements -------------------------------------------------- */

/* Events per second of bare libsodium verification. */
static double bench_verify(const struct events *l, const unsigned char *pk)
{
	double t0 = now_ms();
	size_t i;

	for (i = 0; i < l->n; i++)
		if (cb_verify(pk, l->v[i].msg, l->v[i].msg_len, l->v[i].sig,
			      NULL))
			die("event %zu does not verify", i);
	return (double)l->n / ((now_ms() - t0) / 1e3);
}

/* Events per second inserted through server/store.c, 500 a commit. */
static double bench_insert(const struct events *l, int run_no)
{
	char dir[4200], name[32];
	struct srv_store *s;
	struct cb_err err;
	double t0, t;
	size_t i;

	snprintf(name, sizeof(name), "sqlite-%d", run_no);
	path_join(dir, sizeof(dir), tmp, name);
	if (srv_store_create(dir, "BENCH", "{}", 2, "0", &s, &err))
		die("server store: %s", err.msg);
	t0 = now_ms();
	for (i = 0; i < l->n; i++) {
		const struct cb_event *ev = &l->v[i].ev;
		struct srv_event_row row;

		if (i % BATCH == 0 && srv_store_begin(s, &err))
			die("begin: %s", err.msg);
		memset(&row, 0, sizeof(row));
		row.id = ev->id;
		row.device = ev->device;
		row.site = ev->site;
		row.subject = ev->subject;
		row.kind = ev->kind;
		row.json = l->v[i].json;
		row.json_len = l->v[i].len;
		row.received_at = "2024-01-01T00:00:00.000Z";
		if (srv_store_event_add(s, &row, NULL, &err))
			die("insert: %s", err.msg);
		if ((i % BATCH == BATCH - 1 || i + 1 == l->n) &&
		    srv_store_commit(s, &err))
			die("commit: %s", err.msg);
	}
	t = now_ms() - t0;
	srv_store_close(s);
	rm_dir(dir);
	return (double)l->n / (t / 1e3);
}

/*
 * Events per second the server accepts: every event pushed in batches of
 * 500, each request sent when the previous answer came, to a fresh copy
 * of the server's data directory.
 */
static double bench_push(const struct events *l, struct store *st,
			 const char *srv0, int run_no, double *cpu_us)
{
	char dir[4200], name[32], *body;
	struct server srv;
	struct cb_err err;
	struct net n;
	size_t first, accepted = 0;
	double t0, t;

	snprintf(name, sizeof(name), "push-%d", run_no);
	path_join(dir, sizeof(dir), tmp, name);
	copy_dir(srv0, dir);
	server_start(&srv, dir);
	if (net_init(&n, srv.url, NULL, &err))
		die("net_init: %s", err.msg);
	body = malloc(l->bytes + l->n + 64);
	if (!body)
		die("out of memory");
	t0 = now_ms();
	for (first = 0; first < l->n; first += BATCH) {
		size_t i, pos,
		    end = first + BATCH < l->n ? first + BATCH : l->n;
		struct net_reply r;
		cJSON *reply, *acc;

		pos = (size_t)snprintf(body, 16, "{\"events\":[");
		for (i = first; i < end; i++) {
			if (i > first)
				body[pos++] = ',';
			memcpy(body + pos, l->v[i].json, l->v[i].len);
			pos += l->v[i].len;
		}
		memcpy(body + pos, "]}", 3);
		pos += 2;
		if (net_request(&n, "POST", "/v1/sync/push", "", body, pos, st,
				&r, &err))
			die("push: %s", err.msg);
		if (r.status != 200)
			die("push: HTTP %ld: %.300s", r.status, r.body);
		reply = cJSON_ParseWithLength(r.body, r.len);
		acc = reply ? cJSON_GetObjectItem(reply, "accepted") : NULL;
		if (!cJSON_IsNumber(acc) || acc->valueint != (int)(end - first))
			die("push: not every event accepted: %.300s", r.body);
		accepted += (size_t)acc->valueint;
		cJSON_Delete(reply);
		net_reply_free(&r);
	}
	t = now_ms() - t0;
	free(body);
	net_free(&n);
	server_stop(&srv);
	*cpu_us = srv.cpu_ms * 1e3 / (double)l->n;
	rm_dir(dir);
	if (accepted != l->n)
		die("push: %zu of %zu accepted", accepted, l->n);
	return (double)l->n / (t / 1e3);
}

/* Point the laptop copy in `home` at `url` (sync.server). */
static void set_server(const char *home, const char *url)
{
	struct cli_global g = {.home = home};
	struct store *st;
	struct cb_err err;

	if (store_open_cli(&g, &st, &err) ||
	    store_meta_set(st, SYNC_META_SERVER, url, strlen(url), &err))
		die("%s: %s", home, err.msg);
	store_close(st);
}

/*
 * Milliseconds of `casebook sync` on a copy of the laptop against a copy
 * of the server; *unlock_ms gets `casebook user list` on the same copy.
 */
static double bench_backlog(const char *srv0, const char *dev0, int run_no,
			    size_t nevents, double *unlock_ms)
{
	char sdir[4200], ddir[4200], name[32], out[4200], line[256];
	char want[64];
	struct server srv;
	double t0, t;

	snprintf(name, sizeof(name), "bsrv-%d", run_no);
	path_join(sdir, sizeof(sdir), tmp, name);
	snprintf(name, sizeof(name), "bdev-%d", run_no);
	path_join(ddir, sizeof(ddir), tmp, name);
	path_join(out, sizeof(out), tmp, "sync.out");
	copy_dir(srv0, sdir);
	copy_dir(dev0, ddir);
	server_start(&srv, sdir);
	set_server(ddir, srv.url);
	{
		const char *list[] = {cb, "--home", ddir, "user", "list", NULL};

		t0 = now_ms();
		must_run(list, NULL);
		*unlock_ms = now_ms() - t0;
	}
	{
		const char *sync[] = {cb, "--home", ddir, "sync", NULL};

		t0 = now_ms();
		must_run(sync, out);
		t = now_ms() - t0;
	}
	server_stop(&srv);
	read_line(out, line, sizeof(line));
	snprintf(want, sizeof(want), "pushed %zu events: %zu accepted", nevents,
		 nevents);
	if (strncmp(line, want, strlen(want)))
		die("sync: expected '%s...', got '%s'", want, line);
	rm_dir(sdir);
	rm_dir(ddir);
	return t;
}

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
	printf("bench_sync: %s %s %s, %ld cores, %s\n", u.sysname, u.release,
	       u.machine, sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(void)
{
	const char *bin = getenv("CASEBOOK_BIN");
	const char *tdir = getenv("TMPDIR");
	long nsubj = env_long("CASEBOOK_BENCH_SUBJECTS", 500, 1, SUBJECTS_MAX);
	int runs = (int)env_long("CASEBOOK_BENCH_RUNS", 5, 1, RUNS_MAX);
	double verify[RUNS_MAX], insert[RUNS_MAX], push[RUNS_MAX];
	double backlog[RUNS_MAX], unlock[RUNS_MAX], cpu[RUNS_MAX], t0;
	char srv0[4200], dev0[4200], tokfile[4200], token[256];
	struct cli_global g;
	struct events l = {NULL, 0, 0, 0, 0};
	struct store *st;
	struct server srv;
	struct cb_err err;
	int i;

	if (!bin || !*bin)
		bin = "bin";
	path_join(cbd, sizeof(cbd), bin, "casebookd");
	path_join(cb, sizeof(cb), bin, "casebook");
	snprintf(proto_path, sizeof(proto_path), "%s",
		 "schemas/knee-oa-msc.json");
	if (access(cbd, X_OK) || access(cb, X_OK) || access(proto_path, R_OK))
		die("run from the top of the tree with CASEBOOK_BIN set "
		    "(make bench does both)");
	snprintf(tmp, sizeof(tmp), "%s/cbbsync.XXXXXX",
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

	/* The server, one site, and the laptop registered with it. */
	path_join(srv0, sizeof(srv0), tmp, "srv0");
	path_join(dev0, sizeof(dev0), tmp, "dev0");
	path_join(tokfile, sizeof(tokfile), tmp, "token");
	{
		const char *init[] = {cbd,	    "init",	"--data", srv0,
				      "--protocol", proto_path, NULL};
		const char *site[] = {cbd,	"site",	      "add",
				      "--data", srv0,	      "KR01",
				      "--name", "Bench site", NULL};
		const char *person[] = {
		    cbd,      "user",	     "add",	    "--data",
		    srv0,     "bench",	     "--full-name", "Bench Coordinator",
		    "--role", "coordinator", "--site",	    "KR01",
		    NULL};
		const char *tok[] = {cbd,  "token",  "create", "--data",
				     srv0, "--user", "bench",  NULL};

		must_run(init, NULL);
		must_run(site, NULL);
		must_run(person, NULL);
		must_run(tok, tokfile);
		read_line(tokfile, token, sizeof(token));
	}
	server_start(&srv, srv0);
	{
		const char *reg[] = {cb,	 "--home", dev0,      "init",
				     "--server", srv.url,  "--token", token,
				     "--user",	 "bench",  NULL};

		must_run(reg, NULL);
	}
	server_stop(&srv);
	t0 = now_ms();
	fill_laptop(dev0, nsubj);

	g.home = dev0;
	g.user = NULL;
	g.passphrase_file = NULL;
	if (store_open_cli(&g, &st, &err) ||
	    store_each_event(st, NULL, STORE_ITER_UNSYNCED, take_event, &l,
			     &err))
		die("reading the laptop: %s", err.msg);
	printf("bench_sync: laptop with %zu unsynced events (%zu form.save, "
	       "%ld subjects x %d forms), %zu bytes of JSON, made in %.1f s\n",
	       l.n, l.saves, nsubj, SAVES_PER_SUBJECT, l.bytes,
	       (now_ms() - t0) / 1e3);
	printf("bench_sync: %d runs each; medians (min..max)\n", runs);
	fflush(stdout);

	for (i = 0; i < runs; i++) {
		verify[i] = bench_verify(&l, store_device_pk(st));
		insert[i] = bench_insert(&l, i);
		push[i] = bench_push(&l, st, srv0, i, &cpu[i]);
		backlog[i] = bench_backlog(srv0, dev0, i, l.n, &unlock[i]);
	}
	store_close(st);

	{
		double lo[6], hi[6];
		const double *all[6] = {verify,	 insert, push,
					backlog, unlock, cpu};
		int k, j;

		for (k = 0; k < 6; k++) {
			lo[k] = hi[k] = all[k][0];
			for (j = 1; j < runs; j++) {
				if (all[k][j] < lo[k])
					lo[k] = all[k][j];
				if (all[k][j] > hi[k])
					hi[k] = all[k][j];
			}
		}
		printf("  %-44s %8.0f events/s (%.0f..%.0f)\n",
		       "Ed25519 verify, bare (libsodium)", median(verify, runs),
		       lo[0], hi[0]);
		printf("  %-44s %8.0f events/s (%.0f..%.0f)\n",
		       "SQLite prepared inserts, 500 a commit",
		       median(insert, runs), lo[1], hi[1]);
		printf("  %-44s %8.0f events/s (%.0f..%.0f)  target >= "
		       "15000\n",
		       "server push, batches of 500, loopback",
		       median(push, runs), lo[2], hi[2]);
		printf("  %-44s %8.1f us       (%.1f..%.1f)\n",
		       "  server CPU time per event pushed", median(cpu, runs),
		       lo[5], hi[5]);
		printf("  %-44s %8.3f s        (%.3f..%.3f)  target < 1.5 s\n",
		       "casebook sync of the whole backlog",
		       median(backlog, runs) / 1e3, lo[3] / 1e3, hi[3] / 1e3);
		printf("  %-44s %8.3f s        (%.3f..%.3f)\n",
		       "casebook user list (start + unlock only)",
		       median(unlock, runs) / 1e3, lo[4] / 1e3, hi[4] / 1e3);
	}
	events_free(&l);
	rm_dir(srv0);
	rm_dir(dev0);
	{
		char log[4200];

		path_join(log, sizeof(log), tmp, "bench.log");
		unlink(log);
		path_join(log, sizeof(log), tmp, "server.log");
		unlink(log);
		unlink(tokfile);
		path_join(log, sizeof(log), tmp, "sync.out");
		unlink(log);
	}
	rmdir(tmp);
	return 0;
}
