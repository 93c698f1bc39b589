/* The loan-withdrawal watch (抽贷/压贷/断贷, measure 7.4): GET /v1/alerts/withdrawals?as_of=
 * &window_days=90&bank=&county=&kind=&format=json|csv|xlsx. The database finds the alerts
 * of the window (sql/supervision.sql); here parameters are checked, a bank is held to its
 * own (bank=self) and the rows are written as JSON, as Excel-safe CSV (json/csv_out.h) or
 * as a workbook (json/xlsx_out.h) with the CSV's columns under Chinese titles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/supervision.h"
#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/money.h"
#include "domain/supervision.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "json/csv_out.h"
#include "json/fields.h"
#include "json/json_out.h"

/* Most rows one answer holds; a query with more must be narrowed (422). */
#define ALERTS_MAX 20000

static const char *const csv_headers[] = {
    "kind", "bank_code", "uscc",  "name", "county_code", "outstanding_before", "outstanding_as_of",
    "date", "loan_ref",  "flags",
};
#define CSV_COLUMNS (sizeof csv_headers / sizeof csv_headers[0])

/* The workbook's columns: the CSV's, in its order. */
static const struct xlsx_col xlsx_cols[CSV_COLUMNS] = {
    {"kind", "类型（recall 抽贷 / cut 压贷 / cutoff 断贷）", XK_TEXT},
    {"bank_code", "银行代码", XK_TEXT},
    {"uscc", "统一社会信用代码", XK_TEXT},
    {"name", "企业名称", XK_TEXT},
    {"county_code", "区县代码", XK_TEXT},
    {"outstanding_before", "窗口前余额（元）", XK_MONEY},
    {"outstanding_as_of", "截至日余额（元）", XK_MONEY},
    {"date", "日期", XK_DATE},
    {"loan_ref", "合同号", XK_TEXT},
    {"flags", "标记", XK_TEXT},
};

struct alerts {
	enum out_format fmt;
	struct buf json; /* the JSON answer, written row by row (no jansson value per field) */
	struct csv_out out;
	struct xlsx_out *xlsx;
	bool broken; /* a row could not be written (memory, disk): the answer is 503 */
	long n;
};

/* "referred;whitelisted" style flags into @a buf. */
static void flags_of(const struct withdrawal_alert *a, char buf[64])
{
	buf[0] = '\0';
	if (a->referred)
		strcat(buf, "referred");
	if (a->whitelisted)
		strcat(buf, buf[0] ? ";whitelisted" : "whitelisted");
	if (a->scf_member)
		strcat(buf, buf[0] ? ";scf_member" : "scf_member");
}

/* Appends ,"@a name":@a value (a JSON string, or null). */
static void json_member(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, ",\"%s\":", name);
	json_out_string(b, value);
}

/* One row as a JSON object after the rows written before it. */
static void json_row(struct buf *b, const struct withdrawal_alert *a, bool first)
{
	static const char *const names[] = {"referred", "whitelisted", "scf_member"};
	const bool set[] = {a->referred, a->whitelisted, a->scf_member};
	char before[MONEY_BUF], after[MONEY_BUF];
	bool more = false;

	money_format(a->before, before);
	money_format(a->as_of, after);
	buf_append_str(b, first ? "{\"kind\":" : ",{\"kind\":");
	json_out_string(b, a->kind);
	json_member(b, "bank_code", a->bank_code);
	json_member(b, "uscc", a->uscc);
	json_member(b, "name", a->name);
	json_member(b, "county_code", a->county_code);
	json_member(b, "outstanding_before", before);
	json_member(b, "outstanding_as_of", after);
	json_member(b, "date", a->date);
	json_member(b, "loan_ref", a->loan_ref);
	buf_append_str(b, ",\"flags\":[");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!set[i])
			continue;
		buf_printf(b, more ? ",\"%s\"" : "\"%s\"", names[i]);
		more = true;
	}
	buf_append_str(b, "]}");
}

/* One row as a CSV row or a workbook row. */
static void table_row(struct alerts *x, const struct withdrawal_alert *a)
{
	char flags[64], before[MONEY_BUF], after[MONEY_BUF];
	const char *cells[CSV_COLUMNS] = {a->kind,        a->bank_code, a->uscc, a->name,
					  a->county_code, before,       after,   a->date,
					  a->loan_ref,    flags};

	flags_of(a, flags);
	money_format(a->before, before);
	money_format(a->as_of, after);
	if (x->fmt == FMT_CSV)
		csv_row(&x->out, cells, CSV_COLUMNS);
	else if (!x->broken && !xlsx_text_row(x->xlsx, cells))
		x->broken = true;
}

static void alert_add(void *cls, const struct withdrawal_alert *a)
{
	struct alerts *x = cls;

	x->n++;
	if (x->n > ALERTS_MAX)
		return;
	if (x->fmt == FMT_JSON)
		json_row(&x->json, a, x->n == 1);
	else
		table_row(x, a);
}

/* Reads the watch's parameters into @a f (dates into the caller's buffers). Replies 422
 * and returns false on a malformed one. */
