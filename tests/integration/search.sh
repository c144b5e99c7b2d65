#!/bin/bash
# imdr search: the index built at backup finds what an independent scan of
# the snapshot's messages.jsonl finds (search_scan.py), query by query, on
# the bundled samples and a generated export; --all finds a message
# deleted at source between two backups and says so, and an edited one;
# an unchanged backup stores no new index; a snapshot made without an
# index is still searched (and says how); bad queries fail clearly.
. "$(dirname "$0")/lib.sh"

S=$TOP/examples/samples
SCAN="python3 $TOP/tests/integration/search_scan.py"
repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$TOOLS/gen_corpus" --out "$T/gen" --seed 11 --messages 3000 --conversations 9 --users 15 \
	--attachments 30 >/dev/null || { fail "gen_corpus"; exit 1; }
for src in "$S/slack-acme.zip" "$S/mattermost-acme" "$S/canonical-acme" "$T/gen"; do
	"$IMDR" backup "$repo" "$src" --quiet >/dev/null 2>"$T/backup.err" || { fail "backup $src: $(cat "$T/backup.err")"; exit 1; }
done
names=$("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; [print(s["id"][:12], s["source"]) for s in json.load(sys.stdin)]')

compare() {	# compare SOURCE-NAME DIR QUERY...
	local src=$1 dir=$2 out
	shift 2
	if out=$($SCAN --compare "$IMDR" "$repo" "$src" "$dir" "$@" 2>&1); then
		pass "search on $src agrees with a scan of messages.jsonl ($out)"
	else
		fail "search on $src differs from a scan of messages.jsonl: $out"
	fi
}

while read -r id src; do
	"$IMDR" restore "$repo" "$id" "$T/r-$id" --quiet || fail "restore $id"
	case $src in
	slack-*) compare "$src" "$T/r-$id" contract '"clause 4.2"' 'draf*' cafe 'from:ann' \
		'from:Bob in:general' 'in:#random' 'has:attachment' 'filename:pdf' 'filename:"*.JPG"' \
		'after:2026-11-24 before:2026-11-24T10:00' 'from:U03CHLOE lunch' 'nda OR signed' ;;
	mattermost-*) compare "$src" "$T/r-$id" contract 'from:chloe' 'in:town-square' \
		'has:attachment' 'clause*' 'filename:draft' ;;
	/*gen) compare "$src" "$T/r-$id" contract '"looks good"' 'budg*' cafe uber resume \
		'from:U00003' 'from:U00005 deploy' 'in:general' 'in:dev release' \
		'after:2026-01-02 before:2026-01-03 merged' 'has:attachment' 'filename:*.pdf' \
		'"path to file"' 'テスト' 'a&b' ;;
	*) compare "$src" "$T/r-$id" contract 'from:U02' 'looks good' ;;
	esac
done <<<"$names"

"$IMDR" search "$repo" contract >"$T/every" 2>&1
check "without --source, the newest snapshot of every source is searched" \
	test "$(grep -c '^== ' "$T/every")" = 4
check "a hit names its snapshot and its mount path" \
	sh -c "$IMDR search '$repo' 'clause 4.2' --json | python3 -c 'import json,sys; h=json.load(sys.stdin)[0]; assert h[\"mount_path\"].startswith(\"snapshots/\") and h[\"mount_path\"].endswith(\"/messages.jsonl\") and h[\"user_name\"] and \"[\" in h[\"snippet\"], h'"

# ---- --all: deleted at source, edited, first and last seen ----
cp -a "$S/canonical-acme" "$T/c"
"$IMDR" backup "$repo" "$T/c" --source hist --quiet >/dev/null
python3 - "$T/c/conversations/general--C01/messages.jsonl" <<'PY'
import json, sys
p = sys.argv[1]
L = [json.loads(l) for l in open(p, encoding="utf-8")]
L = [m for m in L if "Deploy finished" not in m.get("text", "")]      # deleted at source
for m in L:
    if m["text"].startswith("Looks good"):
        m["text"] = "Looks fine, signed"; m["edited"] = "2026-11-23T12:00:00.000Z"
L.append({"id": "1795500000.000900", "ts": "2026-11-24T08:00:00.000Z", "user": "U01", "text": "zebra crossing"})
open(p, "w", encoding="utf-8").write("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in L))
PY
"$IMDR" backup "$repo" "$T/c" --source hist --quiet >/dev/null
snaps=$("$IMDR" snapshots "$repo" --source hist --json | python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))')
set -- $snaps; first=$1; second=$2
check_fails "the deleted message is not in the newest snapshot" \
	sh -c "$IMDR search '$repo' deploy --source hist --json | grep -q '\"id\"'"
"$IMDR" search "$repo" 'deploy' --source hist --all --json >"$T/all.json"
check "--all finds the message deleted at source, flagged deleted, seen only in the first snapshot" \
	python3 -c "
import json; h = json.load(open('$T/all.json'))
assert len(h) == 1, h
h = h[0]
assert h['status'] == 'deleted' and h['first_seen']['snapshot'] == '$first' and h['last_seen']['snapshot'] == '$first', h"
"$IMDR" search "$repo" '"looks good"' --source hist --all --json >"$T/ed.json"
check "--all finds an edited message's old text and flags it edited" \
	python3 -c "
import json; h = json.load(open('$T/ed.json'))
assert len(h) == 1 and h[0]['status'] == 'edited' and h[0]['last_seen']['snapshot'] == '$first', h"
"$IMDR" search "$repo" 'from:U02' --source hist --all --json >"$T/both.json"
check "--all reports each message once, with its first and last snapshot" \
	python3 -c "
import json; h = json.load(open('$T/both.json'))
ids = [x['id'] for x in h]
assert len(ids) == len(set(ids)) and len(h) >= 1, h
assert all(x['first_seen']['snapshot'] == '$first' for x in h), h"
check "--snapshot within --source: the first snapshot still has the deleted message" \
	sh -c "$IMDR search '$repo' deploy --source hist --snapshot ${first:0:8} --json | grep -q '\"id\"'"
check "the text out of --all: seen .. and deleted later" \
	sh -c "$IMDR search '$repo' deploy --source hist --all | grep -q 'deleted later'"

# ---- the index costs what changed ----
"$IMDR" backup "$repo" "$T/c" --source hist --json >"$T/same.json" 2>/dev/null
check "a backup of unchanged data stores no new index bytes" \
	python3 -c "import json; r = json.load(open('$T/same.json')); assert r['added_blobs'] == 0, r"
echo '{"id":"1795500000.000950","ts":"2026-11-24T09:00:00.000Z","user":"U02","text":"one more okapi"}' \
	>>"$T/c/conversations/general--C01/messages.jsonl"
"$IMDR" backup "$repo" "$T/c" --source hist --quiet >/dev/null
check "the next backup's index finds the new message" \
	sh -c "$IMDR search '$repo' okapi --source hist --json | grep -q 1795500000.000950"

# ---- a snapshot without an index ----
"$IMDR" backup "$repo" "$S/canonical-acme" --source plain --no-index --quiet >/dev/null
"$IMDR" search "$repo" contract --source plain --json >"$T/plain.json" 2>"$T/plain.err"
check "a snapshot backed up with --no-index is searched by reading its messages" \
	python3 -c "import json; h = json.load(open('$T/plain.json')); assert len(h) == 1, h"
check "and the search says so" grep -q "searched its 1 conversations' messages.jsonl directly" "$T/plain.err"

# ---- errors ----
if "$IMDR" search "$repo" '"open phrase' >/dev/null 2>"$T/e0"; then
	fail "an unterminated phrase is refused (it was not)"
elif [ $? = 1 ] && grep -q 'without its closing' "$T/e0"; then
	pass "an unterminated phrase is refused with a message"
else
	fail "an unterminated phrase: $(cat "$T/e0")"
fi
check_fails "a bad date is refused" "$IMDR" search "$repo" 'after:yesterday'
check_fails "has: knows only attachment" "$IMDR" search "$repo" 'has:link'
check_fails "an unknown source is an error" "$IMDR" search "$repo" x --source nosuch
"$IMDR" search "$repo" 'after:yesterday' 2>"$T/e1"
check "the error names the part of the query" grep -q "after:yesterday is not a date" "$T/e1"
check "FTS5 syntax in a query is taken as text" "$IMDR" search "$repo" 'NEAR( AND "x"* OR ^col:' --json
