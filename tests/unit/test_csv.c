/* Unit tests for json/csv: RFC 4180 quoting, BOM, CRLF and LF, line breaks inside fields,
 * the JSON shape of each row (omitted empties, booleans, integers, nested borrower), the
 * errors and the lines they name, and a CSV row giving the same loan as its JSON. */
#include "check.h"
#include "good_loan.h"
#include "buf.h"
#include "json/csv.h"
#include "json/loan_json.h"
#include "jansson_fail.h"

#include <stdlib.h>

/* csv_to_rows over a C string. */
static json_t *rows_of(const char *text, struct field_error *err)
{
	return csv_to_rows(text, strlen(text), err);
}

/* The rows as compact JSON with sorted keys, malloc'd; "ERROR <field>: <message>" when
 * csv_to_rows fails. */
static char *dump(const char *text, size_t len)
{
	struct field_error err;
	json_t *rows;
	char *out;

	memset(&err, 0, sizeof err);
	rows = csv_to_rows(text, len, &err);
	if (rows == NULL) {
		size_t n = strlen(err.message) + 8;

		out = malloc(n);
		snprintf(out, n, "ERROR %s", err.message);
		CHECK(err.code == ERR_BAD_JSON);
		CHECK(err.rule == NULL);
		CHECK(strncmp(err.field, "line ", 5) == 0);
		return out;
	}
	out = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rows);
	return out;
}

#define CHECK_CSV(text, want)                                                                      \
	do {                                                                                       \
		char *got_ = dump(text, sizeof(text) - 1);                                         \
		CHECK_STR(got_, want);                                                             \
		free(got_);                                                                        \
	} while (0)

static void test_plain_rows_become_objects_of_strings(void)
{
	CHECK_CSV("loan_ref,amount\nA-1,5000000.00\nA-2,1.00\n",
		  "[{\"amount\":\"5000000.00\",\"loan_ref\":\"A-1\"},"
		  "{\"amount\":\"1.00\",\"loan_ref\":\"A-2\"}]");
}

static void test_last_line_needs_no_line_break(void)
{
	CHECK_CSV("a,b\n1,2", "[{\"a\":\"1\",\"b\":\"2\"}]");
}

static void test_crlf_and_lf_give_the_same_rows(void)
{
	CHECK_CSV("a,b\r\n1,2\r\n3,4\r\n", "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]");
	CHECK_CSV("a,b\r\n1,2\n3,4", "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]");
}

static void test_bom_is_skipped(void)
{
	CHECK_CSV("\xef\xbb\xbfloan_ref\r\nA-1\r\n", "[{\"loan_ref\":\"A-1\"}]");
}

static void test_header_only_gives_an_empty_array(void)
{
	CHECK_CSV("loan_ref,amount\n", "[]");
	CHECK_CSV("loan_ref,amount", "[]");
	CHECK_CSV("\xef\xbb\xbfloan_ref,amount\r\n\r\n", "[]");
}

static void test_trailing_empty_lines_are_ignored(void)
{
	CHECK_CSV("a\n1\n\n\r\n\n", "[{\"a\":\"1\"}]");
}

static void test_quoted_fields_keep_commas_quotes_and_line_breaks(void)
{
	CHECK_CSV("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n",
		  "[{\"a\":\"x,y\",\"b\":\"say \\\"hi\\\"\"}]");
	CHECK_CSV("a,b\n\"line 1\nline 2\",z\n", "[{\"a\":\"line 1\\nline 2\",\"b\":\"z\"}]");
	CHECK_CSV("a,b\r\n\"line 1\r\nline 2\",z\r\n",
		  "[{\"a\":\"line 1\\r\\nline 2\",\"b\":\"z\"}]");
	CHECK_CSV("a\n\"\"\"\"\n", "[{\"a\":\"\\\"\"}]");
	CHECK_CSV("\"a\",\"b\"\n1,2\n", "[{\"a\":\"1\",\"b\":\"2\"}]");
}

static void test_spaces_are_kept(void)
{
	CHECK_CSV("a,b\n 1 ,2\n", "[{\"a\":\" 1 \",\"b\":\"2\"}]");
}

