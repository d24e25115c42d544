// CommonJS: require('rmsprop-native') by package name, then every check. Prints one JSON line.
'use strict';
const os = require('node:os');
const path = require('node:path');

const started = Date.now();
let lib;
try {
  lib = require('rmsprop-native');
} catch (error) {
  console.log(JSON.stringify({ module: 'cjs', results: [{ check: 'load', ok: false, detail: String(error.message).split('\n')[0] }] }));
  process.exit(0);
}
require('./checks.cjs')
  .run(lib, { tmpdir: os.tmpdir(), workerFile: path.join(__dirname, 'worker.cjs') })
  .then((results) => {
    console.log(JSON.stringify({ module: 'cjs', ms: Date.now() - started, results: [{ check: 'load', ok: true }, ...results] }));
    process.exit(0);
  });
