/* finregd: the command line. `serve` runs the HTTPS server; `migrate`, `principal add |
 * disable` and `token issue` are the operator's commands against the same database. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db/db.h"
#include "db/migrations.h"
#include "db/principals.h"
#include "http/server.h"
#include "json/xlsx_out.h"
#include "principal.h"

#define TOKEN_PREFIX "frt_"

static int usage(FILE *out)
{
	fprintf(out, "usage: finregd [options] COMMAND\n"
		     "commands:\n"
		     "  serve\n"
		     "  migrate\n"
		     "  principal add --kind bank|guarantor|regulator --code CODE --name NAME"
		     " --cert FILE.pem\n"
		     "  principal disable CODE\n"
		     "  token issue --principal CODE\n");
	config_usage(out);
	return out == stderr ? 2 : 0;
}

static const char *db_problem(enum db_rc rc)
{
	switch (rc) {
	case DB_UNAVAILABLE:
		return "the database is unreachable";
	case DB_PENDING_MIGRATIONS:
		return "migrations are pending; run finregd migrate";
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
	return 0;
}

static int cmd_token_issue(const char *code)
{
	char secret[65], token[80], digest[65];
	enum db_rc rc;

	random_hex(32, secret);
	snprintf(token, sizeof token, TOKEN_PREFIX "%s", secret);
	sha256_hex(token, strlen(token), digest);
	rc = db_token_add(code, digest);
	if (rc != DB_OK) {
		fprintf(stderr, "finregd token issue: %s: %s\n", code,
			rc == DB_NOT_FOUND ? "no active principal with that code" : db_problem(rc));
		return 1;
	}
	printf("%s\n", token);
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int rc = 2;

	if (!config_load(&cfg, &argc, argv))
		return 2;
	if (argc < 2)
		return usage(stderr);
	db_configure(cfg.database_url);
	xlsx_set_tmpdir(cfg.export_dir);
	if (strcmp(argv[1], "serve") == 0 && argc == 2)
		return server_run(&cfg);
	if (strcmp(argv[1], "migrate") == 0 && argc == 2)
		rc = cmd_migrate();
	else if (strcmp(argv[1], "principal") == 0 && argc >= 3 && strcmp(argv[2], "add") == 0)
		rc = cmd_principal_add(argc, argv);
	else if (strcmp(argv[1], "principal") == 0 && argc == 4 && strcmp(argv[2], "disable") == 0)
		rc = cmd_principal_disable(argv[3]);
	else if (strcmp(argv[1], "token") == 0 && argc == 5 && strcmp(argv[2], "issue") == 0 &&
		 strcmp(argv[3], "--principal") == 0)
		rc = cmd_token_issue(argv[4]);
	else if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	else
		return usage(stderr);
	db_disconnect();
	return rc;
}
