#!/bin/sh
# t_protocol.sh - `casebook protocol check|show`: the shipped study and a
# small one pass; every broken protocol in tests/e2e/protocols/ exits 1
# and names the JSON path and the problem; invalid JSON gives its line and
# column; a missing file and bad usage get the right exit codes.
. "$(dirname "$0")/lib.sh"

P="$CASEBOOK_TOP/tests/e2e/protocols"

# --- good protocols ---

expect_rc knee_check 0 "$CB" protocol check "$PROTO"
expect_out knee_summary \
	"knee-oa-msc 1.4: 9 visits, 14 forms, 120 items,"
expect_out knee_rules "7 eligibility rules"

expect_rc mini_check 0 "$CB" protocol check "$P/good-mini.json"
expect_out mini_summary \
	"mini 0.1: 3 visits, 4 forms, 11 items, 2 checks, 1 eligibility rule"

# --- broken protocols: exit 1, the path and the problem ---

# bad NAME 'PATH: PROBLEM': check tests/e2e/protocols/NAME.json.
bad() {
	expect_rc "bad_$1" 1 "$CB" protocol check "$P/$1.json"
	expect_out "bad_$1_msg" "$2"
	expect_no_out "bad_$1_no_summary" "eligibility rule"
}

bad check-unknown-item '$.checks[0].other: unknown item "STRT" in form AE'
bad dup-form '$.forms[2].code: duplicate form code "F"'
bad dup-item '$.forms[1].items[1].code: duplicate item code "N" in form F'
bad dup-visit '$.visits[1].code: duplicate visit code "V1"'
bad dup-check-id '$.checks[1].id: duplicate check id "END_AFTER_START"'
bad min-gt-max '$.forms[1].items[0].range.min: min 10 is greater than max 5'
bad choice-empty \
	'$.forms[1].items[1].choices: a choice item needs at least one choice'
bad choice-missing \
	'$.forms[1].items[1].choices: missing: a choice item needs its choices'
bad visit-unknown-form '$.visits[1].forms[2]: unknown form "G"'
bad bad-ratio '$.arms[1].ratio: 0 is outside 1..100'
bad bad-ratio-fraction '$.arms[0].ratio: expected an integer, found 1.5'
bad unknown-method \
	'$.forms[1].scores[0].method: unknown scoring method "sf36" (womac, koos, vas)'
bad wrong-type-bool \
	'$.forms[1].items[0].required: expected true or false, found a string'
bad wrong-type-array '$.visits: expected an array, found an object'
bad unknown-item-type '$.forms[1].items[2].type: unknown type "float"'
bad bad-format '$.format: "casebook-protocol/9" is not "casebook-protocol/1"'
bad unknown-member '$.forms[1].items[0].requried: unknown member'
bad window-misses-day \
	'$.visits[1].window: the window [1, 7] does not hold the target day 14'
bad visit-order '$.visits[1].day: day -5 is not after day 0 of visit V1'
bad decimal-no-precision \
	'$.forms[1].items[2].precision: missing: a decimal item needs its number of decimal places'
bad soft-outside-hard \
	'$.forms[1].items[2].soft: soft max 9 is above the hard range max 5'
bad unknown-role '$.forms[1].writers[1]: unknown role "nurse"'
bad block-size \
	"\$.randomization.block_sizes[1]: block size 3 is not a multiple of 2, the sum of the arms' ratios"
bad compare-types \
	'$.checks[0].other: cannot compare END (partial_date) with SER (boolean)'
bad ref-not-at-visit \
	'$.checks[0].other: "R.KIT": visit V2 holds form SV but not R'
bad ref-repeating \
	'$.checks[0].other: "AE.START": form AE repeats, so a reference cannot pick its instance'
bad unknown-op '$.checks[0].op: unknown operator "=>"'
bad check-type '$.checks[1].type: unknown check type "range"'
bad form-no-visit '$.forms[3]: form AE is not held by any visit'
bad day0-missing '$.day0: missing'
bad day0-not-zero \
	'$.day0: V2.SV.VISDT is at visit V2, whose target day is 14, not 0'
bad rule-unknown-item \
	'$.eligibility.rules[0].condition.all[1].item: unknown item "AGE" in form F'
