#!/bin/sh
# t_backup.sh - `casebookd backup` while laptops push, and `casebookd
# restore`: the backup is one consistent, intact file; a restore refuses
# what is not a backup, a running server and an existing store (unless
# --replace, which keeps the old store aside) and a backup of a newer
# casebookd; the restored store has a new identity and derived tables
# that agree with its events; restore --replace carries what must never
# go back (slots leased or used, people disabled, devices revoked,
# devices, people and tokens made or used after the backup, the events
# sequence), the laptops send their events again when the store id
# changes, and a restore into an empty directory pauses slot leases
# until `casebookd randlist resume-leases`.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=backup-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

# On PostgreSQL (tests/run.sh's second pass) backup and restore from a
# file refuse, naming PostgreSQL's own tools and the procedure of
# docs/OPERATIONS.md (section 5, which t_pg_ops.sh follows), and make
# nothing; restore without --from gives a database those tools restored
# its new identity.
if is_pg; then
	pg_store_id() { srv_sql "SELECT convert_from(value, 'UTF8') FROM settings WHERE key = 'store_id'"; }
	"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
	expect_rc "backup of a PostgreSQL store refuses" 1 "$CBD" backup --data "$D" --out "$T/b.db"
	expect_out "it names pg_dump" "pg_dump or base backups"
	expect_out "and the procedure" "docs/OPERATIONS.md, section 5"
	check "no file is made" "" "$(ls "$T" | grep '^b\.db' || true)"
	touch "$T/b.db.src"
	expect_rc "restore into a PostgreSQL store refuses" 1 "$CBD" restore --data "$D" --from "$T/b.db.src"
	expect_out "it names pg_restore" "pg_restore, base backups"
	expect_out "and how to renew the identity" "without --from, gives it a new identity"
	check "the store still opens" 0 "$("$CBD" status --data "$D" >/dev/null 2>&1; echo $?)"
	ID0=$(pg_store_id)
	expect_rc "restore --replace is refused too" 1 "$CBD" restore --data "$D" --replace
	check "refusals leave the identity" "$ID0" "$(pg_store_id)"
	expect_rc "restore without --from: a new identity" 0 "$CBD" restore --data "$D"
	ID1=$(pg_store_id)
	expect_out "it says the new identity" "new store id $ID1"
	if [ "${#ID1}" -eq 32 ] && [ "$ID1" != "$ID0" ]; then
		pass "the restored database has a new identity"
	else
		fail "the restored database has a new identity" "$ID0 -> $ID1"
	fi
	finish
fi

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
stop_server

# ---- what a restore must not undo --------------------------------------------
#
# A second study store with randomization: a backup is taken, then a
# slot is leased and used, a person disabled, a device revoked, a new
# person and device registered with a token made before the backup;
# restore --replace carries each of those facts, and once the laptops
# have synced (each sees the store id change and sends its events again)
# every laptop and the server hold the same record with nothing lost.

D="$T/data2"
cd "$T" || exit 1
CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 8 \
	--block-sizes 2,4 --seed "backup-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init 2" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
people ra:coordinator:KR01 rb:coordinator:KR01 rc:coordinator:KR01 rv:coordinator:KR01
start_server --lease 1 || finish
for h in A:ra B:rb C:rc V:rv; do
	cb "${h%%:*}" init --server "$URL" --token "$(token_for "${h#*:}" coordinator KR01)" \
		--user "${h#*:}" >/dev/null 2>"$T/err" || fail "laptop $h" "$(cat "$T/err")"
done
# A token for any coordinator of KR01, made before the backup and used
# after it.
TOKN=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)

