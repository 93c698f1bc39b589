/* `finregd migrate`: applies the compiled-in migrations in order, each in its own
 * transaction, and records them in schema_migrations; then re-applies every sql/ file
 * (functions, triggers, views: CREATE OR REPLACE) in one transaction, so the live text of
 * a function is always the one in sql/. Safe to run twice or from two hosts at once (an
 * advisory lock serialises runs; applied versions are skipped). */
#include "db/db_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/migrations.h"
#include "log.h"

#define MIGRATE_LOCK_KEY "7340012020"
/* How many times the sql/ files are applied when each attempt deadlocks. */
#define MIGRATE_DEADLOCK_ATTEMPTS 10
#define MIGRATE_SUMMARIES_MAX     64 /* rebuilds one migrate runs: far more than there are */

static enum db_rc exec_plain(PGconn *c, const char *sql)
{
	enum db_rc rc;
	PGresult *r = db_run_sql(c, sql, &rc);

	PQclear(r);
	return rc;
}

static enum db_rc already_applied(PGconn *c, int version, bool *applied)
{
	char v[16];
	const char *params[] = {v};
	PGresult *r;

	snprintf(v, sizeof v, "%d", version);
	r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1, NULL,
			 params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "finregd migrate: %s", PQerrorMessage(c));
		PQclear(r);
		return DB_ERROR;
	}
	*applied = PQntuples(r) > 0;
	PQclear(r);
	return DB_OK;
}

/* Whether @a r failed with a deadlock (SQLSTATE 40P01). */
static bool deadlocked(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return state != NULL && strcmp(state, "40P01") == 0;
}

/* Applies migration @a m unless it is recorded. Sets *deadlock when it failed on one. */
static enum db_rc apply_one(PGconn *c, const struct embedded_migration *m, unsigned *applied,
			    bool *deadlock)
{
	char v[16];
	const char *params[] = {v, m->name};
	bool done = false;
	enum db_rc rc = exec_plain(c, "BEGIN");
	PGresult *r;

	*deadlock = false;
	if (rc != DB_OK)
		return rc;
	rc = already_applied(c, m->version, &done);
	if (rc != DB_OK || done)
		goto out;
	r = PQexec(c, m->sql);
	/* Empty (comments only): a migration whose functions moved to sql/ keeps its version. */
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_EMPTY_QUERY) {
		*deadlock = deadlocked(r);
		fprintf(stderr, "finregd migrate: %s failed: %s", m->name, PQerrorMessage(c));
		PQclear(r);
		rc = DB_ERROR;
		goto out;
	}
	PQclear(r);
	snprintf(v, sizeof v, "%d", m->version);
	r = PQexecParams(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
			 NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(r) == PGRES_COMMAND_OK ? DB_OK : DB_ERROR;
	PQclear(r);
	if (rc != DB_OK)
		goto out;
	rc = exec_plain(c, "COMMIT");
	if (rc == DB_OK) {
		(*applied)++;
		LOG_INFO("applied migration %s", m->name);
	}
	return rc;
out:
	exec_plain(c, "ROLLBACK");
	return rc;
}

/* Every sql/ file in name order, in one transaction. Bodies are checked when they run,
 * not when created (as pg_dump restores), so files need not be ordered by dependency.
 * Sets *deadlock when it failed on a deadlock. */
static enum db_rc apply_procedures(PGconn *c, bool *deadlock)
{
	enum db_rc rc = exec_plain(c, "BEGIN");
	PGresult *r;

	*deadlock = false;
	if (rc != DB_OK)
		return rc;
	rc = exec_plain(c, "SET LOCAL check_function_bodies = off");
	for (unsigned i = 0; rc == DB_OK && i < embedded_procedures_count; i++) {
		r = PQexec(c, embedded_procedures[i].sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			*deadlock = deadlocked(r);
			fprintf(stderr, "finregd migrate: sql/%s.sql failed: %s",
				embedded_procedures[i].name, PQerrorMessage(c));
			rc = DB_ERROR;
		}
		PQclear(r);
	}
	if (rc == DB_OK)
		rc = exec_plain(c, "COMMIT");
	if (rc != DB_OK) {
		exec_plain(c, "ROLLBACK");
		return rc;
	}
	if (embedded_procedures_count > 0)
		LOG_INFO("applied %u sql/ files", embedded_procedures_count);
	return DB_OK;
}

/* Applies migration @a m, or the sql/ files when @a m is NULL, and again after a
 * deadlock. Replacing a trigger or a view, or altering a table, locks the table; the
 * running instances' transactions lock the same tables in their own order (an ingest:
 * loans, then the statistics queue), so a migrate during a rolling upgrade can deadlock
 * with them, and PostgreSQL may choose the migrate as the victim. Its transaction rolled
 * back whole, so it is simply run again, a little later each time (5.4 s of waits in all). */
