/* Connections: the request path's pool (db_pool_start: FINREG_THREADS connections, lent to
 * the server's connection threads one db_tx/db_once at a time), and one libpq connection of
 * its own for every other thread (background threads, the CLI); both opened lazily,
 * statements prepared once per connection. Then error classification, and the transaction
 * helper with its retries. A broken connection is dropped and re-opened by the next call;
 * a connection that failed to connect waits CONNECT_BACKOFF_US before trying again, so an
 * outage costs no more than one connection attempt per connection per back-off. Last, the
 * helpers the areas' statements share: value reading, one-row writes, JSON reads and row
 * callbacks. */
#include "db/db_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/migrations.h"
#include "db/route_internal.h"
#include "log.h"
#include "metrics.h"

#define CONNECT_BACKOFF_US 100000u
#define CLIENT_MARGIN_MS   1000u /* the client's deadline is the server's timeout + this */
#define WAIT_SLICE_MS      50
#define CONNECT_MAX_US     3000000u /* as connect_timeout=3 */
#define HEALTH_EVERY_MS    100u
#define HEALTH_PROBE_MS    500u
#define HEALTH_STALE_US    500000u /* a probe unanswered this long: the database hangs */

static const char *db_url = "dbname=finreg";

static _Thread_local PGconn *tl_conn;
static _Thread_local bool tl_prepared;
static _Thread_local unsigned tl_plan_epoch; /* plan_epoch when its plans were last dropped */
static _Thread_local bool tl_broken;
static _Thread_local bool tl_no_memory; /* db_note_no_memory() since the work began */
static _Thread_local bool tl_had_conn;
static _Thread_local uint64_t tl_failed_at;
static _Thread_local bool tl_replica;         /* the current connection is to a read replica */
static _Thread_local bool tl_late;            /* the last statement passed its deadline */
static _Thread_local unsigned tl_deadline_ms; /* this thread's own deadline, 0: the default */
static _Thread_local bool tl_connect_late;    /* the last connect gave up at its deadline */
static _Thread_local bool tl_is_checker;
static _Thread_local const char *tl_app_name; /* db_thread_name(); NULL: "finregd" */
static _Thread_local bool tl_yields; /* the warm-up: gives way to a request (db_pool_each) */
/* The last failure was 55P03: a lock not available, or a summary asked for and not built
 * yet (sql/guarantees.sql guarantee_outstanding_parts), which says nothing of the server. */
static _Thread_local bool tl_lock_refused;
/* The last call failed by a timeout (db_last_timed_out); cleared when a call begins. */
static _Thread_local bool tl_timed_out;
/* tl_late by its own time (too_late's first test), not because the health check says the
 * database hangs, a request wants the connection or the thread stops. */
static _Thread_local bool tl_late_by_time;
static _Thread_local bool (*tl_stop_fn)(void *cls); /* db_thread_stops_when */
static _Thread_local void *tl_stop_cls;
static _Thread_local bool tl_gave_way; /* its last wait ended because a request wanted one */

static unsigned statement_ms; /* 0: statements unbounded (the CLI) */
static atomic_bool health_on;
static atomic_uint_fast64_t health_probe_us; /* start of the probe in flight, 0: none */
static atomic_bool health_hung;              /* the last probe took HEALTH_STALE_US */
static atomic_int health_rc = -1;            /* the last probe's outcome; -1: none yet */
static pthread_t health_thread;
static atomic_bool health_stopping;

static const struct db_stmt *const stmt_tables[] = {
    db_stmts_principals,
    db_stmts_lpr,
    db_stmts_loans,
    db_stmts_stats,
    db_stmts_referrals,
    db_stmts_scf,
    db_stmts_whitelist,
    db_stmts_guarantees,
    db_stmts_firms,
    db_stmts_supervision,
    NULL,
};

/* Closes a thread's own connection when the thread exits, so no connection outlives its
 * thread (a pooled connection is the thread's only while lent, and returned before). */
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;

static void close_at_thread_exit(void *conn)
{
	PQfinish(conn);
}

static void make_conn_key(void)
{
	if (pthread_key_create(&conn_key, close_at_thread_exit) != 0)
		abort();
}

void db_configure(const char *url)
{
	db_url = url;
	pthread_once(&conn_key_once, make_conn_key);
}

void db_conn_swap(struct db_conn_slot *o)
{
	struct db_conn_slot mine = {tl_conn,     tl_prepared,  tl_plan_epoch, tl_broken,
				    tl_had_conn, tl_failed_at, tl_replica};

	tl_conn = o->conn;
	tl_prepared = o->prepared;
	tl_plan_epoch = o->plan_epoch;
	tl_broken = o->broken;
	tl_had_conn = o->had_conn;
	tl_failed_at = o->failed_at;
	tl_replica = o->replica;
	*o = mine;
	pthread_setspecific(conn_key, tl_conn);
}

void db_thread_name(const char *name)
{
	tl_app_name = name;
}

void db_disconnect(void)
{
	if (tl_conn != NULL) {
		PQfinish(tl_conn);
		pthread_setspecific(conn_key, NULL);
	}
	tl_conn = NULL;
	tl_prepared = false;
	tl_plan_epoch = 0;
	tl_broken = false;
}

/* The request path's pool. A connection thread of the server (db_pool_join) borrows an
 * entry -- a primary connection and a replica connection, each with its state -- for one
 * db_tx or db_once, swapped into the thread's own state (db_conn_swap, route.c's replica
 * slot) and swapped back at the end; nested calls reuse the lease. A thread holds a lease
 * only while its statements run, never while it waits for anything else (a group commit's
 * leader, the client), so no lease ever waits for another. At most pool_wait_ms is spent
 * waiting for a free entry: then DB_UNAVAILABLE (503). */
