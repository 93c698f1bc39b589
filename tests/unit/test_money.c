/* Unit tests for domain/money: strict yuan and rate parsing, fixed-decimal
 * printing, overflow-checked fen sums and half-away-from-zero rounding (shares,
 * spreads, averages). */
#include "check.h"
#include "domain/money.h"

#include <stdint.h>

/* money_parse() result, or a sentinel when it refuses the text. */
#define REFUSED INT64_C(-777)

static int64_t parsed_fen(const char *s)
{
	int64_t fen = REFUSED;

	if (!money_parse(s, &fen))
		return REFUSED;
	return fen;
}

static int32_t parsed_rate(const char *s)
{
	int32_t r4 = -777;

	if (!rate_parse(s, &r4))
		return -777;
	return r4;
}

static const char *fmt_money(int64_t fen, char out[MONEY_BUF])
{
	money_format(fen, out);
	return out;
}

static const char *fmt_rate(int64_t r4, char out[RATE_BUF])
{
	rate_format(r4, out);
	return out;
}

static void test_money_parse_accepts_zero_one_and_two_decimals(void)
{
	CHECK(parsed_fen("5000000.00") == INT64_C(500000000));
	CHECK(parsed_fen("5000000") == INT64_C(500000000));
	CHECK(parsed_fen("0.5") == 50);
	CHECK(parsed_fen("0.05") == 5);
	CHECK(parsed_fen("1.2") == 120);
	CHECK(parsed_fen("1.20") == 120);
	CHECK(parsed_fen("12.34") == 1234);
	CHECK(parsed_fen("0") == 0);
	CHECK(parsed_fen("0.00") == 0);
}

static void test_money_parse_accepts_13_integer_digits(void)
{
	CHECK(parsed_fen("9999999999999.99") == MONEY_MAX_FEN);
	CHECK(parsed_fen("1000000000000") == INT64_C(100000000000000));
	CHECK(parsed_fen("0000000000001.01") == 101);
}

static void test_money_parse_rejects_14_integer_digits(void)
{
	CHECK(parsed_fen("10000000000000") == REFUSED);
	CHECK(parsed_fen("00000000000000.00") == REFUSED);
	CHECK(parsed_fen("99999999999999999999999999") == REFUSED);
}

static void test_money_parse_rejects_three_decimals(void)
{
	CHECK(parsed_fen("1.000") == REFUSED);
	CHECK(parsed_fen("1.005") == REFUSED);
}

static void test_money_parse_rejects_empty_parts(void)
{
	CHECK(parsed_fen("") == REFUSED);
	CHECK(parsed_fen(".5") == REFUSED);
	CHECK(parsed_fen("5.") == REFUSED);
	CHECK(parsed_fen(".") == REFUSED);
	CHECK(parsed_fen("1..5") == REFUSED);
	CHECK(parsed_fen("1.2.3") == REFUSED);
}

static void test_money_parse_rejects_signs_spaces_and_exponents(void)
{
	CHECK(parsed_fen("-1") == REFUSED);
	CHECK(parsed_fen("+1") == REFUSED);
	CHECK(parsed_fen(" 1") == REFUSED);
	CHECK(parsed_fen("1 ") == REFUSED);
	CHECK(parsed_fen("1\n") == REFUSED);
	CHECK(parsed_fen("1e3") == REFUSED);
	CHECK(parsed_fen("1E3") == REFUSED);
	CHECK(parsed_fen("1.5e1") == REFUSED);
}

static void test_money_parse_rejects_separators_and_words(void)
{
	CHECK(parsed_fen("1,000.00") == REFUSED);
	CHECK(parsed_fen("1_000") == REFUSED);
	CHECK(parsed_fen("0x10") == REFUSED);
	CHECK(parsed_fen("NaN") == REFUSED);
	CHECK(parsed_fen("inf") == REFUSED);
	CHECK(parsed_fen("１") == REFUSED); /* full-width digit one */
	CHECK(parsed_fen("1,5") == REFUSED);
}

