#!/bin/bash
# bench/replicas.sh — replicated repositories, side by side, in one run:
#
#  1. copy: `imdr copy` of a repository (gen_corpus small preset plus a
#     64 MiB file) to s3rver behind a 50 ms round trip (faultproxy, 25 ms
#     each way), against `rclone copy` of the same repository folder to
#     the same server through the same proxy (rclone's default 4 transfers,
#     and 16 like imdr);
#  2. no-op copy: a repository of 200 snapshots, already copied: the time
#     of a copy with nothing to do (its listings are the round trips);
#  3. failover: mount.imdr over local + S3 with S3 black-holed (SIGUSR1 to
#     its proxy) against the local replica mounted alone: first byte of a
#     small file after listing its folder, and a 64 MiB sequential read;
#  4. hedging: 4 KiB random reads (a repository of 64 KiB chunks, one
#     256 MiB file, chunk cache 8 MiB, no read-ahead) from two S3 replicas
#     behind 20 ms round trips, the first answering 1 in 20 GETs 500 ms
#     late: p50/p99 with hedging, without, and from the healthy replica
#     alone.
#
# Prints the figures and ratios and writes bench/results/<time>-replicas.json.
# Environment: BENCH_DIR (scratch, default /var/tmp/imdr-bench-replicas),
# RUNS (repeats of short steps, median; default 3), READS (random reads per
# configuration, default 1000), KEEP=1 keeps the scratch folder.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
MOUNT_IMDR=$TOP/$BUILD/mount.imdr
GEN=$TOP/$BUILD/tools/gen_corpus
PROXY=$TOP/$BUILD/tools/faultproxy
S3RVER=$TOP/.deps/npm/node_modules/.bin/s3rver
RUNS=${RUNS:-3}
READS=${READS:-1000}
B=${BENCH_DIR:-/var/tmp/imdr-bench-replicas}
for t in "$IMDR" "$MOUNT_IMDR" "$GEN" "$PROXY" "$S3RVER"; do
	[ -x "$t" ] || { echo "bench: $t is missing (make, make test-deps)" >&2; exit 1; }
done
command -v rclone >/dev/null || { echo "bench: rclone is missing (scripts/deps.sh bench)" >&2; exit 1; }

