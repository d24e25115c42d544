#!/usr/bin/env node
// npm run bench [-- --quick]          (CPU; `-- --cuda` runs the GPU benchmark instead: bench/cuda.js;
//                                       `-- --flavors` only the table of every flavour at 1e7,
//                                       `-- --per-tensor` only the per-tensor cost table,
//                                       `-- --overflow` only the overflow check's cost,
//                                       `-- --half` only the half-precision table,
//                                       `-- --distributed` the data-parallel tables,
//                                       `-- --mpi` the MPI exchange against raw MPI: bench/mpi.js)
//
// Measures, in one run and on the same arrays: the memory-traffic limit (a kernel streaming the
// step's arrays with trivial arithmetic, one thread and all threads), a naive JavaScript loop,
// TensorFlow.js tf.train.rmsprop (CPU backend, float32), and this library (sync and async), for
// 1e3 … 3e7 elements and 2000 tensors × 500, plain and centered, float32 and float64. Every figure
// is the median of repeated samples; ratios compare figures from this same run.
// From 1e6 elements it also runs bench/limit.c, an independent limit (its own OpenMP threads and
// arrays, nothing of the addon's pool), back to back and after 5 ms of idle, against the step in
// the same two patterns.
// Prints markdown tables and writes them to bench/results/latest.md.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { execFileSync } = require('node:child_process');

const { Parameter, RMSProp, numThreads, setNumThreads, simdLevel } = require('..');
const { FLAVORS } = require('../dist/config/options');
const { flag, measureInterleaved } = require('./harness');
const { naiveStep } = require('./naive');
const { makeStream } = require('./stream');
const { makeTfjsStep } = require('./tfjs');

const quick = flag('quick');
const BUDGET_NS = (quick ? 0.12 : 0.6) * 1e9; // time spent per measurement
const MAX_SAMPLES = quick ? 7 : 15;
const TFJS_MAX_ELEMENTS = quick ? 1e5 : 1e7; // beyond this one tfjs step takes many seconds
const HYPER = { lr: 0.001, decay: 0.9, momentum: 0.9, epsilon: 1e-10 };

const CASES = [
  { label: '1e3', sizes: [1e3] },
  { label: '1e4', sizes: [1e4] },
  { label: '1e5', sizes: [1e5] },
  { label: '1e6', sizes: [1e6] },
  { label: '2000×500', sizes: new Array(2000).fill(500) },
  ...(quick ? [] : [{ label: '1e7', sizes: [1e7] }, { label: '3e7', sizes: [3e7] }]),
];

const measure = (methods) => measureInterleaved(methods, { budgetNs: BUDGET_NS, maxSamples: MAX_SAMPLES });

// The independent limit (bench/limit.c), compiled once into build-bench/ with the machine's C
// compiler; null (with the reason printed) where that fails.
const IDLE_MS = 5;
const INDEPENDENT_FROM = 1e6;
const INDEPENDENT_ROUNDS = 5; // limit, limit after idle, our steps: interleaved rounds
let limitProgram;
function independentLimitProgram() {
  if (limitProgram !== undefined) return limitProgram;
  const source = path.join(__dirname, 'limit.c');
  const binary = path.join(__dirname, '..', 'build-bench', 'limit');
  try {
    if (!fs.existsSync(binary) || fs.statSync(binary).mtimeMs < fs.statSync(source).mtimeMs) {
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      execFileSync('cc', ['-O3', '-march=native', '-fno-math-errno', '-fopenmp', '-o', binary, source, '-lm'], { stdio: 'pipe' });
    }
    limitProgram = binary;
  } catch (error) {
    console.log(`independent limit not measured: compiling bench/limit.c failed (${String(error.message).split('\n')[0]})`);
    limitProgram = null;
  }
  return limitProgram;
}

