#!/bin/sh
# Sync end to end: a real casebookd on loopback, three sites with two
# laptops each (a coordinator's and an investigator's) and a data
# manager's device.
#
#   1. Every laptop enters data offline, then all sync in a random order
#      (seed from CASEBOOK_SEED, else $$; printed), twice around. The
#      server's canonical dump of each site and both laptops of that site
#      are then byte-identical, and no laptop holds another site's data.
#   2. Two laptops of one site change the same item offline: after sync
#      both show the conflict and the same system query; one resolves it
#      with a reason and after sync nobody has a conflict.
#   3. The data manager pulls every site, opens a query, the site answers
#      at its next sync, the data manager closes it; all converge.
#   4. Two concurrent AE edits that each pass alone but not together: the
#      server rejects the later one, which stays in quarantine, shown with
#      its reason by `status`, and is never pushed again.
#   5. With the server down, sync exits 5 and loses nothing; after a
#      restart the queued event is pushed.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
SEED=${CASEBOOK_SEED:-$$}
echo "seed $SEED (rerun with CASEBOOK_SEED=$SEED)"
export CASEBOOK_PASSPHRASE=sync-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
SITES="KR01 DE02 US03"

at_exit stop_server



# shuffle R WORDS...: the words in a random order drawn from the seed
# and R (a different R for each shuffle).
shuffle() {
	_r=$1
	shift
	printf '%s\n' "$@" | awk -v seed="$SEED" -v r="$_r" \
		'BEGIN { srand(seed * 31 + r) } { print rand() "\t" $0 }' |
		sort -n | cut -f2
}

# sync_all NAME DEVICES...: sync each, in the order given.
sync_all() {
	_n=$1
	shift
	for _d in "$@"; do
		cb "$_d" sync >"$T/out" 2>"$T/err"
		_rc=$?
		[ $_rc -eq 0 ] || fail "$_n: sync $_d" "exit $_rc: $(head -c 300 "$T/err")"
	done
}

# same_site NAME SITE: the server's dump of SITE and both laptops' dumps
# are byte-identical (and not empty).
same_site() {
	"$CBD" dump --data "$D" --canonical --site "$2" >"$T/srv.$2" 2>"$T/err" ||
		fail "$1: server dump $2" "$(cat "$T/err")"
	cb "${2}a" dump >"$T/dev.${2}a" 2>"$T/err"
	cb "${2}b" dump >"$T/dev.${2}b" 2>>"$T/err"
	if ! grep -q "^event " "$T/srv.$2"; then
		fail "$1: $2" "the server's dump of $2 has no events"
	elif cmp -s "$T/srv.$2" "$T/dev.${2}a" && cmp -s "$T/srv.$2" "$T/dev.${2}b"; then
		pass "$1: $2 server and both laptops identical"
	else
		fail "$1: $2 identical" "$(diff "$T/srv.$2" "$T/dev.${2}a" | head -4) / $(diff "$T/srv.$2" "$T/dev.${2}b" | head -4)"
	fi
}

# ---- the server and the devices ---------------------------------------------

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
for s in $SITES; do
	"$CBD" site add --data "$D" "$s" --name "Site $s" >/dev/null 2>&1
	people "coord$s:coordinator:$s" "inv$s:investigator:$s"
done
start_server || finish
DEVICES=""
for s in $SITES; do
	ta=$("$CBD" token create --data "$D" --site "$s" --role coordinator 2>/dev/null)
	tb=$("$CBD" token create --data "$D" --site "$s" --role investigator 2>/dev/null)
	expect_rc "register $s coordinator" 0 cb "${s}a" init --server "$URL" --token "$ta" --user "coord$s"
	expect_rc "register $s investigator" 0 cb "${s}b" init --server "$URL" --token "$tb" --user "inv$s"
	DEVICES="$DEVICES ${s}a ${s}b"
done
tdm=$(token_for dana datamanager)
expect_rc "register the data manager" 0 cb DM init --server "$URL" --token "$tdm" --user dana

# ---- 1. offline entry, then sync in a random order --------------------------

