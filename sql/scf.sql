-- N+1+N supply-chain finance (docs/domain.md, docs/scf.md): programs, their chain
-- members, the L021 check of loans posted under a program, financing figures and the
-- figures of the core enterprises' reward. Tables: migrations/007_scf.sql.

-- L021: bank @p_bank may lend to @p_uscc under program @p_program when it runs the
-- program and the firm is its core or a current member (joined, not left) at the time
-- of the post. Called by loan_ingest and loan_correct (loans.sql).
CREATE OR REPLACE FUNCTION loan_scf_allowed(p_bank text, p_program bigint, p_uscc text)
    RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (
        SELECT 1 FROM scf_programs p
        WHERE p.id = p_program AND p.bank_code = p_bank
          AND (p.core_uscc = p_uscc
               OR EXISTS (SELECT 1 FROM scf_members m
                          WHERE m.program_id = p.id AND m.uscc = p_uscc
                            AND m.left_on IS NULL)));

-- A firm's reference data as the {firm} object of the API.
CREATE OR REPLACE FUNCTION scf_firm_json(p_uscc text) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN (SELECT jsonb_build_object('uscc', f.uscc, 'name', f.name,
                                      'county_code', f.county_code,
                                      'industry_code', f.industry_code, 'size', f.size)
            FROM firms f WHERE f.uscc = p_uscc);

CREATE OR REPLACE FUNCTION scf_program_to_json(p scf_programs) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'id', p.id, 'bank_code', p.bank_code, 'name', p.name,
        'core', scf_firm_json(p.core_uscc), 'product', p.product,
        'credit_limit', fen_text(p.credit_limit_fen), 'started_on', p.started_on,
        'members_current', (SELECT count(*) FROM scf_members m
                            WHERE m.program_id = p.id AND m.left_on IS NULL),
        'created_at', ts_text(p.created_at));

-- One membership period.
CREATE OR REPLACE FUNCTION scf_member_to_json(m scf_members) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object(
        'program_id', m.program_id, 'uscc', m.uscc,
        'name', (SELECT f.name FROM firms f WHERE f.uscc = m.uscc),
        'side', m.side, 'current', m.left_on IS NULL, 'joined_on', m.joined_on,
        'left_on', m.left_on, 'left_reason', m.left_reason);

