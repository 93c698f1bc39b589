/* Regulator statistics on loans: GET /v1/stats/new-loans, /pricing, /lending-growth,
 * /targets and PUT /v1/targets/{year}/{metric}. Figures come from the summary tables of
 * migration 004 through sql/stats.sql (never a scan of loans); sums are exact fen, shares
 * and ratios are computed from exact sums and rounded to four decimals only here, for
 * output. A bank reads its own figures with bank=self. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/stats.h"
#include "domain/codes.h"
#include "domain/dates.h"
#include "domain/money.h"
#include "domain/names.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "handlers/supervision.h"
#include "http/reply.h"
#include "log.h"

#define MAX_GROUPS    4096
#define STATS_FORMATS (FMT_JSON | FMT_XLSX)

#define FLAG_COLS(key, zh)                                                                         \
	{key ".count", zh "笔数", XK_INT}, {key ".amount", zh "金额（元）", XK_MONEY},             \
	    {key ".share_count", zh "笔数占比", XK_RATIO},                                         \
	{                                                                                          \
		key ".share_amount", zh "金额占比", XK_RATIO                                       \
	}

static const struct xlsx_col new_loan_cols[] = {
    {"group", "分组", XK_TEXT},
    {"group_name", "分组名称", XK_TEXT},
    {"count", "笔数", XK_INT},
    {"amount", "金额（元）", XK_MONEY},
    FLAG_COLS("first_loan", "首贷户"),
    FLAG_COLS("credit", "信用贷款"),
    FLAG_COLS("medium_long_term", "中长期贷款"),
    FLAG_COLS("renewal", "续贷"),
};

static const struct xlsx_table new_loan_table = {
    "new-loans", "新发放贷款", new_loan_cols, sizeof new_loan_cols / sizeof new_loan_cols[0],
    "rows",      "total"};

static const struct xlsx_col pricing_cols[] = {
    {"period", "期间", XK_TEXT},
    {"count", "笔数", XK_INT},
    {"amount", "金额（元）", XK_MONEY},
    {"avg_rate", "加权平均利率（%）", XK_DECIMAL},
    {"avg_spread_bp", "加权平均加点（基点）", XK_DECIMAL},
};

static const struct xlsx_table pricing_table = {
    "pricing",    "普惠小微贷款定价",
    pricing_cols, sizeof pricing_cols / sizeof pricing_cols[0],
    "rows",       NULL};

#define GROWTH_COLS(key, zh)                                                                       \
	{key "outstanding_start", zh "年初余额（元）", XK_MONEY},                                  \
	    {key "outstanding_as_of", zh "截至日余额（元）", XK_MONEY},                            \
	    {key "increase", zh "余额增量（元）", XK_MONEY},                                       \
	{                                                                                          \
		key "issued", zh "累计发放（元）", XK_MONEY                                        \
	}

static const struct xlsx_col growth_cols[] = {
    {"bank_code", "银行代码", XK_TEXT},
    {"bank_name", "银行名称", XK_TEXT},
    GROWTH_COLS("", ""),
    GROWTH_COLS("manufacturing.", "制造业"),
};

static const struct xlsx_table growth_table = {
    "lending-growth", "贷款增长", growth_cols, sizeof growth_cols / sizeof growth_cols[0],
    "rows",           "total"};

static const struct xlsx_col target_cols[] = {
    {"metric", "指标", XK_TEXT},        {"metric_name", "指标名称", XK_TEXT},
    {"target", "目标", XK_VALUE},       {"actual", "实际", XK_VALUE},
    {"progress", "完成进度", XK_RATIO}, {"met", "是否达标", XK_BOOL},
};

static const struct xlsx_table target_table = {
    "targets", "年度目标", target_cols, sizeof target_cols / sizeof target_cols[0], "rows", NULL};

/* A ratio in 1/10000 units as a JSON number with at most four decimals. */
static json_t *ratio_json(int64_t e4)
{
	return json_real((double)e4 / 10000.0);
}

/* A decimal text from the database ("-0.3500", "50.0000") as a JSON number, or null. */
static json_t *decimal_json(const char *text)
{
	return text == NULL || text[0] == '\0' ? json_null() : json_real(strtod(text, NULL));
}

struct group {
	char key[40];
	int64_t sums[NL_SUMS];
};

struct groups {
	struct group *g;
	size_t n;
	const char *by;
	bool overflow;     /* more than MAX_GROUPS groups */
	bool sum_overflow; /* a sum passed the range of int64_t fen (reply_sum_overflow) */
};

