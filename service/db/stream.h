/* Streamed queries for exports: the rows of one statement read one at a time over a
 * connection of the stream's own (libpq single-row mode), so an export of any size keeps
 * memory flat and never holds one of the request path's pooled connections while the
 * client reads. */
#ifndef FINREG_DB_STREAM_H
#define FINREG_DB_STREAM_H

#include "db/db.h"

struct db_stream;

/** Bounds each streamed statement to @a seconds in all (its statement_timeout; at most a
 *  day), the client's reading included, instead of the request path's statement timeout
 *  (which a large export read over a slow link outlasts); never less than that timeout.
 *  Set once at start, before any stream. */
void db_stream_set_timeout(unsigned seconds);

/** Opens a connection and starts statement @a name (any name of the statement tables)
 *  with @a n text parameters (copied). NULL with *rc set when that fails. The caller
 *  closes the stream with db_stream_close(). How many run at once is capped by the
 *  caller (exports.h). */
struct db_stream *db_stream_open(const char *name, int n, const char *const *params,
				 enum db_rc *rc);

/**
 * The next row: 1 with *values pointing to *ncols strings (NULL for SQL NULL), valid until
 * the next call or the close; 0 after the last row; -1 when the query failed (logged).
 */
int db_stream_next(struct db_stream *s, const char *const **values, int *ncols);

/** After db_stream_next answered -1: DB_UNAVAILABLE when the database cancelled or lost the
 *  query (statement_timeout, connection, shutdown), DB_ERROR for anything else. */
enum db_rc db_stream_failure(const struct db_stream *s);

/** Ends the query (cancelling it if rows remain) and closes the connection. NULL is fine. */
void db_stream_close(struct db_stream *s);

#endif
