-- The loan prime rate (LPR) table: one row per effective date, one-year and five-year
-- tenors in percent. Seeded with the history in docs/domain.md; the regulator adds rows.
CREATE TABLE lpr_rates (
    effective_from date PRIMARY KEY,
    one_year       numeric(7, 4) NOT NULL CHECK (one_year > 0 AND one_year < 100),
    five_year      numeric(7, 4) NOT NULL CHECK (five_year > 0 AND five_year < 100),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL DEFAULT 'seed'
);

INSERT INTO lpr_rates (effective_from, one_year, five_year) VALUES
    ('2019-08-20', 4.25, 4.85),
    ('2019-09-20', 4.20, 4.85),
    ('2019-11-20', 4.15, 4.80),
    ('2020-02-20', 4.05, 4.75),
    ('2020-04-20', 3.85, 4.65);
