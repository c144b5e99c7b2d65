#!/bin/bash
# bench/lifecycle.sh — retention side by side. A history of DAYS (200)
# daily backups of a generated export (examples/gen_corpus, mutated a
# little each day: --mutate 2 --day N) is made with imdr, restic and borg;
# then the same policy (--keep-daily 7 --keep-weekly 4 --keep-monthly 6)
# is applied by `imdr forget` + `imdr prune --grace 0`, `restic forget
# --prune` and `borg prune` + `borg compact`, each on a fresh copy of its
# repository, RUNS (3) times; the median is reported. (Debian's restic 0.14
# predates restic 0.16's rule that keeps the oldest snapshot while a count
# is left, which imdr follows: imdr may keep one snapshot more.) Then imdr on s3rver
# and restic on `rclone serve restic`, both behind tests/tools/faultproxy
# (25 ms each way: a 50 ms round trip), apply it once more.
#
# Environment: DAYS, RUNS, BENCH_DIR (scratch: /var/tmp/imdr-bench),
# KEEP=1 keeps the scratch folder, REUSE=1 reuses the history a KEEP=1 run
# left. Writes bench/results/<time>-lifecycle.json.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
GEN=$TOP/$BUILD/tools/gen_corpus
PROXY=$TOP/$BUILD/tools/faultproxy
DAYS=${DAYS:-200}
RUNS=${RUNS:-3}
B=${BENCH_DIR:-/var/tmp/imdr-bench}/lifecycle
POLICY=(--keep-daily 7 --keep-weekly 4 --keep-monthly 6)
CORPUS=(--users 20 --conversations 24 --messages 6000 --attachments 160 --attachment-size 40000 --seed 11)

for t in "$IMDR" "$GEN" "$PROXY"; do
	[ -x "$t" ] || { echo "bench: $t is not built (run make)" >&2; exit 1; }
done
have() { command -v "$1" >/dev/null 2>&1; }
tools=(imdr)
have restic && tools+=(restic) || echo "bench: restic not installed: left out"
have borg && tools+=(borg) || echo "bench: borg not installed: left out"

[ "${REUSE:-}" = 1 ] && [ -d "$B/repo-imdr" ] || { REUSE=; rm -rf "$B"; }
mkdir -p "$B"
export XDG_CACHE_HOME=$B/cache HOME=$B/home
mkdir -p "$HOME"
printf 'bench passphrase\n' >"$B/pass"; chmod 600 "$B/pass"
export IMDR_PASSWORD_FILE=$B/pass RESTIC_PASSWORD_FILE=$B/pass BORG_PASSCOMMAND="cat $B/pass"
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
size() { du -sb "$1" | cut -f1; }
declare -A R

