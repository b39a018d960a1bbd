#!/bin/sh
# t_security_net.sh - abusive clients do not stop other devices from
# syncing (docs/api.md "Limits", docs/SECURITY.md "Hostile network"), on
# a real casebookd with its default limits on loopback.
#
# For each abuse (tests/e2e/net_abuse.py, from 127.0.0.2 onwards, so
# the per-address limit applies to each source as to clients on many
# hosts): a laptop at 127.0.0.1 records a value and syncs while the
# abuse runs, and must succeed, with its event accepted, before the
# abuse is stopped; the server stays up and answers.
#
#   slowloris   640 connections from 10 addresses (past the server's
#               512) sending their headers a byte at a time and
#               reconnecting when closed
#   slowbody    as many sending a 4 MB push body a byte at a time
#   idle        as many connections that send nothing
#   flood       32 threads connecting and closing as fast as they can
#   bigheaders  32 at a time sending 256 kB of headers: 431, never a crash
#   chunked     16 endless chunked push bodies: cut off, 413
#
# The slow ones are closed by the server (closed_by_server > 0): a
# request must arrive within SRV_HTTP_REQUEST_S and keep a minimum rate,
# and when connections run short the oldest unfinished one makes room.
# Timings are printed, never asserted; the only order asserted is that
# the sync ended while the abuse still ran.
. "$(dirname "$0")/lib.sh"

ABUSE="$CASEBOOK_TOP/tests/e2e/net_abuse.py"
export CASEBOOK_PASSPHRASE=net-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server
ABUSE_PID=""
stop_abuse() {
	if [ -n "$ABUSE_PID" ]; then
		kill -TERM "$ABUSE_PID" 2>/dev/null
		wait "$ABUSE_PID" 2>/dev/null
	fi
	ABUSE_PID=""
	return 0
}
at_exit stop_abuse

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
cb a init --server "$URL" --token "$(token_for na coordinator KR01)" --user na \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"
S=$(cb a subject add 2>/dev/null)
cb a form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "enroll" "form set failed"
expect_rc "the laptop syncs before any abuse" 0 cb a sync

