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

DROP FUNCTION IF EXISTS firm_q_has_trigram(text);

-- The most firms the search with a name fragment or USCC prefix walks for one page, and
-- the most of its matches it reads from the indexes (firm_list): ten times the other
-- lists' bound, so that a fragment without a trigram (one or two Chinese characters)
-- searches a city's registry in one walk.
CREATE OR REPLACE FUNCTION firm_q_rows_max() RETURNS integer
    LANGUAGE sql IMMUTABLE
    RETURN 10 * list_scan_rows_max();

-- The firm search's tests (firm_list), inlined where they are called: firm @f's name
-- holds @p_like or its USCC starts with @p_q (when @p_prefix); and it is of industry
-- @p_industry (a class or a division) and size @p_size (NULL: any).
CREATE OR REPLACE FUNCTION firm_q_match(f firms, p_q text, p_like text, p_prefix boolean)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN f.name ILIKE p_like OR (p_prefix AND f.uscc >= p_q AND f.uscc < p_q || 'Z');
CREATE OR REPLACE FUNCTION firm_kind_match(f firms, p_industry text, p_size text)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN (p_industry IS NULL OR f.industry_code = p_industry
            OR (length(p_industry) = 2 AND left(f.industry_code, 2) = p_industry))
           AND (p_size IS NULL OR f.size = p_size);

-- The firm search's walk (firm_list): the first @p_rows firms after id @p_after of county
-- @p_county, else of class @p_class, else of all, in id order along their index (inlined
-- into the caller, whose plan settings keep it on that index).
CREATE OR REPLACE FUNCTION firm_walk(p_county text, p_class text, p_after bigint, p_rows int)
RETURNS SETOF firms LANGUAGE sql STABLE AS $$
    SELECT f.* FROM firms f
    WHERE (p_county IS NULL OR (f.county_code >= p_county AND f.county_code <= p_county))
      AND (p_class IS NULL OR (f.industry_code >= p_class AND f.industry_code <= p_class))
      AND f.id > p_after
    ORDER BY CASE WHEN p_county IS NULL THEN NULL ELSE f.county_code END,
             CASE WHEN p_class IS NULL THEN NULL ELSE f.industry_code END, f.id
    LIMIT p_rows
$$;

