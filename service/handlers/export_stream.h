/* Exports streamed from a query (db/stream.h) into a chunked response, so memory stays flat
 * however many rows there are: CSV (json/csv_out.h: BOM, CRLF, RFC 4180 quoting, formula
 * guard) with a header row, or JSON {"items": [...]} of one JSON text per row. Used by the
 * referral export and the whitelist CSV. See docs/exports.md. */
#ifndef FINREG_HANDLERS_EXPORT_STREAM_H
#define FINREG_HANDLERS_EXPORT_STREAM_H

#include <stdbool.h>

#include "db/stream.h"
#include "http/request.h"

/** What a streamed export writes. */
struct export_stream_spec {
	const char *what;           /* "referral export": log lines and error messages */
	bool json;                  /* {"items": [...]} of the rows' one column; else CSV */
	const char *const *headers; /* the CSV header row (ncols cells); unused for JSON */
	int ncols;                  /* columns of each CSV row */
};

/**
 * Replies 200 with the rows of @a s, an attachment named @a filename, formatted as @a spec
 * says (which must outlive the response; its arrays are static in practice). Call it with
 * an export slot taken (export_begin) and @a s opened; takes ownership of both: they are
 * given back when the response is sent or abandoned, or at once when the first row cannot
 * be read, having replied 503 (the database cancelled or lost the query) or 500.
 */
void reply_export_stream(struct request *req, struct db_stream *s,
			 const struct export_stream_spec *spec, const char *filename);

#endif
