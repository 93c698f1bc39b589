/* Statements and functions of db/whitelist.h. */
#include "db/whitelist.h"

#include <stdio.h>

#include "db/db_internal.h"
#include "db/stream.h"

const struct db_stmt db_stmts_whitelist[] = {
    {"whitelist_add", "SELECT status, code, field, message, body::text"
		      " FROM whitelist_add($1, $2, $3, $4::date, $5::date, $6, $7::date)"},
    {"whitelist_remove", "SELECT status, code, field, message, body::text"
			 " FROM whitelist_remove($1, $2, $3, $4::date)"},
    {"whitelist_check", "SELECT whitelist_check($1, $2::date, $3)::text"},
    {"whitelist_history", "SELECT whitelist_history($1, $2::date, $3)::text"},
    {"whitelist_list",
     "SELECT e.id, whitelist_entry_to_json(e, $1::date, $4)::text FROM whitelist_entries e"
     " WHERE ($2::boolean IS NULL OR (whitelist_status(e, $1::date) = 'active') = $2::boolean)"
     " AND ($3::text IS NULL OR whitelist_county(e.uscc, $4) = $3)"
     " AND e.id > $5::bigint ORDER BY e.id LIMIT $6::int"},
    {"whitelist_export_csv",
     "SELECT * FROM whitelist_export_rows($1::date, $2::boolean, $3::text, $4::text)"},
    {NULL, NULL},
};

enum db_rc db_whitelist_add(const struct wl_entry_input *in, const char *actor, const char *today,
			    struct db_outcome *out)
{
	const char *params[] = {in->uscc,     in->name, in->reason, in->valid_from,
				in->valid_to, actor,    today};

	return db_write_outcome("whitelist_add", 7, params, out);
}

enum db_rc db_whitelist_remove(const char *uscc, const char *reason, const char *actor,
			       const char *today, struct db_outcome *out)
{
	const char *params[] = {uscc, reason, actor, today};

	return db_write_outcome("whitelist_remove", 4, params, out);
}

enum db_rc db_whitelist_check(const char *uscc, const char *day, const char *viewer, char **json)
{
	const char *params[] = {uscc, day, viewer};

	return db_json_one("whitelist_check", 3, params, json);
}

enum db_rc db_whitelist_history(const char *uscc, const char *today, const char *viewer,
				char **json)
{
	const char *params[] = {uscc, today, viewer};

	return db_json_one("whitelist_history", 3, params, json);
}

enum db_rc db_whitelist_list(const struct wl_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->day, f->active, f->county, f->viewer};

	return db_json_page("whitelist_list", 4, filters, f->after_id, f->limit, fn, cls);
}

struct db_stream *db_whitelist_export_open(const struct wl_filter *f, enum db_rc *rc)
{
	const char *params[] = {f->day, f->active, f->county, f->viewer};

	return db_stream_open("whitelist_export_csv", 4, params, rc);
}
