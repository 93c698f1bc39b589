/* Implementation of json/loan_json.h: loans, firms, repayments and voids read member by
 * member with the readers of json/fields.h, each error carrying its catalog rule id; and
 * the canonical JSON writer for loan inputs. */
#include "json/loan_json.h"

#include <stdio.h>
#include <string.h>

#include "domain/dates.h"
#include "domain/money.h"
#include "domain/uscc.h"

/* Where a member is read: its object's path and the rule its errors name. */
#define AT(prefix, rule) ((struct field_at){(prefix), (rule)})

#define REF_MAX_CHARS    64
#define REASON_MAX_CHARS 500

static const char *const loan_fields[] = {
    "loan_ref",       "borrower",        "amount",
    "issue_date",     "maturity_date",   "rate",
    "guarantee_mode", "guarantor_code",  "first_loan",
    "renewal",        "renews_loan_ref", "scf_program_id",
    "relief_fund",    "credit_line",     NULL,
};

static const char *const firm_fields[] = {
    "uscc", "name", "county_code", "industry_code", "size", NULL,
};

static const char *const repayment_fields[] = {"repayment_ref", "date", "amount", NULL};

static const char *const void_fields[] = {"reason", NULL};

/* Records a problem with the object at prefix itself; a whole body ("" prefix) gets a
 * message without a field path in front. Returns false. */
static bool object_fail(struct field_error *err, enum api_error code, const char *prefix,
			const char *text)
{
	field_fail(err, code, NULL, prefix, "", "%s", text);
	if (err->field[0] == '\0')
		snprintf(err->message, sizeof err->message, "%s", text);
	return false;
}

/* Reads the required rate member (annual percent, at most four decimals, (0, 100]). */
static bool get_rate(const json_t *obj, const char *name, const char *rule, const char *prefix,
		     int32_t *out, struct field_error *err)
{
	const char *s;

	if (!field_read_string(obj, name, true, AT(prefix, rule),
			       "must be a string like \"4.3500\"", &s, NULL, err))
		return false;
	if (!rate_parse(s, out))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be an annual percent up to 100 with at most four "
				  "decimals, like \"4.3500\"");
	if (*out <= 0)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name, "must be above zero");
	return true;
}

/* Reads the optional scf_program_id member: a JSON integer > 0, or 0 when absent. */
static bool get_program_id(const json_t *obj, const char *name, const char *rule,
			   const char *prefix, int64_t *out, struct field_error *err)
{
	const json_t *v = json_object_get(obj, name);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be a positive integer");
	*out = json_integer_value(v);
	return true;
}

bool firm_fields_from_json(const json_t *obj, const char *prefix, struct firm *out,
			   struct field_error *err)
{
	char buf[USCC_PROBLEM_BUF];
	const char *s, *problem;

	memset(out, 0, sizeof *out);
	if (!field_read_string(obj, "uscc", true, AT(prefix, "L002"), "must be a string",
			       &out->uscc, NULL, err))
		return false;
	problem = uscc_problem_r(out->uscc, buf);
	if (problem != NULL)
		return field_fail(err, ERR_INVALID_FIELD, uscc_rule(problem), prefix, "uscc", "%s",
				  problem);
	if (!field_read_text(obj, "name", true, AT(prefix, "L004"), FIRM_NAME_MAX_CHARS, false,
			     &out->name, err))
		return false;
	if (!field_read_string(obj, "county_code", true, AT(prefix, "L005"),
			       "must be a string like \"350402\"", &out->county_code, NULL, err))
		return false;
	if (!county_code_valid(out->county_code))
		return field_fail(err, ERR_INVALID_FIELD, "L005", prefix, "county_code",
				  "must be a 6-digit administrative division code");
	if (!field_read_string(obj, "industry_code", true, AT(prefix, "L006"),
			       "must be a string like \"3412\"", &out->industry_code, NULL, err))
		return false;
	if (!industry_code_valid(out->industry_code))
		return field_fail(err, ERR_INVALID_FIELD, "L006", prefix, "industry_code",
				  "must be a 4-digit GB/T 4754-2017 class (division 01-97)");
	if (!field_read_string(obj, "size", true, AT(prefix, "L007"), "must be a string", &s, NULL,
			       err))
		return false;
	if (!firm_size_parse(s, &out->size))
		return field_fail(err, ERR_INVALID_FIELD, "L007", prefix, "size",
				  "must be large, medium, small or micro");
	return true;
}

bool firm_from_json(const json_t *obj, const char *prefix, struct firm *out,
		    struct field_error *err)
{
	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return object_fail(err, ERR_INVALID_FIELD, prefix, "must be an object");
	if (!fields_only(obj, firm_fields, prefix, err))
		return false;
	return firm_fields_from_json(obj, prefix, out, err);
}

/* Reads the borrower member of a loan at prefix. */
static bool get_borrower(const json_t *obj, const char *prefix, struct firm *out,
			 struct field_error *err)
{
	char path[FIELD_PATH_MAX];
	const json_t *v = json_object_get(obj, "borrower");

	if (v == NULL || json_is_null(v))
		return field_fail(err, ERR_INVALID_FIELD, NULL, prefix, "borrower", "is required");
	field_path(path, sizeof path, prefix, "borrower");
	return firm_from_json(v, path, out, err);
}