static bool alert_params(struct request *req, struct alert_filter *f, char start[DATE_BUF],
			 char as_of[DATE_BUF], long *window)
{
	const char *w = req_query(req, "window_days"), *kind = req_query(req, "kind");
	int32_t day, s;
	char *end;
	bool ok;

	memset(f, 0, sizeof *f);
	f->bank = stats_bank(req, &ok);
	if (!ok || !query_as_of(req, as_of, &day))
		return false;
	if (strcmp(f->bank, "*") == 0)
		f->bank = NULL;
	/* A bank's flags count its own referrals and programs only (those of other banks are
	 * not its to see, as in GET /v1/firms/{uscc}); the regulator's, every bank's. */
	f->flags_bank = req->principal.kind == PK_REGULATOR ? NULL : req->principal.code;
	*window = w != NULL ? strtol(w, &end, 10) : 90;
	if ((w != NULL && (*w == '\0' || *end != '\0')) || !watch_window_start(day, *window, &s)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "window_days",
			    "window_days: a whole number of days from 1 to %d", WATCH_WINDOW_MAX);
		return false;
	}
	date_format(s, start);
	f->start = start;
	f->as_of = as_of;
	f->county = req_query(req, "county");
	if (f->county != NULL && !county_code_valid(f->county)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "county",
			    "county: a 6-digit division code");
		return false;
	}
	if (kind != NULL && strcmp(kind, "recall") != 0 && strcmp(kind, "cut") != 0 &&
	    strcmp(kind, "cutoff") != 0) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "kind", "kind: recall, cut or cutoff");
		return false;
	}
	f->kind = kind;
	f->limit = ALERTS_MAX + 1;
	return true;
}

static void reply_csv(struct request *req, struct alerts *x, const char *as_of)
{
	char disposition[96];
	size_t len;
	char *text = csv_take(&x->out, &len);

	snprintf(disposition, sizeof disposition,
		 "attachment; filename=\"withdrawal-alerts-%s.csv\"", as_of);
	reply_text(req, 200, "text/csv; charset=utf-8", text, len);
	reply_header(req, "Content-Disposition", disposition);
}

/* The JSON answer's members before its rows, written before the query runs:
 * {"as_of", "window_days", "bank", "county", "kind", "rows": [ ... */
static void json_head(struct buf *b, const struct alert_filter *f, long window)
{
	buf_append_str(b, "{\"as_of\":");
	json_out_string(b, f->as_of);
	buf_printf(b, ",\"window_days\":%ld", window);
	json_member(b, "bank", f->bank);
	json_member(b, "county", f->county);
	json_member(b, "kind", f->kind);
	buf_append_str(b, ",\"rows\":[");
}

/* Closes the rows and adds the total; 503 when the answer could not be held in memory. */
static void reply_json_rows(struct request *req, struct alerts *x)
{
	size_t len;
	char *text;

	buf_printf(&x->json, "],\"total\":%ld}", x->n);
	text = buf_take(&x->json, &len);
	if (text == NULL) {
		reply_out_of_memory(req);
		return;
	}
	reply_text(req, 200, "application/json", text, len);
}

/* Replies with what db_withdrawal_alerts() (@a rc) found, in the asked format. */
static void alerts_reply(struct request *req, struct alerts *x, enum db_rc rc,
			 const struct alert_filter *f, long window)
{
	if (rc != DB_OK) {
		reply_db_error(req, rc);
	} else if (x->n > ALERTS_MAX) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "window_days",
			    "more than %d alerts: narrow the query (bank, county, kind or window)",
			    ALERTS_MAX);
	} else if (x->fmt == FMT_XLSX && x->broken) {
		reply_workbook_failed(req);
	} else if (x->broken) {
		reply_out_of_memory(req);
	} else if (x->fmt == FMT_XLSX) {
		reply_xlsx(req, x->xlsx, "withdrawal-alerts");
		x->xlsx = NULL;
	} else if (x->fmt == FMT_CSV) {
		reply_csv(req, x, f->as_of);
	} else {
		reply_json_rows(req, x);
	}
}

void alerts_withdrawals(struct request *req)
{
	struct alerts x = {0};
	struct alert_filter f;
	char start[DATE_BUF], as_of[DATE_BUF];
	long window;

	if (!query_format(req, FMT_JSON | FMT_CSV | FMT_XLSX, FMT_JSON, &x.fmt) ||
	    !alert_params(req, &f, start, as_of, &window))
		return;
	if (x.fmt == FMT_XLSX) {
		x.xlsx = export_xlsx_open(req, "抽贷压贷断贷预警", xlsx_cols, CSV_COLUMNS);
		if (x.xlsx == NULL)
			return;
	}
	if (x.fmt == FMT_JSON)
		json_head(&x.json, &f, window);
	csv_begin(&x.out, true);
	csv_row(&x.out, csv_headers, CSV_COLUMNS);
	alerts_reply(req, &x, db_withdrawal_alerts(&f, alert_add, &x), &f, window);
	export_xlsx_discard(x.xlsx); /* NULL when the reply took it */
	buf_free(&x.json);
	csv_free(&x.out);
}
