/* GET /v1/referrals/export?format=csv|json|xlsx&lang=en|zh (filters as GET /v1/referrals):
 * the referral list for the province, streamed row by row from a query on a connection of
 * its own (db/stream.h) into a chunked response (reply_stream), so memory stays flat
 * however many rows there are. CSV is Excel-safe (json/csv_out.h: BOM, CRLF, RFC 4180
 * quoting, formula guard) with a header row of the JSON field names, or Chinese ones with
 * lang=zh; JSON is {"items": [...]} with the list's items; XLSX (json/xlsx_out.h) is
 * written row by row to a temporary file, then streamed from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/referrals.h"
#include "domain/dates.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "json/csv_out.h"
#include "log.h"

/* Column headers, in the order of the referral_export_csv statement's columns. */
static const char *const headers_en[REFERRAL_EXPORT_COLUMNS] = {
    "id",
    "uscc",
    "name",
    "county_code",
    "industry_code",
    "size",
    "bank_code",
    "requested_amount",
    "reason",
    "referred_on",
    "status",
    "decline_reason",
    "loan_ref",
    "funded_amount",
    "created_at",
    "updated_at",
};

static const char *const headers_zh[REFERRAL_EXPORT_COLUMNS] = {
    "推荐编号",   "统一社会信用代码", "企业名称", "区县代码", "行业代码", "企业规模",
    "承接银行",   "申请金额（元）",   "推荐理由", "推荐日期", "状态",     "拒绝原因",
    "贷款合同号", "放款金额（元）",   "创建时间", "更新时间",
};

/* The same columns as XLSX cells: Chinese titles, typed. */
static const struct xlsx_col xlsx_cols[REFERRAL_EXPORT_COLUMNS] = {
    {"id", "推荐编号", XK_TEXT},
    {"uscc", "统一社会信用代码", XK_TEXT},
    {"name", "企业名称", XK_TEXT},
    {"county_code", "区县代码", XK_TEXT},
    {"industry_code", "行业代码", XK_TEXT},
    {"size", "企业规模", XK_TEXT},
    {"bank_code", "承接银行", XK_TEXT},
    {"requested_amount", "申请金额（元）", XK_MONEY},
    {"reason", "推荐理由", XK_TEXT},
    {"referred_on", "推荐日期", XK_DATE},
    {"status", "状态", XK_TEXT},
    {"decline_reason", "拒绝原因", XK_TEXT},
    {"loan_ref", "贷款合同号", XK_TEXT},
    {"funded_amount", "放款金额（元）", XK_MONEY},
    {"created_at", "创建时间", XK_TIMESTAMP},
    {"updated_at", "更新时间", XK_TIMESTAMP},
};

enum phase { PHASE_HEAD, PHASE_ROWS, PHASE_TAIL, PHASE_DONE };

/* The state of one export; owned by the response (freed by export_free). The bytes
 * formatted but not yet handed out are [off, len) of csv.text or json_out; when either
 * fails (out of memory) the stream ends with an error and only this connection closes. */
struct export_state {
	struct db_stream *stream;
	bool slot; /* holds an export slot (export_begin) */
	bool json, zh;
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
	return x->json ? &x->json_out : &x->csv.text;
}

static bool format_row(struct export_state *x)
{
	if (x->ncols != (x->json ? 1 : REFERRAL_EXPORT_COLUMNS) || (x->json && x->row[0] == NULL)) {
		LOG_BUG("referral export row has %d columns", x->ncols);
		return false;
	}
	if (x->json) {
		if (x->rows > 0)
			json_append(x, ",", 1);
		json_append(x, x->row[0], strlen(x->row[0]));
	} else {
		csv_row(&x->csv, x->row, REFERRAL_EXPORT_COLUMNS);
	}
	x->rows++;
	return true;
}

/* Formats the next piece (about @a want bytes, whole rows) into the pending buffer:
 * 1 when there is one, 0 at the end, -1 when the query failed. */
