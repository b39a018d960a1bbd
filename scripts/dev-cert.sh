#!/bin/sh
# dev-cert.sh - a self-signed development certificate for casebookd.
#
#   scripts/dev-cert.sh [--force] [--days N] DIR
#
# Writes DIR/cert.pem (the certificate, valid for 127.0.0.1 and
# localhost) and DIR/key.pem (its ECDSA P-256 private key, mode 0600),
# for `casebookd serve --tls-cert DIR/cert.pem --tls-key DIR/key.pem`.
# Clients trust it with `--cacert DIR/cert.pem`; nothing else trusts it,
# which is the point: it is for a developer's machine and for tests,
# never for a real deployment (use a certificate from your CA there).
#
# An existing pair is kept unless --force is given (a running server may
# be using it). Needs openssl(1) (scripts/install-deps.sh installs it).
# Exit codes: 0 written; 1 failure; 2 usage.
set -eu

usage() {
	echo "usage: scripts/dev-cert.sh [--force] [--days N] DIR" >&2
	exit 2
}

force=0
days=365
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--days)
		[ $# -ge 2 ] || usage
		days=$2
		shift
		;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	--) shift; break ;;
	-*) echo "dev-cert.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 1 ] || usage
dir=$1
case $days in
'' | *[!0-9]*) echo "dev-cert.sh: --days takes a number of days" >&2; exit 2 ;;
esac
[ "$days" -ge 1 ] && [ "$days" -le 3650 ] || {
	echo "dev-cert.sh: --days takes 1 to 3650" >&2
	exit 2
}
command -v openssl >/dev/null 2>&1 || {
	echo "dev-cert.sh: openssl is needed (run scripts/install-deps.sh)" >&2
	exit 1
}

cert=$dir/cert.pem
key=$dir/key.pem
if [ $force -eq 0 ] && { [ -e "$cert" ] || [ -e "$key" ]; }; then
	echo "dev-cert.sh: $dir already holds cert.pem or key.pem;" \
		"keeping them (--force replaces them)" >&2
	exit 1
fi
mkdir -p "$dir"

# Written beside the final names, then moved, so a failure leaves no
# half pair behind. The key is never readable by others.
umask 077
tmpkey=$dir/.key.pem.$$
tmpcert=$dir/.cert.pem.$$
trap 'rm -f "$tmpkey" "$tmpcert"' EXIT INT TERM
if ! err=$(openssl req -x509 -newkey ec \
	-pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
	-days "$days" -subj "/CN=casebookd development server" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-addext "extendedKeyUsage=serverAuth" \
	-keyout "$tmpkey" -out "$tmpcert" 2>&1); then
	echo "dev-cert.sh: openssl failed: $err" >&2
	exit 1
fi
chmod 600 "$tmpkey"
chmod 644 "$tmpcert"
mv -f "$tmpkey" "$key"
mv -f "$tmpcert" "$cert"
trap - EXIT INT TERM

fp=$(openssl x509 -in "$cert" -noout -fingerprint -sha256 | sed 's/^.*=//')
cat <<EOF
dev-cert.sh: wrote a self-signed development certificate, valid $days days
  certificate  $cert   (for 127.0.0.1 and localhost)
  private key  $key    (mode 0600)
  SHA-256      $fp

Serve HTTPS with it:
  casebookd serve --data DATA --listen 127.0.0.1:8443 \\
      --tls-cert $cert --tls-key $key

Register a device, trusting this certificate only:
  casebook init --server https://127.0.0.1:8443 --cacert $cert \\
      --token TOKEN --user NAME
(the device keeps using it for 'casebook sync'). Check the server:
  curl --cacert $cert https://127.0.0.1:8443/v1/health

For development and tests only: clients that are not given --cacert
refuse this certificate, as they should.
EOF
