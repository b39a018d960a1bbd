#!/bin/sh
# t_disk.sh - disk faults (issue 14): the laptop's store and the server's
# data directory each on a small file system of their own, which fills
# up, and which goes read-only. On both sides: a clear error ("the disk
# is full", "read-only"), the right exit code, nothing corrupted
# (integrity_check, `store check`, derived tables equal a rebuild),
# nothing lost (what was saved stays, what was queued stays queued), and
# everything completes once space returns or the medium is writable
# again (canonical dumps of laptop and server equal).
#
# Where this user may mount (root, a sandbox that allows it), each file
# system is a tmpfs of a few MiB made by the test and filled with a file
# of zeros. Where it may not, the same faults are injected with
# tests/tools/faultinj.so: every file write fails with ENOSPC (a full
# disk), or every open for writing, write and unlink fails with EROFS (a
# read-only medium). The first line of output says which; DISK_INJECT=1
# takes the injected faults where mount works too.
. "$(dirname "$0")/lib.sh"

: "${CASEBOOK_TOOLS:=$CASEBOOK_TOP/build/tools}"
FI="$CASEBOOK_TOOLS/faultinj.so"
for tool in curl sqlite3; do
	command -v $tool >/dev/null 2>&1 || {
		fail "$tool" "$tool(1) is needed"
		finish
	}
done
export CASEBOOK_PASSPHRASE=disk-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_CLOCK_OFFSET_MS
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
cd "$T" || exit 1
mkdir -p L S

# ---- the two small file systems, or the injected faults -----------------------

MOUNTED=0
# DISK_INJECT=1 takes the injected faults even where mount works.
if [ "${DISK_INJECT:-0}" != 1 ] && mount -t tmpfs -o size=6m tmpfs L 2>/dev/null; then
	if mount -t tmpfs -o size=6m tmpfs S 2>/dev/null; then
		MOUNTED=1
	else
		umount L
	fi
fi
unmount_all() {
	stop_server
	if [ $MOUNTED = 1 ]; then
		umount "$T/L" 2>/dev/null
		umount "$T/S" 2>/dev/null
	fi
	return 0
}
at_exit unmount_all
if [ $MOUNTED = 1 ]; then
	echo "disk faults: two 6 MiB tmpfs file systems, filled and remounted read-only"
else
	[ -f "$FI" ] || {
		fail "faultinj.so" "cannot mount here and $FI is missing"
		finish
	}
	echo "disk faults: mount is not allowed here; ENOSPC and EROFS injected with faultinj.so"
fi
# FAULT_L / FAULT_S: what runs the laptop's / the server's commands (an
# injection prefix when the disk fault is injected, else nothing).
FAULT_L="" FAULT_S=""
# fill WHICH: the laptop's (L) or the server's (S) disk is full.
fill() {
	if [ $MOUNTED = 1 ]; then
		dd if=/dev/zero of="$T/$1/filler" bs=64k 2>/dev/null
		dd if=/dev/zero of="$T/$1/filler2" bs=512 2>/dev/null
		sync
	else
		eval "FAULT_$1=\"env LD_PRELOAD=$FI CBFAULT=write CBFAULT_N=1 CBFAULT_STICKY=1 CBFAULT_ERRNO=ENOSPC\""
	fi
}
# fill_some L: the laptop's disk keeps about 72 KiB free, so a few saves
# go through before it refuses.
fill_some() {
	if [ $MOUNTED = 1 ]; then
		_free=$(df -k --output=avail "$T/$1" | tail -1)
		dd if=/dev/zero of="$T/$1/filler" bs=1k count=$((_free - 72)) 2>/dev/null
		sync
	else
		fill "$1"
	fi
}
# readonly WHICH / writable WHICH / unfill WHICH
readonly_fs() {
	if [ $MOUNTED = 1 ]; then
		mount -o remount,ro "$T/$1" || fail "remount read-only" "$1"
	else
		eval "FAULT_$1=\"env LD_PRELOAD=$FI CBFAULT=rofs CBFAULT_N=1 CBFAULT_STICKY=1\""
	fi
}
writable_fs() {
	if [ $MOUNTED = 1 ]; then
		mount -o remount,rw "$T/$1" || fail "remount read-write" "$1"
	fi
	eval "FAULT_$1=\"\""
}
unfill() {
	rm -f "$T/$1/filler" "$T/$1/filler2" "$T/$1/filler3"
	eval "FAULT_$1=\"\""
}

