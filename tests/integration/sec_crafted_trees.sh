#!/bin/bash
# Issue #11, item 5: trees that lie, crafted with the key (tests/tools/craft,
# tests/unit/craft.h): a folder that is its own node, and one blob named by
# files claiming other lengths. check reports them; ls, cat, restore and the
# mount fail cleanly (EIO in the mount), never loop, and never return a
# byte past the blob, whichever file is read first.
. "$(dirname "$0")/lib.sh"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
loop=$("$TOOLS/craft" "$repo" selfloop) && raw=$("$TOOLS/craft" "$repo" rawlen) || { fail "craft"; exit 1; }

out=$("$IMDR" check "$repo" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"${loop:0:8}: tree node"*"does not match its id"* ]]; then
	pass "check reports the folder that contains itself"
else
	fail "check, self-loop: rc=$rc $out"
fi
n=$(grep -c "${raw:0:8}: .*\.bin: chunk 0 claims" <<<"$out")
if [ "$n" = 3 ] && [[ "$out" == *"long.bin: chunk 0 claims 104096 bytes"*"its blob has 100000"* ]]; then
	pass "check reports each reference whose length disagrees with its blob"
else
	fail "check, lengths: $n lines: $out"
fi

out=$(timeout 20 "$IMDR" ls "$repo" "${loop:0:8}" -R 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"does not match its id"* ]]; then pass "ls -R of the self-loop fails at once, naming the node"; else fail "ls -R self-loop: rc=$rc $out"; fi
out=$(timeout 20 "$IMDR" restore "$repo" "${loop:0:8}" "$T/o1" 2>&1); rc=$?
if [ $rc -eq 1 ] && [ -z "$(ls -A "$T/o1" 2>/dev/null)" ]; then pass "restore of the self-loop fails and makes nothing"; else fail "restore self-loop: rc=$rc $out"; fi

out=$("$IMDR" cat "$repo" "${raw:0:8}" long.bin 2>&1 >"$T/long"); rc=$?
if [ $rc -eq 1 ] && [ ! -s "$T/long" ] && [[ "$out" == *"100000 bytes, expected 104096"* ]]; then
	pass "cat of a file claiming more than its blob fails, no bytes out"
else
	fail "cat long.bin: rc=$rc $(wc -c <"$T/long") bytes $out"
fi
out=$("$IMDR" restore "$repo" "${raw:0:8}" "$T/o2" 2>&1); rc=$?
if [ $rc -eq 1 ] && [ "$(stat -c %s "$T/o2/good.bin")" = 100000 ] && [ "$(ls "$T/o2")" = good.bin ]; then
	pass "restore writes the true file, reports the three others, leaves no part of them"
else
	fail "restore rawlen: rc=$rc $(ls -l "$T/o2") $out"
fi

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "crafted trees in the mount: no /dev/fuse"; exit 0; fi
mnt=$T/mnt
mkdir -p "$mnt"
on_exit "fusermount3 -u '$mnt'"
mount_up() {
	"$MOUNT_IMDR" "$repo" "$mnt" -f 2>>"$T/mount.log" &
	mount_wait "$mnt"
}
mount_up || { fail "mount"; exit 1; }
ldir=$(ls "$mnt/snapshots" | grep -- "-${loop:0:8}") rdir=$(ls "$mnt/snapshots" | grep -- "-${raw:0:8}")
out=$(timeout 20 ls "$mnt/snapshots/$ldir/" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ "$out" == *"Input/output error"* ]]; then pass "the self-loop's folder is EIO in the mount"; else fail "mount self-loop: rc=$rc $out"; fi
out=$(timeout 20 find "$mnt/snapshots/$ldir/" 2>&1 | wc -l)
check "find on it ends at once" test "$out" -le 3
# the true file first (its chunk is cached), then the ones that lie
check "good.bin reads right" test "$(cat "$mnt/snapshots/$rdir/good.bin" | wc -c)" = 100000
for f in long short huge; do
	out=$(cat "$mnt/snapshots/$rdir/$f.bin" 2>&1 >"$T/$f.out"); rc=$?
	if [ $rc -ne 0 ] && [[ "$out" == *"Input/output error"* ]] && [ "$(wc -c <"$T/$f.out")" -le 0 ]; then
		pass "$f.bin after good.bin: EIO, no bytes"
	else
		fail "$f.bin after good.bin: rc=$rc $(wc -c <"$T/$f.out") bytes $out"
	fi
done
out=$(dd if="$mnt/snapshots/$rdir/long.bin" bs=4096 skip=24 count=1 2>&1 >"$T/tail.out"); rc=$?
if [ $rc -ne 0 ] && [ ! -s "$T/tail.out" ]; then pass "long.bin past the blob's end: EIO, nothing from memory past the chunk"; else fail "dd long.bin tail: rc=$rc $(wc -c <"$T/tail.out") $out"; fi
fusermount3 -u "$mnt"; wait
# the other order: a lying reference first must not poison the true one
mount_up || { fail "remount"; exit 1; }
cat "$mnt/snapshots/$rdir/long.bin" >/dev/null 2>&1
check "good.bin after long.bin still reads right" test "$(cat "$mnt/snapshots/$rdir/good.bin" | wc -c)" = 100000
fusermount3 -u "$mnt"; wait
check "the mount log names the lying blob" grep -q "100000 bytes, expected 104096\|expected 104096" "$T/mount.log"
exit 0
