/*
 * test_date.c - date.h: full and partial dates, date-times, the real
 * calendar (leap years, month lengths), strict layout, formatting, day
 * arithmetic against known day numbers, CDISC study days (no day 0), and
 * three-valued comparisons in which a partial date gives "unknown".
 */
#include "date.h"
#include "t.h"

static struct cb_date D(int y, int m, int d) {
	struct cb_date x = {y, m, d};

	return x;
}

static int
same(struct cb_date a, int y, int m, int d)
{
	return a.year == y && a.month == m && a.day == d;
}

static void test_parse_full_and_partial(void)
{
	struct cb_date d;
	struct cb_err err;

	T_EQ_INT(cb_date_parse("2024-03-15", &d, &err), 0);
	T_ASSERT(same(d, 2024, 3, 15));
	T_ASSERT(cb_date_is_full(&d));
	T_EQ_INT(cb_date_parse("2024-03", &d, &err), 0);
	T_ASSERT(same(d, 2024, 3, 0));
	T_ASSERT(!cb_date_is_full(&d));
	T_ASSERT(cb_date_valid(&d));
	T_EQ_INT(cb_date_parse("2024", &d, &err), 0);
	T_ASSERT(same(d, 2024, 0, 0));
	T_EQ_INT(cb_date_parse("0001-01-01", &d, &err), 0);
	T_EQ_INT(cb_date_parse("9999-12-31", &d, &err), 0);

	T_EQ_INT(cb_date_parse_full("2024-03-15", &d, &err), 0);
	cb_err_clear(&err);
	T_EQ_INT(cb_date_parse_full("2024-03", &d, &err), CB_EINVAL);
	T_ASSERT(same(d, 0, 0, 0));
	T_CONTAINS(err.msg, "expected YYYY-MM-DD");
	T_EQ_INT(cb_date_parse_full("2024", &d, &err), CB_EINVAL);
}

static void test_parse_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "24",
	    "202",
	    "20245",
	    "2024-",
	    "2024-3",
	    "2024-1-05",
	    "2024-01-5",
	    "2024-01-",
	    "2024/01/05",
	    "2024-01-05 ",
	    " 2024-01-05",
	    "2024-01-05Z",
	    "+2024-01-05",
	    "-2024",
	    "2024-01-05T",
	    "2024-13",
	    "2024-00",
	    "2024-00-10",
	    "2024-01-00",
	    "0000",
	    "0000-01-01",
	    "2024-04-31",
	    "2023-02-29",
	    "1900-02-29",
	    "2024-02-30",
	    "２０２４",
	    "2024-0a",
	    "10000-01-01",
	    "2024-01-32",
	};
	struct cb_date d;
	struct cb_err err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cb_err_clear(&err);
		if (cb_date_parse(bad[i], &d, &err) != CB_EINVAL) {
			T_FAIL_AT("accepted \"%s\"", bad[i]);
			return;
		}
		T_ASSERT(same(d, 0, 0, 0));
		T_CONTAINS(err.msg, "is not a date");
	}
	T_EQ_INT(cb_date_parse(NULL, &d, &err), CB_EINVAL);
	/* The messages say what is wrong, naming the month's real length. */
	cb_date_parse("2023-02-29", &d, &err);
	T_CONTAINS(err.msg, "\"2023-02-29\" is not a date: February 2023 has "
			    "28 days");
	cb_date_parse("2024-04-31", &d, &err);
	T_CONTAINS(err.msg, "April 2024 has 30 days");
	cb_date_parse("2024-13", &d, &err);
	T_CONTAINS(err.msg, "month 13 does not exist");
	cb_date_parse("0000", &d, &err);
	T_CONTAINS(err.msg, "no year 0000");
	cb_date_parse("2024-1-5", &d, &err);
	T_CONTAINS(err.msg, "expected YYYY, YYYY-MM or YYYY-MM-DD");
	/* Control characters in the quoted text stay escaped. */
	cb_date_parse("2024\n", &d, &err);
	T_CONTAINS(err.msg, "\"2024\\x0a\"");
}

