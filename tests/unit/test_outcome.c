/* Unit tests for handlers/outcome: the one mapping of a database rejection (code, rule,
 * field, message) to the contract error, as docs/architecture.md ("Outcomes") lists it. */
#include "check.h"
#include "handlers/outcome.h"

static struct field_error map(const char *code, const char *rule, const char *prefix,
			      const char *field, const char *message)
{
	struct field_error err;

	memset(&err, 0x5a, sizeof err);
	outcome_error(code, rule, prefix, field, message, &err);
	return err;
}

static void test_codes_map_to_the_contract_errors(void)
{
	struct field_error e = map("conflict", NULL, NULL, "uscc", "already listed");

	CHECK(e.code == ERR_CONFLICT && e.rule == NULL);
	CHECK_STR(e.field, "uscc");
	CHECK_STR(e.message, "uscc: already listed");
	e = map("not_found", NULL, NULL, "", "no such loan");
	CHECK(e.code == ERR_NOT_FOUND);
	CHECK_STR(e.field, "");
	CHECK_STR(e.message, "no such loan");
	e = map("invalid_field", "L016", "loans[3]", "renews_loan_ref", "no loan");
	CHECK(e.code == ERR_INVALID_FIELD);
	CHECK_STR(e.rule, "L016");
	CHECK_STR(e.field, "loans[3].renews_loan_ref");
	CHECK_STR(e.message, "loans[3].renews_loan_ref: no loan");
}

static void test_a_rule_id_in_place_of_the_code_is_invalid_field_under_that_rule(void)
{
	struct field_error e = map("L050", NULL, NULL, "amount", "too much");

	CHECK(e.code == ERR_INVALID_FIELD);
	CHECK_STR(e.rule, "L050");
	CHECK_STR(e.message, "amount: too much");
}

static void test_rules_outside_the_catalog_are_dropped(void)
{
	struct field_error e = map("invalid_field", "L016e", NULL, "renews_loan_ref", "x");

	CHECK(e.rule == NULL);
	e = map("invalid_field", "", NULL, "f", "x");
	CHECK(e.rule == NULL);
}

static void test_an_unknown_code_is_internal_and_no_message_gets_the_default(void)
{
	struct field_error e = map("oops", NULL, NULL, NULL, NULL);

	CHECK(e.code == ERR_INTERNAL);
	CHECK_STR(e.field, "");
	CHECK_STR(e.message, api_error_message(ERR_INTERNAL));
	e = map(NULL, NULL, NULL, "x", NULL);
	CHECK(e.code == ERR_INTERNAL);
	e = map("conflict", NULL, NULL, "name", NULL);
	CHECK_STR(e.message, "name: the request conflicts with the stored state");
}

int main(void)
{
	RUN(test_codes_map_to_the_contract_errors);
	RUN(test_a_rule_id_in_place_of_the_code_is_invalid_field_under_that_rule);
	RUN(test_rules_outside_the_catalog_are_dropped);
	RUN(test_an_unknown_code_is_internal_and_no_message_gets_the_default);
	return CHECK_SUMMARY();
}
