#!/bin/sh
# t_form.sh - form data through the CLI on the shipped study: `form set`,
# `form show` (values, status partial -> complete, scores, open queries,
# --json), `form show --history` (who, when, old, new, why, in clock
# order; signatures), `ae add` (AE#1, AE#2, ...) and updates of an AE with a reason,
# unknown codes (the message lists the valid ones), hard edit-check
# failures (exit 3, nothing saved, history unchanged), soft failures (a
# query shown by `form show`), and `form enter` refusing without a
# terminal.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=form-pass-1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE

# expect_same NAME GOT WANT
expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
# expect_rc_out NAME RC TEXT CMD...: CMD exits RC and its output has TEXT
expect_rc_out() {
	_n=$1 _r=$2 _t=$3
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	_got=$?
	if [ "$_got" -eq "$_r" ] && cat "$T/out" "$T/err" | grep -qF -- "$_t"; then
		pass "$_n"
	else
		fail "$_n" "exit $_got (wanted $_r), output: $(cat "$T/out" "$T/err" | head -c 300)"
	fi
}
# line_of TEXT: number of the first line of the last output holding TEXT
line_of() { grep -nF -- "$1" "$T/out" | head -1 | cut -d: -f1; }
# json_get EXPR: evaluate a Python expression on the last output as JSON (j)
json_get() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/out" "$1" 2>&1
}

expect_rc "init" 0 "$CB" init --site KR01 --device-index 1 \
	--protocol "$PROTO" --user alice --role investigator
"$CB" subject add >"$T/subj" 2>&1
S=$(cat "$T/subj")
expect_same "subject id" "$S" "KR01-01001"

# ---- form set / form show: values and status -----------------------------
expect_rc "show of an empty form" 0 "$CB" form show "$S" SCR DM
expect_out "empty form status" "status: empty"
expect_rc "form set partial DM" 0 "$CB" form set "$S" SCR DM BRTHYR=1960 \
	sex=M HEIGHT=170.5
expect_out "set says how many items" "$S SCR DM: saved 3 items"
expect_rc "show partial DM" 0 "$CB" form show "$S" SCR DM
expect_out "partial status" "status: partial"
expect_out "value with its unit" "170.5 cm"
expect_out "choice value with its label" "M (Male)"
expect_out "item label shown" "Year of birth"
if grep -E '^  WEIGHT +Weight +-$' "$T/out" >/dev/null; then
	pass "missing value shown as -"
else
	fail "missing value shown as -" "$(grep WEIGHT "$T/out")"
fi
expect_out "missing required items listed" "missing required: WEIGHT, KNEE, CONSDT"
expect_rc "complete DM" 0 "$CB" form set "$S" SCR DM WEIGHT=70 KNEE=L \
	CONSDT=2026-01-10
expect_rc "show complete DM" 0 "$CB" form show "$S" SCR DM
expect_out "complete status" "status: complete"
if grep -q "^  CONSDT" "$T/out" && ! grep -q "missing required" "$T/out"; then
	pass "no missing items when complete"
else
	fail "no missing items when complete" "$(cat "$T/out" "$T/err")"
fi

# ---- changes need a reason; history --------------------------------------
expect_rc "change without reason exits 2" 2 "$CB" form set "$S" SCR DM HEIGHT=172
expect_out "missing reason is named" "reason"
expect_rc "change with a reason" 0 "$CB" form set "$S" SCR DM HEIGHT=172 \
	--reason "measured again"
CASEBOOK_USER=alice expect_rc "history" 0 "$CB" form show "$S" SCR DM --history
expect_out "history header" "WHEN"
expect_out "history has the reason" "measured again"
expect_out "history times are UTC" " UTC"
if grep -E "alice +[0-9a-f]{8} +HEIGHT +170\.5 +172 +measured again" "$T/out" >/dev/null; then
	pass "history line: who, device, item, old, new, why"
