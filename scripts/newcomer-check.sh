#!/usr/bin/env bash
# The newcomer path, as a new user meets it: a fresh clone of this repository's HEAD, a PATH with
# only what the README asks for (Node, npm, CMake, a C++ compiler, the usual system tools) and none
# of the optional tools (Debian's aarch64 cross toolchain, qemu, the CUDA toolkit, Open MPI's
# launcher and compiler wrappers), then the
# README's first command with a small budget. Fails unless the demo ends with `test accuracy: A`
# and A is at least the minimum asked for (default 0.4, four times chance: the network learned; the default budget gives ~0.57).
#   bash scripts/newcomer-check.sh [--min-accuracy A] [demo arguments, instead of the small budget]
# Run by .ci/run before it installs any optional tool; safe to run on a developer machine too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
min_accuracy=0.4
if [ "${1:-}" = --min-accuracy ]; then min_accuracy=$2; shift 2; fi
budget=("$@")
[ "${#budget[@]}" -gt 0 ] || budget=(--epochs 2 --train 2000 --test 500)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A PATH of one folder that links every program on the current PATH except the optional tools.
mkdir "$work/bin"
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || continue
  for tool in "$dir"/*; do
    name=$(basename "$tool")
    case "$name" in aarch64-linux-gnu-* | qemu-* | nvcc | cuda-* | mpi* | orte* | ompi* | opal* ) continue ;; esac
    [ -x "$tool" ] && [ ! -e "$work/bin/$name" ] && ln -s "$tool" "$work/bin/$name"
  done
done
export PATH="$work/bin"
for tool in aarch64-linux-gnu-g++ qemu-aarch64 nvcc mpirun mpicc; do
  if command -v "$tool" > /dev/null; then echo "newcomer check: $tool is still on PATH"; exit 1; fi
done
for tool in node npm cmake c++; do
  command -v "$tool" > /dev/null || { echo "newcomer check: $tool, which the README asks for, is missing"; exit 1; }
done

git clone -q "$root" "$work/clone"
cd "$work/clone"
echo "newcomer check: fresh clone of $(git rev-parse --short HEAD), PATH without the cross toolchain, qemu, nvcc and Open MPI"
echo "\$ npm install && npm run demo -- ${budget[*]}"
start=$(date +%s)
npm install --no-audit --no-fund > "$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
npm run demo -- "${budget[@]}" 2>&1 | tee "$work/demo.log"
last=$(grep -v '^\s*$' "$work/demo.log" | tail -n 1)
case "$last" in
  "test accuracy: "*) ;;
  *) echo "newcomer check: the demo did not end with a 'test accuracy:' line"; exit 1 ;;
esac
accuracy=${last#test accuracy: }
if ! awk -v a="$accuracy" -v m="$min_accuracy" 'BEGIN { exit !(a + 0 >= m + 0) }'; then
  echo "newcomer check: test accuracy $accuracy is below $min_accuracy"
  exit 1
fi
echo "newcomer check: passed in $(( $(date +%s) - start )) s (test accuracy $accuracy >= $min_accuracy)"
