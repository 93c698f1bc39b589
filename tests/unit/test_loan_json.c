/* Unit tests for json/loan_json: every single-field rule of a loan, its borrower, a
 * repayment and a void, good and bad, with rule ids and field paths; and the canonical
 * JSON that tells a safe retry from a conflicting one. */
#include "check.h"
#include "good_loan.h"
#include "domain/dates.h"
#include "json/loan_json.h"

#include <stdlib.h>

static const char good_json[] = GOOD_LOAN_JSON;

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);

	if (v == NULL)
		fprintf(stderr, "  bad test JSON %s: %s\n", text, e.text);
	return v;
}

/* The good loan with the member at path ("amount", "borrower.uscc") set to the JSON
 * value_json, or removed when value_json is NULL. */
static json_t *mutated(const char *path, const char *value_json)
{
	json_t *obj = load(good_json), *target = obj;
	const char *dot = strchr(path, '.');
	char parent[64];

	if (dot != NULL) {
		snprintf(parent, sizeof parent, "%.*s", (int)(dot - path), path);
		target = json_object_get(obj, parent);
		path = dot + 1;
	}
	if (value_json == NULL)
		json_object_del(target, path);
	else
		json_object_set_new(target, path, load(value_json));
	return obj;
}

/* Checks that the good loan with path set to value_json fails with code, rule, field. */
static void expect_fail(const char *path, const char *value_json, enum api_error code,
			const char *rule, const char *field)
{
	json_t *obj = mutated(path, value_json);
	struct loan_input in;
	struct field_error err;

	memset(&err, 0, sizeof err);
	CHECK(!loan_from_json(obj, "", &in, &err));
	if (err.code != code ||
	    (rule == NULL ? err.rule != NULL : err.rule == NULL || strcmp(err.rule, rule) != 0) ||
	    strcmp(err.field, field) != 0) {
		fprintf(stderr, "  %s = %s: got code %d rule %s field %s (%s)\n", path,
			value_json ? value_json : "(removed)", (int)err.code,
			err.rule ? err.rule : "(null)", err.field, err.message);
		CHECK(!"error as expected");
	}
	CHECK(strncmp(err.message, field, strlen(field)) == 0);
	json_decref(obj);
}

static void expect_invalid(const char *path, const char *value_json, const char *rule)
{
	expect_fail(path, value_json, ERR_INVALID_FIELD, rule, path);
}

static void expect_ok(const char *path, const char *value_json)
{
	json_t *obj = mutated(path, value_json);
	struct loan_input in;
	struct field_error err;

	if (!loan_from_json(obj, "", &in, &err)) {
		fprintf(stderr, "  %s = %s: %s\n", path, value_json ? value_json : "(removed)",
			err.message);
		CHECK(!"accepted");
	}
	json_decref(obj);
}

/* A string of n copies of the UTF-8 character c, as a JSON string literal; static. */
static const char *repeated(const char *c, int n)
{
	static char buf[4096];
	size_t len = strlen(c), at = 0;

	buf[at++] = '"';
	for (int i = 0; i < n; i++, at += len)
		memcpy(buf + at, c, len);
	buf[at++] = '"';
	buf[at] = '\0';
	return buf;
}

static void test_good_loan_parses_to_exact_values(void)
{
	json_t *obj = load(good_json);
	struct loan_input in;
	struct field_error err;
	int32_t d;

	CHECK(loan_from_json(obj, "", &in, &err));
	CHECK_STR(in.loan_ref, "CIB-SM-2020-000123");
	CHECK_STR(in.borrower.uscc, "91350200776049653A");
	CHECK_STR(in.borrower.name, "三明某机械有限公司");
	CHECK_STR(in.borrower.county_code, "350402");
	CHECK_STR(in.borrower.industry_code, "3412");
	CHECK(in.borrower.size == SIZE_SMALL);
	CHECK(in.amount == 500000000);
	CHECK(date_parse("2020-05-12", &d) && in.issue_date == d);
	CHECK(date_parse("2023-05-11", &d) && in.maturity_date == d);
	CHECK(in.rate == 43500);
	CHECK(in.guarantee_mode == GM_CREDIT);
	CHECK(in.guarantor_code == NULL);
	CHECK(in.first_loan && !in.renewal && !in.relief_fund);
	CHECK(in.renews_loan_ref == NULL);
	CHECK(in.scf_program_id == 0);
	CHECK(in.credit_line == 500000000);
	/* Strings are borrowed from the JSON. */
	CHECK(in.loan_ref == json_string_value(json_object_get(obj, "loan_ref")));
	json_decref(obj);
}

