#!/bin/sh
# t_edit_checks.sh - edit checks that relate two forms, coded values in
# any case, and TRIAL.md's plausibility checks, through the real casebook
# and casebookd on the shipped study (issue 13, points 1, 7 and 8):
#
#   1. Consent, visit windows and the end of study, entered in both
#      orders: the same verdict, hard (exit 3, nothing saved, the check
#      and the other form's VISIT.FORM.ITEM named) or soft (saved, a query
#      on the other form's item).
#   2. Choice and Y/N codes typed in any case are stored as the protocol
#      spells them (form set, ae add); an unknown code is still refused.
#   3. Plausibility: no date after the device's date plus one day (hard;
#      the laptop's clock is moved with CASEBOOK_CLOCK_OFFSET_MS), AGE
#      against BRTHYR and the consent date (hard), CTCAE grade against
#      severity (soft), grade 5 (hard), an AE or EOS without a consent
#      date (hard), randomization outside the baseline window (soft, both
#      orders; a real lease from a real server).
#   4. The server: everything the laptop saved syncs with nothing
#      rejected, and events pushed by hand that break a hard rule are
#      rejected by casebookd with the check named, the related ones
#      (consent after a visit, end of study before a visit) included;
#      "today" is the event's own date.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/build/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
if [ ! -x "$U" ]; then
	fail "signing client" "test_reqsig not built (set CASEBOOK_UNIT)"
	finish
fi
export CASEBOOK_PASSPHRASE=checks-pass-1 CASEBOOK_KDF_FAST=1 TZ=UTC
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server

