#!/bin/sh
# t_faults.sh - bad input and faults through the real `casebook` CLI and
# store (issue #3, "Bad input and faults"): a wrong passphrase changes no
# byte; unknown subject, visit, form or item list the valid codes; values
# of the wrong type and oversized values are refused (exit 3) and store
# nothing; UTF-8 text (Korean AE terms) round-trips byte for byte and
# invalid UTF-8 is refused; a flipped byte in the file gives an integrity
# error, never wrong data; kill -9 at random points of a save leaves a
# consistent store in which every save is either whole or absent; two
# processes saving at once both succeed or one says the store is busy.
#
# Values are read back with `casebook store test-list` (the test build, $CBH),
# which prints the decrypted events, and through `casebook form show` when
# that command exists. The random kill points take their seed from
# CASEBOOK_SEED (printed, so a failing run can be repeated).
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=alice-pass-1
DB="$CASEBOOK_HOME/casebook.db"
SEED=${CASEBOOK_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
echo "seed: CASEBOOK_SEED=$SEED"

sum() { sha256sum "$1" | cut -d' ' -f1; }
expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
# The content digest of the store (every decrypted event and setting).
digest() {
	"$CB" store check 2>&1 | sed -n 's/^content digest //p'
}
nevents() {
	"$CB" store check 2>&1 | sed -n 's/^events \([0-9]*\) .*/\1/p'
}

# value.py LIST VISIT FORM INSTANCE ITEM: the current value of one item in
# the decrypted event list (`store test-list` output), written to stdout
# byte for byte with no newline; exit 1 when the item was never saved.
# Also `value.py LIST --check-kills N`: see the kill -9 section.
cat >"$T/value.py" <<'EOF'
import json, sys
def events(path):
    for line in open(path, "rb").read().decode("utf-8").splitlines():
        if not line.strip():
            continue
        seq, eid, synced, body = line.split(" ", 3)
        yield json.loads(body)
lst = sys.argv[1]
if sys.argv[2] == "--check-kills":
    # Every AE instance the kill loop touched: either absent, or one
    # form.save carrying all four items and the query its soft check
    # (AEONGO=N without an end date) opens in the same transaction.
    n = int(sys.argv[3])
    saves, queries, bad = {}, {}, 0
    for ev in events(lst):
        t = ev["target"]
        if t["visit"] != "LOG" or t["form"] != "AE":
            continue
        inst = int(t["instance"])
        if ev["kind"] == "form.save":
            saves.setdefault(inst, []).append(ev)
        elif ev["kind"] == "query.open":
            queries[inst] = queries.get(inst, 0) + 1
    whole = absent = 0
    for inst in range(1000, 1000 + n):
        s = saves.get(inst, [])
        q = queries.get(inst, 0)
        if not s and not q:
            absent += 1
            continue
        items = sorted(c["item"] for c in s[0]["changes"]) if s else []
        want = ["AEONGO", "AESEV", "AESTDTC", "AETERM"]
        vals = {c["item"]: c["value"] for c in s[0]["changes"]} if s else {}
        if len(s) == 1 and items == want and q == 1 and \
           vals["AETERM"] == "kill-term-%d" % inst:
            whole += 1
        else:
            bad += 1
            print("instance %d: %d saves %s, %d queries" % (inst, len(s), items, q))
    print("whole %d absent %d partial %d" % (whole, absent, bad))
    sys.exit(1 if bad else 0)
visit, form, inst, item = sys.argv[2:6]
val = None
for ev in events(lst):
    t = ev["target"]
    if ev["kind"] != "form.save" or (t["visit"], t["form"], t["instance"]) != (visit, form, inst):
        continue
    for c in ev["changes"]:
        if c["item"] == item:
            val = c["value"]
if val is None:
    sys.exit(1)
sys.stdout.buffer.write(val.encode("utf-8"))
EOF
# readback NAME VISIT FORM INSTANCE ITEM EXPECTED: the stored value is
# exactly EXPECTED (bytes).
readback() {
	"$CBH" store test-list "$S" >"$T/list" 2>"$T/list.err"
	printf '%s' "$6" >"$T/want"
	if python3 "$T/value.py" "$T/list" "$2" "$3" "$4" "$5" >"$T/got" &&
		cmp -s "$T/got" "$T/want"; then
		pass "$1"
	else
		fail "$1" "stored '$(cat "$T/got")', wanted '$6' $(head -c 200 "$T/list.err")"
	fi
}

# ---- a store with one subject -------------------------------------------
expect_rc "init" 0 "$CB" init --site KR01 --device-index 1 \
	--protocol "$PROTO" --user alice --role investigator
S=$("$CB" subject add)
expect_same "subject add prints the id" "$S" KR01-01001
expect_rc "demographics saved" 0 "$CB" form set "$S" SCR DM \
	CONSDT=2024-01-10 SEX=F BRTHYR=1958 HEIGHT=160 WEIGHT=62 KNEE=L

# ---- wrong passphrase -----------------------------------------------------
before=$(sum "$DB")
CASEBOOK_PASSPHRASE=not-alices-pass expect_rc "form set, wrong passphrase: exit 4" 4 \
	"$CB" form set "$S" SCR DM WEIGHT=63 --reason typo
expect_out "wrong passphrase is named" "wrong passphrase"
expect_same "wrong passphrase changed no byte (form set)" "$(sum "$DB")" "$before"
CASEBOOK_PASSPHRASE=not-alices-pass expect_rc "subject add, wrong passphrase: exit 4" 4 \
	"$CB" subject add
expect_same "wrong passphrase changed no byte (subject add)" "$(sum "$DB")" "$before"
if [ -e "$DB-wal" ] && [ -s "$DB-wal" ]; then
	fail "wrong passphrase left no WAL" "$(stat -c %s "$DB-wal") bytes"
else
	pass "wrong passphrase left no WAL"
fi
expect_rc "right passphrase still works" 0 "$CB" store check

# ---- unknown codes: the message lists the valid ones ---------------------
d0=$(digest)
expect_rc "unknown subject: exit 3" 3 "$CB" form set KR01-01999 SCR DM SEX=M
expect_out "unknown subject is named" "unknown subject 'KR01-01999'"
expect_out "unknown subject lists the subjects" "$S"
expect_rc "unknown visit: exit 3" 3 "$CB" form set "$S" SCRN DM SEX=M
expect_out "unknown visit is named" "SCRN"
expect_out "unknown visit lists the visits" "SCR, BL, INJ, W1, M1, M3, M6, M12, LOG"
expect_rc "unknown form: exit 3" 3 "$CB" form set "$S" SCR DMX SEX=M
expect_out "unknown form is named" "DMX"
expect_out "unknown form lists the visit's forms" "SV, DM, ELIG"
expect_rc "form of another visit: exit 3" 3 "$CB" form set "$S" SCR VAS VAS=10
expect_out "form of another visit lists the visit's forms" "SV, DM, ELIG"
expect_rc "unknown item: exit 3" 3 "$CB" form set "$S" SCR DM SEXX=M
expect_out "unknown item is named" "SEXX"
expect_out "unknown item lists the form's items" \
	"BRTHYR, SEX, HEIGHT, WEIGHT, KNEE, CONSDT"
expect_rc "unknown item among good ones: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 AETERM=x AESTDTC=2024-02 AEFOO=1
expect_out "unknown AE item lists the AE items" "AETERM, AESTDTC"
expect_rc "instance of a non-repeating form: exit 3" 3 \
	"$CB" form set "$S" SCR DM#2 SEX=M
expect_rc "AE instance 0: exit 3" 3 "$CB" form set "$S" LOG AE#0 AETERM=x
expect_rc "AE instance not a number: exit 3" 3 "$CB" form set "$S" LOG AE#x AETERM=x
expect_same "unknown codes stored nothing" "$(digest)" "$d0"

# ---- values of the wrong type --------------------------------------------
expect_rc "integer item given 'abc': exit 3" 3 "$CB" form set "$S" SCR DM BRTHYR=abc
expect_out "integer message names the item" "DM.BRTHYR"
expect_out "integer message says why" "not an integer"
expect_out "rejected save says nothing was saved" "nothing was saved"
expect_rc "date 2024-13-40: exit 3" 3 "$CB" form set "$S" SCR SV VISDT=2024-13-40
expect_out "date message names the item" "SV.VISDT"
expect_out "date message says why" "not a date"
expect_rc "date 2023-02-29: exit 3" 3 "$CB" form set "$S" SCR SV VISDT=2023-02-29
expect_rc "decimal given '1,60': exit 3" 3 "$CB" form set "$S" SCR DM HEIGHT=1,60
expect_rc "choice given an unknown code: exit 3" 3 "$CB" form set "$S" SCR DM SEX=X
expect_rc "boolean given 'yes': exit 3" 3 "$CB" form set "$S" SCR ELIG PAIN3M=yes
expect_rc "integer out of range: exit 3" 3 "$CB" form set "$S" BL VAS VAS=101
expect_rc "one bad value among good ones: exit 3" 3 \
	"$CB" form set "$S" SCR ELIG AGE=66 KLGRADE=two PAIN3M=Y
expect_same "wrong types stored nothing" "$(digest)" "$d0"

# ---- oversized values -----------------------------------------------------
# One value is capped at 64 KiB (CB_EVENT_VALUE_MAX). A 1 MiB value comes
# through --value-file (Linux caps one command-line argument at 128 KiB);
# 120 KiB, the largest that fits an argument, comes on the command line.
head -c 1048576 /dev/zero | tr '\0' Q >"$T/1mib.txt"
expect_rc "1 MiB value refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 --value-file "AETERM=$T/1mib.txt" \
	AESTDTC=2024-02
expect_out "1 MiB value: message gives the size" "1048576 bytes"
expect_out "1 MiB value: message gives the cap" "at most 65536"
printf 'a\000b' >"$T/nul.txt"
expect_rc "value file with a NUL byte refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 --value-file "AETERM=$T/nul.txt"
expect_rc "missing value file: exit 1" 1 \
	"$CB" form set "$S" LOG AE#1 --value-file "AETERM=$T/nonexistent"
big=$(head -c 122880 /dev/zero | tr '\0' Q)
expect_rc "120 KiB value refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 AETERM="$big" AESTDTC=2024-02
expect_out "120 KiB value: message gives the size" "122880 bytes"
expect_out "120 KiB value: message gives the cap" "at most 65536"
expect_rc "64 KiB + 1 value refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 AETERM="$(head -c 65537 /dev/zero | tr '\0' Q)"
expect_rc "over-long text item refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#1 AETERM="$(head -c 201 /dev/zero | tr '\0' Q)" \
	AESTDTC=2024-02
expect_out "over-long text names the limit" "limit of 200"
expect_rc "64 KiB + 1 reason refused: exit 3" 3 \
	"$CB" form set "$S" SCR DM WEIGHT=64 \
	--reason "$(head -c 65537 /dev/zero | tr '\0' Q)"
expect_same "oversized values stored nothing" "$(digest)" "$d0"
expect_rc "store intact after oversized values" 0 "$CB" store check

# ---- UTF-8 ----------------------------------------------------------------
AETERM="무릎 부종"
expect_rc "Korean AE term saved" 0 \
	"$CB" form set "$S" LOG AE#1 AETERM="$AETERM" AESTDTC=2024-02-03 \
	AEONGO=Y AESEV=MILD
readback "Korean AE term round-trips exactly" LOG AE 1 AETERM "$AETERM"
# Text limits count characters, not bytes: 200 Hangul syllables (600
# bytes) fit, 201 do not.
long=$(python3 -c 'print("부" * 200)')
expect_rc "200 Korean characters accepted" 0 \
	"$CB" form set "$S" LOG AE#2 AETERM="$long" AESTDTC=2024-02
readback "200 Korean characters round-trip" LOG AE 2 AETERM "$long"
expect_rc "201 Korean characters refused" 3 \
	"$CB" form set "$S" LOG AE#2 AETERM="${long}부" --reason longer
# Composed and decomposed forms are different bytes and stay so; a 4-byte
# character, quotes, a backslash and a tab survive JSON encoding.
nfc=$(printf 'caf\303\251')
nfd=$(printf 'cafe\314\201')
expect_rc "composed é saved" 0 "$CB" form set "$S" LOG AE#3 AETERM="$nfc" \
	AESTDTC=2024
expect_rc "decomposed é saved" 0 "$CB" form set "$S" LOG AE#4 AETERM="$nfd" \
	AESTDTC=2024
readback "composed é unchanged (NFC)" LOG AE 3 AETERM "$nfc"
readback "decomposed é unchanged (NFD)" LOG AE 4 AETERM "$nfd"
odd=$(printf '통증 "sharp" \\ back pain \360\237\246\265 ok')
expect_rc "quotes, backslash and emoji saved" 0 \
	"$CB" form set "$S" LOG AE#5 AETERM="$odd" AESTDTC=2024
readback "quotes, backslash and emoji round-trip" LOG AE 5 AETERM "$odd"
# A tab is a control character: refused (text.h), nothing saved.
tabbed=$(printf 'back\tpain')
expect_rc "a tab in a value is refused: exit 3" 3 \
	"$CB" form set "$S" LOG AE#6 AETERM="$tabbed" AESTDTC=2024
expect_out "the refusal names the tab" "contains a tab"
expect_rc "Korean reason accepted" 0 "$CB" form set "$S" LOG AE#1 \
	AESEV=MOD --reason "재평가 후 중등도로 변경"
if grep -qF '"reason":"재평가 후 중등도로 변경"' "$T/list" ||
	{ "$CBH" store test-list "$S" >"$T/list" 2>&1 &&
		grep -qF '"reason":"재평가 후 중등도로 변경"' "$T/list"; }; then
	pass "Korean reason round-trips"
else
	fail "Korean reason round-trips" "not found in the decrypted events"
fi
# Read back through the data-entry show commands when they exist.
if "$CB" form show "$S" LOG AE#1 >"$T/show" 2>&1; then
	if grep -qF "$AETERM" "$T/show"; then
		pass "form show prints the Korean term"
	else
		fail "form show prints the Korean term" "$(head -c 300 "$T/show")"
	fi
else
	echo "note: 'casebook form show' not available; read back via store test-list"
fi

d1=$(digest)
for bad in 'byte-FF:a\377b' 'overlong-slash:\300\257' \
	'surrogate-D800:\355\240\200' 'truncated-Hangul:\352\260' \
	'lone-continuation:ok\200' '5-byte-form:\370\210\200\200\200'; do
	label=${bad%%:*}
	v=$(printf "x${bad#*:}y")
	expect_rc "invalid UTF-8 ($label) refused: exit 3" 3 \
		"$CB" form set "$S" LOG AE#6 AETERM="$v" AESTDTC=2024
	expect_out "invalid UTF-8 ($label): message" "UTF-8"
done
expect_rc "invalid UTF-8 in a reason refused" 3 \
	"$CB" form set "$S" LOG AE#1 AESEV=SEV --reason "$(printf 'bad\377reason')"
expect_rc "control character in text refused" 3 \
	"$CB" form set "$S" LOG AE#6 AETERM="$(printf 'a\033[31mb')" AESTDTC=2024
expect_same "refused text stored nothing" "$(digest)" "$d1"

# ---- a flipped byte -------------------------------------------------------
# The store at a known state, its decrypted events, and where the bytes of
# the Korean AE's event body lie in the file.
"$CBH" store test-list >"$T/pristine.list" 2>&1
d2=$(digest)
cp "$DB" "$T/pristine.db"
ae_seq=$(grep -F "\"value\":\"$AETERM\"" "$T/pristine.list" |
	head -1 | cut -d' ' -f1)
at=$(python3 - "$T/pristine.db" "$ae_seq" <<'EOF'
import sqlite3, sys
p, seq = sys.argv[1], int(sys.argv[2])
data = open(p, "rb").read()
c = sqlite3.connect("file:" + p + "?mode=ro", uri=True)
body = c.execute("SELECT body FROM events WHERE seq=?", (seq,)).fetchone()[0]
if isinstance(body, str):
    body = body.encode()
print(data.index(body) + len(body) // 2)
EOF
)
D="$T/dmg"
mkdir -p "$D"
flip() {
	cp "$T/pristine.db" "$D/casebook.db"
	rm -f "$D/casebook.db-wal" "$D/casebook.db-shm"
	_b=$(od -An -tu1 -j "$1" -N1 "$D/casebook.db" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf %o $((_b ^ ${2:-1})))" |
		dd of="$D/casebook.db" bs=1 seek="$1" conv=notrunc 2>/dev/null
}
if [ -n "$at" ]; then
	flip "$at"
	CASEBOOK_HOME="$D" expect_rc "flipped byte in the AE event: store check fails" 1 \
		"$CB" store check
	expect_out "flipped AE event: integrity error" "integrity error"
	CASEBOOK_HOME="$D" expect_rc "flipped AE event: form set refuses" 1 \
		"$CB" form set "$S" LOG AE#1 AESEV=SEV --reason worse
	expect_out "flipped AE event: form set says integrity error" "integrity error"
	expect_no_out "flipped AE event: not called a wrong passphrase" "wrong passphrase"
	CASEBOOK_HOME="$D" expect_rc "flipped AE event: reading the events fails" 1 \
		"$CBH" store test-list "$S"
	expect_no_out "flipped AE event: no term printed" "$AETERM"
	expect_same "flipped AE event: the damaged copy was not rewritten" \
		"$(cmp -s "$D/casebook.db" "$T/pristine.db" && echo same || echo changed)" changed
else
	fail "locate the AE event in the file" "seq '$ae_seq' not found"
fi

# The plaintext header's schema version and the schema text itself: a
# flipped byte there must refuse the store, print no data, and say it is
# an integrity error.
schema_at=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
print(d.index(b"CREATE TABLE") + 20)' "$T/pristine.db")
for spot in "header-version:63" "schema-text:$schema_at"; do
	what=${spot%%:*}
	flip "${spot#*:}" 1
	CASEBOOK_HOME="$D" expect_rc "flipped $what byte: store refused" 1 \
		"$CBH" store test-list
	if [ -s "$T/out" ]; then
		fail "flipped $what byte: no data printed" "$(head -c 200 "$T/out")"
	else
		pass "flipped $what byte: no data printed"
	fi
	expect_out "flipped $what byte: called an integrity error" \
		"integrity error"
done

# A sweep over the whole file: each damaged copy either reads back the very
# same events or fails with an integrity error; any lines it printed before
# failing are lines of the pristine output. Never other data, never a crash.
size=$(stat -c %s "$T/pristine.db")
step=$((size / 120 + 1))
wrong=0 detected=0 unclear=0 same=0 at=$((SEED % 97))
while [ $at -lt "$size" ]; do
	flip $at 128
	CASEBOOK_HOME="$D" "$CBH" store test-list >"$T/o" 2>"$T/e"
	rc=$?
	if [ $rc -eq 0 ] && cmp -s "$T/o" "$T/pristine.list"; then
		same=$((same + 1))
	elif [ $rc -eq 1 ] && ! grep -vxF -f "$T/pristine.list" "$T/o" >/dev/null; then
		if grep -q "integrity error" "$T/e"; then
			detected=$((detected + 1))
		else
			# Refused with no wrong data, but not called damage.
			unclear=$((unclear + 1))
			echo "byte $at: refused without 'integrity error': $(head -c 200 "$T/e")"
		fi
	else
		wrong=$((wrong + 1))
		echo "byte $at: rc $rc: $(head -c 200 "$T/e")"
	fi
	at=$((at + step))
done
echo "flipped bytes: $detected detected, $unclear refused otherwise, $same harmless, $wrong wrong"
expect_same "no flipped byte gives wrong data or a crash" "$wrong" 0
expect_same "every refused flipped byte is called an integrity error" \
	"$unclear" 0
if [ "$detected" -gt 5 ]; then pass "flipped bytes are detected"; else
	fail "flipped bytes are detected" "only $detected"; fi
expect_same "the real store is untouched by the damage tests" "$(digest)" "$d2"

# ---- kill -9 during saves -------------------------------------------------
# A driver starts saves one after another and kills each with SIGKILL at a
# random moment within its usual run time. Each save writes AE instance
# 1000+k with four items, AEONGO=N and no end date, so it also opens a soft
# query in the same transaction: afterwards each instance must have both
# the save and its query, or neither. Subject adds are killed the same way:
# the ids stay consecutive (a killed enrollment gives its number back).
cat >"$T/killer.py" <<'EOF'
import os, random, signal, subprocess, sys, time
cb, subj, seed, n, nadd = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rnd = random.Random(seed)
def save(k):
    return [cb, "form", "set", subj, "LOG", "AE#%d" % k, "AETERM=kill-term-%d" % k,
            "AESTDTC=2024-03", "AEONGO=N", "AESEV=MILD"]
def timed(args):
    t = time.monotonic()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t
# Usual run time of a save, from unkilled saves of an instance the check
# below ignores.
timing = [cb, "form", "set", subj, "LOG", "AE#999", "AETERM=timing",
          "AESTDTC=2024", "AEONGO=Y"]
dur = sorted(timed(timing) for _ in range(3))[1]
killed = done = 0
jobs = [("save", k) for k in range(1000, 1000 + n)] + [("add", 0)] * nadd
rnd.shuffle(jobs)
for what, k in jobs:
    args = save(k) if what == "save" else [cb, "subject", "add"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rnd.uniform(0, 2.0 * dur))
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        killed += 1
    else:
        done += 1
    p.wait()
print("kill loop: %d killed, %d finished before the kill (run time %.1f ms)"
      % (killed, done, dur * 1000))
EOF
python3 "$T/killer.py" "$CB" "$S" "$SEED" 40 15 >"$T/killer.out" 2>&1
cat "$T/killer.out"
if grep -q "killed" "$T/killer.out" && ! grep -q "kill loop: 0 killed" "$T/killer.out"; then
	pass "kill -9 loop killed saves"
else
	fail "kill -9 loop killed saves" "$(cat "$T/killer.out")"
fi
expect_rc "store check after kill -9" 0 "$CB" store check
expect_out "store intact after kill -9" "store: intact"
"$CBH" store test-list >"$T/killed.list" 2>&1
python3 "$T/value.py" "$T/killed.list" --check-kills 40 >"$T/kc" 2>&1
rc=$?
cat "$T/kc" | tail -1
if [ $rc -eq 0 ]; then pass "every killed save is whole or absent"; else
	fail "every killed save is whole or absent" "$(head -c 400 "$T/kc")"; fi
python3 - "$T/killed.list" >"$T/ids" <<'EOF'
import json, sys
ids = []
for line in open(sys.argv[1], encoding="utf-8"):
    ev = json.loads(line.split(" ", 3)[3])
    if ev["kind"] == "subject.status" and ev["subject"] not in ids:
        ids.append(ev["subject"])
want = ["KR01-01%03d" % i for i in range(1, len(ids) + 1)]
print(len(ids), "subjects", "consecutive" if ids == want else "NOT consecutive: %s" % ids)
EOF
cat "$T/ids"
expect_same "subject ids consecutive after killed adds" \
	"$(sed 's/^[0-9]* subjects //' "$T/ids")" consecutive
n=$(cut -d' ' -f1 "$T/ids")
expect_rc "subject add after kill -9" 0 "$CB" subject add
expect_same "next subject id follows" "$(cat "$T/out")" "$(printf 'KR01-01%03d' $((n + 1)))"
expect_rc "a save after kill -9" 0 "$CB" form set "$S" LOG AE#1 AESEV=SEV \
	--reason "worse after kill test"
readback "the save after kill -9 is stored" LOG AE 1 AESEV SEV

# ---- two processes saving at once -----------------------------------------
# Two loops of 20 saves each, to two subjects, at the same time. Each save
# either succeeds or fails saying the store is busy; the successes are
# exactly what is stored.
A=$("$CB" subject add)
B=$("$CB" subject add)
# An adverse event needs a consent date on record (AE_CONSENT).
"$CB" form set "$A" SCR DM CONSDT=2024-01-10 >/dev/null 2>&1
"$CB" form set "$B" SCR DM CONSDT=2024-01-10 >/dev/null 2>&1
writer() { # SUBJECT TAG
	i=1
	while [ $i -le 20 ]; do
		"$CB" form set "$1" LOG "AE#$i" AETERM="par-$2-$i" AESTDTC=2024-04 \
			>"$T/par-$2-$i.out" 2>&1
		echo "$i $?" >>"$T/par-$2.rc"
		i=$((i + 1))
	done
}
rm -f "$T/par-a.rc" "$T/par-b.rc"
writer "$A" a &
wa=$!
writer "$B" b &
wb=$!
wait $wa
wait $wb
"$CBH" store test-list >"$T/par.list" 2>&1
for tag in a b; do
	subj=$A
	[ $tag = b ] && subj=$B
	ok=$(grep -c ' 0$' "$T/par-$tag.rc")
	busy=0 other=0
	for f in $(grep -v ' 0$' "$T/par-$tag.rc" | cut -d' ' -f1); do
		if grep -qi "busy\|another casebook process" "$T/par-$tag-$f.out"; then
			busy=$((busy + 1))
		else
			other=$((other + 1))
			echo "save $tag $f: $(head -c 300 "$T/par-$tag-$f.out")"
		fi
	done
	stored=$(grep -F "\"subject\":\"$subj\"" "$T/par.list" |
		grep -F '"form":"AE"' | grep -c '"kind":"form.save"')
	echo "writer $tag: $ok saved, $busy busy, $other other failures, $stored stored"
	expect_same "writer $tag: every save succeeded or said busy" "$other" 0
	expect_same "writer $tag: successes are exactly what is stored" "$stored" "$ok"
	if [ "$ok" -gt 0 ]; then pass "writer $tag saved something"; else
		fail "writer $tag saved something" "0 of 20"; fi
done
# Concurrent enrollments never share an id.
adder() {
	i=1
	while [ $i -le 10 ]; do
		"$CB" subject add >>"$T/add-$1.ids" 2>>"$T/add-$1.err"
		i=$((i + 1))
	done
}
adder a &
wa=$!
adder b &
wb=$!
wait $wa
wait $wb
total=$(cat "$T/add-a.ids" "$T/add-b.ids" | wc -l)
uniq=$(cat "$T/add-a.ids" "$T/add-b.ids" | sort -u | wc -l)
expect_same "concurrent subject adds give distinct ids" "$uniq" "$total"
if [ -s "$T/add-a.err" ] || [ -s "$T/add-b.err" ]; then
	if grep -qvi "busy\|another casebook process" "$T/add-a.err" "$T/add-b.err"; then
		fail "concurrent adds: failures say busy" "$(cat "$T/add-a.err" "$T/add-b.err" | head -c 300)"
	else
		pass "concurrent adds: failures say busy"
	fi
else
	pass "concurrent adds: all $total succeeded"
fi
expect_rc "store check after concurrent saves" 0 "$CB" store check
expect_out "store intact after concurrent saves" "store: intact"

finish
