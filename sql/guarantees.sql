-- The guarantee green channel (whitelist), guarantors' net assets, the guarantees they
-- post and the guarantee leverage figure (docs/whitelist-guarantees.md). Tables:
-- migrations/005_guarantees.sql.

-- An entry's state on day @p_day: removed (from the day the removal was recorded on),
-- pending (window not begun), expired (window over) or active (the firm is listed).
CREATE OR REPLACE FUNCTION whitelist_status(e whitelist_entries, p_day date) RETURNS text
    LANGUAGE sql STABLE
    RETURN CASE WHEN e.removed_at IS NOT NULL AND registry_day(e.removed_at) <= p_day
                    THEN 'removed'
                WHEN e.valid_from > p_day THEN 'pending'
                WHEN e.valid_to < p_day THEN 'expired'
                ELSE 'active' END;

-- Until 3 December the entries showed every caller the registry's data of the firm (what
-- some bank reported), which GET /v1/firms/{uscc} shows a bank only for a firm it lent to
-- (api.md); the functions now take the viewer. The old signatures stay as wrappers (the
-- regulator's view, as before) at the end of this area, for a finregd of the previous
-- release, which prepares them on every connection (a rolling upgrade).

-- Whether @p_viewer may see the registry's data of firm @p_uscc: the regulator (NULL)
-- always; a bank when it has a loan to the firm that is not void, as GET /v1/firms/{uscc}
-- says; a guarantor (which lends nothing) never.
CREATE OR REPLACE FUNCTION whitelist_firm_visible(p_uscc text, p_viewer text) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN p_viewer IS NULL OR EXISTS (SELECT 1 FROM loans l
                                       WHERE l.borrower_uscc = p_uscc AND l.bank_code = p_viewer
                                         AND l.status <> 'void');

-- The registry's data of whitelisted firm @p_uscc as @p_viewer may see it: no row when
-- banks never reported the firm or the viewer may not see it (whitelist_firm_visible).
CREATE OR REPLACE FUNCTION whitelist_firm(p_uscc text, p_viewer text)
RETURNS TABLE (name text, county_code text, industry_code text, size text)
LANGUAGE sql STABLE AS $$
    SELECT f.name, f.county_code, f.industry_code, f.size FROM firms f
    WHERE f.uscc = p_uscc AND whitelist_firm_visible(p_uscc, p_viewer)
$$;

-- The county a whitelisted firm is filtered by, from the registry's county @p_seen that the
-- viewer may see (whitelist_firm; NULL when none): that, else the division code in USCC
-- positions 3-8 (where it registered).
CREATE OR REPLACE FUNCTION whitelist_county_of(p_uscc text, p_seen text) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN coalesce(p_seen, substr(p_uscc, 3, 6));

CREATE OR REPLACE FUNCTION whitelist_county(p_uscc text, p_viewer text) RETURNS text
    LANGUAGE sql STABLE
    RETURN whitelist_county_of(p_uscc, (SELECT f.county_code
                                        FROM whitelist_firm(p_uscc, p_viewer) f));

-- An entry as the API returns it to @p_viewer (NULL: the regulator; else the caller's
-- code), its status on @p_day, with the registry's firm data when the viewer may see it.
-- The registry's data of whitelisted firm @p_uscc as an entry shows it to @p_viewer
-- (whitelist_firm; NULL when none).
CREATE OR REPLACE FUNCTION whitelist_firm_json(p_uscc text, p_viewer text) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN (SELECT jsonb_build_object('name', f.name, 'county_code', f.county_code,
                                      'industry_code', f.industry_code, 'size', f.size)
            FROM whitelist_firm(p_uscc, p_viewer) f);

-- Entry @e as the API returns it, its status on @p_day, with its firm's data @p_firm
-- (whitelist_firm_json) and county @p_county (whitelist_county) as the viewer sees them:
-- the same for every entry of a firm, so a firm's history reads them once.
CREATE OR REPLACE FUNCTION whitelist_entry_json_of(e whitelist_entries, p_day date,
                                                   p_firm jsonb, p_county text) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', e.id, 'uscc', e.uscc, 'name', e.name, 'reason', e.reason,
        'valid_from', e.valid_from, 'valid_to', e.valid_to,
        'status', whitelist_status(e, p_day),
        'county_code', p_county,
        'firm', p_firm,
        'listed_at', ts_text(e.listed_at), 'listed_by', e.listed_by,
        'removed_at', ts_text(e.removed_at), 'removed_by', e.removed_by,
        'removal_reason', e.removal_reason);

CREATE OR REPLACE FUNCTION whitelist_entry_to_json(e whitelist_entries, p_day date,
                                                   p_viewer text) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN whitelist_entry_json_of(e, p_day, whitelist_firm_json(e.uscc, p_viewer),
                                   whitelist_county(e.uscc, p_viewer));

-- The whitelist's CSV (GET /v1/whitelist?format=csv): every entry the list's filters keep
-- (active on @p_day when @p_active is set, in county @p_county), in id order, as
-- whitelist_entry_to_json shows it to @p_viewer, one cell a field (dates and timestamps as
-- its text); the firm's data read once per entry, set-based.
CREATE OR REPLACE FUNCTION whitelist_export_rows(p_day date, p_active boolean, p_county text,
                                                 p_viewer text)
RETURNS TABLE (id text, uscc text, name text, status text, valid_from text, valid_to text,
               reason text, county_code text, firm_name text, firm_industry_code text,
               firm_size text, listed_at text, listed_by text, removed_at text,
               removed_by text, removal_reason text)
LANGUAGE sql STABLE AS $$
    SELECT e.id::text, e.uscc, e.name, whitelist_status(e, p_day),
           to_jsonb(e.valid_from) #>> '{}', to_jsonb(e.valid_to) #>> '{}', e.reason,
           whitelist_county_of(e.uscc, f.county_code), f.name, f.industry_code, f.size,
           ts_text(e.listed_at), e.listed_by, ts_text(e.removed_at), e.removed_by,
           e.removal_reason
    FROM whitelist_entries e
    LEFT JOIN LATERAL whitelist_firm(e.uscc, p_viewer) f ON true
    WHERE (p_active IS NULL OR (whitelist_status(e, p_day) = 'active') = p_active)
      AND (p_county IS NULL OR whitelist_county_of(e.uscc, f.county_code) = p_county)
    ORDER BY e.id
