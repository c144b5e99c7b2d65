#!/bin/bash
# Issue #11, item 4: a pack deleted from the repository. check overflowed a
# stack buffer here (73 bytes into char hex[65]); now it names the pack and
# each file whose data was in it, exits 1, and (under SANITIZE=1, where this
# is an ASan build) leaves no sanitizer report. Also with --read-data, and
# with the pack's index object gone too.
. "$(dirname "$0")/lib.sh"

repo=$T/repo src=$T/src
mkdir -p "$src/sub"
printf 'small\n' >"$src/kept.txt"
"$IMDR" init "$repo" >/dev/null && "$IMDR" backup "$repo" "$src" --quiet || { fail "setup"; exit 1; }
(cd "$repo" && ls data/*/*) >"$T/packs1"
# the second backup's data goes to a pack of its own: that one is lost
head -c 300000 /dev/urandom >"$src/sub/lost.bin"
"$IMDR" backup "$repo" "$src" --quiet || { fail "setup 2"; exit 1; }
pack=$(cd "$repo" && ls -S data/*/* | grep -v -x -F -f "$T/packs1" | head -1)
id=$(basename "$pack")
rm "$repo/$pack"

sanitizer() { grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:\|stack smashing" <<<"$1"; }

out=$("$IMDR" check "$repo" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"pack $pack is listed in the index but missing"* ]] && ! sanitizer "$out"; then
	pass "check names the missing pack, exit 1, no sanitizer report"
else
	fail "check: rc=$rc $out"
fi
if [[ "$out" == *"sub/lost.bin: chunk 0 is in pack $pack, which is missing"* ]] && [[ "$out" != *kept.txt* ]]; then
	pass "check names the file whose data was in it, and only that one"
else
	fail "check, files: $out"
fi
out=$("$IMDR" check "$repo" --read-data 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$id"* ]] && ! sanitizer "$out"; then pass "check --read-data too"; else fail "check --read-data: rc=$rc $out"; fi

# without the index that listed it, the pack is known only from the tree
rm "$repo"/index/*
out=$("$IMDR" check "$repo" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"sub/lost.bin: chunk 0 is in pack $pack, which is missing"* ]] && ! sanitizer "$out"; then
	pass "with its index gone as well, check still names the pack through the file"
else
	fail "check without index: rc=$rc $out"
fi
out=$("$IMDR" restore "$repo" latest "$T/out" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *lost.bin* ]] && cmp -s "$T/out/kept.txt" "$src/kept.txt" && [ ! -e "$T/out/sub/lost.bin" ] && ! sanitizer "$out"; then
	pass "restore restores the rest and names the file it could not"
else
	fail "restore: rc=$rc $out"
fi
exit 0
