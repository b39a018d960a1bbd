#!/bin/sh
# t_schema.sh - the central store records its schema version (store.h);
# a casebookd upgrades an older store when it opens it, and one older
# than the store refuses it with a clear message, changing nothing. On
# either backend (SQLite here, PostgreSQL in tests/run.sh's second pass);
# SQLite alone had a version 1, upgraded too.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_PASSPHRASE=schema-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
D="$T/data"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
at_exit stop_server

# version / set_version N: the store's schema_version setting.
version() {
	if is_pg; then
		srv_sql "SELECT convert_from(value, 'UTF8') FROM settings WHERE key = 'schema_version'"
	else
		srv_sql "SELECT CAST(value AS TEXT) FROM settings WHERE key = 'schema_version'"
	fi
}
set_version() {
	if is_pg; then
		srv_sql "UPDATE settings SET value = convert_to('$1', 'UTF8') WHERE key = 'schema_version'"
	else
		srv_sql "UPDATE settings SET value = '$1' WHERE key = 'schema_version'"
	fi
}

expect_rc "init" 0 "$CBD" init --data "$D" --protocol "$PROTO"
"$CBD" site add --data "$D" KR01 --name Seoul >/dev/null 2>&1
check "a new store is at schema version 6" 6 "$(version)"
check "its history names the casebookd that made it" "6|$("$CBD" --version | cut -d' ' -f2)" \
	"$(srv_sql "SELECT version, casebookd FROM schema_history")"
expect_rc "status" 0 "$CBD" status --data "$D"
if is_pg; then
	expect_out "status names the backend and the version" "postgresql, schema version 6"
else
	expect_out "status names the backend and the version" "sqlite, schema version 6"
fi

# Some record to keep across upgrades.
start_server || finish
t=$(token_for ann coordinator KR01)
expect_rc "register a laptop" 0 cb L init --server "$URL" --token "$t" --user ann
for i in 1 2; do
	s=$(cb L subject add 2>/dev/null)
	cb L form set "$s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || fail "enter data" "failed"
done
expect_rc "sync" 0 cb L sync
stop_server
"$CBD" dump --data "$D" >"$T/dump.before"
"$CBD" dump --data "$D" --canonical >"$T/canon.before"

# ---- an older store is upgraded -----------------------------------------------

# Version 5 kept a row per item (the items table) and forms without
# their items; its derived rows are left behind by the upgrade and made
# again from the events.
srv_sql "DROP TABLE forms; CREATE TABLE forms(subject TEXT NOT NULL,
	visit TEXT NOT NULL, form TEXT NOT NULL, instance TEXT NOT NULL,
	nitems INTEGER NOT NULL, nconflicts INTEGER NOT NULL, nsigns INTEGER
	NOT NULL, sign TEXT, broken INTEGER NOT NULL, PRIMARY KEY(subject,
	visit, form, instance));
	CREATE TABLE items(subject TEXT NOT NULL, visit TEXT NOT NULL,
	form TEXT NOT NULL, instance TEXT NOT NULL, item TEXT NOT NULL,
	value TEXT, conflict INTEGER NOT NULL, heads TEXT NOT NULL,
	head_values TEXT NOT NULL, query TEXT, nchanges INTEGER NOT NULL,
	PRIMARY KEY(subject, visit, form, instance, item));
	INSERT INTO items VALUES('KR01-01001', 'SCR', 'DM', '', 'SEX', 'M', 0,
	'[]', '[]', NULL, 1);
	DELETE FROM schema_history WHERE version = 6"
set_version 5
check "made a version 5 store" 5 "$(version)"
expect_rc "status opens a version 5 store" 0 "$CBD" status --data "$D"
check "and upgrades it to version 6" 6 "$(version)"
if is_pg; then
	check "the items table is gone" "" "$(srv_sql "SELECT tablename FROM pg_tables WHERE tablename = 'items'")"
else
	check "the items table is gone" "" "$(srv_sql "SELECT name FROM sqlite_master WHERE name = 'items'")"
