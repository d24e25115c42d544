// ESM: import from 'rmsprop-native' by package name, then every check. Prints one JSON line.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const started = Date.now();
let lib;
try {
  lib = await import('rmsprop-native');
  lib = lib.RMSProp ? lib : lib.default;
} catch (error) {
  console.log(JSON.stringify({ module: 'esm', results: [{ check: 'load', ok: false, detail: String(error.message).split('\n')[0] }] }));
  process.exit(0);
}
const results = await require('./checks.cjs').run(lib, { tmpdir: os.tmpdir(), workerFile: path.join(here, 'worker.cjs') });
console.log(JSON.stringify({ module: 'esm', ms: Date.now() - started, results: [{ check: 'load', ok: true }, ...results] }));
process.exit(0);
