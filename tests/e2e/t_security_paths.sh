#!/bin/sh
# t_security_paths.sh - the files a bundle sync writes and reads
# (docs/bundles.md, docs/SECURITY.md "Malicious bundle"): no path an
# operator gives, mistyped, relative with "..", or prepared by someone
# else (a symbolic link planted beside it), makes `casebook bundle
# export` or `casebookd bundle import --reply` destroy or leak into
# another file.
#
#   1. export onto the laptop's own store, directly or through "..",
#      onto a directory or onto any file that is not an older bundle:
#      refused, the store unchanged;
#   2. a link planted at the old predictable temporary name (OUT.tmp) or
#      at OUT itself: the file it points to is never written;
#   3. the server's reply onto its own database, its key, the bundle it
#      reads, or a link: refused before anything is applied (the events
#      are not stored, the files unchanged);
#   4. a bundle whose device field is a path, a huge or endless input
#      (/dev/zero), a directory: refused with a message, nothing applied;
#   5. what is written is mode 0600, and an older bundle is replaced.
#
# `casebookd export` and `report` do not exist yet: their output paths
# get the same cases when they do (docs/SECURITY.md).
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=paths-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
cb a init --server "$URL" --token "$(token_for pa coordinator KR01)" --user pa \
	>/dev/null 2>"$T/err" || fail "laptop a" "$(cat "$T/err")"
S=$(cb a subject add 2>/dev/null)
cb a form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "enroll" "form set failed"
stop_server

