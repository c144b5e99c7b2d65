#!/bin/bash
# bench/ediscovery.sh — e-discovery on the full generated export (300 000
# messages, ~1.7 GB: gen_corpus --preset full), side by side in one run:
#   1. the index's cost: full backups with and without it, alternating
#   2. a warm search (the key cached: imdr --key-cache) against ripgrep
#      over a restored plaintext copy of the same snapshot, each the whole
#      command's wall time; imdr deriving its key beside it
#   3. a cold search from S3 (s3rver) over a 50 ms round trip
#      (tests/tools/faultproxy, 25 ms each way), and a warm one (the key
#      cached, the segments kept in the cache folder)
#   4. --all over 30 daily snapshots against the newest one alone
#   5. an RSMF export of 10 000 messages
# Prints a table and writes bench/results/<time>-ediscovery.json.
#
# Environment: BENCH_DIR (scratch, default /var/tmp/imdr-bench-ed), RUNS
# (repetitions of a short step, median reported; default 5), PRESET (full;
# small for a quick look), KEEP=1 keeps the scratch folder. With less than
# 8 GB free, ripgrep reads the corpus itself (a restore of the snapshot is
# byte-identical to it: canonical input is kept file for file) and S3 gets
# the corpus's messages without the attachments; the output says so.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr
GEN=$TOP/$BUILD/tools/gen_corpus
PROXY=$TOP/$BUILD/tools/faultproxy
RUNS=${RUNS:-5}
PRESET=${PRESET:-full}
B=${BENCH_DIR:-/var/tmp/imdr-bench-ed}
for t in "$IMDR" "$GEN" "$PROXY"; do
	[ -x "$t" ] || { echo "bench: $t is not built (run make)" >&2; exit 1; }
done
command -v rg >/dev/null || { echo "bench: ripgrep is not installed (scripts/deps.sh bench)" >&2; exit 1; }
mkdir -p "$B"
export XDG_CACHE_HOME=$B/cache HOME=$B/home
mkdir -p "$HOME"
printf 'bench passphrase\n' >"$B/pass"; chmod 600 "$B/pass"
export IMDR_PASSWORD_FILE=$B/pass
unset IMDR_TEST_FAST_KDF
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	"$IMDR" key forget "$B/repo" >/dev/null 2>&1
	[ "${KEEP:-}" = 1 ] || rm -rf "$B"/repo* "$B"/restored "$B"/s3data "$B"/s3src "$B"/exp "$B"/cache
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
	drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
	dropnote="page cache dropped before each backup"
else
	drop() { sync; }
	dropnote="not root: the page cache could not be dropped"
