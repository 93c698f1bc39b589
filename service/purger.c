/* Implementation of purger.h: a periodic task (periodic.h). */
#include "purger.h"

#include "db/db.h"
#include "db/loans.h"
#include "log.h"
#include "periodic.h"

#define BATCH 10000

/* Deletes expired answers in batches until a batch comes back short. */
static void purge_all(void)
{
	long long deleted, total = 0;

	do {
		if (db_idempotency_purge(&deleted) != DB_OK)
			return; /* the database is away: next time */
		total += deleted;
	} while (deleted >= BATCH);
	if (total > 0)
		LOG_INFO("purged %lld expired Idempotency-Key answers", total);
}

static struct periodic task = PERIODIC_INIT(purge_all, "Idempotency-Key purger", "finregd-purger");

bool purger_start(unsigned interval_s)
{
	return periodic_start(&task, (interval_s ? interval_s : 1) * 1000);
}

void purger_stop(void)
{
	periodic_stop(&task);
}
