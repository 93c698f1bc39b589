/* Writing XLSX workbooks (Office Open XML) for spreadsheet exports, with libxlsxwriter in
 * constant-memory mode: one sheet, a bold frozen header row of Chinese titles, then one
 * row per call, each cell typed by its column (text, money, integer, decimal, date,
 * timestamp, yes/no). The workbook goes to an unnamed temporary file (O_TMPFILE, or
 * mkstemp and unlink) in the export directory; xlsx_finish() hands back its descriptor, so
 * the server streams it from disk and memory stays flat however many rows there are.
 * Text cells pass the formula guard of domain/cell_guard.h. No HTTP here; see
 * docs/exports.md for how a list handler uses it. */
#ifndef FINREG_XLSX_OUT_H
#define FINREG_XLSX_OUT_H

#include <jansson.h>
#include <stdbool.h>

/** The most data rows a sheet holds (Excel's 1,048,576 rows less the header). */
#define XLSX_MAX_ROWS 1048575L

/** How a column's values are written. */
enum xlsx_kind {
	XK_TEXT,      /* a text cell, always (USCCs, codes, references, names) */
	XK_MONEY,     /* a yuan string "1234.50" -> a number shown #,##0.00 */
	XK_INT,       /* an integer -> a number shown 0 */
	XK_DECIMAL,   /* a number or decimal string -> a number shown as General */
	XK_RATIO,     /* a share or ratio -> a number shown 0.0000 */
	XK_DATE,      /* "YYYY-MM-DD" -> a date cell shown yyyy-mm-dd */
	XK_TIMESTAMP, /* "YYYY-MM-DDTHH:MM:SS..." (Beijing time) -> a date-time cell, whole seconds
		       */
	XK_BOOL,      /* true/false (or "t"/"f") -> a boolean cell */
	XK_VALUE,     /* a JSON string of yuan -> money, a JSON number -> decimal */
};

/** One column: where its value is (a JSON member path such as "borrower.uscc", or unused
 *  for text rows), its Chinese title, and its kind. */
struct xlsx_col {
	const char *key;
	const char *title;
	enum xlsx_kind kind;
};

struct xlsx_out;

/** Sets the directory for export files (default: $TMPDIR or /tmp); not copied. Call before
 *  serving. */
void xlsx_set_tmpdir(const char *dir);

/** Starts a workbook with one sheet @a sheet and a header row of @a cols' titles; NULL when
 *  the temporary file cannot be made (logged) or memory runs out. @a cols must outlive the writer.
 */
struct xlsx_out *xlsx_open(const char *sheet, const struct xlsx_col *cols, int ncols);

/** Appends a row whose cells are texts (NULL or "" is a blank cell), one per column,
 *  converted by kind. False when the sheet is full (XLSX_MAX_ROWS) or a write failed. */
bool xlsx_text_row(struct xlsx_out *x, const char *const *cells);

/** Appends a row taken from the members of JSON object @a row named by the columns' keys
 *  (null or absent is blank). False when the sheet is full or a write failed. */
bool xlsx_json_row(struct xlsx_out *x, const json_t *row);

/** Rows written so far, the header not counted. */
long xlsx_rows(const struct xlsx_out *x);

/** Completes the workbook and frees @a x. On success returns a readable descriptor at
 *  offset 0 of the finished file (already unlinked; the caller closes it) and its size in
 *  *size; -1 on failure (logged). */
int xlsx_finish(struct xlsx_out *x, long long *size);

/** Drops an unfinished workbook and its file. NULL is fine. */
void xlsx_discard(struct xlsx_out *x);

#endif
