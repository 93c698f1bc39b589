-- The loans: ingest (single posts and batches), correction, voiding, repayment, history,
-- warnings, and the loan as the API returns it. Tables and the item type loan_item
-- (what finregd sends, validated and derived in C) and loan_verdict: migrations 003 and
-- 008. Firms' reference data: firms.sql; the L021 check loan_scf_allowed: scf.sql; the
-- statistics triggers on loans and repayments: stats.sql.
--
-- The write path runs the same statements over and over with different values: its
-- functions (loan_ingest, loan_correct, loan_void, loan_repay, loan_warnings_raise, the
-- firm upserts, the statistics triggers) are SET plan_cache_mode = force_generic_plan.
-- Generic plans, made once per session, beat re-planning every call (custom plans) by far
-- for single loans, and cost nothing for batches (their look-ups are index probes). A
-- generic plan is made once, possibly while the tables are still empty: the ingest's
-- look-ups by key are written as fenced LATERAL probes so they stay per-item probes, but on
-- an empty table the planner may still probe loans_bank_id (every loan of the bank) instead
-- of the (bank_code, loan_ref) key; finregd makes its plans again each time the loans
-- table has doubled (db.c, db_plans_note_size).
-- PL/pgSQL rather than SQL on the write path: its plans are cached for the session instead
-- of being made anew at every call.

-- The items finregd sends carry no content since migration 021 (db/loan_item.def): the
-- type loses the attribute here, not in a migration, because `finregd migrate` commits each
-- migration before it applies these files, and the functions live until then (the
-- previous release's loan_ingest and loan_correct) read it. Here it goes in the same
-- transaction as the functions below that no longer do. Idempotent.
ALTER TYPE loan_item DROP ATTRIBUTE IF EXISTS content;

-- A loan's content: the loan as the bank posted it, validated, in the canonical form finregd
-- renders (json/loan_json.c, loan_input_to_json), built from the columns that hold each of
-- its fields. Since migration 021 loans.content is NULL for every loan stored or corrected
-- after it (the content is not written twice); rows stored before keep the jsonb they
-- were given, which loan_content_of reads first.
-- test_the_answer_finregd_renders_for_a_new_loan_is_byte_for_byte_what_the_database_gives
-- (tests/api/test_loans_ingest.py) checks that this and finregd's rendering agree byte for
-- byte.
CREATE OR REPLACE FUNCTION loan_content(
    p_loan_ref text, p_uscc text, p_name text, p_county_code text, p_industry_code text,
    p_size text, p_amount_fen bigint, p_issue_date date, p_maturity_date date, p_rate_e4 int,
    p_guarantee_mode text, p_guarantor_code text, p_first_loan boolean, p_renewal boolean,
    p_renews_loan_ref text, p_scf_program_id bigint, p_relief_fund boolean,
    p_credit_line_fen bigint)
RETURNS jsonb
LANGUAGE sql STABLE
RETURN jsonb_build_object(
    'loan_ref', p_loan_ref,
    'borrower', jsonb_build_object('uscc', p_uscc, 'name', p_name,
                                   'county_code', p_county_code,
                                   'industry_code', p_industry_code, 'size', p_size),
    'amount', fen_text(p_amount_fen),
    'issue_date', p_issue_date,
    'maturity_date', p_maturity_date,
    'rate', rate_text(p_rate_e4),
    'guarantee_mode', p_guarantee_mode,
    'guarantor_code', p_guarantor_code,
    'first_loan', p_first_loan,
    'renewal', p_renewal,
    'renews_loan_ref', p_renews_loan_ref,
    'scf_program_id', p_scf_program_id,
    'relief_fund', p_relief_fund,
    'credit_line', fen_text(p_credit_line_fen));

-- The content of stored loan @l (its own jsonb when it has one, see loan_content).
CREATE OR REPLACE FUNCTION loan_content_of(l loans) RETURNS jsonb
LANGUAGE sql STABLE
RETURN coalesce(l.content, loan_content(
    l.loan_ref, l.borrower_uscc, l.borrower_name, l.county_code, l.industry_code, l.size,
    l.amount_fen, l.issue_date, l.maturity_date, l.rate_e4, l.guarantee_mode,
    l.guarantor_code, l.first_loan, l.renewal, l.renews_loan_ref, l.scf_program_id,
    l.relief_fund, l.credit_line_fen));

-- The content of ingest item @i, as loan_content_of gives it once @i is stored.
CREATE OR REPLACE FUNCTION loan_item_content(i loan_item) RETURNS jsonb
LANGUAGE sql STABLE
RETURN loan_content(
    i.loan_ref, i.uscc, i.name, i.county_code, i.industry_code, i.size, i.amount_fen,
    i.issue_date, i.maturity_date, i.rate_e4, i.guarantee_mode, i.guarantor_code,
    i.first_loan, i.renewal, i.renews_loan_ref, i.scf_program_id, i.relief_fund,
    i.credit_line_fen);

-- Loans with money in yuan and rates in percent, for people reading the database. The
-- columns are listed, not l.*: a column added to loans later must not shift amount, rate
-- and remaining (CREATE OR REPLACE VIEW cannot rename a column).
CREATE OR REPLACE VIEW loans_readable AS
    SELECT l.id, l.bank_code, l.loan_ref, l.borrower_uscc, l.borrower_name, l.county_code,
           l.industry_code, l.size, l.amount_fen, l.issue_date, l.maturity_date, l.rate_e4,
           l.guarantee_mode, l.guarantor_code, l.first_loan, l.renewal, l.renews_loan_ref,
           l.renews_loan_id, l.scf_program_id, l.relief_fund, l.credit_line_fen,
           l.term_months, l.medium_long_term, l.manufacturing, l.inclusive_small_micro,
           l.lpr_tenor, l.lpr_e4, l.spread_bp, l.status, l.repaid_fen, l.renewed_on,
           l.renewed_by_id, l.void_reason, l.voided_at, loan_content_of(l) AS content,
           l.version, l.created_at,
           l.updated_at,
           fen_text(l.amount_fen) AS amount, rate_text(l.rate_e4) AS rate,
           fen_text(l.amount_fen - l.repaid_fen) AS remaining
    FROM loans l;

-- The loan as the API returns it, in two parts that PostgreSQL can inline into the query
-- that uses them, so that answering with many loans costs no function call per loan:
-- loan_facts(l), the facts read from other rows (a set-returning SQL function of one
-- SELECT, inlined into FROM), and loan_json_of(l, facts), the document (a SQL function of
-- one expression, inlined into the select list). loan_to_json(l) stays for single loans.
-- registry_first_loan, the rule's one home (W001 reads it too): no loan to the firm that
-- is not void was issued before @l. Read as the earliest issue date of the firm's loans
-- that are not void (loans_borrower_live, migration 029: one index entry whatever the
-- firm's void loans), not as "exists an earlier one", which walked every earlier void loan
-- of any bank to the firm (found by audit, 3 December 2026).
CREATE OR REPLACE FUNCTION loan_facts(l loans)
RETURNS TABLE (registry_first_loan boolean, warnings jsonb)
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT min(o.issue_date) FROM loans o
                     WHERE o.borrower_uscc = l.borrower_uscc AND o.status <> 'void')
                    >= l.issue_date, true),
           coalesce((
               SELECT jsonb_agg(jsonb_build_object('rule', w.rule, 'field', w.field,
                                                   'message', w.message) ORDER BY w.id)
               FROM loan_warnings w
               WHERE w.loan_id = l.id
                 AND w.version = coalesce((SELECT max(v.version) FROM loan_versions v
                                           WHERE v.loan_id = l.id AND v.change <> 'voided'),
                                          1)),
               '[]'::jsonb)
