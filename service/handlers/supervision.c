/* The banks' scorecard (考评, measure 7.1): GET /v1/stats/scorecard?year=&as_of=&bank= and
 * PUT /v1/scorecard/weights/{year}. The database computes every indicator, its points and
 * each bank's score exactly (sql/supervision.sql); here the rows are ranked (ties share a
 * rank, domain/supervision.c) and a bank sees its own row with bank=self, ranked among all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/supervision.h"
#include "domain/dates.h"
#include "domain/supervision.h"
#include "handlers/common.h"
#include "handlers/formats.h"
#include "handlers/handlers.h"
#include "handlers/supervision.h"
#include "http/reply.h"

#define MAX_BANKS 4096

static const char *const indicator_names[] = {
    "manufacturing_increase", "first_loan_share", "credit_share",
    "medium_long_share",      "renewal_share",    "small_micro_rate_change_pp",
    "relief_funded_share",    "scf_financing",    NULL,
};

/* ?format=xlsx: a row per bank, each indicator's value and points in two columns. */
#define INDICATOR_COLS(key, title)                                                                 \
	{"indicators." key ".value", title, XK_VALUE},                                             \
	{                                                                                          \
		"indicators." key ".points", title "得分", XK_DECIMAL                              \
	}

static const struct xlsx_col scorecard_cols[] = {
    {"bank_code", "银行代码", XK_TEXT},
    {"rank", "排名", XK_INT},
    {"score", "总分", XK_DECIMAL},
    INDICATOR_COLS("manufacturing_increase", "制造业贷款余额增量"),
    INDICATOR_COLS("first_loan_share", "首贷户占比"),
    INDICATOR_COLS("credit_share", "信用贷款占比"),
    INDICATOR_COLS("medium_long_share", "中长期贷款占比"),
    INDICATOR_COLS("renewal_share", "无还本续贷占比"),
    INDICATOR_COLS("small_micro_rate_change_pp", "普惠小微贷款利率变动（百分点）"),
    INDICATOR_COLS("relief_funded_share", "纾困转介获贷占比"),
    INDICATOR_COLS("scf_financing", "供应链融资额"),
};

static const struct xlsx_table scorecard_table = {
    "scorecard", "银行考评", scorecard_cols, sizeof scorecard_cols / sizeof scorecard_cols[0],
    "rows",      NULL};

struct scorecard {
	struct scorecard_rank *rank;
	json_t **ind;    /* indicators of row i, by the row's index (NULL: not asked for) */
	bool indicators; /* asked for */
	size_t n;
	bool bad;
};

static void scorecard_add(void *cls, const char *bank, const char *score, const char *ind)
{
	struct scorecard *s = cls;
	struct scorecard_rank *r = &s->rank[s->n];

	if (s->n == MAX_BANKS || !score_parse_e2(score, &r->score_e2)) {
		s->bad = true;
		return;
	}
	snprintf(r->bank_code, sizeof r->bank_code, "%s", bank);
	r->index = s->n;
	s->ind[s->n] = s->indicators ? json_loads(ind, 0, NULL) : NULL;
	if (s->indicators && s->ind[s->n] == NULL)
		s->bad = true;
	s->n++;
}

/* ?year= (required), ?as_of= within the year (default: 31 December or today, whichever is
 * earlier). Replies 422 and returns false otherwise. */
static bool scorecard_dates(struct request *req, int *year, int32_t *day)
{
	const char *as = req_query(req, "as_of");

	if (!query_year(req, year))
		return false;
	if (as == NULL) {
		*day = scorecard_default_as_of(*year, today_day());
	} else if (!date_parse(as, day) || *day < date_from_ymd(*year, 1, 1) ||
		   *day > date_from_ymd(*year, 12, 31)) {
		reply_error(req, ERR_INVALID_FIELD, NULL, "as_of",
			    "as_of: a real date YYYY-MM-DD within the year");
		return false;
	}
	return true;
}

static json_t *scorecard_rows_json(struct scorecard *s, const char *bank, bool indicators)
{
	json_t *rows = json_array();

	scorecard_rank_rows(s->rank, s->n);
	for (size_t i = 0; i < s->n; i++) {
		const struct scorecard_rank *r = &s->rank[i];
		json_t *row;

		if (strcmp(bank, "*") != 0 && strcmp(bank, r->bank_code) != 0)
			continue;
		row = json_pack("{s:s, s:i, s:f}", "bank_code", r->bank_code, "rank", r->rank,
				"score", (double)r->score_e2 / 100.0);
		if (indicators)
			json_object_set(row, "indicators", s->ind[r->index]);
		json_array_append_new(rows, row);
	}
	return rows;
}

