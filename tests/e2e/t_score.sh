#!/bin/sh
# t_score.sh - `casebook score`: JSON output for WOMAC, KOOS and VAS,
# missing-item rules as the user sees them, and the exit codes and
# messages for bad items (3) and bad usage (2).
. "$(dirname "$0")/lib.sh"

# expect_json NAME WANT: the last command printed exactly WANT on stdout.
expect_json() {
	_got=$(cat "$T/out")
	if [ "$_got" = "$2" ]; then
		pass "$1"
	else
		fail "$1" "got '$_got', wanted '$2'"
	fi
}

# expect_no_stdout NAME: nothing half-printed when the command failed.
expect_no_stdout() {
	if [ -s "$T/out" ]; then
		fail "$1" "stdout not empty: $(head -c 200 "$T/out")"
	else
		pass "$1"
	fi
}

# seq_args PREFIX FROM TO VALUE: "P1=v P2=v ..." for items FROM..TO.
seq_args() {
	_i=$2 _s=""
	while [ "$_i" -le "$3" ]; do
		_s="$_s $1$_i=$4"
		_i=$((_i + 1))
	done
	echo "$_s"
}

# --- WOMAC ---

# shellcheck disable=SC2046
expect_rc womac_complete 0 "$CB" score womac P1=1 P2=2 P3=3 P4=4 P5=0 \
	S1=2 S2=3 $(seq_args F 1 10 2) $(seq_args F 11 17 1)
expect_json womac_complete_json \
	'{"pain":10.00,"stiffness":5.00,"function":27.00,"total":42.00}'

# Pain 6/4 x 5 = 7.5; stiffness 3 x 2 = 6; function 15 x 17/14 = 18.214...;
# total 31.714... Item names in any case.
# shellcheck disable=SC2046
expect_rc womac_missing 0 "$CB" score WOMAC p1=1 P2=2 p3=3 P4=0 s1=3 \
	F1=2 $(seq_args f 2 14 1)
expect_json womac_missing_json \
	'{"pain":7.50,"stiffness":6.00,"function":18.21,"total":31.71}'

# Two pain items missing: pain and total are null, the rest still scored.
# shellcheck disable=SC2046
expect_rc womac_pain_invalid 0 "$CB" score womac P1=1 P2=2 P3=3 S1=1 S2=1 \
	$(seq_args F 1 17 1)
expect_json womac_pain_invalid_json \
	'{"pain":null,"stiffness":2.00,"function":17.00,"total":null}'

# 2 x 17 / 16 = 2.125 lies on a half hundredth and rounds up.
# shellcheck disable=SC2046
expect_rc womac_half 0 "$CB" score womac $(seq_args P 1 5 0) S1=0 S2=0 \
	F1=2 $(seq_args F 2 16 0)
expect_json womac_half_json \
	'{"pain":0.00,"stiffness":0.00,"function":2.13,"total":2.13}'

expect_rc womac_empty 0 "$CB" score womac
expect_json womac_empty_json \
	'{"pain":null,"stiffness":null,"function":null,"total":null}'

# --- KOOS ---

# shellcheck disable=SC2046
expect_rc koos_complete 0 "$CB" score koos $(seq_args p 1 9 1) \
	$(seq_args s 1 7 2) $(seq_args a 1 17 3) $(seq_args sp 1 5 4) \
	q1=1 q2=2 q3=3 q4=4
expect_json koos_complete_json \
	'{"pain":75.00,"symptoms":50.00,"adl":25.00,"sport_rec":0.00,"qol":37.50}'

# Three sport/rec answers (the minimum), mean 5/3: 58.33; QOL one answer.
expect_rc koos_threshold 0 "$CB" score koos SP1=1 SP2=2 Sp3=2 Q1=4
expect_json koos_threshold_json \
	'{"pain":null,"symptoms":null,"adl":null,"sport_rec":58.33,"qol":null}'

# --- VAS ---

expect_rc vas 0 "$CB" score vas VAS=57
expect_json vas_json '{"vas":57.00}'
expect_rc vas_case 0 "$CB" score VAS vas=0
expect_json vas_case_json '{"vas":0.00}'

# --- rejected data: exit 3 ---

expect_rc unknown_item 3 "$CB" score womac P1=1 P6=2
expect_out unknown_item_names_it "'P6'"
expect_out unknown_item_lists_items "P1-P5, S1-S2, F1-F17"
expect_no_stdout unknown_item_no_stdout

expect_rc koos_unknown_item 3 "$CB" score koos SP6=1
expect_out koos_unknown_item_lists "P1-P9, S1-S7, A1-A17, SP1-SP5, Q1-Q4"

expect_rc value_too_big 3 "$CB" score womac S2=5
expect_out value_too_big_item "item S2"
expect_out value_too_big_range "0-4"
expect_no_stdout value_too_big_no_stdout

expect_rc value_negative 3 "$CB" score womac P1=-1
expect_out value_negative_range "0-4"

expect_rc value_not_integer 3 "$CB" score koos q1=2.5
expect_out value_not_integer_msg "not a whole number"
expect_out value_not_integer_item "item Q1"

expect_rc value_empty 3 "$CB" score womac P1=
expect_out value_empty_msg "no value"

expect_rc vas_range 3 "$CB" score vas VAS=101
expect_out vas_range_msg "0-100"

# --- usage: exit 2 ---

expect_rc duplicate_item 2 "$CB" score womac P1=1 p1=2
expect_out duplicate_item_msg "P1 given twice"
expect_no_stdout duplicate_item_no_stdout

expect_rc unknown_method 2 "$CB" score sf36 P1=1
expect_out unknown_method_names_it "'sf36'"
expect_out unknown_method_lists "womac, koos, vas"

expect_rc no_method 2 "$CB" score
expect_out no_method_lists "womac, koos, vas"

expect_rc not_assignment 2 "$CB" score womac P1
expect_out not_assignment_msg "not ITEM=VALUE"

expect_rc unknown_option 2 "$CB" score womac --fast
expect_out unknown_option_msg "--fast"

# --- help ---

expect_rc help 0 "$CB" score --help
expect_out help_womac_items "F1-F17"
expect_out help_koos_items "SP1-SP5"
expect_out help_rules "4 or more"
expect_out help_exit "3 an unknown item"

finish
