/* Statements and functions of db/lpr.h. */
#include "db/lpr.h"

#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"
#include "db/loans.h"

const struct db_stmt db_stmts_lpr[] = {
    {"lpr_select_all", "SELECT effective_from::text, one_year::text, five_year::text FROM lpr_rates"
		       " ORDER BY effective_from"},
    {"lpr_upsert",
     "INSERT INTO lpr_rates (effective_from, one_year, five_year, updated_by)"
     " VALUES ($1::date, $2::numeric, $3::numeric, $4)"
     " ON CONFLICT (effective_from) DO UPDATE SET one_year = EXCLUDED.one_year,"
     " five_year = EXCLUDED.five_year, updated_at = now(), updated_by = EXCLUDED.updated_by"
     " RETURNING (xmax = 0)"},
    {"lpr_take_turn", "SELECT lpr_take_turn()"},
    {"lpr_reprice", "SELECT lpr_reprice($1::date)"},
    {"lpr_recheck_schedule", "SELECT lpr_recheck_schedule($1::date, $2::int)"},
    {"lpr_recheck_claim",
     "SELECT effective_from::text, token::text, attempts FROM lpr_recheck_claim($1::int)"},
    {"lpr_recheck_run", "SELECT lpr_recheck_run($1::date, $2::bigint)"},
    {"lpr_recheck_drop", "SELECT lpr_recheck_drop($1::date, $2::bigint)"},
    {"lpr_recheck_unclaim", "SELECT lpr_recheck_unclaim($1::date, $2::bigint, $3::int)"},
    {"lpr_recheck_failed", "SELECT lpr_recheck_failed($1::date, $2::bigint)"},
    {NULL, NULL},
};

/* How long the upsert and the repricing of the loans it governs may take together: the
 * repricing scans the loans table (a rare act of the regulator, not the write path's 5 s). */
#define LPR_PUT_MS 60000u
/* How long a recheck waits for its turn (a PUT holding it) before it gives the claim back
 * (LPR_RECHECK_TURN_RETRY_MS); a run that fails is tried again LPR_RECHECK_RETRY_MS later,
 * and after LPR_RECHECK_ATTEMPTS failed runs given up. */
#define LPR_RECHECK_LOCK_MS  5000u
#define LPR_RECHECK_RETRY_MS 300000u
#define LPR_RECHECK_ATTEMPTS 5
/* A recheck that did not get its turn (a PUT or another recheck held it) is tried again
 * this much later, the run not counted. */
#define LPR_RECHECK_TURN_RETRY_MS 10000u

/* When a PUT's recheck is due, from the PUT's commit: once no request that priced a loan
 * from a cache of the table read before the PUT committed can still be writing it. The
 * cache is at most REFDATA_TTL_SECONDS old; a write request's transaction is run at most
 * DB_TX_ATTEMPTS times, each of its few statements ending within the statement timeout,
 * and a group that fails is stored post by post: allowed for as DB_TX_ATTEMPTS + 2
 * statement timeouts (45 s with the defaults). An argument from the timeouts, not a
 * measurement; instances configured with a longer statement timeout than this one's are
 * not allowed for. Without a statement timeout (0), a minute stands in for one. */
static unsigned recheck_after_ms(void)
{
	unsigned statement = db_statement_timeout() ? db_statement_timeout() : LPR_PUT_MS;

	return REFDATA_TTL_SECONDS * 1000u + (DB_TX_ATTEMPTS + 2u) * statement;
}

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

/* Bounds the transaction's statements by LPR_PUT_MS (the reprice scans the loans table)
 * and its wait for the turn by @a lock_ms (0: the statement's bound), then takes the turn:
 * PUTs and rechecks take turns (readers do not wait), each repricing against the rows the
 * one before committed (sql/loans.sql lpr_take_turn). The lock timeout is for the turn
 * alone: the reprice's row locks wait as a PUT's do. Sets *lost (unless NULL) when the
 * turn was not had (the statements before it passed). */
static enum db_rc take_turn(PGconn *c, unsigned lock_ms, bool *lost)
{
	enum db_rc rc;
	char sql[96];
	PGresult *r;

	if (lost != NULL)
		*lost = false;
	snprintf(sql, sizeof sql, "SET LOCAL statement_timeout = %u; SET LOCAL lock_timeout = %u",
		 LPR_PUT_MS, lock_ms);
	if ((r = db_run_sql(c, sql, &rc)) == NULL)
		return rc;
	PQclear(r);
	if ((r = db_run(c, "lpr_take_turn", 0, NULL, &rc)) == NULL) {
		if (lost != NULL)
			*lost = true;
		return rc;
	}
	PQclear(r);
	if (lock_ms != 0) {
		if ((r = db_run_sql(c, "SET LOCAL lock_timeout = 0", &rc)) == NULL)
			return rc;
		PQclear(r);
	}
	return DB_OK;
}

