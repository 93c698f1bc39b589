-- Sums of amounts in the statistics summaries and the withdrawal timeline become numeric.
-- One loan's amount fits 64 bits (at most 9,999,999,999,999.99 yuan), but 9,224 such loans
-- of one bank on one day, or to one firm, add up to more than a bigint of fen holds. The fold
-- then failed on every run ("bigint out of range"), for every bank's pending rows, from then
-- on: one bank's absurd reports stopped everyone's statistics. As numeric the fold goes on;
-- an answer that would show such a sum says so (500, docs/statistics.md), and the others
-- stay exact. Counts stay bigint (9.2e18 loans). The two views over these tables are
-- rebuilt by sql/stats.sql.
-- Lock: the three tables are rewritten under ACCESS EXCLUSIVE, held to the commit: the
-- statistics and withdrawal readers and the compactor wait for it; ingest does not (it
-- writes only stats_pending and watch_balance_delta, 024). docs/statistics.md gives the time.
DROP VIEW IF EXISTS stats_new_loans_all, stats_balance_all;
ALTER TABLE stats_new_loans
    ALTER amount TYPE numeric, ALTER first_amount TYPE numeric,
    ALTER credit_amount TYPE numeric, ALTER mlt_amount TYPE numeric,
    ALTER renewal_amount TYPE numeric, ALTER sm_amount TYPE numeric,
    ALTER sm_spread_amount TYPE numeric, ALTER scf_amount TYPE numeric;
ALTER TABLE stats_balance ALTER delta TYPE numeric;
ALTER TABLE watch_balance ALTER delta TYPE numeric, ALTER balance TYPE numeric;
