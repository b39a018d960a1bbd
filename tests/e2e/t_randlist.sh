#!/bin/sh
# t_randlist.sh - the statistician's offline tools: casebook keygen and
# casebook randlist generate|verify|reveal. Checks from the revealed list
# that every block holds the arms in ratio with sizes from the set, that
# the seed reproduces the list and another seed does not, that kits are
# unique, that list.json holds no arm in plaintext, and that bad
# parameters, altered lists, wrong keys and wrong passphrases are refused.
. "$(dirname "$0")/lib.sh"

export CASEBOOK_KDF_FAST=1
unset CASEBOOK_PASSPHRASE CASEBOOK_NEW_PASSPHRASE
MINI="$CASEBOOK_TOP/tests/e2e/protocols/good-mini.json"
SEED="e2e-seed-$$-0123456789"
cd "$T" || exit 1

# ---- keygen ------------------------------------------------------------
CASEBOOK_NEW_PASSPHRASE=stat-pass-123 expect_rc keygen_ok 0 \
	"$CB" keygen --out unblind.key
expect_out keygen_prints_pub "unblinding public key: "
expect_out keygen_warns_test_cost "test-only Argon2id cost"
if [ -f unblind.key ] && [ -f unblind.key.pub ]; then
	pass keygen_files
else
	fail keygen_files "unblind.key or unblind.key.pub missing"
fi
if [ "$(stat -c %a unblind.key)" = 600 ]; then
	pass keygen_key_mode
else
	fail keygen_key_mode "mode $(stat -c %a unblind.key)"
fi
pub=$(sed -n 2p unblind.key.pub)
if head -1 unblind.key.pub | grep -q '^casebook-unblinding-public-key/1$' &&
	grep -q "unblinding public key: $pub" "$T/out"; then
	pass keygen_pub_file
else
	fail keygen_pub_file "header or printed key differ"
fi
if grep -q stat-pass-123 unblind.key; then
	fail keygen_no_plain_pass "passphrase in the key file"
else
	pass keygen_no_plain_pass
fi
CASEBOOK_NEW_PASSPHRASE=stat-pass-123 expect_rc keygen_no_overwrite 1 \
	"$CB" keygen --out unblind.key
expect_out keygen_no_overwrite_msg "exists"
CASEBOOK_NEW_PASSPHRASE=short expect_rc keygen_short_pass 1 \
	"$CB" keygen --out other.key
expect_rc keygen_needs_out 2 "$CB" keygen
CASEBOOK_NEW_PASSPHRASE=other-pass-123 expect_rc keygen_other 0 \
	"$CB" keygen --out other.key

CASEBOOK_KDF_FAST= CASEBOOK_NEW_PASSPHRASE=stat-pass-123 expect_rc keygen_default_cost 0 \
	"$CB" keygen --out unblind-real.key
expect_no_out keygen_default_cost_no_warning "test-only"

# ---- generate ----------------------------------------------------------
gen() { # OUT SEED [more args]
	_o=$1 _s=$2
	shift 2
	"$CB" randlist generate --protocol "$PROTO" --sites KR01,KR02,KR03 \
		--per-stratum 20 --block-sizes 2,4 --seed "$_s" \
		--unblinding-pub unblind.key.pub --out "$_o" "$@"
}
expect_rc generate_ok 0 gen list.json "$SEED"
expect_out generate_fingerprint "signing key fingerprint: "
fp=$(sed -n 's/^signing key fingerprint: //p' "$T/out")
ok=1
for s in KR01 KR02 KR03; do
	f=list.json.$s.codebreak.txt
	[ -f "$f" ] && [ "$(stat -c %a "$f")" = 600 ] &&
		grep -q "passphrase for site $s" "$f" || ok=0
done
if [ $ok = 1 ]; then pass generate_sheets; else fail generate_sheets "sheet missing or not 0600"; fi

leak=""
for w in MSC PBO "ADMSC 1.0" "Saline placebo" "$SEED"; do
	grep -qF -- "$w" list.json && leak="$leak [$w]"
done
pp=$(sed -n 's/^    \([A-Z2-7-]*\)$/\1/p' list.json.KR01.codebreak.txt)
[ -n "$pp" ] && grep -qF -- "$pp" list.json && leak="$leak [passphrase]"
if [ -z "$leak" ]; then pass list_no_plaintext; else fail list_no_plaintext "list.json has$leak"; fi

expect_rc generate_no_overwrite 1 gen list.json "$SEED"
expect_out generate_no_overwrite_msg "exists"

# ---- verify ------------------------------------------------------------
expect_rc verify_ok 0 "$CB" randlist verify list.json
expect_out verify_good "list.json: good"
expect_out verify_fingerprint "key fingerprint $fp"
expect_out verify_counts "at least 20 per site and stratum"
expect_rc verify_seed_ok 0 "$CB" randlist verify list.json --seed "$SEED" \
	--protocol "$PROTO"
