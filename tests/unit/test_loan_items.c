/* Unit tests for handlers/loan_items: a loan prepared while jansson runs out of memory is
 * refused as 503 unavailable (the server is short), never as a 500 or a rule the loan
 * broke, and nothing half-built is left in the items. */
#include "check.h"
#include "good_loan.h"
#include "domain/dates.h"
#include "handlers/loan_items.h"
#include "jansson_fail.h"

#include <stdlib.h>

static const char good_json[] = GOOD_LOAN_JSON;

static int32_t day_of(const char *s)
{
	int32_t day = 0;

	CHECK(date_parse(s, &day));
	return day;
}

static struct refdata refdata(void)
{
	struct refdata r;

	memset(&r, 0, sizeof r);
	r.policy.inclusive_credit_line_max = 1000000000;
	r.policy.relief_amount_max = 1000000000;
	r.policy.relief_term_months_max = 12;
	r.policy.today = day_of("2026-01-01");
	r.lpr[0] = (struct lpr_row){day_of("2019-08-20"), 42500, 48500};
	r.n_lpr = 1;
	return r;
}

static void test_out_of_memory_is_unavailable_and_leaves_no_item(void)
{
	struct refdata ref = refdata();
	json_t *obj = json_loads(good_json, 0, NULL);
	struct loan_prep p;
	long n, failures = 0;
	bool ok = false;

	CHECK(obj != NULL);
	for (n = 0; n < 1000 && !ok; n++) {
		struct loan_item item;
		json_t *content = NULL;

		loan_item_init(&item);
		jansson_fail_after(n);
		ok = loan_prepare(obj, NULL, &ref, &item, &p, &content);
		jansson_fail_after(-1);
		if (ok) {
			CHECK(json_is_object(content));
			CHECK_STR(json_string_value(json_object_get(content, "amount")),
				  "5000000.00");
			json_decref(content);
			CHECK_STR(loan_item_get(&item, LI_LOAN_REF), "CIB-SM-2020-000123");
			CHECK_STR(loan_item_get(&item, LI_AMOUNT_FEN), "500000000");
		} else {
			failures++;
			CHECK(p.rejected);
			CHECK(p.err.code == ERR_UNAVAILABLE);
			CHECK(p.err.rule == NULL);
			CHECK(strstr(p.err.message, "memory") != NULL);
			CHECK(loan_item_get(&item, LI_LOAN_REF) == NULL);
			CHECK(content == NULL);
		}
		loan_item_free(&item);
	}
	CHECK(ok && failures > 10);
	json_decref(obj);
}

/* The array literals of a call: quoted text with '"' and '\\' escaped, bare numbers and
 * booleans, NULL for a missing value; and the JSON item of a correction. */
static void test_columns_and_json_of_items(void)
{
	struct loan_item a, b;
	struct loan_columns cols = {0};
	const char *params[LI__COUNT];
	char *json;

	loan_item_init(&a);
	loan_item_init(&b);
	CHECK(loan_item_set(&a, LI_LOAN_REF, "R-\"1\"\\x,{NULL}"));
	CHECK(loan_item_set(&a, LI_NAME, "{\"a\":\"q\\\"}"));
	CHECK(loan_item_set_int(&a, LI_AMOUNT_FEN, 500));
	CHECK(loan_item_set(&a, LI_FIRST_LOAN, "t"));
	CHECK(loan_item_set(&a, LI_ISSUE_DATE, "2020-05-12"));
	CHECK(loan_item_set(&b, LI_LOAN_REF, "NULL"));
	CHECK(loan_item_set(&b, LI_FIRST_LOAN, "f"));
	CHECK(loan_columns_add(&cols, &a, 0) && loan_columns_add(&cols, &b, 7));
	CHECK(loan_columns_finish(&cols, params));
	CHECK_STR(params[LI_IDX], "{0,7}");
	CHECK_STR(params[LI_LOAN_REF], "{\"R-\\\"1\\\"\\\\x,{NULL}\",\"NULL\"}");
	CHECK_STR(params[LI_NAME], "{\"{\\\"a\\\":\\\"q\\\\\\\"}\",NULL}");
	CHECK_STR(params[LI_AMOUNT_FEN], "{500,NULL}");
	CHECK_STR(params[LI_FIRST_LOAN], "{t,f}");
	CHECK_STR(params[LI_ISSUE_DATE], "{\"2020-05-12\",NULL}");
	json = loan_item_json(&a, 3);
	CHECK(json != NULL &&
	      strstr(json, "{\"idx\":3,\"loan_ref\":\"R-\\\"1\\\"\\\\x,{NULL}\","
			   "\"uscc\":null,\"name\":\"{\\\"a\\\":\\\"q\\\\\\\"}\",") == json);
	CHECK(strstr(json, "\"amount_fen\":500,\"issue_date\":\"2020-05-12\",") != NULL);
	CHECK(strstr(json, "\"first_loan\":true,\"renewal\":null,") != NULL);
	free(json);
	loan_columns_free(&cols);
	CHECK(loan_columns_finish(&cols, params));
	CHECK_STR(params[LI_IDX], "{}");
	loan_columns_free(&cols);
	loan_item_free(&a);
	loan_item_free(&b);
}

int main(void)
{
	RUN(test_out_of_memory_is_unavailable_and_leaves_no_item);
	RUN(test_columns_and_json_of_items);
	return CHECK_SUMMARY();
}
