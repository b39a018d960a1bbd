#!/bin/sh
# t_subject.sh - `casebook subject add`, `subject list` and `subject show`
# through the real CLI and encrypted store: status and eligibility,
# visits done, open queries, the schedule in protocol order with LOG last,
# form status (empty, partial, complete), values, missing items, derived
# scores, queries with their ids, visit dates against their windows
# counted from day 0; plain text and --json (parsed and checked).
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=alice-pass-1

expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}

# j EXPR: evaluate a Python expression over the JSON in $T/out (as `d`);
# form(V, F, I=None) and visit(V) find a visit's form instance and a
# visit. Prints the result (strings bare, everything else as JSON), or
# "ERROR ..." when the output is not JSON or the expression fails.
cat >"$T/j.py" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    def visit(v):
        return [x for x in d["visits"] if x["visit"] == v][0]
    def form(v, f, i=None):
        return [x for x in visit(v)["forms"]
                if x["form"] == f and x["instance"] == i][0]
    def subj(s):
        return [x for x in d["subjects"] if x["id"] == s][0]
    r = eval(sys.argv[2])
    print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e))
EOF
j() { python3 "$T/j.py" "$T/out" "$1"; }
# jcase NAME EXPR WANT
jcase() { expect_same "$1" "$(j "$2")" "$3"; }

"$CB" init --site KR01 --device-index 1 --protocol "$PROTO" --user alice \
	--role investigator >/dev/null 2>&1 || fail "init" "init failed"

# ---- empty laptop -------------------------------------------------------
expect_rc "list with no subjects" 0 "$CB" subject list
expect_out "list says there are none" "no subjects on this laptop"
expect_rc "list --json with no subjects" 0 "$CB" subject list --json
jcase "json list of no subjects" 'd["subjects"]' '[]'
expect_rc "subject help" 0 "$CB" subject --help
expect_out "help documents --json" '"visits_done"'
expect_out "help names the broken signature status" 'signed (broken)'

# ---- add ------------------------------------------------------------------
expect_rc "subject add" 0 "$CB" subject add
S1=$(cat "$T/out")
expect_same "first id is SITE-DDNNN" "$S1" "KR01-01001"
S2=$("$CB" subject add 2>/dev/null)
expect_same "second id follows" "$S2" "KR01-01002"
expect_rc "subject add takes no arguments" 2 "$CB" subject add extra

# ---- list of fresh subjects ------------------------------------------------
expect_rc "list --json" 0 "$CB" subject list --json
jcase "json parses, two subjects" 'len(d["subjects"])' 2
jcase "subjects in order" '[s["id"] for s in d["subjects"]]' \
	"[\"$S1\", \"$S2\"]"
jcase "new subject is at screening" "subj('$S1')['status']" screening
jcase "eligibility undecided" "subj('$S1')['eligibility']" incomplete
jcase "no visits done" "subj('$S1')['visits_done']" 0
jcase "no queries" "subj('$S1')['open_queries']" 0
jcase "no conflicts" "subj('$S1')['conflicts']" 0
jcase "a subject with no code-break is not flagged" "subj('$S1')['unblinded']" null
jcase "list members are stable" "sorted(subj('$S1'))" \
	'["conflicts", "eligibility", "id", "open_queries", "status", "unblinded", "visits_done"]'

# ---- data -------------------------------------------------------------------
set_ok() { "$CB" form set "$@" >/dev/null 2>&1 || fail "form set $*" "exit $?"; }
set_ok "$S1" SCR SV VISDT=2024-02-10
set_ok "$S1" SCR ELIG AGE=50 KLGRADE=2 PAIN3M=Y BMI=30 IAINJ3M=N \
	INFLARTH=N PREG=NA
set_ok "$S1" SCR DM SEX=F CONSDT=2024-02-01 # an AE needs a consent date
set_ok "$S1" BL SV VISDT=2024-03-05
set_ok "$S1" BL VAS VAS=42
set_ok "$S1" BL WOMAC P1=1 P2=2 P3=3 P4=0 P5=4 S1=1 S2=1 F1=2 F2=2 F3=2 \
	F4=2 F5=2 F6=2 F7=2 F8=2 F9=2 F10=2 F11=2 F12=2 F13=2 F14=2 F15=2 \
	F16=2 F17=2
set_ok "$S1" INJ SV VISDT=2024-05-01 # outside 14..28: a soft query
set_ok "$S1" INJ DOSE EXVOL=3.0
set_ok "$S1" LOG AE#1 AETERM=Headache AESTDTC=2024-03
set_ok "$S2" SCR ELIG AGE=50 KLGRADE=4 PAIN3M=Y BMI=30 IAINJ3M=N \
	INFLARTH=N PREG=N

expect_rc "list after data" 0 "$CB" subject list
expect_out "plain list shows the eligible subject" "screening (eligible)"
expect_out "plain list shows the ineligible subject as a screen failure" "screen failure"
expect_out "plain list has a header" "QUERIES"
expect_rc "list --json after data" 0 "$CB" subject list --json
jcase "eligible" "subj('$S1')['eligibility']" eligible
jcase "not eligible (K-L grade 4)" "subj('$S2')['eligibility']" \
	"not eligible"
jcase "visits done: SCR, BL, INJ" "subj('$S1')['visits_done']" 3
jcase "one open query (visit window)" "subj('$S1')['open_queries']" 1
jcase "other subject: one visit done" "subj('$S2')['visits_done']" 1

