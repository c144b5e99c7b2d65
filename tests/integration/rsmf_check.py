#!/usr/bin/env python3
"""rsmf_check.py DIR [--events N] [--schema FILE] — check every .rsmf below
DIR: an RFC 5322 message with RSMF 2.0 headers whose single attachment is
rsmf.zip; the zip's rsmf_manifest.json validates against the published
RSMF 2.0 JSON Schema (python3-jsonschema, draft-07); every event's
participant, conversation, parent and attachment resolves inside its file;
the headers agree with the manifest; events per file <= 10000, in time
order, one conversation per file, one UTC day per file. Prints the total
event count; with --events N, fails unless it is N."""
import email, email.policy, io, json, os, sys, zipfile
import jsonschema

args = sys.argv[1:]
root = args[0]
want = None
schema_path = os.path.join(os.path.dirname(__file__), "..", "data", "rsmf", "rsmf_schema_2_0_0.json")
if "--events" in args:
    want = int(args[args.index("--events") + 1])
if "--schema" in args:
    schema_path = args[args.index("--schema") + 1]
schema = json.load(open(schema_path))
validator = jsonschema.Draft7Validator(schema)

total = 0
files = 0
for dp, dn, fn in os.walk(root):
    for f in sorted(fn):
        if not f.endswith(".rsmf"):
            continue
        path = os.path.join(dp, f)
        raw = open(path, "rb").read()
        assert b"\r\n" in raw and all(b < 0x80 for b in raw), path + ": not 7-bit CRLF text"
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["X-RSMF-Version"] == "2.0.0", path
        assert msg["From"] and msg["Date"], path + ": RFC 5322 needs From and Date"
        atts = [p for p in msg.iter_attachments()]
        assert len(atts) == 1 and atts[0].get_filename() == "rsmf.zip", path + ": one attachment, rsmf.zip"
        z = zipfile.ZipFile(io.BytesIO(atts[0].get_content()))
        assert z.testzip() is None, path
        names = z.namelist()
        man = json.loads(z.read("rsmf_manifest.json"))
        errors = sorted(validator.iter_errors(man), key=lambda e: e.path)
        assert not errors, path + ": " + "; ".join(e.message for e in errors[:5])
        ev = man["events"]
        assert 0 < len(ev) <= 10000, path
        assert int(msg["X-RSMF-EventCount"]) == len(ev), path
        assert int(msg["X-RSMF-AttachmentCount"]) == len(names) - 1, path
        parts = {p["id"] for p in man["participants"]}
        convs = {c["id"] for c in man["conversations"]}
        assert len(convs) == 1, path
        ids = [e["id"] for e in ev]
        assert len(set(ids)) == len(ids), path + ": duplicate event ids"
        stamps = [e["timestamp"] for e in ev]
        assert stamps == sorted(stamps), path + ": not in time order"
        assert len({s[:10] for s in stamps}) == 1, path + ": more than one day"
        assert msg["X-RSMF-BeginDate"] == stamps[0] and msg["X-RSMF-EndDate"] == stamps[-1], path
        for c in man["conversations"]:
            assert set(c["participants"]) <= parts, path
        for e in ev:
            assert e["participant"] in parts and e["conversation"] in convs, path
            if "parent" in e:
                assert e["parent"] in ids, path + ": parent " + e["parent"]
            for r in e.get("reactions", []):
                assert set(r.get("participants", [])) <= parts, path
            for a in e.get("attachments", []):
                assert a["id"] in names, path + ": attachment " + a["id"]
                assert z.getinfo(a["id"]).file_size == a["size"], path
            for ed in e.get("edits", []):
                assert ed["participant"] in parts, path
        total += len(ev)
        files += 1
print(total, files)
if want is not None and total != want:
    sys.exit("rsmf_check: %d events in %d files, %d expected" % (total, files, want))
