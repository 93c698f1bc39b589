/* Implementation of handlers/export_stream.h (until 3 December 2026 the referral export's
 * own; the whitelist CSV was built whole in memory, outside the export cap). */
#include "handlers/export_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "http/reply.h"
#include "json/csv_out.h"
#include "log.h"

enum phase { PHASE_HEAD, PHASE_ROWS, PHASE_TAIL, PHASE_DONE };

/* The state of one export; owned by the response (freed by export_free). The bytes
 * formatted but not yet handed out are [off, len) of csv.text or json_out; when either
 * fails (out of memory) the stream ends with an error and only this connection closes. */
struct export_state {
	const struct export_stream_spec *spec;
	struct db_stream *stream;
	enum phase phase;
	const char *const *row; /* the row read but not yet formatted, when have_row */
	int ncols;
	bool have_row;
	long rows; /* rows formatted so far */
	struct csv_out csv;
	struct buf json_out;
	size_t len, off;
};

static void json_append(struct export_state *x, const char *s, size_t n)
{
	buf_append(&x->json_out, s, n); /* a failure is sticky: refill() then ends the stream */
}

/* The formatted bytes pending. */
static const struct buf *pending(const struct export_state *x)
{
	return x->spec->json ? &x->json_out : &x->csv.text;
}

static bool format_row(struct export_state *x)
{
	bool json = x->spec->json;

	if (x->ncols != (json ? 1 : x->spec->ncols) || (json && x->row[0] == NULL)) {
		LOG_BUG("%s row has %d columns", x->spec->what, x->ncols);
		return false;
	}
	if (json) {
		if (x->rows > 0)
			json_append(x, ",", 1);
		json_append(x, x->row[0], strlen(x->row[0]));
	} else {
		csv_row(&x->csv, x->row, (size_t)x->spec->ncols);
	}
	x->rows++;
	return true;
}

/* Formats the next piece (about @a want bytes, whole rows) into the pending buffer:
 * 1 when there is one, 0 at the end, -1 when the query failed. */
static int refill(struct export_state *x, size_t want)
{
	bool json = x->spec->json;

	x->off = 0;
	buf_reset(&x->json_out);
	if (!json) {
		csv_free(&x->csv);
		csv_begin(&x->csv, x->phase == PHASE_HEAD);
	}
	if (x->phase == PHASE_HEAD) {
		if (json)
			json_append(x, "{\"items\":[", 10);
		else
			csv_row(&x->csv, x->spec->headers, (size_t)x->spec->ncols);
		x->phase = PHASE_ROWS;
	}
	while (x->phase == PHASE_ROWS && !pending(x)->failed && pending(x)->len < want) {
		if (!x->have_row) {
			int r = db_stream_next(x->stream, &x->row, &x->ncols);

			if (r < 0)
				return -1;
			if (r == 0) {
				x->phase = PHASE_TAIL;
				break;
			}
		}
		x->have_row = false;
		if (!format_row(x))
			return -1;
	}
	if (x->phase == PHASE_TAIL) {
		if (json)
			json_append(x, "]}", 2);
		x->phase = PHASE_DONE;
	}
	if (pending(x)->failed) {
		LOG_WARN("%s: out of memory; the connection is closed", x->spec->what);
		return -1;
	}
	x->len = pending(x)->len;
	return x->len > 0 ? 1 : 0;
}

static long export_fill(void *cls, char *buf, size_t max)
{
	struct export_state *x = cls;
	size_t n = 0;

	while (n < max) {
		size_t k;

		if (x->off == x->len) {
			int r = refill(x, max);

			if (r < 0)
				return -1;
			if (r == 0)
				break;
		}
		k = x->len - x->off < max - n ? x->len - x->off : max - n;
		memcpy(buf + n, pending(x)->data + x->off, k);
		n += k;
		x->off += k;
	}
	return (long)n;
}

/* Closes the stream, frees the state and gives the export slot back. */
static void export_free(void *cls)
{
	struct export_state *x = cls;

	db_stream_close(x->stream);
	csv_free(&x->csv);
	buf_free(&x->json_out);
	export_end();
	free(x);
}

void reply_export_stream(struct request *req, struct db_stream *s,
			 const struct export_stream_spec *spec, const char *filename)
{
	struct export_state *x = calloc(1, sizeof *x);
	char disposition[128];
	enum db_rc rc;
	int r;

	if (x == NULL) {
		db_stream_close(s);
		export_end();
		reply_out_of_memory(req);
		return;
	}
	x->spec = spec;
	x->stream = s;
	/* The first row is read now, so a query that fails at once still gets an error reply
	 * instead of a cut-off body. */
	r = db_stream_next(s, &x->row, &x->ncols);
	if (r < 0) {
		rc = db_stream_failure(s);
		export_free(x);
		if (rc == DB_UNAVAILABLE)
			reply_db_error(req, rc);
		else
			reply_error(req, ERR_INTERNAL, NULL, NULL, "%s query failed", spec->what);
		return;
	}
	x->have_row = r == 1;
	snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", filename);
	reply_stream(req, 200, spec->json ? "application/json" : "text/csv; charset=utf-8",
		     export_fill, x, export_free);
	reply_header(req, "Content-Disposition", disposition);
}
