#!/bin/bash
# Replicated repositories on local folders: replicas are made with
# --replica-of and another repository is refused; a damaged pack on one
# replica is read from another (restore, mount) and named by check; a
# replica that lacks data gets no snapshot and is reported (exit 3);
# imdr copy catches it up (also one snapshot at a time) and appends an
# audit record; replicas says who is behind; --min-replicas holds.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/conversations/general--C01/attachments"
head -c 3000000 /dev/urandom >"$src/conversations/general--C01/attachments/a.bin"
head -c 1500000 /dev/urandom >"$src/conversations/general--C01/attachments/b.bin"
printf '{"id":"U1","name":"ann"}\n' >"$src/users.jsonl"
A=$T/a B=$T/b C=$T/c X=$T/x

check "init the first replica" "$IMDR" init "$A"
check "init a second replica with --replica-of" "$IMDR" init "$B" --replica-of "$A"
check "the replica has the same config object, byte for byte" cmp "$A/config" "$B/config"
out=$("$IMDR" init "$B" --replica-of "$A" 2>&1)
check "init --replica-of again says it is already one" grep -q "already a replica" <<<"$out"
check "init another repository" "$IMDR" init "$X"
out=$("$IMDR" init "$X" --replica-of "$A" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"another repository already exists"* ]]; then pass "--replica-of over another repository is refused ($out)"; else fail "replica-of over x: rc=$rc $out"; fi
out=$("$IMDR" snapshots "multi:$A|$X" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"replica 2 ($X) holds a different repository"* ]]; then
	pass "a replica with another id and key is refused, named ($out)"
else
	fail "multi with a foreign replica: rc=$rc $out"
fi
out=$("$IMDR" snapshots "multi:$A||$B" 2>&1); rc=$?
if [ $rc -eq 2 ] || { [ $rc -ne 0 ] && [[ "$out" == *"replica 2 is empty"* ]]; }; then pass "an empty replica URL is an error ($out)"; else fail "multi a||b: rc=$rc $out"; fi

R="multi:$A|$B"
check "backup into two replicas" "$IMDR" backup "$R" "$src" --quiet --time 2026-11-20T10:00:00Z
check "each replica holds the snapshot" test "$(ls "$A/snapshots" | wc -l)$(ls "$B/snapshots" | wc -l)" = 11
check "both replicas hold the same objects" diff <(cd "$A" && find data index snapshots keys -type f | sort) <(cd "$B" && find data index snapshots keys -type f | sort)

