-- The new-loan summaries carry small-micro pricing and supply-chain amounts, at day and
-- month grain (issue 11: GET /v1/stats/targets and /v1/stats/scorecard at 10 million
-- loans). The banks' scorecard (sql/supervision.sql) read two years of loans for its
-- small-micro rate change and supply-chain financing, which no index serves: 5 s at 10
-- million loans, the statement deadline. stats_pricing held the pricing by month only, and
-- the scorecard's windows end on any day. Now stats_new_loans holds, beside its counts:
--   sm_n, sm_amount, sm_rate_x_amount, sm_spread_amount, sm_spread_x_amount: the new
--     inclusive small-micro loans (count, amount, rate_e4 x amount, amount with a spread,
--     spread_bp x amount), what stats_pricing held by month;
--   scf_amount: the amount of new loans linked to a supply-chain program;
-- so a window of any days is a few summary rows (stats_new_loans_window), and
-- stats_pricing, a second home for the same figures, goes. stats_loan gains scf.
--
-- What this does to a registry: writes of loans and repayments and statistics reads wait
-- for it (it holds stats_pending); it reads every loan once, in order of issue date, in
-- slices of 100,000.
-- The summaries gain the new figures from the loans, less what is still pending (so
-- summaries plus pending stay equal to the loans, and the fold adds the pending rows later
-- as always). Pending rows written before this have no scf field: they are given false and
-- count for no supply-chain amount, which the backfill, taken from the loans themselves,
-- already holds. Its backfill took 42 s at 3 million loans (bench/stats' synthetic loans,
-- a scratch cluster on the 2-core dev machine, 2 December 2026; the whole migration was
-- not timed), so a large registry's writes wait minutes (operators: expect 503s, run it in
-- a quiet hour). Between this commit and
-- the sql/ files (the same `finregd migrate`, moments later) the old readers and the old
-- fold fail on the dropped stats_pricing: a reader answers 503, a fold rolls back and is
-- retried; nothing is lost.

-- No fold meanwhile (the lock stats_compact() and stats_rebuild() take), and no writer:
-- loans first (a writer holds loans, then appends to stats_pending), so that a correction
-- that changes only a loan's program link, which the old trigger does not pass on, cannot
-- commit between the backfill's reads of the loans.
SELECT pg_advisory_xact_lock(7340012004);
LOCK TABLE loans IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE stats_pending IN ACCESS EXCLUSIVE MODE;

-- sql/ creates these again over the new columns.
DROP VIEW IF EXISTS stats_new_loans_all, stats_pricing_all;
DROP FUNCTION IF EXISTS stats_new_loans_window(char, text, date, date, boolean);
DROP FUNCTION IF EXISTS stats_pricing_of(stats_loan[], int);
DROP TABLE stats_pricing;

ALTER TYPE stats_loan ADD ATTRIBUTE scf boolean CASCADE;
UPDATE stats_pending SET loan.scf = false WHERE sign IS NOT NULL;

ALTER TABLE stats_new_loans
    ADD COLUMN sm_n bigint NOT NULL DEFAULT 0,
    ADD COLUMN sm_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN sm_rate_x_amount numeric NOT NULL DEFAULT 0,
    ADD COLUMN sm_spread_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN sm_spread_x_amount numeric NOT NULL DEFAULT 0,
    ADD COLUMN scf_amount bigint NOT NULL DEFAULT 0;

-- The two functions the backfill needs, in their live form (sql/stats.sql owns the text).
CREATE OR REPLACE FUNCTION stats_loan_of(l loans) RETURNS stats_loan
    LANGUAGE sql IMMUTABLE
    RETURN ROW(l.id, l.issue_date, l.bank_code, l.county_code, l.industry_code, l.size,
               l.manufacturing, l.amount_fen, l.first_loan, l.guarantee_mode,
               l.medium_long_term, l.renewal, l.rate_e4, l.spread_bp, l.inclusive_small_micro,
               l.repaid_fen, l.renewed_on, l.status, l.scf_program_id IS NOT NULL)::stats_loan;

