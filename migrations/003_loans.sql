-- The loan registry: policy parameters, firms (with their change history), loans and
-- their versions, repayments, warnings, and batch idempotency keys. Money is bigint fen,
-- rates integer 1/10000 percent. The functions and the view loans_readable (yuan and
-- percent) that this migration created live in sql/loans.sql, sql/firms.sql and
-- sql/common.sql now (re-applied by every `finregd migrate`).

CREATE TABLE policy_params (
    name        text PRIMARY KEY,
    value       bigint NOT NULL,
    unit        text NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO policy_params (name, value, unit, description) VALUES
    ('inclusive_credit_line_max', 1000000000, 'fen',
     'largest total credit line of an inclusive small-micro loan (10,000,000.00 yuan, inclusive)'),
    ('relief_amount_max', 1000000000, 'fen',
     'largest relief-fund loan (10,000,000.00 yuan)'),
    ('relief_term_months_max', 12, 'months', 'longest relief-fund loan term');

CREATE TABLE firms (
    uscc          text PRIMARY KEY CHECK (uscc ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'),
    name          text NOT NULL,
    county_code   text NOT NULL CHECK (county_code ~ '^[1-9][0-9]{5}$'),
    industry_code text NOT NULL CHECK (industry_code ~ '^[0-9]{4}$'),
    size          text NOT NULL CHECK (size IN ('large', 'medium', 'small', 'micro')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL
);

-- Every version of a firm's reference data, with who reported it and when.
CREATE TABLE firm_history (
    id            bigserial PRIMARY KEY,
    uscc          text NOT NULL REFERENCES firms (uscc),
    name          text NOT NULL,
    county_code   text NOT NULL,
    industry_code text NOT NULL,
    size          text NOT NULL,
    changed_at    timestamptz NOT NULL DEFAULT now(),
    changed_by    text NOT NULL,
    source        text NOT NULL
);
CREATE INDEX firm_history_uscc ON firm_history (uscc, id);

CREATE TABLE loans (
    id                    bigserial PRIMARY KEY,
    bank_code             text NOT NULL,
    loan_ref              text NOT NULL,
    borrower_uscc         text NOT NULL REFERENCES firms (uscc),
    borrower_name         text NOT NULL,
    county_code           text NOT NULL,
    industry_code         text NOT NULL,
    size                  text NOT NULL,
    amount_fen            bigint NOT NULL CHECK (amount_fen > 0),
    issue_date            date NOT NULL,
    maturity_date         date NOT NULL CHECK (maturity_date > issue_date),
    rate_e4               integer NOT NULL CHECK (rate_e4 > 0),
    guarantee_mode        text NOT NULL
                          CHECK (guarantee_mode IN ('credit', 'guaranteed', 'collateral', 'pledge')),
    guarantor_code        text,
    first_loan            boolean NOT NULL,
    renewal               boolean NOT NULL,
    renews_loan_ref       text,
    renews_loan_id        bigint REFERENCES loans (id),
    scf_program_id        bigint,
    relief_fund           boolean NOT NULL,
    credit_line_fen       bigint NOT NULL,
    term_months           integer NOT NULL,
    medium_long_term      boolean NOT NULL,
    manufacturing         boolean NOT NULL,
    inclusive_small_micro boolean NOT NULL,
    lpr_tenor             text NOT NULL CHECK (lpr_tenor IN ('1Y', '5Y')),
    lpr_e4                integer,
    spread_bp             integer,
    status                text NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'repaid', 'renewed', 'void')),
    repaid_fen            bigint NOT NULL DEFAULT 0 CHECK (repaid_fen >= 0),
    renewed_on            date,
    renewed_by_id         bigint,
    void_reason           text,
    voided_at             timestamptz,
    content               jsonb NOT NULL,
    version               integer NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bank_code, loan_ref),
    CHECK (repaid_fen <= amount_fen)
);
CREATE INDEX loans_borrower ON loans (borrower_uscc, issue_date);
CREATE INDEX loans_bank_id ON loans (bank_code, id);
CREATE INDEX loans_relief ON loans (borrower_uscc) WHERE relief_fund AND status <> 'void';

-- Every content version of a loan (created, corrected) and its voiding.
CREATE TABLE loan_versions (
    loan_id    bigint NOT NULL REFERENCES loans (id),
    version    integer NOT NULL,
    change     text NOT NULL CHECK (change IN ('created', 'corrected', 'voided')),
    content    jsonb NOT NULL,
    reason     text,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL,
    PRIMARY KEY (loan_id, version)
);

CREATE TABLE repayments (
    id             bigserial PRIMARY KEY,
    loan_id        bigint NOT NULL REFERENCES loans (id),
    repayment_ref  text NOT NULL,
    repaid_on      date NOT NULL,
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (loan_id, repayment_ref)
);

-- Warnings raised on a loan version (W001 ...), listed to the regulator.
CREATE TABLE loan_warnings (
    id         bigserial PRIMARY KEY,
    loan_id    bigint NOT NULL REFERENCES loans (id),
    version    integer NOT NULL,
    bank_code  text NOT NULL,
    loan_ref   text NOT NULL,
    rule       text NOT NULL,
    field      text NOT NULL,
    message    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX loan_warnings_loan ON loan_warnings (loan_id, version);
CREATE INDEX loan_warnings_bank ON loan_warnings (bank_code, id);

-- First answers to batch posts made with an Idempotency-Key header.
CREATE TABLE idempotency_keys (
    bank_code      text NOT NULL,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    status         integer NOT NULL,
    response       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_code, key)
);

-- One item of an ingest, as finregd sends it: validated and derived in C.
CREATE TYPE loan_item AS (
    idx int, loan_ref text, content jsonb,
    uscc text, name text, county_code text, industry_code text, size text,
    amount_fen bigint, issue_date date, maturity_date date, rate_e4 int,
    guarantee_mode text, guarantor_code text, first_loan boolean, renewal boolean,
    renews_loan_ref text, scf_program_id bigint, relief_fund boolean, credit_line_fen bigint,
    term_months int, medium_long_term boolean, manufacturing boolean,
    inclusive_small_micro boolean, lpr_tenor text, lpr_e4 int, spread_bp int);
