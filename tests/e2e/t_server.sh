#!/bin/sh
# casebookd end to end: the admin commands, then a real server on a free
# loopback port driven by curl(1) as an independent client. Signed
# requests and signed events come from the small signing client in
# tests/unit/test_reqsig.c ("test_reqsig client ..."), since curl cannot
# sign. Covers registration and tokens, signed push and pull, site
# isolation, replay, skew, bad signatures, revocation, malformed input,
# body limits, clean shutdown, rebuild, and that no token reaches the
# data directory or the log.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
if [ ! -x "$U" ]; then
	fail "signing client" "test_reqsig not built (set CASEBOOK_UNIT)"
	finish
fi
command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}

D="$T/data"
LOG="$T/server.log"

# jget FILE PYEXPR: evaluate a Python expression on the JSON in FILE (j).
# check NAME WANT GOT

# ---- admin commands ------------------------------------------------------

expect_rc "init creates the store" 0 "$CBD" init --data "$D" --protocol "$PROTO"
expect_out "init names the study" "knee-oa-msc"
expect_rc "init refuses an existing store" 1 "$CBD" init --data "$D" --protocol "$PROTO"
expect_out "init says the store exists" "already holds a central store"
printf '{"format":"casebook-protocol/1"' >"$T/bad.json"
expect_rc "init refuses a broken protocol" 1 "$CBD" init --data "$T/d2" --protocol "$T/bad.json"
if [ -e "$T/d2/casebookd.db" ]; then
	fail "a refused init leaves no store" "casebookd.db exists"
else
	pass "a refused init leaves no store"
fi
expect_rc "init without --protocol is a usage error" 2 "$CBD" init --data "$T/d3"

expect_rc "site add" 0 "$CBD" site add --data "$D" KR01 --name "Seoul"
expect_rc "site add a second site" 0 "$CBD" site add --data "$D" DE02 --name "Berlin"
expect_rc "site add refuses a duplicate" 1 "$CBD" site add --data "$D" KR01 --name "again"
expect_out "duplicate site is named" "site KR01 already exists"
expect_rc "site add refuses a bad code" 2 "$CBD" site add --data "$D" kr-1 --name x
expect_rc "site add needs --name" 2 "$CBD" site add --data "$D" FR03
expect_rc "site list" 0 "$CBD" site list --data "$D"
expect_out "site list shows sites" "DE02	Berlin"

expect_rc "token for a site role needs --site" 2 "$CBD" token create --data "$D" --role coordinator
expect_rc "central role takes no --site" 2 "$CBD" token create --data "$D" --role datamanager --site KR01
expect_rc "unknown role" 2 "$CBD" token create --data "$D" --role janitor
expect_rc "bad --ttl" 2 "$CBD" token create --data "$D" --role monitor --ttl 5y
expect_rc "token for an unknown site" 1 "$CBD" token create --data "$D" --site FR03 --role coordinator
expect_out "unknown site is named" "no site FR03"

# ---- people ------------------------------------------------------------------

expect_rc "user add" 0 "$CBD" user add --data "$D" alice --full-name "Alice Kim" --role coordinator --site KR01
expect_out "user add says who was added" "added user alice (coordinator at KR01)"
expect_rc "user add refuses a taken name" 1 "$CBD" user add --data "$D" alice --full-name "Alice Two" --role coordinator --site KR01
expect_out "the taken name is named" "user alice already exists"
expect_rc "user add: a site role needs --site" 2 "$CBD" user add --data "$D" zed --full-name Zed --role investigator
expect_rc "user add: a central role takes no --site" 2 "$CBD" user add --data "$D" zed --full-name Zed --role dsmb --site KR01
expect_rc "user add: unknown role" 2 "$CBD" user add --data "$D" zed --full-name Zed --role janitor
expect_rc "user add: unknown site" 1 "$CBD" user add --data "$D" zed --full-name Zed --role coordinator --site FR03
expect_out "the unknown site is named" "unknown site FR03"
expect_rc "user add: a full name is required" 2 "$CBD" user add --data "$D" zed --role dsmb
expect_rc "user add: a blank full name is refused" 2 "$CBD" user add --data "$D" zed --full-name "   " --role dsmb
expect_rc "user add: control characters in the full name are refused" 2 \
	"$CBD" user add --data "$D" zed --full-name "$(printf 'Zed\033[2J')" --role dsmb
expect_rc "user add: a bad user name is refused" 2 "$CBD" user add --data "$D" "zed kim" --full-name Zed --role dsmb
expect_rc "user --help" 0 "$CBD" user add --help
expect_out "user --help shows the usage" "casebookd user add --data DIR NAME"
"$CBD" user add --data "$D" bob --full-name "Bob Lee" --role investigator --site KR01 >/dev/null
"$CBD" user add --data "$D" carla --full-name "Carla Weber" --role coordinator --site DE02 >/dev/null
"$CBD" user add --data "$D" dora --full-name "Dora Park" --role datamanager >/dev/null
"$CBD" user add --data "$D" eve --full-name "Eve Cho" --role coordinator --site KR01 >/dev/null
"$CBD" user add --data "$D" lena --full-name "Lena Roth" --role lab >/dev/null
"$CBD" user add --data "$D" gone --full-name "Gus One" --role coordinator --site KR01 >/dev/null
expect_rc "user disable needs a reason" 2 "$CBD" user disable --data "$D" gone
expect_rc "user disable" 0 "$CBD" user disable --data "$D" gone --reason "left the site"
expect_rc "user disable twice" 1 "$CBD" user disable --data "$D" gone --reason "again"
expect_rc "user disable of nobody" 1 "$CBD" user disable --data "$D" nobody --reason "typo"
expect_rc "user list" 0 "$CBD" user list --data "$D"
expect_out "user list shows the full name" "alice	KR01	coordinator	enabled	Alice Kim"
expect_out "user list shows who is disabled" "gone	KR01	coordinator	disabled 20"
expect_rc "user list of one site" 0 "$CBD" user list --data "$D" --site DE02
check "user list --site lists that site only" carla "$(cut -f1 "$T/out" 2>/dev/null || true)"

