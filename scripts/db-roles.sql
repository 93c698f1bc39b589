-- What a database administrator runs once per cluster, as a superuser, for finreg's least
-- privilege (docs/security.md): finreg_app, the group role that sql/zz_grants.sql grants
-- exactly what the API needs, and finregd_serve, the login role `finregd serve` connects as
-- (FINREG_DATABASE_URL). Migrations run as the schema owner (FINREG_MIGRATE_DATABASE_URL).
-- Used by `make run` (scripts/dev.sh) and the test harness; safe to run again, and a no-op
-- on a standby. A production deployment gives finregd_serve a password or a certificate.
DO $$
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finreg_app') THEN
        CREATE ROLE finreg_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finregd_serve') THEN
        CREATE ROLE finregd_serve LOGIN IN ROLE finreg_app;
    END IF;
END $$;
