-- Guarantors, guarantees and guarantee leverage (tables: migration 005). The functions
-- below are the ones issue 16 changed; the rest still live in migration 005 until they
-- move here. See docs/whitelist-guarantees.md.

-- Records guarantor @p_code's name and net assets as of @p_as_of as a new version; the
-- same figures as the latest version answer unchanged. Not found when no active principal
-- of kind guarantor has the code.
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
    UPDATE guarantors x SET name = p_name, version = x.version + 1, updated_at = now(),
                            updated_by = p_actor
    WHERE x.code = p_code RETURNING * INTO g;
    INSERT INTO guarantor_versions (guarantor_code, version, name, net_assets_fen, as_of,
                                    recorded_by)
    VALUES (p_code, g.version, p_name, p_net, p_as_of, p_actor);
    RETURN QUERY SELECT CASE WHEN v_created THEN 'created' ELSE 'updated' END, NULL, NULL,
                        NULL, guarantor_to_json(g);
END $$;

-- Stores guarantee @p_ref of guarantor @p_guarantor (canonical content @p_content). The
-- same reference with the same content answers unchanged, with other content conflict.
-- A guarantor learns nothing about loans it may not guarantee: unless bank @p_bank has a
-- loan @p_loan_ref made to @p_uscc, with guarantee_mode guaranteed, naming this guarantor
-- or none, the answer is not_found, the same words whatever else is wrong (and also when
-- @p_guarantor is not an active guarantor). Then: the bank must be active, the loan not
-- void, the guarantee at most the loan's amount and not starting before it was issued
-- (invalid_field naming the field), and on no day of its period may the guarantees
-- outstanding on the loan, from any guarantor, with this one exceed the loan's amount (L050).
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
    SELECT * INTO l FROM loans x
    WHERE x.bank_code = p_bank AND x.loan_ref = p_loan_ref AND x.borrower_uscc = p_uscc
      AND x.guarantee_mode = 'guaranteed'
      AND (x.guarantor_code IS NULL OR x.guarantor_code = p_guarantor)
      AND EXISTS (SELECT 1 FROM principals p
                  WHERE p.code = p_guarantor AND p.kind = 'guarantor' AND p.active);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', 'loan_ref',
            'no guaranteed loan of this bank_code, loan_ref and borrower_uscc is open to '
            'this guarantor'::text, NULL::jsonb;
        RETURN;
    END IF;
    -- Posts on one loan and corrections of it take turns (loan_correct takes this too);
    -- the loan is read again under the lock.
    PERFORM pg_advisory_xact_lock(hashtextextended('guarantee-loan:' || l.id, 0));
    SELECT * INTO l FROM loans x WHERE x.id = l.id;
    v_others := guarantee_peak_on_loan(l.id, p_start, p_end);
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

-- The most that guarantees of loan @p_loan are outstanding on one day from @p_from to @p_to:
-- the sum only grows on a guarantee's start date, so the days to look at are @p_from and
-- the start dates in between. L050 on posting a guarantee and on correcting a loan.
CREATE OR REPLACE FUNCTION guarantee_peak_on_loan(p_loan bigint, p_from date, p_to date)
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(max((SELECT coalesce(sum(h.amount_fen), 0) FROM guarantees h
                         WHERE h.loan_id = p_loan AND guarantee_outstanding_on(h, d.day))), 0)
    FROM (SELECT p_from AS day
          UNION SELECT g.start_date FROM guarantees g
          WHERE g.loan_id = p_loan AND g.start_date BETWEEN p_from AND p_to) d
$$;

-- Per guarantor on @p_day (@p_guarantor NULL: all): guarantees outstanding, and the net
-- assets in force with their as_of date (NULL when none). Each loan counts at most once:
-- a guarantor's guarantees on one loan count up to the loan's amount. Guarantors with
-- neither outstanding guarantees nor net assets on the day are left out.
CREATE OR REPLACE FUNCTION guarantee_leverage_rows(p_day date, p_guarantor text)
RETURNS TABLE (guarantor_code text, name text, outstanding_fen bigint, net_assets_fen bigint,
               net_assets_as_of date)
LANGUAGE sql STABLE AS $$
    WITH codes AS (
        SELECT g.code FROM guarantors g
        UNION SELECT DISTINCT x.guarantor_code FROM guarantees x),
    per_loan AS (
        SELECT x.guarantor_code, least(sum(x.amount_fen), min(l.amount_fen)) AS fen
        FROM guarantees x JOIN loans l ON l.id = x.loan_id
        WHERE guarantee_outstanding_on(x, p_day)
        GROUP BY x.guarantor_code, x.loan_id),
    outstanding AS (
        SELECT p.guarantor_code, sum(p.fen)::bigint AS fen FROM per_loan p
        GROUP BY p.guarantor_code)
    SELECT c.code, coalesce(g.name, p.name), coalesce(o.fen, 0), n.net_assets_fen, n.as_of
    FROM codes c
    LEFT JOIN guarantors g ON g.code = c.code
    LEFT JOIN principals p ON p.code = c.code
    LEFT JOIN outstanding o ON o.guarantor_code = c.code
    LEFT JOIN guarantor_net_assets_on(p_day) n ON n.guarantor_code = c.code
    WHERE (p_guarantor IS NULL OR c.code = p_guarantor)
      AND (o.fen IS NOT NULL OR n.net_assets_fen IS NOT NULL)
    ORDER BY c.code
$$;
