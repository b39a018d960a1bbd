#!/bin/sh
# install.sh BIN MANDIR DESTDIR PREFIX: what 'make install' does, once the
# programs (in BIN) and their manual pages (in MANDIR, scripts/mkman) are
# built: the programs, the pages, bash completion, the systemd unit (with
# the installed program's path) and its sysusers file, under
# DESTDIR/PREFIX.
set -eu
bin=$1 mandir=$2 root=$3$4 prefix=$4
top=$(cd "$(dirname "$0")/.." && pwd)

# PREFIX goes into the unit's ExecStart= as is: an absolute path of
# plain characters, or the unit would run something else or nothing.
case $prefix in
/*) ;;
*)
	echo "install: PREFIX must be an absolute path (got '$prefix')" >&2
	exit 2
	;;
esac
if printf '%s' "$prefix" | grep -q '[^A-Za-z0-9/._+-]'; then
	echo "install: PREFIX '$prefix' has characters a systemd unit path" \
		"cannot hold (letters, digits and /._+- only)" >&2
	exit 2
fi

install -d "$root/bin" "$root/share/man/man1" "$root/share/man/man8" \
	"$root/share/bash-completion/completions" \
	"$root/lib/systemd/system" "$root/lib/sysusers.d"
install -m 755 "$bin/casebook" "$bin/casebookd" "$root/bin/"
install -m 644 "$mandir/casebook.1" "$root/share/man/man1/"
install -m 644 "$mandir/casebookd.8" "$root/share/man/man8/"
install -m 644 "$top/scripts/completion.bash" \
	"$root/share/bash-completion/completions/casebook"
ln -sf casebook "$root/share/bash-completion/completions/casebookd"
sed "s|@BINDIR@|$prefix/bin|g" "$top/scripts/casebookd.service.in" \
	>"$root/lib/systemd/system/casebookd.service"
chmod 644 "$root/lib/systemd/system/casebookd.service"
install -m 644 "$top/scripts/casebookd.sysusers" \
	"$root/lib/sysusers.d/casebookd.conf"
echo "installed casebook and casebookd under $root"
