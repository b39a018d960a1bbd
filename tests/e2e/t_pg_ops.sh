#!/bin/sh
# t_pg_ops.sh - docs/OPERATIONS.md followed as written, on loopback:
# PostgreSQL servers of this test's own (a primary, a standby, a restored
# base backup) on 127.0.0.1 with TLS and SCRAM passwords from a password
# file, the roles and grants of section 2 (casebookd serving as the
# least-privileged role), TLS checked (section 3), a hot standby with
# synchronous replication and a failover with casebookd serving through
# it (section 4), pg_dump and base-backup restores compared with the live
# store (section 5). Runs in tests/run.sh's PostgreSQL pass.
. "$(dirname "$0")/lib.sh"

if ! is_pg; then
	fail "t_pg_ops" "runs in the PostgreSQL pass (CASEBOOK_TEST_STORE=pg)"
	finish
fi
for tool in openssl psql pg_dump pg_restore pg_basebackup; do
	command -v "$tool" >/dev/null 2>&1 || {
		fail "$tool" "needed"
		finish
	}
done
export CASEBOOK_PASSPHRASE=ops-test-pass CASEBOOK_KDF_FAST=1
unset CASEBOOK_HOME CASEBOOK_USER
RCBD="$CASEBOOK_BIN/casebookd" # the real one: this test names its URIs
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
chmod 711 "$T"
OWNER=$(id -un)
[ "$(id -u)" -eq 0 ] && { id postgres >/dev/null 2>&1 && OWNER=postgres || OWNER=nobody; }
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}
set -- $(free_ports 4)
PA=$1 PB=$2 PC=$3 PORT=$4
URL="http://127.0.0.1:$PORT"
SPID=""
serve() {
	"$RCBD" serve --store "$1" --listen "127.0.0.1:$PORT" 2>>"$T/server.log" &
	SPID=$!
	_i=0
	until curl -sf "$URL/v1/health" >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 400 ] || ! kill -0 "$SPID" 2>/dev/null; then
			fail "casebookd serve starts" "$(grep -v "\"msg\":\"st" "$T/server.log" | tail -3)"
			return 1
		fi
		sleep 0.05
	done
}
halt() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=""
	return 0
}
pg_stop_all() {
	halt
	for d in "$T/pa" "$T/pb" "$T/pc"; do
		[ -f "$d/data/postmaster.pid" ] &&
			as_pg "$PGBIN/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1
	done
	return 0
}
at_exit pg_stop_all
SU() { psql -X -q -v ON_ERROR_STOP=1 -h "$T/pa" -p "$PA" -U cbtest "$@"; }

# ---- the certificates (section 3) -------------------------------------------

mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Casebook test CA" \
	-keyout "$T/tls/ca.key" -out "$T/tls/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
	-keyout "$T/tls/server.key" -out "$T/tls/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost\n' >"$T/tls/ext"
openssl x509 -req -in "$T/tls/server.csr" -CA "$T/tls/ca.crt" \
	-CAkey "$T/tls/ca.key" -CAcreateserial -days 2 -extfile "$T/tls/ext" \
	-out "$T/tls/server.crt" >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Another CA" \
	-keyout "$T/tls/other.key" -out "$T/tls/other.crt" >/dev/null 2>&1
[ -s "$T/tls/server.crt" ] && pass "a CA and a server certificate" ||
	fail "a CA and a server certificate" "openssl failed"

# ---- the primary ------------------------------------------------------------

