/* Reads on replicas: which requests may read from FINREG_READ_DATABASE_URL, and the
 * state /metrics and /readyz show. Writes and single-record reads stay on the primary
 * (read-your-writes); see docs/operations.md. */
#ifndef FINREG_DB_ROUTE_H
#define FINREG_DB_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

/** Sets the replica connection string (NULL or "" = none: every read goes to the primary)
 *  and the largest replay lag, in milliseconds, at which a replica still serves reads.
 *  The string is not copied. */
void db_read_configure(const char *url, unsigned max_lag_ms);

/** Marks this thread's following statements as reads that may go to a replica (@a on),
 *  or not. The server sets it around the handlers of lists, statistics and exports. */
void db_read_scope(bool on);

/** Figures for /metrics. */
struct db_route_stats {
	bool replica_configured;
	bool replica_up;          /* last check reached it and it was in recovery or usable */
	double replica_lag_s;     /* last measured replay lag; -1 when never measured */
	uint64_t reads_replica;   /* read statements served by a replica */
	uint64_t reads_primary;   /* read statements of a read scope served by the primary */
	uint64_t read_fallbacks;  /* of those, because the replica was down, behind or failed */
	bool read_only;           /* FINREG_DATABASE_URL is a standby */
	int64_t conns_busy;       /* threads running a statement or transaction now */
	int64_t conns_waiting;    /* threads waiting to connect (a full pgbouncer pool) */
	uint64_t conn_slow_waits; /* connects that took over a second */
};

void db_route_stats(struct db_route_stats *out);

#endif
