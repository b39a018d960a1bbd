#!/bin/sh
# Runs every test: the C unit test binaries, then the shell end-to-end
# scenarios in tests/e2e/. Each prints one "PASS name" or "FAIL name: why"
# line per case; this script counts them and ends with
# "N passed, N failed". A binary or script that exits non-zero without
# printing a FAIL line (a crash, say) counts as one failure.
#
#   CASEBOOK_BIN    directory holding casebook and casebookd
#   CASEBOOK_HOOKS  the test build of casebook, with the test hooks
#   CASEBOOK_UNIT   directory holding the unit test binaries
#   TESTS           optional filter: only tests whose file name contains
#                   one of its words (TESTS="t_sync test_record")
#   JOBS            end-to-end scripts run in parallel (default 2)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CASEBOOK_BIN:=$top/bin}"
: "${CASEBOOK_UNIT:=$top/build/tests}"
: "${CASEBOOK_HOOKS:=$top/build/hooks/casebook}"
: "${JOBS:=2}"
export CASEBOOK_BIN CASEBOOK_HOOKS CASEBOOK_TOP="$top"

out=$(mktemp -d "${TMPDIR:-/tmp}/cbtest.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

# wanted PATH: true when TESTS is unset or one of its words occurs in the
# test's file name (not its directory, which may contain anything).
wanted() {
	[ -n "${TESTS:-}" ] || return 0
	for _w in $TESTS; do
		case "${1##*/}" in *"$_w"*) return 0 ;; esac
	done
	return 1
}

list=""
for t in "$CASEBOOK_UNIT"/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	wanted "$t" || continue
	list="$list unit:$t"
done
for t in "$top"/tests/e2e/t_*.sh; do
	[ -f "$t" ] || continue
	wanted "$t" || continue
	list="$list e2e:$t"
done

# Run up to $JOBS at once; each writes its own log, printed as it finishes.
for item in $list; do
	echo "$item"
done | xargs -P "$JOBS" -I{} sh -c '
	item="{}"; kind=${item%%:*}; path=${item#*:}
	name=$(basename "$path"); log="'"$out"'/$kind-$name.log"
	if [ "$kind" = unit ]; then "$path" >"$log" 2>&1; else sh "$path" >"$log" 2>&1; fi
	rc=$?
	if [ $rc -ne 0 ] && ! grep -q "^FAIL " "$log"; then
		echo "FAIL $name: exited with status $rc" >>"$log"
	fi
	{
	grep -E "^(PASS|FAIL) " "$log" | sed "s|^|[$name] |"
	if grep -q "^FAIL " "$log"; then
		echo "---- output of $name ----"; grep -v "^PASS " "$log" | tail -40; echo "----"
	fi
	} > "$log.summary"
	cat "$log.summary"
'

pass=$(cat "$out"/*.summary 2>/dev/null | grep -c '^\[[^]]*\] PASS ')
fail=$(cat "$out"/*.summary 2>/dev/null | grep -c '^\[[^]]*\] FAIL ')
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
