#!/bin/bash
# A job into an S3 repository (s3rver) whose export a command hook makes,
# with a copy-to replica on local disk; status --live from one listing;
# a drill over a slow link (300 ms round trips, faultproxy) that misses
# --rto 1s and says so with exit status 4 (ops_drill shows one within its RTO).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
start_s3rver || { fail "s3rver did not start (make test-deps installs it): $(tail -3 "$T/s3rver.log" 2>/dev/null)"; exit 1; }
GEN=$TOOLS/gen_corpus
E="endpoint=http://127.0.0.1:$S3_PORT&path_style=1"
URL="s3://imdr-ops/repo?$E"
"$IMDR" init "$URL" >/dev/null || { fail "init on s3rver"; exit 1; }
"$IMDR" init "$T/offsite" --replica-of "$URL" >/dev/null || { fail "init --replica-of"; exit 1; }
cat >"$T/cloud.conf" <<EOF
[job]
repository = $URL
password-command = cat '$IMDR_PASSWORD_FILE'
state-dir = $T/state/cloud
copy-to = $T/offsite
[source]
path = $T/export
command = rm -rf '$T/export' && '$GEN' --out '$T/export' --preset tiny --format mattermost
    --large-file 4000000 >/dev/null
[targets]
rpo = 1h
rto = 2h
[check]
every = 1d
EOF
out=$("$IMDR" run "$T/cloud.conf" 2>&1); rc=$?
if [ $rc = 0 ] && [[ "$out" == *"job cloud: ok"* ]]; then pass "a job into s3rver with a command hook and a copy-to runs"; else fail "cloud job: rc=$rc $out"; fi
check "the snapshot is on s3rver and restores to the export (source/)" \
	sh -c "'$IMDR' restore '$URL' latest '$T/out' --include source --quiet && diff -r '$T/export' '$T/out/source'"
check "the copy-to replica got the snapshot and checks clean" \
	sh -c "test \"\$('$IMDR' snapshots '$T/offsite' --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1 && '$IMDR' check '$T/offsite' >/dev/null"
check "the state names the copy up to date, the source's name, the check" python3 - "$T/state/cloud/state.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["last_run"]["ok"] == 1 and s["last_check"]["ok"] == 1, s
assert s["source"].startswith("mattermost-"), s["source"]
(r,) = s["replicas"]
assert r["role"] == "copy" and r["ok"] and r["lag_snapshots"] == 0 and r["last_success_ns"] > 0, r
EOF
out=$("$IMDR" status "$URL" --live --state-dir "$T/state" --json 2>&1); rc=$?
check "status --live on s3rver: one listing and no object read, the job's source by name, OK" python3 - "$out" "$rc" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
assert int(sys.argv[2]) == 0 and d["listings"] == 1 and d["listing_reads"] == 0, (sys.argv[2], d.get("listings"), d.get("listing_reads"))
(row,) = d["sources"]
assert row["job"] == "cloud" and row["snapshots"] == 1 and row["rpo_met"] == 1, row
EOF

start_proxy "$S3_PORT" --delay-ms 150
SLOW="s3://imdr-ops/repo?endpoint=http://127.0.0.1:$PROXY_PORT&path_style=1"
out=$("$IMDR" drill "$SLOW" --rto 1s --report "$T/slow.json" 2>&1); rc=$?
if [ $rc = 4 ] && [[ "$out" == *"RTO 1s: MISSED"* ]] && [[ "$out" == *"more than the RTO of 1s"* ]]; then
	pass "drill --rto 1s over a 300 ms link: verified, but the estimate misses the RTO (exit 4)"
else fail "drill --rto 1s: rc=$rc $out"; fi
check "the report says verified and RTO missed, with the estimate above 1 s" python3 - "$T/slow.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verified_ok"] and r["rto_met"] is False and not r["ok"] and r["estimate_seconds"] > 1, r
EOF
