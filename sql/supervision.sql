-- Supervision (issue 13): the banks' scorecard (考评, measure 7.1) and the loan-withdrawal
-- watch (抽贷/压贷/断贷, measure 7.4), as docs/domain.md defines them. Values are exact
-- fractions (numerator, denominator) of numeric integers; points, score and shown values
-- are rounded from them exactly (half away from zero), never from a float.

-- @p_n / @p_d rounded to @p_places decimals, half away from zero, exactly (@p_d > 0).
CREATE OR REPLACE FUNCTION sc_round(p_n numeric, p_d numeric, p_places int) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT
    RETURN (sign(p_n) * div(2 * abs(p_n) * 10::numeric ^ p_places + p_d, 2 * p_d))
           / 10::numeric ^ p_places;

-- Points of value v = vn/vd between worst w and best b: 100 (v - w) / (b - w), rounded to
-- 2 decimals half up; 100 when b = w (all equal). Denominators are positive.
CREATE OR REPLACE FUNCTION sc_points(vn numeric, vd numeric, wn numeric, wd numeric,
                                     bn numeric, bd numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE STRICT
    RETURN CASE WHEN bn * wd = wn * bd THEN 100.00
                ELSE sc_round(100 * (vn * wd - wn * vd) * bd * sign((bn * wd - wn * bd) * vd),
                              abs((bn * wd - wn * bd) * vd), 2) END;

-- The eight indicators of every active bank for @p_year up to @p_as_of, compared with
-- 1 January of the year before up to @p_prev_to (the same day a year before), as exact
-- fractions: one row per bank and indicator, vn and vd NULL when the value is null.
CREATE OR REPLACE FUNCTION scorecard_values(p_year int, p_as_of date, p_prev_to date)
RETURNS TABLE (bank_code text, indicator text, vn numeric, vd numeric)
LANGUAGE sql STABLE AS $$
    WITH banks AS (
        SELECT p.code FROM principals p WHERE p.kind = 'bank' AND p.active),
    y0 AS (SELECT make_date(p_year, 1, 1) AS d0, make_date(p_year - 1, 1, 1) AS p0),
    nl AS (
        SELECT l.bank_code,
               count(*) FILTER (WHERE l.issue_date >= y0.d0) AS n,
               sum(l.amount_fen) FILTER (WHERE l.issue_date >= y0.d0) AS amount,
               count(*) FILTER (WHERE l.issue_date >= y0.d0 AND l.first_loan) AS first_n,
               coalesce(sum(l.amount_fen) FILTER (WHERE l.issue_date >= y0.d0
                                                   AND l.guarantee_mode = 'credit'), 0) AS credit,
               coalesce(sum(l.amount_fen) FILTER (WHERE l.issue_date >= y0.d0
                                                   AND l.medium_long_term), 0) AS mlt,
               count(*) FILTER (WHERE l.issue_date >= y0.d0 AND l.renewal) AS renewal_n,
               coalesce(sum(l.amount_fen) FILTER (WHERE l.issue_date >= y0.d0
                                                   AND l.scf_program_id IS NOT NULL), 0) AS scf,
               sum(l.amount_fen) FILTER (WHERE l.issue_date >= y0.d0
                                          AND l.inclusive_small_micro) AS sm1,
               sum(l.rate_e4::numeric * l.amount_fen)
                   FILTER (WHERE l.issue_date >= y0.d0 AND l.inclusive_small_micro) AS smr1,
               sum(l.amount_fen) FILTER (WHERE l.issue_date <= p_prev_to
                                          AND l.inclusive_small_micro) AS sm0,
               sum(l.rate_e4::numeric * l.amount_fen)
                   FILTER (WHERE l.issue_date <= p_prev_to AND l.inclusive_small_micro) AS smr0
        FROM loans l, y0
        WHERE l.status <> 'void'
          AND ((l.issue_date >= y0.d0 AND l.issue_date <= p_as_of)
               OR (l.issue_date >= y0.p0 AND l.issue_date <= p_prev_to))
        GROUP BY l.bank_code),
    lent AS (
        SELECT DISTINCT l.bank_code FROM banks b
        JOIN LATERAL (SELECT x.bank_code FROM loans x
                      WHERE x.bank_code = b.code AND x.status <> 'void'
                        AND x.issue_date <= p_as_of LIMIT 1) l ON true),
    mfg AS (
        SELECT g.bank_code, sum(g.outstanding_as_of - g.outstanding_start) AS inc
        FROM stats_lending_growth(p_year, p_as_of, '*') g
        WHERE g.manufacturing GROUP BY g.bank_code),
    rf AS (
        SELECT r.bank_code, count(*) AS n,
               count(*) FILTER (WHERE r.status = 'funded' AND (
                   SELECT l.issue_date FROM loans l WHERE l.id = r.loan_id) <= p_as_of) AS funded
        FROM referrals r, y0
        WHERE r.referred_on >= y0.d0 AND r.referred_on <= p_as_of
        GROUP BY r.bank_code),
    v AS (
        SELECT b.code, x.indicator, x.vn, x.vd
        FROM banks b
        LEFT JOIN nl ON nl.bank_code = b.code
        LEFT JOIN mfg ON mfg.bank_code = b.code
        LEFT JOIN rf ON rf.bank_code = b.code
        CROSS JOIN LATERAL (VALUES
            ('manufacturing_increase', coalesce(mfg.inc, 0)::numeric, 1::numeric),
            ('first_loan_share', nl.first_n::numeric, nullif(nl.n, 0)::numeric),
            ('credit_share', nl.credit::numeric, nullif(nl.amount, 0)::numeric),
            ('medium_long_share', nl.mlt::numeric, nullif(nl.amount, 0)::numeric),
            ('renewal_share', nl.renewal_n::numeric, nullif(nl.n, 0)::numeric),
            ('small_micro_rate_change_pp', nl.smr1 * nl.sm0 - nl.smr0 * nl.sm1,
             nullif(nl.sm1 * nl.sm0, 0) * 10000),
            ('relief_funded_share', rf.funded::numeric, nullif(rf.n, 0)::numeric),
            ('scf_financing', nl.scf::numeric, CASE WHEN nl.n > 0 THEN 1::numeric END)
        ) AS x(indicator, vn, vd)
        WHERE b.code IN (SELECT lent.bank_code FROM lent))
    SELECT b.code, i.indicator,
           CASE WHEN v.vd IS NOT NULL THEN v.vn END, v.vd
    FROM banks b
    CROSS JOIN unnest(ARRAY['manufacturing_increase', 'first_loan_share', 'credit_share',
                            'medium_long_share', 'renewal_share', 'small_micro_rate_change_pp',
                            'relief_funded_share', 'scf_financing']) AS i(indicator)
    LEFT JOIN v ON v.code = b.code AND v.indicator = i.indicator
$$;

-- The weights of @p_year: stored ones, 1 for any indicator without a row.
CREATE OR REPLACE FUNCTION scorecard_weights_of(p_year int)
RETURNS TABLE (indicator text, weight numeric)
LANGUAGE sql STABLE AS $$
    SELECT i.indicator, coalesce(w.weight, 1)
    FROM unnest(ARRAY['manufacturing_increase', 'first_loan_share', 'credit_share',
                      'medium_long_share', 'renewal_share', 'small_micro_rate_change_pp',
                      'relief_funded_share', 'scf_financing']) AS i(indicator)
    LEFT JOIN scorecard_weights w ON w.year = p_year AND w.indicator = i.indicator
$$;

-- The scorecard of @p_year up to @p_as_of: one row per active bank with its score (a
-- 2-decimal text) and its indicators {"value", "points"} as JSON; the weights as JSON.
-- Ranking and order are the caller's (domain/scorecard.c).
CREATE OR REPLACE FUNCTION scorecard_rows(p_year int, p_as_of date, p_prev_to date)
RETURNS TABLE (bank_code text, score text, indicators jsonb, weights jsonb)
LANGUAGE sql STABLE AS $$
    WITH v AS (SELECT * FROM scorecard_values(p_year, p_as_of, p_prev_to)),
    -- best and worst per indicator, ordered by an exact floor of the value at 80 decimals
    -- (distinct values here differ by far more); only the small-micro rate is "lower".
    k AS (SELECT v.*, div(v.vn * 10::numeric ^ 80, v.vd) AS key,
                 v.indicator = 'small_micro_rate_change_pp' AS lower
          FROM v WHERE v.vd IS NOT NULL),
    ends AS (
        SELECT DISTINCT ON (k.indicator) k.indicator,
               first_value(k.vn) OVER w AS bn, first_value(k.vd) OVER w AS bd,
               last_value(k.vn) OVER w AS wn, last_value(k.vd) OVER w AS wd
        FROM k
        WINDOW w AS (PARTITION BY k.indicator
                     ORDER BY CASE WHEN k.lower THEN k.key ELSE -k.key END
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)),
    p AS (
        SELECT v.bank_code, v.indicator, v.vn, v.vd,
               CASE WHEN v.vd IS NULL THEN 0.00
                    ELSE sc_points(v.vn, v.vd, e.wn, e.wd, e.bn, e.bd) END AS points
        FROM v LEFT JOIN ends e ON e.indicator = v.indicator),
    w AS (SELECT * FROM scorecard_weights_of(p_year))
    SELECT p.bank_code,
           to_char(sc_round(sum(w.weight * p.points), sum(w.weight), 2), 'FM990.00'),
           jsonb_object_agg(p.indicator, jsonb_build_object(
               'value', CASE WHEN p.vd IS NULL THEN NULL
                             WHEN p.indicator IN ('manufacturing_increase', 'scf_financing')
                                 THEN to_jsonb(fen_text(p.vn::bigint))
                             ELSE to_jsonb(sc_round(p.vn, p.vd, 4)) END,
               'points', round(p.points, 2))),
           (SELECT jsonb_object_agg(x.indicator, x.weight) FROM w x)
    FROM p JOIN w ON w.indicator = p.indicator
    GROUP BY p.bank_code
$$;

-- Replaces the weights of @p_year with @p_weights ({indicator: weight}); indicators not
-- named weigh 1. The caller has validated names and values.
CREATE OR REPLACE FUNCTION scorecard_weights_put(p_year int, p_weights jsonb, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM scorecard_weights WHERE year = p_year;
    INSERT INTO scorecard_weights (year, indicator, weight, updated_by)
    SELECT p_year, w.indicator, coalesce((p_weights ->> w.indicator)::numeric, 1), p_actor
    FROM scorecard_weights_of(p_year) w;
    RETURN (SELECT jsonb_object_agg(w.indicator, w.weight) FROM scorecard_weights_of(p_year) w);
END $$;

-- Outstanding of loan @l at the end of day @p_day: amount minus repayments dated on or
-- before it, 0 before issue and from its renewal on; void loans are 0.
CREATE OR REPLACE FUNCTION watch_loan_balance(l loans, p_day date) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN CASE WHEN l.status = 'void' OR l.issue_date > p_day
                     OR (l.renewed_on IS NOT NULL AND l.renewed_on <= p_day) THEN 0
                ELSE l.amount_fen - coalesce((SELECT sum(r.amount_fen) FROM repayments r
                                              WHERE r.loan_id = l.id AND r.repaid_on <= p_day), 0)
                END;

-- The withdrawal alerts of window (@p_start, @p_as_of] (domain.md "Loan withdrawal
-- watch"), optionally for one bank, county or kind, at most @p_limit rows. A bank's
-- balance to a firm falls only by repayments and renewals, so the candidates are the
-- loans with a repayment or a renewal dated in the window (two index ranges); each
-- candidate bank and firm then has its few loans summed at the two ends. The firm's size
-- and county are its registry record's.
CREATE OR REPLACE FUNCTION withdrawal_alerts(p_start date, p_as_of date, p_bank text,
                                             p_county text, p_kind text, p_limit int)
RETURNS TABLE (kind text, bank_code text, uscc text, name text, county_code text,
               outstanding_before bigint, outstanding_as_of bigint, day date, loan_ref text,
               referred boolean, whitelisted boolean, scf_member boolean)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- Every look-up by key is a fenced LATERAL probe, so the one plan made per session
    -- stays index probes whatever the table sizes were when it was made.
    RETURN QUERY
    WITH cand AS (
        SELECT r.loan_id AS id FROM repayments r
        WHERE r.repaid_on > p_start AND r.repaid_on <= p_as_of
        UNION
        SELECT l.id FROM loans l
        WHERE l.renewed_on > p_start AND l.renewed_on <= p_as_of),
    cl AS MATERIALIZED (
        SELECT l.id, l.bank_code, l.borrower_uscc, l.loan_ref, l.amount_fen, l.maturity_date,
               l.renewed_on, f.name, f.county_code, x.d, x.paid
        FROM cand c
        CROSS JOIN LATERAL (SELECT * FROM loans y WHERE y.id = c.id OFFSET 0) l
        CROSS JOIN LATERAL (SELECT g.name, g.county_code, g.size FROM firms g
                            WHERE g.uscc = l.borrower_uscc OFFSET 0) f
        CROSS JOIN LATERAL (SELECT max(r.repaid_on) AS d, sum(r.amount_fen) AS paid
                            FROM repayments r
                            WHERE r.loan_id = l.id AND r.repaid_on <= p_as_of) x
        WHERE l.status <> 'void' AND (p_bank IS NULL OR l.bank_code = p_bank)
          AND f.size IN ('medium', 'small', 'micro')
          AND (p_county IS NULL OR f.county_code = p_county)),
    bal AS MATERIALIZED (
        SELECT p.bank_code, p.uscc, p.name, p.county_code, b.before, b.after, b.issued,
               b.last_drop
        FROM (SELECT DISTINCT cl.bank_code, cl.borrower_uscc AS uscc, cl.name, cl.county_code
              FROM cl) p
        CROSS JOIN LATERAL (
            SELECT sum(watch_loan_balance(l, p_start))::bigint AS before,
                   sum(watch_loan_balance(l, p_as_of))::bigint AS after,
                   bool_or(l.issue_date > p_start AND l.issue_date <= p_as_of) AS issued,
                   max(greatest(
                       (SELECT max(r.repaid_on) FROM repayments r
                        WHERE r.loan_id = l.id AND r.repaid_on > p_start
                          AND r.repaid_on <= p_as_of),
                       CASE WHEN l.renewed_on > p_start AND l.renewed_on <= p_as_of
                            THEN l.renewed_on END)) AS last_drop
            FROM loans l
            WHERE l.borrower_uscc = p.uscc AND l.bank_code = p.bank_code
              AND l.status <> 'void' AND l.issue_date <= p_as_of) b),
    rows AS (
        SELECT 'recall'::text AS kind, cl.bank_code, cl.borrower_uscc AS uscc, cl.name,
               cl.county_code, q.before, q.after, cl.d AS day, cl.loan_ref
        FROM cl
        CROSS JOIN LATERAL (SELECT q1.before, q1.after FROM bal q1
                            WHERE q1.bank_code = cl.bank_code
                              AND q1.uscc = cl.borrower_uscc) q
        WHERE cl.renewed_on IS NULL AND cl.paid = cl.amount_fen AND cl.d > p_start
          AND cl.maturity_date - cl.d >= 30
        UNION ALL
        SELECT 'cutoff', b.bank_code, b.uscc, b.name, b.county_code, b.before, b.after,
               b.last_drop, NULL
        FROM bal b WHERE b.before > 0 AND b.after = 0 AND NOT coalesce(b.issued, false)
        UNION ALL
        SELECT 'cut', b.bank_code, b.uscc, b.name, b.county_code, b.before, b.after,
               p_as_of, NULL
        FROM bal b WHERE b.after > 0 AND b.after * 10 <= b.before * 7)
    SELECT x.kind, x.bank_code, x.uscc, x.name, x.county_code, x.before, x.after, x.day,
           x.loan_ref,
           EXISTS (SELECT 1 FROM referrals r WHERE r.uscc = x.uscc AND r.status <> 'declined'
                     AND r.referred_on <= p_as_of),
           EXISTS (SELECT 1 FROM whitelist_entries e
                   WHERE e.uscc = x.uscc AND whitelist_status(e, p_as_of) = 'active'),
           EXISTS (SELECT 1 FROM scf_programs g WHERE g.core_uscc = x.uscc
                     AND g.started_on <= p_as_of)
           OR EXISTS (SELECT 1 FROM scf_members m WHERE m.uscc = x.uscc
                        AND m.joined_on <= p_as_of
                        AND (m.left_on IS NULL OR m.left_on > p_as_of))
    FROM rows x
    WHERE p_kind IS NULL OR x.kind = p_kind
    ORDER BY x.bank_code, x.uscc, x.kind, x.loan_ref
    LIMIT p_limit;
END $$;
