#!/bin/bash
# bench/ops.sh — the operations figures of issue #16, side by side in one run:
#
#  1. status: `imdr status` from a job's state for a repository of 1,000
#     snapshots (target: <= 50 ms, the whole process), and `status --live`:
#     its LIST requests on local disk and on s3rver (target: one listing);
#  2. drill: `imdr drill --sample 5%` of the full generated export against
#     `imdr restore` of all of it (target: <= 10 % of the restore's time),
#     page cache dropped before each when run as root, both writing to a
#     tmpfs then (see below); a second figure with the key cached in both,
#     and a third onto the repository's disk, the restore with its final
#     sync; the drill's phases from its own reports; and
#     a second figure with the repository's key cached for both (opt-in
#     --key-cache: no scrypt in either);
#  3. a no-change `imdr run` of a job over the same export, already backed
#     up (target: <= 1 s locally).
#
# The repository of step 2 and 3 uses the real key derivation (scrypt), as
# a user's does; the 1,000 snapshots of step 1 are made with a cheap one
# (IMDR_TEST_FAST_KDF) to make them in seconds, which `status` without
# --live never touches anyway. Prints the figures and writes
# bench/results/<time>-ops.json. Environment: BENCH_DIR (scratch, default
# /var/tmp/imdr-bench-ops), RUNS (repeats, median; default 3), PRESET
# (gen_corpus preset, default full), SNAPSHOTS (default 1000), KEEP=1.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
GEN=$TOP/$BUILD/tools/gen_corpus
S3RVER=$TOP/.deps/npm/node_modules/.bin/s3rver
RUNS=${RUNS:-3}
PRESET=${PRESET:-full}
NSNAP=${SNAPSHOTS:-1000}
B=${BENCH_DIR:-/var/tmp/imdr-bench-ops}
for t in "$IMDR" "$GEN"; do
	[ -x "$t" ] || { echo "bench: $t is missing (make)" >&2; exit 1; }
done
rm -rf "$B"; mkdir -p "$B"
printf 'bench passphrase\n' >"$B/pass"; chmod 600 "$B/pass"
export IMDR_PASSWORD_FILE=$B/pass XDG_CACHE_HOME=$B/cache
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -d "$B/repo" ] && "$IMDR" key forget "$B/repo" >/dev/null 2>&1
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
	COLD=cold
else
	drop() { sync; }
	COLD=warm
