-- Issue 16: tokens get an id (for `finregd token revoke`); firm reference data the regulator set is not replaced by a bank's report (the
-- report is kept in firm_history, not applied); stored Idempotency-Key answers expire (an
-- index for the background purge); and the role finreg_app that the serving role belongs
-- to (privileges: sql/zz_grants.sql, re-applied by every migrate). See docs/security.md.

-- Whether the firm's current reference data was written by the regulator.
ALTER TABLE firms ADD COLUMN regulator_set boolean NOT NULL DEFAULT false;
UPDATE firms f SET regulator_set = true
WHERE EXISTS (SELECT 1 FROM principals p WHERE p.code = f.updated_by AND p.kind = 'regulator');

-- false: a bank's report that differed from data the regulator set, kept but not applied.
ALTER TABLE firm_history ADD COLUMN applied boolean NOT NULL DEFAULT true;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The id `finregd token issue` prints beside a token and `token revoke ID` takes.
ALTER TABLE principal_tokens ADD COLUMN id bigserial UNIQUE;

-- The group role of the serving login role(s). Creating it needs CREATEROLE; an owner
-- without it has the database administrator create the role first (then this skips).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finreg_app') THEN
        CREATE ROLE finreg_app NOLOGIN;
    END IF;
END $$;
