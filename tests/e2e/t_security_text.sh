#!/bin/sh
# t_security_text.sh - hostile text in every text field that reaches a
# store (docs/SECURITY.md), on a real casebookd and real laptops:
#
#   1. SQL metacharacters (quotes, comment marks, LIKE and glob wildcards,
#      backslashes, shell syntax) in an AE term (a value), a change
#      reason, a query's text and its answer, a person's full name and a
#      site's name: stored and read back byte for byte, on the laptop that
#      wrote them, on the server and on another laptop after sync. In
#      names and codes (user names, site codes, subject ids, device ids,
#      query arguments of the API) they are refused with a message.
#   2. Control characters (ESC, tab, line breaks, DEL, a C1 control, NUL
#      through the API) and bidirectional and line separator characters
#      in each of those text fields, on the laptop and on the server
#      (signed pushes of a raw device): refused with a message naming the
#      character, nothing stored.
#   3. Very long values: at each field's limit stored exactly (200
#      Korean characters, a 4096-byte reason, a 4000-byte query), one
#      over refused with the limit named, 100 kB arguments refused, a
#      70 kB value in a signed push rejected; nothing stored by a refusal.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
[ -x "$U" ] || {
	fail "signing client" "test_reqsig not built"
	finish
}
export CASEBOOK_PASSPHRASE=text-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server

SQLV="O'Brien\"; DROP TABLE events;-- %_*?[\\] \`id\` \$(id) /* x */ ' OR '1'='1"
export SQLV

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people pa:coordinator:KR01 pdm:datamanager rawrk:coordinator:KR01 rawrdm:datamanager
start_server || finish
cb a init --server "$URL" --token "$(token_for pa coordinator KR01)" --user pa \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"
cb dm init --server "$URL" --token "$(token_for pdm datamanager)" --user pdm \
	>/dev/null 2>"$T/err" || fail "laptop dm" "$(cat "$T/err")"

