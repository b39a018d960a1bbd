/*
 * bench_export.c - the export and report engines alone (export.h,
 * safety.h) at the sizes issue 12 names: 10,000 subjects with 50,000
 * adverse events, and a CSV export of about 1,000,000 item values.
 * Timings are reported, never asserted.
 *
 * The record comes from a feed made here (subject by subject, as the
 * server's feed hands it out: memory holds one subject), so what is
 * measured is the engines: reading the feed, computing, formatting and
 * writing. tests/bench/b_export.sh measures the whole commands on a
 * real store beside it.
 *
 *   bench_export MODE [SUBJECTS [AES_PER_SUBJECT]]
 *
 * MODE: feed (the feed alone, read and dropped), report (the safety
 * report computed once, then written in each format), csv (the csv
 * export into a new directory under $TMPDIR). It prints the medians of
 * CASEBOOK_BENCH_RUNS runs (default 5), wall and CPU time (on a shared
 * machine the CPU time is the steadier figure), and the process's peak
 * memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "feed.h"
#include "out.h"
#include "outdir.h"
#include "protocol.h"
#include "safety.h"
#include "summary.h"

static const char *const sev[] = {"MILD", "MOD", "SEV"};
static const char *const rel[] = {"NOT", "UNLIKELY", "POSSIBLE", "PROBABLE",
				  "DEFINITE"};
static const char *const terms[] = {
    "Headache",	  "Knee swelling",	 "Nausea",
    "Arthralgia", "Injection site pain", "Fatigue",
    "Back pain",  "Nasopharyngitis",	 "Dizziness",
    "Rash"};

struct gen {
	long subjects, aes;
	/* one subject's strings and items, rebuilt for each */
	char strbuf[64 * 1024];
	size_t used;
	struct cb_feed_item items[512];
	size_t n;
};

static const char *keep(struct gen *g, const char *fmt, long a, long b)
{
	char *p = g->strbuf + g->used;
	int n = snprintf(p, sizeof(g->strbuf) - g->used, fmt, a, b);

	g->used += (size_t)n + 1;
	return p;
}

static const char *keep2(struct gen *g, const char *a, const char *b)
{
	char *p = g->strbuf + g->used;
	size_t na = strlen(a), nb = strlen(b);

	/* a may lie in strbuf already, before p */
	memmove(p, a, na);
	memcpy(p + na, b, nb + 1);
	g->used += na + nb + 1;
	return p;
}

static void item(struct gen *g, const char *visit, const char *form,
		 const char *inst, const char *code, const char *value)
{
	struct cb_feed_item *it = &g->items[g->n++];

	memset(it, 0, sizeof(*it));
	it->visit = visit;
	it->form = form;
	it->instance = inst;
	it->item = code;
	it->value = value;
}

/*
 * Subject i: about 100 item values and `aes` adverse events, handed out
 * as the server's feed does: in byte order of visit, form and item,
 * instances in numeric order.
 */
