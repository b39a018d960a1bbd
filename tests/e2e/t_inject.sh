#!/bin/sh
# t_inject.sh - failure injection in the laptop (issue 14): `casebook
# form set`, `ae add` and `sync` with the Nth allocation, SQLite step,
# commit, file write or fsync failing, for N = 1, 2, ... until the
# operation succeeds. Each run fails with a clear error and leaves the
# store as it was, or succeeds completely (tests/e2e/inject.sh says how
# that is judged).
. "$(dirname "$0")/lib.sh"
: "${INJECT_OPS:=form ae sync}"
. "$(dirname "$0")/inject.sh"
run_loops
finish
