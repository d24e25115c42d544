#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one command for a GPU machine that has CMake, a C++
# compiler and the CUDA toolkit but no Node (e.g. the device machine of a session):
#   bash scripts/gpu-check.sh [output-folder]
# Builds the CUDA plugin, its test program and the benchmark (build-cuda/), runs the plugin tests
# against the GPU (and the emulator, as a control) and the PTX check, then the GPU benchmark.
# Writes gpu-tests.log and cuda-bench.md to the output folder ($OUT, else bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-bench/results}}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu-tests.log" || true
cmake -S . -B build-cuda -DRMSPROP_CUDA=ON -DRMSPROP_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build-cuda --parallel 2>&1 | tail -n 3
ctest --test-dir build-cuda --output-on-failure -R "plugin_tests|cuda_ptx_vector_path" 2>&1 | tee -a "$out/gpu-tests.log"
build-cuda/cuda_bench build-cuda/librmsprop_cuda.so | tee "$out/cuda-bench.md"
