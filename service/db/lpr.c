/* Statements and functions of db/lpr.h. */
#include "db/lpr.h"

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
    {NULL, NULL},
};

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
};

static enum db_rc do_put(PGconn *c, void *cls)
{
	struct put *p = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "lpr_upsert", 4, p->params, &rc);

	if (r == NULL)
		return rc;
	p->created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return DB_OK;
}

enum db_rc db_lpr_put(const char *date, const char *one_year, const char *five_year, const char *by,
		      bool *created)
{
	struct put p = {{date, one_year, five_year, by}, false};
	enum db_rc rc = db_tx(do_put, &p, false);

	*created = p.created;
	return rc;
}
