-- Supervision (issue 13): the banks' scorecard (考评, measure 7.1) and the loan-withdrawal
-- watch (抽贷/压贷/断贷, measure 7.4), as docs/domain.md defines them. Values are exact
-- fractions (numerator, denominator) of numeric integers; points, score and shown values
-- are rounded from them exactly (half away from zero), never from a float.

-- @p_n / @p_d rounded to @p_places decimals, half away from zero, exactly (@p_d > 0): the
-- integer part of twice the scaled value (div truncates toward zero), halved and rounded
-- by numeric's round, which takes a half away from zero. p_n and p_d are used once and
-- p_places (a constant at every call) twice, so PostgreSQL inlines it whatever
-- expressions p_n and p_d are (sc_points passes some). (Until
-- 2 December it was sign(n) * div(2|n| 10^k + d, 2d), PL/pgSQL because an SQL function
-- using an expression argument twice is not inlined: a PL/pgSQL call per value cost a
-- 300-bank scorecard ~10 ms of its ~73. The same text for 200,000 random values, ties
-- of both signs included.)
CREATE OR REPLACE FUNCTION sc_round(p_n numeric, p_d numeric, p_places int) RETURNS numeric
LANGUAGE sql IMMUTABLE
RETURN round(div(2 * p_n * 10::numeric ^ p_places, p_d) / 2) / 10::numeric ^ p_places;

-- Points of value v = vn/vd between worst w and best b: 100 (v - w) / (b - w), rounded to
-- 2 decimals half up; 100 when b = w (all equal). Denominators are positive. (Inlined: its
-- arguments are columns.)
CREATE OR REPLACE FUNCTION sc_points(vn numeric, vd numeric, wn numeric, wd numeric,
                                     bn numeric, bd numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN vn IS NULL OR vd IS NULL THEN NULL
                WHEN bn * wd = wn * bd THEN 100.00
                ELSE sc_round(100 * (vn * wd - wn * vd) * bd * sign((bn * wd - wn * bd) * vd),
                              abs((bn * wd - wn * bd) * vd), 2) END;

-- The eight indicators of every active bank for @p_year up to @p_as_of, compared with
-- 1 January of the year before up to @p_prev_to (the same day a year before), as exact
-- fractions: one row per bank and indicator, vn and vd NULL when the value is null. The
-- figures come from summaries, not from scans of the loans (a funded referral's loan is
-- read by its id): two windows of new loans by bank
-- (everything up to @p_as_of, of which this year's rows are the year's; last year up to
-- @p_prev_to) and one read of the two balances; so the work grows with banks, this year's
-- months and the earlier years (a year row each), not with loans.
-- The banks and their figures are put together by one grouping by bank over all of them
-- (UNION ALL), not by joins: the joins' plans followed the statistics of principals, and
-- when they said there is one bank (analyzed with the regulator alone, before the banks
-- were added and autoanalyze ran) a nested loop read every bank's new loans once per bank
-- (3,000 banks: 4.5 million rows compared, 7.2 s; audit, 4 December 2026). A grouping
-- reads each row once whatever the estimates.
-- PL/pgSQL so that a connection plans it once.
CREATE OR REPLACE FUNCTION scorecard_values(p_year int, p_as_of date, p_prev_to date)
RETURNS TABLE (bank_code text, indicator text, vn numeric, vd numeric)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_d0 date := make_date(p_year, 1, 1);   -- 1 January of the year
BEGIN
    RETURN QUERY
    -- One row per source row, tagged: the active banks; new loans up to @p_as_of (year
    -- rows for whole years, month rows for whole months, day rows for the last days;
    -- those from 1 January are this year's: a year or month row starts on its first
    -- day); new loans of last year's window; the manufacturing balance at @p_as_of less
    -- that at the start of the year; this year's referrals.
    WITH s (src, bank_code, period, n, amount, first_n, credit, mlt, renewal_n, scf, sm, smr,
            inc, funded) AS (
        SELECT 'bank', p.code, NULL::date, NULL::numeric, NULL::numeric, NULL::numeric,
               NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric, NULL::numeric,
               NULL::numeric, NULL::numeric, NULL::boolean
        FROM principals p WHERE p.kind = 'bank' AND p.active
        UNION ALL
        SELECT 'upto', w.key, w.period, w.n, w.amount, w.first_n, w.credit_amount,
               w.mlt_amount, w.renewal_n, w.scf_amount, w.sm_amount, w.sm_rate_x_amount,
               NULL, NULL
        FROM stats_new_loans_window('b', '*', '-infinity', p_as_of, NULL) w
        UNION ALL
        SELECT 'prev', w.key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, w.sm_amount,
               w.sm_rate_x_amount, NULL, NULL
        FROM stats_new_loans_window('b', '*', make_date(p_year - 1, 1, 1), p_prev_to, NULL) w
        UNION ALL
        SELECT 'mfg', g.bank_code, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               g.outstanding_as_of - g.outstanding_start, NULL
        FROM stats_balance_growth(p_year, p_as_of) g WHERE g.manufacturing
        UNION ALL
        SELECT 'rf', r.bank_code, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL,
               r.status = 'funded' AND (
                   SELECT l.issue_date FROM loans l
                   WHERE l.id = r.loan_id AND l.status <> 'void') <= p_as_of
        FROM referrals r
        WHERE r.referred_on >= v_d0 AND r.referred_on <= p_as_of),
    b AS (
        SELECT s.bank_code,
               bool_or(s.src = 'bank') AS active_bank,
               sum(s.n) FILTER (WHERE s.src = 'upto') AS ever,
               sum(s.n) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS n,
               sum(s.amount) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS amount,
               sum(s.first_n) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS first_n,
               sum(s.credit) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS credit,
               sum(s.mlt) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS mlt,
               sum(s.renewal_n) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0)
                   AS renewal_n,
               sum(s.scf) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS scf,
               sum(s.sm) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS sm1,
               sum(s.smr) FILTER (WHERE s.src = 'upto' AND s.period >= v_d0) AS smr1,
               sum(s.sm) FILTER (WHERE s.src = 'prev') AS sm0,
               sum(s.smr) FILTER (WHERE s.src = 'prev') AS smr0,
               sum(s.inc) FILTER (WHERE s.src = 'mfg') AS inc,
               nullif(count(*) FILTER (WHERE s.src = 'rf'), 0) AS rf_n,
               count(*) FILTER (WHERE s.src = 'rf' AND s.funded) AS rf_funded
        FROM s
        GROUP BY s.bank_code)
    SELECT b.bank_code, x.indicator,
           CASE WHEN b.ever > 0 AND x.vd IS NOT NULL THEN x.vn END,
           CASE WHEN b.ever > 0 THEN x.vd END                       -- a bank that has lent
    FROM b
    CROSS JOIN LATERAL (VALUES
        ('manufacturing_increase', coalesce(b.inc, 0)::numeric, 1::numeric),
        ('first_loan_share', b.first_n::numeric, nullif(b.n, 0)::numeric),
        ('credit_share', b.credit::numeric, nullif(b.amount, 0)::numeric),
        ('medium_long_share', b.mlt::numeric, nullif(b.amount, 0)::numeric),
        ('renewal_share', b.renewal_n::numeric, nullif(b.n, 0)::numeric),
        ('small_micro_rate_change_pp', b.smr1 * b.sm0 - b.smr0 * b.sm1,
         nullif(b.sm1 * b.sm0, 0) * 10000),
        ('relief_funded_share', b.rf_funded::numeric, b.rf_n::numeric),
        ('scf_financing', b.scf::numeric, CASE WHEN b.n > 0 THEN 1::numeric END)
    ) AS x(indicator, vn, vd)
    WHERE b.active_bank;
