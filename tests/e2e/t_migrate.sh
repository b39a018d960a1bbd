#!/bin/sh
# t_migrate.sh - `casebookd migrate`: a running study's SQLite store moved
# to another store (in tests/run.sh's PostgreSQL pass a PostgreSQL
# database, as docs/OPERATIONS.md does it; in the first pass another
# data directory), verified by comparing dumps; devices go on syncing
# against the copy where they were, with their leases and the server key.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=migrate-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
# The source is a data directory on either pass: the real casebookd.
SRC_CBD="$CASEBOOK_BIN/casebookd"
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if is_pg; then
	db="cbmigrate_$$"
	createdb -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" "$db" ||
		fail "createdb" "failed"
	echo "$db" >>"$T/pgdbs"
	TO="postgresql://$CASEBOOK_PG_USER@/$db?host=$CASEBOOK_PG_HOST"
else
	TO="$T/copy"
fi
SPID=""
serve() {
	"$SRC_CBD" serve "$@" --listen "127.0.0.1:$PORT" 2>>"$T/server.log" &
	SPID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -gt 400 ] && { fail "server starts" "no answer"; return 1; }
		sleep 0.05
	done
}
halt() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=""
	return 0
}
at_exit halt

# ---- a study under way on SQLite --------------------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out "$T/unblind.key" \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 10 \
	--block-sizes 2 --seed "migrate-$$-abcdefghijkl" \
	--unblinding-pub "$T/unblind.key.pub" --out "$T/list.json" \
	>/dev/null 2>&1 || fail "randlist generate" "failed"
"$SRC_CBD" init --data "$D" --protocol "$PROTO" >/dev/null || fail "init" "failed"
"$SRC_CBD" site add --data "$D" KR01 --name Seoul >/dev/null
"$SRC_CBD" randlist import --data "$D" "$T/list.json" >/dev/null || fail "import" "failed"
serve --data "$D" || finish
for u in ann max; do
	"$SRC_CBD" user add --data "$D" "$u" --full-name "Test $u" --role coordinator \
		--site KR01 >/dev/null || fail "user add $u" "failed"
done
t=$("$SRC_CBD" token create --data "$D" --user ann 2>/dev/null)
expect_rc "register a laptop" 0 cb L init --server "$URL" --token "$t" --user ann
t=$("$SRC_CBD" token create --data "$D" --user max 2>/dev/null)
expect_rc "register a second laptop" 0 cb M init --server "$URL" --token "$t" --user max
"$SRC_CBD" token create --data "$D" --site KR01 --role investigator >/dev/null 2>&1
expect_rc "the laptop leases slots" 0 cb L sync
enroll() {
	_s=$(cb "$1" subject add 2>/dev/null) || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb "$1" form set "$_s" SCR ELIG AGE=60 KLGRADE=2 PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
S1=$(enroll L) || fail "enrol" "failed"
S2=$(enroll L) || fail "enrol" "failed"
expect_rc "randomize one" 0 cb L randomize "$S1"
expect_rc "sync" 0 cb L sync
expect_rc "the second laptop syncs" 0 cb M sync
M_ID=$(cb M store check 2>/dev/null | sed -n 's/.*device id \([0-9a-f]*\).*/\1/p')
expect_rc "revoke the second laptop" 0 "$SRC_CBD" device revoke --data "$D" "$M_ID"
halt

"$SRC_CBD" dump --data "$D" --canonical >"$T/canon.src"
"$SRC_CBD" dump --data "$D" >"$T/derived.src"
"$SRC_CBD" status --data "$D" | grep -v "^store " >"$T/status.src"
"$SRC_CBD" device list --data "$D" >"$T/devices.src"
"$SRC_CBD" token list --data "$D" >"$T/tokens.src"

# ---- the move ---------------------------------------------------------------

serve --data "$D" || finish
expect_rc "migrate refuses while a server uses the data directory" 1 \
	"$SRC_CBD" migrate --from "$D" --to "$TO"
expect_out "and says so" "is using"
halt
expect_rc "migrate" 0 "$SRC_CBD" migrate --from "$D" --to "$TO"
expect_out "migrate copies the events" "copied events"
expect_out "migrate verifies the events" "verified: the canonical dump of the events is identical"
expect_out "migrate verifies the derived tables" "verified: the dump of the derived tables is identical"
expect_rc "migrate again into the same store is refused" 1 \
	"$SRC_CBD" migrate --from "$D" --to "$TO"
expect_out "the store is not overwritten" "already holds a central store"
expect_rc "migrate needs --to" 2 "$SRC_CBD" migrate --from "$D"

WHERE="--data"
is_pg && WHERE="--store"
"$SRC_CBD" dump $WHERE "$TO" --canonical >"$T/canon.dst"
"$SRC_CBD" dump $WHERE "$TO" >"$T/derived.dst"
"$SRC_CBD" status $WHERE "$TO" | grep -v "^store " >"$T/status.dst"
"$SRC_CBD" device list $WHERE "$TO" >"$T/devices.dst"
"$SRC_CBD" token list $WHERE "$TO" >"$T/tokens.dst"
"$SRC_CBD" user list --data "$D" >"$T/users.src"
"$SRC_CBD" user list $WHERE "$TO" >"$T/users.dst"
for f in canon derived status devices tokens users; do
	if cmp -s "$T/$f.src" "$T/$f.dst"; then
		pass "the copy's $f is the source's"
	else
		fail "the copy's $f is the source's" "$(diff "$T/$f.src" "$T/$f.dst" | head -4)"
	fi
done

# ---- devices go on against the copy -----------------------------------------

serve $WHERE "$TO" || finish
cb L sync >"$T/out" 2>&1
check "the laptop syncs with the copy" 0 "$?"
expect_out "its pull cursor still holds: nothing new" "pulled 0 events, 0 new"
expect_rc "it randomizes with the lease it had" 0 cb L randomize "$S2"
S3=$(enroll L) || fail "enrol" "failed"
cb L sync >"$T/out" 2>&1
check "and syncs the new events" 0 "$?"
expect_out "none rejected" "0 rejected"
cb M sync >"$T/out" 2>&1
check "the revoked laptop is still refused" 4 "$?"
halt
"$SRC_CBD" dump $WHERE "$TO" --canonical --site KR01 >"$T/srv"
cb L dump >"$T/dev" 2>/dev/null
check "the laptop's record is the copy's" "" "$(cmp "$T/srv" "$T/dev" 2>&1)"
check "2 slots used on the copy" 2 \
	"$("$SRC_CBD" status $WHERE "$TO" | sed -n 's/.*site KR01: [0-9]* slots, [0-9]* leased, \([0-9]*\) used.*/\1/p')"

# ---- and back: the copy into a data directory --------------------------------

expect_rc "migrate the copy into a new data directory" 0 \
	"$SRC_CBD" migrate --from "$TO" --to "$T/back"
"$SRC_CBD" dump $WHERE "$TO" --canonical >"$T/canon.dst2"
"$SRC_CBD" dump --data "$T/back" --canonical >"$T/canon.back"
check "the way back keeps the record" "" "$(cmp "$T/canon.dst2" "$T/canon.back" 2>&1)"

finish
