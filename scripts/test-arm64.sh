#!/usr/bin/env bash
# The native tests cross-compiled for linux-arm64 (NEON kernels) and run under qemu-aarch64.
# Needs Debian's g++-aarch64-linux-gnu and qemu-user (.ci/run installs them); without them it
# says so and exits 0, so `npm test` still works on a machine that has neither.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "test:arm64 not run: needs aarch64-linux-gnu-g++ and qemu-aarch64 (apt-get install g++-aarch64-linux-gnu qemu-user)"
  exit 0
fi
cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DRMSPROP_BUILD_TESTS=ON \
  -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build-arm64 --parallel
ctest --test-dir build-arm64 --output-on-failure
qemu-aarch64 -L /usr/aarch64-linux-gnu build-arm64/kernel_tests --levels