/* A sum of figures passed what 64-bit fen hold (±92,233,720,368,547,758.07 yuan): amounts
 * no real loans add up to. 500 `internal` (api.md: logged with the request id, no details
 * in the answer) rather than a wrapped, negative figure. */
static void reply_sum_overflow(struct request *req)
{
	LOG_WARN("request %s: statistics: a sum passed the range of 64-bit fen (%s)", req->id,
		 req->path);
	reply_error(req, ERR_INTERNAL, NULL, NULL, NULL);
}

static int group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->key, ((const struct group *)b)->key);
}

static void add_row(void *cls, const char *period, const char *key, const int64_t sums[NL_SUMS])
{
	struct groups *gs = cls;
	char name[40];
	size_t i;

	if (strcmp(gs->by, "month") == 0)
		snprintf(name, sizeof name, "%.7s", period);
	else if (strcmp(gs->by, "county") == 0)
		snprintf(name, sizeof name, "%s", county_group(key));
	else
		snprintf(name, sizeof name, "%s", key);
	for (i = 0; i < gs->n && strcmp(gs->g[i].key, name) != 0; i++)
		;
	if (i == gs->n) {
		if (gs->n == MAX_GROUPS) {
			gs->overflow = true;
			return;
		}
		memset(&gs->g[i], 0, sizeof gs->g[i]);
		snprintf(gs->g[i].key, sizeof gs->g[i].key, "%s", name);
		gs->n++;
	}
	if (!fen_add_all(gs->g[i].sums, sums, NL_SUMS))
		gs->sum_overflow = true;
}

static json_t *flag_json(const int64_t s[NL_SUMS], int n_idx)
{
	return json_pack("{s:I, s:o, s:o, s:o}", "count", (json_int_t)s[n_idx], "amount",
			 money_json(s[n_idx + 1]), "share_count",
			 ratio_json(share_e4(s[n_idx], s[NL_N])), "share_amount",
			 ratio_json(share_e4(s[n_idx + 1], s[NL_AMOUNT])));
}

static json_t *figures_json(const int64_t s[NL_SUMS])
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "count", (json_int_t)s[NL_N], "amount",
			 money_json(s[NL_AMOUNT]), "first_loan", flag_json(s, NL_FIRST_N), "credit",
			 flag_json(s, NL_CREDIT_N), "medium_long_term", flag_json(s, NL_MLT_N),
			 "renewal", flag_json(s, NL_RENEWAL_N));
}

/* The name beside group @a key of dimension @a by: a bank's, county's, industry
 * division's or size's name; null for months and unknown codes. */
static json_t *group_name(const char *by, const char *key, const json_t *banks)
{
	const char *name = NULL;
	const json_t *bank = json_object_get(banks, key);

	if (strcmp(by, "bank") == 0)
		return bank != NULL ? json_deep_copy(bank) : json_null();
	if (strcmp(by, "county") == 0)
		name = county_name(key);
	else if (strcmp(by, "industry") == 0)
		name = industry_division_name(key);
	else if (strcmp(by, "size") == 0)
		name = firm_size_title(key);
	return name != NULL ? json_string(name) : json_null();
}

static bool parse_group_by(const char *by, char *dim)
{
	static const struct {
		const char *name;
		char dim;
	} dims[] = {
	    {"bank", 'b'}, {"county", 'c'}, {"industry", 'i'}, {"size", 's'}, {"month", 's'}};

	for (unsigned i = 0; i < sizeof dims / sizeof dims[0]; i++) {
		if (strcmp(by, dims[i].name) == 0) {
			*dim = dims[i].dim;
			return true;
		}
	}
	return false;
}

static bool required_date(struct request *req, const char *name, const char **out, int32_t *day)
{
	*out = req_query(req, name);
	if (*out != NULL && date_parse(*out, day))
		return true;
	reply_error(req, ERR_INVALID_FIELD, NULL, name, "%s: a real date YYYY-MM-DD is required",
		    name);
	return false;
}

