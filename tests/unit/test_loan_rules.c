/* Unit tests for domain/loan_rules: the rule catalog and docs/rules.md kept identical (and
 * where each rule is judged), the printable-text rule, the cross-field checks of loans and
 * the derived fields (term, tenor, LPR in force, spread, inclusive flag). The rules judged
 * in SQL (where = database) are tested through the API (tests/api/). */
#include "check.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/money.h"

#include <stdlib.h>

#define YUAN(y) ((int64_t)(y)*100)

/* Day number of an ISO date the test knows to be valid. */
static int32_t day_of(const char *s)
{
	int32_t day = INT32_MIN;

	CHECK(date_parse(s, &day));
	return day;
}

static struct loan_policy policy(void)
{
	struct loan_policy p = {
	    .inclusive_credit_line_max = YUAN(10000000),
	    .relief_amount_max = YUAN(10000000),
	    .relief_term_months_max = 12,
	    .today = day_of("2026-01-01"),
	};
	return p;
}

/* The seeded LPR history of domain.md (one-year / five-year). */
static const struct lpr_row *lpr_table(size_t *n)
{
	static struct lpr_row rows[5];

	rows[0] = (struct lpr_row){day_of("2019-08-20"), 42500, 48500};
	rows[1] = (struct lpr_row){day_of("2019-09-20"), 42000, 48500};
	rows[2] = (struct lpr_row){day_of("2019-11-20"), 41500, 48000};
	rows[3] = (struct lpr_row){day_of("2020-02-20"), 40500, 47500};
	rows[4] = (struct lpr_row){day_of("2020-04-20"), 38500, 46500};
	*n = 5;
	return rows;
}

/* The contract's example loan, which breaks no rule. */
static struct loan_input good_loan(void)
{
	struct loan_input in = {
	    .loan_ref = "CIB-SM-2020-000123",
	    .borrower = {.uscc = "91350200776049653A",
			 .name = "三明某机械有限公司",
			 .county_code = "350402",
			 .industry_code = "3412",
			 .size = SIZE_SMALL},
	    .amount = YUAN(5000000),
	    .issue_date = day_of("2020-05-12"),
	    .maturity_date = day_of("2023-05-11"),
	    .rate = 43500,
	    .guarantee_mode = GM_CREDIT,
	    .first_loan = true,
	    .credit_line = YUAN(5000000),
	};
	return in;
}

/* Runs loan_check on in and checks that it fails with rule and field. */
static void expect_violation(const struct loan_input *in, const char *prefix, const char *rule,
			     const char *field)
{
	struct loan_policy p = policy();
	struct rule_violation v;
	const struct rule *r;

	memset(&v, 0, sizeof v);
	CHECK(!loan_check(in, &p, prefix, &v));
	CHECK_STR(v.rule, rule);
	CHECK_STR(v.field, field);
	CHECK(strncmp(v.message, field, strlen(field)) == 0);
	r = rule_find(rule);
	CHECK(r != NULL);
	/* Without a prefix, a violation names its catalog row's field. */
	if (r != NULL && (prefix == NULL || prefix[0] == '\0'))
		CHECK_STR(v.field, r->field);
}

