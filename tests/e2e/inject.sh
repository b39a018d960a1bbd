# inject.sh - the loop tests of failure injection, shared by t_inject.sh
# (the laptop: form set, ae add, sync) and t_inject_srv.sh (casebookd:
# serve, bundle import). Source it after lib.sh with INJECT_OPS set,
# then call run_loops and finish.
#
# Failure injection, SQLite's and curl's way (issue 14):
# the real binaries run under tests/tools/faultinj.c (LD_PRELOAD), which
# makes the Nth allocation, SQLite step, commit, file write or fsync
# fail, for N = 1, 2, ... until the fault no longer fires. Operations:
#
#   form set        a correction with a reason plus a new item (laptop)
#   ae add          an AE whose soft check opens a query in the same
#                   transaction (laptop)
#   sync            the laptop's push and pull, faults in the laptop
#   serve           the same sync, faults in casebookd serve (push and
#                   pull handlers; armed by the request after the
#                   health check)
#   bundle import   casebookd bundle import of the laptop's bundle
#
# Each run must either fail with a clear error (exit 1, or 5 for an
# unreachable server; a message on stderr; no signal, no sanitizer
# report) and leave every store as it was, or succeed completely.
# "As it was" and "completely" are canonical dumps compared with the
# dumps before and after a run without faults (laptop dumps with event
# ids and times masked, since a laptop makes new ones each run); the
# server's derived tables must equal a rebuild after every run; after a
# faulty sync a clean one must bring laptop and server to the very
# record a clean sync gives (nothing lost, nothing twice).
#
# A run that fails but whose change is durable (a commit whose fsync
# failed is in the write-ahead log, and SQLite replays it) is allowed
# and counted ("durable failures"): the store is whole, and running the
# command again is safe.
#
# The error must also say what happened: a failed allocation, SQLite
# call or write is never reported as bad JSON, a damaged store, a wrong
# passphrase, a rejected value or a store that was never registered.
#
# By default each loop covers N = 1 to 8 and then a seeded sample of
# larger N, ending at the first N that no call reaches (CASEBOOK_SEED,
# printed); INJECT_FULL=1 (make inject) runs every N. INJECT_OPS and INJECT_CLASSES narrow the run (names as
# above; classes malloc sql commit write fsync).

