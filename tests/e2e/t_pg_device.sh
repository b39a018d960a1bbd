#!/bin/sh
# t_pg_device.sh - the device lock across processes (store.h,
# srv_store_device_lock): two casebookd serve on one PostgreSQL
# database, one device whose person has been disabled. What that person
# made before the disabling is accepted only in the device's own order
# (server/core.c, check_person): once an event stamped later is stored,
# an older one is a back-dated one and is refused, whichever process it
# reaches.
#   1. In turn: the later event through process A, then the older one
#      through process B: refused.
#   2. At once: a session of our own holds the device's row; the later
#      event goes to A, which waits for the row; then the older one to
#      B, which waits behind A; the session lets go. A stores its event
#      and the device's newest clock before B may read it, so B refuses.
#      Without the lock B reads the clock A has not yet stored, and
#      takes the back-dated event (this test then fails).
# Signed events and requests come from tests/unit/test_reqsig.c's
# client, as in t_server.sh. Runs in tests/run.sh's PostgreSQL pass.
. "$(dirname "$0")/lib.sh"

if ! is_pg; then
	fail "t_pg_device" "runs in the PostgreSQL pass (CASEBOOK_TEST_STORE=pg)"
	finish
fi
: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
if [ ! -x "$U" ]; then
	fail "signing client" "test_reqsig not built (set CASEBOOK_UNIT)"
	finish
fi

D="$T/data"
set -- $(free_ports 2)
PA=$1 PB=$2
SPA="" SPB="" HOLD=""
stop_all() {
	exec 3>&- 2>/dev/null
	for _p in $SPA $SPB $HOLD; do kill "$_p" 2>/dev/null; done
	for _p in $SPA $SPB $HOLD; do wait "$_p" 2>/dev/null; done
	return 0
}
at_exit stop_all

# serve PORT: casebookd serve on $D at PORT; its pid in $SRV
serve() {
	"$CBD" serve --data "$D" --listen "127.0.0.1:$1" 2>>"$T/server.$1.log" &
	SRV=$!
	_i=0
	until curl -sf "http://127.0.0.1:$1/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ]; then
			fail "server on $1 starts" "$(tail -3 "$T/server.$1.log")"
			finish
		fi
		sleep 0.05
	done
}
# sql SQL: one statement on the study's database
sql() { srv_sql "$1"; }
# push PORT NAME EVENT...: the events as one signed push of the device
# to the process on PORT; the answer in $T/NAME.resp, status in
# $T/NAME.code
push() {
	_port=$1 _n=$2
	shift 2
	printf '{"events":[' >"$T/$_n.body"
	_sep=""
	for _e in "$@"; do
		printf '%s%s' "$_sep" "$_e" >>"$T/$_n.body"
		_sep=","
	done
	printf ']}' >>"$T/$_n.body"
	"$U" client headers "$T/k" "$DEV" POST /v1/sync/push "" "$T/$_n.body" >"$T/$_n.hdr" || return 1
	curl -s -o "$T/$_n.resp" -w '%{http_code}' -X POST \
		-H "$(sed -n 1p "$T/$_n.hdr")" -H "$(sed -n 2p "$T/$_n.hdr")" \
		-H "$(sed -n 3p "$T/$_n.hdr")" -H "$(sed -n 4p "$T/$_n.hdr")" \
		-H 'Content-Type: application/json' --data-binary @"$T/$_n.body" \
		"http://127.0.0.1:$_port/v1/sync/push" >"$T/$_n.code"
}
# verdict NAME: "status" of the first result of push NAME, and its code
verdict() {
	jget "$T/$1.resp" '"%s %s" % (j["results"][0]["status"], j["results"][0].get("code"))'
}
reason() { jget "$T/$1.resp" 'j["results"][0].get("reason", "")'; }
# ev SUBJECT ITEM=VALUE: one form save by gone on the device, stamped now
ev() {
	"$U" client event "$T/k" "$DEV" KR01 gone "$1" form.save BL VAS "" "$2"
}
stored() { sql "SELECT count(*) FROM events WHERE id = '$1'"; }
evid() { printf '%s' "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
# waiting N: wait (at most 20 s) until N sessions of the database wait
# for a lock
waiting() {
	_i=0
	while [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")" -lt "$1" ]; do
		_i=$((_i + 1))
		[ $_i -gt 400 ] && return 1
		sleep 0.05
	done
}

# ---- a study, two processes, one device -------------------------------------

expect_rc "init on PostgreSQL" 0 "$CBD" init --data "$D" --protocol "$PROTO"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
TOK=$(token_for gone coordinator KR01)
serve "$PA"
SPA=$SRV
serve "$PB"
SPB=$SRV
PK=$("$U" client keygen "$T/k")
printf '{"token":"%s","public_key":"%s","user":"gone"}' "$TOK" "$PK" >"$T/reg.json"
curl -s -o "$T/reg.resp" -X POST -H 'Content-Type: application/json' \
	--data-binary @"$T/reg.json" "http://127.0.0.1:$PA/v1/register"
DEV=$(jget "$T/reg.resp" 'j["device"]')
case $DEV in
[0-9a-f]*) pass "the device registers through process A" ;;
*)
	fail "the device registers" "$(head -c 300 "$T/reg.resp")"
	finish
	;;
