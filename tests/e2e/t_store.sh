#!/bin/sh
# t_store.sh - the encrypted local store through the CLI: `casebook init`,
# unlocking (wrong passphrase: exit 4, nothing changed), `user add`,
# `passwd`, input validation, no secret or clinical value in the bytes of
# the database, its WAL or its journal, and damage detection (a flipped
# byte or a ciphertext moved to another row is an integrity error, never
# wrong data). Fills the store with `store test-events`, which exists only
# in the test build ($CBH) and only with CASEBOOK_TEST_HOOKS=1.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_PASSPHRASE CASEBOOK_NEW_PASSPHRASE

# A small valid protocol; the store keeps it encrypted, so its title is one
# of the strings the byte scan looks for.
P="$T/mini.json"
cat >"$P" <<'EOF'
{"format":"casebook-protocol/1","id":"MINI","version":"1",
 "title":"Zanzibar knee protocol title",
 "forms":[{"code":"VS","label":"Vital signs",
   "writers":["coordinator","investigator"],
   "items":[{"code":"VSDAT","label":"Date","type":"date"},
            {"code":"WEIGHT","label":"Weight","type":"integer"}]}],
 "visits":[{"code":"BL","label":"Baseline","day":0,"window":[0,0],
   "forms":["VS"]}],
 "day0":"BL.VS.VSDAT"}
EOF

sum() { sha256sum "$1" | cut -d' ' -f1; }
# expect_same NAME A B
expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}

H="$T/home"
DB="$H/casebook.db"
PW=alice-pass-1

# ---- init ---------------------------------------------------------------
expect_rc "init --help exits 0" 0 "$CB" init --help
expect_out "init help shows usage" "usage: casebook init"
CASEBOOK_PASSPHRASE=$PW expect_rc "init creates the store" 0 \
	"$CB" --home "$H" init --site KR01 --device-index 3 --protocol "$P" \
	--user alice --role coordinator
expect_out "init reports the site and device" "site KR01, device 03"
if [ -f "$DB" ]; then pass "store file exists"; else fail "store file exists" "no $DB"; fi
perm=$(stat -c %a "$DB")
expect_same "store file is private (0600)" "$perm" 600
CASEBOOK_PASSPHRASE=$PW expect_rc "store check on a new store" 0 \
	"$CB" --home "$H" store check
expect_out "new store is intact" "store: intact"
expect_out "creator is the default user" "user alice (coordinator)"
CASEBOOK_HOME="$H" CASEBOOK_PASSPHRASE=$PW expect_rc \
	"CASEBOOK_HOME selects the store" 0 "$CB" store check
HOME="$T/fakehome" CASEBOOK_PASSPHRASE=$PW expect_rc \
	"no store in ~/.casebook: clear error" 1 "$CB" store check
expect_out "missing store says to run init" "casebook init"

before=$(sum "$DB")
CASEBOOK_PASSPHRASE=$PW expect_rc "second init refuses" 1 \
	"$CB" --home "$H" init --site KR02 --device-index 1 --protocol "$P" \
	--user bob --role coordinator
expect_out "second init says a store exists" "already exists"
expect_same "second init changed nothing" "$(sum "$DB")" "$before"

# ---- wrong passphrase ---------------------------------------------------
before=$(sum "$DB")
CASEBOOK_PASSPHRASE=not-alices expect_rc "wrong passphrase exits 4" 4 \
	"$CB" --home "$H" store check
expect_out "wrong passphrase is named" "wrong passphrase for user 'alice'"
expect_same "wrong passphrase changed no byte" "$(sum "$DB")" "$before"
CASEBOOK_PASSPHRASE=$PW expect_rc "unknown user exits 4" 4 \
	"$CB" --home "$H" --user mallory store check
expect_out "unknown user is named" "no user 'mallory'"
printf '%s\nsecond line ignored\n' "$PW" >"$T/pwfile"
expect_rc "--passphrase-file (first line) unlocks" 0 \
	"$CB" --home "$H" --passphrase-file "$T/pwfile" store check
