// The checks `npm run test:runtimes` runs in every runtime (Node 22, 24, the newest, Bun, Deno)
// against the packed package, from CommonJS (check.cjs) and from ESM (check.mjs). Each check
// returns nothing or throws; run() reports { check, ok, detail } per check. Plain JavaScript with
// no dependency: it must load the same way everywhere.
'use strict';

// One float64 step of docs/semantics.md §1 (no weight decay, loss scale 1) from the given values.
function referenceStep(h, w, s, m, mg, g) {
  const n = g.length;
  const out = { w: new Float64Array(n), s: new Float64Array(n), m: new Float64Array(n), mg: new Float64Array(n), tol: new Float64Array(n) };
  const f = Math.fround;
  const rho = f(h.decay), beta = f(h.momentum), eps = f(h.epsilon), lr = f(h.lr);
  for (let i = 0; i < n; i++) {
    const s1 = rho * s[i] + (1 - rho) * g[i] * g[i];
    let d = s1 + eps;
    let mg1 = 0;
    if (h.centered) {
      mg1 = rho * mg[i] + (1 - rho) * g[i];
      d = s1 - mg1 * mg1 + eps;
    }
    const m1 = d > 0 ? beta * m[i] + (lr * g[i]) / Math.sqrt(d) : m[i];
    out.s[i] = s1;
    out.mg[i] = mg1;
    out.m[i] = m1;
    out.w[i] = d > 0 ? w[i] - m1 : w[i];
    out.tol[i] = 2e-6 * (Math.abs(w[i]) + Math.abs(m1) + 1e-30) * 4; // a few float32 roundings of |w| + |m|
  }
  return out;
}

function numerics(lib, centered) {
  const { Parameter, RMSProp } = lib;
  const n = 257;
  const start = Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const p = new Parameter(start.slice(), 'w');
  const h = { lr: 0.01, decay: 0.9, momentum: 0.5, epsilon: 1e-6, centered };
  const opt = new RMSProp([p], { learningRate: h.lr, decay: h.decay, momentum: h.momentum, epsilon: h.epsilon, centered });
  for (let k = 0; k < 5; k++) {
    const g = Float32Array.from({ length: n }, (_, i) => Math.cos(i * (k + 1)));
    const st = opt.state(p);
    const want = referenceStep(h, p.data, st.meanSquare, st.moment, st.meanGrad || new Float32Array(n), g);
    opt.step([g]);
    for (let i = 0; i < n; i++) {
      if (!(Math.abs(p.data[i] - want.w[i]) <= want.tol[i])) {
        throw new Error(`step ${k} element ${i}: ${p.data[i]} vs float64 ${want.w[i]}`);
      }
    }
  }
}

const CHECKS = {
  // The README's quick start.
  'quick start': (lib) => {
    const { Parameter, RMSProp } = lib;
    const weight = new Parameter(new Float32Array([0.5, -0.25, 1.0, 0.75]), 'dense.weight', { shape: [2, 2] });
    const bias = new Parameter(new Float32Array([0, 0]), 'dense.bias');
    const opt = new RMSProp([weight, bias], { learningRate: 0.01, momentum: 0.9, centered: true });
    opt.step([new Float32Array([0.1, -0.2, 0.05, 0.3]), new Float32Array([0.01, -0.02])]);
    if (opt.globalStep !== 1) throw new Error(`globalStep ${opt.globalStep}`);
    if (!(weight.data[0] < 0.5 && weight.data[1] > -0.25)) throw new Error(`weights did not move: ${Array.from(weight.data)}`);
    const state = opt.state(weight);
    if (!state.meanSquare || !state.moment || !state.meanGrad) throw new Error('state views missing');
  },
  'float32 plain vs float64 reference': (lib) => numerics(lib, false),
  'float32 centered vs float64 reference': (lib) => numerics(lib, true),
  'stepAsync equals step': async (lib) => {
    const { Parameter, RMSProp } = lib;
    const make = () => {
      const p = new Parameter(Float32Array.from({ length: 300000 }, (_, i) => Math.sin(i)), 'w');
      return { p, opt: new RMSProp([p], { momentum: 0.9, centered: true }) };
    };
    const a = make();
    const b = make();
    const g = Float32Array.from({ length: 300000 }, (_, i) => Math.cos(i));
    for (let k = 0; k < 3; k++) {
      a.opt.step([g]);
      await b.opt.stepAsync([g]);
    }
    for (let i = 0; i < a.p.data.length; i++) {
      if (a.p.data[i] !== b.p.data[i]) throw new Error(`element ${i}: step ${a.p.data[i]}, stepAsync ${b.p.data[i]}`);
    }
  },
  'checkpoint round trip (saveState / loadState)': async (lib, { tmpdir }) => {
    const { Parameter, RMSProp } = lib;
    const path = require('node:path');
    const fs = require('node:fs');
    const file = path.join(tmpdir, `ckpt-${process.pid}-${Math.random().toString(36).slice(2)}.safetensors`);
    const p = new Parameter(new Float64Array([1, 2, 3]), 'w');
    const opt = new RMSProp([p], { centered: true });
    opt.step([new Float64Array([0.1, 0.2, 0.3])]);
    await opt.saveState(file);
    const q = new Parameter(new Float64Array([1, 2, 3]), 'w');
    const restored = new RMSProp([q], { centered: true });
    await restored.loadState(file);
    fs.rmSync(file, { force: true });
    const a = JSON.stringify(Object.entries(opt.stateDict()).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v.data)]));
    const b = JSON.stringify(Object.entries(restored.stateDict()).map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v.data)]));
    if (a !== b) throw new Error(`restored state differs: ${b} vs ${a}`);
  },
  'worker threads share one optimizer (useLocking)': async (lib, { workerFile }) => {
    const { Parameter, RMSProp } = lib;
    const { Worker } = require('node:worker_threads');
    const data = new Float32Array(new SharedArrayBuffer(4 * 1000)).fill(1);
    const opt = new RMSProp([new Parameter(data, 'w')], { useLocking: true });
    const handle = opt.share();
    const run = () =>
      new Promise((resolve, reject) => {
        const worker = new Worker(workerFile, { workerData: { handle, steps: 10 } });
        worker.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)));
        worker.once('error', reject);
      });
    await Promise.all([run(), run()]);
    if (opt.globalStep !== 20) throw new Error(`globalStep ${opt.globalStep} after 2 workers × 10 steps`);
    if (!(data[0] < 1)) throw new Error('the shared parameter did not move');
  },
};

async function run(lib, context) {
  const results = [];
  for (const [check, fn] of Object.entries(CHECKS)) {
    try {
      await fn(lib, context);
      results.push({ check, ok: true });
    } catch (error) {
      results.push({ check, ok: false, detail: String((error && error.message) || error).split('\n')[0] });
    }
  }
  return results;
}

module.exports = { run, CHECKS: Object.keys(CHECKS) };
