#!/bin/sh
# t_derived_random.sh - a laptop's derived rows after random interleavings
# of local writes, syncs (pulls) and bundle imports (seed from
# CASEBOOK_SEED, else $$; printed, rerun with it).
#
# Two laptops of one site and a data manager's device work on the same
# subjects in a random order drawn from the seed: saves (some changing
# the same item on both laptops before a sync: conflicts), soft checks
# that open queries, adverse events, queries opened, answered and closed,
# events the server rejects (quarantined), syncs by network and by
# bundle. After every step `store check` derives every subject of the
# laptop again from its events and compares with the rows kept
# incrementally. At the end everyone syncs twice, and:
#
#   - each laptop's rows still equal a fresh derivation (store check);
#   - both laptops and the server print the same canonical dump;
#   - a new laptop of the site, which derives everything once from one
#     pull, lists the same subjects, queries and status as the laptop
#     that kept its rows through all of it; a new data manager's device
#     the same as the one that did.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
SEED=${CASEBOOK_SEED:-$$}
echo "seed $SEED (rerun with CASEBOOK_SEED=$SEED)"
export CASEBOOK_PASSPHRASE=random-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_TEST_HOOKS
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
people ca:coordinator:KR01 ib:investigator:KR01 dm:datamanager \
	cf:coordinator:KR01 dm2:datamanager
start_server || finish
tok() { "$CBD" token create --data "$D" "$@" 2>/dev/null; }
expect_rc "laptop a registers" 0 cb a init --server "$URL" --token "$(tok --site KR01 --role coordinator)" --user ca
expect_rc "laptop b registers" 0 cb b init --server "$URL" --token "$(tok --site KR01 --role investigator)" --user ib
expect_rc "the data manager registers" 0 cb dm init --server "$URL" --token "$(tok --role datamanager)" --user dm

# check NAME HOME: the laptop's rows equal a fresh derivation (after a
# reader has brought pending ones up to date, as every session does).
check_rows() {
	cb "$2" status >/dev/null 2>&1 || fail "$1: status of $2" "failed"
	cb "$2" store check >"$T/out" 2>"$T/err"
	if [ $? -eq 0 ] && grep -q "(0 pending)" "$T/out"; then
		pass "$1: $2's rows equal a fresh derivation"
	else
		fail "$1: $2's rows equal a fresh derivation" "$(cat "$T/out" "$T/err" | tail -3)"
	fi
}
# bundle HOME: sync HOME by carrying files (the server stopped meanwhile).
bundle() {
	cb "$1" bundle export "$T/bundle" >/dev/null 2>"$T/err" || return 1
	stop_server
	"$CBD" bundle import --data "$D" "$T/bundle" --reply "$T/reply" >/dev/null 2>>"$T/err"
	_rc=$?
	start_server || return 1
	[ $_rc -eq 0 ] || return 1
	cb "$1" bundle import "$T/reply" >/dev/null 2>>"$T/err"
}

# The subjects: two on a, one on b, everyone synced.
for l in a a b; do
	cb $l subject add >/dev/null 2>&1 || fail "subject add on $l" "failed"
done
for l in a b dm a b; do cb $l sync >/dev/null 2>&1 || fail "first sync of $l" "failed"; done
SUBJECTS="KR01-01001 KR01-01002 KR01-02001"

# The steps, drawn from the seed: one per line, "OP LAPTOP ARGS...".
python3 - "$SEED" $SUBJECTS >"$T/steps" <<'EOF'
import random, sys
r = random.Random(int(sys.argv[1]))
subjects = sys.argv[2:]
def date(lo, hi):
    return "2024-%02d-%02d" % (r.randint(lo, hi), r.randint(1, 28))
def save():
    s = r.choice(subjects)
    kind = r.randrange(6)
    if kind == 0:
        return "save %s %s SCR SV VISDT=%s" % (r.choice("ab"), s, date(1, 2))
    if kind == 1:
        return "save %s %s BL VAS VAS=%d" % (r.choice("ab"), s, r.randrange(0, 101))
    if kind == 2:   # outside 2.5..3.5 now and then: a soft check's query
        return "save %s %s INJ DOSE EXVOL=%s" % (r.choice("ab"), s, r.choice(["3.0", "3.2", "5", "2.8", "6"]))
    if kind == 3:
        return "save %s %s SCR DM WEIGHT=%d" % (r.choice("ab"), s, r.randrange(50, 100))
    if kind == 4:
        return "save %s %s BL SV VISDT=%s" % (r.choice("ab"), s, date(3, 4))
    return "ae %s %s" % (r.choice("ab"), s)
