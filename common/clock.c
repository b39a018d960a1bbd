/*
 * clock.c - wall-clock time for all of Casebook, with the test hooks and
 * environment skew described in clock.h, and the UTC text form used in
 * events and reports.
 */
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "date.h"

#define MS_PER_DAY 86400000LL

/* Longest part of a bad input quoted back in a message. */
#define QUOTE_MAX 40

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int64_t env_offset; /* skew of the system source, from the env */
static int env_status;	   /* 0, or CB_EINVAL when the env was malformed */
static char env_text[QUOTE_MAX]; /* the malformed value, for cb_clock_init */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t (*source_fn)(void *ctx); /* NULL: system clock */
static void *source_ctx;
static int64_t test_offset;

static void load_env(void)
{
	const char *s = getenv(CB_CLOCK_OFFSET_ENV);
	char *end;
	long long v;

	if (!s)
		return;
	errno = 0;
	v = strtoll(s, &end, 10);
	/* strtoll would also skip leading white space; the text may not. */
	if (errno || end == s || *end != '\0' ||
	    !((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+') ||
	    v > CB_CLOCK_OFFSET_MAX_MS || v < -CB_CLOCK_OFFSET_MAX_MS) {
		size_t n = strlen(s);

		if (n >= sizeof(env_text))
			n = sizeof(env_text) - 1;
		memcpy(env_text, s, n);
		env_text[n] = '\0';
		env_status = CB_EINVAL;
		return;
	}
	env_offset = v;
}

int cb_clock_init(struct cb_err *err)
{
	size_t i;

	pthread_once(&env_once, load_env);
	if (!env_status)
		return 0;
	{
		char shown[QUOTE_MAX];

		/* Show the text without control characters. */
		for (i = 0; env_text[i]; i++)
			shown[i] = (env_text[i] >= 0x20 && env_text[i] < 0x7f)
				       ? env_text[i]
				       : '?';
		shown[i] = '\0';
		return cb_err_set(err, env_status,
				  "%s=\"%s\" is not a whole number of "
				  "milliseconds within +-%lld; the clock is "
				  "not skewed",
				  CB_CLOCK_OFFSET_ENV, shown,
				  CB_CLOCK_OFFSET_MAX_MS);
	}
}

/* a + b, clamped to the int64_t range instead of overflowing. */
static int64_t add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int64_t system_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return env_offset; /* cannot happen with CLOCK_REALTIME */
	return add_sat((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		       env_offset);
}

int64_t cb_clock_now_ms(void)
{
	int64_t (*fn)(void *);
	void *ctx;
	int64_t offset;

	pthread_once(&env_once, load_env);
	pthread_mutex_lock(&lock);
	fn = source_fn;
	ctx = source_ctx;
	offset = test_offset;
	pthread_mutex_unlock(&lock);
	return add_sat(fn ? fn(ctx) : system_ms(), offset);
}

void cb_clock_set_offset_ms(int64_t ms)
{
	pthread_mutex_lock(&lock);
	test_offset = ms;
	pthread_mutex_unlock(&lock);
}

void cb_clock_set_source(int64_t (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&lock);
	source_fn = fn;
	source_ctx = fn ? ctx : NULL;
	pthread_mutex_unlock(&lock);
}

int cb_clock_format_utc(int64_t ms, char out[CB_CLOCK_UTC_BUF])
{
	struct cb_date d;
	int64_t days, rem;

	out[0] = '\0';
	/* Floor division, so times before 1970 land on the right day. */
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	if (cb_date_from_days(days, &d))
		return CB_EINVAL;
	snprintf(out, CB_CLOCK_UTC_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 d.year, d.month, d.day, (int)(rem / 3600000),
		 (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
		 (int)(rem % 1000));
	return 0;
}

/* Reads exactly n ASCII digits; stops safely at a NUL. */
static int digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

int cb_clock_parse_utc(const char *s, int64_t *ms, struct cb_err *err)
{
	/* Which characters are digits and which are fixed punctuation. */
	static const char layout[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct cb_date d;
	int hour = 0, minute = 0, second = 0, milli = 0;
	int64_t days;
	char shown[QUOTE_MAX];
	size_t i;

	if (!s)
		return cb_err_set(err, CB_EINVAL, "missing UTC time");
	for (i = 0; i < CB_CLOCK_UTC_LEN; i++) {
		if (layout[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				     : s[i] != layout[i])
			break;
	}
	if (i == CB_CLOCK_UTC_LEN && s[i] == '\0') {
		digits(s, 4, &d.year);
		digits(s + 5, 2, &d.month);
		digits(s + 8, 2, &d.day);
		digits(s + 11, 2, &hour);
		digits(s + 14, 2, &minute);
		digits(s + 17, 2, &second);
		digits(s + 20, 3, &milli);
		if (cb_date_is_full(&d) && hour < 24 && minute < 60 &&
		    second < 60) {
			cb_date_days(&d, &days);
			*ms = days * MS_PER_DAY + hour * 3600000LL +
			      minute * 60000LL + second * 1000LL + milli;
			return 0;
		}
	}
	for (i = 0; s[i] && i + 4 < sizeof(shown); i++)
		shown[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i])
		memcpy(shown + i, "...", 4);
	else
		shown[i] = '\0';
	return cb_err_set(err, CB_EINVAL,
			  "\"%s\" is not a UTC time: expected a real "
			  "YYYY-MM-DDTHH:MM:SS.mmmZ",
			  shown);
}
