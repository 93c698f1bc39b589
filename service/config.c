/* The option table and its loader. Every option has exactly one row here, which is also
 * its documentation (`finregd --help` prints the table). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_type { OPT_STR, OPT_UINT, OPT_SIZE };

struct option_row {
	const char *flag;
	const char *env;
	const char *def;
	enum opt_type type;
	size_t offset;
	const char *doc;
};

#define ROW(flag, env, def, type, field, doc)                                                      \
	{                                                                                          \
		flag, env, def, type, offsetof(struct config, field), doc                          \
	}

static const struct option_row options[] = {
    ROW("database-url", "FINREG_DATABASE_URL", "dbname=finreg", OPT_STR, database_url,
	"libpq connection string of the primary"),
    ROW("listen", "FINREG_LISTEN", "0.0.0.0:8443", OPT_STR, listen,
	"address:port to serve HTTPS on ([::1]:8443 for IPv6)"),
    ROW("tls-cert", "FINREG_TLS_CERT", "certs/dev/server.pem", OPT_STR, tls_cert,
	"server certificate chain (PEM)"),
    ROW("tls-key", "FINREG_TLS_KEY", "certs/dev/server-key.pem", OPT_STR, tls_key,
	"server private key (PEM)"),
    ROW("client-ca", "FINREG_CLIENT_CA", "certs/dev/ca.pem", OPT_STR, client_ca,
	"CA certificate(s) that issue client certificates (PEM)"),
    ROW("threads", "FINREG_THREADS", "0", OPT_UINT, threads,
	"database connections of the request path, shared by all client connections; 0 = 2 "
	"per core"),
    ROW("io-threads", "FINREG_IO_THREADS", "0", OPT_UINT, io_threads,
	"ignored (each client connection has a thread of its own); kept for old files"),
    ROW("max-queued", "FINREG_MAX_QUEUED", "0", OPT_UINT, max_queued,
	"ignored (see --pool-wait-ms); kept for old files"),
    ROW("max-body", "FINREG_MAX_BODY", "8388608", OPT_SIZE, max_body,
	"largest request body in bytes; larger ones get 413 before they are read"),
    ROW("connection-timeout", "FINREG_CONNECTION_TIMEOUT", "30", OPT_UINT, connection_timeout,
	"seconds an idle or slow connection is kept"),
    ROW("shutdown-grace", "FINREG_SHUTDOWN_GRACE", "25", OPT_UINT, shutdown_grace,
	"seconds SIGTERM waits for requests in flight"),
    ROW("max-body-total", "FINREG_MAX_BODY_TOTAL", "134217728", OPT_SIZE, max_body_total,
	"bytes all request bodies in flight may hold together; beyond it 503 + Retry-After"),
    ROW("max-connections", "FINREG_MAX_CONNECTIONS", "4096", OPT_UINT, max_connections,
	"open client connections in all; more are closed at accept"),
    ROW("max-connections-per-ip", "FINREG_MAX_CONNECTIONS_PER_IP", "256", OPT_UINT,
	max_connections_per_ip, "open connections from one client address; 0 = no limit"),
    ROW("header-timeout", "FINREG_HEADER_TIMEOUT", "5", OPT_UINT, header_timeout,
	"seconds a new connection has to finish TLS and send its first request's headers"),
    ROW("statement-timeout-ms", "FINREG_STATEMENT_TIMEOUT_MS", "5000", OPT_UINT,
	statement_timeout_ms, "longest wait for one database statement; then 503 + Retry-After"),
    ROW("max-exports", "FINREG_MAX_EXPORTS", "4", OPT_UINT, max_exports,
	"exports at once (XLSX workbooks, streamed referral exports); then 503"),
    ROW("export-timeout", "FINREG_EXPORT_TIMEOUT", "600", OPT_UINT, export_timeout,
	"seconds a streamed CSV or JSON export (one statement) may take in all, the client's "
	"reading included; at least the statement timeout"),
    ROW("export-dir", "FINREG_EXPORT_DIR", "", OPT_STR, export_dir,
	"directory of the unnamed temporary files of XLSX exports; empty = $TMPDIR or /tmp"),
    ROW("migrate-database-url", "FINREG_MIGRATE_DATABASE_URL", "", OPT_STR, migrate_database_url,
	"libpq connection string `finregd migrate` uses (the schema owner); empty = "
	"FINREG_DATABASE_URL"),
    ROW("idempotency-keep", "FINREG_IDEMPOTENCY_KEEP", "86400", OPT_SIZE, idempotency_keep,
	"seconds a stored Idempotency-Key answer is kept (1 to 2592000); then purged"),
    ROW("web-dir", "FINREG_WEB_DIR", "build/web", OPT_STR, web_dir,
	"directory of the dashboard's static files, served at /dashboard/"),
    ROW("read-database-url", "FINREG_READ_DATABASE_URL", "", OPT_STR, read_database_url,
	"libpq string of read replicas for lists, statistics and exports; empty = none"),
    ROW("read-max-lag-ms", "FINREG_READ_MAX_LAG_MS", "1000", OPT_UINT, read_max_lag_ms,
	"replay lag in ms beyond which reads leave the replica for the primary"),
    ROW("pool-wait-ms", "FINREG_POOL_WAIT_MS", "2000", OPT_UINT, pool_wait_ms,
	"longest wait of a request for one of the --threads database connections; then 503"),
    ROW("warm-up", "FINREG_WARM_UP", "1", OPT_UINT, warm_up,
	"1 = after a start, warm each pooled connection with a rolled-back ingest while the "
	"pool is idle; 0 = off"),
};

#define N_OPTIONS (sizeof options / sizeof options[0])

static bool set_value(struct config *cfg, const struct option_row *o, const char *v)
{
	char *end;
	unsigned long long n;

	if (o->type == OPT_STR) {
		*(const char **)((char *)cfg + o->offset) = v;
		return true;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-') {
		fprintf(stderr, "finregd: %s/--%s: not a whole number: %s\n", o->env, o->flag, v);
		return false;
	}
	if (o->type == OPT_UINT) {
		if (n > 100000) {
			fprintf(stderr, "finregd: --%s: too large: %s\n", o->flag, v);
			return false;
		}
		*(unsigned *)((char *)cfg + o->offset) = (unsigned)n;
	} else {
		*(size_t *)((char *)cfg + o->offset) = (size_t)n;
	}
	return true;
}

/* Whether @a arg is flag @a name, alone or as "name=value". */
static bool flag_is(const char *arg, const char *name, const char **value, bool *inline_value)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0 || (arg[n] != '=' && arg[n] != '\0'))
		return false;
	*inline_value = arg[n] == '=';
	if (*inline_value)
		*value = arg + n + 1;
	return true;
}

