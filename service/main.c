/* finregd: the command line. `serve` starts the background threads (database health
 * checker, principal-cache listener, statistics compactor, Idempotency-Key purger) and
 * runs the HTTPS server beside them; `migrate` (as the schema owner), `principal add | disable |
 * enable | list | cert` and `token issue | revoke` are the operator's commands against the same
 * database. Each credential change is logged (stderr) with the operator's login. */
#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compactor.h"
#include "config.h"
#include "crypto.h"
#include "exports.h"
#include "db/db.h"
#include "db/migrations.h"
#include "db/principal_cache.h"
#include "db/principals.h"
#include "db/stream.h"
#include "db/loans.h"
#include "handlers/handlers.h"
#include "db/route.h"
#include "http/reply.h"
#include "http/server.h"
#include "json/xlsx_out.h"
#include "log.h"
#include "principal.h"
#include "purger.h"

#define TOKEN_PREFIX   "frt_"
#define FINREG_VERSION "1.16.0"
#define KEEP_MAX       (30u * 86400u)

static int usage(FILE *out)
{
	fprintf(out, "usage: finregd [options] COMMAND\n"
		     "commands:\n"
		     "  serve\n"
		     "  migrate\n"
		     "  principal add --kind bank|guarantor|regulator --code CODE --name NAME"
		     " --cert FILE.pem\n"
		     "  principal disable CODE\n"
		     "  principal enable CODE\n"
		     "  principal list\n"
		     "  principal cert add CODE --cert FILE.pem\n"
		     "  principal cert remove CODE (--cert FILE.pem | SHA256)\n"
		     "  token issue --principal CODE   (prints: TOKEN ID)\n"
		     "  token revoke ID\n"
		     "  --version\n");
	config_usage(out);
	return out == stderr ? 2 : 0;
}

/* Who runs the command, for the log: the login behind sudo, else $USER, else the user
 * name of the effective uid. */
static const char *operator_name(void)
{
	const char *who = getenv("SUDO_USER");
	const struct passwd *pw;

	if (who == NULL || who[0] == '\0')
		who = getenv("USER");
	if (who != NULL && who[0] != '\0')
		return who;
	pw = getpwuid(geteuid());
	return pw != NULL ? pw->pw_name : "unknown";
}

static const char *db_problem(enum db_rc rc)
{
	switch (rc) {
	case DB_UNAVAILABLE:
		return "the database is unreachable";
	case DB_PENDING_MIGRATIONS:
		return "migrations are pending; run finregd migrate";
	case DB_READ_ONLY:
		return "the database is read-only (a standby); run this against the primary";
	case DB_CONFLICT:
		return "conflicts with what is stored";
	case DB_NOT_FOUND:
		return "not found";
	default:
		return "database error";
	}
}

/* Finds "--name value" in argv[from..]; NULL when absent. */
static const char *arg_value(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static int cmd_migrate(void)
{
	unsigned applied = 0;
	enum db_rc rc = db_migrate(&applied);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd migrate: %s\n", db_problem(rc));
		return 1;
	}
	printf("migrations: %u applied, schema at version %d\n", applied,
	       db_schema_version_expected());
	return 0;
}

