#!/bin/sh
# t_server_set.sh - `casebook server set URL`: a laptop follows its
# study's server to a new address (the same data directory served on
# another port) once that server proves it holds the key pinned at
# registration; a server with another key, one that shows the pinned key
# but cannot sign with it, one that does not know the device, and an
# address that does not answer are refused, and nothing changes.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=server-set-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
URL1=$URL
at_exit stop_server
FAKE_PID=""
stop_fake() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; return 0; }
at_exit stop_fake

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
cb a init --server "$URL" --token "$(token_for kim coordinator KR01)" --user kim \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"
S1=$(cb a subject add 2>/dev/null | tail -n 1)
expect_rc "sync with the first address" 0 cb a sync
KEY=$(cb a server show 2>/dev/null | sed -n 's/^server key: //p')
check "show gives the pinned key" 64 "${#KEY}"

# The health answer proves the key only with a well-formed challenge.
curl -s "$URL/v1/health?challenge=$(printf '%064d' 7)" >"$T/h.json"
check "health with a challenge gives the server key" "$KEY" "$(jget "$T/h.json" 'j["server_key"]')"
check "health with a challenge gives a proof" 128 "$(jget "$T/h.json" 'len(j["proof"])')"
check "health without one gives neither" "False" "$(curl -s "$URL/v1/health" | python3 -c 'import json,sys; print("proof" in json.load(sys.stdin))')"
check "a bad challenge is refused" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/health?challenge=XYZ")"

expect_rc "server --help" 0 cb a server --help
expect_out "the help says the key is proved" "pinned key"
expect_rc "server needs a subcommand" 2 cb a server
expect_rc "server set needs a URL" 2 cb a server set
expect_rc "server set takes one URL" 2 cb a server set "$URL" "$URL"

# state: the saved address, for "nothing changed"
saved() { cb a server show 2>/dev/null | sed -n 's/^server: //p'; }

# ---- refused: the address does not answer --------------------------------------
DEAD="http://127.0.0.1:$(free_port)"
expect_rc "an address that does not answer" 5 cb a server set "$DEAD"
check "nothing changed (unreachable)" "$URL1" "$(saved)"
expect_rc "a URL that is not http(s)" 1 cb a server set "ftp://127.0.0.1:1"
check "nothing changed (bad URL)" "$URL1" "$(saved)"

# ---- refused: a server with another key ------------------------------------------
D2="$T/other"
"$CBD" init --data "$D2" --protocol "$PROTO" >/dev/null 2>&1 || fail "init other" "failed"
P2=$(free_port)
"$CBD" serve --data "$D2" --listen "127.0.0.1:$P2" 2>>"$T/server.log" &
OTHER=$!
until curl -sf "http://127.0.0.1:$P2/v1/health" >/dev/null 2>&1; do sleep 0.05; done
expect_rc "a server with another key is refused" 1 cb a server set "http://127.0.0.1:$P2"
expect_out "the refusal names the pinned key" "not the key pinned at registration"
check "nothing changed (another key)" "$URL1" "$(saved)"
kill $OTHER; wait $OTHER 2>/dev/null

# ---- refused: the pinned key, but the device unknown there --------------------------
srv_key_copy "$D" "$D2"
"$CBD" serve --data "$D2" --listen "127.0.0.1:$P2" 2>>"$T/server.log" &
OTHER=$!
until curl -sf "http://127.0.0.1:$P2/v1/health" >/dev/null 2>&1; do sleep 0.05; done
expect_rc "a server with the key that does not know this device" 4 cb a server set "http://127.0.0.1:$P2"
expect_out "the refusal says the device is not taken" "does not take this device"
check "nothing changed (device unknown)" "$URL1" "$(saved)"
kill $OTHER; wait $OTHER 2>/dev/null

# ---- refused: shows the pinned key but cannot sign with it -------------------------
P3=$(free_port)
cat >"$T/fake.py" <<PY
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = json.dumps({"status": "ok", "study": "x", "protocol_sha256": "0" * 64,
                        "version": "0", "server_key": "$KEY", "proof": "ab" * 64}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", $P3), H).serve_forever()
PY
python3 "$T/fake.py" &
FAKE_PID=$!
until curl -sf "http://127.0.0.1:$P3/v1/health" >/dev/null 2>&1; do sleep 0.05; done
expect_rc "a server that shows the key but cannot prove it" 1 cb a server set "http://127.0.0.1:$P3"
expect_out "the refusal says the proof failed" "cannot prove"
check "nothing changed (no proof)" "$URL1" "$(saved)"
stop_fake

# ---- the move: the same data directory at another port ------------------------------
OLD_PORT=$PORT
stop_server
PORT=$(free_port)
while [ "$PORT" = "$OLD_PORT" ]; do PORT=$(free_port); done
URL="http://127.0.0.1:$PORT"
start_server || finish
expect_rc "the old address no longer answers" 5 cb a sync
S2=$(cb a subject add 2>/dev/null | tail -n 1)
expect_rc "server set to the moved server" 0 cb a server set "$URL"
expect_out "set says the key was proved" "proved by the server"
check "the new address is saved" "$URL" "$(saved)"
check "the pinned key is unchanged" "$KEY" "$(cb a server show 2>/dev/null | sed -n 's/^server key: //p')"
expect_rc "sync with the new address" 0 cb a sync
"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv" 2>/dev/null
cb a dump >"$T/dev" 2>/dev/null
if cmp -s "$T/srv" "$T/dev" && grep -q "\"$S2\"" "$T/srv" && grep -q "\"$S1\"" "$T/srv"; then
	pass "after the move the server and the laptop hold the same record"
else
	fail "same record after the move" "$(diff "$T/srv" "$T/dev" | head -4)"
fi
finish
