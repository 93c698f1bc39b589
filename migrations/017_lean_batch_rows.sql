-- Fewer rows and checks per new loan (issue 11, docs/ingest.md "Where a batch's CPU goes").
--
-- Version 1 without a row: loan_ingest writes no loan_versions row for a new loan; until a
-- correction, version 1 is the loan row itself (its created_at is the ingest's now(), its
-- bank the author). loan_history answers it through loan_version_one (sql/loans.sql), byte
-- for byte as the row answered; loan_correct stores the row (with the content it replaces)
-- before it writes version 2. Rows stored before this migration stay and answer the same.
--
-- No foreign-key check per row on the rows written beside a loan or firm: a loan version
-- is only ever written for a loan the same function holds locked (loan_correct,
-- loan_void), and a firm_history row only for a firm the same statement inserted or
-- updated (firms_upsert_items, from its RETURNING) or found stored (its kept rows);
-- nothing deletes loans or firms. Each check was one SPI query per row, with a tuple lock
-- on the parent row and a WAL record for it. The loan's borrower
-- (loans_borrower_uscc_fkey, checked at commit) keeps its check.
ALTER TABLE loan_versions DROP CONSTRAINT loan_versions_loan_id_fkey;
ALTER TABLE firm_history DROP CONSTRAINT firm_history_uscc_fkey;
