#!/usr/bin/env bash
# Manages a private PostgreSQL 15 cluster for development and tests (never the system's
# "15 main"): listens on 127.0.0.1:PORT only, its socket (if any) inside the data directory.
# New clusters have data checksums on (a torn or rotted page is an error, not silent bad
# data). Autovacuum visits every 10 s, as deploy/postgresql-primary.conf says for
# production (the statistics queues are emptied every second, and their dead rows are read
# by every statistics reader until vacuum reclaims them). PG_OPTS adds server options
# (-c name=value ...) to a start, e.g. for a primary with a synchronous standby
# (deploy/topology/).
# Usage: pg.sh start DATADIR PORT | pg.sh stop DATADIR | pg.sh url PORT
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PROG=pg.sh

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	echo "usage: $PROG start DATADIR PORT | stop DATADIR | url PORT" >&2
	exit 2
}

check_port() {
	if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
		die "bad port '$1'"
	fi
}

abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

# Runs a PostgreSQL server-side program: as the postgres user when we are root (initdb and
# postgres refuse root), from / so a cwd postgres cannot enter causes no warnings.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

is_running() { # pg_ctl status: 0 running, 3 not running, 4 no usable data directory
	[ -f "$1/PG_VERSION" ] || return 1
	as_pg "$PGBIN/pg_ctl" status -D "$1" >/dev/null 2>&1
}

logfile_for() { # next to the data directory when postgres may write there, else inside it
	local dir=$1 parent
	parent=$(dirname "$dir")
	if as_pg test -w "$parent" -a -x "$parent"; then
		printf '%s\n' "$parent/pg.log"
	else
		printf '%s\n' "$dir/pg.log"
	fi
}

explain_unreachable() { # names the first ancestor of $1 the postgres user cannot traverse
	local path=$1 prefix="" part
	IFS=/ read -ra parts <<<"${path#/}"
	for part in "${parts[@]}"; do
		prefix="$prefix/$part"
		if ! runuser -u postgres -- test -x "$prefix"; then
			die "the postgres user cannot reach $path: $prefix is not traversable by it (ls -ld: $(ls -ld "$prefix")); use a data directory under e.g. /tmp or fix the permissions"
		fi
	done
	die "the postgres user cannot use $path (needs to own it and be able to write it)"
}

psql_admin() { # psql_admin PORT ARGS... — as the superuser over TCP
	local port=$1
	shift
	PGCONNECT_TIMEOUT=10 "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 "$@"
}

cmd_start() {
	local dir port
	dir=$(abspath "$1")
	port=$2
	check_port "$port"

	if [ ! -f "$dir/PG_VERSION" ]; then
		mkdir -p "$dir"
		if [ -n "$(ls -A "$dir")" ]; then
			die "$dir is not empty and holds no PostgreSQL cluster"
		fi
		if [ "$(id -u)" -eq 0 ]; then
			chown postgres: "$dir"
			chmod 700 "$dir"
			runuser -u postgres -- test -x "$dir" -a -w "$dir" || explain_unreachable "$dir"
		fi
		local locale=C
		# Not `locale -a | grep -q` under pipefail: grep stops at the match and the pipeline
		# fails with locale's SIGPIPE when the list is long.
		local locales
		locales=$(locale -a 2>/dev/null || true)
		if grep -Eqix 'c\.utf-?8' <<<"$locales"; then
			locale=C.UTF-8
		fi
		echo "$PROG: initdb $dir (locale $locale)"
		local out
		if ! out=$(as_pg "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 \
			--data-checksums --locale="$locale" 2>&1); then
			printf '%s\n' "$out" >&2
			die "initdb failed"
		fi
	elif [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- test -x "$dir" || explain_unreachable "$dir"
	fi

	if is_running "$dir"; then
		local running_port
		running_port=$(sed -n 4p "$dir/postmaster.pid" 2>/dev/null || true)
		if [ -n "$running_port" ] && [ "$running_port" != "$port" ]; then
			die "cluster $dir is already running on port $running_port, not $port"
		fi
	else
		# The socket lives in the data directory; a path too long for sun_path or one that
		# would need quoting disables Unix sockets (we always connect over TCP anyway).
		local sockdir="$dir"
		if [ $((${#dir} + 20)) -gt 100 ] || [[ ! $dir =~ ^[A-Za-z0-9/._+-]+$ ]]; then
			sockdir=""
		fi
		local log
		log=$(logfile_for "$dir")
		if ! as_pg "$PGBIN/pg_ctl" start -w -t 60 -D "$dir" -l "$log" \
			-o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$sockdir' -c autovacuum_naptime=10s ${PG_OPTS:-}" \
			>/dev/null; then
			tail -n 30 "$log" >&2 || true
			die "could not start the cluster in $dir on port $port (log: $log)"
		fi
		echo "$PROG: started $dir on 127.0.0.1:$port (log: $log)"
	fi

	if [ "$(psql_admin "$port" -Atc 'SELECT pg_is_in_recovery()')" = t ]; then
		return 0 # a standby: its databases are the primary's
	fi
	local exists
	exists=$(psql_admin "$port" -Atc "SELECT 1 FROM pg_database WHERE datname = 'finreg'")
	if [ "$exists" != 1 ]; then
		psql_admin "$port" -c 'CREATE DATABASE finreg'
	fi
}

cmd_stop() {
	local dir
	dir=$(abspath "$1")
	if is_running "$dir"; then
		as_pg "$PGBIN/pg_ctl" stop -D "$dir" -m fast -w -t 60 >/dev/null
		echo "$PROG: stopped $dir"
	fi
}

[ $# -ge 1 ] || usage
case $1 in
start)
	[ $# -eq 3 ] || usage
	cmd_start "$2" "$3"
	;;
stop)
	[ $# -eq 2 ] || usage
	cmd_stop "$2"
	;;
url)
	[ $# -eq 2 ] || usage
	check_port "$2"
	echo "host=127.0.0.1 port=$2 dbname=finreg user=postgres"
	;;
*) usage ;;
esac
