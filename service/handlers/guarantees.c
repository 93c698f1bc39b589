/* Guarantors and guarantees: PUT /v1/guarantors/{code} (the regulator records a
 * guarantor's name and net assets as of a date; every version kept), GET
 * /v1/guarantors/{code}, POST /v1/guarantees (a guarantor posts; idempotent on
 * guarantee_ref), POST /v1/guarantees/{guarantee_ref}/release, GET /v1/guarantees and
 * GET /v1/guarantees/{guarantee_ref}, and GET /v1/stats/guarantee-leverage: per guarantor,
 * guarantees outstanding over net assets in force, rounded half away from zero to four
 * decimals from exact fen, against the guarantee_leverage target (met on the exact ratio). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/guarantees.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/money.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"

#define REF_MAX_CHARS 64

/* A date member that must not lie after today. */
static bool not_after_today(int32_t day, const char *name, struct field_error *err)
{
	char today[DATE_BUF];

	if (day <= today_day())
		return true;
	date_format(today_day(), today);
	return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name, "must not be after today (%s)",
			  today);
}

void guarantors_put(struct request *req)
{
	static const char *const allowed[] = {"name", "net_assets", "as_of", NULL};
	const char *code = req_param(req, 0), *name;
	struct db_outcome o;
	struct field_error err;
	char as_of[DATE_BUF];
	int64_t net;
	int32_t day;

	if (!principal_code_valid(code)) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no guarantor has this code");
		return;
	}
	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !field_text(req->json, "name", true, FIRM_NAME_MAX_CHARS, false, &name, &err) ||
	    !field_money(req->json, "net_assets", true, &net, &err) ||
	    !field_date(req->json, "as_of", true, &day, NULL, &err) ||
	    !not_after_today(day, "as_of", &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(day, as_of);
	reply_outcome(req, db_guarantor_put(code, name, net, as_of, req->principal.code, &o), &o);
}

void guarantors_get(struct request *req)
{
	bool ok;
	const char *code = owner_scope(req, PK_GUARANTOR, req_param(req, 0), true, &ok);
	char *json = NULL;
	enum db_rc rc;

	if (!ok)
		return;
	rc = db_guarantor_get(code, &json);
	reply_json_text(req, rc, json);
}

/* The canonical JSON text of a guarantee: what a retry must repeat (money and dates in
 * their canonical spelling). malloc'd; NULL when memory runs out. */
static char *guarantee_content(const struct guarantee_input *in)
{
	char amount[MONEY_BUF];
	json_t *content;
	char *text;

	money_format(in->amount_fen, amount);
	content = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "guarantee_ref",
			    in->guarantee_ref, "bank_code", in->bank_code, "loan_ref", in->loan_ref,
			    "borrower_uscc", in->borrower_uscc, "amount", amount, "start_date",
			    in->start_date, "end_date", in->end_date);
	text = content != NULL ? json_dumps(content, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(content);
	return text;
}

static bool guarantee_from_json(const json_t *body, struct guarantee_input *in, int32_t *start,
				int32_t *end, struct field_error *err)
{
	static const char *const allowed[] = {"guarantee_ref", "bank_code", "loan_ref",
					      "borrower_uscc", "amount",    "start_date",
					      "end_date",      NULL};

	memset(in, 0, sizeof *in);
	if (!fields_only(body, allowed, NULL, err) ||
	    !field_text(body, "guarantee_ref", true, REF_MAX_CHARS, false, &in->guarantee_ref,
			err) ||
	    !field_string(body, "bank_code", true, NULL, &in->bank_code, err))
		return false;
	if (!principal_code_valid(in->bank_code))
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "bank_code",
				  "must be a bank's code such as \"CIB-SM\"");
	if (!field_text(body, "loan_ref", true, LOAN_REF_MAX_CHARS, false, &in->loan_ref, err) ||
	    !field_uscc(body, "borrower_uscc", &in->borrower_uscc, err) ||
	    !field_money(body, "amount", true, &in->amount_fen, err) ||
	    !field_date(body, "start_date", true, start, NULL, err) ||
	    !field_date(body, "end_date", true, end, NULL, err))
		return false;
	if (*end < *start)
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "end_date",
				  "must not be before start_date");
	return true;
}

