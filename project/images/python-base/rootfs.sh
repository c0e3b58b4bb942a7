#!/bin/sh
# The root file system of the lab's Python base image, for building the lab without a registry
# (`make up-build IMAGES=local`): debootstrap a minimal Debian bookworm with Python 3.11, then
# `docker import` it as IMAGE (python-base/Dockerfile builds on it). The file system is kept as a tarball
# in CACHE, so later runs on this machine skip debootstrap.
# Usage: rootfs.sh IMAGE CACHE
set -eu
image=$1
cache=$2
tarball=$cache/debian-bookworm-python.tar
mirror=http://deb.debian.org/debian

if docker image inspect "$image" >/dev/null 2>&1; then
	exit 0
fi
if [ ! -f "$tarball" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "Making the Debian base image needs root (debootstrap): run this once with sudo." >&2
		exit 1
	fi
	if ! command -v debootstrap >/dev/null; then
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
	fi
	mkdir -p "$cache"
	rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
	trap 'rm -rf "$rootfs"' EXIT
	echo "debootstrap: a minimal Debian bookworm with Python 3.11 (once per machine, a minute or two)"
	debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates,passwd \
		bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log" >&2; exit 1; }
	cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
	# As in Debian's official images: no service starts inside a build, and apt keeps no downloads.
	printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
	chmod 755 "$rootfs/usr/sbin/policy-rc.d"
	chroot "$rootfs" apt-get clean
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* "$rootfs"/var/log/*.log
	tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
	mv "$tarball.part" "$tarball"
fi
docker import "$tarball" "$image"
