#!/bin/bash
# One bad entry does not refuse a whole export (issue 11, item 7): a
# conversation id listed twice, a group in both groups.json and mpims.json,
# a duplicate tar/zip member, a path that is both a file and a folder, two
# conversations whose folders would collide, two attachments of one name,
# malformed Mattermost lines. The rest is backed up, the warning names
# what was left out and why, the snapshot records it; strict mode (ingest
# option `strict`: tests/tools/ingestdump --strict, and imdr backup
# --strict) refuses, naming the entry.
. "$(dirname "$0")/lib.sh"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
DUMP=$TOOLS/ingestdump
backup_restore() {	# NAME SOURCE [ARGS...]
	local name=$1 src=$2; shift 2
	"$IMDR" backup "$repo" "$src" "$@" >/dev/null 2>"$T/$name.warn" &&
		"$IMDR" restore "$repo" latest "$T/$name.out" --quiet
}
# strict_refuses NAME PATTERN ingestdump-ARGS...: strict fails, naming PATTERN
strict_refuses() {
	local name=$1 pat=$2 out rc; shift 2
	out=$("$DUMP" --strict "$@" 2>&1 >/dev/null); rc=$?
	if [ $rc -eq 1 ] && [[ "$out" == *"$pat"* ]]; then pass "$name ($out)"; else fail "$name: rc=$rc $out"; fi
}
skipped_in_snapshot() {	# N: the latest snapshot records at least N skipped entries
	"$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)[-1]; assert s["skipped"] >= int(sys.argv[1]), s' "$1"
}

# ---- Slack: an id listed twice, a group in groups.json and mpims.json ----
d=$T/slack; mkdir -p "$d/general" "$d/secret" "$d/mpdm-ann--bob-1"
printf '[{"id":"U1","name":"ann"},{"id":"U2","name":"bob"}]' >"$d/users.json"
printf '[{"id":"C1","name":"general","members":["U1"]},{"id":"C1","name":"general-again","members":["U2"]}]' >"$d/channels.json"
printf '[{"id":"G1","name":"secret","members":["U1","U2"]}]' >"$d/groups.json"
printf '[{"id":"G1","name":"mpdm-ann--bob-1","members":["U1","U2"]}]' >"$d/mpims.json"
printf '[{"type":"message","user":"U1","ts":"1795424460.000100","text":"in general"}]' >"$d/general/2026-11-23.json"
printf '[{"type":"message","user":"U1","ts":"1795424460.000200","text":"in secret"}]' >"$d/secret/2026-11-23.json"
printf '[{"type":"message","user":"U2","ts":"1795424460.000300","text":"in the mpim folder"}]' >"$d/mpdm-ann--bob-1/2026-11-23.json"
if backup_restore slack "$d"; then pass "a Slack export with a duplicate channel id and a group listed twice backs up"; else fail "slack: $(cat "$T/slack.warn")"; fi
check "the duplicate channel id is named" grep -qF 'channels.json: conversation C1 is listed again (first in channels.json): this entry is ignored' "$T/slack.warn"
check "the group in mpims.json too is named" grep -qF 'mpims.json: conversation G1 is listed again (first in groups.json): this entry is ignored' "$T/slack.warn"
check "one conversation per id" test "$(ls "$T/slack.out/conversations" | tr '\n' ' ')" = "general--C1 secret--G1 "
check "the group keeps the messages of both its folders" test "$(wc -l <"$T/slack.out/conversations/secret--G1/messages.jsonl")" = 2
check "the snapshot records what was skipped" skipped_in_snapshot 2
strict_refuses "strict: a duplicate channel id refuses the export" "channels.json: conversation C1 is listed again" "$d"
rm "$d/channels.json"
strict_refuses "strict: a group in groups.json and mpims.json refuses the export" "mpims.json: conversation G1 is listed again (first in groups.json)" "$d"

# ---- files: a tar with a duplicate member and a path both file and folder ----
python3 - "$T/dup.tar" <<'PY'
import io, sys, tarfile
def add(t, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
with tarfile.open(sys.argv[1], "w") as t:
    add(t, "a.txt", b"first\n")
    add(t, "a.txt", b"second\n")
    add(t, "both", b"a file\n")
    add(t, "both/inner.txt", b"below a file\n")
    add(t, "z.txt", b"after\n")
PY
if backup_restore tar "$T/dup.tar" --format files; then pass "a tar with a duplicate member and a file-and-folder path backs up"; else fail "tar: $(cat "$T/tar.warn")"; fi
check "the duplicate member is named, the first copy kept" sh -c "grep -qF 'a.txt: appears twice in the archive: the first is kept' '$T/tar.warn' && [ \"\$(cat '$T/tar.out/a.txt')\" = first ]"
check "the member below a file is named and left out" sh -c "grep -qF 'both/inner.txt: inside both, which is a file in the archive: skipped' '$T/tar.warn' && [ -f '$T/tar.out/both' ]"
check "the members after them are backed up" test -f "$T/tar.out/z.txt"
strict_refuses "strict: a duplicate tar member refuses the archive" "a.txt appears twice in the archive" --format files "$T/dup.tar"
out=$("$IMDR" backup "$repo" "$T/dup.tar" --format files --strict 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"a.txt appears twice in the archive"* ]]; then pass "imdr backup --strict refuses the archive, naming the member"; else fail "backup --strict: rc=$rc $out"; fi