esac

S1=KR01-01001 S2=KR01-01002
C1=$("$U" client event "$T/k" "$DEV" KR01 gone "$S1" subject.status "" "" "" --data status=screening)
C2=$("$U" client event "$T/k" "$DEV" KR01 gone "$S2" subject.status "" "" "" --data status=screening)
push "$PA" create "$C1" "$C2"
check "two subjects created through A" "2 0" \
	"$(jget "$T/create.resp" '"%d %d" % (j["accepted"], j["rejected"])')"

# Four saves made before the person is disabled, each stamped later than
# the one before: a pair for part 1, a later pair for part 2. Each pair
# names two subjects, so that the subjects' own locks do not order the
# two pushes: only the device's does.
sleep 0.01
E1A=$(ev "$S1" VAS=11)
sleep 0.01
E2A=$(ev "$S2" VAS=12)
sleep 0.01
E1B=$(ev "$S1" VAS=21)
sleep 0.01
E2B=$(ev "$S2" VAS=22)
sleep 0.01
expect_rc "the person is disabled" 0 "$CBD" user disable --data "$D" gone --reason "left the site"

# ---- 1. in turn ----------------------------------------------------------------

push "$PA" a2 "$E2A"
check "A takes what the disabled person made before, in order" "accepted None" "$(verdict a2)"
push "$PB" a1 "$E1A"
check "B refuses an event stamped before one A stored" "rejected user" "$(verdict a1)"
case $(reason a1) in
*"stamped before events device"*) pass "the refusal says the event is back-dated" ;;
*) fail "the refusal says the event is back-dated" "$(reason a1)" ;;
esac
check "the back-dated event is not stored" 0 "$(stored "$(evid "$E1A")")"

# ---- 2. at once ------------------------------------------------------------------

# A session of our own holds the device's row until told to commit.
mkfifo "$T/hold.in"
PGAPPNAME=cbhold psql -X -q -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" \
	-d "$(srv_db "$D")" <"$T/hold.in" >"$T/hold.out" 2>&1 &
HOLD=$!
exec 3>"$T/hold.in"
printf "BEGIN;\nSELECT id FROM devices WHERE id = '%s' FOR UPDATE;\n" "$DEV" >&3
_i=0
until [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cbhold' AND state = 'idle in transaction'")" = 1 ]; do
	_i=$((_i + 1))
	if [ $_i -gt 400 ]; then
		fail "a session holds the device's row" "$(cat "$T/hold.out")"
		finish
	fi
	sleep 0.05
done
MAXB=$(sql "SELECT max_hlc FROM devices WHERE id = '$DEV'")

push "$PA" b2 "$E2B" &
PUSH_A=$!
if waiting 1; then
	pass "A's push waits for the device's row"
else
	fail "A's push waits for the device's row" "no session waits for a lock"
fi
push "$PB" b1 "$E1B" &
PUSH_B=$!
if waiting 2; then
	pass "B's push waits too"
else
	fail "B's push waits too" "fewer than two sessions wait for a lock"
fi
check "neither has changed the device's clock yet" "$MAXB" \
	"$(sql "SELECT max_hlc FROM devices WHERE id = '$DEV'")"
printf 'COMMIT;\n' >&3
exec 3>&-
wait "$HOLD"
HOLD=""
wait "$PUSH_A"
wait "$PUSH_B"
check "A's push answers" 200 "$(cat "$T/b2.code")"
check "B's push answers" 200 "$(cat "$T/b1.code")"
check "A takes the later event" "accepted None" "$(verdict b2)"
check "B, racing A, refuses the back-dated event" "rejected user" "$(verdict b1)"
case $(reason b1) in
*"stamped before events device"*) pass "the racing refusal says the event is back-dated" ;;
*) fail "the racing refusal says the event is back-dated" "$(reason b1)" ;;
esac
check "the back-dated event is not stored" 0 "$(stored "$(evid "$E1B")")"
check "the later one is, once" 1 "$(stored "$(evid "$E2B")")"
check "the device's newest clock is the later event's" \
	"$(printf '%s' "$E2B" | python3 -c 'import json,sys; print(json.load(sys.stdin)["hlc"])')" \
	"$(sql "SELECT max_hlc FROM devices WHERE id = '$DEV'")"

finish