static void test_empty_cells_are_omitted(void)
{
	CHECK_CSV("a,b,c\n,,\n1,,\"\"\n,2,\n", "[{},{\"a\":\"1\"},{\"b\":\"2\"}]");
	CHECK_CSV("a,b\n1,", "[{\"a\":\"1\"}]");
}

static void test_boolean_columns_take_true_and_false_only(void)
{
	CHECK_CSV("first_loan,renewal,relief_fund,other\ntrue,false,TRUE,true\n",
		  "[{\"first_loan\":true,\"other\":\"true\",\"relief_fund\":\"TRUE\","
		  "\"renewal\":false}]");
	CHECK_CSV("first_loan\nyes\n", "[{\"first_loan\":\"yes\"}]");
}

static void test_scf_program_id_digits_become_an_integer(void)
{
	CHECK_CSV("scf_program_id\n42\n007\n-1\n12a\n1.0\n1234567890123456789\n0\n",
		  "[{\"scf_program_id\":42},{\"scf_program_id\":7},{\"scf_program_id\":\"-1\"},"
		  "{\"scf_program_id\":\"12a\"},{\"scf_program_id\":\"1.0\"},"
		  "{\"scf_program_id\":\"1234567890123456789\"},{\"scf_program_id\":0}]");
}

static void test_dotted_columns_nest(void)
{
	CHECK_CSV("loan_ref,borrower.uscc,borrower.size\nA,91350200776049653A,small\nB,,\n",
		  "[{\"borrower\":{\"size\":\"small\",\"uscc\":\"91350200776049653A\"},"
		  "\"loan_ref\":\"A\"},{\"borrower\":{},\"loan_ref\":\"B\"}]");
	CHECK_CSV("core.uscc,firm.name\n1,2\n",
		  "[{\"core\":{\"uscc\":\"1\"},\"firm\":{\"name\":\"2\"}}]");
}

static void test_chinese_text_passes_through(void)
{
	CHECK_CSV("loan_ref,borrower.name\n兴银(2020)贷字第0070号,\"三明某机械有限公司\"\n",
		  "[{\"borrower\":{\"name\":\"三明某机械有限公司\"},"
		  "\"loan_ref\":\"兴银(2020)贷字第0070号\"}]");
}

static void test_errors_name_the_line(void)
{
	CHECK_CSV("", "ERROR line 1: no header row");
	CHECK_CSV("\xef\xbb\xbf", "ERROR line 1: no header row");
	CHECK_CSV("\n\n", "ERROR line 1: no header row");
	CHECK_CSV("a,b\n1,2\n3\n", "ERROR line 3: 1 cells, the header has 2");
	CHECK_CSV("a,b\n1,2\n3,4,5\n", "ERROR line 3: 3 cells, the header has 2");
	CHECK_CSV("a,b\n1,2\n\n3,4\n", "ERROR line 3: 1 cells, the header has 2");
	CHECK_CSV("a,a\n1,2\n", "ERROR line 1: column \"a\" appears twice");
	CHECK_CSV("a,,b\n1,2,3\n", "ERROR line 1: column 2 has an empty name");
	CHECK_CSV("a,\"\"\n1,2\n", "ERROR line 1: column 2 has an empty name");
	CHECK_CSV("borrower,borrower.uscc\n1,2\n",
		  "ERROR line 1: column \"borrower\" conflicts with \"borrower.uscc\"");
	CHECK_CSV("borrower.\n1\n", "ERROR line 1: column name \"borrower.\" has an empty part");
	CHECK_CSV(".uscc\n1\n", "ERROR line 1: column name \".uscc\" has an empty part");
	CHECK_CSV("a\n\"abc\n", "ERROR line 2: quoted field is not terminated");
	CHECK_CSV("a,b\n1,\"x\ny\nz\n", "ERROR line 2: quoted field is not terminated");
	CHECK_CSV("a\n\"abc\"d\n", "ERROR line 2: text after a closing quote (expected a comma "
				   "or a line end)");
	CHECK_CSV("a\nab\"c\n", "ERROR line 2: quote inside an unquoted field (quote the whole "
				"field and double the quote)");
	CHECK_CSV("a\n1\r2\n", "ERROR line 2: carriage return without line feed");
	CHECK_CSV("a\n1\n\xff\n", "ERROR line 3: not valid UTF-8");
	CHECK_CSV("a\xc3\n1\n", "ERROR line 1: not valid UTF-8");
	CHECK_CSV("a\n1\n2\0\n", "ERROR line 3: contains a NUL byte");
}

