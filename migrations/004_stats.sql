-- Statistics summaries, kept in the same transaction as every loan and repayment write by
-- statement-level triggers, so the regulator's queries read a number of rows that grows
-- with the calendar and the number of groups, never with the number of loans.
--   stats_new_loans: new (non-void) loans by issue day and by issue month, along four
--     dimensions (bank, county, industry division, size), split by manufacturing; the
--     county, division and size rows exist for all banks (bank_code '*') and per bank.
--   stats_balance:   changes of outstanding balance by day, month and year, per bank and
--     manufacturing; a balance on a date is the sum of at most ~70 rows per group.
--   stats_pricing:   new inclusive small-micro loans by issue month with rate x amount.
-- Writers never update a summary row: the triggers append their changes to the _delta
-- tables (no index, no row locks, no hot-row bloat), and stats_compact() — run every
-- second by a finregd background thread, one instance at a time — folds the deltas into
-- the summaries in one transaction. Readers add the summary and the pending deltas, so an
-- answer is exact whether or not compaction has run. The functions, triggers and views
-- that this migration created live in sql/stats.sql now.

-- Policy targets by year (measures table of docs/domain.md).
CREATE TABLE targets (
    year       int NOT NULL,
    metric     text NOT NULL CHECK (metric IN ('manufacturing_loan_increase', 'lending_increase',
                                               'guarantee_leverage', 'small_micro_rate_change_pp',
                                               'relief_referrals')),
    target     numeric NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL DEFAULT 'seed',
    PRIMARY KEY (year, metric)
);
INSERT INTO targets (year, metric, target) VALUES
    (2020, 'manufacturing_loan_increase', 5000000000.00),
    (2020, 'lending_increase', 3000000000.00),
    (2020, 'guarantee_leverage', 1.5),
    (2020, 'small_micro_rate_change_pp', -0.5),
    (2020, 'relief_referrals', 500);

CREATE TABLE stats_new_loans (
    dim            char(1) NOT NULL CHECK (dim IN ('b', 'c', 'i', 's')),
    grain          char(1) NOT NULL CHECK (grain IN ('d', 'm')),
    bank_code      text NOT NULL,
    period         date NOT NULL,
    key            text NOT NULL,
    manufacturing  boolean NOT NULL,
    n              bigint NOT NULL DEFAULT 0,
    amount         bigint NOT NULL DEFAULT 0,
    first_n        bigint NOT NULL DEFAULT 0,
    first_amount   bigint NOT NULL DEFAULT 0,
    credit_n       bigint NOT NULL DEFAULT 0,
    credit_amount  bigint NOT NULL DEFAULT 0,
    mlt_n          bigint NOT NULL DEFAULT 0,
    mlt_amount     bigint NOT NULL DEFAULT 0,
    renewal_n      bigint NOT NULL DEFAULT 0,
    renewal_amount bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, grain, bank_code, period, key, manufacturing)
);

CREATE TABLE stats_balance (
    grain         char(1) NOT NULL CHECK (grain IN ('d', 'm', 'y')),
    period        date NOT NULL,
    bank_code     text NOT NULL,
    manufacturing boolean NOT NULL,
    delta         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, bank_code, manufacturing)
);

CREATE TABLE stats_pricing (
    bank_code       text NOT NULL,
    period          date NOT NULL,
    n               bigint NOT NULL DEFAULT 0,
    amount          bigint NOT NULL DEFAULT 0,
    rate_x_amount   numeric NOT NULL DEFAULT 0,
    spread_amount   bigint NOT NULL DEFAULT 0,
    spread_x_amount numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (bank_code, period)
);

-- Delta tables are emptied every second: index them like the summaries so readers skip
-- dead space, and let autovacuum visit them after every thousand changes.
CREATE TABLE stats_new_loans_delta (LIKE stats_new_loans)
    WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
CREATE INDEX stats_new_loans_delta_key ON stats_new_loans_delta (dim, grain, bank_code, period);
CREATE TABLE stats_balance_delta (LIKE stats_balance)
    WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
CREATE INDEX stats_balance_delta_key ON stats_balance_delta (grain, period);
CREATE TABLE stats_pricing_delta (LIKE stats_pricing)
    WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
CREATE INDEX stats_pricing_delta_key ON stats_pricing_delta (bank_code, period);

-- The columns of a loan that its contributions to the summaries depend on.
CREATE TYPE stats_loan AS (
    id bigint, issue_date date, bank_code text, county_code text, industry_code text,
    size text, manufacturing boolean, amount_fen bigint, first_loan boolean,
    guarantee_mode text, medium_long_term boolean, renewal boolean, rate_e4 int,
    spread_bp int, inclusive_small_micro boolean, repaid_fen bigint, renewed_on date,
    status text);

-- A balance change: on @day, bank @bank_code's (manufacturing) balance moves by @delta.
CREATE TYPE stats_event AS (day date, bank_code text, manufacturing boolean, delta bigint);
