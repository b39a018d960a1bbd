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
#   CASEBOOK_PG     "no": skip the PostgreSQL pass
#
# The PostgreSQL pass: the server's own tests run a second time with the
# central store in PostgreSQL (CASEBOOK_TEST_STORE=pg; store.h), on a
# server of their own (tests/tools/pgtest.sh, removed at the end), and
# the scenarios only PostgreSQL has (t_pg_*.sh: several casebookd on one
# database). Their lines read "[pg NAME]".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
: "${CASEBOOK_BIN:=$top/bin}"
: "${CASEBOOK_UNIT:=$top/build/tests}"
: "${CASEBOOK_HOOKS:=$top/build/hooks/casebook}"
: "${JOBS:=2}"
export CASEBOOK_BIN CASEBOOK_HOOKS CASEBOOK_TOP="$top"

out=$(mktemp -d "${TMPDIR:-/tmp}/cbtest.XXXXXX")
pgdir="$out/pg"
chmod 711 "$out" # the PostgreSQL server's unprivileged user reaches $pgdir
trap '"$top/tests/tools/pgtest.sh" stop "$pgdir" 2>/dev/null; rm -rf "$out"' EXIT INT TERM

# The server's tests that the PostgreSQL pass runs again: the server's
# unit tests and every scenario that drives casebookd, but t_disk,
# t_faults, t_inject_srv, t_trial, t_security_paths and t_security_text
# (they look into or fail SQLite's own files), t_gen_study (the
# generator makes SQLite stores) and t_install (installed files); the
# others test the laptop alone.
# Under sanitizers (CASEBOOK_PG_LEAN=1: make SANITIZE=... test) fewer.
PG_UNIT="test_srv_core"
PG_E2E="t_arms t_backup t_bundle t_casebookd t_derived t_edit_checks t_export t_migrate
t_query t_randomize t_randomize_many t_report t_roles t_schema t_server t_sync
t_attack t_clinical t_scenario t_status t_security_net t_tls t_server_set t_derived_random t_laptop_export t_clock t_sync_faults t_journey
t_cli t_import t_laptop_backup t_score_conflict"
[ "${CASEBOOK_PG_LEAN:-}" = 1 ] && PG_E2E="t_migrate t_schema t_server t_sync"

# wanted PATH: true when TESTS is unset or one of its words occurs in the
# test's file name (not its directory, which may contain anything).
wanted() {
	[ -n "${TESTS:-}" ] || return 0
	for _w in $TESTS; do
		case "${1##*/}" in *"$_w"*) return 0 ;; esac
		case "$1" in "pg "*"$_w"*) return 0 ;; esac
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
	case "$t" in */t_pg_*) continue ;; esac # the PostgreSQL pass's
	wanted "$t" || continue
	list="$list e2e:$t"
done

if [ "${CASEBOOK_PG:-}" != no ]; then
	pglist=""
	for t in $PG_UNIT; do
		[ -x "$CASEBOOK_UNIT/$t" ] || continue
		wanted "pg $t" || continue
		pglist="$pglist pgunit:$CASEBOOK_UNIT/$t"
	done
	for t in $PG_E2E "$top"/tests/e2e/t_pg_*.sh; do
		t=$(basename "$t" .sh)
		[ -f "$top/tests/e2e/$t.sh" ] || continue
		wanted "pg $t" || continue
		pglist="$pglist pge2e:$top/tests/e2e/$t.sh"
	done
	if [ -n "$pglist" ]; then
		if pg=$("$top/tests/tools/pgtest.sh" start "$pgdir" 2>"$out/pg.err"); then
			CASEBOOK_PG_HOST=${pg% *}
			CASEBOOK_PG_USER=${pg#* }
			export CASEBOOK_PG_HOST CASEBOOK_PG_USER
			list="$list $pglist"
		else
			echo "[pg] FAIL start PostgreSQL: $(tail -3 "$out/pg.err")" >"$out/pg.summary"
			cat "$out/pg.summary"
		fi
	fi
fi

# Run up to $JOBS at once; each writes its own log, printed as it finishes.
for item in $list; do
	echo "$item"
done | xargs -P "$JOBS" -I{} sh -c '
	item="{}"; kind=${item%%:*}; path=${item#*:}
	name=$(basename "$path"); log="'"$out"'/$kind-$name.log"
	case "$kind" in pg*) export CASEBOOK_TEST_STORE=pg; name="pg $name" ;; esac
	case "$kind" in
	unit|pgunit) "$path" >"$log" 2>&1 ;;
	*) sh "$path" >"$log" 2>&1 ;;
	esac
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