D="$T/S/data"
# The server, with the faults of its disk (injected ones from the first
# request on: the disk fills while it serves).
start_srv() {
	$FAULT_S ${FAULT_S:+CBFAULT_ARM=accept:2} "$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" 2>>"$T/server.log" &
	SRV_PID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ] || ! kill -0 "$SRV_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
}
srv_alive() { kill -0 "$SRV_PID" 2>/dev/null && curl -sf "$URL/v1/health" >/dev/null 2>&1; }
# lcb ARGS: casebook on laptop A (on L), with the faults of its disk.
lcb() { $FAULT_L "$CB" --home "$T/L/a" "$@"; }
dump_a() { "$CB" --home "$T/L/a" dump 2>&1; }
unsynced_a() {
	"$CB" --home "$T/L/a" status 2>/dev/null |
		sed -n 's/^Unsynced events: *\([0-9]*\) of.*/\1/p'
}
srv_dump() { "$CBD" dump --data "$D" --canonical --site KR01 2>&1; }
integrity() { # NAME DBFILE
	check "$1" ok "$(sqlite3 "file:$2?mode=ro" 'PRAGMA integrity_check' 2>&1)"
}
# same_record NAME: laptop A and the server hold the same record.
same_record() {
	dump_a >a.dump
	srv_dump >s.dump
	if [ -s s.dump ] && cmp -s a.dump s.dump; then
		pass "$1"
	else
		fail "$1" "$(diff a.dump s.dump | head -5)"
	fi
}
# rebuild_equal NAME: the server's derived tables equal a rebuild.
rebuild_equal() {
	rm -rf rb
	cp -a "$D" rb
	"$CBD" dump --data rb >live.txt 2>&1
	"$CBD" rebuild --data rb >/dev/null 2>&1
	"$CBD" dump --data rb >rebuilt.txt 2>&1
	if [ -s live.txt ] && cmp -s live.txt rebuilt.txt; then
		pass "$1"
	else
		fail "$1" "$(diff live.txt rebuilt.txt | head -4)"
	fi
}

# ---- set-up: a server, laptop A (on L) and laptop B --------------------------------

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "casebookd init"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_srv || fail "server starts" "$(tail -3 server.log)"
cb_a_init() { "$CB" --home "$T/L/a" init --server "$URL" --token "$(token_for ua investigator KR01)" --user ua; }
expect_rc "register A (store on the small disk)" 0 cb_a_init
expect_rc "register B" 0 cb B init --server "$URL" --token "$(token_for ub coordinator KR01)" --user ub
S1=$(lcb subject add 2>"$T/err") || fail "subject add" "$(cat "$T/err")"
expect_rc "A enters demographics" 0 lcb form set "$S1" SCR DM CONSDT=2026-01-05 \
	BRTHYR=1960 SEX=F HEIGHT=160 WEIGHT=70 KNEE=L
expect_rc "A syncs" 0 lcb sync
expect_rc "B syncs" 0 cb B sync

# ---- the laptop's disk fills up ----------------------------------------------------

# B records something for A to take in later.
expect_rc "B records a visit" 0 cb B form set "$S1" BL VAS VAS=55
expect_rc "B syncs" 0 cb B sync
q0=$(unsynced_a)
fill_some L
# Saves go on until the disk refuses some; each refusal is clear.
n=0 refused=0 bad=0
: >saved.txt
while [ $n -lt 80 ] && [ $refused -lt 3 ]; do
	n=$((n + 1))
	term=$(printf 'disk-full-term-%04d-%0150d' $n 0)
	lcb ae add "$S1" AETERM="$term" AESTDTC=2026-01-06 AEONGO=Y AETOXGR=1 \
		AESEV=MILD AESER=N >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "$term" >>saved.txt
		continue
	fi
	refused=$((refused + 1))
	if [ $rc -ne 1 ] || ! grep -q "disk is full" "$T/err"; then
		bad=$((bad + 1))
		fail "a save on a full disk: exit 1, 'the disk is full'" "exit $rc: $(cat "$T/err")"
	fi
done
echo "the laptop's full disk refused $refused of $n saves"
[ $refused -gt 0 ] || fail "the full laptop disk refuses a save" "$n saves all succeeded"
[ $refused -gt 0 ] && [ $bad -eq 0 ] &&
	pass "saves on a full laptop disk fail clearly: exit 1, 'the disk is full'"
# Reading needs room too (SQLite's shared-memory index of its log):
# on a disk with no byte left it works, or says the disk is full.
for c in status "store check" "subject list"; do
	# shellcheck disable=SC2086
	lcb $c >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] || { [ $rc -eq 1 ] && grep -q "disk is full" "$T/err"; }; then
		pass "$c on a full disk works or says the disk is full (exit $rc)"
	else
		fail "$c on a full disk" "exit $rc: $(cat "$T/err")"
	fi
