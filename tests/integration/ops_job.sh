#!/bin/bash
# Jobs end to end on a local repository: --check-config names every mistake
# as FILE:LINE; a run whose export a command hook produces; the state, run
# log and metrics it leaves; a second run with nothing new; overlapping runs
# refused; a failing hook reported, the on-failure command run with the
# error; a password file others can read refused; status's levels from the
# state alone, with the repository gone.
. "$(dirname "$0")/lib.sh"
GEN=$TOOLS/gen_corpus
REPO=$T/repo
"$IMDR" init "$REPO" >/dev/null || { fail "init"; exit 1; }

# --- a job file with mistakes, each on its line
cat >"$T/bad.conf" <<EOF
repository = $REPO
[job]
password = hunter2
password-file = $T/pass
[source]
path = relative/path
format = whatsapp
[schedule]
on-calendar = every other tuesday
[targets]
rpo = one hour
[drill]
sample = 150%
colour = blue
EOF
out=$("$IMDR" run "$T/bad.conf" --check-config 2>&1); rc=$?
check "--check-config fails on a file with mistakes (exit 2)" test "$rc" = 2
for want in "bad.conf:1: repository = ...: outside any section" \
	"bad.conf:3: password: a passphrase never stands in a job file" \
	"bad.conf:6: path = relative/path: must be absolute" \
	"bad.conf:7: format = whatsapp: no such format" \
	"bad.conf:11: rpo = one hour: not a duration" \
	"bad.conf:13: sample = 150%: expected" \
	"bad.conf:14: colour: no such key in [drill]" \
	"bad.conf: [job] repository = ... is missing"; do
	if [[ "$out" == *"$want"* ]]; then pass "--check-config says: $want"; else fail "--check-config lacks '$want': $out"; fi
done
if command -v systemd-analyze >/dev/null; then
	if [[ "$out" == *"bad.conf:9: on-calendar = every other tuesday: systemd does not accept it"* ]]; then
		pass "--check-config asks systemd-analyze about on-calendar and names the line"
	else fail "on-calendar not checked: $out"; fi
else
	skip "on-calendar check (no systemd-analyze)"
fi
check_fails "a job file with mistakes is not run" "$IMDR" run "$T/bad.conf"

# --- the job: a command hook writes the export
JOBS=$T/jobs STATE=$T/state
mkdir -p "$JOBS"
cat >"$JOBS/acme.conf" <<EOF
# the reference plan, small
[job]
repository = $REPO
password-file = $IMDR_PASSWORD_FILE
state-dir = $STATE/acme
metrics-dir = $T/metrics
before = echo before-ran >"$T/before.out"
after = echo after-ran >"$T/after.out"
on-failure = printf '%s|%s' "\$IMDR_STEP" "\$IMDR_ERROR" >"$T/failure.out"

[source]
path = $T/export
command = rm -rf "$T/export" && "$GEN" --out "$T/export" --preset tiny --format slack
    --seed 7 >/dev/null
name = acme

[schedule]
on-calendar = hourly
full-every = 1d

[targets]
rpo = 1h
rto = 2h

[check]
every = 7d
EOF
check "--check-config accepts the job (and a command continued on an indented line)" \
	"$IMDR" run acme --jobs-dir "$JOBS" --check-config
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 0 ] && [[ "$out" == *"job acme: ok"* ]]; then pass "run: the whole job succeeds"; else fail "run: rc=$rc $out"; fi
check "run: the before and after commands ran" grep -q ran "$T/before.out" "$T/after.out"
check "run: the snapshot has the job's source name and the hook's export" \
	sh -c "'$IMDR' snapshots '$REPO' --source acme --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==1, d'"
check "run: the export restores byte for byte (source/)" \
	sh -c "'$IMDR' restore '$REPO' latest '$T/out' --source acme --include source --quiet && diff -r '$T/export' '$T/out/source'"
check "run: state.json says ok, a full backup, a check with no problem" python3 - "$STATE/acme/state.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["last_run"]["ok"] == 1, s
assert s["last_backup"]["full"] is True and s["last_backup"]["files"] > 10, s
assert s["last_check"]["ok"] == 1, s
assert s["source"] == "acme" and s["rpo_seconds"] == 3600, s
EOF
check "run: one JSON line in the run log" sh -c "test \$(wc -l <'$STATE/acme/runs.jsonl') = 1 && python3 -c 'import json,sys; l=json.loads(open(sys.argv[1]).readline()); assert l[\"result\"]==\"ok\" and l[\"backup\"][\"snapshot\"]' '$STATE/acme/runs.jsonl'"
check "run: the metrics file is written (mode 0644, no temporary left)" \
	sh -c "test \$(stat -c %a '$T/metrics/imdr-acme.prom') = 644 && grep -q '^imdr_rpo_met{job=\"acme\",source=\"acme\",repository=\"$REPO\"} 1' '$T/metrics/imdr-acme.prom' && ! ls '$T/metrics' | grep -q tmp"
