/* Implementation of compactor.h: a periodic task (periodic.h) with its own database
 * connection. */
#include "compactor.h"

#include "db/db.h"
#include "db/stats.h"
#include "periodic.h"

static void compact(void)
{
	long long moved = 0;

	(void)db_stats_compact(&moved); /* the database away: the next run tries again */
}

static struct periodic task = PERIODIC_INIT(compact, "statistics compactor");

bool compactor_start(unsigned interval_ms)
{
	return periodic_start(&task, interval_ms);
}

void compactor_stop(void)
{
	periodic_stop(&task);
}
