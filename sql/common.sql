-- Helpers every area uses: money, rates and timestamps as the API writes them, and the
-- registry's day. This file sorts first, so functions with a SQL-standard body (RETURN ...,
-- parsed when created) in the other files may call these.

-- Fen as yuan with two decimals ("1234.50").
CREATE OR REPLACE FUNCTION fen_text(fen bigint) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN (fen::numeric / 100)::numeric(20, 2)::text;

-- A rate in 1/10000 percent as percent with four decimals ("3.8500").
CREATE OR REPLACE FUNCTION rate_text(e4 integer) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    RETURN (e4::numeric / 10000)::numeric(12, 4)::text;

-- A timestamp in Beijing time, to the microsecond, with its +08:00 offset. STABLE as
-- to_char is: declared IMMUTABLE it was never inlined (its body is more volatile than
-- that), and each statement calling it parsed and planned it again (pg_stat_user_functions
-- counted one such call per single post's ingest, ~30 us); every caller is STABLE or
-- PL/pgSQL.
CREATE OR REPLACE FUNCTION ts_text(t timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT
    RETURN to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS.US"+08:00"');

-- The registry's day of a timestamp (Asia/Shanghai).
CREATE OR REPLACE FUNCTION registry_day(t timestamptz) RETURNS date
    LANGUAGE sql STABLE STRICT
    RETURN (t AT TIME ZONE 'Asia/Shanghai')::date;

-- How many rows one page of a list may examine. A list walks its table in id order along
-- the filters an index serves (a bank, a borrower, a guarantor) and tests the others (dates,
-- status, rule, county) row by row; a filter matching few of a large bank's rows once walked
-- all of them to the statement timeout. A page that examined this many rows without filling
-- ends there, and its next_cursor resumes after the last row examined (docs/limits.md).
-- The bound holds only if the walk reads an index in that order and stops there, and the
-- planner takes that path only when nothing else looks cheaper. So a list names its bank
-- (guarantor) as a range, x >= p AND x <= p, and orders by it, then id: only (bank_code,
-- id) gives that order (with x = p the planner drops the constant sort key, and the primary
-- key gives the order too, testing the bank on every row). And it plans the walk with
-- enable_sort and enable_incremental_sort off (but when a borrower's or a firm's rows are
-- walked, few, sorted): a sort of the rows after the cursor looks cheaper whenever the
-- planner reckons that few remain. jit off too: with sorts off, a plan costs 10^10.
-- Found by review: a bank whose rows come after the others' (any bank that joined late)
-- walked the whole table along the primary key on its first page (0.8 s at 3.3 million
-- loans) and sorted every row after the cursor on later ones (0.1-0.2 s each).
CREATE OR REPLACE FUNCTION list_scan_rows_max() RETURNS integer
    LANGUAGE sql IMMUTABLE
    RETURN 10000;

-- Plans the calling list function's walk, as list_scan_rows_max says: along an index in
-- order, sorts off; or, for the rows of one borrower (firm) read from its own indexes and
-- sorted, sequential scans off. Settings local to the caller, whose SET clause (enable_sort,
-- enable_incremental_sort, enable_seqscan = on) restores them when it returns.
CREATE OR REPLACE FUNCTION list_walk_plan(p_rows_of_one boolean) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_rows_of_one THEN
        PERFORM set_config('enable_seqscan', 'off', true);
    ELSE
        PERFORM set_config('enable_sort', 'off', true);
        PERFORM set_config('enable_incremental_sort', 'off', true);
    END IF;
END $$;

-- Rebuilds the first summary a migration asked for (summary_rebuilds: migrations 031, 032)
-- that this text knows, and returns its name; NULL when none such is left. finregd migrate
-- calls it after the sql/ files have committed, once per summary, each call in a
-- transaction of its own, so their triggers exist already (nothing written meanwhile is
-- missed: each rebuild locks out the writes that feed its summary, then reads everything)
-- and the sql/ files' locks are gone (their CREATE OR REPLACE TRIGGER on loans holds every
-- loan write until they commit; a rebuild there held them as long: 13.9 s at 3 million
-- guarantees). One transaction each: the financing's rebuild holds every loan write (SHARE
-- on loans) until its transaction ends, so in one transaction with the guarantees' it held
-- them through that rebuild too (13.9 s at 3 million guarantees, where the guarantees'
-- alone lets loan writes go on; found by review). Until a summary is rebuilt, its readers
-- answer 503. scf_financing first (either order is free of deadlocks now that each
-- commits before the next starts).
CREATE OR REPLACE FUNCTION summary_rebuild_next() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT x.summary FROM summary_rebuilds x
             ORDER BY x.summary <> 'scf_financing', x.summary LOOP
        CASE r.summary
            WHEN 'guarantee_outstanding' THEN PERFORM guarantee_outstanding_rebuild();
            WHEN 'scf_financing' THEN PERFORM scf_financing_rebuild();
            ELSE CONTINUE;   -- a newer release's (summary_rebuilds_run)
        END CASE;
        RETURN r.summary;
    END LOOP;
    RETURN NULL;
END $$;

-- Every summary a migration asked for, in this transaction (for the schema owner by hand:
-- finregd migrate rebuilds them one transaction each, summary_rebuild_next). A name this
-- text does not know was asked for by a newer release's migration (its migrate ran, then
-- an older one's): its row is left, with a NOTICE, for the newer migrate to rebuild; the
-- rest are rebuilt (raising for it failed every older migrate, and left the summaries it
-- knows not built). The rows left are what finregd migrate reports.
-- RETURNS void stays: an older release's CREATE OR REPLACE of this text must not meet
-- another return type.
CREATE OR REPLACE FUNCTION summary_rebuilds_run() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    WHILE summary_rebuild_next() IS NOT NULL LOOP
    END LOOP;
    FOR r IN SELECT x.summary FROM summary_rebuilds x ORDER BY x.summary LOOP
        RAISE NOTICE 'summary_rebuilds: no rebuild for % here: left for the newer '
                     'release that asked for it', r.summary;
    END LOOP;
END $$;