expect_out verify_seed_msg "seed      matches"
"$CB" randlist verify list.json --seed "$SEED" --json >verify.json 2>&1
check verify_json "$fp 1 0 True" "$(python3 -c '
import json, sys
v = json.load(open("verify.json"))
print(v["fingerprint"], int(v["seed_checked"]), int(v["protocol_checked"]),
      v["slots"] >= v["per_stratum"] and v["per_stratum"] == 20)')"
expect_rc verify_seed_wrong 1 "$CB" randlist verify list.json \
	--seed "another-seed-0123456789"
expect_rc verify_protocol_wrong 1 "$CB" randlist verify list.json \
	--protocol "$MINI"
expect_out verify_protocol_wrong_msg "made for study knee-oa-msc"

sed 's/"per_stratum":\(.*\)"20"/"per_stratum":\1"21"/' list.json >tampered.json
if cmp -s list.json tampered.json; then
	fail tamper_setup "sed changed nothing"
else
	expect_rc verify_tampered 1 "$CB" randlist verify tampered.json
	expect_out verify_tampered_msg "signature"
fi
kit=$(sed -n 's/.*"kit":[^0-9]*\([0-9]*\)".*/\1/p' list.json | head -1)
sed "s/\"$kit\"/\"$(echo "$kit" | tr 0-9 1-90)\"/" list.json >kit.json
expect_rc verify_kit_changed 1 "$CB" randlist verify kit.json
echo '{"format":"something-else"}' >notalist.json
expect_rc verify_not_a_list 1 "$CB" randlist verify notalist.json
expect_rc verify_missing 1 "$CB" randlist verify nosuch.json
expect_rc verify_usage 2 "$CB" randlist verify

# ---- reveal ------------------------------------------------------------
CASEBOOK_PASSPHRASE=stat-pass-123 expect_rc reveal_ok 0 \
	"$CB" randlist reveal list.json --key unblind.key --csv
cp "$T/out" revealed.csv
CASEBOOK_PASSPHRASE=stat-pass-123 expect_rc reveal_json 0 \
	"$CB" randlist reveal list.json --key unblind.key --json
cp "$T/out" revealed.json
# The same slots as the CSV, field by field.
check reveal_json_equals_csv "same" "$(python3 -c '
import csv, json
rows = list(csv.DictReader(open("revealed.csv")))
js = json.load(open("revealed.json"))["slots"]
same = len(rows) == len(js) and all(
    r["site"] == j["site"] and r["stratum"] == j["stratum"] and
    int(r["seq"]) == j["seq"] and int(r["block"]) == j["block"] and
    r["randno"] == j["randno"] and r["kit"] == j["kit"] and r["arm"] == j["arm"]
    for r, j in zip(rows, js))
print("same" if same and rows else "differ")')"
expect_rc reveal_csv_and_json 2 "$CB" randlist reveal list.json --key unblind.key --csv --json
if head -1 revealed.csv | grep -q '^site,stratum,seq,block,randno,kit,arm$'; then
	pass reveal_csv_header
else
	fail reveal_csv_header "$(head -1 revealed.csv)"
fi
n=$(($(wc -l <revealed.csv) - 1))
if [ "$n" -ge 120 ]; then pass reveal_all_slots; else fail reveal_all_slots "$n slots"; fi

# every block: size 2 or 4, arms MSC and PBO equal (1:1), nothing else
bad=$(awk -F, 'NR > 1 {
		k = $1 "/" $2 "/" $4; size[k]++
		if ($7 == "MSC") msc[k]++; else if ($7 == "PBO") pbo[k]++;
		else print "unknown arm " $7
	}
	END { for (k in size) {
		if (size[k] != 2 && size[k] != 4) print k " size " size[k]
		if (msc[k] + 0 != pbo[k] + 0) print k " unbalanced"
	} }' revealed.csv)
if [ -z "$bad" ]; then pass blocks_in_ratio; else fail blocks_in_ratio "$bad"; fi
# each site and stratum: at least 20 slots, 6 strata in all
bad=$(awk -F, 'NR > 1 { n[$1 "/" $2]++ } END { c = 0
	for (k in n) { c++; if (n[k] < 20) print k " has " n[k] }
	if (c != 6) print c " strata" }' revealed.csv)
if [ -z "$bad" ]; then pass strata_filled; else fail strata_filled "$bad"; fi
dups=$(awk -F, 'NR > 1 { print $6 }' revealed.csv | sort | uniq -d)
if [ -z "$dups" ]; then pass kits_unique; else fail kits_unique "$dups"; fi
if awk -F, 'NR > 1 && $6 !~ /^[1-9][0-9][0-9][0-9][0-9][0-9]$/ { exit 1 }' revealed.csv; then
	pass kits_six_digits
else
	fail kits_six_digits "a kit is not 6 digits"
fi
if grep -q '^KR02,3,1,1,R-KR02-3-001,' revealed.csv; then
	pass randno_format
else
	fail randno_format "$(grep '^KR02,3,1,' revealed.csv)"
