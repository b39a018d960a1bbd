#!/bin/sh
# t_journey.sh - a site coordinator takes one subject of the shipped study
# (schemas/knee-oa-msc.json, ../shared/TRIAL.md) from screening to month 12,
# with three adverse events, on a laptop with no network at all: every
# casebook command runs in a network namespace of its own with no
# interface (unshare -n) when the machine allows it.
#
# Visit dates lie in their windows (counted from the BL date, day 0), so
# no save warns. The derived scores that `form set` prints for VAS, WOMAC
# and KOOS are compared with values computed by hand here, from the rules
# in TRIAL.md (WOMAC: subscale sums, a missing item counts as the mean of
# the answered items of its subscale, pain invalid with 2 missing; KOOS:
# 100 - mean x 25, a subscale needs half its items). Dosing has no kit
# number: RAND is written by `casebook randomize`, which needs leased
# slots, so the DOSE_KIT check is not exercised here.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=coord-pass-1

# Offline: no network namespace interface but loopback-less isolation.
if unshare -n true 2>/dev/null; then
	cb() { unshare -n "$CB" "$@"; }
	cbh() { unshare -n "$CBH" "$@"; }
	echo "offline: every command runs under unshare -n (no network)"
else
	cb() { "$CB" "$@"; }
	cbh() { "$CBH" "$@"; }
	echo "note: unshare -n not permitted here; commands run without it"
fi
expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
# save NAME ARGS...: `form set ARGS` exits 0 and warns about nothing.
save() {
	_n=$1
	shift
	expect_rc "$_n" 0 cb form set "$@"
	if grep -q "warning" "$T/err"; then
		fail "$_n: no warning" "$(head -c 300 "$T/err")"
	fi
}
# score NAME VALUE: the last save printed the derived score NAME = VALUE.
score() {
	if grep -Eq "^ +$1 +$2\$" "$T/out"; then
		pass "${V:-} $1 = $2"
	else
		fail "${V:-} $1 = $2" "printed: $(grep -E "^ +$1 " "$T/out" || echo nothing)"
	fi
}

# ---- the laptop -------------------------------------------------------------
expect_rc "init a coordinator's laptop" 0 cb init --site KR03 \
	--device-index 2 --protocol "$PROTO" --user cora --role coordinator
expect_rc "subject add" 0 cb subject add
S=$(cat "$T/out")
expect_same "the subject id is SITE-DDNNN" "$S" KR03-02001

# ---- screening: consent, demographics, eligibility ---------------------------
# BL is 2024-03-04 (day 0); screening day -14.
save "SCR visit date" "$S" SCR SV VISDT=2024-02-19
save "demographics" "$S" SCR DM CONSDT=2024-02-15 BRTHYR=1961 SEX=F \
	HEIGHT=162 WEIGHT=70.5 KNEE=R
expect_out "demographics: six items" "saved 6 items"
save "eligibility (eligible)" "$S" SCR ELIG AGE=62 KLGRADE=2 PAIN3M=Y \
	BMI=26.9 IAINJ3M=N INFLARTH=N PREG=N
expect_rc "a visit before consent is refused" 3 \
	cb form set "$S" SCR SV VISDT=2024-02-10 --reason "typo check"

# ---- baseline ---------------------------------------------------------------------
V=BL
save "BL visit date" "$S" BL SV VISDT=2024-03-04
save "harvest" "$S" BL HARV HARVDT=2024-03-04 LIPOVOL=180
save "BL VAS" "$S" BL VAS VAS=68
score vas 68.00
# WOMAC, all 24 items. Pain 3+2+4+1+3 = 13; stiffness 2+1 = 3; function
# (2,3,1) five times + 2+3 = 35; total 51.
save "BL WOMAC" "$S" BL WOMAC P1=3 P2=2 P3=4 P4=1 P5=3 S1=2 S2=1 \
	F1=2 F2=3 F3=1 F4=2 F5=3 F6=1 F7=2 F8=3 F9=1 F10=2 F11=3 F12=1 \
	F13=2 F14=3 F15=1 F16=2 F17=3