: "${CASEBOOK_TOOLS:=$CASEBOOK_TOP/build/tools}"
FI="$CASEBOOK_TOOLS/faultinj.so"
[ -f "$FI" ] || {
	fail "faultinj.so" "$FI is missing; 'make test' builds it"
	finish
}
command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
SEED=${CASEBOOK_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
echo "seed $SEED (rerun with CASEBOOK_SEED=$SEED)"
: "${INJECT_FULL:=0}"
: "${INJECT_CLASSES:=malloc sql commit write fsync}"
export CASEBOOK_PASSPHRASE=inject-pass-1 CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_CLOCK_OFFSET_MS
# Under AddressSanitizer (gcc's libasan.so) the shim goes first.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
at_exit stop_server
cd "$T" || exit 1

# ---- the set-up: a server, laptop A with unsynced work, B's work on the server

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "casebookd init"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
for spec in A:investigator B:coordinator; do
	h=${spec%%:*} r=${spec#*:}
	t=$(token_for "u$h" "$r" KR01)
	cb "$h" init --server "$URL" --token "$t" --user "u$h" >/dev/null 2>"$T/err" ||
		fail "register $h" "$(cat "$T/err")"
done
S=$(cb A subject add 2>"$T/err") || fail "subject add" "$(cat "$T/err")"
cb A form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "set-up" "DM"
cb A sync >/dev/null 2>&1 || fail "set-up" "sync A"
cb B sync >/dev/null 2>&1 || fail "set-up" "sync B"
cb B form set "$S" BL VAS VAS=40 >/dev/null 2>&1 || fail "set-up" "B VAS"
cb B form set "$S" BL PE ROM=120 EFFUS=NONE >/dev/null 2>&1 || fail "set-up" "B PE"
cb B sync >/dev/null 2>&1 || fail "set-up" "sync B 2"
cb A form set "$S" SCR ELIG AGE=66 KLGRADE=2 PAIN3M=Y BMI=27 IAINJ3M=N \
	INFLARTH=N PREG=N >/dev/null 2>&1 || fail "set-up" "A ELIG"
cb A ae add "$S" AETERM=Headache AESTDTC=2026-01-06 AEONGO=Y AETOXGR=1 \
	AESEV=MILD AESER=N >/dev/null 2>&1 || fail "set-up" "A AE"
cb A bundle export a.bundle >/dev/null 2>"$T/err" || fail "bundle export" "$(cat "$T/err")"
stop_server
cp -a "$D" D0
cp -a "$T/h/A" A0

# The masked laptop dump (event ids, clock values and times vary per run).
mask() {
	sed -E 's/[0-9a-f]{32}/ID/g; s/[0-9a-f]{16}/HLC/g;
		s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/TIME/g' "$@"
}
lap_dump() { # HOME OUT
	"$CB" --home "$1" dump >"$2" 2>&1
}
# The server's state: its canonical dump of every event, and its
# derived tables. A second file gets the derived tables of a rebuild
# (made on a copy, so the store itself is left as the run left it).
srv_state() { # DIR OUT
	{
		"$CBD" dump --data "$1" --canonical 2>&1
		echo "---- derived"
		"$CBD" dump --data "$1" 2>&1
	} >"$2"
}
srv_rebuilt() { # DIR OUT
	rm -rf rb
	cp -a "$1" rb
	{
		"$CBD" dump --data rb --canonical 2>&1
		echo "---- derived"
		"$CBD" rebuild --data rb >/dev/null 2>&1 || echo "rebuild failed"
		"$CBD" dump --data rb 2>&1
	} >"$2"
}
lap_dump A0 A0.dump
mask A0.dump >A0.mdump
srv_state D0 D0.state

restore_lap() {
	rm -rf "$T/h/A"
	cp -a A0 "$T/h/A"
}
restore_srv() {
	rm -rf "$D"
	cp -a D0 "$D"
}

# ---- the operations --------------------------------------------------------

# op_NAME runs the operation under the faults in $FAULTENV; prep_NAME
# restores what it changes.
op_form() {
	env $FAULTENV LD_PRELOAD="$FI" "$CB" --home "$T/h/A" form set "$S" SCR DM \
		WEIGHT=72 HEIGHT=161 --reason "scale recalibrated" >run.out 2>run.err
}
op_ae() {
	env $FAULTENV LD_PRELOAD="$FI" "$CB" --home "$T/h/A" ae add "$S" \
		AETERM=Nausea AESTDTC=2026-01-07 AEONGO=N AETOXGR=1 AESEV=MILD \
		AESER=N >run.out 2>run.err
}
op_sync() {
	env $FAULTENV LD_PRELOAD="$FI" "$CB" --home "$T/h/A" sync --retries 1 \
		>run.out 2>run.err
}
op_serve() {
	"$CB" --home "$T/h/A" sync --retries 1 >run.out 2>run.err
}
op_bundle() {
	rm -f a.reply
	env $FAULTENV LD_PRELOAD="$FI" "$CBD" bundle import --data "$D" a.bundle \
		--reply a.reply >run.out 2>run.err
}

# A server under faults, for op_serve: armed at the request after the
# health check (accept number 2).
start_faulty_server() {
	env $FAULTENV CBFAULT_ARM="${SERVE_ARM:-accept:2}" LD_PRELOAD="$FI" \
		"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" 2>srv.err &
	SRV_PID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -gt 400 ] && return 1
		sleep 0.02
	done
}

# The reference: each operation once, without faults.
ref() {
	restore_lap
	restore_srv
	case $1 in
	form | ae)
		FAULTENV=CBFAULT=none "op_$1" || fail "reference $1" "$(cat run.err)"
		lap_dump "$T/h/A" ref.dump
		mask ref.dump >"ref_$1.mdump"
		;;
	sync | serve)
		start_server || return 1
		FAULTENV=CBFAULT=none op_sync || fail "reference sync" "$(cat run.err)"
		stop_server
		lap_dump "$T/h/A" ref_sync.adump
		srv_state "$D" ref_sync.state
		;;
	bundle)
		FAULTENV=CBFAULT=none op_bundle || fail "reference bundle" "$(cat run.err)"
		srv_state "$D" ref_bundle.state
		;;
	esac
}
for op in $INJECT_OPS; do ref "$op"; done
if cmp -s A0.dump ref_sync.adump || cmp -s D0.state ref_sync.state; then
	fail "set-up" "the reference sync changed nothing"
