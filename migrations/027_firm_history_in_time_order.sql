-- A firm's versions in the order GET /v1/firms/{uscc}/history pages them (time, then id):
-- each page reads its rows in order from here instead of reading and sorting the firm's
-- whole history (sql/firms.sql firm_history_page; found by review: 1,000,000 versions
-- took 1 s and 200 MB of temporary files a page). firm_history holds only changes and
-- refused reports (a new firm writes no row since migration 022), so the build is short;
-- it blocks writes to firm_history (a firm's change) while it runs.
CREATE INDEX firm_history_uscc_changed ON firm_history (uscc, changed_at, id);