static bool passes(const struct loan_input *in)
{
	struct loan_policy p = policy();
	struct rule_violation v;

	return loan_check(in, &p, "", &v);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static void test_catalog_ids_are_unique_sorted_and_found(void)
{
	CHECK(rule_catalog_len == 31);
	for (size_t i = 0; i < rule_catalog_len; i++) {
		CHECK(rule_find(rule_catalog[i].id) == &rule_catalog[i]);
		CHECK(strlen(rule_catalog[i].id) == 4);
		CHECK(rule_catalog[i].field[0] != '\0');
		CHECK(rule_catalog[i].description[0] != '\0');
		if (i > 0)
			CHECK(strcmp(rule_catalog[i - 1].id, rule_catalog[i].id) < 0);
	}
	CHECK(rule_find("L999") == NULL);
	CHECK(rule_find("l001") == NULL);
	CHECK(rule_find("") == NULL);
	CHECK(rule_find(NULL) == NULL);
}

static void test_catalog_has_the_briefs_rows(void)
{
	static const char *const rows[][2] = {
	    {"L001", "loan_ref"},
	    {"L002", "borrower.uscc"},
	    {"L003", "borrower.uscc"},
	    {"L004", "borrower.name"},
	    {"L005", "borrower.county_code"},
	    {"L006", "borrower.industry_code"},
	    {"L007", "borrower.size"},
	    {"L008", "amount"},
	    {"L009", "issue_date"},
	    {"L010", "maturity_date"},
	    {"L011", "rate"},
	    {"L012", "guarantee_mode"},
	    {"L013", "guarantor_code"},
	    {"L014", "first_loan"},
	    {"L015", "renewal"},
	    {"L016", "renews_loan_ref"},
	    {"L017", "relief_fund"},
	    {"L018", "relief_fund"},
	    {"L019", "relief_fund"},
	    {"L020", "credit_line"},
	    {"L021", "scf_program_id"},
	    {"L030", "repayment_ref"},
	    {"L031", "date"},
	    {"L032", "amount"},
	    {"L040", "reason"},
	    {"L051", "guarantee_mode"},
	    {"L052", "issue_date"},
	    {"W001", "first_loan"},
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct rule *r = rule_find(rows[i][0]);

		CHECK(r != NULL);
		if (r == NULL)
			continue;
		CHECK_STR(r->field, rows[i][1]);
		CHECK(r->severity == (rows[i][0][0] == 'W' ? RULE_WARNING : RULE_ERROR));
	}
}

static void test_severity_names(void)
{
	CHECK_STR(rule_severity_name(RULE_ERROR), "error");
	CHECK_STR(rule_severity_name(RULE_WARNING), "warning");
	CHECK_STR(rule_severity_name((enum rule_severity)7), "unknown");
}

/* Each rule is judged in one place: those that need stored rows in SQL, the rest in C. */
static void test_catalog_says_where_each_rule_is_judged(void)
{
	static const char *const database[] = {"L013", "L016", "L019", "L021", "L031", "L032",
					       "L033", "L050", "L051", "L052", "L053", "W001"};
	size_t n_db = 0;

	for (size_t i = 0; i < sizeof database / sizeof database[0]; i++)
		CHECK(rule_find(database[i]) != NULL &&
		      rule_find(database[i])->where == RULE_DATABASE);
	for (size_t i = 0; i < rule_catalog_len; i++)
		n_db += rule_catalog[i].where == RULE_DATABASE;
	CHECK(n_db == sizeof database / sizeof database[0]);
	CHECK_STR(rule_where_name(RULE_DOMAIN), "domain");
	CHECK_STR(rule_where_name(RULE_DATABASE), "database");
	CHECK_STR(rule_where_name((enum rule_where)7), "unknown");
}

static void test_catalog_markdown_has_one_row_per_rule_with_escaped_pipes(void)
{
	char *md = rule_catalog_markdown();
	size_t rows = 0;

	CHECK(strncmp(md, "# Validation rules\n", 19) == 0);
	for (const char *p = md; (p = strstr(p, "\n| ")) != NULL; p++)
		rows++;
	CHECK(rows == rule_catalog_len + 1); /* the rule rows and the heading row */
	CHECK(strstr(md, "| L003 | error | domain | `borrower.uscc` | the check character must "
			 "match |\n") != NULL);
	CHECK(strstr(md, "| W001 | warning | database | `first_loan` | ") != NULL);
	CHECK(strstr(md, "large \\| medium \\| small \\| micro") != NULL);
	CHECK(md[strlen(md) - 1] == '\n');
	free(md);
}

static void test_docs_rules_md_matches_the_catalog(void)
{
	char *want = rule_catalog_markdown();
	char *have = read_file("docs/rules.md");

	CHECK(have != NULL);
	if (have != NULL && strcmp(have, want) != 0) {
		fprintf(stderr,
			"  docs/rules.md differs from rule_catalog_markdown(); "
			"regenerate it. Expected:\n%s",
			want);
		CHECK(!"docs/rules.md matches the catalog");
	}
	free(have);
	free(want);
}

static void test_text_chars_counts_code_points(void)
{
	CHECK(text_chars("", 0, false) == 0);
	CHECK(text_chars("CIB-SM-2020-000123", 18, false) == 18);
	CHECK(text_chars("兴银(2020)贷字第0070号", strlen("兴银(2020)贷字第0070号"), false) == 16);
	CHECK(text_chars("a b", 3, false) == 3);
	CHECK(text_chars("\xf0\x9f\x98\x80", 4, false) == 1); /* U+1F600 */
	CHECK(text_chars("\xc2\xa0", 2, false) == 1);         /* no-break space */
	CHECK(text_chars(NULL, 0, false) == -1);
}

static void test_text_chars_rejects_controls_and_invisible_characters(void)
{
	CHECK(text_chars("a\tb", 3, false) == -1);
	CHECK(text_chars("a\nb", 3, false) == -1);
	CHECK(text_chars("a\0b", 3, false) == -1);
	CHECK(text_chars("a\x7f", 2, false) == -1);
	CHECK(text_chars("\xc2\x85", 2, false) == -1);         /* NEL, C1 */
	CHECK(text_chars("\xe2\x80\x8b", 3, false) == -1);     /* zero-width space */
	CHECK(text_chars("\xe2\x80\xae", 3, false) == -1);     /* right-to-left override */
	CHECK(text_chars("\xe2\x80\xa8", 3, false) == -1);     /* line separator */
	CHECK(text_chars("\xe2\x81\xa6", 3, false) == -1);     /* left-to-right isolate */
	CHECK(text_chars("\xef\xbb\xbf", 3, false) == -1);     /* BOM */
	CHECK(text_chars("\xef\xbf\xbe", 3, false) == -1);     /* U+FFFE */
	CHECK(text_chars("\xef\xb7\x90", 3, false) == -1);     /* U+FDD0 */
	CHECK(text_chars("\xf4\x8f\xbf\xbf", 4, false) == -1); /* U+10FFFF */
}

static void test_text_chars_rejects_invalid_utf8(void)
{
	CHECK(text_chars("\xff", 1, false) == -1);
	CHECK(text_chars("\xc0\xaf", 2, false) == -1);         /* overlong '/' */
	CHECK(text_chars("\xe0\x80\xaf", 3, false) == -1);     /* overlong */
	CHECK(text_chars("\xed\xa0\x80", 3, false) == -1);     /* surrogate */
	CHECK(text_chars("\xf4\x90\x80\x80", 4, false) == -1); /* above U+10FFFF */
	CHECK(text_chars("\xe4\xb8", 2, false) == -1);         /* truncated */
	CHECK(text_chars("\xe4\xb8\xad", 2, false) == -1);     /* cut by len */
	CHECK(text_chars("\x80", 1, false) == -1);
}

static void test_text_chars_allows_line_breaks_only_when_asked(void)
{
	CHECK(text_chars("a\r\n\tb", 5, true) == 5);
	CHECK(text_chars("a\x01", 2, true) == -1);
	CHECK(text_chars("a\xe2\x80\xa8", 4, true) == -1);
}

static void test_good_loan_passes(void)
{
	struct loan_input in = good_loan();

	CHECK(passes(&in));
}

static void test_l009_issue_date_today_passes_tomorrow_fails(void)
{
	struct loan_input in = good_loan();

	in.issue_date = day_of("2026-01-01");
	in.maturity_date = day_of("2026-12-31");
	CHECK(passes(&in));
	in.issue_date = day_of("2026-01-02");
	expect_violation(&in, "", "L009", "issue_date");
}

static void test_l010_maturity_must_be_after_issue(void)
{
	struct loan_input in = good_loan();

	in.maturity_date = in.issue_date;
	expect_violation(&in, "", "L010", "maturity_date");
	in.maturity_date = in.issue_date - 1;
	expect_violation(&in, "", "L010", "maturity_date");
	in.maturity_date = in.issue_date + 1;
	CHECK(passes(&in));
}

/* L013 is judged in SQL only (where = database): a guarantor_code with any mode passes. */
static void test_l013_is_not_judged_here(void)
{
	struct loan_input in = good_loan();

	in.guarantor_code = "SMRZDB";
	CHECK(passes(&in));
	in.guarantee_mode = GM_COLLATERAL;
	CHECK(passes(&in));
	CHECK(rule_find("L013")->where == RULE_DATABASE);
}

static void test_l015_renewal_and_renews_loan_ref_go_together(void)
{
	struct loan_input in = good_loan();

	in.renewal = true;
	expect_violation(&in, "", "L015", "renewal");
	in.renews_loan_ref = "CIB-SM-2019-000001";
	CHECK(passes(&in));
	in.renewal = false;
	expect_violation(&in, "", "L015", "renewal");
}

static void test_l017_relief_fund_amount_cap_is_inclusive(void)
{
	struct loan_input in = good_loan();

	in.relief_fund = true;
	in.maturity_date = day_of("2021-05-11");
	in.amount = in.credit_line = YUAN(10000000);
	CHECK(passes(&in));
	in.amount = in.credit_line = YUAN(10000000) + 1;
	expect_violation(&in, "", "L017", "relief_fund");
	in.relief_fund = false;
	CHECK(passes(&in));
}

static void test_l018_relief_fund_term_at_most_twelve_months(void)
{
	struct loan_input in = good_loan();

	in.relief_fund = true;
	in.maturity_date = day_of("2021-05-11"); /* 12 months */
	CHECK(passes(&in));
	in.maturity_date = day_of("2021-06-11"); /* 13 months */
	expect_violation(&in, "", "L018", "relief_fund");
	in.maturity_date = day_of("2023-05-11"); /* 36 months */
	expect_violation(&in, "", "L018", "relief_fund");
	/* Over twelve months by days, as medium/long-term is over a year: never both
	 * within the relief cap and medium/long-term. */
	in.maturity_date = day_of("2021-05-12");
	CHECK(passes(&in));
	in.maturity_date = day_of("2021-05-13");
	expect_violation(&in, "", "L018", "relief_fund");
	in.maturity_date = day_of("2021-05-31"); /* 12 whole months and 20 days */
	expect_violation(&in, "", "L018", "relief_fund");
	in.relief_fund = false;
	CHECK(passes(&in));
}

static void test_l020_credit_line_not_below_amount(void)
{
	struct loan_input in = good_loan();

	in.credit_line = in.amount - 1;
	expect_violation(&in, "", "L020", "credit_line");
	in.credit_line = in.amount;
	CHECK(passes(&in));
	in.credit_line = in.amount + 1;
	CHECK(passes(&in));
}

static void test_loan_check_paths_carry_the_prefix(void)
{
	struct loan_input in = good_loan();

	in.credit_line = 1;
	expect_violation(&in, "loans[3]", "L020", "loans[3].credit_line");
	in = good_loan();
	in.maturity_date = in.issue_date;
	expect_violation(&in, "loans[0]", "L010", "loans[0].maturity_date");
	expect_violation(&in, NULL, "L010", "maturity_date");
}

static void test_loan_check_reports_the_first_violation_in_field_order(void)
{
	struct loan_input in = good_loan();

	in.maturity_date = in.issue_date;
	in.credit_line = 1;
	in.renewal = true;
	expect_violation(&in, "", "L010", "maturity_date");
}

static void test_loan_check_messages_name_the_limits(void)
{
	struct loan_policy p = policy();
	struct loan_input in = good_loan();
	struct rule_violation v;

	in.relief_fund = true;
	CHECK(!loan_check(&in, &p, "", &v));
	CHECK_STR(v.message, "relief_fund: a relief-fund loan's term is at most 12 months: "
			     "maturity_date at most 2021-05-12");
	in.amount = YUAN(20000000);
	in.credit_line = in.amount;
	CHECK(!loan_check(&in, &p, "", &v));
	CHECK_STR(v.message, "relief_fund: a relief-fund loan is at most 10000000.00 yuan");
	in = good_loan();
	in.issue_date = day_of("2027-01-01");
	CHECK(!loan_check(&in, &p, "", &v));
	CHECK_STR(v.message, "issue_date: must not be after today (2026-01-01)");
}

static struct loan_derived derive(const struct loan_input *in)
{
	struct loan_policy p = policy();
	struct loan_derived d;
	size_t n;
	const struct lpr_row *rows = lpr_table(&n);

	memset(&d, 0x5a, sizeof d);
	loan_derive(in, &p, rows, n, &d);
	return d;
}

static void test_derive_contract_example(void)
{
	struct loan_input in = good_loan();
	struct loan_derived d = derive(&in);

	CHECK(d.term_months == 36);
	CHECK(d.medium_long_term);
	CHECK(d.manufacturing);
	CHECK(d.inclusive_small_micro);
	CHECK(!d.lpr_five_year);
	CHECK(d.has_lpr);
	CHECK(d.lpr == 38500);
	CHECK(d.spread_bp == 50);
}

static void test_derive_no_lpr_before_2019_08_20(void)
{
	struct loan_input in = good_loan();
	struct loan_derived d;

	in.issue_date = day_of("2019-08-19");
	in.maturity_date = day_of("2020-08-18");
	d = derive(&in);
	CHECK(!d.has_lpr);
	CHECK(d.lpr == 0);
	CHECK(d.spread_bp == 0);
	CHECK(d.term_months == 12);
	CHECK(!d.medium_long_term);
}

static void test_derive_lpr_in_force_on_issue_date(void)
{
	struct loan_input in = good_loan();
	struct loan_derived d;

	in.issue_date = day_of("2019-08-20");
	in.maturity_date = day_of("2020-08-19");
	d = derive(&in);
	CHECK(d.has_lpr && d.lpr == 42500);
	CHECK(d.spread_bp == 10);
	in.issue_date = day_of("2019-09-19");
	CHECK(derive(&in).lpr == 42500);
	in.issue_date = day_of("2019-09-20");
	CHECK(derive(&in).lpr == 42000);
	in.issue_date = day_of("2020-04-19");
	CHECK(derive(&in).lpr == 40500);
	in.issue_date = day_of("2020-04-20");
	CHECK(derive(&in).lpr == 38500);
	in.issue_date = day_of("2025-12-31");
	in.maturity_date = day_of("2026-12-30");
	CHECK(derive(&in).lpr == 38500);
}

static void test_derive_five_year_tenor_above_sixty_months(void)
{
	struct loan_input in = good_loan();
	struct loan_derived d;

	in.maturity_date = day_of("2025-05-11"); /* 60 months */
	d = derive(&in);
	CHECK(d.term_months == 60);
	CHECK(!d.lpr_five_year);
	CHECK(d.lpr == 38500);
	in.maturity_date = day_of("2025-06-11"); /* 61 months */
	d = derive(&in);
	CHECK(d.term_months == 61);
	CHECK(d.lpr_five_year);
	CHECK(d.lpr == 46500);
	CHECK(d.spread_bp == -30);
	/* Above five years by days, as "long" is: 60 whole months and a few days. */
	in.maturity_date = day_of("2025-05-12");
	CHECK(!derive(&in).lpr_five_year);
	in.maturity_date = day_of("2025-05-13");
	CHECK(derive(&in).lpr_five_year);
	in.maturity_date = day_of("2025-05-31");
	d = derive(&in);
	CHECK(d.term_months == 60);
	CHECK(d.lpr_five_year);
	CHECK(d.lpr == 46500);
}

static void test_derive_spread_rounds_half_away_from_zero(void)
{
	struct loan_input in = good_loan();

	in.rate = 38550; /* +0.5 bp */
	CHECK(derive(&in).spread_bp == 1);
	in.rate = 38450; /* -0.5 bp */
	CHECK(derive(&in).spread_bp == -1);
	in.rate = 38549;
	CHECK(derive(&in).spread_bp == 0);
	in.rate = 43550;
	CHECK(derive(&in).spread_bp == 51);
}

static void test_derive_without_lpr_table(void)
{
	struct loan_policy p = policy();
	struct loan_input in = good_loan();
	struct loan_derived d;

	loan_derive(&in, &p, NULL, 0, &d);
	CHECK(!d.has_lpr);
	CHECK(d.term_months == 36);
}

static void test_derive_inclusive_credit_line_limit_is_inclusive(void)
{
	struct loan_input in = good_loan();

	in.credit_line = YUAN(10000000);
	CHECK(derive(&in).inclusive_small_micro);
	in.credit_line = YUAN(10000000) + 1;
	CHECK(!derive(&in).inclusive_small_micro);
	in.credit_line = YUAN(10000000);
	in.borrower.size = SIZE_MICRO;
	CHECK(derive(&in).inclusive_small_micro);
	in.borrower.size = SIZE_MEDIUM;
	CHECK(!derive(&in).inclusive_small_micro);
	in.borrower.size = SIZE_LARGE;
	CHECK(!derive(&in).inclusive_small_micro);
}

static void test_derive_manufacturing_is_divisions_13_to_43(void)
{
	struct loan_input in = good_loan();

	in.borrower.industry_code = "1300";
	CHECK(derive(&in).manufacturing);
	in.borrower.industry_code = "4399";
	CHECK(derive(&in).manufacturing);
	in.borrower.industry_code = "1299";
	CHECK(!derive(&in).manufacturing);
	in.borrower.industry_code = "4400";
	CHECK(!derive(&in).manufacturing);
}

static void test_derive_medium_long_term_boundary(void)
{
	struct loan_input in = good_loan();

	in.maturity_date = day_of("2021-05-12");
	CHECK(!derive(&in).medium_long_term);
	in.maturity_date = day_of("2021-05-13");
	CHECK(derive(&in).medium_long_term);
}

int main(void)
{
	RUN(test_catalog_ids_are_unique_sorted_and_found);
	RUN(test_catalog_has_the_briefs_rows);
	RUN(test_severity_names);
	RUN(test_catalog_says_where_each_rule_is_judged);
	RUN(test_catalog_markdown_has_one_row_per_rule_with_escaped_pipes);
	RUN(test_docs_rules_md_matches_the_catalog);
	RUN(test_text_chars_counts_code_points);
	RUN(test_text_chars_rejects_controls_and_invisible_characters);
	RUN(test_text_chars_rejects_invalid_utf8);
	RUN(test_text_chars_allows_line_breaks_only_when_asked);
	RUN(test_good_loan_passes);
	RUN(test_l009_issue_date_today_passes_tomorrow_fails);
	RUN(test_l010_maturity_must_be_after_issue);
	RUN(test_l013_is_not_judged_here);
	RUN(test_l015_renewal_and_renews_loan_ref_go_together);
	RUN(test_l017_relief_fund_amount_cap_is_inclusive);
	RUN(test_l018_relief_fund_term_at_most_twelve_months);
	RUN(test_l020_credit_line_not_below_amount);
	RUN(test_loan_check_paths_carry_the_prefix);
	RUN(test_loan_check_reports_the_first_violation_in_field_order);
	RUN(test_loan_check_messages_name_the_limits);
	RUN(test_derive_contract_example);
	RUN(test_derive_no_lpr_before_2019_08_20);
	RUN(test_derive_lpr_in_force_on_issue_date);
	RUN(test_derive_five_year_tenor_above_sixty_months);
	RUN(test_derive_spread_rounds_half_away_from_zero);
	RUN(test_derive_without_lpr_table);
	RUN(test_derive_inclusive_credit_line_limit_is_inclusive);
	RUN(test_derive_manufacturing_is_divisions_13_to_43);
	RUN(test_derive_medium_long_term_boundary);
	return CHECK_SUMMARY();
}