tok() { "$CBD" token create --data "$D" "$@" 2>>"$T/tokens.err"; }
TOK1=$(tok --site KR01 --role coordinator)
TOK2=$(tok --site KR01 --role investigator)
TOK3=$(tok --site DE02 --role coordinator)
TOK4=$(tok --role datamanager)
TOK5=$(tok --site KR01 --role coordinator)
TOKR=$("$CBD" token create --data "$D" --site KR01 --role coordinator \
	--ttl 1h 2>"$T/tokr.err")
# Made "two hours ago" with a one-hour life: expired now.
TOKX=$(CASEBOOK_CLOCK_OFFSET_MS=-7200000 "$CBD" token create --data "$D" \
	--site KR01 --role coordinator --ttl 1h 2>>"$T/tokens.err")
case $TOK1 in
cbt_*) pass "token create prints one token" ;;
*) fail "token create prints one token" "got '$TOK1'" ;;
esac
if [ "$TOK1" != "$TOK2" ] && [ ${#TOK1} -ge 40 ]; then
	pass "tokens are long and distinct"
else
	fail "tokens are long and distinct" "'$TOK1' '$TOK2'"
fi
RID=$(sed -n 's/^token \([0-9a-f]*\): .*/\1/p' "$T/tokr.err")
expect_rc "token list" 0 "$CBD" token list --data "$D"
expect_out "token list shows an expired token" "expired"
expect_no_out "token list never shows a token" "$TOK1"
expect_rc "token revoke" 0 "$CBD" token revoke --data "$D" "$RID"

# ---- the server ----------------------------------------------------------

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_server() {
	# shellcheck disable=SC2086
	"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" --threads 3 \
		${SERVE_EXTRA:-} 2>>"$LOG" &
	SPID=$!
	_i=0
	# shellcheck disable=SC2086
	until curl -sf ${HEALTH_OPTS:-} "$BASE/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$SPID" 2>/dev/null; then
			fail "server starts" "no answer on $BASE; log: $(tail -5 "$LOG")"
			finish
		fi
		sleep 0.05
	done
}
stop_server() {
	if [ -n "${SPID:-}" ] && kill -0 "$SPID" 2>/dev/null; then
		kill -TERM "$SPID"
		wait "$SPID"
		SRC=$?
	fi
	SPID=""
}
at_exit stop_server
start_server
pass "server answers /v1/health"

# The allocator (docs/OPERATIONS.md, "Memory"): jemalloc with the
# settings of server/main.c, logged at the start; the sanitizers' builds
# (CASEBOOK_SANITIZED) keep their own.
alloc=$(grep '"msg":"listening"' "$LOG" | head -n 1 |
	sed -n 's/.*"malloc":"\([^"]*\)".*/\1/p')
if [ -n "${CASEBOOK_SANITIZED:-}" ]; then
	check "the start-up line names the allocator (sanitizers)" libc "$alloc"
else
	case $alloc in
	jemalloc-*" narenas:1 dirty_decay_ms:1000") pass "casebookd runs on jemalloc with its settings ($alloc)" ;;
	*) fail "casebookd runs on jemalloc with its settings" "the start-up line says malloc '$alloc'" ;;
	esac
fi

# get METHOD PATH [curl args]: status in $code, body in $T/resp
get() {
	_m=$1 _p=$2
	shift 2
	code=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$_m" "$@" "$BASE$_p")
}

# is_error NAME STATUS CODE: last answer had that status and error code
is_error() {
	_c=$(jget "$T/resp" 'j["error"]["code"]')
	_msg=$(jget "$T/resp" 'j["error"]["message"]')
	if [ "$code" = "$2" ] && [ "$_c" = "$3" ] && [ -n "$_msg" ]; then
		pass "$1"
	else
		fail "$1" "status $code, wanted $2 $3; body: $(head -c 300 "$T/resp")"
	fi
}

get GET /v1/health
check "health is 200" 200 "$code"
check "health names the study" knee-oa-msc "$(jget "$T/resp" 'j["study"]')"
check "health says ok" ok "$(jget "$T/resp" 'j["status"]')"

echo '{"events":[]}' >"$T/empty.json"
get POST /v1/sync/push -H 'Content-Type: application/json' --data-binary @"$T/empty.json"
is_error "unsigned push is refused with a JSON 401" 401 unauthenticated
get GET /v1/nowhere
is_error "unknown endpoint: JSON 404" 404 not_found
get DELETE /v1/health
is_error "wrong method: JSON 405" 405 method_not_allowed
get POST /v1/register --data-binary '{"token": '
is_error "malformed JSON: 400" 400 invalid_json
check "malformed JSON: message gives line and column" 1 \
	"$(jget "$T/resp" 'int("line 1, column" in j["error"]["message"])')"
get POST /v1/register --data-binary '{"token":5,"public_key":"00","user":"a"}'
is_error "wrong type: 400" 400 invalid_request
check "wrong type: message names the member" 1 \
	"$(jget "$T/resp" 'int("$.token" in j["error"]["message"])')"
get POST /v1/register --data-binary '[1,2]'
is_error "not an object: 400" 400 invalid_request
get POST /v1/register --data-binary '{"token":"x","public_key":"00","user":"a","admin":true}'
is_error "unknown member: 400" 400 invalid_request
head -c 5000000 /dev/zero | tr '\0' 'a' >"$T/big"
get POST /v1/sync/push --data-binary @"$T/big"
is_error "oversized body: JSON 413" 413 too_large
get POST /v1/sync/push -H 'Transfer-Encoding: chunked' --data-binary @"$T/big"
is_error "oversized chunked body: JSON 413" 413 too_large
get GET /v1/health
check "server keeps serving after bad input" 200 "$code"

# ---- registration --------------------------------------------------------

# register TOKEN KEYFILE USER: status in $code, answer in $T/resp
register() {
	_pk=$("$U" client keygen "$2") || return 1
	printf '%s' "$3" >"$2.user"
	printf '{"token":"%s","public_key":"%s","user":"%s"}' "$1" "$_pk" "$3" >"$T/reg.json"
	get POST /v1/register --data-binary @"$T/reg.json"
}

