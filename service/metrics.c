/* Implementation of metrics.h. Statuses are bucketed into a fixed list so the counter
 * table is a plain array; anything else counts as "other". */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned status_list[] = {200, 201, 204, 400, 401, 403, 404, 405,
				       409, 413, 415, 422, 428, 500, 503};
#define N_STATUS     (sizeof status_list / sizeof status_list[0])
#define STATUS_OTHER N_STATUS

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				   0.1,    0.25,  0.5,    1.0,   2.5,  5.0};
#define N_BUCKETS (sizeof bucket_le / sizeof bucket_le[0])

static atomic_uint_fast64_t requests[METRICS_MAX_ROUTES][N_STATUS + 1];
static atomic_uint_fast64_t latency_buckets[N_BUCKETS + 1];
static atomic_uint_fast64_t latency_sum_us;
static atomic_uint_fast64_t latency_count;
static atomic_uint_fast64_t db_errors;
static atomic_uint_fast64_t db_reconnects;
static atomic_uint_fast64_t db_connect_failures;

static unsigned status_slot(unsigned status)
{
	for (unsigned i = 0; i < N_STATUS; i++)
		if (status_list[i] == status)
			return i;
	return STATUS_OTHER;
}

void metrics_request(unsigned route, unsigned status, uint64_t micros)
{
	unsigned b = 0;

	if (route >= METRICS_MAX_ROUTES)
		route = METRICS_MAX_ROUTES - 1;
	atomic_fetch_add_explicit(&requests[route][status_slot(status)], 1, memory_order_relaxed);
	while (b < N_BUCKETS && (double)micros / 1e6 > bucket_le[b])
		b++;
	atomic_fetch_add_explicit(&latency_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&latency_sum_us, micros, memory_order_relaxed);
	atomic_fetch_add_explicit(&latency_count, 1, memory_order_relaxed);
}

void metrics_db_error(void)
{
	atomic_fetch_add_explicit(&db_errors, 1, memory_order_relaxed);
}

void metrics_db_reconnect(void)
{
	atomic_fetch_add_explicit(&db_reconnects, 1, memory_order_relaxed);
}

void metrics_db_connect_failure(void)
{
	atomic_fetch_add_explicit(&db_connect_failures, 1, memory_order_relaxed);
}

/* A growable string; aborts on out-of-memory like the rest of the allocator use here. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n;
		b->s = realloc(b->s, b->cap);
		if (b->s == NULL)
			abort();
	}
}

static uint64_t load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

char *metrics_render(const char *(*route_name)(unsigned route))
{
	struct sbuf b = {malloc(4096), 0, 4096};
	uint64_t cumulative = 0;

	if (b.s == NULL)
		abort();
	b.s[0] = '\0';
	sb_printf(&b, "# HELP finreg_http_requests_total Requests answered, by route and status.\n"
		      "# TYPE finreg_http_requests_total counter\n");
	for (unsigned r = 0; r < METRICS_MAX_ROUTES; r++) {
		const char *name = route_name(r);

		if (name == NULL)
			continue;
		for (unsigned s = 0; s <= N_STATUS; s++) {
			uint64_t n = load(&requests[r][s]);
			char status[8];

			if (n == 0)
				continue;
			if (s == STATUS_OTHER)
				strcpy(status, "other");
			else
				snprintf(status, sizeof status, "%u", status_list[s]);
			sb_printf(&b,
				  "finreg_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
				  name, status, (unsigned long long)n);
		}
	}
	sb_printf(&b, "# HELP finreg_http_request_duration_seconds Time from request to answer.\n"
		      "# TYPE finreg_http_request_duration_seconds histogram\n");
	for (unsigned i = 0; i <= N_BUCKETS; i++) {
		cumulative += load(&latency_buckets[i]);
		if (i < N_BUCKETS)
			sb_printf(&b,
				  "finreg_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				  bucket_le[i], (unsigned long long)cumulative);
		else
			sb_printf(&b,
				  "finreg_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				  (unsigned long long)cumulative);
	}
	sb_printf(&b, "finreg_http_request_duration_seconds_sum %.6f\n",
		  (double)load(&latency_sum_us) / 1e6);
	sb_printf(&b, "finreg_http_request_duration_seconds_count %llu\n",
		  (unsigned long long)load(&latency_count));
	sb_printf(&b,
		  "# HELP finreg_db_errors_total Database statements that failed.\n"
		  "# TYPE finreg_db_errors_total counter\nfinreg_db_errors_total %llu\n",
		  (unsigned long long)load(&db_errors));
	sb_printf(&b,
		  "# HELP finreg_db_reconnects_total Connections re-established after a loss.\n"
		  "# TYPE finreg_db_reconnects_total counter\nfinreg_db_reconnects_total %llu\n",
		  (unsigned long long)load(&db_reconnects));
	sb_printf(&b,
		  "# HELP finreg_db_connect_failures_total Failed connection attempts.\n"
		  "# TYPE finreg_db_connect_failures_total counter\n"
		  "finreg_db_connect_failures_total %llu\n",
		  (unsigned long long)load(&db_connect_failures));
	return b.s;
}
