-- The withdrawal watch's candidates by firm (sql/supervision.sql withdrawal_alerts). The
-- regulator's alerts for one county read every candidate of the window, every county's,
-- and tested the county on each candidate's firm: a 90-day window of one county 0.61 s at
-- 8 million loans, a 10-year one 3.3 s (audit, 4 December 2026; docs/limits.md): linear
-- in the registry, past the statement timeout at a province's size. Now, when the county
-- has fewer firms than half the window's candidates (withdrawal_by_firm), its firms are
-- walked and each probes its own candidates in these indexes, led by the firm:
--   watch_payoffs_firm_recalls: the payoffs that can be recalls (at least 30 days before
--     maturity), by firm and day (a payoff at maturity writes no entry here);
--   watch_balance_firm_cuts: the falls with a cut_from, by firm and cut_from (one more
--     entry for each such row version the fold writes; a new loan's rise has none).
-- Locks, each held to the commit: the timeline's build first (SHARE on watch_balance: the
-- fold waits, waiting first for a fold under way), then the payoffs' (SHARE on
-- watch_payoffs: a repayment or a loan correction waits). Alert reads go on throughout.
CREATE INDEX watch_balance_firm_cuts ON watch_balance (uscc, cut_from) INCLUDE (day, bank_code)
    WHERE cut_from IS NOT NULL;
CREATE INDEX watch_payoffs_firm_recalls ON watch_payoffs (uscc, paid_off_on)
    INCLUDE (bank_code, loan_ref) WHERE maturity_date - paid_off_on >= 30;
