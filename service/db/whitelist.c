/* Statements and functions of db/whitelist.h. */
#include "db/whitelist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "log.h"

const struct db_stmt db_stmts_whitelist[] = {
	{"whitelist_add", "SELECT status, code, field, message, body::text"
			  " FROM whitelist_add($1, $2, $3, $4::date, $5::date, $6, $7::date)"},
	{"whitelist_remove", "SELECT status, code, field, message, body::text"
			     " FROM whitelist_remove($1, $2, $3, $4::date)"},
	{"whitelist_check", "SELECT whitelist_check($1, $2::date)::text"},
	{"whitelist_history", "SELECT whitelist_history($1, $2::date)::text"},
	{"whitelist_list",
	 "SELECT e.id, whitelist_entry_to_json(e, $1::date)::text FROM whitelist_entries e"
	 " WHERE ($2::boolean IS NULL OR (whitelist_status(e, $1::date) = 'active') = $2::boolean)"
	 " AND ($3::text IS NULL OR whitelist_county(e.uscc) = $3)"
	 " AND e.id > $4::bigint ORDER BY e.id LIMIT $5::int"},
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

void wl_outcome_clear(struct wl_outcome *o)
{
	free(o->message);
	free(o->body);
	memset(o, 0, sizeof *o);
}

struct write_state {
	const char *stmt;
	int n;
	const char *const *params;
	struct wl_outcome *out;
};

static enum db_rc do_write(PGconn *c, void *cls)
{
	struct write_state *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	wl_outcome_clear(s->out);
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
	s->out->body = dup_or_null(r, 0, 4);
	PQclear(r);
	return DB_OK;
}

static enum db_rc run_write(const char *stmt, int n, const char *const *params,
			    struct wl_outcome *out)
{
	struct write_state s = {stmt, n, params, out};

	memset(out, 0, sizeof *out);
	return db_tx(do_write, &s, false);
}

enum db_rc db_whitelist_add(const struct wl_entry_input *in, const char *actor, const char *today,
			    struct wl_outcome *out)
{
	const char *params[] = {in->uscc,     in->name, in->reason, in->valid_from,
				in->valid_to, actor,    today};

	return run_write("whitelist_add", 7, params, out);
}

enum db_rc db_whitelist_remove(const char *uscc, const char *reason, const char *actor,
			       const char *today, struct wl_outcome *out)
{
	const char *params[] = {uscc, reason, actor, today};

	return run_write("whitelist_remove", 4, params, out);
}

struct text_state {
	const char *stmt;
	const char *const *params;
	int n;
	char *json;
};

static enum db_rc do_text(PGconn *c, void *cls)
{
	struct text_state *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	if (r == NULL)
		return rc;
	free(s->json);
	s->json = NULL;
	if (PQntuples(r) == 1)
		s->json = dup_or_null(r, 0, 0);
	PQclear(r);
	return s->json != NULL ? DB_OK : DB_NOT_FOUND;
}

static enum db_rc run_text(const char *stmt, int n, const char *const *params, char **json)
{
	struct text_state s = {stmt, params, n, NULL};
	enum db_rc rc = db_once(do_text, &s);

	*json = s.json;
	return rc;
}

enum db_rc db_whitelist_check(const char *uscc, const char *day, char **json)
{
	const char *params[] = {uscc, day};

	return run_text("whitelist_check", 2, params, json);
}

enum db_rc db_whitelist_history(const char *uscc, const char *today, char **json)
{
	const char *params[] = {uscc, today};

	return run_text("whitelist_history", 2, params, json);
}

struct list_state {
	const char *const *params;
	wl_row_fn fn;
	void *cls;
};

static enum db_rc do_list(PGconn *c, void *cls)
{
	struct list_state *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, "whitelist_list", 5, s->params, &rc);

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		s->fn(s->cls, strtoll(PQgetvalue(r, i, 0), NULL, 10), PQgetvalue(r, i, 1));
	PQclear(r);
	return DB_OK;
}

enum db_rc db_whitelist_list(const struct wl_filter *f, wl_row_fn fn, void *cls)
{
	char after[24], limit[16];
	const char *params[] = {f->day, f->active, f->county, after, limit};
	struct list_state s = {params, fn, cls};

	snprintf(after, sizeof after, "%lld", (long long)f->after_id);
	snprintf(limit, sizeof limit, "%d", f->limit);
	return db_once(do_list, &s);
}
