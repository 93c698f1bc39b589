/* Statements and functions of db/referrals.h. Writes are the SQL functions of migration
 * 006 (referral_create, referral_move); the export statements run on a stream's own
 * connection (db/stream.h), by name from this table. */
#include "db/referrals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "log.h"

/* The filters shared by the list and the exports: $1 bank, $2 status, $3 county, $4 uscc. */
#define REFERRAL_WHERE                                                                     \
	" WHERE ($1::text IS NULL OR r.bank_code = $1) AND ($2::text IS NULL OR r.status = $2)" \
	" AND ($3::text IS NULL OR r.county_code = $3) AND ($4::text IS NULL OR r.uscc = $4)"

const struct db_stmt db_stmts_referrals[] = {
	{"referral_create", "SELECT status, code, field, message, referral::text"
			    " FROM referral_create($1, $2::jsonb)"},
	{"referral_move", "SELECT status, code, field, message, referral::text"
			  " FROM referral_move($1, $2, $3, $4, $5, $6::bigint)"},
	{"referral_select_json", "SELECT referral_with_history(r)::text FROM referrals r"
				 " WHERE r.ref = $1 AND ($2::text IS NULL OR r.bank_code = $2)"},
	{"referral_list", "SELECT r.id, referral_to_json(r)::text FROM referrals r" REFERRAL_WHERE
			  " AND r.id > $5::bigint ORDER BY r.id LIMIT $6::int"},
	{"referral_export_csv",
	 "SELECT r.ref, r.uscc, r.name, r.county_code, r.industry_code, r.size, r.bank_code,"
	 " fen_text(r.requested_fen), r.reason, r.referred_on::text, r.status, r.decline_reason,"
	 " r.loan_ref, fen_text(r.funded_fen), ts_text(r.created_at), ts_text(r.updated_at)"
	 " FROM referrals r" REFERRAL_WHERE " ORDER BY r.id"},
	{"referral_export_json",
	 "SELECT referral_to_json(r)::text FROM referrals r" REFERRAL_WHERE " ORDER BY r.id"},
	{"referral_stats",
	 "SELECT bank_code, referred, accepted, declined, funded, funded_fen, referred_firms,"
	 " (SELECT t.target FROM targets t WHERE t.year = $3::int"
	 " AND t.metric = 'relief_referrals')::bigint"
	 " FROM stats_referrals($1::date, $2)"},
	{NULL, NULL},
};

static char *dup_or_null(const PGresult *r, int row, int col)
{
	char *s;

	if (PQgetisnull(r, row, col))
		return NULL;
	s = strdup(PQgetvalue(r, row, col));
	if (s == NULL)
		abort();
	return s;
}