register "$TOK1" "$T/k1" alice
check "register: 201" 201 "$code"
DEV1=$(jget "$T/resp" 'j["device"]')
check "register: site from the token" KR01 "$(jget "$T/resp" 'j["site"]')"
check "register: role from the token" coordinator "$(jget "$T/resp" 'j["role"]')"
check "register: first device index of the site" 1 "$(jget "$T/resp" 'j["device_index"]')"
SHA=$(jget "$T/resp" 'j["protocol_sha256"]')
jget "$T/resp" 'j["protocol"]' >/dev/null
python3 -c 'import json,sys,hashlib
j=json.load(open(sys.argv[1]))
sys.exit(0 if hashlib.sha256(j["protocol"].encode()).hexdigest()==j["protocol_sha256"] else 1)' "$T/resp" &&
	pass "register: protocol bytes match their sha256" ||
	fail "register: protocol bytes match their sha256" "mismatch"

register "$TOK2" "$T/k2" bob
check "register a second site device" 201 "$code"
DEV2=$(jget "$T/resp" 'j["device"]')
check "second device of the site gets index 2" 2 "$(jget "$T/resp" 'j["device_index"]')"
register "$TOK3" "$T/k3" carla
DEV3=$(jget "$T/resp" 'j["device"]')
check "first device of another site gets index 1" 1 "$(jget "$T/resp" 'j["device_index"]')"
register "$TOK4" "$T/k4" dora
DEV4=$(jget "$T/resp" 'j["device"]')
check "central role registers without a site" null "$(jget "$T/resp" 'j["site"]')"

register "$TOK1" "$T/k5" eve
is_error "a used token is refused" 403 token_refused
check "used token: says so" 1 "$(jget "$T/resp" 'int("already used" in j["error"]["message"])')"
register "$TOKX" "$T/k5" eve
is_error "an expired token is refused" 403 token_refused
check "expired token: says so" 1 "$(jget "$T/resp" 'int("expired" in j["error"]["message"])')"
register "$TOKR" "$T/k5" eve
is_error "a revoked token is refused" 403 token_refused
register "cbt_nosuchtoken" "$T/k5" eve
is_error "an unknown token is refused" 401 token_invalid
# The same public key twice is a conflict.
PK1=$(python3 -c 'import sys
sk=open(sys.argv[1]).read().strip(); print(sk[64:])' "$T/k1")
printf '{"token":"%s","public_key":"%s","user":"eve"}' "$TOK5" "$PK1" >"$T/reg.json"
get POST /v1/register --data-binary @"$T/reg.json"
is_error "a registered public key cannot register again" 409 key_registered

# Registration is by a person the server knows, of the token's site and role.
TOKP=$(tok --site KR01 --role coordinator)
register "$TOKP" "$T/k6" mallory
is_error "an unknown person cannot register" 403 token_refused
check "unknown person: says who adds people" 1 "$(jget "$T/resp" 'int("casebookd user add" in j["error"]["message"])')"
register "$TOKP" "$T/k6" gone
is_error "a disabled person cannot register" 403 token_refused
register "$TOKP" "$T/k6" carla
is_error "a person of another site cannot register" 403 token_refused
register "$TOKP" "$T/k6" bob
is_error "a person of another role cannot register" 403 token_refused
check "wrong role: says what the token is for" 1 "$(jget "$T/resp" 'int("is investigator at KR01; this registration token is for coordinator at KR01" in j["error"]["message"])')"
expect_rc "token create --user" 0 "$CBD" token create --data "$D" --user eve
TOKE=$(head -n1 "$T/out")
expect_out "token --user names the person" "eve, role coordinator at site KR01"
expect_rc "token --user takes no --role" 2 "$CBD" token create --data "$D" --user eve --role coordinator
expect_rc "token --user of nobody" 1 "$CBD" token create --data "$D" --user nobody
expect_rc "token --user of a disabled person" 1 "$CBD" token create --data "$D" --user gone
register "$TOKE" "$T/k6" alice
is_error "a token for one person refuses another" 403 token_refused
register "$TOKE" "$T/k6" eve
check "the token's person registers" 201 "$code"
DEV6=$(jget "$T/resp" 'j["device"]')
expect_rc "token list" 0 "$CBD" token list --data "$D"
expect_out "token list names the person" "	eve"

# ---- signed requests -----------------------------------------------------

# sreq KEY DEVICE METHOD PATH QUERY [BODYFILE]: a signed request made
# with the signing client; status in $code, body in $T/resp, the exact
# headers kept in $T/hdr for replays.
sreq() {
	_k=$1 _d=$2 _m=$3 _p=$4 _q=$5 _b=${6:-}
	if [ -n "$_b" ]; then
		"$U" client headers "$_k" "$_d" "$_m" "$_p" "$_q" "$_b" >"$T/hdr" || return 1
	else
		"$U" client headers "$_k" "$_d" "$_m" "$_p" "$_q" >"$T/hdr" || return 1
	fi
	resend "$_m" "$_p" "$_q" "$_b"
}
# resend METHOD PATH QUERY [BODYFILE]: send again with the headers in $T/hdr
resend() {
	_url="$BASE$2"
	[ -n "$3" ] && _url="$_url?$3"
	set -- "$1" "$_url" "${4:-}"
	if [ -n "$3" ]; then
		code=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" \
			-H "$(sed -n 1p "$T/hdr")" -H "$(sed -n 2p "$T/hdr")" \
			-H "$(sed -n 3p "$T/hdr")" -H "$(sed -n 4p "$T/hdr")" \
			-H 'Content-Type: application/json' --data-binary @"$3" "$2")
	else
		code=$(curl -s -o "$T/resp" -w '%{http_code}' -X "$1" \
			-H "$(sed -n 1p "$T/hdr")" -H "$(sed -n 2p "$T/hdr")" \
			-H "$(sed -n 3p "$T/hdr")" -H "$(sed -n 4p "$T/hdr")" "$2")
	fi
}
# ev KEY DEVICE SITE SUBJECT KIND VISIT FORM INSTANCE CHANGES...: one
# signed event, by $EVUSER or else the person who registered KEY
ev() {
	_k=$1 _d=$2 _s=$3 _subj=$4
	shift 4
	"$U" client event "$_k" "$_d" "$_s" "${EVUSER:-$(cat "$_k.user")}" "$_subj" "$@"
}
batch() {
	printf '{"events":['
	_first=1
	for _e in "$@"; do
		[ $_first -eq 1 ] || printf ','
		printf '%s' "$_e"
		_first=0
	done
	printf ']}'
}
status_of() { jget "$T/resp" "j[\"results\"][$1][\"status\"]"; }
code_of() { jget "$T/resp" "j[\"results\"][$1].get(\"code\")"; }

sreq "$T/k1" "$DEV1" GET /v1/protocol ""
check "signed GET /v1/protocol: 200" 200 "$code"
check "protocol endpoint serves the exact bytes" "$SHA" \
	"$(python3 -c 'import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$T/resp")"