done
lcb sync >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "disk is full" "$T/err"; then
	pass "sync on a full laptop disk fails saying the disk is full"
else
	fail "sync on a full laptop disk" "exit $rc: $(cat "$T/out" "$T/err" | head -c 400)"
fi

unfill L
# What the full disk left: every save it reported, whole (an AE with
# all six items), and no trace of a refused one; the store sound; its
# work still queued.
dump_a >a.dump
python3 - a.dump saved.txt >whole.out <<'PY'
import re, sys
items, term = {}, {}
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r'item "LOG" "AE" "(\d+)" "(\w+)" = "(.*)"$', line.rstrip("\n"))
    if m:
        items.setdefault(m.group(1), set()).add(m.group(2))
        if m.group(2) == "AETERM":
            term[m.group(1)] = m.group(3)
saved = set(open(sys.argv[2]).read().split())
found = {t for t in term.values() if t.startswith("disk-full-term-")}
bad = [k for k, t in term.items() if t in found and len(items[k]) != 6]
print("saved %d found %d partial %d" % (len(saved), len(found), len(bad)))
sys.exit(0 if found == saved and not bad else 1)
PY
check "each reported save is whole in the store, no refused one left a trace" 0 "$?"
cat whole.out
expect_rc "store check passes once space returns" 0 lcb store check
integrity "the laptop's database is sound" "$T/L/a/casebook.db"
q1=$(unsynced_a)
if [ "$q1" -ge "$q0" ]; then
	pass "nothing was lost: A's work is still queued ($q0 -> $q1 events)"
else
	fail "nothing lost on a full laptop disk" "$q0 -> $q1 unsynced"
fi
expect_rc "with space again, A saves" 0 lcb ae add "$S1" AETERM=after-space \
	AESTDTC=2026-01-07 AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N
expect_rc "with space again, A syncs" 0 lcb sync
expect_rc "and again (everything pulled)" 0 lcb sync
check "nothing unsynced on A" 0 "$(unsynced_a)"
same_record "A and the server hold the same record after the full disk"

# ---- the laptop's disk goes read-only ------------------------------------------------

expect_rc "A enters a value" 0 lcb form set "$S1" BL PE ROM=120 EFFUS=NONE
q0=$(unsynced_a)
readonly_fs L
dump_a >before.dump
expect_rc "a save on a read-only store: exit 1" 1 lcb form set "$S1" BL PE ROM=121 --reason retest
expect_out "it says the store is read-only" "read-only"
lcb sync >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -ne 0 ] && grep -q "read-only" "$T/err"; then
	pass "sync of a read-only store fails saying it is read-only (exit $rc)"
else
	fail "sync of a read-only store" "exit $rc: $(head -c 400 "$T/err")"
fi
dump_a >after.dump
if cmp -s before.dump after.dump; then
	pass "the read-only store is unchanged"
else
	fail "the read-only store is unchanged" "$(diff before.dump after.dump | head -3)"
fi
writable_fs L
check "its work stayed queued" "$q0" "$(unsynced_a)"
expect_rc "writable again, A syncs" 0 lcb sync
same_record "A and the server agree after the read-only spell"

# ---- the server's disk fills up -----------------------------------------------------

for k in 1 2 3 4 5; do
	lcb form set "$S1" BL VAS VAS=$((60 + k)) --reason "server disk test $k" >/dev/null 2>&1 ||
		fail "A enters data offline" "$k"
done
q0=$(unsynced_a)
"$CBD" dump --data "$D" --canonical >srv.before 2>&1
if [ $MOUNTED = 0 ]; then
	# Injected: the server is restarted with every write failing.
	kill "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	fill S
	start_srv || fail "the server starts on a full disk" "$(tail -3 server.log)"
else
	fill S
fi
: >server.log.full
lcb sync --retries 0 >"$T/out" 2>"$T/err"
rc=$?
check "sync to a server with a full disk exits 5 (work stays queued)" 5 "$rc"
expect_out "the laptop says nothing was lost" "nothing was lost"
check "A's events are still queued" "$q0" "$(unsynced_a)"
if srv_alive; then
	pass "the server keeps running on a full disk"
else
	fail "the server keeps running on a full disk" "$(tail -3 server.log)"
fi
if grep -q "disk is full" server.log; then
	pass "the server's log says its disk is full"
else
	fail "the server's log says its disk is full" "$(grep -i error server.log | tail -3)"
