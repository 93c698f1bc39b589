/* Statements and functions of db/principals.h. */
#include "db/principals.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "db/principal_cache.h"
#include "log.h"

/* A principal look-up @a select (id, kind, code, name by $1) as one row: first whether what
 * is read here is current (principals_fresh(), sql/principals.sql; $2 the standby's mark,
 * principal_cache_standby_mark), then the principal, NULL when none. */
#define FRESH_LOOKUP(select)                                                                       \
	"SELECT principals_fresh(nullif($2, '')::pg_lsn), x.id, x.kind, x.code, x.name"            \
	" FROM (SELECT 1) one LEFT JOIN (" select ") x ON true"

const struct db_stmt db_stmts_principals[] = {
    {"principal_select_by_cert",
     FRESH_LOOKUP("SELECT p.id, p.kind, p.code, p.name FROM principal_certs c"
		  " JOIN principals p ON p.id = c.principal_id WHERE c.sha256 = $1 AND p.active")},
    {"principal_select_by_token",
     FRESH_LOOKUP("SELECT p.id, p.kind, p.code, p.name FROM principal_tokens t"
		  " JOIN principals p ON p.id = t.principal_id"
		  " WHERE t.sha256 = $1 AND t.revoked_at IS NULL AND p.active")},
    {"principal_select_by_code", "SELECT id, kind FROM principals WHERE code = $1"},
    {"principal_insert",
     "INSERT INTO principals (kind, code, name) VALUES ($1, $2, $3) RETURNING id"},
    {"principal_cert_select", "SELECT principal_id FROM principal_certs WHERE sha256 = $1"},
    {"principal_cert_insert",
     "INSERT INTO principal_certs (sha256, principal_id, subject) VALUES ($1, $2, $3)"},
    {"principal_disable",
     "UPDATE principals SET active = false, disabled_at = coalesce(disabled_at, now())"
     " WHERE code = $1 RETURNING id"},
    {"principal_token_insert",
     "INSERT INTO principal_tokens (sha256, principal_id)"
     " SELECT $1, id FROM principals WHERE code = $2 AND active RETURNING id"},
    {"principal_enable",
     "UPDATE principals SET active = true, disabled_at = NULL WHERE code = $1 RETURNING id"},
    /* Principal id (NULL: no such code), whether the certificate was added, and the
     * principal that owned it before (NULL: nobody). */
    {"principal_cert_attach",
     "WITH p AS (SELECT id FROM principals WHERE code = $2),"
     " ins AS (INSERT INTO principal_certs (sha256, principal_id, subject)"
     " SELECT $1, p.id, $3 FROM p ON CONFLICT (sha256) DO NOTHING RETURNING principal_id)"
     " SELECT (SELECT id FROM p), (SELECT count(*) FROM ins),"
     " (SELECT principal_id FROM principal_certs WHERE sha256 = $1)"},
    /* The principal's certificates left after the removal. */
    {"principal_cert_remove",
     "DELETE FROM principal_certs c USING principals p"
     " WHERE p.id = c.principal_id AND p.code = $1 AND c.sha256 = $2"
     " RETURNING (SELECT count(*) - 1 FROM principal_certs x WHERE x.principal_id = p.id)"},
    /* Whether the token was revoked by this call (false: it already was). */
    {"principal_token_revoke",
     "WITH t AS (SELECT id, revoked_at FROM principal_tokens WHERE id = $1::bigint FOR UPDATE),"
     " u AS (UPDATE principal_tokens x SET revoked_at = now() FROM t"
     " WHERE x.id = t.id AND t.revoked_at IS NULL RETURNING x.id)"
     " SELECT (SELECT count(*) FROM u), p.code FROM t JOIN principal_tokens y ON y.id = t.id"
     " JOIN principals p ON p.id = y.principal_id"},
    {"principal_list",
     "SELECT p.code, p.kind, CASE WHEN p.active THEN 'active' ELSE 'disabled' END, p.name,"
     " coalesce((SELECT string_agg('  cert ' || c.sha256 || ' added ' || ts_text(c.added_at)"
     " || ' ' || c.subject, E'\\n' ORDER BY c.added_at, c.sha256) FROM principal_certs c"
     " WHERE c.principal_id = p.id), ''),"
     " coalesce((SELECT string_agg('  token ' || t.id || ' issued ' || ts_text(t.issued_at)"
     " || coalesce(' revoked ' || ts_text(t.revoked_at), ''), E'\\n' ORDER BY t.id)"
     " FROM principal_tokens t WHERE t.principal_id = p.id), '')"
     " FROM principals p ORDER BY p.code"},
    {NULL, NULL},
};

struct lookup {
	const char *stmt;
	const char *key;
	struct principal *out;
};

static atomic_bool stale_told; /* the 503s of a standby behind have been logged */

