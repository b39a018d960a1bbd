#!/bin/sh
# t_bundle.sh - sync by carrying files (docs/bundles.md): `casebook bundle
# export`, `casebookd bundle import`, `casebook bundle import`.
#
# A site laptop enters data offline (with events the server rejects), then
# its store and the server's data directory are copied: the original syncs
# by network, the twin by bundles, and both end in the same state (server
# derived tables, the device's canonical dump and store digest, the
# quarantine). On PostgreSQL (tests/run.sh's second pass) the server's
# database is what is copied. Then: a tampered bundle or reply is refused with nothing
# applied, a bundle imported twice gives duplicates and the same state, a
# reply imported twice is harmless, a reply is refused by another device,
# a revoked device's bundle and a stale bundle are refused.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=bundle-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""

start_server() {
	"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" 2>>"$T/server.log" &
	SRV_PID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
			fail "server starts" "no answer; log: $(tail -3 "$T/server.log")"
			finish
		fi
		sleep 0.05
	done
}
stop_server() {
	if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
		kill -TERM "$SRV_PID"
		wait "$SRV_PID" 2>/dev/null
	fi
	SRV_PID=""
	return 0
}
at_exit stop_server

# check NAME WANT GOT
# same_files NAME A B
same_files() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "$(diff "$2" "$3" | head -5)"
	fi
}
# digest HOME: the store digest, with the time of the last sync fixed,
# and the server's store id (which only network answers carry) set alike
digest() {
	CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$1" status test-set sync.last \
		2026-01-01T00:00:00.000Z >/dev/null 2>&1
	CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$1" status test-set sync.store \
		00000000000000000000000000000000 >/dev/null 2>&1
	"$CB" --home "$1" store check 2>/dev/null | sed -n 's/.*digest //p'
}
# quarantined HOME: the number of events in quarantine
quarantined() {
	"$CB" --home "$1" status --json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["quarantined"]["count"])' 2>/dev/null
}
# events DIR: the number of events the server holds
events() {
	"$CBD" status --data "$1" 2>/dev/null | sed -n 's/^ *events[: ]*\([0-9]*\).*/\1/p' | head -1
}
# flip FILE OFFSET: change one byte of FILE (counted from the end if < 0)
flip() {
	python3 -c 'import sys
p,o=sys.argv[1],int(sys.argv[2])
b=bytearray(open(p,"rb").read())
b[o]=ord("0") if b[o]!=ord("0") else ord("1")
open(p,"wb").write(bytes(b))' "$1" "$2"
}
# has_dump: the client has the canonical dump command
has_dump() { "$CB" dump --help >/dev/null 2>&1; }

# ---- a server, a site with three devices ----------------------------------

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people kim:coordinator:KR01 lee:investigator:KR01 park:coordinator:KR01 x:coordinator:KR01
tok() { "$CBD" token create --data "$D" "$@" 2>/dev/null; }
TA=$(tok --site KR01 --role coordinator)
TB=$(tok --site KR01 --role investigator)
TC=$(tok --site KR01 --role coordinator)

# The server key: a file of mode 0600 in the data directory; in
# PostgreSQL a table that a role other than the store's owner cannot
# read (a role made for the check, dropped at the end).
if is_pg; then
	OTHER="cb_other_$$"
	psql -X -q -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" -d postgres \
		-c "CREATE ROLE $OTHER LOGIN" >/dev/null 2>&1
	drop_other() {
		psql -X -q -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" \
			-d postgres -c "DROP ROLE IF EXISTS $OTHER" >/dev/null 2>&1
		return 0
	}
	at_exit drop_other
	KEYHEX=$(srv_sql "SELECT secret FROM server_key")
	if [ -n "$KEYHEX" ] && ! psql -X -q -At -h "$CASEBOOK_PG_HOST" \
		-U "$OTHER" -d "$(srv_db "$D")" \
		-c "SELECT secret FROM server_key" >"$T/other" 2>&1 &&
		grep -q "permission denied" "$T/other"; then
		pass "init makes a server key readable only by its owner"
	else
		fail "init makes a server key readable only by its owner" \
			"$(head -c 300 "$T/other")"
	fi
