/* Statements and functions of db/loans.h. The checks that need stored rows and all the
 * writes are SQL functions in sql/loans.sql; this file binds and reads them. */
#include "db/loans.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "db/loan_group.h"
#include "domain/dates.h"
#include "domain/money.h"
#include "log.h"
#include "metrics.h"

const struct db_stmt db_stmts_loans[] = {
    /* $5.. are the items, one array per field of db/loan_item.def, typed by the function. */
    {"loan_ingest", "SELECT idx, status, code, rule, field, message, loan::text, created_at,"
		    " registry_first_loan, warnings::text FROM loan_ingest($1, $2::boolean, "
		    "$3::boolean, $4::boolean, $5, $6, $7, $8,"
		    " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,"
		    " $24, $25, $26, $27, $28, $29, $30)"},
    {"loan_correct", "SELECT status, code, rule, field, message, loan::text"
		     " FROM loan_correct($1, $2, $3::int, $4::jsonb)"},
    {"loan_void", "SELECT status, code, NULL, NULL, message, loan::text"
		  " FROM loan_void($1, $2, $3)"},
    {"loan_repay", "SELECT status, code, rule, field, message, loan::text, repayment::text"
		   " FROM loan_repay($1, $2, $3, $4::date, $5::bigint)"},
    {"loan_select_json", "SELECT loan_to_json(l)::text FROM loans l"
			 " WHERE l.bank_code = $1 AND l.loan_ref = $2"},
    {"loan_history", "SELECT loan_history($1, $2)::text"},
    {"loan_list", "SELECT id, item FROM loan_list_page($1, $2, $3::date, $4::date, $5,"
		  " $6::bigint, $7::int)"},
    {"warning_list", "SELECT id, item FROM warning_list_page($1, $2, $3::date, $4::date,"
		     " $5::bigint, $6::int)"},
    {"idempotency_lock",
     "SELECT pg_advisory_xact_lock(hashtextextended('idem:' || $1 || ':' || $2, 0))"},
    /* An answer older than the keep time is gone, purged or not. */
    {"idempotency_select", "SELECT request_sha256, status, response FROM idempotency_keys"
			   " WHERE bank_code = $1 AND key = $2"
			   " AND created_at > now() - $3::bigint * interval '1 second'"},
    {"idempotency_insert",
     "INSERT INTO idempotency_keys (bank_code, key, request_sha256, status, response)"
     " VALUES ($1, $2, $3, $4::int, $5) ON CONFLICT (bank_code, key) DO UPDATE"
     " SET request_sha256 = EXCLUDED.request_sha256, status = EXCLUDED.status,"
     " response = EXCLUDED.response, created_at = now()"},
    /* One instance at a time (the others skip), never on a standby; 10,000 rows a pass. */
    {"idempotency_purge_lock",
     "SELECT NOT pg_is_in_recovery() AND pg_try_advisory_xact_lock(hashtextextended("
     "'finreg:idempotency-purge', 0))"},
    {"idempotency_purge",
     "WITH gone AS (DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY("
     "SELECT ctid FROM idempotency_keys"
     " WHERE created_at <= now() - $1::bigint * interval '1 second' LIMIT 10000))"
     " RETURNING 1) SELECT count(*) FROM gone"},
    {"refdata_select",
     "SELECT 'p', name, value::text, NULL FROM policy_params"
     " UNION ALL SELECT 'l', effective_from::text, (one_year * 10000)::int::text,"
     " (five_year * 10000)::int::text FROM (SELECT * FROM lpr_rates ORDER BY effective_from) r"},
    {NULL, NULL},
};

/* Reads columns status, code, rule, field, message, loan from @a col. */
static void read_outcome(const PGresult *r, int row, int col, struct loan_outcome *o)
{
	db_value_copy(o->status, sizeof o->status, r, row, col);
	db_value_copy(o->code, sizeof o->code, r, row, col + 1);
	db_value_copy(o->rule, sizeof o->rule, r, row, col + 2);
	db_value_copy(o->field, sizeof o->field, r, row, col + 3);
	o->message = db_value_dup(r, row, col + 4);
	o->loan = db_value_dup(r, row, col + 5);
}

