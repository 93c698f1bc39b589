-- The new-loan summaries by bank (dimension 'b') gain year rows (grain 'y'), as the balance
-- summaries have had since migration 004, so a window by bank reads one row per bank for
-- each whole year it spans instead of twelve month rows (sql/stats.sql,
-- stats_new_loans_window). The answers that list every bank read them: the banks'
-- scorecard, which asks whether a bank has ever lent with a window from '-infinity' and
-- read every month since the registry's first loan, for every bank (it grew with each
-- year of history), the targets' ranking, new loans by bank and lending growth
-- (docs/scale.md; issues 11 and 15, bench/stats at 300 banks).
--
-- What this does to a registry: no fold runs meanwhile (the lock stats_compact() and
-- stats_rebuild() take); readers of the summaries wait for it (it holds stats_new_loans);
-- loan writes do not (they append to stats_pending, which stays as it is: readers and the
-- fold fan pending rows out at every grain). The year rows are the sums of the month rows,
-- so summaries plus pending stay equal to the loans. It reads the bank dimension's month
-- rows once: at most two per bank and month (15,120 for 300 banks over three years of
-- bench/stats' loans). Checking the new CHECK reads the whole summary: the migration held
-- it 1.1 s for 955,431 summary rows (403 MB; a scratch cluster of 300,000 loans and 300
-- banks, 2 December 2026), so about a second per million summary rows.
--
-- The fan-out (stats_new_loans_of) must write year rows from the first fold after this
-- commits, or a year row would miss what that fold adds to its months: this transaction
-- replaces it with the year grain (its text as sql/stats.sql had it on 2 December 2026;
-- sql/ owns the live text and re-applies it moments later, in the same `finregd
-- migrate`). Its signature and result type do not change, so nothing that calls it (the
-- fold of an instance still running the old code, readers, the view) fails meanwhile.
-- No way back: an older finregd's `migrate` would put back a fan-out without year rows
-- (020 stays applied) and a second stats_new_loans_window beside the new one; after
-- running older code against this schema, run a newer `finregd migrate` and then
-- `SELECT stats_rebuild()` (docs/operations.md).

-- The fold's lock, then the summary's (ALTER TABLE takes it ACCESS EXCLUSIVE). The CHECK
-- is the one migration 004 declared on the column, which PostgreSQL named so.
SELECT pg_advisory_xact_lock(7340012004);
ALTER TABLE stats_new_loans DROP CONSTRAINT stats_new_loans_grain_check,
    ADD CONSTRAINT stats_new_loans_grain_check CHECK (grain IN ('d', 'm', 'y'));

INSERT INTO stats_new_loans (dim, grain, bank_code, period, key, manufacturing, n, amount,
                             first_n, first_amount, credit_n, credit_amount, mlt_n,
                             mlt_amount, renewal_n, renewal_amount, sm_n, sm_amount,
                             sm_rate_x_amount, sm_spread_amount, sm_spread_x_amount,
                             scf_amount)
SELECT m.dim, 'y', m.bank_code, date_trunc('year', m.period)::date, m.key, m.manufacturing,
       sum(m.n), sum(m.amount), sum(m.first_n), sum(m.first_amount), sum(m.credit_n),
       sum(m.credit_amount), sum(m.mlt_n), sum(m.mlt_amount), sum(m.renewal_n),
       sum(m.renewal_amount), sum(m.sm_n), sum(m.sm_amount), sum(m.sm_rate_x_amount),
       sum(m.sm_spread_amount), sum(m.sm_spread_x_amount), sum(m.scf_amount)
FROM stats_new_loans m
WHERE m.dim = 'b' AND m.grain = 'm'
GROUP BY m.dim, m.bank_code, date_trunc('year', m.period)::date, m.key, m.manufacturing;

CREATE OR REPLACE FUNCTION stats_new_loans_of(p_rows stats_loan[], p_sign int)
RETURNS SETOF stats_new_loans
LANGUAGE sql IMMUTABLE AS $$
    WITH base AS (
        SELECT r.issue_date, r.bank_code, r.county_code, left(r.industry_code, 2) AS division,
               r.size, r.manufacturing, count(*) AS n, sum(r.amount_fen) AS amount,
               count(*) FILTER (WHERE r.first_loan) AS first_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.first_loan), 0) AS first_amount,
               count(*) FILTER (WHERE r.guarantee_mode = 'credit') AS credit_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.guarantee_mode = 'credit'), 0)
                   AS credit_amount,
               count(*) FILTER (WHERE r.medium_long_term) AS mlt_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.medium_long_term), 0) AS mlt_amount,
               count(*) FILTER (WHERE r.renewal) AS renewal_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.renewal), 0) AS renewal_amount,
               count(*) FILTER (WHERE r.inclusive_small_micro) AS sm_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.inclusive_small_micro), 0) AS sm_amount,
               coalesce(sum(r.rate_e4::numeric * r.amount_fen)
                            FILTER (WHERE r.inclusive_small_micro), 0) AS sm_rate_x_amount,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.inclusive_small_micro
                                                   AND r.spread_bp IS NOT NULL), 0)
                   AS sm_spread_amount,
               coalesce(sum(r.spread_bp::numeric * r.amount_fen)
                            FILTER (WHERE r.inclusive_small_micro), 0) AS sm_spread_x_amount,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.scf), 0) AS scf_amount
        FROM unnest(p_rows) r
        WHERE r.status <> 'void'
        GROUP BY 1, 2, 3, 4, 5, 6)
    SELECT d.dim::char(1), g.grain::char(1), d.bank, g.period, d.key, b.manufacturing,
           (p_sign * sum(b.n))::bigint, (p_sign * sum(b.amount))::bigint,
           (p_sign * sum(b.first_n))::bigint, (p_sign * sum(b.first_amount))::bigint,
           (p_sign * sum(b.credit_n))::bigint, (p_sign * sum(b.credit_amount))::bigint,
           (p_sign * sum(b.mlt_n))::bigint, (p_sign * sum(b.mlt_amount))::bigint,
           (p_sign * sum(b.renewal_n))::bigint, (p_sign * sum(b.renewal_amount))::bigint,
           (p_sign * sum(b.sm_n))::bigint, (p_sign * sum(b.sm_amount))::bigint,
           p_sign * sum(b.sm_rate_x_amount), (p_sign * sum(b.sm_spread_amount))::bigint,
           p_sign * sum(b.sm_spread_x_amount), (p_sign * sum(b.scf_amount))::bigint
    FROM base b
    CROSS JOIN LATERAL (VALUES ('b', '*', b.bank_code),
                               ('c', '*', b.county_code), ('c', b.bank_code, b.county_code),
                               ('i', '*', b.division), ('i', b.bank_code, b.division),
                               ('s', '*', b.size), ('s', b.bank_code, b.size)) AS d(dim, bank, key)
    CROSS JOIN LATERAL (VALUES ('d', b.issue_date),
                               ('m', date_trunc('month', b.issue_date)::date),
                               ('y', date_trunc('year', b.issue_date)::date)) AS g(grain, period)
    WHERE g.grain <> 'y' OR d.dim = 'b'
    GROUP BY d.dim, g.grain, d.bank, g.period, d.key, b.manufacturing
$$;
