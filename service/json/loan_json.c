/* Implementation of json/loan_json.h: field-by-field readers that attach the catalog's
 * rule id to every error, and the canonical JSON writer for loan inputs. */
#include "json/loan_json.h"

#include <stdio.h>
#include <string.h>

#include "domain/dates.h"
#include "domain/money.h"
#include "domain/uscc.h"

#define REF_MAX_CHARS    64
#define REASON_MAX_CHARS 500

/* The message uscc_problem_r() gives for a wrong check character (rule L003). */
#define USCC_CHECK_MESSAGE "check character does not match"

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

/*
 * Reads string member @a name of @a obj into *out (borrowed). Absent or null gives NULL,
 * an error of @a rule when @a required. A non-string is an error with @a type_text as
 * its message; so is a string with a NUL inside (it would be cut short in C). *len gets
 * the length in bytes when len is not NULL.
 */
static bool get_string(const json_t *obj, const char *name, bool required, const char *rule,
		       const char *prefix, const char *type_text, const char **out, size_t *len,
		       struct field_error *err)
{
	const json_t *v = json_object_get(obj, name);

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
					  "is required");
		return true;
	}
	if (!json_is_string(v))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name, "%s", type_text);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must not contain NUL characters");
	*out = json_string_value(v);
	if (len != NULL)
		*len = json_string_length(v);
	return true;
}

/* Reads a text member: 1..max printable characters (line breaks only with allow_breaks). */
static bool get_text(const json_t *obj, const char *name, bool required, const char *rule,
		     const char *prefix, long max, bool allow_breaks, const char **out,
		     struct field_error *err)
{
	size_t len;
	long n;

	if (!get_string(obj, name, required, rule, prefix, "must be a string", out, &len, err))
		return false;
	if (*out == NULL)
		return true;
	n = text_chars(*out, len, allow_breaks);
	if (n < 0)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  allow_breaks ? "must not contain control characters"
					       : "must be printable text without control "
						 "characters");
	if (n == 0)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name, "must not be empty");
	if (n > max)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be at most %ld characters (has %ld)", max, n);
	return true;
}

/* Reads a required boolean member. */
static bool get_bool(const json_t *obj, const char *name, const char *rule, const char *prefix,
		     bool *out, struct field_error *err)
{
	const json_t *v = json_object_get(obj, name);

	*out = false;
	if (v == NULL || json_is_null(v))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name, "is required");
	if (!json_is_boolean(v))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be true or false");
	*out = json_is_true(v);
	return true;
}

/* Reads a required date member "YYYY-MM-DD". */
static bool get_date(const json_t *obj, const char *name, const char *rule, const char *prefix,
		     int32_t *out, struct field_error *err)
{
	const char *s;

	if (!get_string(obj, name, true, rule, prefix, "must be a string like \"2020-05-12\"", &s,
			NULL, err))
		return false;
	if (!date_parse(s, out))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be a real date YYYY-MM-DD");
	return true;
}

/* Reads a money member (yuan string, at most two decimals, above zero). *present says
 * whether it was there (absent or null is an error when required). */
static bool get_money(const json_t *obj, const char *name, bool required, const char *rule,
		      const char *prefix, int64_t *out, bool *present, struct field_error *err)
{
	const char *s;

	*present = false;
	if (!get_string(obj, name, required, rule, prefix, "must be a string like \"5000000.00\"",
			&s, NULL, err))
		return false;
	if (s == NULL)
		return true;
	if (!money_parse(s, out))
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name,
				  "must be yuan with at most two decimals, like \"5000000.00\"");
	if (*out <= 0)
		return field_fail(err, ERR_INVALID_FIELD, rule, prefix, name, "must be above zero");
	*present = true;
	return true;
}