_Static_assert(LI__COUNT == 26, "the statement loan_ingest passes 26 item arrays, $5 to $30");

static enum db_rc run_ingest(PGconn *c, const struct ingest_call *call, struct loan_outcomes *out)
{
	const char *params[4 + LI__COUNT] = {call->bank, call->atomic ? "t" : "f",
					     call->dry_run ? "t" : "f",
					     call->return_loans ? "t" : "f"};
	enum db_rc rc;
	PGresult *r;
	int n;

	memcpy(params + 4, call->columns, LI__COUNT * sizeof *params);
	r = db_run(c, "loan_ingest", 4 + LI__COUNT, params, &rc);

	loan_outcomes_free(out);
	if (r == NULL)
		return rc;
	n = PQntuples(r);
	out->items = calloc((size_t)n + 1, sizeof *out->items);
	if (out->items == NULL) {
		PQclear(r);
		return DB_NO_MEMORY;
	}
	for (int i = 0; i < n; i++) {
		struct loan_outcome *o = &out->items[i];

		o->idx = atoi(PQgetvalue(r, i, 0));
		read_outcome(r, i, 1, o);
		db_value_copy(o->created_at, sizeof o->created_at, r, i, 7);
		o->registry_first_loan = strcmp(PQgetvalue(r, i, 8), "t") == 0;
		o->warnings = db_value_dup(r, i, 9);
	}
	out->n = (size_t)n;
	PQclear(r);
	return DB_OK;
}

struct ingest_state {
	const struct ingest_call *call;
	struct loan_outcomes *out;
};

static enum db_rc do_ingest(PGconn *c, void *cls)
{
	struct ingest_state *s = cls;

	return run_ingest(c, s->call, s->out);
}

enum db_rc db_loan_ingest(const struct ingest_call *call, struct loan_outcomes *out)
{
	struct ingest_state s = {call, out};

	memset(out, 0, sizeof *out);
	/* One statement: its own transaction, one round trip. Retrying it after a lost
	 * connection is safe: a loan stored by the lost attempt then answers unchanged. */
	return db_once(do_ingest, &s);
}

static enum db_rc do_rehearse(PGconn *c, void *cls)
{
	enum db_rc rc = do_ingest(c, cls);

	return rc == DB_OK ? DB_ABORT : rc; /* rolled back whatever it did */
}

enum db_rc db_loan_ingest_rehearse(const struct ingest_call *call, struct loan_outcomes *out)
{
	struct ingest_state s = {call, out};
	enum db_rc rc;

	memset(out, 0, sizeof *out);
	rc = db_tx(do_rehearse, &s, false);
	return rc == DB_ABORT ? DB_OK : rc;
}

/* db_loan_ingest for one group of single posts, counted for /metrics. */
static enum db_rc ingest_group(const struct ingest_call *call, struct loan_outcomes *out)
{
	enum db_rc rc = db_loan_ingest(call, out);

	if (rc == DB_OK)
		metrics_group_size((unsigned)out->n);
	return rc;
}

enum db_rc db_loan_ingest_one(const char *bank, const char *loan_ref, const struct loan_item *item,
			      struct loan_outcome *out)
{
	return loan_group_submit(ingest_group, bank, loan_ref, item, out);
}

struct keyed_state {
	const struct ingest_call *call;
	const char *key, *sha;
	ingest_answer_fn answer;
	void *cls;
	bool replayed;
	unsigned status;
	char *body;
};

static enum db_rc replay(PGresult *r, struct keyed_state *s)
{
	if (strcmp(PQgetvalue(r, 0, 0), s->sha) != 0)
		return DB_CONFLICT;
	s->replayed = true;
	s->status = (unsigned)atoi(PQgetvalue(r, 0, 1));
	s->body = db_value_dup(r, 0, 2);
	return DB_OK;
}

static _Atomic unsigned idempotency_ttl = 86400;

