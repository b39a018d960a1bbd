#!/bin/sh
# The main Casebook scenario, run by `make demo`. It grows with the code:
# it always runs the richest real scenario the programs support.
#
# Now: a site laptop, offline. The study protocol is checked, an encrypted
# store is created, a subject is screened, enrolled and followed with edit
# checks, derived scores, a soft query and a corrected value with its
# audit trail. Everything runs in a temporary directory that is removed
# at the end.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CASEBOOK_BIN:-$top/bin}
proto="$top/schemas/knee-oa-msc.json"
work=$(mktemp -d "${TMPDIR:-/tmp}/casebook-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

export CASEBOOK_HOME="$work/site-kr01"
# A demo passphrase; a coordinator types it at a prompt without echo.
export CASEBOOK_PASSPHRASE="demo passphrase for KR01"
export CASEBOOK_NEW_PASSPHRASE="second user passphrase"

step() { printf '\n== %s\n' "$*"; }
run() {
	printf '$ casebook'
	printf ' %s' "$@"
	printf '\n'
	"$bin/casebook" "$@"
}
# Run a command that is meant to be refused, and show its exit code.
refused() {
	set +e
	run "$@"
	rc=$?
	set -e
	echo "(exit $rc)"
}

step "Check the shipped study protocol"
run protocol check "$proto"

step "Its visit schedule"
"$bin/casebook" protocol show "$proto" | sed -n '1,/^$/p'

step "Create the encrypted store on the KR01 site laptop (device 1)"
run init --site KR01 --device-index 1 --protocol "$proto" \
	--user kim --role investigator
run user add lee --role coordinator

step "Screen a subject, offline"
subj=$("$bin/casebook" subject add)
echo "$ casebook subject add"
echo "$subj"
run form set "$subj" SCR SV VISDT=2024-01-08
run form set "$subj" SCR DM BRTHYR=1961 SEX=F HEIGHT=162 WEIGHT=68 KNEE=R \
	CONSDT=2024-01-05
run form set "$subj" SCR ELIG AGE=62 KLGRADE=3 PAIN3M=Y BMI=25.9 \
	IAINJ3M=N INFLARTH=N PREG=NA

step "A height outside 100-230 cm is refused and nothing is saved"
refused form set "$subj" SCR DM HEIGHT=1620

step "Baseline: visit, VAS pain and WOMAC (one pain item unanswered)"
run form set "$subj" BL SV VISDT=2024-02-01
run form set "$subj" BL VAS VAS=64
run form set "$subj" BL WOMAC P1=2 P2=3 P3=1 P4=2 S1=1 S2=2 \
	F1=1 F2=2 F3=1 F4=2 F5=1 F6=2 F7=1 F8=2 F9=1 F10=2 F11=1 F12=2 \
	F13=1 F14=2 F15=1 F16=2 F17=2

step "An injection visit outside its window saves, with a query"
run form set "$subj" INJ SV VISDT=2024-03-15

step "Correcting a saved value needs a reason"
refused form set "$subj" BL VAS VAS=46
run form set "$subj" BL VAS VAS=46 --reason "transcription error, source says 46"

step "An adverse event in Korean, and a serious one missing its criterion"
run form set "$subj" LOG 'AE#1' AETERM="무릎 부종" AESTDTC=2024-03 AEONGO=Y \
	AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT AERELPR=POSSIBLE AEACN=NONE \
	AEOUT=RECOVERING
refused form set "$subj" LOG 'AE#1' AESER=Y --reason "hospitalized overnight"

step "Scores without a store"
run score koos P1=1 P2=1 P3=2 P4=2 P5=1 P6=0 P7=1 P8=1 P9=2 \
	S1=1 S2=1 S3=0 S4=2 S5=1 S6=1 S7=1 \
	A1=1 A2=1 A3=1 A4=1 A5=1 A6=1 A7=1 A8=1 A9=1 A10=2 \
	SP1=3 SP2=4 Q1=2 Q2=2 Q3=3 Q4=2

step "Nothing readable on disk: the subject id and the AE term are encrypted"
if grep -c -a -e "$subj" -e "무릎" "$CASEBOOK_HOME"/casebook.db* >/dev/null; then
	echo "FOUND plaintext in the store"
	exit 1
fi
echo "no plaintext found in $(ls "$CASEBOOK_HOME" | tr '\n' ' ')"
run store check
