-- Firms' reference data (name, county, industry, size) as banks, the regulator and
-- supply-chain programs report it: one upsert, which keeps every version (firm_versions).
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
-- per bank and content) and changes nothing. Every applied change is a version
-- (firm_versions): the row holds the current one, with its source, and the version it
-- replaces goes to firm_history (firms_keep_replaced), so a new firm writes one row.
CREATE OR REPLACE FUNCTION firms_upsert_items(p_items loan_item[], p_actor text, p_source text)
RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_regulator boolean := EXISTS (SELECT 1 FROM principals p
                                   WHERE p.code = p_actor AND p.kind = 'regulator');
    v_refused text[]; -- firms whose data the regulator set, reported otherwise (probe)
BEGIN
    WITH input AS (
        SELECT DISTINCT ON (i.uscc) i.uscc, i.name, i.county_code, i.industry_code, i.size
        FROM unnest(p_items) i
        ORDER BY i.uscc, i.idx DESC),
    -- Each firm as stored, in one probe. A report that changes nothing (the stored data
    -- equal, no regulator flag to set) is left out of the upsert: it would only lock the
    -- row (a WAL record per firm) for an update its WHERE refuses. (A firm changed by an
    -- ingest committing meanwhile keeps that change, as it would had this one run first.)
    probed AS (
        SELECT i.*, f.uscc IS NOT NULL AS stored, f.regulator_set,
               (f.name, f.county_code, f.industry_code, f.size)
               IS NOT DISTINCT FROM (i.name, i.county_code, i.industry_code, i.size) AS same
        FROM input i LEFT JOIN firms f ON f.uscc = i.uscc),
    changed AS (
        INSERT INTO firms AS t (uscc, name, county_code, industry_code, size, updated_by,
                                regulator_set, source)
        SELECT uscc, name, county_code, industry_code, size, p_actor, v_regulator, p_source
        FROM probed
        WHERE NOT stored OR NOT same OR v_regulator AND NOT regulator_set
        ORDER BY uscc
        ON CONFLICT (uscc) DO UPDATE
            SET name = EXCLUDED.name, county_code = EXCLUDED.county_code,
                industry_code = EXCLUDED.industry_code, size = EXCLUDED.size,
                updated_at = clock_timestamp(), updated_by = EXCLUDED.updated_by,
                regulator_set = t.regulator_set OR EXCLUDED.regulator_set,
                source = EXCLUDED.source
            WHERE (EXCLUDED.regulator_set OR NOT t.regulator_set)
              AND ((t.name, t.county_code, t.industry_code, t.size)
                   IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.county_code,
                                     EXCLUDED.industry_code, EXCLUDED.size)
                   OR EXCLUDED.regulator_set > t.regulator_set))
    SELECT array_agg(p.uscc) FILTER (WHERE p.stored AND p.regulator_set AND NOT p.same)
    INTO v_refused
    FROM probed p
    WHERE NOT v_regulator;
    -- The refused reports, each once per bank and content: of the firms the probe found
    -- set by the regulator (as one statement did before), against the row as it is now
    -- (rare: a statement of its own, so that the common call starts no plan that writes
    -- firm_history).
    IF v_refused IS NOT NULL THEN
        INSERT INTO firm_history (uscc, name, county_code, industry_code, size, changed_at,
                                  changed_by, source, applied)
        SELECT i.uscc, i.name, i.county_code, i.industry_code, i.size, clock_timestamp(),
               p_actor, p_source, false
        FROM (SELECT DISTINCT ON (x.uscc) x.uscc, x.name, x.county_code, x.industry_code, x.size
              FROM unnest(p_items) x
              WHERE x.uscc = ANY (v_refused)
              ORDER BY x.uscc, x.idx DESC) i
        JOIN firms f ON f.uscc = i.uscc
        WHERE f.regulator_set
          AND (f.name, f.county_code, f.industry_code, f.size)
              IS DISTINCT FROM (i.name, i.county_code, i.industry_code, i.size)
          AND NOT EXISTS (
              SELECT 1 FROM firm_history h
              WHERE h.uscc = i.uscc AND h.changed_by = p_actor AND NOT h.applied
                AND (h.name, h.county_code, h.industry_code, h.size)
                    = (i.name, i.county_code, i.industry_code, i.size));
    END IF;
END $$;

