#!/bin/sh
# t_roles.sh - the role matrix and the blind scan (issue #5), on a real
# casebookd on loopback with two sites (KR01, KR02):
#
#   1. Setup: the statistician's key and a sealed list for both sites,
#      imported; a casebook device of every role (site roles at KR01 and
#      at KR02, the central roles), and a raw signed-request device of
#      every role (test_reqsig); subject S at KR01 enrolled, randomized
#      and dosed; the lab enters its unblinded CELL values.
#   2. The matrix, read from roles_matrix.txt: every endpoint (and every
#      kind of pushed event) and every client command x every role x own
#      or other site, each row's expected allow/deny checked against what
#      actually happened (HTTP status, push result, exit code and the
#      sync that follows, what a pull or a form shows). A refusal for
#      the role must be exit 4 (not authorized).
#   3. The scan: every byte returned to a blinded role (coordinator,
#      investigator, datamanager, monitor, statistician) - HTTP response
#      headers and bodies, every command's stdout and stderr, `casebook
#      dump`, `subject show`, `query list`, `status` of every blinded
#      device, the bundle and reply files of two new blinded laptops
#      that sync by carried files, and the server's log - holds no arm
#      code (whole word), no arm label, no sealed-arm blob of the list
#      and no value the lab entered (the protocol's own text, served to
#      every role, taken out first). Two exceptions by design: the
#      site's arm_site blobs in /v1/slots answers to site devices, and
#      the investigator's own code-break, which is the scanner's
#      positive control; planting each kind in a copy of an output
#      shows the scanner fails when it should.
#   4. Blinding on the device itself: a coordinator's laptop that is
#      sent the lab's events anyway (the server's device row edited to
#      simulate a filter failure) still withholds them in `form show`
#      (text, --json, --history), `query list` and `subject show`.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
if [ ! -x "$U" ]; then
	fail "signing client" "test_reqsig not built (set CASEBOOK_UNIT)"
	finish
fi
for tool in curl sqlite3 python3; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed"
		finish
	}
done
export CASEBOOK_PASSPHRASE=roles-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
unset CASEBOOK_CODEBREAK_PASSPHRASE
MATRIX="$CASEBOOK_TOP/tests/e2e/roles_matrix.txt"
D="$T/data"
LOG="$T/server.log"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
# shellcheck disable=SC2034 # lib.sh start_server uses it
URL=$BASE
SITE_ROLES="coordinator investigator"
CENTRAL_ROLES="datamanager monitor statistician dsmb lab"
ROLES="$SITE_ROLES $CENTRAL_ROLES"
BLINDED="coordinator investigator datamanager monitor statistician"
# The lab's values of the unblinded CELL items (client, then raw push).
CELL1="987.6" VIAB1="81.9" CELL2="876.5" CELL3="765.4" VIAB3="72.8"
CELL4="654.3"
cd "$T" || exit 1
mkdir -p seen

at_exit stop_server

# Everything a role is given is kept under seen/ROLE for the scan.
_nseen=0
keep() { # ROLE FILE...
	_r=$1
	shift
	mkdir -p "seen/$_r"
	for _f in "$@"; do
		_nseen=$((_nseen + 1))
		cp "$_f" "seen/$_r/$_nseen.$(basename "$_f")"
	done
}

# on DEV ARGS: casebook on device DEV (a role name, or role2 at KR02);
# exit code returned, output in $T/out and $T/err and kept for the scan.
on() {
	_d=$1
	shift
	"$CB" --home "$T/h/$_d" "$@" >"$T/out" 2>"$T/err"
	_rc=$?
	keep "${_d%2}" "$T/out" "$T/err"
	return $_rc
}

# ---- 1. setup ------------------------------------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01,KR02 \
	--per-stratum 16 --block-sizes 2,4 --seed "roles-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
