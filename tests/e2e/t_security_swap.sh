#!/bin/sh
# t_security_swap.sh - a stolen laptop's store with sealed values moved
# between rows or columns is refused, never read as wrong data
# (docs/SECURITY.md "Stolen laptop"). Without the passphrase a thief
# cannot read or forge a sealed value, but he can move one: give one
# subject another's events, summary or queries, or turn a quarantine
# reason or a setting into a record. Every sealed value is bound to its
# row and column by the AEAD's additional data (client/store.c,
# store_rows.c: "events:ID:SEQ:SUBJECT", "subjects:HASH",
# "summaries:HASH", "queries:QUERY:SUBJECT", "quarantine:ID",
# "withheld:SUBJECT", "meta:KEY"), and each event row's keyed tag covers
# its plain columns.
#
# On a real encrypted store (two subjects with data, queries on both,
# two quarantined events, what the server said of withheld values of
# both), for each move made with python's sqlite3 as
# a thief would: the command that reads the moved value fails with an
# integrity error (exit 1) and prints nothing of the store on stdout,
# and `store check` fails too. The intact store passes both at the
# start and at the end, so a failure is the move's doing.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_PASSPHRASE=swap-pass-1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS \
	CASEBOOK_TEST_HOOKS CASEBOOK_TEST_FAIL_WRITE CASEBOOK_TEST_SESSION_DUMP

sql() {
	python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
if ";" in sys.argv[2]:
    c.executescript(sys.argv[2])
else:
    for row in c.execute(sys.argv[2]).fetchall():
        print(*row)
c.commit()' "$1" "$2"
}

H="$T/h"
"$CB" --home "$H" init --site KR01 --device-index 1 --protocol "$PROTO" \
	--user alice --role investigator >/dev/null 2>&1 || fail "init" "failed"
