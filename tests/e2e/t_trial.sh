#!/bin/sh
# t_trial.sh - the randomized crash trial (tests/tools/trial.py): a few
# seeded trials pass (laptops entering data through the fault-injecting
# proxy, laptops and server killed with SIGKILL and restarted, then every
# record compared), and the trial's checks are shown to see a broken
# record: an event deleted from the server, two subjects' slots swapped,
# a laptop's database page zeroed each make the trial fail, naming it.
# `make trial` runs 100 trials (CI), `make torture` 2,000.
#
# TRIAL_SEED picks the first seed (printed); TRIALS how many (default 3).
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_TOOLS:=$CASEBOOK_TOP/build/tools}"
export CASEBOOK_TOOLS
TRIAL="$CASEBOOK_TOP/tests/tools/trial.py"
[ -x "$CASEBOOK_TOOLS/faultproxy" ] || {
	fail "faultproxy" "$CASEBOOK_TOOLS/faultproxy is missing; 'make test' builds it"
	finish
}
SEED=${TRIAL_SEED:-$(od -An -tu2 -N2 /dev/urandom | tr -d ' ')}
: "${TRIALS:=3}"
echo "first seed $SEED (rerun with TRIAL_SEED=$SEED)"
cd "$T" || exit 1

# The sealed list is made once for every trial here.
CASEBOOK_PASSPHRASE=x CASEBOOK_KDF_FAST=1 CASEBOOK_NEW_PASSPHRASE=trial-stat-pass \
	"$CB" keygen --out unblind.key >/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01,DE02 --per-stratum 60 \
	--block-sizes 2,4 --seed casebook-trial-list-seed-0123456789 \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"

python3 "$TRIAL" --trials "$TRIALS" --first-seed "$SEED" --list list.json \
	--jobs 2 >trials.out 2>&1
rc=$?
cat trials.out
if [ $rc -eq 0 ] && grep -q "^$TRIALS trials in .*, 0 failed" trials.out; then
	pass "$TRIALS seeded trials: nothing lost, nothing twice, every record equal"
else
	fail "$TRIALS seeded trials" "$(grep '^FAIL' trials.out | head -3)"
fi

# sabotage KIND TEXT: a trial whose record is broken on purpose fails,
# and its report says TEXT. (A trial in which no subject was randomized
# has no slot to move: the next seed is taken then.)
sabotage() {
	_s=$SEED
	while [ $_s -lt $((SEED + 5)) ]; do
		python3 "$TRIAL" --seed "$_s" --list list.json --sabotage "$1" \
			>sab.out 2>&1
		grep -q "no randomized subject to move" sab.out || break
		_s=$((_s + 1))
	done
	if grep -q "^FAIL trial seed $_s: .*$2" sab.out; then
		pass "the trial sees $1"
	else
		fail "the trial sees $1" "$(head -c 600 sab.out)"
	fi
}
sabotage lose-event "saved values are not on the server"
sabotage swap-slots "randomized on"
sabotage torn-page "integrity_check"
finish
