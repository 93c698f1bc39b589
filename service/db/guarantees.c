/* Statements and functions of db/guarantees.h. */
#include "db/guarantees.h"

#include <stdio.h>

#include "db/db_internal.h"

const struct db_stmt db_stmts_guarantees[] = {
    {"guarantor_put", "SELECT status, code, field, message, body::text"
		      " FROM guarantor_put($1, $2, $3::bigint, $4::date, $5)"},
    {"guarantor_select_json", "SELECT guarantor_to_json(g)::text FROM guarantors g"
			      " WHERE g.code = $1"},
    {"guarantee_post",
     "SELECT status, code, field, message, body::text FROM guarantee_post($1, $2, $3::jsonb,"
     " $4, $5, $6, $7::bigint, $8::date, $9::date, $10::date)"},
    {"guarantee_release", "SELECT status, code, field, message, body::text"
			  " FROM guarantee_release($1, $2, $3::date, $1, $4::date)"},
    {"guarantee_select_json", "SELECT guarantee_to_json(g, $3::date)::text FROM guarantees g"
			      " WHERE g.guarantor_code = $1 AND g.guarantee_ref = $2"},
    {"guarantee_list", "SELECT id, item FROM guarantee_list_page($1::date, $2, $3, $4,"
		       " $5::date, $6::bigint, $7::int)"},
    {"stats_guarantee_leverage",
     "SELECT guarantor_code, name, outstanding_fen, net_assets_fen, net_assets_as_of::text"
     " FROM guarantee_leverage_rows($1::date, $2)"},
    {"stats_guarantee_leverage_target", "SELECT guarantee_leverage_target_e4($1::date)"},
    {NULL, NULL},
};

enum db_rc db_guarantor_put(const char *code, const char *name, int64_t net_assets_fen,
			    const char *as_of, const char *actor, struct db_outcome *out)
{
	char net[24];
	const char *params[] = {code, name, net, as_of, actor};

	snprintf(net, sizeof net, "%lld", (long long)net_assets_fen);
	return db_write_outcome("guarantor_put", 5, params, out);
}

enum db_rc db_guarantee_post(const char *guarantor, const struct guarantee_input *in,
			     const char *today, struct db_outcome *out)
{
	char amount[24];
	const char *params[] = {guarantor,     in->guarantee_ref, in->content,
				in->bank_code, in->loan_ref,      in->borrower_uscc,
				amount,        in->start_date,    in->end_date,
				today};

	snprintf(amount, sizeof amount, "%lld", (long long)in->amount_fen);
	return db_write_outcome("guarantee_post", 10, params, out);
}

enum db_rc db_guarantee_release(const char *guarantor, const char *ref, const char *date,
				const char *today, struct db_outcome *out)
{
	const char *params[] = {guarantor, ref, date, today};

	return db_write_outcome("guarantee_release", 4, params, out);
}

enum db_rc db_guarantor_get(const char *code, char **json)
{
	const char *params[] = {code};

	return db_json_one("guarantor_select_json", 1, params, json);
}

enum db_rc db_guarantee_get(const char *guarantor, const char *ref, const char *today, char **json)
{
	const char *params[] = {guarantor, ref, today};

	return db_json_one("guarantee_select_json", 3, params, json);
}

enum db_rc db_guarantee_list(const struct guarantee_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->today, f->guarantor, f->bank, f->borrower, f->outstanding_on};

	return db_json_page("guarantee_list", 5, filters, f->after_id, f->limit, fn, cls);
}

struct leverage_state {
	const char *const *params;
	int64_t *target_e4;
	leverage_row_fn fn;
	void *cls;
};

static enum db_rc do_leverage(PGconn *c, void *cls)
{
	struct leverage_state *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "stats_guarantee_leverage_target", 1, s->params, &rc);

	if (r == NULL)
		return rc;
	*s->target_e4 = db_value_int(r, 0, 0);
	PQclear(r);
	r = db_run(c, "stats_guarantee_leverage", 2, s->params, &rc);
	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		struct leverage_row row = {
		    PQgetvalue(r, i, 0),   PQgetvalue(r, i, 1),
		    db_value_int(r, i, 2), !PQgetisnull(r, i, 3),
		    db_value_int(r, i, 3), PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4),
		};

		s->fn(s->cls, &row);
	}
	PQclear(r);
	return DB_OK;
}

enum db_rc db_guarantee_leverage(const char *day, const char *guarantor, int64_t *target_e4,
				 leverage_row_fn fn, void *cls)
{
	const char *params[] = {day, guarantor};
	struct leverage_state s = {params, target_e4, fn, cls};

	*target_e4 = 0;
	return db_once(do_leverage, &s);
}