static int cmd_principal_add(int argc, char **argv)
{
	const char *kind_s = arg_value(argc, argv, 3, "--kind");
	const char *code = arg_value(argc, argv, 3, "--code");
	const char *name = arg_value(argc, argv, 3, "--name");
	const char *cert = arg_value(argc, argv, 3, "--cert");
	enum principal_kind kind;
	char fp[65], subject[512];
	bool created;
	enum db_rc rc;

	if (kind_s == NULL || code == NULL || name == NULL || cert == NULL)
		return usage(stderr);
	if (!principal_kind_parse(kind_s, &kind)) {
		fprintf(stderr, "finregd: --kind must be bank, guarantor or regulator\n");
		return 2;
	}
	if (!principal_code_valid(code) || name[0] == '\0' || strlen(name) > 200) {
		fprintf(stderr, "finregd: --code must be 1-32 of A-Z a-z 0-9 . _ -, and --name "
				"1-200 bytes\n");
		return 2;
	}
	if (!cert_file_fingerprint(cert, fp, subject, sizeof subject))
		return 1;
	rc = db_principal_add(kind, code, name, fp, subject, &created);
	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal add %s: %s\n", code,
			rc == DB_CONFLICT ? "the code has another kind, or the certificate "
					    "belongs to another principal"
					  : db_problem(rc));
		return 1;
	}
	printf("%s %s %s, certificate sha256 %s\n", created ? "added" : "updated", kind_s, code,
	       fp);
	LOG_INFO("credentials: principal %s %s (%s), certificate %s, by %s", code,
		 created ? "added" : "updated", kind_s, fp, operator_name());
	return 0;
}

static int cmd_principal_disable(const char *code)
{
	enum db_rc rc = db_principal_disable(code);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal disable %s: %s\n", code, db_problem(rc));
		return 1;
	}
	printf("disabled %s\n", code);
	LOG_INFO("credentials: principal %s disabled by %s", code, operator_name());
	return 0;
}

static int cmd_token_issue(const char *code)
{
	char secret[65], token[80], digest[65], id[24];
	enum db_rc rc;

	random_hex(32, secret);
	snprintf(token, sizeof token, TOKEN_PREFIX "%s", secret);
	if (!sha256_hex(token, strlen(token), digest)) {
		fprintf(stderr, "finregd token issue: out of memory\n");
		return 1;
	}
	rc = db_token_add(code, digest, id, sizeof id);
	if (rc != DB_OK) {
		fprintf(stderr, "finregd token issue: %s: %s\n", code,
			rc == DB_NOT_FOUND ? "no active principal with that code" : db_problem(rc));
		return 1;
	}
	printf("%s %s\n", token, id);
	LOG_INFO("credentials: token %s issued to %s by %s", id, code, operator_name());
	return 0;
}

static int cmd_principal_enable(const char *code)
{
	enum db_rc rc = db_principal_enable(code);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal enable %s: %s\n", code, db_problem(rc));
		return 1;
	}
	printf("enabled %s\n", code);
	LOG_INFO("credentials: principal %s enabled by %s", code, operator_name());
	return 0;
}

static void print_listing(void *cls, const struct principal_listing *p)
{
	(void)cls;
	printf("%s %s %s %s\n", p->code, p->kind, p->status, p->name);
	if (p->certs[0] != '\0')
		printf("%s\n", p->certs);
	if (p->tokens[0] != '\0')
		printf("%s\n", p->tokens);
}

static int cmd_principal_list(void)
{
	enum db_rc rc = db_principal_list(print_listing, NULL);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal list: %s\n", db_problem(rc));
		return 1;
	}
	return 0;
}

/* A certificate's SHA-256 from "--cert FILE.pem" or as hex (colons and case ignored). */
static bool cert_arg(int argc, char **argv, int at, char fp[65], char *subject, size_t len)
{
	size_t n = 0;

	subject[0] = '\0';
	if (at + 1 < argc && strcmp(argv[at], "--cert") == 0)
		return argc == at + 2 && cert_file_fingerprint(argv[at + 1], fp, subject, len);
	if (argc != at + 1)
		return false;
	for (const char *c = argv[at]; *c != '\0'; c++) {
		if (*c == ':')
			continue;
		if (!isxdigit((unsigned char)*c) || n == 64)
			return false;
		fp[n++] = (char)tolower((unsigned char)*c);
	}
	fp[n] = '\0';
	return n == 64;
}

