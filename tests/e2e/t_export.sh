#!/bin/sh
# t_export.sh - `casebookd export` in every format (issue 12,
# docs/exports.md), on a study built through the real laptops and sync
# (safety_lib.sh): what each file holds is compared with what
# safety_study.py computes from the inputs alone.
#
#   1. csv: opens with Python's csv module; subjects.csv (status,
#      randomization and kit numbers, dose date, code-break; no arm);
#      AE.csv (terms, hostile ones included, study days, the
#      treatment-emergent flag); scores; a conflict left empty and named
#      in its row and in conflicts.csv; the dictionary.
#   2. odm: both files validate against the ODM 1.3.2 XSD with xmllint;
#      values, the conflict's annotation, audit records, the
#      e-signature, AdminData.
#   3. sdtm: DM, AE and SUPPAE as the rules say; jsonl: every event.
#   4. --cutoff and --site: the record as of a received time; a site.
#   5. Blinding: no arm code or label, no sealed arm of the list, no
#      value of an unblinded item in any exported byte (and the scanner
#      finds them where they are).
#   6. Bad input: unknown format, an existing or unwritable output
#      directory, a cut-off before the first event or malformed: a clear
#      message, the exit code, nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/safety_lib.sh"
cd "$T" || exit 1

XSD="$CASEBOOK_TOP/../shared/standards/odm-1.3.2/ODM1-3-2.xsd"
[ -f "$XSD" ] || {
	fail "ODM schema" "$XSD is missing"
	finish
}
command -v xmllint >/dev/null 2>&1 || {
	fail "xmllint" "xmllint(1) is needed (libxml2-utils)"
	finish
}

build_study

py() { # NAME: run a safety_study.py check, its PASS/FAIL lines counted
	"$@" >"$T/py.out" 2>&1
	_rc=$?
	cat "$T/py.out"
	if [ $_rc -ne 0 ] && ! grep -q '^FAIL' "$T/py.out"; then
		fail "check crashed" "$(tail -5 "$T/py.out")"
	fi
	_failures=$((_failures + $(grep -c '^FAIL' "$T/py.out")))
}

# ---- 1-3. every format ------------------------------------------------------

for fmt in csv odm sdtm jsonl; do
	expect_rc "export $fmt" 0 "$CBD" export --data "$D" --format "$fmt" \
		--out "$T/x-$fmt"
	expect_out "export $fmt: says what it wrote" "exported 9 subjects ($fmt"
	py STUDY export "$fmt" "$T/x-$fmt" "$T/ids.txt"
done
for f in odm-snapshot.xml odm-transactional.xml; do
	if xmllint --noout --schema "$XSD" "$T/x-odm/$f" >"$T/xl.out" 2>&1; then
		pass "odm: $f validates against ODM 1.3.2"
	else
		fail "odm: $f validates against ODM 1.3.2" "$(head -c 600 "$T/xl.out")"
	fi
done
# The validator is not a rubber stamp: a broken file fails it.
sed 's/<ItemGroupData /<ItemGroupDatum /' "$T/x-odm/odm-snapshot.xml" >"$T/bad.xml"
if xmllint --noout --schema "$XSD" "$T/bad.xml" >/dev/null 2>&1; then
	fail "odm: a broken file fails the schema" "it validated"
else
	pass "odm: a broken file fails the schema"
fi
# The hostile term is escaped in XML, never raw markup.
if grep -q '<script>' "$T/x-odm/odm-snapshot.xml"; then
	fail "odm: markup in a value is escaped" "raw <script> found"
else
	pass "odm: markup in a value is escaped"
fi
ls -a "$T" | grep -q 'partial' && fail "no partial directory left" "$(ls -a "$T")"

# The server and the export read the same record: the CSV export of the
# derived tables equals one made through the cut-off replay of every event.
expect_rc "export with a cut-off far ahead" 0 "$CBD" export --data "$D" \
	--format csv --out "$T/x-csv-all" --cutoff 2099-12-31
for f in AE.csv DM.csv subjects.csv WOMAC.csv conflicts.csv; do
	if cmp -s "$T/x-csv/$f" "$T/x-csv-all/$f"; then
		pass "derived tables and replay agree: $f"
	else
		fail "derived tables and replay agree: $f" "$(diff "$T/x-csv/$f" "$T/x-csv-all/$f" | head -5)"
	fi
