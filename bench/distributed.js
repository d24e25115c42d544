'use strict';
// npm run bench -- --distributed: the data-parallel exchange (lib/distributed/) on this machine.
//
// 1. The exchange + sharded step (float32, plain, 2 workers started by distributed.launch) at
//    1e6 and 1e7 elements, against bench/limit.c's `dp` mode: an independent C/OpenMP program
//    (one thread per rank, its own arrays and barriers) streaming the very bytes a data-parallel
//    step must move (gradients into the exchange, the reduce of each piece, the step's traffic on
//    the piece, the piece gathered, the others' pieces copied back). Rounds of (limit, ours)
//    interleaved; back to back and after 5 ms idle. % = limit time / our time.
// 2. Scaling: a CPU-bound stand-in for gradient computation (a fixed global batch of sines per
//    step, each worker its share) plus the step, on 1 … cores workers. Efficiency = T(1) / (N·T(N)).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { distributed } = require('..');

const RANK = path.join(__dirname, 'distributed-rank.js');
const ROUNDS = 5;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function rankRun(workers, config) {
  const file = path.join(os.tmpdir(), `rmsprop-dp-bench-${process.pid}.json`);
  await distributed.launch(RANK, { workers, argv: [JSON.stringify(config), file] });
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file, { force: true });
  return result;
}

/** Bytes one data-parallel float32 plain step moves per element, summed over `ranks` (see limit.c's dp mode). */
function bytesPerElement(ranks) {
  const copyIn = ranks * 8; // every rank: read its gradient, write its exchange buffer
  const reduce = 4 * ranks + 4; // each element once: read every rank's buffer, write the mean
  const step = 4 + 8 + 16; // each element once: the mean; w read and written; s and m read and written
  const gather = 8 + (ranks - 1) * 8; // the piece into the shared copy; every other rank copies it back
  return copyIn + reduce + step + gather;
}

async function exchangeTable(out, limit) {
  const workers = 2;
  out('## Data-parallel exchange + sharded step (float32, plain, 2 workers)');
  out();
  out('Independent limit: bench/limit.c `dp` (one OpenMP thread per rank, its own arrays) streaming the bytes a data-parallel');
  out(`step must move: ${bytesPerElement(workers)} bytes per element over both ranks (gradients into the exchange, the reduce,`);
  out('the step on each piece, the gather). Medians of interleaved rounds; % = limit time / step time.');
  out();
  out('| elements | pattern | step ms | limit ms | GB/s (step) | % of limit | state bytes per rank (one process: 8 per element) |');
  out('|---|---|---|---|---|---|---|');
  const figures = [];
  for (const n of [1e6, 1e7]) {
    for (const idleMs of [0, 5]) {
      const samples = n >= 1e7 ? 15 : 41;
      const ours = [];
      const limits = [];
      let stateBytes = 0;
      for (let r = 0; r < ROUNDS; r++) {
        limits.push(limit(n, workers, idleMs, samples));
        const result = await rankRun(workers, { mode: 'step', n, samples, idleMs });
        ours.push(result.ns);
        stateBytes = result.stateBytes;
      }
      const step = median(ours);
      const lim = median(limits);
      const pct = (100 * lim) / step;
      figures.push({ n, idleMs, pct });
      out(`| ${n.toExponential(0)} | ${idleMs ? `after ${idleMs} ms idle` : 'back to back'} | ${(step / 1e6).toFixed(2)} | ${(lim / 1e6).toFixed(2)} | ` +
        `${((n * bytesPerElement(workers)) / step).toFixed(1)} | **${pct.toFixed(0)}%** | ${stateBytes} |`);
    }
  }
  out();
  return figures;
}

async function scalingTable(out) {
  const cores = os.cpus().length;
  const counts = [...new Set([1, 2, 4, 8, cores].filter((c) => c <= cores))].sort((a, b) => a - b);
  const config = { mode: 'scaling', n: 100_000, batch: 32, steps: 12 };
  out(`## Scaling of a CPU-bound stand-in for gradient computation (${config.batch} samples × ${config.n} sines per step, plus the step of ${config.n} parameters)`);
  out();
  out('| workers | ms per step | speed-up | efficiency |');
  out('|---|---|---|---|');
  let one;
  const figures = [];
  for (const workers of counts) {
    const xs = [];
    for (let r = 0; r < ROUNDS; r++) xs.push((await rankRun(workers, config)).ns);
    const ns = median(xs);
    one ??= ns;
    const efficiency = one / (workers * ns);
    figures.push({ workers, efficiency });
    out(`| ${workers} | ${(ns / 1e6).toFixed(1)} | ${(one / ns).toFixed(2)}× | **${(100 * efficiency).toFixed(0)}%** |`);
  }
  out();
  return figures;
}

module.exports = { exchangeTable, scalingTable };
