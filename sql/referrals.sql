-- Relief-fund referrals: the regulator refers a firm to a bank, the bank answers; every
-- status change is kept in referral_events. Tables: migrations/006_referrals.sql.

-- "RF-2020-000123": year and number, the number at least six digits.
CREATE OR REPLACE FUNCTION referral_ref(p_year int, p_n int) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN format('RF-%s-%s', p_year,
                  CASE WHEN p_n < 1000000 THEN lpad(p_n::text, 6, '0') ELSE p_n::text END);

-- The referral as the API returns it (lists and exports use this too).
CREATE OR REPLACE FUNCTION referral_to_json(r referrals) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', r.ref, 'uscc', r.uscc, 'name', r.name, 'county_code', r.county_code,
        'industry_code', r.industry_code, 'size', r.size, 'bank_code', r.bank_code,
        'requested_amount', fen_text(r.requested_fen), 'reason', r.reason,
        'referred_on', r.referred_on, 'status', r.status, 'decline_reason', r.decline_reason,
        'loan_ref', r.loan_ref, 'funded_amount', fen_text(r.funded_fen),
        'created_by', r.created_by, 'created_at', ts_text(r.created_at),
        'updated_at', ts_text(r.updated_at));

-- The referral with its history of status changes, oldest first.
CREATE OR REPLACE FUNCTION referral_with_history(r referrals) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN referral_to_json(r) || jsonb_build_object('history', coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'from', e.from_status, 'to', e.to_status, 'reason', e.reason,
                   'loan_ref', e.loan_ref, 'funded_amount', fen_text(e.funded_fen),
                   'changed_by', e.changed_by, 'changed_at', ts_text(e.changed_at))
                   ORDER BY e.id)
        FROM referral_events e WHERE e.referral_id = r.id), '[]'::jsonb));

-- Refers firm @p_item (uscc, name, county_code, industry_code, size) to bank
-- @p_item.bank_code for @p_item.requested_fen, recorded as made by @p_actor. Answers
-- created with the referral, or rejected: invalid_field (bank_code is not an active bank
-- principal) or conflict (the firm has an open referral to that bank, or its relief-fund
-- loan was already funded through a referral whose loan is not void). Work on one firm
-- is serialised by an advisory lock, so the checks and the insert cannot interleave.
-- How many referrals of one firm to one bank there may be: GET /v1/firms/{uscc} lists a
-- firm's referrals, and a declined one frees the pair for another, so without a cap the
-- regulator's referring and a bank's declining made that answer grow without bound.
-- 100: the policy's referrals are one round of a few hundred firms.
CREATE OR REPLACE FUNCTION referrals_per_firm_bank_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 100;

CREATE OR REPLACE FUNCTION referral_create(p_actor text, p_item jsonb)
RETURNS TABLE (status text, code text, field text, message text, referral jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    i record;
    o referrals;
    r referrals;
    v_n int;
BEGIN
    SELECT * INTO i FROM jsonb_to_record(p_item) AS x(uscc text, name text, county_code text,
        industry_code text, size text, bank_code text, requested_fen bigint, reason text,
        referred_on date);
    IF NOT EXISTS (SELECT 1 FROM principals p
                   WHERE p.code = i.bank_code AND p.kind = 'bank' AND p.active) THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'bank_code',
                            format('no active bank is registered as %s',
                                   i.bank_code), NULL::jsonb;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('referral:' || i.uscc, 0));
    SELECT * INTO o FROM referrals x
    WHERE x.uscc = i.uscc AND x.bank_code = i.bank_code
      AND x.status IN ('referred', 'accepted');
    IF FOUND THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            format('the firm already has an open referral to %s: %s (%s)',
                   i.bank_code, o.ref, o.status), NULL::jsonb;
        RETURN;
    END IF;
    SELECT x.* INTO o FROM referrals x JOIN loans l ON l.id = x.loan_id
    WHERE x.uscc = i.uscc AND x.status = 'funded' AND l.status <> 'void'
    ORDER BY x.id LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            format('the firm''s relief-fund loan was already funded through %s (%s of %s); '
                   'a firm borrows from the fund once', o.ref, o.loan_ref, o.bank_code),
            NULL::jsonb;
        RETURN;
    END IF;
    -- Counted under the firm's lock (above), at most the cap's rows read.
    IF (SELECT count(*) FROM (SELECT 1 FROM referrals x
                              WHERE x.uscc = i.uscc AND x.bank_code = i.bank_code
                              LIMIT referrals_per_firm_bank_max()) n)
       >= referrals_per_firm_bank_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'uscc',
            format('the firm has been referred to %s %s times, the most one firm may be '
                   'referred to one bank', i.bank_code, referrals_per_firm_bank_max()),
            NULL::jsonb;
        RETURN;
    END IF;

    PERFORM firms_upsert(jsonb_build_array(jsonb_build_object(
        'ord', 0, 'uscc', i.uscc, 'name', i.name, 'county_code', i.county_code,
        'industry_code', i.industry_code, 'size', i.size)), p_actor, 'referral');
    INSERT INTO referral_counters AS c (year, last)
    VALUES (extract(year FROM i.referred_on)::int, 1)
    ON CONFLICT (year) DO UPDATE SET last = c.last + 1
    RETURNING c.last INTO v_n;
    INSERT INTO referrals (ref, uscc, name, county_code, industry_code, size, bank_code,
                           requested_fen, reason, referred_on, created_by)
    VALUES (referral_ref(extract(year FROM i.referred_on)::int, v_n), i.uscc, i.name,
            i.county_code, i.industry_code, i.size, i.bank_code, i.requested_fen, i.reason,
            i.referred_on, p_actor)
    RETURNING * INTO r;
    INSERT INTO referral_events (referral_id, from_status, to_status, reason, changed_by)
    VALUES (r.id, NULL, 'referred', r.reason, p_actor);
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, referral_with_history(r);
END $$;

