/*
 * date.h - clinical dates: full and partial dates and date-times as CDISC
 * carries them in ISO 8601 text, real-calendar validation, day arithmetic,
 * and comparison that knows when a partial date cannot be ordered.
 *
 * Accepted text (nothing else: no time zone, no week dates, no spaces):
 *
 *   YYYY              partial date, month and day unknown
 *   YYYY-MM           partial date, day unknown
 *   YYYY-MM-DD        full date
 *   YYYY-MM-DDTHH:MM  date-time (full date), optionally with :SS
 *
 * Years run 0001..9999, written with exactly four digits; months and days
 * with exactly two ("2024-1-5" is refused). Days must exist in the real
 * (proleptic Gregorian) calendar, so 2023-02-29 and 2024-04-31 are refused.
 *
 * Partial dates and edit checks. A partial date stands for every day it
 * could be: 2024-03 is any day from 2024-03-01 to 2024-03-31. A comparison
 * is certain only when it holds for every pair of possible days, so
 * 2024-03 against 2024-03-15 is CB_DATE_UNKNOWN. An edit check such as
 * "AE end date on or after onset" must fail only when it is certainly
 * false (cb_date_holds returns CB_DATE_FALSE); a partial date then never
 * raises a false hard rejection. What to do with CB_DATE_MAYBE (accept
 * silently, or open a soft query) is the caller's decision.
 */
#ifndef CB_DATE_H
#define CB_DATE_H

#include <stdint.h>

#include "err.h"

/* Longest date text "YYYY-MM-DD"; buffers are this + 1. */
#define CB_DATE_TEXT_MAX 10
/* Longest date-time text "YYYY-MM-DDTHH:MM:SS"; buffers are this + 1. */
#define CB_DATETIME_TEXT_MAX 19

/* A date, possibly partial. Zero month or day means unknown. */
struct cb_date {
	int year;  /* 1..9999 */
	int month; /* 1..12, 0 = unknown (then day is 0 too) */
	int day;   /* 1..days in month, 0 = unknown */
};

/* A date-time: always a full date, local time to the minute. */
struct cb_datetime {
	struct cb_date date; /* full */
	int hour;	     /* 0..23 */
	int minute;	     /* 0..59 */
	int second;	     /* 0..59, or -1 when the text gave no seconds */
};

/* Result of ordering two possibly-partial dates. */
enum cb_date_order {
	CB_DATE_BEFORE = -1, /* a is certainly before b */
	CB_DATE_SAME = 0,    /* both are the same single day (or instant) */
	CB_DATE_AFTER = 1,   /* a is certainly after b */
	CB_DATE_UNKNOWN = 2, /* the known parts cannot tell */
};

/* Relations an edit check can ask about, for cb_date_holds. */
enum cb_date_op {
	CB_DATE_LT, /* a <  b */
	CB_DATE_LE, /* a <= b */
	CB_DATE_EQ, /* a == b */
	CB_DATE_NE, /* a != b */
	CB_DATE_GE, /* a >= b */
	CB_DATE_GT, /* a >  b */
};

/* Three-valued answer: certainly false, certainly true, or can't tell. */
enum cb_date_truth {
	CB_DATE_FALSE = 0,
	CB_DATE_TRUE = 1,
	CB_DATE_MAYBE = 2,
};

/*
 * Parse a full or partial date (YYYY, YYYY-MM or YYYY-MM-DD) into *out.
 * Returns 0, or CB_EINVAL with a message quoting the text and saying what
 * is wrong (format, month, or a day that month does not have); *out is
 * then zeroed.
 */
int cb_date_parse(const char *s, struct cb_date *out, struct cb_err *err);

/* As cb_date_parse, but a partial date is refused too. */
int cb_date_parse_full(const char *s, struct cb_date *out, struct cb_err *err);

/*
 * Parse YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS into *out. Returns 0 or
 * CB_EINVAL as cb_date_parse; hours run 00..23, minutes and seconds 00..59.
 */
int cb_datetime_parse(const char *s, struct cb_datetime *out,
		      struct cb_err *err);

