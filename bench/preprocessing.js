#!/usr/bin/env node
// The cost of the fused preprocessing: weight decay + loss scale + gradient centralization on a
// convolution-shaped float32 tensor (1e7 elements, shape [1000, 100, 10, 10]) against a plain
// step on the same shape, measured alternately in the same run.
// Usage: node bench/preprocessing.js [--samples K] [--rounds R]
'use strict';
const { RMSProp, Parameter, simdLevel } = require('..');
const { numberArg, measureInterleaved, gradient } = require('./harness');

const shape = [1000, 100, 10, 10];
const n = shape.reduce((a, b) => a * b, 1);
const samples = numberArg('samples', 15);
const rounds = numberArg('rounds', 3);
const grad = gradient(n);

const plainParam = new Parameter(new Float32Array(n).fill(0.5), 'conv.weight', { shape });
const fusedParam = new Parameter(new Float32Array(n).fill(0.5), 'conv.weight', { shape });
const plain = new RMSProp([plainParam], { momentum: 0.9, learningRate: 0.001 });
const fused = new RMSProp([{ params: [fusedParam], weightDecay: 0.01, gradCentralization: true }], {
  momentum: 0.9,
  learningRate: 0.001,
  lossScale: 1024,
});

console.log(`fused preprocessing: ${n.toExponential(0)} float32 elements, shape [${shape.join(', ')}], ` +
  `SIMD level ${simdLevel()}; each round: medians of ${samples} interleaved samples\n`);
console.log('| round | plain ns/elem | wd + loss scale + centralization ns/elem | ratio |');
console.log('|---:|---:|---:|---:|');
(async () => {
  for (let r = 1; r <= rounds; r++) {
    const t = await measureInterleaved(
      [
        { name: 'plain', run: () => plain.step([grad]) },
        { name: 'fused', run: () => fused.step([grad]) },
      ],
      { budgetNs: 1e12, maxSamples: samples },
    );
    console.log(`| ${r} | ${(t.plain / n).toFixed(3)} | ${(t.fused / n).toFixed(3)} | ${(t.fused / t.plain).toFixed(2)}× |`);
  }
})();
