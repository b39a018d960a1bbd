#!/bin/sh
# t_laptop_backup.sh - `casebook backup --out FILE` and restoring the copy
# on a laptop: the copy is the encrypted store as is, checked, never over
# an existing file, consistent while another casebook process writes;
# restored into a new home it syncs back to the server's record with
# nothing lost and no subject id given twice, and an id made offline
# before that sync that the server already holds is refused by the server
# without changing its record.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=laptop-backup-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
cb a init --server "$URL" --token "$(token_for kim coordinator KR01)" --user kim \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"

# enroll HOME: a new subject with screening data; prints its id.
enroll() {
	_s=$(cb "$1" subject add 2>>"$T/enroll.err" | tail -n 1)
	cb "$1" form set "$_s" SCR SV VISDT=2026-01-05 >/dev/null 2>>"$T/enroll.err"
	cb "$1" form set "$_s" SCR DM BRTHYR=1960 SEX=F CONSDT=2026-01-05 \
		>/dev/null 2>>"$T/enroll.err"
	echo "$_s"
}

S1=$(enroll a)
expect_rc "first sync" 0 cb a sync
S2=$(enroll a) # entered, not synced, when the backup is taken

# ---- backup ------------------------------------------------------------------

expect_rc "backup --help" 0 cb a backup --help
expect_out "the help says what restoring does" "is ever given twice"
expect_out "the help says how to restore" "cp FILE ~/.casebook/casebook.db"
expect_rc "backup needs --out" 2 cb a backup
expect_rc "backup takes nothing else" 2 cb a backup --out "$T/x.db" extra
expect_rc "backup with a wrong passphrase" 4 env CASEBOOK_PASSPHRASE=wrong "$CB" --home "$T/h/a" backup --out "$T/x.db"
check "a refused backup leaves no file" "" "$(ls "$T" | grep 'x.db' || true)"
expect_rc "backup of no store" 1 cb nothing backup --out "$T/x.db"
expect_rc "backup into a missing directory" 1 cb a backup --out "$T/no/such/b.db"

expect_rc "backup" 0 cb a backup --out "$T/b.db"
expect_out "backup says what it holds" "events"
expect_out "backup says the copy was checked" "checked"
expect_out "the backup holds both subjects" "subjects 2"
check "the backup is readable by its owner alone" 600 "$(stat -c %a "$T/b.db")"
check "the backup is one file, no temporary left" "b.db" "$(ls "$T" | grep 'b\.db')"
check "the backup is intact" ok "$(sqlite3 "$T/b.db" 'PRAGMA integrity_check')"
if grep -q "$S1" "$T/b.db" || grep -q "Seoul\|BRTHYR" "$T/b.db"; then
	fail "the backup is encrypted" "a subject id or a value is in clear"
else
	pass "the backup is encrypted (no subject id or value in clear)"
fi
cp "$T/b.db" "$T/b.keep"
expect_rc "backup never overwrites a file" 1 cb a backup --out "$T/b.db"
expect_out "the existing file is named" "b.db exists"
if cmp -s "$T/b.db" "$T/b.keep"; then pass "the existing file is unchanged"; else fail "the existing file is unchanged" "it changed"; fi

# A copy taken while another casebook process is writing holds whole
# commits only: restored, it checks intact.
(for n in 1 2 3 4 5 6; do enroll a >/dev/null; done) &
W=$!
sleep 0.2
expect_rc "backup while another process writes" 0 cb a backup --out "$T/busy.db"
wait $W
mkdir -m 700 "$T/h/busy" && cp "$T/busy.db" "$T/h/busy/casebook.db"
expect_rc "the copy taken during writes is intact" 0 cb busy store check
expect_out "its derived rows match its events" "match their events"

# ---- after the backup: more data, synced ---------------------------------------

expect_rc "sync after the backup" 0 cb a sync
S_LATE=$(enroll a)
cb a form set "$S1" SCR PE PESTAT=NORMAL >/dev/null 2>&1 || true
expect_rc "sync of the later data" 0 cb a sync
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.before" 2>"$T/err" ||
	fail "server dump" "$(cat "$T/err")"

