#!/bin/sh
# t_clinical.sh - issue 13 through the real casebook and casebookd on the
# shipped study, one server and three laptops (investigator, lab, data
# manager):
#
#   1. Blinded items are withheld, never missing: the lab's CELL values
#      reach the investigator's laptop only as "a value exists"; form
#      show says "(withheld: unblinded item)" and status "withheld" (text
#      and --json), a value the lab clears is then shown missing (form
#      show and subject show); a blinded laptop whose first sync is a
#      bundle (casebook bundle export/import) is told the same.
#   2. A second emergency code-break says who broke the code and when,
#      and asks: refused without a terminal or --yes (exit 2, nothing
#      recorded), recorded with --yes.
#   3. The signature prompt names the signer's full name (as the server
#      registered them), the form and the meaning, before the passphrase;
#      `user add` on a laptop takes only people the server knows for its
#      site and role, not disabled (the list each sync brings).
#   4. Queries on an item, a form or a visit; query list --status --site
#      --subject --age; a closed query reopened with a reason; the
#      server takes them all.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null 2>&1 || {
	fail "curl" "curl(1) is needed"
	finish
}
export CASEBOOK_PASSPHRASE=clinical-pass-1 CASEBOOK_KDF_FAST=1 TZ=UTC
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
unset CASEBOOK_CODEBREAK_PASSPHRASE
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
cd "$T" || exit 1
at_exit stop_server

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out unblind.key \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 8 \
	--block-sizes 2,4 --seed "clinical-e2e-$$-abcdefghij" \
	--unblinding-pub unblind.key.pub --out list.json >/dev/null 2>&1 ||
	fail "randlist generate" "failed"
sed -n 's/^    \([A-Z0-9]\{4\}-.*\)$/\1/p' list.json.KR01.codebreak.txt >sheet.pass
"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "casebookd init" "failed"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
"$CBD" site add --data "$D" DE02 --name Berlin >/dev/null 2>&1
people inv:investigator:KR01 lab1:lab dm1:datamanager coord2:coordinator:KR01 \
	inv2:investigator:KR01 gone:coordinator:KR01 berlin:coordinator:DE02
"$CBD" user add --data "$D" drkim --full-name "Dr. Min-ji Kim" --role investigator \
	--site KR01 >/dev/null 2>&1 || fail "drkim" "not registered"
"$CBD" user disable --data "$D" gone --reason "left the study" >/dev/null 2>&1 ||
	fail "gone" "not disabled"
"$CBD" randlist import --data "$D" list.json >/dev/null 2>&1 || fail "randlist import" "failed"
start_server || finish
for who in inv:a lab1:lab dm1:dm; do
	tok=$("$CBD" token create --data "$D" --user "${who%%:*}" 2>/dev/null)
	expect_rc "laptop ${who#*:} registers" 0 cb "${who#*:}" init \
		--server "$URL" --token "$tok" --user "${who%%:*}"
done
expect_rc "investigator takes a lease" 0 cb a sync

# A randomized subject: consent and screening 20 days ago, baseline today.
S=$(cb a subject add 2>/dev/null)
C0=$(date -u -d '-20 days' +%F)
AGE=$(($(date -u -d "$C0" +%Y) - 1960))
for a in "SCR DM CONSDT=$C0 BRTHYR=1960 SEX=F HEIGHT=160 WEIGHT=60 KNEE=L" \
	"SCR SV VISDT=$C0" \
	"SCR ELIG AGE=$AGE KLGRADE=2 PAIN3M=Y BMI=24 IAINJ3M=N INFLARTH=N PREG=N" \
	"BL SV VISDT=$(date -u +%F)"; do
	# shellcheck disable=SC2086
	cb a form set "$S" $a >/dev/null 2>&1 || fail "subject data" "$a: $(cb a form set "$S" $a 2>&1)"
done
expect_rc "subject randomized" 0 cb a randomize "$S"
cb a sync >/dev/null 2>&1

# ---- 1. withheld, never missing --------------------------------------------

cb lab sync >/dev/null 2>&1
expect_rc "lab enters CELL" 0 cb lab form set "$S" INJ CELL CELLCNT=101.5 VIABIL=92 STERIL=PASS
expect_rc "lab syncs" 0 cb lab sync
expect_rc "investigator syncs" 0 cb a sync
expect_rc "form show CELL (blinded)" 0 cb a form show "$S" INJ CELL --history
expect_out "CELL status is withheld" "status: withheld (3 unblinded values entered"
expect_no_out "CELL is not shown empty" "status: empty"
check "every CELL item shown withheld" 3 "$(grep -c '(withheld: unblinded item)' "$T/out")"
expect_no_out "no value shown" "101.5"
expect_out "history says withheld, not none" "(changes withheld: unblinded items)"
expect_rc "form show CELL --json" 0 cb a form show "$S" INJ CELL --json
check "--json: status withheld, 3 values" "withheld 3" \
	"$(jget "$T/out" "j['status'] + ' ' + str(j['withheld_values'])")"
