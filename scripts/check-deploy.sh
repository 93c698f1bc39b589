#!/usr/bin/env bash
# Checks the deploy/ files with their own tools, as far as this machine allows, and
# `make install` into a scratch DESTDIR. Prints PASS/FAIL/SKIP per check and ends with
# "N passed, N failed" (a SKIP says why: a tool not installed, or no systemd).
set -uo pipefail

cd "$(dirname "$0")/.."
PASSED=0
FAILED=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

check() { # check NAME COMMAND...: PASS when it exits 0
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS deploy.$name"
		PASSED=$((PASSED + 1))
	else
		echo "FAIL deploy.$name"
		printf '%s\n' "$out" | sed 's/^/    /' | tail -n 20
		FAILED=$((FAILED + 1))
	fi
}

skip() { echo "SKIP deploy.$1: $2"; }

install_stays_in_destdir() {
	local d=$TMP/dest got want
	make -s install DESTDIR="$d" >/dev/null || return 1
	got=$(cd "$d" && find . -type f | sort)
	want=$'./etc/finreg/finregd.env.example\n./usr/local/bin/finregd\n./usr/local/lib/systemd/system/finregd.service\n./usr/local/lib/sysusers.d/finreg.conf'
	[ "$got" = "$want" ] || {
		echo "installed: $got"
		return 1
	}
}

unit_verifies() { # the installed unit, its ExecStart pointed into the scratch DESTDIR
	sed "s|/usr/local/bin/finregd|\"$TMP/dest/usr/local/bin/finregd\"|" \
		"$TMP/dest/usr/local/lib/systemd/system/finregd.service" >"$TMP/finregd.service"
	systemd-analyze verify "$TMP/finregd.service"
}

unit_is_hardened() { # exposure under 4.0 (systemd counts the threshold in tenths)
	systemd-analyze security --offline=true --threshold=40 deploy/finregd.service
}

pgbouncer_starts() { # deploy/pgbouncer.ini with its paths and port moved into $TMP
	local ini=$TMP/pgb/pgbouncer.ini port
	mkdir -p "$TMP/pgb"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=pgbouncer \
		-keyout "$TMP/pgb/key.pem" -out "$TMP/pgb/cert.pem" 2>/dev/null
	echo '"finregd" "SCRAM-SHA-256$4096:c2FsdA==$a2V5$a2V5"' >"$TMP/pgb/userlist.txt"
	sed -e "s|/etc/pgbouncer/userlist.txt|$TMP/pgb/userlist.txt|" \
		-e "s|/etc/pgbouncer/pgbouncer-key.pem|$TMP/pgb/key.pem|" \
		-e "s|/etc/pgbouncer/pgbouncer.pem|$TMP/pgb/cert.pem|" \
		-e "s|/var/log/postgresql/pgbouncer.log|$TMP/pgb/pgbouncer.log|" \
		-e "s|/var/run/postgresql/pgbouncer.pid|$TMP/pgb/pgbouncer.pid|" \
		-e "s|^listen_addr = .*|listen_addr = 127.0.0.1|" \
		-e "s|^listen_port = .*|listen_port = $port|" deploy/pgbouncer.ini >"$ini"
	chmod -R a+rX "$TMP" && chown -R postgres: "$TMP/pgb" 2>/dev/null
	local as=()
	[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
	(cd / && "${as[@]}" pgbouncer -d -q "$ini") || { cat "$TMP/pgb/pgbouncer.log"; return 1; }
	sleep 0.3
	local pid
	pid=$(cat "$TMP/pgb/pgbouncer.pid" 2>/dev/null) || { cat "$TMP/pgb/pgbouncer.log"; return 1; }
	kill -TERM "$pid"
	! grep -E 'ERROR|FATAL' "$TMP/pgb/pgbouncer.log"
}

check install_stays_in_destdir install_stays_in_destdir
if command -v systemd-analyze >/dev/null; then
	check systemd_analyze_verify unit_verifies
	check systemd_analyze_security_under_4 unit_is_hardened
else
	skip systemd skip "systemd-analyze not installed"
fi
if command -v haproxy >/dev/null; then
	check haproxy_cfg haproxy -c -q -f deploy/haproxy.cfg
	check haproxy_topology_template bash -c \
		'sed -e "s/@[A-Z0-9]*@/1/g" deploy/topology/haproxy.cfg.in >"$1" && haproxy -c -q -f "$1"' _ "$TMP/h.cfg"
else
	skip haproxy "haproxy not installed (make setup)"
fi
if command -v pgbouncer >/dev/null; then
	check pgbouncer_ini_starts pgbouncer_starts
else
	skip pgbouncer "pgbouncer not installed (make setup)"
fi
if command -v promtool >/dev/null; then
	check prometheus_rules promtool check rules deploy/prometheus-rules.yml
	# Paths in the test file are relative to it.
	check prometheus_rules_fire promtool test rules deploy/prometheus-rules.test.yml
else
	skip prometheus_rules "promtool not installed (make setup: prometheus)"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
