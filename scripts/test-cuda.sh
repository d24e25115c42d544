#!/usr/bin/env bash
# npm run test:cuda: the CUDA plugin's tests. Builds the plugin (build-cuda/) with nvcc, checks the
# PTX for the 16-byte vector path and runs the plugin test program on the GPU. Without nvcc it
# says that none of this ran and exits 0; without a usable GPU, CTest reports plugin_tests_cuda
# as skipped and this script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc > /dev/null && [ -z "${CUDACXX:-}" ]; then
  echo "test:cuda not run: nvcc is not on PATH (install the CUDA toolkit to build and test the CUDA plugin)"
  exit 0
fi
npm run build:cuda --silent
ctest --test-dir build-cuda --output-on-failure --no-tests=error -R "plugin_tests_cuda|cuda_ptx_vector_path" | tee build-cuda/test-cuda.log
if grep -q "plugin_tests_cuda (Skipped)" build-cuda/test-cuda.log; then
  echo "test:cuda: the PTX check ran; plugin_tests_cuda was skipped: no usable CUDA GPU here"
else
  echo "test:cuda: the PTX check and plugin_tests_cuda ran on the GPU"
fi