check "run: the audit log records the backup and the check's repository untouched" \
	sh -c "'$IMDR' audit '$REPO' --command backup | grep -q 'source=acme'"

# --- a second run: the export unchanged
sed -i 's|^command = .*|command = true|; /^    --seed/d' "$JOBS/acme.conf"
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
check "a second run succeeds without a full read or a check (not due)" \
	sh -c "test $rc = 0 && python3 -c 'import json,sys; l=open(sys.argv[1]).read().splitlines()[-1]; l=json.loads(l); assert l[\"backup\"][\"full\"] is False and l[\"backup\"][\"added_bytes\"]<20000 and \"check\" not in l, l' '$STATE/acme/runs.jsonl'"
check "status: OK (exit 0) from the state" "$IMDR" status --state-dir "$STATE"

# --- overlapping runs
sed -i "s|^before = .*|before = touch '$T/started'; sleep 3|" "$JOBS/acme.conf"
"$IMDR" run acme --jobs-dir "$JOBS" >"$T/first.out" 2>&1 &
first=$!
for i in $(seq 1 100); do [ -e "$T/started" ] && break; sleep 0.05; done
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"job acme is already running (pid $first since"* ]]; then
	pass "an overlapping run is refused, naming the running one's pid"
else fail "overlap: rc=$rc $out"; fi
wait $first
check "the first run finished all the same" grep -q "job acme: ok" "$T/first.out"
check "the refused run left one 'refused' line and did not touch the state" \
	sh -c "grep -c '\"result\":\"refused\"' '$STATE/acme/runs.jsonl' | grep -qx 1 && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"last_run\"][\"ok\"]==1' '$STATE/acme/state.json'"

# --- a run killed with -9 leaves no lock behind: the next run goes
sed -i "s|^before = .*|before = touch '$T/started2'; sleep 4|" "$JOBS/acme.conf"
"$IMDR" run acme --jobs-dir "$JOBS" >/dev/null 2>&1 &
victim=$!
for i in $(seq 1 100); do [ -e "$T/started2" ] && break; sleep 0.05; done
kill -9 $victim; wait $victim 2>/dev/null
sed -i "s|^before = .*|before = true|" "$JOBS/acme.conf"
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 0 ] && [[ "$out" == *"job acme: ok"* ]]; then pass "after a run killed with -9 the next one runs (the lock went with the process)"; else fail "after kill -9: rc=$rc $out"; fi
check "the state stayed whole through the kill" python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$STATE/acme/state.json"

# --- a failing hook
sed -i "s|^before = .*|before = echo 'the export disk is not mounted' >\&2; exit 3|" "$JOBS/acme.conf"
rm -f "$T/failure.out"
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"failed in step before: before command"*"exited with status 3: the export disk is not mounted"* ]]; then
	pass "a failing before hook fails the run, with its status and last stderr line"
else fail "failing hook: rc=$rc $out"; fi
check "the on-failure command ran with IMDR_STEP and IMDR_ERROR" \
	grep -q '^before|before command .*exited with status 3: the export disk is not mounted' "$T/failure.out"
check "the failure is in the run log and the state" python3 - "$STATE/acme" <<'EOF'
import json, sys
d = sys.argv[1]
l = json.loads(open(d + "/runs.jsonl").read().splitlines()[-1])
assert l["result"] == "failed" and l["step"] == "before" and l["on_failure"] == "ok", l
s = json.load(open(d + "/state.json"))
assert s["last_run"]["ok"] == 0 and s["last_run"]["step"] == "before", s
assert s["last_success_ns"] > 0, s
EOF
out=$("$IMDR" status --state-dir "$STATE" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == WARNING:*"failed in step before"* ]]; then pass "status: WARNING (exit 1): the last run failed, the RPO still met"; else fail "status after failure: rc=$rc $out"; fi
sleep 2.1
out=$("$IMDR" status --state-dir "$STATE" --rpo 1s 2>&1); rc=$?
if [ $rc = 2 ] && [[ "$out" == CRITICAL:*"more than the RPO of 1s"* ]]; then pass "status --rpo 1s: CRITICAL (exit 2): the newest snapshot is too old"; else fail "status --rpo: rc=$rc $out"; fi

# --- a source command that fails
sed -i "s|^before = .*|before = true|; s|^command = .*|command = exit 5|" "$JOBS/acme.conf"
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"failed in step source: source command \`exit 5\` exited with status 5"* ]]; then
	pass "a failing source command fails the run in step source"; else fail "source command: rc=$rc $out"; fi

# --- a password file others can read
cp "$IMDR_PASSWORD_FILE" "$T/loose.pass"; chmod 644 "$T/loose.pass"
sed -i "s|^password-file = .*|password-file = $T/loose.pass|; s|^command = .*|command = true|" "$JOBS/acme.conf"
out=$("$IMDR" run acme --jobs-dir "$JOBS" 2>&1); rc=$?
if [ $rc = 2 ] && [[ "$out" == *"acme.conf:4: password-file $T/loose.pass: mode 644 lets others read it"* ]]; then
	pass "a password file of mode 0644 is refused, naming the line"; else fail "loose pass: rc=$rc $out"; fi

