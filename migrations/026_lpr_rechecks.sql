-- The LPR rows whose loans are priced again a while after a PUT (docs/lpr.md,
-- sql/loans.sql lpr_recheck_*). A request prices a loan from its instance's cached LPR
-- table (up to 5 s old on the instances that did not take the PUT); one that priced a loan
-- before the PUT committed and wrote it after the PUT's reprice had passed it left the loan
-- at the old rates. The PUT schedules a second reprice of its row for when every such
-- request has ended; each instance's recheck task (service/lpr_recheck.c) runs the ones
-- due. claimed_at is set while an instance runs it (or after a run that did not end);
-- attempts counts its failed runs since the last PUT of the row (a run that fails leaves
-- the row, due minutes later); token names the PUT that scheduled it, so that a run
-- claimed before a later PUT of the row removes only its own.
CREATE SEQUENCE lpr_recheck_tokens;
CREATE TABLE lpr_rechecks (
    effective_from date PRIMARY KEY,
    due_at timestamptz NOT NULL,
    claimed_at timestamptz,
    attempts int NOT NULL DEFAULT 0,
    token bigint NOT NULL DEFAULT nextval('lpr_recheck_tokens')
);