void guarantees_post(struct request *req)
{
	struct guarantee_input in;
	struct db_outcome o;
	struct field_error err;
	char start[DATE_BUF], end[DATE_BUF], today[DATE_BUF], *content;
	int32_t dstart, dend;
	enum db_rc rc;

	if (!guarantee_from_json(req->json, &in, &dstart, &dend, &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(dstart, start);
	date_format(dend, end);
	date_format(today_day(), today);
	in.start_date = start;
	in.end_date = end;
	content = guarantee_content(&in);
	if (content == NULL) {
		reply_out_of_memory(req);
		return;
	}
	in.content = content;
	rc = db_guarantee_post(req->principal.code, &in, today, &o);
	free(content);
	reply_outcome(req, rc, &o);
}

void guarantees_release(struct request *req)
{
	static const char *const allowed[] = {"date", NULL};
	struct db_outcome o;
	struct field_error err;
	char date[DATE_BUF], today[DATE_BUF];
	int32_t day;

	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !field_date(req->json, "date", true, &day, NULL, &err) ||
	    !not_after_today(day, "date", &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(day, date);
	date_format(today_day(), today);
	reply_outcome(
	    req, db_guarantee_release(req->principal.code, req_param(req, 0), date, today, &o), &o);
}

void guarantees_get(struct request *req)
{
	bool ok;
	const char *guarantor =
	    owner_scope(req, PK_GUARANTOR, req_query(req, "guarantor"), true, &ok);
	char today[DATE_BUF], *json = NULL;
	enum db_rc rc;

	if (!ok)
		return;
	date_format(today_day(), today);
	rc = db_guarantee_get(guarantor, req_param(req, 0), today, &json);
	reply_json_text(req, rc, json);
}

void guarantees_list(struct request *req)
{
	struct guarantee_filter f = {0};
	struct json_list l;
	char today[DATE_BUF];
	bool ok;

	f.bank = bank_scope(req, false, &ok);
	if (!ok)
		return;
	/* A guarantor reads its own; the regulator and a bank filter by a guarantor's code. */
	f.guarantor = owner_scope(req, PK_GUARANTOR, req_query(req, "guarantor"), false, &ok);
	if (!ok)
		return;
	if (!page_params(req, &f.after_id, &f.limit) ||
	    !query_date(req, "outstanding_on", &f.outstanding_on))
		return;
	f.borrower = req_query(req, "borrower");
	if (!uscc_param_ok(req, "borrower", f.borrower))
		return;
	date_format(today_day(), today);
	f.today = today;
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_guarantee_list(&f, list_add, &l));
}

/* Whether outstanding / net assets reaches the target (1/10000), judged exactly: outstanding
 * x 10000 >= target x net assets, in 128 bits (never overflows). */
static bool leverage_met(int64_t outstanding_fen, int64_t net_assets_fen, int64_t target_e4)
{
	return (__int128)outstanding_fen * 10000 >= (__int128)target_e4 * net_assets_fen;
}

/* The figures of one row (or the total): leverage = outstanding / net assets, a ratio of
 * statistics, so rounded half away from zero to four decimals from exact fen (api.md Value
 * formats), null without net assets; met when the exact ratio reaches the target (not the
 * rounded one shown: 1.499995 shows 1.5 and is not met), null without net assets (unknown,
 * not missed). */
static json_t *figures_json(int64_t outstanding, bool has_net, int64_t net, int64_t target_e4)
{
	return json_pack(
	    "{s:o, s:o, s:o, s:f, s:o}", "outstanding", money_json(outstanding), "net_assets",
	    has_net ? money_json(net) : json_null(), "leverage",
	    has_net ? json_real((double)share_e4(outstanding, net) / 10000.0) : json_null(),
	    "target", (double)target_e4 / 10000.0, "met",
	    has_net ? json_boolean(leverage_met(outstanding, net, target_e4)) : json_null());
}

struct leverage_state {
	json_t *rows;
	int64_t target_e4;
	int64_t outstanding, net; /* totals over guarantors with net assets in force */
	bool has_net, overflow;
};

static void leverage_add(void *cls, const struct leverage_row *r)
{
	struct leverage_state *s = cls;
	json_t *row =
	    figures_json(r->outstanding_fen, r->has_net_assets, r->net_assets_fen, s->target_e4);

	json_object_set_new(row, "guarantor_code", json_string(r->guarantor_code));
	json_object_set_new(row, "name", json_string(r->name));
	json_object_set_new(row, "net_assets_as_of",
			    r->net_assets_as_of ? json_string(r->net_assets_as_of) : json_null());
	json_array_append_new(s->rows, row);
	if (r->has_net_assets) {
		s->has_net = true;
		if (!fen_add(s->outstanding, r->outstanding_fen, &s->outstanding) ||
		    !fen_add(s->net, r->net_assets_fen, &s->net))
			s->overflow = true;
	}
}

static const struct xlsx_col leverage_cols[] = {
    {"guarantor_code", "担保机构代码", XK_TEXT}, {"name", "担保机构名称", XK_TEXT},
    {"outstanding", "在保余额（元）", XK_MONEY}, {"net_assets", "净资产（元）", XK_MONEY},
    {"net_assets_as_of", "净资产日期", XK_DATE}, {"leverage", "放大倍数", XK_DECIMAL},
    {"target", "目标倍数", XK_DECIMAL},          {"met", "是否达标", XK_BOOL},
};

static const struct xlsx_table leverage_table = {"guarantee-leverage",
						 "融资担保放大倍数",
						 leverage_cols,
						 sizeof leverage_cols / sizeof leverage_cols[0],
						 "rows",
						 "total"};

void stats_guarantee_leverage(struct request *req)
{
	struct leverage_state s = {json_array(), 0, 0, 0, false, false};
	char as_of[DATE_BUF];
	bool ok;
	const char *guarantor =
	    owner_scope(req, PK_GUARANTOR, req_query(req, "guarantor"), false, &ok);
	enum out_format fmt;
	enum db_rc rc;

	if (!ok || !query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) ||
	    !query_as_of(req, as_of, NULL))
		goto fail;
	rc = db_guarantee_leverage(as_of, guarantor, &s.target_e4, leverage_add, &s);
	if (rc != DB_OK || s.overflow) {
		reply_db_error(req, rc == DB_OK ? DB_ERROR : rc);
		goto fail;
	}
	reply_answer(req, fmt,
		     json_pack("{s:s, s:s, s:f, s:o, s:o}", "as_of", as_of, "guarantor",
			       guarantor ? guarantor : "all", "target",
			       (double)s.target_e4 / 10000.0, "rows", s.rows, "total",
			       figures_json(s.outstanding, s.has_net, s.net, s.target_e4)),
		     &leverage_table);
	return;
fail:
	json_decref(s.rows);
}