static void test_money_parse_rejects_null_and_leaves_output_alone(void)
{
	int64_t fen = 42;

	CHECK(!money_parse(NULL, &fen));
	CHECK(fen == 42);
	CHECK(!money_parse("1.234", &fen));
	CHECK(fen == 42);
}

static void test_money_format_always_prints_two_decimals(void)
{
	char buf[MONEY_BUF];

	CHECK_STR(fmt_money(INT64_C(500000000), buf), "5000000.00");
	CHECK_STR(fmt_money(5, buf), "0.05");
	CHECK_STR(fmt_money(50, buf), "0.50");
	CHECK_STR(fmt_money(0, buf), "0.00");
	CHECK_STR(fmt_money(100, buf), "1.00");
	CHECK_STR(fmt_money(MONEY_MAX_FEN, buf), "9999999999999.99");
}

static void test_money_format_prints_negatives_with_minus(void)
{
	char buf[MONEY_BUF];

	CHECK_STR(fmt_money(-120, buf), "-1.20");
	CHECK_STR(fmt_money(-5, buf), "-0.05");
	CHECK_STR(fmt_money(-100, buf), "-1.00");
}

static void test_money_format_handles_int64_extremes(void)
{
	char buf[MONEY_BUF];

	CHECK_STR(fmt_money(INT64_MAX, buf), "92233720368547758.07");
	CHECK_STR(fmt_money(INT64_MIN, buf), "-92233720368547758.08");
}

static void test_money_round_trips_through_format_and_parse(void)
{
	static const int64_t values[] = {
	    0, 1, 9, 10, 99, 100, 101, 12345, INT64_C(500000000), MONEY_MAX_FEN};
	char buf[MONEY_BUF];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		money_format(values[i], buf);
		CHECK(parsed_fen(buf) == values[i]);
	}
}

static void test_fen_add_sums_and_detects_overflow(void)
{
	int64_t r = 7;

	CHECK(fen_add(100, 250, &r) && r == 350);
	CHECK(fen_add(-100, 50, &r) && r == -50);
	CHECK(fen_add(INT64_MAX - 1, 1, &r) && r == INT64_MAX);
	r = 7;
	CHECK(!fen_add(INT64_MAX, 1, &r));
	CHECK(!fen_add(INT64_MIN, -1, &r));
	CHECK(!fen_add(INT64_MAX, INT64_MAX, &r));
	CHECK(r == 7);
}

static void test_fen_add_all_adds_every_sum_or_none(void)
{
	int64_t acc[3] = {1, 2, INT64_MAX - 5}, v[3] = {10, -20, 5};

	CHECK(fen_add_all(acc, v, 3));
	CHECK(acc[0] == 11 && acc[1] == -18 && acc[2] == INT64_MAX);
	CHECK(!fen_add_all(acc, v, 3)); /* the third overflows: the first two stay too */
	CHECK(acc[0] == 11 && acc[1] == -18 && acc[2] == INT64_MAX);
	v[2] = INT64_MIN;
	CHECK(fen_add_all(acc, v, 3) && acc[2] == -1);
	CHECK(fen_add_all(acc, v, 0) && acc[0] == 21);
}

static void test_fen_sub_subtracts_and_detects_overflow(void)
{
	int64_t r = 7;

	CHECK(fen_sub(100, 250, &r) && r == -150);
	CHECK(fen_sub(0, INT64_MAX, &r) && r == -INT64_MAX);
	CHECK(fen_sub(INT64_MIN + 1, 1, &r) && r == INT64_MIN);
	r = 7;
	CHECK(!fen_sub(0, INT64_MIN, &r));
	CHECK(!fen_sub(INT64_MIN, 1, &r));
	CHECK(!fen_sub(INT64_MAX, -1, &r));
	CHECK(r == 7);
}

static void test_fen_add_holds_9223_maximal_amounts_and_refuses_the_next(void)
{
	int64_t sum = 0;
	bool ok = true;

	for (int i = 0; i < 9223 && ok; i++)
		ok = fen_add(sum, MONEY_MAX_FEN, &sum);
	CHECK(ok);
	CHECK(sum == MONEY_MAX_FEN * 9223);
	CHECK(!fen_add(sum, MONEY_MAX_FEN, &sum));
	CHECK(sum == MONEY_MAX_FEN * 9223);
}

