#!/bin/bash
# Paths from an export never leave it (issue 11, item 1). A host file
# holding a marker sits outside every export; hostile exports point at it
# with "../" attachment paths, absolute paths, symlinks in data/ and in
# --attachments, a data/ that is itself a symlink, symlinked Slack uploads,
# and zip/tar members named "../x", "/x" or through a symlink member. Each
# backup must succeed, name what it refused, and no restored byte may come
# from the host file. Run twice: with openat2 and with the per-component
# fallback older kernels get (IMDR_TEST_NO_OPENAT2).
. "$(dirname "$0")/lib.sh"

MARK="HOST-SECRET-$$-do-not-back-up"
mkdir -p "$T/host/dir"
printf '%s\n' "$MARK" >"$T/host/secret.txt"
printf '%s\n' "$MARK" >"$T/host/dir/inner.txt"
chmod 644 "$T/host/secret.txt"
repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }

# no_marker NAME DIR: nothing under DIR holds the marker (symlinks are not
# followed by grep -r, and a restored symlink is not host content)
no_marker() {
	if grep -rqF "$MARK" "$2"; then fail "$1: host file content in the snapshot: $(grep -rlF "$MARK" "$2" | head -3)"; else pass "$1"; fi
}
# backup_restore NAME SOURCE [ARGS...]: back up (warnings to $T/NAME.warn), restore to $T/NAME.out
backup_restore() {
	local name=$1 src=$2; shift 2
	rm -rf "$T/$name.out"
	"$IMDR" backup "$repo" "$src" "$@" >/dev/null 2>"$T/$name.warn" &&
		"$IMDR" restore "$repo" latest "$T/$name.out" --quiet
}
valid_manifest() {
	python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' "$1/manifest.json"
}

mattermost_export() {	# DIR: export.jsonl + data/ with one good file and hostile links
	local d=$1
	mkdir -p "$d/data/att"
	printf 'good attachment\n' >"$d/data/att/ok.txt"
	ln -s "$T/host/secret.txt" "$d/data/att/abs-link.txt"
	ln -s ../../../../host/secret.txt "$d/data/att/rel-link.txt"
	ln -s "$T/host/dir" "$d/data/att/dirlink"
	cat >"$d/export.jsonl" <<EOF
{"type":"version","version":1}
{"type":"channel","channel":{"team":"acme","name":"ops","display_name":"Ops","type":"O"}}
{"type":"post","post":{"team":"acme","channel":"ops","user":"eve","message":"files","create_at":1795424460200,"attachments":[{"path":"data/att/ok.txt"},{"path":"../../../host/secret.txt"},{"path":"data/../../../host/secret.txt"},{"path":"$T/host/secret.txt"},{"path":"data/att/abs-link.txt"},{"path":"data/att/rel-link.txt"},{"path":"data/att/dirlink/inner.txt"}]}}
EOF
}

