#!/bin/sh
# t_randomize_many.sh - two offline laptops of one site randomize 40
# subjects each, sync, and no slot or kit is used twice (issue #5,
# docs/randomization.md), on a real casebookd on loopback with
# `serve --lease 25`:
#
#   1. The statistician makes the unblinding key and a sealed list for
#      KR01 (150 slots per stratum); the server imports it.
#   2. Coordinators' laptops a, b and x sync (25 slots per stratum
#      each); the server is stopped; a and b each enrol 40 eligible
#      subjects (KL grade 2 and 3, 22/18 and 18/22) and randomize them;
#      x uses up its 25 slots of stratum 2 and is told to sync.
#   3. The server is back: a and b sync, every one of the 80 randomize
#      events is accepted; x syncs and continues.
#   4. No randomization number or kit is used twice in what the laptops
#      printed, what each laptop shows after the sync (subject show
#      --json), the server's slot table and its dump; every subject's
#      slot is of its own stratum; each laptop took its leased slots
#      lowest first.
#   5. The revealed list: every complete block used holds the arms
#      exactly 1:1, and per stratum the arm counts of the used slots are
#      the list's counts of each laptop's first N leased slots, within
#      the bound the block sizes give.
. "$(dirname "$0")/lib.sh"

for tool in curl sqlite3 python3; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed"
		finish
	}
done
export CASEBOOK_PASSPHRASE=rand-many-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
unset CASEBOOK_CODEBREAK_PASSPHRASE
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
LEASE=25
START=$(date +%s)
# The list's seed (so its blocks) varies; CASEBOOK_SEED repeats a run.
SEED=${CASEBOOK_SEED:-$(od -An -tu4 -N4 /dev/urandom | tr -d ' ')}
echo "seed: CASEBOOK_SEED=$SEED"
cd "$T" || exit 1

at_exit stop_server

cb() {
	_h=$1
	shift
	"$CB" --home "$T/h/$_h" "$@"
}
used_count() {
	"$CBD" status --data "$D" 2>&1 |
		sed -n 's/.*site KR01: [0-9]* slots, [0-9]* leased, \([0-9]*\) used.*/\1/p'
}

# ---- 1. the list ----------------------------------------------------------

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 150 \
	--block-sizes 2,4 --seed "rand-many-$SEED-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "generate" "failed"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list.json \
	--key unblind.key --csv >revealed.csv 2>/dev/null || fail "reveal" "failed"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people coorda:coordinator:KR01 coordb:coordinator:KR01 coordx:coordinator:KR01
expect_rc "import" 0 "$CBD" randlist import --data "$D" list.json

# The option's range.
expect_rc "serve --lease 0 refused" 2 "$CBD" serve --data "$D" --listen 127.0.0.1:1 --lease 0
expect_rc "serve --lease 201 refused" 2 "$CBD" serve --data "$D" --listen 127.0.0.1:1 --lease 201
expect_out "serve --lease: says the range" "1 to 200"

start_server --lease "$LEASE" || finish

# ---- 2. leases, then offline -----------------------------------------------

for d in a b x; do
	t=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
	expect_rc "register $d" 0 cb "$d" init --server "$URL" --token "$t" --user "coord$d"
	expect_rc "first sync $d" 0 cb "$d" sync
done
"$CBD" status --data "$D" >status.txt 2>&1
if grep -q "site KR01: [0-9]* slots, 150 leased, 0 used" status.txt; then
	pass "3 laptops x 2 strata x 25 leased"
else
	fail "3 laptops x 2 strata x 25 leased" "$(grep randomization status.txt)"
fi
stop_server