static void test_rate_parse_pads_short_decimals(void)
{
	CHECK(parsed_rate("4.35") == 43500);
	CHECK(parsed_rate("4.3500") == 43500);
	CHECK(parsed_rate("4.3") == 43000);
	CHECK(parsed_rate("4.355") == 43550);
	CHECK(parsed_rate("4") == 40000);
	CHECK(parsed_rate("0.0001") == 1);
}

static void test_rate_parse_accepts_zero_and_one_hundred(void)
{
	CHECK(parsed_rate("0") == 0);
	CHECK(parsed_rate("0.0000") == 0);
	CHECK(parsed_rate("100") == RATE_MAX_R4);
	CHECK(parsed_rate("100.0000") == RATE_MAX_R4);
}

static void test_rate_parse_rejects_above_one_hundred(void)
{
	CHECK(parsed_rate("100.0001") == -777);
	CHECK(parsed_rate("101") == -777);
	CHECK(parsed_rate("999.9999") == -777);
	CHECK(parsed_rate("1000") == -777);
}

static void test_rate_parse_rejects_five_decimals_and_bad_shapes(void)
{
	CHECK(parsed_rate("4.35001") == -777);
	CHECK(parsed_rate("") == -777);
	CHECK(parsed_rate(".5") == -777);
	CHECK(parsed_rate("5.") == -777);
	CHECK(parsed_rate("-1") == -777);
	CHECK(parsed_rate("+1") == -777);
	CHECK(parsed_rate(" 1") == -777);
	CHECK(parsed_rate("1 ") == -777);
	CHECK(parsed_rate("1e1") == -777);
	CHECK(parsed_rate("4.35%") == -777);
	CHECK(parsed_rate(NULL) == -777);
}

static void test_rate_format_always_prints_four_decimals(void)
{
	char buf[RATE_BUF];

	CHECK_STR(fmt_rate(43500, buf), "4.3500");
	CHECK_STR(fmt_rate(1, buf), "0.0001");
	CHECK_STR(fmt_rate(0, buf), "0.0000");
	CHECK_STR(fmt_rate(RATE_MAX_R4, buf), "100.0000");
	CHECK_STR(fmt_rate(-5000, buf), "-0.5000");
	CHECK_STR(fmt_rate(-1, buf), "-0.0001");
}

static void test_rate_format_clamps_huge_values_to_fit_buffer(void)
{
	char buf[RATE_BUF];

	CHECK_STR(fmt_rate(INT64_MAX, buf), "999999999.9999");
	CHECK_STR(fmt_rate(INT64_MIN, buf), "-999999999.9999");
	CHECK_STR(fmt_rate(INT64_C(9999999999999), buf), "999999999.9999");
}

static void test_div_round_half_away_rounds_positive_halves_up(void)
{
	CHECK(div_round_half_away(5, 2) == 3);
	CHECK(div_round_half_away(7, 2) == 4);
	CHECK(div_round_half_away(50, 100) == 1);
	CHECK(div_round_half_away(49, 100) == 0);
	CHECK(div_round_half_away(4, 3) == 1);
	CHECK(div_round_half_away(5, 3) == 2);
	CHECK(div_round_half_away(6, 3) == 2);
	CHECK(div_round_half_away(0, 7) == 0);
}

static void test_div_round_half_away_rounds_negative_halves_down(void)
{
	CHECK(div_round_half_away(-5, 2) == -3);
	CHECK(div_round_half_away(-7, 2) == -4);
	CHECK(div_round_half_away(-50, 100) == -1);
	CHECK(div_round_half_away(-49, 100) == 0);
	CHECK(div_round_half_away(-4, 3) == -1);
	CHECK(div_round_half_away(-5, 3) == -2);
}

