/* Implementation of periodic.h. */
#include "periodic.h"

#include <errno.h>
#include <time.h>

#include "db/db.h"
#include "log.h"

/* db_thread_stops_when's test: whether @a cls, the task, is stopping. */
static bool stopping(void *cls)
{
	return periodic_stopping(cls);
}

static void *loop(void *arg)
{
	struct periodic *p = arg;

	db_thread_name(p->app);
	db_thread_stops_when(stopping, p);
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += p->interval_ms / 1000;
		until.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->wake, &p->lock, &until) != ETIMEDOUT)
			;
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->lock);
		p->run();
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	db_disconnect();
	return NULL;
}

bool periodic_start(struct periodic *p, unsigned interval_ms)
{
	p->interval_ms = interval_ms ? interval_ms : 1000;
	p->stopping = false;
	if (pthread_create(&p->thread, NULL, loop, p) != 0) {
		LOG_WARN("cannot start the %s", p->name);
		return false;
	}
	p->running = true;
	return true;
}

bool periodic_stopping(struct periodic *p)
{
	bool stopping;

	pthread_mutex_lock(&p->lock);
	stopping = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return stopping;
}

void periodic_stop(struct periodic *p)
{
	if (!p->running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->running = false;
}
