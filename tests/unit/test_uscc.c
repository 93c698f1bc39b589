/* Unit tests for domain/uscc: GB 32100-2015 alphabet, length and check
 * character, including the code a public validator wrongly lets through. */
#include "check.h"
#include "domain/uscc.h"

#include <stdint.h>

#define ALPHABET "0123456789ABCDEFGHJKLMNPQRTUWXY"

/* Reference check character computed from the standard's formula, with the
 * weights derived here as 3^(i-1) mod 31 rather than taken from a table. */
static char reference_check(const char *body)
{
	int sum = 0, w = 1, c;

	for (int i = 0; i < 17; i++) {
		sum += (int)(strchr(ALPHABET, body[i]) - ALPHABET) * w;
		w = w * 3 % 31;
	}
	c = 31 - sum % 31;
	return ALPHABET[c == 31 ? 0 : c];
}

/* Deterministic pseudo-random numbers for generated codes. */
static uint32_t next_random(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

static void random_body(uint32_t *state, char code[USCC_LEN + 1])
{
	for (int i = 0; i < 17; i++)
		code[i] = ALPHABET[next_random(state) % 31];
	code[17] = '\0';
	code[18] = '\0';
}

static void test_uscc_accepts_the_documented_valid_codes(void)
{
	CHECK(uscc_problem("91350200776049653A") == NULL);
	CHECK(uscc_problem("914403001922038216") == NULL);
}

static void test_uscc_rejects_the_code_other_validators_let_through(void)
{
	CHECK_STR(uscc_problem("91350203M0001QAY9B"), "check character does not match");
}

static void test_uscc_rule_names_L003_for_the_check_character_and_L002_for_the_rest(void)
{
	char buf[USCC_PROBLEM_BUF];

	CHECK(uscc_rule(uscc_problem("91350200776049653A")) == NULL);
	CHECK_STR(uscc_rule(uscc_problem("91350203M0001QAY9B")), "L003");
	CHECK_STR(uscc_rule(uscc_problem(NULL)), "L002");
	CHECK_STR(uscc_rule(uscc_problem("9135020077604965")), "L002");
	CHECK_STR(uscc_rule(uscc_problem_r("91350200776049653I", buf)), "L002");
}

static void test_uscc_check_char_matches_documented_codes(void)
{
	CHECK(uscc_check_char("91350200776049653A") == 'A');
	CHECK(uscc_check_char("91350200776049653") == 'A');
	CHECK(uscc_check_char("914403001922038216") == '6');
	CHECK(uscc_check_char("91350203M0001QAY9B") != 'B');
}

static void test_uscc_check_char_rejects_short_or_bad_bodies(void)
{
	CHECK(uscc_check_char(NULL) == '\0');
	CHECK(uscc_check_char("") == '\0');
	CHECK(uscc_check_char("9135020077604965") == '\0');
	CHECK(uscc_check_char("9135020077604965I") == '\0');
}

static void test_uscc_check_char_agrees_with_reference_formula(void)
{
	uint32_t state = 20200512;
	char code[USCC_LEN + 1];

	for (int n = 0; n < 5000; n++) {
		random_body(&state, code);
		CHECK(uscc_check_char(code) == reference_check(code));
	}
}

static void test_uscc_check_zero_when_sum_is_multiple_of_31(void)
{
	/* All zeros sum to 0, so the check is 31 - 0 = 31, which becomes 0. */
	CHECK(uscc_check_char("00000000000000000") == '0');
	CHECK(uscc_problem("000000000000000000") == NULL);
	CHECK_STR(uscc_problem("00000000000000000Y"), "check character does not match");
}

static void test_uscc_accepts_generated_codes_and_only_their_check_char(void)
{
	uint32_t state = 1;
	char code[USCC_LEN + 1];

	for (int n = 0; n < 500; n++) {
		char good;

		random_body(&state, code);
		good = reference_check(code);
		for (const char *c = ALPHABET; *c != '\0'; c++) {
			code[17] = *c;
			if (*c == good)
				CHECK(uscc_problem(code) == NULL);
			else
				CHECK_STR(uscc_problem(code), "check character does not match");
		}
	}
}

static void test_uscc_detects_every_single_character_change(void)
{
	char code[] = "91350200776049653A";

	for (int i = 0; i < 17; i++) {
		char orig = code[i];

		for (const char *c = ALPHABET; *c != '\0'; c++) {
			if (*c == orig)
				continue;
			code[i] = *c;
			CHECK_STR(uscc_problem(code), "check character does not match");
		}
		code[i] = orig;
	}
	CHECK(uscc_problem(code) == NULL);
}

static void test_uscc_detects_adjacent_transpositions(void)
{
	char code[] = "91350200776049653A";

	for (int i = 0; i < 16; i++) {
		char a = code[i], b = code[i + 1];

		if (a == b)
			continue;
		code[i] = b;
		code[i + 1] = a;
		CHECK(uscc_problem(code) != NULL);
		code[i] = a;
		code[i + 1] = b;
	}
}

static void test_uscc_rejects_null(void)
{
	CHECK_STR(uscc_problem(NULL), "is missing");
}

static void test_uscc_rejects_wrong_lengths(void)
{
	CHECK_STR(uscc_problem(""), "must be 18 characters");
	CHECK_STR(uscc_problem("91350200776049653"), "must be 18 characters");
	CHECK_STR(uscc_problem("91350200776049653A0"), "must be 18 characters");
	CHECK_STR(uscc_problem(" 91350200776049653A"), "must be 18 characters");
	CHECK_STR(uscc_problem("91350200776049653A\n"), "must be 18 characters");
}

static void test_uscc_rejects_lower_case(void)
{
	CHECK_STR(uscc_problem("91350200776049653a"),
		  "character 'a' at position 18 is not allowed (use upper case)");
	CHECK_STR(uscc_problem("91350203m0001QAY9B"),
		  "character 'm' at position 9 is not allowed (use upper case)");
}

static void test_uscc_rejects_excluded_letters_with_position(void)
{
	CHECK_STR(uscc_problem("9135I200776049653A"), "character 'I' at position 5 is not allowed");
	CHECK_STR(uscc_problem("O1350200776049653A"), "character 'O' at position 1 is not allowed");
	CHECK_STR(uscc_problem("91350200776049653S"),
		  "character 'S' at position 18 is not allowed");
	CHECK_STR(uscc_problem("913502007760V9653A"),
		  "character 'V' at position 13 is not allowed");
	CHECK_STR(uscc_problem("91350200776049Z53A"),
		  "character 'Z' at position 15 is not allowed");
}

static void test_uscc_lower_case_excluded_letter_gets_no_upper_case_hint(void)
{
	CHECK_STR(uscc_problem("9135i200776049653A"), "character 'i' at position 5 is not allowed");
}

static void test_uscc_rejects_punctuation_space_and_non_ascii(void)
{
	CHECK_STR(uscc_problem("91350200-76049653A"), "character '-' at position 9 is not allowed");
	CHECK_STR(uscc_problem("91350200 76049653A"), "character ' ' at position 9 is not allowed");
	CHECK_STR(uscc_problem("9135020077604965\xef\xbc"),
		  "byte 0xEF at position 17 is not allowed");
	CHECK_STR(uscc_problem("\t1350200776049653A0"), "must be 18 characters");
	CHECK_STR(uscc_problem("\t1350200776049653A"), "byte 0x09 at position 1 is not allowed");
}

static void test_uscc_reports_the_first_bad_character(void)
{
	CHECK_STR(uscc_problem("9I350200776049653O"), "character 'I' at position 2 is not allowed");
}

static void test_uscc_problem_r_writes_into_callers_buffer(void)
{
	char buf[USCC_PROBLEM_BUF];
	const char *msg = uscc_problem_r("9135I200776049653A", buf);

	CHECK(msg == buf);
	CHECK_STR(buf, "character 'I' at position 5 is not allowed");
	CHECK(uscc_problem_r("91350200776049653A", buf) == NULL);
	CHECK_STR(uscc_problem_r("short", buf), "must be 18 characters");
}

int main(void)
{
	RUN(test_uscc_accepts_the_documented_valid_codes);
	RUN(test_uscc_rejects_the_code_other_validators_let_through);
	RUN(test_uscc_rule_names_L003_for_the_check_character_and_L002_for_the_rest);
	RUN(test_uscc_check_char_matches_documented_codes);
	RUN(test_uscc_check_char_rejects_short_or_bad_bodies);
	RUN(test_uscc_check_char_agrees_with_reference_formula);
	RUN(test_uscc_check_zero_when_sum_is_multiple_of_31);
	RUN(test_uscc_accepts_generated_codes_and_only_their_check_char);
	RUN(test_uscc_detects_every_single_character_change);
	RUN(test_uscc_detects_adjacent_transpositions);
	RUN(test_uscc_rejects_null);
	RUN(test_uscc_rejects_wrong_lengths);
	RUN(test_uscc_rejects_lower_case);
	RUN(test_uscc_rejects_excluded_letters_with_position);
	RUN(test_uscc_lower_case_excluded_letter_gets_no_upper_case_hint);
	RUN(test_uscc_rejects_punctuation_space_and_non_ascii);
	RUN(test_uscc_reports_the_first_bad_character);
	RUN(test_uscc_problem_r_writes_into_callers_buffer);
	return CHECK_SUMMARY();
}