static void test_div_round_half_away_handles_int64_extremes(void)
{
	CHECK(div_round_half_away(INT64_MAX, 1) == INT64_MAX);
	CHECK(div_round_half_away(INT64_MIN, 1) == INT64_MIN);
	CHECK(div_round_half_away(INT64_MAX, 2) == INT64_C(4611686018427387904));
	CHECK(div_round_half_away(INT64_MIN, 2) == INT64_MIN / 2);
	CHECK(div_round_half_away(INT64_MIN + 1, 2) == INT64_MIN / 2);
	CHECK(div_round_half_away(INT64_MAX, INT64_MAX) == 1);
	CHECK(div_round_half_away(INT64_MIN, INT64_MAX) == -1);
	CHECK(div_round_half_away(INT64_MAX / 2, INT64_MAX) == 0);
	CHECK(div_round_half_away(INT64_MAX / 2 + 1, INT64_MAX) == 1);
}

static void test_div_round_half_away_returns_zero_for_non_positive_den(void)
{
	CHECK(div_round_half_away(5, 0) == 0);
	CHECK(div_round_half_away(5, -2) == 0);
}

static void test_spread_bp_of_documented_example(void)
{
	/* 4.35 against the 2020-04-20 one-year LPR of 3.85: 50 bp. */
	CHECK(spread_bp(43500, 38500) == 50);
	CHECK(spread_bp(38500, 38500) == 0);
	CHECK(spread_bp(38500, 43500) == -50);
}

static void test_spread_bp_rounds_halves_away_from_zero(void)
{
	CHECK(spread_bp(38550, 38500) == 1);   /* 0.5 bp */
	CHECK(spread_bp(38549, 38500) == 0);   /* 0.49 bp */
	CHECK(spread_bp(38450, 38500) == -1);  /* -0.5 bp */
	CHECK(spread_bp(38451, 38500) == 0);   /* -0.49 bp */
	CHECK(spread_bp(43550, 38500) == 51);  /* 50.5 bp */
	CHECK(spread_bp(33450, 38500) == -51); /* -50.5 bp */
}

static void test_spread_bp_at_rate_limits(void)
{
	CHECK(spread_bp(RATE_MAX_R4, 0) == 10000);
	CHECK(spread_bp(0, RATE_MAX_R4) == -10000);
	CHECK(spread_bp(INT32_MAX, INT32_MIN) == 42949673);
	CHECK(spread_bp(INT32_MIN, INT32_MAX) == -42949673);
}

static void test_share_e4_rounds_to_four_decimals(void)
{
	CHECK(share_e4(5, 16) == 3125);
	CHECK(share_e4(1, 3) == 3333);
	CHECK(share_e4(2, 3) == 6667);
	CHECK(share_e4(1, 1) == 10000);
	CHECK(share_e4(0, 9) == 0);
	CHECK(share_e4(3, 2) == 15000);
}

static void test_share_e4_rounds_halves_away_from_zero(void)
{
	CHECK(share_e4(1, 20000) == 1);
	CHECK(share_e4(1, 20001) == 0);
	CHECK(share_e4(-1, 20000) == -1);
	CHECK(share_e4(1, -20000) == -1);
	CHECK(share_e4(-1, -20000) == 1);
}

static void test_share_e4_is_zero_for_zero_whole(void)
{
	CHECK(share_e4(0, 0) == 0);
	CHECK(share_e4(12345, 0) == 0);
}

static void test_share_e4_does_not_overflow_for_large_amounts(void)
{
	/* part * 10000 is far beyond int64_t here. */
	CHECK(share_e4(INT64_MAX, INT64_MAX) == 10000);
	CHECK(share_e4(INT64_MAX / 2, INT64_MAX) == 5000);
	CHECK(share_e4(INT64_MIN, INT64_MIN) == 10000);
	CHECK(share_e4(MONEY_MAX_FEN * 1000, MONEY_MAX_FEN * 3000) == 3333);
}

static void test_share_e4_clamps_quotients_beyond_int64(void)
{
	CHECK(share_e4(INT64_MAX, 1) == INT64_MAX);
	CHECK(share_e4(INT64_MIN, 1) == INT64_MIN);
	CHECK(share_e4(INT64_MAX, -1) == INT64_MIN);
}