-- Keeps the version a change replaces in firm_history, as it was reported, when the row
-- held it alone (source set: firms stored since migration 022). Before each update, so
-- it sees the version the update locked, whoever committed it.
CREATE OR REPLACE FUNCTION firm_history_keep_replaced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO firm_history (uscc, name, county_code, industry_code, size, changed_at,
                              changed_by, source, applied)
    VALUES (OLD.uscc, OLD.name, OLD.county_code, OLD.industry_code, OLD.size, OLD.updated_at,
            OLD.updated_by, OLD.source, true);
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER firms_keep_replaced BEFORE UPDATE ON firms
    FOR EACH ROW WHEN (OLD.source IS NOT NULL) EXECUTE FUNCTION firm_history_keep_replaced();

-- Every version of every firm's reference data, and the reports not applied: firm_history
-- and, for a firm whose row holds its current version alone (source set), that row. In
-- order: changed_at, then id (NULL, the current version, last). A change sets updated_at
-- to clock_timestamp(), the time it took the row's lock, not its transaction's start: two
-- reports of one firm that overlap are then in the order they changed it.
CREATE OR REPLACE VIEW firm_versions AS
    SELECT h.uscc, h.name, h.county_code, h.industry_code, h.size, h.changed_at, h.changed_by,
           h.source, h.applied, h.id
    FROM firm_history h
    UNION ALL
    SELECT f.uscc, f.name, f.county_code, f.industry_code, f.size, f.updated_at, f.updated_by,
           f.source, true, NULL::bigint
    FROM firms f WHERE f.source IS NOT NULL;

-- Firms across banks (issue 13): one firm with its relationships, its reference-data
-- history and the search list. @p_bank NULL is the regulator (every bank); a bank code
-- limits every figure to that bank's own loans, referrals and programs.

-- The firm as GET /v1/firms/{uscc} answers on @p_today; NULL when the firm is unknown or,
-- for a bank, when that bank has no non-void loan to it.
CREATE OR REPLACE FUNCTION firm_to_json(p_uscc text, p_bank text, p_today date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH f AS (SELECT * FROM firms WHERE uscc = p_uscc),
    l AS (SELECT x.bank_code, x.loan_ref, x.issue_date, x.id,
                 CASE WHEN x.status = 'active' THEN x.amount_fen - x.repaid_fen ELSE 0 END AS out
          FROM loans x
          WHERE x.borrower_uscc = p_uscc AND x.status <> 'void'
            AND (p_bank IS NULL OR x.bank_code = p_bank)),
    b AS (SELECT l.bank_code, count(*) AS n, sum(l.out) AS out, min(l.issue_date) AS first,
                 max(l.issue_date) AS last
          FROM l GROUP BY l.bank_code),
    -- The registry's first loan: of the earliest issue date, the lowest id; a bank sees
    -- its own loan of that date when it has one (same-day first loans are each first:
    -- README), and none otherwise.
    first_loan AS (SELECT x.bank_code, x.loan_ref, x.issue_date FROM loans x
                   WHERE x.borrower_uscc = p_uscc AND x.status <> 'void'
                   ORDER BY x.issue_date, (x.bank_code = p_bank) IS NOT TRUE, x.id LIMIT 1)
    SELECT jsonb_build_object(
        'uscc', f.uscc, 'name', f.name, 'county_code', f.county_code,
        'industry_code', f.industry_code, 'size', f.size,
        'manufacturing', substr(f.industry_code, 1, 2)::int BETWEEN 13 AND 43,
        'first_seen', ts_text(f.created_at), 'updated_at', ts_text(f.updated_at),
        'outstanding', fen_text(coalesce((SELECT sum(b.out) FROM b), 0)::bigint),
        'loans', coalesce((SELECT sum(b.n) FROM b), 0),
        'banks', coalesce((SELECT jsonb_agg(jsonb_build_object(
                     'bank_code', b.bank_code, 'loans', b.n, 'outstanding', fen_text(b.out::bigint),
                     'first_issue_date', b.first, 'last_issue_date', b.last) ORDER BY b.bank_code)
                 FROM b), '[]'::jsonb),
        'registry_first_loan', (SELECT jsonb_build_object('bank_code', r.bank_code,
                                    'loan_ref', r.loan_ref, 'issue_date', r.issue_date)
                                FROM first_loan r
                                WHERE p_bank IS NULL OR r.bank_code = p_bank),
        'whitelist', nullif(whitelist_check(p_uscc, p_today, p_bank) -> 'entry', 'null'::jsonb),
        'referrals', coalesce((SELECT jsonb_agg(jsonb_build_object(
                         'id', r.ref, 'bank_code', r.bank_code, 'status', r.status) ORDER BY r.id)
                     FROM referrals r
                     WHERE r.uscc = p_uscc AND (p_bank IS NULL OR r.bank_code = p_bank)),
                     '[]'::jsonb),
        'scf_programs', coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'id', s.id, 'bank_code', s.bank_code, 'role', s.role)
                            ORDER BY s.id, s.role)
                        FROM (SELECT p.id, p.bank_code, 'core' AS role FROM scf_programs p
                              WHERE p.core_uscc = p_uscc AND p.started_on <= p_today
                              UNION
                              SELECT p.id, p.bank_code, m.side FROM scf_members m
                              JOIN scf_programs p ON p.id = m.program_id
                              WHERE m.uscc = p_uscc AND m.left_on IS NULL) s
                        WHERE p_bank IS NULL OR s.bank_code = p_bank), '[]'::jsonb))
    FROM f
    WHERE p_bank IS NULL OR EXISTS (SELECT 1 FROM l)
