#!/bin/sh
# t_scenario.sh - the clinical scenario of issue 13: three subjects of the
# shipped study walked through the whole schedule with the real casebook
# and casebookd, every date entered on its own day (the laptop's clock is
# moved with CASEBOOK_CLOCK_OFFSET_MS; syncs run on the real clock):
#
#   A  a screen failure (K-L grade 4): never randomized;
#   B  completed: every visit from screening to month 12, the week-1 visit
#      four days late (outside its window: a query), three AEs (one
#      before the dose, one after, one with a partial onset);
#   C  withdrawn after a serious AE: dosed, hospitalized, end of study
#      "withdrew"; a later visit is refused.
#
# Every lifecycle status, study day (CDISC: day 1 the dose date, no day
# 0), treatment-emergent flag, window verdict and query is checked
# against a value written here by hand (from the calendar, not from
# Casebook), on the laptop (subject list, subject show, status, query
# list) and in the server's csv export.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=scenario-pass-1 CASEBOOK_KDF_FAST=1 TZ=UTC
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 8 \
	--block-sizes 2,4 --seed "scenario-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people inv:investigator:KR01
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
start_server || finish
tok=$("$CBD" token create --data "$D" --user inv 2>/dev/null)
expect_rc "laptop registers" 0 cb a init --server "$URL" --token "$tok" --user inv
expect_rc "laptop takes its lease" 0 cb a sync

