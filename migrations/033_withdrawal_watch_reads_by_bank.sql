-- The withdrawal watch's candidates by bank (sql/supervision.sql withdrawal_alerts). A
-- bank's alerts (bank=self) read its candidates from indexes led by the date, every bank's
-- payoffs and falls in the window with the bank tested on each: on a scratch registry of 8
-- million loans a bank's 10-year window read 643,711 payoffs and 643,518 falls for its own
-- 2,140 and 23,850 (0.46 s; 0.11 s at 2 million: linear in the registry; audit, 4 December
-- 2026). Now a bank reads its own from indexes led by the bank.
--   watch_payoffs_recalls, watch_payoffs_bank_recalls: the payoffs that can be recalls
--     (at least 30 days before maturity), by day and by bank and day. Replace
--     watch_payoffs_day, which held every payoff (most loans are repaid at maturity and
--     are never recalls: 643,711 payoffs for 69,646 recalls there), so a payoff at
--     maturity now writes its primary key alone, an early one two partial entries.
--   watch_balance_bank_cuts: the falls with a cut_from by bank and cut_from, beside
--     watch_balance_cuts (the regulator's); one more entry for each such row version the
--     fold writes (its updates are not HOT already: cut_from and balance are indexed).
-- Locks, on a registry that has them (each held to the commit): the timeline's build
-- first (SHARE on watch_balance: the fold waits, waiting first for a fold under way; 6.0 s
-- at 6 million rows, scratch cluster), then the payoffs' (SHARE on watch_payoffs: a
-- repayment or a loan correction waits, 1.5 s at 2.7 million payoffs), and the DROP
-- INDEX last, whose exclusive lock on watch_payoffs holds up the withdrawal alerts only
-- from there to the commit. With the DROP before the timeline's build, every alert read
-- and every repayment waited through that build too, past the statement timeout
-- (test_supervision_reads).
CREATE INDEX watch_balance_bank_cuts ON watch_balance (bank_code, cut_from) INCLUDE (day, uscc)
    WHERE cut_from IS NOT NULL;
CREATE INDEX watch_payoffs_recalls ON watch_payoffs (paid_off_on)
    INCLUDE (bank_code, uscc, loan_ref) WHERE maturity_date - paid_off_on >= 30;
CREATE INDEX watch_payoffs_bank_recalls ON watch_payoffs (bank_code, paid_off_on)
    INCLUDE (uscc, loan_ref) WHERE maturity_date - paid_off_on >= 30;
DROP INDEX watch_payoffs_day;