$$;

CREATE OR REPLACE FUNCTION loan_json_of(l loans, p_registry_first_loan boolean, p_warnings jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
RETURN loan_content_of(l) || jsonb_build_object(
    'bank_code', l.bank_code,
    'term_months', l.term_months,
    'medium_long_term', l.medium_long_term,
    'manufacturing', l.manufacturing,
    'inclusive_small_micro', l.inclusive_small_micro,
    'lpr_tenor', l.lpr_tenor,
    'lpr', rate_text(l.lpr_e4),
    'spread_bp', l.spread_bp,
    'registry_first_loan', p_registry_first_loan,
    'outstanding', fen_text(CASE WHEN l.status = 'active' THEN l.amount_fen - l.repaid_fen
                                 ELSE 0 END),
    'repaid', fen_text(l.repaid_fen),
    'status', l.status,
    'renewed_on', l.renewed_on,
    'void_reason', l.void_reason,
    'version', l.version,
    'warnings', p_warnings,
    'created_at', ts_text(l.created_at),
    'updated_at', ts_text(l.updated_at));

-- The stored loan as the API returns it (the posted content plus every derived field), for
-- one loan: loan_json_of over loan_facts.
CREATE OR REPLACE FUNCTION loan_to_json(l loans) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT loan_json_of(l, f.registry_first_loan, f.warnings) FROM loan_facts(l) f);
END $$;

-- A renewal must come after every repayment of the loan it renews, so a balance drops to
-- zero on the renewal date and never below.
CREATE OR REPLACE FUNCTION loan_repaid_on_or_after(p_loan bigint, p_day date) RETURNS boolean
    LANGUAGE sql STABLE
    RETURN EXISTS (SELECT 1 FROM repayments r WHERE r.loan_id = p_loan AND r.repaid_on >= p_day);

-- Stores a batch of validated loans for bank @p_bank. Per item it answers created,
-- unchanged (the same loan_ref with the same content is already stored) or rejected
-- (with the error's code, rule, field and message). With p_return_loans (single posts),
-- an unchanged item answers its stored loan as the API returns it (loan), and a created
-- one only what finregd cannot know of it: created_at (= updated_at), registry_first_loan
-- and warnings; finregd renders the rest of the answer from the item it sent
-- (json/loan_answer.c: a new loan is version 1, active, nothing repaid), byte for byte
-- what loan_to_json gives (tests/api/test_loans_ingest.py compares). Atomic: any rejection stores
-- nothing. Dry run: stores nothing either way. The database checks live here: a loan_ref
-- stored with other content (409), the guarantor and its mode (L013), the renewed loan (L016), one
-- relief-fund loan per firm (L019) and the supply-chain program (L021). No lock per
-- bank (migration 008 took the bucket locks away):
--  * loans are inserted in loan_ref order with ON CONFLICT DO NOTHING: an ingest meeting
--    a loan_ref another one has just inserted waits for that one's commit; two ingests
--    take their loan_refs in the same order, so they cannot deadlock on them;
--  * an item whose loan_ref another ingest stored between this one's checks and its
--    insert answers unchanged or conflict against the stored row; when it counted in the
--    batch's own checks (one relief-fund loan per firm, one renewal per loan, a repeated
--    loan_ref) or the batch is atomic, the ingest rolls back with serialization_failure
--    (40001) instead and finregd runs it again, judging every item against what is
--    stored (so an atomic batch is rejected whole);
--  * firms' reference data is recorded after the insert, from the stored items only (the
--    borrower foreign key is checked at commit for that reason);
--  * the loans a new loan renews are updated only when there are some: an UPDATE of no
--    rows still fires the statistics update trigger, which matters most to single posts,
--    stored in small groups (db/loan_group.c).
--
-- The items come as one array per field of loan_item, p_idx to p_spread_bp, in the type's
-- attribute order (finregd builds them from service/db/loan_item.def; a test checks that
-- list, the type and these parameters agree), turned into rows by one multi-argument
-- unnest: no JSON document of the batch is built, sent or parsed (issue 11; it used to be
-- jsonb read by jsonb_populate_recordset).
DROP FUNCTION IF EXISTS loan_ingest(text, jsonb, boolean, boolean, boolean);
-- Until issue 11's answer in C the function returned (idx ... message, loan) only: a
-- function's result type cannot be replaced, so that one is dropped first (its item
-- arrays still began with the contents, p_content jsonb[], as the compatibility
-- function below does).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'loan_ingest'
               AND pg_get_function_result(oid) NOT LIKE '%warnings jsonb%') THEN
        DROP FUNCTION loan_ingest(text, boolean, boolean, boolean, int[], text[], jsonb[],
            text[], text[], text[], text[], text[], bigint[], date[], date[], int[], text[],
            text[], boolean[], boolean[], text[], bigint[], boolean[], bigint[], int[],
            boolean[], boolean[], boolean[], text[], int[], int[]);
    END IF;
END $$;

-- The ingest as a finregd built before migration 021 calls it: with the items' contents,
-- p_content, which the items' fields now give (loan_item_content). An instance still
-- running that build after `finregd migrate` keeps storing loans (the contents it sends
-- are the ones loan_content builds, so they are dropped). Remove it once no such finregd
-- runs: a rolling upgrade restarts every instance after the migrate.
CREATE OR REPLACE FUNCTION loan_ingest(
    p_bank text, p_atomic boolean, p_dry_run boolean, p_return_loans boolean,
    p_idx int[], p_loan_ref text[], p_content jsonb[], p_uscc text[], p_name text[],
    p_county_code text[], p_industry_code text[], p_size text[], p_amount_fen bigint[],
    p_issue_date date[], p_maturity_date date[], p_rate_e4 int[], p_guarantee_mode text[],
    p_guarantor_code text[], p_first_loan boolean[], p_renewal boolean[],
    p_renews_loan_ref text[], p_scf_program_id bigint[], p_relief_fund boolean[],
    p_credit_line_fen bigint[], p_term_months int[], p_medium_long_term boolean[],
    p_manufacturing boolean[], p_inclusive_small_micro boolean[], p_lpr_tenor text[],
    p_lpr_e4 int[], p_spread_bp int[])
RETURNS TABLE (idx int, status text, code text, rule text, field text, message text,
               loan jsonb, created_at text, registry_first_loan boolean, warnings jsonb)
