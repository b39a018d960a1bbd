#!/bin/sh
# t_inject_srv.sh - failure injection in casebookd (issue 14): `serve`
# answering a laptop's push and pull, and `bundle import`, with the Nth
# allocation, SQLite step, commit, file write or fsync failing, for
# N = 1, 2, ... until the operation succeeds. Each run fails with a
# clear error and leaves the central store as it was (its derived tables
# equal to a rebuild), or succeeds completely; the server never dies
# (tests/e2e/inject.sh says how that is judged).
. "$(dirname "$0")/lib.sh"
: "${INJECT_OPS:=serve bundle}"
. "$(dirname "$0")/inject.sh"
run_loops
finish
