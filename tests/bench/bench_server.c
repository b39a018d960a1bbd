/*
 * bench_server.c - the central server at scale, 200 devices syncing at
 * once, and four laptops syncing at once (issue 11, "Benchmarks").
 * Timings and memory are reported, never asserted. Every figure comes
 * from the real programs: `casebookd serve`, `casebookd rebuild` and
 * `casebook sync`, run as processes, over HTTP on loopback.
 *
 * Part "scale", for a central store of each size (CASEBOOK_BENCH_SIZES,
 * subjects of a generated trial: scripts/gen-study --randomize, seed 1,
 * --today 2026-11-30; 16, 165, 1650 and 16500 subjects hold about 1,000,
 * 10,000, 100,000 and 1,000,000 events) and beside it, in the same
 * rounds, an empty store ("0"):
 *
 *   start-up        fork of `casebookd serve` on a copy of the store to
 *                   the first 200 answer of GET /v1/health (polled every
 *                   millisecond)
 *   memory idle     the server's VmHWM (peak resident set) right then
 *   push            CASEBOOK_BENCH_PUSH new events (default 10,000: a
 *                   new site device's subjects, each its creation and
 *                   the 20 form saves of bench_sync.c, checked with
 *                   cb_record_check_event as the server checks them and
 *                   signed) pushed as POST /v1/sync/push in batches of
 *                   500 over loopback, each sent when the previous
 *                   answer came, every event accepted; events/s, and
 *                   the server's CPU time (user + system, from /proc)
 *                   per event
 *   memory pushing  the server's VmHWM after the push
 *   rebuild         `casebookd rebuild` of a copy of the store: wall
 *                   time, CPU time and peak resident set (wait4)
 *
 * The generated stores are made once and kept in CASEBOOK_BENCH_CACHE
 * (default build/bench-cache), named by their size and a hash of the
 * generator and the protocol; the first run at 16,500 subjects spends
 * several minutes generating it. Each measurement runs on a fresh copy.
 *
 * Part "laptops": four site laptops (four sites, one coordinator laptop
 * each), each registered with one server (`casebook init --server`) and
 * holding 2,500 unsynced form saves of 20 items (WOMAC and KOOS items at
 * the visits that have them; with the subjects' creations, 2,813 events
 * a laptop), filled with the real `casebook subject add` and `casebook
 * form set`. The laptops and the server's store are made once and kept
 * in the cache too; they name the server by a loopback address picked
 * at random in 127.0.0.0/8 when they were made, which each run serves
 * again. Each run, on fresh copies: the four `casebook sync` processes
 * start at once; events/s is every pushed event over the time from the
 * first start to the last exit; beside it the server's peak resident
 * set and the slowest and fastest laptop.
 *
 * Part "devices": DEVICES (200) site devices of four sites on a new
 * store, each a thread of this process with its own connection and key,
 * for CASEBOOK_BENCH_SECONDS (default 60): each waits 0-500 ms, pushes
 * its next 20 events (its own subjects' creations and bench_sync.c's
 * saves, checked and signed before the run as a laptop's are when they
 * are entered), waits 0-500 ms and pulls its site's new events until
 * the server has no more, again and again. A pulled page's events are
 * counted by a scan of its text (page_scan), not parsed: the devices
 * share the machine with the server they measure. Beside the latency
 * the devices see, the server's own time per request, from its log. A
 * failed push is sent again at the next turn. Reported: events/s acknowledged,
 * push latency p50/p99, pull figures, errors, the server's peak memory and
 * cores busy; at the end each device sends once more what it holds
 * unacknowledged (a push whose answer was lost may be stored), then one device
 * per site pulls everything from the start and every acknowledged event must be
 * there and nothing else (the bench fails if one is missing: that is loss, not
 * a timing).
 *
 * Part "ingest": one site's CASEBOOK_BENCH_STREAMS devices (default 1)
 * on a new store, each registered with its own key, each pushing
 * CASEBOOK_BENCH_PUSH events (made, checked and signed beforehand, as in
 * part "scale") in batches of 500, each sent when the previous answer
 * came, all streams at once; stream k goes to the (k mod P)-th of
 * CASEBOOK_BENCH_PROCS `casebookd serve` processes (default 1; more than
 * one needs CASEBOOK_BENCH_STORE, a data directory takes one).
 * Reported: events/s over all streams (every event over the time from
 * the first push to the last answer), the slowest and fastest stream,
 * the servers' cores busy and CPU per event.
 *
 * With CASEBOOK_BENCH_STORE=URL (a libpq URI of an empty PostgreSQL
 * database its owner made), parts "ingest" and "devices" keep their new
 * store there (`casebookd init --store URL`) instead of in a data
 * directory; one part per run then, as a store is made once
 * (tests/bench/b_pg.sh gives each run a new database).
 *
 * The laptops' keys are wrapped with the test-only fast Argon2id
 * (CASEBOOK_KDF_FAST=1): a real laptop adds its unlock (bench_kdf) to
 * each sync.
 *
 *   CASEBOOK_BIN            casebook and casebookd (default bin)
 *   CASEBOOK_BENCH_PARTS    any of "scale", "laptops", "devices",
 *                           "ingest" (default: the first three)
 *   CASEBOOK_BENCH_SIZES    subjects per store (default 16 165 1650 16500)
 *   CASEBOOK_BENCH_RUNS     rounds (default 3; rebuilds of 10,000 and
 *                           more subjects run once)
 *   CASEBOOK_BENCH_PUSH     events pushed per measurement (default 10000)
 *   CASEBOOK_BENCH_SECONDS  part devices' length (default 60)
 *   CASEBOOK_BENCH_THREADS  casebookd serve --threads (default 4)
 *   CASEBOOK_BENCH_STORE    parts ingest and devices: a PostgreSQL
 *                           database's URL instead of a data directory
 *   CASEBOOK_BENCH_STREAMS  part ingest's pushing devices (default 1)
 *   CASEBOOK_BENCH_PROCS    part ingest's casebookd serve (default 1)
 *   CASEBOOK_BENCH_CACHE    where generated stores are kept
 *   TMPDIR                  where the copies go (default /tmp)
 *
 * Run from the top of the tree (make bench does).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
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
#include <curl/curl.h>

#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "event.h"
#include "hlc.h"
#include "merge.h"
#include "protocol.h"
#include "record.h"
#include "reqsig.h"
#include "role.h"

#define RUNS_MAX 15
#define SIZES_MAX 8
#define BATCH 500
#define SAVES_PER_SUBJECT 20
#define PASSPHRASE "bench-server-passphrase"
#define PROTO "schemas/knee-oa-msc.json"
#define GEN_SEED "1"
#define GEN_TODAY "2026-11-30"
/* Part "laptops". */
#define LAPTOPS 4
#define LAPTOP_SAVES 2500
#define LAPTOP_ITEMS 20
/* A changed layout of the laptops' cache changes this. */
#define LAPTOPS_CACHE_VERSION "1"

static char tmp[4096];		 /* this run's private directory */
static char cbd[4096], cb[4096]; /* the programs */
static char cache[4096];
static struct cb_protocol *proto;
static char serve_threads[8] = "4"; /* casebookd serve --threads */
/* The servers running, stopped by cleanup. */
#define LIVE_MAX 8
static pid_t live[LIVE_MAX];
/* CASEBOOK_BENCH_STORE: where parts ingest and devices keep their store */
static const char *store_url;

/* The arguments naming a part's new store `dir`: --data DIR, or with
 * CASEBOOK_BENCH_STORE --store URL. */
static const char *where_opt(void)
{
	return store_url ? "--store" : "--data";
}

static const char *where_arg(const char *dir)
{
	return store_url ? store_url : dir;
}

/* ---- small helpers ----------------------------------------------------- */

static void cleanup(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_server: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, minimum and maximum of n values (n >= 1). */
struct stat3 {
	double med, lo, hi;
	int n;
};

static struct stat3 stat_of(const double *v, int n)
{
	double s[RUNS_MAX];
	struct stat3 r = {0, 0, 0, n};

	if (n < 1)
		return r;
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	r.lo = s[0];
	r.hi = s[n - 1];
	return r;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return dflt;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		die("%s: expected %ld to %ld", name, lo, hi);
	return n;
}

static void path_join(char *out, size_t cap, const char *a, const char *b)
{
	if ((size_t)snprintf(out, cap, "%s/%s", a, b) >= cap)
		die("path too long: %s/%s", a, b);
}

/* The 1-minute load average. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* ---- processes ----------------------------------------------------------- */

/*
 * Start argv (argv[0] a path) with stdout into `out` (NULL: /dev/null)
 * and stderr appended to the bench log.
 */
static pid_t spawn(const char *const argv[], const char *out)
{
	char log[4200];
	pid_t pid;

	path_join(log, sizeof(log), tmp, "bench.log");
	fflush(NULL);
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
	return pid;
}

/* Wait for pid: its exit status (-1 when it did not exit), *ru (may be
 * NULL) its resource use. */
static int reap(pid_t pid, struct rusage *ru)
{
	struct rusage r;
	int status;

	while (wait4(pid, &status, 0, &r) < 0)
		if (errno != EINTR)
			return -1;
	if (ru)
		*ru = r;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void must_run(const char *const argv[], const char *out)
{
	int rc = reap(spawn(argv, out), NULL);

	if (rc != 0)
		die("'%s %s' exited %d (see %s/bench.log)", argv[0], argv[1],
		    rc, tmp);
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

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		die("cannot write %s", path);
}

static void copy_file(const char *from, const char *to)
{
	static char buf[1 << 20];
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

/* Copy the regular files of directory `from` into a new `to` (a store
 * or a laptop's home; subdirectories are left out). */
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
		if (stat(a, &sb) || !S_ISREG(sb.st_mode) ||
		    !strcmp(d->d_name, "casebookd.lock"))
			continue;
		path_join(b, sizeof(b), to, d->d_name);
		copy_file(a, b);
	}
	closedir(dir);
}

/* Remove `path` and, for a directory, everything under it. */
static void rm_rf(const char *path)
{
	struct stat sb;
	struct dirent *d;
	DIR *h;

	if (lstat(path, &sb))
		return;
	if (S_ISDIR(sb.st_mode) && (h = opendir(path))) {
		char sub[4300];

		while ((d = readdir(h))) {
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			path_join(sub, sizeof(sub), path, d->d_name);
			rm_rf(sub);
		}
		closedir(h);
	}
	remove(path);
}

static void cleanup(void)
{
	int i;

	/* a server left running would hold make's output open */
	for (i = 0; i < LIVE_MAX; i++)
		if (live[i] > 0) {
			kill(live[i], SIGTERM);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
	if (tmp[0]) {
		rm_rf(tmp);
		tmp[0] = '\0';
	}
}

/* A number from /proc/PID/status ("VmHWM:  1234 kB"), in KiB. */
static long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* User + system CPU time of pid so far, in ms (/proc/PID/stat). */
static double proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2; /* state is field 3 */
	for (i = 3; i < 14 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- HTTP ---------------------------------------------------------------- */

struct http {
	CURL *c;
	char base[128];
	struct cb_buf reply;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	struct cb_buf *b = ctx;
	struct cb_err err;

	return cb_buf_add(b, ptr, size * nmemb, &err) ? 0 : size * nmemb;
}

static void http_open(struct http *h, const char *base)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->base, sizeof(h->base), "%s", base);
	h->c = curl_easy_init();
	if (!h->c)
		die("libcurl: no handle");
	cb_buf_init(&h->reply, 64u * 1024u * 1024u);
}

static void http_close(struct http *h)
{
	if (h->c)
		curl_easy_cleanup(h->c);
	cb_buf_free(&h->reply);
	memset(h, 0, sizeof(*h));
}

/*
 * One request; signed by device `id` with `sk` when sk is not NULL. The
 * HTTP status (0 when nothing answered); the body is in h->reply.
 */
static long http_do(struct http *h, const char *method, const char *path,
		    const char *body, size_t len, const char *id,
		    const struct cb_key *sk)
{
	struct curl_slist *hd = NULL;
	char url[256], line[512];
	struct cb_err err;
	long status = 0;

	cb_buf_free(&h->reply);
	cb_buf_init(&h->reply, 64u * 1024u * 1024u);
	snprintf(url, sizeof(url), "%s%s", h->base, path);
	if (sk) {
		const char *q = strchr(path, '?');
		char p[256];
		struct cb_reqsig rs;

		/* the path and the query are signed apart */
		snprintf(p, sizeof(p), "%.*s",
			 (int)(q ? (size_t)(q - path) : strlen(path)), path);
		if (cb_reqsig_sign(&rs, sk, id, method, p, q ? q + 1 : "", body,
				   len, &err))
			die("request signature: %s", err.msg);
		snprintf(line, sizeof(line), "%s: %s", CB_REQSIG_HDR_DEVICE,
			 rs.device);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "%s: %" PRId64, CB_REQSIG_HDR_TIME,
			 rs.time_ms);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "%s: %s", CB_REQSIG_HDR_NONCE,
			 rs.nonce);
		hd = curl_slist_append(hd, line);
		snprintf(line, sizeof(line), "%s: %s", CB_REQSIG_HDR_SIGNATURE,
			 rs.sig);
		hd = curl_slist_append(hd, line);
	}
	hd = curl_slist_append(hd, "Content-Type: application/json");
	hd = curl_slist_append(hd, "Expect:");
	curl_easy_reset(h->c);
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, &h->reply);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(h->c, CURLOPT_POST, 1L);
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	if (curl_easy_perform(h->c) == CURLE_OK)
		curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	return status;
}

