#!/bin/sh
# npm-deps.sh — the S3 and Azure emulators the tests start, installed into
# .deps/npm of the project (never globally). Pinned versions that run on
# Debian 12's Node: s3rver 3.7.1, azurite 3.35.0. Safe to rerun.
set -e
cd "$(dirname "$0")/.."
dir=.deps/npm
want="s3rver@3.7.1 azurite@3.35.0"
if [ -x "$dir/node_modules/.bin/s3rver" ] && [ -x "$dir/node_modules/.bin/azurite-blob" ] &&
   grep -q '"version": "3.35.0"' "$dir/node_modules/azurite/package.json" 2>/dev/null; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "npm-deps: npm is missing (scripts/deps.sh test installs it)" >&2
	exit 1
fi
echo "npm-deps: installing $want into $dir"
mkdir -p "$dir"
[ -f "$dir/package.json" ] || printf '{"name":"imdr-test-emulators","private":true}\n' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error $want >/dev/null
