#!/usr/bin/env node
// Builds the native addon from source inside an installed rmsprop-native (for a platform without
// a prebuild, or to use your own compiler flags): `npx rmsprop-native-build`. Needs CMake ≥ 3.18
// and a C++17 compiler. Fetches cmake-js and node-addon-api from the npm registry into the
// package's own folder (they are not runtime dependencies), then compiles into build/Release,
// which the loader prefers over the prebuilds.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });

try {
  require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  require.resolve('node-addon-api', { paths: [root] });
} catch {
  console.log('rmsprop-native: installing the build tools (cmake-js, node-addon-api) into', root);
  run(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', 'cmake-js@7.4.0', 'node-addon-api@^8.5.0']);
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
run(process.execPath, [cmakeJs, 'compile']);
console.log('rmsprop-native: built', path.join(root, 'build', 'Release'));
