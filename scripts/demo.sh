#!/bin/sh
# The main Casebook scenario, run by `make demo`. It grows with the code:
# it always runs the richest real scenario the programs support.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CASEBOOK_BIN:-$top/bin}
cb="$bin/casebook"
proto="$top/schemas/knee-oa-msc.json"

step() { printf '\n== %s\n' "$*"; }

step "Check the shipped study protocol"
"$cb" protocol check "$proto"

step "Its visit schedule and forms"
"$cb" protocol show "$proto"

step "WOMAC for a baseline visit with one pain item unanswered (imputed)"
echo "\$ casebook score womac P1=2 P2=3 P3=1 P4=2 S1=1 S2=2 F1=1 ... F17=2"
"$cb" score womac P1=2 P2=3 P3=1 P4=2 S1=1 S2=2 \
	F1=1 F2=2 F3=1 F4=2 F5=1 F6=2 F7=1 F8=2 F9=1 F10=2 F11=1 F12=2 \
	F13=1 F14=2 F15=1 F16=2 F17=2

step "KOOS with too few sport items answered (that subscale is null)"
"$cb" score koos P1=1 P2=1 P3=2 P4=2 P5=1 P6=0 P7=1 P8=1 P9=2 \
	S1=1 S2=1 S3=0 S4=2 S5=1 S6=1 S7=1 \
	A1=1 A2=1 A3=1 A4=1 A5=1 A6=1 A7=1 A8=1 A9=1 A10=2 \
	SP1=3 SP2=4 Q1=2 Q2=2 Q3=3 Q4=2

step "A value out of range is refused (exit 3)"
"$cb" score womac P1=7 || echo "(exit $?)"
