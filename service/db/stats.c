/* Statements and functions of db/stats.h. */
#include "db/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

const struct db_stmt db_stmts_stats[] = {
	{"stats_new_loans",
	 "SELECT period::text, key, n, amount, first_n, first_amount, credit_n, credit_amount,"
	 " mlt_n, mlt_amount, renewal_n, renewal_amount"
	 " FROM stats_new_loans_window($1::char, $2, $3::date, $4::date, $5::boolean)"},
	{"stats_pricing",
	 "SELECT period::text, n, amount, avg_rate, avg_spread_bp, change_pp"
	 " FROM stats_pricing_month($1, $2::date)"},
	{"stats_lending_growth",
	 "SELECT bank_code, manufacturing, outstanding_start, outstanding_as_of, issued"
	 " FROM stats_lending_growth($1::int, $2::date, $3)"},
	{"stats_targets", "SELECT metric, target::text, actual::text FROM stats_targets($1::int, $2::date)"},
	{"target_upsert",
	 "INSERT INTO targets (year, metric, target, updated_by) VALUES ($1::int, $2, $3::numeric, $4)"
	 " ON CONFLICT (year, metric) DO UPDATE SET target = EXCLUDED.target, updated_at = now(),"
	 " updated_by = EXCLUDED.updated_by"},
	{"stats_compact", "SELECT stats_compact()"},
	{NULL, NULL},
};

struct query {
	const char *stmt;
	int n;
	const char *const *params;
	void (*row)(struct query *q, const PGresult *r, int i);
	void *fn;
	void *cls;
};

static enum db_rc do_query(PGconn *c, void *cls)
{
	struct query *q = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, q->stmt, q->n, q->params, &rc);

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		q->row(q, r, i);
	PQclear(r);
	return DB_OK;
}

static int64_t int_at(const PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? 0 : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

static void newloan_row(struct query *q, const PGresult *r, int i)
{
	int64_t sums[NL_SUMS];

	for (int k = 0; k < NL_SUMS; k++)
		sums[k] = int_at(r, i, 2 + k);
	((newloan_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), sums);
}

enum db_rc db_stats_new_loans(char dim, const char *bank, const char *from, const char *to,
			      int manufacturing, newloan_row_fn fn, void *cls)
{
	char d[2] = {dim, '\0'};
	const char *params[] = {d, bank, from, to,
				manufacturing < 0 ? NULL : manufacturing ? "t" : "f"};
	struct query q = {"stats_new_loans", 5, params, newloan_row, (void *)fn, cls};

	return db_once(do_query, &q);
}

struct pricing_state {
	struct pricing_period *cur, *prev;
	char *change_pp;
};

static void pricing_row(struct query *q, const PGresult *r, int i)
{
	struct pricing_state *s = q->cls;
	struct pricing_period *p = i == 0 ? s->cur : s->prev;

	snprintf(p->period, sizeof p->period, "%s", PQgetvalue(r, i, 0));
	p->n = int_at(r, i, 1);
	p->amount = int_at(r, i, 2);
	snprintf(p->avg_rate, sizeof p->avg_rate, "%s", PQgetvalue(r, i, 3));
	snprintf(p->avg_spread_bp, sizeof p->avg_spread_bp, "%s", PQgetvalue(r, i, 4));
	if (i == 0)
		snprintf(s->change_pp, 24, "%s", PQgetvalue(r, i, 5));
}

enum db_rc db_stats_pricing(const char *bank, const char *month, struct pricing_period *cur,
			    struct pricing_period *prev, char change_pp[24])
{
	const char *params[] = {bank, month};
	struct pricing_state s = {cur, prev, change_pp};
	struct query q = {"stats_pricing", 2, params, pricing_row, NULL, &s};

	memset(cur, 0, sizeof *cur);
	memset(prev, 0, sizeof *prev);
	change_pp[0] = '\0';
	return db_once(do_query, &q);
}

static void growth_row(struct query *q, const PGresult *r, int i)
{
	((growth_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)[0] == 't',
			       int_at(r, i, 2), int_at(r, i, 3), int_at(r, i, 4));
}

enum db_rc db_stats_lending_growth(int year, const char *as_of, const char *bank,
				   growth_row_fn fn, void *cls)
{
	char y[12];
	const char *params[] = {y, as_of, bank};
	struct query q = {"stats_lending_growth", 3, params, growth_row, (void *)fn, cls};

	snprintf(y, sizeof y, "%d", year);
	return db_once(do_query, &q);
}

static void target_row(struct query *q, const PGresult *r, int i)
{
	((target_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			       PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2));
}

enum db_rc db_stats_targets(int year, const char *as_of, target_row_fn fn, void *cls)
{
	char y[12];
	const char *params[] = {y, as_of};
	struct query q = {"stats_targets", 2, params, target_row, (void *)fn, cls};

	snprintf(y, sizeof y, "%d", year);
	return db_once(do_query, &q);
}

static void no_row(struct query *q, const PGresult *r, int i)
{
	(void)q;
	(void)r;
	(void)i;
}

static enum db_rc do_write(PGconn *c, void *cls)
{
	return do_query(c, cls);
}

enum db_rc db_target_put(int year, const char *metric, const char *value, const char *by)
{
	char y[12];
	const char *params[] = {y, metric, value, by};
	struct query q = {"target_upsert", 4, params, no_row, NULL, NULL};

	snprintf(y, sizeof y, "%d", year);
	return db_tx(do_write, &q, false);
}

static void moved_row(struct query *q, const PGresult *r, int i)
{
	*(long long *)q->cls = int_at(r, i, 0);
}

enum db_rc db_stats_compact(long long *moved)
{
	struct query q = {"stats_compact", 0, NULL, moved_row, NULL, moved};

	return db_once(do_query, &q);
}