$$;

-- How many entries one firm may have, removed ones included: its history lists every one
-- (two events each), and its check, borrower_whitelisted and the firm view scan them, so
-- without a cap the regulator's listings and removals of one firm made those grow without
-- bound (50,000 entries: the history past the statement timeout). 1,000 is some
-- twenty listings a year for fifty years.
CREATE OR REPLACE FUNCTION whitelist_entries_per_firm_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 1000;

-- Lists firm @p_uscc from @p_from to @p_to (NULL: open-ended). Conflict when an entry of
-- the firm that is not removed has a window overlapping this one (on uscc, with that
-- entry: a retry answers so), or when the firm has whitelist_entries_per_firm_max()
-- entries already (on uscc, without an entry). Both are judged under the firm's lock.
CREATE OR REPLACE FUNCTION whitelist_add(p_uscc text, p_name text, p_reason text, p_from date, p_to date,
                              p_actor text, p_today date)
RETURNS TABLE (status text, code text, field text, message text, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    e whitelist_entries;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('whitelist:' || p_uscc, 0));
    SELECT * INTO e FROM whitelist_entries x
    WHERE x.uscc = p_uscc AND x.removed_at IS NULL
      AND x.valid_from <= coalesce(p_to, 'infinity'::date)
      AND coalesce(x.valid_to, 'infinity'::date) >= p_from
    ORDER BY x.id LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            format('the firm is already listed (entry %s, valid from %s to %s); remove it first',
                   e.id, e.valid_from, coalesce(e.valid_to::text, 'open end')),
            whitelist_entry_to_json(e, p_today, NULL);
        RETURN;
    END IF;
    IF (SELECT count(*) FROM (SELECT 1 FROM whitelist_entries x WHERE x.uscc = p_uscc
                              LIMIT whitelist_entries_per_firm_max()) n)
       >= whitelist_entries_per_firm_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            format('the firm has %s whitelist entries, the most one firm may have',
                   whitelist_entries_per_firm_max()),
            NULL::jsonb;
        RETURN;
    END IF;
    INSERT INTO whitelist_entries (uscc, name, reason, valid_from, valid_to, listed_by)
    VALUES (p_uscc, p_name, p_reason, p_from, p_to, p_actor) RETURNING * INTO e;
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, whitelist_entry_to_json(e, p_today, NULL);
END $$;

-- Removes firm @p_uscc from the whitelist: every entry not removed whose window has not
-- ended by @p_today (the one in force and any pending one). Not found when the firm was
-- never listed; conflict when none of its entries is open.
CREATE OR REPLACE FUNCTION whitelist_remove(p_uscc text, p_reason text, p_actor text, p_today date)
RETURNS TABLE (status text, code text, field text, message text, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_removed jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('whitelist:' || p_uscc, 0));
    WITH gone AS (
        UPDATE whitelist_entries x
        SET removed_at = now(), removed_by = p_actor, removal_reason = p_reason
        WHERE x.uscc = p_uscc AND x.removed_at IS NULL
          AND coalesce(x.valid_to, 'infinity'::date) >= p_today
        RETURNING x.id, whitelist_entry_to_json(x, p_today, NULL) AS j)
    SELECT jsonb_agg(g.j ORDER BY g.id) INTO v_removed FROM gone g;
    IF v_removed IS NOT NULL THEN
        RETURN QUERY SELECT 'removed', NULL, NULL, NULL,
            jsonb_build_object('uscc', p_uscc, 'listed', false, 'removed', v_removed);
    ELSIF EXISTS (SELECT 1 FROM whitelist_entries x WHERE x.uscc = p_uscc) THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            'the firm is not listed: its entries are removed or expired'::text, NULL::jsonb;
    ELSE
        RETURN QUERY SELECT 'rejected', 'not_found', 'uscc',
            'the firm has never been on the whitelist'::text, NULL::jsonb;
    END IF;
END $$;

-- The calls of builds before the viewer (2 December and earlier), kept while one of them may
-- still run (a rolling upgrade; remove once none does): they show what they showed.
CREATE OR REPLACE FUNCTION whitelist_county(p_uscc text) RETURNS text
    LANGUAGE sql STABLE
    RETURN whitelist_county(p_uscc, NULL::text);
CREATE OR REPLACE FUNCTION whitelist_entry_to_json(e whitelist_entries, p_day date) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN whitelist_entry_to_json(e, p_day, NULL::text);

