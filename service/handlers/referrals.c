/* Relief-fund referrals (纾困专项资金): POST /v1/referrals (the regulator refers a firm to
 * a bank), PATCH /v1/referrals/{id} (the bank referred to answers: referred -> accepted |
 * declined, accepted -> funded | declined), GET /v1/referrals/{id}, GET /v1/referrals
 * (filters, keyset pages) and GET /v1/stats/referrals (progress toward the 500-firm
 * target). The streamed export is referrals_export.c. A bank sees only referrals to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/loans.h"
#include "db/referrals.h"
#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/money.h"
#include "domain/uscc.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "json/loan_json.h"

#define REASON_MAX_CHARS     500
#define LOAN_REF_CHARS       64
#define REAL_ESTATE_DIVISION 70 /* GB/T 4754-2017 K70 房地产业: not eligible */

static const char *const statuses[] = {"referred", "accepted", "declined", "funded", NULL};

static bool known_status(const char *s)
{
	for (const char *const *k = statuses; *k != NULL; k++)
		if (strcmp(*k, s) == 0)
			return true;
	return false;
}

/* A member that only goes with some status must be absent (or null) otherwise. */
static bool absent_unless(const json_t *body, const char *name, bool allowed, const char *status,
			  struct field_error *err)
{
	const json_t *v = json_object_get(body, name);

	if (allowed || v == NULL || json_is_null(v))
		return true;
	return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name, "goes only with status %s",
			  status);
}

/* The fund's eligibility of the firm itself (domain.md, Relief-fund referral): small and
 * medium-sized firms and individual businesses, not real estate. */
static bool firm_eligible(const struct firm *f, struct field_error *err)
{
	if (f->size == SIZE_LARGE)
		return field_fail(
		    err, ERR_INVALID_FIELD, NULL, NULL, "size",
		    "the relief fund is for medium, small and micro firms, not large");
	if (industry_division(f->industry_code) == REAL_ESTATE_DIVISION)
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "industry_code",
				  "real estate (division 70) is not eligible for the relief fund");
	return true;
}

/* Reads a POST body into the JSON item referral_create() takes (a new reference). */
static json_t *referral_item(struct request *req, int64_t cap_fen, struct field_error *err)
{
	static const char *const allowed[] = {
	    "uscc",        "name",      "county_code",      "industry_code",
	    "size",        "bank_code", "requested_amount", "reason",
	    "referred_on", NULL};
	const json_t *body = req->json;
	struct firm f;
	const char *bank, *reason, *on;
	json_t *item;
	char day_text[DATE_BUF], cap[MONEY_BUF];
	int64_t fen;
	int32_t day = today_day();

	if (!fields_only(body, allowed, NULL, err) || !firm_fields_from_json(body, NULL, &f, err) ||
	    !firm_eligible(&f, err) || !field_string(body, "bank_code", true, NULL, &bank, err))
		return NULL;
	if (!principal_code_valid(bank)) {
		field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "bank_code",
			   "must be a bank's principal code, like \"CIB-SM\"");
		return NULL;
	}
	if (!field_money(body, "requested_amount", true, &fen, err) ||
	    !field_text(body, "reason", true, REASON_MAX_CHARS, true, &reason, err) ||
	    !field_string(body, "referred_on", false, NULL, &on, err))
		return NULL;
	if (fen > cap_fen) {
		money_format(cap_fen, cap);
		field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "requested_amount",
			   "exceeds the relief fund's cap of %s yuan per firm", cap);
		return NULL;
	}
	if (on != NULL && !date_parse(on, &day)) {
		field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "referred_on",
			   "must be a real date YYYY-MM-DD");
		return NULL;
	}
	if (day > today_day()) {
		field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "referred_on", "is after today");
		return NULL;
	}
	date_format(day, day_text);
	item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "uscc", f.uscc, "name",
			 f.name, "county_code", f.county_code, "industry_code", f.industry_code,
			 "size", firm_size_name(f.size), "bank_code", bank, "requested_fen",
			 (json_int_t)fen, "reason", reason, "referred_on", day_text);
	if (item == NULL)
		field_out_of_memory(err); /* 503: the fields were checked above */
	return item;
}

void referrals_post(struct request *req)
{
	struct refdata ref;
	struct field_error err;
	struct db_outcome o = {0};
	json_t *item;
	char *text;
	enum db_rc rc = db_refdata(&ref);

	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	item = referral_item(req, ref.policy.relief_amount_max, &err);
	if (item == NULL) {
		reply_field_error(req, &err);
		return;
	}
	text = json_dumps(item, JSON_COMPACT);
	json_decref(item);
	if (text == NULL) {
		reply_out_of_memory(req);
		return;
	}
	rc = db_referral_create(req->principal.code, text, &o);
	free(text);
	reply_outcome(req, rc, &o);
}

