/* Reads on replicas (route.h): each database connection (a pooled one, or a background
 * thread's own) has a second one beside it, to FINREG_READ_DATABASE_URL, swapped in for
 * the statements of a read scope while the replica is reachable and its replay lag is
 * within the bound. One thread at a time measures the lag, at most every CHECK_EVERY_US;
 * a replica that fails is left alone for a while (check_lag). Also: whether the primary URL is a
 * standby (read-only), and the gauges of connections busy and waiting. */
#include "db/route_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CHECK_EVERY_US    500000u
#define DOWN_FOR_US       1000000u
#define SLOW_CONNECT_US   1000000u
#define CHECK_DEADLINE_MS 1000u
#define DOWN_DOUBLINGS    4u /* DOWN_FOR_US, doubled at most this often: 16 s */
#define DOWN_MAX_US       ((uint64_t)DOWN_FOR_US << DOWN_DOUBLINGS)

static const char *read_url = "";
static unsigned max_lag_ms = 1000;

static atomic_bool replica_ok;          /* last check: reachable and within the bound */
static atomic_bool replica_seen;        /* a check has succeeded at least once */
static atomic_int_fast64_t lag_us = -1; /* last measured replay lag */
static atomic_uint_fast64_t checked_at; /* monotonic µs of the last check */
static atomic_uint_fast64_t down_until;
static atomic_uint down_failures; /* checks failed in a row */
static atomic_uint_fast64_t reads_replica, reads_primary, read_fallbacks, slow_waits;
static atomic_bool read_only;
static atomic_int_fast64_t busy, waiting;

static _Thread_local bool tl_scope;
static _Thread_local struct db_conn_slot tl_slot = {.replica = true};

static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;

static void close_slot_at_exit(void *conn)
{
	PQfinish(conn);
}

static void make_slot_key(void)
{
	if (pthread_key_create(&slot_key, close_slot_at_exit) != 0)
		abort();
}

void db_read_configure(const char *url, unsigned max_lag)
{
	read_url = url != NULL ? url : "";
	max_lag_ms = max_lag;
	pthread_once(&slot_key_once, make_slot_key);
	if (*read_url != '\0')
		LOG_INFO(
		    "reads of lists, statistics and exports go to the replica while its lag is "
		    "under %u ms",
		    max_lag_ms);
}

void db_read_scope(bool on)
{
	tl_scope = on;
}

const char *db_route_read_url(void)
{
	return read_url;
}

static bool configured(void)
{
	return *read_url != '\0';
}

/* The replica's replay lag in µs (0 when it has replayed all it received, or is not in
 * recovery); -1 when it streams from nothing, so its lag cannot be known. */
static const char lag_sql[] =
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
    " WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL) THEN -1"
    " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE (extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1e6)::bigint END";

/* Runs on the swapped-in replica connection, connecting if need be, each step (connect,
 * session settings, the query) within CHECK_DEADLINE_MS: a replica that accepts
 * connections but never answers (stopped, or a proxy that stopped forwarding) holds the
 * read that checks it one to three times that, not forever, and is then left alone, as
 * one that refuses, for DOWN_FOR_US, twice as long after each further failure up to
 * DOWN_MAX_US. */
static void check_lag(uint64_t now)
{
	enum db_rc rc;
	unsigned deadline = db_deadline_set(CHECK_DEADLINE_MS);
	PGconn *c = db_get_unprepared(&rc);
	PGresult *r = c != NULL ? db_run_sql(c, lag_sql, &rc) : NULL;
	unsigned failures;
	int64_t lag;

	db_deadline_set(deadline);
	if (r == NULL || PQntuples(r) != 1) {
		if (atomic_exchange(&replica_ok, false) || !atomic_load(&replica_seen))
			LOG_WARN("read replica unusable, reads go to the primary: %s",
				 c == NULL            ? "cannot connect"
				 : *PQerrorMessage(c) ? PQerrorMessage(c)
						      : "no answer within the check's deadline");
		atomic_store(&replica_seen, true);
		failures = atomic_fetch_add(&down_failures, 1);
		atomic_store(&down_until, now + (failures >= DOWN_DOUBLINGS
						     ? DOWN_MAX_US
						     : (uint64_t)DOWN_FOR_US << failures));
		if (c != NULL)
			db_disconnect();
		PQclear(r);
		return;
	}
	lag = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	atomic_store(&down_failures, 0);
	atomic_store(&lag_us, lag);
	atomic_store(&replica_seen, true);
	bool ok = lag >= 0 && lag <= (int64_t)max_lag_ms * 1000;
	if (atomic_exchange(&replica_ok, ok) != ok)
		LOG_INFO(ok ? "read replica in use (lag %lld ms)"
			    : "read replica behind by %lld ms (or not streaming): reads go to the "
			      "primary",
			 (long long)(lag / 1000));
}