static int refill(struct export_state *x, size_t want)
{
	const char *tail = x->json ? "]}" : "";

	x->off = 0;
	buf_reset(&x->json_out);
	if (!x->json) {
		csv_free(&x->csv);
		csv_begin(&x->csv, x->phase == PHASE_HEAD);
	}
	if (x->phase == PHASE_HEAD) {
		if (x->json)
			json_append(x, "{\"items\":[", 10);
		else
			csv_row(&x->csv, x->zh ? headers_zh : headers_en, REFERRAL_EXPORT_COLUMNS);
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
		if (x->json)
			json_append(x, tail, strlen(tail));
		x->phase = PHASE_DONE;
	}
	if (pending(x)->failed) {
		LOG_WARN("referral export: out of memory; the connection is closed");
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

static void export_free(void *cls)
{
	struct export_state *x = cls;

	db_stream_close(x->stream);
	csv_free(&x->csv);
	buf_free(&x->json_out);
	if (x->slot)
		export_end();
	free(x);
}

/* Reads ?format (csv, the default, json or xlsx) and ?lang (en, the default, or zh). */
static bool export_params(struct request *req, enum out_format *fmt, bool *zh)
{
	const char *lang = req_query(req, "lang");

	*zh = lang != NULL && strcmp(lang, "zh") == 0;
	if (!query_format(req, FMT_CSV | FMT_JSON | FMT_XLSX, FMT_CSV, fmt))
		return false;
	if (lang != NULL && !*zh && strcmp(lang, "en") != 0) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "lang", "lang: en or zh");
		return false;
	}
	return true;
}

/* The whole export written to a workbook before the reply, so a failed query still gets
 * an error reply; the file, not memory, holds the rows. */
static void export_xlsx(struct request *req, const struct referral_filter *f)
{
	struct xlsx_out *x;
	struct db_stream *s;
	const char *const *row;
	int ncols, r = 0;
	bool written = true; /* every row read went into the workbook */
	enum db_rc rc = DB_OK;

	x = export_xlsx_open(req, "纾困推荐", xlsx_cols, REFERRAL_EXPORT_COLUMNS);
	if (x == NULL)
		return;
	s = db_referral_export_open(f, false, &rc);
	if (s == NULL) {
		export_xlsx_discard(x);
		reply_db_error(req, rc);
		return;
	}
	while (written && (r = db_stream_next(s, &row, &ncols)) == 1) {
		if (ncols != REFERRAL_EXPORT_COLUMNS) {
			LOG_BUG("referral export row has %d columns", ncols);
			r = -1;
			rc = DB_ERROR;
			break;
		}
		written = xlsx_text_row(x, row);
	}
	if (r < 0 && rc == DB_OK)
		rc = db_stream_failure(s);
	db_stream_close(s);
	if (!written || r != 0) {
		export_xlsx_discard(x);
		if (!written)
			reply_workbook_failed(req);
		else if (rc == DB_UNAVAILABLE)
			reply_db_error(req, rc);
		else
			reply_error(req, ERR_INTERNAL, NULL, NULL, "referral export query failed");
		return;
	}
	reply_xlsx(req, x, "referrals");
}

void referrals_export(struct request *req)
{
	struct referral_filter f;
	struct export_state *x;
	char disposition[96], day[DATE_BUF];
	enum out_format fmt;
	bool json, zh;
	enum db_rc rc;
	int r;

	if (!referral_filter_read(req, &f, false) || !export_params(req, &fmt, &zh))
		return;
	if (fmt == FMT_XLSX) {
		export_xlsx(req, &f);
		return;
	}
	json = fmt == FMT_JSON;
	if (!export_begin(req))
		return;
	x = calloc(1, sizeof *x);
	if (x == NULL) {
		export_end();
		reply_out_of_memory(req);
		return;
	}
	x->slot = true;
	x->json = json;
	x->zh = zh;
	x->stream = db_referral_export_open(&f, json, &rc);
	if (x->stream == NULL) {
		export_free(x);
		reply_db_error(req, rc);
		return;
	}
	/* The first row is read now, so a query that fails at once still gets an error reply
	 * instead of a cut-off body. */
	r = db_stream_next(x->stream, &x->row, &x->ncols);
	if (r < 0) {
		rc = db_stream_failure(x->stream);
		export_free(x);
		if (rc == DB_UNAVAILABLE)
			reply_db_error(req, rc);
		else
			reply_error(req, ERR_INTERNAL, NULL, NULL, "referral export query failed");
		return;
	}
	x->have_row = r == 1;
	date_format(today_day(), day);
	snprintf(disposition, sizeof disposition, "attachment; filename=\"referrals-%s.%s\"", day,
		 json ? "json" : "csv");
	reply_stream(req, 200, json ? "application/json" : "text/csv; charset=utf-8", export_fill,
		     x, export_free);
	reply_header(req, "Content-Disposition", disposition);
}