fi

# INJECT_COUNT=1: print how many calls of each class each operation
# makes, and stop.
if [ "${INJECT_COUNT:-0}" = 1 ]; then
	for op in $INJECT_OPS; do
		for cls in $INJECT_CLASSES; do
			FAULTENV="CBFAULT=$cls CBFAULT_N=999999999 CBFAULT_LOG=$T/fi.log"
			[ "$op" = serve ] || [ "$op" = bundle ] ||
				FAULTENV="$FAULTENV CBFAULT_ARM=sqlite3_open"
			rm -f fi.log
			restore_lap
			restore_srv
			case $op in
			sync) start_server ;;
			serve) start_faulty_server ;;
			esac
			"op_$op"
			stop_server
			echo "count $op $cls: $(sed -n 's/^calls [a-z]* \([0-9]*\).*/\1/p' fi.log | tr '\n' ' ')"
		done
	done
	exit 0
fi

# ---- one run, judged --------------------------------------------------------

DURABLE=0
MSGS="$T/messages"
: >"$MSGS"
# judge_rc OP: the exit status and stderr of a run that may have failed.
# Prints nothing and returns 0 when acceptable; else prints why.
judge_rc() {
	_errs=$(cat run.err srv.err 2>/dev/null)
	case $_errs in
	*Sanitizer* | *"runtime error:"*)
		echo "sanitizer report: $(grep -m3 -e Sanitizer -e 'runtime error' run.err srv.err 2>/dev/null)"
		return 1
		;;
	esac
	if [ "$RC" -gt 128 ]; then
		echo "killed by signal $((RC - 128)): $(tail -c 300 run.err)"
		return 1
	fi
	[ "$RC" -eq 0 ] && return 0
	if [ "$RC" -ne 1 ] && [ "$RC" -ne 5 ]; then
		echo "exit $RC (wanted 0, 1 or 5): $(tail -c 300 run.err)"
		return 1
	fi
	if ! grep -q -e '^casebook: ' -e '^casebookd: ' run.err; then
		echo "exit $RC with no message: $(tail -c 300 run.err)"
		return 1
	fi
	case $(grep -e '^casebook' run.err) in
	*"invalid JSON"* | *"integrity error"* | *damaged* | *"not registered"* | \
		*"wrong passphrase"* | *rejected*)
		echo "a misleading message for a failed $CLS call: $(grep -m2 -e '^casebook' run.err)"
		return 1
		;;
	esac
	# Keep each distinct message (with numbers masked) for the log.
	sed -E 's/[0-9]+/N/g' run.err | grep -e '^casebook' | head -2 |
		sed "s/^/$1 $CLS: /" >>"$MSGS"
	return 0
}
# which_lap: "before", "after" or "neither" for laptop A against $1 (the
# reference after a clean run).
which_lap() {
	lap_dump "$T/h/A" now.dump
	if cmp -s now.dump A0.dump; then
		echo before
	elif [ -n "${2:-}" ] && mask now.dump | cmp -s - "$1"; then
		echo after
	elif [ -z "${2:-}" ] && cmp -s now.dump "$1"; then
		echo after
	else
		echo neither
	fi
}
which_srv() {
	srv_state "$D" now.state
	if cmp -s now.state D0.state; then
		echo before
	elif cmp -s now.state "$1"; then
		echo after
	else
		echo neither
	fi
}