function independentLimit(n, dtype, centered, threads, idleMs) {
  const program = independentLimitProgram();
  if (!program) return null;
  const code = { float32: 'f32', float64: 'f64', half: 'h16', halfMaster: 'h16m', dataParallel: 'dp' }[dtype];
  const out = execFileSync(program, [String(n), code, centered ? 'centered' : 'plain', String(threads), String(idleMs), String(MAX_SAMPLES)], { encoding: 'utf8' });
  return JSON.parse(out);
}

// The step and stepAsync in the two patterns of the independent limit, sample by sample
// interleaved: after IDLE_MS of sleep (as a training loop calls it between gradient computations:
// the pool's threads have gone to sleep), then at once again (back to back). Medians in ns.
async function stepPatterns(opt, grads) {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const samples = { sync: { b2b: [], idle: [] }, async: { b2b: [], idle: [] } };
  const time = async (run, into) => {
    const t0 = process.hrtime.bigint();
    await run();
    into.push(Number(process.hrtime.bigint() - t0));
  };
  for (let i = 0; i < MAX_SAMPLES; i++) {
    for (const [kind, run] of [['sync', () => opt.step(grads)], ['async', () => opt.stepAsync(grads)]]) {
      Atomics.wait(pause, 0, 0, IDLE_MS);
      await time(run, samples[kind].idle);
      await time(run, samples[kind].b2b);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    sync: { b2b: med(samples.sync.b2b), idle: med(samples.sync.idle) },
    async: { b2b: med(samples.async.b2b), idle: med(samples.async.idle) },
  };
}

// Each figure of `rounds` (objects of the same shape, numbers at the leaves) at its median.
function medianRound(rounds) {
  const at = (pick) => {
    const xs = rounds.map(pick).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)];
  };
  const walk = (shape, pick) =>
    typeof shape === 'number'
      ? at(pick)
      : Object.fromEntries(Object.keys(shape).map((k) => [k, walk(shape[k], (r) => pick(r)[k])]));
  return walk(rounds[0], (r) => r);
}

function gradient(n, Type, seed) {
  const g = new Type(n);
  // Never exactly 0: a gradient that stays 0 decays meanSquare into denormals, which x86 CPUs
  // process ~100× slower (see README, Performance); that is a property of the data, not of a step.
  for (let i = 0; i < n; i++) g[i] = Math.sin(i + seed + 0.5) * 0.01;
  return g;
}

async function runCase(c, dtype, centered, allThreads) {
  const Type = dtype === 'float32' ? Float32Array : Float64Array;
  const n = c.sizes.reduce((a, b) => a + b, 0);
  const params = c.sizes.map((size, i) => new Parameter(new Type(size).fill(0.5), `p${i}`));
  const grads = c.sizes.map((size, i) => gradient(size, Type, i));
  const opt = new RMSProp(params, { learningRate: HYPER.lr, decay: HYPER.decay, momentum: HYPER.momentum, epsilon: HYPER.epsilon, centered });
  const states = params.map((p) => opt.state(p));

  // The limit: the very same arrays streamed by the same chunks and threads (bench/stream.js).
  const stream = makeStream(params, states, centered);
  const tensors = params.map((p, i) => ({ w: p.data, s: states[i].meanSquare, m: states[i].moment, mg: states[i].meanGrad }));
  const all = () => setNumThreads(allThreads);
  const methods = [
    { name: 'limit1', run: () => stream.run(grads), before: () => stream.setThreads(1) },
    { name: 'limitAll', run: () => stream.run(grads), before: () => stream.setThreads(allThreads) },
    { name: 'native', run: () => opt.step(grads), before: all },
    { name: 'nativeAsync', run: () => opt.stepAsync(grads), async: true, before: all },
    { name: 'naive', run: () => naiveStep(tensors, grads, HYPER) },
  ];
  let tfjsStep = null;
  if (dtype === 'float32' && n <= TFJS_MAX_ELEMENTS) {
    tfjsStep = await makeTfjsStep(c.sizes, HYPER, centered);
    if (tfjsStep) methods.push({ name: 'tfjs', run: () => tfjsStep.step() });
  }
  const t = await measure(methods);
  tfjsStep?.dispose();
  setNumThreads(allThreads);
  let independent = null;
  if (c.sizes.length === 1 && n >= INDEPENDENT_FROM) {
    // Rounds of (limit back to back, limit after idle, our steps), so that drift of this shared
    // machine hits both sides alike; the median round of each figure.
    const rounds = [];
    for (let r = 0; r < INDEPENDENT_ROUNDS; r++) {
      const backToBack = independentLimit(n, dtype, centered, allThreads, 0);
      const afterIdle = independentLimit(n, dtype, centered, allThreads, IDLE_MS);
      if (!backToBack || !afterIdle) break;
      rounds.push({ backToBack, afterIdle, steps: await stepPatterns(opt, grads) });
    }
    if (rounds.length === INDEPENDENT_ROUNDS) independent = medianRound(rounds);
  }
  const { limit1, limitAll, native, nativeAsync, naive } = t;
  const tfjs = t.tfjs ?? null;
  const bytesPerElement = (centered ? 9 : 7) * Type.BYTES_PER_ELEMENT;
  return { n, bytes: n * bytesPerElement, limit1, limitAll, native, nativeAsync, naive, tfjs, independent };
}

