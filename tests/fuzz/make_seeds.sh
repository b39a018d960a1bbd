#!/bin/sh
# make_seeds.sh - (re)make the seed corpora in tests/fuzz/corpus/ from the
# real programs: a study set up with casebookd, a laptop that registers,
# enters data and syncs, a bundle it exports, a sealed randomization list.
# Run by hand (the corpora are kept in git): make all first, then
#   tests/fuzz/make_seeds.sh
# It adds files named seed-*; files already there are kept.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
CB="$top/bin/casebook"
CBD="$top/bin/casebookd"
PROTO="$top/schemas/knee-oa-msc.json"
C="$top/tests/fuzz/corpus"
T=$(mktemp -d "${TMPDIR:-/tmp}/cbseeds.XXXXXX")
SRV_PID=""
cleanup() {
	[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
export CASEBOOK_PASSPHRASE=seed-pass-123 CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
for d in protocol json event canon merge reqsig bundle randlist push push_signed pull; do
	mkdir -p "$C/$d"
done

# Protocols: the shipped study and the small test protocols.
cp "$PROTO" "$C/protocol/seed-knee-oa-msc.json"
cp "$top/tests/e2e/protocols/good-mini.json" "$C/protocol/seed-good-mini.json"
cp "$top/tests/e2e/protocols/many-problems.json" "$C/protocol/seed-many-problems.json"

# A server, a site laptop that enters data and syncs.
D="$T/data"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$PORT"
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null
TA=$("$CBD" token create --data "$D" --site KR01 --role coordinator 2>/dev/null)
"$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" 2>"$T/server.log" &
SRV_PID=$!
i=0
until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 200 ] && { echo "no server" >&2; exit 1; }
	sleep 0.05
done
A="$T/a"
"$CB" --home "$A" init --server "$URL" --token "$TA" --user kim >/dev/null
S=$("$CB" --home "$A" subject add)
"$CB" --home "$A" form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1955 SEX=M \
	HEIGHT=175 WEIGHT=80 KNEE=L >/dev/null
"$CB" --home "$A" form set "$S" SCR SV VISDT=2026-01-05 >/dev/null
"$CB" --home "$A" form set "$S" SCR ELIG AGE=70 KLGRADE=2 PAIN3M=Y BMI=26.1 \
	IAINJ3M=N INFLARTH=N >/dev/null 2>&1 || true
"$CB" --home "$A" form set "$S" SCR DM WEIGHT=81 --reason "scale checked" >/dev/null
"$CB" --home "$A" ae add "$S" AETERM=Headache AESTDTC=2026-01 AESEV=MILD AEONGO=Y \
	AESER=N AETOXGR=1 >/dev/null
"$CB" --home "$A" sign "$S" SCR DM >/dev/null 2>&1 || true
	>/dev/null 2>&1 || true
"$CB" --home "$A" bundle export "$T/a.bundle" >/dev/null
cp "$T/a.bundle" "$C/bundle/seed-a.bundle"
"$CB" --home "$A" sync >/dev/null
NFIRST=$(sqlite3 "$D/casebookd.db" "SELECT max(seq) FROM events")
# More work, which the fuzz server fixture does not hold (it is loaded
# with the events above): a correction, a later visit, and a KR02 laptop.
"$CBD" site add --data "$D" KR02 --name Busan >/dev/null
TB=$("$CBD" token create --data "$D" --site KR02 --role coordinator 2>/dev/null)
B="$T/b"
"$CB" --home "$B" init --server "$URL" --token "$TB" --user lee >/dev/null
SB=$("$CB" --home "$B" subject add)
"$CB" --home "$B" form set "$SB" SCR DM CONSDT=2026-02-01 BRTHYR=1948 SEX=F \
	HEIGHT=158 WEIGHT=61 KNEE=R >/dev/null
"$CB" --home "$A" form set "$S" SCR DM HEIGHT=176 --reason "measured again" >/dev/null
"$CB" --home "$A" form set "$S" BL SV VISDT=2026-01-20 >/dev/null 2>&1 || true
"$CB" --home "$A" form set "$S" BL VAS VAS=55 >/dev/null 2>&1 || true
"$CB" --home "$A" sync >/dev/null
"$CB" --home "$B" sync >/dev/null
kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=""
sqlite3 "$D/casebookd.db" "SELECT json FROM events WHERE seq > $NFIRST ORDER BY seq" >"$T/more"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s' "$line" >"$C/push_signed/seed-more-$n.json"
	printf '%s' "$line" >"$C/event/seed-more-$n.json"
done <"$T/more"
printf '[%s]' "$(paste -sd, "$T/more")" >"$C/push_signed/seed-more-all.json"
# The merge engine: every event as one set, and each laptop's part.
printf '[%s]' "$(cat "$T/events" "$T/more" | paste -sd,)" >"$C/merge/seed-all.json"
cp "$C/push_signed/seed-all.json" "$C/merge/seed-first.json"
cp "$C/push_signed/seed-more-all.json" "$C/merge/seed-more.json"

# Every stored event, one file each (event, canon, json), and as one push.
sqlite3 "$D/casebookd.db" "SELECT json FROM events WHERE seq <= $NFIRST ORDER BY seq" >"$T/events"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s' "$line" >"$C/event/seed-$n.json"
	printf '%s' "$line" >"$C/canon/seed-$n.json"
	printf '%s' "$line" >"$C/json/seed-$n.json"
	printf '{"events":[%s]}' "$line" >"$C/push/seed-$n.json"
	printf '%s' "$line" >"$C/push_signed/seed-$n.json"
done <"$T/events"
printf '{"events":[%s]}' "$(paste -sd, "$T/events")" >"$C/push/seed-all.json"
printf '[%s]' "$(paste -sd, "$T/events")" >"$C/push_signed/seed-all.json"
cp "$top/tests/e2e/protocols/good-mini.json" "$C/json/seed-mini.json"

# The server's bundle reply for that bundle.
"$CBD" bundle import --data "$D" "$T/a.bundle" --reply "$T/a.reply" >/dev/null
cp "$T/a.reply" "$C/bundle/seed-a.reply"

# A sealed randomization list (small) made by the statistician's commands.
(cd "$T" && CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen \
	--out unblind.key >/dev/null 2>&1 &&
	"$CB" randlist generate --protocol "$PROTO" --sites KR01,KR02 \
		--per-stratum 2 --block-sizes 2 --seed seed-text-for-fuzzing-1 \
		--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1)
cp "$T/list.json" "$C/randlist/seed-list.json"
# Request signature headers and the request they sign, one field a line
# (fuzz_reqsig.c): a pull, a push with its body, a registration.
SIG=$(printf '%0128d' 0 | tr 0 a)
printf 'f0000000000000000000000000000001\n1764979200000\n0123456789abcdef0123456789abcdef\n%s\nGET\n/v1/sync/pull\nsince=0&limit=500\n' \
	"$SIG" >"$C/reqsig/seed-pull"
printf 'f0000000000000000000000000000001\n1764979200123\nfedcba9876543210fedcba9876543210\n%s\nPOST\n/v1/sync/push\n\n{"events":[]}' \
	"$SIG" >"$C/reqsig/seed-push"
printf 'KR01-dev:1@x\n1\n00000000000000000000000000000000\n%s\nGET\n/v1/queries\nstatus=open\n' \
	"$SIG" >"$C/reqsig/seed-queries"

# Pulls (fuzz_pull.c: device byte, cursor, limit) for every device.
for d in 0 1 2 3 4 5; do
	printf "\\$(printf '%03o' $d)\\0\\0\\0\\0\\0\\0\\0\\0\\0\\2" >"$C/pull/seed-dev$d"
done
printf '\4\0\0\0\0\0\0\0\3\1\364' >"$C/pull/seed-since3"

# A lab's CELL form (only lab and dsmb may see it), by the fixture's lab
# device (server_fixture.h), for the seed subject.
cat >"$C/push_signed/seed-lab.json" <<'LAB'
{"id":"c0ffee00000000000000000000000002","device":"f0000000000000000000000000000005","site":"KR01","user":"lab","hlc":"0000019b8a000001","wall":"2026-01-08T09:00:00.000Z","subject":"KR01-01001","kind":"form.save","target":{"visit":"INJ","form":"CELL","instance":""},"changes":[{"item":"CELLCNT","value":"13.5","prev":[]}],"reason":"","data":{}}
LAB

# Every kind of event, by the fixture's devices (seed_kinds.py says which).
python3 "$top/tests/fuzz/seed_kinds.py" "$C"

# Push bodies signed by the fixture's devices, so fuzz_push starts past
# the signature check: fuzz_push_signed writes what it pushed.
if [ -x "$top/build/tests/test_fuzz_push_signed" ]; then
	FUZZ_DUMP_DIR="$C/push" "$top/build/tests/test_fuzz_push_signed" \
		"$C/push_signed" >/dev/null 2>&1
fi
echo "seeds made in $C"