struct pool_entry {
	struct db_conn_slot primary, replica;
	bool lent;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_freed;
static struct pool_entry *pool;
static unsigned pool_size, pool_lent, pool_waiting, pool_wait_ms;
static atomic_uint pool_requests; /* leases requests hold or wait for: the warm-up yields */
static bool pool_open;            /* lending; false once db_pool_stop() ran */
static atomic_bool pool_closing;  /* db_pool_stop() ran */
static uint64_t pool_timeouts;

static _Thread_local bool tl_pooled; /* this thread borrows from the pool */
static _Thread_local struct pool_entry *tl_lease;
static _Thread_local unsigned tl_lease_depth;

static bool database_hangs(void);

bool db_pool_start(unsigned n, unsigned wait_ms)
{
	pthread_condattr_t a;

	if (n == 0 || pthread_condattr_init(&a) != 0)
		return false;
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&pool_freed, &a);
	pthread_condattr_destroy(&a);
	pool = calloc(n, sizeof *pool);
	if (pool == NULL)
		return false;
	for (unsigned i = 0; i < n; i++)
		pool[i].replica.replica = true;
	pool_size = n;
	pool_wait_ms = wait_ms;
	pool_lent = pool_waiting = 0;
	pool_timeouts = 0;
	atomic_store(&pool_closing, false);
	pool_open = true;
	return true;
}

void db_pool_join(void)
{
	tl_pooled = pool != NULL;
}

void db_pool_stop(void)
{
	pthread_mutex_lock(&pool_lock);
	pool_open = false;
	atomic_store(&pool_closing, true);
	pthread_cond_broadcast(&pool_freed);
	pthread_mutex_unlock(&pool_lock);
}

bool db_pool_stopping(void)
{
	return atomic_load(&pool_closing);
}

void db_pool_close(void)
{
	if (pool == NULL)
		return;
	db_pool_stop();
	pthread_mutex_lock(&pool_lock);
	for (unsigned i = 0; i < pool_size; i++) {
		if (pool[i].lent)
			LOG_BUG("database connection %u still lent at close", i);
		else {
			PQfinish(pool[i].primary.conn);
			PQfinish(pool[i].replica.conn);
		}
	}
	free(pool);
	pool = NULL;
	pool_size = 0;
	pthread_mutex_unlock(&pool_lock);
	pthread_cond_destroy(&pool_freed);
}

void db_pool_stats(struct db_pool_stats *out)
{
	pthread_mutex_lock(&pool_lock);
	out->size = pool_size;
	out->busy = pool_lent;
	out->waiting = pool_waiting;
	out->timeouts = pool_timeouts;
	pthread_mutex_unlock(&pool_lock);
}

/* How ready free entry @a e is to serve (lock held: a free entry's slot is at rest): 2 no
 * failed connect (connected, or not yet: taken in turn, so every connection is made
 * early), 1 its last connect failed but the back-off is past, 0 in its back-off. */
static int entry_readiness(const struct pool_entry *e, uint64_t now)
{
	uint64_t failed_at = e->primary.failed_at;

	if (failed_at == 0)
		return 2;
	return now - failed_at >= CONNECT_BACKOFF_US ? 1 : 0;
}

/* A free entry (lock held), waiting until @a until; NULL when none came or the pool
 * stopped. The first free entry is taken, so the fewest connections serve the load and
 * each stays hot (its backend's caches and memory in use): taken in turn, a lone client's
 * posts went to all the backends one after another, each cold again by its next call, at
 * 30-72% more database CPU a post (docs/threading.md, "Which connection a lease gets").
 * An entry whose last connect failed is passed over while one without a failure is free,
 * and one still in its connect back-off is taken only when no other is free: one entry
 * that cannot reconnect does not turn requests away while the others are up. Entries the
 * warm-up did not reach (it gives way to requests) are made when a burst first needs
 * them. */
static struct pool_entry *pool_take(const struct timespec *until)
{
	for (;;) {
		struct pool_entry *best = NULL;
		int best_readiness = -1;
		uint64_t now = log_monotonic_us();

		if (!pool_open)
			return NULL;
		for (unsigned i = 0; pool_lent < pool_size && i < pool_size; i++) {
			int r;

			if (pool[i].lent)
				continue;
			r = entry_readiness(&pool[i], now);
			if (r > best_readiness) {
				best = &pool[i];
				best_readiness = r;
			}
			if (r == 2)
				break;
		}
		if (best != NULL)
			return best;
		if (pthread_cond_timedwait(&pool_freed, &pool_lock, until) != 0)
			return NULL;
	}
}

/* Borrows a pooled connection for this thread when it is a pooled one and holds none;
 * false with *rc set when none became free in time. */