# enroll HOME: a new eligible subject of stratum KL 2; prints its id.
enroll() {
	_s=$(cb "$1" subject add 2>/dev/null | tail -n 1) || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb "$1" form set "$_s" SCR ELIG AGE=60 KLGRADE=2 PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
# randno HOME SUBJECT: randomize, print the randomization number.
randno() {
	cb "$1" randomize "$2" >"$T/rout" 2>"$T/rerr" || {
		fail "randomize $2 on $1" "$(cat "$T/rerr")"
		return 1
	}
	sed -n 's/.*randomization number: *//p' "$T/rout"
}
dev_of() { "$CBD" device list --data "$D" 2>/dev/null | awk -v u="$1" '$5 == u { print $1 }'; }
slot_dev() { sqlite3 "$D/casebookd.db" "SELECT coalesce(device, '') FROM rand_slots WHERE randno = '$1'"; }
slot_subject() { sqlite3 "$D/casebookd.db" "SELECT coalesce(subject, '') FROM rand_slots WHERE randno = '$1'"; }
same_record() { # NAME HOME...: the server's KR01 record and each laptop's
	_n=$1
	shift
	"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.dump" 2>"$T/err" ||
		fail "$_n: server dump" "$(cat "$T/err")"
	for _h in "$@"; do
		cb "$_h" dump >"$T/dev.dump" 2>"$T/err"
		if [ -s "$T/srv.dump" ] && cmp -s "$T/srv.dump" "$T/dev.dump"; then
			pass "$_n: laptop $_h and the server"
		else
			fail "$_n: laptop $_h and the server" \
				"$(diff "$T/srv.dump" "$T/dev.dump" | head -5)"
		fi
	done
}

for h in A B C V; do
	cb $h subject add >/dev/null 2>&1
	cb $h sync >/dev/null 2>"$T/err" || fail "first sync $h" "$(cat "$T/err")"
done
DEV_A=$(dev_of ra)
DEV_V=$(dev_of rv)
# A uses the slot it holds offline; it reaches the server after the backup.
SA1=$(enroll A)
RN1=$(randno A "$SA1")
expect_rc "backup 2" 0 "$CBD" backup --data "$D" --out "$T/b2.db"

# ---- after the backup -------------------------------------------------------
expect_rc "A syncs its randomization after the backup" 0 cb A sync
RN2=$(sqlite3 "$D/casebookd.db" "SELECT randno FROM rand_slots WHERE device = '$DEV_A'
	AND subject IS NULL AND stratum = (SELECT stratum FROM rand_slots WHERE randno = '$RN1')")
SA2=$(enroll A)
check "A uses the slot leased after the backup" "$RN2" "$(randno A "$SA2")"
expect_rc "A syncs the second randomization" 0 cb A sync
RN3=$(sqlite3 "$D/casebookd.db" "SELECT randno FROM rand_slots WHERE device = '$DEV_A'
	AND subject IS NULL AND stratum = (SELECT stratum FROM rand_slots WHERE randno = '$RN1')")
[ -n "$RN2" ] && [ -n "$RN3" ] && [ "$RN2" != "$RN3" ] &&
	pass "slots leased after the backup ($RN2 used, $RN3 held)" ||
	fail "slots leased after the backup" "'$RN2' '$RN3'"
# C's person records one event that reaches the server, is disabled,
# then records another.
cb C subject add >/dev/null 2>&1
expect_rc "C syncs before its person is disabled" 0 cb C sync
expect_rc "disable rc" 0 "$CBD" user disable --data "$D" rc --reason "left the study"
SC2=$(cb C subject add 2>/dev/null | tail -n 1)
expect_rc "revoke V" 0 "$CBD" device revoke --data "$D" "$DEV_V"
cb V subject add >/dev/null 2>&1
person rn coordinator KR01
expect_rc "a new laptop registers after the backup" 0 \
	cb N init --server "$URL" --token "$TOKN" --user rn
cb N subject add >/dev/null 2>&1
expect_rc "the new laptop syncs" 0 cb N sync
DEV_N=$(dev_of rn)
OLD_MAX=$(sqlite3 "$D/casebookd.db" "SELECT max(seq) FROM events")
BACKUP_MAX=$(sqlite3 "$T/b2.db" "SELECT max(seq) FROM events")
stop_server
cp "$D/casebookd.db" "$T/live.db"
sqlite3 "$T/live.db" "SELECT id FROM events ORDER BY id" >"$T/live.ids"

# ---- a backup of a newer casebookd is refused, nothing changed ----------------
cp "$T/b2.db" "$T/newer.db"
sqlite3 "$T/newer.db" "UPDATE settings SET value = '99' WHERE key = 'schema_version'"
SUM0=$(sha256sum "$D/casebookd.db" | cut -d' ' -f1)
ID_LIVE=$(store_id "$D/casebookd.db")
expect_rc "restore of a newer schema's backup" 1 \
	"$CBD" restore --data "$D" --from "$T/newer.db" --replace
expect_out "it names the newer schema" "schema version 99"
expect_out "it says nothing was changed" "nothing was changed"
check "the newer backup changed nothing" "$SUM0 $ID_LIVE 0" \
	"$(sha256sum "$D/casebookd.db" | cut -d' ' -f1) $(store_id "$D/casebookd.db") $(ls "$D" | grep -c -e replaced -e restore-)"
expect_rc "restore of a newer schema's backup into a new directory" 1 \
	"$CBD" restore --data "$T/d-newer" --from "$T/newer.db"
check "nothing was made for it" "" "$(ls "$T/d-newer" 2>/dev/null | grep casebookd.db || true)"

# ---- restore --replace carries what must not go back --------------------------
expect_rc "restore --replace over a store with newer facts" 0 \
	"$CBD" restore --data "$D" --from "$T/b2.db" --replace
expect_out "it prints what it carried" "carried from the replaced store"
# A's two after the backup (one used) and the new laptop's one per cell.
expect_out "it counts the slot leases and uses" "4 slot lease(s), 2 slot use(s)"
expect_out "it counts the disabled person and revoked device" "1 person(s) added and 1 disabled, 1 device(s) added and 1 revoked"
expect_out "it says the events sequence goes on" "numbered after $OLD_MAX"
expect_no_out "no lease pause with a store to carry from" "paused"
check "the slot used after the backup stays used" "$SA1" "$(slot_subject "$RN1")"
check "the slot leased and used after the backup stays used" "$SA2 $DEV_A" "$(slot_subject "$RN2") $(slot_dev "$RN2")"
check "the slot leased after the backup stays leased" "$DEV_A" "$(slot_dev "$RN3")"
check "the disabled person stays disabled" 1 \
	"$(sqlite3 "$D/casebookd.db" "SELECT disabled_ms > 0 FROM users WHERE name = 'rc'")"
check "the revoked device stays revoked" 1 \
	"$(sqlite3 "$D/casebookd.db" "SELECT revoked_ms > 0 FROM devices WHERE id = '$DEV_V'")"
check "the token used after the backup stays used" "$DEV_N" \
	"$(sqlite3 "$D/casebookd.db" "SELECT device FROM tokens WHERE used_ms > 0 AND device = '$DEV_N'")"
check "the events sequence goes on past the replaced store's" "$OLD_MAX" \
	"$(sqlite3 "$D/casebookd.db" "SELECT seq FROM sqlite_sequence WHERE name = 'events'")"
# Before A sends its randomizations again, a rebuild keeps their uses.
"$CBD" rebuild --data "$D" >/dev/null 2>"$T/err" || fail "rebuild after restore" "$(cat "$T/err")"
check "a rebuild keeps the slot uses carried" "$SA1 $SA2" "$(slot_subject "$RN1") $(slot_subject "$RN2")"

start_server --lease 1 || finish
# B syncs first, uses its slot and takes a new one: never one of A's.
SB1=$(enroll B)
RB1=$(randno B "$SB1")
expect_rc "B syncs after the restore" 0 cb B sync
expect_out "B says the server's store changed" "restored from a backup"
SB2=$(enroll B)
RB2=$(randno B "$SB2")
case " $RN1 $RN2 $RN3 " in
*" $RB2 "*) fail "a slot of A's is not leased again" "B got $RB2" ;;
*) [ -n "$RB2" ] && pass "a slot of A's is not leased again (B got $RB2)" ||
	fail "a slot of A's is not leased again" "B got nothing" ;;
esac
expect_rc "B syncs its randomizations" 0 cb B sync
expect_out "B: nothing rejected" "0 rejected"
expect_rc "A syncs after the restore" 0 cb A sync
expect_out "A sends its events again" "restored from a backup"
expect_out "A: nothing rejected (its slots were carried)" "0 rejected"
expect_rc "A syncs once more" 0 cb A sync
expect_no_out "the change is told once" "restored from a backup"
expect_rc "the new device syncs after the restore" 0 cb N sync
expect_rc "another laptop cannot register with the used token" 4 \
	cb N2 init --server "$URL" --token "$TOKN" --user rn
expect_rc "C syncs after the restore" 0 cb C sync
expect_out "C: the disabled person's new event is refused" "1 rejected"
expect_rc "the revoked device is refused" 4 cb V sync
expect_out "it is told it is revoked" "revoked"
for h in B A N C; do cb $h sync >/dev/null 2>&1; done
check "the disabled person's event is not on the server" 0 \
	"$(sqlite3 "$D/casebookd.db" "SELECT count(*) FROM events WHERE subject = '$SC2'")"
check "the revoked device's event is not on the server" 0 \
	"$(sqlite3 "$D/casebookd.db" "SELECT count(*) FROM events WHERE device = '$DEV_V' AND seq > $BACKUP_MAX")"
sqlite3 "$D/casebookd.db" "SELECT id FROM events ORDER BY id" >"$T/now.ids"
check "nothing the replaced store held is lost" "" "$(comm -23 "$T/live.ids" "$T/now.ids")"
check "new events are numbered past the replaced store's" 1 \
	"$(sqlite3 "$D/casebookd.db" "SELECT min(seq) > $OLD_MAX FROM events WHERE seq > $BACKUP_MAX")"
same_record "after the restore and the syncs" A B N C
stop_server

# ---- restore into an empty directory: leases paused until resumed --------------
D3="$T/data3"
expect_rc "restore into an empty directory" 0 "$CBD" restore --data "$D3" --from "$T/b2.db"
expect_out "it warns that leases are paused" "leases are paused"
expect_out "it says how to resume them" "randlist resume-leases"
cp "$D/server.key" "$D3/server.key"
D_KEEP=$D
D=$D3
start_server --lease 1 || finish
expect_rc "randlist show says leases are paused" 0 "$CBD" randlist show --data "$D"
expect_out "show: PAUSED" "PAUSED"
# A holds, used, a slot the lost store leased after the backup: taken as
# A's while leases are paused.
expect_rc "A syncs with the store restored into an empty directory" 0 cb A sync
expect_out "A: its slot leased after the backup is taken" "0 rejected"
check "A's used slot leased after the backup is A's" "$SA2 $DEV_A" "$(slot_subject "$RN2") $(slot_dev "$RN2")"
expect_out "A is told leases are paused" "no new randomization slots"
check "A's unused slot leased after the backup is A's: A told the server" \
	"$DEV_A" "$(slot_dev "$RN3")"
SB3=$(enroll B)
cb B randomize "$SB3" >/dev/null 2>&1
expect_rc "B syncs while leases are paused" 0 cb B sync
expect_out "B is told leases are paused" "no new randomization slots"
person rp coordinator KR01
expect_rc "a laptop registers while leases are paused" 0 \
	cb P init --server "$URL" --token "$(token_for rp coordinator KR01)" --user rp
expect_rc "it syncs while leases are paused" 0 cb P sync
DEV_P=$(dev_of rp)
leased_to() { sqlite3 "$D/casebookd.db" "SELECT count(*) FROM rand_slots WHERE device = '$1'"; }
check "no slot is leased while paused" 0 "$(leased_to "$DEV_P")"
expect_rc "resume-leases" 0 "$CBD" randlist resume-leases --data "$D"
expect_out "resume-leases says so" "resumed"
expect_rc "B syncs after leases resumed" 0 cb B sync
expect_no_out "B gets slots again" "no new randomization slots"
expect_rc "the new laptop syncs after leases resumed" 0 cb P sync
[ "$(leased_to "$DEV_P")" -gt 0 ] && pass "slots are leased again once resumed" ||
	fail "slots are leased again once resumed" "none leased to $DEV_P"
expect_rc "randlist show: not paused" 0 "$CBD" randlist show --data "$D"
expect_no_out "show: no longer paused" "PAUSED"
expect_rc "resume-leases again changes nothing" 0 "$CBD" randlist resume-leases --data "$D"
expect_out "it says nothing was paused" "were not paused"
D=$D_KEEP
finish
