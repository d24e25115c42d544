// A worker of the 'worker threads' check: steps the shared optimizer and reports.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { RMSProp } = require('rmsprop-native');

try {
  const opt = RMSProp.fromShared(workerData.handle);
  const g = [new Float32Array(1000).fill(0.5)];
  for (let i = 0; i < workerData.steps; i++) opt.step(g);
  parentPort.postMessage({ globalStep: opt.globalStep });
} catch (error) {
  parentPort.postMessage({ error: String((error && error.stack) || error) });
}
