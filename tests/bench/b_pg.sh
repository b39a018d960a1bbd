#!/bin/sh
# b_pg.sh - the central store on SQLite and on PostgreSQL side by side,
# and several casebookd on one PostgreSQL (issue 15, docs/PERFORMANCE.md
# "PostgreSQL"). Timings are printed, never asserted.
#
#   ingest      one laptop's backlog of CASEBOOK_BENCH_INGEST form saves
#               (default 10000) pushed by `casebook sync`: events/s
#   200 devices 200 registered laptops (10 sites), 5 new events each,
#               syncing 10 at a time: each sync's wall time, p50 and p99
#   processes   6 laptops x 3000 events syncing at once, spread over 1, 2
#               and 3 `casebookd serve` on one PostgreSQL: events/s
#
# The load average is printed with the figures: the machine may be
# shared. PostgreSQL runs on a Unix socket with fsync on (durable
# commits, as SQLite's synchronous=FULL); see tests/tools/pgtest.sh.
#
#   CASEBOOK_BIN, CASEBOOK_HOOKS  the programs (make bench sets them)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${CASEBOOK_BIN:=$top/bin}"
: "${CASEBOOK_HOOKS:=$top/build/hooks/casebook}"
CB="$CASEBOOK_BIN/casebook"
CBD="$CASEBOOK_BIN/casebookd"
N=${CASEBOOK_BENCH_INGEST:-10000}
export CASEBOOK_PASSPHRASE=bench-pass CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_HOME CASEBOOK_USER
T=$(mktemp -d "${TMPDIR:-/tmp}/cbbench.XXXXXX")
chmod 711 "$T"
: >"$T/pids"
stop_servers() {
	while read -r p; do kill "$p" 2>/dev/null; done <"$T/pids"
	: >"$T/pids"
	sleep 0.5
}
cleanup() {
	stop_servers
	"$top/tests/tools/pgtest.sh" stop "$T/pg" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

pg=$("$top/tests/tools/pgtest.sh" start "$T/pg") || { echo "b_pg: no PostgreSQL"; exit 0; }
PGH=${pg% *}
PGU=${pg#* }
# Durable commits for the figures (the tests run with fsync off).
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
psql -X -q -h "$PGH" -U "$PGU" -d postgres -c "ALTER SYSTEM SET fsync = on" \
	-c "ALTER SYSTEM SET full_page_writes = on" -c "SELECT pg_reload_conf()" >/dev/null

cat >"$T/mini.json" <<'EOF'
{"format":"casebook-protocol/1","id":"BENCH","version":"1",
 "title":"Bench",
 "forms":[{"code":"VS","label":"Vital signs",
   "writers":["coordinator","investigator"],
   "items":[{"code":"VSDAT","label":"Date","type":"date"},
            {"code":"NOTE","label":"Note","type":"text","max_length":200}]}],
 "visits":[{"code":"BL","label":"Baseline","day":0,"window":[0,0],
   "forms":["VS"]}],
 "day0":"BL.VS.VSDAT"}
EOF

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
now() { date +%s.%N; }
# calc EXPR: floating-point arithmetic (awk).
calc() { awk "BEGIN { print $1 }"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# store NAME BACKEND: a new store's --data/--store argument pair.
store() {
	if [ "$2" = pg ]; then
		createdb -h "$PGH" -U "$PGU" "$1"
		echo "--store postgresql://$PGU@/$1?host=$PGH"
	else
		echo "--data $T/$1"
	fi
}

# serve WHERE: casebookd serve on a new port; prints the URL.
serve() {
	_p=$(free_port)
	# shellcheck disable=SC2086
	"$CBD" serve $1 --listen "127.0.0.1:$_p" --threads 4 --rate 100000 \
		>/dev/null 2>>"$T/server.log" &
	echo $! >>"$T/pids"
	until curl -sf "http://127.0.0.1:$_p/v1/health" >/dev/null 2>&1; do sleep 0.05; done
	echo "http://127.0.0.1:$_p"
}

# laptop HOME URL WHERE SITE: a registered coordinator's laptop.
laptop() {
	# shellcheck disable=SC2086
	"$CBD" user add $3 "u$1" --full-name "Bench $1" --role coordinator \
		--site "$4" >/dev/null 2>&1
	# shellcheck disable=SC2086
	_t=$("$CBD" token create $3 --user "u$1" 2>/dev/null)
	"$CB" --home "$T/h/$1" init --server "$2" --token "$_t" --user "u$1" >/dev/null 2>&1 ||
		echo "b_pg: register $1 failed" >&2
}

# percentile FILE P: the P-th percentile of the numbers in FILE.
percentile() {
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
		i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
		printf "%.0f", v[i] * 1000 }'
}

echo "load average before: $(load)"
for backend in sqlite pg; do
	W=$(store "ingest_$backend" "$backend")
	# shellcheck disable=SC2086
	"$CBD" init $W --protocol "$T/mini.json" >/dev/null
	# shellcheck disable=SC2086
	"$CBD" site add $W KR01 --name Seoul >/dev/null
	URL=$(serve "$W")
	laptop "in_$backend" "$URL" "$W" KR01
	"$CASEBOOK_HOOKS" --home "$T/h/in_$backend" store test-events KR01-01001 "$N" ingest >/dev/null
	t0=$(now)
	"$CB" --home "$T/h/in_$backend" sync >/dev/null 2>&1 || echo "b_pg: ingest sync failed" >&2
	t1=$(now)
	printf '%-6s ingest: %d events in %.2f s: %.0f events/s (load %s)\n' "$backend" "$N" \
		"$(calc "$t1 - $t0")" "$(calc "$N / ($t1 - $t0)")" "$(load)"

	# 200 laptops, 10 sites.
	for s in 0 1 2 3 4 5 6 7 8 9; do
		# shellcheck disable=SC2086
		"$CBD" site add $W "S0$s" --name "Site $s" >/dev/null
	done
	i=0
	while [ $i -lt 200 ]; do
		site="S0$((i % 10))"
		laptop "d$i.$backend" "$URL" "$W" "$site"
		idx=$((i / 10 + 1))
		subj=$(printf '%s-%02d001' "$site" "$idx")
		"$CASEBOOK_HOOKS" --home "$T/h/d$i.$backend" store test-events "$subj" 5 dev >/dev/null
		i=$((i + 1))
	done
	: >"$T/lat.$backend"
	t0=$(now)
	i=0
	while [ $i -lt 200 ]; do echo $i; i=$((i + 1)); done |
		xargs -P 10 -I{} sh -c 'a=$(date +%s.%N); "$0" --home "$1/h/d{}.$2" sync >/dev/null 2>&1 || echo fail >&2; b=$(date +%s.%N); awk "BEGIN { print $b - $a }" >>"$1/lat.$2"' \
			"$CB" "$T" "$backend"
	t1=$(now)
	printf '%-6s 200 devices, 10 at a time: sync p50 %s ms, p99 %s ms, all in %.1f s (load %s)\n' \
		"$backend" "$(percentile "$T/lat.$backend" 50)" "$(percentile "$T/lat.$backend" 99)" \
		"$(calc "$t1 - $t0")" "$(load)"
	stop_servers
done

# Several casebookd on one PostgreSQL.
for procs in 1 2 3; do
	W=$(store "procs_$procs" pg)
	# shellcheck disable=SC2086
	"$CBD" init $W --protocol "$T/mini.json" >/dev/null
	URLS=""
	k=0
	while [ $k -lt "$procs" ]; do
		URLS="$URLS $(serve "$W")"
		k=$((k + 1))
	done
	i=0
	for s in A B C D E F; do
		# shellcheck disable=SC2086
		"$CBD" site add $W "P$s" --name "Site $s" >/dev/null
		# shellcheck disable=SC2086
		set -- $URLS
		shift $((i % procs))
		laptop "p$procs$s" "$1" "$W" "P$s"
		"$CASEBOOK_HOOKS" --home "$T/h/p$procs$s" store test-events "P$s-01001" 3000 multi >/dev/null
		i=$((i + 1))
	done
	t0=$(now)
	for s in A B C D E F; do
		"$CB" --home "$T/h/p$procs$s" sync >/dev/null 2>&1 &
	done
	wait
	t1=$(now)
	printf 'pg     %d casebookd, 6 laptops x 3000 events at once: %.2f s, %.0f events/s (load %s)\n' \
		"$procs" "$(calc "$t1 - $t0")" "$(calc "18000 / ($t1 - $t0)")" "$(load)"
	stop_servers
done
echo "load average after: $(load)"
