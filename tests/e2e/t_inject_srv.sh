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
# The device's lookup and the request's signature check (refused with a
# 401 when out of memory, before), and a subject's events read for a
# push (an event rejected for good as "unknown subject", before), and
# the push's events read and verified.
if [ -z "${INJECT_ONLY:-}" ]; then
	aimed "serve, from the device's lookup" "FROM devices WHERE id" 30 1
	aimed "serve, from a subject's events" \
		"WHERE subject = ?1 AND (?2 OR unblinded = 0)" 600 8
	# The body read and each event parsed and verified (an event once
	# "rejected: out of memory", before, kept off the record for good).
	aimed "serve, from the request's nonce" "INSERT INTO nonces" 400 3
fi
finish