static void copy_text(char *dst, size_t len, const PGresult *r, int row, int col)
{
	snprintf(dst, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

void referral_outcome_clear(struct referral_outcome *o)
{
	free(o->message);
	free(o->referral);
	memset(o, 0, sizeof *o);
}

struct outcome_call {
	const char *stmt;
	int n;
	const char *const *params;
	struct referral_outcome *out;
};

static enum db_rc do_outcome(PGconn *c, void *cls)
{
	struct outcome_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	referral_outcome_clear(s->out);
	if (r == NULL)
		return rc;
	if (PQntuples(r) != 1) {
		LOG_BUG("%s returned %d rows", s->stmt, PQntuples(r));
		PQclear(r);
		return DB_ERROR;
	}
	copy_text(s->out->status, sizeof s->out->status, r, 0, 0);
	copy_text(s->out->code, sizeof s->out->code, r, 0, 1);
	copy_text(s->out->field, sizeof s->out->field, r, 0, 2);
	s->out->message = dup_or_null(r, 0, 3);
	s->out->referral = dup_or_null(r, 0, 4);
	PQclear(r);
	return DB_OK;
}

static enum db_rc run_outcome(const char *stmt, int n, const char *const *params,
			      struct referral_outcome *out)
{
	struct outcome_call s = {stmt, n, params, out};

	memset(out, 0, sizeof *out);
	return db_tx(do_outcome, &s, false);
}

enum db_rc db_referral_create(const char *actor, const char *item, struct referral_outcome *out)
{
	const char *params[] = {actor, item};

	return run_outcome("referral_create", 2, params, out);
}

enum db_rc db_referral_move(const char *bank, const char *ref, const struct referral_move *m,
			    struct referral_outcome *out)
{
	char fen[24];
	const char *params[] = {bank, ref, m->status, m->decline_reason, m->loan_ref,
				m->funded_fen > 0 ? fen : NULL};

	snprintf(fen, sizeof fen, "%lld", (long long)m->funded_fen);
	return run_outcome("referral_move", 6, params, out);
}

struct text_call {
	const char *const *params;
	char *json;
};

static enum db_rc do_get(PGconn *c, void *cls)
{
	struct text_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "referral_select_json", 2, s->params, &rc);

	if (r == NULL)
		return rc;
	free(s->json);
	s->json = PQntuples(r) == 1 ? dup_or_null(r, 0, 0) : NULL;
	PQclear(r);
	return s->json != NULL ? DB_OK : DB_NOT_FOUND;
}

enum db_rc db_referral_get(const char *bank, const char *ref, char **json)
{
	const char *params[] = {ref, bank};
	struct text_call s = {params, NULL};
	enum db_rc rc = db_once(do_get, &s);

	*json = s.json;
	return rc;
}

struct list_call {
	const char *const *params;
	json_row_fn fn;
	void *cls;
};

static enum db_rc do_list(PGconn *c, void *cls)
{
	struct list_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "referral_list", 6, s->params, &rc);

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		s->fn(s->cls, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1));
	PQclear(r);
	return DB_OK;
}

enum db_rc db_referral_list(const struct referral_filter *f, json_row_fn fn, void *cls)
{
	char after[24], limit[16];
	const char *params[] = {f->bank, f->status, f->county, f->uscc, after, limit};
	struct list_call s = {params, fn, cls};

	snprintf(after, sizeof after, "%lld", (long long)f->after_id);
	snprintf(limit, sizeof limit, "%d", f->limit);
	return db_once(do_list, &s);
}

struct db_stream *db_referral_export_open(const struct referral_filter *f, bool json,
					  enum db_rc *rc)
{
	const char *params[] = {f->bank, f->status, f->county, f->uscc};

	return db_stream_open(json ? "referral_export_json" : "referral_export_csv", 4, params,
			      rc);
}

struct stats_call {
	const char *const *params;
	referral_stats_row_fn fn;
	void *cls;
	struct referral_figures *total;
	int64_t *target;
};

static int64_t int_at(const PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? 0 : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

static enum db_rc do_stats(PGconn *c, void *cls)
{
	struct stats_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "referral_stats", 3, s->params, &rc);

	if (r == NULL)
		return rc;
	memset(s->total, 0, sizeof *s->total);
	*s->target = -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct referral_figures f = {int_at(r, i, 1), int_at(r, i, 2), int_at(r, i, 3),
					     int_at(r, i, 4), int_at(r, i, 5), int_at(r, i, 6)};

		if (!PQgetisnull(r, i, 7))
			*s->target = int_at(r, i, 7);
		if (PQgetisnull(r, i, 0))
			*s->total = f;
		else
			s->fn(s->cls, PQgetvalue(r, i, 0), &f);
	}
	PQclear(r);
	return DB_OK;
}

enum db_rc db_referral_stats(const char *as_of, const char *bank, int year,
			     referral_stats_row_fn fn, void *cls, struct referral_figures *total,
			     int64_t *target)
{
	char y[12];
	const char *params[] = {as_of, bank, y};
	struct stats_call s = {params, fn, cls, total, target};

	snprintf(y, sizeof y, "%d", year);
	return db_once(do_stats, &s);
}