# under MODE ADDRS PER: run the abuse (at most 120 s), sync laptop a
# once it is under way, then stop it; its counts in $T/abuse.MODE.
VAS=10
under() {
	_m=$1
	rm -f ready
	NET_ABUSE_READY="$T/ready" python3 "$ABUSE" "$_m" "$PORT" "$2" "$3" 120 \
		>"$T/abuse.$_m" 2>&1 &
	ABUSE_PID=$!
	_i=0
	until [ -f ready ] || ! kill -0 "$ABUSE_PID" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 600 ] && break
		sleep 0.1
	done
	VAS=$((VAS + 1))
	cb a form set "$S" BL VAS VAS=$VAS --reason "during $_m" >/dev/null 2>&1
	_t0=$(date +%s%N)
	cb a sync >"$T/out" 2>"$T/err"
	_rc=$?
	_t1=$(date +%s%N)
	if kill -0 "$ABUSE_PID" 2>/dev/null; then _running=yes; else _running=no; fi
	check "$_m: the laptop syncs during the abuse" 0 "$_rc"
	expect_out "$_m: its event is accepted" "1 accepted"
	check "$_m: the sync ended while the abuse still ran" yes "$_running"
	echo "$_m: sync took $(((_t1 - _t0) / 1000000)) ms"
	stop_abuse
	echo "$_m: $(cat "$T/abuse.$_m")"
	check "$_m: the server still answers" 200 \
		"$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/health")"
}
# abuse_count MODE EXPR: a value of the abuse's counts.
abuse_count() { python3 -c 'import json,sys
j=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(eval(sys.argv[2]))' "$T/abuse.$1" "$2" 2>/dev/null; }
more_than() { # NAME MIN GOT
	if [ "${3:-0}" -gt "$2" ] 2>/dev/null; then pass "$1"; else fail "$1" "got '${3:-}'"; fi
}

under slowloris 10 64
more_than "slowloris: the abuse held connections" 400 "$(abuse_count slowloris 'j["max_open"]')"
more_than "slowloris: the server closed slow requests" 0 "$(abuse_count slowloris 'j["closed_by_server"]')"
under slowbody 10 64
more_than "slowbody: the server closed slow bodies" 0 "$(abuse_count slowbody 'j["closed_by_server"]')"
under idle 10 64
more_than "idle: the server closed silent connections" 0 "$(abuse_count idle 'j["closed_by_server"]')"
under flood 4 8
more_than "flood: connections were made" 100 "$(abuse_count flood 'j["opened"]')"
under bigheaders 4 8
more_than "bigheaders: oversized headers were answered 431" 0 \
	"$(abuse_count bigheaders 'j["status"].get("431", 0)')"
# "none": no status line read. The server answers 431 and closes while
# the client may still be sending its 256 kB; closing with bytes unread
# resets the connection, and a reset can discard the answer before the
# client reads it. How often depends on the machine's load, not on the
# server: 9 of 1,669 under the sanitizers on one machine, 1,587 of 2,455
# on another while the suite loaded it, none on that machine alone. Never
# any other status: no oversized request is ever served. That 431 is the
# answer, not a reset, is checked on the quiet server below.
check "bigheaders: never an answer but 431" 0 \
	"$(abuse_count bigheaders 'sum(v for k, v in j["status"].items() if k not in ("431", "none"))')"
under chunked 4 4
more_than "chunked: endless bodies were cut off" 0 "$(abuse_count chunked 'j["closed_by_server"]')"

expect_rc "the laptop syncs after the abuse" 0 cb a sync

# Oversized headers from one client at a time, the server otherwise idle:
# answered 431 more often than reset (in runs here, loaded or not, never
# reset at all), and never anything else.
python3 "$ABUSE" bigheaders "$PORT" 1 1 2 >"$T/abuse.quiet" 2>&1
more_than "one client's oversized headers: answered 431" 10 \
	"$(abuse_count quiet 'j["status"].get("431", 0)')"
check "one client's oversized headers: never an answer but 431" 0 \
	"$(abuse_count quiet 'sum(v for k, v in j["status"].items() if k not in ("431", "none"))')"
more_than "one client's oversized headers: answered 431 more often than reset" 0 \
	"$(abuse_count quiet 'j["status"].get("431", 0) - j["status"].get("none", 0)')"
"$CBD" dump --data "$D" 2>/dev/null | grep -c "VAS" >/dev/null
expect_rc "the laptop's store is whole" 0 cb a store check
stop_server
check "every value recorded during the abuse reached the server" "$VAS" \
	"$("$CBD" dump --data "$D" --canonical 2>/dev/null | python3 -c 'import sys,re
vals=[int(m.group(1)) for m in re.finditer(r"VAS[^0-9]*([0-9]+)", sys.stdin.read())]
print(max(vals) if vals else "")')"
if grep -q '"slow requests closed"' "$T/server.log"; then
	pass "the server logs the slow requests it closed"
else
	fail "the server logs the slow requests it closed" "$(grep -v '"request"' "$T/server.log" | tail -3)"
fi

# --max-per-ip: the connections one address may hold. Six silent
# connections from one address for two seconds: none closed under the
# default 64, the ones past 3 closed at once under --max-per-ip 3 (the
# guard's own deadline is 10 s away either way).
expect_rc "--max-per-ip 0 is a usage error" 2 "$CBD" serve --data "$D" \
	--listen "127.0.0.1:$PORT" --max-per-ip 0
expect_out "--max-per-ip 0: the message names the option" "--max-per-ip"
expect_rc "--max-per-ip over 512 is a usage error" 2 "$CBD" serve --data "$D" \
	--listen "127.0.0.1:$PORT" --max-per-ip 513
"$CBD" serve --help >"$T/out" 2>&1
expect_out "serve --help documents --max-per-ip" "--max-per-ip N"
start_server || finish
python3 "$ABUSE" idle "$PORT" 1 6 2 >"$T/abuse.idle" 2>&1
check "default: six connections from one address are kept" 0 \
	"$(abuse_count idle 'j["closed_by_server"]')"
stop_server
start_server --max-per-ip 3 || finish
python3 "$ABUSE" idle "$PORT" 1 6 2 >"$T/abuse.idle" 2>&1
more_than "--max-per-ip 3: the connections past 3 are closed" 2 \
	"$(abuse_count idle 'j["closed_by_server"]')"
expect_rc "--max-per-ip 3: a laptop at another address syncs" 0 cb a sync
stop_server

finish
