#!/bin/bash
# Issue #11, item 10: messages were cut at 1,024 bytes, before the errno
# reason, and node.c formatted its message into itself (garbled). With a
# path of 3,000+ bytes the one line imdr prints still ends with the reason;
# a tree node that does not decode is named, then what is wrong, whole.
. "$(dirname "$0")/lib.sh"

repo=$T/repo
"$IMDR" init "$repo" >/dev/null || { fail "init"; exit 1; }
# a folder 3,000+ bytes deep in name (components of 200 bytes)
long=$T
part=$(printf 'p%.0s' $(seq 200))
while [ ${#long} -lt 3100 ]; do long=$long/$part; done
mkdir -p "$long" || { fail "mkdir of a long path"; exit 1; }

out=$("$IMDR" backup "$repo" "$long/no-such-source" 2>&1); rc=$?
if [ $rc -eq 1 ] && [ ${#out} -gt 3100 ] && [[ "$out" == *"$long/no-such-source: No such file or directory" ]]; then
	pass "backup of a missing 3,000-byte path: the line ends with the reason (${#out} bytes)"
else
	fail "missing long source: rc=$rc ${#out} bytes, ends: ${out: -120}"
fi

mkdir -p "$T/src" && printf 'x\n' >"$T/src/a.txt"
"$IMDR" backup "$repo" "$T/src" --quiet || fail "backup"
printf 'a file, not a folder\n' >"$long/file"
out=$("$IMDR" restore "$repo" latest "$long/file/out" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$long/file/out: Not a directory" ]]; then
	pass "restore into a 3,000-byte path under a file: the line ends with the reason"
else
	fail "restore under a file: rc=$rc ends: ${out: -120}"
fi

bad=$("$TOOLS/craft" "$repo" badnode) || { fail "craft"; exit 1; }
out=$("$IMDR" ls "$repo" "${bad:0:8}" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" =~ ^imdr:\ tree\ node\ [0-9a-f]{16}:\ malformed\ tree\ node\ \(offset\ [0-9]+\ of\ 25\)$ ]]; then
	pass "a node that does not decode: \"$out\""
else
	fail "bad node message: rc=$rc $out"
fi
exit 0