# enroll DEV KL: a new eligible subject; prints its id.
enroll() {
	_s=$(cb "$1" subject add 2>/dev/null) || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb "$1" form set "$_s" SCR ELIG AGE=60 KLGRADE="$2" PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
# randomize DEV SUBJECT KL: appends "DEV SUBJECT KL RANDNO KIT" to
# assigned.DEV.
randomize() {
	cb "$1" randomize "$2" >"$T/out.$1" 2>"$T/err.$1" || return 1
	_rn=$(sed -n 's/.*randomization number: *//p' "$T/out.$1")
	_kit=$(sed -n 's/.*kit number: *//p' "$T/out.$1")
	echo "$1 $2 $3 $_rn $_kit" >>"assigned.$1"
}
# offline DEV N2 N3: enrol and randomize N2 subjects of KL grade 2 and
# N3 of grade 3, interleaved; prints how many were randomized.
offline() {
	_ok=0 _i=0 _n2=0 _n3=0
	while [ $_n2 -lt "$2" ] || [ $_n3 -lt "$3" ]; do
		if [ $((_i % 2)) -eq 0 ] && [ $_n2 -lt "$2" ] || [ $_n3 -ge "$3" ]; then
			_kl=2 _n2=$((_n2 + 1))
		else
			_kl=3 _n3=$((_n3 + 1))
		fi
		_s=$(enroll "$1" $_kl) && randomize "$1" "$_s" $_kl && _ok=$((_ok + 1))
		_i=$((_i + 1))
	done
	echo $_ok
}

: >assigned.a
: >assigned.b
: >assigned.x
T0=$(date +%s)
offline a 22 18 >ok.a &
PA=$!
offline b 18 22 >ok.b &
PB=$!
wait $PA $PB
T1=$(date +%s)
check "a randomized 40 offline" 40 "$(cat ok.a)"
check "b randomized 40 offline" 40 "$(cat ok.b)"
if cat "$T"/out.a "$T"/out.b | grep -qwE "arm|MSC|PBO"; then
	fail "randomize prints no arm" "$(cat "$T/out.a")"
else
	pass "randomize prints no arm"
fi
# x uses up its lease of stratum 2 and gets the clear message.
check "x randomized 25 offline" 25 "$(offline x 25 0)"
SX=$(enroll x 2) || fail "enroll" "x"
expect_rc "x exhausted: exit 1" 1 cb x randomize "$SX"
expect_out "x exhausted: says to sync" "sync with the server (casebook sync) to get more"
expect_out "x exhausted: names the stratum" "stratum 2"

# ---- 3. sync ---------------------------------------------------------------

start_server --lease "$LEASE" || finish
for d in a b; do
	expect_rc "sync $d" 0 cb "$d" sync
	expect_out "sync $d: nothing rejected" "0 rejected"
done
check "server accepted all 80 randomize events" 80 "$(used_count)"
expect_rc "x syncs" 0 cb x sync
expect_out "x sync: nothing rejected" "0 rejected"
randomize x "$SX" 2
check "after the sync x continues" 0 $?
for d in x a b; do
	expect_rc "final sync $d" 0 cb "$d" sync
	expect_out "final sync $d: nothing rejected" "0 rejected"
done
check "server counts 106 used slots" 106 "$(used_count)"

# ---- 4. no collision -------------------------------------------------------

cat assigned.a assigned.b assigned.x >assigned.txt
check "106 assignments" 106 "$(wc -l <assigned.txt | tr -d ' ')"
check "a and b: 80 distinct randomization numbers" 80 \
	"$(cat assigned.a assigned.b | cut -d' ' -f4 | sort -u | wc -l | tr -d ' ')"
check "a and b: 80 distinct kits" 80 \
	"$(cat assigned.a assigned.b | cut -d' ' -f5 | sort -u | wc -l | tr -d ' ')"
check "no randomization number used twice" 106 "$(cut -d' ' -f4 assigned.txt | sort -u | wc -l | tr -d ' ')"
check "no kit used twice" 106 "$(cut -d' ' -f5 assigned.txt | sort -u | wc -l | tr -d ' ')"

# What each laptop shows after the sync: every subject's randomization.
for d in a b x; do
	for s in $(cut -d' ' -f2 assigned.txt); do
		cb "$d" subject show "$s" --json
	done >"show.$d.json" 2>/dev/null
done
srv_sql "SELECT randno, stratum, seq, kit, device, subject FROM rand_slots" |
	tr '|' ' ' >slots.txt || fail "read the server's slots" "sqlite3 failed"
"$CBD" dump --data "$D" >dump.txt 2>&1 || fail "casebookd dump" "failed"

python3 - "$T" >analysis.txt <<'EOF' || fail "analysis" "$(tail -5 analysis.txt)"
import csv, json, re, sys
T = sys.argv[1]
out = []
def res(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))

assigned = {}
for line in open(T + "/assigned.txt"):
    dev, subj, kl, rn, kit = line.split()
    assigned[subj] = (dev, kl, rn, kit)

# Each laptop's view, from subject show --json.
dec = json.JSONDecoder()
for dev in "abx":
    text = open(T + "/show." + dev + ".json").read()
    pos, seen = 0, {}
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = dec.raw_decode(text, pos)
        vals = {}
        for v in obj["visits"]:
            for f in v["forms"]:
                for it in f["items"]:
                    vals[it.get("item")] = it.get("value")
        seen[obj["id"]] = (vals.get("RANDNO"), vals.get("KITNO"))
    bad = [s for s, a in assigned.items() if seen.get(s) != (a[2], a[3])]
    res("laptop %s shows every subject's randomization and kit" % dev,
        not bad, "%d differ, e.g. %s" % (len(bad), bad[:2]))
    rns = [v[0] for v in seen.values()]
    kits = [v[1] for v in seen.values()]
    res("laptop %s: no randomization number or kit twice" % dev,
        len(set(rns)) == len(rns) == len(assigned) and
        len(set(kits)) == len(kits))

