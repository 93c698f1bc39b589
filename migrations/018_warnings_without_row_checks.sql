-- No foreign-key check per row on loan_warnings either (issue 11: "foreign keys guaranteed
-- by the statement instead of checked row by row"; migration 017 did the same for
-- loan_versions and firm_history). Its one writer, loan_warnings_raise (sql/loans.sql),
-- selects the loans it warns about from loans by id in the same statement, and nothing
-- deletes loans. Each check was one SPI query per warning, with a tuple lock on the loan
-- row and a WAL record for it: W001 warns about most loans of a bank that sets first_loan
-- only for its own first loans (750 of the 1000 loans of each bench/ingest batch; 66,000
-- checks, 205 ms, in one profile of 88 batches).
ALTER TABLE loan_warnings DROP CONSTRAINT loan_warnings_loan_id_fkey;
