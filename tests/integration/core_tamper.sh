#!/bin/bash
# Flip one bit in a pack, an index object, a snapshot, a key slot: each is
# detected and the message names the object.
. "$(dirname "$0")/lib.sh"

src=$T/src
mkdir -p "$src/d"
head -c 300000 /dev/urandom >"$src/d/a.bin"
head -c 300000 /dev/urandom >"$src/d/b.bin"
printf 'hello\n' >"$src/c.txt"
"$IMDR" init "$T/base" >/dev/null && "$IMDR" backup "$T/base" "$src" --quiet || { fail "setup"; exit 1; }

# flip FILE OFFSET: xor one bit at OFFSET (negative: from the end)
flip() {
	python3 - "$1" "$2" <<'PY'
import os, sys
p, off = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(p)
if off < 0: off += size
with open(p, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x10]))
PY
}
fresh() { rm -rf "$T/r"; cp -a "$T/base" "$T/r"; }

# 1. a data pack: check --read-data names the pack; restore of the damaged
#    file fails, the other files still restore.
fresh
pack=$(cd "$T/r" && ls -S data/*/* | head -1)	# the largest pack holds data
flip "$T/r/$pack" 1000
out=$("$IMDR" check "$T/r" --read-data 2>&1); rc=$?
id=$(basename "$pack")
if [ $rc -eq 1 ] && [[ "$out" == *"${id:0:16}"* ]] && [[ "$out" == *authentication* ]]; then pass "bit flip in a pack is named by check --read-data"; else fail "pack flip: rc=$rc out=$out"; fi
out=$("$IMDR" restore "$T/r" latest "$T/o1" --quiet 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"${id:0:16}"* ]]; then pass "restore reports the damaged blob and fails"; else fail "restore over a damaged pack: rc=$rc out=$out"; fi

# 2. an index object
fresh
idx=$(cd "$T/r" && ls index/* | head -1)
flip "$T/r/$idx" 40
out=$("$IMDR" check "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$idx"* ]]; then pass "bit flip in an index object is named by check"; else fail "index flip: rc=$rc out=$out"; fi
check "backup still works over a damaged index (rebuilt from pack headers)" "$IMDR" backup "$T/r" "$src" --quiet

# 3. a snapshot
fresh
snap=$(cd "$T/r" && ls snapshots/* | head -1)
flip "$T/r/$snap" 30
out=$("$IMDR" check "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$snap"* ]]; then pass "bit flip in a snapshot is named by check"; else fail "snapshot flip: rc=$rc out=$out"; fi

# 4. a key slot
fresh
key=$(cd "$T/r" && ls keys/* | head -1)
flip "$T/r/$key" 50
out=$("$IMDR" snapshots "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"$key"* ]]; then pass "bit flip in a key slot is named"; else fail "key flip: rc=$rc out=$out"; fi

# 5. a pack header, and a truncated pack
fresh
flip "$T/r/$pack" -8
out=$("$IMDR" check "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"${id:0:16}"* ]]; then pass "bit flip in a pack header is named by check"; else fail "header flip: rc=$rc out=$out"; fi
fresh
truncate -s -5000 "$T/r/$pack"
out=$("$IMDR" check "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *"${id:0:16}"* ]]; then pass "a truncated pack is named by check"; else fail "truncated pack: rc=$rc out=$out"; fi

# 6. a deleted snapshot breaks the chain, and check says so
fresh
"$IMDR" backup "$T/r" "$src" --quiet
"$IMDR" backup "$T/r" "$src" --quiet
mid=$(cd "$T/r" && ls snapshots/* | sort | sed -n 2p)
rm "$T/r/$mid"
out=$("$IMDR" check "$T/r" 2>&1); rc=$?
if [ $rc -eq 1 ] && [[ "$out" == *missing* ]]; then pass "a deleted snapshot shows as a broken chain"; else fail "chain: rc=$rc out=$out"; fi