STORE="$T/h/a/casebook.db"
digest() { cb a store check 2>/dev/null | sed -n 's/^content digest //p'; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# server_state: the server's derived tables and its event count.
server_state() {
	"$CBD" dump --data "$D" 2>/dev/null | sha256sum | cut -d' ' -f1
	"$CBD" status --data "$D" 2>/dev/null | grep -i events
}
D0=$(digest)
[ -n "$D0" ] && pass "the store has a digest" || fail "the store has a digest" "empty"

# ---- 1. export onto files that are not bundles ----------------------------
expect_rc "export onto the store itself: refused" 1 cb a bundle export "$STORE"
expect_out "it says the file is not a bundle and is not overwritten" "not overwritten"
check "the store is unchanged" "$D0" "$(digest)"
mkdir -p work/sub
expect_rc "export onto the store through '..': refused" 1 \
	sh -c "cd work/sub && '$CB' --home '$T/h/a' bundle export ../../h/a/casebook.db"
check "the store is still unchanged" "$D0" "$(digest)"
echo "an ordinary file someone needs" >notes.txt
N0=$(sum notes.txt)
expect_rc "export onto another file: refused" 1 cb a bundle export notes.txt
check "the other file is unchanged" "$N0" "$(sum notes.txt)"
mkdir adir
expect_rc "export onto a directory: refused" 1 cb a bundle export adir
expect_out "it says it is not a regular file" "not a regular file"
# Nothing half made is left beside the refused targets.
left=$(find "$T/h/a" "$T/work" "$T/adir" -name '*.XXXXXX' -o -name 'casebook.db.*' -o -name '*.tmp' | head -3)
check "no temporary file is left behind" "" "$left"

# ---- 2. links planted beside or at the target --------------------------
echo "precious" >victim.txt
V0=$(sum victim.txt)
ln -s victim.txt out.bundle.tmp
expect_rc "export with a link at OUT.tmp: written" 0 cb a bundle export out.bundle
check "the linked file is not written" "$V0" "$(sum victim.txt)"
check "OUT is a bundle file, not a link" "regular file" "$(stat -c %F out.bundle)"
check "OUT starts with the bundle magic" "casebook-bundle/2" "$(head -1 out.bundle)"
check "the planted link is left alone" "victim.txt" "$(readlink out.bundle.tmp)"
ln -s victim.txt link.bundle
expect_rc "export onto a symbolic link: refused" 1 cb a bundle export link.bundle
expect_out "it names the link" "symbolic link"
check "the link's target is not written" "$V0" "$(sum victim.txt)"
ln -s "$STORE" store.link
expect_rc "export onto a link to the store: refused" 1 cb a bundle export store.link
check "the store is unchanged after the link" "$D0" "$(digest)"

# ---- 5. modes and replacing an older bundle ------------------------------
check "the bundle is mode 0600" 600 "$(stat -c %a out.bundle)"
cb a form set "$S" BL VAS VAS=40 >/dev/null 2>&1
expect_rc "an older bundle is replaced" 0 cb a bundle export out.bundle
expect_out "the new one holds the new event" "3 events to push"

# ---- 3. the server's reply -------------------------------------------------
ST0=$(server_state)
K0=$(sum "$D/server.key")
DB0=$(sum "$D/casebookd.db")
expect_rc "reply onto the server database: refused" 1 \
	"$CBD" bundle import --data "$D" out.bundle --reply "$D/casebookd.db"
expect_out "it says the file is not a reply" "not overwritten"
check "the database file is unchanged" "$DB0" "$(sum "$D/casebookd.db")"
check "nothing of the bundle was applied" "$ST0" "$(server_state)"
expect_rc "reply onto the server key through '..': refused" 1 \
	"$CBD" bundle import --data "$D" out.bundle --reply "$D/../data/server.key"
check "the server key is unchanged" "$K0" "$(sum "$D/server.key")"
B0=$(sum out.bundle)
expect_rc "reply onto the bundle it reads: refused" 1 \
	"$CBD" bundle import --data "$D" out.bundle --reply out.bundle
check "the bundle is unchanged" "$B0" "$(sum out.bundle)"
ln -s victim.txt reply.link
expect_rc "reply onto a link: refused" 1 \
	"$CBD" bundle import --data "$D" out.bundle --reply reply.link
check "the link's target is unchanged" "$V0" "$(sum victim.txt)"
check "still nothing applied" "$ST0" "$(server_state)"
ln -s victim.txt good.reply.tmp
expect_rc "a reply with a link at OUT.tmp: written" 0 \
	"$CBD" bundle import --data "$D" out.bundle --reply good.reply
check "the linked file is not written by the server" "$V0" "$(sum victim.txt)"
check "the reply is mode 0600" 600 "$(stat -c %a good.reply)"
expect_rc "the laptop imports the reply" 0 cb a bundle import good.reply
expect_rc "the same import again replaces the older reply" 0 \
	"$CBD" bundle import --data "$D" out.bundle --reply good.reply

# ---- 4. hostile inputs ---------------------------------------------------------
ST1=$(server_state)
DEV=$(sed -n 2p out.bundle)
sed "2s|.*|../../../../tmp/x-$DEV|" out.bundle >path.bundle
expect_rc "a bundle naming a path as its device: refused" 4 \
	"$CBD" bundle import --data "$D" path.bundle --reply path.reply
expect_out "it says it is not a bundle" "not a bundle"
[ -e "/tmp/x-$DEV" ] && fail "no file is made from the device field" "/tmp/x-$DEV exists" ||
	pass "no file is made from the device field"
# The server reads a bundle as a stream: endless zeros, or a directory,
# are not its header (refused as a bundle, exit 4, nothing read further).
expect_rc "/dev/zero as a bundle: refused" 4 \
	timeout 60 "$CBD" bundle import --data "$D" /dev/zero --reply z.reply
expect_out "it says the input is not a bundle" "this is not a bundle"
expect_rc "a directory as a bundle: refused" 4 \
	"$CBD" bundle import --data "$D" adir --reply d.reply
[ -e z.reply ] || [ -e d.reply ] || [ -e path.reply ] &&
	fail "no reply is written for a refused bundle" "$(ls ./*.reply)" ||
	pass "no reply is written for a refused bundle"
check "the server is unchanged by the hostile inputs" "$ST1" "$(server_state)"
# The laptop reads a reply as a stream: endless zeros are not its header
# (refused as a reply, exit 4, before anything is read further).
expect_rc "/dev/zero as a reply: refused" 4 timeout 60 "$CB" --home "$T/h/a" bundle import /dev/zero
expect_out "the laptop says it is not a reply" "not a bundle reply"
expect_out "and that nothing was applied" "nothing was applied"
check "the store is whole after everything" "" \
	"$(cb a store check >/dev/null 2>&1 || echo damaged)"

finish