static enum db_rc do_lookup(PGconn *c, void *cls)
{
	struct lookup *l = cls;
	char mark[64];
	const char *params[] = {l->key, mark};
	enum db_rc rc;
	PGresult *r;

	principal_cache_standby_mark(mark, sizeof mark);
	r = db_run(c, l->stmt, 2, params, &rc);

	if (r == NULL)
		return rc;
	if (PQntuples(r) != 1) {
		LOG_BUG("%s answered %d rows", l->stmt, PQntuples(r));
		rc = DB_ERROR;
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		/* A standby behind by more than the bound: nobody is known or refused here. */
		if (!atomic_exchange(&stale_told, true))
			LOG_WARN("callers answered 503: the standby has not replayed what it "
				 "received a second ago, or has no WAL receiver, so a disabled "
				 "principal may still look active here");
		rc = DB_UNAVAILABLE;
		goto out;
	}
	if (atomic_exchange(&stale_told, false))
		LOG_INFO("the standby has caught up: callers are looked up again");
	if (PQgetisnull(r, 0, 1)) {
		rc = DB_NOT_FOUND;
		goto out;
	}
	l->out->id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	if (!principal_kind_parse(PQgetvalue(r, 0, 2), &l->out->kind)) {
		rc = DB_ERROR;
		goto out;
	}
	snprintf(l->out->code, sizeof l->out->code, "%s", PQgetvalue(r, 0, 3));
	snprintf(l->out->name, sizeof l->out->name, "%s", PQgetvalue(r, 0, 4));
out:
	PQclear(r);
	return rc;
}

static enum db_rc fetch_by_cert(const char *sha256_hex, struct principal *out)
{
	struct lookup l = {"principal_select_by_cert", sha256_hex, out};

	return db_once(do_lookup, &l);
}

static enum db_rc fetch_by_token(const char *sha256_hex, struct principal *out)
{
	struct lookup l = {"principal_select_by_token", sha256_hex, out};

	return db_once(do_lookup, &l);
}

enum db_rc db_principal_by_cert(const char *sha256_hex, struct principal *out)
{
	return principal_cache_lookup('c', sha256_hex, fetch_by_cert, out);
}

enum db_rc db_principal_by_token(const char *sha256_hex, struct principal *out)
{
	return principal_cache_lookup('t', sha256_hex, fetch_by_token, out);
}

struct add {
	enum principal_kind kind;
	const char *code, *name, *cert, *subject;
	bool created;
};

/* Finds or creates the principal; leaves its id in id (a decimal string). */
static enum db_rc find_or_create(PGconn *c, struct add *a, char id[24])
{
	const char *by_code[] = {a->code};
	const char *insert[] = {principal_kind_name(a->kind), a->code, a->name};
	enum db_rc rc;
	PGresult *r = db_run(c, "principal_select_by_code", 1, by_code, &rc);

	if (r == NULL)
		return rc;
	if (PQntuples(r) == 1) {
		rc = strcmp(PQgetvalue(r, 0, 1), principal_kind_name(a->kind)) == 0 ? DB_OK
										    : DB_CONFLICT;
		snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		return rc;
	}
	PQclear(r);
	r = db_run(c, "principal_insert", 3, insert, &rc);
	if (r == NULL)
		return rc;
	snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
	a->created = true;
	PQclear(r);
	return DB_OK;
}

static enum db_rc do_add(PGconn *c, void *cls)
{
	struct add *a = cls;
	char id[24];
	const char *by_cert[] = {a->cert};
	enum db_rc rc;
	PGresult *r;

	a->created = false;
	rc = find_or_create(c, a, id);
	if (rc != DB_OK)
		return rc;
	r = db_run(c, "principal_cert_select", 1, by_cert, &rc);
	if (r == NULL)
		return rc;
	if (PQntuples(r) == 1) {
		rc = strcmp(PQgetvalue(r, 0, 0), id) == 0 ? DB_OK : DB_CONFLICT;
		PQclear(r);
		return rc;
	}
	PQclear(r);
	const char *insert[] = {a->cert, id, a->subject};

	r = db_run(c, "principal_cert_insert", 3, insert, &rc);
	PQclear(r);
	return rc;
}

enum db_rc db_principal_add(enum principal_kind kind, const char *code, const char *name,
			    const char *cert_sha256, const char *subject, bool *created)
{
	struct add a = {kind, code, name, cert_sha256, subject, false};
	enum db_rc rc = db_tx(do_add, &a, true);

	*created = a.created;
	return rc;
}

static enum db_rc do_single(PGconn *c, const char *stmt, int n, const char *const *params)
{
	enum db_rc rc;
	PGresult *r = db_run(c, stmt, n, params, &rc);

	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? DB_OK : DB_NOT_FOUND;
	PQclear(r);
	return rc;
}