/* Reads a PATCH body: status, and what goes with it. */
static bool move_from_json(const json_t *body, struct referral_move *m, struct field_error *err)
{
	static const char *const allowed[] = {"status", "decline_reason", "loan_ref",
					      "funded_amount", NULL};
	bool declined, funded;

	memset(m, 0, sizeof *m);
	if (!fields_only(body, allowed, NULL, err) ||
	    !field_string(body, "status", true, NULL, &m->status, err))
		return false;
	if (!known_status(m->status))
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, "status",
				  "must be accepted, declined or funded");
	declined = strcmp(m->status, "declined") == 0;
	funded = strcmp(m->status, "funded") == 0;
	return absent_unless(body, "decline_reason", declined, "declined", err) &&
	       absent_unless(body, "loan_ref", funded, "funded", err) &&
	       absent_unless(body, "funded_amount", funded, "funded", err) &&
	       field_text(body, "decline_reason", declined, REASON_MAX_CHARS, true,
			  &m->decline_reason, err) &&
	       field_text(body, "loan_ref", funded, LOAN_REF_CHARS, false, &m->loan_ref, err) &&
	       field_money(body, "funded_amount", false, &m->funded_fen, err);
}

void referrals_patch(struct request *req)
{
	struct field_error err;
	struct referral_move m;
	struct db_outcome o = {0};
	enum db_rc rc;

	if (!move_from_json(req->json, &m, &err)) {
		reply_field_error(req, &err);
		return;
	}
	rc = db_referral_move(req->principal.code, req_param(req, 0), &m, &o);
	reply_outcome(req, rc, &o);
}

void referrals_get(struct request *req)
{
	const char *bank = req->principal.kind == PK_BANK ? req->principal.code : NULL;
	char *json = NULL;
	enum db_rc rc = db_referral_get(bank, req_param(req, 0), &json);

	reply_json_text(req, rc, json);
}

bool referral_filter_read(struct request *req, struct referral_filter *f, bool paged)
{
	bool ok;

	memset(f, 0, sizeof *f);
	f->bank = bank_scope(req, false, &ok);
	if (!ok || (paged && !page_params(req, &f->after_id, &f->limit)))
		return false;
	f->status = req_query(req, "status");
	f->county = req_query(req, "county");
	f->uscc = req_query(req, "uscc");
	if (f->status != NULL && !known_status(f->status)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "status",
			    "status: referred, accepted, declined or funded");
		return false;
	}
	if (f->county != NULL && !county_code_valid(f->county)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "county",
			    "county: a 6-digit administrative division code");
		return false;
	}
	if (!uscc_param_ok(req, "uscc", f->uscc))
		return false;
	return true;
}

void referrals_list(struct request *req)
{
	struct referral_filter f;
	struct json_list l;

	if (!referral_filter_read(req, &f, true))
		return;
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_referral_list(&f, list_add, &l));
}

static json_t *figures_json(const struct referral_figures *f)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "referrals",
			 (json_int_t)(f->referred + f->accepted + f->declined + f->funded),
			 "referred", (json_int_t)f->referred, "accepted", (json_int_t)f->accepted,
			 "declined", (json_int_t)f->declined, "funded", (json_int_t)f->funded,
			 "funded_amount", money_json(f->funded_fen));
}

static void stats_row(void *cls, const char *bank, const struct referral_figures *f)
{
	json_t *row = figures_json(f);

	json_object_set_new(row, "bank_code", json_string(bank));
	json_array_append_new(cls, row);
}

static const struct xlsx_col stats_cols[] = {
    {"bank_code", "银行代码", XK_TEXT}, {"bank_name", "银行名称", XK_TEXT},
    {"referrals", "推荐笔数", XK_INT},  {"referred", "待受理", XK_INT},
    {"accepted", "已受理", XK_INT},     {"declined", "已拒绝", XK_INT},
    {"funded", "已放款", XK_INT},       {"funded_amount", "放款金额（元）", XK_MONEY},
};

static const struct xlsx_table stats_table = {"referral-progress",
					      "纾困推荐进度",
					      stats_cols,
					      sizeof stats_cols / sizeof stats_cols[0],
					      "rows",
					      "total"};

void stats_referrals(struct request *req)
{
	struct referral_figures total;
	json_t *rows = json_array(), *target = json_null(), *progress = json_null();
	int64_t target_n;
	int32_t day;
	char day_text[DATE_BUF];
	int year, month, mday;
	bool ok, all;
	const char *bank = stats_bank(req, &ok);
	json_t *names;
	enum out_format fmt;
	enum db_rc rc;

	if (!ok || !query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) ||
	    !query_as_of(req, day_text, &day))
		goto fail;
	date_to_ymd(day, &year, &month, &mday);
	rc = db_referral_stats(day_text, bank, year, stats_row, rows, &total, &target_n);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto fail;
	}
	if ((names = bank_names(req)) == NULL)
		goto fail;
	add_bank_names(rows, names);
	json_decref(names);
	/* The target is the city's: shown, with the progress toward it, for all banks only. */
	all = strcmp(bank, "*") == 0;
	if (target_n < 0)
		target_n = 500;
	if (all) {
		json_decref(target);
		json_decref(progress);
		target = json_integer(target_n);
		progress = json_real((double)share_e4(total.referred_firms, target_n) / 10000.0);
	}
	reply_answer(req, fmt,
		     json_pack("{s:s, s:i, s:s, s:o, s:I, s:o, s:o, s:o, s:o}", "as_of", day_text,
			       "year", year, "bank", all ? "all" : bank, "target", target,
			       "referred_firms", (json_int_t)total.referred_firms, "progress",
			       progress, "funded_amount", money_json(total.funded_fen), "rows",
			       rows, "total", figures_json(&total)),
		     &stats_table);
	return;
fail:
	json_decref(rows);
	json_decref(target);
	json_decref(progress);
}
