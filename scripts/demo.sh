#!/bin/sh
# The main Casebook scenario, run by `make demo`. It grows with the code:
# it always runs the richest real scenario the programs support.
#
# Now: a multi-site trial on one machine. A central casebookd runs on a
# free loopback port with its data in a temporary directory. Three sites
# (Seoul, Berlin, Boston) each register a coordinator's laptop, Seoul a
# second laptop for its investigator, and the data manager a central
# device. The laptops work offline: screening, baseline and adverse
# events with edit checks, a soft query and reasons for changes. Then
# they sync; two Seoul laptops change the same value concurrently, both
# see the conflict and its system query, and the investigator resolves
# it; the data manager pulls every site and raises a query that the
# Berlin site answers. Randomization and blinding: the independent
# statistician makes the unblinding key and a sealed list for the three
# sites, the administrator imports it, the Seoul laptop randomizes its
# eligible subject with a slot leased at sync (numbers only, never the
# arm), dosing takes only the subject's kit, and the investigator breaks
# the blind once in an emergency, which the server flags. Every
# passphrase goes through the real Argon2id.
# At the end the server is stopped and the directory removed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CASEBOOK_BIN:-$top/bin}
proto="$top/schemas/knee-oa-msc.json"
work=$(mktemp -d "${TMPDIR:-/tmp}/casebook-demo.XXXXXX")
srv_pid=""

cleanup() {
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
unset CASEBOOK_HOME CASEBOOK_USER CASEBOOK_KDF_FAST CASEBOOK_PASSPHRASE

step() { printf '\n== %s\n' "$*"; }
# args ARGS...: the arguments as a shell would need them typed.
args() {
	for _a in "$@"; do
		case $_a in
		*[!A-Za-z0-9_.,:=/@+#-]*) printf " '%s'" "$_a" ;;
		*) printf ' %s' "$_a" ;;
		esac
	done
	printf '\n'
}
note() { printf '   (%s)\n' "$*"; }

# on DEVICE ARGS...: run casebook on one device, showing the command.
# Each device has its own home directory and passphrase (a real user
# types it at a prompt without echo).
on() {
	_dev=$1
	shift
	printf '%s$ casebook' "$_dev"
	args "$@"
	CASEBOOK_PASSPHRASE="demo passphrase of $_dev" \
		"$bin/casebook" --home "$work/$_dev" "$@"
}
# quiet DEVICE ARGS...: the same, printing only what the command prints.
quiet() {
	_dev=$1
	shift
	CASEBOOK_PASSPHRASE="demo passphrase of $_dev" \
		"$bin/casebook" --home "$work/$_dev" "$@"
}
# refused DEVICE ARGS...: a command meant to be refused, with its exit code.
refused() {
	set +e
	on "$@"
	_rc=$?
	set -e
	echo "(exit $_rc: refused, nothing was saved)"
}
admin() {
	printf 'server$ casebookd'
	args "$@"
	"$bin/casebookd" "$@"
}

# statistician ARGS...: casebook on the statistician's offline machine
# (no store, no server; files in its own directory).
stat="$work/statistician"
statistician() {
	printf 'statistician$ casebook'
	args "$@"
	(cd "$stat" && "$bin/casebook" "$@")
}

data="$work/server"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port"

step "The study protocol"
"$bin/casebook" protocol check "$proto"
"$bin/casebook" protocol show "$proto" | sed -n '4,15p'

step "The independent statistician, offline: the unblinding key and a sealed list"
mkdir -p "$stat"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$stat/seed.txt"
CASEBOOK_NEW_PASSPHRASE="demo passphrase of the statistician" \
	statistician keygen --out unblind.key
statistician randlist generate --protocol "$proto" --sites KR01,DE02,US03 \
	--per-stratum 8 --block-sizes 2,4 --seed-file seed.txt \
	--unblinding-pub unblind.key.pub --out list.json
statistician randlist verify list.json
note "list.json holds only sealed arms; each site's code-break sheet goes, sealed, to its investigator"
sed -n '1,6p' "$stat/list.json.KR01.codebreak.txt"

step "The central server: a data directory, three sites, the list, a server on loopback"
admin init --data "$data" --protocol "$proto"
admin site add --data "$data" KR01 --name "Seoul National University Hospital"
admin site add --data "$data" DE02 --name "Charite Berlin"
admin site add --data "$data" US03 --name "Massachusetts General Hospital"
admin randlist import --data "$data" "$stat/list.json"
note "the server stores the sealed arms and has no key to open them"
echo "server$ casebookd serve --data $data --listen 127.0.0.1:$port &"
"$bin/casebookd" serve --data "$data" --listen "127.0.0.1:$port" \
	2>"$work/server.log" &
srv_pid=$!
i=0
until curl -sf "$url/v1/health" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 200 ] || ! kill -0 "$srv_pid" 2>/dev/null; then
		echo "the server did not start:"
		cat "$work/server.log"
		exit 1
	fi
	sleep 0.05
done
echo "listening on $url (structured log lines go to server.log)"

