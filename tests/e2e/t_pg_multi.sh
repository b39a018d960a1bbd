#!/bin/sh
# t_pg_multi.sh - three casebookd serve one study on one PostgreSQL
# database, behind a load balancer (tests/e2e/lb.py), as
# docs/OPERATIONS.md runs them:
#   1. Laptops of two sites lease slots, enrol and randomize offline, and
#      sync at once through the balancer (each request to the next
#      process): every event stored once, every laptop's record equal to
#      the store's, no slot leased or used twice, nothing rejected.
#   2. The same push sent to two processes at once (a laptop and a copy
#      of it sync together): stored once.
#   3. kill -9 of the process serving a push: nothing lost, nothing
#      twice; the laptop's next sync goes to another process.
#   4. The database stopped mid-sync: the laptop exits 5 and keeps its
#      events; once the database is back, the sync completes.
# Runs in tests/run.sh's PostgreSQL pass, on a PostgreSQL server of its
# own (it is stopped in part 4).
. "$(dirname "$0")/lib.sh"

if ! is_pg; then
	fail "t_pg_multi" "runs in the PostgreSQL pass (CASEBOOK_TEST_STORE=pg)"
	finish
fi
export CASEBOOK_PASSPHRASE=multi-test-pass CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_HOME CASEBOOK_USER
chmod 711 "$T"
PGD="$T/pg"
pg=$("$CASEBOOK_TOP/tests/tools/pgtest.sh" start "$PGD") || {
	fail "start PostgreSQL" "pgtest.sh failed"
	finish
}
CASEBOOK_PG_HOST=${pg% *}
export CASEBOOK_PG_HOST
pg_down() { "$CASEBOOK_TOP/tests/tools/pgtest.sh" stop "$PGD"; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
pg_ctl_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$(stat -c %U "$PGD/data")" -- "$PGBIN/pg_ctl" "$@"
	else
		"$PGBIN/pg_ctl" "$@"
	fi
}

D="$T/data"
set -- $(free_ports 4)
P1=$1 P2=$2 P3=$3 LBP=$4
URL="http://127.0.0.1:$LBP"
PIDS=""
stop_all() {
	for _p in $SP1 $SP2 $SP3 $LBPID; do kill "$_p" 2>/dev/null; done
	for _p in $SP1 $SP2 $SP3 $LBPID; do wait "$_p" 2>/dev/null; done
	pg_down
}
SP1="" SP2="" SP3="" LBPID=""
at_exit stop_all

# start_one K: casebookd serve number K on port PK.
start_one() {
	eval "_port=\$P$1"
	"$CBD" serve --data "$D" --listen "127.0.0.1:$_port" --lease 3 \
		2>>"$T/server.$1.log" &
	eval "SP$1=$!"
	_i=0
	until curl -sf "http://127.0.0.1:$_port/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ]; then
			fail "server $1 starts" "no answer on port $_port"
			return 1
		fi
		sleep 0.05
	done
}

events() { srv_sql "SELECT count(*) FROM events"; }

# ---- the study, three processes, the balancer ------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out "$T/unblind.key" \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01,DE02 \
	--per-stratum 30 --block-sizes 2,4 --seed "multi-$$-abcdefghijkl" \
	--unblinding-pub "$T/unblind.key.pub" --out "$T/list.json" \
	>/dev/null 2>&1 || fail "randlist generate" "failed"
expect_rc "init on PostgreSQL" 0 "$CBD" init --data "$D" --protocol "$PROTO"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" site add --data "$D" DE02 --name Berlin >/dev/null 2>&1
expect_rc "import the list" 0 "$CBD" randlist import --data "$D" "$T/list.json"
for k in 1 2 3; do start_one $k || finish; done
python3 "$CASEBOOK_TOP/tests/e2e/lb.py" "$LBP" "$P1" "$P2" "$P3" \
	>"$T/lb.log" 2>&1 &