CBPASS=$(sed -n 's/^    \([A-Z0-9]\{4\}-.*\)$/\1/p' list.json.KR01.codebreak.txt)
printf '%s\n' "$CBPASS" >sheet.pass
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" site add --data "$D" KR02 --name Busan >/dev/null 2>&1
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
# What may never reach a blinded role: the arm codes and labels of the
# protocol and every sealed arm of the list.
python3 - "$PROTO" list.json <<'EOF' >secrets.txt
import json, sys
p = json.load(open(sys.argv[1]))
for a in p["arms"]:
    print("label\t" + a["label"])
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k.startswith("arm_") and isinstance(v, str) and len(v) >= 32:
                print(k + "\t" + v)
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(json.load(open(sys.argv[2])))
EOF
ARMS=$(python3 -c 'import json,sys
print(" ".join(a["code"] for a in json.load(open(sys.argv[1]))["arms"]))' "$PROTO")
check "protocol arms" "MSC PBO" "$ARMS"
if [ "$(grep -c '^arm_site' secrets.txt)" -ge 32 ] &&
	[ "$(grep -c '^arm_unblind' secrets.txt)" -ge 32 ]; then
	pass "sealed arms of the list collected for the scan"
else
	fail "sealed arms of the list collected for the scan" "$(cut -f1 secrets.txt | sort | uniq -c)"
fi
start_server || finish

token() { # ROLE [SITE]
	if [ -n "${2:-}" ]; then
		"$CBD" token create --data "$D" --site "$2" --role "$1" 2>/dev/null
	else
		"$CBD" token create --data "$D" --role "$1" 2>/dev/null
	fi
}
# The people: u and raw ROLE at KR01 (site roles) or central, u and raw
# ROLE2 at KR02.
for r in $ROLES; do
	case " $SITE_ROLES " in *" $r "*) s=KR01 ;; *) s="" ;; esac
	person "u$r" "$r" $s
	person "raw$r" "$r" $s
done
for r in $SITE_ROLES; do
	person "u${r}2" "$r" KR02
	person "raw${r}2" "$r" KR02
done
people ubcoordinator:coordinator:KR01 ubmonitor:monitor uleaky:coordinator:KR01
# Casebook devices: ROLE at KR01 (site roles) or central; ROLE2 at KR02.
for r in $ROLES; do
	case " $SITE_ROLES " in *" $r "*) s=KR01 ;; *) s="" ;; esac
	t=$(token "$r" $s)
	"$CB" --home "$T/h/$r" init --server "$BASE" --token "$t" --user "u$r" \
		>/dev/null 2>"$T/err" || fail "device $r" "$(cat "$T/err")"
done
for r in $SITE_ROLES; do
	t=$(token "$r" KR02)
	"$CB" --home "$T/h/${r}2" init --server "$BASE" --token "$t" \
		--user "u${r}2" >/dev/null 2>"$T/err" || fail "device ${r}2" "$(cat "$T/err")"
done

# Raw devices for the endpoint rows: key in k.ROLE, id in $T/dev.ROLE.
# hreq ROLE METHOD PATH QUERY [BODYFILE]: signed request by ROLE's raw
# device; status in $code, body in $T/resp, headers in $T/resph.
hreq() {
	_r=$1 _m=$2 _p=$3 _q=$4 _b=${5:-}
	_url="$BASE$_p"
	[ -n "$_q" ] && _url="$_url?$_q"
	# shellcheck disable=SC2086
	"$U" client headers "k.$_r" "$(cat "dev.$_r")" "$_m" "$_p" "$_q" $_b >hdr || return 1
	if [ -n "$_b" ]; then
		code=$(curl -s -D "$T/resph" -o "$T/resp" -w '%{http_code}' -X "$_m" \
			-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
			-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" \
			-H 'Content-Type: application/json' --data-binary @"$_b" "$_url")
	else
		code=$(curl -s -D "$T/resph" -o "$T/resp" -w '%{http_code}' -X "$_m" \
			-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
			-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" "$_url")
	fi
	# /v1/slots carries the site's sealed arms (arm_site) to a site
	# device by design (docs/api.md): named apart for the scan.
	if [ "$_p" = /v1/slots ]; then
		cp "$T/resp" "$T/resp.slots"
		keep "${_r%2}" "$T/resph" "$T/resp.slots"
	else
		keep "${_r%2}" "$T/resph" "$T/resp"
	fi
}
# register ROLE TOKEN: a raw device; status in $code.
register() {
	_pk=$("$U" client keygen "k.$1") || return 1
	printf '{"token":"%s","public_key":"%s","user":"raw%s"}' "$2" "$_pk" "$1" >reg.json
	code=$(curl -s -D "$T/resph" -o "$T/resp" -w '%{http_code}' -X POST \
		--data-binary @reg.json "$BASE/v1/register")
	keep "${1%2}" "$T/resph" "$T/resp"
	jget "$T/resp" 'j["device"]' >"dev.$1"
	jget "$T/resp" 'j["device_index"]' >"idx.$1"
}
REG_CODE=""
for r in $ROLES; do
	case " $SITE_ROLES " in *" $r "*) s=KR01 ;; *) s="" ;; esac
	register "$r" "$(token "$r" $s)"
	REG_CODE="$REG_CODE $r=$code"