S1=$("$CB" --home "$H" subject add 2>/dev/null)
S2=$("$CB" --home "$H" subject add 2>/dev/null)
"$CB" --home "$H" form set "$S1" SCR SV VISDT=2024-02-10 >/dev/null 2>&1
"$CB" --home "$H" form set "$S1" INJ DOSE EXVOL=5 >/dev/null 2>&1 # a query
"$CB" --home "$H" form set "$S1" BL VAS VAS=30 >/dev/null 2>&1
"$CB" --home "$H" form set "$S2" SCR SV VISDT=2024-02-11 >/dev/null 2>&1
"$CB" --home "$H" form set "$S2" INJ DOSE EXVOL=6 >/dev/null 2>&1 # a query
"$CB" --home "$H" form set "$S2" BL VAS VAS=40 >/dev/null 2>&1
# Two quarantined events (as rejected pushes leave them).
Q1=$(CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$H" store test-list "$S1" | tail -1 | cut -d' ' -f2)
Q2=$(CASEBOOK_TEST_HOOKS=1 "$CBH" --home "$H" store test-list "$S2" | tail -1 | cut -d' ' -f2)
CASEBOOK_TEST_HOOKS=1 expect_rc "quarantine two events" 0 "$CBH" --home "$H" \
	status test-set sync.quarantine \
	"[{\"id\":\"$Q1\",\"code\":\"check\",\"reason\":\"one\"},{\"id\":\"$Q2\",\"code\":\"check\",\"reason\":\"two\"}]"
# What a server tells this blinded laptop of the lab's CELL values: all
# three of S1's exist, only STERIL of S2's.
CASEBOOK_TEST_HOOKS=1 expect_rc "withheld notes of both subjects" 0 "$CBH" --home "$H" \
	store test-withheld \
	"[{\"subject\":\"$S1\",\"visit\":\"INJ\",\"form\":\"CELL\",\"instance\":\"\",\"items\":{\"CELLCNT\":true,\"VIABIL\":true,\"STERIL\":true}},
	  {\"subject\":\"$S2\",\"visit\":\"INJ\",\"form\":\"CELL\",\"instance\":\"\",\"items\":{\"STERIL\":true}}]"
DB="$H/casebook.db"
check "two withheld rows" 2 "$(sql "$DB" "SELECT count(*) FROM withheld")"
expect_rc "S1's CELL: three values withheld" 0 "$CB" --home "$H" form show "$S1" INJ CELL
check "S1's three CELL items shown withheld" 3 "$(grep -c '(withheld: unblinded item)' "$T/out")"
expect_rc "S2's CELL: one value withheld" 0 "$CB" --home "$H" form show "$S2" INJ CELL
check "S2's one CELL item shown withheld" 1 "$(grep -c '(withheld: unblinded item)' "$T/out")"
check "two subjects" 2 "$(sql "$DB" "SELECT count(*) FROM subjects")"
check "two summaries" 2 "$(sql "$DB" "SELECT count(*) FROM summaries")"
check "two queries, one per subject" 2 \
	"$(sql "$DB" "SELECT count(DISTINCT subject) FROM queries")"
check "two quarantined events" 2 "$(sql "$DB" "SELECT count(*) FROM quarantine")"
expect_rc "the intact store passes store check" 0 "$CB" --home "$H" store check
"$CB" --home "$H" dump >/dev/null 2>&1 || fail "dump" "failed"
sql "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$DB" "$T/pristine.db"

# moved NAME SQL READER...: the pristine store with SQL applied (a swap,
# in one statement); READER (a casebook command) must fail with an
# integrity error and print nothing, and store check must fail too.
moved() {
	_n=$1 _sql=$2
	shift 2
	cp "$T/pristine.db" "$DB"
	rm -f "$DB-wal" "$DB-shm"
	sql "$DB" "$_sql" >/dev/null || fail "$_n: the move" "sql failed"
	"$CB" --home "$H" "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	check "$_n: '$*' refuses it (exit 1)" 1 "$_rc"
	if grep -q "integrity error" "$T/err"; then
		pass "$_n: as an integrity error"
	else
		fail "$_n: as an integrity error" "$(head -c 300 "$T/err")"
	fi
	check "$_n: and shows nothing of the store" "" "$(cat "$T/out")"
	expect_rc "$_n: store check refuses it" 1 "$CB" --home "$H" store check
}
# swap TABLE COL KEY A B: exchange COL between the rows KEY = A and B
# (literals), through a placeholder so a UNIQUE column can be swapped.
swap() {
	echo "CREATE TEMP TABLE sw AS SELECT $3 AS k, $2 AS c FROM $1 WHERE $3 IN ($4, $5);
UPDATE $1 SET $2 = CASE typeof($2) WHEN 'text' THEN 'swap-' || $3 ELSE randomblob(40) END WHERE $3 IN ($4, $5);
UPDATE $1 SET $2 = (SELECT c FROM sw WHERE sw.k <> $1.$3) WHERE $3 IN ($4, $5);"
}
P="$T/pristine.db"
# The last events of S1 and S2 (both save forms, both in quarantine),
# and a query row of each subject.
E1=$(sql "$P" "SELECT seq FROM events WHERE id = '$Q1'")
E2=$(sql "$P" "SELECT seq FROM events WHERE id = '$Q2'")
QS1=$(sql "$P" "SELECT min(ord) FROM queries GROUP BY subject ORDER BY 1 LIMIT 1")
QS2=$(sql "$P" "SELECT min(ord) FROM queries GROUP BY subject ORDER BY 1 DESC LIMIT 1")
check "the rows to move differ" yes \
	"$([ -n "$E1" ] && [ "$E1" != "$E2" ] && [ -n "$QS1" ] && [ "$QS1" != "$QS2" ] && echo yes)"

# ---- between rows ---------------------------------------------------------------

moved "events: bodies swapped between subjects" "$(swap events body seq "$E1" "$E2")" \
	subject show "$S1"
moved "events: bodies swapped within a subject" "$(swap events body seq 1 2)" \
	subject show "$S1"
moved "events: subjects swapped" "$(swap events subject seq "$E1" "$E2")" \
	subject show "$S1"
moved "events: ids swapped" "$(swap events id seq "$E1" "$E2")" subject show "$S1"
moved "events: two whole rows renumbered (seq swapped)" \
	"UPDATE events SET seq = CASE seq WHEN $E1 THEN -$E2 ELSE -$E1 END WHERE seq IN ($E1, $E2); UPDATE events SET seq = -seq WHERE seq < 0;" \
	subject show "$S1"
# The subjects table (each subject id sealed under its keyed hash) is
# read by store check, which derives every subject again.
moved "subjects: ids swapped" "$(swap subjects sealed ord 1 2)" store check
moved "subjects: hashes swapped" "$(swap subjects hash ord 1 2)" store check
moved "summaries: swapped between subjects" "$(swap summaries sealed ord 1 2)" subject list
moved "summaries: hashes swapped" "$(swap summaries hash ord 1 2)" subject list
moved "queries: texts swapped between subjects" "$(swap queries sealed ord "$QS1" "$QS2")" \
	query list --all
moved "queries: subjects swapped" "$(swap queries subject ord "$QS1" "$QS2")" \
	query list --all
moved "queries: ids swapped" "$(swap queries hash ord "$QS1" "$QS2")" \
	query list --all
moved "quarantine: reasons swapped" "$(swap quarantine sealed ord 1 2)" status
moved "quarantine: ids swapped" "$(swap quarantine id ord 1 2)" status
moved "withheld: swapped between subjects" "$(swap withheld sealed ord 1 2)" \
	form show "$S2" INJ CELL
moved "withheld: hashes swapped" "$(swap withheld hash ord 1 2)" \
	form show "$S2" INJ CELL
moved "withheld: S1's row copied over S2's" \
	"UPDATE withheld SET sealed = (SELECT sealed FROM withheld WHERE ord = 1) WHERE ord = 2" \
	subject show "$S2"
moved "settings: two values swapped" \
	"$(swap meta value key "'store.site'" "'store.device_index'")" \
	status

# ---- between columns (and tables) ---------------------------------------------------

moved "a subject's id sealed where its summary was" \
	"UPDATE summaries SET sealed = (SELECT sealed FROM subjects WHERE subjects.hash = summaries.hash)" \
	subject list
moved "a summary sealed where the subject's id was" \
	"UPDATE subjects SET sealed = (SELECT sealed FROM summaries WHERE summaries.hash = subjects.hash)" \
	store check
moved "an event's body where its subject's summary was" \
	"UPDATE summaries SET sealed = (SELECT body FROM events WHERE events.subject = summaries.hash ORDER BY seq LIMIT 1)" \
	subject list
moved "a quarantine reason where its event's body was" \
	"UPDATE events SET body = (SELECT sealed FROM quarantine WHERE quarantine.id = events.id) WHERE id IN (SELECT id FROM quarantine)" \
	subject show "$S1"
moved "a query's text where its subject's summary was" \
	"UPDATE summaries SET sealed = (SELECT sealed FROM queries WHERE queries.subject = summaries.hash ORDER BY ord LIMIT 1) WHERE hash IN (SELECT subject FROM queries)" \
	subject list
moved "an event's keyed tag in its subject column" \
	"UPDATE events SET subject = tag WHERE seq = $E1" subject show "$S1"
moved "events: one of a subject's events moved to another" \
	"UPDATE events SET subject = (SELECT subject FROM events WHERE seq = $E2) WHERE seq = $E1" \
	subject show "$S1"
moved "a subject's summary sealed where its withheld row was" \
	"UPDATE withheld SET sealed = (SELECT sealed FROM summaries WHERE summaries.hash = withheld.hash)" \
	form show "$S1" INJ CELL
moved "a withheld row sealed where its subject's summary was" \
	"UPDATE summaries SET sealed = (SELECT sealed FROM withheld WHERE withheld.hash = summaries.hash)" \
	subject list
moved "a subject's id sealed where its withheld row was" \
	"UPDATE withheld SET sealed = (SELECT sealed FROM subjects WHERE subjects.hash = withheld.hash)" \
	subject show "$S1"
moved "a setting sealed as a quarantine reason" \
	"UPDATE quarantine SET sealed = (SELECT value FROM meta WHERE key = 'store.tally')" status

cp "$T/pristine.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
expect_rc "the pristine copy still passes store check" 0 "$CB" --home "$H" store check
expect_rc "and shows the subject" 0 "$CB" --home "$H" subject show "$S1"
expect_out "with its data" "2024-02-10"

finish
