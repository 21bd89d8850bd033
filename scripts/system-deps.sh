#!/usr/bin/env bash
# System packages and tools the test suite needs: Docker engine, debootstrap, docker-compose, Redis,
# MariaDB and mysqlclient's build dependencies (Debian packages, installed only when missing and
# running as root; the Makefile runs this before installing the test extras) and the Azurite Blob emulator (npm,
# into .cache/azurite). Services themselves are started and stopped by the test session.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v docker-compose >/dev/null || missing+=(docker-compose)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
# MariaDB for the MySQL-protocol SQL datastore tests; libmariadb-dev + pkg-config (+ gcc) to build
# mysqlclient, the driver of the mysql provider, which has no Linux wheel.
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
[ -f /usr/include/mariadb/mysql.h ] || missing+=(libmariadb-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v gcc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: missing ${missing[*]}; tests needing them will be skipped (failed when CI=true)" >&2
  fi
fi

if [ ! -x .cache/azurite/node_modules/.bin/azurite-blob ]; then
  if command -v npm >/dev/null; then
    echo "installing azurite@3 into .cache/azurite (npm)"
    mkdir -p .cache/azurite
    npm install --silent --no-audit --no-fund --prefix .cache/azurite azurite@3 >/dev/null
  else
    echo "note: npm missing; Azure Blob tests will be skipped (failed when CI=true)" >&2
  fi
fi