done
for r in $SITE_ROLES; do
	register "${r}2" "$(token "$r" KR02)"
	REG_CODE="$REG_CODE ${r}2=$code"
done
# pushev ROLE SITE SUBJECT KIND VISIT FORM INSTANCE ARGS...: one event
# signed by ROLE's raw device, pushed alone; the event in ev.json.
pushev() {
	_r=$1
	shift
	_site=$1
	shift
	"$U" client event "k.$_r" "$(cat "dev.$_r")" "$_site" "raw$_r" "$@" \
		>ev.json 2>"$T/err" || return 1
	printf '{"events":[%s]}' "$(cat ev.json)" >push.json
	hreq "$_r" POST /v1/sync/push "" push.json
}
result() { jget "$T/resp" 'j["results"][0]["status"] + ":" + str(j["results"][0].get("code"))'; }

# Subject S: enrolled, randomized and dosed by the KR01 coordinator.
enroll() { # DEV: prints the new subject
	on "$1" subject add || return 1
	_s=$(cat "$T/out")
	on "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L || return 1
	on "$1" form set "$_s" SCR ELIG AGE=60 KLGRADE=2 PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N || return 1
	echo "$_s"
}
on coordinator sync || fail "first sync" "$(cat "$T/err")"
S=$(enroll coordinator) || fail "enroll S" "$(cat "$T/err")"
S2=$(enroll coordinator) || fail "enroll S2" "$(cat "$T/err")"
on coordinator randomize "$S" || fail "randomize S" "$(cat "$T/err")"
KIT=$(sed -n 's/.*kit number: *//p' "$T/out")
RANDNO=$(sed -n 's/.*randomization number: *//p' "$T/out")
on coordinator form set "$S" INJ DOSE EXDTC=2026-01-20T10:00 KITNO="$KIT" \
	EXVOL=3.0 EXKNEE=L EXLOT=LOT-1 IMMREACT=N || fail "dose S" "$(cat "$T/err")"
on coordinator form set "$S" BL VAS VAS=40 || fail "VAS of S" "$(cat "$T/err")"
on coordinator sync
expect_out "setup pushed with nothing rejected" "0 rejected"
# A query for the answer rows, opened by the data manager's raw device.
pushev datamanager KR01 "$S" query.open BL VAS "" --data text=Please-confirm \
	--data item=VAS
QID=$(jget ev.json 'j["id"]')
check "setup query opened" "accepted:None" "$(result)"
for d in $ROLES coordinator2 investigator2; do
	on "$d" sync || fail "setup sync $d" "$(cat "$T/err")"
done
# The unblinded laboratory enters the cell product's values.
on lab form set "$S" INJ CELL CELLCNT="$CELL1" VIABIL="$VIAB1" STERIL=PASS ||
	fail "lab enters CELL" "$(cat "$T/err")"
on lab sync
expect_out "lab's CELL values accepted" "1 accepted"
for d in $ROLES coordinator2 investigator2; do
	on "$d" sync || fail "sync $d" "$(cat "$T/err")"
done

# ---- 2. the matrix -------------------------------------------------------

