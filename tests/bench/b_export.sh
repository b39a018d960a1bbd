#!/bin/sh
# b_export.sh - exports and the safety report at scale (issue 12,
# "Performance"). Timings are reported, never asserted.
#
#   1. The engines alone (build/bench/bench_export): 10,000 subjects with
#      50,000 adverse events from a feed made in memory: the safety report
#      in every format, and the csv export of about 1,100,000 item values,
#      each with the process's peak memory.
#   2. The whole commands on a real central store made by scripts/gen-study
#      (10,000 subjects, every visit, about 650,000 events): `casebookd
#      report safety` in every format, `casebookd export` in every format,
#      each a new process: wall and CPU time (user and system; medians of
#      CASEBOOK_BENCH_RUNS, default 3; the ODM and jsonl exports once) and
#      peak memory (the child's ru_maxrss). On a shared machine the CPU
#      time is the steadier figure. The store is made once and kept in
#      build/bench-data/study-N (making it takes several minutes);
#      CASEBOOK_BENCH_STUDY=DIR uses another, CASEBOOK_BENCH_EXPORT_SUBJECTS
#      sets N (default 10000).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CASEBOOK_BIN:-$top/bin}
bench=${CASEBOOK_BENCH:-$top/build/bench}
export CASEBOOK_TOP="$top"

echo "-- the engines alone, 10,000 subjects, 50,000 adverse events"
"$bench/bench_export" report 10000 5
"$bench/bench_export" csv 10000 5

n=${CASEBOOK_BENCH_EXPORT_SUBJECTS:-10000}
data=${CASEBOOK_BENCH_STUDY:-$top/build/bench-data/study-$n}
if [ ! -f "$data/casebookd.db" ]; then
	echo "-- making a $n-subject store with scripts/gen-study (once; kept in $data)"
	rm -rf "$data"
	mkdir -p "$top/build/tmp"
	TMPDIR="$top/build/tmp" "$top/scripts/gen-study" --subjects "$n" \
		--data "$data" --randomize --seed 1 --no-progress | tail -3
fi

out=$(mktemp -d "${TMPDIR:-/tmp}/b_export.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

# measure RUNS NAME CMD...: median wall time and the largest peak memory
# of RUNS runs of CMD, each a new process.
measure() {
	python3 - "$@" <<'EOF'
import os, shutil, subprocess, sys, time
runs, name, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
walls, cpus, peak = [], [], 0
for r in range(runs):
    for a in cmd:
        if a.startswith("OUT:"):
            shutil.rmtree(a[4:], ignore_errors=True)
            if os.path.exists(a[4:]):
                os.unlink(a[4:])
    argv = [a[4:] if a.startswith("OUT:") else a for a in cmd]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    walls.append(time.monotonic() - t0)
    cpus.append(ru.ru_utime + ru.ru_stime)
    peak = max(peak, ru.ru_maxrss)
    if status:
        print("%s: failed (status %d)" % (name, status))
        sys.exit(1)
walls.sort()
cpus.sort()
print("%-26s wall %6.2f s  cpu %6.2f s  peak %6.1f MiB  (%d run%s)" %
      (name, walls[len(walls) // 2], cpus[len(cpus) // 2], peak / 1024.0,
       runs, "s" if runs > 1 else ""))
EOF
}

runs=${CASEBOOK_BENCH_RUNS:-3}
echo "-- casebookd on $data"
"$bin/casebookd" status --data "$data" | sed -n 's/^\(subjects\|items\|events\) */\1: /p'
for f in text csv json html; do
	measure "$runs" "report safety --format $f" "$bin/casebookd" report safety \
		--data "$data" --format "$f" --out "OUT:$out/report.$f"
done
measure "$runs" "export csv" "$bin/casebookd" export --data "$data" \
	--format csv --out "OUT:$out/csv"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("  csv export: %d subjects, %d item values, %d rows" % (j["subjects"], j["item_values"], sum(f["rows"] for f in j["files"])))' "$out/csv/export.json"
measure "$runs" "export sdtm" "$bin/casebookd" export --data "$data" \
	--format sdtm --out "OUT:$out/sdtm"
measure 1 "export odm" "$bin/casebookd" export --data "$data" \
	--format odm --out "OUT:$out/odm"
ls -l "$out/odm" | awk '/xml/ {printf "  %s: %.0f MB\n", $9, $5 / 1e6}'
measure 1 "export jsonl" "$bin/casebookd" export --data "$data" \
	--format jsonl --out "OUT:$out/jsonl"