END $$;

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
-- 2-decimal text) and, when @p_indicators, its indicators {"value", "points"} as JSON
-- (NULL otherwise: the ranking beside the targets needs the scores only). The weights
-- are scorecard_weights_of's, which finregd reads with them (and which answer when no
-- bank does). Ranking and order are the caller's (domain/scorecard.c). PL/pgSQL: planned
-- once.
DROP FUNCTION IF EXISTS scorecard_rows(int, date, date);
-- Until 2 December it also returned the weights as JSON in every row, which nothing read;
-- a function's result type cannot be replaced, so that one is dropped first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc
               WHERE oid = to_regprocedure('scorecard_rows(int, date, date, boolean)')
                 AND 'weights' = ANY (proargnames)) THEN
        DROP FUNCTION IF EXISTS scorecard_rows(int, date, date, boolean);
    END IF;
END $$;
CREATE OR REPLACE FUNCTION scorecard_rows(p_year int, p_as_of date, p_prev_to date,
                                          p_indicators boolean)
RETURNS TABLE (bank_code text, score text, indicators jsonb)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
                                 -- fen as yuan, as fen_text writes it, without its
                                 -- bigint: the sums are numeric (migration 025); a
                                 -- product keeps every digit (a quotient keeps ~16)
                                 THEN to_jsonb(round(p.vn * 0.01, 2)::text)
                             ELSE to_jsonb(sc_round(p.vn, p.vd, 4)) END,
               'points', round(p.points, 2))) FILTER (WHERE p_indicators)
    FROM p JOIN w ON w.indicator = p.indicator
    GROUP BY p.bank_code;
END $$;

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

-- ---------------------------------------------------------------- the balance timeline
-- A bank's balance to a firm per day (tables: migrations/014_withdrawal_timeline.sql): the
-- write path's statement triggers append changes to watch_balance_delta; the statistics
-- compactor folds them into watch_balance (day rows with the day's change and the balance
-- at its end); readers add the pending deltas, so a balance is exact whether or not the
-- fold has run. watch_payoffs lists the live loans never renewed that are repaid in full,
-- with the day of the last repayment.

CREATE OR REPLACE FUNCTION watch_loan_of(l loans) RETURNS watch_loan
    LANGUAGE sql IMMUTABLE
    RETURN ROW(l.id, l.bank_code, l.borrower_uscc, l.issue_date, l.amount_fen, l.renewed_on,
               l.status = 'void')::watch_loan;

-- The balance rule (watch_loan_balance day by day) in one home, for the write path's
-- triggers and the rebuild alike; set-returning SQL, so a LATERAL call is inlined (no
-- call per row). A loan's own changes: +amount on its issue date, -amount on its renewal
-- date; none when it is void or was renewed on its issue date.
CREATE OR REPLACE FUNCTION watch_loan_days(p_issue date, p_amount bigint, p_renewed date,
                                           p_void boolean)
