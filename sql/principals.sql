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

-- Whether principals read here are current within the second docs/security.md promises:
-- always on a primary; on a standby (whose changes notify nobody, so an instance on it
-- looks every caller up there) only while it has replayed all it received, or its last
-- replayed transaction is less than a second old. A standby that holds WAL it has not
-- replayed for longer (replay paused, held back by a query conflict, or slow) may still
-- hold a principal that was disabled, and one without a WAL receiver cannot tell what it
-- lacks: principal_select_by_cert and _by_token then answer no principal but this false,
-- and the request is 503. (A standby that receives late, asynchronously, is as late as
-- its replication: docs/security.md.)
CREATE OR REPLACE FUNCTION principals_fresh() RETURNS boolean
    LANGUAGE sql STABLE
    RETURN NOT pg_is_in_recovery()
        OR (EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE pid IS NOT NULL)
            AND (pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 OR clock_timestamp() - pg_last_xact_replay_timestamp() < interval '1 second'));
