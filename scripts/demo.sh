#!/bin/bash
# demo.sh — what `make demo` runs after building: back up the bundled sample
# exports into demo/repo, mount the repository at demo/mnt, and say where to
# look. Rerunning starts over. Nothing here needs the network.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
IMDR=$PWD/$BUILD/imdr
MOUNT=$PWD/$BUILD/mount.imdr
D=$PWD/demo

if mountpoint -q "$D/mnt" 2>/dev/null; then fusermount3 -u "$D/mnt" || umount "$D/mnt"; fi
rm -rf "$D"
mkdir -p "$D/mnt"
umask 077
printf 'demo passphrase - use your own\n' >"$D/passphrase"
export IMDR_PASSWORD_FILE=$D/passphrase
export XDG_CACHE_HOME=$D/cache

echo "== imdr init $D/repo"
"$IMDR" init "$D/repo"

sources=()
for s in examples/samples/*; do
	[ -e "$s" ] || continue
	case $s in *.md|*.txt) continue ;; esac
	sources+=("$s")
done
if [ -x "$BUILD/tools/gen_corpus" ]; then
	"$BUILD/tools/gen_corpus" --preset tiny --seed 1 --out "$D/generated-export" >/dev/null
	sources+=("$D/generated-export")
fi
if [ ${#sources[@]} -eq 0 ]; then
	echo "demo: no sample exports found in examples/samples/" >&2
	exit 1
fi
for s in "${sources[@]}"; do
	echo "== imdr backup $D/repo $s"
	"$IMDR" backup "$D/repo" "$s"
done
if [ -d "$D/generated-export" ]; then
	# the next day's export of the same workspace: a second point in time
	"$BUILD/tools/gen_corpus" --preset tiny --seed 1 --out "$D/generated-export" --mutate 10 >/dev/null
	echo "== imdr backup $D/repo $D/generated-export   (the next day: 10 % changed)"
	"$IMDR" backup "$D/repo" "$D/generated-export"
fi
echo "== imdr snapshots $D/repo"
"$IMDR" snapshots "$D/repo"

if [ -x "$MOUNT" ] && [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	echo "== mount.imdr $D/repo $D/mnt"
	"$MOUNT" "$D/repo" "$D/mnt" -o passfile="$D/passphrase"
	cat <<EOT

Mounted. Look around:
  ls $D/mnt/snapshots/
  ls $D/mnt/latest/
  cat $D/mnt/latest/conversations/*/transcript.txt | head
  cat $D/mnt/.imdr/stats
Unmount with:  fusermount3 -u $D/mnt
The passphrase is in $D/passphrase; the repository is $D/repo.
EOT
else
	echo "== imdr restore $D/repo latest $D/restored  (no FUSE here: restoring instead of mounting)"
	"$IMDR" restore "$D/repo" latest "$D/restored"
	echo
	echo "Restored the latest snapshot to $D/restored. Try: ls -R $D/restored | head"
fi
