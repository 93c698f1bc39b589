/* Implementation of compactor.h: a periodic task (periodic.h) with its own database
 * connection. Each run also notes the loans table's size, so that the request path's
 * connections make their plans again when it has doubled (db_plans_note_size). */
#include "compactor.h"

#include "db/db.h"
#include "db/stats.h"
#include "metrics.h"
#include "periodic.h"

static int64_t pending_rows(void)
{
	int64_t rows;

	return db_stats_pending_rows(&rows) == DB_OK ? rows : -1;
}

static void compact(void)
{
	long long moved = 0;
	int64_t pages;

	if (db_loans_pages(&pages) == DB_OK)
		db_plans_note_size(pages);
	if (db_stats_compact(&moved) == DB_OK) /* the database away: the next run tries again */
		metrics_compactor_ran(pending_rows());
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
