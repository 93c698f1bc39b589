/* Unit tests for domain/codes: county and industry code formats, the Sanming
 * county list and grouping, manufacturing divisions, and the size and
 * guarantee-mode enums. */
#include "check.h"
#include "domain/codes.h"

static const char *const sanming_codes[] = {
    "350402", "350403", "350404", "350405", "350421", "350423", "350424",
    "350425", "350426", "350427", "350428", "350429", "350430", "350481",
};

#define N_SANMING (sizeof(sanming_codes) / sizeof(sanming_codes[0]))

static void test_county_code_accepts_six_digits(void)
{
	CHECK(county_code_valid("350402"));
	CHECK(county_code_valid("110101"));
	CHECK(county_code_valid("999999"));
	CHECK(county_code_valid("100000"));
}

static void test_county_code_rejects_leading_zero(void)
{
	CHECK(!county_code_valid("035040"));
	CHECK(!county_code_valid("000000"));
}

static void test_county_code_rejects_wrong_length_and_non_digits(void)
{
	CHECK(!county_code_valid(NULL));
	CHECK(!county_code_valid(""));
	CHECK(!county_code_valid("35040"));
	CHECK(!county_code_valid("3504020"));
	CHECK(!county_code_valid("35040a"));
	CHECK(!county_code_valid("35040 "));
	CHECK(!county_code_valid(" 350402"));
	CHECK(!county_code_valid("-35040"));
	CHECK(!county_code_valid("３５０４０２"));
}

static void test_county_is_sanming_knows_all_fourteen_codes(void)
{
	CHECK(N_SANMING == 14);
	for (size_t i = 0; i < N_SANMING; i++)
		CHECK(county_is_sanming(sanming_codes[i]));
}

static void test_county_is_sanming_rejects_neighbours_and_city_code(void)
{
	CHECK(!county_is_sanming("350400")); /* the city itself */
	CHECK(!county_is_sanming("350401"));
	CHECK(!county_is_sanming("350406"));
	CHECK(!county_is_sanming("350422")); /* no such county */
	CHECK(!county_is_sanming("350431"));
	CHECK(!county_is_sanming("350482"));
	CHECK(!county_is_sanming("350102")); /* Fuzhou */
	CHECK(!county_is_sanming("3504020"));
	CHECK(!county_is_sanming("35040"));
	CHECK(!county_is_sanming(NULL));
}

static void test_county_group_returns_sanming_code_itself(void)
{
	const char *code = "350481";

	CHECK(county_group(code) == code);
	for (size_t i = 0; i < N_SANMING; i++)
		CHECK_STR(county_group(sanming_codes[i]), sanming_codes[i]);
}

static void test_county_group_puts_everything_else_in_other(void)
{
	CHECK_STR(county_group("110101"), "other");
	CHECK_STR(county_group("350400"), "other");
	CHECK_STR(county_group("bogus"), "other");
	CHECK_STR(county_group(""), "other");
	CHECK_STR(county_group(NULL), "other");
	CHECK_STR(COUNTY_GROUP_OTHER, "other");
}

static void test_industry_code_accepts_divisions_01_to_97(void)
{
	CHECK(industry_code_valid("0111"));
	CHECK(industry_code_valid("3412"));
	CHECK(industry_code_valid("9700"));
	CHECK(industry_division("0111") == 1);
	CHECK(industry_division("3412") == 34);
	CHECK(industry_division("9700") == 97);
}

static void test_industry_code_rejects_divisions_00_and_98_up(void)
{
	CHECK(!industry_code_valid("0011"));
	CHECK(!industry_code_valid("9800"));
	CHECK(!industry_code_valid("9999"));
	CHECK(industry_division("0011") == -1);
	CHECK(industry_division("9800") == -1);
}

static void test_industry_code_rejects_wrong_length_and_non_digits(void)
{
	CHECK(!industry_code_valid(NULL));
	CHECK(!industry_code_valid(""));
	CHECK(!industry_code_valid("341"));
	CHECK(!industry_code_valid("34120"));
	CHECK(!industry_code_valid("C341"));
	CHECK(!industry_code_valid("34 2"));
	CHECK(!industry_code_valid("3412 "));
	CHECK(industry_division(NULL) == -1);
	CHECK(industry_division("C341") == -1);
}

static void test_manufacturing_is_divisions_13_to_43(void)
{
	CHECK(!industry_is_manufacturing("1299"));
	CHECK(industry_is_manufacturing("1300"));
	CHECK(industry_is_manufacturing("1311"));
	CHECK(industry_is_manufacturing("3412"));
	CHECK(industry_is_manufacturing("4390"));
	CHECK(!industry_is_manufacturing("4411"));
	CHECK(!industry_is_manufacturing("0111"));
	CHECK(!industry_is_manufacturing("7010"));
}

static void test_manufacturing_rejects_invalid_codes(void)
{
	CHECK(!industry_is_manufacturing(NULL));
	CHECK(!industry_is_manufacturing("34"));
	CHECK(!industry_is_manufacturing("341"));
	CHECK(!industry_is_manufacturing("34120"));
}