static struct db_conn_slot *swap_in(void)
{
	db_conn_swap(&tl_slot); /* tl_slot now holds the primary's state */
	return &tl_slot;
}

static struct db_conn_slot *stay_on_primary(void)
{
	if (tl_scope) {
		atomic_fetch_add(&reads_primary, 1);
		if (configured())
			atomic_fetch_add(&read_fallbacks, 1);
	}
	return NULL;
}

struct db_conn_slot *db_route_enter(void)
{
	uint64_t now, last;

	if (!tl_scope || !configured())
		return stay_on_primary();
	now = log_monotonic_us();
	if (now < atomic_load(&down_until))
		return stay_on_primary();
	last = atomic_load(&checked_at);
	if (now - last >= CHECK_EVERY_US &&
	    atomic_compare_exchange_strong(&checked_at, &last, now)) {
		swap_in();
		check_lag(now);
		if (!atomic_load(&replica_ok)) {
			db_conn_swap(&tl_slot);
			pthread_setspecific(slot_key, tl_slot.conn);
			return stay_on_primary();
		}
		return &tl_slot;
	}
	if (!atomic_load(&replica_ok))
		return stay_on_primary();
	return swap_in();
}

void db_route_swap_replica(struct db_conn_slot *other)
{
	struct db_conn_slot mine = tl_slot;

	tl_slot = *other;
	*other = mine;
	pthread_setspecific(slot_key, tl_slot.conn);
}

void db_route_leave(struct db_conn_slot *primary, enum db_rc rc)
{
	db_conn_swap(primary);
	pthread_setspecific(slot_key, primary->conn);
	if (rc == DB_OK || rc == DB_NOT_FOUND) {
		atomic_fetch_add(&reads_replica, 1);
		return;
	}
	if (rc == DB_UNAVAILABLE) {
		atomic_store(&replica_ok, false);
		atomic_store(&down_until, log_monotonic_us() + DOWN_FOR_US);
		LOG_WARN("read replica failed a read; reads go to the primary for a while");
	}
	atomic_fetch_add(&reads_primary, 1);
	atomic_fetch_add(&read_fallbacks, 1);
}

const char *db_route_fresh_url(void)
{
	if (!tl_scope || !configured() || !atomic_load(&replica_ok) ||
	    log_monotonic_us() < atomic_load(&down_until)) {
		if (tl_scope)
			stay_on_primary();
		return NULL;
	}
	atomic_fetch_add(&reads_replica, 1);
	return read_url;
}

void db_route_connected(PGconn *c, bool replica, uint64_t waited_us)
{
	const char *s = replica ? NULL : PQparameterStatus(c, "in_hot_standby");

	if (s != NULL) /* PostgreSQL 14+ reports it; not through pgbouncer */
		db_route_note_standby(strcmp(s, "on") == 0);
	if (waited_us >= SLOW_CONNECT_US) {
		atomic_fetch_add(&slow_waits, 1);
		LOG_WARN("waited %.1f s for a database connection%s: is the pool (pgbouncer "
			 "default_pool_size) smaller than the finregd threads using it? See "
			 "docs/operations.md, pool sizing",
			 (double)waited_us / 1e6, replica ? " to the read replica" : "");
	}
}

void db_route_note_standby(bool ro)
{
	if (atomic_exchange(&read_only, ro) != ro)
		LOG_INFO(ro ? "the database is a read-only standby: writes answer 503"
			    : "the database accepts writes");
}

void db_route_saw_read_only(bool replica)
{
	if (!replica && !atomic_exchange(&read_only, true))
		LOG_INFO("the database is a read-only standby: writes answer 503");
}

void db_route_connecting(bool on)
{
	atomic_fetch_add(&waiting, on ? 1 : -1);
}

void db_route_busy(int delta)
{
	atomic_fetch_add(&busy, delta);
}

bool db_is_read_only(void)
{
	return atomic_load(&read_only);
}

void db_route_stats(struct db_route_stats *o)
{
	int64_t lag = atomic_load(&lag_us);

	o->replica_configured = configured();
	o->replica_up = atomic_load(&replica_ok) && log_monotonic_us() >= atomic_load(&down_until);
	o->replica_lag_s = lag < 0 ? -1.0 : (double)lag / 1e6;
	o->reads_replica = atomic_load(&reads_replica);
	o->reads_primary = atomic_load(&reads_primary);
	o->read_fallbacks = atomic_load(&read_fallbacks);
	o->read_only = atomic_load(&read_only);
	o->conns_busy = atomic_load(&busy);
	o->conns_waiting = atomic_load(&waiting);
	o->conn_slow_waits = atomic_load(&slow_waits);
}
