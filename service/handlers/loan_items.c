/* Implementation of handlers/loan_items.h. */
#include "handlers/loan_items.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "json/loan_json.h"

static void violation_to_error(const struct rule_violation *v, struct field_error *err)
{
	err->code = ERR_INVALID_FIELD;
	err->rule = v->rule;
	snprintf(err->field, sizeof err->field, "%s", v->field);
	snprintf(err->message, sizeof err->message, "%s", v->message);
}

static const char *flag(bool b)
{
	return b ? "t" : "f";
}

/* Fills @a it with the loan_item values of @a in and @a d (every field of db/loan_item.def
 * but idx, which the ingest call numbers). The content is not sent: the database builds it
 * from these fields (loan_content, migration 021). When @a kept is not NULL it gets the
 * content object, which the answer of a created single post is rendered from. False when
 * memory ran out. */
static bool item_of(const struct loan_input *in, const struct loan_derived *d, struct loan_item *it,
		    json_t **kept)
{
	char issue[DATE_BUF], maturity[DATE_BUF];
	bool ok;

	date_format(in->issue_date, issue);
	date_format(in->maturity_date, maturity);
	ok = loan_item_set(it, LI_LOAN_REF, in->loan_ref) &&
	     loan_item_set(it, LI_USCC, in->borrower.uscc) &&
	     loan_item_set(it, LI_NAME, in->borrower.name) &&
	     loan_item_set(it, LI_COUNTY_CODE, in->borrower.county_code) &&
	     loan_item_set(it, LI_INDUSTRY_CODE, in->borrower.industry_code) &&
	     loan_item_set(it, LI_SIZE, firm_size_name(in->borrower.size)) &&
	     loan_item_set_int(it, LI_AMOUNT_FEN, in->amount) &&
	     loan_item_set(it, LI_ISSUE_DATE, issue) &&
	     loan_item_set(it, LI_MATURITY_DATE, maturity) &&
	     loan_item_set_int(it, LI_RATE_E4, in->rate) &&
	     loan_item_set(it, LI_GUARANTEE_MODE, guarantee_mode_name(in->guarantee_mode)) &&
	     loan_item_set(it, LI_GUARANTOR_CODE, in->guarantor_code) &&
	     loan_item_set(it, LI_FIRST_LOAN, flag(in->first_loan)) &&
	     loan_item_set(it, LI_RENEWAL, flag(in->renewal)) &&
	     loan_item_set(it, LI_RENEWS_LOAN_REF, in->renews_loan_ref) &&
	     (in->scf_program_id ? loan_item_set_int(it, LI_SCF_PROGRAM_ID, in->scf_program_id)
				 : loan_item_set(it, LI_SCF_PROGRAM_ID, NULL)) &&
	     loan_item_set(it, LI_RELIEF_FUND, flag(in->relief_fund)) &&
	     loan_item_set_int(it, LI_CREDIT_LINE_FEN, in->credit_line) &&
	     loan_item_set_int(it, LI_TERM_MONTHS, d->term_months) &&
	     loan_item_set(it, LI_MEDIUM_LONG_TERM, flag(d->medium_long_term)) &&
	     loan_item_set(it, LI_MANUFACTURING, flag(d->manufacturing)) &&
	     loan_item_set(it, LI_INCLUSIVE_SMALL_MICRO, flag(d->inclusive_small_micro)) &&
	     loan_item_set(it, LI_LPR_TENOR, d->lpr_five_year ? "5Y" : "1Y") &&
	     (d->has_lpr
		  ? loan_item_set_int(it, LI_LPR_E4, d->lpr) &&
			loan_item_set_int(it, LI_SPREAD_BP, d->spread_bp)
		  : loan_item_set(it, LI_LPR_E4, NULL) && loan_item_set(it, LI_SPREAD_BP, NULL));
	if (ok && kept != NULL) {
		*kept = loan_input_to_json(in);
		ok = *kept != NULL;
	}
	return ok;
}

bool loan_prepare(const json_t *obj, const char *prefix, const struct refdata *ref,
		  struct loan_item *item, struct loan_prep *p, json_t **content)
{
	struct loan_input in;
	struct loan_derived d;
	struct rule_violation v;
	const json_t *ref_json = json_is_object(obj) ? json_object_get(obj, "loan_ref") : NULL;

	memset(p, 0, sizeof *p);
	loan_item_free(item);
	if (content != NULL)
		*content = NULL;
	p->loan_ref = json_is_string(ref_json) ? json_string_value(ref_json) : NULL;
	if (!json_is_object(obj)) {
		field_fail(&p->err, ERR_INVALID_FIELD, NULL, prefix, "", "must be a loan object");
		p->rejected = true;
		return false;
	}
	if (!loan_from_json(obj, prefix, &in, &p->err)) {
		p->rejected = true;
		return false;
	}
	if (!loan_check(&in, &ref->policy, prefix, &v)) {
		violation_to_error(&v, &p->err);
		p->rejected = true;
		return false;
	}
	loan_derive(&in, &ref->policy, ref->lpr, ref->n_lpr, &d);
	if (!item_of(&in, &d, item, content)) {
		loan_item_free(item);
		field_out_of_memory(&p->err); /* 503: the loan is fine, the server is short */
		p->rejected = true;
		return false;
	}
	return true;
}

json_t *field_error_json(const struct field_error *err)
{
	return json_pack("{s:s, s:s*, s:s*, s:s}", "code", api_error_code(err->code), "rule",
			 err->rule, "field", err->field[0] ? err->field : NULL, "message",
			 err->message);
}
