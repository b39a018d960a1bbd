#!/bin/sh
# Installs every Debian package Casebook needs to build and test.
# Idempotent: when everything is present it does nothing and says so.
# Runs as root, or through sudo when not root. postgresql is the server
# the tests start on a socket of their own (tests/tools/pgtest.sh); its
# package's own cluster is not used.
set -eu

# clang, libclang-rt-14-dev (libFuzzer and the sanitizer runtimes, only
# recommended by clang) and llvm (llvm-symbolizer, for readable reports):
# the fuzz targets (make fuzz).
# groff-base, man-db and bsdextrautils (col): the manual pages are
# checked; systemd: systemd-analyze verifies the service unit.
# chromium: tests/e2e/t_report.sh opens the HTML safety report in it,
# headless (a large package: the first install takes a while).
# cppcheck and clang-tidy: make lint; valgrind: make valgrind.
# libedit-dev: line editing, history and completion of `casebook shell`.
# libjemalloc-dev: casebookd's allocator (docs/OPERATIONS.md, "Memory").
PACKAGES="build-essential pkg-config libsqlite3-dev libsodium-dev libcjson-dev
libcurl4-openssl-dev libmicrohttpd-dev libedit-dev sqlite3 curl libxml2-utils
python3 expect openssl clang libclang-rt-14-dev llvm groff-base man-db
bsdextrautils systemd chromium libpq-dev postgresql cppcheck clang-tidy
valgrind libjemalloc-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root or sudo to install:$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; update once, then install.
$SUDO apt-get update -qq || echo "install-deps: apt-get update failed; trying the install anyway" >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