void stats_new_loans(struct request *req)
{
	const char *from, *to, *by = req_query(req, "group_by"),
			       *mfg = req_query(req, "manufacturing");
	struct groups gs = {calloc(MAX_GROUPS, sizeof(struct group)), 0, NULL, false, false};
	int64_t total[NL_SUMS] = {0};
	int32_t dfrom, dto;
	int manufacturing = -1;
	char dim;
	bool ok;
	const char *bank = stats_bank(req, &ok);
	json_t *rows, *names = NULL;
	enum out_format fmt;
	enum db_rc rc;

	if (gs.g == NULL) {
		reply_out_of_memory(req);
		goto out;
	}
	if (!ok || !query_format(req, STATS_FORMATS, FMT_JSON, &fmt) ||
	    !required_date(req, "from", &from, &dfrom) || !required_date(req, "to", &to, &dto))
		goto out;
	if (dto < dfrom) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "to", "to: must not be before from");
		goto out;
	}
	gs.by = by = by ? by : "bank";
	if (!parse_group_by(by, &dim)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "group_by",
			    "group_by: bank, county, industry, month or size");
		goto out;
	}
	if (mfg != NULL && strcmp(mfg, "all") != 0) {
		if (strcmp(mfg, "true") != 0 && strcmp(mfg, "false") != 0) {
			reply_error(req, ERR_INVALID_FIELD, NULL, "manufacturing",
				    "manufacturing: true, false or all");
			goto out;
		}
		manufacturing = strcmp(mfg, "true") == 0;
	}
	rc = db_stats_new_loans(dim, bank, from, to, manufacturing, strcmp(by, "month") == 0,
				add_row, &gs);
	if (rc != DB_OK || gs.overflow) {
		reply_db_error(req, rc == DB_OK ? DB_ERROR : rc);
		goto out;
	}
	for (size_t i = 0; i < gs.n && !gs.sum_overflow; i++)
		gs.sum_overflow = !fen_add_all(total, gs.g[i].sums, NL_SUMS);
	if (gs.sum_overflow) {
		reply_sum_overflow(req);
		goto out;
	}
	if (dim == 'b' && (names = bank_names(req)) == NULL)
		goto out;
	qsort(gs.g, gs.n, sizeof *gs.g, group_cmp);
	rows = json_array();
	for (size_t i = 0; i < gs.n; i++) {
		json_t *row = figures_json(gs.g[i].sums);

		json_object_set_new(row, "group", json_string(gs.g[i].key));
		json_object_set_new(row, "group_name", group_name(by, gs.g[i].key, names));
		json_array_append_new(rows, row);
	}
	reply_answer(req, fmt,
		     json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "from", from, "to", to,
			       "group_by", by, "manufacturing", mfg ? mfg : "all", "bank",
			       strcmp(bank, "*") == 0 ? "all" : bank, "rows", rows, "total",
			       figures_json(total)),
		     &new_loan_table);
out:
	json_decref(names);
	free(gs.g);
}

static json_t *pricing_json(const struct pricing_period *p)
{
	return json_pack("{s:s#, s:I, s:o, s:o, s:o}", "period", p->period, (int)7, "count",
			 (json_int_t)p->n, "amount", money_json(p->amount), "avg_rate",
			 p->avg_rate[0] ? json_string(p->avg_rate) : json_null(), "avg_spread_bp",
			 decimal_json(p->avg_spread_bp));
}

void stats_pricing(struct request *req)
{
	const char *month = req_query(req, "month");
	struct pricing_period cur, prev;
	char first[DATE_BUF], change[24];
	int y, m;
	bool ok;
	const char *bank = stats_bank(req, &ok);
	enum out_format fmt;
	enum db_rc rc;

	if (!ok || !query_format(req, STATS_FORMATS, FMT_JSON, &fmt))
		return;
	if (month == NULL || !month_parse(month, &y, &m)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "month", "month: YYYY-MM is required");
		return;
	}
	date_format(date_from_ymd(y, m, 1), first);
	rc = db_stats_pricing(bank, first, &cur, &prev, change);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	reply_answer(req, fmt,
		     json_pack("{s:s, s:s, s:[o, o], s:o}", "month", month, "bank",
			       strcmp(bank, "*") == 0 ? "all" : bank, "rows", pricing_json(&cur),
			       pricing_json(&prev), "change_pp", decimal_json(change)),
		     &pricing_table);
}

/* ?year= (required) and ?as_of= (default: 31 December of that year, or today if sooner),
 * as_of within the year. Replies on error. */
static bool year_and_as_of(struct request *req, int *year, char as_of[DATE_BUF])
{
	const char *as = req_query(req, "as_of");
	int32_t day, last;

	if (!query_year(req, year))
		return false;
	last = date_from_ymd(*year, 12, 31);
	if (as == NULL) {
		day = today_day() < last ? today_day() : last;
	} else if (!date_parse(as, &day) || day < date_from_ymd(*year, 1, 1) || day > last) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "as_of",
			    "as_of: a real date YYYY-MM-DD within the year");
		return false;
	}
	date_format(day, as_of);
	return true;
}

