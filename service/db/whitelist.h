/* The guarantee green channel (whitelist) in storage: adding and removing entries, the
 * check of one firm, its history and the filtered list. The rules that need stored rows
 * (no overlapping entries, what removal touches) are SQL functions in migration 005; this
 * binds them. Dates travel as "YYYY-MM-DD", entries as JSON text. */
#ifndef FINREG_DB_WHITELIST_H
#define FINREG_DB_WHITELIST_H

#include <stdint.h>

#include "db/db.h"

/** What the database said about one whitelist write. message and body are owned by the
 *  outcome; wl_outcome_clear() frees them. */
struct wl_outcome {
	char status[16]; /* created | removed | rejected */
	char code[24];   /* when rejected: "conflict" or "not_found" */
	char field[32];  /* field the rejection names, or "" */
	char *message;   /* NULL when none */
	char *body;      /* the answer as JSON text when not rejected */
};

void wl_outcome_clear(struct wl_outcome *o);

/** A validated entry to add; valid_to NULL means open-ended. */
struct wl_entry_input {
	const char *uscc, *name, *reason, *valid_from, *valid_to;
};

/** Lists a firm (conflict when an open entry's window overlaps); @a today dates the
 *  status of the entry returned. */
enum db_rc db_whitelist_add(const struct wl_entry_input *in, const char *actor, const char *today,
			    struct wl_outcome *out);

/** Removes firm @a uscc (every entry not removed whose window has not ended by @a today). */
enum db_rc db_whitelist_remove(const char *uscc, const char *reason, const char *actor,
			       const char *today, struct wl_outcome *out);

/** {"uscc", "as_of", "listed", "entry"} of firm @a uscc on @a day as malloc'd JSON text;
 *  an unknown firm is listed false. */
enum db_rc db_whitelist_check(const char *uscc, const char *day, char **json);

/** Every entry and event of firm @a uscc as malloc'd JSON text; DB_NOT_FOUND when the firm
 *  was never listed. */
enum db_rc db_whitelist_history(const char *uscc, const char *today, char **json);

/** Filters of the list; NULL members are not applied. */
struct wl_filter {
	const char *day;    /* the day statuses are judged on (required) */
	const char *active; /* "true": in force on day; "false": not in force; NULL: all */
	const char *county;
	int64_t after_id;
	int limit;
};

/** Called per listed entry with its id and JSON text (valid during the call). */
typedef void (*wl_row_fn)(void *cls, int64_t id, const char *json);

enum db_rc db_whitelist_list(const struct wl_filter *f, wl_row_fn fn, void *cls);

#endif
