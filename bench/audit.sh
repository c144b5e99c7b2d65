#!/bin/bash
# bench/audit.sh — the audit log at scale: a log of N records (default
# 1000; N=10000 for more) on a local disk, on s3rver, and on s3rver behind
# a 50 ms round trip (tests/tools/faultproxy). For each: reading the whole
# log (imdr audit's engine), a checkpoint, verifying against it (check
# --since-checkpoint's part), and one append (what every command pays),
# with the backend requests each made; beside the append, a listing of the
# whole audit/ prefix (what appending cost before the month folders).
#
#   BUILD=build bench/audit.sh            (after make; uses .deps/npm s3rver)
#   N=10000 WHERE="local s3" bench/audit.sh
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD BUILD=${BUILD:-build}
IMDR=$TOP/$BUILD/imdr AG=$TOP/$BUILD/tools/auditgen BT=$TOP/$BUILD/tools/betool
N=${N:-1000}
B=$(mktemp -d /tmp/imdr-bench-audit.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$B"' EXIT
export IMDR_PASSWORD_FILE=$B/pass XDG_CACHE_HOME=$B/cache
printf 'bench\n' >"$IMDR_PASSWORD_FILE"; chmod 600 "$IMDR_PASSWORD_FILE"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
# field NAME LINE: the value of NAME=... in auditgen's stats line
field() { sed -n "s/.* \?$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

mkdir -p "$B/src"; printf 'hello\n' >"$B/src/a.txt"
sp=$(free_port); mkdir -p "$B/s3data"
NODE_OPTIONS=--openssl-legacy-provider "$TOP/.deps/npm/node_modules/.bin/s3rver" --directory "$B/s3data" --port "$sp" --address 127.0.0.1 --silent >/dev/null 2>&1 &
pids+=($!)
wait_port "$sp" || { echo "bench: s3rver did not start (make test-deps)" >&2; exit 1; }
"$TOP/$BUILD/tools/faultproxy" --to "$sp" --delay-ms 25 --port-file "$B/pp" >/dev/null &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$B/pp" ] && break; sleep 0.05; done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER

echo "== audit log of $N records (+ init, 3 backups), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-18s %-26s %-26s %-26s %-26s %s\n' where "read all (s, GET/LIST)" "checkpoint (s)" "verify vs it (s, GET)" "append (s, LIST/GET/PUT)" "list audit/ (s)"
for where in ${WHERE:-local s3 s3-50ms}; do
	case $where in
	local) U=$B/repo ;;
	s3) U="s3://bench/audit?endpoint=http://127.0.0.1:$sp&path_style=1" ;;
	s3-50ms) U="s3://bench/audit?endpoint=http://127.0.0.1:$(cat "$B/pp")&path_style=1" ;;
	esac
	if [ $where != s3-50ms ]; then
		"$IMDR" init "$U" >/dev/null || exit 1
		"$AG" "$U" fill "$N" --spacing 3600 >/dev/null || exit 1
		for i in 1 2 3; do "$IMDR" backup "$U" "$B/src" --quiet --source "s$i" || exit 1; done
	fi
	rd=$("$AG" "$U" read | tail -1)
	t0=$(now); d=$("$IMDR" audit "$U" --checkpoint --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])'); t1=$(now)
	cp=$(secs "$t0" "$t1")
	vf=$("$AG" "$U" verify "$d" | tail -1)
	ap=$("$AG" "$U" append cat | tail -1)
	t0=$(now); "$BT" "$U" list audit/ >/dev/null; t1=$(now)
	printf '%-18s %-26s %-26s %-26s %-26s %s\n' "$where" \
		"$(field secs "$rd") ($(field gets "$rd")/$(field lists "$rd"))" "$cp" \
		"$(field secs "$vf") ($(field gets "$vf"))" \
		"$(field secs "$ap") ($(field lists "$ap")/$(field gets "$ap")/$(field puts "$ap"))" \
		"$(secs "$t0" "$t1")"
	if [ $where = s3 ]; then
		t0=$(now); "$IMDR" audit "$U" >/dev/null; t1=$(now)
		echo "   imdr audit (the whole command, passphrase KDF included) on s3: $(secs "$t0" "$t1") s"
		t0=$(now); "$IMDR" check "$U" --since-checkpoint "$d" >/dev/null; t1=$(now)
		echo "   imdr check --since-checkpoint (structure too) on s3: $(secs "$t0" "$t1") s"
	fi
done
