/*
 * bench_store.c - what encryption at rest costs when saving (issue #3,
 * "Performance"): 10,000 form.save events, built and signed as `casebook
 * form set` builds them, are saved through the encrypted local store
 * (client/store.h store_add_event: keyed subject hash, row tag,
 * XChaCha20-Poly1305 body) and, in the same run, as the same rows into a
 * plain SQLite file with the same schema and the same pragmas (WAL,
 * synchronous=FULL, secure_delete, ...) and the same statements per event,
 * but the subject id, body and no tag in clear.
 *
 * Two transaction sizes: 100 events per transaction (a sync pull) and one
 * per event (interactive saves, each fsynced). Each is run 5 times,
 * alternating encrypted and plain on fresh files; the medians and their
 * ratio (target: at most 1.5) are printed with the machine. Nothing is
 * asserted: a benchmark reports.
 *
 *   CASEBOOK_BENCH_EVENTS   events per run (default 10000)
 *   CASEBOOK_BENCH_RUNS     runs per mode (default 5)
 *   TMPDIR                  where the files go (default /tmp)
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../../client/store.h"
#include "err.h"
#include "event.h"
#include "hlc.h"

#define SUBJECTS 100
#define RUNS_MAX 21
#define EVENTS_MAX 1000000

struct ev_row {
	char id[CB_EVENT_ID_HEX + 1];
	char subject[32];
	char *json;
	size_t len;
};

static const char proto_json[] =
    "{\"format\":\"casebook-protocol/1\",\"id\":\"BENCH\",\"version\":\"1\","
    "\"forms\":[{\"code\":\"AE\",\"label\":\"AE\",\"repeating\":true,"
    "\"items\":[{\"code\":\"AETERM\",\"label\":\"t\",\"type\":\"text\"}]}],"
    "\"visits\":[{\"code\":\"LOG\",\"label\":\"Log\",\"forms\":[\"AE\"]}]}";

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

static void die(const char *what, const struct cb_err *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static void rm_store(const char *dir)
{
	static const char *const names[] = {
	    "casebook.db", "casebook.db-wal", "casebook.db-shm",
	    "plain.db",	   "plain.db-wal",    "plain.db-shm"};
	char path[STORE_PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static struct store *new_store(const char *dir)
{
	struct store_create_params p = {0};
	struct store *st = NULL;
	struct cb_err err;

	rm_store(dir);
	p.home = dir;
	p.site = "KR01";
	p.device_index = 1;
	p.protocol = proto_json;
	p.protocol_len = strlen(proto_json);
	p.user = "bench";
	p.role = CB_ROLE_COORDINATOR;
	p.pass = "bench-passphrase";
	p.pass_len = strlen(p.pass);
	if (store_create(&p, &st, &err))
		die("creating the store", &err);
	return st;
}

/*
 * The events: subject s gets adverse-event instances 1, 2, ... with 1 to
 * 10 items each, as `form set SUBJECT LOG AE#N ...` would save them,
 * stamped by one clock and signed with the store's device key.
 */
static struct ev_row *make_events(struct store *st, int n, size_t *bytes)
{
	static const char *const items[] = {
	    "AETERM", "AESTDTC", "AEONGO",  "AETOXGR", "AESEV",
	    "AESER",  "AEREL",	 "AERELPR", "AEACN",   "AEOUT"};
	static const char *const terms[] = {
	    "Knee effusion", "무릎 부종", "Injection site pain",
	    "Headache after liposuction", "Arthralgia"};
	struct ev_row *rows = calloc((size_t)n, sizeof(*rows));
	struct cb_hlc clock;
	struct cb_err err;
	int i;

	if (!rows)
		die("out of memory", NULL);
	cb_hlc_init(&clock, 0);
	*bytes = 0;
	for (i = 0; i < n; i++) {
		struct cb_event ev;
		char inst[16], val[64];
		int k = i / SUBJECTS + 1, s = i % SUBJECTS + 1, j, rc;
		int nitems = i % 10 + 1;

		snprintf(rows[i].subject, sizeof(rows[i].subject),
			 "KR01-01%03d", s);
		snprintf(inst, sizeof(inst), "%d", k);
		cb_event_init(&ev);
		rc = cb_event_stamp(&ev, &clock, NULL, &err);
		if (!rc)
			rc = cb_event_set_origin(&ev, store_device_id(st),
						 store_site(st), store_user(st),
						 &err);
		if (!rc)
			rc = cb_event_set_target(&ev, rows[i].subject,
						 CB_KIND_FORM_SAVE, "LOG", "AE",
						 inst, &err);
		if (!rc)
			rc = cb_event_set_reason(&ev, "", &err);
		for (j = 0; !rc && j < nitems; j++) {
			const char *v = val;

			switch (j) {
			case 0:
				v = terms[i % 5];
				break;
			case 1:
				snprintf(val, sizeof(val), "2024-%02d-%02d",
					 i % 12 + 1, i % 28 + 1);
				break;
			case 3:
				snprintf(val, sizeof(val), "%d", i % 5 + 1);
				break;
			default:
				v = (i + j) % 2 ? "Y" : "N";
			}
			rc = cb_event_add_change(&ev, items[j], v, NULL, 0,
						 &err);
		}
		if (!rc)
			rc = cb_event_validate(&ev, &err);
		if (!rc)
			rc = store_sign_event(st, &ev, &err);
		if (!rc)
			rc = cb_event_print(&ev, &rows[i].json, &err);
		if (rc)
			die("building an event", &err);
		memcpy(rows[i].id, ev.id, sizeof(rows[i].id));
		rows[i].len = strlen(rows[i].json);
		*bytes += rows[i].len;
		cb_event_release(&ev);
	}
	return rows;
}

