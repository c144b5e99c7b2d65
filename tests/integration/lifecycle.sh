#!/bin/bash
# Retention on a local repository: forget with a policy and legal holds,
# prune, check, restores of every kept snapshot, a lost pack repaired
# (tests/integration/lifecycle.lib); and the mount's views after prune moved
# blobs between packs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle.lib"

after_prune() {
	local url=$1 tag=$2 mnt=$T/mnt last g
	if ! have_fuse || [ ! -x "$MOUNT_IMDR" ]; then skip "mount: no /dev/fuse or no mount.imdr"; return; fi
	mkdir -p "$mnt"
	on_exit "fusermount3 -u '$mnt'"
	"$MOUNT_IMDR" "$url" "$mnt" || { fail "mount"; return; }
	last=$(ls "$T/states-$tag" | grep '^acme-' | sort | tail -1)
	check "mount: sources/acme/latest equals its state after prune moved its blobs" \
		diff -r "$mnt/sources/acme/latest/" "$T/states-$tag/$last"
	g=$(ls "$T/states-$tag" | grep '^globex-' | sort | tail -1)
	check "mount: sources/globex/at/<its time> reads" \
		diff -r "$mnt/sources/globex/at/${g#globex-}/" "$T/states-$tag/$g"
	fusermount3 -u "$mnt"
}

scenario local "$T/repo"
