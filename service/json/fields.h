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