// A 1 ms interval timer's worst lateness while stepAsync updates 3e7 float32 elements (centered).
async function eventLoopLateness(elements) {
  const p = new Parameter(new Float32Array(elements), 'w');
  const opt = new RMSProp([p], { centered: true });
  const g = gradient(elements, Float32Array, 0);
  await opt.stepAsync([g]);
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  const start = performance.now();
  for (let k = 0; k < 5; k++) await opt.stepAsync([g]);
  const elapsed = performance.now() - start;
  clearInterval(timer);
  return { worst, elapsed: elapsed / 5 };
}

const fmt = (ns, n) => (ns === null ? '—' : (ns / n).toFixed(3));
const ratio = (a, b) => (a === null || b === null ? '—' : `${(a / b).toFixed(a / b >= 100 ? 0 : 1)}×`);

// Every flavour's step (with weight decay, so the decoupled and coupled variants run) against the
// same-pool limit on the same number of elements, interleaved: what a flavour's form of the update
// costs beyond the memory traffic. Each flavour has its own arrays (steps update in place).
async function flavorTable(out, allThreads) {
  const n = quick ? 1e6 : 1e7;
  out(`Flavours (options \`flavor\`, weightDecay 1e-4; docs/semantics.md §9): ${n.toExponential(0)} float32 elements, each ` +
    "flavour's step against the same-pool limit on its own arrays, interleaved. % = limit time / step time.");
  out();
  out('| flavour | plain ns/elem | plain % of limit | centered ns/elem | centered % of limit |');
  out('|---|---:|---:|---:|---:|');
  const rows = {};
  for (const centered of [false, true]) {
    const grads = [gradient(n, Float32Array, 0)];
    const methods = [];
    let stream = null;
    for (const flavor of Object.keys(FLAVORS)) {
      const p = new Parameter(new Float32Array(n).fill(0.5), 'w');
      const opt = new RMSProp([p], { flavor, learningRate: HYPER.lr, momentum: HYPER.momentum, weightDecay: 1e-4, centered });
      stream ??= makeStream([p], [opt.state(p)], centered);
      methods.push({ name: flavor, run: () => opt.step(grads), before: () => setNumThreads(allThreads) });
    }
    methods.push({ name: 'limit', run: () => stream.run(grads), before: () => stream.setThreads(allThreads) });
    const t = await measureInterleaved(methods, { budgetNs: BUDGET_NS * 2, maxSamples: MAX_SAMPLES });
    for (const flavor of Object.keys(FLAVORS)) {
      rows[flavor] = { ...rows[flavor], [centered ? 'centered' : 'plain']: { ns: t[flavor], pct: (100 * t.limit) / t[flavor] } };
    }
    if (global.gc) global.gc();
  }
  for (const [flavor, r] of Object.entries(rows)) {
    out(`| ${flavor} | ${fmt(r.plain.ns, n)} | ${r.plain.pct.toFixed(0)}% | ${fmt(r.centered.ns, n)} | ${r.centered.pct.toFixed(0)}% |`);
  }
  out();
}

