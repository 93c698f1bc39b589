/* finregd's configuration: one table of options (name, environment variable, default,
 * documentation), read from the environment and overridden by --name=value flags. */
#ifndef FINREG_CONFIG_H
#define FINREG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
	const char *database_url;
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *client_ca;
	unsigned threads;
	size_t max_body;
	unsigned connection_timeout;
	unsigned shutdown_grace;
	size_t max_body_total;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned header_timeout;
	unsigned statement_timeout_ms;
	unsigned max_exports;
	unsigned export_timeout; /* seconds */
	const char *export_dir;
	const char *migrate_database_url;
	size_t idempotency_keep;
	const char *web_dir;
	const char *read_database_url;
	unsigned read_max_lag_ms;
	unsigned io_threads; /* ignored since thread-per-connection (docs/threading.md) */
	unsigned max_queued; /* ignored likewise */
	unsigned pool_wait_ms;
	unsigned warm_up; /* docs/threading.md, "Warm-up" */
};

/**
 * Fills @a cfg from defaults, then the environment, then flags in argv (which are
 * removed from argv; *argc is updated). Strings point into the environment, argv or
 * static defaults; nothing to free. Returns false and prints to stderr on a bad value.
 */
bool config_load(struct config *cfg, int *argc, char **argv);

/** Prints the option table (flag, variable, default, documentation) to @a out. */
void config_usage(FILE *out);

#endif
