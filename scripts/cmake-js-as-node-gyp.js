#!/usr/bin/env node
// prebuildify has no cmake-js backend: it runs this script as its "node-gyp", with node-gyp's
// arguments (`rebuild --target=… --devdir=… --arch=X --release|--debug`). For Node-API only the
// architecture and the build type matter; an arm64 build on an x64 machine uses Debian's
// aarch64 cross toolchain (cmake/aarch64-linux-gnu.cmake).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const value = (name) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  if (hit) return hit.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const arch = value('arch') || process.arch;
const root = path.join(__dirname, '..');
// Each architecture builds in its own folder, so a cross build never reuses the CMake cache of
// the development build in build/; prebuildify then takes the result from build/Release.
const out = path.join('build-prebuild', arch);
const cmakeJs = [require.resolve('cmake-js/bin/cmake-js'), 'rebuild', '--arch', arch, '--out', out];
if (args.includes('--debug')) cmakeJs.push('--debug');
if (arch === 'arm64' && process.arch !== 'arm64') {
  cmakeJs.push(`--CDCMAKE_TOOLCHAIN_FILE=${path.join(root, 'cmake', 'aarch64-linux-gnu.cmake')}`);
}
execFileSync(process.execPath, cmakeJs, { cwd: root, stdio: 'inherit' });
const built = path.join(root, out, 'Release', 'rmsprop_native.node');
fs.mkdirSync(path.join(root, 'build', 'Release'), { recursive: true });
fs.copyFileSync(built, path.join(root, 'build', 'Release', 'rmsprop_native.node'));