static void test_lines_count_breaks_inside_quoted_fields(void)
{
	CHECK_CSV("a,b\n\"1\n2\n3\",x\ny\n", "ERROR line 5: 1 cells, the header has 2");
	CHECK_CSV("a,b\r\n\"1\r\n2\",x\r\n\"\xc0\",z\r\n", "ERROR line 4: not valid UTF-8");
}

static void test_error_field_is_the_line(void)
{
	struct field_error err;

	CHECK(rows_of("a,b\n1,2\n3\n", &err) == NULL);
	CHECK_STR(err.field, "line 3");
	CHECK(err.code == ERR_BAD_JSON);
}

static void test_too_many_columns_are_refused(void)
{
	char text[4 * (CSV_MAX_COLUMNS + 1) + 16];
	size_t at = 0;
	struct field_error err;

	for (int i = 0; i <= CSV_MAX_COLUMNS; i++)
		at += (size_t)snprintf(text + at, sizeof text - at, "%s%d", i ? "," : "", i);
	CHECK(csv_to_rows(text, at, &err) == NULL);
	CHECK_STR(err.field, "line 1");
}

/* A line of commas is refused at its 257th cell, before reading the rest of it. */
static void test_a_record_stops_at_one_cell_past_the_limit(void)
{
	size_t n = 1000000, at;
	char *text = malloc(n + 16);
	struct field_error err;

	CHECK(text != NULL);
	memset(text, ',', n);
	text[n] = '\n';
	CHECK(csv_to_rows(text, n + 1, &err) == NULL);
	CHECK_STR(err.field, "line 1");
	CHECK_STR(err.message, "line 1: more than 256 columns");
	at = (size_t)snprintf(text, 16, "a,b\n");
	memset(text + at, ',', n - at);
	CHECK(csv_to_rows(text, n, &err) == NULL);
	CHECK_STR(err.field, "line 2");
	CHECK_STR(err.message, "line 2: more than 256 cells, the header has 2");
	/* Under a header of 256 columns a row of 256 cells is read, one of 257 is not, also
	 * when its last cell is the empty one after a final comma. */
	at = 0;
	for (int i = 0; i < CSV_MAX_COLUMNS; i++)
		at += (size_t)snprintf(text + at, n - at, "%sc%d", i ? "," : "", i);
	text[at++] = '\n';
	memset(text + at, ',', 255);
	text[at + 255] = '\n';
	for (size_t len = at + 255; len <= at + 256; len++) { /* ending in a comma, a break */
		json_t *rows = csv_to_rows(text, len, &err);

		CHECK(rows != NULL && json_array_size(rows) == 1);
		json_decref(rows);
	}
	memset(text + at, ',', 256);
	text[at + 256] = '\n';
	for (size_t len = at + 256; len <= at + 257; len++) {
		CHECK(csv_to_rows(text, len, &err) == NULL);
		CHECK_STR(err.message, "line 2: more than 256 cells, the header has 256");
	}
	free(text);
}

static const char loan_csv[] =
    "\xef\xbb\xbfloan_ref,borrower.uscc,borrower.name,borrower.county_code,"
    "borrower.industry_code,borrower.size,amount,issue_date,maturity_date,rate,"
    "guarantee_mode,guarantor_code,first_loan,renewal,renews_loan_ref,scf_program_id,"
    "relief_fund,credit_line\r\n"
    "CIB-SM-2020-000123,91350200776049653A,\"三明某机械有限公司\",350402,3412,small,"
    "5000000.00,2020-05-12,2023-05-11,4.35,credit,,true,false,,,false,\r\n"
    "\"兴银(2020)贷字第0070号\",914403001922038216,\"某贸易公司, 三明\",350481,5191,micro,"
    "800000,2020-06-01,2021-05-31,5.1,guaranteed,SMRZDB,false,true,CIB-SM-2019-9,7,true,"
    "1000000.00\r\n";