-- Bank @p_bank moves its referral @p_ref to @p_status. Legal moves: referred -> accepted
-- | declined, accepted -> funded | declined; anything else is a conflict. Declining
-- records @p_reason. Funding names loan @p_loan_ref of the same bank, made to the
-- referral's firm, flagged relief_fund and not void, funding no other referral;
-- @p_funded_fen defaults to the loan's amount and must not exceed it. Answers updated
-- with the referral (and its history), or rejected: not_found (no such referral of this
-- bank), conflict (illegal move) or invalid_field (the loan, the amount).
CREATE OR REPLACE FUNCTION referral_move(p_bank text, p_ref text, p_status text, p_reason text,
                              p_loan_ref text, p_funded_fen bigint)
RETURNS TABLE (status text, code text, field text, message text, referral jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r referrals;
    l loans;
    o referrals;
    v_fen bigint;
BEGIN
    SELECT * INTO r FROM referrals x WHERE x.ref = p_ref AND x.bank_code = p_bank FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, 'no such referral', NULL::jsonb;
        RETURN;
    END IF;
    IF (r.status, p_status) NOT IN (('referred', 'accepted'), ('referred', 'declined'),
                                    ('accepted', 'funded'), ('accepted', 'declined')) THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'status',
            format('referral %s is %s; %s', r.ref, r.status,
                   CASE r.status
                   WHEN 'referred' THEN 'it can become accepted or declined'
                   WHEN 'accepted' THEN 'it can become funded or declined'
                   ELSE 'it can no longer change' END),
            NULL::jsonb;
        RETURN;
    END IF;
    IF p_status = 'funded' THEN
        SELECT * INTO l FROM loans x WHERE x.bank_code = p_bank AND x.loan_ref = p_loan_ref
        FOR SHARE;
        IF NOT FOUND OR l.borrower_uscc <> r.uscc OR NOT l.relief_fund OR l.status = 'void'
        THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'loan_ref',
                format('%s',
                       CASE WHEN l.id IS NULL
                                THEN format('%s has no loan %s', p_bank, p_loan_ref)
                            WHEN l.borrower_uscc <> r.uscc
                                THEN format('loan %s was made to %s, not to the referred firm %s',
                                            p_loan_ref, l.borrower_uscc, r.uscc)
                            WHEN NOT l.relief_fund
                                THEN format('loan %s is not flagged relief_fund', p_loan_ref)
                            ELSE format('loan %s is void', p_loan_ref) END),
                NULL::jsonb;
            RETURN;
        END IF;
        SELECT * INTO o FROM referrals x WHERE x.loan_id = l.id AND x.id <> r.id;
        IF FOUND THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'loan_ref',
                format('loan %s already funds referral %s', p_loan_ref, o.ref),
                NULL::jsonb;
            RETURN;
        END IF;
        v_fen := coalesce(p_funded_fen, l.amount_fen);
        IF v_fen > l.amount_fen THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'funded_amount',
                format('exceeds the amount %s of loan %s',
                       fen_text(l.amount_fen), p_loan_ref),
                NULL::jsonb;
            RETURN;
        END IF;
    END IF;
    UPDATE referrals x SET
        status = p_status,
        decline_reason = CASE WHEN p_status = 'declined' THEN p_reason END,
        loan_id = CASE WHEN p_status = 'funded' THEN l.id END,
        loan_ref = CASE WHEN p_status = 'funded' THEN l.loan_ref END,
        funded_fen = CASE WHEN p_status = 'funded' THEN v_fen END,
        updated_at = now()
    WHERE x.id = r.id RETURNING * INTO r;
    INSERT INTO referral_events (referral_id, from_status, to_status, reason, loan_ref,
                                 funded_fen, changed_by)
    SELECT r.id, e.to_status, p_status, r.decline_reason, r.loan_ref, r.funded_fen, p_bank
    FROM (SELECT x.to_status FROM referral_events x WHERE x.referral_id = r.id
          ORDER BY x.id DESC LIMIT 1) e;
    RETURN QUERY SELECT 'updated', NULL, NULL, NULL, referral_with_history(r);
END $$;

-- Referral figures up to the end of @p_as_of (referred_on <= as_of), for bank @p_bank or
-- all banks ('*'): one row per bank with its referrals counted by current status and the
-- amount funded, then a total row (bank_code NULL) whose referred_firms counts distinct
-- firms. A referral funded by a loan voided since is not funded for statistics (a void
-- loan is excluded from them): it counts as accepted, where it stood before, with no
-- amount. Counted from the referrals themselves: a few thousand rows a year.
CREATE OR REPLACE FUNCTION stats_referrals(p_as_of date, p_bank text)
RETURNS TABLE (bank_code text, referred bigint, accepted bigint, declined bigint,
               funded bigint, funded_fen bigint, referred_firms bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.bank_code, count(*) FILTER (WHERE x.status = 'referred'),
           count(*) FILTER (WHERE x.status = 'accepted'
                                  OR x.status = 'funded' AND l.status = 'void'),
           count(*) FILTER (WHERE x.status = 'declined'),
           count(*) FILTER (WHERE x.status = 'funded' AND l.status <> 'void'),
           coalesce(sum(x.funded_fen)
                        FILTER (WHERE x.status = 'funded' AND l.status <> 'void'), 0)::bigint,
           count(DISTINCT x.uscc)
    FROM referrals x LEFT JOIN loans l ON l.id = x.loan_id
    WHERE x.referred_on <= p_as_of AND (p_bank = '*' OR x.bank_code = p_bank)
    GROUP BY GROUPING SETS ((x.bank_code), ())
    ORDER BY grouping(x.bank_code), x.bank_code
$$;

-- The relief_referrals measure (8.2, target 500): distinct firms referred to banks up to
-- the end of @p_as_of, whatever the banks answered. Cumulative over the programme, not
-- per year. The same count as referred_firms of GET /v1/stats/referrals.
CREATE OR REPLACE FUNCTION stats_actual_relief_referrals(p_as_of date) RETURNS numeric
    LANGUAGE sql STABLE
    RETURN (SELECT count(DISTINCT x.uscc) FROM referrals x WHERE x.referred_on <= p_as_of)::numeric;

-- A page of the referrals list, as loan_list_page: the referrals to bank @p_bank of firm
-- @p_uscc (NULL: any) after id @p_after, walked in id order at most list_scan_rows_max()
-- of them, of which those in status @p_status and county @p_county (NULL: any), at most
-- @p_limit; then (id, NULL) when the walk stopped at its bound first. Without a sort but
-- of a firm's referrals (sql/common.sql list_scan_rows_max).
CREATE OR REPLACE FUNCTION referral_list_page(p_bank text, p_status text, p_county text,
                                              p_uscc text, p_after bigint, p_limit integer)
RETURNS TABLE (id bigint, item text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = on
    SET enable_incremental_sort = on SET enable_seqscan = on SET jit = off AS $$
BEGIN
    PERFORM list_walk_plan(p_uscc IS NOT NULL);
    RETURN QUERY
    WITH walk AS MATERIALIZED (
        SELECT r.id, r.status, r.county_code FROM referrals r
        -- With a firm, the bank and the cursor are tested on the firm's referrals (as
        -- loan_list_page).
        WHERE (p_bank IS NULL OR CASE WHEN p_uscc IS NULL
                                      THEN r.bank_code >= p_bank AND r.bank_code <= p_bank
                                      ELSE r.bank_code || '' = p_bank END)
          AND (p_uscc IS NULL OR r.uscc = p_uscc)
          AND CASE WHEN p_uscc IS NULL THEN r.id > p_after ELSE r.id + 0 > p_after END
        -- A firm's referrals are read from referrals_uscc and sorted (id + 0: no index
        -- gives that order), never found by walking the primary key (as loan_list_page).
        ORDER BY CASE WHEN p_bank IS NULL THEN NULL ELSE r.bank_code END,
                 CASE WHEN p_uscc IS NULL THEN r.id ELSE r.id + 0 END
        LIMIT list_scan_rows_max()),
    hit AS MATERIALIZED (
        SELECT k.id FROM walk k
        WHERE (p_status IS NULL OR k.status = p_status)
          AND (p_county IS NULL OR k.county_code = p_county)
        LIMIT p_limit)
    SELECT x.id, x.item FROM (
        SELECT r.id, referral_to_json(r)::text AS item
        FROM hit h CROSS JOIN LATERAL (SELECT * FROM referrals r WHERE r.id = h.id) r
        UNION ALL
        SELECT max(k.id), NULL FROM walk k WHERE (SELECT count(*) FROM hit) < p_limit
        HAVING count(*) = list_scan_rows_max()) x
    ORDER BY x.id;
END $$;