expect_rc "no passphrase and no terminal exits 4" 4 \
	setsid "$CB" --home "$H" store check
expect_out "no passphrase says how to give one" "CASEBOOK_PASSPHRASE"

# ---- passphrase on a terminal (pseudo-terminal), no echo -----------------
TT="$T/tty"
expect_rc "terminal: two different passphrases refused" 1 "$PTY" \
	tty-pass-1,tty-pass-2 "$CB" --home "$TT" init --site KR01 \
	--device-index 1 --protocol "$P" --user tia --role coordinator
expect_out "terminal: mismatch message" "the two passphrases differ"
expect_rc "terminal: init asks twice" 0 "$PTY" \
	tty-pass-1,tty-pass-1 "$CB" --home "$TT" init --site KR01 \
	--device-index 1 --protocol "$P" --user tia --role coordinator
expect_out "terminal: asks to repeat" "Repeat the passphrase"
expect_no_out "terminal: passphrase not echoed" "tty-pass-1"
expect_rc "terminal: unlock prompt" 0 "$PTY" tty-pass-1 \
	"$CB" --home "$TT" store check
expect_out "terminal: prompt names the user" "Passphrase for tia:"
expect_no_out "terminal: unlock passphrase not echoed" "tty-pass-1"

# ---- bad input to init --------------------------------------------------
N="$T/new"
for bad in kr01 K KR-01 KRKRKRKR9 1KR ""; do
	CASEBOOK_PASSPHRASE=$PW expect_rc "site code '$bad' refused" 2 \
		"$CB" --home "$N" init --site "$bad" --device-index 1 \
		--protocol "$P" --user a --role coordinator
done
expect_out "bad site code message" "bad site code"
for bad in 0 100 -1 01 1x ""; do
	CASEBOOK_PASSPHRASE=$PW expect_rc "device index '$bad' refused" 2 \
		"$CB" --home "$N" init --site KR01 --device-index "$bad" \
		--protocol "$P" --user a --role coordinator
done
expect_out "bad device index message" "bad device index"
CASEBOOK_PASSPHRASE=$PW expect_rc "role 'admin' refused" 2 \
	"$CB" --home "$N" init --site KR01 --device-index 1 --protocol "$P" \
	--user a --role admin
CASEBOOK_PASSPHRASE=$PW expect_rc "user name with a space refused" 2 \
	"$CB" --home "$N" init --site KR01 --device-index 1 --protocol "$P" \
	--user "a b" --role coordinator
CASEBOOK_PASSPHRASE=$PW expect_rc "missing --role is usage" 2 \
	"$CB" --home "$N" init --site KR01 --device-index 1 --protocol "$P" \
	--user a
CASEBOOK_PASSPHRASE=$PW expect_rc "missing protocol file exits 1" 1 \
	"$CB" --home "$N" init --site KR01 --device-index 1 \
	--protocol "$T/nope.json" --user a --role coordinator
expect_out "missing protocol file is named" "nope.json"
printf '{"format":"casebook-protocol/1",\n "id": }\n' >"$T/broken.json"
CASEBOOK_PASSPHRASE=$PW expect_rc "broken protocol JSON exits 1" 1 \
	"$CB" --home "$N" init --site KR01 --device-index 1 \
	--protocol "$T/broken.json" --user a --role coordinator
expect_out "broken protocol names the line" "line 2"
echo '{"format":"casebook-protocol/1","id":"X","version":"1","forms":[],"visits":[]}' \
	>"$T/bad.json"
CASEBOOK_PASSPHRASE=$PW expect_rc "invalid protocol exits 1" 1 \
	"$CB" --home "$N" init --site KR01 --device-index 1 \
	--protocol "$T/bad.json" --user a --role coordinator
expect_out "invalid protocol names the path" '$.forms'
CASEBOOK_PASSPHRASE=short expect_rc "short passphrase refused" 1 \
	"$CB" --home "$N" init --site KR01 --device-index 1 --protocol "$P" \
	--user a --role coordinator
