#!/bin/sh
# t_gen_study.sh - scripts/gen-study end to end (issue 11, "A study
# generator"): small generated trials pushed into a real casebookd.
#
#   1. 30 subjects at 2 sites, seed 7: every event accepted (nothing
#      rejected, nothing our own checks refused), the server holds as many
#      events as the generator counted accepted, and the trial has what it
#      promises (screen failures, completions, AEs, serious AEs, conflicts,
#      queries, signatures, corrections with reasons).
#   2. `casebookd rebuild` then `casebookd dump` gives the dump from before:
#      what the server derived as the events arrived is consistent.
#   3. The same seed (and day) again gives the same data, event ids
#      included (subjects, items with their heads, queries of the dump);
#      another seed other data.
#   4. --randomize --laptop: a sealed list made and imported the real way,
#      eligible subjects randomized with leased slots and dosed with their
#      kit, by three coordinators a site (--per-device 6), each taking
#      over from the one before; the data manager's laptop holds every
#      event the server gives a blinded central role, byte for byte in the
#      canonical dump. The same run again randomizes the same subjects
#      with the same slots and kits.
#   5. Bad input: usage errors exit 2 and make nothing; an existing store
#      is never touched (exit 1).
. "$(dirname "$0")/lib.sh"

GEN="$CASEBOOK_TOP/scripts/gen-study"
: "${CASEBOOK_GEN_STUDY:=$CASEBOOK_TOP/build/tools/gen_study}"
export CASEBOOK_GEN_STUDY CASEBOOK_BIN
if [ ! -x "$CASEBOOK_GEN_STUDY" ]; then
	fail "build" "$CASEBOOK_GEN_STUDY is missing; 'make' builds it"
	finish
fi
export CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_PASSPHRASE
TODAY=$(date -u +%Y-%m-%d)
cd "$T" || exit 1

# total COLUMN FILE: a column of the generator's "total" line (2 accepted,
# 3 duplicate, 4 rejected, 5 not sent).
total() { awk -v c="$1" '$1 == "total" { print $c }' "$2"; }
# count WHAT FILE: the number after WHAT in the summary ("randomized 12",
# "conflicts: 2").
count() {
	sed -n "s/^\(.*[ (;]\)\{0,1\}$1:\{0,1\} \([0-9][0-9]*\).*/\2/p" "$2" |
		head -n 1
}
# server_events DIR: the event count `casebookd status` prints.
server_events() { "$CBD" status --data "$1" | sed -n 's/^events *\([0-9]*\).*/\1/p'; }
# same_data DUMP: the dump's tables of the record (subjects with their
# summaries, items with their heads, forms, queries), without the one
# clock in them: when each subject was created.
same_data() {
	awk '/^\[/ { keep = ($0 == "[subjects]" || $0 == "[items]" ||
			      $0 == "[forms]" || $0 == "[queries]") } keep' "$1" |
		sed 's/"created":"[^"]*",//'
}

# ---- 1. a small trial -----------------------------------------------------

expect_rc "gen-study 30 subjects" 0 "$GEN" --subjects 30 --sites 2 --seed 7 \
	--today "$TODAY" --data "$T/d1"
cp "$T/out" run1.txt
check "nothing rejected" 0 "$(total 4 run1.txt)"
check "nothing refused by the generator's checks" 0 "$(total 5 run1.txt)"
check "no duplicate" 0 "$(total 3 run1.txt)"
accepted=$(total 2 run1.txt)
check "server holds every accepted event" "$accepted" "$(server_events "$T/d1")"
if [ "${accepted:-0}" -gt 900 ]; then
	pass "about 30 subjects' worth of events ($accepted)"
else
	fail "events" "only ${accepted:-0} events for 30 subjects"
fi
check "30 subjects on the server" 30 \
	"$("$CBD" status --data "$T/d1" | sed -n 's/^subjects *\([0-9]*\).*/\1/p')"
for what in "screen failures" completed "adverse events" serious conflicts; do
	n=$(count "$what" run1.txt)
	if [ "${n:-0}" -gt 0 ]; then
		pass "the trial has $what ($n)"
	else
		fail "the trial has $what" "none in: $(head -n 3 run1.txt)"
	fi
done
"$CBD" dump --data "$T/d1" --canonical >canon1.txt 2>/dev/null
for kind in sign query.open query.answer query.close; do
	if grep -q "^event [0-9a-f]* [0-9a-f]* $kind\$" canon1.txt; then
		pass "the server holds $kind events"
	else
		fail "the server holds $kind events" "none in the canonical dump"
	fi
done
if grep -q 'reason "[A-Z][^"]*"' canon1.txt; then
	pass "corrections carry reasons"
