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
		json_t *items = json_array();

		jansson_fail_after(n);
		ok = loan_prepare(obj, 0, NULL, &ref, items, &p);
		jansson_fail_after(-1);
		if (ok) {
			json_t *item = json_array_get(items, 0);

			CHECK(json_array_size(items) == 1);
			CHECK_STR(json_string_value(json_object_get(item, "loan_ref")),
				  "CIB-SM-2020-000123");
			CHECK(json_integer_value(json_object_get(item, "amount_fen")) == 500000000);
		} else {
			failures++;
			CHECK(p.rejected);
			CHECK(p.err.code == ERR_UNAVAILABLE);
			CHECK(p.err.rule == NULL);
			CHECK(strstr(p.err.message, "memory") != NULL);
			CHECK(json_array_size(items) == 0);
		}
		json_decref(items);
	}
	CHECK(ok && failures > 10);
	json_decref(obj);
}

int main(void)
{
	RUN(test_out_of_memory_is_unavailable_and_leaves_no_item);
	return CHECK_SUMMARY();
}