run_all() {
	local tag=$1

	# ---- Mattermost: a lone .jsonl, data/ beside it (the default) ----
	rm -rf "$T/mm1"; mkdir -p "$T/mm1"; mattermost_export "$T/mm1/exp"
	if backup_restore mm1 "$T/mm1/exp/export.jsonl"; then pass "$tag: a lone .jsonl with hostile attachment paths backs up"; else fail "$tag: mm1: $(cat "$T/mm1.warn")"; fi
	no_marker "$tag: no host file through ../, absolute paths or symlinks in data/" "$T/mm1.out"
	check "$tag: the attachment inside data/ is stored" grep -rqx 'good attachment' "$T/mm1.out/conversations"
	for p in ../../../host/secret.txt data/../../../host/secret.txt "$T/host/secret.txt" data/att/abs-link.txt data/att/rel-link.txt data/att/dirlink/inner.txt; do
		check "$tag: the warning names the refused path $p" grep -qF "attachment path $p refused" "$T/mm1.warn"
	done
	check "$tag: manifest.json is valid JSON" valid_manifest "$T/mm1.out"
	check "$tag: refused attachments count as missing" python3 -c '
import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); assert m["counts"]["missing_attachments"]==6, m["counts"]' "$T/mm1.out"
	check "$tag: symlinks in source/attachments stay symlinks" test -L "$T/mm1.out/source/attachments/att/abs-link.txt"
	check "$tag: the snapshot records the refusals" sh -c "'$IMDR' snapshots '$repo' --json | python3 -c 'import json,sys; s=json.load(sys.stdin)[-1]; assert s[\"skipped\"]>=6, s'"

	# ---- Mattermost: --attachments DIR holding a symlink out ----
	if backup_restore mm2 "$T/mm1/exp/export.jsonl" --attachments "$T/mm1/exp/data"; then pass "$tag: --attachments DIR with symlinks out backs up"; else fail "$tag: mm2: $(cat "$T/mm2.warn")"; fi
	no_marker "$tag: no host file through a symlink in --attachments DIR" "$T/mm2.out"

	# ---- Mattermost: data/ beside the .jsonl is itself a symlink out ----
	rm -rf "$T/mm3"; mkdir -p "$T/mm3/exp" "$T/host/fakedata/att"
	cp "$T/host/secret.txt" "$T/host/fakedata/att/ok.txt"
	cp "$T/mm1/exp/export.jsonl" "$T/mm3/exp/"
	ln -s "$T/host/fakedata" "$T/mm3/exp/data"
	if backup_restore mm3 "$T/mm3/exp/export.jsonl"; then pass "$tag: a data/ that is a symlink out backs up"; else fail "$tag: mm3: $(cat "$T/mm3.warn")"; fi
	no_marker "$tag: a symlinked data/ beside the .jsonl is not followed" "$T/mm3.out"
	check "$tag: the warning says data/ was not followed" grep -q 'data: a symlink beside the export, not followed' "$T/mm3.warn"

	# ---- Mattermost: the export as a folder (jsonl + data/ in it) ----
	if backup_restore mm4 "$T/mm1/exp"; then pass "$tag: a Mattermost folder with symlinks in data/ backs up"; else fail "$tag: mm4: $(cat "$T/mm4.warn")"; fi
	no_marker "$tag: no host file through symlinks in a folder export" "$T/mm4.out"
	check "$tag: symlinks of a folder export are kept as symlinks in source/" test -L "$T/mm4.out/source/data/att/abs-link.txt"
}

# ---- Slack: a folder with symlinked uploads and a symlinked day folder ----
slack_export() {
	local d=$1
	mkdir -p "$d/general" "$d/__uploads/F0OKFILE1" "$d/__uploads/F0SECRET1"
	printf '[{"id":"U1","name":"eve"}]' >"$d/users.json"
	printf '[{"id":"C1","name":"general","members":["U1"]},{"id":"C2","name":"linked","members":["U1"]}]' >"$d/channels.json"
	printf '[{"type":"message","user":"U1","ts":"1795424460.000100","text":"see","files":[{"id":"F0OKFILE1","name":"ok.txt"},{"id":"F0SECRET1","name":"secret.txt"}]}]' >"$d/general/2026-11-23.json"
	printf 'slack upload\n' >"$d/__uploads/F0OKFILE1/ok.txt"
	ln -s "$T/host/secret.txt" "$d/__uploads/F0SECRET1/secret.txt"
	mkdir -p "$T/host/linked"
	printf '[{"type":"message","user":"U1","ts":"1795424460.000200","text":"%s"}]' "$MARK" >"$T/host/linked/2026-11-23.json"
	ln -s "$T/host/linked" "$d/linked"
}

run_all openat2
IMDR_TEST_NO_OPENAT2=1 run_all fallback

rm -rf "$T/sl"; slack_export "$T/sl"
if backup_restore slack "$T/sl"; then pass "a Slack folder with symlinked uploads backs up"; else fail "slack: $(cat "$T/slack.warn")"; fi
no_marker "no host file through a symlinked upload or day folder (Slack)" "$T/slack.out"
check "the upload inside the export is stored" grep -rqx 'slack upload' "$T/slack.out/conversations"
check "the symlinked upload is missing, not read" grep -q 'attachment secret.txt is not in the export' "$T/slack.warn"

