/**
 * The native step against the float64 reference of docs/semantics.md, on every SIMD level this
 * machine supports: every vector width and tail, odd subarray offsets, float32 and float64,
 * plain and centered, with and without momentum, weight decay and loss scale, multi-step.
 */
import { Parameter, RMSProp } from '../lib';
import { binding } from '../lib/native/native';
import { mismatches, random, referenceStep, uniform, type Dtype, type FloatArray, type Hyper } from './reference';

const LEVELS = binding.supportedSimdLevels();
const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 64, 1000, 65537, (1 << 20) + 3];
const GUARD = 12345.5; // written around each subarray: must survive every step

interface Case {
  dtype: Dtype;
  n: number;
  centered: boolean;
  momentum: number;
  weightDecay: number;
  lossScale: number;
  epsilon: number;
  steps: number;
  seed: number;
}

/** A view at an element offset of 1 (unaligned for every vector width) with guards around it. */
function offsetView(dtype: Dtype, values: FloatArray): FloatArray {
  const backing = dtype === 'float32' ? new Float32Array(values.length + 3) : new Float64Array(values.length + 3);
  backing.fill(GUARD);
  const view = backing.subarray(1, 1 + values.length);
  view.set(values);
  return view;
}

function expectGuardsIntact(view: FloatArray): void {
  const backing = view.constructor === Float32Array
    ? new Float32Array(view.buffer)
    : new Float64Array(view.buffer);
  const first = view.byteOffset / view.BYTES_PER_ELEMENT;
  expect(backing[first - 1]).toBe(GUARD);
  expect(backing[first + view.length]).toBe(GUARD);
  expect(backing[first + view.length + 1]).toBe(GUARD);
}

function sameBits(a: FloatArray, b: FloatArray): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ArrayLike<number>): void {
  const bad = mismatches(actual, expected, tol);
  if (bad.length > 0) {
    const i = bad[0];
    throw new Error(
      `${what}: ${bad.length} element(s) off; first at ${i}: got ${actual[i]}, expected ${expected[i]} ± ${tol[i]}`,
    );
  }
}

function runCase(c: Case): void {
  const rand = random(c.seed);
  const param = new Parameter(offsetView(c.dtype, uniform(c.dtype, c.n, rand, -2, 2)), 'layer.weight');
  const lr = 0.001 + 0.1 * rand();
  const opt = new RMSProp([param], {
    learningRate: lr,
    decay: 0.9,
    momentum: c.momentum,
    epsilon: c.epsilon,
    centered: c.centered,
    weightDecay: c.weightDecay,
    lossScale: c.lossScale,
  });
  const state = opt.state(param);
  state.meanSquare.set(uniform(c.dtype, c.n, rand, 0.5, 2));
  state.moment.set(uniform(c.dtype, c.n, rand, -0.1, 0.1));
  state.meanGrad?.set(uniform(c.dtype, c.n, rand, -0.3, 0.3));
  const hyper: Hyper = {
    lr,
    decay: 0.9,
    momentum: c.momentum,
    epsilon: c.epsilon,
    lossScale: c.lossScale,
    weightDecay: c.weightDecay > 0 ? c.weightDecay : null,
    centered: c.centered,
  };
  for (let step = 0; step < c.steps; step++) {
    const grad = offsetView(c.dtype, uniform(c.dtype, c.n, rand, -c.lossScale, c.lossScale));
    const gradCopy = grad.slice();
    const before = {
      param: param.data.slice(),
      meanSquare: state.meanSquare.slice(),
      moment: state.moment.slice(),
      meanGrad: state.meanGrad?.slice(),
    };
    const expected = referenceStep(c.dtype, hyper, before, grad);
    expect(opt.step([grad])).toBe(true);
    const at = `step ${step}`;
    expectClose(`${at} param`, param.data, expected.param, expected.tol.param);
    expectClose(`${at} meanSquare`, state.meanSquare, expected.meanSquare, expected.tol.meanSquare);
    expectClose(`${at} moment`, state.moment, expected.moment, expected.tol.moment);
    if (c.centered) expectClose(`${at} meanGrad`, state.meanGrad!, expected.meanGrad!, expected.tol.meanGrad!);
    expect(sameBits(grad, gradCopy)).toBe(true); // gradients are never modified
    expectGuardsIntact(param.data);
    expectGuardsIntact(grad);
  }
  expect(opt.globalStep).toBe(c.steps);
}

