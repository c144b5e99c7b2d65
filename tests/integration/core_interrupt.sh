#!/bin/bash
# kill -9 in the middle of a backup leaves a repository that check passes;
# the next backup reuses the packs already written. Two backups at once both
# succeed.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src"
for i in $(seq 1 12); do head -c 20000000 /dev/urandom >"$src/f$i.bin"; done
"$IMDR" init "$T/repo" >/dev/null || { fail "setup"; exit 1; }

"$IMDR" backup "$T/repo" "$src" --quiet &
pid=$!
# wait until a few packs are on disk (fewer than an index object covers)
for i in $(seq 1 400); do
	n=$(find "$T/repo/data" -type f 2>/dev/null | wc -l)
	[ "$n" -ge 4 ] && break
	sleep 0.02
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
packs_before=$(find "$T/repo/data" -type f | wc -l)
nsnap=$(ls "$T/repo/snapshots" 2>/dev/null | wc -l)
if [ "$packs_before" -ge 2 ] && [ "$nsnap" -eq 0 ]; then pass "killed mid-backup with $packs_before packs written, no snapshot"; else fail "kill: packs=$packs_before snaps=$nsnap"; fi
check "check passes after kill -9" "$IMDR" check "$T/repo" --quiet
out=$("$IMDR" backup "$T/repo" "$src" --json 2>"$T/err"); rc=$?
added=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["added_bytes"])' "$out" 2>/dev/null || echo 999999999999)
total=$(du -cb "$src"/* | tail -1 | cut -f1)
if [ $rc -eq 0 ] && [ "$added" -lt "$total" ]; then pass "next backup reuses the uploaded packs (added $added of $total bytes)"; else fail "resume: rc=$rc added=$added total=$total $(cat "$T/err")"; fi
check "restore after resume is identical" bash -c "\"$IMDR\" restore \"$T/repo\" latest \"$T/out\" --quiet && diff -r --no-dereference \"$src\" \"$T/out\""
check "check --read-data after resume" "$IMDR" check "$T/repo" --read-data --quiet

# Two backups at once into one repository.
mkdir -p "$T/s1" "$T/s2"
for i in 1 2 3; do head -c 3000000 /dev/urandom >"$T/s1/a$i"; head -c 3000000 /dev/urandom >"$T/s2/b$i"; done
"$IMDR" init "$T/repo2" >/dev/null
"$IMDR" backup "$T/repo2" "$T/s1" --quiet & p1=$!
"$IMDR" backup "$T/repo2" "$T/s2" --quiet & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
n=$(ls "$T/repo2/snapshots" | wc -l)
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$n" -eq 2 ]; then pass "two concurrent backups both succeed"; else fail "concurrent: $r1 $r2 snapshots=$n"; fi
check "check after concurrent backups" "$IMDR" check "$T/repo2" --read-data --quiet
left=$(ls "$T/repo2/locks" 2>/dev/null | wc -l)
if [ "$left" -eq 0 ]; then pass "locks are released"; else fail "$left locks left behind"; fi