# ---- Slack as a zip: symlink member, ../ member, absolute member ----
python3 - "$T/sl.zip" "$T/host/secret.txt" <<'PY'
import stat, sys, zipfile
out, secret = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(out, "w")
z.writestr("users.json", '[{"id":"U1","name":"eve"}]')
z.writestr("channels.json", '[{"id":"C1","name":"general","members":["U1"]}]')
z.writestr("general/2026-11-23.json", '[{"type":"message","user":"U1","ts":"1795424460.000100","text":"x","files":[{"id":"F0SECRET1","name":"s.txt"}]}]')
link = zipfile.ZipInfo("__uploads/F0SECRET1/s.txt")
link.external_attr = (stat.S_IFLNK | 0o777) << 16
z.writestr(link, secret)                      # a symlink member to the host file
z.writestr("../../zip-escape.txt", "escaped")
z.writestr("/zip-absolute.txt", "absolute")
z.close()
PY
if backup_restore slackzip "$T/sl.zip"; then pass "a Slack zip with a symlink, a ../ and an absolute member backs up"; else fail "slackzip: $(cat "$T/slackzip.warn")"; fi
no_marker "a symlink member is never followed to a host file (zip)" "$T/slackzip.out"
check "the symlink member is kept as a symlink in source/" test -L "$T/slackzip.out/source/__uploads/F0SECRET1/s.txt"
check "a ../ member is refused by name" grep -qF '../../zip-escape.txt: member name with a ".." part' "$T/slackzip.warn"
check "an absolute member is refused by name" grep -qF '/zip-absolute.txt: absolute member name' "$T/slackzip.warn"
check "nothing was written beside the restore target" sh -c "! ls '$T' | grep -q 'zip-escape\|zip-absolute'"
check "manifest.json of the zip is valid JSON" valid_manifest "$T/slackzip.out"

# ---- files format: a tar with ../, absolute, a symlink and a member through it ----
python3 - "$T/h.tar" "$T/host" <<'PY'
import io, sys, tarfile
out, host = sys.argv[1], sys.argv[2]
def add(t, name, data=b"x", typ=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.linkname = link
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "ok.txt", b"ok\n")
    add(t, "../tar-escape.txt")
    add(t, "/tar-absolute.txt")
    add(t, "hostdir", typ=tarfile.SYMTYPE, link=host)
    add(t, "hostdir/planted.txt", b"planted\n")       # through the symlink member
PY
if backup_restore tar "$T/h.tar" --format files; then pass "a tar with ../, absolute and through-symlink members backs up"; else fail "tar: $(cat "$T/tar.warn")"; fi
check "the through-symlink member is refused by name" grep -qF 'hostdir/planted.txt: inside hostdir, which is a symlink in the archive: skipped' "$T/tar.warn"
check "nothing was written through the symlink member" test ! -e "$T/host/planted.txt"
check "the restore holds ok.txt and the link as a link" sh -c "test -f '$T/tar.out/ok.txt' && test -L '$T/tar.out/hostdir'"
check "nothing was written outside the restore target" sh -c "test ! -e '$T/tar-escape.txt' && test ! -e /tar-absolute.txt"

# ---- files format: a folder with a symlink to the host file ----
mkdir -p "$T/plain"; printf 'plain\n' >"$T/plain/a.txt"; ln -s "$T/host/secret.txt" "$T/plain/link"
if backup_restore plain "$T/plain"; then pass "a folder with a symlink out backs up"; else fail "plain: $(cat "$T/plain.warn")"; fi
check "a folder's symlink is stored as a symlink, not its target's bytes" sh -c "test -L '$T/plain.out/link' && test \"\$(readlink '$T/plain.out/link')\" = '$T/host/secret.txt'"
no_marker "no host file content from a folder's symlink" "$T/plain.out"
exit 0
