/**
 * The mutations that survived issue 28's audit (one-line changes no test caught), each with a
 * test that fails on it, on every SIMD level where the code is per level.
 */
import { DynamicLossScaler, Parameter, RMSProp, type RMSPropOptions } from '../lib';
import { binding } from '../lib/native/native';
import { onLevel } from './helpers';

const LEVELS = binding.supportedSimdLevels();

const N = 37; // every vector width and a tail
const wave = (i: number, k: number) => Math.fround(0.3 * Math.sin(1.7 * i + k) + 0.05);

// One element of the flavour knobs' update in float64 (docs/semantics.md §1 and §9), from s, m, w.
function reference(o: { lr: number; rho: number; beta: number; eps: number; wd: number; decoupled: boolean; maximize: boolean; nesterov: boolean; lrIn: boolean }, x: { w: number; s: number; m: number }, gIn: number) {
  let w = x.w;
  let g = o.maximize ? -gIn : gIn;
  if (o.decoupled) w = w - o.lr * o.wd * w;
  else g = g + o.wd * w;
  const s = o.rho * x.s + (1 - o.rho) * g * g;
  const sigma = Math.sqrt(s + o.eps);
  const q = g / sigma;
  const m = o.beta * x.m + (o.lrIn ? o.lr * q : q);
  const move = o.nesterov ? o.beta * m + (o.lrIn ? o.lr * q : q) : m;
  return { w: w - (o.lrIn ? move : o.lr * move), s, m };
}

