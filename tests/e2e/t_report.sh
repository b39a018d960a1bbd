#!/bin/sh
# t_report.sh - `casebookd report safety`, the open interim safety report
# (issue 12, docs/reports.md), on a study built through the real laptops
# and sync (safety_lib.sh), in every format:
#
#   1. text, csv, json and html each hold every count safety_study.py
#      computes from the inputs alone (enrollment by site and month,
#      exposure, every TEAE summary table, every listing with its study
#      day and treatment-emergent flag, deaths, code-breaks); text fits
#      80 columns; standard output and --out agree.
#   2. --cutoff and --site: the report as of a received time, of a site.
#   3. The HTML report in headless Chromium (one run): it loads with no
#      console message (a framing page logs one line of its own, so the
#      check is seen to catch one), and its screenshot is not blank and
#      shows both charts (the sites' line colours and the bar colours,
#      counted pixel by pixel). It needs nothing outside itself.
#   4. No arm in any report byte.
#   5. Bad input: unknown report or format, --closed on the server, an
#      existing or unwritable --out, a cut-off before the first event or
#      malformed, an unknown site: a clear message, the exit code, and no
#      file left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/safety_lib.sh"
cd "$T" || exit 1

build_study

py() {
	"$@" >"$T/py.out" 2>&1
	_rc=$?
	cat "$T/py.out"
	if [ $_rc -ne 0 ] && ! grep -q '^FAIL' "$T/py.out"; then
		fail "check crashed" "$(tail -5 "$T/py.out")"
	fi
	_failures=$((_failures + $(grep -c '^FAIL' "$T/py.out")))
}

# ---- 1. every format ------------------------------------------------------------

mkdir "$T/r"
for fmt in text csv json html; do
	expect_rc "report $fmt" 0 "$CBD" report safety --data "$D" \
		--format "$fmt" --out "$T/r/safety.$fmt"
	py STUDY report "$fmt" "$T/r/safety.$fmt" "$T/ids.txt"
done
expect_rc "report to standard output" 0 "$CBD" report safety --data "$D"
sed 's/^Data cut-off: .*//' "$T/out" >"$T/a.txt"
sed 's/^Data cut-off: .*//' "$T/r/safety.text" >"$T/b.txt"
if cmp -s "$T/a.txt" "$T/b.txt"; then
	pass "standard output and --out agree"
else
	fail "standard output and --out agree" "$(diff "$T/a.txt" "$T/b.txt" | head -5)"
fi
expect_out "the default format is text" "INTERIM SAFETY REPORT, open"

# The derived tables (read for the two forms the report needs) and a
# replay of every event (a cut-off far ahead) give the same report.
expect_rc "report through the replay of every event" 0 "$CBD" report safety \
	--data "$D" --format json --out "$T/r/replay.json" --cutoff 2099-12-31
if python3 - "$T/r/safety.json" "$T/r/replay.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for j in (a, b):
    del j["data_cutoff"], j["cutoff_given"]
sys.exit(0 if a == b else 1)
EOF
then
	pass "derived tables and replay give the same report"
else
	fail "derived tables and replay give the same report" "they differ"
fi

# ---- 2. cut-off and site --------------------------------------------------------

CUT=$(cat "$T/mark.part1")
expect_rc "report as of the mark" 0 "$CBD" report safety --data "$D" \
	--format json --out "$T/r/cut.json" --cutoff "$CUT"
check "the report states the cut-off" "$CUT" "$(jget "$T/r/cut.json" 'j["data_cutoff"]')"
py STUDY report json "$T/r/cut.json" "$T/ids.txt" --part 1
expect_rc "text as of the mark" 0 "$CBD" report safety --data "$D" \
	--out "$T/r/cut.text" --cutoff "$CUT"
py STUDY report text "$T/r/cut.text" "$T/ids.txt" --part 1
expect_rc "report of one site" 0 "$CBD" report safety --data "$D" \
	--format csv --out "$T/r/site.csv" --site KR02
py STUDY report csv "$T/r/site.csv" "$T/ids.txt" --site KR02

# ---- 3. the HTML report in a real browser ----------------------------------------

# Self-contained: nothing to fetch, no script.
if python3 - "$T/r/safety.html" <<'EOF'
import re, sys
t = open(sys.argv[1], encoding="utf-8").read()
bad = re.findall(r'<script|\bsrc\s*=|\bhref\s*=|url\(|@import|<link|<iframe|<object', t, re.I)
# xmlns names a namespace; nothing else may name a place on a network
urls = [u for u in re.findall(r'(?:https?|ftp)://[^"\' <>]+', t)
        if u != "http://www.w3.org/2000/svg"]
sys.exit(1 if bad or urls else 0)
EOF
then
	pass "html: no script and no external asset"
else
	fail "html: no script and no external asset" "found one"
