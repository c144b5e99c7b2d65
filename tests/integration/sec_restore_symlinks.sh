#!/bin/bash
# Issue #11, item 2, through the CLI: restore a snapshot whose tree has
# dir -> /elsewhere (an absolute symlink) and file -> /elsewhere/precious,
# then one where dir/ is a folder and file a file, into the same target,
# without and with --force: nothing is created, overwritten or chmod'ed in
# /elsewhere; the symlinks are replaced. setuid/setgid bits come back only
# with --keep-setuid.
. "$(dirname "$0")/lib.sh"

repo=$T/repo else=$T/elsewhere
mkdir -p "$else/sub" "$T/a" "$T/b/dir/sub" "$T/b/deep"
printf 'precious\n' >"$else/precious"
chmod 0640 "$else/precious"; chmod 0750 "$else" "$else/sub"
touch -d '2001-02-03 04:05:06' "$else/precious" "$else/sub" "$else"
snap_else() { (cd "$else" && find . -printf '%p %m %s %T@\n' | sort; cat precious); }
before=$(snap_else)

# snapshot A: the links
ln -s "$else" "$T/a/dir"
ln -s "$else/precious" "$T/a/file"
ln -s "$else" "$T/a/deep"
# snapshot B: folders and files where the links were
printf 'from the snapshot\n' >"$T/b/dir/new.txt"
printf 'inner\n' >"$T/b/dir/sub/inner.txt"
printf 'overwritten?\n' >"$T/b/file"
printf 'deep\n' >"$T/b/deep/precious"
chmod 0777 "$T/b/dir" "$T/b/dir/sub"
printf '#!/bin/sh\n' >"$T/b/suid"; chmod 4755 "$T/b/suid"
mkdir "$T/b/sgid"; chmod 2775 "$T/b/sgid"
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
"$IMDR" backup "$repo" "$T/a" --quiet --source links --time 2026-11-20T10:00:00Z &&
	"$IMDR" backup "$repo" "$T/b" --quiet --source dirs --time 2026-11-21T10:00:00Z || { fail "backups"; exit 1; }

for force in "" --force; do
	out=$T/out$force
	"$IMDR" restore "$repo" latest "$out" --source links --quiet || fail "restore of the links ($force)"
	check "the links are restored as links ($force)" test -L "$out/dir" -a -L "$out/file" -a -L "$out/deep"
	msg=$("$IMDR" restore "$repo" latest "$out" --source dirs $force 2>&1); rc=$?
	if [ -z "$force" ]; then
		# without --force nothing existing is overwritten; links are
		# replaced all the same (they are never followed)
		if [ $rc -eq 0 ] && [ -d "$out/dir" ] && [ ! -L "$out/dir" ] && [ -f "$out/file" ] && [ ! -L "$out/file" ]; then
			pass "without --force: the links are replaced by the folder and the file"
		else
			fail "without --force: rc=$rc $msg $(ls -la "$out")"
		fi
	else
		"$IMDR" restore "$repo" latest "$out" --source dirs --force --quiet
		rc=$?
		check "with --force, twice over: the folder and files are there" \
			sh -c "[ $rc -eq 0 ] && [ -f '$out/dir/sub/inner.txt' ] && [ ! -L '$out/dir' ] && [ ! -L '$out/file' ]"
	fi
	check "dir/new.txt landed in the target ($force)" cmp "$out/dir/new.txt" "$T/b/dir/new.txt"
	check "deep/precious landed in the target ($force)" cmp "$out/deep/precious" "$T/b/deep/precious"
	after=$(snap_else)
	if [ "$after" = "$before" ]; then
		pass "nothing created, overwritten or chmod'ed in the link's target ($force)"
	else
		fail "the link's target changed ($force): $(diff <(echo "$before") <(echo "$after"))"
	fi
	check "the folder's own mode came back (0777, not the link target's) ($force)" test "$(stat -c %a "$out/dir")" = 777
	check "setuid dropped by default ($force)" test "$(stat -c %a "$out/suid")" = 755
	check "setgid dropped by default ($force)" test "$(stat -c %a "$out/sgid")" = 775
done

"$IMDR" restore "$repo" latest "$T/keep" --source dirs --keep-setuid --quiet || fail "restore --keep-setuid"
check "--keep-setuid restores setuid" test "$(stat -c %a "$T/keep/suid")" = 4755
check "--keep-setuid restores setgid" test "$(stat -c %a "$T/keep/sgid")" = 2775

# --include through a link: the path below it is made below the target
"$IMDR" restore "$repo" latest "$T/inc" --source links --quiet || fail "restore links for include"
"$IMDR" restore "$repo" latest "$T/inc" --source dirs --include dir/sub --quiet
rc=$?
check "--include dir/sub through a link: made in the target, not through it" \
	sh -c "[ $rc -eq 0 ] && [ -f '$T/inc/dir/sub/inner.txt' ] && [ ! -L '$T/inc/dir' ] && [ ! -e '$else/sub/inner.txt' ]"
check "and the link's target is still untouched" test "$(snap_else)" = "$before"
exit 0
