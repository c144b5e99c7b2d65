#!/bin/sh
# deps.sh build|test|bench — install the Debian packages (and, for tests, the
# npm emulators) that this step needs and the machine lacks. Safe to rerun.
set -e
what=${1:-build}
cd "$(dirname "$0")/.."

build_pkgs="build-essential pkg-config libfuse3-dev fuse3 libarchive-dev libzstd-dev libssl-dev libcurl4-openssl-dev libjansson-dev libsqlite3-dev libinih-dev libkeyutils-dev"
# clang builds the fuzz harnesses; its libFuzzer and sanitizer runtimes are
# in libclang-rt-dev, only recommended by clang (and recommends are skipped)
test_pkgs="$build_pkgs zip unzip tar gzip zstd attr procps psmisc nodejs npm iproute2 python3 time gdb clang libclang-rt-dev python3-jsonschema prometheus prometheus-node-exporter zabbix-agent2 systemd"
bench_pkgs="$test_pkgs restic borgbackup python3-pyfuse3 squashfuse squashfs-tools rclone time ripgrep"

case $what in
build) pkgs=$build_pkgs ;;
test) pkgs=$test_pkgs ;;
bench) pkgs=$bench_pkgs ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	# a command that is present (node/npm from elsewhere) counts as installed
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else
		echo "deps: need root (or sudo) to install:$missing" >&2; exit 1; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >/dev/null || true
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$what" != build ] && [ -x scripts/npm-deps.sh ]; then
	scripts/npm-deps.sh
fi
exit 0
