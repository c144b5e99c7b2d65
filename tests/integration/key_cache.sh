#!/bin/bash
# --key-cache / IMDR_KEY_CACHE: a second command within the window takes the
# master key from the kernel keyring instead of deriving it (the debug line
# of repo_open says which) and finds the same messages; without the option
# nothing is cached; a key cached for one repository never opens another
# (not even one planted under the other's name); the entry expires with its
# timeout; `imdr key forget` drops it; the entry is readable by its session
# only. Runs in a session keyring of its own (so it neither sees nor leaves
# keys in the caller's); where the kernel keyring is not available the
# option warns and works uncached, and the rest is skipped.
if [ -z "${IMDR_KC_SESSION:-}" ]; then
	export IMDR_KC_SESSION=1
	# KEYCTL_JOIN_SESSION_KEYRING (1), anonymous: a new session keyring
	# for this script and every command it runs, gone when they are
	exec python3 -c 'import ctypes, os, sys
ctypes.CDLL(None, use_errno=True).syscall(250, 1, None)
os.execvp(sys.argv[1], sys.argv[1:])' bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

# kc.py: the keyring as the tests see it (raw keyctl calls: keyutils' own
# command is not installed)
cat >"$T/kc.py" <<'PY'
import ctypes, hashlib, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_add_key, SYS_keyctl = 248, 250
SESSION = -3
def keyctl(*a):
    return libc.syscall(SYS_keyctl, *[ctypes.c_long(x) if isinstance(x, int) else x for x in a])
def handle(repo):
    return "imdr:" + hashlib.sha256(open(repo + "/config", "rb").read()).hexdigest()[:32]
def find(desc):
    ring = keyctl(0, SESSION, 0)                      # KEYCTL_GET_KEYRING_ID
    return keyctl(10, ring, b"user", desc.encode(), 0)  # KEYCTL_SEARCH
cmd = sys.argv[1]
if cmd == "available":
    ring = keyctl(0, SESSION, 0)
    k = libc.syscall(SYS_add_key, b"user", b"imdr-test-probe", b"x", 1, ctypes.c_long(ring)) if ring >= 0 else -1
    if k >= 0:
        keyctl(21, k)                                   # KEYCTL_INVALIDATE
    sys.exit(0 if k >= 0 else 1)
elif cmd == "has":            # has REPO: an entry for it is there
    sys.exit(0 if find(handle(sys.argv[2])) >= 0 else 1)
elif cmd == "count":          # how many imdr entries the session keyring holds
    ring = keyctl(0, SESSION, 0)
    ids = (ctypes.c_int32 * 1024)()
    got = keyctl(11, ring, ids, ctypes.sizeof(ids)) // 4  # KEYCTL_READ: its keys
    n = 0
    for k in ids[:max(got, 0)]:
        d = ctypes.create_string_buffer(512)
        if keyctl(6, k, d, 512) > 0:                    # KEYCTL_DESCRIBE
            f = d.value.decode().split(";", 4)
            n += f[0] == "user" and f[4].startswith("imdr:")
    print(n)
elif cmd == "perm":           # the entry's permission mask, hex
    k = find(handle(sys.argv[2]))
    for line in open("/proc/keys"):
        f = line.split()
        if int(f[0], 16) == k:
            print(f[4])
elif cmd == "readonly":       # readonly CMD...: CMD in a session keyring it may not write to
    import os
    ring = keyctl(1, None)                              # KEYCTL_JOIN_SESSION_KEYRING
    keyctl(5, ring, 0x0b010000)                         # KEYCTL_SETPERM: view, read, search
    os.execvp(sys.argv[2], sys.argv[2:])
elif cmd == "plant":          # plant FROM TO: FROM's entry under TO's name
    k = find(handle(sys.argv[2]))
    buf = ctypes.create_string_buffer(4096)
    n = keyctl(11, k, buf, 4096)                        # KEYCTL_READ
    ring = keyctl(0, SESSION, 0)
    r = libc.syscall(SYS_add_key, b"user", handle(sys.argv[3]).encode(), buf, ctypes.c_size_t(n), ctypes.c_long(ring))
    sys.exit(0 if n > 0 and r >= 0 else 1)
PY
KC="python3 $T/kc.py"

S=$TOP/examples/samples
"$IMDR" init "$T/r1" >/dev/null && "$IMDR" backup "$T/r1" "$S/slack-acme.zip" --quiet >/dev/null ||
	{ fail "init and backup r1"; exit 1; }
"$IMDR" init "$T/r2" >/dev/null && "$IMDR" backup "$T/r2" "$S/mattermost-acme" --quiet >/dev/null ||
	{ fail "init and backup r2 (the same passphrase)"; exit 1; }

# how: "keyring" or "derived", from repo_open's debug line
search() {	# search OUTFILE IMDR-ARGS...
	local out=$1; shift
	IMDR_DEBUG=1 "$IMDR" "$@" >"$out" 2>"$out.err"
}
how() {
	if grep -q "open: the key from the kernel keyring" "$1.err"; then echo keyring
	elif grep -q "open: the key derived from the passphrase" "$1.err"; then echo derived
	else echo "unknown: $(grep -v '^imdr: tree' "$1.err" | head -3)"; fi
}

check_fails "--key-cache with a bad duration is refused" "$IMDR" --key-cache 5x search "$T/r1" contract
check_fails "IMDR_KEY_CACHE with a bad duration is refused" env IMDR_KEY_CACHE=soon "$IMDR" search "$T/r1" contract
"$IMDR" --key-cache 5x search "$T/r1" contract 2>"$T/bad.err"
check "a bad duration names itself and what is meant" grep -q "5x is not a duration" "$T/bad.err"