LANGUAGE sql AS $$
    SELECT * FROM loan_ingest(
        p_bank, p_atomic, p_dry_run, p_return_loans, p_idx, p_loan_ref, p_uscc, p_name,
        p_county_code, p_industry_code, p_size, p_amount_fen, p_issue_date, p_maturity_date,
        p_rate_e4, p_guarantee_mode, p_guarantor_code, p_first_loan, p_renewal,
        p_renews_loan_ref, p_scf_program_id, p_relief_fund, p_credit_line_fen, p_term_months,
        p_medium_long_term, p_manufacturing, p_inclusive_small_micro, p_lpr_tenor, p_lpr_e4,
        p_spread_bp)
$$;
CREATE OR REPLACE FUNCTION loan_ingest(
    p_bank text, p_atomic boolean, p_dry_run boolean, p_return_loans boolean,
    p_idx int[], p_loan_ref text[], p_uscc text[], p_name text[],
    p_county_code text[], p_industry_code text[], p_size text[], p_amount_fen bigint[],
    p_issue_date date[], p_maturity_date date[], p_rate_e4 int[], p_guarantee_mode text[],
    p_guarantor_code text[], p_first_loan boolean[], p_renewal boolean[],
    p_renews_loan_ref text[], p_scf_program_id bigint[], p_relief_fund boolean[],
    p_credit_line_fen bigint[], p_term_months int[], p_medium_long_term boolean[],
    p_manufacturing boolean[], p_inclusive_small_micro boolean[], p_lpr_tenor text[],
    p_lpr_e4 int[], p_spread_bp int[])
RETURNS TABLE (idx int, status text, code text, rule text, field text, message text,
               loan jsonb, created_at text, registry_first_loan boolean, warnings jsonb)
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
DECLARE
    v_items loan_item[];
    v_verdicts loan_verdict[];
    v_ids bigint[] := '{}';
    v_refs text[] := '{}';
    v_lost int[];
    v_renewed bigint[];
    v_store boolean;
    v_ok int;          -- items judged 'ok' (as first judged: not after the lost-item path)
    v_refused boolean; -- an item neither 'ok' nor 'unchanged' (likewise)
