#!/usr/bin/env node
// npm's `prepack` (runs before every `npm pack` and `npm publish`): a package is only packed
// with what users load. Builds dist/ afresh (tsc), then checks that prebuilds/linux-x64 and
// prebuilds/linux-arm64 each hold an addon at least as new as the native sources, building the
// ones that are missing or stale (scripts/prebuilds.js; arm64 needs Debian's
// g++-aarch64-linux-gnu). Where one cannot be built, packing stops with the reason.
//
// For local tests only, RMSPROP_PACK_X64_ONLY=1 packs without the arm64 prebuild (x64 is still
// required): such a tarball must never be published.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { nativeSourcesMtime } = require('./native-sources');

const root = path.join(__dirname, '..');
const ADDON = 'rmsprop-native.glibc.node';

const sources = nativeSourcesMtime(root);

function main() {
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true }); // no file of an older layout ships
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root, stdio: ['ignore', 2, 2] }); // output on stderr: `npm pack`'s stdout is the tarball's name
  const x64Only = process.env.RMSPROP_PACK_X64_ONLY === '1';
  for (const arch of x64Only ? ['x64'] : ['x64', 'arm64']) {
    const addon = path.join(root, 'prebuilds', `linux-${arch}`, ADDON);
    if (fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= sources) continue;
    console.error(`prepack: ${path.relative(root, addon)} is ${fs.existsSync(addon) ? 'older than the native sources' : 'missing'}; building it`);
    try {
      execFileSync(process.execPath, [path.join(root, 'scripts', 'prebuilds.js'), arch], { cwd: root, stdio: ['ignore', 2, 2] });
    } catch {
      throw new Error(
        `prepack: refusing to pack without prebuilds/linux-${arch} (it could not be built here; see above). ` +
          (arch === 'arm64' ? 'Install g++-aarch64-linux-gnu, or for a local test only pack with RMSPROP_PACK_X64_ONLY=1.' : ''),
      );
    }
  }
  if (x64Only) console.error('prepack: RMSPROP_PACK_X64_ONLY=1: packing without the linux-arm64 prebuild (for local tests; never publish this tarball)');
}

try {
  main();
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
