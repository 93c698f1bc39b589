-- Ingest without per-bank bucket locks. Migration 003's loan_ingest serialised every two
-- ingests of one bank that shared a lock bucket; with 64 buckets, any two batches of a few
-- hundred loans shared all of them, so one bank's batches ran one at a time. Now:
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
--  * the verdicts travel as a composite array instead of a jsonb document, and the stored
--    loan is looked up again only when it must be returned;
--  * the loans a new loan renews are updated only when there are some: an UPDATE of no
--    rows still fires the statistics update trigger, which matters most to single posts,
--    stored in small groups (db/loan_group.c);
--  * firms_upsert (jsonb, used by corrections, referrals and supply-chain programs) hands
--    its firms to firms_upsert_items, so there is one upsert of firm reference data.
-- Those functions live in sql/loans.sql and sql/firms.sql now; this migration keeps the
-- deferred borrower foreign key and the type loan_verdict.

ALTER TABLE loans ALTER CONSTRAINT loans_borrower_uscc_fkey DEFERRABLE INITIALLY DEFERRED;

CREATE TYPE loan_verdict AS (
    idx int, loan_ref text, verdict text, stored_version int, renewed_status text);
