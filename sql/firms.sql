-- Firms' reference data (name, county, industry, size) as banks, the regulator and
-- supply-chain programs report it: one upsert, which keeps every change in firm_history.
-- Tables: migrations/003_loans.sql.

-- Records firms' reference data as reported by @p_actor (a jsonb list of {ord, uscc, name,
-- county_code, industry_code, size}; used by corrections, referrals and supply-chain
-- programs) through firms_upsert_items: "ord" orders the firms as "idx" does the items
-- (the last report of a firm wins).
CREATE OR REPLACE FUNCTION firms_upsert(p_firms jsonb, p_actor text, p_source text)
RETURNS void
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM firms_upsert_items(ARRAY(
        SELECT x FROM jsonb_populate_recordset(NULL::loan_item, (
            SELECT jsonb_agg(f || jsonb_build_object('idx', f->'ord'))
            FROM jsonb_array_elements(p_firms) f)) x), p_actor, p_source);
END $$;

-- Records the reference data of the borrowers of @p_items as reported by @p_actor (the
-- last item of a firm wins), as firms_upsert does for a jsonb list: new firms inserted,
-- changed ones updated, and every insert or change kept in firm_history. Locks in USCC
-- order.
CREATE OR REPLACE FUNCTION firms_upsert_items(p_items loan_item[], p_actor text, p_source text)
RETURNS void
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    WITH input AS (
        SELECT DISTINCT ON (i.uscc) i.uscc, i.name, i.county_code, i.industry_code, i.size
        FROM unnest(p_items) i
        ORDER BY i.uscc, i.idx DESC),
    changed AS (
        INSERT INTO firms AS t (uscc, name, county_code, industry_code, size, updated_by)
        SELECT uscc, name, county_code, industry_code, size, p_actor FROM input ORDER BY uscc
        ON CONFLICT (uscc) DO UPDATE
            SET name = EXCLUDED.name, county_code = EXCLUDED.county_code,
                industry_code = EXCLUDED.industry_code, size = EXCLUDED.size,
                updated_at = now(), updated_by = EXCLUDED.updated_by
            WHERE (t.name, t.county_code, t.industry_code, t.size)
                  IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.county_code,
                                    EXCLUDED.industry_code, EXCLUDED.size)
        RETURNING t.uscc, t.name, t.county_code, t.industry_code, t.size)
    INSERT INTO firm_history (uscc, name, county_code, industry_code, size, changed_by, source)
    SELECT uscc, name, county_code, industry_code, size, p_actor, p_source FROM changed;
END $$;
