#!/usr/bin/env bash
# The development stack behind `make run` / `make stop`: a private PostgreSQL cluster under
# var/ (initdb on first use, run as the postgres user), migrations, the sample principals
# from certs/dev, and finregd serving https://localhost:8443 in the background.
# `run` then posts the demo year through the API (scripts/demo-seed.py; `demo` alone again).
# Usage: dev.sh db | run | demo | stop
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD
PG_PORT=${FINREG_DEV_PG_PORT:-55432}
LISTEN=${FINREG_LISTEN:-0.0.0.0:8443}
CERTS=$top/certs/dev
VAR=$top/var
PIDFILE=$VAR/finregd.pid
LOG=$VAR/finregd.log

# The cluster lives in var/pgdata when the postgres user can reach it there; otherwise
# (a checkout under /root, say) in a folder under /var/tmp that var/pgdata links to.
data_dir() {
	mkdir -p "$VAR"
	if [ -L "$VAR/pgdata" ] || [ -d "$VAR/pgdata" ]; then
		readlink -f "$VAR/pgdata"
		return
	fi
	if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$VAR"; then
		echo "$VAR/pgdata"
		return
	fi
	local alt
	alt=/var/tmp/finreg-dev-$(printf '%s' "$top" | sha256sum | cut -c1-12)
	mkdir -p "$alt"
	chmod 755 "$alt"
	ln -sfn "$alt/pgdata" "$VAR/pgdata"
	echo "$alt/pgdata"
}

# Migrations run as the schema owner; the server and the principal/token commands connect
# as finregd_serve, which may only do what the API needs (scripts/db-roles.sql).
export FINREG_DATABASE_URL FINREG_MIGRATE_DATABASE_URL
FINREG_MIGRATE_DATABASE_URL=$(scripts/pg.sh url "$PG_PORT")
FINREG_DATABASE_URL="${FINREG_MIGRATE_DATABASE_URL/user=postgres/user=finregd_serve}"

register() { # register KIND CODE NAME CERT
	build/finregd principal add --kind "$1" --code "$2" --name "$3" --cert "$CERTS/$4.pem" >/dev/null
}

cmd_db() {
	scripts/pg.sh start "$(data_dir)" "$PG_PORT"
	/usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -d "$FINREG_MIGRATE_DATABASE_URL" \
		-f scripts/db-roles.sql
	build/finregd migrate
	register bank CIB-SM "兴业银行三明分行" bank
	register bank RCB-SM "三明农村商业银行" bank2
	register guarantor SM-GUAR "三明市融资担保有限公司" guarantor
	register regulator SM-FSB "三明市金融监管局" regulator
	echo "dev: principals CIB-SM, RCB-SM (banks), SM-GUAR (guarantor), SM-FSB (regulator)"
}

server_running() {
	[ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

cmd_run() {
	cmd_db
	if server_running; then
		echo "dev: finregd already running (pid $(cat "$PIDFILE")); 'make stop' first to restart"
	else
		FINREG_LISTEN=$LISTEN FINREG_TLS_CERT=$CERTS/server.pem FINREG_TLS_KEY=$CERTS/server-key.pem \
			FINREG_CLIENT_CA=$CERTS/ca.pem setsid build/finregd serve >>"$LOG" 2>&1 </dev/null &
		echo $! >"$PIDFILE"
		local port=${LISTEN##*:}
		for _ in $(seq 1 100); do
			curl -sf --cacert "$CERTS/ca.pem" "https://localhost:$port/healthz" >/dev/null && break
			server_running || { tail -20 "$LOG"; echo "dev: finregd did not start" >&2; exit 1; }
			sleep 0.1
		done
	fi
	cat <<MSG
dev: finregd serves https://localhost:${LISTEN##*:} (log: var/finregd.log). Try:
  curl --cacert certs/dev/ca.pem --cert certs/dev/bank.pem --key certs/dev/bank-key.pem \\
       https://localhost:${LISTEN##*:}/v1/whoami
'make stop' stops the server and the database.
MSG
	cmd_demo
}

cmd_demo() {
	local port=${LISTEN##*:}
	python3 scripts/demo-seed.py --url "https://localhost:$port" --quiet ||
		echo "dev: the demo seed reported problems (see above)" >&2
	cat <<MSG
dev: the dashboard is https://localhost:$port/dashboard/ (trust certs/dev/ca.pem in the browser,
     or open it from a browser started with that CA); sign in with a token from
       build/finregd token issue --principal SM-FSB    (the regulator; CIB-SM for a bank)
     with FINREG_DATABASE_URL='$FINREG_DATABASE_URL'. The demo year is 2020.
MSG
}

cmd_stop() {
	if server_running; then
		local pid
		pid=$(cat "$PIDFILE")
		kill -TERM "$pid"
		for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		echo "dev: finregd stopped"
	fi
	rm -f "$PIDFILE"
	if [ -e "$VAR/pgdata" ]; then
		scripts/pg.sh stop "$(readlink -f "$VAR/pgdata")"
	fi
}

case ${1:-} in
db) cmd_db ;;
run) cmd_run ;;
demo) cmd_demo ;;
stop) cmd_stop ;;
*) echo "usage: dev.sh db|run|demo|stop" >&2; exit 2 ;;
esac
