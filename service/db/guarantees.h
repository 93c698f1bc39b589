/* Guarantors, their guarantees and the leverage figure in storage: the regulator's
 * versions of a guarantor's net assets, guarantees posted and released by guarantors,
 * reads and lists, and the per-guarantor figures of the leverage statistics. The checks
 * against stored loans are SQL functions in sql/guarantees.sql; this binds them. Money travels
 * as fen, dates as "YYYY-MM-DD", records as JSON text. */
#ifndef FINREG_DB_GUARANTEES_H
#define FINREG_DB_GUARANTEES_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/* Writes fill a struct db_outcome (db/db.h): created, updated, unchanged or released with
 * the stored record as body, or rejected with code "conflict", "not_found" or
 * "invalid_field". */

/** Records guarantor @a code's name and net assets as of @a as_of as a new version
 *  (unchanged when equal to the latest); not_found when @a code is no guarantor. */
enum db_rc db_guarantor_put(const char *code, const char *name, int64_t net_assets_fen,
			    const char *as_of, const char *actor, struct db_outcome *out);

/** The guarantor with every version as malloc'd JSON text; DB_NOT_FOUND when none. */
enum db_rc db_guarantor_get(const char *code, char **json);

/** A validated guarantee; @a content is its canonical JSON text (what a retry must
 *  repeat exactly). */
struct guarantee_input {
	const char *guarantee_ref, *bank_code, *loan_ref, *borrower_uscc;
	int64_t amount_fen;
	const char *start_date, *end_date;
	const char *content;
};

/** Stores guarantee @a in of @a guarantor: created, unchanged (same content) or rejected
 *  (conflict, or invalid_field naming why the loan does not fit). */
enum db_rc db_guarantee_post(const char *guarantor, const struct guarantee_input *in,
			     const char *today, struct db_outcome *out);

/** Releases guarantee @a ref of @a guarantor on @a date. */
enum db_rc db_guarantee_release(const char *guarantor, const char *ref, const char *date,
				const char *today, struct db_outcome *out);

/** Guarantee @a ref of @a guarantor as malloc'd JSON text; DB_NOT_FOUND when absent. */
enum db_rc db_guarantee_get(const char *guarantor, const char *ref, const char *today, char **json);

/** Filters of the guarantee list; NULL members are not applied. */
struct guarantee_filter {
	const char *today; /* dates each guarantee's status (required) */
	const char *guarantor;
	const char *bank;
	const char *borrower;
	const char *outstanding_on; /* only guarantees outstanding on this day */
	int64_t after_id;
	int limit;
};

/** Lists guarantees, calling @a fn with each one's id and JSON text. */
enum db_rc db_guarantee_list(const struct guarantee_filter *f, json_row_fn fn, void *cls);

/** One guarantor's leverage inputs on a day, as exact sums. */
struct leverage_row {
	const char *guarantor_code, *name; /* valid during the callback */
	int64_t outstanding_fen;
	bool has_net_assets;
	int64_t net_assets_fen;
	const char *net_assets_as_of; /* NULL when no net assets are in force */
};

typedef void (*leverage_row_fn)(void *cls, const struct leverage_row *row);

/** The rows of @a day for @a guarantor (NULL: every guarantor), ordered by code. First
 *  sets *target_e4 to the guarantee_leverage target of the day's year in 1/10000 (1.5 =
 *  15000), so the callback may read it. */
enum db_rc db_guarantee_leverage(const char *day, const char *guarantor, int64_t *target_e4,
				 leverage_row_fn fn, void *cls);

#endif
