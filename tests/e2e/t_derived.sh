#!/bin/sh
# t_derived.sh - the laptop's derived rows (client/derive.h, store.h
# "Derived rows"): kept as events are written, read instead of the log,
# checked, and never trusted when they are damaged or gone.
#
#   1. A store of schema 1 (tests/e2e/fixtures/store-v1, made by the
#      casebook before derived rows) is upgraded at its first unlock: the
#      same canonical dump and queries as the old casebook printed, its
#      quarantine setting made rows, the lifecycle in `subject list`;
#      read-only, it is refused with a message saying what to do.
#   1b. A store of schema 2 (tests/e2e/fixtures/store-v2-withheld, a
#      blinded laptop whose withheld values were one setting) is upgraded
#      likewise: one withheld row per subject, the setting gone, form
#      show and subject show printing what that casebook printed; a later
#      note rewrites only its subject's row; with a row removed it is not
#      upgraded.
#   2. A summary, query, quarantine, withheld or pending row deleted is an integrity
#      error at unlock and for `store check`; a summary row copied to
#      another subject, or put back to an older copy, is one for `store
#      check` (which derives every subject again).
#   3. `subject show S` reads only S's events: with another subject's
#      event damaged, it still works and `subject list` and `status` too
#      (they read rows); `subject show` of the damaged subject and `store
#      check` report the damage.
#   4. A save failing at any write (the test build's
#      CASEBOOK_TEST_FAIL_WRITE=N, for every N) leaves the store as it
#      was and the session holding nothing of it: the session's own view
#      of the subject (CASEBOOK_TEST_SESSION_DUMP) is the store's dump.
#   5. A quarantine of more than 4 MiB: sync still works (again and
#      again), and `status` counts every row.
#   6. `store check` whose reading of a subject's events fails (the first
#      read, failed by tests/tools/faultinj.so) says so and exits 1; it
#      used to free the stack's leftovers as that subject's rows (abort).
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_KDF_FAST=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS \
	CASEBOOK_TEST_HOOKS CASEBOOK_TEST_FAIL_WRITE CASEBOOK_TEST_SESSION_DUMP
FIX="$CASEBOOK_TOP/tests/e2e/fixtures/store-v1"
FIX2="$CASEBOOK_TOP/tests/e2e/fixtures/store-v2-withheld"

# sql DB STATEMENTS: run SQL on a store file (python's sqlite3: no
# casebook involved, as an attacker or a bad disk would).
sql() {
	python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
r = c.executescript(sys.argv[2]) if ";" in sys.argv[2] else c.execute(sys.argv[2])
for row in (r.fetchall() if r else []):
    print(*row)
c.commit()' "$1" "$2"
}
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
same_files() {
	if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(diff "$2" "$3" | head -6)"; fi
}
digest() { "$CB" --home "$1" store check 2>&1 | sed -n 's/^content digest //p'; }

# ---- 1. a store of schema 1 ---------------------------------------------------

U="$T/v1"
mkdir -p "$U"
cp "$FIX/casebook.db" "$U/casebook.db"
export CASEBOOK_PASSPHRASE=fixture-pass-1
same "the fixture is a store of schema 1" 1 "$(sql "$U/casebook.db" "PRAGMA user_version")"
expect_rc "the first command upgrades it" 0 "$CB" --home "$U" subject list
expect_out "the eligible subject, screening" "screening (eligible)"
expect_out "the ineligible one, a screen failure" "screen failure"
same "it is of schema 3 now" 3 "$(sql "$U/casebook.db" "PRAGMA user_version")"
same "the quarantine setting is gone" 0 \
	"$(sql "$U/casebook.db" "SELECT count(*) FROM meta WHERE key = 'sync.quarantine'")"
same "every subject has its summary row" 3 \
	"$(sql "$U/casebook.db" "SELECT count(*) FROM summaries")"
expect_rc "dump of the upgraded store" 0 "$CB" --home "$U" dump
same_files "the same dump as the casebook that made it" "$FIX/dump.txt" "$T/out"
expect_rc "queries of the upgraded store" 0 "$CB" --home "$U" query list --all --json
same_files "the same queries as the casebook that made it" "$FIX/queries.json" "$T/out"
expect_rc "status of the upgraded store" 0 "$CB" --home "$U" status
expect_out "the quarantined event is still counted" "Quarantined events: 1"
expect_out "with its reason" "8c435d34074aef5449a7542c28510fb3: visit BL has no form 'VS'"
expect_out "the unsynced events as before" "Unsynced events:    12 of 12"
expect_rc "store check of the upgraded store" 0 "$CB" --home "$U" store check
expect_out "its rows match its events" "derived rows of 3 subjects match their events (0 pending)"
expect_rc "the upgraded store writes" 0 "$CB" --home "$U" form set KR01-01002 SCR SV VISDT=2024-02-12
expect_rc "store check after a write" 0 "$CB" --home "$U" store check