step "The people: the administrator registers each person once"
admin user add --data "$data" kim --full-name "Kim Min-ji" --role coordinator --site KR01
admin user add --data "$data" park --full-name "Dr. Park Ji-ho" --role investigator --site KR01
admin user add --data "$data" weber --full-name "Anna Weber" --role coordinator --site DE02
admin user add --data "$data" smith --full-name "John Smith" --role coordinator --site US03
admin user add --data "$data" lee --full-name "Lee Soo-jin" --role datamanager
note "the server takes events only from people it knows, with their own role"

step "Enrolling the devices: one-time tokens, each device registers its key"
# register DEVICE USER: a one-time token for the person (casebookd prints
# it on stdout), with which their laptop registers its key.
register() {
	_dev=$1 _user=$2
	_tok=$("$bin/casebookd" token create --data "$data" --user "$_user" 2>/dev/null)
	echo "server$ casebookd token create --data $data --user $_user   -> cbt_...(one-time)"
	on "$_dev" init --server "$url" --token "$_tok" --user "$_user"
}
register kr01-kim kim
register kr01-park park
register de02-weber weber
register us03-smith smith
admin device list --data "$data"

step "Seoul, laptop 1, offline: screen a subject"
s1=$(quiet kr01-kim subject add)
echo "kr01-kim$ casebook subject add"
echo "$s1"
on kr01-kim form set "$s1" SCR SV VISDT=2024-01-08
on kr01-kim form set "$s1" SCR DM BRTHYR=1961 SEX=F HEIGHT=162 WEIGHT=68 \
	KNEE=R CONSDT=2024-01-05
on kr01-kim form set "$s1" SCR ELIG AGE=62 KLGRADE=3 PAIN3M=Y BMI=25.9 \
	IAINJ3M=N INFLARTH=N PREG=NA

step "A height outside 100-230 cm is refused by an edit check"
refused kr01-kim form set "$s1" SCR DM HEIGHT=1620

step "Baseline: visit, VAS pain and WOMAC (one pain item unanswered)"
on kr01-kim form set "$s1" BL SV VISDT=2024-02-01
on kr01-kim form set "$s1" BL VAS VAS=64
on kr01-kim form set "$s1" BL WOMAC P1=2 P2=3 P3=1 P4=2 S1=1 S2=2 \
	F1=1 F2=2 F3=1 F4=2 F5=1 F6=2 F7=1 F8=2 F9=1 F10=2 F11=1 F12=2 \
	F13=1 F14=2 F15=1 F16=2 F17=2

step "An injection visit outside its window saves, with a soft query"
on kr01-kim form set "$s1" INJ SV VISDT=2024-03-15

step "Correcting a saved value needs a reason"
refused kr01-kim form set "$s1" BL VAS VAS=46
on kr01-kim form set "$s1" BL VAS VAS=46 \
	--reason "transcription error, source says 46"

step "Adverse events: one in Korean, and a serious one missing its criterion"
on kr01-kim form set "$s1" LOG 'AE#1' AETERM="무릎 부종" AESTDTC=2024-03 \
	AEONGO=Y AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT AERELPR=POSSIBLE \
	AEACN=NONE AEOUT=RECOVERING
refused kr01-kim form set "$s1" LOG 'AE#1' AESER=Y \
	--reason "hospitalized overnight"

step "Nothing readable on the laptop's disk: ids and AE terms are encrypted"
if grep -c -a -e "$s1" -e "무릎" "$work/kr01-kim"/casebook.db* >/dev/null; then
	echo "FOUND plaintext in the store"
	exit 1
fi
echo "no plaintext of $s1 or the AE term in $(ls "$work/kr01-kim" | tr '\n' ' ')"

step "Berlin and Boston, offline: a subject each"
s2=$(quiet de02-weber subject add)
echo "de02-weber$ casebook subject add"
echo "$s2"
on de02-weber form set "$s2" SCR SV VISDT=2024-01-15
on de02-weber form set "$s2" SCR DM BRTHYR=1958 SEX=M HEIGHT=181 \
	WEIGHT=92 KNEE=L CONSDT=2024-01-12
on de02-weber form set "$s2" BL SV VISDT=2024-02-09
on de02-weber form set "$s2" BL VAS VAS=71
s3=$(quiet us03-smith subject add)
echo "us03-smith$ casebook subject add"
echo "$s3"
on us03-smith form set "$s3" SCR SV VISDT=2024-01-22
on us03-smith form set "$s3" SCR DM BRTHYR=1966 SEX=F HEIGHT=158 \
	WEIGHT=74 KNEE=R CONSDT=2024-01-19
on us03-smith form set "$s3" LOG 'AE#1' AETERM="Headache" AESTDTC=2024-01-25 \
	AEONGO=N AEENDTC=2024-01-26 AETOXGR=1 AESEV=MILD AESER=N AEREL=NOT \
	AERELPR=NOT AEACN=NONE AEOUT=RECOVERED
on us03-smith status

step "The network is back: every laptop syncs"
for d in kr01-kim de02-weber us03-smith kr01-park; do
	on "$d" sync
