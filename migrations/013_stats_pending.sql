-- One pending row per loan change instead of nineteen deltas (issue 11). The write path's
-- statement triggers (sql/stats.sql) used to fan every loan out into the rows of the
-- summaries it touches (fourteen new-loan rows, three balance rows, two pricing rows) and
-- append them, with an index entry each, to three delta tables. Now they append the loan's
-- statistics fields once, with a sign (+1 adds its contribution, -1 takes it away), and a
-- repayment appends its one balance change; stats_compact() fans them out and folds them
-- into the summaries every second, and readers add what is still pending, so answers stay
-- exact whether or not the fold ran.
--   stats_pending: a loan's contribution (loan with sign) or one balance change (event).
--     No index (readers and the fold take every row; the fold empties it every second),
--     no row locks, no hot rows. Its columns are of the composite types stats_loan and
--     stats_event (migration 004): to change those types, fold first and recreate this
--     table (it holds only what the fold has not taken yet).
-- The delta tables are folded into the summaries here and dropped.

-- No compaction meanwhile (the lock stats_compact() and stats_rebuild() take).
SELECT pg_advisory_xact_lock(7340012004);

WITH d AS (DELETE FROM stats_new_loans_delta RETURNING *)
INSERT INTO stats_new_loans AS s
SELECT dim, grain, bank_code, period, key, manufacturing, sum(n), sum(amount),
       sum(first_n), sum(first_amount), sum(credit_n), sum(credit_amount), sum(mlt_n),
       sum(mlt_amount), sum(renewal_n), sum(renewal_amount)
FROM d GROUP BY dim, grain, bank_code, period, key, manufacturing
ON CONFLICT (dim, grain, bank_code, period, key, manufacturing) DO UPDATE SET
    n = s.n + EXCLUDED.n, amount = s.amount + EXCLUDED.amount,
    first_n = s.first_n + EXCLUDED.first_n, first_amount = s.first_amount + EXCLUDED.first_amount,
    credit_n = s.credit_n + EXCLUDED.credit_n,
    credit_amount = s.credit_amount + EXCLUDED.credit_amount,
    mlt_n = s.mlt_n + EXCLUDED.mlt_n, mlt_amount = s.mlt_amount + EXCLUDED.mlt_amount,
    renewal_n = s.renewal_n + EXCLUDED.renewal_n,
    renewal_amount = s.renewal_amount + EXCLUDED.renewal_amount;

WITH d AS (DELETE FROM stats_balance_delta RETURNING *)
INSERT INTO stats_balance AS s
SELECT grain, period, bank_code, manufacturing, sum(delta)
FROM d GROUP BY grain, period, bank_code, manufacturing
ON CONFLICT (grain, period, bank_code, manufacturing) DO UPDATE SET delta = s.delta + EXCLUDED.delta;

WITH d AS (DELETE FROM stats_pricing_delta RETURNING *)
INSERT INTO stats_pricing AS s
SELECT bank_code, period, sum(n), sum(amount), sum(rate_x_amount), sum(spread_amount),
       sum(spread_x_amount)
FROM d GROUP BY bank_code, period
ON CONFLICT (bank_code, period) DO UPDATE SET
    n = s.n + EXCLUDED.n, amount = s.amount + EXCLUDED.amount,
    rate_x_amount = s.rate_x_amount + EXCLUDED.rate_x_amount,
    spread_amount = s.spread_amount + EXCLUDED.spread_amount,
    spread_x_amount = s.spread_x_amount + EXCLUDED.spread_x_amount;

-- The readers' views (sql/stats.sql creates them again over the pending rows).
DROP VIEW IF EXISTS stats_new_loans_all, stats_balance_all, stats_pricing_all;
DROP TABLE stats_new_loans_delta, stats_balance_delta, stats_pricing_delta;

CREATE TABLE stats_pending (
    sign  smallint CHECK (sign IN (-1, 1)),
    loan  stats_loan,
    event stats_event,
    CHECK (num_nonnulls(loan, event) = 1 AND num_nonnulls(loan, sign) IN (0, 2))
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
