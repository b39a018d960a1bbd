#!/bin/sh
# t_backup.sh - `casebookd backup` while laptops push, and `casebookd
# restore`: the backup is one consistent, intact file; a restore refuses
# what is not a backup, a running server and an existing store (unless
# --replace, which keeps the old store aside); the restored store has a
# new identity and derived tables that agree with its events.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=backup-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

store_id() { sqlite3 "$1" "SELECT value FROM settings WHERE key = 'store_id'"; }
events_in() { sqlite3 "$1" "SELECT count(*) FROM events"; }

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people kim:coordinator:KR01 lee:coordinator:KR01
start_server || finish
for h in a:kim b:lee; do
	cb "${h%%:*}" init --server "$URL" --token "$(token_for "${h#*:}" coordinator KR01)" \
		--user "${h#*:}" >/dev/null 2>"$T/err" || fail "laptop $h" "$(cat "$T/err")"
done

# enter HOME N: N subjects with screening data, synced one by one.
enter() {
	_n=0
	while [ "$_n" -lt "$2" ]; do
		_s=$(cb "$1" subject add 2>/dev/null | tail -n 1)
		cb "$1" form set "$_s" SCR SV VISDT=2026-01-05 >/dev/null 2>&1
		cb "$1" form set "$_s" SCR DM BRTHYR=1960 SEX=F CONSDT=2026-01-05 >/dev/null 2>&1
		cb "$1" sync >/dev/null 2>&1
		_n=$((_n + 1))
	done
}
enter a 2
ID0=$(store_id "$D/casebookd.db")
case $ID0 in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) check "init gives the store an identity" 32 "${#ID0}" ;;
*) fail "init gives the store an identity" "got '$ID0'" ;;
esac

# ---- backup while pushing ----------------------------------------------------

expect_rc "backup needs --out" 2 "$CBD" backup --data "$D"
expect_rc "backup needs --data" 2 "$CBD" backup --out "$T/x.db"
expect_rc "backup --help" 0 "$CBD" backup --help
expect_out "backup --help says what is left out" "server.key"
expect_rc "backup of no store" 1 "$CBD" backup --data "$T/nothing" --out "$T/x.db"
enter a 6 &
P1=$!
enter b 6 &
P2=$!
sleep 0.3
expect_rc "backup while two laptops push" 0 "$CBD" backup --data "$D" --out "$T/b1.db"
expect_out "backup says what it holds" "events (last sequence"
wait $P1 $P2
expect_rc "backup refuses to overwrite a file" 1 "$CBD" backup --data "$D" --out "$T/b1.db"
expect_out "the existing file is named" "b1.db exists"
check "the backup is intact" ok "$(sqlite3 "$T/b1.db" 'PRAGMA integrity_check')"
check "the backup is one file" "" "$(ls "$T" | grep -e 'b1.db-' -e 'b1.db.tmp' || true)"
check "the backup keeps the store's identity" "$ID0" "$(store_id "$T/b1.db")"
N_BACKUP=$(events_in "$T/b1.db")
N_NOW=$(events_in "$D/casebookd.db")
if [ "$N_BACKUP" -gt 0 ] && [ "$N_BACKUP" -le "$N_NOW" ]; then
	pass "the backup holds the store at one moment ($N_BACKUP of $N_NOW events)"
else
	fail "the backup holds the store at one moment" "$N_BACKUP of $N_NOW"
fi
# Consistent: the derived tables in the copy are what its events give.
expect_rc "restore into a new directory" 0 "$CBD" restore --data "$T/r1" --from "$T/b1.db"
expect_out "restore says the new identity" "new store id"
expect_out "restore warns that the server key is not in the backup" "server.key is missing"
"$CBD" dump --data "$T/r1" >"$T/r1.before" 2>"$T/err" || fail "dump r1" "$(cat "$T/err")"
"$CBD" rebuild --data "$T/r1" >/dev/null 2>&1 || fail "rebuild r1" "failed"
"$CBD" dump --data "$T/r1" >"$T/r1.after" 2>&1
if cmp -s "$T/r1.before" "$T/r1.after" && [ -s "$T/r1.before" ]; then
	pass "a backup taken during pushes: derived tables agree with its events"
else
	fail "a backup taken during pushes: derived tables agree with its events" \
		"$(diff "$T/r1.before" "$T/r1.after" | head -5)"
fi
ID1=$(store_id "$T/r1/casebookd.db")
if [ "${#ID1}" -eq 32 ] && [ "$ID1" != "$ID0" ]; then
	pass "a restored store has a new identity"
else
	fail "a restored store has a new identity" "$ID0 -> $ID1"
fi

# ---- what restore refuses ------------------------------------------------------

expect_rc "restore needs --from" 2 "$CBD" restore --data "$T/r2"
printf 'not a database at all' >"$T/junk.db"
expect_rc "restore of a file that is no database" 1 "$CBD" restore --data "$T/r2" --from "$T/junk.db"
sqlite3 "$T/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES(1);"
expect_rc "restore of another database" 1 "$CBD" restore --data "$T/r2" --from "$T/other.db"
expect_out "it says it is not a backup" "is not a backup of a central store"
check "nothing was made" "" "$(ls "$T/r2" 2>/dev/null | grep casebookd.db || true)"
cp "$T/b1.db" "$T/damaged.db"
python3 - "$T/damaged.db" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# scribble over the middle of the file: pages of the events table
for i in range(len(b) // 2, len(b) // 2 + 4096):
    b[i] = 0x5a
open(p, "wb").write(bytes(b))
EOF
expect_rc "restore of a damaged backup" 1 "$CBD" restore --data "$T/r3" --from "$T/damaged.db"
expect_rc "restore while the server runs" 1 "$CBD" restore --data "$D" --from "$T/b1.db" --replace
expect_out "it names the running server" "another casebookd"
check "the served store is untouched" "$ID0" "$(store_id "$D/casebookd.db")"

# ---- restore over the served store ---------------------------------------------

stop_server
expect_rc "restore over a store without --replace" 1 "$CBD" restore --data "$D" --from "$T/b1.db"
expect_out "it says how to replace" "--replace"
N_OLD=$(events_in "$D/casebookd.db")
expect_rc "restore --replace" 0 "$CBD" restore --data "$D" --from "$T/b1.db" --replace
expect_out "it says where the old store is" "is kept as"
OLD=$(ls "$D" | grep '^casebookd.db.replaced-' | grep -v -e '-wal$' -e '-shm$' | head -n 1)
if [ -n "$OLD" ] && [ "$(events_in "$D/$OLD")" = "$N_OLD" ]; then
	pass "the replaced store is kept whole ($N_OLD events)"
else
	fail "the replaced store is kept whole" "'$OLD'"
fi
check "the restored store has the backup's events" "$N_BACKUP" "$(events_in "$D/casebookd.db")"
ID2=$(store_id "$D/casebookd.db")
[ "$ID2" != "$ID0" ] && [ "$ID2" != "$ID1" ] && pass "each restore a new identity" ||
	fail "each restore a new identity" "$ID0 $ID1 $ID2"
start_server || finish
expect_rc "the server serves the restored store" 0 curl -sf "$URL/v1/health"
finish