bad stratum-level '$.strata[0].levels[1]: F.N: 11 is outside the allowed range 0 to 10'
bad score-item-type '$.forms[1].scores[0].items.VAS: F.X is decimal; vas items are integers'
bad choice-value '$.checks[0].when.value: F.C: "Z" is not one of A, B'
bad rand-writers \
	'$.randomization.form: the randomization form R must have writers ["system"]'
bad visit-window-type \
	'$.checks[1].item: N is integer; a visit window check needs a date or datetime item'

# Every problem of a file, one per line, and the count.
bad many-problems '$.forms[1].items[0].range.min: min 10 is greater than max 5'
expect_out many_second '$.visits[0].forms[3]: unknown form "NOPE"'
expect_out many_third '$.arms[0].ratio: -1 is outside 1..100'
expect_out many_count 'many-problems.json: 3 problems'
if [ "$(grep -c '^\$\.' "$T/err")" -eq 3 ]; then
	pass many_one_per_line
else
	fail many_one_per_line "wanted 3 problem lines: $(cat "$T/err")"
fi

# --- not JSON at all: file, line and column ---

bad bad-json-comma 'bad-json-comma.json: invalid JSON at line 5, column 2'
bad bad-json-truncated \
	'bad-json-truncated.json: invalid JSON at line 13, column 4: unexpected end of input'

printf '' >"$T/empty.json"
expect_rc empty_file 1 "$CB" protocol check "$T/empty.json"
expect_out empty_file_msg "empty.json: invalid JSON at line 1, column 1"

printf '{"format": "casebook-protocol/1"}\n\n  xyz\n' >"$T/trailing.json"
expect_rc trailing 1 "$CB" protocol check "$T/trailing.json"
expect_out trailing_msg "trailing.json: invalid JSON at line 3, column 3"

# --- files that cannot be read ---

expect_rc missing_file 1 "$CB" protocol check "$T/nope.json"
expect_out missing_file_msg "cannot open $T/nope.json"
expect_rc directory 1 "$CB" protocol check "$T"

# --- show ---

expect_rc show 0 "$CB" protocol show "$PROTO"
expect_out show_schedule_inj "INJ    Injection"
expect_out show_window "14..28"
expect_out show_log "LOG"
expect_out show_form_dose "Form DOSE: Dosing"
expect_out show_exvol_soft "2.5..3.5"
expect_out show_unblinded "CELLCNT [unblinded]"
expect_out show_writer_lab "written by: lab"
expect_out show_repeating "Form AE: Adverse event (repeating)"
expect_out show_choices "RECOVERED/RECOVERED_SEQ/RECOVERING/NOT_RECOVERED/FATAL"
# aligned: the header columns of the visit table line up with the rows
hdr=$(grep -n '^  VISIT ' "$T/out" | head -1)
row=$(grep '^  M12 ' "$T/out" | head -1)
hcol=$(printf '%s\n' "$hdr" | sed 's/^[0-9]*://' | awk '{print index($0, "FORMS")}')
rcol=$(printf '%s\n' "$row" | awk '{print index($0, "SV VAS")}')
if [ -n "$hcol" ] && [ "$hcol" -gt 0 ] && [ "$hcol" = "$rcol" ]; then
	pass show_aligned
else
	fail show_aligned "FORMS at column $hcol, M12 forms at $rcol"
fi
expect_rc show_bad 1 "$CB" protocol show "$P/min-gt-max.json"
expect_out show_bad_msg "min 10 is greater than max 5"

# --- usage: exit 2 ---

expect_rc no_sub 2 "$CB" protocol
expect_out no_sub_msg "check or show"
expect_rc unknown_sub 2 "$CB" protocol verify "$PROTO"
expect_out unknown_sub_msg "'verify'"
expect_rc no_file 2 "$CB" protocol check
expect_out no_file_msg "no FILE"
expect_rc two_files 2 "$CB" protocol check "$PROTO" "$PROTO"
expect_rc bad_option 2 "$CB" protocol check --strict "$PROTO"
expect_out bad_option_msg "--strict"

expect_rc help 0 "$CB" protocol --help
expect_out help_check "casebook protocol check FILE"
expect_out help_show "casebook protocol show FILE"
expect_out help_exit "Exit codes"
expect_out help_readme "schemas/README.md"

finish
