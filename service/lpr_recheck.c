/* Implementation of lpr_recheck.h. */
#include "lpr_recheck.h"

#include "db/lpr.h"
#include "log.h"

/* At most this many rechecks a call: each may scan the loans table. */
#define RECHECKS_PER_CALL 4

void lpr_recheck_due(void)
{
	for (int i = 0; i < RECHECKS_PER_CALL; i++) {
		struct lpr_recheck k;
		enum db_rc rc = db_lpr_recheck_next(&k);

		if (!k.ran)
			return; /* none due, a standby, or the database away: the next call */
		if (k.gave_up) {
			LOG_WARN("LPR recheck of %s gave up after %d failed runs; PUT the rates of "
				 "%s again to reprice its loans",
				 k.date, k.attempts, k.date);
			continue;
		}
		if (rc != DB_OK) {
			/* A stop: the recheck stays due, its run not counted; nothing to say. */
			if (k.lost_turn)
				LOG_INFO(
				    "LPR recheck of %s waits for a PUT or another recheck; tried "
				    "again in 10 seconds",
				    k.date);
			else if (!k.stopped)
				LOG_WARN("LPR recheck of %s failed; tried again in 5 minutes",
					 k.date);
			return;
		}
		if (k.repriced > 0)
			LOG_INFO(
			    "LPR recheck of %s repriced %lld loan%s priced from a cache of the "
			    "table older than its PUT",
			    k.date, k.repriced, k.repriced == 1 ? "" : "s");
	}
}