static int cmd_cert_add(const char *code, const char *fp, const char *subject)
{
	bool added;
	enum db_rc rc = db_principal_cert_add(code, fp, subject, &added);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal cert add %s: %s\n", code,
			rc == DB_CONFLICT ? "the certificate belongs to another principal"
					  : db_problem(rc));
		return 1;
	}
	printf("%s certificate sha256 %s for %s\n", added ? "added" : "already had", fp, code);
	LOG_INFO("credentials: certificate %s %s %s by %s", fp, added ? "added to" : "kept for",
		 code, operator_name());
	return 0;
}

static int cmd_cert_remove(const char *code, const char *fp)
{
	long long left = 0;
	enum db_rc rc = db_principal_cert_remove(code, fp, &left);

	if (rc != DB_OK) {
		fprintf(stderr, "finregd principal cert remove %s: %s\n", code,
			rc == DB_NOT_FOUND ? "the principal has no such certificate"
					   : db_problem(rc));
		return 1;
	}
	printf("removed certificate sha256 %s from %s (%lld left)\n", fp, code, left);
	if (left == 0)
		fprintf(stderr, "finregd: warning: %s has no certificate left\n", code);
	LOG_INFO("credentials: certificate %s removed from %s by %s", fp, code, operator_name());
	return 0;
}

/* principal cert add|remove CODE (--cert FILE.pem | SHA256); add needs the file. */
static int cmd_principal_cert(int argc, char **argv)
{
	char fp[65], subject[512];
	bool add = argc >= 4 && strcmp(argv[3], "add") == 0;

	if (argc < 6 || (!add && strcmp(argv[3], "remove") != 0) ||
	    (add && strcmp(argv[5], "--cert") != 0))
		return usage(stderr);
	if (!cert_arg(argc, argv, 5, fp, subject, sizeof subject)) {
		fprintf(stderr, "finregd: --cert FILE.pem or a SHA-256 of 64 hex digits\n");
		return 2;
	}
	return add ? cmd_cert_add(argv[4], fp, subject) : cmd_cert_remove(argv[4], fp);
}

static int cmd_token_revoke(const char *id)
{
	char code[64];
	bool revoked;
	size_t n = strspn(id, "0123456789");
	enum db_rc rc;

	if (n == 0 || n > 18 || id[n] != '\0') {
		fprintf(stderr, "finregd token revoke: the id is the number token issue printed\n");
		return 2;
	}
	rc = db_token_revoke(id, &revoked, code, sizeof code);
	if (rc != DB_OK) {
		fprintf(stderr, "finregd token revoke %s: %s\n", id,
			rc == DB_NOT_FOUND ? "no token has this id" : db_problem(rc));
		return 1;
	}
	printf("%s token %s of %s\n", revoked ? "revoked" : "already revoked:", id, code);
	LOG_INFO("credentials: token %s of %s revoked by %s", id, code, operator_name());
	return 0;
}

static int cmd_migrate_as_owner(const struct config *cfg)
{
	if (cfg->migrate_database_url[0] != '\0')
		db_configure(cfg->migrate_database_url);
	return cmd_migrate();
}

/* The threads that serve no HTTP: started before the server, stopped after it. */
static void background_start(const struct config *cfg, unsigned keep)
{
	db_set_statement_timeout(cfg->statement_timeout_ms);
	exports_set_max(cfg->max_exports);
	db_stream_set_timeout(cfg->export_timeout);
	reply_watch_allocations();
	db_idempotency_keep(keep);
	if (!db_health_start())
		LOG_WARN("database health checker not started: /readyz asks the database itself");
	if (!principal_cache_start())
		LOG_WARN("principal cache not started: every request looks its caller up");
	if (!compactor_start(1000))
		LOG_WARN("statistics compactor not started");
	if (!purger_start(keep / 4 < 1 ? 1 : keep / 4 > 60 ? 60 : keep / 4))
		LOG_WARN("Idempotency-Key purger not started");
}

static void background_stop(void)
{
	purger_stop();
	compactor_stop();
	principal_cache_stop();
	db_health_stop();
}

