/* Statements and functions of db/referrals.h. Writes are the SQL functions of migration
 * 006 (referral_create, referral_move); the export statements run on a stream's own
 * connection (db/stream.h), by name from this table. */
#include "db/referrals.h"

#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"

/* The filters shared by the list and the exports: $1 bank, $2 status, $3 county, $4 uscc. */
#define REFERRAL_WHERE                                                                             \
	" WHERE ($1::text IS NULL OR r.bank_code = $1) AND ($2::text IS NULL OR r.status = $2)"    \
	" AND ($3::text IS NULL OR r.county_code = $3) AND ($4::text IS NULL OR r.uscc = $4)"

const struct db_stmt db_stmts_referrals[] = {
    {"referral_create", "SELECT status, code, field, message, referral::text"
			" FROM referral_create($1, $2::jsonb)"},
    {"referral_move", "SELECT status, code, field, message, referral::text"
		      " FROM referral_move($1, $2, $3, $4, $5, $6::bigint)"},
    {"referral_select_json", "SELECT referral_with_history(r)::text FROM referrals r"
			     " WHERE r.ref = $1 AND ($2::text IS NULL OR r.bank_code = $2)"},
    {"referral_list", "SELECT id, item FROM referral_list_page($1, $2, $3, $4, $5::bigint,"
		      " $6::int)"},
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

enum db_rc db_referral_create(const char *actor, const char *item, struct db_outcome *out)
{
	const char *params[] = {actor, item};

	return db_write_outcome("referral_create", 2, params, out);
}

enum db_rc db_referral_move(const char *bank, const char *ref, const struct referral_move *m,
			    struct db_outcome *out)
{
	char fen[24];
	const char *params[] = {
	    bank, ref, m->status, m->decline_reason, m->loan_ref, m->funded_fen > 0 ? fen : NULL};

	snprintf(fen, sizeof fen, "%lld", (long long)m->funded_fen);
	return db_write_outcome("referral_move", 6, params, out);
}

enum db_rc db_referral_get(const char *bank, const char *ref, char **json)
{
	const char *params[] = {ref, bank};

	return db_json_one("referral_select_json", 2, params, json);
}

enum db_rc db_referral_list(const struct referral_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->bank, f->status, f->county, f->uscc};

	return db_json_page("referral_list", 4, filters, f->after_id, f->limit, fn, cls);
}

struct db_stream *db_referral_export_open(const struct referral_filter *f, bool json,
					  enum db_rc *rc)
{
	const char *params[] = {f->bank, f->status, f->county, f->uscc};

	return db_stream_open(json ? "referral_export_json" : "referral_export_csv", 4, params, rc);
}

struct stats_call {
	referral_stats_row_fn fn;
	void *cls;
	struct referral_figures *total;
	int64_t *target;
};

static void stats_row(void *cls, const PGresult *r, int i)
{
	struct stats_call *s = cls;
	struct referral_figures f = {db_value_int(r, i, 1), db_value_int(r, i, 2),
				     db_value_int(r, i, 3), db_value_int(r, i, 4),
				     db_value_int(r, i, 5), db_value_int(r, i, 6)};

	if (!PQgetisnull(r, i, 7))
		*s->target = db_value_int(r, i, 7);
	if (PQgetisnull(r, i, 0))
		*s->total = f;
	else
		s->fn(s->cls, PQgetvalue(r, i, 0), &f);
}

enum db_rc db_referral_stats(const char *as_of, const char *bank, int year,
			     referral_stats_row_fn fn, void *cls, struct referral_figures *total,
			     int64_t *target)
{
	char y[12];
	const char *params[] = {as_of, bank, y};
	struct stats_call s = {fn, cls, total, target};

	snprintf(y, sizeof y, "%d", year);
	memset(total, 0, sizeof *total);
	*target = -1;
	return db_rows("referral_stats", 3, params, stats_row, &s);
}