# Read-only, schema 1 cannot be upgraded: it says so and changes nothing.
RO="$T/ro"
mkdir -p "$RO/v1"
cp "$FIX/casebook.db" "$RO/v1/casebook.db"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
	chmod 0755 "$T" "$RO"
	chmod 0555 "$RO/v1"
	chmod 0444 "$RO/v1/casebook.db"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env CASEBOOK_PASSPHRASE=fixture-pass-1 "$CB" --home "$RO/v1" \
		subject list >"$T/out" 2>"$T/err"
	same "a read-only store of schema 1: exit 1" 1 $?
	expect_out "it says it needs one writable open" "open it once there"
	same "and it is left as it was" 1 "$(sql "$RO/v1/casebook.db" "PRAGMA user_version")"
	# The same of schema 2.
	mkdir -p "$RO/v2"
	cp "$FIX2/casebook.db" "$RO/v2/casebook.db"
	chmod 0555 "$RO/v2"
	chmod 0444 "$RO/v2/casebook.db"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env CASEBOOK_PASSPHRASE=fixture-pass-2 "$CB" --home "$RO/v2" \
		subject list >"$T/out" 2>"$T/err"
	same "a read-only store of schema 2: exit 1" 1 $?
	expect_out "it says it needs one writable open (2)" "(store version 2) and is read-only here"
	same "and it is left as it was (2)" 2 "$(sql "$RO/v2/casebook.db" "PRAGMA user_version")"
	chmod -R u+w "$RO"
fi

# ---- 1b. a store of schema 2: the withheld values in one setting -------------------

# tests/e2e/fixtures/store-v2-withheld: a blinded investigator's laptop
# that the lab's CELL values of two subjects reached only as withheld
# notes (one value of the second cleared since), made by the casebook of
# schema 2, with what that casebook printed for it.
U2="$T/v2"
mkdir -p "$U2"
cp "$FIX2/casebook.db" "$U2/casebook.db"
export CASEBOOK_PASSPHRASE=fixture-pass-2
read -r W1 W2 <"$FIX2/subjects"
same "the fixture is a store of schema 2" 2 "$(sql "$U2/casebook.db" "PRAGMA user_version")"
same "it keeps the withheld values in one setting" 1 \
	"$(sql "$U2/casebook.db" "SELECT count(*) FROM meta WHERE key = 'withheld'")"
expect_rc "form show upgrades it" 0 "$CB" --home "$U2" form show "$W1" INJ CELL
same_files "the same form as the casebook that made it ($W1)" "$FIX2/form-$W1.txt" "$T/out"
same "it is of schema 3 now (from 2)" 3 "$(sql "$U2/casebook.db" "PRAGMA user_version")"
same "the withheld setting is gone" 0 \
	"$(sql "$U2/casebook.db" "SELECT count(*) FROM meta WHERE key = 'withheld'")"
same "one withheld row per subject" 2 "$(sql "$U2/casebook.db" "SELECT count(*) FROM withheld")"
for w in "$W1" "$W2"; do
	expect_rc "form show $w" 0 "$CB" --home "$U2" form show "$w" INJ CELL
	same_files "the same form as before the upgrade ($w)" "$FIX2/form-$w.txt" "$T/out"
	expect_rc "form show --json $w" 0 "$CB" --home "$U2" form show "$w" INJ CELL --json
	same_files "the same form --json as before the upgrade ($w)" "$FIX2/form-$w.json" "$T/out"
	expect_rc "subject show --json $w" 0 "$CB" --home "$U2" subject show "$w" --json
	same_files "the same subject as before the upgrade ($w)" "$FIX2/subject-$w.json" "$T/out"
done
same "the fixture's forms: 3 values withheld, then 2 (one cleared)" "3 2" \
	"$(grep -c '(withheld: unblinded item)' "$FIX2/form-$W1.txt") $(grep -c '(withheld: unblinded item)' "$FIX2/form-$W2.txt")"