# Every subject is created first, by the device whose range its id is in.
C1=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 subject.status "" "" "" --data status=screening)
C2=$(ev "$T/k1" "$DEV1" KR01 KR01-01002 subject.status "" "" "" --data status=screening)
batch "$C1" "$C2" >"$T/push0.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/push0.json"
check "push: two subjects created" "2 0 0" "$(jget "$T/resp" '"%d %d %d" % (j["accepted"], j["duplicate"], j["rejected"])')"
if is_pg; then
	STORE_ID=$(srv_sql "SELECT convert_from(value, 'UTF8') FROM settings WHERE key = 'store_id'")
else
	STORE_ID=$(srv_sql "SELECT value FROM settings WHERE key = 'store_id'")
fi
case $STORE_ID in ????????????????????????????????) ;; *) fail "the store has an identity" "got '$STORE_ID'" ;; esac
check "push answers name the store" "$STORE_ID" "$(jget "$T/resp" 'j["store"]')"
E1=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 form.save BL VAS "" VAS=42)
E2=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 form.save BL VAS "" VAS=150)
E3=$(ev "$T/k1" "$DEV1" DE02 DE02-01001 form.save BL VAS "" VAS=10)
E4=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 form.save BL MRI "" READER=Zebrafinch)
E5=$(ev "$T/k1" "$DEV1" KR01 KR01-01002 form.save BL VAS "" VAS=7)
# Signed by device 1, then altered: the signature no longer matches.
E6=$(ev "$T/k1" "$DEV1" KR01 KR01-01003 form.save BL VAS "" VAS=11 | sed 's/"value":"11"/"value":"12"/')
# Signed by device 1 but naming device 2 as its author.
E7=$(ev "$T/k1" "$DEV2" KR01 KR01-01003 form.save BL VAS "" VAS=13)
# The lab-only form, from a coordinator.
E8=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 form.save INJ CELL "" CELLCNT=5.5)
E9=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 sign BL VAS "" --data meaning=reviewed --data seen=)
batch "$E1" "$E2" "$E3" "$E4" "$E5" "$E6" "$E7" "$E8" "$E1" '{"id":1}' "$E9" >"$T/push1.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/push1.json"
check "signed push: 200" 200 "$code"
check "push: valid event accepted" accepted "$(status_of 0)"
check "push: out-of-range value rejected" rejected "$(status_of 1)"
check "push: rejection reason is an edit check" check "$(code_of 1)"
check "push: the failed check is named" item.range "$(jget "$T/resp" 'j["results"][1]["checks"][0]["id"]')"
check "push: another site's event rejected" site "$(code_of 2)"
check "push: second form accepted" accepted "$(status_of 3)"
check "push: new subject accepted" accepted "$(status_of 4)"
check "push: altered event fails its signature" signature "$(code_of 5)"
check "push: event naming another device refused" forbidden "$(code_of 6)"
check "push: a role the protocol forbids is refused" forbidden "$(code_of 7)"
check "push: the same event again in a batch is a duplicate" duplicate "$(status_of 8)"
check "push: malformed event rejected as invalid" invalid "$(code_of 9)"
check "push: coordinator may not e-sign" forbidden "$(code_of 10)"
check "push: counts" "3 1 7" "$(jget "$T/resp" '"%d %d %d" % (j["accepted"], j["duplicate"], j["rejected"])')"

resend POST /v1/sync/push "" "$T/push1.json"
is_error "replayed request (same nonce) refused" 401 replay

sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/push1.json"
check "the same batch sent again: 200" 200 "$code"
check "the same batch again: duplicates, nothing new" "0 4 7" \
	"$(jget "$T/resp" '"%d %d %d" % (j["accepted"], j["duplicate"], j["rejected"])')"

# The signature covers the body: headers for one body, another sent.
"$U" client headers "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/empty.json" >"$T/hdr"
resend POST /v1/sync/push "" "$T/push1.json"
is_error "body not the one signed: 401" 401 bad_signature
# ... and the query.
"$U" client headers "$T/k1" "$DEV1" GET /v1/sync/pull "since=0" >"$T/hdr"
resend GET /v1/sync/pull "since=1"
is_error "query not the one signed: 401" 401 bad_signature
# ... and the key: device 2's id with device 1's key.
sreq "$T/k1" "$DEV2" GET /v1/sync/pull "since=0"
is_error "signed with another device's key: 401" 401 bad_signature
sreq "$T/k1" ffffffffffffffffffffffffffffffff GET /v1/sync/pull "since=0"
is_error "unknown device: 401" 401 unknown_device
CASEBOOK_CLOCK_OFFSET_MS=400000 sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
is_error "clock 6m40s ahead: 401" 401 clock_skew
CASEBOOK_CLOCK_OFFSET_MS=-400000 sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
is_error "clock 6m40s behind: 401" 401 clock_skew
CASEBOOK_CLOCK_OFFSET_MS=-240000 sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
check "clock 4 minutes behind is accepted" 200 "$code"
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=abc"
is_error "bad cursor: 400" 400 invalid_request
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "limit=0"
is_error "bad limit: 400" 400 invalid_request

sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/big"
is_error "signed but oversized: 413" 413 too_large
python3 -c 'import json; print(json.dumps({"events": [{}] * 1001}))' >"$T/many.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/many.json"
is_error "more than 1000 events: 413" 413 too_many_events
echo '{"events":{}}' >"$T/wrong.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/wrong.json"
is_error "events not an array: 400" 400 invalid_request

# ---- people at push -------------------------------------------------------

# Every event is by a person the server knows, enabled when it was made,
# whom the device may hold; that person's role is what the event is
# judged by.
NOW_MS=$(python3 -c 'import time; print(int(time.time()*1000))')
P1=$(EVUSER=mallory ev "$T/k1" "$DEV1" KR01 KR01-01002 form.save BL VAS "" VAS=20)
P2=$(EVUSER=carla ev "$T/k1" "$DEV1" KR01 KR01-01002 form.save BL VAS "" VAS=21)
P3=$(EVUSER=gone ev "$T/k1" "$DEV1" KR01 KR01-01002 form.save BL VAS "" VAS=22)
P4=$(EVUSER=lena ev "$T/k4" "$DEV4" KR01 KR01-01002 query.open BL VAS "" --data text=why --data item=VAS)
# An investigator on the coordinator's laptop signs with their own role.
P5=$(EVUSER=bob ev "$T/k1" "$DEV1" KR01 KR01-01001 sign BL MRI "" --data meaning=reviewed --data "seen=$(jget "$T/push1.json" 'j["events"][3]["id"]')")
# Made a day before the person was disabled: theirs to have made, on a
# device that sends in its own order; back-dated, on a device that has
# already sent later events.
DAY_AGO_HLC=$(printf '%012x0000' $((NOW_MS - 86400000)))
DAY_AGO_WALL=$(python3 -c 'import datetime,sys; print((datetime.datetime.utcnow()-datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))')
P6=$(EVUSER=gone ev "$T/k1" "$DEV1" KR01 KR01-01002 form.save BL PE "" ROM=120 --hlc "$DAY_AGO_HLC" --wall "$DAY_AGO_WALL")
P7=$(EVUSER=gone ev "$T/k6" "$DEV6" KR01 KR01-01002 form.save BL PE "" ROM=121 --hlc "$DAY_AGO_HLC" --wall "$DAY_AGO_WALL")
batch "$P1" "$P2" "$P3" "$P5" "$P6" >"$T/pushp.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/pushp.json"
check "push: an unknown person's event is rejected" "rejected user" "$(status_of 0) $(code_of 0)"
check "push: the rejection names the person" 1 "$(jget "$T/resp" 'int("mallory is not a person registered" in j["results"][0]["reason"])')"
check "push: a person of another site is rejected" "rejected user" "$(status_of 1) $(code_of 1)"
check "push: a disabled person's new event is rejected" "rejected user" "$(status_of 2) $(code_of 2)"
check "push: an investigator signs on a coordinator's laptop" accepted "$(status_of 3)"
check "push: a disabled person's back-dated event is rejected" "rejected user" "$(status_of 4) $(code_of 4)"
check "push: the back-dating is named" 1 "$(jget "$T/resp" 'int("stamped before events device" in j["results"][4]["reason"])')"
batch "$P7" >"$T/pushp7.json"
sreq "$T/k6" "$DEV6" POST /v1/sync/push "" "$T/pushp7.json"
check "push: what a disabled person made before is accepted in order" accepted "$(status_of 0)"
batch "$P4" >"$T/pushp4.json"
sreq "$T/k4" "$DEV4" POST /v1/sync/push "" "$T/pushp4.json"
check "push: a person of another role on a central device is rejected" "rejected user" "$(status_of 0) $(code_of 0)"
sreq "$T/k1" "$DEV1" GET /v1/users ""
check "GET /v1/users: 200" 200 "$code"
check "a site device gets its site's people" "alice bob eve gone" "$(jget "$T/resp" '" ".join(u["name"] for u in j["users"])')"
check "with full names" "Alice Kim" "$(jget "$T/resp" 'j["users"][0]["full_name"]')"
check "and who is disabled" 1 "$(jget "$T/resp" 'int(j["users"][3]["disabled_at"] is not None and j["users"][0]["disabled_at"] is None)')"
sreq "$T/k4" "$DEV4" GET /v1/users ""
check "a central device gets the people of its role" "dora" "$(jget "$T/resp" '" ".join(u["name"] for u in j["users"])')"

# ---- pull, site isolation, queries ---------------------------------------

sreq "$T/k2" "$DEV2" GET /v1/sync/pull "since=0"
check "pull: 200" 200 "$code"
check "pull answers name the store" "$STORE_ID" "$(jget "$T/resp" 'j["store"]')"
check "pull: the other device of the site sees the site's events" 7 \
	"$(jget "$T/resp" 'len(j["events"])')"
check "pull: events carry received_at" 1 \
	"$(jget "$T/resp" 'int(all(e.get("received_at") for e in j["events"]))')"
NEXT=$(jget "$T/resp" 'j["next"]')
sreq "$T/k2" "$DEV2" GET /v1/sync/pull "since=$NEXT"
check "pull from the cursor: nothing new" 0 "$(jget "$T/resp" 'len(j["events"])')"
check "pull from the cursor: cursor stays" "$NEXT" "$(jget "$T/resp" 'j["next"]')"
sreq "$T/k2" "$DEV2" GET /v1/sync/pull "since=0&limit=2"
check "pull with a limit: 2 events" 2 "$(jget "$T/resp" 'len(j["events"])')"
check "pull with a limit: says there may be more" true "$(jget "$T/resp" 'j["more"]')"
sreq "$T/k3" "$DEV3" GET /v1/sync/pull "since=0"
check "site isolation: another site's device sees none of it" 0 \
	"$(jget "$T/resp" 'len(j["events"])')"