/* ---- the server ---------------------------------------------------------- */

struct server {
	pid_t pid;
	char url[96];
	double start_ms; /* fork to the first 200 of /v1/health */
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

/*
 * Start `casebookd serve` on `data` listening on `listen` (NULL: a free
 * port of 127.0.0.1) and time it until /v1/health answers 200.
 */
static void server_start(struct server *s, const char *data, const char *listen)
{
	char addr[64], log[4200];
	struct http h;
	double t0;
	int i;

	if (listen)
		snprintf(addr, sizeof(addr), "%s", listen);
	else
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", free_port());
	snprintf(s->url, sizeof(s->url), "http://%s", addr);
	path_join(log, sizeof(log), tmp, "server.log");
	http_open(&h, s->url);
	fflush(NULL);
	t0 = now_ms();
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	for (i = 0; s->pid > 0 && i < LIVE_MAX; i++)
		if (!live[i]) {
			live[i] = s->pid;
			break;
		}
	if (s->pid == 0) {
		int e = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (e < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(cbd, cbd, "serve", where_opt(), where_arg(data),
		      "--listen", addr, "--rate", "100000", "--max-per-ip",
		      "512", "--threads", serve_threads, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 60000; i++) {
		if (http_do(&h, "GET", "/v1/health", NULL, 0, NULL, NULL) ==
		    200) {
			s->start_ms = now_ms() - t0;
			http_close(&h);
			return;
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
			die("casebookd serve exited; see %s", log);
		sleep_ms(1);
	}
	die("casebookd serve does not answer on %s", s->url);
}

static void server_stop(struct server *s)
{
	int i;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		reap(s->pid, NULL);
	}
	for (i = 0; s->pid > 0 && i < LIVE_MAX; i++)
		if (live[i] == s->pid)
			live[i] = 0;
	s->pid = 0;
}

static double server_hwm_mib(const struct server *s)
{
	return (double)proc_status_kib(s->pid, "VmHWM") / 1024.0;
}

/* ---- the generated stores ------------------------------------------------ */

/* SHA-256 of the concatenated files, as 16 hex digits. */
static void files_key(const char *const *files, const char *extra, char out[17])
{
	struct cb_buf all;
	struct cb_err err;
	char hex[CB_HASH_HEX_SIZE], buf[65536];
	size_t i, len;
	char *data;

	cb_buf_init(&all, 64u * 1024u * 1024u);
	for (i = 0; files[i]; i++) {
		const char *only = strchr(files[i], '#');
		char path[256];
		FILE *f;
		size_t n;

		/* "FILE#TEXT": only FILE's lines that hold TEXT count */
		snprintf(path, sizeof(path), "%.*s",
			 only ? (int)(only - files[i]) : (int)strlen(files[i]),
			 files[i]);
		f = fopen(path, "rb");
		/* a file that is gone (moved in a later tree) counts by its
		 * name */
		if (!f) {
			if (cb_buf_addstr(&all, files[i], &err))
				die("%s", err.msg);
			continue;
		}
		if (only) {
			while (fgets(buf, sizeof(buf), f))
				if (strstr(buf, only + 1) &&
				    cb_buf_addstr(&all, buf, &err))
					die("%s", err.msg);
		} else {
			while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
				if (cb_buf_add(&all, buf, n, &err))
					die("%s", err.msg);
		}
		fclose(f);
	}
	if (extra && cb_buf_addstr(&all, extra, &err))
		die("%s", err.msg);
	data = cb_buf_take(&all, &len);
	if (!data)
		die("out of memory");
	cb_sha256_hex(data, len, hex);
	free(data);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

/*
 * The cached store of a trial of `subjects` generated subjects (made
 * now when missing) in `dir`; returns its number of events.
 */
static long study_store(long subjects, char *dir, size_t cap)
{
	/* what makes the study, and the store's schema (its version) */
	static const char *const gen_files[] = {
	    "scripts/gen-study",
	    "server/store_be.h#define SRV_SCHEMA_VERSION",
	    "tests/tools/gen_entry.c",
	    "tests/tools/gen_net.c",
	    "tests/tools/gen_study.c",
	    "tests/tools/gen_study.h",
	    "tests/tools/gen_trial.c",
	    PROTO,
	    NULL};
	char key[17], name[96], ok[4300], tmpdir[4300], line[64], log[4300];
	char subj[32];
	long events;

	files_key(gen_files, NULL, key);
	snprintf(name, sizeof(name), "study-%lds-%s", subjects, key);
	path_join(dir, cap, cache, name);
	path_join(ok, sizeof(ok), dir, "ok");
	if (access(ok, R_OK)) {
		const char *gen[] = {"scripts/gen-study",
				     "--subjects",
				     subj,
				     "--data",
				     tmpdir,
				     "--seed",
				     GEN_SEED,
				     "--today",
				     GEN_TODAY,
				     "--randomize",
				     "--no-progress",
				     NULL};
		const char *st[] = {cbd, "status", "--data", dir, NULL};
		double t0 = now_ms();
		char out[4300];

		snprintf(subj, sizeof(subj), "%ld", subjects);
		snprintf(tmpdir, sizeof(tmpdir), "%s.tmp", dir);
		snprintf(log, sizeof(log), "%s.log", dir);
		printf("bench_server: generating %ld subjects into %s "
		       "(once; kept for later runs)\n",
		       subjects, dir);
		rm_rf(tmpdir);
		if (reap(spawn(gen, log), NULL))
			die("scripts/gen-study failed: see %s and %s/bench.log",
			    log, tmp);
		if (rename(tmpdir, dir))
			die("rename %s: %s", tmpdir, strerror(errno));
		path_join(out, sizeof(out), tmp, "status.out");
		must_run(st, out);
		{
			FILE *f = fopen(out, "r");
			char l[256];

			events = -1;
			while (f && fgets(l, sizeof(l), f))
				if (sscanf(l, "events %ld", &events) == 1)
					break;
			if (f)
				fclose(f);
		}
		if (events < 0)
			die("casebookd status: no event count");
		snprintf(line, sizeof(line), "%ld\n", events);
		write_text(ok, line);
		printf("bench_server: %ld subjects, %ld events generated in "
		       "%.0f s\n",
		       subjects, events, (now_ms() - t0) / 1e3);
	}
	read_line(ok, line, sizeof(line));
	events = strtol(line, NULL, 10);
	return events;
}

/* ---- a site device's new events ------------------------------------------ */

/* One save as `casebook form set SUBJECT VISIT FORM ITEM=VALUE...`. */
struct save {
	const char *visit, *form, *items;
};

/* bench_sync.c's 20 forms of a subject: every value inside the hard and
 * soft ranges, so no save raises a query. */
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

/* A registered device of our own: its key and identity. */
struct device {
	char id[CB_REQSIG_DEVICE_MAX + 1];
	char site[CB_SITE_MAX + 1];
	char user[CB_USER_MAX + 1];
	long index;
	struct cb_sign_keypair kp;
	struct cb_hlc hlc;
	struct cb_key *idkey; /* groups its event ids, as a laptop's store */
};

/* Register a new key with the one-time `token` for `user`. */
static void device_register(struct http *h, struct device *d, const char *token,
			    const char *user)
{
	char pk[CB_SIGN_PUBLIC_BYTES * 2 + 1], *body;
	struct cb_err err;
	cJSON *req, *ans;
	const cJSON *v;
	long st;

	memset(d, 0, sizeof(*d));
	if (cb_sign_keypair_new(&d->kp, &err) ||
	    cb_key_random(CB_KEYED_HASH_KEY_BYTES, &d->idkey, &err) ||
	    cb_hex_encode(d->kp.pk, CB_SIGN_PUBLIC_BYTES, pk, sizeof(pk), &err))
		die("key: %s", err.msg);
	snprintf(d->user, sizeof(d->user), "%s", user);
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "token", token);
	cJSON_AddStringToObject(req, "public_key", pk);
	cJSON_AddStringToObject(req, "user", user);
	body = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!body)
		die("out of memory");
	st = http_do(h, "POST", "/v1/register", body, strlen(body), NULL, NULL);
	free(body);
	ans =
	    cJSON_ParseWithLength(cb_buf_str(&h->reply), cb_buf_len(&h->reply));
	if (st != 201 || !ans)
		die("register: HTTP %ld", st);
	v = cJSON_GetObjectItem(ans, "device");
	if (!cJSON_IsString(v))
		die("register: no device in the answer");
	snprintf(d->id, sizeof(d->id), "%s", v->valuestring);
	v = cJSON_GetObjectItem(ans, "site");
	if (!cJSON_IsString(v))
		die("register: no site in the answer");
	snprintf(d->site, sizeof(d->site), "%s", v->valuestring);
	v = cJSON_GetObjectItem(ans, "device_index");
	if (!cJSON_IsNumber(v))
		die("register: no device_index in the answer");
	d->index = (long)v->valuedouble;
	cJSON_Delete(ans);
}

/* The pushed events, as JSON texts. */
struct events {
	char **json;
	size_t *len;
	size_t n, cap, bytes;
};

static void events_add(struct events *l, char *json)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		char **nj = realloc(l->json, cap * sizeof(*nj));
		size_t *nl;

		if (!nj)
			die("out of memory");
		l->json = nj;
		nl = realloc(l->len, cap * sizeof(*nl));
		if (!nl)
			die("out of memory");
		l->len = nl;
		l->cap = cap;
	}
	l->json[l->n] = json;
	l->len[l->n] = strlen(json);
	l->bytes += l->len[l->n];
	l->n++;
}

