/*
 * test_clock.c - clock.h: the system source, a test offset, a custom
 * source, the CASEBOOK_CLOCK_OFFSET_MS skew (well-formed and malformed,
 * each in a child process because the variable is read once per
 * process), and the strict UTC text form.
 */
#include "clock.h"
#include "t.h"

#include <sys/wait.h>
#include <unistd.h>

static int64_t fixed_source(void *ctx)
{
	return *(const int64_t *)ctx;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Without skew the clock is the system clock (within a generous margin:
 * this compares two readings, it does not time anything). */
static int near_wall(int64_t got, int64_t offset)
{
	int64_t want = wall_ms() + offset;

	return got > want - 60000 && got < want + 60000;
}

static void test_system_and_offset(void)
{
	struct cb_err err;

	T_EQ_INT(cb_clock_init(&err), 0);
	T_ASSERT(near_wall(cb_clock_now_ms(), 0));
	cb_clock_set_offset_ms(-86400000LL * 365);
	T_ASSERT(near_wall(cb_clock_now_ms(), -86400000LL * 365));
	cb_clock_set_offset_ms(3600000);
	T_ASSERT(near_wall(cb_clock_now_ms(), 3600000));
	cb_clock_set_offset_ms(0);
	T_ASSERT(near_wall(cb_clock_now_ms(), 0));
}

static void test_custom_source(void)
{
	int64_t t = 1700000000123LL;

	cb_clock_set_source(fixed_source, &t);
	T_EQ_INT(cb_clock_now_ms(), 1700000000123LL);
	/* A clock that goes backwards is returned as it is. */
	t -= 5000;
	T_EQ_INT(cb_clock_now_ms(), 1699999995123LL);
	cb_clock_set_offset_ms(250);
	T_EQ_INT(cb_clock_now_ms(), 1699999995373LL);
	/* The offset saturates instead of overflowing. */
	t = INT64_MAX - 10;
	T_EQ_INT(cb_clock_now_ms(), INT64_MAX);
	cb_clock_set_offset_ms(-250);
	t = INT64_MIN + 10;
	T_EQ_INT(cb_clock_now_ms(), INT64_MIN);
	cb_clock_set_offset_ms(0);
	cb_clock_set_source(NULL, &t);
	T_ASSERT(near_wall(cb_clock_now_ms(), 0));
}

static const char *self_path;

/*
 * The child's side of child_env: a fresh process (exec'd, so the variable
 * has not been read yet) that checks one setting. Exit 0 when
 * cb_clock_init's result is `want_rc` and the clock is skewed by
 * `want_skew`; 1 on a wrong result, 2 on a wrong skew, 3 on a message
 * without the variable's name.
 */
static int env_child_main(const char *want_rc_text, const char *skew_text)
{
	struct cb_err err;
	int64_t t = 1000;
	int rc;

	cb_err_clear(&err);
	rc = cb_clock_init(&err);
	if (rc != (int)strtol(want_rc_text, NULL, 10))
		return 1;
	if (rc && !strstr(err.msg, CB_CLOCK_OFFSET_ENV))
		return 3;
	/* Reading the clock must not re-read a changed variable. */
	setenv(CB_CLOCK_OFFSET_ENV, "5", 1);
	if (!near_wall(cb_clock_now_ms(), strtoll(skew_text, NULL, 10)))
		return 2;
	/* A custom source is not skewed by the environment. */
	cb_clock_set_source(fixed_source, &t);
	if (cb_clock_now_ms() != 1000)
		return 2;
	return 0;
}

/* Run env_child_main in a new process with the variable set to `value`. */
static int child_env(const char *value, int want_rc, int64_t want_skew)
{
	char rc_text[16], skew_text[32];
	pid_t pid;
	int status;

	snprintf(rc_text, sizeof(rc_text), "%d", want_rc);
	snprintf(skew_text, sizeof(skew_text), "%lld", (long long)want_skew);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setenv(CB_CLOCK_OFFSET_ENV, value, 1);
		execl(self_path, self_path, "--env-child", rc_text, skew_text,
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_env_offset(void)
{
	const int64_t year = 31557600000LL;

	T_EQ_INT(child_env("0", 0, 0), 0);
	T_EQ_INT(child_env("-600000", 0, -600000), 0);
	T_EQ_INT(child_env("+600000", 0, 600000), 0);
	T_EQ_INT(child_env("-3155760000000", 0, -100 * year), 0);
	T_EQ_INT(child_env("3155760000000", 0, 100 * year), 0);
}

static void test_env_malformed(void)
{
	static const char *const bad[] = {
	    "",
	    " 5",
	    "5 ",
	    "5ms",
	    "0x10",
	    "1e3",
	    "--5",
	    "+",
	    "-",
	    "1.5",
	    "3155760000001",
	    "-3155760000001",
	    "99999999999999999999999999",
	    "\t7",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int got = child_env(bad[i], CB_EINVAL, 0);

		if (got != 0) {
			T_FAIL_AT("CASEBOOK_CLOCK_OFFSET_MS=\"%s\": child %d",
				  bad[i], got);
			return;
		}
	}
}

static void test_format_utc(void)
{
	char out[CB_CLOCK_UTC_BUF];

	T_EQ_INT(cb_clock_format_utc(0, out), 0);
	T_EQ_STR(out, "1970-01-01T00:00:00.000Z");
	T_EQ_INT(strlen(out), CB_CLOCK_UTC_LEN);
	T_EQ_INT(cb_clock_format_utc(1709251199999LL, out), 0);
	T_EQ_STR(out, "2024-02-29T23:59:59.999Z");
	T_EQ_INT(cb_clock_format_utc(-1, out), 0);
	T_EQ_STR(out, "1969-12-31T23:59:59.999Z");
	T_EQ_INT(cb_clock_format_utc(-86400000LL, out), 0);
	T_EQ_STR(out, "1969-12-31T00:00:00.000Z");
	T_EQ_INT(cb_clock_format_utc(253402300799999LL, out), 0);
	T_EQ_STR(out, "9999-12-31T23:59:59.999Z");
	T_EQ_INT(cb_clock_format_utc(253402300800000LL, out), CB_EINVAL);
	T_EQ_STR(out, "");
	T_EQ_INT(cb_clock_format_utc(-62135596800000LL, out), 0);
	T_EQ_STR(out, "0001-01-01T00:00:00.000Z");
	T_EQ_INT(cb_clock_format_utc(-62135596800001LL, out), CB_EINVAL);
	T_EQ_INT(cb_clock_format_utc(INT64_MIN, out), CB_EINVAL);
	T_EQ_INT(cb_clock_format_utc(INT64_MAX, out), CB_EINVAL);
}

static void test_parse_utc(void)
{
	struct cb_err err;
	int64_t ms = 7;

	T_EQ_INT(cb_clock_parse_utc("1970-01-01T00:00:00.000Z", &ms, &err), 0);
	T_EQ_INT(ms, 0);
	T_EQ_INT(cb_clock_parse_utc("2024-02-29T23:59:59.999Z", &ms, &err), 0);
	T_EQ_INT(ms, 1709251199999LL);
	T_EQ_INT(cb_clock_parse_utc("1969-12-31T23:59:59.999Z", &ms, &err), 0);
	T_EQ_INT(ms, -1);
}

static void test_parse_utc_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "2024-02-29T23:59:59.999",
	    "2024-02-29T23:59:59Z",
	    "2024-02-29T23:59:59.99Z",
	    "2024-02-29T23:59:59.9999Z",
	    "2024-02-29 23:59:59.999Z",
	    "2024-02-29t23:59:59.999Z",
	    "2024-02-29T23:59:59.999z",
	    "2024-02-29T23:59:59.999+00:00",
	    "2024-02-29T23:59:59.999Z ",
	    " 2024-02-29T23:59:59.999Z",
	    "2023-02-29T00:00:00.000Z",
	    "2024-13-01T00:00:00.000Z",
	    "2024-00-01T00:00:00.000Z",
	    "2024-01-00T00:00:00.000Z",
	    "0000-01-01T00:00:00.000Z",
	    "2024-01-01T24:00:00.000Z",
	    "2024-01-01T23:60:00.000Z",
	    "2024-01-01T23:59:60.000Z",
	    "2024-1-01T00:00:00.000Z",
	    "+024-01-01T00:00:00.000Z",
	    "2024-01-01T00:00:00.-00Z",
	};
	struct cb_err err;
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		cb_err_clear(&err);
		if (cb_clock_parse_utc(bad[i], &ms, &err) != CB_EINVAL) {
			T_FAIL_AT("accepted \"%s\"", bad[i]);
			return;
		}
		T_EQ_INT(ms, 42);
		T_CONTAINS(err.msg, "is not a UTC time");
	}
	T_EQ_INT(cb_clock_parse_utc(NULL, &ms, &err), CB_EINVAL);
	/* Long or binary input is quoted bounded and printable. */
	cb_clock_parse_utc("2024-01-01T00:00:00.000Z and a great deal more "
			   "text after it",
			   &ms, &err);
	T_CONTAINS(err.msg, "...\" is not a UTC time");
	cb_clock_parse_utc("bad\x01\n", &ms, &err);
	T_CONTAINS(err.msg, "\"bad??\"");
}