CREATE OR REPLACE FUNCTION stats_new_loans_of(p_rows stats_loan[], p_sign int)
RETURNS SETOF stats_new_loans
LANGUAGE sql IMMUTABLE AS $$
    WITH base AS (
        SELECT r.issue_date, r.bank_code, r.county_code, left(r.industry_code, 2) AS division,
               r.size, r.manufacturing, count(*) AS n, sum(r.amount_fen) AS amount,
               count(*) FILTER (WHERE r.first_loan) AS first_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.first_loan), 0) AS first_amount,
               count(*) FILTER (WHERE r.guarantee_mode = 'credit') AS credit_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.guarantee_mode = 'credit'), 0)
                   AS credit_amount,
               count(*) FILTER (WHERE r.medium_long_term) AS mlt_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.medium_long_term), 0) AS mlt_amount,
               count(*) FILTER (WHERE r.renewal) AS renewal_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.renewal), 0) AS renewal_amount,
               count(*) FILTER (WHERE r.inclusive_small_micro) AS sm_n,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.inclusive_small_micro), 0) AS sm_amount,
               coalesce(sum(r.rate_e4::numeric * r.amount_fen)
                            FILTER (WHERE r.inclusive_small_micro), 0) AS sm_rate_x_amount,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.inclusive_small_micro
                                                   AND r.spread_bp IS NOT NULL), 0)
                   AS sm_spread_amount,
               coalesce(sum(r.spread_bp::numeric * r.amount_fen)
                            FILTER (WHERE r.inclusive_small_micro), 0) AS sm_spread_x_amount,
               coalesce(sum(r.amount_fen) FILTER (WHERE r.scf), 0) AS scf_amount
        FROM unnest(p_rows) r
        WHERE r.status <> 'void'
        GROUP BY 1, 2, 3, 4, 5, 6)
    SELECT d.dim::char(1), g.grain::char(1), d.bank, g.period, d.key, b.manufacturing,
           (p_sign * sum(b.n))::bigint, (p_sign * sum(b.amount))::bigint,
           (p_sign * sum(b.first_n))::bigint, (p_sign * sum(b.first_amount))::bigint,
           (p_sign * sum(b.credit_n))::bigint, (p_sign * sum(b.credit_amount))::bigint,
           (p_sign * sum(b.mlt_n))::bigint, (p_sign * sum(b.mlt_amount))::bigint,
           (p_sign * sum(b.renewal_n))::bigint, (p_sign * sum(b.renewal_amount))::bigint,
           (p_sign * sum(b.sm_n))::bigint, (p_sign * sum(b.sm_amount))::bigint,
           p_sign * sum(b.sm_rate_x_amount), (p_sign * sum(b.sm_spread_amount))::bigint,
           p_sign * sum(b.sm_spread_x_amount), (p_sign * sum(b.scf_amount))::bigint
    FROM base b
    CROSS JOIN LATERAL (VALUES ('b', '*', b.bank_code),
                               ('c', '*', b.county_code), ('c', b.bank_code, b.county_code),
                               ('i', '*', b.division), ('i', b.bank_code, b.division),
                               ('s', '*', b.size), ('s', b.bank_code, b.size)) AS d(dim, bank, key)
    CROSS JOIN LATERAL (VALUES ('d', b.issue_date),
                               ('m', date_trunc('month', b.issue_date)::date)) AS g(grain, period)
    GROUP BY d.dim, g.grain, d.bank, g.period, d.key, b.manufacturing
$$;

-- The update trigger's function in its live form (sql/stats.sql owns the text): from this
-- commit on a change of a loan's program link alone is passed on, before sql/ is applied.
CREATE OR REPLACE FUNCTION stats_on_loan_update() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
DECLARE
    v_old stats_loan[];
    v_new stats_loan[];
    v_old_moved stats_loan[];
    v_new_moved stats_loan[];