expect_rc "store check of the store upgraded from 2" 0 "$CB" --home "$U2" store check
expect_out "it counts the withheld rows" "withheld values of 2 subjects"
# A later word about one subject changes only that subject's row.
W1ROW=$(sql "$U2/casebook.db" "SELECT hex(sealed) FROM withheld ORDER BY ord LIMIT 1")
CASEBOOK_TEST_HOOKS=1 expect_rc "a note clears CELLCNT of $W2" 0 "$CBH" --home "$U2" store test-withheld \
	"[{\"subject\":\"$W2\",\"visit\":\"INJ\",\"form\":\"CELL\",\"instance\":\"\",\"items\":{\"CELLCNT\":false}}]"
same "the other subject's row is untouched" "$W1ROW" \
	"$(sql "$U2/casebook.db" "SELECT hex(sealed) FROM withheld ORDER BY ord LIMIT 1")"
expect_rc "form show --json $W2 after the note" 0 "$CB" --home "$U2" form show "$W2" INJ CELL --json
same "only STERIL is withheld now" "[false, false, true]" \
	"$(jget "$T/out" "[i.get('withheld') is True for i in j['items']]")"
expect_rc "form show $W1 after the note" 0 "$CB" --home "$U2" form show "$W1" INJ CELL
same_files "$W1 as before" "$FIX2/form-$W1.txt" "$T/out"
# A store of schema 2 with a row removed is not taken in.
mkdir -p "$T/v2cut"
cp "$FIX2/casebook.db" "$T/v2cut/casebook.db"
sql "$T/v2cut/casebook.db" "DELETE FROM summaries WHERE ord = (SELECT min(ord) FROM summaries)"
expect_rc "a schema 2 store with a row removed: not upgraded" 1 "$CB" --home "$T/v2cut" subject list
expect_out "it says rows were removed (schema 2)" "rows were removed"
same "it is left at schema 2" 2 "$(sql "$T/v2cut/casebook.db" "PRAGMA user_version")"
same "its withheld setting kept" 1 \
	"$(sql "$T/v2cut/casebook.db" "SELECT count(*) FROM meta WHERE key = 'withheld'")"

# ---- 2. derived rows deleted, moved or put back ------------------------------------

H="$T/h"
export CASEBOOK_PASSPHRASE=derived-pass-1
"$CB" --home "$H" init --site KR01 --device-index 1 --protocol "$PROTO" \
	--user alice --role investigator >/dev/null 2>&1 || fail "init" "failed"