# ---- restore into a new home, then sync ----------------------------------------

mkdir -m 700 "$T/h/r" && cp "$T/b.db" "$T/h/r/casebook.db"
expect_rc "the restored store unlocks and checks intact" 0 cb r store check
expect_out "the restored store is the same device" "$(cb a store check 2>/dev/null | grep 'device id' | sed 's/.*device id //')"
expect_rc "the restored laptop syncs" 0 cb r sync
cb r dump >"$T/r.dump" 2>"$T/err" || fail "dump r" "$(cat "$T/err")"
if cmp -s "$T/srv.before" "$T/r.dump"; then
	pass "after sync the restored laptop holds the server's whole record"
else
	fail "restored = server" "$(diff "$T/srv.before" "$T/r.dump" | head -5)"
fi
for s in $S1 $S2 $S_LATE; do
	grep -q "\"$s\"" "$T/r.dump" || fail "nothing lost: $s" "not on the restored laptop"
done
NEW=$(cb r subject add 2>"$T/err" | tail -n 1)
case " $S1 $S2 $S_LATE $(cb a subject list 2>/dev/null | awk '{print $1}' | tr '\n' ' ') " in
*" $NEW "*) fail "no id reused after a restore" "$NEW was given before" ;;
*) case $NEW in KR01-01???) pass "no id reused after a restore ($NEW)" ;;
	*) fail "a new subject after restore" "got '$NEW': $(cat "$T/err")" ;; esac ;;
esac
expect_rc "the new subject syncs" 0 cb r sync
check "nothing quarantined" "Quarantined events: 0" "$(cb r status 2>&1 | grep -o 'Quarantined events: *[0-9]*' | tr -s ' ')"
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.after" 2>/dev/null
grep -q "\"$NEW\"" "$T/srv.after" && pass "the server has the new subject" ||
	fail "the server has the new subject" "$NEW missing"

# ---- restored and enrolling before the first sync --------------------------------

mkdir -m 700 "$T/h/r2" && cp "$T/b.db" "$T/h/r2/casebook.db"
DUP=$(cb r2 subject add 2>/dev/null | tail -n 1)
cb r2 form set "$DUP" SCR DM BRTHYR=1999 SEX=M CONSDT=2026-02-01 >/dev/null 2>&1
case " $S1 $S2 " in
*" $DUP "*) fail "no id of the backup reused offline" "$DUP" ;;
*) pass "an id held by the backup is not reused offline ($DUP)" ;;
esac
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.mid" 2>/dev/null
cb r2 sync >"$T/out" 2>"$T/err"
if grep -q "\"$DUP\"" "$T/srv.mid"; then
	# The server already has this id (given after the backup): it
	# refuses the second creation and its record does not change.
	cb r2 status >"$T/out" 2>&1
	expect_out "the second creation of $DUP is quarantined" "subject $DUP exists already; it is created once"
	"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.end" 2>/dev/null
	# The subject's part of the dump, from its "subject" line to the next.
	# (A bare 1999 is not searched for: event ids and hashes are hex and
	# hold it by chance.)
	subject_part() {
		awk -v s="subject \"$DUP\"" \
			'index($0, "subject ") == 1 { on = (index($0, s) == 1) } on' "$1"
	}
	subject_part "$T/srv.mid" >"$T/dup.mid"
	subject_part "$T/srv.end" >"$T/dup.end"
	if [ ! -s "$T/dup.end" ]; then
		fail "the server's record of $DUP is unchanged" "not in the server's dump"
	elif grep -q '"1999"' "$T/dup.end"; then
		fail "the server's record of $DUP is unchanged" "the offline values got in"
	elif ! cmp -s "$T/dup.mid" "$T/dup.end"; then
		fail "the server's record of $DUP is unchanged" "$(diff "$T/dup.mid" "$T/dup.end" | head -5)"
	else
		pass "the server's record of $DUP is unchanged"
	fi
else
	fail "the offline id collides with a later one" "$DUP was not given after the backup"
fi
finish