static void events_free(struct events *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->json[i]);
	free(l->json);
	free(l->len);
	memset(l, 0, sizeof(*l));
}

/* Stamp, check (as the server will), sign and keep one event. */
static void emit(struct device *d, struct cb_merge *m, struct cb_event *ev,
		 struct events *out)
{
	struct cb_record_writer w = {CB_ROLE_COORDINATOR, d->site, d->index};
	struct cb_check_results res;
	const char *code = NULL;
	struct cb_err err;
	char *json = NULL;

	cb_check_results_init(&res);
	if (cb_event_stamp(ev, &d->hlc, d->idkey, &err) ||
	    cb_event_validate(ev, &err))
		die("event: %s", err.msg);
	if (cb_record_check_event(proto, m, &w, ev, &res, &code, &err) ||
	    res.count)
		die("%s %s %s: refused (%s): %s", ev->subject, ev->visit,
		    ev->form, code ? code : "soft check",
		    res.count ? res.list[0].id : err.msg);
	if (cb_event_sign(ev, d->kp.sk, &err) ||
	    cb_event_print(ev, &json, &err) || cb_merge_add(m, ev, NULL, &err))
		die("event: %s", err.msg);
	cb_check_results_release(&res);
	events_add(out, json);
}

/* About `want` events of device d: whole subjects, each its creation and
 * the 20 saves. */
static void make_events(struct device *d, size_t want, struct events *out)
{
	struct cb_err err;
	long s, nsubj = (long)((want + SAVES_PER_SUBJECT) /
			       (SAVES_PER_SUBJECT + 1));
	int i;

	if (nsubj < 1)
		nsubj = 1;
	if (nsubj > CB_SUBJECT_SEQ_MAX)
		die("CASEBOOK_BENCH_PUSH: at most %d subjects of one device",
		    CB_SUBJECT_SEQ_MAX);
	for (s = 1; s <= nsubj; s++) {
		char subject[CB_SUBJECT_ID_MAX + 1];
		struct cb_merge *m = NULL;
		struct cb_event ev;

		if (cb_subject_id_make(d->site, d->index, s, subject, &err) ||
		    cb_merge_new(&m, &err))
			die("%s", err.msg);
		cb_event_init(&ev);
		if (cb_event_set_origin(&ev, d->id, d->site, d->user, &err) ||
		    cb_event_set_target(&ev, subject, CB_KIND_SUBJECT_STATUS,
					"", "", "", &err) ||
		    cb_event_set_reason(&ev, "", &err) ||
		    cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED,
				      &err))
			die("%s", err.msg);
		emit(d, m, &ev, out);
		cb_event_release(&ev);
		for (i = 0; i < SAVES_PER_SUBJECT; i++) {
			const struct cb_protocol_visit *v;
			const struct cb_protocol_form *f;
			char items[512], inst[16], *tok, *next;
			unsigned instance;

			if (cb_record_resolve(proto, saves[i].visit,
					      saves[i].form, &v, &f, &instance,
					      &err))
				die("%s", err.msg);
			cb_record_instance_text(instance, inst);
			cb_event_init(&ev);
			if (cb_event_set_origin(&ev, d->id, d->site, d->user,
						&err) ||
			    cb_event_set_target(&ev, subject, CB_KIND_FORM_SAVE,
						v->code, f->code, inst, &err) ||
			    cb_event_set_reason(&ev, "", &err))
				die("%s", err.msg);
			snprintf(items, sizeof(items), "%s", saves[i].items);
			for (tok = items; tok && *tok; tok = next) {
				char *eq;

				next = strchr(tok, ' ');
				if (next)
					*next++ = '\0';
				eq = strchr(tok, '=');
				if (!eq)
					die("bad item text %s", tok);
				*eq = '\0';
				if (cb_event_add_change(&ev, tok, eq + 1, NULL,
							0, &err))
					die("%s", err.msg);
			}
			emit(d, m, &ev, out);
			cb_event_release(&ev);
		}
		cb_merge_free(m);
	}
}

/*
 * Push every event in batches of BATCH, each sent when the previous
 * answer came; every one must be accepted. Events per second.
 */
static double push_all(struct http *h, const struct device *d,
		       const struct events *l)
{
	char *body = malloc(l->bytes + l->n + 64);
	size_t first, accepted = 0;
	double t0, t;

	if (!body)
		die("out of memory");
	t0 = now_ms();
	for (first = 0; first < l->n; first += BATCH) {
		size_t i, pos,
		    end = first + BATCH < l->n ? first + BATCH : l->n;
		cJSON *reply, *acc;
		long st;

		pos = (size_t)snprintf(body, 16, "{\"events\":[");
		for (i = first; i < end; i++) {
			if (i > first)
				body[pos++] = ',';
			memcpy(body + pos, l->json[i], l->len[i]);
			pos += l->len[i];
		}
		memcpy(body + pos, "]}", 3);
		pos += 2;
		st = http_do(h, "POST", "/v1/sync/push", body, pos, d->id,
			     d->kp.sk);
		if (st != 200)
			die("push: HTTP %ld: %.300s", st,
			    cb_buf_len(&h->reply) ? cb_buf_str(&h->reply) : "");
		reply = cJSON_ParseWithLength(cb_buf_str(&h->reply),
					      cb_buf_len(&h->reply));
		acc = reply ? cJSON_GetObjectItem(reply, "accepted") : NULL;
		if (!cJSON_IsNumber(acc) || acc->valueint != (int)(end - first))
			die("push: not every event accepted: %.300s",
			    cb_buf_str(&h->reply));
		accepted += (size_t)acc->valueint;
		cJSON_Delete(reply);
	}
	t = now_ms() - t0;
	free(body);
	if (accepted != l->n)
		die("push: %zu of %zu accepted", accepted, l->n);
	return (double)l->n / (t / 1e3);
}

/* ---- part "scale" -------------------------------------------------------- */

/* What one size measured, per round. */
struct size_figs {
	long subjects, events;
	char dir[4300]; /* the cached store; "" for the empty one */
	double start[RUNS_MAX], idle[RUNS_MAX], rate[RUNS_MAX];
	double cpu[RUNS_MAX], push_mem[RUNS_MAX];
	double rb_wall[RUNS_MAX], rb_cpu[RUNS_MAX], rb_mem[RUNS_MAX];
	int nrb;
};

/* A copy of the store of f in `dir` (the empty store: a new one with
 * site S01), with person `user` registered and a token for them. */
static void store_copy(const struct size_figs *f, const char *dir,
		       const char *user, char *token, size_t cap)
{
	char out[4300];
	const char *add[] = {
	    cbd,      "user",	     "add",	    "--data",
	    dir,      user,	     "--full-name", "Bench pusher",
	    "--role", "coordinator", "--site",	    "S01",
	    NULL};
	const char *tok[] = {cbd, "token",  "create", "--data",
			     dir, "--user", user,     NULL};

	if (f->dir[0]) {
		copy_dir(f->dir, dir);
	} else {
		const char *init[] = {cbd,	    "init", "--data", dir,
				      "--protocol", PROTO,  NULL};
		const char *site[] = {cbd,	"site",	    "add",
				      "--data", dir,	    "S01",
				      "--name", "Site S01", NULL};

		must_run(init, NULL);
		must_run(site, NULL);
	}
	path_join(out, sizeof(out), tmp, "token.out");
	must_run(add, NULL);
	must_run(tok, out);
	read_line(out, token, cap);
}

/*
 * With CASEBOOK_BENCH_PERF=PREFIX, the server's push is profiled:
 * `perf record -g` of the server process while it takes the push, into
 * PREFIX-EVENTS-ROUND.data (perf is not a dependency of the project;
 * install linux-perf to use it).
 */
static pid_t perf_start(pid_t server, long events, int round)
{
	const char *prefix = getenv("CASEBOOK_BENCH_PERF");
	char out[4300], pid[32];
	const char *argv[] = {"/usr/bin/perf",
			      "record",
			      "-F",
			      "999",
			      "--call-graph",
			      "dwarf,16384",
			      "-o",
			      out,
			      "-p",
			      pid,
			      NULL};
	pid_t p;

	if (!prefix || !*prefix)
		return 0;
	snprintf(out, sizeof(out), "%s-%ld-%d.data", prefix, events, round);
	snprintf(pid, sizeof(pid), "%ld", (long)server);
	p = spawn(argv, NULL);
	sleep_ms(500); /* perf attaches */
	return p;
}

static void perf_stop(pid_t p)
{
	if (p > 0) {
		kill(p, SIGINT);
		reap(p, NULL);
	}
}

static void scale_round(struct size_figs *f, int round, long npush)
{
	char dir[4300], token[256], user[32];
	struct server srv;
	struct device d;
	struct events l = {0};
	struct http h;
	double cpu0;
	pid_t perf;

	path_join(dir, sizeof(dir), tmp, "srv");
	snprintf(user, sizeof(user), "benchpush%d", round + 1);
	store_copy(f, dir, user, token, sizeof(token));
	server_start(&srv, dir, NULL);
	f->start[round] = srv.start_ms;
	f->idle[round] = server_hwm_mib(&srv);
	http_open(&h, srv.url);
	device_register(&h, &d, token, user);
	make_events(&d, (size_t)npush, &l);
	perf = perf_start(srv.pid, f->events, round);
	cpu0 = proc_cpu_ms(srv.pid);
	f->rate[round] = push_all(&h, &d, &l);
	f->cpu[round] = (proc_cpu_ms(srv.pid) - cpu0) * 1e3 / (double)l.n;
	perf_stop(perf);
	f->push_mem[round] = server_hwm_mib(&srv);
	http_close(&h);
	server_stop(&srv);
	events_free(&l);
	cb_sign_keypair_release(&d.kp);
	cb_key_free(d.idkey);
	rm_rf(dir);
}