/* Reads the required rate member (annual percent, at most four decimals, (0, 100]). */
static bool get_rate(const json_t *obj, const char *name, const char *rule, const char *prefix,
		     int32_t *out, struct field_error *err)
{
	const char *s;

	if (!get_string(obj, name, true, rule, prefix, "must be a string like \"4.3500\"", &s, NULL,
			err))
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
	if (!get_string(obj, "uscc", true, "L002", prefix, "must be a string", &out->uscc, NULL,
			err))
		return false;
	problem = uscc_problem_r(out->uscc, buf);
	if (problem != NULL)
		return field_fail(err, ERR_INVALID_FIELD,
				  strcmp(problem, USCC_CHECK_MESSAGE) == 0 ? "L003" : "L002",
				  prefix, "uscc", "%s", problem);
	if (!get_text(obj, "name", true, "L004", prefix, FIRM_NAME_MAX_CHARS, false, &out->name,
		      err))
		return false;
	if (!get_string(obj, "county_code", true, "L005", prefix,
			"must be a string like \"350402\"", &out->county_code, NULL, err))
		return false;
	if (!county_code_valid(out->county_code))
		return field_fail(err, ERR_INVALID_FIELD, "L005", prefix, "county_code",
				  "must be a 6-digit administrative division code");
	if (!get_string(obj, "industry_code", true, "L006", prefix,
			"must be a string like \"3412\"", &out->industry_code, NULL, err))
		return false;
	if (!industry_code_valid(out->industry_code))
		return field_fail(err, ERR_INVALID_FIELD, "L006", prefix, "industry_code",
				  "must be a 4-digit GB/T 4754-2017 class (division 01-97)");
	if (!get_string(obj, "size", true, "L007", prefix, "must be a string", &s, NULL, err))
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
	if (!get_text(obj, "loan_ref", true, "L001", prefix, LOAN_REF_MAX_CHARS, false,
		      &out->loan_ref, err))
		return false;
	if (!get_borrower(obj, prefix, &out->borrower, err))
		return false;
	if (!get_money(obj, "amount", true, "L008", prefix, &out->amount, &present, err))
		return false;
	if (!get_date(obj, "issue_date", "L009", prefix, &out->issue_date, err))
		return false;
	if (!get_date(obj, "maturity_date", "L010", prefix, &out->maturity_date, err))
		return false;
	if (!get_rate(obj, "rate", "L011", prefix, &out->rate, err))
		return false;
	if (!get_string(obj, "guarantee_mode", true, "L012", prefix, "must be a string", &s, NULL,
			err))
		return false;
	if (!guarantee_mode_parse(s, &out->guarantee_mode))
		return field_fail(err, ERR_INVALID_FIELD, "L012", prefix, "guarantee_mode",
				  "must be credit, guaranteed, collateral or pledge");
	if (!get_text(obj, "guarantor_code", false, "L013", prefix, REF_MAX_CHARS, false,
		      &out->guarantor_code, err))
		return false;
	if (!get_bool(obj, "first_loan", "L014", prefix, &out->first_loan, err))
		return false;
	if (!get_bool(obj, "renewal", "L015", prefix, &out->renewal, err))
		return false;
	if (!get_text(obj, "renews_loan_ref", false, "L016", prefix, LOAN_REF_MAX_CHARS, false,
		      &out->renews_loan_ref, err))
		return false;
	if (!get_program_id(obj, "scf_program_id", "L021", prefix, &out->scf_program_id, err))
		return false;
	if (!get_bool(obj, "relief_fund", "L017", prefix, &out->relief_fund, err))
		return false;
	if (!get_money(obj, "credit_line", false, "L020", prefix, &out->credit_line, &present, err))
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
	if (!get_text(obj, "repayment_ref", true, "L030", "", REF_MAX_CHARS, false,
		      &out->repayment_ref, err))
		return false;
	if (!get_date(obj, "date", "L031", "", &out->date, err))
		return false;
	return get_money(obj, "amount", true, "L032", "", &out->amount, &present, err);
}

bool void_from_json(const json_t *obj, const char **reason, struct field_error *err)
{
	*reason = NULL;
	if (!json_is_object(obj))
		return object_fail(err, ERR_BAD_JSON, "", "the body must be a JSON object");
	if (!fields_only(obj, void_fields, "", err))
		return false;
	return get_text(obj, "reason", true, "L040", "", REASON_MAX_CHARS, true, reason, err);
}