ops = []
for i in range(int(r.randint(28, 40))):
    x = r.random()
    if x < 0.08:
        # both laptops change one item before either syncs: a conflict
        # once both have synced, resolved by a later save of the item
        sub = r.choice(subjects)
        ops.append("save a %s BL VAS VAS=%d" % (sub, r.randrange(0, 50)))
        ops.append("save b %s BL VAS VAS=%d" % (sub, r.randrange(50, 101)))
    elif x < 0.45:
        ops.append(save())
    elif x < 0.62:
        ops.append("sync %s" % r.choice(["a", "b", "dm"]))
    elif x < 0.70:
        ops.append("bundle %s" % r.choice("ab"))
    elif x < 0.78:
        ops.append("open dm %s" % r.choice(subjects))
    elif x < 0.86:
        ops.append("answer %s" % r.choice(["a", "b"]))
    elif x < 0.91:
        ops.append("close dm")
    else:
        ops.append("reject %s %s" % (r.choice("ab"), r.choice(subjects)))
print("\n".join(ops))
EOF
echo "steps: $(wc -l <"$T/steps")"

n=0
while read -r op l rest <&3; do
	n=$((n + 1))
	case $op in
	save)
		# shellcheck disable=SC2086
		set -- $rest
		cb "$l" form set "$@" --reason "step $n" >"$T/out" 2>"$T/err"
		;;
	ae)
		cb "$l" ae add "$rest" AETERM="Knee pain $n" AESTDTC=2024-03-1$((n % 9)) \
			>"$T/out" 2>"$T/err"
		;;
	sync)
		cb "$l" sync >"$T/out" 2>"$T/err" || fail "step $n: sync $l" "$(head -c 300 "$T/err")"
		;;
	bundle)
		bundle "$l" || fail "step $n: bundle $l" "$(head -c 300 "$T/err")"
		;;
	open)
		cb dm query open "$rest" SCR SV VISDT --text "Please check (step $n)" \
			>"$T/out" 2>"$T/err"
		;;
	answer)
		q=$(cb "$l" query list --json 2>/dev/null | python3 -c '
import json, sys
q = [x for x in json.load(sys.stdin)["queries"] if x["status"] == "open"]
print(q[0]["id"] if q else "")')
		[ -n "$q" ] && cb "$l" query answer "$q" --text "Checked (step $n)" >"$T/out" 2>"$T/err"
		;;
	close)
		q=$(cb dm query list --json 2>/dev/null | python3 -c '
import json, sys
q = [x for x in json.load(sys.stdin)["queries"] if x["status"] == "answered" and not x["system"]]
print(q[0]["id"] if q else "")')
		[ -n "$q" ] && cb dm query close "$q" >"$T/out" 2>"$T/err"
		;;
	reject)
		CASEBOOK_TEST_HOOKS=1 cbh "$l" store test-events "$rest" 1 "bogus $n" >/dev/null 2>&1
		;;
	esac
	echo "step $n: $op $l $rest"
	check_rows "step $n ($op)" "$l"
done 3<"$T/steps" </dev/null

# Everyone syncs, twice around.
for l in a b dm a b dm; do
	cb "$l" sync >"$T/out" 2>"$T/err" || fail "final sync of $l" "$(head -c 300 "$T/err")"
done
for l in a b dm; do check_rows "at the end" "$l"; done

# The data manager resolves a conflict the sites left, if there is one:
# a save naming every head, on a form it may not otherwise write.
cb dm dump 2>/dev/null | awk '/^subject "/ { s = $2 }
	/^item .* conflict / { f = $3; if ($4 != "\"\"") f = f "#" $4
		print s, $2, f, $5; exit }' | tr -d '"' >"$T/conflict"