LBPID=$!
_i=0
until grep -q listening "$T/lb.log" 2>/dev/null; do
	_i=$((_i + 1))
	[ $_i -gt 200 ] && break
	sleep 0.05
done
pass "three casebookd serve one database"

LAPTOPS="KR01a KR01b DE02a DE02b"
for d in $LAPTOPS; do
	site=$(echo "$d" | cut -c1-4)
	t=$(token_for "u$d" coordinator "$site")
	expect_rc "register $d" 0 cb "$d" init --server "$URL" --token "$t" --user "u$d"
done
t=$(token_for dora datamanager)
expect_rc "register the data manager" 0 cb DM init --server "$URL" --token "$t" --user dora

# sync_together NAME DEVICES...: every device syncs at once; each exit 0.
sync_together() {
	_n=$1
	shift
	_pids=""
	for _d in "$@"; do
		cb "$_d" sync >"$T/sync.$_d" 2>&1 &
		_pids="$_pids $!:$_d"
	done
	for _pd in $_pids; do
		wait "${_pd%%:*}"
		_rc=$?
		[ $_rc -eq 0 ] || fail "$_n: sync ${_pd#*:}" "exit $_rc: $(tail -3 "$T/sync.${_pd#*:}")"
	done
}

# ---- 1. leases, offline work, syncs at once ---------------------------------

# Four laptops of two sites lease at once, through different processes.
sync_together "leases" $LAPTOPS
leased=$(srv_sql "SELECT count(*) FROM rand_slots WHERE device IS NOT NULL")
check "each laptop leased 3 slots per stratum (2 strata), none twice" 24 "$leased"

enroll() {
	_s=$(cb "$1" subject add 2>/dev/null) || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb "$1" form set "$_s" SCR ELIG AGE=60 KLGRADE="$2" PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
: >"$T/assigned"
for d in $LAPTOPS; do
	for kl in 2 3 2; do
		s=$(enroll "$d" "$kl") || fail "enrol on $d" "failed"
		if cb "$d" randomize "$s" >"$T/out" 2>"$T/err"; then
			echo "$d $s $(sed -n 's/.*randomization number: *//p' "$T/out")" >>"$T/assigned"
		else
			fail "randomize on $d" "$(head -c 300 "$T/err")"
		fi
	done
done
check "12 subjects randomized offline" 12 "$(wc -l <"$T/assigned" | tr -d ' ')"
sync_together "round 1" $LAPTOPS DM
sync_together "round 2" $LAPTOPS DM
for d in $LAPTOPS; do
	cb "$d" status >"$T/st" 2>&1
	if grep -q "Quarantined events: 0" "$T/st" && grep -q "Unsynced events:    0 of" "$T/st"; then
		pass "$d: everything synced, nothing rejected"
	else
		fail "$d: everything synced, nothing rejected" "$(grep -E 'Unsynced|Quarantined' "$T/st")"
	fi
done
used=$(srv_sql "SELECT count(*) FROM rand_slots WHERE subject IS NOT NULL")
check "12 slots used" 12 "$used"
check "no randomization number used twice" 12 \
	"$(cut -d' ' -f3 "$T/assigned" | sort -u | wc -l | tr -d ' ')"
check "each used slot's subject is the laptop's" 12 \
	"$(while read -r d s rn; do srv_sql "SELECT count(*) FROM rand_slots WHERE randno = '$rn' AND subject = '$s'"; done <"$T/assigned" | grep -c '^1$')"

# every_record NAME: each laptop's record is the store's for its site, the
# data manager's the blinded store's; events stored once.
every_record() {
	for d in $LAPTOPS; do
		site=$(echo "$d" | cut -c1-4)
		"$CBD" dump --data "$D" --canonical --site "$site" >"$T/srv.$site"
		cb "$d" dump >"$T/dev.$d" 2>/dev/null
		if grep -q "^event " "$T/srv.$site" && cmp -s "$T/srv.$site" "$T/dev.$d"; then
			pass "$1: $d's record is the store's"
		else
			fail "$1: $d's record is the store's" "$(diff "$T/srv.$site" "$T/dev.$d" | head -4)"
		fi
	done
	check "$1: no event stored twice" \
		"$(srv_sql "SELECT count(DISTINCT id) FROM events")" "$(events)"
	check "$1: the sequence has no number twice" \
		"$(srv_sql "SELECT count(DISTINCT seq) FROM events")" "$(events)"
}
every_record "round 2"
"$CBD" dump --data "$D" --canonical --blinded >"$T/srv.all"
cb DM dump >"$T/dev.DM" 2>/dev/null
if cmp -s "$T/srv.all" "$T/dev.DM"; then
	pass "the data manager's record is the store's"
else
	fail "the data manager's record is the store's" "$(diff "$T/srv.all" "$T/dev.DM" | head -4)"
fi
# The derived tables the three processes built push by push are what a
# rebuild derives from the events alone.
"$CBD" dump --data "$D" >"$T/derived1"
expect_rc "rebuild beside three running servers" 0 "$CBD" rebuild --data "$D"
"$CBD" dump --data "$D" >"$T/derived2"
if cmp -s "$T/derived1" "$T/derived2"; then
	pass "three writers' derived tables are a rebuild's"
else
	fail "three writers' derived tables are a rebuild's" "$(diff "$T/derived1" "$T/derived2" | head -4)"
fi

# ---- 2. the same push to two processes at once ------------------------------

for i in 1 2 3; do enroll KR01a 2 >/dev/null || fail "enrol" "failed"; done
cp -a "$T/h/KR01a" "$T/h/KR01a2"
before=$(events)
# The balancer sends the two at once to two processes in turn.
sync_together "twice at once" KR01a KR01a2
after=$(events)
sync_together "twice at once, again" KR01a KR01a2
check "the same push to two processes: stored once (9 events)" 9 "$((after - before))"
check "the copy holds the same record" "$(cb KR01a dump 2>/dev/null | md5sum)" \
	"$(cb KR01a2 dump 2>/dev/null | md5sum)"
rm -rf "$T/h/KR01a2"

# ---- 3. kill -9 of the process serving a push -------------------------------

# Big backlogs come from the test build's `store test-events` (form saves
# of BL/VS/NOTE): a second study with such a form, on the same three.
for k in 1 2 3; do
	eval "_p=\$SP$k"
	kill "$_p" 2>/dev/null
	wait "$_p" 2>/dev/null
done
cat >"$T/mini.json" <<'EOF'
{"format":"casebook-protocol/1","id":"MULTI","version":"1",
 "title":"Several servers",
 "forms":[{"code":"VS","label":"Vital signs",
   "writers":["coordinator","investigator"],
   "items":[{"code":"VSDAT","label":"Date","type":"date"},
            {"code":"NOTE","label":"Note","type":"text","max_length":200}]}],
 "visits":[{"code":"BL","label":"Baseline","day":0,"window":[0,0],
   "forms":["VS"]}],
 "day0":"BL.VS.VSDAT"}
EOF
D="$T/data2"
expect_rc "init the second study" 0 "$CBD" init --data "$D" --protocol "$T/mini.json"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
for k in 1 2 3; do start_one $k || finish; done
LAPTOPS="FA FB"
for d in $LAPTOPS; do
	t=$(token_for "u$d" coordinator KR01)
	expect_rc "register $d" 0 cb "$d" init --server "$URL" --token "$t" --user "u$d"
done

# same_record NAME: FA's and FB's records are the store's, nothing twice.
same_record() {
	"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.mini"
	for d in $LAPTOPS; do
		cb "$d" dump >"$T/dev.$d" 2>/dev/null
		if grep -q "^event " "$T/srv.mini" && cmp -s "$T/srv.mini" "$T/dev.$d"; then
			pass "$1: $d's record is the store's"
		else
			fail "$1: $d's record is the store's" "$(diff "$T/srv.mini" "$T/dev.$d" | head -4)"
		fi
	done
	check "$1: no event stored twice" \
		"$(srv_sql "SELECT count(DISTINCT id) FROM events")" "$(events)"
}

cbh FA store test-events KR01-01001 2500 "kill" >/dev/null 2>"$T/err" ||
	fail "make 2500 events" "$(cat "$T/err")"
before=$(events)
n0=$(wc -l <"$T/lb.log")
cb FA sync --retries 4 >"$T/sync.kill" 2>&1 &
spid=$!
_i=0
# The first connection the sync opens (its first push) names the process.
until tail -n +$((n0 + 1)) "$T/lb.log" | grep -aq "^open"; do
	_i=$((_i + 1))
	[ $_i -gt 400 ] && break
	sleep 0.02
done
victim=$(tail -n +$((n0 + 1)) "$T/lb.log" | grep -a "^open" | head -1 | cut -d' ' -f2)
[ -n "$victim" ] || victim=1
eval "vpid=\$SP$victim"
kill -9 "$vpid" 2>/dev/null
wait "$vpid" 2>/dev/null
eval "SP$victim=''"
wait $spid
rc=$?
# 1 too: a request cut off with its connection may be sent again as it
# was by the laptop's HTTP library, and the process that took it first
# had recorded its nonce (a replay, 401); the next sync signs anew.
if [ $rc -eq 0 ] || [ $rc -eq 5 ] || [ $rc -eq 1 ]; then
	pass "kill -9 of process $victim mid-push: the sync ends ($rc: $(tail -1 "$T/sync.kill" | head -c 100))"
else
	fail "kill -9 mid-push: the sync" "exit $rc: $(tail -3 "$T/sync.kill")"
fi
expect_rc "the next sync goes to the others" 0 cb FA sync
start_one "$victim" || finish
check "kill -9 mid-push: all 2500 stored, none twice" \
	2500 "$(($(events) - before))"
cb FA status >"$T/out" 2>&1
expect_out "nothing quarantined on FA" "Quarantined events: 0"
sync_together "after kill -9" $LAPTOPS
same_record "after kill -9"

# ---- 4. the database stopped mid-sync ---------------------------------------

cbh FB store test-events KR01-02001 3000 "down" >/dev/null 2>"$T/err" ||
	fail "make 3000 events" "$(cat "$T/err")"
before=$(events)
cb FB sync --retries 1 >"$T/sync.down" 2>&1 &
spid=$!
_i=0
while [ "$(events 2>/dev/null || echo 0)" -le "$before" ] && [ $_i -lt 600 ]; do
	_i=$((_i + 1))
	sleep 0.02
done
pg_ctl_as -D "$PGD/data" -m immediate -w stop >/dev/null 2>&1
wait $spid
check "the database stopped mid-sync: the laptop exits 5" 5 "$?"
if grep -q "nothing was lost" "$T/sync.down"; then
	pass "the laptop says nothing was lost"
else
	fail "the laptop says nothing was lost" "$(tail -3 "$T/sync.down")"
fi
cb FB status >"$T/st" 2>&1
if grep -q "Unsynced events:    0 of" "$T/st"; then
	fail "the laptop keeps what was not stored" "nothing left unsynced"
else
	pass "the laptop keeps what was not stored ($(grep Unsynced "$T/st" | tr -s ' '))"
fi
pg_ctl_as -D "$PGD/data" -l "$PGD/server.log" -w -t 60 start >/dev/null 2>&1 ||
	fail "PostgreSQL starts again" "$(tail -3 "$PGD/server.log")"
expect_rc "once the database is back, the sync completes" 0 cb FB sync
check "every one of the 3000 stored once" 3000 "$(($(events) - before))"
sync_together "after the database came back" $LAPTOPS
same_record "after the database came back"

finish
