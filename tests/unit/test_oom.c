/*
 * test_oom.c - the library when memory runs out, SQLite's way: each case
 * runs one call with its Nth allocation failing, for N = 1, 2, ... until
 * no allocation fails, and checks that the call either succeeds or says
 * "out of memory" (CB_ENOMEM), never a wrong verdict on the data.
 *
 * Each case runs twice: with only the Nth allocation failing, and with
 * every allocation from the Nth on failing (the _sticky cases).
 *
 * The failures come from tests/tools/faultinj.so, driven in process
 * (cbfault_arm, cbfault_disarm): when it is not loaded, this program
 * runs itself again with LD_PRELOAD set to it ($CASEBOOK_TOOLS, else
 * $CASEBOOK_TOP/build/tools, else build/tools).
 */
#include "t.h"

#include <dlfcn.h>
#include <unistd.h>

#include "check.h"
#include "event.h"
#include "json.h"
#include "jstream.h"
#include "merge.h"
#include "protocol.h"
#include "randlist.h"
#include "record.h"
#include "summary.h"

static void (*fault_arm)(const char *cls, unsigned long n, int sticky);
static int (*fault_disarm)(void);
static struct cb_protocol *knee;
/* 0: only the Nth allocation fails; 1: it and every later one. */
static int sticky;

/* Run this program again under faultinj.so; returns only on failure. */
static void reexec_under_shim(char **argv)
{
	const char *tools = getenv("CASEBOOK_TOOLS");
	const char *top = getenv("CASEBOOK_TOP");
	const char *asan = getenv("ASAN_OPTIONS");
	char path[1024], opts[1024];

	if (tools)
		snprintf(path, sizeof(path), "%s/faultinj.so", tools);
	else
		snprintf(path, sizeof(path), "%s/build/tools/faultinj.so",
			 top ? top : ".");
	if (access(path, R_OK)) {
		printf("FAIL faultinj: %s is missing ('make test' builds it)\n",
		       path);
		exit(1);
	}
	/* Under AddressSanitizer the library goes in front of it. */
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
		 asan ? asan : "", asan && asan[0] ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	setenv("LD_PRELOAD", path, 1);
	execv("/proc/self/exe", argv);
	printf("FAIL faultinj: cannot run again under %s\n", path);
	exit(1);
}