if read -r cs cv cf citem <"$T/conflict"; then
	before=$(cb a subject list --json | python3 -c 'import json,sys; print(sum(s["conflicts"] for s in json.load(sys.stdin)["subjects"]))')
	# One of the values in conflict, as a data manager would choose.
	cval=$(cb dm form show "$cs" "$cv" "$cf" --json 2>/dev/null | python3 -c '
import json, sys
it = [i for i in json.load(sys.stdin)["items"] if i["item"] == sys.argv[1]][0]
print([v for v in it["values"] if v is not None][0])' "$citem")
	expect_rc "the data manager resolves $cs $cv $cf $citem to $cval" 0 \
		cb dm form set "$cs" "$cv" "$cf" "$citem=$cval" --reason "resolved centrally"
	# An item of the subject in no conflict (the sites' random saves
	# may have left WEIGHT in conflict too).
	free_item=$(cb dm form show "$cs" SCR DM --json 2>/dev/null | python3 -c '
import json, sys
items = {i["item"]: i for i in json.load(sys.stdin)["items"]}
for name, value in (("WEIGHT", "61"), ("HEIGHT", "171")):
    if not items.get(name, {}).get("conflict"):
        print(name + "=" + value)
        break')
	if [ -n "$free_item" ]; then
		expect_rc "it may not change an item not in conflict ($free_item)" 4 \
			cb dm form set "$cs" SCR DM "$free_item" --reason "not a resolution"
	fi
	for l in dm a b dm a b; do
		cb "$l" sync >/dev/null 2>"$T/err" || fail "sync of $l after the resolution" "$(head -c 300 "$T/err")"
	done
	after=$(cb a subject list --json | python3 -c 'import json,sys; print(sum(s["conflicts"] for s in json.load(sys.stdin)["subjects"]))')
	same_n() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi; }
	same_n "the site sees one conflict fewer" "$((before - 1))" "$after"
	for l in a b dm; do check_rows "after the resolution" "$l"; done
else
	echo "no conflict left to resolve with seed $SEED"
fi

"$CBD" dump --data "$D" --canonical --site KR01 >"$T/srv" 2>"$T/err" || fail "server dump" "$(cat "$T/err")"
cb a dump >"$T/dump.a" 2>&1
cb b dump >"$T/dump.b" 2>&1
if cmp -s "$T/srv" "$T/dump.a" && cmp -s "$T/srv" "$T/dump.b"; then
	pass "both laptops and the server print the same dump"
else
	fail "both laptops and the server print the same dump" \
		"$(diff "$T/srv" "$T/dump.a" | head -4) / $(diff "$T/srv" "$T/dump.b" | head -4)"
fi

# A new laptop and a new data manager's device derive everything once.
expect_rc "a new laptop of the site" 0 cb f init --server "$URL" --token "$(tok --site KR01 --role coordinator)" --user cf
expect_rc "a new data manager's device" 0 cb dm2 init --server "$URL" --token "$(tok --role datamanager)" --user dm2
expect_rc "the new laptop syncs" 0 cb f sync
expect_rc "the new data manager's device syncs" 0 cb dm2 sync
# views HOME: what a laptop lists, less what depends on its own history
# (its unsynced and quarantined events, its last sync).
views() {
	cb "$1" subject list --json
	cb "$1" query list --all --json
	cb "$1" status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in ("events", "unsynced", "quarantined", "last_sync", "today"):
    d.pop(k)
print(json.dumps(d, sort_keys=True))'
	cb "$1" dump
}
views a >"$T/views.a" 2>&1
cb a status --json >"$T/status.a" 2>/dev/null
cb a subject list --json >"$T/list.a" 2>/dev/null
echo "laptop a at the end: $(jget "$T/status.a" '"%d open queries, %d quarantined" % (j["queries"]["open"], j["quarantined"]["count"])')," \
	"$(jget "$T/list.a" 'sum(s["conflicts"] for s in j["subjects"])') conflicted items," \
	"$(grep -c '^query ' "$T/dump.a") queries in the dump"
views f >"$T/views.f" 2>&1
views dm >"$T/views.dm" 2>&1
views dm2 >"$T/views.dm2" 2>&1
if cmp -s "$T/views.a" "$T/views.f"; then
	pass "the new laptop lists what the old one lists"
else
	fail "the new laptop lists what the old one lists" "$(diff "$T/views.a" "$T/views.f" | head -6)"
fi
if cmp -s "$T/views.dm" "$T/views.dm2"; then
	pass "the new data manager's device lists what the old one lists"
else
	fail "the new data manager's device lists what the old one lists" "$(diff "$T/views.dm" "$T/views.dm2" | head -6)"
fi
if grep -q '"subjects"' "$T/views.f" && grep -q "KR01-02001" "$T/views.f"; then
	pass "the views are not empty"
else
	fail "the views are not empty" "$(head -c 300 "$T/views.f")"
fi
stop_server
finish