-- Up to three of the trigrams of firm search fragment @p_q (three word characters in a row
-- of lower(@p_q)), the first, the last and one between, each as a LIKE pattern
-- ('%abc%'); NULL when it has none. A name holding @p_q holds each of them; the trigram
-- index finds the names that hold them all without reading any other (firm_q_matches).
-- Taken from lower(@p_q), the text ILIKE compares, not lowered piece by piece: an ICU
-- lower() reads the context (ΣΑΣ of ΑΣΑΣΑ alone is σας, a name's ασασα lacks it) and may
-- give a non-word character (İ: i and a combining dot, no trigram: the index read whole).
CREATE OR REPLACE FUNCTION firm_q_trigram_likes(p_q text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    WITH t AS (
        SELECT x.t, row_number() OVER (ORDER BY min(x.pos)) AS k
        FROM (SELECT substr(w.word, i, 3) AS t, w.n * 100000 + i AS pos
              FROM (SELECT m[1] AS word, row_number() OVER () AS n
                    FROM regexp_matches(lower(p_q), '[[:alnum:]]{3,}', 'g') m) w,
                   generate_series(1, length(w.word) - 2) i) x
        GROUP BY x.t),
    c AS (SELECT count(*) AS n FROM t)
    SELECT array_agg('%' || t.t || '%' ORDER BY t.k)
    FROM t, c
    WHERE t.k IN (1, 1 + (c.n - 1) / 2, c.n)
$$;

-- The firm search's candidates for fragment @p_q (firm_list): a name holding its trigrams
-- @p_likes (firm_q_trigram_likes), which the trigram index finds, or a USCC in
-- [@p_q, @p_q || 'Z') when @p_q is a USCC prefix (@p_prefix; else the bound is NULL and
-- the primary key reads nothing: under a linguistic collation a lower-case 91350402ma,
-- no prefix, holds every 91350402MA...). Each match is a candidate; what costs a page is
-- the candidates, read to test the fragment on them.
CREATE OR REPLACE FUNCTION firm_q_name_candidate(p_name text, p_likes text[])
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN p_name ILIKE p_likes[1] AND p_name ILIKE coalesce(p_likes[2], p_likes[1])
           AND p_name ILIKE coalesce(p_likes[3], p_likes[1]);
CREATE OR REPLACE FUNCTION firm_q_uscc_candidate(p_uscc text, p_q text, p_prefix boolean)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN p_uscc >= CASE WHEN p_prefix THEN p_q END AND p_uscc < p_q || 'Z';
CREATE OR REPLACE FUNCTION firm_q_candidate(f firms, p_q text, p_likes text[],
                                            p_prefix boolean)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN firm_q_name_candidate(f.name, p_likes) OR firm_q_uscc_candidate(f.uscc, p_q, p_prefix);

-- Whether sampled value @p_value of firms' column @p_column is a candidate of the firm
-- search's fragment @p_q (firm_q_looks_rare).
CREATE OR REPLACE FUNCTION firm_q_sample_candidate(p_column name, p_value text, p_q text,
                                                   p_likes text[], p_prefix boolean)
    RETURNS boolean LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN p_column = 'name' THEN firm_q_name_candidate(p_value, p_likes)
                ELSE firm_q_uscc_candidate(p_value, p_q, p_prefix) END;

-- The share of firms that are candidates of the firm search's fragment @p_q (firm_list):
-- names holding its trigrams @p_likes, USCCs it is a prefix of, by the planner's own
-- sample of the registry (pg_stats of firms: the most common names and their shares, and
-- the bounds of the histogram of the others, one name in each hundredth; the same of the
-- USCCs for a prefix). NULL while firms has no statistics.
CREATE OR REPLACE FUNCTION firm_q_candidate_share(p_q text, p_likes text[], p_prefix boolean)
RETURNS float8 LANGUAGE sql STABLE AS $$
    SELECT sum(coalesce((SELECT sum(m.f) FROM unnest(s.most_common_vals::text::text[],
                                                      s.most_common_freqs) AS m(v, f)
                         WHERE firm_q_sample_candidate(s.attname, m.v, p_q, p_likes,
                                                       p_prefix)), 0)
               + (1 - s.null_frac - coalesce((SELECT sum(f) FROM unnest(s.most_common_freqs) f), 0))
                 * coalesce((SELECT count(*) FILTER (
                                        WHERE firm_q_sample_candidate(s.attname, h.v, p_q,
                                                                      p_likes, p_prefix))::float4
                                    / count(*)
                             FROM unnest(s.histogram_bounds::text::text[]) h(v)), 0))
    FROM pg_stats s
    WHERE s.schemaname = 'public' AND s.tablename = 'firms'
      AND (s.attname = 'name' OR (p_prefix AND s.attname = 'uscc'))
$$;

-- Whether the firm search's fragment (firm_list) looks rare: its candidates' share of the
-- firms by the planner's sample, @p_share (firm_q_candidate_share, read once a page), under
-- 1 in 100. Judged on the candidates, not the matches: a fragment no name holds whose
-- trigrams many names hold would read its candidates up to the bound, then walk, on every
-- page (540-880 ms at 1.5 million firms, found by review). NULL while firms has no
-- statistics (@p_share NULL).
DROP FUNCTION IF EXISTS firm_q_looks_rare(text, text, boolean);
DROP FUNCTION IF EXISTS firm_q_looks_rare(text, text[], boolean);
DROP FUNCTION IF EXISTS firm_q_sample_match(name, text, text, text, boolean);
CREATE OR REPLACE FUNCTION firm_q_looks_rare(p_share float8)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_share < 0.01
$$;

-- Whether the firm search's fragment (firm_list) may have at most firm_q_rows_max()
-- candidates: false only when its share by the planner's sample, @p_share, of
-- pg_class.reltuples is more. A walk that meets the candidates rarely (a county's, a
-- fragment of other counties' names) says nothing of their number in the registry:
-- judged on the walk alone, each page read firm_q_rows_max() + 1 candidates, found them
-- too many, and kept the walk (found by review).
DROP FUNCTION IF EXISTS firm_q_candidates_may_fit(text, text[], boolean);
CREATE OR REPLACE FUNCTION firm_q_candidates_may_fit(p_share float8)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(p_share * c.reltuples <= firm_q_rows_max(), true)
    FROM pg_class c WHERE c.oid = 'public.firms'::regclass
$$;

-- The matches of the firm search's fragment (firm_list): the ids of those after @p_after in
-- county @p_county, of industry @p_industry and size @p_size, in id order, from its
-- candidates: the firms whose names hold the trigrams @p_likes (firm_q_trigram_likes of
-- @p_q), from the trigram index, or whose USCC starts with @p_q (@p_prefix), from the
-- primary key. NULL when there are more than firm_q_rows_max() candidates (it reads one
-- more, whatever the filters) or no trigram. It bounds the candidates, not the matches:
-- the index's bitmap holds the names with the fragment's trigrams, and each is read to
-- test the fragment, so a fragment whose trigrams many names hold, and itself few or none,
-- read every such name (300,000 in a review's test, 0.40 s). From the indexes' bitmaps,
-- never along the table or firms_id, which a plan may guess cheaper.
DROP FUNCTION IF EXISTS firm_q_matches(text, text, boolean, text, text, text, bigint);
CREATE OR REPLACE FUNCTION firm_q_matches(p_q text, p_likes text[], p_like text,
                                          p_prefix boolean, p_county text, p_industry text,
                                          p_size text, p_after bigint) RETURNS bigint[]
LANGUAGE sql STABLE SET enable_seqscan = off SET enable_indexscan = off SET jit = off AS $$
    SELECT CASE WHEN count(*) <= firm_q_rows_max() THEN coalesce(
               array_agg((c.f).id ORDER BY (c.f).id) FILTER (
                   WHERE firm_q_match(c.f, p_q, p_like, p_prefix)
                     AND (c.f).id > p_after AND (p_county IS NULL OR (c.f).county_code = p_county)
                     AND firm_kind_match(c.f, p_industry, p_size)), '{}') END
    FROM (SELECT f FROM firms f WHERE firm_q_candidate(f, p_q, p_likes, p_prefix)
          LIMIT firm_q_rows_max() + 1) c
    WHERE p_likes[1] IS NOT NULL
$$;

-- The search list: firms whose name contains @p_q (LIKE wildcards in it are literal) or
-- whose USCC starts with it, in county @p_county, industry @p_industry (a 4-digit class or
-- a 2-digit division) and of size @p_size (NULL: any), after id @p_after, @p_limit rows.
-- A page walks as the other lists do (sql/common.sql list_scan_rows_max): the county's
-- firms, else the class's, else all, in id order (firm_walk), testing @p_q, a division and
-- the size on each, at most list_scan_rows_max() firms without @p_q and firm_q_rows_max()
-- with it; then (id, NULL) when the walk stopped at its bound first. When @p_q has a
-- trigram (firm_q_trigram_likes; a USCC prefix of three characters or more has one; for
-- a fragment without, the trigram index would be read whole), the page is taken from the
-- fragment's matches instead (firm_q_matches: the first @p_limit after @p_after that pass
-- the filters, in id order; no cursor past them) when its candidates (the names holding
-- its trigrams, the USCCs with the prefix: firm_q_candidate) are no more than
-- firm_q_rows_max() and look rare: in the planner's sample of the registry
-- (firm_q_looks_rare; then no walk comes first), or in the walk, in fewer than 1 in 100 of
-- its firms, when the walk did not fill the page; either way only when the sample does not
-- put more than firm_q_rows_max() of them in the registry (firm_q_candidates_may_fit: a
-- county's walk says nothing of the others, and 1 in 100 of a registry of more than 10
-- million firms is more). So a page reads at most the walk and firm_q_rows_max() + 1
-- candidates (the walk's index entries twice, and its firms twice when it tested a
-- fragment and did not fill), and the trigram index's posting lists of a fragment that looked rare. Until 3
-- December 2026 the planner chose between the trigram index (every match read, then
-- ordered by id) and the firms in id order (until the page filled): a fragment common to
-- every name with a filter matching none read every firm, 1.7 s at 2 million
-- (docs/limits.md).
CREATE OR REPLACE FUNCTION firm_list(p_q text, p_county text, p_industry text, p_size text,
                                     p_after bigint, p_limit int)
RETURNS TABLE (id bigint, item jsonb)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = on
    SET enable_incremental_sort = on SET jit = off AS $$
DECLARE
    v_like text := '%' || replace(replace(replace(p_q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
    v_prefix boolean := coalesce(firm_q_is_uscc_prefix(p_q), false);
    -- Only a fragment with a trigram (a USCC prefix of three characters or more has one):
    -- for one without, the trigram index would be read whole and every firm with it
    -- (q=A: 2.0 s at 1.5 million firms, found by review).
    v_likes text[] := firm_q_trigram_likes(p_q);
    v_indexed boolean := v_likes IS NOT NULL;
    v_class text := CASE WHEN p_county IS NULL AND length(p_industry) = 4 THEN p_industry END;
    v_bound int := CASE WHEN p_q IS NULL THEN list_scan_rows_max() ELSE firm_q_rows_max() END;
    v_walked int;
    v_met int;
    v_end bigint;
    v_hits bigint[];
    v_matches bigint[];
    v_share float8; -- the candidates' share by the planner's sample
BEGIN
    PERFORM list_walk_plan(false);
    IF v_indexed THEN
        v_share := firm_q_candidate_share(p_q, v_likes, v_prefix);
    END IF;
    IF v_indexed AND firm_q_looks_rare(v_share) AND firm_q_candidates_may_fit(v_share) THEN
        v_indexed := false; -- tried
        v_matches := firm_q_matches(p_q, v_likes, v_like, v_prefix, p_county, p_industry,
                                    p_size, p_after);
    END IF;

    IF v_matches IS NULL THEN
        -- The walk's first @p_limit matches: it stops there when the page fills.
        v_hits := ARRAY(
            SELECT w.id FROM firm_walk(p_county, v_class, p_after, v_bound) w
            WHERE (p_q IS NULL OR firm_q_match(w, p_q, v_like, v_prefix))
              AND firm_kind_match(w, p_industry, p_size)
            LIMIT p_limit);
    END IF;
    IF v_matches IS NULL AND cardinality(v_hits) < p_limit THEN
        -- It did not fill: where it stopped and, when the fragment's matches are still to
        -- be tried, how often the walk met its candidates (else the index alone is read).
        SELECT count(*), max(w.id),
               count(*) FILTER (WHERE v_indexed AND firm_q_candidate(w, p_q, v_likes, v_prefix))
        INTO v_walked, v_end, v_met
        FROM firm_walk(p_county, v_class, p_after, v_bound) w;
        IF v_indexed AND v_walked = v_bound AND v_met * 100 < v_walked
           AND firm_q_candidates_may_fit(v_share) THEN
            v_matches := firm_q_matches(p_q, v_likes, v_like, v_prefix, p_county, p_industry,
                                        p_size, p_after);
        END IF;
    END IF;
    IF v_matches IS NOT NULL THEN
        v_hits := v_matches[1:p_limit];
        v_walked := 0;
    END IF;
    RETURN QUERY
    SELECT x.id, x.item FROM (
        SELECT f.id, firm_list_item(f) AS item
        FROM unnest(v_hits) AS h(x) CROSS JOIN LATERAL (SELECT * FROM firms f WHERE f.id = h.x) f
        UNION ALL
        SELECT v_end, NULL
        WHERE cardinality(v_hits) < p_limit AND v_walked = v_bound) x
    ORDER BY x.id;
END $$;