static void test_leap_years(void)
{
	struct cb_date d;
	struct cb_err err;

	T_ASSERT(cb_date_is_leap_year(2024));
	T_ASSERT(cb_date_is_leap_year(2000));
	T_ASSERT(cb_date_is_leap_year(1600));
	T_ASSERT(!cb_date_is_leap_year(1900));
	T_ASSERT(!cb_date_is_leap_year(2100));
	T_ASSERT(!cb_date_is_leap_year(2023));
	T_EQ_INT(cb_date_days_in_month(2024, 2), 29);
	T_EQ_INT(cb_date_days_in_month(2023, 2), 28);
	T_EQ_INT(cb_date_days_in_month(2000, 2), 29);
	T_EQ_INT(cb_date_days_in_month(1900, 2), 28);
	T_EQ_INT(cb_date_days_in_month(2024, 4), 30);
	T_EQ_INT(cb_date_days_in_month(2024, 12), 31);
	T_EQ_INT(cb_date_days_in_month(2024, 0), 0);
	T_EQ_INT(cb_date_days_in_month(2024, 13), 0);
	T_EQ_INT(cb_date_parse("2024-02-29", &d, &err), 0);
	T_EQ_INT(cb_date_parse("2000-02-29", &d, &err), 0);
	T_EQ_INT(cb_date_parse("2100-02-29", &d, &err), CB_EINVAL);
}

static void test_valid_struct(void)
{
	struct cb_date d;

	d = D(2024, 0, 5); /* a day without a month */
	T_ASSERT(!cb_date_valid(&d));
	d = D(2024, 2, 30);
	T_ASSERT(!cb_date_valid(&d));
	d = D(0, 1, 1);
	T_ASSERT(!cb_date_valid(&d));
	d = D(10000, 1, 1);
	T_ASSERT(!cb_date_valid(&d));
	d = D(2024, -1, 0);
	T_ASSERT(!cb_date_valid(&d));
	T_ASSERT(!cb_date_valid(NULL));
	T_ASSERT(!cb_date_is_full(NULL));
}

static void test_datetime(void)
{
	struct cb_datetime dt;
	struct cb_err err;
	char out[CB_DATETIME_TEXT_MAX + 1];
	static const char *const bad[] = {
	    "2024-03-05",	 "2024-03T10:00",     "2024T10:00",
	    "2024-03-05T24:00",	 "2024-03-05T10:60",  "2024-03-05T10:00:60",
	    "2024-03-05 10:00",	 "2024-03-05t10:00",  "2024-03-05T1:00",
	    "2024-03-05T10:0",	 "2024-03-05T10:00:", "2024-03-05T10:00:5",
	    "2024-03-05T10:00Z", "2024-02-30T10:00",  "2024-03-05T10:00:00.5",
	    "2024-03-05T10",
	};
	size_t i;

	T_EQ_INT(cb_datetime_parse("2024-03-05T10:15", &dt, &err), 0);
	T_ASSERT(same(dt.date, 2024, 3, 5));
	T_EQ_INT(dt.hour, 10);
	T_EQ_INT(dt.minute, 15);
	T_EQ_INT(dt.second, -1);
	T_EQ_INT(cb_datetime_format(&dt, out), 0);
	T_EQ_STR(out, "2024-03-05T10:15");
	T_EQ_INT(cb_datetime_parse("2024-02-29T23:59:59", &dt, &err), 0);
	T_EQ_INT(dt.second, 59);
	T_EQ_INT(cb_datetime_format(&dt, out), 0);
	T_EQ_STR(out, "2024-02-29T23:59:59");
	T_EQ_INT(cb_datetime_parse("2024-03-05T00:00:00", &dt, &err), 0);
	T_EQ_INT(dt.second, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cb_datetime_parse(bad[i], &dt, &err) != CB_EINVAL) {
			T_FAIL_AT("accepted \"%s\"", bad[i]);
			return;
		}
		T_ASSERT(same(dt.date, 0, 0, 0));
	}
	cb_datetime_parse("2024-03-05T24:00", &dt, &err);
	T_CONTAINS(err.msg, "hour 24 is not 00-23");
	cb_datetime_parse("2024-02-30T10:00", &dt, &err);
	T_CONTAINS(err.msg, "February 2024 has 29 days");
	T_EQ_INT(cb_datetime_parse(NULL, &dt, &err), CB_EINVAL);
	dt.hour = 25;
	T_EQ_INT(cb_datetime_format(&dt, out), CB_EINVAL);
	T_EQ_STR(out, "");
}