bool loan_from_json(const json_t *obj, const char *prefix, struct loan_input *out,
		    struct field_error *err)
{
	const char *s;
	bool present;

	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return object_fail(err, ERR_BAD_JSON, prefix, "must be a JSON object");
	if (!fields_only(obj, loan_fields, prefix, err))
		return false;
	if (!field_read_text(obj, "loan_ref", true, AT(prefix, "L001"), LOAN_REF_MAX_CHARS, false,
			     &out->loan_ref, err))
		return false;
	if (!get_borrower(obj, prefix, &out->borrower, err))
		return false;
	if (!field_read_money(obj, "amount", true, AT(prefix, "L008"), &out->amount, &present, err))
		return false;
	if (!field_read_date(obj, "issue_date", true, AT(prefix, "L009"), &out->issue_date, NULL,
			     err))
		return false;
	if (!field_read_date(obj, "maturity_date", true, AT(prefix, "L010"), &out->maturity_date,
			     NULL, err))
		return false;
	if (!get_rate(obj, "rate", "L011", prefix, &out->rate, err))
		return false;
	if (!field_read_string(obj, "guarantee_mode", true, AT(prefix, "L012"), "must be a string",
			       &s, NULL, err))
		return false;
	if (!guarantee_mode_parse(s, &out->guarantee_mode))
		return field_fail(err, ERR_INVALID_FIELD, "L012", prefix, "guarantee_mode",
				  "must be credit, guaranteed, collateral or pledge");
	if (!field_read_text(obj, "guarantor_code", false, AT(prefix, "L013"), REF_MAX_CHARS, false,
			     &out->guarantor_code, err))
		return false;
	if (!field_read_bool(obj, "first_loan", true, false, AT(prefix, "L014"), &out->first_loan,
			     err))
		return false;
	if (!field_read_bool(obj, "renewal", true, false, AT(prefix, "L015"), &out->renewal, err))
		return false;
	if (!field_read_text(obj, "renews_loan_ref", false, AT(prefix, "L016"), LOAN_REF_MAX_CHARS,
			     false, &out->renews_loan_ref, err))
		return false;
	if (!get_program_id(obj, "scf_program_id", "L021", prefix, &out->scf_program_id, err))
		return false;
	if (!field_read_bool(obj, "relief_fund", true, false, AT(prefix, "L017"), &out->relief_fund,
			     err))
		return false;
	if (!field_read_money(obj, "credit_line", false, AT(prefix, "L020"), &out->credit_line,
			      &present, err))
		return false;
	if (!present)
		out->credit_line = out->amount;
	return true;
}

/* A JSON string of s, or null when s is NULL (or, defensively, not valid UTF-8). */
static json_t *string_or_null(const char *s)
{
	json_t *v = s != NULL ? json_string(s) : NULL;

	return v != NULL ? v : json_null();
}

static json_t *firm_to_json(const struct firm *f)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:s}", "uscc", string_or_null(f->uscc), "name",
			 string_or_null(f->name), "county_code", string_or_null(f->county_code),
			 "industry_code", string_or_null(f->industry_code), "size",
			 firm_size_name(f->size));
}

json_t *loan_input_to_json(const struct loan_input *in)
{
	char rate[RATE_BUF];

	rate_format(in->rate, rate);
	return json_pack(
	    "{s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:b, s:b, s:o, s:o, s:b, s:o}", "loan_ref",
	    string_or_null(in->loan_ref), "borrower", firm_to_json(&in->borrower), "amount",
	    money_json(in->amount), "issue_date", date_json(in->issue_date), "maturity_date",
	    date_json(in->maturity_date), "rate", rate, "guarantee_mode",
	    guarantee_mode_name(in->guarantee_mode), "guarantor_code",
	    string_or_null(in->guarantor_code), "first_loan", in->first_loan, "renewal",
	    in->renewal, "renews_loan_ref", string_or_null(in->renews_loan_ref), "scf_program_id",
	    in->scf_program_id > 0 ? json_integer(in->scf_program_id) : json_null(), "relief_fund",
	    in->relief_fund, "credit_line", money_json(in->credit_line));
}

bool repayment_from_json(const json_t *obj, struct repayment_input *out, struct field_error *err)
{
	bool present;

	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return object_fail(err, ERR_BAD_JSON, "", "the body must be a JSON object");
	if (!fields_only(obj, repayment_fields, "", err))
		return false;
	if (!field_read_text(obj, "repayment_ref", true, AT("", "L030"), REF_MAX_CHARS, false,
			     &out->repayment_ref, err))
		return false;
	if (!field_read_date(obj, "date", true, AT("", "L031"), &out->date, NULL, err))
		return false;
	return field_read_money(obj, "amount", true, AT("", "L032"), &out->amount, &present, err);
}

bool void_from_json(const json_t *obj, const char **reason, struct field_error *err)
{
	*reason = NULL;
	if (!json_is_object(obj))
		return object_fail(err, ERR_BAD_JSON, "", "the body must be a JSON object");
	if (!fields_only(obj, void_fields, "", err))
		return false;
	return field_read_text(obj, "reason", true, AT("", "L040"), REASON_MAX_CHARS, true, reason,
			       err);
}
