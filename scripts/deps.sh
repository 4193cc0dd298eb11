#!/usr/bin/env bash
# Installs the Debian 12 packages streetwise needs to build, run and test, if any are missing.
# Only versioned Boost 1.81 packages: the unversioned libboost-*-dev pull 1.74, which conflicts.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libxapian-dev libfmt-dev libspdlog-dev doctest-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev libcmark-dev libcli11-dev libvalijson-dev
  libtomlplusplus-dev libhowardhinnant-date-dev prometheus-cpp-dev libjemalloc-dev
  python3 python3-yaml python3-pytest python3-requests python3-jsonschema python3-aiosmtpd
  python3-prometheus-client
  curl wrk sqlite3
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
