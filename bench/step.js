#!/usr/bin/env node
// First benchmark: one float32 tensor (1e7 elements by default), plain and centered, the native
// step next to a naive JavaScript loop measured in the same run on the same arrays.
// Usage: node bench/step.js [--size N] [--samples K]
'use strict';
const { RMSProp, Parameter, simdLevel } = require('..');
const { numberArg, timeSync, gradient } = require('./harness');
const { naiveStep } = require('./naive');

const n = numberArg('size', 1e7);
const samples = numberArg('samples', 9);
const time = (fn) => timeSync(fn, samples);

const grad = gradient(n);

console.log(`rmsprop-native step benchmark: ${n.toExponential(0)} float32 elements, ` +
  `median of ${samples}, SIMD level ${simdLevel()}\n`);
console.log('| variant | native ns/elem | naive JS ns/elem | speed-up |');
console.log('|---|---:|---:|---:|');
for (const centered of [false, true]) {
  const h = { lr: 0.001, decay: 0.9, momentum: 0.9, epsilon: 1e-10 };
  const param = new Parameter(new Float32Array(n).fill(0.5), 'w');
  const opt = new RMSProp([param], { learningRate: h.lr, decay: h.decay, momentum: h.momentum, epsilon: h.epsilon, centered });
  const native = time(() => opt.step([grad]));
  const st = opt.state(param);
  const tensors = [{ w: param.data, s: st.meanSquare, m: st.moment, mg: st.meanGrad }];
  const naive = time(() => naiveStep(tensors, [grad], h));
  console.log(`| ${centered ? 'centered' : 'plain'} | ${(native / n).toFixed(3)} | ${(naive / n).toFixed(3)} | ${(naive / native).toFixed(1)}× |`);
}