BEGIN
    v_items := ARRAY(
        SELECT x FROM (
            SELECT ROW(u.*)::loan_item AS x
            FROM unnest(p_idx, p_loan_ref, p_uscc, p_name, p_county_code,
                        p_industry_code, p_size, p_amount_fen, p_issue_date, p_maturity_date,
                        p_rate_e4, p_guarantee_mode, p_guarantor_code, p_first_loan, p_renewal,
                        p_renews_loan_ref, p_scf_program_id, p_relief_fund, p_credit_line_fen,
                        p_term_months, p_medium_long_term, p_manufacturing,
                        p_inclusive_small_micro, p_lpr_tenor, p_lpr_e4, p_spread_bp) u) s
        ORDER BY (s.x).idx);
    IF cardinality(v_items) = 0 THEN
        RETURN;
    END IF;

    -- Serialise work on the same renewed loans and on the same relief-fund borrowers.
    -- (Each look-up by key below is a LATERAL subquery with OFFSET 0, a fence that keeps it
    -- a per-item index probe: a plan made while the tables were empty must not turn it
    -- into a scan of every stored loan once they are not.) Each statement runs only when an
    -- item needs it: a statement costs its plan's start-up whatever its rows, and the tests
    -- on the arrays are simple expressions, which PL/pgSQL evaluates without starting a
    -- plan (no SPI, no ExecutorStart).
    IF num_nonnulls(VARIADIC p_renews_loan_ref) > 0 THEN
        PERFORM 1
        FROM (SELECT DISTINCT i.renews_loan_ref AS ref FROM unnest(v_items) i
              WHERE i.renews_loan_ref IS NOT NULL ORDER BY 1) r
        CROSS JOIN LATERAL (SELECT t.id FROM loans t
                            WHERE t.bank_code = p_bank AND t.loan_ref = r.ref
                            FOR UPDATE) t;
    END IF;
    IF true = ANY (p_relief_fund) THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('relief:' || r.u, 0))
        FROM (SELECT DISTINCT i.uscc AS u FROM unnest(v_items) i WHERE i.relief_fund
              ORDER BY 1) r;
    END IF;

    WITH
        -- Stage one: each item against what is stored. Its content (migration 021: built
        -- from its fields, not sent) is built only to compare it with a stored loan's or
        -- with an earlier item's of the same loan_ref (below).
        judged AS (
            SELECT i.idx, i.loan_ref, i.uscc, i.relief_fund, i.renews_loan_ref, i AS item,
                   CASE
                   WHEN i.guarantor_code IS NOT NULL AND i.guarantee_mode <> 'guaranteed'
                        THEN 'L013m:' || i.guarantee_mode
                   WHEN e.id IS NOT NULL AND e.content = loan_item_content(i)
                        THEN 'unchanged'
                   WHEN e.id IS NOT NULL THEN 'conflict'
                   WHEN i.guarantor_code IS NOT NULL AND NOT EXISTS (
                            SELECT 1 FROM principals p
                            WHERE p.code = i.guarantor_code AND p.kind = 'guarantor'
                                  AND p.active) THEN 'L013'
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
            FROM unnest(v_items) i
            LEFT JOIN LATERAL (SELECT x.id, loan_content_of(x) AS content, x.version
                               FROM loans x
                               WHERE x.bank_code = p_bank AND x.loan_ref = i.loan_ref
                               OFFSET 0) e ON true
            LEFT JOIN LATERAL (SELECT x.id, x.borrower_uscc, x.status, x.issue_date FROM loans x
                               WHERE i.renewal AND x.bank_code = p_bank
                                 AND x.loan_ref = i.renews_loan_ref
                               OFFSET 0) r ON true),
        -- Stage two: uniqueness inside the batch, among the items still standing. An item
        -- whose guarantor_code goes with another mode (L013m, judged on the item alone) is
        -- a batch of its own: it shares no loan_ref with the others.
        ranked AS (
            SELECT j.*,
                   row_number() OVER (PARTITION BY j.loan_ref, j.alone ORDER BY j.idx)
                       AS ref_rank,
                   first_value(j.item) OVER (PARTITION BY j.loan_ref, j.alone ORDER BY j.idx)
                       AS ref_first,
                   row_number() OVER (PARTITION BY j.verdict = 'ok' AND j.relief_fund, j.uscc
                                      ORDER BY j.idx) AS relief_rank,
                   row_number() OVER (PARTITION BY j.verdict = 'ok', j.renews_loan_ref
                                      ORDER BY j.idx) AS renew_rank
            FROM (SELECT j0.*, CASE WHEN j0.verdict LIKE 'L013m:%' THEN j0.idx END AS alone
                  FROM judged j0) j),
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
            SELECT a.*, first_value(a.own_verdict) OVER (PARTITION BY a.loan_ref, a.alone
                                                         ORDER BY a.idx) AS first_verdict
            FROM adjusted a)
    SELECT array_agg(ROW(k.idx, k.loan_ref, k.verdict, k.stored_version,
                         k.renewed_status)::loan_verdict ORDER BY k.idx),
           count(*) FILTER (WHERE k.verdict = 'ok'),
           coalesce(bool_or(k.verdict NOT IN ('ok', 'unchanged')), false)
    INTO v_verdicts, v_ok, v_refused
    FROM (SELECT f.idx, f.loan_ref, f.stored_version, f.renewed_status,
                 CASE
                 WHEN f.ref_rank > 1
                      AND loan_item_content(f.item) <> loan_item_content(f.ref_first)
                      THEN 'dup_conflict'
                 WHEN f.ref_rank > 1 AND f.first_verdict IN ('ok', 'unchanged') THEN 'unchanged'
                 WHEN f.ref_rank > 1 THEN f.first_verdict
                 ELSE f.own_verdict END AS verdict
          FROM firsts f) k;

    v_store := NOT p_dry_run AND NOT (p_atomic AND v_refused);

    IF v_store THEN
        -- In loan_ref order: two ingests meeting on several loan_refs wait for each other
        -- in the same order, never in a cycle. The ids are drawn first, in batch order, so
        -- that lists (ordered by id) show a batch's loans as they were posted.
        WITH fresh AS (
            INSERT INTO loans (id, bank_code, loan_ref, borrower_uscc, borrower_name, county_code,
                               industry_code, size, amount_fen, issue_date, maturity_date,
                               rate_e4, guarantee_mode, guarantor_code, first_loan, renewal,
                               renews_loan_ref, renews_loan_id, scf_program_id, relief_fund,
                               credit_line_fen, term_months, medium_long_term, manufacturing,
                               inclusive_small_micro, lpr_tenor, lpr_e4, spread_bp)
            SELECT i.id, p_bank, i.loan_ref, i.uscc, i.name, i.county_code, i.industry_code, i.size,
                   i.amount_fen, i.issue_date, i.maturity_date, i.rate_e4, i.guarantee_mode,
                   i.guarantor_code, i.first_loan, i.renewal, i.renews_loan_ref,
                   (SELECT r.id FROM loans r
                    WHERE i.renewal AND r.bank_code = p_bank AND r.loan_ref = i.renews_loan_ref),
                   i.scf_program_id, i.relief_fund, i.credit_line_fen, i.term_months,
                   i.medium_long_term, i.manufacturing, i.inclusive_small_micro, i.lpr_tenor,
                   i.lpr_e4, i.spread_bp
            FROM (SELECT o.*, nextval('loans_id_seq') AS id
                  FROM (SELECT i.* FROM unnest(v_items) i JOIN unnest(v_verdicts) v
                                      ON v.idx = i.idx AND v.verdict = 'ok'
                        ORDER BY i.idx) o) i
            ORDER BY i.loan_ref
            ON CONFLICT ON CONSTRAINT loans_bank_code_loan_ref_key DO NOTHING
            RETURNING id, loan_ref, renews_loan_id)
        -- No loan_versions row: version 1 is the loan row itself until a correction
        -- (loan_version_one, migration 017).
        SELECT coalesce(array_agg(f.id), '{}'), coalesce(array_agg(f.loan_ref), '{}'),
               array_agg(f.id) FILTER (WHERE f.renews_loan_id IS NOT NULL)
        INTO v_ids, v_refs, v_renewed FROM fresh f;

        IF v_renewed IS NOT NULL THEN
            UPDATE loans t SET status = 'renewed', renewed_on = f.issue_date,
                               renewed_by_id = f.id, updated_at = now()
            FROM loans f WHERE f.id = ANY (v_renewed) AND t.id = f.renews_loan_id;
        END IF;
        -- Items whose loan_ref another ingest stored after our checks ("lost"). When one
        -- counted in the batch's own checks (a relief-fund loan, a renewal, a repeated
        -- loan_ref) or the batch is atomic, the whole ingest is judged again (40001, run
        -- again by finregd). Otherwise each lost item answers against the stored row, as
        -- a retry would, and the rest stands: a large batch is not sent round again for
        -- every loan_ref a stream of single posts takes from it.
        IF cardinality(v_ids) < v_ok THEN
            v_lost := ARRAY(SELECT v.idx FROM unnest(v_verdicts) v
                            WHERE v.verdict = 'ok' AND v.loan_ref <> ALL (v_refs));
            IF p_atomic OR EXISTS (
                    SELECT 1 FROM unnest(v_items) i
                    WHERE i.idx = ANY (v_lost) AND (i.relief_fund OR i.renewal)) OR EXISTS (
                    SELECT 1 FROM unnest(v_verdicts) l JOIN unnest(v_verdicts) o
                                  ON o.loan_ref = l.loan_ref AND o.idx <> l.idx
                    WHERE l.idx = ANY (v_lost)) THEN
                RAISE EXCEPTION 'loan_ref stored by a concurrent ingest; judge again'
                    USING ERRCODE = 'serialization_failure';
            END IF;
            v_verdicts := ARRAY(
                SELECT CASE WHEN s.version IS NULL THEN v
                            ELSE ROW(v.idx, v.loan_ref,
                                     CASE WHEN s.content = loan_item_content(i)
                                          THEN 'unchanged'
                                          ELSE 'conflict' END,
                                     s.version, v.renewed_status)::loan_verdict END
                FROM unnest(v_verdicts) v
                JOIN unnest(v_items) i ON i.idx = v.idx
                LEFT JOIN LATERAL (SELECT loan_content_of(y) AS content, y.version FROM loans y
                                   WHERE v.idx = ANY (v_lost) AND y.bank_code = p_bank
                                     AND y.loan_ref = v.loan_ref OFFSET 0) s ON true
                ORDER BY v.idx);
        END IF;
        IF cardinality(v_ids) > 0 THEN
            PERFORM firms_upsert_items(ARRAY(
                SELECT i FROM unnest(v_items) i
                JOIN unnest(v_verdicts) v ON v.idx = i.idx AND v.verdict = 'ok'),
                p_bank, 'loan');
            PERFORM loan_warnings_raise(v_ids);
        END IF;
    END IF;

    RETURN QUERY
    WITH final AS (
        -- With the stored loan when it is to be returned.
        SELECT v.idx AS i, v.loan_ref AS ref, v.verdict AS v, v.stored_version,
               v.renewed_status, l.lrow
        FROM unnest(v_verdicts) v
        LEFT JOIN LATERAL (SELECT y AS lrow FROM loans y
                           WHERE p_return_loans AND v.verdict IN ('ok', 'unchanged')
                             AND y.bank_code = p_bank AND y.loan_ref = v.loan_ref OFFSET 0) l
               ON true),
    answer AS (
        SELECT f.i,
               CASE WHEN f.v = 'ok' THEN 'created' WHEN f.v = 'unchanged' THEN 'unchanged'
                    ELSE 'rejected' END AS status,
               CASE WHEN f.v IN ('ok', 'unchanged') THEN NULL
                    WHEN f.v IN ('conflict', 'dup_conflict') THEN 'conflict'
                    ELSE 'invalid_field' END AS code,
               CASE WHEN f.v LIKE 'L%' THEN left(f.v, 4) END AS rule,
               CASE WHEN f.v IN ('conflict', 'dup_conflict') THEN 'loan_ref'
                    WHEN f.v LIKE 'L013%' THEN 'guarantor_code'
                    WHEN f.v LIKE 'L016%' THEN 'renews_loan_ref'
                    WHEN f.v = 'L019' THEN 'relief_fund'
                    WHEN f.v = 'L021' THEN 'scf_program_id' END AS field,
               CASE WHEN f.v LIKE 'L013m:%'
                    THEN format('is only allowed with guarantee_mode "guaranteed" (not "%s")',
                                substr(f.v, 7)) ELSE
               CASE f.v
               WHEN 'conflict' THEN format('loan_ref %s is already stored with different '
                                          'content (version %s); correct it with PUT and '
                                          'If-Match', f.ref,
                                          coalesce(f.stored_version, (f.lrow).version))
               WHEN 'dup_conflict' THEN format('loan_ref %s appears earlier in this batch with '
                                              'different content', f.ref)
               WHEN 'L013' THEN 'no active registered guarantor has this code'
               WHEN 'L016a' THEN 'no loan of this bank has this loan_ref'
               WHEN 'L016b' THEN 'the renewed loan was made to another borrower'
               WHEN 'L016c' THEN format('the renewed loan is %s, not active', f.renewed_status)
               WHEN 'L016d' THEN 'the renewed loan must be issued, and any of its repayments dated, before the renewal'
               WHEN 'L016e' THEN 'another loan of this batch already renews that loan'
               WHEN 'L019' THEN 'the firm already has a relief-fund loan'
               WHEN 'L021' THEN 'no supply-chain program with this id is run by this bank with '
                                'the borrower as its core or a current member'
               END END AS message,
               CASE WHEN p_return_loans AND (f.lrow).id IS NOT NULL AND f.v = 'unchanged'
                    THEN loan_json_of(f.lrow, x.registry_first_loan, x.warnings) END AS loan,
               CASE WHEN f.v = 'ok' THEN ts_text((f.lrow).created_at) END AS created_at,
               CASE WHEN f.v = 'ok' THEN x.registry_first_loan END AS registry_first_loan,
               CASE WHEN f.v = 'ok' THEN x.warnings END AS warnings
        FROM final f
        LEFT JOIN LATERAL (SELECT * FROM loan_facts(f.lrow)
                           WHERE p_return_loans AND (f.lrow).id IS NOT NULL) x ON true)
    SELECT a.i, a.status, a.code, a.rule, a.field, a.message, a.loan, a.created_at,
           a.registry_first_loan, a.warnings
    FROM answer a ORDER BY a.i;