# ---- show --json -------------------------------------------------------------
expect_rc "show --json" 0 "$CB" subject show "$S1" --json
jcase "show names the subject" 'd["id"]' "$S1"
jcase "show status" 'd["status"]' screening
jcase "show eligibility" 'd["eligibility"]' eligible
jcase "day 0 is the BL visit date" 'd["day0"]' 2024-03-05
jcase "visits in protocol order, LOG last" '[v["visit"] for v in d["visits"]]' \
	'["SCR", "BL", "INJ", "W1", "M1", "M3", "M6", "M12", "LOG"]'
jcase "visit forms in protocol order" '[f["form"] for f in visit("BL")["forms"]]' \
	'["SV", "RAND", "HARV", "VAS", "WOMAC", "KOOS", "MRI", "PE"]'
jcase "SCR window dates" \
	'[visit("SCR")[k] for k in ("day","window","window_start","window_end")]' \
	'[-28, [-28, -1], "2024-02-06", "2024-03-04"]'
jcase "SCR date in window" '[visit("SCR")["date"], visit("SCR")["in_window"]]' \
	'["2024-02-10", true]'
jcase "INJ target date" 'visit("INJ")["target_date"]' 2024-03-26
jcase "INJ date outside its window" 'visit("INJ")["in_window"]' false
jcase "W1 has no date yet" '[visit("W1")["date"], visit("W1")["in_window"]]' \
	'[null, null]'
jcase "LOG is unscheduled" \
	'[visit("LOG")[k] for k in ("scheduled","day","window","date")]' \
	'[false, null, null, null]'
jcase "empty form" 'form("BL","KOOS")["status"]' empty
jcase "complete form" 'form("BL","VAS")["status"]' complete
jcase "partial form" 'form("INJ","DOSE")["status"]' partial
jcase "partial form lists missing items" 'form("INJ","DOSE")["missing"]' \
	'["EXDTC", "KITNO", "EXKNEE", "EXLOT", "IMMREACT"]'
jcase "values shown" 'form("BL","VAS")["items"]' \
	'[{"conflict": false, "item": "VAS", "value": "42", "withheld": false}]'
jcase "VAS score" 'form("BL","VAS")["scores"]' '[{"name": "vas", "value": 42}]'
jcase "WOMAC pain score" \
	'[s["value"] for s in form("BL","WOMAC")["scores"] if s["name"]=="womac_pain"]' \
	'[10]'
jcase "WOMAC total score" \
	'[s["value"] for s in form("BL","WOMAC")["scores"] if s["name"]=="womac_total"]' \
	'[46]'
jcase "empty form has no scores" 'form("M1","VAS")["scores"]' '[]'
jcase "unsigned form: signature null" 'form("BL","VAS")["signature"]' null
jcase "AE instance under LOG" '[form("LOG","AE",1)["status"], form("LOG","AE",1)["items"][0]["value"]]' \
	'["partial", "Headache"]'
jcase "EOS (never written) is listed empty" 'form("LOG","EOS")["status"]' empty
jcase "query counted on its form" 'form("INJ","SV")["open_queries"]' 1
jcase "one open query" 'len(d["queries"])' 1
jcase "query target" \
	'[d["queries"][0][k] for k in ("visit","form","item","status","system")]' \
	'["INJ", "SV", "VISDT", "open", false]'
jcase "query has an id" 'len(d["queries"][0]["id"])' 32
jcase "query has its text" '"window" in d["queries"][0]["text"]' true
jcase "form members are stable" 'sorted(form("BL","VAS"))' \
	'["completeness", "form", "instance", "items", "label", "missing", "open_queries", "scores", "signature", "status"]'
QID=$(j 'd["queries"][0]["id"]')

# ---- show, plain ---------------------------------------------------------------
expect_rc "show (plain)" 0 "$CB" subject show "$S1"
expect_out "plain show: day 0" "Day 0: 2024-03-05"
expect_out "plain show: window dates" "window -28..-1: 2024-02-06..2024-03-04"
expect_out "plain show: in window" "date 2024-02-10, in window"
expect_out "plain show: outside the window" "date 2024-05-01, OUTSIDE the window"
expect_out "plain show: partial with missing" "partial (missing: EXDTC"
expect_out "plain show: value" "VAS        42"
expect_out "plain show: score" "score vas            42.00"
expect_out "plain show: AE instance" "AE#1"
expect_out "plain show: query id" "query $QID (open) on VISDT"
expect_out "plain show: open query count" "Open queries: 1"

# A subject with no day 0 has no window dates.
expect_rc "show --json of a subject without day 0" 0 "$CB" subject show "$S2" --json
jcase "no day 0" '[d["day0"], visit("INJ")["window_start"], visit("INJ")["window"]]' \
	'[null, null, [14, 28]]'
expect_rc "show (plain) without day 0" 0 "$CB" subject show "$S2"
expect_out "plain: day 0 not yet known" "Day 0: not yet known"

# ---- bad input ------------------------------------------------------------------
expect_rc "unknown subject exits 1" 1 "$CB" subject show KR01-01999
expect_out "unknown subject lists the known ones" "$S1"
expect_rc "show without a subject is usage" 2 "$CB" subject show
expect_rc "show with a stray argument is usage" 2 "$CB" subject show "$S1" --xml
expect_rc "list with a stray argument is usage" 2 "$CB" subject list extra
expect_rc "unknown subject command is usage" 2 "$CB" subject frobnicate
CASEBOOK_PASSPHRASE=wrong-pass-1 expect_rc "wrong passphrase exits 4" 4 \
	"$CB" subject list

finish