struct growth {
	json_t *rows;
	int64_t total[2][3]; /* [manufacturing][start, as_of, issued] */
	char bank[64];
	int64_t cur[2][3];
	bool have;
	bool sum_overflow; /* a sum passed the range of int64_t fen */
};

static json_t *growth_figures(const int64_t v[3])
{
	return json_pack("{s:o, s:o, s:o, s:o}", "outstanding_start", money_json(v[0]),
			 "outstanding_as_of", money_json(v[1]), "increase", money_json(v[1] - v[0]),
			 "issued", money_json(v[2]));
}

/* Whether the two halves of @a v (other industries, manufacturing) add up within int64_t
 * fen, as growth_row_json() adds them. */
static bool halves_add(const int64_t v[2][3])
{
	int64_t all[3] = {v[0][0], v[0][1], v[0][2]};

	return fen_add_all(all, v[1], 3);
}

/* The all-loans and manufacturing figures of one bank (or the total) as one row
 * (growth_add() checked with halves_add() that the halves add up). */
static json_t *growth_row_json(const int64_t v[2][3])
{
	int64_t all[3];
	json_t *row;

	for (int k = 0; k < 3; k++)
		all[k] = v[0][k] + v[1][k];
	row = growth_figures(all);
	json_object_set_new(row, "manufacturing", growth_figures(v[1]));
	return row;
}

static void growth_flush(struct growth *g)
{
	json_t *row;

	if (!g->have)
		return;
	row = growth_row_json((const int64_t(*)[3])g->cur);
	json_object_set_new(row, "bank_code", json_string(g->bank));
	json_array_append_new(g->rows, row);
	memset(g->cur, 0, sizeof g->cur);
	g->have = false;
}

static void growth_add(void *cls, const char *bank, bool manufacturing, int64_t start,
		       int64_t as_of, int64_t issued)
{
	struct growth *g = cls;
	int64_t v[3] = {start, as_of, issued};

	if (g->have && strcmp(g->bank, bank) != 0)
		growth_flush(g);
	snprintf(g->bank, sizeof g->bank, "%s", bank);
	g->have = true;
	if (!fen_add_all(g->cur[manufacturing], v, 3) ||
	    !fen_add_all(g->total[manufacturing], v, 3) || !halves_add(g->cur) ||
	    !halves_add(g->total))
		g->sum_overflow = true;
}

void stats_lending_growth(struct request *req)
{
	struct growth g = {json_array(), {{0}}, "", {{0}}, false, false};
	char as_of[DATE_BUF];
	int year;
	bool ok;
	const char *bank = stats_bank(req, &ok);
	json_t *names = NULL;
	enum out_format fmt;
	enum db_rc rc;

	if (!ok || !query_format(req, STATS_FORMATS, FMT_JSON, &fmt) ||
	    !year_and_as_of(req, &year, as_of))
		goto fail;
	rc = db_stats_lending_growth(year, as_of, bank, growth_add, &g);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto fail;
	}
	if (g.sum_overflow) {
		reply_sum_overflow(req);
		goto fail;
	}
	if ((names = bank_names(req)) == NULL)
		goto fail;
	growth_flush(&g);
	add_bank_names(g.rows, names);
	json_decref(names);
	reply_answer(req, fmt,
		     json_pack("{s:i, s:s, s:s, s:o, s:o}", "year", year, "as_of", as_of, "bank",
			       strcmp(bank, "*") == 0 ? "all" : bank, "rows", g.rows, "total",
			       growth_row_json((const int64_t(*)[3])g.total)),
		     &growth_table);
	return;
fail:
	json_decref(g.rows);
}

/* Metrics whose values are money (yuan strings); the others are plain numbers. */
static bool money_metric(const char *metric)
{
	return strcmp(metric, "manufacturing_loan_increase") == 0 ||
	       strcmp(metric, "lending_increase") == 0;
}

/* "at most" metrics: met when actual <= target. */
static bool ceiling_metric(const char *metric)
{
	return strcmp(metric, "small_micro_rate_change_pp") == 0;
}

/* Parses a signed decimal with at most four places into 1/10000 units. */
static bool decimal_e4(const char *s, int64_t *out)
{
	int64_t v = 0, frac = 0;
	int places = 0;
	bool neg = *s == '-';

	if (neg || *s == '+')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > 100000000000000LL)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9' && places < 4; s++, places++)
			frac = frac * 10 + (*s - '0');
		if (places == 0)
			return false;
	}
	if (*s != '\0')
		return false;
	while (places++ < 4)
		frac *= 10;
	*out = (neg ? -1 : 1) * (v * 10000 + frac);
	return true;
}