else
	if [ "$(stat -c %a "$D/server.key" 2>/dev/null)" = 600 ]; then
		pass "init makes a server key readable only by its owner"
	else
		fail "init makes a server key readable only by its owner" \
			"$(ls -l "$D" 2>&1)"
	fi
	KEYHEX=$(cat "$D/server.key" 2>/dev/null)
fi

start_server
A="$T/a" B="$T/b" C="$T/c"
expect_rc "device A registers" 0 "$CB" --home "$A" init --server "$URL" --token "$TA" --user kim
expect_rc "device B registers" 0 "$CB" --home "$B" init --server "$URL" --token "$TB" --user lee
expect_rc "device C registers" 0 "$CB" --home "$C" init --server "$URL" --token "$TC" --user park
CID=$(sed -n 's/.*device id \([0-9a-f]*\).*/\1/p' "$T/out")
REG=$(curl -s -X POST -H 'Content-Type: application/json' \
	-d "{\"token\":\"$(tok --site KR01 --role coordinator)\",\"public_key\":\"$(printf '%064d' 7)\",\"user\":\"x\"}" \
	"$URL/v1/register")
case $REG in
*'"server_key":"'*) pass "registration answers with the server key" ;;
*) fail "registration answers with the server key" "$(printf '%s' "$REG" | head -c 200)" ;;
esac

# B's work reaches the server first, so A has something to pull.
SB=$("$CB" --home "$B" subject add 2>/dev/null)
"$CB" --home "$B" form set "$SB" SCR DM CONSDT=2026-01-05 BRTHYR=1955 SEX=M \
	HEIGHT=175 WEIGHT=80 KNEE=L >/dev/null 2>&1
expect_rc "device B syncs by network" 0 "$CB" --home "$B" sync
stop_server

# A works offline: a subject, a form, and two events the server rejects.
SA=$("$CB" --home "$A" subject add 2>/dev/null)
expect_rc "device A enters data offline" 0 "$CB" --home "$A" form set "$SA" SCR DM \
	CONSDT=2026-01-06 BRTHYR=1960 SEX=F HEIGHT=162 WEIGHT=70 KNEE=R
CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$A" store test-events "$SA" 2 bogus >/dev/null 2>&1

# The twin: the same laptop and the same server, copied (in PostgreSQL
# the server's database, srv_copy).
cp -a "$A" "$T/a2"
srv_copy "$D" "$T/data2"
A2="$T/a2" D2="$T/data2"

# ---- network sync (A) and bundle sync (A2) give the same result ----------

start_server
expect_rc "A syncs by network" 0 "$CB" --home "$A" sync
NET_OUT=$(cat "$T/out")
stop_server

expect_rc "bundle export" 0 "$CB" --home "$A2" bundle export "$T/b1"
expect_out "export counts the events" "4 events to push"
if [ "$(stat -c %a "$T/b1" 2>/dev/null)" = 600 ]; then
	pass "the bundle is readable only by its owner"
else
	fail "the bundle is readable only by its owner" "$(ls -l "$T/b1")"
fi
D_BEFORE=$(digest "$A2")
"$CB" --home "$A2" bundle export "$T/b1again" >/dev/null 2>&1
check "a second export leaves the store as it was" "$D_BEFORE" "$(digest "$A2")"

expect_rc "casebookd bundle import" 0 "$CBD" bundle import --data "$D2" "$T/b1" --reply "$T/r1"
expect_out "import reports the verdicts" "2 accepted, 0 duplicate, 2 rejected"
expect_out "import reports the pull" "to pull"
expect_rc "casebook bundle import" 0 "$CB" --home "$A2" bundle import "$T/r1"
BUN_OUT=$(cat "$T/out")
check "bundle sync reports what network sync reports" "$NET_OUT" "$BUN_OUT"

"$CBD" dump --data "$D" >"$T/dump_net" 2>&1
"$CBD" dump --data "$D2" >"$T/dump_bun" 2>&1
same_files "server derived tables equal after network and bundle sync" \
	"$T/dump_net" "$T/dump_bun"
