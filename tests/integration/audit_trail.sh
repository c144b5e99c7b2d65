#!/bin/bash
# The audit trail, on a local repository and on S3 (s3rver): every command
# that changes the repository or reveals its content records; `imdr audit`
# authenticates every record and every link; a checkpoint's digest catches a
# deleted snapshot, a deleted or altered record, an older copy of the
# repository put back, and a branch written over a rollback, while two
# backups at once, later backups and forgets leave it clean. Objects are
# tampered with through betool, so both backends see the same attacks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
BT=$TOOLS/betool AG=$TOOLS/auditgen

# save URL DIR [BASE]: every object of the repository into DIR (an older
# copy); with BASE, an earlier copy, only what is new is fetched (objects
# are write-once: a name is its content)
save() {
	local name
	rm -rf "$2"; mkdir -p "$2"
	[ -n "${3:-}" ] && cp -a "$3/." "$2/"
	"$BT" "$1" list "" | awk '{print $1}' | sort >"$T/now.list"
	(cd "$2" && find . -type f | sed 's|^\./||' | sort) >"$T/copy.list"
	comm -13 "$T/now.list" "$T/copy.list" | while read -r name; do rm -f "$2/$name"; done
	comm -23 "$T/now.list" "$T/copy.list" | while read -r name; do
		mkdir -p "$2/$(dirname "$name")" && "$BT" "$1" get "$name" >"$2/$name"
	done
}
# load URL DIR [NAME...]: the repository becomes the copy in DIR: what is
# not in it deleted, what is missing put back, and the NAMEs (objects
# altered in place) replaced; the rest is the same object (write-once)
load() {
	local u=$1 d=$2 name; shift 2
	"$BT" "$u" list "" | awk '{print $1}' | sort >"$T/now.list"
	(cd "$d" && find . -type f | sed 's|^\./||' | sort) >"$T/copy.list"
	comm -23 "$T/now.list" "$T/copy.list" | while read -r name; do "$BT" "$u" del "$name"; done
	for name in "$@"; do "$BT" "$u" del "$name"; done
	{ comm -13 "$T/now.list" "$T/copy.list"; printf '%s\n' "$@"; } | while read -r name; do
		[ -n "$name" ] && "$BT" "$u" put "$name" <"$d/$name"
	done
}
# flip URL NAME: one bit of an object changed in place
flip() {
	"$BT" "$1" get "$2" >"$T/obj" &&
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[len(b)//2]^=0x10; open(sys.argv[1],"wb").write(b)' "$T/obj" &&
	"$BT" "$1" del "$2" && "$BT" "$1" put "$2" <"$T/obj"
}
obj() { "$BT" "$1" list "$2" | awk '{print $1}' | grep -- "$3" | head -1; }
digest() { "$IMDR" audit "$1" --checkpoint --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'; }
# expect_fail NAME WANT CMD...: fails (status 1) and says WANT
expect_fail() {
	local name=$1 want=$2 out rc; shift 2
	out=$("$@" 2>&1); rc=$?
	if [ $rc -eq 1 ] && [[ "$out" == *"$want"* ]]; then pass "$name"; else fail "$name: rc=$rc"; echo "$out" | tail -n 8 | sed 's/^/      /'; fi
}

trail() {
	local n=$1 u=$2 src=$T/src-$1 d0 d1 s1 rec old
	mkdir -p "$src/a" "$src/b"
	printf 'hello\n' >"$src/a/hello.txt"; head -c 200000 /dev/urandom >"$src/b/blob.bin"
	"$IMDR" init "$u" >/dev/null || { fail "$n: init"; return; }
	"$IMDR" backup "$u" "$src/a" --quiet --source alpha || fail "$n: backup"
	"$IMDR" restore "$u" latest "$T/out-$n" --quiet || fail "$n: restore"
	"$IMDR" cat "$u" latest hello.txt >/dev/null || fail "$n: cat"
	"$IMDR" backup "$u" "$src/a" --quiet --format slack 2>/dev/null && fail "$n: a slack backup of plain files should fail"
	check "$n: init, backup, restore, cat and a failed backup are recorded, in order, linked" python3 - "$IMDR" "$u" <<-'PY'
		import json, subprocess, sys
		recs = json.loads(subprocess.check_output([sys.argv[1], "audit", sys.argv[2], "--json"]))
		got = [(r["command"], r["result"] == "ok") for r in recs]
		assert got == [("init", True), ("backup", True), ("restore", True), ("cat", True), ("backup", False)], got
		b, rs, c = recs[1]["scope"], recs[2]["scope"], recs[3]["scope"]
		assert b["source"] == "alpha" and len(b["snapshot"]) == 64 and b["files"] == 1, b
		assert rs["snapshot"] == b["snapshot"] and rs["target"].startswith("/") and rs["files"] == 1, rs
		assert c["path"] == "hello.txt" and c["bytes"] == 6, c
		for prev, r in zip(recs, recs[1:]):
		    assert r["parents"] == [prev["name"].split("/", 2)[2]], (r["parents"], prev["name"])
		assert recs[4]["scope"]["path"].endswith("/a"), recs[4]
	PY
	check "$n: imdr audit verifies every record and link" sh -c "'$IMDR' audit '$u' | tail -1 | grep -q 'every link present; 1 head'"
	check "$n: --command and --since select" test "$("$IMDR" audit "$u" --command backup --since 2000-01-01 --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2

	# two backups at once, after a checkpoint: the log stays whole
	d0=$(digest "$u")
	"$IMDR" backup "$u" "$src/a" --quiet --source beta & p1=$!
	"$IMDR" backup "$u" "$src/b" --quiet --source gamma & p2=$!
	wait $p1 && wait $p2 || fail "$n: two backups at once"
	check "$n: after two backups at once, imdr audit is clean" "$IMDR" audit "$u"
	check "$n: after two backups at once, check --since-checkpoint of the earlier checkpoint is clean" "$IMDR" check "$u" --since-checkpoint "$d0"

	# the checkpoint under test; an older copy of the repository from just before it
	save "$u" "$T/old-$n"
	d1=$(digest "$u")
	"$IMDR" backup "$u" "$src/b" --quiet --source gamma || fail "$n: backup after the checkpoint"
	check "$n: clean after legitimate work since the checkpoint" "$IMDR" check "$u" --since-checkpoint "$d1"
	save "$u" "$T/good-$n" "$T/old-$n"

	# a snapshot the checkpoint knew, deleted
	s1=$(obj "$u" snapshots/ .)
	"$BT" "$u" del "$s1"
	expect_fail "$n: a deleted snapshot is named" "${s1##*-}" "$IMDR" check "$u" --since-checkpoint "$d1"
	expect_fail "$n: ... as deleted, not forgotten" "no later forget record names it" "$AG" "$u" verify "$d1"
	"$AG" "$u" append forget "{\"removed\":[\"${s1##*-}\"]}" >/dev/null
	check "$n: ... and a forget record naming it makes it a legitimate absence" "$AG" "$u" verify "$d1"
	load "$u" "$T/good-$n"

	# an audit record the checkpoint knew, deleted
	rec=$(obj "$u" audit/ -restore-)
	"$BT" "$u" del "$rec"
	expect_fail "$n: a deleted audit record is named by check" "$rec" "$IMDR" check "$u" --since-checkpoint "$d1"
	expect_fail "$n: ... and by imdr audit" "$rec" "$IMDR" audit "$u"
	load "$u" "$T/good-$n"

	# an audit record altered (a bit flipped)
	rec=$(obj "$u" audit/ -cat-)
	flip "$u" "$rec"
	expect_fail "$n: an altered audit record is named by check" "$rec" "$IMDR" check "$u" --since-checkpoint "$d1"
	expect_fail "$n: ... and by imdr audit" "$rec" "$IMDR" audit "$u"
	load "$u" "$T/good-$n" "$rec"

	# a snapshot altered
	flip "$u" "$s1"
	expect_fail "$n: an altered snapshot the checkpoint knew is named" "$s1" "$IMDR" check "$u" --since-checkpoint "$d1"
	load "$u" "$T/good-$n" "$s1"

	# an older copy of the repository put back: the checkpoint is gone
	load "$u" "$T/old-$n"
	check "$n: the older copy is consistent in itself (the log alone cannot tell)" "$IMDR" audit "$u"
	expect_fail "$n: an older copy put back fails the checkpoint (rolled back)" "rolled back" "$IMDR" check "$u" --since-checkpoint "$d1"
	# ... and written to an hour later, with the checkpoint record put back
	old=$("$BT" "$u" list audit/ | awk '{print $1}' | sort | tail -1)
	old=${old#audit/*/}
	cp_name=$(cd "$T/good-$n" && ls audit/*/*-checkpoint-"${d1##*-}")
	"$BT" "$u" put "$cp_name" <"$T/good-$n/$cp_name"
	t1=$(python3 -c 'import sys,datetime; t=sys.argv[1].split("-")[1]; d=datetime.datetime.strptime(t[:15],"%Y%m%dT%H%M%S")+datetime.timedelta(hours=1); print(d.strftime("%Y-%m-%dT%H:%M:%SZ"))' "$d1")
	"$AG" "$u" append backup --at "$t1" --parent "$old" >/dev/null
	expect_fail "$n: a branch written over a rollback, without the checkpoint, is named" "branch of the log without" "$IMDR" check "$u" --since-checkpoint "$d1"
	load "$u" "$T/good-$n"
	check "$n: the repository as it was passes again" "$IMDR" check "$u" --since-checkpoint "$d1"
}

trail local "$T/repo"

# key slots added and removed are recorded, with the slot and who did it
printf 'second passphrase\n' >"$T/pass2"; chmod 600 "$T/pass2"
slot=$("$IMDR" key add "$T/repo" --new-password-file "$T/pass2" | awk '{print $NF}')
"$IMDR" key remove "$T/repo" "$slot" >/dev/null
check "key add and key remove are recorded with the slot" python3 - "$IMDR" "$T/repo" "$slot" <<-'PY'
	import json, subprocess, sys
	recs = json.loads(subprocess.check_output([sys.argv[1], "audit", sys.argv[2], "--json"]))
	keys = [(r["command"], r["scope"].get("key")) for r in recs if r["command"].startswith("key-")]
	assert keys == [("key-add", sys.argv[3]), ("key-remove", sys.argv[3])], keys
PY

# a command whose record cannot be written says so, exits 3, and keeps its result
month=$(date -u +%Y%m)
rm -rf "$T/repo/audit/$month"; : >"$T/repo/audit/$month"	# a file where the month's folder goes
n0=$("$IMDR" snapshots "$T/repo" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
out=$("$IMDR" backup "$T/repo" "$T/src-local/a" --quiet 2>&1); rc=$?
n1=$("$IMDR" snapshots "$T/repo" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ $rc -eq 3 ] && [[ "$out" == *"not recorded"* ]] && [ "$n1" = $((n0 + 1)) ]; then
	pass "a backup whose record cannot be written exits 3, says so, and its snapshot is saved"
else
	fail "unrecorded backup: rc=$rc n0=$n0 n1=$n1 $out"
fi
rm -f "$T/repo/audit/$month"

# a read-only repository cannot hold records: a warning, and the command goes on
mkdir -p "$T/www" && cp -a "$T/repo" "$T/www/repo"
port=$(free_port)
(cd "$T/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >"$T/http.log" 2>&1) &
on_exit "kill $!"
if wait_port "$port"; then
	out=$("$IMDR" cat "http://127.0.0.1:$port/repo" latest hello.txt 2>&1); rc=$?
	if [ $rc -eq 0 ] && [[ "$out" == hello*"not recorded"*read-only* ]]; then pass "cat over read-only http:// warns it is not recorded and succeeds"; else fail "cat over http: rc=$rc $out"; fi
else
	fail "http.server did not start"
fi

# a mount is recorded once it is up
if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	mkdir -p "$T/m"; on_exit "fusermount3 -u '$T/m'"
	if "$MOUNT_IMDR" "$T/repo" "$T/m" -o snapshot=latest; then
		ok=0
		for i in $(seq 1 100); do
			"$IMDR" audit "$T/repo" --command mount --json 2>/dev/null | grep -q "\"mountpoint\":\"$T/m\"" && { ok=1; break; }
			sleep 0.05
		done
		[ $ok = 1 ] && pass "a mount is recorded (mountpoint, snapshot)" || fail "no mount record"
		fusermount3 -u "$T/m"
	else
		fail "mount"
	fi
else
	skip "mount record (no FUSE)"
fi

if start_s3rver; then
	trail s3 "s3://imdr-audit/repo?endpoint=http://127.0.0.1:$S3_PORT&path_style=1"
else
	fail "s3rver did not start (make test-deps installs it): $(tail -3 "$T/s3rver.log" 2>/dev/null)"
fi
exit 0
