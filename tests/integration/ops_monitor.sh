#!/bin/bash
# Monitoring a job: its metrics file passes `promtool check metrics` and is
# served by a real prometheus-node-exporter's textfile collector (labels
# with quotes and backslashes escaped); `imdr status --prometheus` the same;
# the Zabbix discovery JSON and UserParameters of examples/zabbix/imdr.conf
# answered by `zabbix_agent2 -t`; `status --live` from one listing a replica,
# a source no job names shown by its tag, a replica behind named; the
# units `imdr schedule install` writes, and examples/systemd's, pass
# `systemd-analyze verify`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud.lib"
GEN=$TOOLS/gen_corpus
REPO=$T/repo STATE=$T/state M=$T/metrics
"$IMDR" init "$REPO" >/dev/null || { fail "init"; exit 1; }
"$GEN" --out "$T/export" --preset tiny --format slack >/dev/null
SRC='eu "west" \ team'		# quotes and a backslash, to be escaped in labels
cat >"$T/weird.conf" <<EOF
[job]
repository = $REPO
password-file = $IMDR_PASSWORD_FILE
state-dir = $STATE/weird
metrics-dir = $M
[source]
path = $T/export
name = $SRC
[schedule]
on-calendar = *-*-* 02:00
on-calendar = hourly
randomized-delay = 5m
[targets]
rpo = 1h
rto = 2h
[drill]
every = 182d
sample = 30%
EOF
check "a job whose source name holds quotes and a backslash runs (with its drill)" "$IMDR" run "$T/weird.conf" --quiet
PROM=$M/imdr-weird.prom
check "the metrics file has the escaped labels" \
	grep -qF 'imdr_rpo_met{job="weird",source="eu \"west\" \\ team",repository="'"$REPO"'"} 1' "$PROM"
for m in imdr_last_success_timestamp_seconds imdr_newest_snapshot_age_seconds imdr_rpo_seconds \
	imdr_backup_duration_seconds imdr_backup_added_bytes imdr_backup_files imdr_last_drill_success \
	imdr_drill_rto_seconds imdr_rto_seconds imdr_status; do
	check "the metrics file has $m with HELP and TYPE" \
		sh -c "grep -q '^# HELP $m ' '$PROM' && grep -q '^# TYPE $m gauge' '$PROM' && grep -q '^$m{' '$PROM'"
done
if command -v promtool >/dev/null; then
	check "promtool check metrics accepts the job's metrics file" sh -c "promtool check metrics <'$PROM'"
	check "promtool check metrics accepts imdr status --prometheus" \
		sh -c "'$IMDR' status --state-dir '$STATE' --prometheus | promtool check metrics"
else
	skip "promtool (scripts/deps.sh test installs prometheus)"
fi
if command -v prometheus-node-exporter >/dev/null; then
	port=$(free_port)
	prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$M" >"$T/ne.log" 2>&1 &
	ne=$!
	on_exit "kill $ne"
	wait_port "$port"
	python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics').read().decode())" >"$T/scrape" 2>&1
	check "node-exporter serves imdr_rpo_met with the escaped source label" \
		grep -qF 'imdr_rpo_met{job="weird",repository="'"$REPO"'",source="eu \"west\" \\ team"} 1' "$T/scrape"
	check "node-exporter read the file without an error" \
		sh -c "grep -q '^node_textfile_scrape_error 0' '$T/scrape' && ! grep -qi 'error' '$T/ne.log'"
else
	skip "node-exporter (scripts/deps.sh test installs prometheus-node-exporter)"
fi

# --- Zabbix
ZA=$(command -v zabbix_agent2 || command -v zabbix_agentd || true)
if [ -n "$ZA" ]; then
	{
		echo "Hostname=imdr-test"; echo "Server=127.0.0.1"; echo "LogType=console"
		echo "ControlSocket=$T/za.sock"; echo "PluginSocket=$T/za-plugin.sock"
		sed "s#/usr/local/bin/imdr status#IMDR_STATE_DIR='$STATE' '$IMDR' status#" "$TOP/examples/zabbix/imdr.conf"
	} >"$T/za.conf"
	out=$("$ZA" -c "$T/za.conf" -t imdr.discovery 2>&1)
	check "$(basename "$ZA") -t imdr.discovery: LLD JSON naming the job and source" python3 - "$out" "$SRC" <<'EOF'
