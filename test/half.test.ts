/**
 * Half-precision parameters (float16, bfloat16): float32 state and math, one rounding of the
 * result to the parameter's dtype (to nearest, ties to even), on every SIMD level. The rounding
 * and decoding here are this test's own (the nearest representable value found from the format's
 * exponent and precision), independent of lib/base/half.ts and the native conversions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DynamicLossScaler, Parameter, RMSProp, Tensor, ValueError } from '../lib';
import { binding } from '../lib/native/native';
import { random, referenceStep, type Hyper } from './reference';

type Half = 'float16' | 'bfloat16';
const LEVELS = binding.supportedSimdLevels();
const INITIAL = binding.simdLevel();
const FORMAT = {
  float16: { mantissa: 10, emin: -14, emax: 15, bias: 15, exponentBits: 5 },
  bfloat16: { mantissa: 7, emin: -126, emax: 127, bias: 127, exponentBits: 8 },
} as const;

/** The value of a 16-bit pattern, from the format's fields. */
function decode(bits: number, dtype: Half): number {
  const f = FORMAT[dtype];
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> f.mantissa) & ((1 << f.exponentBits) - 1);
  const mantissa = bits & ((1 << f.mantissa) - 1);
  if (exponent === (1 << f.exponentBits) - 1) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** (f.emin - f.mantissa);
  return sign * (1 + mantissa / 2 ** f.mantissa) * 2 ** (exponent - f.bias);
}

/** x rounded to the format, to nearest with ties to even (as a number; ±Infinity past the largest finite). */
/**
 * The exact midpoint between finite value v and the next representable value away from zero: v
 * plus half an ulp of v's binade (subnormals: of the smallest normal binade). Ties of both
 * parities: v's last mantissa bit may be 0 (the tie rounds to v) or 1 (it rounds away).
 */
function tieAbove(v: number, dtype: Half): number {
  const f = FORMAT[dtype];
  if (v === 0) return 2 ** (f.emin - f.mantissa - 1);
  let e = Math.floor(Math.log2(Math.abs(v)));
  if (2 ** e > Math.abs(v)) e -= 1;
  if (2 ** (e + 1) <= Math.abs(v)) e += 1;
  return v + Math.sign(v) * 2 ** (Math.max(e, f.emin) - f.mantissa - 1);
}

function round(x: number, dtype: Half): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const f = FORMAT[dtype];
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1;
  if (2 ** (e + 1) <= a) e += 1;
  const ulp = 2 ** (Math.max(e, f.emin) - f.mantissa);
  const k = Math.floor(a / ulp);
  const rest = a / ulp - k;
  const q = rest > 0.5 || (rest === 0.5 && k % 2 === 1) ? k + 1 : k;
  const value = q * ulp;
  const largest = (2 - 2 ** -f.mantissa) * 2 ** f.emax;
  return Math.sign(x) * (value > largest ? Infinity : value);
}

function bitsOf(values: ArrayLike<number>, dtype: Half): Uint16Array {
  // Through the library's constructor (numbers → bits); checked against `round` in a test below.
  return new Parameter<Uint16Array>(Array.from(values), 'tmp', { dtype }).data;
}

function atLevels(body: (level: string) => void): void {
  for (const level of LEVELS) {
    expect(binding.setSimdLevel(level)).toBe(true);
    try {
      body(level);
    } finally {
      binding.setSimdLevel(INITIAL);
    }
  }
}

describe('half-precision tensors', () => {
  it('take a dtype: Uint16Array bits need one; numbers are rounded to it; errors name the argument', () => {
    const t = new Tensor(new Uint16Array([0x3c00, 0xc000]), [2], { dtype: 'float16' });
    expect(t.dtype).toBe('float16');
    expect(new Parameter(new Uint16Array([0x3f80]), 'b', { dtype: 'bfloat16' }).dtype).toBe('bfloat16');
    expect(() => new Tensor(new Uint16Array(2))).toThrow(TypeError);
    expect(() => new Parameter(new Uint16Array(2), 'w')).toThrow(/'dtype' must be 'float16' or 'bfloat16' for a Uint16Array/);
    expect(() => new Parameter(new Uint16Array(2), 'w', { dtype: 'float32' })).toThrow(TypeError);
    expect(() => new Parameter(new Float32Array(2), 'w', { dtype: 'float16' })).toThrow(/'dtype' must be 'float32'/);
    expect(() => new Parameter([1], 'w', { dtype: 'half' as never })).toThrow(ValueError);
    expect(() => new Parameter([1], 'w', { dtype: 16 as never })).toThrow(TypeError);
    expect(Array.from(new Parameter([1, -2, 65504, 1e6], 'w', { dtype: 'float16' }).data)).toEqual([0x3c00, 0xc000, 0x7bff, 0x7c00]);
    expect(new Parameter([1, 2], 'w', { dtype: 'float64' }).data).toBeInstanceOf(Float64Array);
  });

  it('number → bits agrees with this test\'s rounding (ties, subnormals, overflow, NaN)', () => {
    const rand = random(5);
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const f = FORMAT[dtype];
      const values: number[] = [0, -0, 1, 2 ** (f.emin - f.mantissa), 2 ** (f.emin - f.mantissa - 1), 3 * 2 ** (f.emin - f.mantissa - 1)];
      for (let i = 0; i < 2000; i++) values.push(Math.fround((rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 20)));
      for (let i = 0; i < 400; i++) values.push(tieAbove(decode(Math.floor(rand() * 0x7bff), dtype), dtype)); // exact ties, both parities
      const bits = bitsOf(values, dtype);
      values.forEach((x, i) => expect([i, decode(bits[i], dtype)]).toEqual([i, round(x, dtype)]));
    }
    expect(bitsOf([NaN], 'float16')[0] & 0x7c00).toBe(0x7c00);
  });
});

