#!/bin/sh
# t_sign.sh - electronic signatures (`casebook sign`) through the real CLI
# and store: investigators only (a coordinator gets exit 4 and nothing is
# recorded); the passphrase is asked for again at signing, and a wrong one
# there is refused with exit 4 and records nothing (driven through a
# pseudo-terminal); an empty form is refused; the sign event carries its
# meaning, the signer and the time, and data.seen names the form's
# current values; the form goes empty -> partial -> complete -> signed ->
# signed (broken) after a change -> signed again with a new signature.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=alice-pass-1
MEANING="I approve the data of this form as complete and accurate"

expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
nevents() {
	CASEBOOK_PASSPHRASE=alice-pass-1 "$CB" --user alice store check 2>&1 |
		sed -n 's/^events \([0-9]*\) .*/\1/p'
}
# show VISIT FORM [INSTANCE] KEY...: members of one form in `subject show
# --json`, e.g. `show INJ DOSE '' status` or `... signature.broken`.
cat >"$T/form.py" <<'EOF'
import json, sys
try:
    d = json.load(sys.stdin)
    v, f, i = sys.argv[1], sys.argv[2], sys.argv[3]
    i = int(i) if i else None
    fo = [x for vv in d["visits"] if vv["visit"] == v
          for x in vv["forms"] if x["form"] == f and x["instance"] == i][0]
    out = []
    for key in sys.argv[4:]:
        r = fo
        for k in key.split("."):
            r = r[k] if r is not None else None
        out.append(r if isinstance(r, str) else json.dumps(r))
    print(" ".join(out))
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e))
EOF
show() {
	"$CB" subject show "$S" --json 2>"$T/err" | python3 "$T/form.py" "$@"
}
# The decrypted event list (seq id synced json), one event per line.
events() { "$CBH" store test-list 2>/dev/null; }

"$CB" init --site KR01 --device-index 1 --protocol "$PROTO" --user alice \
	--role investigator >/dev/null 2>&1 || fail "init" "init failed"
CASEBOOK_NEW_PASSPHRASE=bob-pass-12 "$CB" user add bob --role coordinator \
	>/dev/null 2>&1 || fail "user add" "could not add bob"
S=$("$CB" subject add 2>/dev/null)

expect_rc "sign --help" 0 "$CB" sign --help
expect_out "help states the meaning" "$MEANING"
expect_out "help cites 21 CFR 11.50" "21 CFR 11.50"

# ---- refusals that record nothing --------------------------------------------
n0=$(nevents)
expect_same "empty form status" "$(show INJ DOSE '' status)" "empty"
expect_rc "empty form refused" 1 "$CB" sign "$S" INJ DOSE
expect_out "empty form message" "nothing to sign"
expect_same "empty form: nothing recorded" "$(nevents)" "$n0"

"$CB" form set "$S" INJ DOSE EXVOL=3.0 >/dev/null 2>&1
expect_same "one value: partial" "$(show INJ DOSE '' status)" "partial"
n0=$(nevents)
CASEBOOK_PASSPHRASE=bob-pass-12 expect_rc "coordinator may not sign (exit 4)" 4 \
	"$CB" --user bob sign "$S" INJ DOSE
expect_out "coordinator refusal names the role" "only an investigator may sign"
expect_same "coordinator: nothing recorded" "$(nevents)" "$n0"
CASEBOOK_PASSPHRASE=wrong-pass-1 expect_rc "wrong passphrase at unlock: exit 4" 4 \
	"$CB" sign "$S" INJ DOSE
expect_same "wrong unlock: nothing recorded" "$(nevents)" "$n0"
expect_rc "unknown subject" 1 "$CB" sign KR01-01999 INJ DOSE
expect_rc "unknown form" 1 "$CB" sign "$S" INJ NOPE
expect_out "unknown form lists the visit's forms" "SV, CELL, DOSE"
expect_rc "missing arguments: usage" 2 "$CB" sign "$S" INJ
expect_rc "stray argument: usage" 2 "$CB" sign "$S" INJ DOSE extra
expect_same "refusals recorded nothing" "$(nevents)" "$n0"

# ---- the passphrase is asked again: a pseudo-terminal ------------------------
n0=$(nevents)
(unset CASEBOOK_PASSPHRASE
 expect_rc "terminal: wrong passphrase at signing exits 4" 4 "$PTY" \
	alice-pass-1,not-alices-pass "$CB" sign "$S" INJ DOSE
 expect_out "terminal: unlock prompt" "Passphrase for alice:"
 expect_out "terminal: asked again to sign" "Passphrase of alice to sign:"
 expect_out "terminal: wrong passphrase named" "wrong passphrase"
 expect_no_out "terminal: passphrase not echoed" "not-alices-pass"
) | tee "$T/sub.log"
grep -q '^FAIL' "$T/sub.log" && _failures=$((_failures + 1))
expect_same "wrong passphrase at signing: nothing recorded" "$(nevents)" "$n0"
expect_same "wrong passphrase at signing: not signed" \
	"$(show INJ DOSE '' status signature)" "partial null"