static void make_subject(struct gen *g, long i, struct cb_summary *s)
{
	static const char *const womac[] = {
	    "F1",  "F10", "F11", "F12", "F13", "F14", "F15", "F16",
	    "F17", "F2",  "F3",	 "F4",	"F5",  "F6",  "F7",  "F8",
	    "F9",  "P1",  "P2",	 "P3",	"P4",  "P5",  "S1",  "S2"};
	static const char *const digits[] = {"0", "1", "2", "3", "4"};
	static const char *const insts[] = {"1",  "2",	"3",  "4",  "5",
					    "6",  "7",	"8",  "9",  "10",
					    "11", "12", "13", "14", "15"};
	long site = i % 10, k, m = 1 + (i / 10) % 27;
	const char *dose, *bl;

	g->used = 0;
	g->n = 0;
	s->subject = (char *)keep(g, "S%02ld-%05ld", site + 1, i / 10 + 1001);
	s->site = (char *)keep(g, "S%02ld", site + 1, 0);
	bl = keep(g, "2025-%02ld-%02ld", 1 + i % 12, m);
	dose = keep(g, "2025-%02ld-%02ld", 1 + i % 12, m + 1);
	s->randomized = (char *)bl;
	s->randno = (char *)keep(g, "R-%ld", i, 0);
	s->kit = (char *)keep(g, "%06ld", 100000 + i, 0);
	s->dosed = (char *)dose;
	s->state = CB_LC_DOSED;
	s->aes = (size_t)g->aes;
	item(g, "BL", "SV", "", "VISDT", bl);
	item(g, "BL", "VAS", "", "VAS", keep(g, "%ld", 40 + i % 60, 0));
	for (k = 0; k < 24; k++)
		item(g, "BL", "WOMAC", "", womac[k], digits[(i + k) % 5]);
	item(g, "INJ", "DOSE", "", "EXDTC", keep2(g, dose, "T10:00"));
	item(g, "INJ", "DOSE", "", "EXKNEE", "L");
	item(g, "INJ", "DOSE", "", "EXLOT", "LOT-1");
	item(g, "INJ", "DOSE", "", "EXVOL", "3.0");
	item(g, "INJ", "DOSE", "", "IMMREACT", "N");
	item(g, "INJ", "DOSE", "", "KITNO", s->kit);
	item(g, "INJ", "SV", "", "VISDT", dose);
	for (k = 0; k < g->aes && k < 15; k++) {
		const char *in = insts[k];
		long x = i * 7 + k * 3;

		item(g, "LOG", "AE", in, "AEACN", "NONE");
		item(g, "LOG", "AE", in, "AEOUT", "RECOVERED");
		item(g, "LOG", "AE", in, "AEREL", rel[x % 5]);
		item(g, "LOG", "AE", in, "AESER", x % 17 ? "N" : "Y");
		item(g, "LOG", "AE", in, "AESEV", sev[x % 3]);
		if (!(x % 17))
			item(g, "LOG", "AE", in, "AESHOSP", "Y");
		item(g, "LOG", "AE", in, "AESTDTC",
		     keep(g, "2025-%02ld-%02ld", 1 + (i + k) % 12, 1 + x % 28));
		item(g, "LOG", "AE", in, "AETERM", terms[x % 10]);
		item(g, "LOG", "AE", in, "AETOXGR",
		     keep(g, "%ld", 1 + x % 3, 0));
	}
	item(g, "M6", "VAS", "", "VAS", keep(g, "%ld", 20 + i % 60, 0));
	for (k = 0; k < 24; k++)
		item(g, "M6", "WOMAC", "", womac[k], digits[(i + 2 * k) % 5]);
	item(g, "SCR", "DM", "", "BRTHYR", keep(g, "%ld", 1950 + i % 30, 0));
	item(g, "SCR", "DM", "", "CONSDT", "2024-12-01");
	item(g, "SCR", "DM", "", "HEIGHT", "165.0");
	item(g, "SCR", "DM", "", "KNEE", "L");
	item(g, "SCR", "DM", "", "SEX", i % 2 ? "F" : "M");
	item(g, "SCR", "DM", "", "WEIGHT", "70.5");
	item(g, "SCR", "ELIG", "", "AGE", keep(g, "%ld", 75 - i % 30, 0));
	item(g, "SCR", "ELIG", "", "BMI", "28.0");
	item(g, "SCR", "ELIG", "", "IAINJ3M", "N");
	item(g, "SCR", "ELIG", "", "INFLARTH", "N");
	item(g, "SCR", "ELIG", "", "KLGRADE", "2");
	item(g, "SCR", "ELIG", "", "PAIN3M", "Y");
	item(g, "SCR", "ELIG", "", "PREG", "N");
	item(g, "SCR", "SV", "", "VISDT", "2024-12-10");
}

static int gen_each(void *ctx, const struct cb_feed_opts *o, cb_feed_fn fn,
		    void *fctx, struct cb_err *err)
{
	struct gen *g = ctx;
	struct cb_summary s;
	struct cb_feed_subject fs;
	long i;
	int rc;

	(void)o;
	(void)err;
	for (i = 0; i < g->subjects; i++) {
		cb_summary_init(&s);
		s.state_date = s.created = s.consent = s.day0 = (char *)"";
		s.ended = s.end_status = s.visits = (char *)"";
		s.unblind.user = s.unblind.site = (char *)"";
		s.unblind.when = s.unblind.reason = (char *)"";
		make_subject(g, i, &s);
		fs.sum = &s;
		fs.items = g->items;
		fs.nitems = g->n;
		fs.merge = NULL;
		rc = fn(&fs, fctx);
		if (rc)
			return rc;
	}
	return 0;
}

static size_t nvalues;

