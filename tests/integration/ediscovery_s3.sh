#!/bin/bash
# Search, diff and export of a repository on S3 (s3rver), some through a
# 50 ms round trip: a remote index segment is fetched whole in a few
# ranged reads, not a request per piece, and kept sealed in the cache
# folder for the next search (which then fetches none; a damaged copy is
# dropped and fetched again); the hits and the exported bytes are those of
# the same data in a local repository.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
start_s3rver || { fail "s3rver did not start (make test-deps installs it): $(tail -3 "$T/s3rver.log" 2>/dev/null)"; exit 1; }
S=$TOP/examples/samples
U="s3://imdr-ed/repo?endpoint=http://127.0.0.1:$S3_PORT&path_style=1"
L=$T/local
"$TOOLS/gen_corpus" --out "$T/gen" --seed 3 --messages 4000 --conversations 6 --attachments 10 >/dev/null
for repo in "$U" "$L"; do
	"$IMDR" init "$repo" >/dev/null || { fail "init $repo"; exit 1; }
	"$IMDR" backup "$repo" "$S/slack-acme.zip" --quiet --time 2026-11-25T00:00:00Z >/dev/null &&
		"$IMDR" backup "$repo" "$T/gen" --source gen --quiet --time 2026-11-25T00:00:01Z >/dev/null ||
		{ fail "backup to $repo"; exit 1; }
done
same=1
for q in contract '"looks good"' 'from:ann' 'budg* in:general' 'has:attachment'; do
	a=$("$IMDR" search "$U" "$q" --json | python3 -c 'import json,sys; print(sorted((h["source"],h["conversation_id"],h["id"]) for h in json.load(sys.stdin)))')
	b=$("$IMDR" search "$L" "$q" --json | python3 -c 'import json,sys; print(sorted((h["source"],h["conversation_id"],h["id"]) for h in json.load(sys.stdin)))')
	[ "$a" = "$b" ] && [ "$a" != "[]" ] || { same=0; fail "search on S3 differs for $q"; }
done
[ $same = 1 ] && pass "search on S3 finds what search on a local copy finds"
start_proxy "$S3_PORT" --delay-ms 25
P="s3://imdr-ed/repo?endpoint=http://127.0.0.1:$PROXY_PORT&path_style=1"
"$IMDR" search "$P" 'budget deploy' --source gen --stats --no-cache >"$T/cold" 2>"$T/stats"
req=$(sed -n 's/.* \([0-9]*\) requests.*/\1/p' "$T/stats")
cbytes=$(sed -n 's/.* \([0-9]*\) bytes read.*/\1/p' "$T/stats")
pieces=$(sed -n 's/.* \([0-9]*\) index pieces.*/\1/p' "$T/stats")
if [ -n "$req" ] && [ "$req" -lt 30 ] && [ "$pieces" -gt "$req" ]; then
	pass "a remote segment is fetched in a few ranged reads ($(cat "$T/stats"))"
else
	fail "remote search: $(cat "$T/stats")"
fi
# the sealed segments kept between searches (XDG_CACHE_HOME is $T/cache)
cdir=$(ls -d "$T"/cache/imdr/*/index 2>/dev/null | head -1)
check "searches of a cloud repository keep its segments in the cache folder (and only those)" \
	sh -c "[ -n '$cdir' ] && [ \$(ls -d '$T'/cache/imdr/*/index | wc -l) = 1 ] && [ \$(ls '$cdir' | wc -l) -ge 1 ]"
check_fails "sealed: no message text in them" grep -rqa "looks good" "$cdir"
check "the cache folder and its files are private" \
	sh -c "[ \$(stat -c %a '$cdir') = 700 ] && [ -z \"\$(find '$cdir' -type f ! -perm 600)\" ]"
"$IMDR" search "$P" 'budget deploy' --source gen --stats >"$T/warm" 2>"$T/wstats"
wbytes=$(sed -n 's/.* \([0-9]*\) bytes read.*/\1/p' "$T/wstats")
if [ -n "$wbytes" ] && [ "$wbytes" -lt $((cbytes / 10)) ] && cmp -s "$T/warm" "$T/cold"; then
	pass "the next search reads the segment from the cache: $wbytes bytes fetched instead of $cbytes, the same hits"
else
	fail "warm remote search: $(cat "$T/wstats") (cold: $cbytes bytes)"
fi
for f in "$cdir"/*; do printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc status=none; done
"$IMDR" search "$P" 'budget deploy' --source gen >"$T/dmg" 2>"$T/dmg.err"
check "a damaged cached segment: the same hits" cmp "$T/dmg" "$T/cold"
check "and a warning naming the damaged copy, which is removed" grep -q "is damaged; removed" "$T/dmg.err"
SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$P" --format zip --out "$T/s3.zip" --source gen --query contract --quiet >/dev/null &&
	SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$L" --format zip --out "$T/local.zip" --source gen --query contract --quiet >/dev/null
check "an export from S3 holds the bytes an export from a local copy holds" bash -c \
	"diff <(unzip -p '$T/s3.zip' conversations/\*/messages.jsonl) <(unzip -p '$T/local.zip' conversations/\*/messages.jsonl) && [ -s '$T/s3.zip' ]"
check "diff over S3" sh -c "'$IMDR' diff '$P' latest latest --source gen --json | grep -q '\"files\":\[\]'"
