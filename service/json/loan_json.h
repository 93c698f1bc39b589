/* Loans, their borrower, repayments and voids between JSON and the exact values of
 * domain/loan.h: strict parsing with the catalog's rule ids and field paths, and the
 * canonical JSON of a loan input that tells a safe retry from a conflicting one. */
#ifndef FINREG_LOAN_JSON_H
#define FINREG_LOAN_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "domain/loan.h"
#include "json/fields.h"

/**
 * Reads a {firm} object (uscc, name, county_code, industry_code, size; all required, no
 * other fields) into @a out, checking rules L002-L007. Field paths are @a prefix + "." +
 * name ("borrower.uscc", "loans[3].borrower.uscc"). The strings in @a out are borrowed
 * from @a obj. Returns false and fills @a err on the first problem (an unknown field is
 * ERR_UNKNOWN_FIELD without a rule; a non-object is ERR_INVALID_FIELD on @a prefix).
 */
bool firm_from_json(const json_t *obj, const char *prefix, struct firm *out,
		    struct field_error *err);

/**
 * Like firm_from_json(), but for a body that carries the firm's five fields among its own
 * (a referral): other keys are not looked at, unknown-field checks are the caller's.
 */
bool firm_fields_from_json(const json_t *obj, const char *prefix, struct firm *out,
			   struct field_error *err);

/**
 * Reads a loan object (the contract's POST /v1/loans body) into @a out with every
 * single-field format rule (L001-L012, L013/L016 text, L014, L015 and L017 types, L020
 * format, L021 type); the cross-field rules are loan_check()'s, which the caller runs
 * with its policy. Money and rates must be JSON strings, booleans JSON booleans,
 * scf_program_id a JSON integer > 0; optional fields may be absent or null. An absent
 * credit_line is set to the amount. Field paths get @a prefix ("" or "loans[3]"). The
 * strings in @a out are borrowed from @a obj. Returns false and fills @a err on the first
 * problem: ERR_BAD_JSON when @a obj is not an object, ERR_UNKNOWN_FIELD (no rule) for
 * an unknown field at the top or in borrower, else ERR_INVALID_FIELD with the rule id.
 */
bool loan_from_json(const json_t *obj, const char *prefix, struct loan_input *out,
		    struct field_error *err);

/**
 * The canonical JSON of @a in: every contract field present, money "0.00", the rate
 * "4.3500", dates "YYYY-MM-DD", absent optionals null, credit_line its effective value.
 * Inputs that mean the same give json_equal() results. A new reference the caller
 * decrefs; NULL only when out of memory.
 */
json_t *loan_input_to_json(const struct loan_input *in);

/**
 * Reads a repayment body {repayment_ref, date, amount} with the format rules L030-L032
 * (the loan-dependent parts are judged in SQL, loan_repay). The string in @a out is borrowed
 * from @a obj. Returns false and fills @a err on the first problem.
 */
bool repayment_from_json(const json_t *obj, struct repayment_input *out, struct field_error *err);

/**
 * Reads a void body {reason} (L040: 1-500 characters; line breaks allowed, other control
 * characters not). *reason is borrowed from @a obj. Returns false and fills @a err.
 */
bool void_from_json(const json_t *obj, const char **reason, struct field_error *err);

#endif
