# bench/s3.sh — sourced by bench/run.sh: imdr against restic over an S3-like
# service behind a 50 ms round-trip link (tests/tools/faultproxy, 25 ms each
# way; this kernel has no netem). imdr talks S3 to s3rver; restic cannot use
# s3rver (its uploads are aws-chunked) and talks to `rclone serve restic`
# through the same proxy. Corpus: the small preset with a 128 MiB file.
# Results go to R[s3.<tool>.<measure>].
s3_corpus=$B/corpus-s3
rm -rf "$s3_corpus"
"$GEN" --out "$s3_corpus" --preset small --seed 7 --large-file 134217728 >/dev/null
s3_large=$(find "$s3_corpus" -type f -size 131072k | head -1); s3_large=${s3_large#$s3_corpus/}
s3_small=$(find "$s3_corpus/conversations" -path '*attachments*' -type f -size -100k | sort | sed -n 20p); s3_small=${s3_small#$s3_corpus/}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
sp=$(free_port); rm -rf "$B/s3data"; mkdir -p "$B/s3data"
node --openssl-legacy-provider "$TOP/.deps/npm/node_modules/.bin/s3rver" --directory "$B/s3data" --port "$sp" --address 127.0.0.1 --silent >/dev/null 2>&1 &
s3pid=$!
rp=$(free_port); rm -rf "$B/rclone-restic"; mkdir -p "$B/rclone-restic"
rclone serve restic --addr "127.0.0.1:$rp" "$B/rclone-restic" >/dev/null 2>&1 &
rcpid=$!
wait_port "$sp"; wait_port "$rp"
"$TOP/$BUILD/tools/faultproxy" --to "$sp" --delay-ms 25 --port-file "$B/p1" >/dev/null & px1=$!
"$TOP/$BUILD/tools/faultproxy" --to "$rp" --delay-ms 25 --port-file "$B/p2" >/dev/null & px2=$!
sleep 0.5
S3U="s3://bench/repo?endpoint=http://127.0.0.1:$(cat "$B/p1")&path_style=1"
RR="rest:http://127.0.0.1:$(cat "$B/p2")/"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
echo
echo "==== S3 over a 50 ms round trip (small corpus with a 128 MiB file, $(du -sm "$s3_corpus" | cut -f1) MiB)"
"$IMDR" init "$S3U" >/dev/null
restic -r "$RR" init --quiet >/dev/null
for tool in imdr restic; do
	drop; t0=$(now)
	if [ $tool = imdr ]; then "$IMDR" backup "$S3U" "$s3_corpus" --quiet --format files
	else (cd "$B" && restic -r "$RR" backup --quiet corpus-s3 >/dev/null); fi
	t1=$(now); R[s3.$tool.backup_s]=$(secs $t0 $t1)
	mkdir -p "$M/s3-$tool"
	mt=() fb=() lg=()
	for r in $(seq 1 "$RUNS"); do
		drop; t0=$(now)
		if [ $tool = imdr ]; then "$MOUNT_IMDR" "$S3U" "$M/s3-$tool" -f >/dev/null 2>&1 & pid=$!; root=$M/s3-imdr/latest
		else restic -r "$RR" mount "$M/s3-$tool" >/dev/null 2>&1 & pid=$!; root=$M/s3-restic/snapshots/latest/corpus-s3; fi
		wait_ready "$root" || { echo "bench: $tool S3 mount did not come up" >&2; break; }
		t1=$(now); mt+=("$(secs $t0 $t1)")
		ls "$(dirname "$root/$s3_small")" >/dev/null
		t0=$(now); head -c1 "$root/$s3_small" >/dev/null; t1=$(now); fb+=("$(secs $t0 $t1)")
		# the 128 MiB file in every run (a fresh mount, caches dropped):
		# one read alone swung by 15 % from run to run
		t0=$(now); cat "$root/$s3_large" >/dev/null; t1=$(now); lg+=("$(secs $t0 $t1)")
		fusermount3 -u "$M/s3-$tool" 2>/dev/null; while kill -0 $pid 2>/dev/null; do sleep 0.01; done
	done
	R[s3.$tool.mount_s]=$(median "${mt[@]}")
	[ ${#lg[@]} -gt 0 ] && R[s3.$tool.large_mbs]=$(calc "134217728 / 1048576 / $(median "${lg[@]}")" 1)
	R[s3.$tool.large_runs]="\"${lg[*]}\""	# a string in the JSON
	R[s3.$tool.first_byte_ms]=$(calc "$(median "${fb[@]}") * 1000" 1)
	# the whole command for the 128 MiB file, and for one small file of
	# the same snapshot: the difference is the transfer itself (opening,
	# the key, listings and the audit record cost both the same)
	for what in small large; do
		[ $what = small ] && p=$s3_small || p=$s3_large
		rm -rf "$B/out-s3"; drop; t0=$(now)
		if [ $tool = imdr ]; then "$IMDR" restore "$S3U" latest "$B/out-s3" --include "$p" --quiet
		else restic -r "$RR" restore latest --target "$B/out-s3" --include "/corpus-s3/$p" --quiet >/dev/null; fi
		sync; t1=$(now)
		R[s3.$tool.restore_${what}_s]=$(secs $t0 $t1)
	done
	R[s3.$tool.restore_mbs]=$(calc "134217728 / 1048576 / ${R[s3.$tool.restore_large_s]}" 1)
	R[s3.$tool.restore_transfer_mbs]=$(calc "134217728 / 1048576 / (${R[s3.$tool.restore_large_s]} - ${R[s3.$tool.restore_small_s]})" 1)
	rm -rf "$B/out-s3"
	echo "   $tool: backup ${R[s3.$tool.backup_s]}s, mount ${R[s3.$tool.mount_s]}s, first byte (after listing its folder) ${R[s3.$tool.first_byte_ms]} ms, 128 MiB file ${R[s3.$tool.large_mbs]:-n/a} MiB/s through the mount (median of $RUNS; s: ${lg[*]}), ${R[s3.$tool.restore_mbs]} MiB/s restored (the whole command; ${R[s3.$tool.restore_transfer_mbs]} MiB/s beyond a restore of one small file)"
done
kill $px1 $px2 $s3pid $rcpid 2>/dev/null
wait $px1 $px2 $s3pid $rcpid 2>/dev/null
shapes_done+=(s3)
