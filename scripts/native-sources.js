'use strict';
// When the native sources last changed: what scripts/ensure-built.js (the development build) and
// scripts/prepack.js (the prebuilds a package carries) compare their binaries against.
const fs = require('node:fs');
const path = require('node:path');

/** The newest modification time (ms) of the files under `dir` that pass `filter` (0 if none). */
function newestMtime(dir, filter) {
  let newest = 0;
  if (!fs.existsSync(dir)) return newest;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full, filter));
    else if (filter(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** The newest of every source the native build reads: binding/, include/, cuda/, mpi/, cmake/ and CMakeLists.txt. */
function nativeSourcesMtime(root) {
  return Math.max(
    newestMtime(path.join(root, 'binding'), (n) => /\.(cc|h)$/.test(n)),
    newestMtime(path.join(root, 'include'), (n) => n.endsWith('.h')),
    newestMtime(path.join(root, 'cuda'), (n) => /\.(cc|h|cuh)$/.test(n)),
    newestMtime(path.join(root, 'mpi'), (n) => /\.(c|h)$/.test(n)),
    newestMtime(path.join(root, 'cmake'), (n) => n.endsWith('.cmake')),
    fs.statSync(path.join(root, 'CMakeLists.txt')).mtimeMs,
  );
}

module.exports = { newestMtime, nativeSourcesMtime };
