#!/bin/sh
# run.sh - run libFuzzer targets (make fuzz, make fuzz-ci).
#
#   tests/fuzz/run.sh TARGET...
#
# For each target: first replay its seeds and regression inputs
# (tests/fuzz/corpus/T, tests/fuzz/regress/T) once, then fuzz it for
# FUZZ_SECONDS (default 60) with the seeds, its dictionary
# (tests/fuzz/dict) and a working corpus in
# build-fuzz/corpus/T (new inputs land there, never in the tree). A crash,
# leak, sanitizer report or timeout leaves its input in
# build-fuzz/artifacts/T/; fix it, then copy the input to
# tests/fuzz/regress/T/ so every later run replays it. Prints one PASS or
# FAIL line per target and ends with "N passed, N failed".
#
#   FUZZ_SECONDS   time per target (0: replay only)
#   FUZZ_JOBS      targets fuzzed at once, each on its own processor
#                  (default 1; make fuzz-ci: 2)
#   FUZZ_ARGS      more libFuzzer options
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
: "${FUZZ_SECONDS:=60}"
: "${FUZZ_ARGS:=}"
B="$top/build-fuzz"
export CASEBOOK_TOP="$top"
# Sanitizers stop at the first report and give the stack in full.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0
fail=0

# One target: its PASS or FAIL lines on stdout; 0 when it passed.
run_one() {
	t=$1
	bin="$B/fuzz/fuzz_$t"
	log="$B/logs/$t.log"
	mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$t: $bin is missing (make fuzz-build)"
		return 1
	fi
	# A dictionary of the tokens its inputs are made of (tests/fuzz/dict).
	case $t in
	push | push_signed | bundle | merge) dict=event ;;
	canon) dict=json ;;
	*) dict=$t ;;
	esac
	dictarg=""
	[ -f "$top/tests/fuzz/dict/$dict.dict" ] &&
		dictarg="-dict=$top/tests/fuzz/dict/$dict.dict"
	dirs="$top/tests/fuzz/corpus/$t"
	[ -d "$top/tests/fuzz/regress/$t" ] && dirs="$dirs $top/tests/fuzz/regress/$t"
	# shellcheck disable=SC2086
	if ! "$bin" -runs=0 $dirs >"$log" 2>&1; then
		echo "FAIL fuzz_$t: replaying the seeds and regression inputs failed:"
		grep -E "ERROR|SUMMARY|fuzz property|runtime error|Running" "$log" | tail -8
		return 1
	fi
	if [ "$FUZZ_SECONDS" -gt 0 ]; then
		# shellcheck disable=SC2086
		"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$B/artifacts/$t/" $dictarg $FUZZ_ARGS \
			"$B/corpus/$t" $dirs >>"$log" 2>&1
		rc=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		if [ $rc -ne 0 ]; then
			echo "FAIL fuzz_$t: after ${execs:-?} runs; input in $B/artifacts/$t/, log $log:"
			grep -E "ERROR|SUMMARY|fuzz property|runtime error|Test unit written" "$log" | tail -8
			return 1
		fi
		echo "PASS fuzz_$t: ${execs:-?} runs in ${FUZZ_SECONDS}s, no crash"
	else
		echo "PASS fuzz_$t: seeds and regression inputs replayed"
	fi
	return 0
}

# FUZZ_JOBS targets at a time (each on its own processor), each for its
# full FUZZ_SECONDS; the verdicts are printed in the order given.
: "${FUZZ_JOBS:=1}"
while [ $# -gt 0 ]; do
	batch=""
	k=0
	while [ $# -gt 0 ] && [ "$k" -lt "$FUZZ_JOBS" ]; do
		mkdir -p "$B/logs"
		(run_one "$1" >"$B/logs/$1.verdict" 2>&1
		 echo $? >"$B/logs/$1.rc") &
		batch="$batch $1"
		k=$((k + 1))
		shift
	done
	wait
	for t in $batch; do
		cat "$B/logs/$t.verdict"
		if [ "$(cat "$B/logs/$t.rc")" = 0 ]; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
		fi
	done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