static json_t *metric_value(const char *metric, const char *text)
{
	int64_t fen;

	if (text == NULL)
		return json_null();
	if (money_metric(metric) && money_parse(text[0] == '-' ? text + 1 : text, &fen)) {
		char out[MONEY_BUF];

		money_format(text[0] == '-' ? -fen : fen, out);
		return json_string(out);
	}
	if (strcmp(metric, "relief_referrals") == 0)
		return json_integer(strtoll(text, NULL, 10));
	return decimal_json(text);
}

static void target_add(void *cls, const char *metric, const char *target, const char *actual,
		       int cmp)
{
	int64_t t = 0, a = 0;
	bool have = actual != NULL && decimal_e4(actual, &a) && decimal_e4(target, &t);
	json_t *progress = have && t != 0 ? ratio_json(share_e4(a, t)) : json_null();
	/* an unknown actual is not a miss: met is null, not false; judged on the exact actual
	 * (the database's cmp), not on the rounded one shown */
	json_t *met = cmp > 1 || actual == NULL
			  ? json_null()
			  : json_boolean(ceiling_metric(metric) ? cmp <= 0 : cmp >= 0);
	const char *name = metric_name(metric);

	json_array_append_new(
	    cls, json_pack("{s:s, s:s*, s:o, s:o, s:o, s:o}", "metric", metric, "metric_name", name,
			   "target", metric_value(metric, target), "actual",
			   metric_value(metric, actual), "progress", progress, "met", met));
}

void stats_targets(struct request *req)
{
	json_t *rows = json_array(), *scorecard = NULL;
	int32_t day;
	char as_of[DATE_BUF];
	int year;
	enum out_format fmt;
	enum db_rc rc;

	if (!query_format(req, STATS_FORMATS, FMT_JSON, &fmt) || !year_and_as_of(req, &year, as_of))
		goto fail;
	rc = db_stats_targets(year, as_of, target_add, rows);
	/* The banks' ranking beside the targets (docs/supervision.md). */
	if (rc == DB_OK && date_parse(as_of, &day))
		rc = scorecard_json(year, day, "*", false, &scorecard);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		goto fail;
	}
	reply_answer(req, fmt,
		     json_pack("{s:i, s:s, s:o, s:o}", "year", year, "as_of", as_of, "rows", rows,
			       "scorecard", scorecard),
		     &target_table);
	return;
fail:
	json_decref(rows);
}

void targets_put(struct request *req)
{
	static const char *const allowed[] = {"target", NULL};
	static const char *const metrics[] = {
	    "manufacturing_loan_increase", "lending_increase", "guarantee_leverage",
	    "small_micro_rate_change_pp",  "relief_referrals", NULL};
	const char *year_s = req_param(req, 0), *metric = req_param(req, 1), *text;
	const json_t *v = json_object_get(req->json, "target");
	struct field_error err;
	char value[48], *end;
	long year = strtol(year_s, &end, 10);
	int64_t e4;
	const char *const *m = metrics;
	enum db_rc rc;

	while (*m != NULL && strcmp(*m, metric) != 0)
		m++;
	if (*year_s == '\0' || *end != '\0' || year < 1990 || year > 2999 || *m == NULL) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such year or metric");
		return;
	}
	if (!fields_only(req->json, allowed, NULL, &err)) {
		reply_field_error(req, &err);
		return;
	}
	if (json_is_integer(v) && !money_metric(metric))
		snprintf(value, sizeof value, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		snprintf(value, sizeof value, "%s", json_string_value(v));
	else
		value[0] = '\0';
	text = value;
	if (!decimal_e4(text, &e4) ||
	    (money_metric(metric) && strchr(text, '.') && strlen(strchr(text, '.')) > 3) ||
	    (strcmp(metric, "relief_referrals") == 0 && (e4 % 10000 != 0 || e4 < 0))) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "target", "target: %s",
			    money_metric(metric) ? "a yuan string such as \"5000000000.00\""
						 : "a decimal string such as \"1.5\"");
		return;
	}
	rc = db_target_put((int)year, metric, text, req->principal.code);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	reply_json(req, 200,
		   json_pack("{s:i, s:s, s:o}", "year", (int)year, "metric", metric, "target",
			     metric_value(metric, text)));
}
