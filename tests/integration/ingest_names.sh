#!/bin/bash
# Names from exports (issue 11, item 6): member and folder names that are
# not UTF-8 (byte 0xff), long names cut mid-character, names with newlines
# and ESC sequences. manifest.json stays valid JSON and lossless (path_b64
# gives the exact bytes), the snapshot saves, a display name with a newline
# cannot forge a line of transcript.txt, and no name reaches the terminal
# raw: warnings, `imdr ls`, `imdr snapshots` (and their --json is valid).
. "$(dirname "$0")/lib.sh"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
ESC=$(printf '\033')
strict_utf8_json() {	# FILE or - : valid JSON, strictly UTF-8
	python3 -c 'import json,sys; f=sys.stdin.buffer if sys.argv[1]=="-" else open(sys.argv[1],"rb"); json.loads(f.read().decode("utf-8"))' "$1"
}
no_raw_controls() {	# FILE: no ESC, no C1 CSI, no raw CR
	! LC_ALL=C grep -q "[$ESC$(printf '\r')]" "$1" && ! LC_ALL=C grep -q "$(printf '\302\233')" "$1"
}

# ---- a Slack zip with hostile names everywhere ----
python3 - "$T/names.zip" <<'PY'
import json, sys, zipfile
out = sys.argv[1]
z = zipfile.ZipFile(out, "w")
users = [{"id": "U1", "name": "eve", "real_name": "Eve\n[2026-11-23 09:01:00Z] CEO: wire the money now\x1b[2J"},
         {"id": "U2", "name": "ann", "real_name": "Ann\u2028[2026-11-23 09:02:00Z] CFO: approved"}]
z.writestr("users.json", json.dumps(users))
z.writestr("channels.json", json.dumps([{"id": "C1", "name": "general", "members": ["U1", "U2"]}]))
long = "\u00e9" * 150                                    # 300 bytes: must be cut between characters
msgs = [{"type": "message", "user": "U1", "ts": "1795424460.000100",
         "text": "hello\n[2026-11-23 09:05:00Z] CEO: forged reply\r\n\x1b]0;pwned\x07done",
         "files": [{"id": "F0LONGNM1", "name": long + ".pdf"},
                   {"id": "F0CTRLNM1", "name": "a\nb\x1b[31m.txt"},
                   {"id": "F0MISSNG1", "name": "gone\n\x1b[2Jx.pdf"}]},
        {"type": "message", "user": "U2", "ts": "1795424470.000100", "text": "ok", "note": "nul\u0000inside"}]
z.writestr("general/2026-11-23.json", json.dumps(msgs))
z.writestr("__uploads/F0LONGNM1/long.pdf", "long")
z.writestr("__uploads/F0CTRLNM1/ctrl.txt", "ctrl")
# a day folder no list names, with a name that is not UTF-8 (raw bytes,
# no UTF-8 flag) and a member with a newline and ESC in its name
info = zipfile.ZipInfo("PLACEHOLDERX/2026-11-23.json")
z.writestr(info, json.dumps([{"type": "message", "user": "U2", "ts": "1795424480.000100", "text": "raw"}]))
z.writestr("notes/evil\n\x1b[31mname.txt", "n")
z.close()
data = open(out, "rb").read().replace(b"PLACEHOLDERX", b"caf\xe9-\xff\xfe-xxxx")
open(out, "wb").write(data)
PY
if "$IMDR" backup "$repo" "$T/names.zip" >"$T/names.out" 2>"$T/names.warn"; then pass "an export with non-UTF-8 and control-character names backs up (the snapshot saves)"; else fail "names backup: $(cat "$T/names.warn")"; fi
"$IMDR" restore "$repo" latest "$T/r" --quiet || fail "restore"
check "manifest.json is valid, strictly UTF-8 JSON" strict_utf8_json "$T/r/manifest.json"
python3 - "$T/r" <<'PY' && pass "manifest path_b64 gives the exact bytes of non-UTF-8 paths, and every file is listed" || fail "manifest lossless"
import base64, hashlib, json, os, sys
root = sys.argv[1].encode()
m = json.loads(open(os.path.join(root, b"manifest.json"), "rb").read().decode("utf-8"))
listed = {}
for f in m["files"]:
    raw = base64.b64decode(f["path_b64"]) if "path_b64" in f else f["path"].encode("utf-8")
    assert "path_b64" not in f or "\ufffd" in f["path"], f
    listed[raw] = f
assert any(b"caf\xe9-\xff\xfe-xxxx" in p for p in listed), [p for p in listed if b"caf" in p]
for dp, dn, fn in os.walk(root):
    for n in fn:
        rel = os.path.relpath(os.path.join(dp, n), root)
        if rel == b"manifest.json":
            continue
        assert rel in listed, rel
        data = open(os.path.join(root, rel), "rb").read()
        assert hashlib.sha256(data).hexdigest() == listed[rel]["sha256"], rel
PY
conv=$(ls -d "$T/r/conversations/general--C1")
t=$conv/transcript.txt
check "every transcript line is a message (column 0 or 4) or a continuation (8+ spaces)" \
	python3 -c '
import re, sys
for line in open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]:
    assert re.match(r"(    )?\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\] ", line) or line.startswith("        "), repr(line)' "$t"
