#!/bin/bash
# run.sh — run every unit test (build/tests/test_*) and integration test
# (tests/integration/*.sh). Each prints "PASS: name", "FAIL: name" or
# "SKIP: name" lines; a program that exits non-zero without a FAIL line
# counts as one failure. The last line is "N passed, N failed, N skipped".
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export IMDR="$PWD/$BUILD/imdr" MOUNT_IMDR="$PWD/$BUILD/mount.imdr" TOOLS="$PWD/$BUILD/tools"
export TOP="$PWD"
pass=0 fail=0 skip=0
failed_names=()
log_dir=$(mktemp -d /tmp/imdr-test-logs.XXXXXX)

run_one() {
	local name=$1; shift
	local out="$log_dir/$(echo "$name" | tr '/' '_').log" rc t0 t1
	t0=$(date +%s)
	"$@" >"$out" 2>&1 </dev/null
	rc=$?
	t1=$(date +%s)
	local p f s
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out"); s=$(grep -c '^SKIP: ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL: $name exited with status $rc" >>"$out"; fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then f=1; echo "FAIL: $name ran no test" >>"$out"; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	printf '%-40s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((t1 - t0))
	if [ "$f" -gt 0 ]; then
		failed_names+=("$name")
		sed 's/^/    | /' "$out" | tail -n 60
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	if [ "$VALGRIND" = 1 ]; then
		run_one "unit/$(basename "$t")" valgrind -q --error-exitcode=99 --leak-check=full "$t"
	else
		run_one "unit/$(basename "$t")" "$t"
	fi
done
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	case $(basename "$t") in lib.sh) continue ;; esac
	if [ -n "$ONLY" ] && [[ "$t" != *"$ONLY"* ]]; then continue; fi
	run_one "integration/$(basename "$t" .sh)" bash "$t"
done
rm -rf "$log_dir"
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