static void test_optional_fields_may_be_absent_and_credit_line_defaults_to_amount(void)
{
	json_t *obj = load(good_json);
	struct loan_input in;
	struct field_error err;

	json_object_del(obj, "guarantor_code");
	json_object_del(obj, "renews_loan_ref");
	json_object_del(obj, "scf_program_id");
	json_object_del(obj, "credit_line");
	json_object_set_new(obj, "amount", json_string("1234.5"));
	CHECK(loan_from_json(obj, "", &in, &err));
	CHECK(in.amount == 123450);
	CHECK(in.credit_line == 123450);
	json_decref(obj);
}

static void test_optional_fields_with_values_parse(void)
{
	json_t *obj = load(good_json);
	struct loan_input in;
	struct field_error err;

	json_object_set_new(obj, "guarantee_mode", json_string("guaranteed"));
	json_object_set_new(obj, "guarantor_code", json_string("SMRZDB"));
	json_object_set_new(obj, "renewal", json_true());
	json_object_set_new(obj, "renews_loan_ref", json_string("兴银(2019)贷字第0001号"));
	json_object_set_new(obj, "scf_program_id", json_integer(42));
	json_object_set_new(obj, "credit_line", json_string("8000000"));
	CHECK(loan_from_json(obj, "", &in, &err));
	CHECK(in.guarantee_mode == GM_GUARANTEED);
	CHECK_STR(in.guarantor_code, "SMRZDB");
	CHECK(in.renewal);
	CHECK_STR(in.renews_loan_ref, "兴银(2019)贷字第0001号");
	CHECK(in.scf_program_id == 42);
	CHECK(in.credit_line == 800000000);
	json_decref(obj);
}

static void test_l001_loan_ref(void)
{
	expect_invalid("loan_ref", NULL, "L001");
	expect_invalid("loan_ref", "null", "L001");
	expect_invalid("loan_ref", "\"\"", "L001");
	expect_invalid("loan_ref", "123", "L001");
	expect_invalid("loan_ref", "\"CIB\\u0007\"", "L001");
	expect_invalid("loan_ref", "\"CIB\\n1\"", "L001");
	expect_invalid("loan_ref", "\"CIB\\u200b1\"", "L001");
	expect_invalid("loan_ref", repeated("a", 65), "L001");
	expect_invalid("loan_ref", repeated("贷", 65), "L001");
	expect_ok("loan_ref", repeated("a", 64));
	expect_ok("loan_ref", repeated("贷", 64)); /* 192 bytes, 64 characters */
	expect_ok("loan_ref", "\"兴银(2020)贷字第0070号\"");
	expect_ok("loan_ref", "\"x\"");
}

static void test_l002_l003_uscc(void)
{
	expect_invalid("borrower.uscc", NULL, "L002");
	expect_invalid("borrower.uscc", "91350200776049653", "L002");
	expect_invalid("borrower.uscc", "\"91350200776049653a\"", "L002");
	expect_invalid("borrower.uscc", "\"9135020077604965\"", "L002");
	expect_invalid("borrower.uscc", "\"91350200776049653A0\"", "L002");
	expect_invalid("borrower.uscc", "\"9135I200776049653A\"", "L002");
	expect_invalid("borrower.uscc", "\"91350200776049653I\"", "L002");
	expect_invalid("borrower.uscc", "\"91350203M0001QAY9B\"", "L003");
	expect_invalid("borrower.uscc", "\"91350200776049653B\"", "L003");
	expect_ok("borrower.uscc", "\"914403001922038216\"");
}

static void test_uscc_message_says_what_is_wrong(void)
{
	json_t *obj = mutated("borrower.uscc", "\"91350203M0001QAY9B\"");
	struct loan_input in;
	struct field_error err;

	CHECK(!loan_from_json(obj, "", &in, &err));
	CHECK_STR(err.message, "borrower.uscc: check character does not match");
	json_decref(obj);
}