else
	fail "corrections carry reasons" "no change with a reason"
fi
grep -q "randomize" canon1.txt && fail "no list, no randomization" "a randomize event"
grep -q '"DOSE"' canon1.txt && fail "no list, no dose" "a DOSE item"
pass "without a list nothing is randomized or dosed"

# ---- 2. rebuild gives the same derived state -----------------------------

"$CBD" dump --data "$T/d1" >dump1.txt 2>&1 || fail "dump" "$(head -c 300 dump1.txt)"
expect_rc "rebuild" 0 "$CBD" rebuild --data "$T/d1"
"$CBD" dump --data "$T/d1" >dump1r.txt 2>&1
if cmp -s dump1.txt dump1r.txt && [ -s dump1.txt ]; then
	pass "rebuild then dump equals the dump before"
else
	fail "rebuild then dump equals the dump before" \
		"$(diff dump1.txt dump1r.txt | head -n 5)"
fi

# ---- 3. the same seed, the same data --------------------------------------

expect_rc "gen-study again, same seed" 0 "$GEN" --subjects 30 --sites 2 \
	--seed 7 --today "$TODAY" --data "$T/d2"
"$CBD" dump --data "$T/d2" >dump2.txt 2>&1
same_data dump1.txt >data1.txt
same_data dump2.txt >data2.txt
if [ "$(wc -l <data1.txt)" -gt 1000 ] && cmp -s data1.txt data2.txt; then
	pass "same seed: same subjects, items, heads, forms and queries"
else
	fail "same seed: same data" "$(diff data1.txt data2.txt | head -n 5)"
fi
expect_rc "gen-study, another seed" 0 "$GEN" --subjects 30 --sites 2 \
	--seed 8 --today "$TODAY" --data "$T/d3"
"$CBD" dump --data "$T/d3" >dump3.txt 2>&1
same_data dump3.txt >data3.txt
if cmp -s data1.txt data3.txt; then
	fail "another seed: other data" "the dumps are equal"
else
	pass "another seed: other data"
fi

# ---- 4. randomization, dosing and the data manager's laptop ----------------

CASEBOOK_PASSPHRASE=gen-study-laptop-pass \
	expect_rc "gen-study --randomize --laptop" 0 "$GEN" --subjects 30 \
	--sites 2 --per-device 6 --seed 7 --today "$TODAY" --randomize \
	--data "$T/d4" --laptop "$T/lap" --user dm.test
cp "$T/out" run4.txt
check "randomize: nothing rejected" 0 "$(total 4 run4.txt)"
check "randomize: nothing refused" 0 "$(total 5 run4.txt)"
randomized=$(awk '$1 == "randomize" { print $2 }' run4.txt)
if [ "${randomized:-0}" -gt 0 ]; then
	pass "subjects randomized ($randomized)"
else
	fail "subjects randomized" "none: $(head -n 2 run4.txt)"
