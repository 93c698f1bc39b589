-- A loan version whose content is the loan's current content holds NULL instead of a copy
-- of it (issue 11): version 1 of every new loan no longer writes its whole content a second
-- time (about 0.7 MB of heap and WAL per 1000 loans). NULL reads "as in loans.content";
-- loan_correct writes the superseded content into the NULL rows of the loan before it
-- changes loans.content, and loan_history reads coalesce(v.content, l.content), so every
-- answer is the one a copy gave. Rows stored before this migration keep their copies.
ALTER TABLE loan_versions ALTER COLUMN content DROP NOT NULL;
