#!/bin/bash
# mount.imdr under faults: a damaged chunk is EIO for that file only and is
# logged once; a wrong passphrase or missing repository fails at once and
# leaves no mount; the disk cache survives remounts and is re-authenticated;
# a non-root user can mount; mount(8) finds mount.imdr.
. "$(dirname "$0")/lib.sh"

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "mount tests: no /dev/fuse or no mount.imdr"; exit 0; fi

repo=$T/repo mnt=$T/mnt
mkdir -p "$T/a" "$T/b" "$mnt"
head -c 2000000 /dev/urandom >"$T/a/damaged.bin"
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$IMDR" backup "$repo" "$T/a" --quiet || { fail "backup 1"; exit 1; }
(cd "$repo" && find data -type f | sort) >"$T/packs1"
# the second snapshot holds the first file and its neighbours
cp "$T/a/damaged.bin" "$T/b/"
head -c 2000000 /dev/urandom >"$T/b/neighbour1.bin"
printf 'small neighbour\n' >"$T/b/neighbour2.txt"
"$IMDR" backup "$repo" "$T/b" --quiet || { fail "backup 2"; exit 1; }
# the largest pack of the first backup holds damaged.bin's chunks only
pack=$(cd "$repo" && ls -S $(cat "$T/packs1") | head -1)
python3 - "$repo/$pack" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(1000000); b = f.read(1); f.seek(1000000); f.write(bytes([b[0] ^ 1]))
PY

on_exit "fusermount3 -u '$mnt'"
"$MOUNT_IMDR" "$repo" "$mnt" -f 2>"$T/mount.log" &
mpid=$!
mount_wait "$mnt" || { fail "mount"; exit 1; }
out=$(cat "$mnt/latest/damaged.bin" 2>&1 >/dev/null); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"Input/output error"* ]]; then pass "a file with a damaged chunk gives EIO"; else fail "damaged read: rc=$rc $out"; fi
cat "$mnt/latest/damaged.bin" >/dev/null 2>&1
head -c 100 "$mnt/snapshots/"*/damaged.bin >/dev/null 2>&1
check "a neighbour in the same snapshot reads fine" cmp "$mnt/latest/neighbour1.bin" "$T/b/neighbour1.bin"
check "a small neighbour reads fine" cmp "$mnt/latest/neighbour2.txt" "$T/b/neighbour2.txt"
check "listing still works" test "$(ls "$mnt/latest" | wc -l)" = 3
n=$(grep -c "authentication" "$T/mount.log")
id=$(basename "$pack")
if [ "$n" = 1 ] && grep -q "${id:0:16}" "$T/mount.log"; then pass "the damaged object is logged once, by id"; else fail "log: $n lines: $(cat "$T/mount.log")"; fi
check "stats count the EIO reads" grep -q "^read errors     [1-9]" "$mnt/.imdr/stats"
fusermount3 -u "$mnt"
wait $mpid

# wrong passphrase, missing repository, bad options: fail at once, no mount
printf 'wrong\n' >"$T/wrong"; chmod 600 "$T/wrong"
out=$(timeout 20 "$MOUNT_IMDR" "$repo" "$mnt" -o passfile="$T/wrong" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && ! mountpoint -q "$mnt" && [[ "$out" == *passphrase* ]]; then pass "wrong passphrase: clear error, no mount ($out)"; else fail "wrong passphrase: rc=$rc $out"; fi
out=$(timeout 20 "$MOUNT_IMDR" "$T/nope" "$mnt" 2>&1); rc=$?
if [ $rc -ne 0 ] && ! mountpoint -q "$mnt" && [[ "$out" == *"$T/nope"* ]]; then pass "missing repository: clear error, no mount ($out)"; else fail "missing repo: rc=$rc $out"; fi
out=$("$MOUNT_IMDR" "$repo" "$T/no-such-dir" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *no-such-dir* ]]; then pass "missing mountpoint named"; else fail "missing mountpoint: rc=$rc $out"; fi
check_fails "a bad size option is refused" "$MOUNT_IMDR" "$repo" "$mnt" -o cache_size=lots
check "no stale mount after the failures" sh -c "! mountpoint -q '$mnt'"