fi
used=$("$CBD" status --data "$T/d4" |
	sed -n 's/.* \([0-9][0-9]*\) used.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
check "one slot used per randomized subject" "$randomized" "$used"
"$CBD" dump --data "$T/d4" --canonical >canon4.txt 2>/dev/null
kits=$(grep -c '^item "BL" "RAND" "" "KITNO"' canon4.txt)
doses=$(grep -c '^item "INJ" "DOSE" "" "KITNO"' canon4.txt)
if [ "$doses" -gt 0 ] && [ "$doses" -le "$kits" ]; then
	pass "dosed subjects ($doses of $kits randomized)"
else
	fail "dosed subjects" "$doses doses, $kits kits"
fi
# Every dose is the subject's kit: DOSE_KIT held on the server too.
python3 - canon4.txt <<'EOF' >kits.txt
import re, sys
kit, dose, subj = {}, {}, None
for line in open(sys.argv[1]):
    m = re.match(r'subject "([^"]+)"', line)
    if m:
        subj = m.group(1)
    m = re.match(r'item "(BL|INJ)" "(RAND|DOSE)" "" "KITNO" = "([^"]*)"', line)
    if m:
        (kit if m.group(2) == "RAND" else dose)[subj] = m.group(3)
bad = [s for s in dose if dose[s] != kit.get(s)]
print("ok" if dose and not bad else "bad %s" % bad)
EOF
check "every dose is the subject's kit" ok "$(cat kits.txt)"
for id in S01-01006 S01-02001 S02-03003; do
	if grep -q "^subject \"$id\"" canon4.txt; then
		pass "coordinator device $id's creator made its subjects"
	else
		fail "subject $id" "not on the server"
	fi
done
if grep -q '^subject "S01-01007"' canon4.txt; then
	fail "--per-device 6" "a device created a 7th subject"
else
	pass "--per-device 6: the next coordinator takes over"
fi
expect_rc "gen-study --randomize again" 0 "$GEN" --subjects 30 --sites 2 \
	--per-device 6 --seed 7 --today "$TODAY" --randomize --data "$T/d5"
"$CBD" dump --data "$T/d4" >dump4.txt 2>&1
"$CBD" dump --data "$T/d5" >dump5.txt 2>&1
same_data dump4.txt >data4.txt
same_data dump5.txt >data5.txt
if grep -q 'RANDNO' data4.txt && cmp -s data4.txt data5.txt; then
	pass "same seed: same randomizations, kits and doses"
else
	fail "same seed: same randomizations" "$(diff data4.txt data5.txt | head -n 5)"
fi
[ -f "$T/d4/randlist/list.json" ] && [ -f "$T/d4/randlist/unblind.key" ] &&
	pass "the list and the unblinding key are kept in DIR/randlist" ||
	fail "randlist files" "$(ls "$T/d4/randlist" 2>&1)"

# The laptop holds what a blinded central role receives, byte for byte.
"$CBD" dump --data "$T/d4" --canonical --blinded >server4.txt 2>/dev/null
CASEBOOK_PASSPHRASE=gen-study-laptop-pass "$CB" --home "$T/lap" dump \
	>laptop4.txt 2>"$T/err"
if [ -s laptop4.txt ] && cmp -s server4.txt laptop4.txt; then
	pass "laptop dump equals the server's blinded canonical dump"
else
	fail "laptop dump equals the server's" \
		"$(diff server4.txt laptop4.txt | head -n 5) $(head -c 200 "$T/err")"
fi
CASEBOOK_PASSPHRASE=gen-study-laptop-pass "$CB" --home "$T/lap" status --json \
	>status4.json 2>"$T/err"
check "laptop: as many events as the server sends it" \
	"$(grep -c '^event ' server4.txt)" "$(jget status4.json 'j["events"]')"
check "laptop: nothing unsynced" 0 "$(jget status4.json 'j["unsynced"]')"
check "laptop: nothing quarantined" 0 "$(jget status4.json 'j["quarantined"]["count"]')"
if grep -q '"CELL"' laptop4.txt; then
	fail "laptop is blinded" "it holds unblinded CELL items"
else
	pass "laptop holds no unblinded item"
fi
if grep -q '"INJ" "CELL"' canon4.txt; then
	pass "the laboratory's cell release is on the server"
else
	fail "the laboratory's cell release is on the server" "no CELL item"
fi

# ---- 5. bad input ---------------------------------------------------------

expect_rc "no --subjects: usage" 2 "$GEN" --data "$T/u1"
expect_out "no --subjects: says so" "--subjects"
expect_rc "--subjects not a number: usage" 2 "$GEN" --subjects ten --data "$T/u1"
expect_rc "--sites 0: usage" 2 "$GEN" --subjects 5 --sites 0 --data "$T/u1"
expect_rc "--per-device 1000: usage" 2 "$GEN" --subjects 5 --per-device 1000 \
	--data "$T/u1"
expect_rc "more subjects than the sites' devices can make: usage" 2 "$GEN" \
	--subjects 1000 --sites 1 --per-device 10 --data "$T/u1"
expect_out "too many subjects: says to give more sites" "--sites"
expect_rc "unknown option: usage" 2 "$GEN" --subjects 5 --data "$T/u1" --fast
expect_rc "--today in the future: usage" 2 "$GEN" --subjects 5 --data "$T/u1" \
	--today 2999-01-01
expect_rc "--laptop without a passphrase: usage" 2 "$GEN" --subjects 5 \
	--data "$T/u1" --laptop "$T/u1lap"
[ -e "$T/u1" ] && fail "usage errors make nothing" "$T/u1 exists" ||
	pass "usage errors make nothing"
mkdir "$T/full" && echo keep >"$T/full/file"
expect_rc "existing store directory: refused" 1 "$GEN" --subjects 5 --data "$T/full"
expect_out "existing directory: says why" "never overwritten"
check "existing directory untouched" "file" "$(ls "$T/full")"
expect_rc "an existing store: refused" 1 "$GEN" --subjects 5 --data "$T/d1"
check "the existing store untouched" "$accepted" "$(server_events "$T/d1")"
expect_rc "--help" 0 "$GEN" --help
expect_out "--help: documents --randomize" "--randomize"
expect_rc "gen_study --help" 0 "$CASEBOOK_GEN_STUDY" --help
expect_rc "gen_study: unknown command" 2 "$CASEBOOK_GEN_STUDY" frobnicate

finish
