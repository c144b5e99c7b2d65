#!/bin/bash
# Backup → restore → identical: contents, modes, mtimes, symlinks, empty files
# and dirs, odd names; incremental backups; --include; ls/cat; archives.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/conversations/general--C01/attachments" "$src/empty dir" "$src/deep/a/b/c"
printf '{"id":"1","text":"hello"}\n' >"$src/conversations/general--C01/messages.jsonl"
: >"$src/empty-file"
head -c 6000000 /dev/urandom >"$src/conversations/general--C01/attachments/M1-big.bin"
head -c 70000 /dev/urandom >"$src/conversations/general--C01/attachments/M2-photo.jpg"
printf 'spaces\n' >"$src/name with spaces.txt"
printf 'newline\n' >"$src/name
with newline"
printf 'utf8\n' >"$src/übersicht-日本語-😀.txt"
printf 'deep\n' >"$src/deep/a/b/c/file"
ln -s conversations/general--C01/messages.jsonl "$src/link-relative"
ln -s /nonexistent/target "$src/link-dangling"
chmod 600 "$src/name with spaces.txt"
chmod 755 "$src/deep/a/b/c/file"
chmod 700 "$src/deep/a"
touch -h -d '2020-01-02 03:04:05.123456789' "$src/link-relative"
touch -d '2021-05-06 07:08:09.5' "$src/empty-file" "$src/empty dir"
touch -d '2019-12-31 23:59:59' "$src/deep/a/b"

listing() { (cd "$1" && find . -mindepth 1 -printf '%p|%y|%m|%s|%T@|%l\n' | LC_ALL=C sort); }

repo=$T/repo
check "init" "$IMDR" init "$repo"
check "backup of a folder" "$IMDR" backup "$repo" "$src" --quiet
check "snapshots lists one" bash -c "\"$IMDR\" snapshots \"$repo\" | grep -q '^1 snapshot$'"
check "restore latest" "$IMDR" restore "$repo" latest "$T/out1" --quiet
check "restored tree is identical (diff -r)" diff -r --no-dereference --no-dereference "$src" "$T/out1"
check "modes, sizes, mtimes and link targets identical" diff <(listing "$src") <(listing "$T/out1")

check "ls lists the top" bash -c "\"$IMDR\" ls \"$repo\" latest | grep -q 'empty-file$'"
check "ls shows exact size" bash -c "\"$IMDR\" ls \"$repo\" latest conversations/general--C01/attachments/M1-big.bin | grep -q ' 6000000 '"
check "ls --json parses" bash -c "\"$IMDR\" ls --json -R \"$repo\" latest | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d) >= 15, len(d)'"
check "cat gives the file" cmp <("$IMDR" cat "$repo" latest conversations/general--C01/attachments/M1-big.bin) "$src/conversations/general--C01/attachments/M1-big.bin"
check_fails "cat of a missing path fails" "$IMDR" cat "$repo" latest no/such/file

# Second backup with nothing changed: nothing read, (almost) nothing added.
out=$("$IMDR" backup --json "$repo" "$src")
read -r unchanged added <<<"$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["files_unchanged"], d["added_bytes"])' "$out")"
if [ "$unchanged" -ge 8 ] && [ "$added" -lt 10000 ]; then pass "unchanged backup reads nothing and adds $added bytes"; else fail "unchanged backup: unchanged=$unchanged added=$added"; fi

# Change one file, add one: only those are read.
printf 'changed\n' >>"$src/deep/a/b/c/file"
head -c 100000 /dev/urandom >"$src/conversations/general--C01/attachments/M3-new.pdf"
out=$("$IMDR" backup --json "$repo" "$src")
read -r read_files added <<<"$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["files_read"], d["added_bytes"])' "$out")"
if [ "$read_files" -eq 2 ] && [ "$added" -lt 300000 ]; then pass "incremental backup reads 2 files, adds $added bytes"; else fail "incremental: read=$read_files added=$added"; fi
check "restore after change is identical" bash -c "\"$IMDR\" restore \"$repo\" latest \"$T/out2\" --quiet && diff -r --no-dereference --no-dereference \"$src\" \"$T/out2\""

# The first snapshot is still there, unchanged.
first=$("$IMDR" snapshots --json "$repo" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])')
check "restore of the first snapshot by id" bash -c "\"$IMDR\" restore \"$repo\" $first \"$T/out3\" --quiet && diff -r --no-dereference --no-dereference \"$T/out1\" \"$T/out3\""

# --include restores one folder only.
check "restore --include" bash -c "\"$IMDR\" restore \"$repo\" latest \"$T/out4\" --include conversations/general--C01/attachments --quiet && diff -r --no-dereference --no-dereference \"$src/conversations/general--C01/attachments\" \"$T/out4/conversations/general--C01/attachments\" && [ ! -e \"$T/out4/empty-file\" ]"
check_fails "restore refuses to overwrite" "$IMDR" restore "$repo" latest "$T/out2" --quiet

# Archives: the contents become the snapshot.
(cd "$src" && zip -qry "$T/export.zip" . ) && (cd "$src" && tar -czf "$T/export.tar.gz" .) && (cd "$src" && tar --zstd -cf "$T/export.tar.zst" .)
for a in export.zip export.tar.gz export.tar.zst; do
	rm -rf "$T/outa"
	if "$IMDR" backup "$repo" "$T/$a" --format files --quiet && "$IMDR" restore "$repo" latest "$T/outa" --quiet && diff -r --no-dereference --no-dereference "$src" "$T/outa" >/dev/null; then
		pass "backup of $a restores the same contents"
	else
		fail "backup of $a"
	fi
done

# A truncated zip is an error naming it, and commits no snapshot.
n_before=$("$IMDR" snapshots --json "$repo" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
head -c 3000000 "$T/export.zip" >"$T/truncated.zip"
msg=$("$IMDR" backup "$repo" "$T/truncated.zip" --format files --quiet 2>&1); rc=$?
n_after=$("$IMDR" snapshots --json "$repo" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ $rc -eq 1 ] && [[ "$msg" == *truncated.zip* ]] && [ "$n_before" = "$n_after" ]; then pass "truncated zip: exit 1, named, no snapshot"; else fail "truncated zip: rc=$rc msg=$msg before=$n_before after=$n_after"; fi

check "check passes" "$IMDR" check "$repo" --quiet
check "check --read-data passes" "$IMDR" check "$repo" --read-data --quiet
