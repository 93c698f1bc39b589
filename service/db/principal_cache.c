/* Who a certificate or token belongs to, remembered by this process (principal_cache.h).
 *
 * Looking the principal up on every request cost a database round trip per request, on
 * every pool thread's own connection: at a few thousand single posts a second that was a
 * fifth of the machine. The cache keeps successful look-ups, and:
 *  - a listener connection waits on LISTEN finreg_principals; sql/principals.sql's triggers
 *    NOTIFY on every committed change to principals, certificates or tokens, from any
 *    instance or command, and the listener then empties the cache (within milliseconds);
 *  - nothing is cached while the listener is not connected and listening (a missed
 *    notification cannot leave an entry behind);
 *  - an entry is used for at most CACHE_MAX_AGE_US even so;
 *  - a look-up that raced with an invalidation is not stored (generation check).
 * Failed look-ups are never cached: a new principal works at once. Against a standby
 * (read-only instances on a replica) nothing is cached: notifications are not replicated.
 * There the same thread samples, every STANDBY_SAMPLE_MS, how far the standby has received
 * WAL; a look-up passes the position received about a second before
 * (principal_cache_standby_mark) and the database answers whether it has replayed that far
 * (principals_fresh, sql/principals.sql): a change committed on the primary more than
 * STANDBY_MARK_MAX_MS ago and not yet replayed here makes every caller 503, not a disabled
 * one 200. */
#include "db/principal_cache.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "db/db_internal.h"
#include "log.h"

enum {
	CACHE_SLOTS = 1024,
	CACHE_MAX_AGE_US = 1000000,
	RECONNECT_WAIT_MS = 1000,
	STANDBY_SAMPLE_MS = 100,    /* a standby's received WAL position, sampled this often */
	STANDBY_MARK_MIN_MS = 1000, /* a look-up asks for what was received this long ago ... */
	STANDBY_MARK_MAX_MS = 1500, /* ... and no longer (a stalled sampler: no mark, 503) */
	STANDBY_SAMPLES = 32,
	LSN_TEXT = 32,
};

/* One sample of a standby: when, and the WAL position it had received ("" without a WAL
 * receiver: it cannot tell what it lacks). */
struct sample {
	uint64_t at_us;
	char received[LSN_TEXT];
};

struct slot {
	char key[2 + 64 + 1]; /* "c:" or "t:" and the SHA-256 hex */
	struct principal who;
	uint64_t loaded_us;
	uint64_t generation; /* valid only while it is the cache's generation */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[CACHE_SLOTS];
static uint64_t generation = 1;
static bool listening; /* the listener is connected and LISTENing */

static struct sample samples[STANDBY_SAMPLES]; /* a ring, under lock */
static unsigned samples_next;

static pthread_t thread;
static bool started;
static atomic_bool stopping;
static int wake_fd = -1;

static size_t slot_of(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h % CACHE_SLOTS);
}

static void invalidate(bool now_listening)
{
	pthread_mutex_lock(&lock);
	generation++; /* every slot stale at once, none touched */
	listening = now_listening;
	pthread_mutex_unlock(&lock);
}

/* The slot of @a key when it holds a fresh entry (lock held), else NULL. */
static struct slot *fresh(const char *key, uint64_t now)
{
	struct slot *s = &slots[slot_of(key)];

	if (listening && s->generation == generation && strcmp(s->key, key) == 0 &&
	    now - s->loaded_us < CACHE_MAX_AGE_US)
		return s;
	return NULL;
}

bool principal_cache_peek(char kind, const char *sha256_hex, struct principal *out)
{
	char key[sizeof slots[0].key];
	struct slot *s;

	snprintf(key, sizeof key, "%c:%s", kind, sha256_hex);
	pthread_mutex_lock(&lock);
	s = fresh(key, log_monotonic_us());
	if (s != NULL)
		*out = s->who;
	pthread_mutex_unlock(&lock);
	return s != NULL;
}

