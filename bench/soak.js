#!/usr/bin/env node
// Soak test: many steps (sync and async) on a small model; prints the growth of the resident set
// after a warm-up, over consecutive segments (two of N steps, or the lengths given by --segments)
// and the growth per step between the shortest and the longest segment: memory that settles once
// does not scale with a segment's length, a leak does.
// Usage: node --expose-gc bench/soak.js [--steps N | --segments A,B,...] [--sync|--async] [--json]
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
  const i = process.argv.indexOf('--segments');
  const segments = i >= 0 ? process.argv[i + 1].split(',').map(Number) : [steps, steps];
  await run(Math.max(5000, Math.round(Math.max(...segments) / 5))); // let V8 and malloc size their heaps first
  const growth = [];
  let before = settledRss();
  for (const n of segments) {
    await run(n);
    const after = settledRss();
    growth.push(after - before);
    before = after;
  }
  const shortest = segments.indexOf(Math.min(...segments));
  const longest = segments.indexOf(Math.max(...segments));
  const perStep = longest === shortest ? 0 : (growth[longest] - growth[shortest]) / (segments[longest] - segments[shortest]);
  if (flag('json')) console.log(JSON.stringify({ mode, segments, growth, perStep }));
  else {
    const parts = segments.map((n, k) => `${(growth[k] / 1024).toFixed(0)} KiB over ${n} steps`);
    console.log(`${mode}: resident set grew by ${parts.join(', then ')}` +
      (longest === shortest ? '' : `; ${perStep.toFixed(2)} bytes per step from the shortest segment to the longest`));
  }
}

main();
