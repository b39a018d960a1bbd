#!/bin/sh
# HTTPS end to end: scripts/dev-cert.sh makes a development certificate,
# casebookd serves with it (--tls-cert/--tls-key), and a device registers
# and syncs over https trusting it with --cacert. Without --cacert, or
# trusting another certificate, the client refuses the server with a
# clear certificate error and loses nothing (the token stays unused, the
# events stay queued). curl(1) checks the server independently.
. "$(dirname "$0")/lib.sh"

DEVCERT="$CASEBOOK_TOP/scripts/dev-cert.sh"
for tool in curl openssl; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed (scripts/install-deps.sh)"
		finish
	}
done
export CASEBOOK_PASSPHRASE=tls-test-passphrase CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
C="$T/cert"
PORT=$(free_port)
URL="https://127.0.0.1:$PORT"
SRV_PID=""

# ---- the certificate -------------------------------------------------------

expect_rc "dev-cert.sh makes a certificate" 0 sh "$DEVCERT" "$C"
expect_out "it says how to serve with it" "--tls-cert $C/cert.pem --tls-key $C/key.pem"
expect_out "it says how a device trusts it" "casebook init --server https://127.0.0.1:8443 --cacert $C/cert.pem"
if [ -s "$C/cert.pem" ] && [ -s "$C/key.pem" ]; then
	pass "cert.pem and key.pem are written"
else
	fail "cert.pem and key.pem are written" "$(ls -l "$C" 2>&1)"
fi
case $(stat -c %a "$C/key.pem" 2>/dev/null) in
600) pass "the key is readable by its owner only" ;;
*) fail "the key is readable by its owner only" "mode $(stat -c %a "$C/key.pem" 2>&1)" ;;
esac
openssl x509 -in "$C/cert.pem" -noout -text >"$T/x509" 2>&1
if grep -q "IP Address:127.0.0.1" "$T/x509" && grep -q "DNS:localhost" "$T/x509"; then
	pass "subjectAltName holds 127.0.0.1 and localhost"
else
	fail "subjectAltName holds 127.0.0.1 and localhost" "$(grep -A1 Alternative "$T/x509")"
fi
if openssl x509 -in "$C/cert.pem" -noout -checkend 86400 >/dev/null 2>&1; then
	pass "the certificate is valid now and tomorrow"
else
	fail "the certificate is valid now and tomorrow" "$(openssl x509 -in "$C/cert.pem" -noout -dates 2>&1)"
fi
cp "$C/key.pem" "$T/key.before"
expect_rc "a second run keeps the existing pair" 1 sh "$DEVCERT" "$C"
expect_out "and says why" "already holds"
if cmp -s "$C/key.pem" "$T/key.before"; then
	pass "the key is unchanged"
else
	fail "the key is unchanged" "key.pem was replaced"
fi
expect_rc "dev-cert.sh without a directory is a usage error" 2 sh "$DEVCERT"
expect_rc "another certificate, for the wrong-trust cases" 0 sh "$DEVCERT" "$T/other"

# ---- the server over https -------------------------------------------------

expect_rc "casebookd init" 0 "$CBD" init --data "$D" --protocol "$PROTO"
expect_rc "site add" 0 "$CBD" site add --data "$D" KR01 --name Seoul
people kim:coordinator:KR01 lee:coordinator:KR01
TOK1=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>>"$T/tok.err")
TOK2=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>>"$T/tok.err")

at_exit stop_server
"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" --tls-cert "$C/cert.pem" \
	--tls-key "$C/key.pem" 2>>"$T/server.log" &