check "--json: items withheld, value null" "[true, true, true]" \
	"$(jget "$T/out" "[i.get('withheld') is True and i['value'] is None for i in j['items']]")"
# subject show says the same of the CELL form.
expect_rc "subject show (blinded)" 0 cb a subject show "$S" --json
check "subject show --json: CELL withheld, values null" "withheld [True, True, True]" \
	"$(jget "$T/out" "[(f['status'], [i['withheld'] and i['value'] is None for i in f['items']]) for v in j['visits'] for f in v['forms'] if f['form'] == 'CELL'][0]" | tr -d '()\"' | sed 's/, \[/ [/' | tr -d "'")"
expect_rc "subject show text (blinded)" 0 cb a subject show "$S"
check "subject show text: every CELL item withheld" 3 "$(grep -c '(withheld: unblinded item)' "$T/out")"
expect_no_out "subject show: no value shown" "101.5"
expect_rc "lab clears VIABIL" 0 cb lab form set "$S" INJ CELL VIABIL= --reason "wrong vial"
cb lab sync >/dev/null 2>&1
cb a sync >/dev/null 2>&1
cb a form show "$S" INJ CELL --json >"$T/out" 2>&1
check "a cleared value is then missing, the others withheld" "[true, false, true]" \
	"$(jget "$T/out" "[i.get('withheld') is True for i in j['items']]")"
check "--json counts 2" 2 "$(jget "$T/out" "j['withheld_values']")"
cb a form show "$S" INJ CELL >"$T/out" 2>&1
check "form show text: 2 items withheld after the clear" 2 "$(grep -c '(withheld: unblinded item)' "$T/out")"
expect_rc "subject show after the clear" 0 cb a subject show "$S" --json
check "subject show --json: the cleared item is not withheld" "withheld CELLCNT STERIL" \
	"$(jget "$T/out" "' '.join([f['status']] + [i['item'] for i in f['items'] if i['withheld']]) if (f := [f for v in j['visits'] for f in v['forms'] if f['form'] == 'CELL'][0]) else ''")"
expect_rc "subject show text after the clear" 0 cb a subject show "$S"
check "subject show text: 2 CELL items withheld" 2 "$(grep -c '(withheld: unblinded item)' "$T/out")"
# The lab itself sees its values.
expect_rc "lab: form show CELL" 0 cb lab form show "$S" INJ CELL
expect_out "lab sees the value" "101.5"
# A form with no unblinded value entered is still empty for the blinded.
S0=$(cb a subject add 2>/dev/null)
expect_rc "form show of an untouched CELL" 0 cb a form show "$S0" INJ CELL
expect_out "untouched CELL is empty" "status: empty"

# ---- 2. a second emergency code-break --------------------------------------

nunb() { cb a dump 2>/dev/null | grep -c '^event .* unblind$'; }
expect_rc "first code-break" 0 cb a unblind "$S" --reason "anaphylaxis" --codebreak-file sheet.pass </dev/null
expect_no_out "the first asks nothing" "already unblinded"
n1=$(nunb)
check "one unblind event" 1 "$n1"
expect_rc "second code-break without a terminal or --yes: exit 2" 2 \
	cb a unblind "$S" --reason "again" --codebreak-file sheet.pass </dev/null
expect_out "it names who broke the code" "already unblinded: by inv (site KR01) at $(date -u +%Y-)"
expect_out "it gives the first reason" "reason: anaphylaxis"
expect_out "it says how to go on" "--yes"
expect_no_out "no arm is shown" "arm:"
check "nothing recorded" "$n1" "$(nunb)"
expect_rc "second code-break declined on the terminal: exit 1" 1 \
	"$PTY" n "$CB" --home "$T/h/a" unblind "$S" --reason "again" --codebreak-file sheet.pass
expect_out "the terminal is asked" "Break the code of $S again? [y/N]"
expect_no_out "declined: no arm" "arm:"
check "declined: nothing recorded" "$n1" "$(nunb)"
expect_rc "second code-break confirmed on the terminal" 0 \
	"$PTY" y "$CB" --home "$T/h/a" unblind "$S" --reason "second look" --codebreak-file sheet.pass
