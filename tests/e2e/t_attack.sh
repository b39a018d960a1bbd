#!/bin/sh
# t_attack.sh - the holes found under attack, each closed and kept closed,
# against a real casebookd on loopback with real laptops and hand-made
# signed events (the signing client test_reqsig):
#
#   1. a clock far ahead: the server refuses an event stamped over 24 h
#      ahead of its own clock, a laptop never takes such a clock in (from
#      a bundle reply of a server whose clock is ahead), and a laptop
#      whose own clock ran ahead keeps its events queued until the
#      server's time reaches them;
#   2. subject ids: a laptop restored from an older backup never issues
#      an id it or the server has seen once it holds it, and when it
#      cannot know (restored and not yet synced) the server refuses the
#      second creation and everything the laptop writes about "its" new
#      subject, leaving the first patient's record as it was;
#   3. a device creates subjects only of its own site and number range,
#      with the id syntax;
#   4. query events name an existing query of the same subject;
#   5. rules the laptops apply, applied by the server again;
#   6. rows deleted from a laptop's store, or its tally put back, are
#      told at unlock and by `store check`;
#   7. control and bidirectional characters refused in values and
#      reasons (laptop and server), blank reasons refused, older text
#      escaped when shown;
#   8. a push body repeating a member is refused;
#   9. a read-only store can be read, and says why it cannot be written;
#  10. an interrupted `casebook init` cleans up and finishes with the same
#      device when run again.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_UNIT:=$(dirname "$CASEBOOK_BIN")/tests}"
U="$CASEBOOK_UNIT/test_reqsig"
[ -x "$U" ] || U="$CASEBOOK_TOP/build/tests/test_reqsig"
for tool in curl sqlite3 python3; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed"
		finish
	}
done
[ -x "$U" ] || {
	fail "signing client" "test_reqsig not built"
	finish
}
export CASEBOOK_PASSPHRASE=attack-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_CLOCK_OFFSET_MS
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server
DAY=86400000

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" site add --data "$D" DE02 --name Berlin >/dev/null 2>&1
people ua:coordinator:KR01 ui:investigator:KR01 ude:coordinator:DE02 \
	udm:datamanager rawrk:coordinator:KR01 rawrd:coordinator:DE02 \
	rawrdm:datamanager ufast:coordinator:KR01 ur:coordinator:KR01 \
	rawri:investigator:KR01 us:coordinator:KR01 un:coordinator:KR01 \
	um:coordinator:KR01 uo:coordinator:KR01
start_server || finish