else
	fail "history line: who, device, item, old, new, why" "$(grep HEIGHT "$T/out")"
fi
if grep -E "alice +[0-9a-f]{8} +HEIGHT +\(none\) +170\.5 +-$" "$T/out" >/dev/null; then
	pass "history first entry: no old value, no reason"
else
	fail "history first entry: no old value, no reason" "$(grep HEIGHT "$T/out")"
fi
first=$(line_of "HEIGHT  (none)")
second=$(line_of "measured again")
if [ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ]; then
	pass "history in clock order"
else
	fail "history in clock order" "lines '$first' '$second'"
fi
expect_out "current value after change" "172 cm"
hist_before=$(cat "$T/out")

# ---- hard failures save nothing --------------------------------------------
expect_rc "out-of-range value exits 3" 3 "$CB" form set "$S" SCR DM \
	HEIGHT=999 --reason "typo"
expect_out "range failure names the item" "DM.HEIGHT"
expect_out "says nothing was saved" "nothing was saved"
expect_rc "wrong type exits 3" 3 "$CB" form set "$S" SCR DM BRTHYR=nineteen \
	--reason x
expect_rc "history after failures" 0 "$CB" form show "$S" SCR DM --history
if [ "$(cat "$T/out")" = "$hist_before" ] && grep -q "measured again" "$T/out"; then
	pass "hard failures leave history unchanged"
else
	fail "hard failures leave history unchanged" "$(cat "$T/out" "$T/err" | head -c 400)"
fi

# ---- unknown codes list the valid ones -------------------------------------
expect_rc "unknown visit exits 3" 3 "$CB" form show "$S" XX DM
expect_out "unknown visit lists visits" "SCR"
expect_rc "unknown form exits 3" 3 "$CB" form show "$S" SCR VAS
expect_out "unknown form lists the visit's forms" "ELIG"
expect_rc "unknown item exits 3" 3 "$CB" form set "$S" SCR DM NOPE=1
expect_out "unknown item lists items" "BRTHYR"
expect_rc "unknown choice code exits 3" 3 "$CB" form set "$S" SCR DM SEX=X \
	--reason x
expect_out "unknown choice lists codes" "M, F"
expect_rc "unknown subject exits 3" 3 "$CB" form show KR01-01999 SCR DM
expect_out "unknown subject lists subjects" "$S"

# ---- scores ----------------------------------------------------------------
expect_rc "save VAS" 0 "$CB" form set "$S" BL VAS VAS=55
expect_rc "show VAS" 0 "$CB" form show "$S" BL VAS
expect_out "derived score shown" "55.00"

# ---- adverse events --------------------------------------------------------
expect_rc "ae add first" 0 "$CB" ae add "$S" "AETERM=Knee swelling" \
	AESTDTC=2026-02 AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT \
	AERELPR=POSSIBLE AEACN=NONE AEOUT=RECOVERING
expect_out "first AE is AE#1" "$S LOG AE#1: saved 10 items"
expect_rc "ae add second (Korean term)" 0 "$CB" ae add "$S" "AETERM=무릎 통증" \
	AESTDTC=2026-03-05 AEONGO=Y AETOXGR=2 AESEV=MOD AESER=N AEREL=NOT \
	AERELPR=NOT AEACN=TREATED AEOUT=NOT_RECOVERED
expect_out "second AE is AE#2" "$S LOG AE#2: saved 10 items"
expect_rc "show AE#1" 0 "$CB" form show "$S" LOG "AE#1"
expect_out "AE#1 term" "Knee swelling"
expect_out "AE#1 complete" "status: complete"
expect_rc "show AE#2" 0 "$CB" form show "$S" LOG "AE#2"
expect_out "Korean term round-trips" "무릎 통증"
expect_rc "AE update without reason exits 2" 2 "$CB" form set "$S" LOG "AE#1" \
	AETOXGR=2