C=$B/corpus
if [ -n "${REUSE:-}" ]; then
	DAYS=$("$IMDR" snapshots "$B/repo-imdr" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	echo "== reusing the history of $DAYS backups in $B"
else
echo "== history: $DAYS daily backups of a generated export (mutated 2 % a day)"
"$GEN" --out "$C" "${CORPUS[@]}" >/dev/null
"$IMDR" init "$B/repo-imdr" >/dev/null
have restic && restic -r "$B/repo-restic" init --quiet >/dev/null
have borg && borg init --encryption=repokey "$B/repo-borg" >/dev/null 2>&1
t0=$(now)
for d in $(seq 1 "$DAYS"); do
	"$GEN" --out "$C" "${CORPUS[@]}" --mutate 2 --day "$d" >/dev/null
	day=$(date -u -d "2026-01-01 +$d day 02:00" +%Y-%m-%dT%H:%M:%S)
	"$IMDR" backup "$B/repo-imdr" "$C" --source acme --time "${day}Z" --quiet || { echo "imdr backup $d failed" >&2; exit 1; }
	if have restic; then
		(cd "$B" && restic -r "$B/repo-restic" backup corpus --time "${day/T/ }" --host bench --quiet >/dev/null) ||
			{ echo "restic backup $d failed" >&2; exit 1; }
	fi
	if have borg; then
		(cd "$B" && borg create --compression zstd,3 --timestamp "$day" "$B/repo-borg::day-$d" corpus) ||
			{ echo "borg backup $d failed" >&2; exit 1; }
	fi
	[ $((d % 50)) = 0 ] && echo "   $d days ($(secs "$t0" "$(now)") s)"
done
fi
corpus_mb=$(( $(size "$C") / 1048576 ))
# what prune must read of imdr's repository at least: its tree nodes and index
read -r R[imdr.tree_mb] R[imdr.index_mb] < <("$IMDR" prune "$B/repo-imdr" --dry-run --json 2>/dev/null | python3 -c '
import json,sys; d = json.load(sys.stdin); print("%.1f %.1f" % (d["bytes_read"] / 1048576, d["index_bytes_before"] / 1048576))')
for tool in "${tools[@]}"; do
	R[$tool.repo_mb]=$(calc "$(size "$B/repo-$tool") / 1048576" 1)
done
echo "   corpus now $corpus_mb MiB; repositories: $(for t in "${tools[@]}"; do printf '%s %s MiB  ' $t "${R[$t.repo_mb]}"; done)"
echo "   imdr prune --dry-run reads ${R[imdr.tree_mb]} MiB (snapshots, tree nodes, index: ${R[imdr.index_mb]} MiB, locks)"

echo "== the same policy (${POLICY[*]}), $RUNS runs on fresh copies, median"
retain() {	# tool repo
	case $1 in
	imdr) "$IMDR" forget "$2" "${POLICY[@]}" --quiet >/dev/null &&
		"$IMDR" prune "$2" --grace 0 --json >"$B/prune.json" ;;
	restic) restic -r "$2" forget "${POLICY[@]}" --prune --quiet >/dev/null ;;
	borg) borg prune "${POLICY[@]}" "$2" >/dev/null && borg compact "$2" >/dev/null ;;
	esac
}
kept() {	# tool repo
	case $1 in
	imdr) "$IMDR" snapshots "$2" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' ;;
	restic) restic -r "$2" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' ;;
	borg) borg list --short "$2" | wc -l ;;
	esac
}
# every run starts from the same repository, caches and borg's security
# records (restic's and borg's are keyed by the repository id, which the
# copies share)
[ -d "$B/cache.orig" ] || cp -a "$XDG_CACHE_HOME" "$B/cache.orig"
# (a reused history's borg records may be from a run on a copy: start them anew)
[ -d "$B/home.orig" ] || { [ -n "${REUSE:-}" ] && rm -rf "$HOME/.config/borg/security"; cp -a "$HOME" "$B/home.orig"; }
for tool in "${tools[@]}"; do
	ts=()
	for r in $(seq 1 "$RUNS"); do
		rm -rf "$B/work-$tool" "$XDG_CACHE_HOME" "$HOME"
		cp -a "$B/repo-$tool" "$B/work-$tool"
		cp -a "$B/cache.orig" "$XDG_CACHE_HOME"
		cp -a "$B/home.orig" "$HOME"
		sync
		t0=$(now)
		retain $tool "$B/work-$tool" 2>"$B/retain.err" ||
			{ echo "bench: $tool retention failed: $(tail -3 "$B/retain.err")" >&2; exit 1; }
		t1=$(now)
		ts+=("$(secs "$t0" "$t1")")
	done
	R[$tool.retain_s]=$(median "${ts[@]}")
	R[$tool.after_mb]=$(calc "$(size "$B/work-$tool") / 1048576" 1)
	R[$tool.kept]=$(kept $tool "$B/work-$tool")
	extra=
	if [ $tool = imdr ]; then
		read -r rd rep pb req < <(python3 -c '
import json; d = json.load(open("'"$B"'/prune.json"))
print(d["bytes_read"], d["bytes_read_repack"], d["pack_bytes"], d["requests"])')
		R[imdr.read_pct]=$(calc "100 * ($rd - $rep) / $pb" 2)
		R[imdr.repack_mb]=$(calc "$rep / 1048576" 1)
		R[imdr.requests]=$req
		extra=", read ${R[imdr.read_pct]} % of the repository besides ${R[imdr.repack_mb]} MiB of blobs copied, $req requests"
	fi
	echo "   $tool: ${R[$tool.retain_s]} s (runs: ${ts[*]}), ${R[$tool.repo_mb]} -> ${R[$tool.after_mb]} MiB, ${R[$tool.kept]} snapshots kept$extra"
done

# ---- S3 over a 50 ms round trip ----
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
S3RVER=$TOP/.deps/npm/node_modules/.bin/s3rver
s3note=
if [ -x "$S3RVER" ] && have rclone; then
	echo "== S3 over a 50 ms round trip: imdr on s3rver, restic on rclone serve restic"
	sp=$(free_port); rm -rf "$B/s3data" "$B/rclone-restic" "$B/p1" "$B/p2"; mkdir -p "$B/s3data"
	NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" --directory "$B/s3data" --port "$sp" --address 127.0.0.1 --silent >/dev/null 2>&1 &
	pids+=($!)
	wait_port "$sp"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	# the history goes in without the delay: a local repository's paths are its keys
	"$IMDR" init "s3://lifecycle/x?endpoint=http://127.0.0.1:$sp&path_style=1" >/dev/null 2>&1	# creates the bucket
	env -u AWS_CA_BUNDLE RCLONE_S3_PROVIDER=Other RCLONE_S3_ENV_AUTH=false RCLONE_S3_ENDPOINT="http://127.0.0.1:$sp" \
		RCLONE_S3_ACCESS_KEY_ID=S3RVER RCLONE_S3_SECRET_ACCESS_KEY=S3RVER RCLONE_S3_FORCE_PATH_STYLE=true \
		rclone copy "$B/repo-imdr" :s3:lifecycle/repo --transfers 16 >/dev/null 2>&1 ||
		{ echo "bench: rclone copy into s3rver failed" >&2; exit 1; }
	"$PROXY" --to "$sp" --delay-ms 25 --port-file "$B/p1" >/dev/null & pids+=($!)
	for _ in $(seq 1 50); do [ -s "$B/p1" ] && break; sleep 0.1; done
	U="s3://lifecycle/repo?endpoint=http://127.0.0.1:$(cat "$B/p1")&path_style=1"
	t0=$(now)
	"$IMDR" forget "$U" "${POLICY[@]}" --quiet >/dev/null && t1=$(now) &&
		"$IMDR" prune "$U" --grace 0 --json >"$B/prune-s3.json" && t2=$(now) ||
		{ echo "bench: imdr retention over S3 failed" >&2; exit 1; }
	R[imdr.s3_forget_s]=$(secs "$t0" "$t1")
	R[imdr.s3_retain_s]=$(secs "$t0" "$t2")
	R[imdr.s3_requests]=$(python3 -c 'import json; print(json.load(open("'"$B"'/prune-s3.json"))["requests"])')
	echo "   imdr: forget ${R[imdr.s3_forget_s]} s, forget + prune ${R[imdr.s3_retain_s]} s (prune: ${R[imdr.s3_requests]} requests)"
	if have restic; then
		rp=$(free_port)
		cp -a "$B/repo-restic" "$B/rclone-restic"
		rclone serve restic --addr "127.0.0.1:$rp" "$B/rclone-restic" >/dev/null 2>&1 & pids+=($!)
		wait_port "$rp"
		"$PROXY" --to "$rp" --delay-ms 25 --port-file "$B/p2" >/dev/null & pids+=($!)
		for _ in $(seq 1 50); do [ -s "$B/p2" ] && break; sleep 0.1; done
		t0=$(now)
		restic -r "rest:http://127.0.0.1:$(cat "$B/p2")/" forget "${POLICY[@]}" --prune --quiet >/dev/null ||
			echo "bench: restic retention over the link failed" >&2
		t1=$(now)
		R[restic.s3_retain_s]=$(secs "$t0" "$t1")
		echo "   restic: forget --prune ${R[restic.s3_retain_s]} s"
	fi
else
	s3note="S3 part skipped: s3rver (make test-deps) or rclone missing"
	echo "== $s3note"
fi

echo "== results ($DAYS snapshots, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ); load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s %12s %12s %10s %8s %14s\n' tool "retain s" "S3 retain s" "after MiB" kept "imdr faster"
for tool in "${tools[@]}"; do
	ratio=n/a
	[ $tool != imdr ] && ratio=$(calc "${R[$tool.retain_s]} / ${R[imdr.retain_s]}" 1)x
	printf '%-8s %12s %12s %10s %8s %14s\n' $tool "${R[$tool.retain_s]}" "${R[$tool.s3_retain_s]:-n/a}" \
		"${R[$tool.after_mb]}" "${R[$tool.kept]}" "$ratio"
done
[ -n "${R[restic.s3_retain_s]:-}" ] && echo "over the 50 ms link imdr is $(calc "${R[restic.s3_retain_s]} / ${R[imdr.s3_retain_s]}" 1)x faster than restic"
mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-lifecycle.json
{
	printf '{"days":%d,"runs":%d,"policy":"%s","cores":%d,"loadavg":"%s","s3":"%s","results":{' \
		"$DAYS" "$RUNS" "${POLICY[*]}" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$s3note"
	first=1
	for k in "${!R[@]}"; do
		[ $first = 1 ] || printf ','; first=0
		printf '"%s":"%s"' "$k" "${R[$k]}"
	done
	printf '}}\n'
} >"$out"
echo "results: $out"
