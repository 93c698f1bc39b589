/* Implementation of compactor.h: a pthread that sleeps on a condition variable between
 * runs, so compactor_stop() wakes it at once. It owns its own database connection (the
 * thread-local one of db.c), closed when it exits. */
#include "compactor.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "db/db.h"
#include "db/stats.h"
#include "log.h"
#include "metrics.h"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool running, stopping;
static unsigned interval;

static int64_t pending_rows(void)
{
	int64_t rows;

	return db_stats_pending_rows(&rows) == DB_OK ? rows : -1;
}

static void *run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec until;
		long long moved = 0;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval / 1000;
		until.tv_nsec += (long)(interval % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) != ETIMEDOUT)
			;
		if (stopping)
			break;
		pthread_mutex_unlock(&lock);
		if (db_stats_compact(&moved) != DB_OK)
			moved = 0; /* the database is away: try again next time */
		else
			metrics_compactor_ran(pending_rows());
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	db_disconnect();
	return NULL;
}

bool compactor_start(unsigned interval_ms)
{
	interval = interval_ms ? interval_ms : 1000;
	stopping = false;
	if (pthread_create(&thread, NULL, run, NULL) != 0) {
		LOG_WARN("cannot start the statistics compactor");
		return false;
	}
	running = true;
	return true;
}

void compactor_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
}