// What each tensor of a step costs: 2000 tensors × 500 against one tensor of 1e6 (float32, plain),
// with the gradients handed over in three ways, interleaved: the same arrays every step (read once),
// new arrays every step (a rotating pool of POOL sets of separately allocated arrays, as
// tfjs's dataSync() gives; the single tensor rotates a pool of the same size, so both sides miss
// the caches alike), and the arena of gradientBuffers() with step() and no argument.
const POOL = 4;
const TENSORS = 2000;
async function perTensorTable(out, allThreads) {
  const make = (sizes) => {
    const params = sizes.map((size, i) => new Parameter(new Float32Array(size).fill(0.5), `p${i}`));
    const opt = new RMSProp(params, { learningRate: HYPER.lr, decay: HYPER.decay, momentum: HYPER.momentum, epsilon: HYPER.epsilon });
    const pool = Array.from({ length: POOL }, (_, k) => sizes.map((size, i) => gradient(size, Float32Array, i + k)));
    let next = 0;
    const stream = makeStream(params, params.map((p) => opt.state(p)), false);
    return {
      opt,
      same: () => opt.step(pool[0]),
      fresh: () => opt.step(pool[next++ % POOL]),
      limit: () => stream.run(pool[0]),
      setThreads: (n) => stream.setThreads(n),
    };
  };
  const one = make([TENSORS * 500]);
  const many = make(new Array(TENSORS).fill(500));
  const arena = make(new Array(TENSORS).fill(500));
  arena.opt.gradientBuffers().forEach((view, i) => view.set(gradient(500, Float32Array, i)));
  // New arrays copied into the arena, then step(): what TfjsRMSProp could do with dataSync()'s
  // arrays instead of handing them over (it takes whichever this table shows faster).
  const copied = make(new Array(TENSORS).fill(500));
  const copiedViews = copied.opt.gradientBuffers();
  const copyPool = Array.from({ length: POOL }, (_, k) => copiedViews.map((v, i) => gradient(v.length, Float32Array, i + k)));
  let copyNext = 0;
  const copyThenStep = () => {
    const grads = copyPool[copyNext++ % POOL];
    for (let i = 0; i < grads.length; i++) copiedViews[i].set(grads[i]);
    copied.opt.step();
  };
  const all = () => setNumThreads(allThreads);
  const methods = [
    { name: 'oneSame', run: one.same, before: all },
    { name: 'oneFresh', run: one.fresh, before: all },
    { name: 'manySame', run: many.same, before: all },
    { name: 'manyFresh', run: many.fresh, before: all },
    { name: 'manyArena', run: () => arena.opt.step(), before: all },
    { name: 'manyCopied', run: copyThenStep, before: all },
    { name: 'oneLimit', run: one.limit, before: () => one.setThreads(allThreads) },
    { name: 'manyLimit', run: many.limit, before: () => many.setThreads(allThreads) },
  ];
  // Interleaved (each method finds its arrays out of cache), and each method alone, back to back
  // (its arrays as warm as the caches allow): three rounds of both, the median of each figure.
  const rounds = [];
  for (let r = 0; r < 3; r++) {
    const cold = await measure(methods);
    const warm = {};
    for (const m of methods) Object.assign(warm, await measure([m]));
    rounds.push({ cold, warm });
  }
  const { cold, warm } = medianRound(rounds);
  const per = (t, a, b) => ((t[a] - t[b]) / TENSORS).toFixed(0);
  const row = (label, many, one, bold = false) => {
    const b = (x) => (bold ? `**${x}**` : x);
    return `| ${label} | ${(cold[one] / 1e3).toFixed(1)} / ${(cold[many] / 1e3).toFixed(1)} | ${per(cold, many, one)} | ` +
      `${(warm[one] / 1e3).toFixed(1)} / ${(warm[many] / 1e3).toFixed(1)} | ${b(per(warm, many, one))} |`;
  };
  out(`Per-tensor cost (float32 plain): (${TENSORS}×500 − 1×1e6) / ${TENSORS} by how the gradients are handed over. New ` +
    `arrays: a rotating pool of ${POOL} sets of separately allocated arrays (the 1e6 side rotates ${POOL} arrays). ` +
    'Interleaved: every method in turn, sample by sample, so each finds its arrays out of cache (as after a backward ' +
    'pass over other memory); back to back: each method alone, its arrays as warm as the caches allow. Median of 3 rounds.');
  out();
  out('| gradients | interleaved µs (1×1e6 / 2000×500) | interleaved ns per tensor | back to back µs (1×1e6 / 2000×500) | back to back ns per tensor |');
  out('|---|---:|---:|---:|---:|');
  out(row('the same arrays every step', 'manySame', 'oneSame'));
  out(row('new arrays every step', 'manyFresh', 'oneFresh', true));
  out(row('gradientBuffers() + step()', 'manyArena', 'oneSame'));
  out(row('new arrays copied into gradientBuffers(), then step()', 'manyCopied', 'oneFresh'));
  out(row('the same-pool limit kernel (same arrays)', 'manyLimit', 'oneLimit'));
  out();
  out("The limit row is what separately allocated small arrays cost the memory system alone; the rows above it add this library's hand-over. " +
    `TfjsRMSProp hands over dataSync()'s new arrays (the bold row): copying them into the arena ` +
    `${Number(per(warm, 'manyCopied', 'oneFresh')) > Number(per(warm, 'manyFresh', 'oneFresh')) ? 'costs more' : 'WOULD COST LESS'} here ` +
    `(${per(warm, 'manyCopied', 'oneFresh')} against ${per(warm, 'manyFresh', 'oneFresh')} ns per tensor back to back).`);
  out();
}

