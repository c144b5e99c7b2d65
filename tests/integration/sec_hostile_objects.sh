#!/bin/bash
# Issue #11, item 3: whoever can write to the storage (no key needed) drops
# a 3 GiB file into snapshots/ and into index/. Every reader bounds an
# object by its kind before reading it: snapshots, ls, check, backup and a
# mount go on, name the object and its size, and stay small in memory
# (peak RSS measured with /usr/bin/time).
. "$(dirname "$0")/lib.sh"

if ! command -v /usr/bin/time >/dev/null; then skip "hostile objects: no /usr/bin/time (scripts/deps.sh test)"; exit 0; fi

repo=$T/repo src=$T/src
mkdir -p "$src/d"
printf 'hello\n' >"$src/d/a.txt"
head -c 200000 /dev/urandom >"$src/b.bin"
"$IMDR" init "$repo" >/dev/null && "$IMDR" backup "$repo" "$src" --quiet --time 2026-11-20T10:00:00Z ||
	{ fail "setup"; exit 1; }
good=$(cd "$repo" && ls snapshots/)
good_id=${good##*-}

# Names readers accept; a time in the future makes the snapshot `latest`.
big_snap=snapshots/20991231T235959.000000000Z-0123456789abcdef-$(printf 'ab%.0s' $(seq 32))
big_index=index/$(printf 'cd%.0s' $(seq 32))
truncate -s 3G "$repo/$big_snap" "$repo/$big_index"
SIZE=3221225472
MAX_KB=150000	# far below 3 GiB, well above what imdr needs (~20 MB)
ldd "$IMDR" 2>/dev/null | grep -q libasan && MAX_KB=600000	# ASan's shadow and quarantine

# run NAME CMD...: output in $out, status in $rc, peak RSS (KB) in $rss
run() {
	/usr/bin/time -f %M -o "$T/rss" "$@" >"$T/out" 2>&1
	rc=$?
	out=$(cat "$T/out")
	rss=$(tail -n 1 "$T/rss")
}
names() { [[ "$out" == *"$1"* ]] && [[ "$out" == *"$SIZE bytes"* ]]; }

run "$IMDR" snapshots "$repo"
if [ $rc -eq 1 ] && names "$big_snap" && [[ "$out" == *"${good_id:0:8}"* ]] && [ "$rss" -lt $MAX_KB ]; then
	pass "snapshots lists the others and names the 3 GiB object and its size (rc 1, $rss KB)"
else
	fail "snapshots: rc=$rc rss=$rss out=$out"
fi

run "$IMDR" ls "$repo" latest
if [ $rc -eq 1 ] && names "$big_snap" && [ "$rss" -lt $MAX_KB ]; then
	pass "ls latest (the 3 GiB object) fails naming it ($rss KB)"
else
	fail "ls latest: rc=$rc rss=$rss out=$out"
fi
run "$IMDR" ls "$repo" "${good_id:0:8}" d/
check "ls of the good snapshot still works" sh -c "[ $rc -eq 0 ] && echo '$out' | grep -q a.txt"

run "$IMDR" check "$repo"
if [ $rc -eq 1 ] && names "$big_snap" && names "$big_index" && [ "$rss" -lt $MAX_KB ]; then
	pass "check names both 3 GiB objects and their size (rc 1, $rss KB)"
else
	fail "check: rc=$rc rss=$rss out=$out"
fi
run "$IMDR" check "$repo" --read-data
if [ $rc -eq 1 ] && names "$big_index" && [ "$rss" -lt $MAX_KB ]; then
	pass "check --read-data too ($rss KB)"
else
	fail "check --read-data: rc=$rc rss=$rss out=$out"
fi

printf 'more\n' >"$src/c.txt"
run "$IMDR" backup "$repo" "$src" --quiet
if [ $rc -eq 0 ] && names "$big_index" && [ "$rss" -lt $MAX_KB ]; then
	pass "backup goes on past the 3 GiB index object, naming it ($rss KB)"
else
	fail "backup: rc=$rc rss=$rss out=$out"
fi

# a 3 GiB pack: check names it without reading it
big_pack=data/ef/$(printf 'ef%.0s' $(seq 32))
mkdir -p "$repo/data/ef" && truncate -s 3G "$repo/$big_pack"
run "$IMDR" check "$repo" --read-data
if [ $rc -eq 1 ] && names "$big_pack" && [ "$rss" -lt $MAX_KB ]; then
	pass "check --read-data names a 3 GiB pack without reading it ($rss KB)"
else
	fail "3 GiB pack: rc=$rc rss=$rss out=$out"
fi
run "$IMDR" backup "$repo" "$src" --quiet
if [ $rc -eq 0 ] && [[ "$out" == *"$big_pack"* ]] && [ "$rss" -lt $MAX_KB ]; then
	pass "backup ignores the 3 GiB unindexed pack, naming it ($rss KB)"
else
	fail "backup with a 3 GiB pack: rc=$rc rss=$rss out=$out"
fi
rm -f "$repo/$big_pack"

# a 3 GiB key slot and a 3 GiB lock: the repository still opens
truncate -s 3G "$repo/keys/ffffffffffffffff" "$repo/locks/$(printf 'ee%.0s' $(seq 16))"
run "$IMDR" backup "$repo" "$src" --quiet
if [ $rc -eq 0 ] && [ "$rss" -lt $MAX_KB ]; then
	pass "a 3 GiB key slot and lock: the repository opens and backs up ($rss KB)"
else
	fail "key slot and lock: rc=$rc rss=$rss out=$out"
fi
rm -f "$repo/keys/ffffffffffffffff" "$repo/locks/$(printf 'ee%.0s' $(seq 16))"

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "mount over hostile objects: no /dev/fuse"; exit 0; fi
mnt=$T/mnt
mkdir -p "$mnt"
on_exit "fusermount3 -u '$mnt'"
/usr/bin/time -f %M -o "$T/mrss" "$MOUNT_IMDR" "$repo" "$mnt" -f 2>"$T/mount.log" &
mount_wait "$mnt" || { fail "mount"; exit 1; }
n=$(ls "$mnt/snapshots" | wc -l)
check "the mount lists every snapshot, the 3 GiB one too ($n)" test "$n" -ge 3
out=$(ls "$mnt/latest/" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"Input/output error"* ]]; then pass "latest (the 3 GiB object) is EIO"; else fail "latest on the mount: rc=$rc $out"; fi
first=$(ls "$mnt/snapshots" | head -1)
check "the good snapshot reads right through the mount" cmp "$mnt/snapshots/$first/b.bin" "$src/b.bin"
ls "$mnt/sources/" >/dev/null 2>&1
fusermount3 -u "$mnt"
wait
rss=$(tail -n 1 "$T/mrss")
if [ "$(grep -c "$big_snap.*$SIZE bytes" "$T/mount.log")" = 1 ] && [ "$rss" -lt $MAX_KB ]; then
	pass "the mount log names the 3 GiB object once; peak RSS $rss KB"
else
	fail "mount: rss=$rss log=$(cat "$T/mount.log")"
fi
exit 0
