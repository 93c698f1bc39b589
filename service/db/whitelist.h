/* The guarantee green channel (whitelist) in storage: adding and removing entries, the
 * check of one firm, its history and the filtered list. The rules that need stored rows
 * (no overlapping entries, what removal touches) are SQL functions in sql/guarantees.sql; this
 * binds them. Dates travel as "YYYY-MM-DD", entries as JSON text. */
#ifndef FINREG_DB_WHITELIST_H
#define FINREG_DB_WHITELIST_H

#include <stdint.h>

#include "db/db.h"
#include "db/stream.h"

/* Writes fill a struct db_outcome (db/db.h): created or removed with the answer as body,
 * or rejected with code "conflict" or "not_found". */

/** A validated entry to add; valid_to NULL means open-ended. */
struct wl_entry_input {
	const char *uscc, *name, *reason, *valid_from, *valid_to;
};

/** Lists a firm (conflict when an open entry's window overlaps); @a today dates the
 *  status of the entry returned. */
enum db_rc db_whitelist_add(const struct wl_entry_input *in, const char *actor, const char *today,
			    struct db_outcome *out);

/** Removes firm @a uscc (every entry not removed whose window has not ended by @a today). */
enum db_rc db_whitelist_remove(const char *uscc, const char *reason, const char *actor,
			       const char *today, struct db_outcome *out);

/** {"uscc", "as_of", "listed", "entry"} of firm @a uscc on @a day as malloc'd JSON text;
 *  an unknown firm is listed false. As @a viewer sees it (here and below): NULL is the
 *  regulator; a caller's code gets the registry's data of the firm (`firm`, the registry's
 *  county) only when it is a bank with a loan to the firm that is not void. */
enum db_rc db_whitelist_check(const char *uscc, const char *day, const char *viewer, char **json);

/** Every entry and event of firm @a uscc as malloc'd JSON text; DB_NOT_FOUND when the firm
 *  was never listed. */
enum db_rc db_whitelist_history(const char *uscc, const char *today, const char *viewer,
				char **json);

/** Filters of the list; NULL members are not applied. */
struct wl_filter {
	const char *day;    /* the day statuses are judged on (required) */
	const char *active; /* "true": in force on day; "false": not in force; NULL: all */
	const char *county;
	const char *viewer; /* NULL: the regulator; else the caller's code (whitelist_viewer) */
	int64_t after_id;
	int limit;
};

/** Lists entries, calling @a fn with each one's id and JSON text. */
enum db_rc db_whitelist_list(const struct wl_filter *f, json_row_fn fn, void *cls);

/** Every entry @a f keeps (its after_id and limit unused), oldest first, streamed on a
 *  connection of its own: a row of WL_EXPORT_COLUMNS text cells each, the CSV export's
 *  columns (handlers/whitelist.c). NULL with *rc set when it cannot be started. */
struct db_stream *db_whitelist_export_open(const struct wl_filter *f, enum db_rc *rc);

#define WL_EXPORT_COLUMNS 16

#endif
