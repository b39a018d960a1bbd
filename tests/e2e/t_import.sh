#!/bin/sh
# t_import.sh - `casebook import`: a backlog of paper CRFs entered from a
# file through the checks of `form set`. All or nothing per file by
# default, each subject all or nothing with --per-subject; every refused
# row reported with its failing checks (stderr and --report); corrections
# need a REASON; a csv export of the server imports back unchanged; the
# json format; a progress line on a terminal; bad input refused with
# nothing stored changed.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=import-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server
CRFS="$CASEBOOK_TOP/tests/e2e/paper_crfs.py"

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
cb a init --server "$URL" --token "$(token_for kim coordinator KR01)" --user kim \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"
S=""
for n in 1 2 3 4; do S="$S $(cb a subject add 2>/dev/null | tail -n 1)"; done
set -- $S
S1=$1 S2=$2 S3=$3 S4=$4

# events_of HOME: the number of events the store holds.
events_of() { cb "$1" store check 2>/dev/null | sed -n 's/^events \([0-9]*\).*/\1/p'; }
# digest_of HOME: the store's content digest.
digest_of() { cb "$1" store check 2>/dev/null | sed -n 's/^content digest //p'; }

# ---- usage and unreadable input: nothing asked, nothing stored ------------------

python3 "$CRFS" $S1 $S2 >"$T/two.csv"
BEFORE=$(digest_of a)
expect_rc "import --help" 0 cb a import --help
expect_out "the help names the REASON column" "REASON"
expect_rc "import needs --format" 2 cb a import "$T/two.csv"
expect_rc "import needs a known format" 2 cb a import --format xml "$T/two.csv"
expect_rc "import needs a file" 2 cb a import --format csv
expect_rc "a missing file" 1 cb a import --format csv "$T/none.csv"
printf 'SUBJECT,VISIT,FORM,VISDT,HEIGTH\r\n%s,SCR,DM,,170\r\n' "$S1" >"$T/typo.csv"
expect_rc "a column no form has" 3 cb a import --format csv "$T/typo.csv"
expect_out "the unknown column is named" "column HEIGTH is not an item of form DM"
printf 'SUBJECT,VISIT,HEIGTH\r\n%s,SCR,170\r\n' "$S1" >"$T/DM.csv"
expect_rc "a column that is not an item of the file's form" 2 cb a import --format csv "$T/DM.csv"
expect_out "the column and the form are named" "column HEIGTH is not an item of form DM"
printf 'SUBJECT,VISIT,HEIGHT\r\n%s,SCR,170\r\n' "$S1" >"$T/backlog.csv"
expect_rc "no FORM column, no --form, a file name that is no form" 2 cb a import --format csv "$T/backlog.csv"
expect_out "the way out is said" "give --form"
printf 'SUBJECT,VISIT,FORM\r\n"%s,SCR,DM\r\n' "$S1" >"$T/open.csv"
expect_rc "an unclosed quote" 1 cb a import --format csv "$T/open.csv"
expect_out "the line is named" "not closed"
printf 'SUBJECT,VISIT,FORM,HEIGHT\r\n%s,SCR,DM\r\n' "$S1" >"$T/short.csv"
expect_rc "a row with too few fields" 1 cb a import --format csv "$T/short.csv"
expect_out "the row's line is named" "line 2 has 3 fields"
expect_rc "a wrong passphrase" 4 env CASEBOOK_PASSPHRASE=wrong "$CB" --home "$T/h/a" import --format csv "$T/two.csv"
check "nothing stored changed" "$BEFORE" "$(digest_of a)"

# ---- all or nothing --------------------------------------------------------------

# The same edit check as form set: HEIGHT 999 is out of range.
expect_rc "form set refuses HEIGHT 999" 3 cb a form set "$S1" SCR DM HEIGHT=999
expect_out "form set names the check" "item.range"
python3 "$CRFS" $S1 $S2 $S3 | sed "s/^\($S2,SCR,DM,,[0-9]*,[FM]\),[0-9]*,/\1,999,/" >"$T/bad.csv"
grep -q ",999," "$T/bad.csv" || fail "bad.csv" "no row changed"
N0=$(events_of a)
expect_rc "a file with a refused row" 3 cb a import --format csv "$T/bad.csv" --report "$T/report.csv"
expect_out "the refused row is reported with its line" "bad.csv:23: $S2 SCR DM"
expect_out "with the failing check" "[item.range]"
expect_out "and that nothing was imported" "nothing was imported"
check "all or nothing: no event stored" "$N0" "$(events_of a)"
check "the report lists the row and its check" "23,$S2,SCR,DM,,item.range" \
	"$(sed -n 2p "$T/report.csv" | cut -d, -f1-6)"
expect_rc "the report is never overwritten" 1 cb a import --format csv "$T/two.csv" --report "$T/report.csv"
check "nothing stored changed by a refused report" "$N0" "$(events_of a)"

python3 "$CRFS" $S1 $S2 $S3 >"$T/good.csv"
expect_rc "a clean file imports" 0 cb a import --format csv "$T/good.csv"
expect_out "every row saved" "60 rows saved"
check "one event per row" "$((N0 + 60))" "$(events_of a)"
cb a form show "$S2" SCR DM >"$T/out" 2>&1
expect_out "the values are on the form" "2025-05-19"
expect_rc "the same file again" 0 cb a import --format csv "$T/good.csv"
expect_out "changes nothing" "0 rows saved (0 item values, 0 queries opened), 60 unchanged"
check "no event for unchanged rows" "$((N0 + 60))" "$(events_of a)"
expect_rc "the store checks intact after import" 0 cb a store check