fi

# Bundle import on the full disk (the server stopped, as it must be;
# stopping it removes its log, so the disk is filled again).
kill "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
SRV_PID=""
[ $MOUNTED = 1 ] && dd if=/dev/zero of="$T/S/filler3" bs=512 2>/dev/null
lcb bundle export a.bundle >/dev/null 2>"$T/err" || fail "bundle export" "$(cat "$T/err")"
$FAULT_S "$CBD" bundle import --data "$D" a.bundle --reply a.reply >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "disk is full" "$T/err" && [ ! -e a.reply ]; then
	pass "bundle import on a full disk: exit 1, 'the disk is full', no reply"
else
	fail "bundle import on a full disk" "exit $rc: $(head -c 300 "$T/err")"
fi

unfill S
"$CBD" dump --data "$D" --canonical >srv.after 2>&1
if cmp -s srv.before srv.after; then
	pass "the server's record is unchanged by the refused push and import"
else
	fail "the server's record is unchanged by the refused push and import" "$(diff srv.before srv.after | head -3)"
fi
integrity "the server's database is sound after the full disk" "$D/casebookd.db"
rebuild_equal "the server's derived tables equal a rebuild after the full disk"
start_srv || fail "the server starts with space again" "$(tail -3 server.log)"
expect_rc "with space again, A syncs" 0 lcb sync
check "nothing unsynced on A" 0 "$(unsynced_a)"
same_record "A and the server hold the same record after the server's full disk"

# ---- the server's disk goes read-only ---------------------------------------------

# A file system with files open for writing cannot be remounted
# read-only, so this is the server's data directory found read-only at
# its next start (after a disk error, say): it refuses to serve, saying
# why; bundle import refuses too; the record can still be read.
lcb form set "$S1" BL VAS VAS=77 --reason "read-only server test" >/dev/null 2>&1 ||
	fail "A enters data" "before the read-only server"
q0=$(unsynced_a)
"$CBD" dump --data "$D" --canonical >srv.before 2>&1
stop_server
readonly_fs S
$FAULT_S "$CBD" serve --data "$D" --listen "127.0.0.1:$PORT" >"$T/out" 2>"$T/err" &
p=$!
i=0
while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
if kill -0 $p 2>/dev/null; then
	kill $p
	wait $p 2>/dev/null
	fail "the server refuses to start on a read-only data directory" "it serves"
else
	wait $p
	rc=$?
	if [ $rc -eq 1 ] && grep -q -i "read-only" "$T/err"; then
		pass "the server refuses to start on a read-only data directory, saying so"
	else
		fail "the server refuses to start on a read-only data directory" "exit $rc: $(head -c 300 "$T/err")"
	fi
fi
lcb sync --retries 0 >"$T/out" 2>"$T/err"
check "meanwhile a laptop's sync exits 5" 5 "$?"
check "A's event is still queued" "$q0" "$(unsynced_a)"
lcb bundle export a2.bundle >/dev/null 2>"$T/err" || fail "bundle export" "$(cat "$T/err")"
$FAULT_S "$CBD" bundle import --data "$D" a2.bundle --reply a2.reply >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q -i "read-only" "$T/err" && [ ! -e a2.reply ]; then
	pass "bundle import on a read-only data directory: exit 1, says read-only, no reply"
else
	fail "bundle import on a read-only data directory" "exit $rc: $(head -c 300 "$T/err")"
fi
$FAULT_S "$CBD" status --data "$D" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] || grep -q "read-only" "$T/err"; then
	pass "reading a read-only data directory works or says it is read-only (exit $rc)"
else
	fail "reading a read-only data directory" "exit $rc: $(head -c 300 "$T/err")"
fi

writable_fs S
"$CBD" dump --data "$D" --canonical >srv.after 2>&1
cmp -s srv.before srv.after && pass "the read-only spell changed nothing on the server" ||
	fail "the read-only spell changed nothing on the server" "$(diff srv.before srv.after | head -3)"
start_srv || fail "the server starts on a writable disk" "$(tail -3 server.log)"
expect_rc "writable again, A syncs" 0 lcb sync
expect_rc "B syncs" 0 cb B sync
check "nothing unsynced on A" 0 "$(unsynced_a)"
same_record "A and the server hold the same record at the end"
stop_server
rebuild_equal "the server's derived tables equal a rebuild at the end"
integrity "the server's database is sound at the end" "$D/casebookd.db"
integrity "the server's nonce database is sound at the end" "$D/nonces.db"
integrity "A's database is sound at the end" "$T/L/a/casebook.db"
finish
