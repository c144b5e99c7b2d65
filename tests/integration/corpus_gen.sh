#!/bin/bash
# examples/gen_corpus: the same options give the same bytes and times; the
# counts follow the flags; --mutate changes about PCT % of the files; its
# output is valid JSON in each format and backs up and restores unchanged.
. "$(dirname "$0")/lib.sh"

G=$TOOLS/gen_corpus
[ -x "$G" ] || { fail "gen_corpus not built"; exit 1; }
listing() { (cd "$1" && find . -printf '%p %s %T@ %y\n' | LC_ALL=C sort); }

"$G" --out "$T/a" --seed 7 --messages 3000 --conversations 9 --users 15 --attachments 30 --large-file 3000000 >/dev/null
"$G" --out "$T/b" --seed 7 --messages 3000 --conversations 9 --users 15 --attachments 30 --large-file 3000000 >/dev/null
check "two runs with one seed write identical bytes" diff -r "$T/a" "$T/b"
check "and identical sizes and times" test "$(listing "$T/a")" = "$(listing "$T/b")"
"$G" --out "$T/c" --seed 8 --messages 3000 --conversations 9 --users 15 --attachments 30 >/dev/null
check_fails "another seed writes other bytes" diff -rq "$T/a/conversations" "$T/c/conversations"

python3 - "$T/a" <<'PY' && pass "counts, manifest hashes and JSON follow the flags" || fail "counts or manifest"
import hashlib, json, os, sys
root = sys.argv[1]
man = json.load(open(os.path.join(root, "manifest.json")))
c = man["counts"]
assert c["messages"] == 3000 and c["conversations"] == 9 and c["users"] == 15, c
assert c["attachments"] == 31, c          # 30 and the large one
convs = os.listdir(os.path.join(root, "conversations"))
assert len(convs) == 9, convs
n = 0
for conv in convs:
    d = os.path.join(root, "conversations", conv)
    meta = json.load(open(os.path.join(d, "meta.json")))
    assert conv.endswith("--" + meta["id"]), conv
    last = None
    for line in open(os.path.join(d, "messages.jsonl"), encoding="utf-8"):
        m = json.loads(line); n += 1
        key = (m["ts"], m["id"])
        assert last is None or key >= last, "not in time order"
        last = key
        for a in m.get("attachments", []):
            p = os.path.join(d, a["path"])
            assert os.path.getsize(p) == a["size"], p
assert n == 3000, n
assert sum(1 for _ in open(os.path.join(root, "users.jsonl"))) == 15
for f in man["files"]:
    data = open(os.path.join(root, f["path"]), "rb").read()
    assert len(data) == f["size"] and hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
big = [f for f in man["files"] if f["size"] == 3000000]
assert len(big) == 1
PY

# --mutate 5 on ~100 files: about 5 % change, about 5 % are new
"$G" --out "$T/m" --seed 3 --messages 4000 --conversations 30 --attachments 40 >/dev/null
cp -a "$T/m" "$T/m0"
"$G" --out "$T/m" --seed 3 --messages 4000 --conversations 30 --attachments 40 --mutate 5 >/dev/null
before=$(cd "$T/m0" && find . -type f | wc -l)
new=$(comm -13 <(cd "$T/m0" && find . -type f | sort) <(cd "$T/m" && find . -type f | sort) | wc -l)
changed=0
while read -r f; do cmp -s "$T/m0/$f" "$T/m/$f" || changed=$((changed + 1)); done < <(cd "$T/m0" && find . -type f)
untouched_times=$(cd "$T/m0" && find . -type f -name '*.bin' -o -type f -name '*.pdf' | head -20 | while read -r f; do [ "$(stat -c %Y "$T/m0/$f")" = "$(stat -c %Y "$T/m/$f")" ] || echo x; done | wc -l)
if [ "$new" -ge $((before * 3 / 100)) ] && [ "$new" -le $((before * 8 / 100 + 1)) ] &&
   [ "$changed" -ge 2 ] && [ "$changed" -le $((before * 8 / 100 + 2)) ] && [ "$untouched_times" = 0 ]; then
	pass "--mutate 5 of $before files: $new new, $changed changed, the rest untouched"
else
	fail "--mutate 5 of $before files: $new new, $changed changed, $untouched_times touched attachments"
fi

for f in slack mattermost; do
	"$G" --out "$T/$f" --preset tiny --format $f >/dev/null
	python3 - "$T/$f" $f <<'PY' && pass "--format $f writes valid JSON with the export's files" || fail "--format $f"
import glob, json, os, sys
root, fmt = sys.argv[1], sys.argv[2]
if fmt == "slack":
    for name in ("users.json", "channels.json", "groups.json", "dms.json", "mpims.json"):
        json.load(open(os.path.join(root, name)))
    days = glob.glob(os.path.join(root, "*", "*.json"))
    assert days, "no day files"
    msgs = sum(len(json.load(open(d))) for d in days)
    assert 350 <= msgs <= 400, msgs          # deleted messages are left out
    assert glob.glob(os.path.join(root, "__uploads", "*", "*"))
else:
    lines = [json.loads(l) for l in open(os.path.join(root, "export.jsonl"))]
    assert lines[0]["type"] == "version"
    types = {l["type"] for l in lines}
    assert {"team", "channel", "user", "post", "direct_channel", "direct_post"} <= types, types
    for l in lines:
        for a in l.get("post", l.get("direct_post", {})).get("attachments", []):
            assert os.path.exists(os.path.join(root, a["path"])), a
PY
done

"$G" --out "$T/tiny" --preset tiny >/dev/null
"$IMDR" init "$T/repo" >/dev/null && "$IMDR" backup "$T/repo" "$T/tiny" --quiet --format files &&
	"$IMDR" restore "$T/repo" latest "$T/out" --quiet
check "the tiny corpus backs up and restores identically" diff -r "$T/tiny" "$T/out"
check "with the same file times" test "$(listing "$T/tiny")" = "$(listing "$T/out")"
exit 0