static void test_l004_name(void)
{
	expect_invalid("borrower.name", NULL, "L004");
	expect_invalid("borrower.name", "\"\"", "L004");
	expect_invalid("borrower.name", "[]", "L004");
	expect_invalid("borrower.name", "\"三明\\r\\n某公司\"", "L004");
	expect_invalid("borrower.name", repeated("公", 201), "L004");
	expect_ok("borrower.name", repeated("公", 200));
	expect_ok("borrower.name", "\"Sanming Machinery Co., Ltd.\"");
}

static void test_l005_county_code(void)
{
	expect_invalid("borrower.county_code", NULL, "L005");
	expect_invalid("borrower.county_code", "350402", "L005");
	expect_invalid("borrower.county_code", "\"35040\"", "L005");
	expect_invalid("borrower.county_code", "\"035040\"", "L005");
	expect_invalid("borrower.county_code", "\"35040a\"", "L005");
	expect_ok("borrower.county_code", "\"110101\"");
}

static void test_l006_industry_code(void)
{
	expect_invalid("borrower.industry_code", NULL, "L006");
	expect_invalid("borrower.industry_code", "3412", "L006");
	expect_invalid("borrower.industry_code", "\"341\"", "L006");
	expect_invalid("borrower.industry_code", "\"0012\"", "L006");
	expect_invalid("borrower.industry_code", "\"9801\"", "L006");
	expect_ok("borrower.industry_code", "\"0111\"");
	expect_ok("borrower.industry_code", "\"9700\"");
}

static void test_l007_size(void)
{
	expect_invalid("borrower.size", NULL, "L007");
	expect_invalid("borrower.size", "\"Small\"", "L007");
	expect_invalid("borrower.size", "\"tiny\"", "L007");
	expect_invalid("borrower.size", "2", "L007");
	expect_ok("borrower.size", "\"large\"");
	expect_ok("borrower.size", "\"medium\"");
	expect_ok("borrower.size", "\"micro\"");
}

static void test_l008_amount(void)
{
	json_t *obj = mutated("amount", "5000000");
	struct loan_input in;
	struct field_error err;

	CHECK(!loan_from_json(obj, "", &in, &err));
	CHECK_STR(err.message, "amount: must be a string like \"5000000.00\"");
	json_decref(obj);
	expect_invalid("amount", NULL, "L008");
	expect_invalid("amount", "5000000.00", "L008");
	expect_invalid("amount", "\"5000000.001\"", "L008");
	expect_invalid("amount", "\"0\"", "L008");
	expect_invalid("amount", "\"0.00\"", "L008");
	expect_invalid("amount", "\"-1.00\"", "L008");
	expect_invalid("amount", "\"1e6\"", "L008");
	expect_invalid("amount", "\"5,000,000.00\"", "L008");
	expect_invalid("amount", "\" 5000000.00\"", "L008");
	expect_invalid("amount", "\"\"", "L008");
	expect_invalid("amount", "\"10000000000000.00\"", "L008");
	expect_ok("amount", "\"0.01\"");
	expect_ok("amount", "\"5000000\"");
}

static void test_l009_l010_dates(void)
{
	expect_invalid("issue_date", NULL, "L009");
	expect_invalid("issue_date", "\"2020-02-30\"", "L009");
	expect_invalid("issue_date", "\"2020/05/12\"", "L009");
	expect_invalid("issue_date", "\"2020-5-12\"", "L009");
	expect_invalid("issue_date", "20200512", "L009");
	expect_invalid("maturity_date", NULL, "L010");
	expect_invalid("maturity_date", "\"2021-02-29\"", "L010");
	expect_invalid("maturity_date", "\"2023-05-11T00:00:00Z\"", "L010");
	expect_ok("maturity_date", "\"2024-02-29\"");
}

static void test_l011_rate(void)
{
	expect_invalid("rate", NULL, "L011");
	expect_invalid("rate", "4.35", "L011");
	expect_invalid("rate", "\"0\"", "L011");
	expect_invalid("rate", "\"0.0000\"", "L011");
	expect_invalid("rate", "\"100.0001\"", "L011");
	expect_invalid("rate", "\"4.35001\"", "L011");
	expect_invalid("rate", "\"4.35%\"", "L011");
	expect_invalid("rate", "\"-4.35\"", "L011");
	expect_ok("rate", "\"100\"");
	expect_ok("rate", "\"0.0001\"");
	expect_ok("rate", "\"4.35\"");
}

