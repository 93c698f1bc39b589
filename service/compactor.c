/* Implementation of compactor.h: a periodic task (periodic.h) with its own database
 * connection. Each run also notes the loans table's size, so that the request path's
 * connections make their plans again when it has doubled (db_plans_note_size), and runs
 * the LPR rechecks that are due (lpr_recheck.h: one claim, well under a millisecond, when
 * none is; a due one may fold nothing for up to a minute while it reprices, readers adding
 * what is pending meanwhile). */
#include "compactor.h"

#include "db/db.h"
#include "db/stats.h"
#include "lpr_recheck.h"
#include "metrics.h"
#include "periodic.h"

#define COMPACT_CHUNK 5000 /* pending rows folded per transaction */

static int64_t pending_rows(void)
{
	int64_t rows;

	return db_stats_pending_rows(&rows) == DB_OK ? rows : -1;
}

static struct periodic task;

/* Folds the pending rows in chunks of COMPACT_CHUNK, one transaction each, until a chunk
 * comes back short (caught up), another instance holds the fold, or finregd stops. A chunk
 * takes about 0.1 s on an idle 2-core machine, so it ends well within the statement
 * timeout even when the machine is saturated and the compactor's backend gets a small
 * share of it; what a chunk folded stays folded. (A single statement for the whole backlog
 * took longer the further behind it was, was cancelled by the timeout, made no progress,
 * and readers, who add what is pending, slowed down with it.) */
static void compact(void)
{
	long long moved;
	int64_t pages = 0;

	do {
		/* Each chunk, so a long catch-up under load still has the plans made again when
		 * loans doubles. */
		if (db_loans_pages(&pages) == DB_OK)
			db_plans_note_size(pages);
		moved = 0;
		if (db_stats_compact(COMPACT_CHUNK, &moved) != DB_OK)
			return; /* the database away: the next run tries again */
		metrics_compactor_ran(moved > 0);
	} while (moved >= COMPACT_CHUNK && !periodic_stopping(&task));
	/* Counted once caught up, not per chunk: the count scans the queue, dead rows and all. */
	metrics_stats_pending(pending_rows());
	lpr_recheck_due();
}

static struct periodic task = PERIODIC_INIT(compact, "statistics compactor", "finregd-compactor");

bool compactor_start(unsigned interval_ms)
{
	return periodic_start(&task, interval_ms);
}

void compactor_stop(void)
{
	periodic_stop(&task);
}