# ---- corrections need a reason -----------------------------------------------------

printf 'SUBJECT,VISIT,FORM,WEIGHT\r\n%s,SCR,DM,99\r\n' "$S1" >"$T/fix.csv"
N1=$(events_of a)
expect_rc "a correction without a reason" 3 cb a import --format csv "$T/fix.csv"
expect_out "the REASON column is asked for" "the REASON column must say why"
check "the correction without a reason stored nothing" "$N1" "$(events_of a)"
printf 'SUBJECT,VISIT,FORM,WEIGHT,REASON\r\n%s,SCR,DM,99,"Transcription error, CRF p.2"\r\n' "$S1" >"$T/fix.csv"
expect_rc "a correction with a reason" 0 cb a import --format csv "$T/fix.csv"
cb a form show "$S1" SCR DM --history >"$T/out" 2>&1
expect_out "the reason is in the audit trail" "Transcription error, CRF p.2"

# ---- --per-subject ---------------------------------------------------------------------

# S4: a good row, then one out of range (the subject is left out, its
# good row too); S3 and S1: corrections with their reason (kept).
printf 'SUBJECT,VISIT,FORM,VAS,REASON\r\n%s,M1,VAS,20,\r\n%s,M1,VAS,36,Misread\r\n%s,BL,VAS,150,\r\n%s,M1,VAS,35,Misread\r\n' \
	"$S4" "$S3" "$S4" "$S1" >"$T/mixed.csv"
N2=$(events_of a)
expect_rc "per subject: refused rows" 3 cb a import --format csv "$T/mixed.csv" --per-subject
expect_out "the subjects kept and left out are counted" "2 subjects kept, 1 subjects left out"
expect_out "the refused row is reported" "mixed.csv:4: $S4 BL VAS"
cb a form show "$S4" M1 VAS >"$T/out" 2>&1
expect_no_out "the refused subject keeps nothing, its good row neither" " 20"
cb a form show "$S1" M1 VAS >"$T/out" 2>&1
expect_out "a passing subject's row is kept" "35"
check "per subject: two rows of two subjects stored" "$((N2 + 2))" "$(events_of a)"

# ---- round trip: the server's csv export imports back unchanged ----------------------

expect_rc "sync" 0 cb a sync
expect_rc "export csv" 0 "$CBD" export --data "$D" --format csv --out "$T/exp"
for f in DM SV WOMAC VAS PE; do
	expect_rc "the export's $f.csv imports" 0 cb a import --format csv "$T/exp/$f.csv"
	expect_out "the export's $f.csv changes nothing" " 0 rows saved"
done

# ---- json --------------------------------------------------------------------------------

cat >"$T/one.json" <<JSON
[{"subject":"$S4","visit":"SCR","form":"SV","values":{"VISDT":"2025-05-19"}},
 {"subject":"$S4","visit":"SCR","form":"DM","values":{"BRTHYR":1961,"SEX":"M","HEIGHT":181.5}}]
JSON
expect_rc "json: an array" 0 cb a import --format json "$T/one.json"
expect_out "json: both saved" "2 rows saved"
cb a form show "$S4" SCR DM >"$T/out" 2>&1
expect_out "json numbers are values" "181.5"
printf '{"subject":"%s","visit":"LOG","form":"AE","values":{"AETERM":"Knee swelling","AESTDTC":"2025-07-01","AEONGO":"Y","AETOXGR":"1","AESEV":"MILD","AESER":"N","AEREL":"NOT","AERELPR":"UNLIKELY","AEACN":"NONE","AEOUT":"RECOVERING"}}\n\n{"subject":"%s","visit":"LOG","form":"AE","instance":1,"values":{"AETOXGR":9}}\n' "$S4" "$S4" >"$T/lines.json"
expect_rc "json lines: a refused line" 3 cb a import --format json "$T/lines.json"
expect_out "its line is named" "lines.json:3: $S4 LOG AE#1"
printf '{"subject":"%s","visit":"LOG","form":"AE","values":{"AETERM":"x"},"colour":"red"}\n' "$S4" >"$T/extra.json"
expect_rc "json: an unknown member" 2 cb a import --format json "$T/extra.json"
expect_out "the member is named" "unknown member \"colour\""

# ---- rows that cannot be saved --------------------------------------------------------------

printf 'SUBJECT,SITE,VISIT,FORM,VAS\r\nKR01-01999,KR01,M1,VAS,10\r\n%s,DE02,M1,VAS,10\r\n%s,KR01,M9,VAS,10\r\n' "$S4" "$S4" >"$T/odd.csv"
N3=$(events_of a)
expect_rc "unknown subject, another site, unknown visit" 3 cb a import --format csv "$T/odd.csv"
expect_out "an unknown subject is refused" "odd.csv:2: KR01-01999"
expect_out "another site is refused" "SITE DE02 is not this laptop's site"
expect_out "an unknown visit is refused" "odd.csv:4: $S4 M9 VAS"
check "nothing stored" "$N3" "$(events_of a)"

# ---- a progress line on a terminal, none otherwise -----------------------------------------

env -u CASEBOOK_PASSPHRASE "$PTY" "$CASEBOOK_PASSPHRASE" "$CB" --home "$T/h/a" import --format csv "$T/good.csv" >"$T/out" 2>&1
expect_out "a progress line on a terminal" "import: 60 of 60 rows"
cb a import --format csv "$T/good.csv" >"$T/out" 2>"$T/err"
expect_no_out "no progress line off a terminal" "import: 60 of 60 rows"
finish
