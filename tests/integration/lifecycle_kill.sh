#!/bin/bash
# kill -9 at random points of forget and prune (until 12 runs were killed
# while still going): after each, check --read-data passes and every
# snapshot left restores byte for byte; a last prune finishes the job (no
# plan left).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle.lib"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
history "$repo" k 9 || { fail "history"; exit 1; }

# run_killed DELAY CMD...: start CMD, kill -9 it after DELAY seconds; 0 if
# it was still running then (else TOOK is how many ms it ran)
run_killed() {
	local delay=$1 pid t0=$(date +%s%N); shift
	"$@" >"$T/killed.out" 2>&1 &
	pid=$!
	sleep "$delay"
	if kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null; return 0; fi
	wait $pid 2>/dev/null
	TOOK=$(( ($(date +%s%N) - t0) / 1000000 ))
	return 1
}

# how long a prune takes here, to aim the kills inside it
"$IMDR" forget "$repo" --keep-last 6 --quiet >/dev/null
t0=$(date +%s%N)
"$IMDR" prune "$repo" --grace 0 --max-unused 0 --quiet
dur=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$dur" -lt 20 ] && dur=20
killed=0 rounds=0 bad=0
for round in $(seq 1 30); do
	[ "$killed" -ge 12 ] && break
	d=$((9 + round))
	t=$(date -u -d "2026-10-20 +$d day 10:00" +%Y-%m-%dT%H:%M:%SZ)
	"$GEN" --out "$T/acme-k" --preset tiny --seed 1 --mutate 5 --day "$d" >/dev/null
	"$IMDR" backup "$repo" "$T/acme-k" --source acme --time "$t" --quiet || fail "backup $round"
	cp -a "$T/acme-k" "$T/states-k/acme-$t"
	ms=$(( RANDOM % dur ))
	delay=$(printf '0.%03d' "$ms"); [ "$ms" -ge 1000 ] && delay=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))
	if [ $((round % 4)) = 0 ]; then
		run_killed "$(printf '0.%03d' $((RANDOM % 40)))" "$IMDR" forget "$repo" --keep-last 4 && killed=$((killed + 1))
	else
		"$IMDR" forget "$repo" --keep-last 4 --quiet >/dev/null
		if run_killed "$delay" "$IMDR" prune "$repo" --grace 0 --max-unused 0; then
			killed=$((killed + 1))
		else
			dur=$TOOK	# it ended first: aim within what it took
			[ "$dur" -lt 10 ] && dur=10
		fi
	fi
	rounds=$((rounds + 1))
	# what the kill left, for the log: plans (and ready marks), moved maps
	echo "round $round: $(ls "$repo/prune" 2>/dev/null | grep -vc ready) plans, $(ls "$repo/prune" 2>/dev/null | grep -c ready) ready, $(ls "$repo/moved" 2>/dev/null | wc -l) maps, $(ls "$repo/index" | wc -l) index objects"
	if ! "$IMDR" check "$repo" --read-data --quiet >"$T/check-$round" 2>&1; then
		bad=1; fail "round $round: check --read-data after kill -9 (at ${delay}s)"; cat "$T/check-$round"
	fi
	if ! restore_all "$repo" k >"$T/restore-$round" 2>&1; then
		bad=1; fail "round $round: restores after kill -9"; cat "$T/restore-$round"
	fi
done
check "$killed of $rounds runs were killed while running (at least 10)" test "$killed" -ge 10
check "check --read-data passed after every kill" test "$bad" = 0
check "the next prune finishes the job" "$IMDR" prune "$repo" --grace 0 --quiet
check "no plan is left" sh -c "test -z \"\$(ls '$repo/prune' 2>/dev/null)\""
check "check --read-data at the end" "$IMDR" check "$repo" --read-data
check "every snapshot restores at the end" restore_all "$repo" k
