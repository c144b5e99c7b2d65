# lib.sh — sourced by every integration test. Gives a scratch folder $T that
# is removed on exit, pass/fail/skip reporters, and helpers. Cleanup hooks
# added with `on_exit CMD` run in reverse order (unmounts first).
set -u
T=$(mktemp -d /tmp/imdr-it.XXXXXX)
_exit_cmds=()
on_exit() { _exit_cmds+=("$*"); }
_cleanup() {
	local i
	for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do eval "${_exit_cmds[$i]}" >/dev/null 2>&1 || true; done
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
# check NAME CMD...: PASS when CMD succeeds, else FAIL with its output.
check() {
	local name=$1; shift
	local out
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; echo "$out" | tail -n 20 | sed 's/^/      /'; fi
}
# check_fails NAME CMD...: PASS when CMD fails (non-zero).
check_fails() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then fail "$name (succeeded but should fail)"; else pass "$name"; fi
}

# A passphrase file the tests share; never a passphrase in argv.
export IMDR_PASSWORD_FILE="$T/pass"
printf 'correct horse battery staple\n' >"$IMDR_PASSWORD_FILE"
chmod 600 "$IMDR_PASSWORD_FILE"
# Cheap scrypt for tests (the default is deliberately slow).
export IMDR_TEST_FAST_KDF=1
export XDG_CACHE_HOME="$T/cache"

# mount_wait MOUNTPOINT: poll until a FUSE mount is up (5 s).
mount_wait() {
	local i
	for i in $(seq 1 100); do
		mountpoint -q "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
have_fuse() { [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; }
