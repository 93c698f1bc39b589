-- A guarantor's guarantees in the order its list pages them (id): each page walks them
-- in order from here, at most list_scan_rows_max() a page (sql/guarantees.sql
-- guarantee_list_page), instead of collecting all of the guarantor's guarantees from
-- guarantees_guarantor_start and sorting them. It blocks writes to guarantees while it is
-- built.
CREATE INDEX guarantees_guarantor_id ON guarantees (guarantor_code, id);
