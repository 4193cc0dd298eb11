#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine:
#   scripts/dev.sh run    install what is missing, build, start the server (data in ./data, 127.0.0.1:8080)
#   scripts/dev.sh test   install what is missing, build, run every test (unit + integration)
#   scripts/dev.sh build  install what is missing and build only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${STREETWISE_BUILD_DIR:-$root/build}

build() {
  scripts/deps.sh
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
}

case "${1:-}" in
  run)
    build
    exec "$build_dir/server/streetwise" serve --data "${STREETWISE_DATA_DIR:-$root/data}" \
      --listen "${STREETWISE_LISTEN:-127.0.0.1:8080}"
    ;;
  test)
    build
    cd "$build_dir"
    ctest --output-on-failure --timeout 900
    ;;
  build)
    build
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|build" >&2
    exit 2
    ;;
esac
