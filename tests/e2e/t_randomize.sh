#!/bin/sh
# t_randomize.sh - randomization and the emergency code-break, end to end
# on a real casebookd on loopback (issue #5, docs/randomization.md):
#
#   1. The statistician makes the unblinding key and a sealed list for
#      KR01 (two strata); the server imports it, refuses an altered list,
#      a list for another protocol and another list that would change
#      leased slots; importing the same list again changes nothing.
#   2. Two coordinators' laptops sync (leases), randomize subjects of
#      both strata offline, sync: no slot used twice, every randomization
#      number is a slot of the subject's stratum. Laptops whose lease is
#      exhausted (one of them, and a third one) get the message to sync,
#      sync and continue.
#   3. Ineligible or incomplete subjects exit 3 naming the criteria and
#      items; a subject is randomized once; a coordinator cannot write
#      the randomization form.
#   4. Dosing with another kit exits 3 on the laptop (DOSE_KIT), and so
#      does dosing a subject whose randomization the laptop has not yet
#      learnt (DOSE_RANDOMIZED); after a sync the assigned kit is taken.
#      A cloned laptop reusing a slot already used is rejected by the
#      server (code "slot"). In 7, a dose of a subject whose randomization
#      the server refused is refused too (code "check").
#   5. Unblind: a coordinator gets exit 4, a wrong code-break passphrase
#      exit 4 and nothing recorded; the investigator sees the arm the
#      revealed list gives, the unblind event syncs and the server flags
#      the subject.
#   6. No arm code or label in anything the blinded laptops print or
#      hold, nor in the server's tables (the protocol aside) or its log.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
command -v sqlite3 >/dev/null 2>&1 || {
	fail "sqlite3" "sqlite3(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=rand-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
unset CASEBOOK_CODEBREAK_PASSPHRASE
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
MINI="$CASEBOOK_TOP/tests/e2e/protocols/good-mini.json"
cd "$T" || exit 1

at_exit stop_server


# ---- 1. the list and the import ---------------------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
gen() { # OUT SEED SITES
	"$CB" randlist generate --protocol "$PROTO" --sites "$3" \
		--per-stratum 30 --block-sizes 2,4 --seed "$2" \
		--unblinding-pub unblind.key.pub --out "$1" >/dev/null 2>&1
}
gen list.json "rand-e2e-seed-$$-abcdefghij" KR01 || fail "generate" "failed"
gen list2.json "rand-e2e-other-$$-abcdefghij" KR01 || fail "generate 2" "failed"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list.json \
	--key unblind.key --csv >revealed.csv 2>/dev/null ||
	fail "reveal" "failed"
CBPASS=$(sed -n 's/^    \([A-Z0-9]\{4\}-.*\)$/\1/p' list.json.KR01.codebreak.txt)
printf '%s\n' "$CBPASS" >sheet.pass
[ -n "$CBPASS" ] || fail "code-break passphrase" "not found on the sheet"

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people coorda:coordinator:KR01 coordb:coordinator:KR01 coordx:coordinator:KR01 \
	invlee:investigator:KR01 dmkim:datamanager

# An altered list (one kit digit) does not verify.
python3 -c '
import re, sys
t = open("list.json").read()
m = re.search(r"\"kit\":\s*\"([0-9])", t)
d = "2" if m.group(1) == "1" else "1"
sys.stdout.write(t[:m.start(1)] + d + t[m.end(1):])' >altered.json
expect_rc "import: altered list refused" 1 "$CBD" randlist import --data "$D" altered.json
expect_out "import: altered list says why" "signature"
# A list made for another protocol.
"$CB" randlist generate --protocol "$MINI" --sites KR01 --per-stratum 4 \
	--seed "rand-e2e-mini-$$-abcdefghij" --unblinding-pub unblind.key.pub \
	--out mini.json >/dev/null 2>&1 || fail "generate mini" "failed"
expect_rc "import: list of another study refused" 1 "$CBD" randlist import --data "$D" mini.json
expect_out "import: names the study" "study"

expect_rc "import" 0 "$CBD" randlist import --data "$D" list.json
expect_out "import: prints the fingerprint" "fingerprint"
expect_rc "import again" 0 "$CBD" randlist import --data "$D" list.json
expect_out "import again: no change" "nothing changed"

start_server || finish

# ---- 2. devices, leases, offline randomization --------------------------------

for d in a b x; do
	t=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
	expect_rc "register coordinator $d" 0 cb "$d" init --server "$URL" --token "$t" --user "coord$d"
done
t=$("$CBD" token create --data "$D" --site KR01 --role investigator 2>/dev/null)
expect_rc "register investigator" 0 cb inv init --server "$URL" --token "$t" --user invlee

# enroll DEV KL [AGE]: a new subject with consent and eligibility data;
# prints its id.
enroll() {
	_s=$(cb "$1" subject add 2>/dev/null) || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=$((2026 - ${3:-60})) SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb "$1" form set "$_s" SCR ELIG AGE="${3:-60}" KLGRADE="$2" PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}

# Before any sync the laptop holds no slot.
S0=$(enroll a 2) || fail "enroll" "a"
expect_rc "no lease yet: exit 1" 1 cb a randomize "$S0"
expect_out "no lease yet: says to sync" "sync"

for d in a b x inv; do
	expect_rc "first sync $d" 0 cb "$d" sync
done

# Another list that would change slots now leased is refused whole.
"$CBD" status --data "$D" >status.before 2>&1
expect_rc "import: another list changing leased slots refused" 1 \
	"$CBD" randlist import --data "$D" list2.json
expect_out "import: names the leased slot" "already leased"
"$CBD" status --data "$D" >status.txt 2>&1
if cmp -s status.before status.txt && grep -q "32 leased, 0 used" status.txt; then
	pass "refused import changed nothing"
else
	fail "refused import changed nothing" "$(grep randomization status.txt)"
fi

# Offline: a and b each randomize 4 subjects of stratum 2 and 2 of
# stratum 3 (S0 is a's first).
: >assigned.txt
randomize() { # DEV SUBJECT
	if cb "$1" randomize "$2" >"$T/out" 2>"$T/err"; then
		rn=$(sed -n 's/.*randomization number: *//p' "$T/out")
		kit=$(sed -n 's/.*kit number: *//p' "$T/out")
		echo "$2 $rn $kit" >>assigned.txt
		return 0
	fi
	return 1
}
ok=0
randomize a "$S0" && ok=$((ok + 1))
for d in a b; do
	n=0
	[ $d = a ] && n=1
	while [ $n -lt 4 ]; do
		s=$(enroll $d 2) && randomize $d "$s" && ok=$((ok + 1))
		n=$((n + 1))
	done
	for k in 1 2; do
		s=$(enroll $d 3) && randomize $d "$s" && ok=$((ok + 1))
	done
done
check "offline randomizations" 12 "$ok"
if grep -q "arm\|MSC\|PBO\|ADMSC\|placebo" "$T/out" "$T/err"; then
	fail "randomize prints no arm" "$(cat "$T/out")"
else
	pass "randomize prints no arm"
fi
check "no randomization number used twice" 12 "$(cut -d' ' -f2 assigned.txt | sort -u | wc -l | tr -d ' ')"
check "no kit used twice" 12 "$(cut -d' ' -f3 assigned.txt | sort -u | wc -l | tr -d ' ')"
check "stratum 3 subjects got stratum 3 slots" 4 "$(grep -c ' R-KR01-3-' assigned.txt)"
# Every assignment is the list's: randno and kit of one slot.
bad=0
while read -r s rn kit; do
	grep -q ",$rn,$kit," revealed.csv || bad=$((bad + 1))
done <assigned.txt
check "assignments are slots of the list" 0 "$bad"

# a's lease of stratum 2 is used up: the clear message.
S5=$(enroll a 2)
expect_rc "exhausted lease: exit 1" 1 cb a randomize "$S5"
expect_out "exhausted lease: says to sync" "casebook sync"
expect_out "exhausted lease: names the stratum" "stratum 2"
for d in a b; do
	expect_rc "sync $d after offline randomization" 0 cb "$d" sync
	expect_out "sync $d: nothing rejected" "0 rejected"
done
randomize a "$S5"
check "after sync a continues" 0 $?
# The third laptop, offline, uses its 4 slots of stratum 3, is told to
# sync, syncs and continues.
n=0
while [ $n -lt 4 ]; do
	s=$(enroll x 3) && randomize x "$s" || fail "x randomizes $n" "$(cat "$T/err")"
	n=$((n + 1))
done
SX5=$(enroll x 3)
expect_rc "third laptop exhausted: exit 1" 1 cb x randomize "$SX5"
expect_out "third laptop: says to sync" "sync with the server (casebook sync) to get more"
expect_rc "third laptop syncs" 0 cb x sync
expect_out "third laptop: nothing rejected" "0 rejected"
randomize x "$SX5"
check "after sync the third laptop continues" 0 $?
expect_rc "sync a" 0 cb a sync
expect_rc "sync x" 0 cb x sync
"$CBD" status --data "$D" >status.txt 2>&1
if grep -q "site KR01: [0-9]* slots, [0-9]* leased, 18 used" status.txt; then
	pass "server counts 18 used slots"
else
	fail "server counts 18 used slots" "$(grep randomization status.txt)"
fi
check "18 distinct randomization numbers" 18 "$(cut -d' ' -f2 assigned.txt | sort -u | wc -l | tr -d ' ')"
bad=0
while read -r s rn kit; do
	grep -q ",$rn,$kit," revealed.csv || bad=$((bad + 1))
done <assigned.txt
check "every assignment is a slot of the list" 0 "$bad"

# ---- 3. eligibility and once only ------------------------------------------

S_OLD=$(enroll b 2 30)
expect_rc "ineligible (age 30): exit 3" 3 cb b randomize "$S_OLD"
expect_out "ineligible: names the criterion" "AGE"
expect_out "ineligible: says not eligible" "not eligible"
S_INC=$(cb b subject add 2>/dev/null)
cb b form set "$S_INC" SCR ELIG AGE=50 KLGRADE=2 PAIN3M=Y >/dev/null 2>&1
expect_rc "incomplete eligibility: exit 3" 3 cb b randomize "$S_INC"
expect_out "incomplete: names a missing item" "BMI"
expect_rc "randomized twice: refused" 1 cb a randomize "$S0"
expect_out "randomized twice: says so" "already randomized"
expect_rc "coordinator cannot write RAND" 4 cb a form set "$S5" BL RAND KITNO=123456

# ---- 4. dosing and the server's slot and kit checks ----------------------------

KIT0=$(grep "^$S0 " assigned.txt | cut -d' ' -f3)
WRONG=$(grep -v "^$S0 " assigned.txt | head -1 | cut -d' ' -f3)
dose() { # DEV SUBJECT KIT
	cb "$1" form set "$2" INJ DOSE EXDTC=2026-01-20T10:00 KITNO="$3" \
		EXVOL=3.0 EXKNEE=L EXLOT=LOT-1 IMMREACT=N
}
expect_rc "dose with another subject's kit: exit 3" 3 dose a "$S0" "$WRONG"
expect_out "wrong kit: DOSE_KIT" "DOSE_KIT"
expect_rc "dose with the subject's kit" 0 dose a "$S0" "$KIT0"

# b knows the subject but not yet its randomization (made on a): no kit
# is assigned on b's record, so b records no dose until it syncs.
S_LATE=$(enroll a 2)
expect_rc "sync a (new subject)" 0 cb a sync
expect_rc "sync b (learns the subject)" 0 cb b sync
randomize a "$S_LATE" || fail "randomize late subject" "$(cat "$T/err")"
expect_rc "b doses a subject it does not know randomized: exit 3" 3 \
	dose b "$S_LATE" 999999
expect_out "b: says there is no randomization on record" "DOSE_RANDOMIZED"
expect_rc "sync a (randomization)" 0 cb a sync
expect_rc "sync b (learns the randomization)" 0 cb b sync
expect_rc "b: the wrong kit is refused now" 3 dose b "$S_LATE" 999999
expect_out "b: DOSE_KIT" "DOSE_KIT"
KIT_LATE=$(grep "^$S_LATE " assigned.txt | tail -1 | cut -d' ' -f3)
expect_rc "b doses with the assigned kit" 0 dose b "$S_LATE" "$KIT_LATE"

# A cloned laptop reuses a slot already used: the server says "slot".
# (Its subjects are the original's: a clone would reuse subject ids too,
# and the server takes a subject's creation once.)
SX1=$(enroll x 3)
SX2=$(enroll x 3)
expect_rc "sync x" 0 cb x sync
cp -r "$T/h/x" "$T/h/x2"
randomize x "$SX1" || fail "randomize on x" "$(cat "$T/err")"
randomize x2 "$SX2" || fail "randomize on the clone" "$(cat "$T/err")"
check "clone took the same slot" "$(grep "^$SX1 " assigned.txt | cut -d' ' -f2)" \
	"$(grep "^$SX2 " assigned.txt | cut -d' ' -f2)"
expect_rc "sync x" 0 cb x sync
expect_rc "sync clone" 0 cb x2 sync
expect_out "server rejects a used slot" "1 rejected"
cb x2 status >"$T/out" 2>&1
expect_out "quarantine names the slot" "already used"

# ---- 5. the emergency code-break --------------------------------------------

expect_rc "investigator syncs" 0 cb inv sync
expect_rc "unblind by a coordinator: exit 4" 4 cb a unblind "$S0" --reason "test" --codebreak-file sheet.pass
expect_no_out "coordinator sees no arm" "MSC"
expect_rc "unblind without reason: usage" 2 cb inv unblind "$S0"
printf 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF\n' >wrong.pass
expect_rc "unblind with a wrong passphrase: exit 4" 4 cb inv unblind "$S0" --reason "test" --codebreak-file wrong.pass
expect_no_out "wrong passphrase shows no arm" "arm:"
RN0=$(grep "^$S0 " assigned.txt | cut -d' ' -f2)
ARM0=$(grep ",$RN0," revealed.csv | cut -d, -f7)
expect_rc "unblind by the investigator" 0 cb inv unblind "$S0" --reason "suspected anaphylaxis" --codebreak-file sheet.pass
expect_out "unblind shows the list's arm" "arm: $ARM0"
cp "$T/out" unblind.out
expect_rc "unblind syncs" 0 cb inv sync
expect_out "unblind event accepted" "1 accepted"
"$CBD" status --data "$D" >status.txt 2>&1
if grep -q "UNBLINDED $S0 site KR01 by invlee .*suspected anaphylaxis" status.txt &&
	grep -q "code-breaks      1" status.txt; then
	pass "server flags the subject"
else
	fail "server flags the subject" "$(tail -3 status.txt)"
fi
"$CBD" dump --data "$D" --canonical >dump.txt 2>&1
if grep -q " unblind" dump.txt; then pass "dump shows the unblind event"; else fail "dump shows the unblind event" "missing"; fi
# The site's other laptop sees the flag after its sync: who, when, why,
# never the arm.
expect_rc "coordinator syncs the code-break" 0 cb a sync
expect_rc "subject list on the coordinator's laptop" 0 cb a subject list
expect_out "subject list flags the code-break" "UNBLINDED"
expect_rc "subject show on the coordinator's laptop" 0 cb a subject show "$S0"
expect_out "subject show says who and why" \
	"UNBLINDED (emergency code-break) by invlee"
expect_out "subject show gives the reason" "suspected anaphylaxis"
# A data manager's device (central, blinded) sees the flag too.
t=$("$CBD" token create --data "$D" --role datamanager 2>/dev/null)
expect_rc "register a data manager" 0 cb dm init --server "$URL" --token "$t" --user dmkim
expect_rc "data manager syncs" 0 cb dm sync
expect_rc "data manager's subject list" 0 cb dm subject list
expect_out "the data manager sees the code-break" "UNBLINDED"
if grep -qwE "MSC|PBO" "$T/out"; then
	fail "the data manager sees no arm" "$(grep -wE 'MSC|PBO' "$T/out" | head -2)"
else
	pass "the data manager sees no arm"
fi
if grep -qwE "MSC|PBO" "$T/out"; then
	fail "the flag shows no arm" "$(grep -wE 'MSC|PBO' "$T/out" | head -2)"
else
	pass "the flag shows no arm"
fi

# ---- 6. the blind holds ------------------------------------------------------

stop_server
LABELS="ADMSC|Saline placebo"
leak=""
for d in a b x x2; do
	for what in dump status; do
		cb "$d" $what >"scan.$d.$what" 2>&1
	done
	for s in $(cut -d' ' -f1 assigned.txt); do
		cb "$d" subject show "$s" >>"scan.$d.show" 2>&1
	done
	if grep -qwE "MSC|PBO|$LABELS" "scan.$d.dump" "scan.$d.status" "scan.$d.show"; then
		leak="$leak $d-output"
	fi
	# Raw bytes: encrypted, so the quoted or labelled forms only (a
	# bare 3-letter code occurs by chance in random ciphertext).
	if cat "$T/h/$d"/* | grep -aqE "\"(MSC|PBO)\"|$LABELS"; then
		leak="$leak $d-bytes"
	fi
done
# The server's tables, the protocol's own text aside, and its log.
if is_pg; then
	pg_dump -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" --inserts \
		"cb_$(printf %s "$D" | md5sum | cut -c1-24)" |
		grep -v "^INSERT INTO public.settings" >server.sql
else
	sqlite3 "$D/casebookd.db" .dump | grep -v "^INSERT INTO settings" >server.sql
fi
if [ "$(grep -c "rand_slots" server.sql)" -lt 10 ]; then
	fail "server dump has the slots" "$(grep -c rand_slots server.sql)"
fi
if grep -qwE "MSC|PBO|$LABELS" server.sql; then leak="$leak server-tables"; fi
if grep -qwE "MSC|PBO|$LABELS" "$T/server.log"; then leak="$leak server-log"; fi
"$CBD" status --data "$D" >status.txt 2>&1
"$CBD" randlist show --data "$D" >>status.txt 2>&1
"$CBD" dump --data "$D" >>status.txt 2>&1
"$CBD" dump --data "$D" --canonical >>status.txt 2>&1
if grep -qwE "MSC|PBO|$LABELS" status.txt; then leak="$leak server-reports"; fi
if [ -z "$leak" ]; then pass "no arm anywhere blinded"; else fail "no arm anywhere blinded" "$leak"; fi
# The scan can fail: the one place the arm may appear has it.
if grep -qwE "MSC|PBO" unblind.out; then pass "scanner finds the arm"; else fail "scanner finds the arm" "not in unblind output"; fi

# ---- 6b. rebuild derives the used slots from the events ---------------------
# Lose every used mark and forge one on a slot nobody used: rebuild puts
# back exactly what the randomize events say, leases untouched.
used() {
	srv_sql "SELECT randno, subject, event, used_at, device,
		leased_at FROM rand_slots ORDER BY randno" | md5sum
}
nused=$(srv_sql "SELECT COUNT(*) FROM rand_slots WHERE subject IS NOT NULL")
before=$(used)
srv_sql "UPDATE rand_slots SET subject = NULL, event = NULL, used_at = NULL;
	UPDATE rand_slots SET subject = 'KR01-99999', event = 'f00d', used_at = 'x'
	WHERE randno = (SELECT MIN(randno) FROM rand_slots WHERE device IS NULL)"
if [ "$nused" -ge 18 ] && [ "$(used)" != "$before" ]; then
	pass "used slots damaged ($nused were used)"
else
	fail "used slots damaged" "$nused used; damage not visible"
fi
expect_rc "rebuild" 0 "$CBD" rebuild --data "$D"
check "rebuild restores the used slots from the randomize events" "$before" "$(used)"

# ---- 7. a slot the server never leased to the device ------------------------
# The laptop leases slots, then the server forgets the lease (its lease
# rows put back to unleased, as in a copy from before the lease): the
# laptop's slot is not leased to it there.
D="$T/data3"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init 3" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people coordy:coordinator:KR01 coordz:coordinator:KR01
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "import 3" "failed"
start_server || finish
t=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
expect_rc "register y" 0 cb y init --server "$URL" --token "$t" --user coordy
SY=$(enroll y 2)
expect_rc "y leases slots" 0 cb y sync
stop_server
srv_sql "UPDATE rand_slots SET device = NULL, leased_at = NULL"
start_server || finish
randomize y "$SY" || fail "randomize on y" "$(cat "$T/err")"
# y doses its subject with the kit of that slot: the server, which holds
# no randomization of the subject, refuses the dose as well.
KITY=$(grep "^$SY " assigned.txt | tail -1 | cut -d' ' -f3)
expect_rc "y doses (its own record has the kit)" 0 dose y "$SY" "$KITY"
expect_rc "sync y" 0 cb y sync
expect_out "server rejects the slot it did not lease to y, and the dose" "2 rejected"
cb y status >"$T/out" 2>&1
expect_out "quarantine says not leased" "not leased to this device"
expect_out "quarantine says the dose has no randomization" "no randomization on record"
stop_server

# ---- 8. a site that syncs only by bundle randomizes too -------------------
# z meets the server once, to register; after that only files travel. The
# bundle reply carries z's lease (two slots per stratum here, --lease 2),
# z randomizes offline, and the randomization goes back by bundle.
start_server || finish
t=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
expect_rc "register z (its only network contact)" 0 cb z init --server "$URL" --token "$t" --user coordz
stop_server
SZ=$(enroll z 2)
expect_rc "z holds no slot before any bundle: exit 1" 1 cb z randomize "$SZ"
cb z bundle export bz >/dev/null 2>&1
expect_rc "bundle import --lease 2" 0 "$CBD" bundle import --data "$D" bz --reply rz --lease 2
expect_rc "z imports the reply" 0 cb z bundle import rz
ZID=$(cb z store check 2>/dev/null | sed -n 's/.*device id \([0-9a-f]*\).*/\1/p')
NSTRATA=$(srv_sql "SELECT COUNT(DISTINCT stratum) FROM rand_slots WHERE site = 'KR01'")
check "the server leased z two slots per stratum" "$((2 * NSTRATA))" \
	"$(srv_sql "SELECT COUNT(*) FROM rand_slots WHERE device = '$ZID' AND subject IS NULL")"
randomize z "$SZ" && pass "z randomizes offline from the bundle's lease" ||
	fail "z randomizes offline from the bundle's lease" "$(cat "$T/err")"
RNZ=$(grep "^$SZ " assigned.txt | tail -1 | cut -d' ' -f2) # ids recur across data dirs
if [ -n "$RNZ" ] && grep -q ",$RNZ," revealed.csv; then
	pass "z's randomization number is a slot of the list"
else
	fail "z's randomization number is a slot of the list" "'$RNZ'"
fi
cb z bundle export bz2 >/dev/null 2>&1
expect_rc "the randomization goes back by bundle" 0 \
	"$CBD" bundle import --data "$D" bz2 --reply rz2
expect_out "and is accepted" "1 event: 1 accepted, 0 duplicate, 0 rejected"
check "the server records z's slot as used by the subject" 1 \
	"$(srv_sql "SELECT COUNT(*) FROM rand_slots WHERE subject = '$SZ' AND randno = '$RNZ'")"
expect_rc "bundle import --lease 0: usage" 2 \
	"$CBD" bundle import --data "$D" bz2 --reply rz3 --lease 0
# The newer reply tops z's lease up again; the older one imported after
# it takes nothing away: z randomizes two more subjects of the stratum,
# where the older lease alone had one slot left.
expect_rc "z imports the newer reply" 0 cb z bundle import rz2
expect_rc "then the older one again" 0 cb z bundle import rz
SZ2=$(enroll z 2)
SZ3=$(enroll z 2)
randomize z "$SZ2" && randomize z "$SZ3" &&
	pass "an older reply imported late takes no slot away" ||
	fail "an older reply imported late takes no slot away" "$(cat "$T/err")"

finish