import json, re, sys
m = re.search(r"\[s\|(.*)\]\s*$", sys.argv[1], re.S)
d = json.loads(m.group(1))
assert d["data"] == [{"{#JOB}": "weird", "{#SOURCE}": sys.argv[2], "{#REPOSITORY}": d["data"][0]["{#REPOSITORY}"]}], d
EOF
	out=$("$ZA" -c "$T/za.conf" -t imdr.level 2>&1)
	check "$(basename "$ZA") -t imdr.level: 0 (OK)" sh -c "echo '$out' | grep -q '\[s|0\]'"
	out=$("$ZA" -c "$T/za.conf" -t imdr.status 2>&1)
	check "$(basename "$ZA") -t imdr.status: the JSON the template's items read" \
		sh -c "echo '$out' | grep -q 'newest_snapshot_age_seconds'"
	check "the Zabbix template names the keys the UserParameters give" \
		sh -c "grep -q 'key: imdr.discovery' '$TOP/examples/zabbix/imdr_template.yaml' && grep -q 'key: imdr.status' '$TOP/examples/zabbix/imdr_template.yaml' && grep -q 'key: imdr.level' '$TOP/examples/zabbix/imdr_template.yaml'"
else
	skip "zabbix agent (scripts/deps.sh test installs zabbix-agent2)"
fi

# --- status --live: one listing per replica
"$IMDR" init "$T/replica" --replica-of "$REPO" >/dev/null
"$IMDR" copy "$REPO" "$T/replica" --quiet
"$IMDR" backup "$REPO" "$T/export" --source other --quiet	# on the first replica only
out=$("$IMDR" status "multi:$REPO|$T/replica" --live --state-dir "$T/none" --json 2>&1); rc=$?
check "status --live: two listings (one a replica), every source by tag, the replica behind" python3 - "$out" "$rc" <<'EOF'
import json, sys
d = json.loads(sys.argv[1])
assert d["listings"] == 2, d["listings"]
rows = d["sources"]
assert len(rows) == 2 and all(r["source"].startswith("tag:") for r in rows), rows
behind = [r for r in rows if r["replicas_behind"]]
assert len(behind) == 1 and behind[0]["snapshots"] == 1, rows
assert int(sys.argv[2]) == 1, sys.argv[2]	# a replica behind: warning
EOF
out=$("$IMDR" status "$REPO" --live --state-dir "$STATE" --source "$SRC" --source other --rpo 1h 2>&1); rc=$?
if [ $rc = 0 ] && [[ "$out" == "OK: 2 sources"* ]] && [[ "$out" == *"other "*"1 snapshot in the repository (listed)"* ]]; then
	pass "status --live --source names a source no job names, and judges both by --rpo"
else fail "status --live --source: rc=$rc $out"; fi

# --- systemd units
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/units"
	check "schedule install writes both units" \
		"$IMDR" schedule install "$T/weird.conf" --unit-dir "$T/units" --imdr "$IMDR" --state-dir "$STATE"
	check "systemd-analyze verify accepts the generated units" \
		systemd-analyze verify "$T/units/imdr-weird.service" "$T/units/imdr-weird.timer"
	check "the timer has both OnCalendar lines, Persistent=true, the delay" \
		sh -c "grep -qx 'OnCalendar=\*-\*-\* 02:00' '$T/units/imdr-weird.timer' && grep -qx 'OnCalendar=hourly' '$T/units/imdr-weird.timer' && grep -qx 'Persistent=true' '$T/units/imdr-weird.timer' && grep -qx 'RandomizedDelaySec=300' '$T/units/imdr-weird.timer'"
	check "schedule list shows the job" sh -c "'$IMDR' schedule list --unit-dir '$T/units' | grep -q '^weird .*\*-\*-\* 02:00; hourly'"
	mkdir -p "$T/ex"
	sed "s#/usr/local/bin/imdr#$IMDR#" "$TOP/examples/systemd/imdr-acme.service" >"$T/ex/imdr-acme.service"
	cp "$TOP/examples/systemd/imdr-acme.timer" "$T/ex/"
	check "systemd-analyze verify accepts examples/systemd's units" \
		systemd-analyze verify "$T/ex/imdr-acme.service" "$T/ex/imdr-acme.timer"
	check "schedule remove deletes them" sh -c "'$IMDR' schedule remove weird --unit-dir '$T/units' >/dev/null && ! ls '$T/units' | grep -q weird"
	check_fails "schedule remove of a job not installed fails" "$IMDR" schedule remove weird --unit-dir "$T/units"
else
	skip "systemd-analyze verify (scripts/deps.sh test installs systemd)"
fi
cat >"$T/nocal.conf" <<EOF
[job]
repository = $REPO
password-file = $IMDR_PASSWORD_FILE
state-dir = $STATE/nocal
[source]
path = $T/export
EOF
out=$("$IMDR" schedule install "$T/nocal.conf" --unit-dir "$T/units" --imdr "$IMDR" 2>&1); rc=$?
if [ $rc != 0 ] && [[ "$out" == *"nocal.conf: [schedule] has no on-calendar"* ]]; then pass "schedule install of a job without on-calendar says so"; else fail "nocal: rc=$rc $out"; fi
