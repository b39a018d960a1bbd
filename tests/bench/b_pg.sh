#!/bin/sh
# b_pg.sh - the central store on SQLite and on PostgreSQL side by side,
# in one run on one machine, and several casebookd on one PostgreSQL
# database (issue 15, docs/PERFORMANCE.md "PostgreSQL"). Timings are
# printed, never asserted. Every figure comes from the real programs over
# loopback: build/bench/bench_server's parts (its header says what each
# measures), `casebookd migrate` and `casebookd report`.
#
#   ingest       one device pushing CASEBOOK_BENCH_PG_PUSH events in
#                batches of 500, each sent when the previous answer came
#                (bench_server part "ingest"), on a new store: events/s
#   200 devices  bench_server part "devices" on a new store for
#                CASEBOOK_BENCH_SECONDS: events/s acknowledged, push
#                latency p50 and p99
#   safety       `casebookd report safety --format text` on the same
#                generated study (scripts/gen-study --randomize --seed 1,
#                CASEBOOK_BENCH_PG_SUBJECTS subjects, kept in
#                build/bench-data/study-N as tests/bench/b_export.sh keeps
#                it), copied into PostgreSQL by `casebookd migrate`: wall
#                and CPU time of the casebookd process, medians of
#                CASEBOOK_BENCH_RUNS (on PostgreSQL the database server's
#                own CPU is not in that figure; the wall time compares)
#   processes    CASEBOOK_BENCH_PG_STREAMS devices each pushing
#                CASEBOOK_BENCH_PG_PUSH events at once, device k through
#                process k mod P of P = 1, 2, 3 `casebookd serve` on one
#                new PostgreSQL database each time: events/s
#
# A table of them all comes last. PostgreSQL is a server of our own
# (tests/tools/pgtest.sh: a temporary directory, a Unix socket, no TCP
# port), with fsync on for these runs (durable commits, as SQLite's
# synchronous=FULL); casebookd listens on 127.0.0.1 only. The load
# average is printed with the figures: the machine may be shared.
#
#   CASEBOOK_BIN, CASEBOOK_BENCH  the programs (make bench, make bench-pg)
#   CASEBOOK_BENCH_PG_PUSH        events per pushing device (default 10000)
#   CASEBOOK_BENCH_SECONDS        the 200 devices' run (default 20)
#   CASEBOOK_BENCH_PG_SUBJECTS    the safety report's study (default 10000)
#   CASEBOOK_BENCH_PG_STREAMS     devices pushing at once (default 6)
#   CASEBOOK_BENCH_RUNS           safety report runs (default 3)
#   CASEBOOK_BENCH_THREADS        casebookd serve --threads (default 4)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${CASEBOOK_BIN:=$top/bin}"
: "${CASEBOOK_BENCH:=$top/build/bench}"
export CASEBOOK_BIN
CBD="$CASEBOOK_BIN/casebookd"
BS="$CASEBOOK_BENCH/bench_server"
PUSH=${CASEBOOK_BENCH_PG_PUSH:-10000}
SECS=${CASEBOOK_BENCH_SECONDS:-20}
SUBJECTS=${CASEBOOK_BENCH_PG_SUBJECTS:-10000}
STREAMS=${CASEBOOK_BENCH_PG_STREAMS:-6}
RUNS=${CASEBOOK_BENCH_RUNS:-3}
for f in "$CBD" "$BS"; do
	[ -x "$f" ] || { echo "b_pg: $f is missing (make bench-pg builds it)"; exit 1; }
done
cd "$top" || exit 1 # bench_server runs from the top of the tree

