/* Unit tests for domain/scf: the core enterprise's reward below, at and above its member
 * threshold and its cap, half-away-from-zero rounding to the fen, and the names of
 * products and member sides. */
#include "check.h"
#include "domain/scf.h"

#include <stdint.h>

static const struct scf_reward_rule seeded = {100, 10, INT64_C(200000000)};

static void test_reward_needs_the_member_threshold(void)
{
	/* 9,000,000.00 yuan to 9 members: none; the same to 10 or 11: 1% = 90,000.00. */
	CHECK(scf_reward(INT64_C(900000000), 9, &seeded) == 0);
	CHECK(scf_reward(INT64_C(900000000), 10, &seeded) == INT64_C(9000000));
	CHECK(scf_reward(INT64_C(900000000), 11, &seeded) == INT64_C(9000000));
	CHECK(scf_reward(0, 50, &seeded) == 0);
}

static void test_reward_rounds_half_away_from_zero_to_the_fen(void)
{
	/* 10,000,000.50 -> 100,000.005 -> 100,000.01; 10,000,000.49 -> 100,000.0049 -> .00. */
	CHECK(scf_reward(INT64_C(1000000050), 10, &seeded) == INT64_C(10000001));
	CHECK(scf_reward(INT64_C(1000000049), 10, &seeded) == INT64_C(10000000));
	CHECK(scf_reward(INT64_C(149), 10, &seeded) == 1);
	CHECK(scf_reward(INT64_C(150), 10, &seeded) == 2);
}

static void test_reward_is_capped(void)
{
	/* 199,999,999.00 -> 1,999,999.99; 200,000,000.00 -> the cap; 250,000,000.00 -> the cap. */
	CHECK(scf_reward(INT64_C(19999999900), 11, &seeded) == INT64_C(199999999));
	CHECK(scf_reward(INT64_C(20000000000), 10, &seeded) == INT64_C(200000000));
	CHECK(scf_reward(INT64_C(25000000000), 11, &seeded) == INT64_C(200000000));
	/* No overflow in the middle: the largest sum times 100% is still capped. */
	struct scf_reward_rule all = {10000, 1, INT64_MAX};

	CHECK(scf_reward(INT64_MAX, 1, &all) == INT64_MAX);
}

static void test_reward_follows_its_parameters(void)
{
	struct scf_reward_rule r = {150, 9, INT64_C(200000000)};

	/* 9,000,000.00 x 1.5% = 135,000.00 with a threshold of 9. */
	CHECK(scf_reward(INT64_C(900000000), 9, &r) == INT64_C(13500000));
	r.rate_bp = 0;
	CHECK(scf_reward(INT64_C(900000000), 9, &r) == 0);
}

static void test_products_and_sides(void)
{
	CHECK(scf_product_valid("receivables") && scf_product_valid("orders"));
	CHECK(scf_product_valid("prepayment") && scf_product_valid("inventory"));
	CHECK(!scf_product_valid("Orders") && !scf_product_valid("") && !scf_product_valid(NULL));
	CHECK(scf_side_valid("upstream") && scf_side_valid("downstream"));
	CHECK(!scf_side_valid("core") && !scf_side_valid(NULL));
}

int main(void)
{
	RUN(test_reward_needs_the_member_threshold);
	RUN(test_reward_rounds_half_away_from_zero_to_the_fen);
	RUN(test_reward_is_capped);
	RUN(test_reward_follows_its_parameters);
	RUN(test_products_and_sides);
	return CHECK_SUMMARY();
}
