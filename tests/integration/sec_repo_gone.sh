#!/bin/bash
# Issue #11, item 9: the repository disappears under a mount (moved away,
# then deleted). The mount keeps listing the snapshots it knows, serves
# what it has read, fails reads of anything else with EIO, and says why in
# its log (foreground, stderr) once; when the repository is back, reads
# work again and the log says the listing came back.
. "$(dirname "$0")/lib.sh"

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "repository gone under a mount: no /dev/fuse"; exit 0; fi

repo=$T/repo src=$T/src mnt=$T/mnt
mkdir -p "$src" "$mnt"
head -c 200000 /dev/urandom >"$src/read-before.bin"
head -c 200000 /dev/urandom >"$src/unread-mv.bin"
head -c 200000 /dev/urandom >"$src/unread-rm.bin"
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$IMDR" backup "$repo" "$src" --quiet --time 2026-11-20T10:00:00Z &&
	"$IMDR" backup "$repo" "$src" --quiet --time 2026-11-21T10:00:00Z || { fail "backups"; exit 1; }

on_exit "fusermount3 -u '$mnt'"
"$MOUNT_IMDR" "$repo" "$mnt" -f -o refresh=1 2>"$T/mount.log" &
mount_wait "$mnt" || { fail "mount"; exit 1; }
snaps=$(ls "$mnt/snapshots")
cmp -s "$mnt/latest/read-before.bin" "$src/read-before.bin" || fail "first read"

# wait_refresh: past the refresh interval, then make the mount list again
wait_refresh() { sleep 1.3; ls "$mnt/snapshots" >/dev/null 2>&1; ls "$mnt/" >/dev/null 2>&1; }

for how in mv rm; do
	if [ $how = mv ]; then mv "$repo" "$T/away"; else cp -a "$T/away" "$T/copy" && mv "$T/away" "$repo" && rm -rf "$repo"; fi
	wait_refresh
	check "repository ${how}'d away: snapshots/ still lists both" test "$(ls "$mnt/snapshots")" = "$snaps"
	check "repository ${how}'d away: latest still points somewhere" test -n "$(readlink "$mnt/latest")"
	# the kernel may have let the file's pages go (memory pressure, DAMON
	# reclaim): make it so, then the daemon must still hold what it served
	[ -w /proc/sys/vm/drop_caches ] && echo 1 >/proc/sys/vm/drop_caches
	check "repository ${how}'d away: what was read is still served" cmp "$mnt/latest/read-before.bin" "$src/read-before.bin"
	out=$(cat "$mnt/snapshots/$(head -1 <<<"$snaps")/unread-$how.bin" 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [[ "$out" == *"Input/output error"* ]]; then pass "repository ${how}'d away: an unread file is EIO"; else fail "unread after $how: rc=$rc $out"; fi
	if [ $how = mv ]; then mv "$T/away" "$repo"; else mv "$T/copy" "$repo" && cp -a "$repo" "$T/away"; fi
	wait_refresh
	check "repository back after $how: the unread file reads right" \
		cmp "$mnt/snapshots/$(head -1 <<<"$snaps")/unread-$how.bin" "$src/unread-$how.bin"
	[ $how = mv ] && cp -a "$repo" "$T/away"
done
fusermount3 -u "$mnt"
wait
n=$(grep -c "cannot list snapshots" "$T/mount.log")
if [ "$n" = 2 ] && grep -q "is gone (no config object)" "$T/mount.log" && grep -q "not found in $repo" "$T/mount.log"; then
	pass "the log says once each time that the repository is gone, and names the missing object"
else
	fail "log ($n 'cannot list' lines): $(cat "$T/mount.log")"
fi
check "the log says when the snapshots could be listed again" grep -q "snapshots can be listed again" "$T/mount.log"
exit 0
