#!/bin/sh
# casebook query end to end: a real casebookd on loopback, a site
# coordinator's laptop, a data manager's and a statistician's device.
# The data manager opens a query, it reaches the site at its next sync,
# the site answers, the data manager closes it, and every replica shows
# the same query (same id, status, answer); roles that may not open,
# answer or close are refused with exit 4 and nothing recorded.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=query-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""

stop_server() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
	return 0
}
at_exit stop_server

# check NAME WANT GOT

# jq_py FILE EXPR: a Python expression on the JSON in FILE (as j).
jq_py() {
	python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people kim:coordinator:KR01 dana:datamanager stan:statistician mona:monitor
tok() { "$CBD" token create --data "$D" "$@" 2>/dev/null; }
TC=$(tok --site KR01 --role coordinator)
TD=$(tok --role datamanager)
TS=$(tok --role statistician)
TM=$(tok --role monitor)
"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" 2>"$T/server.log" &
SRV_PID=$!
i=0
until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 200 ] && break
	sleep 0.05
done

SITE="$T/site" DM="$T/dm" ST="$T/stat" MON="$T/mon"
expect_rc "site laptop registers" 0 "$CB" --home "$SITE" init --server "$URL" --token "$TC" --user kim
expect_rc "data manager registers" 0 "$CB" --home "$DM" init --server "$URL" --token "$TD" --user dana
expect_rc "statistician registers" 0 "$CB" --home "$ST" init --server "$URL" --token "$TS" --user stan
expect_rc "monitor registers" 0 "$CB" --home "$MON" init --server "$URL" --token "$TM" --user mona

expect_rc "query --help" 0 "$CB" query --help
expect_out "help names the subcommands" "casebook query answer ID --text TEXT"
expect_rc "query without a subcommand is a usage error" 2 "$CB" --home "$DM" query
expect_rc "unknown subcommand" 2 "$CB" --home "$DM" query frobnicate x
expect_rc "query open without --text" 2 "$CB" --home "$DM" query open S SCR DM HEIGHT
expect_rc "query open with too few arguments" 2 "$CB" --home "$DM" query open S --text x
expect_rc "query answer without --text" 2 "$CB" --home "$SITE" query answer abcdef
expect_rc "query list on an empty device" 0 "$CB" --home "$DM" query list
expect_out "an empty list says so" "No queries."

S=$("$CB" --home "$SITE" subject add 2>/dev/null)
expect_rc "site enters demographics" 0 "$CB" --home "$SITE" form set "$S" SCR DM \
	CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=162 WEIGHT=70 KNEE=R
expect_rc "a coordinator may not open a query" 4 "$CB" --home "$SITE" query open "$S" SCR DM HEIGHT --text "?"
expect_out "the refusal names the role" "kim is a coordinator"
expect_rc "site syncs" 0 "$CB" --home "$SITE" sync
expect_rc "data manager pulls" 0 "$CB" --home "$DM" sync
expect_out "the data manager received the site's events" "pulled 2 events, 2 new"

expect_rc "unknown subject" 1 "$CB" --home "$DM" query open KR01-09999 SCR DM HEIGHT --text x
expect_out "the unknown subject is named" "unknown subject 'KR01-09999'"
expect_rc "unknown visit" 1 "$CB" --home "$DM" query open "$S" ZZZ DM HEIGHT --text x
expect_rc "unknown item" 1 "$CB" --home "$DM" query open "$S" SCR DM SHOESIZE --text x
expect_out "the form's items are listed" "HEIGHT"
printf '\377\376' >"$T/bad"
expect_rc "invalid UTF-8 text" 2 "$CB" --home "$DM" query open "$S" SCR DM HEIGHT --text "$(cat "$T/bad")"

expect_rc "data manager opens a query" 0 "$CB" --home "$DM" query open "$S" SCR DM height \
	--text "Height 162 cm: please confirm against the source"
Q=$(sed -n 's/^query \([0-9a-f]\{32\}\) opened on .*/\1/p' "$T/out")
check "open prints the new query id" 32 "${#Q}"
expect_out "open names the target in protocol codes" "opened on $S SCR DM HEIGHT"
expect_rc "data manager lists it" 0 "$CB" --home "$DM" query list
expect_out "list shows id and status" "$Q  open"
expect_out "list shows the question" "Q: Height 162 cm: please confirm"
expect_rc "the site does not have it before syncing" 0 "$CB" --home "$SITE" query list
expect_out "the site has no query yet" "No queries."

expect_rc "data manager syncs" 0 "$CB" --home "$DM" sync
expect_out "the query is pushed and accepted" "1 accepted, 0 already there, 0 rejected"
expect_rc "site syncs again" 0 "$CB" --home "$SITE" sync
expect_rc "site lists the query (json)" 0 "$CB" --home "$SITE" query list --json
cp "$T/out" "$T/site.json"
check "the site has the same query id" "$Q" "$(jq_py "$T/site.json" 'j["queries"][0]["id"]')"
check "the query is open at the site" open "$(jq_py "$T/site.json" 'j["queries"][0]["status"]')"
check "the query names the item" HEIGHT "$(jq_py "$T/site.json" 'j["queries"][0]["item"]')"
check "the query names who opened it" dana "$(jq_py "$T/site.json" 'j["queries"][0]["opened_by"]')"
expect_rc "site status" 0 "$CB" --home "$SITE" status
expect_out "status lists the open query" "[$Q, open]"