static void test_manufacturing_agrees_with_division_for_every_code(void)
{
	char code[5] = "0000";
	int bad = 0;

	for (int v = 0; v < 10000; v++) {
		int div = v / 100;
		bool want = div >= 13 && div <= 43;

		code[0] = (char)('0' + v / 1000);
		code[1] = (char)('0' + v / 100 % 10);
		code[2] = (char)('0' + v / 10 % 10);
		code[3] = (char)('0' + v % 10);
		if (industry_is_manufacturing(code) != want)
			bad++;
		if (industry_code_valid(code) != (div >= 1 && div <= 97))
			bad++;
	}
	CHECK(bad == 0);
}

static void test_firm_size_parses_all_names(void)
{
	enum firm_size size = SIZE_LARGE;

	CHECK(firm_size_parse("large", &size) && size == SIZE_LARGE);
	CHECK(firm_size_parse("medium", &size) && size == SIZE_MEDIUM);
	CHECK(firm_size_parse("small", &size) && size == SIZE_SMALL);
	CHECK(firm_size_parse("micro", &size) && size == SIZE_MICRO);
}

static void test_firm_size_rejects_other_spellings(void)
{
	enum firm_size size = SIZE_MEDIUM;

	CHECK(!firm_size_parse("Small", &size));
	CHECK(!firm_size_parse("SMALL", &size));
	CHECK(!firm_size_parse("small ", &size));
	CHECK(!firm_size_parse("smal", &size));
	CHECK(!firm_size_parse("individual", &size));
	CHECK(!firm_size_parse("", &size));
	CHECK(!firm_size_parse(NULL, &size));
	CHECK(size == SIZE_MEDIUM);
}

static void test_firm_size_names_round_trip(void)
{
	for (int i = SIZE_LARGE; i <= SIZE_MICRO; i++) {
		enum firm_size size = SIZE_LARGE;

		CHECK(firm_size_parse(firm_size_name((enum firm_size)i), &size));
		CHECK(size == (enum firm_size)i);
	}
	CHECK_STR(firm_size_name(SIZE_SMALL), "small");
	CHECK_STR(firm_size_name((enum firm_size)4), "unknown");
	CHECK_STR(firm_size_name((enum firm_size) - 1), "unknown");
}

static void test_firm_size_small_or_micro_only_for_small_and_micro(void)
{
	CHECK(!firm_size_small_or_micro(SIZE_LARGE));
	CHECK(!firm_size_small_or_micro(SIZE_MEDIUM));
	CHECK(firm_size_small_or_micro(SIZE_SMALL));
	CHECK(firm_size_small_or_micro(SIZE_MICRO));
}

static void test_guarantee_mode_parses_all_names(void)
{
	enum guarantee_mode mode = GM_PLEDGE;

	CHECK(guarantee_mode_parse("credit", &mode) && mode == GM_CREDIT);
	CHECK(guarantee_mode_parse("guaranteed", &mode) && mode == GM_GUARANTEED);
	CHECK(guarantee_mode_parse("collateral", &mode) && mode == GM_COLLATERAL);
	CHECK(guarantee_mode_parse("pledge", &mode) && mode == GM_PLEDGE);
}

static void test_guarantee_mode_rejects_other_spellings(void)
{
	enum guarantee_mode mode = GM_COLLATERAL;

	CHECK(!guarantee_mode_parse("Credit", &mode));
	CHECK(!guarantee_mode_parse("guarantee", &mode));
	CHECK(!guarantee_mode_parse("mortgage", &mode));
	CHECK(!guarantee_mode_parse(" pledge", &mode));
	CHECK(!guarantee_mode_parse("", &mode));
	CHECK(!guarantee_mode_parse(NULL, &mode));
	CHECK(mode == GM_COLLATERAL);
}

static void test_guarantee_mode_names_round_trip(void)
{
	for (int i = GM_CREDIT; i <= GM_PLEDGE; i++) {
		enum guarantee_mode mode = GM_CREDIT;

		CHECK(guarantee_mode_parse(guarantee_mode_name((enum guarantee_mode)i), &mode));
		CHECK(mode == (enum guarantee_mode)i);
	}
	CHECK_STR(guarantee_mode_name(GM_GUARANTEED), "guaranteed");
	CHECK_STR(guarantee_mode_name((enum guarantee_mode)4), "unknown");
}

int main(void)
{
	RUN(test_county_code_accepts_six_digits);
	RUN(test_county_code_rejects_leading_zero);
	RUN(test_county_code_rejects_wrong_length_and_non_digits);
	RUN(test_county_is_sanming_knows_all_fourteen_codes);
	RUN(test_county_is_sanming_rejects_neighbours_and_city_code);
	RUN(test_county_group_returns_sanming_code_itself);
	RUN(test_county_group_puts_everything_else_in_other);
	RUN(test_industry_code_accepts_divisions_01_to_97);
	RUN(test_industry_code_rejects_divisions_00_and_98_up);
	RUN(test_industry_code_rejects_wrong_length_and_non_digits);
	RUN(test_manufacturing_is_divisions_13_to_43);
	RUN(test_manufacturing_rejects_invalid_codes);
	RUN(test_manufacturing_agrees_with_division_for_every_code);
	RUN(test_firm_size_parses_all_names);
	RUN(test_firm_size_rejects_other_spellings);
	RUN(test_firm_size_names_round_trip);
	RUN(test_firm_size_small_or_micro_only_for_small_and_micro);
	RUN(test_guarantee_mode_parses_all_names);
	RUN(test_guarantee_mode_rejects_other_spellings);
	RUN(test_guarantee_mode_names_round_trip);
	return CHECK_SUMMARY();
}