# A site device writing a subject of another site is refused even with
# its own site in the event.
E10=$(ev "$T/k3" "$DEV3" DE02 KR01-01001 form.save BL VAS "" VAS=3)
batch "$E10" >"$T/push3.json"
sreq "$T/k3" "$DEV3" POST /v1/sync/push "" "$T/push3.json"
check "site isolation: another site's subject cannot be written" site "$(code_of 0)"

QID=""
EQ=$(ev "$T/k4" "$DEV4" KR01 KR01-01001 query.open BL VAS "" --data item=VAS --data "text=Please confirm")
EQ2=$(ev "$T/k4" "$DEV4" KR01 KR01-09999 query.open BL VAS "" --data item=VAS --data "text=No such subject")
batch "$EQ" "$EQ2" >"$T/push4.json"
sreq "$T/k4" "$DEV4" POST /v1/sync/push "" "$T/push4.json"
check "data manager opens a query" accepted "$(status_of 0)"
check "data manager cannot write about an unknown subject" site "$(code_of 1)"
QID=$(jget "$T/resp" 'j["results"][0]["id"]')
sreq "$T/k4" "$DEV4" GET /v1/sync/pull "since=0"
check "central role pulls every site" 4 "$(jget "$T/resp" 'len([e for e in j["events"] if e["kind"]=="form.save"])')"
sreq "$T/k1" "$DEV1" GET /v1/queries ""
check "site device sees its site's query" "$QID" "$(jget "$T/resp" 'j["queries"][0]["id"]')"
check "the query is open" open "$(jget "$T/resp" 'j["queries"][0]["status"]')"
sreq "$T/k3" "$DEV3" GET /v1/queries ""
check "other site sees no query" 0 "$(jget "$T/resp" 'len(j["queries"])')"
sreq "$T/k1" "$DEV1" GET /v1/queries "status=bogus"
is_error "bad query status: 400" 400 invalid_request
EA=$(ev "$T/k1" "$DEV1" KR01 KR01-01001 query.answer BL VAS "" --data "query=$QID" --data "text=Confirmed")
batch "$EA" >"$T/push5.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/push5.json"
check "site answers the query" accepted "$(status_of 0)"
sreq "$T/k4" "$DEV4" GET /v1/queries "status=answered"
check "the answer reaches the derived queries" "$QID" "$(jget "$T/resp" 'j["queries"][0]["id"]')"

# ---- blinding --------------------------------------------------------------

TOKL=$(tok --role lab)
register "$TOKL" "$T/kl" lena
DEVL=$(jget "$T/resp" 'j["device"]')
EL=$(ev "$T/kl" "$DEVL" KR01 KR01-01001 form.save INJ CELL "" CELLCNT=5.5)
batch "$EL" >"$T/push6.json"
sreq "$T/kl" "$DEVL" POST /v1/sync/push "" "$T/push6.json"
check "the lab writes the unblinded cell form" accepted "$(status_of 0)"
LID=$(jget "$T/resp" 'j["results"][0]["id"]')
sreq "$T/kl" "$DEVL" GET /v1/sync/pull "since=0"
check "the lab pulls its unblinded event" 1 \
	"$(jget "$T/resp" "int(any(e['id']=='$LID' for e in j['events']))")"
sreq "$T/k4" "$DEV4" GET /v1/sync/pull "since=0"
check "a blinded central role never receives unblinded items" 0 \
	"$(jget "$T/resp" "int(any(e['id']=='$LID' for e in j['events']))")"
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
check "a site device never receives unblinded items" 0 \
	"$(jget "$T/resp" "int(any(e['id']=='$LID' for e in j['events']))")"

# ---- revocation ----------------------------------------------------------

expect_rc "device list" 0 "$CBD" device list --data "$D"
expect_out "device list shows the devices" "$DEV2"
expect_rc "device revoke" 0 "$CBD" device revoke --data "$D" "$DEV2"
expect_rc "revoking an unknown device fails" 1 "$CBD" device revoke --data "$D" nosuchdevice
sreq "$T/k2" "$DEV2" GET /v1/sync/pull "since=0"
is_error "a revoked device is refused: 403" 403 device_revoked
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
check "the site's other device still works" 200 "$code"

# ---- shutdown, persistence, rebuild --------------------------------------

if is_pg; then
	# On PostgreSQL several processes serve one store, and a rebuild
	# runs beside them (their pushes wait for it): t_pg_multi.sh.
	expect_rc "rebuild beside a running serve (PostgreSQL)" 0 \
		"$CBD" rebuild --data "$D"
else
	# While serve runs, nothing else may change its store under it.
	expect_rc "rebuild refused while serve runs" 1 "$CBD" rebuild --data "$D"
	expect_out "rebuild names the running server" "is using"
	expect_rc "a second serve on one data directory is refused" 1 \
		"$CBD" serve --data "$D" --listen "127.0.0.1:$(free_port)"
	expect_out "second serve says why" "is using"
fi

stop_server
check "SIGTERM stops the server with exit 0" 0 "${SRC:-x}"
if grep -q '"msg":"stopped"' "$LOG"; then pass "the log records the stop"; else fail "the log records the stop" "no stopped line"; fi
# The writer's account at the stop: every event stored went through it
# (the pushes' refused events too), and its commits were part of its
# busy time.
grep '"msg":"writer"' "$LOG" | tail -1 >"$T/writer.json"
check "the log gives the writer's account at the stop" "ok" "$(python3 -c '
import json, sys
try:
    w = json.load(open(sys.argv[1]))
    g, p, e = int(w["groups"]), int(w["pushes"]), int(w["events"])
    b, c = int(w["busy_us"]), int(w["commit_us"])
    print("ok" if 0 < g <= p and e >= 10 and 0 < c < b else w)
except Exception as x:
    print("no writer line: %r" % x)
' "$T/writer.json")"