static void test_l012_guarantee_mode(void)
{
	expect_invalid("guarantee_mode", NULL, "L012");
	expect_invalid("guarantee_mode", "\"Credit\"", "L012");
	expect_invalid("guarantee_mode", "\"loan\"", "L012");
	expect_invalid("guarantee_mode", "true", "L012");
	expect_ok("guarantee_mode", "\"collateral\"");
	expect_ok("guarantee_mode", "\"pledge\"");
}

static void test_l013_l016_optional_codes_are_text(void)
{
	expect_invalid("guarantor_code", "7", "L013");
	expect_invalid("guarantor_code", "\"\"", "L013");
	expect_invalid("guarantor_code", "\"SM\\tDB\"", "L013");
	expect_invalid("guarantor_code", repeated("g", 65), "L013");
	expect_ok("guarantor_code", "\"SMRZDB\""); /* the pairing is loan_check()'s */
	expect_invalid("renews_loan_ref", "1", "L016");
	expect_invalid("renews_loan_ref", "\"\"", "L016");
	expect_invalid("renews_loan_ref", repeated("r", 65), "L016");
	expect_ok("renews_loan_ref", "\"CIB-SM-2019-000001\"");
}

static void test_l014_l015_l017_booleans(void)
{
	expect_invalid("first_loan", NULL, "L014");
	expect_invalid("first_loan", "null", "L014");
	expect_invalid("first_loan", "\"true\"", "L014");
	expect_invalid("first_loan", "1", "L014");
	expect_invalid("renewal", NULL, "L015");
	expect_invalid("renewal", "0", "L015");
	expect_invalid("relief_fund", NULL, "L017");
	expect_invalid("relief_fund", "\"false\"", "L017");
	expect_ok("relief_fund", "true");
}

static void test_l020_credit_line_format(void)
{
	expect_invalid("credit_line", "5000000", "L020");
	expect_invalid("credit_line", "\"abc\"", "L020");
	expect_invalid("credit_line", "\"0.00\"", "L020");
	expect_invalid("credit_line", "\"1.234\"", "L020");
	expect_ok("credit_line", "null");
	expect_ok("credit_line", NULL);
	expect_ok("credit_line", "\"1.00\""); /* below amount: loan_check()'s L020 */
}

static void test_l021_scf_program_id(void)
{
	expect_invalid("scf_program_id", "\"5\"", "L021");
	expect_invalid("scf_program_id", "0", "L021");
	expect_invalid("scf_program_id", "-3", "L021");
	expect_invalid("scf_program_id", "1.0", "L021");
	expect_invalid("scf_program_id", "true", "L021");
	expect_ok("scf_program_id", "1");
	expect_ok("scf_program_id", "9223372036854775807");
}

static void test_unknown_fields_are_rejected_top_level_and_in_borrower(void)
{
	expect_fail("amout", "\"1.00\"", ERR_UNKNOWN_FIELD, NULL, "amout");
	expect_fail("borrower.uscc_code", "\"x\"", ERR_UNKNOWN_FIELD, NULL, "borrower.uscc_code");
	expect_fail("bank_code", "\"CIB-SM\"", ERR_UNKNOWN_FIELD, NULL, "bank_code");
}

static void test_borrower_missing_or_not_an_object(void)
{
	expect_fail("borrower", NULL, ERR_INVALID_FIELD, NULL, "borrower");
	expect_fail("borrower", "null", ERR_INVALID_FIELD, NULL, "borrower");
	expect_fail("borrower", "\"91350200776049653A\"", ERR_INVALID_FIELD, NULL, "borrower");
	expect_fail("borrower", "{}", ERR_INVALID_FIELD, "L002", "borrower.uscc");
}

static void test_non_object_loan_is_bad_json(void)
{
	struct loan_input in;
	struct field_error err;
	json_t *arr = json_array();

	CHECK(!loan_from_json(arr, "", &in, &err));
	CHECK(err.code == ERR_BAD_JSON);
	CHECK_STR(err.field, "");
	CHECK_STR(err.message, "must be a JSON object");
	CHECK(!loan_from_json(arr, "loans[7]", &in, &err));
	CHECK_STR(err.field, "loans[7]");
	CHECK_STR(err.message, "loans[7]: must be a JSON object");
	CHECK(!loan_from_json(NULL, "", &in, &err));
	json_decref(arr);
}

