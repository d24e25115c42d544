#!/usr/bin/env node
// npm run prebuilds [-- x64 arm64]: the prebuilt addons that the package ships,
// prebuilds/linux-<arch>/rmsprop-native.glibc.node, made by prebuildify (Node-API, stripped, libc
// tag) with scripts/cmake-js-as-node-gyp.js as its build backend.
//
// - With no architecture named it builds this machine's and, on x64, the linux-arm64 one with
//   Debian's cross toolchain; where that toolchain is missing it says so in one line and skips
//   arm64. An architecture named explicitly (npm run prebuilds:arm64) must build or it fails.
// - prebuildify runs in a staging folder (build-prebuild/<arch>-stage; cmake-js
//   rebuild empties build-prebuild/<arch>): it takes the addon from
//   its working directory's build/Release, so the development build in build/Release is never
//   moved or overwritten by a prebuild.
// - The finished files are installed into prebuilds/ by a temporary file and a rename
//   (scripts/install-binary.js): a process that has the old prebuild loaded keeps running, and a
//   build that fails leaves the previous prebuild where it was.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { installBinary } = require('./install-binary');
const { onPath } = require('./on-path');

const root = path.join(__dirname, '..');
const CROSS = { arm64: { compiler: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip', apt: 'g++-aarch64-linux-gnu' } };

function prebuild(arch) {
  const cross = arch !== process.arch ? CROSS[arch] : undefined;
  const stage = path.join(root, 'build-prebuild', `${arch}-stage`);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  // prebuildify names the file after the package (read from its working directory).
  const { name, version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name, version }));
  const args = [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc', '--arch', arch,
    '--node-gyp', path.join(__dirname, 'cmake-js-as-node-gyp.js')];
  if (cross) args.push('--strip-bin', cross.strip);
  execFileSync(process.execPath, args, { cwd: stage, stdio: 'inherit' });
  for (const file of installStaged(path.join(stage, 'prebuilds'), path.join(root, 'prebuilds'), `${process.platform}-${arch}`)) {
    console.log(`prebuilds: ${path.relative(root, file)} (${fs.statSync(file).size} bytes)`);
  }
}

/**
 * Installs every file of `<staged>/<folder>` into `<prebuilds>/<folder>`, each by a rename, and
 * returns the installed paths.
 */
function installStaged(staged, prebuilds, folder) {
  const built = path.join(staged, folder);
  const files = fs.readdirSync(built);
  if (files.length === 0) throw new Error(`prebuildify left nothing in ${built}`);
  return files.map((file) => {
    const destination = path.join(prebuilds, folder, file);
    installBinary(path.join(built, file), destination);
    return destination;
  });
}

function main() {
  const named = process.argv.slice(2);
  const known = [process.arch, ...Object.keys(CROSS)];
  for (const arch of named) {
    if (!known.includes(arch)) throw new Error(`prebuilds: unknown architecture '${arch}' (known here: ${known.join(', ')})`);
  }
  const wanted = named.length > 0 ? named : process.arch === 'x64' ? ['x64', 'arm64'] : [process.arch];
  for (const arch of wanted) {
    const cross = arch !== process.arch ? CROSS[arch] : undefined;
    if (cross && !onPath(cross.compiler)) {
      const why = `${cross.compiler} is not on PATH (apt-get install ${cross.apt})`;
      if (named.includes(arch)) throw new Error(`prebuilds: linux-${arch} not built: ${why}`);
      console.log(`prebuilds: linux-${arch} skipped: ${why}`);
      continue;
    }
    prebuild(arch);
  }
}

module.exports = { installStaged };

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