BEGIN
    WITH pairs AS (
        SELECT stats_loan_of(o) AS o, stats_loan_of(n) AS n
        FROM old_rows o JOIN new_rows n ON n.id = o.id),
    changed AS (
        SELECT p.o, p.n,
               (p.o).bank_code <> (p.n).bank_code OR (p.o).manufacturing <> (p.n).manufacturing
               OR ((p.o).status = 'void') <> ((p.n).status = 'void') AS moved
        FROM pairs p
        WHERE ((p.o).status = 'void') <> ((p.n).status = 'void')
           OR (p.o).repaid_fen <> (p.n).repaid_fen AND (p.n).renewed_on IS NOT NULL
           OR ((p.o).issue_date, (p.o).bank_code, (p.o).county_code, (p.o).industry_code,
               (p.o).size, (p.o).manufacturing, (p.o).amount_fen, (p.o).first_loan,
               (p.o).guarantee_mode, (p.o).medium_long_term, (p.o).renewal, (p.o).rate_e4,
               (p.o).spread_bp, (p.o).inclusive_small_micro, (p.o).renewed_on, (p.o).scf)
              IS DISTINCT FROM
              ((p.n).issue_date, (p.n).bank_code, (p.n).county_code, (p.n).industry_code,
               (p.n).size, (p.n).manufacturing, (p.n).amount_fen, (p.n).first_loan,
               (p.n).guarantee_mode, (p.n).medium_long_term, (p.n).renewal, (p.n).rate_e4,
               (p.n).spread_bp, (p.n).inclusive_small_micro, (p.n).renewed_on, (p.n).scf))
    SELECT array_agg(c.o), array_agg(c.n), array_agg(c.o) FILTER (WHERE c.moved),
           array_agg(c.n) FILTER (WHERE c.moved)
    INTO v_old, v_new, v_old_moved, v_new_moved
    FROM changed c;
    IF v_old IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM stats_apply(v_old, -1, false);
    PERFORM stats_apply(v_new, 1, false);
    IF v_old_moved IS NOT NULL THEN
        INSERT INTO stats_pending (event)
        SELECT e FROM stats_repayment_events(v_old_moved, -1) e
        UNION ALL SELECT e FROM stats_repayment_events(v_new_moved, 1) e;
    END IF;
    RETURN NULL;
END $$;

-- The new figures of every loan, less those of the pending rows (what adds is taken away,
-- what takes away is added), in slices of 100,000 of one sign. The loans go in order of
-- issue date: a slice then adds to the summary rows of its few days and months, and each
-- row is updated about once (slices of ids updated nearly every row in every slice, and in
-- one transaction each update leaves a dead version: 25 times the table at 3 M loans).
-- The last row (part 4, sign 0) only ends the last slice.
DO $$
DECLARE
    v_rows stats_loan[] := '{}';
    v_n int := 0;
    v_sign int;
    r record;
BEGIN
    FOR r IN SELECT x.sign, x.loan FROM (
                 SELECT 1 AS part, -1 AS sign, p.loan, NULL::date AS day, NULL::bigint AS id
                 FROM stats_pending p WHERE p.sign = 1
                 UNION ALL SELECT 2, 1, p.loan, NULL, NULL FROM stats_pending p WHERE p.sign = -1
                 UNION ALL SELECT 3, 1, stats_loan_of(l), l.issue_date, l.id FROM loans l
                 UNION ALL SELECT 4, 0, NULL, NULL, NULL) x
             ORDER BY x.part, x.day, x.id LOOP
        IF v_n > 0 AND (r.sign <> v_sign OR v_n >= 100000) THEN
            INSERT INTO stats_new_loans AS s (dim, grain, bank_code, period, key, manufacturing,
                                              sm_n, sm_amount, sm_rate_x_amount,
                                              sm_spread_amount, sm_spread_x_amount, scf_amount)
            SELECT x.dim, x.grain, x.bank_code, x.period, x.key, x.manufacturing, x.sm_n,
                   x.sm_amount, x.sm_rate_x_amount, x.sm_spread_amount, x.sm_spread_x_amount,
                   x.scf_amount
            FROM stats_new_loans_of(v_rows, v_sign) x
            ON CONFLICT (dim, grain, bank_code, period, key, manufacturing) DO UPDATE SET
                sm_n = s.sm_n + EXCLUDED.sm_n, sm_amount = s.sm_amount + EXCLUDED.sm_amount,
                sm_rate_x_amount = s.sm_rate_x_amount + EXCLUDED.sm_rate_x_amount,
                sm_spread_amount = s.sm_spread_amount + EXCLUDED.sm_spread_amount,
                sm_spread_x_amount = s.sm_spread_x_amount + EXCLUDED.sm_spread_x_amount,
                scf_amount = s.scf_amount + EXCLUDED.scf_amount;
            v_rows := '{}';
            v_n := 0;
        END IF;
        EXIT WHEN r.sign = 0;
        v_sign := r.sign;
        v_n := v_n + 1;
        v_rows[v_n] := r.loan;
    END LOOP;
END $$;
