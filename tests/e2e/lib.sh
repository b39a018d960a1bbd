# lib.sh - helpers for end-to-end scenarios. Source it first:
#   . "$(dirname "$0")/lib.sh"
# Gives $CB (the casebook binary), $CBD (casebookd; see is_pg below), $CBH (the test build
# of casebook: the same program plus the test hooks, for `store test-*` and
# `status test-set` only), $T (a private temporary directory removed on
# exit), and:
#   pass NAME / fail NAME WHY          record one case
#   expect_rc NAME RC CMD...           run CMD, case passes if it exits RC;
#                                      output is left in $T/out and $T/err
#   expect_out NAME TEXT               last output ($T/out + $T/err) has TEXT
#   expect_no_out NAME TEXT            last output does not have TEXT
#   free_port                          prints a free loopback TCP port
#   jget FILE EXPR                     a value of the JSON in FILE (j), as
#                                      a Python expression over it
#   "$PTY" ANSWERS CMD...              CMD on a pseudo-terminal, its prompts
#                                      answered (tests/e2e/pty_answer.py)
set -u
: "${CASEBOOK_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${CASEBOOK_BIN:=$CASEBOOK_TOP/bin}"
: "${CASEBOOK_HOOKS:=$CASEBOOK_TOP/build/hooks/casebook}"
CB="$CASEBOOK_BIN/casebook"
CBH="$CASEBOOK_HOOKS"
PTY="$CASEBOOK_TOP/tests/e2e/pty_answer.py"
if grep -q -e "store test-" -e "status test-set" "$0" 2>/dev/null && [ ! -x "$CBH" ]; then
	echo "FAIL test build: $CBH is missing; 'make test' builds it (or make $CBH)"
	exit 1
fi
CBD="$CASEBOOK_BIN/casebookd"
PROTO="$CASEBOOK_TOP/schemas/knee-oa-msc.json"
T=$(mktemp -d "${TMPDIR:-/tmp}/cbe2e.XXXXXX")
# CASEBOOK_TEST_STORE=pg (tests/run.sh's PostgreSQL pass, with
# CASEBOOK_PG_HOST and CASEBOOK_PG_USER of tests/tools/pgtest.sh): $CBD
# keeps each data directory's store in a database of its own instead
# (tests/e2e/cbd_pg.sh), dropped at the end. is_pg says which.
is_pg() { [ "${CASEBOOK_TEST_STORE:-}" = pg ]; }
if is_pg; then
	CBD="$CASEBOOK_TOP/tests/e2e/cbd_pg.sh"
	CASEBOOK_PG_DBLIST="$T/pgdbs"
	export CASEBOOK_PG_DBLIST CASEBOOK_PG_HOST CASEBOOK_PG_USER CASEBOOK_BIN
fi
# srv_db DIR: the name of the database that holds data directory DIR's
# store in the PostgreSQL pass (tests/e2e/cbd_pg.sh names it so).
srv_db() { echo "cb_$(printf %s "$1" | md5sum | cut -c1-24)"; }
# srv_sql SQL [DIR]: run SQL on the central store of data directory DIR
# (default $D), whichever backend holds it; rows as "a|b" lines.
srv_sql() {
	_dir=${2:-$D}
	if is_pg; then
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$CASEBOOK_PG_HOST" \
			-U "$CASEBOOK_PG_USER" -d "$(srv_db "$_dir")" -c "$1"
	else
		sqlite3 "$_dir/casebookd.db" "$1"
	fi
}
# srv_copy DIR NEWDIR: a copy of data directory DIR's central store as
# NEWDIR's, no server running on it: the directory copied, or in
# PostgreSQL the database (CREATE DATABASE ... TEMPLATE, which copies
# every table, the server key's among them).
srv_copy() {
	if is_pg; then
		createdb -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" \
			-T "$(srv_db "$1")" "$(srv_db "$2")" &&
			srv_db "$2" >>"$CASEBOOK_PG_DBLIST"
	else
		cp -a "$1" "$2"
	fi
}
# srv_key_copy DIR NEWDIR: NEWDIR's central store takes DIR's server key
# (the file server.key, or in PostgreSQL the server_key table's row).
srv_key_copy() {
	if is_pg; then
		srv_sql "SELECT secret FROM server_key" "$1" >"$T/.key.txt" &&
			srv_sql "DELETE FROM server_key" "$2" &&
			srv_sql "INSERT INTO server_key(id, secret) VALUES(1, '$(cat "$T/.key.txt")')" "$2"
	else
		cp "$1/server.key" "$2/server.key"
	fi
}
_cleanup_hooks=""
_cleanup() {
	for h in $_cleanup_hooks; do "$h" || true; done
	if is_pg && [ -f "$T/pgdbs" ]; then
		while read -r _db; do
			dropdb -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" \
				--if-exists "$_db" >/dev/null 2>&1 || true
		done <"$T/pgdbs"
	fi
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 1' INT TERM
at_exit() { _cleanup_hooks="$_cleanup_hooks $1"; }

_failures=0
pass() { echo "PASS $1"; }
fail() {
	echo "FAIL $1: $2"
	_failures=$((_failures + 1))
}

expect_rc() {
	_name=$1 _want=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq "$_want" ]; then
		pass "$_name"
	else
		fail "$_name" "exit $_rc, wanted $_want; stderr: $(head -c 400 "$T/err")"
	fi
}

