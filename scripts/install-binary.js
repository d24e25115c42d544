'use strict';
// Installs a native library (a `.node` addon or a `.so` plugin) that a running process may have
// loaded. Rewriting such a file in place changes the code under that process's feet (it crashed
// with SIGSEGV/SIGBUS when that happened); a new file renamed over the old name leaves the loaded
// copy intact, since the process keeps its mapping of the old inode. The new file is written
// beside the destination (same file system, so the rename is atomic) and renamed into place; on
// any failure the destination is left exactly as it was.
const fs = require('node:fs');
const path = require('node:path');

/** Copies `source` to `destination` through a temporary file and an atomic rename. */
function installBinary(source, destination) {
  const dir = path.dirname(destination);
  fs.mkdirSync(dir, { recursive: true });
  const temporary = path.join(dir, `.${path.basename(destination)}.${process.pid}.tmp`);
  try {
    fs.copyFileSync(source, temporary);
    fs.chmodSync(temporary, fs.statSync(source).mode);
    fs.renameSync(temporary, destination);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

module.exports = { installBinary };
