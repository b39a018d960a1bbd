#!/bin/sh
# Sync under faults, against a real casebookd on loopback:
#
#   - `casebook sync` killed with SIGKILL at random moments while it
#     pushes a 3,000-event backlog, and while another laptop pulls it;
#   - the server killed with SIGKILL in the middle of a push;
#
# then sync run again: every event is on the server exactly once (its
# event count equals the laptop's, and the derived tables equal a
# rebuild from the events), and the laptops and the server hold the same
# record (canonical dumps). curl(1) as an independent client: /v1/health
# answers 200 and an unsigned push is refused with a JSON 401.
#
# Kill times come from the seed (CASEBOOK_SEED, else $$; printed). The
# backlog comes from `casebook store test-events` (the test build, $CBH),
# whose events write item NOTE of form VS at visit BL: the small protocol
# below has that form, so the server accepts them.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
SEED=${CASEBOOK_SEED:-$$}
echo "seed $SEED (rerun with CASEBOOK_SEED=$SEED)"
export CASEBOOK_PASSPHRASE=fault-test-pass CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_HOME CASEBOOK_USER
N=3000
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""

P="$T/mini.json"
cat >"$P" <<'EOF'
{"format":"casebook-protocol/1","id":"FAULTS","version":"1",
 "title":"Sync fault test",
 "forms":[{"code":"VS","label":"Vital signs",
   "writers":["coordinator","investigator"],
   "items":[{"code":"VSDAT","label":"Date","type":"date"},
            {"code":"WEIGHT","label":"Weight","type":"integer"},
            {"code":"NOTE","label":"Note","type":"text","max_length":200}]}],
 "visits":[{"code":"BL","label":"Baseline","day":0,"window":[0,0],
   "forms":["VS"]}],
 "day0":"BL.VS.VSDAT"}
EOF

at_exit stop_server

cb() {
	_home=$1
	shift
	"$CB" --home "$T/$_home" "$@"
}
cbh() {
	_home=$1
	shift
	"$CBH" --home "$T/$_home" "$@"
}
# The server's event count, read while it runs (WAL readers do not block).
srv_events() {
	"$CBD" status --data "$D" 2>/dev/null | sed -n 's/^events *\([0-9]*\).*/\1/p'
}
# A laptop's stored event count.
dev_events() {
	cb "$1" status 2>/dev/null | sed -n 's/^Unsynced events: *[0-9]* of \([0-9]*\)$/\1/p'
}
# first_delay K: a pause of 0.02 to 0.30 s drawn from the seed and K.
first_delay() {
	awk -v s="$SEED" -v k="$1" 'BEGIN { srand(s * 97 + k); printf "%.3f\n", 0.02 + rand() * 0.28 }'
}
# next_delay DELAY BEFORE NOW ALL: the next pause, so that the kills home
# in on the middle of the transfer: shorter when the last one came too
# late (everything was done), longer when it came before any progress.
next_delay() {
	awk -v d="$1" -v b="$2" -v n="$3" -v a="$4" 'BEGIN {
		if (n >= a) d = d / 2; else if (n <= b) d = d * 1.7;
		if (d < 0.002) d = 0.002; printf "%.3f\n", d }'
}

"$CBD" init --data "$D" --protocol "$P" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people anna:coordinator:KR01 ben:investigator:KR01
start_server || finish
db_size0=$(stat -c %s "$D/casebookd.db" 2>/dev/null)

# ---- curl as an independent client ------------------------------------------

