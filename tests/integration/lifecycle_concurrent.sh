#!/bin/bash
# Prune never blocks a backup and never loses a blob a backup running
# beside it reused. First the race itself, made to happen: a backup loads
# the index, is stopped, the snapshot whose blobs it will reuse is forgotten
# and a prune plans their pack; the plan waits for the backup, and once it
# ended the next prune sees its snapshot use the pack and takes it back.
# Then backups in a loop while forget and prune run in a loop; afterwards
# check --read-data and every snapshot restored byte for byte.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle.lib"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
mkdir -p "$T/x" "$T/b"
head -c 3000000 /dev/urandom >"$T/x/x.bin"
echo small >"$T/x/note"
"$IMDR" backup "$repo" "$T/x" --source x --quiet || fail "backup x"
s1=$("$IMDR" snapshots "$repo" --json | J 'd[0]["id"]')
head -c 60000000 /dev/urandom >"$T/b/a.bin"
cp "$T/x/x.bin" "$T/b/x.bin"
npacks=$(find "$repo/data" -type f | wc -l)

"$IMDR" backup "$repo" "$T/b" --source b --quiet --no-cache &
bpid=$!
on_exit "kill -CONT $bpid; kill $bpid"
# stopped once it uploads a pack: it has read the index by then
for i in $(seq 1 600); do
	[ "$(find "$repo/data" -type f | wc -l)" -gt "$npacks" ] && break
	sleep 0.01
done
kill -STOP $bpid
"$IMDR" forget "$repo" "$s1" --quiet || fail "forget s1"
out=$("$IMDR" prune "$repo" --grace 0 --max-unused 0 --json) || fail "prune beside a stopped backup"
check "prune runs beside a backup (it does not wait for its lock)" test -n "$out"
check "the plan waits for the backup that was running" \
	test "$(echo "$out" | J 'd["plans_waiting"] == 1 and d["sessions_waiting"] == 1 and d["packs_deleted"] == 0')" = True
kill -CONT $bpid
wait $bpid
check "the backup finishes after the prune" test $? = 0
out=$("$IMDR" prune "$repo" --grace 0 --json)
check "the next prune sweeps the plan and takes back the pack the backup reused" \
	test "$(echo "$out" | J 'd["plans_swept"] == 1 and d["packs_taken_back"] >= 1')" = True
check "check --read-data after the race" "$IMDR" check "$repo" --read-data
check "the backup that reused the planned blobs restores byte for byte" \
	sh -c "'$IMDR' restore '$repo' latest '$T/out-b' --source b --quiet && diff -r '$T/b' '$T/out-b'"

# a backup that starts after the plan took effect does not reuse its packs:
# it stores the blobs again
mkdir -p "$T/y"
head -c 2000000 /dev/urandom >"$T/y/y.bin"
"$IMDR" backup "$repo" "$T/y" --source y --quiet || fail "backup y"
sy=$("$IMDR" snapshots "$repo" --source y --json | J 'd[0]["id"]')
"$IMDR" forget "$repo" "$sy" --quiet
"$IMDR" prune "$repo" --quiet || fail "prune (default grace: plans, waits)"
out=$("$IMDR" backup "$repo" "$T/y" --source y --json --no-cache)
check "a backup after the plan stores the planned blobs again" test "$(echo "$out" | J 'd["added_bytes"] > 1900000')" = True
check "check --read-data with a plan waiting and the blobs stored twice" "$IMDR" check "$repo" --read-data
out=$("$IMDR" prune "$repo" --grace 0 --json)
check "the plan's pack goes; the new copy stays" test "$(echo "$out" | J 'd["packs_deleted"] >= 1')" = True
check "restore of the new copy" sh -c "'$IMDR' restore '$repo' latest '$T/out-y' --source y --quiet && diff -r '$T/y' '$T/out-y'"

# backups in a loop while forget and prune run in a loop
repo2=$T/repo2
"$IMDR" init "$repo2" >/dev/null
mkdir -p "$T/states-loop"
"$GEN" --out "$T/acme-loop" --preset tiny --seed 3 >/dev/null
(
	for d in $(seq 1 14); do
		t=$(date -u -d "2026-10-20 +$d day 10:00" +%Y-%m-%dT%H:%M:%SZ)
		"$GEN" --out "$T/acme-loop" --preset tiny --seed 3 --mutate 8 --day "$d" >/dev/null
		cp -a "$T/acme-loop" "$T/states-loop/acme-$t"
		"$IMDR" backup "$repo2" "$T/acme-loop" --source acme --time "$t" --quiet || echo "backup $d failed" >>"$T/loop-errors"
	done
) &
loop=$!
rounds=0
while kill -0 $loop 2>/dev/null; do
	"$IMDR" forget "$repo2" --keep-last 3 --quiet >/dev/null 2>>"$T/loop-errors.forget"
	"$IMDR" prune "$repo2" --grace 0 --max-unused 0 --quiet 2>>"$T/loop-errors.prune" && rounds=$((rounds + 1))
done
wait $loop
check "every backup of the loop succeeded" test ! -s "$T/loop-errors"
check "prune ran $rounds times beside the backups" test "$rounds" -ge 2
"$IMDR" prune "$repo2" --grace 0 --quiet || fail "final prune"
check "check --read-data after the loop" "$IMDR" check "$repo2" --read-data
check "every snapshot left restores byte for byte" restore_all "$repo2" loop