rm -rf "$B"; mkdir -p "$B/m"
printf 'bench passphrase\n' >"$B/pass"; chmod 600 "$B/pass"
export IMDR_PASSWORD_FILE=$B/pass XDG_CACHE_HOME=$B/cache
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
pids=()
cleanup() {
	for d in "$B"/m/*; do mountpoint -q "$d" 2>/dev/null && fusermount3 -u "$d"; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
else
	drop() { sync; }
fi
now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
proxy() {	# TARGET_PORT ARGS... -> PORT (and PROXY_PID)
	local f=$B/port.$RANDOM
	"$PROXY" --to "$@" --port-file "$f" >/dev/null &
	PROXY_PID=$!; pids+=("$PROXY_PID")
	for _ in $(seq 1 100); do [ -s "$f" ] && break; sleep 0.05; done
	PORT=$(cat "$f"); wait_port "$PORT"
}
mount_wait() { for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
declare -A R

sp=$(free_port); mkdir -p "$B/s3data"
NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" --directory "$B/s3data" --port "$sp" --address 127.0.0.1 --silent >/dev/null 2>&1 &
pids+=($!); wait_port "$sp"
proxy "$sp" --delay-ms 25; P50=$PORT
s3() { echo "s3://$1/r?endpoint=http://127.0.0.1:$2&path_style=1"; }

echo "== corpus: gen_corpus --preset small, plus a 64 MiB file; 2 cores shared with other work: timings are noisy"
"$GEN" --out "$B/src" --preset small --seed 7 >/dev/null
head -c $((64 << 20)) /dev/urandom >"$B/src/big64.bin"
small=$(find "$B/src/conversations" -path '*attachments*' -type f -size -100k | sort | sed -n 20p); small=${small#$B/src/}
L=$B/local
"$IMDR" init "$L" >/dev/null && "$IMDR" backup "$L" "$B/src" --quiet --format files || exit 1
R[repo_mib]=$(du -sm "$L" | cut -f1)
R[repo_objects]=$(find "$L" -type f | wc -l)
echo "   repository: ${R[repo_mib]} MiB in ${R[repo_objects]} objects"

# ---- 1. copy vs rclone copy, over the 50 ms link ----
echo "== 1. copy to s3rver over a 50 ms round trip"
ic=()
for r in $(seq 1 "$RUNS"); do
	U=$(s3 "copy$r" "$P50")
	"$IMDR" init "$U" --replica-of "$L" >/dev/null || exit 1
	t0=$(now); "$IMDR" copy "$L" "$U" --quiet || echo "bench: imdr copy failed" >&2; t1=$(now)
	ic+=("$(ms "$t0" "$t1")")
done
export RCLONE_CONFIG_B_TYPE=s3 RCLONE_CONFIG_B_PROVIDER=Other RCLONE_CONFIG_B_ENDPOINT=http://127.0.0.1:$P50
export RCLONE_CONFIG_B_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_B_SECRET_ACCESS_KEY=S3RVER RCLONE_CONFIG_B_FORCE_PATH_STYLE=true
rc() { env -u AWS_CA_BUNDLE rclone "$@" 2>&1 | grep -v NOTICE; }	# the environment's CA bundle is not for plain http
for tr in 4 16; do
	rt=()
	for r in $(seq 1 "$RUNS"); do
		rc mkdir "B:rclone$tr-$r"
		t0=$(now); rc copy --transfers "$tr" "$L" "B:rclone$tr-$r/r"; t1=$(now)
		rt+=("$(ms "$t0" "$t1")")
	done
	R[rclone${tr}_copy_ms]=$(median "${rt[@]}")
done
R[imdr_copy_ms]=$(median "${ic[@]}")
n_r=$(rc ls "B:rclone16-1/r" | wc -l)
[ "$n_r" = "${R[repo_objects]}" ] || echo "bench: rclone copied $n_r of ${R[repo_objects]} objects" >&2
best=$(calc "(${R[rclone4_copy_ms]} < ${R[rclone16_copy_ms]}) ? ${R[rclone4_copy_ms]} : ${R[rclone16_copy_ms]}" 1)
R[copy_ratio]=$(calc "$best / ${R[imdr_copy_ms]}")
echo "   imdr copy ${R[imdr_copy_ms]} ms; rclone copy ${R[rclone4_copy_ms]} ms (4 transfers), ${R[rclone16_copy_ms]} ms (16); rclone best / imdr = ${R[copy_ratio]}x"

# ---- 2. a no-op copy of 200 snapshots ----
echo "== 2. no-op copy, 200 snapshots, over the 50 ms link"
L2=$B/many; mkdir -p "$B/tiny"
"$IMDR" init "$L2" >/dev/null
for i in $(seq 1 200); do
	printf 'message %d\n' "$i" >"$B/tiny/m.txt"
	"$IMDR" backup "$L2" "$B/tiny" --quiet --no-cache --source "s$((i % 7))" \
		--time "$(date -u -d "@$((1767225600 + i * 60))" +%FT%TZ)" || exit 1
done
U2=$(s3 many "$P50")
"$IMDR" init "$U2" --replica-of "$L2" >/dev/null && "$IMDR" copy "$L2" "$U2" --quiet || exit 1
nt=()
for r in $(seq 1 "$RUNS"); do
	t0=$(now); out=$("$IMDR" copy "$L2" "$U2" --json); t1=$(now)
	nt+=("$(ms "$t0" "$t1")")
done
R[noop_copy_ms]=$(median "${nt[@]}")
R[noop_objects]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listed"])' "$out")
echo "   ${R[noop_objects]} objects, 200 snapshots: a copy with nothing to do takes ${R[noop_copy_ms]} ms (one passphrase KDF, DST opened with its keys, 5 listings a side at once, 50 ms each)"

# ---- 3. failover under a mount ----
echo "== 3. mount over local + S3, S3 black-holed, against local alone"
proxy "$sp"; PF=$PORT; PFPID=$PROXY_PID
US=$(s3 fail "$PF")
"$IMDR" init "$US" --replica-of "$L" >/dev/null && "$IMDR" copy "$L" "$US" --quiet || exit 1
measure_mount() {	# NAME SOURCE [black-hole]
	local fb=() sq=() mnt=$B/m/$1
	mkdir -p "$mnt"
	for r in $(seq 1 "$RUNS"); do
		drop
		"$MOUNT_IMDR" "$2" "$mnt" || { echo "bench: mount $2 failed" >&2; return; }
		mount_wait "$mnt/latest"
		head -c 1 "$mnt/latest/$small" >/dev/null
		[ "${3:-}" = black-hole ] && kill -USR1 "$PFPID"
		ls "$(dirname "$mnt/latest/$small")" >/dev/null
		t0=$(now); head -c 1 "$mnt/latest/$(dirname "$small")/$(ls "$(dirname "$mnt/latest/$small")" | sed -n 3p)" >/dev/null; t1=$(now)
		fb+=("$(ms "$t0" "$t1")")
		t0=$(now); cat "$mnt/latest/big64.bin" >/dev/null; t1=$(now)
		sq+=("$(ms "$t0" "$t1")")
		grep -q "read errors     0 " "$mnt/.imdr/stats" || echo "bench: $1 returned EIO" >&2
		fusermount3 -u "$mnt"
		kill -HUP "$PFPID"
		sleep 0.2
	done
	R[$1_first_byte_ms]=$(median "${fb[@]}")
	R[$1_read64_ms]=$(median "${sq[@]}")
}
measure_mount single "$L"
measure_mount failover "multi:$L|$US" black-hole
R[failover_first_byte_ratio]=$(calc "${R[failover_first_byte_ms]} / ${R[single_first_byte_ms]}")
R[failover_read64_ratio]=$(calc "${R[failover_read64_ms]} / ${R[single_read64_ms]}")
echo "   local alone: first byte ${R[single_first_byte_ms]} ms, 64 MiB in ${R[single_read64_ms]} ms"
echo "   local + S3 black-holed: first byte ${R[failover_first_byte_ms]} ms (${R[failover_first_byte_ratio]}x), 64 MiB in ${R[failover_read64_ms]} ms (${R[failover_read64_ratio]}x)"

# ---- 4. hedged reads ----
echo "== 4. 4 KiB random reads, two S3 replicas (20 ms round trips), the first 500 ms late on 1 GET in 20"
L3=$B/small-chunks; mkdir -p "$B/one"
head -c $((256 << 20)) /dev/urandom >"$B/one/f.bin"
"$IMDR" init "$L3" --chunk-size 65536 >/dev/null && "$IMDR" backup "$L3" "$B/one" --quiet || exit 1
proxy "$sp" --delay-ms 10 --slow-every 20 --slow-ms 500; PSLOW=$PORT
proxy "$sp" --delay-ms 10; PFAST=$PORT
for b in hedge-a hedge-b; do
	"$IMDR" init "$(s3 $b "$sp")" --replica-of "$L3" >/dev/null && "$IMDR" copy "$L3" "$(s3 $b "$sp")" --quiet || exit 1
done
cat >"$B/rr.py" <<'EOF'
import os, random, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
pages = os.fstat(fd).st_size // 4096
random.seed(int(sys.argv[3]))
lat = []
for _ in range(int(sys.argv[2])):
    off = random.randrange(pages) * 4096
    t = time.perf_counter(); os.pread(fd, 4096, off); lat.append(time.perf_counter() - t)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print("%.2f %.2f" % (q(0.50), q(0.99)))
EOF
random_reads() {	# NAME SOURCE HEDGE SEED
	local mnt=$B/m/$1 out
	mkdir -p "$mnt"
	"$MOUNT_IMDR" "$2" "$mnt" -o "cache_size=8M,prefetch=0,hedge=$3" || { echo "bench: mount $2 failed" >&2; return; }
	mount_wait "$mnt/latest"
	out=$(python3 "$B/rr.py" "$mnt/latest/f.bin" "$READS" "$4")
	R[$1_p50_ms]=${out% *}; R[$1_p99_ms]=${out#* }
	grep -q "read errors     0 " "$mnt/.imdr/stats" || echo "bench: $1 returned EIO" >&2
	[ "$1" = hedged ] && grep -A3 '^replica' "$mnt/.imdr/stats" | sed 's/^/      /'
	fusermount3 -u "$mnt"
}
random_reads healthy "$(s3 hedge-b "$PFAST")" 1 11
random_reads hedged "multi:$(s3 hedge-a "$PSLOW")|$(s3 hedge-b "$PFAST")" 1 12
random_reads unhedged "multi:$(s3 hedge-a "$PSLOW")|$(s3 hedge-b "$PFAST")" 0 13
R[hedged_p99_ratio]=$(calc "${R[hedged_p99_ms]} / ${R[healthy_p99_ms]}")
R[unhedged_p99_ratio]=$(calc "${R[unhedged_p99_ms]} / ${R[healthy_p99_ms]}")
echo "   healthy replica alone: p50 ${R[healthy_p50_ms]} ms, p99 ${R[healthy_p99_ms]} ms"
echo "   slow + healthy, hedged: p50 ${R[hedged_p50_ms]} ms, p99 ${R[hedged_p99_ms]} ms (${R[hedged_p99_ratio]}x the healthy p99)"
echo "   slow + healthy, no hedging: p50 ${R[unhedged_p50_ms]} ms, p99 ${R[unhedged_p99_ms]} ms (${R[unhedged_p99_ratio]}x)"

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-replicas.json
{
	printf '{"date":"%s","machine":{"cores":%d,"shared":true},"runs":%d,"reads":%d,"results":{' \
		"$(date -u +%FT%TZ)" "$(nproc)" "$RUNS" "$READS"
	first=1
	for k in $(printf '%s\n' "${!R[@]}" | sort); do
		[ $first = 1 ] || printf ','; first=0
		printf '"%s":%s' "$k" "${R[$k]}"
	done
	printf '}}\n'
} >"$out"
echo "== results in $out"
