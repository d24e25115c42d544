'use strict';
// One rank of bench/distributed.js (run by distributed.launch): argv = [JSON config, output file].
//   { mode: 'step', n, samples, idleMs }: times rank 0's data-parallel step (float32, plain,
//     sharded) on n elements, the gradients passed as arrays;
//   { mode: 'scaling', n, batch, steps }: a CPU-bound stand-in for gradient computation (this
//     rank's share of `batch` samples, each n sines) and then the step; times whole steps.
const fs = require('node:fs');
const { RMSProp, Parameter, distributed } = require('..');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function sleep(ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const comm = await distributed.init();
  const w = new Parameter(new Float32Array(config.n).fill(0.5), 'w');
  const opt = new RMSProp([w], { learningRate: 0.001, communicator: comm });
  const g = new Float32Array(config.n).map((_, i) => Math.sin(i + comm.rank) * 0.01);
  const times = [];
  if (config.mode === 'step') {
    for (let k = 0; k < 3; k++) opt.step([g]);
    for (let k = 0; k < config.samples; k++) {
      sleep(config.idleMs);
      const t0 = process.hrtime.bigint();
      opt.step([g]);
      times.push(Number(process.hrtime.bigint() - t0));
    }
  } else {
    const from = Math.floor((comm.rank * config.batch) / comm.size);
    const to = Math.floor(((comm.rank + 1) * config.batch) / comm.size);
    for (let k = -2; k < config.steps; k++) {
      const t0 = process.hrtime.bigint();
      g.fill(0);
      for (let s = from; s < to; s++) for (let j = 0; j < config.n; j++) g[j] += Math.sin(j * 0.001 + s + k) / config.batch;
      opt.step([g]);
      if (k >= 0) times.push(Number(process.hrtime.bigint() - t0));
    }
  }
  if (comm.rank === 0) fs.writeFileSync(process.argv[3], JSON.stringify({ ns: median(times), stateBytes: opt.stateBytes }));
}

main();