expect_out "short passphrase message" "at least 8 characters"
CASEBOOK_PASSPHRASE= expect_rc "empty passphrase refused" 1 \
	"$CB" --home "$N" init --site KR01 --device-index 1 --protocol "$P" \
	--user a --role coordinator
expect_out "empty passphrase message" "empty"
if [ -e "$N/casebook.db" ]; then
	fail "failed inits left no store" "$N/casebook.db exists"
else
	pass "failed inits left no store"
fi

# ---- users --------------------------------------------------------------
before=$(sum "$DB")
CASEBOOK_PASSPHRASE=$PW CASEBOOK_NEW_PASSPHRASE=bob-pass-1 expect_rc \
	"user add by a coordinator exits 4" 4 \
	"$CB" --home "$H" user add bob --role coordinator
expect_out "coordinator refusal says why" "needs the investigator role"
expect_same "refused user add changed nothing" "$(sum "$DB")" "$before"

I="$T/inv"
CASEBOOK_PASSPHRASE=ian-pass-1 expect_rc "init by an investigator" 0 \
	"$CB" --home "$I" init --site KR02 --device-index 1 --protocol "$P" \
	--user ian --role investigator
before=$(sum "$I/casebook.db")
CASEBOOK_PASSPHRASE=wrong-ian-pass CASEBOOK_NEW_PASSPHRASE=cora-pass-1 \
	expect_rc "user add with a wrong passphrase exits 4" 4 \
	"$CB" --home "$I" user add cora --role coordinator
expect_same "failed user add changed nothing" "$(sum "$I/casebook.db")" "$before"
CASEBOOK_PASSPHRASE=ian-pass-1 CASEBOOK_NEW_PASSPHRASE=cora-pass-1 \
	expect_rc "investigator adds a coordinator" 0 \
	"$CB" --home "$I" user add cora --role coordinator
echo cora-pass-2 >"$T/cora2"
CASEBOOK_PASSPHRASE=ian-pass-1 expect_rc "user add reads --new-passphrase-file" 0 \
	"$CB" --home "$I" user add dan --role investigator \
	--new-passphrase-file "$T/cora2"
CASEBOOK_PASSPHRASE=ian-pass-1 CASEBOOK_NEW_PASSPHRASE=cora-pass-1 \
	expect_rc "adding an existing user fails" 1 \
	"$CB" --home "$I" user add cora --role investigator
expect_out "existing user is named" "already exists"
CASEBOOK_PASSPHRASE=ian-pass-1 CASEBOOK_NEW_PASSPHRASE=short \
	expect_rc "new user's short passphrase refused" 1 \
	"$CB" --home "$I" user add eve --role coordinator
CASEBOOK_PASSPHRASE=ian-pass-1 expect_rc "user list" 0 \
	"$CB" --home "$I" user list
expect_out "user list shows the coordinator" "cora"
expect_no_out "refused users are not listed" "eve"
CASEBOOK_PASSPHRASE=cora-pass-1 expect_rc "new user unlocks with her own passphrase" 0 \
	"$CB" --home "$I" --user cora store check
expect_out "acting user is cora" "user cora (coordinator)"
CASEBOOK_USER=cora CASEBOOK_PASSPHRASE=ian-pass-1 expect_rc \
	"another user's passphrase does not unlock (CASEBOOK_USER)" 4 \
	"$CB" --home "$I" store check
CASEBOOK_PASSPHRASE=cora-pass-1 CASEBOOK_NEW_PASSPHRASE=x-pass-12 \
	expect_rc "coordinator cora cannot add users" 4 \
	"$CB" --home "$I" --user cora user add x --role coordinator
CASEBOOK_PASSPHRASE=cora-pass-2 expect_rc "investigator dan can add users" 0 \
	sh -c 'CASEBOOK_NEW_PASSPHRASE=fay-pass-1 "$0" --home "$1" --user dan user add fay --role coordinator' "$CB" "$I"