static int load_knee(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	char path[1024];
	struct cb_err err;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	if (cb_protocol_load_file(path, &knee, NULL, &err)) {
		printf("# knee: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* One event about subject KR01-01001 from device 1 of KR01. */
static int make_event(struct cb_event *ev, int k, const char *kind,
		      const char *visit, const char *form,
		      const char *const *changes, const char *const *data)
{
	struct cb_err err;
	size_t i;
	int rc;

	cb_event_init(ev);
	snprintf(ev->id, sizeof(ev->id), "%032x", 0x100 + k);
	snprintf(ev->hlc, sizeof(ev->hlc), "%012llx0000",
		 1764000000000ULL + 60000ULL * (unsigned)k);
	memcpy(ev->wall, "2026-01-10T10:00:00.000Z", CB_EVENT_TIME_LEN + 1);
	rc = cb_event_set_origin(ev, "dev1", "KR01", "ann", &err);
	if (!rc)
		rc = cb_event_set_target(ev, "KR01-01001", kind, visit, form,
					 "", &err);
	if (!rc)
		rc = cb_event_set_reason(ev, "", &err);
	for (i = 0; !rc && changes && changes[i]; i += 2)
		rc = cb_event_add_change(ev, changes[i], changes[i + 1], NULL,
					 0, &err);
	for (i = 0; !rc && data && data[i]; i += 2)
		rc = cb_event_set_data(ev, data[i], data[i + 1], &err);
	if (rc)
		printf("# event %d: %s\n", k, err.msg);
	return rc;
}

/* A merge state holding the subject's creation and demographics. */
static struct cb_merge *subject_state(void)
{
	static const char *const created[] = {CB_DATA_STATUS,
					      CB_SUBJECT_CREATED, NULL};
	static const char *const dm[] = {
	    "CONSDT", "2026-01-05", "BRTHYR", "1960", "SEX", "F", NULL};
	struct cb_merge *m = NULL;
	struct cb_event ev;
	struct cb_err err;
	int rc;

	if (cb_merge_new(&m, &err))
		return NULL;
	rc = make_event(&ev, 1, CB_KIND_SUBJECT_STATUS, "", "", NULL, created);
	if (!rc)
		rc = cb_merge_add(m, &ev, NULL, &err);
	cb_event_release(&ev);
	if (!rc)
		rc = make_event(&ev, 2, CB_KIND_FORM_SAVE, "SCR", "DM", dm,
				NULL);
	if (!rc)
		rc = cb_merge_add(m, &ev, NULL, &err);
	cb_event_release(&ev);
	if (rc) {
		printf("# subject state: %s\n", err.msg);
		cb_merge_free(m);
		return NULL;
	}
	return m;
}

/*
 * A valid save of the eligibility form, checked against a fresh merge
 * state with each allocation in turn failing: it passes, or the check
 * says out of memory with no rejection code. Before the fix a failed
 * walk of the subject's events read as "unknown subject", and the
 * server refused the event for good.
 */
static void test_record_check_event(void)
{
	static const char *const elig[] = {
	    "AGE", "66", "KLGRADE", "2", "PAIN3M", "Y", "BMI", "27", NULL};
	struct cb_record_writer w = {"investigator", "KR01", 1};
	struct cb_event ev;
	unsigned long n;
	int fired = 1;

	T_ASSERT(make_event(&ev, 3, CB_KIND_FORM_SAVE, "SCR", "ELIG", elig,
			    NULL) == 0);
	for (n = 1; fired && n < 100000; n++) {
		struct cb_merge *m = subject_state();
		struct cb_check_results res;
		const char *code = NULL;
		struct cb_err err;
		int rc;

		T_ASSERT(m != NULL);
		cb_check_results_init(&res);
		cb_err_clear(&err);
		fault_arm("malloc", n, sticky);
		rc = cb_record_check_event(knee, m, &w, &ev, &res, &code, &err);
		fired = fault_disarm();
		cb_check_results_release(&res);
		cb_merge_free(m);
		if (rc && !(rc == CB_ENOMEM && !code)) {
			cb_event_release(&ev);
			T_FAIL_AT("allocation %lu failing: rc %d, code %s: %s",
				  n, rc, code ? code : "(none)", err.msg);
			return;
		}
		if (!fired && rc) {
			cb_event_release(&ev);
			T_FAIL_AT("no allocation failed, yet rc %d: %s", rc,
				  err.msg);
			return;
		}
	}
	cb_event_release(&ev);
	printf("# check_event: %lu allocations tried\n", n - 1);
	T_ASSERT(!fired);
}

/* The same for an unblind (its subject was never randomized: the
 * verdict is "subject", or out of memory, never a pass). */
static void test_record_unblind(void)
{
	struct cb_record_writer w = {"investigator", "KR01", 1};
	struct cb_event ev;
	struct cb_err rerr;
	unsigned long n;
	int fired = 1;

	T_ASSERT(make_event(&ev, 3, CB_KIND_UNBLIND, "", "", NULL, NULL) == 0);
	T_ASSERT(cb_event_set_reason(&ev, "anaphylaxis", &rerr) == 0);
	for (n = 1; fired && n < 100000; n++) {
		struct cb_merge *m = subject_state();
		struct cb_check_results res;
		const char *code = NULL;
		struct cb_err err;
		int rc;

		T_ASSERT(m != NULL);
		cb_check_results_init(&res);
		fault_arm("malloc", n, sticky);
		rc = cb_record_check_event(knee, m, &w, &ev, &res, &code, &err);
		fired = fault_disarm();
		cb_check_results_release(&res);
		cb_merge_free(m);
		if (!(rc == CB_ENOMEM && !code) &&
		    !(rc && code && !strcmp(code, "subject"))) {
			cb_event_release(&ev);
			T_FAIL_AT("allocation %lu failing: rc %d, code %s", n,
				  rc, code ? code : "(none)");
			return;
		}
	}
	cb_event_release(&ev);
	T_ASSERT(!fired);
}

/*
 * A stored document parsed with each allocation failing: the tree, or
 * CB_ENOMEM saying "out of memory"; never "invalid JSON", which would
 * send a reader looking for damage in a whole document.
 */
static void test_json_parse(void)
{
	static const char text[] =
	    "{\"format\":\"x\",\"list\":[1,2,{\"a\":\"b\",\"c\":[true,null]}],"
	    "\"text\":\"\\u00e9t\\u00e9\",\"n\":-12.5e3}";
	unsigned long n;
	int fired = 1;

	for (n = 1; fired && n < 100000; n++) {
		struct cb_err err;
		cJSON *root;

		cb_err_clear(&err);
		fault_arm("malloc", n, sticky);
		root = cb_json_parse(text, sizeof(text) - 1, 1 << 20, "stored",
				     &err);
		fired = fault_disarm();
		if (root) {
			cJSON_Delete(root);
			continue;
		}
		if (err.code != CB_ENOMEM ||
		    !strstr(err.msg, "out of memory")) {
			T_FAIL_AT("allocation %lu failing: %d %s", n, err.code,
				  err.msg);
			return;
		}
	}
	T_ASSERT(!fired);
}

static int walk_count(void *ctx, const char *path, const cJSON *value)
{
	(void)path;
	(void)value;
	++*(int *)ctx;
	return 0;
}

/*
 * A document streamed (cb_jstream_walk, as casebookd reads a bundle)
 * with each allocation failing: walked, or CB_ENOMEM; never "not JSON"
 * (a member name that cJSON could not copy was once told as "a member
 * name is not a string", refusing a good bundle with exit 4).
 */
static void test_jstream_walk(void)
{
	static const char text[] =
	    "{\"format\":\"x\",\"pull\":[{\"events\":[{\"a\":1},"
	    "{\"b\":\"\\u00e9\"}],\"next\":\"4\"}],\"users\":{\"users\":[]}}";
	static const char *const open[] = {"", "pull", "pull[]",
					   "pull[].events", NULL};
	char path[] = "/tmp/test_oom_jstream.XXXXXX";
	unsigned long n;
	int fd = mkstemp(path), fired = 1, calls;

	T_ASSERT(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	T_ASSERT(write(fd, text, sizeof(text) - 1) ==
		 (ssize_t)sizeof(text) - 1);
	for (n = 1; fired && n < 100000; n++) {
		struct cb_err err;
		int rc;

		cb_err_clear(&err);
		calls = 0;
		if (lseek(fd, 0, SEEK_SET) != 0)
			break;
		fault_arm("malloc", n, sticky);
		rc = cb_jstream_walk(fd, open, 1 << 16, "doc", walk_count,
				     &calls, &err);
		fired = fault_disarm();
		if (rc && rc != CB_ENOMEM) {
			T_FAIL_AT("allocation %lu failing: %d %s", n, rc,
				  err.msg);
			break;
		}
	}
	T_ASSERT(!fired);
	close(fd);
}

/*
 * Adding an event to a merge state with an allocation failing either
 * adds it or leaves the state as it was: adding it again then works and
 * the state holds it once.
 */
static void test_merge_add(void)
{
	static const char *const vas[] = {"VAS", "40", NULL};
	struct cb_event ev;
	unsigned long n;
	int fired = 1;

	T_ASSERT(
	    make_event(&ev, 3, CB_KIND_FORM_SAVE, "BL", "VAS", vas, NULL) == 0);
	for (n = 1; fired && n < 100000; n++) {
		struct cb_merge *m = subject_state();
		struct cb_merge_item it;
		struct cb_err err;
		int rc, added = 0;

		T_ASSERT(m != NULL);
		fault_arm("malloc", n, sticky);
		rc = cb_merge_add(m, &ev, &added, &err);
		fired = fault_disarm();
		if (rc && (rc != CB_ENOMEM || cb_merge_count(m) != 2)) {
			size_t count = cb_merge_count(m);

			cb_merge_free(m);
			cb_event_release(&ev);
			T_FAIL_AT("allocation %lu failing: rc %d, %zu events",
				  n, rc, count);
			return;
		}
		rc = cb_merge_add(m, &ev, &added, &err);
		if (!rc)
			rc = cb_merge_item_get(m, "KR01-01001", "BL", "VAS", "",
					       "VAS", &it, &err);
		if (rc || cb_merge_count(m) != 3 || strcmp(it.value, "40")) {
			cb_merge_free(m);
			cb_event_release(&ev);
			T_FAIL_AT("after allocation %lu failed: rc %d", n, rc);
			return;
		}
		cb_merge_free(m);
	}
	cb_event_release(&ev);
	T_ASSERT(!fired);
}

/* The next N of a long loop: every N up to 300, then a step of 2% (a
 * protocol load makes thousands of allocations). */
static unsigned long next_n(unsigned long n)
{
	return n < 300 ? n + 1 : n + 1 + n / 50;
}

/*
 * The shipped protocol loaded with an allocation failing: loaded, or
 * CB_ENOMEM; nothing else, and nothing freed twice (the sanitizer build
 * runs this too).
 */
static void test_protocol_load(void)
{
	const char *top = getenv("CASEBOOK_TOP");
	char path[1024];
	unsigned long n, runs = 0;
	int fired = 1;

	snprintf(path, sizeof(path), "%s/schemas/knee-oa-msc.json",
		 top ? top : ".");
	for (n = 1; fired && n < 1000000; n = next_n(n)) {
		struct cb_protocol *p = NULL;
		struct cb_err err;
		int rc;

		cb_err_clear(&err);
		fault_arm("malloc", n, sticky);
		rc = cb_protocol_load_file(path, &p, NULL, &err);
		fired = fault_disarm();
		runs++;
		cb_protocol_free(p);
		/* Opening the file may be what fails (fopen allocates):
		 * then the message says so. */
		if (rc && rc != CB_ENOMEM &&
		    !strstr(err.msg, "Cannot allocate memory")) {
			T_FAIL_AT("allocation %lu failing: rc %d: %s", n, rc,
				  err.msg);
			return;
		}
	}
	printf("# protocol load: %lu runs, up to allocation %lu\n", runs, n);
	T_ASSERT(!fired);
}

/*
 * The canonical dump and the summary of a subject, made with an
 * allocation failing: the very text (summary JSON) made without
 * failures, or CB_ENOMEM with no output.
 */
static void test_dump_and_summary(void)
{
	struct cb_merge *m = subject_state();
	char *want = NULL, *got, *want_sum = NULL;
	struct cb_summary sum;
	struct cb_err err;
	unsigned long n;
	int fired;
	cJSON *js = NULL;

	T_ASSERT(m != NULL);
	T_ASSERT(cb_merge_dump(m, &want, NULL, &err) == 0);
	cb_summary_init(&sum);
	T_ASSERT(cb_summary_compute(knee, m, "KR01-01001", &sum, &err) == 0);
	T_ASSERT(cb_summary_to_json(&sum, &js, &err) == 0);
	want_sum = cJSON_PrintUnformatted(js);
	cJSON_Delete(js);
	cb_summary_release(&sum);
	T_ASSERT(want_sum != NULL);
	for (fired = 1, n = 1; fired && n < 100000; n++) {
		struct cb_merge *fresh = subject_state();
		int rc;

		got = NULL;
		T_ASSERT(fresh != NULL);
		fault_arm("malloc", n, sticky);
		rc = cb_merge_dump(fresh, &got, NULL, &err);
		fired = fault_disarm();
		cb_merge_free(fresh);
		if (rc ? rc != CB_ENOMEM || got : !got || strcmp(got, want)) {
			free(got);
			T_FAIL_AT("dump, allocation %lu failing: rc %d", n, rc);
			goto out;
		}
		free(got);
	}
	for (fired = 1, n = 1; fired && n < 100000; n++) {
		struct cb_merge *fresh = subject_state();
		int rc;

		T_ASSERT(fresh != NULL);
		cb_summary_init(&sum);
		fault_arm("malloc", n, sticky);
		rc = cb_summary_compute(knee, fresh, "KR01-01001", &sum, &err);
		fired = fault_disarm();
		got = NULL;
		js = NULL;
		if (!rc && !cb_summary_to_json(&sum, &js, &err))
			got = cJSON_PrintUnformatted(js);
		cJSON_Delete(js);
		cb_summary_release(&sum);
		cb_merge_free(fresh);
		if (rc ? rc != CB_ENOMEM : !got || strcmp(got, want_sum)) {
			free(got);
			T_FAIL_AT("summary, allocation %lu failing: rc %d", n,
				  rc);
			goto out;
		}
		free(got);
	}
out:
	free(want);
	free(want_sum);
	cb_merge_free(m);
}

/* An event printed and parsed back with an allocation failing: the same
 * event, or CB_ENOMEM (never "invalid"). */
static void test_event_round_trip(void)
{
	static const char *const vas[] = {"VAS", "40", NULL};
	struct cb_event ev, back;
	struct cb_err err;
	char *text = NULL, *again = NULL;
	unsigned long n;
	int fired = 1;

	T_ASSERT(
	    make_event(&ev, 3, CB_KIND_FORM_SAVE, "BL", "VAS", vas, NULL) == 0);
	T_ASSERT(cb_event_print(&ev, &text, &err) == 0);
	for (n = 1; fired && n < 100000; n++) {
		int rc;

		cb_event_init(&back);
		fault_arm("malloc", n, sticky);
		rc = cb_event_parse(text, strlen(text), &back, &err);
		fired = fault_disarm();
		again = NULL;
		if (!rc && cb_event_print(&back, &again, &err))
			again = NULL;
		cb_event_release(&back);
		if (rc ? rc != CB_ENOMEM : !again || strcmp(again, text)) {
			T_FAIL_AT("allocation %lu failing: rc %d: %s", n, rc,
				  rc ? err.msg : "another event");
			free(again);
			break;
		}
		free(again);
	}
	free(text);
	cb_event_release(&ev);
}

/*
 * A randomization list of three sites loaded (cb_randlist_load, as
 * `casebook randlist verify` and casebookd's import read one) with each
 * allocation failing: loaded, or CB_ENOMEM. A failed copy of a site or
 * cell code once left a NULL among them that the duplicate check read
 * (a crash), and a failed canonical encoding was told as a signature
 * that does not verify.
 */
static void test_randlist_load(void)
{
	static const char *const sites[] = {"KR01", "KR02", "KR03"};
	static const char seed[] = "test-oom-seed-0123456789abcdef-0123456789";
	struct cb_randlist_params pa;
	struct cb_randlist_output gen;
	struct cb_box_keypair kp;
	struct cb_err err;
	unsigned long n;
	int fired = 1, rc;

	memset(&pa, 0, sizeof(pa));
	memset(&gen, 0, sizeof(gen));
	pa.protocol = knee;
	pa.nsites = 3;
	pa.sites = sites;
	pa.per_stratum = 4;
	pa.seed = seed;
	pa.seed_len = strlen(seed);
	T_ASSERT(!cb_box_keypair_new(&kp, &err));
	rc = cb_randlist_generate(&pa, kp.pk, &gen, &err);
	cb_box_keypair_release(&kp);
	if (rc) {
		T_FAIL_AT("generate: %s", err.msg);
		return;
	}
	for (n = 1; fired && n < 1000000; n++) {
		struct cb_randlist l;

		cb_err_clear(&err);
		fault_arm("malloc", n, sticky);
		rc = cb_randlist_load(gen.json, gen.json_len, &l, NULL, &err);
		fired = fault_disarm();
		if (!rc) {
			cb_randlist_release(&l);
			continue;
		}
		if (rc != CB_ENOMEM || !strstr(err.msg, "out of memory")) {
			T_FAIL_AT("allocation %lu failing: %d %s", n, rc,
				  err.msg);
			break;
		}
	}
	cb_randlist_output_release(&gen);
	T_ASSERT(!fired);
}

/* Each case again with every allocation from the Nth on failing. */
#define STICKY(name)                                                           \
	static void name##_sticky(void)                                        \
	{                                                                      \
		sticky = 1;                                                    \
		name();                                                        \
		sticky = 0;                                                    \
	}
STICKY(test_json_parse)
STICKY(test_jstream_walk)
STICKY(test_record_check_event)
STICKY(test_merge_add)
STICKY(test_event_round_trip)
STICKY(test_dump_and_summary)
STICKY(test_protocol_load)
STICKY(test_randlist_load)

int main(int argc, char **argv)
{
	/* The program's global scope, which holds a preloaded library. */
	void *self = dlopen(NULL, RTLD_NOW);

	(void)argc;
	if (self) {
		fault_arm = (void (*)(const char *, unsigned long, int))dlsym(
		    self, "cbfault_arm");
		fault_disarm = (int (*)(void))dlsym(self, "cbfault_disarm");
	}
	if (!fault_arm || !fault_disarm)
		reexec_under_shim(argv);
	if (load_knee())
		return 1;
	T_RUN(test_json_parse);
	T_RUN(test_jstream_walk);
	T_RUN(test_record_check_event);
	T_RUN(test_record_unblind);
	T_RUN(test_merge_add);
	T_RUN(test_event_round_trip);
	T_RUN(test_dump_and_summary);
	T_RUN(test_protocol_load);
	T_RUN(test_randlist_load);
	T_RUN(test_json_parse_sticky);
	T_RUN(test_jstream_walk_sticky);
	T_RUN(test_record_check_event_sticky);
	T_RUN(test_merge_add_sticky);
	T_RUN(test_event_round_trip_sticky);
	T_RUN(test_dump_and_summary_sticky);
	T_RUN(test_protocol_load_sticky);
	T_RUN(test_randlist_load_sticky);
	cb_protocol_free(knee);
	return t_done();
}
