/* Field-by-field reading of JSON request bodies with contract errors: unknown fields are
 * refused (typos must not be dropped silently), types are checked, and every error names
 * its field path ("borrower.uscc", "loans[3].amount"). No HTTP here. Also the typed
 * members the resource handlers share (text, dates, money, USCC) and the JSON values of
 * money and dates in replies. */
#ifndef FINREG_FIELDS_H
#define FINREG_FIELDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#define FIELD_PATH_MAX 128

/** The first problem found in a body. */
struct field_error {
	enum api_error code; /* ERR_INVALID_FIELD, ERR_UNKNOWN_FIELD or ERR_BAD_JSON */
	const char *rule;    /* rule id from the catalog, or NULL */
	char field[FIELD_PATH_MAX];
	char message[FIELD_PATH_MAX + 272];
};

/** Records an error; returns false so callers can `return field_fail(...)`. */
bool field_fail(struct field_error *err, enum api_error code, const char *rule, const char *prefix,
		const char *name, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/** False (unknown_field) when @a obj has a key not in the NULL-terminated @a allowed. */
bool fields_only(const json_t *obj, const char *const *allowed, const char *prefix,
		 struct field_error *err);

/** Where a member is read and what its errors name: the path of its object (NULL or ""
 *  at the top, "loans[3].borrower" inside) and the catalog rule (NULL: none). */
struct field_at {
	const char *prefix;
	const char *rule;
};

/*
 * The one family of member readers; every body parser (json/loan_json.c for loans, the
 * handlers for the rest) reads through it. Absent and null are the same: *out NULL (or
 * the default) and an error "is required" when @a required. Errors carry @a at.
 */

/** A string (borrowed from obj; *len its bytes when len is not NULL). Not a string:
 *  an error saying @a type_text; a NUL inside is an error (C would cut it short). */
bool field_read_string(const json_t *obj, const char *name, bool required, struct field_at at,
		       const char *type_text, const char **out, size_t *len,
		       struct field_error *err);

/** Text: 1..@a max printable characters (code points), line breaks only when @a breaks. */
bool field_read_text(const json_t *obj, const char *name, bool required, struct field_at at,
		     long max, bool breaks, const char **out, struct field_error *err);

/** true or false; absent leaves @a def. */
bool field_read_bool(const json_t *obj, const char *name, bool required, bool def,
		     struct field_at at, bool *out, struct field_error *err);

/** A real date "YYYY-MM-DD" as a day number; *present (when not NULL) says it was there. */
bool field_read_date(const json_t *obj, const char *name, bool required, struct field_at at,
		     int32_t *day, bool *present, struct field_error *err);

/** Yuan above zero with at most two decimals, as fen (0 when absent); *present (when not
 *  NULL) says it was there. */
bool field_read_money(const json_t *obj, const char *name, bool required, struct field_at at,
		      int64_t *fen, bool *present, struct field_error *err);

/* Shorthands of the family for members without a rule: */

/**
 * Reads string field @a name of @a obj into *out (borrowed from obj). A missing or null
 * field gives *out = NULL: an error when @a required. A non-string is an error.
 */
bool field_string(const json_t *obj, const char *name, bool required, const char *prefix,
		  const char **out, struct field_error *err);

/** Reads boolean field @a name; missing or null leaves *out = @a def unless required. */
bool field_bool(const json_t *obj, const char *name, bool required, bool def, const char *prefix,
		bool *out, struct field_error *err);

/**
 * Reads top-level text member @a name into *out (borrowed from obj): 1..@a max printable
 * characters, line breaks only when @a breaks. Absent or null gives *out = NULL, an
 * error when @a required.
 */
bool field_text(const json_t *obj, const char *name, bool required, long max, bool breaks,
		const char **out, struct field_error *err);

/** Reads top-level date member @a name ("YYYY-MM-DD") into *day. Absent or null sets
 *  *present false (when @a present is not NULL), an error when @a required. */
bool field_date(const json_t *obj, const char *name, bool required, int32_t *day, bool *present,
		struct field_error *err);

/** Reads top-level money member @a name (a yuan string above zero, at most two decimals)
 *  into *fen. Absent or null leaves *fen = 0, an error when @a required. */
bool field_money(const json_t *obj, const char *name, bool required, int64_t *fen,
		 struct field_error *err);

/** Reads required top-level member @a name as a USCC with a valid check character into
 *  *out (borrowed from obj). */
bool field_uscc(const json_t *obj, const char *name, const char **out, struct field_error *err);

/** @a fen as a JSON string of yuan ("1234.50"): a new reference the caller owns. */
json_t *money_json(int64_t fen);

/** Day number @a day as a JSON string "YYYY-MM-DD": a new reference the caller owns. */
json_t *date_json(int32_t day);

/** Joins @a prefix and @a name into a field path ("borrower" + "uscc"). */
void field_path(char *out, size_t len, const char *prefix, const char *name);

/** Records that memory ran out (ERR_UNAVAILABLE, no rule, no field: the reply is 503 with
 *  Retry-After); returns false. */
bool field_out_of_memory(struct field_error *err);

#endif