/* Save every row through the encrypted store, `batch` per transaction. */
static double run_store(const char *dir, const struct ev_row *rows, int n,
			int batch)
{
	struct store *st = new_store(dir);
	struct cb_err err;
	double t0, t1;
	int i;

	t0 = now_ms();
	for (i = 0; i < n; i++) {
		if (i % batch == 0 && store_begin(st, &err))
			die("begin", &err);
		if (store_add_event(st, rows[i].id, rows[i].subject,
				    rows[i].json, rows[i].len, 0, NULL, &err))
			die("saving an event", &err);
		if ((i + 1) % batch == 0 || i + 1 == n)
			if (store_commit(st, &err))
				die("commit", &err);
	}
	t1 = now_ms();
	store_close(st);
	return t1 - t0;
}

/* ---- the same rows into plain SQLite ---------------------------------- */

struct plain {
	sqlite3 *db;
	sqlite3_stmt *by_id, *subj_get, *subj_ins, *max_seq, *ins;
};

static void plain_exec(struct plain *p, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bench_store: plain: %s: %s\n", sql,
			msg ? msg : "");
		exit(1);
	}
}

static sqlite3_stmt *plain_prep(struct plain *p, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v3(p->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_store: plain: %s\n",
			sqlite3_errmsg(p->db));
		exit(1);
	}
	return s;
}

