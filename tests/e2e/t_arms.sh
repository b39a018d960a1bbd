#!/bin/sh
# t_arms.sh - the DSMB's arms (issue #5, DESIGN.md section 5,
# docs/api.md GET /v1/arms), on a real casebookd on loopback:
#
#   1. Setup: the statistician's unblinding key and a sealed list for
#      KR01, imported; a coordinator's laptop randomizes three subjects
#      and syncs; devices of the DSMB and of the blinded central roles.
#   2. The DSMB device: GET /v1/arms (signed, raw) lists every randomized
#      subject with its arm sealed to the unblinding key (the list's own
#      blob), never arm_site, never a plain arm; `casebook arms --key`
#      prints each subject's arm equal to `casebook randlist reveal` of
#      its slot, as text and as CSV; a wrong key passphrase exits 4.
#   3. Blinded roles (coordinator, datamanager, statistician): 403
#      "forbidden" on /v1/arms and exit 4 from `casebook arms` before any
#      key passphrase is asked; nothing they are given holds an arm code.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
for tool in curl python3; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed"
		finish
	}
done
if [ ! -x "$U" ]; then
	fail "signing client" "test_reqsig not built (set CASEBOOK_UNIT)"
	finish
fi
export CASEBOOK_PASSPHRASE=arms-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
unset CASEBOOK_CODEBREAK_PASSPHRASE CASEBOOK_UNBLIND_PASSPHRASE
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
mkdir -p blinded

at_exit stop_server

# ---- 1. setup ----------------------------------------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
printf 'stat-pass-123\n' >key.pass
printf 'not-the-pass-1\n' >wrong.pass
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 8 \
	--block-sizes 2,4 --seed "arms-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list.json \
	--key unblind.key --csv >revealed.csv 2>/dev/null || fail "reveal" "failed"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
# The list's sealed blobs, by kind, as the server stores them (hex).
python3 - list.json <<'EOF' >blobs.txt
import json, sys
l = json.load(open(sys.argv[1]))
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
walk(l)
EOF
if [ "$(grep -c '^arm_unblind' blobs.txt)" -ge 16 ]; then
	pass "sealed arms of the list collected"
else
	fail "sealed arms of the list collected" "$(cut -f1 blobs.txt | uniq -c)"
fi
start_server || finish

token() { "$CBD" token create --data "$D" $2 --role "$1" 2>/dev/null; }
for r in coordinator dsmb datamanager statistician; do
	case $r in coordinator) s=KR01 ;; *) s="" ;; esac
	person "u$r" "$r" $s
	person "raw$r" "$r" $s
done
for r in coordinator dsmb datamanager statistician; do
	case $r in coordinator) s="--site KR01" ;; *) s="" ;; esac
	expect_rc "device $r" 0 cb "$r" init --server "$URL" \
		--token "$(token $r "$s")" --user "u$r"
done
# Raw signed-request devices of the same roles.
for r in coordinator dsmb datamanager statistician; do
	case $r in coordinator) s="--site KR01" ;; *) s="" ;; esac
	pk=$("$U" client keygen "k.$r") || fail "raw key $r" "failed"
	printf '{"token":"%s","public_key":"%s","user":"raw%s"}' \
		"$(token $r "$s")" "$pk" "$r" >reg.json
	curl -s -o reg.out --data-binary @reg.json "$URL/v1/register"
	jget reg.out 'j["device"]' >"dev.$r"
