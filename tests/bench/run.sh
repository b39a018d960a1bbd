#!/bin/sh
# Runs every benchmark binary in $CASEBOOK_BENCH and every
# tests/bench/b_*.sh script. Benchmarks report timings (medians, with the
# machine); they never pass or fail on a time.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for b in "${CASEBOOK_BENCH:-$top/build/bench}"/bench_*; do
	[ -x "$b" ] || continue
	case "$b" in *.d) continue ;; esac
	echo "== $(basename "$b")"
	"$b"
done
for s in "$top"/tests/bench/b_*.sh; do
	[ -f "$s" ] || continue
	echo "== $(basename "$s")"
	sh "$s"
done
