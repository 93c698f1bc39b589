/* Implementation of metrics.h. Statuses are bucketed into a fixed list so the counter
 * table is a plain array; anything else counts as "other". Labels that are not known in
 * advance (rule ids, refusal reasons) go into small tables under a mutex: they are
 * counted on rejections only, never on the hot path of a stored loan. */
#include "metrics.h"

#include "buf.h"
#include "chunk_size.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef FINREG_VERSION
#define FINREG_VERSION "dev"
#endif

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
static atomic_uint_fast64_t route_buckets[METRICS_MAX_ROUTES][N_BUCKETS + 1];
static atomic_uint_fast64_t route_sum_us[METRICS_MAX_ROUTES];
static atomic_uint_fast64_t loans_stored;
static const unsigned group_le[] = {1, 2, 4, 8, 16, 32, 64};
#define N_GROUP (sizeof group_le / sizeof group_le[0])
static atomic_uint_fast64_t group_buckets[N_GROUP + 1];
static atomic_uint_fast64_t group_sum, group_count;
static atomic_int_fast64_t exports_in_flight;
static atomic_uint_fast64_t compactor_last_us; /* CLOCK_MONOTONIC µs of the last run */
static atomic_int_fast64_t stats_pending = -1;
static atomic_uint_fast64_t compactor_chunks; /* fold transactions that folded something */
static atomic_int_fast64_t compactor_chunk_rows = CHUNK_SIZE_MAX; /* its next chunk's bound */
static atomic_uint_fast64_t db_errors;
static atomic_uint_fast64_t db_summary_refusals;
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
	atomic_fetch_add_explicit(&route_buckets[route][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&route_sum_us[route], micros, memory_order_relaxed);
	atomic_fetch_add_explicit(&latency_sum_us, micros, memory_order_relaxed);
}

/* A counter per label value, for labels not known in advance. */
#define LABELED_MAX 64
struct labeled {
	pthread_mutex_t lock;
	unsigned n;
	char label[LABELED_MAX][24];
	uint64_t count[LABELED_MAX];
};

static struct labeled rejections = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct labeled auth_failures = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void labeled_add(struct labeled *t, const char *label)
{
	unsigned i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->label[i], label) == 0)
			break;
	if (i == t->n && t->n < LABELED_MAX)
		snprintf(t->label[t->n++], sizeof t->label[0], "%s", label);
	if (i < t->n)
		t->count[i]++;
	pthread_mutex_unlock(&t->lock);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void metrics_loans_stored(unsigned n)
{
	atomic_fetch_add_explicit(&loans_stored, n, memory_order_relaxed);
}

void metrics_rejected(const char *rule)
{
	labeled_add(&rejections, rule != NULL && *rule != '\0' ? rule : "none");
}

void metrics_group_size(unsigned n)
{
	unsigned b = 0;

	while (b < N_GROUP && n > group_le[b])
		b++;
	atomic_fetch_add_explicit(&group_buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&group_sum, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&group_count, 1, memory_order_relaxed);
}

void metrics_auth_failure(const char *reason)
{
	labeled_add(&auth_failures, reason);
}

void metrics_exports(int delta)
{
	atomic_fetch_add_explicit(&exports_in_flight, delta, memory_order_relaxed);
}

void metrics_compactor_ran(bool folded)
{
	if (folded)
		atomic_fetch_add_explicit(&compactor_chunks, 1, memory_order_relaxed);
	atomic_store_explicit(&compactor_last_us, now_us(), memory_order_relaxed);
}

void metrics_compactor_chunk(long long rows)
{
	atomic_store_explicit(&compactor_chunk_rows, rows, memory_order_relaxed);
}

void metrics_stats_pending(int64_t pending)
{
	atomic_store_explicit(&stats_pending, pending, memory_order_relaxed);
}

void metrics_db_error(void)
{
	atomic_fetch_add_explicit(&db_errors, 1, memory_order_relaxed);
}

void metrics_db_summary_refusal(void)
{
	atomic_fetch_add_explicit(&db_summary_refusals, 1, memory_order_relaxed);
}

void metrics_db_reconnect(void)
{
	atomic_fetch_add_explicit(&db_reconnects, 1, memory_order_relaxed);
}

void metrics_db_connect_failure(void)
{
	atomic_fetch_add_explicit(&db_connect_failures, 1, memory_order_relaxed);
}

static uint64_t load(atomic_uint_fast64_t *a)
{
	return atomic_load_explicit(a, memory_order_relaxed);
}

static void render_route_latency(struct buf *b, const char *(*route_name)(unsigned route));

