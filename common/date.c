/*
 * date.c - clinical date parsing, calendar arithmetic and the
 * partial-date comparisons edit checks rely on (see date.h).
 *
 * Day numbers are days since 1970-01-01 in the proleptic Gregorian
 * calendar, computed with the usual shift of the year to start on
 * 1 March so the leap day falls at the end of it. A partial date is
 * handled as the interval of day numbers it could be.
 */
#include "date.h"

#include <stdio.h>
#include <string.h>

/* Longest part of a bad input quoted back in a message. */
#define QUOTE_MAX 48

#define EXPECT_DATE "YYYY, YYYY-MM or YYYY-MM-DD"
#define EXPECT_FULL "YYYY-MM-DD"
#define EXPECT_DATETIME "YYYY-MM-DDTHH:MM or YYYY-MM-DDTHH:MM:SS"

/* Days from 0000-03-01 to 1970-01-01 in the shifted calendar. */
#define EPOCH_SHIFT 719468
/* Days in a 400-year Gregorian cycle. */
#define CYCLE_DAYS 146097

static int bad_text(struct cb_err *err, const char *s, const char *what,
		    const char *why)
{
	char q[QUOTE_MAX];

	cb_err_quote(s, q, sizeof(q));
	return cb_err_set(err, CB_EINVAL, "\"%s\" is not a %s: %s", q, what,
			  why);
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

int cb_date_is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int cb_date_days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && cb_date_is_leap_year(year))
		return 29;
	return days[month - 1];
}

int cb_date_valid(const struct cb_date *d)
{
	if (!d || d->year < 1 || d->year > 9999)
		return 0;
	if (d->month == 0)
		return d->day == 0;
	if (d->month < 1 || d->month > 12)
		return 0;
	return d->day == 0 || (d->day >= 1 && d->day <= cb_date_days_in_month(
							    d->year, d->month));
}

int cb_date_is_full(const struct cb_date *d)
{
	return cb_date_valid(d) && d->month && d->day;
}

