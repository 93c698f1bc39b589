/* The answer to a single post that created a loan (json/loan_answer.h). The keys and values
 * are those of loan_json_of in sql/loans.sql for a loan just inserted; jsonb_out orders
 * and writes them as PostgreSQL did. */
#include "json/loan_answer.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "domain/money.h"
#include "json/jsonb_out.h"

static json_t *flag(const struct loan_item *it, enum loan_item_field f)
{
	const char *v = loan_item_get(it, f);

	return v == NULL ? json_null() : json_boolean(strcmp(v, "t") == 0);
}

static json_t *integer(const struct loan_item *it, enum loan_item_field f)
{
	const char *v = loan_item_get(it, f);

	return v == NULL ? json_null() : json_integer(strtoll(v, NULL, 10));
}

static json_t *text(const char *v)
{
	return v == NULL ? json_null() : json_string(v);
}

static json_t *money(long long fen)
{
	char out[MONEY_BUF];

	money_format(fen, out);
	return json_string(out);
}

static json_t *rate(const struct loan_item *it, enum loan_item_field f)
{
	const char *v = loan_item_get(it, f);
	char out[RATE_BUF];

	if (v == NULL)
		return json_null();
	rate_format(strtoll(v, NULL, 10), out);
	return json_string(out);
}

char *loan_answer_created(json_t *loan, const struct loan_item *it, const char *bank,
			  const struct loan_stored *st)
{
	const char *amount = loan_item_get(it, LI_AMOUNT_FEN);
	json_t *warnings = st->warnings != NULL ? json_loads(st->warnings, 0, NULL) : json_array();
	struct buf b = {0};
	char *out = NULL;

	if (!json_is_object(loan) || !json_is_array(warnings) || amount == NULL ||
	    st->created_at == NULL)
		goto out;
	if (json_object_set_new(loan, "bank_code", text(bank)) != 0 ||
	    json_object_set_new(loan, "term_months", integer(it, LI_TERM_MONTHS)) != 0 ||
	    json_object_set_new(loan, "medium_long_term", flag(it, LI_MEDIUM_LONG_TERM)) != 0 ||
	    json_object_set_new(loan, "manufacturing", flag(it, LI_MANUFACTURING)) != 0 ||
	    json_object_set_new(loan, "inclusive_small_micro",
				flag(it, LI_INCLUSIVE_SMALL_MICRO)) != 0 ||
	    json_object_set_new(loan, "lpr_tenor", text(loan_item_get(it, LI_LPR_TENOR))) != 0 ||
	    json_object_set_new(loan, "lpr", rate(it, LI_LPR_E4)) != 0 ||
	    json_object_set_new(loan, "spread_bp", integer(it, LI_SPREAD_BP)) != 0 ||
	    json_object_set_new(loan, "registry_first_loan",
				json_boolean(st->registry_first_loan)) != 0 ||
	    json_object_set_new(loan, "outstanding", money(strtoll(amount, NULL, 10))) != 0 ||
	    json_object_set_new(loan, "repaid", money(0)) != 0 ||
	    json_object_set_new(loan, "status", json_string("active")) != 0 ||
	    json_object_set_new(loan, "renewed_on", json_null()) != 0 ||
	    json_object_set_new(loan, "void_reason", json_null()) != 0 ||
	    json_object_set_new(loan, "version", json_integer(1)) != 0 ||
	    json_object_set(loan, "warnings", warnings) != 0 ||
	    json_object_set_new(loan, "created_at", text(st->created_at)) != 0 ||
	    json_object_set_new(loan, "updated_at", text(st->created_at)) != 0)
		goto out;
	if (jsonb_out(&b, loan))
		out = buf_take(&b, NULL);
out:
	buf_free(&b);
	json_decref(warnings);
	return out;
}