has() { grep -qF -- "$1" "$2"; }
# The sealed arms of the trial unblinding key, for the slots rows.
grep '^arm_unblind' secrets.txt | cut -f2 >unblind.blobs

# row_http WHAT ROLE DEV: sets $got to allow, deny or odd:WHY.
row_http() {
	_w=$1 _r=$2 _d=$3
	got=""
	case $_w in
	health)
		code=$(curl -s -D "$T/resph" -o "$T/resp" -w '%{http_code}' "$BASE/v1/health")
		keep "$_r" "$T/resph" "$T/resp"
		;;
	register)
		code=$(echo "$REG_CODE" | tr ' ' '\n' | sed -n "s/^$_d=//p")
		[ "$code" = 201 ] && code=200
		;;
	protocol) hreq "$_d" GET /v1/protocol "" ;;
	pull) hreq "$_d" GET /v1/sync/pull "since=0&limit=1000" ;;
	pull-sees-subject)
		hreq "$_d" GET /v1/sync/pull "since=0&limit=1000"
		[ "$code" = 200 ] && { has "\"$S\"" "$T/resp" && got=allow || got=deny; }
		;;
	pull-sees-cell)
		hreq "$_d" GET /v1/sync/pull "since=0&limit=1000"
		# an event of the CELL form, not the "withheld" note of one
		[ "$code" = 200 ] && { python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if any(e["target"]["form"] == "CELL" for e in j["events"]) else 1)' "$T/resp" && got=allow || got=deny; }
		;;
	queries) hreq "$_d" GET /v1/queries "" ;;
	queries-sees-subject)
		hreq "$_d" GET /v1/queries ""
		[ "$code" = 200 ] && { has "\"$S\"" "$T/resp" && got=allow || got=deny; }
		;;
	slots) hreq "$_d" GET /v1/slots "" ;;
	arms) hreq "$_d" GET /v1/arms "" ;;
	arms-sees-sealed-unblind)
		hreq "$_d" GET /v1/arms ""
		grep -qFf unblind.blobs "$T/resp" && got=allow || got=deny
		;;
	slots-sees-kr01)
		hreq "$_d" GET /v1/slots ""
		has '"R-KR01-' "$T/resp" && got=allow || got=deny
		;;
	slots-sees-sealed-unblind)
		hreq "$_d" GET /v1/slots ""
		grep -qFf unblind.blobs "$T/resp" && got=allow || got=deny
		;;
	push-*)
		case $_w in
		push-save-vas) pushev "$_d" KR01 "$S2" form.save BL VAS "" VAS=33 ;;
		push-save-cell)
			pushev "$_d" KR01 "$S2" form.save INJ CELL "" \
				CELLCNT="$CELL3" VIABIL="$VIAB3" STERIL=FAIL
			;;
		push-save-rand)
			pushev "$_d" KR01 "$S2" form.save BL RAND "" \
				RANDNO="$RANDNO" KITNO="$KIT"
			;;
		push-sign)
			pushev "$_d" KR01 "$S" sign BL VAS "" --data meaning=reviewed \
				--data seen=
			;;
		push-unblind)
			pushev "$_d" KR01 "$S" unblind "" "" "" --reason matrix \
				--data slot="$RANDNO"
			;;
		push-query-open)
			pushev "$_d" KR01 "$S" query.open BL VAS "" \
				--data text=Check --data item=VAS
			;;
		push-query-answer)
			pushev "$_d" KR01 "$S" query.answer BL VAS "" \
				--data query="$QID" --data text=Confirmed
			;;
		push-query-close)
			pushev datamanager KR01 "$S" query.open BL VAS "" \
				--data text=To-close --data item=VAS
			_q=$(jget ev.json 'j["id"]')
			pushev "$_d" KR01 "$S" query.close BL VAS "" \
				--data query="$_q" --data text=Closed
			;;
		push-subject-status)
			# A new subject in the pushing device's own range.
			_new=$((${_new:-900} + 1))
			pushev "$_d" KR01 "KR01-$(printf '%02d' "$(cat "idx.$_d")")$_new" \
				subject.status "" "" "" --data status=screening
			;;
		esac
		if [ "$code" = 200 ]; then
			case $(result) in
			accepted:None) got=allow ;;
			rejected:forbidden | rejected:site) got=deny ;;
			*) got="odd:$(result) $(head -c 300 "$T/resp")" ;;
			esac
		fi
		;;
	*) got="odd:unknown row" ;;
	esac
	if [ -z "$got" ]; then
		case $code in
		200) got=allow ;;
		401 | 403) got=deny ;;
		*) got="odd:status $code $(head -c 200 "$T/resp")" ;;
		esac
	fi
}