static void test_paths_carry_the_batch_prefix(void)
{
	struct loan_input in;
	struct field_error err;
	json_t *obj = mutated("borrower.uscc", "\"91350203M0001QAY9B\"");

	CHECK(!loan_from_json(obj, "loans[3]", &in, &err));
	CHECK_STR(err.rule, "L003");
	CHECK_STR(err.field, "loans[3].borrower.uscc");
	CHECK_STR(err.message, "loans[3].borrower.uscc: check character does not match");
	json_decref(obj);
	obj = mutated("amount", "1");
	CHECK(!loan_from_json(obj, "loans[3]", &in, &err));
	CHECK_STR(err.field, "loans[3].amount");
	json_decref(obj);
	obj = mutated("borrower.x", "1");
	CHECK(!loan_from_json(obj, "loans[3]", &in, &err));
	CHECK(err.code == ERR_UNKNOWN_FIELD);
	CHECK_STR(err.field, "loans[3].borrower.x");
	json_decref(obj);
}

static void test_strings_with_nul_are_rejected_with_the_fields_rule(void)
{
	json_t *obj = load(good_json);
	struct loan_input in;
	struct field_error err;

	json_object_set_new(json_object_get(obj, "borrower"), "county_code",
			    json_stringn("350402\0zz", 9));
	CHECK(!loan_from_json(obj, "", &in, &err));
	CHECK_STR(err.rule, "L005");
	CHECK_STR(err.field, "borrower.county_code");
	json_object_set_new(json_object_get(obj, "borrower"), "county_code", json_string("350402"));
	json_object_set_new(obj, "loan_ref", json_stringn("A\0B", 3));
	CHECK(!loan_from_json(obj, "", &in, &err));
	CHECK_STR(err.rule, "L001");
	json_decref(obj);
}

static void test_firm_from_json_alone_and_nested(void)
{
	json_t *firm = load("{\"uscc\": \"914403001922038216\", \"name\": \"某公司\","
			    " \"county_code\": \"440300\", \"industry_code\": \"5191\","
			    " \"size\": \"micro\"}");
	struct firm f;
	struct field_error err;

	CHECK(firm_from_json(firm, "core", &f, &err));
	CHECK_STR(f.uscc, "914403001922038216");
	CHECK(f.size == SIZE_MICRO);
	json_object_set_new(firm, "size", json_string("mini"));
	CHECK(!firm_from_json(firm, "loans[3].borrower", &f, &err));
	CHECK_STR(err.field, "loans[3].borrower.size");
	CHECK_STR(err.rule, "L007");
	CHECK(!firm_from_json(firm, "", &f, &err));
	CHECK_STR(err.field, "size");
	json_object_set_new(firm, "size", json_string("small"));
	json_object_set_new(firm, "bank_code", json_string("CIB-SM"));
	CHECK(!firm_from_json(firm, "firm", &f, &err));
	CHECK(err.code == ERR_UNKNOWN_FIELD);
	CHECK_STR(err.field, "firm.bank_code");
	/* A referral body carries the firm's fields among its own. */
	CHECK(firm_fields_from_json(firm, "", &f, &err));
	CHECK(!firm_from_json(json_object_get(firm, "name"), "firm", &f, &err));
	CHECK(err.code == ERR_INVALID_FIELD);
	CHECK_STR(err.field, "firm");
	json_decref(firm);
}

/* loan_input_to_json of the good loan with path set to value_json. */
static json_t *canonical(const char *path, const char *value_json)
{
	json_t *obj = mutated(path, value_json), *out = NULL;
	struct loan_input in;
	struct field_error err;

	if (loan_from_json(obj, "", &in, &err))
		out = loan_input_to_json(&in);
	else
		fprintf(stderr, "  %s\n", err.message);
	CHECK(out != NULL);
	json_decref(obj);
	return out;
}

static bool same_canonical(const char *path_a, const char *value_a, const char *path_b,
			   const char *value_b)
{
	json_t *a = canonical(path_a, value_a), *b = canonical(path_b, value_b);
	bool same = a != NULL && b != NULL && json_equal(a, b);

	json_decref(a);
	json_decref(b);
	return same;
}