"$CASEBOOK_TOP/tests/tools/pgtest.sh" start "$T/pa" >/dev/null || {
	fail "start the primary" "pgtest.sh failed"
	finish
}
as_pg "$PGBIN/pg_ctl" -D "$T/pa/data" -m fast -w stop >/dev/null
cp "$T/tls/server.crt" "$T/tls/server.key" "$T/pa/data/"
[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$T/pa/data/server.crt" "$T/pa/data/server.key"
chmod 600 "$T/pa/data/server.key"
cat >>"$T/pa/data/postgresql.conf" <<EOF
port = $PA
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
wal_level = replica
max_wal_senders = 4
EOF
cat >"$T/pa/data/pg_hba.conf" <<EOF
local all cbtest trust
local replication cbtest trust
hostssl casebook,casebook_restore,casebook_base casebook_app,casebook_owner,casebook_backup 127.0.0.1/32 scram-sha-256
hostssl replication replicator 127.0.0.1/32 scram-sha-256
EOF
as_pg "$PGBIN/pg_ctl" -D "$T/pa/data" -l "$T/pa/server.log" -w start >/dev/null ||
	fail "the primary starts with TLS" "$(tail -3 "$T/pa/server.log")"

# ---- section 2: database and roles ------------------------------------------

SU -d postgres <<'SQL' || fail "roles and database" "psql failed"
CREATE ROLE casebook_owner LOGIN PASSWORD 'owner-secret';
CREATE ROLE casebook_app LOGIN PASSWORD 'app-secret' CONNECTION LIMIT 200;
CREATE ROLE casebook_backup LOGIN PASSWORD 'backup-secret';
GRANT pg_read_all_data TO casebook_backup;
CREATE DATABASE casebook OWNER casebook_owner ENCODING 'UTF8'
    TEMPLATE template0;
REVOKE ALL ON DATABASE casebook FROM PUBLIC;
GRANT CONNECT ON DATABASE casebook TO casebook_app, casebook_backup;
\c casebook
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
pass "section 2: roles and the database"
export PGPASSFILE="$T/pgpass"
cat >"$PGPASSFILE" <<EOF
localhost:*:*:casebook_owner:owner-secret
localhost:*:*:casebook_app:app-secret
localhost:*:*:casebook_backup:backup-secret
localhost:*:*:replicator:repl-secret
EOF
chmod 600 "$PGPASSFILE"
TLSQ="sslmode=verify-full&sslrootcert=$T/tls/ca.crt"
OWN="postgresql://casebook_owner@localhost:$PA/casebook?$TLSQ"
APP="postgresql://casebook_app@localhost:$PA/casebook?$TLSQ"
BAK="postgresql://casebook_backup@localhost:$PA/casebook?$TLSQ"

CASEBOOK_NEW_PASSPHRASE=stat-pass-123 "$CB" keygen --out "$T/unblind.key" \
	>/dev/null 2>&1 || fail "keygen" "failed"
"$CB" randlist generate --protocol "$PROTO" --sites KR01 --per-stratum 10 \
	--block-sizes 2 --seed "ops-$$-abcdefghijklmnop" \
	--unblinding-pub "$T/unblind.key.pub" --out "$T/list.json" \
	>/dev/null 2>&1 || fail "randlist generate" "failed"
expect_rc "init as the owner, over TLS, password from the password file" 0 \
	"$RCBD" init --store "$OWN" --protocol "$PROTO"
psql -X -q -v ON_ERROR_STOP=1 "$OWN" <<'SQL' || fail "grants" "psql failed"
GRANT SELECT, INSERT ON events, sites, rand_lists, rand_sites TO casebook_app;
GRANT SELECT ON server_key, schema_history TO casebook_app;
GRANT SELECT, INSERT, UPDATE ON settings, tokens, devices, subject_reuse,
    users TO casebook_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON rand_slots, nonces,
    subjects, forms, queries TO casebook_app;
GRANT USAGE ON SEQUENCE events_seq TO casebook_app;
SQL
pass "section 2: the application role's grants"
expect_rc "a password in the URI is refused" 1 \
	"$RCBD" status --store "postgresql://casebook_app:app-secret@localhost:$PA/casebook?$TLSQ"
expect_out "and the refusal says where it goes" "password file"
expect_no_out "the refusal does not repeat the password" "app-secret"

# Everything as the application role, which may not change the schema.
expect_rc "site add as casebook_app" 0 "$RCBD" site add --store "$APP" KR01 --name Seoul
expect_rc "randlist import as casebook_app" 0 "$RCBD" randlist import --store "$APP" "$T/list.json"
psql -X -q "$APP" -c "CREATE TABLE x(a int)" >/dev/null 2>&1 &&
	fail "casebook_app cannot create tables" "it could" ||
	pass "casebook_app cannot create tables"
psql -X -q "$APP" -c "DELETE FROM events" >/dev/null 2>&1 &&
	fail "casebook_app cannot delete events" "it could" ||
	pass "casebook_app cannot delete events"
serve "$APP" || finish
expect_rc "user add as casebook_app" 0 "$RCBD" user add --store "$APP" ann \
	--full-name "Ann Example" --role coordinator --site KR01
t=$("$RCBD" token create --store "$APP" --user ann 2>/dev/null)
expect_rc "register a laptop (casebookd as casebook_app)" 0 \
	cb L init --server "$URL" --token "$t" --user ann
expect_rc "lease" 0 cb L sync
enroll() {
	_s=$(cb L subject add 2>/dev/null) || return 1
	cb L form set "$_s" SCR DM CONSDT=2026-01-05 BRTHYR=1966 SEX=F \
		HEIGHT=160 WEIGHT=70 KNEE=L >/dev/null 2>&1 || return 1
	cb L form set "$_s" SCR ELIG AGE=60 KLGRADE=2 PAIN3M=Y \
		BMI=28 IAINJ3M=N INFLARTH=N PREG=N >/dev/null 2>&1 || return 1
	echo "$_s"
}
S1=$(enroll) || fail "enrol" "failed"
expect_rc "randomize" 0 cb L randomize "$S1"
expect_rc "sync as casebook_app" 0 cb L sync
expect_out "nothing rejected" "0 rejected"
expect_rc "rebuild as casebook_app" 0 "$RCBD" rebuild --store "$APP"
halt
"$RCBD" dump --store "$APP" >"$T/dump.v6" 2>"$T/err" || fail "dump" "$(cat "$T/err")"

# An upgrade keeps the application role's grants: a store of version 5
# (a row per item in its own table, forms without their items), with the
# grants of its day, upgraded by the owner; casebook_app then makes its
# derived tables again (as serve does at its start).
psql -X -q -v ON_ERROR_STOP=1 "$OWN" <<'SQL' >/dev/null || fail "make a version 5 store" "psql failed"
ALTER TABLE forms DROP COLUMN items;
CREATE TABLE items(subject TEXT NOT NULL, visit TEXT NOT NULL, form TEXT NOT NULL,
    instance TEXT NOT NULL, item TEXT NOT NULL, value TEXT, conflict INTEGER NOT NULL,
    heads TEXT NOT NULL, head_values TEXT NOT NULL, query TEXT, nchanges BIGINT NOT NULL,
    PRIMARY KEY(subject, visit, form, instance, item));
GRANT SELECT, INSERT, UPDATE, DELETE ON items TO casebook_app;
DELETE FROM schema_history WHERE version = 6;
UPDATE settings SET value = convert_to('5', 'UTF8') WHERE key = 'schema_version';
SQL
expect_rc "casebook_app cannot upgrade a version 5 store" 1 "$RCBD" status --store "$APP"
expect_out "and says which role can" "upgrading needs the role that owns the tables"
expect_rc "the owner upgrades it" 0 "$RCBD" status --store "$OWN"
expect_rc "casebook_app rebuilds the upgraded store's derived tables" 0 \
	"$RCBD" rebuild --store "$APP"
"$RCBD" dump --store "$APP" >"$T/dump.v6b" 2>"$T/err" || fail "dump after the upgrade" "$(cat "$T/err")"
if cmp -s "$T/dump.v6" "$T/dump.v6b"; then
	pass "the derived tables are made again from the events after the upgrade"
else
	fail "the derived tables are made again after the upgrade" "$(diff "$T/dump.v6" "$T/dump.v6b" | head -5)"
fi

# ---- section 3: TLS is checked ----------------------------------------------

expect_rc "another CA's certificate is refused" 1 \
	"$RCBD" status --store "postgresql://casebook_app@localhost:$PA/casebook?sslmode=verify-full&sslrootcert=$T/tls/other.crt"
expect_out "saying the certificate does not verify" "certificate verify failed"
expect_rc "a name the certificate does not have is refused" 1 \
	"$RCBD" status --store "postgresql://casebook_app@127.0.0.1:$PA/casebook?$TLSQ"

# ---- section 5: pg_dump and a tested restore --------------------------------

expect_rc "pg_dump as casebook_backup" 0 pg_dump -Fc -f "$T/casebook.dump" "$BAK"
SU -d postgres -c "CREATE DATABASE casebook_restore OWNER casebook_owner ENCODING 'UTF8' TEMPLATE template0" ||
	fail "createdb casebook_restore" "failed"
expect_rc "pg_restore" 0 pg_restore --no-owner --role=casebook_owner \
	-d "postgresql://casebook_owner@localhost:$PA/casebook_restore?$TLSQ" "$T/casebook.dump"
"$RCBD" dump --canonical --store "postgresql://casebook_owner@localhost:$PA/casebook_restore?$TLSQ" >"$T/restored.txt"
"$RCBD" dump --canonical --store "$OWN" >"$T/live.txt"
if grep -q "^event " "$T/live.txt" && cmp -s "$T/restored.txt" "$T/live.txt"; then
	pass "the restored database dumps as the live one"
else
	fail "the restored database dumps as the live one" "$(diff "$T/live.txt" "$T/restored.txt" | head -3)"
fi
# A restore for real gives the restored database a new identity.
store_id_of() { psql -X -At -c "SELECT convert_from(value, 'UTF8') FROM settings WHERE key = 'store_id'" "$1"; }
RST="postgresql://casebook_owner@localhost:$PA/casebook_restore?$TLSQ"
check "pg_restore keeps the store's identity" "$(store_id_of "$OWN")" "$(store_id_of "$RST")"
expect_rc "casebookd restore --store: a new identity" 0 "$RCBD" restore --store "$RST"
NEWID=$(store_id_of "$RST")
expect_out "it names it" "new store id $NEWID"
if [ "${#NEWID}" -eq 32 ] && [ "$NEWID" != "$(store_id_of "$OWN")" ]; then
	pass "the restored database has its own identity"
else
	fail "the restored database has its own identity" "$NEWID"
fi

# ---- section 4: a hot standby, synchronous, and a failover ------------------

SU -d postgres -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'repl-secret'" >/dev/null &&
	SU -d postgres -c "SELECT pg_create_physical_replication_slot('standby1')" >/dev/null ||
	fail "replication role and slot" "failed"
mkdir -p "$T/pb"
[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$T/pb"
cp "$PGPASSFILE" "$T/pb/pgpass"
[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$T/pb/pgpass"
if as_pg env PGPASSFILE="$T/pb/pgpass" PGSSLROOTCERT="$T/tls/ca.crt" \
	"$PGBIN/pg_basebackup" -d "host=localhost port=$PA user=replicator sslmode=verify-full application_name=standby1" \
	-D "$T/pb/data" -X stream -S standby1 -R -c fast >"$T/pb/basebackup.log" 2>&1; then
	pass "pg_basebackup -R makes the standby"
else
	fail "pg_basebackup -R makes the standby" "$(tail -3 "$T/pb/basebackup.log")"
fi
cat >>"$T/pb/data/postgresql.conf" <<EOF
port = $PB
unix_socket_directories = '$T/pb'
EOF
# The standby reads the replicator's password and the CA from its own
# files (primary_conninfo names them).
as_pg sh -c "cat >>'$T/pb/data/postgresql.auto.conf'" <<EOF
primary_conninfo = 'host=localhost port=$PA user=replicator sslmode=verify-full sslrootcert=$T/tls/ca.crt passfile=$T/pb/pgpass application_name=standby1'
EOF
as_pg "$PGBIN/pg_ctl" -D "$T/pb/data" -l "$T/pb/server.log" -w start >/dev/null ||
	fail "the standby starts" "$(tail -3 "$T/pb/server.log")"
SU -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" >/dev/null
SU -d postgres -c "SELECT pg_reload_conf()" >/dev/null
_i=0
until [ "$(SU -d postgres -Atc "SELECT sync_state FROM pg_stat_replication")" = sync ]; do
	_i=$((_i + 1))
	[ $_i -gt 300 ] && break
	sleep 0.1
done
check "the standby replicates synchronously" sync \
	"$(SU -d postgres -Atc "SELECT sync_state FROM pg_stat_replication")"

# casebookd with both hosts: it writes to whichever accepts writes.
BOTH="postgresql://casebook_app@localhost:$PA,localhost:$PB/casebook?target_session_attrs=read-write&$TLSQ"
serve "$BOTH" || finish
S2=$(enroll) || fail "enrol" "failed"
expect_rc "sync through the pair" 0 cb L sync
before=$("$RCBD" status --store "$APP" | sed -n 's/^events *\([0-9]*\).*/\1/p')
# The primary is lost; the standby is promoted; casebookd carries on.
as_pg "$PGBIN/pg_ctl" -D "$T/pa/data" -m immediate -w stop >/dev/null
S3=$(enroll) || fail "enrol" "failed"
cb L sync --retries 0 >"$T/out" 2>&1
check "while there is no primary, the laptop keeps its events (exit 5)" 5 "$?"
as_pg "$PGBIN/pg_ctl" -D "$T/pb/data" -w promote >/dev/null ||
	fail "promote the standby" "failed"
expect_rc "after the promotion the same casebookd takes the sync" 0 cb L sync
expect_out "nothing rejected after the failover" "0 rejected"
STANDBY="postgresql://casebook_app@localhost:$PB/casebook?$TLSQ"
after=$("$RCBD" status --store "$STANDBY" | sed -n 's/^events *\([0-9]*\).*/\1/p')
if [ -n "$before" ] && [ "$after" -gt "$before" ]; then
	pass "the promoted standby holds every acknowledged event and the new ones ($before -> $after)"
else
	fail "the promoted standby holds every event" "$before -> $after"
fi
halt
"$RCBD" dump --canonical --site KR01 --store "$STANDBY" >"$T/srv"
cb L dump >"$T/dev" 2>/dev/null
check "the laptop's record is the promoted standby's" "" "$(cmp "$T/srv" "$T/dev" 2>&1)"

# ---- section 5: a base backup, restored -------------------------------------

mkdir -p "$T/pc"
[ "$(id -u)" -eq 0 ] && chown "$OWNER" "$T/pc"
if as_pg env PGPASSFILE="$T/pb/pgpass" PGSSLROOTCERT="$T/tls/ca.crt" \
	"$PGBIN/pg_basebackup" -d "host=localhost port=$PB user=replicator sslmode=verify-full" \
	-D "$T/pc/base" -Ft -z -X fetch -c fast >"$T/pc/basebackup.log" 2>&1; then
	pass "pg_basebackup -Ft -z -X fetch"
else
	fail "pg_basebackup -Ft -z -X fetch" "$(tail -3 "$T/pc/basebackup.log")"
fi
as_pg mkdir -m 700 "$T/pc/data"
as_pg tar xzf "$T/pc/base/base.tar.gz" -C "$T/pc/data"
[ -f "$T/pc/base/pg_wal.tar.gz" ] && as_pg tar xzf "$T/pc/base/pg_wal.tar.gz" -C "$T/pc/data/pg_wal"
as_pg sh -c "rm -f '$T/pc/data/standby.signal'; printf 'port = $PC\nunix_socket_directories = '\"'$T/pc'\"'\n' >>'$T/pc/data/postgresql.conf'"
as_pg "$PGBIN/pg_ctl" -D "$T/pc/data" -l "$T/pc/server.log" -w start >/dev/null ||
	fail "the base backup starts" "$(tail -3 "$T/pc/server.log")"
"$RCBD" dump --canonical --store "postgresql://casebook_app@localhost:$PC/casebook?$TLSQ" >"$T/base.txt"
"$RCBD" dump --canonical --store "$STANDBY" >"$T/live2.txt"
if grep -q "^event " "$T/live2.txt" && cmp -s "$T/base.txt" "$T/live2.txt"; then
	pass "the restored base backup dumps as the live database"
else
	fail "the restored base backup dumps as the live database" "$(diff "$T/live2.txt" "$T/base.txt" | head -3)"
fi

finish
