#!/bin/bash
# bench/run.sh — imdr beside restic, borg and squashfs on the same data, in
# one run. `make bench` runs the quick version (~200 MB corpus);
# `make bench FULL=1` the full one (~1.7 GB, ~19 000 files, 300 000
# messages, one 512 MiB file). Prints a table and writes
# bench/results/<time>-<quick|full>.json.
#
# Environment: BENCH_DIR (scratch, default /var/tmp/imdr-bench), RUNS (how
# many times a short step is repeated; the median is reported; default 5),
# KEEP=1 keeps the scratch folder.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
MOUNT_IMDR=$TOP/$BUILD/mount.imdr
GEN=$TOP/$BUILD/tools/gen_corpus
FULL=${FULL:-}
RUNS=${RUNS:-5}
B=${BENCH_DIR:-/var/tmp/imdr-bench}
if [ "$FULL" = 1 ]; then preset=full; mode=full; else preset=small; mode=quick; fi

for t in "$IMDR" "$MOUNT_IMDR" "$GEN"; do
	[ -x "$t" ] || { echo "bench: $t is not built (run make)" >&2; exit 1; }
done
have() { command -v "$1" >/dev/null 2>&1; }
tools=(imdr)
have restic && tools+=(restic) || echo "bench: restic not installed: left out"
have borg && tools+=(borg) || echo "bench: borg not installed: left out"
have mksquashfs && have squashfuse && tools+=(squashfs) || echo "bench: squashfs-tools/squashfuse not installed: left out"

mkdir -p "$B"
C=$B/corpus-$preset
M=$B/mnt
mkdir -p "$M"
export XDG_CACHE_HOME=$B/cache HOME=$B/home
mkdir -p "$HOME"
printf 'bench passphrase\n' >"$B/pass"; chmod 600 "$B/pass"
export IMDR_PASSWORD_FILE=$B/pass RESTIC_PASSWORD_FILE=$B/pass BORG_PASSCOMMAND="cat $B/pass"
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes

cleanup() {
	for d in "$M"/*; do mountpoint -q "$d" 2>/dev/null && { fusermount3 -u "$d" 2>/dev/null || umount -l "$d"; }; done
	jobs -p | xargs -r kill 2>/dev/null
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"/repo-* "$B"/sq.img "$B"/cache
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
	dropnote="page cache dropped before each cold step"
else
	drop() { sync; }
	dropnote="NOT root: page cache could not be dropped, cold steps are warm"
fi
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'; }
# calc EXPR [DECIMALS]: arithmetic with a leading zero (valid JSON)
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}'; }
declare -A R	# R[tool.measure] = value

echo "== corpus: gen_corpus --preset $preset ($C)"
rm -rf "$C"
"$GEN" --out "$C" --preset $preset --seed 42
bytes=$(du -sb --apparent-size "$C" | cut -f1)
files=$(find "$C" -type f | wc -l)
large=$(find "$C" -type f -size +40M | head -1); large=${large#$C/}
small=$(find "$C/conversations" -path '*attachments*' -type f -size -100k | sort | sed -n 50p); small=${small#$C/}
echo "   $files files, $bytes bytes; large file $large; first-byte file $small"
echo "   $dropnote; short steps: median of $RUNS runs"
echo "   imdr backs the corpus up with --format files, as restic and borg see it"

# ---- backups ----
backup_cmd() {	# tool incremental?
	case $1 in
	imdr) echo "$IMDR backup $B/repo-imdr $C --quiet --format files" ;;
	restic) echo "restic -r $B/repo-restic backup --quiet corpus-$preset" ;;
	borg) echo "borg create --compression zstd,3 $B/repo-borg::a$2 corpus-$preset" ;;
	squashfs) echo "mksquashfs corpus-$preset $B/sq.img -comp zstd -noappend -quiet -no-progress" ;;
	esac
}
init_repo() {
	case $1 in
	imdr) "$IMDR" init "$B/repo-imdr" >/dev/null ;;
	restic) restic -r "$B/repo-restic" init --quiet >/dev/null ;;
	borg) borg init -e repokey "$B/repo-borg" >/dev/null 2>&1 ;;
	squashfs) : ;;
	esac
}
timed_backup() {	# tool n -> sets R[tool.<key>] for time and rss
	local tool=$1 n=$2 t0 t1 rss
	drop
	t0=$(now)
	(cd "$B" && /usr/bin/time -f %M -o "$B/time.out" $(backup_cmd $tool $n) >/dev/null 2>"$B/err.out") ||
		{ echo "bench: $tool backup failed: $(tail -3 "$B/err.out")" >&2; return 1; }
	t1=$(now)
	echo "$(secs $t0 $t1) $(tail -1 "$B/time.out")"
}
for tool in "${tools[@]}"; do
	rm -rf "$B/repo-$tool"
	init_repo $tool
	read -r s rss <<<"$(timed_backup $tool 1)"
	R[$tool.backup_s]=$s
	R[$tool.backup_mbs]=$(calc "$bytes / 1048576 / $s" 1)
	R[$tool.backup_rss_mb]=$((rss / 1024))
	case $tool in
	squashfs) R[$tool.repo_mb]=$(( $(stat -c %s "$B/sq.img") / 1048576 )) ;;
	*) R[$tool.repo_mb]=$(( $(du -sb "$B/repo-$tool" | cut -f1) / 1048576 )) ;;
	esac
	echo "   $tool: full backup ${s}s (${R[$tool.backup_mbs]} MiB/s), peak RSS ${R[$tool.backup_rss_mb]} MB, repository ${R[$tool.repo_mb]} MiB"
done
echo "== second backup after gen_corpus --mutate 1"
"$GEN" --out "$C" --preset $preset --seed 42 --mutate 1 | sed 's/^/   /'
for tool in "${tools[@]}"; do
	[ $tool = squashfs ] && continue	# no incremental mode: n/a
	read -r s rss <<<"$(timed_backup $tool 2)"
	R[$tool.incr_s]=$s
	R[$tool.incr_pct]=$(calc "100 * $s / ${R[$tool.backup_s]}" 1)
	echo "   $tool: ${s}s = ${R[$tool.incr_pct]} % of its full backup"
done

# ---- mounts ----
mount_start() {	# tool -> echoes pid; tree root in $ROOT
	local tool=$1 mnt=$M/$1
	mkdir -p "$mnt"
	case $tool in
	imdr) "$MOUNT_IMDR" "$B/repo-imdr" "$mnt" -f >/dev/null 2>>"$B/mount.err" & ;;
	restic) restic -r "$B/repo-restic" mount --no-default-permissions "$mnt" >/dev/null 2>>"$B/mount.err" & ;;
	borg) borg mount -f "$B/repo-borg::a2" "$mnt" >/dev/null 2>>"$B/mount.err" & ;;
	squashfs) squashfuse -f "$B/sq.img" "$mnt" >/dev/null 2>>"$B/mount.err" & ;;
	esac
	echo $!
}
tree_root() {
	case $1 in
	imdr) echo "$M/imdr/latest" ;;
	restic) echo "$M/restic/snapshots/latest/corpus-$preset" ;;
	borg) echo "$M/borg/corpus-$preset" ;;
	squashfs) echo "$M/squashfs" ;;
	esac
}
wait_ready() {	# path: poll until it lists (60 s)
	local i
	for i in $(seq 1 6000); do
		ls "$1" >/dev/null 2>&1 && [ -n "$(ls "$1" 2>/dev/null)" ] && return 0
		sleep 0.01
	done
	return 1
}
mount_stop() {	# tool pid (the daemon is a grandchild: poll until it is gone)
	fusermount3 -u "$M/$1" 2>/dev/null || umount -l "$M/$1" 2>/dev/null
	while kill -0 "$2" 2>/dev/null; do sleep 0.01; done
}
for tool in "${tools[@]}"; do
	root=$(tree_root $tool)
	mt=() fb=() fd=()
	for r in $(seq 1 "$RUNS"); do
		drop
		t0=$(now); pid=$(mount_start $tool); wait_ready "$root" || { echo "bench: $tool mount did not come up: $(tail -3 "$B/mount.err")" >&2; mount_stop $tool $pid; continue 2; }
		t1=$(now); mt+=("$(secs $t0 $t1)")
		drop; t0=$(now); head -c1 "$root/$small" >/dev/null; t1=$(now); fb+=("$(secs $t0 $t1)")
		mount_stop $tool $pid
		pid=$(mount_start $tool); wait_ready "$root"
		drop; t0=$(now); find "$root/" >/dev/null; t1=$(now); fd+=("$(secs $t0 $t1)")
		mount_stop $tool $pid
	done
	R[$tool.mount_s]=$(median "${mt[@]}")
	R[$tool.first_byte_ms]=$(calc "$(median "${fb[@]}") * 1000" 1)
	R[$tool.find_s]=$(median "${fd[@]}")
	pid=$(mount_start $tool); wait_ready "$root"
	drop; t0=$(now)
	(cd "$root" && find . -type f -print0 | xargs -0 cat) >/dev/null
	t1=$(now); s=$(secs $t0 $t1)
	R[$tool.catall_mbs]=$(calc "$bytes / 1048576 / $s" 1)
	drop; t0=$(now); cat "$root/$large" >/dev/null; t1=$(now)
	R[$tool.large_mbs]=$(calc "$(stat -c %s "$C/$large") / 1048576 / $(secs $t0 $t1)" 1)
	R[$tool.mount_rss_mb]=$(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0) / 1024 ))
	mount_stop $tool $pid
	echo "   $tool: mount ${R[$tool.mount_s]}s, first byte ${R[$tool.first_byte_ms]} ms, find ${R[$tool.find_s]}s, read all ${R[$tool.catall_mbs]} MiB/s, large file ${R[$tool.large_mbs]} MiB/s, daemon peak RSS ${R[$tool.mount_rss_mb]} MB"
done

# ---- S3 over a slow link ----
s3note=""
if "$IMDR" init "s3://probe/x?endpoint=http://127.0.0.1:9" 2>&1 | grep -q "unknown repository URL scheme"; then
	s3note="S3 section skipped: this build of imdr has no s3:// backend yet"
elif [ ! -x "$TOP/$BUILD/tools/faultproxy" ] || [ ! -x "$TOP/.deps/npm/node_modules/.bin/s3rver" ]; then
	s3note="S3 section skipped: faultproxy or s3rver (make test-deps) missing"
elif [ -x bench/s3.sh ]; then
	. bench/s3.sh
else
	s3note="S3 section skipped: bench/s3.sh missing"
fi
[ -n "$s3note" ] && echo "== $s3note"

# ---- table ----
measures=(backup_s backup_mbs backup_rss_mb repo_mb incr_s incr_pct mount_s find_s catall_mbs first_byte_ms large_mbs mount_rss_mb)
[ -z "$s3note" ] && measures+=(s3_backup_s s3_mount_s s3_first_byte_ms s3_large_mbs)
higher_better=" backup_mbs catall_mbs large_mbs s3_large_mbs "
echo
echo "== results ($mode, $files files, $((bytes / 1048576)) MiB, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
printf '%-9s' tool; for m in "${measures[@]}"; do printf ' %13s' "$m"; done; echo
for tool in "${tools[@]}"; do
	printf '%-9s' $tool
	for m in "${measures[@]}"; do printf ' %13s' "${R[$tool.$m]:-n/a}"; done; echo
done
printf '%-9s' "imdr/best"
declare -A RATIO
for m in "${measures[@]}"; do
	best=
	for tool in "${tools[@]}"; do
		[ $tool = imdr ] && continue
		v=${R[$tool.$m]:-}; [ -n "$v" ] || continue
		if [ -z "$best" ]; then best=$v
		elif [[ "$higher_better" == *" $m "* ]]; then [ "$(calc "($v > $best)" 0)" = 1 ] && best=$v
		else [ "$(calc "($v < $best)" 0)" = 1 ] && best=$v; fi
	done
	v=${R[imdr.$m]:-}
	if [ -z "$best" ] || [ -z "$v" ] || [ "$(calc "($v == 0 || $best == 0)" 0)" = 1 ]; then RATIO[$m]=n/a
	elif [[ "$higher_better" == *" $m "* ]]; then RATIO[$m]=$(calc "$v / $best")x
	else RATIO[$m]=$(calc "$best / $v")x; fi
	printf ' %13s' "${RATIO[$m]}"
done
echo
echo "(imdr/best: how many times better imdr is than the best other tool on that measure; >1 is better)"

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$mode.json
{
	printf '{"mode":"%s","date":"%s","machine":{"cores":%d,"mem_kb":%s,"kernel":"%s"},' \
		$mode "$(date -u +%FT%TZ)" "$(nproc)" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" "$(uname -r)"
	printf '"corpus":{"preset":"%s","files":%d,"bytes":%d},"runs":%d,"drop_caches":%s,' \
		$preset $files $bytes $RUNS "$([ "$dropnote" = "${dropnote#NOT}" ] && echo true || echo false)"
	printf '"s3":"%s","results":{' "$s3note"
	first=1
	for tool in "${tools[@]}"; do
		[ $first = 1 ] || printf ','; first=0
		printf '"%s":{' $tool; f2=1
		for m in "${measures[@]}"; do
			[ -n "${R[$tool.$m]:-}" ] || continue
			[ $f2 = 1 ] || printf ','; f2=0
			printf '"%s":%s' $m "${R[$tool.$m]}"
		done
		printf '}'
	done
	printf '},"imdr_vs_best":{'; first=1
	for m in "${measures[@]}"; do [ $first = 1 ] || printf ','; first=0; printf '"%s":"%s"' $m "${RATIO[$m]}"; done
	printf '}}\n'
} >"$out"
echo "results: $out"

# Retention side by side (200 daily backups; imdr forget + prune against
# restic forget --prune and borg prune + compact, locally and over a 50 ms
# link): bench/lifecycle.sh, its own results file. LIFECYCLE=0 skips it.
if [ "${LIFECYCLE:-1}" = 1 ] && [ -x bench/lifecycle.sh ]; then
	BUILD=$BUILD bench/lifecycle.sh
fi