fi
# now VAR: the time in ns into VAR, from bash's own clock: no process (a
# `date` started for each reading put ~1 ms of its own into every figure,
# alike for imdr and ripgrep, which shrank their ratio)
now() { local t=$EPOCHREALTIME; printf -v "$1" '%s000' "${t/[.,]/}"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
free_gb() { df -BG --output=avail "$B" | tail -1 | tr -dc 0-9; }
load() { cut -d' ' -f1 /proc/loadavg; }
stat_ms() { sed -n "s/.*$1 \\([0-9.]*\\) ms.*/\\1/p" "$2"; }
declare -A R
R[load_start]=$(load)
echo "== machine: $(nproc) cores, load $(load); $dropnote. A shared machine makes every"
echo "   time noisy: compare the columns of one run, and the CPU seconds."

# ---- 0. the corpus ----
C=$B/corpus
if [ ! -f "$C/.done-$PRESET" ]; then
	rm -rf "$C"
	"$GEN" --out "$C" --preset "$PRESET" --seed 42 || exit 1
	touch "$C/.done-$PRESET"
fi
R[messages]=$(cat "$C"/conversations/*/messages.jsonl | wc -l)
echo "== corpus: gen_corpus --preset $PRESET, ${R[messages]} messages, $(du -sh "$C" | cut -f1)"

# ---- 1. the index's cost in a full backup ----
echo "== 1. full backups with and without the message index ($RUNS each, alternating)"
w_no=() w_ix=() c_no=() c_ix=() u_no=() u_ix=() i_th=() i_fin=()
for r in $(seq 1 "$RUNS"); do
	for mode in no ix; do
		rm -rf "$B/repo" "$B/cache"
		"$IMDR" init "$B/repo" >/dev/null || exit 1
		drop
		arg=; [ $mode = no ] && arg=--no-index
		# (dated before the 29 days of step 4, which come after it)
		/usr/bin/time -f '%e %U %S' -o "$B/t" env IMDR_DEBUG=1 "$IMDR" backup "$B/repo" "$C" \
			--quiet $arg --time 2026-03-01T23:00:00Z 2>"$B/dbg" || { cat "$B/dbg" >&2; exit 1; }
		read -r wall u s <"$B/t"
		cpu=$(calc "$u + $s")
		if [ $mode = no ]; then
			w_no+=("$wall"); c_no+=("$cpu"); u_no+=("$u"); R[repo_bytes]=$(du -sb "$B/repo" | cut -f1)
			echo "   run $r, no index: ${wall} s, ${cpu} s CPU ($u user; load $(load))"
		else
			w_ix+=("$wall"); c_ix+=("$cpu"); u_ix+=("$u"); R[repo_index_bytes]=$(du -sb "$B/repo" | cut -f1)
			# the index's own CPU: its thread, and the finish (sealing
			# the segment while the backup waits)
			ith=$(sed -n 's/.*indexer busy [0-9.]* s (CPU \([0-9.]*\) s).*/\1/p' "$B/dbg")
			ifin=$(sed -n 's/.*CPU of the finish \([0-9.]*\) s.*/\1/p' "$B/dbg")
			i_th+=("${ith:-0}"); i_fin+=("${ifin:-0}")
			echo "   run $r, index: ${wall} s, ${cpu} s CPU ($u user; load $(load)); the indexer" \
				"thread ${ith:-?} s CPU, the finish ${ifin:-?} s"
		fi
	done
done
R[backup_s]=$(median "${w_no[@]}"); R[backup_index_s]=$(median "${w_ix[@]}")
R[backup_cpu_s]=$(median "${c_no[@]}"); R[backup_index_cpu_s]=$(median "${c_ix[@]}")
R[index_overhead_pct]=$(calc "(${R[backup_index_s]} / ${R[backup_s]} - 1) * 100" 1)
R[index_overhead_cpu_pct]=$(calc "(${R[backup_index_cpu_s]} / ${R[backup_cpu_s]} - 1) * 100" 1)
R[backup_user_s]=$(median "${u_no[@]}"); R[backup_index_user_s]=$(median "${u_ix[@]}")
R[index_overhead_user_pct]=$(calc "(${R[backup_index_user_s]} - ${R[backup_user_s]}) / ${R[backup_cpu_s]} * 100" 1)
R[index_thread_cpu_s]=$(median "${i_th[@]}"); R[index_finish_cpu_s]=$(median "${i_fin[@]}")
R[index_own_cpu_pct]=$(calc "(${R[index_thread_cpu_s]} + ${R[index_finish_cpu_s]}) / ${R[backup_cpu_s]} * 100" 1)
R[index_bytes]=$(( ${R[repo_index_bytes]} - ${R[repo_bytes]} ))
echo "   median: ${R[backup_s]} s without, ${R[backup_index_s]} s with the index (${R[index_overhead_pct]} %;" \
	"CPU ${R[backup_cpu_s]} s vs ${R[backup_index_cpu_s]} s, ${R[index_overhead_cpu_pct]} %); the index takes $(( ${R[index_bytes]} / 1048576 )) MiB"
echo "   the index's own CPU: ${R[index_thread_cpu_s]} s indexing + ${R[index_finish_cpu_s]} s sealing =" \
	"${R[index_own_cpu_pct]} % of the backup's CPU; user CPU +${R[index_overhead_user_pct]} % of it" \
	"(system time, the kernel copying packs into the page cache, varies most from run to run)"
repo=$B/repo	# the last one, with its index

# ---- 2. warm search against ripgrep over a restored copy ----
if [ "$(free_gb)" -ge 8 ]; then
	rm -rf "$B/restored"
	"$IMDR" restore "$repo" latest "$B/restored" --quiet || exit 1
	plain=$B/restored
	echo "== 2. warm search: imdr search against rg over the restored snapshot"
else
	plain=$C
	echo "== 2. warm search: imdr search against rg over the corpus (byte-identical to a restore; $(free_gb) GB free)"
fi
R[rg_dir]=$plain
# the key cache (imdr --key-cache): a warm search is what an investigator
# runs again and again; the first one derives the key and caches it
KC=(--key-cache 10m)
"$IMDR" "${KC[@]}" search "$repo" x --json --stats >/dev/null 2>"$B/st"
"$IMDR" "${KC[@]}" search "$repo" x --json --stats >/dev/null 2>"$B/st"
if grep -q "from the kernel keyring" "$B/st"; then
	R[key_cache]=yes
else
	R[key_cache]=no
	echo "   (the kernel keyring is not available here: every search derives its key)"
fi
# imdr's query | rg's fixed string (case-insensitive), or nothing
for qq in '"looks good contract"|looks good contract' 'from:U00042 budget|' '"looks good"|looks good' 'contract|contract'; do
	q=${qq%%|*}; pat=${qq#*|}; key=$(printf '%s' "${pat:-$q}" | tr -c 'a-zA-Z0-9' _)
	# both print what they found (imdr its JSON hits, rg the matching lines)
	"$IMDR" "${KC[@]}" search "$repo" "$q" --json >/dev/null 2>&1
	[ -n "$pat" ] && rg -F -i "$pat" "$plain" >/dev/null
	tw=() ts=() tr=() tu=()
	for r in $(seq 1 "$RUNS"); do
		now t0; "$IMDR" "${KC[@]}" search "$repo" "$q" --json --stats >/dev/null 2>"$B/st"; now t1
		tw+=("$(ms "$t0" "$t1")"); ts+=("$(stat_ms search "$B/st")")
		now t0; "$IMDR" search "$repo" "$q" --json >/dev/null 2>&1; now t1
		tu+=("$(ms "$t0" "$t1")")
		if [ -n "$pat" ]; then
			now t0; rg -F -i "$pat" "$plain" >/dev/null; now t1
			tr+=("$(ms "$t0" "$t1")")
		fi
	done
	R[search_${key}_hits]=$(sed -n 's/.*ms, \([0-9]*\) hits.*/\1/p' "$B/st")
	R[search_${key}_ms]=$(median "${tw[@]}"); R[search_${key}_core_ms]=$(median "${ts[@]}")
	R[search_${key}_uncached_ms]=$(median "${tu[@]}")
	line="   $q: ${R[search_${key}_hits]} hits; imdr ${R[search_${key}_ms]} ms with the key cached"
	line+=" (searching ${R[search_${key}_core_ms]} ms; ${R[search_${key}_uncached_ms]} ms deriving the key)"
	if [ -n "$pat" ]; then
		R[rg_${key}_ms]=$(median "${tr[@]}")
		R[rg_${key}_lines]=$(rg -F -i -c "$pat" "$plain" | awk -F: '{s+=$NF} END {print s+0}')
		R[rg_over_search_${key}]=$(calc "${R[rg_${key}_ms]} / ${R[search_${key}_ms]}" 1)
		line+="; rg ${R[rg_${key}_ms]} ms (${R[rg_${key}_lines]} lines): rg/imdr ${R[rg_over_search_${key}]}x"
	fi
	echo "$line"
done
"$IMDR" key forget "$repo" >/dev/null 2>&1
rm -rf "$B/restored"

# ---- 3. cold search from S3 over a 50 ms round trip ----
NPMBIN=$TOP/.deps/npm/node_modules/.bin
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
if [ -x "$NPMBIN/s3rver" ]; then
	s3src=$C
	if [ "$(free_gb)" -lt 8 ]; then
		s3src=$B/s3src
		rm -rf "$s3src"; mkdir -p "$s3src"
		cp "$C/users.jsonl" "$s3src/"
		(cd "$C" && find conversations \( -name meta.json -o -name messages.jsonl \) -print0 |
			xargs -0 cp --parents -t "$s3src")
		echo "== 3. cold search from S3 over a 50 ms round trip (the corpus's messages without the attachments: $(free_gb) GB free)"
	else
		echo "== 3. cold search from S3 over a 50 ms round trip"
	fi
	sp=$(free_port); rm -rf "$B/s3data"; mkdir -p "$B/s3data"
	NODE_OPTIONS=--openssl-legacy-provider "$NPMBIN/s3rver" --directory "$B/s3data" --port "$sp" --address 127.0.0.1 --silent >/dev/null 2>&1 &
	pids+=($!)
	wait_port "$sp"
	rm -f "$B/pp"
	"$PROXY" --to "$sp" --delay-ms 25 --port-file "$B/pp" >/dev/null & pids+=($!)
	for _ in $(seq 1 50); do [ -s "$B/pp" ] && break; sleep 0.1; done
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
	direct="s3://bench/ed?endpoint=http://127.0.0.1:$sp&path_style=1"
	slow="s3://bench/ed?endpoint=http://127.0.0.1:$(cat "$B/pp")&path_style=1"
	"$IMDR" init "$direct" >/dev/null && "$IMDR" backup "$direct" "$s3src" --quiet || exit 1
	for qq in '"looks good contract"|rare' 'from:U00042 budget|from' '"looks good"|broad'; do
		q=${qq%%|*}; key=${qq#*|}
		tw=() ts=() ww=()
		for r in $(seq 1 "$RUNS"); do
			# cold: nothing kept on this machine (no key, no segment)
			now t0; "$IMDR" search "$slow" "$q" --json --stats --no-cache >/dev/null 2>"$B/st"; now t1
			tw+=("$(ms "$t0" "$t1")"); ts+=("$(stat_ms search "$B/st")")
		done
		# warm: the key cached and the segments kept by the search before
		"$IMDR" "${KC[@]}" search "$slow" "$q" --json >/dev/null 2>&1
		for r in $(seq 1 "$RUNS"); do
			now t0; "$IMDR" "${KC[@]}" search "$slow" "$q" --json --stats >/dev/null 2>"$B/sw"; now t1
			ww+=("$(ms "$t0" "$t1")")
		done
		R[cold_s3_${key}_ms]=$(median "${tw[@]}"); R[cold_s3_${key}_core_ms]=$(median "${ts[@]}")
		R[warm_s3_${key}_ms]=$(median "${ww[@]}")
		echo "   $q: cold ${R[cold_s3_${key}_ms]} ms (after opening: ${R[cold_s3_${key}_core_ms]} ms); $(sed 's/search stats: //' "$B/st")"
		echo "      warm (the key cached, the segment kept): ${R[warm_s3_${key}_ms]} ms; $(sed 's/search stats: //' "$B/sw")"
	done
	"$IMDR" key forget "$slow" >/dev/null 2>&1
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	pids=()
	rm -rf "$B/s3data" "$B/s3src"
else
	echo "== 3. skipped: s3rver is not installed (make test-deps)"
fi

# ---- 4. --all over 30 daily snapshots ----
echo "== 4. 29 more days (new messages in a third of the conversations, a few edits and deletions), then --all"
daily=()
for day in $(seq 2 30); do
	python3 - "$C" "$day" <<'PY'
import json, os, random, sys, glob
root, day = sys.argv[1], int(sys.argv[2])
rnd = random.Random(day)
convs = sorted(glob.glob(os.path.join(root, "conversations", "*", "messages.jsonl")))
words = "looks good contract budget deploy review notes merged fixed lunch".split()
for p in rnd.sample(convs, len(convs) // 3):
    msgs = [json.loads(l) for l in open(p, encoding="utf-8")]
    if len(msgs) > 10 and rnd.random() < 0.3:
        del msgs[rnd.randrange(len(msgs))]                       # deleted at source
    if msgs and rnd.random() < 0.3:
        m = msgs[rnd.randrange(len(msgs))]
        m["text"] = m["text"] + " (corrected)"; m["edited"] = "2026-03-%02dT12:00:00.000Z" % day
    for i in range(rnd.randrange(5, 40)):
        msgs.append({"id": "%d.%06d" % (1790000000 + day * 86400, len(msgs) + i),
                     "ts": "2026-03-%02dT%02d:%02d:00.000Z" % (day, i // 60 % 24, i % 60),
                     "user": "U%05d" % rnd.randrange(1, 400),
                     "text": " ".join(rnd.choice(words) for _ in range(rnd.randrange(3, 15)))})
    open(p, "w", encoding="utf-8").write("".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n" for m in msgs))
PY
	now t0
	"$IMDR" backup "$repo" "$C" --quiet --time "2026-03-$(printf %02d "$day")T23:00:00Z" || exit 1
	now t1
	daily+=("$(ms "$t0" "$t1")")
done
rm -f "$C/.done-$PRESET"	# the corpus was changed
R[daily_backup_ms]=$(median "${daily[@]}")
R[repo_after_30_bytes]=$(du -sb "$repo" | cut -f1)
echo "   a daily backup (index included): ${R[daily_backup_ms]} ms (median); repository $(( ${R[repo_after_30_bytes]} / 1048576 )) MiB"
for qq in '"looks good contract"|rare' 'from:U00042 budget|from' '"looks good"|broad'; do
	q=${qq%%|*}; key=${qq#*|}
	"$IMDR" "${KC[@]}" search "$repo" "$q" --json >/dev/null 2>&1; "$IMDR" "${KC[@]}" search "$repo" "$q" --all --json >/dev/null 2>&1
	t1s=() tas=() c1=() ca=() u1=() ua=()
	for r in $(seq 1 "$RUNS"); do
		now t0; "$IMDR" "${KC[@]}" search "$repo" "$q" --json --stats >/dev/null 2>"$B/s1"; now t1
		t1s+=("$(ms "$t0" "$t1")"); c1+=("$(stat_ms search "$B/s1")")
		now t0; "$IMDR" "${KC[@]}" search "$repo" "$q" --all --json --stats >/dev/null 2>"$B/sa"; now t1
		tas+=("$(ms "$t0" "$t1")"); ca+=("$(stat_ms search "$B/sa")")
		# and each deriving its key, as a first command does
		now t0; "$IMDR" search "$repo" "$q" --json >/dev/null 2>&1; now t1; u1+=("$(ms "$t0" "$t1")")
		now t0; "$IMDR" search "$repo" "$q" --all --json >/dev/null 2>&1; now t1; ua+=("$(ms "$t0" "$t1")")
	done
	R[all_${key}_uncached_ms]=$(median "${ua[@]}"); R[one_${key}_uncached_ms]=$(median "${u1[@]}")
	echo "   $q, deriving the key: newest ${R[one_${key}_uncached_ms]} ms, --all ${R[all_${key}_uncached_ms]} ms," \
		"$(calc "${R[all_${key}_uncached_ms]} / ${R[one_${key}_uncached_ms]}" 2)x"
	R[all_${key}_ms]=$(median "${tas[@]}"); R[one_${key}_ms]=$(median "${t1s[@]}")
	R[all_${key}_core_ms]=$(median "${ca[@]}"); R[one_${key}_core_ms]=$(median "${c1[@]}")
	echo "   $q: newest ${R[one_${key}_ms]} ms (search ${R[one_${key}_core_ms]} ms), --all over 30:" \
		"${R[all_${key}_ms]} ms (search ${R[all_${key}_core_ms]} ms), $(calc "${R[all_${key}_ms]} / ${R[one_${key}_ms]}" 2)x;" \
		"$(sed 's/search stats: //' "$B/sa")"
done

# ---- 5. RSMF export of 10 000 messages ----
read -r from to n <<<"$(python3 - "$C" <<'PY'
import glob, json, os, sys
ts = sorted(json.loads(l)["ts"] for p in glob.glob(os.path.join(sys.argv[1], "conversations", "*", "messages.jsonl")) for l in open(p, encoding="utf-8"))
i = len(ts) // 3
a, b = ts[i][:19], ts[i + 9999][:19]
print(a, b, sum(1 for t in ts if a <= t[:19] <= b))
PY
)"
echo "== 5. RSMF export of the $n messages from $from to $to"
tx=()
for r in $(seq 1 "$RUNS"); do
	rm -rf "$B/exp"
	now t0; "$IMDR" export "$repo" --format rsmf --out "$B/exp" --from "$from" --to "$to" --quiet >/dev/null || exit 1; now t1
	tx+=("$(ms "$t0" "$t1")")
done
R[export_rsmf_ms]=$(median "${tx[@]}")
R[export_events]=$(python3 "$TOP/tests/integration/rsmf_check.py" "$B/exp" | cut -d' ' -f1)
R[export_files]=$(find "$B/exp" -name '*.rsmf' | wc -l)
echo "   ${R[export_events]} events in ${R[export_files]} files, valid against the RSMF 2.0 schema: ${R[export_rsmf_ms]} ms"
R[load_end]=$(load)

# ---- results ----
mkdir -p bench/results
out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ediscovery.json
{
	printf '{"preset":"%s","runs":%s,"cores":%s' "$PRESET" "$RUNS" "$(nproc)"
	for k in $(printf '%s\n' "${!R[@]}" | sort); do
		v=${R[$k]}
		if printf '%s' "$v" | grep -qE '^-?[0-9]+(\.[0-9]+)?$'; then printf ',"%s":%s' "$k" "$v"
		else printf ',"%s":"%s"' "$k" "$v"; fi
	done
	printf '}\n'
} >"$out"
echo "== results in $out"
