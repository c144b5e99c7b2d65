#!/usr/bin/env python3
"""treecmp.py [LOST_JSON] < lines of "STATE RESTORED SNAPSHOT_ID"

Compare restored snapshots with the trees they were taken of, byte for
byte (contents and file modes). LOST_JSON, when given, is `imdr repair
snapshots --json` output: the paths it lists as lost for a snapshot whose
mended version has SNAPSHOT_ID may be missing from the restore. Exit 1
naming the first differences of each snapshot that differs."""
import json
import os
import stat
import sys


def walk(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read(), stat.S_IMODE(st.st_mode))
    return out


def compare(state, restored, sid, damaged):
    lost = set()
    for d in damaged:
        if d.get("new_id") == sid or d["id"] == sid:
            lost |= {x["path"] for x in d["lost"]}
    a, b = walk(state), walk(restored)
    problems = []
    for rel, v in a.items():
        if rel not in b:
            if rel in lost or any(rel.startswith(x + "/") for x in lost):
                continue
            problems.append("missing: " + rel)
        elif b[rel] != v:
            problems.append("differs: " + rel)
    problems += ["extra: " + rel for rel in b if rel not in a]
    if problems:
        print("snapshot %s differs from %s: %s" % (sid[:8], state, "; ".join(problems[:5])))
        return False
    return True


def main():
    damaged = []
    if len(sys.argv) > 1 and sys.argv[1]:
        with open(sys.argv[1]) as f:
            damaged = json.load(f)["damaged"]
    ok = True
    for line in sys.stdin:
        state, restored, sid = line.split()
        ok = compare(state, restored, sid, damaged) and ok
    sys.exit(0 if ok else 1)


main()