$$;

-- Every recorded version of firm @p_uscc's reference data, oldest first; NULL when the
-- firm is unknown. The whole history, as the previous release's finregd asks for it (this
-- one reads pages: firm_history_page); remove once no such finregd runs.
CREATE OR REPLACE FUNCTION firm_history_json(p_uscc text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('uscc', f.uscc, 'items', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'changed_at', ts_text(h.changed_at), 'changed_by', h.changed_by,
                   'name', h.name, 'county_code', h.county_code,
                   'industry_code', h.industry_code, 'size', h.size,
                   'applied', h.applied) ORDER BY h.changed_at, h.id NULLS LAST)
        FROM firm_versions h WHERE h.uscc = f.uscc), '[]'::jsonb))
    FROM firms f WHERE f.uscc = p_uscc
$$;

-- The time of a history cursor's position @p_us (microseconds since the epoch; NULL: before
-- every version), exactly: whole seconds and microseconds apart, each product within
-- float8's exact integers (finregd accepts positions up to year 9999 only).
CREATE OR REPLACE FUNCTION firm_history_position(p_us bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN coalesce('epoch'::timestamptz + (p_us / 1000000) * interval '1 second'
                    + (p_us % 1000000) * interval '1 microsecond', '-infinity');

-- A page of firm @p_uscc's versions, oldest first, as GET /v1/firms/{uscc}/history answers:
-- at most @p_limit items after the version whose position is (@p_after_us, @p_after_k)
-- (NULL: from the first), and next_cursor, the position of the page's last item when more
-- follow; NULL when the firm is unknown. A position is the version's time in microseconds
-- since the epoch and its firm_history id (the largest bigint for the version the firm's
-- row holds): firm_versions' order, which is not the ids' (a replaced version keeps its own
-- time; a refused report may come after the current version). A version that moves from
-- the row to firm_history between two pages keeps its time and sorts before the cursor it
-- was given as, so a walk neither repeats nor misses one (a change committed after a page
-- was read but timed before its last item is not seen by the walk). A page reads at most
-- @p_limit + 1 history rows in order (index firm_history_uscc_changed, migration 027: the
-- cursor's row comparison is its index condition, so written in the WHERE, not joined from
-- a CTE, which made it a filter over every earlier version) and the firm's row: its cost
-- follows the limit, not the history or the cursor's depth. firm_history_json (whole)
-- stays for the previous release's finregd.
CREATE OR REPLACE FUNCTION firm_history_page(p_uscc text, p_after_us bigint, p_after_k bigint,
                                             p_limit int) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH v AS (
        (SELECT h.name, h.county_code, h.industry_code, h.size, h.changed_at, h.changed_by,
                h.applied, h.id AS k
         FROM firm_history h
         WHERE h.uscc = p_uscc
           AND (h.changed_at, h.id) > (firm_history_position(p_after_us), coalesce(p_after_k, 0))
         ORDER BY h.changed_at, h.id LIMIT p_limit + 1)
        UNION ALL
        SELECT f.name, f.county_code, f.industry_code, f.size, f.updated_at, f.updated_by,
               true, 9223372036854775807
        FROM firms f
        WHERE f.uscc = p_uscc AND f.source IS NOT NULL
          AND (f.updated_at, 9223372036854775807::bigint)
              > (firm_history_position(p_after_us), coalesce(p_after_k, 0))),
    page AS (
        SELECT v.*, (extract(epoch FROM v.changed_at) * 1000000)::bigint AS us,
               row_number() OVER (ORDER BY v.changed_at, v.k) AS n
        FROM v ORDER BY v.changed_at, v.k LIMIT p_limit + 1)
    SELECT jsonb_build_object('uscc', f.uscc, 'items', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'changed_at', ts_text(p.changed_at), 'changed_by', p.changed_by,
                   'name', p.name, 'county_code', p.county_code,
                   'industry_code', p.industry_code, 'size', p.size,
                   'applied', p.applied) ORDER BY p.n)
        FROM page p WHERE p.n <= p_limit), '[]'::jsonb),
        'next_cursor', (SELECT p.us || '.' || p.k FROM page p
                        WHERE p.n = p_limit AND EXISTS (SELECT 1 FROM page q
                                                        WHERE q.n > p_limit)))
    FROM firms f WHERE f.uscc = p_uscc