# row_cmd WHAT ROLE DEV SITE: sets $got. A command allowed must also be
# accepted by the server at the sync that follows; one refused must leave
# nothing to push.
row_cmd() {
	_w=$1 _r=$2 _d=$3 _site=$4
	got=""
	on "$_d" sync >/dev/null
	case $_w in
	form-set-vas) on "$_d" form set "$S" BL VAS VAS=41 --reason matrix ;;
	form-set-cell)
		on "$_d" form set "$S" INJ CELL CELLCNT="$CELL2" \
			--reason "recount gave $CELL2"
		;;
	form-set-rand) on "$_d" form set "$S" BL RAND KITNO="$KIT" ;;
	form-show-cell-values)
		on "$_d" form show "$S" INJ CELL
		_rc=$?
		if [ $_rc -eq 0 ]; then
			has "$CELL1" "$T/out" || has "$CELL2" "$T/out" &&
				got=allow || got=deny
		fi
		(exit $_rc)
		;;
	sign) on "$_d" sign "$S" BL VAS --meaning reviewed ;;
	unblind)
		on "$_d" unblind "$S" --reason matrix --yes --codebreak-file sheet.pass
		_rc=$?
		# The investigator's own code-break is the one place an arm may
		# be shown: kept apart as the scanner's positive control.
		if [ $_rc -eq 0 ]; then
			cp "$T/out" "unblind.$_d.out"
			rm -f "seen/$_r/$((_nseen - 1)).out"
		fi
		(exit $_rc)
		;;
	query-open) on "$_d" query open "$S" BL VAS VAS --text "Please check" ;;
	query-answer) on "$_d" query answer "$QID" --text "Confirmed" ;;
	query-close)
		pushev datamanager KR01 "$S" query.open BL VAS "" \
			--data text=To-close --data item=VAS
		_q=$(jget ev.json 'j["id"]')
		on "$_d" sync >/dev/null
		on "$_d" query close "$_q" --text "Closed"
		;;
	randomize)
		if [ "$_site" = central ]; then
			on "$_d" randomize "$S2"
		else
			_s=$(enroll "$_d") && on "$_d" randomize "$_s"
		fi
		;;
	subject-add) on "$_d" subject add ;;
	*) got="odd:unknown row" ;;
	esac
	_rc=$?
	[ -n "$got" ] && return 0
	cp "$T/err" cmd.err
	if [ $_rc -eq 0 ]; then
		on "$_d" sync
		if has " 0 rejected" "$T/out"; then
			got=allow
		else
			got="odd:exit 0 but the server refused: $(cat "$T/out")"
		fi
	elif [ $_rc -eq 1 ] || [ $_rc -eq 3 ] || [ $_rc -eq 4 ]; then
		# Refused for the role (4), or, at another site, because the
		# subject is unknown there: a refusal for the role must say
		# "not authorized" with exit 4.
		if [ $_rc -ne 4 ] && [ "$_site" != other ]; then
			fail "$_w $_r: a refusal for the role exits 4" \
				"exit $_rc: $(head -c 200 cmd.err)"
		fi
		on "$_d" sync
		if has "pushed 0 events" "$T/out"; then
			got=deny
		else
			got="odd:refused but recorded: $(cat "$T/out")"
		fi
	else
		got="odd:exit $_rc: $(head -c 300 cmd.err)"
	fi
}

