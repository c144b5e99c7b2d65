#!/bin/bash
# bench/run.sh — imdr beside restic, borg and squashfs (squashfuse) on the
# same data, in one run, on several workspace shapes. `make bench` runs the
# quick version (the small preset, ~200 MB); `make bench FULL=1` the full
# one: the same 1.7 GB of data (300,000 messages, ~18,300 attachments, one
# 512 MiB file) in three shapes —
#   full       200 conversations (the bench's first corpus)
#   wide       2,000 conversations, 80 % of them DMs (a common shape)
#   very-wide  20,000 conversations, 85 % DMs (imdr and squashfs only
#              unless VERY_WIDE_ALL=1: restic and borg take minutes there)
# — then S3 over a 50 ms round trip (bench/s3.sh). Every shape gets the
# same table; the imdr/best row gives ratios (>1: imdr better).
#
# Environment: SHAPES (e.g. "wide very-wide"), BENCH_DIR (scratch, default
# /var/tmp/imdr-bench), RUNS (repetitions of a mount step; median; default
# 3), KEEP=1 keeps the scratch folder, S3=0 skips the S3 section.
# Then the benchmarks of the later issues, each writing its own results
# file: retention (bench/lifecycle.sh; LIFECYCLE=0 skips it), operations
# (bench/ops.sh; OPS=0), e-discovery (bench/ediscovery.sh; EDISCOVERY=0),
# replicas (bench/replicas.sh; REPLICAS=0) and the audit log
# (bench/audit.sh; AUDIT=0). The quick version runs ops and e-discovery on
# the small preset, FULL=1 on the full one their targets are stated for.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
MOUNT_IMDR=$TOP/$BUILD/mount.imdr
GEN=$TOP/$BUILD/tools/gen_corpus
FULL=${FULL:-}
RUNS=${RUNS:-3}
B=${BENCH_DIR:-/var/tmp/imdr-bench}
if [ "$FULL" = 1 ]; then mode=full; SHAPES=${SHAPES:-full wide very-wide}
else mode=quick; SHAPES=${SHAPES:-small}; fi

for t in "$IMDR" "$MOUNT_IMDR" "$GEN"; do
	[ -x "$t" ] || { echo "bench: $t is not built (run make)" >&2; exit 1; }
done
have() { command -v "$1" >/dev/null 2>&1; }
all_tools=(imdr)
have restic && all_tools+=(restic) || echo "bench: restic not installed: left out"
have borg && all_tools+=(borg) || echo "bench: borg not installed: left out"
have mksquashfs && have squashfuse && all_tools+=(squashfs) || echo "bench: squashfs-tools/squashfuse not installed: left out"

mkdir -p "$B"
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
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"/repo-* "$B"/sq.img "$B"/cache "$B"/out-* "$B"/corpus-*
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
declare -A R	# R[shape.tool.measure] = value
shapes_done=()

# ---- one shape ----

backup_cmd() {	# tool n corpus-dir-name
	case $1 in
	imdr) echo "$IMDR backup $B/repo-imdr $B/$3 --quiet --format files" ;;
	restic) echo "restic -r $B/repo-restic backup --quiet $3" ;;
	borg) echo "borg create --compression zstd,3 $B/repo-borg::a$2 $3" ;;
	squashfs) echo "mksquashfs $3 $B/sq.img -comp zstd -noappend -quiet -no-progress" ;;
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
timed() {	# CMD... -> "seconds peak_rss_kb"; runs in $B
	local t0 t1
	t0=$(now)
	(cd "$B" && /usr/bin/time -f %M -o "$B/time.out" "$@" >/dev/null 2>"$B/err.out") ||
		{ echo "bench: $* failed: $(tail -3 "$B/err.out")" >&2; return 1; }
	t1=$(now)
	echo "$(secs $t0 $t1) $(tail -1 "$B/time.out")"
}
restore_cmd() {	# tool -> a command that writes the newest snapshot to $B/out-tool
	case $1 in
	imdr) echo "$IMDR restore $B/repo-imdr latest $B/out-imdr --quiet" ;;
	restic) echo "restic -r $B/repo-restic restore latest --target $B/out-restic --quiet" ;;
	borg) echo "borg extract $B/repo-borg::a2" ;;	# runs in $B/out-borg
	esac
}
mount_start() {	# tool -> echoes pid
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
tree_root() {	# tool corpus-dir-name
	case $1 in
	imdr) echo "$M/imdr/latest" ;;
	restic) echo "$M/restic/snapshots/latest/$2" ;;
	borg) echo "$M/borg/$2" ;;
	squashfs) echo "$M/squashfs" ;;
	esac
}
wait_ready() {	# path: poll until it lists (120 s)
	local i
	for i in $(seq 1 12000); do
		ls "$1" >/dev/null 2>&1 && [ -n "$(ls "$1" 2>/dev/null)" ] && return 0
		sleep 0.01
	done
	return 1
}
mount_stop() {	# tool pid (the daemon is a grandchild: poll until it is gone)
	fusermount3 -u "$M/$1" 2>/dev/null || umount -l "$M/$1" 2>/dev/null
	while kill -0 "$2" 2>/dev/null; do sleep 0.01; done
}