static void test_format(void)
{
	char out[CB_DATE_TEXT_MAX + 1];
	struct cb_date d;

	d = D(2024, 3, 5);
	T_EQ_INT(cb_date_format(&d, out), 0);
	T_EQ_STR(out, "2024-03-05");
	d = D(33, 11, 0);
	T_EQ_INT(cb_date_format(&d, out), 0);
	T_EQ_STR(out, "0033-11");
	d = D(2024, 0, 0);
	T_EQ_INT(cb_date_format(&d, out), 0);
	T_EQ_STR(out, "2024");
	d = D(2023, 2, 29);
	T_EQ_INT(cb_date_format(&d, out), CB_EINVAL);
	T_EQ_STR(out, "");
}

/*
 * Every day of four years spanning 2000-02-29: the day number maps to the
 * next calendar day (stepped here by hand), and formats, parses and maps
 * back to the same number.
 */
static void test_days_roundtrip(void)
{
	struct cb_date d, back, want = {1998, 12, 31};
	struct cb_err err;
	char text[CB_DATE_TEXT_MAX + 1];
	int64_t n, start, back_n;

	T_EQ_INT(cb_date_days(&want, &start), 0);
	for (n = start; n < start + 4 * 366; n++) {
		T_EQ_INT(cb_date_from_days(n, &d), 0);
		if (!same(d, want.year, want.month, want.day)) {
			T_FAIL_AT("day %lld is %04d-%02d-%02d, wanted "
				  "%04d-%02d-%02d",
				  (long long)n, d.year, d.month, d.day,
				  want.year, want.month, want.day);
			return;
		}
		T_EQ_INT(cb_date_format(&d, text), 0);
		T_EQ_INT(cb_date_parse(text, &back, &err), 0);
		T_EQ_INT(cb_date_days(&back, &back_n), 0);
		T_EQ_INT(back_n, n);
		/* The next day, by the calendar rules alone. */
		if (++want.day > cb_date_days_in_month(want.year, want.month)) {
			want.day = 1;
			if (++want.month > 12) {
				want.month = 1;
				want.year++;
			}
		}
	}
}

static void test_day_numbers(void)
{
	struct cb_date d;
	int64_t n;

	/* Known values: Unix day numbers. */
	d = D(1970, 1, 1);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, 0);
	d = D(1969, 12, 31);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, -1);
	d = D(2000, 3, 1);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, 11017);
	d = D(2024, 2, 29);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, 19782);
	d = D(1, 1, 1);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, -719162);
	d = D(9999, 12, 31);
	T_EQ_INT(cb_date_days(&d, &n), 0);
	T_EQ_INT(n, 2932896);
	T_EQ_INT(cb_date_from_days(2932896, &d), 0);
	T_ASSERT(same(d, 9999, 12, 31));
	T_EQ_INT(cb_date_from_days(2932897, &d), CB_EINVAL);
	T_ASSERT(same(d, 0, 0, 0));
	T_EQ_INT(cb_date_from_days(-719162, &d), 0);
	T_ASSERT(same(d, 1, 1, 1));
	T_EQ_INT(cb_date_from_days(-719163, &d), CB_EINVAL);
	T_EQ_INT(cb_date_from_days(19782, &d), 0);
	T_ASSERT(same(d, 2024, 2, 29));
	d = D(2024, 2, 0);
	T_EQ_INT(cb_date_days(&d, &n), CB_EINVAL);
}

