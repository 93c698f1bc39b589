/* N+1+N supply-chain programs: POST and GET /v1/scf/programs, GET /v1/scf/programs/{id}
 * (members and financing figures), POST .../members and POST .../members/{uscc}/leave;
 * and GET /v1/stats/scf-rewards. The bank that runs a program writes it (another bank
 * gets 404, as if it did not exist); the regulator reads every program and the rewards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/scf.h"
#include "domain/dates.h"
#include "domain/loan.h"
#include "domain/money.h"
#include "domain/scf.h"
#include "domain/uscc.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "http/reply.h"
#include "json/loan_json.h"

#define PROGRAM_NAME_MAX_CHARS 200
#define REASON_MAX_CHARS       500

/* The program id of the path: 1 to 18 digits, above zero. Replies 404 otherwise. */
static bool program_id(struct request *req, int64_t *id)
{
	const char *s = req_param(req, 0);
	size_t n = strspn(s, "0123456789");

	*id = n > 0 && n <= 18 && s[n] == '\0' ? strtoll(s, NULL, 10) : 0;
	if (*id > 0)
		return true;
	reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such program: %s", s);
	return false;
}

/* Reads date member @a name into @a out ("" when absent and not @a required); with
 * @a not_future, a date after today is an error. */
static bool read_date(const json_t *body, const char *name, bool required, bool not_future,
		      char out[DATE_BUF], struct field_error *err)
{
	int32_t day;
	bool present;

	out[0] = '\0';
	if (!field_date(body, name, required, &day, &present, err))
		return false;
	if (!present)
		return true;
	if (not_future && day > today_day())
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name, "is after today");
	date_format(day, out);
	return true;
}

/* Reads the required {firm} member @a name (rules L002-L007) as its canonical JSON text,
 * malloc'd into *text. */
static bool read_firm(const json_t *body, const char *name, char **text, struct field_error *err)
{
	const json_t *v = json_object_get(body, name);
	struct firm f;
	json_t *obj;

	*text = NULL;
	if (v == NULL || json_is_null(v))
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name, "is required");
	if (!firm_from_json(v, name, &f, err))
		return false;
	obj = json_pack("{s:s, s:s, s:s, s:s, s:s}", "uscc", f.uscc, "name", f.name, "county_code",
			f.county_code, "industry_code", f.industry_code, "size",
			firm_size_name(f.size));
	*text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(obj);
	return *text != NULL || field_out_of_memory(err);
}

/* Reads required string member @a name, one of the names @a valid accepts. */
static bool read_choice(const json_t *body, const char *name, bool (*valid)(const char *),
			const char *choices, const char **out, struct field_error *err)
{
	if (!field_string(body, name, true, NULL, out, err))
		return false;
	if (!valid(*out))
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name, "must be %s", choices);
	return true;
}

/* Reads required money member @a name: a yuan string above zero. */
static bool read_money(const json_t *body, const char *name, int64_t *fen, struct field_error *err)
{
	const char *s;

	if (!field_string(body, name, true, NULL, &s, err))
		return false;
	if (!money_parse(s, fen) || *fen <= 0)
		return field_fail(err, ERR_INVALID_FIELD, NULL, NULL, name,
				  "must be yuan above zero with at most two decimals, like "
				  "\"50000000.00\"");
	return true;
}

void scf_programs_post(struct request *req)
{
	static const char *const allowed[] = {"name",         "core",       "product",
					      "credit_limit", "started_on", NULL};
	struct scf_program_input in = {req->principal.code, NULL, NULL, NULL, 0, NULL};
	struct db_outcome o = {0};
	struct field_error err;
	char started_on[DATE_BUF], *core = NULL;
	enum db_rc rc;

	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !field_text(req->json, "name", true, PROGRAM_NAME_MAX_CHARS, false, &in.name, &err) ||
	    !read_firm(req->json, "core", &core, &err) ||
	    !read_choice(req->json, "product", scf_product_valid,
			 "receivables, orders, prepayment or inventory", &in.product, &err) ||
	    !read_money(req->json, "credit_limit", &in.credit_limit, &err) ||
	    !read_date(req->json, "started_on", true, false, started_on, &err)) {
		reply_field_error(req, &err);
		goto out;
	}
	in.core = core;
	in.started_on = started_on;
	rc = db_scf_program_create(&in, &o);
	reply_outcome(req, rc, &o);