case $(digest "$A2") in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) pass "store check gives a digest" ;;
*) fail "store check gives a digest" "$("$CB" --home "$A2" store check 2>&1 | tail -2)" ;;
esac
case $(events "$D2") in
[0-9]*) pass "casebookd status counts events" ;;
*) fail "casebookd status counts events" "$("$CBD" status --data "$D2" 2>&1 | head -3)" ;;
esac
if grep -q "KR01-01001" "$T/dump_bun"; then
	pass "the server dump shows the device's subject"
else
	fail "the server dump shows the device's subject" "$(head -3 "$T/dump_bun")"
fi
check "device store digests equal after network and bundle sync" \
	"$(digest "$A")" "$(digest "$A2")"
if has_dump; then
	"$CB" --home "$A" dump >"$T/cdump_net" 2>&1
	"$CB" --home "$A2" dump >"$T/cdump_bun" 2>&1
	same_files "device canonical dumps equal after network and bundle sync" \
		"$T/cdump_net" "$T/cdump_bun"
fi
check "the rejected events are quarantined" 2 "$(quarantined "$A2")"
check "quarantine equal after network and bundle sync" \
	"$(quarantined "$A")" "$(quarantined "$A2")"
if grep -q "$SB" "$T/cdump_bun" 2>/dev/null ||
	"$CB" --home "$A2" subject list 2>/dev/null | grep -q "$SB"; then
	pass "the reply brought the other device's subject"
else
	fail "the reply brought the other device's subject" "$SB missing"
fi

# ---- a reply imported twice is harmless ----------------------------------

D_ONCE=$(digest "$A2")
expect_rc "a reply imported again" 0 "$CB" --home "$A2" bundle import "$T/r1"
check "a reply imported twice leaves the same store" "$D_ONCE" "$(digest "$A2")"
check "a reply imported twice quarantines once" 2 "$(quarantined "$A2")"

# ---- a bundle imported twice gives duplicates and the same state ---------

"$CB" --home "$A2" form set "$SA" SCR DM WEIGHT=72 --reason "re-weighed" >/dev/null 2>&1
expect_rc "export a second bundle" 0 "$CB" --home "$A2" bundle export "$T/b2"
expect_out "only the new event is in it" "1 event to push"
expect_rc "import the second bundle" 0 "$CBD" bundle import --data "$D2" "$T/b2" --reply "$T/r2"
expect_out "the new event is accepted" "1 accepted, 0 duplicate, 0 rejected"
"$CBD" dump --data "$D2" >"$T/dump2a" 2>&1
N2=$(events "$D2")
expect_rc "import the same bundle again" 0 "$CBD" bundle import --data "$D2" "$T/b2" --reply "$T/r2b"
expect_out "the second import finds duplicates" "0 accepted, 1 duplicate, 0 rejected"
"$CBD" dump --data "$D2" >"$T/dump2b" 2>&1
same_files "a bundle imported twice leaves the same server state" "$T/dump2a" "$T/dump2b"
check "a bundle imported twice adds no event" "$N2" "$(events "$D2")"

# ---- a tampered bundle is refused, nothing applied ------------------------

cp "$T/b2" "$T/b2bad"
flip "$T/b2bad" -40
"$CB" --home "$A2" form set "$SA" SCR DM HEIGHT=163 --reason "re-measured" >/dev/null 2>&1
"$CB" --home "$A2" bundle export "$T/b3" >/dev/null 2>&1
cp "$T/b3" "$T/b3bad"
flip "$T/b3bad" -60
expect_rc "a bundle altered by one byte is refused (exit 4)" 4 \
	"$CBD" bundle import --data "$D2" "$T/b3bad" --reply "$T/r3bad"
expect_out "the refusal says the signature failed" "signature does not verify"
expect_out "the refusal says nothing was applied" "nothing was applied"
"$CBD" dump --data "$D2" >"$T/dump3" 2>&1
same_files "a refused bundle changes nothing on the server" "$T/dump2b" "$T/dump3"
check "a refused bundle adds no event" "$N2" "$(events "$D2")"
if [ -e "$T/r3bad" ]; then
	fail "a refused bundle gets no reply" "$T/r3bad exists"
