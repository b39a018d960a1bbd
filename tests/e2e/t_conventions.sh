#!/bin/sh
# t_conventions.sh - what every `casebook` command does alike: --help on
# every command and subcommand (exit 0, its usage); --json on every read
# command, parsed by python3's json module; the global --quiet, which
# drops the progress line (on a terminal) and the informational lines
# and keeps the data asked for and the errors; and no colour anywhere,
# terminal or not.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=alice-pass-1

"$CB" init --site KR01 --device-index 1 --protocol "$PROTO" --user alice \
	--role investigator >/dev/null 2>&1 || fail "init" "init failed"
S1=$("$CB" subject add 2>/dev/null)
"$CB" form set "$S1" SCR DM SEX=F HEIGHT=170 >/dev/null 2>&1 ||
	fail "setup" "form set failed"

# ---- --help on every command and subcommand ---------------------------------
# The commands are those `casebook --help` lists; the subcommands those
# their usage lines name (the words scripts/completion.bash offers).
cmds=$("$CB" --help | awk '/^Commands:/ { on = 1; next }
	on && /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }')
n=0
for c in $cmds; do
	n=$((n + 1))
	expect_rc "casebook $c --help exits 0" 0 "$CB" "$c" --help
	expect_out "casebook $c --help shows its usage" "usage: casebook $c"
	subs=$("$CB" "$c" --help | awk -v cmd="$c" '/^$/ { exit }
		{ for (i = 2; i <= NF; i++) if ($(i-1) == cmd && $i ~ /^[a-z][a-z-]*$/) print $i }' |
		sort -u)
	for s in $subs; do
		expect_rc "casebook $c $s --help exits 0" 0 "$CB" "$c" "$s" --help
	done
done
if [ "$n" -ge 25 ]; then
	pass "every listed command was asked ($n)"
else
	fail "commands listed" "only $n"
fi
expect_rc "casebook --help names --quiet" 0 "$CB" --help
expect_out "global help documents --quiet" "--quiet"
expect_out "global help says there is no colour" "no colour"

# ---- --json on every read command ----------------------------------------------
# Each line: the words after `casebook` of one read command. A command
# added later that reads belongs here.
cat >"$T/reads" <<EOF
protocol check $PROTO --json
protocol show $PROTO --json
score womac P1=1 P2=2 --json
user list --json
subject list --json
subject show $S1 --json
form show $S1 SCR DM --json
form show $S1 SCR DM --history --json
query list --json
query list --all --json
status --json
server show --json
store check --json
EOF
while read -r line; do
	# shellcheck disable=SC2086
	"$CB" $line >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$line" "exit $rc: $(head -c 300 "$T/err")"
	elif python3 -m json.tool "$T/out" >/dev/null 2>&1; then
		pass "$line: parses as JSON"
	else
		fail "$line" "not JSON: $(head -c 200 "$T/out")"
	fi
	# the --json of each is documented in its help
	c=${line%% *}
	if "$CB" "$c" --help | grep -q -- "--json"; then
		pass "$c --help documents --json"
	else
		fail "$c --help" "no --json"
	fi
done <"$T/reads"
jcheck() { python3 -c "import json,sys; d=json.load(open('$T/out')); print($1)"; }
"$CB" user list --json >"$T/out" 2>/dev/null
check "user list --json names the user and role" "alice investigator" \
	"$(jcheck '" ".join([d["users"][0]["user"], d["users"][0]["role"]])')"
"$CB" store check --json >"$T/out" 2>/dev/null
check "store check --json: status and counts" "intact 2 $S1" \
	"$(jcheck '"%s %d" % (d["status"], d["events"])') $("$CB" subject list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["subjects"][0]["id"])')"
check "store check --json digest is store check's" \
	"$("$CB" store check | sed -n 's/^content digest //p')" \
	"$(jcheck 'd["digest"]')"
"$CB" server show --json >"$T/out" 2>/dev/null
check "server show --json of a local laptop: nulls" "None None" \
	"$(jcheck 'd["server"], d["server_key"]' | tr -d '(),')"