nrows=0 nallow=0 ndeny=0
while read -r what role site want <&3; do
	case $what in '' | '#'*) continue ;; esac
	dev=$role
	[ "$site" = other ] && dev=${role}2
	case $what in
	http:*) row_http "${what#http:}" "$role" "$dev" ;;
	cmd:*) row_cmd "${what#cmd:}" "$role" "$dev" "$site" ;;
	*) got="odd:unknown kind" ;;
	esac
	nrows=$((nrows + 1))
	if [ "$got" = "$want" ]; then
		pass "matrix $what $role $site: $want"
		[ "$want" = allow ] && nallow=$((nallow + 1)) || ndeny=$((ndeny + 1))
	else
		fail "matrix $what $role $site" "wanted $want, got $got"
	fi
done 3<"$MATRIX"
echo "matrix: $nrows rows ($nallow allow, $ndeny deny)"
if [ "$nrows" -ge 200 ]; then pass "matrix has every row"; else fail "matrix has every row" "$nrows rows"; fi

# ---- 3. the scan ---------------------------------------------------------

# What every blinded device shows of S and S2, and holds as a whole.
for d in coordinator investigator coordinator2 investigator2 datamanager \
	monitor statistician; do
	on "$d" sync
	on "$d" dump
	on "$d" status
	on "$d" subject list --json
	on "$d" query list --all
	on "$d" query list --all --json
	for s in "$S" "$S2"; do
		on "$d" subject show "$s"
		on "$d" subject show "$s" --json
		on "$d" form show "$s" INJ CELL --history
		on "$d" form show "$s" INJ CELL --history --json
		on "$d" form show "$s" BL RAND --history
	done
done
# An error message at each endpoint (a bad query) for every blinded role.
for r in $BLINDED; do
	hreq "$r" GET /v1/sync/pull "since=x"
	hreq "$r" GET /v1/queries "status=nope"
done
# Bundles (sync by carried files) are exports both ways: a new blinded
# laptop of each kind gets everything it may see in one reply file.
for r in coordinator monitor; do
	case $r in coordinator) s=KR01 ;; *) s="" ;; esac
	t=$(token "$r" $s)
	"$CB" --home "$T/h/b$r" init --server "$BASE" --token "$t" --user "ub$r" \
		>/dev/null 2>&1 || fail "bundle device $r" "init failed"
done
stop_server
for r in coordinator monitor; do
	on "b$r" bundle export "bundle.$r" || fail "bundle export $r" "$(cat "$T/err")"
	"$CBD" bundle import --data "$D" "bundle.$r" --reply "reply.$r" \
		>/dev/null 2>"$T/err" || fail "bundle import $r" "$(cat "$T/err")"
	on "b$r" bundle import "reply.$r" || fail "bundle reply $r" "$(cat "$T/err")"
	on "b$r" dump
	if has "$S" "$T/out"; then
		pass "bundle reply brought $r the subject"
	else
		fail "bundle reply brought $r the subject" "$(head -c 200 "$T/out")"
	fi
	on "b$r" form show "$S" INJ CELL --history
	# A site device's reply carries its lease, with the site's sealed
	# arms (arm_site), as /v1/slots does; a central role's carries none.
	if [ "$r" = coordinator ]; then
		# The lease alone is scanned like a /v1/slots answer; the
		# rest of the reply like every other output.
		python3 -c '
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
i = max(k for k, l in enumerate(lines) if l.startswith(b"{"))
j = json.loads(lines[i])
slots = j.pop("slots")
open(sys.argv[2], "w").write(json.dumps(slots))
lines[i] = json.dumps(j).encode()
open(sys.argv[3], "wb").write(b"\n".join(lines))' \
			"reply.$r" "reply.$r.slots" "reply.$r.rest" ||
			fail "a site device's reply has its lease" "no slots member"
		keep "$r" "bundle.$r" "reply.$r.slots" "reply.$r.rest"
		grep -q '"lease"' "reply.$r.slots" && pass "a site device's reply has its lease" ||
			fail "a site device's reply has its lease" "no lease in slots"
	else
		keep "$r" "bundle.$r" "reply.$r"
		grep -q '"slots"' "reply.$r" && fail "a $r reply has no lease" "slots member found" ||
			pass "a $r reply has no lease"
	fi