expect_out "confirmed: the arm is shown" "arm:"
check "confirmed: recorded" $((n1 + 1)) "$(nunb)"
expect_rc "a third with --yes" 0 cb a unblind "$S" --reason "third" --yes --codebreak-file sheet.pass </dev/null
expect_out "the third names the latest" "reason: second look (the latest of several code-breaks)"
check "--yes: recorded" $((n1 + 2)) "$(nunb)"

# ---- 3. signers and users known to the server --------------------------------

expect_rc "a person the server does not know: refused" 1 \
	env CASEBOOK_NEW_PASSPHRASE=anybody-pass "$CB" --home "$T/h/a" user add Dr.Anybody --role investigator
expect_out "it says the server does not know them" "the server does not know 'Dr.Anybody' for site KR01"
expect_rc "a person of another site: refused" 1 \
	env CASEBOOK_NEW_PASSPHRASE=berlin-pass "$CB" --home "$T/h/a" user add berlin --role coordinator
expect_out "it names the site" "does not know 'berlin' for site KR01"
expect_rc "a known person with another role: refused" 1 \
	env CASEBOOK_NEW_PASSPHRASE=coord2-pass "$CB" --home "$T/h/a" user add coord2 --role investigator
expect_out "it names the server's role" "as coordinator, not investigator"
expect_rc "a disabled person: refused" 1 \
	env CASEBOOK_NEW_PASSPHRASE=gone-pass-1 "$CB" --home "$T/h/a" user add gone --role coordinator
expect_out "it says disabled" "was disabled on the server"
cb a user list >"$T/out" 2>&1
expect_no_out "no refused user was added" "Anybody"
expect_rc "a known coordinator of the site is added" 0 \
	env CASEBOOK_NEW_PASSPHRASE=coord2-pass "$CB" --home "$T/h/a" user add coord2 --role coordinator
expect_rc "a known investigator is added" 0 \
	env CASEBOOK_NEW_PASSPHRASE=drkim-pass1 "$CB" --home "$T/h/a" user add drkim --role investigator
# The laptop learned the list at its last sync: none of this needed the
# server, and a laptop that never synced cannot tell.
tok=$("$CBD" token create --data "$D" --user inv2 2>/dev/null)
cb b init --server "$URL" --token "$tok" --user inv2 >/dev/null 2>&1 || fail "laptop b" "init"
expect_rc "before its first sync a laptop cannot add anyone" 1 \
	env CASEBOOK_NEW_PASSPHRASE=coord2-pass "$CB" --home "$T/h/b" user add coord2 --role coordinator
expect_out "it says sync first" "run 'casebook sync' first"

# The signature: full name, form and meaning before the passphrase.
stop_server
expect_rc "drkim signs offline" 0 env CASEBOOK_PASSPHRASE=drkim-pass1 \
	"$CB" --home "$T/h/a" --user drkim sign "$S" SCR DM --meaning "Reviewed"
expect_out "the signer's full name" "signer:  Dr. Min-ji Kim (drkim, investigator)"
expect_out "the form" "form:    $S SCR DM (Demographics)"
expect_out "the meaning" "meaning: Reviewed"
expect_rc "on a terminal: signed" 0 env -u CASEBOOK_PASSPHRASE "$PTY" drkim-pass1,drkim-pass1 \
	"$CB" --home "$T/h/a" --user drkim sign "$S" SCR SV
check "on a terminal: the name, form and meaning come before the passphrase" 1 \
	"$(python3 -c 'import sys
t = open(sys.argv[1]).read()
a, b, c = t.find("Dr. Min-ji Kim"), t.find("SCR SV (Visit"), t.find("to sign: ")
print(int(-1 < a < c and -1 < b < c and t.find("meaning: I approve") < c))' "$T/out")"

# A blinded laptop that syncs by bundle is told of the withheld values as
# one that syncs by network: the data manager's first sync is a bundle.
expect_rc "data manager: bundle export" 0 cb dm bundle export "$T/dm.bundle"
expect_rc "casebookd bundle import (data manager)" 0 \
	"$CBD" bundle import --data "$D" "$T/dm.bundle" --reply "$T/dm.reply"
expect_rc "data manager: bundle import" 0 cb dm bundle import "$T/dm.reply"
expect_rc "bundle: form show CELL --json" 0 cb dm form show "$S" INJ CELL --json
check "bundle: the cleared value missing, the others withheld" "[true, false, true]" \
	"$(jget "$T/out" "[i.get('withheld') is True and i['value'] is None for i in j['items']]")"
check "bundle: status withheld, 2 values" "withheld 2" \
	"$(jget "$T/out" "j['status'] + ' ' + str(j['withheld_values'])")"