describe.each(LEVELS)('on %s', (level) => {
  const cases: [string, RMSPropOptions, Parameters<typeof reference>[0]][] = [
    [
      'maximize with decoupled weight decay: the decay still shrinks w (its sign is not flipped)',
      { learningRate: 0.05, decay: 0.9, momentum: 0.5, epsilon: 1e-7, weightDecay: 0.2, weightDecayMode: 'decoupled', maximize: true, initialMeanSquare: 0 },
      { lr: 0.05, rho: 0.9, beta: 0.5, eps: 1e-7, wd: 0.2, decoupled: true, maximize: true, nesterov: false, lrIn: true },
    ],
    [
      'nesterov with the learning rate outside the momentum: w moves by η·(β·m + g/σ)',
      { learningRate: 0.05, decay: 0.9, momentum: 0.7, epsilon: 1e-7, nesterov: true, lrInMomentum: false, initialMeanSquare: 0 },
      { lr: 0.05, rho: 0.9, beta: 0.7, eps: 1e-7, wd: 0, decoupled: false, maximize: false, nesterov: true, lrIn: false },
    ],
    [
      'nesterov with maximize and coupled weight decay, the learning rate inside',
      { learningRate: 0.05, decay: 0.9, momentum: 0.7, epsilon: 1e-7, nesterov: true, maximize: true, weightDecay: 0.1, initialMeanSquare: 0, flavor: 'optax' },
      { lr: 0.05, rho: 0.9, beta: 0.7, eps: 1e-7, wd: 0.1, decoupled: false, maximize: true, nesterov: true, lrIn: true },
    ],
  ];
  test.each(cases)('%s', (_, options, o) => {
    onLevel(level, () => {
      const p = new Parameter(new Float32Array(N).map((_, i) => 1 + wave(i, 9)), 'w');
      const opt = new RMSProp([p], options);
      let x = Array.from({ length: N }, (_, i) => ({ w: p.data[i], s: 0, m: 0 }));
      for (let k = 0; k < 3; k++) {
        const g = new Float32Array(N).map((_, i) => wave(i, k));
        opt.step([g]);
        x = x.map((e, i) => reference(o, e, g[i]));
        const state = opt.state(p);
        for (let i = 0; i < N; i++) {
          expect(Math.abs(p.data[i] - x[i].w)).toBeLessThanOrEqual(2e-6 * (Math.abs(x[i].w) + 1));
          // Relative to the terms that form m (β·m and the step's η·g/σ or g/σ, ~η or ~1): docs/semantics.md §2.
          expect(Math.abs(state.moment[i] - x[i].m)).toBeLessThanOrEqual(2e-6 * (Math.abs(x[i].m) + (o.lrIn ? o.lr : 1)));
        }
      }
    });
  });

  test('the centered guard at exactly d = 0: m and w keep their values (s and ḡ still update)', () => {
    onLevel(level, () => {
      // ρ = 0.5, ε = 0.25, s0 = 1.5, ḡ0 = 2, g = 0: s = 0.75, ḡ = 1, d = 0.75 − 1 + 0.25 = 0 exactly.
      const p = new Parameter(new Float32Array(N).fill(3), 'w');
      const opt = new RMSProp([p], { learningRate: 0.1, decay: 0.5, momentum: 0.5, epsilon: 0.25, centered: true });
      const state = opt.state(p);
      state.meanSquare.fill(1.5);
      state.meanGrad!.fill(2);
      state.moment.fill(0.125);
      opt.step([new Float32Array(N)]);
      expect(Array.from(p.data)).toEqual(new Array(N).fill(3));
      expect(Array.from(state.moment)).toEqual(new Array(N).fill(0.125));
      expect(Array.from(state.meanSquare)).toEqual(new Array(N).fill(0.75));
      expect(Array.from(state.meanGrad!)).toEqual(new Array(N).fill(1));
    });
  });

  test.each([
    ['float16 gradients (inf bits)', 'float16', () => new Uint16Array(N).fill(0x3c00).map((v, i) => (i === N - 1 ? 0x7c00 : v))],
    ['float16 gradients (NaN bits, first element)', 'float16', () => new Uint16Array(N).fill(0x3c00).map((v, i) => (i === 0 ? 0x7e00 : v))],
    ['float32 gradients of a float16 tensor (NaN)', 'float16', () => new Float32Array(N).fill(1).map((v, i) => (i === N - 1 ? NaN : v))],
    ['float32 gradients of a bfloat16 tensor (inf)', 'bfloat16', () => new Float32Array(N).fill(1).map((v, i) => (i === 17 ? Infinity : v))],
    ['bfloat16 gradients (inf bits)', 'bfloat16', () => new Uint16Array(N).fill(0x3f80).map((v, i) => (i === 5 ? 0x7f80 : v))],
  ] as const)('skipNonFinite sees a non-finite value in %s: nothing changes', (_, dtype, grad) => {
    onLevel(level, () => {
      const one = dtype === 'float16' ? 0x3c00 : 0x3f80;
      const p = new Parameter(new Uint16Array(N).fill(one), 'w', { dtype });
      const opt = new RMSProp([p], { learningRate: 0.1, skipNonFinite: true, masterWeights: true });
      const before = JSON.stringify([Array.from(p.data), Array.from(opt.state(p).meanSquare), Array.from(opt.state(p).master!)]);
      expect(opt.step([grad()])).toBe(false);
      expect(JSON.stringify([Array.from(p.data), Array.from(opt.state(p).meanSquare), Array.from(opt.state(p).master!)])).toBe(before);
      expect(opt.globalStep).toBe(0);
      // And the same gradients made finite step.
      const g = grad();
      const finite = g instanceof Uint16Array ? g.map((v) => ((v & 0x7fff) >= (dtype === 'float16' ? 0x7c00 : 0x7f80) ? one : v)) : g.map((v) => (Number.isFinite(v) ? v : 1));
      expect(opt.step([finite])).toBe(true);
    });
  });
});

test("an empty PyTorch state into a flavour whose initial mean square is 1: the mean square starts at 1 (that flavour's fresh state)", () => {
  const p = new Parameter(new Float32Array([1, 2]), 'w');
  const opt = new RMSProp([p], { learningRate: 0.1 }); // mindspore: s starts at 1
  opt.step([new Float32Array([0.5, 0.5])]);
  opt.loadStateDict({ state: {}, param_groups: [{ params: [0] }] }, { format: 'pytorch' });
  expect(Array.from(opt.state(p).meanSquare)).toEqual([1, 1]);
  expect(Array.from(opt.state(p).moment)).toEqual([0, 0]);
  expect(opt.globalStep).toBe(0);
});