fi
# median_ms N CMD...: run CMD N times (output discarded), print the median in ms
median_ms() {
	local n=$1; shift
	python3 - "$n" "$@" <<'EOF'
import statistics, subprocess, sys, time
n = int(sys.argv[1]); cmd = sys.argv[2:]
t = []
for _ in range(n):
    a = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append((time.perf_counter() - a) * 1000)
print("%.1f" % statistics.median(t))
EOF
}
# once_ms CMD...: one run with the page cache dropped before it, in ms;
# its standard output goes to $ONCE_OUT (default: nowhere)
once_ms() {
	local a b
	rm -rf "$OUT/restore" "$OUT"/imdr-drill-*; drop
	a=$(date +%s%N); "$@" >"${ONCE_OUT:-/dev/null}" 2>/dev/null; b=$(date +%s%N)
	echo $(( (b - a) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== drill and no-change run: $PRESET export"
"$GEN" --out "$B/export" --preset "$PRESET" >/dev/null
du -sb "$B/export" | awk '{ printf "export: %.2f GiB, ", $1 / 1073741824 }'
find "$B/export" -type f | wc -l | awk '{ print $1 " files" }'
"$IMDR" init "$B/repo" >/dev/null
"$IMDR" backup "$B/repo" "$B/export" --source bench --quiet
# Restores and drills write to a tmpfs when this runs as root: the shared
# disk's inode allocator slows every file created after many were deleted
# (ext4 skips recently freed inodes), which would make whichever runs
# second look slower. The repository stays on disk, read cold. The runs
# alternate, restore then drill, so both see the same machine.
OUT=$B/out
mkdir -p "$OUT"
if [ "$COLD" = cold ] && mount -t tmpfs -o size=4g imdr-bench "$OUT" 2>/dev/null; then
	OUTFS=tmpfs
	cleanup_mount() { umount "$OUT" 2>/dev/null; }
else
	OUTFS=disk
	cleanup_mount() { :; }
fi
# Each drill prints its JSON report: the phases below are the medians of
# the timed runs' own figures.
rt=() dt=()
for i in $(seq 1 "$RUNS"); do
	rt+=($(once_ms "$IMDR" restore "$B/repo" latest "$OUT/restore" --quiet))
	dt+=($(ONCE_OUT=$B/drill-$i.json once_ms "$IMDR" drill "$B/repo" --sample 5% --scratch "$OUT" --json))
done
restore_ms=$(median "${rt[@]}")
drill_ms=$(median "${dt[@]}")
open_ms=$(median_ms "$RUNS" "$IMDR" snapshots "$B/repo" --json)
# phases: opening the repository (setup), the snapshot, the first
# message, the sample's restore with every file read back and hashed,
# the verdicts after it, the scratch folder's removal, drill_run in all,
# and the rest of the process (starting, the audit record, the report)
phases() {	# phases WALL_MS_LIST JSON_FILES...
	python3 - "$@" <<'PY'
import json, statistics, sys
walls = [float(x) for x in sys.argv[1].split()]
ds = [json.load(open(f)) for f in sys.argv[2:]]
med = lambda v: round(statistics.median(v) * 1000, 1)
r = [d["replicas"][0] for d in ds]
print(" ".join(str(x) for x in (
    med([d["setup_seconds"] for d in ds]), med([x["open_seconds"] for x in r]),
    med([x["first_message_seconds"] - x["open_seconds"] for x in r]),
    med([x["restore_seconds"] for x in r]), med([x["verify_seconds"] for x in r]),
    med([x["cleanup_seconds"] for x in r]), med([x["manifest_seconds"] for x in r]),
    med([d["seconds"] for d in ds]),
    round(statistics.median([w - 1000 * (d["setup_seconds"] + d["seconds"]) for w, d in zip(walls, ds)]), 1),
    r[0]["files_verified"], r[0]["bytes_verified"], r[0]["files_total"], r[0]["bytes_total"])))
PY
}
read -r p_setup p_open p_first p_restore p_verify p_cleanup p_manifest p_run p_rest \
    dfiles dbytes tfiles tbytes < <(phases "${dt[*]}" $(seq -f "$B/drill-%g.json" 1 "$RUNS"))
echo "full restore ($COLD, into $OUTFS, median of $RUNS): $restore_ms ms (runs: ${rt[*]})"
echo "drill --sample 5% ($COLD, into $OUTFS, median of $RUNS): $drill_ms ms (runs: ${dt[*]}); $dfiles of $tfiles files, $dbytes of $tbytes bytes verified"
echo "  phases (medians, ms): opening the repository $p_setup, the snapshot $p_open, first message $p_first,"
echo "  sample restored, read back and hashed $p_restore (manifest.json alongside: $p_manifest), verdicts $p_verify,"
echo "  scratch removed $p_cleanup; drill_run in all $p_run; the rest of the process $p_rest"
echo "opening the repository (imdr snapshots: the passphrase's scrypt, the listing): $open_ms ms, in both"
ratio=$(awk -v a="$drill_ms" -v b="$restore_ms" 'BEGIN { printf "%.1f", 100 * a / b }')
ratio_open=$(awk -v a="$drill_ms" -v b="$restore_ms" -v o="$open_ms" 'BEGIN { printf "%.1f", 100 * (a - o) / (b - o) }')
echo "drill / restore: $ratio % (target <= 10 %); without the opening both pay: $ratio_open %"

# The same with the repository's key cached for both (imdr --key-cache:
# opt-in, see README): no key derivation in either. A second figure; the
# one above, with the passphrase's scrypt in both, is the target's.
"$IMDR" --key-cache 10m snapshots "$B/repo" >/dev/null
rtk=() dtk=()
for i in $(seq 1 "$RUNS"); do
	rtk+=($(once_ms "$IMDR" --key-cache 10m restore "$B/repo" latest "$OUT/restore" --quiet))
	dtk+=($(ONCE_OUT=$B/drill-kc-$i.json once_ms "$IMDR" --key-cache 10m drill "$B/repo" --sample 5% --scratch "$OUT" --json))
done
"$IMDR" key forget "$B/repo" >/dev/null
restore_kc_ms=$(median "${rtk[@]}")
drill_kc_ms=$(median "${dtk[@]}")
read -r k_setup _ _ k_restore _ _ _ k_run k_rest _ < <(phases "${dtk[*]}" $(seq -f "$B/drill-kc-%g.json" 1 "$RUNS"))
ratio_kc=$(awk -v a="$drill_kc_ms" -v b="$restore_kc_ms" 'BEGIN { printf "%.1f", 100 * a / b }')
echo "with the key cached in both (--key-cache): restore $restore_kc_ms ms (runs: ${rtk[*]}), drill $drill_kc_ms ms (runs: ${dtk[*]}): $ratio_kc %"
echo "  phases (medians, ms): opening $k_setup, sample restored $k_restore, drill_run $k_run, the rest $k_rest"
rm -f "$B"/drill-*.json
cleanup_mount

# A third figure: both onto the repository's own disk, the restore with
# its final sync (what a recovery is: #13's benchmark times it so), the
# drill as it runs (its scratch is read back and removed: nothing to make
# durable). The passphrase's scrypt in both, as in the first figure.
if [ "$OUTFS" = tmpfs ]; then
	OUT=$B/outdisk
	mkdir -p "$OUT"
	rtd=() dtd=()
	for i in $(seq 1 "$RUNS"); do
		rtd+=($(once_ms sh -c '"$1" restore "$2" latest "$3/restore" --quiet && sync' sh "$IMDR" "$B/repo" "$OUT"))
		dtd+=($(once_ms "$IMDR" drill "$B/repo" --sample 5% --scratch "$OUT" --quiet))
	done
	rm -rf "$OUT"
	restore_disk_ms=$(median "${rtd[@]}")
	drill_disk_ms=$(median "${dtd[@]}")
	ratio_disk=$(awk -v a="$drill_disk_ms" -v b="$restore_disk_ms" 'BEGIN { printf "%.1f", 100 * a / b }')
	echo "onto the disk (the restore with its final sync): restore $restore_disk_ms ms (runs: ${rtd[*]}), drill $drill_disk_ms ms (runs: ${dtd[*]}): $ratio_disk %"
else
	restore_disk_ms=null drill_disk_ms=null ratio_disk=null rtd=() dtd=()
fi

mkdir -p "$B/jobs"
cat >"$B/jobs/bench.conf" <<EOF
[job]
repository = $B/repo
password-file = $B/pass
state-dir = $B/state/bench
metrics-dir = $B/metrics
[source]
path = $B/export
name = bench
[targets]
rpo = 1h
EOF
"$IMDR" run bench --jobs-dir "$B/jobs" --quiet || echo "bench: the first job run failed" >&2
run_ms=$(median_ms "$RUNS" "$IMDR" run bench --jobs-dir "$B/jobs" --quiet)
echo "no-change imdr run (warm, median of $RUNS): $run_ms ms (target <= 1000 ms)"

echo "== status: $NSNAP snapshots"
mkdir -p "$B/tiny"; echo hello >"$B/tiny/a.txt"
IMDR_TEST_FAST_KDF=1 "$IMDR" init "$B/many" >/dev/null
for i in $(seq 2 "$NSNAP"); do	# the job's run below makes the last one
	IMDR_TEST_FAST_KDF=1 "$IMDR" backup "$B/many" "$B/tiny" --source many --quiet \
		--time "$(date -u -d "@$(( $(date +%s) - (NSNAP - i) * 3600 ))" +%Y-%m-%dT%H:%M:%SZ)" || break
done
cat >"$B/jobs/many.conf" <<EOF
[job]
repository = $B/many
password-file = $B/pass
state-dir = $B/state/many
[source]
path = $B/tiny
name = many
[targets]
rpo = 1h
EOF
IMDR_TEST_FAST_KDF=1 "$IMDR" run many --jobs-dir "$B/jobs" --quiet
nsnap=$("$IMDR" snapshots "$B/many" --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
status_ms=$(median_ms 21 "$IMDR" status --state-dir "$B/state" --job many --quiet)
echo "imdr status, $nsnap snapshots, from the state (median of 21, whole process): $status_ms ms (target <= 50 ms)"
live_local=$(IMDR_TEST_FAST_KDF=1 "$IMDR" status "$B/many" --live --state-dir "$B/state" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["listings"])')
live_ms=$(IMDR_TEST_FAST_KDF=1 median_ms 5 "$IMDR" status "$B/many" --live --state-dir "$B/state" --quiet)
echo "imdr status --live, local: $live_local listing(s) of snapshots/, $live_ms ms (cheap KDF)"
live_s3=null
if [ -x "$S3RVER" ]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$B/s3data"
	NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" --directory "$B/s3data" --port "$port" --address 127.0.0.1 --silent >/dev/null 2>&1 &
	pids+=($!)
	for i in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break; sleep 0.1; done
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	S3="s3://bench/many?endpoint=http://127.0.0.1:$port&path_style=1"
	IMDR_TEST_FAST_KDF=1 "$IMDR" init "$S3" --replica-of "$B/many" >/dev/null
	IMDR_TEST_FAST_KDF=1 "$IMDR" copy "$B/many" "$S3" --quiet
	live_s3=$(IMDR_TEST_FAST_KDF=1 "$IMDR" status "$S3" --live --source many --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["listings"])')
	echo "imdr status --live, s3rver: $live_s3 listing(s) of snapshots/ for $nsnap snapshots (S3 gives 1,000 names a request: $(( (nsnap + 999) / 1000 )) request(s))"
fi

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ops.json
cat >"$out" <<EOF
{"preset":"$PRESET","cache":"$COLD","runs":$RUNS,
 "restore_ms":$restore_ms,"drill_sample5_ms":$drill_ms,"drill_over_restore_pct":$ratio,
 "open_ms":$open_ms,"drill_over_restore_without_open_pct":$ratio_open,"out_fs":"$OUTFS",
 "drill_phases_ms":{"setup":$p_setup,"open":$p_open,"first_message":$p_first,"restore":$p_restore,
  "verify":$p_verify,"cleanup":$p_cleanup,"manifest":$p_manifest,"drill_run":$p_run,"rest":$p_rest},
 "key_cached":{"restore_ms":$restore_kc_ms,"drill_sample5_ms":$drill_kc_ms,"drill_over_restore_pct":$ratio_kc,
  "restore_runs":"${rtk[*]}","drill_runs":"${dtk[*]}","drill_phases_ms":{"setup":$k_setup,"restore":$k_restore,"drill_run":$k_run,"rest":$k_rest}},
 "disk":{"restore_with_sync_ms":$restore_disk_ms,"drill_sample5_ms":$drill_disk_ms,"drill_over_restore_pct":$ratio_disk,
  "restore_runs":"${rtd[*]:-}","drill_runs":"${dtd[*]:-}"},
 "restore_runs":"${rt[*]}","drill_runs":"${dt[*]}",
 "drill_files":$dfiles,"drill_bytes":$dbytes,"files":$tfiles,"bytes":$tbytes,
 "nochange_run_ms":$run_ms,
 "snapshots":$nsnap,"status_ms":$status_ms,"status_live_listings_local":$live_local,
 "status_live_ms_local":$live_ms,"status_live_listings_s3":$live_s3,
 "host":"$(nproc) cores, shared"}
EOF
echo "wrote $out"
