/* Process-wide counters for /metrics: requests by route and status, a latency histogram,
 * database errors and reconnects. Lock-free (C11 atomics); rendered as Prometheus text. */
#ifndef FINREG_METRICS_H
#define FINREG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_ROUTES 128

/** Counts one finished request on route @a route (index into the router's table, or
 *  METRICS_MAX_ROUTES - 1 for "unmatched") with @a status and latency @a micros. */
void metrics_request(unsigned route, unsigned status, uint64_t micros);

void metrics_db_error(void);
void metrics_db_reconnect(void);
void metrics_db_connect_failure(void);

/** Renders every metric as Prometheus text. @a route_name maps a route index to its
 *  label (NULL for an unused index). Returns a malloc'd string the caller frees. */
char *metrics_render(const char *(*route_name)(unsigned route));

#endif
