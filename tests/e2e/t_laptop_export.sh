#!/bin/sh
# t_laptop_export.sh - `casebook export` and `casebook report safety` on
# central laptops (issue 12, docs/exports.md, docs/reports.md), on the
# study of t_export.sh and t_report.sh (safety_lib.sh), after the
# statistician's, data manager's and DSMB member's laptops have synced:
#
#   1. The statistician's export equals the server's byte for byte in
#      every format (samebytes.py normalises only the program's name,
#      ODM's CreationDateTime and the time an export without --cutoff
#      began), without a cut-off and as of the mark between the study's
#      two parts (the laptop reads the received time each pulled event
#      carries); a --site export too; and each holds what
#      safety_study.py computes.
#   2. The open report on a laptop equals the server's in every format;
#      on the DSMB laptop (which holds the laboratory's unblinded
#      values) too.
#   3. The closed report on the DSMB laptop: every summary table by arm
#      equals the counts computed here from the list's own arms
#      (`casebook randlist reveal`), never from the report.
#   4. Blinding: no arm, sealed arm or unblinded value in any byte of
#      any laptop export or open report.
#   5. Bad input and roles: unknown format or report, existing or
#      unwritable output, a cut-off before the first event, a wrong key
#      passphrase, another key, a wrong store passphrase, site roles and
#      the DSMB refused an export, a blinded role refused the closed
#      report, the closed report without --out: a clear message, the
#      exit code, nothing left behind.
#   6. The cut-off reads when the server received an event, not when it
#      was recorded: a subject added on a laptop whose clock says before
#      the mark, synced after it, is in neither export as of the mark.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/safety_lib.sh"
cd "$T" || exit 1

build_study

py() { # CMD...: a Python check, its PASS/FAIL lines counted
	"$@" >"$T/py.out" 2>&1
	_rc=$?
	cat "$T/py.out"
	if [ $_rc -ne 0 ] && ! grep -q '^FAIL' "$T/py.out"; then
		fail "check crashed" "$(tail -5 "$T/py.out")"
	fi
	_failures=$((_failures + $(grep -c '^FAIL' "$T/py.out")))
}
SAME="$CASEBOOK_TOP/tests/e2e/samebytes.py"

_register stat statistician - statyoon
_register dm datamanager - dmhan
_register dsmb dsmb - dsmbpark
for _d in stat dm dsmb; do
	cb "$_d" sync >/dev/null 2>&1 || fail "sync $_d" "failed"
done
CUT=$(cat "$T/mark.part1")

# ---- 1. exports: the laptop's equal the server's ----------------------------

mkdir "$T/s" "$T/l"
for fmt in csv odm sdtm jsonl; do
	"$CBD" export --data "$D" --format "$fmt" --out "$T/s/$fmt" >/dev/null 2>&1 ||
		fail "server export $fmt" "failed"
	expect_rc "laptop export $fmt" 0 cb stat export --format "$fmt" \
		--out "$T/l/$fmt"
	expect_out "laptop export $fmt: says what it wrote" "exported 9 subjects ($fmt"
	py python3 "$SAME" dirs "$T/s/$fmt" "$T/l/$fmt"
	"$CBD" export --data "$D" --format "$fmt" --out "$T/s/$fmt-cut" \
		--cutoff "$CUT" >/dev/null 2>&1 || fail "server export $fmt as of the mark" "failed"
	expect_rc "laptop export $fmt as of the mark" 0 cb stat export \
		--format "$fmt" --out "$T/l/$fmt-cut" --cutoff "$CUT"
	py python3 "$SAME" dirs "$T/s/$fmt-cut" "$T/l/$fmt-cut"
done
py STUDY export csv "$T/l/csv" "$T/ids.txt"
py STUDY export odm "$T/l/odm" "$T/ids.txt"
py STUDY export jsonl "$T/l/jsonl" "$T/ids.txt"
py STUDY export csv "$T/l/csv-cut" "$T/ids.txt" --part 1
check "laptop export states the cut-off" "$CUT" \
	"$(jget "$T/l/csv-cut/export.json" 'j["data_cutoff"]')"
check "laptop export names its program" "casebook" \
	"$(jget "$T/l/csv/export.json" 'j["source"].split()[0]')"
"$CBD" export --data "$D" --format sdtm --out "$T/s/sdtm-kr02" --site KR02 \
	>/dev/null 2>&1 || fail "server export of KR02" "failed"
expect_rc "laptop export of one site" 0 cb dm export --format sdtm \
	--out "$T/l/sdtm-kr02" --site KR02
py python3 "$SAME" dirs "$T/s/sdtm-kr02" "$T/l/sdtm-kr02"
py STUDY export sdtm "$T/l/sdtm-kr02" "$T/ids.txt" --site KR02