# The server's slot table.
slots = {}
for line in open(T + "/slots.txt"):
    f = line.split(" ")
    f[-1] = f[-1].rstrip("\n")
    slots[f[0]] = {"stratum": f[1], "seq": int(f[2]), "kit": f[3],
                   "device": f[4], "subject": f[5]}
used = {rn: s for rn, s in slots.items() if s["subject"]}
res("server: 106 slots used", len(used) == 106, str(len(used)))
bad = [s for s, a in assigned.items()
       if a[2] not in used or used[a[2]]["subject"] != s or
       used[a[2]]["kit"] != a[3]]
res("server: each subject's slot and kit are the laptop's", not bad,
    str(bad[:3]))
res("server: no subject holds two slots",
    len({s["subject"] for s in used.values()}) == len(used))

# The server's dump: every randomization number and kit once.
dump = open(T + "/dump.txt").read()
bad = [a[2] for a in assigned.values()
       if len(re.findall(r"\t" + re.escape(a[2]) + r"(\t|\n)", dump)) < 1]
res("dump: every randomization number", not bad, str(bad[:3]))

# Strata: every subject's slot is of its own stratum.
rows = list(csv.DictReader(open(T + "/revealed.csv")))
lst = {r["randno"]: r for r in rows}
bad = [s for s, a in assigned.items()
       if a[2] not in lst or lst[a[2]]["stratum"] != a[1] or
       lst[a[2]]["kit"] != a[3] or slots[a[2]]["stratum"] != a[1]]
res("every subject got a slot of its own stratum", not bad, str(bad[:3]))

# Each laptop took its leased slots lowest first.
bad = []
for dev in {s["device"] for s in slots.values() if s["device"]}:
    for st in ("2", "3"):
        mine = [s for s in slots.values()
                if s["device"] == dev and s["stratum"] == st]
        u = [s["seq"] for s in mine if s["subject"]]
        f = [s["seq"] for s in mine if not s["subject"]]
        if u and f and max(u) > min(f):
            bad.append((dev[:8], st))
res("each laptop used its leased slots lowest first", not bad, str(bad))

# Balance, from the revealed list.
ratio = {"MSC": 1, "PBO": 1}
complete = 0
broken = []
for st in ("2", "3"):
    blocks = {}
    for r in rows:
        if r["stratum"] == st:
            blocks.setdefault(r["block"], []).append(r)
    for b, rs in blocks.items():
        if all(r["randno"] in used for r in rs):
            complete += 1
            n = {a: sum(1 for r in rs if r["arm"] == a) for a in ratio}
            if n["MSC"] * ratio["PBO"] != n["PBO"] * ratio["MSC"]:
                broken.append((st, b, n))
    # per stratum: the used slots' arms are the list's arms of each
    # laptop's first N leased slots (N = what it used).
    cnt = {a: 0 for a in ratio}
    want = {a: 0 for a in ratio}
    for dev in {s["device"] for s in slots.values() if s["device"]}:
        mine = sorted((s["seq"], rn) for rn, s in slots.items()
                      if s["device"] == dev and s["stratum"] == st)
        n = sum(1 for _, rn in mine if slots[rn]["subject"])
        for _, rn in mine[:n]:
            want[lst[rn]["arm"]] += 1
    for rn, s in used.items():
        if s["stratum"] == st:
            cnt[lst[rn]["arm"]] += 1
    res("stratum %s: arm counts %s are the list's %s" % (st, cnt, want),
        cnt == want)
    # runs of consecutive used seqs: each is off balance by at most
    # half the largest block at either end.
    seqs = sorted(s["seq"] for s in used.values() if s["stratum"] == st)
    runs = 1 + sum(1 for i in range(1, len(seqs))
                   if seqs[i] != seqs[i - 1] + 1)
    diff = abs(cnt["MSC"] - cnt["PBO"])
    res("stratum %s: |MSC-PBO| = %d within %d runs x 4" % (st, diff, runs),
        diff <= 4 * runs)
res("complete blocks used: %d, every one 1:1" % complete,
    complete >= 20 and not broken, str(broken[:3]))
EOF
cat analysis.txt
_failures=$((_failures + $(grep -c '^FAIL' analysis.txt)))

END=$(date +%s)
echo "# 40+40 offline randomizations in $((T1 - T0)) s; whole script $((END - START)) s"
stop_server
finish
