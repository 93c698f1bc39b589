-- Statistics summaries (tables: migrations/004_stats.sql, pending rows: 013), kept exact
-- for every loan and repayment write, so the regulator's queries read a number of rows
-- that grows with the calendar and the number of groups, never with the number of loans.
-- Writers never touch a summary row: statement-level triggers append one row per changed
-- loan to stats_pending (its statistics fields with a sign: +1 adds its contribution, -1
-- takes it away) and one per repayment (its balance change). stats_compact(limit) — run
-- every second by a finregd background thread, one instance at a time, in chunks of a
-- bounded number of rows, one transaction each, until it has caught up — fans the pending
-- rows out into summary rows and folds them in. Readers add the summaries and what is
-- still pending (the new-loan readers only their bank's and window's pending
-- loans, stats_pending_loans_in; the balance readers all, stats_balance_all), so an answer
-- is exact whether or not the fold has run; what is pending is bounded by the compactor's
-- lag. The functions come in
-- two kinds: *_of turn loans or balance changes into summary rows (readers and the fold),
-- *_add fold such rows into the summaries. The actual figures of two targets come from
-- their areas: stats_actual_guarantee_leverage (guarantees.sql) and
-- stats_actual_relief_referrals (referrals.sql).

CREATE OR REPLACE FUNCTION stats_loan_of(l loans) RETURNS stats_loan
    LANGUAGE sql IMMUTABLE
    RETURN ROW(l.id, l.issue_date, l.bank_code, l.county_code, l.industry_code, l.size,
               l.manufacturing, l.amount_fen, l.first_loan, l.guarantee_mode,
               l.medium_long_term, l.renewal, l.rate_e4, l.spread_bp, l.inclusive_small_micro,
               l.repaid_fen, l.renewed_on, l.status, l.scf_program_id IS NOT NULL)::stats_loan;

-- Balance events of loans @p_rows with sign @p_sign: +amount on the issue date and, for a
-- renewed loan, minus what was left on the renewal date. Void loans have none.
CREATE OR REPLACE FUNCTION stats_loan_events(p_rows stats_loan[], p_sign int) RETURNS SETOF stats_event
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT r.issue_date, r.bank_code, r.manufacturing, p_sign * r.amount_fen
    FROM unnest(p_rows) r WHERE r.status <> 'void'
    UNION ALL
    SELECT r.renewed_on, r.bank_code, r.manufacturing, -p_sign * (r.amount_fen - r.repaid_fen)
    FROM unnest(p_rows) r WHERE r.status <> 'void' AND r.renewed_on IS NOT NULL;
END $$;

-- Repayment events of loans @p_rows (their bank and manufacturing flag as these rows say),
-- with sign @p_sign. Void loans have none.
CREATE OR REPLACE FUNCTION stats_repayment_events(p_rows stats_loan[], p_sign int)
RETURNS SETOF stats_event
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT p.repaid_on, r.bank_code, r.manufacturing, -p_sign * p.amount_fen
    FROM unnest(p_rows) r JOIN repayments p ON p.loan_id = r.id
    WHERE r.status <> 'void';
END $$;

-- Balance events @p_events as stats_balance rows: day, month and year grain, one row per
-- key, changes that cancel out left out.
CREATE OR REPLACE FUNCTION stats_balance_of(p_events stats_event[]) RETURNS SETOF stats_balance
LANGUAGE sql IMMUTABLE AS $$
    WITH e AS (
        SELECT x.day, x.bank_code, x.manufacturing, sum(x.delta) AS delta
        FROM unnest(p_events) x GROUP BY 1, 2, 3)
    SELECT g.grain::char(1), g.period, e.bank_code, e.manufacturing, sum(e.delta)
    FROM e
    CROSS JOIN LATERAL (VALUES ('d', e.day),
                               ('m', date_trunc('month', e.day)::date),
                               ('y', date_trunc('year', e.day)::date)) AS g(grain, period)
    GROUP BY g.grain, g.period, e.bank_code, e.manufacturing
    HAVING sum(e.delta) <> 0
$$;