char *metrics_render(const char *(*route_name)(unsigned route))
{
	struct buf b = {0};
	uint64_t cumulative = 0;

	buf_printf(&b, "# HELP finreg_http_requests_total Requests answered, by route and status.\n"
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
			buf_printf(&b,
				   "finreg_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
				   name, status, (unsigned long long)n);
		}
	}
	buf_printf(&b, "# HELP finreg_http_request_duration_seconds Time from request to answer.\n"
		       "# TYPE finreg_http_request_duration_seconds histogram\n");
	for (unsigned i = 0; i <= N_BUCKETS; i++) {
		cumulative += load(&latency_buckets[i]);
		if (i < N_BUCKETS)
			buf_printf(&b,
				   "finreg_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				   bucket_le[i], (unsigned long long)cumulative);
		else
			buf_printf(
			    &b, "finreg_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cumulative);
	}
	buf_printf(&b, "finreg_http_request_duration_seconds_sum %.6f\n",
		   (double)load(&latency_sum_us) / 1e6);
	/* The +Inf bucket's sum, not a counter of its own: a request counted between the
	 * buckets' reads and its read made _count exceed +Inf (a race CI could hit; the
	 * per-route histogram does the same). */
	buf_printf(&b, "finreg_http_request_duration_seconds_count %llu\n",
		   (unsigned long long)cumulative);
	buf_printf(&b,
		   "# HELP finreg_db_errors_total Database statements that failed.\n"
		   "# TYPE finreg_db_errors_total counter\nfinreg_db_errors_total %llu\n",
		   (unsigned long long)load(&db_errors));
	buf_printf(&b,
		   "# HELP finreg_db_summary_refusals_total Statements refused (503) because a "
		   "summary they read is asked for and not built; not database errors.\n"
		   "# TYPE finreg_db_summary_refusals_total counter\n"
		   "finreg_db_summary_refusals_total %llu\n",
		   (unsigned long long)load(&db_summary_refusals));
	buf_printf(&b,
		   "# HELP finreg_db_reconnects_total Connections re-established after a loss.\n"
		   "# TYPE finreg_db_reconnects_total counter\nfinreg_db_reconnects_total %llu\n",
		   (unsigned long long)load(&db_reconnects));
	buf_printf(&b,
		   "# HELP finreg_db_connect_failures_total Failed connection attempts.\n"
		   "# TYPE finreg_db_connect_failures_total counter\n"
		   "finreg_db_connect_failures_total %llu\n",
		   (unsigned long long)load(&db_connect_failures));
	render_route_latency(&b, route_name);
	return buf_take(&b, NULL);
}

static void render_route_latency(struct buf *b, const char *(*route_name)(unsigned route))
{
	buf_printf(b, "# HELP finreg_http_route_duration_seconds Time from request to answer, by "
		      "route.\n# TYPE finreg_http_route_duration_seconds histogram\n");
	for (unsigned r = 0; r < METRICS_MAX_ROUTES; r++) {
		const char *name = route_name(r);
		uint64_t cumulative = 0;

		if (name == NULL)
			continue;
		for (unsigned i = 0; i <= N_BUCKETS; i++)
			cumulative += load(&route_buckets[r][i]);
		if (cumulative == 0)
			continue;
		cumulative = 0;
		for (unsigned i = 0; i <= N_BUCKETS; i++) {
			char le[16];

			cumulative += load(&route_buckets[r][i]);
			if (i < N_BUCKETS)
				snprintf(le, sizeof le, "%g", bucket_le[i]);
			else
				strcpy(le, "+Inf");
			buf_printf(
			    b,
			    "finreg_http_route_duration_seconds_bucket{route=\"%s\",le=\"%s\"} "
			    "%llu\n",
			    name, le, (unsigned long long)cumulative);
		}
		buf_printf(b, "finreg_http_route_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
			   (double)load(&route_sum_us[r]) / 1e6);
		buf_printf(b, "finreg_http_route_duration_seconds_count{route=\"%s\"} %llu\n", name,
			   (unsigned long long)cumulative);
	}
}

static void render_labeled(struct buf *b, struct labeled *t, const char *name, const char *label,
			   const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n; i++)
		buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, t->label[i],
			   (unsigned long long)t->count[i]);
	pthread_mutex_unlock(&t->lock);
}

static void render_writes(struct buf *b)
{
	uint64_t cumulative = 0;

	buf_printf(b,
		   "# HELP finreg_loans_stored_total Loans created (single posts and batches).\n"
		   "# TYPE finreg_loans_stored_total counter\nfinreg_loans_stored_total %llu\n",
		   (unsigned long long)load(&loans_stored));
	render_labeled(b, &rejections, "finreg_rejections_total", "rule",
		       "Requests or batch items rejected, by rule id (none: no rule).");
	buf_printf(b, "# HELP finreg_group_commit_size Single posts stored by one group commit.\n"
		      "# TYPE finreg_group_commit_size histogram\n");
	for (unsigned i = 0; i <= N_GROUP; i++) {
		cumulative += load(&group_buckets[i]);
		if (i < N_GROUP)
			buf_printf(b, "finreg_group_commit_size_bucket{le=\"%u\"} %llu\n",
				   group_le[i], (unsigned long long)cumulative);
		else
			buf_printf(b, "finreg_group_commit_size_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cumulative);
	}
	buf_printf(b, "finreg_group_commit_size_sum %llu\nfinreg_group_commit_size_count %llu\n",
		   (unsigned long long)load(&group_sum), (unsigned long long)load(&group_count));
	render_labeled(
	    b, &auth_failures, "finreg_auth_failures_total", "reason",
	    "Requests refused before their handler: no or bad credential, or (lookups_busy) "
	    "too many unknown credentials being looked up at once.");
	buf_printf(b,
		   "# HELP finreg_exports_in_flight Exports running now.\n"
		   "# TYPE finreg_exports_in_flight gauge\nfinreg_exports_in_flight %lld\n",
		   (long long)atomic_load(&exports_in_flight));
}

static void gauge(struct buf *b, const char *name, const char *help, double v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.6g\n", name, help, name, name, v);
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
		   (unsigned long long)v);
}