"$CB" protocol show "$PROTO" --json >"$T/out" 2>/dev/null
check "protocol show --json: visits and forms in order" "SCR SV" \
	"$(jcheck 'd["visits"][0]["visit"], d["visits"][0]["forms"][0]' | tr -d "(),'")"
expect_rc "protocol check --json of a bad file fails as without" 1 \
	"$CB" protocol check --json "$T/reads"
expect_rc "user list with another option is a usage error" 2 \
	"$CB" user list --csv
expect_rc "store check with another option is a usage error" 2 \
	"$CB" store check --bogus

# ---- --quiet ------------------------------------------------------------------------
expect_rc "form set without --quiet" 0 "$CB" form set "$S1" SCR DM WEIGHT=60
expect_out "form set says what it saved" "saved 1 item"
expect_rc "form set with --quiet" 0 "$CB" --quiet form set "$S1" SCR DM \
	WEIGHT=61 --reason "scale"
check "--quiet form set prints nothing" "" "$(cat "$T/out" "$T/err")"
expect_rc "the quiet save was saved" 0 "$CB" -q form show "$S1" SCR DM --json
expect_out "--quiet keeps the data asked for" '"61"'
expect_rc "--quiet keeps errors" 3 "$CB" --quiet form set "$S1" SCR DM HEIGHT=9999
expect_out "--quiet error is printed" "HEIGHT"
S2=$("$CB" subject add 2>/dev/null)
S3=$("$CB" subject add 2>/dev/null)
python3 "$CASEBOOK_TOP/tests/e2e/paper_crfs.py" "$S2" >"$T/a.csv"
python3 "$CASEBOOK_TOP/tests/e2e/paper_crfs.py" "$S3" >"$T/b.csv"
expect_rc "import without --quiet" 0 "$CB" import --format csv "$T/a.csv"
expect_out "import prints its summary" "import: "
expect_rc "import with --quiet" 0 "$CB" --quiet import --format csv "$T/b.csv"
check "--quiet import prints nothing" "" "$(cat "$T/out" "$T/err")"
# The progress line: drawn on a terminal, never with --quiet.
S4=$("$CB" subject add 2>/dev/null)
S5=$("$CB" subject add 2>/dev/null)
python3 "$CASEBOOK_TOP/tests/e2e/paper_crfs.py" "$S4" >"$T/c.csv"
python3 "$CASEBOOK_TOP/tests/e2e/paper_crfs.py" "$S5" >"$T/d.csv"
"$PTY" "" "$CB" import --format csv "$T/c.csv" >"$T/out" 2>&1
check "import on a terminal exits 0" 0 $?
expect_out "import on a terminal draws its progress line" "import: "
if grep -q "import: [0-9]* of [0-9]* rows" "$T/out"; then
	pass "the progress line counts rows"
else
	fail "progress line" "$(head -c 300 "$T/out")"
fi
"$PTY" "" "$CB" --quiet import --format csv "$T/d.csv" >"$T/out" 2>&1
check "quiet import on a terminal exits 0" 0 $?
if grep -q "import: [0-9]* of [0-9]* rows" "$T/out"; then
	fail "--quiet: no progress line on a terminal" "$(head -c 300 "$T/out")"
else
	pass "--quiet: no progress line on a terminal"
fi
expect_rc "--quiet import did import" 0 "$CB" subject show "$S5" --json
expect_out "the quiet import's values are there" '"SEX"'

# ---- no colour, on a terminal or not, with NO_COLOR or not ------------------------
esc=$(printf '\033')
for line in "subject list" "status" "form show $S1 SCR DM" "query list" \
	"subject show $S1" "--help"; do
	# shellcheck disable=SC2086
	"$PTY" "" "$CB" $line >"$T/out" 2>&1
	"$CB" $line >>"$T/out" 2>&1
	NO_COLOR=1 "$PTY" "" "$CB" $line >>"$T/out" 2>&1
	if grep -q "$esc\[[0-9;]*m" "$T/out"; then
		fail "no colour: $line" "an SGR colour sequence was printed"
	else
		pass "no colour: $line"
	fi
done

finish
