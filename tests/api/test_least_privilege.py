"""Issue 16, item 6: migrations run as the schema owner (FINREG_MIGRATE_DATABASE_URL); the
server connects as finregd_serve (member of finreg_app, scripts/db-roles.sql), which may
read and write rows and run functions but create, alter, drop and truncate nothing and
never write schema_migrations. Every server of the suite connects that way (harness), so
the whole API suite is the end-to-end proof that the grants are enough."""

import subprocess

import finreg_data as fd
import harness


def as_server_role(sql):
    """Runs sql as the serving role; returns (exit code, stderr)."""
    p = subprocess.run([harness.PSQL, '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                        '-d', harness.cluster().app_url, '-c', sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd='/')
    return p.returncode, p.stderr


def test_the_serving_role_cannot_change_the_schema_or_the_migration_table():
    harness.setup()
    for sql in ('DROP TABLE loans', 'TRUNCATE loans', 'TRUNCATE idempotency_keys',
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'x')",
                'UPDATE schema_migrations SET name = name', 'DELETE FROM schema_migrations',
                'CREATE TABLE evil (x int)', 'ALTER TABLE loans ADD COLUMN evil int',
                'CREATE INDEX evil ON loans (id)', 'DROP FUNCTION loan_correct',
                'CREATE FUNCTION evil() RETURNS int LANGUAGE sql RETURN 1',
                'CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text '
                "LANGUAGE sql RETURN 'x'",
                'ALTER ROLE finregd_serve SUPERUSER', 'CREATE ROLE evil',
                'GRANT finreg_app TO postgres'):
        rc, err = as_server_role(sql)
        assert rc != 0 and ('permission denied' in err or 'must ' in err), (sql, err)
    assert harness.psql("SELECT count(*) FROM schema_migrations WHERE version = 999") == [['0']]
    # What the server does need works: reading the schema version, rows, functions.
    assert as_server_role('SELECT max(version) FROM schema_migrations')[0] == 0
    assert as_server_role('SELECT count(*) FROM loans; SELECT ts_text(now())')[0] == 0


def test_the_suite_serves_as_the_serving_role_end_to_end():
    harness.setup()
    c = harness.client('bank')
    body = fd.loan()
    assert c.post('/v1/loans', json=body).status == 201
    assert c.post('/v1/loans/batch', json={'loans': [fd.loan()]},
                  headers={'Idempotency-Key': harness.unique('lp-')}).status == 200
    assert c.get('/v1/loans/' + harness.quote(body['loan_ref'])).status == 200
    users = harness.psql("SELECT DISTINCT usename FROM pg_stat_activity "
                         "WHERE datname = 'finreg' AND backend_type = 'client backend' "
                         "AND usename <> 'postgres'")
    assert users == [['finregd_serve']], users
    rows = harness.psql("SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
                        "pg_has_role('finregd_serve', 'finreg_app', 'member') "
                        "FROM pg_roles r WHERE r.rolname = 'finregd_serve'")
    assert rows == [['f', 'f', 'f', 't']], rows


def test_migrate_uses_the_owner_url_and_the_serving_role_cannot_migrate():
    harness.setup()
    cl = harness.cluster()
    p = harness.finregd('migrate', env={'FINREG_DATABASE_URL': cl.app_url,
                                        'FINREG_MIGRATE_DATABASE_URL': cl.url})
    assert p.returncode == 0 and 'migrations: 0 applied' in p.stdout, p
    p = harness.finregd('migrate', env={'FINREG_DATABASE_URL': cl.app_url}, check=False)
    assert p.returncode == 1, p
    # The grants cover tables and functions made after the first migrate: a new table
    # made by the owner is usable by the serving role after the next migrate.
    harness.psql('CREATE TABLE IF NOT EXISTS lp_probe (x int)')
    try:
        harness.finregd('migrate')
        assert as_server_role('INSERT INTO lp_probe VALUES (1)')[0] == 0
        assert as_server_role('TRUNCATE lp_probe')[0] != 0
    finally:
        harness.psql('DROP TABLE lp_probe')
