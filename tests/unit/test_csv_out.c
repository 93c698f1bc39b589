/* Unit tests for json/csv_out: the byte-order mark, CRLF rows, RFC 4180 quoting of commas,
 * quotes and line breaks, the formula guard and the numbers it leaves alone, Chinese text
 * untouched, and a written row read back by json/csv into the same cells. */
#include "check.h"
#include "json/csv.h"
#include "domain/cell_guard.h"
#include "json/csv_out.h"

#include <stdlib.h>

/* One row of @a n cells without a BOM, as a malloc'd string. */
static char *row_of(const char *const *cells, size_t n)
{
	struct csv_out b;
	size_t len;

	csv_begin(&b, false);
	csv_row(&b, cells, n);
	return csv_take(&b, &len);
}

#define CHECK_ROW(want, ...)                                                                       \
	do {                                                                                       \
		const char *cells_[] = {__VA_ARGS__};                                              \
		char *got_ = row_of(cells_, sizeof cells_ / sizeof cells_[0]);                     \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

static void test_bom_starts_the_text_only_when_asked(void)
{
	struct csv_out b;
	size_t len;
	char *text;

	csv_begin(&b, true);
	csv_field(&b, "a");
	csv_end_row(&b);
	text = csv_take(&b, &len);
	CHECK(len == 6);
	CHECK(memcmp(text,
		     "\xEF\xBB\xBF"
		     "a\r\n",
		     6) == 0);
	free(text);
	csv_begin(&b, false);
	text = csv_take(&b, &len);
	CHECK(len == 0);
	CHECK_STR(text, "");
	free(text);
}

static void test_plain_cells_are_joined_with_commas_and_end_in_crlf(void)
{
	CHECK_ROW("uscc,name,2020-01-01\r\n", "uscc", "name", "2020-01-01");
}

static void test_null_and_empty_cells_are_empty(void)
{
	CHECK_ROW(",,x,\r\n", NULL, "", "x", NULL);
}

static void test_comma_quote_and_line_breaks_are_quoted(void)
{
	CHECK_ROW("\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\"\r\n", "a,b", "say \"hi\"",
		  "two\nlines", "cr\rhere");
	CHECK_ROW("\"\"\"\"\r\n", "\"");
}

static void test_chinese_text_is_written_as_is(void)
{
	CHECK_ROW("三明某机械有限公司,\"兴银(2020)贷字第0070号,附\"\r\n", "三明某机械有限公司",
		  "兴银(2020)贷字第0070号,附");
}

static void test_formula_starts_get_an_apostrophe(void)
{
	CHECK_ROW("'=1+2,'+cmd,'-x,'@SUM(A1),'\tx\r\n", "=1+2", "+cmd", "-x", "@SUM(A1)", "\tx");
	CHECK_ROW("\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n",
		  "=HYPERLINK(\"http://x\",\"y\")");
	CHECK_ROW("\"'\rx\"\r\n", "\rx");
	CHECK_ROW("'-\r\n", "-");
	CHECK_ROW("'+\r\n", "+");
	CHECK_ROW("'-1.\r\n", "-1.");
	CHECK_ROW("'-.5\r\n", "-.5");
	CHECK_ROW("'-1e5\r\n", "-1e5");
}

static void test_unsigned_numbers_and_inner_signs_stay_as_they_are(void)
{
	CHECK_ROW("'-1200.50,'+3,'-7,0.05,12,a=b,x-1\r\n", "-1200.50", "+3", "-7", "0.05", "12",
		  "a=b", "x-1");
	CHECK(cell_needs_guard("-5000000.00"));
	CHECK(!cell_needs_guard(""));
	CHECK(!cell_needs_guard(NULL));
	CHECK(cell_needs_guard("=A1"));
	CHECK(cell_needs_guard("-2+3"));
}

static void test_row_read_back_by_the_csv_reader_gives_the_same_cells(void)
{
	static const char *const header[] = {"a", "b", "c", "d"};
	static const char *const cells[] = {"三明,\"龙头\"\r\n企业", "x", "5000000.00", "1.5"};
	struct csv_out b;
	struct field_error err;
	json_t *rows;
	size_t len;
	char *text;

	csv_begin(&b, true);
	csv_row(&b, header, 4);
	csv_row(&b, cells, 4);
	text = csv_take(&b, &len);
	rows = csv_to_rows(text, len, &err);
	CHECK(rows != NULL && json_array_size(rows) == 1);
	if (rows != NULL && json_array_size(rows) == 1) {
		json_t *row = json_array_get(rows, 0);

		CHECK_STR(json_string_value(json_object_get(row, "a")), cells[0]);
		CHECK_STR(json_string_value(json_object_get(row, "b")), "x");
		CHECK_STR(json_string_value(json_object_get(row, "c")), "5000000.00");
		CHECK_STR(json_string_value(json_object_get(row, "d")), "1.5");
	}
	json_decref(rows);
	free(text);
}

static void test_many_rows_grow_the_buffer(void)
{
	struct csv_out b;
	size_t len;
	char *text;

	csv_begin(&b, false);
	for (int i = 0; i < 5000; i++) {
		csv_field(&b, "0123456789");
		csv_end_row(&b);
	}
	text = csv_take(&b, &len);
	CHECK(len == 5000 * 12);
	CHECK(strlen(text) == len);
	free(text);
	csv_begin(&b, false);
	csv_field(&b, "x");
	csv_free(&b);
	CHECK(b.text.data == NULL && b.text.len == 0);
}

static void test_out_of_memory_makes_take_answer_null_instead_of_aborting(void)
{
	struct csv_out b;
	size_t len = 7;

	csv_begin(&b, true);
	buf_test_fail_after(0);
	for (int i = 0; i < 1000; i++)
		csv_field(&b, "0123456789");
	csv_end_row(&b);
	buf_test_fail_after(-1);
	CHECK(b.text.failed);
	CHECK(csv_take(&b, &len) == NULL);
	CHECK(len == 7);
	CHECK(b.text.data == NULL && !b.text.failed);
}

int main(void)
{
	RUN(test_out_of_memory_makes_take_answer_null_instead_of_aborting);
	RUN(test_bom_starts_the_text_only_when_asked);
	RUN(test_plain_cells_are_joined_with_commas_and_end_in_crlf);
	RUN(test_null_and_empty_cells_are_empty);
	RUN(test_comma_quote_and_line_breaks_are_quoted);
	RUN(test_chinese_text_is_written_as_is);
	RUN(test_formula_starts_get_an_apostrophe);
	RUN(test_unsigned_numbers_and_inner_signs_stay_as_they_are);
	RUN(test_row_read_back_by_the_csv_reader_gives_the_same_cells);
	RUN(test_many_rows_grow_the_buffer);
	return CHECK_SUMMARY();
}