done
note "the second Seoul laptop received its site's events, no other site's"
on kr01-park subject list
note "each site laptop also holds a lease of randomization slots now"

step "Seoul randomizes its eligible subject (works offline: the slot is leased)"
on kr01-kim randomize "$s1" | tee "$work/rand.out"
kit=$(sed -n 's/.*kit number: *//p' "$work/rand.out")
[ -n "$kit" ] || { echo "randomization failed"; exit 1; }
note "a randomization and a kit number, never the arm: the site stays blind"

step "Dosing: only the subject's kit $kit is accepted"
wrong=100001
[ "$kit" != "$wrong" ] || wrong=100002
refused kr01-kim form set "$s1" INJ DOSE EXDTC=2024-03-15T10:30 \
	KITNO="$wrong" EXVOL=3.0 EXKNEE=R EXLOT=LOT-24A IMMREACT=N
on kr01-kim form set "$s1" INJ DOSE EXDTC=2024-03-15T10:30 KITNO="$kit" \
	EXVOL=3.0 EXKNEE=R EXLOT=LOT-24A IMMREACT=N

step "A conflict: both Seoul laptops change the weight offline"
on kr01-kim form set "$s1" SCR DM WEIGHT=67.5 --reason "re-weighed at visit"
on kr01-park form set "$s1" SCR DM WEIGHT=68.5 --reason "scale recalibrated"
on kr01-kim sync
on kr01-park sync
on kr01-kim sync
note "both laptops derive the same conflict and the same system query"
on kr01-kim form show "$s1" SCR DM
on kr01-park query list

step "The investigator resolves the conflict, with a reason"
on kr01-park form set "$s1" SCR DM WEIGHT=68 \
	--reason "source document: 68 kg, both entries were typos"
on kr01-park sync
on kr01-kim sync
on kr01-kim form show "$s1" SCR DM
"$bin/casebookd" dump --data "$data" --canonical --site KR01 >"$work/srv.KR01"
quiet kr01-kim dump >"$work/kim.KR01"
quiet kr01-park dump >"$work/park.KR01"
if cmp -s "$work/srv.KR01" "$work/kim.KR01" &&
	cmp -s "$work/srv.KR01" "$work/park.KR01"; then
	echo "the server and both Seoul laptops hold the identical record" \
		"($(grep -c '^event ' "$work/srv.KR01") events)"
else
	echo "the server and the Seoul laptops differ"
	exit 1
fi

step "An emergency: the investigator breaks the blind of one subject"
refused kr01-kim unblind "$s1" --reason "curious"
note "only an investigator may; park opens KR01's sealed code-break sheet and types its passphrase"
CASEBOOK_CODEBREAK_PASSPHRASE=$(sed -n \
	's/^    \([A-Z0-9]\{4\}-.*\)$/\1/p' "$stat/list.json.KR01.codebreak.txt")
export CASEBOOK_CODEBREAK_PASSPHRASE
on kr01-park unblind "$s1" \
	--reason "suspected anaphylaxis after the injection, treating physician needs the arm"
unset CASEBOOK_CODEBREAK_PASSPHRASE
on kr01-park sync
note "the code-break is an event: who, when, why; the server flags the subject"
admin status --data "$data" | sed -n '/^randomization/,$p'

step "The data manager's device pulls every site (blinded)"
register dm-lee lee
on dm-lee sync
on dm-lee subject list
on dm-lee query list

step "The data manager raises a query; Berlin answers at its next sync"
on dm-lee query open "$s2" SCR DM HEIGHT \
	--text "Height 181 cm: please confirm against the source" |
	tee "$work/query.out"
qid=$(sed -n 's/^query \([0-9a-f]*\) opened.*/\1/p' "$work/query.out")
on dm-lee sync
on de02-weber sync
on de02-weber query list
on de02-weber query answer "$qid" --text "Confirmed: 181 cm in the source"
on de02-weber sync
on dm-lee sync
on dm-lee query close "$qid" --text "Thank you"
on dm-lee sync
on de02-weber sync
on de02-weber query list --all

step "The server's view"
admin status --data "$data"

step "Stopping the server (SIGTERM: requests in progress finish first)"
kill "$srv_pid"
wait "$srv_pid" || true
srv_pid=""
grep -c '"msg":"request"' "$work/server.log" |
	sed 's/^/requests served: /'

step "The events are the record: rebuild every derived table from them"
"$bin/casebookd" dump --data "$data" >"$work/derived.before"
admin rebuild --data "$data"
"$bin/casebookd" dump --data "$data" >"$work/derived.after"
if cmp -s "$work/derived.before" "$work/derived.after"; then
	echo "identical to what the server derived as the events arrived" \
		"($(grep -c -v '^\[' "$work/derived.after") rows)"
else
	echo "the rebuilt tables differ from the server's"
	exit 1
fi
step "The statistician's export (blinded) and the DSMB's open safety report"
admin export --data "$data" --format csv --out "$work/export"
note "one CSV per form, subjects, conflicts, a dictionary; export.json states the data cut-off"
ls "$work/export"
admin report safety --data "$data"
echo "demo finished; removing $work"
