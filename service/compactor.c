/* Implementation of compactor.h: a periodic task (periodic.h) with its own database
 * connection. Each run also notes the loans table's size, so that the request path's
 * connections make their plans again when it has doubled (db_plans_note_size), and runs
 * the LPR rechecks that are due (lpr_recheck.h: one claim, well under a millisecond, when
 * none is; a due one may fold nothing for up to a minute while it reprices, readers adding
 * what is pending meanwhile). */
#include "compactor.h"

#include "chunk_size.h"
#include "db/db.h"
#include "db/stats.h"
#include "log.h"
#include "lpr_recheck.h"
#include "metrics.h"
#include "periodic.h"

static int64_t pending_rows(void)
{
	int64_t rows;

	return db_stats_pending_rows(&rows) == DB_OK ? rows : -1;
}

static struct periodic task;

/* Pending rows folded in the next transaction (chunk_size.h); only the compactor's thread
 * touches it. */
static long long chunk = CHUNK_SIZE_MAX;

/* Folds the pending rows in chunks, one transaction each, until a chunk comes back short
 * (caught up), another instance holds the fold, or finregd stops. A chunk of 5,000 takes
 * about 0.1 s on an idle 2-core machine when its loans share a day, but ~1.8 s when they
 * are spread over years (bench/stats-fold SPREAD=1 at 300,000 loans), and more as the
 * balance timeline grows; what a chunk folded stays folded. A chunk the statement timeout
 * cancels folded nothing, so it is tried again at once at half its size, and a quick one
 * doubles the next: a backlog of dear rows still drains, where the same chunk failing
 * every run stalled the fold for good. (A single statement for the whole backlog took
 * longer the further behind it was, was cancelled by the timeout, made no progress, and
 * readers, who add what is pending, slowed down with it.) */
static void compact(void)
{
	long long moved, tried;
	int64_t pages = 0;
	uint64_t t0;
	enum db_rc rc;

	while (!periodic_stopping(&task)) {
		/* Each chunk, so a long catch-up under load still has the plans made again when
		 * loans doubles. */
		if (db_loans_pages(&pages) == DB_OK)
			db_plans_note_size(pages);
		moved = 0;
		tried = chunk;
		t0 = log_monotonic_us();
		rc = db_stats_compact(tried, &moved);
		chunk = chunk_size_next(tried, rc == DB_OK, rc != DB_OK && db_last_timed_out(),
					log_monotonic_us() - t0,
					(uint64_t)db_statement_timeout() * 1000u);
		metrics_compactor_chunk(chunk);
		if (rc != DB_OK) {
			if (chunk == tried)
				return; /* the database away, or one row too dear: the next run */
			LOG_WARN("statistics compactor: a chunk of %lld rows passed the statement "
				 "timeout; trying %lld",
				 tried, chunk);
			continue;
		}
		metrics_compactor_ran(moved > 0);
		if (moved < tried)
			break; /* caught up, or another instance holds the fold (-1) */
	}
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