static void rebuild_once(struct size_figs *f)
{
	char dir[4300];
	const char *rb[] = {cbd, "rebuild", "--data", dir, NULL};
	struct rusage ru;
	double t0;
	int rc;

	path_join(dir, sizeof(dir), tmp, "rb");
	copy_dir(f->dir, dir);
	t0 = now_ms();
	rc = reap(spawn(rb, NULL), &ru);
	if (rc)
		die("casebookd rebuild exited %d", rc);
	f->rb_wall[f->nrb] = now_ms() - t0;
	f->rb_cpu[f->nrb] =
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	f->rb_mem[f->nrb] = (double)ru.ru_maxrss / 1024.0;
	f->nrb++;
	rm_rf(dir);
}

static void print_range(const char *what, const struct size_figs *f, int n,
			size_t off, int runs, int rebuild, const char *fmt,
			double scale)
{
	int k;

	printf("  %-30s", what);
	for (k = 0; k < n; k++) {
		const double *v = (const double *)((const char *)&f[k] + off);
		int cnt = rebuild ? f[k].nrb : runs;
		char cell[64], lo[24], hi[24];
		struct stat3 s;

		if (cnt <= 0) {
			printf(" %20s", "-");
			continue;
		}
		s = stat_of(v, cnt);
		snprintf(lo, sizeof(lo), fmt, s.lo * scale);
		snprintf(hi, sizeof(hi), fmt, s.hi * scale);
		if (cnt > 1)
			snprintf(cell, sizeof(cell), "%s..%s", lo, hi);
		else
			cell[0] = '\0';
		printf(" %20s", cell);
	}
	printf("\n");
}

static void part_scale(int runs, long npush)
{
	struct size_figs *f;
	const char *sizes = getenv("CASEBOOK_BENCH_SIZES");
	char list[256], *p, *end;
	double load[RUNS_MAX * (SIZES_MAX + 1)];
	int n = 1, k, r, nload = 0;

	f = calloc(SIZES_MAX + 1, sizeof(*f));
	if (!f)
		die("out of memory");
	snprintf(list, sizeof(list), "%s",
		 sizes && *sizes ? sizes : "16 165 1650 16500");
	for (p = list; *p;) {
		long v;

		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v < 1 || v > 1000000 || n > SIZES_MAX)
			die("CASEBOOK_BENCH_SIZES: up to %d numbers of "
			    "subjects, 1 to 1000000",
			    SIZES_MAX);
		f[n].subjects = v;
		f[n].events = study_store(v, f[n].dir, sizeof(f[n].dir));
		n++;
		p = end;
	}
	printf("bench_server: part scale: %d rounds; each round, every size "
	       "in turn: start-up, memory, a push of %ld events in batches "
	       "of %d\n",
	       runs, npush, BATCH);
	fflush(stdout);
	for (r = 0; r < runs; r++)
		for (k = 0; k < n; k++) {
			load[nload++] = loadavg();
			scale_round(&f[k], r, npush);
			if (k && (r == 0 || f[k].subjects < 10000))
				rebuild_once(&f[k]);
		}
	{
		struct stat3 ls =
		    stat_of(load, nload < RUNS_MAX ? nload : RUNS_MAX);

		printf("bench_server: load average (1 min) during the rounds: "
		       "median %.1f (%.1f..%.1f)\n",
		       ls.med, ls.lo, ls.hi);
	}
	printf("bench_server: medians (min..max below)\n");
	printf("  %-30s", "events stored");
	for (k = 0; k < n; k++)
		printf(" %20ld", f[k].events);
	printf("\n  %-30s", "subjects");
	for (k = 0; k < n; k++)
		printf(" %20ld", f[k].subjects);
	printf("\n");
#define ROW(what, field, rb, fmt, scale)                                       \
	do {                                                                   \
		printf("  %-30s", what);                                       \
		for (k = 0; k < n; k++) {                                      \
			int cnt = (rb) ? f[k].nrb : runs;                      \
			char cell[64];                                         \
			if (cnt <= 0) {                                        \
				printf(" %20s", "-");                          \
				continue;                                      \
			}                                                      \
			snprintf(cell, sizeof(cell), fmt,                      \
				 stat_of(f[k].field, cnt).med *(scale));       \
			printf(" %20s", cell);                                 \
		}                                                              \
		printf("\n");                                                  \
		print_range("", f, n, offsetof(struct size_figs, field), runs, \
			    rb, fmt, scale);                                   \
	} while (0)
	ROW("start-up to /v1/health (ms)", start, 0, "%.1f", 1.0);
	ROW("peak memory idle (MiB)", idle, 0, "%.1f", 1.0);
	ROW("push (events/s)", rate, 0, "%.0f", 1.0);
	ROW("server CPU per event (us)", cpu, 0, "%.1f", 1.0);
	ROW("peak memory pushing (MiB)", push_mem, 0, "%.1f", 1.0);
	ROW("rebuild (s)", rb_wall, 1, "%.2f", 1e-3);
	ROW("rebuild CPU (s)", rb_cpu, 1, "%.2f", 1e-3);
	ROW("rebuild peak memory (MiB)", rb_mem, 1, "%.1f", 1.0);
#undef ROW
	printf("  %-30s", "rebuild CPU per event (us)");
	for (k = 0; k < n; k++) {
		char cell[64];

		if (!f[k].nrb || !f[k].events) {
			printf(" %20s", "-");
			continue;
		}
		snprintf(cell, sizeof(cell), "%.1f",
			 stat_of(f[k].rb_cpu, f[k].nrb).med * 1e3 /
			     (double)f[k].events);
		printf(" %20s", cell);
	}
	printf("\n");
	free(f);
}

/* ---- part "laptops" ------------------------------------------------------ */

/* The forms of 20 items a laptop saves: WOMAC and KOOS where the
 * protocol has them. */
static const struct {
	const char *visit, *form;
} lap_forms[] = {{"BL", "WOMAC"},  {"BL", "KOOS"},  {"M1", "WOMAC"},
		 {"M3", "WOMAC"},  {"M6", "WOMAC"}, {"M6", "KOOS"},
		 {"M12", "WOMAC"}, {"M12", "KOOS"}};
#define LAP_FORMS (sizeof(lap_forms) / sizeof(*lap_forms))

/* Fill the registered laptop `home` with LAPTOP_SAVES saves, through the
 * real command line. Runs in a child of its own. */
static void lap_fill(const char *home, unsigned seed)
{
	char out[4300], subject[64];
	const char *add[] = {cb, "--home", home, "subject", "add", NULL};
	const char *set[8 + LAPTOP_ITEMS + 1];
	char items[LAPTOP_ITEMS][16];
	int nsaved = 0, k, i;

	if ((size_t)snprintf(out, sizeof(out), "%s.subject", home) >=
	    sizeof(out))
		die("path too long: %s", home);
	while (nsaved < LAPTOP_SAVES) {
		must_run(add, out);
		read_line(out, subject, sizeof(subject));
		for (k = 0; k < (int)LAP_FORMS && nsaved < LAPTOP_SAVES; k++) {
			const struct cb_protocol_form *f =
			    cb_protocol_find_form(proto, lap_forms[k].form);

			if (!f || f->nitems < LAPTOP_ITEMS)
				die("the protocol's %s has fewer than %d items",
				    lap_forms[k].form, LAPTOP_ITEMS);
			set[0] = cb;
			set[1] = "--home";
			set[2] = home;
			set[3] = "form";
			set[4] = "set";
			set[5] = subject;
			set[6] = lap_forms[k].visit;
			set[7] = lap_forms[k].form;
			for (i = 0; i < LAPTOP_ITEMS; i++) {
				seed = seed * 1103515245u + 12345u;
				snprintf(items[i], sizeof(items[i]), "%s=%u",
					 f->items[i].code, (seed >> 16) % 5);
				set[8 + i] = items[i];
			}
			set[8 + LAPTOP_ITEMS] = NULL;
			must_run(set, NULL);
			nsaved++;
		}
	}
}

/*
 * The cached server store and four registered, filled laptops in
 * dir (made now when missing); *url gets the address they sync with.
 */
static void laptops_cache(char *dir, size_t cap, char *url, size_t ucap)
{
	/* the laptops' store format, what a save makes, the server's schema */
	static const char *const files[] = {
	    PROTO, "client/store.c", "client/entry.c",
	    "server/store_be.h#define SRV_SCHEMA_VERSION", NULL};
	char key[17], name[64], ok[4300], mk[4300], srv[4300], out[4300];
	char listen[64], line[256], tokens[LAPTOPS][256];
	struct server s;
	pid_t kids[LAPTOPS];
	int i;

	files_key(files, LAPTOPS_CACHE_VERSION, key);
	snprintf(name, sizeof(name), "laptops%d-%s", LAPTOPS, key);
	path_join(dir, cap, cache, name);
	path_join(ok, sizeof(ok), dir, "ok");
	if (!access(ok, R_OK)) {
		read_line(ok, line, sizeof(line));
		if ((size_t)snprintf(url, ucap, "%s", line) >= ucap)
			die("%s: the address is too long", ok);
		return;
	}
	printf("bench_server: making %d laptops of %d saves each in %s "
	       "(once; kept for later runs)\n",
	       LAPTOPS, LAPTOP_SAVES, dir);
	fflush(stdout);
	if ((size_t)snprintf(mk, sizeof(mk), "%s.tmp", dir) >= sizeof(mk))
		die("path too long: %s", dir);
	rm_rf(mk);
	if (mkdir(mk, 0700))
		die("mkdir %s: %s", mk, strerror(errno));
	path_join(srv, sizeof(srv), mk, "srv");
	{
		const char *init[] = {cbd,	    "init", "--data", srv,
				      "--protocol", PROTO,  NULL};

		must_run(init, NULL);
	}
	/* A loopback address of its own, so a later run can serve it
	 * again whatever else listens on 127.0.0.1. */
	{
		unsigned char r[4];

		cb_random_bytes(r, sizeof(r));
		snprintf(listen, sizeof(listen), "127.%u.%u.%u:%u",
			 1u + r[0] % 250u, 1u + r[1] % 250u, 1u + r[2] % 250u,
			 20000u + (unsigned)r[3] * 40u);
	}
	for (i = 0; i < LAPTOPS; i++) {
		char site[16], user[32], fname[48];
		const char *sadd[] = {cbd,  "site",   "add", "--data", srv,
				      site, "--name", fname, NULL};
		const char *uadd[] = {
		    cbd,      "user",	     "add", "--data", srv,
		    user,     "--full-name", fname, "--role", "coordinator",
		    "--site", site,	     NULL};

		snprintf(site, sizeof(site), "H%02d", i + 1);
		snprintf(user, sizeof(user), "coord.h%02d", i + 1);
		snprintf(fname, sizeof(fname), "Coordinator of %s", site);
		must_run(sadd, NULL);
		must_run(uadd, NULL);
	}
	/* the tokens first: an admin command takes the data directory's
	 * lock, which the server holds while it runs */
	for (i = 0; i < LAPTOPS; i++) {
		char user[32];
		const char *tok[] = {cbd, "token",  "create", "--data",
				     srv, "--user", user,     NULL};

		snprintf(user, sizeof(user), "coord.h%02d", i + 1);
		path_join(out, sizeof(out), tmp, "token.out");
		must_run(tok, out);
		read_line(out, tokens[i], sizeof(tokens[i]));
	}
	server_start(&s, srv, listen);
	for (i = 0; i < LAPTOPS; i++) {
		char user[32], home[4300], hn[16];
		const char *init[] = {
		    cb,	       "--home",  home,	    "init", "--server", s.url,
		    "--token", tokens[i], "--user", user,   NULL};

		snprintf(user, sizeof(user), "coord.h%02d", i + 1);
		snprintf(hn, sizeof(hn), "lap%d", i + 1);
		path_join(home, sizeof(home), mk, hn);
		must_run(init, NULL);
	}
	server_stop(&s);
	for (i = 0; i < LAPTOPS; i++) {
		char home[4300], hn[16];

		snprintf(hn, sizeof(hn), "lap%d", i + 1);
		path_join(home, sizeof(home), mk, hn);
		fflush(NULL);
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			tmp[0] = '\0'; /* the parent removes it */
			lap_fill(home, 7u + (unsigned)i);
			_exit(0);
		}
	}
	for (i = 0; i < LAPTOPS; i++)
		if (reap(kids[i], NULL))
			die("filling laptop %d failed (see %s/bench.log)",
			    i + 1, tmp);
	if (rename(mk, dir))
		die("rename %s: %s", mk, strerror(errno));
	snprintf(url, ucap, "%s", s.url);
	snprintf(line, sizeof(line), "%s\n", s.url);
	write_text(ok, line);
}

