#!/usr/bin/env node
// Smoke test inside Electron's Node: loads the package, steps on the main thread and with
// stepAsync, and in a worker thread. Run it with an Electron binary:
//   ELECTRON_RUN_AS_NODE=1 path/to/electron scripts/electron-smoke.js
// or `npm run test:electron`, which looks for one (the ELECTRON environment variable, or an
// installed `electron` package). The `electron` npm package downloads its binary during its own
// install, which fails on machines without internet access (such as this project's CI): there
// the test says it did not run and exits 0; it never pretends to have passed.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

async function smoke() {
  const { Parameter, RMSProp, simdLevel } = require(root);
  const { Worker } = require('node:worker_threads');
  const p = new Parameter(new Float32Array([1, 2]), 'w');
  const opt = new RMSProp([p]);
  opt.step([new Float32Array([0.1, 0.2])]);
  await opt.stepAsync([new Float32Array([0.1, 0.2])]);
  if (!(Math.abs(p.data[0] - 0.97836685) < 1e-6)) throw new Error(`wrong result ${p.data[0]}`);
  const level = await new Promise((resolve, reject) => {
    const w = new Worker(`require('node:worker_threads').parentPort.postMessage(require(${JSON.stringify(root)}).simdLevel())`, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
  console.log(`electron ${process.versions.electron}: steps ok, SIMD ${simdLevel()}, worker SIMD ${level}`);
}

function findElectron() {
  if (process.env.ELECTRON) return process.env.ELECTRON;
  try {
    return require('electron'); // the path of the binary, when the package installed one
  } catch {
    return null;
  }
}

if (process.versions.electron) {
  smoke().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  const electron = findElectron();
  if (!electron) {
    console.log('test:electron not run: no Electron binary (set ELECTRON=/path/to/electron or install the electron package)');
  } else {
    execFileSync(electron, [__filename], { stdio: 'inherit', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  }
}