out:
	free(core);
	db_outcome_clear(&o);
}

void scf_programs_list(struct request *req)
{
	struct scf_program_filter f = {NULL, NULL, 0, 0};
	struct json_list l;
	bool ok;

	f.bank = bank_scope(req, false, &ok);
	if (!ok || !page_params(req, &f.after_id, &f.limit))
		return;
	f.core = req_query(req, "core");
	if (!uscc_param_ok(req, "core", f.core))
		return;
	f.limit = list_begin(&l, f.limit);
	list_finish(req, &l, db_scf_program_list(&f, list_add, &l));
}

void scf_programs_get(struct request *req)
{
	const char *bank = req->principal.kind == PK_BANK ? req->principal.code : NULL;
	char *json = NULL;
	int64_t id;
	enum db_rc rc;

	if (!program_id(req, &id))
		return;
	rc = db_scf_program_get(bank, id, &json);
	reply_json_text(req, rc, json);
}

void scf_members_post(struct request *req)
{
	static const char *const allowed[] = {"firm", "side", "joined_on", NULL};
	struct db_outcome o = {0};
	struct field_error err;
	char joined_on[DATE_BUF], today[DATE_BUF], *firm = NULL;
	const char *side;
	int64_t id;
	enum db_rc rc;

	if (!program_id(req, &id))
		return;
	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !read_firm(req->json, "firm", &firm, &err) ||
	    !read_choice(req->json, "side", scf_side_valid, "upstream or downstream", &side,
			 &err) ||
	    !read_date(req->json, "joined_on", false, true, joined_on, &err)) {
		reply_field_error(req, &err);
		goto out;
	}
	date_format(today_day(), today);
	rc = db_scf_member_add(req->principal.code, id, firm, side, joined_on[0] ? joined_on : NULL,
			       today, &o);
	reply_outcome(req, rc, &o);
out:
	free(firm);
	db_outcome_clear(&o);
}

void scf_members_leave(struct request *req)
{
	static const char *const allowed[] = {"left_on", "reason", NULL};
	const char *uscc = req_param(req, 1), *reason;
	struct db_outcome o = {0};
	struct field_error err;
	char left_on[DATE_BUF], today[DATE_BUF];
	int64_t id;
	enum db_rc rc;

	if (!program_id(req, &id))
		return;
	if (uscc_problem(uscc) != NULL) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such member: %s",
			    uscc_problem(uscc));
		return;
	}
	if (!fields_only(req->json, allowed, NULL, &err) ||
	    !read_date(req->json, "left_on", false, true, left_on, &err) ||
	    !field_text(req->json, "reason", false, REASON_MAX_CHARS, true, &reason, &err)) {
		reply_field_error(req, &err);
		return;
	}
	date_format(today_day(), today);
	rc = db_scf_member_leave(req->principal.code, id, uscc, left_on[0] ? left_on : NULL, today,
				 reason, &o);
	reply_outcome(req, rc, &o);
	db_outcome_clear(&o);
}

/* One core enterprise of the rewards answer. */
struct reward_row {
	char core_uscc[USCC_LEN + 1];
	char *core_name;
	int64_t financing, members, reward;
};

struct rewards {
	struct reward_row *rows;
	size_t n, cap;
	bool out_of_memory; /* a row could not be kept: the answer is 503 */
};

