#!/usr/bin/env bash
# Stops everything up.sh started in DIR (by the process ids it recorded), then the two
# clusters. Safe to run twice, or after a partial up.sh. Usage: down.sh DIR [--purge]
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
[ $# -ge 1 ] || {
	echo "usage: down.sh DIR [--purge]" >&2
	exit 2
}
DIR=$1

stop_pid() { # stop_pid PIDFILE SIGNAL: signal, wait up to 20 s, then SIGKILL
	local f=$1 sig=$2 pid
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "-$sig" "$pid" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$f"
}

stop_pid "$DIR/haproxy.pid" TERM
stop_pid "$DIR/finregd1.pid" TERM
stop_pid "$DIR/finregd2.pid" TERM
stop_pid "$DIR/bouncer/pgbouncer1.pid" INT
stop_pid "$DIR/bouncer/pgbouncer2.pid" INT
for pg in pg1 pg2; do
	[ -f "$DIR/$pg/PG_VERSION" ] && "$ROOT/scripts/pg.sh" stop "$DIR/$pg"
done
if [ "${2:-}" = --purge ]; then
	rm -rf "$DIR"
fi
exit 0
