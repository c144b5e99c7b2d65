#!/bin/bash
# Issue #11, item 8: key material stays out of core dumps. A core of a
# running mount.imdr (gcore, which honours MADV_DONTDUMP as the kernel
# does) holds none of the master key's three parts, the passphrase-derived
# key of its slot, or the passphrase; it does hold the plaintext the mount
# just read (so the core covers the heap: the test can see what is there).
# The programs are non-dumpable: a process of the same user cannot read
# their /proc/PID/ files. (A core taken while a thread is inside AES holds
# round keys in that thread's registers: that is what non-dumpable is for.)
. "$(dirname "$0")/lib.sh"

if ! command -v gcore >/dev/null; then skip "core dump test: no gcore (gdb; scripts/deps.sh test)"; exit 0; fi
if ldd "$IMDR" 2>/dev/null | grep -q libasan; then skip "core dump test: an ASan build (its core would be tens of GB)"; exit 0; fi
# Under ASan the process maps terabytes of shadow memory, and gcore writes
# a core of tens of GB (one filled this machine's disk): test the real build.
case ${BUILD:-build} in *san*) skip "core dump test: not under a sanitizer build (its core would be tens of GB)"; exit 0 ;; esac

repo=$T/repo src=$T/src mnt=$T/mnt
mkdir -p "$src" "$mnt"
marker="plaintext-marker-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
{ printf '%s\n' "$marker"; head -c 100000 /dev/urandom | od -An -tx1; } >"$src/secret.txt"
"$IMDR" init "$repo" >/dev/null && "$IMDR" backup "$repo" "$src" --quiet || { fail "setup"; exit 1; }
"$TOOLS/keyinfo" "$repo" >"$T/keys" || { fail "keyinfo"; exit 1; }
check "keyinfo gives the master key and the slot's derived key" test "$(wc -l <"$T/keys")" -eq 4

# find_in_core CORE: the names of the secrets found in it, one a line
find_in_core() {
	python3 - "$1" "$T/keys" "$IMDR_PASSWORD_FILE" <<'PY'
import mmap, sys
core, keys, passfile = sys.argv[1:]
needles = {}
for line in open(keys):
    label, hexkey = line.rsplit(" ", 1)
    b = bytes.fromhex(hexkey.strip())
    needles[label] = b
    # AES-256 round keys start with the key itself; a half is enough to count
    needles[label + " (first 16 bytes)"] = b[:16]
    needles[label + " (last 16 bytes)"] = b[16:]
    # HMAC keys its hash with key^0x36.. and key^0x5c..: as good as the key
    needles[label + " ^ ipad"] = bytes(x ^ 0x36 for x in b)
    needles[label + " ^ opad"] = bytes(x ^ 0x5c for x in b)
needles["passphrase"] = open(passfile, "rb").read().rstrip(b"\n")
with open(core, "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    for label, b in needles.items():
        if m.find(b) >= 0:
            print(label)
PY
}

if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	on_exit "fusermount3 -u '$mnt'"
	"$MOUNT_IMDR" "$repo" "$mnt" || { fail "mount"; exit 1; }
	pid=$(pgrep -n -f "mount.imdr $repo $mnt")
	cmp -s "$mnt/latest/secret.txt" "$src/secret.txt" || fail "read through the mount"
	sleep 0.3	# read-ahead done: the mount is idle, as a crash usually finds it
	# never a core larger than the process's resident memory allows for
	vm=$(awk '/^VmSize:/ { print $2 }' "/proc/$pid/status")
	if [ "${vm:-0}" -gt 4000000 ]; then skip "core of mount.imdr: $vm KB mapped, too large to dump here"; exit 0; fi
	gcore -o "$T/core" "$pid" >"$T/gcore.log" 2>&1
	core=$T/core.$pid
	if [ ! -s "$core" ]; then
		fail "gcore of mount.imdr made no core: $(tail -3 "$T/gcore.log")"
	else
		if grep -q -a "$marker" "$core"; then
			pass "the core holds the plaintext just read (it covers the heap)"
		else
			fail "the core lacks the plaintext the mount read: the test cannot see the heap"
		fi
		found=$(find_in_core "$core")
		if [ -z "$found" ]; then
			pass "a core of the running mount holds no key, derived key or passphrase ($(du -k "$core" | cut -f1) KB core)"
		else
			fail "the core of mount.imdr holds: $(echo $found)"
		fi
		check "the key pages are locked (lo) and left out of dumps (dd)" \
			sh -c "grep '^VmFlags:' /proc/$pid/smaps | grep ' lo ' | grep -q ' dd'"
	fi
	rm -f "$core"
	fusermount3 -u "$mnt"
else
	skip "core of mount.imdr: no /dev/fuse"
fi

# non-dumpable: another process of the same user cannot read /proc/PID of
# imdr (here, one waiting for its passphrase from a slow command)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	cp "$IMDR_PASSWORD_FILE" "$T/pass2" && chown nobody "$T/pass2"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env IMDR_PASSWORD_COMMAND="sleep 2; cat $T/pass2" \
		IMDR_PASSWORD_FILE= "$IMDR" snapshots "$repo" >/dev/null 2>&1 &
	ipid=$!
	sleep 0.5
	owner=$(stat -c %u "/proc/$ipid/environ" 2>/dev/null)
	if [ "$owner" = 0 ] && ! setpriv --reuid=nobody --regid=nogroup --clear-groups cat "/proc/$ipid/environ" >/dev/null 2>&1; then
		pass "imdr run by nobody is non-dumpable: nobody cannot read its /proc/PID/environ"
	else
		fail "imdr is dumpable: /proc/$ipid/environ owned by $owner"
	fi
	# the control: an ordinary process of nobody is readable by nobody
	setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 2 &
	spid=$!
	sleep 0.2
	check "(control) nobody reads the /proc/PID/environ of its own ordinary process" \
		sh -c "setpriv --reuid=nobody --regid=nogroup --clear-groups cat /proc/$spid/environ >/dev/null"
	wait
else
	skip "non-dumpable check: not root or no setpriv"
fi
exit 0