static void reward_add(void *cls, const char *core_uscc, const char *core_name, int64_t financing,
		       int64_t members_financed)
{
	struct rewards *rs = cls;
	struct reward_row *r;
	char *name = strdup(core_name);

	if (name != NULL && rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct reward_row *grown = realloc(rs->rows, cap * sizeof *grown);

		if (grown != NULL) {
			rs->rows = grown;
			rs->cap = cap;
		}
	}
	if (name == NULL || rs->n == rs->cap) {
		free(name);
		rs->out_of_memory = true;
		return;
	}
	r = &rs->rows[rs->n++];
	snprintf(r->core_uscc, sizeof r->core_uscc, "%s", core_uscc);
	r->core_name = name;
	r->financing = financing;
	r->members = members_financed;
	r->reward = 0;
}

/* Largest reward first, then largest financing, then USCC. */
static int reward_cmp(const void *a, const void *b)
{
	const struct reward_row *x = a, *y = b;

	if (x->reward != y->reward)
		return x->reward > y->reward ? -1 : 1;
	if (x->financing != y->financing)
		return x->financing > y->financing ? -1 : 1;
	return strcmp(x->core_uscc, y->core_uscc);
}

static json_t *rule_json(const struct scf_reward_rule *rule)
{
	return json_pack("{s:f, s:I, s:I, s:o}", "rate", (double)rule->rate_bp / 10000.0, "rate_bp",
			 (json_int_t)rule->rate_bp, "min_members_financed",
			 (json_int_t)rule->min_members, "cap", money_json(rule->cap));
}

static const struct xlsx_col reward_cols[] = {
    {"core_uscc", "核心企业统一社会信用代码", XK_TEXT},
    {"core_name", "核心企业名称", XK_TEXT},
    {"financing", "链上融资（元）", XK_MONEY},
    {"members_financed", "获融资成员数", XK_INT},
    {"qualified", "是否符合条件", XK_BOOL},
    {"reward", "奖励（元）", XK_MONEY},
};

static const struct xlsx_table reward_table = {
    "scf-rewards", "供应链奖励", reward_cols, sizeof reward_cols / sizeof reward_cols[0],
    "rows",        "total"};

void stats_scf_rewards(struct request *req)
{
	struct rewards rs = {NULL, 0, 0, false};
	struct scf_reward_rule rule = {0, 0, 0};
	int64_t financing = 0, reward = 0, rewarded = 0;
	json_t *rows;
	int year;
	enum out_format fmt;
	enum db_rc rc;

	if (!query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) || !query_year(req, &year))
		return;
	rc = db_scf_rewards(year, &rule, reward_add, &rs);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto out;
	}
	if (rs.out_of_memory) {
		reply_out_of_memory(req);
		goto out;
	}
	for (size_t i = 0; i < rs.n; i++) {
		rs.rows[i].reward = scf_reward(rs.rows[i].financing, rs.rows[i].members, &rule);
		if (!fen_add(financing, rs.rows[i].financing, &financing) ||
		    !fen_add(reward, rs.rows[i].reward, &reward)) {
			reply_error(req, ERR_INTERNAL, NULL, NULL, "financing total overflows");
			goto out;
		}
		rewarded += rs.rows[i].reward > 0;
	}
	if (rs.n > 1)
		qsort(rs.rows, rs.n, sizeof *rs.rows, reward_cmp);
	rows = json_array();
	for (size_t i = 0; i < rs.n; i++)
		json_array_append_new(
		    rows, json_pack("{s:s, s:s, s:o, s:I, s:b, s:o}", "core_uscc",
				    rs.rows[i].core_uscc, "core_name", rs.rows[i].core_name,
				    "financing", money_json(rs.rows[i].financing),
				    "members_financed", (json_int_t)rs.rows[i].members, "qualified",
				    rs.rows[i].members >= rule.min_members, "reward",
				    money_json(rs.rows[i].reward)));
	reply_answer(req, fmt,
		     json_pack("{s:i, s:o, s:o, s:{s:o, s:o, s:I}}", "year", year, "rule",
			       rule_json(&rule), "rows", rows, "total", "financing",
			       money_json(financing), "reward", money_json(reward),
			       "cores_rewarded", (json_int_t)rewarded),
		     &reward_table);
out:
	for (size_t i = 0; i < rs.n; i++)
		free(rs.rows[i].core_name);
	free(rs.rows);
}