END $$;

-- Raises the warnings of loans @p_ids at their current version: W001 when the bank's
-- first_loan flag disagrees with the registry (no earlier non-void loan to the firm).
CREATE OR REPLACE FUNCTION loan_warnings_raise(p_ids bigint[]) RETURNS void
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO loan_warnings (loan_id, version, bank_code, loan_ref, rule, field, message)
    SELECT l.id, l.version, l.bank_code, l.loan_ref, 'W001', 'first_loan',
           CASE WHEN l.first_loan
                THEN 'first_loan is true, but the registry holds an earlier loan to this firm'
                ELSE 'first_loan is false, but the registry holds no earlier loan to this firm'
           END
    FROM loans l CROSS JOIN LATERAL loan_facts(l) f
    WHERE l.id = ANY (p_ids) AND l.first_loan <> f.registry_first_loan;
END $$;

-- Status a loan returns to when it stops being renewed (its renewal corrected or voided).
CREATE OR REPLACE FUNCTION loan_unrenewed_status(l loans) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN CASE WHEN l.repaid_fen >= l.amount_fen THEN 'repaid' ELSE 'active' END;

-- Replaces loan @p_ref's content (a correction) when @p_version is its current version.
-- Same checks as ingest, and L052 when another loan renews this one; the old version stays
-- in loan_versions; a changed renewal link releases the loan renewed before and marks the
-- new one.
CREATE OR REPLACE FUNCTION loan_correct(p_bank text, p_ref text, p_version int, p_item jsonb)
RETURNS TABLE (status text, code text, rule text, field text, message text, loan jsonb)
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
DECLARE
    i loan_item := jsonb_populate_record(NULL::loan_item, p_item);
    l loans;
    t loans;
    v_renewal loans;
    v_new_target bigint;
    v_field text;
    v_guarantor text;
