/* Statements and functions of db/firms.h. */
#include "db/firms.h"

#include <inttypes.h>
#include <stdio.h>

#include "db/db_internal.h"

const struct db_stmt db_stmts_firms[] = {
    {"firm_get", "SELECT firm_to_json($1, $2, $3::date)::text"},
    {"firm_history", "SELECT firm_history_page($1, $2::bigint, $3::bigint, $4::int)::text"},
    {"firm_list", "SELECT id, item::text FROM firm_list($1, $2, $3, $4, $5::bigint, $6::int)"},
    {NULL, NULL},
};

enum db_rc db_firm_get(const char *uscc, const char *bank, const char *today, char **json)
{
	const char *params[] = {uscc, bank, today};

	return db_json_one("firm_get", 3, params, json);
}

enum db_rc db_firm_history(const char *uscc, const struct firm_history_page *page, char **json)
{
	char us[24], k[24], limit[16];
	const char *params[] = {uscc, page->after ? us : NULL, page->after ? k : NULL, limit};

	snprintf(us, sizeof us, "%" PRId64, page->after_us);
	snprintf(k, sizeof k, "%" PRId64, page->after_k);
	snprintf(limit, sizeof limit, "%d", page->limit);
	return db_json_one("firm_history", 4, params, json);
}

enum db_rc db_firm_list(const struct firm_filter *f, json_row_fn fn, void *cls)
{
	const char *filters[] = {f->q, f->county, f->industry, f->size};

	return db_json_page("firm_list", 4, filters, f->after_id, f->limit, fn, cls);
}