expect_rc "status" 0 "$CBD" status --data "$D"
expect_out "status counts events" "events           10"
"$CBD" dump --data "$D" >"$T/dump1" 2>"$T/err"
if grep -q "KR01-01001	BL	VAS		VAS	42" "$T/dump1"; then
	pass "dump shows the derived item value"
else
	fail "dump shows the derived item value" "$(head -c 400 "$T/dump1")"
fi
expect_rc "rebuild" 0 "$CBD" rebuild --data "$D"
expect_out "rebuild counts the events" "from 10 events"
"$CBD" dump --data "$D" >"$T/dump2"
if cmp -s "$T/dump1" "$T/dump2"; then
	pass "rebuild gives identical derived tables"
else
	fail "rebuild gives identical derived tables" "$(diff "$T/dump1" "$T/dump2" | head -5)"
fi
# A rebuild really rebuilds: tamper with a derived value, rebuild, compare.
srv_sql "UPDATE forms SET items = replace(items, '\"42\"', '\"99\"') WHERE form = 'VAS'; DELETE FROM queries"
"$CBD" dump --data "$D" >"$T/dump3"
grep -q "KR01-01001	BL	VAS		VAS	99" "$T/dump3" &&
	pass "the tampered item value shows in the dump" ||
	fail "the tampered item value shows in the dump" "$(grep "	VAS	" "$T/dump3" | head -3)"
"$CBD" rebuild --data "$D" >/dev/null 2>&1
"$CBD" dump --data "$D" >"$T/dump4"
if ! cmp -s "$T/dump1" "$T/dump3" && cmp -s "$T/dump1" "$T/dump4"; then
	pass "rebuild restores damaged derived tables from the events"
else
	fail "rebuild restores damaged derived tables from the events" "dumps differ"
fi

start_server
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0"
check "after a restart the events are still there" 9 "$(jget "$T/resp" 'len(j["events"])')"

# ---- concurrent pushes ---------------------------------------------------

# Two sites push at once, and one batch goes twice at once (as a client
# retrying over a second connection would): every event is stored once.
mkbatch() { # KEY DEV SITE PREFIX N: N new subjects PREFIX101.., each saved once
	_i=1
	while [ $_i -le "$5" ]; do
		_subject="$4$((100 + _i))"
		ev "$1" "$2" "$3" "$_subject" subject.status "" "" "" --data status=screening
		ev "$1" "$2" "$3" "$_subject" form.save BL VAS "" "VAS=$((_i % 100))"
		_i=$((_i + 1))
	done >"$T/evs.$4"
	python3 -c 'import json,sys
print(json.dumps({"events": [json.loads(l) for l in open(sys.argv[1])]}))' "$T/evs.$4"
}
mkbatch "$T/k1" "$DEV1" KR01 KR01-01 40 >"$T/cA.json"
mkbatch "$T/k3" "$DEV3" DE02 DE02-01 40 >"$T/cB.json"
cpush() { # KEY DEV BODY OUT
	"$U" client headers "$1" "$2" POST /v1/sync/push "" "$3" >"$4.hdr" &&
		curl -s -o "$4" -w '%{http_code}' -X POST \
			-H "$(sed -n 1p "$4.hdr")" -H "$(sed -n 2p "$4.hdr")" \
			-H "$(sed -n 3p "$4.hdr")" -H "$(sed -n 4p "$4.hdr")" \
			--data-binary @"$3" "$BASE/v1/sync/push" >"$4.code"
}
cpush "$T/k1" "$DEV1" "$T/cA.json" "$T/c1" &
p1=$!
cpush "$T/k1" "$DEV1" "$T/cA.json" "$T/c2" &
p2=$!
cpush "$T/k3" "$DEV3" "$T/cB.json" "$T/c3" &
p3=$!
wait $p1 $p2 $p3
check "concurrent pushes all answered 200" "200 200 200" \
	"$(cat "$T/c1.code") $(cat "$T/c2.code") $(cat "$T/c3.code")"
check "a batch pushed twice at once is accepted exactly once" "80 80" \
	"$(python3 -c 'import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
print(a["accepted"]+b["accepted"], a["duplicate"]+b["duplicate"])' "$T/c1" "$T/c2")"
check "the other site's concurrent batch is all accepted" 80 "$(jget "$T/c3" 'j["accepted"]')"
sreq "$T/k4" "$DEV4" GET /v1/sync/pull "since=0&limit=1000"
check "every event stored once" 169 "$(jget "$T/resp" 'len(j["events"])')"
check "server order has no gaps or repeats" 169 \
	"$(jget "$T/resp" 'len(set(e["id"] for e in j["events"]))')"

# A pull may skip events the device holds: a push answer's "seqs" are the
# numbers of the events it stored (SQLite numbers them as it stores them,
# PostgreSQL at the commit), and `skip` leaves them out while the cursor
# passes them.
C3=$(ev "$T/k1" "$DEV1" KR01 KR01-01098 subject.status "" "" "" --data status=screening)
C4=$(ev "$T/k1" "$DEV1" KR01 KR01-01099 subject.status "" "" "" --data status=screening)
batch "$C3" "$C4" >"$T/pushs.json"
sreq "$T/k1" "$DEV1" POST /v1/sync/push "" "$T/pushs.json"
check "push of two for skip: accepted" "2 0 0" "$(jget "$T/resp" '"%d %d %d" % (j["accepted"], j["duplicate"], j["rejected"])')"
S3=$(srv_sql "SELECT seq FROM events WHERE subject = 'KR01-01098'")
S4=$(srv_sql "SELECT seq FROM events WHERE subject = 'KR01-01099'")
check "push answer: the stored events' numbers" "[[$S3, $S4]]" "$(jget "$T/resp" 'j.get("seqs")')"
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0&skip=$S3-$S3"
check "pull skipping one: 200" 200 "$code"
check "pull skipping one: that one left out, the other there, the cursor past both" "False True $S4" \
	"$(jget "$T/resp" '"%s %s %s" % (any(e["subject"] == "KR01-01098" for e in j["events"]), any(e["subject"] == "KR01-01099" for e in j["events"]), j["next"])')"