static const char *const month_names[] = {
    "January", "February", "March",	"April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

/*
 * Scan a full or partial date at the start of `s`. Returns 0 with *end
 * just past it, 1 when the text does not have the date layout (the caller
 * words that message), or CB_EINVAL with a message when the layout is
 * right but the month or day does not exist.
 */
static int scan_date(const char *s, struct cb_date *d, const char **end,
		     const char *what, struct cb_err *err)
{
	const char *whole = s;
	char why[96];

	memset(d, 0, sizeof(*d));
	if (!digits(s, 4, &d->year))
		return 1;
	s += 4;
	if (*s == '-') {
		if (!digits(s + 1, 2, &d->month))
			return 1;
		s += 3;
		if (*s == '-') {
			if (!digits(s + 1, 2, &d->day))
				return 1;
			s += 3;
		}
	}
	if (d->year == 0)
		return bad_text(err, whole, what, "there is no year 0000");
	if (d->month == 0 && s > whole + 4)
		return bad_text(err, whole, what, "month 00 does not exist");
	if (d->month > 12) {
		snprintf(why, sizeof(why), "month %02d does not exist",
			 d->month);
		return bad_text(err, whole, what, why);
	}
	if (s > whole + 7 && d->day == 0)
		return bad_text(err, whole, what, "day 00 does not exist");
	if (s > whole + 7 &&
	    d->day > cb_date_days_in_month(d->year, d->month)) {
		snprintf(why, sizeof(why), "%s %04d has %d days",
			 month_names[d->month - 1], d->year,
			 cb_date_days_in_month(d->year, d->month));
		return bad_text(err, whole, what, why);
	}
	*end = s;
	return 0;
}

static int parse_date(const char *s, struct cb_date *out, int full,
		      struct cb_err *err)
{
	const char *what = "date", *end = NULL;
	int rc;

	if (!s) {
		memset(out, 0, sizeof(*out));
		return cb_err_set(err, CB_EINVAL, "missing date");
	}
	rc = scan_date(s, out, &end, what, err);
	if (rc == 0 && (*end != '\0' || (full && !out->day)))
		rc = 1;
	if (rc == 1)
		rc = bad_text(err, s, what,
			      full ? "expected " EXPECT_FULL
				   : "expected " EXPECT_DATE);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int cb_date_parse(const char *s, struct cb_date *out, struct cb_err *err)
{
	return parse_date(s, out, 0, err);
}

int cb_date_parse_full(const char *s, struct cb_date *out, struct cb_err *err)
{
	return parse_date(s, out, 1, err);
}

int cb_datetime_parse(const char *s, struct cb_datetime *out,
		      struct cb_err *err)
{
	const char *what = "date-time", *end = NULL;
	char why[64];
	int rc;

	memset(out, 0, sizeof(*out));
	if (!s)
		return cb_err_set(err, CB_EINVAL, "missing date-time");
	rc = scan_date(s, &out->date, &end, what, err);
	if (rc < 0)
		goto out;
	out->second = -1;
	if (rc == 1 || !out->date.day || end[0] != 'T' ||
	    !digits(end + 1, 2, &out->hour) || end[3] != ':' ||
	    !digits(end + 4, 2, &out->minute)) {
		rc = bad_text(err, s, what, "expected " EXPECT_DATETIME);
		goto out;
	}
	end += 6;
	if (*end == ':') {
		if (!digits(end + 1, 2, &out->second)) {
			rc =
			    bad_text(err, s, what, "expected " EXPECT_DATETIME);
			goto out;
		}
		end += 3;
	}
	if (*end != '\0') {
		rc = bad_text(err, s, what, "expected " EXPECT_DATETIME);
		goto out;
	}
	if (out->hour > 23 || out->minute > 59 || out->second > 59) {
		if (out->hour > 23)
			snprintf(why, sizeof(why), "hour %02d is not 00-23",
				 out->hour);
		else if (out->minute > 59)
			snprintf(why, sizeof(why), "minute %02d is not 00-59",
				 out->minute);
		else
			snprintf(why, sizeof(why), "second %02d is not 00-59",
				 out->second);
		rc = bad_text(err, s, what, why);
		goto out;
	}
	return 0;
out:
	memset(out, 0, sizeof(*out));
	return rc;
}

int cb_date_format(const struct cb_date *d, char out[CB_DATE_TEXT_MAX + 1])
{
	out[0] = '\0';
	if (!cb_date_valid(d))
		return CB_EINVAL;
	if (!d->month)
		snprintf(out, CB_DATE_TEXT_MAX + 1, "%04d", d->year);
	else if (!d->day)
		snprintf(out, CB_DATE_TEXT_MAX + 1, "%04d-%02d", d->year,
			 d->month);
	else
		snprintf(out, CB_DATE_TEXT_MAX + 1, "%04d-%02d-%02d", d->year,
			 d->month, d->day);
	return 0;
}

static int datetime_valid(const struct cb_datetime *dt)
{
	return dt && cb_date_is_full(&dt->date) && dt->hour >= 0 &&
	       dt->hour <= 23 && dt->minute >= 0 && dt->minute <= 59 &&
	       dt->second >= -1 && dt->second <= 59;
}

int cb_datetime_format(const struct cb_datetime *dt,
		       char out[CB_DATETIME_TEXT_MAX + 1])
{
	char date[CB_DATE_TEXT_MAX + 1];

	out[0] = '\0';
	if (!datetime_valid(dt))
		return CB_EINVAL;
	cb_date_format(&dt->date, date);
	if (dt->second < 0)
		snprintf(out, CB_DATETIME_TEXT_MAX + 1, "%.10sT%02u:%02u", date,
			 (unsigned)dt->hour % 100u,
			 (unsigned)dt->minute % 100u);
	else
		snprintf(out, CB_DATETIME_TEXT_MAX + 1, "%.10sT%02u:%02u:%02u",
			 date, (unsigned)dt->hour % 100u,
			 (unsigned)dt->minute % 100u,
			 (unsigned)dt->second % 100u);
	return 0;
}

/* Day number of a calendar date already known to be valid. */
static int64_t day_number(int year, int month, int day)
{
	/* Count years from March so February's length only matters last. */
	int64_t y = month <= 2 ? year - 1 : year;
	int64_t cycle = y / 400; /* y >= 0 for years 1..9999 */
	int64_t year_of_cycle = y - cycle * 400;
	int64_t mar_month = month > 2 ? month - 3 : month + 9; /* Mar = 0 */
	int64_t day_of_year = (153 * mar_month + 2) / 5 + day - 1;
	int64_t day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 -
			       year_of_cycle / 100 + day_of_year;

	return cycle * CYCLE_DAYS + day_of_cycle - EPOCH_SHIFT;
}

int cb_date_days(const struct cb_date *d, int64_t *days)
{
	if (!cb_date_is_full(d))
		return CB_EINVAL;
	*days = day_number(d->year, d->month, d->day);
	return 0;
}

int cb_date_from_days(int64_t days, struct cb_date *out)
{
	int64_t z, cycle, day_of_cycle, year_of_cycle, day_of_year, mar_month;
	int64_t year;

	memset(out, 0, sizeof(*out));
	if (days < day_number(1, 1, 1) || days > day_number(9999, 12, 31))
		return CB_EINVAL;
	z = days + EPOCH_SHIFT; /* >= 0 in this range */
	cycle = z / CYCLE_DAYS;
	day_of_cycle = z - cycle * CYCLE_DAYS;
	year_of_cycle = (day_of_cycle - day_of_cycle / 1460 +
			 day_of_cycle / 36524 - day_of_cycle / 146096) /
			365;
	day_of_year = day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 -
				      year_of_cycle / 100);
	mar_month = (5 * day_of_year + 2) / 153;
	year = cycle * 400 + year_of_cycle;
	out->day = (int)(day_of_year - (153 * mar_month + 2) / 5 + 1);
	out->month = (int)(mar_month < 10 ? mar_month + 3 : mar_month - 9);
	out->year = (int)(out->month <= 2 ? year + 1 : year);
	return 0;
}

int cb_date_diff_days(const struct cb_date *a, const struct cb_date *b,
		      int64_t *out)
{
	int64_t da, db;

	if (cb_date_days(a, &da) || cb_date_days(b, &db))
		return CB_EINVAL;
	*out = da - db;
	return 0;
}

int cb_date_add_days(const struct cb_date *d, int64_t n, struct cb_date *out)
{
	int64_t days;

	/* Any n beyond the calendar's span fails the same way. */
	if (cb_date_days(d, &days) || n > 4000000 || n < -4000000) {
		memset(out, 0, sizeof(*out));
		return CB_EINVAL;
	}
	return cb_date_from_days(days + n, out);
}

int cb_date_study_day(const struct cb_date *d, const struct cb_date *ref,
		      int64_t *out)
{
	int64_t diff;

	if (cb_date_diff_days(d, ref, &diff))
		return CB_EINVAL;
	*out = diff >= 0 ? diff + 1 : diff;
	return 0;
}

/* The first and last day numbers a valid, possibly partial, date covers. */
static int date_span(const struct cb_date *d, int64_t *lo, int64_t *hi)
{
	if (!cb_date_valid(d))
		return 0;
	if (!d->month) {
		*lo = day_number(d->year, 1, 1);
		*hi = day_number(d->year, 12, 31);
	} else if (!d->day) {
		*lo = day_number(d->year, d->month, 1);
		*hi = day_number(d->year, d->month,
				 cb_date_days_in_month(d->year, d->month));
	} else {
		*lo = *hi = day_number(d->year, d->month, d->day);
	}
	return 1;
}

static enum cb_date_order order_spans(int64_t alo, int64_t ahi, int64_t blo,
				      int64_t bhi)
{
	if (ahi < blo)
		return CB_DATE_BEFORE;
	if (alo > bhi)
		return CB_DATE_AFTER;
	if (alo == ahi && blo == bhi && alo == blo)
		return CB_DATE_SAME;
	return CB_DATE_UNKNOWN;
}

enum cb_date_order cb_date_compare(const struct cb_date *a,
				   const struct cb_date *b)
{
	int64_t alo, ahi, blo, bhi;

	if (!date_span(a, &alo, &ahi) || !date_span(b, &blo, &bhi))
		return CB_DATE_UNKNOWN;
	return order_spans(alo, ahi, blo, bhi);
}

static void datetime_span(const struct cb_datetime *dt, int64_t *lo,
			  int64_t *hi)
{
	int64_t base =
	    day_number(dt->date.year, dt->date.month, dt->date.day) * 86400 +
	    dt->hour * 3600 + dt->minute * 60;

	*lo = base + (dt->second < 0 ? 0 : dt->second);
	*hi = base + (dt->second < 0 ? 59 : dt->second);
}

enum cb_date_order cb_datetime_compare(const struct cb_datetime *a,
				       const struct cb_datetime *b)
{
	int64_t alo, ahi, blo, bhi;

	if (!datetime_valid(a) || !datetime_valid(b))
		return CB_DATE_UNKNOWN;
	datetime_span(a, &alo, &ahi);
	datetime_span(b, &blo, &bhi);
	return order_spans(alo, ahi, blo, bhi);
}

enum cb_date_order cb_datetime_compare_date(const struct cb_datetime *a,
					    const struct cb_date *b)
{
	if (!datetime_valid(a))
		return CB_DATE_UNKNOWN;
	return cb_date_compare(&a->date, b);
}

static enum cb_date_truth truth(int certainly_true, int certainly_false)
{
	if (certainly_true)
		return CB_DATE_TRUE;
	return certainly_false ? CB_DATE_FALSE : CB_DATE_MAYBE;
}

enum cb_date_truth cb_date_holds(const struct cb_date *a, enum cb_date_op op,
				 const struct cb_date *b)
{
	int64_t alo, ahi, blo, bhi;

	if (!date_span(a, &alo, &ahi) || !date_span(b, &blo, &bhi))
		return CB_DATE_MAYBE;
	switch (op) {
	case CB_DATE_LT:
		return truth(ahi < blo, alo >= bhi);
	case CB_DATE_LE:
		return truth(ahi <= blo, alo > bhi);
	case CB_DATE_EQ:
		return truth(alo == ahi && blo == bhi && alo == blo,
			     ahi < blo || alo > bhi);
	case CB_DATE_NE:
		return truth(ahi < blo || alo > bhi,
			     alo == ahi && blo == bhi && alo == blo);
	case CB_DATE_GE:
		return truth(alo >= bhi, ahi < blo);
	case CB_DATE_GT:
		return truth(alo > bhi, ahi <= blo);
	}
	return CB_DATE_MAYBE;
}

int cb_date_parse_any(const char *s, struct cb_date *out)
{
	struct cb_datetime dt;
	struct cb_err ignored;

	if (!s)
		return -1;
	if (!cb_date_parse(s, out, &ignored))
		return 0;
	if (!cb_datetime_parse(s, &dt, &ignored)) {
		*out = dt.date;
		return 0;
	}
	return -1;
}
