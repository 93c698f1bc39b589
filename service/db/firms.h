/* Firms across banks in storage (sql/firms.sql): one firm with its relationships as the
 * caller may see them, its reference-data history and the search list. JSON comes back
 * as text; a NULL bank means the regulator (every bank). */
#ifndef FINREG_DB_FIRMS_H
#define FINREG_DB_FIRMS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/** Firm @a uscc as GET /v1/firms/{uscc} answers on @a today, as malloc'd JSON text;
 *  DB_NOT_FOUND when unknown or when @a bank (if not NULL) never lent to it. */
enum db_rc db_firm_get(const char *uscc, const char *bank, const char *today, char **json);

/** Which page of a firm's history: at most @a limit versions after the one at position
 *  (@a after_us, @a after_k) when @a after (firm_history_page). */
struct firm_history_page {
	bool after;
	int64_t after_us, after_k;
	int limit;
};

/** {"uscc", "items": [...], "next_cursor"} of firm @a uscc, the page @a page says,
 *  malloc'd; DB_NOT_FOUND when unknown. */
enum db_rc db_firm_history(const char *uscc, const struct firm_history_page *page, char **json);

/** Filters of the search list; NULL members are not applied. */
struct firm_filter {
	const char *q, *county, *industry, *size;
	int64_t after_id;
	int limit;
};

/** Lists firms, calling @a fn with each one's id and JSON text. */
enum db_rc db_firm_list(const struct firm_filter *f, json_row_fn fn, void *cls);

#endif