token() { # ROLE [SITE]
	if [ -n "${2:-}" ]; then
		"$CBD" token create --data "$D" --site "$2" --role "$1" 2>/dev/null
	else
		"$CBD" token create --data "$D" --role "$1" 2>/dev/null
	fi
}
# Laptops: a (coordinator, KR01 device 1), i (investigator, KR01 device
# 2), de (coordinator, DE02 device 1), dm (data manager).
for spec in a:coordinator:KR01 i:investigator:KR01 de:coordinator:DE02 dm:datamanager:; do
	h=${spec%%:*} rest=${spec#*:} r=${rest%%:*} s=${rest#*:}
	cb "$h" init --server "$URL" --token "$(token "$r" $s)" --user "u$h" \
		>/dev/null 2>"$T/err" || fail "laptop $h" "$(cat "$T/err")"
done
# Raw devices: key in k.NAME, id in dev.NAME, index in idx.NAME.
raw() { # NAME ROLE [SITE]
	_pk=$("$U" client keygen "k.$1") || return 1
	printf '{"token":"%s","public_key":"%s","user":"raw%s"}' \
		"$(token "$2" ${3:-})" "$_pk" "$1" >reg.json
	curl -s -o reg.out -X POST --data-binary @reg.json "$URL/v1/register"
	jget reg.out 'j["device"]' >"dev.$1"
	jget reg.out 'j["device_index"]' >"idx.$1"
}
raw rk coordinator KR01
raw rd coordinator DE02
raw rdm datamanager
check "raw KR01 device is device 3" 3 "$(cat idx.rk)"

# sreq NAME METHOD PATH QUERY [BODYFILE]: a signed request; $code, resp.
sreq() {
	_url="$URL$3"
	[ -n "$4" ] && _url="$_url?$4"
	# shellcheck disable=SC2086
	"$U" client headers "k.$1" "$(cat "dev.$1")" "$2" "$3" "$4" ${5:-} >hdr || return 1
	if [ -n "${5:-}" ]; then
		code=$(curl -s -o resp -w '%{http_code}' -X "$2" \
			-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
			-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" \
			-H 'Content-Type: application/json' --data-binary @"$5" "$_url")
	else
		code=$(curl -s -o resp -w '%{http_code}' -X "$2" \
			-H "$(sed -n 1p hdr)" -H "$(sed -n 2p hdr)" \
			-H "$(sed -n 3p hdr)" -H "$(sed -n 4p hdr)" "$_url")
	fi
}
# ev NAME SITE SUBJECT KIND VISIT FORM INSTANCE ARGS...: one signed event
ev() {
	_n=$1 _site=$2
	shift 2
	"$U" client event "k.$_n" "$(cat "dev.$_n")" "$_site" "raw$_n" "$@"
}
# push NAME EVENT...: the events in one push; results in resp.
push() {
	_n=$1
	shift
	python3 -c 'import json,sys
print(json.dumps({"events": [json.loads(e) for e in sys.argv[1:]]}))' "$@" >push.json
	sreq "$_n" POST /v1/sync/push "" push.json
}
result() { jget resp "j['results'][$1]['status'] + ':' + str(j['results'][$1].get('code'))"; }
reason() { jget resp "j['results'][$1].get('reason', '')"; }
enroll() { # LAPTOP: a new subject with consent and demographics
	_s=$(cb "$1" subject add 2>"$T/err") || return 1
	cb "$1" form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	echo "$_s"
}
dump_subject() { # SUBJECT: the server's canonical lines of its items
	"$CBD" dump --data "$D" 2>/dev/null | grep "^$1	" | sort
}

# ---- 1. clocks -------------------------------------------------------------

S1=$(enroll a) || fail "enroll" "$(cat "$T/err")"
cb a sync >/dev/null 2>&1 || fail "sync a" "first sync"
push rk "$(ev rk KR01 "$S1" form.save BL VAS "" VAS=40 --hlc ffffffffffffffff)"
check "an event stamped at the end of time is refused" "rejected:clock" "$(result 0)"
case $(reason 0) in
*"ahead of the server's clock"*) pass "the refusal says the clock is ahead" ;;
*) fail "the refusal says the clock is ahead" "$(reason 0)" ;;
esac
AHEAD=$(python3 -c "import time; print('%012x0000' % (int(time.time()*1000) + 2*$DAY))")
push rk "$(ev rk KR01 "$S1" form.save BL VAS "" VAS=41 --hlc "$AHEAD")"
check "two days ahead is refused" "rejected:clock" "$(result 0)"
NEAR=$(python3 -c "import time; print('%012x0000' % (int(time.time()*1000) + 3600000))")
push rk "$(ev rk KR01 "$S1" form.save BL VAS "" VAS=42 --hlc "$NEAR")"
check "an hour ahead is taken (within the 24 h bound)" "accepted:None" "$(result 0)"
push rk "$(ev rk KR01 "$S1" form.save BL PE "" ROM=100 --wall 2099-01-01T00:00:00.000Z)"
check "a wall time far ahead is refused too" "rejected:clock" "$(result 0)"
cb a sync >/dev/null 2>&1
expect_rc "the laptop still records after pulling the hour-ahead event" 0 \
	cb a form set "$S1" BL PE ROM=110