# run_one OP: restore, run OP with $FAULTENV, judge. Sets FIRED (0/1).
# Returns 1 (after printing why) when the run is wrong.
run_one() {
	_op=$1
	rm -f fi.log srv.err
	restore_lap
	[ "$_op" = form ] || [ "$_op" = ae ] || restore_srv
	case $_op in
	form | ae)
		"op_$_op"
		RC=$?
		;;
	sync)
		start_server || {
			echo "server did not start"
			return 1
		}
		op_sync
		RC=$?
		;;
	serve)
		start_faulty_server || {
			echo "faulty server did not start: $(tail -3 srv.err)"
			return 1
		}
		op_serve
		RC=$?
		if ! kill -0 "$SRV_PID" 2>/dev/null; then
			wait "$SRV_PID"
			echo "the server died (status $?): $(grep -v '"level":"info"' srv.err | head -c 3000)"
			SRV_PID=""
			return 1
		fi
		;;
	bundle)
		op_bundle
		RC=$?
		;;
	esac
	stop_server
	FIRED=0
	grep -q '^fired' fi.log 2>/dev/null && FIRED=1
	judge_rc "$_op" || return 1
	case $_op in
	form | ae)
		_st=$(which_lap "ref_$_op.mdump" masked)
		;;
	sync | serve)
		_st="$(which_lap ref_sync.adump)/$(which_srv ref_sync.state)"
		;;
	bundle)
		_st=$(which_srv ref_bundle.state)
		if [ "$RC" -eq 0 ] && [ ! -s a.reply ]; then
			echo "exit 0 and no reply written"
			return 1
		fi
		if [ "$RC" -ne 0 ] && [ -e a.reply ]; then
			echo "a failed import left a reply file: $(tail -c 200 run.err)"
			return 1
		fi
		;;
	esac
	case $_st in
	*neither*)
		echo "a store is half changed ($_st, exit $RC): $(tail -c 300 run.err)"
		case $_op in form | ae | sync | serve) diff A0.dump now.dump | head -5 ;; esac
		return 1
		;;
	esac
	if [ "$RC" -eq 0 ]; then
		case $_op in
		form | ae | bundle)
			[ "$_st" = after ] || {
				echo "exit 0 but the store is unchanged ($_st)"
				return 1
			}
			;;
		sync | serve)
			[ "$_st" = after/after ] || {
				echo "exit 0 but not synced ($_st)"
				return 1
			}
			;;
		esac
	else
		case $_st in
		before | before/before | before/after) ;;
		*)
			DURABLE=$((DURABLE + 1))
			echo "durable: $_op $CLS $FAULTENV: $_st: $(grep -m1 '^casebook' run.err)" >>durable.log
			;;
		esac
	fi
	# Every store stays sound.
	if [ "$_op" != bundle ] && ! "$CB" --home "$T/h/A" store check >chk.out 2>&1; then
		echo "store check fails: $(tail -c 300 chk.out)"
		return 1
	fi
	if [ "$_op" != form ] && [ "$_op" != ae ] && ! cmp -s now.state D0.state; then
		srv_rebuilt "$D" rebuilt.state
		cmp -s now.state rebuilt.state || {
			echo "the server's derived tables differ from a rebuild: $(diff now.state rebuilt.state | head -4)"
			return 1
		}
	fi
	# After a faulty sync that left the laptop and the server apart, a
	# clean one gives the record a clean sync gives.
	case $_op/$_st in
	sync/before/after | serve/before/after)
		start_server || return 1
		"$CB" --home "$T/h/A" sync >resync.out 2>&1 || {
			stop_server
			echo "the clean sync after it fails: $(tail -c 300 resync.out)"
			return 1
		}
		stop_server
		_st="$(which_lap ref_sync.adump)/$(which_srv ref_sync.state)"
		[ "$_st" = after/after ] || {
			echo "after a clean sync the record is not the reference ($_st)"
			diff ref_sync.state now.state | head -5
			return 1
		}
		;;
	esac
	return 0
}

# next_n N: the next N of a loop: every N (INJECT_FULL=1), else every
# N up to 8, then steps of a quarter to three quarters of N drawn from
# the seed, so each run tries other calls and a loop over thousands of
# allocations takes some twenty runs.
next_n() {
	if [ "$INJECT_FULL" = 1 ] || [ "$1" -lt 8 ]; then
		echo $(($1 + 1))
	else
		awk -v n="$1" -v s="$SEED" 'BEGIN { srand(s + n);
			printf "%d\n", n + 1 + int(n / 4 + rand() * n / 2) }'
	fi
}