static void test_weighted_avg_rate4_weights_by_amount(void)
{
	/* 1,000,000.00 at 4.35 and 3,000,000.00 at 3.85: 3.975. */
	__int128 sum = (__int128)43500 * 100000000 + (__int128)38500 * 300000000;

	CHECK(weighted_avg_rate4(sum, 400000000) == 39750);
	CHECK(weighted_avg_rate4((__int128)43500 * 7, 7) == 43500);
}

static void test_weighted_avg_rate4_rounds_halves_away_from_zero(void)
{
	CHECK(weighted_avg_rate4(3, 2) == 2);
	CHECK(weighted_avg_rate4(-3, 2) == -2);
	CHECK(weighted_avg_rate4(1, 3) == 0);
	CHECK(weighted_avg_rate4(2, 3) == 1);
}

static void test_weighted_avg_rate4_is_zero_without_amount(void)
{
	CHECK(weighted_avg_rate4(0, 0) == 0);
	CHECK(weighted_avg_rate4(12345, 0) == 0);
}

static void test_weighted_avg_rate4_handles_sums_beyond_int64(void)
{
	/* 9000 loans of 9,999,999,999,999.99 yuan at 100%. */
	__int128 sum = (__int128)RATE_MAX_R4 * MONEY_MAX_FEN * 9000;

	CHECK(sum > (__int128)INT64_MAX);
	CHECK(weighted_avg_rate4(sum, MONEY_MAX_FEN * 9000) == RATE_MAX_R4);
	CHECK(weighted_avg_rate4(sum + 1, MONEY_MAX_FEN * 9000) == RATE_MAX_R4);
}

int main(void)
{
	RUN(test_money_parse_accepts_zero_one_and_two_decimals);
	RUN(test_money_parse_accepts_13_integer_digits);
	RUN(test_money_parse_rejects_14_integer_digits);
	RUN(test_money_parse_rejects_three_decimals);
	RUN(test_money_parse_rejects_empty_parts);
	RUN(test_money_parse_rejects_signs_spaces_and_exponents);
	RUN(test_money_parse_rejects_separators_and_words);
	RUN(test_money_parse_rejects_null_and_leaves_output_alone);
	RUN(test_money_format_always_prints_two_decimals);
	RUN(test_money_format_prints_negatives_with_minus);
	RUN(test_money_format_handles_int64_extremes);
	RUN(test_money_round_trips_through_format_and_parse);
	RUN(test_fen_add_sums_and_detects_overflow);
	RUN(test_fen_add_all_adds_every_sum_or_none);
	RUN(test_fen_sub_subtracts_and_detects_overflow);
	RUN(test_fen_add_holds_9223_maximal_amounts_and_refuses_the_next);
	RUN(test_rate_parse_pads_short_decimals);
	RUN(test_rate_parse_accepts_zero_and_one_hundred);
	RUN(test_rate_parse_rejects_above_one_hundred);
	RUN(test_rate_parse_rejects_five_decimals_and_bad_shapes);
	RUN(test_rate_format_always_prints_four_decimals);
	RUN(test_rate_format_clamps_huge_values_to_fit_buffer);
	RUN(test_div_round_half_away_rounds_positive_halves_up);
	RUN(test_div_round_half_away_rounds_negative_halves_down);
	RUN(test_div_round_half_away_handles_int64_extremes);
	RUN(test_div_round_half_away_returns_zero_for_non_positive_den);
	RUN(test_spread_bp_of_documented_example);
	RUN(test_spread_bp_rounds_halves_away_from_zero);
	RUN(test_spread_bp_at_rate_limits);
	RUN(test_share_e4_rounds_to_four_decimals);
	RUN(test_share_e4_rounds_halves_away_from_zero);
	RUN(test_share_e4_is_zero_for_zero_whole);
	RUN(test_share_e4_does_not_overflow_for_large_amounts);
	RUN(test_share_e4_clamps_quotients_beyond_int64);
	RUN(test_weighted_avg_rate4_weights_by_amount);
	RUN(test_weighted_avg_rate4_rounds_halves_away_from_zero);
	RUN(test_weighted_avg_rate4_is_zero_without_amount);
	RUN(test_weighted_avg_rate4_handles_sums_beyond_int64);
	return CHECK_SUMMARY();
}
