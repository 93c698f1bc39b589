/* GET /v1/referrals/export?format=csv|json|xlsx&lang=en|zh (filters as GET /v1/referrals):
 * the referral list for the province, streamed row by row from a query on a connection of
 * its own into a chunked response (handlers/export_stream.h), so memory stays flat
 * however many rows there are. CSV is Excel-safe (json/csv_out.h: BOM, CRLF, RFC 4180
 * quoting, formula guard) with a header row of the JSON field names, or Chinese ones with
 * lang=zh; JSON is {"items": [...]} with the list's items; XLSX (json/xlsx_out.h) is
 * written row by row to a temporary file, then streamed from it. */
#include <stdio.h>
#include <string.h>

#include "db/referrals.h"
#include "domain/dates.h"
#include "handlers/common.h"
#include "handlers/export_stream.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"
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
	static const struct export_stream_spec csv_en = {"referral export", false, headers_en,
							 REFERRAL_EXPORT_COLUMNS};
	static const struct export_stream_spec csv_zh = {"referral export", false, headers_zh,
							 REFERRAL_EXPORT_COLUMNS};
	static const struct export_stream_spec json = {"referral export", true, NULL, 1};
	struct referral_filter f;
	struct db_stream *s;
	char filename[64], day[DATE_BUF];
	enum out_format fmt;
	bool zh;
	enum db_rc rc;

	if (!referral_filter_read(req, &f, false) || !export_params(req, &fmt, &zh))
		return;
	if (fmt == FMT_XLSX) {
		export_xlsx(req, &f);
		return;
	}
	if (!export_begin(req))
		return;
	s = db_referral_export_open(&f, fmt == FMT_JSON, &rc);
	if (s == NULL) {
		export_end();
		reply_db_error(req, rc);
		return;
	}
	date_format(today_day(), day);
	snprintf(filename, sizeof filename, "referrals-%s.%s", day,
		 fmt == FMT_JSON ? "json" : "csv");
	reply_export_stream(req, s, fmt == FMT_JSON ? &json : zh ? &csv_zh : &csv_en, filename);
}
