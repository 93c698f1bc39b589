/* Shared by the files of db/ only: this thread's connection, statement execution with
 * error classification, and the transaction helper; and the helpers every area's
 * statements share: reading values, one-row writes, JSON reads and row callbacks. */
#ifndef FINREG_DB_INTERNAL_H
#define FINREG_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/** One thread's connection and its state; db_conn_swap() exchanges the thread's current
 *  one with another (route.c keeps each thread's replica connection in one). */
struct db_conn_slot {
	PGconn *conn;
	bool prepared;
	unsigned plan_epoch;
	bool broken;
	bool had_conn;
	uint64_t failed_at;
	bool replica; /* connected (or to connect) to FINREG_READ_DATABASE_URL */
};

/** Exchanges this thread's connection state with @a other. */
void db_conn_swap(struct db_conn_slot *other);

/** A named SQL statement, prepared on every connection at connect time. */
struct db_stmt {
	const char *name;
	const char *sql;
};

/** This thread's connection, connected and with every statement prepared; NULL with
 *  *rc set (DB_UNAVAILABLE or DB_PENDING_MIGRATIONS) when that is not possible. */
PGconn *db_get(enum db_rc *rc);

/** A new connection of the caller's own (not the thread's), named @a application_name in
 *  pg_stat_activity, no statements prepared, no back-off; the caller PQfinish()es it.
 *  NULL with *rc = DB_UNAVAILABLE on failure. */
PGconn *db_connect_fresh(const char *application_name, enum db_rc *rc);

/** The SQL text of statement @a name from the statement tables, or NULL. */
const char *db_stmt_sql(const char *name);

/** A plain connection for the CLI's migrate command: no statements prepared. */
PGconn *db_get_unprepared(enum db_rc *rc);

/**
 * Runs prepared statement @a name with @a n text parameters (NULL means SQL NULL).
 * Returns the result (the caller PQclear()s it) when the statement succeeded; otherwise
 * NULL with *rc saying why (DB_CONFLICT for a unique violation, DB_SERIALIZATION,
 * DB_UNAVAILABLE when the connection broke, DB_ERROR, logged, for anything else).
 */
PGresult *db_run(PGconn *c, const char *name, int n, const char *const *params, enum db_rc *rc);

/** Like db_run, for SQL text without parameters (BEGIN, COMMIT, migrations). */
PGresult *db_run_sql(PGconn *c, const char *sql, enum db_rc *rc);
/** Sends what is pending on @a c and waits until a result can be taken without blocking;
 *  false when this thread's deadline (the statement timeout's, by default) passed first. */
bool db_wait_ready(PGconn *c);

/** Sets this thread's deadline for each connect and statement to @a ms (0: the statement
 * timeout's, as before any call) and returns the one it replaces, to be set back. */
unsigned db_deadline_set(unsigned ms);

/** A unit of work inside a transaction. It must be safe to run again from the start:
 *  db_tx retries it after a serialization failure or a connection lost before COMMIT. */
typedef enum db_rc (*db_work_fn)(PGconn *c, void *cls);

/** How many times db_tx (and db_once) runs a transaction that fails on serialization. */
#define DB_TX_ATTEMPTS 6

/** Runs @a fn in one READ COMMITTED transaction (or @a serializable). Commits when fn
 *  returns DB_OK, rolls back otherwise and returns fn's outcome. */
enum db_rc db_tx(db_work_fn fn, void *cls, bool serializable);

/** Runs @a fn outside an explicit transaction (one statement, its own transaction),
 *  retrying once on a fresh connection when the connection turned out to be broken, and
 *  again after a serialization failure (the statement was rolled back whole). */
enum db_rc db_once(db_work_fn fn, void *cls);

/** Column @a col of row @a row as a malloc'd copy the caller frees; NULL for SQL NULL.
 *  NULL too when out of memory, noted by db_note_no_memory(). */
char *db_value_dup(const PGresult *r, int row, int col);

/** Notes that memory ran out while the current db_tx/db_once work read its answer: that
 *  work then returns DB_NO_MEMORY (a transaction is rolled back) whatever it returned. */
void db_note_no_memory(void);

/** Copies column @a col of row @a row into the caller's @a dst of @a len bytes
 *  (truncated, always terminated); SQL NULL gives "". */
void db_value_copy(char *dst, size_t len, const PGresult *r, int row, int col);

/** Column @a col of row @a row as an integer; SQL NULL gives 0. */
int64_t db_value_int(const PGresult *r, int row, int col);

/** Like db_value_int, for a column that may hold more than 64 bits (a numeric sum of
 *  amounts): false when the value is out of int64_t's range (and @a v untouched). */
bool db_value_int_in_range(const PGresult *r, int row, int col, int64_t *v);

/** Reads row @a row of @a r for @a cls. @a r is valid during the call only: the callee
 *  copies what it keeps (db_value_dup, db_value_copy). */
typedef void (*db_row_fn)(void *cls, const PGresult *r, int row);

/** Runs read statement @a stmt (db_once) and calls @a fn with each row of its result. */
enum db_rc db_rows(const char *stmt, int n, const char *const *params, db_row_fn fn, void *cls);

/**
 * Runs write statement @a stmt alone in one transaction (db_tx) and hands its one row,
 * the outcome, to @a read. db_tx may run it again: @a read must first free what an
 * earlier call stored in @a cls (the caller zeroes it before). What it stores is the
 * caller's. A row count other than one is DB_ERROR (logged).
 */
enum db_rc db_write_row(const char *stmt, int n, const char *const *params, db_row_fn read,
			void *cls);

/** db_write_row() for the write statements whose row is (status, code, field, message,
 *  body): fills @a out (zeroed first; the caller clears it with db_outcome_clear()). */
enum db_rc db_write_outcome(const char *stmt, int n, const char *const *params,
			    struct db_outcome *out);

/** Runs read statement @a stmt (db_once) for one row of one JSON text column: *json is
 *  then a malloc'd copy the caller frees, or NULL with DB_NOT_FOUND when there is no
 *  row or the value is SQL NULL (or with the error). */
enum db_rc db_json_one(const char *stmt, int n, const char *const *params, char **json);

/** Runs list statement @a stmt (db_once), whose rows are (id, JSON text or NULL), calling
 *  @a fn per row; the strings are valid during the call only. */
enum db_rc db_json_rows(const char *stmt, int n, const char *const *params, json_row_fn fn,
			void *cls);

/** A keyset page of list statement @a stmt: its parameters are the @a n @a filters, then
 *  the id to start after and the row limit (every list statement ends with those two).
 *  Rows as db_json_rows(). */
enum db_rc db_json_page(const char *stmt, int n, const char *const *filters, int64_t after_id,
			int limit, json_row_fn fn, void *cls);

/** Statement tables of each area, NULL-name terminated; prepared by db.c. */
extern const struct db_stmt db_stmts_principals[];
extern const struct db_stmt db_stmts_lpr[];
extern const struct db_stmt db_stmts_loans[];
extern const struct db_stmt db_stmts_stats[];
extern const struct db_stmt db_stmts_referrals[];
extern const struct db_stmt db_stmts_scf[];
extern const struct db_stmt db_stmts_whitelist[];
extern const struct db_stmt db_stmts_guarantees[];
extern const struct db_stmt db_stmts_firms[];
extern const struct db_stmt db_stmts_supervision[];

#endif
