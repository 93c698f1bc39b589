/* The database layer's public face: outcomes, set-up and readiness. Only files in db/
 * include libpq; handlers call the area functions (principals.h, ...) that use this. */
#ifndef FINREG_DB_H
#define FINREG_DB_H

#include <stdbool.h>

/** Outcome of a database operation. */
enum db_rc {
	DB_OK = 0,
	DB_NOT_FOUND,          /* no row where one was expected */
	DB_CONFLICT,           /* unique violation or a lost race the caller must report */
	DB_ABORT,              /* the caller's callback asked for a rollback; see its state */
	DB_UNAVAILABLE,        /* cannot reach the database, or the outcome is unknown */
	DB_PENDING_MIGRATIONS, /* reachable, but the schema is older than this binary */
	DB_SERIALIZATION,      /* internal: retried by db_tx, never returned from it */
	DB_ERROR,              /* a bug or an unexpected database error; logged */
};

/** Sets the libpq connection string used by every thread's connection. The string is
 *  not copied: it must live as long as the process (it comes from the config). */
void db_configure(const char *url);

/** Closes this thread's connection, if any (call on thread exit or in the CLI). */
void db_disconnect(void);

/** Latest migration version this binary knows (compiled in). */
int db_schema_version_expected(void);

/** Checks that the database is reachable and migrated: DB_OK, DB_PENDING_MIGRATIONS or
 *  DB_UNAVAILABLE. Reconnects this thread's connection when needed. */
enum db_rc db_readiness(void);

#endif