describe.each(LEVELS)('SIMD level %s', (level) => {
  const initial = binding.simdLevel();
  beforeAll(() => expect(binding.setSimdLevel(level)).toBe(true));
  afterAll(() => binding.setSimdLevel(initial));

  it('is the level in use', () => {
    expect(binding.simdLevel()).toBe(level);
  });

  describe.each(['float32', 'float64'] as const)('%s', (dtype) => {
    describe.each([false, true])('centered=%s', (centered) => {
      it.each(SIZES)('matches the reference for %i elements (unaligned views)', (n) => {
        runCase({ dtype, n, centered, momentum: 0, weightDecay: 0, lossScale: 1, epsilon: 1e-10, steps: 1, seed: n });
        runCase({ dtype, n, centered, momentum: 0.9, weightDecay: 0.01, lossScale: 128, epsilon: 1e-3, steps: 1, seed: n + 7 });
      });

      it('follows a 6-step trajectory with momentum, weight decay and loss scale', () => {
        runCase({ dtype, n: 1003, centered, momentum: 0.5, weightDecay: 0.05, lossScale: 4, epsilon: 1e-6, steps: 6, seed: 99 });
      });
    });

    it('applies the centered guard: where s − ḡ² + ε ≤ 0 or NaN, moment and weight keep their values', () => {
      const n = 19; // a full vector and a tail on every level
      const param = new Parameter(dtype === 'float32' ? new Float32Array(n).fill(1) : new Float64Array(n).fill(1), 'w');
      const opt = new RMSProp([param], { centered: true, learningRate: 0.1, momentum: 0.9, epsilon: 1e-8 });
      const state = opt.state(param);
      // Even elements: s tiny and ḡ large, so d = s − ḡ² + ε < 0. Odd elements: healthy.
      for (let i = 0; i < n; i++) {
        state.meanSquare[i] = i % 2 === 0 ? 0.001 : 1;
        state.meanGrad![i] = i % 2 === 0 ? 0.5 : 0;
        state.moment[i] = 0.25;
      }
      state.meanSquare[n - 1] = NaN; // NaN denominator: guarded too
      const grad = dtype === 'float32' ? new Float32Array(n).fill(0.01) : new Float64Array(n).fill(0.01);
      opt.step([grad]);
      for (let i = 0; i < n; i++) {
        const guarded = i % 2 === 0;
        expect(state.moment[i] === 0.25).toBe(guarded);
        expect(param.data[i] === 1).toBe(guarded);
        // ḡ and s update whether or not the guard holds.
        if (i < n - 1) {
          expect(state.meanGrad![i]).toBeCloseTo(i % 2 === 0 ? 0.9 * 0.5 + 0.1 * 0.01 : 0.1 * 0.01, 6);
        }
      }
      expect(Number.isNaN(state.meanSquare[n - 1])).toBe(true);
    });
  });

  it('handles edge values exactly: overflowing g², NaN gradients, denormal denominators', () => {
    const n = 32; // full registers on every level, so edge lanes share registers with normal ones
    const param = new Parameter(new Float32Array(n).fill(1), 'w');
    const opt = new RMSProp([param], { centered: true, momentum: 0.9, learningRate: 0.1, epsilon: 1e-44 });
    const state = opt.state(param);
    state.moment.fill(0.25);
    const grad = new Float32Array(n).fill(0.1);
    grad[3] = 3e19; // g² overflows float32: s = inf, so g/√d = 0 and m = β·m
    grad[5] = NaN; // s and ḡ become NaN; d is NaN, so the guard keeps m and w
    grad[7] = 1e-30; // with s denormal below, d = s − ḡ² + ε is denormal
    state.meanSquare[7] = 1e-39;
    const before = { param: param.data.slice(), meanSquare: state.meanSquare.slice(), moment: state.moment.slice(), meanGrad: state.meanGrad!.slice() };
    const hyper: Hyper = { lr: 0.1, decay: 0.9, momentum: 0.9, epsilon: 1e-44, lossScale: 1, weightDecay: null, centered: true };
    const expected = referenceStep('float32', hyper, before, grad);
    opt.step([grad]);
    expect(state.meanSquare[3]).toBe(Infinity);
    expect(state.moment[3]).toBe(Math.fround(0.9 * 0.25));
    expect(param.data[3]).toBe(Math.fround(1 - Math.fround(0.9 * 0.25)));
    expect(Number.isNaN(state.meanSquare[5]) && Number.isNaN(state.meanGrad![5])).toBe(true);
    expect([state.moment[5], param.data[5]]).toEqual([0.25, 1]);
    expect(state.meanSquare[7]).toBeLessThan(1.1754943508222875e-38); // still denormal
    const others = [...Array(n).keys()].filter((i) => i !== 3 && i !== 5);
    for (const [actual, want, tol] of [
      [param.data, expected.param, expected.tol.param],
      [state.moment, expected.moment, expected.tol.moment],
    ] as const) {
      const bad = mismatches(others.map((i) => actual[i]), others.map((i) => want[i]), others.map((i) => tol[i]));
      expect(bad).toEqual([]);
    }
    expect(state.moment[7]).toBeGreaterThan(1e-13); // lr·g/√d with d ≈ 9e-40, not 0 or NaN
  });

  it('gives bit-identical results however the elements are split across parameters', () => {
    const n = 1000;
    const rand = random(5);
    const whole = uniform('float32', n, rand, -1, 1);
    const grad = uniform('float32', n, rand, -1, 1);
    const one = new Parameter(whole.slice(), 'one');
    const cuts = [13, 400, 401, 999];
    const pieces: Parameter[] = [];
    let from = 0;
    for (const to of [...cuts, n]) {
      pieces.push(new Parameter(whole.slice(from, to), `piece${from}`));
      from = to;
    }
    const single = new RMSProp([one], { centered: true, momentum: 0.9 });
    const split = new RMSProp(pieces, { centered: true, momentum: 0.9 });
    for (let step = 0; step < 3; step++) {
      single.step([grad]);
      from = 0;
      split.step(pieces.map((p) => {
        const g = grad.subarray(from, from + p.size);
        from += p.size;
        return g;
      }));
    }
    const joined = new Float32Array(n);
    from = 0;
    for (const p of pieces) {
      joined.set(p.data, from);
      from += p.size;
    }
    expect(sameBits(joined, one.data)).toBe(true);
  });
});

describe('across SIMD levels', () => {
  it('every level agrees with every other within the tolerance', () => {
    const initial = binding.simdLevel();
    const results: Record<string, Float32Array> = {};
    try {
      for (const level of LEVELS) {
        binding.setSimdLevel(level);
        const rand = random(11);
        const p = new Parameter(uniform('float32', 777, rand, -1, 1), 'w');
        const opt = new RMSProp([p], { centered: true, momentum: 0.9, learningRate: 0.01 });
        opt.step([uniform('float32', 777, rand, -1, 1) as Float32Array]);
        results[level] = p.data as Float32Array;
      }
    } finally {
      binding.setSimdLevel(initial);
    }
    const scalar = results.scalar;
    for (const level of LEVELS) {
      for (let i = 0; i < scalar.length; i++) {
        expect(Math.abs(results[level][i] - scalar[i])).toBeLessThanOrEqual(4e-6 * (Math.abs(scalar[i]) + 0.1));
      }
    }
  });
});
