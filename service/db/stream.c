/* Implementation of db/stream.h with PQsendQueryParams and PQsetSingleRowMode, on a
 * non-blocking connection: each row is waited for within the statement deadline. */
#include "db/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "log.h"

#define STREAM_MAX_COLS 64

struct db_stream {
	PGconn *conn;
	PGresult *row;
	const char *values[STREAM_MAX_COLS];
	bool done;
	enum db_rc failure; /* why db_stream_next answered -1 */
};

#define STREAM_SECONDS_MAX 86400u
static unsigned stream_ms; /* 0: the statement timeout */

void db_stream_set_timeout(unsigned seconds)
{
	stream_ms = (seconds < STREAM_SECONDS_MAX ? seconds : STREAM_SECONDS_MAX) * 1000u;
}

/* Gives the stream's statement its own bound: its rows go out as fast as the client
 * takes them, so the statement lasts as long as the download (until 4 December 2026 the
 * request path's 5 s cut a large export short on a slow link). */
static bool set_timeout(PGconn *c)
{
	unsigned ms = stream_ms > db_statement_timeout() ? stream_ms : db_statement_timeout();
	char sql[64];
	enum db_rc rc;

	if (ms == 0) /* no statement timeout at all (the CLI) */
		return true;
	snprintf(sql, sizeof sql, "SET statement_timeout = %u", ms);
	PQclear(db_run_sql(c, sql, &rc));
	return rc == DB_OK;
}

struct db_stream *db_stream_open(const char *name, int n, const char *const *params, enum db_rc *rc)
{
	const char *sql = db_stmt_sql(name);
	struct db_stream *s;

	if (sql == NULL) {
		LOG_BUG("no statement named %s", name);
		*rc = DB_ERROR;
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		*rc = DB_UNAVAILABLE;
		return NULL;
	}
	s->conn = db_connect_fresh("finregd-stream", rc);
	if (s->conn == NULL)
		goto fail;
	if (!set_timeout(s->conn)) {
		*rc = DB_UNAVAILABLE;
		goto fail;
	}
	if (!PQsendQueryParams(s->conn, sql, n, NULL, params, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(s->conn)) {
		LOG_WARN("stream %s: %s", name, PQerrorMessage(s->conn));
		*rc = DB_UNAVAILABLE;
		goto fail;
	}
	*rc = DB_OK;
	return s;
fail:
	db_stream_close(s);
	return NULL;
}

int db_stream_next(struct db_stream *s, const char *const **values, int *ncols)
{
	PGresult *r;
	int n;

	PQclear(s->row);
	s->row = NULL;
	if (s->done)
		return 0;
	if (!db_wait_ready(s->conn)) { /* a database that stopped answering mid-stream */
		LOG_WARN("stream query: no row within the statement deadline");
		s->failure = DB_UNAVAILABLE;
		s->done = true;
		return -1;
	}
	r = PQgetResult(s->conn);
	if (r == NULL || PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		s->done = true;
		return 0;
	}
	if (PQresultStatus(r) != PGRES_SINGLE_TUPLE) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		LOG_WARN("stream query failed: %s", PQresultErrorMessage(r));
		/* Cancelled by statement_timeout (57014), a lost connection or a shutdown: the
		 * database, not the query, is at fault, so the caller may try again later. */
		s->failure = PQstatus(s->conn) == CONNECTION_BAD || state == NULL ||
				     strcmp(state, "57014") == 0 || strncmp(state, "08", 2) == 0 ||
				     strncmp(state, "57P", 3) == 0
				 ? DB_UNAVAILABLE
				 : DB_ERROR;
		PQclear(r);
		s->done = true;
		return -1;
	}
	n = PQnfields(r) < STREAM_MAX_COLS ? PQnfields(r) : STREAM_MAX_COLS;
	for (int i = 0; i < n; i++)
		s->values[i] = PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i);
	s->row = r;
	*values = s->values;
	*ncols = n;
	return 1;
}

enum db_rc db_stream_failure(const struct db_stream *s)
{
	return s->failure;
}

void db_stream_close(struct db_stream *s)
{
	if (s == NULL)
		return;
	PQclear(s->row);
	/* No PQcancel and no draining of the rows left: this runs when the response is freed
	 * (the client left mid-export, or the export ended), on the connection's thread or at
	 * shutdown, and PQcancel can wait without bound for a postmaster that does not answer.
	 * Closing the connection ends the query: the backend fails at its next row sent, and
	 * statement_timeout bounds it anyway. */
	PQfinish(s->conn);
	free(s);
}
