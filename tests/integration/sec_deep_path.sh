#!/bin/bash
# Issue #11, item 5: a tar holding one path 50,000 folders deep (100 KB
# long). backup builds it without recursion, check walks it, restore makes
# it with a few opens a level (not one per level per level) in memory
# linear in depth, and find reaches the file through the mount. Peak RSS of
# each step is measured (/usr/bin/time). Paths are never printed here.
. "$(dirname "$0")/lib.sh"

DEPTH=50000
MAX_KB=200000
# ASan keeps freed memory in quarantine and shadows the rest
ldd "$IMDR" 2>/dev/null | grep -q libasan && MAX_KB=1000000
if ! command -v /usr/bin/time >/dev/null; then skip "deep path: no /usr/bin/time (scripts/deps.sh test)"; exit 0; fi

repo=$T/repo
python3 - "$T/deep.tar" "$DEPTH" <<'PY' || { fail "making the tar"; exit 1; }
import io, sys, tarfile
depth = int(sys.argv[2])
data = b"fifty thousand folders down\n"
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("d/" * depth + "leaf.txt")
    ti.size, ti.mtime = len(data), 1700000000
    t.addfile(ti, io.BytesIO(data))
PY
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }

# timed NAME CMD...: status in $rc, peak RSS (KB) in $rss, seconds in $secs
timed() {
	local name=$1; shift
	/usr/bin/time -f "%M %e" -o "$T/time.$name" "$@" >"$T/out.$name" 2>&1
	rc=$?
	read -r rss secs < <(tail -n 1 "$T/time.$name")
}

timed backup "$IMDR" backup "$repo" "$T/deep.tar" --quiet
if [ $rc -eq 0 ] && [ "$rss" -lt $MAX_KB ]; then
	pass "backup of a $DEPTH-level path ($secs s, $rss KB)"
else
	fail "backup: rc=$rc rss=$rss $(head -c 300 "$T/out.backup")"
	exit 0
fi
timed snapshots "$IMDR" snapshots "$repo" --json
check "the snapshot counts $DEPTH folders" grep -q "\"dirs\":$DEPTH," "$T/out.snapshots"

timed check "$IMDR" check "$repo"
if [ $rc -eq 0 ] && [ "$rss" -lt $MAX_KB ]; then pass "check walks it ($secs s, $rss KB)"; else fail "check: rc=$rc $(head -c 300 "$T/out.check")"; fi

# restore, on tmpfs when there is one: deep trees are slow to make and
# remove on a journalled disk, and the test is of imdr, not of ext4
base=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	base=$(mktemp -d /dev/shm/imdr-deep.XXXXXX) && on_exit "rm -rf '$base'"
fi
timed restore "$IMDR" restore "$repo" latest "$base/out" --quiet
# one walk: a line a folder, then the file's text
found=$(cd "$base/out" && find . \( -type d -printf 'd\n' \) -o \( -name leaf.txt -execdir cat {} \; \) 2>/dev/null)
levels=$(grep -c '^d$' <<<"$found")
if [ $rc -eq 0 ] && [[ "$found" == *"fifty thousand folders down"* ]] && [ "$levels" = $((DEPTH + 1)) ] && [ "$rss" -lt $MAX_KB ]; then
	pass "restore makes all $DEPTH levels and the file ($secs s, $rss KB)"
else
	fail "restore: rc=$rc levels=$levels rss=$rss $(head -c 300 "$T/out.restore")"
fi
rm -rf "$base/out"
# the cost a level stays flat: a tenth of the depth takes about a tenth of
# the time (making each folder from the target down would take a hundredth)
python3 - "$T/small.tar" $((DEPTH / 10)) <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    ti = tarfile.TarInfo("d/" * int(sys.argv[2]) + "leaf.txt")
    t.addfile(ti, io.BytesIO(b""))
PY
"$IMDR" backup "$repo" "$T/small.tar" --quiet --source small --time 2020-01-01T00:00:00Z
timed small "$IMDR" restore "$repo" latest "$base/small" --quiet --source small
big=$(tail -n 1 "$T/time.restore" | cut -d' ' -f2)
ratio=$(python3 -c "print(round($big / max($secs, 0.05), 1))")
if [ $rc -eq 0 ] && python3 -c "import sys; sys.exit(0 if $ratio < 30 else 1)"; then
	pass "restore time grows with depth, not its square: $((DEPTH / 10)) levels $secs s, $DEPTH levels $big s (x$ratio)"
else
	fail "restore time by depth: rc=$rc $((DEPTH / 10)) levels $secs s, $DEPTH levels x$ratio"
fi
rm -rf "$base/small"

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "deep path in the mount: no /dev/fuse"; exit 0; fi
mnt=$T/mnt
mkdir -p "$mnt"
on_exit "fusermount3 -u '$mnt'"
"$MOUNT_IMDR" "$repo" "$mnt" || { fail "mount"; exit 1; }
t0=$(date +%s)
n=$(find "$mnt/latest/" -name leaf.txt -execdir cat {} \; 2>/dev/null)
t1=$(date +%s)
if [ "$n" = "fifty thousand folders down" ]; then pass "find reaches and reads the file through the mount ($((t1 - t0)) s)"; else fail "find in the mount: $(head -c 200 <<<"$n")"; fi
rss=$(ps -o rss= -C mount.imdr | sort -n | tail -1)
check "the mount stays small after the walk ($rss KB)" test "$rss" -lt $MAX_KB
fusermount3 -u "$mnt"
exit 0