done
cp "$LOG" seen/server.log

# scan FILE...: prints "FILE: what" for every forbidden byte string, the
# protocol's own text (served to every role) taken out first.
cat >scan.py <<'PYEOF'
import json, re, sys
proto = open(sys.argv[1], "rb").read()
escaped = json.dumps(proto.decode())[1:-1].encode()
secrets = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2])]
arms = sys.argv[3].split()
values = sys.argv[4].split()
pats = []
for a in arms:
    pats.append(("arm code " + a, re.compile(rb"(?<![A-Za-z0-9_])" + a.encode() + rb"(?![A-Za-z0-9_])")))
site_ok = sys.argv[5] == "slots"
for kind, text in secrets:
    if site_ok and kind == "arm_site":
        continue
    pats.append((kind + " " + text[:16], re.compile(re.escape(text.encode()))))
for v in values:
    pats.append(("CELL value " + v, re.compile(rb"(?<![0-9.])" + re.escape(v.encode()) + rb"(?![0-9])")))
bad = 0
for f in sys.argv[6:]:
    b = open(f, "rb").read().replace(proto, b"").replace(escaped, b"")
    for what, p in pats:
        if p.search(b):
            print("%s: %s" % (f, what))
            bad += 1
sys.exit(1 if bad else 0)
PYEOF
# scan_as all|slots FILE...: slots allows the site's own arm_site blobs.
scan_as() {
	python3 scan.py "$PROTO" secrets.txt "$ARMS" \
		"$CELL1 $VIAB1 $CELL2 $CELL3 $VIAB3 $CELL4" "$@"
}
scan() { scan_as all "$@"; }
# noleak NAME FILE...: the case passes when the scan finds nothing.
noleak() {
	_n=$1
	shift
	if scan "$@" >scan.out; then
		pass "$_n"
	else
		fail "$_n" "$(head -5 scan.out)"
	fi
}
files="" slots=""
for r in $BLINDED; do
	for f in seen/"$r"/*; do
		case $f in
		*.slots) slots="$slots $f" ;;
		*) files="$files $f" ;;
		esac
	done
done
# shellcheck disable=SC2086
nfiles=$(echo $files $slots seen/server.log | wc -w)
# shellcheck disable=SC2086
if scan $files seen/server.log >scan.out && scan_as slots $slots >>scan.out; then
	pass "scan: nothing forbidden in $nfiles outputs of blinded roles and the log"
else
	fail "scan: nothing forbidden in $nfiles outputs of blinded roles and the log" \
		"$(head -20 scan.out; for f in $(cut -d: -f1 scan.out | sort -u | head -3); do
			echo "== $f"; head -c 600 "$f"; done)"
fi
# shellcheck disable=SC2086
echo "scan: $nfiles files, $(cat $files $slots seen/server.log | wc -c) bytes"
# The slots answers do carry arm_site blobs (so that check is real), and
# never the blobs sealed to the trial unblinding key.
# shellcheck disable=SC2086
if [ -n "$slots" ] && ! scan $slots >/dev/null; then
	pass "scan: the slots answers hold the site's sealed arms only"
else
	fail "scan: the slots answers hold the site's sealed arms only" "no arm_site found"
fi
if [ "$nfiles" -ge 300 ]; then pass "scan covers every output"; else fail "scan covers every output" "$nfiles files"; fi
# The scanner finds what it looks for: the investigator's code-break
# shows an arm, and each kind planted in a copy of a blinded output.
if scan unblind.investigator.out >/dev/null; then
	fail "scanner finds the arm of the code-break" "not found"
else
	pass "scanner finds the arm of the code-break"
fi
one=$(echo "$files" | awk '{print $1}')
for plant in '"arm":"PBO"' 'arm MSC' "$(sed -n 's/^label\t//p' secrets.txt | head -1)" \
	"$(sed -n 's/^arm_site\t//p' secrets.txt | head -1)" \
	"$(sed -n 's/^arm_unblind[a-z]*\t//p' secrets.txt | head -1)" \
	"CELLCNT $CELL1"; do
	{ cat "$one"; printf '%s\n' "$plant"; } >planted.txt
	if scan planted.txt >/dev/null; then
		fail "scanner finds planted '$(printf '%.20s' "$plant")'" "not found"
	else
		pass "scanner finds planted '$(printf '%.20s' "$plant")'"
	fi
done
{ cat "$PROTO"; } >planted.txt
if scan planted.txt >/dev/null; then pass "the protocol itself is not a leak"; else fail "the protocol itself is not a leak" "flagged"; fi

# ---- 4. a blinded laptop that is sent unblinded data anyway ---------------

# The lab saves a concurrent CELL value (a conflict), and a coordinator's
# laptop is registered; its server row is then made "lab" so the server's
# filter lets the lab's events through to it: the laptop itself must
# still withhold them from its coordinator.
start_server || finish
t=$(token coordinator KR01)
"$CB" --home "$T/h/leaky" init --server "$BASE" --token "$t" --user uleaky \
	>/dev/null 2>&1 || fail "leaky device" "init failed"
pushev lab KR01 "$S" form.save INJ CELL "" CELLCNT="$CELL4"
check "lab's concurrent CELL value accepted" "accepted:None" "$(result)"
stop_server
srv_sql "UPDATE devices SET role = 'lab' WHERE \"user\" = 'uleaky'"
start_server || finish
on leaky sync || fail "leaky sync" "$(cat "$T/err")"
on leaky dump
if has "$CELL2" "$T/out" && has "$CELL4" "$T/out"; then
	pass "the leaky laptop holds the lab's values"
else
	fail "the leaky laptop holds the lab's values" "$(grep -c CELL "$T/out")"
fi
stop_server
expect_rc "leaky: form show CELL" 0 "$CB" --home "$T/h/leaky" form show "$S" INJ CELL
expect_out "leaky: form show says withheld" "(withheld: unblinded item)"
noleak "leaky: form show shows no value" "$T/out" "$T/err"
expect_no_out "leaky: form show shows no conflicting value" "$CELL4"
expect_rc "leaky: form show --json" 0 "$CB" --home "$T/h/leaky" form show "$S" INJ CELL --json
check "leaky: --json marks the items withheld" "True True True" \
	"$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
print(" ".join(str(i.get("withheld") is True and i["value"] is None) for i in j["items"]))' "$T/out")"
noleak "leaky: --json shows no value" "$T/out"
expect_no_out "leaky: --json shows no conflicting value" "$CELL4"
expect_rc "leaky: form show --history" 0 "$CB" --home "$T/h/leaky" form show "$S" INJ CELL --history
expect_out "leaky: history lists the changes" "ulab"
noleak "leaky: history shows no value or reason" "$T/out"
expect_no_out "leaky: history shows no reason" "recount"
expect_rc "leaky: form show --history --json" 0 "$CB" --home "$T/h/leaky" form show "$S" INJ CELL --history --json
noleak "leaky: history --json shows no value" "$T/out"
expect_no_out "leaky: history --json shows no reason" "recount"
expect_rc "leaky: query list" 0 "$CB" --home "$T/h/leaky" query list --json
check "leaky: the conflict's system query on CELL is withheld" "(withheld: unblinded item)" \
	"$(python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
print([q["text"] for q in j["queries"] if q["form"] == "CELL"][0])' "$T/out")"
expect_rc "leaky: subject show" 0 "$CB" --home "$T/h/leaky" subject show "$S"
noleak "leaky: subject show shows no value" "$T/out"
# The unblinded roles see the values in the same commands.
expect_rc "lab: form show CELL" 0 "$CB" --home "$T/h/lab" form show "$S" INJ CELL --history
expect_out "lab sees its value" "$CELL2"
expect_out "lab sees its reason" "recount gave $CELL2"
expect_rc "dsmb: form show CELL" 0 "$CB" --home "$T/h/dsmb" form show "$S" INJ CELL
expect_out "dsmb sees the value" "$CELL2"

finish
