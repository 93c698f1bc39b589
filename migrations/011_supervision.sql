-- Supervision (issue 13): firm search, the banks' scorecard weights and the indexes the
-- loan-withdrawal watch reads. Functions and views live in sql/firms.sql and
-- sql/supervision.sql.

-- Firm search: a name fragment (Chinese names included) through a trigram index, and a
-- stable id for keyset pages (firms are keyed by USCC, which pages poorly with filters).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER TABLE firms ADD COLUMN id bigserial;
CREATE UNIQUE INDEX firms_id ON firms (id);
CREATE INDEX firms_name_trgm ON firms USING gin (name gin_trgm_ops);
CREATE INDEX firms_county ON firms (county_code, id);
CREATE INDEX firms_industry ON firms (industry_code, id);

-- Scorecard weights per year and indicator (domain.md "Bank scorecard"); a year without
-- rows weighs every indicator 1.
CREATE TABLE scorecard_weights (
    year       int NOT NULL CHECK (year BETWEEN 1990 AND 2999),
    indicator  text NOT NULL CHECK (indicator IN (
                   'manufacturing_increase', 'first_loan_share', 'credit_share',
                   'medium_long_share', 'renewal_share', 'small_micro_rate_change_pp',
                   'relief_funded_share', 'scf_financing')),
    weight     numeric NOT NULL CHECK (weight >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    PRIMARY KEY (year, indicator)
);

-- Withdrawal watch: the balance of a bank to a firm falls only through repayments and
-- renewals, so the pairs a window can alert on are found from these two date ranges
-- (never a scan of all loans); balances of those pairs come from loans_borrower and the
-- repayments' loan index.
CREATE INDEX repayments_repaid_on ON repayments (repaid_on) INCLUDE (loan_id);
CREATE INDEX loans_renewed_on ON loans (renewed_on) WHERE renewed_on IS NOT NULL;
-- Flags of an alert: is the firm a member of a supply-chain program?
CREATE INDEX scf_members_uscc ON scf_members (uscc);
