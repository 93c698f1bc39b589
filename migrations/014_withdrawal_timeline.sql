-- Withdrawal watch at any registry size (issue 13 item 3): a balance timeline per bank and
-- firm, so an alert query reads the window's falls, not the loans. The functions and
-- triggers that keep it live in sql/supervision.sql; this migration builds it once for
-- the registry as it stands (watch_rebuild, created here as it must exist while this
-- runs; sql/supervision.sql owns the live text).
--   watch_balance: one row per bank, firm and day on which the bank's balance to the firm
--     changed (domain.md "Loan withdrawal watch": non-void loans, amount minus repayments
--     dated on or before the day, 0 before issue and from the renewal on): the day's net
--     change and the balance at the end of the day. A balance on a day is the row of the
--     latest day on or before it, plus pending deltas.
--   watch_balance_delta: changes appended by the write path's triggers (no row locks, no
--     hot rows), folded into watch_balance by the statistics compactor every second.
--   watch_payoffs: live loans never renewed whose repayments add up to their amount, with
--     the day of the last one (recall candidates by date).

CREATE TYPE watch_loan AS (
    id bigint, bank_code text, uscc text, issue_date date, amount_fen bigint,
    renewed_on date, void boolean);

CREATE TABLE watch_balance (
    bank_code text NOT NULL,
    uscc      text NOT NULL,
    day       date NOT NULL,
    delta     bigint NOT NULL,
    balance   bigint NOT NULL,
    -- the change and balance carried in the key: a pair's rows in a window are one
    -- index-only range
    PRIMARY KEY (bank_code, uscc, day) INCLUDE (delta, balance)
);
-- The days a balance fell, by date: the window's candidates in one index-only range.
CREATE INDEX watch_balance_falls ON watch_balance (day) INCLUDE (bank_code, uscc, delta, balance)
    WHERE delta < 0;

CREATE TABLE watch_balance_delta (
    bank_code text NOT NULL,
    uscc      text NOT NULL,
    day       date NOT NULL,
    delta     bigint NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
-- No index: the write path appends without one; readers and the fold read it whole (the
-- compactor keeps it short).

CREATE TABLE watch_payoffs (
    loan_id       bigint PRIMARY KEY REFERENCES loans (id),
    paid_off_on   date NOT NULL,
    bank_code     text NOT NULL,
    uscc          text NOT NULL,
    loan_ref      text NOT NULL,
    maturity_date date NOT NULL
);
-- A window's payoffs in one index-only range, without a probe of the (wide) loans.
CREATE INDEX watch_payoffs_day ON watch_payoffs (paid_off_on)
    INCLUDE (bank_code, uscc, loan_ref, maturity_date);

-- A firm's size, county and name for each candidate pair in one index-only probe.
CREATE INDEX firms_watch ON firms (uscc) INCLUDE (size, county_code, name);

-- The indexes the watch read before (migration 011) serve nothing now: the write path
-- stops paying for them.
DROP INDEX repayments_repaid_on, loans_renewed_on;

-- Built once here for the registry as it stands (the same text as sql/supervision.sql).
CREATE OR REPLACE FUNCTION watch_loan_of(l loans) RETURNS watch_loan
    LANGUAGE sql IMMUTABLE
    RETURN ROW(l.id, l.bank_code, l.borrower_uscc, l.issue_date, l.amount_fen, l.renewed_on,
               l.status = 'void')::watch_loan;

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
    CROSS JOIN LATERAL (VALUES (l.issue_date, l.amount_fen),
                               (l.renewed_on, -l.amount_fen)) AS x(day, delta)
    WHERE NOT l.void AND (l.renewed_on IS NULL OR l.renewed_on > l.issue_date)
      AND x.day IS NOT NULL
    GROUP BY l.bank_code, l.uscc, x.day
    HAVING sum(x.delta) <> 0;
    IF p_with_repayments THEN
        PERFORM watch_repayments_add(p_loans, NULL, p_sign);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION watch_repayments_add(p_loans watch_loan[], p_ids bigint[],
                                                p_sign int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO watch_balance_delta (bank_code, uscc, day, delta)
    SELECT l.bank_code, l.uscc, x.day, p_sign * sum(x.delta)
    FROM unnest(p_loans) l
    JOIN repayments r ON r.loan_id = l.id
    CROSS JOIN LATERAL (VALUES (greatest(r.repaid_on, l.issue_date), -r.amount_fen),
                               (l.renewed_on, r.amount_fen)) AS x(day, delta)
    WHERE (p_ids IS NULL OR r.id = ANY (p_ids)) AND NOT l.void
      AND (l.renewed_on IS NULL OR (l.renewed_on > l.issue_date AND r.repaid_on < l.renewed_on))
      AND x.day IS NOT NULL
    GROUP BY l.bank_code, l.uscc, x.day
    HAVING sum(x.delta) <> 0;
END $$;

CREATE OR REPLACE FUNCTION watch_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_from bigint := 0;
    v_last bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7340012004);
    TRUNCATE watch_balance, watch_balance_delta, watch_payoffs;
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
    TRUNCATE watch_balance_delta;
    INSERT INTO watch_payoffs (loan_id, paid_off_on, bank_code, uscc, loan_ref, maturity_date)
    SELECT l.id, max(r.repaid_on), l.bank_code, l.borrower_uscc, l.loan_ref, l.maturity_date
    FROM repayments r JOIN loans l ON l.id = r.loan_id
    WHERE l.status <> 'void' AND l.renewed_on IS NULL
    GROUP BY l.id HAVING sum(r.amount_fen) = l.amount_fen;
END $$;

SELECT watch_rebuild();
