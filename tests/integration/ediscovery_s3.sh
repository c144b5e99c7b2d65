#!/bin/bash
# Search, diff and export of a repository on S3 (s3rver), some through a
# 50 ms round trip: a remote index segment is fetched whole in a few
# ranged reads, not a request per piece; the hits and the exported bytes
# are those of the same data in a local repository.
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
"$IMDR" search "$P" 'budget deploy' --source gen --stats >/dev/null 2>"$T/stats"
req=$(sed -n 's/.* \([0-9]*\) requests.*/\1/p' "$T/stats")
pieces=$(sed -n 's/.* \([0-9]*\) index pieces.*/\1/p' "$T/stats")
if [ -n "$req" ] && [ "$req" -lt 30 ] && [ "$pieces" -gt "$req" ]; then
	pass "a remote segment is fetched in a few ranged reads ($(cat "$T/stats"))"
else
	fail "remote search: $(cat "$T/stats")"
fi
SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$P" --format zip --out "$T/s3.zip" --source gen --query contract --quiet >/dev/null &&
	SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$L" --format zip --out "$T/local.zip" --source gen --query contract --quiet >/dev/null
check "an export from S3 holds the bytes an export from a local copy holds" bash -c \
	"diff <(unzip -p '$T/s3.zip' conversations/\*/messages.jsonl) <(unzip -p '$T/local.zip' conversations/\*/messages.jsonl) && [ -s '$T/s3.zip' ]"
check "diff over S3" sh -c "'$IMDR' diff '$P' latest latest --source gen --json | grep -q '\"files\":\[\]'"