enum db_rc scorecard_json(int year, int32_t as_of, const char *bank, bool indicators, json_t **out)
{
	struct scorecard s = {calloc(MAX_BANKS + 1, sizeof *s.rank),
			      calloc(MAX_BANKS + 1, sizeof *s.ind), indicators, 0, false};
	char day[DATE_BUF], prev_to[DATE_BUF], *weights = NULL;
	json_t *w;
	enum db_rc rc;

	*out = NULL;
	if (s.rank == NULL || s.ind == NULL) {
		free(s.rank);
		free(s.ind);
		return DB_NO_MEMORY;
	}
	date_format(as_of, day);
	date_format(same_day_year_before(as_of), prev_to);
	rc = db_scorecard(year, day, prev_to, indicators, scorecard_add, &s);
	if (rc == DB_OK)
		rc = s.bad ? DB_ERROR : db_scorecard_weights(year, &weights);
	w = rc == DB_OK ? json_loads(weights, 0, NULL) : NULL;
	if (rc == DB_OK && w == NULL)
		rc = DB_NO_MEMORY; /* the database's own JSON: only memory can fail it */
	if (rc == DB_OK)
		*out = json_pack("{s:i, s:s, s:s, s:o, s:o}", "year", year, "as_of", day, "bank",
				 strcmp(bank, "*") == 0 ? "all" : bank, "weights", w, "rows",
				 scorecard_rows_json(&s, bank, indicators));
	for (size_t i = 0; i < s.n; i++)
		json_decref(s.ind[i]);
	free(s.rank);
	free(s.ind);
	free(weights);
	return rc;
}

void stats_scorecard(struct request *req)
{
	int year;
	int32_t as_of;
	bool ok;
	const char *bank = stats_bank(req, &ok);
	json_t *body;
	enum out_format fmt;
	enum db_rc rc;

	if (!ok || !query_format(req, FMT_JSON | FMT_XLSX, FMT_JSON, &fmt) ||
	    !scorecard_dates(req, &year, &as_of))
		return;
	rc = scorecard_json(year, as_of, bank, true, &body);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	reply_answer(req, fmt, body, &scorecard_table);
}

/* Checks the body of a weights PUT: known indicators, numbers >= 0, not every weight 0
 * (unnamed ones weigh 1). Replies 422 and returns false otherwise. */
static bool weights_valid(struct request *req, const json_t *body)
{
	const char *key;
	const json_t *v;
	size_t named = 0;
	bool positive = false;

	json_object_foreach((json_t *)body, key, v)
	{
		const char *const *i = indicator_names;

		while (*i != NULL && strcmp(*i, key) != 0)
			i++;
		if (*i == NULL) {
			reply_error(req, ERR_UNKNOWN_FIELD, NULL, key,
				    "%s: not a scorecard indicator", key);
			return false;
		}
		if (!json_is_number(v) || json_number_value(v) < 0) {
			reply_error(req, ERR_INVALID_FIELD, NULL, key,
				    "%s: a weight is a number, 0 or more", key);
			return false;
		}
		named++;
		positive = positive || json_number_value(v) > 0;
	}
	if (!positive && named == sizeof indicator_names / sizeof indicator_names[0] - 1) {
		reply_error(req, ERR_INVALID_FIELD, NULL, NULL,
			    "at least one weight must be above 0");
		return false;
	}
	return true;
}

void scorecard_weights_put(struct request *req)
{
	const char *year_s = req_param(req, 0);
	char *end, *text = NULL, *json = NULL;
	long year = strtol(year_s, &end, 10);
	enum db_rc rc;

	if (*year_s == '\0' || *end != '\0' || year < 1990 || year > 2999) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such year");
		return;
	}
	if (!json_is_object(req->json)) {
		reply_error(req, ERR_BAD_JSON, NULL, NULL,
			    "the body is an object {indicator: weight}");
		return;
	}
	if (!weights_valid(req, req->json))
		return;
	text = json_dumps(req->json, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (text == NULL) {
		reply_out_of_memory(req);
		return;
	}
	rc = db_scorecard_weights_put((int)year, text, req->principal.code, &json);
	free(text);
	if (rc != DB_OK) {
		reply_db_error(req, rc);
		return;
	}
	reply_json(
	    req, 200,
	    json_pack("{s:i, s:o}", "year", (int)year, "weights", json_loads(json, 0, NULL)));
	free(json);
}
