#!/usr/bin/env bash
# Installs the packed package the way a user without a compiler does: packs a clean clone of
# HEAD (prepack builds dist/ and the prebuilds), checks what the tarball carries, installs it into
# a fresh project with --ignore-scripts and with no compiler, make or cmake on PATH, then loads
# it, steps, compiles a user's TypeScript file against it, runs the launchers and builds from
# source. Prints the tarball and binary sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Packed as a release is: from a clean clone of HEAD, where `npm pack` runs prepack
# (scripts/prepack.js), which builds dist/ and both prebuilds, or refuses to pack without one.
git clone -q "$root" "$work/clone"
ln -s "$root/node_modules" "$work/clone/node_modules"
git -C "$root" diff --quiet HEAD || echo "test:package packs the committed HEAD: uncommitted changes are not in it"
pack() { (cd "$work/clone" && npm pack --silent --pack-destination "$work" | tail -n 1); }
if command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
  arm64=yes
  tarball=$(pack)
else
  arm64=no
  if pack > /dev/null 2> "$work/refusal.log"; then echo "npm pack packed without the linux-arm64 prebuild"; exit 1; fi
  grep -q "refusing to pack without prebuilds/linux-arm64" "$work/refusal.log" || { cat "$work/refusal.log"; exit 1; }
  echo "npm pack without the cross toolchain: refused, as it should ($(grep -o 'refusing to pack[^(]*' "$work/refusal.log"))"
  tarball=$(RMSPROP_PACK_X64_ONLY=1 pack)
fi
echo "npm pack (clean clone): $tarball, $(stat -c %s "$work/$tarball") bytes"

# What the tarball carries: both prebuilds (each under 1 MB), LICENSE, declarations, source maps
# with their sources; no test, bench or cross-build files.
contents=$(tar tzf "$work/$tarball")
need=(package/LICENSE package/dist/index.d.ts package/dist/tfjs.d.ts package/prebuilds/linux-x64/rmsprop-native.glibc.node)
[ "$arm64" = no ] || need+=(package/prebuilds/linux-arm64/rmsprop-native.glibc.node)
for f in "${need[@]}"; do grep -qx "$f" <<< "$contents" || { echo "the tarball lacks $f"; exit 1; }; done
if grep -E '^package/(test|bench|cmake|examples)/|^package/cuda/(test|bench|emulator|emulation)/' <<< "$contents"; then
  echo "the tarball carries the files above, of no use installed"; exit 1
fi
tar xzf "$work/$tarball" -C "$work" package/dist/rmsprop.js.map
grep -q '"sourcesContent"' "$work/package/dist/rmsprop.js.map" || { echo "dist/*.js.map point at lib/*.ts, which is not shipped"; exit 1; }
tar tvzf "$work/$tarball" | awk '/prebuilds\/.*\.(node|so)$/ { print "prebuild " $6 ": " $3 " bytes"; if ($6 ~ /\.node$/ && $3 > 1048576) bad = 1 } END { exit bad }' \
  || { echo "a prebuild is over 1 MB"; exit 1; }
echo "tarball: LICENSE, dist with declarations and embedded sources, prebuilds for linux-x64$([ "$arm64" = no ] || echo ' and linux-arm64'); no test, bench or cross-build files"

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
# TypeScript users: a user's file compiles against the installed declarations with tsc's defaults
# (no tsconfig: target ES5, module resolution node10; a Node project's @types/node, and
# tfjs-core for the tfjs entry) and with --module nodenext, in a project of its own.
mkdir "$work/ts"
cd "$work/ts"
env PATH="$work/bin" npm init -y > /dev/null
# (From this checkout's node_modules, offline: tfjs-core and the @types packages it brings.)
env PATH="$work/bin" npm install --ignore-scripts --no-audit --no-fund "$work/$tarball" "$root/node_modules/@types/node" \
  "$root/node_modules/@tensorflow/tfjs-core" "$root"/node_modules/@types/{long,offscreencanvas,seedrandom} > /dev/null
