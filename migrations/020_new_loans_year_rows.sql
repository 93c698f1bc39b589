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
-- commits, or a year row would miss what that fold adds to its months: it is dropped here,
-- and sql/stats.sql creates it again with the year grain in the same `finregd migrate`,
-- moments later. Between the two, a fold (an instance still running the old code, or this
-- one's compactor) fails and is retried, and a statistics read answers 503; nothing is
-- lost and nothing is folded without its year rows.

SELECT pg_advisory_xact_lock(7340012004);
LOCK TABLE stats_new_loans IN ACCESS EXCLUSIVE MODE;

DROP VIEW IF EXISTS stats_new_loans_all;
DROP FUNCTION IF EXISTS stats_new_loans_of(stats_loan[], int);

-- The table's only CHECK on grain, whatever its name.
DO $$
DECLARE
    v_name name;
BEGIN
    FOR v_name IN SELECT c.conname FROM pg_constraint c
                  WHERE c.conrelid = 'stats_new_loans'::regclass AND c.contype = 'c'
                    AND pg_get_constraintdef(c.oid) LIKE '%grain%' LOOP
        EXECUTE format('ALTER TABLE stats_new_loans DROP CONSTRAINT %I', v_name);
    END LOOP;
END $$;
ALTER TABLE stats_new_loans ADD CONSTRAINT stats_new_loans_grain_check
    CHECK (grain IN ('d', 'm', 'y'));

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
