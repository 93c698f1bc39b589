-- Guarantees outstanding per guarantor and day, kept as a summary instead of summed from
-- every guarantee on each read. GET /v1/stats/guarantee-leverage and the guarantee_leverage
-- target read every guarantee and its loan each time: 3.9 s at 2 million guarantees, 503
-- (statement timeout) at 3 million (audit, 3 December 2026). Now they read at most some
-- ninety summary rows per guarantor (sql/guarantees.sql, "Guarantees outstanding").
--   guarantee_outstanding: the changes of what a guarantor has outstanding, by day, month
--     and year of the change (a guarantee adds its amount on its start date and takes it
--     away on the day after its end, or on its release date if earlier), as stats_balance
--     keeps lending balances: what is outstanding on a day is the sum of at most ~90 rows
--     a guarantor. Written by the fold only.
--   guarantee_outstanding_pending: changes not folded yet, appended by the triggers on
--     guarantees and loans; no index (the fold takes every row, every second; readers add
--     them all).
--   guarantee_capped_loans: loans whose guarantees add up, on some day, to more than the
--     loan's amount. Only guarantees stored before rule L050 (3 December 2026) can do that,
--     and there a guarantor's guarantees on the loan count up to its amount only, which a
--     sum of changes cannot say: these loans' guarantees stay out of the summary and are
--     read one by one. A loan is never taken out of this set.
-- summary_rebuilds names the summaries finregd migrate rebuilds after the sql/ files have
-- committed (sql/common.sql summary_rebuilds_run, in a transaction of its own: the
-- triggers exist by then, and each rebuild locks out the writes that feed its summary
-- before it reads, so no change falls between the two); readers of a summary named there
-- answer 503 until it is rebuilt. The rebuild of guarantee_outstanding reads every
-- guarantee once (docs/whitelist-guarantees.md).
CREATE TABLE guarantee_outstanding (
    grain          char(1) NOT NULL CHECK (grain IN ('d', 'm', 'y')),
    period         date NOT NULL,
    guarantor_code text NOT NULL,
    delta          numeric NOT NULL,
    PRIMARY KEY (grain, period, guarantor_code)
);
CREATE INDEX guarantee_outstanding_guarantor
    ON guarantee_outstanding (guarantor_code, grain, period);

CREATE TABLE guarantee_outstanding_pending (
    guarantor_code text NOT NULL,
    day            date NOT NULL,
    delta          numeric NOT NULL
);

CREATE TABLE guarantee_capped_loans (
    loan_id bigint PRIMARY KEY   -- loans (id); loans are never deleted
);

CREATE TABLE summary_rebuilds (
    summary text PRIMARY KEY
);
INSERT INTO summary_rebuilds VALUES ('guarantee_outstanding');
