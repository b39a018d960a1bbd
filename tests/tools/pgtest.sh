#!/bin/sh
# pgtest.sh - a throwaway PostgreSQL server for the tests: initdb in a
# temporary directory, listening only on a Unix socket in that
# directory (no TCP port), stopped and removed afterwards.
#
#   tests/tools/pgtest.sh start DIR   make DIR (must not exist), start the
#                                     server, print "HOST USER": the socket
#                                     directory and the user to connect as
#   tests/tools/pgtest.sh stop DIR    stop it and remove DIR
#
# initdb refuses to run as root: as root the server runs as the
# unprivileged system user "postgres" (made by Debian's postgresql
# package) or, without it, "nobody", owning DIR. Connections over the
# socket are trusted (only this machine's users can reach it) and the
# superuser is "cbtest". fsync is off: the tests stop casebookd, never
# this server's machine, and run faster without it.
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && bindir=$d
done
[ -n "$bindir" ] || { echo "pgtest: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$owner" -- "$@"
	else
		"$@"
	fi
}
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	if id postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
fi

case "$cmd" in
start)
	mkdir -p "$dir"
	chmod 755 "$dir"
	[ "$(id -u)" -eq 0 ] && chown "$owner" "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -U cbtest --auth=trust \
		-E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2; exit 1; }
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 400
shared_buffers = 64MB
fsync = off
full_page_writes = off
log_min_messages = warning
CONF
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
		-t 60 start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	echo "$dir cbtest"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop \
			>/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
