#!/bin/sh
# casebookd's front door beyond what t_cli.sh checks (exit codes of
# --help, --version, no command and an unknown command): which stream
# each answer goes to, the exact version, the help's content, and the
# messages of usage errors.
. "$(dirname "$0")/lib.sh"

# only_on STREAM NAME TEXT: TEXT is in $T/STREAM and the other is empty.
only_on() {
	_s=$1 _n=$2 _t=$3
	case $_s in out) _o=err ;; *) _o=out ;; esac
	if ! grep -qF -- "$_t" "$T/$_s"; then
		fail "$_n" "std$_s lacks '$_t'; got: $(head -c 300 "$T/$_s")"
	elif [ -s "$T/$_o" ]; then
		fail "$_n" "std$_o not empty: $(head -c 300 "$T/$_o")"
	else
		pass "$_n"
	fi
}

version=$(sed -n 's/^#define CB_VERSION "\(.*\)"$/\1/p' \
	"$CASEBOOK_TOP/common/version.h")

expect_rc "casebookd --version exits 0 (streams)" 0 "$CBD" --version
only_on out "casebookd --version prints exactly the version" \
	"casebookd $version"
if [ "$(cat "$T/out")" = "casebookd $version" ]; then
	pass "casebookd --version is one line and nothing else"
else
	fail "casebookd --version is one line and nothing else" \
		"got '$(cat "$T/out")'"
fi

"$CBD" --help >"$T/help" 2>&1
for form in -h help; do
	expect_rc "casebookd $form exits 0" 0 "$CBD" $form
	if cmp -s "$T/out" "$T/help"; then
		pass "casebookd $form prints the same help as --help"
	else
		fail "casebookd $form prints the same help as --help" \
			"differs from --help"
	fi
done

expect_rc "casebookd --help exits 0 (streams)" 0 "$CBD" --help
only_on out "casebookd --help goes to stdout only" "usage: casebookd"
expect_out "help lists --version" "--version"
expect_out "help lists -h, --help" "-h, --help"
expect_out "help states the exit codes" "Exit codes: 0 ok, 1 failure, 2 usage"
expect_out "help has a Commands section" "Commands:"
# It lists what exists, and every command it lists runs: each answers
# its own --help with exit 0 and a usage line naming it.
cmds=$(sed -n '/^Commands:$/,/^$/p' "$T/out" | sed '1d;/^$/d' | awk '{print $1}')
if [ -n "$cmds" ]; then
	pass "help's Commands section lists commands"
else
	fail "help's Commands section lists commands" "none listed"
fi
for c in $cmds; do
	expect_rc "listed command '$c' has help" 0 "$CBD" "$c" --help
	expect_out "help of '$c' names it" "casebookd $c"
done

expect_rc "no command: exit 2 (streams)" 2 "$CBD"
only_on err "no command: says so on stderr, nothing on stdout" \
	"casebookd: no command given"
expect_out "no command: shows the usage" "usage: casebookd"

expect_rc "unknown command: exit 2 (streams)" 2 "$CBD" frobnicate --help
only_on err "unknown command: named on stderr even with --help after it" \
	"casebookd: 'frobnicate' is not a casebookd command"
expect_out "unknown command: points to --help" "Try 'casebookd --help'."

expect_rc "empty command: exit 2" 2 "$CBD" ""
expect_out "empty command: named" "'' is not a casebookd command"

expect_rc "unknown option: exit 2" 2 "$CBD" --bogus
only_on err "unknown option: named as an option on stderr" \
	"casebookd: unknown option '--bogus'"
expect_rc "a lone dash: exit 2" 2 "$CBD" -
expect_out "a lone dash: named" "unknown option '-'"

finish
