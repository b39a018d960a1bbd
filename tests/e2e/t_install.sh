#!/bin/sh
# t_install.sh - the conventions of a mature tool: --help on every command
# and subcommand of both programs (exit 0, the usage), manual pages made
# from those texts (every command has its section, groff finds nothing
# to warn about), the installation (scripts/install.sh, what 'make
# install' runs), bash completion from the installed programs, and the
# hardened systemd unit (systemd-analyze verify, and its exposure score).
. "$(dirname "$0")/lib.sh"

TOP=$CASEBOOK_TOP

# ---- --help everywhere ---------------------------------------------------------

# every command NAME of PROGRAM's --help
commands_of() {
	"$1" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }'
}
n=0
for c in $(commands_of "$CBD"); do
	n=$((n + 1))
	expect_rc "casebookd $c --help" 0 "$CBD" "$c" --help
	expect_out "casebookd $c --help shows its usage" "usage: casebookd $c"
done
check "casebookd has commands to test" 1 "$([ "$n" -ge 12 ] && echo 1 || echo 0)"
# Subcommands: --help anywhere among the arguments.
for sub in "token create" "token list" "site add" "device list" "randlist show" \
	"randlist import" "bundle import" "user add" "user disable"; do
	# shellcheck disable=SC2086
	expect_rc "casebookd $sub --help" 0 "$CBD" $sub --help
	expect_out "casebookd $sub --help is the command's help" "usage: casebookd ${sub%% *}"
	# shellcheck disable=SC2086
	expect_rc "casebookd $sub --data X --help" 0 "$CBD" $sub --data "$T/none" --help
done
for c in $(commands_of "$CB"); do
	expect_rc "casebook $c --help" 0 "$CB" "$c" --help
	expect_out "casebook $c --help shows its usage" "usage: casebook"
done

# ---- manual pages ----------------------------------------------------------------

mkdir -p "$T/man"
"$TOP/scripts/mkman" "$CB" 1 "clinical-trial data capture that works offline" \
	>"$T/man/casebook.1" 2>"$T/err" || fail "mkman casebook" "$(cat "$T/err")"
"$TOP/scripts/mkman" "$CBD" 8 "the central Casebook server" \
	>"$T/man/casebookd.8" 2>"$T/err" || fail "mkman casebookd" "$(cat "$T/err")"
for page in casebook.1 casebookd.8; do
	groff -man -Tutf8 -ww -z "$T/man/$page" >"$T/out" 2>&1
	check "groff reads $page without a warning" "" "$(cat "$T/out")"
done
missing=""
for c in $(commands_of "$CBD"); do
	grep -q "^\.SS $c\$" "$T/man/casebookd.8" || missing="$missing $c"
done
for c in $(commands_of "$CB"); do
	grep -q "^\.SS $c\$" "$T/man/casebook.1" || missing="$missing $c"
done
check "every command has its section in the manual" "" "$missing"
# One source: a command's section holds its --help text.
man -l "$T/man/casebookd.8" 2>/dev/null | col -b >"$T/page.txt"
"$CBD" backup --help | head -n 1 | sed 's/^ *//' >"$T/want"
if grep -qF "$(cat "$T/want")" "$T/page.txt"; then
	pass "the page says what --help says"
else
	fail "the page says what --help says" "$(cat "$T/want") not in the page"
fi

# ---- installation ------------------------------------------------------------------

P="$T/prefix"
expect_rc "install" 0 "$TOP/scripts/install.sh" "$CASEBOOK_BIN" "$T/man" "" "$P"
for f in bin/casebook bin/casebookd share/man/man1/casebook.1 \
	share/man/man8/casebookd.8 share/bash-completion/completions/casebook \
	share/bash-completion/completions/casebookd \
	lib/systemd/system/casebookd.service lib/sysusers.d/casebookd.conf; do
	[ -e "$P/$f" ] && pass "installed $f" || fail "installed $f" "missing"
done
expect_rc "the installed casebookd runs" 0 "$P/bin/casebookd" --version
# DESTDIR: everything under it, the unit naming the final path.
expect_rc "install into a DESTDIR" 0 "$TOP/scripts/install.sh" "$CASEBOOK_BIN" "$T/man" "$T/dest" /usr
check "the staged unit runs the final path" 1 \
	"$(grep -c '^ExecStart=/usr/bin/casebookd serve' "$T/dest/usr/lib/systemd/system/casebookd.service")"
# A PREFIX the unit cannot hold is refused before anything is installed.
expect_rc "a relative PREFIX refused" 2 "$TOP/scripts/install.sh" "$CASEBOOK_BIN" "$T/man" "$T/rel" usr/local
expect_out "a relative PREFIX: why" "must be an absolute path"
expect_rc "a PREFIX with a space refused" 2 "$TOP/scripts/install.sh" "$CASEBOOK_BIN" "$T/man" "$T/sp" "/opt/case book"
check "nothing installed for a refused PREFIX" 0 "$(find "$T/rel" "$T/sp" 2>/dev/null | wc -l)"

# ---- bash completion -------------------------------------------------------------------

if command -v bash >/dev/null 2>&1; then
	# complete WORDS...: what completing the last word offers
	complete_words() {
		bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _casebook; printf "%s\n" "${COMPREPLY[@]}"' \
			x "$P/share/bash-completion/completions/casebook" "$@"
	}
	check "completion of casebookd commands" "restore" "$(complete_words "$P/bin/casebookd" res)"
	check "completion of casebookd token subcommands" "create" "$(complete_words "$P/bin/casebookd" token cr)"
	check "completion of an option" "--ttl" "$(complete_words "$P/bin/casebookd" token create --tt)"
	check "completion of casebook commands" "query" "$(complete_words "$P/bin/casebook" que)"
	check "completion after global options" "sync" "$(complete_words "$P/bin/casebook" --home h syn)"
fi

# ---- the systemd unit ---------------------------------------------------------------------

UNIT="$P/lib/systemd/system/casebookd.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	MANPATH="$P/share/man" expect_rc "systemd-analyze verify" 0 systemd-analyze verify "$UNIT"
	systemd-analyze security --offline=yes "$UNIT" >"$T/sec" 2>&1
	score=$(sed -n 's/.*Overall exposure level for casebookd.service: \([0-9.]*\).*/\1/p' "$T/sec")
	if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		pass "the unit is hardened (exposure $score of 10)"
	else
		fail "the unit is hardened" "exposure '$score': $(tail -3 "$T/sec")"
	fi
else
	fail "systemd-analyze" "not installed (scripts/install-deps.sh installs systemd)"
fi
for d in "User=casebookd" "NoNewPrivileges=yes" "ProtectSystem=strict" \
	"ReadWritePaths=/var/lib/casebookd" "PrivateTmp=yes" "Restart=on-failure"; do
	grep -qx "$d" "$UNIT" && pass "unit: $d" || fail "unit: $d" "missing"
done
finish
