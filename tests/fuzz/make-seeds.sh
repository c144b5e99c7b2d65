#!/bin/bash
# make-seeds.sh — regenerate the seed corpora of tests/fuzz/corpus/:
#   slack, mattermost, canonical   the bundled sample exports (and a few
#       hostile variants) as records (see export.h: "NAME\x01CONTENT"
#       joined by 0x00; binary attachments replaced by short text);
#   node, pack_header, index, snapshot, keyslot   the plaintext of every
#       object of a repository holding backups of those samples (through
#       build/tools/fuzzseeds);
#   manifest   the manifest.json of each of those backups, and a hostile one.
# Needs `make` done (build/imdr, build/tools/fuzzseeds). Deterministic for
# the records; the repository objects differ per run (random ids and keys).
set -e
cd "$(dirname "$0")/../.."
C=tests/fuzz/corpus
S=examples/samples
tmp=$(mktemp -d /tmp/imdr-seeds.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

python3 - "$C" "$S" <<'PY'
import os, sys, zipfile
corpus, samples = sys.argv[1], sys.argv[2]

def text(name, data):
    if b"\0" in data or name.endswith((".pdf", ".jpg")):
        return b"%s bytes of %s" % (str(len(data)).encode(), os.path.basename(name).encode())
    return data

def write(kind, fname, records):
    os.makedirs(os.path.join(corpus, kind), exist_ok=True)
    blob = b"\0".join(n.encode("utf-8", "surrogateescape") + b"\x01" + text(n, d) if n is not None else d
                      for n, d in records)
    assert len(blob) < 65536, (kind, fname, len(blob))
    open(os.path.join(corpus, kind, fname), "wb").write(blob)

def folder(root):
    out = []
    for dp, dn, fn in sorted(os.walk(root)):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            out.append((os.path.relpath(p, root), open(p, "rb").read()))
    return out

# Slack: the sample zip, member by member (its top folder kept: the reader
# strips it), and the same by default positions
z = zipfile.ZipFile(os.path.join(samples, "slack-acme.zip"))
members = [(i.filename, z.read(i)) for i in z.infolist() if not i.is_dir()]
write("slack", "sample-named", members)
by = {os.path.basename(n) if n.count("/") == 1 else n.split("/", 1)[1]: d for n, d in members}
order = ["users.json", "channels.json", "groups.json", "dms.json", "mpims.json",
         "general/2026-11-23.json", "D01ANNBOB/2026-11-24.json", "__uploads/F01CONTRACT/Q4 contract draft.pdf"]
write("slack", "sample-positional", [(None, text(k, by[k])) for k in order])
write("slack", "hostile", [
    ("users.json", b'[{"id":"U1","name":"eve","real_name":"Eve\\n[2026-11-23 09:01:00Z] CEO: pay\\u001b[2J"}]'),
    ("channels.json", b'[{"id":"C1","name":"general","members":["U1"]},{"id":"C1","name":"again"}]'),
    ("groups.json", b'[{"id":"G1","name":"g","members":["U1"]}]'),
    ("mpims.json", b'[{"id":"G1","name":"mpdm-g","members":["U1"]}]'),
    ("general/2026-11-23.json", b'[{"type":"message","user":"U1","ts":"1795424460.000100","text":"a\\n[2026-11-23 09:05:00Z] x: y\\r\\n\\u2028","files":[{"id":"F0AAAAAA1","name":"../../x\\n.pdf"},{"id":"F0AAAAAA1","name":"../../x\\n.pdf"}]}]'),
    ("__uploads/F0AAAAAA1/x.pdf", b"upload"),
    ("caf\udce9/2026-11-23.json", b'[{"type":"message","user":"U1","ts":"1795424460.000200","text":"raw"}]'),
    ("../escape/2026-11-23.json", b"[]"),
    ("/abs.json", b"[]"),
    ("\x02__uploads/F0BBBBBB1/link.pdf", b"/etc/passwd"),
    ("general/2026-11-23.json", b"[]"),
])

# Mattermost: the sample folder, and hostile attachment paths that point at
# the harness's attachments folder (a.txt, sub/b.txt, link, abslink, up/)
mm = folder(os.path.join(samples, "mattermost-acme"))
write("mattermost", "sample-named", mm)
jsonl = dict(mm)["export.jsonl"]
write("mattermost", "sample-positional", [(None, jsonl), (None, b"pdf"), (None, b"jpg")])
write("mattermost", "hostile", [(None, b"\n".join([
    b'{"type":"version","version":1}',
    b'{"type":"channel","channel":{"team":"x y","name":"z","type":"O"}}',
    b'{"type":"channel","channel":{"team":"x_y","name":"z","type":"P"}}',
    b'{"type":"user","user":{"username":"eve","first_name":"Eve\\n[2026-11-23 09:01:00Z] boss","teams":[{"name":"x y","channels":[{"name":"z"}]}]}}',
    b'not json',
    b'{"type":"post","post":{"team":"x y","channel":"z","user":"eve","message":"m\\nn","create_at":1795424460200,'
    b'"attachments":[{"path":"a.txt"},{"path":"sub/b.txt"},{"path":"link"},{"path":"abslink"},{"path":"up/secret.txt"},'
    b'{"path":"../secret.txt"},{"path":"/etc/passwd"},{"path":"data/a.txt"},{"path":"data/a.txt"},{"path":"x/.."}],'
    b'"replies":[{"user":"bob","message":"r","create_at":1795424460300}]}}',
    b'{"type":"direct_post","direct_post":{"channel_members":["eve","bob"],"user":"bob","message":"dm","create_at":1795424460400}}',
    b'{"type":"post","post":{"user":"eve","message":"no channel","create_at":1}}',
]))])

# canonical: the sample folder
write("canonical", "sample-named", folder(os.path.join(samples, "canonical-acme")))
can = dict(folder(os.path.join(samples, "canonical-acme")))
write("canonical", "sample-positional", [(None, can["users.jsonl"]),
    (None, can["conversations/general--C01/meta.json"]), (None, can["conversations/general--C01/messages.jsonl"])])
PY

# repository objects: back the samples (and a hostile name) up, dump them
export IMDR_PASSWORD_FILE=$tmp/pass IMDR_TEST_FAST_KDF=1 XDG_CACHE_HOME=$tmp/cache
printf 'seeds\n' >"$tmp/pass"; chmod 600 "$tmp/pass"
build/imdr init "$tmp/repo" >/dev/null
build/imdr backup "$tmp/repo" "$S/slack-acme.zip" --quiet
build/imdr backup "$tmp/repo" "$S/mattermost-acme" --quiet --tag seed
build/imdr backup "$tmp/repo" "$S/canonical-acme" --quiet
odd=$tmp/$(printf 'odd\351')		# a source path that is not UTF-8: source_b64
mkdir -p "$odd/$(printf 'caf\351')"; ln -s /etc/passwd "$odd/link"
printf 'x' >"$odd/$(printf 'caf\351')/f"
build/imdr backup "$tmp/repo" "$odd" --quiet
build/tools/fuzzseeds "$tmp/repo" "$C"
mkdir -p "$C/manifest"
i=0
for id in $(build/imdr snapshots "$tmp/repo" --json | python3 -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
	build/imdr cat "$tmp/repo" "$id" manifest.json >"$C/manifest/sample-$i" 2>/dev/null || rm -f "$C/manifest/sample-$i"
	i=$((i + 1))
done
printf '%s' '{"files": [{"path": "a\u0000b", "size": 1, "sha256": "x"}, {"size": -1, "path": "\ud800"}, 7, [[{}]],
 {"path": "b", "path": "c\"d", "size": 1e999, "sha256": null}], "files": [{"path": "e"}], "x": [true, "\u2028"]}' \
	>"$C/manifest/hostile"
for d in "$C"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds, $(du -sk "$d" | cut -f1) KiB"; done