/* True for a leap year of the Gregorian calendar (2000 yes, 1900 no). */
/*
 * The (possibly partial) date of a date, partial date or date-time value:
 * 0 with *out set, or -1 when `s` is NULL or none of those.
 */
int cb_date_parse_any(const char *s, struct cb_date *out);

int cb_date_is_leap_year(int year);

/* Days in `month` (1..12) of `year`, or 0 when month is out of range. */
int cb_date_days_in_month(int year, int month);

/* True when *d is a valid full or partial date as described above. */
int cb_date_valid(const struct cb_date *d);

/* True when *d is valid and full (year, month and day known). */
int cb_date_is_full(const struct cb_date *d);

/*
 * Write *d as YYYY, YYYY-MM or YYYY-MM-DD (by what is known) into `out`.
 * Returns 0, or CB_EINVAL for an invalid date (`out` is then "").
 */
int cb_date_format(const struct cb_date *d, char out[CB_DATE_TEXT_MAX + 1]);

/*
 * Write *dt as YYYY-MM-DDTHH:MM, with :SS when second is not -1.
 * Returns 0, or CB_EINVAL for an invalid date-time (`out` is then "").
 */
int cb_datetime_format(const struct cb_datetime *dt,
		       char out[CB_DATETIME_TEXT_MAX + 1]);

/*
 * Days from 1970-01-01 to the full date *d (negative before 1970) into
 * *days. Returns 0, or CB_EINVAL when *d is partial or invalid.
 */
int cb_date_days(const struct cb_date *d, int64_t *days);

/*
 * The full date `days` after 1970-01-01. Returns 0, or CB_EINVAL when the
 * result would fall outside years 1..9999 (*out is then zeroed).
 */
int cb_date_from_days(int64_t days, struct cb_date *out);

/*
 * *out = a - b in days, for full dates (2024-03-02 minus 2024-02-28 is 3).
 * Returns 0, or CB_EINVAL when either date is partial or invalid.
 */
int cb_date_diff_days(const struct cb_date *a, const struct cb_date *b,
		      int64_t *out);

/* *out = full date *d plus n days. Returns 0 or CB_EINVAL (see above). */
int cb_date_add_days(const struct cb_date *d, int64_t n, struct cb_date *out);

/*
 * CDISC study day of full date *d relative to reference date *ref: the
 * reference date is day 1, the day before it day -1; there is no day 0.
 * Returns 0, or CB_EINVAL when either date is partial or invalid.
 */
int cb_date_study_day(const struct cb_date *d, const struct cb_date *ref,
		      int64_t *out);

/*
 * Order two possibly-partial dates: CB_DATE_BEFORE or CB_DATE_AFTER when
 * every possible day of a is before (after) every possible day of b,
 * CB_DATE_SAME when both are the same full date, CB_DATE_UNKNOWN otherwise
 * (2024-03 vs 2024-03-15, or 2024 vs 2024) and for invalid input.
 */
enum cb_date_order cb_date_compare(const struct cb_date *a,
				   const struct cb_date *b);

/*
 * Order two date-times to the second; one without seconds stands for
 * every second of its minute, so 10:15 vs 10:15:30 is CB_DATE_UNKNOWN.
 */
enum cb_date_order cb_datetime_compare(const struct cb_datetime *a,
				       const struct cb_datetime *b);

/*
 * Order a date-time against a possibly-partial date by the date-time's
 * date part: 2024-03-05T10:00 vs 2024-03-05 is CB_DATE_SAME.
 */
enum cb_date_order cb_datetime_compare_date(const struct cb_datetime *a,
					    const struct cb_date *b);

/*
 * Does "a op b" hold for possibly-partial dates? CB_DATE_TRUE when it
 * holds for every possible pair of days, CB_DATE_FALSE when it holds for
 * none, CB_DATE_MAYBE otherwise (and for invalid input). An edit check
 * rejects only on CB_DATE_FALSE; see the file comment.
 */
enum cb_date_truth cb_date_holds(const struct cb_date *a, enum cb_date_op op,
				 const struct cb_date *b);

#endif
