#!/usr/bin/env bash
# Build the default environment base image from Debian packages, for machines that cannot pull
# images from a registry: debootstrap a minimal Debian with Python, then `docker import` it.
# Usage: scripts/build-base-image.sh [TAG] [SUITE] [MIRROR]
set -euo pipefail
tag=${1:-mlw-base:bookworm}
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag exists"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
root=$(mktemp -d /tmp/mlw-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap $suite into $root (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$tag"
echo "built base image $tag"