static int count(const struct cb_feed_subject *s, void *ctx)
{
	(void)ctx;
	nvalues += s->nitems;
	return 0;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long peak_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void die(const char *what, const struct cb_err *err)
{
	fprintf(stderr, "bench_export: %s: %s\n", what, err->msg);
	exit(1);
}

static int null_sink(void *ctx, const char *data, size_t len,
		     struct cb_err *err)
{
	size_t *n = ctx;

	(void)data;
	(void)err;
	*n += len;
	return 0;
}

int main(int argc, char **argv)
{
	const char *top = getenv("CASEBOOK_TOP");
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const char *runs_env = getenv("CASEBOOK_BENCH_RUNS");
	int runs = runs_env ? (int)strtol(runs_env, NULL, 10) : 5, r, f;
	struct gen g = {10000, 5, "", 0, {{0}}, 0};
	struct cb_feed feed = {gen_each, &g};
	struct cb_protocol *p = NULL;
	struct cb_err err;
	char path[4096];
	double t[64], c[64];

	if (argc < 2) {
		fprintf(stderr, "usage: bench_export feed|report|csv "
				"[SUBJECTS [AES_PER_SUBJECT]]\n");
		return 2;
	}
	if (runs < 1 || runs > 64)
		runs = 5;
	if (argc > 2)
		g.subjects = strtol(argv[2], NULL, 10);
	if (argc > 3)
		g.aes = strtol(argv[3], NULL, 10);
	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	if (cb_protocol_load_file(path, &p, NULL, &err))
		die("protocol", &err);
	nvalues = 0;
	if (feed.each(feed.ctx, &(struct cb_feed_opts){0}, count, NULL, &err))
		die("feed", &err);
	printf("feed: %ld subjects, %ld adverse events, %zu item values\n",
	       g.subjects, g.subjects * g.aes, nvalues);

	if (!strcmp(argv[1], "feed")) {
		for (r = 0; r < runs; r++) {
			double t0 = now_ms(), c0 = cpu_ms();

			feed.each(feed.ctx, &(struct cb_feed_opts){0}, count,
				  NULL, &err);
			t[r] = now_ms() - t0;
			c[r] = cpu_ms() - c0;
		}
		printf("the feed alone (made and dropped): %.0f ms (cpu %.0f "
		       "ms)\n",
		       median(t, runs), median(c, runs));
	} else if (!strcmp(argv[1], "report")) {
		static const char *const names[] = {"text", "csv", "json",
						    "html"};
		struct cb_safety_opts o = {
		    NULL, NULL, "2026-01-01T00:00:00.000Z", NULL, "bench"};
		struct cb_safety *rep = NULL;
		double compute, compute_cpu;

		for (r = 0; r < runs; r++) {
			double t0 = now_ms(), c0 = cpu_ms();

			cb_safety_free(rep);
			if (cb_safety_compute(p, &feed, &o, &rep, &err))
				die("report", &err);
			t[r] = now_ms() - t0;
			c[r] = cpu_ms() - c0;
		}
		compute = median(t, runs);
		compute_cpu = median(c, runs);
		printf("safety report computed (feed included): %.0f ms (cpu "
		       "%.0f ms)\n",
		       compute, compute_cpu);
		for (f = 0; f < 4; f++) {
			size_t bytes = 0;

			for (r = 0; r < runs; r++) {
				struct cb_out out;
				double t0 = now_ms(), c0 = cpu_ms();

				bytes = 0;
				cb_out_init(&out, null_sink, &bytes);
				if (cb_safety_write(rep,
						    (enum cb_safety_format)f,
						    &out, &err))
					die("write", &err);
				cb_out_release(&out);
				t[r] = now_ms() - t0;
				c[r] = cpu_ms() - c0;
			}
			printf(
			    "  %-4s written: %.0f ms (%.1f MB); computed and "
			    "written: %.0f ms (cpu %.0f ms)\n",
			    names[f], median(t, runs), (double)bytes / 1e6,
			    compute + median(t, runs),
			    compute_cpu + median(c, runs));
		}
		cb_safety_free(rep);
	} else if (!strcmp(argv[1], "csv")) {
		struct cb_export_opts o = {
		    CB_EXPORT_CSV, NULL, NULL, "2026-01-01T00:00:00.000Z",
		    "bench",	   NULL};
		struct cb_export_stats st;

		for (r = 0; r < runs; r++) {
			struct cb_outdir *d;
			struct cb_files files;
			char cmd[4200];
			double t0, c0;

			snprintf(path, sizeof(path), "%s/bench-export.%ld.%d",
				 tmp, (long)getpid(), r);
			t0 = now_ms();
			c0 = cpu_ms();
			if (cb_outdir_open(path, &d, &err))
				die("outdir", &err);
			files = cb_outdir_files(d);
			if (cb_export(p, &feed, &o, &files, &st, &err) ||
			    cb_outdir_commit(d, &err))
				die("export", &err);
			cb_outdir_free(d);
			t[r] = now_ms() - t0;
			c[r] = cpu_ms() - c0;
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", path);
		}
		printf("csv export: %zu item values in %zu rows: %.0f ms (cpu "
		       "%.0f ms)\n",
		       st.values, st.rows, median(t, runs), median(c, runs));
	} else {
		fprintf(stderr, "bench_export: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("peak memory of this process: %.1f MiB\n",
	       (double)peak_kib() / 1024.0);
	cb_protocol_free(p);
	return 0;
}
