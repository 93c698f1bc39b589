#!/usr/bin/env bash
# The `make test` runner: build/unit/test_* binaries, then the API suite against build/finregd
# ("normal") and build/asan/finregd ("asan"); FINREG_SUITES picks a subset, arguments filter API
# tests. Ends with one line "N passed, N failed" over everything; exit 0 only if none failed.
set -euo pipefail

cd "$(dirname "$0")/.."
SUITES=${FINREG_SUITES:-unit deploy normal asan ha}
TOTAL_PASSED=0
TOTAL_FAILED=0
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

# Each suite runs as a background job in its own process group, waited for, so that a
# SIGTERM/SIGINT/SIGHUP to this script (make passes SIGTERM on to its recipe; CI cancels
# that way) reaches the suite, whose harness then stops the clusters and servers it started.
# Without it bash died alone and the orphaned suite ran on for up to 20 minutes.
SUITE_PID=
pass_on() { # pass_on SIGNAL
	local waited=0
	if [ -n "$SUITE_PID" ]; then
		# The whole group (the suite and what it runs), not its first process alone.
		kill -s "$1" -- "-$SUITE_PID" 2>/dev/null || true
		# A suite that stops what it started ends within seconds; one that ignores the
		# signal is killed after 30 s rather than holding this script forever.
		while kill -0 -- "-$SUITE_PID" 2>/dev/null && [ "$waited" -lt 300 ]; do
			sleep 0.1
			waited=$((waited + 1))
		done
		kill -s KILL -- "-$SUITE_PID" 2>/dev/null || true
	fi
	trap - "$1"
	kill "-$1" $$
}
for sig in TERM INT HUP; do
	# shellcheck disable=SC2064
	trap "pass_on $sig" "$sig"
done

# Runs CMD... with its output shown and kept in $OUT; its exit status in rc (pipefail: the
# command's, unless tee failed). tee ignores the signals passed on to the group, so that
# what the suite says while it stops is still shown.
logged() {
	set -m
	"$@" </dev/null 2>&1 | (trap '' TERM INT HUP; exec tee "$OUT") &
	set +m
	SUITE_PID=$(jobs -p %%)
	rc=0
	wait %% || rc=$?
	SUITE_PID=
}

# Adds the "N passed, N failed" line at the end of $OUT to the totals; a run that crashed
# before printing it counts as 1 failed, and so does a non-zero exit that reported no failure.
# Usage: tally LABEL EXIT_STATUS
tally() {
	local label=$1 rc=$2 last p f
	last=$(grep -v '^[[:space:]]*$' "$OUT" | tail -n 1 || true)
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]}
		f=${BASH_REMATCH[2]}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "!!! $label exited with status $rc but reported no failure: counted as 1 failed"
			f=1
		fi
	else
		echo "!!! $label ended (status $rc) without a \"N passed, N failed\" line: counted as 1 failed"
		p=0
		f=1
	fi
	TOTAL_PASSED=$((TOTAL_PASSED + p))
	TOTAL_FAILED=$((TOTAL_FAILED + f))
	SUITE_PASSED=$((SUITE_PASSED + p))
	SUITE_FAILED=$((SUITE_FAILED + f))
}

run_unit() {
	local bin found=0
	for bin in build/unit/test_*; do
		if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
			continue
		fi
		found=1
		echo "--- $bin"
		logged "$bin"
		tally "$bin" "$rc"
	done
	if [ "$found" -eq 0 ]; then
		echo "(no build/unit/test_* binaries; run make unit)"
	fi
}

run_api() { # run_api LABEL BINARY [FILTER...]
	local label=$1 bin=$2
	shift 2
	logged env FINREG_BIN="$bin" python3 tests/api/run.py "$@"
	tally "API suite $label" "$rc"
}

for suite in $SUITES; do
	SUITE_PASSED=0
	SUITE_FAILED=0
	echo "=============== suite: $suite ==============="
	case $suite in
	unit)
		run_unit
		;;
	deploy)
		logged scripts/check-deploy.sh
		tally "deploy checks" "$rc"
		;;
	ha)
		logged env FINREG_BIN=build/finregd python3 tests/ha/test_ha.py
		tally "HA topology" "$rc"
		;;
	normal)
		run_api normal build/finregd "$@"
		;;
	asan)
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_api asan build/asan/finregd "$@"
		;;
	*)
		echo "!!! unknown suite '$suite' (FINREG_SUITES takes: unit deploy normal asan ha): counted as 1 failed"
		SUITE_FAILED=1
		TOTAL_FAILED=$((TOTAL_FAILED + 1))
		;;
	esac
	echo "=============== suite $suite: $SUITE_PASSED passed / $SUITE_FAILED failed"
done

echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
