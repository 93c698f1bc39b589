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
-- last item of a firm wins). Data the regulator set is replaced only by the regulator: a
-- bank's report that differs from it is kept in firm_history with applied = false (once
-- per bank and content) and changes nothing. Every applied change is kept in firm_history.
CREATE OR REPLACE FUNCTION firms_upsert_items(p_items loan_item[], p_actor text, p_source text)
RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_regulator boolean := EXISTS (SELECT 1 FROM principals p
                                   WHERE p.code = p_actor AND p.kind = 'regulator');
BEGIN
    WITH input AS (
        SELECT DISTINCT ON (i.uscc) i.uscc, i.name, i.county_code, i.industry_code, i.size
        FROM unnest(p_items) i
        ORDER BY i.uscc, i.idx DESC),
    kept AS (
        SELECT i.* FROM input i JOIN firms f ON f.uscc = i.uscc
        WHERE NOT v_regulator AND f.regulator_set
          AND (f.name, f.county_code, f.industry_code, f.size)
              IS DISTINCT FROM (i.name, i.county_code, i.industry_code, i.size)
          AND NOT EXISTS (
              SELECT 1 FROM firm_history h
              WHERE h.uscc = i.uscc AND h.changed_by = p_actor AND NOT h.applied
                AND (h.name, h.county_code, h.industry_code, h.size)
                    = (i.name, i.county_code, i.industry_code, i.size))),
    changed AS (
        INSERT INTO firms AS t (uscc, name, county_code, industry_code, size, updated_by,
                                regulator_set)
        SELECT uscc, name, county_code, industry_code, size, p_actor, v_regulator
        FROM input ORDER BY uscc
        ON CONFLICT (uscc) DO UPDATE
            SET name = EXCLUDED.name, county_code = EXCLUDED.county_code,
                industry_code = EXCLUDED.industry_code, size = EXCLUDED.size,
                updated_at = now(), updated_by = EXCLUDED.updated_by,
                regulator_set = t.regulator_set OR EXCLUDED.regulator_set
            WHERE (EXCLUDED.regulator_set OR NOT t.regulator_set)
              AND ((t.name, t.county_code, t.industry_code, t.size)
                   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.county_code,
                                     EXCLUDED.industry_code, EXCLUDED.size)
                   OR EXCLUDED.regulator_set > t.regulator_set)
        RETURNING t.uscc, t.name, t.county_code, t.industry_code, t.size)
    INSERT INTO firm_history (uscc, name, county_code, industry_code, size, changed_by, source,
                              applied)
    SELECT uscc, name, county_code, industry_code, size, p_actor, p_source, true FROM changed
    UNION ALL
    SELECT uscc, name, county_code, industry_code, size, p_actor, p_source, false FROM kept;
END $$;
