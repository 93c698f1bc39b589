/* Unit tests for the parse limits (json/limits.h, csv_to_rows_max): the JSON pre-scan's
 * count of values and depth, strings that hide brackets, and CSV row and value limits
 * that stop reading at the limit. */
#include "check.h"
#include "json/csv.h"
#include "json/limits.h"

#include <stdlib.h>

static enum prescan_rc scan(const char *s, size_t max_values, unsigned max_depth)
{
	return json_prescan(s, strlen(s), max_values, max_depth);
}

static void test_values_are_counted_up_to_the_limit(void)
{
	CHECK(scan("{\"a\":[1,2,3]}", 6, 8) == PRESCAN_OK); /* {, "a", [, 1, 2, 3 */
	CHECK(scan("{\"a\":[1,2,3]}", 5, 8) == PRESCAN_TOO_MANY_VALUES);
	CHECK(scan("[{},{},{}]", 4, 8) == PRESCAN_OK);
	CHECK(scan("[{},{},{},{}]", 4, 8) == PRESCAN_TOO_MANY_VALUES);
	CHECK(scan("[true,false,null,-1.5e3]", 5, 8) == PRESCAN_OK);
}

static void test_depth_is_limited(void)
{
	CHECK(scan("[[[]]]", 10, 3) == PRESCAN_OK);
	CHECK(scan("[[[[]]]]", 10, 3) == PRESCAN_TOO_DEEP);
	CHECK(scan("{\"a\":{\"b\":{\"c\":{}}}}", 10, 3) == PRESCAN_TOO_DEEP);
}

static void test_brackets_inside_strings_do_not_count(void)
{
	CHECK(scan("{\"a\":\"[[[[{{{{,,,,\"}", 3, 1) == PRESCAN_OK);
	CHECK(scan("[\"\\\"[[[[\"]", 2, 1) == PRESCAN_OK);
}

static void test_big_text_stops_early(void)
{
	size_t n = 3 * 1000000;
	char *s = malloc(n + 3);

	s[0] = '[';
	for (size_t i = 0; i < n / 3; i++)
		memcpy(s + 1 + 3 * i, "{},", 3);
	s[n] = ']';
	s[n + 1] = '\0';
	CHECK(json_prescan(s, n + 1, JSON_MAX_VALUES, JSON_MAX_DEPTH) == PRESCAN_TOO_MANY_VALUES);
	free(s);
}

static void test_csv_stops_past_the_row_limit(void)
{
	struct field_error err;
	const char *text = "loan_ref\na\nb\nc\n";
	json_t *rows = csv_to_rows_max(text, strlen(text), 3, &err);

	CHECK(rows != NULL && json_array_size(rows) == 3);
	json_decref(rows);
	rows = csv_to_rows_max(text, strlen(text), 2, &err);
	CHECK(rows == NULL);
	CHECK(err.code == ERR_INVALID_FIELD);
	CHECK_STR(err.field, "loans");
}

static void test_csv_values_are_limited(void)
{
	struct field_error err;
	size_t cols = 200, rows = JSON_MAX_VALUES / cols + 10, len = 0;
	char *text = malloc(cols * 8 + rows * (cols + 1) + 1);
	json_t *out;

	for (size_t i = 0; i < cols; i++)
		len += (size_t)sprintf(text + len, "%sp%zu.k", i ? "," : "", i);
	text[len++] = '\n';
	for (size_t r = 0; r < rows; r++) {
		memset(text + len, ',', cols - 1);
		len += cols - 1;
		text[len++] = '\n';
	}
	out = csv_to_rows(text, len, &err);
	CHECK(out == NULL);
	CHECK(err.code == ERR_PAYLOAD_TOO_LARGE);
	json_decref(out);
	free(text);
}

int main(void)
{
	RUN(test_values_are_counted_up_to_the_limit);
	RUN(test_depth_is_limited);
	RUN(test_brackets_inside_strings_do_not_count);
	RUN(test_big_text_stops_early);
	RUN(test_csv_stops_past_the_row_limit);
	RUN(test_csv_values_are_limited);
	return CHECK_SUMMARY();
}