// Half-precision parameters (float16, bfloat16; float32 state and math) at 1e7 (1e6 with --quick):
// each configuration on its own arrays against the float32 step and the same-pool limit, all
// interleaved. The limit streams float32 arrays; a configuration's own limit is scaled by its
// bytes per element (the limit's time per byte, times the bytes it must move).
async function halfTable(out, allThreads) {
  const n = quick ? 1e6 : 1e7;
  out(`Half precision (docs/semantics.md §11): ${n.toExponential(0)} elements, gradients in the parameter's dtype, interleaved ` +
    'with the float32 step and the same-pool limit (float32 arrays). Bytes: what a step must move per element; % of limit = ' +
    "the limit's time per byte × these bytes / the step's time. Independent: bench/limit.c streaming these very bytes " +
    '(16-bit parameter and gradient, float32 state and master copy) with its own OpenMP threads, back to back, measured ' +
    'right after.');
  out();
  out('| dtype | variant | master weights | bytes/elem | step ns/elem | GB/s | % of limit for its bytes | % of independent limit | speed-up over float32 |');
  out('|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const centered of [false, true]) {
    const methods = [];
    const bytes = {};
    const all = () => setNumThreads(allThreads);
    const f32 = new Parameter(new Float32Array(n).fill(0.5), 'w');
    const f32opt = new RMSProp([f32], { learningRate: HYPER.lr, momentum: HYPER.momentum, centered });
    const g32 = [gradient(n, Float32Array, 0)];
    const stream = makeStream([f32], [f32opt.state(f32)], centered);
    methods.push({ name: 'float32', run: () => f32opt.step(g32), before: all });
    methods.push({ name: 'limit', run: () => stream.run(g32), before: () => stream.setThreads(allThreads) });
    const state = centered ? 3 : 2;
    const f32Bytes = 4 * 3 + 8 * state; // float32: param r/w, gradient, state r/w
    for (const dtype of ['float16', 'bfloat16']) {
      for (const masterWeights of [false, true]) {
        const p = new Parameter(new Uint16Array(n).fill(dtype === 'float16' ? 0x3800 : 0x3f00), 'w', { dtype });
        const opt = new RMSProp([p], { learningRate: HYPER.lr, momentum: HYPER.momentum, centered, masterWeights });
        const g = [new Parameter(Array.from(gradient(1024, Float32Array, 0)), 'g', { dtype }).data];
        const grads = [new Uint16Array(n).map((_, i) => g[0][i % 1024])];
        const name = `${dtype}/${masterWeights}`;
        methods.push({ name, run: () => opt.step(grads), before: all });
        // param read + write (2 + 2), gradient 2, state read + write (8 each), master read + write (8).
        bytes[name] = 2 + 2 + 2 + 8 * state + (masterWeights ? 8 : 0);
      }
    }
    const t = await measureInterleaved(methods, { budgetNs: BUDGET_NS * 2, maxSamples: MAX_SAMPLES });
    const limitPerByte = t.limit / (n * f32Bytes);
    const independent = {};
    for (const kind of ['float32', 'half', 'halfMaster']) independent[kind] = independentLimit(n, kind, centered, allThreads, 0);
    const ofIndependent = (kind, time) => (independent[kind] ? `${((100 * independent[kind].traffic) / time).toFixed(0)}%` : 'not measured');
    for (const [name, b] of Object.entries(bytes)) {
      const [dtype, master] = name.split('/');
      out(`| ${dtype} | ${centered ? 'centered' : 'plain'} | ${master === 'true' ? 'yes' : 'no'} | ${b} | ${fmt(t[name], n)} | ` +
        `${((n * b) / t[name]).toFixed(1)} | **${((100 * limitPerByte * n * b) / t[name]).toFixed(0)}%** | ` +
        `${ofIndependent(master === 'true' ? 'halfMaster' : 'half', t[name])} | **${(t.float32 / t[name]).toFixed(2)}×** |`);
    }
    out(`| float32 | ${centered ? 'centered' : 'plain'} | — | ${f32Bytes} | ${fmt(t.float32, n)} | ` +
      `${((n * f32Bytes) / t.float32).toFixed(1)} | ${((100 * t.limit) / t.float32).toFixed(0)}% | ` +
      `${ofIndependent('float32', t.float32)} | 1.00× |`);
    if (global.gc) global.gc();
  }
  out();
}