static void part_laptops(int runs)
{
	char dir[4300], url[128], listen[64];
	double rate[RUNS_MAX], mem[RUNS_MAX], slow[RUNS_MAX], fast[RUNS_MAX];
	double cpu[RUNS_MAX], load[RUNS_MAX];
	long pushed_total = 0;
	int r, i;

	laptops_cache(dir, sizeof(dir), url, sizeof(url));
	if ((size_t)snprintf(listen, sizeof(listen), "%s",
			     strncmp(url, "http://", 7) ? url : url + 7) >=
	    sizeof(listen))
		die("the laptops' address is too long: %s", url);
	printf("bench_server: part laptops: %d laptops (one a site), %d "
	       "form saves of %d items each, syncing at once; %d runs\n",
	       LAPTOPS, LAPTOP_SAVES, LAPTOP_ITEMS, runs);
	fflush(stdout);
	for (r = 0; r < runs; r++) {
		char srv[4300], src[4300], homes[LAPTOPS][4300],
		    outs[LAPTOPS][4300];
		pid_t kids[LAPTOPS];
		double t0, done[LAPTOPS], cpu0;
		struct server s;
		long total = 0;

		path_join(srv, sizeof(srv), tmp, "lsrv");
		path_join(src, sizeof(src), dir, "srv");
		copy_dir(src, srv);
		for (i = 0; i < LAPTOPS; i++) {
			char hn[16];

			snprintf(hn, sizeof(hn), "lap%d", i + 1);
			path_join(src, sizeof(src), dir, hn);
			path_join(homes[i], sizeof(homes[i]), tmp, hn);
			copy_dir(src, homes[i]);
			snprintf(hn, sizeof(hn), "sync%d.out", i + 1);
			path_join(outs[i], sizeof(outs[i]), tmp, hn);
		}
		load[r] = loadavg();
		server_start(&s, srv, listen);
		cpu0 = proc_cpu_ms(s.pid);
		t0 = now_ms();
		for (i = 0; i < LAPTOPS; i++) {
			const char *sync[] = {cb, "--home", homes[i], "sync",
					      NULL};

			kids[i] = spawn(sync, outs[i]);
		}
		for (i = 0; i < LAPTOPS; i++)
			done[i] = 0;
		for (i = 0; i < LAPTOPS; i++) {
			int status, k;
			pid_t p = wait(&status);

			for (k = 0; k < LAPTOPS; k++)
				if (kids[k] == p)
					break;
			if (k == LAPTOPS)
				die("wait: an unknown child");
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				die("casebook sync of laptop %d failed (see "
				    "%s/bench.log)",
				    k + 1, tmp);
			done[k] = now_ms() - t0;
		}
		rate[r] = 0;
		slow[r] = fast[r] = done[0];
		for (i = 0; i < LAPTOPS; i++) {
			char line[256];
			long pushed = 0, acc = 0;

			read_line(outs[i], line, sizeof(line));
			if (sscanf(line, "pushed %ld events: %ld accepted",
				   &pushed, &acc) != 2 ||
			    pushed != acc || pushed < LAPTOP_SAVES)
				die("laptop %d: expected every event accepted, "
				    "got '%s'",
				    i + 1, line);
			total += pushed;
			if (done[i] > slow[r])
				slow[r] = done[i];
			if (done[i] < fast[r])
				fast[r] = done[i];
		}
		pushed_total = total;
		rate[r] = (double)total / (slow[r] / 1e3);
		mem[r] = server_hwm_mib(&s);
		cpu[r] = (proc_cpu_ms(s.pid) - cpu0) * 1e3 / (double)total;
		server_stop(&s);
		rm_rf(srv);
		for (i = 0; i < LAPTOPS; i++)
			rm_rf(homes[i]);
	}
	{
		struct stat3 a = stat_of(rate, runs), b = stat_of(slow, runs),
			     c = stat_of(fast, runs), d = stat_of(mem, runs),
			     e = stat_of(cpu, runs), l = stat_of(load, runs);

		printf("bench_server: %ld events pushed by the %d laptops; "
		       "load average (1 min) median %.1f (%.1f..%.1f); "
		       "medians (min..max)\n",
		       pushed_total, LAPTOPS, l.med, l.lo, l.hi);
		printf("  %-44s %8.0f events/s (%.0f..%.0f)  target >= "
		       "10000\n",
		       "4 laptops syncing at once, end to end", a.med, a.lo,
		       a.hi);
		printf("  %-44s %8.2f s (%.2f..%.2f)\n",
		       "  first start to last exit", b.med / 1e3, b.lo / 1e3,
		       b.hi / 1e3);
		printf("  %-44s %8.2f s (%.2f..%.2f)\n",
		       "  the fastest laptop's sync", c.med / 1e3, c.lo / 1e3,
		       c.hi / 1e3);
		printf("  %-44s %8.1f MiB (%.1f..%.1f)  target < 64\n",
		       "  server peak memory", d.med, d.lo, d.hi);
		printf("  %-44s %8.1f us (%.1f..%.1f)\n",
		       "  server CPU per event pushed", e.med, e.lo, e.hi);
	}
}

/* ---- part "devices" ------------------------------------------------------ */

/*
 * DEVICES site devices (DEV_SITES sites, one person each, registered with
 * their own keys) on a new store, each a thread of this process with its
 * own connection, for CASEBOOK_BENCH_SECONDS: wait 0-500 ms, push the
 * next DEV_BATCH of its events (its subjects' creations and the saves of
 * bench_sync.c, made and checked as it goes, signed), wait 0-500 ms,
 * pull its site's events from where it stopped until the server says
 * there is no more, again. A push that fails is sent again at the next
 * turn, as a laptop does. At the end one device per site pulls
 * everything from the start: every event the server acknowledged must
 * be there, and nothing else.
 */
#define DEVICES 200
#define DEV_SITES 4
#define DEV_BATCH 20
#define DEV_GAP_MS 500
/* Events made before the run, per device and second of it: a device
 * answered at once pushes DEV_BATCH every DEV_GAP_MS on average (its
 * two waits), 40 a second; 30 cover the pace the server has reached,
 * and a device that runs out makes more as it goes. */
#define DEV_MADE_PER_S (DEV_BATCH * 3 / 2)

struct simdev {
	struct device d;
	struct http h;
	unsigned seed;
	/* the event generator: subject `subject`, next step `step` (0: its
	 * creation, 1..SAVES_PER_SUBJECT: a save) */
	long subject;
	int step;
	struct cb_merge *m;
	struct events batch; /* unacknowledged, sent again */
	/* Events made before the run, as a laptop holds what was entered
	 * before its sync; taken in order, then made as needed. */
	struct events made;
	char (*made_ids)[CB_EVENT_ID_HEX + 1];
	size_t made_want, made_next; /* how many to make; the next to take */
	char (*ids)[CB_EVENT_ID_HEX + 1];
	size_t nbatch_ids, nids, capids; /* acknowledged ids, then batch's */
	char cursor[32];
	double *lat;
	size_t nlat, caplat;
	double *plat;
	size_t nplat, capplat;
	long pushes, push_err, pulls, pull_err, pulled, acked, dups;
	char first_err[200];
	double t_end;
};

static void dlist_add(double **v, size_t *n, size_t *cap, double x)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		double *nv = realloc(*v, c * sizeof(**v));

		if (!nv)
			die("out of memory");
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
}

static void ids_reserve(struct simdev *s, size_t more)
{
	if (s->nids + s->nbatch_ids + more > s->capids) {
		size_t c = s->capids ? 2 * s->capids : 1024;
		void *nv;

		while (c < s->nids + s->nbatch_ids + more)
			c *= 2;
		nv = realloc(s->ids, c * sizeof(*s->ids));
		if (!nv)
			die("out of memory");
		s->ids = nv;
		s->capids = c;
	}
}

/* Make the device's next event into `into`; its id into `id`. */
static void sim_make(struct simdev *s, struct events *into,
		     char id[CB_EVENT_ID_HEX + 1])
{
	char subject[CB_SUBJECT_ID_MAX + 1];
	struct device *d = &s->d;
	struct cb_event ev;
	struct cb_err err;

	if (s->step > SAVES_PER_SUBJECT) {
		cb_merge_free(s->m);
		s->m = NULL;
		s->step = 0;
		s->subject++;
	}
	if (s->subject > CB_SUBJECT_SEQ_MAX)
		die("device %s: more than %d subjects", d->id,
		    CB_SUBJECT_SEQ_MAX);
	if (cb_subject_id_make(d->site, d->index, s->subject, subject, &err))
		die("%s", err.msg);
	if (!s->m && cb_merge_new(&s->m, &err))
		die("%s", err.msg);
	cb_event_init(&ev);
	if (s->step == 0) {
		if (cb_event_set_origin(&ev, d->id, d->site, d->user, &err) ||
		    cb_event_set_target(&ev, subject, CB_KIND_SUBJECT_STATUS,
					"", "", "", &err) ||
		    cb_event_set_reason(&ev, "", &err) ||
		    cb_event_set_data(&ev, CB_DATA_STATUS, CB_SUBJECT_CREATED,
				      &err))
			die("%s", err.msg);
	} else {
		const struct save *sv = &saves[s->step - 1];
		const struct cb_protocol_visit *v;
		const struct cb_protocol_form *f;
		char items[512], inst[16], *tok, *next;
		unsigned instance;

		if (cb_record_resolve(proto, sv->visit, sv->form, &v, &f,
				      &instance, &err))
			die("%s", err.msg);
		cb_record_instance_text(instance, inst);
		if (cb_event_set_origin(&ev, d->id, d->site, d->user, &err) ||
		    cb_event_set_target(&ev, subject, CB_KIND_FORM_SAVE,
					v->code, f->code, inst, &err) ||
		    cb_event_set_reason(&ev, "", &err))
			die("%s", err.msg);
		snprintf(items, sizeof(items), "%s", sv->items);
		for (tok = items; tok && *tok; tok = next) {
			char *eq;

			next = strchr(tok, ' ');
			if (next)
				*next++ = '\0';
			eq = strchr(tok, '=');
			if (!eq)
				die("bad item text %s", tok);
			*eq = '\0';
			if (cb_event_add_change(&ev, tok, eq + 1, NULL, 0,
						&err))
				die("%s", err.msg);
		}
	}
	emit(d, s->m, &ev, into);
	memcpy(id, ev.id, sizeof(ev.id));
	cb_event_release(&ev);
	s->step++;
}