static void test_diff_add(void)
{
	struct cb_date a = D(2024, 3, 2), b = D(2024, 2, 28), out;
	struct cb_date partial = D(2024, 3, 0);
	int64_t n;

	T_EQ_INT(cb_date_diff_days(&a, &b, &n), 0);
	T_EQ_INT(n, 3);
	T_EQ_INT(cb_date_diff_days(&b, &a, &n), 0);
	T_EQ_INT(n, -3);
	a = D(2023, 3, 2);
	b = D(2023, 2, 28);
	T_EQ_INT(cb_date_diff_days(&a, &b, &n), 0);
	T_EQ_INT(n, 2);
	T_EQ_INT(cb_date_diff_days(&partial, &b, &n), CB_EINVAL);

	b = D(2024, 2, 28);
	T_EQ_INT(cb_date_add_days(&b, 1, &out), 0);
	T_ASSERT(same(out, 2024, 2, 29));
	T_EQ_INT(cb_date_add_days(&b, 2, &out), 0);
	T_ASSERT(same(out, 2024, 3, 1));
	T_EQ_INT(cb_date_add_days(&b, 366, &out), 0);
	T_ASSERT(same(out, 2025, 2, 28));
	T_EQ_INT(cb_date_add_days(&b, -59, &out), 0);
	T_ASSERT(same(out, 2023, 12, 31));
	T_EQ_INT(cb_date_add_days(&b, 0, &out), 0);
	T_ASSERT(same(out, 2024, 2, 28));
	a = D(9999, 12, 31);
	T_EQ_INT(cb_date_add_days(&a, 1, &out), CB_EINVAL);
	T_EQ_INT(cb_date_add_days(&b, INT64_MAX, &out), CB_EINVAL);
	T_EQ_INT(cb_date_add_days(&b, INT64_MIN, &out), CB_EINVAL);
	T_EQ_INT(cb_date_add_days(&partial, 1, &out), CB_EINVAL);
	T_ASSERT(same(out, 0, 0, 0));
}

static void test_study_day(void)
{
	struct cb_date ref = D(2024, 3, 1), d, partial = D(2024, 3, 0);
	int64_t n;

	T_EQ_INT(cb_date_study_day(&ref, &ref, &n), 0);
	T_EQ_INT(n, 1);
	d = D(2024, 3, 2);
	T_EQ_INT(cb_date_study_day(&d, &ref, &n), 0);
	T_EQ_INT(n, 2);
	d = D(2024, 2, 29);
	T_EQ_INT(cb_date_study_day(&d, &ref, &n), 0);
	T_EQ_INT(n, -1); /* no day 0 */
	d = D(2024, 2, 28);
	T_EQ_INT(cb_date_study_day(&d, &ref, &n), 0);
	T_EQ_INT(n, -2);
	d = D(2024, 3, 29); /* day 29 across the leap-year February */
	ref = D(2024, 2, 1);
	T_EQ_INT(cb_date_study_day(&d, &ref, &n), 0);
	T_EQ_INT(n, 58);
	T_EQ_INT(cb_date_study_day(&partial, &ref, &n), CB_EINVAL);
	T_EQ_INT(cb_date_study_day(&ref, &partial, &n), CB_EINVAL);
}

static void test_compare(void)
{
	struct cb_date a, b;

	a = D(2024, 3, 15);
	b = D(2024, 3, 16);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_BEFORE);
	T_EQ_INT(cb_date_compare(&b, &a), CB_DATE_AFTER);
	T_EQ_INT(cb_date_compare(&a, &a), CB_DATE_SAME);
	/* Partial against a day inside it: unknown, both ways. */
	a = D(2024, 3, 0);
	b = D(2024, 3, 15);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_UNKNOWN);
	T_EQ_INT(cb_date_compare(&b, &a), CB_DATE_UNKNOWN);
	T_EQ_INT(cb_date_compare(&a, &a), CB_DATE_UNKNOWN);
	a = D(2024, 0, 0);
	T_EQ_INT(cb_date_compare(&a, &a), CB_DATE_UNKNOWN);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_UNKNOWN);
	/* Partial against a day outside it: certain. */
	a = D(2024, 3, 0);
	b = D(2024, 4, 1);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_BEFORE);
	b = D(2024, 2, 29);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_AFTER);
	a = D(2023, 0, 0);
	b = D(2024, 1, 0);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_BEFORE);
	a = D(2024, 0, 0);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_UNKNOWN);
	/* Invalid input is unknown, never an order. */
	a = D(2023, 2, 29);
	b = D(2024, 1, 1);
	T_EQ_INT(cb_date_compare(&a, &b), CB_DATE_UNKNOWN);
}