static void test_canonical_json_has_every_field_in_canonical_form(void)
{
	json_t *c = canonical("rate", "\"4.35\"");
	char *text = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);

	CHECK_STR(text,
		  "{\"amount\":\"5000000.00\",\"borrower\":{\"county_code\":\"350402\","
		  "\"industry_code\":\"3412\",\"name\":\"三明某机械有限公司\",\"size\":\"small\","
		  "\"uscc\":\"91350200776049653A\"},\"credit_line\":\"5000000.00\","
		  "\"first_loan\":true,\"guarantee_mode\":\"credit\",\"guarantor_code\":null,"
		  "\"issue_date\":\"2020-05-12\",\"loan_ref\":\"CIB-SM-2020-000123\","
		  "\"maturity_date\":\"2023-05-11\",\"rate\":\"4.3500\",\"relief_fund\":false,"
		  "\"renewal\":false,\"renews_loan_ref\":null,\"scf_program_id\":null}");
	free(text);
	json_decref(c);
}

static void test_canonical_json_equal_for_inputs_that_mean_the_same(void)
{
	CHECK(same_canonical("credit_line", NULL, "credit_line", "\"5000000.00\""));
	CHECK(same_canonical("credit_line", "null", "credit_line", "\"5000000\""));
	CHECK(same_canonical("rate", "\"4.35\"", "rate", "\"4.3500\""));
	CHECK(same_canonical("amount", "\"5000000\"", "amount", "\"5000000.0\""));
	CHECK(same_canonical("guarantor_code", NULL, "guarantor_code", "null"));
	CHECK(same_canonical("scf_program_id", NULL, "scf_program_id", "null"));
	CHECK(same_canonical("renews_loan_ref", NULL, "renews_loan_ref", "null"));
}

static void test_canonical_json_differs_when_content_differs(void)
{
	CHECK(!same_canonical("credit_line", NULL, "credit_line", "\"5000000.01\""));
	CHECK(!same_canonical("rate", "\"4.35\"", "rate", "\"4.3501\""));
	CHECK(!same_canonical("borrower.name", "\"甲\"", "borrower.name", "\"乙\""));
	CHECK(!same_canonical("scf_program_id", NULL, "scf_program_id", "3"));
	CHECK(!same_canonical("first_loan", "true", "first_loan", "false"));
	CHECK(!same_canonical("issue_date", "\"2020-05-12\"", "issue_date", "\"2020-05-13\""));
}

static void test_canonical_json_round_trips_through_the_parser(void)
{
	json_t *c = canonical("scf_program_id", "17"), *again = NULL;
	struct loan_input in;
	struct field_error err;

	CHECK(loan_from_json(c, "", &in, &err));
	again = loan_input_to_json(&in);
	CHECK(json_equal(c, again));
	CHECK(json_integer_value(json_object_get(again, "scf_program_id")) == 17);
	json_decref(again);
	json_decref(c);
}

static bool repayment_fails(const char *text, const char *rule, const char *field)
{
	json_t *obj = load(text);
	struct repayment_input r;
	struct field_error err;
	bool ok;

	memset(&err, 0, sizeof err);
	ok = !repayment_from_json(obj, &r, &err) &&
	     (rule == NULL ? err.rule == NULL : err.rule != NULL && strcmp(err.rule, rule) == 0) &&
	     strcmp(err.field, field) == 0;
	if (!ok)
		fprintf(stderr, "  %s: rule %s field %s\n", text, err.rule ? err.rule : "(null)",
			err.field);
	json_decref(obj);
	return ok;
}

static void test_repayment_parses(void)
{
	json_t *obj = load("{\"repayment_ref\": \"R-1\", \"date\": \"2021-01-31\","
			   " \"amount\": \"1000000.50\"}");
	struct repayment_input r;
	struct field_error err;
	int32_t d;

	CHECK(repayment_from_json(obj, &r, &err));
	CHECK_STR(r.repayment_ref, "R-1");
	CHECK(date_parse("2021-01-31", &d) && r.date == d);
	CHECK(r.amount == 100000050);
	json_decref(obj);
}