void db_idempotency_keep(unsigned seconds)
{
	atomic_store(&idempotency_ttl, seconds);
}

struct purge {
	long long deleted;
	char ttl[24];
};

static enum db_rc do_purge(PGconn *c, void *cls)
{
	struct purge *p = cls;
	const char *params[] = {p->ttl};
	enum db_rc rc;
	PGresult *r = db_run(c, "idempotency_purge_lock", 0, NULL, &rc);

	p->deleted = 0;
	if (r == NULL)
		return rc;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		PQclear(r);
		return DB_OK; /* another instance purges, or this is a standby */
	}
	PQclear(r);
	r = db_run(c, "idempotency_purge", 1, params, &rc);
	if (r == NULL)
		return rc;
	p->deleted = db_value_int(r, 0, 0);
	PQclear(r);
	return DB_OK;
}

enum db_rc db_idempotency_purge(long long *deleted)
{
	struct purge p = {0, ""};
	enum db_rc rc;

	snprintf(p.ttl, sizeof p.ttl, "%u", atomic_load(&idempotency_ttl));
	rc = db_tx(do_purge, &p, false);
	*deleted = p.deleted;
	return rc;
}

static enum db_rc do_keyed(PGconn *c, void *cls)
{
	struct keyed_state *s = cls;
	char ttl[24];
	const char *key[] = {s->call->bank, s->key, ttl};
	struct loan_outcomes outcomes = {NULL, 0};
	char status[8];
	enum db_rc rc;
	PGresult *r;

	snprintf(ttl, sizeof ttl, "%u", atomic_load(&idempotency_ttl));
	free(s->body);
	s->body = NULL;
	s->replayed = false;
	PQclear(db_run(c, "idempotency_lock", 2, key, &rc));
	if (rc != DB_OK)
		return rc;
	r = db_run(c, "idempotency_select", 3, key, &rc);
	if (r == NULL)
		return rc;
	if (PQntuples(r) == 1) {
		rc = replay(r, s);
		PQclear(r);
		return rc;
	}
	PQclear(r);
	rc = run_ingest(c, s->call, &outcomes);
	if (rc != DB_OK)
		goto out;
	s->answer(s->cls, &outcomes, &s->status, &s->body);
	if (s->body == NULL) { /* out of memory: roll back rather than store no answer */
		rc = DB_NO_MEMORY;
		goto out;
	}
	if (!s->call->dry_run || s->call->forced_dry_run) {
		snprintf(status, sizeof status, "%u", s->status);
		const char *ins[] = {s->call->bank, s->key, s->sha, status, s->body};

		PQclear(db_run(c, "idempotency_insert", 5, ins, &rc));
	}
out:
	loan_outcomes_free(&outcomes);
	return rc;
}

enum db_rc db_loan_ingest_keyed(const struct ingest_call *call, const char *key,
				const char *request_sha256, ingest_answer_fn answer, void *cls,
				bool *replayed, unsigned *status, char **body)
{
	struct keyed_state s = {call, key, request_sha256, answer, cls, false, 0, NULL};
	enum db_rc rc = db_tx(do_keyed, &s, false);

	*replayed = s.replayed;
	*status = s.status;
	if (rc == DB_OK) {
		*body = s.body;
	} else {
		free(s.body);
		*body = NULL;
	}
	return rc;
}

/* Reads the outcome row of a correction, void or repayment. */
static void read_single(void *cls, const PGresult *r, int row)
{
	struct loan_outcome *o = cls;

	loan_outcome_clear(o);
	read_outcome(r, row, 0, o);
	if (PQnfields(r) > 6) /* loan_repay */
		o->repayment = db_value_dup(r, row, 6);
}

static enum db_rc run_single(const char *stmt, int n, const char *const *params,
			     struct loan_outcome *out)
{
	memset(out, 0, sizeof *out);
	return db_write_row(stmt, n, params, read_single, out);
}

enum db_rc db_loan_correct(const char *bank, const char *ref, int version, const char *item,
			   struct loan_outcome *out)
{
	char v[16];
	const char *params[] = {bank, ref, v, item};