test("the tfjs layout centered with momentum 0: '<name>/rms', '<name>/momentum' (tfjs keeps it) and '<name>/mg', read back", () => {
  const p = new Parameter(new Float32Array([1, 2]), 'dense/w');
  const opt = new RMSProp([p], { flavor: 'tfjs', learningRate: 0.1, centered: true });
  opt.step([new Float32Array([0.5, -0.25])]);
  const out = opt.stateDict({ format: 'tfjs' }) as Record<string, { data: Float32Array } | number>;
  expect(Object.keys(out)).toEqual(['iter', 'dense/w/rms', 'dense/w/momentum', 'dense/w/mg']);
  const q = new Parameter(new Float32Array([1, 2]), 'dense/w');
  const back = new RMSProp([q], { flavor: 'tfjs', learningRate: 0.1, centered: true });
  back.loadStateDict(out);
  expect(Array.from(back.state(q).meanGrad!)).toEqual(Array.from(opt.state(p).meanGrad!));
  expect(Array.from(back.state(q).moment)).toEqual(Array.from(opt.state(p).moment));
  expect(back.globalStep).toBe(1);
});

test('after loadState with a dynamic scaler, the next steps use the restored scale (parameters equal an uninterrupted run)', async () => {
  const os = await import('node:os');
  const path = await import('node:path');
  const fs = await import('node:fs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rmsprop-audit-'));
  try {
    const scaler = new DynamicLossScaler({ initLossScale: 1024, scaleWindow: 1 });
    const make = () => {
      const p = new Parameter(new Float32Array([1, -2, 3]), 'w');
      return { p, opt: new RMSProp([p], { learningRate: 0.01, lossScale: scaler, weightDecay: 0.1, flavor: 'pytorch' }) };
    };
    const grad = (k: number, scale: number) => new Float32Array([0.1, -0.2, 0.3]).map((v) => v * (k + 1) * scale);
    const whole = make();
    for (let k = 0; k < 4; k++) whole.opt.step([grad(k, whole.opt.lossScale)]);
    const first = make();
    for (let k = 0; k < 2; k++) first.opt.step([grad(k, first.opt.lossScale)]);
    const file = path.join(dir, 'state.safetensors');
    await first.opt.saveState(file);
    const resumed = make();
    resumed.p.data.set(first.p.data);
    await resumed.opt.loadState(file);
    expect(resumed.opt.lossScale).toBe(first.opt.lossScale);
    for (let k = 2; k < 4; k++) resumed.opt.step([grad(k, resumed.opt.lossScale)]);
    expect(Array.from(resumed.p.data)).toEqual(Array.from(whole.p.data));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.each(LEVELS)('decoupled weight decay in Keras 3\'s order, on %s', (level) => {
  test('w − (w·wd)·η per element, bit for bit (base_optimizer._apply_weight_decay: variable - variable * wd * lr)', () => {
    onLevel(level, () => {
      const f32 = Math.fround;
      const n = 1000;
      const p = new Parameter(new Float32Array(n).map((_, i) => f32(Math.sin(i * 0.37) * 3)), 'w');
      const before = Float32Array.from(p.data);
      // A zero gradient moves nothing else: only the decay acts. Large η·wd, where the order shows.
      const opt = new RMSProp([p], { flavor: 'keras', learningRate: 0.7, weightDecay: 0.9 });
      opt.step([new Float32Array(n)]);
      const lr = f32(0.7);
      const wd = f32(0.9);
      for (let i = 0; i < n; i++) expect([i, p.data[i]]).toEqual([i, f32(before[i] - f32(f32(before[i] * wd) * lr))]);
    });
  });
});
