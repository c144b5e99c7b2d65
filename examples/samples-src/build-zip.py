#!/usr/bin/env python3
"""Rebuild examples/samples/slack-acme.zip from slack-acme/ deterministically:
files in sorted order under one top-level folder (as Slack's download and
"compress folder" make them), fixed times, deflate."""
import os, sys, zipfile

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.join(here, "slack-acme")
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "samples", "slack-acme.zip")
top = "Acme Slack export Nov 23 2026 - Nov 24 2026"
os.makedirs(os.path.dirname(out), exist_ok=True)
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)
            info = zipfile.ZipInfo(top + "/" + rel, date_time=(2026, 11, 24, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(p, "rb") as fh:
                z.writestr(info, fh.read())