bool principal_cache_seen(char kind, const char *sha256_hex)
{
	char key[sizeof slots[0].key];
	bool seen;

	snprintf(key, sizeof key, "%c:%s", kind, sha256_hex);
	pthread_mutex_lock(&lock);
	seen = strcmp(slots[slot_of(key)].key, key) == 0;
	pthread_mutex_unlock(&lock);
	return seen;
}

enum db_rc principal_cache_lookup(char kind, const char *sha256_hex, principal_fetch_fn fetch,
				  struct principal *out)
{
	char key[sizeof slots[0].key];
	struct slot *s, *hit;
	uint64_t gen, now = log_monotonic_us();
	enum db_rc rc;

	snprintf(key, sizeof key, "%c:%s", kind, sha256_hex);
	s = &slots[slot_of(key)];
	pthread_mutex_lock(&lock);
	hit = fresh(key, now);
	if (hit != NULL) {
		*out = hit->who;
		pthread_mutex_unlock(&lock);
		return DB_OK;
	}
	gen = generation;
	pthread_mutex_unlock(&lock);

	rc = fetch(sha256_hex, out);
	if (rc == DB_NOT_FOUND) { /* no longer "seen": its next look-up is a stranger's */
		pthread_mutex_lock(&lock);
		if (strcmp(s->key, key) == 0)
			s->key[0] = '\0';
		pthread_mutex_unlock(&lock);
	}
	if (rc != DB_OK)
		return rc;
	pthread_mutex_lock(&lock);
	if (listening && generation == gen) {
		snprintf(s->key, sizeof s->key, "%s", key);
		s->who = *out;
		s->loaded_us = now;
		s->generation = gen;
	}
	pthread_mutex_unlock(&lock);
	return DB_OK;
}

/* Waits up to @a ms for @a fd to be readable or for principal_cache_stop(). */
static bool wait_readable(int fd, int ms)
{
	struct pollfd p[2] = {{wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};

	return poll(p, fd >= 0 ? 2 : 1, ms) > 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP));
}

/* Whether @a c is a standby: it takes no LISTEN, and its changes come from the primary,
 * whose notifications never reach it. */
static bool in_recovery(PGconn *c)
{
	enum db_rc rc;
	PGresult *r = db_run_sql(c, "SELECT pg_is_in_recovery()", &rc);
	bool yes = r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;

	PQclear(r);
	return yes;
}

static void sample_add(uint64_t at_us, const char *received)
{
	pthread_mutex_lock(&lock);
	samples[samples_next % STANDBY_SAMPLES].at_us = at_us;
	snprintf(samples[samples_next % STANDBY_SAMPLES].received, LSN_TEXT, "%s", received);
	samples_next++;
	pthread_mutex_unlock(&lock);
}

static void samples_clear(void)
{
	pthread_mutex_lock(&lock);
	memset(samples, 0, sizeof samples);
	samples_next = 0;
	pthread_mutex_unlock(&lock);
}

void principal_cache_standby_mark(char *out, size_t size)
{
	uint64_t now = log_monotonic_us(), best = 0, oldest = UINT64_MAX;
	const char *mark = "", *first = "";

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < STANDBY_SAMPLES; i++) {
		const struct sample *x = &samples[i];

		if (x->at_us == 0)
			continue;
		if (x->at_us < oldest) {
			oldest = x->at_us;
			first = x->received;
		}
		if (x->at_us <= now - STANDBY_MARK_MIN_MS * 1000ULL &&
		    x->at_us >= now - STANDBY_MARK_MAX_MS * 1000ULL && x->at_us > best) {
			best = x->at_us;
			mark = x->received;
		}
	}
	/* Sampling for less than a second (just started, or connected again): the oldest
	 * sample, which asks for more, not less. */
	if (best == 0 && oldest != UINT64_MAX && oldest > now - STANDBY_MARK_MIN_MS * 1000ULL)
		mark = first;
	snprintf(out, size, "%s", mark);
	pthread_mutex_unlock(&lock);
}

