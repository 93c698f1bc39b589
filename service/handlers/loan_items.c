/* Implementation of handlers/loan_items.h. */
#include "handlers/loan_items.h"

#include <stdio.h>
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

/* The fields of the SQL type loan_item, declared once (db/loan_item.def). */
enum loan_item_field {
#define X(id, key) id,
#include "db/loan_item.def"
#undef X
	LI__COUNT
};

static const char *const loan_item_keys[LI__COUNT] = {
#define X(id, key) [id] = key,
#include "db/loan_item.def"
#undef X
};

/* The loan_item record for @a in and @a d: one value per field of db/loan_item.def, so
 * that no key of the type is left to become NULL unseen. NULL when one is missing. */
static json_t *item_json(int idx, const struct loan_input *in, const struct loan_derived *d)
{
	json_t *v[LI__COUNT] = {NULL}, *o = json_object();
	bool whole = o != NULL;

	v[LI_IDX] = json_integer(idx);
	v[LI_LOAN_REF] = json_string(in->loan_ref);
	v[LI_CONTENT] = loan_input_to_json(in);
	v[LI_USCC] = json_string(in->borrower.uscc);
	v[LI_NAME] = json_string(in->borrower.name);
	v[LI_COUNTY_CODE] = json_string(in->borrower.county_code);
	v[LI_INDUSTRY_CODE] = json_string(in->borrower.industry_code);
	v[LI_SIZE] = json_string(firm_size_name(in->borrower.size));
	v[LI_AMOUNT_FEN] = json_integer(in->amount);
	v[LI_ISSUE_DATE] = date_json(in->issue_date);
	v[LI_MATURITY_DATE] = date_json(in->maturity_date);
	v[LI_RATE_E4] = json_integer(in->rate);
	v[LI_GUARANTEE_MODE] = json_string(guarantee_mode_name(in->guarantee_mode));
	v[LI_GUARANTOR_CODE] = in->guarantor_code ? json_string(in->guarantor_code) : json_null();
	v[LI_FIRST_LOAN] = json_boolean(in->first_loan);
	v[LI_RENEWAL] = json_boolean(in->renewal);
	v[LI_RENEWS_LOAN_REF] =
	    in->renews_loan_ref ? json_string(in->renews_loan_ref) : json_null();
	v[LI_SCF_PROGRAM_ID] = in->scf_program_id ? json_integer(in->scf_program_id) : json_null();
	v[LI_RELIEF_FUND] = json_boolean(in->relief_fund);
	v[LI_CREDIT_LINE_FEN] = json_integer(in->credit_line);
	v[LI_TERM_MONTHS] = json_integer(d->term_months);
	v[LI_MEDIUM_LONG_TERM] = json_boolean(d->medium_long_term);
	v[LI_MANUFACTURING] = json_boolean(d->manufacturing);
	v[LI_INCLUSIVE_SMALL_MICRO] = json_boolean(d->inclusive_small_micro);
	v[LI_LPR_TENOR] = json_string(d->lpr_five_year ? "5Y" : "1Y");
	v[LI_LPR_E4] = d->has_lpr ? json_integer(d->lpr) : json_null();
	v[LI_SPREAD_BP] = d->has_lpr ? json_integer(d->spread_bp) : json_null();
	for (int i = 0; i < LI__COUNT; i++) {
		whole = whole && v[i] != NULL;
		if (whole)
			whole = json_object_set_new(o, loan_item_keys[i], v[i]) == 0;
		else
			json_decref(v[i]);
	}
	if (!whole) {
		json_decref(o);
		return NULL;
	}
	return o;
}

bool loan_prepare(const json_t *obj, int idx, const char *prefix, const struct refdata *ref,
		  json_t *items, struct loan_prep *p)
{
	struct loan_input in;
	struct loan_derived d;
	struct rule_violation v;
	const json_t *ref_json = json_is_object(obj) ? json_object_get(obj, "loan_ref") : NULL;

	memset(p, 0, sizeof *p);
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
	if (json_array_append_new(items, item_json(idx, &in, &d)) != 0) {
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