# the disk cache: filled on first read, used after a remount, re-checked
"$MOUNT_IMDR" "$repo" "$mnt" -o cache_dir="$T/dc" || fail "mount with cache_dir"
cat "$mnt/latest/neighbour1.bin" >/dev/null
fusermount3 -u "$mnt"
check "the disk cache holds files, mode 0600" sh -c "[ \$(find '$T/dc' -type f -perm 0600 | wc -l) -gt 0 ] && [ \$(find '$T/dc' -type f ! -perm 0600 | wc -l) -eq 0 ]"
"$MOUNT_IMDR" "$repo" "$mnt" -o cache_dir="$T/dc" || fail "remount with cache_dir"
check "after a remount, reads are right" cmp "$mnt/latest/neighbour1.bin" "$T/b/neighbour1.bin"
check "and come from the disk cache" grep -q "^disk cache      [1-9][0-9]* hits" "$mnt/.imdr/stats"
fusermount3 -u "$mnt"
# damage every cached blob: the mount notices, refetches, reads right
for f in $(find "$T/dc" -type f -size +100k); do
	python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(500); b=f.read(1); f.seek(500); f.write(bytes([b[0]^4]))" "$f"
done
"$MOUNT_IMDR" "$repo" "$mnt" -o cache_dir="$T/dc" || fail "remount over a damaged cache"
check "a damaged disk cache is not trusted" cmp "$mnt/latest/neighbour1.bin" "$T/b/neighbour1.bin"
fusermount3 -u "$mnt"

# a non-root user mounts with fusermount3
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	u=$T/user; mkdir -p "$u/mnt"
	cp -a "$repo" "$u/repo"; cp "$IMDR_PASSWORD_FILE" "$u/pass"
	chown -R nobody:nogroup "$u"; chmod 755 "$T"
	# Debian's udev makes /dev/fuse 0666; some containers leave it 0600
	fmode=$(stat -c %a /dev/fuse)
	if [ "$fmode" != 666 ]; then chmod 666 /dev/fuse; on_exit "chmod $fmode /dev/fuse"; fi
	on_exit "fusermount3 -u '$u/mnt'"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env IMDR_PASSWORD_FILE="$u/pass" XDG_CACHE_HOME="$u" \
		"$MOUNT_IMDR" "$u/repo" "$u/mnt" 2>&1); rc=$?
	if [ $rc -eq 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups cmp "$u/mnt/latest/neighbour1.bin" "$T/b/neighbour1.bin"; then
		pass "a non-root user mounts and reads"
	else
		fail "non-root mount: rc=$rc $out"
	fi
	grep -q " $u/mnt fuse.imdr .*user_id=65534" /proc/mounts && pass "the mount belongs to that user" || fail "owner of the user mount"
	setpriv --reuid=nobody --regid=nogroup --clear-groups fusermount3 -u "$u/mnt" && pass "the user unmounts it" || fail "user unmount"
else
	skip "non-root mount (not root or no setpriv)"
fi

# mount -t imdr: mount(8) runs /sbin/mount.imdr SOURCE DIR -o OPTS
if [ "$(id -u)" = 0 ] && [ ! -e /sbin/mount.imdr ] && command -v mount >/dev/null; then
	ln -s "$MOUNT_IMDR" /sbin/mount.imdr && on_exit "rm -f /sbin/mount.imdr"
	out=$(mount -t imdr "$repo" "$mnt" -o "noauto,nofail,passfile=$IMDR_PASSWORD_FILE" 2>&1); rc=$?
	if [ $rc -eq 0 ] && cmp -s "$mnt/latest/neighbour1.bin" "$T/b/neighbour1.bin"; then pass "mount -t imdr with fstab-style options"; else fail "mount -t imdr: rc=$rc $out"; fi
	umount "$mnt" && pass "umount unmounts" || fail "umount"
	rm -f /sbin/mount.imdr
else
	skip "mount -t imdr (not root, or /sbin/mount.imdr already installed)"
fi

# make install puts mount.imdr where mount(8) looks
make -s -C "$TOP" install DESTDIR="$T/inst" >/dev/null 2>&1
check "make install puts mount.imdr in /sbin and imdr in bin" \
	test -x "$T/inst/sbin/mount.imdr" -a -x "$T/inst/usr/local/bin/imdr"
exit 0
