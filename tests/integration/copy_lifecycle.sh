#!/bin/bash
# imdr copy after retention: a replica brought up to date from a pruned
# repository gets its legal holds and the moved maps prune left (older
# trees name blobs in packs prune deleted; without the maps the replica
# cannot read them), and check, replicas and restores agree on it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle.lib"

A=$T/a B=$T/b
check "init" "$IMDR" init "$A"
history "$A" c 6 || fail "building the history"
check "init a replica before any copy" "$IMDR" init "$B" --replica-of "$A"
check "hold on two acme snapshots" "$IMDR" hold add "$A" --case "Doe v. Acme" --reason notice \
	--source acme --from 2026-10-22 --to 2026-10-23
check "forget all but the newest two of each source (the held ones stay)" \
	"$IMDR" forget "$A" --keep-last 2 --quiet
out=$("$IMDR" prune "$A" --grace 0 --max-unused 0 --json)
check "prune repacked and left moved maps" \
	test "$(echo "$out" | J 'd["moved_written"] > 0')" = True
check "copy to the replica" "$IMDR" copy "$A" "$B" --quiet
check "the replica holds the hold" test "$(ls "$B/holds" | wc -l)" = "$(ls "$A/holds" | wc -l)"
check "the replica holds every moved map" diff <(cd "$A" && find moved -type f | sort) <(cd "$B" && find moved -type f | sort)
out=$("$IMDR" hold list "$B")
check "hold list on the replica names the case" grep -q "Doe v. Acme" <<<"$out"
check "check --read-data of both as one repository" "$IMDR" check "multi:$A|$B" --read-data --quiet
out=$("$IMDR" replicas "multi:$A|$B" --json)
check "replicas: no replica behind" test "$(echo "$out" | J 'sum(r["objects_missing"] for r in d)')" = 0
# the replica alone: every snapshot restores as it was taken
restore_all "$B" c >/dev/null
check "every snapshot restores from the replica alone, as it was taken" test $? = 0