fi
check "the upgrade is in the history" 6 "$(srv_sql "SELECT MAX(version) FROM schema_history")"
"$CBD" dump --data "$D" >"$T/dump.after" 2>"$T/err" || fail "dump after the upgrade" "$(cat "$T/err")"
"$CBD" dump --data "$D" --canonical >"$T/canon.after"
if cmp -s "$T/dump.before" "$T/dump.after" && cmp -s "$T/canon.before" "$T/canon.after"; then
	pass "the upgrade from 5 makes the derived tables again from the events"
else
	fail "the upgrade from 5 makes the derived tables again from the events" \
		"$(diff "$T/dump.before" "$T/dump.after" | head -5)"
fi
check "each subject's form holds its items" 2 "$(srv_sql "SELECT COUNT(*) FROM forms WHERE items LIKE '%\"SEX\",\"F\"%'")"

# Version 3 is version 5 without schema_history and the index of
# unblinded events (version 4 has the history).
srv_sql "DROP TABLE schema_history; DROP INDEX events_unblinded"
set_version 3
check "made a version 3 store" 3 "$(version)"
expect_rc "status opens a version 3 store" 0 "$CBD" status --data "$D"
check "and upgrades it to version 6" 6 "$(version)"
check "the upgrades are in the history" "4 5 6" "$(srv_sql "SELECT version FROM schema_history ORDER BY version" | tr '\n' ' ' | sed 's/ $//')"
if is_pg; then
	check "the index of unblinded events is made again" "events_unblinded" \
		"$(srv_sql "SELECT indexname FROM pg_indexes WHERE indexname = 'events_unblinded'")"
else
	check "the index of unblinded events is made again" "events_unblinded" \
		"$(srv_sql "SELECT name FROM sqlite_master WHERE name = 'events_unblinded'")"
fi
"$CBD" dump --data "$D" >"$T/dump.after"
"$CBD" dump --data "$D" --canonical >"$T/canon.after"
if cmp -s "$T/dump.before" "$T/dump.after" && cmp -s "$T/canon.before" "$T/canon.after"; then
	pass "the upgrade keeps the record and the derived tables"
else
	fail "the upgrade keeps the record and the derived tables" "dumps differ"
fi

if ! is_pg; then
	# Version 1 (SQLite): no per-subject index, subjects or forms
	# tables, the nonces in the store, no version setting (and none of
	# version 3's people, tokens' person, devices' newest clock or store id).
	srv_sql "DROP TABLE schema_history; DROP TABLE subjects; DROP TABLE forms;
		DROP INDEX events_subject; CREATE TABLE nonces(device TEXT, nonce TEXT,
		time_ms INTEGER); DROP TABLE users; ALTER TABLE tokens DROP COLUMN user;
		ALTER TABLE devices DROP COLUMN max_hlc;
		DELETE FROM settings WHERE key IN ('schema_version', 'store_id')"
	check "made a version 1 store" "" "$(version)"
	expect_rc "dump opens a version 1 store" 0 "$CBD" dump --data "$D"
	check "and upgrades it to version 6" 6 "$(version)"
	check "its derived tables are made again from the events" "" \
		"$(cmp "$T/dump.before" "$T/out" 2>&1)"
	check "the nonces left the store" "" \
		"$(srv_sql "SELECT name FROM sqlite_master WHERE name = 'nonces'")"
fi

# ---- a newer store is refused ----------------------------------------------

set_version 7
for cmd in status rebuild dump; do
	expect_rc "this casebookd refuses a newer store: $cmd" 1 "$CBD" "$cmd" --data "$D"
	expect_out "$cmd says why" "schema version 7, made by a newer casebookd; this one reads version 6"
done
expect_rc "serve refuses a newer store" 1 \
	"$CBD" serve --data "$D" --listen "127.0.0.1:$(free_port)"
expect_out "serve says why" "made by a newer casebookd"
check "the newer store is left as it was" 7 "$(version)"
set_version 6
check "and serves again at its version" 0 "$("$CBD" dump --data "$D" --canonical | cmp -s - "$T/canon.before"; echo $?)"

finish
