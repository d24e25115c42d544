#!/usr/bin/env node
// Builds whatever is missing or older than its sources: the native addon (cmake-js) and the
// TypeScript output (dist/). Run by `npm test` before jest and by `npm run demo` and
// `npm run bench`, so a second run of any of them rebuilds nothing. With --cuda (npm test) it
// also builds the CUDA plugin (build-cuda/, incremental) where nvcc is installed, so that the
// GPU suite of jest finds it; without nvcc it says so in one line.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { newestMtime, nativeSourcesMtime } = require('./native-sources');
const { onPath } = require('./on-path');

const root = path.join(__dirname, '..');

function run(script) {
  console.log(`> npm run ${script}`);
  execFileSync('npm', ['run', script], { cwd: root, stdio: 'inherit' });
}

const addon = path.join(root, 'build', 'Release', 'rmsprop_native.node');
// Built with the addon: the host emulator of the CUDA plugin interface, for the device tests.
const emulator = path.join(root, 'build', 'emulator', 'librmsprop_cuda_emulator.so');
const nativeSources = nativeSourcesMtime(root);
// Before scripts/prebuilds.js staged its builds, a prebuild left its last build (arm64 when
// cross-building) in build/Release, newer than the sources: an addon for another machine is
// removed so that it is rebuilt.
const ELF_MACHINE = { x64: 62, arm64: 183 };
if (fs.existsSync(addon) && ELF_MACHINE[process.arch] !== undefined) {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(addon, 'r');
  fs.readSync(fd, header, 0, 20, 0);
  fs.closeSync(fd);
  if (header.readUInt16LE(18) !== ELF_MACHINE[process.arch]) {
    console.log(`${path.relative(root, addon)} is not built for ${process.arch}; rebuilding`);
    fs.rmSync(addon);
  }
}
// A stamp written after each successful native build: a source newer than it means a build is
// due. (The addon's own time would not do: a change that needs no relinking, say to a header
// only the emulator includes, leaves the addon older than its sources after the build.)
const stamp = path.join(root, 'build', '.ensure-built-stamp');
const builtAt = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (!fs.existsSync(addon) || !fs.existsSync(emulator) || builtAt < nativeSources) {
  run('build:native');
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

const entry = path.join(root, 'dist', 'index.js');
const tsSources = newestMtime(path.join(root, 'lib'), (n) => n.endsWith('.ts'));
if (!fs.existsSync(entry) || fs.statSync(entry).mtimeMs < tsSources) run('build:ts');

if (process.argv.includes('--cuda')) {
  if (onPath('nvcc') || process.env.CUDACXX) run('build:cuda');
  else console.log('CUDA plugin not built: nvcc is not on PATH (the GPU tests will say they are skipped)');
}