# Editing a role in the plaintext keyslot does not make a coordinator an
# investigator: the role is bound into the wrapped key.
cp "$I/casebook.db" "$T/roles.db"
python3 - "$T/roles.db" <<'EOF'
import sqlite3, sys, hashlib
c = sqlite3.connect(sys.argv[1])
name, wrapped = c.execute("SELECT name, wrapped FROM keyslots WHERE name='cora'").fetchone()
role = "investigator"
s = hashlib.blake2b((name + "\0" + role + "\0" + wrapped + "\0").encode(), digest_size=32).digest()
c.execute("UPDATE keyslots SET role=?, sum=? WHERE name=?", (role, s, name))
c.commit()
EOF
mkdir -p "$T/roles" && mv "$T/roles.db" "$T/roles/casebook.db"
CASEBOOK_PASSPHRASE=cora-pass-1 expect_rc "a role edited in the file does not unlock" 4 \
	"$CB" --home "$T/roles" --user cora store check

# ---- passwd -------------------------------------------------------------
CASEBOOK_PASSPHRASE=$PW CASEBOOK_NEW_PASSPHRASE=alice-pass-2 expect_rc \
	"passwd" 0 "$CB" --home "$H" passwd
CASEBOOK_PASSPHRASE=$PW expect_rc "old passphrase fails after passwd" 4 \
	"$CB" --home "$H" store check
CASEBOOK_PASSPHRASE=alice-pass-2 expect_rc "new passphrase works after passwd" 0 \
	"$CB" --home "$H" store check
CASEBOOK_PASSPHRASE=wrong-pass-9 CASEBOOK_NEW_PASSPHRASE=alice-pass-3 \
	expect_rc "passwd with a wrong passphrase exits 4" 4 \
	"$CB" --home "$H" passwd
PW=alice-pass-2

# ---- events, and what the bytes on disk hold -----------------------------
export CASEBOOK_PASSPHRASE=$PW
expect_rc "store test events" 0 \
	"$CBH" --home "$H" store test-events KR01-03001 20 "Quixotic-marker-value"
expect_rc "store Korean test events" 0 \
	"$CBH" --home "$H" store test-events KR01-03002 5 "두통 심한 무릎 통증"
expect_rc "store test-list one subject" 0 \
	"$CBH" --home "$H" store test-list KR01-03002
n=$(grep -c '"subject":"KR01-03002"' "$T/out")
expect_same "subject lookup finds its 5 events" "$n" 5
expect_out "Korean text round-trips" "두통 심한 무릎 통증"
expect_rc "store check counts events" 0 "$CB" --home "$H" store check
expect_out "25 events, 2 subjects" "events 25 (25 unsynced), subjects 2"
digest=$(grep 'content digest' "$T/out")

expect_rc "test-secrets" 0 "$CBH" --home "$H" store test-secrets
secrets=$(cat "$T/out")

# The shipped program has no test hooks, whatever the environment says:
# only the test build (make's build/hooks/casebook) can print the keys.
expect_rc "bin/casebook has no store test-secrets" 2 \
	"$CB" --home "$H" store test-secrets
expect_out "bin/casebook: test-secrets is an unknown subcommand" \
	"unknown subcommand"
expect_rc "bin/casebook has no store test-events" 2 \
	"$CB" --home "$H" store test-events KR01-03009 1 x
expect_rc "bin/casebook has no status test-set" 2 \
	"$CB" --home "$H" status test-set sync.last 2024-04-01T08:00:00.000Z
if grep -a -q -e test-secrets -e test-events -e test-set "$CB"; then
	fail "bin/casebook holds no test hook" "a hook's name is in the binary"
else
	pass "bin/casebook holds no test hook"
fi

# Two concurrent writers: both succeed (busy timeout) or one says busy.
"$CBH" --home "$H" store test-events KR01-03003 50 "par-a" >"$T/pa" 2>&1 &
pa=$!
"$CBH" --home "$H" store test-events KR01-03003 50 "par-b" >"$T/pb" 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ]; then
	pass "two writers at once both succeed"
	want=125