/* format then parse gives the same instant, across the whole range. */
static void test_utc_roundtrip(void)
{
	const int64_t lo = -62135596800000LL, hi = 253402300799999LL;
	uint64_t state = t_seed();
	char out[CB_CLOCK_UTC_BUF];
	struct cb_err err;
	int64_t ms, back;
	int i;

	for (i = 0; i < 20000; i++) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		ms = lo + (int64_t)((state >> 11) % (uint64_t)(hi - lo + 1));
		if (i < 4)
			ms = i < 2 ? lo + i : hi - (i - 2);
		T_EQ_INT(cb_clock_format_utc(ms, out), 0);
		T_EQ_INT(cb_clock_parse_utc(out, &back, &err), 0);
		if (back != ms) {
			T_FAIL_AT("%lld -> %s -> %lld", (long long)ms, out,
				  (long long)back);
			return;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--env-child"))
		return env_child_main(argv[2], argv[3]);
	/* exec needs a path; argv[0] may be a bare name found on PATH. A
	 * path in argv[0] comes first: under valgrind /proc/self/exe is
	 * valgrind itself (make valgrind). */
	self_path = strchr(argv[0], '/') || access("/proc/self/exe", X_OK) != 0
			? argv[0]
			: "/proc/self/exe";
	unsetenv(CB_CLOCK_OFFSET_ENV);
	T_RUN(test_system_and_offset);
	T_RUN(test_custom_source);
	T_RUN(test_env_offset);
	T_RUN(test_env_malformed);
	T_RUN(test_format_utc);
	T_RUN(test_parse_utc);
	T_RUN(test_parse_utc_rejects);
	T_RUN(test_utc_roundtrip);
	return t_done();
}
