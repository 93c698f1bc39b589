/* libFuzzer target for the loan intake path: JSON bytes through loan_from_json, loan_check,
 * loan_derive and the canonical JSON (which must parse back to itself), and the same bytes
 * through csv_to_rows, each row then through the same path. Build: see the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/dates.h"
#include "domain/loan.h"
#include "json/csv.h"
#include "json/loan_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-01-01 and the seeded LPR history of domain.md, as day numbers. */
static const struct loan_policy fuzz_policy = {
	.inclusive_credit_line_max = INT64_C(1000000000),
	.relief_amount_max = INT64_C(1000000000),
	.relief_term_months_max = 12,
	.today = 20454,
};

static const struct lpr_row fuzz_lpr[] = {
	{18128, 42500, 48500}, /* 2019-08-20 */
	{18159, 42000, 48500}, /* 2019-09-20 */
	{18220, 41500, 48000}, /* 2019-11-20 */
	{18312, 40500, 47500}, /* 2020-02-20 */
	{18372, 38500, 46500}, /* 2020-04-20 */
};

/* Parses, checks, derives and serializes one loan object; frees what it makes. */
static void one_loan(const json_t *obj, const char *prefix)
{
	struct loan_input in;
	struct loan_derived d;
	struct rule_violation v;
	struct field_error err;
	json_t *canon;
	char *text;

	if (!loan_from_json(obj, prefix, &in, &err)) {
		if (err.rule != NULL && rule_find(err.rule) == NULL)
			abort(); /* every rule id named must be in the catalog */
		return;
	}
	if (!loan_check(&in, &fuzz_policy, prefix, &v) && rule_find(v.rule) == NULL)
		abort();
	loan_derive(&in, &fuzz_policy, fuzz_lpr, sizeof fuzz_lpr / sizeof fuzz_lpr[0], &d);
	canon = loan_input_to_json(&in);
	if (canon == NULL)
		abort();
	text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
	/* The canonical form must parse back to the same canonical form. */
	{
		struct loan_input again;
		json_t *back;

		if (!loan_from_json(canon, "", &again, &err))
			abort();
		back = loan_input_to_json(&again);
		if (!json_equal(canon, back))
			abort();
		json_decref(back);
	}
	free(text);
	json_decref(canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field_error err;
	struct repayment_input rep;
	const char *reason;
	json_error_t jerr;
	json_t *root, *rows;

	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (root != NULL) {
		json_t *loans = json_object_get(root, "loans");

		one_loan(root, "");
		if (json_is_array(loans)) {
			size_t i;
			json_t *item;

			json_array_foreach(loans, i, item)
			{
				char prefix[32];

				snprintf(prefix, sizeof prefix, "loans[%zu]", i);
				one_loan(item, prefix);
			}
		}
		if (json_is_object(json_object_get(root, "borrower"))) {
			struct firm f;

			firm_from_json(json_object_get(root, "borrower"), "borrower", &f, &err);
		}
		repayment_from_json(root, &rep, &err);
		void_from_json(root, &reason, &err);
		json_decref(root);
	}
	rows = csv_to_rows((const char *)data, size, &err);
	if (rows != NULL) {
		size_t i;
		json_t *row;

		json_array_foreach(rows, i, row)
		{
			char prefix[32];

			snprintf(prefix, sizeof prefix, "loans[%zu]", i);
			one_loan(row, prefix);
		}
		json_decref(rows);
	}
	(void)text_chars((const char *)data, size, size % 2 == 0);
	return 0;
}

/*
 * Build with clang: -g -O1 -fsanitize=fuzzer,address,undefined -Iservice, this file, every
 * .c file of service/domain and service/json, service/errors.c and -ljansson, into
 * build/fuzz_loan; run: build/fuzz_loan -max_total_time=180 fuzz/corpus
 */
