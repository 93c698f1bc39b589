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

/* The loan_item record (type: migration 003; read by sql/loans.sql) for @a in and @a d. */
static json_t *item_json(int idx, const struct loan_input *in, const struct loan_derived *d)
{
	json_t *o = json_object();

	json_object_set_new(o, "idx", json_integer(idx));
	json_object_set_new(o, "loan_ref", json_string(in->loan_ref));
	json_object_set_new(o, "content", loan_input_to_json(in));
	json_object_set_new(o, "uscc", json_string(in->borrower.uscc));
	json_object_set_new(o, "name", json_string(in->borrower.name));
	json_object_set_new(o, "county_code", json_string(in->borrower.county_code));
	json_object_set_new(o, "industry_code", json_string(in->borrower.industry_code));
	json_object_set_new(o, "size", json_string(firm_size_name(in->borrower.size)));
	json_object_set_new(o, "amount_fen", json_integer(in->amount));
	json_object_set_new(o, "issue_date", date_json(in->issue_date));
	json_object_set_new(o, "maturity_date", date_json(in->maturity_date));
	json_object_set_new(o, "rate_e4", json_integer(in->rate));
	json_object_set_new(o, "guarantee_mode",
			    json_string(guarantee_mode_name(in->guarantee_mode)));
	json_object_set_new(o, "guarantor_code",
			    in->guarantor_code ? json_string(in->guarantor_code) : json_null());
	json_object_set_new(o, "first_loan", json_boolean(in->first_loan));
	json_object_set_new(o, "renewal", json_boolean(in->renewal));
	json_object_set_new(o, "renews_loan_ref",
			    in->renews_loan_ref ? json_string(in->renews_loan_ref) : json_null());
	json_object_set_new(o, "scf_program_id",
			    in->scf_program_id ? json_integer(in->scf_program_id) : json_null());
	json_object_set_new(o, "relief_fund", json_boolean(in->relief_fund));
	json_object_set_new(o, "credit_line_fen", json_integer(in->credit_line));
	json_object_set_new(o, "term_months", json_integer(d->term_months));
	json_object_set_new(o, "medium_long_term", json_boolean(d->medium_long_term));
	json_object_set_new(o, "manufacturing", json_boolean(d->manufacturing));
	json_object_set_new(o, "inclusive_small_micro", json_boolean(d->inclusive_small_micro));
	json_object_set_new(o, "lpr_tenor", json_string(d->lpr_five_year ? "5Y" : "1Y"));
	json_object_set_new(o, "lpr_e4", d->has_lpr ? json_integer(d->lpr) : json_null());
	json_object_set_new(o, "spread_bp", d->has_lpr ? json_integer(d->spread_bp) : json_null());
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
	json_array_append_new(items, item_json(idx, &in, &d));
	return true;
}

json_t *field_error_json(const struct field_error *err)
{
	return json_pack("{s:s, s:s*, s:s*, s:s}", "code", api_error_code(err->code), "rule",
			 err->rule, "field", err->field[0] ? err->field : NULL, "message",
			 err->message);
}