static bool lease_begin(enum db_rc *rc)
{
	struct timespec until;
	struct pool_entry *e;

	if (!tl_pooled || tl_lease_depth++ > 0)
		return true;
	atomic_fetch_add(&pool_requests, 1); /* until lease_end */
	if (database_hangs()) {
		atomic_fetch_sub(&pool_requests, 1);
		tl_lease_depth = 0;
		*rc = DB_UNAVAILABLE;
		return false;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += pool_wait_ms / 1000;
	until.tv_nsec += (long)(pool_wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool_lock);
	pool_waiting++;
	e = pool_take(&until);
	pool_waiting--;
	if (e != NULL) {
		e->lent = true;
		pool_lent++;
	} else if (pool_open) {
		pool_timeouts++;
	}
	pthread_mutex_unlock(&pool_lock);
	if (e == NULL) {
		atomic_fetch_sub(&pool_requests, 1);
		tl_lease_depth = 0;
		*rc = DB_UNAVAILABLE;
		return false;
	}
	tl_lease = e;
	db_conn_swap(&e->primary);
	db_route_swap_replica(&e->replica);
	return true;
}

static void lease_end(void)
{
	struct pool_entry *e = tl_lease;

	if (!tl_pooled || --tl_lease_depth > 0 || e == NULL)
		return;
	db_conn_swap(&e->primary);
	db_route_swap_replica(&e->replica);
	tl_lease = NULL;
	pthread_mutex_lock(&pool_lock);
	e->lent = false;
	pool_lent--;
	pthread_cond_signal(&pool_freed);
	pthread_mutex_unlock(&pool_lock);
	if (!tl_yields)
		atomic_fetch_sub(&pool_requests, 1);
}

enum warm_lease { WARM_LENT, WARM_IN_USE, WARM_BUSY, WARM_STOPPED };

/* Lends entry @a i of the pool to the warm-up while no request holds or waits for any
 * (one that comes then takes it back: too_late()). WARM_IN_USE: a request holds it or has
 * made its connection (warm enough); WARM_BUSY: requests are using the pool now. */
static enum warm_lease lease_entry(unsigned i)
{
	struct pool_entry *e = &pool[i];
	enum warm_lease l;

	pthread_mutex_lock(&pool_lock);
	if (!pool_open)
		l = WARM_STOPPED;
	else if (e->lent || e->primary.conn != NULL)
		l = WARM_IN_USE;
	else if (atomic_load(&pool_requests) > 0)
		l = WARM_BUSY;
	else {
		e->lent = true;
		pool_lent++;
		l = WARM_LENT;
	}
	pthread_mutex_unlock(&pool_lock);
	if (l != WARM_LENT)
		return l;
	tl_lease_depth = 1;
	tl_lease = e;
	db_conn_swap(&e->primary);
	db_route_swap_replica(&e->replica);
	return l;
}

unsigned db_pool_each(bool (*fn)(void *cls), void *cls, bool *gave_way)
{
	struct timespec pause = {0, WAIT_SLICE_MS * 1000000L};
	unsigned done = 0;
	bool go_on = true;

	db_pool_join();
	tl_yields = true;
	tl_gave_way = false;
	for (unsigned i = 0; go_on && tl_pooled && i < pool_size; i++) {
		enum warm_lease l;

		while ((l = lease_entry(i)) == WARM_BUSY)
			nanosleep(&pause, NULL); /* until the pool is idle: requests go first */
		if (l == WARM_STOPPED)
			break;
		if (l == WARM_IN_USE)
			continue;
		go_on = fn(cls) && !tl_gave_way;
		done += go_on;
		lease_end();
	}
	*gave_way = tl_gave_way;
	tl_yields = false;
	return done;
}

int db_schema_version_expected(void)
{
	return embedded_migrations_count == 0
		   ? 0
		   : embedded_migrations[embedded_migrations_count - 1].version;
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Per-session settings of finregd's connections. JIT compilation is off: its compile time
 * (tens of milliseconds) dwarfs the short statements of an online service, and profiles of
 * batch ingest showed LLVM taking 40% of the backend's CPU. The backend checks every
 * second, while a statement runs, that finregd is still there
 * (client_connection_check_interval): a connection finregd drops (a deadline passed, its
 * thread stopping, the process gone) ends its statement and rolls it back then, instead of
 * running on to the statement timeout with its locks held (found by review: an LPR
 * recheck's backend held the turn and its loans' row locks for up to a minute after
 * finregd had exited). */
static PGresult *exec_bounded(PGconn *c, const char *sql, const char *name, int n,
			      const char *const *params);

static bool session_setup(PGconn *c)
{
	char sql[192];
	PGresult *r;
	bool ok;

	PQsetNoticeProcessor(c, quiet_notices, NULL);
	if (PQsetnonblocking(c, 1) != 0)
		return false;
	/* idle_in_transaction_session_timeout: finregd never leaves a transaction idle between
	 * its statements for longer than it takes to read a result, so a session idle in one
	 * for twice the statement timeout is one this process lost (drop_if_broken is the
	 * cure; this the server's own bound should anything else leave one). Without a
	 * statement timeout (the CLI) the role's or database's own setting stays. */
	if (statement_ms != 0)
		snprintf(sql, sizeof sql,
			 "SET jit = off; SET statement_timeout = %u; SET "
			 "client_connection_check_interval = 1000; SET "
			 "idle_in_transaction_session_timeout = %u",
			 statement_ms, statement_ms * 2);
	else
		snprintf(sql, sizeof sql,
			 "SET jit = off; SET statement_timeout = 0; SET "
			 "client_connection_check_interval = 1000");
	r = exec_bounded(c, sql, NULL, 0, NULL);
	ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok;
}

/* libpq keywords every connection adds to the configured string: TCP keepalives and a
 * TCP user timeout, so a peer that vanished is noticed within seconds, not minutes. */
#define CONN_KEYS                                                                                  \
	"dbname", "connect_timeout", "application_name", "keepalives", "keepalives_idle",          \
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout"
#define CONN_VALUES(url, name) url, "3", name, "1", "5", "2", "3", "10000"

static bool too_late(uint64_t started_us);

/* PQconnectdbParams with the waits bounded like statements' (too_late) and by
 * CONNECT_MAX_US: a postmaster that accepts TCP but never answers costs no more. */
static PGconn *connect_bounded(const char *const *keys, const char *const *values)
{
	uint64_t start = log_monotonic_us();
	PGconn *c = PQconnectStartParams(keys, values, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	tl_connect_late = false;
	if (c == NULL || PQstatus(c) == CONNECTION_BAD)
		return c;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};

		if (too_late(start) || log_monotonic_us() - start > CONNECT_MAX_US) {
			PQfinish(c);
			tl_connect_late = true;
			return NULL;
		}
		if (poll(&p, 1, WAIT_SLICE_MS) != 0)
			st = PQconnectPoll(c);
	}
	return c;
}

static PGconn *connect_now(enum db_rc *rc)
{
	static const char *const keys[] = {CONN_KEYS, NULL};
	const char *name = tl_replica                  ? "finregd-read"
			   : tl_pooled || !tl_app_name ? "finregd"
						       : tl_app_name;
	const char *values[] = {CONN_VALUES(tl_replica ? db_route_read_url() : db_url, name), NULL};
	uint64_t now = log_monotonic_us();
	PGconn *c;

	if (tl_failed_at != 0 && now - tl_failed_at < CONNECT_BACKOFF_US) {
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	db_route_connecting(true);
	c = connect_bounded(keys, values);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		db_route_connecting(false);
		if (tl_gave_way) { /* not a failure: no back-off for the request that takes it */
			PQfinish(c);
			*rc = DB_UNAVAILABLE;
			return NULL;
		}
		if (tl_failed_at == 0)
			LOG_WARN("database connection failed: %s",
				 c                 ? PQerrorMessage(c)
				 : tl_connect_late ? "no answer within the connect deadline"
						   : "out of memory");
		PQfinish(c);
		if (!tl_is_checker)
			metrics_db_connect_failure();
		tl_failed_at = now == 0 ? 1 : now;
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	if (tl_had_conn && !tl_is_checker)
		metrics_db_reconnect();
	if (tl_failed_at != 0)
		LOG_INFO("database connection re-established");
	tl_had_conn = true;
	tl_failed_at = 0;
	if (!session_setup(c)) {
		db_route_connecting(false);
		PQfinish(c);
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	db_route_connecting(false);
	db_route_connected(c, tl_replica, log_monotonic_us() - now);
	return c;
}

PGconn *db_connect_fresh(const char *application_name, enum db_rc *rc)
{
	static const char *const keys[] = {CONN_KEYS, NULL};
	const char *read_url = db_route_fresh_url();
	const char *values[] = {CONN_VALUES(read_url ? read_url : db_url, application_name), NULL};
	PGconn *c = connect_bounded(keys, values);

	if (read_url != NULL && (c == NULL || PQstatus(c) != CONNECTION_OK)) {
		PQfinish(c); /* the replica is away: read on the primary */
		values[0] = db_url;
		c = connect_bounded(keys, values);
	}

	if (c == NULL || PQstatus(c) != CONNECTION_OK || !session_setup(c)) {
		metrics_db_connect_failure();
		PQfinish(c);
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	/* Left non-blocking: its owner waits through db_run_sql() or db_wait_ready(), each
	 * wait bounded as a pooled connection's are (keepalives do not notice a server that
	 * is stopped but whose kernel still answers). */
	*rc = DB_OK;
	return c;
}

/* Whether the health checker's probe has gone unanswered for HEALTH_STALE_US: the
 * database (or the way to it) hangs. A database that is down refuses at once and is not
 * "hanging": then every request tries for itself, and the first after a restart
 * reconnects. */
static bool database_hangs(void)
{
	uint64_t probe = atomic_load(&health_probe_us);

	return !tl_is_checker && atomic_load(&health_on) &&
	       (atomic_load(&health_hung) ||
		(probe != 0 && log_monotonic_us() - probe > HEALTH_STALE_US));
}

/* Whether a statement started at @a started_us has waited too long: past this thread's
 * deadline, or past HEALTH_STALE_US while the health checker has had no answer either
 * (the database hangs: every waiting thread gives up together, within a second). */
static bool too_late(uint64_t started_us)
{
	uint64_t now = log_monotonic_us(), waited = now - started_us;
	unsigned ms = tl_deadline_ms != 0 ? tl_deadline_ms
		      : statement_ms != 0 ? statement_ms + CLIENT_MARGIN_MS
					  : 0;

	if (ms != 0 && waited > (uint64_t)ms * 1000u) {
		tl_late_by_time = true;
		return true;
	}
	if (tl_yields && atomic_load(&pool_requests) > 0) {
		tl_gave_way = true; /* the connection is dropped: the request makes its own */
		return true;
	}
	if (tl_stop_fn != NULL && tl_stop_fn(tl_stop_cls)) {
		tl_gave_way = true; /* its thread stops: what the statement did rolls back */
		return true;
	}
	return waited > HEALTH_STALE_US && database_hangs();
}

/* Sends what is pending and reads what has arrived until a result can be taken without
 * blocking; false when the deadline passed first. */
static bool wait_ready(PGconn *c, uint64_t started_us)
{
	for (;;) {
		int f = PQflush(c);
		struct pollfd p = {PQsocket(c), POLLIN, 0};

		if (f < 0 || (f == 0 && !PQisBusy(c)))
			return true; /* a failure shows in PQgetResult */
		if (too_late(started_us))
			return false;
		if (f == 1)
			p.events |= POLLOUT;
		if (poll(&p, 1, WAIT_SLICE_MS) > 0 && (p.revents & ~POLLOUT) != 0 &&
		    !PQconsumeInput(c))
			return true;
	}
}

/* Runs one query (SQL text; a prepared statement @a name; or, with @a n == -1, prepares
 * @a sql as @a name) with the asynchronous API so that no wait passes the deadline
 * (too_late). Returns the last result, NULL when the deadline passed: the connection is
 * then marked broken and dropped by the next call (PQcancel is not used: in PostgreSQL 15
 * it waits without bound for a postmaster that does not answer; the server's own
 * statement_timeout ends the statement there). */
static PGresult *exec_bounded(PGconn *c, const char *sql, const char *name, int n,
			      const char *const *params)
{
	uint64_t started = log_monotonic_us();
	PGresult *last = NULL, *r;
	int sent;

	tl_late = false;
	tl_late_by_time = false;
	if (name == NULL)
		sent = PQsendQuery(c, sql);
	else if (n < 0)
		sent = PQsendPrepare(c, name, sql, 0, NULL);
	else
		sent = PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0);
	if (!sent)
		return NULL;
	for (;;) {
		if (!wait_ready(c, started)) {
			PQclear(last);
			tl_late = true;
			tl_broken = true;
			if (tl_gave_way) { /* dropped by choice: its next connect is no reconnect */
				tl_had_conn = false;
				return NULL;
			}
			LOG_WARN("database statement %s passed its deadline after %llu ms",
				 name != NULL ? name : "(text)",
				 (unsigned long long)((log_monotonic_us() - started) / 1000u));
			return NULL;
		}
		r = PQgetResult(c);
		if (r == NULL)
			return last;
		if (last != NULL && PQresultStatus(last) == PGRES_FATAL_ERROR) {
			PQclear(r); /* keep the first error */
			continue;
		}
		PQclear(last);
		last = r;
	}
}

void db_thread_stops_when(bool (*fn)(void *cls), void *cls)
{
	tl_stop_fn = fn;
	tl_stop_cls = cls;
}

bool db_thread_stopping(void)
{
	return tl_stop_fn != NULL && tl_stop_fn(tl_stop_cls);
}

void db_set_statement_timeout(unsigned ms)
{
	statement_ms = ms;
}

bool db_last_timed_out(void)
{
	return tl_timed_out;
}

unsigned db_statement_timeout(void)
{
	return statement_ms;
}

static PGconn *get_conn(enum db_rc *rc);
static enum db_rc check_schema(PGconn *c);

/* The health checker: its own connection asks the schema version every HEALTH_EVERY_MS
 * with a HEALTH_PROBE_MS deadline; /readyz answers from what it saw last. */
static void *health_run(void *cls)
{
	struct timespec ts = {0, HEALTH_EVERY_MS * 1000000L};

	(void)cls;
	tl_is_checker = true;
	db_thread_name("finregd-health");
	tl_deadline_ms = HEALTH_PROBE_MS;
	while (!atomic_load(&health_stopping)) {
		enum db_rc rc;
		uint64_t start = log_monotonic_us();
		PGconn *c;

		atomic_store(&health_probe_us, start);
		c = get_conn(&rc);
		if (c != NULL)
			rc = check_schema(c);
		atomic_store(&health_rc, rc == DB_ERROR ? DB_UNAVAILABLE : rc);
		atomic_store(&health_hung, log_monotonic_us() - start > HEALTH_STALE_US);
		atomic_store(&health_probe_us, 0);
		nanosleep(&ts, NULL);
	}
	db_disconnect();
	return NULL;
}

bool db_health_start(void)
{
	atomic_store(&health_probe_us, 0);
	atomic_store(&health_rc, -1);
	atomic_store(&health_stopping, false);
	if (pthread_create(&health_thread, NULL, health_run, NULL) != 0)
		return false;
	atomic_store(&health_on, true);
	return true;
}

void db_health_stop(void)
{
	if (!atomic_load(&health_on))
		return;
	atomic_store(&health_stopping, true);
	pthread_join(health_thread, NULL);
	atomic_store(&health_on, false);
}

const char *db_stmt_sql(const char *name)
{
	for (unsigned t = 0; stmt_tables[t] != NULL; t++)
		for (const struct db_stmt *s = stmt_tables[t]; s->name != NULL; s++)
			if (strcmp(s->name, name) == 0)
				return s->sql;
	return NULL;
}

static bool is_unavailable_state(const char *state)
{
	return state == NULL || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	       strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

/* A summary asked for and not built refuses its reads with 55P03 naming the table
 * summary_rebuilds (sql/guarantees.sql guarantee_outstanding_parts): planned, not a
 * database error. Counted each time, logged at most once every SUMMARY_REFUSAL_LOG_US. */
#define SUMMARY_REFUSAL_LOG_US 600000000u              /* 10 minutes */
static atomic_uint_fast64_t summary_refusal_logged_us; /* 0: never */

static bool summary_not_built(const PGresult *r)
{
	const char *table = PQresultErrorField(r, PG_DIAG_TABLE_NAME);

	return table != NULL && strcmp(table, "summary_rebuilds") == 0;
}

static void note_summary_refusal(const PGresult *r)
{
	uint64_t now = log_monotonic_us();
	uint_fast64_t last = atomic_load(&summary_refusal_logged_us);

	metrics_db_summary_refusal();
	if (last != 0 && now - last < SUMMARY_REFUSAL_LOG_US)
		return;
	if (atomic_compare_exchange_strong(&summary_refusal_logged_us, &last, now))
		LOG_INFO("%s: its reads answer 503 until finregd migrate builds it (said at "
			 "most every 10 minutes; finreg_db_summary_refusals_total counts them)",
			 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
}

/* Classifies a failed result; clears it. */
static enum db_rc classify(PGconn *c, PGresult *r, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	enum db_rc rc;

	tl_lock_refused = state != NULL && strcmp(state, "55P03") == 0;
	/* The server's statement_timeout (57014, or a pg_cancel_backend), or finregd's own
	 * deadline a second later when the server's cancel did not come (exec_bounded); not a
	 * statement given up because the health check says the database hangs. */
	tl_timed_out = (state != NULL && strcmp(state, "57014") == 0) ||
		       (r == NULL && tl_late && tl_late_by_time);
	if (PQstatus(c) == CONNECTION_BAD || is_unavailable_state(state)) {
		tl_broken = true;
		rc = DB_UNAVAILABLE;
		if (!tl_is_checker)
			metrics_db_error();
	} else if (strcmp(state, "25006") == 0) {
		rc = DB_READ_ONLY; /* read_only_sql_transaction: a standby */
		db_route_saw_read_only(tl_replica);
	} else if (strcmp(state, "55P03") == 0 && summary_not_built(r)) {
		rc = DB_UNAVAILABLE; /* 503 with Retry-After, as for a lock timeout */
		note_summary_refusal(r);
	} else if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0) {
		/* statement_timeout or lock_timeout: the statement waited too long (on a lock
		 * another session holds, or a busy server); the connection is fine, and the
		 * caller answers 503 with Retry-After, as the option promises. */
		rc = DB_UNAVAILABLE;
		metrics_db_error();
		LOG_WARN("statement %s: %s", what, PQresultErrorMessage(r));
	} else if (strcmp(state, "23505") == 0) {
		rc = DB_CONFLICT;
	} else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		rc = DB_SERIALIZATION;
	} else if (strcmp(state, "22003") == 0) {
		/* numeric_value_out_of_range: in practice a figure that passed what 64 bits of
		 * fen hold, from absurd amounts in the rows the statement read (the summaries
		 * keep such sums, migration 025; finregd checks every value it sends). The
		 * caller answers 500 without details, which reply.c logs as well. */
		rc = DB_ERROR;
		metrics_db_error();
		LOG_WARN("statement %s: a figure is out of range: %s", what,
			 PQresultErrorMessage(r));
	} else {
		metrics_db_error();
		LOG_BUG("statement %s failed: %s", what, PQresultErrorMessage(r));
		rc = DB_ERROR;
	}
	PQclear(r);
	return rc;
}

static PGresult *check_result(PGconn *c, PGresult *r, const char *what, enum db_rc *rc)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*rc = DB_OK;
		return r;
	}
	*rc = classify(c, r, what);
	return NULL;
}

PGresult *db_run(PGconn *c, const char *name, int n, const char *const *params, enum db_rc *rc)
{
	return check_result(c, exec_bounded(c, NULL, name, n, params), name, rc);
}

PGresult *db_run_sql(PGconn *c, const char *sql, enum db_rc *rc)
{
	return check_result(c, exec_bounded(c, sql, NULL, 0, NULL), sql, rc);
}

bool db_wait_ready(PGconn *c)
{
	return wait_ready(c, log_monotonic_us());
}

unsigned db_deadline_set(unsigned ms)
{
	unsigned before = tl_deadline_ms;

	tl_deadline_ms = ms;
	return before;
}

/* DB_OK when the schema is at least as new as this binary. */
static enum db_rc check_schema(PGconn *c)
{
	PGresult *r = exec_bounded(
	    c, "SELECT coalesce(max(version), 0), pg_is_in_recovery() FROM schema_migrations", NULL,
	    0, NULL);
	enum db_rc rc = DB_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		if (state != NULL && strcmp(state, "42P01") == 0) {
			PQclear(r);
			return DB_PENDING_MIGRATIONS;
		}
		return classify(c, r, "schema version");
	}
	if (atoi(PQgetvalue(r, 0, 0)) < db_schema_version_expected())
		rc = DB_PENDING_MIGRATIONS;
	if (!tl_replica)
		db_route_note_standby(strcmp(PQgetvalue(r, 0, 1), "t") == 0);
	PQclear(r);
	return rc;
}

