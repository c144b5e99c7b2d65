#!/bin/bash
# mount.imdr: several snapshots each equal to their source, latest and
# at/TIME, single-snapshot mounts, attributes, parallel readers, a backup
# while mounted, SIGTERM, fstab options.
. "$(dirname "$0")/lib.sh"

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "mount tests: no /dev/fuse or no mount.imdr"; exit 0; fi

repo=$T/repo src=$T/src mnt=$T/mnt
mkdir -p "$src/conversations/general--C01/attachments" "$src/empty dir" "$mnt"
printf '{"id":"U1","name":"ann"}\n' >"$src/users.jsonl"
printf 'line %d\n' $(seq 1 2000) >"$src/conversations/general--C01/messages.jsonl"
head -c 3000000 /dev/urandom >"$src/conversations/general--C01/attachments/M1-photo.jpg"
head -c 9000000 /dev/urandom >"$src/big.bin"
: >"$src/empty"
printf 'x' >"$src/odd name with spaces"
printf 'u' >"$src/ünïcödé-файл"
ln -s conversations/general--C01 "$src/link"
chmod 0640 "$src/users.jsonl"
touch -d '2021-03-04 05:06:07' "$src/empty"

"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
# three snapshots, each source state kept for comparison
for n in 1 2 3; do
	"$IMDR" backup "$repo" "$src" --quiet --time "2026-11-2${n}T10:00:00Z" || { fail "backup $n"; exit 1; }
	cp -a "$src" "$T/state$n"
	printf 'change %d\n' "$n" >>"$src/conversations/general--C01/messages.jsonl"
	head -c 100000 /dev/urandom >"$src/new-$n.bin"
done

on_exit "fusermount3 -u '$mnt'"
t0=$(date +%s%N)
"$MOUNT_IMDR" "$repo" "$mnt" || { fail "mount.imdr exits 0 after mounting"; exit 1; }
t1=$(date +%s%N)
pass "mount.imdr daemonizes after mounting ($(( (t1 - t0) / 1000000 )) ms)"
check "the mount shows in /proc/mounts as fuse.imdr with fsname imdr:REPO" \
	grep -q "^imdr:$repo $mnt fuse.imdr ro," /proc/mounts

snaps=$(ls "$mnt/snapshots")
check "snapshots/ lists three snapshots by time" \
	test "$snaps" = "$(printf '2026-11-21T10:00:00Z\n2026-11-22T10:00:00Z\n2026-11-23T10:00:00Z')"
n=1
for s in $snaps; do
	check "snapshot $n equals its source (diff -r)" diff -r --no-dereference "$mnt/snapshots/$s" "$T/state$n"
	n=$((n + 1))
done
check "latest is a symlink to the newest snapshot" \
	test "$(readlink "$mnt/latest")" = "snapshots/2026-11-23T10:00:00Z"
check "latest/ equals the newest source" diff -r --no-dereference "$mnt/latest/" "$T/state3"
check "at/2026-11-22T12:00 is the snapshot of the 22nd" \
	diff -r --no-dereference "$mnt/at/2026-11-22T12:00/" "$T/state2"
check "at/2026-11-22T10:00:00Z (exact time) is that snapshot" \
	diff -r --no-dereference "$mnt/at/2026-11-22T10:00:00Z/" "$T/state2"
check "at/2026-11-23 (a date) means its end: the 23rd" \
	diff -r --no-dereference "$mnt/at/2026-11-23/" "$T/state3"
out=$(ls "$mnt/at/2026-11-20T23:59" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"No such file"* ]]; then pass "at/ before the first snapshot is ENOENT"; else fail "at/ before first: rc=$rc $out"; fi
check_fails "at/garbage is not a time" ls "$mnt/at/not-a-time"

# attributes: exact sizes, modes, mtimes, symlinks, nlink, stable inodes
f=$mnt/latest/users.jsonl
check "size, mode and mtime are exact" test "$(stat -c '%s %a %Y' "$f")" = "$(stat -c '%s %a %Y' "$T/state3/users.jsonl")"
check "an old mtime survives" test "$(stat -c %Y "$mnt/latest/empty")" = "$(stat -c %Y "$T/state3/empty")"
check "readlink of a symlink" test "$(readlink "$mnt/latest/link")" = "conversations/general--C01"
check "directory nlink counts subdirectories" test "$(stat -c %h "$mnt/latest/conversations/general--C01")" = 3
ino1=$(stat -c %i "$mnt/latest/big.bin")
ino2=$(stat -c %i "$mnt/snapshots/2026-11-23T10:00:00Z/big.bin")
check "an inode number is the same through latest and snapshots/" test "$ino1" = "$ino2"
check "statfs answers (df)" df "$mnt"
check_fails "writing is refused" sh -c "echo x >'$mnt/latest/new-file'"
check "stats file reports caches and the backend" grep -q "^chunk cache .* hits" "$mnt/.imdr/stats"

