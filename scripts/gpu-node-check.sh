#!/usr/bin/env bash
# On a GPU machine without Node (e.g. a session's device machine), with what scripts/gpu-carry.sh
# packed: npm test's GPU-relevant parts without npm. Builds the CUDA plugin and runs its tests
# (scripts/test-cuda.sh), then the jest suite with its GPU suite on the real GPU (the demo and
# the developer-script tests need the MNIST data and the build tools, which are not carried).
# Writes test-cuda.log and jest.log to the output folder ($OUT, else bench/results).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-bench/results}}
mkdir -p "$out"
export PATH=$PATH:/usr/local/cuda/bin
bin=$(mktemp -d)
tar -C "$bin" -xJf .gpucarry/node.tar.xz && export PATH=$bin:$PATH
tar -xJf .gpucarry/node_modules.tar.xz
# No npm there: a stand-in for the one npm command scripts/test-cuda.sh uses.
printf '#!/bin/bash\n[ "$1 $2" = "run build:cuda" ] || exit 1\neval "$(node -p "require(\\"./package.json\\").scripts[\\"build:cuda\\"]")"\n' > "$bin/npm"
chmod +x "$bin/npm"
echo "node $(node --version), $(nproc) cores, $(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1)"
bash scripts/test-cuda.sh > "$out/test-cuda.log" 2>&1
echo "test:cuda rc=$?"; tail -n 2 "$out/test-cuda.log"
node node_modules/jest/bin/jest.js --ci --verbose --testPathIgnorePatterns scripts.test.ts demo.test.ts > "$out/jest.log" 2>&1
rc=$?
echo "jest rc=$rc"
grep -E "^(PASS|FAIL)|✕|Tests:|GPU tests skipped|device cuda on|built plugin loads" "$out/jest.log" | head -40
exit $rc