T=$(mktemp -d "${TMPDIR:-/tmp}/cbbench.XXXXXX")
chmod 711 "$T" # the PostgreSQL server's unprivileged user reaches $T/pg
cleanup() {
	"$top/tests/tools/pgtest.sh" stop "$T/pg" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pg=$("$top/tests/tools/pgtest.sh" start "$T/pg") || { echo "b_pg: no PostgreSQL"; exit 0; }
PGH=${pg% *}
PGU=${pg#* }
# Durable commits for the figures (the tests run with fsync off).
psql -X -q -h "$PGH" -U "$PGU" -d postgres -c "ALTER SYSTEM SET fsync = on" \
	-c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null

load() { cut -d' ' -f1-3 /proc/loadavg; }
# newdb NAME: a new empty database; prints its URL
newdb() {
	createdb -h "$PGH" -U "$PGU" "$1" || exit 1
	echo "postgresql://$PGU@/$1?host=$PGH"
}
# bench NAME [VAR=VALUE...]: bench_server with those settings, its
# output shown and kept in $T/NAME.out
bench() {
	_n=$1
	shift
	env "$@" "$BS" >"$T/$_n.out" 2>&1
	_rc=$?
	grep -v "^bench_server: load average at the end" "$T/$_n.out" | grep -v "^bench_server: Linux"
	[ $_rc -eq 0 ] || echo "b_pg: bench_server ($_n) exited $_rc"
}
# fig NAME LABEL: the number after LABEL in $T/NAME.out
fig() {
	sed -n "s|^  $2  *\([0-9.]*\).*|\1|p" "$T/$1.out" | head -1
}

rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "?")
echo "b_pg: commit $rev; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average $(load)"
echo "b_pg: $PUSH events per pushing device, the 200 devices for $SECS s, a $SUBJECTS-subject study"

# ---- ingest and 200 devices, each backend ------------------------------------

for b in sqlite pg; do
	if [ $b = pg ]; then
		S1=$(newdb ingest)
		S2=$(newdb devices)
	else
		S1="" S2=""
	fi
	echo "-- $b: ingest"
	bench "ingest.$b" CASEBOOK_BENCH_PARTS=ingest CASEBOOK_BENCH_PUSH="$PUSH" \
		CASEBOOK_BENCH_STORE="$S1"
	echo "-- $b: 200 devices"
	bench "devices.$b" CASEBOOK_BENCH_PARTS=devices CASEBOOK_BENCH_SECONDS="$SECS" \
		CASEBOOK_BENCH_STORE="$S2"
done

# ---- the safety report on one study, each backend ------------------------------

study=${CASEBOOK_BENCH_STUDY:-$top/build/bench-data/study-$SUBJECTS}
if [ ! -f "$study/casebookd.db" ]; then
	echo "-- making a $SUBJECTS-subject study with scripts/gen-study (once; kept in $study)"
	rm -rf "$study"
	mkdir -p "$top/build/tmp" "$(dirname "$study")"
	TMPDIR="$top/build/tmp" "$top/scripts/gen-study" --subjects "$SUBJECTS" \
		--data "$study" --randomize --seed 1 --no-progress | tail -3
fi
SAFE=$(newdb safety)
echo "-- the study copied into PostgreSQL (casebookd migrate, verified by dumps)"
t0=$(date +%s.%N)
"$CBD" migrate --from "$study" --to "$SAFE" >"$T/migrate.out" 2>&1 ||
	{ echo "b_pg: migrate failed: $(tail -3 "$T/migrate.out")"; }
t1=$(date +%s.%N)
MIGRATE=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
echo "  migrate: $MIGRATE s; $("$CBD" status --store "$SAFE" 2>/dev/null | grep -E '^ *events' | head -1 | tr -s ' ')"

# report NAME WHERE-OPT WHERE: median wall and CPU time of RUNS reports
report() {
	python3 - "$RUNS" "$T/report.txt" "$CBD" report safety "$2" "$3" \
		--format text --out "$T/report.txt" <<'EOF' | tee "$T/safety.$1.out"
import os, subprocess, sys, time
runs, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
walls, cpus = [], []
for r in range(runs):
    if os.path.exists(out):
        os.unlink(out)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    walls.append(time.monotonic() - t0)
    cpus.append(ru.ru_utime + ru.ru_stime)
    if status:
        print("  report safety: failed (status %d): %s" % (status, p.stderr.read().decode()[:300]))
        sys.exit(1)
walls.sort()
cpus.sort()
print("  report safety --format text  wall %.2f s  cpu %.2f s  (median of %d; %.0f KB)"
      % (walls[len(walls) // 2], cpus[len(cpus) // 2], runs, os.path.getsize(out) / 1e3))
EOF
}
echo "-- sqlite: the safety report"
report sqlite --data "$study"
echo "-- pg: the safety report"
report pg --store "$SAFE"

# ---- 1, 2 and 3 casebookd on one PostgreSQL ---------------------------------

for p in 1 2 3; do
	echo "-- pg: $STREAMS devices through $p casebookd"
	bench "procs.$p" CASEBOOK_BENCH_PARTS=ingest CASEBOOK_BENCH_PUSH="$PUSH" \
		CASEBOOK_BENCH_STREAMS="$STREAMS" CASEBOOK_BENCH_PROCS="$p" \
		CASEBOOK_BENCH_STORE="$(newdb "procs$p")"
done

# ---- the table -------------------------------------------------------------------

wall() { sed -n 's/.*wall \([0-9.]*\) s.*/\1/p' "$T/safety.$1.out"; }
cpu() { sed -n 's/.*cpu \([0-9.]*\) s.*/\1/p' "$T/safety.$1.out"; }
EV="events/s pushed, all streams"
echo
echo "b_pg: commit $rev, load average at the end $(load)"
echo "| | SQLite | PostgreSQL |"
echo "|---|---|---|"
echo "| ingest, 1 device, batches of 500 (events/s) | $(fig ingest.sqlite "$EV") | $(fig ingest.pg "$EV") |"
echo "| 200 devices: events/s acknowledged | $(fig devices.sqlite "events/s pushed") | $(fig devices.pg "events/s pushed") |"
echo "| 200 devices: push latency p50 (ms) | $(fig devices.sqlite "push latency p50") | $(fig devices.pg "push latency p50") |"
echo "| 200 devices: push latency p99 (ms) | $(fig devices.sqlite "push latency p99") | $(fig devices.pg "push latency p99") |"
echo "| safety report, $SUBJECTS subjects: wall (s) | $(wall sqlite) | $(wall pg) |"
echo "| safety report: casebookd CPU (s) | $(cpu sqlite) | $(cpu pg) |"
echo
echo "| casebookd processes on one PostgreSQL | 1 | 2 | 3 |"
echo "|---|---|---|---|"
echo "| $STREAMS devices pushing at once (events/s) | $(fig procs.1 "$EV") | $(fig procs.2 "$EV") | $(fig procs.3 "$EV") |"
