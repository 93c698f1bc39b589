-- A loan's content is no longer stored beside the columns that hold it (issue 11).
--
-- loans.content kept the loan as the bank posted it, after validation: the canonical JSON
-- finregd renders (json/loan_json.c, loan_input_to_json), whose every field is also a
-- column of the row (loan_ref, the borrower's uscc, name, county, industry and size,
-- amount_fen, the dates, rate_e4, the guarantee mode and guarantor, the flags, the renewed
-- loan_ref, the program, credit_line_fen). So each loan was written twice, the second time
-- as a ~0.4 kB jsonb that every ingest call also had to parse (about a sixth of a batch
-- call's CPU, docs/ingest.md). Now NULL in loans.content reads "built from the columns":
-- loan_content_of(l) (sql/loans.sql) gives coalesce(l.content, loan_content(<columns>)),
-- which is byte for byte the jsonb that was stored (json/loan_json.c and loan_content render
-- the same fields the same way; tests/api/test_loans_content.py compares them). New loans
-- and corrections store NULL; rows stored before this migration keep their content and
-- answer as before (no rewrite, no long lock: dropping NOT NULL only changes the catalog).
--
-- The item finregd sends (loan_item) loses its content attribute: loan_ingest judges an
-- item "unchanged" by comparing the content built from its fields with the stored one.
ALTER TABLE loans ALTER COLUMN content DROP NOT NULL;
ALTER TYPE loan_item DROP ATTRIBUTE content;
