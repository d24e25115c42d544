'use strict';
// Whether a program is on PATH (as `command -v` would find it), for the scripts that build the
// optional parts only where their tools exist.
const fs = require('node:fs');
const path = require('node:path');

function onPath(tool) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

module.exports = { onPath };
