#!/bin/sh
# t_status.sh - `casebook status` through the real CLI and store: counts of
# unsynced events and open queries (with their ids), quarantined events and
# the last sync from the sync settings (written here with the test hook
# `status test-set` of the test build, $CBH, since sync is built elsewhere),
# and overdue and upcoming visits from the schedule, with today moved by
# CASEBOOK_CLOCK_OFFSET_MS; plain text and --json (parsed and checked).
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE CASEBOOK_CLOCK_OFFSET_MS \
	CASEBOOK_TEST_HOOKS
export CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=alice-pass-1

expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}
cat >"$T/j.py" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    def visits(kind):
        return sorted("%s %s %s" % (x["subject"], x["visit"],
                      x["days_overdue" if kind == "overdue" else "days_until_open"])
                      for x in d[kind])
    r = eval(sys.argv[2])
    print(r if isinstance(r, str) else json.dumps(r, sort_keys=True))
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e))
EOF
j() { python3 "$T/j.py" "$T/out" "$1"; }
jcase() { expect_same "$1" "$(j "$2")" "$3"; }
# The clock offset that makes today DATE (at noon UTC).
offset_to() {
	python3 -c 'import calendar, sys, time
print(calendar.timegm(time.strptime(sys.argv[1], "%Y-%m-%d")) * 1000
      + 12 * 3600 * 1000 - int(time.time() * 1000))' "$1"
}
# status_on DATE NAME: `status --json` with today moved to DATE.
status_on() {
	CASEBOOK_CLOCK_OFFSET_MS=$(offset_to "$1") expect_rc "$2" 0 \
		"$CB" status --json
}
set_ok() { "$CB" form set "$@" >/dev/null 2>&1 || fail "form set $*" "exit $?"; }

"$CB" init --site KR01 --device-index 1 --protocol "$PROTO" --user alice \
	--role investigator >/dev/null 2>&1 || fail "init" "init failed"

expect_rc "status --help" 0 "$CB" status --help
expect_out "help explains quarantine" "quarantine, one row per event"
expect_out "help documents the json" '"days_overdue"'

# ---- an empty store ------------------------------------------------------------
expect_rc "status on an empty store" 0 "$CB" status
expect_out "no unsynced events" "Unsynced events:    0 of 0"
expect_out "no quarantine" "Quarantined events: 0"
expect_out "never synced" "Last sync:          never"
expect_out "no queries" "Open queries:       0"
expect_rc "status --json on an empty store" 0 "$CB" status --json
jcase "empty: counts" \
	'[d["events"], d["unsynced"], d["quarantined"]["count"], d["last_sync"], d["queries"]["open"], d["overdue"], d["upcoming"]]' \
	'[0, 0, 0, null, 0, [], []]'
jcase "status members are stable" 'sorted(d)' \
	'["events", "last_sync", "overdue", "quarantined", "queries", "today", "unsynced", "upcoming"]'

# ---- unsynced events and queries ---------------------------------------------
S1=$("$CB" subject add 2>/dev/null)
set_ok "$S1" SCR SV VISDT=2024-02-10
set_ok "$S1" BL SV VISDT=2024-03-05
expect_rc "status --json after three events" 0 "$CB" status --json
jcase "three unsynced events" '[d["events"], d["unsynced"]]' '[3, 3]'
set_ok "$S1" INJ DOSE EXVOL=5 # soft check: the save and a query
expect_rc "status --json after a soft query" 0 "$CB" status --json
jcase "save and query are unsynced" 'd["unsynced"]' 5
jcase "one open query" 'd["queries"]["open"]' 1
jcase "query listed" \
	'[d["queries"]["list"][0][k] for k in ("subject","visit","form","item","status")]' \
	"[\"$S1\", \"INJ\", \"DOSE\", \"EXVOL\", \"open\"]"
QID=$(j 'd["queries"]["list"][0]["id"]')
expect_rc "status plain with a query" 0 "$CB" status
expect_out "plain: unsynced count" "Unsynced events:    5 of 5"
expect_out "plain: query count" "Open queries:       1"
expect_out "plain: query id and target" "$S1 INJ DOSE EXVOL  [$QID, open]"

S2=$("$CB" subject add 2>/dev/null) # no day 0: no schedule
S3=$("$CB" subject add 2>/dev/null)
set_ok "$S3" BL SV VISDT=2024-03-05 # day 0 but no screening date
expect_rc "status --json with three subjects" 0 "$CB" status --json
jcase "unsynced counts every event" 'd["unsynced"]' 8
# Two subjects off study with the same day 0 as S3 (issue 13 point 2):
# one withdrawn (end of study), one a screen failure (not eligible). No
# visit is due for either, so the lists below hold only S1 and S3.
S4=$("$CB" subject add 2>/dev/null)
set_ok "$S4" BL SV VISDT=2024-03-05
set_ok "$S4" SCR DM CONSDT=2024-02-01
set_ok "$S4" LOG EOS EOSSTAT=WITHDREW EOSDT=2024-03-10 EOSREAS="Moved away"
S5=$("$CB" subject add 2>/dev/null)
set_ok "$S5" BL SV VISDT=2024-03-05
set_ok "$S5" SCR ELIG AGE=50 KLGRADE=4 PAIN3M=Y BMI=30 IAINJ3M=N INFLARTH=N PREG=N
expect_rc "subject list with subjects off study" 0 "$CB" subject list
expect_out "the withdrawn subject is listed as withdrawn" "withdrawn"
expect_out "the ineligible one as a screen failure" "screen failure"

