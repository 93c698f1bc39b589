-- The withdrawal watch's cut and cutoff candidates by a range read (issue 13 item 3: 200 ms
-- at 10 million loans). A request used to read every fall of the window (~94,000 at 10
-- million loans) and group them by bank and firm to find the ~10 pairs whose balance could
-- have fallen to 70%. Each fall row now carries the answer for every window at once:
--   watch_balance.cut_from: for a fall (delta < 0), the latest day q on or before it on
--     which the pair's balance fell from a balance b with (balance after this fall) * 10 <=
--     b * 7 (q is the row's own day when the fall itself is one of 30% or more); NULL when
--     there is none, and on the other rows.
-- A pair can be a cut or cutoff of window (S, A] only if one of its falls in the window has
-- cut_from in the window (sql/supervision.sql, withdrawal_alerts), so the candidates are the
-- rows of a small partial index with cut_from in (S, A] and day <= A. The compactor keeps
-- the column with the balances (watch_compact_locked); the functions live in
-- sql/supervision.sql (created here as they must exist while this runs).

-- No fold meanwhile (the lock stats_compact() and watch_rebuild() take).
SELECT pg_advisory_xact_lock(7340012004);

ALTER TABLE watch_balance ADD COLUMN cut_from date;

-- The falls' grouping read this; nothing does now (the write path stops paying for it).
DROP INDEX watch_balance_falls;

CREATE OR REPLACE FUNCTION watch_cut_from(p_bank text, p_uscc text, p_day date,
                                          p_balance bigint)
RETURNS TABLE (cut_from date)
LANGUAGE sql STABLE AS $$
    SELECT q.day FROM watch_balance q
    WHERE q.bank_code = p_bank AND q.uscc = p_uscc AND q.day <= p_day AND q.delta < 0
      AND p_balance * 10 <= (q.balance - q.delta) * 7
    ORDER BY q.day DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION watch_cut_from_set(p_pairs jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_pairs IS NULL THEN
        UPDATE watch_balance w SET cut_from = x.cut_from
        FROM (SELECT f.bank_code, f.uscc, f.day, c.cut_from FROM watch_balance f
              CROSS JOIN LATERAL watch_cut_from(f.bank_code, f.uscc, f.day, f.balance) c
              WHERE f.delta < 0) x
        WHERE w.bank_code = x.bank_code AND w.uscc = x.uscc AND w.day = x.day
          AND w.cut_from IS DISTINCT FROM x.cut_from;
        RETURN;
    END IF;
    UPDATE watch_balance w SET cut_from = x.cut_from
    FROM (SELECT f.bank_code, f.uscc, f.day, c.cut_from
          FROM jsonb_to_recordset(p_pairs) AS p(bank_code text, uscc text, day date)
          JOIN watch_balance f ON f.bank_code = p.bank_code AND f.uscc = p.uscc
                              AND f.day >= p.day
          LEFT JOIN LATERAL watch_cut_from(f.bank_code, f.uscc, f.day, f.balance) c
              ON f.delta < 0) x
    WHERE w.bank_code = x.bank_code AND w.uscc = x.uscc AND w.day = x.day
      AND w.cut_from IS DISTINCT FROM x.cut_from;
END $$;

SELECT watch_cut_from_set(NULL);

CREATE INDEX watch_balance_cuts ON watch_balance (cut_from) INCLUDE (day, bank_code, uscc)
    WHERE cut_from IS NOT NULL;