# The comparison is not a rubber stamp: one changed byte is found.
cp -r "$T/l/csv" "$T/planted-x"
sed 's/MILD/MILF/' "$T/l/csv/AE.csv" >"$T/planted-x/AE.csv"
if python3 "$SAME" dirs "$T/s/csv" "$T/planted-x" >/dev/null 2>&1; then
	fail "samebytes finds a changed byte" "it passed"
else
	pass "samebytes finds a changed byte"
fi
rm -rf "$T/planted-x"

# ---- 2. the open report on a laptop ------------------------------------------

mkdir "$T/r"
for fmt in text csv json html; do
	"$CBD" report safety --data "$D" --format "$fmt" \
		--out "$T/r/s.$fmt" >/dev/null 2>&1 || fail "server report $fmt" "failed"
	expect_rc "laptop open report $fmt" 0 cb stat report safety \
		--format "$fmt" --out "$T/r/l.$fmt"
	py python3 "$SAME" files "$T/r/s.$fmt" "$T/r/l.$fmt" --any-time
	"$CBD" report safety --data "$D" --format "$fmt" --cutoff "$CUT" \
		--out "$T/r/s-cut.$fmt" >/dev/null 2>&1 || fail "server report $fmt as of the mark" "failed"
	expect_rc "laptop open report $fmt as of the mark" 0 cb dm report \
		safety --format "$fmt" --cutoff "$CUT" --out "$T/r/l-cut.$fmt"
	py python3 "$SAME" files "$T/r/s-cut.$fmt" "$T/r/l-cut.$fmt"
done
py STUDY report json "$T/r/l.json" "$T/ids.txt"
py STUDY report text "$T/r/l-cut.text" "$T/ids.txt" --part 1
expect_rc "open report on the DSMB laptop, to standard output" 0 cb dsmb \
	report safety --format json
cp "$T/out" "$T/r/dsmb-open.json"
py python3 "$SAME" files "$T/r/s.json" "$T/r/dsmb-open.json" --any-time
check "open report: type" "open" "$(jget "$T/r/dsmb-open.json" 'j["type"]')"

# ---- 3. the closed report on the DSMB laptop ----------------------------------

printf 'stat-pass-123\n' >"$T/key.pass"
printf 'not-the-pass-1\n' >"$T/wrong.pass"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal "$T/list.json" \
	--key "$T/unblind.key" --csv >"$T/revealed.csv" 2>/dev/null ||
	fail "randlist reveal" "failed"
mkdir "$T/c"
for fmt in json text csv html; do
	expect_rc "closed report $fmt" 0 cb dsmb report safety --closed \
		--key "$T/unblind.key" --key-passphrase-file "$T/key.pass" \
		--format "$fmt" --out "$T/c/closed.$fmt"
	expect_out "closed report $fmt: says where it went" "closed safety report"
done
py STUDY closed "$T/c/closed.json" "$T/ids.txt" "$T/revealed.csv"
expect_rc "closed report as of the mark" 0 cb dsmb report safety --closed \
	--key "$T/unblind.key" --key-passphrase-file "$T/key.pass" \
	--format json --cutoff "$CUT" --out "$T/c/closed-cut.json"
py STUDY closed "$T/c/closed-cut.json" "$T/ids.txt" "$T/revealed.csv" --part 1
if grep -q 'MSC' "$T/c/closed.text" && grep -q 'PBO' "$T/c/closed.text"; then
	pass "closed text report: a column per arm"
else
	fail "closed text report: a column per arm" "$(head -c 400 "$T/c/closed.text")"
fi
# The closed report leaves nothing behind but itself: no other file in
# its directory, nothing new in the DSMB's home.
check "closed report: only the files asked for" \
	"closed-cut.json closed.csv closed.html closed.json closed.text" \
	"$(ls -A "$T/c" | tr '\n' ' ' | sed 's/ $//')"

# ---- 4. blinding ------------------------------------------------------------------

py STUDY scan "$T/list.json" "$T/l" "$T/r"
mkdir "$T/planted"
echo "cell count 987.6" >"$T/planted/a"
if STUDY scan "$T/list.json" "$T/planted" >/dev/null 2>&1; then
	fail "scan finds an unblinded value" "it passed"
else
	pass "scan finds an unblinded value"
fi
# and the DSMB laptop does hold the laboratory's values: the open
# report leaves them out, not the laptop.
expect_rc "the DSMB laptop holds unblinded values" 0 cb dsmb dump
expect_out "the DSMB laptop holds unblinded values: the cell count" "987.6"

# ---- 5. bad input and roles ------------------------------------------------------------