check "pull skipping one: the events before still come" "true" \
	"$(jget "$T/resp" 'any(e["subject"] == "KR01-01001" for e in j["events"])')"
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0&limit=2&skip=1-$S4"
check "a page all skipped: empty, with more and its cursor" "0 True $(srv_sql "SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET 1")" \
	"$(jget "$T/resp" '"%d %s %s" % (len(j["events"]), j["more"], j["next"])')"
for bad in "abc" "5-3" "0-2" "1-2,2-3" "3-4,1-2" "1-2," "1-2-3" "-1-2" "1-" \
	"$(python3 -c 'print(",".join("%d-%d" % (2*i+1, 2*i+1) for i in range(65)))')"; do
	sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0&skip=$bad"
	is_error "bad skip '$(printf %.20s "$bad")': 400" 400 invalid_request
done
check "the bad skip's message says what is expected" "1" \
	"$(grep -c 'skip: expected at most 64 ranges' "$T/resp")"
sreq "$T/k1" "$DEV1" GET /v1/sync/pull "since=0&skip=$(python3 -c 'print(",".join("%d-%d" % (2*i+1, 2*i+1) for i in range(64)))')"
check "64 ranges are taken" 200 "$code"
stop_server
"$CBD" dump --data "$D" >"$T/dump5"
"$CBD" rebuild --data "$D" >/dev/null 2>&1
"$CBD" dump --data "$D" >"$T/dump6"
if cmp -s "$T/dump5" "$T/dump6" && grep -q "DE02-01140" "$T/dump6"; then
	pass "after concurrent pushes rebuild gives identical derived tables"
else
	fail "after concurrent pushes rebuild gives identical derived tables" \
		"$(diff "$T/dump5" "$T/dump6" | head -5)"
fi

# ---- SIGTERM during a push -------------------------------------------------

# Whatever the timing, a batch is stored whole or not at all, and an
# acknowledged batch is stored.
mkbatch "$T/k1" "$DEV1" KR01 KR01-04 200 >"$T/cT.json"
before=$("$CBD" status --data "$D" | sed -n 's/^events *\([0-9]*\).*/\1/p')
start_server
cpush "$T/k1" "$DEV1" "$T/cT.json" "$T/cT" &
pT=$!
until [ -s "$T/cT.hdr" ]; do :; done
stop_server
wait $pT
after=$("$CBD" status --data "$D" | sed -n 's/^events *\([0-9]*\).*/\1/p')
got=$((after - before))
if [ "$(cat "$T/cT.code" 2>/dev/null)" = 200 ]; then
	check "SIGTERM mid-push: the acknowledged batch is stored" 200 "$got"
elif [ "$got" -eq 0 ] || [ "$got" -eq 200 ]; then
	pass "SIGTERM mid-push: the batch is stored whole or not at all"
else
	fail "SIGTERM mid-push: the batch is stored whole or not at all" "$got of 200"
fi
check "SIGTERM mid-push: the server exits 0" 0 "${SRC:-x}"

# ---- rate limit ------------------------------------------------------------

expect_rc "serve refuses a bad --rate" 2 "$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" --rate 0
SERVE_EXTRA="--rate 1"
start_server
sreq "$T/k1" "$DEV1" GET /v1/queries ""
c1=$code
sreq "$T/k1" "$DEV1" GET /v1/queries ""
c2=$code
sreq "$T/k1" "$DEV1" GET /v1/queries ""
is_error "over the request rate: JSON 429" 429 rate_limited
check "within the burst: 200" "200 200" "$c1 $c2"
sreq "$T/k3" "$DEV3" GET /v1/queries ""
check "one device's rate does not limit another" 200 "$code"
stop_server
SERVE_EXTRA=""

# ---- TLS -----------------------------------------------------------------

if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" \
		-out "$T/tls.crt" >/dev/null 2>&1; then
	SERVE_EXTRA="--tls-cert $T/tls.crt --tls-key $T/tls.key"
	BASE="https://127.0.0.1:$PORT"
	HEALTH_OPTS="--cacert $T/tls.crt"
	start_server
	code=$(curl -s --cacert "$T/tls.crt" -o "$T/resp" -w '%{http_code}' "$BASE/v1/health")
	check "HTTPS: health over TLS with the certificate trusted" 200 "$code"
	if curl -s -o /dev/null "$BASE/v1/health"; then
		fail "HTTPS: an untrusted certificate is refused by curl" "connected"
	else
		pass "HTTPS: an untrusted certificate is refused by curl"
	fi
	stop_server
	SERVE_EXTRA="" HEALTH_OPTS=""
	BASE="http://127.0.0.1:$PORT"
else
	echo "(openssl unavailable: TLS case skipped)"
fi
expect_rc "serve with only --tls-cert is a usage error" 2 "$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" --tls-cert x

# ---- what must never be written -------------------------------------------

leak=""
for t in "$TOK1" "$TOK2" "$TOK3" "$TOK4" "$TOK5" "$TOKX" "$TOKR" "$TOKL"; do
	if grep -rqF -- "$t" "$D" "$LOG"; then leak="$leak $t"; fi
done
check "no token text in the data directory or the log" "" "$leak"
SK1=$(head -c 64 "$T/k1")
if grep -rqF -- "$SK1" "$D" "$LOG"; then
	fail "no device secret key in the data directory or log" "found"
else
	pass "no device secret key in the data directory or log"
fi
if grep -qF "Zebrafinch" "$LOG" || grep -qF "Please confirm" "$LOG"; then
	fail "no clinical value or query text in the log" "found"
else
	pass "no clinical value or query text in the log"
fi
if python3 -c 'import json,sys
for line in open(sys.argv[1]):
    json.loads(line)' "$LOG"; then
	pass "every log line is one JSON object"
else
	fail "every log line is one JSON object" "$(grep -v '^{' "$LOG" | head -3)"
fi
if grep -q '"path":"/v1/sync/push","status":"401"' "$LOG"; then
	pass "refused requests are logged with their status"
else
	fail "refused requests are logged with their status" "no 401 line"
fi

finish
