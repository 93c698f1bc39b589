/* Writing CSV exports that open cleanly in Excel: UTF-8 with a byte-order mark, CRLF row
 * ends, RFC 4180 quoting, and cells that a spreadsheet would run as a formula defused with
 * a leading apostrophe. The counterpart of json/csv.h (which reads uploads). No HTTP here. */
#ifndef FINREG_CSV_OUT_H
#define FINREG_CSV_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/** The UTF-8 byte-order mark Excel needs to read a CSV file as UTF-8 (3 bytes). */
#define CSV_BOM "\xEF\xBB\xBF"

/** A growing CSV text. Zero-initialise it or use csv_begin(); release with csv_free() or
 *  take the text with csv_take(). An allocation failure never aborts: it fails @a text
 *  (text.failed), later cells are dropped, and csv_take answers NULL. */
struct csv_out {
	bool row_open; /* a cell of the current row has been written */
	struct buf text;
};

/** Starts an empty text, with the byte-order mark when @a bom. */
void csv_begin(struct csv_out *b, bool bom);

/**
 * Appends one cell to the current row (a comma first unless it is the row's first cell).
 * NULL is an empty cell. A cell containing a comma, double quote, CR or LF is quoted
 * (quotes doubled). A cell that domain/cell_guard.h says could run as a formula is
 * prefixed with an apostrophe so a spreadsheet shows it as text.
 */
void csv_field(struct csv_out *b, const char *text);

/** Ends the current row with CRLF (an empty row when no cell was written). */
void csv_end_row(struct csv_out *b);

/** Appends a whole row of @a n cells (csv_field each, then csv_end_row). */
void csv_row(struct csv_out *b, const char *const *cells, size_t n);

/** Hands the NUL-terminated text to the caller (who frees it) with its length in *len;
 *  @a b is empty afterwards. NULL when memory ran out while it was written. */
char *csv_take(struct csv_out *b, size_t *len);

/** Frees the text; @a b is empty afterwards. */
void csv_free(struct csv_out *b);

#endif