static void plain_open(struct plain *p, const char *dir)
{
	char path[STORE_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/plain.db", dir);
	if (sqlite3_open_v2(path, &p->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		die("opening plain SQLite", NULL);
	sqlite3_busy_timeout(p->db, STORE_BUSY_MS);
	/* The store's pragmas (client/store.c set_pragmas) and schema. */
	plain_exec(p, "PRAGMA trusted_schema = OFF;"
		      "PRAGMA cell_size_check = ON;"
		      "PRAGMA secure_delete = ON;"
		      "PRAGMA temp_store = MEMORY;"
		      "PRAGMA journal_mode = WAL;"
		      "PRAGMA synchronous = FULL;");
	plain_exec(p, "CREATE TABLE subjects(ord INTEGER PRIMARY KEY,"
		      " hash BLOB NOT NULL UNIQUE, sealed BLOB NOT NULL);"
		      "CREATE TABLE events(seq INTEGER PRIMARY KEY,"
		      " id TEXT NOT NULL UNIQUE, subject BLOB NOT NULL,"
		      " synced INTEGER NOT NULL, tag BLOB NOT NULL,"
		      " body BLOB NOT NULL);");
	p->by_id = plain_prep(p, "SELECT seq, subject, synced, tag FROM events"
				 " WHERE id = ?1");
	p->subj_get = plain_prep(p, "SELECT 1 FROM subjects WHERE hash = ?1");
	p->subj_ins =
	    plain_prep(p, "INSERT INTO subjects(hash, sealed) VALUES(?1, ?2)");
	p->max_seq = plain_prep(p, "SELECT coalesce(max(seq), 0) FROM events");
	p->ins = plain_prep(p, "INSERT INTO events(seq, id, subject, synced,"
			       " tag, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
}

static void plain_close(struct plain *p)
{
	sqlite3_finalize(p->by_id);
	sqlite3_finalize(p->subj_get);
	sqlite3_finalize(p->subj_ins);
	sqlite3_finalize(p->max_seq);
	sqlite3_finalize(p->ins);
	sqlite3_close(p->db);
}

static void step_done(struct plain *p, sqlite3_stmt *s)
{
	if (sqlite3_step(s) != SQLITE_DONE) {
		fprintf(stderr, "bench_store: plain: %s\n",
			sqlite3_errmsg(p->db));
		exit(1);
	}
	sqlite3_reset(s);
}

/* The statements insert_event runs, with the subject id and body clear. */
static void plain_add(struct plain *p, const struct ev_row *r)
{
	int64_t seq;
	size_t slen = strlen(r->subject);

	sqlite3_bind_text(p->by_id, 1, r->id, -1, SQLITE_STATIC);
	if (sqlite3_step(p->by_id) != SQLITE_DONE)
		die("plain: duplicate event", NULL);
	sqlite3_reset(p->by_id);
	sqlite3_bind_blob(p->subj_get, 1, r->subject, (int)slen, SQLITE_STATIC);
	if (sqlite3_step(p->subj_get) != SQLITE_ROW) {
		sqlite3_reset(p->subj_get);
		sqlite3_bind_blob(p->subj_ins, 1, r->subject, (int)slen,
				  SQLITE_STATIC);
		sqlite3_bind_blob(p->subj_ins, 2, r->subject, (int)slen,
				  SQLITE_STATIC);
		step_done(p, p->subj_ins);
	}
	sqlite3_reset(p->subj_get);
	if (sqlite3_step(p->max_seq) != SQLITE_ROW)
		die("plain: max seq", NULL);
	seq = sqlite3_column_int64(p->max_seq, 0) + 1;
	sqlite3_reset(p->max_seq);
	sqlite3_bind_int64(p->ins, 1, seq);
	sqlite3_bind_text(p->ins, 2, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(p->ins, 3, r->subject, (int)slen, SQLITE_STATIC);
	sqlite3_bind_int(p->ins, 4, 0);
	sqlite3_bind_zeroblob(p->ins, 5, 0);
	sqlite3_bind_blob(p->ins, 6, r->json, (int)r->len, SQLITE_STATIC);
	step_done(p, p->ins);
}

static double run_plain(const char *dir, const struct ev_row *rows, int n,
			int batch)
{
	struct plain p;
	double t0, t1;
	int i;

	rm_store(dir);
	if (mkdir(dir, 0700) != 0)
		die("mkdir", NULL);
	plain_open(&p, dir);
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		if (i % batch == 0)
			plain_exec(&p, "BEGIN IMMEDIATE");
		plain_add(&p, &rows[i]);
		if ((i + 1) % batch == 0 || i + 1 == n)
			plain_exec(&p, "COMMIT");
	}
	t1 = now_ms();
	plain_close(&p);
	return t1 - t0;
}

static void machine(void)
{
	struct utsname u;
	char line[256], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *c = strchr(line, ':');

			if (!strncmp(line, "model name", 10) && c) {
				snprintf(model, sizeof(model), "%s", c + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	if (uname(&u) == 0)
		printf("machine: %s %s %s, %ld cpus, %s; SQLite %s\n",
		       u.sysname, u.release, u.machine, ncpu, model,
		       sqlite3_libversion());
}

static int env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end || errno || n < lo || n > hi) {
		fprintf(stderr, "bench_store: %s must be %d..%d\n", name, lo,
			hi);
		exit(2);
	}
	return (int)n;
}

int main(void)
{
	static const int batches[] = {100, 1};
	const char *tmp = getenv("TMPDIR");
	char dir[STORE_PATH_MAX];
	double enc[RUNS_MAX], plain[RUNS_MAX], t0, build_ms;
	struct ev_row *rows;
	struct store *st;
	size_t bytes, b;
	int n, runs, i, r;

	n = env_int("CASEBOOK_BENCH_EVENTS", 10000, 1, EVENTS_MAX);
	runs = env_int("CASEBOOK_BENCH_RUNS", 5, 1, RUNS_MAX);
	/* Store creation is not timed; keep its Argon2id cheap. */
	setenv("CASEBOOK_KDF_FAST", "1", 1);
	snprintf(dir, sizeof(dir), "%s/cbbench.%ld", tmp && *tmp ? tmp : "/tmp",
		 (long)getpid());

	machine();
	st = new_store(dir);
	t0 = now_ms();
	rows = make_events(st, n, &bytes);
	build_ms = now_ms() - t0;
	store_close(st);
	printf("bench_store: %d form.save events (JSON %zu bytes on average), "
	       "%d subjects, median of %d runs, files in %s\n",
	       n, bytes / (size_t)n, SUBJECTS, runs, dir);
	printf("  building and signing the events (not timed below): "
	       "%.1f ms\n",
	       build_ms);
	for (b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
		double me, mp;

		for (r = 0; r < runs; r++) {
			/* Alternate which goes first, so neither always
			 * meets a warm or a cold page cache. */
			if (r % 2) {
				plain[r] = run_plain(dir, rows, n, batches[b]);
				enc[r] = run_store(dir, rows, n, batches[b]);
			} else {
				enc[r] = run_store(dir, rows, n, batches[b]);
				plain[r] = run_plain(dir, rows, n, batches[b]);
			}
		}
		me = median(enc, runs);
		mp = median(plain, runs);
		printf("  %3d event%s per transaction:\n", batches[b],
		       batches[b] == 1 ? "" : "s");
		printf("    encrypted store: median %9.1f ms (%7.0f events/s)  "
		       "runs:",
		       me, n / me * 1e3);
		for (r = 0; r < runs; r++)
			printf(" %.0f", enc[r]);
		printf(
		    "\n    plain SQLite:    median %9.1f ms (%7.0f events/s)  "
		    "runs:",
		    mp, n / mp * 1e3);
		for (r = 0; r < runs; r++)
			printf(" %.0f", plain[r]);
		printf("\n    ratio encrypted / plain: %.2f (target <= 1.5)\n",
		       me / mp);
		fflush(stdout);
	}
	rm_store(dir);
	for (i = 0; i < n; i++)
		free(rows[i].json);
	free(rows);
	return 0;
}