static enum db_rc prepare_all(PGconn *c)
{
	for (unsigned t = 0; stmt_tables[t] != NULL; t++) {
		for (const struct db_stmt *s = stmt_tables[t]; s->name != NULL; s++) {
			enum db_rc rc;
			PGresult *r = check_result(c, exec_bounded(c, s->sql, s->name, -1, NULL),
						   s->name, &rc);

			if (r == NULL)
				return rc;
			PQclear(r);
		}
	}
	return DB_OK;
}

static PGconn *get_conn(enum db_rc *rc)
{
	if (database_hangs()) {
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	if (tl_conn != NULL && (tl_broken || PQstatus(tl_conn) != CONNECTION_OK))
		db_disconnect();
	if (tl_conn == NULL) {
		tl_conn = connect_now(rc);
		if (tl_conn != NULL)
			pthread_setspecific(conn_key, tl_conn);
	}
	return tl_conn;
}

PGconn *db_get_unprepared(enum db_rc *rc)
{
	return get_conn(rc);
}

/* A generic plan is made once per session and kept until something invalidates it, such
 * as an ANALYZE. Made while the tables of a new registry are empty, it picks indexes by a
 * tie: the look-up of a loan by (bank_code, loan_ref) went through loans_bank_id and read
 * every loan of the bank per item, so a new registry's first minutes ingested at a third
 * of the speed (autovacuum's ANALYZE may be a minute away, and the loans arrive meanwhile).
 * So every connection drops its plans when the loans table has doubled in size since the
 * last time (db_plans_note_size, from the compactor every second; from 8 pages on), and
 * they are made again from the tables' current size: at 8, 16, 32 ... pages, ever less
 * often while a registry grows, and about 17 times in a registry's life up to 8 GB. */
#define PLANS_FIRST_PAGES 8
static atomic_uint plan_epoch;
/* The size the plans were last made at (the compactor's thread only). 0 at a start: the
 * warm-up and the first requests plan before the compactor's first look, which may come
 * after a first batch has grown the table, so the first look at 8 pages or more plans again
 * (on a registry in use that is one re-plan per connection after a start). */
static int64_t epoch_pages;

void db_plans_note_size(int64_t pages)
{
	/* Shrunk to less than half (a vacuum truncated dead pages: the warm-up's rolled-back
	 * rehearsals leave ~80 pages a connection): plans made from now on see a small table,
	 * so the doublings count again from here. Without this, plans made after the warm-up's
	 * pages were vacuumed away served an empty registry's first 20,000 loans at a third of
	 * the rate (bench/fresh with a pause before its first round). */
	if (pages < epoch_pages / 2) {
		LOG_INFO("plans: the loans table shrank to %lld pages; plans again as it grows",
			 (long long)pages);
		epoch_pages = pages;
		return;
	}
	if (pages >= PLANS_FIRST_PAGES && pages >= 2 * epoch_pages) {
		epoch_pages = pages;
		atomic_fetch_add(&plan_epoch, 1);
		LOG_INFO("plans: the loans table is at %lld pages, connections plan again",
			 (long long)pages);
	}
}

static void replan_when_grown(PGconn *c)
{
	enum db_rc rc;
	unsigned epoch = atomic_load(&plan_epoch);

	if (epoch == tl_plan_epoch)
		return;
	tl_plan_epoch = epoch;
	PQclear(db_run_sql(c, "DISCARD PLANS", &rc));
}

PGconn *db_get(enum db_rc *rc)
{
	PGconn *c = get_conn(rc);

	if (c != NULL && tl_prepared)
		replan_when_grown(c);
	if (c == NULL || tl_prepared)
		return c;
	*rc = check_schema(c);
	if (*rc == DB_OK)
		*rc = prepare_all(c);
	if (*rc != DB_OK) {
		if (*rc != DB_PENDING_MIGRATIONS)
			db_disconnect();
		return NULL;
	}
	tl_prepared = true;
	tl_plan_epoch = atomic_load(&plan_epoch);
	return c;
}

/* The fallback without a health checker: a statement of this thread (on a pooled thread,
 * a borrowed connection). */
static enum db_rc readiness_here(void)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		enum db_rc rc;
		PGconn *c = get_conn(&rc);

		if (c == NULL)
			return rc;
		rc = check_schema(c);
		db_route_connected(c, tl_replica, 0);
		if (rc == DB_UNAVAILABLE && attempt == 0)
			continue;
		return rc == DB_ERROR ? DB_UNAVAILABLE : rc;
	}
	return DB_UNAVAILABLE;
}