# at DATE CMD...: CMD with the laptop's clock at DATE, 12:00 UTC.
at() {
	_off=$(python3 -c 'import calendar, sys, time
print(calendar.timegm(time.strptime(sys.argv[1], "%Y-%m-%d")) * 1000
      + 12 * 3600 * 1000 - int(time.time() * 1000))' "$1")
	shift
	CASEBOOK_CLOCK_OFFSET_MS=$_off "$@"
}
# save DATE SUBJECT VISIT FORM ITEM=VALUE...: form set on that day.
save() {
	_d=$1 _s=$2
	shift 2
	if ! at "$_d" "$CB" --home "$T/h/a" form set "$_s" "$@" >"$T/save.out" 2>&1; then
		fail "save $_s $*" "$(head -c 300 "$T/save.out")"
	fi
}
visit() { save "$1" "$2" "$3" SV VISDT="$1"; }
status_of() {
	cb a subject list --json >"$T/sl.json" 2>/dev/null
	jget "$T/sl.json" "[s['status'] for s in j['subjects'] if s['id']=='$1'][0]"
}
kit_of() {
	cb a form show "$1" BL RAND --json >"$T/k.json" 2>/dev/null
	jget "$T/k.json" "[i['value'] for i in j['items'] if i['item']=='KITNO'][0]"
}
ae() { # DATE SUBJECT ITEM=VALUE...
	_d=$1 _s=$2
	shift 2
	if ! at "$_d" "$CB" --home "$T/h/a" ae add "$_s" "$@" >"$T/save.out" 2>&1; then
		fail "ae $_s $*" "$(head -c 300 "$T/save.out")"
	fi
}

# ---- A: screen failure ------------------------------------------------------

A=$(at 2025-09-01 "$CB" --home "$T/h/a" subject add 2>/dev/null)
save 2025-09-01 "$A" SCR DM CONSDT=2025-09-01 BRTHYR=1955 SEX=M HEIGHT=175 WEIGHT=80 KNEE=R
visit 2025-09-01 "$A" SCR
save 2025-09-01 "$A" SCR ELIG AGE=70 KLGRADE=4 PAIN3M=Y BMI=26 IAINJ3M=N INFLARTH=N PREG=NA
check "A: screen failure" "screen failure" "$(status_of "$A")"
expect_rc "A: randomize refused (3)" 3 at 2025-09-02 "$CB" --home "$T/h/a" randomize "$A"
expect_out "A: the failing criterion is named" "KLGRADE"

# ---- B: completed -----------------------------------------------------------

B=$(at 2025-09-10 "$CB" --home "$T/h/a" subject add 2>/dev/null)
save 2025-09-10 "$B" SCR DM CONSDT=2025-09-10 BRTHYR=1962 SEX=F HEIGHT=162 WEIGHT=64 KNEE=L
check "B: screening" "screening" "$(status_of "$B")"
visit 2025-09-12 "$B" SCR
save 2025-09-12 "$B" SCR ELIG AGE=63 KLGRADE=2 PAIN3M=Y BMI=24.4 IAINJ3M=N INFLARTH=N PREG=N
visit 2025-10-01 "$B" BL
expect_rc "B: randomized on the baseline day" 0 at 2025-10-01 "$CB" --home "$T/h/a" randomize "$B"
expect_no_out "B: no window query at randomization" "query"
check "B: randomized" "randomized" "$(status_of "$B")"
save 2025-10-01 "$B" BL HARV HARVDT=2025-10-01 LIPOVOL=120
save 2025-10-01 "$B" BL VAS VAS=68
ae 2025-10-12 "$B" AETERM="Bruising at harvest site" AESTDTC=2025-10-05 AEONGO=N \
	AEENDTC=2025-10-12 AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT AERELPR=DEFINITE \
	AEACN=NONE AEOUT=RECOVERED
visit 2025-10-22 "$B" INJ
KB=$(kit_of "$B")
save 2025-10-22 "$B" INJ DOSE EXDTC=2025-10-22T10:00 KITNO="$KB" EXVOL=3.0 EXKNEE=L \
	EXLOT=LOT-0042 IMMREACT=N
check "B: dosed" "dosed" "$(status_of "$B")"
ae 2025-10-26 "$B" AETERM="Knee swelling" AESTDTC=2025-10-23 AEONGO=N AEENDTC=2025-10-26 \
	AETOXGR=1 AESEV=MILD AESER=N AEREL=POSSIBLE AERELPR=NOT AEACN=NONE AEOUT=RECOVERED
ae 2025-11-02 "$B" AETERM="Headache" AESTDTC=2025-10 AEONGO=N AEENDTC=2025-11-01 \
	AETOXGR=1 AESEV=MILD AESER=N AEREL=UNLIKELY AERELPR=NOT AEACN=NONE AEOUT=RECOVERED
# Week 1 four days late: day 32 of a 25..31 window, saved with a query.
visit 2025-11-02 "$B" W1
for v in M1:2025-11-21 M3:2026-01-20 M6:2026-04-20 M12:2026-10-22; do
	visit "${v#*:}" "$B" "${v%%:*}"
	save "${v#*:}" "$B" "${v%%:*}" VAS VAS=40
done
save 2026-10-22 "$B" LOG EOS EOSSTAT=COMPLETED EOSDT=2026-10-22
check "B: completed" "completed" "$(status_of "$B")"

# ---- C: withdrawn after an SAE ----------------------------------------------

C=$(at 2025-09-15 "$CB" --home "$T/h/a" subject add 2>/dev/null)
save 2025-09-15 "$C" SCR DM CONSDT=2025-09-15 BRTHYR=1970 SEX=M HEIGHT=180 WEIGHT=90 KNEE=R
visit 2025-09-20 "$C" SCR
save 2025-09-20 "$C" SCR ELIG AGE=55 KLGRADE=3 PAIN3M=Y BMI=27.8 IAINJ3M=N INFLARTH=N PREG=NA
visit 2025-10-06 "$C" BL
expect_rc "C: randomized" 0 at 2025-10-06 "$CB" --home "$T/h/a" randomize "$C"
save 2025-10-06 "$C" BL HARV HARVDT=2025-10-06 LIPOVOL=150
visit 2025-10-27 "$C" INJ
KC=$(kit_of "$C")
save 2025-10-27 "$C" INJ DOSE EXDTC=2025-10-27T09:30 KITNO="$KC" EXVOL=3.0 EXKNEE=R \
	EXLOT=LOT-0043 IMMREACT=N
visit 2025-11-03 "$C" W1
ae 2025-11-10 "$C" AETERM="Septic arthritis" AESTDTC=2025-11-10 AEONGO=Y AETOXGR=3 \
	AESEV=SEV AESER=Y AESHOSP=Y AEREL=PROBABLE AERELPR=NOT AEACN=WITHDRAWN AEOUT=RECOVERING
check "C: dosed before the end of study" "dosed" "$(status_of "$C")"
# Before the end of study C's month 1 (window ends 2025-11-28) and later
# visits are overdue; afterwards C is off study and nothing is due.
cb a status --json >"$T/st.json" 2>/dev/null
check "C: overdue visits while on study" "M1 M3 M6 M12" \
	"$(jget "$T/st.json" "' '.join(o['visit'] for o in j['overdue'] if o['subject']=='$C')")"
save 2025-11-20 "$C" LOG EOS EOSSTAT=WITHDREW EOSDT=2025-11-20 EOSREAS="Serious adverse event"
check "C: withdrawn" "withdrawn" "$(status_of "$C")"
expect_rc "C: a visit after the end of study is refused (3)" 3 \
	at 2025-11-26 "$CB" --home "$T/h/a" form set "$C" M1 SV VISDT=2025-11-26
expect_out "C: the check is named" "SV_BEFORE_EOS"

# ---- the laptop: status, windows, queries -----------------------------------

cb a status --json >"$T/st.json" 2>/dev/null
check "nothing overdue for subjects off study or done" "" \
	"$(jget "$T/st.json" "' '.join(o['subject'] for o in j['overdue'])")"
check "statuses" "screen failure|completed|withdrawn" \
	"$(status_of "$A")|$(status_of "$B")|$(status_of "$C")"
# window verdict per visit of B and C, as subject show prints it
windows() {
	cb a subject show "$1" >"$T/show.txt" 2>/dev/null
	python3 -c 'import re, sys
out = []
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Z0-9]+) .*date (\S+), (in window|OUTSIDE the window)", line)
    if m:
        out.append(m.group(1) + ("+" if m.group(3) == "in window" else "-"))