fi

CASEBOOK_PASSPHRASE=stat-pass-123 expect_rc reveal_text 0 \
	"$CB" randlist reveal list.json --key unblind.key
expect_out reveal_text_header "randno"
CASEBOOK_PASSPHRASE=wrong-pass-123 expect_rc reveal_wrong_pass 4 \
	"$CB" randlist reveal list.json --key unblind.key
expect_no_out reveal_wrong_pass_no_arm "MSC"
CASEBOOK_PASSPHRASE=other-pass-123 expect_rc reveal_wrong_key 4 \
	"$CB" randlist reveal list.json --key other.key
printf 'stat-pass-123\n' >passfile
expect_rc reveal_passfile 0 "$CB" --passphrase-file passfile randlist reveal \
	list.json --key unblind.key --csv
CASEBOOK_PASSPHRASE=stat-pass-123 expect_rc reveal_tampered 1 \
	"$CB" randlist reveal tampered.json --key unblind.key
expect_rc reveal_usage 2 "$CB" randlist reveal list.json

# ---- reproducibility ---------------------------------------------------
expect_rc generate_same_seed 0 gen list2.json "$SEED"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list2.json \
	--key unblind.key --csv >revealed2.csv 2>/dev/null
if [ -s revealed2.csv ] && cmp -s revealed.csv revealed2.csv; then
	pass same_seed_same_list
else
	fail same_seed_same_list "revealed lists differ"
fi
if cmp -s list.json list2.json; then
	fail sealed_boxes_fresh "two generations gave identical bytes"
else
	pass sealed_boxes_fresh
fi
printf '%s\n' "$SEED" >seed.txt
"$CB" randlist generate --protocol "$PROTO" --sites KR01,KR02,KR03 \
	--per-stratum 20 --block-sizes 2,4 --seed-file seed.txt \
	--unblinding-pub unblind.key.pub --out list3.json >/dev/null 2>&1
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list3.json \
	--key unblind.key --csv >revealed3.csv 2>/dev/null
if [ -s revealed3.csv ] && cmp -s revealed.csv revealed3.csv; then
	pass seed_file_same_list
else
	fail seed_file_same_list "--seed-file gave another list"
fi
expect_rc generate_other_seed 0 gen list4.json "another-seed-0123456789"
CASEBOOK_PASSPHRASE=stat-pass-123 "$CB" randlist reveal list4.json \
	--key unblind.key --csv >revealed4.csv 2>/dev/null
if [ -s revealed4.csv ] && ! cmp -s revealed.csv revealed4.csv; then
	pass other_seed_other_list
else
	fail other_seed_other_list "same revealed list"
fi

# ---- refused parameters ------------------------------------------------
expect_rc bad_block_size 2 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum 10 --block-sizes 2,3 --seed "$SEED" \
	--unblinding-pub unblind.key.pub --out b1.json
expect_out bad_block_size_msg "block size 3 is not a multiple of the arms' ratio total 2"
[ -e b1.json ] && fail bad_block_size_nofile "b1.json written" || pass bad_block_size_nofile
for sl in 'KR01;KR02' 'KR01,,KR02' 'kr01' 'KR01 KR02' ',' 'K'; do
	expect_rc "bad_sites[$sl]" 2 "$CB" randlist generate --protocol "$PROTO" \
		--sites "$sl" --per-stratum 10 --seed "$SEED" \
		--unblinding-pub unblind.key.pub --out b2.json
done
expect_out bad_sites_msg "KR01,KR02,KR03"
expect_rc dup_site 2 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01,KR01 --per-stratum 10 --seed "$SEED" \
	--unblinding-pub unblind.key.pub --out b3.json
expect_rc short_seed 2 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum 10 --seed abc \
	--unblinding-pub unblind.key.pub --out b4.json
expect_out short_seed_msg "seed is too short"
expect_rc bad_per_stratum 2 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum x --seed "$SEED" \
	--unblinding-pub unblind.key.pub --out b5.json
expect_rc pub_is_secret_ok 0 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum 4 --seed "$SEED" \
	--unblinding-pub unblind.key --out b6.json
echo garbage >garbage.pub
expect_rc bad_pub 1 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum 4 --seed "$SEED" \
	--unblinding-pub garbage.pub --out b7.json
expect_rc no_seed 2 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR01 --per-stratum 4 --unblinding-pub unblind.key.pub \
	--out b8.json
# default block sizes: the protocol's (2 and 4)
expect_rc default_block_sizes 0 "$CB" randlist generate --protocol "$PROTO" \
	--sites KR09 --per-stratum 30 --seed "$SEED" \
	--unblinding-pub unblind.key.pub --out b9.json
expect_rc verify_default 0 "$CB" randlist verify b9.json
expect_out verify_default_sizes "sizes 2,4"
expect_rc unknown_sub 2 "$CB" randlist shuffle
expect_rc help 0 "$CB" randlist --help
expect_out help_text "randlist generate"

finish
