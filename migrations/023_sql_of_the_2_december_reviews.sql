-- No change to the tables: this migration marks the functions of sql/ that finregd of this
-- release needs (lpr_reprice, lpr_spread_bp, stats_pricing_period, stats_targets with its
-- cmp column, loan_correct with rule L051, guarantee_post's check under the loan's lock).
-- A finregd built with them prepares statements that name them, and a database that has
-- not run `finregd migrate` lacks them: without a new schema version such a finregd saw the
-- version it expected, passed its schema check, and answered 500 to every request while
-- /readyz said ready (found by a review). With 023 it says the schema is behind and stays
-- not ready until migrate has run; an older finregd accepts the newer schema as before.
SELECT 1;