# 8 parallel readers, of different and the same files
want=$(cd "$T/state3" && sha256sum big.bin conversations/general--C01/attachments/M1-photo.jpg conversations/general--C01/messages.jsonl | awk '{print $1}' | sort)
for k in 1 2 3 4 5 6 7 8; do
	case $((k % 3)) in
	0) p=big.bin ;; 1) p=conversations/general--C01/attachments/M1-photo.jpg ;; *) p=conversations/general--C01/messages.jsonl ;;
	esac
	sha256sum "$mnt/latest/$p" >"$T/par$k" &
done
wait
got=$(cat "$T"/par? | awk '{print $1}' | sort -u)
check "8 parallel cat of different and same files read correct bytes" test "$got" = "$want"

# random-offset reads match the source
python3 - "$mnt/latest/big.bin" "$T/state3/big.bin" <<'PY' && pass "random-offset reads match" || fail "random-offset reads"
import random, sys
a, b = open(sys.argv[1], 'rb'), open(sys.argv[2], 'rb')
r = random.Random(7)
size = 9000000
for _ in range(300):
    off = r.randrange(size); n = r.randrange(1, 300000)
    a.seek(off); b.seek(off)
    if a.read(n) != b.read(n): sys.exit(1)
PY
fusermount3 -u "$mnt"

# a backup while mounted appears within the refresh interval
"$MOUNT_IMDR" "$repo" "$mnt" -o refresh=1 || fail "remount with refresh=1"
ls "$mnt/latest/" >/dev/null
"$IMDR" backup "$repo" "$src" --quiet --time "2026-11-24T10:00:00Z"
sleep 1.2
check "a backup made while mounted shows up in snapshots/" test -d "$mnt/snapshots/2026-11-24T10:00:00Z"
check "latest follows the new backup" diff -r --no-dereference "$mnt/latest/" "$src"
fusermount3 -u "$mnt"

# one snapshot at the root
"$MOUNT_IMDR" "$repo" "$mnt" -o snapshot=latest || fail "mount -o snapshot=latest"
check "-o snapshot=latest mounts the newest at the root" diff -r --no-dereference "$mnt/" "$src"
fusermount3 -u "$mnt"
id=$("$IMDR" snapshots "$repo" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])')
"$MOUNT_IMDR" "$repo" "$mnt" -o "snapshot=$id" || fail "mount -o snapshot=ID"
check "-o snapshot=ID mounts that snapshot" diff -r --no-dereference "$mnt/" "$T/state1"
fusermount3 -u "$mnt"
"$MOUNT_IMDR" "$repo" "$mnt" -o at=2026-11-22T23:00 || fail "mount -o at="
check "-o at=TIME mounts the snapshot at or before it" diff -r --no-dereference "$mnt/" "$T/state2"
fusermount3 -u "$mnt"
out=$("$MOUNT_IMDR" "$repo" "$mnt" -o at=2001-01-01 2>&1); rc=$?
if [ $rc -ne 0 ] && ! mountpoint -q "$mnt" && [ -n "$out" ]; then pass "-o at= before the first snapshot fails clearly ($out)"; else fail "at= before first: rc=$rc $out"; fi

# fstab words are accepted and dropped
check "fstab options (defaults,noauto,_netdev,nofail,user,x-systemd.automount,rw) accepted" \
	"$MOUNT_IMDR" "$repo" "$mnt" -o defaults,noauto,_netdev,nofail,user,x-systemd.automount,rw -s -n
check "mounted read-only whatever fstab says" grep -q " $mnt fuse.imdr ro," /proc/mounts
fusermount3 -u "$mnt"

# SIGTERM unmounts cleanly
"$MOUNT_IMDR" "$repo" "$mnt" -f &
pid=$!
mount_wait "$mnt"
ls "$mnt/latest" >/dev/null
kill -TERM $pid
wait $pid; rc=$?
if [ $rc -eq 0 ] && ! mountpoint -q "$mnt"; then pass "SIGTERM unmounts and exits 0"; else fail "SIGTERM: rc=$rc"; fusermount3 -u "$mnt" 2>/dev/null; fi
exit 0
