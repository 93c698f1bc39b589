/* Statements and functions of db/supervision.h. */
#include "db/supervision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

const struct db_stmt db_stmts_supervision[] = {
    {"scorecard_rows", "SELECT bank_code, score, indicators::text"
		       " FROM scorecard_rows($1::int, $2::date, $3::date, $4::boolean)"},
    {"scorecard_weights", "SELECT jsonb_object_agg(indicator, weight)::text"
			  " FROM scorecard_weights_of($1::int)"},
    {"scorecard_weights_put", "SELECT scorecard_weights_put($1::int, $2::jsonb, $3)::text"},
    {"withdrawal_alerts",
     "SELECT kind, bank_code, uscc, name, county_code, outstanding_before, outstanding_as_of,"
     " day::text, loan_ref, referred, whitelisted, scf_member"
     " FROM withdrawal_alerts($1::date, $2::date, $3, $4, $5, $6::int, $7)"},
    {NULL, NULL},
};

struct query {
	void *fn;
	void *cls;
};

static void scorecard_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;

	((scorecard_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
				  PQgetvalue(r, i, 2));
}

enum db_rc db_scorecard(int year, const char *as_of, const char *prev_to, bool indicators,
			scorecard_row_fn fn, void *cls)
{
	char y[12];
	const char *params[] = {y, as_of, prev_to, indicators ? "t" : "f"};
	struct query q = {(void *)fn, cls};

	snprintf(y, sizeof y, "%d", year);
	return db_rows("scorecard_rows", 4, params, scorecard_row, &q);
}

enum db_rc db_scorecard_weights(int year, char **json)
{
	char y[12];
	const char *params[] = {y};

	snprintf(y, sizeof y, "%d", year);
	return db_json_one("scorecard_weights", 1, params, json);
}

static void weights_row(void *cls, const PGresult *r, int i)
{
	char **json = cls;

	free(*json);
	*json = db_value_dup(r, i, 0);
}

enum db_rc db_scorecard_weights_put(int year, const char *weights, const char *actor, char **json)
{
	char y[12];
	const char *params[] = {y, weights, actor};
	enum db_rc rc;

	snprintf(y, sizeof y, "%d", year);
	*json = NULL;
	rc = db_write_row("scorecard_weights_put", 3, params, weights_row, json);
	if (rc == DB_OK && *json == NULL)
		rc = DB_ERROR;
	if (rc != DB_OK) {
		free(*json);
		*json = NULL;
	}
	return rc;
}

static void alert_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;
	struct withdrawal_alert a = {
	    PQgetvalue(r, i, 0),
	    PQgetvalue(r, i, 1),
	    PQgetvalue(r, i, 2),
	    PQgetvalue(r, i, 3),
	    PQgetvalue(r, i, 4),
	    PQgetvalue(r, i, 7),
	    PQgetisnull(r, i, 8) ? NULL : PQgetvalue(r, i, 8),
	    db_value_int(r, i, 5),
	    db_value_int(r, i, 6),
	    PQgetvalue(r, i, 9)[0] == 't',
	    PQgetvalue(r, i, 10)[0] == 't',
	    PQgetvalue(r, i, 11)[0] == 't',
	};

	((alert_row_fn)q->fn)(q->cls, &a);
}

enum db_rc db_withdrawal_alerts(const struct alert_filter *f, alert_row_fn fn, void *cls)
{
	char lim[16];
	const char *params[] = {f->start, f->as_of, f->bank,      f->county,
				f->kind,  lim,      f->flags_bank};
	struct query q = {(void *)fn, cls};

	snprintf(lim, sizeof lim, "%d", f->limit);
	return db_rows("withdrawal_alerts", 7, params, alert_row, &q);
}