done

# ---- 4. cut-off and site ----------------------------------------------------

CUT=$(cat "$T/mark.part1")
expect_rc "export as of the mark" 0 "$CBD" export --data "$D" --format csv \
	--out "$T/x-cut" --cutoff "$CUT"
check "the cut-off is stated" "$CUT" "$(jget "$T/x-cut/export.json" 'j["data_cutoff"]')"
py STUDY export csv "$T/x-cut" "$T/ids.txt" --part 1
expect_rc "export of one site" 0 "$CBD" export --data "$D" --format sdtm \
	--out "$T/x-site" --site KR02
py STUDY export sdtm "$T/x-site" "$T/ids.txt" --site KR02
expect_rc "odm of one site as of the mark" 0 "$CBD" export --data "$D" \
	--format odm --out "$T/x-odm1" --site KR01 --cutoff "$CUT"
py STUDY export odm "$T/x-odm1" "$T/ids.txt" --part 1 --site KR01
xmllint --noout --schema "$XSD" "$T/x-odm1/odm-transactional.xml" >/dev/null 2>&1 ||
	fail "odm of one site validates" "$(xmllint --noout --schema "$XSD" "$T/x-odm1/odm-transactional.xml" 2>&1 | head -3)"

# ---- 5. blinding --------------------------------------------------------------

py STUDY scan "$T/list.json" "$T"/x-*
# The scanner finds what it looks for: the lab's value where it is, and
# a sealed arm of the list.
mkdir -p "$T/planted"
echo "cell count 987.6" >"$T/planted/a"
if STUDY scan "$T/list.json" "$T/planted" >/dev/null 2>&1; then
	fail "scan finds an unblinded value" "it passed"
else
	pass "scan finds an unblinded value"
fi
python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if "arm" in k and isinstance(v, str) and len(v) >= 16:
                print(v); raise SystemExit
            walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
walk(l)' "$T/list.json" >"$T/planted/a"
if STUDY scan "$T/list.json" "$T/planted" >/dev/null 2>&1; then
	fail "scan finds a sealed arm" "it passed"
else
	pass "scan finds a sealed arm"
fi

# ---- 6. bad input ---------------------------------------------------------------

expect_rc "unknown format: usage" 2 "$CBD" export --data "$D" --format xlsx --out "$T/n1"
expect_out "unknown format: names the formats" "csv, odm, sdtm or jsonl"
[ -e "$T/n1" ] && fail "unknown format: nothing made" "$T/n1 exists"
mkdir "$T/exists"
echo keep >"$T/exists/mine"
expect_rc "existing directory refused" 1 "$CBD" export --data "$D" --format csv --out "$T/exists"
expect_out "existing directory: says so" "already exists"
check "existing directory untouched" "mine" "$(ls "$T/exists")"
echo file >"$T/afile"
expect_rc "output under a file refused" 1 "$CBD" export --data "$D" --format csv --out "$T/afile/x"
expect_out "output under a file: says it cannot write" "cannot write"
expect_rc "output under a missing directory refused" 1 "$CBD" export --data "$D" \
	--format csv --out "$T/nowhere/x"
expect_rc "cut-off before the first event" 1 "$CBD" export --data "$D" \
	--format odm --out "$T/n2" --cutoff 2020-01-01
expect_out "cut-off before the first event: says so" "before the first event"
[ -e "$T/n2" ] && fail "cut-off before the first event: nothing made" "$T/n2 exists"
if ls -a "$T" | grep -q 'partial'; then
	fail "no partial directory left behind" "$(ls -a "$T" | grep partial)"
else
	pass "no partial directory left behind"
fi
expect_rc "malformed cut-off: usage" 2 "$CBD" export --data "$D" --format csv \
	--out "$T/n3" --cutoff 2026-13-01
expect_out "malformed cut-off: says what is accepted" "YYYY-MM-DD"
expect_rc "unknown site" 1 "$CBD" export --data "$D" --format csv --out "$T/n4" --site KR09
expect_out "unknown site: says so" "no site KR09"
expect_rc "missing --out: usage" 2 "$CBD" export --data "$D" --format csv
expect_rc "export --help" 0 "$CBD" export --help
expect_out "help lists the formats" "jsonl"

finish
