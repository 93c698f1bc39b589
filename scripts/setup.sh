#!/usr/bin/env bash
# Installs the Debian 12 packages finreg needs to build, run and test, as root or via sudo.
# Checks each with dpkg first: a machine that already has everything prints one line and
# touches no network; otherwise one apt-get update, then one install of what is missing.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	libmicrohttpd-dev libgnutls28-dev libpq-dev libjansson-dev libssl-dev openssl
	postgresql-15 postgresql-client-15
	python3 curl clang libclang-rt-14-dev util-linux procps
	libxlsxwriter-dev python3-openpyxl libreoffice-calc-nogui
	nodejs chromium fonts-noto-cjk
	pgbouncer haproxy prometheus
	git # tests/api/test_rolling_upgrade.py builds the previous release from `git archive`
)
# npm fetches Redocly's CLI (tools/openapi-lint) for the OpenAPI lint: Debian's npm, unless a
# node with its own npm is already installed.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

# Reads the status into a variable: `dpkg -s P | grep -q` under pipefail failed at random for
# packages whose status is long (prometheus, 6 kB): grep stops at the match, dpkg dies of
# SIGPIPE and the pipeline's status is 141, so an installed package read as missing.
installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ]
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "setup.sh: need root (or sudo) to run: $*" >&2
		exit 1
	fi
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "setup: all ${#PACKAGES[@]} packages already installed"
else
	echo "setup: installing ${missing[*]}"
	as_root apt-get -o DPkg::Lock::Timeout=900 update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${missing[@]}"
	for p in "${missing[@]}"; do
		if ! installed "$p"; then
			echo "setup.sh: package $p is still not installed" >&2
			exit 1
		fi
	done
fi

# The dashboard's build runs `npm ci`: Debian's nodejs comes without npm (NodeSource's
# nodejs carries its own), so npm is installed only when missing.
if ! command -v npm >/dev/null 2>&1; then
	echo "setup: installing npm"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends npm
fi

# The postgresql package creates the postgres system user; initdb/postgres run as it
# (they refuse root). Create it only if something removed it.
if ! getent passwd postgres >/dev/null; then
	echo "setup: creating system user postgres"
	getent group postgres >/dev/null || as_root groupadd --system postgres
	as_root useradd --system --gid postgres --home-dir /var/lib/postgresql \
		--shell /bin/bash --comment "PostgreSQL administrator" postgres
fi
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
	echo "setup.sh: /usr/lib/postgresql/15/bin/initdb not found after install" >&2
	exit 1
fi
