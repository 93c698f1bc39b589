-- Principals (banks, guarantors, the regulator): tables in migrations/001_principals.sql.

-- finregd servers cache which principal a certificate or token digest belongs to
-- (service/db/principal_cache.c). Every committed change to principals, their certificates
-- or their tokens, made by any server or command, sends NOTIFY finreg_principals, and
-- each server empties its cache on it: a disabled principal or a revoked token is
-- refused at once, by every instance.
CREATE OR REPLACE FUNCTION principals_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('finreg_principals', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER principals_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION principals_changed();

CREATE OR REPLACE TRIGGER principal_certs_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON principal_certs
    FOR EACH STATEMENT EXECUTE FUNCTION principals_changed();

CREATE OR REPLACE TRIGGER principal_tokens_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON principal_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION principals_changed();

-- Whether principals read here are current within the bound docs/security.md states:
-- always on a primary; on a standby (whose changes notify nobody, so an instance on it
-- looks every caller up there) only when it has replayed all the WAL it had received
-- about a second before, @p_received (principal_cache_standby_mark: sampled by the
-- instance; NULL when it has no such sample, e.g. the standby has no WAL receiver and
-- cannot tell what it lacks). A standby behind by more (replay paused, held back by a
-- query conflict, or slow) may still hold a principal that was disabled:
-- principal_select_by_cert and _by_token then answer no principal but this false, and
-- the request is 503. A standby busy replaying a long transaction that streams WAL keeps
-- up with what it received and stays fresh. (One that receives late, asynchronously, is
-- as late as its replication: docs/security.md.)
DROP FUNCTION IF EXISTS principals_fresh();
CREATE OR REPLACE FUNCTION principals_fresh(p_received pg_lsn) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN NOT pg_is_in_recovery()
        OR (p_received IS NOT NULL AND pg_last_wal_replay_lsn() >= p_received);
