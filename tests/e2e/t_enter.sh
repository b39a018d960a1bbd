#!/bin/sh
# t_enter.sh - `casebook form enter` driven through a pseudo-terminal with
# expect(1): answers item by item, an invalid answer is refused and asked
# again, "?" shows help, Enter keeps a value, "-" clears one, the summary
# and "Save? [y/N]", a reason when a saved value changes, a hard
# cross-item check sending the person back to the answers; `form show`
# then has the values, and declining to save (or Ctrl-D) saves nothing.
# The passphrase is asked on the same terminal in one run.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1 CASEBOOK_HOME="$T/home" CASEBOOK_PASSPHRASE=enter-pass-1
unset CASEBOOK_USER CASEBOOK_NEW_PASSPHRASE

if ! command -v expect >/dev/null 2>&1; then
	fail "expect installed" "expect(1) is missing: run scripts/install-deps.sh"
	finish
fi

# drive.exp CMD ARGS...: run CMD on a pseudo-terminal. Item prompts
# ("CODE: " or "CODE [now]: ") are answered from $ANSWERS, a list of
# CODE=VALUE separated by "|", taken in order for the same code (so a
# refused answer can be followed by a good one); an item with no answer
# left gets Enter. "Save? [y/N]" gets $SAVE, "Reason: " $REASON, "try
# again?" $RETRY (then $ANSWERS2 is used), "Passphrase for" $PW, and
# $EOF_AT=CODE sends Ctrl-D at that item. Exits with CMD's exit code.
cat >"$T/drive.exp" <<'EOF'
set timeout 20
log_user 1
proc env_or {name def} {
	global env
	if {[info exists env($name)]} { return $env($name) }
	return $def
}
proc load_answers {text} {
	set q [dict create]
	foreach pair [split $text "|"] {
		if {$pair eq ""} continue
		set eq [string first "=" $pair]
		set k [string range $pair 0 [expr {$eq - 1}]]
		set v [string range $pair [expr {$eq + 1}] end]
		dict lappend q $k $v
	}
	return $q
}
set q [load_answers [env_or ANSWERS ""]]
set eof_at [env_or EOF_AT ""]
spawn -noecho {*}$argv
expect {
	-re {Passphrase for [^:]*: $} {
		send -- "[env_or PW {}]\r"
		exp_continue
	}
	-re {Save\? \[y/N\] $} {
		send -- "[env_or SAVE n]\r"
		exp_continue
	}
	-re {\nReason: $} {
		send -- "[env_or REASON {}]\r"
		exp_continue
	}
	-re {try again\? \[Y/n\] $} {
		send -- "[env_or RETRY n]\r"
		set q [load_answers [env_or ANSWERS2 ""]]
		exp_continue
	}
	-re {\n([A-Z][A-Z0-9_]*)( \[[^\r\n]*\])?: $} {
		set code $expect_out(1,string)
		if {$code eq $eof_at} {
			send -- "\004"
			exp_continue
		}
		if {[dict exists $q $code] && [llength [dict get $q $code]]} {
			set vals [dict get $q $code]
			set v [lindex $vals 0]
			dict set q $code [lrange $vals 1 end]
			send -- "$v\r"
		} else {
			send -- "\r"
		}
		exp_continue
	}
	timeout { puts "\nDRIVER: timeout"; exit 98 }
	eof
}
lassign [wait] pid spawnid oserr code
exit $code
EOF

# drive NAME RC CMD...: run CMD through the driver, output in $T/out.
drive() {
	_n=$1 _rc=$2
	shift 2
	expect_rc "$_n" "$_rc" expect -f "$T/drive.exp" "$@"
}
expect_same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$2' != '$3'"; fi
}

expect_rc "init" 0 "$CB" init --site KR01 --device-index 1 \
	--protocol "$PROTO" --user alice --role investigator
"$CB" subject add >"$T/subj" 2>&1
S=$(cat "$T/subj")

# ---- first entry: invalid answer re-asked, help, skip, confirm -----------
ANSWERS='BRTHYR=19x0|BRTHYR=1960|SEX=?|SEX=m|HEIGHT=999|HEIGHT=170.5|KNEE=left|CONSDT=2026-01-10' \
SAVE=y drive "enter DM" 0 "$CB" form enter "$S" SCR DM
expect_out "item label shown" "Year of birth"
expect_out "unit shown" "(cm)"
expect_out "range shown" "from 100 to 230"
expect_out "choices shown" "M = Male, F = Female"
expect_out "date hint shown" "YYYY-MM-DD"
expect_out "invalid answer refused" "not accepted"
expect_out "out-of-range answer refused" "outside the allowed range"
expect_out "help lists the keys" "- clears it"
expect_out "summary of changes" "Changes to $S SCR DM:"
expect_out "summary line" "HEIGHT  (none) -> 170.5"
expect_out "choice label accepted as its code" "KNEE    (none) -> L"
expect_out "saved like form set" "$S SCR DM: saved 5 items"
n=$(grep -c "^BRTHYR: " "$T/out" | tr -d ' ')
expect_same "invalid answer asked again" "$n" "2"
expect_rc "show after enter" 0 "$CB" form show "$S" SCR DM
expect_out "entered year" "1960"
expect_out "entered sex (typed lower case)" "M (Male)"
expect_out "entered height" "170.5 cm"
expect_out "entered knee" "L (Left)"
expect_out "skipped weight stays missing" "missing required: WEIGHT"
expect_out "status partial" "status: partial"