/* The device's next event into its batch: one made before the run, or
 * a new one. */
static void sim_next(struct simdev *s)
{
	ids_reserve(s, 1);
	if (s->made_next < s->made.n) {
		events_add(&s->batch, s->made.json[s->made_next]);
		s->made.json[s->made_next] = NULL; /* the batch's now */
		memcpy(s->ids[s->nids + s->nbatch_ids++],
		       s->made_ids[s->made_next], CB_EVENT_ID_HEX + 1);
		s->made_next++;
		return;
	}
	sim_make(s, &s->batch, s->ids[s->nids + s->nbatch_ids++]);
}

/* Make s->made_want events of device s before the run (a thread's
 * work). */
static void *sim_prepare(void *arg)
{
	struct simdev *s = arg;
	size_t n = s->made_want, i;

	s->made_ids = calloc(n ? n : 1, sizeof(*s->made_ids));
	if (!s->made_ids)
		die("out of memory");
	for (i = 0; i < n; i++)
		sim_make(s, &s->made, s->made_ids[i]);
	return NULL;
}

static void sim_fail(struct simdev *s, const char *what, long st)
{
	if (!s->first_err[0])
		snprintf(s->first_err, sizeof(s->first_err),
			 "%s: HTTP %ld: %.120s", what, st,
			 cb_buf_len(&s->h.reply) ? cb_buf_str(&s->h.reply)
						 : "no answer");
}

/* Push the batch (made when there is none waiting); its latency. */
static void sim_push(struct simdev *s)
{
	struct events *l = &s->batch;
	char *body;
	size_t i, pos;
	cJSON *reply, *acc, *dup;
	double t0;
	long st;

	while (l->n < DEV_BATCH)
		sim_next(s);
	body = malloc(l->bytes + l->n + 64);
	if (!body)
		die("out of memory");
	pos = (size_t)snprintf(body, 16, "{\"events\":[");
	for (i = 0; i < l->n; i++) {
		if (i)
			body[pos++] = ',';
		memcpy(body + pos, l->json[i], l->len[i]);
		pos += l->len[i];
	}
	memcpy(body + pos, "]}", 3);
	pos += 2;
	t0 = now_ms();
	st = http_do(&s->h, "POST", "/v1/sync/push", body, pos, s->d.id,
		     s->d.kp.sk);
	dlist_add(&s->lat, &s->nlat, &s->caplat, now_ms() - t0);
	free(body);
	s->pushes++;
	reply = st == 200 ? cJSON_ParseWithLength(cb_buf_str(&s->h.reply),
						  cb_buf_len(&s->h.reply))
			  : NULL;
	acc = reply ? cJSON_GetObjectItem(reply, "accepted") : NULL;
	dup = reply ? cJSON_GetObjectItem(reply, "duplicate") : NULL;
	if (!cJSON_IsNumber(acc) ||
	    acc->valueint + (cJSON_IsNumber(dup) ? dup->valueint : 0) !=
		(int)l->n) {
		/* kept: sent again at the next turn */
		s->push_err++;
		sim_fail(s, "push", st);
		cJSON_Delete(reply);
		return;
	}
	s->acked += acc->valueint;
	if (cJSON_IsNumber(dup))
		s->dups += dup->valueint;
	cJSON_Delete(reply);
	s->nids += s->nbatch_ids;
	s->nbatch_ids = 0;
	events_free(l);
}

/*
 * A pull page's events counted and its cursor and "more" read without
 * building its tree: the load's 200 devices pull fifty times what they
 * push, and parsing every page into a cJSON tree took this process most
 * of a core (malloc and free of every value), taken from the server it
 * measures. The page's shape is checked (an array of objects, strings
 * and nesting closed); the devices' final pull, whose ids are compared
 * with what was acknowledged, parses each page in full. Events on the
 * page, or -1 if it is not one.
 */
static long page_scan(const char *p, size_t n, char *next, size_t cap,
		      int *more)
{
	static const char head[] = "{\"events\":[";
	const char *end = p + n, *q, *v;
	long count = 0;
	int depth = 0, in_str = 0;
	size_t len;

	if (n < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1))
		return -1;
	for (q = p + sizeof(head) - 1; q < end; q++) {
		if (in_str) {
			if (*q == '\\')
				q++;
			else if (*q == '"')
				in_str = 0;
			continue;
		}
		if (*q == '"')
			in_str = 1;
		else if (*q == '{' || *q == '[') {
			if (depth++ == 0 && *q == '{')
				count++;
		} else if (*q == '}' || *q == ']') {
			if (depth-- == 0)
				break; /* the array's own ']' */
		}
	}
	if (q >= end || *q != ']' || in_str)
		return -1;
	v = strstr(q, ",\"next\":\"");
	if (!v)
		return -1;
	v += 9;
	len = strspn(v, "0123456789");
	if (!len || len >= cap || v[len] != '"')
		return -1;
	if (strstr(v, ",\"more\":true"))
		*more = 1;
	else if (strstr(v, ",\"more\":false"))
		*more = 0;
	else
		return -1;
	memcpy(next, v, len);
	next[len] = '\0';
	return count;
}

/*
 * Pull from the cursor until the server has no more; with `ids`, keep
 * the ids pulled (each page parsed in full). Events pulled, or -1 on an
 * error.
 */
static long sim_pull(struct simdev *s, struct cb_buf *ids)
{
	long got = 0;
	int more = 1;

	while (more) {
		char path[96];
		cJSON *reply, *evs, *next, *mo, *e;
		struct cb_err err;
		double t0 = now_ms();
		long st;

		snprintf(path, sizeof(path), "/v1/sync/pull?since=%s",
			 s->cursor);
		st = http_do(&s->h, "GET", path, NULL, 0, s->d.id, s->d.kp.sk);
		dlist_add(&s->plat, &s->nplat, &s->capplat, now_ms() - t0);
		s->pulls++;
		if (!ids) {
			long k = st == 200 ? page_scan(cb_buf_str(&s->h.reply),
						       cb_buf_len(&s->h.reply),
						       s->cursor,
						       sizeof(s->cursor), &more)
					   : -1;

			if (k < 0) {
				s->pull_err++;
				sim_fail(s, "pull", st);
				return -1;
			}
			got += k;
			continue;
		}
		reply = st == 200
			    ? cJSON_ParseWithLength(cb_buf_str(&s->h.reply),
						    cb_buf_len(&s->h.reply))
			    : NULL;
		evs = reply ? cJSON_GetObjectItem(reply, "events") : NULL;
		next = reply ? cJSON_GetObjectItem(reply, "next") : NULL;
		mo = reply ? cJSON_GetObjectItem(reply, "more") : NULL;
		if (!cJSON_IsArray(evs) || !cJSON_IsString(next) ||
		    !cJSON_IsBool(mo)) {
			s->pull_err++;
			sim_fail(s, "pull", st);
			cJSON_Delete(reply);
			return -1;
		}
		cJSON_ArrayForEach(e, evs)
		{
			const cJSON *id = cJSON_GetObjectItem(e, "id");

			got++;
			if (ids &&
			    (!cJSON_IsString(id) ||
			     strlen(id->valuestring) != CB_EVENT_ID_HEX ||
			     cb_buf_add(ids, id->valuestring,
					CB_EVENT_ID_HEX + 1, &err)))
				die("pull: an event without a good id");
		}
		{
			/* the scan of the load's pulls, checked on every
			 * page of the final one */
			char scur[32];
			int smore = -1;
			long k = page_scan(cb_buf_str(&s->h.reply),
					   cb_buf_len(&s->h.reply), scur,
					   sizeof(scur), &smore);

			if (k != cJSON_GetArraySize(evs) ||
			    strcmp(scur, next->valuestring) ||
			    smore != cJSON_IsTrue(mo))
				die("pull: the page scan counted %ld events "
				    "(cursor %s), the parse %d (cursor %s)",
				    k, k < 0 ? "-" : scur,
				    cJSON_GetArraySize(evs), next->valuestring);
		}
		snprintf(s->cursor, sizeof(s->cursor), "%s", next->valuestring);
		more = cJSON_IsTrue(mo);
		cJSON_Delete(reply);
	}
	s->pulled += got;
	return got;
}

static void sim_wait(struct simdev *s)
{
	long ms = (long)(rand_r(&s->seed) % (DEV_GAP_MS + 1));
	double left = s->t_end - now_ms();

	if (left <= 0)
		return;
	sleep_ms(ms < left ? ms : (long)left + 1);
}

static void *sim_run(void *arg)
{
	struct simdev *s = arg;

	while (now_ms() < s->t_end) {
		sim_wait(s);
		if (now_ms() >= s->t_end)
			break;
		sim_push(s);
		sim_wait(s);
		if (now_ms() >= s->t_end)
			break;
		sim_pull(s, NULL);
	}
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, CB_EVENT_ID_HEX);
}

static double pct(double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (long)st.st_size;
}

/*
 * The server's own time for each request of `path` it logged between
 * byte `from` and `to` of its log (the request lines' "ms": from the
 * request's headers read to its answer queued), into *v.
 */
static void server_ms(const char *log, long from, long to, const char *path,
		      double **v, size_t *n, size_t *cap)
{
	FILE *f = fopen(log, "r");
	char line[2048];

	if (!f)
		die("%s: %s", log, strerror(errno));
	if (fseek(f, from, SEEK_SET))
		die("%s: %s", log, strerror(errno));
	while (ftell(f) < to && fgets(line, sizeof(line), f)) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *msg = cJSON_GetObjectItem(o, "msg");
		const cJSON *pa = cJSON_GetObjectItem(o, "path");
		const cJSON *ms = cJSON_GetObjectItem(o, "ms");

		if (cJSON_IsString(msg) &&
		    !strcmp(msg->valuestring, "request") &&
		    cJSON_IsString(pa) && !strcmp(pa->valuestring, path) &&
		    cJSON_IsString(ms))
			dlist_add(v, n, cap, strtod(ms->valuestring, NULL));
		cJSON_Delete(o);
	}
	fclose(f);
}

/* A member of a server log line (its values are strings), as a number;
 * 0 when missing. */
