#!/usr/bin/env node
// prebuildify has no cmake-js backend: scripts/prebuilds.js runs prebuildify with this script as
// its "node-gyp", which passes node-gyp's arguments (`rebuild --target=… --devdir=… --arch=X
// --release|--debug`). For Node-API only the architecture and the build type matter; an arm64
// build on an x64 machine uses Debian's aarch64 cross toolchain (cmake/aarch64-linux-gnu.cmake).
//
// Each architecture builds in its own folder (build-prebuild/<arch>), so a cross build never
// reuses the CMake cache of the development build in build/. The result goes to
// build/Release/rmsprop_native.node under the *current directory*, where prebuildify looks for it:
// scripts/prebuilds.js runs prebuildify in a staging folder, so the development build in
// build/Release is never touched by a prebuild.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { installBinary } = require('./install-binary');

const args = process.argv.slice(2);
const value = (name) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  if (hit) return hit.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const arch = value('arch') || process.arch;
const root = path.join(__dirname, '..');
const out = path.join('build-prebuild', arch);
const cmakeJs = [require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--arch', arch, '--out', out];
if (args.includes('--debug')) cmakeJs.push('--debug');
if (arch === 'arm64' && process.arch !== 'arm64') {
  cmakeJs.push(`--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`);
}
execFileSync(process.execPath, cmakeJs, { cwd: root, stdio: 'inherit' });
const config = args.includes('--debug') ? 'Debug' : 'Release';
installBinary(path.join(root, out, config, 'rmsprop_native.node'), path.join(process.cwd(), 'build', config, 'rmsprop_native.node'));
// The MPI plugin, where CMake found Open MPI (never when cross compiling): next to the addon,
// where prebuildify picks up shared libraries for the prebuild.
const mpiPlugin = path.join(root, out, config, 'librmsprop_mpi.so');
if (fs.existsSync(mpiPlugin)) installBinary(mpiPlugin, path.join(process.cwd(), 'build', config, 'librmsprop_mpi.so'));