enum db_rc db_readiness(void)
{
	enum db_rc rc;

	if (database_hangs())
		return DB_UNAVAILABLE;
	if (atomic_load(&health_on)) {
		/* Answered from the health checker, never from a statement of this thread (a
		 * connection thread: /readyz never waits on the database or the pool): just
		 * after start, its first probe is waited for, briefly. */
		struct timespec ts = {0, 10 * 1000 * 1000};
		uint64_t until = log_monotonic_us() + HEALTH_STALE_US;

		while (atomic_load(&health_rc) < 0 && log_monotonic_us() < until)
			nanosleep(&ts, NULL);
		return atomic_load(&health_rc) >= 0 ? (enum db_rc)atomic_load(&health_rc)
						    : DB_UNAVAILABLE;
	}
	if (!lease_begin(&rc))
		return rc;
	rc = readiness_here();
	lease_end();
	return rc;
}

static void rollback(PGconn *c)
{
	enum db_rc rc;

	if (tl_broken)
		return;
	PQclear(db_run_sql(c, "ROLLBACK", &rc));
}

static void backoff(int attempt)
{
	struct timespec ts = {0, (long)(1000000L << attempt) + (rand() % 1000000)};

	nanosleep(&ts, NULL);
}

static enum db_rc tx_here(db_work_fn fn, void *cls, bool serializable);

