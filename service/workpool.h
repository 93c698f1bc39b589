/* The request workers: a fixed set of threads, each with its own database connection
 * (db.c's thread-local, opened lazily), taking jobs from one bounded queue. The HTTP
 * threads only move bytes; anything that may wait on the database runs here, so a request
 * held in the database holds one worker, never the connections of an HTTP thread. */
#ifndef FINREG_WORKPOOL_H
#define FINREG_WORKPOOL_H

#include <stdbool.h>

/** A job's work, run on a worker thread. */
typedef void (*work_fn)(void *cls);

/** Starts @a threads workers and a queue of at most @a max_queued waiting jobs. */
bool workpool_start(unsigned threads, unsigned max_queued);

/**
 * Reserves a place in the queue for one job: false when the queue is full or the pool is
 * not running (the caller answers for itself: 503). A reservation must be followed by
 * workpool_submit() soon: workpool_stop() waits for it. Reserving first lets a caller
 * that must suspend a connection before a worker may resume it (libmicrohttpd) learn
 * that there is no room before it suspends anything.
 */
bool workpool_reserve(void);

/**
 * Queues @a run(@a cls) in the place reserved by workpool_reserve(). @a cancel(@a cls)
 * runs instead, on the stopping thread, when the pool stops before a worker took it.
 */
void workpool_submit(work_fn run, work_fn cancel, void *cls);

/** Cancels the jobs still queued, lets running ones finish and joins the workers. */
void workpool_stop(void);

/** For /metrics: workers, workers running a job now, jobs waiting, jobs refused so far. */
struct workpool_stats {
	unsigned threads, busy, queued;
	unsigned long refused;
};
void workpool_stats(struct workpool_stats *out);

#endif