/* The option named by a flag: its flag name (--listen) or its variable (--FINREG_LISTEN). */
static const struct option_row *find_flag(const char *arg, const char **value, bool *inline_value)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (flag_is(arg, options[i].flag, value, inline_value) ||
		    flag_is(arg, options[i].env, value, inline_value))
			return &options[i];
	return NULL;
}

bool config_load(struct config *cfg, int *argc, char **argv)
{
	int out = 1;

	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *env = getenv(options[i].env);

		if (!set_value(cfg, &options[i], options[i].def))
			return false;
		if (env != NULL && env[0] != '\0' && !set_value(cfg, &options[i], env))
			return false;
	}
	for (int i = 1; i < *argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const struct option_row *o = NULL;
		bool inline_value = false;

		if (strncmp(arg, "--", 2) == 0)
			o = find_flag(arg + 2, &value, &inline_value);
		if (o == NULL) {
			argv[out++] = argv[i];
			continue;
		}
		if (!inline_value) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "finregd: --%s needs a value\n", o->flag);
				return false;
			}
			value = argv[++i];
		}
		if (!set_value(cfg, o, value))
			return false;
	}
	argv[out] = NULL;
	*argc = out;
	if (cfg->threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->threads = cores > 0 ? (unsigned)cores * 2 : 2;
	}
	if (cfg->io_threads == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->io_threads = cores > 0 ? (unsigned)cores : 1;
	}
	if (cfg->max_queued == 0)
		cfg->max_queued = cfg->threads * 64;
	return true;
}

void config_usage(FILE *out)
{
	fprintf(out, "Options (flag, environment variable, default):\n");
	for (size_t i = 0; i < N_OPTIONS; i++)
		fprintf(out, "  --%-20s %-28s %s\n      %s\n", options[i].flag, options[i].env,
			options[i].def, options[i].doc);
}
