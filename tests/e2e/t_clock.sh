#!/bin/sh
# t_clock.sh - clock faults (issue 14): a laptop whose clock is hours or
# days off, against a real casebookd on loopback. The laptop's clock is
# skewed with CASEBOOK_CLOCK_OFFSET_MS (common/clock.h), the system
# clock untouched.
#
#   - hours ahead, then hours behind: data entry goes on offline; sync is
#     refused (the request time is over five minutes from the server's):
#     the laptop says its clock is off and exits 4, its work stays
#     queued; the server logs the refusal naming the device. Once the
#     clock is right the work goes through.
#   - ordering stays right: a correction made after seeing an event
#     stamped hours ahead comes after it (its hybrid clock is later),
#     and a correction made with a clock hours behind still comes after
#     the value it corrects; neither is a conflict, and the history
#     lists them in the order they were made.
#   - days ahead: events stamped over a day ahead of the server are
#     refused with code "clock" and kept queued, not quarantined; the
#     laptop says to check its date and time; the server logs a warning
#     with how many were ahead. The laptop's hybrid clock never goes
#     back, so what it records next waits too, until the server's time
#     reaches the stamps; then all of it goes through, in order.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=clock-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_CLOCK_OFFSET_MS
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
at_exit stop_server
cd "$T" || exit 1
HOUR=3600000
DAY=86400000

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "casebookd init"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
for spec in A:investigator B:coordinator; do
	h=${spec%%:*} r=${spec#*:}
	t=$(token_for "u$h" "$r" KR01)
	cb "$h" init --server "$URL" --token "$t" --user "u$h" >/dev/null 2>"$T/err" ||
		fail "register $h" "$(cat "$T/err")"
done
S=$(cb A subject add 2>"$T/err") || fail "subject add" "$(cat "$T/err")"
cb A form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "set-up" "DM"
expect_rc "A syncs" 0 cb A sync
expect_rc "B syncs" 0 cb B sync

unsynced() { cb "$1" status 2>/dev/null | sed -n 's/^Unsynced events: *\([0-9]*\) of.*/\1/p'; }
# history SUBJECT VISIT FORM ITEM HOME: "hlc value user" lines of the
# item's audit trail, in the order the laptop lists them.
history() {
	cb "$5" form show "$1" "$2" "$3" --history --json >hist.json 2>&1
	python3 -c 'import json,sys
j=json.load(open("hist.json"))
for h in j["history"]:
    if h.get("item") == sys.argv[1]:
        print(h["hlc"], h.get("value"), h["user"], h["when"])' "$4"
}
# same_record NAME: A, B and the server hold the same record.
same_record() {
	"$CBD" dump --data "$D" --canonical --site KR01 >srv.dump 2>&1
	cb A dump >a.dump 2>&1
	cb B dump >b.dump 2>&1
	if [ -s srv.dump ] && cmp -s srv.dump a.dump && cmp -s srv.dump b.dump; then
		pass "$1"
	else
		fail "$1" "$(diff srv.dump a.dump | head -3) / $(diff srv.dump b.dump | head -3)"
	fi
}

# ---- hours ahead -------------------------------------------------------------

expect_rc "A, three hours ahead, saves offline" 0 \
	env CASEBOOK_CLOCK_OFFSET_MS=$((3 * HOUR)) "$CB" --home "$T/h/A" form set "$S" BL VAS VAS=40
q0=$(unsynced A)
lines0=$(wc -l <"$T/server.log")
env CASEBOOK_CLOCK_OFFSET_MS=$((3 * HOUR)) "$CB" --home "$T/h/A" sync >"$T/out" 2>"$T/err"
check "sync with a clock three hours ahead exits 4" 4 "$?"
expect_out "the laptop says its clock is off" "check the device clock"
expect_out "it says by how much" "away from the server's clock"
check "A's work stays queued" "$q0" "$(unsynced A)"
tail -n +$((lines0 + 1)) "$T/server.log" >srv.new
if grep -q '"error":"clock_skew"' srv.new && grep -q "unverified" srv.new; then
	pass "the server logs the refused clock, naming the device"
else
	fail "the server logs the refused clock" "$(tail -3 srv.new)"
fi
expect_rc "the clock set right, A syncs" 0 cb A sync
expect_out "its event goes through" "1 accepted"
check "nothing left queued on A" 0 "$(unsynced A)"

# B sees the value stamped three hours ahead and corrects it with its
# right clock: the correction comes after it.
expect_rc "B syncs (receives the value)" 0 cb B sync
expect_rc "B corrects it" 0 cb B form set "$S" BL VAS VAS=45 --reason "transcription error"
history "$S" BL VAS VAS B >h.txt
first=$(sed -n 1p h.txt) second=$(sed -n 2p h.txt)
if [ "$(echo "$first" | cut -d' ' -f2,3)" = "40 uA" ] &&
	[ "$(echo "$second" | cut -d' ' -f2,3)" = "45 uB" ] &&
	[ "$(echo "$second" | cut -d' ' -f1)" \> "$(echo "$first" | cut -d' ' -f1)" ]; then
	pass "B's correction comes after the value stamped ahead (hybrid clock)"
else
	fail "order after a clock ahead" "$(cat h.txt)"
fi
expect_rc "B syncs" 0 cb B sync
expect_rc "A syncs" 0 cb A sync
cb A form show "$S" BL VAS >"$T/out" 2>&1
expect_out "the value is B's correction" "45"
expect_no_out "no conflict" "CONFLICT"
same_record "A, B and the server agree after the clock ran ahead"

# ---- hours behind --------------------------------------------------------------

expect_rc "A, five hours behind, corrects the value offline" 0 \
	env CASEBOOK_CLOCK_OFFSET_MS=$((-5 * HOUR)) "$CB" --home "$T/h/A" form set "$S" BL VAS VAS=50 \
	--reason "source re-read"
env CASEBOOK_CLOCK_OFFSET_MS=$((-5 * HOUR)) "$CB" --home "$T/h/A" sync >"$T/out" 2>"$T/err"
check "sync with a clock five hours behind exits 4" 4 "$?"
expect_out "the laptop says its clock is off" "check the device clock"
check "A's correction stays queued" 1 "$(unsynced A)"
history "$S" BL VAS VAS A >h.txt
last=$(tail -1 h.txt)
prev=$(tail -2 h.txt | head -1)
if [ "$(echo "$last" | cut -d' ' -f2,3)" = "50 uA" ] &&
	[ "$(echo "$last" | cut -d' ' -f1)" \> "$(echo "$prev" | cut -d' ' -f1)" ] &&
	[ "$(echo "$last" | cut -d' ' -f4)" \< "$(echo "$prev" | cut -d' ' -f4)" ]; then
	pass "A's correction, made by a clock behind, still comes after B's (its wall time earlier)"
else
	fail "order with a clock behind" "$(cat h.txt)"
fi
expect_rc "the clock set right, A syncs" 0 cb A sync
expect_rc "B syncs" 0 cb B sync
cb B form show "$S" BL VAS >"$T/out" 2>&1
expect_out "B holds A's correction" "50"
expect_no_out "no conflict" "CONFLICT"
same_record "A, B and the server agree after the clock ran behind"

# ---- days ahead ----------------------------------------------------------------

# A laptop's hybrid clock never runs backwards, so once it has stamped
# an event three days ahead, what it records next, clock set right or
# not, is stamped after it: all of it waits until the server's time
# reaches the stamps. The server refuses each with code "clock" and the
# laptop keeps them queued, never quarantined.
expect_rc "A, three days ahead, saves offline" 0 \
	env CASEBOOK_CLOCK_OFFSET_MS=$((3 * DAY)) "$CB" --home "$T/h/A" form set "$S" BL PE ROM=100
expect_rc "with the clock right, A saves more" 0 cb A form set "$S" BL MRI READER=R1
history "$S" BL MRI READER A >h.txt
later=$(cut -d' ' -f1 h.txt)
history "$S" BL PE ROM A >h.txt
ahead=$(cut -d' ' -f1 h.txt)
if [ -n "$later" ] && [ "$later" \> "$ahead" ]; then
	pass "the later save is stamped after the one made three days ahead"
else
	fail "the later save is stamped after the one made ahead" "$later vs $ahead"
fi
lines0=$(wc -l <"$T/server.log")
expect_rc "A syncs" 0 cb A sync
expect_out "its events from the future are kept queued" "kept queued"
expect_out "the laptop says to check its date and time" "date and time"
cb A status >"$T/out" 2>&1
expect_out "nothing is quarantined" "Quarantined events: 0"
check "both events stay queued" 2 "$(unsynced A)"
tail -n +$((lines0 + 1)) "$T/server.log" >srv.new
if grep '"msg":"push"' srv.new | grep -q '"ahead":"2"' &&
	grep '"msg":"push"' srv.new | grep -q '"level":"warn"'; then
	pass "the server warns of events stamped ahead, with the count"
else
	fail "the server warns of events stamped ahead" "$(grep push srv.new | tail -2)"
fi
expect_rc "B syncs" 0 cb B sync
cb B form show "$S" BL PE --json >"$T/out" 2>&1
check "B has not got the event from the future" null \
	"$(jget "$T/out" '[i["value"] for i in j["items"] if i["item"] == "ROM"][0]')"
same_site() {
	"$CBD" dump --data "$D" --canonical --site KR01 >srv.dump 2>&1
	cb B dump >b.dump 2>&1
	if [ -s srv.dump ] && cmp -s srv.dump b.dump; then
		pass "$1"
	else
		fail "$1" "$(diff srv.dump b.dump | head -3)"
	fi
}
same_site "B and the server agree meanwhile"

# Once the server's time reaches the stamps (server and laptops three
# days and an hour on), the queued events go through, in their order.
stop_server
export CASEBOOK_CLOCK_OFFSET_MS=$((3 * DAY + HOUR))
start_server || finish
expect_rc "three days later, A syncs" 0 cb A sync
expect_out "both events go through" "2 accepted"
check "nothing left queued on A" 0 "$(unsynced A)"
expect_rc "B syncs" 0 cb B sync
cb B form show "$S" BL PE --json >"$T/out" 2>&1
check "B has the value" 100 \
	"$(jget "$T/out" '[i["value"] for i in j["items"] if i["item"] == "ROM"][0]')"
same_record "A, B and the server agree at the end"
unset CASEBOOK_CLOCK_OFFSET_MS
stop_server
"$CBD" dump --data "$D" >live.txt 2>&1
"$CBD" rebuild --data "$D" >/dev/null 2>&1
"$CBD" dump --data "$D" >rebuilt.txt 2>&1
if [ -s live.txt ] && cmp -s live.txt rebuilt.txt; then
	pass "the server's derived tables equal a rebuild"
else
	fail "the server's derived tables equal a rebuild" "$(diff live.txt rebuilt.txt | head -3)"
fi
finish