expect_rc "statistician pulls" 0 "$CB" --home "$ST" sync
expect_rc "a statistician may not answer" 4 "$CB" --home "$ST" query answer "$Q" --text no
expect_rc "a coordinator may not close" 4 "$CB" --home "$SITE" query close "$Q"
expect_rc "too short an id prefix" 1 "$CB" --home "$SITE" query answer abc --text x
expect_rc "an unknown id" 1 "$CB" --home "$SITE" query answer ffffffffffff --text x
expect_out "unknown id is named" "no query 'ffffffffffff'"
P=$(printf '%s' "$Q" | cut -c1-8)
expect_rc "site answers by id prefix" 0 "$CB" --home "$SITE" query answer "$P" \
	--text "Confirmed: 162 cm in the source document"
expect_out "answer confirms" "query $Q on $S SCR DM HEIGHT answered"
expect_rc "site list shows the answer" 0 "$CB" --home "$SITE" query list
expect_out "answered status" "$Q  answered"
expect_out "answer text and who" "A: Confirmed: 162 cm in the source document (kim)"
expect_rc "site syncs the answer" 0 "$CB" --home "$SITE" sync
expect_rc "data manager pulls the answer" 0 "$CB" --home "$DM" sync
expect_rc "data manager sees the answer" 0 "$CB" --home "$DM" query list --json
cp "$T/out" "$T/dm.json"
check "answered at the data manager" answered "$(jq_py "$T/dm.json" 'j["queries"][0]["status"]')"
check "the answer text arrived" "Confirmed: 162 cm in the source document" \
	"$(jq_py "$T/dm.json" 'j["queries"][0]["answer"]')"
check "answered by kim" kim "$(jq_py "$T/dm.json" 'j["queries"][0]["answered_by"]')"

expect_rc "data manager closes it" 0 "$CB" --home "$DM" query close "$Q" --text "Thank you"
expect_out "close confirms" "closed"
expect_rc "a closed query is not in the default list" 0 "$CB" --home "$DM" query list
expect_no_out "closed query not listed" "$Q"
expect_rc "query list --all" 0 "$CB" --home "$DM" query list --all
expect_out "--all lists the closed query" "$Q  closed"
expect_rc "a closed query cannot be answered" 1 "$CB" --home "$DM" query answer "$Q" --text late
expect_out "closed is explained" "is closed"

# A monitor opens and closes a second query without an answer.
expect_rc "monitor pulls" 0 "$CB" --home "$MON" sync
expect_rc "monitor opens a query" 0 "$CB" --home "$MON" query open "$S" SCR DM WEIGHT --text "Weight?"
Q2=$(sed -n 's/^query \([0-9a-f]\{32\}\) opened on .*/\1/p' "$T/out")
expect_rc "monitor closes it unanswered" 0 "$CB" --home "$MON" query close "$Q2"

for h in DM MON SITE DM SITE MON; do
	eval "home=\$$h"
	"$CB" --home "$home" sync >/dev/null 2>&1 || fail "sync $h" "exit $?"
done
expect_rc "site status after the close" 0 "$CB" --home "$SITE" status
expect_out "no open query at the site" "Open queries:       0"
expect_rc "site --all shows both queries closed" 0 "$CB" --home "$SITE" query list --all --json
cp "$T/out" "$T/all.json"
check "two queries at the site" 2 "$(jq_py "$T/all.json" 'len(j["queries"])')"
check "both closed" "closed closed" "$(jq_py "$T/all.json" '" ".join(q["status"] for q in j["queries"])')"

"$CB" --home "$SITE" dump >"$T/site.dump" 2>"$T/err"
"$CB" --home "$DM" dump >"$T/dm.dump" 2>>"$T/err"
"$CB" --home "$MON" dump >"$T/mon.dump" 2>>"$T/err"
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.dump" 2>>"$T/err"
if [ -s "$T/site.dump" ] && cmp -s "$T/site.dump" "$T/srv.dump" &&
	cmp -s "$T/dm.dump" "$T/srv.dump" && cmp -s "$T/mon.dump" "$T/srv.dump"; then
	pass "site, data manager, monitor and server hold the same record"
else
	fail "same record everywhere" "dumps differ: $(diff "$T/site.dump" "$T/srv.dump" | head -5)"
fi
grep -q "^query $Q event closed .* answers 1 " "$T/srv.dump" &&
	pass "the server derived the query closed with one answer" ||
	fail "server query state" "$(grep "^query" "$T/srv.dump")"
"$CBD" status --data "$D" >"$T/out" 2>&1
expect_no_out "nothing was rejected" "rejected"

finish
