#!/bin/bash
# Wrong passphrase, missing repository, unreadable files, full disk: one
# clear line, exit status 1, nothing half-committed.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src"
printf 'a\n' >"$src/a.txt"
"$IMDR" init "$T/repo" >/dev/null || { fail "setup"; exit 1; }

printf 'not the passphrase\n' >"$T/wrong"; chmod 600 "$T/wrong"
out=$("$IMDR" snapshots "$T/repo" --password-file "$T/wrong" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"wrong passphrase"* ]] && [ "$(echo "$out" | wc -l)" -eq 1 ]; then pass "wrong passphrase: one line, exit 1"; else fail "wrong passphrase: rc=$rc out=$out"; fi

out=$(IMDR_PASSWORD_FILE= IMDR_PASSWORD_COMMAND="printf 'correct horse battery staple'" "$IMDR" snapshots "$T/repo" 2>&1); rc=$?
if [ $rc -eq 0 ]; then pass "IMDR_PASSWORD_COMMAND works"; else fail "password command: $out"; fi

out=$("$IMDR" snapshots "$T/nope" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$T/nope"* ]]; then pass "missing repository: named, exit 1"; else fail "missing repo: rc=$rc out=$out"; fi
mkdir "$T/empty"
out=$("$IMDR" snapshots "$T/empty" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"no imdr repository"* ]]; then pass "empty folder: not a repository"; else fail "empty folder: rc=$rc out=$out"; fi

out=$("$IMDR" backup "$T/repo" "$T/no-such-source" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *no-such-source* ]]; then pass "missing source: named, exit 1"; else fail "missing source: rc=$rc out=$out"; fi

out=$("$IMDR" init "$T/repo" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"already exists"* ]]; then pass "init over an existing repository refuses"; else fail "re-init: rc=$rc out=$out"; fi

# Unreadable file (as an unprivileged user, since root reads everything).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	u=$T/user; mkdir -p "$u/src"; printf 'ok\n' >"$u/src/ok.txt"; printf 'secret\n' >"$u/src/locked.txt"
	chmod 000 "$u/src/locked.txt"; cp "$IMDR_PASSWORD_FILE" "$u/pass"
	chown -R nobody "$u"; chmod 755 "$T"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$u" XDG_CACHE_HOME="$u/cache" IMDR_PASSWORD_FILE="$u/pass" IMDR_TEST_FAST_KDF=1 \
		sh -c "'$IMDR' init '$u/repo' >/dev/null && '$IMDR' backup '$u/repo' '$u/src' --json" 2>&1); rc=$?
	if [ $rc -eq 0 ] && [[ "$out" == *locked.txt* ]] && [[ "$out" == *'"skipped":1'* ]]; then pass "unreadable file is reported, skipped and recorded"; else fail "unreadable file: rc=$rc out=$out"; fi
	lsout=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env IMDR_PASSWORD_FILE="$u/pass" "$IMDR" ls "$u/repo" latest 2>&1)
	if [[ "$lsout" == *ok.txt* ]] && [[ "$lsout" != *locked.txt* ]]; then pass "the unreadable file is not in the snapshot (not even empty)"; else fail "snapshot of unreadable: $lsout"; fi
else
	skip "unreadable file (needs root and setpriv to act as another user)"
fi

# full_disk DIR WHAT BYTES: a backup of BYTES of noise into a repository
# on the small file system at DIR fails whole: exit 1, the reason named,
# no snapshot, no temporary file left, the repository still clean.
full_disk() {
	local d=$1 what=$2 out rc nsnap ntmp
	head -c "$3" /dev/urandom >"$src/big.bin"
	"$IMDR" init "$d/repo" >/dev/null
	out=$("$IMDR" backup "$d/repo" "$src" --quiet 2>&1); rc=$?
	nsnap=$(ls "$d/repo/snapshots" 2>/dev/null | wc -l)
	ntmp=$(find "$d/repo" -name '.tmp-*' | wc -l)
	if [ $rc -eq 1 ] && [[ "$out" == *"No space left"* ]] && [ "$nsnap" -eq 0 ] && [ "$ntmp" -eq 0 ]; then
		pass "full $what: exit 1, named, no snapshot, no temporary file"
	else
		fail "full $what: rc=$rc snaps=$nsnap tmp=$ntmp out=$out"
	fi
	check "repository still checks clean after the full $what" "$IMDR" check "$d/repo" --quiet
	rm -f "$src/big.bin"
}

# Full disk: a 3 MiB tmpfs as the repository (tmpfs refuses O_DIRECT: the
# packs go through the page cache).
if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/small" && mount -t tmpfs -o size=3m tmpfs "$T/small" 2>/dev/null; then
	on_exit "umount '$T/small'"
	full_disk "$T/small" "tmpfs" 8000000
else
	skip "full disk (needs root to mount a small tmpfs)"
fi
# The same on ext4, where packs are written with O_DIRECT: a 12 MiB image
# on a loop device; then a backup that fits completes on it.
if [ "$(id -u)" -eq 0 ] && command -v mkfs.ext4 >/dev/null && truncate -s 12M "$T/e4.img" &&
    mkfs.ext4 -q -F "$T/e4.img" 2>/dev/null && mkdir -p "$T/e4" &&
    mount -o loop "$T/e4.img" "$T/e4" 2>/dev/null; then
	on_exit "umount '$T/e4'"
	full_disk "$T/e4" "ext4 disk (direct writes)" 16000000
	head -c 3000000 /dev/urandom >"$src/big.bin"
	check "a backup that fits then completes on it" "$IMDR" backup "$T/e4/repo" "$src" --quiet
	check "and reads back" "$IMDR" check "$T/e4/repo" --read-data --quiet
	rm -f "$src/big.bin"
else
	skip "full ext4 disk (needs root, mkfs.ext4 and a loop device)"
fi
