/* Unit tests for domain/dates: day numbers against an independent calendar
 * walk, strict date and month parsing, month arithmetic with month-end
 * clamping, loan terms. */
#include "check.h"
#include "domain/dates.h"

#include <stdint.h>

#define REFUSED INT32_MIN

static int32_t parsed_day(const char *s)
{
	int32_t day = REFUSED;

	if (!date_parse(s, &day))
		return REFUSED;
	return day;
}

/* Day number of an ISO date the test knows to be valid. */
static int32_t day_of(const char *s)
{
	int32_t day = REFUSED;

	CHECK(date_parse(s, &day));
	return day;
}

static const char *fmt_day(int32_t day, char out[DATE_BUF])
{
	date_format(day, out);
	return out;
}

static const char *plus_months(const char *s, int months, char out[DATE_BUF])
{
	return fmt_day(date_add_months(day_of(s), months), out);
}

static int term_of(const char *issue, const char *maturity)
{
	return term_months(day_of(issue), day_of(maturity));
}

static bool medium_long(const char *issue, const char *maturity)
{
	return medium_long_term(day_of(issue), day_of(maturity));
}

static void test_date_known_day_numbers(void)
{
	CHECK(date_from_ymd(1970, 1, 1) == 0);
	CHECK(date_from_ymd(1969, 12, 31) == -1);
	CHECK(date_from_ymd(2000, 3, 1) == 11017);
	CHECK(date_from_ymd(2020, 2, 29) == 18321);
	CHECK(date_from_ymd(2020, 5, 12) == 18394);
	CHECK(date_from_ymd(1900, 1, 1) == -25567);
	CHECK(date_from_ymd(2999, 12, 31) == 376199);
	CHECK(date_from_ymd(1, 1, 1) == -719162);
	CHECK(date_from_ymd(0, 1, 1) == -719528);
	CHECK(date_from_ymd(9999, 12, 31) == 2932896);
}

static void test_date_from_ymd_counts_day_linearly(void)
{
	CHECK(date_from_ymd(2020, 3, 0) == date_from_ymd(2020, 2, 29));
	CHECK(date_from_ymd(2021, 1, 32) == date_from_ymd(2021, 2, 1));
}

/* Advances y-m-d by one day the slow, obvious way. */
static void next_ymd(int *y, int *m, int *d)
{
	if (++*d <= days_in_month(*y, *m))
		return;
	*d = 1;
	if (++*m <= 12)
		return;
	*m = 1;
	++*y;
}

static void test_date_agrees_with_calendar_walk_from_1600_to_3000(void)
{
	int y = 1600, m = 1, d = 1;
	int32_t day = date_from_ymd(1600, 1, 1);
	int bad = 0;

	while (y < 3001) {
		int yy, mm, dd;

		date_to_ymd(day, &yy, &mm, &dd);
		if (date_from_ymd(y, m, d) != day || yy != y || mm != m || dd != d)
			bad++;
		next_ymd(&y, &m, &d);
		day++;
	}
	CHECK(bad == 0);
}

static void test_date_parse_and_format_round_trip_every_day(void)
{
	int32_t first = date_from_ymd(1900, 1, 1);
	int32_t last = date_from_ymd(2999, 12, 31);
	char buf[DATE_BUF];
	int bad = 0;

	for (int32_t day = first; day <= last; day++) {
		date_format(day, buf);
		if (parsed_day(buf) != day)
			bad++;
	}
	CHECK(bad == 0);
}

static void test_date_to_ymd_before_epoch_and_far_away(void)
{
	int y, m, d;

	date_to_ymd(-1, &y, &m, &d);
	CHECK(y == 1969 && m == 12 && d == 31);
	date_to_ymd(date_from_ymd(-400, 2, 29), &y, &m, &d);
	CHECK(y == -400 && m == 2 && d == 29);
	date_to_ymd(date_from_ymd(1000000, 12, 31), &y, &m, &d);
	CHECK(y == 1000000 && m == 12 && d == 31);
	date_to_ymd(date_from_ymd(-1000000, 1, 1), &y, &m, &d);
	CHECK(y == -1000000 && m == 1 && d == 1);
}

