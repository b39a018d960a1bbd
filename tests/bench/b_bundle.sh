#!/bin/sh
# b_bundle.sh - a sync by bundle at scale (issue 11: bundles stream both
# ways). A new data manager's laptop, registered with a central store made
# by scripts/gen-study (CASEBOOK_BENCH_BUNDLE_SUBJECTS, default 1000: about
# 65,000 events), exports its first bundle (pull from cursor 0); then
# `casebookd bundle import` writes the reply that carries every event of
# the study, and `casebook bundle import` applies it. Each is timed once,
# with its peak memory (the child's ru_maxrss): with the reply written and
# read as a stream, memory stays flat however many events it carries.
# The laptop's peak includes the 128 MiB that unlocking takes (Argon2id
# of the passphrase, CB_KDF_MEMLIMIT); a network sync peaks the same.
# Timings are reported, never asserted.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CASEBOOK_BIN:-$top/bin}
export CASEBOOK_TOP="$top"
n=${CASEBOOK_BENCH_BUNDLE_SUBJECTS:-1000}
data=${CASEBOOK_BENCH_BUNDLE_STUDY:-$top/build/bench-data/bundle-$n}
if [ ! -f "$data/casebookd.db" ]; then
	echo "-- making a $n-subject store with scripts/gen-study (once; kept in $data)"
	rm -rf "$data"
	mkdir -p "$top/build/tmp" "$(dirname "$data")"
	TMPDIR="$top/build/tmp" "$top/scripts/gen-study" --subjects "$n" \
		--data "$data" --seed 1 --no-progress | tail -2
fi
w=$(mktemp -d "${TMPDIR:-/tmp}/b_bundle.XXXXXX")
cp -a "$data" "$w/d"
D="$w/d"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/casebookd" serve --data "$D" --listen "127.0.0.1:$port" 2>"$w/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$w"' EXIT INT TERM
i=0
until curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 400 ] && { echo "server did not start"; exit 1; }
	sleep 0.05
done
"$bin/casebookd" user add --data "$D" benchdm --full-name "Bench DM" \
	--role datamanager >/dev/null
tok=$("$bin/casebookd" token create --data "$D" --user benchdm 2>/dev/null)
export CASEBOOK_PASSPHRASE=bench-passphrase
"$bin/casebook" --home "$w/l" init --server "http://127.0.0.1:$port" \
	--token "$tok" --user benchdm >/dev/null
kill $pid; wait $pid 2>/dev/null || true
events=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$D/casebookd.db")
echo "-- $events events on the server; a new data manager's first bundle"
"$bin/casebook" --home "$w/l" bundle export "$w/b" >/dev/null

measure() { # NAME CMD...
	python3 - "$@" <<'PY'
import os, subprocess, sys, time
name, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, ru = os.wait4(p.pid, 0)
wall = time.monotonic() - t0
err = p.stderr.read().decode(errors="replace").strip()
ok = "ok" if os.waitstatus_to_exitcode(status) == 0 else "FAILED: " + err[:200]
print(f"{name:34s} {wall:7.2f} s wall  {ru.ru_utime + ru.ru_stime:7.2f} s cpu"
      f"  {ru.ru_maxrss / 1024:7.1f} MiB peak  {ok}")
PY
}
measure "casebookd bundle import (reply)" "$bin/casebookd" bundle import \
	--data "$D" "$w/b" --reply "$w/r"
echo "   reply: $(du -h "$w/r" | cut -f1)"
measure "casebook bundle import (apply)" "$bin/casebook" --home "$w/l" \
	bundle import "$w/r"
echo "   laptop now holds: $("$bin/casebook" --home "$w/l" status 2>/dev/null | grep -i -m1 'events' || true)"