# --- status needs no repository
mv "$REPO" "$REPO.gone"
out=$("$IMDR" status --state-dir "$STATE" --json 2>&1); rc=$?
check "status answers with the repository gone (no repository read)" \
	sh -c "test $rc = 1 && echo '$out' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"sources\"][0][\"source\"]==\"acme\"'"
mv "$REPO.gone" "$REPO"
out=$("$IMDR" status --state-dir "$T/nothing" 2>&1); rc=$?
if [ $rc = 3 ] && [[ "$out" == UNKNOWN:* ]]; then pass "status with no state: UNKNOWN (exit 3)"; else fail "no state: rc=$rc $out"; fi

# --- retention: forget and prune when due (--retention: now)
sed -i "s|^password-file = .*|password-file = $IMDR_PASSWORD_FILE|" "$JOBS/acme.conf"
printf '\n[retention]\nkeep-last = 1\n' >>"$JOBS/acme.conf"
before=$("$IMDR" snapshots "$REPO" --source acme --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
out=$("$IMDR" run acme --jobs-dir "$JOBS" --retention 2>&1); rc=$?
check "a run with [retention] keep-last = 1 forgets all but the newest ($before before) and prunes" python3 - "$rc" "$STATE/acme" "$REPO" "$IMDR" <<'PY'
import json, subprocess, sys
assert sys.argv[1] == "0", sys.argv[1]
l = json.loads(open(sys.argv[2] + "/runs.jsonl").read().splitlines()[-1])
assert l["result"] == "ok" and l["forget"]["removed"] >= 2 and "packs_deleted" in l["prune"], l
s = json.load(open(sys.argv[2] + "/state.json"))
assert s["retention"]["forget_ns"] > 0 and s["retention"]["prune_ns"] > 0, s
snaps = json.loads(subprocess.run([sys.argv[4], "snapshots", sys.argv[3], "--source", "acme", "--json"], capture_output=True, text=True).stdout)
assert len(snaps) == 1, snaps
PY
check "the repository checks clean after the job's retention" "$IMDR" check "$REPO"
cat >>"$JOBS/acme.conf" <<EOF2
keep-within = 3 fortnights
tz = Mars/Olympus
EOF2
out=$("$IMDR" run acme --jobs-dir "$JOBS" --check-config 2>&1); rc=$?
if [ $rc = 2 ] && [[ "$out" == *"acme.conf:"*": keep-within = 3 fortnights:"* ]] && [[ "$out" == *": tz = Mars/Olympus:"* ]]; then
	pass "--check-config checks keep-within and tz as forget would"; else fail "retention config: rc=$rc $out"; fi

# --- the state is readable by a monitoring agent whatever the umask
out=$(umask 077; cat >"$JOBS/umask.conf" <<EOF2
[job]
repository = $REPO
password-file = $IMDR_PASSWORD_FILE
state-dir = $T/ustate/deep/umask
[source]
path = $T/export
name = umask
EOF2
"$IMDR" run umask --jobs-dir "$JOBS" --quiet 2>&1); rc=$?
check "under umask 077 the state folders are 0755 and its files 0644" \
	sh -c "test $rc = 0 && test \$(stat -c %a '$T/ustate') = 755 && test \$(stat -c %a '$T/ustate/deep/umask') = 755 && test \$(stat -c %a '$T/ustate/deep/umask/state.json') = 644 && test \$(stat -c %a '$T/ustate/deep/umask/runs.jsonl') = 644"

# --- a multi: repository whose second replica is behind: the run brings it up
"$IMDR" init "$T/rep2" --replica-of "$REPO" >/dev/null	# keys and config only
cat >"$JOBS/multi.conf" <<EOF2
[job]
repository = multi:$REPO|$T/rep2
password-file = $IMDR_PASSWORD_FILE
state-dir = $STATE/multi
[source]
path = $T/export
name = multi
EOF2
out=$("$IMDR" run multi --jobs-dir "$JOBS" 2>&1); rc=$?
check "a run into multi: brings the replica that lacked everything up to date" python3 - "$rc" "$out" "$STATE/multi" "$REPO" "$T/rep2" "$IMDR" <<'PY'
import json, subprocess, sys
rc, out, st, a, b, imdr = sys.argv[1:]
assert rc == "0", (rc, out)
n = lambda u: len(json.loads(subprocess.run([imdr, "snapshots", u, "--json"], capture_output=True, text=True).stdout))
assert n(a) == n(b) > 1, (n(a), n(b))
s = json.load(open(st + "/state.json"))
reps = {r["url"]: r for r in s["replicas"]}
assert len(reps) == 2 and all(r["ok"] and r["lag_snapshots"] == 0 for r in reps.values()), reps
l = json.loads(open(st + "/runs.jsonl").read().splitlines()[-1])
assert any(c.get("snapshots", 0) >= 1 for c in l["copy"]), l
PY
check "the replica checks clean" "$IMDR" check "$T/rep2"
