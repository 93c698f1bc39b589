/* Relief-fund referral storage (migration 006): creation, status moves, reads, the list,
 * the streamed export and the figures of GET /v1/stats/referrals. The checks that need
 * stored rows (bank principal, one open referral per firm and bank, the funding loan) are
 * SQL functions in sql/referrals.sql; this file binds and reads them. JSON travels as text. */
#ifndef FINREG_DB_REFERRALS_H
#define FINREG_DB_REFERRALS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "db/loans.h"
#include "db/stream.h"

/* A create or a move fills a struct db_outcome (db/db.h): created or updated with the
 * referral and its history as body, or rejected with code "not_found", "conflict" or
 * "invalid_field". */

/** Creates a referral made by @a actor from @a item, a JSON object text with uscc, name,
 *  county_code, industry_code, size, bank_code, requested_fen, reason, referred_on. */
enum db_rc db_referral_create(const char *actor, const char *item, struct db_outcome *out);

/** A status change asked for by the bank referred to. NULL members are absent. */
struct referral_move {
	const char *status;         /* accepted | declined | funded (anything else: conflict) */
	const char *decline_reason; /* with declined */
	const char *loan_ref;       /* with funded */
	int64_t funded_fen;         /* with funded; 0 = the loan's amount */
};

/** Moves referral @a ref of bank @a bank as @a m says. */
enum db_rc db_referral_move(const char *bank, const char *ref, const struct referral_move *m,
			    struct db_outcome *out);

/** The referral @a ref with its history as JSON text (malloc'd) in *json; @a bank NULL
 *  reads any bank's. DB_NOT_FOUND when there is none (for that bank). */
enum db_rc db_referral_get(const char *bank, const char *ref, char **json);

/** Filters of the list and the export; NULL members are not applied. */
struct referral_filter {
	const char *bank;
	const char *status;
	const char *county;
	const char *uscc;
	int64_t after_id;
	int limit; /* list only */
};

/** Lists referrals after f->after_id in id order, at most f->limit, calling @a fn with
 *  each row's id and JSON text (valid during the call). */
enum db_rc db_referral_list(const struct referral_filter *f, json_row_fn fn, void *cls);

/** Columns of a CSV export row, in order (the SELECT of referral_export_csv). */
#define REFERRAL_EXPORT_COLUMNS 16

/**
 * Starts the export of every referral matching @a f (after_id and limit are not used) in
 * id order, on a connection of its own: with @a json one column per row (the referral's
 * JSON text), otherwise the REFERRAL_EXPORT_COLUMNS text columns of a CSV row. The caller
 * reads it with db_stream_next() and closes it with db_stream_close(). NULL with *rc set.
 */
struct db_stream *db_referral_export_open(const struct referral_filter *f, bool json,
					  enum db_rc *rc);

/** Referral counts of one bank (or the total) by current status, and the amount funded. */
struct referral_figures {
	int64_t referred, accepted, declined, funded;
	int64_t funded_fen;
	int64_t referred_firms; /* distinct firms */
};

/** Called per bank, in bank code order; @a bank valid during the call. */
typedef void (*referral_stats_row_fn)(void *cls, const char *bank,
				      const struct referral_figures *f);

/**
 * Figures of referrals made up to the end of @a as_of ("YYYY-MM-DD") for @a bank ("*" =
 * all): @a fn per bank, *total over them, and *target the relief_referrals target of
 * @a year (-1 when the targets table has none).
 */
enum db_rc db_referral_stats(const char *as_of, const char *bank, int year,
			     referral_stats_row_fn fn, void *cls, struct referral_figures *total,
			     int64_t *target);

#endif
