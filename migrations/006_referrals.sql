-- Relief-fund referrals (纾困专项资金): the regulator refers a firm to a bank, the bank
-- answers (referred -> accepted | declined, accepted -> funded | declined). Every status
-- change is kept in referral_events. Money is bigint fen. The relief_referrals measure
-- (stats_actual_relief_referrals) and GET /v1/stats/referrals read these tables. The
-- functions this migration created live in sql/referrals.sql now.

-- Last number handed out per year of referred_on: the readable id RF-<year>-<number>.
-- Taken inside the creating transaction, so the numbers of a year have no gaps.
CREATE TABLE referral_counters (
    year int PRIMARY KEY,
    last int NOT NULL
);

CREATE TABLE referrals (
    id             bigserial PRIMARY KEY,
    ref            text NOT NULL UNIQUE CHECK (ref ~ '^RF-[0-9]{4}-[0-9]{6,}$'),
    uscc           text NOT NULL REFERENCES firms (uscc),
    name           text NOT NULL,
    county_code    text NOT NULL,
    industry_code  text NOT NULL,
    size           text NOT NULL CHECK (size IN ('large', 'medium', 'small', 'micro')),
    bank_code      text NOT NULL,
    requested_fen  bigint NOT NULL CHECK (requested_fen > 0),
    reason         text NOT NULL,
    referred_on    date NOT NULL,
    status         text NOT NULL DEFAULT 'referred'
                   CHECK (status IN ('referred', 'accepted', 'declined', 'funded')),
    decline_reason text,
    loan_id        bigint REFERENCES loans (id),
    loan_ref       text,
    funded_fen     bigint CHECK (funded_fen > 0),
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'declined') = (decline_reason IS NOT NULL)),
    CHECK ((status = 'funded') = (loan_id IS NOT NULL AND funded_fen IS NOT NULL))
);
-- One open referral (referred or accepted) per firm and bank.
CREATE UNIQUE INDEX referrals_open ON referrals (uscc, bank_code)
    WHERE status IN ('referred', 'accepted');
-- A loan funds one referral.
CREATE UNIQUE INDEX referrals_loan ON referrals (loan_id) WHERE loan_id IS NOT NULL;
CREATE INDEX referrals_bank_id ON referrals (bank_code, id);
CREATE INDEX referrals_uscc ON referrals (uscc, referred_on);
CREATE INDEX referrals_referred_on ON referrals (referred_on);

-- Every status change of a referral, its creation included (from_status NULL).
CREATE TABLE referral_events (
    id          bigserial PRIMARY KEY,
    referral_id bigint NOT NULL REFERENCES referrals (id),
    from_status text,
    to_status   text NOT NULL,
    reason      text,
    loan_ref    text,
    funded_fen  bigint,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_events_referral ON referral_events (referral_id, id);
