/* Implementation of workpool.h: a ring of jobs under one mutex, workers waiting on a
 * condition variable. Stopping cancels what is queued (each job's cancel answers its
 * request) and joins the workers after their current job, whose length the statement
 * timeout bounds. */
#include "workpool.h"

#include <pthread.h>
#include <stdlib.h>

#include "db/db.h"
#include "log.h"

struct job {
	work_fn run, cancel;
	void *cls;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *ring;
static pthread_cond_t unreserved = PTHREAD_COND_INITIALIZER;
static unsigned cap, head, count; /* head: the oldest job */
static unsigned reserved;         /* places reserved, not yet submitted */
static unsigned n_threads, busy;
static unsigned long refused;
static bool running;
static pthread_t *threads;

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct job j;

		while (running && count == 0)
			pthread_cond_wait(&wake, &lock);
		if (count == 0)
			break; /* stopping, and nothing left to take */
		j = ring[head];
		head = (head + 1) % cap;
		count--;
		busy++;
		pthread_mutex_unlock(&lock);
		j.run(j.cls);
		pthread_mutex_lock(&lock);
		busy--;
	}
	pthread_mutex_unlock(&lock);
	db_disconnect();
	return NULL;
}

bool workpool_start(unsigned n, unsigned max_queued)
{
	cap = max_queued > 0 ? max_queued : 1;
	ring = calloc(cap, sizeof *ring);
	threads = calloc(n, sizeof *threads);
	if (ring == NULL || threads == NULL)
		goto fail;
	head = count = busy = 0;
	running = true;
	for (n_threads = 0; n_threads < n; n_threads++)
		if (pthread_create(&threads[n_threads], NULL, worker, NULL) != 0)
			goto fail;
	return true;
fail:
	workpool_stop();
	return false;
}

bool workpool_reserve(void)
{
	bool ok;

	pthread_mutex_lock(&lock);
	ok = running && count + reserved < cap;
	if (ok)
		reserved++;
	else
		refused++;
	pthread_mutex_unlock(&lock);
	return ok;
}

void workpool_submit(work_fn run, work_fn cancel, void *cls)
{
	pthread_mutex_lock(&lock);
	ring[(head + count) % cap] = (struct job){run, cancel, cls};
	count++;
	reserved--;
	pthread_cond_signal(&wake);
	if (reserved == 0)
		pthread_cond_broadcast(&unreserved);
	pthread_mutex_unlock(&lock);
}

void workpool_stop(void)
{
	pthread_mutex_lock(&lock);
	running = false;
	while (reserved > 0)
		pthread_cond_wait(&unreserved, &lock);
	while (count > 0) {
		struct job j = ring[head];

		head = (head + 1) % cap;
		count--;
		pthread_mutex_unlock(&lock);
		if (j.cancel != NULL)
			j.cancel(j.cls);
		pthread_mutex_lock(&lock);
	}
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	if (n_threads > 0)
		LOG_INFO("%u request workers stopped", n_threads);
	n_threads = 0;
	free(threads);
	threads = NULL;
	free(ring);
	ring = NULL;
}

void workpool_stats(struct workpool_stats *out)
{
	pthread_mutex_lock(&lock);
	out->threads = n_threads;
	out->busy = busy;
	out->queued = count;
	out->refused = refused;
	pthread_mutex_unlock(&lock);
}
