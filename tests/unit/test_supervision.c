/* Unit tests for domain/supervision: the scorecard's default dates, score parsing, ranks
 * with ties (1, 1, 3) ordered by bank code, and the watch window's start. */
#include "check.h"
#include "domain/dates.h"
#include "domain/supervision.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int32_t day_of(const char *s)
{
	int32_t day = 0;

	CHECK(date_parse(s, &day));
	return day;
}

static void test_default_as_of_is_year_end_or_today_whichever_is_earlier(void)
{
	CHECK(scorecard_default_as_of(2020, day_of("2021-03-01")) == day_of("2020-12-31"));
	CHECK(scorecard_default_as_of(2020, day_of("2020-06-15")) == day_of("2020-06-15"));
	CHECK(scorecard_default_as_of(2020, day_of("2020-12-31")) == day_of("2020-12-31"));
}

static void test_same_day_year_before_clamps_29_february(void)
{
	CHECK(same_day_year_before(day_of("2020-06-30")) == day_of("2019-06-30"));
	CHECK(same_day_year_before(day_of("2020-02-29")) == day_of("2019-02-28"));
	CHECK(same_day_year_before(day_of("2021-03-01")) == day_of("2020-03-01"));
}

static void test_score_parse_takes_two_decimals_up_to_100(void)
{
	int64_t v = -1;

	CHECK(score_parse_e2("85.50", &v) && v == 8550);
	CHECK(score_parse_e2("0.00", &v) && v == 0);
	CHECK(score_parse_e2("100.00", &v) && v == 10000);
	CHECK(!score_parse_e2("100.01", &v));
	CHECK(!score_parse_e2("85.5", &v));
	CHECK(!score_parse_e2("-1.00", &v));
	CHECK(!score_parse_e2("", &v));
	CHECK(!score_parse_e2("1000.00", &v));
}

static void test_ranks_share_ties_and_skip_then_order_by_code(void)
{
	struct scorecard_rank r[5] = {
	    {"D", 5000, 0, 0}, {"B", 9000, 0, 1}, {"A", 9000, 0, 2},
	    {"C", 7000, 0, 3}, {"E", 5000, 0, 4},
	};

	scorecard_rank_rows(r, 5);
	CHECK_STR(r[0].bank_code, "A");
	CHECK(r[0].rank == 1 && r[0].index == 2);
	CHECK_STR(r[1].bank_code, "B");
	CHECK(r[1].rank == 1);
	CHECK_STR(r[2].bank_code, "C");
	CHECK(r[2].rank == 3);
	CHECK_STR(r[3].bank_code, "D");
	CHECK(r[3].rank == 4);
	CHECK_STR(r[4].bank_code, "E");
	CHECK(r[4].rank == 4);
	scorecard_rank_rows(r, 0);
}

static void test_window_start_is_as_of_minus_days_within_bounds(void)
{
	int32_t s = 0;

	CHECK(watch_window_start(day_of("2020-06-30"), 90, &s) && s == day_of("2020-04-01"));
	CHECK(watch_window_start(day_of("2020-03-01"), 1, &s) && s == day_of("2020-02-29"));
	CHECK(!watch_window_start(day_of("2020-03-01"), 0, &s));
	CHECK(!watch_window_start(day_of("2020-03-01"), -5, &s));
	CHECK(!watch_window_start(day_of("2020-03-01"), WATCH_WINDOW_MAX + 1, &s));
}

int main(void)
{
	RUN(test_default_as_of_is_year_end_or_today_whichever_is_earlier);
	RUN(test_same_day_year_before_clamps_29_february);
	RUN(test_score_parse_takes_two_decimals_up_to_100);
	RUN(test_ranks_share_ties_and_skip_then_order_by_code);
	RUN(test_window_start_is_as_of_minus_days_within_bounds);
	return CHECK_SUMMARY();
}