score womac_pain 13.00
score womac_stiffness 3.00
score womac_function 35.00
score womac_total 51.00
# KOOS, all 42 items.
#   pain 2,2,3,1,2,3,2,1,2: mean 2 -> 100 - 50 = 50
#   symptoms 1,1,2,0,1,2,1: mean 8/7 -> 100 - 200/7 = 71.43
#   adl 1 then sixteen 2s: mean 33/17 -> 100 - 825/17 = 51.47
#   sport/rec 3,3,4,2,3: mean 3 -> 25
#   qol 2,3,2,3: mean 2.5 -> 37.5
save "BL KOOS" "$S" BL KOOS P1=2 P2=2 P3=3 P4=1 P5=2 P6=3 P7=2 P8=1 P9=2 \
	S1=1 S2=1 S3=2 S4=0 S5=1 S6=2 S7=1 \
	A1=1 A2=2 A3=2 A4=2 A5=2 A6=2 A7=2 A8=2 A9=2 A10=2 A11=2 A12=2 \
	A13=2 A14=2 A15=2 A16=2 A17=2 \
	SP1=3 SP2=3 SP3=4 SP4=2 SP5=3 Q1=2 Q2=3 Q3=2 Q4=3
score koos_pain 50.00
score koos_symptoms 71.43
score koos_adl 51.47
score koos_sport_rec 25.00
score koos_qol 37.50
save "BL MRI" "$S" BL MRI MFCTHK=2.4 READER=RDR07 SCANDT=2024-03-01
save "BL physical exam" "$S" BL PE ROM=105 EFFUS=MOD

# ---- injection ----------------------------------------------------------------
save "INJ visit date" "$S" INJ SV VISDT=2024-03-25
save "dosing (no kit number: no randomization offline)" "$S" INJ DOSE \
	EXDTC=2024-03-25T09:30 EXVOL=3.0 EXKNEE=R EXLOT=LOT2024-117 \
	IMMREACT=N
expect_rc "the unblinded cell release is not the coordinator's" 4 \
	cb form set "$S" INJ CELL VIABIL=93

# ---- follow-up ----------------------------------------------------------------
save "W1 visit date" "$S" W1 SV VISDT=2024-04-01
V=M1
save "M1 visit date" "$S" M1 SV VISDT=2024-04-24
save "M1 VAS" "$S" M1 VAS VAS=51
score vas 51.00
# P3 missing: pain = 6/4 x 5 = 7.5. Function with F17 missing: thirteen 1s,
# 2, 2, 3 = 20 over 16 items -> 20/16 x 17 = 21.25. Total 7.5 + 2 + 21.25.
save "M1 WOMAC (one pain and one function item missing)" "$S" M1 WOMAC \
	P1=2 P2=1 P4=1 P5=2 S1=1 S2=1 F1=1 F2=1 F3=1 F4=1 F5=1 F6=1 F7=1 \
	F8=1 F9=1 F10=1 F11=1 F12=1 F13=1 F14=2 F15=2 F16=3
score womac_pain 7.50
score womac_stiffness 2.00
score womac_function 21.25
score womac_total 30.75
save "M1 physical exam" "$S" M1 PE ROM=112 EFFUS=SMALL

V=M3
save "M3 visit date" "$S" M3 SV VISDT=2024-06-23
save "M3 VAS" "$S" M3 VAS VAS=40
# Two pain items missing: pain and the total are not scored.
save "M3 WOMAC (two pain items missing)" "$S" M3 WOMAC P3=1 P4=1 P5=1 \
	S1=0 S2=0 F1=0 F2=0 F3=0 F4=0 F5=0 F6=0 F7=0 F8=0 F9=0 F10=0 F11=0 \
	F12=0 F13=0 F14=0 F15=0 F16=0 F17=0
expect_out "M3 pain not scored" "womac_pain           (not scored"
expect_out "M3 total not scored" "womac_total          (not scored"
score womac_stiffness 0.00
score womac_function 0.00
save "M3 physical exam" "$S" M3 PE ROM=118 EFFUS=NONE

V=M6
save "M6 visit date" "$S" M6 SV VISDT=2024-09-21
save "M6 VAS (primary)" "$S" M6 VAS VAS=32
# Pain 1,1,1,1,0 = 4; stiffness 1+0; function sixteen 1s and one 0 = 16.
save "M6 WOMAC" "$S" M6 WOMAC P1=1 P2=1 P3=1 P4=1 P5=0 S1=1 S2=0 \
	F1=1 F2=1 F3=1 F4=1 F5=1 F6=1 F7=1 F8=1 F9=1 F10=1 F11=1 F12=1 \
	F13=1 F14=1 F15=1 F16=1 F17=0
score womac_pain 4.00
score womac_stiffness 1.00
score womac_function 16.00
score womac_total 21.00
# KOOS with items missing: pain has 4 of 9 (needs 5): missing; symptoms
# 0,1,0,1 (4 of 7): 100 - 12.5 = 87.5; adl nine 1s: 75; sport/rec 2 of 5:
# missing; qol 1,2: 100 - 37.5 = 62.5.
save "M6 KOOS (items missing)" "$S" M6 KOOS P1=1 P2=1 P3=1 P4=2 \
	S1=0 S2=1 S3=0 S4=1 A1=1 A2=1 A3=1 A4=1 A5=1 A6=1 A7=1 A8=1 A9=1 \
	SP1=2 SP2=2 Q1=1 Q2=2