SRV_PID=$!
_i=0
until curl -sf --cacert "$C/cert.pem" "$URL/v1/health" >/dev/null 2>&1; do
	_i=$((_i + 1))
	if [ $_i -gt 400 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
		fail "the https server starts" "no answer on $URL; log: $(tail -3 "$T/server.log")"
		finish
	fi
	sleep 0.05
done
pass "the https server starts"
if grep -q '"tls":"yes"' "$T/server.log"; then
	pass "the server logs that it serves TLS"
else
	fail "the server logs that it serves TLS" "$(head -3 "$T/server.log")"
fi
curl -s "$URL/v1/health" >/dev/null 2>&1
check_rc=$?
if [ $check_rc -eq 60 ]; then
	pass "curl without --cacert refuses the certificate"
else
	fail "curl without --cacert refuses the certificate" "curl exit $check_rc, wanted 60"
fi
if curl -s --max-time 5 "http://127.0.0.1:$PORT/v1/health" 2>/dev/null | grep -q '"status":"ok"'; then
	fail "no plain http on the TLS port" "a plain http request was answered"
else
	pass "no plain http on the TLS port"
fi

# ---- a device ----------------------------------------------------------------

H1="$T/laptop1"
H2="$T/laptop2"
expect_rc "init over https without --cacert fails" 5 "$CB" --home "$H1" init \
	--server "$URL" --token "$TOK1" --user kim
expect_out "with a clear certificate error" "SSL certificate problem"
expect_out "naming the server" "$URL"
expect_out "and the token is kept" "the token is still unused"
if [ -e "$H1/casebook.db" ]; then
	fail "the refused init leaves no store" "$H1/casebook.db exists"
else
	pass "the refused init leaves no store"
fi
expect_rc "init trusting another certificate fails" 5 "$CB" --home "$H1" init \
	--server "$URL" --token "$TOK1" --user kim --cacert "$T/other/cert.pem"
expect_out "with a certificate error too" "certificate"

expect_rc "init over https with --cacert" 0 "$CB" --home "$H1" init \
	--server "$URL" --token "$TOK1" --user kim --cacert "$C/cert.pem"
expect_out "the device is registered" "Registered with $URL"
S1=$("$CB" --home "$H1" subject add 2>"$T/err")
expect_rc "offline entry" 0 "$CB" --home "$H1" form set "$S1" SCR SV VISDT=2024-01-08
expect_rc "sync over https (the certificate kept from init)" 0 "$CB" --home "$H1" sync
expect_out "both events accepted" "pushed 2 events: 2 accepted"

expect_rc "a second device over https" 0 "$CB" --home "$H2" init \
	--server "$URL" --token "$TOK2" --user lee --cacert "$C/cert.pem"
expect_rc "it syncs" 0 "$CB" --home "$H2" sync
expect_out "and pulls the first device's events" "pulled 2 events, 2 new"
expect_rc "it sees the subject" 0 "$CB" --home "$H2" form show "$S1" SCR SV
expect_out "with its value" "2024-01-08"

expect_rc "more offline entry" 0 "$CB" --home "$H1" form set "$S1" SCR DM \
	CONSDT=2024-01-05 BRTHYR=1961 SEX=F HEIGHT=162 WEIGHT=68 KNEE=R
expect_rc "sync trusting the wrong certificate fails" 5 "$CB" --home "$H1" sync \
	--cacert "$T/other/cert.pem" --retries 0
expect_out "with a clear certificate error" "SSL certificate problem"
expect_out "and the event stays queued" "1 event stays queued"
expect_rc "the next sync sends it" 0 "$CB" --home "$H1" sync
expect_out "exactly once" "pushed 1 event: 1 accepted"

"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv.dump" 2>&1
"$CB" --home "$H2" sync >/dev/null 2>&1
"$CB" --home "$H2" dump >"$T/dev.dump" 2>&1
if [ -s "$T/srv.dump" ] && cmp -s "$T/srv.dump" "$T/dev.dump"; then
	pass "server and second device hold the same record"
else
	fail "server and second device hold the same record" "$(diff "$T/srv.dump" "$T/dev.dump" | head -5)"
fi
if grep -q "$TOK1" "$T/server.log" "$D"/* 2>/dev/null; then
	fail "no token in the log or the data directory" "token found"
else
	pass "no token in the log or the data directory"
fi

finish