# ---- overdue and upcoming, today moved ---------------------------------------
# Day 0 is 2024-03-05. Windows: SCR -28..-1, INJ 14..28, W1 25..31,
# M1 44..58.
status_on 2024-03-15 "status on day 10"
jcase "today is moved" 'd["today"]' 2024-03-15
jcase "day 10: overdue (SCR without a date)" 'visits("overdue")' \
	"[\"$S3 SCR 11\"]"
jcase "day 10: upcoming INJ opens in 4 days" 'visits("upcoming")' \
	"[\"$S1 INJ 4\", \"$S3 INJ 4\"]"
jcase "day 10: no visit due for the subjects off study" \
	"[x for x in visits('overdue') + visits('upcoming') if x.startswith(('$S4', '$S5'))]" '[]'

jcase "overdue entry has the window" \
	'[d["overdue"][0][k] for k in ("label","window_start","window_end")]' \
	'["Screening", "2024-02-06", "2024-03-04"]'
CASEBOOK_CLOCK_OFFSET_MS=$(offset_to 2024-03-15) expect_rc "plain on day 10" 0 "$CB" status
expect_out "plain: today" "Today:              2024-03-15 (UTC)"
expect_out "plain: upcoming" "$S1 INJ (Injection): window 2024-03-19..2024-04-02 opens in 4 days"
expect_out "plain: overdue" "$S3 SCR (Screening): window 2024-02-06..2024-03-04 ended 11 days ago"
expect_no_out "subject without day 0 has no schedule" "$S2"

status_on 2024-04-11 "status on day 37"
jcase "day 37: INJ and W1 overdue" 'visits("overdue")' \
	"[\"$S1 INJ 9\", \"$S1 W1 6\", \"$S3 INJ 9\", \"$S3 SCR 38\", \"$S3 W1 6\"]"
jcase "day 37: M1 opens in 7 days" 'visits("upcoming")' \
	"[\"$S1 M1 7\", \"$S3 M1 7\"]"
status_on 2024-04-10 "status on day 36"
jcase "day 36: M1 not yet upcoming" 'visits("upcoming")' '[]'

set_ok "$S1" INJ SV VISDT=2024-03-26
set_ok "$S1" W1 SV VISDT=2024-04-02
status_on 2024-04-20 "status on day 46"
jcase "dated visits are no longer overdue" \
	"[x for x in visits('overdue') if x.startswith('$S1')]" '[]'
jcase "day 46: M1 window open" "[x for x in visits('upcoming') if x.startswith('$S1')]" \
	"[\"$S1 M1 -2\"]"
CASEBOOK_CLOCK_OFFSET_MS=$(offset_to 2024-04-20) expect_rc "plain on day 46" 0 "$CB" status
expect_out "plain: window open now" "$S1 M1 (Month 1): window 2024-04-18..2024-05-02 is open now"
status_on 2024-05-03 "status on day 59"
jcase "day 59: M1 overdue by one day" "[x for x in visits('overdue') if x.startswith('$S1')]" \
	"[\"$S1 M1 1\"]"

# ---- quarantine and last sync (the settings sync writes) ----------------------
expect_rc "test-set needs the test hooks" 2 "$CBH" status test-set sync.last x
export CASEBOOK_TEST_HOOKS=1
expect_rc "test hook: quarantine" 0 "$CBH" status test-set sync.quarantine \
	'[{"id":"0123456789abcdef0123456789abcdef","reason":"form CELL may not be written by coordinator"},{"id":"fedcba9876543210fedcba9876543210","reason":"duplicate kit"}]'
expect_rc "test hook: last sync" 0 "$CBH" status test-set sync.last \
	2024-04-01T08:00:00.000Z
expect_rc "test hook: other keys refused" 2 "$CBH" status test-set entry.hlc 0
unset CASEBOOK_TEST_HOOKS
expect_rc "status --json with quarantine" 0 "$CB" status --json
jcase "two quarantined" 'd["quarantined"]["count"]' 2
jcase "quarantine reasons kept" '[e["reason"] for e in d["quarantined"]["events"]]' \
	'["form CELL may not be written by coordinator", "duplicate kit"]'
jcase "last sync" 'd["last_sync"]' 2024-04-01T08:00:00.000Z
expect_rc "status plain with quarantine" 0 "$CB" status
expect_out "plain: quarantine count" "Quarantined events: 2"
expect_out "plain: quarantine reason" \
	"0123456789abcdef0123456789abcdef: form CELL may not be written by coordinator"
expect_out "plain: last sync" "Last sync:          2024-04-01T08:00:00.000Z"
CASEBOOK_TEST_HOOKS=1 expect_rc "test hook: a quarantine is a JSON array" 2 \
	"$CBH" status test-set sync.quarantine '{"not":"an array"}'
# The quarantine is one sealed row per event: a row whose ciphertext was
# moved to another row is an error, never a wrong reason.
python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE quarantine SET sealed = (SELECT sealed FROM quarantine WHERE ord = 2) WHERE ord = 1")
c.commit()' "$CASEBOOK_HOME/casebook.db"
expect_rc "a damaged quarantine row is an error" 1 "$CB" status
expect_out "the damaged quarantine row is named" "a quarantine row"

# ---- bad input -------------------------------------------------------------------
expect_rc "stray argument is usage" 2 "$CB" status --xml
CASEBOOK_PASSPHRASE=wrong-pass-1 expect_rc "wrong passphrase exits 4" 4 "$CB" status

finish