static void test_leap_years_follow_gregorian_rules(void)
{
	CHECK(is_leap_year(2020));
	CHECK(is_leap_year(2000));
	CHECK(is_leap_year(2400));
	CHECK(!is_leap_year(2021));
	CHECK(!is_leap_year(1900));
	CHECK(!is_leap_year(2100));
	CHECK(days_in_month(2020, 2) == 29);
	CHECK(days_in_month(2021, 2) == 28);
	CHECK(days_in_month(1900, 2) == 28);
	CHECK(days_in_month(2021, 4) == 30);
	CHECK(days_in_month(2021, 12) == 31);
	CHECK(days_in_month(2021, 0) == 0);
	CHECK(days_in_month(2021, 13) == 0);
}

static void test_date_parse_accepts_leap_day_only_in_leap_years(void)
{
	CHECK(parsed_day("2020-02-29") == 18321);
	CHECK(parsed_day("2000-02-29") != REFUSED);
	CHECK(parsed_day("2021-02-29") == REFUSED);
	CHECK(parsed_day("1900-02-29") == REFUSED);
	CHECK(parsed_day("2100-02-29") == REFUSED);
}

static void test_date_parse_rejects_days_past_month_end(void)
{
	CHECK(parsed_day("2021-04-30") != REFUSED);
	CHECK(parsed_day("2021-04-31") == REFUSED);
	CHECK(parsed_day("2021-01-31") != REFUSED);
	CHECK(parsed_day("2021-01-32") == REFUSED);
	CHECK(parsed_day("2020-02-30") == REFUSED);
	CHECK(parsed_day("2021-06-00") == REFUSED);
}

static void test_date_parse_rejects_month_zero_and_thirteen(void)
{
	CHECK(parsed_day("2021-00-10") == REFUSED);
	CHECK(parsed_day("2021-13-10") == REFUSED);
	CHECK(parsed_day("2021-12-31") != REFUSED);
}

static void test_date_parse_accepts_only_years_1900_to_2999(void)
{
	CHECK(parsed_day("1900-01-01") == -25567);
	CHECK(parsed_day("2999-12-31") == 376199);
	CHECK(parsed_day("1899-12-31") == REFUSED);
	CHECK(parsed_day("3000-01-01") == REFUSED);
	CHECK(parsed_day("0000-01-01") == REFUSED);
}

static void test_date_parse_rejects_other_shapes(void)
{
	CHECK(parsed_day("") == REFUSED);
	CHECK(parsed_day("2020-5-12") == REFUSED);
	CHECK(parsed_day("2020-05-1") == REFUSED);
	CHECK(parsed_day("20200512") == REFUSED);
	CHECK(parsed_day("2020/05/12") == REFUSED);
	CHECK(parsed_day("2020-05-12 ") == REFUSED);
	CHECK(parsed_day(" 2020-05-12") == REFUSED);
	CHECK(parsed_day("2020-05-12T00:00:00Z") == REFUSED);
	CHECK(parsed_day("12020-05-12") == REFUSED);
	CHECK(parsed_day("2020-05") == REFUSED);
	CHECK(parsed_day("2020") == REFUSED);
	CHECK(parsed_day("+020-05-12") == REFUSED);
	CHECK(parsed_day("2020-+5-12") == REFUSED);
	CHECK(parsed_day("2020-05--1") == REFUSED);
	CHECK(parsed_day("2020-05-1a") == REFUSED);
}

static void test_date_parse_rejects_null_and_leaves_output_alone(void)
{
	int32_t day = 99;

	CHECK(!date_parse(NULL, &day));
	CHECK(day == 99);
	CHECK(!date_parse("2021-02-29", &day));
	CHECK(day == 99);
}

static void test_date_format_pads_with_zeros(void)
{
	char buf[DATE_BUF];

	CHECK_STR(fmt_day(0, buf), "1970-01-01");
	CHECK_STR(fmt_day(18394, buf), "2020-05-12");
	CHECK_STR(fmt_day(date_from_ymd(5, 3, 7), buf), "0005-03-07");
}