expect_rc "AE update with reason" 0 "$CB" form set "$S" LOG "AE#1" \
	AETOXGR=2 AESEV=MOD --reason "worsened on day 3"
expect_rc "AE#1 history" 0 "$CB" form show "$S" LOG "AE#1" --history
if grep -E "AETOXGR +1 +2 +worsened on day 3" "$T/out" >/dev/null; then
	pass "AE update in history"
else
	fail "AE update in history" "$(grep AETOXGR "$T/out")"
fi
expect_rc "AE#2 unchanged by AE#1 update" 0 "$CB" form show "$S" LOG "AE#2"
expect_out "AE#2 grade kept" "2"
expect_out "AE#2 severity kept" "MOD (Moderate)"

# A long value from a file (one final newline dropped).
printf '무릎 관절 삼출, 파일에서\n' >"$T/term.txt"
expect_rc "--value-file saves" 0 "$CB" form set "$S" LOG "AE#2" \
	--value-file "AETERM=$T/term.txt" --reason "term from the source note"
expect_rc "show value from file" 0 "$CB" form show "$S" LOG "AE#2" --json
expect_same "value from file round-trips without its newline" \
	"$(json_get '[i["value"] for i in j["items"] if i["item"]=="AETERM"][0]')" \
	"무릎 관절 삼출, 파일에서"

# Two processes adding AEs to one subject at once take different numbers.
S2=$("$CB" subject add)
"$CB" form set "$S2" SCR DM CONSDT=2026-01-10 >/dev/null 2>&1 # AE_CONSENT
for i in 1 2 3 4; do
	"$CB" ae add "$S2" "AETERM=Parallel $i" AESTDTC=2026-02 AEONGO=Y \
		AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT AERELPR=NOT AEACN=NONE \
		AEOUT=RECOVERING >"$T/par$i.out" 2>&1 &
done
wait
cat "$T"/par*.out | grep -o "AE#[0-9]*" | sort >"$T/par.nums"
if [ "$(tr '\n' ' ' <"$T/par.nums")" = "AE#1 AE#2 AE#3 AE#4 " ]; then
	pass "concurrent ae add numbers AE#1..AE#4 once each"
else
	fail "concurrent ae add numbers AE#1..AE#4 once each" \
		"$(cat "$T"/par*.out | head -c 600)"
fi
expect_rc "concurrent AEs are not conflicted" 0 "$CB" subject show "$S2"
expect_no_out "no conflict after concurrent ae add" "conflicted"

# Hard failure in ae add: nothing saved, no number used up.
expect_rc "serious AE without criterion exits 3" 3 "$CB" ae add "$S" \
	AETERM=Fall AESTDTC=2026-04 AEONGO=Y AETOXGR=3 AESEV=SEV AESER=Y \
	AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERING
expect_out "failing check is named" "AE_SERIOUS_CRITERION"
expect_rc "rejected AE left no instance" 0 "$CB" form show "$S" LOG "AE#3"
expect_out "AE#3 is empty" "status: empty"
expect_rc "unknown AE item exits 3" 3 "$CB" ae add "$S" AETERM=x BOGUS=1
expect_out "unknown AE item lists the AE items" "AESTDTC"
expect_rc "unknown AE code exits 3" 3 "$CB" ae add "$S" AETERM=x AESEV=HUGE
expect_out "unknown AE code lists valid codes" "MILD, MOD, SEV"

# Soft failure: saved, query opened and shown.
expect_rc "AE not ongoing without end date saves" 0 "$CB" ae add "$S" \
	AETERM=Rash AESTDTC=2026-04-01 AEONGO=N AETOXGR=1 AESEV=MILD AESER=N \
	AEREL=NOT AERELPR=NOT AEACN=NONE AEOUT=RECOVERED
expect_out "the rejected AE did not use a number" "$S LOG AE#3: saved 10 items"
expect_out "soft failure warns" "query opened"
expect_rc "show AE#3" 0 "$CB" form show "$S" LOG "AE#3"
expect_out "open query listed" "AE is not ongoing: give its end date"
if grep -E "^  [0-9a-f]{32}  AEENDTC +open" "$T/out" >/dev/null; then
	pass "query line: id, item, status"