static const char loan_json_0[] = GOOD_LOAN_JSON;

static const char loan_json_1[] =
    "{\"loan_ref\": \"兴银(2020)贷字第0070号\","
    " \"borrower\": {\"uscc\": \"914403001922038216\", \"name\": \"某贸易公司, 三明\","
    "  \"county_code\": \"350481\", \"industry_code\": \"5191\", \"size\": \"micro\"},"
    " \"amount\": \"800000.00\", \"issue_date\": \"2020-06-01\","
    " \"maturity_date\": \"2021-05-31\", \"rate\": \"5.1000\","
    " \"guarantee_mode\": \"guaranteed\", \"guarantor_code\": \"SMRZDB\","
    " \"first_loan\": false, \"renewal\": true, \"renews_loan_ref\": \"CIB-SM-2019-9\","
    " \"scf_program_id\": 7, \"relief_fund\": true, \"credit_line\": \"1000000\"}";

/* The canonical JSON of the loan in obj (NULL and a message when it does not parse). */
static json_t *canonical_of(const json_t *obj)
{
	struct loan_input in;
	struct field_error err;

	if (!loan_from_json(obj, "", &in, &err)) {
		fprintf(stderr, "  %s\n", err.message);
		return NULL;
	}
	return loan_input_to_json(&in);
}

static void test_csv_rows_and_equivalent_json_give_equal_canonical_loans(void)
{
	const char *json_texts[] = {loan_json_0, loan_json_1};
	struct field_error err;
	json_t *rows = csv_to_rows(loan_csv, sizeof loan_csv - 1, &err);

	CHECK(rows != NULL && json_array_size(rows) == 2);
	for (size_t i = 0; rows != NULL && i < 2; i++) {
		json_t *obj = json_loads(json_texts[i], 0, NULL);
		json_t *a = canonical_of(json_array_get(rows, i)), *b = canonical_of(obj);

		CHECK(a != NULL && b != NULL && json_equal(a, b));
		json_decref(a);
		json_decref(b);
		json_decref(obj);
	}
	json_decref(rows);
}

static void test_csv_rows_break_the_same_rules_as_json(void)
{
	static const char text[] =
	    "loan_ref,borrower.uscc,borrower.name,borrower.county_code,"
	    "borrower.industry_code,borrower.size,amount,issue_date,maturity_date,rate,"
	    "guarantee_mode,first_loan,renewal,relief_fund,scf_program_id,note\n"
	    "A,91350200776049653A,N,350402,3412,small,5000000.00,2020-05-12,2023-05-11,4.35,"
	    "credit,yes,false,false,,\n"
	    "A,91350200776049653A,N,350402,3412,small,5000000.00,2020-05-12,2023-05-11,4.35,"
	    "credit,true,false,false,x,\n"
	    "A,91350200776049653A,N,350402,3412,small,,2020-05-12,2023-05-11,4.35,"
	    "credit,true,false,false,,\n"
	    "A,91350203M0001QAY9B,N,350402,3412,small,1,2020-05-12,2023-05-11,4.35,"
	    "credit,true,false,false,,\n"
	    "A,91350200776049653A,N,350402,3412,small,1,2020-05-12,2023-05-11,4.35,"
	    "credit,true,false,false,,typo\n";
	static const char *const want[][2] = {
	    {"L014", "loans[0].first_loan"}, {"L021", "loans[1].scf_program_id"},
	    {"L008", "loans[2].amount"},     {"L003", "loans[3].borrower.uscc"},
	    {NULL, "loans[4].note"},
	};
	struct field_error err;
	json_t *rows = csv_to_rows(text, sizeof text - 1, &err);

	CHECK(rows != NULL && json_array_size(rows) == 5);
	for (size_t i = 0; rows != NULL && i < 5; i++) {
		struct loan_input in;
		char prefix[32];

		snprintf(prefix, sizeof prefix, "loans[%zu]", i);
		memset(&err, 0, sizeof err);
		CHECK(!loan_from_json(json_array_get(rows, i), prefix, &in, &err));
		if (want[i][0] == NULL)
			CHECK(err.rule == NULL && err.code == ERR_UNKNOWN_FIELD);
		else
			CHECK_STR(err.rule, want[i][0]);
		CHECK_STR(err.field, want[i][1]);
	}
	json_decref(rows);
}