(unset CASEBOOK_PASSPHRASE
 expect_rc "terminal: right passphrase twice signs" 0 "$PTY" \
	alice-pass-1,alice-pass-1 "$CB" sign "$S" INJ DOSE
 expect_out "terminal: signed" "signed by alice"
) | tee "$T/sub.log"
grep -q '^FAIL' "$T/sub.log" && _failures=$((_failures + 1))
expect_same "a partial form can be signed" "$(show INJ DOSE '' status)" "signed"

# ---- empty -> partial -> complete -> signed -> broken -> re-signed -------
expect_same "VAS empty" "$(show BL VAS '' status)" "empty"
"$CB" form set "$S" BL WOMAC P1=1 >/dev/null 2>&1
"$CB" form set "$S" BL SV VISDT=2024-03-05 >/dev/null 2>&1
expect_same "SV complete" "$(show BL SV '' status completeness)" \
	"complete complete"
"$CB" form set "$S" BL VAS VAS=42 >/dev/null 2>&1
expect_same "VAS complete" "$(show BL VAS '' status)" "complete"
SAVE1=$(events | grep '"form":"VAS"' | grep '"form.save"' | cut -d' ' -f2)

printf 'alice-pass-1\n' >"$T/pw"
(unset CASEBOOK_PASSPHRASE
 expect_rc "sign with --passphrase-file" 0 "$CB" --passphrase-file "$T/pw" \
	sign "$S" BL VAS
 expect_out "sign prints the signer" "$S BL VAS: signed by alice at "
 expect_out "sign prints the meaning" "meaning: $MEANING"
) | tee "$T/sub.log"
grep -q '^FAIL' "$T/sub.log" && _failures=$((_failures + 1))
expect_same "VAS signed" "$(show BL VAS '' status signature.broken signature.user signature.count)" \
	"signed false alice 1"
expect_same "signature meaning shown" "$(show BL VAS '' signature.meaning)" "$MEANING"
SIG1=$(show BL VAS '' signature.id)

# The sign event as recorded: kind, target, meaning, seen, user, time.
events | grep '"kind":"sign"' | grep '"form":"VAS"' | cut -d' ' -f4- >"$T/sig.json"
expect_same "sign event: what it records" "$(python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).read().splitlines()[0])
print(e["kind"], e["user"], e["target"]["visit"], e["target"]["form"],
      e["data"]["seen"], e["data"]["meaning"] == sys.argv[2],
      e["changes"], len(e["wall"]), e["id"] == sys.argv[3])
' "$T/sig.json" "$MEANING" "$SIG1")" "sign alice BL VAS $SAVE1 True [] 24 True"

expect_rc "plain show: signed" 0 "$CB" subject show "$S"
expect_out "plain show names the signer" "VAS       signed by alice at"

"$CB" form set "$S" BL VAS VAS=50 --reason "transcription error" >/dev/null 2>&1
expect_same "changed after signing: broken" \
	"$(show BL VAS '' status signature.broken signature.id)" \
	"signed (broken) true $SIG1"
expect_rc "plain show after change" 0 "$CB" subject show "$S"
expect_out "plain show: changed after signing" \
	"VAS       signed (broken): changed after signing by alice"
expect_same "other signature untouched" "$(show INJ DOSE '' status)" "signed"

expect_rc "sign again" 0 "$CB" sign "$S" BL VAS --meaning "Reviewed"
expect_same "re-signed: a new signature" \
	"$(show BL VAS '' status signature.broken signature.count signature.meaning)" \
	"signed false 2 Reviewed"
SIG2=$(show BL VAS '' signature.id)
if [ -n "$SIG2" ] && [ "$SIG2" != "$SIG1" ]; then
	pass "new signature has a new id"
else
	fail "new signature has a new id" "'$SIG1' then '$SIG2'"
fi

# A repeating form instance (adverse event; it needs a consent date).
"$CB" form set "$S" SCR DM CONSDT=2024-01-05 >/dev/null 2>&1
"$CB" form set "$S" LOG AE#1 AETERM=Headache >/dev/null 2>&1
expect_rc "sign an AE instance" 0 "$CB" sign "$S" LOG 'AE#1'
expect_out "AE instance named" "$S LOG AE#1: signed"
expect_same "AE#1 signed" "$(show LOG AE 1 status)" "signed"
expect_rc "sign an AE instance that does not exist" 1 "$CB" sign "$S" LOG 'AE#7'

finish