	snprintf(v, sizeof v, "%d", version);
	return run_single("loan_correct", 4, params, out);
}

enum db_rc db_loan_void(const char *bank, const char *ref, const char *reason,
			struct loan_outcome *out)
{
	const char *params[] = {bank, ref, reason};

	return run_single("loan_void", 3, params, out);
}

enum db_rc db_loan_repay(const char *bank, const char *ref, const char *repayment_ref,
			 const char *date, int64_t amount_fen, struct loan_outcome *out)
{
	char amount[24];
	const char *params[] = {bank, ref, repayment_ref, date, amount};

	snprintf(amount, sizeof amount, "%lld", (long long)amount_fen);
	return run_single("loan_repay", 5, params, out);
}

enum db_rc db_loan_get(const char *bank, const char *ref, char **json)
{
	const char *params[] = {bank, ref};

	return db_json_one("loan_select_json", 2, params, json);
}

enum db_rc db_loan_history(const char *bank, const char *ref, char **json)
{
	const char *params[] = {bank, ref};

	return db_json_one("loan_history", 2, params, json);
}

enum db_rc db_loan_list(const struct loan_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->bank, f->borrower, f->issued_from, f->issued_to, f->status};

	return db_json_page("loan_list", 5, filters, f->after_id, f->limit, fn, cls);
}

enum db_rc db_warning_list(const struct warning_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->bank, f->rule, f->from, f->to};

	return db_json_page("warning_list", 4, filters, f->after_id, f->limit, fn, cls);
}

/* The reference-data cache: one copy per process, guarded by a mutex, refreshed when
 * older than REFDATA_TTL_SECONDS. */
static pthread_mutex_t refdata_lock = PTHREAD_MUTEX_INITIALIZER;
static struct refdata refdata_cache;
static uint64_t refdata_loaded_us;

static bool read_policy(struct loan_policy *p, const char *name, const char *value)
{
	long long v = strtoll(value, NULL, 10);

	if (strcmp(name, "inclusive_credit_line_max") == 0)
		p->inclusive_credit_line_max = v;
	else if (strcmp(name, "relief_amount_max") == 0)
		p->relief_amount_max = v;
	else if (strcmp(name, "relief_term_months_max") == 0)
		p->relief_term_months_max = (int)v;
	return true;
}

static enum db_rc do_refdata(PGconn *c, void *cls)
{
	struct refdata *d = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "refdata_select", 0, NULL, &rc);

	if (r == NULL)
		return rc;
	memset(d, 0, sizeof *d);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *kind = PQgetvalue(r, i, 0);

		if (kind[0] == 'p') {
			read_policy(&d->policy, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
		} else if (d->n_lpr < REFDATA_MAX_LPR &&
			   date_parse(PQgetvalue(r, i, 1), &d->lpr[d->n_lpr].from)) {
			d->lpr[d->n_lpr].one_year = atoi(PQgetvalue(r, i, 2));
			d->lpr[d->n_lpr].five_year = atoi(PQgetvalue(r, i, 3));
			d->n_lpr++;
		}
	}
	PQclear(r);
	return DB_OK;
}

enum db_rc db_refdata(struct refdata *out)
{
	uint64_t now = log_monotonic_us();
	enum db_rc rc = DB_OK;

	pthread_mutex_lock(&refdata_lock);
	if (refdata_loaded_us == 0 ||
	    now - refdata_loaded_us > (uint64_t)REFDATA_TTL_SECONDS * 1000000u) {
		struct refdata fresh;

		rc = db_once(do_refdata, &fresh);
		if (rc == DB_OK) {
			refdata_cache = fresh;
			refdata_loaded_us = now;
		}
	}
	if (rc == DB_OK)
		*out = refdata_cache;
	pthread_mutex_unlock(&refdata_lock);
	return rc;
}

void db_refdata_invalidate(void)
{
	pthread_mutex_lock(&refdata_lock);
	refdata_loaded_us = 0;
	pthread_mutex_unlock(&refdata_lock);
}
