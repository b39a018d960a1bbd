/*
 * clock.h - the one place Casebook reads wall-clock time.
 *
 * Every timestamp (event times, the hybrid logical clock, request signing,
 * token expiry, report cut-offs) comes from cb_clock_now_ms(), so a test
 * can skew the clock or make it run backwards without touching the
 * system clock:
 *
 *   now = source() + offset
 *
 * where source() is the system clock unless a test installs its own with
 * cb_clock_set_source(), and offset is whatever cb_clock_set_offset_ms()
 * last set (0 at start).
 *
 * Environment: CASEBOOK_CLOCK_OFFSET_MS=N (a decimal integer, optionally
 * signed, of at most 100 years in ms) skews the system clock source by N
 * ms, so an end-to-end test can run a client whose clock is wrong. It is
 * read once, on first use of this module; later changes to the
 * environment are ignored. A malformed value is ignored (no skew) and
 * reported by cb_clock_init(), which programs call at start-up.
 *
 * Threads: reading the clock is safe from any thread. The setters are
 * meant for tests and are safe to call too, but a reader running at the
 * same moment sees either the old or the new setting.
 */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <stdint.h>

#include "err.h"

/* The environment variable that skews the system clock source. */
#define CB_CLOCK_OFFSET_ENV "CASEBOOK_CLOCK_OFFSET_MS"

/* Largest |CASEBOOK_CLOCK_OFFSET_MS| accepted: 100 years of 365.25 days. */
#define CB_CLOCK_OFFSET_MAX_MS 3155760000000LL

/* Characters of "YYYY-MM-DDTHH:MM:SS.mmmZ", without the NUL. */
#define CB_CLOCK_UTC_LEN 24
/* Buffer size for cb_clock_format_utc. */
#define CB_CLOCK_UTC_BUF 32

/*
 * Read CASEBOOK_CLOCK_OFFSET_MS if that has not happened yet, and report
 * a malformed value: CB_EINVAL naming the variable and its text (the clock
 * then runs unskewed). Returns 0 when the variable is unset or valid.
 */
int cb_clock_init(struct cb_err *err);

/* Milliseconds since 1970-01-01T00:00:00Z, as skewed above. */
int64_t cb_clock_now_ms(void);

/*
 * Add `ms` to every later reading (replacing any earlier offset set
 * here; the environment's skew of the system clock stays). 0 restores.
 */
void cb_clock_set_offset_ms(int64_t ms);

/*
 * Read time from fn(ctx) instead of the system clock; fn returns Unix ms.
 * fn NULL restores the system clock (with its environment skew). `ctx`
 * belongs to the caller and must outlive the installation.
 */
void cb_clock_set_source(int64_t (*fn)(void *ctx), void *ctx);

/*
 * Write `ms` as UTC text "2026-11-25T12:34:56.789Z" into `out`. Returns 0,
 * or CB_EINVAL when the time is outside years 0001..9999 (`out` is "").
 */
int cb_clock_format_utc(int64_t ms, char out[CB_CLOCK_UTC_BUF]);

/*
 * The inverse of cb_clock_format_utc, strictly: exactly
 * YYYY-MM-DDTHH:MM:SS.mmmZ with a real calendar date, hours 00-23,
 * minutes and seconds 00-59 (no leap second). Returns 0 with *ms set, or
 * CB_EINVAL with a message quoting the text.
 */
int cb_clock_parse_utc(const char *s, int64_t *ms, struct cb_err *err);

#endif
