#!/bin/bash
# Faults between imdr and the service, made by tests/tools/faultproxy: 503s
# and dropped connections for a while (backup, restore and the mount still
# finish, correctly), a server that hangs (a clear timeout within the retry
# budget, not a hang), a mount whose backend goes away (EIO, not a hang), and
# a 404 reported at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
start_s3rver || { fail "s3rver did not start: $(tail -3 "$T/s3rver.log" 2>/dev/null)"; exit 1; }

src=$T/src
mkdir -p "$src/a"
head -c 3000000 /dev/urandom >"$src/a/one.bin"
head -c 2000000 /dev/urandom >"$src/a/two.bin"
printf 'text\n' >"$src/t.txt"

# 503 for the first 8 connections, then every 4th connection reset
start_proxy "$S3_PORT" --fail 8 --drop 4
U="s3://faults/repo?endpoint=http://127.0.0.1:$PROXY_PORT&path_style=1&connections=2"
export IMDR_RETRY_SECS=60
check "init through 503s and resets" "$IMDR" init "$U"
check "backup through 503s and resets" "$IMDR" backup "$U" "$src" --quiet
check "restore through resets is byte-identical" sh -c "'$IMDR' restore '$U' latest '$T/out' --quiet && diff -r '$src' '$T/out'"
check "check --read-data through resets" "$IMDR" check "$U" --read-data
if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	mkdir -p "$T/m"; on_exit "fusermount3 -u '$T/m'"
	"$MOUNT_IMDR" "$U" "$T/m" && check "the mount reads right through resets" diff -r "$T/m/latest/" "$src"
	fusermount3 -u "$T/m"
fi

# a 50 ms round-trip link (25 ms each way): every request on a kept-alive
# connection costs one round trip, not more, and the data arrives intact
start_proxy "$S3_PORT" --delay-ms 25
D="s3://faults/repo?endpoint=http://127.0.0.1:$PROXY_PORT&path_style=1"
pack=$("$TOOLS/betool" "$D" list data/ | sort -k2 -n | tail -1 | cut -d' ' -f1)	# the biggest
out=$("$TOOLS/betool" "$D" bench-get "$pack" 20 4096 1 2>&1)
avg=$(printf '%s' "$out" | sed -n 's/.*avg_ms=\([0-9.]*\).*/\1/p')
if [ -n "$avg" ] && python3 -c "import sys; a=float(sys.argv[1]); sys.exit(not (48 <= a < 100))" "$avg"; then
	pass "ranged GETs over a 50 ms link: one round trip each ($out)"
else
	fail "ranged GETs over the delay link: $out"
fi
check "restore over the 50 ms link is byte-identical" sh -c "'$IMDR' restore '$D' latest '$T/out-delay' --quiet && diff -r '$src' '$T/out-delay'"

# a 404 is an answer, not a fault: reported at once, no retries
t0=$(date +%s%N)
out=$("$IMDR" snapshots "s3://faults/none?endpoint=http://127.0.0.1:$S3_PORT&path_style=1" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc -ne 0 ] && [ $ms -lt 3000 ]; then pass "a missing object is reported at once ($ms ms: $out)"; else fail "404: rc=$rc ${ms} ms $out"; fi

# a server that accepts and never answers: a timeout, within the budget
"$TOOLS/faultproxy" --hang --port-file "$T/hang.port" >/dev/null &
on_exit "kill $!"
for i in $(seq 1 50); do [ -s "$T/hang.port" ] && break; sleep 0.05; done
H="s3://faults/repo?endpoint=http://127.0.0.1:$(cat "$T/hang.port")&path_style=1"
t0=$(date +%s)
out=$(IMDR_HTTP_TIMEOUT=2 IMDR_RETRY_SECS=5 timeout 60 "$IMDR" snapshots "$H" 2>&1); rc=$?
secs=$(( $(date +%s) - t0 ))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $secs -le 20 ] && [[ "$out" == *"gave up"* ]]; then pass "a hung server is a clear error after the retry budget (${secs} s: $out)"; else fail "hung server: rc=$rc ${secs}s $out"; fi

# the backend goes away under a mount: reads fail with EIO, nothing hangs
if have_fuse && [ -x "$MOUNT_IMDR" ]; then
	start_proxy "$S3_PORT"
	V="s3://faults/repo?endpoint=http://127.0.0.1:$PROXY_PORT&path_style=1"
	IMDR_RETRY_SECS=3 IMDR_HTTP_TIMEOUT=2 "$MOUNT_IMDR" "$V" "$T/m" -o prefetch=0 || fail "mount through the proxy"
	ls "$T/m/latest/a" >/dev/null
	kill "$PROXY_PID"	# this proxy only, by its id
	wait "$PROXY_PID" 2>/dev/null
	t0=$(date +%s)
	out=$(timeout 60 cat "$T/m/latest/a/two.bin" 2>&1 >/dev/null); rc=$?
	secs=$(( $(date +%s) - t0 ))
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ "$out" == *"Input/output error"* ]] && [ $secs -le 30 ]; then
		pass "a read whose backend is gone is EIO after ${secs} s, not a hang"
	else
		fail "backend gone: rc=$rc ${secs}s $out"
	fi
	check "the mount still answers" ls "$T/m/latest"
	fusermount3 -u "$T/m"
fi
exit 0
