#!/usr/bin/env node
// First benchmark: one float32 tensor (1e7 elements by default), plain and centered, the native
// step next to a naive JavaScript loop measured in the same run on the same arrays.
// Usage: node bench/step.js [--size N] [--samples K]
'use strict';
const { RMSProp, Parameter, simdLevel } = require('..');
const { numberArg, timeSync, gradient } = require('./harness');

const n = numberArg('size', 1e7);
const samples = numberArg('samples', 9);
const time = (fn) => timeSync(fn, samples);

// What a user would write by hand: the same update, one element at a time.
function naiveStep(w, s, m, mg, g, h) {
  const { lr, decay, momentum, epsilon } = h;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    s[i] = decay * s[i] + (1 - decay) * gi * gi;
    let d;
    if (mg) {
      mg[i] = decay * mg[i] + (1 - decay) * gi;
      d = s[i] - mg[i] * mg[i] + epsilon;
      if (!(d > 0)) continue;
    } else {
      d = s[i] + epsilon;
    }
    m[i] = momentum * m[i] + (lr * gi) / Math.sqrt(d);
    w[i] -= m[i];
  }
}

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
  const naive = time(() => naiveStep(param.data, st.meanSquare, st.moment, st.meanGrad, grad, h));
  console.log(`| ${centered ? 'centered' : 'plain'} | ${(native / n).toFixed(3)} | ${(naive / n).toFixed(3)} | ${(naive / native).toFixed(1)}× |`);
}