expect_rc "unknown format: usage" 2 cb stat export --format xlsx --out "$T/n1"
expect_out "unknown format: names the formats" "csv, odm, sdtm or jsonl"
[ -e "$T/n1" ] && fail "unknown format: nothing made" "$T/n1 exists"
mkdir "$T/exists"
echo keep >"$T/exists/mine"
expect_rc "existing directory refused" 1 cb stat export --format csv --out "$T/exists"
expect_out "existing directory: says so" "already exists"
check "existing directory untouched" "mine" "$(ls "$T/exists")"
expect_rc "output in a missing directory refused" 1 cb stat export \
	--format csv --out "$T/nowhere/x"
expect_out "output in a missing directory: says it cannot write" "cannot write"
expect_rc "cut-off before the first event" 1 cb stat export --format odm \
	--out "$T/n2" --cutoff 2020-01-01
expect_out "cut-off before the first event: says so" "before the first event"
[ -e "$T/n2" ] && fail "cut-off before the first event: nothing made" "$T/n2 exists"
expect_rc "malformed cut-off: usage" 2 cb stat export --format csv \
	--out "$T/n3" --cutoff 2026-13-01
expect_out "malformed cut-off: says what is accepted" "YYYY-MM-DD"
expect_rc "a site with no subject here" 1 cb stat export --format csv \
	--out "$T/n4" --site KR09
expect_out "a site with no subject here: says so" "no subject of site KR09"
expect_rc "wrong store passphrase" 4 env CASEBOOK_PASSPHRASE=wrong-pass-99 \
	"$CB" --home "$T/h/stat" export --format csv --out "$T/n5"
[ -e "$T/n5" ] && fail "wrong store passphrase: nothing made" "$T/n5 exists"
for d in a inv dsmb lab; do
	expect_rc "export refused to the $d laptop's role" 4 cb "$d" export \
		--format csv --out "$T/n-$d"
	expect_out "export refused to $d: says who may" "statistician or datamanager"
	[ -e "$T/n-$d" ] && fail "export refused to $d: nothing made" "$T/n-$d exists"
done
expect_rc "open report refused to a coordinator" 4 cb a report safety
expect_out "open report refused to a coordinator: not authorized" "not authorized"

expect_rc "report: unknown format" 2 cb stat report safety --format pdf
expect_out "report: unknown format names the formats" "text, csv, json or html"
expect_rc "report: unknown report" 2 cb stat report efficacy
expect_out "report: unknown report names the one there is" "safety"
echo mine >"$T/r/exists.txt"
expect_rc "report: existing --out refused" 1 cb stat report safety --out "$T/r/exists.txt"
expect_out "report: existing --out says so" "already exists"
check "report: existing --out untouched" "mine" "$(cat "$T/r/exists.txt")"
expect_rc "report: --out in a missing directory" 1 cb stat report safety \
	--out "$T/nowhere/r.txt"
expect_rc "report: cut-off before the first event" 1 cb stat report safety \
	--format html --out "$T/r/early.html" --cutoff 2020-01-01T00:00Z
expect_out "report: cut-off before the first event says so" "before the first event"
[ -e "$T/r/early.html" ] && fail "report: cut-off before the first event: no file" "it exists"

expect_rc "closed: wrong key passphrase" 4 cb dsmb report safety --closed \
	--key "$T/unblind.key" --key-passphrase-file "$T/wrong.pass" \
	--format json --out "$T/c/wrong.json"
[ -e "$T/c/wrong.json" ] && fail "closed: wrong key passphrase: no file" "it exists"
CASEBOOK_NEW_PASSPHRASE=other-pass-123 "$CB" keygen --out "$T/other.key" \
	>/dev/null 2>&1 || fail "keygen other" "failed"
expect_rc "closed: another unblinding key" 4 env \
	CASEBOOK_UNBLIND_PASSPHRASE=other-pass-123 \
	"$CB" --home "$T/h/dsmb" report safety --closed --key "$T/other.key" \
	--format json --out "$T/c/other.json"
[ -e "$T/c/other.json" ] && fail "closed: another key: no file" "it exists"
expect_rc "closed: wrong store passphrase" 4 env CASEBOOK_PASSPHRASE=wrong-pass-99 \
	"$CB" --home "$T/h/dsmb" report safety --closed --key "$T/unblind.key" \
	--key-passphrase-file "$T/key.pass" --out "$T/c/wrongstore.json"
[ -e "$T/c/wrongstore.json" ] && fail "closed: wrong store passphrase: no file" "it exists"
expect_rc "closed: existing --out refused before the key is used" 1 cb dsmb \
	report safety --closed --key "$T/unblind.key" \
	--key-passphrase-file "$T/key.pass" --out "$T/c/closed.json"