# A laptop never takes in a clock over a day ahead of its own: a server
# three days ahead (its clock, and a raw device's event made with it)
# answers a bundle of laptop a.
D3="$T/data3"
stop_server
srv_copy "$D" "$D3"
rm -f "$D3/casebookd.lock"
start_server
THREE=$((3 * DAY))
FAR=$(CASEBOOK_CLOCK_OFFSET_MS=$THREE "$U" client event k.rk "$(cat dev.rk)" KR01 rawrk "$S1" form.save BL MRI "" READER=far)
printf '%s\n' "$FAR" >far.json
python3 -c 'import json,sys
print(json.dumps({"events": [json.loads(open(sys.argv[1]).read())]}))' far.json >farpush.json
cb a bundle export a.bundle >/dev/null 2>"$T/err" || fail "bundle export" "$(cat "$T/err")"
# The raw device's event, made with the fast clock, goes straight to the
# fast server (served for this one push).
PORT3=$(free_port)
CASEBOOK_CLOCK_OFFSET_MS=$THREE "$CBD" serve --data "$D3" --listen "127.0.0.1:$PORT3" 2>>"$T/server3.log" &
P3=$!
i=0
until curl -sf "http://127.0.0.1:$PORT3/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -gt 400 ] && break
	sleep 0.05
done
URL_SAVE=$URL
URL="http://127.0.0.1:$PORT3"
CASEBOOK_CLOCK_OFFSET_MS=$THREE sreq rk POST /v1/sync/push "" farpush.json
check "the fast server takes the event made by its own clock" "accepted:None" "$(result 0)"
URL=$URL_SAVE
kill "$P3" 2>/dev/null
wait "$P3" 2>/dev/null
CASEBOOK_CLOCK_OFFSET_MS=$THREE "$CBD" bundle import --data "$D3" a.bundle --reply a.reply \
	>/dev/null 2>"$T/err" || fail "fast server imports the bundle" "$(cat "$T/err")"
expect_rc "the laptop imports the fast server's reply" 0 cb a bundle import a.reply
expect_rc "the laptop still records" 0 cb a form set "$S1" BL PE EFFUS=NONE
cb a form show "$S1" BL PE --history --json >hist.json 2>&1
LAST=$(jget hist.json 'max(r["hlc"] for r in j["history"])')
LIMIT=$(python3 -c "import time; print('%012x' % (int(time.time()*1000) + $DAY + 60000))")
if [ -n "$LAST" ] && [ "$(printf '%s' "$LAST" | cut -c1-12)" \< "$LIMIT" ]; then
	pass "the laptop's clock stays within a day of its own time"
else
	fail "the laptop's clock stays within a day of its own time" "last $LAST, limit $LIMIT"
fi

# A laptop whose own clock ran three days ahead: its events stay queued,
# not quarantined, and go once the server's time reaches them.
t=$(token coordinator KR01)
cb fast init --server "$URL" --token "$t" --user ufast >/dev/null 2>&1 || fail "fast laptop" "init"
SF=$(CASEBOOK_CLOCK_OFFSET_MS=$THREE cb fast subject add 2>/dev/null)
CASEBOOK_CLOCK_OFFSET_MS=$THREE cb fast form set "$SF" SCR DM CONSDT=2026-01-05 >/dev/null 2>&1
# Its clock is right again when it exports (a bundle itself must not
# come from the future); the events keep the time they were made at.
cb fast bundle export fast.bundle >/dev/null 2>&1
stop_server
"$CBD" bundle import --data "$D" fast.bundle --reply fast.reply >/dev/null 2>"$T/err" ||
	fail "bundle of the fast laptop" "$(cat "$T/err")"
expect_rc "the fast laptop imports the reply" 0 cb fast bundle import fast.reply
expect_out "it is told its events are ahead and stay queued" "kept queued"
cb fast status >"$T/out" 2>&1
expect_out "they are not quarantined" "Quarantined events: 0"
expect_out "they are still to be sent" "Unsynced events:    2 of"
cb fast bundle export fast2.bundle >/dev/null 2>&1
CASEBOOK_CLOCK_OFFSET_MS=$THREE "$CBD" bundle import --data "$D" fast2.bundle \
	--reply fast2.reply >/dev/null 2>&1