fi

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
browse() { # HTML PNG: load it, screenshot, console lines to $T/console
	rm -rf "$T/profile"
	mkdir "$T/profile"
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir="$T/profile" --enable-logging=stderr --v=0 \
		--window-size=1000,900 --screenshot="$2" "file://$1" \
		>"$T/chromium.out" 2>"$T/chromium.err"
	_rc=$?
	grep ':CONSOLE' "$T/chromium.err" >"$T/console"
	return $_rc
}
if [ -z "$CHROMIUM" ]; then
	fail "chromium" "headless Chromium is needed (scripts/install-deps.sh installs it)"
else
	# One browser run: a page that frames the report and logs one line
	# of its own, so the console check is seen to work.
	cat >"$T/frame.html" <<EOF
<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}
iframe{border:0;width:1000px;height:900px}</style></head><body>
<iframe src="file://$T/r/safety.html"></iframe>
<script>console.error("casebook-probe")</script></body></html>
EOF
	browse "$T/frame.html" "$T/shot.png"
	check "html: Chromium loads the report" 0 $?
	if grep -q 'casebook-probe' "$T/console"; then
		pass "html: the console is read (the frame's own line is there)"
	else
		fail "html: the console is read" "$(head -c 300 "$T/chromium.err")"
	fi
	check "html: no console message from the report" "" \
		"$(grep -v 'casebook-probe' "$T/console" | head -c 400)"
	python3 "$CASEBOOK_TOP/tests/e2e/png_colors.py" "$T/shot.png" \
		'#1f77b4' '#ff7f0e' '#4e79a7' '#e15759' '#f28e2b' >"$T/px.json" ||
		fail "html: screenshot decodes" "$(cat "$T/px.json")"
	python3 - "$T/px.json" <<'EOF' >"$T/px.out"
import json, sys
j = json.load(open(sys.argv[1]))
c = j["colors"]
print(("PASS" if j["nonwhite"] > 0.02 else "FAIL") +
      " html: the screenshot is not blank (%.1f%% not white)" % (100 * j["nonwhite"]))
print(("PASS" if c["#1f77b4"] > 200 and c["#ff7f0e"] > 200 else "FAIL") +
      " html: the enrollment chart draws both sites' lines (%d, %d px)"
      % (c["#1f77b4"], c["#ff7f0e"]))
print(("PASS" if min(c["#4e79a7"], c["#e15759"], c["#f28e2b"]) > 500 else "FAIL") +
      " html: the incidence chart draws its bars (%d, %d, %d px)"
      % (c["#4e79a7"], c["#e15759"], c["#f28e2b"]))
EOF
	cat "$T/px.out"
	_failures=$((_failures + $(grep -c '^FAIL' "$T/px.out")))
fi

# ---- 4. no arm in an open report -----------------------------------------------

py STUDY scan "$T/list.json" "$T/r"

# ---- 5. bad input ------------------------------------------------------------------

expect_rc "unknown format: usage" 2 "$CBD" report safety --data "$D" --format pdf
expect_out "unknown format: names the formats" "text, csv, json or html"
expect_rc "unknown report: usage" 2 "$CBD" report efficacy --data "$D"
expect_out "unknown report: names the report there is" "safety"
expect_rc "no report named: usage" 2 "$CBD" report --data "$D"
expect_rc "--closed on the server: usage" 2 "$CBD" report safety --closed --data "$D"
expect_out "--closed: says where the closed report is made" "DSMB laptop"
echo mine >"$T/r/exists.txt"
expect_rc "existing --out refused" 1 "$CBD" report safety --data "$D" --out "$T/r/exists.txt"
expect_out "existing --out: says so" "already exists"
check "existing --out untouched" "mine" "$(cat "$T/r/exists.txt")"
expect_rc "--out in a missing directory" 1 "$CBD" report safety --data "$D" \
	--out "$T/nowhere/r.txt"
expect_out "--out in a missing directory: says it cannot write" "cannot write"
expect_rc "cut-off before the first event" 1 "$CBD" report safety --data "$D" \
	--out "$T/r/early.html" --format html --cutoff 2020-01-01T00:00Z
expect_out "cut-off before the first event: says so" "before the first event"
[ -e "$T/r/early.html" ] && fail "cut-off before the first event: no file" "it exists"
expect_rc "malformed cut-off: usage" 2 "$CBD" report safety --data "$D" --cutoff yesterday
expect_rc "unknown site" 1 "$CBD" report safety --data "$D" --site KR77
expect_out "unknown site: says so" "no site KR77"
if ls -a "$T/r" "$T" | grep -q partial; then
	fail "no partial file left behind" "$(ls -a "$T/r" | grep partial)"
else
	pass "no partial file left behind"
fi
expect_rc "report --help" 0 "$CBD" report --help
expect_out "help: the formats" "html"

finish
