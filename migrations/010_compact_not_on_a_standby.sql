-- finregd instances on a standby (dashboards reading a replica) run the statistics
-- compactor too, every second. A standby cannot write, and the instances on the primary
-- fold the deltas, which then replicate: on a standby there is nothing to do, and trying
-- failed with "cannot execute INSERT in a read-only transaction" every second.
CREATE OR REPLACE FUNCTION stats_compact() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_is_in_recovery() OR NOT pg_try_advisory_xact_lock(7340012004) THEN
        RETURN -1;
    END IF;
    RETURN stats_compact_locked();
END $$;
