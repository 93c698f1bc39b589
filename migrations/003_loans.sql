-- The loan registry: policy parameters, firms (with their change history), loans and
-- their versions, repayments, warnings, and batch idempotency keys. Money is bigint fen,
-- rates integer 1/10000 percent; the view loans_readable shows yuan and percent.

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

CREATE FUNCTION fen_text(fen bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN (fen::numeric / 100)::numeric(20, 2)::text;

CREATE FUNCTION rate_text(e4 integer) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN (e4::numeric / 10000)::numeric(12, 4)::text;

CREATE FUNCTION ts_text(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS.US"+08:00"');

CREATE VIEW loans_readable AS
    SELECT l.*, fen_text(l.amount_fen) AS amount, rate_text(l.rate_e4) AS rate,
           fen_text(l.amount_fen - l.repaid_fen) AS remaining
    FROM loans l;

-- The stored loan as the API returns it: the posted content plus every derived field.
-- PL/pgSQL rather than SQL: its plan is cached for the session instead of being made anew
-- at every call (the same holds for the other functions on the write path).
CREATE FUNCTION loan_to_json(l loans) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN l.content || jsonb_build_object(
        'bank_code', l.bank_code,
        'term_months', l.term_months,
        'medium_long_term', l.medium_long_term,
        'manufacturing', l.manufacturing,
        'inclusive_small_micro', l.inclusive_small_micro,
        'lpr_tenor', l.lpr_tenor,
        'lpr', rate_text(l.lpr_e4),
        'spread_bp', l.spread_bp,
        'registry_first_loan', NOT EXISTS (
            SELECT 1 FROM loans o
            WHERE o.borrower_uscc = l.borrower_uscc AND o.issue_date < l.issue_date
              AND o.status <> 'void'),
        'outstanding', fen_text(CASE WHEN l.status = 'active' THEN l.amount_fen - l.repaid_fen
                                     ELSE 0 END),
        'repaid', fen_text(l.repaid_fen),
        'status', l.status,
        'renewed_on', l.renewed_on,
        'void_reason', l.void_reason,
        'version', l.version,
        'warnings', coalesce((
            SELECT jsonb_agg(jsonb_build_object('rule', w.rule, 'field', w.field,
                                                'message', w.message) ORDER BY w.id)
            FROM loan_warnings w
            WHERE w.loan_id = l.id
              AND w.version = (SELECT max(v.version) FROM loan_versions v
                               WHERE v.loan_id = l.id AND v.change <> 'voided')),
            '[]'::jsonb),
        'created_at', ts_text(l.created_at),
        'updated_at', ts_text(l.updated_at));
END $$;

-- One item of an ingest, as finregd sends it: validated and derived in C.
CREATE TYPE loan_item AS (
    idx int, loan_ref text, content jsonb,
    uscc text, name text, county_code text, industry_code text, size text,
    amount_fen bigint, issue_date date, maturity_date date, rate_e4 int,
    guarantee_mode text, guarantor_code text, first_loan boolean, renewal boolean,
    renews_loan_ref text, scf_program_id bigint, relief_fund boolean, credit_line_fen bigint,
    term_months int, medium_long_term boolean, manufacturing boolean,
    inclusive_small_micro boolean, lpr_tenor text, lpr_e4 int, spread_bp int);

-- A renewal must come after every repayment of the loan it renews, so a balance drops to
-- zero on the renewal date and never below.
CREATE FUNCTION loan_repaid_on_or_after(p_loan bigint, p_day date) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (SELECT 1 FROM repayments r WHERE r.loan_id = p_loan AND r.repaid_on >= p_day);

-- Stores a batch of validated loans for bank @p_bank. Per item it answers created,
-- unchanged (the same loan_ref with the same content is already stored) or rejected
-- (with the error's code, rule, field and message). Atomic: any rejection stores
-- nothing. Dry run: stores nothing either way. The database checks live here: a loan_ref
-- stored with other content (409), the guarantor (L013), the renewed loan (L016), one
-- relief-fund loan per firm (L019) and the supply-chain program (L021). @p_today is the
-- current date, for messages only.
CREATE FUNCTION loan_ingest(p_bank text, p_items jsonb, p_atomic boolean, p_dry_run boolean,
                            p_return_loans boolean)
RETURNS TABLE (idx int, status text, code text, rule text, field text, message text,
               loan jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    v_items loan_item[];
    v_verdicts jsonb;
    v_ids jsonb := '{}';
    v_store boolean;
BEGIN
    SELECT array_agg(x ORDER BY x.idx) INTO v_items
    FROM jsonb_populate_recordset(NULL::loan_item, p_items) x;
    IF v_items IS NULL THEN
        RETURN;
    END IF;

    -- Serialise ingests of the same loan_refs of this bank, so that each judges what the
    -- others stored (an atomic batch must never store part of itself and then meet a
    -- conflict). The refs hash into 64 buckets per bank, locked in bucket order: a batch
    -- takes at most 64 locks, and two batches cannot deadlock on them.
    PERFORM pg_advisory_xact_lock(hashtext('loan:' || p_bank), b.bucket)
    FROM (SELECT DISTINCT (hashtextextended(i.loan_ref, 0) & 63)::int AS bucket
          FROM unnest(v_items) i ORDER BY 1) b;

    -- Serialise work on the same renewed loans and on the same relief-fund borrowers.
    -- (Each look-up by key below is a LATERAL subquery with OFFSET 0, a fence that keeps it
    -- a per-item index probe: a plan made while the tables were empty must not turn it
    -- into a scan of every stored loan once they are not.)
    PERFORM 1
    FROM (SELECT DISTINCT i.renews_loan_ref AS ref FROM unnest(v_items) i
          WHERE i.renews_loan_ref IS NOT NULL ORDER BY 1) r
    CROSS JOIN LATERAL (SELECT t.id FROM loans t
                        WHERE t.bank_code = p_bank AND t.loan_ref = r.ref
                        FOR UPDATE) t;
    PERFORM pg_advisory_xact_lock(hashtextextended('relief:' || r.u, 0))
    FROM (SELECT DISTINCT i.uscc AS u FROM unnest(v_items) i WHERE i.relief_fund ORDER BY 1) r;

    WITH items AS (SELECT * FROM unnest(v_items)),
    -- Stage one: each item against what is stored.
    judged AS (
        SELECT i.idx, i.loan_ref, i.content, i.uscc, i.relief_fund, i.renews_loan_ref,
               CASE
               WHEN e.id IS NOT NULL AND e.content = i.content THEN 'unchanged'
               WHEN e.id IS NOT NULL THEN 'conflict'
               WHEN i.guarantor_code IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM principals p
                        WHERE p.code = i.guarantor_code AND p.kind = 'guarantor') THEN 'L013'
               WHEN i.renewal AND r.id IS NULL THEN 'L016a'
               WHEN i.renewal AND r.borrower_uscc <> i.uscc THEN 'L016b'
               WHEN i.renewal AND r.status <> 'active' THEN 'L016c'
               WHEN i.renewal AND (r.issue_date >= i.issue_date
                                   OR loan_repaid_on_or_after(r.id, i.issue_date)) THEN 'L016d'
               WHEN i.relief_fund AND (
                        SELECT true FROM loans o
                        WHERE o.borrower_uscc = i.uscc AND o.relief_fund
                          AND o.status <> 'void' LIMIT 1) THEN 'L019'
               WHEN i.scf_program_id IS NOT NULL
                    AND NOT loan_scf_allowed(p_bank, i.scf_program_id, i.uscc) THEN 'L021'
               ELSE 'ok' END AS verdict,
               e.version AS stored_version, r.status AS renewed_status
        FROM items i
        -- LATERAL keeps both look-ups on the (bank_code, loan_ref) index whatever the
        -- planner guesses about the batch's size.
        LEFT JOIN LATERAL (SELECT x.id, x.content, x.version FROM loans x
                           WHERE x.bank_code = p_bank AND x.loan_ref = i.loan_ref
                           OFFSET 0) e ON true
        LEFT JOIN LATERAL (SELECT x.id, x.borrower_uscc, x.status, x.issue_date FROM loans x
                           WHERE i.renewal AND x.bank_code = p_bank
                             AND x.loan_ref = i.renews_loan_ref
                           OFFSET 0) r ON true),
    -- Stage two: uniqueness inside the batch, among the items still standing.
    ranked AS (
        SELECT j.*,
               row_number() OVER (PARTITION BY j.loan_ref ORDER BY j.idx) AS ref_rank,
               first_value(j.content) OVER (PARTITION BY j.loan_ref ORDER BY j.idx)
                   AS ref_first,
               row_number() OVER (PARTITION BY j.verdict = 'ok' AND j.relief_fund, j.uscc
                                  ORDER BY j.idx) AS relief_rank,
               row_number() OVER (PARTITION BY j.verdict = 'ok', j.renews_loan_ref
                                  ORDER BY j.idx) AS renew_rank
        FROM judged j),
    adjusted AS (
        SELECT k.*, CASE
                   WHEN k.verdict = 'ok' AND k.relief_fund AND k.relief_rank > 1 THEN 'L019'
                   WHEN k.verdict = 'ok' AND k.renews_loan_ref IS NOT NULL
                        AND k.renew_rank > 1 THEN 'L016e'
                   ELSE k.verdict END AS own_verdict
        FROM ranked k),
    -- A repeat of an earlier item with the same content shares its fate: unchanged when
    -- that one is stored (or was already), the same rejection when it is rejected.
    firsts AS (
        SELECT a.*, first_value(a.own_verdict) OVER (PARTITION BY a.loan_ref ORDER BY a.idx)
                        AS first_verdict
        FROM adjusted a)
    SELECT jsonb_agg(jsonb_build_object(
               'idx', k.idx, 'loan_ref', k.loan_ref,
               'stored_version', k.stored_version, 'renewed_status', k.renewed_status,
               'verdict', CASE
                   WHEN k.ref_rank > 1 AND k.content = k.ref_first
                        AND k.first_verdict IN ('ok', 'unchanged') THEN 'unchanged'
                   WHEN k.ref_rank > 1 AND k.content = k.ref_first THEN k.first_verdict
                   WHEN k.ref_rank > 1 THEN 'dup_conflict'
                   ELSE k.own_verdict END) ORDER BY k.idx)
    INTO v_verdicts FROM firsts k;

    v_store := NOT p_dry_run AND NOT (p_atomic AND EXISTS (
        SELECT 1 FROM jsonb_array_elements(v_verdicts) v
        WHERE v->>'verdict' NOT IN ('ok', 'unchanged')));

    IF v_store THEN
        PERFORM firms_upsert(
            (SELECT jsonb_agg(jsonb_build_object('ord', i.idx, 'uscc', i.uscc, 'name', i.name,
                                                 'county_code', i.county_code,
                                                 'industry_code', i.industry_code,
                                                 'size', i.size))
             FROM unnest(v_items) i JOIN jsonb_array_elements(v_verdicts) v
                  ON (v->>'idx')::int = i.idx AND v->>'verdict' = 'ok'),
            p_bank, 'loan');

        WITH fresh AS (
            INSERT INTO loans (bank_code, loan_ref, borrower_uscc, borrower_name, county_code,
                               industry_code, size, amount_fen, issue_date, maturity_date,
                               rate_e4, guarantee_mode, guarantor_code, first_loan, renewal,
                               renews_loan_ref, renews_loan_id, scf_program_id, relief_fund,
                               credit_line_fen, term_months, medium_long_term, manufacturing,
                               inclusive_small_micro, lpr_tenor, lpr_e4, spread_bp, content)
            SELECT p_bank, i.loan_ref, i.uscc, i.name, i.county_code, i.industry_code, i.size,
                   i.amount_fen, i.issue_date, i.maturity_date, i.rate_e4, i.guarantee_mode,
                   i.guarantor_code, i.first_loan, i.renewal, i.renews_loan_ref,
                   (SELECT r.id FROM loans r
                    WHERE i.renewal AND r.bank_code = p_bank AND r.loan_ref = i.renews_loan_ref),
                   i.scf_program_id, i.relief_fund, i.credit_line_fen, i.term_months,
                   i.medium_long_term, i.manufacturing, i.inclusive_small_micro, i.lpr_tenor,
                   i.lpr_e4, i.spread_bp, i.content
            FROM unnest(v_items) i JOIN jsonb_array_elements(v_verdicts) v
                 ON (v->>'idx')::int = i.idx AND v->>'verdict' = 'ok'
            ORDER BY i.idx
            ON CONFLICT ON CONSTRAINT loans_bank_code_loan_ref_key DO NOTHING
            RETURNING id, loan_ref, content, renews_loan_id, issue_date),
        versions AS (
            INSERT INTO loan_versions (loan_id, version, change, content, changed_by)
            SELECT f.id, 1, 'created', f.content, p_bank FROM fresh f),
        renewed AS (
            UPDATE loans t SET status = 'renewed', renewed_on = f.issue_date,
                               renewed_by_id = f.id, updated_at = now()
            FROM fresh f WHERE t.id = f.renews_loan_id)
        SELECT coalesce(jsonb_object_agg(f.loan_ref, f.id), '{}') INTO v_ids FROM fresh f;

        PERFORM loan_warnings_raise(ARRAY(SELECT (value)::bigint FROM jsonb_each_text(v_ids)));
    END IF;

    RETURN QUERY
    WITH out AS (
        SELECT (v->>'idx')::int AS i, v->>'loan_ref' AS ref, v->>'verdict' AS verdict,
               v->>'stored_version' AS stored_version, v->>'renewed_status' AS renewed_status,
               v_ids ? (v->>'loan_ref') AS inserted
        FROM jsonb_array_elements(v_verdicts) v),
    settled AS (
        SELECT o.*, (l.lrow).id AS lid, (l.lrow).content AS stored, x.content AS mine, l.lrow
        FROM out o
        JOIN unnest(v_items) x ON x.idx = o.i
        LEFT JOIN LATERAL (SELECT y AS lrow FROM loans y
                           WHERE y.bank_code = p_bank AND y.loan_ref = o.ref OFFSET 0) l
               ON true),
    final AS (
        SELECT s.*, CASE
            -- A concurrent request stored this loan_ref between our check and insert.
            WHEN s.verdict = 'ok' AND v_store AND NOT s.inserted AND s.stored = s.mine
                THEN 'unchanged'
            WHEN s.verdict = 'ok' AND v_store AND NOT s.inserted THEN 'conflict'
            ELSE s.verdict END AS v
        FROM settled s)
    SELECT f.i,
           CASE WHEN f.v = 'ok' THEN 'created' WHEN f.v = 'unchanged' THEN 'unchanged'
                ELSE 'rejected' END,
           CASE WHEN f.v IN ('ok', 'unchanged') THEN NULL
                WHEN f.v IN ('conflict', 'dup_conflict') THEN 'conflict'
                ELSE 'invalid_field' END,
           CASE WHEN f.v LIKE 'L%' THEN left(f.v, 4) END,
           CASE WHEN f.v IN ('conflict', 'dup_conflict') THEN 'loan_ref'
                WHEN f.v = 'L013' THEN 'guarantor_code'
                WHEN f.v LIKE 'L016%' THEN 'renews_loan_ref'
                WHEN f.v = 'L019' THEN 'relief_fund'
                WHEN f.v = 'L021' THEN 'scf_program_id' END,
           CASE f.v
           WHEN 'conflict' THEN format('loan_ref %s is already stored with different content '
                                      '(version %s); correct it with PUT and If-Match',
                                      f.ref, coalesce(f.stored_version, (f.lrow).version::text))
           WHEN 'dup_conflict' THEN format('loan_ref %s appears earlier in this batch with '
                                          'different content', f.ref)
           WHEN 'L013' THEN 'no registered guarantor has this code'
           WHEN 'L016a' THEN 'no loan of this bank has this loan_ref'
           WHEN 'L016b' THEN 'the renewed loan was made to another borrower'
           WHEN 'L016c' THEN format('the renewed loan is %s, not active', f.renewed_status)
           WHEN 'L016d' THEN 'the renewed loan must be issued, and any of its repayments dated, before the renewal'
           WHEN 'L016e' THEN 'another loan of this batch already renews that loan'
           WHEN 'L019' THEN 'the firm already has a relief-fund loan'
           WHEN 'L021' THEN 'no supply-chain program with this id is run by this bank with the '
                            'borrower as its core or a current member'
           END,
           CASE WHEN p_return_loans AND f.lid IS NOT NULL AND f.v IN ('ok', 'unchanged')
                THEN loan_to_json(f.lrow) END
    FROM final f ORDER BY f.i;
END $$;

-- Raises the warnings of loans @p_ids at their current version: W001 when the bank's
-- first_loan flag disagrees with the registry (no earlier non-void loan to the firm).
CREATE FUNCTION loan_warnings_raise(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loan_warnings (loan_id, version, bank_code, loan_ref, rule, field, message)
    SELECT l.id, l.version, l.bank_code, l.loan_ref, 'W001', 'first_loan',
           CASE WHEN l.first_loan
                THEN 'first_loan is true, but the registry holds an earlier loan to this firm'
                ELSE 'first_loan is false, but the registry holds no earlier loan to this firm'
           END
    FROM loans l
    WHERE l.id = ANY (p_ids)
      AND l.first_loan = EXISTS (
          SELECT 1 FROM loans o
          WHERE o.borrower_uscc = l.borrower_uscc AND o.issue_date < l.issue_date
            AND o.status <> 'void');
END $$;

-- Status a loan returns to when it stops being renewed (its renewal corrected or voided).
CREATE FUNCTION loan_unrenewed_status(l loans) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN l.repaid_fen >= l.amount_fen THEN 'repaid' ELSE 'active' END;

-- Replaces loan @p_ref's content (a correction) when @p_version is its current version.
-- Same checks as ingest; the old version stays in loan_versions; a changed renewal link
-- releases the loan renewed before and marks the new one.
CREATE FUNCTION loan_correct(p_bank text, p_ref text, p_version int, p_item jsonb)
RETURNS TABLE (status text, code text, rule text, field text, message text, loan jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    i loan_item := jsonb_populate_record(NULL::loan_item, p_item);
    l loans;
    t loans;
    v_new_target bigint;
BEGIN
    SELECT * INTO l FROM loans x WHERE x.bank_code = p_bank AND x.loan_ref = p_ref FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, NULL, 'no such loan', NULL::jsonb;
        RETURN;
    ELSIF l.status = 'void' THEN
        RETURN QUERY SELECT 'rejected', 'conflict', NULL, NULL,
                            'a void loan cannot be corrected', NULL::jsonb;
        RETURN;
    ELSIF l.version <> p_version THEN
        RETURN QUERY SELECT 'rejected', 'conflict', NULL, 'If-Match',
                            format('the loan is at version %s, not %s', l.version, p_version),
                            NULL::jsonb;
        RETURN;
    ELSIF l.content = i.content THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, NULL, loan_to_json(l);
        RETURN;
    END IF;
    IF i.guarantor_code IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM principals p WHERE p.code = i.guarantor_code AND p.kind = 'guarantor')
    THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L013', 'guarantor_code',
                            'no registered guarantor has this code', NULL::jsonb;
        RETURN;
    END IF;
    IF i.renewal THEN
        SELECT * INTO t FROM loans x
        WHERE x.bank_code = p_bank AND x.loan_ref = i.renews_loan_ref FOR UPDATE;
        IF NOT FOUND OR t.id = l.id OR t.borrower_uscc <> i.uscc
           OR (t.status <> 'active' AND NOT (t.status = 'renewed' AND t.renewed_by_id = l.id))
           OR t.issue_date >= i.issue_date OR loan_repaid_on_or_after(t.id, i.issue_date) THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'L016', 'renews_loan_ref',
                CASE WHEN t.id IS NULL THEN 'no loan of this bank has this loan_ref'
                     WHEN t.id = l.id THEN 'a loan cannot renew itself'
                     WHEN t.borrower_uscc <> i.uscc THEN 'the renewed loan was made to another borrower'
                     WHEN t.issue_date >= i.issue_date OR loan_repaid_on_or_after(t.id, i.issue_date)
                         THEN 'the renewed loan must be issued, and any of its repayments dated, before the renewal'
                     ELSE format('the renewed loan is %s, not active', t.status) END,
                NULL::jsonb;
            RETURN;
        END IF;
        v_new_target := t.id;
    END IF;
    IF i.relief_fund THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('relief:' || i.uscc, 0));
        IF EXISTS (SELECT 1 FROM loans o WHERE o.borrower_uscc = i.uscc AND o.relief_fund
                   AND o.status <> 'void' AND o.id <> l.id) THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'L019', 'relief_fund',
                                'the firm already has a relief-fund loan', NULL::jsonb;
            RETURN;
        END IF;
    END IF;
    IF i.scf_program_id IS NOT NULL AND NOT loan_scf_allowed(p_bank, i.scf_program_id, i.uscc) THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L021', 'scf_program_id',
                            'no supply-chain program with this id is run by this bank with the '
                            'borrower as its core or a current member',
                            NULL::jsonb;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM repayments r WHERE r.loan_id = l.id AND r.repaid_on < i.issue_date) THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L031', 'issue_date',
                            'a repayment of this loan is dated before the corrected issue date',
                            NULL::jsonb;
        RETURN;
    END IF;
    IF i.amount_fen < l.repaid_fen THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L032', 'amount',
                            format('below the %s already repaid', fen_text(l.repaid_fen)),
                            NULL::jsonb;
        RETURN;
    END IF;

    PERFORM firms_upsert(jsonb_build_array(jsonb_build_object(
        'ord', 0, 'uscc', i.uscc, 'name', i.name, 'county_code', i.county_code,
        'industry_code', i.industry_code, 'size', i.size)), p_bank, 'loan correction');
    IF l.renews_loan_id IS DISTINCT FROM v_new_target AND l.renews_loan_id IS NOT NULL THEN
        -- A loan voided meanwhile stays void.
        UPDATE loans x SET status = loan_unrenewed_status(x), renewed_on = NULL,
                           renewed_by_id = NULL, updated_at = now()
        WHERE x.id = l.renews_loan_id AND x.renewed_by_id = l.id AND x.status = 'renewed';
    END IF;
    IF v_new_target IS NOT NULL THEN
        UPDATE loans x SET status = 'renewed', renewed_on = i.issue_date, renewed_by_id = l.id,
                           updated_at = now()
        WHERE x.id = v_new_target;
    END IF;
    UPDATE loans x SET
        borrower_uscc = i.uscc, borrower_name = i.name, county_code = i.county_code,
        industry_code = i.industry_code, size = i.size, amount_fen = i.amount_fen,
        issue_date = i.issue_date, maturity_date = i.maturity_date, rate_e4 = i.rate_e4,
        guarantee_mode = i.guarantee_mode, guarantor_code = i.guarantor_code,
        first_loan = i.first_loan, renewal = i.renewal, renews_loan_ref = i.renews_loan_ref,
        renews_loan_id = v_new_target, scf_program_id = i.scf_program_id,
        relief_fund = i.relief_fund, credit_line_fen = i.credit_line_fen,
        term_months = i.term_months, medium_long_term = i.medium_long_term,
        manufacturing = i.manufacturing, inclusive_small_micro = i.inclusive_small_micro,
        lpr_tenor = i.lpr_tenor, lpr_e4 = i.lpr_e4, spread_bp = i.spread_bp,
        content = i.content, version = x.version + 1, updated_at = now(),
        status = CASE WHEN x.status = 'renewed' THEN 'renewed'
                      WHEN x.repaid_fen >= i.amount_fen THEN 'repaid' ELSE 'active' END
    WHERE x.id = l.id RETURNING * INTO l;
    INSERT INTO loan_versions (loan_id, version, change, content, changed_by)
    VALUES (l.id, l.version, 'corrected', l.content, p_bank);
    PERFORM loan_warnings_raise(ARRAY[l.id]);
    RETURN QUERY SELECT 'updated', NULL, NULL, NULL, NULL, loan_to_json(l);
END $$;

-- Voids loan @p_ref: kept, excluded from statistics; a loan it renewed is released.
-- Voiding a void loan again answers unchanged.
CREATE FUNCTION loan_void(p_bank text, p_ref text, p_reason text)
RETURNS TABLE (status text, code text, message text, loan jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    l loans;
BEGIN
    SELECT * INTO l FROM loans x WHERE x.bank_code = p_bank AND x.loan_ref = p_ref FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', 'no such loan', NULL::jsonb;
        RETURN;
    ELSIF l.status = 'void' THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, loan_to_json(l);
        RETURN;
    END IF;
    IF l.renews_loan_id IS NOT NULL THEN
        -- A loan voided meanwhile stays void.
        UPDATE loans x SET status = loan_unrenewed_status(x), renewed_on = NULL,
                           renewed_by_id = NULL, updated_at = now()
        WHERE x.id = l.renews_loan_id AND x.renewed_by_id = l.id AND x.status = 'renewed';
    END IF;
    UPDATE loans x SET status = 'void', void_reason = p_reason, voided_at = now(),
                       version = x.version + 1, updated_at = now()
    WHERE x.id = l.id RETURNING * INTO l;
    INSERT INTO loan_versions (loan_id, version, change, content, reason, changed_by)
    VALUES (l.id, l.version, 'voided', l.content, p_reason, p_bank);
    RETURN QUERY SELECT 'voided', NULL, NULL, loan_to_json(l);
END $$;

-- Records repayment @p_repayment_ref of loan @p_ref. Idempotent on the reference: the
-- same reference with the same date and amount answers unchanged, with others conflict.
CREATE FUNCTION loan_repay(p_bank text, p_ref text, p_repayment_ref text, p_date date,
                           p_amount bigint)
RETURNS TABLE (status text, code text, rule text, field text, message text,
               repayment jsonb, loan jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    l loans;
    r repayments;
BEGIN
    SELECT * INTO l FROM loans x WHERE x.bank_code = p_bank AND x.loan_ref = p_ref FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, NULL, 'no such loan',
                            NULL::jsonb, NULL::jsonb;
        RETURN;
    END IF;
    SELECT * INTO r FROM repayments x WHERE x.loan_id = l.id AND x.repayment_ref = p_repayment_ref;
    IF FOUND THEN
        IF r.repaid_on = p_date AND r.amount_fen = p_amount THEN
            RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, NULL, repayment_to_json(r),
                                loan_to_json(l);
        ELSE
            RETURN QUERY SELECT 'rejected', 'conflict', NULL, 'repayment_ref',
                format('repayment %s is already recorded with date %s and amount %s',
                       p_repayment_ref, r.repaid_on, fen_text(r.amount_fen)),
                NULL::jsonb, NULL::jsonb;
        END IF;
        RETURN;
    END IF;
    IF l.status IN ('void', 'renewed') THEN
        RETURN QUERY SELECT 'rejected', 'conflict', NULL, NULL,
            CASE l.status WHEN 'void' THEN 'the loan is void'
                 ELSE 'the loan was renewed; its principal moved to the renewing loan' END,
            NULL::jsonb, NULL::jsonb;
        RETURN;
    ELSIF p_date < l.issue_date THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L031', 'date',
                            format('is before the loan was issued (%s)', l.issue_date),
                            NULL::jsonb, NULL::jsonb;
        RETURN;
    ELSIF p_amount > l.amount_fen - l.repaid_fen THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L032', 'amount',
                            format('exceeds the %s outstanding',
                                   fen_text(l.amount_fen - l.repaid_fen)),
                            NULL::jsonb, NULL::jsonb;
        RETURN;
    END IF;
    INSERT INTO repayments (loan_id, repayment_ref, repaid_on, amount_fen)
    VALUES (l.id, p_repayment_ref, p_date, p_amount) RETURNING * INTO r;
    UPDATE loans x SET repaid_fen = x.repaid_fen + p_amount, updated_at = now(),
                       status = CASE WHEN x.repaid_fen + p_amount >= x.amount_fen
                                     THEN 'repaid' ELSE x.status END
    WHERE x.id = l.id RETURNING * INTO l;
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, NULL, repayment_to_json(r),
                        loan_to_json(l);
END $$;

CREATE FUNCTION repayment_to_json(r repayments) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object('repayment_ref', r.repayment_ref, 'date', r.repaid_on,
                              'amount', fen_text(r.amount_fen),
                              'created_at', ts_text(r.created_at));

-- A loan's versions (created, corrected, voided) and repayments, oldest first; NULL when
-- bank @p_bank has no loan @p_ref.
CREATE FUNCTION loan_history(p_bank text, p_ref text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'bank_code', l.bank_code, 'loan_ref', l.loan_ref, 'version', l.version,
        'versions', (SELECT jsonb_agg(jsonb_build_object(
                         'version', v.version, 'change', v.change, 'content', v.content,
                         'reason', v.reason, 'changed_at', ts_text(v.changed_at),
                         'changed_by', v.changed_by) ORDER BY v.version)
                     FROM loan_versions v WHERE v.loan_id = l.id),
        'repayments', coalesce((SELECT jsonb_agg(repayment_to_json(r) ORDER BY r.repaid_on, r.id)
                                FROM repayments r WHERE r.loan_id = l.id), '[]'::jsonb))
    FROM loans l WHERE l.bank_code = p_bank AND l.loan_ref = p_ref;
$$;