-- Whether firm @p_uscc is listed on @p_day, with the entry in force (NULL when none), as
-- @p_viewer sees it (whitelist_entry_to_json).
CREATE OR REPLACE FUNCTION whitelist_check(p_uscc text, p_day date, p_viewer text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH e AS (SELECT whitelist_entry_to_json(x, p_day, p_viewer) AS j FROM whitelist_entries x
               WHERE x.uscc = p_uscc AND whitelist_status(x, p_day) = 'active'
               ORDER BY x.id DESC LIMIT 1)
    SELECT jsonb_build_object('uscc', p_uscc, 'as_of', p_day,
                              'listed', (SELECT e.j FROM e) IS NOT NULL,
                              'entry', (SELECT e.j FROM e));
$$;

-- Every entry of firm @p_uscc, oldest first, as @p_viewer sees them, and the events they
-- record (added, removed) in time order; NULL when the firm was never listed. Not paged:
-- whitelist_add keeps a firm to whitelist_entries_per_firm_max() entries.
CREATE OR REPLACE FUNCTION whitelist_history(p_uscc text, p_today date, p_viewer text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    -- The firm's data and county as the viewer sees them, once: per entry, a bank's
    -- visibility was asked 2,000 times for 1,000 entries (20 s when a plan scanned loans
    -- for each). A materialized CTE, not a subquery fenced by OFFSET 0: a nested loop
    -- with the entries outer re-ran the subquery for each (statistics that say a firm has
    -- one entry, CI of 4 December).
    WITH w AS MATERIALIZED (SELECT whitelist_firm_json(p_uscc, p_viewer) AS firm,
                                   whitelist_county(p_uscc, p_viewer) AS county)
    SELECT jsonb_build_object(
        'uscc', p_uscc,
        'listed', bool_or(whitelist_status(e, p_today) = 'active'),
        'entries', jsonb_agg(whitelist_entry_json_of(e, p_today, w.firm, w.county)
                             ORDER BY e.id),
        'events', (SELECT jsonb_agg(v.ev ORDER BY v.at, v.entry_id, v.ord)
                   FROM (SELECT x.listed_at AS at, x.id AS entry_id, 0 AS ord,
                                jsonb_build_object('event', 'added', 'entry_id', x.id,
                                    'at', ts_text(x.listed_at), 'by', x.listed_by,
                                    'reason', x.reason, 'valid_from', x.valid_from,
                                    'valid_to', x.valid_to) AS ev
                         FROM whitelist_entries x WHERE x.uscc = p_uscc
                         UNION ALL
                         SELECT x.removed_at, x.id, 1,
                                jsonb_build_object('event', 'removed', 'entry_id', x.id,
                                    'at', ts_text(x.removed_at), 'by', x.removed_by,
                                    'reason', x.removal_reason)
                         FROM whitelist_entries x
                         WHERE x.uscc = p_uscc AND x.removed_at IS NOT NULL) v))
    FROM whitelist_entries e, w
    WHERE e.uscc = p_uscc
    HAVING count(*) > 0;
$$;

-- The calls of builds before the viewer (above): the regulator's view.
CREATE OR REPLACE FUNCTION whitelist_check(p_uscc text, p_day date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT whitelist_check(p_uscc, p_day, NULL::text)
$$;
CREATE OR REPLACE FUNCTION whitelist_history(p_uscc text, p_today date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT whitelist_history(p_uscc, p_today, NULL::text)
$$;

-- Net assets of guarantor @p_code in force on @p_day: the version with the latest as_of on
-- or before it (the later entry when two share that date); no row when none. One probe of
-- guarantor_versions_as_of. Until 4 December 2026 it gave every guarantor's (a DISTINCT ON
-- over all versions), joined to the codes asked afterwards, so one guarantor's leverage
-- read the registry's every version (95,002 for 5,001 guarantors; found by audit).
DROP FUNCTION IF EXISTS guarantor_net_assets_on(date);
CREATE OR REPLACE FUNCTION guarantor_net_assets_on(p_code text, p_day date)
RETURNS TABLE (net_assets_fen bigint, as_of date)
LANGUAGE sql STABLE AS $$
    SELECT v.net_assets_fen, v.as_of FROM guarantor_versions v
    WHERE v.guarantor_code = p_code AND v.as_of <= p_day
    ORDER BY v.as_of DESC, v.version DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION guarantor_to_json(g guarantors) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN (SELECT jsonb_build_object(
                'code', g.code, 'name', g.name, 'net_assets', fen_text(l.net_assets_fen),
                'as_of', l.as_of, 'version', g.version,
                'created_at', ts_text(g.created_at), 'updated_at', ts_text(g.updated_at),
                'versions', (SELECT jsonb_agg(jsonb_build_object(
                                 'version', v.version, 'name', v.name,
                                 'net_assets', fen_text(v.net_assets_fen), 'as_of', v.as_of,
                                 'recorded_at', ts_text(v.recorded_at),
                                 'recorded_by', v.recorded_by) ORDER BY v.version)
                             FROM guarantor_versions v WHERE v.guarantor_code = g.code))
            FROM guarantor_versions l
            WHERE l.guarantor_code = g.code
            ORDER BY l.as_of DESC, l.version DESC LIMIT 1);

-- How many versions the regulator's PUTs may give one guarantor: GET /v1/guarantors/{code}
-- and every PUT's answer list them all, so without a cap they grew without bound (100,000
-- versions answered 17.3 MB; found by review). 1,000 versions: a change a week for twenty
-- years; about 150 bytes each, 750 with a name of 200 Chinese characters, so the answer
-- stays under 1 MB.
CREATE OR REPLACE FUNCTION guarantor_versions_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 1000;

-- Records guarantor @p_code's name and net assets as of @p_as_of as a new version; the
-- same figures as the latest version answer unchanged. Not found when no active principal
-- of kind guarantor has the code; conflict when the guarantor has guarantor_versions_max()
-- versions already (counted by the version number, under the guarantor's row lock).
CREATE OR REPLACE FUNCTION guarantor_put(p_code text, p_name text, p_net bigint, p_as_of date,
                                         p_actor text)
RETURNS TABLE (status text, code text, field text, message text, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    g guarantors;
    v guarantor_versions;
    v_created boolean := false;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM principals p
                   WHERE p.code = p_code AND p.kind = 'guarantor' AND p.active) THEN
        RETURN QUERY SELECT 'rejected', 'not_found', 'code',
            'no active principal of kind guarantor has this code'::text, NULL::jsonb;
        RETURN;
    END IF;
    INSERT INTO guarantors (code, name, version, updated_by)
    VALUES (p_code, p_name, 0, p_actor) ON CONFLICT ON CONSTRAINT guarantors_pkey DO NOTHING;
    SELECT * INTO g FROM guarantors x WHERE x.code = p_code FOR UPDATE;
    v_created := g.version = 0;
    SELECT * INTO v FROM guarantor_versions x
    WHERE x.guarantor_code = p_code AND x.version = g.version;
    IF FOUND AND v.name = p_name AND v.net_assets_fen = p_net AND v.as_of = p_as_of THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, guarantor_to_json(g);
        RETURN;
    END IF;
    IF g.version >= guarantor_versions_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'code',
            format('the guarantor has %s versions, the most it may have; only a PUT equal to '
                   'the latest version still answers', g.version), NULL::jsonb;
        RETURN;
    END IF;
    UPDATE guarantors x SET name = p_name, version = x.version + 1, updated_at = now(),
                            updated_by = p_actor
    WHERE x.code = p_code RETURNING * INTO g;
    INSERT INTO guarantor_versions (guarantor_code, version, name, net_assets_fen, as_of,
                                    recorded_by)
    VALUES (p_code, g.version, p_name, p_net, p_as_of, p_actor);
    RETURN QUERY SELECT CASE WHEN v_created THEN 'created' ELSE 'updated' END, NULL, NULL,
                        NULL, guarantor_to_json(g);
END $$;

-- Whether guarantee @g is outstanding on @p_day.
CREATE OR REPLACE FUNCTION guarantee_outstanding_on(g guarantees, p_day date) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    RETURN g.start_date <= p_day AND g.end_date >= p_day
           AND (g.released_on IS NULL OR g.released_on > p_day);

CREATE OR REPLACE FUNCTION guarantee_to_json(g guarantees, p_today date) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN g.content || jsonb_build_object(
        'guarantor_code', g.guarantor_code,
        'released_on', g.released_on,
        'status', CASE WHEN g.released_on IS NOT NULL THEN 'released'
                       WHEN g.end_date < p_today THEN 'ended'
                       WHEN g.start_date > p_today THEN 'pending'
                       ELSE 'active' END,
        'borrower_whitelisted', EXISTS (
            SELECT 1 FROM whitelist_entries w
            WHERE w.uscc = g.borrower_uscc AND whitelist_status(w, g.start_date) = 'active'),
        'created_at', ts_text(g.created_at),
        'released_at', ts_text(g.released_at));

-- How many guarantees one loan may hold, from all guarantors, released ones included:
-- released guarantees free the amount L050 checks, so without a cap guarantors could add
-- them without bound, and L050's peak (guarantee_peak_on_loan, on every post and on a
-- correction lowering the loan's amount) reads them all (found by review). 1,000 is far
-- above a real loan's handful (a guarantee per year of a 30-year loan, several guarantors).
CREATE OR REPLACE FUNCTION guarantees_per_loan_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 1000;

-- Stores guarantee @p_ref of guarantor @p_guarantor (canonical content @p_content). The
-- same reference with the same content answers unchanged, with other content conflict.
-- A guarantor learns nothing about loans it may not guarantee: unless bank @p_bank has a
-- loan @p_loan_ref made to @p_uscc, with guarantee_mode guaranteed, naming this guarantor
-- or none, the answer is not_found, the same words whatever else is wrong (and also when
-- @p_guarantor is not an active guarantor). Then: the bank must be active, the loan not
-- void, the guarantee at most the loan's amount and not starting before it was issued
-- (invalid_field naming the field), and on no day of its period may the guarantees
-- outstanding on the loan, from any guarantor, with this one exceed the loan's amount (L050).
-- A loan holding guarantees_per_loan_max() guarantees takes no more (conflict on loan_ref;
-- a retry of a stored guarantee still answers), counted under the loan's guarantee lock.
CREATE OR REPLACE FUNCTION guarantee_post(p_guarantor text, p_ref text, p_content jsonb,
                                          p_bank text, p_loan_ref text, p_uscc text,
                                          p_amount bigint, p_start date, p_end date,
                                          p_today date)
RETURNS TABLE (status text, code text, field text, message text, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    g guarantees;
    l loans;
    v_others bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('guarantee:' || p_guarantor || ':' || p_ref, 0));
    SELECT * INTO g FROM guarantees x
    WHERE x.guarantor_code = p_guarantor AND x.guarantee_ref = p_ref;
    IF FOUND THEN
        IF g.content = p_content THEN
            RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, guarantee_to_json(g, p_today);
        ELSE
            RETURN QUERY SELECT 'rejected', 'conflict', 'guarantee_ref',
                format('guarantee %s is already stored with different content', p_ref),
                NULL::jsonb;
        END IF;
        RETURN;
    END IF;
    -- Posts on one loan and corrections of it take turns, in the order loan_correct takes
    -- the same two locks: the loan row (which the guarantee's foreign key would lock at its
    -- insert anyway), then the advisory lock (taken the other way round, a post and a
    -- correction lowering the amount deadlocked). The row is found and locked in one
    -- statement, so a correction committed while this post waited for it is seen: one that
    -- made the loan credit, named another guarantor or moved it to another borrower leaves
    -- nothing found (L051 refuses those once a guarantee exists; this refuses the post
    -- that raced it).
    SELECT * INTO l FROM loans x
    WHERE x.bank_code = p_bank AND x.loan_ref = p_loan_ref AND x.borrower_uscc = p_uscc
      AND x.guarantee_mode = 'guaranteed'
      AND (x.guarantor_code IS NULL OR x.guarantor_code = p_guarantor)
      AND EXISTS (SELECT 1 FROM principals p
                  WHERE p.code = p_guarantor AND p.kind = 'guarantor' AND p.active)
    FOR KEY SHARE OF x;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', 'loan_ref',
            'no guaranteed loan of this bank_code, loan_ref and borrower_uscc is open to '
            'this guarantor'::text, NULL::jsonb;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('guarantee-loan:' || l.id, 0));
    RETURN QUERY SELECT 'rejected', 'invalid_field', c.f, c.m, NULL::jsonb
    FROM (VALUES
        (1, NOT EXISTS (SELECT 1 FROM principals p
                        WHERE p.code = p_bank AND p.kind = 'bank' AND p.active),
            'bank_code', 'the bank is disabled'),
        (2, l.status = 'void', 'loan_ref', 'the loan is void'),
        (3, p_amount > l.amount_fen, 'amount',
            format('exceeds the loan''s amount %s', fen_text(l.amount_fen))),
        (4, p_start < l.issue_date, 'start_date',
            format('is before the loan was issued (%s)', l.issue_date))) AS c(n, bad, f, m)
    WHERE c.bad ORDER BY c.n LIMIT 1;
    IF FOUND THEN
        RETURN;
    END IF;
    -- Every post on the loan holds its guarantee lock, so the count cannot pass the cap;
    -- LIMIT reads at most the cap's index entries.
    IF (SELECT count(*) FROM (SELECT 1 FROM guarantees x WHERE x.loan_id = l.id
                              LIMIT guarantees_per_loan_max()) n)
       >= guarantees_per_loan_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'loan_ref',
            format('the loan holds the most guarantees one loan may hold (%s); released '
                   'ones count too', guarantees_per_loan_max()), NULL::jsonb;
        RETURN;
    END IF;
    v_others := guarantee_peak_on_loan(l.id, p_start, p_end);
    IF v_others + p_amount > l.amount_fen THEN
        RETURN QUERY SELECT 'rejected', 'L050', 'amount',
            format('with the guarantees of %s outstanding on the loan on a day of this '
                   'period, exceeds the loan''s amount %s (at most %s more)', fen_text(v_others),
                   fen_text(l.amount_fen), fen_text(greatest(l.amount_fen - v_others, 0))),
            NULL::jsonb;
        RETURN;
    END IF;
    INSERT INTO guarantees (guarantor_code, guarantee_ref, bank_code, loan_ref, loan_id,
                            borrower_uscc, amount_fen, start_date, end_date, content)
    VALUES (p_guarantor, p_ref, p_bank, p_loan_ref, l.id, p_uscc, p_amount, p_start, p_end,
            p_content)
    RETURNING * INTO g;
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, guarantee_to_json(g, p_today);
END $$;

-- Releases guarantee @p_ref of guarantor @p_guarantor on @p_date. Releasing again on the
-- same date answers unchanged; on another date conflict.
CREATE OR REPLACE FUNCTION guarantee_release(p_guarantor text, p_ref text, p_date date, p_actor text,
                                  p_today date)
RETURNS TABLE (status text, code text, field text, message text, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    g guarantees;
BEGIN
    SELECT * INTO g FROM guarantees x
    WHERE x.guarantor_code = p_guarantor AND x.guarantee_ref = p_ref FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, 'no such guarantee'::text, NULL::jsonb;
    ELSIF g.released_on = p_date THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, guarantee_to_json(g, p_today);
    ELSIF g.released_on IS NOT NULL THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'date',
            format('the guarantee was already released on %s', g.released_on), NULL::jsonb;
    ELSIF p_date < g.start_date THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'date',
            format('is before the guarantee started (%s)', g.start_date), NULL::jsonb;
    ELSE
        UPDATE guarantees x SET released_on = p_date, released_at = now(), released_by = p_actor
        WHERE x.id = g.id RETURNING * INTO g;
        RETURN QUERY SELECT 'released', NULL, NULL, NULL, guarantee_to_json(g, p_today);
    END IF;
END $$;

-- The guarantee_leverage target of @p_day's year in 1/10000 (1.5 when the targets table
-- has none for that year).
CREATE OR REPLACE FUNCTION guarantee_leverage_target_e4(p_day date) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN round(coalesce((SELECT t.target FROM targets t
                           WHERE t.year = extract(year FROM p_day)::int
                             AND t.metric = 'guarantee_leverage'), 1.5) * 10000)::bigint;

-- The changes guarantee @g makes to what is outstanding, with sign @p_sign: its amount
-- added on its start date and taken away on the day after its last day outstanding (the
-- day after its end date, or its release date if earlier; a guarantee released on its
-- start date nets to nothing), as guarantee_outstanding_on counts it. L050's peak and the
-- outstanding summary both read them here.
CREATE OR REPLACE FUNCTION guarantee_changes(g guarantees, p_sign int)
RETURNS TABLE (guarantor_code text, day date, fen bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g.guarantor_code, e.day, p_sign * e.fen
    FROM (VALUES (g.start_date, g.amount_fen),
                 (least(g.end_date + 1, g.released_on), -g.amount_fen)) AS e(day, fen)
$$;

-- The most that guarantees of loan @p_loan are outstanding on one day from @p_from to @p_to
-- (guarantee_outstanding_on): L050 on posting a guarantee and on correcting a loan. One
-- pass over the loan's guarantees (O(n log n), the sort) and their changes
-- (guarantee_changes): dates before @p_from count on @p_from, dates after @p_to not at
-- all; the running sum of the changes by date is then what is outstanding on each date
-- where it changes, from @p_from on, and the sum only grows on a start date, so the
-- largest running sum is the peak (0 with nothing outstanding in the period). Until 3
-- December 2026 it summed every guarantee once per start date, quadratic in the loan's
-- guarantees (found by review).
CREATE OR REPLACE FUNCTION guarantee_peak_on_loan(p_loan bigint, p_from date, p_to date)
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max(r.outstanding), 0)::bigint
    FROM (SELECT sum(sum(c.fen)) OVER (ORDER BY c.day) AS outstanding
          FROM (SELECT greatest(e.day, p_from) AS day, e.fen
                FROM guarantees g
                CROSS JOIN LATERAL guarantee_changes(g, 1) e
                WHERE g.loan_id = p_loan AND e.day <= p_to) c
          GROUP BY c.day) r
$$;

-- ---------------------------------------------------------------- guarantees outstanding
-- What each guarantor has outstanding on a day, kept as a summary of changes (migration
-- 031: guarantee_outstanding, by day, month and year; guarantee_outstanding_pending, not
-- folded yet; guarantee_capped_loans). The invariant the triggers below keep, in the
-- transaction of every write: the summary and the pending changes add up to
-- guarantee_changes(g, 1) of every guarantee g whose loan is not void and not capped. A
-- capped loan's guarantees add up, on some day, to more than its amount (only those stored
-- before L050 can), and count up to the loan's amount per guarantor (least below), which a
-- sum of changes cannot say: they are read one by one. A loan's row lock orders the writes
-- that move its guarantees in or out: a post and a release lock it (key share, here for
-- every write of guarantees), a void holds it for update, a correction too.

-- The summary rows a change on @p_day goes to: its day, its month, its year.
CREATE OR REPLACE FUNCTION guarantee_outstanding_grains(p_day date)
RETURNS TABLE (grain char(1), period date)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g.grain::char(1), g.period
    FROM (VALUES ('d', p_day), ('m', date_trunc('month', p_day)::date),
                 ('y', date_trunc('year', p_day)::date)) AS g(grain, period)
$$;

-- Appends the changes of guarantees @p_rows, with sign @p_sign, of those whose loan counts
-- (not void, not capped). Their loans are locked first (key share, in id order): a void
-- or a correction of one of them waits for this transaction, or this for it, and then
-- sees its guarantees as this transaction leaves them.
CREATE OR REPLACE FUNCTION guarantee_outstanding_append(p_rows guarantees[], p_sign int)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM loans l
    WHERE l.id IN (SELECT x.loan_id FROM unnest(p_rows) x) ORDER BY l.id FOR KEY SHARE;
    INSERT INTO guarantee_outstanding_pending (guarantor_code, day, delta)
    SELECT e.guarantor_code, e.day, e.fen
    FROM unnest(p_rows) x
    JOIN loans l ON l.id = x.loan_id AND l.status <> 'void'
    CROSS JOIN LATERAL guarantee_changes(x, p_sign) e
    WHERE NOT EXISTS (SELECT 1 FROM guarantee_capped_loans c WHERE c.loan_id = x.loan_id);
END $$;

-- Caps those of loans @p_loans that are not capped yet and whose guarantees, from all
-- guarantors, add up to more than the loan's amount on some day (guarantee_peak_on_loan):
-- their guarantees' changes leave the summary (when the loan counted) and the loan joins
-- guarantee_capped_loans. Through the API none does: L050 keeps every day's sum within the
-- amount on every post and every correction lowering it. Every guarantee write calls it,
-- so it first keeps the loans whose guarantees, all of them, add up past the amount (a
-- day's sum cannot pass it otherwise; their amounts read by the loan's index, a plan
-- cached by the connection), and computes the peak and writes only for those: planned
-- and run as one SQL statement on each call, the check made a guarantee post's time in
-- the database some four times what it was (0.7 to 2.7 ms, ad hoc; found by review).
CREATE OR REPLACE FUNCTION guarantee_outstanding_cap(p_loans bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_loans bigint[];
BEGIN
    v_loans := ARRAY(
        SELECT l.id FROM loans l
        WHERE l.id = ANY (p_loans)
          AND NOT EXISTS (SELECT 1 FROM guarantee_capped_loans c WHERE c.loan_id = l.id)
          AND (SELECT sum(x.amount_fen) FROM guarantees x WHERE x.loan_id = l.id)
              > l.amount_fen
          AND guarantee_peak_on_loan(l.id, '-infinity', 'infinity') > l.amount_fen
        ORDER BY l.id);
    IF cardinality(v_loans) = 0 THEN
        RETURN;
    END IF;
    -- The loans to cap, held for update: every other write of their guarantees key-shares
    -- them (guarantee_outstanding_append), so it ends before the changes are taken away
    -- below (read after it: a statement of its own) or waits for this transaction and then
    -- sees the loan capped. With the key share this write holds alone, a release committed
    -- meanwhile added its changes while this took its guarantee's old ones away too (found
    -- by review). Through the API no loan is capped, so posts never take this lock.
    PERFORM 1 FROM loans l WHERE l.id = ANY (v_loans) ORDER BY l.id FOR UPDATE;
    WITH capped AS (
        INSERT INTO guarantee_capped_loans (loan_id)
        SELECT unnest(v_loans)
        ON CONFLICT DO NOTHING
        RETURNING loan_id)
    INSERT INTO guarantee_outstanding_pending (guarantor_code, day, delta)
    SELECT e.guarantor_code, e.day, e.fen
    FROM capped c
    JOIN loans l ON l.id = c.loan_id AND l.status <> 'void'
    JOIN guarantees x ON x.loan_id = c.loan_id
    CROSS JOIN LATERAL guarantee_changes(x, -1) e;
END $$;

-- Guarantees written (posted, released, or any other write): their old rows' changes
-- taken away, their new rows' added, and their loans capped when they now need it.
CREATE OR REPLACE FUNCTION guarantee_outstanding_on_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM guarantee_outstanding_append(
            ARRAY(SELECT ROW(o.*)::guarantees FROM old_rows o), -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM guarantee_outstanding_append(
            ARRAY(SELECT ROW(n.*)::guarantees FROM new_rows n), 1);
        PERFORM guarantee_outstanding_cap(ARRAY(SELECT DISTINCT n.loan_id FROM new_rows n));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER guarantees_outstanding_insert AFTER INSERT ON guarantees
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guarantee_outstanding_on_write();
CREATE OR REPLACE TRIGGER guarantees_outstanding_update AFTER UPDATE ON guarantees
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guarantee_outstanding_on_write();
CREATE OR REPLACE TRIGGER guarantees_outstanding_delete AFTER DELETE ON guarantees
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guarantee_outstanding_on_write();

-- A loan voided (or back from void) takes its guarantees' changes out of the summary (or
-- puts them back); a loan whose amount was lowered is capped when it now needs it. A
-- capped loan's guarantees are read one by one, so nothing to do for it.
CREATE OR REPLACE FUNCTION guarantee_outstanding_on_loan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM guarantees x WHERE x.loan_id = NEW.id)
       OR EXISTS (SELECT 1 FROM guarantee_capped_loans c WHERE c.loan_id = NEW.id) THEN
        RETURN NULL;
    END IF;
    IF (OLD.status = 'void') <> (NEW.status = 'void') THEN
        INSERT INTO guarantee_outstanding_pending (guarantor_code, day, delta)
        SELECT e.guarantor_code, e.day, e.fen
        FROM guarantees x
        CROSS JOIN LATERAL guarantee_changes(x, CASE WHEN NEW.status = 'void' THEN -1
                                                     ELSE 1 END) e
        WHERE x.loan_id = NEW.id;
    END IF;
    IF NEW.status <> 'void' AND NEW.amount_fen < OLD.amount_fen THEN
        PERFORM guarantee_outstanding_cap(ARRAY[NEW.id]);
    END IF;
    RETURN NULL;
