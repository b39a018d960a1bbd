#!/bin/sh
# t_scan.sh - encryption at rest, proved on the bytes (DESIGN.md section 6,
# issue #3 "Local store"): known, distinctive values of every kind of item
# (dates, datetimes, free text in Korean and ASCII, integers, decimals,
# choice codes, booleans), the subject status, change reasons, query text
# and the subject ids are entered through the real CLI; then no byte of
# casebook.db, casebook.db-wal or any journal holds any of them, in ASCII,
# UTF-8, UTF-16LE or UTF-16BE, or as JSON \u escapes. The scan runs while a
# second process holds the store open (so the WAL exists and holds every
# recent frame), and again after it closes.
#
# The scan must be able to fail: every needle is first found in the
# decrypted events (`store test-list` of the test build, $CBH), and
# the scanner finds each encoding in a file that holds it.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_TEST_HOOKS=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=scan-pass-1
H="$CASEBOOK_HOME"
DB="$H/casebook.db"
N="$T/needles" # one value a line, UTF-8

# save NAME ARGS...: `casebook form set ARGS`, must exit 0.
save() {
	_n=$1
	shift
	expect_rc "$_n" 0 "$CB" form set "$@"
}
# needle VALUE...: values that must never appear on disk.
needle() {
	for _v in "$@"; do printf '%s\n' "$_v" >>"$N"; done
}

expect_rc "init" 0 "$CB" init --site KR07 --device-index 4 \
	--protocol "$PROTO" --user carol --role investigator
S=$("$CB" subject add)
S2=$("$CB" subject add)
needle "$S" "$S2" "KR07-0400" screening

# Screening: dates, integers, decimals, choice codes, booleans.
save "DM" "$S" SCR DM CONSDT=2023-11-17 BRTHYR=1957 SEX=F HEIGHT=158.3 \
	WEIGHT=71.9 KNEE=R
save "SCR visit" "$S" SCR SV VISDT=2023-11-20
save "ELIG" "$S" SCR ELIG AGE=66 KLGRADE=3 PAIN3M=Y BMI=28.7 IAINJ3M=N \
	INFLARTH=N PREG=N
needle 2023-11-17 1957 158.3 71.9 2023-11-20 28.7
# Baseline: integer scores, decimal thickness, free text, choice codes.
save "BL visit" "$S" BL SV VISDT=2023-12-11
save "HARV" "$S" BL HARV HARVDT=2023-12-11 LIPOVOL=287
save "VAS" "$S" BL VAS VAS=73
save "WOMAC" "$S" BL WOMAC P1=3 P2=2 P3=4 P4=1 P5=3 S1=2 S2=1 F1=2 F2=3 \
	F3=1 F4=2 F5=3 F6=1 F7=2 F8=3 F9=1 F10=2 F11=3 F12=1 F13=2 F14=3 \
	F15=1 F16=2 F17=3
save "MRI" "$S" BL MRI MFCTHK=2.3 READER=Reader-Okapi-4417 SCANDT=2023-12-08
save "PE" "$S" BL PE ROM=117 EFFUS=LARGE
needle 2023-12-11 287 73 2.3 Reader-Okapi-4417 2023-12-08 117 LARGE
# Injection: a datetime, a decimal, a lot number (free text).
save "INJ visit" "$S" INJ SV VISDT=2024-01-02
save "DOSE" "$S" INJ DOSE EXDTC=2024-01-02T10:41 EXVOL=3.1 EXKNEE=R \
	EXLOT=LOT-Narwhal-99173 IMMREACT=N
needle 2024-01-02 2024-01-02T10:41 3.1 LOT-Narwhal-99173
# A serious AE in Korean, then a change with a reason (Korean too); an AE
# that is not ongoing and has no end date opens a system query whose text
# is the check's message.
save "AE 1" "$S" LOG AE#1 AETERM="무릎 부종 심함" AESTDTC=2023-12-14 \
	AEONGO=N AEENDTC=2023-12-19 AETOXGR=3 AESEV=SEV AESER=Y AESHOSP=Y \
	AEREL=POSSIBLE AERELPR=PROBABLE AEACN=TREATED AEOUT=RECOVERED
save "AE 1 changed with a reason" "$S" LOG AE#1 AETOXGR=2 AESEV=MOD \
	--reason "재검토-사유 Reason-Zebra-7731"
save "AE 2 opens a query" "$S" LOG AE#2 AETERM=Quokka-rash-term \
	AESTDTC=2024-01 AEONGO=N
needle "무릎 부종 심함" 2023-12-14 2023-12-19 POSSIBLE PROBABLE TREATED \
	RECOVERED "재검토-사유 Reason-Zebra-7731" Reason-Zebra-7731 \
	Quokka-rash-term "AE is not ongoing: give its end date"
save "S2 consent" "$S2" SCR DM CONSDT=2024-01-08 # EOS_CONSENT
save "EOS" "$S2" LOG EOS EOSSTAT=WITHDREW EOSDT=2024-02-29 \
	EOSREAS="Moved-to-Ulsan-Walrus"
needle 2024-01-08 WITHDREW 2024-02-29 Moved-to-Ulsan-Walrus
# Item codes inside event JSON are clinical structure too.
needle '"item":"AETERM"' '"kind":"form.save"' '"subject":"'

# ---- every needle is in the decrypted events -----------------------------
"$CBH" store test-list >"$T/plain" 2>&1
missing=""
while IFS= read -r v; do
	grep -qF -- "$v" "$T/plain" || missing="$missing [$v]"