/* Closes this thread's (or its lease's) connection at once when a statement on it was given
 * up (exec_bounded: a deadline, a hung database, the warm-up giving way, a stop). Left for
 * its next user to drop, as it was until 3 December 2026, its backend finished the
 * statement and sat idle in the transaction, holding its locks, for as long as nobody used
 * that pooled connection (with one client at a time, never): found in CI, a CREATE
 * TRIGGER waiting on it for good. Closed, the backend sees the client gone (at once, or
 * within client_connection_check_interval while its statement runs) and rolls back. */
static _Thread_local int tl_calls; /* db_tx and db_once calls in progress on this thread */

static void drop_if_broken(void)
{
	/* Only at the outermost call's end: a nested one's caller may still hold the
	 * connection (none nests today; then it would be freed under it). */
	if (tl_calls == 1 && tl_broken && tl_conn != NULL)
		db_disconnect();
}

enum db_rc db_tx(db_work_fn fn, void *cls, bool serializable)
{
	enum db_rc rc;

	if (!lease_begin(&rc))
		return rc;
	tl_calls++;
	tl_timed_out = false;
	db_route_busy(1);
	rc = tx_here(fn, cls, serializable);
	db_route_busy(-1);
	drop_if_broken();
	tl_calls--;
	lease_end();
	return rc;
}