else
	fail "query line: id, item, status" "$(sed -n '/open queries/,$p' "$T/out")"
fi
expect_rc "AE#3 history has the query" 0 "$CB" form show "$S" LOG "AE#3" --history
expect_out "query event in history" "QUERY OPENED"

# ---- signatures (casebook sign) --------------------------------------------
expect_rc "sign VAS" 0 "$CB" sign "$S" BL VAS
expect_rc_out "show: signed" 0 "signed by alice on" "$CB" form show "$S" BL VAS
expect_no_out "signature not broken yet" "BROKEN"
expect_rc "change a signed form" 0 "$CB" form set "$S" BL VAS VAS=60 \
	--reason "misread the scale"
expect_rc_out "show: signature broken" 0 "SIGNATURE BROKEN" \
	"$CB" form show "$S" BL VAS
expect_rc_out "history has the signature" 0 "SIGNED" \
	"$CB" form show "$S" BL VAS --history
sline=$(line_of "SIGNED")
cline=$(line_of "misread the scale")
if [ -n "$sline" ] && [ -n "$cline" ] && [ "$sline" -lt "$cline" ]; then
	pass "signature before the later change in history"
else
	fail "signature before the later change in history" "lines '$sline' '$cline'"
fi
expect_rc "VAS --json with signature" 0 "$CB" form show "$S" BL VAS --json
expect_same "json signature broken" "$(json_get 'j["signature"]["broken"]')" "True"
expect_same "json signature user" "$(json_get 'j["signature"]["user"]')" "alice"

# ---- JSON ------------------------------------------------------------------
expect_rc "show --json" 0 "$CB" form show "$S" LOG "AE#3" --json --history
if python3 -m json.tool "$T/out" >/dev/null 2>&1; then
	pass "--json parses"
else
	fail "--json parses" "$(head -c 300 "$T/out")"
fi
expect_same "json target" "$(json_get 'j["target"]')" "AE#3"
expect_same "json status (end date missing)" "$(json_get 'j["status"]')" "partial"
expect_same "json item value" \
	"$(json_get '[i["value"] for i in j["items"] if i["item"]=="AETERM"][0]')" "Rash"
expect_same "json missing value is null" \
	"$(json_get '[i["value"] for i in j["items"] if i["item"]=="AEENDTC"][0]')" "None"
expect_same "json open query" "$(json_get 'j["queries"][0]["item"]')" "AEENDTC"
expect_same "json history user" "$(json_get 'j["history"][0]["user"]')" "alice"
expect_rc "DM --json --history" 0 "$CB" form show "$S" SCR DM --json --history
expect_same "json history old/new/why" \
	"$(json_get '[(h["old"],h["value"],h["reason"]) for h in j["history"] if h["item"]=="HEIGHT"][1]')" \
	"(['170.5'], '172', 'measured again')"
expect_rc "VAS --json" 0 "$CB" form show "$S" BL VAS --json
expect_same "json score" "$(json_get 'j["scores"][0]["value"]')" "60"

# ---- usage -----------------------------------------------------------------
expect_rc_out "show without a form: usage" 2 "usage: casebook form show" \
	"$CB" form show "$S" SCR
expect_rc_out "show with a bad option: usage" 2 "unknown option '--bogus'" \
	"$CB" form show "$S" SCR DM --bogus
expect_rc_out "ae add without items: usage" 2 "usage: casebook ae add" \
	"$CB" ae add "$S"
expect_rc_out "form enter without a terminal exits 2" 2 "needs a terminal" \
	"$CB" form enter "$S" SCR DM </dev/null
expect_rc "ae --help" 0 "$CB" ae --help
expect_out "ae help" "usage: casebook ae add"

finish
