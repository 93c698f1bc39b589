/* The LPR table: listing and the regulator's upsert. Rates travel as exact decimal
 * strings ("3.8500"); dates as "YYYY-MM-DD". */
#ifndef FINREG_DB_LPR_H
#define FINREG_DB_LPR_H

#include <stdbool.h>

#include "db/db.h"

/** Called once per LPR row, oldest first. Strings are valid only during the call. */
typedef void (*lpr_row_fn)(void *cls, const char *effective_from, const char *one_year,
			   const char *five_year);

enum db_rc db_lpr_list(lpr_row_fn fn, void *cls);

/** Inserts or replaces the rates effective from @a date (*created says which) and, in the
 *  same transaction, reprices the loans issued while those rates are in force
 *  (*repriced: how many changed) and schedules their recheck. Bounded by a minute, not
 *  the statement timeout. */
enum db_rc db_lpr_put(const char *date, const char *one_year, const char *five_year, const char *by,
		      bool *created, long long *repriced);

/** What db_lpr_recheck_next did: whether it claimed a recheck (@a ran), of which row
 *  (@a date), how many loans it repriced, that it did not get its turn (@a lost_turn: given
 *  back, tried again soon), that its thread stopped it (@a stopped: not counted), or that
 *  it gave the recheck up after @a attempts failed runs. */
struct lpr_recheck {
	bool ran, gave_up, lost_turn, stopped;
	char date[16];
	long long repriced;
	int attempts;
};

/** Runs the LPR recheck due first, if any (sql/loans.sql lpr_recheck_*). One that fails
 *  (DB_ERROR, DB_UNAVAILABLE) is tried again minutes later, a few times, then given up.
 *  Not on a standby. */
enum db_rc db_lpr_recheck_next(struct lpr_recheck *out);

#endif
