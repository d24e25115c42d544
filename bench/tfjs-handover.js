'use strict';
// npm run bench -- --tfjs-handover: what TfjsRMSProp's hand-over costs per step (issue 28): its
// parameters are arrays of its own, and each step gives each variable a new array of the result
// (slice), as TensorFlow.js keeps a tensor's array by reference; the copy in (set from
// dataSync()) runs only when a variable no longer holds the array it was given. Times,
// interleaved, on LeNet-5's shapes and on one 1e6 tensor: the whole applyGradients, each copy
// alone, and tf.train.rmsprop's applyGradients.
const { TfjsRMSProp } = require('../dist/tfjs');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const CASES = [
  { label: 'LeNet-5 (8 tensors, 61,706 elements)', sizes: [150, 2400, 48000, 120, 10080, 84, 840, 10] },
  { label: 'one tensor of 1e6', sizes: [1e6] },
];

async function handoverTable(out) {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  out('## TfjsRMSProp hand-over (float32, tfjs CPU backend)');
  out();
  out('Per step: TfjsRMSProp.applyGradients; the copy out it makes (`slice` of every parameter) and the copy in it skips');
  out("while the variables hold its arrays (`set` from each dataSync()), each alone; tf.train.rmsprop's applyGradients.");
  out('Medians of interleaved samples.');
  out();
  out('| case | TfjsRMSProp µs/step | copy out µs (% of the step) | copy in µs (skipped) | tf.train.rmsprop µs/step |');
  out('|---|---|---|---|---|');
  for (const [c, index] of CASES.map((c, i) => [c, i])) {
    const make = (prefix) => c.sizes.map((n, i) => tf.variable(tf.fill([n], 0.5), true, `${prefix}${index}/v${i}`));
    const ours = make('ours');
    const theirs = make('theirs');
    const grads = (vars) => Object.fromEntries(vars.map((v) => [v.name, tf.fill(v.shape, 0.01)]));
    const gOurs = grads(ours);
    const gTheirs = grads(theirs);
    const native = new TfjsRMSProp({ flavor: 'tfjs', learningRate: 0.001 });
    const reference = tf.train.rmsprop(0.001);
    const own = c.sizes.map((n) => new Float32Array(n));
    const t = { ours: [], out: [], in: [], theirs: [] };
    const time = (fn) => {
      const t0 = process.hrtime.bigint();
      fn();
      return Number(process.hrtime.bigint() - t0) / 1000;
    };
    for (let k = 0; k < 60; k++) {
      const a = time(() => native.applyGradients(gOurs));
      const b = time(() => own.forEach((x) => x.slice()));
      const e = time(() => ours.forEach((v, i) => own[i].set(v.dataSync())));
      const d = time(() => {
        reference.applyGradients(gTheirs);
        theirs[0].dataSync();
      });
      if (k >= 5) {
        t.ours.push(a);
        t.out.push(b);
        t.in.push(e);
        t.theirs.push(d);
      }
    }
    const [o, co, ci, th] = [median(t.ours), median(t.out), median(t.in), median(t.theirs)];
    out(`| ${c.label} | ${o.toFixed(0)} | ${co.toFixed(0)} (${((100 * co) / o).toFixed(0)}%) | ${ci.toFixed(0)} | ${th.toFixed(0)} |`);
    tf.dispose([...ours, ...theirs, ...Object.values(gOurs), ...Object.values(gTheirs)]);
    reference.dispose();
  }
  out();
}

module.exports = { handoverTable };
