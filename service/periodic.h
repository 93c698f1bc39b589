/* A periodic background task: a thread that calls a function every interval until
 * stopped, sleeping on a condition variable so that stopping wakes it at once. The thread
 * owns its database connection (db.c's thread-local one), closed when it exits. Used by the
 * statistics compactor, the Idempotency-Key purger and the connection watchdog. */
#ifndef FINREG_PERIODIC_H
#define FINREG_PERIODIC_H

#include <pthread.h>
#include <stdbool.h>

struct periodic {
	void (*run)(void); /* called every interval_ms */
	unsigned interval_ms;
	const char *name; /* for the log */
	const char *app;  /* its connection's application_name (db_thread_name) */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool running, stopping;
};

/** A task calling @a run every @a interval_ms (0: 1000), its database connection named
 *  @a app_s in pg_stat_activity. */
#define PERIODIC_INIT(run_fn, name_s, app_s)                                                       \
	{                                                                                          \
		.run = (run_fn), .name = (name_s), .app = (app_s),                                 \
		.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER                \
	}

/** Starts the thread; false (logged) when it could not be started. */
bool periodic_start(struct periodic *p, unsigned interval_ms);

/** True once periodic_stop was called: a run that loops checks it between steps. */
bool periodic_stopping(struct periodic *p);

/** Stops the thread and waits for it (no-op when not started). */
void periodic_stop(struct periodic *p);

#endif
