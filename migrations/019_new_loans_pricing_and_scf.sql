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
-- for it (it holds stats_pending); it reads every loan once, in slices of 100,000.
-- The summaries gain the new figures from the loans, less what is still pending (so
-- summaries plus pending stay equal to the loans, and the fold adds the pending rows later
-- as always). Pending rows written before this have no scf field: they are given false and
-- count for no supply-chain amount, which the backfill, taken from the loans themselves,
-- already holds.

-- No fold meanwhile (the lock stats_compact() and stats_rebuild() take), and no writer.
SELECT pg_advisory_xact_lock(7340012004);
LOCK TABLE stats_pending IN ACCESS EXCLUSIVE MODE;

-- sql/ creates these again over the new columns.
DROP VIEW IF EXISTS stats_new_loans_all, stats_pricing_all;
DROP FUNCTION IF EXISTS stats_new_loans_window(char, text, date, date, boolean);
DROP FUNCTION IF EXISTS stats_pricing_of(stats_loan[], int);
DROP TABLE stats_pricing;

ALTER TYPE stats_loan ADD ATTRIBUTE scf boolean CASCADE;
UPDATE stats_pending SET loan.scf = false WHERE loan IS NOT NULL;

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

-- The new figures of every loan (in slices of ids), less those of the pending rows (parts
-- -2 and -1: what adds is taken away, what takes away is added).
DO $$
DECLARE
    v_rows stats_loan[];
    v_last bigint;
BEGIN
    SELECT coalesce(max(id), 0) INTO v_last FROM loans;
    FOR v_part IN -2 .. v_last / 100000 LOOP
        v_rows := CASE v_part
            WHEN -2 THEN ARRAY(SELECT p.loan FROM stats_pending p WHERE p.sign = 1)
            WHEN -1 THEN ARRAY(SELECT p.loan FROM stats_pending p WHERE p.sign = -1)
            ELSE ARRAY(SELECT stats_loan_of(l) FROM loans l
                       WHERE l.id >= v_part * 100000 AND l.id < (v_part + 1) * 100000) END;
        INSERT INTO stats_new_loans AS s (dim, grain, bank_code, period, key, manufacturing,
                                          sm_n, sm_amount, sm_rate_x_amount, sm_spread_amount,
                                          sm_spread_x_amount, scf_amount)
        SELECT x.dim, x.grain, x.bank_code, x.period, x.key, x.manufacturing, x.sm_n,
               x.sm_amount, x.sm_rate_x_amount, x.sm_spread_amount, x.sm_spread_x_amount,
               x.scf_amount
        FROM stats_new_loans_of(v_rows, CASE WHEN v_part = -2 THEN -1 ELSE 1 END) x
        ON CONFLICT (dim, grain, bank_code, period, key, manufacturing) DO UPDATE SET
            sm_n = s.sm_n + EXCLUDED.sm_n, sm_amount = s.sm_amount + EXCLUDED.sm_amount,
            sm_rate_x_amount = s.sm_rate_x_amount + EXCLUDED.sm_rate_x_amount,
            sm_spread_amount = s.sm_spread_amount + EXCLUDED.sm_spread_amount,
            sm_spread_x_amount = s.sm_spread_x_amount + EXCLUDED.sm_spread_x_amount,
            scf_amount = s.scf_amount + EXCLUDED.scf_amount;
    END LOOP;
END $$;
