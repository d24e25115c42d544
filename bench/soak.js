#!/usr/bin/env node
// Soak test: many steps (sync and async) on a small model; prints the growth of the resident set
// after a warm-up, over two segments. Usage: node --expose-gc bench/soak.js [--steps N] [--sync|--async] [--json]
'use strict';
const { Parameter, RMSProp } = require('..');
const { numberArg, flag } = require('./harness');

const steps = numberArg('steps', 1e5);
const mode = process.argv.includes('--sync') ? 'sync' : process.argv.includes('--async') ? 'async' : 'mixed';

function settledRss() {
  for (let i = 0; i < 3; i++) global.gc?.();
  return process.memoryUsage().rss;
}

async function main() {
  const params = [
    new Parameter(new Float32Array(6 * 25), 'conv1.weight', { shape: [6, 1, 5, 5] }),
    new Parameter(new Float32Array(120 * 84), 'fc.weight', { shape: [120, 84] }),
    new Parameter(new Float64Array(84), 'fc.bias'),
  ];
  const opt = new RMSProp(
    [{ params: [params[0]], weightDecay: 0.01, gradCentralization: true }, { params: params.slice(1), lr: 0.01 }],
    { centered: true, momentum: 0.9, learningRate: (k) => 0.1 / (1 + k) },
  );
  const grads = params.map((p) => new p.data.constructor(p.size).fill(0.01));
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      if (mode === 'sync' || (mode === 'mixed' && i % 2 === 0)) opt.step(grads);
      else await opt.stepAsync(grads);
    }
  };
  await run(Math.max(5000, Math.round(steps / 5))); // let V8 and malloc size their heaps first
  // Two measured segments: memory that settles once shows in the first; a leak grows in both.
  const start = settledRss();
  await run(steps);
  const middle = settledRss();
  await run(steps);
  const end = settledRss();
  const growth = [middle - start, end - middle];
  if (flag('json')) console.log(JSON.stringify({ steps, mode, growth }));
  else {
    console.log(`${mode}: resident set grew by ${(growth[0] / 1024).toFixed(0)} KiB over ${steps} steps, ` +
      `then by ${(growth[1] / 1024).toFixed(0)} KiB over ${steps} more`);
  }
}

main();
