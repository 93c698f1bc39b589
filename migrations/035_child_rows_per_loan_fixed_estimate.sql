-- How many rows a loan has in repayments and guarantees, as the planner estimates it, no
-- longer depends on when they were last analyzed. ANALYZE stores the number of distinct
-- loan_id as an absolute count when its sample holds no loan with a single row (an early
-- registry whose loans were each repaid in instalments: 50 repayments of 5 loans store 5),
-- and that count stays until the next analyze however the table grows. At 1.5 million
-- repayments every look-up of a loan's repayments was then planned as 300,000 rows: a
-- sequential scan (loan_repaid_on_or_after, watch_repayments_add), 402 of them and 603
-- million rows read for a 1000-loan batch holding 100 renewals, some 3 minutes (audit, 4
-- December 2026). A fixed ratio instead, -0.5 (two rows a loan: instalments, or a loan's
-- few guarantees), which scales with the table and which every ANALYZE keeps.
-- Locks: SHARE UPDATE EXCLUSIVE on each table, held to the commit (autovacuum and other
-- ANALYZEs wait; reads and writes go on); the ANALYZEs read a sample (30,000 rows).
ALTER TABLE repayments ALTER COLUMN loan_id SET (n_distinct = -0.5);
ALTER TABLE guarantees ALTER COLUMN loan_id SET (n_distinct = -0.5);
ANALYZE repayments;
ANALYZE guarantees;