expect_out "closed: existing --out says so" "already exists"
py STUDY closed "$T/c/closed.json" "$T/ids.txt" "$T/revealed.csv"
expect_rc "closed: a cut-off before the first event" 1 cb dsmb report safety \
	--closed --key "$T/unblind.key" --key-passphrase-file "$T/key.pass" \
	--out "$T/c/early.json" --cutoff 2020-01-01
[ -e "$T/c/early.json" ] && fail "closed: early cut-off: no file" "it exists"
for d in stat dm; do
	expect_rc "closed report refused to $d" 4 cb "$d" report safety --closed \
		--key "$T/unblind.key" --key-passphrase-file "$T/key.pass" \
		--out "$T/c/$d.json"
	expect_out "closed report refused to $d: needs the DSMB" "dsmb"
	[ -e "$T/c/$d.json" ] && fail "closed report refused to $d: no file" "it exists"
done
expect_rc "closed report without --out: usage" 2 cb dsmb report safety \
	--closed --key "$T/unblind.key" --key-passphrase-file "$T/key.pass"
expect_no_out "closed report without --out: no arm printed" "MSC"
expect_rc "closed report without --key: usage" 2 cb dsmb report safety \
	--closed --out "$T/c/nokey.json"
if ls -a "$T" "$T/r" "$T/c" "$T/l" | grep -q partial; then
	fail "no partial file left behind" "$(ls -a "$T" "$T/r" "$T/c" | grep partial)"
else
	pass "no partial file left behind"
fi
check "closed: nothing but the reports written" \
	"closed-cut.json closed.csv closed.html closed.json closed.text" \
	"$(ls -A "$T/c" | tr '\n' ' ' | sed 's/ $//')"
# ---- 6. received, not recorded ------------------------------------------------------

# A laptop's clock set before the mark: the subject's events say they
# were recorded then, and reach the server only now.
_back=$(python3 -c 'import datetime, sys, time
m = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
print(int((m.timestamp() - time.time()) * 1000) - 60000)' "$CUT")
CASEBOOK_CLOCK_OFFSET_MS=$_back cb b subject add >"$T/late.sid" 2>"$T/err" ||
	fail "late subject added" "$(cat "$T/err")"
LATE=$(tr -d '\n' <"$T/late.sid")
cb b sync >/dev/null 2>&1 || fail "late subject synced" "failed"
cb stat sync >/dev/null 2>&1 || fail "statistician synced again" "failed"
"$CBD" export --data "$D" --format jsonl --out "$T/s/late-cut" --cutoff "$CUT" \
	>/dev/null 2>&1 || fail "server export as of the mark, late subject" "failed"
expect_rc "laptop export as of the mark, late subject" 0 cb stat export \
	--format jsonl --out "$T/l/late-cut" --cutoff "$CUT"
py python3 "$SAME" dirs "$T/s/late-cut" "$T/l/late-cut"
check "late subject: recorded before the mark" 1 \
	"$(cb stat export --format jsonl --out "$T/l/late-all" >/dev/null 2>&1;
	python3 -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["subject"] == sys.argv[2] and e["wall"] < sys.argv[3] < e["received_at"]:
        n = 1
print(n)' "$T/l/late-all/events.jsonl" "$LATE" "$CUT")"
if grep -q "$LATE" "$T/l/late-cut/events.jsonl"; then
	fail "late subject: not in the export as of the mark" "it is"
else
	pass "late subject: not in the export as of the mark"
fi

# With the server gone, the open report and the exports still work (the
# laptop's record), and the closed report, which needs the sealed arms,
# exits 5 and leaves nothing.
stop_server
expect_rc "server gone: the open report is made" 0 cb stat report safety \
	--format json --out "$T/r/offline.json"
check "server gone: the open report's subjects" 10 \
	"$(jget "$T/r/offline.json" 'j["subjects"]')"
expect_rc "server gone: the closed report exits 5" 5 cb dsmb report safety \
	--closed --key "$T/unblind.key" --key-passphrase-file "$T/key.pass" \
	--format html --out "$T/c/offline.html"
[ -e "$T/c/offline.html" ] && fail "server gone: no closed report file" "it exists"
echo file >"$T/afile"
expect_rc "report: --out under a file refused" 1 cb stat report safety \
	--out "$T/afile/r.txt"
expect_out "report: --out under a file says it cannot write" "cannot write"
expect_rc "export: output under a file refused" 1 cb stat export \
	--format csv --out "$T/afile/x"
if ls -a "$T" "$T/r" "$T/c" | grep -q partial; then
	fail "nothing partial left at the end" "$(ls -a "$T" "$T/r" "$T/c" | grep partial)"
else
	pass "nothing partial left at the end"
fi

expect_rc "export --help" 0 "$CB" export --help
expect_out "export help lists the formats" "jsonl"
expect_rc "report --help" 0 "$CB" report --help
expect_out "report help: the closed report" "--closed"

finish