RETURNS TABLE (day date, delta bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.day, x.delta
    FROM (VALUES (p_issue, p_amount), (p_renewed, -p_amount)) AS x(day, delta)
    WHERE NOT p_void AND (p_renewed IS NULL OR p_renewed > p_issue) AND x.day IS NOT NULL
$$;

-- A repayment's changes to its loan's balance: -amount on its date (on the issue date if
-- dated before it), given back on the renewal date (the renewal takes what is left); none
-- when dated on or after the renewal, or when the loan has no changes of its own.
CREATE OR REPLACE FUNCTION watch_repayment_days(p_repaid date, p_amount bigint, p_issue date,
                                                p_renewed date, p_void boolean)
RETURNS TABLE (day date, delta bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT x.day, x.delta
    FROM (VALUES (greatest(p_repaid, p_issue), -p_amount), (p_renewed, p_amount))
        AS x(day, delta)
    WHERE NOT p_void
      AND (p_renewed IS NULL OR (p_renewed > p_issue AND p_repaid < p_renewed))
      AND x.day IS NOT NULL
$$;

-- Appends the balance changes of loans @p_loans with sign @p_sign (watch_loan_days), and
-- their repayments' (watch_repayments_add) when @p_with_repayments (a new loan has none).
CREATE OR REPLACE FUNCTION watch_loan_add(p_loans watch_loan[], p_sign int,
                                          p_with_repayments boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_loans IS NULL OR cardinality(p_loans) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
    SELECT l.bank_code, l.uscc, x.day, p_sign * sum(x.delta)
    FROM unnest(p_loans) l
    CROSS JOIN LATERAL watch_loan_days(l.issue_date, l.amount_fen, l.renewed_on, l.void) x
    GROUP BY l.bank_code, l.uscc, x.day
    HAVING sum(x.delta) <> 0;
    IF p_with_repayments THEN
        PERFORM watch_repayments_add(p_loans, NULL, p_sign);
    END IF;
END $$;

-- Appends the changes of the repayments of loans @p_loans (those with ids @p_ids, or all
-- when NULL) with sign @p_sign (watch_repayment_days).
CREATE OR REPLACE FUNCTION watch_repayments_add(p_loans watch_loan[], p_ids bigint[],
                                                p_sign int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
    SELECT l.bank_code, l.uscc, x.day, p_sign * sum(x.delta)
    FROM unnest(p_loans) l
    JOIN repayments r ON r.loan_id = l.id
    CROSS JOIN LATERAL watch_repayment_days(r.repaid_on, r.amount_fen, l.issue_date,
                                            l.renewed_on, l.void) x
    WHERE p_ids IS NULL OR r.id = ANY (p_ids)
    GROUP BY l.bank_code, l.uscc, x.day
    HAVING sum(x.delta) <> 0;
END $$;

-- Recomputes the payoff rows of loans @p_ids: a live loan never renewed whose repayments
-- add up to its amount is paid off on the day of its last repayment.
CREATE OR REPLACE FUNCTION watch_payoffs_set(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM watch_payoffs p WHERE p.loan_id = ANY (p_ids);
    INSERT INTO watch_payoffs (loan_id, paid_off_on, bank_code, uscc, loan_ref, maturity_date)
    SELECT l.id, x.d, l.bank_code, l.borrower_uscc, l.loan_ref, l.maturity_date
    FROM loans l
    CROSS JOIN LATERAL (SELECT max(r.repaid_on) AS d, sum(r.amount_fen) AS paid
                        FROM repayments r WHERE r.loan_id = l.id) x
    WHERE l.id = ANY (p_ids) AND x.paid = l.amount_fen AND l.status <> 'void'
      AND l.renewed_on IS NULL;
END $$;

-- New loans: their changes (watch_loan_days), one delta row per bank, firm and day the
-- statement touched: one INSERT over the transition table, no per-row PL/pgSQL, no index
-- to maintain.
CREATE OR REPLACE FUNCTION watch_on_loan_insert() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
    SELECT n.bank_code, n.borrower_uscc, x.day, sum(x.delta)
    FROM new_rows n
    CROSS JOIN LATERAL watch_loan_days(n.issue_date, n.amount_fen, n.renewed_on,
                                       n.status = 'void') x
    GROUP BY 1, 2, 3
    HAVING sum(x.delta) <> 0;
    RETURN NULL;
END $$;

-- Loans whose bank, firm, dates, amount or void status changed are taken out and put
-- back with their repayments (a repayment alone changes none of these: it has its own
-- trigger); loans whose payoff can change (those, and a new repaid sum, reference or
-- maturity) get their payoff row again.
CREATE OR REPLACE FUNCTION watch_on_loan_update() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
DECLARE
    v_old watch_loan[];
    v_new watch_loan[];
    v_paid bigint[];
BEGIN
    WITH p AS (
        SELECT watch_loan_of(o) AS o, watch_loan_of(n) AS n,
               (o.repaid_fen, o.loan_ref, o.maturity_date)
               IS DISTINCT FROM (n.repaid_fen, n.loan_ref, n.maturity_date) AS paid
        FROM old_rows o JOIN new_rows n ON n.id = o.id)
    SELECT array_agg(p.o) FILTER (WHERE p.o IS DISTINCT FROM p.n),
           array_agg(p.n) FILTER (WHERE p.o IS DISTINCT FROM p.n),
           array_agg((p.n).id) FILTER (WHERE p.o IS DISTINCT FROM p.n OR p.paid)
    INTO v_old, v_new, v_paid
    FROM p;
    PERFORM watch_loan_add(v_old, -1, true);
    PERFORM watch_loan_add(v_new, 1, true);
    IF v_paid IS NOT NULL THEN
        PERFORM watch_payoffs_set(v_paid);
    END IF;
    RETURN NULL;
END $$;

-- New repayments: their changes (watch_repayment_days), with their loans as they are, in
-- one INSERT joining the transition table to the loans by key.
CREATE OR REPLACE FUNCTION watch_on_repayment_insert() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
    SELECT l.bank_code, l.borrower_uscc, x.day, sum(x.delta)
    FROM new_rows r
    JOIN loans l ON l.id = r.loan_id
    CROSS JOIN LATERAL watch_repayment_days(r.repaid_on, r.amount_fen, l.issue_date,
                                            l.renewed_on, l.status = 'void') x
    GROUP BY 1, 2, 3
    HAVING sum(x.delta) <> 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER loans_watch_insert AFTER INSERT ON loans
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION watch_on_loan_insert();

CREATE OR REPLACE TRIGGER loans_watch_update AFTER UPDATE ON loans
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION watch_on_loan_update();

CREATE OR REPLACE TRIGGER repayments_watch_insert AFTER INSERT ON repayments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION watch_on_repayment_insert();

-- The latest day on or before @p_day on which the balance of bank @p_bank to firm @p_uscc
-- fell from a balance b with @p_balance * 10 <= b * 7 (none: no row): the cut_from of a
-- fall on @p_day that left @p_balance (migration 016). If a pair's balance at the end of A
-- is at most 70% of that at the end of S > 0, then with f its first fall in (S, A] and l
-- its last, balance(S) <= f's balance before it and balance(A) >= l's after it (only rises
-- lie between), so l's cut_from is on or after f's day: in the window. Set-returning, so a
-- LATERAL call is inlined.
DROP FUNCTION IF EXISTS watch_cut_from(text, text, date, bigint);   -- numeric since 025
CREATE OR REPLACE FUNCTION watch_cut_from(p_bank text, p_uscc text, p_day date,
                                          p_balance numeric)
RETURNS TABLE (cut_from date)
LANGUAGE sql STABLE AS $$
    SELECT q.day FROM watch_balance q
    WHERE q.bank_code = p_bank AND q.uscc = p_uscc AND q.day <= p_day AND q.delta < 0
      AND p_balance * 10 <= (q.balance - q.delta) * 7
    ORDER BY q.day DESC LIMIT 1
$$;

-- Sets cut_from (watch_cut_from) on the rows of the pairs @p_pairs ([{bank_code, uscc,
-- day}]) from each one's day on (NULL on the rows that are not falls), or, when @p_pairs is
-- NULL, on every fall of a timeline just built (its cut_from all NULL).
-- Each pair's rows are one range of its own (OFFSET 0 keeps it a nested probe), and the
-- backward walk runs for falls only: a row that is no fall passes a NULL day, an empty
-- range. Until 4 December 2026 the LATERAL's ON tested the fall after the walk, so every
-- row from the changed day on walked the pair's history back: a change dated early in a
-- firm's 4,390 rows read 18 million index entries (8-23 s, past the statement timeout:
-- the change stayed at the head of the queue and no queue folded again; found by audit).
-- Sequential scans off: with statistics taken when the timeline was nearly empty, the
-- plan scanned the whole timeline for each changed row (same audit).
CREATE OR REPLACE FUNCTION watch_cut_from_set(p_pairs jsonb) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF p_pairs IS NULL THEN
        UPDATE watch_balance w SET cut_from = x.cut_from
        FROM (SELECT f.bank_code, f.uscc, f.day, c.cut_from FROM watch_balance f
              CROSS JOIN LATERAL watch_cut_from(f.bank_code, f.uscc, f.day, f.balance) c
              WHERE f.delta < 0) x
        WHERE w.bank_code = x.bank_code AND w.uscc = x.uscc AND w.day = x.day
          AND w.cut_from IS DISTINCT FROM x.cut_from;
        RETURN;
    END IF;
    UPDATE watch_balance w SET cut_from = x.cut_from
    FROM (SELECT f.tid, c.cut_from
          FROM jsonb_to_recordset(p_pairs) AS p(bank_code text, uscc text, day date)
          CROSS JOIN LATERAL (SELECT q.ctid AS tid, q.bank_code, q.uscc, q.day, q.delta,
                                     q.balance, q.cut_from
                              FROM watch_balance q
                              WHERE q.bank_code = p.bank_code AND q.uscc = p.uscc
                                AND q.day >= p.day
                              OFFSET 0) f
          LEFT JOIN LATERAL watch_cut_from(f.bank_code, f.uscc,
                                           CASE WHEN f.delta < 0 THEN f.day END,
                                           f.balance) c ON true
          WHERE f.cut_from IS DISTINCT FROM c.cut_from) x
    WHERE w.ctid = x.tid;
END $$;

-- Folds up to @p_limit pending changes into watch_balance and returns how many it folded;
-- the caller holds the compaction lock (stats_compact).
DROP FUNCTION IF EXISTS watch_compact_locked();
-- Sequential scans off: with statistics taken when the timeline was nearly empty, the
-- DELETE of rows whose delta came to 0 scanned the whole timeline on every fold (audit,
-- 4 December 2026); the queue, which has no index, is still read whole.
CREATE OR REPLACE FUNCTION watch_compact_locked(p_limit int) RETURNS bigint
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    -- The changes, summed per bank, firm and day, as rows of the queue's own type (a
    -- column added to watch_balance_delta must be added to the ROW below).
    v_ch watch_balance_delta[];
    v_n bigint;
BEGIN
    -- At most @p_limit changes a run (deltas add up in any order), so a backlog is folded
    -- in bounded steps.
    WITH d AS (DELETE FROM watch_balance_delta x
               WHERE x.ctid = ANY (ARRAY(SELECT y.ctid FROM watch_balance_delta y LIMIT p_limit))
               RETURNING x.*),
    g AS (SELECT d.bank_code, d.uscc, d.day, sum(d.delta) AS delta
          FROM d GROUP BY 1, 2, 3 HAVING sum(d.delta) <> 0)
    SELECT (SELECT array_agg(ROW(g.bank_code, g.uscc, g.day, g.delta)::watch_balance_delta)
            FROM g),
           (SELECT count(*) FROM d)
    INTO v_ch, v_n;
    IF v_ch IS NULL THEN
        RETURN v_n;
    END IF;
    -- A pair whose changes are all rises dated after its last row (a new borrower's new
    -- loans, most of what a fold sees, or a known borrower's new loans) gets its new rows
    -- appended: balance = the last row's balance (0 for a new pair) plus the running sum;
    -- no fall, so no cut_from, and no earlier row changes (a row's cut_from depends only on
    -- its pair's rows up to it). What the general steps below would make of it, in one
    -- insert instead of four statements. Only the fold (under the compaction lock) writes
    -- watch_balance.
    WITH f AS (SELECT * FROM unnest(v_ch)),
    p AS (SELECT f.bank_code, f.uscc, min(f.day) AS d0 FROM f GROUP BY 1, 2
          HAVING min(f.delta) > 0),
    tail AS (SELECT p.bank_code, p.uscc, coalesce(l.balance, 0) AS balance
             FROM p
             LEFT JOIN LATERAL (SELECT w.day, w.balance FROM watch_balance w
                                WHERE w.bank_code = p.bank_code AND w.uscc = p.uscc
                                ORDER BY w.day DESC LIMIT 1) l ON true
             WHERE l.day IS NULL OR l.day < p.d0),
    ins AS (INSERT INTO watch_balance (bank_code, uscc, day, delta, balance)
            SELECT f.bank_code, f.uscc, f.day, f.delta,
                   t.balance + sum(f.delta) OVER (PARTITION BY f.bank_code, f.uscc
                                                  ORDER BY f.day)
            FROM f JOIN tail t ON t.bank_code = f.bank_code AND t.uscc = f.uscc)
    SELECT array_agg(f::watch_balance_delta) INTO v_ch
    FROM f
    WHERE NOT EXISTS (SELECT FROM tail t WHERE t.bank_code = f.bank_code
                                           AND t.uscc = f.uscc);
    IF v_ch IS NULL THEN
        RETURN v_n;
    END IF;
    -- The general steps: a new day row starts from the balance of the pair's day before;
    -- every row of a changed pair from its earliest changed day on gains the changes dated
    -- on or before it; rows left with no change are removed; cut_from is set again.
    INSERT INTO watch_balance (bank_code, uscc, day, delta, balance)
    SELECT f.bank_code, f.uscc, f.day, 0,
           coalesce((SELECT w.balance FROM watch_balance w
                     WHERE w.bank_code = f.bank_code AND w.uscc = f.uscc AND w.day < f.day
                     ORDER BY w.day DESC LIMIT 1), 0)
    FROM unnest(v_ch) AS f
    ON CONFLICT (bank_code, uscc, day) DO NOTHING;
    WITH f AS (SELECT * FROM unnest(v_ch)),
    p AS (SELECT f.bank_code, f.uscc, min(f.day) AS d0 FROM f GROUP BY 1, 2),
    c AS (SELECT w.bank_code, w.uscc, w.day,
                 coalesce(sum(f.delta) FILTER (WHERE f.day = w.day), 0) AS own,
                 sum(f.delta) AS cum
          FROM p
          JOIN watch_balance w ON w.bank_code = p.bank_code AND w.uscc = p.uscc AND w.day >= p.d0
          JOIN f ON f.bank_code = w.bank_code AND f.uscc = w.uscc AND f.day <= w.day
          GROUP BY w.bank_code, w.uscc, w.day)
    UPDATE watch_balance w SET delta = w.delta + c.own, balance = w.balance + c.cum
    FROM c WHERE w.bank_code = c.bank_code AND w.uscc = c.uscc AND w.day = c.day;
    DELETE FROM watch_balance w
    USING unnest(v_ch) AS f
    WHERE w.bank_code = f.bank_code AND w.uscc = f.uscc AND w.day = f.day AND w.delta = 0;
    -- Every row of a changed pair from its earliest changed day on may have a new cut_from.
    PERFORM watch_cut_from_set((
        SELECT jsonb_agg(p) FROM (
            SELECT f.bank_code, f.uscc, min(f.day) AS day
            FROM unnest(v_ch) AS f
            GROUP BY 1, 2) p));
    RETURN v_n;
END $$;

-- Rebuilds the timeline and the payoffs from loans and repayments (migration 014, and
-- after a bulk load with the triggers disabled); holds the compaction lock, taken first
-- as stats_compact() and stats_rebuild() take it (no fold meanwhile).
CREATE OR REPLACE FUNCTION watch_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from bigint := 0;
    v_last bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7340012004);
    -- Every write of loans and repayments waits from here, before this takes any table
    -- of the timeline (those under way end first, repayments before loans, the order
    -- loan_repay writes them and stats_rebuild() takes them). A write appends to the
    -- changes or rewrites payoffs, in either order (a correction of a maturity, then of
    -- an issue date): taking the timeline's tables first, in any order, deadlocked with
    -- one of them (test_watch_rebuild_reads).
    LOCK TABLE repayments, loans IN SHARE MODE;
    -- DELETE, not TRUNCATE (as stats_rebuild): withdrawal_alerts reads on the snapshot of
    -- the statement that called it, taken before it waited for these locks, and TRUNCATE
    -- is not MVCC-safe: such a read saw no timeline and answered no alert
    -- (test_watch_rebuild_reads). EXCLUSIVE, not ACCESS EXCLUSIVE: reads go on,
    -- answering the timeline as it was until this commits. The deleted rows stay dead
    -- until vacuum: the timeline takes twice its pages once.
    LOCK TABLE watch_balance, watch_balance_delta, watch_payoffs IN EXCLUSIVE MODE;
    DELETE FROM watch_balance;
    DELETE FROM watch_balance_delta;
    DELETE FROM watch_payoffs;
    SELECT coalesce(max(id), 0) INTO v_last FROM loans;
    WHILE v_from <= v_last LOOP
        PERFORM watch_loan_add(ARRAY(SELECT watch_loan_of(l) FROM loans l
                                     WHERE l.id >= v_from AND l.id < v_from + 100000), 1, true);
        v_from := v_from + 100000;
    END LOOP;
    INSERT INTO watch_balance (bank_code, uscc, day, delta, balance)
    SELECT g.bank_code, g.uscc, g.day, g.delta,
           sum(g.delta) OVER (PARTITION BY g.bank_code, g.uscc ORDER BY g.day)
    FROM (SELECT d.bank_code, d.uscc, d.day, sum(d.delta) AS delta FROM watch_balance_delta d
          GROUP BY 1, 2, 3 HAVING sum(d.delta) <> 0) g;
    DELETE FROM watch_balance_delta;
    PERFORM watch_cut_from_set(NULL);
    INSERT INTO watch_payoffs (loan_id, paid_off_on, bank_code, uscc, loan_ref, maturity_date)
    SELECT l.id, max(r.repaid_on), l.bank_code, l.borrower_uscc, l.loan_ref, l.maturity_date
    FROM repayments r JOIN loans l ON l.id = r.loan_id
    WHERE l.status <> 'void' AND l.renewed_on IS NULL
    GROUP BY l.id HAVING sum(r.amount_fen) = l.amount_fen;
END $$;

-- The balance of bank @p_bank to firm @p_uscc at the end of @p_day from the timeline.
CREATE OR REPLACE FUNCTION watch_balance_on(p_bank text, p_uscc text, p_day date) RETURNS bigint
    LANGUAGE sql STABLE
    RETURN coalesce((SELECT w.balance FROM watch_balance w
                     WHERE w.bank_code = p_bank AND w.uscc = p_uscc AND w.day <= p_day
                     ORDER BY w.day DESC LIMIT 1), 0)
           + coalesce((SELECT sum(d.delta) FROM watch_balance_delta d
                       WHERE d.bank_code = p_bank AND d.uscc = p_uscc AND d.day <= p_day),
                      0)::bigint;

-- Whether the regulator's alerts for county @p_county in window (@p_start, @p_as_of] read
-- the county's firms' candidates (withdrawal_alerts): when the county has fewer firms than
-- half the window's candidates (each firm costs two probes, each candidate one). Each an
-- index-only count, the firms' stopped at 1,000,000 (a county past it: the window's
-- candidates), the candidates' at twice the firms. Without bitmap scans (which read a
-- whole range before the limit: a generic plan chose one) or sequential ones.
CREATE OR REPLACE FUNCTION withdrawal_by_firm(p_start date, p_as_of date, p_county text,
                                              p_kind text) RETURNS boolean
LANGUAGE plpgsql STABLE SET enable_bitmapscan = off SET enable_seqscan = off AS $$
DECLARE
    c_firms_max CONSTANT bigint := 1000000;
    v_firms bigint := (SELECT count(*) FROM (SELECT FROM firms g
                                             WHERE g.county_code = p_county
                                             LIMIT c_firms_max) g);
BEGIN
    RETURN v_firms < c_firms_max
        AND (SELECT count(*) FROM (
                 SELECT FROM watch_payoffs p
                 WHERE p.paid_off_on > p_start AND p.paid_off_on <= p_as_of
                   AND p.maturity_date - p.paid_off_on >= 30
                   AND (p_kind IS NULL OR p_kind = 'recall')
                 LIMIT 2 * v_firms + 1) c)
          + (SELECT count(*) FROM (
                 SELECT FROM watch_balance w
                 WHERE w.cut_from > p_start AND w.cut_from <= p_as_of AND w.day <= p_as_of
                   AND p_kind IS DISTINCT FROM 'recall'
                 LIMIT 2 * v_firms + 1) c) > 2 * v_firms;
END $$;

-- The withdrawal alerts of window (@p_start, @p_as_of] (domain.md "Loan withdrawal
-- watch"), optionally for one bank, county or kind, at most @p_limit rows, from the
-- balance timeline (never a scan of loans), in one pass over the candidates. The flags
-- referred and scf_member count the referrals and programs of bank @p_flags_bank only (a
-- bank's own: another bank's are not its to see), every bank's when it is NULL (the
-- regulator):
--  * recalls: the loans paid off in the window at least 30 days before maturity
--    (watch_payoffs: live, never renewed), one row each; one index-only range of
--    watch_payoffs_recalls, or for one bank of watch_payoffs_bank_recalls (migration 033:
--    partial, the payoffs at maturity are not in them);
--  * cut and cutoff candidates: the pairs with pending changes, and the pairs with a fall
--    in the window whose cut_from is in the window too (watch_cut_from: without one, the
--    balance at A cannot be at most 70% of that at S); one index-only range of the
--    partial index watch_balance_cuts, or for one bank of watch_balance_bank_cuts, no
--    grouping of the window's falls. A pair with none of these cannot be a cut or cutoff,
--    so a recall's pair is judged as one only when it is such a candidate too.
-- Each candidate then takes, in one nested loop: the firm's size, county and name (its
-- registry record; one index-only probe of firms_watch, which drops large firms and other
-- counties first), and both balances from one forward index-only range of its timeline
-- rows in the window (balance(S) is the balance before the first, balance(A) that after
-- the last; with none there, both are the balance of its last row before the window: one
-- more probe), plus its pending changes (one pass over watch_balance_delta, grouped by
-- pair). The flags of each row answered are index probes of its firm's rows. A bank's
-- call reads none of another bank's rows but pending changes (audit, 4 December 2026:
-- its candidates and flags were read from every bank's; test_supervision_reads.py). The
-- regulator's for one county (migration 034) walks the county's firms instead when they
-- are fewer than half the window's candidates (both counted first, the candidates at most
-- to twice the firms), each firm probing its own candidates in watch_payoffs_firm_recalls
-- and watch_balance_firm_cuts: it reads no other county's candidates (until 4 December
-- every county's, 0.61 s for 90 days at 8 million loans). The regulator's for every
-- county reads every candidate of the window.
CREATE OR REPLACE FUNCTION withdrawal_alerts(p_start date, p_as_of date, p_bank text,
                                             p_county text, p_kind text, p_limit int,
                                             p_flags_bank text)