else
	pass "a refused bundle gets no reply"
fi
cp "$T/b3" "$T/b3hdr"
flip "$T/b3hdr" 20
expect_rc "a bundle with a damaged header is refused" 4 \
	"$CBD" bundle import --data "$D2" "$T/b3hdr" --reply "$T/r3bad"
expect_rc "the intact bundle is then accepted" 0 \
	"$CBD" bundle import --data "$D2" "$T/b3" --reply "$T/r3"
expect_out "its event is accepted" "1 accepted"

# ---- replies: tampered, or for another device ----------------------------

D_PRE=$(digest "$A2")
cp "$T/r3" "$T/r3bad"
flip "$T/r3bad" -30
expect_rc "a reply altered by one byte is refused (exit 4)" 4 \
	"$CB" --home "$A2" bundle import "$T/r3bad"
expect_out "the reply refusal names the server signature" "server signature does not verify"
check "a refused reply changes nothing on the device" "$D_PRE" "$(digest "$A2")"

D_C=$(digest "$C")
expect_rc "a reply applied to another device is refused (exit 4)" 4 \
	"$CB" --home "$C" bundle import "$T/r3"
expect_out "the refusal names the device" "not this device"
check "the other device is unchanged" "$D_C" "$(digest "$C")"

expect_rc "the reply applies on its own device" 0 "$CB" --home "$A2" bundle import "$T/r2"
expect_rc "and the later one too" 0 "$CB" --home "$A2" bundle import "$T/r3"
expect_rc "an older reply after a newer one is harmless" 0 "$CB" --home "$A2" bundle import "$T/r2"
D_R3=$(digest "$A2")
expect_rc "the newest reply again" 0 "$CB" --home "$A2" bundle import "$T/r3"
check "replies applied in any order leave the same store" "$D_R3" "$(digest "$A2")"

# ---- revoked device, stale bundle, wrong inputs --------------------------

# unsynced HOME: the events the laptop has not seen acknowledged
unsynced() {
	"$CB" --home "$1" status 2>/dev/null | sed -n 's/^Unsynced events: *\([0-9]*\) of.*/\1/p'
}
SC=$("$CB" --home "$C" subject add 2>/dev/null)
"$CB" --home "$C" bundle export "$T/bc" >/dev/null 2>&1
# C, its clock two seconds fast, sends a bundle whose reply never comes
# back: the server has those events, C still counts them unsynced. C is
# revoked within those two seconds, before that bundle's time.
SCF=$(CASEBOOK_CLOCK_OFFSET_MS=2000 "$CB" --home "$C" subject add 2>/dev/null)
CASEBOOK_CLOCK_OFFSET_MS=2000 "$CB" --home "$C" bundle export "$T/bcf" >/dev/null 2>&1
N_DUP=$(unsynced "$C")
expect_rc "C's last bundle before its revocation" 0 \
	"$CBD" bundle import --data "$D2" "$T/bcf" --reply "$T/rcf"
expect_out "is accepted" "$N_DUP accepted"
expect_rc "revoke device C" 0 "$CBD" device revoke --data "$D2" "$CID"
NC=$(events "$D2")
expect_rc "a revoked device's bundle is refused (exit 4)" 4 \
	"$CBD" bundle import --data "$D2" "$T/bc" --reply "$T/rc"
expect_out "the refusal says revoked, as HTTP 403" "device_revoked"
expect_out "the refusal points to --handover" "--handover"
check "a revoked device's bundle adds no event" "$NC" "$(events "$D2")"

# ---- hand-over of a revoked device's unsynced data (DESIGN.md section 4) --
# What C made after its revocation (its laptop does not know) is
# rejected, also when C's clock is then set back an hour (its logical
# clock still runs ahead); what the server already holds is a duplicate,
# even though C's fast clock stamped it after the revocation. C is sent
# nothing back. (A's twin, below, hands over data made before.)
expect_rc "--handover of an active device's bundle is refused" 4 \
	"$CBD" bundle import --data "$D2" "$T/b3" --reply "$T/rh0" --handover