static enum db_rc do_disable(PGconn *c, void *cls)
{
	const char *params[] = {cls};

	return do_single(c, "principal_disable", 1, params);
}

enum db_rc db_principal_disable(const char *code)
{
	return db_tx(do_disable, (void *)code, false);
}

struct token_add {
	const char *code, *digest;
	char *id;
	size_t id_len;
};

static enum db_rc do_token_add(PGconn *c, void *cls)
{
	struct token_add *t = cls;
	const char *params[] = {t->digest, t->code};
	enum db_rc rc;
	PGresult *r = db_run(c, "principal_token_insert", 2, params, &rc);

	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? DB_OK : DB_NOT_FOUND;
	if (rc == DB_OK)
		db_value_copy(t->id, t->id_len, r, 0, 0);
	PQclear(r);
	return rc;
}

enum db_rc db_token_add(const char *code, const char *token_sha256, char *id, size_t id_len)
{
	struct token_add t = {code, token_sha256, id, id_len};

	return db_tx(do_token_add, &t, false);
}

static enum db_rc do_enable(PGconn *c, void *cls)
{
	const char *params[] = {cls};

	return do_single(c, "principal_enable", 1, params);
}

enum db_rc db_principal_enable(const char *code)
{
	return db_tx(do_enable, (void *)code, false);
}

struct cert_change {
	const char *code, *sha256, *subject;
	bool done;
	long long remaining;
};

static enum db_rc do_cert_attach(PGconn *c, void *cls)
{
	struct cert_change *a = cls;
	const char *params[] = {a->sha256, a->code, a->subject};
	enum db_rc rc;
	PGresult *r = db_run(c, "principal_cert_attach", 3, params, &rc);

	if (r == NULL)
		return rc;
	a->done = db_value_int(r, 0, 1) == 1;
	if (PQgetisnull(r, 0, 0))
		rc = DB_NOT_FOUND;
	else if (!a->done && strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2)) != 0)
		rc = DB_CONFLICT;
	PQclear(r);
	return rc;
}

enum db_rc db_principal_cert_add(const char *code, const char *cert_sha256, const char *subject,
				 bool *added)
{
	struct cert_change a = {code, cert_sha256, subject, false, 0};
	enum db_rc rc = db_tx(do_cert_attach, &a, false);

	*added = a.done;
	return rc;
}

static enum db_rc do_cert_remove(PGconn *c, void *cls)
{
	struct cert_change *a = cls;
	const char *params[] = {a->code, a->sha256};
	enum db_rc rc;
	PGresult *r = db_run(c, "principal_cert_remove", 2, params, &rc);

	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? DB_OK : DB_NOT_FOUND;
	if (rc == DB_OK)
		a->remaining = db_value_int(r, 0, 0);
	PQclear(r);
	return rc;
}

enum db_rc db_principal_cert_remove(const char *code, const char *cert_sha256, long long *remaining)
{
	struct cert_change a = {code, cert_sha256, NULL, false, 0};
	enum db_rc rc = db_tx(do_cert_remove, &a, false);

	*remaining = a.remaining;
	return rc;
}

struct revoke {
	const char *id;
	bool revoked;
	char code[64];
};

static enum db_rc do_revoke(PGconn *c, void *cls)
{
	struct revoke *v = cls;
	const char *params[] = {v->id};
	enum db_rc rc;
	PGresult *r = db_run(c, "principal_token_revoke", 1, params, &rc);

	if (r == NULL)
		return rc;
	rc = PQntuples(r) == 1 ? DB_OK : DB_NOT_FOUND;
	if (rc == DB_OK) {
		v->revoked = db_value_int(r, 0, 0) == 1;
		db_value_copy(v->code, sizeof v->code, r, 0, 1);
	}
	PQclear(r);
	return rc;
}

enum db_rc db_token_revoke(const char *id, bool *revoked, char *code, size_t code_len)
{
	struct revoke v = {id, false, ""};
	enum db_rc rc = db_tx(do_revoke, &v, false);

	*revoked = v.revoked;
	snprintf(code, code_len, "%s", v.code);
	return rc;
}

struct list_state {
	principal_list_fn fn;
	void *cls;
};

static void list_row(void *cls, const PGresult *r, int row)
{
	struct list_state *s = cls;
	struct principal_listing l = {PQgetvalue(r, row, 0), PQgetvalue(r, row, 1),
				      PQgetvalue(r, row, 2), PQgetvalue(r, row, 3),
				      PQgetvalue(r, row, 4), PQgetvalue(r, row, 5)};

	s->fn(s->cls, &l);
}

enum db_rc db_principal_list(principal_list_fn fn, void *cls)
{
	struct list_state s = {fn, cls};

	return db_rows("principal_list", 0, NULL, list_row, &s);
}