static void test_holds(void)
{
	struct cb_date onset = D(2024, 3, 0), end = D(2024, 3, 10);
	struct cb_date d1 = D(2024, 3, 10), d2 = D(2024, 3, 11);
	struct cb_date bad = D(2024, 2, 30);

	/* AE end on or after onset: a partial onset never certainly fails. */
	T_EQ_INT(cb_date_holds(&end, CB_DATE_GE, &onset), CB_DATE_MAYBE);
	onset = D(2024, 2, 0);
	T_EQ_INT(cb_date_holds(&end, CB_DATE_GE, &onset), CB_DATE_TRUE);
	onset = D(2024, 4, 0);
	T_EQ_INT(cb_date_holds(&end, CB_DATE_GE, &onset), CB_DATE_FALSE);

	/* Every operator on full dates. */
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_LT, &d2), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_LE, &d2), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_EQ, &d2), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_NE, &d2), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_GE, &d2), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_GT, &d2), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_LT, &d1), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_LE, &d1), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_EQ, &d1), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_NE, &d1), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_GE, &d1), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&d1, CB_DATE_GT, &d1), CB_DATE_FALSE);

	/* A partial date at the edge: 2024-03 <= 2024-03-31 always holds,
	 * < does not always, and 2024-03 < 2024-03-01 never holds. */
	onset = D(2024, 3, 0);
	d2 = D(2024, 3, 31);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_LE, &d2), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_LT, &d2), CB_DATE_MAYBE);
	d2 = D(2024, 3, 1);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_LT, &d2), CB_DATE_FALSE);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_GE, &d2), CB_DATE_TRUE);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_EQ, &d2), CB_DATE_MAYBE);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_NE, &d2), CB_DATE_MAYBE);
	T_EQ_INT(cb_date_holds(&onset, CB_DATE_EQ, &onset), CB_DATE_MAYBE);
	T_EQ_INT(cb_date_holds(&bad, CB_DATE_LT, &d2), CB_DATE_MAYBE);
}

static void test_datetime_compare(void)
{
	struct cb_datetime a, b;
	struct cb_date d;
	struct cb_err err;

	T_EQ_INT(cb_datetime_parse("2024-03-05T10:15", &a, &err), 0);
	T_EQ_INT(cb_datetime_parse("2024-03-05T10:15:30", &b, &err), 0);
	T_EQ_INT(cb_datetime_compare(&a, &b), CB_DATE_UNKNOWN);
	T_EQ_INT(cb_datetime_compare(&a, &a), CB_DATE_UNKNOWN);
	T_EQ_INT(cb_datetime_compare(&b, &b), CB_DATE_SAME);
	T_EQ_INT(cb_datetime_parse("2024-03-05T10:16:00", &b, &err), 0);
	T_EQ_INT(cb_datetime_compare(&a, &b), CB_DATE_BEFORE);
	T_EQ_INT(cb_datetime_parse("2024-03-04T23:59", &b, &err), 0);
	T_EQ_INT(cb_datetime_compare(&a, &b), CB_DATE_AFTER);
	d = D(2024, 3, 5);
	T_EQ_INT(cb_datetime_compare_date(&a, &d), CB_DATE_SAME);
	d = D(2024, 3, 0);
	T_EQ_INT(cb_datetime_compare_date(&a, &d), CB_DATE_UNKNOWN);
	d = D(2024, 3, 6);
	T_EQ_INT(cb_datetime_compare_date(&a, &d), CB_DATE_BEFORE);
	a.minute = 60;
	T_EQ_INT(cb_datetime_compare(&a, &b), CB_DATE_UNKNOWN);
}

int main(void)
{
	T_RUN(test_parse_full_and_partial);
	T_RUN(test_parse_rejects);
	T_RUN(test_leap_years);
	T_RUN(test_valid_struct);
	T_RUN(test_datetime);
	T_RUN(test_format);
	T_RUN(test_days_roundtrip);
	T_RUN(test_day_numbers);
	T_RUN(test_diff_add);
	T_RUN(test_study_day);
	T_RUN(test_compare);
	T_RUN(test_holds);
	T_RUN(test_datetime_compare);
	return t_done();
}
