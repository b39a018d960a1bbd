#!/bin/sh
# t_score_conflict.sh - a score over an item in conflict (issue 13 point
# 5): two laptops of a site save different VAS values offline; after both
# sync, form show and subject show list both values and say the score is
# not computed because an item may be in conflict, not merely that items
# are missing. Once resolved, the score is back.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=score-conflict-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
SRV_PID=""
at_exit stop_server

"$CBD" init --data "$D" --protocol "$PROTO" >/dev/null 2>&1 || fail "init" "casebookd init"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
start_server || finish
expect_rc "coordinator registers" 0 cb a init --server "$URL" \
	--token "$(token_for kim coordinator KR01)" --user kim
expect_rc "investigator registers" 0 cb b init --server "$URL" \
	--token "$(token_for lee investigator KR01)" --user lee
S=$(cb a subject add 2>/dev/null)
cb a form set "$S" SCR DM CONSDT=2026-01-05 BRTHYR=1960 SEX=F HEIGHT=160 \
	WEIGHT=70 KNEE=L >/dev/null 2>&1
cb a form set "$S" BL SV VISDT=2026-01-20 >/dev/null 2>&1
expect_rc "a syncs" 0 cb a sync
expect_rc "b syncs" 0 cb b sync
expect_rc "a saves VAS 40" 0 cb a form set "$S" BL VAS VAS=40
expect_rc "b saves VAS 60" 0 cb b form set "$S" BL VAS VAS=60
for l in a b a; do cb "$l" sync >/dev/null 2>&1; done

expect_rc "form show of the conflicted VAS" 0 cb a form show "$S" BL VAS
expect_out "both values shown" "CONFLICT"
expect_out "form show: why no score" "(not scored: an item is in conflict"
expect_rc "subject show" 0 cb a subject show "$S"
expect_out "subject show: why no score" "(not scored: an item is in conflict"

expect_rc "the coordinator resolves it" 0 cb a form set "$S" BL VAS VAS=50 \
	--reason "source document says 50"
expect_rc "form show after the resolution" 0 cb a form show "$S" BL VAS
expect_no_out "no conflict left" "CONFLICT"
expect_no_out "the score is back" "not scored"
finish
