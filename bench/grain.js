#!/usr/bin/env node
// Measures the chunk size (grain) of the multi-tensor step: median ns/element of a float32
// centered step for several tensor sizes and grains, with all threads, next to one thread.
// Usage: node bench/grain.js [--samples K]
'use strict';
const { Parameter, RMSProp, numThreads, setNumThreads } = require('..');
const { binding } = require('../dist/native/native');
const { numberArg, timeSync, gradient } = require('./harness');

const samples = numberArg('samples', 15);
const sizes = [1e4, 3e4, 1e5, 3e5, 1e6, 4e6];
const grains = [4096, 16384, 65536, 262144];
const threads = numThreads();
const initialGrain = binding.testing.setGrainElements();

console.log(`grain sweep: float32 centered, ${threads} threads, median of ${samples} (ns/element)\n`);
console.log(`| elements | 1 thread | ${grains.map((g) => `grain ${g}`).join(' | ')} |`);
console.log(`|---:|---:|${grains.map(() => '---:').join('|')}|`);
for (const n of sizes) {
  const p = new Parameter(new Float32Array(n).fill(0.5), 'w');
  const opt = new RMSProp([p], { centered: true, momentum: 0.9, learningRate: 1e-3 });
  const g = [gradient(n)];
  const reps = Math.max(1, Math.round(2e6 / n));
  const perElement = () => timeSync(() => { for (let r = 0; r < reps; r++) opt.step(g); }, samples) / reps / n;
  setNumThreads(1);
  const single = perElement();
  setNumThreads(threads);
  const row = grains.map((grain) => {
    binding.testing.setGrainElements(grain);
    return perElement().toFixed(3);
  });
  console.log(`| ${n.toExponential(0)} | ${single.toFixed(3)} | ${row.join(' | ')} |`);
}
binding.testing.setGrainElements(initialGrain);
