#!/bin/bash
# run.sh — run every libFuzzer harness in $BUILD/fuzz (make FUZZ=1
# fuzz-build): first each committed reproducer of tests/fuzz/regress/<name>/
# once (every crash ever found stays fixed), then fuzzing for FUZZ_SECS
# seconds from the seed corpus tests/fuzz/corpus/<name>/.
#
# New inputs and crash artifacts go to $FUZZ_WORK/<name>/ (default
# $BUILD/fuzz-work), never into the committed corpus. One line per
# harness: "PASS: fuzz NAME: N runs in S s (cov C)" or "FAIL: ..." naming
# the artifact; the exit status is the number of failures.
#   BUILD=build-fuzz FUZZ_SECS=600 FUZZ_ONLY=slack tests/fuzz/run.sh
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-fuzz}
FUZZ_SECS=${FUZZ_SECS:-60}
FUZZ_WORK=${FUZZ_WORK:-$BUILD/fuzz-work}
fails=0

for bin in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin"); name=${name#fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ] && [[ "$name" != *"$FUZZ_ONLY"* ]]; then continue; fi
	work=$FUZZ_WORK/$name
	mkdir -p "$work/corpus" "$work/artifacts"
	dict=()
	[ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")
	# reproducers: each run once
	regress=(tests/fuzz/regress/"$name"/*)
	if [ -e "${regress[0]}" ]; then
		"$bin" -runs=1 "${dict[@]}" "${regress[@]}" >"$work/regress.log" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			if grep -q 'ERROR\|SUMMARY' "$work/regress.log"; then
				echo "FAIL: fuzz $name: a committed reproducer crashes again"
			else
				echo "FAIL: fuzz $name: the reproducers did not run (status $rc)"
			fi
			grep -E '^(==[0-9]+==ERROR|SUMMARY|Running: )' "$work/regress.log" | tail -n 6 | sed 's/^/      /'
			fails=$((fails + 1))
			continue
		fi
	fi
	"$bin" -max_total_time="$FUZZ_SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" \
		"$work/corpus" "tests/fuzz/corpus/$name" >"$work/fuzz.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n 1 | cut -d' ' -f2)
	if [ $rc -eq 0 ]; then
		echo "PASS: fuzz $name: ${runs:-?} runs in $FUZZ_SECS s (cov ${cov:-?})"
	else
		art=$(ls -t "$work/artifacts" 2>/dev/null | head -n 1)
		echo "FAIL: fuzz $name (status $rc): reproducer $work/artifacts/$art"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$work/fuzz.log" | head -n 4 | sed 's/^/      /'
		fails=$((fails + 1))
	fi
done
exit $fails