check "a display name with a newline does not forge a transcript line" sh -c "! grep -q '^\(    \)\?\[2026-11-23 09:0[12]:00Z\] C[EF]O' '$t' && grep -qF 'Eve\n[2026-11-23 09:01:00Z] CEO: wire the money now\x1b[2J: hello' '$t'"
check "U+2028 in a name is escaped in the transcript" grep -qF 'Ann\u2028[2026-11-23 09:02:00Z] CFO' "$t"
check "a text line cannot pass for a reply" sh -c "! grep -q '^    \[2026-11-23 09:05:00Z\]' '$t' && grep -q '^        \[2026-11-23 09:05:00Z\] CEO: forged reply$' '$t'"
check "no raw ESC, CR or C1 control in transcript.txt" no_raw_controls "$t"
check "messages.jsonl keeps the text exactly" python3 -c '
import json,sys; m=[json.loads(l) for l in open(sys.argv[1],encoding="utf-8")]
assert m[0]["text"]=="hello\n[2026-11-23 09:05:00Z] CEO: forged reply\r\n\x1b]0;pwned\x07done", m[0]["text"]' "$conv/messages.jsonl"
python3 - "$conv" <<'PY' && pass "a long attachment name is cut between characters, a control-character name made safe, both stored" || fail "attachment names"
import json, os, sys
conv = sys.argv[1]
m = json.loads(open(os.path.join(conv, "messages.jsonl"), encoding="utf-8").readline())
paths = [a["path"] for a in m["attachments"] if "path" in a]
assert len(paths) == 2 and len(m["attachments"]) == 3, m["attachments"]
for p in paths:
    name = p.split("/")[-1].encode("utf-8")
    assert len(name) <= 255, len(name)
    name.decode("utf-8")                                   # whole characters only
    assert os.path.isfile(os.path.join(conv, p)), p
assert all(c not in paths[1] for c in "\n\x1b"), paths[1]
PY
check "a snapshot's tree with \\u0000 in a message backs up again as canonical" "$IMDR" backup "$repo" "$T/r" --format canonical --quiet
oconv=$(ls -d "$T/r/conversations/"caf*)
check "a non-UTF-8 folder name gives a valid meta.json" strict_utf8_json "$oconv/meta.json"
check "and a conversation folder name that is UTF-8" python3 -c 'import os,sys; os.fsencode(sys.argv[1]).decode("utf-8")' "$oconv"
check "a warning naming a file with a newline and ESC is one escaped line" sh -c "! LC_ALL=C grep -q '$ESC' '$T/names.warn' && grep -qxF 'imdr: warning: general/2026-11-23.json: attachment gone\n\x1b[2Jx.pdf is not in the export (recorded as missing)' '$T/names.warn'"
check "a non-UTF-8 folder name is escaped in warnings" grep -qF 'caf\xe9-\xff\xfe-xxxx: a conversation folder that no list names' "$T/names.warn"

# ---- imdr ls and snapshots: escaped; --json valid, with _b64 bytes ----
"$IMDR" ls "$repo" latest source/notes >"$T/ls.txt"
check "imdr ls shows a newline/ESC name escaped on one line" sh -c "[ \$(wc -l <'$T/ls.txt') = 1 ] && grep -qF 'evil\n\x1b[31mname.txt' '$T/ls.txt' && ! grep -q '$ESC' '$T/ls.txt'"
"$IMDR" ls "$repo" latest -R >"$T/lsR.txt"
check "imdr ls -R shows non-UTF-8 bytes as \\xHH" grep -qF 'caf\xe9-\xff\xfe-xxxx' "$T/lsR.txt"
"$IMDR" ls "$repo" latest -R --json >"$T/ls.json"
check "imdr ls --json is valid UTF-8 JSON" strict_utf8_json "$T/ls.json"
check "imdr ls --json gives path_b64 for a non-UTF-8 path" python3 -c '
import base64,json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))
assert any(b"caf\xe9-\xff\xfe-xxxx" in base64.b64decode(e["path_b64"]) for e in d if "path_b64" in e)' "$T/ls.json"

src=$T/$(printf 'src\033[31m\nname\377')
mkdir -p "$src"; printf 'x\n' >"$src/f"
if "$IMDR" backup "$repo" "$src" --tag "$(printf 'tag\033[2J')" >/dev/null 2>"$T/src.warn"; then pass "a source path with ESC, newline and 0xff backs up (the snapshot saves)"; else fail "odd source: $(cat "$T/src.warn")"; fi
"$IMDR" backup "$repo" "$src" --host "a$(printf '\303\251%.0s' 1 2 3 4 5 6 7 8 9)" >/dev/null 2>&1
"$IMDR" snapshots "$repo" >"$T/snaps.txt"
check "imdr snapshots cuts a long host name between characters" python3 -c '
import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/snaps.txt"
# a source name is UTF-8 without controls (a path's other bytes become ?);
# the path itself is kept exactly, in path_b64
check "imdr snapshots escapes the source and tags" sh -c "! grep -q '$ESC' '$T/snaps.txt' && grep -qF 'src?[31m?name?  [tag\x1b[2J]' '$T/snaps.txt'"
"$IMDR" snapshots "$repo" --json >"$T/snaps.json"
check "imdr snapshots --json is valid UTF-8 JSON with the path's bytes in path_b64" python3 -c '
import base64,json,sys; d=json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))
assert base64.b64decode(d[-1]["path_b64"]).endswith(b"src\x1b[31m\nname\xff"), d[-1]
assert d[-1]["host"] == "a" + "\u00e9" * 9, d[-1]["host"]' "$T/snaps.json"
exit 0
