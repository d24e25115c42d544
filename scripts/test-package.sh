#!/usr/bin/env bash
# Installs the packed package the way a user without a compiler does: builds the prebuilds,
# packs the tarball, installs it into a fresh project with --ignore-scripts and with no compiler,
# make or cmake on PATH, then loads it and runs a step. Prints the tarball and binary sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
npm run build:ts --silent
npm run prebuilds --silent   # linux-arm64 too where the cross toolchain is installed (says so if not)
for f in prebuilds/*/*.node; do
  size=$(stat -c %s "$f")
  echo "prebuild $f: $size bytes"
  if [ "$size" -gt 1048576 ]; then echo "prebuild $f is over 1 MB"; exit 1; fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
echo "npm pack: $tarball, $(stat -c %s "$work/$tarball") bytes"

# A PATH with node and npm only: no cc, c++, g++, make or cmake.
mkdir -p "$work/bin" "$work/app"
for tool in node npm npx; do ln -s "$(command -v $tool)" "$work/bin/$tool"; done
cd "$work/app"
env PATH="$work/bin" npm init -y > /dev/null
env PATH="$work/bin" npm install --ignore-scripts --no-audit --no-fund "$work/$tarball" > /dev/null
for tool in cc c++ g++ make cmake; do
  if (PATH="$work/bin"; command -v "$tool" >/dev/null); then echo "$tool is reachable"; exit 1; fi
done
env PATH="$work/bin" node -e "
const { Parameter, RMSProp, simdLevel } = require('rmsprop-native');
const p = new Parameter(new Float32Array([1, 2]), 'w');
new RMSProp([p]).step([new Float32Array([0.1, 0.2])]);
if (Math.abs(p.data[0] - 0.98946494) > 1e-6) throw new Error('wrong step: ' + p.data[0]);
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'));
console.log('installed without a compiler: step ok, SIMD ' + simdLevel() + ', loaded ' + require('path').relative(process.cwd(), loaded));
"
env PATH="$work/bin" node --input-type=module -e "
import { Parameter, RMSProp, CosineDecayLR } from 'rmsprop-native';
const p = new Parameter(new Float32Array([1, 2]), 'w');
new RMSProp([p], { learningRate: new CosineDecayLR(0.01, 0.1, 10) }).step([new Float32Array([0.1, 0.2])]);
console.log('ESM import by package name: step ok');
"
# Data-parallel from the installed package: the launcher's bin runs an ESM script as 2 ranks.
cat > train.mjs <<'SCRIPT'
import { distributed, Parameter, RMSProp } from 'rmsprop-native';
const comm = await distributed.init();
const w = new Parameter(new Float32Array(64).fill(comm.rank), 'w');
const opt = new RMSProp([w], { learningRate: 0.1, communicator: comm });
opt.step([new Float32Array(64).fill(comm.rank + 1)]);
if (comm.rank === 1) console.log(`rmsprop-native-launch -n 2: ${comm.backend} rank ${comm.rank} of ${comm.size}, w[0] ${w.data[0].toFixed(6)}`);
SCRIPT
npx --no-install rmsprop-native-launch -n 2 train.mjs

# The same script under Open MPI's mpirun, where Open MPI is installed: the linux-x64 prebuild
# carries the MPI plugin. Then, with the plugin removed, every other feature still works and
# the 'mpi' backend says what to install.
mpi_run() {
  OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --allow-run-as-root --oversubscribe -np 2 node train.mjs
}
plugin=node_modules/rmsprop-native/prebuilds/linux-x64/librmsprop_mpi.so
if command -v mpirun >/dev/null 2>&1; then
  [ -f "$plugin" ] || { echo "Open MPI is installed but the prebuild lacks the MPI plugin"; exit 1; }
  mpi_run | sed 's/rmsprop-native-launch -n 2/mpirun -np 2 (the prebuild'"'"'s plugin)/'
  mv "$plugin" "$work/plugin.so"
else
  echo "mpirun not on PATH (apt-get install openmpi-bin): the package's MPI run is not tested here"
  rm -f "$plugin"
fi
env PATH="$work/bin" node -e "
const { distributed, Parameter, RMSProp } = require('rmsprop-native');
const p = new Parameter(new Float32Array([1, 2]), 'w');
new RMSProp([p]).step([new Float32Array([0.1, 0.2])]);
distributed.init({ backend: 'mpi' }).then(() => { throw new Error('joined MPI without the plugin'); }, (e) => {
  if (!/lacks.*apt-get install openmpi-bin/.test(e.message)) throw e;
  console.log('without the MPI plugin: step ok; init({ backend: \\'mpi\\' }) says: ' + e.message.slice(0, 80) + '…');
});
"

# The fallback for a platform without a prebuild: build from source inside the installed package.
rm -rf node_modules/rmsprop-native/prebuilds
npx --no-install rmsprop-native-build > "$work/build-from-source.log" 2>&1 || { cat "$work/build-from-source.log"; exit 1; }
node -e "
const { Parameter, RMSProp } = require('rmsprop-native');
const p = new Parameter(new Float32Array([1, 2]), 'w');
new RMSProp([p]).step([new Float32Array([0.1, 0.2])]);
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'));
if (!loaded.includes('build/Release')) throw new Error('not the source build: ' + loaded);
console.log('built from source with npx rmsprop-native-build: step ok, loaded ' + require('path').relative(process.cwd(), loaded));
"
# Where Open MPI is installed, the build from source builds the MPI plugin too.
if command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1; then
  [ -f node_modules/rmsprop-native/build/Release/librmsprop_mpi.so ] || { echo "npx rmsprop-native-build did not build the MPI plugin"; exit 1; }
  mpi_run | sed 's/rmsprop-native-launch -n 2/mpirun -np 2 (the plugin built from source)/'
fi
