#!/bin/sh
# The command-line front doors: help, version, usage errors.
. "$(dirname "$0")/lib.sh"

expect_rc "casebook --help exits 0" 0 "$CB" --help
expect_out "casebook --help lists commands" "protocol"
expect_rc "casebook --version exits 0" 0 "$CB" --version
expect_out "casebook --version prints the version" "casebook 0."
expect_rc "casebook with no command is a usage error" 2 "$CB"
expect_rc "unknown command is a usage error" 2 "$CB" frobnicate
expect_out "unknown command is named" "'frobnicate' is not a casebook command"
expect_rc "unknown global option is a usage error" 2 "$CB" --bogus protocol
expect_rc "--home without a value is a usage error" 2 "$CB" --home
expect_rc "casebook protocol --help exits 0" 0 "$CB" protocol --help
expect_out "protocol help shows usage" "usage: casebook protocol"
expect_rc "casebook score --help exits 0" 0 "$CB" score --help
expect_out "score help shows usage" "usage: casebook score"
expect_rc "casebook help score exits 0" 0 "$CB" help score
expect_out "help COMMAND shows that command" "usage: casebook score"
expect_rc "casebookd --help exits 0" 0 "$CBD" --help
expect_out "casebookd --help says what it is" "usage: casebookd"
expect_rc "casebookd --version exits 0" 0 "$CBD" --version
expect_out "casebookd --version prints the version" "casebookd 0."
expect_rc "casebookd with no command is a usage error" 2 "$CBD"
expect_rc "casebookd unknown command is a usage error" 2 "$CBD" frobnicate
finish
