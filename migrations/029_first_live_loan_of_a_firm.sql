-- A firm's loans split by whether they are void: loans_borrower_live holds those that are
-- not void, by issue date, and loans_borrower_void the void ones, instead of
-- loans_borrower holding both. The registry's first loan to a firm is the earliest entry of
-- loans_borrower_live (sql/loans.sql loan_facts: registry_first_loan and W001), and every
-- other look-up of a firm's loans but the list asks for loans that are not void. Before,
-- those read loans_borrower and walked every earlier void loan to the firm once per loan
-- posted or read: another bank's 40,000 void loans to a firm made a 1000-loan batch to it
-- pass the statement timeout (found by audit). A new loan writes one entry, as before
-- (a second index beside loans_borrower cost each batch some 5% more WAL). The list's
-- borrower filter reads both (sql/loans.sql loan_list_page). The builds block writes to
-- loans while they run (4.1 s at 3.2 million loans, measured by review); the DROP INDEX
-- at the end takes an exclusive lock on loans, so it waits for every transaction reading
-- loans and holds up every read that comes after it meanwhile (503 past the statement
-- timeout, as for any migration's exclusive lock: docs/limits.md).
CREATE INDEX loans_borrower_live ON loans (borrower_uscc, issue_date) WHERE status <> 'void';
CREATE INDEX loans_borrower_void ON loans (borrower_uscc) WHERE status = 'void';
DROP INDEX loans_borrower;