S1=$("$CB" --home "$H" subject add 2>/dev/null)
S2=$("$CB" --home "$H" subject add 2>/dev/null)
"$CB" --home "$H" form set "$S1" SCR SV VISDT=2024-02-10 >/dev/null 2>&1
"$CB" --home "$H" form set "$S1" INJ DOSE EXVOL=5 >/dev/null 2>&1 # a query
"$CB" --home "$H" form set "$S2" SCR SV VISDT=2024-02-11 >/dev/null 2>&1
"$CB" --home "$H" form set "$S2" BL VAS VAS=40 >/dev/null 2>&1
# A quarantined event (as a rejected push leaves it) and a pending
# subject (events stored by the store's own test hook, not yet derived).
QEV=$(CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$H" store test-list "$S2" | tail -1 | cut -d' ' -f2)
CASEBOOK_TEST_HOOKS=1 expect_rc "quarantine an event" 0 "$CBH" --home "$H" \
	status test-set sync.quarantine "[{\"id\":\"$QEV\",\"code\":\"check\",\"reason\":\"made up\"}]"
expect_rc "the store is intact" 0 "$CB" --home "$H" store check
same "the quarantined event is flagged" 2 \
	"$(sql "$H/casebook.db" "SELECT synced FROM events WHERE id = '$QEV'")"
# What a server tells a blinded laptop of the lab's values (withheld
# rows of both subjects).
CASEBOOK_TEST_HOOKS=1 expect_rc "withheld notes of both subjects" 0 "$CBH" --home "$H" store test-withheld \
	"[{\"subject\":\"$S1\",\"visit\":\"INJ\",\"form\":\"CELL\",\"instance\":\"\",\"items\":{\"CELLCNT\":true}},
	  {\"subject\":\"$S2\",\"visit\":\"INJ\",\"form\":\"CELL\",\"instance\":\"\",\"items\":{\"VIABIL\":true}}]"
same "one withheld row each" 2 "$(sql "$H/casebook.db" "SELECT count(*) FROM withheld")"
expect_rc "it has left its subject's record" 0 "$CB" --home "$H" subject show "$S2" --json
same "the subject shows no VAS" '[]' "$(jget "$T/out" '[f for v in j["visits"] if v["visit"] == "BL" for f in v["forms"] if f["form"] == "VAS" and f["items"]]')"
cp "$H/casebook.db" "$T/pristine.db"
DB="$T/dmg/casebook.db"
mkdir -p "$T/dmg"
fresh() {
	cp "$T/pristine.db" "$DB"
	rm -f "$DB-wal" "$DB-shm"
}
for what in summaries queries quarantine withheld; do
	fresh
	sql "$DB" "DELETE FROM $what WHERE ord = (SELECT min(ord) FROM $what)"
	expect_rc "a deleted $what row is told at unlock" 1 "$CB" --home "$T/dmg" status
	expect_out "it says rows were removed ($what)" "rows were removed"
	expect_rc "store check tells it too ($what)" 1 "$CB" --home "$T/dmg" store check
done
fresh
CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$T/dmg" store test-events "$S1" 1 pending >/dev/null 2>&1
same "the hook's event leaves its subject pending" 1 "$(sql "$DB" "SELECT count(*) FROM dirty")"
sql "$DB" "DELETE FROM dirty"
expect_rc "a deleted pending mark is told at unlock" 1 "$CB" --home "$T/dmg" subject list
expect_out "it says rows were removed (pending)" "rows were removed"

fresh
sql "$DB" "UPDATE summaries SET sealed = (SELECT sealed FROM summaries WHERE ord = 2) WHERE ord = 1"
expect_rc "a summary row copied to another subject" 1 "$CB" --home "$T/dmg" subject list
expect_out "is an integrity error" "integrity error"

# An older copy of a subject's summary row, put back after a change: the
# tally cannot tell (a row of the same subject), store check can.
fresh
OLD=$(sql "$DB" "SELECT hex(sealed) FROM summaries WHERE ord = 1")
"$CB" --home "$T/dmg" form set "$S1" SCR DM SEX=F >/dev/null 2>&1 || fail "a save" "failed"
sql "$DB" "UPDATE summaries SET sealed = X'$OLD' WHERE ord = 1"
expect_rc "a summary row put back: store check fails" 1 "$CB" --home "$T/dmg" store check
expect_out "it names the subject" "derived rows of subject $S1"

# ---- 3. one subject's events only ---------------------------------------------------

fresh
# S2's last event (its VAS save) is the last row: damage its ciphertext
# (byte 41 set to another value, always: a random byte was the same one
# time in 256, and the test then failed).
sql "$DB" "UPDATE events SET body = substr(body, 1, 40) || CASE WHEN substr(body, 41, 1) = X'00' THEN X'01' ELSE X'00' END || substr(body, 42) WHERE seq = (SELECT max(seq) FROM events WHERE synced < 2)"
expect_rc "subject show of the intact subject works" 0 "$CB" --home "$T/dmg" subject show "$S1"
expect_out "and shows its data" "2024-02-10"
expect_rc "subject show of the damaged subject fails" 1 "$CB" --home "$T/dmg" subject show "$S2"
expect_out "with an integrity error" "integrity error"
expect_rc "subject list reads rows, not events" 0 "$CB" --home "$T/dmg" subject list
expect_out "and lists both" "$S2"
expect_rc "status reads rows, not events" 0 "$CB" --home "$T/dmg" status
expect_rc "store check finds the damage" 1 "$CB" --home "$T/dmg" store check
expect_out "store check says integrity error" "integrity error"

# ---- 4. a save failing at each of its writes ----------------------------------------

# section SUBJECT < DUMP: the dump's head line and SUBJECT's section.
section() {
	awk -v s="subject \"$1\"" 'NR == 1 { print; next }
		/^subject "/ { on = index($0, s) == 1 } on' 
}
fresh
"$CB" --home "$T/dmg" dump 2>&1 | section "$S2" >"$T/dump.before"
D0=$(digest "$T/dmg")
cp "$DB" "$T/save.db"
n=1 failed=0 saved=0
while [ $n -le 12 ]; do
	cp "$T/save.db" "$DB"
	rm -f "$DB-wal" "$DB-shm" "$T/session"
	# A save with a soft check: the form.save, its derived rows, the
	# query's event, its rows, then the commit (the tally).
	CASEBOOK_TEST_HOOKS=1 CASEBOOK_TEST_FAIL_WRITE=$n \
		CASEBOOK_TEST_SESSION_DUMP="$T/session" \
		"$CBH" --home "$T/dmg" form set "$S2" INJ DOSE EXVOL=6 >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		saved=1
		break
	fi
	failed=$((failed + 1))
	grep -q "injected failure of write $n" "$T/err" ||
		fail "write $n: the injected failure is the error" "$(head -c 300 "$T/err")"
	same "write $n fails: the store is as it was" "$D0" "$(digest "$T/dmg")"
	"$CB" --home "$T/dmg" dump 2>&1 | section "$S2" >"$T/dump.after"
	same_files "write $n fails: the dump is as it was" "$T/dump.before" "$T/dump.after"
	same_files "write $n fails: the session holds what the store holds" \
		"$T/dump.after" "$T/session"
	n=$((n + 1))
done
same "the save ends once no write fails" 1 "$saved"
if [ $failed -ge 5 ]; then pass "every write of the save was failed once ($failed)"; else
	fail "every write of the save was failed once" "only $failed"; fi
expect_rc "the store is intact after all that" 0 "$CB" --home "$T/dmg" store check

# ---- 5. a quarantine over 4 MiB ---------------------------------------------------------

D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people q:coordinator:KR01
start_server || finish
Q="$T/q"
export CASEBOOK_PASSPHRASE=quarantine-pass-1
t=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
expect_rc "a laptop registers" 0 "$CB" --home "$Q" init --server "$URL" --token "$t" --user q
SQ=$("$CB" --home "$Q" subject add 2>/dev/null)
expect_rc "it syncs" 0 "$CB" --home "$Q" sync
# Forty rejections with long reasons (as a server naming many failed
# checks gives): over 4 MiB in all, the old cap of the quarantine.
REASON=$(python3 -c 'print("x" * 110000)')
i=0
while [ $i -lt 40 ]; do
	id=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
	CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$Q" status test-set sync.quarantine \
		"[{\"id\":\"$id\",\"code\":\"check\",\"reason\":\"$i $REASON\"}]" >/dev/null 2>"$T/err" ||
		{ fail "quarantine row $i" "$(head -c 200 "$T/err")"; break; }
	i=$((i + 1))
done
same "the quarantine holds over 4 MiB" 1 \
	"$(sql "$Q/casebook.db" "SELECT sum(length(sealed)) > 4194304 FROM quarantine")"
CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$Q" store test-events "$SQ" 2 bogus >/dev/null 2>&1
expect_rc "a sync with it still works" 0 "$CB" --home "$Q" sync
expect_out "the server rejects two more" "2 rejected"
expect_out "the sync counts every quarantined event" "42 events in quarantine"
expect_rc "and the next sync too" 0 "$CB" --home "$Q" sync
expect_rc "status with it" 0 "$CB" --home "$Q" status --json
same "status counts every quarantined event" 42 "$(jget "$T/out" 'j["quarantined"]["count"]')"
same "and lists them" 42 "$(jget "$T/out" 'len(j["quarantined"]["events"])')"
expect_rc "store check with it" 0 "$CB" --home "$Q" store check
stop_server

# ---- 6. a subject's events unreadable while deriving again ---------------------

FI="${CASEBOOK_TOOLS:-$CASEBOOK_TOP/build/tools}/faultinj.so"
# Under AddressSanitizer (gcc's libasan.so) the shim goes first.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export CASEBOOK_PASSPHRASE=derived-pass-1
R="$T/rd"
mkdir -p "$R"
cp "$T/pristine.db" "$R/casebook.db"
# Only the statement that reads one subject's events fails, at its first
# step: the check of the whole log before it passes, the derived rows'
# check (client/derive.c, derive_check) meets the failure.
expect_rc "store check, a subject's events unreadable" 1 env CBFAULT=sql \
	CBFAULT_ARM="sql:WHERE subject = ?1" CBFAULT_N=1 LD_PRELOAD="$FI" \
	"$CB" --home "$R" store check
expect_out "it says what failed" "reading events"
expect_no_out "no abort" "free()"
expect_rc "without the fault the store is intact" 0 "$CB" --home "$R" store check

finish