static enum db_rc tx_here(db_work_fn fn, void *cls, bool serializable)
{
	const char *begin = serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN";

	for (int attempt = 0; attempt < DB_TX_ATTEMPTS; attempt++) {
		enum db_rc rc;
		PGconn *c = db_get(&rc);
		PGresult *r;

		if (c == NULL)
			return rc;
		r = db_run_sql(c, begin, &rc);
		if (r == NULL) {
			if (rc == DB_UNAVAILABLE && attempt == 0 && !tl_late)
				continue; /* a stale connection: nothing was sent yet */
			return rc == DB_SERIALIZATION ? DB_ERROR : rc;
		}
		PQclear(r);
		tl_no_memory = false;
		rc = fn(c, cls);
		if (tl_no_memory && rc == DB_OK)
			rc = DB_NO_MEMORY; /* rolled back below: nothing half-read is stored */
		if (rc == DB_OK) {
			r = db_run_sql(c, "COMMIT", &rc);
			if (r != NULL) {
				PQclear(r);
				return DB_OK;
			}
			if (rc == DB_SERIALIZATION) {
				backoff(attempt);
				continue;
			}
			return rc == DB_CONFLICT ? DB_CONFLICT : DB_UNAVAILABLE;
		}
		rollback(c);
		if (rc == DB_SERIALIZATION) {
			backoff(attempt);
			continue;
		}
		if (rc == DB_UNAVAILABLE && attempt == 0 && tl_broken && !tl_late)
			continue; /* lost before COMMIT: nothing was stored; try once more */
		return rc;
	}
	LOG_WARN("transaction gave up after %d serialization failures", DB_TX_ATTEMPTS);
	return DB_UNAVAILABLE;
}

static enum db_rc once_here(db_work_fn fn, void *cls)
{
	bool reconnected = false;

	for (int attempt = 0; attempt < DB_TX_ATTEMPTS; attempt++) {
		enum db_rc rc;
		PGconn *c = db_get(&rc);

		if (c == NULL)
			return rc;
		tl_no_memory = false;
		rc = fn(c, cls);
		if (tl_no_memory)
			return DB_NO_MEMORY;
		if (rc == DB_UNAVAILABLE && !reconnected && tl_broken && !tl_late) {
			reconnected = true;
			continue;
		}
		if (rc == DB_SERIALIZATION) {
			backoff(attempt);
			continue;
		}
		return rc;
	}
	LOG_WARN("statement gave up after %d serialization failures", DB_TX_ATTEMPTS);
	return DB_UNAVAILABLE;
}

/* In a read scope (db/route.h) the statement runs on the thread's replica connection when
 * the replica is up and close enough; when that fails it runs on the primary. */
enum db_rc db_once(db_work_fn fn, void *cls)
{
	struct db_conn_slot *replica;
	enum db_rc rc;

