#!/usr/bin/env bash
# The scripted failover of deploy/topology: SIGKILL the primary (postmaster and every
# backend) and the pgbouncer beside it, as losing the database host would, then promote
# the synchronous standby with pg_ctl promote. The old node's pgbouncer must not stay up:
# it would accept finregd's connections and fail their login, and libpq moves on to the
# next host of a multi-host URL only when it cannot connect, not on a login error (a real
# runbook fences the old node: stops its pgbouncer or takes its address away). Synchronous replication means every commit the primary acknowledged is
# already flushed on the standby, so nothing acknowledged is lost. The new primary runs
# without a synchronous standby until one is attached again (said on stdout): rebuild the
# old primary as a standby of it (pg_basebackup, or pg_rewind thanks to wal_log_hints) and
# set synchronous_standby_names on the new primary.
# Usage: failover.sh DIR [kill|promote|both]   (default both)
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=$1
STEP=${2:-both}

as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }

kill_primary() {
	local pid children
	pid=$(head -n 1 "$DIR/pg1/postmaster.pid")
	children=$(ps -o pid= --ppid "$pid" || true)
	# shellcheck disable=SC2086
	kill -KILL "$pid" $children
	if [ -f "$DIR/bouncer/pgbouncer1.pid" ]; then
		kill -KILL "$(cat "$DIR/bouncer/pgbouncer1.pid")" 2>/dev/null || true
	fi
	echo "failover.sh: SIGKILLed the primary (postmaster $pid and its children) and its pgbouncer"
}

# pgbouncer hands every client the startup parameters of its pool's first server login,
# including in_hot_standby=on from the standby days: libpq's target_session_attrs=read-write
# would refuse the promoted node through it for good. So its pgbouncer is restarted.
restart_bouncer2() {
	local ini=$DIR/bouncer/pgbouncer2.ini pidf=$DIR/bouncer/pgbouncer2.pid pid
	pid=$(cat "$pidf")
	kill -TERM "$pid"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	as_pg pgbouncer -d -q "$ini"
}

promote() {
	as_pg "$PGBIN/pg_ctl" promote -w -t 30 -D "$DIR/pg2" >/dev/null
	restart_bouncer2
	echo "failover.sh: promoted the standby in $DIR/pg2 (its pgbouncer restarted); it has no synchronous standby now"
}

case $STEP in
kill) kill_primary ;;
promote) promote ;;
both)
	kill_primary
	promote
	;;
*)
	echo "usage: failover.sh DIR [kill|promote|both]" >&2
	exit 2
	;;
esac
