#!/bin/sh
# b_show.sh - how long one `casebook subject show` takes on a laptop store
# with 200 subjects, with the cost of unlocking separated (issue #3,
# "Performance"). Reported, never asserted.
#
# The store is filled through the real CLI (subject add and form set: the
# screening forms, the baseline visit, VAS and all 24 WOMAC items, so 6
# events a subject) with the test-only fast Argon2id, then timed twice:
# as filled, and after `casebook passwd` re-wrapped the key at the default
# Argon2id cost, which is what a real laptop pays at every command.
#
#   unlock only     `casebook user list`: start, open, unlock, list users
#   store check     unlock + decrypt and authenticate every row
#   subject show    unlock + load every event into the merge state + print
#   subject list    the same for every subject
#
# Each is the median of 5 runs, in milliseconds of wall time.
#   CASEBOOK_BENCH_SUBJECTS  subjects in the store (default 200)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
CB="${CASEBOOK_BIN:-$top/bin}/casebook"
PROTO="$top/schemas/knee-oa-msc.json"
NSUBJ=${CASEBOOK_BENCH_SUBJECTS:-200}
T=$(mktemp -d "${TMPDIR:-/tmp}/cbbshow.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=bench-pass-1
unset CASEBOOK_USER CASEBOOK_TEST_HOOKS

# ms CMD...: wall time of one run in milliseconds (output discarded).
ms() {
	_t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || echo "b_show: failed: $*" >&2
	_t1=$(date +%s%N)
	echo $(((_t1 - _t0) / 1000000))
}
# med5 CMD...: median of 5 runs, after one warm-up run.
med5() {
	ms "$@" >/dev/null
	for _i in 1 2 3 4 5; do ms "$@"; done | sort -n | sed -n 3p
}

fill_t0=$(date +%s)
CASEBOOK_KDF_FAST=1 "$CB" init --site KR01 --device-index 1 \
	--protocol "$PROTO" --user bench --role coordinator >/dev/null || exit 1
i=1
while [ "$i" -le "$NSUBJ" ]; do
	export CASEBOOK_KDF_FAST=1
	s=$("$CB" subject add) || exit 1
	"$CB" form set "$s" SCR SV VISDT=2024-02-19 >/dev/null &&
		"$CB" form set "$s" SCR DM CONSDT=2024-02-15 BRTHYR=1961 SEX=F \
			HEIGHT=162 WEIGHT=70.5 KNEE=R >/dev/null &&
		"$CB" form set "$s" BL SV VISDT=2024-03-04 >/dev/null &&
		"$CB" form set "$s" BL VAS VAS=$((i % 100)) >/dev/null &&
		"$CB" form set "$s" BL WOMAC P1=1 P2=2 P3=3 P4=0 P5=1 S1=2 S2=1 \
			F1=1 F2=2 F3=3 F4=0 F5=1 F6=2 F7=3 F8=0 F9=1 F10=2 \
			F11=3 F12=0 F13=1 F14=2 F15=3 F16=0 F17=1 >/dev/null ||
		exit 1
	i=$((i + 1))
done
unset CASEBOOK_KDF_FAST
first=KR01-01001
last=$(printf 'KR01-01%03d' "$NSUBJ")
ev=$(CASEBOOK_KDF_FAST=1 "$CB" store check | sed -n 's/^events \([0-9]*\) .*/\1/p')
echo "b_show: store with $NSUBJ subjects, $ev events," \
	"$(stat -c %s "$CASEBOOK_HOME/casebook.db") bytes" \
	"(filled in $(($(date +%s) - fill_t0)) s)"

show=show
if ! "$CB" subject show "$first" >/dev/null 2>&1; then
	echo "b_show: 'subject show' not available; timing 'form show' instead"
	show=form
fi

report() {
	unlock=$(med5 "$CB" user list)
	check=$(med5 "$CB" store check)
	if [ "$show" = show ]; then
		s1=$(med5 "$CB" subject show "$first")
		s2=$(med5 "$CB" subject show "$last")
		sl=$(med5 "$CB" subject list)
	else
		s1=$(med5 "$CB" form show "$first" BL WOMAC)
		s2=$(med5 "$CB" form show "$last" BL WOMAC)
		sl=-
	fi
	printf '  %-34s %6s ms\n' "unlock only (user list)" "$unlock" \
		"store check" "$check" \
		"subject show, first subject" "$s1" \
		"subject show, last subject" "$s2" \
		"subject list" "$sl"
	printf '  %-34s %6s ms\n' "subject show minus unlock" "$((s1 - unlock))"
}

echo "-- Argon2id test-only fast cost (CASEBOOK_KDF_FAST=1), medians of 5:"
CASEBOOK_KDF_FAST=1 report
CASEBOOK_NEW_PASSPHRASE=$CASEBOOK_PASSPHRASE "$CB" passwd >/dev/null 2>&1 ||
	echo "b_show: passwd failed"
echo "-- Argon2id default cost (after passwd), medians of 5:"
report
