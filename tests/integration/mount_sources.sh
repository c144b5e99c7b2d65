#!/bin/bash
# Sources: every snapshot names its source (the export's own name by
# default, or --source); snapshots, ls, restore and the mount can be scoped
# to one; the mount has sources/<name>/{snapshots/,latest,at/}, and the
# top-level latest stays the newest of any source.
. "$(dirname "$0")/lib.sh"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
mkdir -p "$T/a" "$T/b" "$T/c"
printf 'acme 1\n' >"$T/a/f"
printf 'globex 1\n' >"$T/b/f"
printf 'path\n' >"$T/c/f"
"$IMDR" backup "$repo" "$T/a" --source acme --time 2026-11-20T10:00:00Z --quiet &&
	printf 'acme 2\n' >"$T/a/f" &&
	"$IMDR" backup "$repo" "$T/a" --source acme --time 2026-11-22T10:00:00Z --quiet &&
	"$IMDR" backup "$repo" "$T/b" --source globex --time 2026-11-21T10:00:00Z --quiet &&
	"$IMDR" backup "$repo" "$T/c" --source "odd/na%me" --time 2026-11-23T10:00:00Z --quiet ||
	{ fail "backups"; exit 1; }
out=$("$IMDR" backup "$repo" "$T/c" --json --time 2026-11-19T10:00:00Z)
check "default source of a folder is its path" \
	python3 -c 'import json,sys; assert json.loads(sys.argv[1])["source"] == sys.argv[2]' "$out" "$T/c"
check "a Slack export is named by its team" bash -c \
	"\"$IMDR\" backup --json \"$repo\" \"$TOP/examples/samples/slack-acme.zip\" --time 2026-11-18T10:00:00Z | grep -q '\"source\":\"slack-T01ACME\"'"
check_fails "a source name with a control character is refused" \
	"$IMDR" backup "$repo" "$T/a" --source "$(printf 'a\tb')"

n=$("$IMDR" snapshots --json "$repo" --source acme | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "snapshots --source lists that source's only" test "$n" = 2
check "ls --source: latest of that source" \
	bash -c "\"$IMDR\" cat --source globex \"$repo\" latest f | grep -q 'globex 1'"
check "restore --source latest" bash -c \
	"\"$IMDR\" restore --source acme \"$repo\" latest \"$T/out\" --quiet && grep -q 'acme 2' \"$T/out/f\""
check "a time within a source: the newest of it at or before" \
	bash -c "\"$IMDR\" cat --source acme \"$repo\" 2026-11-21 f | grep -q 'acme 1'"
check_fails "an unknown source is an error" "$IMDR" ls --source nosuch "$repo" latest

if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "mount: no /dev/fuse or no mount.imdr"; exit 0; fi
mnt=$T/mnt
mkdir -p "$mnt"
on_exit "fusermount3 -u '$mnt'"
"$MOUNT_IMDR" "$repo" "$mnt" || { fail "mount"; exit 1; }
check "sources/ lists every source, names escaped as folder names" \
	test "$(ls "$mnt/sources" | LC_ALL=C sort | tr '\n' ' ')" = "$(printf '%s ' "$(echo "$T/c" | sed 's|/|%2F|g')" acme globex 'odd%2Fna%25me' slack-T01ACME | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')"
check "sources/acme has snapshots/, latest and at/" \
	test "$(ls "$mnt/sources/acme" | tr '\n' ' ')" = "at latest snapshots "
check "sources/acme/snapshots lists its two" \
	test "$(ls "$mnt/sources/acme/snapshots" | tr '\n' ' ')" = "2026-11-20T10:00:00Z 2026-11-22T10:00:00Z "
check "sources/acme/latest is its newest" \
	test "$(readlink "$mnt/sources/acme/latest")" = "snapshots/2026-11-22T10:00:00Z"
check "sources/acme/latest/f reads" grep -q 'acme 2' "$mnt/sources/acme/latest/f"
check "sources/acme/at/2026-11-21 is its snapshot of the 20th" \
	grep -q 'acme 1' "$mnt/sources/acme/at/2026-11-21/f"
check_fails "sources/globex/at before its first snapshot is ENOENT" ls "$mnt/sources/globex/at/2026-11-20/"
check "a name with / and % reads" grep -q path "$mnt/sources/odd%2Fna%25me/latest/f"
check "the top-level latest is the newest of any source" \
	test "$(readlink "$mnt/latest")" = "snapshots/2026-11-23T10:00:00Z"
check_fails "sources/nosuch is ENOENT" ls "$mnt/sources/nosuch"
check "find over sources/ terminates and sees every view" \
	bash -c "timeout 20 find \"$mnt/sources\" -name f | wc -l | grep -qx 5"
