#!/bin/bash
# A repository published by a plain web server (python's http.server, with
# directory listings) is read over http:// with ranged GETs: snapshots,
# restore, mount, check; writing is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"

mkdir -p "$T/www" "$T/src/d"
head -c 2500000 /dev/urandom >"$T/src/d/f.bin"
printf 'hello\n' >"$T/src/t.txt"
"$IMDR" init "$T/www/repo" >/dev/null && "$IMDR" backup "$T/www/repo" "$T/src" --quiet || { fail "setup"; exit 1; }
port=$(free_port)
(cd "$T/www" && exec python3 -m http.server "$port" --bind 127.0.0.1 >"$T/http.log" 2>&1) &
on_exit "kill $!"
wait_port "$port" || { fail "http.server did not start"; exit 1; }
U="http://127.0.0.1:$port/repo"
check "snapshots over http://" test "$("$IMDR" snapshots "$U" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
check "restore over http:// is byte-identical" sh -c "'$IMDR' restore '$U' latest '$T/out' --quiet && diff -r '$T/src' '$T/out'"
check "check --read-data over http://" "$IMDR" check "$U" --read-data
check "the packs are read over HTTP (this server ignores Range: imdr cuts the range out)" grep -q "\"GET /repo/data/" "$T/http.log"
if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	mkdir -p "$T/m"; on_exit "fusermount3 -u '$T/m'"
	"$MOUNT_IMDR" "$U" "$T/m" && check "mount over http:// equals the source" diff -r "$T/m/latest/" "$T/src"
	fusermount3 -u "$T/m"
fi
out=$("$IMDR" backup "$U" "$T/src" --quiet 2>&1); rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *read-only* ]]; then pass "writing to http:// is refused ($out)"; else fail "write to http: rc=$rc $out"; fi
exit 0
