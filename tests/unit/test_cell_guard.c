/* Unit tests of domain/cell_guard.h (the formula guard of CSV and XLSX exports) and
 * domain/names.h (names beside codes). */
#include "check.h"
#include "domain/cell_guard.h"
#include "domain/names.h"

static void test_formula_looking_text_is_guarded(void)
{
	CHECK(cell_needs_guard("=HYPERLINK(\"http://x\",\"y\")"));
	CHECK(cell_needs_guard("=1+1"));
	CHECK(cell_needs_guard("+86 贸易行"));
	CHECK(cell_needs_guard("-负号商行"));
	CHECK(cell_needs_guard("-2+3"));
	CHECK(cell_needs_guard("@SUM(A1)"));
	CHECK(cell_needs_guard("\t制表符"));
	CHECK(cell_needs_guard("\rx"));
	CHECK(cell_needs_guard("="));
	CHECK(cell_needs_guard("-"));
	CHECK(cell_needs_guard("+1."));
	CHECK(cell_needs_guard("-.5"));
	/* api.md names no exception: text that reads as a signed number is guarded too */
	CHECK(cell_needs_guard("-1200.50"));
	CHECK(cell_needs_guard("+3"));
}

static void test_plain_text_and_numbers_are_not_guarded(void)
{
	CHECK(!cell_needs_guard(NULL));
	CHECK(!cell_needs_guard(""));
	CHECK(!cell_needs_guard("三明某机械有限公司"));
	CHECK(!cell_needs_guard("a=b"));
	CHECK(!cell_needs_guard("914403001922038216"));
	CHECK(!cell_needs_guard("1200.50"));
	CHECK(!cell_needs_guard(" =1")); /* a space first: a spreadsheet reads text */
	CHECK_STR(CELL_GUARD_PREFIX, "'");
}

static void test_county_names(void)
{
	CHECK_STR(county_name("350402"), "梅列区");
	CHECK_STR(county_name("350404"), "三元区");
	CHECK_STR(county_name("350405"), "沙县区");
	CHECK_STR(county_name("350427"), "沙县");
	CHECK_STR(county_name("350481"), "永安市");
	CHECK_STR(county_name("110105"), "其他地区");
	CHECK_STR(county_name("other"), "其他地区");
	CHECK(county_name(NULL) == NULL);
}

static void test_industry_division_names(void)
{
	CHECK_STR(industry_division_name("01"), "农业");
	CHECK_STR(industry_division_name("13"), "农副食品加工业");
	CHECK_STR(industry_division_name("3412"), "通用设备制造业");
	CHECK_STR(industry_division_name("43"), "金属制品、机械和设备修理业");
	CHECK_STR(industry_division_name("52"), "零售业");
	CHECK_STR(industry_division_name("97"), "国际组织");
	CHECK(industry_division_name("00") == NULL);
	CHECK(industry_division_name("98") == NULL);
	CHECK(industry_division_name("x1") == NULL);
	CHECK(industry_division_name("3") == NULL);
	CHECK(industry_division_name(NULL) == NULL);
	for (int d = 1; d <= 97; d++) {
		char code[3] = {(char)('0' + d / 10), (char)('0' + d % 10), '\0'};

		CHECK(industry_division_name(code) != NULL);
	}
}

static void test_size_and_metric_names(void)
{
	CHECK_STR(firm_size_title("micro"), "微型");
	CHECK_STR(firm_size_title("large"), "大型");
	CHECK(firm_size_title("tiny") == NULL);
	CHECK_STR(metric_name("guarantee_leverage"), "融资担保放大倍数");
	CHECK(metric_name("nope") == NULL);
}

int main(void)
{
	RUN(test_formula_looking_text_is_guarded);
	RUN(test_plain_text_and_numbers_are_not_guarded);
	RUN(test_county_names);
	RUN(test_industry_division_names);
	RUN(test_size_and_metric_names);
	return CHECK_SUMMARY();
}
