#!/usr/bin/env python3
"""search_scan.py DIR QUERY — an independent reading of imdr's search
language over a restored snapshot DIR (its conversations/*/messages.jsonl,
users.jsonl and meta.json), written from the language's description, not
from imdr's code: prints "conversation-id<TAB>message-id" of every match,
sorted. Tokens are what SQLite's unicode61 tokenizer makes: runs of
letters, digits and private-use characters, lowercased, diacritics removed.
Words and phrases must each match, in the text or an attachment's name.

search_scan.py --compare IMDR REPO SOURCE DIR QUERY... runs `IMDR search
REPO QUERY --source SOURCE --json` for each query and compares its hits
with the scan's; prints the total and each query that differs; exits 1
when any does (or when nothing at all was found)."""
import fnmatch, glob, json, os, re, sys, unicodedata
from datetime import datetime, timezone


def fold(s):
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).lower()


def tokens(s):
    out, cur = [], []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or cat == "Co":
            cur.append(ch)
        elif cur:
            out.append(fold("".join(cur)))
            cur = []
    if cur:
        out.append(fold("".join(cur)))
    return out


def parse_time(v):
    for f in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(v.rstrip("Z"), f).replace(tzinfo=timezone.utc).timestamp() * 1000
        except ValueError:
            pass
    raise SystemExit("search_scan: not a time: " + v)


def ts_ms(v):
    if isinstance(v, (int, float)):
        return round(v * 1000)
    return datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000


def split_query(q):
    toks = []
    for m in re.finditer(r'(?:([A-Za-z]+):)?(?:"([^"]*)"(\*)?|(\S+))', q):
        key, quoted, qstar, plain = m.group(1), m.group(2), m.group(3), m.group(4)
        toks.append((key.lower() if key else None, quoted if quoted is not None else plain,
                     quoted is not None, bool(qstar)))
    return toks


def scan(root, q):
    users = [json.loads(l) for l in open(os.path.join(root, "users.jsonl"), encoding="utf-8") if l.strip()] \
        if os.path.exists(os.path.join(root, "users.jsonl")) else []
    words, froms, ins, fnames = [], [], [], []
    after = before = None
    has_att = False
    for key, val, quoted, star in split_query(q):
        if key not in (None, "from", "in", "after", "before", "has", "filename"):
            val, key = key + ":" + val, None
        if key is None:
            prefix = False
            if not quoted and val.endswith("*") and len(val) > 1:
                val, prefix = val[:-1], True
            if quoted and star:
                prefix = True
            t = tokens(val)
            if t:
                words.append((t, prefix))
        elif key == "from":
            froms.append(val)
        elif key == "in":
            ins.append(val[1:] if val.startswith("#") else val)
        elif key == "after":
            after = parse_time(val)
        elif key == "before":
            before = parse_time(val)
        elif key == "has":
            has_att = True
        elif key == "filename":
            fnames.append(val)
    ids = set()
    for v in froms:
        lv, hit = v.lower(), False
        for u in users:
            names = [u.get("id", ""), u.get("name") or "", u.get("real_name") or "", u.get("email") or ""]
            if lv in [n.lower() for n in names] or \
                    (u.get("email") and u["email"].lower().split("@")[0] == lv) or \
                    lv in [w.lower() for w in (u.get("real_name") or "").split(" ") if w]:
                ids.add(u["id"])
                hit = True
        if not hit:
            ids.add(v)
    out = []
    for d in sorted(glob.glob(os.path.join(root, "conversations", "*"))):
        folder = os.path.basename(d)
        meta = json.load(open(os.path.join(d, "meta.json"), encoding="utf-8"))
        key = meta.get("id") or folder
        slug = folder[:folder.rfind("--")] if "--" in folder else folder
        if ins and not any(v.lower() in (folder.lower(), key.lower(), slug.lower()) for v in ins):
            continue
        for line in open(os.path.join(d, "messages.jsonl"), encoding="utf-8"):
            if not line.strip():
                continue
            m = json.loads(line)
            t = ts_ms(m["ts"])
            if after is not None and t < after:
                continue
            if before is not None and t >= before:
                continue
            atts = [a.get("name", "") for a in m.get("attachments") or []]
            if (has_att or fnames) and not atts:
                continue
            if froms and m.get("user", "") not in ids:
                continue
            ok = True
            for p in fnames:
                lp = p.lower()
                if any(c in p for c in "*?["):
                    ok = ok and any(fnmatch.fnmatchcase(a.lower(), lp) for a in atts)
                else:
                    ok = ok and any(lp in a.lower() for a in atts)
            cols = [tokens(m.get("text", "")), tokens("\n".join(atts))]
            for wt, prefix in words:
                found = False
                for col in cols:
                    for i in range(len(col) - len(wt) + 1):
                        seq = col[i:i + len(wt)]
                        if seq[:-1] == wt[:-1] and (seq[-1] == wt[-1] or (prefix and seq[-1].startswith(wt[-1]))):
                            found = True
                            break
                    if found:
                        break
                ok = ok and found
            if ok:
                out.append("%s\t%s" % (key, m["id"]))
    return sorted(out)


def compare(imdr, repo, source, root, queries):
    import subprocess
    bad, total = [], 0
    for q in queries:
        p = subprocess.run([imdr, "search", repo, q, "--source", source, "--json"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            bad.append("[%s: %s]" % (q, p.stderr.strip()))
            continue
        got = sorted("%s\t%s" % (h["conversation_id"], h["id"]) for h in json.loads(p.stdout))
        want = scan(root, q)
        total += len(want)
        if got != want:
            bad.append("[%s: imdr %d, scan %d]" % (q, len(got), len(want)))
    print("%d queries, %d hits%s" % (len(queries), total, (": " + " ".join(bad)) if bad else ""))
    sys.exit(1 if bad or total == 0 else 0)


if sys.argv[1] == "--compare":
    compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
else:
    for l in scan(sys.argv[1], sys.argv[2]):
        print(l)
