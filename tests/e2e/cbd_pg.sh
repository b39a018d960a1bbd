#!/bin/sh
# cbd_pg.sh - casebookd with its central store in PostgreSQL, for the
# end-to-end scenarios run against that backend: lib.sh makes it $CBD
# when CASEBOOK_TEST_STORE=pg. Every "--data DIR" becomes "--store URL"
# of a database named after DIR on the test server (CASEBOOK_PG_HOST,
# CASEBOOK_PG_USER; tests/tools/pgtest.sh), so a scenario written for a
# data directory runs unchanged; `init` makes the empty database first,
# as an administrator would (docs/OPERATIONS.md), and the name goes to
# $CASEBOOK_PG_DBLIST for lib.sh to drop at the end.
real="$CASEBOOK_BIN/casebookd"
n=$#
i=0
prev=""
first=${1:-}
for a in "$@"; do
	i=$((i + 1))
	if [ "$prev" = "--data" ]; then
		db="cb_$(printf %s "$a" | md5sum | cut -c1-24)"
		url="postgresql://$CASEBOOK_PG_USER@/$db?host=$CASEBOOK_PG_HOST"
		if [ "$first" = init ] || [ "$first" = migrate ]; then
			createdb -h "$CASEBOOK_PG_HOST" -U "$CASEBOOK_PG_USER" \
				"$db" 2>/dev/null &&
				echo "$db" >>"${CASEBOOK_PG_DBLIST:-/dev/null}"
		fi
		set -- "$@" "--store" "$url"
	elif [ "$a" != "--data" ]; then
		set -- "$@" "$a"
	fi
	prev=$a
done
shift "$n"
exec "$real" "$@"