# a flipped bit in one replica's biggest pack
pack=$(ls -S "$A"/data/*/* | head -1)
python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(2000); b=f.read(1); f.seek(2000); f.write(bytes([b[0]^1]))" "$pack"
check_fails "the damage is real: restore from the damaged replica alone fails" "$IMDR" restore "$A" latest "$T/out-a" --quiet
rm -rf "$T/out-a"
out=$("$IMDR" restore "$R" latest "$T/out-r" --quiet 2>&1); rc=$?
if [ $rc -eq 0 ] && diff -r "$src" "$T/out-r" >/dev/null && [[ "$out" == *"replica 1 ($A)"*"failed authentication"*"another replica"* ]]; then
	pass "restore from the replicas is byte-identical and names the bad replica once"
else
	fail "restore over a damaged replica: rc=$rc $out"
fi
if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	mkdir -p "$T/m"; on_exit "fusermount3 -u '$T/m'"
	if "$MOUNT_IMDR" "$R" "$T/m" -o cache_size=8M 2>"$T/mount.log"; then
		check "the mount over a damaged replica reads right (diff -r)" diff -r "$T/m/latest/" "$src"
		stats=$(cat "$T/m/.imdr/stats")
		check "stats: no EIO" grep -q "read errors     0 " <<<"$stats"
		check "stats name the replica and its bad object" grep -q "bad objects 1 (last: data/" <<<"$stats"
		dpid=$(pgrep -f "mount.imdr multi:$A|$B $T/m" | head -1)
		fusermount3 -u "$T/m"
		for i in $(seq 1 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
		if [ -n "$dpid" ] && ! kill -0 "$dpid" 2>/dev/null; then pass "the daemon (forked after opening the replicas) exits after unmount"; else fail "mount.imdr $dpid still running after unmount"; kill "$dpid" 2>/dev/null; fi
	else
		fail "mount $R: $(cat "$T/mount.log")"
	fi
	# the same string as an fstab line: mount(8) hands it to mount.imdr
	if [ "$(id -u)" = 0 ] && [ ! -e /sbin/mount.imdr ] && mount --help 2>&1 | grep -q -- --fstab; then
		ln -s "$MOUNT_IMDR" /sbin/mount.imdr && on_exit "rm -f /sbin/mount.imdr"
		printf '%s %s imdr ro,noauto,_netdev,nofail,passfile=%s 0 0\n' "$R" "$T/m" "$IMDR_PASSWORD_FILE" >"$T/fstab"
		out=$(mount -T "$T/fstab" "$T/m" 2>&1); rc=$?
		if [ $rc -eq 0 ] && cmp -s "$T/m/latest/users.jsonl" "$src/users.jsonl"; then pass "an fstab line with a multi: source mounts"; else fail "fstab mount: rc=$rc $out"; fi
		umount "$T/m" 2>/dev/null
		rm -f /sbin/mount.imdr
	else
		skip "fstab mount (not root, /sbin/mount.imdr present, or no mount --fstab)"
	fi
else
	skip "mount over a damaged replica (no FUSE)"
fi
out=$("$IMDR" check "$R" --read-data 2>&1); rc=$?
name=data/$(basename "$(dirname "$pack")")/$(basename "$pack")
if [ $rc -eq 1 ] && [[ "$out" == *"replica 1 ($A): pack $name"*"failed authentication"* ]] && [[ "$out" != *"replica 2 ($B): pack"* ]]; then
	pass "check names the replica and the pack that is damaged, and only that one"
else
	fail "check of the damaged replica: rc=$rc $out"
fi
cp "$B/${name}" "$pack"	# repair from the good replica

# a new, empty replica: the backup leaves it behind, it gets no snapshot
check "init a third replica" "$IMDR" init "$C" --replica-of "$A"
printf 'more\n' >>"$src/users.jsonl"
out=$("$IMDR" backup "multi:$A|$B|$C" "$src" --quiet --time 2026-11-21T10:00:00Z 2>&1); rc=$?
if [ $rc -eq 3 ] && [[ "$out" == *"replica 3 ($C) did not get snapshot"*"lacks"* ]]; then pass "a replica lacking data is reported with exit status 3 ($out)"; else fail "backup with a lagging replica: rc=$rc $out"; fi
check "the lagging replica holds no snapshot whose data it lacks" test -z "$(ls "$C/snapshots" 2>/dev/null)"
check "the lagging replica on its own checks clean" "$IMDR" check "$C"
json=$("$IMDR" replicas "multi:$A|$B|$C" --json); rc=$?
if [ $rc -eq 3 ] && python3 -c '
import json,sys; r=json.loads(sys.argv[1])
assert [x["snapshots_missing"] for x in r] == [0,0,2], r
assert r[2]["bytes_behind"] > 4000000 and r[0]["bytes_behind"] == 0, r
assert all(x["reachable"] for x in r)' "$json"; then pass "replicas --json: the third lacks 2 snapshots and their bytes; exit 3"; else fail "replicas: rc=$rc $json"; fi

# copy catches up one snapshot at a time, then everything
D=$T/d
check "init a fourth replica" "$IMDR" init "$D" --replica-of "$A"
check "copy --snapshot of the first snapshot" "$IMDR" copy "$A" "$D" --snapshot 2026-11-20T10:00 --quiet
check "the fourth replica holds just that snapshot" test "$(ls "$D/snapshots" | wc -l)" = 1
check "and checks clean with every blob read" "$IMDR" check "$D" --read-data
rm -rf "$T/out-d"
check "and restores it byte for byte" sh -c "'$IMDR' restore '$D' 2026-11-20T10:00 '$T/out-d' --quiet && cmp '$T/out-d/conversations/general--C01/attachments/a.bin' '$src/conversations/general--C01/attachments/a.bin'"
out=$("$IMDR" copy "$A" "$C" --json); rc=$?
if [ $rc -eq 0 ] && python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["snapshots_copied"]==2 and r["failed"]==0 and r["copied_bytes"]>4000000, r' "$out"; then pass "copy brings the lagging replica up to date ($out)"; else fail "copy a c: rc=$rc $out"; fi
check "copy appended an audit record on the destination" sh -c "find '$C/audit' -name '*-copy-*' | grep -q ."
# replicas of one repository hold one log: the same record on both sides
check "and the same record on the source" sh -c "[ \"\$(cd '$A' && find audit -name '*-copy-*')\" = \"\$(cd '$C' && find audit -name '*-copy-*')\" ]"
check "replicas: all in sync now (exit 0)" "$IMDR" replicas "multi:$A|$B|$C"
out=$("$IMDR" copy "$A" "$C" 2>&1); rc=$?
if [ $rc -eq 0 ] && [[ "$out" == *"nothing to copy"* ]]; then pass "a second copy only lists ($out)"; else fail "no-op copy: rc=$rc $out"; fi
check "the caught-up replica checks clean with every blob read" "$IMDR" check "$C" --read-data
check "check over all three finds nothing lacking" "$IMDR" check "multi:$A|$B|$C"
out=$("$IMDR" copy "$A" "$X" 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"another repository"* ]]; then pass "copy into another repository is refused ($out)"; else fail "copy a x: rc=$rc $out"; fi

out=$("$IMDR" copy "$A" "multi:$C|$T/gone" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$T/gone"*"left out"* ]] && [[ "$out" == *"could not be reached"* ]]; then pass "copy into replicas one of which is gone names it and exits 1"; else fail "copy to a gone replica: rc=$rc $out"; fi

# --min-replicas: a replica that cannot be opened counts against it
printf 'again\n' >>"$src/users.jsonl"
out=$("$IMDR" backup "multi:$A|$B|$T/gone" "$src" --quiet --min-replicas 3 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"at least 3"* ]]; then pass "--min-replicas 3 with one replica gone fails ($out)"; else fail "min-replicas 3: rc=$rc $out"; fi
out=$("$IMDR" backup "multi:$A|$B|$T/gone" "$src" --quiet --min-replicas 2 2>&1); rc=$?
if [ $rc -eq 3 ] && [[ "$out" == *"replica 3 ($T/gone)"* ]]; then pass "--min-replicas 2 with one gone succeeds and names it (exit 3)"; else fail "min-replicas 2: rc=$rc $out"; fi
exit 0