expect_rc "once the server's time reaches them" 0 cb fast bundle import fast2.reply
expect_out "they are accepted" "2 accepted"
start_server || finish

# ---- 2. subject ids after a restore ------------------------------------------

t=$(token coordinator KR01)
cb r init --server "$URL" --token "$t" --user ur >/dev/null 2>&1 || fail "laptop r" "init"
R1=$(enroll r)
cb r sync >/dev/null 2>&1
cp "$T/h/r/casebook.db" backup.db
R2=$(enroll r)
cb r form set "$R2" BL VAS VAS=77 >/dev/null 2>&1
cb r sync >/dev/null 2>&1
# Restored, then synced: the pulled subjects move the counter past them.
cp backup.db "$T/h/r/casebook.db"
rm -f "$T/h/r/casebook.db-wal" "$T/h/r/casebook.db-shm"
expect_rc "the restored laptop syncs" 0 cb r sync
R3=$(cb r subject add 2>"$T/err")
if [ -n "$R3" ] && [ "$R3" != "$R1" ] && [ "$R3" != "$R2" ]; then
	pass "after the restore and a sync, subject add issues a new id ($R3)"
else
	fail "after the restore and a sync, subject add issues a new id" "$R1 $R2 -> $R3: $(cat "$T/err")"
fi
# Restored and not synced: the laptop cannot know; the server refuses the
# second creation and what follows, and the first patient is unchanged.
before=$(dump_subject "$R2")
cp backup.db "$T/h/r/casebook.db"
rm -f "$T/h/r/casebook.db-wal" "$T/h/r/casebook.db-shm"
R2B=$(cb r subject add 2>/dev/null)
check "offline, the restored laptop repeats the id" "$R2" "$R2B"
cb r form set "$R2B" SCR DM CONSDT=2026-02-02 BRTHYR=1955 SEX=M >/dev/null 2>&1
cb r form set "$R2B" BL VAS VAS=12 >/dev/null 2>&1
expect_rc "it syncs" 0 cb r sync
expect_out "its creation and both saves are refused" "3 rejected"
cb r status >"$T/out" 2>&1
expect_out "quarantine says the id exists" "exists already"
expect_out "quarantine says why the saves are kept off" "created subject $R2 again"
check "the first patient's record is unchanged on the server" "$before" "$(dump_subject "$R2")"

# ---- 3. ids of the writer's site and range -------------------------------------

push rk "$(ev rk KR01 DE02-03001 subject.status "" "" "" --data status=screening)"
check "a KR01 device cannot create a DE02 id" "rejected:subject" "$(result 0)"
check "it says the id is not of its site" 1 "$(jget resp 'int("not an id of site KR01" in j["results"][0]["reason"])')"
push rk "$(ev rk KR01 zzz subject.status "" "" "" --data status=screening)"
check "an id of no known shape is refused" "rejected:subject" "$(result 0)"
push rk "$(ev rk KR01 KR01-02001 subject.status "" "" "" --data status=screening)"
check "a device cannot create in another device's range" "rejected:forbidden" "$(result 0)"
push rk "$(ev rk KR01 KR01-03001 subject.status "" "" "" --data status=screening)"
check "a device creates in its own range" "accepted:None" "$(result 0)"
push rk "$(ev rk KR01 KR01-03001 subject.status "" "" "" --data status=screening)"
check "a second creation of the subject is refused" "rejected:exists" "$(result 0)"

# ---- 4. query references ----------------------------------------------------

SD=$(enroll de)
cb de sync >/dev/null 2>&1
cb dm sync >/dev/null 2>&1
cb dm query open "$SD" SCR DM CONSDT --text "Please confirm" >"$T/out" 2>&1 ||
	fail "dm opens a DE02 query" "$(cat "$T/out")"