# Raw signed devices (test_reqsig): key in k.NAME, id in dev.NAME.
raw() { # NAME USER
	_pk=$("$U" client keygen "k.$1") || return 1
	printf '{"token":"%s","public_key":"%s","user":"%s"}' \
		"$("$CBD" token create --data "$D" --user "$2" 2>/dev/null)" "$_pk" "$2" >reg.json
	curl -s -o reg.out -X POST --data-binary @reg.json "$URL/v1/register"
	jget reg.out 'j["device"]' >"dev.$1"
}
raw rk rawrk
raw rdm rawrdm
# sreq NAME METHOD PATH QUERY [BODYFILE]: a signed request; $code, resp.
sreq() {
	_url="$URL$3"
	[ -n "$4" ] && _url="$_url?$4"
	# shellcheck disable=SC2086
	"$U" client headers "k.$1" "$(cat "dev.$1")" "$2" "$3" "$4" ${5:-} >hdr || return 1
	code=$(curl -s -o resp -w '%{http_code}' -X "$2" \
		-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
		-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" \
		-H 'Content-Type: application/json' ${5:+--data-binary @"$5"} "$_url")
}
ev() { # NAME SITE USER SUBJECT KIND VISIT FORM INSTANCE ARGS...
	_n=$1
	shift
	"$U" client event "k.$_n" "$(cat "dev.$_n")" "$@"
}
push() { # NAME EVENT: one event in one push; $code, resp
	printf '{"events":[%s]}' "$2" >push.json
	sreq "$1" POST /v1/sync/push "" push.json
}
result() { jget resp "j['results'][0]['status'] + ':' + str(j['results'][0].get('code'))"; }
nev_server() { "$CBD" status --data "$D" 2>/dev/null | sed -n 's/^events *\([0-9]*\).*/\1/p'; }
nev_laptop() { cb "$1" store check 2>/dev/null | sed -n 's/^events \([0-9]*\) .*/\1/p'; }
# same NAME FILE EXPR ENVVAR: the JSON value EXPR of FILE equals $ENVVAR
# byte for byte.
same() {
	if python3 -c 'import json,os,sys
j=json.load(open(sys.argv[1]))
v=eval(sys.argv[2])
sys.exit(0 if v == os.environ[sys.argv[3]] else 1)' "$2" "$3" "$4" 2>"$T/same.err"; then
		pass "$1"
	else
		fail "$1" "$(jget "$2" "$3" | head -c 300) $(head -c 200 "$T/same.err")"
	fi
}
syncall() { cb a sync >/dev/null 2>&1 && cb dm sync >/dev/null 2>&1 && cb a sync >/dev/null 2>&1; }

S=$(cb a subject add 2>/dev/null)
cb a form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "enroll" "form set failed"
cb a form set "$S" BL VAS VAS=40 >/dev/null 2>&1
syncall || fail "first sync" "failed"
tables() { sqlite3 "$D/casebookd.db" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type='table' ORDER BY name)"; }
TABLES=$(tables)

# ---- 1. SQL metacharacters ---------------------------------------------------

expect_rc "an AE term of SQL metacharacters is saved" 0 \
	cb a ae add "$S" "AETERM=$SQLV" AESTDTC=2026-02-01
expect_rc "a reason of SQL metacharacters is saved" 0 \
	cb a form set "$S" BL VAS VAS=41 --reason "$SQLV"
cb a form show "$S" LOG AE#1 --json >ae.a.json 2>&1
same "the AE term reads back exactly on the laptop" ae.a.json \
	'[i["value"] for i in j["items"] if i["item"]=="AETERM"][0]' SQLV
syncall || fail "sync" "after the saves"
cb dm form show "$S" LOG AE#1 --json >ae.dm.json 2>&1
same "the AE term reads back exactly on another laptop" ae.dm.json \
	'[i["value"] for i in j["items"] if i["item"]=="AETERM"][0]' SQLV
cb dm form show "$S" BL VAS --history --json >vas.dm.json 2>&1
same "the reason reads back exactly on another laptop" vas.dm.json \
	'[h["reason"] for h in j["history"] if h.get("value") == "41"][0]' SQLV
"$CBD" dump --data "$D" >dump.txt 2>&1
# The dump escapes tab, newline and backslash in its columns.
if python3 -c 'import os,sys
want = os.environ["SQLV"]
def unesc(f):
    out, i = [], 0
    while i < len(f):
        if f[i] == "\\" and i + 1 < len(f):
            out.append({"t": "\t", "n": "\n"}.get(f[i + 1], f[i + 1]))
            i += 2
        else:
            out.append(f[i])
            i += 1
    return "".join(out)
sys.exit(0 if any(unesc(c) == want for l in open(sys.argv[1])
                  for c in l.rstrip("\n").split("\t")) else 1)' dump.txt; then
	pass "the server holds the AE term exactly"
else
	fail "the server holds the AE term exactly" "not in casebookd dump"
fi
expect_rc "a query text of SQL metacharacters is opened" 0 \
	cb dm query open "$S" BL VAS VAS --text "$SQLV"
Q=$(sed -n 's/^query \([0-9a-f]*\) .*/\1/p' "$T/out")
syncall
cb a query list --json >q.a.json 2>&1
same "the query text reads back exactly at the site" q.a.json \
	'[q["text"] for q in j["queries"] if q["id"]=="'"$Q"'"][0]' SQLV
expect_rc "an answer of SQL metacharacters is recorded" 0 \
	cb a query answer "$Q" --text "$SQLV"
syncall
cb dm query list --json >q.dm.json 2>&1
same "the answer reads back exactly centrally" q.dm.json \
	'[q["answer"] for q in j["queries"] if q["id"]=="'"$Q"'"][0]' SQLV
expect_rc "a full name of SQL metacharacters is registered" 0 \
	"$CBD" user add --data "$D" pq --full-name "$SQLV" --role coordinator --site KR01
"$CBD" user list --data "$D" >users.txt 2>&1
if grep -qxF -- "pq	KR01	coordinator	enabled	$SQLV" users.txt; then
	pass "the full name reads back exactly in user list"
else
	fail "the full name reads back exactly in user list" "$(grep '^pq' users.txt)"
fi
sreq rk GET /v1/users ""
same "the full name reads back exactly through GET /v1/users" resp \
	'[u["full_name"] for u in j["users"] if u["name"]=="pq"][0]' SQLV
expect_rc "a site name of SQL metacharacters is added" 0 \
	"$CBD" site add --data "$D" KR02 --name "$SQLV"
"$CBD" site list --data "$D" >sites.txt 2>&1
if grep -qxF -- "KR02	$SQLV" sites.txt; then
	pass "the site name reads back exactly"
else
	fail "the site name reads back exactly" "$(grep '^KR02' sites.txt)"
fi

# Names and codes: refused, with a message.
BADN="pa' OR '1'='1"
expect_rc "casebookd user add: a user name with a quote is refused" 2 \
	"$CBD" user add --data "$D" "$BADN" --full-name X --role coordinator --site KR01
expect_out "it says the name is bad" "bad user name"
expect_rc "casebookd site add: a site code with a quote is refused" 2 \
	"$CBD" site add --data "$D" "KR01'--" --name X
expect_rc "casebookd token create: a user name with a quote is refused" 2 \
	"$CBD" token create --data "$D" --user "$BADN"
expect_rc "casebookd device revoke: an id with a quote matches nothing" 1 \
	"$CBD" device revoke --data "$D" "x' OR 1=1 --"
expect_out "it says the device is unknown" "unknown device"
check "no device was revoked" 0 "$("$CBD" device list --data "$D" 2>/dev/null | grep -c revoked)"
expect_rc "casebook user add: a name with a quote is refused" 2 \
	cb a user add "$BADN" --role coordinator
expect_rc "casebook subject show: an id with a quote is unknown" 1 \
	cb a subject show "$S' OR 1=1 --"
expect_out "it says the subject is unknown" "unknown subject"
expect_rc "casebook form set: an item with a quote is unknown" 3 \
	cb a form set "$S" BL VAS "VAS'--=1"
printf '{"token":"%s","public_key":"%s","user":"%s"}' \
	"$("$CBD" token create --data "$D" --user pa 2>/dev/null)" \
	"$("$U" client keygen k.x)" "$BADN" >reg.json
code=$(curl -s -o resp -w '%{http_code}' -X POST --data-binary @reg.json "$URL/v1/register")
check "registration with a quoted user name: 400" 400 "$code"
check "it is a JSON error" invalid_request "$(jget resp 'j["error"]["code"]')"
sreq rk GET /v1/sync/pull "since=0%27%20OR%201=1"
check "pull with a quoted cursor: 400" 400 "$code"
sreq rk GET /v1/queries "status=open%27%20OR%201=1"
check "queries with a quoted status: 400" 400 "$code"
check "the server database is intact" ok \
	"$(sqlite3 "$D/casebookd.db" 'PRAGMA integrity_check' 2>&1)"
check "its tables are all there" "$TABLES" "$(tables)"

# ---- 2. control characters --------------------------------------------------------

ESC=$(printf '\033')
TAB=$(printf '\t')
NL=$(printf 'a\nb')
CR=$(printf '\r')
DEL=$(printf '\177')
C1=$(printf '\302\205')
RLO=$(printf '\342\200\256')
LSEP=$(printf '\342\200\250')
RLM=$(printf '\342\200\217')
LRI=$(printf '\342\201\246')
NA=$(nev_laptop a)
NDM=$(nev_laptop dm)
NS=$(nev_server)
n=0
for spec in "ESC:$ESC:control character" "TAB:$TAB:control character" \
	"NL:$NL:line break" "CR:$CR:line break" "DEL:$DEL:control character" \
	"C1:$C1:control character" "U+202E:$RLO:bidirectional" \
	"U+2028:$LSEP:line" "U+200F:$RLM:bidirectional" "U+2066:$LRI:bidirectional"; do
	name=${spec%%:*} rest=${spec#*:}
	c=${rest%%:*} why=${rest#*:}
	v="x${c}y"
	cb a ae add "$S" "AETERM=$v" AESTDTC=2026-02-01 >"$T/out" 2>"$T/err"
	check "$name in a value: refused (exit 3)" 3 "$?"
	expect_out "$name in a value: the message says why" "$why"
	cb a form set "$S" BL VAS VAS=42 --reason "$v" >"$T/out" 2>"$T/err"
	check "$name in a reason: refused (exit 3)" 3 "$?"
	expect_out "$name in a reason: the message says why" "$why"
	cb dm query open "$S" BL VAS VAS --text "$v" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && pass "$name in a query text: refused" ||
		fail "$name in a query text: refused" "exit 0"
	expect_out "$name in a query text: the message says why" "$why"
	cb a query answer "$Q" --text "$v" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && pass "$name in an answer: refused" ||
		fail "$name in an answer: refused" "exit 0"
	expect_out "$name in an answer: the message says why" "$why"
	n=$((n + 1))
	expect_rc "$name in a full name: refused" 2 \
		"$CBD" user add --data "$D" "pc$n" --full-name "$v" --role coordinator --site KR01
	expect_out "$name in a full name: the message says why" "$why"
	expect_rc "$name in a site name: refused" 2 "$CBD" site add --data "$D" KR09 --name "$v"
	expect_out "$name in a site name: the message says why" "$why"
	expect_rc "$name in a disable reason: refused" 2 "$CBD" user disable --data "$D" pq --reason "$v"
	push rk "$(ev rk KR01 rawrk "$S" form.save LOG AE 7 "AETERM=$v" AESTDTC=2026-02-01)"
	check "$name in a pushed value: rejected" "rejected:invalid" "$(result)"
	push rk "$(ev rk KR01 rawrk "$S" form.save BL VAS "" VAS=43 --reason "$v")"
	check "$name in a pushed reason: rejected" "rejected:invalid" "$(result)"
	push rdm "$(ev rdm KR01 rawrdm "$S" query.open BL VAS "" --data item=VAS --data "text=$v")"
	check "$name in a pushed query text: rejected" "rejected:invalid" "$(result)"
done
check "nothing was stored on the laptop" "$NA" "$(nev_laptop a)"
check "nothing was stored on the data manager's laptop" "$NDM" "$(nev_laptop dm)"
check "nothing was stored on the server" "$NS" "$(nev_server)"
check "no person was registered" 0 "$("$CBD" user list --data "$D" | grep -c '^pc')"
check "no site was added" 0 "$("$CBD" site list --data "$D" | grep -c '^KR09')"
check "the person was not disabled" 1 "$("$CBD" user list --data "$D" | grep -c '^pq.*enabled')"
# A name stored before the rule (written into the database directly) is
# shown escaped: its newline cannot forge a row of the listing.
sqlite3 "$D/casebookd.db" "INSERT INTO sites(code, name, created_ms) VALUES('KR88', 'old' || char(10) || 'KR77' || char(9) || 'forged' || char(27) || '[2J', 0)"
"$CBD" site list --data "$D" >sites.txt 2>&1
check "an old site name cannot forge a row" 0 "$(grep -c '^KR77' sites.txt)"
check "it is shown escaped" 1 "$(grep -cxF 'KR88	old\nKR77\tforged\x1b[2J' sites.txt)"
# NUL cannot be an argument; through the API it is refused at parsing.
E=$(ev rk KR01 rawrk "$S" form.save LOG AE 7 AETERM=xNULy AESTDTC=2026-02-01)
printf '{"events":[%s]}' "$E" | sed 's/xNULy/x\\u0000y/' >push.json
sreq rk POST /v1/sync/push "" push.json
check "NUL in a pushed value: 400" 400 "$code"
check "it is called invalid JSON" invalid_json "$(jget resp 'j["error"]["code"]')"
check "the message names the NUL" 1 "$(jget resp 'int("NUL" in j["error"]["message"])')"

# ---- 3. very long values ------------------------------------------------------------

KO200=$(python3 -c 'print("무릎" * 100)')
export KO200
expect_rc "an AE term of 200 Korean characters (600 bytes) is saved" 0 \
	cb a ae add "$S" "AETERM=$KO200" AESTDTC=2026-02-02
cb a form show "$S" LOG AE#2 --json >ae2.json 2>&1
same "it reads back exactly" ae2.json \
	'[i["value"] for i in j["items"] if i["item"]=="AETERM"][0]' KO200
L201=$(python3 -c 'print("x" * 201)')
expect_rc "an AE term of 201 characters is refused (exit 3)" 3 \
	cb a ae add "$S" "AETERM=$L201" AESTDTC=2026-02-02
expect_out "it names the limit" "over the limit of 200"
R4096=$(python3 -c 'print("r" * 4095 + "!")')
export R4096
expect_rc "a 4096-byte reason is saved" 0 cb a form set "$S" BL VAS VAS=44 --reason "$R4096"
expect_rc "a 4097-byte reason is refused (exit 3)" 3 \
	cb a form set "$S" BL VAS VAS=45 --reason "${R4096}x"
expect_out "it names the limit" "over the limit of 4096"
Q4000=$(python3 -c 'print("q" * 3999 + "?")')
export Q4000
expect_rc "a 4000-byte query text is opened" 0 cb dm query open "$S" BL VAS VAS --text "$Q4000"
expect_rc "a 4001-byte query text is refused (exit 2)" 2 \
	cb dm query open "$S" BL VAS VAS --text "${Q4000}x"
expect_out "it names the limit" "1 to 4000 bytes"
syncall || fail "sync" "after the long values"
cb dm form show "$S" BL VAS --history --json >vas2.json 2>&1
same "the 4096-byte reason reads back exactly on another laptop" vas2.json \
	'[h["reason"] for h in j["history"] if h.get("value") == "44"][0]' R4096
cb a query list --json >q2.json 2>&1
same "the 4000-byte query reads back exactly at the site" q2.json \
	'[q["text"] for q in j["queries"] if len(q["text"]) == 4000][0]' Q4000
F200=$(python3 -c 'print("f" * 200)')
expect_rc "a 200-byte full name is registered" 0 \
	"$CBD" user add --data "$D" pl --full-name "$F200" --role coordinator --site KR01
expect_rc "a 201-byte full name is refused" 2 \
	"$CBD" user add --data "$D" pl2 --full-name "${F200}f" --role coordinator --site KR01
expect_out "it names the limit" "at most 200 bytes"
expect_rc "a 200-byte site name is added" 0 "$CBD" site add --data "$D" KR03 --name "$F200"
expect_rc "a 201-byte site name is refused" 2 "$CBD" site add --data "$D" KR04 --name "${F200}f"
expect_rc "a 64-character user name is registered" 0 "$CBD" user add --data "$D" \
	"$(python3 -c 'print("u" * 64)')" --full-name X --role coordinator --site KR01
expect_rc "a 65-character user name is refused" 2 "$CBD" user add --data "$D" \
	"$(python3 -c 'print("u" * 65)')" --full-name X --role coordinator --site KR01
NA=$(nev_laptop a)
NDM=$(nev_laptop dm)
NS=$(nev_server)
BIG=$(python3 -c 'print("z" * 100000)')
expect_rc "a 100 kB value is refused (exit 3)" 3 cb a ae add "$S" "AETERM=$BIG" AESTDTC=2026-02-03
expect_rc "a 100 kB reason is refused (exit 3)" 3 cb a form set "$S" BL VAS VAS=46 --reason "$BIG"
expect_rc "a 100 kB query text is refused (exit 2)" 2 cb dm query open "$S" BL VAS VAS --text "$BIG"
expect_rc "a 100 kB answer is refused" 2 cb a query answer "$Q" --text "$BIG"
expect_rc "a 100 kB full name is refused" 2 \
	"$CBD" user add --data "$D" pb --full-name "$BIG" --role coordinator --site KR01
expect_rc "a 100 kB site name is refused" 2 "$CBD" site add --data "$D" KR05 --name "$BIG"
expect_rc "a 100 kB subject id is refused" 1 cb a subject show "$BIG"
# The signing client refuses to make such an event; a signed one is
# made longer (the server parses before it checks the signature).
ev rk KR01 rawrk "$S" form.save LOG AE 8 AETERM=short AESTDTC=2026-02-03 |
	python3 -c 'import sys
print("{\"events\":[%s]}" % sys.stdin.read().strip().replace("\"short\"", "\"" + "v" * 70000 + "\""))' >push.json
sreq rk POST /v1/sync/push "" push.json
check "a pushed 70 kB value: rejected" "rejected:invalid" "$(result)"
check "it names the limit" 1 "$(jget resp 'int("65536" in j["results"][0]["reason"])')"
check "no refusal stored anything on the laptop" "$NA" "$(nev_laptop a)"
check "or on the data manager's laptop" "$NDM" "$(nev_laptop dm)"
check "or on the server" "$NS" "$(nev_server)"
expect_rc "the laptop's store is whole" 0 cb a store check
expect_rc "the data manager's store is whole" 0 cb dm store check

finish