-- How many programs one bank may run around one core enterprise, and how many of one
-- bank's programs one firm may be a current member of: GET /v1/firms/{uscc} lists a firm's
-- programs (as core and as current member), so without these one bank's programs made
-- that answer grow without bound. 100 each: a core enterprise's chains at one bank are a
-- handful (Sanming's policy speaks of one program per core enterprise and bank).
CREATE OR REPLACE FUNCTION scf_programs_per_core_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 100;
CREATE OR REPLACE FUNCTION scf_memberships_per_firm_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 100;

-- Creates program @p_name of bank @p_bank around core @p_core (a {firm} object, recorded
-- through firms_upsert). Answers created, unchanged (the same bank, core and name with the
-- same terms: a safe retry) or rejected with code conflict (same name, other terms, or
-- the bank's scf_programs_per_core_max() programs around that core already).
CREATE OR REPLACE FUNCTION scf_program_create(p_bank text, p_name text, p_core jsonb, p_product text,
                                   p_credit_limit bigint, p_started_on date)
RETURNS TABLE (status text, code text, field text, message text, program jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    p scf_programs;
    v_exists boolean;
BEGIN
    -- The bank's programs around this core are counted under this lock (taken before the
    -- name's, which the previous release took alone).
    PERFORM pg_advisory_xact_lock(
        hashtextextended('scf-core:' || p_bank || ':' || (p_core->>'uscc'), 0));
    PERFORM pg_advisory_xact_lock(
        hashtextextended('scf:' || p_bank || ':' || (p_core->>'uscc') || ':' || p_name, 0));
    SELECT * INTO p FROM scf_programs x
    WHERE x.bank_code = p_bank AND x.core_uscc = p_core->>'uscc' AND x.name = p_name;
    v_exists := FOUND;
    IF v_exists AND (p.product, p.credit_limit_fen, p.started_on)
                 IS DISTINCT FROM (p_product, p_credit_limit, p_started_on) THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'name',
            format('program %s with this name and core enterprise already exists with other '
                   'terms (%s, credit limit %s, started on %s)', p.id, p.product,
                   fen_text(p.credit_limit_fen), p.started_on),
            NULL::jsonb;
        RETURN;
    END IF;
    IF NOT v_exists
       AND (SELECT count(*) FROM (SELECT 1 FROM scf_programs x
                                  WHERE x.bank_code = p_bank AND x.core_uscc = p_core->>'uscc'
                                  LIMIT scf_programs_per_core_max()) n)
           >= scf_programs_per_core_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'core',
            format('the bank runs %s programs around this core enterprise, the most it may',
                   scf_programs_per_core_max()),
            NULL::jsonb;
        RETURN;
    END IF;
    PERFORM firms_upsert(jsonb_build_array(p_core || '{"ord": 0}'), p_bank, 'scf');
    IF v_exists THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, scf_program_to_json(p);
        RETURN;
    END IF;
    INSERT INTO scf_programs (bank_code, name, core_uscc, product, credit_limit_fen,
                              started_on, created_by)
    VALUES (p_bank, p_name, p_core->>'uscc', p_product, p_credit_limit, p_started_on, p_bank)
    RETURNING * INTO p;
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, scf_program_to_json(p);
END $$;

-- How many membership periods (a firm's joining, and its leaving if it left) one program
-- holds: GET /v1/scf/programs/{id} answers every one (10,000 of some 250 bytes each).
CREATE OR REPLACE FUNCTION scf_member_periods_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 10000;

-- Adds firm @p_firm (a {firm} object) to program @p_program of bank @p_bank on side
-- @p_side from @p_joined_on (NULL: @p_today). Answers created; unchanged when the firm is
-- already a current member on that side (and @p_joined_on is NULL or its joining date);
-- rejected with not_found (no such program of this bank), invalid_field (the core itself,
-- a date before the program started or before the firm last left) or conflict (a current
-- member on the other side, or since another date, the program full, or the firm a
-- current member of scf_memberships_per_firm_max() of the bank's programs already).
CREATE OR REPLACE FUNCTION scf_member_add(p_bank text, p_program bigint, p_firm jsonb, p_side text,
                               p_joined_on date, p_today date)
RETURNS TABLE (status text, code text, field text, message text, member jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    p scf_programs;
    m scf_members;
    v_uscc text := p_firm->>'uscc';
    v_joined date := coalesce(p_joined_on, p_today);
BEGIN
    SELECT * INTO p FROM scf_programs x
    WHERE x.id = p_program AND x.bank_code = p_bank FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, 'no such program', NULL::jsonb;
        RETURN;
    ELSIF v_uscc = p.core_uscc THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'firm.uscc',
            'is the program''s core enterprise, which takes part without joining',
            NULL::jsonb;
        RETURN;
    END IF;
    SELECT * INTO m FROM scf_members x
    WHERE x.program_id = p.id AND x.uscc = v_uscc ORDER BY x.id DESC LIMIT 1;
    IF FOUND AND m.left_on IS NULL THEN
        IF m.side <> p_side THEN
            RETURN QUERY SELECT 'rejected', 'conflict', 'side',
                format('the firm is a current %s member since %s; it leaves before '
                       'joining on the other side', m.side, m.joined_on),
                NULL::jsonb;
        ELSIF p_joined_on IS NOT NULL AND p_joined_on <> m.joined_on THEN
            RETURN QUERY SELECT 'rejected', 'conflict', 'joined_on',
                format('the firm is a current member since %s', m.joined_on),
                NULL::jsonb;
        ELSE
            PERFORM firms_upsert(jsonb_build_array(p_firm || '{"ord": 0}'), p_bank, 'scf');
            RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, scf_member_to_json(m);
        END IF;
        RETURN;
    END IF;
    IF v_joined < p.started_on THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'joined_on',
            format('%s is before the program started (%s)', v_joined, p.started_on),
            NULL::jsonb;
        RETURN;
    ELSIF m.id IS NOT NULL AND v_joined < m.left_on THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'joined_on',
            format('%s is before the firm last left the program (%s)', v_joined,
                   m.left_on),
            NULL::jsonb;
        RETURN;
    END IF;
    -- The program's answer lists every period: bounded (counted under the program's row
    -- lock, which every change of its members takes first; at most the cap's index
    -- entries are read).
    IF (SELECT count(*) FROM (SELECT 1 FROM scf_members x WHERE x.program_id = p.id
                              LIMIT scf_member_periods_max()) n) >= scf_member_periods_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'firm',
            format('the program holds %s membership periods, the most one program may hold; '
                   'run another program', scf_member_periods_max()),
            NULL::jsonb;
        RETURN;
    END IF;
    -- The firm's current memberships in the bank's programs, counted under a lock of the
    -- bank and firm (joins to two programs at once each hold only their own program's row).
    PERFORM pg_advisory_xact_lock(hashtextextended('scf-member:' || p_bank || ':' || v_uscc, 0));
    IF (SELECT count(*) FROM (SELECT 1 FROM scf_members x
                              JOIN scf_programs g ON g.id = x.program_id
                              WHERE x.uscc = v_uscc AND x.left_on IS NULL
                                AND g.bank_code = p_bank
                              LIMIT scf_memberships_per_firm_max()) n)
       >= scf_memberships_per_firm_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'firm',
            format('the firm is a current member of %s of the bank''s programs, the most '
                   'it may be; it leaves one first', scf_memberships_per_firm_max()),
            NULL::jsonb;
        RETURN;
    END IF;
    PERFORM firms_upsert(jsonb_build_array(p_firm || '{"ord": 0}'), p_bank, 'scf');
    INSERT INTO scf_members (program_id, uscc, side, joined_on, created_by)
    VALUES (p.id, v_uscc, p_side, v_joined, p_bank) RETURNING * INTO m;
    RETURN QUERY SELECT 'created', NULL, NULL, NULL, scf_member_to_json(m);
END $$;

-- Member @p_uscc leaves program @p_program of bank @p_bank on @p_left_on (NULL:
-- @p_today) for @p_reason (may be NULL); the period is kept. Answers left; unchanged when
-- the firm has already left on that date (or @p_left_on is NULL) with the same reason;
-- rejected with not_found (no such program of this bank, or the firm never joined it),
-- conflict (left before, on another date or for another reason) or invalid_field (a date
-- before the firm joined).
CREATE OR REPLACE FUNCTION scf_member_leave(p_bank text, p_program bigint, p_uscc text, p_left_on date,
                                 p_today date, p_reason text)
RETURNS TABLE (status text, code text, field text, message text, member jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    p scf_programs;
    m scf_members;
    v_left date := coalesce(p_left_on, p_today);
BEGIN
    SELECT * INTO p FROM scf_programs x
    WHERE x.id = p_program AND x.bank_code = p_bank FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL, 'no such program', NULL::jsonb;
        RETURN;
    END IF;
    SELECT * INTO m FROM scf_members x
    WHERE x.program_id = p.id AND x.uscc = p_uscc ORDER BY x.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'rejected', 'not_found', NULL,
                            'the firm is not a member of this program', NULL::jsonb;
        RETURN;
    ELSIF m.left_on IS NOT NULL THEN
        IF (p_left_on IS NULL OR p_left_on = m.left_on)
           AND p_reason IS NOT DISTINCT FROM m.left_reason THEN
            RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, scf_member_to_json(m);
        ELSE
            RETURN QUERY SELECT 'rejected', 'conflict', NULL,
                format('the firm left the program on %s', m.left_on), NULL::jsonb;
        END IF;
        RETURN;
    ELSIF v_left < m.joined_on THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'left_on',
            format('%s is before the firm joined (%s)', v_left, m.joined_on),
            NULL::jsonb;
        RETURN;
    END IF;
    UPDATE scf_members x SET left_on = v_left, left_reason = p_reason, left_at = now(),
                             left_by = p_bank
    WHERE x.id = m.id RETURNING * INTO m;
    RETURN QUERY SELECT 'left', NULL, NULL, NULL, scf_member_to_json(m);
END $$;

-- ---------------------------------------------------------------- financing summary
-- What each program lent each borrower, by the loans' issue year (migration 032:
-- scf_financing, folded; scf_financing_pending, not yet). The invariant the triggers below
-- keep, in the transaction of every write of a loan: the summary and the pending changes
-- add up to scf_financing_of(l, 1) over every loan l under a program that is not void.
-- Every loan under a program is of the program's bank (L021, loan_scf_allowed, on every
-- post and correction), so the summary needs no bank.

-- Loan @l's contribution with sign @p_sign (1 adds, -1 takes away): one loan, its amount,
-- and what is outstanding on it now (an active loan's amount less its repayments). Only
-- for a loan under a program that is not void.
CREATE OR REPLACE FUNCTION scf_financing_of(l loans, p_sign int) RETURNS scf_financing_pending
    LANGUAGE sql IMMUTABLE
    RETURN ROW(l.scf_program_id, date_trunc('year', l.issue_date)::date, l.borrower_uscc,
               p_sign, p_sign * l.amount_fen::numeric,
               p_sign * CASE WHEN l.status = 'active' THEN l.amount_fen - l.repaid_fen
                             ELSE 0 END::numeric)::scf_financing_pending;

-- A loan under a program stored, or one whose figures may have changed: its old
-- contribution taken away, its new one added.
CREATE OR REPLACE FUNCTION scf_financing_on_loan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- FROM, not (scf_financing_of(..)).*, which calls the function once per column (50,000
    -- loans under a program in one INSERT: 9.8 s against 3.6 s, ad hoc).
    IF TG_OP = 'UPDATE' AND OLD.scf_program_id IS NOT NULL AND OLD.status <> 'void' THEN
        INSERT INTO scf_financing_pending SELECT f.* FROM scf_financing_of(OLD, -1) f;
    END IF;
    IF NEW.scf_program_id IS NOT NULL AND NEW.status <> 'void' THEN
        INSERT INTO scf_financing_pending SELECT f.* FROM scf_financing_of(NEW, 1) f;
    END IF;
    RETURN NULL;
END $$;

-- Row triggers whose WHEN is tested on the row without a call: a loan that is under no
-- program, before or after, costs its write nothing more (the batch and single-post
-- paths), and an update calls the function only when a field the summary holds changed.
-- A loan under a program pays a call, some 42 us (ad hoc, 50,000 loans in one INSERT:
-- 3.6 s against 1.5 s without the trigger). A statement trigger reading the transition
-- table cost such loans 9 us each but every other INSERT a call too (7-60 us a statement,
-- ad hoc: one more trigger on every group of single posts).
CREATE OR REPLACE TRIGGER loans_scf_financing_insert AFTER INSERT ON loans
    FOR EACH ROW WHEN (NEW.scf_program_id IS NOT NULL)
    EXECUTE FUNCTION scf_financing_on_loan();
CREATE OR REPLACE TRIGGER loans_scf_financing_update AFTER UPDATE ON loans
    FOR EACH ROW
    WHEN ((OLD.scf_program_id IS NOT NULL OR NEW.scf_program_id IS NOT NULL)
          AND (OLD.scf_program_id, OLD.issue_date, OLD.borrower_uscc, OLD.amount_fen,
               OLD.repaid_fen, OLD.status)
              IS DISTINCT FROM (NEW.scf_program_id, NEW.issue_date, NEW.borrower_uscc,
                                NEW.amount_fen, NEW.repaid_fen, NEW.status))
    EXECUTE FUNCTION scf_financing_on_loan();

-- Folds up to @p_limit pending changes into the summary (stats_compact, the caller holding
-- the compaction lock) and returns how many it folded.
CREATE OR REPLACE FUNCTION scf_financing_compact_locked(p_limit int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_n bigint;
BEGIN
    WITH d AS (
        DELETE FROM scf_financing_pending p
        WHERE p.ctid = ANY (ARRAY(SELECT x.ctid FROM scf_financing_pending x LIMIT p_limit))
        RETURNING p.*),
    folded AS (
        INSERT INTO scf_financing AS s
        SELECT d.program_id, d.year, d.borrower_uscc, sum(d.loans), sum(d.amount),
               sum(d.outstanding)
        FROM d GROUP BY 1, 2, 3
        ON CONFLICT (program_id, borrower_uscc, year) DO UPDATE SET
            loans = s.loans + EXCLUDED.loans, amount = s.amount + EXCLUDED.amount,
            outstanding = s.outstanding + EXCLUDED.outstanding)
    SELECT count(*) INTO v_n FROM d;
    RETURN v_n;
END $$;

-- Rebuilds the summary from the loans under a program (after migration 032, from
-- stats_rebuild, or to check the summary: compare before and after). Loan writes wait
-- meanwhile (SHARE on loans, taken first: a writer appends pending changes only after it
-- wrote a loan, so none holds them while it waits for this; summary_rebuilds_run runs this
-- rebuild before the others for that reason). DELETE, not TRUNCATE: a read that waits
-- for the lock after its snapshot answers what was there before (as
-- guarantee_outstanding_rebuild).
CREATE OR REPLACE FUNCTION scf_financing_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7340012004);   -- no fold meanwhile (stats_compact's lock)
    LOCK TABLE loans IN SHARE MODE;
    LOCK TABLE scf_financing, scf_financing_pending IN EXCLUSIVE MODE;
    DELETE FROM scf_financing;
    DELETE FROM scf_financing_pending;
    INSERT INTO scf_financing
    SELECT f.program_id, f.year, f.borrower_uscc, sum(f.loans), sum(f.amount),
           sum(f.outstanding)
    FROM loans l CROSS JOIN LATERAL scf_financing_of(l, 1) f
    WHERE l.scf_program_id IS NOT NULL AND l.status <> 'void'
    GROUP BY 1, 2, 3;
    DELETE FROM summary_rebuilds r WHERE r.summary = 'scf_financing';
END $$;

-- The financing of program @p_program (all its years), or of issue year @p_year (every
-- program), in parts to be added up per program and borrower: the summary's rows and the
-- pending changes. Exactly one of the two is given.
CREATE OR REPLACE FUNCTION scf_financing_parts(p_program bigint, p_year int)
RETURNS TABLE (program_id bigint, borrower_uscc text, loans bigint, amount numeric,
               outstanding numeric)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    y date := make_date(p_year, 1, 1);
BEGIN
    -- Asked for and not rebuilt yet (summary_rebuilds_run): no figure rather than a wrong
    -- one (503, retry; service/db/db.c summary_not_built).
    IF EXISTS (SELECT 1 FROM summary_rebuilds r WHERE r.summary = 'scf_financing') THEN
        RAISE EXCEPTION 'the supply-chain financing is asked for and not built yet'
            USING ERRCODE = 'lock_not_available', TABLE = 'summary_rebuilds';
    END IF;
    IF p_program IS NOT NULL THEN
        RETURN QUERY
        SELECT s.program_id, s.borrower_uscc, s.loans, s.amount, s.outstanding
        FROM scf_financing s WHERE s.program_id = p_program
        UNION ALL
        SELECT p.program_id, p.borrower_uscc, p.loans::bigint, p.amount, p.outstanding
        FROM scf_financing_pending p WHERE p.program_id = p_program;
    ELSE
        RETURN QUERY
        SELECT s.program_id, s.borrower_uscc, s.loans, s.amount, s.outstanding
        FROM scf_financing s WHERE s.year = y
        UNION ALL
        SELECT p.program_id, p.borrower_uscc, p.loans::bigint, p.amount, p.outstanding
        FROM scf_financing_pending p WHERE p.year = y;
    END IF;
END $$;

-- Financing figures of loans: count, amount and what is outstanding now (an active
-- loan's amount less its repayments; nothing for a repaid or renewed one).
CREATE OR REPLACE FUNCTION scf_financing_json(p_loans bigint, p_amount bigint, p_outstanding bigint)
    RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    RETURN jsonb_build_object('loans', coalesce(p_loans, 0),
                              'amount', fen_text(coalesce(p_amount, 0)),
                              'outstanding', fen_text(coalesce(p_outstanding, 0)));

-- Program @p_program (of bank @p_bank; NULL: of any bank) with the core's and every
-- member's financing under it (non-void loans, from the financing summary) and totals
-- against the credit limit;
-- NULL when there is no such program. A member is every firm that ever joined, with its
-- latest period on top and all its periods in "periods".
CREATE OR REPLACE FUNCTION scf_program_detail(p_program bigint, p_bank text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH prog AS (
        SELECT * FROM scf_programs x
        WHERE x.id = p_program AND (p_bank IS NULL OR x.bank_code = p_bank)),
    fin AS (
        SELECT f.borrower_uscc AS uscc, sum(f.loans)::bigint AS n,
               sum(f.amount)::bigint AS amount, sum(f.outstanding)::bigint AS outstanding
        FROM prog CROSS JOIN LATERAL scf_financing_parts(prog.id, NULL) f
        GROUP BY f.borrower_uscc
        HAVING sum(f.loans) > 0),
    latest AS (
        SELECT DISTINCT ON (m.uscc) m.*
        FROM scf_members m JOIN prog ON m.program_id = prog.id
        ORDER BY m.uscc, m.id DESC),
    totals AS (
        SELECT count(*) FILTER (WHERE f.uscc <> prog.core_uscc) AS members_financed,
               sum(f.n)::bigint AS loans, sum(f.amount)::bigint AS amount,
               sum(f.outstanding)::bigint AS outstanding
        FROM fin f, prog)
    SELECT scf_program_to_json(prog) || jsonb_build_object(
        'core_financing', (SELECT scf_financing_json(f.n, f.amount, f.outstanding)
                           FROM (SELECT NULL) one LEFT JOIN fin f ON f.uscc = prog.core_uscc),
        'members', coalesce((
            SELECT jsonb_agg(scf_member_to_json(m) - 'program_id'
                             || jsonb_build_object('periods', (
                                    SELECT jsonb_agg(jsonb_build_object(
                                               'side', h.side, 'joined_on', h.joined_on,
                                               'left_on', h.left_on,
                                               'left_reason', h.left_reason) ORDER BY h.id)
                                    FROM scf_members h
                                    WHERE h.program_id = m.program_id AND h.uscc = m.uscc))
                             || scf_financing_json(f.n, f.amount, f.outstanding)
                             ORDER BY m.left_on IS NOT NULL, m.side, m.uscc)
            FROM latest m LEFT JOIN fin f ON f.uscc = m.uscc), '[]'::jsonb),
        'totals', (SELECT scf_financing_json(t.loans, t.amount, t.outstanding)
                          || jsonb_build_object(
                              'credit_limit', fen_text(prog.credit_limit_fen),
                              'remaining', fen_text(prog.credit_limit_fen
                                                    - coalesce(t.outstanding, 0)),
                              'members_financed', t.members_financed)
                   FROM totals t))
    FROM prog;
$$;

-- Per core enterprise of a program started by the end of @p_year (or with financing in
-- it): the year's financing to its chain members under any of its programs, of any bank
-- (non-void loans issued in the year whose borrower is not the core itself), and how
-- many distinct members it went to, from the financing summary. The reward itself is
-- computed by finregd.
CREATE OR REPLACE FUNCTION scf_reward_figures(p_year int)
RETURNS TABLE (core_uscc text, core_name text, financing bigint, members_financed bigint)
LANGUAGE sql STABLE AS $$
    WITH pairs AS (   -- the year's financing per program and borrower
        SELECT f.program_id, f.borrower_uscc, sum(f.amount) AS amount
        FROM scf_financing_parts(NULL, p_year) f
        GROUP BY 1, 2
        HAVING sum(f.loans) > 0),
    fin AS (
        SELECT p.core_uscc, sum(x.amount)::bigint AS financing,
               count(DISTINCT x.borrower_uscc) AS members
        FROM pairs x JOIN scf_programs p ON p.id = x.program_id
        WHERE x.borrower_uscc <> p.core_uscc
        GROUP BY p.core_uscc),
    cores AS (
        SELECT p.core_uscc FROM scf_programs p WHERE p.started_on <= make_date(p_year, 12, 31)
        UNION
        SELECT f.core_uscc FROM fin f)
    SELECT c.core_uscc, firm.name, coalesce(f.financing, 0), coalesce(f.members, 0)
    FROM cores c
    JOIN firms firm ON firm.uscc = c.core_uscc
    LEFT JOIN fin f ON f.core_uscc = c.core_uscc
    ORDER BY c.core_uscc;
$$;