QD=$(sed -n 's/^query \([0-9a-f]*\) .*/\1/p' "$T/out")
cb dm sync >/dev/null 2>&1
push rk "$(ev rk KR01 "$S1" query.answer SCR DM "" --data query="$QD" --data text=Confirmed)"
check "a KR01 device cannot answer a DE02 query through its own subject" "rejected:query" "$(result 0)"
push rk "$(ev rk KR01 "$S1" query.answer SCR DM "" --data query=0123456789abcdef0123456789abcdef --data text=Confirmed)"
check "an answer to no query is refused" "rejected:query" "$(result 0)"
push rdm "$(ev rdm KR01 "$S1" query.close SCR DM "" --data query=0123456789abcdef0123456789abcdef)"
check "a close of no query is refused" "rejected:query" "$(result 0)"
cb de sync >/dev/null 2>&1
expect_rc "the DE02 site answers its own query" 0 cb de query answer "$QD" --text "Confirmed"
expect_rc "and syncs" 0 cb de sync
expect_out "the answer is accepted" "1 accepted"

# ---- 5. rules only the laptops applied ---------------------------------------

push rk "$(ev rk KR01 "$S1" query.open BL VAS "" --data check=MADE_UP --data text=Anything --data item=VAS)"
check "a site query under a made-up check is refused" "rejected:query" "$(result 0)"
push rk "$(ev rk KR01 "$S1" query.open LOG AE 1 --data check=AE_END_AFTER_ONSET --data text=Anything)"
check "a site query with a real check but its own text is refused" "rejected:query" "$(result 0)"
push rk "$(ev rk KR01 KR01-03002 subject.status "" "" "" --data status=bogus)"
check "an unknown subject status is refused" "rejected:invalid" "$(result 0)"
push rk "$(ev rk KR01 KR01-03099 form.save BL VAS "" VAS=10)"
check "a save for a subject never created is refused" "rejected:subject" "$(result 0)"
t=$(token investigator KR01)
raw ri investigator KR01
push ri "$(ev ri KR01 "$S1" unblind "" "" "" --reason emergency)"
check "an unblind of a subject never randomized is refused" "rejected:subject" "$(result 0)"
push rk "$(ev rk KR01 "$S1" form.save BL VAS "" VAS=43 --reason "   ")"
check "a blank reason is refused by the server" "rejected:invalid" "$(result 0)"

# ---- 6. rows deleted from a laptop's store ------------------------------------

t=$(token coordinator KR01)
cb s init --server "$URL" --token "$t" --user us >/dev/null 2>&1
SS=$(enroll s)
cb s form set "$SS" BL VAS VAS=50 >/dev/null 2>&1
cb s form set "$SS" BL PE ROM=90 >/dev/null 2>&1
DB="$T/h/s/casebook.db"
cp "$DB" s.good
for what in last middle subject; do
	cp s.good "$DB"
	rm -f "$DB-wal" "$DB-shm"
	case $what in
	last) sqlite3 "$DB" "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)" ;;
	middle) sqlite3 "$DB" "DELETE FROM events WHERE seq = 2" ;;
	subject) sqlite3 "$DB" "DELETE FROM subjects" ;;
	esac
	expect_rc "a deleted row ($what) is told at unlock" 1 cb s status
	expect_out "it says rows were removed ($what)" "rows were removed"
	expect_rc "store check tells it too ($what)" 1 cb s store check
done
# The tally put back: keep the sealed tally of an earlier moment, save
# more, put the old one back.
cp s.good "$DB"
rm -f "$DB-wal" "$DB-shm"
OLDT=$(sqlite3 "$DB" "SELECT hex(value) FROM meta WHERE key = 'store.tally'")
cb s form set "$SS" BL PE EFFUS=SMALL >/dev/null 2>&1 || fail "save after restore" "failed"
cb s subject add >/dev/null 2>&1 || fail "subject add" "failed"
sqlite3 "$DB" "UPDATE meta SET value = X'$OLDT' WHERE key = 'store.tally'"
expect_rc "a tally (clock, subject counter) put back is told" 1 cb s status
expect_out "it says so" "sealed tally"
expect_rc "store check tells it too" 1 cb s store check
cp s.good "$DB"
rm -f "$DB-wal" "$DB-shm"
expect_rc "the intact store opens" 0 cb s store check

