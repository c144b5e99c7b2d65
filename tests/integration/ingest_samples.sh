#!/bin/bash
# Chat exports: the Slack zip and folder, the Mattermost folder, zip and
# lone .jsonl, the canonical tree. Each is detected, its snapshot holds the
# conversations, message counts, threads, transcripts and attachments it
# should, manifest.json hashes every file, and source/ is the input byte for
# byte. Bad input fails clearly and commits nothing.
. "$(dirname "$0")/lib.sh"

S=$TOP/examples/samples
SRC=$TOP/examples/samples-src
repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
nsnaps() { "$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# backup_restore NAME SOURCE [ARGS...]: back up, restore into $T/NAME
backup_restore() {
	local name=$1 src=$2; shift 2
	"$IMDR" backup "$repo" "$src" "$@" >/dev/null 2>"$T/$name.warn" &&
		"$IMDR" restore "$repo" latest "$T/$name" --quiet
}

# verify DIR KIND: manifest lists and hashes every other file
verify_manifest() {
	python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys
root, kind = sys.argv[1], sys.argv[2]
man = json.load(open(os.path.join(root, "manifest.json")))
assert man["source"] == kind, man["source"]
listed = {f["path"]: f for f in man["files"]}
for dp, dn, fn in os.walk(root):
    for f in fn:
        rel = os.path.relpath(os.path.join(dp, f), root)
        if rel == "manifest.json":
            continue
        assert rel in listed, "not in manifest: " + rel
        data = open(os.path.join(root, rel), "rb").read()
        assert listed[rel]["size"] == len(data), rel
        assert listed[rel]["sha256"] == hashlib.sha256(data).hexdigest(), rel
assert len(listed) == sum(len(fn) for _, _, fn in os.walk(root)) - 1
PY
}

# ---- Slack, as a zip ----
if backup_restore slackzip "$S/slack-acme.zip"; then pass "Slack zip backs up"; else fail "Slack zip backup: $(cat "$T/slackzip.warn")"; fi
fmt=$("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["format"])')
check "the zip is detected as a Slack export" test "$fmt" = slack
r=$T/slackzip
check "one folder per conversation, named slug--id" test "$(ls "$r/conversations" | tr '\n' ' ')" = \
	"ann--bob--D01ANNBOB general--C01GENERAL legal--G01LEGAL mpdm-ann--bob--chloe-1--G02MPIM random--C02RANDOM "
python3 - "$r" <<'PY' && pass "Slack messages, threads across days, bots, edits, deletions, reactions, files" || fail "Slack message content"
import json, os, sys
r = sys.argv[1]
g = os.path.join(r, "conversations/general--C01GENERAL")
msgs = [json.loads(l) for l in open(os.path.join(g, "messages.jsonl"), encoding="utf-8")]
assert len(msgs) == 10, len(msgs)
key = [(m["ts"], m["id"]) for m in msgs]
assert key == sorted(key), "not in time order"
by = {m["id"]: m for m in msgs}
parent = "1795424460.000200"
replies = [m["id"] for m in msgs if m.get("thread") == parent]
assert replies == ["1795424700.000300", "1795510860.000900"], replies   # the second is in the next day's file
assert "thread" not in by[parent]
assert by["1795428000.000400"]["user"] == "B01DEPLOY" and by["1795428000.000400"]["subtype"] == "bot_message"
assert by["1795431600.000500"]["edited"] == "2026-11-23T11:01:00.000Z"
assert by["1795431600.000500"]["reactions"] == [{"name": "+1", "users": ["U01ANN", "U02BOB"]}, {"name": "pizza", "users": ["U02BOB"]}]
assert by["1795514400.001000"]["deleted"] is True
assert by["1795424400.000100"]["subtype"] == "channel_join"
assert by["1795521600.001200"]["raw"]["item_type"] == "C"           # unknown fields kept under raw
a = by[parent]["attachments"][0]
assert a["name"] == "Q4 contract draft.pdf" and a["size"] == 2048 and a["path"].startswith("attachments/")
assert open(os.path.join(g, a["path"]), "rb").read() == open(os.path.join(r, "source/Acme Slack export Nov 23 2026 - Nov 24 2026/__uploads/F01CONTRACT/Q4 contract draft.pdf"), "rb").read()
old = by["1795435200.000600"]["attachments"][0]                        # the old single `file`
assert old["name"] == "offsite.jpg" and os.path.exists(os.path.join(g, old["path"]))
missing = by["1795510860.000900"]["attachments"][0]
assert "path" not in missing and missing["url"].startswith("https://files.slack.com/")
assert by["1795428000.000400"]["text"].endswith("https://ci.acme.example/run/42")   # \/ unescaped
meta = json.load(open(os.path.join(g, "meta.json")))
assert meta["kind"] == "channel" and meta["members"] == ["U01ANN", "U02BOB", "U03CHLOE"] and meta["topic"] == "Company-wide announcements"
assert json.load(open(os.path.join(r, "conversations/legal--G01LEGAL/meta.json")))["kind"] == "private"
assert json.load(open(os.path.join(r, "conversations/ann--bob--D01ANNBOB/meta.json")))["kind"] == "dm"
assert json.load(open(os.path.join(r, "conversations/mpdm-ann--bob--chloe-1--G02MPIM/meta.json")))["kind"] == "group"
assert json.load(open(os.path.join(r, "conversations/random--C02RANDOM/meta.json")))["archived"] is True
users = {u["id"]: u for u in map(json.loads, open(os.path.join(r, "users.jsonl"), encoding="utf-8"))}
assert users["U02BOB"]["real_name"] == "Bob Müller" and users["U03CHLOE"]["deleted"] is True
assert users["B01DEPLOY"]["is_bot"] is True
man = json.load(open(os.path.join(r, "manifest.json")))
assert man["counts"] == {"users": 6, "conversations": 5, "messages": 16, "attachments": 2, "missing_attachments": 2}, man["counts"]
assert man["span"] == {"from": "2026-11-23T09:00:00.000Z", "to": "2026-11-24T12:00:00.001Z"}, man["span"]
PY
t=$r/conversations/general--C01GENERAL/transcript.txt
check "transcript: a line per message with time and display name" grep -qx '\[2026-11-23 09:01:00Z\] Ann Lee: Morning all! The Q4 contract draft is attached; please review by Friday. \[attachment: Q4 contract draft.pdf\]' "$t"
check "transcript: replies indented under their parent, from the next day too" \
	test "$(sed -n 3,4p "$t" | cut -c1-28)" = "$(printf '    [2026-11-23 09:05:00Z] B\n    [2026-11-24 09:01:00Z] A')"
check "transcript: edits, deletions and missing files are marked" sh -c "grep -q '(edited)' '$t' && grep -q '(message deleted)' '$t' && grep -q 'signed.pdf (not in export)' '$t'"
check "missing attachments are listed as warnings" sh -c "grep -q 'signed.pdf is not in the export' '$T/slackzip.warn' && [ \$(grep -c 'not in the export' '$T/slackzip.warn') = 2 ]"
check "source/ is the export byte for byte" diff -r "$SRC/slack-acme" "$r/source/Acme Slack export Nov 23 2026 - Nov 24 2026"
check "manifest.json hashes every file of the snapshot" verify_manifest "$r" slack

# ---- Slack, as a folder; a renamed channel keeps its id ----
cp -a "$SRC/slack-acme" "$T/slackdir-src"
python3 - "$T/slackdir-src" <<'PY'
import json, os, sys
d = sys.argv[1]
ch = json.load(open(os.path.join(d, "channels.json")))
for c in ch:
    if c["id"] == "C02RANDOM": c["name"] = "Water Cooler"
json.dump(ch, open(os.path.join(d, "channels.json"), "w"))
os.rename(os.path.join(d, "random"), os.path.join(d, "Water Cooler"))
PY
if backup_restore slackdir "$T/slackdir-src"; then pass "Slack folder backs up"; else fail "Slack folder: $(cat "$T/slackdir.warn")"; fi
check "a renamed channel keeps its id, the slug follows the name" test -f "$T/slackdir/conversations/water-cooler--C02RANDOM/messages.jsonl"
check "source/ of a folder export is the folder byte for byte" diff -r "$T/slackdir-src" "$T/slackdir/source"

# ---- Slack, as a .tar.gz ----
tar -czf "$T/slack.tar.gz" -C "$SRC" slack-acme
if backup_restore slacktar "$T/slack.tar.gz"; then pass "Slack .tar.gz backs up"; else fail "Slack tar: $(cat "$T/slacktar.warn")"; fi
check "the .tar.gz gives the zip's conversations" diff -r "$T/slackzip/conversations" "$T/slacktar/conversations"

# ---- Mattermost: folder, zip, lone .jsonl with --attachments ----
if backup_restore mm "$S/mattermost-acme"; then pass "Mattermost folder backs up"; else fail "Mattermost: $(cat "$T/mm.warn")"; fi
fmt=$("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["format"])')
check "the folder is detected as a Mattermost export" test "$fmt" = mattermost
python3 - "$T/mm" <<'PY' && pass "Mattermost channels, DMs, replies, reactions, attachments" || fail "Mattermost content"
import json, os, sys
r = sys.argv[1]
convs = sorted(os.listdir(os.path.join(r, "conversations")))
assert convs == ["ann--bob--chloe--group.ann.bob.chloe", "ann--bob--dm.ann.bob", "legal--acme.legal", "town-square--acme.town-square"], convs
ts = os.path.join(r, "conversations/town-square--acme.town-square")
msgs = [json.loads(l) for l in open(os.path.join(ts, "messages.jsonl"), encoding="utf-8")]
assert len(msgs) == 6, len(msgs)
top = [m for m in msgs if m["text"].startswith("Welcome")][0]
reps = [m for m in msgs if m.get("thread") == top["id"]]
assert [m["user"] for m in reps] == ["bob", "chloe"] and "edited" in reps[1]
assert top["reactions"] == [{"name": "tada", "users": ["bob", "chloe"]}]
att = top["attachments"][0]
assert att["name"] == "contract-draft.pdf" and att["size"] == 3009
assert open(os.path.join(ts, att["path"]), "rb").read() == open(os.path.join(r, "source/data/attachments/contract-draft.pdf"), "rb").read()
assert [m for m in msgs if m.get("deleted")][0]["text"] == "this one was removed"
assert [m for m in msgs if m.get("subtype") == "system_join_team"]
assert json.load(open(os.path.join(r, "conversations/legal--acme.legal/meta.json")))["kind"] == "private"
g = json.load(open(os.path.join(r, "conversations/ann--bob--chloe--group.ann.bob.chloe/meta.json")))
assert g["kind"] == "group" and g["members"] == ["ann", "bob", "chloe"]
dm = [json.loads(l) for l in open(os.path.join(r, "conversations/ann--bob--dm.ann.bob/messages.jsonl"), encoding="utf-8")]
assert len(dm) == 2 and dm[1]["thread"] == dm[0]["id"]
man = json.load(open(os.path.join(r, "manifest.json")))
assert man["counts"]["missing_attachments"] == 1 and man["counts"]["attachments"] == 2, man["counts"]
users = {u["id"]: u for u in map(json.loads, open(os.path.join(r, "users.jsonl"), encoding="utf-8"))}
assert users["chloe"]["deleted"] is True and users["bob"]["real_name"] == "Bob Müller"
PY
check "Mattermost transcript nests replies" grep -q '^    \[2026-11-24 09:03:20Z\] Chloé Durand: Clause 4.2 looks off (edited)$' "$T/mm/conversations/town-square--acme.town-square/transcript.txt"
check "Mattermost source/ is the export byte for byte" diff -r "$S/mattermost-acme" "$T/mm/source"
check "Mattermost manifest hashes every file" verify_manifest "$T/mm" mattermost
(cd "$S/mattermost-acme" && zip -qr -X "$T/mm.zip" .)
if backup_restore mmzip "$T/mm.zip"; then pass "Mattermost zip (export.jsonl and data/) backs up"; else fail "Mattermost zip: $(cat "$T/mmzip.warn")"; fi
check "the zip gives the same conversations" diff -r "$T/mm/conversations" "$T/mmzip/conversations"
mkdir -p "$T/lone"; cp "$S/mattermost-acme/export.jsonl" "$T/lone/mm-export.jsonl"
if backup_restore lone "$T/lone/mm-export.jsonl" --attachments "$S/mattermost-acme/data"; then pass "a lone .jsonl with --attachments backs up"; else fail "lone jsonl: $(cat "$T/lone.warn")"; fi
check "its attachments come from --attachments" cmp "$T/lone/conversations/town-square--acme.town-square/attachments/"*contract-draft.pdf "$S/mattermost-acme/data/attachments/contract-draft.pdf"

# ---- canonical ----
if backup_restore can "$S/canonical-acme"; then pass "canonical tree backs up"; else fail "canonical: $(cat "$T/can.warn")"; fi
fmt=$("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["format"])')
check "the tree is detected as canonical" test "$fmt" = canonical
check "an epoch ts becomes RFC 3339 with milliseconds" grep -q '"ts":"2026-11-23T09:05:00.300Z"' "$T/can/conversations/general--C01/messages.jsonl"
check "the other files are kept byte for byte" sh -c "cmp '$T/can/users.jsonl' '$S/canonical-acme/users.jsonl' && cmp '$T/can/conversations/general--C01/transcript.txt' '$S/canonical-acme/conversations/general--C01/transcript.txt' && diff -r '$T/can/conversations/general--C01/attachments' '$S/canonical-acme/conversations/general--C01/attachments'"
check "plain files with --format files stay as they are" sh -c "'$IMDR' backup '$repo' '$S/canonical-acme' --format files --quiet && '$IMDR' restore '$repo' latest '$T/asfiles' --quiet && diff -r '$T/asfiles' '$S/canonical-acme'"

# ---- bad input: clear errors, nothing committed ----
before=$(nsnaps)
cp -a "$SRC/slack-acme" "$T/badjson"
printf '[\n  {"type": "message", "ts": "1795424400.000100",\n   "text": oops}\n]\n' >"$T/badjson/general/2026-11-25.json"
head -c 6000 "$S/slack-acme.zip" >"$T/trunc.zip"
out=$("$IMDR" backup "$repo" "$T/trunc.zip" --quiet 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *trunc.zip* ]]; then pass "a truncated zip fails clearly ($out)"; else fail "truncated zip: rc=$rc $out"; fi
out=$("$IMDR" backup "$repo" "$S/mattermost-acme" --format slack --quiet 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"not a Slack export"* ]]; then pass "a wrong --format is a clear error"; else fail "wrong format: rc=$rc $out"; fi
printf '{"type":"team","team":{"name":"x"}}\n' >"$T/notmm.jsonl"
out=$("$IMDR" backup "$repo" "$T/notmm.jsonl" --format mattermost --quiet 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"not a Mattermost bulk export"* ]]; then pass "--format mattermost on another file says why"; else fail "not mm: rc=$rc $out"; fi
mkdir -p "$T/badcanon"; cp -a "$S/canonical-acme/." "$T/badcanon/"
printf '{"id":"x","ts":"yesterday","user":"U01","text":"?"}\n' >>"$T/badcanon/conversations/general--C01/messages.jsonl"
out=$("$IMDR" backup "$repo" "$T/badcanon" --quiet 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"messages.jsonl:4"* ]]; then pass "a malformed canonical tree names file and line"; else fail "bad canonical: rc=$rc $out"; fi
check "no snapshot was committed by the failures" test "$(nsnaps)" = "$before"

# ---- one malformed day file: the rest is backed up, that file named ----
out=$("$IMDR" backup "$repo" "$T/badjson" 2>&1); rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"warning: general/2026-11-25.json:3: malformed JSON"* ]]; then
	pass "a malformed day file is named (file and line) and left out"
else
	fail "malformed day file: rc=$rc $out"
fi
"$IMDR" restore "$repo" latest "$T/badjson-out" --quiet
check "the other days of that conversation are backed up" test "$(wc -l <"$T/badjson-out/conversations/general--C01GENERAL/messages.jsonl")" = 10
check "the malformed day file is kept in source/" cmp "$T/badjson/general/2026-11-25.json" "$T/badjson-out/source/general/2026-11-25.json"
exit 0
