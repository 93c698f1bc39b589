/* Supervision in storage (sql/supervision.sql): the banks' scorecard with its weights,
 * and the loan-withdrawal alerts. Figures are computed and rounded exactly by the
 * database; values and points come back as JSON text, money in fen. */
#ifndef FINREG_DB_SUPERVISION_H
#define FINREG_DB_SUPERVISION_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/** Called per active bank: its score ("85.50") and its indicators as JSON text
 *  ({indicator: {"value", "points"}}; "" when not asked for); strings valid during the call
 *  only. */
typedef void (*scorecard_row_fn)(void *cls, const char *bank, const char *score,
				 const char *indicators);

/** The scorecard of @a year up to @a as_of, the year before up to @a prev_to; with each
 *  bank's indicators when @a indicators (the database builds them only then). */
enum db_rc db_scorecard(int year, const char *as_of, const char *prev_to, bool indicators,
			scorecard_row_fn fn, void *cls);

/** The weights of @a year as malloc'd JSON text {indicator: number}. */
enum db_rc db_scorecard_weights(int year, char **json);

/** Replaces the weights of @a year with @a weights (JSON text of validated names and
 *  numbers; unnamed indicators weigh 1); *json as db_scorecard_weights(). */
enum db_rc db_scorecard_weights_put(int year, const char *weights, const char *actor, char **json);

/** One withdrawal alert; strings valid during the call only; loan_ref NULL unless recall. */
struct withdrawal_alert {
	const char *kind, *bank_code, *uscc, *name, *county_code, *date, *loan_ref;
	int64_t before, as_of; /* fen */
	bool referred, whitelisted, scf_member;
};

typedef void (*alert_row_fn)(void *cls, const struct withdrawal_alert *a);

/** Filters of the watch; NULL members are not applied. */
struct alert_filter {
	const char *start, *as_of; /* the window (start, as_of] */
	const char *bank, *county, *kind;
	const char *flags_bank; /* the referrals and programs the flags count: NULL, every bank's */
	int limit;
};

/** The alerts of @a f, calling @a fn per row. */
enum db_rc db_withdrawal_alerts(const struct alert_filter *f, alert_row_fn fn, void *cls);

#endif