// What the non-finite check (skipNonFinite; a DynamicLossScaler does the same) adds to a step:
// each pair of optimizers on its own arrays, interleaved, at 1e7 float32 (1e6 with --quick).
async function overflowTable(out, allThreads) {
  const n = quick ? 1e6 : 1e7;
  out(`Overflow check (\`skipNonFinite: true\`, or a \`DynamicLossScaler\`): one more read of the gradients, in the step's ` +
    `chunks and threads, before the update; ${n.toExponential(0)} float32 elements, finite gradients, interleaved.`);
  out();
  out('| variant | step ns/elem | with check ns/elem | cost of the check |');
  out('|---|---:|---:|---:|');
  for (const centered of [false, true]) {
    const grads = [gradient(n, Float32Array, 0)];
    const make = (skipNonFinite) => {
      const p = new Parameter(new Float32Array(n).fill(0.5), 'w');
      const opt = new RMSProp([p], { learningRate: HYPER.lr, momentum: HYPER.momentum, centered, skipNonFinite });
      return () => opt.step(grads);
    };
    const all = () => setNumThreads(allThreads);
    const t = await measureInterleaved(
      [{ name: 'plain', run: make(false), before: all }, { name: 'checked', run: make(true), before: all }],
      { budgetNs: BUDGET_NS * 2, maxSamples: MAX_SAMPLES },
    );
    out(`| ${centered ? 'centered' : 'plain'} | ${fmt(t.plain, n)} | ${fmt(t.checked, n)} | **${((100 * (t.checked - t.plain)) / t.plain).toFixed(0)}%** |`);
    if (global.gc) global.gc();
  }
  out();
}

