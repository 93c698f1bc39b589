#!/usr/bin/env bash
# Starts the whole finreg topology on loopback, in DIR (created; everything it writes stays
# there): a primary PostgreSQL with a synchronous standby (streaming replication, a slot,
# synchronous_commit=on), one pgbouncer in front of each database node, two finregd
# instances with a multi-host URL (target_session_attrs=read-write for writes,
# prefer-standby for reads) and haproxy in front of them (writes port: only instances whose
# database is writable; reads port: every ready instance). Ports are free ones unless
# given; DIR/topology.env lists them. Stop everything with down.sh DIR.
# Usage: up.sh DIR        (run from anywhere; as root, or as a user that may runuser)
# Env: FINREGD (default build/finregd), CERTS (default certs/dev), FINREG_THREADS (4),
#      POOL_SIZE (pgbouncer default_pool_size, default 2 instances x (4 threads + 4) + 2
#      exports = 18: docs/operations.md, pool sizing).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PG_SH=$ROOT/scripts/pg.sh
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
FINREGD=${FINREGD:-$ROOT/build/finregd}
CERTS=${CERTS:-$ROOT/certs/dev}
THREADS=${FINREG_THREADS:-4}
POOL_SIZE=${POOL_SIZE:-$((2 * (THREADS + 4) + 2))}

[ $# -eq 1 ] || {
	echo "usage: up.sh DIR" >&2
	exit 2
}
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
chmod 755 "$DIR"

as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi; }
free_ports() { python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local until=$((SECONDS + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $until ] || {
			echo "up.sh: timed out waiting for $what" >&2
			return 1
		}
		sleep 0.2
	done
}
psql_at() { PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$1" -U postgres -d finreg -c "$2"; }

read -r PG1 PG2 B1 B2 APP1 APP2 HW HR <<<"$(free_ports 8)"
PG1=${PG1_PORT:-$PG1} PG2=${PG2_PORT:-$PG2}

# 1. The primary (synchronous_standby_names is set once the standby exists, step 2).
PG_OPTS="-c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 \
-c max_slot_wal_keep_size=1GB -c synchronous_commit=on -c wal_log_hints=on" \
	"$PG_SH" start "$DIR/pg1" "$PG1"

# 2. The standby: a base backup over a replication slot, then streaming as standby1.
if [ ! -f "$DIR/pg2/PG_VERSION" ]; then
	mkdir -p "$DIR/pg2" && chown postgres: "$DIR/pg2" 2>/dev/null || true
	chmod 700 "$DIR/pg2"
	as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PG1" -U postgres -D "$DIR/pg2" \
		-X stream -c fast -C -S standby1
	as_pg touch "$DIR/pg2/standby.signal"
	as_pg sh -c "cat >> '$DIR/pg2/postgresql.auto.conf'" <<CONF
primary_conninfo = 'host=127.0.0.1 port=$PG1 user=postgres application_name=standby1'
primary_slot_name = 'standby1'
hot_standby_feedback = on
CONF
fi
"$PG_SH" start "$DIR/pg2" "$PG2"
# From now on a commit on the primary waits until standby1 has flushed it.
PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG1" -U postgres -d postgres \
	-c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c 'SELECT pg_reload_conf()' >/dev/null
wait_for 30 "standby1 to be the synchronous standby" \
	bash -c "[ \"\$(PGCONNECT_TIMEOUT=5 $PGBIN/psql -X -At -h 127.0.0.1 -p $PG1 -U postgres -d postgres -c \"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'\")\" = sync ]"

# 3. One pgbouncer per database node (session pooling; plain TCP on loopback only).
mkdir -p "$DIR/bouncer"
chown postgres: "$DIR/bouncer" 2>/dev/null || true
echo '"postgres" ""' >"$DIR/bouncer/userlist.txt"
for n in 1 2; do
	pg=PG$n b=B$n
	sed -e "s/@PGPORT@/${!pg}/" -e "s/@PORT@/${!b}/" -e "s|@DIR@|$DIR/bouncer|g" \
		-e "s/@N@/$n/g" -e "s/@POOL@/$POOL_SIZE/" "$HERE/pgbouncer.ini.in" \
		>"$DIR/bouncer/pgbouncer$n.ini"
	chmod 644 "$DIR/bouncer/pgbouncer$n.ini" "$DIR/bouncer/userlist.txt"
	as_pg pgbouncer -d -q "$DIR/bouncer/pgbouncer$n.ini"
	wait_for 10 "pgbouncer $n" psql_at "${!b}" 'SELECT 1'
done

# 4. Schema, then two finregd instances.
WRITE_URL="host=127.0.0.1,127.0.0.1 port=$B1,$B2 dbname=finreg user=postgres target_session_attrs=read-write"
READ_URL="host=127.0.0.1,127.0.0.1 port=$B2,$B1 dbname=finreg user=postgres target_session_attrs=prefer-standby"
FINREG_DATABASE_URL="host=127.0.0.1 port=$PG1 dbname=finreg user=postgres" "$FINREGD" migrate
for n in 1 2; do
	app=APP$n
	env -i PATH="$PATH" FINREG_DATABASE_URL="$WRITE_URL" FINREG_READ_DATABASE_URL="$READ_URL" \
		FINREG_LISTEN="127.0.0.1:${!app}" FINREG_THREADS="$THREADS" \
		FINREG_TLS_CERT="$CERTS/server.pem" FINREG_TLS_KEY="$CERTS/server-key.pem" \
		FINREG_CLIENT_CA="$CERTS/ca.pem" \
		setsid "$FINREGD" serve >"$DIR/finregd$n.log" 2>&1 </dev/null &
	echo $! >"$DIR/finregd$n.pid"
	wait_for 15 "finregd $n" curl -sfk "https://127.0.0.1:${!app}/readyz?write=1"
done

# 5. haproxy: writes only to instances on the primary, reads to every ready instance.
sed -e "s/@WRITE@/$HW/" -e "s/@READ@/$HR/" -e "s/@APP1@/$APP1/" -e "s/@APP2@/$APP2/" \
	"$HERE/haproxy.cfg.in" >"$DIR/haproxy.cfg"
haproxy -c -q -f "$DIR/haproxy.cfg"
haproxy -D -p "$DIR/haproxy.pid" -f "$DIR/haproxy.cfg"
wait_for 10 "haproxy to route writes" curl -sfk "https://127.0.0.1:$HW/readyz?write=1"

cat >"$DIR/topology.env" <<ENV
PG1_PORT=$PG1
PG2_PORT=$PG2
BOUNCER1_PORT=$B1
BOUNCER2_PORT=$B2
APP1_PORT=$APP1
APP2_PORT=$APP2
HAPROXY_WRITE_PORT=$HW
HAPROXY_READ_PORT=$HR
PRIMARY_ADMIN_URL='host=127.0.0.1 port=$PG1 dbname=finreg user=postgres'
STANDBY_ADMIN_URL='host=127.0.0.1 port=$PG2 dbname=finreg user=postgres'
WRITE_URL='$WRITE_URL'
READ_URL='$READ_URL'
ENV
echo "up.sh: topology up in $DIR: writes https://localhost:$HW, reads https://localhost:$HR"