code=$(curl -s -o "$T/health" -w '%{http_code}' "$URL/v1/health")
check "GET /v1/health answers 200" 200 "$code"
code=$(curl -s -o "$T/unsigned" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' --data '{"events":[]}' "$URL/v1/sync/push")
check "an unsigned push is refused with 401" 401 "$code"
if python3 -c 'import json,sys
e=json.load(open(sys.argv[1]))["error"]
assert e["code"] and e["message"]' "$T/unsigned" 2>/dev/null; then
	pass "the refusal is a JSON error with a code and a message"
else
	fail "JSON 401" "body: $(head -c 200 "$T/unsigned")"
fi

ta=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
tb=$("$CBD" token create --data "$D" --site KR01 --role investigator 2>/dev/null)
expect_rc "register laptop A" 0 cb A init --server "$URL" --token "$ta" --user anna
expect_rc "register laptop B" 0 cb B init --server "$URL" --token "$tb" --user ben

# ---- sync killed mid-push ----------------------------------------------------

# Each try kills a sync of A after a pause; when a try came too late (the
# whole backlog went through), A gets a new backlog for the next one.
PUSHED=$N
expect_rc "a backlog of $N events on A" 0 cbh A store test-events KR01-01001 $N "backlog"
check "A holds the backlog" $N "$(dev_events A)"
partial=0 k=0 dl=$(first_delay 1)
while [ $k -lt 12 ] && [ $partial -lt 2 ]; do
	k=$((k + 1))
	before=$(srv_events)
	cb A sync >"$T/kill.out" 2>&1 &
	pid=$!
	sleep "$dl"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	now=$(srv_events)
	echo "push kill $k after ${dl}s: server $before -> $now of $PUSHED events"
	[ "$now" -gt "$before" ] && [ "$now" -lt $PUSHED ] && partial=$((partial + 1))
	dl=$(next_delay "$dl" "$before" "$now" $PUSHED)
	if [ "$now" -ge $PUSHED ]; then
		cbh A store test-events "KR01-0$((1100 + k))" $N "backlog" >/dev/null 2>&1 ||
			fail "another backlog" "test-events failed"
		PUSHED=$((PUSHED + N))
	fi
done
[ $partial -gt 0 ] && pass "kill -9 landed mid-push ($partial times)" ||
	fail "kill -9 mid-push" "no kill landed mid-push in $k tries (seed $SEED)"
expect_rc "sync after the kills" 0 cb A sync
check "every pushed event is on the server exactly once" $PUSHED "$(srv_events)"
# The server checkpoints its log on a thread of its own, not in a push's
# commit: once the log passes 1,000 pages (about 3,500 of these events),
# pages reach the database file itself while the server runs.
cbh A store test-events KR01-01099 1500 "more" >/dev/null 2>&1
expect_rc "sync 1,500 more events" 0 cb A sync
i=0
# (SQLite's log only: PostgreSQL checkpoints by itself.)
while ! is_pg && [ $i -lt 50 ] && [ "$(stat -c %s "$D/casebookd.db")" -le $((db_size0 + 1048576)) ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! is_pg; then
	db_size1=$(stat -c %s "$D/casebookd.db")
	echo "database file while serving: $db_size0 -> $db_size1 bytes"
	if [ "$db_size1" -gt $((db_size0 + 1048576)) ]; then
		pass "the write-ahead log is checkpointed while the server runs"
	else
		fail "checkpoint while serving" "casebookd.db stayed at $db_size1 bytes (was $db_size0)"
	fi
fi
PUSHED=$((PUSHED + 1500))
expect_rc "A status" 0 cb A status
expect_out "nothing left unsynced on A" "Unsynced events:    0 of $PUSHED"
expect_out "nothing quarantined on A" "Quarantined events: 0"
expect_rc "sync again changes nothing" 0 cb A sync
expect_out "nothing more to push" "pushed 0 events"
check "still exactly once" $PUSHED "$(srv_events)"

# ---- sync killed mid-pull ----------------------------------------------------

# Each try is a new laptop of the site pulling all of it, killed after a
# pause; then every one of them syncs to the end.
PULLERS=""
partial=0 k=0 dl=$(first_delay 2)
while [ $k -lt 12 ] && [ $partial -lt 2 ]; do
	k=$((k + 1))
	tp=$(token_for "puller$k" investigator KR01)
	cb "P$k" init --server "$URL" --token "$tp" --user "puller$k" >/dev/null 2>&1 ||
		fail "register puller $k" "failed"
	PULLERS="$PULLERS P$k"
	cb "P$k" sync >"$T/kill.out" 2>&1 &
	pid=$!
	sleep "$dl"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	now=$(dev_events "P$k")
	echo "pull kill $k after ${dl}s: P$k holds $now of $PUSHED events"
	[ "${now:-0}" -gt 0 ] && [ "$now" -lt $PUSHED ] && partial=$((partial + 1))
	dl=$(next_delay "$dl" 0 "${now:-0}" $PUSHED)
done
[ $partial -gt 0 ] && pass "kill -9 landed mid-pull ($partial times)" ||
	fail "kill -9 mid-pull" "no kill landed mid-pull in $k tries (seed $SEED)"
for p in $PULLERS; do
	cb "$p" sync >"$T/out" 2>"$T/err" || fail "$p syncs after the kill" "$(cat "$T/err")"
	n=$(dev_events "$p")
	[ "$n" = "$PUSHED" ] || fail "$p holds every event exactly once" "$n, wanted $PUSHED"
done
pass "every killed puller then holds every event exactly once"
expect_rc "B syncs" 0 cb B sync
check "B holds every event exactly once" $PUSHED "$(dev_events B)"
expect_rc "a killed puller's store is sound" 0 cb P1 store check

# ---- the server killed mid-request --------------------------------------------

expect_rc "a second backlog on A" 0 cbh A store test-events KR01-01002 $N "backlog"
expect_rc "B changes something too" 0 cbh B store test-events KR01-01001 5 "backlog"
TOTAL=$((PUSHED + N + 5))
k=0 srv_killed=0 dl=$(first_delay 3)
while [ $k -lt 8 ]; do
	k=$((k + 1))
	before=$(srv_events)
	[ "$before" -ge $((TOTAL - 5)) ] && break
	cb A sync --retries 0 >"$T/kill.out" 2>&1 &
	pid=$!
	sleep "$dl"
	kill -9 "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
	wait $pid
	rc=$?
	now=$(srv_events)
	echo "server kill $k after ${dl}s: sync exit $rc, server $before -> $now events"
	dl=$(next_delay "$dl" "$before" "$now" $((TOTAL - 5)))
	[ $rc -ne 0 ] && srv_killed=$((srv_killed + 1))
	if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
		fail "a sync whose server died exits 5" "exit $rc: $(head -c 300 "$T/kill.out")"
	fi
	start_server || finish
done
[ $srv_killed -gt 0 ] && pass "the server died under a sync ($srv_killed times)" ||
	fail "server killed mid-request" "every sync finished first (seed $SEED)"
"$CBD" dump --data "$D" >"$T/derived.before" 2>&1
expect_rc "A syncs after the server restarts" 0 cb A sync
expect_rc "B syncs" 0 cb B sync
expect_rc "A syncs again" 0 cb A sync
check "every event on the server exactly once after the crashes" $TOTAL "$(srv_events)"
check "A holds every event" $TOTAL "$(dev_events A)"
check "B holds every event" $TOTAL "$(dev_events B)"
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv" 2>&1
cb A dump >"$T/dumpA" 2>&1
cb B dump >"$T/dumpB" 2>&1
check "the server's canonical dump lists each event once" $TOTAL \
	"$(grep '^event ' "$T/srv" | cut -d' ' -f3 | sort -u | wc -l)"
if cmp -s "$T/srv" "$T/dumpA" && cmp -s "$T/srv" "$T/dumpB"; then
	pass "server, A and B hold the same record"
else
	fail "same record" "$(diff "$T/srv" "$T/dumpA" | head -3) / $(diff "$T/srv" "$T/dumpB" | head -3)"
fi

# The derived tables the server built across the crashes equal a rebuild.
stop_server
"$CBD" dump --data "$D" >"$T/derived.live" 2>&1
expect_rc "rebuild after the crashes" 0 "$CBD" rebuild --data "$D"
"$CBD" dump --data "$D" >"$T/derived.rebuilt" 2>&1
if [ -s "$T/derived.live" ] && cmp -s "$T/derived.live" "$T/derived.rebuilt"; then
	pass "derived tables equal a rebuild from the events"
else
	fail "derived tables vs rebuild" "$(diff "$T/derived.live" "$T/derived.rebuilt" | head -4)"
fi

finish
