#!/bin/sh
# t_layers.sh - the tree's structure rules (scripts/check-layers) hold on
# this build, and the checker does see each kind of breach: objects made
# here with a cycle among client files, a command file calling another,
# a call from common/ upward and SQLite outside a store layer.
. "$(dirname "$0")/lib.sh"

CHK="$CASEBOOK_TOP/scripts/check-layers"

expect_rc "this build: no cycle, no call upward, SQLite in the store only" \
	0 "$CHK" "$CASEBOOK_TOP/build"
expect_out "this build: the summary line" "no cycle, no call upward"

# A tree of small sources whose objects break each rule; check-layers
# reads objects under BUILD/{common,client,server} whose sources exist
# relative to the current directory.
mk() { # FILE SOURCE
	mkdir -p "$T/src/$(dirname "$1")"
	printf '%s\n' "$2" >"$T/src/$1"
}
build() {
	rm -rf "$T/src/build"
	for f in $(cd "$T/src" && find common client server -name '*.c'); do
		mkdir -p "$T/src/build/$(dirname "$f")"
		cc -c -o "$T/src/build/${f%.c}.o" "$T/src/$f" || return 1
	done
}
layers() { # NAME WANT_RC WANT_TEXT
	(cd "$T/src" && "$CHK" build) >"$T/out" 2>"$T/err"
	_rc=$?
	if [ "$_rc" -eq "$2" ] && cat "$T/out" "$T/err" | grep -qF -- "$3"; then
		pass "$1"
	else
		fail "$1" "exit $_rc, wanted $2 and '$3'; got: $(cat "$T/out" "$T/err" | head -c 400)"
	fi
}

mk common/lib.c 'int lib(void); int lib(void) { return 1; }'
mk client/a.c 'int lib(void); int a(void); int a(void) { return lib(); }'
mk client/b.c 'int a(void); int b(void); int b(void) { return a(); }'
build && layers "a clean tree passes" 0 "no cycle"

mk client/a.c 'int b(void); int a(void); int a(void) { return b(); }'
build && layers "a cycle between two client files is found" 1 "cycle"

mk client/a.c 'int a(void); int a(void) { return 0; }'
mk client/cmd_x.c 'int cmd_x(void); int cmd_x(void) { return 0; }'
mk client/cmd_y.c 'int cmd_x(void); int cmd_y(void); int cmd_y(void) { return cmd_x(); }'
build && layers "a command file calling another is found" 1 "cmd_y.c"

rm -f "$T/src/client/cmd_x.c" "$T/src/client/cmd_y.c"
mk common/lib.c 'int a(void); int lib(void); int lib(void) { return a(); }'
build && layers "a call from common/ upward is found" 1 "common/lib.c"

mk common/lib.c 'int lib(void); int lib(void) { return 1; }'
mk server/api.c 'int sqlite3_step(void *); int api(void); int api(void) { return sqlite3_step(0); }'
build && layers "SQLite outside a store layer is found" 1 "sqlite3_step"

finish