static enum db_rc apply(PGconn *c, const struct embedded_migration *m, unsigned *applied)
{
	enum db_rc rc = DB_ERROR;
	bool deadlock = true;

	for (int attempt = 1; deadlock && attempt <= MIGRATE_DEADLOCK_ATTEMPTS; attempt++) {
		if (attempt > 1) {
			LOG_WARN("%s deadlocked with running instances; attempt %d of %d",
				 m != NULL ? m->name : "the sql/ files", attempt,
				 MIGRATE_DEADLOCK_ATTEMPTS);
			usleep(100000u * (unsigned)attempt);
		}
		rc = m != NULL ? apply_one(c, m, applied, &deadlock)
			       : apply_procedures(c, &deadlock);
	}
	return rc;
}

/* Logs the summaries still asked for after summary_rebuild_next(): those this release has
 * no rebuild for, asked for by a newer release's migration, whose migrate rebuilds them
 * (sql/common.sql). Only a report: the migrate succeeds whatever it finds. */
static void report_left_summaries(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT string_agg(summary, ', ' ORDER BY summary)"
				" FROM summary_rebuilds");

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		LOG_WARN("could not list the summaries left to rebuild: %s", PQerrorMessage(c));
		goto out;
	}
	if (!PQgetisnull(r, 0, 0))
		LOG_WARN("summaries left for the newer release that asked for them (this one has "
			 "no rebuild for them; its finregd migrate rebuilds them): %s",
			 PQgetvalue(r, 0, 0));
out:
	PQclear(r);
}

/* The summaries a migration asked for (sql/common.sql summary_rebuild_next), one per
 * transaction, each again after a deadlock: a rebuild locks the tables its summary is fed
 * from, which a transaction of a running instance (or a script's) may hold in another
 * order; it rolled back whole, so it is simply run again, as apply() does. One transaction
 * for all of them held the financing's SHARE lock on loans (every loan write waits) through
 * the guarantees' rebuild as well. */
static enum db_rc rebuild_summaries(PGconn *c)
{
	enum db_rc rc = DB_OK;
	int attempt = 1;
	int rebuilt = 0;

	for (;;) {
		PGresult *r = PQexec(c, "SELECT summary_rebuild_next()");

		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			bool done = PQntuples(r) != 1 || PQgetisnull(r, 0, 0);

			if (!done)
				LOG_INFO("rebuilt the summary %s", PQgetvalue(r, 0, 0));
			PQclear(r);
			if (done)
				break;
			/* Each rebuild takes its name off summary_rebuilds; one that did not
			 * would come back for ever. */
			if (++rebuilt > MIGRATE_SUMMARIES_MAX) {
				fprintf(stderr,
					"finregd migrate: more than %d summary rebuilds: one "
					"leaves its name in summary_rebuilds\n",
					MIGRATE_SUMMARIES_MAX);
				return DB_ERROR;
			}
			attempt = 1;
			continue;
		}
		fprintf(stderr, "finregd migrate: the summaries' rebuild failed: %s",
			PQerrorMessage(c));
		rc = PQstatus(c) == CONNECTION_BAD ? DB_UNAVAILABLE : DB_ERROR;
		if (!deadlocked(r) || attempt >= MIGRATE_DEADLOCK_ATTEMPTS) {
			PQclear(r);
			return rc;
		}
		PQclear(r);
		attempt++;
		LOG_WARN("the summaries' rebuild deadlocked with running instances; "
			 "attempt %d of %d",
			 attempt, MIGRATE_DEADLOCK_ATTEMPTS);
		usleep(100000u * (unsigned)attempt);
	}
	report_left_summaries(c);
	return DB_OK;
}

enum db_rc db_migrate(unsigned *applied)
{
	enum db_rc rc;
	PGconn *c = db_get_unprepared(&rc);

	*applied = 0;
	if (c == NULL)
		return rc;
	rc = exec_plain(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
	if (rc != DB_OK)
		return rc;
	rc = exec_plain(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			   " version int PRIMARY KEY, name text NOT NULL,"
			   " applied_at timestamptz NOT NULL DEFAULT now())");
	for (unsigned i = 0; rc == DB_OK && i < embedded_migrations_count; i++)
		rc = apply(c, &embedded_migrations[i], applied);
	if (rc == DB_OK)
		rc = apply(c, NULL, applied);
	/* The summaries a migration asked for, after the sql/ files committed (their triggers
	 * exist, their locks are gone): sql/common.sql summary_rebuild_next. */
	if (rc == DB_OK)
		rc = rebuild_summaries(c);
	exec_plain(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
	return rc;
}