/* With glibc's default of 8 arenas a core, each arena keeps its own freed memory: with
 * request workers (bodies allocated on one thread, freed on another) bench/ingest saw the
 * server's peak RSS at 158 MiB against 80 MiB with 2 arenas (1 December 2026, same run
 * length, throughput within the run-to-run noise). With a thread per connection, many
 * threads share the 2 arenas, which keeps memory bounded as connections come and go. An
 * operator's choice wins: MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES. */
#define SERVE_ARENAS 2

static bool arenas_chosen(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	return getenv("MALLOC_ARENA_MAX") != NULL ||
	       (t != NULL && strstr(t, "glibc.malloc.arena_max") != NULL);
}

/* serve: the background threads, then the HTTPS server until SIGTERM or SIGINT. Those
 * are blocked first, so every thread inherits the mask and only server_run's sigwait()
 * takes them. */
static int cmd_serve(const struct config *cfg)
{
	sigset_t signals;
	unsigned keep = (unsigned)cfg->idempotency_keep;
	int rc;

	if (cfg->idempotency_keep < 1 || cfg->idempotency_keep > KEEP_MAX) {
		fprintf(stderr, "finregd: --idempotency-keep must be 1 to %u seconds\n", KEEP_MAX);
		return 2;
	}
	if (!arenas_chosen() && mallopt(M_ARENA_MAX, SERVE_ARENAS) != 1)
		LOG_WARN("malloc arenas left at glibc's default");
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	background_start(cfg, keep);
	rc = server_run(cfg);
	background_stop();
	return rc;
}

/* The command in argv[1..], or -1 when there is none such. */
static int dispatch(const struct config *cfg, int argc, char **argv)
{
	const char *cmd = argv[1], *sub = argc >= 3 ? argv[2] : "";

	if (strcmp(cmd, "serve") == 0 && argc == 2)
		return cmd_serve(cfg);
	if (strcmp(cmd, "migrate") == 0 && argc == 2)
		return cmd_migrate_as_owner(cfg);
	if (strcmp(cmd, "principal") == 0) {
		if (strcmp(sub, "add") == 0)
			return cmd_principal_add(argc, argv);
		if (strcmp(sub, "disable") == 0 && argc == 4)
			return cmd_principal_disable(argv[3]);
		if (strcmp(sub, "enable") == 0 && argc == 4)
			return cmd_principal_enable(argv[3]);
		if (strcmp(sub, "list") == 0 && argc == 3)
			return cmd_principal_list();
		if (strcmp(sub, "cert") == 0)
			return cmd_principal_cert(argc, argv);
	}
	if (strcmp(cmd, "token") == 0) {
		if (strcmp(sub, "issue") == 0 && argc == 5 && strcmp(argv[3], "--principal") == 0)
			return cmd_token_issue(argv[4]);
		if (strcmp(sub, "revoke") == 0 && argc == 4)
			return cmd_token_revoke(argv[3]);
	}
	return -1;
}

static bool known_command(const char *cmd)
{
	return strcmp(cmd, "serve") == 0 || strcmp(cmd, "migrate") == 0 ||
	       strcmp(cmd, "principal") == 0 || strcmp(cmd, "token") == 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int rc;

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("finregd %s (schema version %d)\n", FINREG_VERSION,
		       db_schema_version_expected());
		return 0;
	}
	if (!config_load(&cfg, &argc, argv))
		return 2;
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	if (!known_command(argv[1])) {
		fprintf(stderr,
			"finregd: unknown command '%s'\n"
			"usage: finregd [options] serve | migrate | principal ... | token ...;"
			" finregd --help lists them all\n",
			argv[1]);
		return 2;
	}
	db_configure(cfg.database_url);
	xlsx_set_tmpdir(cfg.export_dir);
	db_read_configure(cfg.read_database_url, cfg.read_max_lag_ms);
	dashboard_set_dir(cfg.web_dir);
	rc = dispatch(&cfg, argc, argv);
	if (rc < 0)
		return usage(stderr);
	db_disconnect();
	return rc;
}