static double log_number(const cJSON *o, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, name));

	return v ? strtod(v, NULL) : 0;
}

/*
 * The writer's account the server logged when it stopped (the last
 * "writer" line of its log: cmd_serve.c), printed beside the run's
 * length: how busy the single writer was, which every push waits for.
 */
static void print_writer(const char *log, double wall_ms)
{
	FILE *f = fopen(log, "r");
	char line[2048], last[2048] = "";
	double busy, commit, groups;
	cJSON *o;

	if (!f)
		die("%s: %s", log, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\"msg\":\"writer\""))
			memcpy(last, line, sizeof(last));
	fclose(f);
	o = cJSON_Parse(last);
	if (!o) {
		printf("  %-44s %10s\n", "the writer's account", "not logged");
		return;
	}
	busy = log_number(o, "busy_us") / 1e3;
	commit = log_number(o, "commit_us") / 1e3;
	groups = log_number(o, "groups");
	printf("  %-44s %10.0f ms, %.0f%% of the run\n",
	       "the single writer busy (its log)", busy,
	       100.0 * busy / wall_ms);
	printf("  %-44s %10.0f ms, %.0f%% of its busy time\n",
	       "  of which committing (fsync included)", commit,
	       busy > 0 ? 100.0 * commit / busy : 0);
	printf("  %-44s %10.0f in %.0f groups (%.2f a group)\n", "  pushes",
	       log_number(o, "pushes"), groups,
	       groups > 0 ? log_number(o, "pushes") / groups : 0);
	cJSON_Delete(o);
}

static void part_devices(long seconds)
{
	struct simdev *sd = calloc(DEVICES, sizeof(*sd));
	pthread_t *th = calloc(DEVICES, sizeof(*th));
	char dir[4300], out[4300], token[256], user[32], site[8], slog[4300];
	double *lat, *plat, t0, t1, cpu0, cpu1, setup0, load0, *sms = NULL;
	size_t nlat = 0, nplat = 0, nacked = 0, npulled, i, missing = 0;
	size_t nsms = 0, capsms = 0;
	long log0, log1;
	long pushes = 0, push_err = 0, pulls = 0, pull_err = 0, pulled = 0;
	long dups = 0, unacked = 0, resent_failed = 0;
	struct rusage ru0, ru1;
	struct server srv;
	struct cb_buf all;
	char(*acked)[CB_EVENT_ID_HEX + 1];
	char *pulled_ids;
	int k;

	if (!sd || !th)
		die("out of memory");
	setup0 = now_ms();
	path_join(dir, sizeof(dir), tmp, "devices");
	{
		const char *init[] = {
		    cbd,	  "init", where_opt(), where_arg(dir),
		    "--protocol", PROTO,  NULL};

		must_run(init, NULL);
	}
	for (k = 1; k <= DEV_SITES; k++) {
		char name[32];
		const char *add[] = {cbd,	  "site",	  "add",
				     where_opt(), where_arg(dir), site,
				     "--name",	  name,		  NULL};

		snprintf(site, sizeof(site), "S%02d", k);
		snprintf(name, sizeof(name), "Site %s", site);
		must_run(add, NULL);
	}
	path_join(out, sizeof(out), tmp, "token.out");
	server_start(&srv, dir, NULL);
	for (k = 0; k < DEVICES; k++) {
		const char *add[] = {cbd,	    "user",	    "add",
				     where_opt(),   where_arg(dir), user,
				     "--full-name", "Bench device", "--role",
				     "coordinator", "--site",	    site,
				     NULL};
		const char *tok[] = {
		    cbd,      "token", "create", where_opt(), where_arg(dir),
		    "--user", user,    NULL};

		snprintf(user, sizeof(user), "sim%03d", k + 1);
		snprintf(site, sizeof(site), "S%02d", k % DEV_SITES + 1);
		must_run(add, NULL);
		must_run(tok, out);
		read_line(out, token, sizeof(token));
		http_open(&sd[k].h, srv.url);
		device_register(&sd[k].h, &sd[k].d, token, user);
		sd[k].seed = (unsigned)k * 2654435761u + 1;
		sd[k].subject = 1;
		snprintf(sd[k].cursor, sizeof(sd[k].cursor), "0");
	}
	printf("bench_server: part devices: store %s; %d devices of %d "
	       "sites registered in %.1f s; %ld s of pushes of %d events "
	       "and pulls, %d-%d ms apart; casebookd serve --threads %s\n",
	       store_url ? "postgresql" : "sqlite", DEVICES, DEV_SITES,
	       (now_ms() - setup0) / 1e3, seconds, DEV_BATCH, 0, DEV_GAP_MS,
	       serve_threads);
	fflush(stdout);
	/* Each device's events, checked and signed as a laptop does when
	 * they are entered, are made before the run: in the run a device
	 * only syncs (and makes more only if it runs out). */
	{
		double m0 = now_ms();
		size_t total = 0;

		for (k = 0; k < DEVICES; k++) {
			sd[k].made_want = (size_t)seconds * DEV_MADE_PER_S;
			if (pthread_create(&th[k], NULL, sim_prepare, &sd[k]))
				die("pthread_create: %s", strerror(errno));
		}
		for (k = 0; k < DEVICES; k++) {
			pthread_join(th[k], NULL);
			total += sd[k].made.n;
			/* The server closes a connection left idle past its
			 * request deadline (daemon.h): each device starts the
			 * run on a new one, as a laptop's sync does. */
			http_close(&sd[k].h);
			http_open(&sd[k].h, srv.url);
		}
		printf("bench_server: %zu events made (checked and signed) "
		       "before the run in %.1f s\n",
		       total, (now_ms() - m0) / 1e3);
		fflush(stdout);
	}
	load0 = loadavg();
	getrusage(RUSAGE_SELF, &ru0);
	cpu0 = proc_cpu_ms(srv.pid);
	path_join(slog, sizeof(slog), tmp, "server.log");
	log0 = file_size(slog);
	t0 = now_ms();
	for (k = 0; k < DEVICES; k++) {
		sd[k].t_end = t0 + (double)seconds * 1e3;
		if (pthread_create(&th[k], NULL, sim_run, &sd[k]))
			die("pthread_create: %s", strerror(errno));
	}
	for (k = 0; k < DEVICES; k++)
		pthread_join(th[k], NULL);
	t1 = now_ms();
	cpu1 = proc_cpu_ms(srv.pid);
	getrusage(RUSAGE_SELF, &ru1);
	log1 = file_size(slog);
	/* A push whose answer was lost (a request the HTTP library sent
	 * again on a new connection after the first was taken is a replay,
	 * 401) may be stored: each device sends what it holds unacknowledged
	 * once more, as a laptop's next sync does, before the count. Its
	 * latency is not one of the run's. */
	for (k = 0; k < DEVICES; k++)
		if (sd[k].batch.n) {
			size_t nl = sd[k].nlat;
			long pe = sd[k].push_err, pu = sd[k].pushes;

			sim_push(&sd[k]);
			sd[k].nlat = nl;
			sd[k].pushes = pu;
			if (sd[k].push_err != pe) {
				sd[k].push_err = pe;
				resent_failed++;
			}
		}

	/* every acknowledged event is on the server, and nothing else */
	cb_buf_init(&all, (size_t)1 << 30);
	for (k = 0; k < DEV_SITES; k++) {
		snprintf(sd[k].cursor, sizeof(sd[k].cursor), "0");
		if (sim_pull(&sd[k], &all) < 0)
			die("the final pull failed: %s", sd[k].first_err);
	}
	for (k = 0; k < DEVICES; k++)
		nacked += sd[k].nids;
	acked = malloc((nacked ? nacked : 1) * sizeof(*acked));
	if (!acked)
		die("out of memory");
	nacked = 0;
	for (k = 0; k < DEVICES; k++) {
		memcpy(acked + nacked, sd[k].ids, sd[k].nids * sizeof(*acked));
		nacked += sd[k].nids;
	}
	pulled_ids = cb_buf_take(&all, &npulled);
	if (!pulled_ids)
		die("out of memory");
	npulled /= CB_EVENT_ID_HEX + 1;
	qsort(pulled_ids, npulled, CB_EVENT_ID_HEX + 1, cmp_id);
	for (i = 0; i < nacked; i++)
		if (!bsearch(acked[i], pulled_ids, npulled, CB_EVENT_ID_HEX + 1,
			     cmp_id))
			missing++;

	for (k = 0; k < DEVICES; k++) {
		nlat += sd[k].nlat;
		nplat += sd[k].nplat;
	}
	lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
	plat = malloc((nplat ? nplat : 1) * sizeof(*plat));
	if (!lat || !plat)
		die("out of memory");
	nlat = nplat = 0;
	for (k = 0; k < DEVICES; k++) {
		memcpy(lat + nlat, sd[k].lat, sd[k].nlat * sizeof(*lat));
		nlat += sd[k].nlat;
		memcpy(plat + nplat, sd[k].plat, sd[k].nplat * sizeof(*plat));
		nplat += sd[k].nplat;
		pushes += sd[k].pushes;
		push_err += sd[k].push_err;
		pulls += sd[k].pulls;
		pull_err += sd[k].pull_err;
		pulled += sd[k].pulled;
		dups += sd[k].dups;
		unacked += (long)sd[k].batch.n;
	}
	{
		double wall = t1 - t0;
		double self =
		    (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			     ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) *
			1e3 +
		    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			     ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) /
			1e3;

		printf("  %-44s %10.1f s\n", "run", wall / 1e3);
		printf("  %-44s %10zu\n", "events acknowledged", nacked);
		printf("  %-44s %10.0f\n", "events/s pushed",
		       (double)nacked / (wall / 1e3));
		printf("  %-44s %10ld\n", "pushes", pushes);
		printf("  %-44s %10.0f ms\n", "push latency p50",
		       pct(lat, nlat, 0.50));
		printf("  %-44s %10.0f ms  target < 200 (at most 500)\n",
		       "push latency p99", pct(lat, nlat, 0.99));
		printf("  %-44s %10.0f ms\n", "push latency max",
		       nlat ? lat[nlat - 1] : 0.0);
		printf("  %-44s %10ld\n", "pull requests", pulls);
		printf("  %-44s %10.0f\n", "events/s pulled by the devices",
		       (double)pulled / (wall / 1e3));
		printf("  %-44s %10.0f ms\n", "pull request latency p50",
		       pct(plat, nplat, 0.50));
		printf("  %-44s %10.0f ms\n", "pull request latency p99",
		       pct(plat, nplat, 0.99));
		/* What of the latency is the server's own work, and what
		 * waiting for a thread of it or for a processor that the
		 * devices here share with it. */
		server_ms(slog, log0, log1, "/v1/sync/push", &sms, &nsms,
			  &capsms);
		printf("  %-44s %6.0f / %.0f ms (%zu logged)\n",
		       "server's time per push p50 / p99", pct(sms, nsms, 0.5),
		       pct(sms, nsms, 0.99), nsms);
		nsms = 0;
		server_ms(slog, log0, log1, "/v1/sync/pull", &sms, &nsms,
			  &capsms);
		printf("  %-44s %6.0f / %.0f ms (%zu logged)\n",
		       "server's time per pull p50 / p99", pct(sms, nsms, 0.5),
		       pct(sms, nsms, 0.99), nsms);
		free(sms);
		printf("  %-44s %10ld\n", "push errors (sent again)", push_err);
		printf("  %-44s %10ld\n", "pull errors", pull_err);
		printf("  %-44s %10ld\n", "events of failed pushes unsent",
		       unacked);
		printf("  %-44s %10ld\n",
		       "devices whose push sent again at the end failed",
		       resent_failed);
		printf("  %-44s %10ld\n", "duplicates (a push sent again)",
		       dups);
		printf("  %-44s %10zu of %zu\n",
		       "acknowledged events missing on the server", missing,
		       nacked);
		printf("  %-44s %10zu\n", "events on the server", npulled);
		printf("  %-44s %10.1f MiB  target < 64\n",
		       "server peak memory", server_hwm_mib(&srv));
		printf("  %-44s %10.2f of %ld\n", "server cores busy",
		       (cpu1 - cpu0) / wall, sysconf(_SC_NPROCESSORS_ONLN));
		printf("  %-44s %10.1f us\n",
		       "server CPU per event pushed or pulled",
		       (cpu1 - cpu0) * 1e3 / (double)(nacked + (size_t)pulled));
		printf("  %-44s %10.2f\n", "devices' cores busy (this process)",
		       self / wall);
		printf("  %-44s %5.1f at the start, %.1f at the end\n",
		       "load average", load0, loadavg());
		for (k = 0; k < DEVICES; k++)
			if (sd[k].first_err[0]) {
				printf("  first error (device %d): %s\n", k,
				       sd[k].first_err);
				break;
			}
	}
	server_stop(&srv);
	print_writer(slog, t1 - t0);
	if (missing || npulled != nacked)
		die("devices: %zu acknowledged events missing, %zu on the "
		    "server for %zu acknowledged",
		    missing, npulled, nacked);
	for (k = 0; k < DEVICES; k++) {
		http_close(&sd[k].h);
		events_free(&sd[k].batch);
		events_free(&sd[k].made);
		free(sd[k].made_ids);
		cb_merge_free(sd[k].m);
		free(sd[k].ids);
		free(sd[k].lat);
		free(sd[k].plat);
		cb_sign_keypair_release(&sd[k].d.kp);
	}
	free(pulled_ids);
	free(acked);
	free(lat);
	free(plat);
	free(sd);
	free(th);
	rm_rf(dir);
}

