/* Reads of the statistics summaries (migration 004, functions in sql/stats.sql): new
 * loans over a window, pricing of inclusive small-micro loans, lending growth, targets.
 * Money in fen; averages and changes come back as decimal text, computed exactly and
 * rounded by the database. */
#ifndef FINREG_DB_STATS_H
#define FINREG_DB_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"

/** The ten sums of a new-loan row: count and amount, then count and amount of
 *  first-time borrowers, credit loans, medium/long-term loans and renewals. */
enum newloan_sum {
	NL_N,
	NL_AMOUNT,
	NL_FIRST_N,
	NL_FIRST_AMOUNT,
	NL_CREDIT_N,
	NL_CREDIT_AMOUNT,
	NL_MLT_N,
	NL_MLT_AMOUNT,
	NL_RENEWAL_N,
	NL_RENEWAL_AMOUNT,
	NL_SUMS
};

/** Called per summary row (period "YYYY-MM-DD", group key); strings valid during the call. */
typedef void (*newloan_row_fn)(void *cls, const char *period, const char *key,
			       const int64_t sums[NL_SUMS]);

/** Rows of dimension @a dim ('b', 'c', 'i', 's') for @a bank ("*" = all banks) issued in
 *  [@a from, @a to]; @a manufacturing: -1 all, 0 not, 1 only. A row may sum a whole year
 *  (its period the first of January) unless @a by_month: then each row's period lies in
 *  the month it sums. */
enum db_rc db_stats_new_loans(char dim, const char *bank, const char *from, const char *to,
			      int manufacturing, bool by_month, newloan_row_fn fn, void *cls);

struct pricing_period {
	char period[11];
	int64_t n, amount;
	char avg_rate[24];      /* "" when no loans */
	char avg_spread_bp[24]; /* "" when no loans had an LPR */
};

/** Pricing of month @a month ("YYYY-MM-01") and the same month a year before; *change_pp
 *  is "" when either has no loans. */
enum db_rc db_stats_pricing(const char *bank, const char *month, struct pricing_period *cur,
			    struct pricing_period *prev, char change_pp[24]);

/** Called per bank and manufacturing flag. */
typedef void (*growth_row_fn)(void *cls, const char *bank, bool manufacturing, int64_t start,
			      int64_t as_of, int64_t issued);

enum db_rc db_stats_lending_growth(int year, const char *as_of, const char *bank, growth_row_fn fn,
				   void *cls);

/** Called per target: metric, target and actual as decimal text (actual NULL when the
 *  registry has no figure for it), and how the exact actual compares with the target
 *  (-1, 0, 1; 2 without an actual). */
typedef void (*target_row_fn)(void *cls, const char *metric, const char *target, const char *actual,
			      int cmp);

enum db_rc db_stats_targets(int year, const char *as_of, target_row_fn fn, void *cls);

/** Sets the target of @a metric for @a year (@a value decimal text). */
enum db_rc db_target_put(int year, const char *metric, const char *value, const char *by);

/** Folds up to @a limit pending statistics rows and up to @a limit pending balance-timeline
 *  changes into their summaries, in one transaction (one instance at a time); *moved is
 *  the larger of the two counts (@a limit: more may be pending), -1 when another session
 *  was compacting. */
enum db_rc db_stats_compact(long long limit, long long *moved);

/** Called per bank with its code and name. */
typedef void (*name_row_fn)(void *cls, const char *code, const char *name);

/** Every bank's code and name (disabled ones too: their figures stay in the statistics). */
enum db_rc db_bank_names(name_row_fn fn, void *cls);
/** Pending statistics rows the compactor has not folded yet (for /metrics). */
enum db_rc db_stats_pending_rows(int64_t *rows);
/** The loans table's size in 8 KiB pages (for db_plans_note_size). */
enum db_rc db_loans_pages(int64_t *pages);

#endif
