/* CSV uploads (RFC 4180, UTF-8) turned into the JSON objects a JSON upload would carry, so
 * that a CSV batch goes through exactly the same parsers and rules (POST /v1/loans/batch
 * with Content-Type: text/csv). */
#ifndef FINREG_CSV_H
#define FINREG_CSV_H

#include <jansson.h>
#include <stddef.h>

#include "json/fields.h"

/** Most columns a header row may have. */
#define CSV_MAX_COLUMNS 256

/**
 * Parses the @a len bytes at @a text: UTF-8 with an optional BOM, CRLF or LF line ends,
 * fields optionally in double quotes ("" for a quote; commas and line breaks allowed
 * inside), a header row of field names, then data rows with as many cells each. Empty
 * lines after the last row are ignored. Each data row becomes one JSON object:
 *   - an empty cell leaves its key out;
 *   - a column "a.b" goes into the nested object "a" (e.g. "borrower.uscc"); the object
 *     is there, maybe empty, in every row when the header has such a column;
 *   - in the columns first_loan, renewal and relief_fund, "true" and "false" become JSON
 *     booleans; in scf_program_id, one to 18 digits become a JSON integer;
 *   - everything else is a JSON string.
 * Returns a new JSON array (the caller decrefs), empty when there is only a header. On
 * malformed input (no header, an empty or repeated column name, an unterminated quote,
 * text after a closing quote, a quote inside an unquoted cell, a CR without LF, a row
 * with a different number of cells, invalid UTF-8, a NUL byte) returns NULL and fills
 * @a err: code ERR_BAD_JSON, no rule, field "line N" where N counts physical lines from
 * 1 and is the line the offending row starts on. When memory runs out it returns NULL
 * with code ERR_UNAVAILABLE (no field); it never aborts.
 */
json_t *csv_to_rows(const char *text, size_t len, struct field_error *err);

/**
 * csv_to_rows, stopping at the first row past @a max_rows (ERR_INVALID_FIELD, field
 * "loans") or past JSON_MAX_VALUES values in all (ERR_PAYLOAD_TOO_LARGE): memory stays
 * bounded whatever the text holds. csv_to_rows has no row limit, the same value limit.
 */
json_t *csv_to_rows_max(const char *text, size_t len, size_t max_rows, struct field_error *err);

#endif
