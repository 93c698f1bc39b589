-- N+1+N supply-chain finance (docs/domain.md, docs/scf.md): programs a bank runs around
-- one core enterprise, the chain members on either side with the history of their joining
-- and leaving, the L021 check of loans posted under a program, programs' financing
-- figures and the figures of the core enterprises' reward. Money is bigint fen, as in 003.
-- The functions this migration created live in sql/scf.sql now.

INSERT INTO policy_params (name, value, unit, description) VALUES
    ('scf_reward_rate_bp', 100, 'bp',
     'N+1+N reward: share of the year''s financing to a core enterprise''s chain members '
     '(100 = 1%)'),
    ('scf_reward_min_members', 10, 'firms',
     'N+1+N reward: distinct chain members financed in the year needed to earn it'),
    ('scf_reward_cap', 200000000, 'fen',
     'N+1+N reward: largest reward per core enterprise and year (2,000,000.00 yuan)');

-- A program is named by its bank, core enterprise and name: the same post again is a
-- safe retry, the same name with other terms a conflict.
CREATE TABLE scf_programs (
    id               bigserial PRIMARY KEY,
    bank_code        text NOT NULL,
    name             text NOT NULL,
    core_uscc        text NOT NULL REFERENCES firms (uscc),
    product          text NOT NULL
                     CHECK (product IN ('receivables', 'orders', 'prepayment', 'inventory')),
    credit_limit_fen bigint NOT NULL CHECK (credit_limit_fen > 0),
    started_on       date NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL,
    UNIQUE (bank_code, core_uscc, name)
);
CREATE INDEX scf_programs_bank ON scf_programs (bank_code, id);
CREATE INDEX scf_programs_core ON scf_programs (core_uscc);

-- One row per membership period: a firm that leaves keeps its row (left_on, reason) and
-- gets a new one when it joins again. At most one current (not left) row per firm.
CREATE TABLE scf_members (
    id          bigserial PRIMARY KEY,
    program_id  bigint NOT NULL REFERENCES scf_programs (id),
    uscc        text NOT NULL REFERENCES firms (uscc),
    side        text NOT NULL CHECK (side IN ('upstream', 'downstream')),
    joined_on   date NOT NULL,
    left_on     date,
    left_reason text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    left_at     timestamptz,
    left_by     text,
    CHECK (left_on IS NULL OR left_on >= joined_on),
    CHECK (left_reason IS NULL OR left_on IS NOT NULL)
);
CREATE UNIQUE INDEX scf_members_current ON scf_members (program_id, uscc) WHERE left_on IS NULL;
CREATE INDEX scf_members_program ON scf_members (program_id, uscc, id);

-- Financing figures of a program and rewards read loans by program.
CREATE INDEX loans_scf_program ON loans (scf_program_id, borrower_uscc)
    WHERE scf_program_id IS NOT NULL;
