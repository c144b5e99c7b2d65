#!/bin/bash
# The fuzz harnesses of tests/fuzz, briefly (issue 11): built with clang
# into build-fuzz/, every committed reproducer of tests/fuzz/regress run
# once (each crash found stays fixed), then each harness fuzzed for
# FUZZ_SECS seconds (10 here; `make fuzz` runs them longer) from its seed
# corpus. SKIP when clang or its libFuzzer runtime is missing
# (scripts/deps.sh test installs clang and libclang-rt-dev).
. "$(dirname "$0")/lib.sh"

if ! command -v clang >/dev/null; then
	skip "fuzz harnesses: clang is not installed (scripts/deps.sh test installs it)"
	exit 0
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$T/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$T/probe" "$T/probe.c" >"$T/probe.log" 2>&1; then
	skip "fuzz harnesses: clang cannot link libFuzzer ($(head -n 1 "$T/probe.log"); install libclang-rt-dev)"
	exit 0
fi
# a make of its own, not the jobserver of the make that runs the tests,
# and into build-fuzz/ whatever BUILD the suite runs with
unset MAKEFLAGS MFLAGS MAKELEVEL
if make -C "$TOP" --no-print-directory FUZZ=1 BUILD=build-fuzz -j2 fuzz-build >"$T/build.log" 2>&1; then
	pass "the fuzz harnesses build (clang, libFuzzer, ASan, UBSan)"
else
	fail "the fuzz harnesses build"
	grep -E 'error|Error' "$T/build.log" | head -n 10 | sed 's/^/      /'
	exit 0
fi
BUILD=build-fuzz FUZZ_SECS=${FUZZ_SECS:-10} FUZZ_WORK=$T/work "$TOP/tests/fuzz/run.sh"
exit 0
