#!/bin/sh
# one-laptop.sh - one laptop of bench_server's part "laptops" syncing
# alone: the server's CPU per event pushed and the events a second, to
# set beside the four laptops at once (docs/PERFORMANCE.md).
#
#   tests/bench/one-laptop.sh [ROUNDS]      (default 5)
#
# Needs the laptops' cache that bench_server makes (run its part
# "laptops" once): CASEBOOK_BENCH_CACHE (default build/bench-cache).
# CASEBOOK_BIN: casebook and casebookd (default bin). Run from the top
# of the tree. Every round copies the cached server store and laptop 1
# into a temporary directory, starts casebookd on the laptops' loopback
# address, runs `casebook sync` and stops the server.
set -eu

rounds=${1:-5}
case $rounds in
-h | --help)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*[!0-9]* | '')
	echo "one-laptop.sh: ROUNDS must be a number, not '$rounds'" >&2
	exit 2
	;;
esac
bin=${CASEBOOK_BIN:-bin}
cache=${CASEBOOK_BENCH_CACHE:-build/bench-cache}
# the newest of the caches (an older one may hold an older schema)
ok=$(ls -t "$cache"/laptops4-*/ok 2>/dev/null | head -n 1)
set -- "${ok:-$cache/laptops4-none/ok}"
if [ ! -f "$1" ]; then
	echo "one-laptop.sh: no laptops' cache in $cache (run" \
		"CASEBOOK_BENCH_PARTS=laptops build/bench/bench_server first)" >&2
	exit 1
fi
src=$(dirname "$1")
url=$(cat "$1")
listen=${url#http://}
work=$(mktemp -d "${TMPDIR:-/tmp}/one-laptop.XXXXXX")
pid=
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT INT TERM

cpu_of() { # utime + stime of process $1, in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat"
}

now() { date +%s.%N; }

echo "one-laptop.sh: $(uname -sm), $(nproc) cores; $rounds rounds of" \
	"laptop 1 of $src"
r=0
while [ "$r" -lt "$rounds" ]; do
	r=$((r + 1))
	rm -rf "$work/srv" "$work/lap"
	cp -a "$src/srv" "$work/srv"
	cp -a "$src/lap1" "$work/lap"
	"$bin/casebookd" serve --data "$work/srv" --listen "$listen" \
		>"$work/serve.out" 2>"$work/serve.log" &
	pid=$!
	tries=0
	until grep -q '"msg":"listening"' "$work/serve.log" 2>/dev/null; do
		tries=$((tries + 1))
		if [ "$tries" -gt 100 ]; then
			echo "one-laptop.sh: casebookd did not start" \
				"(see $work/serve.log)" >&2
			exit 1
		fi
		sleep 0.05
	done
	c0=$(cpu_of "$pid")
	t0=$(now)
	CASEBOOK_PASSPHRASE=bench-server-passphrase CASEBOOK_KDF_FAST=1 \
		"$bin/casebook" --home "$work/lap" sync >"$work/sync.out"
	t1=$(now)
	c1=$(cpu_of "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	n=$(sed -n 's/^pushed \([0-9]*\) events.*/\1/p' "$work/sync.out")
	awk -v n="$n" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
		-v hz="$(getconf CLK_TCK)" -v r="$r" 'BEGIN {
		printf "  round %d: %d events, %.3f s, %.0f events/s, " \
		       "server CPU %.0f us per event\n", r, n, t1 - t0,
		       n / (t1 - t0), (c1 - c0) / hz * 1e6 / n }'
done