static void test_date_format_clamps_outside_four_digit_years(void)
{
	char buf[DATE_BUF];

	CHECK_STR(fmt_day(INT32_MAX, buf), "9999-12-31");
	CHECK_STR(fmt_day(INT32_MIN, buf), "0000-01-01");
	CHECK_STR(fmt_day(date_from_ymd(10000, 1, 1), buf), "9999-12-31");
	CHECK_STR(fmt_day(date_from_ymd(-1, 12, 31), buf), "0000-01-01");
}

static void test_date_add_months_keeps_day_of_month(void)
{
	char buf[DATE_BUF];

	CHECK_STR(plus_months("2020-05-12", 36, buf), "2023-05-12");
	CHECK_STR(plus_months("2020-05-12", 1, buf), "2020-06-12");
	CHECK_STR(plus_months("2020-05-12", 0, buf), "2020-05-12");
	CHECK_STR(plus_months("2020-11-15", 2, buf), "2021-01-15");
	CHECK_STR(plus_months("2020-12-15", 1, buf), "2021-01-15");
}

static void test_date_add_months_clamps_to_month_end(void)
{
	char buf[DATE_BUF];

	CHECK_STR(plus_months("2020-01-31", 1, buf), "2020-02-29");
	CHECK_STR(plus_months("2021-01-31", 1, buf), "2021-02-28");
	CHECK_STR(plus_months("2020-02-29", 12, buf), "2021-02-28");
	CHECK_STR(plus_months("2020-02-29", 48, buf), "2024-02-29");
	CHECK_STR(plus_months("2020-03-31", 1, buf), "2020-04-30");
	CHECK_STR(plus_months("2020-08-31", 1, buf), "2020-09-30");
	CHECK_STR(plus_months("2020-01-31", 2, buf), "2020-03-31");
}

static void test_date_add_months_goes_backwards(void)
{
	char buf[DATE_BUF];

	CHECK_STR(plus_months("2020-03-31", -1, buf), "2020-02-29");
	CHECK_STR(plus_months("2021-01-15", -1, buf), "2020-12-15");
	CHECK_STR(plus_months("2021-01-15", -13, buf), "2019-12-15");
	CHECK_STR(plus_months("2021-01-15", -12, buf), "2020-01-15");
	CHECK_STR(plus_months("1970-01-01", -1, buf), "1969-12-01");
	CHECK_STR(plus_months("1900-03-31", -1, buf), "1900-02-28");
}

static void test_term_months_counts_maturity_day(void)
{
	CHECK(term_of("2020-05-12", "2023-05-11") == 36);
	CHECK(term_of("2020-05-12", "2023-05-10") == 35);
	CHECK(term_of("2020-05-12", "2023-05-12") == 36);
	CHECK(term_of("2020-05-12", "2021-05-11") == 12);
	CHECK(term_of("2020-05-12", "2020-06-11") == 1);
	CHECK(term_of("2020-05-12", "2020-06-10") == 0);
	CHECK(term_of("2020-05-12", "2020-05-12") == 0);
}

static void test_term_months_at_month_ends(void)
{
	CHECK(term_of("2020-01-31", "2020-02-28") == 1);
	CHECK(term_of("2020-01-31", "2020-02-27") == 0);
	CHECK(term_of("2021-01-31", "2021-02-27") == 1);
	CHECK(term_of("2020-02-29", "2021-02-27") == 12);
	CHECK(term_of("2020-02-29", "2021-02-26") == 11);
	CHECK(term_of("2020-01-01", "2020-12-31") == 12);
	CHECK(term_of("2020-12-01", "2020-12-31") == 1);
	CHECK(term_of("2020-03-31", "2020-04-29") == 1);
}

static void test_term_months_matches_definition_for_many_pairs(void)
{
	int32_t start = date_from_ymd(2019, 12, 1);
	int bad = 0;

	for (int32_t issue = start; issue < start + 120; issue++) {
		for (int32_t mat = issue; mat < issue + 800; mat += 7) {
			int t = term_months(issue, mat);

			if (date_add_months(issue, t) > mat + 1 ||
			    date_add_months(issue, t + 1) <= mat + 1)
				bad++;
		}
	}
	CHECK(bad == 0);
}

static void test_term_months_negative_when_maturity_before_issue(void)
{
	CHECK(term_of("2020-05-12", "2020-05-11") == 0);
	CHECK(term_of("2020-05-12", "2020-04-10") == -2);
}