$$;

-- One firm of the search list: its reference data and registry-wide figures.
CREATE OR REPLACE FUNCTION firm_list_item(f firms) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'uscc', f.uscc, 'name', f.name, 'county_code', f.county_code,
        'industry_code', f.industry_code, 'size', f.size,
        'manufacturing', substr(f.industry_code, 1, 2)::int BETWEEN 13 AND 43,
        'first_seen', ts_text(f.created_at), 'updated_at', ts_text(f.updated_at));

-- True when @p_q is a possible start of a USCC (its alphabet, at most 18 characters).
CREATE OR REPLACE FUNCTION firm_q_is_uscc_prefix(p_q text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT
    RETURN p_q ~ '^[0-9A-HJ-NP-RTUW-Y]{1,18}$';

-- The search list: firms whose name contains @p_q (LIKE wildcards in it are literal) or
-- whose USCC starts with it, in county @p_county, industry @p_industry (a 4-digit class or
-- a 2-digit division) and of size @p_size (NULL: any), after id @p_after, @p_limit rows.
-- Custom plans, so a name fragment uses the trigram index. Without @p_q the page walks as
-- the other lists do (sql/common.sql list_scan_rows_max): the county's firms, else the
-- class's, else all, in id order, at most list_scan_rows_max() of them, testing a division
-- and the size on those; then (id, NULL) when the walk stopped at its bound first. Until
-- 3 December 2026 a filter matching few firms (size=large, a division of no firm) read
-- every firm: 0.2-0.56 s at 2.1 million firms, linear.
CREATE OR REPLACE FUNCTION firm_list(p_q text, p_county text, p_industry text, p_size text,
                                     p_after bigint, p_limit int)
RETURNS TABLE (id bigint, item jsonb)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = on
    SET enable_incremental_sort = on SET jit = off AS $$
DECLARE
    v_like text := '%' || replace(replace(replace(p_q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
    v_class text := CASE WHEN p_county IS NULL AND length(p_industry) = 4 THEN p_industry END;
BEGIN
    IF p_q IS NULL THEN
        PERFORM list_walk_plan(false);
        RETURN QUERY
        WITH walk AS MATERIALIZED (
            SELECT f.id, f.industry_code, f.size FROM firms f
            WHERE (p_county IS NULL OR (f.county_code >= p_county AND f.county_code <= p_county))
              AND (v_class IS NULL OR (f.industry_code >= v_class AND f.industry_code <= v_class))
              AND f.id > p_after
            ORDER BY CASE WHEN p_county IS NULL THEN NULL ELSE f.county_code END,
                     CASE WHEN v_class IS NULL THEN NULL ELSE f.industry_code END, f.id
            LIMIT list_scan_rows_max()),
        hit AS MATERIALIZED (
            SELECT w.id FROM walk w
            WHERE (p_industry IS NULL OR w.industry_code = p_industry
                   OR (length(p_industry) = 2 AND left(w.industry_code, 2) = p_industry))
              AND (p_size IS NULL OR w.size = p_size)
            LIMIT p_limit)
        SELECT x.id, x.item FROM (
            SELECT f.id, firm_list_item(f) AS item
            FROM hit h CROSS JOIN LATERAL (SELECT * FROM firms f WHERE f.id = h.id) f
            UNION ALL
            SELECT max(w.id), NULL FROM walk w WHERE (SELECT count(*) FROM hit) < p_limit
            HAVING count(*) = list_scan_rows_max()) x
        ORDER BY x.id;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT f.id, firm_list_item(f) FROM firms f
    WHERE (f.name ILIKE v_like
           OR (firm_q_is_uscc_prefix(p_q) AND f.uscc >= p_q AND f.uscc < p_q || 'Z'))
      AND (p_county IS NULL OR f.county_code = p_county)
      AND (p_industry IS NULL OR f.industry_code = p_industry
           OR (length(p_industry) = 2 AND left(f.industry_code, 2) = p_industry))
      AND (p_size IS NULL OR f.size = p_size) AND f.id > p_after
    ORDER BY f.id LIMIT p_limit;
END $$;