print(" ".join(out))' "$T/show.txt"
}
check "B: windows (W1 late)" "SCR+ BL+ INJ+ W1- M1+ M3+ M6+ M12+" "$(windows "$B")"
check "C: windows" "SCR+ BL+ INJ+ W1+" "$(windows "$C")"
cb a query list --json >"$T/q.json" 2>/dev/null
check "the one query: B's late week-1 visit date" \
	"$B W1 SV VISDT open inv: Visit date is outside the visit window" \
	"$(jget "$T/q.json" "' | '.join('%s %s %s %s %s %s: %s' % (q['subject'], q['visit'], q['form'], q['item'], q['status'], q['opened_by'], q['text']) for q in j['queries'])")"

# ---- the server: everything synced, the export --------------------------------

expect_rc "the laptop syncs" 0 cb a sync
expect_out "nothing rejected" "0 rejected"
expect_rc "csv export" 0 "$CBD" export --data "$D" --format csv --out "$T/x"
# col FILE KEYCOLS... -- VALUECOL: "key=value" per row, sorted
rows() {
	python3 -c 'import csv, sys
f, keys, val = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
out = []
for r in csv.DictReader(open(f, newline="")):
    out.append("/".join(r[k] for k in keys) + "=" + "/".join(r[v] for v in val.split(",")))
print(" ".join(out))' "$T/x/$1" "$2" "$3"
}
# A's screen failure dates from the eligibility form saved on 2025-09-01.
check "subjects: status and its date" \
	"$A=screen failure/2025-09-01 $B=completed/2026-10-22 $C=withdrawn/2025-11-20" \
	"$(rows subjects.csv SUBJECT STATUS,STATUSDT)"
check "subjects: randomization dates, eligibility, open queries" \
	"$A=/not eligible/0 $B=2025-10-01/eligible/1 $C=2025-10-06/eligible/0" \
	"$(rows subjects.csv SUBJECT RANDDT,ELIGIBLE,NOPENQUERY)"
check "subjects: dose and end dates" \
	"$A=// $B=2025-10-22/2026-10-22/COMPLETED $C=2025-10-27/2025-11-20/WITHDREW" \
	"$(rows subjects.csv SUBJECT DOSEDT,EOSDT,EOSSTAT)"
# Study days by hand. B: dose 2025-10-22 = day 1; SCR 2025-09-12 is 40
# days before (-40), BL 2025-10-01 21 before (-21), W1 2025-11-02 11
# after (12), M1 2025-11-21 30 after (31), M3 2026-01-20 90 after (91),
# M6 2026-04-20 180 after (181), M12 2026-10-22 365 after (366).
# C: dose 2025-10-27; SCR 2025-09-20 37 before (-37), BL 2025-10-06 21
# before (-21), W1 2025-11-03 7 after (8). A was never dosed: none.
check "visit study days" \
	"$A/SCR= $B/SCR=-40 $B/BL=-21 $B/INJ=1 $B/W1=12 $B/M1=31 $B/M3=91 $B/M6=181 $B/M12=366 $C/SCR=-37 $C/BL=-21 $C/INJ=1 $C/W1=8" \
	"$(rows SV.csv SUBJECT,VISIT VISITDY)"
# AEs: B#1 2025-10-05, 17 days before the dose (-17, not emergent); B#2
# 2025-10-23 (day 2, emergent); B#3 onset "2025-10", the dose month: no
# study day, emergent (not certainly before the dose); C#1 2025-11-10,
# 14 days after (15, emergent).
check "AE study days and treatment-emergent flags" \
	"$B/1=-17/N $B/2=2/Y $B/3=/Y $C/1=15/Y" \
	"$(rows AE.csv SUBJECT,INSTANCE AESTDTC_DY,TRTEMFL)"

# The same study days and flags on the laptop's subject show.
showdays() { # SUBJECT: VISIT=DAY ... and AE#N=DAY/Y|N from --json
	cb a subject show "$1" --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
out = []
for v in j["visits"]:
    if v["scheduled"] and v["date"]:
        out.append("%s=%s" % (v["visit"], "" if v["study_day"] is None else v["study_day"]))
    for f in v["forms"]:
        if "treatment_emergent" in f:
            d = f["onset_study_day"]
            out.append("AE%s=%s/%s" % (f["instance"], "" if d is None else d,
                                       "Y" if f["treatment_emergent"] else "N"))
print(" ".join(out))'
}
check "subject show: B's study days and AE flags" \
	"SCR=-40 BL=-21 INJ=1 W1=12 M1=31 M3=91 M6=181 M12=366 AE1=-17/N AE2=2/Y AE3=/Y" \
	"$(showdays "$B")"
check "subject show: C's study days and AE flag" \
	"SCR=-37 BL=-21 INJ=1 W1=8 AE1=15/Y" "$(showdays "$C")"
check "subject show: A, never dosed, has no study day" "SCR=" "$(showdays "$A")"
cb a subject show "$B" >"$T/showb.txt" 2>/dev/null
if grep -q "study day 366" "$T/showb.txt" &&
	grep -q "onset on study day -17, not treatment-emergent" "$T/showb.txt"; then
	pass "subject show's text says the study days and the flag"
else
	fail "subject show's text says the study days and the flag" "$(grep -m3 -e 'study day' "$T/showb.txt")"
fi

finish
