-- How many memberships a supply-chain program has, as the planner estimates it, no longer
-- depends on when scf_members was last analyzed (as migration 035 does for a loan's
-- repayments and guarantees). ANALYZE of a registry with one program stored its distinct
-- programs as an absolute 1, kept however many programs came after: a program's detail
-- (scf_program_detail, scf_program_to_json's current members) then scanned every
-- membership of the registry twice, 39,910 rows for a program of 50 members (audit, 4
-- December 2026). A fixed ratio instead, -0.02: 50 memberships a program (an N+1+N
-- chain's suppliers and buyers, a few periods each), which scales with the table and
-- which every ANALYZE keeps.
-- Locks: SHARE UPDATE EXCLUSIVE on scf_members to the commit (autovacuum waits; reads and
-- writes go on); the ANALYZE reads a sample of at most 30,000 rows.
ALTER TABLE scf_members ALTER COLUMN program_id SET (n_distinct = -0.02);
ANALYZE scf_members;
