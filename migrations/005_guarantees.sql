-- The guarantee green channel (融资担保"白名单"), guarantors' net assets and the guarantees
-- they post, and the guarantee leverage figure (放大倍数) of measure 7.1. Money is bigint
-- fen. Whitelist entries name a firm by USCC without a foreign key: a listed firm need not
-- have borrowed yet, and the firms table holds what banks report (county, industry, size),
-- which the regulator's entry does not carry. The firm's registry data is joined by USCC
-- when there is any. See docs/whitelist-guarantees.md. The functions this migration
-- created live in sql/guarantees.sql now.

-- One listing of a firm: a reason and a validity window (valid_to NULL: open-ended).
-- Never deleted; removal records when, by whom and why. Windows of a firm's entries that
-- are not removed never overlap (whitelist_add checks under a per-firm lock).
CREATE TABLE whitelist_entries (
    id             bigserial PRIMARY KEY,
    uscc           text NOT NULL CHECK (uscc ~ '^[0-9A-HJ-NP-RTUW-Y]{18}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    valid_from     date NOT NULL,
    valid_to       date CHECK (valid_to >= valid_from),
    listed_at      timestamptz NOT NULL DEFAULT now(),
    listed_by      text NOT NULL,
    removed_at     timestamptz,
    removed_by     text,
    removal_reason text CHECK (length(removal_reason) BETWEEN 1 AND 500),
    CHECK ((removed_at IS NULL) = (removed_by IS NULL)
           AND (removed_at IS NULL) = (removal_reason IS NULL))
);
CREATE INDEX whitelist_entries_uscc ON whitelist_entries (uscc, id);

-- A guarantor's record (the code of a principal of kind guarantor) and every version of
-- its figures the regulator entered: name and net assets as of a date.
CREATE TABLE guarantors (
    code       text PRIMARY KEY REFERENCES principals (code),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version    integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);

CREATE TABLE guarantor_versions (
    guarantor_code text NOT NULL REFERENCES guarantors (code),
    version        integer NOT NULL,
    name           text NOT NULL,
    net_assets_fen bigint NOT NULL CHECK (net_assets_fen > 0),
    as_of          date NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    recorded_by    text NOT NULL,
    PRIMARY KEY (guarantor_code, version)
);
CREATE INDEX guarantor_versions_as_of ON guarantor_versions (guarantor_code, as_of, version);

-- A guarantee a guarantor wrote on a bank's loan; idempotent on (guarantor, guarantee_ref)
-- with the canonical posted content. Outstanding on day D when start_date <= D <= end_date
-- and it was not released on or before D.
CREATE TABLE guarantees (
    id             bigserial PRIMARY KEY,
    guarantor_code text NOT NULL REFERENCES principals (code),
    guarantee_ref  text NOT NULL,
    bank_code      text NOT NULL,
    loan_ref       text NOT NULL,
    loan_id        bigint NOT NULL REFERENCES loans (id),
    borrower_uscc  text NOT NULL,
    amount_fen     bigint NOT NULL CHECK (amount_fen > 0),
    start_date     date NOT NULL,
    end_date       date NOT NULL CHECK (end_date >= start_date),
    released_on    date CHECK (released_on >= start_date),
    released_at    timestamptz,
    released_by    text,
    content        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (guarantor_code, guarantee_ref)
);
CREATE INDEX guarantees_guarantor_start ON guarantees (guarantor_code, start_date);
CREATE INDEX guarantees_loan ON guarantees (loan_id);
CREATE INDEX guarantees_bank_id ON guarantees (bank_code, id);
