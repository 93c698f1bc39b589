/* Statements and functions of db/lpr.h. */
#include "db/lpr.h"

#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"

const struct db_stmt db_stmts_lpr[] = {
    {"lpr_select_all", "SELECT effective_from::text, one_year::text, five_year::text FROM lpr_rates"
		       " ORDER BY effective_from"},
    {"lpr_upsert",
     "INSERT INTO lpr_rates (effective_from, one_year, five_year, updated_by)"
     " VALUES ($1::date, $2::numeric, $3::numeric, $4)"
     " ON CONFLICT (effective_from) DO UPDATE SET one_year = EXCLUDED.one_year,"
     " five_year = EXCLUDED.five_year, updated_at = now(), updated_by = EXCLUDED.updated_by"
     " RETURNING (xmax = 0)"},
    {"lpr_reprice", "SELECT lpr_reprice($1::date)"},
    {NULL, NULL},
};

/* How long the upsert and the repricing of the loans it governs may take together: the
 * repricing scans the loans table (a rare act of the regulator, not the write path's 5 s). */
#define LPR_PUT_MS 60000u

struct list {
	lpr_row_fn fn;
	void *cls;
};

static void list_row(void *cls, const PGresult *r, int i)
{
	struct list *l = cls;

	l->fn(l->cls, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
}

enum db_rc db_lpr_list(lpr_row_fn fn, void *cls)
{
	struct list l = {fn, cls};

	return db_rows("lpr_select_all", 0, NULL, list_row, &l);
}

struct put {
	const char *params[4];
	bool created;
	long long repriced;
};

static enum db_rc do_put(PGconn *c, void *cls)
{
	struct put *p = cls;
	enum db_rc rc;
	char sql[64];
	PGresult *r;

	snprintf(sql, sizeof sql, "SET LOCAL statement_timeout = %u", LPR_PUT_MS);
	if ((r = db_run_sql(c, sql, &rc)) == NULL)
		return rc;
	PQclear(r);
	/* PUTs take turns (readers do not wait): each reprices against the rows the one
	 * before committed. Text: LOCK cannot be a prepared statement. */
	if ((r = db_run_sql(c, "LOCK TABLE lpr_rates IN SHARE ROW EXCLUSIVE MODE", &rc)) == NULL)
		return rc;
	PQclear(r);
	if ((r = db_run(c, "lpr_upsert", 4, p->params, &rc)) == NULL)
		return rc;
	p->created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if ((r = db_run(c, "lpr_reprice", 1, p->params, &rc)) == NULL)
		return rc;
	p->repriced = db_value_int(r, 0, 0);
	PQclear(r);
	return DB_OK;
}

enum db_rc db_lpr_put(const char *date, const char *one_year, const char *five_year, const char *by,
		      bool *created, long long *repriced)
{
	struct put p = {{date, one_year, five_year, by}, false, 0};
	unsigned deadline = db_deadline_set(LPR_PUT_MS + 1000u);
	enum db_rc rc = db_tx(do_put, &p, false);

	db_deadline_set(deadline);
	*created = p.created;
	*repriced = p.repriced;
	return rc;
}