# enter DEV N: subject N of a laptop, with screening data and an AE.
enter() {
	_d=$1 _n=$2
	_s=$(cb "$_d" subject add 2>"$T/err") || {
		fail "$_d subject add" "$(cat "$T/err")"
		return
	}
	eval "SUBJ_${_d}_$_n=$_s"
	_ht=$((150 + _n * 7 + ${#_d}))
	cb "$_d" form set "$_s" SCR SV VISDT=2026-01-10 >/dev/null 2>"$T/err" &&
		cb "$_d" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=196$_n \
			SEX=F HEIGHT=$_ht WEIGHT=7$_n KNEE=L >/dev/null 2>>"$T/err" &&
		cb "$_d" ae add "$_s" AETERM="Knee pain $_d" AESTDTC=2026-01-12 \
			AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT \
			AERELPR=POSSIBLE AEACN=NONE AEOUT=RECOVERING \
			>/dev/null 2>>"$T/err" ||
		fail "$_d enters $_s offline" "$(head -c 300 "$T/err")"
}
for d in $DEVICES; do
	eval "SUBJ_${d}_1=none SUBJ_${d}_2=none"
	enter "$d" 1
	case $d in *a) enter "$d" 2 ;; esac
done
pass "every laptop entered its data offline"

ORDER1=$(shuffle 1 $DEVICES)
ORDER2=$(shuffle 2 $DEVICES)
echo "sync order 1:" $ORDER1
echo "sync order 2:" $ORDER2
sync_all "round 1" $ORDER1
sync_all "round 2" $ORDER2
for s in $SITES; do
	same_site "after two rounds" "$s"
	for d in a b; do
		for o in $SITES; do
			[ "$o" = "$s" ] && continue
			if grep -q "$o" "$T/dev.$s$d"; then
				fail "$s$d holds no $o data" "$(grep -m1 "$o" "$T/dev.$s$d")"
			fi
		done
	done
	eval "sa=\$SUBJ_${s}a_2 sb=\$SUBJ_${s}b_1"
	if grep -q "\"$sa\"" "$T/dev.${s}b" && grep -q "\"$sb\"" "$T/dev.${s}a"; then
		pass "$s laptops hold each other's subjects"
	else
		fail "$s laptops exchanged subjects" "$sa / $sb missing"
	fi
done
pass "no site laptop holds another site's subjects (checked above)"
n=$(grep -c "^event " "$T/srv.KR01")
# Per site: 3 subjects x (status, SV, DM, AE) = 12 events.
check "KR01 holds its 12 events" 12 "$n"

# A laptop's own events do not come back to it: its pull skips what its
# push just stored (the push answer's numbers). The other laptop of the
# site still receives them.
expect_rc "KR01a changes a value" 0 cb KR01a form set "$SUBJ_KR01a_1" SCR SV VISDT=2026-01-11 --reason "typo"
expect_rc "KR01a syncs it" 0 cb KR01a sync
expect_out "its own event is not pulled back" "pulled 0 events, 0 new"
expect_rc "KR01b syncs" 0 cb KR01b sync
expect_out "KR01b receives the change" "pulled 1 event, 1 new"
expect_rc "KR01b shows it" 0 cb KR01b form show "$SUBJ_KR01a_1" SCR SV
expect_out "KR01b shows the new value" "2026-01-11"

# ---- 2. a conflict ----------------------------------------------------------

S=$SUBJ_KR01a_1
expect_rc "coordinator changes WEIGHT offline" 0 cb KR01a form set "$S" SCR DM WEIGHT=81 --reason "re-weighed"
expect_rc "investigator changes WEIGHT offline" 0 cb KR01b form set "$S" SCR DM WEIGHT=82 --reason "scale recalibrated"
sync_all "conflict" $(shuffle 3 KR01a KR01b) KR01a KR01b
for d in KR01a KR01b; do
	expect_rc "$d form show" 0 cb "$d" form show "$S" SCR DM
	expect_out "$d sees the conflict" "CONFLICT"
	cb "$d" query list --json >"$T/q.$d" 2>&1
	python3 -c 'import json,sys
q=[x for x in json.load(open(sys.argv[1]))["queries"] if x["system"] and x["item"]=="WEIGHT"]
print(q[0]["id"] if len(q)==1 else "none")' "$T/q.$d" >"$T/qid.$d" 2>&1
done
QA=$(cat "$T/qid.KR01a") QB=$(cat "$T/qid.KR01b")
check "both laptops derive the same conflict query" "$QA" "$QB"
check "the conflict query id is an id" 32 "${#QA}"
expect_rc "coordinator status" 0 cb KR01a status
expect_out "status lists the conflict query (coordinator)" "$S SCR DM WEIGHT  [$QA, open]"
expect_rc "investigator status" 0 cb KR01b status
expect_out "status lists the conflict query (investigator)" "$S SCR DM WEIGHT  [$QA, open]"
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.c" 2>&1
if grep -q "\"WEIGHT\" conflict $QA" "$T/srv.c"; then
	pass "the server derived the same conflict"
else
	fail "server conflict" "$(grep WEIGHT "$T/srv.c" | head -3)"
fi
same_site "with the conflict" KR01

expect_rc "resolving without a reason is refused" 2 cb KR01b form set "$S" SCR DM WEIGHT=82
expect_rc "investigator resolves the conflict" 0 cb KR01b form set "$S" SCR DM WEIGHT=82 \
	--reason "source document says 82 kg"
expect_rc "resolved locally" 0 cb KR01b form show "$S" SCR DM
expect_no_out "no conflict on the resolving laptop" "CONFLICT"
sync_all "resolution" KR01b KR01a
for d in KR01a KR01b; do
	expect_rc "$d form show after sync" 0 cb "$d" form show "$S" SCR DM
	expect_no_out "$d: no conflict after the resolution" "CONFLICT"
	expect_out "$d: the resolved value" "82"
	cb "$d" status >"$T/out" 2>"$T/err"
	expect_no_out "$d: the conflict query is gone from status" "$QA"
done
same_site "after the resolution" KR01
if grep -q '"WEIGHT" = "82"' "$T/srv.KR01"; then
	pass "the server holds the resolved value"
else
	fail "server resolved value" "$(grep '"WEIGHT"' "$T/srv.KR01" | head -3)"
fi

# ---- 3. the data manager's query --------------------------------------------

expect_rc "the data manager pulls every site" 0 cb DM sync
"$CBD" dump --data "$D" --canonical --blinded >"$T/srv.all" 2>&1
cb DM dump >"$T/dev.DM" 2>&1
if cmp -s "$T/srv.all" "$T/dev.DM"; then
	pass "the data manager holds exactly the server's (blinded) record"
else
	fail "data manager record" "$(diff "$T/srv.all" "$T/dev.DM" | head -4)"
fi
for s in $SITES; do
	grep -q "\"$s-" "$T/dev.DM" && pass "data manager has $s subjects" ||
		fail "data manager has $s subjects" "none"
done
S2=$SUBJ_DE02b_1
expect_rc "data manager opens a query" 0 cb DM query open "$S2" SCR DM HEIGHT --text "Please confirm height"
QD=$(sed -n 's/^query \([0-9a-f]\{32\}\) opened.*/\1/p' "$T/out")
check "the query has an id" 32 "${#QD}"
sync_all "query out" DM DE02b
expect_rc "the site lists the query" 0 cb DE02b query list
expect_out "the query reached the site" "$QD  open"
expect_rc "the site answers" 0 cb DE02b query answer "$QD" --text "Height confirmed"
sync_all "answer back" DE02b DM
expect_rc "the data manager sees the answer" 0 cb DM query list
expect_out "answered at the data manager" "$QD  answered"
expect_out "with the site's answer" "A: Height confirmed (invDE02)"
expect_rc "the data manager closes it" 0 cb DM query close "$QD" --text "Thanks"
sync_all "close out" DM $(shuffle 4 $DEVICES) DM
for s in $SITES; do
	same_site "after the query" "$s"
done
grep -q "^query $QD event closed " "$T/srv.DE02" &&
	pass "the query is closed on the server and at DE02" ||
	fail "query closed everywhere" "$(grep "^query $QD" "$T/srv.DE02")"
"$CBD" dump --data "$D" --canonical --blinded >"$T/srv.all" 2>&1
cb DM dump >"$T/dev.DM" 2>&1
cmp -s "$T/srv.all" "$T/dev.DM" && pass "the data manager converged too" ||
	fail "data manager converged" "$(diff "$T/srv.all" "$T/dev.DM" | head -4)"
cb DE02a query list --all >"$T/out" 2>&1
expect_out "the other DE02 laptop sees it closed" "$QD  closed"

# ---- 4. quarantine: a real rejection ----------------------------------------

S3=$SUBJ_US03a_1
# AE#1 of S3 began 2026-01-12 and is ongoing. Offline, the coordinator
# ends it on 01-20 while the investigator moves its onset to 01-25: each
# passes alone; together the end is before the onset (a hard check).
expect_rc "coordinator ends the AE" 0 cb US03a form set "$S3" LOG AE#1 AEONGO=N \
	AEENDTC=2026-01-20 AEOUT=RECOVERED --reason "resolved"
expect_rc "investigator moves the onset" 0 cb US03b form set "$S3" LOG AE#1 \
	AESTDTC=2026-01-25 --reason "onset per patient diary"
before=$("$CBD" dump --data "$D" --canonical --site US03 | grep -c "^event ")
sync_all "quarantine" US03a
expect_rc "the investigator syncs (rejections are not failures)" 0 cb US03b sync
expect_out "one event rejected" "1 rejected"
after=$("$CBD" dump --data "$D" --canonical --site US03 | grep -c "^event ")
check "the server stored only the coordinator's change" $((before + 1)) "$after"
REJ=$(cb US03b status --json 2>/dev/null | python3 -c 'import json,sys
print(json.load(sys.stdin)["quarantined"]["events"][0]["id"])' 2>/dev/null)
check "the quarantine names the event" 32 "${#REJ}"
expect_rc "status on the investigator's laptop" 0 cb US03b status
expect_out "status counts the quarantined event" "Quarantined events: 1"
expect_out "status gives the event and its reason" \
	"$REJ: LOG.AE#1: 1 edit check(s) failed: AE end date is before the onset date"
# The refused change is not part of the laptop's record: its state is the
# server's again (the onset it moved is back where the server has it).
cb US03b dump >"$T/us03b.dump" 2>&1
"$CBD" dump --data "$D" --canonical --site US03 >"$T/us03.srv" 2>&1
if cmp -s "$T/us03b.dump" "$T/us03.srv"; then
	pass "the laptop with a quarantined event matches the server"
else
	fail "the laptop with a quarantined event matches the server" \
		"$(diff "$T/us03b.dump" "$T/us03.srv" | head -5)"
fi
expect_rc "sync again" 0 cb US03b sync
expect_out "the quarantined event is not pushed again" "pushed 0 events"
after2=$("$CBD" dump --data "$D" --canonical --site US03 | grep -c "^event ")
check "nothing more reached the server" "$after" "$after2"
expect_rc "status still shows it" 0 cb US03b status
expect_out "still quarantined, not dropped" "Quarantined events: 1"
if [ -n "$REJ" ]; then
	"$CBD" dump --data "$D" --canonical >"$T/srv.all" 2>&1
	grep -q "$REJ" "$T/srv.all" && fail "the rejected event is not on the server" "$REJ found" ||
		pass "the rejected event is not on the server"
fi

# ---- 5. the server down -----------------------------------------------------

stop_server
expect_rc "a change while the server is down" 0 cb DE02a form set "$SUBJ_DE02a_1" SCR DM \
	WEIGHT=90 --reason "weighed again"
expect_rc "sync with the server down exits 5" 5 cb DE02a sync --retries 1
expect_rc "status after the failed sync" 0 cb DE02a status
expect_out "the event is still queued" "Unsynced events:    1 of"
start_server || finish
expect_rc "sync after the restart" 0 cb DE02a sync
expect_out "the queued event is pushed" "pushed 1 event: 1 accepted"
sync_all "after the outage" DE02b
same_site "after the outage" DE02
grep -q '"WEIGHT" = "90"' "$T/srv.DE02" && pass "the change made offline reached the server" ||
	fail "offline change on the server" "missing"
for s in KR01 DE02; do
	same_site "at the end" "$s"
done

finish