done <"$N"
if [ -z "$missing" ]; then
	pass "every needle is in the decrypted store ($(wc -l <"$N") values)"
else
	fail "every needle is in the decrypted store" "missing:$missing"
fi

# ---- the scanner ----------------------------------------------------------
# scan.py NEEDLES FILE...: every encoding of every needle in every file.
# Values of 6 bytes or more are looked for bare; shorter ones (codes like
# "73" occur by chance in random bytes) in the forms the event JSON gives
# them: "value":"73" and "VAS" next to it cannot occur by chance.
cat >"$T/scan.py" <<'EOF'
import json, sys
needles = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\n") if l]
def forms(v):
    out = {}
    if len(v.encode("utf-8")) >= 6:
        out["utf-8"] = v.encode("utf-8")
    else:
        out["utf-8 json"] = ('"value":"%s"' % v).encode("utf-8")
    esc = json.dumps(v)[1:-1]
    if esc != v:
        out["json \\u escapes"] = esc.encode("ascii")
        out["json \\u escapes (lower)"] = esc.lower().encode("ascii")
    base = v if len(v.encode("utf-8")) >= 6 else '"value":"%s"' % v
    out["utf-16le"] = base.encode("utf-16-le")
    out["utf-16be"] = base.encode("utf-16-be")
    return out
found = 0
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for v in needles:
        for enc, b in forms(v).items():
            if b in data:
                print("FOUND %r (%s) in %s at %d" % (v, enc, path, data.index(b)))
                found += 1
print("scanned %d needles in %s" % (len(needles),
      " ".join("%s (%d bytes)" % (p.rsplit("/", 1)[-1], len(open(p, "rb").read()))
               for p in sys.argv[2:])))
sys.exit(1 if found else 0)
EOF
# The scanner finds what it looks for, in each encoding.
python3 - "$T" <<'EOF'
import sys
t = sys.argv[1]
open(t + "/probe-utf8", "wb").write(b"xx" + "무릎 부종 심함".encode() + b"yy")
open(t + "/probe-utf16le", "wb").write(b"x" + "Reader-Okapi-4417".encode("utf-16-le"))
open(t + "/probe-utf16be", "wb").write(b"x" + "KR07-04001".encode("utf-16-be"))
open(t + "/probe-escaped", "wb").write(b'{"AETERM":"\\ubb34\\ub98e \\ubd80\\uc885 \\uc2ec\\ud568"}')
open(t + "/probe-short", "wb").write(b'{"item":"VAS","value":"73"}')
EOF
for probe in utf8 utf16le utf16be escaped short; do
	expect_rc "scanner finds a planted needle ($probe)" 1 \
		python3 "$T/scan.py" "$N" "$T/probe-$probe"
done

# scan NAME: scan every casebook.db* file in the home directory (database,
# WAL, shared memory, journals, temporary files of init) and any other
# file there.
scan() {
	_files=$(find "$H" -type f | sort)
	# shellcheck disable=SC2086
	python3 "$T/scan.py" "$N" $_files >"$T/scan" 2>&1
	if [ $? -eq 0 ]; then
		pass "$1"
	else
		fail "$1" "$(head -c 800 "$T/scan")"
	fi
	tail -1 "$T/scan"
}

# ---- scan while a second process holds the store open ----------------------
# The holder keeps a read transaction open, so no checkpoint can move the
# new frames out of the WAL and the WAL is not removed; the values entered
# meanwhile are then only in the WAL.
python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM sqlite_master").fetchall()
open(sys.argv[2], "w").write("ready")
time.sleep(60)' "$DB" "$T/holder.ready" &
holder=$!
stop_holder() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
at_exit stop_holder
i=0
while [ ! -f "$T/holder.ready" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
save "W1 while held" "$S" W1 SV VISDT=2024-01-09
save "M1 VAS while held" "$S" M1 VAS VAS=41
save "M1 PE while held" "$S" M1 PE ROM=124 EFFUS=SMALL
save "AE 3 while held" "$S" LOG AE#3 AETERM="두통-Wombat-while-held" \
	AESTDTC=2024-01-10 AEONGO=Y
save "AE 2 end date while held, with a reason" "$S" LOG AE#2 \
	AEENDTC=2024-01-30 --reason "Capybara-reason-in-wal"
needle 2024-01-09 124 SMALL "두통-Wombat-while-held" 2024-01-10 \
	2024-01-30 Capybara-reason-in-wal
"$CBH" store test-list >"$T/plain" 2>&1
for v in "두통-Wombat-while-held" Capybara-reason-in-wal; do
	if grep -qF "$v" "$T/plain"; then pass "WAL value stored: $v"; else
		fail "WAL value stored: $v" "not in the decrypted events"; fi
done
if [ -s "$DB-wal" ]; then
	pass "the WAL exists while the store is held open"
else
	fail "the WAL exists while the store is held open" "no $DB-wal"
fi
ls -l "$H" | sed 's/^/  /'
scan "no value in the database or its WAL while held open"
grep -q 'casebook.db-wal' "$T/scan" && pass "the held scan covered the WAL" ||
	fail "the held scan covered the WAL" "$(tail -1 "$T/scan")"

# ---- and after it closes ---------------------------------------------------
stop_holder
expect_rc "store check after the holder closed" 0 "$CB" store check
scan "no value in the database after the WAL is checkpointed"

finish