# ---- declining saves nothing ---------------------------------------------
"$CB" form show "$S" SCR DM --history >"$T/hist0" 2>&1
ANSWERS='BRTHYR=1961|WEIGHT=70' SAVE=n drive "declined save exits 1" 1 \
	"$CB" form enter "$S" SCR DM
expect_out "current value offered in brackets" "BRTHYR [1960]: "
expect_out "decline says not saved" "not saved"
"$CB" form show "$S" SCR DM --history >"$T/hist1" 2>&1
# same_hist NAME: $T/hist1 equals $T/hist0, which holds the first entry
same_hist() {
	if [ "$(cat "$T/hist1")" = "$(cat "$T/hist0")" ] &&
		grep -q "BRTHYR  (none)  1960" "$T/hist0"; then
		pass "$1"
	else
		fail "$1" "$(diff "$T/hist0" "$T/hist1" | head -c 400)"
	fi
}
same_hist "declined save left history unchanged"
EOF_AT=CONSDT ANSWERS='WEIGHT=70' drive "Ctrl-D stops" 1 "$CB" form enter "$S" SCR DM
expect_out "Ctrl-D says nothing saved" "nothing was saved"
"$CB" form show "$S" SCR DM --history >"$T/hist1" 2>&1
same_hist "Ctrl-D left history unchanged"

# ---- a change of a saved value asks for a reason -------------------------
ANSWERS='HEIGHT=172|WEIGHT=70.5' SAVE=y REASON="measured again" \
	drive "change with reason" 0 "$CB" form enter "$S" SCR DM
expect_out "reason asked" "a reason is"
expect_out "summary shows old and new" "HEIGHT  170.5 -> 172"
expect_rc "history after change" 0 "$CB" form show "$S" SCR DM --history
if grep -E "alice +[0-9a-f]{8} +HEIGHT +170\.5 +172 +measured again" "$T/out" >/dev/null; then
	pass "history has who, old, new, why"
else
	fail "history has who, old, new, why" "$(grep HEIGHT "$T/out")"
fi
expect_rc "show complete" 0 "$CB" form show "$S" SCR DM
expect_out "complete after enter" "status: complete"

# ---- "-" clears a value (with a reason), Enter keeps the rest -------------
ANSWERS='WEIGHT=-' SAVE=y REASON="entered on the wrong subject" \
	drive "clear with -" 0 "$CB" form enter "$S" SCR DM
expect_out "summary shows the clear" "WEIGHT  70.5 -> (cleared)"
expect_out "one item saved" "saved 1 item"
expect_rc "show after clear" 0 "$CB" form show "$S" SCR DM
expect_out "cleared item missing again" "missing required: WEIGHT"
expect_out "kept value unchanged" "172 cm"

# ---- nothing changed ------------------------------------------------------
drive "all Enter changes nothing" 0 "$CB" form enter "$S" SCR DM
expect_out "nothing changed" "nothing changed"

# ---- a hard cross-item check sends the person back ------------------------
expect_rc "ae add" 0 "$CB" ae add "$S" AETERM=Fall AESTDTC=2026-02 AEONGO=Y \
	AETOXGR=3 AESEV=SEV AESER=N AEREL=NOT AERELPR=NOT AEACN=NONE \
	AEOUT=RECOVERING
ANSWERS='AESER=yes' ANSWERS2='AESHOSP=y' SAVE=y RETRY=y REASON="hospitalized" \
	drive "hard check, retry, save" 0 "$CB" form enter "$S" LOG "AE#1"
expect_out "cross-item check rejected" "AE_SERIOUS_CRITERION"
expect_out "second summary has both" "AESHOSP  (none) -> Y"
expect_out "saved after retry" "$S LOG AE#1: saved 2 items"
expect_rc "AE after retry" 0 "$CB" form show "$S" LOG "AE#1"
if grep -E "^  AESHOSP +.* Y$" "$T/out" >/dev/null && grep -E "^  AESER +.* Y$" "$T/out" >/dev/null; then
	pass "AE values after retry"
else
	fail "AE values after retry" "$(cat "$T/out")"
fi
ANSWERS='AESER=N' SAVE=y RETRY=n REASON=x \
	drive "hard check, no retry exits 3" 3 "$CB" form enter "$S" LOG "AE#1"
expect_rc "AE unchanged" 0 "$CB" form show "$S" LOG "AE#1"
if grep -E "^  AESER +.* Y$" "$T/out" >/dev/null; then
	pass "refused change not saved"
else
	fail "refused change not saved" "$(grep AESER "$T/out")"
fi

# ---- passphrase asked on the same terminal --------------------------------
ANSWERS='VAS=55' SAVE=y PW=enter-pass-1 CASEBOOK_PASSPHRASE= \
	drive "passphrase on the terminal, then items" 0 \
	env -u CASEBOOK_PASSPHRASE "$CB" form enter "$S" BL VAS
expect_out "passphrase asked" "Passphrase for alice"
expect_out "VAS saved" "$S BL VAS: saved 1 item"
expect_out "score printed" "55.00"

# ---- no terminal ----------------------------------------------------------
"$CB" form enter "$S" SCR DM </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q "needs a terminal" "$T/err"; then
	pass "not a terminal: exit 2 and a clear message"
else
	fail "not a terminal: exit 2 and a clear message" "exit $rc: $(cat "$T/err")"
fi

finish
