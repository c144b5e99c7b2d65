#!/bin/bash
# imdr diff: files added, removed and changed between two snapshots, and
# per conversation the messages new, edited and deleted (a renamed
# conversation is one conversation); folders equal on both sides are not
# read (the cost follows the change); --json; errors.
. "$(dirname "$0")/lib.sh"

S=$TOP/examples/samples
repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$TOOLS/gen_corpus" --out "$T/c" --seed 5 --messages 1500 --conversations 12 --users 10 \
	--attachments 20 >/dev/null || { fail "gen_corpus"; exit 1; }
"$IMDR" backup "$repo" "$T/c" --source d --quiet >/dev/null || { fail "backup 1"; exit 1; }
conv=$(cd "$T/c/conversations" && ls | grep '^general--' | head -1)
other=$(cd "$T/c/conversations" && ls | grep -v '^general--' | head -1)
python3 - "$T/c/conversations/$conv/messages.jsonl" "$T/want.json" <<'PY'
import json, sys
p, out = sys.argv[1], sys.argv[2]
L = [json.loads(l) for l in open(p, encoding="utf-8")]
gone = L.pop(3)["id"]                                   # deleted at source
L[5]["text"] = "now it says something else"; edited = L[5]["id"]
L[6].setdefault("reactions", []).append({"name": "tada", "users": ["U00001"]}); other = L[6]["id"]
new = {"id": "1799999999.000001", "ts": "2027-01-01T00:00:00.000Z", "user": "U00002", "text": "a new one"}
L.append(new)
open(p, "w", encoding="utf-8").write("".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n" for m in L))
json.dump({"gone": gone, "edited": edited, "new": new["id"]}, open(out, "w"))
PY
echo "added" >"$T/c/conversations/$conv/attachments/extra.txt"
rm "$T/c/conversations/$conv/transcript.txt"
chmod 600 "$T/c/users.jsonl"
new=${other%%--*}-renamed--${other#*--}
mv "$T/c/conversations/$other" "$T/c/conversations/$new"
"$IMDR" backup "$repo" "$T/c" --source d --quiet >/dev/null || { fail "backup 2"; exit 1; }
set -- $("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(" ".join(s["id"][:12] for s in json.load(sys.stdin)))')
a=$1 b=$2

"$IMDR" diff "$repo" "$a" "$b" --json >"$T/d.json" || fail "diff --json"
check "files added, removed and changed, in path order" python3 - "$T/d.json" "$conv" "$other" "$new" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); conv, old, new = sys.argv[2:5]
f = {(x["change"], x["path"]): x for x in d["files"]}
paths = [x["path"] for x in d["files"]]
assert paths == sorted(paths), "not in path order"
assert ("added", "conversations/%s/attachments/extra.txt" % conv) in f
assert ("removed", "conversations/%s/transcript.txt" % conv) in f
m = f[("changed", "conversations/%s/messages.jsonl" % conv)]
assert "content" in m["what"] and m["size_before"] != m["size_after"]
u = f[("changed", "users.jsonl")]
assert u["what"] == ["mode"], u
assert ("removed", "conversations/%s" % old) in f and ("added", "conversations/%s/meta.json" % new) in f
assert d["counts"]["added"] >= 2 and d["counts"]["removed"] >= 2
PY
check "messages new, edited and deleted, by id" python3 - "$T/d.json" "$T/want.json" "$conv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); w = json.load(open(sys.argv[2])); conv = sys.argv[3]
c = [x for x in d["conversations"] if x["conversation"] == conv]
assert len(c) == 1, d["conversations"]
c = c[0]
assert [m["id"] for m in c["new"]] == [w["new"]], c["new"]
assert [m["id"] for m in c["edited"]] == [w["edited"]] and c["edited"][0]["after"] == "now it says something else", c["edited"]
assert c["edited"][0]["before"] != c["edited"][0]["after"]
assert [m["id"] for m in c["deleted"]] == [w["gone"]], c["deleted"]
assert c["other"] >= 1 and c["new"][0]["user_name"]
PY
check "a renamed conversation is not reported as deleted and new" python3 - "$T/d.json" "$new" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert not [x for x in d["conversations"] if x["conversation"] == sys.argv[2] or x.get("removed")], d["conversations"]
PY
check "only the changed folders were read" python3 -c "
import json; d = json.load(open('$T/d.json'))['counts']
assert d['folders_skipped'] >= 10 and d['nodes_read'] <= 10, d"
"$IMDR" diff "$repo" "$a" "$b" >"$T/d.txt"
check "text: +/-/M lines and the messages marked" sh -c "grep -q '^+ conversations/$conv/attachments/extra.txt' '$T/d.txt' &&
	grep -q '^M conversations/$conv/messages.jsonl' '$T/d.txt' && grep -q '^  ~ .*now it says something else' '$T/d.txt' &&
	grep -q '^messages: 1 new, 1 edited, 1 deleted in 1 conversation' '$T/d.txt'"
"$IMDR" diff "$repo" "$b" "$b" --json >"$T/same.json"
check "a snapshot against itself: nothing, and no folder read" python3 -c "
import json; d = json.load(open('$T/same.json'))
assert d['files'] == [] and d['conversations'] == [] and d['counts']['nodes_read'] == 0, d"
"$IMDR" backup "$repo" "$S/slack-acme.zip" --quiet >/dev/null
check "two sources: --source picks each one's snapshots" "$IMDR" diff "$repo" latest latest --source d
check_fails "an unknown snapshot is an error" "$IMDR" diff "$repo" "$a" ffffffff
"$IMDR" diff "$repo" "$a" ffffffff 2>"$T/e" >/dev/null
check "and says which" grep -q "no snapshot with id ffffffff" "$T/e"