static void test_medium_long_term_boundary_is_one_year(void)
{
	CHECK(!medium_long("2020-05-12", "2021-05-12"));
	CHECK(medium_long("2020-05-12", "2021-05-13"));
	CHECK(!medium_long("2020-05-12", "2021-05-11"));
	CHECK(!medium_long("2020-05-12", "2020-11-12"));
	CHECK(medium_long("2020-05-12", "2023-05-11"));
}

static void test_medium_long_term_from_leap_day(void)
{
	CHECK(!medium_long("2020-02-29", "2021-02-28"));
	CHECK(medium_long("2020-02-29", "2021-03-01"));
	CHECK(!medium_long("2019-03-01", "2020-03-01"));
	CHECK(medium_long("2019-03-01", "2020-03-02"));
}

static void test_date_month_key_is_year_and_month(void)
{
	char key[MONTH_KEY_BUF];

	date_month_key(day_of("2020-05-12"), key);
	CHECK_STR(key, "2020-05");
	date_month_key(day_of("2020-12-31"), key);
	CHECK_STR(key, "2020-12");
	date_month_key(day_of("2021-01-01"), key);
	CHECK_STR(key, "2021-01");
}

static void test_month_parse_accepts_year_and_month(void)
{
	int y = 0, m = 0;

	CHECK(month_parse("2020-05", &y, &m) && y == 2020 && m == 5);
	CHECK(month_parse("2020-12", &y, &m) && y == 2020 && m == 12);
	CHECK(month_parse("1900-01", &y, &m) && y == 1900 && m == 1);
	CHECK(month_parse("2999-12", &y, &m) && y == 2999 && m == 12);
}

static void test_month_parse_rejects_other_shapes(void)
{
	int y = 7, m = 7;

	CHECK(!month_parse(NULL, &y, &m));
	CHECK(!month_parse("", &y, &m));
	CHECK(!month_parse("2020-5", &y, &m));
	CHECK(!month_parse("2020-00", &y, &m));
	CHECK(!month_parse("2020-13", &y, &m));
	CHECK(!month_parse("2020-05-01", &y, &m));
	CHECK(!month_parse("2020-05 ", &y, &m));
	CHECK(!month_parse("202005", &y, &m));
	CHECK(!month_parse("1899-12", &y, &m));
	CHECK(!month_parse("3000-01", &y, &m));
	CHECK(!month_parse("2020/05", &y, &m));
	CHECK(y == 7 && m == 7);
}

int main(void)
{
	RUN(test_date_known_day_numbers);
	RUN(test_date_from_ymd_counts_day_linearly);
	RUN(test_date_agrees_with_calendar_walk_from_1600_to_3000);
	RUN(test_date_parse_and_format_round_trip_every_day);
	RUN(test_date_to_ymd_before_epoch_and_far_away);
	RUN(test_leap_years_follow_gregorian_rules);
	RUN(test_date_parse_accepts_leap_day_only_in_leap_years);
	RUN(test_date_parse_rejects_days_past_month_end);
	RUN(test_date_parse_rejects_month_zero_and_thirteen);
	RUN(test_date_parse_accepts_only_years_1900_to_2999);
	RUN(test_date_parse_rejects_other_shapes);
	RUN(test_date_parse_rejects_null_and_leaves_output_alone);
	RUN(test_date_format_pads_with_zeros);
	RUN(test_date_format_clamps_outside_four_digit_years);
	RUN(test_date_add_months_keeps_day_of_month);
	RUN(test_date_add_months_clamps_to_month_end);
	RUN(test_date_add_months_goes_backwards);
	RUN(test_term_months_counts_maturity_day);
	RUN(test_term_months_at_month_ends);
	RUN(test_term_months_matches_definition_for_many_pairs);
	RUN(test_term_months_negative_when_maturity_before_issue);
	RUN(test_medium_long_term_boundary_is_one_year);
	RUN(test_medium_long_term_from_leap_day);
	RUN(test_date_month_key_is_year_and_month);
	RUN(test_month_parse_accepts_year_and_month);
	RUN(test_month_parse_rejects_other_shapes);
	return CHECK_SUMMARY();
}
