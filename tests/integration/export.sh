#!/bin/bash
# imdr export and verify-export: RSMF files that validate against the
# published RSMF 2.0 schema with one event per message selected, split past
# 10000 events a day; the canonical subset as a folder and a zip; --query,
# --conversation, --from/--to select what search and a scan select; --all
# carries edits and deletions; the same inputs give the same bytes; a
# custody manifest hashes every file, its digest is printed and audited;
# verify-export names a changed byte, an added and a removed file.
. "$(dirname "$0")/lib.sh"

S=$TOP/examples/samples
CHECK="python3 $TOP/tests/integration/rsmf_check.py"
repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$IMDR" backup "$repo" "$S/slack-acme.zip" --quiet >/dev/null || { fail "backup"; exit 1; }
"$IMDR" restore "$repo" latest "$T/snap" --quiet
nmsgs=$(cat "$T"/snap/conversations/*/messages.jsonl | wc -l)

# ---- RSMF of the whole snapshot ----
"$IMDR" export "$repo" --format rsmf --out "$T/rsmf" --matter "Smith v. Acme" >"$T/out" 2>"$T/err" || fail "export rsmf: $(cat "$T/err")"
if n=$($CHECK "$T/rsmf" --events "$nmsgs" 2>&1); then
	pass "RSMF validates against the 2.0 schema, one event per message ($n)"
else
	fail "RSMF: $n"
fi
check "one file per conversation per UTC day" test -f "$T/rsmf/general--C01GENERAL/2026-11-23.rsmf" -a \
	-f "$T/rsmf/general--C01GENERAL/2026-11-24.rsmf"
check "threads, edits, deletions, reactions and attachments with their bytes" python3 - "$T/rsmf/general--C01GENERAL" "$T/snap" <<'PY'
import email, email.policy, io, json, sys, zipfile, glob
ev, files = {}, {}
for p in sorted(glob.glob(sys.argv[1] + "/*.rsmf")):
    m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
    z = zipfile.ZipFile(io.BytesIO(list(m.iter_attachments())[0].get_content()))
    for e in json.loads(z.read("rsmf_manifest.json"))["events"]:
        ev[e["id"]] = e
    files.update({n: z.read(n) for n in z.namelist()})
assert ev["1795424700.000300"]["parent"] == "1795424460.000200"          # reply, same day
assert "parent" not in ev["1795510860.000900"] and any(c["value"] == "1795424460.000200" for c in ev["1795510860.000900"]["custom"])
assert ev["1795431600.000500"]["edits"][0]["timestamp"].startswith("2026-11-23T11:01")
assert ev["1795514400.001000"]["deleted"] is True
assert {r["value"] for r in ev["1795431600.000500"]["reactions"]} == {"+1", "pizza"}
a = ev["1795424460.000200"]["attachments"][0]
orig = open(sys.argv[2] + "/conversations/general--C01GENERAL/attachments/1795424460.000200-Q4 contract draft.pdf", "rb").read()
assert files[a["id"]] == orig and a["size"] == len(orig)
assert ev["1795424400.000100"]["type"] == "join"
PY
digest=$(sed -n 's/^SHA-256 //p' "$T/out")
check "the custody manifest's SHA-256 is printed" test "$digest" = "$(sha256sum "$T/rsmf/custody.json" | cut -d' ' -f1)"
check "custody.json: matter, scope, repository, snapshots, operator, host, tool, time, every file" \
	python3 - "$T/rsmf" "$repo" "$nmsgs" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
c = json.load(open(os.path.join(root, "custody.json")))
assert c["matter"] == "Smith v. Acme" and c["format"] == "rsmf" and c["scope"]["snapshot"] == "latest"
cfg_id = c["repository"]["id"]
assert len(cfg_id) == 64 and c["repository"]["url"] == sys.argv[2]
assert len(c["snapshots"]) == 1 and len(c["snapshots"][0]["id"]) == 64
assert c["operator"] and c["host"] and c["tool"].startswith("imdr ") and c["created"].endswith("Z")
listed = {f["path"]: f for f in c["files"]}
found = set()
for dp, dn, fn in os.walk(root):
    for f in fn:
        rel = os.path.relpath(os.path.join(dp, f), root)
        if rel == "custody.json":
            continue
        found.add(rel)
        data = open(os.path.join(dp, f), "rb").read()
        assert listed[rel]["size"] == len(data) and listed[rel]["sha256"] == hashlib.sha256(data).hexdigest(), rel
assert found == set(listed), (found ^ set(listed))
assert c["counts"]["messages"] == int(sys.argv[3]) and c["counts"]["files"] == len(listed)
PY
check "the export is recorded in the repository's audit log" sh -c "find '$repo/audit/' -name '*-export-*' | grep -q ."
check "imdr audit shows the export with its custody digest" sh -c "'$IMDR' audit '$repo' --command export | grep -q custody_sha256="

# ---- selection: --query is what search finds ----
"$IMDR" export "$repo" --format rsmf --out "$T/q" --query 'from:ann' --quiet >/dev/null
want=$("$IMDR" search "$repo" 'from:ann' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if n=$($CHECK "$T/q" --events "$want" 2>&1); then pass "--query: as many events as search finds ($want)"; else fail "--query: $n (search: $want)"; fi
"$IMDR" export "$repo" --format folder --out "$T/f" --conversation general --from 2026-11-24 --to 2026-11-24 >/dev/null
check "--conversation and --from/--to select the day's messages of one conversation" python3 - "$T/f" "$T/snap" <<'PY'
import json, os, sys
got = [json.loads(l)["id"] for l in open(sys.argv[1] + "/conversations/general--C01GENERAL/messages.jsonl")]
want = [json.loads(l)["id"] for l in open(sys.argv[2] + "/conversations/general--C01GENERAL/messages.jsonl")
        if json.loads(l)["ts"].startswith("2026-11-24")]
assert got == want and got, (got, want)
assert os.listdir(sys.argv[1] + "/conversations") == ["general--C01GENERAL"]
users = [json.loads(l)["id"] for l in open(sys.argv[1] + "/users.jsonl")]
assert users and "U01ANN" in users
PY

# ---- more than 10000 events in a day ----
mkdir -p "$T/big/conversations/big--C9"
python3 - "$T/big" <<'PY'
import json, sys
r = sys.argv[1]
open(r + "/users.jsonl", "w").write('{"id":"U1","name":"one"}\n{"id":"U2","name":"two"}\n')
json.dump({"id": "C9", "name": "big", "kind": "channel", "members": ["U1", "U2"]}, open(r + "/conversations/big--C9/meta.json", "w"))
with open(r + "/conversations/big--C9/messages.jsonl", "w") as f:
    for i in range(12000):
        s = 1777593600 + i
        f.write(json.dumps({"id": "%d.%06d" % (s, i), "ts": "2026-05-01T%02d:%02d:%02d.000Z" % (i // 3600, i // 60 % 60, i % 60),
                            "user": "U%d" % (1 + i % 2), "text": "message %d" % i}) + "\n")
PY
"$IMDR" backup "$repo" "$T/big" --source big --quiet >/dev/null
"$IMDR" export "$repo" --source big --format rsmf --out "$T/bigr" --quiet >/dev/null
if n=$($CHECK "$T/bigr" --events 12000 2>&1); then
	pass "12000 events in a day: $n (events, files), at most 10000 a file"
else
	fail "parts: $n"
fi
check "the parts are named -part1, -part2" test -f "$T/bigr/big--C9/2026-05-01-part1.rsmf" -a -f "$T/bigr/big--C9/2026-05-01-part2.rsmf"

# ---- the same inputs, the same bytes ----
for i in 1 2; do
	SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$repo" --format rsmf --out "$T/det$i" --source slack-T01ACME --matter m --quiet >/dev/null
	SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$repo" --format zip --out "$T/det$i.zip" --source slack-T01ACME --matter m --quiet >/dev/null
	"$IMDR" export "$repo" --format folder --out "$T/nod$i" --source slack-T01ACME --quiet >/dev/null
	sleep 1
done
check "two RSMF exports are byte-identical" diff -r "$T/det1" "$T/det2"
check "two zip exports are byte-identical" cmp "$T/det1.zip" "$T/det2.zip"
check "without SOURCE_DATE_EPOCH only custody.json's time differs" bash -c \
	"diff -r -x custody.json '$T/nod1' '$T/nod2' && diff <(grep -v '\"created\"' '$T/nod1/custody.json') <(grep -v '\"created\"' '$T/nod2/custody.json')"
TZ=America/New_York SOURCE_DATE_EPOCH=1800000000 "$IMDR" export "$repo" --format zip --out "$T/tz.zip" --source slack-T01ACME --matter m --quiet >/dev/null
check "and the machine's time zone does not change a zip" cmp "$T/det1.zip" "$T/tz.zip"

# ---- verify-export ----
check "verify-export: an untouched folder export" "$IMDR" verify-export "$T/rsmf" --sha256 "$digest"
check "verify-export: an untouched zip export" "$IMDR" verify-export "$T/det1.zip"
vfail() {	# vfail NAME PATH WORD: verify fails, naming WORD
	if "$IMDR" verify-export "$2" ${4:+--sha256 "$4"} >/dev/null 2>"$T/verr"; then
		fail "$1 (verify-export passed)"
	elif grep -q -- "$3" "$T/verr"; then
		pass "$1"
	else
		fail "$1: $(cat "$T/verr")"
	fi
}
cp -a "$T/rsmf" "$T/v1"
f=$(cd "$T/v1" && ls general--C01GENERAL/*.rsmf | head -1)
python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$T/v1/$f"
vfail "verify-export names a file with one byte changed" "$T/v1" "$f: changed"
cp -a "$T/rsmf" "$T/v2"; echo x >"$T/v2/general--C01GENERAL/extra.rsmf"
vfail "verify-export names an added file" "$T/v2" "general--C01GENERAL/extra.rsmf: added"
cp -a "$T/rsmf" "$T/v3"; rm "$T/v3/$f"
vfail "verify-export names a removed file" "$T/v3" "$f: removed"
cp -a "$T/rsmf" "$T/v4"; echo >>"$T/v4/custody.json"
vfail "verify-export --sha256 catches an altered custody.json" "$T/v4" "custody.json: changed" "$digest"
cp "$T/det1.zip" "$T/v5.zip"
python3 - "$T/v5.zip" <<'PY'
import sys, zipfile
p = sys.argv[1]
z = zipfile.ZipFile(p)
i = [x for x in z.infolist() if x.filename.endswith(".pdf")][0]
off = i.header_offset + 30 + len(i.filename.encode()) + len(i.extra) + 100
b = bytearray(open(p, "rb").read()); b[off] ^= 0x40; open(p, "wb").write(b)
PY
vfail "verify-export names a changed entry of a zip" "$T/v5.zip" "contract draft.pdf"

# ---- --all: edits and deletions across snapshots ----
cp -a "$S/canonical-acme" "$T/h"
"$IMDR" backup "$repo" "$T/h" --source h --quiet >/dev/null
python3 - "$T/h/conversations/general--C01/messages.jsonl" <<'PY'
import json, sys
p = sys.argv[1]
L = [json.loads(l) for l in open(p, encoding="utf-8")]
L = [m for m in L if "Deploy" not in m["text"]]
for m in L:
    if m["text"].startswith("Looks good"):
        m["text"] = "Looks fine"; m["edited"] = "2026-11-23T12:00:00.000Z"
open(p, "w", encoding="utf-8").write("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in L))
PY
"$IMDR" backup "$repo" "$T/h" --source h --quiet >/dev/null
"$IMDR" export "$repo" --all --source h --format rsmf --out "$T/all" --quiet >/dev/null
check "--all: every message once, the deleted one marked deleted, the edit with its earlier text" \
	python3 - "$T/all" <<'PY'
import email, email.policy, io, json, sys, zipfile, glob
ev = {}
for p in glob.glob(sys.argv[1] + "/*/*.rsmf"):
    m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
    z = zipfile.ZipFile(io.BytesIO(list(m.iter_attachments())[0].get_content()))
    for e in json.loads(z.read("rsmf_manifest.json"))["events"]:
        assert e["id"] not in ev
        ev[e["id"]] = e
d = [e for e in ev.values() if e["body"].startswith("Deploy")]
assert len(d) == 1 and d[0]["deleted"] is True, d
e = [e for e in ev.values() if e["body"] == "Looks fine"][0]
assert e["edits"][0]["previous"].startswith("Looks good") and e["edits"][0]["new"] == "Looks fine", e
PY
check "--all RSMF validates too" $CHECK "$T/all"
"$IMDR" export "$repo" --all --source h --format folder --out "$T/allf" --quiet >/dev/null
check "--all folder: history.jsonl says what was edited and deleted" python3 - "$T/allf/conversations/general--C01/history.jsonl" <<'PY'
import json, sys
h = {x["id"]: x for x in map(json.loads, open(sys.argv[1]))}
st = sorted(x["status"] for x in h.values())
assert st == ["deleted", "edited"], h
PY

# ---- errors ----
check_fails "an export into a non-empty folder is refused" "$IMDR" export "$repo" --format folder --out "$T/rsmf"
check_fails "an export over an existing zip is refused" "$IMDR" export "$repo" --format zip --out "$T/det1.zip"
check_fails "an unknown format is refused" "$IMDR" export "$repo" --format pdf --out "$T/x"
check_fails "verify-export of a folder without custody.json fails" "$IMDR" verify-export "$T/snap"
