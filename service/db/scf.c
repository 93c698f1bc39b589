/* Statements and functions of db/scf.h. The membership checks and all the writes are SQL
 * functions in sql/scf.sql; this file binds and reads them. */
#include "db/scf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "log.h"

const struct db_stmt db_stmts_scf[] = {
    {"scf_program_create", "SELECT status, code, field, message, program::text"
			   " FROM scf_program_create($1, $2, $3::jsonb, $4, $5::bigint, $6::date)"},
    {"scf_member_add", "SELECT status, code, field, message, member::text"
		       " FROM scf_member_add($1, $2::bigint, $3::jsonb, $4, $5::date, $6::date)"},
    {"scf_member_leave", "SELECT status, code, field, message, member::text"
			 " FROM scf_member_leave($1, $2::bigint, $3, $4::date, $5::date, $6)"},
    {"scf_program_detail", "SELECT scf_program_detail($1::bigint, $2)::text"},
    {"scf_program_list",
     "SELECT p.id, scf_program_to_json(p)::text FROM scf_programs p"
     " WHERE ($1::text IS NULL OR p.bank_code = $1) AND ($2::text IS NULL OR p.core_uscc = $2)"
     " AND p.id > $3::bigint ORDER BY p.id LIMIT $4::int"},
    {"scf_rewards",
     "SELECT 'p', name, NULL, value, NULL::bigint FROM policy_params"
     " WHERE name IN ('scf_reward_rate_bp', 'scf_reward_min_members', 'scf_reward_cap')"
     " UNION ALL SELECT 'r', core_uscc, core_name, financing, members_financed"
     " FROM scf_reward_figures($1::int)"},
    {NULL, NULL},
};

enum db_rc db_scf_program_create(const struct scf_program_input *in, struct db_outcome *out)
{
	char limit[24];
	const char *params[] = {in->bank, in->name, in->core, in->product, limit, in->started_on};

	snprintf(limit, sizeof limit, "%lld", (long long)in->credit_limit);
	return db_write_outcome("scf_program_create", 6, params, out);
}

enum db_rc db_scf_member_add(const char *bank, int64_t program, const char *firm, const char *side,
			     const char *joined_on, const char *today, struct db_outcome *out)
{
	char id[24];
	const char *params[] = {bank, id, firm, side, joined_on, today};

	snprintf(id, sizeof id, "%lld", (long long)program);
	return db_write_outcome("scf_member_add", 6, params, out);
}

enum db_rc db_scf_member_leave(const char *bank, int64_t program, const char *uscc,
			       const char *left_on, const char *today, const char *reason,
			       struct db_outcome *out)
{
	char id[24];
	const char *params[] = {bank, id, uscc, left_on, today, reason};

	snprintf(id, sizeof id, "%lld", (long long)program);
	return db_write_outcome("scf_member_leave", 6, params, out);
}

enum db_rc db_scf_program_get(const char *bank, int64_t id, char **json)
{
	char idtext[24];
	const char *params[] = {idtext, bank};

	snprintf(idtext, sizeof idtext, "%lld", (long long)id);
	return db_json_one("scf_program_detail", 2, params, json);
}

enum db_rc db_scf_program_list(const struct scf_program_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->bank, f->core};

	return db_json_page("scf_program_list", 2, filters, f->after_id, f->limit, fn, cls);
}

struct rewards_state {
	const char *const *params;
	struct scf_reward_rule *rule;
	scf_reward_row_fn fn;
	void *cls;
};

/* Sets the rule parameter @a name; false when it is not one. */
static bool read_param(struct scf_reward_rule *rule, const char *name, int64_t value)
{
	if (strcmp(name, "scf_reward_rate_bp") == 0)
		rule->rate_bp = value;
	else if (strcmp(name, "scf_reward_min_members") == 0)
		rule->min_members = value;
	else if (strcmp(name, "scf_reward_cap") == 0)
		rule->cap = value;
	else
		return false;
	return true;
}

static enum db_rc do_rewards(PGconn *c, void *cls)
{
	struct rewards_state *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "scf_rewards", 1, s->params, &rc);
	int params = 0;

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		if (PQgetvalue(r, i, 0)[0] == 'p')
			params += read_param(s->rule, PQgetvalue(r, i, 1),
					     strtoll(PQgetvalue(r, i, 3), NULL, 10));
	if (params != 3) {
		LOG_BUG("policy_params lacks scf_reward_* rows (found %d of 3)", params);
		PQclear(r);
		return DB_ERROR;
	}
	for (int i = 0; i < PQntuples(r); i++)
		if (PQgetvalue(r, i, 0)[0] == 'r')
			s->fn(s->cls, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			      strtoll(PQgetvalue(r, i, 3), NULL, 10),
			      strtoll(PQgetvalue(r, i, 4), NULL, 10));
	PQclear(r);
	return DB_OK;
}

enum db_rc db_scf_rewards(int year, struct scf_reward_rule *rule, scf_reward_row_fn fn, void *cls)
{
	char y[12];
	const char *params[] = {y};
	struct rewards_state s = {params, rule, fn, cls};

	memset(rule, 0, sizeof *rule);
	snprintf(y, sizeof y, "%d", year);
	return db_once(do_rewards, &s);
}