	if (!lease_begin(&rc))
		return rc;
	tl_calls++;
	replica = db_route_enter();
	db_route_busy(1);
	tl_lock_refused = false;
	tl_timed_out = false;
	rc = once_here(fn, cls);
	if (replica != NULL) {
		/* A read the replica refused for its data (a summary not built yet there, 503)
		 * is asked of the primary, but the replica is not taken for a failed one: until
		 * 3 December every such read sent every read to the primary for a second. */
		db_route_leave(replica, rc == DB_UNAVAILABLE && tl_lock_refused ? DB_ERROR : rc);
		if (rc == DB_UNAVAILABLE || rc == DB_PENDING_MIGRATIONS || rc == DB_ERROR)
			rc = once_here(fn, cls);
	}
	db_route_busy(-1);
	drop_if_broken();
	tl_calls--;
	lease_end();
	return rc;
}

char *db_value_dup(const PGresult *r, int row, int col)
{
	char *s;

	if (PQgetisnull(r, row, col))
		return NULL;
	s = strdup(PQgetvalue(r, row, col));
	if (s == NULL)
		db_note_no_memory();
	return s;
}

void db_note_no_memory(void)
{
	LOG_WARN("out of memory reading a database answer");
	tl_no_memory = true;
}

void db_value_copy(char *dst, size_t len, const PGresult *r, int row, int col)
{
	snprintf(dst, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t db_value_int(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool db_value_int_in_range(const PGresult *r, int row, int col, int64_t *v)
{
	long long x;

	if (PQgetisnull(r, row, col)) {
		*v = 0;
		return true;
	}
	errno = 0;
	x = strtoll(PQgetvalue(r, row, col), NULL, 10);
	if (errno == ERANGE)
		return false;
	*v = x;
	return true;
}

/* One statement and what to do with its rows (db_rows, db_write_row). */
struct stmt_call {
	const char *stmt;
	int n;
	const char *const *params;
	db_row_fn fn;
	void *cls;
};

static enum db_rc do_rows(PGconn *c, void *cls)
{
	struct stmt_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	if (r == NULL)
		return rc;
	for (int i = 0; i < PQntuples(r); i++)
		s->fn(s->cls, r, i);
	PQclear(r);
	return DB_OK;
}

enum db_rc db_rows(const char *stmt, int n, const char *const *params, db_row_fn fn, void *cls)
{
	struct stmt_call s = {stmt, n, params, fn, cls};

	return db_once(do_rows, &s);
}

static enum db_rc do_write_row(PGconn *c, void *cls)
{
	struct stmt_call *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	if (r == NULL)
		return rc;
	if (PQntuples(r) != 1) {
		LOG_BUG("%s returned %d rows", s->stmt, PQntuples(r));
		PQclear(r);
		return DB_ERROR;
	}
	s->fn(s->cls, r, 0);
	PQclear(r);
	return DB_OK;
}

enum db_rc db_write_row(const char *stmt, int n, const char *const *params, db_row_fn read,
			void *cls)
{
	struct stmt_call s = {stmt, n, params, read, cls};

	return db_tx(do_write_row, &s, false);
}

void db_outcome_clear(struct db_outcome *o)
{
	free(o->message);
	free(o->body);
	memset(o, 0, sizeof *o);
}

/* Reads an outcome row: status, code, field, message, body. */
static void read_outcome(void *cls, const PGresult *r, int row)
{
	struct db_outcome *o = cls;

	db_outcome_clear(o);
	db_value_copy(o->status, sizeof o->status, r, row, 0);
	db_value_copy(o->code, sizeof o->code, r, row, 1);
	db_value_copy(o->field, sizeof o->field, r, row, 2);
	o->message = db_value_dup(r, row, 3);
	o->body = db_value_dup(r, row, 4);
}

enum db_rc db_write_outcome(const char *stmt, int n, const char *const *params,
			    struct db_outcome *out)
{
	memset(out, 0, sizeof *out);
	return db_write_row(stmt, n, params, read_outcome, out);
}

struct json_one {
	const char *stmt;
	int n;
	const char *const *params;
	char *json;
};

static enum db_rc do_json_one(PGconn *c, void *cls)
{
	struct json_one *s = cls;
	enum db_rc rc;
	PGresult *r = db_run(c, s->stmt, s->n, s->params, &rc);

	if (r == NULL)
		return rc;
	free(s->json);
	s->json = PQntuples(r) == 1 ? db_value_dup(r, 0, 0) : NULL;
	PQclear(r);
	return s->json != NULL ? DB_OK : DB_NOT_FOUND;
}

enum db_rc db_json_one(const char *stmt, int n, const char *const *params, char **json)
{
	struct json_one s = {stmt, n, params, NULL};
	enum db_rc rc = db_once(do_json_one, &s);

	*json = s.json;
	return rc;
}

struct json_rows {
	json_row_fn fn;
	void *cls;
};

static void json_row(void *cls, const PGresult *r, int row)
{
	struct json_rows *j = cls;

	j->fn(j->cls, strtoll(PQgetvalue(r, row, 0), NULL, 10),
	      PQgetisnull(r, row, 1) ? NULL : PQgetvalue(r, row, 1));
}

enum db_rc db_json_rows(const char *stmt, int n, const char *const *params, json_row_fn fn,
			void *cls)
{
	struct json_rows j = {fn, cls};

	return db_rows(stmt, n, params, json_row, &j);
}

#define PAGE_MAX_FILTERS 14

enum db_rc db_json_page(const char *stmt, int n, const char *const *filters, int64_t after_id,
			int limit, json_row_fn fn, void *cls)
{
	const char *params[PAGE_MAX_FILTERS + 2];
	char after[24], lim[16];

	if (n > PAGE_MAX_FILTERS) {
		LOG_BUG("%s: %d filters", stmt, n);
		return DB_ERROR;
	}
	for (int i = 0; i < n; i++)
		params[i] = filters[i];
	snprintf(after, sizeof after, "%lld", (long long)after_id);
	snprintf(lim, sizeof lim, "%d", limit);
	params[n] = after;
	params[n + 1] = lim;
	return db_json_rows(stmt, n + 2, params, fn, cls);
}
