/* Loans, one at a time: POST /v1/loans, GET /v1/loans/{loan_ref}, GET /v1/loans,
 * PUT /v1/loans/{loan_ref} (a correction, If-Match), GET .../history, POST .../void and
 * POST .../repayments. Banks write their own loans; the regulator reads every bank's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/loans.h"
#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/uscc.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "handlers/loan_items.h"
#include "handlers/outcome.h"
#include "http/reply.h"
#include "json/loan_answer.h"
#include "json/loan_json.h"
#include "metrics.h"

/* Replies with a loan JSON text from the database (ownership of @a json taken). */
static void reply_loan(struct request *req, unsigned status, char *json)
{
	reply_text(req, status, "application/json", json, strlen(json));
}

/* Replies with the rejection of @a o (handlers/outcome.h maps it). */
static void reply_loan_rejection(struct request *req, const struct loan_outcome *o)
{
	struct field_error err;

	outcome_error(o->code, o->rule, NULL, o->field, o->message, &err);
	reply_outcome_error(req, &err);
}

static bool load_refdata(struct request *req, struct refdata *ref)
{
	enum db_rc rc = db_refdata(ref);

	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return false;
	}
	ref->policy.today = today_day();
	return true;
}

void loans_post(struct request *req)
{
	struct refdata ref;
	struct loan_prep p;
	struct loan_outcome out;
	struct loan_item item;
	json_t *content = NULL; /* the item's content, for the answer of a created loan */
	enum db_rc rc;
	bool created;

	memset(&out, 0, sizeof out);
	loan_item_init(&item);
	if (!load_refdata(req, &ref))
		goto out;
	if (!loan_prepare(req->json, NULL, &ref, &item, &p, &content)) {
		reply_field_error(req, &p.err);
		goto out;
	}
	rc = db_loan_ingest_one(req->principal.code, p.loan_ref, &item, &out);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto out;
	}
	if (strcmp(out.status, "rejected") == 0) {
		reply_loan_rejection(req, &out);
		goto out;
	}
	created = strcmp(out.status, "created") == 0;
	if (created && out.loan == NULL) { /* rendered here (json/loan_answer.h) */
		struct loan_stored st = {out.created_at, out.registry_first_loan, out.warnings};

		out.loan = loan_answer_created(content, &item, req->principal.code, &st);
	}
	if (out.loan == NULL) {
		reply_error(req, ERR_INTERNAL, NULL, NULL, "ingest answered no loan");
		goto out;
	}
	if (created)
		metrics_loans_stored(1);
	reply_loan(req, created ? 201 : 200, out.loan);
	out.loan = NULL;
out:
	json_decref(content);
	loan_item_free(&item);
	loan_outcome_clear(&out);
}

/* Replies with what @a read (db_loan_get, db_loan_history) gives for the loan of the path. */
static void reply_loan_read(struct request *req,
			    enum db_rc (*read)(const char *bank, const char *ref, char **json))
{
	bool ok;
	const char *bank = bank_scope(req, true, &ok);
	char *json = NULL;
	enum db_rc rc;

	if (!ok)
		return;
	rc = read(bank, req_param(req, 0), &json);
	reply_json_text(req, rc, json);
}

void loans_get(struct request *req)
{
	reply_loan_read(req, db_loan_get);
}

void loans_history(struct request *req)
{
	reply_loan_read(req, db_loan_history);
}

static bool list_filter(struct request *req, struct loan_filter *f)
{
	static const char *const statuses[] = {"active", "repaid", "renewed", "void", NULL};
	bool ok;

	memset(f, 0, sizeof *f);
	f->bank = bank_scope(req, false, &ok);
	if (!ok || !page_params(req, &f->after_id, &f->limit) ||
	    !query_date(req, "issued_from", &f->issued_from) ||
	    !query_date(req, "issued_to", &f->issued_to))
		return false;
	f->borrower = req_query(req, "borrower");
	if (!uscc_param_ok(req, "borrower", f->borrower))
		return false;
	f->status = req_query(req, "status");
	if (f->status != NULL) {
		const char *const *s = statuses;

		while (*s != NULL && strcmp(*s, f->status) != 0)
			s++;
		if (*s == NULL) {
			reply_error(req, ERR_INVALID_FIELD, NULL, "status",
				    "status: active, repaid, renewed or void");
			return false;
		}
	}
	return true;
}

/* Columns of the loans list as XLSX (docs/exports.md). */
static const struct xlsx_col loan_cols[] = {
    {"loan_ref", "贷款合同号", XK_TEXT},
    {"bank_code", "银行代码", XK_TEXT},
    {"borrower.uscc", "统一社会信用代码", XK_TEXT},
    {"borrower.name", "企业名称", XK_TEXT},
    {"borrower.county_code", "区县代码", XK_TEXT},
    {"borrower.industry_code", "行业代码", XK_TEXT},
    {"borrower.size", "企业规模", XK_TEXT},
    {"amount", "金额（元）", XK_MONEY},
    {"issue_date", "发放日期", XK_DATE},
    {"maturity_date", "到期日期", XK_DATE},
    {"term_months", "期限（月）", XK_INT},
    {"rate", "利率（%）", XK_DECIMAL},
    {"lpr_tenor", "LPR期限", XK_TEXT},
    {"lpr", "LPR（%）", XK_DECIMAL},
    {"spread_bp", "加点（基点）", XK_INT},
    {"guarantee_mode", "担保方式", XK_TEXT},
    {"guarantor_code", "担保机构代码", XK_TEXT},
    {"first_loan", "首贷", XK_BOOL},
    {"registry_first_loan", "登记首贷", XK_BOOL},
    {"renewal", "续贷", XK_BOOL},
    {"renews_loan_ref", "续贷原合同号", XK_TEXT},
    {"medium_long_term", "中长期", XK_BOOL},
    {"manufacturing", "制造业", XK_BOOL},
    {"inclusive_small_micro", "普惠小微", XK_BOOL},
    {"scf_program_id", "供应链项目编号", XK_INT},
    {"relief_fund", "纾困资金", XK_BOOL},
    {"credit_line", "授信额度（元）", XK_MONEY},
    {"outstanding", "余额（元）", XK_MONEY},
    {"status", "状态", XK_TEXT},
    {"version", "版本", XK_INT},
    {"created_at", "创建时间", XK_TIMESTAMP},
    {"updated_at", "更新时间", XK_TIMESTAMP},
};

