/* Implementation of lpr_recheck.h. */
#include "lpr_recheck.h"

#include <stdbool.h>

#include "db/lpr.h"
#include "log.h"

/* At most this many rechecks a call: each may scan the loans table. */
#define RECHECKS_PER_CALL 4

void lpr_recheck_due(void)
{
	for (int i = 0; i < RECHECKS_PER_CALL; i++) {
		char date[16];
		long long repriced;
		bool ran;
		enum db_rc rc = db_lpr_recheck_next(&ran, date, &repriced);

		if (ran && rc != DB_OK) {
			LOG_WARN("LPR recheck of %s failed; tried again in 5 minutes", date);
			return;
		}
		if (!ran)
			return; /* none due, a standby, or the database away: the next call */
		if (repriced > 0)
			LOG_INFO(
			    "LPR recheck of %s repriced %lld loan%s priced from a cache of the "
			    "table older than its PUT",
			    date, repriced, repriced == 1 ? "" : "s");
	}
}