async function main() {
  const allThreads = numThreads();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [];
  const out = (line = '') => {
    lines.push(line);
    console.log(line);
  };
  out(`# rmsprop-native benchmark${quick ? ' (quick)' : ''}`);
  out();
  out(`${new Date().toISOString()} · ${cpu} · ${os.cpus().length} CPUs · Node ${process.version} · ` +
    `SIMD ${simdLevel()} · ${allThreads} threads`);
  out();
  if (flag('per-tensor')) {
    // `npm run bench -- --per-tensor`: the per-tensor table alone (bench/results/latest.md untouched).
    await perTensorTable(out, allThreads);
    return;
  }
  if (flag('half')) {
    // `npm run bench -- --half`: the half-precision table alone.
    await halfTable(out, allThreads);
    return;
  }
  if (flag('overflow')) {
    // `npm run bench -- --overflow`: the overflow check's table alone.
    await overflowTable(out, allThreads);
    return;
  }
  if (flag('tfjs-handover')) {
    // `npm run bench -- --tfjs-handover`: what TfjsRMSProp's copies cost per step.
    await require('./tfjs-handover').handoverTable(out);
    return;
  }
  if (flag('distributed')) {
    // `npm run bench -- --distributed`: the data-parallel tables alone, also written to bench/results/distributed.md.
    const { exchangeTable, scalingTable } = require('./distributed');
    const limit = (n, ranks, idleMs, samples) => {
      const program = independentLimitProgram();
      if (!program) throw new Error('the data-parallel table needs bench/limit.c (a C compiler with OpenMP)');
      const result = execFileSync(program, [String(n), 'dp', 'plain', String(ranks), String(idleMs), String(samples)], { encoding: 'utf8' });
      return JSON.parse(result).traffic;
    };
    await exchangeTable(out, limit);
    await scalingTable(out);
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'distributed.md'), `${lines.join('\n')}\n`);
    return;
  }
  if (flag('mpi')) {
    // `npm run bench -- --mpi`: the MPI exchange against raw MPI, also written to bench/results/mpi.md.
    await require('./mpi').mpiTable(out);
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'mpi.md'), `${lines.join('\n')}\n`);
    return;
  }
  if (flag('flavors')) {
    // `npm run bench -- --flavors`: the flavour table alone (bench/results/latest.md untouched).
    await flavorTable(out, allThreads);
    return;
  }
  out('ns/elem: median time of one step per element. GB/s: bytes a step must move (param, state and');
  out('gradient read, param and state written) per second. Limit: the same arrays streamed with trivial');
  out('arithmetic by the same chunks and threads (1T: one thread). % of limit = limit time / step time.');
  out();
  out('| case | dtype | variant | step ns/elem | async ns/elem | GB/s | % of limit | limit ns/elem (all / 1T) | naive JS ns/elem | tfjs ns/elem | vs JS loop | vs tfjs |');
  out('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const results = {};
  for (const dtype of ['float32', 'float64']) {
    for (const centered of [false, true]) {
      for (const c of CASES) {
        const r = await runCase(c, dtype, centered, allThreads);
        results[`${dtype}/${centered}/${c.label}`] = r;
        const variant = centered ? 'centered' : 'plain';
        const gbps = (r.bytes / r.native).toFixed(1);
        out(`| ${c.label} | ${dtype} | ${variant} | ${fmt(r.native, r.n)} | ${fmt(r.nativeAsync, r.n)} | ${gbps} | ` +
          `${((100 * r.limitAll) / r.native).toFixed(0)}% | ${fmt(r.limitAll, r.n)} / ${fmt(r.limit1, r.n)} | ` +
          `${fmt(r.naive, r.n)} | ${fmt(r.tfjs, r.n)} | ${ratio(r.naive, r.native)} | ${ratio(r.tfjs, r.native)} |`);
        if (global.gc) global.gc();
      }
    }
  }
  out();
  out(`Against an independent limit (bench/limit.c: its own arrays and OpenMP threads, ${allThreads} threads, one ` +
    'contiguous range each; traffic = the same bytes per element with trivial arithmetic, fused = the real update ' +
    `in C). Back to back: a step right after a step; after idle: ${IDLE_MS} ms of sleep before the step, as between a ` +
    "training loop's gradient computations (step and stepAsync sampled in turn). % = the independent traffic " +
    "limit's time / the step's time, in the same pattern.");
  out();
  out('| case | dtype | variant | step ns/elem (b2b / idle) | stepAsync ns/elem (b2b / idle) | traffic limit ns/elem (b2b / idle) | fused C ns/elem (b2b / idle) | step % of limit (b2b / idle) | stepAsync % of limit (b2b / idle) |');
  out('|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const [key, r] of Object.entries(results)) {
    if (!r.independent) continue;
    const [dtype, centered, label] = key.split('/');
    const { backToBack: b, afterIdle: a, steps } = r.independent;
    const pct = (limit, step) => `${((100 * limit) / step).toFixed(0)}%`;
    const pair = (x, y) => `${fmt(x, r.n)} / ${fmt(y, r.n)}`;
    out(`| ${label} | ${dtype} | ${centered === 'true' ? 'centered' : 'plain'} | ${pair(steps.sync.b2b, steps.sync.idle)} | ` +
      `${pair(steps.async.b2b, steps.async.idle)} | ${pair(b.traffic, a.traffic)} | ${pair(b.fused, a.fused)} | ` +
      `**${pct(b.traffic, steps.sync.b2b)}** / **${pct(a.traffic, steps.sync.idle)}** | ` +
      `**${pct(b.traffic, steps.async.b2b)}** / **${pct(a.traffic, steps.async.idle)}** |`);
  }
  out();
  await flavorTable(out, allThreads);
  await perTensorTable(out, allThreads);
  await overflowTable(out, allThreads);
  await halfTable(out, allThreads);
  const small = results['float32/false/1e3'];
  const alone = await (async () => {
    const p = new Parameter(new Float32Array(1000).fill(0.5), 'w');
    const opt = new RMSProp([p], { learningRate: HYPER.lr, momentum: HYPER.momentum });
    const g = [gradient(1000, Float32Array, 0)];
    return (await measure([{ name: 'step', run: () => opt.step(g) }])).step;
  })();
  out(`One 1e3-element float32 step(): ${(small.native / 1000).toFixed(2)} µs interleaved with the other methods above, ` +
    `${(alone / 1000).toFixed(2)} µs back to back (stepAsync: ${(small.nativeAsync / 1000).toFixed(1)} µs).`);
  const lateness = await eventLoopLateness(quick ? 1e7 : 3e7);
  out(`Event loop during stepAsync of ${quick ? '1e7' : '3e7'} float32 elements (centered, ` +
    `${lateness.elapsed.toFixed(1)} ms per step): a 1 ms interval timer was at most ${lateness.worst.toFixed(2)} ms late.`);
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'latest.md'), `${lines.join('\n')}\n`);
  console.log(`\nwritten to ${path.relative(process.cwd(), path.join(dir, 'latest.md'))}`);
}

if (flag('cuda')) {
  require('./cuda').main();
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