static enum db_rc loan_page(void *f, struct xlsx_pages *p)
{
	return db_loan_list(f, xlsx_pages_add, p);
}

/* Every matching loan in one workbook, read a page at a time; memory stays flat. */
static void reply_loans_xlsx(struct request *req, struct loan_filter *f)
{
	struct xlsx_pages p;

	if (!export_unpaged(req) ||
	    !xlsx_pages_begin(req, &p, "贷款", loan_cols, sizeof loan_cols / sizeof loan_cols[0]))
		return;
	f->after_id = 0;
	f->limit = PAGE_MAX;
	xlsx_pages_run(req, &p, loan_page, f, &f->after_id, f->limit, "loans");
}

void loans_list(struct request *req)
{
	struct loan_filter f;
	struct json_list l;
	enum out_format fmt;

	if (!query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) || !list_filter(req, &f))
		return;
	if (fmt == FMT_XLSX) {
		reply_loans_xlsx(req, &f);
		return;
	}
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_loan_list(&f, list_add, &l));
}

/* The version named by If-Match: "3", 3 or W/"3". */
static bool if_match_version(struct request *req, int *version)
{
	const char *h = req_header(req, "If-Match");
	char *end;
	long v;

	if (h == NULL) {
		reply_error(req, ERR_PRECONDITION_REQUIRED, NULL, "If-Match",
			    "If-Match: send the loan's current version, e.g. If-Match: \"1\"");
		return false;
	}
	if (strncmp(h, "W/", 2) == 0)
		h += 2;
	if (*h == '"')
		h++;
	v = strtol(h, &end, 10);
	if (end == h || v < 1 || v > 1000000 || (*end != '\0' && strcmp(end, "\"") != 0)) {
		reply_error(req, ERR_BAD_REQUEST, NULL, "If-Match",
			    "If-Match: a loan version such as \"2\"");
		return false;
	}
	*version = (int)v;
	return true;
}

void loans_put(struct request *req)
{
	struct refdata ref;
	struct loan_prep p;
	struct loan_outcome o = {0};
	struct loan_item it;
	char *item = NULL;
	int version;
	enum db_rc rc;

	loan_item_init(&it);
	if (!if_match_version(req, &version) || !load_refdata(req, &ref))
		goto out;
	if (!loan_prepare(req->json, NULL, &ref, &it, &p, NULL)) {
		reply_field_error(req, &p.err);
		goto out;
	}
	if (strcmp(p.loan_ref, req_param(req, 0)) != 0) {
		reply_error(req, ERR_INVALID_FIELD, "L001", "loan_ref",
			    "loan_ref: must match the loan_ref in the path");
		goto out;
	}
	item = loan_item_json(&it, 0);
	if (item == NULL) {
		reply_out_of_memory(req);
		goto out;
	}
	rc = db_loan_correct(req->principal.code, req_param(req, 0), version, item, &o);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto out;
	}
	if (strcmp(o.status, "rejected") == 0) {
		reply_loan_rejection(req, &o);
		goto out;
	}
	reply_loan(req, 200, o.loan);
	o.loan = NULL;
out:
	free(item);
	loan_item_free(&it);
	loan_outcome_clear(&o);
}

void loans_void(struct request *req)
{
	struct field_error err;
	struct loan_outcome o = {0};
	const char *reason;
	enum db_rc rc;

	if (!void_from_json(req->json, &reason, &err)) {
		reply_field_error(req, &err);
		return;
	}
	rc = db_loan_void(req->principal.code, req_param(req, 0), reason, &o);
	if (rc != DB_OK)
		reply_db_error(req, rc);
	else if (strcmp(o.status, "rejected") == 0)
		reply_loan_rejection(req, &o);
	else {
		reply_loan(req, 200, o.loan);
		o.loan = NULL;
	}
	loan_outcome_clear(&o);
}

void loans_repay(struct request *req)
{
	struct field_error err;
	struct repayment_input in;
	struct loan_outcome o = {0};
	char date[DATE_BUF], *body;
	enum db_rc rc;

	if (!repayment_from_json(req->json, &in, &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(in.date, date);
	rc = db_loan_repay(req->principal.code, req_param(req, 0), in.repayment_ref, date,
			   in.amount, &o);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
	} else if (strcmp(o.status, "rejected") == 0) {
		reply_loan_rejection(req, &o);
	} else if (asprintf(&body, "{\"repayment\":%s,\"loan\":%s}", o.repayment, o.loan) < 0) {
		reply_out_of_memory(req);
	} else {
		reply_text(req, strcmp(o.status, "created") == 0 ? 201 : 200, "application/json",
			   body, strlen(body));
	}
	loan_outcome_clear(&o);
}