RETURNS TABLE (kind text, bank_code text, uscc text, name text, county_code text,
               outstanding_before bigint, outstanding_as_of bigint, day date, loan_ref text,
               referred boolean, whitelisted boolean, scf_member boolean)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_by_firm boolean := false; -- the candidates from the county's firms
BEGIN
    IF p_bank IS NULL AND p_county IS NOT NULL THEN
        v_by_firm := withdrawal_by_firm(p_start, p_as_of, p_county, p_kind);
    END IF;
    -- Every look-up by key is a fenced LATERAL probe, so the one plan made per session
    -- stays index probes whatever the table sizes were when it was made.
    RETURN QUERY
    WITH pend AS MATERIALIZED (
        SELECT d.bank_code, d.uscc,
               coalesce(sum(d.delta) FILTER (WHERE d.day <= p_start), 0) AS to_start,
               coalesce(sum(d.delta) FILTER (WHERE d.day <= p_as_of), 0) AS to_as_of
        FROM watch_balance_delta d
        WHERE p_bank IS NULL OR d.bank_code = p_bank
        GROUP BY d.bank_code, d.uscc),
    -- Every bank's candidates (the regulator's, p_bank NULL), one bank's, or those of one
    -- county's firms (v_by_firm), each from its own index (migrations 033, 034): the arms'
    -- tests of p_bank and v_by_firm alone are one-time filters of the one generic plan, so
    -- only the arm asked for runs; a bank's reads its own range of (bank_code, ...) and
    -- never another bank's rows, a county's its firms' ranges of (uscc, ...).
    county AS (
        SELECT g.uscc FROM firms g
        WHERE v_by_firm AND g.county_code = p_county
          AND g.size IN ('medium', 'small', 'micro')),
    cand AS (
        SELECT 'recall'::text AS kind, p.bank_code, p.uscc, p.loan_ref, p.paid_off_on AS day
        FROM watch_payoffs p
        WHERE p_bank IS NULL AND NOT v_by_firm
          AND p.paid_off_on > p_start AND p.paid_off_on <= p_as_of
          AND p.maturity_date - p.paid_off_on >= 30
          AND (p_kind IS NULL OR p_kind = 'recall')
        UNION ALL
        SELECT 'recall'::text AS kind, p.bank_code, p.uscc, p.loan_ref, p.paid_off_on AS day
        FROM county g
        CROSS JOIN LATERAL (SELECT p.bank_code, p.uscc, p.loan_ref, p.paid_off_on
                            FROM watch_payoffs p
                            WHERE p.uscc = g.uscc
                              AND p.paid_off_on > p_start AND p.paid_off_on <= p_as_of
                              AND p.maturity_date - p.paid_off_on >= 30
                            OFFSET 0) p
        WHERE p_kind IS NULL OR p_kind = 'recall'
        UNION ALL
        SELECT 'recall'::text AS kind, p.bank_code, p.uscc, p.loan_ref, p.paid_off_on AS day
        FROM watch_payoffs p
        WHERE p_bank IS NOT NULL AND p.bank_code = p_bank
          AND p.paid_off_on > p_start AND p.paid_off_on <= p_as_of
          AND p.maturity_date - p.paid_off_on >= 30
          AND (p_kind IS NULL OR p_kind = 'recall')
        UNION ALL
        SELECT NULL, x.bank_code, x.uscc, NULL, NULL
        FROM (SELECT w.bank_code, w.uscc FROM watch_balance w
              WHERE p_bank IS NULL AND NOT v_by_firm
                AND w.cut_from > p_start AND w.cut_from <= p_as_of AND w.day <= p_as_of
              UNION ALL
              SELECT w.bank_code, w.uscc FROM county g
              CROSS JOIN LATERAL (SELECT w.bank_code, w.uscc FROM watch_balance w
                                  WHERE w.uscc = g.uscc
                                    AND w.cut_from > p_start AND w.cut_from <= p_as_of
                                    AND w.day <= p_as_of
                                  OFFSET 0) w
              UNION ALL
              SELECT w.bank_code, w.uscc FROM watch_balance w
              WHERE p_bank IS NOT NULL AND w.bank_code = p_bank
                AND w.cut_from > p_start AND w.cut_from <= p_as_of AND w.day <= p_as_of
              UNION
              SELECT d.bank_code, d.uscc FROM pend d) x
        WHERE p_kind IS DISTINCT FROM 'recall'),
    bal AS (
        SELECT c.kind, c.bank_code, c.uscc, f.name, f.county_code, c.loan_ref, c.day,
               (coalesce(e.first_before, e.after) + coalesce(d.to_start, 0))::bigint AS before,
               (e.after + coalesce(d.to_as_of, 0))::bigint AS after
        FROM cand c
        -- The firm first, with the size and county tests: a candidate they drop costs no
        -- timeline read (the timeline's range names f.uscc, so it comes after).
        CROSS JOIN LATERAL (SELECT g.uscc, g.name, g.county_code, g.size FROM firms g
                            WHERE g.uscc = c.uscc AND g.size IN ('medium', 'small', 'micro')
                              AND (p_county IS NULL OR g.county_code = p_county)
                            OFFSET 0) f
        CROSS JOIN LATERAL (
            -- one forward range of the pair's rows in the window: balance(S) is the
            -- balance before the first, balance(A) that after the last (else the last
            -- row before the window's)
            SELECT coalesce(r.last_after,
                            (SELECT w.balance FROM watch_balance w
                             WHERE w.bank_code = c.bank_code AND w.uscc = f.uscc
                               AND w.day <= p_start
                             ORDER BY w.day DESC LIMIT 1), 0) AS after,
                   r.first_before
            FROM (SELECT (min(ARRAY[w.day - p_start, w.balance - w.delta]))[2] AS first_before,
                         (max(ARRAY[w.day - p_start, w.balance]))[2] AS last_after
                  FROM watch_balance w
                  WHERE w.bank_code = c.bank_code AND w.uscc = f.uscc
                    AND w.day > p_start AND w.day <= p_as_of) r
            OFFSET 0) e
        LEFT JOIN pend d ON d.bank_code = c.bank_code AND d.uscc = c.uscc),
    rows AS (
        SELECT b.*,
               CASE WHEN b.kind IS NOT NULL THEN b.kind
                    WHEN b.after > 0 AND b.after * 10 <= b.before * 7 THEN 'cut'
                    WHEN b.before > 0 AND b.after = 0
                         AND NOT EXISTS (SELECT 1 FROM loans l
                                         WHERE l.borrower_uscc = b.uscc
                                           AND l.issue_date > p_start
                                           AND l.issue_date <= p_as_of
                                           AND l.bank_code = b.bank_code
                                           AND l.status <> 'void') THEN 'cutoff'
               END AS alert
        FROM bal b)
    SELECT x.alert, x.bank_code, x.uscc, x.name, x.county_code, x.before, x.after,
           CASE x.alert
               WHEN 'recall' THEN x.day
               WHEN 'cut' THEN p_as_of
               -- the last day in the window on which the balance fell (it cannot fall
               -- after 0)
               ELSE (SELECT max(c.day) FROM (
                         SELECT e.day FROM (
                             SELECT w.day, w.delta FROM watch_balance w
                             WHERE w.bank_code = x.bank_code AND w.uscc = x.uscc
                               AND w.day > p_start AND w.day <= p_as_of
                             UNION ALL
                             SELECT d.day, d.delta FROM watch_balance_delta d
                             WHERE d.bank_code = x.bank_code AND d.uscc = x.uscc
                               AND d.day > p_start AND d.day <= p_as_of) e
                         GROUP BY e.day HAVING sum(e.delta) < 0) c)
           END,
           x.loan_ref,
           -- The flags of the rows answered (at most p_limit), each a probe of the firm's
           -- own rows (referrals_uscc, whitelist_entries_uscc, scf_programs_core,
           -- scf_members_uscc; each bounded per firm by its cap). OFFSET 0 keeps each a
           -- probe: until 4 December each was a hashed scan of the whole table, every
           -- bank's referrals, entries, programs and memberships on every request with a
           -- row (1,000,000 memberships: 0.2 s; audit).
           EXISTS (SELECT 1 FROM referrals r
                   WHERE r.uscc = x.uscc AND r.status <> 'declined' AND r.referred_on <= p_as_of
                     AND (p_flags_bank IS NULL OR r.bank_code = p_flags_bank) OFFSET 0),
           EXISTS (SELECT 1 FROM whitelist_entries e
                   WHERE e.uscc = x.uscc AND whitelist_status(e, p_as_of) = 'active' OFFSET 0),
           EXISTS (SELECT 1 FROM scf_programs g
                   WHERE g.core_uscc = x.uscc AND g.started_on <= p_as_of
                     AND (p_flags_bank IS NULL OR g.bank_code = p_flags_bank) OFFSET 0)
           OR EXISTS (SELECT 1 FROM scf_members m JOIN scf_programs g ON g.id = m.program_id
                      WHERE m.uscc = x.uscc AND m.joined_on <= p_as_of
                        AND (m.left_on IS NULL OR m.left_on > p_as_of)
                        AND (p_flags_bank IS NULL OR g.bank_code = p_flags_bank) OFFSET 0)
    FROM rows x
    WHERE x.alert IS NOT NULL AND (p_kind IS NULL OR x.alert = p_kind)
    ORDER BY x.bank_code, x.uscc, x.alert, x.loan_ref
    LIMIT p_limit;
END $$;

-- The call of builds before the flags were scoped (six arguments), kept while one of them
-- may still run (a rolling upgrade; remove once none does): the flags count the
-- referrals and programs of the bank asked for, every bank's when none is.
CREATE OR REPLACE FUNCTION withdrawal_alerts(p_start date, p_as_of date, p_bank text,
                                             p_county text, p_kind text, p_limit int)
RETURNS TABLE (kind text, bank_code text, uscc text, name text, county_code text,
               outstanding_before bigint, outstanding_as_of bigint, day date, loan_ref text,
               referred boolean, whitelisted boolean, scf_member boolean)
LANGUAGE sql STABLE AS $$
    SELECT * FROM withdrawal_alerts(p_start, p_as_of, p_bank, p_county, p_kind, p_limit, p_bank)
$$;
