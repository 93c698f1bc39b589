/* Statements and functions of db/stats.h. */
#include "db/stats.h"

#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"
#include "log.h"

const struct db_stmt db_stmts_stats[] = {
    {"stats_new_loans",
     "SELECT period::text, key, n, amount, first_n, first_amount, credit_n, credit_amount,"
     " mlt_n, mlt_amount, renewal_n, renewal_amount"
     " FROM stats_new_loans_window($1::char, $2, $3::date, $4::date, $5::boolean,"
     " $6::boolean)"},
    {"stats_pricing", "SELECT period::text, n, amount, avg_rate, avg_spread_bp, change_pp"
		      " FROM stats_pricing_month($1, $2::date)"},
    {"stats_lending_growth",
     "SELECT bank_code, manufacturing, outstanding_start, outstanding_as_of, issued"
     " FROM stats_lending_growth($1::int, $2::date, $3)"},
    {"stats_targets",
     "SELECT metric, target::text, actual::text, cmp FROM stats_targets($1::int, $2::date)"},
    {"target_upsert",
     "INSERT INTO targets (year, metric, target, updated_by) VALUES ($1::int, $2, $3::numeric, $4)"
     " ON CONFLICT (year, metric) DO UPDATE SET target = EXCLUDED.target, updated_at = now(),"
     " updated_by = EXCLUDED.updated_by"},
    {"stats_compact", "SELECT stats_compact($1::int)"},
    {"stats_bank_names", "SELECT code, name FROM principals WHERE kind = 'bank'"},
    {"stats_pending_rows", "SELECT (SELECT count(*) FROM stats_pending)"
			   " + (SELECT count(*) FROM guarantee_outstanding_pending)"
			   " + (SELECT count(*) FROM scf_financing_pending)"},
    /* The table's pages, or every partition's when loans is partitioned (a parent has
     * none of its own; pg_partition_tree of a plain table is empty). */
    {"loans_pages",
     "SELECT (pg_relation_size('loans') + coalesce((SELECT"
     " sum(pg_relation_size(t.relid)) FROM pg_partition_tree('loans') t), 0))::bigint"
     " / 8192"},
    {NULL, NULL},
};

/* The caller's row callback and its closure, for the row readers below. */
struct query {
	void *fn;
	void *cls;
	bool out_of_range; /* a sum read passed 64 bits of fen (absurd amounts) */
};

static void newloan_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;
	int64_t sums[NL_SUMS];

	for (int k = 0; k < NL_SUMS; k++) {
		if (!db_value_int_in_range(r, i, 2 + k, &sums[k])) {
			q->out_of_range = true;
			return;
		}
	}
	((newloan_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), sums);
}

enum db_rc db_stats_new_loans(char dim, const char *bank, const char *from, const char *to,
			      int manufacturing, bool by_month, newloan_row_fn fn, void *cls)
{
	char d[2] = {dim, '\0'};
	const char *mfg = manufacturing < 0 ? NULL : manufacturing ? "t" : "f";
	const char *params[] = {d, bank, from, to, mfg, by_month ? "t" : "f"};
	struct query q = {(void *)fn, cls, false};
	enum db_rc rc = db_rows("stats_new_loans", 6, params, newloan_row, &q);

	if (rc == DB_OK && q.out_of_range) {
		/* The summaries keep such sums (migration 025); this answer cannot show them. */
		LOG_WARN("statement stats_new_loans: a sum is out of the range of 64-bit fen");
		rc = DB_ERROR;
	}
	return rc;
}

struct pricing_state {
	struct pricing_period *cur, *prev;
	char *change_pp;
};

static void pricing_row(void *cls, const PGresult *r, int i)
{
	struct pricing_state *s = cls;
	struct pricing_period *p = i == 0 ? s->cur : s->prev;

	snprintf(p->period, sizeof p->period, "%s", PQgetvalue(r, i, 0));
	p->n = db_value_int(r, i, 1);
	p->amount = db_value_int(r, i, 2);
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

	memset(cur, 0, sizeof *cur);
	memset(prev, 0, sizeof *prev);
	change_pp[0] = '\0';
	return db_rows("stats_pricing", 2, params, pricing_row, &s);
}

static void growth_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;

	((growth_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1)[0] == 't',
			       db_value_int(r, i, 2), db_value_int(r, i, 3), db_value_int(r, i, 4));
}

enum db_rc db_stats_lending_growth(int year, const char *as_of, const char *bank, growth_row_fn fn,
				   void *cls)
{
	char y[12];
	const char *params[] = {y, as_of, bank};
	struct query q = {(void *)fn, cls, false};

	snprintf(y, sizeof y, "%d", year);
	return db_rows("stats_lending_growth", 3, params, growth_row, &q);
}

static void target_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;

	((target_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			       PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
			       PQgetisnull(r, i, 3) ? 2 : (int)db_value_int(r, i, 3));
}

enum db_rc db_stats_targets(int year, const char *as_of, target_row_fn fn, void *cls)
{
	char y[12];
	const char *params[] = {y, as_of};
	struct query q = {(void *)fn, cls, false};

	snprintf(y, sizeof y, "%d", year);
	return db_rows("stats_targets", 2, params, target_row, &q);
}

static enum db_rc do_target_put(PGconn *c, void *cls)
{
	enum db_rc rc;

	PQclear(db_run(c, "target_upsert", 4, cls, &rc));
	return rc;
}

enum db_rc db_target_put(int year, const char *metric, const char *value, const char *by)
{
	char y[12];
	const char *params[] = {y, metric, value, by};

	snprintf(y, sizeof y, "%d", year);
	return db_tx(do_target_put, params, false);
}

static void moved_row(void *cls, const PGresult *r, int i)
{
	*(long long *)cls = db_value_int(r, i, 0);
}

enum db_rc db_stats_compact(long long limit, long long *moved)
{
	char n[24];
	const char *params[] = {n};

	snprintf(n, sizeof n, "%lld", limit);
	return db_rows("stats_compact", 1, params, moved_row, moved);
}

static void name_row(void *cls, const PGresult *r, int i)
{
	struct query *q = cls;

	((name_row_fn)q->fn)(q->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
}

enum db_rc db_bank_names(name_row_fn fn, void *cls)
{
	struct query q = {(void *)fn, cls, false};

	return db_rows("stats_bank_names", 0, NULL, name_row, &q);
}

static void count_row(void *cls, const PGresult *r, int row)
{
	*(int64_t *)cls = db_value_int(r, row, 0);
}

enum db_rc db_loans_pages(int64_t *pages)
{
	return db_rows("loans_pages", 0, NULL, count_row, pages);
}

enum db_rc db_stats_pending_rows(int64_t *rows)
{
	*rows = -1;
	return db_rows("stats_pending_rows", 0, NULL, count_row, rows);
}