/* Samples the standby @a c until it is promoted, the connection breaks or the cache is
 * stopped. */
static void sample_standby(PGconn *c)
{
	while (!atomic_load(&stopping)) {
		enum db_rc rc;
		/* Stamped when asked: a late answer holds a position at least that recent, so
		 * a slow reply makes the mark stricter, never looser. */
		uint64_t asked = log_monotonic_us();
		PGresult *r =
		    db_run_sql(c,
			       "SELECT pg_is_in_recovery(), CASE WHEN EXISTS (SELECT 1 FROM "
			       "pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN "
			       "pg_last_wal_receive_lsn() END",
			       &rc);
		bool standby =
		    r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;

		if (standby)
			sample_add(asked, PQgetisnull(r, 0, 1) ? "" : PQgetvalue(r, 0, 1));
		PQclear(r);
		if (!standby)
			return; /* promoted, or the connection broke: connect again */
		wait_readable(-1, STANDBY_SAMPLE_MS);
	}
}

/* Listens until the connection breaks or the cache is stopped. */
static void listen_on(PGconn *c)
{
	enum db_rc rc;
	PGresult *r = db_run_sql(c, "LISTEN finreg_principals", &rc);
	bool ok = r != NULL;

	PQclear(r);
	if (!ok) {
		LOG_WARN("principal cache: LISTEN failed: %s", PQerrorMessage(c));
		return;
	}
	/* Anything loaded before LISTEN took effect may have missed a notification. */
	invalidate(true);
	while (!atomic_load(&stopping)) {
		PGnotify *n;
		bool changed = false;

		if (!wait_readable(PQsocket(c), 1000))
			continue;
		if (atomic_load(&stopping))
			break;
		if (PQconsumeInput(c) == 0) {
			LOG_WARN("principal cache: listener connection lost: %s",
				 PQerrorMessage(c));
			break;
		}
		while ((n = PQnotifies(c)) != NULL) {
			changed = true;
			PQfreemem(n);
		}
		if (changed)
			invalidate(true);
	}
}

/* db_thread_stops_when's test: a sample hanging on its standby does not hold up a stop. */
static bool cache_stopping(void *cls)
{
	(void)cls;
	return atomic_load(&stopping);
}

static void *run(void *arg)
{
	bool told_standby = false;

	(void)arg;
	db_thread_stops_when(cache_stopping, NULL);
	while (!atomic_load(&stopping)) {
		enum db_rc rc;
		PGconn *c = db_connect_fresh("finregd-listen", &rc);
		bool standby = false;

		if (c != NULL) {
			standby = in_recovery(c);
			if (standby && !told_standby)
				LOG_INFO(
				    "principal cache off: the database is a standby, whose "
				    "changes send no notification here; every request looks its "
				    "caller up");
			told_standby = told_standby || standby;
			if (standby)
				sample_standby(c);
			else
				listen_on(c);
			samples_clear();
			invalidate(false);
			PQfinish(c);
		}
		if (!atomic_load(&stopping))
			wait_readable(-1, RECONNECT_WAIT_MS);
	}
	return NULL;
}

bool principal_cache_start(void)
{
	wake_fd = eventfd(0, EFD_CLOEXEC);
	if (wake_fd < 0)
		return false;
	atomic_store(&stopping, false);
	started = pthread_create(&thread, NULL, run, NULL) == 0;
	if (!started) {
		close(wake_fd);
		wake_fd = -1;
	}
	return started;
}

void principal_cache_stop(void)
{
	uint64_t one = 1;

	if (!started)
		return;
	atomic_store(&stopping, true);
	if (write(wake_fd, &one, sizeof one) != sizeof one)
		LOG_WARN("principal cache: cannot wake the listener");
	pthread_join(thread, NULL);
	started = false;
	invalidate(false);
	close(wake_fd);
	wake_fd = -1;
}

bool principal_cache_listening(void)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = listening;
	pthread_mutex_unlock(&lock);
	return on;
}