expect_out "M6 KOOS pain not scored" "koos_pain            (not scored"
score koos_symptoms 87.50
score koos_adl 75.00
expect_out "M6 KOOS sport/rec not scored" "koos_sport_rec       (not scored"
score koos_qol 62.50
save "M6 MRI" "$S" M6 MRI MFCTHK=2.6 READER=RDR07 SCANDT=2024-09-20
save "M6 physical exam" "$S" M6 PE ROM=125 EFFUS=NONE

V=M12
save "M12 visit date" "$S" M12 SV VISDT=2025-03-25
save "M12 VAS" "$S" M12 VAS VAS=20
save "M12 WOMAC" "$S" M12 WOMAC P1=0 P2=1 P3=0 P4=1 P5=0 S1=0 S2=1 \
	F1=0 F2=0 F3=1 F4=0 F5=0 F6=1 F7=0 F8=0 F9=0 F10=1 F11=0 F12=0 \
	F13=0 F14=0 F15=1 F16=0 F17=0
score womac_pain 2.00
score womac_stiffness 1.00
score womac_function 4.00
score womac_total 7.00
# KOOS all 0 but Q1=1: qol 100 - 6.25 = 93.75.
save "M12 KOOS" "$S" M12 KOOS P1=0 P2=0 P3=0 P4=0 P5=0 P6=0 P7=0 P8=0 \
	P9=0 S1=0 S2=0 S3=0 S4=0 S5=0 S6=0 S7=0 A1=0 A2=0 A3=0 A4=0 A5=0 \
	A6=0 A7=0 A8=0 A9=0 A10=0 A11=0 A12=0 A13=0 A14=0 A15=0 A16=0 A17=0 \
	SP1=0 SP2=0 SP3=0 SP4=0 SP5=0 Q1=1 Q2=0 Q3=0 Q4=0
score koos_pain 100.00
score koos_symptoms 100.00
score koos_adl 100.00
score koos_sport_rec 100.00
score koos_qol 93.75
save "M12 MRI" "$S" M12 MRI MFCTHK=2.7 READER=RDR07 SCANDT=2025-03-24
save "M12 physical exam" "$S" M12 PE ROM=130 EFFUS=NONE

# ---- adverse events -------------------------------------------------------------
# `ae add` when it exists (it prints "SUBJECT LOG AE#N: ..."), else the
# next instance through `form set`.
next_ae=1
ae_add() { # NAME ITEM=VALUE...
	_n=$1
	shift
	if cb ae --help >/dev/null 2>&1; then
		expect_rc "$_n (ae add)" 0 cb ae add "$S" "$@"
		AE=$(sed -n 's/.* LOG AE#\([0-9]*\).*/\1/p' "$T/out" | head -1)
	else
		expect_rc "$_n (form set)" 0 cb form set "$S" LOG "AE#$next_ae" "$@"
		AE=$next_ae
	fi
	next_ae=$((AE + 1))
	if grep -q "warning" "$T/err"; then
		fail "$_n: no warning" "$(head -c 300 "$T/err")"
	fi
}
# A serious AE: serious without a criterion is refused, then hospitalised.
expect_rc "a serious AE without a criterion is refused" 3 \
	cb form set "$S" LOG AE#1 AETERM="Septic arthritis" AESTDTC=2024-03-28 \
	AESER=Y AEONGO=Y
expect_out "the missing criterion is named" "seriousness criterion"
ae_add "serious AE with hospitalization" AETERM="Septic arthritis" \
	AESTDTC=2024-03-28 AEENDTC=2024-04-09 AEONGO=N AETOXGR=3 AESEV=SEV \
	AESER=Y AESHOSP=Y AEREL=POSSIBLE AERELPR=NOT AEACN=TREATED \
	AEOUT=RECOVERED
expect_same "the serious AE is instance 1" "$AE" 1
AE_SAE=$AE
ae_add "AE with a Korean term" AETERM="무릎 부종" AESTDTC=2024-04-02 \
	AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N AEREL=PROBABLE AERELPR=UNLIKELY \
	AEACN=NONE AEOUT=RECOVERING