static void render_process(struct buf *b)
{
	long rss_pages = 0, pages = 0;
	unsigned fds = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	DIR *d = opendir("/proc/self/fd");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss_pages) != 2)
			rss_pages = 0;
		fclose(f);
	}
	if (d != NULL) {
		while (readdir(d) != NULL)
			fds++;
		closedir(d);
		fds = fds > 3 ? fds - 3 : 0; /* ".", ".." and the directory's own descriptor */
	}
	gauge(b, "process_resident_memory_bytes", "Resident memory of finregd.",
	      (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
	gauge(b, "process_open_fds", "Open file descriptors of finregd.", (double)fds);
	gauge(b, "process_max_fds", "The limit on open file descriptors.",
	      (double)sysconf(_SC_OPEN_MAX));
	buf_printf(b,
		   "# HELP finreg_build_info The running build.\n# TYPE finreg_build_info gauge\n"
		   "finreg_build_info{version=\"%s\",built=\"%s %s\"} 1\n",
		   FINREG_VERSION, __DATE__, __TIME__);
}

static void render_database(struct buf *b, const struct metrics_state *st)
{
	uint64_t last = load(&compactor_last_us);

	gauge(b, "finreg_db_read_only", "1 when this instance's database is a read-only standby.",
	      st->db_read_only);
	gauge(b, "finreg_db_connections_busy", "Threads running a statement or transaction.",
	      (double)st->conns_busy);
	gauge(b, "finreg_db_connections_waiting",
	      "Threads waiting for a database connection (a full pool).",
	      (double)st->conns_waiting);
	counter(b, "finreg_db_connection_slow_waits_total",
		"Connections that took over a second to get.", st->conn_slow_waits);
	gauge(b, "finreg_db_pool_connections",
	      "Database connections of the request path (--threads), shared by all requests.",
	      st->pool_size);
	gauge(b, "finreg_db_pool_busy",
	      "Of those, lent to a request's statement or transaction now.", st->pool_busy);
	gauge(b, "finreg_db_pool_waiting", "Requests waiting for one of them now.",
	      st->pool_waiting);
	counter(b, "finreg_db_pool_timeouts_total",
		"Requests answered 503 because no connection came free within --pool-wait-ms.",
		st->pool_timeouts);
	gauge(b, "finreg_principal_listener_up",
	      "1 when the principal-cache listener is connected and listening.", st->listener_up);
	gauge(b, "finreg_stats_pending_rows",
	      "Pending statistics rows left after the compactor's last run (-1: unknown).",
	      (double)atomic_load(&stats_pending));
	counter(b, "finreg_compactor_chunks_total",
		"Fold transactions of this instance's compactor that folded pending rows (each "
		"folds a bounded chunk; a backlog takes several in a row).",
		load(&compactor_chunks));
	gauge(b, "finreg_compactor_chunk_rows",
	      "Pending rows the compactor's next fold transaction may fold: 5000, halved after "
	      "each chunk the statement timeout cancelled, doubled back after a quick one.",
	      (double)atomic_load(&compactor_chunk_rows));
	gauge(b, "finreg_compactor_lag_seconds",
	      "Seconds since this instance's compactor last ran (-1: never).",
	      last == 0 ? -1.0 : (double)(now_us() - last) / 1e6);
	gauge(b, "finreg_db_replica_configured", "1 when FINREG_READ_DATABASE_URL is set.",
	      st->replica_configured);
	gauge(b, "finreg_db_replica_up", "1 when reads go to the replica now.", st->replica_up);
	gauge(b, "finreg_db_replica_lag_seconds",
	      "Replay lag of the read replica at the last check (-1: never measured).",
	      st->replica_lag_s);
	buf_printf(b,
		   "# HELP finreg_db_reads_total Read statements of lists, statistics and exports, "
		   "by where they ran.\n# TYPE finreg_db_reads_total counter\n"
		   "finreg_db_reads_total{target=\"replica\"} %llu\n"
		   "finreg_db_reads_total{target=\"primary\"} %llu\n",
		   (unsigned long long)st->reads_replica, (unsigned long long)st->reads_primary);
	counter(b, "finreg_db_read_fallbacks_total",
		"Reads sent to the primary because the replica was down, behind or failed.",
		st->read_fallbacks);
}

char *metrics_render_state(char *text, const struct metrics_state *st)
{
	struct buf b = {0};

	if (text == NULL)
		return NULL;
	buf_append_str(&b, text);
	free(text);
	render_writes(&b);
	render_database(&b, st);
	render_process(&b);
	return buf_take(&b, NULL);
}