bench_shape() {	# shape
	local shape=$1 preset=$1 cname=corpus-$1 C tools=() bytes files large small
	local tool s rss t0 t1 root pid r mt fb fd
	C=$B/$cname
	for tool in "${all_tools[@]}"; do
		if [ "$shape" = very-wide ] && [ "${VERY_WIDE_ALL:-}" != 1 ] &&
		    { [ $tool = restic ] || [ $tool = borg ]; }; then continue; fi
		tools+=("$tool")
	done
	echo
	echo "==== shape: $shape (gen_corpus --preset $preset --seed 42)"
	rm -rf "$C" "$B"/repo-* "$B"/sq.img
	"$GEN" --out "$C" --preset "$preset" --seed 42 | sed 's/^/   /'
	bytes=$(du -sb --apparent-size "$C" | cut -f1)
	files=$(find "$C" -type f | wc -l)
	R[$shape.folders]=$(find "$C" -type d | wc -l)
	R[$shape.files]=$files
	R[$shape.bytes]=$bytes
	large=$(find "$C" -type f -size +40M | head -1); large=${large#$C/}
	small=$(find "$C/conversations" -path '*attachments*' -type f -size -100k | sort | sed -n 50p); small=${small#$C/}
	echo "   $files files, ${R[$shape.folders]} folders, $bytes bytes; large file $large"
	echo "   $dropnote; mounts, finds and reads: median of $RUNS runs; tools: ${tools[*]}"
	# (tar -cf /dev/null would skip reading file data: pipe it)
	drop; t0=$(now); (cd "$B" && tar -cf - "$cname" | cat >/dev/null); t1=$(now)
	R[$shape.tar_s]=$(secs $t0 $t1)
	R[$shape.tar_mbs]=$(calc "$bytes / 1048576 / ${R[$shape.tar_s]}" 1)
	echo "   tar cf - reads it cold in ${R[$shape.tar_s]} s (${R[$shape.tar_mbs]} MiB/s)"

	for tool in "${tools[@]}"; do
		init_repo $tool
		drop
		read -r s rss <<<"$(timed $(backup_cmd $tool 1 "$cname"))" || continue
		R[$shape.$tool.backup_s]=$s
		R[$shape.$tool.backup_mbs]=$(calc "$bytes / 1048576 / $s" 1)
		R[$shape.$tool.backup_rss_mb]=$((rss / 1024))
		case $tool in
		squashfs) R[$shape.$tool.repo_mb]=$(( $(stat -c %s "$B/sq.img") / 1048576 )) ;;
		*) R[$shape.$tool.repo_mb]=$(( $(du -sb "$B/repo-$tool" | cut -f1) / 1048576 )) ;;
		esac
		echo "   $tool: full backup ${s}s (${R[$shape.$tool.backup_mbs]} MiB/s, $(calc "100 * ${R[$shape.$tool.backup_mbs]} / ${R[$shape.tar_mbs]}" 0) % of tar's rate), peak RSS ${R[$shape.$tool.backup_rss_mb]} MB, repository ${R[$shape.$tool.repo_mb]} MiB"
	done
	echo "   -- second backup after gen_corpus --mutate 1"
	"$GEN" --out "$C" --preset "$preset" --seed 42 --mutate 1 | sed 's/^/   /'
	for tool in "${tools[@]}"; do
		[ $tool = squashfs ] && continue	# no incremental mode: n/a
		[ -n "${R[$shape.$tool.backup_s]:-}" ] || continue
		drop
		read -r s rss <<<"$(timed $(backup_cmd $tool 2 "$cname"))" || continue
		R[$shape.$tool.incr_s]=$s
		R[$shape.$tool.incr_pct]=$(calc "100 * $s / ${R[$shape.$tool.backup_s]}" 1)
		echo "   $tool: ${s}s = ${R[$shape.$tool.incr_pct]} % of its full backup"
	done

	echo "   -- restore of the newest snapshot (cold, with the final sync)"
	for tool in "${tools[@]}"; do
		[ $tool = squashfs ] && continue
		[ -n "${R[$shape.$tool.backup_s]:-}" ] || continue
		rm -rf "$B/out-$tool"; mkdir -p "$B/out-$tool"
		drop; t0=$(now)
		if [ $tool = borg ]; then (cd "$B/out-borg" && $(restore_cmd borg) >/dev/null 2>"$B/err.out")
		else $(restore_cmd $tool) >/dev/null 2>"$B/err.out"; fi || { echo "bench: $tool restore failed: $(tail -3 "$B/err.out")" >&2; continue; }
		sync; t1=$(now)
		R[$shape.$tool.restore_s]=$(secs $t0 $t1)
		R[$shape.$tool.restore_mbs]=$(calc "$bytes / 1048576 / ${R[$shape.$tool.restore_s]}" 1)
		echo "   $tool: restore ${R[$shape.$tool.restore_s]}s (${R[$shape.$tool.restore_mbs]} MiB/s)"
		rm -rf "$B/out-$tool"
	done

	echo "   -- mounts"
	for tool in "${tools[@]}"; do
		[ -n "${R[$shape.$tool.backup_s]:-}" ] || continue
		root=$(tree_root $tool "$cname")
		mt=() fb=() fd=()
		for r in $(seq 1 "$RUNS"); do
			drop
			t0=$(now); pid=$(mount_start $tool); wait_ready "$root" || { echo "bench: $tool mount did not come up: $(tail -3 "$B/mount.err")" >&2; mount_stop $tool $pid; continue 2; }
			t1=$(now); mt+=("$(secs $t0 $t1)")
			ls "$(dirname "$root/$small")" >/dev/null
			t0=$(now); head -c1 "$root/$small" >/dev/null; t1=$(now); fb+=("$(secs $t0 $t1)")
			mount_stop $tool $pid
			pid=$(mount_start $tool); wait_ready "$root"
			drop; t0=$(now); find "$root/" >/dev/null; t1=$(now); fd+=("$(secs $t0 $t1)")
			if [ $tool = imdr ] && [ "$r" = 1 ]; then
				R[$shape.imdr.walk_read_mb]=$(calc "$(awk '/^backend/ {gsub(",","",$7); print $7}' "$M/imdr/.imdr/stats") / 1048576" 2)
				R[$shape.imdr.walk_gets]=$(awk '/^backend/ {gsub(",","",$4); print $4}' "$M/imdr/.imdr/stats")
			fi
			mount_stop $tool $pid
		done
		R[$shape.$tool.mount_s]=$(median "${mt[@]}")
		R[$shape.$tool.first_byte_ms]=$(calc "$(median "${fb[@]}") * 1000" 1)
		R[$shape.$tool.find_s]=$(median "${fd[@]}")
		# every file, then the large file, on a fresh mount each run
		# (the daemon's peak is the highest of the runs): one read of
		# either swung by 20-30 % from run to run, on both sides
		ca=() lg=() rss=0
		for r in $(seq 1 "$RUNS"); do
			pid=$(mount_start $tool); wait_ready "$root"
			drop; t0=$(now)
			(cd "$root" && find . -type f -print0 | xargs -0 cat) >/dev/null
			t1=$(now); ca+=("$(secs $t0 $t1)")
			drop; t0=$(now); cat "$root/$large" >/dev/null; t1=$(now); lg+=("$(secs $t0 $t1)")
			k=$(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0) / 1024 ))
			[ "$k" -gt "$rss" ] && rss=$k
			mount_stop $tool $pid
		done
		R[$shape.$tool.catall_mbs]=$(calc "$bytes / 1048576 / $(median "${ca[@]}")" 1)
		R[$shape.$tool.large_mbs]=$(calc "$(stat -c %s "$C/$large") / 1048576 / $(median "${lg[@]}")" 1)
		R[$shape.$tool.mount_rss_mb]=$rss
		echo "   $tool: mount ${R[$shape.$tool.mount_s]}s, first byte ${R[$shape.$tool.first_byte_ms]} ms, find ${R[$shape.$tool.find_s]}s, read all ${R[$shape.$tool.catall_mbs]} MiB/s, large file ${R[$shape.$tool.large_mbs]} MiB/s, daemon peak RSS ${R[$shape.$tool.mount_rss_mb]} MB"
	done
	[ -n "${R[$shape.imdr.walk_read_mb]:-}" ] &&
		echo "   imdr's cold find read ${R[$shape.imdr.walk_read_mb]} MiB from the repository in ${R[$shape.imdr.walk_gets]} requests"
	table "$shape" "${tools[@]}"
	shapes_done+=("$shape")
	rm -rf "$C"
}