# loop OP CLASS STICKY: N = 1, 2, ... until the fault does not fire
# (with LOOP_CAP set and not INJECT_FULL: every N up to LOOP_CAP).
loop() {
	OP=$1 CLS=$2 STICKY=$3
	_name=${LOOP_NAME:-$OP}
	_n=0 _runs=0 _failed=0 _bad=0 _last=0 _max=2000
	[ "$INJECT_FULL" = 1 ] && _max=50000
	_mode=once
	[ "$STICKY" = 1 ] && _mode=sticky
	while :; do
		if [ -n "${LOOP_CAP:-}" ] && [ "$INJECT_FULL" != 1 ]; then
			# Every LOOP_STEP-th N from a seeded start.
			if [ $_n -eq 0 ]; then
				_n=$((1 + SEED % ${LOOP_STEP:-1}))
			else
				_n=$((_n + ${LOOP_STEP:-1}))
			fi
			[ $_n -gt "$LOOP_CAP" ] && break
		else
			_n=$(next_n $_n)
		fi
		FAULTENV="CBFAULT=$CLS CBFAULT_N=$_n CBFAULT_STICKY=$STICKY CBFAULT_LOG=$T/fi.log"
		[ "$OP" = form ] || [ "$OP" = ae ] || [ "$OP" = sync ] &&
			FAULTENV="$FAULTENV CBFAULT_ARM=sqlite3_open"
		_runs=$((_runs + 1))
		if ! run_one "$OP" >why.txt 2>&1; then
			fail "$_name: $CLS $_n ($_mode)" "$(cat why.txt) (seed $SEED)"
			_bad=$((_bad + 1))
			[ $_bad -ge 3 ] && break
		fi
		[ "$RC" -ne 0 ] && _failed=$((_failed + 1))
		if [ "$FIRED" = 0 ]; then
			_last=$_n
			break
		fi
		if [ $_runs -ge $_max ]; then
			fail "$_name: $CLS" "still firing after $_max runs"
			break
		fi
	done
	echo "loop $_name $CLS $_mode: $_runs runs, $_failed failed cleanly, no fault at N=$_last"
	[ $_bad -eq 0 ] && pass "$_name: every failing $CLS ($_mode) leaves the store whole"
}

# aimed NAME TEXT MAX STEP: casebookd serve with its allocations counted
# from the first step of a statement holding TEXT, every STEP-th N up to
# MAX from a seeded start (every N until none fails with INJECT_FULL=1):
# windows where a failed allocation once became a wrong verdict on the
# device (refused, or an event rejected for good).
aimed() {
	SERVE_ARM="sql:$2" LOOP_CAP=$3 LOOP_STEP=$4 LOOP_NAME=$1
	loop serve malloc 0
	SERVE_ARM="" LOOP_CAP="" LOOP_STEP="" LOOP_NAME=""
}

# INJECT_ONLY="OP CLASS N STICKY": that one run alone, to replay a
# failure; its files stay in INJECT_KEEP (a directory) when that is set.
run_only() {
	set -- $INJECT_ONLY
	CLS=$2
	FAULTENV="CBFAULT=$2 CBFAULT_N=$3 CBFAULT_STICKY=$4 CBFAULT_LOG=$T/fi.log"
	[ "$1" = serve ] || [ "$1" = bundle ] ||
		FAULTENV="$FAULTENV CBFAULT_ARM=sqlite3_open"
	if run_one "$1" >why.txt 2>&1; then
		pass "$INJECT_ONLY"
	else
		fail "$INJECT_ONLY" "$(cat why.txt)"
	fi
	[ -n "${INJECT_KEEP:-}" ] && cp -a "$T/." "$INJECT_KEEP/"
}

# run_loops: every loop of $INJECT_OPS and $INJECT_CLASSES: each class
# once (a transient failure); allocation and writes also sticky (memory
# gone, a full disk: the server must answer errors and not die).
run_loops() {
	if [ -n "${INJECT_ONLY:-}" ]; then
		run_only
		return
	fi
	for op in $INJECT_OPS; do
		for cls in $INJECT_CLASSES; do
			loop "$op" "$cls" 0
			case $cls in
			malloc | write) loop "$op" "$cls" 1 ;;
			esac
		done
	done
	echo "durable failures (exit 1, change committed): $DURABLE"
	cat durable.log 2>/dev/null
	echo "messages seen:"
	sort "$MSGS" | uniq -c | sort -rn | head -60
}