expect_out "the refusal says the device is not revoked" "is not revoked"
sleep 0.01
SC2=$("$CB" --home "$C" subject add 2>/dev/null)
SC3=$(CASEBOOK_CLOCK_OFFSET_MS=-3600000 "$CB" --home "$C" subject add 2>/dev/null)
N_REJ=$(($(unsynced "$C") - N_DUP))
"$CB" --home "$C" bundle export "$T/bch" >/dev/null 2>&1
expect_rc "the administrator takes the revoked device's data over" 0 \
	"$CBD" bundle import --data "$D2" "$T/bch" --reply "$T/rch" --handover
expect_out "hand-over: named as such" "hand-over of revoked device $CID"
expect_out "hand-over: what the server holds is a duplicate, the rest rejected" \
	"0 accepted, $N_DUP duplicate, $N_REJ rejected"
expect_out "hand-over: nothing is sent back to the device" "0 events to pull"
check "hand-over adds no event made after the revocation" "$NC" "$(events "$D2")"
"$CBD" dump --data "$D2" >"$T/dump.h" 2>&1
if grep -q "$SC" "$T/dump.h" && grep -q "$SCF" "$T/dump.h" &&
	! grep -q "$SC2" "$T/dump.h" && ! grep -q "$SC3" "$T/dump.h"; then
	pass "the server has C's subjects from before the revocation, not the later ones"
else
	fail "hand-over subjects" "before $SC $SCF, after $SC2 $SC3"
fi
expect_rc "the laptop applies the hand-over reply" 0 "$CB" --home "$C" bundle import "$T/rch"
check "the events made after the revocation are in C's quarantine" "$N_REJ" "$(quarantined "$C")"
"$CB" --home "$C" status >"$T/out" 2>&1
expect_out "the quarantine says why" "after device $CID was revoked"
expect_rc "a hand-over imported twice is harmless" 0 \
	"$CBD" bundle import --data "$D2" "$T/bch" --reply "$T/rch2" --handover
expect_out "the second time the same verdicts" \
	"0 accepted, $N_DUP duplicate, $N_REJ rejected"

CASEBOOK_CLOCK_OFFSET_MS=-3456000000 "$CB" --home "$A2" bundle export "$T/bold" >/dev/null 2>&1
expect_rc "a bundle made 40 days ago is refused" 4 \
	"$CBD" bundle import --data "$D2" "$T/bold" --reply "$T/rold"
expect_out "the refusal says it is too old" "more than 30 days ago"
expect_rc "--max-age lets an older bundle in" 0 \
	"$CBD" bundle import --data "$D2" "$T/bold" --reply "$T/rold" --max-age 60
CASEBOOK_CLOCK_OFFSET_MS=3600000 "$CB" --home "$A2" bundle export "$T/bnew" >/dev/null 2>&1
expect_rc "a bundle from the future is refused" 4 \
	"$CBD" bundle import --data "$D2" "$T/bnew" --reply "$T/rnew"
expect_out "the refusal says future" "in the future"

expect_rc "a reply is not a bundle" 4 "$CBD" bundle import --data "$D2" "$T/r3" --reply "$T/rx"
expect_rc "a bundle is not a reply" 4 "$CB" --home "$A2" bundle import "$T/b3"
expect_rc "bundle import needs --reply" 2 "$CBD" bundle import --data "$D2" "$T/b3"
expect_rc "casebook bundle needs a subcommand" 2 "$CB" --home "$A2" bundle
expect_rc "casebook bundle --help" 0 "$CB" bundle --help
expect_out "help names both subcommands" "casebook bundle import FILE"
expect_rc "casebookd bundle --help" 0 "$CBD" bundle --help
expect_out "help documents exit 4" "4 bundle refused"
expect_rc "a missing bundle file" 1 "$CBD" bundle import --data "$D2" "$T/none" --reply "$T/rx"

