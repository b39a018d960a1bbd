# safety_lib.sh - the study of t_export.sh and t_report.sh, built through
# the real programs: a sealed list for KR01 and KR02, a casebookd on
# loopback, laptops of two coordinators at KR01 (a, a2), one at KR02 (b),
# an investigator at KR01 (inv) and the unblinded laboratory (lab). The
# subjects, their data and adverse events are tests/e2e/safety_study.py's
# (which also computes what every export and report must hold); this
# file only carries its steps out. Source it after lib.sh, then:
#
#   build_study      everything; $T/ids.txt maps the study's keys to
#                    subject ids, randomization and kit numbers;
#                    $T/mark.part1 is a UTC time between the two parts
#                    (the KR01 subjects are received before it, KR02's
#                    after); $T/list.json is the sealed list
#   STUDY            runs safety_study.py
export CASEBOOK_PASSPHRASE=safety-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
unset CASEBOOK_CODEBREAK_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
STUDY_PY="$CASEBOOK_TOP/tests/e2e/safety_study.py"
STUDY() { python3 "$STUDY_PY" "$@"; }
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

_now_utc() {
	python3 -c 'import datetime
t = datetime.datetime.now(datetime.timezone.utc)
print(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))'
}

# ms from now to DATE at 10:00 UTC: a laptop clock set to that day.
_offset_to() {
	python3 -c 'import datetime, sys, time
d = datetime.datetime.fromisoformat(sys.argv[1] + "T10:00:00+00:00")
print(int((d.timestamp() - time.time()) * 1000))' "$1"
}

# _register DEV ROLE SITE|- USER: the person is made known to the server
# (lib.sh's token_for), then their laptop registers.
_register() {
	if [ "$3" = - ]; then
		_t=$(token_for "$4" "$2")
	else
		_t=$(token_for "$4" "$2" "$3")
	fi
	cb "$1" init --server "$URL" --token "$_t" --user "$4" >/dev/null 2>&1 ||
		fail "register $1" "casebook init failed"
}

_step_fail() { fail "study step: $1" "$(head -c 400 "$T/step.err")"; }

build_study() {
	CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out "$T/unblind.key" \
		>/dev/null 2>&1 || fail "keygen" "failed"
	"$CB" randlist generate --protocol "$PROTO" --sites KR01,KR02 \
		--per-stratum 20 --block-sizes 2,4 --seed "safety-e2e-$$-abcdefghijk" \
		--unblinding-pub "$T/unblind.key.pub" --out "$T/list.json" \
		>/dev/null 2>&1 || fail "randlist generate" "failed"
	sed -n 's/^    \([A-Z0-9]\{4\}-.*\)$/\1/p' "$T/list.json.KR01.codebreak.txt" \
		>"$T/sheet.pass"
	"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 ||
		fail "casebookd init" "failed"
	"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
	"$CBD" site add --data "$D" KR02 --name Busan >/dev/null 2>&1
	"$CBD" randlist import --data "$D" "$T/list.json" >/dev/null 2>&1 ||
		fail "randlist import" "failed"
	start_server --lease 8 || return 1
	_register a coordinator KR01 coorda
	_register a2 coordinator KR01 coorda2
	_register b coordinator KR02 coordb
	_register inv investigator KR01 invlee
	_register lab lab - labkim
	for _d in a a2 b inv lab; do
		cb "$_d" sync >/dev/null 2>&1 || fail "first sync $_d" "failed"
	done
	STUDY steps >"$T/steps.txt" || fail "study steps" "safety_study.py failed"
	set -f
	_n=0
	while IFS= read -r _line; do
		_n=$((_n + 1))
		_old=$IFS
		IFS='	'
		# shellcheck disable=SC2086
		set -- $_line
		IFS=$_old
		_op=$1 _key=${2:-} _dev=${3:-}
		_sid=""
		[ -n "$_key" ] && [ -f "$T/sid.$_key" ] && _sid=$(cat "$T/sid.$_key")
		case $_op in
		add)
			cb "$_dev" subject add >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			tr -d '\n' <"$T/step.out" >"$T/sid.$_key"
			;;
		set)
			shift 3
			cb "$_dev" form set "$_sid" "$@" >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			;;
		setr)
			_v=$4 _f=$5 _why=$6
			shift 6
			cb "$_dev" form set "$_sid" "$_v" "$_f" "$@" --reason "$_why" \
				>"$T/step.out" 2>"$T/step.err" || _step_fail "$_line"
			;;
		ae)
			shift 3
			cb "$_dev" ae add "$_sid" "$@" >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			;;
		rand)
			CASEBOOK_CLOCK_OFFSET_MS=$(_offset_to "$4") cb "$_dev" \
				randomize "$_sid" >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			_rn=$(sed -n 's/.*randomization number: *//p' "$T/step.out")
			_kit=$(sed -n 's/.*kit number: *//p' "$T/step.out")
			echo "$_rn $_kit" >"$T/rand.$_key"
			;;
		dose)
			_kit=$(cut -d' ' -f2 "$T/rand.$_key")
			cb "$_dev" form set "$_sid" INJ DOSE EXDTC="$4" KITNO="$_kit" \
				EXVOL=3.0 EXKNEE=L EXLOT=LOT-1 IMMREACT=N \
				>"$T/step.out" 2>"$T/step.err" || _step_fail "$_line"
			;;
		sign)
			cb "$_dev" sign "$_sid" "$4" "$5" >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			;;
		unblind)
			cb "$_dev" unblind "$_sid" --reason "$4" \
				--codebreak-file "$T/sheet.pass" \
				>"$T/step.out" 2>"$T/step.err" || _step_fail "$_line"
			;;
		sync)
			cb "$_key" sync >"$T/step.out" 2>"$T/step.err" ||
				_step_fail "$_line"
			grep -q " 0 rejected" "$T/step.out" ||
				! grep -q "rejected" "$T/step.out" ||
				fail "study step: $_line" "$(cat "$T/step.out")"
			;;
		mark)
			sleep 1
			_now_utc >"$T/mark.$_key"
			sleep 1
			;;
		*)
			fail "study step $_n" "unknown step $_op"
			;;
		esac
	done <"$T/steps.txt"
	set +f
	: >"$T/ids.txt"
	for _f in "$T"/sid.*; do
		_key=${_f##*/sid.}
		_r=""
		[ -f "$T/rand.$_key" ] && _r=$(cat "$T/rand.$_key")
		echo "$_key $(cat "$_f") $_r" >>"$T/ids.txt"
	done
}
