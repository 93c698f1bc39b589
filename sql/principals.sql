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