END $$;

-- Only a void, an undo of one or a lower amount calls the function (the WHEN is tested on
-- the row without a call): the write path's other updates of loans pay nothing.
CREATE OR REPLACE TRIGGER loans_guarantee_outstanding AFTER UPDATE OF status, amount_fen ON loans
    FOR EACH ROW
    WHEN ((OLD.status = 'void') <> (NEW.status = 'void') OR NEW.amount_fen < OLD.amount_fen)
    EXECUTE FUNCTION guarantee_outstanding_on_loan();

-- Folds up to @p_limit pending changes into the summary (stats_compact, the caller holding
-- the compaction lock) and returns how many it folded.
CREATE OR REPLACE FUNCTION guarantee_outstanding_compact_locked(p_limit int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
BEGIN
    WITH d AS (
        DELETE FROM guarantee_outstanding_pending p
        WHERE p.ctid = ANY (ARRAY(SELECT x.ctid FROM guarantee_outstanding_pending x
                                  LIMIT p_limit))
        RETURNING p.guarantor_code, p.day, p.delta),
    folded AS (
        INSERT INTO guarantee_outstanding AS s (grain, period, guarantor_code, delta)
        SELECT k.grain, k.period, d.guarantor_code, sum(d.delta)
        FROM d CROSS JOIN LATERAL guarantee_outstanding_grains(d.day) k
        GROUP BY 1, 2, 3
        ON CONFLICT (grain, period, guarantor_code) DO UPDATE SET delta = s.delta + EXCLUDED.delta)
    SELECT count(*) INTO v_n FROM d;
    RETURN v_n;
END $$;

-- Rebuilds the summary and the capped loans from every guarantee (after migration 031,
-- from stats_rebuild, or to check the summary: compare before and after). Guarantee
-- writes wait meanwhile; a void or a lower amount of any loan too (the lock on the capped
-- loans, which their trigger reads first), and so do readers.
-- DELETE, not TRUNCATE: a read waits for the lock after its snapshot was taken (the
-- tables are read inside guarantee_outstanding_parts), and TRUNCATE is not MVCC-safe:
-- such a read saw empty tables, every guarantor's outstanding 0 (found by review). Deleted
-- rows stay visible to that snapshot, so it answers what was there before the rebuild.
CREATE OR REPLACE FUNCTION guarantee_outstanding_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7340012004);   -- no fold meanwhile (stats_compact's lock)
    LOCK TABLE guarantees IN SHARE ROW EXCLUSIVE MODE;
    -- The capped loans first, in ACCESS EXCLUSIVE mode: a void or a lowered amount reads
    -- them (its trigger's first statement) before it appends pending changes, so it waits
    -- here before it decides anything, or this waits for it. Taken after the pending
    -- changes, a transaction that had read them (a void of a loan without guarantees) and
    -- then appended (a void of one with) deadlocked with the migrate's rebuild, which lost
    -- (test_guarantee_summary_migrate.py, review of e8e1eae). Readers lock the summary, the
    -- pending changes, then the capped loans: they wait here, holding what this takes below
    -- in EXCLUSIVE mode only, which keeps out every write and lets reads and the PREPARE of
    -- stats_pending_rows (every new connection of finregd) through; in ACCESS EXCLUSIVE
    -- mode a connection opened during a rebuild stored nothing until it ended (same test).
    LOCK TABLE guarantee_capped_loans IN ACCESS EXCLUSIVE MODE;
    LOCK TABLE guarantee_outstanding, guarantee_outstanding_pending IN EXCLUSIVE MODE;
    DELETE FROM guarantee_outstanding;
    DELETE FROM guarantee_outstanding_pending;
    DELETE FROM guarantee_capped_loans;
    -- A loan's guarantees can add up past its amount on a day only if all of them do.
    INSERT INTO guarantee_capped_loans (loan_id)
    SELECT s.loan_id
    FROM (SELECT x.loan_id, sum(x.amount_fen) AS fen FROM guarantees x GROUP BY x.loan_id) s
    JOIN loans l ON l.id = s.loan_id
    WHERE s.fen > l.amount_fen
      AND guarantee_peak_on_loan(s.loan_id, '-infinity', 'infinity') > l.amount_fen;
    -- Summed by day first (some thousands of days a guarantor), then spread over grains.
    WITH d AS (
        SELECT e.guarantor_code, e.day, sum(e.fen) AS fen
        FROM guarantees x
        JOIN loans l ON l.id = x.loan_id AND l.status <> 'void'
        CROSS JOIN LATERAL guarantee_changes(x, 1) e
        WHERE NOT EXISTS (SELECT 1 FROM guarantee_capped_loans c WHERE c.loan_id = x.loan_id)
        GROUP BY 1, 2)
    INSERT INTO guarantee_outstanding (grain, period, guarantor_code, delta)
    SELECT k.grain, k.period, d.guarantor_code, sum(d.fen)
    FROM d CROSS JOIN LATERAL guarantee_outstanding_grains(d.day) k
    GROUP BY 1, 2, 3;
    DELETE FROM summary_rebuilds r WHERE r.summary = 'guarantee_outstanding';
END $$;

-- What each guarantor (@p_guarantor only, unless NULL) has outstanding on @p_day, in
-- parts to be added up per guarantor: the summary (whole years before the day's year,
-- whole months of its year before its month, then its month's days up to the day: at
-- most ~90 rows a guarantor, as stats_balances_on reads balances), the pending changes,
-- and the capped loans' guarantees, each loan counted per guarantor up to its amount.
-- Planned for each call's values (force_custom_plan): a connection's cached generic plan,
-- which PostgreSQL prefers after five reads of every guarantor, cannot use the guarantor's
-- index, and one guarantor's figure then read every guarantor's rows (found by review).
CREATE OR REPLACE FUNCTION guarantee_outstanding_parts(p_day date, p_guarantor text)
RETURNS TABLE (guarantor_code text, fen numeric)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan AS $$
#variable_conflict use_column
DECLARE
    e date := p_day + 1;   -- the day after: changes before it count
    y date := date_trunc('year', p_day + 1)::date;
    m date := date_trunc('month', p_day + 1)::date;
BEGIN
    -- Asked for and not rebuilt yet (summary_rebuilds_run): the summary may lack what the
    -- triggers did not see, so no figure rather than a wrong one (503, retry). The table
    -- summary_rebuilds in the error tells finregd it is planned, not a database error
    -- (service/db/db.c summary_not_built): counted apart, logged once in a while.
    IF EXISTS (SELECT 1 FROM summary_rebuilds r WHERE r.summary = 'guarantee_outstanding') THEN
        RAISE EXCEPTION 'the guarantees outstanding are asked for and not built yet'
            USING ERRCODE = 'lock_not_available', TABLE = 'summary_rebuilds';
    END IF;
    RETURN QUERY
    SELECT s.guarantor_code, s.delta FROM guarantee_outstanding s
    WHERE (p_guarantor IS NULL OR s.guarantor_code = p_guarantor)
      AND ((s.grain = 'y' AND s.period < y)
           OR (s.grain = 'm' AND s.period >= y AND s.period < m)
           OR (s.grain = 'd' AND s.period >= m AND s.period < e))
    UNION ALL
    SELECT p.guarantor_code, p.delta FROM guarantee_outstanding_pending p
    WHERE (p_guarantor IS NULL OR p.guarantor_code = p_guarantor) AND p.day < e
    UNION ALL
    SELECT o.guarantor_code, o.fen
    FROM guarantee_capped_loans c
    JOIN loans l ON l.id = c.loan_id AND l.status <> 'void'
    -- Per loan: a grouped LATERAL stays a loop over the capped loans, each read by its
    -- guarantees_loan entries (a join may read all of guarantees), and the guarantor is
    -- tested on those rows (`|| ''`: by guarantees_guarantor_start the planner read every
    -- guarantee of the guarantor that started before the day, per capped loan).
    CROSS JOIN LATERAL (
        SELECT x.guarantor_code, least(sum(x.amount_fen), l.amount_fen) AS fen
        FROM guarantees x
        WHERE x.loan_id = c.loan_id
          AND (p_guarantor IS NULL OR x.guarantor_code || '' = p_guarantor)
          AND guarantee_outstanding_on(x, p_day)
        GROUP BY x.guarantor_code) o;
END $$;

-- Per guarantor on @p_day (@p_guarantor NULL: all): guarantees outstanding
-- (guarantee_outstanding_parts: a guarantee on a void loan does not count, a void loan
-- being excluded from statistics, its guarantee row staying as it is), and the net assets
-- in force with their as_of date (NULL when none). Guarantors with neither outstanding
-- guarantees nor net assets on the day are left out. Until 3 December 2026 this summed
-- every guarantee in the registry on each read (3.9 s at 2 million guarantees).
CREATE OR REPLACE FUNCTION guarantee_leverage_rows(p_day date, p_guarantor text)
RETURNS TABLE (guarantor_code text, name text, outstanding_fen bigint, net_assets_fen bigint,
               net_assets_as_of date)
LANGUAGE sql STABLE AS $$
    WITH outstanding AS (
        SELECT o.guarantor_code, sum(o.fen)::bigint AS fen
        FROM guarantee_outstanding_parts(p_day, p_guarantor) o
        GROUP BY o.guarantor_code
        HAVING sum(o.fen) > 0),
    codes AS (
        SELECT g.code FROM guarantors g WHERE p_guarantor IS NULL OR g.code = p_guarantor
        UNION SELECT o.guarantor_code FROM outstanding o)
    SELECT c.code, coalesce(g.name, p.name), coalesce(o.fen, 0), n.net_assets_fen, n.as_of
    FROM codes c
    LEFT JOIN guarantors g ON g.code = c.code
    LEFT JOIN principals p ON p.code = c.code
    LEFT JOIN outstanding o ON o.guarantor_code = c.code
    LEFT JOIN LATERAL guarantor_net_assets_on(c.code, p_day) n ON true
    WHERE o.fen IS NOT NULL OR n.net_assets_fen IS NOT NULL
    ORDER BY c.code
$$;

-- The statistics target's actual figure: guarantees outstanding over net assets, summed
-- over the guarantors with net assets in force on @p_as_of (the total of GET
-- /v1/stats/guarantee-leverage), not rounded: stats_targets judges met on it and shows it
-- rounded to four decimals. The quotient carries 40 decimals (the dividend's scale), which
-- decides its comparison with a target of at most four decimals, and its rounding to four,
-- exactly for any sum of net assets under 10^35 fen; NULL without net assets in force.
CREATE OR REPLACE FUNCTION stats_actual_guarantee_leverage(p_as_of date) RETURNS numeric
    LANGUAGE sql STABLE
    RETURN (SELECT round(sum(r.outstanding_fen), 40) / sum(r.net_assets_fen)
            FROM guarantee_leverage_rows(p_as_of, NULL) r
            WHERE r.net_assets_fen IS NOT NULL);

-- A page of the guarantees list, as loan_list_page: the guarantees of guarantor
-- @p_guarantor and bank @p_bank (NULL: any) after id @p_after, walked in id order at most
-- list_scan_rows_max() of them, of which those of borrower @p_borrower outstanding on
-- @p_on (NULL: any), at most @p_limit, each dated by @p_today; then (id, NULL) when the
-- walk stopped at its bound first. The walk reads (bank_code, id), (guarantor_code, id) or,
-- both named, (bank_code, guarantor_code, id) (migration 030), each named as a range and
-- ordered on, without a sort (sql/common.sql list_scan_rows_max). With both, the bank is
-- `= ANY (ARRAY[p_bank])`: an index scan stops at the end of a range on its second column
-- only after an equality on its first, and the planner, which takes that for one, does not
-- drop the bank from the order as it would for `=` (the order of (guarantor_code, id) too).
-- Both named once walked every row of the one and tested the other: all of a bank's
-- guarantees for a guarantor it rarely deals with (found by review).
CREATE OR REPLACE FUNCTION guarantee_list_page(p_today date, p_guarantor text, p_bank text,
                                               p_borrower text, p_on date, p_after bigint,
                                               p_limit integer)
RETURNS TABLE (id bigint, item text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = off
    SET enable_incremental_sort = off SET jit = off AS $$
BEGIN
    RETURN QUERY
    WITH walk AS MATERIALIZED (
        SELECT g.id, g.borrower_uscc,
               p_on IS NULL OR guarantee_outstanding_on(g, p_on) AS outstanding
        FROM guarantees g
        WHERE (p_guarantor IS NULL
               OR (g.guarantor_code >= p_guarantor AND g.guarantor_code <= p_guarantor))
          AND CASE WHEN p_bank IS NULL THEN true
                   WHEN p_guarantor IS NULL THEN g.bank_code >= p_bank AND g.bank_code <= p_bank
                   ELSE g.bank_code = ANY (ARRAY[p_bank]) END
          AND g.id > p_after
        ORDER BY CASE WHEN p_bank IS NULL THEN NULL ELSE g.bank_code END,
                 CASE WHEN p_guarantor IS NULL THEN NULL ELSE g.guarantor_code END, g.id
        LIMIT list_scan_rows_max()),
    hit AS MATERIALIZED (
        SELECT k.id FROM walk k
        WHERE (p_borrower IS NULL OR k.borrower_uscc = p_borrower) AND k.outstanding
        LIMIT p_limit)
    SELECT x.id, x.item FROM (
        SELECT g.id, guarantee_to_json(g, p_today)::text AS item
        FROM hit h CROSS JOIN LATERAL (SELECT * FROM guarantees g WHERE g.id = h.id) g
        UNION ALL
        SELECT max(k.id), NULL FROM walk k WHERE (SELECT count(*) FROM hit) < p_limit
        HAVING count(*) = list_scan_rows_max()) x
    ORDER BY x.id;
END $$;

