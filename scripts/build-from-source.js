#!/usr/bin/env node
// Builds native code from source inside an installed rmsprop-native:
//
//   npx rmsprop-native-build          the addon (a platform without a prebuild, or your own
//                                     flags) into build/Release, which the loader prefers over
//                                     the prebuilds, and, where Open MPI's development files
//                                     are installed, the MPI plugin next to it. Needs CMake ≥
//                                     3.18 and a C++17 compiler.
//   npx rmsprop-native-build --cuda   the CUDA plugin into build-cuda/ (device: 'cuda'). Needs
//                                     CMake, a C++17 compiler and the CUDA toolkit (nvcc).
//
// The addon's build tools (cmake-js, node-addon-api; not runtime dependencies) are fetched from
// the npm registry into the package's own .build-tools/ folder, nothing else: the user's
// node_modules tree is left as it was.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { onPath } = require('./on-path');

const root = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TOOLS = { 'cmake-js': '7.4.0', 'node-addon-api': '^8.5.0' };
const run = (command, args, env = process.env) =>
  execFileSync(command, args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' });

function buildCudaPlugin() {
  if (!process.env.CUDACXX && !onPath('nvcc')) {
    throw new Error('--cuda needs the CUDA toolkit: nvcc is not on PATH (or set CUDACXX to it)');
  }
  const out = path.join(root, 'build-cuda');
  run('cmake', ['-S', root, '-B', out, '-DRMSPROP_CUDA=ON', '-DRMSPROP_MPI=OFF', '-DCMAKE_BUILD_TYPE=Release']);
  const plugin = path.join(out, 'librmsprop_cuda.so');
  run('cmake', ['--build', out, '--target', 'rmsprop_cuda', '--parallel']);
  if (!fs.existsSync(plugin)) {
    throw new Error('the CUDA plugin was not built: CMake found no CUDA compiler (install the CUDA toolkit and put nvcc on PATH, or set CUDACXX)');
  }
  console.log('rmsprop-native: built', plugin);
}

function buildAddon() {
  const tools = path.join(root, '.build-tools');
  const modules = path.join(tools, 'node_modules');
  const have = Object.keys(TOOLS).every((name) => fs.existsSync(path.join(modules, name, 'package.json')));
  if (!have) {
    console.log(`rmsprop-native: installing the build tools (${Object.keys(TOOLS).join(', ')}) into ${tools}`);
    fs.mkdirSync(tools, { recursive: true });
    fs.writeFileSync(path.join(tools, 'package.json'), `${JSON.stringify({ private: true, description: 'rmsprop-native build tools' })}\n`);
    run(npm, ['install', '--prefix', tools, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts',
      ...Object.entries(TOOLS).map(([name, version]) => `${name}@${version}`)]);
  }
  // cmake-js looks node-addon-api up from the package's folder; NODE_PATH points it at the tools.
  const env = { ...process.env, NODE_PATH: [modules, process.env.NODE_PATH].filter(Boolean).join(path.delimiter) };
  run(process.execPath, [path.join(modules, 'cmake-js', 'bin', 'cmake-js'), 'compile'], env);
  console.log('rmsprop-native: built', path.join(root, 'build', 'Release'));
}

try {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--cuda');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]} (usage: npx rmsprop-native-build [--cuda])`);
  if (args.includes('--cuda')) buildCudaPlugin();
  else buildAddon();
} catch (error) {
  console.error(`rmsprop-native-build: ${error.message}`);
  process.exit(1);
}