# ---- the network path still agrees, and the key stays secret -------------

# The twin server, served: A2's later work synced by network is duplicates.
D="$D2"
start_server
expect_rc "the bundle-synced device syncs by network afterwards" 0 "$CB" --home "$A2" sync
expect_out "nothing is left to push" "pushed 0 events"
stop_server

# A's twin is revoked with work it never synced: the hand-over takes it.
# (The twin's logical clock ran ahead to C's fast events when it pulled
# them; its new work must be later than they are to count as made
# before its own revocation.)
sleep 2
SA_H=$("$CB" --home "$A2" subject add 2>/dev/null)
Q_H=$(quarantined "$A2")
N_H=$(($(unsynced "$A2") - Q_H)) # the quarantine stays out of bundles
A2ID=$("$CB" --home "$A2" store check 2>/dev/null | sed -n 's/.*device id \([0-9a-f]*\).*/\1/p')
expect_rc "revoke A's twin" 0 "$CBD" device revoke --data "$D2" "$A2ID"
"$CB" --home "$A2" bundle export "$T/bah" >/dev/null 2>&1
NA=$(events "$D2")
expect_rc "hand-over of the twin's unsynced work" 0 \
	"$CBD" bundle import --data "$D2" "$T/bah" --reply "$T/rah" --handover
expect_out "what it made before its revocation is taken" "$N_H accepted, 0 duplicate, 0 rejected"
check "the server holds the handed-over events" "$((NA + N_H))" "$(events "$D2")"
"$CBD" dump --data "$D2" >"$T/dump.h" 2>&1
if grep -q "$SA_H" "$T/dump.h"; then
	pass "the handed-over subject is on the server"
else
	fail "the handed-over subject is on the server" "$SA_H missing"
fi
expect_rc "the twin applies the hand-over reply" 0 "$CB" --home "$A2" bundle import "$T/rah"
check "only the twin's quarantine is left unsynced" "$Q_H" "$(unsynced "$A2")"

# A bundle larger than one push batch (1,000 events): imported in
# batches, its verdicts all in the reply, in order, and importing it again
# gives duplicates for what was stored.
people eve:coordinator:KR01
start_server
E="$T/e"
expect_rc "device E registers" 0 "$CB" --home "$E" init --server "$URL" \
	--token "$(tok --site KR01 --role coordinator)" --user eve
stop_server
SE=$("$CB" --home "$E" subject add 2>/dev/null)
CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$E" store test-events "$SE" 2100 bulk >/dev/null 2>&1
"$CB" --home "$E" bundle export "$T/be" >/dev/null 2>&1
NE=$(events "$D")
expect_rc "a bundle of 2,101 events imports" 0 \
	"$CBD" bundle import --data "$D" "$T/be" --reply "$T/re"
expect_out "every batch's verdicts are counted" "2101 events: 1 accepted, 0 duplicate, 2100 rejected"
check "the server took the creation only" "$((NE + 1))" "$(events "$D")"
check "the reply holds one verdict per event, in order" "2101 $SE" \
	"$(python3 -c 'import json,sys
t=open(sys.argv[1]).read().split("\n",3)[3]
r=json.loads(t)["push"]["results"]
print(len(r), "ok" if r[0]["status"]=="accepted" and all(x["status"]=="rejected" for x in r[1:]) else "bad")' "$T/re" | sed "s/ok/$SE/")"
expect_rc "E applies the reply" 0 "$CB" --home "$E" bundle import "$T/re"
check "the rejected ones are in E's quarantine" 2100 "$(quarantined "$E")"
expect_rc "the same bundle again" 0 \
	"$CBD" bundle import --data "$D" "$T/be" --reply "$T/re2"
expect_out "again: the stored one is a duplicate" "2101 events: 0 accepted, 1 duplicate, 2100 rejected"

if [ -n "$KEYHEX" ] && grep -rqF "$KEYHEX" "$T/server.log" "$T/out" "$T/err" "$T/r1" "$T/b1"; then
	fail "the server key is never logged" "found in a log or file"
else
	pass "the server key is never logged"
fi

finish