done
# areq ROLE: signed GET /v1/arms by ROLE's raw device; status in $code,
# body in arms.ROLE.json.
areq() {
	"$U" client headers "k.$1" "$(cat "dev.$1")" GET /v1/arms "" >hdr ||
		return 1
	code=$(curl -s -o "arms.$1.json" -w '%{http_code}' \
		-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
		-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" "$URL/v1/arms")
}

enroll() { # prints the new subject of the coordinator's laptop
	_s=$(cb coordinator subject add 2>/dev/null) || return 1
	cb coordinator form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 \
		SEX=F HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb coordinator form set "$_s" SCR ELIG AGE=60 KLGRADE="$1" PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
cb coordinator sync >/dev/null 2>&1 || fail "first sync" "coordinator"
: >assigned.txt
for kl in 2 3 2; do
	s=$(enroll "$kl") || fail "enroll" "KL $kl"
	if cb coordinator randomize "$s" >"$T/out" 2>"$T/err"; then
		rn=$(sed -n 's/.*randomization number: *//p' "$T/out")
		echo "$s $rn" >>assigned.txt
	else
		fail "randomize $s" "$(cat "$T/err")"
	fi
done
# A subject enrolled but not randomized is not in the arms.
SNR=$(enroll 2) || fail "enroll" "not randomized"
expect_rc "coordinator syncs the randomizations" 0 cb coordinator sync
expect_out "randomizations accepted" "0 rejected"
check "three subjects randomized" 3 "$(wc -l <assigned.txt | tr -d ' ')"

# The arm of each randomized subject, from the revealed list.
: >want.txt
while read -r s rn; do
	arm=$(grep ",$rn," revealed.csv | cut -d, -f7)
	echo "$s KR01 $rn $arm" >>want.txt
done <assigned.txt
sort want.txt -o want.txt

# ---- 2. the DSMB -------------------------------------------------------------

areq dsmb
check "dsmb: GET /v1/arms 200" 200 "$code"
check "dsmb: one row per randomized subject" 3 \
	"$(jget arms.dsmb.json 'len(j["arms"])')"
jget arms.dsmb.json '"\n".join(sorted(a["subject"]+" "+a["site"]+" "+a["randno"] for a in j["arms"]))' >got.rows
cut -d' ' -f1-3 want.txt >want.rows
check "dsmb: rows name the randomized subjects and slots" \
	"$(cat want.rows)" "$(cat got.rows)"
check "dsmb: rows carry the documented members" \
	"arm_unblind kit list randno site stratum subject" \
	"$(jget arms.dsmb.json '" ".join(sorted(set(k for a in j["arms"] for k in a)))')"
if grep -q "\"$SNR\"" arms.dsmb.json; then
	fail "dsmb: a subject not randomized is not listed" "$SNR listed"
else
	pass "dsmb: a subject not randomized is not listed"
fi
# Every arm_unblind is the list's sealed copy to the unblinding key.
bad=0
for b in $(jget arms.dsmb.json '" ".join(a["arm_unblind"] for a in j["arms"])'); do
	grep -qF "$b" blobs.txt || bad=$((bad + 1))
done
check "dsmb: arm_unblind is the list's sealed blob" 0 "$bad"
if grep -E '"arm_site"|"arm"|\b(MSC|PBO)\b' arms.dsmb.json >/dev/null; then
	fail "dsmb: no arm_site and no plain arm in /v1/arms" "$(head -c 300 arms.dsmb.json)"
else
	pass "dsmb: no arm_site and no plain arm in /v1/arms"
fi

expect_rc "dsmb: casebook arms" 0 cb dsmb arms --key unblind.key \
	--key-passphrase-file key.pass
sed -n '2,$p' "$T/out" | awk '{print $1, $2, $3, $4}' | sort >got.txt
check "dsmb: header line" "subject site randno arm" \
	"$(sed -n 1p "$T/out" | tr -s ' ')"
check "dsmb: arms equal randlist reveal" "$(cat want.txt)" "$(cat got.txt)"

expect_rc "dsmb: casebook arms --csv (passphrase from the environment)" 0 \
	env CASEBOOK_UNBLIND_PASSPHRASE=stat-pass-123 \
	"$CB" --home "$T/h/dsmb" arms --key unblind.key --csv
check "dsmb: csv header" "subject,site,randno,arm" "$(sed -n 1p "$T/out")"
sed -n '2,$p' "$T/out" | tr ',' ' ' | sort >got.csv
check "dsmb: csv arms equal randlist reveal" "$(cat want.txt)" "$(cat got.csv)"

expect_rc "dsmb: casebook arms --json" 0 cb dsmb arms --key unblind.key \
	--key-passphrase-file key.pass --json
python3 -c '
import json, sys
for a in json.load(open(sys.argv[1]))["arms"]:
    print(a["subject"], a["site"], a["randno"], a["arm"])' "$T/out" | sort >got.json.txt
check "dsmb: json arms equal randlist reveal" "$(cat want.txt)" "$(cat got.json.txt)"

expect_rc "dsmb: wrong key passphrase exits 4" 4 cb dsmb arms \
	--key unblind.key --key-passphrase-file wrong.pass
expect_no_out "dsmb: wrong passphrase prints no arm" "MSC"
expect_no_out "dsmb: wrong passphrase prints no arm (PBO)" "PBO"
# Another unblinding key does not open the trial's arms.
CASEBOOK_NEW_PASSPHRASE=other-pass-123 "$CB" keygen --out other.key \
	>/dev/null 2>&1 || fail "keygen other" "failed"
expect_rc "dsmb: another unblinding key exits 4" 4 env \
	CASEBOOK_UNBLIND_PASSPHRASE=other-pass-123 \
	"$CB" --home "$T/h/dsmb" arms --key other.key
expect_rc "arms without --key: usage" 2 cb dsmb arms

# ---- 3. blinded roles --------------------------------------------------------

for r in coordinator datamanager statistician; do
	areq "$r"
	check "$r: GET /v1/arms 403" 403 "$code"
	check "$r: error code forbidden" forbidden \
		"$(jget "arms.$r.json" 'j["error"]["code"]')"
	cp "arms.$r.json" "blinded/http.$r"
	# No passphrase can be had (no file, no variable, no terminal):
	# refused before asking, the exit is 4 for the role.
	expect_rc "$r: casebook arms exits 4" 4 cb "$r" arms --key unblind.key
	expect_out "$r: says not authorized" "not authorized"
	cat "$T/out" "$T/err" >"blinded/cmd.$r"
	expect_rc "$r: casebook arms --csv with the key passphrase exits 4" 4 \
		cb "$r" arms --key unblind.key --key-passphrase-file key.pass --csv
	cat "$T/out" "$T/err" >"blinded/cmd2.$r"
done
# The scan: nothing given to a blinded role holds an arm code (whole
# word), an arm label or a sealed blob of the list. Positive control: a
# planted arm code is found.
scan() { # FILE...: prints the files with a secret
	for f in "$@"; do
		if grep -qwE 'MSC|PBO' "$f" || grep -qF 'ADMSC' "$f" ||
			grep -qF 'placebo' "$f" ||
			cut -f2 blobs.txt | grep -qF -f - "$f"; then
			echo "$f"
		fi
	done
}
check "blinded roles: nothing holds an arm" "" "$(scan blinded/*)"
cp blinded/cmd.coordinator planted
cat got.txt >>planted
check "scan finds a planted arm (control)" planted "$(scan planted)"

finish