BEGIN
    IF i.guarantor_code IS NOT NULL AND i.guarantee_mode <> 'guaranteed' THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L013', 'guarantor_code',
            format('is only allowed with guarantee_mode "guaranteed" (not "%s")',
                   i.guarantee_mode), NULL::jsonb;
        RETURN;
    END IF;
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
    ELSIF loan_content_of(l) = loan_item_content(i) THEN
        RETURN QUERY SELECT 'unchanged', NULL, NULL, NULL, NULL, loan_to_json(l);
        RETURN;
    ELSIF l.version >= loan_versions_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'L053', 'loan_ref',
            format('the loan is at version %s, the most corrections may take it to; void it '
                   'and post the loan under a new loan_ref', l.version), NULL::jsonb;
        RETURN;
    END IF;
    IF i.guarantor_code IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM principals p
            WHERE p.code = i.guarantor_code AND p.kind = 'guarantor' AND p.active)
    THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L013', 'guarantor_code',
                            'no active registered guarantor has this code', NULL::jsonb;
        RETURN;
    END IF;
    -- L051: the guarantees posted on the loan stay its own (guarantee_post's conditions).
    -- Holding the loan row, no guarantee can be posted meanwhile.
    SELECT CASE WHEN i.guarantee_mode <> 'guaranteed' THEN 'guarantee_mode'
                WHEN i.uscc <> g.borrower_uscc THEN 'borrower.uscc'
                ELSE 'guarantor_code' END,
           g.guarantor_code
    INTO v_field, v_guarantor
    FROM guarantees g
    WHERE g.loan_id = l.id
      AND NOT (i.guarantee_mode = 'guaranteed' AND i.uscc = g.borrower_uscc
               AND (i.guarantor_code IS NULL OR i.guarantor_code = g.guarantor_code))
    LIMIT 1;
    IF v_field IS NOT NULL THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L051', v_field,
            format('guarantor %s has posted a guarantee on this loan: it stays guaranteed, '
                   'naming that guarantor or none, and made to the same borrower',
                   v_guarantor), NULL::jsonb;
        RETURN;
    END IF;
    IF i.amount_fen < l.amount_fen
       AND pg_advisory_xact_lock(hashtextextended('guarantee-loan:' || l.id, 0)) IS NOT NULL
       AND guarantee_peak_on_loan(l.id, '-infinity', 'infinity') > i.amount_fen THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L050', 'amount',
            format('the loan''s guarantees add up to %s on a day; a guarantor must release '
                   'some before the amount is lowered',
                   fen_text(guarantee_peak_on_loan(l.id, '-infinity', 'infinity'))), NULL::jsonb;
        RETURN;
    END IF;
    -- L052: a loan that another loan renews stays a loan that renewal may renew (L016 from
    -- this side): made to the same borrower and issued before it. The ingest and a
    -- correction of the renewal (L016) and a correction of the renewed loan (here) each keep
    -- every renewed loan issued before its renewal, so issue dates rise strictly along any
    -- chain of renewals and none comes back to a loan it left: no loans renew each other
    -- (a correction making this loan renew its own renewal fails here or on L016). Every
    -- write that makes or keeps the link locks this row (the ingest's and L016's FOR UPDATE
    -- of the renewed loan) and reads it after the lock, before it writes its own dates; with
    -- this row locked, the renewal is read without a lock of its own.
    IF l.renewed_by_id IS NOT NULL THEN
        SELECT * INTO v_renewal FROM loans x WHERE x.id = l.renewed_by_id;
        IF i.uscc <> v_renewal.borrower_uscc OR i.issue_date >= v_renewal.issue_date THEN
            RETURN QUERY SELECT 'rejected', 'invalid_field', 'L052',
                CASE WHEN i.uscc <> v_renewal.borrower_uscc THEN 'borrower.uscc'
                     ELSE 'issue_date' END,
                CASE WHEN i.uscc <> v_renewal.borrower_uscc
                     THEN format('loan %s renews this loan: it stays made to the same borrower',
                                 v_renewal.loan_ref)
                     ELSE format('loan %s renews this loan: it stays issued before %s',
                                 v_renewal.loan_ref, v_renewal.issue_date) END,
                NULL::jsonb;
            RETURN;
        END IF;
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
    -- Version 1 gets its row (migration 017: the ingest writes none), and the versions
    -- that read their content from loans (content NULL, migration 015) get the content
    -- this correction replaces; the new version reads it from loans in turn.
    INSERT INTO loan_versions (loan_id, version, change, content, changed_at, changed_by)
    SELECT o.loan_id, o.version, o.change, loan_content_of(l), o.changed_at, o.changed_by
    FROM loan_version_one(l) o;
    UPDATE loan_versions v SET content = loan_content_of(l)
    WHERE v.loan_id = l.id AND v.content IS NULL;
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
        content = NULL, version = x.version + 1, updated_at = now(),
        status = CASE WHEN x.status = 'renewed' THEN 'renewed'
                      WHEN x.repaid_fen >= i.amount_fen THEN 'repaid' ELSE 'active' END
    WHERE x.id = l.id RETURNING * INTO l;
    INSERT INTO loan_versions (loan_id, version, change, changed_by)
    VALUES (l.id, l.version, 'corrected', p_bank);
    PERFORM loan_warnings_raise(ARRAY[l.id]);
    RETURN QUERY SELECT 'updated', NULL, NULL, NULL, NULL, loan_to_json(l);
END $$;

-- Voids loan @p_ref: kept, excluded from statistics; a loan it renewed is released.
-- Voiding a void loan again answers unchanged.
CREATE OR REPLACE FUNCTION loan_void(p_bank text, p_ref text, p_reason text)
RETURNS TABLE (status text, code text, message text, loan jsonb)
SET plan_cache_mode = force_generic_plan
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
    -- A void loan's content never changes again: the version reads it from loans.
    INSERT INTO loan_versions (loan_id, version, change, reason, changed_by)
    VALUES (l.id, l.version, 'voided', p_reason, p_bank);
    RETURN QUERY SELECT 'voided', NULL, NULL, loan_to_json(l);
END $$;

-- How many repayments one loan holds and how many versions corrections give it (L033,
-- L053): a loan's history answers every one of them, so each is bounded (10,000
-- repayments, a daily repayment for 27 years, answer about 1.3 MB; 1,000 versions of some
-- 700 bytes). Voiding is never refused by the cap: a loan has at most 1,001 versions.
CREATE OR REPLACE FUNCTION loan_repayments_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 10000;
CREATE OR REPLACE FUNCTION loan_versions_max() RETURNS int
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 1000;