if ! $KC available; then
	search "$T/u" --key-cache 1m search "$T/r1" contract --json
	check "without a kernel keyring --key-cache warns and works uncached" grep -q "key-cache:.*not available" "$T/u.err"
	check "and finds the same messages" test -s "$T/u"
	skip "the kernel keyring is not available here (containers may block keyctl): the rest"
	exit 0
fi

# a keyring that refuses: warned about, and the command works uncached
$KC readonly "$IMDR" --key-cache 1m search "$T/r1" contract --json >"$T/ro" 2>"$T/ro.err"
check "a keyring that refuses the key: --key-cache warns" \
	grep -q "key-cache: the kernel keyring is not available here (adding a key: Permission denied); going on without" "$T/ro.err"
check "and the search still answers" grep -q contract "$T/ro"

search "$T/plain" search "$T/r1" contract --json
check "without --key-cache the key is derived" test "$(how "$T/plain")" = derived
check "without --key-cache nothing is cached" test "$($KC count)" = 0

search "$T/a" --key-cache 1m search "$T/r1" contract --json
check "the first search with --key-cache derives the key" test "$(how "$T/a")" = derived
check "and leaves it in the session keyring" $KC has "$T/r1"
perm=$($KC perm "$T/r1")
check "the entry: the possessor reads it, the user only sees it, nobody else anything ($perm)" \
	test "$perm" = 2f010000
search "$T/b" --key-cache 1m search "$T/r1" contract --json
check "the second search takes the key from the keyring (no KDF)" test "$(how "$T/b")" = keyring
check "and finds the same messages" cmp "$T/plain" "$T/b"
check "(as the uncached search in a refusing keyring did)" cmp "$T/plain" "$T/ro"
check "the answer is not empty" grep -q contract "$T/b"
search "$T/c" search "$T/r1" contract --json
check "a command without the option does not use the cache" test "$(how "$T/c")" = derived
IMDR_KEY_CACHE=1m search "$T/d" search "$T/r1" contract --json
check "IMDR_KEY_CACHE=1m uses it too" test "$(how "$T/d")" = keyring
search "$T/e" --key-cache 1m ls "$T/r1" latest
check "any command uses it (ls)" test "$(how "$T/e")" = keyring
IMDR_PASSWORD_FILE=$T/nonexistent "$IMDR" --key-cache 1m search "$T/r1" contract --json >"$T/nopass" 2>/dev/null
check "a cached key needs no passphrase at all" cmp "$T/plain" "$T/nopass"
check_fails "(without it, that passphrase file is an error)" env IMDR_PASSWORD_FILE="$T/nonexistent" "$IMDR" search "$T/r1" contract

# another repository, the same passphrase
search "$T/r2a" --key-cache 1m search "$T/r2" contract --json
check "another repository does not match r1's entry (its key is derived)" test "$(how "$T/r2a")" = derived
"$IMDR" search "$T/r2" contract --json >"$T/r2plain" 2>/dev/null
check "and it finds its own messages" cmp "$T/r2plain" "$T/r2a"
check "r2 now has an entry of its own" $KC has "$T/r2"
"$IMDR" key forget "$T/r2" >/dev/null
check "r1's key planted under r2's name (a test helper)" $KC plant "$T/r1" "$T/r2"
search "$T/r2b" --key-cache 1m search "$T/r2" contract --json
check "a key cached for another repository never opens it (derived instead)" test "$(how "$T/r2b")" = derived
check "and says it dropped that entry" grep -q "does not open it (dropped)" "$T/r2b.err"
check "and finds r2's messages" cmp "$T/r2plain" "$T/r2b"
search "$T/r2c" --key-cache 1m search "$T/r2" contract --json
check "r2's own key is cached after that" test "$(how "$T/r2c")" = keyring

# forget
out=$("$IMDR" key forget "$T/r1")
check "key forget REPO says it forgot ($out)" test "$out" = "forgot the key cached for $T/r1"
check_fails "and the entry is gone" $KC has "$T/r1"
search "$T/f" --key-cache 1m search "$T/r1" contract --json
check "the next search derives the key again" test "$(how "$T/f")" = derived
out=$("$IMDR" key forget "$T/r1"; "$IMDR" key forget "$T/r1")
check "forgetting twice says there was none" test "$(echo "$out" | tail -1)" = "no key cached for $T/r1"
"$IMDR" --key-cache 1m ls "$T/r1" latest >/dev/null 2>&1
out=$("$IMDR" key forget)
check "key forget (all) drops every imdr entry ($out)" test "$out" = "forgot 2 cached keys"
check "none is left" test "$($KC count)" = 0

# timeout
search "$T/g" --key-cache 2s search "$T/r1" contract --json
check "a 2 s cache is used at once" sh -c "IMDR_DEBUG=1 '$IMDR' --key-cache 2s search '$T/r1' contract 2>&1 >/dev/null | grep -q 'from the kernel keyring'"
sleep 3
search "$T/h" --key-cache 2s search "$T/r1" contract --json
check "after its timeout the key is derived again" test "$(how "$T/h")" = derived
check "and the answer is the same" cmp "$T/plain" "$T/h"

# removing a key slot drops the cached key of the repository
"$IMDR" key add "$T/r1" --new-password-file "$IMDR_PASSWORD_FILE" >/dev/null 2>&1
slot=$("$IMDR" key list "$T/r1" | grep -v "this one" | head -1)
"$IMDR" --key-cache 1m ls "$T/r1" latest >/dev/null 2>&1
check "key remove also forgets the cached key" sh -c "'$IMDR' key remove '$T/r1' '$slot' | grep -q 'forgot the key cached'"
check_fails "(gone)" $KC has "$T/r1"
