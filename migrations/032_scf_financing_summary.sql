-- Supply-chain financing kept as a summary instead of summed from the loans on each read.
-- GET /v1/scf/programs/{id} summed every loan of the program (0.86 s at 950,000 loans, a
-- 503 past the statement timeout at some 5 million), and GET /v1/stats/scf-rewards every
-- supply-chain loan of the year, of every bank (audit, 3 December 2026). Now they read
-- one summary row per borrower, program and issue year (sql/scf.sql, "Financing
-- summary"): a program's answer grows with its members (at most 10,000 periods), the
-- rewards with the pairs of program and borrower financed in the year.
--   scf_financing: per program, borrower and issue year (1 January of it) of the program's
--     loans that are not void: how many, their amounts, and what is outstanding on them
--     now (an active loan's amount less its repayments; nothing for a repaid or renewed
--     one). Written by the fold only. A row whose loans were all voided stays, with zeros.
--   scf_financing_pending: changes not folded yet, appended by the row triggers on loans
--     (only loans under a program: the WHEN of the trigger keeps every other loan's write
--     free of them); no index (the fold takes every row, every second; a reader adds its
--     program's or its year's).
-- The summary is built by finregd migrate after the sql/ files (summary_rebuilds, as 031):
-- until then the two reads answer 503. The rebuild reads the loans under a program once
-- (their partial index loans_scf_program) and holds loan writes meanwhile.
CREATE TABLE scf_financing (
    program_id    bigint NOT NULL,   -- scf_programs (id)
    year          date NOT NULL,     -- 1 January of the loans' issue year
    borrower_uscc text NOT NULL,
    loans         bigint NOT NULL,
    amount        numeric NOT NULL,
    outstanding   numeric NOT NULL,
    PRIMARY KEY (program_id, borrower_uscc, year)
);
CREATE INDEX scf_financing_year ON scf_financing (year, program_id);

CREATE TABLE scf_financing_pending (
    program_id    bigint NOT NULL,
    year          date NOT NULL,
    borrower_uscc text NOT NULL,
    loans         int NOT NULL,
    amount        numeric NOT NULL,
    outstanding   numeric NOT NULL
);

INSERT INTO summary_rebuilds VALUES ('scf_financing');
