/* The output formats of lists and statistics (?format=json|csv|xlsx) and the XLSX replies
 * every list handler shares: a finished json/xlsx_out.h workbook streamed from its file,
 * or a JSON answer (its rows and total) turned into one by a column spec. An unknown
 * format is 422, never silently JSON. See docs/exports.md. */
#ifndef FINREG_HANDLERS_FORMATS_H
#define FINREG_HANDLERS_FORMATS_H

#include <jansson.h>
#include <stdbool.h>

#include "db/db.h"
#include "http/request.h"
#include "json/xlsx_out.h"

enum out_format { FMT_JSON = 1, FMT_CSV = 2, FMT_XLSX = 4 };

#define XLSX_CONTENT_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

/** Reads ?format: one of the formats in mask @a allowed, @a dflt when absent. Anything
 *  else replies 422 invalid_field (field "format") and returns false. */
bool query_format(struct request *req, unsigned allowed, enum out_format dflt,
		  enum out_format *out);

/** Starts an export: takes one of the FINREG_MAX_EXPORTS slots (exports.h). False, having
 *  replied 503 unavailable with Retry-After, when all are taken. Give the slot back with
 *  export_end(), or let a reply that takes it (reply_xlsx) do so when it is sent. */
bool export_begin(struct request *req);

/** Gives back the slot of export_begin(). */
void export_end(void);

/** Replies 503 unavailable with Retry-After: a workbook could not be started, written or
 *  finished (memory, disk); nothing was changed. */
void reply_workbook_failed(struct request *req);

/** export_begin(), then xlsx_open(): the workbook holding an export slot. NULL, having
 *  replied 503 (and given the slot back), when either fails. */
struct xlsx_out *export_xlsx_open(struct request *req, const char *sheet,
				  const struct xlsx_col *cols, int ncols);

/** Drops a workbook of export_xlsx_open() and gives its slot back. NULL is fine. */
void export_xlsx_discard(struct xlsx_out *x);

/** Finishes @a x (from export_xlsx_open) and replies 200 with it as an attachment
 *  "NAME-YYYY-MM-DD.xlsx" (today in Beijing), or 503 when it cannot be finished. Takes
 *  ownership of @a x and of its export slot, held until the file is sent. */
void reply_xlsx(struct request *req, struct xlsx_out *x, const char *name);

/** How a JSON answer becomes a sheet: the file name, the sheet name, the columns (keys are
 *  member paths in each row), the member holding the rows ("rows") and the member holding
 *  a total row (NULL: none). */
struct xlsx_table {
	const char *name;
	const char *sheet;
	const struct xlsx_col *cols;
	int ncols;
	const char *rows_key;
	const char *total_key;
};

/**
 * Replies 200 with @a body as JSON when @a fmt is FMT_JSON, else as a workbook of @a t:
 * a row per member of body[rows_key], then body[total_key] when there is one, its first
 * column "合计". Takes ownership of @a body (NULL answers 503). A workbook is an export
 * (export_begin: 503 when FINREG_MAX_EXPORTS run) and any failure to write it is 503.
 */
void reply_answer(struct request *req, enum out_format fmt, json_t *body,
		  const struct xlsx_table *t);

/** A workbook filled from pages of a JSON list (db list functions with json_row_fn). */
struct xlsx_pages {
	struct xlsx_out *x;
	int64_t last_id;
	int count;         /* rows of the current page */
	bool walk_stopped; /* the current page's walk stopped at its bound (db.h json_row_fn) */
	bool broken;       /* a row that is not JSON, a full sheet or a failed write */
};

/** Starts @a p on a new workbook (sheet @a sheet, columns @a cols) holding an export slot;
 *  replies 503 and returns false when it cannot. */
bool xlsx_pages_begin(struct request *req, struct xlsx_pages *p, const char *sheet,
		      const struct xlsx_col *cols, int ncols);

/** json_row_fn: appends one list item to the workbook of @a cls (a struct xlsx_pages). */
void xlsx_pages_add(void *cls, int64_t id, const char *json);

/** Replies with the workbook as "NAME-day.xlsx" when @a rc is DB_OK and nothing broke;
 *  else drops it (and its slot) and replies the error (422 when the sheet is full, 503
 *  when a write failed). */
void xlsx_pages_finish(struct request *req, struct xlsx_pages *p, enum db_rc rc, const char *name);

/** One page of a list into the workbook of @a p: a db list function called with
 *  xlsx_pages_add and @a p on the caller's filter @a filter. */
typedef enum db_rc (*xlsx_page_fn)(void *filter, struct xlsx_pages *p);

/** Fills @a p page by page (@a page with @a filter, whose keyset position is *@a after_id
 *  and page size @a limit) until a page comes back short, then replies as
 *  xlsx_pages_finish() does with file name @a name. */
void xlsx_pages_run(struct request *req, struct xlsx_pages *p, xlsx_page_fn page, void *filter,
		    int64_t *after_id, int limit, const char *name);

/** 422 when ?limit or ?cursor is given: an export holds every matching item. Replies and
 *  returns false then. */
bool export_unpaged(struct request *req);

#endif
