/**
 * The frameworks' own RMSProp tests, ported: their hard-coded numbers, parameter grids and
 * reference formulas, run on this library with the framework's flavour. Each block names its
 * upstream file and commit. (PyTorch's golden trajectories: test/peers/pytorch.test.ts.)
 */
import { Parameter, RMSProp, type Flavor, type RMSPropOptions } from '../../lib';
import type { FloatArray } from '../reference';

function param(values: number[], name = 'w'): Parameter {
  return new Parameter(new Float32Array(values), name);
}

// The largest error seen per ported file (|actual − expected| / (1 + |expected|)), printed at the
// end for the record (issue 14's note quotes it).
const worst: Record<string, number> = {};
let current = '';
function porting(name: string): void {
  beforeAll(() => {
    current = name;
    worst[name] = 0;
  });
}
afterAll(() => {
  console.log(`largest relative errors: ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): void {
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    worst[current] = Math.max(worst[current] ?? 0, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
    if (!(Math.abs(actual[i] - expected[i]) <= atol + rtol * Math.abs(expected[i]))) bad.push(`[${i}] ${actual[i]} vs ${expected[i]}`);
  }
  expect(bad).toEqual([]);
  expect(actual.length).toBe(expected.length);
}

// `_rmsprop_update_numpy`, the same in TF1's rmsprop_test.py and TF2 Keras's
// optimizer_v2/rmsprop_test.py (float64 here).
function numpyUpdate(v: number, g: number, mg: number, rms: number, mom: number, lr: number, decay: number, momentum: number, epsilon: number, centered: boolean) {
  const rmsT = rms * decay + (1 - decay) * g * g;
  let denom = rmsT + epsilon;
  let mgT = mg;
  if (centered) {
    mgT = mg * decay + (1 - decay) * g;
    denom -= mgT * mgT;
  }
  const momT = momentum * mom + (lr * g) / Math.sqrt(denom);
  return { v: v - momT, mg: mgT, rms: rmsT, mom: momT };
}

// Both tests' testDense loop: `steps` steps of `opt` on var0 = [1, 2], var1 = [3, 4] with their
// fixed gradients against the numpy update from rms = `rms0`, every slot checked after each step
// (assertAllCloseAccordingToType: float32 rtol = atol = 1e-6).
function checkAgainstNumpy(
  opt: RMSProp,
  vars: Parameter[],
  grads: Float32Array[],
  steps: number,
  rms0: number,
  lrAt: (t: number) => number,
  c: { decay: number; momentum: number; epsilon: number; centered: boolean },
): void {
  const np = vars.map((p, k) => ({ v: Array.from(p.data), g: Array.from(grads[k]), mg: [0, 0], rms: [rms0, rms0], mom: [0, 0] }));
  for (let t = 0; t < steps; t++) {
    opt.step(grads);
    vars.forEach((p, k) => {
      const n = np[k];
      for (let i = 0; i < 2; i++) {
        const r = numpyUpdate(n.v[i], n.g[i], n.mg[i], n.rms[i], n.mom[i], lrAt(t), c.decay, c.momentum, c.epsilon, c.centered);
        [n.v[i], n.mg[i], n.rms[i], n.mom[i]] = [r.v, r.mg, r.rms, r.mom];
      }
      const s = opt.state(p);
      if (c.centered) expectClose(s.meanGrad as FloatArray, n.mg, 1e-6, 1e-6);
      expectClose(s.meanSquare, n.rms, 1e-6, 1e-6);
      expectClose(s.moment, n.mom, 1e-6, 1e-6);
      expectClose(p.data, n.v, 1e-6, 1e-6);
    });
  }
}

const TEST_DENSE_GRADS = () => [new Float32Array([0.1, 0.2]), new Float32Array([0.01, 0.2])];

// tensorflow/tensorflow tensorflow/python/training/rmsprop_test.py @ c4977ca4ddbf06a175c83d6fa5d778645b38c17e
// (TF 1.x RMSPropOptimizer; float32 — the half-precision rows need float16 parameters).
describe("TF1 rmsprop_test.py, flavor 'tf1'", () => {
  porting('TF1');
  const PARAMS: [number, number, number, number, boolean][] = [
    // learning_rate, decay, momentum, epsilon, centered
    [0.5, 0.9, 0.0, 1e-3, true],
    [0.5, 0.9, 0.0, 1e-3, false],
    [0.1, 0.9, 0.0, 1e-3, true],
    [0.5, 0.95, 0.0, 1e-3, false],
    [0.5, 0.95, 0.0, 1e-5, true],
    [0.5, 0.95, 0.9, 1e-5, true],
  ];

  it.each(PARAMS)('testDense lr %p decay %p momentum %p epsilon %p centered %p: 4 steps match the numpy update', (lr, decay, momentum, epsilon, centered) => {
    const vars = [param([1, 2], 'var0'), param([3, 4], 'var1')];
    const opt = new RMSProp(vars, { flavor: 'tf1', learningRate: lr, decay, momentum, epsilon, centered });
    checkAgainstNumpy(opt, vars, TEST_DENSE_GRADS(), 4, 1, () => lr, { decay, momentum, epsilon, centered });
  });

  it('testWithoutMomentum: two steps with learning_rate 2, decay 0.9, epsilon 1', () => {
    const var0 = param([1, 2], 'var0');
    const var1 = param([3, 4], 'var1');
    const opt = new RMSProp([var0, var1], { flavor: 'tf1', learningRate: 2.0, decay: 0.9, momentum: 0.0, epsilon: 1.0 });
    const grads = [new Float32Array([0.1, 0.1]), new Float32Array([0.01, 0.01])];
    opt.step(grads);
    expectClose(opt.state(var0).meanSquare, [0.901, 0.901], 1e-6, 1e-6);
    expectClose(opt.state(var1).meanSquare, [0.90001, 0.90001], 1e-6, 1e-6);
    const d0 = (0.1 * 2.0) / Math.sqrt(0.901 + 1.0);
    const d1 = (0.01 * 2.0) / Math.sqrt(0.90001 + 1.0);
    expectClose(var0.data, [1.0 - d0, 2.0 - d0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - d1, 4.0 - d1], 1e-6, 1e-6);
    opt.step(grads);
    expectClose(opt.state(var0).meanSquare, [0.901 * 0.9 + 0.001, 0.901 * 0.9 + 0.001], 1e-6, 1e-6);
    expectClose(opt.state(var1).meanSquare, [0.90001 * 0.9 + 1e-5, 0.90001 * 0.9 + 1e-5], 1e-6, 1e-6);
    const e0 = (0.1 * 2.0) / Math.sqrt(0.901 * 0.9 + 0.001 + 1.0);
    const e1 = (0.01 * 2.0) / Math.sqrt(0.90001 * 0.9 + 1e-5 + 1.0);
    expectClose(var0.data, [1.0 - d0 - e0, 2.0 - d0 - e0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - d1 - e1, 4.0 - d1 - e1], 1e-6, 1e-6);
  });

  it('testWithMomentum: two steps with learning_rate 2, decay 0.9, momentum 0.5, epsilon 1e-5', () => {
    const var0 = param([1, 2], 'var0');
    const var1 = param([3, 4], 'var1');
    const opt = new RMSProp([var0, var1], { flavor: 'tf1', learningRate: 2.0, decay: 0.9, momentum: 0.5, epsilon: 1e-5 });
    const grads = [new Float32Array([0.1, 0.1]), new Float32Array([0.01, 0.01])];
    opt.step(grads);
    const m0 = (0.1 * 2.0) / Math.sqrt(0.901 + 1e-5);
    const m1 = (0.01 * 2.0) / Math.sqrt(0.90001 + 1e-5);
    expectClose(opt.state(var0).meanSquare, [0.901, 0.901], 1e-6, 1e-6);
    expectClose(opt.state(var1).meanSquare, [0.90001, 0.90001], 1e-6, 1e-6);
    expectClose(opt.state(var0).moment, [m0, m0], 1e-6, 1e-6);
    expectClose(opt.state(var1).moment, [m1, m1], 1e-6, 1e-6);
    expectClose(var0.data, [1.0 - m0, 2.0 - m0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - m1, 4.0 - m1], 1e-6, 1e-6);
    opt.step(grads);
    const n0 = 0.5 * m0 + (0.1 * 2.0) / Math.sqrt(0.901 * 0.9 + 0.001 + 1e-5);
    const n1 = 0.5 * m1 + (0.01 * 2.0) / Math.sqrt(0.90001 * 0.9 + 1e-5 + 1e-5);
    expectClose(opt.state(var0).meanSquare, [0.901 * 0.9 + 0.001, 0.901 * 0.9 + 0.001], 1e-6, 1e-6);
    expectClose(opt.state(var1).meanSquare, [0.90001 * 0.9 + 1e-5, 0.90001 * 0.9 + 1e-5], 1e-6, 1e-6);
    expectClose(opt.state(var0).moment, [n0, n0], 1e-6, 1e-6);
    expectClose(opt.state(var1).moment, [n1, n1], 1e-6, 1e-6);
    expectClose(var0.data, [1.0 - m0 - n0, 2.0 - m0 - n0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - m1 - n1, 4.0 - m1 - n1], 1e-6, 1e-6);
  });
});

// tensorflow/tensorflow tensorflow/python/keras/optimizer_v2/rmsprop_test.py @ 22794ef3d1a452c697952172c2f781424ddb6fc6
// (tf.keras 2, optimizer_v2: rms from 0, ε inside the root; the 'keras' flavour without weight decay).
describe("TF2 Keras optimizer_v2 rmsprop_test.py, flavor 'keras'", () => {
  porting('TF2 Keras');
  const PARAMS: [number, number, number, number, boolean][] = [
    // learning_rate, rho, momentum, epsilon, centered
    [0.05, 0.9, 0.0, 1e-3, true],
    [0.05, 0.9, 0.0, 1e-3, false],
    [0.1, 0.9, 0.0, 1e-3, true],
    [0.01, 0.9, 0.0, 1e-5, true],
    [0.01, 0.9, 0.9, 1e-5, true],
  ];
  it.each(PARAMS)('testDense lr %p rho %p momentum %p epsilon %p centered %p: 4 steps match the numpy update', (lr, rho, momentum, epsilon, centered) => {
    const vars = [param([1, 2], 'var0'), param([3, 4], 'var1')];
    const opt = new RMSProp(vars, { flavor: 'keras', learningRate: lr, decay: rho, momentum, epsilon, centered });
    checkAgainstNumpy(opt, vars, TEST_DENSE_GRADS(), 4, 0, () => lr, { decay: rho, momentum, epsilon, centered });
  });

  it('testDenseWithLearningRateDecay: lr / (1 + 0.5·t) as a learning-rate function', () => {
    const vars = [param([1, 2], 'var0'), param([3, 4], 'var1')];
    const lrAt = (t: number) => 0.01 / (1 + 0.5 * t);
    const opt = new RMSProp(vars, { flavor: 'keras', learningRate: lrAt, decay: 0.9, momentum: 0, epsilon: 1e-7 });
    checkAgainstNumpy(opt, vars, TEST_DENSE_GRADS(), 2, 0, lrAt, { decay: 0.9, momentum: 0, epsilon: 1e-7, centered: false });
  });

  // testMinimizeSparseResourceVariable (epsilon 0) is not ported: this library's epsilon is > 0.
  it('testMinimizeSparseResourceVariableCentered: one step of (x·[4, 5])² from [1, 2] with rho 0, epsilon 1', () => {
    for (const Type of [Float32Array, Float64Array]) {
      const var0 = new Parameter(new Type([1, 2]), 'var0', { shape: [1, 2] });
      const opt = new RMSProp([var0], { flavor: 'keras', learningRate: 1.0, decay: 0, momentum: 0, epsilon: 1.0, centered: true });
      const pred = var0.data[0] * 4 + var0.data[1] * 5;
      opt.step([new Type([2 * pred * 4, 2 * pred * 5])]);
      expectClose(var0.data, [-111, -138], 0, 0.01);
    }
  });

  it('testCallableParams: two steps with learning_rate 2, rho 0.9, epsilon 1', () => {
    const var0 = param([1, 2], 'var0');
    const var1 = param([3, 4], 'var1');
    const opt = new RMSProp([var0, var1], { flavor: 'keras', learningRate: () => 2.0, decay: 0.9, momentum: 0, epsilon: 1.0 });
    const grads = [new Float32Array([0.1, 0.1]), new Float32Array([0.01, 0.01])];
    opt.step(grads);
    const d0 = (0.1 * 2.0) / Math.sqrt(0.001 + 1.0);
    const d1 = (0.01 * 2.0) / Math.sqrt(0.00001 + 1.0);
    expectClose(var0.data, [1.0 - d0, 2.0 - d0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - d1, 4.0 - d1], 1e-6, 1e-6);
    opt.step(grads);
    const e0 = (0.1 * 2.0) / Math.sqrt(0.001 * 0.9 + 0.001 + 1.0);
    const e1 = (0.01 * 2.0) / Math.sqrt(0.00001 * 0.9 + 1e-5 + 1.0);
    expectClose(var0.data, [1.0 - d0 - e0, 2.0 - d0 - e0], 1e-6, 1e-6);
    expectClose(var1.data, [3.0 - d1 - e1, 4.0 - d1 - e1], 1e-6, 1e-6);
  });
});

// keras-team/keras keras/src/optimizers/rmsprop_test.py @ ac2ee342b119221090e464edc0d3344289f48741 (Keras 3).
describe("Keras 3 rmsprop_test.py, flavor 'keras'", () => {
  porting('Keras 3');
  it('test_single_step', () => {
    const vars = param([1.0, 2.0, 3.0, 4.0]);
    new RMSProp([vars], { flavor: 'keras', learningRate: 0.5 }).step([new Float32Array([1.0, 6.0, 7.0, 2.0])]);
    expectClose(vars.data, [-0.5811, 0.4189, 1.4189, 2.4189], 1e-4, 1e-4);
  });

  it('test_weight_decay: three optimizers (wd 0.004, lr 1) decay var1 three times; the excluded ones stay', () => {
    // exclude_from_weight_decay: here a group without weightDecay (this library's per-group decay).
    const var1 = new Parameter(new Float32Array([2.0]), 'var1');
    const var2 = new Parameter(new Float32Array([2.0]), 'exclude');
    const var3 = new Parameter(new Float32Array([2.0]), 'var3');
    const zero = new Float32Array([0]);
    const options: RMSPropOptions = { flavor: 'keras', learningRate: 1.0, weightDecay: 0.004 };
    new RMSProp([var1], options).step([zero]);
    new RMSProp([{ params: [var1] }, { params: [var2], weightDecay: 0 }], options).step([zero, zero]);
    new RMSProp([{ params: [var1] }, { params: [var3], weightDecay: 0 }], options).step([zero, zero]);
    expect(var1.data[0]).toBeCloseTo(1.9760959, 6);
    expect(var2.data[0]).toBeCloseTo(2.0, 6);
    expect(var3.data[0]).toBeCloseTo(2.0, 6);
  });

  it('test_correctness_with_golden: centered, default hyper-parameters, 5 steps', () => {
    const x = new Parameter(new Float32Array(10).fill(1), 'x');
    const opt = new RMSProp([x], { flavor: 'keras', centered: true });
    const grads = Float32Array.from({ length: 10 }, (_, i) => 0.1 * (i + 1));
    const golden = [0.9967, 0.9933, 0.9908, 0.9885, 0.9864];
    opt.step([new Float32Array(10).fill(0.01)]);
    for (let i = 0; i < 5; i++) {
      expectClose(x.data, new Array(10).fill(golden[i]), 5e-4, 5e-4);
      opt.step([grads]);
    }
  });
});

// tensorflow/tfjs tfjs-core/src/optimizers/rmsprop_optimizer_test.ts @ 90b1359bafb18dc336048b335a96cb0f03339b84.
describe("tfjs rmsprop_optimizer_test.ts, flavor 'tfjs'", () => {
  porting('tfjs');
  // minimize(f) with f = Σ x²: one step with the gradient 2x; returns the cost before the step.
  function minimize(opt: RMSProp, x: Parameter): number {
    const xs = Array.from(x.data);
    const cost = xs.reduce((a, v) => a + v * v, 0);
    opt.step([Float32Array.from(xs, (v) => 2 * v)]);
    return cost;
  }
  // expectArraysClose's default tolerance for float32 (tfjs test_util: 1e-3).
  const TOL = 1e-3;

  it('basic', () => {
    const x = param([1, 2]);
    const opt = new RMSProp([x], { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1 });
    minimize(opt, x);
    expectClose(x.data, [0.55279, 1.55279], 0, TOL);
    minimize(opt, x);
    expectClose(x.data, [0.28745, 1.222943], 0, 1e-2); // as upstream ("TODO: Fix numerical precision")
  });

  it('gradient with centered momentum', () => {
    const x = param([1, 2]);
    const opt = new RMSProp([x], { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1, epsilon: 1e-8, centered: true });
    minimize(opt, x);
    expectClose(x.data, [0.54117, 1.541169], 0, TOL);
    minimize(opt, x);
    expectClose(x.data, [0.267785, 1.2035924], 0, 1e-2);
  });

  it('Save and load weights: centered = false (state carried over in a state dict)', () => {
    const x = param([1, 2]);
    const opt1 = new RMSProp([x], { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1 });
    expect(minimize(opt1, x)).toBeCloseTo(5, 3);
    expectClose(x.data, [0.5527865, 1.5527864], 0, TOL);
    const opt2 = new RMSProp([x], { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1 });
    opt2.loadStateDict(opt1.stateDict());
    expect(minimize(opt2, x)).toBeCloseTo(2.7167187, 3);
    expectClose(x.data, [0.2874418, 1.2294267], 0, TOL);
    expect(opt2.globalStep).toBe(2);
  });

  it('Save, load weights and continue training: centered = true', () => {
    const x = param([1, 2]);
    const options: RMSPropOptions = { flavor: 'tfjs', learningRate: 0.1, decay: 0.95, momentum: 0.1, centered: true };
    const opt1 = new RMSProp([x], options);
    expect(minimize(opt1, x)).toBeCloseTo(5, 3);
    expectClose(x.data, [0.5411684, 1.5411685], 0, TOL);
    const opt2 = new RMSProp([x], options);
    opt2.loadStateDict(opt1.stateDict());
    expect(minimize(opt2, x)).toBeCloseTo(2.668063, 3);
    expectClose(x.data, [0.2677834, 1.2035918], 0, TOL);
    expect(opt2.globalStep).toBe(2);
    const opt3 = new RMSProp([x], options);
    opt3.loadStateDict(opt2.stateDict());
    expect(minimize(opt3, x)).toBeCloseTo(1.520341, 3);
    expect(opt3.globalStep).toBe(3);
  });

  it('must define learning rate', () => {
    expect(() => new RMSProp([param([1])], { flavor: 'tfjs' })).toThrow(/'learningRate' is required with flavor 'tfjs'/);
  });
});

// google-deepmind/optax optax/_src/alias_test.py @ 47fe6554e5567201ac246292ffd00aec480f4b65:
// test_optimization for rmsprop (learning_rate 5e-3, with and without momentum 0.9), float32.
describe("optax alias_test.py test_optimization, flavor 'optax'", () => {
  porting('optax');
  const targets = {
    parabola: {
      initial: [-1.0, 10.0, 1.0],
      final: [1.0, -1.0, 1.0],
      grad: (p: FloatArray) => Float32Array.from(p, (v, i) => 2 * (v - [1.0, -1.0, 1.0][i])),
    },
    rosenbrock: {
      initial: [0.0, 0.0],
      final: [1.0, 1.0],
      grad: (p: FloatArray) => {
        const [x, y] = [p[0], p[1]];
        return new Float32Array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)]);
      },
    },
  };
  const kwargs: [string, RMSPropOptions][] = [
    ['learning_rate=5e-3', { learningRate: 5e-3 }],
    ['learning_rate=5e-3, momentum=0.9', { learningRate: 5e-3, momentum: 0.9 }],
  ];
  describe.each(kwargs)('rmsprop(%s)', (_, options) => {
    it.each(Object.keys(targets) as (keyof typeof targets)[])('%s: 10000 steps reach the optimum (rtol = atol = 3e-2)', (name) => {
      const t = targets[name];
      const p = param(t.initial);
      const opt = new RMSProp([p], { flavor: 'optax' as Flavor, ...options });
      for (let k = 0; k < 10000; k++) opt.step([t.grad(p.data)]);
      expectClose(p.data, t.final, 3e-2, 3e-2);
    });
  });
});