expect_out() {
	if cat "$T/out" "$T/err" | grep -qF -- "$2"; then
		pass "$1"
	else
		fail "$1" "output lacks '$2'; got: $(cat "$T/out" "$T/err" | head -c 400)"
	fi
}

expect_no_out() {
	if cat "$T/out" "$T/err" | grep -qF -- "$2"; then
		fail "$1" "output has '$2'"
	else
		pass "$1"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# free_ports N: N free loopback ports, all different (each is held while
# the next is picked; N calls of free_port may give one port twice).
free_ports() {
	python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))
for x in s: x.close()' "$1"
}

# check NAME WANT GOT: the case passes when GOT equals WANT.
check() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "wanted '$2', got '$3'"; fi
}

# cb HOME ARGS...: casebook on the laptop whose store is $T/h/HOME.
cb() {
	_h=$1
	shift
	"$CB" --home "$T/h/$_h" "$@"
}
# cbh HOME ARGS...: the same with the test build (test hooks).
cbh() {
	_h=$1
	shift
	"$CBH" --home "$T/h/$_h" "$@"
}

# start_server [SERVE-OPTIONS...] / stop_server: casebookd serve on the data directory $D at
# 127.0.0.1:$PORT (the script sets D, PORT and URL=http://127.0.0.1:$PORT),
# its log appended to $T/server.log. start_server polls /v1/health until
# the server answers (never a fixed sleep); stop_server sends SIGTERM and
# waits. Scripts that start one call `at_exit stop_server`.
SRV_PID=""
start_server() {
	"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" "$@" \
		2>>"$T/server.log" &
	SRV_PID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ]; then
			fail "server starts" "no answer on $URL"
			return 1
		fi
		sleep 0.05
	done
}
stop_server() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	SRV_PID=""
	return 0
}

# person NAME ROLE [SITE]: register a person with the server of $D
# (casebookd user add; a person already known is left as is). The server
# takes events only from the people it knows.
person() {
	"$CBD" user add --data "$D" "$1" --full-name "Test ${1}" --role "$2" \
		${3:+--site "$3"} >/dev/null 2>&1 || true
}
# people NAME:ROLE[:SITE]...: person for each.
people() {
	for _spec in "$@"; do
		_pn=${_spec%%:*} _rest=${_spec#*:}
		_pr=${_rest%%:*} _ps=""
		[ "$_rest" != "$_pr" ] && _ps=${_rest#*:}
		person "$_pn" "$_pr" $_ps
	done
}
# token_for NAME ROLE [SITE]: register the person if new and print a
# one-time registration token for their device.
token_for() {
	person "$@"
	"$CBD" token create --data "$D" --user "$1" 2>/dev/null
}

# Call at the end of each script so the exit status reflects failures.
finish() { [ "$_failures" -eq 0 ]; exit $?; }

jget() {
	python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
v=eval(sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2" 2>/dev/null
}
