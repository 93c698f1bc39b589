-- A bank's guarantees from one guarantor (or a guarantor's at one bank) in the order their
-- list pages them (id): each page walks them in order from here, at most
-- list_scan_rows_max() a page (sql/guarantees.sql guarantee_list_page), instead of walking
-- all of the bank's or of the guarantor's guarantees and testing the other. It blocks
-- writes to guarantees while it is built.
CREATE INDEX guarantees_bank_guarantor_id ON guarantees (bank_code, guarantor_code, id);
