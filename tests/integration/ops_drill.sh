#!/bin/bash
# Restore drills: a sample by a seed, every file verified against the
# manifest; --against the export; the JSON report; the audit record; a
# damaged pack caught and named, on the replica that holds it only (each
# replica is drilled alone, so failover cannot hide it); a changed file
# in --against caught; the result in a job's state and status.
. "$(dirname "$0")/lib.sh"
GEN=$TOOLS/gen_corpus
REPO=$T/repo
"$IMDR" init "$REPO" >/dev/null || { fail "init"; exit 1; }
"$GEN" --out "$T/export" --preset tiny --format slack --large-file 3000000 >/dev/null
"$IMDR" backup "$REPO" "$T/export" --source acme --quiet

out=$("$IMDR" drill "$REPO" --source acme --rto 2h --report "$T/full.json" --scratch "$T/sc1" 2>&1); rc=$?
if [ $rc = 0 ] && [[ "$out" == *"drill OK: 1 replica"* ]]; then pass "drill of every file: OK"; else fail "full drill: rc=$rc $out"; fi
check "the report: every file verified, each against manifest.json but the manifest itself" python3 - "$T/full.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["rto_met"] is True and r["sample"] is None, r
x = r["replicas"][0]
assert x["files_verified"] == x["files_total"] > 40 and x["mismatches"] == 0, x
assert x["manifest"] and x["manifest_checked"] == x["files_total"] - 1, x
assert x["first_message_path"].endswith("/messages.jsonl"), x
for k in ("open_seconds", "first_message_seconds", "restore_seconds", "throughput_bytes_per_second", "estimate_seconds"):
    assert x[k] > 0, (k, x)
assert 0 < r["setup_seconds"] < r["replicas"][0]["estimate_seconds"], r
assert len(r["audit_record"]) == 64, r
EOF
check "the drill is in the audit log" sh -c "'$IMDR' audit '$REPO' --command drill | grep -q 'source=acme'"
check "the drill's folder in the scratch folder is gone afterwards" sh -c "test -d '$T/sc1' && test -z \"\$(ls -A '$T/sc1')\""

"$IMDR" drill "$REPO" --sample 20% --seed 42 --json --scratch "$T/scratch" >"$T/s1.json" 2>/dev/null
"$IMDR" drill "$REPO" --sample 20% --seed 42 --json --scratch "$T/scratch" >"$T/s2.json" 2>/dev/null
check "--sample 20% --seed 42: at most a fifth of the bytes, the same files twice, scratch emptied" python3 - "$T/s1.json" "$T/s2.json" "$T/scratch" <<'EOF'
import json, os, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
x, y = a["replicas"][0], b["replicas"][0]
assert a["sample"] == {"percent": 20.0, "by": "files, at most that share of the bytes", "seed": 42}, a["sample"]
assert 0 < x["files_verified"] < x["files_total"], x
assert x["bytes_verified"] <= 0.2 * x["bytes_total"] + 1, x
assert (x["files_verified"], x["bytes_verified"]) == (y["files_verified"], y["bytes_verified"]), (x, y)
assert x["estimate_seconds"] >= x["open_seconds"] + x["restore_seconds"], x
assert os.listdir(sys.argv[3]) == [], os.listdir(sys.argv[3])
EOF

check "--against the export: every source/ file compared, none differs" \
	sh -c "'$IMDR' drill '$REPO' --against '$T/export' --json | python3 -c 'import json,sys; x=json.load(sys.stdin)[\"replicas\"][0]; assert x[\"against_compared\"]>10 and x[\"against_differ\"]==0, x'"