elif grep -q busy "$T/pa" "$T/pb"; then
	pass "two writers at once: one got a clear busy message"
	want=75
else
	fail "two writers at once" "rc $ra/$rb: $(cat "$T/pa" "$T/pb")"
	want=x
fi
expect_rc "store check after concurrent writes" 0 "$CB" --home "$H" store check
expect_out "concurrent writes all stored" "events $want ("

# Keep the WAL file alive (another connection holds the database open) so
# its bytes can be scanned too.
python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM sqlite_master").fetchall()
open(sys.argv[2], "w").close()
time.sleep(20)' "$DB" "$T/holder.ready" &
holder=$!
# Wait until the holder has the database open (polling, no fixed sleep).
i=0
while [ ! -e "$T/holder.ready" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
"$CBH" --home "$H" store test-events KR01-03004 3 "Walrus-wal-marker" >/dev/null 2>&1
CASEBOOK_NEW_PASSPHRASE=alice-pass-2 "$CB" --home "$H" passwd >/dev/null 2>&1
if [ -s "$DB-wal" ]; then pass "WAL file present for the scan"; else fail "WAL file present for the scan" "no $DB-wal"; fi
python3 - "$H" "$secrets" "$PW" <<'EOF' >"$T/scan" 2>&1
import base64, os, sys
home, secrets, pw = sys.argv[1], sys.argv[2].split(), sys.argv[3]
needles = {
    "passphrase": pw.encode(),
    "old passphrase": b"alice-pass-1",
    "marker value": b"Quixotic-marker-value",
    "WAL marker value": b"Walrus-wal-marker",
    "Korean value": "두통 심한 무릎 통증".encode(),
    "subject id": b"KR01-03001",
    "subject id prefix": b"KR01-0300",
    "protocol title": b"Zanzibar knee protocol",
    "site code in JSON": b'"site":"KR01"',
}
for name, hexkey in (("data key", secrets[0]), ("device secret key", secrets[1])):
    raw = bytes.fromhex(hexkey)
    needles[name + " (hex)"] = hexkey.encode()
    needles[name + " (raw)"] = raw
    needles[name + " (base64)"] = base64.b64encode(raw)[:40]
    needles[name + " seed (raw, 16 bytes)"] = raw[:16]
files = [f for f in os.listdir(home) if f.startswith("casebook.db")]
found = 0
for f in files:
    data = open(os.path.join(home, f), "rb").read()
    for name, n in needles.items():
        if n in data:
            print("FOUND", name, "in", f)
            found += 1
print("scanned", " ".join(sorted(files)))
sys.exit(1 if found else 0)
EOF
if [ $? -eq 0 ]; then
	pass "no secret or clinical value in the db or WAL bytes"
else
	fail "no secret or clinical value in the db or WAL bytes" "$(cat "$T/scan")"
fi
grep -q 'casebook.db-wal' "$T/scan" && pass "scan covered the WAL" ||
	fail "scan covered the WAL" "$(cat "$T/scan")"
# The scan must be able to fail: the same needles are found in plaintext.
CASEBOOK_PASSPHRASE=$PW "$CBH" --home "$H" store test-list >"$T/plain.txt"
if grep -q Quixotic-marker-value "$T/plain.txt" && grep -q Walrus-wal-marker "$T/plain.txt"; then
	pass "markers exist in the decrypted store"
else
	fail "markers exist in the decrypted store" "$(head -c 300 "$T/plain.txt")"
fi
kill $holder 2>/dev/null
wait $holder 2>/dev/null

# ---- damage -------------------------------------------------------------
# A copy of the store at a known state.
expect_rc "store check before damage tests" 0 "$CB" --home "$H" store check
digest=$(grep 'content digest' "$T/out")
cp "$DB" "$T/pristine.db"
D="$T/dmg"
mkdir -p "$D"

# Flip one bit at byte $1 of a fresh copy into $D.
flip() {
	cp "$T/pristine.db" "$D/casebook.db"
	rm -f "$D/casebook.db-wal" "$D/casebook.db-shm"
	_b=$(od -An -tu1 -j "$1" -N1 "$D/casebook.db" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf %o $((_b ^ 16)))" |
		dd of="$D/casebook.db" bs=1 seek="$1" conv=notrunc 2>/dev/null
}

# Every damaged copy must give exit 0 with the very same content digest, or
# exit 1 with an integrity message. Never other content, never a crash.
size=$(stat -c %s "$T/pristine.db")
step=$((size / 300 + 1))
bad=0 detected=0 same=0 at=7
while [ $at -lt "$size" ]; do
	flip $at
	"$CB" --home "$D" store check >"$T/o" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -qF "$digest" "$T/o"; then
		same=$((same + 1))
	elif [ $rc -eq 1 ] && grep -q "integrity error" "$T/o"; then
		detected=$((detected + 1))
	else
		bad=$((bad + 1))
		echo "byte $at: rc $rc: $(head -c 300 "$T/o")"
	fi
	at=$((at + step))
done
echo "flipped bytes: $detected detected, $same harmless, $bad wrong"
expect_same "no flipped byte gives wrong data or a crash" "$bad" 0
if [ "$detected" -gt 10 ]; then pass "flipped bytes are detected"; else
	fail "flipped bytes are detected" "only $detected"; fi

# Targeted: a byte inside each kind of ciphertext and inside a keyslot.
python3 - "$T/pristine.db" >"$T/offsets" <<'EOF'
import sqlite3, sys
p = sys.argv[1]
data = open(p, "rb").read()
c = sqlite3.connect("file:" + p + "?mode=ro", uri=True)
body = c.execute("SELECT body FROM events ORDER BY seq LIMIT 1").fetchone()[0]
meta = c.execute("SELECT value FROM meta WHERE key='store.site'").fetchone()[0]
subj = c.execute("SELECT sealed FROM subjects LIMIT 1").fetchone()[0]
tag = c.execute("SELECT tag FROM events ORDER BY seq LIMIT 1").fetchone()[0]
wrapped = c.execute("SELECT wrapped FROM keyslots LIMIT 1").fetchone()[0].encode()
for name, blob in (("event", body[30:60]), ("setting", meta[30:]),
                   ("subject", subj[30:]), ("row tag", tag),
                   ("keyslot", wrapped[-20:])):
    print(name.replace(" ", "_"), data.index(blob) + len(blob) // 2)
EOF
while read -r what at; do
	flip "$at"
	expect_rc "flipped byte in a $what: integrity error" 1 \
		"$CB" --home "$D" store check
	expect_out "flipped $what message" "integrity error"
	expect_no_out "flipped $what is not called a wrong passphrase" "wrong passphrase"
done <"$T/offsets"

# Ciphertexts moved to another row, and a plaintext flag edited.
moved() {
	cp "$T/pristine.db" "$D/casebook.db"
	rm -f "$D/casebook.db-wal" "$D/casebook.db-shm"
	python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(sys.argv[2])
c.commit()' "$D/casebook.db" "$1"
	expect_rc "$2: integrity error" 1 "$CB" --home "$D" store check
	expect_out "$2: message" "integrity error"
}
moved "UPDATE events SET body=(SELECT body FROM events WHERE seq=2) WHERE seq=1" \
	"event body copied to another row"
moved "UPDATE meta SET value=(SELECT value FROM meta WHERE key='store.site') WHERE key='store.device_index'" \
	"setting copied to another key"
moved "UPDATE events SET synced=1 WHERE seq=3" "synced flag edited"
moved "UPDATE events SET subject=(SELECT subject FROM events WHERE seq=30) WHERE seq=1" \
	"subject hash edited"
moved "UPDATE events SET seq=seq+1000 WHERE seq=5" "sequence number edited"
moved "DELETE FROM meta WHERE key='store.device_sk'" "device key removed"

cp "$T/pristine.db" "$D/casebook.db"
rm -f "$D/casebook.db-wal" "$D/casebook.db-shm"
truncate -s 8192 "$D/casebook.db"
expect_rc "truncated store: error" 1 "$CB" --home "$D" store check
expect_out "truncated store: integrity message" "integrity error"
echo "not a database at all, just some text that is long enough" >"$D/casebook.db"
expect_rc "text file as a store: error" 1 "$CB" --home "$D" store check
expect_out "text file as a store: integrity message" "integrity error"

# ---- default Argon2id cost ----------------------------------------------
unset CASEBOOK_KDF_FAST
R="$T/real"
CASEBOOK_PASSPHRASE=real-pass-1 expect_rc "init at the default Argon2id cost" 0 \
	"$CB" --home "$R" init --site KR09 --device-index 9 --protocol "$P" \
	--user rita --role investigator
params=$(python3 -c '
import sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(c.execute("SELECT wrapped FROM keyslots").fetchone()[0].split("$")[2])' \
	"$R/casebook.db")
expect_same "default cost is stored with the slot" "$params" "m=131072,t=3,p=1"
start=$(date +%s%N)
CASEBOOK_PASSPHRASE=real-pass-1 expect_rc "unlock at the default cost" 0 \
	"$CB" --home "$R" store check
end=$(date +%s%N)
echo "unlock + check at the default Argon2id cost: $(((end - start) / 1000000)) ms"
CASEBOOK_PASSPHRASE=wrong-pass-1 expect_rc "wrong passphrase at the default cost" 4 \
	"$CB" --home "$R" store check

# A store made with the tests' switch (CASEBOOK_KDF_FAST=1) guards its
# passphrase at a test-only cost: without the switch, every command says
# so, until passwd re-wraps it at the default cost.
W="$T/weak"
CASEBOOK_KDF_FAST=1 CASEBOOK_PASSPHRASE=weak-pass-1 expect_rc "init with the test switch" 0 \
	"$CB" --home "$W" init --site KR08 --device-index 8 --protocol "$P" \
	--user walt --role investigator
CASEBOOK_PASSPHRASE=weak-pass-1 expect_rc "a test-cost store opens without the switch" 0 \
	"$CB" --home "$W" store check
expect_out "and warns that its passphrase is cheaply guarded" "test-only cost"
expect_out "the warning says what to do" "casebook passwd"
CASEBOOK_KDF_FAST=1 CASEBOOK_PASSPHRASE=weak-pass-1 expect_rc "with the switch on" 0 \
	"$CB" --home "$W" store check
expect_no_out "the tests' own switch: no warning" "test-only cost"
CASEBOOK_PASSPHRASE=weak-pass-1 CASEBOOK_NEW_PASSPHRASE=weak-pass-2 expect_rc \
	"passwd without the switch" 0 "$CB" --home "$W" passwd
CASEBOOK_PASSPHRASE=weak-pass-2 expect_rc "after passwd" 0 "$CB" --home "$W" store check
expect_no_out "no warning once re-wrapped at the default cost" "test-only cost"
# The store is as weak as its cheapest slot: another user's test-cost
# slot is named to every user.
CASEBOOK_KDF_FAST=1 CASEBOOK_PASSPHRASE=weak-pass-2 CASEBOOK_NEW_PASSPHRASE=wilma-pass-1 \
	expect_rc "a user added with the test switch" 0 \
	"$CB" --home "$W" user add wilma --role coordinator
CASEBOOK_PASSPHRASE=weak-pass-2 expect_rc "walt, re-wrapped, opens the store" 0 \
	"$CB" --home "$W" store check
expect_out "and is told of wilma's test-cost slot" "of user wilma guards"
if grep -q "walt" "$T/err"; then
	fail "walt's own slot is not named" "$(cat "$T/err")"
else
	pass "walt's own slot is not named"
fi
CASEBOOK_PASSPHRASE=real-pass-1 expect_rc "a default-cost store" 0 "$CB" --home "$R" store check
expect_no_out "a default-cost store gives no warning" "test-only cost"

finish