expect_rc "bundle: subject show --json" 0 cb dm subject show "$S" --json
check "bundle: subject show says the same" "withheld CELLCNT STERIL" \
	"$(jget "$T/out" "' '.join([f['status']] + [i['item'] for i in f['items'] if i['withheld']]) if (f := [f for v in j['visits'] for f in v['forms'] if f['form'] == 'CELL'][0]) else ''")"
expect_rc "bundle: store check" 0 cb dm store check
expect_out "bundle: one subject's withheld values kept" "withheld values of 1 subjects"
start_server || finish

# ---- 4. queries: on a form or a visit, filters, reopen ---------------------

cb a sync >/dev/null 2>&1
expect_rc "data manager syncs" 0 cb dm sync
expect_rc "a query on an item" 0 cb dm query open "$S" SCR DM SEX --text "Sex confirmed?"
QI=$(sed -n 's/^query \([0-9a-f]*\) opened.*/\1/p' "$T/out")
expect_rc "a query on a whole form" 0 cb dm query open "$S" SCR ELIG --text "Eligibility source documents?"
expect_out "the form query names the form" "opened on $S SCR ELIG"
QF=$(sed -n 's/^query \([0-9a-f]*\) opened.*/\1/p' "$T/out")
expect_rc "a query on a whole visit" 0 cb dm query open "$S0" SCR --text "Screening visit not done?"
expect_out "the visit query says so" "opened on $S0 SCR (the visit)"
QV=$(sed -n 's/^query \([0-9a-f]*\) opened.*/\1/p' "$T/out")
expect_rc "a query on an unknown visit: refused" 1 cb dm query open "$S0" XX --text "?"
expect_rc "queries sync" 0 cb dm sync
expect_out "the server takes the three" "3 accepted"
# ids of a query list, sorted, on one line
qids() { cb dm query list "$@" --json 2>/dev/null >"$T/q.json" && jget "$T/q.json" "' '.join(sorted(q['id'] for q in j['queries']))"; }
ALL=$(printf '%s\n' "$QI" "$QF" "$QV" | sort | tr '\n' ' ' | sed 's/ $//')
check "all three listed" "$ALL" "$(qids)"
check "--subject" "$(printf '%s\n' "$QI" "$QF" | sort | tr '\n' ' ' | sed 's/ $//')" "$(qids --subject "$S")"
check "--site KR01" "$ALL" "$(qids --site KR01)"
check "--site DE02: none" "" "$(qids --site DE02)"
check "--site KR0: none (the whole site code)" "" "$(qids --site KR0)"
check "--age 0: all" "$ALL" "$(qids --age 0)"
check "--age 1: none yet" "" "$(qids --age 1)"
check "three days later, --age 2: all" "$ALL" "$(CASEBOOK_CLOCK_OFFSET_MS=$((3 * 86400000)) qids --age 2)"
check "three days later, --age 4: none" "" "$(CASEBOOK_CLOCK_OFFSET_MS=$((3 * 86400000)) qids --age 4)"
expect_rc "--age needs a number" 2 cb dm query list --age soon
expect_rc "--status needs a status" 2 cb dm query list --status pending
cb a sync >/dev/null 2>&1
expect_rc "the site answers the form query" 0 cb a query answer "$QF" --text "Filed in the binder"
cb a sync >/dev/null 2>&1
cb dm sync >/dev/null 2>&1
check "--status answered" "$QF" "$(qids --status answered)"
check "--status open --subject" "$QI" "$(qids --status open --subject "$S")"
expect_rc "close the visit query" 0 cb dm query close "$QV" --text "Visit scheduled"
check "--status closed lists closed ones" "$QV" "$(qids --status closed)"
check "closed ones left out by default" "$(printf '%s\n' "$QI" "$QF" | sort | tr '\n' ' ' | sed 's/ $//')" "$(qids)"
expect_rc "reopen needs a reason" 2 cb dm query reopen "$QV"
expect_rc "reopen an open query: refused" 1 cb dm query reopen "$QI" --text "again"
expect_out "it says not closed" "not closed"
expect_rc "reopen the closed query" 0 cb dm query reopen "$QV" --text "Still no visit date"
expect_out "it says reopened" "reopened"
check "reopened: open again" "$QV" "$(qids --status open --subject "$S0")"
expect_rc "a coordinator may not reopen" 4 cb a query reopen "$QV" --text "x"
expect_rc "reopen syncs" 0 cb dm sync
expect_out "the server takes the close and reopen" "2 accepted"
expect_rc "form show lists the form query" 0 cb dm form show "$S" SCR ELIG
expect_out "as a form-level query" "(form)"

finish