measures=(backup_s backup_mbs backup_rss_mb repo_mb incr_s incr_pct restore_s mount_s find_s catall_mbs first_byte_ms large_mbs mount_rss_mb)
higher_better=" backup_mbs catall_mbs large_mbs restore_mbs s3_large_mbs s3_restore_mbs "
declare -A RATIO
table() {	# shape tools...
	local shape=$1 m best v tool; shift
	echo
	echo "== results: $shape ($mode, ${R[$shape.files]} files, ${R[$shape.folders]} folders, $(( ${R[$shape.bytes]} / 1048576 )) MiB, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
	printf '%-9s' tool; for m in "${measures[@]}"; do printf ' %13s' "$m"; done; echo
	for tool in "$@"; do
		printf '%-9s' $tool
		for m in "${measures[@]}"; do printf ' %13s' "${R[$shape.$tool.$m]:-n/a}"; done; echo
	done
	printf '%-9s' "imdr/best"
	for m in "${measures[@]}"; do
		best=
		for tool in "$@"; do
			[ $tool = imdr ] && continue
			v=${R[$shape.$tool.$m]:-}; [ -n "$v" ] || continue
			if [ -z "$best" ]; then best=$v
			elif [[ "$higher_better" == *" $m "* ]]; then [ "$(calc "($v > $best)" 0)" = 1 ] && best=$v
			else [ "$(calc "($v < $best)" 0)" = 1 ] && best=$v; fi
		done
		v=${R[$shape.imdr.$m]:-}
		if [ -z "$best" ] || [ -z "$v" ] || [ "$(calc "($v == 0 || $best == 0)" 0)" = 1 ]; then RATIO[$shape.$m]=n/a
		elif [[ "$higher_better" == *" $m "* ]]; then RATIO[$shape.$m]=$(calc "$v / $best")x
		else RATIO[$shape.$m]=$(calc "$best / $v")x; fi
		printf ' %13s' "${RATIO[$shape.$m]}"
	done
	echo
	echo "(imdr/best: how many times better imdr is than the best other tool on that measure; >1 is better)"
}

