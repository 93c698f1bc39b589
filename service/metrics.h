/* Process-wide counters for /metrics: requests by route and status, a latency histogram,
 * database errors and reconnects. Lock-free (C11 atomics); rendered as Prometheus text. */
#ifndef FINREG_METRICS_H
#define FINREG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_ROUTES 128

/** Counts one finished request on route @a route (index into the router's table, or
 *  METRICS_MAX_ROUTES - 1 for "unmatched") with @a status and latency @a micros. */
void metrics_request(unsigned route, unsigned status, uint64_t micros);

/** Loans stored (created) by single posts and batches. */
void metrics_loans_stored(unsigned n);

/** One rejection answered with rule id @a rule (a loan item, a guarantee, ...). */
void metrics_rejected(const char *rule);

/** One group commit of @a n single posts stored together. */
void metrics_group_size(unsigned n);

/** One request refused before its handler: @a reason is no_credential, bad_certificate,
 *  unknown_certificate or bad_token. */
void metrics_auth_failure(const char *reason);

/** Exports (streamed answers with their own database connection) in flight: +1 / -1. */
void metrics_exports(int delta);

/** The compactor finished a fold transaction (its age is shown as compactor lag) that
 *  folded something when @a folded. */
void metrics_compactor_ran(bool folded);

/** The rows the compactor's next fold transaction may fold (chunk_size.h): 5,000 unless
 *  statement timeouts have cut it. */
void metrics_compactor_chunk(long long rows);

/** The compactor caught up and left @a pending statistics rows (-1: unknown). /metrics
 *  itself never queries the database. */
void metrics_stats_pending(int64_t pending);

void metrics_db_error(void);
/** One statement refused (503) because a summary it reads is asked for and not built:
 *  planned (a migrate's rebuild), not a database error. */
void metrics_db_summary_refusal(void);
void metrics_db_reconnect(void);
void metrics_db_connect_failure(void);

/** Renders every metric as Prometheus text. @a route_name maps a route index to its
 *  label (NULL for an unused index). Returns a malloc'd string the caller frees; NULL
 *  when memory runs out. */
char *metrics_render(const char *(*route_name)(unsigned route));

/** Figures read when /metrics is scraped, appended by metrics_render_state(). */
struct metrics_state {
	bool db_read_only;
	bool replica_configured, replica_up;
	double replica_lag_s; /* -1: never measured */
	uint64_t reads_replica, reads_primary, read_fallbacks;
	int64_t conns_busy, conns_waiting;
	uint64_t conn_slow_waits;
	bool listener_up;
	unsigned pool_size, pool_busy, pool_waiting; /* db_pool_stats() */
	uint64_t pool_timeouts;
};

/** Appends @a st, the compactor's lag, build info and the process's RSS and open files to
 *  @a text (from metrics_render; freed here); returns the new string, NULL when @a text
 *  is NULL or memory runs out. */
char *metrics_render_state(char *text, const struct metrics_state *st);

#endif