cat > user.ts <<'SCRIPT'
import { distributed, Parameter, RMSProp, Tensor } from 'rmsprop-native';
import { TfjsRMSProp } from 'rmsprop-native/tfjs';
const p = new Parameter(new Float32Array([1, 2]), 'w');
const opt = new RMSProp([p], { learningRate: 0.01, momentum: 0.9 });
const applied: boolean = opt.step([new Float32Array([0.1, 0.2])]);
const dtype: string = new Tensor([1, 2, 3]).dtype;
const tfjsOptimizer = new TfjsRMSProp({ learningRate: 0.01, flavor: 'tfjs' });
console.log(applied, dtype, typeof tfjsOptimizer.minimize, typeof distributed.init);
SCRIPT
tsc="$root/node_modules/typescript/bin/tsc"
env PATH="$work/bin" node "$tsc" --strict --noEmit user.ts
env PATH="$work/bin" node "$tsc" --strict --noEmit --module nodenext user.ts
echo "TypeScript $(node "$tsc" --version | cut -d' ' -f2): a user's file compiles with tsc --strict (defaults) and with --module nodenext"
cd "$work/app"

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
# Its tools (cmake-js, node-addon-api) go to the package's own .build-tools/: the user's tree is
# left as it was (the same packages, `npm ls` clean).
rm -rf node_modules/rmsprop-native/prebuilds
listing() { find node_modules -mindepth 1 -maxdepth 2 -not -path "node_modules/rmsprop-native/*" | sort; }
before=$(listing)
npx --no-install rmsprop-native-build > "$work/build-from-source.log" 2>&1 || { cat "$work/build-from-source.log"; exit 1; }
[ "$(listing)" = "$before" ] || { echo "npx rmsprop-native-build changed the user's node_modules"; exit 1; }
npm ls --all > "$work/npm-ls.log" 2>&1 || { cat "$work/npm-ls.log"; echo "npm ls is not clean after npx rmsprop-native-build"; exit 1; }
echo "npx rmsprop-native-build: the user's node_modules unchanged, npm ls clean; tools in node_modules/rmsprop-native/.build-tools ($(ls node_modules/rmsprop-native/.build-tools/node_modules | wc -l) packages)"
node -e "
const { Parameter, RMSProp } = require('rmsprop-native');
const p = new Parameter(new Float32Array([1, 2]), 'w');
new RMSProp([p]).step([new Float32Array([0.1, 0.2])]);
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'));
if (!loaded.includes('build/Release')) throw new Error('not the source build: ' + loaded);
console.log('built from source with npx rmsprop-native-build: step ok, loaded ' + require('path').relative(process.cwd(), loaded));
"
# The CUDA plugin from the installed package, where the CUDA toolkit is (the error's advice).
cuda_error() {
  node -e "
const { Parameter, RMSProp, cudaAvailable } = require('rmsprop-native');
try { new RMSProp([new Parameter(new Float32Array(4), 'w')], { device: 'cuda' }); console.log('cuda available: ' + cudaAvailable()); } catch (e) { console.log(e.message); }
"
}
advice=$(cuda_error)
grep -q "npx rmsprop-native-build --cuda" <<< "$advice" || { echo "the CUDA advice does not name npx rmsprop-native-build --cuda: $advice"; exit 1; }
echo "device 'cuda' without the plugin says: ${advice:0:160}…"
if command -v nvcc >/dev/null 2>&1; then
  npx --no-install rmsprop-native-build --cuda > "$work/build-cuda.log" 2>&1 || { cat "$work/build-cuda.log"; exit 1; }
  [ -f node_modules/rmsprop-native/build-cuda/librmsprop_cuda.so ] || { echo "npx rmsprop-native-build --cuda built no plugin"; exit 1; }
  after=$(cuda_error)
  if grep -q "not built" <<< "$after"; then echo "the plugin built by --cuda is not found: $after"; exit 1; fi
  echo "npx rmsprop-native-build --cuda: built node_modules/rmsprop-native/build-cuda/librmsprop_cuda.so; device 'cuda' now says: ${after:0:120}"
else
  echo "nvcc not on PATH: npx rmsprop-native-build --cuda not tested here"
fi

# Where Open MPI is installed, the build from source builds the MPI plugin too.
if command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1; then
  [ -f node_modules/rmsprop-native/build/Release/librmsprop_mpi.so ] || { echo "npx rmsprop-native-build did not build the MPI plugin"; exit 1; }
  mpi_run | sed 's/rmsprop-native-launch -n 2/mpirun -np 2 (the plugin built from source)/'
fi