-- The new-loan contributions of loans @p_rows with sign @p_sign (1 adds, -1 takes away) as
-- stats_new_loans rows, one per key. Loans of one day, bank and group add up first; only
-- those sums fan out to the fourteen (dimension, bank) rows by day and by month, and the
-- bank dimension's also by year. Year rows serve the answers that list every bank (the
-- scorecard reads from '-infinity'); the other dimensions' answers read a few keys, whose
-- twelve month rows a year cost little, while year rows for them would add half to the
-- rows a fold upserts, which is what a fold costs (docs/statistics.md).
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
           (p_sign * sum(b.n))::bigint, p_sign * sum(b.amount),
           (p_sign * sum(b.first_n))::bigint, p_sign * sum(b.first_amount),
           (p_sign * sum(b.credit_n))::bigint, p_sign * sum(b.credit_amount),
           (p_sign * sum(b.mlt_n))::bigint, p_sign * sum(b.mlt_amount),
           (p_sign * sum(b.renewal_n))::bigint, p_sign * sum(b.renewal_amount),
           (p_sign * sum(b.sm_n))::bigint, p_sign * sum(b.sm_amount),
           p_sign * sum(b.sm_rate_x_amount), p_sign * sum(b.sm_spread_amount),
           p_sign * sum(b.sm_spread_x_amount), p_sign * sum(b.scf_amount)
    FROM base b
    CROSS JOIN LATERAL (VALUES ('b', '*', b.bank_code),
                               ('c', '*', b.county_code), ('c', b.bank_code, b.county_code),
                               ('i', '*', b.division), ('i', b.bank_code, b.division),
                               ('s', '*', b.size), ('s', b.bank_code, b.size)) AS d(dim, bank, key)
    CROSS JOIN LATERAL (VALUES ('d', b.issue_date),
                               ('m', date_trunc('month', b.issue_date)::date),
                               ('y', date_trunc('year', b.issue_date)::date)) AS g(grain, period)
    WHERE g.grain <> 'y' OR d.dim = 'b'
    GROUP BY d.dim, g.grain, d.bank, g.period, d.key, b.manufacturing
$$;