# ---- Slack zip: a day file and users.json given twice, a file-and-folder path ----
python3 - "$T/dup.zip" <<'PY'
import sys, warnings, zipfile
warnings.simplefilter("ignore")                       # "Duplicate name" is the point
z = zipfile.ZipFile(sys.argv[1], "w")
z.writestr("users.json", '[{"id":"U1","name":"ann"}]')
z.writestr("users.json", '[{"id":"U9","name":"other"}]')
z.writestr("channels.json", '[{"id":"C1","name":"general","members":["U1"]}]')
day = '[{"type":"message","user":"U1","ts":"1795424460.000100","text":"once"}]'
z.writestr("general/2026-11-23.json", day)
z.writestr("general/2026-11-23.json", '[{"type":"message","user":"U1","ts":"1795424460.000900","text":"second copy"}]')
z.writestr("notes", "a file")
z.writestr("notes/x.txt", "below it")
z.close()
PY
if backup_restore dupzip "$T/dup.zip"; then pass "a Slack zip with duplicate members and a file-and-folder path backs up"; else fail "dupzip: $(cat "$T/dupzip.warn")"; fi
check "a day file given twice is read once, the first copy" sh -c "[ \$(wc -l <'$T/dupzip.out/conversations/general--C1/messages.jsonl') = 1 ] && grep -q '\"text\":\"once\"' '$T/dupzip.out/conversations/general--C1/messages.jsonl'"
check "users.json given twice: the first copy" grep -q '"id":"U1"' "$T/dupzip.out/users.jsonl"
check "the duplicates are named in source/" sh -c "grep -qF 'source/general/2026-11-23.json: appears twice' '$T/dupzip.warn' && grep -qF 'source/users.json: appears twice' '$T/dupzip.warn'"
check "the member below a file is named" grep -qF 'source/notes/x.txt: inside source/notes, which is a file' "$T/dupzip.warn"
check "manifest.json lists every file once" python3 -c '
import json,sys; m=json.load(open(sys.argv[1])); p=[f["path"] for f in m["files"]]; assert len(p)==len(set(p)), p' "$T/dupzip.out/manifest.json"
strict_refuses "strict: a duplicate zip member refuses the export" "appears twice in the archive" "$T/dup.zip"

# ---- Mattermost: malformed lines, colliding folders, one name twice ----
m=$T/mm; mkdir -p "$m/data/a" "$m/data/b"
printf 'A\n' >"$m/data/a/same.txt"; printf 'B\n' >"$m/data/b/same.txt"
cat >"$m/export.jsonl" <<'EOF'
{"type":"version","version":1}
{"type":"channel","channel":{"team":"x y","name":"z","type":"O"}}
{"type":"channel","channel":{"team":"x_y","name":"z","type":"O"}}
{"type":"channel","channel":{"name":"no-team","type":"O"}}
this line is not JSON
{"type":"user","user":{"email":"nobody@example.com"}}
{"type":"post","post":{"user":"ann","message":"no channel","create_at":1795424460100}}
{"type":"post","post":{"team":"x y","channel":"z","user":"ann","message":"two files","create_at":1795424460200,"attachments":[{"path":"data/a/same.txt"},{"path":"data/b/same.txt"}]}}
{"type":"post","post":{"team":"x_y","channel":"z","user":"bob","message":"other team","create_at":1795424460300}}
EOF
if backup_restore mm "$m"; then pass "a Mattermost export with malformed lines and colliding names backs up"; else fail "mm: $(cat "$T/mm.warn")"; fi
for w in 'export.jsonl:4: a channel without a team or a name' 'export.jsonl:5: malformed JSON' \
	'export.jsonl:6: a user without a username' 'export.jsonl:7: a post without its channel'; do
	check "the bad line is named: $w" grep -qF "$w" "$T/mm.warn"
done
check "two ids that read the same get two folders" sh -c "[ -d '$T/mm.out/conversations/z--x_y.z' ] && [ -d '$T/mm.out/conversations/z--x_y.z-2' ] && grep -qF 'stored as conversations/z--x_y.z-2' '$T/mm.warn'"
check "two attachments of one name in one post are both stored" sh -c "
	cd '$T/mm.out/conversations' && [ \"\$(cat */attachments/*same.txt | sort | tr '\n' ' ')\" = 'A B ' ]"
check "the good posts are backed up" grep -rq '"text":"other team"' "$T/mm.out/conversations"
strict_refuses "strict: a malformed Mattermost line refuses the export" "export.jsonl:4: a channel without a team or a name" "$m"
sed -i '4,7d' "$m/export.jsonl"
strict_refuses "strict: two conversations in one folder refuse the export" "would both be stored as conversations/z--x_y.z" "$m"
exit 0
