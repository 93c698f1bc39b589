/* The database layer's public face: outcomes, set-up and readiness. Only files in db/
 * include libpq; handlers call the area functions (principals.h, ...) that use this. */
#ifndef FINREG_DB_H
#define FINREG_DB_H

#include <stdbool.h>
#include <stdint.h>

/** Outcome of a database operation. */
enum db_rc {
	DB_OK = 0,
	DB_NOT_FOUND,          /* no row where one was expected */
	DB_CONFLICT,           /* unique violation or a lost race the caller must report */
	DB_ABORT,              /* the caller's callback asked for a rollback; see its state */
	DB_UNAVAILABLE,        /* cannot reach the database, or the outcome is unknown */
	DB_PENDING_MIGRATIONS, /* reachable, but the schema is older than this binary */
	DB_READ_ONLY,          /* the database is a standby: writes go to the primary */
	DB_SERIALIZATION,      /* internal: retried by db_tx, never returned from it */
	DB_ERROR,              /* a bug or an unexpected database error; logged */
	DB_BUSY,               /* a cap on concurrent use is reached (exports); retry later */
	DB_NO_MEMORY,          /* this process ran out of memory reading the answer; retry later */
};

/** What the database said about one write of the whitelist, guarantees, referrals or
 *  supply-chain programs (each area's header says which statuses and codes it gives).
 *  message and body are owned by the outcome; db_outcome_clear() frees them. */
struct db_outcome {
	char status[16]; /* created | updated | unchanged | removed | released | left | rejected */
	char code[24];   /* when rejected: "conflict", "not_found" or "invalid_field" */
	char field[32];  /* field (path) the rejection names, or "" */
	char *message;   /* NULL when none */
	char *body;      /* the record written as JSON text, unless rejected */
};

/** Frees the strings of @a o and zeroes it. */
void db_outcome_clear(struct db_outcome *o);

/** Called per listed row with its id and JSON text (valid during the call only; the
 *  callee copies what it keeps). A list page whose walk stopped at its bound before it
 *  filled ends with a row of NULL text: its id is the last one examined, where the next
 *  page resumes (sql/common.sql list_scan_rows_max). */
typedef void (*json_row_fn)(void *cls, int64_t id, const char *json);

/** Sets the libpq connection string used by every thread's connection. The string is
 *  not copied: it must live as long as the process (it comes from the config). */
void db_configure(const char *url);

/** Opens the request path's pool: @a n connections (FINREG_THREADS, opened lazily), each
 *  lent to one db_tx/db_once of a thread that called db_pool_join() at a time. A thread
 *  waits at most @a wait_ms for a free one; then the call answers DB_UNAVAILABLE. */
bool db_pool_start(unsigned n, unsigned wait_ms);

/** Makes this thread (a server connection's) borrow from the pool instead of opening a
 *  connection of its own. Cheap: call it on every entry from the HTTP library. */
void db_pool_join(void);

/** Stops lending: threads waiting for a connection, and later ones, get DB_UNAVAILABLE
 *  at once (db_pool_stopping() then says why); lent connections come back as usual. */
void db_pool_stop(void);
bool db_pool_stopping(void);

/** Closes the pool's connections (every thread that borrowed has ended). */
void db_pool_close(void);

/** For the warm-up (warm_up.h): calls @a fn once on each of the pool's connections in
 *  turn, lent to this thread (which joins the pool) only while no request holds or waits
 *  for any (it waits for that, 50 ms at a time); an entry a request holds, or whose
 *  connection a request already made, is skipped. While @a fn runs, a request that asks
 *  for a connection makes fn's wait (statement or connect) end at once: the connection
 *  is dropped, *gave_way set. Stops at the first call that answers false, after giving
 *  way, or when the pool stops. Returns how many calls answered true. */
unsigned db_pool_each(bool (*fn)(void *cls), void *cls, bool *gave_way);

/** For /metrics. */
struct db_pool_stats {
	unsigned size, busy, waiting; /* connections; lent now; threads waiting for one */
	uint64_t timeouts;            /* waits that ended without one (503) */
};
void db_pool_stats(struct db_pool_stats *out);

/** Names this thread's own connections (application_name in pg_stat_activity), for a
 *  background thread: "finregd-compactor", "finregd-health", ... . The pooled connections
 *  are "finregd" and their replica ones "finregd-read" whoever opens them. @a name must
 *  outlive the thread (a literal); NULL: "finregd". */
void db_thread_name(const char *name);

/** Makes this thread's waits for the database end as soon as @a fn(@a cls) is true (its
 *  thread is stopping): the statement's connection is dropped (its backend notices within
 *  a second and rolls it back) and the call fails (DB_UNAVAILABLE) without a warning. For a
 * background thread whose statement may run long (a fold, an LPR recheck), so that it does not hold
 * up a stop. */
void db_thread_stops_when(bool (*fn)(void *cls), void *cls);

/** Whether this thread's db_thread_stops_when test says it is stopping. */
bool db_thread_stopping(void);

/** Closes this thread's connection, if any (call on thread exit or in the CLI). */
void db_disconnect(void);

/** The loans table's size in pages, noted every second (the compactor): when it has
 *  doubled, every connection drops its generic plans before its next statement. */
void db_plans_note_size(int64_t pages);

/** Latest migration version this binary knows (compiled in). */
int db_schema_version_expected(void);

/** Bounds every statement of the server's connections: the server's statement_timeout
 *  is @a ms, and a client-side deadline of @a ms + 1 s ends the wait (503). 0: none. */
void db_set_statement_timeout(unsigned ms);

/** The statement timeout set by db_set_statement_timeout (0: unbounded). */
unsigned db_statement_timeout(void);

/** Whether this thread's last db_once / db_tx call failed because a statement passed its
 *  time: cancelled by the server (57014: the statement timeout, or pg_cancel_backend) or
 *  given up at finregd's own deadline a second later; not a database away (no connection,
 *  a health check that says it hangs) nor any other error. */
bool db_last_timed_out(void);

/** Starts (stops) the health checker: a thread that probes the database five times a
 *  second on its own connection. While it runs, db_readiness() answers at once from its
 *  last probe, and when the database stops answering, statements waiting on it give up
 *  and new ones fail at once (DB_UNAVAILABLE) until it answers again. */
bool db_health_start(void);
void db_health_stop(void);

/** Checks that the database is reachable and migrated: DB_OK, DB_PENDING_MIGRATIONS or
 *  DB_UNAVAILABLE. Reconnects this thread's connection when needed. */
enum db_rc db_readiness(void);

/** True when this instance's database (FINREG_DATABASE_URL) was last seen to be a
 *  read-only standby: writes then answer 503 and /readyz?write=1 says 503. */
bool db_is_read_only(void);

#endif