-- The pending loans of sign @p_sign, and the pending balance changes (loans' own events
-- and repayments'), as the readers' views take them.
CREATE OR REPLACE FUNCTION stats_pending_loans(p_sign int) RETURNS stats_loan[]
LANGUAGE sql STABLE
RETURN ARRAY(SELECT p.loan FROM stats_pending p WHERE p.sign = p_sign);

CREATE OR REPLACE FUNCTION stats_pending_events() RETURNS stats_event[]
LANGUAGE sql STABLE
RETURN ARRAY(WITH x AS MATERIALIZED (   -- one scan of the pending rows
                 SELECT array_agg(p.loan) FILTER (WHERE p.sign = 1) AS plus,
                        array_agg(p.loan) FILTER (WHERE p.sign = -1) AS minus,
                        array_agg(p.event) FILTER (WHERE p.sign IS NULL) AS events
                 FROM stats_pending p)
             SELECT e FROM x, stats_loan_events(x.plus, 1) e
             UNION ALL SELECT e FROM x, stats_loan_events(x.minus, -1) e
             UNION ALL SELECT e FROM x, unnest(x.events) e);

-- The pending loans of bank @p_bank ('*': every bank) issued in [@p_from, @p_to], those
-- that add (sign +1) and those that take away (-1), in one scan: all that a reader of that
-- window adds, so the rows it does not need are not fanned out (under a write load that
-- never pauses the fold lags a second or more, and every reader would otherwise pay for
-- every bank's and every day's pending loans).
CREATE OR REPLACE FUNCTION stats_pending_loans_in(p_bank text, p_from date, p_to date,
                                                  OUT plus stats_loan[], OUT minus stats_loan[])
LANGUAGE sql STABLE AS $$
    SELECT array_agg(p.loan) FILTER (WHERE p.sign = 1),
           array_agg(p.loan) FILTER (WHERE p.sign = -1)
    FROM stats_pending p
    WHERE p.sign IS NOT NULL AND (p.loan).issue_date BETWEEN p_from AND p_to
      AND (p_bank = '*' OR (p.loan).bank_code = p_bank)
$$;

-- Summary and what is still pending together: what readers read. The new-loan and
-- pricing readers take only the pending loans of their bank and dates
-- (stats_pending_loans_in); these views give every row, for checks and ad-hoc queries.
CREATE OR REPLACE VIEW stats_new_loans_all AS
    SELECT s.dim, s.grain, s.bank_code, s.period, s.key, s.manufacturing, s.n, s.amount,
           s.first_n, s.first_amount, s.credit_n, s.credit_amount, s.mlt_n, s.mlt_amount,
           s.renewal_n, s.renewal_amount, s.sm_n, s.sm_amount, s.sm_rate_x_amount,
           s.sm_spread_amount, s.sm_spread_x_amount, s.scf_amount
    FROM stats_new_loans s
    UNION ALL SELECT * FROM stats_new_loans_of(stats_pending_loans(1), 1)
    UNION ALL SELECT * FROM stats_new_loans_of(stats_pending_loans(-1), -1);

CREATE OR REPLACE VIEW stats_balance_all AS
    SELECT s.grain, s.period, s.bank_code, s.manufacturing, s.delta FROM stats_balance s
    UNION ALL SELECT * FROM stats_balance_of(stats_pending_events());

-- Folds balance events into stats_balance.
CREATE OR REPLACE FUNCTION stats_balance_add(p_events stats_event[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_balance AS s
    SELECT * FROM stats_balance_of(p_events)
    ON CONFLICT (grain, period, bank_code, manufacturing)
    DO UPDATE SET delta = s.delta + EXCLUDED.delta;
END $$;

-- Folds the new-loan contributions of loans @p_rows with sign @p_sign (1 adds,
-- -1 takes away) into the summaries.
CREATE OR REPLACE FUNCTION stats_new_loans_add(p_rows stats_loan[], p_sign int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_rows IS NULL OR cardinality(p_rows) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO stats_new_loans AS s
    SELECT * FROM stats_new_loans_of(p_rows, p_sign)
    ON CONFLICT (dim, grain, bank_code, period, key, manufacturing) DO UPDATE SET
        n = s.n + EXCLUDED.n, amount = s.amount + EXCLUDED.amount,
        first_n = s.first_n + EXCLUDED.first_n,
        first_amount = s.first_amount + EXCLUDED.first_amount,
        credit_n = s.credit_n + EXCLUDED.credit_n,
        credit_amount = s.credit_amount + EXCLUDED.credit_amount,
        mlt_n = s.mlt_n + EXCLUDED.mlt_n, mlt_amount = s.mlt_amount + EXCLUDED.mlt_amount,
        renewal_n = s.renewal_n + EXCLUDED.renewal_n,
        renewal_amount = s.renewal_amount + EXCLUDED.renewal_amount,
        sm_n = s.sm_n + EXCLUDED.sm_n, sm_amount = s.sm_amount + EXCLUDED.sm_amount,
        sm_rate_x_amount = s.sm_rate_x_amount + EXCLUDED.sm_rate_x_amount,
        sm_spread_amount = s.sm_spread_amount + EXCLUDED.sm_spread_amount,
        sm_spread_x_amount = s.sm_spread_x_amount + EXCLUDED.sm_spread_x_amount,
        scf_amount = s.scf_amount + EXCLUDED.scf_amount;
END $$;

-- Appends loans @p_rows with sign @p_sign (1 adds, -1 takes away) to the pending rows,
-- and the balance changes of their repayments when @p_with_repayments. Void loans count
-- for nothing and are left out.
CREATE OR REPLACE FUNCTION stats_apply(p_rows stats_loan[], p_sign int, p_with_repayments boolean)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_rows IS NULL OR cardinality(p_rows) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO stats_pending (sign, loan)
    SELECT p_sign, r FROM unnest(p_rows) r WHERE r.status <> 'void';
    IF p_with_repayments THEN
        INSERT INTO stats_pending (event)
        SELECT e FROM stats_repayment_events(p_rows, p_sign) e;
    END IF;
END $$;

-- One pending row per inserted loan, in one statement (the single post's path).
CREATE OR REPLACE FUNCTION stats_on_loan_insert() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_pending (sign, loan)
    SELECT 1, stats_loan_of(n) FROM new_rows n WHERE n.status <> 'void';
    RETURN NULL;
END $$;

-- On update only loans whose contribution can change are taken out and put back: those
-- whose status, dates, amounts, grouping or flags changed (a repayment alone changes just
-- repaid_fen). Their repayments move too when the bank, the manufacturing flag or the
-- void status changed.
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

-- One pending balance change per repayment of a loan that is not void.
CREATE OR REPLACE FUNCTION stats_on_repayment_insert() RETURNS trigger
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_pending (event)
    SELECT ROW(p.repaid_on, l.bank_code, l.manufacturing, -p.amount_fen)::stats_event
    FROM new_rows p JOIN loans l ON l.id = p.loan_id
    WHERE l.status <> 'void';
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER loans_stats_insert AFTER INSERT ON loans
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_on_loan_insert();

CREATE OR REPLACE TRIGGER loans_stats_update AFTER UPDATE ON loans
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_on_loan_update();

CREATE OR REPLACE TRIGGER repayments_stats_insert AFTER INSERT ON repayments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_on_repayment_insert();

-- Rebuilds every summary from the loans and repayments tables (after a bulk load with the
-- triggers disabled, or to check the summaries: compare before and after), the
-- guarantees outstanding from the guarantees (guarantee_outstanding_rebuild) and the
-- supply-chain financing (scf_financing_rebuild).
-- The loans go in order of issue date, @p_slice at a time, each slice folded at once:
-- memory holds one slice however many loans there are (the sort of every loan by date
-- spills to temporary files, about the size of the loans' statistics fields). A slice adds
-- to the new-loan rows of its few days and months, so each is written about once (a
-- bank's year rows once per slice of its year, and the balance rows of days that
-- repayments and renewals fall on, a few times). Slices by id
-- updated nearly every summary row in every slice, and in one transaction each update
-- left a dead version: at 3 M loans (bench/stats' loans) the new-loan summary took 1.4 GB
-- for 58 MB of rows, 25 times the pages for its readers (2 December 2026).
DROP FUNCTION IF EXISTS stats_rebuild();
CREATE OR REPLACE FUNCTION stats_rebuild(p_slice int DEFAULT 100000) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_slice stats_loan[] := '{}';
    v_n int := 0;
    r record;
BEGIN
    IF p_slice IS NULL OR p_slice < 1 THEN
        RAISE EXCEPTION 'stats_rebuild: a slice must hold at least one loan, not %', p_slice;
    END IF;
    PERFORM pg_advisory_xact_lock(7340012004);
    -- Every write that feeds these summaries and the guarantees' (guarantee_outstanding_
    -- rebuild, at the end) waits from here, before it takes any of their tables: those
    -- under way end first (repayments before loans, the order loan_repay writes them).
    -- Without it a void of a loan with guarantees that came while the loans were folded
    -- held the guarantees' pending changes (its row trigger) while it waited for
    -- stats_pending (its statement trigger), and the last step waited for it: a deadlock,
    -- the rebuild cancelled at its end (found by review).
    LOCK TABLE repayments, loans, guarantees IN SHARE MODE;
    -- DELETE, not TRUNCATE (as guarantee_outstanding_rebuild): the statistics readers are
    -- functions whose queries run on the snapshot of the statement that called them, taken
    -- before they waited for these locks, and TRUNCATE is not MVCC-safe: such a read saw
    -- empty summaries and answered zeros (test_stats_rebuild_reads). The deleted rows stay
    -- dead until vacuum: the summaries take twice their pages once. EXCLUSIVE, not ACCESS
    -- EXCLUSIVE: no write (the compactor waits for the lock taken first), and reads go on,
    -- answering the summaries as they were until this commits; so does the PREPARE of
    -- stats_pending_rows on every new connection of finregd, which waited for the whole
    -- rebuild (test_a_connection_opened_while_stats_rebuild_runs_serves_reads, review).
    LOCK TABLE stats_new_loans, stats_balance, stats_pending IN EXCLUSIVE MODE;
    DELETE FROM stats_new_loans;
    DELETE FROM stats_balance;
    DELETE FROM stats_pending;
    FOR r IN SELECT stats_loan_of(l) AS loan FROM loans l ORDER BY l.issue_date, l.id LOOP
        v_n := v_n + 1;
        v_slice[v_n] := r.loan;
        IF v_n >= p_slice THEN
            PERFORM stats_rebuild_fold(v_slice);
            v_slice := '{}';
            v_n := 0;
        END IF;
    END LOOP;
    PERFORM stats_rebuild_fold(v_slice);
    PERFORM guarantee_outstanding_rebuild();
    PERFORM scf_financing_rebuild();
END $$;

-- One slice of stats_rebuild(): its loans and their repayments, added to the summaries
-- directly (not through stats_pending: in one transaction its deleted rows stay, and every
-- later fold would read past them).
CREATE OR REPLACE FUNCTION stats_rebuild_fold(p_loans stats_loan[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7340012004);   -- no fold meanwhile (held already)
    PERFORM stats_new_loans_add(p_loans, 1);
    PERFORM stats_balance_add(ARRAY(SELECT e FROM stats_loan_events(p_loans, 1) e
                                    UNION ALL SELECT e FROM stats_repayment_events(p_loans, 1) e));
END $$;

-- Folds up to @p_limit pending rows into the summaries (a bounded transaction however far
-- behind it is) and returns how many it folded; the caller holds the compaction lock.
-- Each pending row adds up on its own, so any part of them can be folded: what is left
-- stays pending, and readers still add it.
DROP FUNCTION IF EXISTS stats_compact_locked();
CREATE OR REPLACE FUNCTION stats_compact_locked(p_limit int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_plus stats_loan[];
    v_minus stats_loan[];
    v_events stats_event[];
    v_n bigint;
BEGIN
    WITH d AS (
        DELETE FROM stats_pending p
        WHERE p.ctid = ANY (ARRAY(SELECT x.ctid FROM stats_pending x LIMIT p_limit))
        RETURNING p.sign, p.loan, p.event)
    SELECT array_agg(d.loan) FILTER (WHERE d.sign = 1),
           array_agg(d.loan) FILTER (WHERE d.sign = -1),
           array_agg(d.event) FILTER (WHERE d.sign IS NULL), count(*)
    INTO v_plus, v_minus, v_events, v_n
    FROM d;
    IF v_n = 0 THEN
        RETURN 0;
    END IF;
    PERFORM stats_new_loans_add(v_plus, 1);
    PERFORM stats_new_loans_add(v_minus, -1);
    PERFORM stats_balance_add(ARRAY(SELECT e FROM stats_loan_events(v_plus, 1) e
                                    UNION ALL SELECT e FROM stats_loan_events(v_minus, -1) e
                                    UNION ALL SELECT e FROM unnest(v_events) e));
    RETURN v_n;
END $$;

-- Folds up to @p_limit pending statistics rows, up to @p_limit pending balance-timeline
-- changes, up to @p_limit pending changes of guarantees outstanding (guarantees.sql) and
-- up to @p_limit of supply-chain financing (scf.sql) unless another session is doing it;
-- returns the largest of the four counts (so a
-- result of @p_limit means more may be pending; -1 when the lock was busy, or on a
-- standby). finregd's compactor calls it in chunks, one transaction each, until a chunk
-- comes back short: a backlog is folded in steps that each finish well within the
-- statement timeout, and what one step folded stays folded (one statement for a whole
-- backlog, cancelled by the timeout, made no progress at all, and the backlog, which
-- readers add, grew without end). finregd instances on a standby (dashboards reading a
-- replica) run the compactor too; a standby cannot write, and the instances on the
-- primary fold the pending rows, which then replicate: on a standby there is nothing to do.
DROP FUNCTION IF EXISTS stats_compact();
CREATE OR REPLACE FUNCTION stats_compact(p_limit int DEFAULT 100000) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_is_in_recovery() OR NOT pg_try_advisory_xact_lock(7340012004) THEN
        RETURN -1;
    END IF;
    RETURN greatest(stats_compact_locked(p_limit), watch_compact_locked(p_limit),
                    guarantee_outstanding_compact_locked(p_limit),
                    scf_financing_compact_locked(p_limit));
END $$;

-- New-loan figures over [@p_from, @p_to] along dimension @p_dim, read from year rows for
-- whole years (the bank dimension only), month rows for the whole months around them and
-- day rows for the ragged ends: a window by bank reads at most 2 x 11 month rows and
-- 2 x 30 day rows per key however many years it spans (the scorecard's window from
-- '-infinity' one row per earlier year).
-- @p_mfg: NULL = all. @p_bank: '*' = all banks, or one bank's code. @p_by_month: no year
-- rows (a row's period then lies in its month: the answer grouped by month).
-- Sums of amounts are numeric, as the summaries hold them (migration 025): absurd amounts
-- can pass a bigint of fen, and only a reader that shows such a sum fails (finregd checks
-- the range of what it reads; SQL callers cast after filtering by bank).
DROP FUNCTION IF EXISTS stats_new_loans_window(char, text, date, date, boolean);
DROP FUNCTION IF EXISTS stats_new_loans_window(char, text, date, date, boolean, boolean);
CREATE FUNCTION stats_new_loans_window(p_dim char, p_bank text, p_from date, p_to date,
                                       p_mfg boolean, p_by_month boolean DEFAULT false)
RETURNS TABLE (period date, key text, manufacturing boolean, n bigint, amount numeric,
               first_n bigint, first_amount numeric, credit_n bigint, credit_amount numeric,
               mlt_n bigint, mlt_amount numeric, renewal_n bigint, renewal_amount numeric,
               sm_n bigint, sm_amount numeric, sm_rate_x_amount numeric,
               sm_spread_amount numeric, sm_spread_x_amount numeric, scf_amount numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- The window is [p_from, v_end). Whole years [y_from, y_to) come from year rows; the
    -- parts before and after them, [p_from, y_from) and [y_to, v_end), from month rows for
    -- their whole months [lm_from, lm_to) and [rm_from, rm_to) and day rows for the rest.
    -- Each range is one index range scan of (dim, grain, bank_code, period).
    v_end date := p_to + 1;
    y_from date := CASE WHEN p_from = date_trunc('year', p_from)::date THEN p_from
                        ELSE (date_trunc('year', p_from) + interval '1 year')::date END;
    y_to date := date_trunc('year', p_to + 1)::date;
    lm_from date;
    lm_to date;
    rm_from date;
    rm_to date;
    v_bank text := CASE WHEN p_dim = 'b' THEN '*' ELSE p_bank END;
    v_key text := CASE WHEN p_dim = 'b' AND p_bank <> '*' THEN p_bank END;
BEGIN
    -- No whole year, or no year rows (asked for none; only the bank dimension has them):
    -- all of it is the part before.
    IF y_from >= y_to OR p_by_month OR p_dim <> 'b' THEN
        y_from := v_end;
        y_to := v_end;
    END IF;
    lm_from := CASE WHEN p_from = date_trunc('month', p_from)::date THEN p_from
                    ELSE (date_trunc('month', p_from) + interval '1 month')::date END;
    lm_to := date_trunc('month', y_from)::date;
    IF lm_from >= lm_to THEN
        lm_from := y_from;
        lm_to := y_from;
    END IF;
    rm_from := y_to;                -- a year's first day starts a month
    rm_to := date_trunc('month', v_end)::date;
    IF rm_from >= rm_to THEN
        rm_from := v_end;
        rm_to := v_end;
    END IF;
    -- The summaries, and what is pending of this bank's loans ('*': every bank's) issued
    -- in the window.
    RETURN QUERY
    SELECT s.period, s.key, s.manufacturing, s.n, s.amount, s.first_n, s.first_amount,
           s.credit_n, s.credit_amount, s.mlt_n, s.mlt_amount, s.renewal_n, s.renewal_amount,
           s.sm_n, s.sm_amount, s.sm_rate_x_amount, s.sm_spread_amount, s.sm_spread_x_amount,
           s.scf_amount
    FROM (WITH x AS MATERIALIZED (SELECT * FROM stats_pending_loans_in(p_bank, p_from, p_to))
          SELECT * FROM stats_new_loans
          UNION ALL SELECT n.* FROM x, stats_new_loans_of(x.plus, 1) n
          UNION ALL SELECT n.* FROM x, stats_new_loans_of(x.minus, -1) n) s
    WHERE s.dim = p_dim AND s.bank_code = v_bank
      AND (v_key IS NULL OR s.key = v_key) AND (p_mfg IS NULL OR s.manufacturing = p_mfg)
      AND ((s.grain = 'y' AND s.period >= y_from AND s.period < y_to)
        OR (s.grain = 'm' AND s.period >= lm_from AND s.period < lm_to)
        OR (s.grain = 'm' AND s.period >= rm_from AND s.period < rm_to)
        OR (s.grain = 'd' AND s.period >= p_from AND s.period < lm_from)
        OR (s.grain = 'd' AND s.period >= lm_to AND s.period < y_from)
        OR (s.grain = 'd' AND s.period >= y_to AND s.period < rm_from)
        OR (s.grain = 'd' AND s.period >= rm_to AND s.period < v_end));
END $$;

-- Balances at the end of @p_day0 and of @p_day1 per bank and manufacturing, in one read
-- of the summaries. The balance at the end of a day is the sum of the changes before the
-- next day: whole years before it, whole months of its year before it, then its month's
-- days; so a day that ends a month reads no day rows, one that ends a year year rows only.
DROP FUNCTION IF EXISTS stats_balance_growth(int, date);
DROP FUNCTION IF EXISTS stats_balance_on(date);
DROP FUNCTION IF EXISTS stats_balances_on(date, date);
CREATE FUNCTION stats_balances_on(p_day0 date, p_day1 date)
RETURNS TABLE (bank_code text, manufacturing boolean, balance0 numeric, balance1 numeric)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    e0 date := p_day0 + 1;   -- the day after: changes before it count
    y0 date := date_trunc('year', p_day0 + 1)::date;
    m0 date := date_trunc('month', p_day0 + 1)::date;
    e1 date := p_day1 + 1;
    y1 date := date_trunc('year', p_day1 + 1)::date;
    m1 date := date_trunc('month', p_day1 + 1)::date;
BEGIN
    RETURN QUERY
    SELECT s.bank_code, s.manufacturing,
           coalesce(sum(s.delta) FILTER (WHERE
               (s.grain = 'y' AND s.period < y0)
               OR (s.grain = 'm' AND s.period >= y0 AND s.period < m0)
               OR (s.grain = 'd' AND s.period >= m0 AND s.period < e0)), 0),
           coalesce(sum(s.delta) FILTER (WHERE
               (s.grain = 'y' AND s.period < y1)
               OR (s.grain = 'm' AND s.period >= y1 AND s.period < m1)
               OR (s.grain = 'd' AND s.period >= m1 AND s.period < e1)), 0)
    FROM stats_balance_all s
    WHERE (s.grain = 'y' AND s.period < y0)
       OR (s.grain = 'm' AND s.period >= y0 AND s.period < m0)
       OR (s.grain = 'd' AND s.period >= m0 AND s.period < e0)
       OR (s.grain = 'y' AND s.period < y1)
       OR (s.grain = 'm' AND s.period >= y1 AND s.period < m1)
       OR (s.grain = 'd' AND s.period >= m1 AND s.period < e1)
    GROUP BY s.bank_code, s.manufacturing;
END $$;

-- Balance at the end of @p_day per bank and manufacturing.
CREATE FUNCTION stats_balance_on(p_day date)
RETURNS TABLE (bank_code text, manufacturing boolean, balance numeric)
LANGUAGE sql STABLE AS $$
    SELECT b.bank_code, b.manufacturing, b.balance1 FROM stats_balances_on(p_day, p_day) b
$$;

-- The balances lending growth compares, per bank and manufacturing: at the start of
-- @p_year (the end of 31 December before) and at the end of @p_as_of. The lending-growth
-- answer, the targets and the scorecard read them here.
CREATE FUNCTION stats_balance_growth(p_year int, p_as_of date)
RETURNS TABLE (bank_code text, manufacturing boolean, outstanding_start numeric,
               outstanding_as_of numeric)
LANGUAGE sql STABLE AS $$
    SELECT b.bank_code, b.manufacturing, b.balance0, b.balance1
    FROM stats_balances_on(make_date(p_year, 1, 1) - 1, p_as_of) b
$$;

-- Lending growth of @p_year up to the end of @p_as_of, per bank and manufacturing: the
-- balance at the start of the year (end of 31 December before), at @p_as_of, and the
-- amount issued from 1 January to @p_as_of. @p_bank: '*' = every bank. A group with
-- nothing in any of the three is left out (whether the summaries hold a row of changes
-- that cancel out depends on what one fold saw together).
CREATE OR REPLACE FUNCTION stats_lending_growth(p_year int, p_as_of date, p_bank text)
RETURNS TABLE (bank_code text, manufacturing boolean, outstanding_start bigint,
               outstanding_as_of bigint, issued bigint)
LANGUAGE sql STABLE AS $$
    SELECT x.bank_code, x.manufacturing, sum(x.s)::bigint, sum(x.a)::bigint, sum(x.i)::bigint
    FROM (
        SELECT b.bank_code, b.manufacturing, b.outstanding_start AS s,
               b.outstanding_as_of AS a, 0 AS i
        FROM stats_balance_growth(p_year, p_as_of) b
        UNION ALL
        SELECT w.key, w.manufacturing, 0, 0, w.amount
        FROM stats_new_loans_window('b', p_bank, make_date(p_year, 1, 1), p_as_of, NULL) w) x
    WHERE p_bank = '*' OR x.bank_code = p_bank
    GROUP BY x.bank_code, x.manufacturing
    HAVING sum(x.s) <> 0 OR sum(x.a) <> 0 OR sum(x.i) <> 0
    ORDER BY x.bank_code, x.manufacturing
$$;

-- New inclusive small-micro loans issued from @p_from to @p_to (one month's days) and in the
-- same days a year before (a whole month's last day stands for the month's end: February
-- 2021 against the whole of February 2020): count, amount, amount-weighted average rate
-- and spread (exact until rounded to four decimals here), the change of the average rate
-- in percentage points rounded, and exact (change_exact, for judging a target).
CREATE OR REPLACE FUNCTION stats_pricing_period(p_bank text, p_from date, p_to date)
RETURNS TABLE (period date, n bigint, amount bigint, avg_rate text, avg_spread_bp text,
               change_pp text, change_exact numeric)
LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT m.period, coalesce(sum(w.sm_n), 0)::bigint AS n,
               coalesce(sum(w.sm_amount), 0)::bigint AS amount,
               sum(w.sm_rate_x_amount) AS rxa, sum(w.sm_spread_amount) AS sa,
               sum(w.sm_spread_x_amount) AS sxa
        FROM (VALUES (p_from, p_to),
                     ((p_from - interval '1 year')::date,
                      CASE WHEN p_to = (date_trunc('month', p_to) + interval '1 month - 1 day')::date
                           THEN (date_trunc('month', p_to - interval '1 year')
                                 + interval '1 month - 1 day')::date
                           ELSE (p_to - interval '1 year')::date END)) AS m(period, last)
        LEFT JOIN LATERAL stats_new_loans_window('b', p_bank, m.period, m.last, NULL) w ON true
        GROUP BY m.period),
    cur AS (SELECT * FROM p WHERE p.period = p_from),
    prev AS (SELECT * FROM p WHERE p.period <> p_from),
    change AS (SELECT CASE WHEN c.amount > 0 AND v.amount > 0
                           THEN (c.rxa / c.amount - v.rxa / v.amount) / 10000 END AS exact
               FROM cur c, prev v)
    SELECT p.period, p.n, p.amount,
           CASE WHEN p.amount > 0 THEN round(p.rxa / p.amount / 10000, 4)::text END,
           CASE WHEN p.sa > 0 THEN round(p.sxa / p.sa, 4)::text END,
           (SELECT round(x.exact, 4)::text FROM change x),
           (SELECT x.exact FROM change x)
    FROM p ORDER BY p.period DESC
$$;

-- The same for the whole month @p_month (first day) and that month a year before
-- (GET /v1/stats/pricing).
CREATE OR REPLACE FUNCTION stats_pricing_month(p_bank text, p_month date)
RETURNS TABLE (period date, n bigint, amount bigint, avg_rate text, avg_spread_bp text,
               change_pp text)
LANGUAGE sql STABLE AS $$
    SELECT x.period, x.n, x.amount, x.avg_rate, x.avg_spread_bp, x.change_pp
    FROM stats_pricing_period(p_bank, p_month,
                              (p_month + interval '1 month - 1 day')::date) x
$$;

-- The policy targets of @p_year with their actual figures as of @p_as_of, and how the
-- actual compares with the target (cmp: -1, 0, 1; NULL without an actual), judged on the
-- exact figure where the actual shown is rounded. Money in yuan. The pricing target
-- (domain.md 7.4: at most 0 every month, at most the year's stored target in December)
-- compares the month of @p_as_of up to it with the same days a year before. PL/pgSQL, so
-- a connection plans it once.
DROP FUNCTION IF EXISTS stats_targets(int, date);
CREATE FUNCTION stats_targets(p_year int, p_as_of date)
RETURNS TABLE (metric text, target numeric, actual numeric, cmp int)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH growth AS (
        SELECT sum(g.outstanding_as_of - g.outstanding_start) AS all_increase,
               sum(g.outstanding_as_of - g.outstanding_start)
                   FILTER (WHERE g.manufacturing) AS mfg_increase
        FROM stats_balance_growth(p_year, p_as_of) g),
    a AS (
        SELECT t.metric,
               CASE WHEN t.metric = 'small_micro_rate_change_pp'
                         AND extract(month FROM p_as_of) <> 12 THEN 0::numeric
                    ELSE t.target END AS target,
               CASE t.metric
               WHEN 'lending_increase' THEN (SELECT (coalesce(all_increase, 0)::numeric / 100)::numeric(20, 2) FROM growth)
               WHEN 'manufacturing_loan_increase'
                   THEN (SELECT (coalesce(mfg_increase, 0)::numeric / 100)::numeric(20, 2) FROM growth)
               WHEN 'small_micro_rate_change_pp'
                   THEN (SELECT x.change_exact
                         FROM stats_pricing_period('*', date_trunc('month', p_as_of)::date,
                                                   p_as_of) x LIMIT 1)
               WHEN 'guarantee_leverage' THEN stats_actual_guarantee_leverage(p_as_of)
               WHEN 'relief_referrals' THEN stats_actual_relief_referrals(p_as_of)
               END AS actual
        FROM targets t WHERE t.year = p_year)
    SELECT a.metric, a.target,
           CASE WHEN a.metric IN ('small_micro_rate_change_pp', 'guarantee_leverage') THEN round(a.actual, 4)
                ELSE a.actual END,
           sign(a.actual - a.target)::int
    FROM a ORDER BY a.metric;
END $$;