static enum db_rc do_put(PGconn *c, void *cls)
{
	struct put *p = cls;
	enum db_rc rc = take_turn(c, 0, NULL);
	char after[16];
	const char *schedule[] = {p->params[0], after};
	PGresult *r;

	if (rc != DB_OK)
		return rc;
	if ((r = db_run(c, "lpr_upsert", 4, p->params, &rc)) == NULL)
		return rc;
	p->created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if ((r = db_run(c, "lpr_reprice", 1, p->params, &rc)) == NULL)
		return rc;
	p->repriced = db_value_int(r, 0, 0);
	PQclear(r);
	snprintf(after, sizeof after, "%u", recheck_after_ms());
	if ((r = db_run(c, "lpr_recheck_schedule", 2, schedule, &rc)) == NULL)
		return rc;
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

struct claim {
	bool claimed;
	char date[16];
	char token[24];
	int64_t attempts;
};

static void claim_row(void *cls, const PGresult *r, int row)
{
	struct claim *cl = cls;

	cl->claimed = true;
	snprintf(cl->date, sizeof cl->date, "%s", PQgetvalue(r, row, 0));
	snprintf(cl->token, sizeof cl->token, "%s", PQgetvalue(r, row, 1));
	cl->attempts = db_value_int(r, row, 2);
}

struct recheck {
	const struct claim *claim;
	long long repriced;
	bool lost_turn;
};

static enum db_rc do_recheck(PGconn *c, void *cls)
{
	struct recheck *k = cls;
	const char *params[] = {k->claim->date, k->claim->token};
	enum db_rc rc = take_turn(c, LPR_RECHECK_LOCK_MS, &k->lost_turn);
	PGresult *r;

	if (rc != DB_OK)
		return rc;
	if ((r = db_run(c, "lpr_recheck_run", 2, params, &rc)) == NULL)
		return rc;
	k->repriced = db_value_int(r, 0, 0);
	PQclear(r);
	return DB_OK;
}

static void ignore_row(void *cls, const PGresult *r, int row)
{
	(void)cls;
	(void)r;
	(void)row;
}

enum db_rc db_lpr_recheck_next(struct lpr_recheck *out)
{
	char retry[16];
	const char *params[] = {retry};
	struct claim cl = {false, "", "", 0};
	struct recheck k = {&cl, 0, false};
	unsigned deadline;
	enum db_rc rc;

	memset(out, 0, sizeof *out);
	snprintf(retry, sizeof retry, "%u", LPR_RECHECK_RETRY_MS);
	rc = db_rows("lpr_recheck_claim", 1, params, claim_row, &cl);
	if (rc != DB_OK || !cl.claimed)
		return rc;
	out->ran = true;
	snprintf(out->date, sizeof out->date, "%s", cl.date);
	if (cl.attempts >= LPR_RECHECK_ATTEMPTS) {
		const char *drop[] = {cl.date, cl.token};

		out->gave_up = true;
		out->attempts = (int)cl.attempts;
		return db_rows("lpr_recheck_drop", 2, drop, ignore_row, NULL);
	}
	deadline = db_deadline_set(LPR_PUT_MS + 1000u);
	rc = db_tx(do_recheck, &k, false);
	db_deadline_set(deadline);
	out->repriced = k.repriced;
	if (rc == DB_OK)
		return rc;
	if (db_thread_stopping()) {
		/* Not a failed run: it stays claimed, due LPR_RECHECK_RETRY_MS on, and its backend
		 * rolls back within a second of the dropped connection. */
		out->stopped = true;
	} else if (k.lost_turn) {
		/* Waiting out a PUT's or another recheck's turn is no failed run: given back, and
		 * tried again soon (found by review: rechecks falling due together on two
		 * instances used up each other's runs and were given up). */
		const char *unclaim[] = {cl.date, cl.token, retry};

		snprintf(retry, sizeof retry, "%u", LPR_RECHECK_TURN_RETRY_MS);
		out->lost_turn =
		    db_rows("lpr_recheck_unclaim", 3, unclaim, ignore_row, NULL) == DB_OK;
	} else {
		const char *failed[] = {cl.date, cl.token};

		db_rows("lpr_recheck_failed", 2, failed, ignore_row, NULL);
	}
	return rc;
}