AE_KO=$AE
ae_add "AE to be updated" AETERM="Injection site pain" AESTDTC=2024-03-25 \
	AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N AEREL=DEFINITE AERELPR=NOT \
	AEACN=NONE AEOUT=RECOVERING
AE_UP=$AE
expect_rc "changing an AE without a reason: exit 2" 2 \
	cb form set "$S" LOG "AE#$AE_UP" AETOXGR=2 AESEV=MOD
expect_out "the reason is asked for" "reason"
save "AE updated with a reason" "$S" LOG "AE#$AE_UP" AETOXGR=2 AESEV=MOD \
	--reason "Re-graded after the investigator's review"
save "AE resolved" "$S" LOG "AE#$AE_UP" AEONGO=N AEENDTC=2024-04-05 \
	AEOUT=RECOVERED --reason "Resolved at the W1 visit"

# ---- what is stored ------------------------------------------------------------
expect_rc "store check" 0 cb store check
expect_out "store intact" "store: intact"
expect_rc "the decrypted events" 0 cbh store test-list "$S"
cp "$T/out" "$T/events"
python3 - "$T/events" "$S" "$AE_SAE" "$AE_KO" "$AE_UP" >"$T/state" <<'EOF'
import json, sys
path, subj, sae, ko, up = sys.argv[1:6]
vals, reasons, visits = {}, {}, set()
for line in open(path, encoding="utf-8"):
    ev = json.loads(line.split(" ", 3)[3])
    if ev["subject"] != subj or ev["kind"] != "form.save":
        continue
    t = ev["target"]
    visits.add(t["visit"])
    for c in ev["changes"]:
        key = (t["visit"], t["form"], t["instance"], c["item"])
        vals[key] = c["value"]
        if ev["reason"]:
            reasons[key] = ev["reason"]
def show(v, f, i, item):
    print("%s.%s#%s.%s=%s" % (v, f, i, item, vals.get((v, f, i, item))))
print("visits=" + ",".join(sorted(visits)))
show("LOG", "AE", sae, "AESHOSP")
show("LOG", "AE", ko, "AETERM")
show("LOG", "AE", up, "AETOXGR")
show("LOG", "AE", up, "AEOUT")
print("reason=%s" % reasons.get(("LOG", "AE", up, "AETOXGR")))
show("M6", "VAS", "", "VAS")
show("SCR", "ELIG", "", "KLGRADE")
EOF
cat "$T/state"
expect_same "every visit has data" "$(sed -n 's/^visits=//p' "$T/state")" \
	"BL,INJ,LOG,M1,M12,M3,M6,SCR,W1"
grep -qxF "LOG.AE#$AE_SAE.AESHOSP=Y" "$T/state" &&
	pass "the SAE is hospitalised" || fail "the SAE is hospitalised" "$(cat "$T/state")"
grep -qxF "LOG.AE#$AE_KO.AETERM=무릎 부종" "$T/state" &&
	pass "the Korean AE term is stored exactly" ||
	fail "the Korean AE term is stored exactly" "$(cat "$T/state")"
grep -qxF "LOG.AE#$AE_UP.AETOXGR=2" "$T/state" &&
	pass "the updated AE has its new grade" ||
	fail "the updated AE has its new grade" "$(cat "$T/state")"
grep -qxF "LOG.AE#$AE_UP.AEOUT=RECOVERED" "$T/state" &&
	pass "the updated AE is resolved" ||
	fail "the updated AE is resolved" "$(cat "$T/state")"
grep -qxF "reason=Re-graded after the investigator's review" "$T/state" &&
	pass "the change carries its reason" ||
	fail "the change carries its reason" "$(cat "$T/state")"
grep -qxF "M6.VAS#.VAS=32" "$T/state" &&
	pass "the primary outcome is stored" ||
	fail "the primary outcome is stored" "$(cat "$T/state")"
n=$(grep -c '"user":"cora"' "$T/events")
m=$(wc -l <"$T/events")
expect_same "every event records the coordinator" "$n" "$m"
n=$(grep -c '"kind":"query.open"' "$T/events")
expect_same "in-window visits opened no query" "$n" 0

# ---- the record as the show commands print it, when they exist ------------------
if cb subject show "$S" >"$T/show" 2>"$T/show.err"; then
	grep -qF "무릎 부종" "$T/show" && pass "subject show has the Korean AE term" ||
		fail "subject show has the Korean AE term" "$(head -c 300 "$T/show")"
	grep -qF "M12" "$T/show" && pass "subject show lists month 12" ||
		fail "subject show lists month 12" "$(head -c 300 "$T/show")"
else
	echo "note: subject show not available: $(head -c 200 "$T/show.err")"
fi

finish