# The laptop's "today" is 2026-06-15 (noon UTC) for data entry, so every
# date below is fixed; the server, and the laptop's sync (signed
# requests), run on the real clock.
OFF=$(python3 -c 'import calendar, time
print(calendar.timegm(time.strptime("2026-06-15", "%Y-%m-%d")) * 1000
      + 12 * 3600 * 1000 - int(time.time() * 1000))')
realtime() { env -u CASEBOOK_CLOCK_OFFSET_MS "$@"; }

# rc_out NAME RC TEXT CMD...: CMD exits RC and its output has TEXT
rc_out() {
	_n=$1 _r=$2 _t=$3
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	_got=$?
	if [ "$_got" -eq "$_r" ] && cat "$T/out" "$T/err" | grep -qF -- "$_t"; then
		pass "$_n"
	else
		fail "$_n" "exit $_got (wanted $_r), output: $(cat "$T/out" "$T/err" | head -c 400)"
	fi
}
# value SUBJECT VISIT FORM ITEM: the stored value ("null" when missing)
value() {
	cb a form show "$1" "$2" "$3" --json >"$T/v.json" 2>/dev/null
	jget "$T/v.json" "[i.get('value') for i in j['items'] if i['item']=='$4'][0]"
}
nevents() { cb a dump 2>/dev/null | grep -c '"kind"'; }
# has_query SUBJECT VISIT FORM ITEM: an open query on that item
has_query() {
	cb a query list >"$T/q" 2>&1
	grep -E "open +$1 $2 $3 $4\$" "$T/q" >/dev/null
}
newsubj() { cb a subject add 2>/dev/null; }

# ---- a server with a sealed randomization list ---------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 realtime "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
realtime "$CB" randlist generate --protocol "$PROTO" --sites KR01 \
	--per-stratum 8 --block-sizes 2,4 --seed "checks-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people inv:investigator:KR01 hand:coordinator:KR01
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
start_server || finish
TOKA=$("$CBD" token create --data "$D" --site KR01 --role investigator 2>/dev/null)
expect_rc "laptop registers" 0 realtime "$CB" --home "$T/h/a" init \
	--server "$URL" --token "$TOKA" --user inv
expect_rc "laptop takes its lease" 0 realtime "$CB" --home "$T/h/a" sync
export CASEBOOK_CLOCK_OFFSET_MS="$OFF"

# ---- 1. relations, in both orders ------------------------------------------

# Consent first, then a visit before it: refused.
S1=$(newsubj)
cb a form set "$S1" SCR DM CONSDT=2026-03-10 >/dev/null 2>&1
rc_out "consent then earlier visit: refused (3)" 3 "[CONSENT_FIRST_SV]" \
	cb a form set "$S1" SCR SV VISDT=2026-03-05
expect_out "consent then earlier visit: nothing saved" "nothing was saved"
check "consent then earlier visit: no visit date" null "$(value "$S1" SCR SV VISDT)"
# The visit first, then a consent date after it: the same verdict.
S2=$(newsubj)
expect_rc "visit before any consent date: saved" 0 cb a form set "$S2" SCR SV VISDT=2026-03-05
n0=$(nevents)
rc_out "visit then later consent: refused (3)" 3 \
	"rejected: SCR.SV.VISDT [CONSENT_FIRST_SV]" \
	cb a form set "$S2" SCR DM CONSDT=2026-03-10
check "visit then later consent: nothing stored" "$n0" "$(nevents)"
check "visit then later consent: no consent date" null "$(value "$S2" SCR DM CONSDT)"
expect_rc "a consent date before the visit is saved" 0 \
	cb a form set "$S2" SCR DM CONSDT=2026-03-01

# The observed case: consent moved after screening, baseline, injection
# and an AE is refused, naming each; the record keeps the old date, and
# saving a visit date again still works.
S3=$(newsubj)
for a in "SCR DM CONSDT=2026-02-01 BRTHYR=1961 SEX=F HEIGHT=160 WEIGHT=60 KNEE=L" \
	"SCR SV VISDT=2026-02-03" "BL SV VISDT=2026-03-02" "INJ SV VISDT=2026-03-23"; do
	# shellcheck disable=SC2086
	cb a form set "$S3" $a >/dev/null 2>&1 || fail "S3 data" "$a"
done
cb a ae add "$S3" AETERM=Bruising AESTDTC=2026-03-03 AEONGO=Y AETOXGR=1 \
	AESEV=MILD AESER=N AEREL=NOT AERELPR=PROBABLE AEACN=NONE \
	AEOUT=RECOVERING >/dev/null 2>&1 || fail "S3 AE" "not saved"
n0=$(nevents)
rc_out "consent moved after every date: refused (3)" 3 \
	"rejected: SCR.SV.VISDT [CONSENT_FIRST_SV]" \
	cb a form set "$S3" SCR DM CONSDT=2026-06-01 --reason "date corrected"
for w in "BL.SV.VISDT [CONSENT_FIRST_SV]" "INJ.SV.VISDT [CONSENT_FIRST_SV]" \
	"LOG.AE#1.AESTDTC [CONSENT_FIRST_AE]"; do
	expect_out "consent moved: names $w" "rejected: $w"
done
check "consent moved: nothing stored" "$n0" "$(nevents)"
check "consent moved: the old date stays" 2026-02-01 "$(value "$S3" SCR DM CONSDT)"
expect_rc "a visit date can be saved again" 0 cb a form set "$S3" INJ SV \
	VISDT=2026-03-24 --reason "visit date corrected"
# Clearing the consent date while an AE needs it is refused too.
rc_out "consent cleared under an AE: refused (3)" 3 \
	"rejected: LOG.AE#1 [AE_CONSENT]" \
	cb a form set "$S3" SCR DM CONSDT= --reason "wrong subject"

# Windows move with the baseline date: the query lands on the visit
# outside its window, whichever date is saved last.
S4=$(newsubj)
cb a form set "$S4" SCR DM CONSDT=2026-02-01 >/dev/null 2>&1
cb a form set "$S4" BL SV VISDT=2026-03-02 >/dev/null 2>&1
expect_rc "injection on day 21: saved" 0 cb a form set "$S4" INJ SV VISDT=2026-03-23
if has_query "$S4" INJ SV VISDT; then
	fail "injection on day 21: no query" "$(cat "$T/q")"
else
	pass "injection on day 21: no query"
fi
rc_out "baseline moved: saved with a warning" 0 \
	"warning: INJ.SV.VISDT [SV_WINDOW]" \
	cb a form set "$S4" BL SV VISDT=2026-02-20 --reason "date corrected"
if has_query "$S4" INJ SV VISDT; then
	pass "baseline moved: query on the injection visit"
else
	fail "baseline moved: query on the injection visit" "$(cat "$T/q")"
fi
if has_query "$S4" BL SV VISDT; then
	fail "baseline moved: no query on the baseline" "$(cat "$T/q")"
else
	pass "baseline moved: no query on the baseline"
fi
S5=$(newsubj)
cb a form set "$S5" SCR DM CONSDT=2026-02-01 >/dev/null 2>&1
cb a form set "$S5" BL SV VISDT=2026-02-20 >/dev/null 2>&1
rc_out "other order: injection on day 31 warns" 0 "warning: SV.VISDT [SV_WINDOW]" \
	cb a form set "$S5" INJ SV VISDT=2026-03-23
if has_query "$S5" INJ SV VISDT; then
	pass "other order: the same query"
else
	fail "other order: the same query" "$(cat "$T/q")"
fi

# No visit after the end of study, whichever comes first.
S6=$(newsubj)
cb a form set "$S6" SCR DM CONSDT=2026-02-01 >/dev/null 2>&1
cb a form set "$S6" BL SV VISDT=2026-02-20 >/dev/null 2>&1
cb a form set "$S6" M1 SV VISDT=2026-04-12 >/dev/null 2>&1
rc_out "EOS before a visit: refused (3)" 3 "rejected: M1.SV.VISDT [SV_BEFORE_EOS]" \
	cb a form set "$S6" LOG EOS EOSSTAT=LOST EOSDT=2026-04-01 EOSREAS=moved
check "EOS before a visit: not saved" null "$(value "$S6" LOG EOS EOSDT)"
expect_rc "EOS after the visits: saved" 0 \
	cb a form set "$S6" LOG EOS EOSSTAT=LOST EOSDT=2026-04-20 EOSREAS=moved
rc_out "visit after EOS: refused (3)" 3 "rejected: SV.VISDT [SV_BEFORE_EOS]" \
	cb a form set "$S6" M3 SV VISDT=2026-05-30
check "visit after EOS: not saved" null "$(value "$S6" M3 SV VISDT)"

# ---- 2. codes in any case ------------------------------------------------

S7=$(newsubj)
expect_rc "lower-case codes: saved" 0 cb a form set "$S7" SCR DM \
	CONSDT=2026-02-01 BRTHYR=1966 sex=f knee=r HEIGHT=160 WEIGHT=60
check "sex stored as F" F "$(value "$S7" SCR DM SEX)"
check "knee stored as R" R "$(value "$S7" SCR DM KNEE)"
expect_rc "same code, other case: nothing changed" 0 cb a form set "$S7" SCR DM SEX=f
expect_out "same code, other case: says so" "nothing changed"
cb a form set "$S7" BL SV VISDT=2026-03-02 >/dev/null 2>&1
expect_rc "PE effusion mod: saved" 0 cb a form set "$S7" BL PE ROM=120 EFFUS=mod
check "effusion stored as MOD" MOD "$(value "$S7" BL PE EFFUS)"
expect_rc "mixed-case ELIG codes: saved" 0 cb a form set "$S7" SCR ELIG \
	AGE=60 KLGRADE=2 pain3m=y BMI=23.4 IAINJ3M=n INFLARTH=N PREG=na
check "Y/N stored as Y" Y "$(value "$S7" SCR ELIG PAIN3M)"
check "NA stored as NA" NA "$(value "$S7" SCR ELIG PREG)"
expect_rc "ae add with lower-case codes" 0 cb a ae add "$S7" AETERM=Itch \
	AESTDTC=2026-03-05 aeongo=y AETOXGR=1 aesev=mild aeser=n aerel=not \
	aerelpr=unlikely aeacn=none aeout=recovering
check "AE severity stored as MILD" MILD "$(value "$S7" LOG 'AE#1' AESEV)"
check "AE relationship stored as UNLIKELY" UNLIKELY "$(value "$S7" LOG 'AE#1' AERELPR)"
# The merged record (every change of every event) holds only the codes.
cb a dump 2>/dev/null | awk -v s="subject \"$S7\"" \
	'/^subject "/ { on = index($0, s) == 1 } on' >"$T/dump"
if grep -qE '"(f|r|mod|y|n|na|mild|not|unlikely|none|recovering)"' "$T/dump"; then
	fail "events carry only canonical codes" "$(grep -E '"(f|r|mod|y|n|na|mild)"' "$T/dump" | head -3)"
elif grep -q '"SEX" = "F"' "$T/dump" && grep -q '"AEACN" = "NONE"' "$T/dump"; then
	pass "events carry only canonical codes"
else
	fail "events carry only canonical codes" "dump: $(head -c 300 "$T/dump")"
fi
rc_out "an unknown code in any case: refused (3)" 3 "PE.EFFUS" \
	cb a form set "$S7" BL PE EFFUS=huge --reason x

# ---- 3. plausibility ---------------------------------------------------------

# Today is 2026-06-15: the 16th is allowed, the 17th is not.
S8=$(newsubj)
cb a form set "$S8" SCR DM CONSDT=2026-05-01 BRTHYR=1960 SEX=M HEIGHT=180 \
	WEIGHT=80 KNEE=L >/dev/null 2>&1 || fail "S8 DM" "not saved"
expect_rc "visit tomorrow (device date + 1): saved" 0 cb a form set "$S8" SCR SV VISDT=2026-06-16
rc_out "visit the day after tomorrow: refused (3)" 3 "rejected: SV.VISDT [NO_FUTURE_DATE]" \
	cb a form set "$S8" BL SV VISDT=2026-06-17
rc_out "AE onset next month: refused (3)" 3 "rejected: AE.AESTDTC [NO_FUTURE_DATE]" \
	cb a ae add "$S8" AETERM=Pain AESTDTC=2026-07 AEONGO=Y AETOXGR=1 \
	AESEV=MILD AESER=N AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERING
expect_rc "AE onset this month (partial): saved" 0 cb a ae add "$S8" \
	AETERM=Pain AESTDTC=2026-06 AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N \
	AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERING
# The same save a month later on the laptop's clock passes: "today" is
# the device's date when the save is made.
CASEBOOK_CLOCK_OFFSET_MS=$((OFF + 30 * 86400000)) expect_rc \
	"a month later the date is no longer future" 0 \
	cb a form set "$S8" BL SV VISDT=2026-06-17

# AGE is the consent year minus BRTHYR, or one less.
rc_out "age 60 for a subject born 1960: refused (3)" 3 "rejected: ELIG.AGE [AGE_BIRTH_YEAR]" \
	cb a form set "$S8" SCR ELIG AGE=60
expect_rc "age 65: saved" 0 cb a form set "$S8" SCR ELIG AGE=65
expect_rc "age 66: saved" 0 cb a form set "$S8" SCR ELIG AGE=66 --reason "birthday passed"
rc_out "birth year changed against the age: refused (3)" 3 \
	"rejected: SCR.ELIG.AGE [AGE_BIRTH_YEAR]" \
	cb a form set "$S8" SCR DM BRTHYR=1950 --reason typo

# Grade 4 reported mild: saved, a query on the grade.
rc_out "grade 4 mild: saved with a warning" 0 "warning: AE.AETOXGR [AE_GRADE_SEVERITY]" \
	cb a ae add "$S8" AETERM=Fever AESTDTC=2026-06-02 AEONGO=Y AETOXGR=4 \
	AESEV=MILD AESER=N AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERING
AEN=$(sed -n 's/.* LOG \(AE#[0-9]*\):.*/\1/p' "$T/out" | head -1)
if has_query "$S8" LOG "$AEN" AETOXGR; then
	pass "grade 4 mild: query on the grade"
else
	fail "grade 4 mild: query on the grade" "$AEN: $(cat "$T/q")"
fi
# Grade 5 means death: not serious, or not fatal, is refused.
rc_out "grade 5 not serious: refused (3)" 3 "[AE_GRADE5_SERIOUS]" \
	cb a ae add "$S8" AETERM=Sepsis AESTDTC=2026-06-03 AEONGO=N \
	AEENDTC=2026-06-09 AETOXGR=5 AESEV=SEV AESER=N AEREL=NOT AERELPR=NOT \
	AEACN=NONE AEOUT=FATAL
rc_out "grade 5 recovered: refused (3)" 3 "[AE_GRADE5_FATAL]" \
	cb a ae add "$S8" AETERM=Sepsis AESTDTC=2026-06-03 AEONGO=N \
	AEENDTC=2026-06-09 AETOXGR=5 AESEV=SEV AESER=Y AESDTH=Y AEREL=NOT \
	AERELPR=NOT AEACN=NONE AEOUT=RECOVERED
expect_out "grade 5 recovered: nothing saved" "nothing was saved"
expect_rc "grade 5, serious, death, fatal: saved" 0 cb a ae add "$S8" \
	AETERM=Sepsis AESTDTC=2026-06-03 AEONGO=N AEENDTC=2026-06-09 \
	AETOXGR=5 AESEV=SEV AESER=Y AESDTH=Y AEREL=NOT AERELPR=NOT AEACN=NONE \
	AEOUT=FATAL

# An AE or end of study needs a consent date on record.
S9=$(newsubj)
n0=$(nevents)
rc_out "AE without consent: refused (3)" 3 "rejected: AE [AE_CONSENT]" \
	cb a ae add "$S9" AETERM=Rash AESTDTC=2026-06-01 AEONGO=Y AETOXGR=1 \
	AESEV=MILD AESER=N AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERING
rc_out "EOS without consent: refused (3)" 3 "rejected: EOS [EOS_CONSENT]" \
	cb a form set "$S9" LOG EOS EOSSTAT=WITHDREW EOSDT=2026-06-01 EOSREAS=x
check "no consent: nothing stored" "$n0" "$(nevents)"

# Randomization outside the baseline window: a query, whichever is
# saved last; on the baseline date: none.
enroll() {
	_s=$(newsubj)
	cb a form set "$_s" SCR DM CONSDT=2026-05-01 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb a form set "$_s" SCR ELIG AGE=60 KLGRADE=2 PAIN3M=Y BMI=27 \
		IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
R1=$(enroll) || fail "enroll" "R1"
cb a form set "$R1" BL SV VISDT=2026-06-12 >/dev/null 2>&1
rc_out "randomized 3 days after baseline: warns" 0 \
	"warning: RAND.RANDDTC [RAND_WINDOW]" cb a randomize "$R1"
expect_out "randomized: numbers printed" "randomization number"
if has_query "$R1" BL RAND RANDDTC; then
	pass "randomized outside the window: query on RANDDTC"
else
	fail "randomized outside the window: query on RANDDTC" "$(cat "$T/q")"
fi
R2=$(enroll) || fail "enroll" "R2"
expect_rc "randomized before a baseline date" 0 cb a randomize "$R2"
expect_no_out "no baseline yet: no window warning" "RAND_WINDOW"
rc_out "baseline dated 3 days earlier: warns" 0 \
	"warning: BL.RAND.RANDDTC [RAND_WINDOW]" \
	cb a form set "$R2" BL SV VISDT=2026-06-12
if has_query "$R2" BL RAND RANDDTC; then
	pass "baseline saved later: the same query on RANDDTC"
else
	fail "baseline saved later: the same query on RANDDTC" "$(cat "$T/q")"
fi
R3=$(enroll) || fail "enroll" "R3"
cb a form set "$R3" BL SV VISDT=2026-06-15 >/dev/null 2>&1
expect_rc "randomized on the baseline date" 0 cb a randomize "$R3"
expect_no_out "on the baseline date: no warning" "RAND_WINDOW"

# ---- 4. the server ------------------------------------------------------------

unset CASEBOOK_CLOCK_OFFSET_MS # the real clock from here on
# Everything the laptop saved passes the server's checks too.
expect_rc "laptop syncs" 0 "$CB" --home "$T/h/a" sync
expect_out "the server rejects nothing the laptop saved" "0 rejected"

# A second device, driven by hand with the signing client.
TOKB=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
PK=$("$U" client keygen "$T/kb") || fail "keygen" "signing client"
printf '{"token":"%s","public_key":"%s","user":"hand"}' "$TOKB" "$PK" >"$T/reg.json"
curl -s -o "$T/resp" -X POST --data-binary @"$T/reg.json" "$URL/v1/register"
DEVB=$(jget "$T/resp" 'j["device"]')
IDX=$(jget "$T/resp" '"%02d" % j["device_index"]')
[ -n "$DEVB" ] && pass "hand device registered" || fail "hand device registered" "$(cat "$T/resp")"

# ev SUBJECT VISIT FORM INSTANCE CHANGES...: one event signed by device B
ev() {
	_s=$1
	shift
	"$U" client event "$T/kb" "$DEVB" KR01 hand "$_s" form.save "$@"
}
# push EVENT...: push one batch; results in $T/resp
push() {
	printf '{"events":[' >"$T/push.json"
	_first=1
	for _e in "$@"; do
		[ $_first -eq 1 ] || printf ',' >>"$T/push.json"
		printf '%s' "$_e" >>"$T/push.json"
		_first=0
	done
	printf ']}' >>"$T/push.json"
	"$U" client headers "$T/kb" "$DEVB" POST /v1/sync/push "" "$T/push.json" >"$T/hdr" || return 1
	code=$(curl -s -o "$T/resp" -w '%{http_code}' -X POST \
		-H "$(sed -n 1p "$T/hdr")" -H "$(sed -n 2p "$T/hdr")" \
		-H "$(sed -n 3p "$T/hdr")" -H "$(sed -n 4p "$T/hdr")" \
		-H 'Content-Type: application/json' --data-binary @"$T/push.json" \
		"$URL/v1/sync/push")
}
res() { jget "$T/resp" "$1"; }
H1="KR01-${IDX}001" H2="KR01-${IDX}002" H3="KR01-${IDX}003" H4="KR01-${IDX}004"
# Each subject is created first (the server takes nothing before that).
mk() { "$U" client event "$T/kb" "$DEVB" KR01 hand "$1" subject.status "" "" "" --data status=screening; }
push "$(mk "$H1")" "$(mk "$H2")" "$(mk "$H3")" "$(mk "$H4")"
check "server: four subjects created" 4 "$(res 'j["accepted"]')"

# Visit first, then a consent date after it (related, on the server).
push "$(ev "$H1" SCR SV "" VISDT=2026-03-05)"
check "server: a visit is accepted" accepted "$(res 'j["results"][0]["status"]')"
push "$(ev "$H1" SCR DM "" CONSDT=2026-03-10)"
check "server: consent after the visit rejected" check "$(res 'j["results"][0].get("code")')"
check "server: names CONSENT_FIRST_SV" CONSENT_FIRST_SV "$(res 'j["results"][0]["checks"][0]["id"]')"
check "server: names the visit's item" SCR.SV.VISDT "$(res 'j["results"][0]["checks"][0]["item"]')"
# The other order, in one batch: the same check.
push "$(ev "$H2" SCR DM "" CONSDT=2026-03-10)" "$(ev "$H2" SCR SV "" VISDT=2026-03-05)"
check "server: consent then earlier visit: visit rejected" \
	"accepted rejected CONSENT_FIRST_SV" \
	"$(res '"%s %s %s" % (j["results"][0]["status"], j["results"][1]["status"], j["results"][1]["checks"][0]["id"])')"
# An AE with no consent date on record.
push "$(ev "$H3" LOG AE 1 AETERM=Rash AESTDTC=2026-03-05)"
check "server: AE without consent names AE_CONSENT" AE_CONSENT "$(res 'j["results"][0]["checks"][0]["id"]')"
# An end of study before a recorded visit.
push "$(ev "$H4" SCR DM "" CONSDT=2026-02-01)" "$(ev "$H4" M1 SV "" VISDT=2026-04-12)" \
	"$(ev "$H4" LOG EOS "" EOSSTAT=LOST EOSDT=2026-04-01 EOSREAS=moved)"
check "server: EOS before a visit names SV_BEFORE_EOS at M1" \
	"rejected SV_BEFORE_EOS M1.SV.VISDT" \
	"$(res '"%s %s %s" % (j["results"][2]["status"], j["results"][2]["checks"][0]["id"], j["results"][2]["checks"][0]["item"])')"
# A lower-case code is not a value: the laptop stores the canonical one.
push "$(ev "$H4" SCR DM "" SEX=f)"
check "server: a lower-case code is refused" item.format "$(res 'j["results"][0]["checks"][0]["id"]')"
# "Today" is the event's own date: made 30 days ago, the day after its
# date is allowed and the day after that refused, although both are in
# the server's past.
MADE=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)).date())')
plus() { python3 -c 'import datetime,sys; print(datetime.date.fromisoformat(sys.argv[1]) + datetime.timedelta(days=int(sys.argv[2])))' "$1" "$2"; }
OLD=$((-30 * 86400000))
E_OK=$(CASEBOOK_CLOCK_OFFSET_MS=$OLD ev "$H4" BL SV "" VISDT="$(plus "$MADE" 1)")
E_NO=$(CASEBOOK_CLOCK_OFFSET_MS=$OLD ev "$H4" W1 SV "" VISDT="$(plus "$MADE" 2)")
push "$E_OK" "$E_NO"
check "server: date = event's date + 1 accepted" accepted "$(res 'j["results"][0]["status"]')"
check "server: date = event's date + 2 names NO_FUTURE_DATE" NO_FUTURE_DATE \
	"$(res 'j["results"][1]["checks"][0]["id"]')"

finish
