-- The withdrawal timeline's pending changes hold numeric deltas (migration 025 gives the
-- reason: sums of absurd amounts pass a bigint of fen), so the fold can carry its sums per
-- bank, firm and day in rows of this table's type. A migration of its own: the table is
-- kept short by the compactor and every loan write appends to it, so its rewrite holds the
-- write path for moments, not for 025's rewrite of the large tables.
-- watch_balance_on has a SQL-standard body, which PostgreSQL ties to the columns it reads:
-- it goes until sql/supervision.sql puts it back at the end of this migrate (no request
-- calls it; it is for checks by hand). Between 025's commit and sql/ the compactor may fail
-- a run or two (the live watch_cut_from still takes a bigint balance); the next run folds.
DROP FUNCTION IF EXISTS watch_balance_on(text, text, date);
ALTER TABLE watch_balance_delta ALTER delta TYPE numeric;