# ---- 7. control characters -------------------------------------------------------

ESC=$(printf '\033')
expect_rc "a reason with ESC is refused: exit 3" 3 \
	cb a form set "$S1" BL VAS VAS=44 --reason "x${ESC}[31mred"
expect_out "it names the control character" "control character"
NL=$(printf 'two\nlines')
expect_rc "a value with a line break is refused" 3 cb a ae add "$S1" AETERM="$NL" AESTDTC=2026-02-01
RLO=$(printf 'exe.txt\342\200\256')
expect_rc "a value with U+202E is refused" 3 cb a ae add "$S1" AETERM="$RLO" AESTDTC=2026-02-01
expect_out "it names the bidirectional control" "bidirectional"
expect_rc "a reason of spaces is refused" 2 cb a form set "$S1" SCR DM HEIGHT=161 --reason "   "
push rk "$(ev rk KR01 "$S1" form.save LOG AE 9 "AETERM=a${ESC}[2Jb" AESTDTC=2026-02-01)"
check "the server refuses ESC in a value" "rejected:invalid" "$(result 0)"
push rk "$(ev rk KR01 "$S1" form.save LOG AE 9 "AETERM=$RLO" AESTDTC=2026-02-01)"
check "the server refuses U+202E in a value" "rejected:invalid" "$(result 0)"
# Older text holding them is escaped when shown: a store made with the
# hooks' events (not checked) shows the value escaped, never raw.
cat >mini.json <<'EOF'
{"format":"casebook-protocol/1","id":"MINI","version":"1","title":"Mini",
 "forms":[{"code":"VS","label":"Vital signs","writers":["coordinator"],
   "items":[{"code":"VSDAT","label":"Date","type":"date"},
            {"code":"NOTE","label":"Note","type":"text","max_length":200}]}],
 "visits":[{"code":"BL","label":"Baseline","day":0,"window":[0,0],"forms":["VS"]}],
 "day0":"BL.VS.VSDAT"}
EOF
cb old init --site KR01 --device-index 1 --protocol mini.json --user uo \
	--role coordinator >/dev/null 2>&1 || fail "old store" "init"
CASEBOOK_TEST_HOOKS=1 cbh old store test-events KR01-01001 2 "x${ESC}[31mred" >/dev/null 2>&1 ||
	fail "old events" "test-events failed"
cb old form show KR01-01001 BL VS --history >"$T/out" 2>&1
if grep -q "$ESC" "$T/out"; then
	fail "old text is escaped when shown" "raw ESC in the output"
elif grep -qF 'x\x1b[31mred' "$T/out"; then
	pass "old text is escaped when shown"
else
	fail "old text is escaped when shown" "$(head -c 300 "$T/out")"
fi

# ---- 8. a repeated member -------------------------------------------------------

E=$(ev rk KR01 "$S1" form.save BL VAS "" VAS=45 --reason again)
printf '{"events":[],"events":[%s]}' "$E" >dup.json
sreq rk POST /v1/sync/push "" dup.json
check "a push body with a repeated member is refused: 400" 400 "$code"
check "the error says which member" 1 "$(jget resp 'int("events" in j["error"]["message"] and "more than once" in j["error"]["message"])')"

# ---- 9. a read-only store --------------------------------------------------------

RO="$T/ro"
mkdir -p "$RO"
if mount -t tmpfs -o size=16m tmpfs "$RO" 2>/dev/null; then
	unmount_ro() { umount "$RO" 2>/dev/null || true; }
	at_exit unmount_ro
	cp -a "$T/h/a" "$RO/a"
	mount -o remount,ro "$RO" || fail "read-only remount" "failed"
	how="on a read-only medium"
	ROCB() { "$CB" --home "$RO/a" "$@"; }
else
	# No mounts here: a store this (unprivileged) user may not write.
	cp -a "$T/h/a" "$RO/a"
	chmod 0755 "$T" "$RO"
	chmod 0555 "$RO/a"
	chmod 0444 "$RO/a/casebook.db"
	chown -R nobody "$RO" 2>/dev/null
	how="without write permission"
	ROCB() { setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env CASEBOOK_PASSPHRASE="$CASEBOOK_PASSPHRASE" "$CB" --home "$RO/a" "$@"; }
fi
ROCB subject list >"$T/out" 2>"$T/err"
rc=$?
check "subject list works $how" 0 "$rc"
expect_out "it lists the subjects" "$S1"
ROCB form show "$S1" SCR DM >"$T/out" 2>"$T/err"
check "form show works $how" 0 "$?"
ROCB store check >"$T/out" 2>"$T/err"
check "store check works $how" 0 "$?"
ROCB form set "$S1" BL VAS VAS=46 --reason test >"$T/out" 2>"$T/err"
check "a save $how fails" 1 "$?"
expect_out "it says the store is read-only" "is read-only"

# ---- 10. an interrupted init -------------------------------------------------------

t=$(token coordinator KR01)
CASEBOOK_TEST_HOOKS=1 CASEBOOK_TEST_INIT_STOP=register \
	cbh n init --server "$URL" --token "$t" --user un >/dev/null 2>&1
check "init stopped after the server registered the device" 9 "$?"
if [ -f "$T/h/n/casebook.init-pending" ] && [ ! -f "$T/h/n/casebook.db" ]; then
	pass "no store, and the pending registration kept"
else
	fail "no store, and the pending registration kept" "$(ls "$T/h/n")"
fi
"$CBD" device list --data "$D" >devs.before 2>&1
CASEBOOK_PASSPHRASE=another-pass-99 expect_rc "resuming with another passphrase: exit 4" 4 \
	cb n init --server "$URL" --token "$t" --user un
expect_out "it says to give the same passphrase" "same new passphrase"
expect_rc "the same init again finishes" 0 cb n init --server "$URL" --token "$t" --user un
expect_out "it says it finishes the interrupted one" "interrupted"
DEVN=$(sed -n 's/.*device id \([0-9a-f]*\).*/\1/p' "$T/out")
if [ -n "$DEVN" ] && grep -q "$DEVN" devs.before; then
	pass "with the device the server registered before"
else
	fail "with the device the server registered before" "$DEVN not in the earlier list"
fi
"$CBD" device list --data "$D" >devs.after 2>&1
check "no second device was registered" "$(wc -l <devs.before)" "$(wc -l <devs.after)"
[ ! -f "$T/h/n/casebook.init-pending" ] && pass "the pending file is gone" ||
	fail "the pending file is gone" "still there"
expect_rc "the finished laptop syncs" 0 cb n sync
# Killed while the store was being written: the next init cleans up.
t=$(token coordinator KR01)
CASEBOOK_TEST_HOOKS=1 CASEBOOK_TEST_INIT_STOP=create \
	cbh m init --server "$URL" --token "$t" --user um >/dev/null 2>&1
check "init stopped while writing the store" 9 "$?"
ls "$T/h/m" | grep -q 'casebook.db.new-' && pass "it left a half-made file" ||
	fail "it left a half-made file" "$(ls "$T/h/m")"
expect_rc "init again finishes" 0 cb m init --server "$URL" --token "$t" --user um
if ls "$T/h/m" | grep -q 'casebook.db.new-'; then
	fail "the half-made file is removed" "$(ls "$T/h/m")"
else
	pass "the half-made file is removed"
fi
# An interrupted init with another token is reported, then set aside.
t1=$(token coordinator KR01)
t2=$(token coordinator KR01)
CASEBOOK_TEST_HOOKS=1 CASEBOOK_TEST_INIT_STOP=register \
	cbh o init --server "$URL" --token "$t1" --user uo >/dev/null 2>&1
expect_rc "init with another token after an interrupted one" 0 \
	cb o init --server "$URL" --token "$t2" --user uo
expect_out "it warns that the first token may be spent" "ask the administrator to revoke"

finish