static void test_out_of_memory_fails_with_unavailable_instead_of_aborting(void)
{
	struct field_error err;
	const char *text = "uscc,amount\n91350100M000100Y6B,100.00\n";

	for (long n = 0; n < 2; n++) { /* the header's bytes, then the row's */
		memset(&err, 0, sizeof err);
		buf_test_fail_after(n);
		CHECK(rows_of(text, &err) == NULL);
		buf_test_fail_after(-1);
		CHECK(err.code == ERR_UNAVAILABLE);
		CHECK(strstr(err.message, "memory") != NULL);
	}
	memset(&err, 0, sizeof err);
	json_t *rows = rows_of(text, &err);
	CHECK(rows != NULL && json_array_size(rows) == 1);
	json_decref(rows);
}

/* Every allocation of the row objects may fail: the reader then fails with 503
 * unavailable, never with a "not valid UTF-8" 400 or a row short of a member. */
static void test_jansson_out_of_memory_fails_with_unavailable_never_a_short_row(void)
{
	const char *text =
	    "loan_ref,borrower.uscc,borrower.name,first_loan,scf_program_id\n"
	    "A-1,91350100M000100Y6B,甲公司,true,7\nA-2,91350100M000100Y6B,乙,false,\n";
	char *want, *got;
	json_t *rows;
	struct field_error err;
	long n, failures = 0;

	memset(&err, 0, sizeof err);
	rows = rows_of(text, &err);
	want = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rows);
	CHECK(want != NULL);
	for (n = 0; n < 1000; n++) {
		memset(&err, 0, sizeof err);
		jansson_fail_after(n);
		rows = rows_of(text, &err);
		jansson_fail_after(-1);
		if (rows == NULL) {
			failures++;
			CHECK(err.code == ERR_UNAVAILABLE);
			CHECK(strstr(err.message, "memory") != NULL);
			continue;
		}
		got = json_dumps(rows, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(rows);
		CHECK_STR(got, want);
		free(got);
		break;
	}
	CHECK(failures > 5 && n < 1000);
	free(want);
}

int main(void)
{
	RUN(test_jansson_out_of_memory_fails_with_unavailable_never_a_short_row);
	RUN(test_out_of_memory_fails_with_unavailable_instead_of_aborting);
	RUN(test_plain_rows_become_objects_of_strings);
	RUN(test_last_line_needs_no_line_break);
	RUN(test_crlf_and_lf_give_the_same_rows);
	RUN(test_bom_is_skipped);
	RUN(test_header_only_gives_an_empty_array);
	RUN(test_trailing_empty_lines_are_ignored);
	RUN(test_quoted_fields_keep_commas_quotes_and_line_breaks);
	RUN(test_spaces_are_kept);
	RUN(test_empty_cells_are_omitted);
	RUN(test_boolean_columns_take_true_and_false_only);
	RUN(test_scf_program_id_digits_become_an_integer);
	RUN(test_dotted_columns_nest);
	RUN(test_chinese_text_passes_through);
	RUN(test_errors_name_the_line);
	RUN(test_lines_count_breaks_inside_quoted_fields);
	RUN(test_error_field_is_the_line);
	RUN(test_too_many_columns_are_refused);
	RUN(test_a_record_stops_at_one_cell_past_the_limit);
	RUN(test_csv_rows_and_equivalent_json_give_equal_canonical_loans);
	RUN(test_csv_rows_break_the_same_rules_as_json);
	return CHECK_SUMMARY();
}