/* ---- part "ingest" ------------------------------------------------------- */

#define INGEST_PROCS_MAX 4
#define INGEST_STREAMS_MAX 32

struct stream {
	struct device d;
	struct http h;
	struct events l;
	double rate;
};

static void *stream_run(void *arg)
{
	struct stream *st = arg;

	st->rate = push_all(&st->h, &st->d, &st->l);
	return NULL;
}

/*
 * `streams` devices of site S01 on a new store, each pushing `npush`
 * events in batches of BATCH, all at once; stream k through the
 * (k mod procs)-th of `procs` casebookd serve.
 */
static void part_ingest(long npush, int streams, int procs)
{
	struct server srv[INGEST_PROCS_MAX];
	pthread_t th[INGEST_STREAMS_MAX];
	struct stream *st = calloc((size_t)streams, sizeof(*st));
	char dir[4300], out[4300], token[256], user[32];
	double t0, t1, cpu0 = 0, cpu1 = 0, load0, lo = 0, hi = 0;
	size_t total = 0;
	int k;

	if (!st)
		die("out of memory");
	if (procs > 1 && !store_url)
		die("ingest: %d processes need CASEBOOK_BENCH_STORE (a data "
		    "directory is served by one)",
		    procs);
	path_join(dir, sizeof(dir), tmp, "ingest");
	path_join(out, sizeof(out), tmp, "token.out");
	{
		const char *init[] = {
		    cbd,	  "init", where_opt(), where_arg(dir),
		    "--protocol", PROTO,  NULL};
		const char *add[] = {cbd,	  "site",	  "add",
				     where_opt(), where_arg(dir), "S01",
				     "--name",	  "Site S01",	  NULL};

		must_run(init, NULL);
		must_run(add, NULL);
	}
	for (k = 0; k < procs; k++)
		server_start(&srv[k], dir, NULL);
	for (k = 0; k < streams; k++) {
		const char *add[] = {cbd,	    "user",	    "add",
				     where_opt(),   where_arg(dir), user,
				     "--full-name", "Bench pusher", "--role",
				     "coordinator", "--site",	    "S01",
				     NULL};
		const char *tok[] = {
		    cbd,      "token", "create", where_opt(), where_arg(dir),
		    "--user", user,    NULL};

		snprintf(user, sizeof(user), "push%02d", k + 1);
		must_run(add, NULL);
		must_run(tok, out);
		read_line(out, token, sizeof(token));
		http_open(&st[k].h, srv[k % procs].url);
		device_register(&st[k].h, &st[k].d, token, user);
		make_events(&st[k].d, (size_t)npush, &st[k].l);
		total += st[k].l.n;
	}
	printf("bench_server: part ingest: store %s; %d stream%s of %zu "
	       "events each in batches of %d, through %d casebookd serve "
	       "--threads %s\n",
	       store_url ? "postgresql" : "sqlite", streams,
	       streams > 1 ? "s" : "", st[0].l.n, BATCH, procs, serve_threads);
	fflush(stdout);
	load0 = loadavg();
	for (k = 0; k < procs; k++)
		cpu0 += proc_cpu_ms(srv[k].pid);
	t0 = now_ms();
	for (k = 0; k < streams; k++)
		if (pthread_create(&th[k], NULL, stream_run, &st[k]))
			die("pthread_create: %s", strerror(errno));
	for (k = 0; k < streams; k++)
		pthread_join(th[k], NULL);
	t1 = now_ms();
	for (k = 0; k < procs; k++)
		cpu1 += proc_cpu_ms(srv[k].pid);
	for (k = 0; k < streams; k++) {
		if (!k || st[k].rate < lo)
			lo = st[k].rate;
		if (!k || st[k].rate > hi)
			hi = st[k].rate;
	}
	printf("  %-44s %10.0f\n", "events/s pushed, all streams",
	       (double)total / ((t1 - t0) / 1e3));
	printf("  %-44s %10zu in %.2f s\n", "events pushed", total,
	       (t1 - t0) / 1e3);
	printf("  %-44s %10.0f .. %.0f\n", "events/s of one stream (min..max)",
	       lo, hi);
	printf("  %-44s %10.2f of %ld\n", "servers' cores busy",
	       (cpu1 - cpu0) / (t1 - t0), sysconf(_SC_NPROCESSORS_ONLN));
	printf("  %-44s %10.1f us\n", "servers' CPU per event",
	       (cpu1 - cpu0) * 1e3 / (double)total);
	printf("  %-44s %5.1f at the start, %.1f at the end\n", "load average",
	       load0, loadavg());
	for (k = 0; k < procs; k++)
		server_stop(&srv[k]);
	for (k = 0; k < streams; k++) {
		http_close(&st[k].h);
		events_free(&st[k].l);
		cb_sign_keypair_release(&st[k].d.kp);
	}
	free(st);
	rm_rf(dir);
}

/* ---- main ---------------------------------------------------------------- */

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
	printf("bench_server: %s %s %s, %ld cores, %s; load average %.1f\n",
	       u.sysname, u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       model, loadavg());
}

int main(void)
{
	const char *bin = getenv("CASEBOOK_BIN");
	const char *tdir = getenv("TMPDIR");
	const char *cdir = getenv("CASEBOOK_BENCH_CACHE");
	const char *parts = getenv("CASEBOOK_BENCH_PARTS");
	int runs = (int)env_long("CASEBOOK_BENCH_RUNS", 3, 1, RUNS_MAX);
	long seconds = env_long("CASEBOOK_BENCH_SECONDS", 60, 1, 3600);
	long npush =
	    env_long("CASEBOOK_BENCH_PUSH", 10000, BATCH,
		     (long)CB_SUBJECT_SEQ_MAX * (SAVES_PER_SUBJECT + 1));
	struct cb_err err;

	if (!bin || !*bin)
		bin = "bin";
	path_join(cbd, sizeof(cbd), bin, "casebookd");
	path_join(cb, sizeof(cb), bin, "casebook");
	if (access(cbd, X_OK) || access(cb, X_OK) || access(PROTO, R_OK) ||
	    access("scripts/gen-study", X_OK))
		die("run from the top of the tree with CASEBOOK_BIN set "
		    "(make bench does both)");
	snprintf(cache, sizeof(cache), "%s",
		 cdir && *cdir ? cdir : "build/bench-cache");
	if (mkdir(cache, 0700) && errno != EEXIST)
		die("mkdir %s: %s", cache, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s/cbbsrv.XXXXXX",
		 tdir && *tdir ? tdir : "/tmp");
	if (!mkdtemp(tmp)) {
		tmp[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	if (cb_clock_init(&err) || cb_crypto_init(&err) ||
	    cb_protocol_load_file(PROTO, &proto, NULL, &err))
		die("%s", err.msg);
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		die("libcurl cannot start");
	setenv("CASEBOOK_PASSPHRASE", PASSPHRASE, 1);
	setenv("CASEBOOK_KDF_FAST", "1", 1);
	unsetenv("CASEBOOK_USER");
	unsetenv("CASEBOOK_HOME");
	unsetenv("CASEBOOK_TEST_HOOKS");
	snprintf(serve_threads, sizeof(serve_threads), "%ld",
		 env_long("CASEBOOK_BENCH_THREADS", 4, 1, 64));
	store_url = getenv("CASEBOOK_BENCH_STORE");
	if (store_url && !*store_url)
		store_url = NULL;
	/* A store is made once: one part of those that can use it. */
	if (store_url &&
	    (!parts || (strcmp(parts, "ingest") && strcmp(parts, "devices"))))
		die("CASEBOOK_BENCH_STORE: CASEBOOK_BENCH_PARTS must be "
		    "\"ingest\" or \"devices\"");
	machine();
	fflush(stdout);

	if (!parts || !*parts || strstr(parts, "scale"))
		part_scale(runs, npush);
	if (!parts || !*parts || strstr(parts, "laptops"))
		part_laptops(runs);
	if (!parts || !*parts || strstr(parts, "devices"))
		part_devices(seconds);
	if (parts && strstr(parts, "ingest"))
		part_ingest(npush,
			    (int)env_long("CASEBOOK_BENCH_STREAMS", 1, 1,
					  INGEST_STREAMS_MAX),
			    (int)env_long("CASEBOOK_BENCH_PROCS", 1, 1,
					  INGEST_PROCS_MAX));
	printf("bench_server: load average at the end %.1f\n", loadavg());
	cb_protocol_free(proto);
	curl_global_cleanup();
	cleanup();
	return 0;
}