describe('half-precision steps', () => {
  it('keep every one of the 65536 patterns through a step that changes nothing (widening and narrowing), on every level', () => {
    atLevels((level) => {
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
        const p = new Parameter(all.slice(), 'w', { dtype });
        const opt = new RMSProp([p], { learningRate: 0 });
        expect(opt.step([new Uint16Array(65536)])).toBe(true);
        for (let i = 0; i < 65536; i++) {
          const nan = Number.isNaN(decode(i, dtype));
          // NaN stays NaN (quieted); every other pattern, -0 and the subnormals included, is kept.
          const ok = nan ? Number.isNaN(decode(p.data[i], dtype)) : p.data[i] === i;
          if (!ok) throw new Error(`${level} ${dtype}: pattern 0x${i.toString(16)} became 0x${p.data[i].toString(16)}`);
        }
      }
    });
  });

  it('round float32 results to nearest even (master weights set directly, a step that moves nothing), on every level', () => {
    const rand = random(11);
    atLevels((level) => {
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const values: number[] = [65504, 65519.99, 65520, -65520, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -14 - 2 ** -25, 1e-30, Infinity, -Infinity, -0];
        for (let i = 0; i < 3000; i++) values.push(Math.fround((rand() - 0.5) * 2 ** Math.floor(rand() * 30 - 15)));
        for (let i = 0; i < 500; i++) values.push(Math.fround(tieAbove(decode(Math.floor(rand() * 0x7bff), dtype), dtype))); // exact ties, both parities
        const p = new Parameter(new Uint16Array(values.length), 'w', { dtype });
        const opt = new RMSProp([p], { learningRate: 0, masterWeights: true });
        opt.state(p).master!.set(values);
        opt.step([new Float32Array(values.length)]);
        values.forEach((x, i) => {
          const want = round(Math.fround(x), dtype);
          const got = decode(p.data[i], dtype);
          if (!Object.is(got, want) && !(got === want)) throw new Error(`${level} ${dtype}: ${x} rounded to ${got}, not ${want}`);
        });
      }
    });
  });

  // A float64 reference of the float32 math, then one rounding: exact, except where the float32
  // result sits within its own error bound of a rounding boundary (counted, and then either
  // neighbour is right).
  const cases: { dtype: Half; centered: boolean; gradType: 'half' | 'float32'; master: boolean }[] = [];
  for (const dtype of ['float16', 'bfloat16'] as const) {
    for (const centered of [false, true]) {
      cases.push({ dtype, centered, gradType: 'half', master: false }, { dtype, centered, gradType: 'float32', master: true });
    }
  }
  it.each(cases)('match a float64 reference of the float32 math rounded once: %o', ({ dtype, centered, gradType, master }) => {
    const boundary: Record<string, number> = {};
    atLevels((level) => {
      const n = 5003;
      const rand = random(31);
      const start = bitsOf(Array.from({ length: n }, () => (rand() - 0.5) * 4), dtype);
      const p = new Parameter(start.slice(), 'w', { dtype });
      const h: Hyper = { lr: 0.01, decay: 0.9, momentum: 0.5, epsilon: 1e-6, lossScale: 4, weightDecay: 0.01, centered };
      const opt = new RMSProp([p], { learningRate: h.lr, decay: h.decay, momentum: h.momentum, epsilon: h.epsilon, lossScale: 4, weightDecay: 0.01, centered, masterWeights: master });
      let w = Array.from(start, (b) => decode(b, dtype));
      let s = new Float64Array(n).fill(1);
      let m = new Float64Array(n);
      let mg = new Float64Array(n);
      let near = 0;
      for (let k = 0; k < 3; k++) {
        const g32 = Float32Array.from({ length: n }, () => (rand() - 0.5) * 8);
        const grad = gradType === 'half' ? bitsOf(g32, dtype) : g32;
        const gValues = gradType === 'half' ? Array.from(grad as Uint16Array, (b) => decode(b, dtype)) : Array.from(g32);
        const e = referenceStep('float32', h, { param: w, meanSquare: s, moment: m, meanGrad: mg }, gValues);
        opt.step([grad]);
        const st = opt.state(p);
        for (let i = 0; i < n; i++) {
          for (const [got, want, tol] of [[st.meanSquare[i], e.meanSquare[i], e.tol.meanSquare[i]], [st.moment[i], e.moment[i], e.tol.moment[i]]]) {
            if (!(Math.abs(got - want) <= tol)) throw new Error(`${level}: state ${i} ${got} vs ${want}`);
          }
          const lo = round(e.param[i] - e.tol.param[i], dtype);
          const hi = round(e.param[i] + e.tol.param[i], dtype);
          const got = decode(p.data[i], dtype);
          if (lo !== hi) near++;
          if (got !== round(e.param[i], dtype) && !(lo !== hi && (got === lo || got === hi))) {
            throw new Error(`${level} step ${k}: element ${i} is ${got}, the reference rounds to ${round(e.param[i], dtype)}`);
          }
          if (master && !(Math.abs(st.master![i] - e.param[i]) <= e.tol.param[i])) throw new Error(`${level}: master ${i}`);
        }
        // Carry on from what the optimizer holds (its float32 state; the weights it will read).
        w = master ? Array.from(st.master!) : Array.from(p.data, (b) => decode(b, dtype));
        s = Float64Array.from(st.meanSquare);
        m = Float64Array.from(st.moment);
        mg = centered ? Float64Array.from(st.meanGrad!) : mg;
      }
      boundary[level] = near;
      expect(near).toBeLessThan(n * 3 * 0.01);
    });
    console.log(`${dtype} ${centered ? 'centered' : 'plain'}, ${gradType} gradients${master ? ', master weights' : ''}: ` +
      `elements within the float32 error of a rounding boundary (3 steps × 5003): ${JSON.stringify(boundary)}`);
  });

  it('with master weights, keep updates below half an ulp that plain half weights lose', () => {
    const run = (masterWeights: boolean) => {
      const p = new Parameter(new Uint16Array(8).fill(0x3c00), 'w', { dtype: 'float16' }); // 1.0; its ulp is 2^-10
      const opt = new RMSProp([p], { learningRate: 1e-4, masterWeights });
      for (let k = 0; k < 100; k++) opt.step([new Float32Array(8).fill(1)]);
      return decode(p.data[0], 'float16');
    };
    expect(run(false)).toBe(1); // each step of ~1e-4 rounds back to 1
    const moved = run(true);
    expect(moved).toBeLessThan(0.995);
    expect(moved).toBeGreaterThan(0.985);
  });

  it('check half gradients for overflow, hand over half arenas, and keep master weights in checkpoints', async () => {
    const p = new Parameter(bitsOf([1, 2, 3, 4], 'bfloat16'), 'w', { dtype: 'bfloat16' });
    const opt = new RMSProp([p], { learningRate: 0.1, masterWeights: true, lossScale: new DynamicLossScaler({ initLossScale: 8 }) });
    const before = p.data.slice();
    expect(opt.step([Uint16Array.from([0x3f80, 0x7f80, 0, 0])])).toBe(false); // +inf in bfloat16
    expect(p.data).toEqual(before);
    const views = opt.gradientBuffers();
    expect(views[0]).toBeInstanceOf(Uint16Array);
    views[0].set(bitsOf([8, 8, 8, 8], 'bfloat16'));
    expect(opt.step()).toBe(true);
    const dict = opt.stateDict();
    expect(Object.keys(dict).sort()).toEqual(['global_step', 'loss_scale', 'loss_scale_iteration', 'loss_scale_last_overflow', 'master.w', 'mean_square.w', 'moment.w']);
    expect((dict['master.w'] as Tensor).dtype).toBe('float32');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rmsprop-half-'));
    try {
      await opt.saveState(path.join(dir, 's.safetensors'));
      const q = new Parameter(bitsOf([1, 2, 3, 4], 'bfloat16'), 'w', { dtype: 'bfloat16' });
      const other = new RMSProp([q], { learningRate: 0.1, masterWeights: true, lossScale: new DynamicLossScaler({ initLossScale: 8 }) });
      await other.loadState(path.join(dir, 's.safetensors'));
      expect(Array.from(other.state(q).master!)).toEqual(Array.from(opt.state(p).master!));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse share() and wrong gradients, with errors naming the argument', () => {
    const p = () => new Parameter(new Uint16Array(4), 'w', { dtype: 'float16' });
    const opt = new RMSProp([p()]);
    expect(() => opt.step([new Float64Array(4)])).toThrow(/'gradients\[0\]' must be of dtype float16 \(a Uint16Array of its bits\) or float32/);
    expect(() => opt.step([new Tensor(new Uint16Array(4), [4], { dtype: 'bfloat16' })])).toThrow(TypeError);
    expect(() => opt.step([new Uint16Array(3)])).toThrow(ValueError);
    expect(opt.globalStep).toBe(0);
    expect(() => new RMSProp([p()], { masterWeights: 'yes' as never })).toThrow(/'masterWeights'/);
    const shared = new Parameter(new Uint16Array(new SharedArrayBuffer(8)), 's', { dtype: 'float16' });
    expect(() => new RMSProp([shared]).share()).toThrow(/float32 or float64/);
  });
});