f=$(ls "$T/export"/general/*.json | head -1)
printf ' ' >>"$f"
out=$("$IMDR" drill "$REPO" --against "$T/export" 2>&1); rc=$?
rel=${f#"$T/export/"}
if [ $rc = 1 ] && [[ "$out" == *"source/$rel: differs from $T/export/$rel"* ]]; then pass "--against: a changed live file fails the drill, named"; else fail "against: rc=$rc $out"; fi

# --- a file that differs from its manifest entry (a canonical input keeps
# its manifest as it is): the SHA-256 check can fail
mkdir -p "$T/canon/conversations/general--C1"
echo '{"id":"U1","name":"a"}' >"$T/canon/users.jsonl"
echo '{"id":"1","ts":"2026-01-01T00:00:00.000Z","user":"U1","text":"hi"}' >"$T/canon/conversations/general--C1/messages.jsonl"
echo '{"id":"C1","name":"general","kind":"channel","members":["U1"]}' >"$T/canon/conversations/general--C1/meta.json"
python3 - "$T/canon" <<'EOF'
import hashlib, json, sys
d = sys.argv[1]
files = []
for p in ["conversations/general--C1/messages.jsonl", "conversations/general--C1/meta.json", "users.jsonl"]:
    b = open(d + "/" + p, "rb").read()
    h = "0" * 64 if p.endswith("messages.jsonl") else hashlib.sha256(b).hexdigest()
    files.append({"path": p, "size": len(b), "sha256": h})
json.dump({"source": "canonical", "files": files}, open(d + "/manifest.json", "w"))
EOF
"$IMDR" init "$T/crepo" >/dev/null && "$IMDR" backup "$T/crepo" "$T/canon" --format canonical --quiet
out=$("$IMDR" drill "$T/crepo" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"conversations/general--C1/messages.jsonl: SHA-256 "*", the manifest says 0000"* ]] &&
	[[ "$out" == *"verified 3 of 4 files"* ]]; then
	pass "a file whose SHA-256 differs from the manifest's fails the drill, named"
else fail "manifest mismatch: rc=$rc $out"; fi

# --- a manifest that is not JSON: the drill fails naming it, and a
# sample's files (hashed as they landed, the manifest still loading) are
# read again and verified by their chunks' ids
printf '{"source": "canonical", "files": [{"path": "users.jsonl", "size": 1, "sha256": "00"}' >"$T/canon/manifest.json"
"$IMDR" init "$T/brepo" >/dev/null && "$IMDR" backup "$T/brepo" "$T/canon" --format canonical --quiet
"$IMDR" drill "$T/brepo" --sample 99% --seed 3 --json --scratch "$T/sc3" >"$T/broken.json" 2>/dev/null
check "a manifest that is not JSON: named, the sample verified by chunk ids, scratch emptied" python3 - "$T/broken.json" "$T/sc3" <<'EOF2'
import json, os, sys
r = json.load(open(sys.argv[1]))
x = r["replicas"][0]
assert not r["ok"] and not x["manifest"] and x["mismatches"] == 1, x
assert x["problems"][0].startswith("manifest.json: not a manifest"), x
assert x["files_verified"] >= 2 and x["unreadable"] == 0, x
assert os.listdir(sys.argv[2]) == [], os.listdir(sys.argv[2])
EOF2

# --- a damaged pack, on one replica of two
"$IMDR" init "$T/replica" --replica-of "$REPO" >/dev/null
"$IMDR" copy "$REPO" "$T/replica" --quiet
pack=$(ls -S "$T"/replica/data/*/* | head -1)
packid=$(basename "$pack")
python3 - "$pack" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 3] ^= 0x40
open(p, "wb").write(bytes(b))
EOF
out=$("$IMDR" drill "multi:$REPO|$T/replica" --report "$T/damaged.json" --job acme --state-dir "$T/state" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"in pack ${packid:0:16} failed authentication"* ]] && [[ "$out" == *"drill FAILED"* ]] &&
	[[ "$(echo "$out" | tail -1)" == "imdr: the drill found 2 files damaged"* ]]; then
	pass "a damaged pack fails the drill, naming the pack (${packid:0:16})"
else fail "damaged pack: rc=$rc $out"; fi
check "the report: replica 1 verified, replica 2 has the mismatches" python3 - "$T/damaged.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a, b = r["replicas"]
assert not r["ok"] and a["ok"] and a["mismatches"] == 0, r
assert not b["ok"] and b["unreadable"] >= 1 and b["mismatches"] >= 1 and b["problems"], b
EOF
out=$("$IMDR" status --state-dir "$T/state" 2>&1); rc=$?
if [ $rc = 2 ] && [[ "$out" == *"the last drill found"*"damaged, missing or different"* ]]; then
	pass "drill --job records the result: status says CRITICAL"; else fail "status after damaged drill: rc=$rc $out"; fi
# a sample is read back as it lands, by the restore's workers: the
# damaged pack is caught there too, and the scratch folder left empty
out=$("$IMDR" drill "multi:$REPO|$T/replica" --replica 2 --sample 99% --seed 7 --scratch "$T/sc2" 2>&1); rc=$?
if [ $rc = 1 ] && [[ "$out" == *"in pack ${packid:0:16} failed authentication"* ]] && [ -z "$(ls -A "$T/sc2")" ]; then
	pass "a sample drill catches the damaged pack too, and leaves its scratch folder empty"
else fail "damaged pack, sample: rc=$rc $(ls -A "$T/sc2") $out"; fi
check "drill --replica 1 (the sound one) passes" "$IMDR" drill "multi:$REPO|$T/replica" --replica 1 --quiet
check_fails "drill --replica 3 of two is refused" "$IMDR" drill "multi:$REPO|$T/replica" --replica 3 --quiet
check_fails "drill --sample 0% is refused" "$IMDR" drill "$REPO" --sample 0%