static void test_repayment_rules_l030_to_l032(void)
{
	CHECK(repayment_fails("{\"date\": \"2021-01-31\", \"amount\": \"1.00\"}", "L030",
			      "repayment_ref"));
	CHECK(repayment_fails("{\"repayment_ref\": \"\", \"date\": \"2021-01-31\","
			      " \"amount\": \"1.00\"}",
			      "L030", "repayment_ref"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R\\u0001\", \"date\": \"2021-01-31\","
			      " \"amount\": \"1.00\"}",
			      "L030", "repayment_ref"));
	CHECK(
	    repayment_fails("{\"repayment_ref\": \"R-1\", \"amount\": \"1.00\"}", "L031", "date"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R-1\", \"date\": \"2021-02-29\","
			      " \"amount\": \"1.00\"}",
			      "L031", "date"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R-1\", \"date\": \"2021-01-31\"}", "L032",
			      "amount"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R-1\", \"date\": \"2021-01-31\","
			      " \"amount\": 1}",
			      "L032", "amount"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R-1\", \"date\": \"2021-01-31\","
			      " \"amount\": \"0.00\"}",
			      "L032", "amount"));
	CHECK(repayment_fails("{\"repayment_ref\": \"R-1\", \"date\": \"2021-01-31\","
			      " \"amount\": \"1.00\", \"note\": \"x\"}",
			      NULL, "note"));
	CHECK(repayment_fails("[]", NULL, ""));
}

static void test_void_reason_l040(void)
{
	json_t *obj = load("{\"reason\": \"录入错误\\n重复录入\"}");
	const char *reason;
	struct field_error err;

	CHECK(void_from_json(obj, &reason, &err));
	CHECK_STR(reason, "录入错误\n重复录入");
	json_object_set_new(obj, "reason", json_string(""));
	CHECK(!void_from_json(obj, &reason, &err));
	CHECK_STR(err.rule, "L040");
	CHECK_STR(err.field, "reason");
	json_object_set_new(obj, "reason", json_string("a\x01"));
	CHECK(!void_from_json(obj, &reason, &err));
	CHECK_STR(err.rule, "L040");
	json_object_set_new(obj, "reason", load(repeated("错", 500)));
	CHECK(void_from_json(obj, &reason, &err));
	json_object_set_new(obj, "reason", load(repeated("错", 501)));
	CHECK(!void_from_json(obj, &reason, &err));
	CHECK_STR(err.rule, "L040");
	CHECK_STR(err.message, "reason: must be at most 500 characters (has 501)");
	json_decref(obj);
	obj = json_object();
	CHECK(!void_from_json(obj, &reason, &err));
	CHECK_STR(err.rule, "L040");
	json_decref(obj);
}

int main(void)
{
	RUN(test_good_loan_parses_to_exact_values);
	RUN(test_optional_fields_may_be_absent_and_credit_line_defaults_to_amount);
	RUN(test_optional_fields_with_values_parse);
	RUN(test_l001_loan_ref);
	RUN(test_l002_l003_uscc);
	RUN(test_uscc_message_says_what_is_wrong);
	RUN(test_l004_name);
	RUN(test_l005_county_code);
	RUN(test_l006_industry_code);
	RUN(test_l007_size);
	RUN(test_l008_amount);
	RUN(test_l009_l010_dates);
	RUN(test_l011_rate);
	RUN(test_l012_guarantee_mode);
	RUN(test_l013_l016_optional_codes_are_text);
	RUN(test_l014_l015_l017_booleans);
	RUN(test_l020_credit_line_format);
	RUN(test_l021_scf_program_id);
	RUN(test_unknown_fields_are_rejected_top_level_and_in_borrower);
	RUN(test_borrower_missing_or_not_an_object);
	RUN(test_non_object_loan_is_bad_json);
	RUN(test_paths_carry_the_batch_prefix);
	RUN(test_strings_with_nul_are_rejected_with_the_fields_rule);
	RUN(test_firm_from_json_alone_and_nested);
	RUN(test_canonical_json_has_every_field_in_canonical_form);
	RUN(test_canonical_json_equal_for_inputs_that_mean_the_same);
	RUN(test_canonical_json_differs_when_content_differs);
	RUN(test_canonical_json_round_trips_through_the_parser);
	RUN(test_repayment_parses);
	RUN(test_repayment_rules_l030_to_l032);
	RUN(test_void_reason_l040);
	return CHECK_SUMMARY();
}