-- Records repayment @p_repayment_ref of loan @p_ref. Idempotent on the reference: the
-- same reference with the same date and amount answers unchanged, with others conflict.
-- L031 (not after the registry's day, not before the issue) and L032 are judged here only.
CREATE OR REPLACE FUNCTION loan_repay(p_bank text, p_ref text, p_repayment_ref text, p_date date,
                           p_amount bigint)
RETURNS TABLE (status text, code text, rule text, field text, message text,
               repayment jsonb, loan jsonb)
SET plan_cache_mode = force_generic_plan
LANGUAGE plpgsql AS $$
DECLARE
    l loans;
    r repayments;
BEGIN
    IF p_date > registry_day(now()) THEN
        RETURN QUERY SELECT 'rejected', 'invalid_field', 'L031', 'date', 'is after today',
                            NULL::jsonb, NULL::jsonb;
        RETURN;
    END IF;
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
    -- Counted under the loan's row lock, which every repayment of it takes first; at most
    -- the cap's index entries are read.
    ELSIF (SELECT count(*) FROM (SELECT 1 FROM repayments x WHERE x.loan_id = l.id
                                 LIMIT loan_repayments_max()) n) >= loan_repayments_max() THEN
        RETURN QUERY SELECT 'rejected', 'conflict', 'L033', 'repayment_ref',
                            format('the loan already holds %s repayments, the most one loan '
                                   'may hold', loan_repayments_max()),
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

CREATE OR REPLACE FUNCTION repayment_to_json(r repayments) RETURNS jsonb
    LANGUAGE sql STABLE
    RETURN jsonb_build_object('repayment_ref', r.repayment_ref, 'date', r.repaid_on,
                              'amount', fen_text(r.amount_fen),
                              'created_at', ts_text(r.created_at));

-- Version 1 of loan @l as its row would read (content NULL: the loan's current content)
-- when it has none: the ingest writes no loan_versions row (migration 017); version 1 is
-- the loan row until loan_correct stores it. The ingest's now() is the loan's created_at.
CREATE OR REPLACE FUNCTION loan_version_one(l loans)
RETURNS TABLE (loan_id bigint, version int, change text, changed_at timestamptz,
               changed_by text)
LANGUAGE sql STABLE AS $$
    SELECT l.id, 1, 'created', l.created_at, l.bank_code
    WHERE NOT EXISTS (SELECT 1 FROM loan_versions x WHERE x.loan_id = l.id AND x.version = 1)
$$;

-- A loan's versions (created, corrected, voided) and repayments, oldest first; NULL when
-- bank @p_bank has no loan @p_ref. A version's content NULL is the loan's current content
-- (migration 015); version 1 without a row is loan_version_one.
CREATE OR REPLACE FUNCTION loan_history(p_bank text, p_ref text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'bank_code', l.bank_code, 'loan_ref', l.loan_ref, 'version', l.version,
        'versions', (SELECT jsonb_agg(jsonb_build_object(
                         'version', v.version, 'change', v.change,
                         'content', coalesce(v.content, loan_content_of(l)),
                         'reason', v.reason, 'changed_at', ts_text(v.changed_at),
                         'changed_by', v.changed_by) ORDER BY v.version)
                     FROM (SELECT x.version, x.change, x.content, x.reason, x.changed_at,
                                  x.changed_by
                           FROM loan_versions x WHERE x.loan_id = l.id
                           UNION ALL
                           SELECT o.version, o.change, NULL, NULL, o.changed_at, o.changed_by
                           FROM loan_version_one(l) o) v),
        'repayments', coalesce((SELECT jsonb_agg(repayment_to_json(r) ORDER BY r.repaid_on, r.id)
                                FROM repayments r WHERE r.loan_id = l.id), '[]'::jsonb))
    FROM loans l WHERE l.bank_code = p_bank AND l.loan_ref = p_ref;
$$;

-- The loans the LPR row of @p_from is in force for (issued from it to the next row's date)
-- take its rate again: PUT /v1/lpr/{date} records a rate late or corrects one, and
-- domain.md prices a loan against "the rate in force on the issue date". lpr_e4 is the
-- row's rate of the loan's tenor (the tenor depends on the dates alone and stays);
-- spread_bp is (rate - lpr) in basis points, half away from zero, as domain/money.c
-- spread_bp() gives the write path (test_lpr_reprice.py checks the two agree). Both are
-- computed in the UPDATE from the row it updates, so a loan a concurrent correction
-- changed is priced (and its issue date checked) as that correction left it. The caller
-- holds lpr_rates against other PUTs (db/lpr.c), so the next row's date cannot change
-- meanwhile. The statistics triggers move the loans' pricing figures. The loans are found
-- through loans_issue_date_brin (migration 036): the ranges of pages holding the row's
-- dates, not the whole registry as before 4 December 2026 (607 MB at 3 million loans for
-- a rate that reprices none; found by audit); sequential scans off, so that the planner,
-- which reckons a third of the loans for a date it gets from a join, still takes it.
-- Returns how many loans changed.
-- spread_bp of a rate against an LPR (1/10000 percent each): half away from zero.
CREATE OR REPLACE FUNCTION lpr_spread_bp(p_rate_e4 int, p_lpr_e4 int) RETURNS int
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN p_rate_e4 >= p_lpr_e4 THEN (p_rate_e4 - p_lpr_e4 + 50) / 100
            ELSE -((p_lpr_e4 - p_rate_e4 + 50) / 100) END;

-- The rate of tenor @p_tenor ('1Y' or '5Y') of an LPR row.
CREATE OR REPLACE FUNCTION lpr_of_tenor(p_tenor text, p_one_e4 int, p_five_e4 int) RETURNS int
LANGUAGE sql IMMUTABLE
RETURN CASE p_tenor WHEN '5Y' THEN p_five_e4 ELSE p_one_e4 END;

CREATE OR REPLACE FUNCTION lpr_reprice(p_from date) RETURNS bigint
LANGUAGE sql SET enable_seqscan = off AS $$
    WITH r AS (
        SELECT x.effective_from, (x.one_year * 10000)::int AS one_e4,
               (x.five_year * 10000)::int AS five_e4,
               (SELECT min(n.effective_from) FROM lpr_rates n
                WHERE n.effective_from > x.effective_from) AS until
        FROM lpr_rates x WHERE x.effective_from = p_from),
    u AS (
        UPDATE loans l
        SET lpr_e4 = lpr_of_tenor(l.lpr_tenor, r.one_e4, r.five_e4),
            spread_bp = lpr_spread_bp(l.rate_e4, lpr_of_tenor(l.lpr_tenor, r.one_e4, r.five_e4))
        FROM r
        -- both ends bound the BRIN scan (an OR with "no next row" would leave the upper
        -- one a filter: a correction of an old rate read every loan issued since)
        WHERE l.issue_date >= r.effective_from
          AND l.issue_date < coalesce(r.until, 'infinity'::date)
          AND (l.lpr_e4, l.spread_bp) IS DISTINCT FROM
              (lpr_of_tenor(l.lpr_tenor, r.one_e4, r.five_e4),
               lpr_spread_bp(l.rate_e4, lpr_of_tenor(l.lpr_tenor, r.one_e4, r.five_e4)))
        RETURNING 1)
    SELECT count(*) FROM u
$$;

-- PUT /v1/lpr and the rechecks take turns (each reprices against the rows the one before
-- committed) on the LPR table's SHARE UPDATE EXCLUSIVE lock: it conflicts with itself and
-- with the SHARE ROW EXCLUSIVE lock the previous release's PUT takes (so the two releases
-- take turns during a rolling upgrade), but not with ROW EXCLUSIVE. Until 3 December the
-- turn was SHARE ROW EXCLUSIVE, held for the whole reprice (up to a minute): every new
-- connection's PREPARE of the LPR upsert (db/lpr.c), whose INSERT locks the table ROW
-- EXCLUSIVE, waited for it, so an instance started or reconnected meanwhile answered 503.
-- Readers of the table never waited, and do not now.
CREATE OR REPLACE FUNCTION lpr_take_turn() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE lpr_rates IN SHARE UPDATE EXCLUSIVE MODE;
END $$;

-- The recheck of a PUT (migration 026, docs/lpr.md): lpr_reprice of its row again once
-- every request that may have priced a loan from an instance's cache of the table before
-- the PUT has ended. Scheduled by the PUT, as its last statement, @p_after_ms from now
-- (clock_timestamp: the PUT's commit, not its start, which a long reprice leaves far
-- behind), under a new token. A recheck of the row not yet claimed keeps the later due
-- time; one claimed (running, or failed and waiting) gives way to this one.
CREATE OR REPLACE FUNCTION lpr_recheck_schedule(p_from date, p_after_ms int) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO lpr_rechecks AS r (effective_from, due_at)
    VALUES (p_from, clock_timestamp() + p_after_ms * interval '1 millisecond')
    ON CONFLICT (effective_from) DO UPDATE
        SET due_at = CASE WHEN r.claimed_at IS NULL THEN greatest(r.due_at, EXCLUDED.due_at)
                          ELSE EXCLUDED.due_at END,
            claimed_at = NULL, attempts = 0, token = nextval('lpr_recheck_tokens')
$$;

-- Claims the recheck due first: moves it @p_retry_ms on (so a run that fails, or does not
-- end, is tried again then, not at every run of every instance) and returns its row's
-- date, its token and its failed runs; no row when none is due or on a standby. The caller
-- commits the claim, then runs lpr_recheck_run (or, past its attempts, lpr_recheck_drop),
-- and marks a failed run with lpr_recheck_failed.
CREATE OR REPLACE FUNCTION lpr_recheck_claim(p_retry_ms int)
RETURNS TABLE (effective_from date, token bigint, attempts int)
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_is_in_recovery() THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE lpr_rechecks r
    SET due_at = now() + p_retry_ms * interval '1 millisecond', claimed_at = now()
    WHERE r.effective_from = (SELECT x.effective_from FROM lpr_rechecks x
                              WHERE x.due_at <= now()
                              ORDER BY x.due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING r.effective_from, r.token, r.attempts;
END $$;

-- Counts a failed run of the recheck of @p_from claimed with @p_token (a run that did not
-- end because its instance stopped is not one), unless a PUT scheduled it again meanwhile.
CREATE OR REPLACE FUNCTION lpr_recheck_failed(p_from date, p_token bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE lpr_rechecks r SET attempts = r.attempts + 1
    WHERE r.effective_from = p_from AND r.token = p_token
$$;

-- Runs the recheck of @p_from claimed with @p_token: reprices the row's loans and removes
-- the recheck, unless a PUT scheduled it again meanwhile (a new token: that PUT's own
-- recheck stays). Returns how many loans changed. The caller has taken its turn
-- (lpr_take_turn), as a PUT does.
CREATE OR REPLACE FUNCTION lpr_recheck_run(p_from date, p_token bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_repriced bigint := lpr_reprice(p_from);
BEGIN
    PERFORM lpr_recheck_drop(p_from, p_token);
    RETURN v_repriced;
END $$;

-- Gives back the claim of the recheck of @p_from with @p_token that did not get its turn:
-- due again @p_retry_ms from now (unless a PUT scheduled it again meanwhile).
CREATE OR REPLACE FUNCTION lpr_recheck_unclaim(p_from date, p_token bigint, p_retry_ms int)
RETURNS void
LANGUAGE sql AS $$
    UPDATE lpr_rechecks r
    SET claimed_at = NULL, due_at = now() + p_retry_ms * interval '1 millisecond'
    WHERE r.effective_from = p_from AND r.token = p_token
$$;

-- Removes the recheck of @p_from claimed with @p_token (one that failed too often, or has
-- run), unless a PUT scheduled it again meanwhile.
CREATE OR REPLACE FUNCTION lpr_recheck_drop(p_from date, p_token bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM lpr_rechecks r WHERE r.effective_from = p_from AND r.token = p_token
$$;

-- A page of the loans list: loans of bank @p_bank and borrower @p_borrower (NULL: any)
-- after id @p_after, walked in id order at most list_scan_rows_max() of them, of which
-- those issued in [@p_from, @p_to] with status @p_status (NULL: any), at most @p_limit.
-- When the walk stopped at its bound before @p_limit matched, a last row (id, NULL) gives
-- the last id examined, where the next page resumes. Custom plans, so the walk takes the
-- index of the filters given: (bank_code, id) or the primary key in order without a sort
-- (sql/common.sql list_scan_rows_max), or a borrower's loans (loans_borrower_live and
-- loans_borrower_void) sorted.
CREATE OR REPLACE FUNCTION loan_list_page(p_bank text, p_borrower text, p_from date,
                                          p_to date, p_status text, p_after bigint,
                                          p_limit integer)
RETURNS TABLE (id bigint, item text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = on
    SET enable_incremental_sort = on SET enable_seqscan = on SET jit = off AS $$
BEGIN
    PERFORM list_walk_plan(p_borrower IS NOT NULL);
    RETURN QUERY
    WITH walk AS MATERIALIZED (
        SELECT l.id, l.issue_date, l.status FROM loans l
        -- With a borrower, only the borrower's indexes may drive the walk: the bank and the
        -- cursor are tested on its loans (bank_code || '' and id + 0 serve no index).
        -- Otherwise a plan may walk all of the bank's loans, or every loan after the
        -- cursor, and test the borrower on each (both seen in CI).
        WHERE (p_bank IS NULL OR CASE WHEN p_borrower IS NULL
                                      THEN l.bank_code >= p_bank AND l.bank_code <= p_bank
                                      ELSE l.bank_code || '' = p_bank END)
          -- A firm's loans are in two indexes, void or not (migration 029): the OR lets the
          -- walk read both.
          AND (p_borrower IS NULL OR (l.borrower_uscc = p_borrower
                                      AND (l.status <> 'void' OR l.status = 'void')))
          AND CASE WHEN p_borrower IS NULL THEN l.id > p_after ELSE l.id + 0 > p_after END
        -- A borrower's loans are read from its indexes and sorted (id + 0: no index gives
        -- that order), never found by walking the primary key, which reads every row
        -- before them when they come late (found by review: 1.1 s for a borrower's 220,000
        -- loans at the end of 3.2 million).
        ORDER BY CASE WHEN p_bank IS NULL THEN NULL ELSE l.bank_code END,
                 CASE WHEN p_borrower IS NULL THEN l.id ELSE l.id + 0 END
        LIMIT list_scan_rows_max()),
    hit AS MATERIALIZED (
        SELECT w.id FROM walk w
        WHERE (p_from IS NULL OR w.issue_date >= p_from)
          AND (p_to IS NULL OR w.issue_date <= p_to)
          AND (p_status IS NULL OR w.status = p_status)
        LIMIT p_limit)
    SELECT x.id, x.item FROM (
        SELECT l.id, loan_json_of(l, f.registry_first_loan, f.warnings)::text AS item
        FROM hit h CROSS JOIN LATERAL (SELECT * FROM loans l WHERE l.id = h.id) l
             CROSS JOIN LATERAL loan_facts(l) f
        UNION ALL
        SELECT max(w.id), NULL FROM walk w WHERE (SELECT count(*) FROM hit) < p_limit
        HAVING count(*) = list_scan_rows_max()) x
    ORDER BY x.id;
END $$;

-- A page of the warnings list, as loan_list_page: the warnings of bank @p_bank (NULL: any)
-- after id @p_after, walked in id order at most list_scan_rows_max() of them, of which
-- those of rule @p_rule raised on a registry day in [@p_from, @p_to], at most @p_limit;
-- then (id, NULL) when the walk stopped at its bound first. Without a sort (sql/common.sql
-- list_scan_rows_max).
CREATE OR REPLACE FUNCTION warning_list_page(p_bank text, p_rule text, p_from date, p_to date,
                                             p_after bigint, p_limit integer)
RETURNS TABLE (id bigint, item text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_custom_plan SET enable_sort = off
    SET enable_incremental_sort = off SET jit = off AS $$
BEGIN
    RETURN QUERY
    WITH walk AS MATERIALIZED (
        SELECT w.id, w.rule, registry_day(w.created_at) AS day FROM loan_warnings w
        WHERE (p_bank IS NULL OR (w.bank_code >= p_bank AND w.bank_code <= p_bank))
          AND w.id > p_after
        ORDER BY CASE WHEN p_bank IS NULL THEN NULL ELSE w.bank_code END, w.id
        LIMIT list_scan_rows_max()),
    hit AS MATERIALIZED (
        SELECT k.id FROM walk k
        WHERE (p_rule IS NULL OR k.rule = p_rule) AND (p_from IS NULL OR k.day >= p_from)
          AND (p_to IS NULL OR k.day <= p_to)
        LIMIT p_limit)
    SELECT x.id, x.item FROM (
        SELECT w.id, jsonb_build_object('id', w.id, 'bank_code', w.bank_code,
                   'loan_ref', w.loan_ref, 'version', w.version, 'rule', w.rule,
                   'field', w.field, 'message', w.message,
                   'created_at', ts_text(w.created_at))::text AS item
        FROM hit h CROSS JOIN LATERAL (SELECT * FROM loan_warnings w WHERE w.id = h.id) w
        UNION ALL
        SELECT max(k.id), NULL FROM walk k WHERE (SELECT count(*) FROM hit) < p_limit
        HAVING count(*) = list_scan_rows_max()) x
    ORDER BY x.id;
END $$;