for shape in $SHAPES; do
	bench_shape "$shape"
done

# ---- S3 over a slow link ----
s3note=""
if [ "${S3:-1}" = 0 ]; then
	s3note="S3 section skipped (S3=0)"
elif [ ! -x "$TOP/$BUILD/tools/faultproxy" ] || [ ! -x "$TOP/.deps/npm/node_modules/.bin/s3rver" ]; then
	s3note="S3 section skipped: faultproxy or s3rver (make test-deps) missing"
else
	. bench/s3.sh
fi
[ -n "$s3note" ] && echo "== $s3note"

mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$mode.json
{
	printf '{"mode":"%s","date":"%s","machine":{"cores":%d,"mem_kb":%s,"kernel":"%s"},' \
		$mode "$(date -u +%FT%TZ)" "$(nproc)" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" "$(uname -r)"
	printf '"runs":%d,"drop_caches":%s,"s3":"%s","shapes":{' $RUNS \
		"$([ "$dropnote" = "${dropnote#NOT}" ] && echo true || echo false)" "$s3note"
	first=1
	for shape in "${shapes_done[@]}"; do
		[ $first = 1 ] || printf ','; first=0
		printf '"%s":{' "$shape"; f2=1
		for k in "${!R[@]}"; do
			[[ "$k" == "$shape."* ]] || continue
			[ $f2 = 1 ] || printf ','; f2=0
			printf '"%s":%s' "${k#$shape.}" "${R[$k]}"
		done
		printf '}'
	done
	printf '}}\n'
} >"$out"
echo "results: $out"

# Retention side by side (200 daily backups; imdr forget + prune against
# restic forget --prune and borg prune + compact, locally and over a 50 ms
# link): bench/lifecycle.sh, its own results file. LIFECYCLE=0 skips it.
if [ "${LIFECYCLE:-1}" = 1 ] && [ -x bench/lifecycle.sh ]; then
	BUILD=$BUILD bench/lifecycle.sh
fi
# The later issues' benchmarks (see the header); a failure of one is
# reported and the others still run.
[ "$FULL" = 1 ] && later_preset=full || later_preset=small
for later in ops ediscovery replicas audit; do
	var=$(echo "$later" | tr a-z A-Z)
	[ "${!var:-1}" = 1 ] && [ -x "bench/$later.sh" ] || continue
	echo
	echo "==== bench/$later.sh"
	case $later in
	ops|ediscovery) BUILD=$BUILD PRESET=$later_preset "bench/$later.sh" ;;
	*) BUILD=$BUILD "bench/$later.sh" ;;
	esac || echo "bench: bench/$later.sh failed (exit $?)" >&2
done
